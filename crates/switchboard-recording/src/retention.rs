//! Which recordings have outlived the retention period.
//!
//! A recording's age is read from its place in the layout (`YYYY/MM/DD`, the UTC day the call
//! started), not from the file's modification time, which a copy or restore would reset. The day
//! is counted as ending at the following midnight UTC, so a recording is never listed before a
//! full retention period has passed since its call started. Files outside the layout are left
//! alone. This only lists; deleting (and the store rows) is the caller's decision.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{Days, NaiveTime};
use switchboard_core::{CallId, Timestamp};

use crate::layout;

/// Why the recordings tree could not be scanned.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One recording past its retention period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredRecording {
    pub path: PathBuf,
    /// The call, when the file name decodes to one.
    pub call_id: Option<CallId>,
    /// UTC day the call started.
    pub date: chrono::NaiveDate,
}

/// Recordings under `root` whose call day ended at least `retention` before `now`, sorted by
/// path (so oldest first).
pub fn expired_recordings(
    root: &Path,
    retention: Duration,
    now: Timestamp,
) -> Result<Vec<ExpiredRecording>, RetentionError> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut expired = Vec::new();
    for path in crate::walk::wav_files(root)? {
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let Some(date) = layout::date_of(relative) else {
            continue;
        };
        let Some(day_end) = date.checked_add_days(Days::new(1)) else {
            continue;
        };
        let day_end = Timestamp::from_utc(day_end.and_time(NaiveTime::MIN).and_utc());
        if day_end + retention <= now {
            let call_id = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(layout::call_id_from_file_name);
            expired.push(ExpiredRecording {
                path,
                call_id,
                date,
            });
        }
    }
    Ok(expired)
}

/// Fewest days a tenant may keep recordings (the service's floor; the law may ask for longer).
pub const MIN_RETENTION_DAYS: u32 = 30;
/// What a tenant keeps without a setting of its own.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Most days a setting may say (about 100 years): beyond that it is a typing error.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// A recording still on disk, as the retention decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub started_at: Timestamp,
    /// False while the call is still being recorded: such a file is never deleted.
    pub finished: bool,
    /// The tenant's retention setting; `None` means [`DEFAULT_RETENTION_DAYS`].
    pub retention_days: Option<u32>,
}

/// Whether `rec` has outlived its tenant's retention at `now`: a full `days × 24 h` since the
/// call started, with the days never fewer than [`MIN_RETENTION_DAYS`] whatever the setting
/// says (a row written before a floor was raised cannot delete early).
pub fn has_expired(rec: &Kept, now: Timestamp) -> bool {
    let days = rec
        .retention_days
        .unwrap_or(DEFAULT_RETENTION_DAYS)
        .max(MIN_RETENTION_DAYS);
    rec.finished && rec.started_at + Duration::from_secs(u64::from(days) * 86_400) <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    fn at(iso: &str) -> Timestamp {
        Timestamp::from_utc(chrono::DateTime::parse_from_rfc3339(iso).unwrap().to_utc())
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn recording_expires_only_after_a_full_retention_period_from_its_day() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "2026/01/01/old-call.wav");
        touch(dir.path(), "2026/01/02/newer-call.wav");
        touch(dir.path(), "2026/01/01/notes.txt");
        touch(dir.path(), "stray/elsewhere.wav");

        // 1 January ends at 2 January 00:00 UTC; 90 days later is 2 April 00:00 UTC.
        let just_before =
            expired_recordings(dir.path(), 90 * DAY, at("2026-04-01T23:59:59Z")).unwrap();
        assert!(just_before.is_empty());

        let listed = expired_recordings(dir.path(), 90 * DAY, at("2026-04-02T00:00:00Z")).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].call_id, Some(CallId::from("old-call")));
        assert_eq!(
            listed[0].date,
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
        );

        let both = expired_recordings(dir.path(), 90 * DAY, at("2026-05-01T00:00:00Z")).unwrap();
        assert_eq!(both.len(), 2);
        assert!(both[0].path < both[1].path);
    }

    #[test]
    fn missing_root_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let listed =
            expired_recordings(&dir.path().join("none"), DAY, at("2030-01-01T00:00:00Z")).unwrap();
        assert!(listed.is_empty());
    }

    fn kept(started: &str, days: Option<u32>) -> Kept {
        Kept {
            started_at: at(started),
            finished: true,
            retention_days: days,
        }
    }

    #[test]
    fn a_recording_expires_a_full_retention_period_after_its_call_started() {
        let rec = kept("2026-01-01T10:00:00Z", None);
        assert!(!has_expired(&rec, at("2026-01-31T09:59:59Z")));
        assert!(has_expired(&rec, at("2026-01-31T10:00:00Z")));
        let long = kept("2026-01-01T10:00:00Z", Some(365));
        assert!(!has_expired(&long, at("2026-12-31T23:00:00Z")));
        assert!(has_expired(&long, at("2027-01-01T10:00:00Z")));
    }

    #[test]
    fn never_fewer_than_30_days_and_never_a_file_still_recording() {
        let short = kept("2026-01-01T10:00:00Z", Some(7));
        assert!(!has_expired(&short, at("2026-01-20T00:00:00Z")));
        assert!(has_expired(&short, at("2026-01-31T10:00:00Z")));
        let open = Kept {
            finished: false,
            ..kept("2020-01-01T00:00:00Z", None)
        };
        assert!(!has_expired(&open, at("2026-01-01T00:00:00Z")));
    }
}
