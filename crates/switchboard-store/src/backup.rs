//! Backup and restore of the database and the recordings.
//!
//! A backup is a directory holding the database (`switchboard.db` written by SQLite's
//! `VACUUM INTO`, or `switchboard.pgdump` written by `pg_dump`; both are safe while the server
//! runs), `recordings/` (every finished recording, each checked against the SHA-256 the store
//! holds for it while it is copied) and `manifest.json` (SHA-256 of every file and the row count
//! of every table). Restore verifies all of it before it touches anything, keeps a replaced SQLite
//! database beside the new one as `<db>.before-restore-<timestamp>`, restores PostgreSQL in one
//! transaction, and leaves a recording already in place with the same content alone (one with
//! other content is kept as `<file>.before-restore-<timestamp>`), so a restore never loses data.

mod postgres;
mod recordings;

pub use recordings::{DamagedRecording, RecordingEntry};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use switchboard_core::Timestamp;

use crate::engine::sqlite_path;
use crate::{Engine, Store, StoreError};
use recordings::sha256_file;

/// The manifest format this version writes (1: SQLite only, no recordings; still restorable).
pub const FORMAT: u32 = 2;
const SQLITE_FILE: &str = "switchboard.db";
const PG_FILE: &str = "switchboard.pgdump";
const MANIFEST_FILE: &str = "manifest.json";
const RECORDINGS_DIR: &str = "recordings";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// `sqlite` or `postgres`.
    pub engine: String,
    pub created_at: Timestamp,
    pub file: String,
    pub sha256: String,
    pub row_counts: BTreeMap<String, i64>,
    /// The recordings copied (absent in format 1).
    #[serde(default)]
    pub recordings: Vec<RecordingEntry>,
    /// Recordings still being written at the time (no SHA-256 yet), left for the next backup.
    #[serde(default)]
    pub recordings_in_progress: u64,
}

/// What [`create_backup`] did.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub manifest: Manifest,
    /// Recordings the store lists whose file is missing or differs from its SHA-256: not in the
    /// backup. The backup is complete otherwise; the caller should make this loud.
    pub damaged: Vec<DamagedRecording>,
}

#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// The SQLite file or the PostgreSQL URL (password hidden) restored.
    pub restored_to: String,
    /// Where the database that was replaced now lives, if there was one (SQLite).
    pub previous_kept_at: Option<PathBuf>,
    /// Recording files written (the others were already in place).
    pub recordings_written: u64,
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::BackupIo {
        path: path.display().to_string(),
        source,
    }
}

/// The tables of the store's schema, in name order (from the catalogue, so new tables are
/// always counted).
async fn tables(store: &Store) -> Result<Vec<String>, StoreError> {
    let sql = match store.engine() {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        }
        Engine::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        }
    };
    Ok(sqlx::query_scalar(sql).fetch_all(store.pool()).await?)
}

/// Row count of every table.
pub async fn row_counts(store: &Store) -> Result<BTreeMap<String, i64>, StoreError> {
    let mut counts = BTreeMap::new();
    for table in tables(store).await? {
        // The name comes from the catalogue, quoted as an identifier.
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM \"{}\"",
            table.replace('"', "\"\"")
        ))
        .fetch_one(store.pool())
        .await?;
        counts.insert(table, n);
    }
    Ok(counts)
}

fn ensure_empty_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(io_err(dir))?
            .next()
            .is_some()
    {
        return Err(StoreError::Backup(format!(
            "{} is not empty",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))
}

/// Writes a consistent copy of the running database (reached at `url`) and of the recordings
/// under `recordings_root` into `dir`, which must be empty or absent.
pub async fn create_backup(
    store: &Store,
    url: &str,
    recordings_root: Option<&Path>,
    dir: &Path,
    now: Timestamp,
) -> Result<BackupReport, StoreError> {
    ensure_empty_dir(dir)?;
    let (engine, file) = match store.engine() {
        Engine::Sqlite => {
            let db_file = dir.join(SQLITE_FILE);
            let target = db_file
                .to_str()
                .ok_or_else(|| StoreError::Backup("backup path is not UTF-8".into()))?;
            // VACUUM INTO takes a string literal; quote it by doubling single quotes.
            sqlx::query(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
                .execute(store.pool())
                .await?;
            ("sqlite", SQLITE_FILE)
        }
        Engine::Postgres => {
            let schema = postgres::current_schema(store).await?;
            let out = dir.join(PG_FILE);
            let url = url.to_owned();
            tokio::task::spawn_blocking(move || postgres::dump(&url, &schema, &out))
                .await
                .map_err(|e| StoreError::Backup(format!("pg_dump task: {e}")))??;
            ("postgres", PG_FILE)
        }
    };
    // Counted after the dump: rows written meanwhile make the counts differ, which a restore
    // reports rather than hides (see `check_counts`).
    let row_counts = row_counts(store).await?;
    let copied = match recordings_root {
        Some(root) => recordings::back_up(store, root, &dir.join(RECORDINGS_DIR)).await?,
        None => recordings::Copied::default(),
    };
    let manifest = Manifest {
        format: FORMAT,
        engine: engine.into(),
        created_at: now,
        file: file.into(),
        sha256: sha256_file(&dir.join(file))?,
        row_counts,
        recordings: copied.entries,
        recordings_in_progress: copied.in_progress,
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Backup(e.to_string()))?;
    std::fs::write(&manifest_path, json).map_err(io_err(&manifest_path))?;
    Ok(BackupReport {
        manifest,
        damaged: copied.damaged,
    })
}

/// Reads the manifest and checks the database file and every recording against their SHA-256.
pub fn verify_backup(dir: &Path) -> Result<Manifest, StoreError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let bytes = std::fs::read(&manifest_path).map_err(io_err(&manifest_path))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::Backup(format!("{}: {e}", manifest_path.display())))?;
    let known = matches!(
        (manifest.format, manifest.engine.as_str()),
        (1, "sqlite") | (FORMAT, "sqlite" | "postgres")
    );
    if !known {
        return Err(StoreError::Backup(format!(
            "unsupported backup (engine {}, format {})",
            manifest.engine, manifest.format
        )));
    }
    let db_file = dir.join(&manifest.file);
    let actual = sha256_file(&db_file)?;
    if actual != manifest.sha256 {
        return Err(StoreError::Backup(format!(
            "{} is damaged: SHA-256 {actual} does not match the manifest's {}",
            db_file.display(),
            manifest.sha256
        )));
    }
    recordings::verify(&dir.join(RECORDINGS_DIR), &manifest.recordings)?;
    Ok(manifest)
}

/// Puts the backup in `dir` in place of the database at `target_url` (the server must be
/// stopped) and its recordings under `recordings_root`.
pub async fn restore_backup(
    dir: &Path,
    target_url: &str,
    recordings_root: Option<&Path>,
    now: Timestamp,
) -> Result<RestoreReport, StoreError> {
    let manifest = verify_backup(dir)?;
    let (restored_to, previous_kept_at) = match manifest.engine.as_str() {
        "postgres" => {
            if !(target_url.starts_with("postgres://") || target_url.starts_with("postgresql://")) {
                return Err(StoreError::Backup(format!(
                    "this is a PostgreSQL backup; database.url must be a postgres:// URL, got '{}'",
                    crate::redact_url(target_url)
                )));
            }
            restore_postgres(dir, &manifest, target_url).await?;
            (crate::redact_url(target_url), None)
        }
        _ => {
            let (target, kept) = restore_sqlite(dir, &manifest, target_url, now).await?;
            (target.display().to_string(), kept)
        }
    };
    let recordings_written = match recordings_root {
        Some(root) => recordings::restore(
            &dir.join(RECORDINGS_DIR),
            &manifest.recordings,
            root,
            now.as_millis(),
        )?,
        None if manifest.recordings.is_empty() => 0,
        None => {
            return Err(StoreError::Backup(
                "the backup holds recordings but no recordings directory is configured".into(),
            ));
        }
    };
    Ok(RestoreReport {
        manifest,
        restored_to,
        previous_kept_at,
        recordings_written,
    })
}

async fn restore_postgres(dir: &Path, manifest: &Manifest, url: &str) -> Result<(), StoreError> {
    let file = dir.join(&manifest.file);
    let url_owned = url.to_owned();
    tokio::task::spawn_blocking(move || postgres::restore(&url_owned, &file))
        .await
        .map_err(|e| StoreError::Backup(format!("pg_restore task: {e}")))??;
    let store = Store::connect(url).await?;
    let result = check_counts(&store, manifest).await;
    store.close().await;
    result
}

async fn restore_sqlite(
    dir: &Path,
    manifest: &Manifest,
    target_url: &str,
    now: Timestamp,
) -> Result<(PathBuf, Option<PathBuf>), StoreError> {
    let target = sqlite_path(target_url).ok_or_else(|| {
        StoreError::Backup(format!(
            "this is a SQLite backup; database.url must be a sqlite:// URL, got '{}'",
            crate::redact_url(target_url)
        ))
    })?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    // Copy next to the target first and check it there, so a failed check changes nothing.
    let staged = target.with_extension(format!("restoring-{}", now.as_millis()));
    std::fs::copy(dir.join(&manifest.file), &staged).map_err(io_err(&staged))?;
    if let Err(e) = check_staged(&staged, manifest).await {
        remove_db_files(&staged);
        return Err(e);
    }
    let previous_kept_at = if target.exists() {
        let kept = PathBuf::from(format!(
            "{}.before-restore-{}",
            target.display(),
            now.as_millis()
        ));
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", target.display()));
            if from.exists() {
                let to = PathBuf::from(format!("{}{suffix}", kept.display()));
                std::fs::rename(&from, &to).map_err(io_err(&from))?;
            }
        }
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&staged, &target).map_err(io_err(&target))?;
    Ok((target, previous_kept_at))
}

/// The restored database has the rows the manifest counted.
async fn check_counts(store: &Store, manifest: &Manifest) -> Result<(), StoreError> {
    let counts = row_counts(store).await?;
    if manifest.format >= FORMAT && counts != manifest.row_counts {
        let differ: Vec<String> = manifest
            .row_counts
            .iter()
            .filter(|(t, n)| counts.get(*t) != Some(*n))
            .map(|(t, n)| {
                format!(
                    "{t}: {} restored, {n} in the manifest",
                    counts.get(t).copied().unwrap_or(0)
                )
            })
            .collect();
        return Err(StoreError::Backup(format!(
            "row counts differ from the manifest ({})",
            differ.join("; ")
        )));
    }
    Ok(())
}

async fn check_staged(staged: &Path, manifest: &Manifest) -> Result<(), StoreError> {
    let store = Store::connect(&format!("sqlite://{}", staged.display())).await?;
    let result = async {
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(store.pool())
            .await?;
        if verdict != "ok" {
            return Err(StoreError::Backup(format!(
                "integrity check failed: {verdict}"
            )));
        }
        check_counts(&store, manifest).await
    }
    .await;
    store.close().await;
    remove_db_files_sidecars(staged);
    result
}

fn remove_db_files_sidecars(db: &Path) {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

fn remove_db_files(db: &Path) {
    let _ = std::fs::remove_file(db);
    remove_db_files_sidecars(db);
}
