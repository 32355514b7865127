//! Customer imports (CSV uploads): the import's progress row, its per-row error report, and the
//! batched upsert by phone number that writes the rows.
//!
//! The file is parsed and validated by the caller; rows arrive here as customer data or as the
//! error that rejected them. Each batch is one transaction that writes its good rows, records its
//! bad ones and advances the progress counters, so the progress shown is always what is stored.
//! A row is all-or-nothing: if one fails in the database, the batch is rolled back and replayed
//! one row per transaction, so only that row is reported and the others still land.

use sqlx::{Any, Transaction};
use switchboard_core::{TenantId, Timestamp};

mod known;

use known::Known;

use super::{
    CustomerData, CustomerError, IdempotencyKey, StoredResponse, find_idempotent,
    insert_customer_stamped_tx, lock_and_stamp, update_customer_tx,
};
use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportState {
    Running,
    Done,
    Failed,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Running => "running",
            ImportState::Done => "done",
            ImportState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "running" => Ok(ImportState::Running),
            "done" => Ok(ImportState::Done),
            "failed" => Ok(ImportState::Failed),
            other => Err(StoreError::Corrupt(format!(
                "customer_imports.state: {other}"
            ))),
        }
    }
}

/// An import and its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub id: String,
    pub tenant_id: TenantId,
    pub state: ImportState,
    pub tag: Option<String>,
    pub file_name: Option<String>,
    pub created_by: Option<String>,
    pub rows_total: i64,
    pub rows_processed: i64,
    pub rows_created: i64,
    pub rows_updated: i64,
    pub rows_failed: i64,
    pub failure: Option<String>,
    pub started_at: Timestamp,
    pub heartbeat_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

const JOB_COLUMNS: &str = "id, tenant_id, state, tag, file_name, created_by, rows_total, rows_processed, rows_created, rows_updated, rows_failed, failure, started_at, heartbeat_at, finished_at";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    tenant_id: String,
    state: String,
    tag: Option<String>,
    file_name: Option<String>,
    created_by: Option<String>,
    rows_total: i64,
    rows_processed: i64,
    rows_created: i64,
    rows_updated: i64,
    rows_failed: i64,
    failure: Option<String>,
    started_at: i64,
    heartbeat_at: i64,
    finished_at: Option<i64>,
}

impl JobRow {
    fn into_job(self) -> Result<ImportJob, StoreError> {
        Ok(ImportJob {
            id: self.id,
            tenant_id: self.tenant_id.into(),
            state: ImportState::parse(&self.state)?,
            tag: self.tag,
            file_name: self.file_name,
            created_by: self.created_by,
            rows_total: self.rows_total,
            rows_processed: self.rows_processed,
            rows_created: self.rows_created,
            rows_updated: self.rows_updated,
            rows_failed: self.rows_failed,
            failure: self.failure,
            started_at: Timestamp::from_millis(self.started_at),
            heartbeat_at: Timestamp::from_millis(self.heartbeat_at),
            finished_at: self.finished_at.map(Timestamp::from_millis),
        })
    }
}

/// Why one row was not imported. `row` is the spreadsheet's row number (header = 1).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RowError {
    #[sqlx(rename = "row_number")]
    pub row: i64,
    #[sqlx(rename = "column_name")]
    pub column: Option<String>,
    /// Masked when it is a phone number or a name.
    pub value: Option<String>,
    pub message: String,
}

/// One row of the file, as the parser left it.
#[derive(Debug, Clone, PartialEq)]
pub enum RowInput {
    /// `columns`: the cells of the row that are not empty, the fields an update changes.
    Valid {
        row: i64,
        data: CustomerData,
        columns: Columns,
    },
    Invalid(RowError),
}

/// Which fields a row gives: an update changes only those (an empty cell keeps the stored value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Columns {
    pub external_id: bool,
    pub name: bool,
    pub given_name: bool,
    pub family_name: bool,
    pub time_zone: bool,
    pub category: bool,
    pub grade: bool,
    pub key_customer: bool,
    pub tags: bool,
    pub estimated_value: bool,
    pub consent: bool,
    pub do_not_call: bool,
}

/// How a batch went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub created: i64,
    pub updated: i64,
    pub failed: i64,
}

/// How rows are written: the import, its tag, and the caller's validation of
/// the customer as it will be stored (an update merges the row into the stored customer, which
/// can break a limit neither broke alone: eleven phones, fifty-one tags).
#[derive(Clone, Copy)]
pub struct Upserting<'a> {
    pub import_id: &'a str,
    pub tag: Option<&'a str>,
    pub check: &'a (dyn Fn(&CustomerData) -> Result<(), RowError> + Sync),
}

impl std::fmt::Debug for Upserting<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upserting")
            .field("import_id", &self.import_id)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

/// What a new import is.
#[derive(Debug, Clone, Copy)]
pub struct NewImport<'a> {
    pub tag: Option<&'a str>,
    pub file_name: Option<&'a str>,
    pub created_by: Option<&'a str>,
    pub rows_total: i64,
}

/// How creating an import went.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportStart {
    /// A new import, to be run now.
    Started {
        job: Box<ImportJob>,
        response: StoredResponse,
    },
    /// The idempotency key was used before with the same file: the first response, unchanged.
    Replayed(StoredResponse),
}

/// Records a new running import (and its idempotency key in the same transaction).
pub async fn start_import(
    store: &Store,
    tenant: &TenantId,
    new: &NewImport<'_>,
    idempotency: Option<IdempotencyKey<'_>>,
    render: impl Fn(&ImportJob) -> StoredResponse,
    now: Timestamp,
) -> Result<ImportStart, CustomerError> {
    if let Some(k) = idempotency
        && let Some(done) = find_idempotent(store, tenant, k.key, k.request_hash).await?
    {
        return Ok(ImportStart::Replayed(done));
    }
    let job = ImportJob {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.clone(),
        state: ImportState::Running,
        tag: new.tag.map(str::to_owned),
        file_name: new.file_name.map(str::to_owned),
        created_by: new.created_by.map(str::to_owned),
        rows_total: new.rows_total,
        rows_processed: 0,
        rows_created: 0,
        rows_updated: 0,
        rows_failed: 0,
        failure: None,
        started_at: now,
        heartbeat_at: now,
        finished_at: None,
    };
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO customer_imports (id, tenant_id, state, tag, file_name, created_by, rows_total, started_at, heartbeat_at) VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $7)",
    )
    .bind(job.id.as_str())
    .bind(tenant.as_str())
    .bind(job.tag.as_deref())
    .bind(job.file_name.as_deref())
    .bind(job.created_by.as_deref())
    .bind(job.rows_total)
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await?;
    let response = render(&job);
    if let Some(k) = idempotency {
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
        if let Err(e) = recorded {
            // A racing request with the same key won: nothing of this one stays.
            tx.rollback().await?;
            return match StoreError::from_insert(e, "idempotency key") {
                StoreError::Conflict { .. } => {
                    match find_idempotent(store, tenant, k.key, k.request_hash).await? {
                        Some(done) => Ok(ImportStart::Replayed(done)),
                        None => Err(StoreError::Corrupt("idempotency key vanished".into()).into()),
                    }
                }
                other => Err(other.into()),
            };
        }
    }
    tx.commit().await?;
    Ok(ImportStart::Started {
        job: Box::new(job),
        response,
    })
}

pub async fn get_import(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<ImportJob>, StoreError> {
    let row: Option<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM customer_imports WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.map(JobRow::into_job).transpose()
}

/// The tenant's imports, newest first.
pub async fn list_imports(
    store: &Store,
    tenant: &TenantId,
    limit: u32,
) -> Result<Vec<ImportJob>, StoreError> {
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {JOB_COLUMNS} FROM customer_imports WHERE tenant_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
    ))
    .bind(tenant.as_str())
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(JobRow::into_job).collect()
}

/// The error report in row order: rows after `after_row`, at most `limit` (None: all).
pub async fn list_import_errors(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    after_row: i64,
    limit: Option<u32>,
) -> Result<Vec<RowError>, StoreError> {
    let limit = limit.map_or(i64::MAX, i64::from);
    Ok(sqlx::query_as(
        "SELECT e.row_number, e.column_name, e.value, e.message FROM customer_import_errors e
           JOIN customer_imports i ON i.id = e.import_id
         WHERE i.tenant_id = $1 AND e.import_id = $2 AND e.row_number > $3
         ORDER BY e.row_number LIMIT $4",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(after_row)
    .bind(limit)
    .fetch_all(store.pool())
    .await?)
}

/// Ends a running import: `Done`, or `Failed` with the reason.
pub async fn finish_import(
    store: &Store,
    id: &str,
    state: ImportState,
    failure: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE customer_imports SET state = $1, failure = $2, finished_at = $3, heartbeat_at = $3 WHERE id = $4 AND state = 'running'",
    )
    .bind(state.as_str())
    .bind(failure)
    .bind(now.as_millis())
    .bind(id)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Marks failed every running import whose last batch committed before `heartbeat_before`:
/// their runner is gone (a crash, a restart). Returns how many.
pub async fn fail_interrupted_imports(
    store: &Store,
    heartbeat_before: Timestamp,
    reason: &str,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE customer_imports SET state = 'failed', failure = $1, finished_at = $2 WHERE state = 'running' AND heartbeat_at < $3",
    )
    .bind(reason)
    .bind(now.as_millis())
    .bind(heartbeat_before.as_millis())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Writes one batch of rows: the fast path is one transaction for all of them; if the database
/// refuses one row, the batch is replayed one row per transaction.
pub async fn apply_batch(
    store: &Store,
    tenant: &TenantId,
    how: Upserting<'_>,
    rows: &[RowInput],
    now: Timestamp,
) -> Result<BatchCounts, CustomerError> {
    let mut tx = store.begin_write().await?;
    match write_rows(&mut tx, tenant, how, rows, now).await {
        Ok(counts) => {
            tx.commit().await?;
            return Ok(counts);
        }
        Err(e) => {
            tx.rollback().await?;
            tracing::debug!(error = %e, "import batch refused; retrying row by row");
        }
    }
    let mut total = BatchCounts::default();
    for row in rows {
        let one = std::slice::from_ref(row);
        let mut tx = store.begin_write().await?;
        let counts = match write_rows(&mut tx, tenant, how, one, now).await {
            Ok(counts) => {
                tx.commit().await?;
                counts
            }
            Err(e) => {
                tx.rollback().await?;
                let RowInput::Valid { row, .. } = row else {
                    return Err(e);
                };
                let refused = RowInput::Invalid(RowError {
                    row: *row,
                    column: None,
                    value: None,
                    message: refusal(&e),
                });
                let mut tx = store.begin_write().await?;
                let counts =
                    write_rows(&mut tx, tenant, how, std::slice::from_ref(&refused), now).await?;
                tx.commit().await?;
                counts
            }
        };
        total.created += counts.created;
        total.updated += counts.updated;
        total.failed += counts.failed;
    }
    Ok(total)
}

/// What the error report says about a row the database refused (never SQL text).
fn refusal(e: &CustomerError) -> String {
    match e {
        CustomerError::Store(StoreError::Conflict { what }) => format!("{what} already exists"),
        CustomerError::Stale { .. } => {
            "the customer changed during the import; import the row again".into()
        }
        _ => "the row could not be stored".into(),
    }
}

/// The rows of one batch, inside `tx`, with the progress counters.
async fn write_rows(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    how: Upserting<'_>,
    rows: &[RowInput],
    now: Timestamp,
) -> Result<BatchCounts, CustomerError> {
    let mut stamp = lock_and_stamp(tx, tenant, now).await?;
    let mut known = Known::load(tx, tenant, rows).await?;
    let mut counts = BatchCounts::default();
    let mut errors: Vec<RowError> = Vec::new();
    for input in rows {
        let (row, data, columns) = match input {
            RowInput::Invalid(e) => {
                errors.push(e.clone());
                continue;
            }
            RowInput::Valid { row, data, columns } => (*row, data, columns),
        };
        let target = match known.target(data) {
            Ok(target) => target,
            Err(message) => {
                errors.push(RowError {
                    row,
                    column: Some("phones".into()),
                    value: None,
                    message,
                });
                continue;
            }
        };
        let merged = match &target {
            Some(current) => merge(&current.data, data, columns, how.tag),
            None => with_tag(data.clone(), how.tag),
        };
        if let Err(mut e) = (how.check)(&merged) {
            e.row = row;
            errors.push(e);
            continue;
        }
        let written = match target {
            Some(current) => {
                let c = update_customer_tx(
                    tx,
                    tenant,
                    &current.id,
                    current.version,
                    &merged,
                    stamp,
                    now,
                )
                .await?;
                counts.updated += 1;
                c
            }
            None => {
                counts.created += 1;
                insert_customer_stamped_tx(tx, tenant, &merged, stamp, now).await?
            }
        };
        stamp = Timestamp::from_millis(stamp.as_millis() + 1);
        known.remember(written);
    }
    for e in &errors {
        sqlx::query(
            "INSERT INTO customer_import_errors (import_id, row_number, column_name, value, message) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(how.import_id)
        .bind(e.row)
        .bind(e.column.as_deref())
        .bind(e.value.as_deref())
        .bind(e.message.as_str())
        .execute(&mut **tx)
        .await?;
    }
    counts.failed = i64::try_from(errors.len()).unwrap_or(i64::MAX);
    let processed = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE customer_imports SET rows_processed = rows_processed + $1, rows_created = rows_created + $2,
             rows_updated = rows_updated + $3, rows_failed = rows_failed + $4, heartbeat_at = $5
         WHERE id = $6",
    )
    .bind(processed)
    .bind(counts.created)
    .bind(counts.updated)
    .bind(counts.failed)
    .bind(now.as_millis())
    .bind(how.import_id)
    .execute(&mut **tx)
    .await?;
    Ok(counts)
}

/// `data` with the import's tag added once.
fn with_tag(mut data: CustomerData, tag: Option<&str>) -> CustomerData {
    if let Some(tag) = tag
        && !data.tags.iter().any(|t| t == tag)
    {
        data.tags.push(tag.to_owned());
    }
    data
}

/// The stored customer with the row's columns applied. Phones are added to the ones stored (the
/// first stays the one to call); custom fields are merged key by key.
fn merge(
    current: &CustomerData,
    row: &CustomerData,
    columns: &Columns,
    tag: Option<&str>,
) -> CustomerData {
    let mut out = current.clone();
    if columns.external_id && row.external_id.is_some() {
        out.external_id.clone_from(&row.external_id);
    }
    if columns.name {
        out.name.clone_from(&row.name);
    }
    if columns.given_name {
        out.given_name.clone_from(&row.given_name);
    }
    if columns.family_name {
        out.family_name.clone_from(&row.family_name);
    }
    if columns.time_zone {
        out.time_zone.clone_from(&row.time_zone);
    }
    if columns.category {
        out.category = row.category;
    }
    if columns.grade {
        out.grade.clone_from(&row.grade);
    }
    if columns.key_customer {
        out.key_customer = row.key_customer;
    }
    if columns.tags {
        out.tags.clone_from(&row.tags);
    }
    if columns.estimated_value {
        out.estimated_value_cents = row.estimated_value_cents;
    }
    if columns.consent {
        out.consent = row.consent;
    }
    if columns.do_not_call {
        out.do_not_call = row.do_not_call;
    }
    for p in &row.phones {
        if !out.phones.iter().any(|o| o.phone == p.phone) {
            out.phones.push(p.clone());
        }
    }
    for (k, v) in &row.custom_fields {
        out.custom_fields.insert(k.clone(), v.clone());
    }
    with_tag(out, tag)
}
