//! Visits to the shop, school or clinic: booked → attended, no-show or cancelled.
//!
//! Agents book visits while inviting customers (visit-invitation campaigns and call-backs); the
//! front desk or the integrated system marks them attended. An attended visit counts towards the
//! inviting agent's monthly visit quota — `source` says which one (the call-back list, or other
//! lists) — and is written on the customer's file as a `visit` interaction. Each change is one
//! transaction with its `visit.*` webhook event.

use sqlx::{Any, Transaction};
use switchboard_core::{CustomerId, TenantId, Timestamp, UserId};

use crate::calls::str_enum;
use crate::outbox::{self, NewEvent};
use crate::{Store, StoreError};

str_enum!(
    /// Where a visit is in its life.
    VisitState { Booked => "booked", Attended => "attended", NoShow => "no_show", Cancelled => "cancelled" }
);

str_enum!(
    /// Which monthly visit quota an attended visit counts for.
    VisitSource { CallBack => "call_back", Other => "other" }
);

/// A visit to book.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub customer_id: CustomerId,
    pub scheduled_at: Timestamp,
    pub source: VisitSource,
    pub invited_by: Option<UserId>,
    pub campaign_id: Option<String>,
    pub note: String,
}

/// A stored visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub id: String,
    pub tenant_id: TenantId,
    pub customer_id: CustomerId,
    pub state: VisitState,
    pub scheduled_at: Timestamp,
    pub source: VisitSource,
    pub invited_by: Option<UserId>,
    pub campaign_id: Option<String>,
    pub note: String,
    pub closed_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct VisitRow {
    id: String,
    tenant_id: String,
    customer_id: String,
    state: String,
    scheduled_at: i64,
    source: String,
    invited_by: Option<String>,
    campaign_id: Option<String>,
    note: String,
    closed_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, tenant_id, customer_id, state, scheduled_at, source, invited_by, campaign_id, note, closed_at, version, created_at, updated_at";

impl TryFrom<VisitRow> for Visit {
    type Error = StoreError;
    fn try_from(r: VisitRow) -> Result<Self, StoreError> {
        let ts = Timestamp::from_millis;
        Ok(Visit {
            state: VisitState::from_column("visits.state", &r.state)?,
            source: VisitSource::from_column("visits.source", &r.source)?,
            id: r.id,
            tenant_id: r.tenant_id.into(),
            customer_id: r.customer_id.into(),
            scheduled_at: ts(r.scheduled_at),
            invited_by: r.invited_by.map(UserId::from),
            campaign_id: r.campaign_id,
            note: r.note,
            closed_at: r.closed_at.map(ts),
            version: r.version,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
        })
    }
}

/// The webhook payload of `visit.*` events (the API's visit view).
pub fn event_payload(v: &Visit) -> serde_json::Value {
    serde_json::json!({
        "id": v.id,
        "customer_id": v.customer_id,
        "state": v.state.as_str(),
        "scheduled_at": v.scheduled_at.to_string(),
        "source": v.source.as_str(),
        "invited_by": v.invited_by,
        "campaign_id": v.campaign_id,
        "note": v.note,
        "closed_at": v.closed_at.map(|t| t.to_string()),
        "version": v.version,
        "created_at": v.created_at.to_string(),
        "updated_at": v.updated_at.to_string(),
    })
}

async fn announce(
    tx: &mut Transaction<'static, Any>,
    visit: &Visit,
    now: Timestamp,
) -> Result<(), StoreError> {
    let event_type = format!("visit.{}", visit.state.as_str());
    outbox::enqueue(
        tx,
        &NewEvent {
            tenant_id: &visit.tenant_id,
            event_type: &event_type,
            payload: &event_payload(visit),
            now,
        },
    )
    .await
    .map(drop)
}

/// Books a visit; the customer must exist in the tenant (`NotFound` otherwise).
pub async fn book(
    store: &Store,
    tenant: &TenantId,
    new: &NewVisit,
    now: Timestamp,
) -> Result<Visit, StoreError> {
    let mut tx = store.begin_write().await?;
    if !crate::customers::exists_tx(&mut tx, tenant, &new.customer_id).await? {
        return Err(StoreError::NotFound {
            what: format!("customer '{}'", new.customer_id),
        });
    }
    let visit = Visit {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.clone(),
        customer_id: new.customer_id.clone(),
        state: VisitState::Booked,
        scheduled_at: new.scheduled_at,
        source: new.source,
        invited_by: new.invited_by.clone(),
        campaign_id: new.campaign_id.clone(),
        note: new.note.clone(),
        closed_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(&format!(
        "INSERT INTO visits ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(visit.id.as_str())
    .bind(tenant.as_str())
    .bind(visit.customer_id.as_str())
    .bind(visit.state.as_str())
    .bind(visit.scheduled_at.as_millis())
    .bind(visit.source.as_str())
    .bind(visit.invited_by.as_ref().map(UserId::as_str))
    .bind(visit.campaign_id.as_deref())
    .bind(visit.note.as_str())
    .bind(None::<i64>)
    .bind(visit.version)
    .bind(now.as_millis())
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await?;
    announce(&mut tx, &visit, now).await?;
    tx.commit().await?;
    Ok(visit)
}

/// What closing a visit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Applied(Visit),
    /// Only booked visits are closed.
    WrongState(VisitState),
    NotFound,
}

/// Marks a booked visit attended, no-show or cancelled. An attended visit is also written on
/// the customer's file as a `visit` interaction by `by`.
pub async fn close(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    to: VisitState,
    by: &UserId,
    now: Timestamp,
) -> Result<Change, StoreError> {
    let mut tx = store.begin_write().await?;
    let row: Option<VisitRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM visits WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(mut visit) = row.map(Visit::try_from).transpose()? else {
        return Ok(Change::NotFound);
    };
    if visit.state != VisitState::Booked || to == VisitState::Booked {
        return Ok(Change::WrongState(visit.state));
    }
    let done = sqlx::query(
        "UPDATE visits SET state = $1, closed_at = $2, version = version + 1, updated_at = $2
         WHERE tenant_id = $3 AND id = $4 AND state = 'booked'",
    )
    .bind(to.as_str())
    .bind(now.as_millis())
    .bind(tenant.as_str())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(Change::WrongState(visit.state));
    }
    visit.state = to;
    visit.closed_at = Some(now);
    visit.version += 1;
    visit.updated_at = now;
    if to == VisitState::Attended {
        sqlx::query(
            "INSERT INTO customer_interactions (id, tenant_id, customer_id, kind, body, agent_id, call_id, at)
             VALUES ($1, $2, $3, 'visit', $4, $5, NULL, $6)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(tenant.as_str())
        .bind(visit.customer_id.as_str())
        .bind(visit.note.as_str())
        .bind(by.as_str())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
    }
    announce(&mut tx, &visit, now).await?;
    tx.commit().await?;
    Ok(Change::Applied(visit))
}

pub async fn get(store: &Store, tenant: &TenantId, id: &str) -> Result<Option<Visit>, StoreError> {
    let row: Option<VisitRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM visits WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.map(Visit::try_from).transpose()
}

/// Which visits to list, by scheduled time.
#[derive(Debug, Clone, Default)]
pub struct VisitFilter<'a> {
    pub customer_id: Option<&'a CustomerId>,
    pub state: Option<VisitState>,
    pub invited_by: Option<&'a UserId>,
    /// Scheduled in `[from, to)`.
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub limit: u32,
}

pub async fn list(
    store: &Store,
    tenant: &TenantId,
    f: &VisitFilter<'_>,
) -> Result<Vec<Visit>, StoreError> {
    let rows: Vec<VisitRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM visits
         WHERE tenant_id = $1
           AND ($2 = '' OR customer_id = $2)
           AND ($3 = '' OR state = $3)
           AND ($4 = '' OR invited_by = $4)
           AND scheduled_at >= $5 AND scheduled_at < $6
         ORDER BY scheduled_at, id LIMIT $7"
    ))
    .bind(tenant.as_str())
    .bind(f.customer_id.map_or("", CustomerId::as_str))
    .bind(f.state.map_or("", VisitState::as_str))
    .bind(f.invited_by.map_or("", UserId::as_str))
    .bind(f.from.map_or(i64::MIN, Timestamp::as_millis))
    .bind(f.to.map_or(i64::MAX, Timestamp::as_millis))
    .bind(i64::from(f.limit))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(Visit::try_from).collect()
}
