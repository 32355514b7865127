//! Recording rows: one per recorded call, inserted when recording starts and completed when the
//! file is finished.
//!
//! The row exists from the first second (state `recording`) so that a crash mid-call leaves a
//! row naming the file to repair: at start the server repairs every file still in `recording`
//! ([`recordings_in_state`]) and completes its row as `repaired`.

use sqlx::AnyConnection;
use switchboard_core::{CallId, TenantId, Timestamp};

use crate::calls::str_enum;
use crate::{Store, StoreError};

str_enum!(
    /// Where a recording stands.
    RecordingState { Recording => "recording", Complete => "complete", Repaired => "repaired" }
);

/// One recording row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub id: String,
    pub tenant_id: TenantId,
    pub call_id: CallId,
    /// Relative to the recordings root, e.g. `2026/11/23/<call-id>.wav`.
    pub path: String,
    pub started_at: Timestamp,
    /// 0 while recording.
    pub duration_ms: i64,
    /// 0 while recording.
    pub size_bytes: i64,
    /// SHA-256 of the finished file, lowercase hex; `None` while recording.
    pub sha256: Option<String>,
    pub channels: u16,
    pub sample_rate: u32,
    /// JSON list of muted spans (card numbers read out), as the recorder wrote it.
    pub paused_json: String,
    pub state: RecordingState,
    pub created_at: Timestamp,
    /// When the retention job deleted the file (the row stays); `None` while it is kept.
    pub deleted_at: Option<Timestamp>,
}

/// What [`insert_recording`] writes.
#[derive(Debug, Clone)]
pub struct NewRecording<'a> {
    pub tenant_id: &'a TenantId,
    pub call_id: &'a CallId,
    pub path: &'a str,
    pub started_at: Timestamp,
    pub channels: u16,
    pub sample_rate: u32,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, tenant_id, call_id, path, started_at, duration_ms, size_bytes, sha256, channels, sample_rate, paused_json, state, created_at, deleted_at";

#[derive(sqlx::FromRow)]
struct RecordingRow {
    id: String,
    tenant_id: String,
    call_id: String,
    path: String,
    started_at: i64,
    duration_ms: i64,
    size_bytes: i64,
    sha256: Option<String>,
    channels: i64,
    sample_rate: i64,
    paused_json: String,
    state: String,
    created_at: i64,
    deleted_at: Option<i64>,
}

impl TryFrom<RecordingRow> for Recording {
    type Error = StoreError;
    fn try_from(r: RecordingRow) -> Result<Self, StoreError> {
        let corrupt = |col: &str, v: i64| StoreError::Corrupt(format!("recordings.{col} {v}"));
        Ok(Recording {
            channels: u16::try_from(r.channels).map_err(|_| corrupt("channels", r.channels))?,
            sample_rate: u32::try_from(r.sample_rate)
                .map_err(|_| corrupt("sample_rate", r.sample_rate))?,
            state: RecordingState::from_column("recordings.state", &r.state)?,
            id: r.id,
            tenant_id: r.tenant_id.into(),
            call_id: r.call_id.into(),
            path: r.path,
            started_at: Timestamp::from_millis(r.started_at),
            duration_ms: r.duration_ms,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            paused_json: r.paused_json,
            created_at: Timestamp::from_millis(r.created_at),
            deleted_at: r.deleted_at.map(Timestamp::from_millis),
        })
    }
}

fn collect(rows: Vec<RecordingRow>) -> Result<Vec<Recording>, StoreError> {
    rows.into_iter().map(Recording::try_from).collect()
}

/// Writes a recording row in state `recording` and points the call's `recording_id` at it, in
/// one transaction. `NotFound` if the call is not one of the tenant's.
pub async fn insert_recording(
    store: &Store,
    new: &NewRecording<'_>,
) -> Result<Recording, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = store.begin_write().await?;
    insert_recording_on(&mut tx, &id, new).await?;
    tx.commit().await?;
    Ok(Recording {
        id,
        tenant_id: new.tenant_id.clone(),
        call_id: new.call_id.clone(),
        path: new.path.to_owned(),
        started_at: new.started_at,
        duration_ms: 0,
        size_bytes: 0,
        sha256: None,
        channels: new.channels,
        sample_rate: new.sample_rate,
        paused_json: "[]".to_owned(),
        state: RecordingState::Recording,
        created_at: new.created_at,
        deleted_at: None,
    })
}

/// A fresh recording id (UUIDv7, so ids sort by creation), for [`insert_recording_on`].
pub fn new_recording_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// [`insert_recording`] with a given `id`, on `conn`, which must be inside a transaction (the
/// call's link and the row are two statements). The records writer picks the id itself so that
/// a batch it has to retry writes the same id again.
pub async fn insert_recording_on(
    conn: &mut AnyConnection,
    id: &str,
    new: &NewRecording<'_>,
) -> Result<(), StoreError> {
    let linked = sqlx::query("UPDATE calls SET recording_id = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(id)
        .bind(new.tenant_id.as_str())
        .bind(new.call_id.as_str())
        .execute(&mut *conn)
        .await?;
    if linked.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("call '{}'", new.call_id),
        });
    }
    sqlx::query(
        "INSERT INTO recordings (id, tenant_id, call_id, path, started_at, channels, sample_rate, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'recording', $8)",
    )
    .bind(id)
    .bind(new.tenant_id.as_str())
    .bind(new.call_id.as_str())
    .bind(new.path)
    .bind(new.started_at.as_millis())
    .bind(i64::from(new.channels))
    .bind(i64::from(new.sample_rate))
    .bind(new.created_at.as_millis())
    .execute(conn)
    .await
    .map_err(|e| StoreError::from_insert(e, format!("recording '{id}'")))?;
    Ok(())
}

/// Records the finished file: `Complete` from the recorder, `Repaired` from crash repair.
/// `NotFound` if there is no such recording.
pub async fn complete_recording(
    store: &Store,
    id: &str,
    duration_ms: i64,
    size_bytes: i64,
    sha256: &str,
    paused_json: &str,
    state: RecordingState,
) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    let done = Finished {
        duration_ms,
        size_bytes,
        sha256,
        paused_json,
        state,
    };
    complete_recording_on(&mut conn, id, &done).await
}

/// What [`complete_recording_on`] writes.
#[derive(Debug, Clone)]
pub struct Finished<'a> {
    pub duration_ms: i64,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub paused_json: &'a str,
    pub state: RecordingState,
}

/// [`complete_recording`] on `conn` (pass `&mut *tx` to make it part of a transaction).
pub async fn complete_recording_on(
    conn: &mut AnyConnection,
    id: &str,
    f: &Finished<'_>,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE recordings SET duration_ms = $2, size_bytes = $3, sha256 = $4, paused_json = $5, state = $6
         WHERE id = $1",
    )
    .bind(id)
    .bind(f.duration_ms)
    .bind(f.size_bytes)
    .bind(f.sha256)
    .bind(f.paused_json)
    .bind(f.state.as_str())
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("recording '{id}'"),
        });
    }
    Ok(())
}

/// Takes back the row of a recording that never got its file (the recorder could not create
/// it), on `conn`. Only a row still `recording` goes: a finished recording is never deleted here.
pub async fn delete_unstarted_recording_on(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recordings WHERE id = $1 AND state = 'recording'")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A recording by id alone, on `conn` (the records writer announces the row it just wrote).
pub async fn get_recording_on(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Recording>, StoreError> {
    let row: Option<RecordingRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM recordings WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(Recording::try_from).transpose()
}

/// One recording of `tenant`; `None` if there is none or it belongs to another tenant.
pub async fn get_recording(
    store: &Store,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Recording>, StoreError> {
    let row: Option<RecordingRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recordings WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(store.pool())
    .await?;
    row.map(Recording::try_from).transpose()
}

/// The recording of a call (the latest, should a call have been recorded twice).
pub async fn recording_for_call(
    store: &Store,
    tenant: &TenantId,
    call: &CallId,
) -> Result<Option<Recording>, StoreError> {
    let row: Option<RecordingRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recordings WHERE tenant_id = $1 AND call_id = $2
         ORDER BY started_at DESC, id DESC LIMIT 1"
    ))
    .bind(tenant.as_str())
    .bind(call.as_str())
    .fetch_optional(store.pool())
    .await?;
    row.map(Recording::try_from).transpose()
}

/// A position in a newest-first list of recordings: the last `(started_at, id)` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingCursor {
    pub started_at: Timestamp,
    pub id: String,
}

/// Which recordings [`list_recordings`] returns; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct RecordingFilter {
    /// Started at or after.
    pub since: Option<Timestamp>,
    /// Started before.
    pub until: Option<Timestamp>,
    /// Clamped to 1..=1000.
    pub limit: u32,
    /// Continue after this position (the previous page's `next`).
    pub before: Option<RecordingCursor>,
}

/// One page of recordings, newest first.
#[derive(Debug, Clone)]
pub struct RecordingPage {
    pub items: Vec<Recording>,
    /// Present when the page is full: pass it back as `before` for the next page.
    pub next: Option<RecordingCursor>,
}

/// A tenant's recordings, newest first by `(started_at, id)`.
pub async fn list_recordings(
    store: &Store,
    tenant: &TenantId,
    filter: &RecordingFilter,
) -> Result<RecordingPage, StoreError> {
    let limit = filter.limit.clamp(1, 1000);
    let (before_ms, before_id) = filter.before.as_ref().map_or((i64::MAX, None), |c| {
        (c.started_at.as_millis(), Some(c.id.as_str()))
    });
    let rows: Vec<RecordingRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recordings
         WHERE tenant_id = $1 AND started_at >= $2 AND started_at < $3
           AND (started_at < $4 OR (started_at = $4 AND $5 IS NOT NULL AND id < $5))
         ORDER BY started_at DESC, id DESC LIMIT $6"
    ))
    .bind(tenant.as_str())
    .bind(filter.since.map_or(i64::MIN, Timestamp::as_millis))
    .bind(filter.until.map_or(i64::MAX, Timestamp::as_millis))
    .bind(before_ms)
    .bind(before_id)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let items = collect(rows)?;
    let next = (items.len() == limit as usize)
        .then(|| items.last())
        .flatten()
        .map(|r| RecordingCursor {
            started_at: r.started_at,
            id: r.id.clone(),
        });
    Ok(RecordingPage { items, next })
}

/// Every tenant's recordings in `state`, oldest first (at start: those still `recording` are
/// the files a crash left unfinished).
pub async fn recordings_in_state(
    store: &Store,
    state: RecordingState,
    node: Option<&str>,
) -> Result<Vec<Recording>, StoreError> {
    let rows: Vec<RecordingRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM recordings WHERE state = $1
           AND ($2 IS NULL OR call_id IN (SELECT id FROM calls WHERE node = $2))
         ORDER BY started_at, id"
    ))
    .bind(state.as_str())
    .bind(node)
    .fetch_all(store.pool())
    .await?;
    collect(rows)
}
