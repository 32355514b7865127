//! `backup.copy_to` over a real SSH connection (issue 12): the test starts OpenSSH's `sshd` on a
//! free loopback port with a host key of its own and lets in one key made for the test, then
//! takes two daily runs mirrored there through `backup.ssh_port`, `backup.ssh_key` and
//! `backup.ssh_known_hosts`. The other machine must end up holding the newest run, verifiable
//! on its own, the pruned one gone and the user's own file left; a host whose key is not the
//! known one, and a key the host does not accept, must each fail the copy with ssh's reason and
//! copy nothing.
//!
//! Needs `sshd`, `ssh-keygen` (openssh-server, openssh-client) and rsync: `tests/run.sh`
//! installs them; without them this test fails saying so.

#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard::backup_copy::{CopyError, CopyTarget, SshOptions, mirror};
use switchboard::backup_schedule::{run_name, run_once};
use switchboard_store::backup::verify_backup;
use switchboard_store::testing::t;

mod backup_support;
use backup_support::{Daily, names};

/// OpenSSH's daemon, wherever the distribution put it.
fn sshd_binary() -> PathBuf {
    ["/usr/sbin/sshd", "/usr/bin/sshd", "/usr/local/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("sshd not found: install openssh-server (tests/run.sh installs it)")
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "switchboard-test",
            "-f",
        ])
        .arg(path)
        .status()
        .expect("ssh-keygen not found: install openssh-client (tests/run.sh installs it)");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// An sshd of the test's own, stopped when dropped.
struct BackupHost {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl BackupHost {
    /// Starts sshd on 127.0.0.1, accepting only `client_key.pub`.
    fn start() -> BackupHost {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {auth}\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile none\n",
            host = d.join("host_key").display(),
            auth = d.join("authorized_keys").display(),
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        // Debian's sshd wants its privilege-separation directory; it is made at boot by the
        // service, which a test machine need not run.
        if run("id", &["-u"]) == "0" {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let child = Command::new(sshd_binary())
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let mut host = BackupHost { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = host.child.try_wait().unwrap() {
                panic!("sshd exited ({status}): {}", host.log());
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                host.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        host
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A known-hosts file naming this host with `host_key_pub` (its own or another).
    fn known_hosts(&self, host_key_pub: &Path) -> PathBuf {
        let key = std::fs::read_to_string(host_key_pub).unwrap();
        let file = self.path(&format!(
            "known_hosts-{}",
            host_key_pub.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&file, format!("[127.0.0.1]:{} {key}", self.port)).unwrap();
        file
    }

    /// `backup.copy_to` and the `backup.ssh_*` keys for a folder on this host.
    fn target(&self, folder: &Path, key: PathBuf, known_hosts: PathBuf) -> CopyTarget {
        CopyTarget {
            dest: format!("{}@127.0.0.1:{}", run("id", &["-un"]), folder.display()),
            ssh: SshOptions {
                port: Some(self.port),
                identity: Some(key),
                known_hosts: Some(known_hosts),
            },
        }
    }
}

impl Drop for BackupHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn runs_are_mirrored_over_ssh_with_the_services_own_key_and_known_hosts() {
    let host = BackupHost::start();
    let daily = Daily::new().await;
    let vault = tempfile::tempdir().unwrap();
    std::fs::write(vault.path().join("README.txt"), "the vault").unwrap();
    let target = host.target(
        vault.path(),
        host.path("client_key"),
        host.known_hosts(&host.path("host_key.pub")),
    );
    let schedule = daily.schedule(1, Some(target.clone()));
    run_once(&daily.db.store, &schedule, t(0)).await;
    assert_eq!(
        names(vault.path()),
        vec![run_name(t(0)), "README.txt".to_string()],
        "sshd said: {}",
        host.log()
    );
    run_once(&daily.db.store, &schedule, t(86_400)).await;
    assert_eq!(
        names(vault.path()),
        vec![run_name(t(86_400)), "README.txt".to_string()]
    );
    let manifest = verify_backup(&vault.path().join(run_name(t(86_400)))).unwrap();
    assert_eq!(manifest.row_counts["tenants"], 1);
    // The same call again has nothing left to send and succeeds.
    mirror(daily.out.path(), &target).await.unwrap();
    daily.db.cleanup().await;
}

#[tokio::test]
async fn an_unknown_host_key_or_a_refused_key_fails_the_copy_and_copies_nothing() {
    let host = BackupHost::start();
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir(out.path().join(run_name(t(0)))).unwrap();
    std::fs::write(out.path().join(run_name(t(0))).join("manifest.json"), "{}").unwrap();
    let vault = tempfile::tempdir().unwrap();
    let expect_failure = |result: Result<(), CopyError>, why: &str| match result {
        Err(CopyError::Failed { stderr, .. }) => {
            assert!(stderr.contains(why), "expected {why:?} in: {stderr}")
        }
        other => panic!("expected a failed copy ({why}), got {other:?}"),
    };

    // Another host answering at that address (its key is not the one we know) is refused.
    keygen(&host.path("impostor_key"));
    let wrong_hosts = host.known_hosts(&host.path("impostor_key.pub"));
    let target = host.target(vault.path(), host.path("client_key"), wrong_hosts);
    expect_failure(
        mirror(out.path(), &target).await,
        "Host key verification failed",
    );

    // A key the host does not accept gets no password prompt (BatchMode), just a refusal.
    keygen(&host.path("stranger_key"));
    let known = host.known_hosts(&host.path("host_key.pub"));
    let target = host.target(vault.path(), host.path("stranger_key"), known);
    expect_failure(mirror(out.path(), &target).await, "Permission denied");

    assert!(names(vault.path()).is_empty(), "{:?}", names(vault.path()));
}
