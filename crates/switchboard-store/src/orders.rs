//! Orders (purchases) on a customer's file: placed → paid, or cancelled.
//!
//! Every change is one transaction that also enqueues its `order.*` webhook event. Paying the
//! first order of a potential customer makes them a customer (announced as `customer.updated`),
//! which is what the per-agent conversion figures count. An order created with the shop's own
//! `external_ref` a second time returns the first one unchanged, so a shop retrying a sync never
//! books a purchase twice.

use sqlx::{Any, Transaction};
use switchboard_core::{CustomerId, TenantId, Timestamp, UserId};

use crate::calls::str_enum;
use crate::customers::promote_to_customer_tx;
use crate::outbox::{self, NewEvent};
use crate::{Store, StoreError};

str_enum!(
    /// Where an order is in its life.
    OrderState { Placed => "placed", Paid => "paid", Cancelled => "cancelled" }
);

/// A new order.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub customer_id: CustomerId,
    pub external_ref: Option<String>,
    pub description: String,
    /// In the currency's minor unit (fen, cents).
    pub amount_minor: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    pub agent_id: Option<UserId>,
    /// When the customer placed it (defaults to now at the API).
    pub placed_at: Timestamp,
    /// Already paid when it is recorded (a shop syncing a paid order).
    pub paid: bool,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub tenant_id: TenantId,
    pub customer_id: CustomerId,
    pub external_ref: Option<String>,
    pub description: String,
    pub amount_minor: i64,
    pub currency: String,
    pub state: OrderState,
    pub agent_id: Option<UserId>,
    pub placed_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: String,
    tenant_id: String,
    customer_id: String,
    external_ref: Option<String>,
    description: String,
    amount_minor: i64,
    currency: String,
    state: String,
    agent_id: Option<String>,
    placed_at: i64,
    paid_at: Option<i64>,
    cancelled_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, tenant_id, customer_id, external_ref, description, amount_minor, currency, state, agent_id, placed_at, paid_at, cancelled_at, version, created_at, updated_at";

impl TryFrom<OrderRow> for Order {
    type Error = StoreError;
    fn try_from(r: OrderRow) -> Result<Self, StoreError> {
        let ts = Timestamp::from_millis;
        Ok(Order {
            state: OrderState::from_column("orders.state", &r.state)?,
            id: r.id,
            tenant_id: r.tenant_id.into(),
            customer_id: r.customer_id.into(),
            external_ref: r.external_ref,
            description: r.description,
            amount_minor: r.amount_minor,
            currency: r.currency,
            agent_id: r.agent_id.map(UserId::from),
            placed_at: ts(r.placed_at),
            paid_at: r.paid_at.map(ts),
            cancelled_at: r.cancelled_at.map(ts),
            version: r.version,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
        })
    }
}

/// The webhook payload of `order.*` events (the API's order view).
pub fn event_payload(o: &Order) -> serde_json::Value {
    serde_json::json!({
        "id": o.id,
        "customer_id": o.customer_id,
        "external_ref": o.external_ref,
        "description": o.description,
        "amount_minor": o.amount_minor,
        "currency": o.currency,
        "state": o.state.as_str(),
        "agent_id": o.agent_id,
        "placed_at": o.placed_at.to_string(),
        "paid_at": o.paid_at.map(|t| t.to_string()),
        "cancelled_at": o.cancelled_at.map(|t| t.to_string()),
        "version": o.version,
        "created_at": o.created_at.to_string(),
        "updated_at": o.updated_at.to_string(),
    })
}

/// What creating an order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New(Order),
    /// An order with the same `external_ref` existed: it is returned unchanged.
    Existing(Order),
}

async fn announce(
    tx: &mut Transaction<'static, Any>,
    order: &Order,
    event_type: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    outbox::enqueue(
        tx,
        &NewEvent {
            tenant_id: &order.tenant_id,
            event_type,
            payload: &event_payload(order),
            now,
        },
    )
    .await
    .map(drop)
}

async fn get_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Order>, StoreError> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(Order::try_from).transpose()
}

async fn by_external_ref(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    external_ref: &str,
) -> Result<Option<Order>, StoreError> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE tenant_id = $1 AND external_ref = $2"
    ))
    .bind(tenant.as_str())
    .bind(external_ref)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(Order::try_from).transpose()
}

/// Records an order (and, if it is already paid, the customer's promotion). The customer must
/// exist in the tenant (`NotFound` otherwise).
pub async fn create(
    store: &Store,
    tenant: &TenantId,
    new: &NewOrder,
    now: Timestamp,
) -> Result<Created, StoreError> {
    let mut tx = store.begin_write().await?;
    if let Some(existing) = match &new.external_ref {
        Some(r) => by_external_ref(&mut tx, tenant, r).await?,
        None => None,
    } {
        // A retry names the same customer; the same reference on another customer is the
        // shop's mistake (or two shops sharing a numbering), never "the order you meant".
        if existing.customer_id != new.customer_id {
            return Err(StoreError::Conflict {
                what: format!(
                    "order external_ref '{}' is already used on another customer",
                    existing.external_ref.as_deref().unwrap_or_default()
                ),
            });
        }
        return Ok(Created::Existing(existing));
    }
    if !crate::customers::exists_tx(&mut tx, tenant, &new.customer_id).await? {
        return Err(StoreError::NotFound {
            what: format!("customer '{}'", new.customer_id),
        });
    }
    let order = Order {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.clone(),
        customer_id: new.customer_id.clone(),
        external_ref: new.external_ref.clone(),
        description: new.description.clone(),
        amount_minor: new.amount_minor,
        currency: new.currency.clone(),
        state: if new.paid {
            OrderState::Paid
        } else {
            OrderState::Placed
        },
        agent_id: new.agent_id.clone(),
        placed_at: new.placed_at,
        paid_at: new.paid.then_some(now),
        cancelled_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(&format!(
        "INSERT INTO orders ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(order.id.as_str())
    .bind(tenant.as_str())
    .bind(order.customer_id.as_str())
    .bind(order.external_ref.as_deref())
    .bind(order.description.as_str())
    .bind(order.amount_minor)
    .bind(order.currency.as_str())
    .bind(order.state.as_str())
    .bind(order.agent_id.as_ref().map(UserId::as_str))
    .bind(order.placed_at.as_millis())
    .bind(order.paid_at.map(Timestamp::as_millis))
    .bind(None::<i64>)
    .bind(order.version)
    .bind(now.as_millis())
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from_insert(e, "order with this external_ref"))?;
    announce(&mut tx, &order, "order.placed", now).await?;
    if new.paid {
        announce(&mut tx, &order, "order.paid", now).await?;
        promote_to_customer_tx(&mut tx, tenant, &order.customer_id, now).await?;
    }
    tx.commit().await?;
    Ok(Created::New(order))
}

/// What a state change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Applied(Box<Order>),
    /// The order is not in a state this change starts from (e.g. paying a cancelled order).
    WrongState(OrderState),
    /// `If-Match` named another version.
    Stale {
        current: i64,
    },
    NotFound,
}

/// Pays (`to = Paid`) or cancels (`to = Cancelled`) a placed order; a paid order can still be
/// cancelled (a refund). `expected_version` guards against lost updates when given.
pub async fn transition(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    to: OrderState,
    expected_version: Option<i64>,
    now: Timestamp,
) -> Result<Change, StoreError> {
    let mut tx = store.begin_write().await?;
    let Some(mut order) = get_tx(&mut tx, tenant, id).await? else {
        return Ok(Change::NotFound);
    };
    if expected_version.is_some_and(|v| v != order.version) {
        return Ok(Change::Stale {
            current: order.version,
        });
    }
    let allowed = matches!(
        (order.state, to),
        (OrderState::Placed, OrderState::Paid)
            | (OrderState::Placed, OrderState::Cancelled)
            | (OrderState::Paid, OrderState::Cancelled)
    );
    if !allowed {
        return Ok(Change::WrongState(order.state));
    }
    let (paid_at, cancelled_at) = match to {
        OrderState::Paid => (Some(now), None),
        _ => (order.paid_at, Some(now)),
    };
    let done = sqlx::query(
        "UPDATE orders SET state = $1, paid_at = $2, cancelled_at = $3, version = version + 1, updated_at = $4
         WHERE tenant_id = $5 AND id = $6 AND version = $7",
    )
    .bind(to.as_str())
    .bind(paid_at.map(Timestamp::as_millis))
    .bind(cancelled_at.map(Timestamp::as_millis))
    .bind(now.as_millis())
    .bind(tenant.as_str())
    .bind(id)
    .bind(order.version)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        // Another writer changed it between our read and our write.
        let current = get_tx(&mut tx, tenant, id).await?.map_or(0, |o| o.version);
        return Ok(Change::Stale { current });
    }
    order.state = to;
    order.paid_at = paid_at;
    order.cancelled_at = cancelled_at;
    order.version += 1;
    order.updated_at = now;
    let event = match to {
        OrderState::Paid => "order.paid",
        _ => "order.cancelled",
    };
    announce(&mut tx, &order, event, now).await?;
    if to == OrderState::Paid {
        promote_to_customer_tx(&mut tx, tenant, &order.customer_id, now).await?;
    }
    tx.commit().await?;
    Ok(Change::Applied(Box::new(order)))
}

pub async fn get(store: &Store, tenant: &TenantId, id: &str) -> Result<Option<Order>, StoreError> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.map(Order::try_from).transpose()
}

/// Which orders to list, oldest change first (the sync feed) from `after`.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter<'a> {
    pub customer_id: Option<&'a CustomerId>,
    pub state: Option<OrderState>,
    /// Only orders changed at or after this time.
    pub updated_since: Option<Timestamp>,
    /// Continue after this (updated_at, id).
    pub after: Option<(Timestamp, String)>,
    pub limit: u32,
}

/// Orders by last change, oldest first, so `updated_since` + the last row's key pages through
/// every change exactly once.
pub async fn list(
    store: &Store,
    tenant: &TenantId,
    f: &OrderFilter<'_>,
) -> Result<Vec<Order>, StoreError> {
    let (after_at, after_id) = f
        .after
        .as_ref()
        .map_or((i64::MIN, ""), |(t, id)| (t.as_millis(), id.as_str()));
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders
         WHERE tenant_id = $1
           AND ($2 = '' OR customer_id = $2)
           AND ($3 = '' OR state = $3)
           AND updated_at >= $4
           AND (updated_at > $5 OR (updated_at = $5 AND id > $6))
         ORDER BY updated_at, id LIMIT $7"
    ))
    .bind(tenant.as_str())
    .bind(f.customer_id.map_or("", CustomerId::as_str))
    .bind(f.state.map_or("", OrderState::as_str))
    .bind(f.updated_since.map_or(i64::MIN, Timestamp::as_millis))
    .bind(after_at)
    .bind(after_id)
    .bind(i64::from(f.limit))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(Order::try_from).collect()
}

/// Orders paid in `[from, to)`, for the agents' conversion and revenue figures.
pub async fn paid_between(
    store: &Store,
    tenant: &TenantId,
    agent: Option<&UserId>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Order>, StoreError> {
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM orders
         WHERE tenant_id = $1 AND paid_at >= $2 AND paid_at < $3 AND state = 'paid'
           AND ($4 = '' OR agent_id = $4)
         ORDER BY paid_at"
    ))
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .bind(agent.map_or("", UserId::as_str))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(Order::try_from).collect()
}
