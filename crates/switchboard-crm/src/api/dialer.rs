//! Preview dialing (campaigns with `dial_mode: preview`): the dialer in the call control shows
//! a ready agent the next customer (the task is handed to them, so `GET /campaign-tasks/next`
//! has the script and customer file too); the agent dials — the call goes out through the trunk
//! with the campaign's caller ID and rings their phone when the customer answers — or skips.
//! With `dialer.preview_auto_dial_secs` set, it dials by itself after that long.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchboard_core::Role;

use super::{ApiError, ApiState, Caller};
use crate::live::{LiveCommand, LiveError, LiveReply};

const AGENTS: &[Role] = &[Role::Agent, Role::Supervisor];

fn live_error(e: LiveError) -> ApiError {
    match e {
        LiveError::NotApplicable(m) => ApiError::Conflict(m),
        LiveError::NotInProgress => ApiError::Conflict("no customer is being previewed".into()),
        LiveError::Unavailable => ApiError::Unavailable("call control is not available".into()),
    }
}

/// The customer the dialer is showing the calling agent: `campaign_id`, `task_id`, `number`,
/// `customer_id`, `auto_dial_at` (RFC 3339, when it dials by itself). 204 when none.
#[utoipa::path(
    get, path = "/dialer/preview", operation_id = "dialer_preview", tag = "campaigns",
    responses(
        (status = 200, description = "The previewed customer", body = Object),
        (status = 204, description = "Nothing previewed for you"),
        (status = 503, description = "Call control not running"),
    )
)]
pub(crate) async fn preview(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(AGENTS)?;
    let live = state
        .live
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("call control is not running".into()))?;
    let reply = live
        .send(LiveCommand::DialerPreview {
            tenant: caller.tenant().clone(),
            agent: caller.user.id.clone(),
        })
        .await
        .map_err(live_error)?;
    Ok(match reply {
        LiveReply::Json(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        LiveReply::Done => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn act(state: &ApiState, caller: &Caller, dial: bool) -> Result<StatusCode, ApiError> {
    caller.require(AGENTS)?;
    let live = state
        .live
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("call control is not running".into()))?;
    live.send(LiveCommand::DialerPreviewAction {
        tenant: caller.tenant().clone(),
        agent: caller.user.id.clone(),
        dial,
    })
    .await
    .map_err(live_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Dial the previewed customer now. 409 when nothing is previewed for the caller.
#[utoipa::path(
    post, path = "/dialer/preview/dial", operation_id = "dialer_preview_dial", tag = "campaigns",
    responses(
        (status = 204, description = "Dialling"),
        (status = 409, description = "Nothing previewed for you"),
    )
)]
pub(crate) async fn dial(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    act(&state, &caller, true).await
}

/// Pass on the previewed customer (the task goes back to the campaign). 409 when nothing is
/// previewed for the caller.
#[utoipa::path(
    post, path = "/dialer/preview/skip", operation_id = "dialer_preview_skip", tag = "campaigns",
    responses(
        (status = 204, description = "Skipped"),
        (status = 409, description = "Nothing previewed for you"),
    )
)]
pub(crate) async fn skip(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    act(&state, &caller, false).await
}
