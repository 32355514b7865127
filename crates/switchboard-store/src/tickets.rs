//! Complaint tickets (工单), their step-by-step history, and the follow-up call task a resolved
//! ticket creates.
//!
//! The store keeps states and emotions as the strings the schema checks; the ticket clock in
//! `switchboard-crm` owns their meaning. Writes take a connection so that the ticket row, its
//! history and its outbox events go into one transaction; a write carries the version it read
//! and fails with `Conflict` if someone (the sweep on another node, another request) got there
//! first.

use sqlx::AnyConnection;
use switchboard_core::{CustomerId, TaskId, TenantId, TicketId, Timestamp, UserId};

use crate::{Store, StoreError};

/// One ticket row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRecord {
    pub id: TicketId,
    pub tenant_id: TenantId,
    pub customer_id: Option<CustomerId>,
    /// The agent who took it first; owns it to the end.
    pub owner_agent_id: Option<UserId>,
    pub subject: String,
    pub body: String,
    /// `angry`, `anxious`, `sad`, `loud` or `calm`.
    pub emotion: String,
    /// `open`, `in_progress`, `resolved`, `followed_up` or `closed`.
    pub state: String,
    /// Whether the complaint stands, once judged.
    pub stands: Option<bool>,
    pub responsible_team: Option<String>,
    pub reply_due_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
    pub overdue: bool,
    /// Rungs of the ladder reached so far (0 = not escalated).
    pub escalation_level: i64,
    pub escalated_to: Option<String>,
    pub escalated_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// The ticket clock's next deadline; the sweep picks tickets whose time has come.
    pub next_check_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct TicketRow {
    id: String,
    tenant_id: String,
    customer_id: Option<String>,
    owner_agent_id: Option<String>,
    subject: String,
    body: String,
    emotion: String,
    state: String,
    stands: Option<i64>,
    responsible_team: Option<String>,
    reply_due_at: i64,
    first_response_at: Option<i64>,
    overdue: i64,
    escalation_level: i64,
    escalated_to: Option<String>,
    escalated_at: Option<i64>,
    resolved_at: Option<i64>,
    next_check_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<TicketRow> for TicketRecord {
    fn from(r: TicketRow) -> Self {
        let ts = Timestamp::from_millis;
        TicketRecord {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            customer_id: r.customer_id.map(CustomerId::from),
            owner_agent_id: r.owner_agent_id.map(UserId::from),
            subject: r.subject,
            body: r.body,
            emotion: r.emotion,
            state: r.state,
            stands: r.stands.map(|s| s != 0),
            responsible_team: r.responsible_team,
            reply_due_at: ts(r.reply_due_at),
            first_response_at: r.first_response_at.map(ts),
            overdue: r.overdue != 0,
            escalation_level: r.escalation_level,
            escalated_to: r.escalated_to,
            escalated_at: r.escalated_at.map(ts),
            resolved_at: r.resolved_at.map(ts),
            next_check_at: r.next_check_at.map(ts),
            version: r.version,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
        }
    }
}

const COLUMNS: &str = "id, tenant_id, customer_id, owner_agent_id, subject, body, emotion, state, stands, responsible_team, reply_due_at, first_response_at, overdue, escalation_level, escalated_to, escalated_at, resolved_at, next_check_at, version, created_at, updated_at";

fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_millis)
}

/// Inserts a new ticket (its `version` is stored as given, normally 1).
pub async fn insert(conn: &mut AnyConnection, t: &TicketRecord) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO tickets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    ))
    .bind(t.id.as_str())
    .bind(t.tenant_id.as_str())
    .bind(t.customer_id.as_ref().map(CustomerId::as_str))
    .bind(t.owner_agent_id.as_ref().map(UserId::as_str))
    .bind(&t.subject)
    .bind(&t.body)
    .bind(&t.emotion)
    .bind(&t.state)
    .bind(t.stands.map(i64::from))
    .bind(t.responsible_team.as_deref())
    .bind(t.reply_due_at.as_millis())
    .bind(ms(t.first_response_at))
    .bind(i64::from(t.overdue))
    .bind(t.escalation_level)
    .bind(t.escalated_to.as_deref())
    .bind(ms(t.escalated_at))
    .bind(ms(t.resolved_at))
    .bind(ms(t.next_check_at))
    .bind(t.version)
    .bind(t.created_at.as_millis())
    .bind(t.updated_at.as_millis())
    .execute(conn)
    .await
    .map_err(|e| StoreError::from_insert(e, format!("ticket '{}'", t.id)))?;
    Ok(())
}

/// Writes every mutable column of `t` if the stored version is still `t.version`, and bumps
/// the version. `Conflict` when the row changed since it was read; `NotFound` when it is gone.
pub async fn update(conn: &mut AnyConnection, t: &TicketRecord) -> Result<i64, StoreError> {
    let done = sqlx::query(
        "UPDATE tickets SET customer_id = $1, owner_agent_id = $2, subject = $3, body = $4, emotion = $5,
             state = $6, stands = $7, responsible_team = $8, reply_due_at = $9, first_response_at = $10,
             overdue = $11, escalation_level = $12, escalated_to = $13, escalated_at = $14,
             resolved_at = $15, next_check_at = $16, updated_at = $17, version = version + 1
         WHERE tenant_id = $18 AND id = $19 AND version = $20",
    )
    .bind(t.customer_id.as_ref().map(CustomerId::as_str))
    .bind(t.owner_agent_id.as_ref().map(UserId::as_str))
    .bind(&t.subject)
    .bind(&t.body)
    .bind(&t.emotion)
    .bind(&t.state)
    .bind(t.stands.map(i64::from))
    .bind(t.responsible_team.as_deref())
    .bind(t.reply_due_at.as_millis())
    .bind(ms(t.first_response_at))
    .bind(i64::from(t.overdue))
    .bind(t.escalation_level)
    .bind(t.escalated_to.as_deref())
    .bind(ms(t.escalated_at))
    .bind(ms(t.resolved_at))
    .bind(ms(t.next_check_at))
    .bind(t.updated_at.as_millis())
    .bind(t.tenant_id.as_str())
    .bind(t.id.as_str())
    .bind(t.version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(t.version + 1);
    }
    let exists: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE tenant_id = $1 AND id = $2")
            .bind(t.tenant_id.as_str())
            .bind(t.id.as_str())
            .fetch_one(conn)
            .await?;
    Err(if exists == 0 {
        StoreError::NotFound {
            what: format!("ticket '{}'", t.id),
        }
    } else {
        StoreError::Conflict {
            what: format!("a newer version of ticket '{}'", t.id),
        }
    })
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &TicketId,
) -> Result<Option<TicketRecord>, StoreError> {
    let row: Option<TicketRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tickets WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await?;
    Ok(row.map(TicketRecord::from))
}

/// Filters for [`list`]; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter<'a> {
    pub state: Option<&'a str>,
    pub overdue: Option<bool>,
    pub owner: Option<&'a UserId>,
    pub min_escalation_level: Option<i64>,
    pub limit: i64,
}

/// A tenant's tickets, newest first.
pub async fn list(
    store: &Store,
    tenant: &TenantId,
    filter: &TicketFilter<'_>,
) -> Result<Vec<TicketRecord>, StoreError> {
    // Absent filters are bound as NULL so the query text stays the same for both engines.
    let rows: Vec<TicketRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tickets WHERE tenant_id = $1
           AND ($2 IS NULL OR state = $2)
           AND ($3 IS NULL OR overdue = $3)
           AND ($4 IS NULL OR owner_agent_id = $4)
           AND escalation_level >= $5
         ORDER BY created_at DESC, id DESC LIMIT $6"
    ))
    .bind(tenant.as_str())
    .bind(filter.state)
    .bind(filter.overdue.map(i64::from))
    .bind(filter.owner.map(UserId::as_str))
    .bind(filter.min_escalation_level.unwrap_or(0))
    .bind(filter.limit)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(TicketRecord::from).collect())
}

/// Tickets of every tenant whose clock has a deadline at or before `now`, earliest first.
pub async fn due_for_check(
    store: &Store,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<TicketRecord>, StoreError> {
    let rows: Vec<TicketRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tickets WHERE next_check_at IS NOT NULL AND next_check_at <= $1
         ORDER BY next_check_at, id LIMIT $2"
    ))
    .bind(now.as_millis())
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(TicketRecord::from).collect())
}

/// Deletes a ticket and its history.
pub async fn delete(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    id: &TicketId,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM ticket_events WHERE tenant_id = $1 AND ticket_id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM tickets WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("ticket '{id}'"),
        });
    }
    Ok(())
}

/// One recorded step of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketEvent {
    pub id: String,
    pub ticket_id: TicketId,
    /// 1, 2, 3 ... in the order the steps happened.
    pub seq: i64,
    /// `created`, `taken`, `overdue`, `escalated`, `resolved`, ...
    pub kind: String,
    /// The user who acted; `None` for the ticket clock.
    pub actor: Option<UserId>,
    /// JSON object.
    pub detail: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewTicketEvent<'a> {
    pub tenant_id: &'a TenantId,
    pub ticket_id: &'a TicketId,
    pub kind: &'a str,
    pub actor: Option<&'a UserId>,
    pub detail: &'a serde_json::Value,
    pub at: Timestamp,
}

/// Appends a step to a ticket's history (inside the caller's transaction).
pub async fn append_event(
    conn: &mut AnyConnection,
    e: &NewTicketEvent<'_>,
) -> Result<i64, StoreError> {
    let seq: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM ticket_events WHERE ticket_id = $1",
    )
    .bind(e.ticket_id.as_str())
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO ticket_events (id, tenant_id, ticket_id, seq, kind, actor, detail, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(e.tenant_id.as_str())
    .bind(e.ticket_id.as_str())
    .bind(seq)
    .bind(e.kind)
    .bind(e.actor.map(UserId::as_str))
    .bind(e.detail.to_string())
    .bind(e.at.as_millis())
    .execute(conn)
    .await
    .map_err(|err| {
        StoreError::from_insert(err, format!("step {seq} of ticket '{}'", e.ticket_id))
    })?;
    Ok(seq)
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    ticket_id: String,
    seq: i64,
    kind: String,
    actor: Option<String>,
    detail: String,
    at: i64,
}

/// A ticket's history, in order.
pub async fn events(
    store: &Store,
    tenant: &TenantId,
    ticket: &TicketId,
) -> Result<Vec<TicketEvent>, StoreError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, ticket_id, seq, kind, actor, detail, at FROM ticket_events
         WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY seq",
    )
    .bind(tenant.as_str())
    .bind(ticket.as_str())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| TicketEvent {
            id: r.id,
            ticket_id: r.ticket_id.into(),
            seq: r.seq,
            kind: r.kind,
            actor: r.actor.map(UserId::from),
            detail: r.detail,
            at: Timestamp::from_millis(r.at),
        })
        .collect())
}

/// The kind of task a resolved ticket creates.
pub const FOLLOW_UP_TASK_KIND: &str = "ticket_follow_up";

/// The follow-up call a resolved ticket asks for.
#[derive(Debug, Clone)]
pub struct NewFollowUpTask<'a> {
    pub tenant_id: &'a TenantId,
    pub ticket_id: &'a TicketId,
    pub customer_id: Option<&'a CustomerId>,
    pub owner_agent_id: Option<&'a UserId>,
    pub due_at: Timestamp,
    pub now: Timestamp,
}

/// Inserts the follow-up call task (inside the caller's transaction); returns its id.
pub async fn insert_follow_up_task(
    conn: &mut AnyConnection,
    t: &NewFollowUpTask<'_>,
) -> Result<TaskId, StoreError> {
    let id = TaskId::generate();
    sqlx::query(
        "INSERT INTO tasks (id, tenant_id, kind, customer_id, owner_agent_id, state, priority, trigger_at, due_at, attempts, note, created_at, updated_at, trigger_key)
         VALUES ($1, $2, $3, $4, $5, 'open', 0, $6, $7, 0, $8, $6, $6, $9)
         ON CONFLICT (tenant_id, trigger_key) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(t.tenant_id.as_str())
    .bind(FOLLOW_UP_TASK_KIND)
    .bind(t.customer_id.map(CustomerId::as_str))
    .bind(t.owner_agent_id.map(UserId::as_str))
    .bind(t.now.as_millis())
    .bind(t.due_at.as_millis())
    .bind(format!("follow-up call for ticket {}", t.ticket_id))
    // The campaign driver's follow-up task for this ticket has the same key: whichever comes
    // first, the ticket ends with one follow-up task (see campaign_tasks::insert_tx).
    .bind(follow_up_trigger_key(t.ticket_id))
    .execute(conn)
    .await?;
    Ok(id)
}

/// The trigger key of a ticket's follow-up task.
pub fn follow_up_trigger_key(ticket: &TicketId) -> String {
    format!("ticket:{ticket}:follow_up")
}

/// Whether `customer` is in `tenant`'s customer file (checked before linking a ticket to it).
pub async fn customer_exists(
    store: &Store,
    tenant: &TenantId,
    customer: &CustomerId,
) -> Result<bool, StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(customer.as_str())
            .fetch_one(store.pool())
            .await?;
    Ok(n > 0)
}
