//! Interactions on a customer's file: calls, chats, visits and notes.

use sqlx::{Any, Transaction};
use switchboard_core::{CustomerId, E164, TenantId, Timestamp};

use super::{Customer, CustomerData, CustomerError, find_by_phone, insert_customer_tx};
use crate::{Store, StoreError};

/// What an interaction on the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionKind {
    Call,
    Chat,
    Visit,
    Note,
}

impl InteractionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionKind::Call => "call",
            InteractionKind::Chat => "chat",
            InteractionKind::Visit => "visit",
            InteractionKind::Note => "note",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "call" => Ok(InteractionKind::Call),
            "chat" => Ok(InteractionKind::Chat),
            "visit" => Ok(InteractionKind::Visit),
            "note" => Ok(InteractionKind::Note),
            other => Err(StoreError::Corrupt(format!(
                "customer_interactions.kind: {other}"
            ))),
        }
    }
}

/// A new interaction to record.
#[derive(Debug, Clone)]
pub struct NewInteraction {
    pub kind: InteractionKind,
    pub body: String,
    pub agent_id: Option<String>,
    pub call_id: Option<String>,
}

/// A recorded interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    pub id: String,
    pub customer_id: CustomerId,
    pub kind: InteractionKind,
    pub body: String,
    pub agent_id: Option<String>,
    pub call_id: Option<String>,
    pub at: Timestamp,
}

async fn insert_interaction_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    customer: &CustomerId,
    new: &NewInteraction,
    now: Timestamp,
) -> Result<Interaction, CustomerError> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO customer_interactions (id, tenant_id, customer_id, kind, body, agent_id, call_id, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.as_str())
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(new.kind.as_str())
    .bind(new.body.as_str())
    .bind(new.agent_id.as_deref())
    .bind(new.call_id.as_deref())
    .bind(now.as_millis())
    .execute(&mut **tx)
    .await?;
    Ok(Interaction {
        id,
        customer_id: customer.clone(),
        kind: new.kind,
        body: new.body.clone(),
        agent_id: new.agent_id.clone(),
        call_id: new.call_id.clone(),
        at: now,
    })
}

/// Records an interaction on an existing customer of the tenant.
pub async fn add_interaction(
    store: &Store,
    tenant: &TenantId,
    customer: &CustomerId,
    new: &NewInteraction,
    now: Timestamp,
) -> Result<Interaction, CustomerError> {
    // One statement that checks and writes: a SELECT-then-INSERT transaction on SQLite would
    // start as a reader and could fail with SQLITE_BUSY when upgrading beside another writer.
    let id = uuid::Uuid::now_v7().to_string();
    let done = sqlx::query(
        "INSERT INTO customer_interactions (id, tenant_id, customer_id, kind, body, agent_id, call_id, at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8
         WHERE EXISTS (SELECT 1 FROM customers WHERE tenant_id = $2 AND id = $3)",
    )
    .bind(id.as_str())
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(new.kind.as_str())
    .bind(new.body.as_str())
    .bind(new.agent_id.as_deref())
    .bind(new.call_id.as_deref())
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(CustomerError::NotFound(customer.clone()));
    }
    Ok(Interaction {
        id,
        customer_id: customer.clone(),
        kind: new.kind,
        body: new.body.clone(),
        agent_id: new.agent_id.clone(),
        call_id: new.call_id.clone(),
        at: now,
    })
}

/// Records an interaction for whoever has `phone`; an unknown number becomes a new potential
/// customer first. Returns the customer, whether it was created, and the interaction.
pub async fn add_interaction_by_phone(
    store: &Store,
    tenant: &TenantId,
    phone: &E164,
    default_time_zone: &str,
    new: &NewInteraction,
    now: Timestamp,
) -> Result<(Customer, bool, Interaction), CustomerError> {
    if let Some(existing) = find_by_phone(store, tenant, phone)
        .await?
        .into_iter()
        .next()
    {
        let done = add_interaction(store, tenant, &existing.id, new, now).await?;
        return Ok((existing, false, done));
    }
    let mut tx = store.begin_write().await?;
    let customer = insert_customer_tx(
        &mut tx,
        tenant,
        &CustomerData::potential(phone.clone(), default_time_zone),
        now,
    )
    .await?;
    let done = insert_interaction_tx(&mut tx, tenant, &customer.id, new, now).await?;
    tx.commit().await?;
    Ok((customer, true, done))
}

/// The newest interactions of a customer first.
pub async fn list_interactions(
    store: &Store,
    tenant: &TenantId,
    customer: &CustomerId,
    limit: u32,
) -> Result<Vec<Interaction>, StoreError> {
    let rows: Vec<InteractionRow> = sqlx::query_as(
        "SELECT id, customer_id, kind, body, agent_id, call_id, at FROM customer_interactions
             WHERE tenant_id = $1 AND customer_id = $2 ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(i64::from(limit.clamp(1, 1000)))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Interaction {
                id: r.id,
                customer_id: r.customer_id.into(),
                kind: InteractionKind::parse(&r.kind)?,
                body: r.body,
                agent_id: r.agent_id,
                call_id: r.call_id,
                at: Timestamp::from_millis(r.at),
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct InteractionRow {
    id: String,
    customer_id: String,
    kind: String,
    body: String,
    agent_id: Option<String>,
    call_id: Option<String>,
    at: i64,
}
