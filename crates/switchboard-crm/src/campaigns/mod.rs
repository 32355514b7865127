//! Glue between the pure campaign crate and the store: stored rows become the crate's
//! `Campaign` / `Task` values and back. No campaign rule lives here — suppression, attempts,
//! retries, bookings and calling windows are all decided by `switchboard-campaign`.

pub mod dialing;
pub mod triggers;

use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use switchboard_campaign::calling::{CallingPolicy, parse_zone};
use switchboard_campaign::task::{
    Consent, NumberState, Suppression, Task, TaskSnapshot, TaskSpec, TaskState,
};
use switchboard_campaign::template::CampaignType;
use switchboard_core::{E164, TimeWindow, Timestamp};
use switchboard_store::campaign_tasks::{CampaignTask, NewCampaignTask, StoredNumber};
use switchboard_store::campaigns::{CampaignRecord, TargetCustomer};

/// What can go wrong turning stored rows into campaign values.
#[derive(Debug, thiserror::Error)]
pub enum GlueError {
    #[error("stored campaign value is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Task(#[from] switchboard_campaign::task::TaskError),
}

/// The calling-window override as the API and the `campaigns.calling` column carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallingOverride {
    /// Rest windows in the customer's local time, `HH:MM-HH:MM` (may wrap midnight).
    pub rest: Vec<String>,
    /// Dates (`YYYY-MM-DD`, customer's local calendar) with no calls at all.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Why an override is refused, naming the offending part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideError {
    pub field: String,
    pub message: String,
}

impl CallingOverride {
    /// The policy, validated by the campaign crate (a day with no calling time is refused).
    pub fn policy(&self) -> Result<CallingPolicy, OverrideError> {
        let mut rest = Vec::with_capacity(self.rest.len());
        for (i, w) in self.rest.iter().enumerate() {
            rest.push(TimeWindow::parse(w).map_err(|e| OverrideError {
                field: format!("calling.rest[{i}]"),
                message: e.to_string(),
            })?);
        }
        let mut holidays = Vec::with_capacity(self.holidays.len());
        for (i, d) in self.holidays.iter().enumerate() {
            holidays.push(
                NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| OverrideError {
                    field: format!("calling.holidays[{i}]"),
                    message: format!("'{d}' is not a date like 2026-10-01"),
                })?,
            );
        }
        CallingPolicy::new(rest, holidays).map_err(|e| OverrideError {
            field: "calling.rest".into(),
            message: e.to_string(),
        })
    }
}

/// The tenant-wide campaign rules of the config (`[campaign]`): default rest time, retry
/// timings, what makes a call effective. Defaults: the service rules'.
#[derive(Debug, Clone, Default)]
pub struct CampaignSettings {
    pub calling: CallingPolicy,
    pub retry: switchboard_campaign::attempts::RetryPolicy,
    pub effective: switchboard_campaign::outcome::EffectiveRule,
}

/// The calling policy of a stored campaign: its override, else the configured rest time.
pub fn calling_policy(
    c: &CampaignRecord,
    default: &CallingPolicy,
) -> Result<CallingPolicy, GlueError> {
    match &c.calling {
        None | Some(serde_json::Value::Null) => Ok(default.clone()),
        Some(v) => {
            let o: CallingOverride = serde_json::from_value(v.clone())
                .map_err(|e| GlueError::Corrupt(format!("campaigns.calling: {e}")))?;
            o.policy()
                .map_err(|e| GlueError::Corrupt(format!("{}: {}", e.field, e.message)))
        }
    }
}

pub fn campaign_type(c: &CampaignRecord) -> Result<CampaignType, GlueError> {
    c.kind
        .parse()
        .map_err(|e: switchboard_campaign::template::TemplateError| {
            GlueError::Corrupt(e.to_string())
        })
}

/// How a pure task state is stored.
pub fn state_str(s: TaskState) -> &'static str {
    match s {
        TaskState::Pending => "open",
        TaskState::Done => "done",
        TaskState::Exhausted => "exhausted",
        TaskState::Suppressed(Suppression::DoNotCall) => "suppressed_dnc",
        TaskState::Suppressed(Suppression::NoConsent) => "suppressed_consent",
        TaskState::Cancelled => "cancelled",
    }
}

fn parse_state(s: &str) -> Result<TaskState, GlueError> {
    Ok(match s {
        "open" => TaskState::Pending,
        "done" => TaskState::Done,
        "exhausted" => TaskState::Exhausted,
        "suppressed_dnc" => TaskState::Suppressed(Suppression::DoNotCall),
        "suppressed_consent" => TaskState::Suppressed(Suppression::NoConsent),
        "cancelled" => TaskState::Cancelled,
        other => return Err(GlueError::Corrupt(format!("tasks.state '{other}'"))),
    })
}

fn numbers_of(stored: &[StoredNumber]) -> Result<Vec<NumberState>, GlueError> {
    stored
        .iter()
        .map(|n| {
            Ok(NumberState {
                number: E164::parse(&n.number)
                    .map_err(|e| GlueError::Corrupt(format!("tasks.numbers: {e}")))?,
                blocked_until: n.blocked_until.map(Timestamp::from_millis),
                dead: n.dead,
            })
        })
        .collect()
}

pub fn stored_numbers(numbers: &[NumberState]) -> Vec<StoredNumber> {
    numbers
        .iter()
        .map(|n| StoredNumber {
            number: n.number.as_str().to_owned(),
            blocked_until: n.blocked_until.map(Timestamp::as_millis),
            dead: n.dead,
        })
        .collect()
}

/// The pure task a stored row holds.
pub fn pure_task(row: &CampaignTask, kind: CampaignType) -> Result<Task, GlueError> {
    let tz = parse_zone(&row.time_zone).map_err(|e| GlueError::Corrupt(e.to_string()))?;
    let numbers = numbers_of(&row.numbers)?;
    let spec = TaskSpec {
        id: row.id.as_str().into(),
        campaign: row.campaign_id.as_str().into(),
        kind,
        customer: row.customer_id.as_str().into(),
        tz,
        numbers: numbers.iter().map(|n| n.number.clone()).collect(),
        key_customer: row.key_customer,
        // Consent was judged when the task was made; a suppressed task keeps its state.
        consent: Consent::default(),
        triggered_at: row.trigger_at,
        sla: row.due_at.since(row.trigger_at),
        preferred_agent: row.owner_agent_id.as_ref().map(|a| a.as_str().into()),
        priority: u8::try_from(row.priority.clamp(0, 255)).unwrap_or(u8::MAX),
        max_attempts: u32::try_from(row.max_attempts.max(1)).unwrap_or(1),
        purpose: row.purpose.clone(),
    };
    let snapshot = TaskSnapshot {
        state: parse_state(&row.state)?,
        numbers,
        due: row.due_at,
        booked_at: row.booked_at,
        attempts: u32::try_from(row.attempts.max(0)).unwrap_or(u32::MAX),
        next_number: usize::try_from(row.next_number.max(0)).unwrap_or(0),
        round_tried: row.round_tried.clone(),
        not_before: row.not_before,
    };
    Ok(Task::restore(spec, snapshot)?)
}

/// Everything needed to make a task for one customer.
#[derive(Debug)]
pub struct TaskFor<'a> {
    pub campaign: &'a CampaignRecord,
    pub kind: CampaignType,
    pub customer: &'a TargetCustomer,
    /// `campaign`, `order_reminder`, ...
    pub reason: &'a str,
    pub trigger_key: String,
    pub triggered_at: Timestamp,
    pub sla: Duration,
    pub owner: Option<&'a str>,
    pub purpose: String,
    pub now: Timestamp,
}

/// The row for a new task, its state decided by the crate's `Task::new` (do-not-call or no
/// consent → suppressed, counted but never dialled). `None` when the customer cannot be a
/// task at all (no valid number, unknown zone): the caller reports it.
pub fn new_task(t: &TaskFor<'_>) -> Result<NewCampaignTask, String> {
    let tz = parse_zone(&t.customer.time_zone).map_err(|e| e.to_string())?;
    let numbers: Vec<E164> = t
        .customer
        .phones
        .iter()
        .filter_map(|p| E164::parse(p).ok())
        .collect();
    let id = uuid::Uuid::now_v7().to_string();
    let spec = TaskSpec {
        id: id.as_str().into(),
        campaign: t.campaign.id.as_str().into(),
        kind: t.kind,
        customer: t.customer.id.clone(),
        tz,
        numbers,
        key_customer: t.customer.key_customer,
        consent: Consent {
            do_not_call: t.customer.do_not_call,
            consent_given: t.customer.consent,
        },
        triggered_at: t.triggered_at,
        sla: t.sla,
        preferred_agent: t.owner.map(Into::into),
        priority: u8::try_from(t.campaign.priority.clamp(0, 255)).unwrap_or(u8::MAX),
        max_attempts: u32::try_from(t.campaign.max_attempts.max(1)).unwrap_or(1),
        purpose: t.purpose.clone(),
    };
    let task = Task::new(spec).map_err(|e| e.to_string())?;
    let snap = task.snapshot();
    Ok(NewCampaignTask {
        id,
        tenant_id: t.campaign.tenant_id.clone(),
        campaign_id: t.campaign.id.clone(),
        kind: t.reason.to_owned(),
        trigger_key: t.trigger_key.clone(),
        customer_id: t.customer.id.to_string(),
        state: state_str(task.state()).to_owned(),
        priority: t.campaign.priority,
        trigger_at: t.triggered_at,
        due_at: task.due(),
        max_attempts: t.campaign.max_attempts,
        time_zone: t.customer.time_zone.clone(),
        key_customer: t.customer.key_customer,
        numbers: stored_numbers(&snap.numbers),
        purpose: t.purpose.clone(),
        owner_agent_id: t.owner.map(Into::into),
        now: t.now,
    })
}
