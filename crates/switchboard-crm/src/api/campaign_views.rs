//! JSON shapes of campaign tasks and progress, shared by the campaign and task routes.

use serde::Serialize;
use switchboard_store::campaign_tasks::{CampaignTask, Progress};
use switchboard_store::campaigns::CampaignRecord;
use utoipa::ToSchema;

/// One of the customer's numbers on a task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskNumberView {
    pub number: String,
    /// RFC 3339: a number whose call the dialer abandoned rests until then (72 h).
    pub blocked_until: Option<String>,
    /// Reported invalid: never dialled again.
    pub dead: bool,
}

/// A campaign task. Times RFC 3339.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignTaskView {
    pub id: String,
    pub campaign_id: String,
    /// `campaign`, `order_reminder`, `order_warning` or `ticket_follow_up`.
    pub kind: String,
    pub customer_id: String,
    /// `open`, `done`, `exhausted`, `suppressed_dnc`, `suppressed_consent` or `cancelled`.
    pub state: String,
    pub key_customer: bool,
    pub time_zone: String,
    pub numbers: Vec<TaskNumberView>,
    /// Index into `numbers` of the next number to dial.
    pub next_number: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    /// The SLA deadline (3 days after the trigger).
    pub due_at: String,
    /// The slot the customer asked for; replaces `due_at` and is honoured exactly.
    pub booked_at: Option<String>,
    /// No attempt before this instant (retry delay, booked slot).
    pub not_before: String,
    pub purpose: String,
    pub owner_agent_id: Option<String>,
    pub claimed_by: Option<String>,
    pub claim_until: Option<String>,
    pub outcome: Option<String>,
    pub satisfaction: Option<String>,
    pub suggestion: Option<String>,
    pub effective: bool,
    pub talk_seconds: Option<i64>,
    pub note: Option<String>,
    pub done_at: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&CampaignTask> for CampaignTaskView {
    fn from(t: &CampaignTask) -> Self {
        let ts = |v: switchboard_core::Timestamp| v.to_string();
        CampaignTaskView {
            id: t.id.clone(),
            campaign_id: t.campaign_id.clone(),
            kind: t.kind.clone(),
            customer_id: t.customer_id.clone(),
            state: t.state.clone(),
            key_customer: t.key_customer,
            time_zone: t.time_zone.clone(),
            numbers: t
                .numbers
                .iter()
                .map(|n| TaskNumberView {
                    number: n.number.clone(),
                    blocked_until: n
                        .blocked_until
                        .map(|b| ts(switchboard_core::Timestamp::from_millis(b))),
                    dead: n.dead,
                })
                .collect(),
            next_number: t.next_number,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            due_at: ts(t.due_at),
            booked_at: t.booked_at.map(ts),
            not_before: ts(t.not_before),
            purpose: t.purpose.clone(),
            owner_agent_id: t.owner_agent_id.as_ref().map(ToString::to_string),
            claimed_by: t.claimed_by.as_ref().map(ToString::to_string),
            claim_until: t.claim_until.map(ts),
            outcome: t.outcome.clone(),
            satisfaction: t.satisfaction.clone(),
            suggestion: t.suggestion.clone(),
            effective: t.effective,
            talk_seconds: t.talk_seconds,
            note: t.note.clone(),
            done_at: t.done_at.map(ts),
            version: t.version,
            created_at: ts(t.created_at),
            updated_at: ts(t.updated_at),
        }
    }
}

/// Key-customer coverage: the "100 % of key customers are called back" guarantee.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyCoverageView {
    pub total: i64,
    pub done: i64,
    /// done ÷ total in percent (100 when there are none).
    pub percent: f64,
    /// Key-customer tasks that ran out of attempts: a supervisor must take them over.
    pub needs_supervisor: i64,
}

/// A campaign's progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressView {
    pub campaign_id: String,
    pub state: String,
    pub total: i64,
    pub open: i64,
    pub done: i64,
    pub exhausted: i64,
    pub suppressed: i64,
    pub cancelled: i64,
    /// Open tasks whose deadline falls in the call centre's today.
    pub due_today: i64,
    /// Open tasks past their deadline.
    pub overdue: i64,
    pub key_customers: KeyCoverageView,
}

impl ProgressView {
    pub fn new(c: &CampaignRecord, p: &Progress) -> Self {
        // Two counts of at most a few hundred thousand: exact in f64.
        #[allow(clippy::cast_precision_loss)]
        let percent = if p.key_total == 0 {
            100.0
        } else {
            (p.key_done as f64) * 100.0 / (p.key_total as f64)
        };
        ProgressView {
            campaign_id: c.id.clone(),
            state: c.state.as_str().to_owned(),
            total: p.total,
            open: p.open,
            done: p.done,
            exhausted: p.exhausted,
            suppressed: p.suppressed,
            cancelled: p.cancelled,
            due_today: p.due_today,
            overdue: p.overdue,
            key_customers: KeyCoverageView {
                total: p.key_total,
                done: p.key_done,
                percent,
                needs_supervisor: p.key_exhausted,
            },
        }
    }
}
