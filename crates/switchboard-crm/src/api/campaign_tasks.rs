//! The agent's side of campaigns: `GET /campaign-tasks/next` hands the calling agent their next
//! call-back (claimed for 30 minutes) with the script, the customer file and the number to
//! dial, inside the customer's calling window; `POST /campaign-tasks/{id}/outcome` records what
//! happened, and the campaign crate decides what follows (next number at once, retry in another
//! part of the day, short busy retry, the booked slot, done, or out of attempts).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchboard_campaign::attempts::{AttemptError, Decision, DialResult};
use switchboard_campaign::calling::{CallingPolicy, local_of};
use switchboard_campaign::outcome::{CallReport, Satisfaction};
use switchboard_campaign::task::{Task, TaskError};
use switchboard_campaign::template::{FieldKind, Language, OutcomeForm, Script};
use switchboard_core::{Role, Seconds, Timestamp};
use switchboard_store::campaign_tasks::{self, Attempt, CampaignTask, Recorded, TaskUpdate};
use switchboard_store::campaigns::{self, CampaignRecord};
use switchboard_store::customers;
use switchboard_store::visits::{self, NewVisit, VisitSource};
use utoipa::ToSchema;

use super::campaign_views::CampaignTaskView;
use super::customer_types::{CustomerView, parse_time};
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::campaigns::{calling_policy, campaign_type, pure_task, state_str, stored_numbers};

const CALLERS: &[Role] = &[Role::Supervisor, Role::Agent];
const READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa, Role::Agent];
/// How long a handed-out task stays the agent's before another agent may get it.
const CLAIM: Duration = Duration::from_secs(30 * 60);
const MAX_TEXT: usize = 2_000;

/// The agent's next call-back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextTaskView {
    pub task: CampaignTaskView,
    pub campaign_id: String,
    pub campaign_name: String,
    pub campaign_type: String,
    /// The number to dial now (E.164).
    pub dial: String,
    /// The customer's local wall time now, and the end of the current calling window.
    pub customer_local_time: String,
    pub window_ends_at: Option<String>,
    pub customer: CustomerView,
    /// The script in the campaign's language, names filled in.
    #[schema(value_type = Object)]
    pub script: Script,
    #[schema(value_type = Object)]
    pub outcome_form: OutcomeForm,
}

struct Loaded {
    campaign: CampaignRecord,
    row: CampaignTask,
    task: Task,
    policy: CallingPolicy,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// May `caller` work `c`'s tasks?
async fn assigned(state: &ApiState, caller: &Caller, c: &CampaignRecord) -> Result<bool, ApiError> {
    if c.assignees
        .get("all_agents")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
    {
        return Ok(true);
    }
    if let Some(list) = c
        .assignees
        .get("agents")
        .and_then(serde_json::Value::as_array)
    {
        return Ok(list
            .iter()
            .any(|a| a.as_str() == Some(caller.user.id.as_str())));
    }
    if let Some(q) = c.assignees.get("queue").and_then(serde_json::Value::as_str) {
        let mine =
            switchboard_store::acd::queues_of_agent(&state.store, caller.tenant(), &caller.user.id)
                .await?;
        return Ok(mine.iter().any(|m| m.queue_id.as_str() == q));
    }
    Ok(false)
}

async fn load_task(state: &ApiState, caller: &Caller, id: &str) -> Result<Loaded, ApiError> {
    let missing = || ApiError::NotFound(format!("campaign task '{id}'"));
    if id.is_empty() || id.len() > 64 {
        return Err(missing());
    }
    let row = campaign_tasks::get(&state.store, caller.tenant(), id)
        .await?
        .ok_or_else(missing)?;
    // An agent sees only the tasks handed to them.
    if caller.user.role == Role::Agent && row.claimed_by.as_ref() != Some(&caller.user.id) {
        return Err(missing());
    }
    let campaign = campaigns::get(&state.store, caller.tenant(), &row.campaign_id)
        .await?
        .ok_or_else(missing)?;
    let kind = campaign_type(&campaign).map_err(internal)?;
    let policy = calling_policy(&campaign, &state.campaign.calling).map_err(internal)?;
    let task = pure_task(&row, kind).map_err(internal)?;
    Ok(Loaded {
        campaign,
        row,
        task,
        policy,
    })
}

async fn next_view(
    state: &ApiState,
    caller: &Caller,
    l: &Loaded,
    now: Timestamp,
) -> Result<NextTaskView, ApiError> {
    let kind = campaign_type(&l.campaign).map_err(internal)?;
    let language: Language = l.campaign.language.parse().unwrap_or(Language::ZhCn);
    let customer = customers::get_customer(
        &state.store,
        caller.tenant(),
        &l.row.customer_id.as_str().into(),
    )
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("customer '{}'", l.row.customer_id)))?;
    let tz = l.task.spec().tz;
    let window_ends_at = l
        .policy
        .allowed_intervals(tz, now, now + Duration::from_secs(86_400))
        .first()
        .map(|iv| iv.end.to_string());
    Ok(NextTaskView {
        task: CampaignTaskView::from(&l.row),
        campaign_id: l.campaign.id.clone(),
        campaign_name: l.campaign.name.clone(),
        campaign_type: kind.as_str().to_owned(),
        dial: l
            .task
            .current_number()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        customer_local_time: local_of(now, tz).format("%Y-%m-%d %H:%M").to_string(),
        window_ends_at,
        script: kind.script(language).render(
            &customer.data.name,
            &caller.user.display_name,
            caller.tenant().as_str(),
        ),
        outcome_form: kind.outcome_form(),
        customer: CustomerView::from(&customer),
    })
}

/// The calling agent's next call-back: their own claimed task first, then key customers, then
/// the earliest deadline — only tasks whose customer is inside the calling window now (their
/// local time). 204 when there is none.
#[utoipa::path(
    get, path = "/campaign-tasks/next", operation_id = "next_campaign_task", tag = "campaigns",
    responses(
        (status = 200, description = "The task, claimed for 30 minutes", body = NextTaskView),
        (status = 204, description = "Nothing to call now")
    )
)]
pub(crate) async fn next(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require(CALLERS)?;
    let now = state.clock.now();
    let mut mine = Vec::new();
    for c in campaigns::running(&state.store, caller.tenant()).await? {
        if c.starts_at <= now && now < c.ends_at && assigned(&state, &caller, &c).await? {
            mine.push(c);
        }
    }
    let ids: Vec<String> = mine.iter().map(|c| c.id.clone()).collect();
    let candidates = campaign_tasks::candidates(
        &state.store,
        caller.tenant(),
        &ids,
        &caller.user.id,
        now,
        200,
    )
    .await?;
    for row in candidates {
        let Some(campaign) = mine.iter().find(|c| c.id == row.campaign_id) else {
            continue;
        };
        let kind = campaign_type(campaign).map_err(internal)?;
        let policy = calling_policy(campaign, &state.campaign.calling).map_err(internal)?;
        let task = pure_task(&row, kind).map_err(internal)?;
        // The crate decides: open, and a call may start now in the customer's zone.
        if !task.is_open() || !policy.is_allowed(now, task.spec().tz) {
            continue;
        }
        let Some(claimed) = campaign_tasks::claim(
            &state.store,
            caller.tenant(),
            &row.id,
            row.version,
            &caller.user.id,
            now + CLAIM,
            now,
        )
        .await?
        else {
            continue; // another agent took it a moment ago
        };
        let loaded = Loaded {
            campaign: campaign.clone(),
            row: claimed,
            task,
            policy,
        };
        let view = next_view(&state, &caller, &loaded, now).await?;
        return Ok((StatusCode::OK, axum::Json(view)).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One campaign task (agents: only one handed to them).
#[utoipa::path(
    get, path = "/campaign-tasks/{id}", operation_id = "get_campaign_task", tag = "campaigns",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, description = "The task", body = CampaignTaskView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<CampaignTaskView>, ApiError> {
    caller.require(READERS)?;
    let l = load_task(&state, &caller, &id).await?;
    Ok(ApiJson(CampaignTaskView::from(&l.row)))
}

/// What happened on a call of the task.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeInput {
    /// `answered`, `no_answer`, `busy`, `abandoned`, `invalid_number` or `call_back_later`.
    pub result: String,
    /// The customer in person was reached (default: true when answered).
    pub reached: Option<bool>,
    #[serde(default)]
    pub talk_seconds: i64,
    /// The agent stated why they called (default: true when answered).
    pub purpose_stated: Option<bool>,
    /// `satisfied`, `neutral` or `not_satisfied` (required when the customer was reached).
    pub satisfaction: Option<String>,
    /// Suggestion (satisfied) or what to improve (other answers).
    pub suggestion: Option<String>,
    /// The call note (required when answered).
    #[serde(default)]
    pub note: String,
    /// For `call_back_later`: the time the customer asked for (RFC 3339 or epoch ms).
    pub booked_at: Option<String>,
    /// Visit invitations: `not_invited`, `invited`, `booked` or `attended`.
    pub visit: Option<String>,
    /// With `visit: booked`: when the customer comes.
    pub visit_at: Option<String>,
}

/// What follows the outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextStepView {
    /// `dial_now`, `retry_at`, `booked`, `done` or `exhausted`.
    pub kind: String,
    /// `dial_now`: the customer's next number.
    pub number: Option<String>,
    /// `retry_at` / `booked`: RFC 3339.
    pub at: Option<String>,
    /// `exhausted` on a key customer: a supervisor takes over.
    pub escalate: bool,
}

/// The task after the outcome and the next step.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeView {
    pub task: CampaignTaskView,
    pub next: NextStepView,
    /// Counts towards the agent's effective calls (reached, ≥ 30 s, purpose stated).
    pub effective: bool,
}

fn choice(form: &OutcomeForm, key: &str, value: &str) -> Result<(), ApiError> {
    if let Some(f) = form.field(key)
        && let FieldKind::Choice { options } = &f.kind
        && !options.iter().any(|o| o == value)
    {
        return Err(ApiError::bad_field(
            key,
            format!("{key} must be one of {}", options.join(", ")),
        ));
    }
    Ok(())
}

fn required(form: &OutcomeForm, key: &str, present: bool) -> Result<(), ApiError> {
    match form.field(key) {
        Some(f) if f.required && !present => Err(ApiError::bad_field(
            key,
            format!("{key} is required by the outcome form"),
        )),
        _ => Ok(()),
    }
}

fn attempt_error(e: AttemptError) -> ApiError {
    match e {
        AttemptError::Task(TaskError::BookedInRestTime { .. } | TaskError::BookedInPast { .. }) => {
            ApiError::bad_field("booked_at", e.to_string())
        }
        AttemptError::Task(TaskError::Closed { .. }) => ApiError::Conflict(e.to_string()),
        other => ApiError::Internal(other.to_string()),
    }
}

/// Records an outcome for a task the agent holds.
#[utoipa::path(
    post, path = "/campaign-tasks/{id}/outcome", operation_id = "record_campaign_outcome", tag = "campaigns",
    params(("id" = String, Path, description = "Task id")),
    request_body = OutcomeInput,
    responses((status = 200, description = "Recorded", body = OutcomeView))
)]
pub(crate) async fn outcome(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<OutcomeInput>,
) -> Result<ApiJson<OutcomeView>, ApiError> {
    caller.require(CALLERS)?;
    let mut l = load_task(&state, &caller, &id).await?;
    let now = state.clock.now();
    let holds = l.row.claimed_by.as_ref() == Some(&caller.user.id)
        && l.row.claim_until.is_some_and(|u| u > now);
    if !holds {
        return Err(ApiError::Conflict(format!(
            "campaign task '{id}' is not handed to you: take it with GET /campaign-tasks/next"
        )));
    }
    let kind = campaign_type(&l.campaign).map_err(internal)?;
    let form = kind.outcome_form();
    let answered = matches!(input.result.as_str(), "answered" | "call_back_later");
    if !(0..=86_400).contains(&input.talk_seconds) {
        return Err(ApiError::bad_field(
            "talk_seconds",
            "talk_seconds must be 0-86400",
        ));
    }
    if input.note.chars().count() > MAX_TEXT
        || input
            .suggestion
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_TEXT)
    {
        let field = if input.note.chars().count() > MAX_TEXT {
            "note"
        } else {
            "suggestion"
        };
        return Err(ApiError::bad_field(
            field,
            format!("{field} must be at most {MAX_TEXT} characters"),
        ));
    }
    let reached = input.reached.unwrap_or(answered);
    let satisfaction = match input.satisfaction.as_deref() {
        None => None,
        Some(s) => {
            choice(&form, "satisfaction", s)?;
            Some(
                s.parse::<Satisfaction>()
                    .map_err(|e| ApiError::bad_field("satisfaction", e.to_string()))?,
            )
        }
    };
    if let Some(v) = &input.visit {
        choice(&form, "visit", v)?;
    }
    if input.result == "answered" && reached {
        required(&form, "satisfaction", satisfaction.is_some())?;
        required(&form, "note", !input.note.trim().is_empty())?;
        required(&form, "visit", input.visit.is_some())?;
    }
    let report = CallReport {
        reached,
        talk: Seconds(u64::try_from(input.talk_seconds).unwrap_or(0)),
        purpose_stated: input.purpose_stated.unwrap_or(answered),
        satisfaction,
        suggestion: input.suggestion.clone().filter(|s| !s.trim().is_empty()),
    };
    let effective = answered && state.campaign.effective.is_effective(&report);
    let booked_at = input
        .booked_at
        .as_deref()
        .map(|b| parse_time("booked_at", b))
        .transpose()?;
    let result = match input.result.as_str() {
        "answered" => DialResult::Answered(report.clone()),
        "no_answer" => DialResult::NoAnswer,
        "busy" => DialResult::Busy,
        "abandoned" => DialResult::AbandonedByDialer,
        "invalid_number" => DialResult::InvalidNumber,
        "call_back_later" => DialResult::CallBackLater {
            report: report.clone(),
            at: booked_at.ok_or_else(|| {
                ApiError::bad_field("booked_at", "call_back_later needs booked_at")
            })?,
        },
        _ => {
            return Err(ApiError::bad_field(
                "result",
                "result must be answered, no_answer, busy, abandoned, invalid_number or call_back_later",
            ));
        }
    };
    let visit_at = match (input.visit.as_deref(), input.visit_at.as_deref()) {
        (Some("booked"), Some(at)) => Some(parse_time("visit_at", at)?),
        (Some("booked"), None) => {
            return Err(ApiError::bad_field(
                "visit_at",
                "a booked visit needs visit_at",
            ));
        }
        _ => None,
    };
    let number = l
        .task
        .current_number()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let decision = l
        .task
        .record_attempt(result, now, &state.campaign.retry, &l.policy)
        .map_err(attempt_error)?;
    let snap = l.task.snapshot();
    let update = TaskUpdate {
        state: state_str(snap.state).to_owned(),
        numbers: stored_numbers(&snap.numbers),
        next_number: i64::try_from(snap.next_number).unwrap_or(0),
        round_tried: snap.round_tried.clone(),
        not_before: snap.not_before,
        due_at: snap.due,
        booked_at: snap.booked_at,
        attempts: i64::from(snap.attempts),
        outcome: input.result.clone(),
        satisfaction: input.satisfaction.clone(),
        suggestion: report.suggestion.clone(),
        effective,
        talk_seconds: answered.then_some(input.talk_seconds),
        note: input.note.clone(),
        keep_claim: matches!(decision, Decision::DialNow { .. }),
    };
    let attempt = Attempt {
        id: uuid::Uuid::now_v7().to_string(),
        task_id: l.row.id.clone(),
        campaign_id: l.row.campaign_id.clone(),
        agent_id: Some(caller.user.id.clone()),
        number,
        result: input.result.clone(),
        reached,
        talk_seconds: input.talk_seconds,
        purpose_stated: report.purpose_stated,
        effective,
        satisfaction: input.satisfaction.clone(),
        suggestion: report.suggestion.clone(),
        booked_at,
        visit: input.visit.clone(),
        note: input.note.clone(),
        at: now,
    };
    let task = match campaign_tasks::record_attempt(
        &state.store,
        caller.tenant(),
        l.row.version,
        &update,
        &attempt,
    )
    .await?
    {
        Recorded::Applied(t) => *t,
        Recorded::Stale => {
            return Err(ApiError::Conflict(format!(
                "campaign task '{id}' changed meanwhile; reload it"
            )));
        }
    };
    if let Some(at) = visit_at {
        let new = NewVisit {
            customer_id: task.customer_id.as_str().into(),
            scheduled_at: at,
            source: VisitSource::CallBack,
            invited_by: Some(caller.user.id.clone()),
            campaign_id: Some(task.campaign_id.clone()),
            note: input.note.clone(),
        };
        visits::book(&state.store, caller.tenant(), &new, now).await?;
    }
    l.row = task;
    let next = match decision {
        Decision::DialNow { number } => NextStepView {
            kind: "dial_now".into(),
            number: Some(number.as_str().to_owned()),
            at: None,
            escalate: false,
        },
        Decision::RetryAt { at } => NextStepView {
            kind: "retry_at".into(),
            number: None,
            at: Some(at.to_string()),
            escalate: false,
        },
        Decision::Booked { at } => NextStepView {
            kind: "booked".into(),
            number: None,
            at: Some(at.to_string()),
            escalate: false,
        },
        Decision::Done => NextStepView {
            kind: "done".into(),
            number: None,
            at: None,
            escalate: false,
        },
        Decision::Exhausted { escalate } => NextStepView {
            kind: "exhausted".into(),
            number: None,
            at: None,
            escalate,
        },
    };
    Ok(ApiJson(OutcomeView {
        task: CampaignTaskView::from(&l.row),
        next,
        effective,
    }))
}
