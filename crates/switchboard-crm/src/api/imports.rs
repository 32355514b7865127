//! Customer CSV imports over HTTP: upload a file (202 with the import's id), follow its
//! progress, read the per-row error report as JSON or CSV.
//!
//! The upload is read and validated at once (a fault of the whole file is a 400 naming the
//! column), then written in the background in batches, each one transaction, upserting by phone
//! number. The progress row says how far it got; an import whose runner died (a crash) is marked
//! failed at the next start, or when it is next read after its heartbeat stopped.
//!
//! Roles: admins, supervisors and integrators.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchboard_core::{Clock, Role, TenantId, Timestamp};
use switchboard_store::customers::import::{
    self as store_import, ImportJob, ImportStart, ImportState, NewImport, RowError, Upserting,
};
use switchboard_store::customers::{IdempotencyKey, StoredResponse};
use switchboard_store::{Engine, Store};
use utoipa::{IntoParams, ToSchema};

use super::customers::{ApiQuery, CustomerApiError, idempotency_key};
use super::import_csv::{self, ParsedFile};
use super::{ApiError, ApiJson, ApiState, Caller};

const IMPORTERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Integrator];
/// Largest upload: a 100,000-row export with a dozen columns is about 15 MB.
pub const MAX_IMPORT_BYTES: usize = 50 * 1024 * 1024;
/// Rows per transaction: big enough that commits (fsync) are rare, small enough that the
/// tenant's customer writes are not held up for long and progress moves visibly.
const BATCH_ROWS: usize = 500;
/// A running import whose last batch is older than this has lost its runner.
const STALE_AFTER: Duration = Duration::from_secs(120);
const MAX_TAG: usize = 64;

/// An import and how far it got.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportView {
    pub id: String,
    /// `running`, `done` or `failed`.
    #[schema(example = "running")]
    pub state: String,
    /// Put on every customer the import created or updated.
    pub tag: Option<String>,
    pub file_name: Option<String>,
    /// Data rows in the file (blank rows are not counted).
    pub rows_total: i64,
    pub rows_processed: i64,
    pub rows_created: i64,
    pub rows_updated: i64,
    pub rows_failed: i64,
    /// Why a failed import stopped.
    pub failure: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
}

impl From<&ImportJob> for ImportView {
    fn from(j: &ImportJob) -> Self {
        ImportView {
            id: j.id.clone(),
            state: j.state.as_str().to_owned(),
            tag: j.tag.clone(),
            file_name: j.file_name.clone(),
            rows_total: j.rows_total,
            rows_processed: j.rows_processed,
            rows_created: j.rows_created,
            rows_updated: j.rows_updated,
            rows_failed: j.rows_failed,
            failure: j.failure.clone(),
            started_at: j.started_at.to_string(),
            finished_at: j.finished_at.map(|t| t.to_string()),
        }
    }
}

/// Query of `POST /customers/imports`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// A tag put on every customer imported or updated (a campaign's target list).
    #[param(max_length = 64, example = "campaign-2026-11")]
    pub tag: Option<String>,
    /// The uploaded file's name, shown in the import list.
    #[param(max_length = 200)]
    pub file_name: Option<String>,
}

/// One rejected row.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RowErrorView {
    /// The spreadsheet's row number: the header is row 1.
    pub row: i64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// The cell's value (phone numbers and names masked).
    pub value: Option<String>,
    pub message: String,
}

impl From<&RowError> for RowErrorView {
    fn from(e: &RowError) -> Self {
        RowErrorView {
            row: e.row,
            column: e.column.clone(),
            value: e.value.clone(),
            message: e.message.clone(),
        }
    }
}

/// One page of the error report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RowErrorPage {
    pub items: Vec<RowErrorView>,
    /// Pass as `after_row` for the next page; absent on the last page.
    pub next_after_row: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Json,
    Csv,
}

/// Query of `GET /customers/imports/{id}/errors`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ErrorParams {
    /// `csv` for a spreadsheet (as does `Accept: text/csv`); default JSON.
    pub format: Option<ReportFormat>,
    /// JSON only: rows after this row number.
    #[param(minimum = 0)]
    pub after_row: Option<i64>,
    /// JSON only: page size, 1-10000 (default 1000). The CSV has every row.
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
}

/// Query of `GET /customers/imports`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            // Browsers on Windows label .csv files as Excel's.
            [
                "text/csv",
                "application/csv",
                "application/vnd.ms-excel",
                "text/plain",
            ]
            .iter()
            .any(|m| mime.trim().eq_ignore_ascii_case(m))
        })
}

fn text_param(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control)
    {
        return Err(ApiError::bad_field(
            field,
            format!("{field} must be 1-{max} characters, without control characters"),
        ));
    }
    Ok(())
}

/// Starts importing a customer CSV.
///
/// The header row names the columns: `name` and `phones` (several separated by `;` or `|`,
/// E.164) are required; `time_zone`, `category`, `grade`, `key_customer`, `tags`,
/// `estimated_value` (yuan, two decimals), `do_not_call`, `consent`, `external_id`,
/// `given_name`, `family_name` and `custom.<key>` are optional. A row whose phone number (or
/// external_id) is already in the customer file updates that customer; the columns it has
/// replace the stored values, its phones are added. UTF-8, with or without BOM, at most 50 MB.
#[utoipa::path(
    post, path = "/customers/imports", tag = "customers", operation_id = "start_customer_import",
    params(UploadParams,
        ("Idempotency-Key" = Option<String>, Header,
            description = "Same key and file: the first response again. Same key, other file: 422.")),
    request_body(content = String, content_type = "text/csv",
        description = "The CSV file, header row first"),
    responses(
        (status = 202, description = "Import started; follow it at Location", body = ImportView,
            headers(("Location" = String))),
        (status = 413, description = "File larger than 50 MB", body = super::openapi::ErrorBody),
        (status = 415, description = "Not sent as text/csv", body = super::openapi::ErrorBody),
        (status = 422, description = "Idempotency-Key reused with another file", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn upload(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UploadParams>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, CustomerApiError> {
    caller.require(IMPORTERS)?;
    if !is_csv(&headers) {
        return Ok(unsupported_media_type());
    }
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad_field("body", r.body_text())
        }
    })?;
    if let Some(tag) = &q.tag {
        text_param("tag", tag, MAX_TAG)?;
    }
    if let Some(name) = &q.file_name {
        text_param("file_name", name, 200)?;
    }
    let key = idempotency_key(&headers)?;
    let request_hash = {
        let mut h = Sha256::new();
        h.update(b"POST /customers/imports\0");
        h.update(q.tag.as_deref().unwrap_or("").as_bytes());
        h.update(b"\0");
        h.update(q.file_name.as_deref().unwrap_or("").as_bytes());
        h.update(b"\0");
        h.update(&body);
        hex::encode(h.finalize())
    };
    // Reading 100,000 rows takes a moment of CPU: off the async threads.
    let parsed = tokio::task::spawn_blocking(move || import_csv::parse(&body))
        .await
        .map_err(|e| ApiError::Internal(format!("CSV reader: {e}")))??;
    let now = state.clock.now();
    let render = |job: &ImportJob| StoredResponse {
        status: 202,
        body: serde_json::to_string(&ImportView::from(job)).unwrap_or_default(),
    };
    let start = store_import::start_import(
        &state.store,
        caller.tenant(),
        &NewImport {
            tag: q.tag.as_deref(),
            file_name: q.file_name.as_deref(),
            created_by: Some(caller.user.id.as_str()),
            rows_total: i64::try_from(parsed.rows.len()).unwrap_or(i64::MAX),
        },
        key.as_deref().map(|key| IdempotencyKey {
            key,
            request_hash: &request_hash,
        }),
        render,
        now,
    )
    .await?;
    let (response, replayed) = match start {
        ImportStart::Started { job, response } => {
            tracing::info!(import = %job.id, rows = job.rows_total, "customer import started");
            spawn_runner(
                state.store.clone(),
                state.clock.clone(),
                caller.tenant().clone(),
                *job,
                parsed,
            );
            (response, false)
        }
        ImportStart::Replayed(response) => (response, true),
    };
    accepted(response, replayed)
}

fn unsupported_media_type() -> Response {
    let body = serde_json::json!({ "error": {
        "code": "unsupported_media_type",
        "message": "send the file with Content-Type: text/csv",
        "field": "Content-Type",
    }});
    (StatusCode::UNSUPPORTED_MEDIA_TYPE, axum::Json(body)).into_response()
}

fn accepted(stored: StoredResponse, replayed: bool) -> Result<Response, CustomerApiError> {
    let view: ImportView = serde_json::from_str(&stored.body)
        .map_err(|e| ApiError::Internal(format!("stored import response: {e}")))?;
    let location = HeaderValue::from_str(&format!("/api/v1/customers/imports/{}", view.id))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut response = Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::LOCATION, location)
        .body(Body::from(stored.body))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Writes the rows in batches on a tokio task; the import row records the outcome.
fn spawn_runner(
    store: Store,
    clock: Arc<dyn Clock>,
    tenant: TenantId,
    job: ImportJob,
    parsed: ParsedFile,
) {
    tokio::spawn(async move {
        let outcome = run(&store, clock.as_ref(), &tenant, &job, &parsed).await;
        let (state, failure) = match &outcome {
            Ok(()) => (ImportState::Done, None),
            Err(e) => {
                tracing::error!(import = %job.id, error = %e, "customer import failed");
                (
                    ImportState::Failed,
                    Some("the database refused a batch; rows before it were imported".to_owned()),
                )
            }
        };
        if let Err(e) =
            store_import::finish_import(&store, &job.id, state, failure.as_deref(), clock.now())
                .await
        {
            tracing::error!(import = %job.id, error = %e, "recording the end of an import failed");
        }
    });
}

async fn run(
    store: &Store,
    clock: &dyn Clock,
    tenant: &TenantId,
    job: &ImportJob,
    parsed: &ParsedFile,
) -> Result<(), switchboard_store::customers::CustomerError> {
    let how = Upserting {
        import_id: &job.id,
        tag: job.tag.as_deref(),
        check: &import_csv::check,
    };
    for batch in parsed.rows.chunks(BATCH_ROWS) {
        store_import::apply_batch(store, tenant, how, batch, clock.now()).await?;
    }
    Ok(())
}

/// At start: imports left running by the previous process are marked failed. On SQLite the
/// database belongs to this process alone, so every running import is dead; on PostgreSQL other
/// nodes may be running theirs, so only those whose heartbeat stopped.
pub async fn fail_interrupted(store: &Store, now: Timestamp) -> Result<u64, ApiError> {
    let before = match store.engine() {
        Engine::Sqlite => Timestamp::from_millis(now.as_millis() + 1),
        Engine::Postgres => now - STALE_AFTER,
    };
    Ok(store_import::fail_interrupted_imports(store, before, INTERRUPTED, now).await?)
}

const INTERRUPTED: &str = "interrupted (the server stopped); the rows counted as processed were imported: upload the file again to import the rest (imported rows are updated, not duplicated)";

/// The import, after marking it failed if its runner stopped beating.
async fn current(state: &ApiState, caller: &Caller, id: &str) -> Result<ImportJob, ApiError> {
    let not_found = || ApiError::NotFound("import".into());
    if id.is_empty() || id.len() > 64 || id.contains('\0') {
        return Err(not_found());
    }
    let job = store_import::get_import(&state.store, caller.tenant(), id)
        .await?
        .ok_or_else(not_found)?;
    let now = state.clock.now();
    if job.state == ImportState::Running && job.heartbeat_at < now - STALE_AFTER {
        store_import::fail_interrupted_imports(&state.store, now - STALE_AFTER, INTERRUPTED, now)
            .await?;
        return store_import::get_import(&state.store, caller.tenant(), id)
            .await?
            .ok_or_else(not_found);
    }
    Ok(job)
}

/// An import's progress.
#[utoipa::path(
    get, path = "/customers/imports/{id}", tag = "customers", operation_id = "get_customer_import",
    params(("id" = String, Path, description = "Import id")),
    responses((status = 200, description = "The import and its progress", body = ImportView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<ImportView>, ApiError> {
    caller.require(IMPORTERS)?;
    let job = current(&state, &caller, &id).await?;
    Ok(ApiJson(ImportView::from(&job)))
}

/// The tenant's imports, newest first.
#[utoipa::path(
    get, path = "/customers/imports", tag = "customers", operation_id = "list_customer_imports",
    params(ListParams),
    responses((status = 200, description = "Imports, newest first", body = Vec<ImportView>))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<ApiJson<Vec<ImportView>>, ApiError> {
    caller.require(IMPORTERS)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_field("limit", "limit must be 1-200"));
    }
    let jobs = store_import::list_imports(&state.store, caller.tenant(), limit).await?;
    Ok(ApiJson(jobs.iter().map(ImportView::from).collect()))
}

/// The error report: one entry per rejected row, in row order.
#[utoipa::path(
    get, path = "/customers/imports/{id}/errors", tag = "customers", operation_id = "get_customer_import_errors",
    params(("id" = String, Path, description = "Import id"), ErrorParams,
        ("Accept" = Option<String>, Header, description = "`text/csv` for the CSV report")),
    responses((status = 200, description = "Rejected rows", content(
        (RowErrorPage = "application/json"),
        (String = "text/csv"),
    )))
)]
pub(crate) async fn errors(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ErrorParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(IMPORTERS)?;
    let job = current(&state, &caller, &id).await?;
    let wants_csv = match q.format {
        Some(ReportFormat::Csv) => true,
        Some(ReportFormat::Json) => false,
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    };
    if wants_csv {
        let all = store_import::list_import_errors(&state.store, caller.tenant(), &job.id, 0, None)
            .await?;
        return csv_report(&job.id, &all);
    }
    let after = q.after_row.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_field(
            "after_row",
            "after_row must not be negative",
        ));
    }
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_field("limit", "limit must be 1-10000"));
    }
    // One more than asked tells whether there is a next page.
    let mut items = store_import::list_import_errors(
        &state.store,
        caller.tenant(),
        &job.id,
        after,
        Some(limit + 1),
    )
    .await?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_after_row = more.then(|| items.last().map(|e| e.row)).flatten();
    Ok(ApiJson(RowErrorPage {
        items: items.iter().map(RowErrorView::from).collect(),
        next_after_row,
    })
    .into_response())
}

/// The report as a spreadsheet: a BOM so Excel reads it as UTF-8, then `row,column,value,message`.
fn csv_report(id: &str, errors: &[RowError]) -> Result<Response, ApiError> {
    let mut out = csv::Writer::from_writer("\u{feff}".as_bytes().to_vec());
    let internal = |e: csv::Error| ApiError::Internal(format!("writing the CSV report: {e}"));
    out.write_record(["row", "column", "value", "message"])
        .map_err(internal)?;
    for e in errors {
        out.write_record([
            e.row.to_string().as_str(),
            e.column.as_deref().unwrap_or(""),
            e.value.as_deref().unwrap_or(""),
            e.message.as_str(),
        ])
        .map_err(internal)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ApiError::Internal(format!("writing the CSV report: {e}")))?;
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"import-{id}-errors.csv\""),
        )
        .body(Body::from(bytes))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_store::customers::import::RowInput;

    #[test]
    fn csv_uploads_are_recognised_by_content_type() {
        let mut h = HeaderMap::new();
        assert!(!is_csv(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        assert!(is_csv(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!is_csv(&h));
    }

    #[test]
    fn row_inputs_keep_file_order() {
        let file = import_csv::parse(b"name,phones\nA,+8613800000001\nB,x\n");
        let rows = file.map(|f| f.rows).unwrap_or_default();
        assert!(
            matches!(rows.as_slice(), [RowInput::Valid { row: 2, .. }, RowInput::Invalid(e)] if e.row == 3)
        );
    }
}
