//! The daily retention job: deletes the audio of recordings older than their tenant's
//! retention (`PUT /qa/retention`, default and minimum 30 days) and marks their rows
//! (`deleted_at`), so the search and the player show the call as expired rather than failing.
//!
//! The decision is the pure [`switchboard_recording::retention::has_expired`] with the `now`
//! given; this module only reads candidates, removes files and writes the marks. A file that is
//! already gone is marked all the same; a file that cannot be removed is left, logged, and tried
//! again the next day. Rows are never deleted: the call's history, score and comments stay.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchboard_core::{Clock, TenantId, Timestamp};
use switchboard_recording::retention::{
    DEFAULT_RETENTION_DAYS, Kept, MIN_RETENTION_DAYS, has_expired,
};
use switchboard_store::{Store, StoreError, audit, qa};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often `serve` runs the job.
pub const RUN_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Candidates read per query.
const BATCH: i64 = 500;

/// What went wrong reading or marking the store (file errors are logged per file instead).
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Recordings whose audio was deleted (or found already gone) and marked.
    pub deleted: usize,
    /// Files that could not be removed (left for the next run).
    pub failed: usize,
}

/// One run at `now`: every expired recording's file under `root` is removed and its row marked.
pub async fn run_once(
    store: &Store,
    root: &Path,
    now: Timestamp,
) -> Result<RetentionReport, RetentionError> {
    let mut report = RetentionReport::default();
    // Files that could not be removed stay candidates: read past them in the next batch.
    let mut failed = std::collections::BTreeSet::new();
    loop {
        let limit = BATCH + failed.len() as i64;
        let batch = qa::expired_candidates(
            store,
            now,
            i64::from(DEFAULT_RETENTION_DAYS),
            i64::from(MIN_RETENTION_DAYS),
            limit,
        )
        .await?;
        let mut progressed = false;
        for k in &batch {
            if failed.contains(&k.id) {
                continue;
            }
            let decision = Kept {
                started_at: Timestamp::from_millis(k.started_at),
                finished: k.state != "recording",
                retention_days: k.recording_days.and_then(|d| u32::try_from(d).ok()),
            };
            // The query applies the same rule; the pure function has the last word.
            if !has_expired(&decision, now) {
                failed.insert(k.id.clone());
                continue;
            }
            if let Err(e) = remove(root, &k.path) {
                report.failed += 1;
                tracing::warn!(recording = %k.id, error = %e, "expired recording could not be deleted; retrying next run");
                failed.insert(k.id.clone());
                continue;
            }
            progressed = true;
            if qa::mark_deleted(store, &k.id, now).await? {
                report.deleted += 1;
                let days = k
                    .recording_days
                    .unwrap_or(i64::from(DEFAULT_RETENTION_DAYS));
                tracing::info!(recording = %k.id, tenant = %k.tenant_id, days, "recording expired: audio deleted");
                audit::append(
                    store,
                    &TenantId::from(k.tenant_id.as_str()),
                    None,
                    "recording.expired",
                    &k.id,
                    &json!({
                        "started_at": Timestamp::from_millis(k.started_at).to_string(),
                        "retention_days": days,
                    }),
                    now,
                )
                .await?;
            }
        }
        if (batch.len() as i64) < limit || !progressed {
            break;
        }
    }
    Ok(report)
}

/// Removes `root/relative`; a missing file counts as removed. Paths that leave the root are
/// refused (a corrupt row never deletes anything outside it).
fn remove(root: &Path, relative: &str) -> std::io::Result<()> {
    let rel = Path::new(relative);
    let plain = !relative.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !plain {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("path {relative:?} leaves the recordings root"),
        ));
    }
    match std::fs::remove_file(root.join(rel)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Runs [`run_once`] at start and then every `interval` until `stop` turns true.
pub fn spawn(
    store: Store,
    clock: Arc<dyn Clock>,
    root: std::path::PathBuf,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_once(&store, &root, clock.now()).await {
                Ok(r) if r.deleted > 0 || r.failed > 0 => {
                    tracing::info!(deleted = r.deleted, failed = r.failed, "retention run");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention run failed; retrying next run"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    })
}
