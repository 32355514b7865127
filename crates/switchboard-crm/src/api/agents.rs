//! Agent state (the console's ready / not-ready / wrap-up buttons) and the live queue figures.
//! Both go to the call control through [`crate::live`]: the ACD there is the one owner of who
//! is ready, so a state set here takes effect for the very next call.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::Role;
use switchboard_store::audit;
use utoipa::ToSchema;

use super::call_control::to_api;
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::live::{AgentStateAction, LiveCommand, LiveReply};

/// Who has an agent state: the people who take calls.
const AGENTS: &[Role] = &[Role::Agent, Role::Supervisor];
/// Who watches the floor.
const WATCHERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa, Role::Agent];

/// The state an agent asks for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStateRequest {
    /// `ready`, `not_ready`, `logged_out` or `wrap_up_done` (end wrap-up early).
    pub state: String,
    /// For `not_ready`: `away`, `break`, `lunch`, `training` or a reason the tenant configured.
    pub reason: Option<String>,
}

fn action(req: &AgentStateRequest) -> Result<AgentStateAction, ApiError> {
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match (req.state.as_str(), reason) {
        ("ready", None) => Ok(AgentStateAction::Ready),
        ("not_ready", Some(r)) => Ok(AgentStateAction::NotReady {
            reason: r.to_owned(),
        }),
        ("not_ready", None) => Err(ApiError::bad_field(
            "reason",
            "say why: away, break, lunch, training or one of the tenant's reasons",
        )),
        ("logged_out", None) => Ok(AgentStateAction::Logout),
        ("wrap_up_done", None) => Ok(AgentStateAction::EndWrapUp),
        ("ready" | "logged_out" | "wrap_up_done", Some(_)) => Err(ApiError::bad_field(
            "reason",
            "only not_ready takes a reason",
        )),
        _ => Err(ApiError::bad_field(
            "state",
            "one of ready, not_ready, logged_out, wrap_up_done",
        )),
    }
}

/// Sets the caller's own agent state. A first `ready` or `not_ready` logs the agent in.
#[utoipa::path(
    put, path = "/agents/me/state", operation_id = "set_my_agent_state", tag = "agents",
    request_body = AgentStateRequest,
    responses(
        (status = 204, description = "State changed"),
        (status = 400, description = "Unknown state or reason, or not allowed now (e.g. ready while on a call)"),
        (status = 503, description = "Call control not running"),
    )
)]
pub(crate) async fn set_my_state(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(req): ApiJson<AgentStateRequest>,
) -> Result<StatusCode, ApiError> {
    caller.require(AGENTS)?;
    let wanted = action(&req)?;
    let live = state
        .live
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("call control is not running".into()))?;
    let command = |action| LiveCommand::AgentState {
        tenant: caller.tenant().clone(),
        agent: caller.user.id.clone(),
        action,
    };
    // Ready / not ready from logged out is a login; the call control says which applies.
    let first = live.send(command(wanted.clone())).await;
    let result = match (&wanted, first) {
        (AgentStateAction::Ready, Err(_)) => live
            .send(command(AgentStateAction::Login { ready: true }))
            .await
            .map(drop),
        (AgentStateAction::NotReady { reason }, Err(_)) => {
            live.send(command(AgentStateAction::Login { ready: false }))
                .await
                .map_err(to_api)?;
            live.send(command(AgentStateAction::NotReady {
                reason: reason.clone(),
            }))
            .await
            .map(drop)
        }
        (_, r) => r.map(drop),
    };
    result.map_err(to_api)?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "agent.state",
        &format!("user:{}", caller.user.id),
        &json!({ "state": req.state, "reason": req.reason }),
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Live figures of the tenant's queues (waiting, longest wait, service level so far today)
/// and agents (state and since when).
#[utoipa::path(
    get, path = "/queues/live", operation_id = "queues_live", tag = "agents",
    responses(
        (status = 200, description = "Queues and agents now", body = Object),
        (status = 503, description = "Call control not running"),
    )
)]
pub(crate) async fn live(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<Value>, ApiError> {
    caller.require(WATCHERS)?;
    let live = state
        .live
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("call control is not running".into()))?;
    match live
        .send(LiveCommand::QueueLive {
            tenant: caller.tenant().clone(),
        })
        .await
        .map_err(to_api)?
    {
        LiveReply::Json(v) => Ok(ApiJson(v)),
        LiveReply::Done => Ok(ApiJson(json!({ "queues": [], "agents": [] }))),
    }
}
