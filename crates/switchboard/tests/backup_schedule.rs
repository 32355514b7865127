//! The daily backup `serve` takes (issue 12): one run with a set clock writes a verifiable
//! backup folder named by its time, and the runs beyond `backup.keep` are deleted.

#![allow(clippy::unwrap_used)]

use switchboard::backup_copy::{CopyError, CopyTarget, SshOptions, mirror};
use switchboard::backup_schedule::{run_name, run_once};
use switchboard_store::backup::verify_backup;
use switchboard_store::testing::t;

mod backup_support;
use backup_support::{Daily, names};

#[tokio::test]
async fn daily_runs_write_verified_backups_and_keep_the_newest() {
    let daily = Daily::new().await;
    let out = daily.out.path();
    std::fs::write(out.join("notes.txt"), "not a backup").unwrap();
    let schedule = daily.schedule(2, None);
    let days = [t(0), t(86_400), t(2 * 86_400)];
    for day in days {
        run_once(&daily.db.store, &schedule, day).await;
    }
    assert_eq!(
        names(out),
        vec![
            run_name(days[1]),
            run_name(days[2]),
            "notes.txt".to_string()
        ]
    );
    let manifest = verify_backup(&out.join(run_name(days[2]))).unwrap();
    assert_eq!(manifest.engine, "sqlite");
    assert_eq!(manifest.row_counts["tenants"], 1);
    daily.db.cleanup().await;
}

/// `backup.copy_to`: after each run the other machine holds the same runs (the pruned one is
/// gone there too), each verifiable on its own, and a file of the user's there is left alone.
#[tokio::test]
async fn runs_are_mirrored_to_the_other_machine_and_pruned_there_too() {
    let daily = Daily::new().await;
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("README.txt"), "the vault").unwrap();
    let schedule = daily.schedule(
        1,
        Some(CopyTarget {
            dest: other.path().display().to_string(),
            ssh: SshOptions::default(),
        }),
    );
    run_once(&daily.db.store, &schedule, t(0)).await;
    assert!(
        other
            .path()
            .join(run_name(t(0)))
            .join("manifest.json")
            .exists()
    );
    run_once(&daily.db.store, &schedule, t(86_400)).await;
    assert_eq!(
        names(other.path()),
        vec![run_name(t(86_400)), "README.txt".to_string()]
    );
    let manifest = verify_backup(&other.path().join(run_name(t(86_400)))).unwrap();
    assert_eq!(manifest.row_counts["tenants"], 1);
    daily.db.cleanup().await;
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
