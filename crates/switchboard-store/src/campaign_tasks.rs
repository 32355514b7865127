//! Campaign tasks (rows of `tasks` with their numbers filled in) and their attempts.
//!
//! A task row is the stored form of the campaign crate's `Task`: the API and the trigger driver
//! rebuild the pure task from it, hand it the event with `now`, and write back what it became
//! together with the attempt and its `campaign.task_outcome` event — one transaction, guarded
//! by the row's version so two agents recording on the same task cannot both win.

use sqlx::{Any, AnyConnection, Transaction};
use switchboard_core::{TenantId, Timestamp, UserId};

use crate::outbox::{self, NewEvent};
use crate::{Store, StoreError};

/// One of the customer's numbers as the task tracks it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredNumber {
    pub number: String,
    /// Epoch ms; a number whose call the dialer abandoned rests until then.
    pub blocked_until: Option<i64>,
    pub dead: bool,
}

/// Task states as stored: `open` (pending), `done`, `exhausted`, `suppressed_dnc`,
/// `suppressed_consent`, `cancelled`.
pub const OPEN: &str = "open";

/// A stored campaign task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignTask {
    pub id: String,
    pub tenant_id: TenantId,
    pub campaign_id: String,
    /// What created it: `campaign`, `order_reminder`, `order_warning`, `ticket_follow_up`.
    pub kind: String,
    pub trigger_key: String,
    pub customer_id: String,
    pub state: String,
    pub priority: i64,
    pub trigger_at: Timestamp,
    pub due_at: Timestamp,
    pub booked_at: Option<Timestamp>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub time_zone: String,
    pub key_customer: bool,
    pub numbers: Vec<StoredNumber>,
    pub next_number: i64,
    pub round_tried: Vec<bool>,
    pub not_before: Timestamp,
    pub purpose: String,
    /// The agent the task must go to (ticket owner), if any.
    pub owner_agent_id: Option<UserId>,
    pub claimed_by: Option<UserId>,
    pub claim_until: Option<Timestamp>,
    /// The last recorded outcome (`answered`, `no_answer`, ...).
    pub outcome: Option<String>,
    pub satisfaction: Option<String>,
    pub suggestion: Option<String>,
    pub effective: bool,
    pub talk_seconds: Option<i64>,
    pub note: Option<String>,
    pub done_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, tenant_id, campaign_id, kind, trigger_key, customer_id, state, priority, trigger_at, due_at, booked_at, attempts, max_attempts, time_zone, key_customer, numbers, next_number, round_tried, not_before, purpose, owner_agent_id, claimed_by, claim_until, outcome, satisfaction, suggestion, effective, talk_seconds, note, done_at, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    campaign_id: Option<String>,
    kind: String,
    trigger_key: Option<String>,
    customer_id: Option<String>,
    state: String,
    priority: i64,
    trigger_at: i64,
    due_at: i64,
    booked_at: Option<i64>,
    attempts: i64,
    max_attempts: i64,
    time_zone: Option<String>,
    key_customer: i64,
    numbers: Option<String>,
    next_number: i64,
    round_tried: String,
    not_before: Option<i64>,
    purpose: String,
    owner_agent_id: Option<String>,
    claimed_by: Option<String>,
    claim_until: Option<i64>,
    outcome: Option<String>,
    satisfaction: Option<String>,
    suggestion: Option<String>,
    effective: i64,
    talk_seconds: Option<i64>,
    note: Option<String>,
    done_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

fn corrupt(column: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("tasks.{column}: {e}"))
}

impl TryFrom<Row> for CampaignTask {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let ts = Timestamp::from_millis;
        let numbers = r.numbers.ok_or_else(|| corrupt("numbers", "missing"))?;
        Ok(CampaignTask {
            numbers: serde_json::from_str(&numbers).map_err(|e| corrupt("numbers", e))?,
            round_tried: serde_json::from_str(&r.round_tried)
                .map_err(|e| corrupt("round_tried", e))?,
            campaign_id: r
                .campaign_id
                .ok_or_else(|| corrupt("campaign_id", "missing"))?,
            customer_id: r
                .customer_id
                .ok_or_else(|| corrupt("customer_id", "missing"))?,
            id: r.id,
            tenant_id: r.tenant_id.into(),
            kind: r.kind,
            trigger_key: r.trigger_key.unwrap_or_default(),
            state: r.state,
            priority: r.priority,
            trigger_at: ts(r.trigger_at),
            due_at: ts(r.due_at),
            booked_at: r.booked_at.map(ts),
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            time_zone: r.time_zone.unwrap_or_default(),
            key_customer: r.key_customer != 0,
            next_number: r.next_number,
            not_before: ts(r.not_before.unwrap_or(r.trigger_at)),
            purpose: r.purpose,
            owner_agent_id: r.owner_agent_id.map(UserId::from),
            claimed_by: r.claimed_by.map(UserId::from),
            claim_until: r.claim_until.map(ts),
            outcome: r.outcome,
            satisfaction: r.satisfaction,
            suggestion: r.suggestion,
            effective: r.effective != 0,
            talk_seconds: r.talk_seconds,
            note: r.note,
            done_at: r.done_at.map(ts),
            version: r.version,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
        })
    }
}

/// The webhook payload of `campaign.task_*` events.
pub fn event_payload(t: &CampaignTask) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "campaign_id": t.campaign_id,
        "customer_id": t.customer_id,
        "kind": t.kind,
        "state": t.state,
        "attempts": t.attempts,
        "outcome": t.outcome,
        "satisfaction": t.satisfaction,
        "effective": t.effective,
        "booked_at": t.booked_at.map(|b| b.to_string()),
        "version": t.version,
    })
}

/// A task to create (the pure task decided its state and due time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCampaignTask {
    pub id: String,
    pub tenant_id: TenantId,
    pub campaign_id: String,
    pub kind: String,
    pub trigger_key: String,
    pub customer_id: String,
    pub state: String,
    pub priority: i64,
    pub trigger_at: Timestamp,
    pub due_at: Timestamp,
    pub max_attempts: i64,
    pub time_zone: String,
    pub key_customer: bool,
    pub numbers: Vec<StoredNumber>,
    pub purpose: String,
    pub owner_agent_id: Option<UserId>,
    pub now: Timestamp,
}

/// Creates the task unless its trigger key exists. A row of the same key without numbers (the
/// follow-up a resolved ticket writes) is filled in instead: it becomes this task. Returns
/// whether anything was written.
pub async fn insert_tx(conn: &mut AnyConnection, t: &NewCampaignTask) -> Result<bool, StoreError> {
    let numbers = serde_json::to_string(&t.numbers).map_err(|e| corrupt("numbers", e))?;
    let round = serde_json::to_string(&vec![false; t.numbers.len()])
        .map_err(|e| corrupt("round_tried", e))?;
    let done = sqlx::query(
        "INSERT INTO tasks (id, tenant_id, campaign_id, kind, trigger_key, customer_id, state, priority, trigger_at,
           due_at, attempts, max_attempts, time_zone, key_customer, numbers, next_number, round_tried, not_before,
           purpose, owner_agent_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13, $14, 0, $15, $9, $16, $17, $18, $18)
         ON CONFLICT (tenant_id, trigger_key) DO UPDATE SET campaign_id = excluded.campaign_id,
           customer_id = excluded.customer_id, state = excluded.state, priority = excluded.priority,
           trigger_at = excluded.trigger_at, due_at = excluded.due_at, max_attempts = excluded.max_attempts,
           time_zone = excluded.time_zone, key_customer = excluded.key_customer, numbers = excluded.numbers,
           round_tried = excluded.round_tried, not_before = excluded.not_before, purpose = excluded.purpose,
           owner_agent_id = COALESCE(tasks.owner_agent_id, excluded.owner_agent_id),
           updated_at = excluded.updated_at, version = tasks.version + 1
         WHERE tasks.numbers IS NULL",
    )
    .bind(t.id.as_str())
    .bind(t.tenant_id.as_str())
    .bind(t.campaign_id.as_str())
    .bind(t.kind.as_str())
    .bind(t.trigger_key.as_str())
    .bind(t.customer_id.as_str())
    .bind(t.state.as_str())
    .bind(t.priority)
    .bind(t.trigger_at.as_millis())
    .bind(t.due_at.as_millis())
    .bind(t.max_attempts)
    .bind(t.time_zone.as_str())
    .bind(i64::from(t.key_customer))
    .bind(numbers)
    .bind(round)
    .bind(t.purpose.as_str())
    .bind(t.owner_agent_id.as_ref().map(UserId::as_str))
    .bind(t.now.as_millis())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// [`insert_tx`] in a transaction of its own.
pub async fn insert(store: &Store, t: &NewCampaignTask) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    let created = insert_tx(&mut tx, t).await?;
    tx.commit().await?;
    Ok(created)
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CampaignTask>, StoreError> {
    one_where(store, tenant, Unique::Id, id).await
}

/// The task of a trigger key, if it exists as a campaign task.
pub async fn by_trigger_key(
    store: &Store,
    tenant: &TenantId,
    key: &str,
) -> Result<Option<CampaignTask>, StoreError> {
    one_where(store, tenant, Unique::TriggerKey, key).await
}

/// The columns that name one task.
#[derive(Clone, Copy)]
enum Unique {
    Id,
    TriggerKey,
}

/// The campaign task whose `column` is `value`, if there is one.
async fn one_where(
    store: &Store,
    tenant: &TenantId,
    column: Unique,
    value: &str,
) -> Result<Option<CampaignTask>, StoreError> {
    // A fixed column name from the enum, never the caller's text.
    let column = match column {
        Unique::Id => "id",
        Unique::TriggerKey => "trigger_key",
    };
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE tenant_id = $1 AND {column} = $2 AND numbers IS NOT NULL"
    ))
    .bind(tenant.as_str())
    .bind(value)
    .fetch_optional(store.pool())
    .await?;
    row.map(CampaignTask::try_from).transpose()
}

/// A campaign's tasks, most urgent first (deadline = booked time, else due time).
pub async fn list_for_campaign(
    store: &Store,
    tenant: &TenantId,
    campaign: &str,
    state: Option<&str>,
    limit: u32,
) -> Result<Vec<CampaignTask>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE tenant_id = $1 AND campaign_id = $2 AND numbers IS NOT NULL
         AND ($3 = '' OR state = $3) ORDER BY COALESCE(booked_at, due_at), id LIMIT $4"
    ))
    .bind(tenant.as_str())
    .bind(campaign)
    .bind(state.unwrap_or(""))
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(CampaignTask::try_from).collect()
}

/// Open tasks of `campaigns` that `agent` may take at `now`: not before their earliest
/// attempt, addressed to nobody or to this agent, not claimed by someone else (a claim lapses
/// at `claim_until`). The agent's own claim comes first, then key customers, then the earliest
/// deadline. The calling window is judged by the caller in each customer's zone.
pub async fn candidates(
    store: &Store,
    tenant: &TenantId,
    campaigns: &[String],
    agent: &UserId,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<CampaignTask>, StoreError> {
    if campaigns.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..campaigns.len())
        .map(|i| format!("${}", i + 5))
        .collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM tasks WHERE tenant_id = $1 AND state = 'open' AND numbers IS NOT NULL
         AND not_before <= $2 AND (owner_agent_id IS NULL OR owner_agent_id = $3)
         AND (claimed_by IS NULL OR claimed_by = $3 OR claim_until <= $2)
         AND campaign_id IN ({})
         ORDER BY CASE WHEN claimed_by = $3 THEN 0 ELSE 1 END, key_customer DESC,
           COALESCE(booked_at, due_at), priority DESC, id LIMIT $4",
        marks.join(", ")
    );
    let mut q = sqlx::query_as::<_, Row>(&sql)
        .bind(tenant.as_str())
        .bind(now.as_millis())
        .bind(agent.as_str())
        .bind(i64::from(limit));
    for c in campaigns {
        q = q.bind(c.as_str());
    }
    let rows = q.fetch_all(store.pool()).await?;
    rows.into_iter().map(CampaignTask::try_from).collect()
}

/// Claims the task for `agent` until `until`, if it is still at `version`. Returns the claimed
/// task, or `None` when someone else changed it first.
pub async fn claim(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    version: i64,
    agent: &UserId,
    until: Timestamp,
    now: Timestamp,
) -> Result<Option<CampaignTask>, StoreError> {
    let done = sqlx::query(
        "UPDATE tasks SET claimed_by = $1, claim_until = $2, updated_at = $3, version = version + 1
         WHERE tenant_id = $4 AND id = $5 AND version = $6 AND state = 'open'",
    )
    .bind(agent.as_str())
    .bind(until.as_millis())
    .bind(now.as_millis())
    .bind(tenant.as_str())
    .bind(id)
    .bind(version)
    .execute(store.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    get(store, tenant, id).await
}

/// What one attempt changed on the task (from the pure task's new snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdate {
    pub state: String,
    pub numbers: Vec<StoredNumber>,
    pub next_number: i64,
    pub round_tried: Vec<bool>,
    pub not_before: Timestamp,
    pub due_at: Timestamp,
    pub booked_at: Option<Timestamp>,
    pub attempts: i64,
    pub outcome: String,
    pub satisfaction: Option<String>,
    pub suggestion: Option<String>,
    pub effective: bool,
    pub talk_seconds: Option<i64>,
    pub note: String,
    /// The agent keeps the task (dial the customer's next number now); else the claim ends.
    pub keep_claim: bool,
}

/// One attempt as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: String,
    pub task_id: String,
    pub campaign_id: String,
    pub agent_id: Option<UserId>,
    pub number: String,
    pub result: String,
    pub reached: bool,
    pub talk_seconds: i64,
    pub purpose_stated: bool,
    pub effective: bool,
    pub satisfaction: Option<String>,
    pub suggestion: Option<String>,
    pub booked_at: Option<Timestamp>,
    pub visit: Option<String>,
    pub note: String,
    pub at: Timestamp,
}

/// What recording an attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Applied(Box<CampaignTask>),
    /// The task changed since it was read (another attempt was recorded first).
    Stale,
}

/// Writes the task's new state, the attempt and the `campaign.task_outcome` event in one
/// transaction, if the task is still at `version`.
pub async fn record_attempt(
    store: &Store,
    tenant: &TenantId,
    version: i64,
    u: &TaskUpdate,
    a: &Attempt,
) -> Result<Recorded, StoreError> {
    let mut tx: Transaction<'static, Any> = store.begin_write().await?;
    let closed = u.state != OPEN;
    let done = sqlx::query(
        "UPDATE tasks SET state = $1, numbers = $2, next_number = $3, round_tried = $4, not_before = $5,
         due_at = $6, booked_at = $7, attempts = $8, outcome = $9, satisfaction = COALESCE($10, satisfaction),
         suggestion = COALESCE($11, suggestion), effective = CASE WHEN $12 = 1 THEN 1 ELSE effective END,
         talk_seconds = COALESCE($13, talk_seconds), note = $14, done_at = CASE WHEN $15 = 1 THEN $16 ELSE NULL END,
         claimed_by = CASE WHEN $20 = 1 THEN claimed_by ELSE NULL END,
         claim_until = CASE WHEN $20 = 1 THEN claim_until ELSE NULL END, updated_at = $16, version = version + 1
         WHERE tenant_id = $17 AND id = $18 AND version = $19",
    )
    .bind(u.state.as_str())
    .bind(serde_json::to_string(&u.numbers).map_err(|e| corrupt("numbers", e))?)
    .bind(u.next_number)
    .bind(serde_json::to_string(&u.round_tried).map_err(|e| corrupt("round_tried", e))?)
    .bind(u.not_before.as_millis())
    .bind(u.due_at.as_millis())
    .bind(u.booked_at.map(Timestamp::as_millis))
    .bind(u.attempts)
    .bind(u.outcome.as_str())
    .bind(u.satisfaction.as_deref())
    .bind(u.suggestion.as_deref())
    .bind(i64::from(u.effective))
    .bind(u.talk_seconds)
    .bind(u.note.as_str())
    .bind(i64::from(closed))
    .bind(a.at.as_millis())
    .bind(tenant.as_str())
    .bind(a.task_id.as_str())
    .bind(version)
    .bind(i64::from(u.keep_claim))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(Recorded::Stale);
    }
    sqlx::query(
        "INSERT INTO task_attempts (id, tenant_id, task_id, campaign_id, agent_id, number, result, reached,
           talk_seconds, purpose_stated, effective, satisfaction, suggestion, booked_at, visit, note, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(a.id.as_str())
    .bind(tenant.as_str())
    .bind(a.task_id.as_str())
    .bind(a.campaign_id.as_str())
    .bind(a.agent_id.as_ref().map(UserId::as_str))
    .bind(a.number.as_str())
    .bind(a.result.as_str())
    .bind(i64::from(a.reached))
    .bind(a.talk_seconds)
    .bind(i64::from(a.purpose_stated))
    .bind(i64::from(a.effective))
    .bind(a.satisfaction.as_deref())
    .bind(a.suggestion.as_deref())
    .bind(a.booked_at.map(Timestamp::as_millis))
    .bind(a.visit.as_deref())
    .bind(a.note.as_str())
    .bind(a.at.as_millis())
    .execute(&mut *tx)
    .await?;
    let row: Row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(a.task_id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let task = CampaignTask::try_from(row)?;
    let mut payload = event_payload(&task);
    payload["attempt"] = serde_json::json!({
        "result": a.result, "agent_id": a.agent_id, "number": a.number,
        "effective": a.effective, "at": a.at.to_string(),
    });
    outbox::enqueue(
        &mut tx,
        &NewEvent {
            tenant_id: tenant,
            event_type: "campaign.task_outcome",
            payload: &payload,
            now: a.at,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Recorded::Applied(Box::new(task)))
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: String,
    task_id: String,
    campaign_id: Option<String>,
    agent_id: Option<String>,
    number: String,
    result: String,
    reached: i64,
    talk_seconds: i64,
    purpose_stated: i64,
    effective: i64,
    satisfaction: Option<String>,
    suggestion: Option<String>,
    booked_at: Option<i64>,
    visit: Option<String>,
    note: String,
    at: i64,
}

/// Every attempt of a task, in order: the complete call-back record.
pub async fn attempts(
    store: &Store,
    tenant: &TenantId,
    task: &str,
) -> Result<Vec<Attempt>, StoreError> {
    let rows: Vec<AttemptRow> = sqlx::query_as(
        "SELECT id, task_id, campaign_id, agent_id, number, result, reached, talk_seconds, purpose_stated,
           effective, satisfaction, suggestion, booked_at, visit, note, at
         FROM task_attempts WHERE tenant_id = $1 AND task_id = $2 ORDER BY at, id",
    )
    .bind(tenant.as_str())
    .bind(task)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Attempt {
            id: r.id,
            task_id: r.task_id,
            campaign_id: r.campaign_id.unwrap_or_default(),
            agent_id: r.agent_id.map(UserId::from),
            number: r.number,
            result: r.result,
            reached: r.reached != 0,
            talk_seconds: r.talk_seconds,
            purpose_stated: r.purpose_stated != 0,
            effective: r.effective != 0,
            satisfaction: r.satisfaction,
            suggestion: r.suggestion,
            booked_at: r.booked_at.map(Timestamp::from_millis),
            visit: r.visit,
            note: r.note,
            at: Timestamp::from_millis(r.at),
        })
        .collect())
}

/// A campaign's progress figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub total: i64,
    pub open: i64,
    pub done: i64,
    pub exhausted: i64,
    pub suppressed: i64,
    pub cancelled: i64,
    /// Open, with a deadline in `[day_start, day_end)`.
    pub due_today: i64,
    /// Open, with a deadline before `now`.
    pub overdue: i64,
    pub key_total: i64,
    /// Key customers' tasks done (the "100 % of key customers" guarantee).
    pub key_done: i64,
    /// Key customers' tasks out of attempts: a supervisor takes them over.
    pub key_exhausted: i64,
}

#[derive(sqlx::FromRow)]
struct ProgressRow {
    total: i64,
    open: i64,
    done: i64,
    exhausted: i64,
    suppressed: i64,
    cancelled: i64,
    due_today: i64,
    overdue: i64,
    key_total: i64,
    key_done: i64,
    key_exhausted: i64,
}

pub async fn progress(
    store: &Store,
    tenant: &TenantId,
    campaign: &str,
    day_start: Timestamp,
    day_end: Timestamp,
    now: Timestamp,
) -> Result<Progress, StoreError> {
    let r: ProgressRow = sqlx::query_as(
        "SELECT COUNT(*) AS total,
           CAST(COALESCE(SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END), 0) AS BIGINT) AS open,
           CAST(COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0) AS BIGINT) AS done,
           CAST(COALESCE(SUM(CASE WHEN state = 'exhausted' THEN 1 ELSE 0 END), 0) AS BIGINT) AS exhausted,
           CAST(COALESCE(SUM(CASE WHEN state LIKE 'suppressed%' THEN 1 ELSE 0 END), 0) AS BIGINT) AS suppressed,
           CAST(COALESCE(SUM(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END), 0) AS BIGINT) AS cancelled,
           CAST(COALESCE(SUM(CASE WHEN state = 'open' AND COALESCE(booked_at, due_at) >= $3
             AND COALESCE(booked_at, due_at) < $4 THEN 1 ELSE 0 END), 0) AS BIGINT) AS due_today,
           CAST(COALESCE(SUM(CASE WHEN state = 'open' AND COALESCE(booked_at, due_at) < $5 THEN 1 ELSE 0 END), 0) AS BIGINT) AS overdue,
           CAST(COALESCE(SUM(key_customer), 0) AS BIGINT) AS key_total,
           CAST(COALESCE(SUM(CASE WHEN key_customer = 1 AND state = 'done' THEN 1 ELSE 0 END), 0) AS BIGINT) AS key_done,
           CAST(COALESCE(SUM(CASE WHEN key_customer = 1 AND state = 'exhausted' THEN 1 ELSE 0 END), 0) AS BIGINT) AS key_exhausted
         FROM tasks WHERE tenant_id = $1 AND campaign_id = $2 AND numbers IS NOT NULL",
    )
    .bind(tenant.as_str())
    .bind(campaign)
    .bind(day_start.as_millis())
    .bind(day_end.as_millis())
    .bind(now.as_millis())
    .fetch_one(store.pool())
    .await?;
    Ok(Progress {
        total: r.total,
        open: r.open,
        done: r.done,
        exhausted: r.exhausted,
        suppressed: r.suppressed,
        cancelled: r.cancelled,
        due_today: r.due_today,
        overdue: r.overdue,
        key_total: r.key_total,
        key_done: r.key_done,
        key_exhausted: r.key_exhausted,
    })
}

/// One agent's figures for a period, the inputs of the quota rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFigures {
    pub agent: UserId,
    pub effective_calls: i64,
    /// Days (UTC) with at least one recorded attempt.
    pub days_worked: i64,
    /// Attended visits the agent invited from the call-back list / from other lists.
    pub callback_visits: i64,
    pub other_visits: i64,
    /// Paid orders credited to the agent, in minor units.
    pub revenue_minor: i64,
}

#[derive(sqlx::FromRow)]
struct FigureRow {
    agent: String,
    effective_calls: i64,
    days_worked: i64,
    callback_visits: i64,
    other_visits: i64,
    revenue_minor: i64,
}

/// The quota figures of every agent of the tenant (or of one) in `[from, to)`.
pub async fn agent_figures(
    store: &Store,
    tenant: &TenantId,
    only: Option<&UserId>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<AgentFigures>, StoreError> {
    let rows: Vec<FigureRow> = sqlx::query_as(
        "SELECT u.id AS agent,
           (SELECT COUNT(*) FROM task_attempts a WHERE a.tenant_id = u.tenant_id AND a.agent_id = u.id
              AND a.effective = 1 AND a.at >= $2 AND a.at < $3) AS effective_calls,
           (SELECT COUNT(DISTINCT a.at / 86400000) FROM task_attempts a WHERE a.tenant_id = u.tenant_id
              AND a.agent_id = u.id AND a.at >= $2 AND a.at < $3) AS days_worked,
           (SELECT COUNT(*) FROM visits v WHERE v.tenant_id = u.tenant_id AND v.invited_by = u.id
              AND v.state = 'attended' AND v.source = 'call_back' AND v.scheduled_at >= $2 AND v.scheduled_at < $3) AS callback_visits,
           (SELECT COUNT(*) FROM visits v WHERE v.tenant_id = u.tenant_id AND v.invited_by = u.id
              AND v.state = 'attended' AND v.source = 'other' AND v.scheduled_at >= $2 AND v.scheduled_at < $3) AS other_visits,
           (SELECT CAST(COALESCE(SUM(o.amount_minor), 0) AS BIGINT) FROM orders o WHERE o.tenant_id = u.tenant_id
              AND o.agent_id = u.id AND o.state = 'paid' AND o.paid_at >= $2 AND o.paid_at < $3) AS revenue_minor
         FROM users u WHERE u.tenant_id = $1 AND u.role = 'agent' AND ($4 = '' OR u.id = $4)
         ORDER BY u.id",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .bind(only.map_or("", UserId::as_str))
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AgentFigures {
            agent: r.agent.into(),
            effective_calls: r.effective_calls,
            days_worked: r.days_worked,
            callback_visits: r.callback_visits,
            other_visits: r.other_visits,
            revenue_minor: r.revenue_minor,
        })
        .collect())
}

/// Effective calls of `agent` in `[from, to)` (today's live progress).
pub async fn effective_calls(
    store: &Store,
    tenant: &TenantId,
    agent: &UserId,
    from: Timestamp,
    to: Timestamp,
) -> Result<i64, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM task_attempts WHERE tenant_id = $1 AND agent_id = $2 AND effective = 1
         AND at >= $3 AND at < $4",
    )
    .bind(tenant.as_str())
    .bind(agent.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}
