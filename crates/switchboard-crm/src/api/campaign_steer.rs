//! Steering a campaign over HTTP: launch (the first start resolves the target list into
//! tasks and reports the customers left out), pause, stop; and what supervisors watch —
//! progress (done, due today, overdue, key-customer coverage) and the task list. Whether a
//! transition is allowed is asked of the campaign crate's own `Campaign`.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use switchboard_campaign::campaign::{
    Assignees, Campaign, CampaignError, CampaignState as PureState,
};
use switchboard_campaign::task::DEFAULT_SLA;
use switchboard_campaign::template::Language;
use switchboard_core::{Role, Timestamp};
use switchboard_store::campaign_tasks::{self, NewCampaignTask};
use switchboard_store::campaigns::{self, CampaignRecord, CampaignState, TargetQuery, Transition};
use utoipa::{IntoParams, ToSchema};

use super::campaign_views::{CampaignTaskView, ProgressView};
use super::campaigns::{
    CampaignView, MANAGERS, MAX_TARGETS, READERS, TargetInput, campaign_error, change_result, load,
    parse_language,
};
use super::customers::{ApiQuery, limit_param};
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::campaigns::{TaskFor, campaign_type, new_task};

/// A target customer that could not become a task, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SkippedTarget {
    pub customer_id: String,
    pub reason: String,
}

/// A campaign after a state change; a first start also says what its target list became.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignStateView {
    pub campaign: CampaignView,
    /// Tasks written by this start (0 on a resume).
    pub tasks_created: usize,
    /// Targets left out, with the reason: never silently dropped.
    pub skipped: Vec<SkippedTarget>,
}

/// One of the crate's campaign transitions.
type Step = fn(&mut Campaign) -> Result<(), CampaignError>;

/// The pure campaign in the stored state, to ask it whether a transition is allowed.
fn pure_campaign(c: &CampaignRecord) -> Result<Campaign, ApiError> {
    let kind = campaign_type(c).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut pure = Campaign::from_template(
        c.id.as_str().into(),
        kind,
        Language::ZhCn,
        Assignees::Queue("-".into()),
        c.starts_at,
        c.ends_at
            .max(c.starts_at + std::time::Duration::from_millis(1)),
    )
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    // Replay the stored state through the crate's own transitions.
    let steps: &[Step] = match c.state {
        CampaignState::Draft => &[],
        CampaignState::Running => &[Campaign::start],
        CampaignState::Paused => &[Campaign::start, Campaign::pause],
        CampaignState::Stopped => &[Campaign::stop],
    };
    for step in steps {
        step(&mut pure).map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    Ok(pure)
}

fn store_state(s: PureState) -> CampaignState {
    match s {
        PureState::Draft => CampaignState::Draft,
        PureState::Running => CampaignState::Running,
        PureState::Paused => CampaignState::Paused,
        PureState::Stopped => CampaignState::Stopped,
    }
}

/// The target list as tasks (first start only), and the customers left out.
async fn resolve_targets(
    state: &ApiState,
    c: &CampaignRecord,
    now: Timestamp,
) -> Result<(Vec<NewCampaignTask>, Vec<SkippedTarget>), ApiError> {
    let t: TargetInput = serde_json::from_value(c.target.clone())
        .map_err(|e| ApiError::Internal(format!("campaigns.target: {e}")))?;
    let query = TargetQuery {
        tags: t.tags,
        grade: t.grade,
        key_customer: t.key_customer,
        category: t.category,
    };
    let kind = campaign_type(c).map_err(|e| ApiError::Internal(e.to_string()))?;
    let customers =
        campaigns::target_customers(&state.store, &c.tenant_id, &query, MAX_TARGETS).await?;
    let triggered_at = now.max(c.starts_at);
    let language = parse_language(&c.language)?;
    let purpose = kind.script(language).purpose;
    let mut tasks = Vec::with_capacity(customers.len());
    let mut skipped = Vec::new();
    for customer in &customers {
        let row = new_task(&TaskFor {
            campaign: c,
            kind,
            customer,
            reason: "campaign",
            trigger_key: format!("campaign:{}:{}", c.id, customer.id),
            triggered_at,
            sla: DEFAULT_SLA,
            owner: None,
            purpose: purpose.clone(),
            now,
        });
        match row {
            Ok(r) => tasks.push(r),
            Err(reason) => skipped.push(SkippedTarget {
                customer_id: customer.id.to_string(),
                reason,
            }),
        }
    }
    Ok((tasks, skipped))
}

async fn steer(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    action: &'static str,
) -> Result<ApiJson<CampaignStateView>, ApiError> {
    caller.require(MANAGERS)?;
    let c = load(state, caller, id).await?;
    let mut pure = pure_campaign(&c)?;
    let step = match action {
        "start" => pure.start(),
        "pause" => pure.pause(),
        _ => pure.stop(),
    };
    step.map_err(campaign_error)?;
    let now = state.clock.now();
    let (tasks, skipped) =
        if action == "start" && c.resolved_at.is_none() && c.trigger_kind.is_none() {
            resolve_targets(state, &c, now).await?
        } else {
            (Vec::new(), Vec::new())
        };
    let event = match action {
        "start" => "campaign.started",
        "pause" => "campaign.paused",
        _ => "campaign.stopped",
    };
    let change = campaigns::transition(
        &state.store,
        &Transition {
            tenant: caller.tenant(),
            id,
            expected_version: c.version,
            from: &[c.state],
            to: store_state(pure.state()),
            event,
            tasks: (action == "start" && c.resolved_at.is_none()).then_some(tasks.as_slice()),
            now,
        },
    )
    .await?;
    let updated = change_result(id, change, action)?;
    Ok(ApiJson(CampaignStateView {
        campaign: CampaignView::from(&updated),
        tasks_created: tasks.iter().filter(|t| t.state == "open").count(),
        skipped,
    }))
}

/// Launches a draft (its target list becomes tasks) or resumes a paused campaign.
#[utoipa::path(
    post, path = "/campaigns/{id}/start", operation_id = "start_campaign", tag = "campaigns",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "Running", body = CampaignStateView))
)]
pub(crate) async fn start(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<CampaignStateView>, ApiError> {
    steer(&state, &caller, &id, "start").await
}

/// Pauses a running campaign: its tasks are not handed out until it is started again.
#[utoipa::path(
    post, path = "/campaigns/{id}/pause", operation_id = "pause_campaign", tag = "campaigns",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "Paused", body = CampaignStateView))
)]
pub(crate) async fn pause(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<CampaignStateView>, ApiError> {
    steer(&state, &caller, &id, "pause").await
}

/// Stops a campaign for good; its open tasks are cancelled.
#[utoipa::path(
    post, path = "/campaigns/{id}/stop", operation_id = "stop_campaign", tag = "campaigns",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "Stopped", body = CampaignStateView))
)]
pub(crate) async fn stop(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<CampaignStateView>, ApiError> {
    steer(&state, &caller, &id, "stop").await
}

/// Done, due today (call centre's day), overdue and key-customer coverage.
#[utoipa::path(
    get, path = "/campaigns/{id}/progress", operation_id = "campaign_progress", tag = "campaigns",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "Progress", body = ProgressView))
)]
pub(crate) async fn progress(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<ProgressView>, ApiError> {
    caller.require(READERS)?;
    let c = load(&state, &caller, &id).await?;
    let now = state.clock.now();
    let today = state.shifts.local_date(now);
    let start = state.shifts.start_of(today);
    let end = today
        .succ_opt()
        .map_or(start + std::time::Duration::from_secs(86_400), |d| {
            state.shifts.start_of(d)
        });
    let p = campaign_tasks::progress(&state.store, caller.tenant(), &c.id, start, end, now).await?;
    Ok(ApiJson(ProgressView::new(&c, &p)))
}

/// Query of `GET /campaigns/{id}/tasks`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    /// `open`, `done`, `exhausted`, `suppressed_dnc`, `suppressed_consent` or `cancelled`.
    pub state: Option<String>,
    /// 1-1000, default 200.
    pub limit: Option<String>,
}

const TASK_STATES: &[&str] = &[
    "open",
    "done",
    "exhausted",
    "suppressed_dnc",
    "suppressed_consent",
    "cancelled",
];

/// A campaign's tasks, most urgent first.
#[utoipa::path(
    get, path = "/campaigns/{id}/tasks", operation_id = "campaign_tasks", tag = "campaigns",
    params(("id" = String, Path, description = "Campaign id"), TaskListParams),
    responses((status = 200, description = "Tasks", body = [CampaignTaskView]))
)]
pub(crate) async fn tasks(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<TaskListParams>,
) -> Result<ApiJson<Vec<CampaignTaskView>>, ApiError> {
    caller.require(&[Role::Admin, Role::Supervisor, Role::Qa])?;
    let c = load(&state, &caller, &id).await?;
    if let Some(s) = &q.state
        && !TASK_STATES.contains(&s.as_str())
    {
        return Err(ApiError::bad_field(
            "state",
            format!("state must be one of {}", TASK_STATES.join(", ")),
        ));
    }
    let limit = limit_param(q.limit.as_deref(), 200, 1000)?;
    let list = campaign_tasks::list_for_campaign(
        &state.store,
        caller.tenant(),
        &c.id,
        q.state.as_deref(),
        limit,
    )
    .await?;
    Ok(ApiJson(list.iter().map(CampaignTaskView::from).collect()))
}
