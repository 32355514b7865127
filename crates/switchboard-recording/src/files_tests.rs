#![allow(clippy::unwrap_used, reason = "tests")]

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use switchboard_core::{CallId, Timestamp};

use super::*;
use crate::align::Channel;
use crate::recorder::hash_file;

/// Long enough for any thread hand-over on a loaded machine; only reached when a test fails.
const GUARD: Duration = Duration::from_secs(20);

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// A sync that reports each call on `entered`, then waits for `gate` (so a test can hold the
/// sync thread inside a sync) and returns `result`.
struct GatedSync {
    calls: Arc<AtomicUsize>,
    entered: mpsc::Sender<()>,
    gate: mpsc::Receiver<()>,
    fail: bool,
}

impl FsSync for GatedSync {
    fn sync(&mut self) -> io::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let _ = self.entered.send(());
        self.gate.recv_timeout(GUARD).unwrap();
        if self.fail {
            Err(io::Error::other("disk gone"))
        } else {
            Ok(())
        }
    }
}

struct Gated {
    calls: Arc<AtomicUsize>,
    entered: mpsc::Receiver<()>,
    gate: mpsc::Sender<()>,
    /// Holds the recordings' directory for the test's length.
    _dir: tempfile::TempDir,
}

/// Recording threads (one worker, so a later job's reply proves the earlier jobs were handed
/// on) whose syncs the test holds and releases; each sync fails when `fail`.
fn gated_files(fail: bool) -> (RecordingFiles, Gated) {
    let dir = tempfile::tempdir().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (entered_tx, entered) = mpsc::channel();
    let (gate, gate_rx) = mpsc::channel();
    let sync = GatedSync {
        calls: calls.clone(),
        entered: entered_tx,
        gate: gate_rx,
        fail,
    };
    let files = RecordingFiles::start_with(Layout::new(dir.path().to_path_buf()), 1, sync).unwrap();
    let gated = Gated {
        calls,
        entered,
        gate,
        _dir: dir,
    };
    (files, gated)
}

/// Creates a recording through `files` and waits for it.
fn create(files: &RecordingFiles, call: &str, now: Timestamp) -> Recorder {
    let (tx, rx) = mpsc::channel();
    files.create(CallId::from(call), now, now, move |r| {
        tx.send(r).unwrap();
    });
    rx.recv_timeout(GUARD).unwrap().unwrap()
}

type Finished = mpsc::Receiver<(String, Result<RecordingInfo, FilesError>)>;

fn finish_into(
    files: &RecordingFiles,
    recorder: Recorder,
    now: Timestamp,
    done: &mpsc::Sender<(String, Result<RecordingInfo, FilesError>)>,
) {
    let done = done.clone();
    let name = recorder.path().display().to_string();
    files.finish(recorder, now, move |r| {
        done.send((name, r)).unwrap();
    });
}

/// A recording with half a second of a tone on the customer's channel.
fn with_audio(mut recorder: Recorder, start: Timestamp) -> Recorder {
    for i in 0..25u32 {
        let samples: Vec<i16> = (0..160).map(|n| ((n % 16) as i16 - 8) * 1000).collect();
        let now = start + Duration::from_millis(u64::from(i) * 20);
        recorder
            .push(Channel::Customer, i * 160, &samples, now)
            .unwrap();
    }
    recorder
}

#[test]
fn recordings_are_created_and_finished_on_disk_with_their_hash() {
    let dir = tempfile::tempdir().unwrap();
    let files = RecordingFiles::start(Layout::new(dir.path().join("recordings")), 2).unwrap();
    let t0 = at(1_795_000_000_000);
    let (done, finished): (_, Finished) = mpsc::channel();
    for i in 0..5 {
        let recorder = with_audio(create(&files, &format!("call-{i}"), t0), t0);
        finish_into(&files, recorder, t0 + Duration::from_secs(1), &done);
    }
    for _ in 0..5 {
        let (_, info) = finished.recv_timeout(GUARD).unwrap();
        let info = info.unwrap();
        assert_eq!(
            hash_file(&info.path).unwrap(),
            (info.size_bytes, info.sha256.clone())
        );
        let mut wav = hound::WavReader::open(&info.path).unwrap();
        assert_eq!(wav.spec(), crate::recorder::wav_spec());
        assert_eq!(u64::from(wav.duration()), info.frames);
        assert!(info.frames >= 4000, "{} frames", info.frames);
        let loud = wav
            .samples::<i16>()
            .step_by(2)
            .filter(|s| s.as_ref().unwrap().abs() > 1000)
            .count();
        assert!(
            loud > 1000,
            "the customer's tone is in the left channel ({loud})"
        );
    }
}

#[test]
fn one_sync_covers_every_recording_that_finished_while_the_last_one_ran() {
    let (files, gated) = gated_files(false);
    let t0 = at(1_795_000_000_000);
    let recorders: Vec<Recorder> = (0..5)
        .map(|i| create(&files, &format!("call-{i}"), t0))
        .collect();
    let (done, finished): (_, Finished) = mpsc::channel();
    let mut recorders = recorders.into_iter();
    finish_into(&files, recorders.next().unwrap(), t0, &done);
    // The first finish is in its sync: nothing answered before its bytes are on disk.
    gated.entered.recv_timeout(GUARD).unwrap();
    assert!(finished.try_recv().is_err());
    for r in recorders {
        finish_into(&files, r, t0, &done);
    }
    let _barrier = create(&files, "barrier", t0);
    // Four more are waiting for the sync thread now; release the first sync, then the second.
    gated.gate.send(()).unwrap();
    gated.entered.recv_timeout(GUARD).unwrap();
    gated.gate.send(()).unwrap();
    let mut names: Vec<String> = (0..5)
        .map(|_| {
            let (name, r) = finished.recv_timeout(GUARD).unwrap();
            r.unwrap();
            name
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 5, "each recording answered once");
    assert_eq!(
        gated.calls.load(Ordering::SeqCst),
        2,
        "five recordings, two syncs"
    );
}

#[test]
fn a_failed_sync_is_reported_to_every_recording_it_covered() {
    let (files, gated) = gated_files(true);
    let t0 = at(1_795_000_000_000);
    let (done, finished): (_, Finished) = mpsc::channel();
    let r = create(&files, "call-a", t0);
    finish_into(&files, r, t0, &done);
    gated.entered.recv_timeout(GUARD).unwrap();
    gated.gate.send(()).unwrap();
    let (name, result) = finished.recv_timeout(GUARD).unwrap();
    match result {
        Err(FilesError::Sync(why)) => assert!(why.contains("disk gone"), "{why}"),
        other => panic!("expected the sync error, got {other:?}"),
    }
    // The file itself is complete; only its durability is in doubt.
    assert!(hound::WavReader::open(&name).is_ok());
}

#[test]
fn creating_a_recording_twice_is_refused_through_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let files = RecordingFiles::start(Layout::new(dir.path().to_path_buf()), 1).unwrap();
    let t0 = at(1_795_000_000_000);
    let _first = create(&files, "call-x", t0);
    let (tx, rx) = mpsc::channel();
    files.create(CallId::from("call-x"), t0, t0, move |r| {
        tx.send(r.map(|_| ())).unwrap();
    });
    match rx.recv_timeout(GUARD).unwrap() {
        Err(FilesError::Recorder(RecorderError::AlreadyExists(_))) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
}

#[test]
fn an_unopenable_root_fails_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = RecordingFiles::start(Layout::new(file.join("recordings")), 1).unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}
