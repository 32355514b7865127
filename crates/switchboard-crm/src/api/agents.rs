//! Agent state (the console's ready / not-ready / wrap-up buttons) and the live queue figures.
//! Both go to the call control through [`crate::live`]: the ACD there is the one owner of who
//! is ready, so a state set here takes effect for the very next call.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_acd::QueueConfig;
use switchboard_core::Role;
use switchboard_store::{acd, audit};
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
/// and agents (state and since when). Every queue carries its `wait_alert_secs` and whether a
/// caller has waited that long now (`wait_alert`), which the console shows as a banner. Agents
/// see only the queues they are members of and only their own line: the banner is about their
/// callers, and colleagues' states are the supervisors' business.
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
    let mut figures = match live
        .send(LiveCommand::QueueLive {
            tenant: caller.tenant().clone(),
        })
        .await
        .map_err(to_api)?
    {
        LiveReply::Json(v) => v,
        LiveReply::Done => json!({ "queues": [], "agents": [] }),
    };
    let thresholds: HashMap<String, u64> = acd::list_queues(&state.store, caller.tenant())
        .await?
        .iter()
        .map(|q| {
            let config = serde_json::from_str::<QueueConfig>(&q.config_json).unwrap_or_default();
            (q.id.to_string(), config.wait_alert.0)
        })
        .collect();
    let own_queues = if caller.user.role == Role::Agent {
        let mine = acd::queues_of_agent(&state.store, caller.tenant(), &caller.user.id).await?;
        Some(
            mine.into_iter()
                .map(|m| m.queue_id.to_string())
                .collect::<HashSet<_>>(),
        )
    } else {
        None
    };
    annotate_live(
        &mut figures,
        caller.tenant().as_str(),
        &thresholds,
        own_queues.as_ref().map(|q| (q, caller.user.id.as_str())),
    );
    Ok(ApiJson(figures))
}

/// Adds `wait_alert_secs` and `wait_alert` to every queue of `figures` (the call control's
/// snapshot, whose queue ids may carry a `tenant/` prefix) and, for an agent (`own` = their
/// queues and user id), keeps only their queues and their own agent line.
fn annotate_live(
    figures: &mut Value,
    tenant: &str,
    thresholds: &HashMap<String, u64>,
    own: Option<(&HashSet<String>, &str)>,
) {
    let prefix = format!("{tenant}/");
    let bare = |id: &str| id.strip_prefix(&prefix).unwrap_or(id).to_owned();
    if let Some(queues) = figures.get_mut("queues").and_then(Value::as_array_mut) {
        if let Some((mine, _)) = own {
            queues.retain(|q| {
                q["queue"]
                    .as_str()
                    .is_some_and(|id| mine.contains(&bare(id)))
            });
        }
        for q in queues.iter_mut() {
            let id = q["queue"].as_str().map(bare).unwrap_or_default();
            let threshold = thresholds
                .get(&id)
                .copied()
                .unwrap_or_else(|| QueueConfig::default().wait_alert.0);
            // The ACD serialises durations as {secs, nanos}.
            let waited = q["longest_current_wait"]["secs"].as_u64().unwrap_or(0);
            let waiting = q["waiting"].as_array().is_some_and(|w| !w.is_empty());
            q["wait_alert_secs"] = json!(threshold);
            q["wait_alert"] = json!(waiting && waited >= threshold);
        }
    }
    if let Some((_, me)) = own
        && let Some(agents) = figures.get_mut("agents").and_then(Value::as_array_mut)
    {
        agents.retain(|a| a["agent"].as_str() == Some(me));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Value {
        json!({
            "queues": [
                {"queue": "acme/sales", "waiting": ["c1"], "longest_current_wait": {"secs": 75, "nanos": 0}},
                {"queue": "acme/support", "waiting": ["c2"], "longest_current_wait": {"secs": 75, "nanos": 0}},
                {"queue": "acme/vip", "waiting": [], "longest_current_wait": {"secs": 0, "nanos": 0}},
            ],
            "agents": [{"agent": "u1"}, {"agent": "u2"}],
        })
    }

    fn thresholds() -> HashMap<String, u64> {
        HashMap::from([
            ("sales".to_owned(), 60),
            ("support".to_owned(), 90),
            ("vip".to_owned(), 0),
        ])
    }

    #[test]
    fn a_queue_alerts_once_its_longest_caller_has_waited_its_threshold() {
        let mut v = snapshot();
        annotate_live(&mut v, "acme", &thresholds(), None);
        let alerts: Vec<(&str, bool, u64)> = v["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                (
                    q["queue"].as_str().unwrap(),
                    q["wait_alert"].as_bool().unwrap(),
                    q["wait_alert_secs"].as_u64().unwrap(),
                )
            })
            .collect();
        // 75 s ≥ 60 s alerts; 75 s < 90 s does not; an empty queue never does.
        assert_eq!(
            alerts,
            vec![
                ("acme/sales", true, 60),
                ("acme/support", false, 90),
                ("acme/vip", false, 0)
            ]
        );
        assert_eq!(v["agents"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn an_agent_sees_only_their_queues_and_their_own_line() {
        let mut v = snapshot();
        let mine = HashSet::from(["support".to_owned()]);
        annotate_live(&mut v, "acme", &thresholds(), Some((&mine, "u2")));
        assert_eq!(v["queues"].as_array().unwrap().len(), 1);
        assert_eq!(v["queues"][0]["queue"], "acme/support");
        assert_eq!(v["agents"], json!([{"agent": "u2"}]));
    }
}
