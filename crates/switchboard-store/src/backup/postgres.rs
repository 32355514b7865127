//! PostgreSQL through its own tools: `pg_dump --format=custom` of the store's schema, and
//! `pg_restore --clean` back into it. The tools come with the PostgreSQL client package
//! (`postgresql-client`); `SWITCHBOARD_PG_BIN` names their directory when they are not on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Store, StoreError};

fn tool(name: &str) -> PathBuf {
    match std::env::var_os("SWITCHBOARD_PG_BIN") {
        Some(dir) => Path::new(&dir).join(name),
        None => PathBuf::from(name),
    }
}

fn run(mut command: Command, what: &str) -> Result<(), StoreError> {
    let out = command.output().map_err(|e| {
        StoreError::Backup(format!(
            "cannot run {what} ({e}); install the PostgreSQL client tools or set SWITCHBOARD_PG_BIN"
        ))
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(StoreError::Backup(format!(
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// The schema the store's tables live in (`public` unless the URL sets a search path).
pub(super) async fn current_schema(store: &Store) -> Result<String, StoreError> {
    Ok(sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(store.pool())
        .await?)
}

/// Dumps `schema` of the database at `url` into `out`.
pub(super) fn dump(url: &str, schema: &str, out: &Path) -> Result<(), StoreError> {
    let mut c = Command::new(tool("pg_dump"));
    c.arg("--format=custom")
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg("--schema")
        .arg(schema)
        .arg("--file")
        .arg(out)
        .arg("--dbname")
        .arg(url);
    run(c, "pg_dump")
}

/// Restores `file` into the database at `url`, dropping what the dump recreates first, in one
/// transaction (a failure changes nothing).
pub(super) fn restore(url: &str, file: &Path) -> Result<(), StoreError> {
    let mut c = Command::new(tool("pg_restore"));
    c.arg("--clean")
        .arg("--if-exists")
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg("--single-transaction")
        .arg("--exit-on-error")
        .arg("--dbname")
        .arg(url)
        .arg(file);
    run(c, "pg_restore")
}
