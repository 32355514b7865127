//! What the daily-backup tests share: a store with one tenant, the folders a daily run writes
//! and reads, the run's settings, and a folder's listing.

// Test support: a failed set-up step should stop the test loudly; each test uses only part.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use switchboard::backup_copy::CopyTarget;
use switchboard::backup_schedule::Schedule;
use switchboard_store::testing::{TestDb, tenant};

/// A SQLite store with tenant "acme", an empty backup folder and an empty recordings folder.
pub struct Daily {
    pub db: TestDb,
    pub out: tempfile::TempDir,
    pub recordings: tempfile::TempDir,
}

impl Daily {
    pub async fn new() -> Daily {
        let db = TestDb::sqlite().await;
        tenant(&db.store, "acme").await;
        Daily {
            db,
            out: tempfile::tempdir().unwrap(),
            recordings: tempfile::tempdir().unwrap(),
        }
    }

    /// The daily run at 03:00 into `out`, keeping `keep` runs, mirrored to `copy_to`.
    pub fn schedule(&self, keep: usize, copy_to: Option<CopyTarget>) -> Schedule {
        Schedule {
            dir: self.out.path().to_path_buf(),
            minute_of_day: 180,
            keep,
            database_url: self.db.url.clone(),
            recordings_dir: self.recordings.path().to_path_buf(),
            copy_to,
        }
    }
}

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}
