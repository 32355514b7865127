//! Agents' state history over HTTP: `GET /agents/{user_id}/states`, the log the ACD writes
//! (ready, ringing, on call, wrap-up, not ready with its reason), for supervisors' reports and
//! for agents checking their own day.
//!
//! Roles: admins, supervisors and QA read any agent of the tenant; agents only themselves.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use switchboard_core::{Role, Timestamp, UserId};
use switchboard_store::acd::{self, AgentStateRow};
use switchboard_store::users;
use utoipa::{IntoParams, ToSchema};

use super::customer_types::parse_time;
use super::customers::ApiQuery;
use super::queues::{READERS, valid_user_id};
use super::{ApiError, ApiJson, ApiState, Caller};

/// Default window: the last day.
const DEFAULT_HISTORY_MS: i64 = 24 * 3600 * 1000;

/// One logged state change of an agent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentStateView {
    /// `logged_out`, `ready`, `not_ready`, `ringing`, `on_call` or `wrap_up`.
    pub status: String,
    /// The not-ready reason (`break`, `lunch`, `missed`, …).
    pub reason: Option<String>,
    /// Why it changed (`login`, `ring_timeout`, …).
    pub cause: Option<String>,
    /// When the change happened (RFC 3339).
    pub at: String,
    /// The call the agent rang for, talked on or wrapped up.
    pub call_id: Option<String>,
}

impl From<&AgentStateRow> for AgentStateView {
    fn from(s: &AgentStateRow) -> Self {
        AgentStateView {
            status: s.status.clone(),
            reason: s.reason.clone(),
            cause: s.cause.clone(),
            at: s.since.to_string(),
            call_id: s.call_id.as_ref().map(ToString::to_string),
        }
    }
}

/// Query of `GET /agents/{user_id}/states`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StateHistoryParams {
    /// Changes at or after (RFC 3339 or epoch ms; default: 24 h before `until`).
    pub since: Option<String>,
    /// Changes before (RFC 3339 or epoch ms; default: now).
    pub until: Option<String>,
    /// At most this many, 1-10000 (default 1000).
    pub limit: Option<String>,
}

/// An agent's state changes, oldest first. Agents read only their own (`me` names the caller).
#[utoipa::path(
    get, path = "/agents/{user_id}/states", operation_id = "agent_state_history", tag = "queues",
    params(("user_id" = String, Path, description = "The agent's user id, or `me`"), StateHistoryParams),
    responses((status = 200, description = "State changes, oldest first", body = Vec<AgentStateView>))
)]
pub(crate) async fn state_history(
    State(state): State<ApiState>,
    caller: Caller,
    Path(user_id): Path<String>,
    ApiQuery(q): ApiQuery<StateHistoryParams>,
) -> Result<ApiJson<Vec<AgentStateView>>, ApiError> {
    caller.require(READERS)?;
    let agent = if user_id == "me" {
        caller.user.id.clone()
    } else {
        UserId::from(user_id.as_str())
    };
    if caller.user.role == Role::Agent && agent != caller.user.id {
        return Err(ApiError::Forbidden(
            "supervisor, qa or admin (agents read only their own states)".into(),
        ));
    }
    let known = valid_user_id(agent.as_str())
        && users::get_user(&state.store, caller.tenant(), &agent)
            .await?
            .is_some();
    if !known {
        return Err(ApiError::NotFound(format!("user '{agent}'")));
    }
    let until = match q.until.as_deref() {
        Some(s) => parse_time("until", s)?,
        None => state.clock.now(),
    };
    let since = match q.since.as_deref() {
        Some(s) => parse_time("since", s)?,
        None => Timestamp::from_millis(until.as_millis().saturating_sub(DEFAULT_HISTORY_MS)),
    };
    if since > until {
        return Err(ApiError::bad_field(
            "since",
            "since must not be after until",
        ));
    }
    let limit = match q.limit.as_deref() {
        None => 1000,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| ApiError::bad_field("limit", "limit must be a whole number 1-10000"))?,
    };
    let rows = acd::agent_state_history(&state.store, caller.tenant(), &agent, since, until, limit)
        .await?;
    Ok(ApiJson(rows.iter().map(AgentStateView::from).collect()))
}
