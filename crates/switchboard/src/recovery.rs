//! After an unclean stop (`kill -9`, power loss): recordings are repaired before anything else
//! runs, and the rows of recordings that were still being written are completed from what the
//! file now holds. (Calls left open are closed by the SIP service at start.)

use std::path::Path;

use switchboard_recording::RepairAction;
use switchboard_recording::recorder::hash_file;
use switchboard_store::Store;
use switchboard_store::recordings::{self, RecordingState};

use crate::config::Config;

/// Repairs the recordings directory and completes interrupted recording rows. Failures are
/// logged, never fatal: a damaged file must not keep the phones down.
pub async fn recover(config: &Config, store: &Store) {
    let root = config.storage.recordings_dir.clone();
    let scan_root = root.clone();
    match tokio::task::spawn_blocking(move || switchboard_recording::repair::repair_all(&scan_root))
        .await
    {
        Ok(Ok(report)) => {
            let repaired = report
                .repaired
                .iter()
                .filter(|(_, a)| matches!(a, RepairAction::Repaired { .. }))
                .count();
            if repaired > 0 || !report.failed.is_empty() {
                tracing::warn!(
                    repaired,
                    failed = report.failed.len(),
                    "recordings left by an unclean stop were repaired"
                );
            }
            for (path, error) in &report.failed {
                tracing::error!(path = %path.display(), %error, "recording could not be repaired");
            }
        }
        Ok(Err(e)) => tracing::error!(error = %e, "scanning recordings for repair failed"),
        Err(e) => tracing::error!(error = %e, "recording repair panicked"),
    }
    // In a cluster the other nodes' recordings in progress are theirs (and in their directory).
    let node = (!config.cluster.node.is_empty()).then_some(config.cluster.node.as_str());
    complete_interrupted_rows(store, &root, node).await;
}

async fn complete_interrupted_rows(store: &Store, root: &Path, node: Option<&str>) {
    let rows = match recordings::recordings_in_state(store, RecordingState::Recording, node).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "listing interrupted recordings failed");
            return;
        }
    };
    for row in rows {
        let path = root.join(&row.path);
        let measured = tokio::task::spawn_blocking(move || measure(&path)).await;
        let Ok(Ok((duration_ms, size, sha))) = measured else {
            tracing::warn!(recording = %row.id, path = %row.path, "interrupted recording file unreadable");
            continue;
        };
        if let Err(e) = recordings::complete_recording(
            store,
            &row.id,
            duration_ms,
            size,
            &sha,
            &row.paused_json,
            RecordingState::Repaired,
        )
        .await
        {
            tracing::error!(recording = %row.id, error = %e, "completing a recording row failed");
        }
    }
}

/// Duration (from the repaired header), size and SHA-256 of a recording file.
fn measure(path: &Path) -> Result<(i64, i64, String), String> {
    let reader = hound::WavReader::open(path).map_err(|e| e.to_string())?;
    let rate = i64::from(reader.spec().sample_rate.max(1));
    let frames = i64::from(reader.duration());
    drop(reader);
    let (size, sha) = hash_file(path).map_err(|e| e.to_string())?;
    Ok((
        frames * 1000 / rate,
        i64::try_from(size).unwrap_or(i64::MAX),
        sha,
    ))
}
