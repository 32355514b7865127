//! Campaigns (回访 call-back and visit-invitation campaigns): the supervisor's definition, its
//! state draft → running ⇄ paused → stopped, and the resolution of its target list into tasks.
//!
//! The rules (what a valid campaign is, which transitions exist, when a task is suppressed) are
//! the campaign crate's; this module only stores what the API decided. Every state change is
//! one transaction with its `campaign.*` webhook event, and the first start writes the
//! campaign's tasks in the same transaction, so a campaign is never seen running without them.

use sqlx::{Any, Transaction};
use switchboard_core::{CustomerId, TenantId, Timestamp, UserId};

use crate::calls::str_enum;
use crate::campaign_tasks::{self, NewCampaignTask};
use crate::outbox::{self, NewEvent};
use crate::{Store, StoreError};

str_enum!(
    /// Where a campaign is in its life.
    CampaignState { Draft => "draft", Running => "running", Paused => "paused", Stopped => "stopped" }
);

/// A stored campaign. The JSON columns keep the API's shapes (see the migration).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    pub id: String,
    pub tenant_id: TenantId,
    pub name: String,
    /// The campaign type key (`service_follow_up`, ...).
    pub kind: String,
    pub priority: i64,
    pub dial_mode: String,
    pub max_attempts: i64,
    pub state: CampaignState,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub target: serde_json::Value,
    pub assignees: serde_json::Value,
    pub language: String,
    pub calling: Option<serde_json::Value>,
    /// Set on the campaigns the trigger driver keeps.
    pub trigger_kind: Option<String>,
    pub created_by: Option<UserId>,
    /// When the target list became tasks.
    pub resolved_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, tenant_id, name, kind, priority, dial_mode, max_attempts, state, starts_at, ends_at, target, assignees, language, calling, trigger_kind, created_by, resolved_at, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    name: String,
    kind: String,
    priority: i64,
    dial_mode: String,
    max_attempts: i64,
    state: String,
    starts_at: Option<i64>,
    ends_at: Option<i64>,
    target: String,
    assignees: String,
    language: String,
    calling: Option<String>,
    trigger_kind: Option<String>,
    created_by: Option<String>,
    resolved_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

fn json_col(column: &str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

impl TryFrom<Row> for CampaignRecord {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        let ts = Timestamp::from_millis;
        Ok(CampaignRecord {
            state: CampaignState::from_column("campaigns.state", &r.state)?,
            target: json_col("campaigns.target", &r.target)?,
            assignees: json_col("campaigns.assignees", &r.assignees)?,
            calling: r
                .calling
                .as_deref()
                .map(|c| json_col("campaigns.calling", c))
                .transpose()?,
            id: r.id,
            tenant_id: r.tenant_id.into(),
            name: r.name,
            kind: r.kind,
            priority: r.priority,
            dial_mode: r.dial_mode,
            max_attempts: r.max_attempts,
            starts_at: ts(r.starts_at.unwrap_or(0)),
            ends_at: ts(r.ends_at.unwrap_or(i64::MAX)),
            language: r.language,
            trigger_kind: r.trigger_kind,
            created_by: r.created_by.map(UserId::from),
            resolved_at: r.resolved_at.map(ts),
            version: r.version,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
        })
    }
}

/// The webhook payload of `campaign.*` events.
pub fn event_payload(c: &CampaignRecord) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "name": c.name,
        "type": c.kind,
        "state": c.state.as_str(),
        "version": c.version,
        "updated_at": c.updated_at.to_string(),
    })
}

fn what(id: &str) -> String {
    format!("campaign '{id}'")
}

/// Stores a new campaign (a draft, or running for the trigger driver's campaigns).
pub async fn insert(store: &Store, c: &CampaignRecord) -> Result<(), StoreError> {
    insert_on(store.pool(), c, "").await.map(drop)
}

async fn insert_on<'e, E: sqlx::Executor<'e, Database = Any>>(
    exec: E,
    c: &CampaignRecord,
    on_conflict: &str,
) -> Result<u64, StoreError> {
    let done = sqlx::query(&format!(
        "INSERT INTO campaigns ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) {on_conflict}"
    ))
    .bind(c.id.as_str())
    .bind(c.tenant_id.as_str())
    .bind(c.name.as_str())
    .bind(c.kind.as_str())
    .bind(c.priority)
    .bind(c.dial_mode.as_str())
    .bind(c.max_attempts)
    .bind(c.state.as_str())
    .bind(c.starts_at.as_millis())
    .bind(c.ends_at.as_millis())
    .bind(c.target.to_string())
    .bind(c.assignees.to_string())
    .bind(c.language.as_str())
    .bind(c.calling.as_ref().map(ToString::to_string))
    .bind(c.trigger_kind.as_deref())
    .bind(c.created_by.as_ref().map(UserId::as_str))
    .bind(c.resolved_at.map(Timestamp::as_millis))
    .bind(c.version)
    .bind(c.created_at.as_millis())
    .bind(c.updated_at.as_millis())
    .execute(exec)
    .await
    .map_err(|e| StoreError::from_insert(e, what(&c.id)))?;
    Ok(done.rows_affected())
}

/// The tenant's campaign for a trigger kind (`order_reminder`, `ticket_follow_up`, ...),
/// created from `template` when missing. Safe to race: two nodes creating it at once end with
/// one row (the unique index on the trigger kind) and both read that one.
pub async fn ensure_trigger_campaign(
    store: &Store,
    template: &CampaignRecord,
) -> Result<CampaignRecord, StoreError> {
    let kind = template
        .trigger_kind
        .as_deref()
        .ok_or_else(|| StoreError::Corrupt("trigger campaign without trigger_kind".into()))?;
    insert_on(
        store.pool(),
        template,
        "ON CONFLICT (tenant_id, trigger_kind) DO NOTHING",
    )
    .await?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE tenant_id = $1 AND trigger_kind = $2"
    ))
    .bind(template.tenant_id.as_str())
    .bind(kind)
    .fetch_optional(store.pool())
    .await?;
    row.ok_or_else(|| StoreError::NotFound {
        what: format!("trigger campaign '{kind}'"),
    })?
    .try_into()
}

pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CampaignRecord>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.map(CampaignRecord::try_from).transpose()
}

/// The tenant's campaigns, newest first, optionally in one state.
pub async fn list(
    store: &Store,
    tenant: &TenantId,
    state: Option<CampaignState>,
    limit: u32,
) -> Result<Vec<CampaignRecord>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE tenant_id = $1 AND ($2 = '' OR state = $2)
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(tenant.as_str())
    .bind(state.map_or("", CampaignState::as_str))
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(CampaignRecord::try_from).collect()
}

/// What a change did.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Applied(Box<CampaignRecord>),
    NotFound,
    /// `If-Match` (or the version read before) named another version.
    Stale {
        current: i64,
    },
    /// The campaign is not in a state the change starts from.
    WrongState(CampaignState),
}

async fn get_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CampaignRecord>, StoreError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(CampaignRecord::try_from).transpose()
}

/// Replaces the editable fields of a draft or paused campaign (the API validated them).
pub async fn update(
    store: &Store,
    c: &CampaignRecord,
    expected_version: i64,
    now: Timestamp,
) -> Result<Change, StoreError> {
    let mut tx = store.begin_write().await?;
    let Some(current) = get_tx(&mut tx, &c.tenant_id, &c.id).await? else {
        return Ok(Change::NotFound);
    };
    if current.version != expected_version {
        return Ok(Change::Stale {
            current: current.version,
        });
    }
    if !matches!(current.state, CampaignState::Draft | CampaignState::Paused) {
        return Ok(Change::WrongState(current.state));
    }
    sqlx::query(
        "UPDATE campaigns SET name = $1, priority = $2, dial_mode = $3, max_attempts = $4, starts_at = $5,
         ends_at = $6, target = $7, assignees = $8, language = $9, calling = $10, version = version + 1,
         updated_at = $11 WHERE tenant_id = $12 AND id = $13 AND version = $14",
    )
    .bind(c.name.as_str())
    .bind(c.priority)
    .bind(c.dial_mode.as_str())
    .bind(c.max_attempts)
    .bind(c.starts_at.as_millis())
    .bind(c.ends_at.as_millis())
    .bind(c.target.to_string())
    .bind(c.assignees.to_string())
    .bind(c.language.as_str())
    .bind(c.calling.as_ref().map(ToString::to_string))
    .bind(now.as_millis())
    .bind(c.tenant_id.as_str())
    .bind(c.id.as_str())
    .bind(expected_version)
    .execute(&mut *tx)
    .await?;
    let updated = get_tx(&mut tx, &c.tenant_id, &c.id)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: what(&c.id) })?;
    tx.commit().await?;
    Ok(Change::Applied(Box::new(updated)))
}

/// Deletes a draft (a campaign that ran keeps its record for the reports).
pub async fn delete_draft(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<Change, StoreError> {
    let mut tx = store.begin_write().await?;
    let Some(current) = get_tx(&mut tx, tenant, id).await? else {
        return Ok(Change::NotFound);
    };
    if current.state != CampaignState::Draft {
        return Ok(Change::WrongState(current.state));
    }
    sqlx::query("DELETE FROM campaigns WHERE tenant_id = $1 AND id = $2 AND state = 'draft'")
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Change::Applied(Box::new(current)))
}

/// A state change: `from` the states it may start from, `to` the new one; `tasks` the
/// resolved target list (written on the first start only); stopping cancels the open tasks.
/// The `campaign.<event>` event is written in the same transaction.
#[derive(Debug)]
pub struct Transition<'a> {
    pub tenant: &'a TenantId,
    pub id: &'a str,
    /// The version the caller decided on (the tasks were resolved against it).
    pub expected_version: i64,
    pub from: &'a [CampaignState],
    pub to: CampaignState,
    pub event: &'a str,
    pub tasks: Option<&'a [NewCampaignTask]>,
    pub now: Timestamp,
}

pub async fn transition(store: &Store, t: &Transition<'_>) -> Result<Change, StoreError> {
    let mut tx = store.begin_write().await?;
    let Some(current) = get_tx(&mut tx, t.tenant, t.id).await? else {
        return Ok(Change::NotFound);
    };
    if current.version != t.expected_version {
        return Ok(Change::Stale {
            current: current.version,
        });
    }
    if !t.from.contains(&current.state) {
        return Ok(Change::WrongState(current.state));
    }
    let resolve = t.tasks.is_some() && current.resolved_at.is_none();
    sqlx::query(
        "UPDATE campaigns SET state = $1, version = version + 1, updated_at = $2,
         resolved_at = CASE WHEN $3 = 1 THEN $2 ELSE resolved_at END
         WHERE tenant_id = $4 AND id = $5 AND version = $6",
    )
    .bind(t.to.as_str())
    .bind(t.now.as_millis())
    .bind(i64::from(resolve))
    .bind(t.tenant.as_str())
    .bind(t.id)
    .bind(t.expected_version)
    .execute(&mut *tx)
    .await?;
    if resolve && let Some(tasks) = t.tasks {
        for task in tasks {
            campaign_tasks::insert_tx(&mut tx, task).await?;
        }
    }
    if t.to == CampaignState::Stopped {
        sqlx::query(
            "UPDATE tasks SET state = 'cancelled', done_at = $1, updated_at = $1, version = version + 1
             WHERE tenant_id = $2 AND campaign_id = $3 AND state = 'open'",
        )
        .bind(t.now.as_millis())
        .bind(t.tenant.as_str())
        .bind(t.id)
        .execute(&mut *tx)
        .await?;
    }
    let updated = get_tx(&mut tx, t.tenant, t.id)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: what(t.id) })?;
    outbox::enqueue(
        &mut tx,
        &NewEvent {
            tenant_id: t.tenant,
            event_type: t.event,
            payload: &event_payload(&updated),
            now: t.now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Change::Applied(Box::new(updated)))
}

/// A customer query: every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetQuery {
    /// The customer carries every one of these tags (e.g. the tag of a CSV import).
    pub tags: Vec<String>,
    pub grade: Option<String>,
    pub key_customer: Option<bool>,
    /// `potential` or `customer`.
    pub category: Option<String>,
}

/// What a task needs from a target customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCustomer {
    pub id: CustomerId,
    pub name: String,
    pub time_zone: String,
    pub key_customer: bool,
    pub consent: bool,
    pub do_not_call: bool,
    /// E.164, in the customer file's order.
    pub phones: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    id: String,
    name: String,
    time_zone: String,
    key_customer: i64,
    consent: i64,
    do_not_call: i64,
    tags: String,
}

/// The customers a query selects, at most `limit` (oldest first, so a rerun picks the same).
pub async fn target_customers(
    store: &Store,
    tenant: &TenantId,
    q: &TargetQuery,
    limit: u32,
) -> Result<Vec<TargetCustomer>, StoreError> {
    // Tags are a JSON array in one column: the LIKE narrows on the quoted tag, the exact test
    // runs on the parsed array below (a tag containing another as a substring must not match).
    let first_tag = q.tags.first().map(|t| {
        let quoted = serde_json::Value::String(t.clone()).to_string();
        format!("%{}%", quoted.replace('%', "\\%").replace('_', "\\_"))
    });
    let rows: Vec<TargetRow> = sqlx::query_as(
        "SELECT id, name, time_zone, key_customer, consent, do_not_call, tags FROM customers
         WHERE tenant_id = $1 AND ($2 = '' OR grade = $2) AND ($3 < 0 OR key_customer = $3)
         AND ($4 = '' OR category = $4) AND ($5 = '' OR tags LIKE $5 ESCAPE '\\')
         ORDER BY created_at, id LIMIT $6",
    )
    .bind(tenant.as_str())
    .bind(q.grade.as_deref().unwrap_or(""))
    .bind(q.key_customer.map_or(-1, i64::from))
    .bind(q.category.as_deref().unwrap_or(""))
    .bind(first_tag.unwrap_or_default())
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let tags: Vec<String> = serde_json::from_str(&r.tags)
            .map_err(|e| StoreError::Corrupt(format!("customers.tags: {e}")))?;
        if !q.tags.iter().all(|t| tags.contains(t)) {
            continue;
        }
        let phones: Vec<String> = sqlx::query_scalar(
            "SELECT phone FROM customer_phones WHERE tenant_id = $1 AND customer_id = $2 ORDER BY position, phone",
        )
        .bind(tenant.as_str())
        .bind(r.id.as_str())
        .fetch_all(store.pool())
        .await?;
        out.push(TargetCustomer {
            id: r.id.into(),
            name: r.name,
            time_zone: r.time_zone,
            key_customer: r.key_customer != 0,
            consent: r.consent != 0,
            do_not_call: r.do_not_call != 0,
            phones,
        });
    }
    Ok(out)
}

/// One target customer by id (the trigger driver's tasks name their customer).
pub async fn target_customer(
    store: &Store,
    tenant: &TenantId,
    id: &CustomerId,
) -> Result<Option<TargetCustomer>, StoreError> {
    let row: Option<TargetRow> = sqlx::query_as(
        "SELECT id, name, time_zone, key_customer, consent, do_not_call, tags FROM customers
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await?;
    let Some(r) = row else { return Ok(None) };
    let phones: Vec<String> = sqlx::query_scalar(
        "SELECT phone FROM customer_phones WHERE tenant_id = $1 AND customer_id = $2 ORDER BY position, phone",
    )
    .bind(tenant.as_str())
    .bind(r.id.as_str())
    .fetch_all(store.pool())
    .await?;
    Ok(Some(TargetCustomer {
        id: r.id.into(),
        name: r.name,
        time_zone: r.time_zone,
        key_customer: r.key_customer != 0,
        consent: r.consent != 0,
        do_not_call: r.do_not_call != 0,
        phones,
    }))
}

/// The running campaigns of a tenant (few: the next-task pick filters them by assignee).
pub async fn running(store: &Store, tenant: &TenantId) -> Result<Vec<CampaignRecord>, StoreError> {
    list(store, tenant, Some(CampaignState::Running), 1000).await
}

/// Every tenant id (the trigger driver walks them).
pub async fn tenants(store: &Store) -> Result<Vec<TenantId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM tenants ORDER BY id")
        .fetch_all(store.pool())
        .await?;
    Ok(ids.into_iter().map(TenantId::from).collect())
}

/// An order the trigger driver watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedOrder {
    pub id: String,
    pub customer_id: CustomerId,
    pub state: String,
    pub placed_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct WatchedOrderRow {
    id: String,
    customer_id: String,
    state: String,
    placed_at: i64,
}

/// Orders still placed (neither paid nor cancelled) that were placed in `[from, to)`.
pub async fn unpaid_orders(
    store: &Store,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<WatchedOrder>, StoreError> {
    let rows: Vec<WatchedOrderRow> = sqlx::query_as(
        "SELECT id, customer_id, state, placed_at FROM orders WHERE tenant_id = $1 AND state = 'placed'
         AND placed_at >= $2 AND placed_at < $3 ORDER BY placed_at, id",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| WatchedOrder {
            id: r.id,
            customer_id: r.customer_id.into(),
            state: r.state,
            placed_at: Timestamp::from_millis(r.placed_at),
        })
        .collect())
}

/// The state of one order now (`placed`, `paid`, `cancelled`), checked before a warning.
pub async fn order_state(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT state FROM orders WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(store.pool())
            .await?,
    )
}

/// A resolved ticket of a known customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTicket {
    pub id: String,
    pub customer_id: CustomerId,
    pub owner_agent_id: Option<UserId>,
    pub resolved_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct ResolvedTicketRow {
    id: String,
    customer_id: String,
    owner_agent_id: Option<String>,
    resolved_at: i64,
}

/// Tickets resolved in `[from, to)` that name a customer (a follow-up call needs someone to
/// call).
pub async fn resolved_tickets(
    store: &Store,
    tenant: &TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<ResolvedTicket>, StoreError> {
    let rows: Vec<ResolvedTicketRow> = sqlx::query_as(
        "SELECT id, customer_id, owner_agent_id, resolved_at FROM tickets WHERE tenant_id = $1
         AND customer_id IS NOT NULL AND resolved_at IS NOT NULL AND resolved_at >= $2 AND resolved_at < $3
         ORDER BY resolved_at, id",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ResolvedTicket {
            id: r.id,
            customer_id: r.customer_id.into(),
            owner_agent_id: r.owner_agent_id.map(UserId::from),
            resolved_at: Timestamp::from_millis(r.resolved_at),
        })
        .collect())
}
