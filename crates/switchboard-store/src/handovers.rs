//! Shift hand-over (交接班): at each shift change the leaving shift lists the customers it passes
//! on — urgent items, prospects to contact, follow-ups — and the next shift sees the hand-overs
//! it has not read yet when it signs in. Items are ticked off as they are done.

use switchboard_core::{CustomerId, TenantId, Timestamp, UserId};

use crate::calls::str_enum;
use crate::{Store, StoreError};

str_enum!(
    /// What the next shift has to do with a customer.
    ItemKind { Urgent => "urgent", Prospect => "prospect", FollowUp => "follow_up" }
);

/// One line of a hand-over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverItem {
    pub position: i64,
    pub customer_id: CustomerId,
    pub kind: ItemKind,
    pub what: String,
    pub done_at: Option<Timestamp>,
    pub done_by: Option<UserId>,
}

/// A hand-over record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub id: String,
    pub tenant_id: TenantId,
    /// The name of the shift pattern handing over (`day`, `night`, …).
    pub shift: String,
    /// The local date (YYYY-MM-DD) that shift started.
    pub shift_date: String,
    pub author_id: UserId,
    pub note: String,
    pub created_at: Timestamp,
    pub items: Vec<HandoverItem>,
    /// Whether the user who asked has read it (false when nobody asked).
    pub read: bool,
}

/// A hand-over to record.
#[derive(Debug, Clone)]
pub struct NewHandover {
    pub shift: String,
    pub shift_date: String,
    pub author_id: UserId,
    pub note: String,
    /// (customer, kind, what), in the order the next shift should see them.
    pub items: Vec<(CustomerId, ItemKind, String)>,
}

#[derive(sqlx::FromRow)]
struct HandoverRow {
    id: String,
    tenant_id: String,
    shift: String,
    shift_date: String,
    author_id: String,
    note: String,
    created_at: i64,
    read: i64,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    handover_id: String,
    position: i64,
    customer_id: String,
    kind: String,
    what: String,
    done_at: Option<i64>,
    done_by: Option<String>,
}

/// Records a hand-over with its items in one transaction. Every item's customer must exist in
/// the tenant (`NotFound` naming the first that does not).
pub async fn create(
    store: &Store,
    tenant: &TenantId,
    new: &NewHandover,
    now: Timestamp,
) -> Result<Handover, StoreError> {
    let mut tx = store.begin_write().await?;
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO handovers (id, tenant_id, shift, shift_date, author_id, note, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.as_str())
    .bind(tenant.as_str())
    .bind(new.shift.as_str())
    .bind(new.shift_date.as_str())
    .bind(new.author_id.as_str())
    .bind(new.note.as_str())
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await?;
    let mut items = Vec::with_capacity(new.items.len());
    for (position, (customer, kind, what)) in new.items.iter().enumerate() {
        if !crate::customers::exists_tx(&mut tx, tenant, customer).await? {
            return Err(StoreError::NotFound {
                what: format!("customer '{customer}' (item {position})"),
            });
        }
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO handover_items (handover_id, position, customer_id, kind, what)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(position)
        .bind(customer.as_str())
        .bind(kind.as_str())
        .bind(what.as_str())
        .execute(&mut *tx)
        .await?;
        items.push(HandoverItem {
            position,
            customer_id: customer.clone(),
            kind: *kind,
            what: what.clone(),
            done_at: None,
            done_by: None,
        });
    }
    // The author has, of course, read what they wrote.
    sqlx::query("INSERT INTO handover_reads (handover_id, user_id, read_at) VALUES ($1, $2, $3)")
        .bind(id.as_str())
        .bind(new.author_id.as_str())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Handover {
        id,
        tenant_id: tenant.clone(),
        shift: new.shift.clone(),
        shift_date: new.shift_date.clone(),
        author_id: new.author_id.clone(),
        note: new.note.clone(),
        created_at: now,
        items,
        read: true,
    })
}

/// Which hand-overs to list, newest first.
#[derive(Debug, Clone)]
pub struct HandoverFilter<'a> {
    /// Whose read marks to report (and filter on with `unread_only`).
    pub reader: &'a UserId,
    pub unread_only: bool,
    /// Only those created at or after this time.
    pub since: Option<Timestamp>,
    pub limit: u32,
}

const SELECT: &str =
    "SELECT h.id, h.tenant_id, h.shift, h.shift_date, h.author_id, h.note, h.created_at,
        CASE WHEN r.user_id IS NULL THEN 0 ELSE 1 END AS read
     FROM handovers h
     LEFT JOIN handover_reads r ON r.handover_id = h.id AND r.user_id = $2";

pub async fn list(
    store: &Store,
    tenant: &TenantId,
    f: &HandoverFilter<'_>,
) -> Result<Vec<Handover>, StoreError> {
    let rows: Vec<HandoverRow> = sqlx::query_as(&format!(
        "{SELECT}
         WHERE h.tenant_id = $1 AND h.created_at >= $3 AND ($4 = 0 OR r.user_id IS NULL)
         ORDER BY h.created_at DESC, h.id DESC LIMIT $5"
    ))
    .bind(tenant.as_str())
    .bind(f.reader.as_str())
    .bind(f.since.map_or(i64::MIN, Timestamp::as_millis))
    .bind(i64::from(f.unread_only))
    .bind(i64::from(f.limit))
    .fetch_all(store.pool())
    .await?;
    with_items(store, rows).await
}

/// One hand-over, with `reader`'s read mark.
pub async fn get(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    reader: &UserId,
) -> Result<Option<Handover>, StoreError> {
    let rows: Vec<HandoverRow> =
        sqlx::query_as(&format!("{SELECT} WHERE h.tenant_id = $1 AND h.id = $3"))
            .bind(tenant.as_str())
            .bind(reader.as_str())
            .bind(id)
            .fetch_all(store.pool())
            .await?;
    Ok(with_items(store, rows).await?.pop())
}

/// How many hand-overs created since `since` the user has not read (shown at sign-in).
pub async fn unread_count(
    store: &Store,
    tenant: &TenantId,
    reader: &UserId,
    since: Timestamp,
) -> Result<i64, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM handovers h
         LEFT JOIN handover_reads r ON r.handover_id = h.id AND r.user_id = $2
         WHERE h.tenant_id = $1 AND h.created_at >= $3 AND r.user_id IS NULL",
    )
    .bind(tenant.as_str())
    .bind(reader.as_str())
    .bind(since.as_millis())
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}

/// Marks a hand-over read by `reader`; false when there is no such hand-over in the tenant.
pub async fn mark_read(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    reader: &UserId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT id FROM handovers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_none() {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO handover_reads (handover_id, user_id, read_at) VALUES ($1, $2, $3)
         ON CONFLICT (handover_id, user_id) DO NOTHING",
    )
    .bind(id)
    .bind(reader.as_str())
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Ticks an item off; false when the hand-over or item does not exist in the tenant. Ticking a
/// done item again keeps the first tick.
pub async fn mark_item_done(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    position: i64,
    by: &UserId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE handover_items SET done_at = COALESCE(done_at, $1), done_by = COALESCE(done_by, $2)
         WHERE handover_id = $3 AND position = $4
           AND handover_id IN (SELECT id FROM handovers WHERE tenant_id = $5)",
    )
    .bind(now.as_millis())
    .bind(by.as_str())
    .bind(id)
    .bind(position)
    .bind(tenant.as_str())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The hand-overs of `rows` with their items, read in one query for all of them.
async fn with_items(store: &Store, rows: Vec<HandoverRow>) -> Result<Vec<Handover>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=rows.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT handover_id, position, customer_id, kind, what, done_at, done_by
         FROM handover_items WHERE handover_id IN ({}) ORDER BY handover_id, position",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, ItemRow>(&sql);
    for r in &rows {
        query = query.bind(r.id.as_str());
    }
    let mut items_of: std::collections::HashMap<String, Vec<HandoverItem>> =
        std::collections::HashMap::new();
    for i in query.fetch_all(store.pool()).await? {
        items_of
            .entry(i.handover_id)
            .or_default()
            .push(HandoverItem {
                kind: ItemKind::from_column("handover_items.kind", &i.kind)?,
                position: i.position,
                customer_id: i.customer_id.into(),
                what: i.what,
                done_at: i.done_at.map(Timestamp::from_millis),
                done_by: i.done_by.map(UserId::from),
            });
    }
    Ok(rows
        .into_iter()
        .map(|r| Handover {
            items: items_of.remove(&r.id).unwrap_or_default(),
            id: r.id,
            tenant_id: r.tenant_id.into(),
            shift: r.shift,
            shift_date: r.shift_date,
            author_id: r.author_id.into(),
            note: r.note,
            created_at: Timestamp::from_millis(r.created_at),
            read: r.read != 0,
        })
        .collect())
}
