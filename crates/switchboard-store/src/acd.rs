//! ACD configuration and agent states: queues, their members, each agent's current state and
//! the append-only state log.
//!
//! The store keeps plain rows: a queue's settings and a member's skills are JSON text, an
//! agent's status and reasons are strings. The server converts to and from switchboard-acd's
//! types (`QueueConfig`, `Member`, `AgentStatus`), so this crate does not depend on the ACD.
//!
//! Deleting a queue is refused with `Conflict` while it has members: removing the members is a
//! decision about agents (who then stop getting the queue's calls) that should be made, and
//! audited, on its own rather than as a side effect. The schema's foreign key backs this up
//! against a member added concurrently.

use switchboard_core::{CallId, QueueId, SiteId, TenantId, Timestamp, UserId};

use crate::{Store, StoreError};

/// The status strings the server writes (switchboard-acd's `AgentStatus`, snake_case).
pub mod agent_status {
    pub const LOGGED_OUT: &str = "logged_out";
    pub const READY: &str = "ready";
    pub const NOT_READY: &str = "not_ready";
    pub const RINGING: &str = "ringing";
    pub const ON_CALL: &str = "on_call";
    pub const WRAP_UP: &str = "wrap_up";
}

/// One queue row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub tenant_id: TenantId,
    pub id: QueueId,
    pub name: String,
    /// Dialled number routed to this queue; unique within the tenant.
    pub number: Option<String>,
    /// switchboard-acd's `QueueConfig` as JSON.
    pub config_json: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What [`upsert_queue`] writes.
#[derive(Debug, Clone)]
pub struct QueueUpsert<'a> {
    pub tenant_id: &'a TenantId,
    pub id: &'a QueueId,
    pub name: &'a str,
    pub number: Option<&'a str>,
    pub config_json: &'a str,
    /// `created_at` for a new queue, `updated_at` always.
    pub now: Timestamp,
}

#[derive(sqlx::FromRow)]
struct QueueRow {
    tenant_id: String,
    id: String,
    name: String,
    number: Option<String>,
    config_json: String,
    created_at: i64,
    updated_at: i64,
}

impl From<QueueRow> for QueueRecord {
    fn from(r: QueueRow) -> Self {
        QueueRecord {
            tenant_id: r.tenant_id.into(),
            id: r.id.into(),
            name: r.name,
            number: r.number,
            config_json: r.config_json,
            created_at: Timestamp::from_millis(r.created_at),
            updated_at: Timestamp::from_millis(r.updated_at),
        }
    }
}

const QUEUE_COLUMNS: &str = "tenant_id, id, name, number, config_json, created_at, updated_at";

fn queue_what(id: &QueueId) -> String {
    format!("queue '{id}'")
}

/// Creates the queue or replaces its name, number and settings (keeping `created_at`).
/// `Conflict` when another queue of the tenant already has the number.
pub async fn upsert_queue(store: &Store, q: &QueueUpsert<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO queues (tenant_id, id, name, number, config_json, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, number = excluded.number,
             config_json = excluded.config_json, updated_at = excluded.updated_at",
    )
    .bind(q.tenant_id.as_str())
    .bind(q.id.as_str())
    .bind(q.name)
    .bind(q.number)
    .bind(q.config_json)
    .bind(q.now.as_millis())
    .execute(store.pool())
    .await
    .map_err(|e| {
        StoreError::from_insert(
            e,
            format!("a queue with number '{}'", q.number.unwrap_or_default()),
        )
    })?;
    Ok(())
}

pub async fn get_queue(
    store: &Store,
    tenant: &TenantId,
    id: &QueueId,
) -> Result<Option<QueueRecord>, StoreError> {
    let row: Option<QueueRow> = sqlx::query_as(&format!(
        "SELECT {QUEUE_COLUMNS} FROM queues WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await?;
    Ok(row.map(QueueRecord::from))
}

/// A tenant's queues by id. A tenant has tens of queues, not thousands: no paging.
pub async fn list_queues(store: &Store, tenant: &TenantId) -> Result<Vec<QueueRecord>, StoreError> {
    let rows: Vec<QueueRow> = sqlx::query_as(&format!(
        "SELECT {QUEUE_COLUMNS} FROM queues WHERE tenant_id = $1 ORDER BY id"
    ))
    .bind(tenant.as_str())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(QueueRecord::from).collect())
}

/// Deletes a queue. `NotFound` if the tenant has no such queue; `Conflict` while it has members
/// (remove them first, see the module documentation).
pub async fn delete_queue(
    store: &Store,
    tenant: &TenantId,
    id: &QueueId,
) -> Result<(), StoreError> {
    let has_members = || StoreError::Conflict {
        what: format!("a member of {}", queue_what(id)),
    };
    let done = sqlx::query(
        "DELETE FROM queues WHERE tenant_id = $1 AND id = $2
           AND NOT EXISTS (SELECT 1 FROM queue_members WHERE tenant_id = $1 AND queue_id = $2)",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .execute(store.pool())
    .await
    .map_err(|e| match &e {
        // A member added between the check and the delete.
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => has_members(),
        _ => StoreError::Database(e),
    })?;
    if done.rows_affected() > 0 {
        return Ok(());
    }
    if get_queue(store, tenant, id).await?.is_some() {
        Err(has_members())
    } else {
        Err(StoreError::NotFound {
            what: queue_what(id),
        })
    }
}

/// One agent's membership in one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub tenant_id: TenantId,
    pub queue_id: QueueId,
    pub agent_user_id: UserId,
    /// JSON object skill → level (switchboard-acd's `Member::skills`).
    pub skills_json: String,
    /// The member's overall level (seniority); the server decides its use.
    pub level: i64,
    /// Priority tier: lower tiers are offered calls first.
    pub priority: i64,
    pub site: SiteId,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    tenant_id: String,
    queue_id: String,
    agent_user_id: String,
    skills_json: String,
    level: i64,
    priority: i64,
    site: String,
}

impl From<MemberRow> for MemberRecord {
    fn from(r: MemberRow) -> Self {
        MemberRecord {
            tenant_id: r.tenant_id.into(),
            queue_id: r.queue_id.into(),
            agent_user_id: r.agent_user_id.into(),
            skills_json: r.skills_json,
            level: r.level,
            priority: r.priority,
            site: r.site.into(),
        }
    }
}

const MEMBER_COLUMNS: &str =
    "tenant_id, queue_id, agent_user_id, skills_json, level, priority, site";

/// Adds the agent to the queue or replaces their skills, level, priority and site.
/// `NotFound` when the tenant has no such queue.
pub async fn upsert_member(store: &Store, m: &MemberRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO queue_members (tenant_id, queue_id, agent_user_id, skills_json, level, priority, site)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, queue_id, agent_user_id) DO UPDATE SET skills_json = excluded.skills_json,
             level = excluded.level, priority = excluded.priority, site = excluded.site",
    )
    .bind(m.tenant_id.as_str())
    .bind(m.queue_id.as_str())
    .bind(m.agent_user_id.as_str())
    .bind(&m.skills_json)
    .bind(m.level)
    .bind(m.priority)
    .bind(m.site.as_str())
    .execute(store.pool())
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound {
            what: queue_what(&m.queue_id),
        },
        _ => StoreError::Database(e),
    })?;
    Ok(())
}

/// Takes the agent out of the queue. `NotFound` if they were not a member.
pub async fn remove_member(
    store: &Store,
    tenant: &TenantId,
    queue: &QueueId,
    agent: &UserId,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "DELETE FROM queue_members WHERE tenant_id = $1 AND queue_id = $2 AND agent_user_id = $3",
    )
    .bind(tenant.as_str())
    .bind(queue.as_str())
    .bind(agent.as_str())
    .execute(store.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("agent '{agent}' in {}", queue_what(queue)),
        });
    }
    Ok(())
}

/// A queue's members, first tier first, then by agent id.
pub async fn list_members(
    store: &Store,
    tenant: &TenantId,
    queue: &QueueId,
) -> Result<Vec<MemberRecord>, StoreError> {
    let rows: Vec<MemberRow> = sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM queue_members WHERE tenant_id = $1 AND queue_id = $2
         ORDER BY priority, agent_user_id"
    ))
    .bind(tenant.as_str())
    .bind(queue.as_str())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(MemberRecord::from).collect())
}

/// The agent's memberships, by queue id.
pub async fn queues_of_agent(
    store: &Store,
    tenant: &TenantId,
    agent: &UserId,
) -> Result<Vec<MemberRecord>, StoreError> {
    let rows: Vec<MemberRow> = sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM queue_members WHERE tenant_id = $1 AND agent_user_id = $2
         ORDER BY queue_id"
    ))
    .bind(tenant.as_str())
    .bind(agent.as_str())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(MemberRecord::from).collect())
}

/// An agent's state from `since` on: the current-state row, and one entry of the log (whose
/// `at` is `since`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStateRow {
    pub tenant_id: TenantId,
    pub agent_user_id: UserId,
    /// One of [`agent_status`]'s strings.
    pub status: String,
    /// The not-ready reason (`break`, `lunch`, a tenant's own); `None` in other states.
    pub reason: Option<String>,
    /// Why the change happened (switchboard-acd's `ChangeReason`: `login`, `ring_timeout`,
    /// `restart_offer_withdrawn`, ...).
    pub cause: Option<String>,
    pub since: Timestamp,
    /// The call the agent rings for, talks on or wraps up.
    pub call_id: Option<CallId>,
}

#[derive(sqlx::FromRow)]
struct StateRow {
    tenant_id: String,
    agent_user_id: String,
    status: String,
    reason: Option<String>,
    cause: Option<String>,
    since: i64,
    call_id: Option<String>,
}

impl From<StateRow> for AgentStateRow {
    fn from(r: StateRow) -> Self {
        AgentStateRow {
            tenant_id: r.tenant_id.into(),
            agent_user_id: r.agent_user_id.into(),
            status: r.status,
            reason: r.reason,
            cause: r.cause,
            since: Timestamp::from_millis(r.since),
            call_id: r.call_id.map(CallId::from),
        }
    }
}

/// Records a state change: appends it to the log and makes it the agent's current state, in
/// one transaction. Returns whether the current state changed: a change older than the stored
/// one (a late write after a newer one, possibly from another node) is logged but does not
/// move the current state back.
pub async fn record_agent_state(store: &Store, s: &AgentStateRow) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO agent_state_log (id, tenant_id, agent_user_id, status, reason, cause, at, call_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(s.tenant_id.as_str())
    .bind(s.agent_user_id.as_str())
    .bind(&s.status)
    .bind(s.reason.as_deref())
    .bind(s.cause.as_deref())
    .bind(s.since.as_millis())
    .bind(s.call_id.as_ref().map(CallId::as_str))
    .execute(&mut *tx)
    .await?;
    let done = sqlx::query(
        "INSERT INTO agent_states (tenant_id, agent_user_id, status, reason, cause, since, call_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, agent_user_id) DO UPDATE SET status = excluded.status,
             reason = excluded.reason, cause = excluded.cause, since = excluded.since,
             call_id = excluded.call_id
         WHERE agent_states.since <= excluded.since",
    )
    .bind(s.tenant_id.as_str())
    .bind(s.agent_user_id.as_str())
    .bind(&s.status)
    .bind(s.reason.as_deref())
    .bind(s.cause.as_deref())
    .bind(s.since.as_millis())
    .bind(s.call_id.as_ref().map(CallId::as_str))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

const STATE_COLUMNS: &str = "tenant_id, agent_user_id, status, reason, cause, since, call_id";

/// The current state of each of a tenant's agents that ever had one, by agent id.
pub async fn current_agent_states(
    store: &Store,
    tenant: &TenantId,
) -> Result<Vec<AgentStateRow>, StoreError> {
    let rows: Vec<StateRow> = sqlx::query_as(&format!(
        "SELECT {STATE_COLUMNS} FROM agent_states WHERE tenant_id = $1 ORDER BY agent_user_id"
    ))
    .bind(tenant.as_str())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(AgentStateRow::from).collect())
}

/// Every tenant's current agent states, by tenant then agent: what a starting server restores.
pub async fn all_current_agent_states(store: &Store) -> Result<Vec<AgentStateRow>, StoreError> {
    let rows: Vec<StateRow> = sqlx::query_as(&format!(
        "SELECT {STATE_COLUMNS} FROM agent_states ORDER BY tenant_id, agent_user_id"
    ))
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(AgentStateRow::from).collect())
}

/// An agent's logged state changes with `since <= at < until`, oldest first, at most `limit`
/// (clamped to 1..=10000). Each entry's `since` is the time of the change.
pub async fn agent_state_history(
    store: &Store,
    tenant: &TenantId,
    agent: &UserId,
    since: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<AgentStateRow>, StoreError> {
    let rows: Vec<StateRow> = sqlx::query_as(
        "SELECT tenant_id, agent_user_id, status, reason, cause, at AS since, call_id
         FROM agent_state_log
         WHERE tenant_id = $1 AND agent_user_id = $2 AND at >= $3 AND at < $4
         ORDER BY at, id LIMIT $5",
    )
    .bind(tenant.as_str())
    .bind(agent.as_str())
    .bind(since.as_millis())
    .bind(until.as_millis())
    .bind(i64::from(limit.clamp(1, 10_000)))
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(AgentStateRow::from).collect())
}
