//! The `switchboard` binary end to end: first start, restart, bad configs, SIGTERM, backup and
//! restore. Each test runs in its own working directory with its own SQLite file and port.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Workdir, http, stderr, stdout};

fn login_body(user: &str, password: &str) -> String {
    serde_json::json!({ "username": user, "password": password }).to_string()
}

#[test]
fn first_start_creates_one_admin_with_a_private_password_file_and_restart_reuses_it() {
    let wd = Workdir::new();
    let server = wd.serve();
    let (status, body) = http(server.addr, "GET", "/healthz", &[], "");
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(server.addr, "GET", "/readyz", &[], "");
    assert_eq!(status, 200);

    let file = wd.path().join("var/initial-admin-password");
    let password = std::fs::read_to_string(&file)
        .expect("password file")
        .trim()
        .to_owned();
    assert_eq!(password.len(), 20);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/auth/login",
        &[("Content-Type", "application/json")],
        &login_body("admin", &password),
    );
    assert_eq!(status, 200, "{body}");
    let (code, _, lines) = server.terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let printed = lines
        .iter()
        .filter(|l| l.starts_with("O ") && l.contains(&password))
        .count();
    assert_eq!(printed, 1, "password printed once on stdout: {lines:?}");
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("E ") && l.contains(&password)),
        "password never in logs"
    );

    // Second start: same database, no second admin, no new password.
    let server = wd.serve();
    let (code, _, lines) = server.terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(
        !lines.iter().any(|l| l.contains("First start")),
        "{lines:?}"
    );
    let list = wd.run(&["user", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let users: Vec<_> = stdout(&list).lines().skip(1).map(str::to_owned).collect();
    assert_eq!(users.len(), 1, "{users:?}");
    assert!(users[0].starts_with("admin"));
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), password);
}

#[test]
fn sigterm_stops_serve_with_exit_code_zero_and_an_intact_database() {
    let wd = Workdir::new();
    let server = wd.serve();
    let (code, took, _) = server.terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The database opens, passes its integrity check and holds the admin.
    let out = wd.run(&["user", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("admin"));
    assert!(
        !wd.path().join("var/switchboard.db-wal").exists()
            || std::fs::metadata(wd.path().join("var/switchboard.db-wal"))
                .unwrap()
                .len()
                == 0
    );
}

fn assert_bad_config(wd: &Workdir, file: &str, key: &str) {
    for cmd in ["check-config", "serve"] {
        let out = wd.run(&[cmd, "--config", file]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains(&format!("'{key}'")),
            "{cmd} should name {key}: {err}"
        );
        assert!(err.contains(file), "{cmd} should name {file}: {err}");
    }
}

#[test]
fn unknown_key_fails_with_code_2_naming_key_and_file() {
    let wd = Workdir::new();
    wd.write("bad.toml", "[http]\nlisen = \"127.0.0.1:8080\"\n");
    assert_bad_config(&wd, "bad.toml", "http.lisen");
}

#[test]
fn wrong_type_fails_with_code_2_naming_key_and_file() {
    let wd = Workdir::new();
    wd.write("bad.toml", "[acd]\nring_timeout_secs = \"twenty\"\n");
    assert_bad_config(&wd, "bad.toml", "acd.ring_timeout_secs");
}

#[test]
fn invalid_port_fails_with_code_2_naming_key_and_file() {
    let wd = Workdir::new();
    wd.write("bad.toml", "[sip]\nudp_listen = \"127.0.0.1:70000\"\n");
    assert_bad_config(&wd, "bad.toml", "sip.udp_listen");
}

#[test]
fn the_shipped_sample_config_checks_out() {
    let wd = Workdir::new();
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sip-config/switchboard.toml"
    ))
    .unwrap();
    wd.write("sip-config/switchboard.toml", &sample);
    let out = wd.run(&["check-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("config OK"));
}

#[test]
fn usage_errors_exit_2_and_version_exits_0() {
    let wd = Workdir::new();
    assert_eq!(wd.run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        wd.run(&["user", "add", "x", "--role", "root"])
            .status
            .code(),
        Some(2)
    );
    let v = wd.run(&["--version"]);
    assert_eq!(v.status.code(), Some(0));
    assert!(stdout(&v).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn backup_then_restore_round_trips_the_database() {
    let wd = Workdir::new();
    for (name, role) in [("alice", "agent"), ("bob", "supervisor"), ("carol", "qa")] {
        let out = wd.run_with_stdin(
            &[
                "user",
                "add",
                name,
                "--role",
                role,
                "--name",
                &format!("{name} 测试"),
                "--password-stdin",
            ],
            "a long enough password\n",
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let before = stdout(&wd.run(&["user", "list"]));
    let backup = wd.run(&["backup", "bk"]);
    assert!(backup.status.success(), "{}", stderr(&backup));
    assert!(wd.path().join("bk/manifest.json").exists());

    // Change the database after the backup, then restore.
    let out = wd.run(&["user", "add", "mallory", "--role", "admin"]);
    assert!(out.status.success());
    assert!(stdout(&wd.run(&["user", "list"])).contains("mallory"));
    let restore = wd.run(&["restore", "bk"]);
    assert!(restore.status.success(), "{}", stderr(&restore));
    let after = stdout(&wd.run(&["user", "list"]));
    assert_eq!(after, before);
    assert!(!after.contains("mallory"));
    assert!(
        stdout(&restore).contains("kept as"),
        "the replaced database is kept"
    );

    // The restored users can still log in with their passwords.
    let server = wd.serve();
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/v1/auth/login",
        &[("Content-Type", "application/json")],
        &login_body("alice", "a long enough password"),
    );
    assert_eq!(status, 200, "{body}");
    server.terminate(Duration::from_secs(10));
}

#[test]
fn restore_refuses_a_damaged_backup_and_changes_nothing() {
    let wd = Workdir::new();
    assert!(
        wd.run(&["user", "add", "alice", "--role", "agent"])
            .status
            .success()
    );
    assert!(wd.run(&["backup", "bk"]).status.success());
    let db = wd.path().join("bk/switchboard.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&db, bytes).unwrap();
    let before = stdout(&wd.run(&["user", "list"]));
    let out = wd.run(&["restore", "bk"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("SHA-256"), "{}", stderr(&out));
    assert_eq!(stdout(&wd.run(&["user", "list"])), before);
}
