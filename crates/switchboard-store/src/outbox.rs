//! The transactional outbox and webhook subscriptions.
//!
//! A change and the event announcing it are written in ONE transaction: the caller opens it,
//! writes its rows, calls [`enqueue`] with the same connection and commits. The webhook worker
//! then reads [`due`] events, delivers them and records [`mark_delivered`] or [`mark_failed`].
//! Nothing is lost when the process dies between the two: an undelivered row stays due.
//!
//! ```ignore
//! let mut tx = store.begin_write().await?;
//! /* ... write the customer with &mut *tx ... */
//! outbox::enqueue(&mut tx, &outbox::NewEvent {
//!     tenant_id: &tenant, event_type: "customer.created", payload: &json, now,
//! }).await?;
//! tx.commit().await?;
//! ```

use sqlx::AnyConnection;
use switchboard_core::{TenantId, Timestamp};

use crate::{Store, StoreError};

/// An event to announce, written inside the caller's transaction.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub tenant_id: &'a TenantId,
    /// `ticket.created`, `customer.updated`, ...
    pub event_type: &'a str,
    /// The JSON body subscribers receive under `data`.
    pub payload: &'a serde_json::Value,
    pub now: Timestamp,
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Also the `Idempotency-Key` receivers see.
    pub id: String,
    pub tenant_id: TenantId,
    pub event_type: String,
    /// JSON text.
    pub payload: String,
    pub created_at: Timestamp,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: String,
    tenant_id: String,
    event_type: String,
    payload: String,
    created_at: i64,
    attempts: i64,
    next_attempt_at: i64,
    delivered_at: Option<i64>,
    last_error: Option<String>,
}

impl From<OutboxRow> for OutboxEvent {
    fn from(r: OutboxRow) -> Self {
        OutboxEvent {
            id: r.id,
            tenant_id: r.tenant_id.into(),
            event_type: r.event_type,
            payload: r.payload,
            created_at: Timestamp::from_millis(r.created_at),
            attempts: r.attempts,
            next_attempt_at: Timestamp::from_millis(r.next_attempt_at),
            delivered_at: r.delivered_at.map(Timestamp::from_millis),
            last_error: r.last_error,
        }
    }
}

const OUTBOX_COLUMNS: &str = "id, tenant_id, event_type, payload, created_at, attempts, next_attempt_at, delivered_at, last_error";

/// Adds an event to the outbox on `conn` — pass `&mut *tx` to make it part of your transaction.
/// Returns the event id (a UUIDv7, so ids sort by creation time).
pub async fn enqueue(conn: &mut AnyConnection, event: &NewEvent<'_>) -> Result<String, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO outbox (id, tenant_id, event_type, payload, created_at, attempts, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, 0, $5)",
    )
    .bind(&id)
    .bind(event.tenant_id.as_str())
    .bind(event.event_type)
    .bind(event.payload.to_string())
    .bind(event.now.as_millis())
    .execute(conn)
    .await?;
    Ok(id)
}

/// Undelivered events whose next attempt is due at `now`, oldest first, across all tenants.
pub async fn due(
    store: &Store,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let rows: Vec<OutboxRow> = sqlx::query_as(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox
         WHERE delivered_at IS NULL AND next_attempt_at <= $1
         ORDER BY next_attempt_at, id LIMIT $2"
    ))
    .bind(now.as_millis())
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(OutboxEvent::from).collect())
}

/// The earliest pending attempt, so the worker knows how long it may sleep.
pub async fn next_due_at(store: &Store) -> Result<Option<Timestamp>, StoreError> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE delivered_at IS NULL")
            .fetch_one(store.pool())
            .await?;
    Ok(at.map(Timestamp::from_millis))
}

pub async fn get(store: &Store, id: &str) -> Result<Option<OutboxEvent>, StoreError> {
    let row: Option<OutboxRow> = sqlx::query_as(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    Ok(row.map(OutboxEvent::from))
}

/// A tenant's events, oldest first (for tests and diagnostics).
pub async fn list(
    store: &Store,
    tenant: &TenantId,
    limit: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let rows: Vec<OutboxRow> = sqlx::query_as(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE tenant_id = $1 ORDER BY id LIMIT $2"
    ))
    .bind(tenant.as_str())
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(OutboxEvent::from).collect())
}

/// Every subscriber has the event (or nobody subscribes to it).
pub async fn mark_delivered(store: &Store, id: &str, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET delivered_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2",
    )
    .bind(now.as_millis())
    .bind(id)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// An attempt failed: count it, keep the reason and try again at `next_attempt_at`.
pub async fn mark_failed(
    store: &Store,
    id: &str,
    error: &str,
    next_attempt_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2
         WHERE id = $3 AND delivered_at IS NULL",
    )
    .bind(error)
    .bind(next_attempt_at.as_millis())
    .bind(id)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Records that one subscription answered 2xx for an event.
pub async fn record_delivery(
    store: &Store,
    event_id: &str,
    subscription_id: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    // Two nodes may deliver the same event at once (at-least-once); the second insert is a no-op.
    sqlx::query(
        "INSERT INTO webhook_deliveries (event_id, subscription_id, delivered_at) VALUES ($1, $2, $3)
         ON CONFLICT (event_id, subscription_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(subscription_id)
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The subscriptions that already have `event_id`.
pub async fn delivered_to(store: &Store, event_id: &str) -> Result<Vec<String>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT subscription_id FROM webhook_deliveries WHERE event_id = $1 ORDER BY subscription_id",
    )
    .bind(event_id)
    .fetch_all(store.pool())
    .await?;
    Ok(ids)
}

/// A webhook subscription: where a tenant's events go and the secret that signs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub tenant_id: TenantId,
    pub url: String,
    pub secret: String,
    /// `"*"`, `"ticket.*"` or exact types like `"ticket.created"`.
    pub event_types: Vec<String>,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Subscription {
    /// Whether this subscription wants events of `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        self.active
            && self.event_types.iter().any(|p| {
                p == "*"
                    || p == event_type
                    || p.strip_suffix('*').is_some_and(|prefix| {
                        prefix.ends_with('.') && event_type.starts_with(prefix)
                    })
            })
    }
}

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: String,
    tenant_id: String,
    url: String,
    secret: String,
    event_types: String,
    active: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = StoreError;
    fn try_from(r: SubscriptionRow) -> Result<Self, StoreError> {
        let event_types = serde_json::from_str(&r.event_types)
            .map_err(|e| StoreError::Corrupt(format!("webhook_subscriptions.event_types: {e}")))?;
        Ok(Subscription {
            id: r.id,
            tenant_id: r.tenant_id.into(),
            url: r.url,
            secret: r.secret,
            event_types,
            active: r.active != 0,
            created_at: Timestamp::from_millis(r.created_at),
            updated_at: Timestamp::from_millis(r.updated_at),
        })
    }
}

const SUB_COLUMNS: &str = "id, tenant_id, url, secret, event_types, active, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct NewSubscription<'a> {
    pub tenant_id: &'a TenantId,
    pub url: &'a str,
    pub secret: &'a str,
    pub event_types: &'a [String],
}

pub async fn insert_subscription(
    store: &Store,
    new: &NewSubscription<'_>,
    now: Timestamp,
) -> Result<Subscription, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    let types = serde_json::to_string(new.event_types)
        .map_err(|e| StoreError::Corrupt(format!("event_types: {e}")))?;
    sqlx::query(
        "INSERT INTO webhook_subscriptions (id, tenant_id, url, secret, event_types, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
    )
    .bind(&id)
    .bind(new.tenant_id.as_str())
    .bind(new.url)
    .bind(new.secret)
    .bind(&types)
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(Subscription {
        id,
        tenant_id: new.tenant_id.clone(),
        url: new.url.to_owned(),
        secret: new.secret.to_owned(),
        event_types: new.event_types.to_vec(),
        active: true,
        created_at: now,
        updated_at: now,
    })
}

pub async fn get_subscription(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Subscription>, StoreError> {
    let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
        "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.map(Subscription::try_from).transpose()
}

/// A tenant's subscriptions, active or not, oldest first.
pub async fn list_subscriptions(
    store: &Store,
    tenant: &TenantId,
) -> Result<Vec<Subscription>, StoreError> {
    let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
        "SELECT {SUB_COLUMNS} FROM webhook_subscriptions WHERE tenant_id = $1 ORDER BY created_at, id"
    ))
    .bind(tenant.as_str())
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(Subscription::try_from).collect()
}

/// Changes url, event types and the active flag; returns `NotFound` for another tenant's id.
pub async fn update_subscription(
    store: &Store,
    sub: &Subscription,
    now: Timestamp,
) -> Result<(), StoreError> {
    let types = serde_json::to_string(&sub.event_types)
        .map_err(|e| StoreError::Corrupt(format!("event_types: {e}")))?;
    let done = sqlx::query(
        "UPDATE webhook_subscriptions SET url = $1, event_types = $2, active = $3, updated_at = $4
         WHERE tenant_id = $5 AND id = $6",
    )
    .bind(&sub.url)
    .bind(&types)
    .bind(i64::from(sub.active))
    .bind(now.as_millis())
    .bind(sub.tenant_id.as_str())
    .bind(&sub.id)
    .execute(store.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("webhook subscription '{}'", sub.id),
        });
    }
    Ok(())
}

pub async fn delete_subscription(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE subscription_id = $1 AND subscription_id IN (SELECT id FROM webhook_subscriptions WHERE tenant_id = $2)")
        .bind(id)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("webhook subscription '{id}'"),
        });
    }
    tx.commit().await?;
    Ok(())
}
