//! Acting on calls in progress: pause and resume the recording (an agent while a customer reads
//! out a card number), hang up (a supervisor). The call control does the work through
//! [`crate::live`]; every action is audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;
use switchboard_core::{CallId, Role};
use switchboard_store::audit;

use super::calls::readable_call;
use super::{ApiError, ApiState, Caller};
use crate::live::{LiveCommand, LiveError};

/// Agents pause their own calls' recordings; supervisors and admins any of the tenant's.
const RECORDING_CONTROL: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent];
const HANGUP: &[Role] = &[Role::Admin, Role::Supervisor];

pub(crate) fn to_api(e: LiveError) -> ApiError {
    match e {
        LiveError::NotInProgress => ApiError::Conflict("a call in progress with this id".into()),
        LiveError::NotApplicable(m) => ApiError::bad_field("id", m),
        LiveError::Unavailable => ApiError::Unavailable("call control is not available".into()),
    }
}

async fn act(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    roles: &[Role],
    action: &str,
    make: impl FnOnce(CallId) -> LiveCommand,
) -> Result<StatusCode, ApiError> {
    caller.require(roles)?;
    let call = readable_call(state, caller, id).await?;
    let live = state
        .live
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("call control is not running".into()))?;
    live.send(make(call.id.clone())).await.map_err(to_api)?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        action,
        &format!("call:{}", call.id),
        &json!({}),
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops writing the call's audio until resumed; the silence is marked in the recording.
#[utoipa::path(
    post, path = "/calls/{id}/recording/pause", operation_id = "pause_recording", tag = "calls",
    params(("id" = String, Path, description = "Call id")),
    responses(
        (status = 204, description = "Recording paused"),
        (status = 404, description = "No such call (or not the agent's own)"),
        (status = 409, description = "The call is not in progress"),
        (status = 503, description = "Call control not running"),
    )
)]
pub(crate) async fn pause_recording(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant().clone();
    act(
        &state,
        &caller,
        &id,
        RECORDING_CONTROL,
        "call.recording.pause",
        |call| LiveCommand::PauseRecording { tenant, call },
    )
    .await
}

/// Writes the call's audio again.
#[utoipa::path(
    post, path = "/calls/{id}/recording/resume", operation_id = "resume_recording", tag = "calls",
    params(("id" = String, Path, description = "Call id")),
    responses(
        (status = 204, description = "Recording resumed"),
        (status = 404, description = "No such call (or not the agent's own)"),
        (status = 409, description = "The call is not in progress"),
        (status = 503, description = "Call control not running"),
    )
)]
pub(crate) async fn resume_recording(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant().clone();
    act(
        &state,
        &caller,
        &id,
        RECORDING_CONTROL,
        "call.recording.resume",
        |call| LiveCommand::ResumeRecording { tenant, call },
    )
    .await
}

/// Ends the call now: both parties get BYE, the CDR says `hangup-by-supervisor`.
#[utoipa::path(
    post, path = "/calls/{id}/hangup", operation_id = "hangup_call", tag = "calls",
    params(("id" = String, Path, description = "Call id")),
    responses(
        (status = 204, description = "The call is being ended"),
        (status = 403, description = "Supervisors and admins only"),
        (status = 404, description = "No such call"),
        (status = 409, description = "The call is not in progress"),
        (status = 503, description = "Call control not running"),
    )
)]
pub(crate) async fn hangup(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant().clone();
    act(&state, &caller, &id, HANGUP, "call.hangup", |call| {
        LiveCommand::Hangup { tenant, call }
    })
    .await
}
