//! The raw facts behind the per-agent service statistics (customers served, customers
//! converted, conversion rate): who served which customer when, and which paid orders are
//! credited to whom. Bucketing by day, week and month in the call centre's time zone is done by
//! the caller, in Rust, so both engines give the same figures.

use switchboard_core::{CustomerId, TenantId, Timestamp, UserId};

use crate::{Store, StoreError};

/// An agent served a customer at a time: an answered call with one of the customer's numbers,
/// or a note, chat or visit the agent wrote on the customer's file.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Served {
    pub agent_id: String,
    pub customer_id: String,
    pub at: i64,
}

/// Every service fact in `[from, to)` (of one agent, or of all when `agent` is `None`),
/// unordered.
pub async fn served_between(
    store: &Store,
    tenant: &TenantId,
    agent: Option<&UserId>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Served>, StoreError> {
    let agent = agent.map_or("", UserId::as_str);
    let mut facts: Vec<Served> = sqlx::query_as(
        "SELECT agent_id, customer_id, at FROM customer_interactions
         WHERE tenant_id = $1 AND at >= $2 AND at < $3 AND agent_id IS NOT NULL
           AND ($4 = '' OR agent_id = $4)",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .bind(agent)
    .fetch_all(store.pool())
    .await?;
    let calls: Vec<Served> = sqlx::query_as(
        "SELECT c.agent_user_id AS agent_id, p.customer_id AS customer_id, c.answered_at AS at
         FROM calls c
         JOIN customer_phones p ON p.tenant_id = c.tenant_id
              AND p.phone = CASE WHEN c.direction = 'outbound' THEN c.callee ELSE c.caller END
         WHERE c.tenant_id = $1 AND c.answered_at >= $2 AND c.answered_at < $3
           AND c.agent_user_id IS NOT NULL AND ($4 = '' OR c.agent_user_id = $4)",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .bind(agent)
    .fetch_all(store.pool())
    .await?;
    facts.extend(calls);
    Ok(facts)
}

/// A paid order credited to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub agent_id: UserId,
    pub customer_id: CustomerId,
    pub paid_at: Timestamp,
    pub amount_minor: i64,
    pub currency: String,
}

/// Paid orders credited to an agent (`agent`, or any), paid in `[from, to)`.
pub async fn conversions_between(
    store: &Store,
    tenant: &TenantId,
    agent: Option<&UserId>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Conversion>, StoreError> {
    Ok(crate::orders::paid_between(store, tenant, agent, from, to)
        .await?
        .into_iter()
        .filter_map(|o| {
            Some(Conversion {
                agent_id: o.agent_id?,
                customer_id: o.customer_id,
                paid_at: o.paid_at?,
                amount_minor: o.amount_minor,
                currency: o.currency,
            })
        })
        .collect())
}
