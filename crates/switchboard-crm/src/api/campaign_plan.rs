//! `GET /campaigns/{id}/escalations`: the tasks a supervisor must take over, as the campaign
//! crate's planner sees them now — key customers no agent capacity reaches before their
//! deadline, a campaign with no agent, booked slots nobody is on shift for, missed bookings and
//! key customers out of attempts. The plan is computed on request from the stored open tasks,
//! the campaign's agents and the call centre's first shift pattern; nothing is stored.

use std::time::Duration;

use axum::extract::{Path, State};
use serde::Serialize;
use switchboard_campaign::campaign::{Assignees, Campaign, CampaignSpec, TargetList};
use switchboard_campaign::planner::{
    AgentInput, EscalationReason, PlannerConfig, plan, shift_intervals,
};
use switchboard_campaign::template::Language;
use switchboard_core::{AgentId, Role, UserId};
use switchboard_store::campaign_tasks;
use switchboard_store::campaigns::{CampaignRecord, CampaignState};
use utoipa::ToSchema;

use super::campaigns::load;
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::campaigns::{calling_policy, campaign_type, pure_task};

/// How many open tasks one request plans (the most urgent first).
const MAX_PLANNED: u32 = 20_000;

/// One task for a supervisor.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationView {
    pub task_id: String,
    pub customer_id: String,
    pub key_customer: bool,
    /// `no_capacity_before_deadline`, `no_agents`, `booked_slot_unstaffed`, `booking_missed`
    /// or `attempts_exhausted`.
    pub reason: String,
    /// RFC 3339.
    pub deadline: String,
}

/// The escalations of a campaign now, with the size of the plan behind them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationsView {
    pub campaign_id: String,
    /// Open tasks placed in an agent's shift over the next 3 days.
    pub planned: usize,
    pub escalations: Vec<EscalationView>,
}

fn reason_str(r: EscalationReason) -> &'static str {
    match r {
        EscalationReason::NoCapacityBeforeDeadline => "no_capacity_before_deadline",
        EscalationReason::NoAgents => "no_agents",
        EscalationReason::BookedSlotUnstaffed => "booked_slot_unstaffed",
        EscalationReason::BookingMissed => "booking_missed",
        EscalationReason::AttemptsExhausted => "attempts_exhausted",
    }
}

/// The users who work the campaign.
async fn campaign_agents(
    state: &ApiState,
    caller: &Caller,
    c: &CampaignRecord,
) -> Result<Vec<UserId>, ApiError> {
    if let Some(list) = c
        .assignees
        .get("agents")
        .and_then(serde_json::Value::as_array)
    {
        return Ok(list
            .iter()
            .filter_map(serde_json::Value::as_str)
            .map(UserId::from)
            .collect());
    }
    if let Some(q) = c.assignees.get("queue").and_then(serde_json::Value::as_str) {
        let members =
            switchboard_store::acd::list_members(&state.store, caller.tenant(), &q.into()).await?;
        return Ok(members.into_iter().map(|m| m.agent_user_id).collect());
    }
    let users = switchboard_store::users::list_users(&state.store, caller.tenant()).await?;
    Ok(users
        .into_iter()
        .filter(|u| u.role == Role::Agent && !u.disabled)
        .map(|u| u.id)
        .collect())
}

/// Key customers and bookings the current plan cannot serve.
#[utoipa::path(
    get, path = "/campaigns/{id}/escalations", operation_id = "campaign_escalations", tag = "campaigns",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "Tasks for a supervisor", body = EscalationsView))
)]
pub(crate) async fn escalations(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<EscalationsView>, ApiError> {
    caller.require(&[Role::Admin, Role::Supervisor, Role::Qa])?;
    let c = load(&state, &caller, &id).await?;
    let internal = |e: &dyn std::fmt::Display| ApiError::Internal(e.to_string());
    let kind = campaign_type(&c).map_err(|e| internal(&e))?;
    let policy = calling_policy(&c, &state.campaign.calling).map_err(|e| internal(&e))?;
    let now = state.clock.now();
    let users = campaign_agents(&state, &caller, &c).await?;
    let ids: Vec<AgentId> = users.iter().map(|u| u.as_str().into()).collect();
    // A campaign nobody works still plans: its key customers come back as `no_agents`.
    let assignees = if ids.is_empty() {
        Assignees::Queue("-".into())
    } else {
        Assignees::Agents(ids.clone())
    };
    let mut campaign = Campaign::new(
        c.id.as_str().into(),
        CampaignSpec {
            name: c.name.clone(),
            kind,
            target: TargetList::Triggered,
            priority: u8::try_from(c.priority.clamp(0, 255)).unwrap_or(u8::MAX),
            starts_at: c.starts_at,
            ends_at: c.ends_at,
            assignees,
            dial_mode: switchboard_campaign::campaign::DialMode::Preview,
            max_attempts: u32::try_from(c.max_attempts.clamp(1, 20)).unwrap_or(1),
            language: c.language.parse().unwrap_or(Language::ZhCn),
            calling_override: Some(policy.clone()),
        },
    )
    .map_err(|e| internal(&e))?;
    if c.state == CampaignState::Running || c.state == CampaignState::Paused {
        campaign.start().map_err(|e| internal(&e))?;
    }
    let cfg = PlannerConfig {
        calling: policy,
        ..PlannerConfig::default()
    };
    let horizon_end = now + cfg.horizon + Duration::from_secs(86_400);
    let window = state
        .shifts
        .patterns
        .first()
        .map(|p| p.window)
        .ok_or_else(|| ApiError::Internal("no shift pattern configured".into()))?;
    let shifts = shift_intervals(window, state.shifts.time_zone, &[], now, horizon_end)
        .map_err(|e| internal(&e))?;
    let capacity = state.quota.effective_calls_per_day;
    let agents: Vec<AgentInput> = ids
        .into_iter()
        .map(|id| AgentInput {
            id,
            queues: Vec::new(),
            shifts: shifts.clone(),
            per_shift_capacity: capacity,
            done_in_current_shift: 0,
            quota_gap: 0,
        })
        .collect();
    let mut rows = campaign_tasks::list_for_campaign(
        &state.store,
        caller.tenant(),
        &c.id,
        Some("open"),
        MAX_PLANNED,
    )
    .await?;
    rows.extend(
        campaign_tasks::list_for_campaign(
            &state.store,
            caller.tenant(),
            &c.id,
            Some("exhausted"),
            MAX_PLANNED,
        )
        .await?
        .into_iter()
        .filter(|t| t.key_customer),
    );
    let tasks = rows
        .iter()
        .map(|r| pure_task(r, kind))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| internal(&e))?;
    let p = plan(&cfg, &[campaign], &agents, &tasks, now).map_err(|e| internal(&e))?;
    let escalations = p
        .escalations()
        .iter()
        .filter_map(|e| {
            rows.get(e.task).map(|r| EscalationView {
                task_id: r.id.clone(),
                customer_id: r.customer_id.clone(),
                key_customer: r.key_customer,
                reason: reason_str(e.reason).to_owned(),
                deadline: e.deadline.to_string(),
            })
        })
        .collect();
    Ok(ApiJson(EscalationsView {
        campaign_id: c.id.clone(),
        planned: p.planned_count(),
        escalations,
    }))
}
