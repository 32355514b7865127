//! The daily backup `serve` takes (issue 12): one run with a set clock writes a verifiable
//! backup folder named by its time, and the runs beyond `backup.keep` are deleted.

#![allow(clippy::unwrap_used)]

use switchboard::backup_schedule::{Schedule, run_name, run_once};
use switchboard_store::backup::verify_backup;
use switchboard_store::testing::{TestDb, t, tenant};

#[tokio::test]
async fn daily_runs_write_verified_backups_and_keep_the_newest() {
    let db = TestDb::sqlite().await;
    tenant(&db.store, "acme").await;
    let out = tempfile::tempdir().unwrap();
    let recordings = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("notes.txt"), "not a backup").unwrap();
    let schedule = Schedule {
        dir: out.path().to_path_buf(),
        minute_of_day: 180,
        keep: 2,
        database_url: db.url.clone(),
        recordings_dir: recordings.path().to_path_buf(),
    };
    let days = [t(0), t(86_400), t(2 * 86_400)];
    for day in days {
        run_once(&db.store, &schedule, day).await;
    }
    let mut left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![
            run_name(days[1]),
            run_name(days[2]),
            "notes.txt".to_string()
        ]
    );
    let manifest = verify_backup(&out.path().join(run_name(days[2]))).unwrap();
    assert_eq!(manifest.engine, "sqlite");
    assert_eq!(manifest.row_counts["tenants"], 1);
    db.cleanup().await;
}
