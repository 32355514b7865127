//! Backup and restore round trips with recordings, on SQLite and on PostgreSQL (issue 12,
//! acceptance 4): the database comes back with the rows it had at the backup (checked by
//! content), and every recording file with the content its stored SHA-256 names.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use sha2::{Digest, Sha256};
use switchboard_core::{CallId, TenantId};
use switchboard_store::backup::{self, create_backup, restore_backup};
use switchboard_store::calls::{self, Direction, NewCall};
use switchboard_store::recordings::{self, NewRecording, RecordingState};
use switchboard_store::testing::{TestDb, t, tenant};
use switchboard_store::{Store, StoreError};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A call with a recording at `path` holding `bytes`; `finished` gives it its SHA-256 (else it
/// is still recording).
async fn recorded_call(
    store: &Store,
    tenant: &TenantId,
    root: &Path,
    id: &str,
    path: &str,
    bytes: &[u8],
    finished: bool,
) {
    let call = CallId::from(id);
    calls::insert_call(
        store,
        &NewCall {
            id: &call,
            tenant_id: tenant,
            direction: Direction::Inbound,
            caller: "+8613800000001",
            callee: "+864008001234",
            target: Some("queue:sales"),
            agent_user_id: None,
            queue: Some("sales"),
            campaign_id: None,
            sip_call_id_a: &format!("a-{id}"),
            started_at: t(0),
            node: None,
        },
    )
    .await
    .unwrap();
    let rec = recordings::insert_recording(
        store,
        &NewRecording {
            tenant_id: tenant,
            call_id: &call,
            path,
            started_at: t(1),
            channels: 2,
            sample_rate: 8000,
            created_at: t(1),
        },
    )
    .await
    .unwrap();
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, bytes).unwrap();
    if finished {
        recordings::complete_recording(
            store,
            &rec.id,
            1000,
            bytes.len() as i64,
            &sha256(bytes),
            "[]",
            RecordingState::Complete,
        )
        .await
        .unwrap();
    }
}

/// What the database holds, as text: every call and recording row that matters here.
async fn content(store: &Store) -> Vec<String> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT c.id, r.path, r.sha256 FROM calls c JOIN recordings r ON r.call_id = c.id ORDER BY c.id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let users: Vec<(String,)> = sqlx::query_as("SELECT username FROM users ORDER BY username")
        .fetch_all(store.pool())
        .await
        .unwrap();
    rows.into_iter()
        .map(|(c, p, s)| format!("{c} {p} {s:?}"))
        .chain(users.into_iter().map(|(u,)| format!("user {u}")))
        .collect()
}

async fn round_trip(db: TestDb) {
    let store = db.store.clone();
    let acme = tenant(&store, "acme").await;
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let wav_a = b"RIFF....WAVEfmt first recording".repeat(50);
    let wav_b = b"RIFF....WAVEfmt second recording".repeat(70);
    recorded_call(&store, &acme, root, "c1", "2027/01/15/c1.wav", &wav_a, true).await;
    recorded_call(&store, &acme, root, "c2", "2027/01/15/c2.wav", &wav_b, true).await;
    recorded_call(
        &store,
        &acme,
        root,
        "c3",
        "2027/01/15/c3.wav",
        b"half",
        false,
    )
    .await;
    // A finished recording whose file was changed behind the store's back.
    recorded_call(
        &store,
        &acme,
        root,
        "c4",
        "2027/01/15/c4.wav",
        b"good",
        true,
    )
    .await;
    std::fs::write(root.join("2027/01/15/c4.wav"), b"evil").unwrap();
    let before = content(&store).await;

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("bk");
    let report = create_backup(&store, &db.url, Some(root), &dir, t(10))
        .await
        .unwrap();
    let m = &report.manifest;
    assert_eq!(m.format, backup::FORMAT);
    let paths: Vec<&str> = m.recordings.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["2027/01/15/c1.wav", "2027/01/15/c2.wav"]);
    assert_eq!(m.recordings[0].sha256, sha256(&wav_a));
    assert_eq!(m.recordings_in_progress, 1);
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert_eq!(report.damaged[0].path, "2027/01/15/c4.wav");
    assert!(report.damaged[0].problem.contains("SHA-256"));
    assert_eq!(m.row_counts["calls"], 4);
    assert_eq!(m.row_counts["recordings"], 4);
    assert!(
        m.row_counts.contains_key("tickets"),
        "every table is counted"
    );

    // After the backup: the database changes and a disk loses and garbles recordings.
    sqlx::query(
        "INSERT INTO users (id, tenant_id, username, display_name, role, password_hash, disabled, created_at, updated_at) \
         VALUES ('u-late', $1, 'mallory', 'M', 'admin', 'x', 0, 0, 0)",
    )
    .bind(acme.as_str())
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("DELETE FROM recordings WHERE path = '2027/01/15/c2.wav'")
        .execute(store.pool())
        .await
        .unwrap();
    assert_ne!(content(&store).await, before);
    std::fs::remove_file(root.join("2027/01/15/c1.wav")).unwrap();
    std::fs::write(root.join("2027/01/15/c2.wav"), b"garbled").unwrap();
    store.close().await;

    // A backup damaged in transit is refused before anything changes.
    let bad = out.path().join("bad");
    copy_dir(&dir, &bad);
    std::fs::write(bad.join("recordings/2027/01/15/c2.wav"), b"bitrot").unwrap();
    let err = restore_backup(&bad, &db.url, Some(root), t(20))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Backup(ref m) if m.contains("SHA-256")),
        "{err}"
    );
    assert!(
        !root.join("2027/01/15/c1.wav").exists(),
        "nothing was restored"
    );

    let restored = restore_backup(&dir, &db.url, Some(root), t(30))
        .await
        .unwrap();
    assert_eq!(restored.recordings_written, 2);
    let store = Store::connect(&db.url).await.unwrap();
    assert_eq!(
        content(&store).await,
        before,
        "the rows of the backup are back"
    );
    assert_eq!(
        backup::row_counts(&store).await.unwrap(),
        restored.manifest.row_counts
    );
    store.close().await;
    assert_eq!(
        std::fs::read(root.join("2027/01/15/c1.wav")).unwrap(),
        wav_a
    );
    assert_eq!(
        std::fs::read(root.join("2027/01/15/c2.wav")).unwrap(),
        wav_b
    );
    let kept = format!(
        "{}.before-restore-{}",
        root.join("2027/01/15/c2.wav").display(),
        t(30).as_millis()
    );
    assert_eq!(
        std::fs::read(kept).unwrap(),
        b"garbled",
        "what was there is kept"
    );

    // A second restore finds everything in place and writes no file.
    let again = restore_backup(&dir, &db.url, Some(root), t(40))
        .await
        .unwrap();
    assert_eq!(again.recordings_written, 0);
    db.cleanup().await;
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, dest).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn sqlite_backup_and_restore_round_trip_with_recordings() {
    round_trip(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn postgres_backup_and_restore_round_trip_with_recordings() {
    round_trip(TestDb::postgres().await).await;
}
