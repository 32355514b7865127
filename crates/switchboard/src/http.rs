//! The HTTP application: console, health, metrics and the REST API, built by one function so
//! `serve` and the tests use the very same router.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use switchboard_crm::ApiState;

use crate::metrics::{HttpLabels, Metrics};

#[derive(Debug, Clone)]
struct HttpState {
    api: ApiState,
    metrics: Arc<Metrics>,
}

/// Every route the server answers.
pub fn app(api: ApiState, metrics: Arc<Metrics>, max_body_bytes: usize) -> Router {
    let state = HttpState {
        api: api.clone(),
        metrics: metrics.clone(),
    };
    Router::new()
        .route("/", get(crate::console::page))
        .route("/assets/{name}", get(crate::console::asset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
        .nest("/api/v1", switchboard_crm::router(api))
        .layer(middleware::from_fn_with_state(metrics, count_requests))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers.
async fn readyz(State(state): State<HttpState>) -> Response {
    match state.api.store.ping().await {
        Ok(()) => axum::Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "status": "database unreachable" })),
            )
                .into_response()
        }
    }
}

async fn metrics_text(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

/// Counts every request by method, route template and status.
async fn count_requests(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
