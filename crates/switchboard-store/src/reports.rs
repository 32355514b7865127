//! The facts behind the supervisors' reports and the wallboard: queue calls from the CDRs,
//! call-back attempts and tasks of campaigns, complaint tickets. Each function is one query
//! over `[from, to)`; the figures (service level, rates, the "one avoidance, three guarantees")
//! are computed from these rows by `switchboard_crm::reports`, in Rust, because some need
//! per-row rules the SQL of both engines cannot share (a queue's own service-level threshold,
//! the customer's local rest time). Plain counts are summed here in SQL.

use switchboard_core::{TenantId, Timestamp};

use crate::{Store, StoreError};

/// A call that went to a queue (started in the period).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QueueCall {
    /// The tenant's queue id (without tenant prefix).
    pub queue: String,
    pub started_at: i64,
    /// When an agent answered; `None` for a caller who hung up waiting (abandoned), or a
    /// call still waiting.
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
}

/// Every queue call of the tenant started in `[from, to)`.
pub async fn queue_calls(
    store: &Store,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<QueueCall>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT queue, started_at, answered_at, ended_at FROM calls
         WHERE tenant_id = $1 AND queue IS NOT NULL AND started_at >= $2 AND started_at < $3
         ORDER BY started_at, id",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(store.pool())
    .await?)
}

/// One recorded call-back attempt of a campaign task (made in the period).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CampaignAttempt {
    pub campaign_id: String,
    pub task_id: String,
    /// `answered`, `no_answer`, `busy`, `abandoned`, `invalid_number`, `call_back_later`.
    pub result: String,
    pub satisfaction: Option<String>,
    pub note: String,
    pub at: i64,
    /// The customer's IANA zone (the task's); `None`: the call centre's.
    pub time_zone: Option<String>,
}

/// Every attempt on a campaign task made in `[from, to)`.
pub async fn campaign_attempts(
    store: &Store,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<CampaignAttempt>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.campaign_id AS campaign_id, a.task_id AS task_id, a.result AS result,
                a.satisfaction AS satisfaction, a.note AS note, a.at AS at, t.time_zone AS time_zone
         FROM task_attempts a JOIN tasks t ON t.id = a.task_id
         WHERE a.tenant_id = $1 AND a.at >= $2 AND a.at < $3 AND t.campaign_id IS NOT NULL
         ORDER BY a.at, a.id",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(store.pool())
    .await?)
}

/// A campaign task whose trigger (the event it follows, or the campaign's start) fell in the
/// period.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CampaignTask {
    pub campaign_id: String,
    pub key_customer: i64,
    pub state: String,
    pub trigger_at: i64,
    pub done_at: Option<i64>,
    /// The latest time the customer asked to be called at (a booking), if any.
    pub booked_until: Option<i64>,
}

/// Campaign tasks (not suppressed or cancelled) triggered in `[from, to)`.
pub async fn campaign_tasks(
    store: &Store,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<CampaignTask>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.campaign_id AS campaign_id, t.key_customer AS key_customer, t.state AS state,
                t.trigger_at AS trigger_at, t.done_at AS done_at,
                (SELECT MAX(a.booked_at) FROM task_attempts a WHERE a.task_id = t.id) AS booked_until
         FROM tasks t
         WHERE t.tenant_id = $1 AND t.campaign_id IS NOT NULL AND t.numbers IS NOT NULL
           AND t.trigger_at >= $2 AND t.trigger_at < $3
           AND t.state NOT LIKE 'suppressed%' AND t.state <> 'cancelled'
         ORDER BY t.trigger_at, t.id",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(store.pool())
    .await?)
}

/// A complaint ticket created in the period, with its clock.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketClock {
    pub created_at: i64,
    pub reply_due_at: i64,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub escalation_level: i64,
}

/// Tickets created in `[from, to)`.
pub async fn tickets_created(
    store: &Store,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<TicketClock>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT created_at, reply_due_at, first_response_at, resolved_at, escalation_level
         FROM tickets WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
         ORDER BY created_at, id",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(store.pool())
    .await?)
}

/// Unresolved tickets past a deadline now: nobody took them within the reply time, or they
/// climbed the escalation ladder (the wallboard's "overdue tickets").
pub async fn overdue_tickets(
    store: &Store,
    tenant: &TenantId,
    now: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM tickets
         WHERE tenant_id = $1 AND state IN ('open', 'in_progress')
           AND (overdue = 1 OR escalation_level > 0
                OR (first_response_at IS NULL AND reply_due_at < $2))",
    )
    .bind(tenant.as_str())
    .bind(now.as_millis())
    .fetch_one(store.pool())
    .await?)
}
