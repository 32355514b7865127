//! `ApiJson<T>`: the JSON body extractor every route uses. Unlike axum's own, every failure is
//! a JSON error naming the offending field (`customer.phones[1]`), never a plain-text 422.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ApiError;

#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let ApiBytes(bytes) = ApiBytes::from_request(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

/// The raw body, for routes whose JSON body is optional: like axum's `Bytes`, but an oversized
/// or unreadable body is a JSON error (413 naming `body`), never axum's plain-text rejection.
#[derive(Debug, Clone, Default)]
pub struct ApiBytes(pub Bytes);

impl<S> FromRequest<S> for ApiBytes
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest {
                        field: None,
                        message: rejection.body_text(),
                    }
                }
            })
    }
}

/// Deserialises a body, reporting the path of the field that failed.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = (path != "." && !path.is_empty()).then_some(path);
        let message = match &field {
            Some(f) => format!("invalid JSON body at '{f}': {inner}"),
            None => format!("invalid JSON body: {inner}"),
        };
        ApiError::BadRequest { field, message }
    })?;
    de.end().map_err(|e| ApiError::BadRequest {
        field: None,
        message: format!("invalid JSON body: {e}"),
    })?;
    Ok(value)
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
