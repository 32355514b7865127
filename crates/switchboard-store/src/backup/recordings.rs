//! The recordings in a backup: every finished recording the store lists is copied with its
//! SHA-256 checked against the store's, and checked again from the copy when it is restored.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::io_err;
use crate::{Store, StoreError};

/// One recording in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingEntry {
    /// Relative to the recordings root (and to the backup's `recordings/`).
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// A recording the store lists that could not be backed up as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRecording {
    pub path: String,
    /// What is wrong: missing, or the file's SHA-256 differs from the store's.
    pub problem: String,
}

/// What copying the recordings found.
#[derive(Debug, Default)]
pub(super) struct Copied {
    pub(super) entries: Vec<RecordingEntry>,
    pub(super) damaged: Vec<DamagedRecording>,
    /// Recordings still being written (no SHA-256 yet): left for the next backup.
    pub(super) in_progress: u64,
}

/// A stored path we are willing to join to a root: relative, no `..`.
fn safe_relative(path: &str) -> Option<&Path> {
    let p = Path::new(path);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(p)
}

/// Reads `path` to the end, hashing it and writing each chunk to `copy` when given (as
/// `copy_to`, for error messages); returns the SHA-256 and size of what was read.
fn read_hashed(
    path: &Path,
    mut copy: Option<(&mut File, &Path)>,
) -> Result<(String, u64), StoreError> {
    let mut src = File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some((dst, to)) = copy.as_mut() {
            dst.write_all(&buf[..n]).map_err(io_err(to))?;
        }
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Copies `from` to `to` (parents created), returning the SHA-256 and size of what was read.
fn copy_hashed(from: &Path, to: &Path) -> Result<(String, u64), StoreError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let mut dst = File::create(to).map_err(io_err(to))?;
    let hashed = read_hashed(from, Some((&mut dst, to)))?;
    dst.sync_all().map_err(io_err(to))?;
    Ok(hashed)
}

/// Copies every finished recording under `root` into `dest`, checking each against the store.
pub(super) async fn back_up(store: &Store, root: &Path, dest: &Path) -> Result<Copied, StoreError> {
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT path, sha256 FROM recordings ORDER BY path")
            .fetch_all(store.pool())
            .await?;
    let mut out = Copied::default();
    for (path, expected) in rows {
        let Some(expected) = expected else {
            out.in_progress += 1;
            continue;
        };
        let Some(rel) = safe_relative(&path) else {
            out.damaged.push(DamagedRecording {
                path,
                problem: "the stored path is not a plain relative path".into(),
            });
            continue;
        };
        let from = root.join(rel);
        if !from.exists() {
            out.damaged.push(DamagedRecording {
                path,
                problem: "the file is missing".into(),
            });
            continue;
        }
        let to = dest.join(rel);
        let (sha256, size) = copy_hashed(&from, &to)?;
        if sha256 != expected {
            let _ = std::fs::remove_file(&to);
            out.damaged.push(DamagedRecording {
                path,
                problem: format!("SHA-256 {sha256} differs from the stored {expected}"),
            });
            continue;
        }
        out.entries.push(RecordingEntry { path, sha256, size });
    }
    Ok(out)
}

/// SHA-256 of a file.
pub(super) fn sha256_file(path: &Path) -> Result<String, StoreError> {
    Ok(read_hashed(path, None)?.0)
}

/// Checks every recording of a backup against its manifest entry.
pub(super) fn verify(dir: &Path, entries: &[RecordingEntry]) -> Result<(), StoreError> {
    for e in entries {
        let rel = safe_relative(&e.path)
            .ok_or_else(|| StoreError::Backup(format!("bad recording path {}", e.path)))?;
        let file = dir.join(rel);
        let actual = sha256_file(&file)?;
        if actual != e.sha256 {
            return Err(StoreError::Backup(format!(
                "{} is damaged: SHA-256 {actual} does not match the manifest's {}",
                file.display(),
                e.sha256
            )));
        }
    }
    Ok(())
}

/// Puts a backup's recordings under `root`: a file already there with the same content is left,
/// one with other content is kept beside as `<file>.before-restore-<stamp>`. Returns how many
/// files were written.
pub(super) fn restore(
    dir: &Path,
    entries: &[RecordingEntry],
    root: &Path,
    stamp: i64,
) -> Result<u64, StoreError> {
    let mut written = 0;
    for e in entries {
        let rel = safe_relative(&e.path)
            .ok_or_else(|| StoreError::Backup(format!("bad recording path {}", e.path)))?;
        let target = root.join(rel);
        if target.exists() {
            if sha256_file(&target)? == e.sha256 {
                continue;
            }
            let kept = PathBuf::from(format!("{}.before-restore-{stamp}", target.display()));
            std::fs::rename(&target, &kept).map_err(io_err(&target))?;
        }
        let staged = PathBuf::from(format!("{}.restoring", target.display()));
        let (sha256, _) = copy_hashed(&dir.join(rel), &staged)?;
        if sha256 != e.sha256 {
            let _ = std::fs::remove_file(&staged);
            return Err(StoreError::Backup(format!(
                "{} changed while it was restored",
                e.path
            )));
        }
        std::fs::rename(&staged, &target).map_err(io_err(&target))?;
        written += 1;
    }
    Ok(written)
}
