//! Online backup and restore of the SQLite database.
//!
//! A backup is a directory holding `switchboard.db` (written by `VACUUM INTO`, which is safe
//! while the server runs) and `manifest.json` (SHA-256 of the file and the row count of every
//! table). Restore verifies both before it touches anything, and keeps the database it replaces
//! beside it as `<db>.before-restore-<timestamp>`, so a restore never loses data either.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchboard_core::Timestamp;

use crate::engine::sqlite_path;
use crate::{Engine, Store, StoreError};

/// Every table of the schema, in an order that satisfies foreign keys.
pub const TABLES: &[&str] = &[
    "tenants",
    "users",
    "api_tokens",
    "sip_credentials",
    "sip_bindings",
    "sites",
    "queues",
    "queue_members",
    "agent_states",
    "agent_state_log",
    "callback_tasks",
    "customers",
    "customer_phones",
    "calls",
    "call_legs",
    "recordings",
    "campaigns",
    "tasks",
    "task_attempts",
    "tickets",
    "audit_log",
];

const DB_FILE: &str = "switchboard.db";
const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub engine: String,
    pub created_at: Timestamp,
    pub file: String,
    pub sha256: String,
    pub row_counts: BTreeMap<String, i64>,
}

#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub manifest: Manifest,
    pub restored_to: PathBuf,
    /// Where the database that was replaced now lives, if there was one.
    pub previous_kept_at: Option<PathBuf>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::BackupIo {
        path: path.display().to_string(),
        source,
    }
}

/// Row count of every table.
pub async fn row_counts(store: &Store) -> Result<BTreeMap<String, i64>, StoreError> {
    let mut counts = BTreeMap::new();
    for table in TABLES {
        // Table names come from the constant list above, never from input.
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.pool())
            .await?;
        counts.insert((*table).to_owned(), n);
    }
    Ok(counts)
}

/// Writes a consistent copy of the running database into `dir` (which must be empty or absent).
pub async fn create_backup(
    store: &Store,
    dir: &Path,
    now: Timestamp,
) -> Result<Manifest, StoreError> {
    if store.engine() != Engine::Sqlite {
        return Err(StoreError::Backup(
            "only SQLite databases can be backed up by `switchboard backup` so far; for PostgreSQL use pg_dump".into(),
        ));
    }
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
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let db_file = dir.join(DB_FILE);
    let target = db_file
        .to_str()
        .ok_or_else(|| StoreError::Backup("backup path is not UTF-8".into()))?;
    // VACUUM INTO takes a string literal; quote it by doubling single quotes.
    sqlx::query(&format!("VACUUM INTO '{}'", target.replace('\'', "''")))
        .execute(store.pool())
        .await?;
    let manifest = Manifest {
        format: 1,
        engine: "sqlite".into(),
        created_at: now,
        file: DB_FILE.into(),
        sha256: sha256_file(&db_file)?,
        row_counts: row_counts(store).await?,
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Backup(e.to_string()))?;
    std::fs::write(&manifest_path, json).map_err(io_err(&manifest_path))?;
    Ok(manifest)
}

/// Reads the manifest and checks the database file against its SHA-256.
pub fn verify_backup(dir: &Path) -> Result<Manifest, StoreError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let bytes = std::fs::read(&manifest_path).map_err(io_err(&manifest_path))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::Backup(format!("{}: {e}", manifest_path.display())))?;
    if manifest.engine != "sqlite" || manifest.format != 1 {
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
    Ok(manifest)
}

/// Puts the backup in `dir` in place of the SQLite database at `target_url`. The server must be
/// stopped. The replaced database is kept beside the new one.
pub async fn restore_backup(
    dir: &Path,
    target_url: &str,
    now: Timestamp,
) -> Result<RestoreReport, StoreError> {
    let manifest = verify_backup(dir)?;
    let target = sqlite_path(target_url).ok_or_else(|| {
        StoreError::Backup(format!(
            "restore needs a sqlite:// database URL, got '{target_url}'"
        ))
    })?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    // Copy next to the target first and check it there, so a failed check changes nothing.
    let staged = target.with_extension(format!("restoring-{}", now.as_millis()));
    std::fs::copy(dir.join(&manifest.file), &staged).map_err(io_err(&staged))?;
    if let Err(e) = check_staged(&staged, &manifest).await {
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
    Ok(RestoreReport {
        manifest,
        restored_to: target,
        previous_kept_at,
    })
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
        let counts = row_counts(&store).await?;
        if counts != manifest.row_counts {
            return Err(StoreError::Backup(
                "row counts differ from the manifest".into(),
            ));
        }
        Ok(())
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

fn sha256_file(path: &Path) -> Result<String, StoreError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
