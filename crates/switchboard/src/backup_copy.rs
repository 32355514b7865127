//! The copy of the daily backups on another machine (`backup.copy_to`): after each run `serve`
//! mirrors the runs in `backup.dir` there with rsync — a local path (a mounted share), or
//! `[user@]host:path` over SSH with key authentication. rsync checks every file it moves by a
//! whole-file checksum, sends only what the other side lacks, and deletes there the runs pruned
//! here; other files at the destination are left alone. A copy that fails (the host is down) is
//! logged and simply caught up by the next day's run.
//!
//! Over SSH the backup host is only ever reached with a key and a known host key: `BatchMode`
//! turns a password prompt or an unknown host into a failed copy (in the log) instead of a hung
//! one, and `backup.ssh_key` / `backup.ssh_known_hosts` / `backup.ssh_port` give the service a
//! key and a host list of its own rather than whatever its user's `~/.ssh` holds.

use std::path::{Path, PathBuf};
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

/// How SSH reaches the backup host; `None` leaves ssh's own default (port 22, the service
/// user's `~/.ssh` keys and known hosts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshOptions {
    pub port: Option<u16>,
    /// Private key to log in with (and no other).
    pub identity: Option<PathBuf>,
    /// The host keys to trust; a host not in it is refused.
    pub known_hosts: Option<PathBuf>,
}

/// Where the runs are mirrored, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyTarget {
    /// A local path or `[user@]host:path`.
    pub dest: String,
    pub ssh: SshOptions,
}

/// Whether rsync takes `dest` as another machine's (`host:path`, a colon before any slash)
/// rather than a local path.
pub fn is_remote(dest: &str) -> bool {
    match (dest.find(':'), dest.find('/')) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Why a path cannot be handed to ssh through rsync's `--rsh` (which splits on spaces and
/// honours quotes, but has no escape for a quote inside quotes).
pub fn unquotable(path: &Path) -> Option<&'static str> {
    let s = path.to_str()?;
    (s.contains('\'') || s.contains('"')).then_some("must not contain quotes")
}

/// The ssh command rsync runs (its `--rsh`), paths single-quoted.
fn ssh_command(ssh: &SshOptions) -> String {
    let mut cmd = String::from("ssh -o BatchMode=yes -o ConnectTimeout=20");
    if let Some(port) = ssh.port {
        cmd.push_str(&format!(" -p {port}"));
    }
    if let Some(key) = &ssh.identity {
        cmd.push_str(&format!(" -i '{}' -o IdentitiesOnly=yes", key.display()));
    }
    if let Some(hosts) = &ssh.known_hosts {
        cmd.push_str(&format!(
            " -o UserKnownHostsFile='{}' -o StrictHostKeyChecking=yes",
            hosts.display()
        ));
    }
    cmd
}

/// The rsync arguments that mirror the run folders of `dir` into `target`.
///
/// The filter takes only names shaped like a run (`YYYYMMDDTHHMMSSZ/`) and everything in them;
/// rsync's `--delete` only ever removes what the filter takes, so a user's own files at the
/// destination stay. `BatchMode` makes SSH fail instead of waiting for a password nobody types.
pub fn rsync_args(dir: &Path, target: &CopyTarget) -> Vec<String> {
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
        format!("--rsh={}", ssh_command(&target.ssh)),
        source,
        target.dest.clone(),
    ]
}

/// Mirrors the runs of `dir` into `target`.
pub async fn mirror(dir: &Path, target: &CopyTarget) -> Result<(), CopyError> {
    let dest = &target.dest;
    let run = tokio::process::Command::new("rsync")
        .args(rsync_args(dir, target))
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

/// Whether `tool` runs here, asked for its version with `version_flag` (`rsync --version`,
/// `ssh -V`: both exit 0 without touching the network). Checked at start when
/// `backup.copy_to` is set, so a missing tool stops `serve` with the key's name instead of
/// failing quietly at 03:00.
pub fn tool_available(tool: &str, version_flag: &str) -> bool {
    std::process::Command::new(tool)
        .arg(version_flag)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(dest: &str) -> CopyTarget {
        CopyTarget {
            dest: dest.into(),
            ssh: SshOptions::default(),
        }
    }

    #[test]
    fn the_source_is_the_folders_contents_and_only_runs_are_taken() {
        let args = rsync_args(Path::new("/backups"), &to("vault:/srv/switchboard"));
        assert_eq!(args[args.len() - 2], "/backups/");
        assert_eq!(args[args.len() - 1], "vault:/srv/switchboard");
        let include = args.iter().position(|a| a.starts_with("--include="));
        let exclude = args.iter().position(|a| a == "--exclude=*");
        assert!(include.is_some() && include < exclude, "{args:?}");
        assert_eq!(rsync_args(Path::new("/backups/"), &to("x"))[6], "/backups/");
    }

    #[test]
    fn ssh_gets_the_port_the_key_alone_and_the_known_hosts_strictly() {
        let target = CopyTarget {
            dest: "backup@vault:/srv".into(),
            ssh: SshOptions {
                port: Some(2222),
                identity: Some("/etc/switchboard/backup key".into()),
                known_hosts: Some("/etc/switchboard/known_hosts".into()),
            },
        };
        let args = rsync_args(Path::new("/b"), &target);
        assert_eq!(
            args[5],
            "--rsh=ssh -o BatchMode=yes -o ConnectTimeout=20 -p 2222 \
             -i '/etc/switchboard/backup key' -o IdentitiesOnly=yes \
             -o UserKnownHostsFile='/etc/switchboard/known_hosts' -o StrictHostKeyChecking=yes"
        );
        assert_eq!(
            rsync_args(Path::new("/b"), &to("vault:/srv"))[5],
            "--rsh=ssh -o BatchMode=yes -o ConnectTimeout=20"
        );
    }

    #[test]
    fn a_colon_before_any_slash_is_another_machine() {
        assert!(is_remote("vault:/srv"));
        assert!(is_remote("backup@vault:srv"));
        assert!(!is_remote("/mnt/share"));
        assert!(!is_remote("/mnt/odd:name"));
        assert!(!is_remote("relative/dir"));
        assert_eq!(
            unquotable(Path::new("/a/it's")),
            Some("must not contain quotes")
        );
        assert_eq!(unquotable(Path::new("/a/b c")), None);
    }
}
