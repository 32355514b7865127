//! The daily backup `serve` takes (issue 12): one run with a set clock writes a verifiable
//! backup folder named by its time, and the runs beyond `backup.keep` are deleted.

#![allow(clippy::unwrap_used)]

use switchboard::backup_copy::{CopyError, CopyTarget, SshOptions, mirror};
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
        copy_to: None,
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

/// `backup.copy_to`: after each run the other machine holds the same runs (the pruned one is
/// gone there too), each verifiable on its own, and a file of the user's there is left alone.
#[tokio::test]
async fn runs_are_mirrored_to_the_other_machine_and_pruned_there_too() {
    let db = TestDb::sqlite().await;
    tenant(&db.store, "acme").await;
    let out = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let recordings = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("README.txt"), "the vault").unwrap();
    let schedule = Schedule {
        dir: out.path().to_path_buf(),
        minute_of_day: 180,
        keep: 1,
        database_url: db.url.clone(),
        recordings_dir: recordings.path().to_path_buf(),
        copy_to: Some(CopyTarget {
            dest: other.path().display().to_string(),
            ssh: SshOptions::default(),
        }),
    };
    run_once(&db.store, &schedule, t(0)).await;
    assert!(
        other
            .path()
            .join(run_name(t(0)))
            .join("manifest.json")
            .exists()
    );
    run_once(&db.store, &schedule, t(86_400)).await;
    let mut there: Vec<String> = std::fs::read_dir(other.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    there.sort();
    assert_eq!(there, vec![run_name(t(86_400)), "README.txt".to_string()]);
    let manifest = verify_backup(&other.path().join(run_name(t(86_400)))).unwrap();
    assert_eq!(manifest.row_counts["tenants"], 1);
    db.cleanup().await;
}

/// A destination that cannot be written is an error naming it, with rsync's own words.
#[tokio::test]
async fn a_copy_that_cannot_be_made_says_where_and_why() {
    let out = tempfile::tempdir().unwrap();
    let blocker = out.path().join("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let dest = blocker.join("backups").display().to_string();
    let target = CopyTarget {
        dest: dest.clone(),
        ssh: SshOptions::default(),
    };
    match mirror(out.path(), &target).await {
        Err(CopyError::Failed {
            dest: d, stderr, ..
        }) => {
            assert_eq!(d, dest);
            assert!(!stderr.is_empty());
        }
        other => panic!("expected a failed copy, got {other:?}"),
    }
}
