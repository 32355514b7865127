//! API errors and how each becomes an HTTP response. This is the one place status codes are
//! chosen; internals (SQL errors, paths) are logged, never sent to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchboard_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        field: Option<String>,
        message: String,
    },
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("authentication required: send Authorization: Bearer <token>")]
    Unauthenticated,
    #[error("wrong tenant, username or password")]
    BadCredentials,
    #[error("this action needs the role {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    /// A stale `If-Match`: the object changed since the version the client edited.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The tenant sent more requests than its rate (`auth.api_rate_per_sec`).
    #[error("too many requests for this tenant; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PreconditionFailed(_) => {
                (StatusCode::PRECONDITION_FAILED, "precondition_failed")
            }
            ApiError::TooManyAttempts { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            }
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { what } => ApiError::Conflict(what),
            StoreError::NotFound { what } => ApiError::NotFound(what),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "API request failed");
        }
        let mut body = json!({ "error": { "code": code, "message": self.to_string() } });
        match &self {
            ApiError::BadRequest {
                field: Some(field), ..
            } => body["error"]["field"] = json!(field),
            ApiError::PreconditionFailed(_) => body["error"]["field"] = json!("If-Match"),
            // The body as a whole is at fault: name it, like every other 4xx.
            ApiError::PayloadTooLarge => body["error"]["field"] = json!("body"),
            _ => {}
        }
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyAttempts { retry_after_secs }
        | ApiError::RateLimited { retry_after_secs } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}
