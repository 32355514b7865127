//! The customer file: customers with their phone numbers, their interactions (calls, chats,
//! visits, notes), and the idempotency keys of inbound upserts.
//!
//! Every write is one transaction, so a customer is never stored without its phones, nor an
//! idempotency key without the customer it created.
//!
//! `updated_at` doubles as the change-feed position for `updated_since` pagination. To make the
//! feed gap-free, writes to one tenant's customers are serialised (a row lock on the tenant on
//! PostgreSQL; SQLite has one writer anyway) and each write stamps `updated_at` strictly after
//! every stamp already stored: a reader that has seen stamp S will never later find a committed
//! row with a stamp at or below S.

use sqlx::{Any, Transaction};
use switchboard_core::{CustomerId, E164, TenantId, Timestamp};

mod feed;
pub mod import;
mod interactions;

pub use feed::{Cursor, ListQuery, Page, list_customers};
pub use interactions::{
    Interaction, InteractionKind, NewInteraction, add_interaction, add_interaction_by_phone,
    list_interactions,
};

use crate::outbox::{self, NewEvent};
use crate::{Store, StoreError};

/// What failed in a customer-file operation.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("customer {0} not found")]
    NotFound(CustomerId),
    /// Optimistic concurrency: the caller edited an older version.
    #[error("customer {id} is at version {current}, not {expected}")]
    Stale {
        id: CustomerId,
        expected: i64,
        current: i64,
    },
    #[error("customer {0} is still referenced by calls, tasks or tickets")]
    Referenced(CustomerId),
    #[error("the pagination cursor is not valid")]
    BadCursor,
    #[error("idempotency key '{0}' was already used with a different request")]
    IdempotencyMismatch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CustomerError {
    fn from(e: sqlx::Error) -> Self {
        CustomerError::Store(StoreError::Database(e))
    }
}

/// Potential customers (prospects) become customers once they buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Potential,
    Customer,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Potential => "potential",
            Category::Customer => "customer",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "potential" => Ok(Category::Potential),
            "customer" => Ok(Category::Customer),
            other => Err(StoreError::Corrupt(format!("customers.category: {other}"))),
        }
    }
}

/// One phone number of a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerPhone {
    pub phone: E164,
    /// Free text: "mobile", "office", …
    pub label: String,
}

/// The editable part of a customer: what create and update write.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerData {
    /// The CRM/ERP's own id, unique in the tenant when present.
    pub external_id: Option<String>,
    /// The name agents see.
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    /// The first phone is the one to call.
    pub phones: Vec<CustomerPhone>,
    /// IANA zone name, validated by the caller.
    pub time_zone: String,
    pub category: Category,
    pub grade: Option<String>,
    pub key_customer: bool,
    pub tags: Vec<String>,
    pub estimated_value_cents: i64,
    pub consent: bool,
    pub do_not_call: bool,
    /// A JSON object of the tenant's own fields.
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
}

impl CustomerData {
    /// A potential customer known only by a phone number (an unknown caller's note).
    pub fn potential(phone: E164, time_zone: &str) -> Self {
        CustomerData {
            external_id: None,
            name: phone.to_string(),
            given_name: String::new(),
            family_name: String::new(),
            phones: vec![CustomerPhone {
                phone,
                label: String::new(),
            }],
            time_zone: time_zone.to_owned(),
            category: Category::Potential,
            grade: None,
            key_customer: false,
            tags: Vec::new(),
            estimated_value_cents: 0,
            consent: true,
            do_not_call: false,
            custom_fields: serde_json::Map::new(),
        }
    }
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: CustomerId,
    pub tenant_id: TenantId,
    pub data: CustomerData,
    /// Starts at 1, +1 on every update; the API's ETag.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, tenant_id, external_id, name, given_name, family_name, time_zone, category, grade, key_customer, consent, do_not_call, estimated_value_cents, tags, custom_fields, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct CustomerRow {
    id: String,
    tenant_id: String,
    external_id: Option<String>,
    name: String,
    given_name: String,
    family_name: String,
    time_zone: String,
    category: String,
    grade: Option<String>,
    key_customer: i64,
    consent: i64,
    do_not_call: i64,
    estimated_value_cents: i64,
    tags: String,
    custom_fields: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl CustomerRow {
    fn into_customer(self, phones: Vec<CustomerPhone>) -> Result<Customer, StoreError> {
        let tags = serde_json::from_str(&self.tags)
            .map_err(|e| StoreError::Corrupt(format!("customers.tags: {e}")))?;
        let custom_fields = serde_json::from_str(&self.custom_fields)
            .map_err(|e| StoreError::Corrupt(format!("customers.custom_fields: {e}")))?;
        Ok(Customer {
            id: self.id.into(),
            tenant_id: self.tenant_id.into(),
            data: CustomerData {
                external_id: self.external_id,
                name: self.name,
                given_name: self.given_name,
                family_name: self.family_name,
                phones,
                time_zone: self.time_zone,
                category: Category::parse(&self.category)?,
                grade: self.grade,
                key_customer: self.key_customer != 0,
                tags,
                estimated_value_cents: self.estimated_value_cents,
                consent: self.consent != 0,
                do_not_call: self.do_not_call != 0,
                custom_fields,
            },
            version: self.version,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct PhoneRow {
    customer_id: String,
    phone: String,
    label: String,
}

/// Serialises customer writes of one tenant and returns the stamp this write must use: `now`,
/// or just after the newest stamp stored if the clock is behind it.
async fn lock_and_stamp(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    now: Timestamp,
) -> Result<Timestamp, CustomerError> {
    // A no-op update takes the tenant row's write lock on PostgreSQL until commit; on SQLite the
    // transaction already holds the database's one write lock after it.
    sqlx::query("UPDATE tenants SET name = name WHERE id = $1")
        .bind(tenant.as_str())
        .execute(&mut **tx)
        .await?;
    let newest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(updated_at) FROM customers WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_one(&mut **tx)
            .await?;
    Ok(Timestamp::from_millis(
        newest.map_or(now.as_millis(), |n| {
            n.saturating_add(1).max(now.as_millis())
        }),
    ))
}

async fn insert_phones(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    id: &CustomerId,
    phones: &[CustomerPhone],
) -> Result<(), CustomerError> {
    for (position, p) in phones.iter().enumerate() {
        sqlx::query(
            "INSERT INTO customer_phones (tenant_id, customer_id, phone, label, position) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(p.phone.as_str())
        .bind(p.label.as_str())
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::from_insert(e, format!("phone {} on this customer", p.phone)))?;
    }
    Ok(())
}

/// The webhook payload of `customer.*` events: the whole customer, as the API shows it.
pub fn event_payload(c: &Customer) -> serde_json::Value {
    serde_json::json!({
        "id": c.id,
        "external_id": c.data.external_id,
        "name": c.data.name,
        "given_name": c.data.given_name,
        "family_name": c.data.family_name,
        "phones": c.data.phones.iter().map(|p| serde_json::json!({"phone": p.phone, "label": p.label})).collect::<Vec<_>>(),
        "time_zone": c.data.time_zone,
        "category": c.data.category.as_str(),
        "grade": c.data.grade,
        "key_customer": c.data.key_customer,
        "tags": c.data.tags,
        "estimated_value_cents": c.data.estimated_value_cents,
        "consent": c.data.consent,
        "do_not_call": c.data.do_not_call,
        "custom_fields": c.data.custom_fields,
        "version": c.version,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

/// Announces a change through the outbox, inside the transaction that made it.
async fn announce(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    event_type: &str,
    payload: &serde_json::Value,
    now: Timestamp,
) -> Result<(), CustomerError> {
    outbox::enqueue(
        tx,
        &NewEvent {
            tenant_id: tenant,
            event_type,
            payload,
            now,
        },
    )
    .await?;
    Ok(())
}

fn json_text<T: serde::Serialize>(v: &T) -> String {
    // Vec<String> and a JSON map always serialise.
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

pub(super) async fn insert_customer_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    data: &CustomerData,
    now: Timestamp,
) -> Result<Customer, CustomerError> {
    let stamp = lock_and_stamp(tx, tenant, now).await?;
    insert_customer_stamped_tx(tx, tenant, data, stamp, now).await
}

/// The insert itself, inside a transaction that already holds the tenant's write lock and
/// chose `stamp` (an import writes a whole batch under one lock, a stamp per row).
pub(super) async fn insert_customer_stamped_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    data: &CustomerData,
    stamp: Timestamp,
    now: Timestamp,
) -> Result<Customer, CustomerError> {
    let id = CustomerId::generate();
    sqlx::query(&format!(
        "INSERT INTO customers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $16)"
    ))
    .bind(id.as_str())
    .bind(tenant.as_str())
    .bind(data.external_id.as_deref())
    .bind(data.name.as_str())
    .bind(data.given_name.as_str())
    .bind(data.family_name.as_str())
    .bind(data.time_zone.as_str())
    .bind(data.category.as_str())
    .bind(data.grade.as_deref())
    .bind(i64::from(data.key_customer))
    .bind(i64::from(data.consent))
    .bind(i64::from(data.do_not_call))
    .bind(data.estimated_value_cents)
    .bind(json_text(&data.tags))
    .bind(json_text(&data.custom_fields))
    .bind(stamp.as_millis())
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        StoreError::from_insert(
            e,
            format!(
                "customer with external_id '{}'",
                data.external_id.as_deref().unwrap_or_default()
            ),
        )
    })?;
    insert_phones(tx, tenant, &id, &data.phones).await?;
    let customer = Customer {
        id,
        tenant_id: tenant.clone(),
        data: data.clone(),
        version: 1,
        created_at: stamp,
        updated_at: stamp,
    };
    announce(
        tx,
        tenant,
        "customer.created",
        &event_payload(&customer),
        now,
    )
    .await?;
    Ok(customer)
}

/// Creates a customer with its phones.
pub async fn create_customer(
    store: &Store,
    tenant: &TenantId,
    data: &CustomerData,
    now: Timestamp,
) -> Result<Customer, CustomerError> {
    let mut tx = store.begin_write().await?;
    let customer = insert_customer_tx(&mut tx, tenant, data, now).await?;
    tx.commit().await?;
    Ok(customer)
}

/// A response kept for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// An `Idempotency-Key` sent with an inbound upsert, and the hash of the request it came with.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyKey<'a> {
    pub key: &'a str,
    pub request_hash: &'a str,
}

/// How an upsert went.
#[derive(Debug, Clone, PartialEq)]
pub enum Upsert {
    /// Written now. `created` is false when a customer with the same `external_id` was updated.
    Written {
        customer: Box<Customer>,
        created: bool,
        /// What `render` made, as stored with the idempotency key.
        response: StoredResponse,
    },
    /// The key was used before with the same request: the first response, unchanged.
    Replayed(StoredResponse),
}

/// Creates a customer, or — when `data.external_id` names one already in the tenant — updates
/// it (the CRM is the source of truth for its own records). With an idempotency key, the key and
/// the response `render` makes are recorded in the same transaction: a key seen before with the
/// same request hash replays the stored response, with another hash it is refused. Of two racing
/// requests with one key, the loser's key insert fails, its transaction rolls back (nothing of it
/// stays), and it replays the winner's response.
pub async fn upsert_customer(
    store: &Store,
    tenant: &TenantId,
    data: &CustomerData,
    idempotency: Option<IdempotencyKey<'_>>,
    render: impl Fn(&Customer, bool) -> StoredResponse,
    now: Timestamp,
) -> Result<Upsert, CustomerError> {
    if let Some(k) = idempotency
        && let Some(done) = find_idempotent(store, tenant, k.key, k.request_hash).await?
    {
        return Ok(Upsert::Replayed(done));
    }
    let mut tx = store.begin_write().await?;
    // Lock before looking: two upserts of one new external_id then run one after the other.
    let stamp = lock_and_stamp(&mut tx, tenant, now).await?;
    let existing: Option<(String, i64)> = match &data.external_id {
        Some(ext) => {
            sqlx::query_as(
                "SELECT id, version FROM customers WHERE tenant_id = $1 AND external_id = $2",
            )
            .bind(tenant.as_str())
            .bind(ext.as_str())
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let (customer, created) = match existing {
        Some((id, version)) => {
            let id = CustomerId::from(id);
            (
                update_customer_tx(&mut tx, tenant, &id, version, data, stamp, now).await?,
                false,
            )
        }
        None => (insert_customer_tx(&mut tx, tenant, data, now).await?, true),
    };
    let response = render(&customer, created);
    let Some(k) = idempotency else {
        tx.commit().await?;
        return Ok(Upsert::Written {
            customer: Box::new(customer),
            created,
            response,
        });
    };
    let recorded = sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, status, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.as_str())
    .bind(k.key)
    .bind(k.request_hash)
    .bind(i64::from(response.status))
    .bind(response.body.as_str())
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await;
    match recorded {
        Ok(_) => {
            tx.commit().await?;
            Ok(Upsert::Written {
                customer: Box::new(customer),
                created,
                response,
            })
        }
        Err(e) => {
            tx.rollback().await?;
            match StoreError::from_insert(e, "idempotency key") {
                StoreError::Conflict { .. } => {
                    match find_idempotent(store, tenant, k.key, k.request_hash).await? {
                        Some(done) => Ok(Upsert::Replayed(done)),
                        None => Err(StoreError::Corrupt("idempotency key vanished".into()).into()),
                    }
                }
                other => Err(other.into()),
            }
        }
    }
}

/// The stored response for `key`, `None` if the key is new, `IdempotencyMismatch` if it was used
/// with another request.
async fn find_idempotent(
    store: &Store,
    tenant: &TenantId,
    key: &str,
    request_hash: &str,
) -> Result<Option<StoredResponse>, CustomerError> {
    let row: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE tenant_id = $1 AND idem_key = $2",
    )
    .bind(tenant.as_str())
    .bind(key)
    .fetch_optional(store.pool())
    .await?;
    match row {
        None => Ok(None),
        Some((hash, _, _)) if hash != request_hash => {
            Err(CustomerError::IdempotencyMismatch(key.to_owned()))
        }
        Some((_, status, body)) => Ok(Some(StoredResponse {
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt("idempotency_keys.status".into()))?,
            body,
        })),
    }
}

/// Forgets idempotency keys recorded before `before`; returns how many.
pub async fn purge_idempotency_keys(store: &Store, before: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(before.as_millis())
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected())
}

async fn load_phones(
    store: &Store,
    tenant: &TenantId,
    ids: &[&str],
) -> Result<Vec<PhoneRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT customer_id, phone, label FROM customer_phones WHERE tenant_id = $1 AND customer_id IN ({}) ORDER BY customer_id, position",
        placeholders.join(", ")
    );
    let mut q = sqlx::query_as::<_, PhoneRow>(&sql).bind(tenant.as_str());
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(store.pool()).await?)
}

async fn with_phones(
    store: &Store,
    tenant: &TenantId,
    rows: Vec<CustomerRow>,
) -> Result<Vec<Customer>, StoreError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let phones = load_phones(store, tenant, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mine = phones
            .iter()
            .filter(|p| p.customer_id == row.id)
            .map(|p| {
                Ok(CustomerPhone {
                    phone: E164::parse(&p.phone)
                        .map_err(|e| StoreError::Corrupt(format!("customer_phones.phone: {e}")))?,
                    label: p.label.clone(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.push(row.into_customer(mine)?);
    }
    Ok(out)
}

pub async fn get_customer(
    store: &Store,
    tenant: &TenantId,
    id: &CustomerId,
) -> Result<Option<Customer>, StoreError> {
    let row: Option<CustomerRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customers WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await?;
    match row {
        None => Ok(None),
        Some(r) => Ok(with_phones(store, tenant, vec![r]).await?.pop()),
    }
}

/// Replaces a customer's data (phones included) if it is still at `expected_version`.
pub async fn update_customer(
    store: &Store,
    tenant: &TenantId,
    id: &CustomerId,
    expected_version: i64,
    data: &CustomerData,
    now: Timestamp,
) -> Result<Customer, CustomerError> {
    let mut tx = store.begin_write().await?;
    let stamp = lock_and_stamp(&mut tx, tenant, now).await?;
    let customer =
        update_customer_tx(&mut tx, tenant, id, expected_version, data, stamp, now).await?;
    tx.commit().await?;
    Ok(customer)
}

/// The update itself, inside a transaction that already holds the tenant's write lock.
async fn update_customer_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    id: &CustomerId,
    expected_version: i64,
    data: &CustomerData,
    stamp: Timestamp,
    now: Timestamp,
) -> Result<Customer, CustomerError> {
    let done = sqlx::query(
        "UPDATE customers SET external_id = $1, name = $2, given_name = $3, family_name = $4, time_zone = $5,
             category = $6, grade = $7, key_customer = $8, consent = $9, do_not_call = $10,
             estimated_value_cents = $11, tags = $12, custom_fields = $13, version = version + 1, updated_at = $14
         WHERE tenant_id = $15 AND id = $16 AND version = $17",
    )
    .bind(data.external_id.as_deref())
    .bind(data.name.as_str())
    .bind(data.given_name.as_str())
    .bind(data.family_name.as_str())
    .bind(data.time_zone.as_str())
    .bind(data.category.as_str())
    .bind(data.grade.as_deref())
    .bind(i64::from(data.key_customer))
    .bind(i64::from(data.consent))
    .bind(i64::from(data.do_not_call))
    .bind(data.estimated_value_cents)
    .bind(json_text(&data.tags))
    .bind(json_text(&data.custom_fields))
    .bind(stamp.as_millis())
    .bind(tenant.as_str())
    .bind(id.as_str())
    .bind(expected_version)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::from_insert(e, "customer with this external_id"))?;
    if done.rows_affected() == 0 {
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM customers WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        return Err(match current {
            None => CustomerError::NotFound(id.clone()),
            Some(current) => CustomerError::Stale {
                id: id.clone(),
                expected: expected_version,
                current,
            },
        });
    }
    sqlx::query("DELETE FROM customer_phones WHERE tenant_id = $1 AND customer_id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    insert_phones(tx, tenant, id, &data.phones).await?;
    let created: i64 =
        sqlx::query_scalar("SELECT created_at FROM customers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_one(&mut **tx)
            .await?;
    let customer = Customer {
        id: id.clone(),
        tenant_id: tenant.clone(),
        data: data.clone(),
        version: expected_version + 1,
        created_at: Timestamp::from_millis(created),
        updated_at: stamp,
    };
    announce(
        tx,
        tenant,
        "customer.updated",
        &event_payload(&customer),
        now,
    )
    .await?;
    Ok(customer)
}

/// Deletes a customer with its phones and interactions; false when there was none.
pub async fn delete_customer(
    store: &Store,
    tenant: &TenantId,
    id: &CustomerId,
    now: Timestamp,
) -> Result<bool, CustomerError> {
    let mut tx = store.begin_write().await?;
    // Children first: the cascade is declared, but deleting explicitly keeps both engines alike.
    for sql in [
        "DELETE FROM customer_interactions WHERE tenant_id = $1 AND customer_id = $2",
        "DELETE FROM customer_phones WHERE tenant_id = $1 AND customer_id = $2",
    ] {
        sqlx::query(sql)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let done = sqlx::query("DELETE FROM customers WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            // Calls, tasks and tickets keep pointing at the customer: refuse, keep history whole.
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                CustomerError::Referenced(id.clone())
            }
            _ => CustomerError::from(e),
        })?;
    let deleted = done.rows_affected() > 0;
    if deleted {
        announce(
            &mut tx,
            tenant,
            "customer.deleted",
            &serde_json::json!({ "id": id }),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

/// Customers with this phone number, newest change first (a number may be shared).
pub async fn find_by_phone(
    store: &Store,
    tenant: &TenantId,
    phone: &E164,
) -> Result<Vec<Customer>, StoreError> {
    let rows: Vec<CustomerRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customers WHERE tenant_id = $1 AND id IN
           (SELECT customer_id FROM customer_phones WHERE tenant_id = $1 AND phone = $2)
         ORDER BY updated_at DESC, id DESC"
    ))
    .bind(tenant.as_str())
    .bind(phone.as_str())
    .fetch_all(store.pool())
    .await?;
    with_phones(store, tenant, rows).await
}

/// A potential customer who pays an order becomes a customer ("potential customer" until they
/// buy, per the service rules). Runs inside the caller's transaction and announces
/// `customer.updated` when it changes the category; true when it did.
pub(crate) async fn promote_to_customer_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    id: &CustomerId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let category: Option<String> =
        sqlx::query_scalar("SELECT category FROM customers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    if category.as_deref() != Some(Category::Potential.as_str()) {
        return Ok(false);
    }
    let stamp = lock_and_stamp(tx, tenant, now).await.map_err(into_store)?;
    sqlx::query(
        "UPDATE customers SET category = $1, version = version + 1, updated_at = $2
         WHERE tenant_id = $3 AND id = $4",
    )
    .bind(Category::Customer.as_str())
    .bind(stamp.as_millis())
    .bind(tenant.as_str())
    .bind(id.as_str())
    .execute(&mut **tx)
    .await?;
    let row: CustomerRow = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customers WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let phones: Vec<PhoneRow> = sqlx::query_as(
        "SELECT customer_id, phone, label FROM customer_phones
         WHERE tenant_id = $1 AND customer_id = $2 ORDER BY position",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_all(&mut **tx)
    .await?;
    let phones = phones
        .into_iter()
        .map(|p| {
            Ok(CustomerPhone {
                phone: E164::parse(&p.phone)
                    .map_err(|e| StoreError::Corrupt(format!("customer_phones.phone: {e}")))?,
                label: p.label,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let customer = row.into_customer(phones)?;
    announce(
        tx,
        tenant,
        "customer.updated",
        &event_payload(&customer),
        now,
    )
    .await
    .map_err(into_store)?;
    Ok(true)
}

/// The store-level error inside a `CustomerError` (the two customer-only variants cannot come
/// out of the helpers this is used on).
fn into_store(e: CustomerError) -> StoreError {
    match e {
        CustomerError::Store(s) => s,
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// Whether `id` is a customer of `tenant`, read inside the caller's transaction: what a row that
/// names a customer (an order, a visit, a hand-over item) checks before it is written.
pub(crate) async fn exists_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    id: &CustomerId,
) -> Result<bool, StoreError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT id FROM customers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(found.is_some())
}
