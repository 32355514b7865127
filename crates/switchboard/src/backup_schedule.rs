//! The daily backup `serve` takes when `backup.dir` is set: at `backup.time` (UTC) it writes
//! `backup.dir/<YYYYMMDDTHHMMSSZ>/` exactly as `switchboard backup` does (database and recordings,
//! each recording checked against its SHA-256), then deletes the oldest runs beyond `backup.keep`.
//! Point `backup.dir` at another disk or a mounted share of another machine: a backup on the
//! disk it protects is no backup; `backup.copy_to` also mirrors the runs to another machine
//! ([`crate::backup_copy`]). The timing and pruning rules are pure functions, tested with a
//! set clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::{Clock, Timestamp};
use switchboard_store::{Store, backup};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// "HH:MM" → minutes after midnight.
pub fn parse_time_of_day(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some(h * 60 + m)
}

/// The first moment after `now` at `minute_of_day` (UTC).
pub fn next_run(now: Timestamp, minute_of_day: u32) -> Timestamp {
    const DAY_MS: i64 = 86_400_000;
    let ms = now.as_millis();
    let today = ms - ms.rem_euclid(DAY_MS) + i64::from(minute_of_day) * 60_000;
    Timestamp::from_millis(if today > ms { today } else { today + DAY_MS })
}

/// The folder name of a run: its UTC time, so names sort as times do.
pub fn run_name(at: Timestamp) -> String {
    at.to_utc().format("%Y%m%dT%H%M%SZ").to_string()
}

/// Of the runs in a backup folder (names from [`run_name`]), the ones to delete so that the
/// newest `keep` stay. Other names (a user's own files) are never touched.
pub fn to_prune(names: &[String], keep: usize) -> Vec<String> {
    let mut runs: Vec<&String> = names
        .iter()
        .filter(|n| n.len() == 16 && n.ends_with('Z') && n.as_bytes()[8] == b'T')
        .collect();
    runs.sort();
    let excess = runs.len().saturating_sub(keep);
    runs.into_iter().take(excess).cloned().collect()
}

/// What the daily task needs.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub dir: PathBuf,
    pub minute_of_day: u32,
    pub keep: usize,
    pub database_url: String,
    pub recordings_dir: PathBuf,
    /// Where the runs are mirrored after each one (`backup.copy_to`), if anywhere.
    pub copy_to: Option<crate::backup_copy::CopyTarget>,
}

/// Takes one backup now into `schedule.dir` and prunes old runs; logs what happened.
pub async fn run_once(store: &Store, schedule: &Schedule, now: Timestamp) {
    let dir = schedule.dir.join(run_name(now));
    match backup::create_backup(
        store,
        &schedule.database_url,
        Some(&schedule.recordings_dir),
        &dir,
        now,
    )
    .await
    {
        Ok(report) => {
            for d in &report.damaged {
                tracing::error!(recording = %d.path, problem = %d.problem, "recording not backed up");
            }
            tracing::info!(
                dir = %dir.display(),
                recordings = report.manifest.recordings.len(),
                damaged = report.damaged.len(),
                "daily backup written"
            );
            prune(&schedule.dir, schedule.keep);
            if let Some(target) = &schedule.copy_to {
                match crate::backup_copy::mirror(&schedule.dir, target).await {
                    Ok(()) => {
                        tracing::info!(dest = %target.dest, "backups copied to the other machine")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "backups not copied; the next run tries again")
                    }
                }
            }
        }
        Err(e) => tracing::error!(dir = %dir.display(), error = %e, "daily backup failed"),
    }
}

fn prune(dir: &Path, keep: usize) {
    let names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect(),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot list old backups");
            return;
        }
    };
    for old in to_prune(&names, keep) {
        let path = dir.join(&old);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => tracing::info!(dir = %path.display(), "old backup deleted"),
            Err(e) => {
                tracing::warn!(dir = %path.display(), error = %e, "cannot delete an old backup")
            }
        }
    }
}

/// The daily task; stops when `stop` says so.
pub fn spawn(
    store: Store,
    clock: Arc<dyn Clock>,
    schedule: Schedule,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = clock.now();
            let at = next_run(now, schedule.minute_of_day);
            let wait = at.since(now).max(Duration::from_secs(1));
            tokio::select! {
                _ = tokio::time::sleep(wait) => run_once(&store, &schedule, clock.now()).await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::from_utc(s.parse().unwrap_or_default())
    }

    #[test]
    fn times_of_day_are_hh_mm() {
        assert_eq!(parse_time_of_day("03:00"), Some(180));
        assert_eq!(parse_time_of_day("23:59"), Some(1439));
        for bad in ["24:00", "3:00", "03:60", "0300", "", "ab:cd"] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_next_run_is_today_if_still_ahead_else_tomorrow() {
        assert_eq!(
            next_run(at("2026-11-24T01:00:00Z"), 180),
            at("2026-11-24T03:00:00Z")
        );
        assert_eq!(
            next_run(at("2026-11-24T03:00:00Z"), 180),
            at("2026-11-25T03:00:00Z")
        );
        assert_eq!(
            next_run(at("2026-12-31T23:30:00Z"), 0),
            at("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn runs_are_named_by_time_and_only_the_oldest_beyond_keep_go() {
        assert_eq!(run_name(at("2026-11-24T03:00:07Z")), "20261124T030007Z");
        let names: Vec<String> = [
            "20261122T030000Z",
            "20261124T030000Z",
            "notes.txt",
            "20261123T030000Z",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(to_prune(&names, 2), vec!["20261122T030000Z".to_string()]);
        assert!(to_prune(&names, 5).is_empty());
    }
}
