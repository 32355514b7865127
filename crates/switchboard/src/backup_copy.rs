//! The copy of the daily backups on another machine (`backup.copy_to`): after each run `serve`
//! mirrors the runs in `backup.dir` there with rsync — a local path (a mounted share), or
//! `[user@]host:path` over SSH with key authentication. rsync checks every file it moves by a
//! whole-file checksum, sends only what the other side lacks, and deletes there the runs pruned
//! here; other files at the destination are left alone. A copy that fails (the host is down) is
//! logged and simply caught up by the next day's run.

use std::path::Path;
use std::time::Duration;

use thiserror::Error;

/// How long one mirror may take before it is given up (a hung SSH connection must not stop
/// the next day's backup).
const COPY_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Error)]
pub enum CopyError {
    #[error("cannot run rsync: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("rsync to {dest} failed ({status}): {stderr}")]
    Failed {
        dest: String,
        status: String,
        stderr: String,
    },
    #[error("rsync to {dest} did not finish within {secs} s")]
    TimedOut { dest: String, secs: u64 },
}

/// The rsync arguments that mirror the run folders of `dir` into `dest`.
///
/// The filter takes only names shaped like a run (`YYYYMMDDTHHMMSSZ/`) and everything in them;
/// rsync's `--delete` only ever removes what the filter takes, so a user's own files at the
/// destination stay. `BatchMode` makes SSH fail instead of waiting for a password nobody types.
pub fn rsync_args(dir: &Path, dest: &str) -> Vec<String> {
    let mut source = dir.display().to_string();
    if !source.ends_with('/') {
        // The trailing slash copies the folder's contents, not the folder itself.
        source.push('/');
    }
    vec![
        "--archive".into(),
        "--delete".into(),
        "--partial".into(),
        "--include=/[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z/***"
            .into(),
        "--exclude=*".into(),
        "--rsh=ssh -o BatchMode=yes -o ConnectTimeout=20".into(),
        source,
        dest.to_owned(),
    ]
}

/// Mirrors the runs of `dir` into `dest`.
pub async fn mirror(dir: &Path, dest: &str) -> Result<(), CopyError> {
    let run = tokio::process::Command::new("rsync")
        .args(rsync_args(dir, dest))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(COPY_TIMEOUT, run)
        .await
        .map_err(|_| CopyError::TimedOut {
            dest: dest.to_owned(),
            secs: COPY_TIMEOUT.as_secs(),
        })?
        .map_err(CopyError::Spawn)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CopyError::Failed {
            dest: dest.to_owned(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Whether rsync can be run here: checked at start when `backup.copy_to` is set, so a missing
/// tool stops `serve` with the key's name instead of failing quietly at 03:00.
pub fn rsync_available() -> bool {
    std::process::Command::new("rsync")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_is_the_folders_contents_and_only_runs_are_taken() {
        let args = rsync_args(Path::new("/backups"), "vault:/srv/switchboard");
        assert_eq!(args[args.len() - 2], "/backups/");
        assert_eq!(args[args.len() - 1], "vault:/srv/switchboard");
        let include = args.iter().position(|a| a.starts_with("--include="));
        let exclude = args.iter().position(|a| a == "--exclude=*");
        assert!(include.is_some() && include < exclude, "{args:?}");
        assert_eq!(rsync_args(Path::new("/backups/"), "x")[6], "/backups/");
    }
}
