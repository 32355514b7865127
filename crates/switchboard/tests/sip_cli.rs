//! `user add --extension` creates the phone's SIP credential (digest HA1 values in realm
//! `sip.domain`, never the password) and `user passwd` moves them to the new password.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use support::{Workdir, stderr, stdout};
use switchboard_sip::auth::{Algorithm, ha1};
use switchboard_store::Store;
use switchboard_store::sip::{self, SipCredential};

const REALM: &str = "calls.example.test";

fn credential(wd: &Workdir, username: &str) -> Option<SipCredential> {
    let url = format!(
        "sqlite://{}",
        wd.path().join("var/switchboard.db").display()
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::connect(&url).await.unwrap();
        let found = sip::find_credential(&store, REALM, username).await.unwrap();
        store.close().await;
        found
    })
}

fn raw_db(wd: &Workdir) -> Vec<u8> {
    let mut all = std::fs::read(wd.path().join("var/switchboard.db")).unwrap();
    if let Ok(wal) = std::fs::read(wd.path().join("var/switchboard.db-wal")) {
        all.extend(wal);
    }
    all
}

#[test]
fn an_agent_with_an_extension_gets_ha1_values_and_passwd_replaces_them() {
    let wd = Workdir::new();
    wd.write(
        "sip-config/switchboard.toml",
        &format!("[sip]\ndomain = \"{REALM}\"\n"),
    );
    let add = [
        "user",
        "add",
        "alice",
        "--role",
        "agent",
        "--extension",
        "1001",
    ];
    let out = wd.run_with_stdin(
        &[&add[..], &["--password-stdin"]].concat(),
        "first-Pass-1\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("1001@{REALM}")),
        "{}",
        stdout(&out)
    );

    let c = credential(&wd, "1001").expect("credential created");
    assert_eq!(c.extension.as_deref(), Some("1001"));
    assert!(c.user_id.is_some());
    assert_eq!(
        c.ha1_md5,
        ha1(Algorithm::Md5, "1001", REALM, "first-Pass-1")
    );
    assert_eq!(
        c.ha1_sha256,
        ha1(Algorithm::Sha256, "1001", REALM, "first-Pass-1")
    );
    let db = raw_db(&wd);
    assert!(
        !db.windows(12).any(|w| w == b"first-Pass-1"),
        "password stored in clear"
    );

    let out = wd.run_with_stdin(
        &["user", "passwd", "alice", "--password-stdin"],
        "second-Pass-2\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let c2 = credential(&wd, "1001").unwrap();
    assert_eq!(c2.id, c.id);
    assert_eq!(
        c2.ha1_md5,
        ha1(Algorithm::Md5, "1001", REALM, "second-Pass-2")
    );
    assert_eq!(
        c2.ha1_sha256,
        ha1(Algorithm::Sha256, "1001", REALM, "second-Pass-2")
    );
}

#[test]
fn a_taken_or_malformed_extension_is_a_usage_error_and_creates_nothing() {
    let wd = Workdir::new();
    wd.write(
        "sip-config/switchboard.toml",
        &format!("[sip]\ndomain = \"{REALM}\"\n"),
    );
    let out = wd.run(&[
        "user",
        "add",
        "alice",
        "--role",
        "agent",
        "--extension",
        "1001",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let taken = wd.run(&[
        "user",
        "add",
        "bob",
        "--role",
        "agent",
        "--extension",
        "1001",
    ]);
    assert_eq!(taken.status.code(), Some(2));
    assert!(stderr(&taken).contains("1001"), "{}", stderr(&taken));
    let bad = wd.run(&[
        "user",
        "add",
        "carol",
        "--role",
        "agent",
        "--extension",
        "12ab",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--extension"), "{}", stderr(&bad));
    let list = stdout(&wd.run(&["user", "list"]));
    assert!(
        list.contains("alice") && !list.contains("bob") && !list.contains("carol"),
        "{list}"
    );
}
