//! What a crash leaves behind, and repair. A `kill -9` runs no destructors: the buffered bytes
//! never reach the file and the header is not rewritten. `std::mem::forget` on the recorder
//! reproduces exactly that in-process.

mod common;

use std::fs::OpenOptions;
use std::path::Path;

use common::*;
use switchboard_core::CallId;
use switchboard_recording::repair::{RepairError, needs_repair};
use switchboard_recording::{
    Channel, Layout, Recorder, RecorderConfig, RepairAction, repair, repair_all,
};

const HZ: f64 = 600.0;
const AMP: f64 = 5000.0;

/// Records `until_ms` of a tone on both channels, then "crashes". Returns the file's path.
fn crash_after(root: &Path, id: &str, until_ms: u64, buffer_bytes: usize) -> std::path::PathBuf {
    let config = RecorderConfig {
        buffer_bytes,
        ..RecorderConfig::default()
    };
    let mut rec = Recorder::create(&Layout::new(root), &CallId::from(id), t0(), t0(), config)
        .expect("recording step succeeds");
    for k in 0..until_ms / 20 {
        let now = t0() + ms(k * 20);
        let audio = tone(HZ, AMP, k * 160);
        rec.push(Channel::Customer, (k * 160) as u32, &audio, now)
            .expect("recording step succeeds");
        rec.push(Channel::Agent, 777 + (k * 160) as u32, &audio, now)
            .expect("recording step succeeds");
    }
    let path = rec.path().to_owned();
    std::mem::forget(rec);
    path
}

fn frames_in(path: &Path) -> u32 {
    hound::WavReader::open(path)
        .expect("a readable WAV")
        .duration()
}

#[test]
fn killed_recorder_leaves_a_valid_wav_holding_the_audio_up_to_the_last_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = crash_after(dir.path(), "killed", 3_500, 32 * 1024);
    // Readable as is, before any repair.
    let (spec, left, right) = read_channels(&path);
    assert_eq!(spec.channels, 2);
    // The header was last refreshed at 3 s, when 2.9 s (minus the reorder window) was on disk.
    let held_ms = left.len() as u64 / 8;
    assert!((2_800..=3_000).contains(&held_ms), "{held_ms} ms");
    assert!(tone_level(&left, 0, held_ms, HZ) > AMP * 0.9);
    assert!(tone_level(&right, 0, held_ms, HZ) > AMP * 0.9);
}

#[test]
fn header_is_brought_up_to_date_every_second_even_when_nobody_talks() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = Recorder::create(
        &Layout::new(dir.path()),
        &CallId::from("quiet"),
        t0(),
        t0(),
        RecorderConfig::default(),
    )
    .unwrap();
    for k in 0..25u64 {
        let audio = tone(HZ, AMP, k * 160);
        rec.push(
            Channel::Customer,
            (k * 160) as u32,
            &audio,
            t0() + ms(k * 20),
        )
        .unwrap();
    }
    // Then silence on both sides: only the timer drives the recorder.
    let mut next = rec.poll_timeout();
    while next <= t0() + ms(4_000) {
        assert!(next > t0(), "the recorder asks to be woken up");
        rec.handle_timeout(next).unwrap();
        next = rec.poll_timeout();
    }
    let path = rec.path().to_owned();
    std::mem::forget(rec);
    let (_, left, _) = read_channels(&path);
    let held_ms = left.len() as u64 / 8;
    // The last refresh came at or after 3 s: everything up to 2.9 s at least is in the header.
    assert!(held_ms >= 2_900, "{held_ms} ms");
    assert!(tone_level(&left, 0, 500, HZ) > AMP * 0.9);
    assert!(rms(&left, 520, held_ms) < 1.0);
}

#[test]
fn repair_recovers_audio_written_after_the_last_header_update_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    // A small buffer means the bytes after the last header update did reach the file.
    let path = crash_after(dir.path(), "small-buffer", 3_500, 1024);
    let before = frames_in(&path);
    assert!(needs_repair(&path).unwrap());
    let action = repair(&path).unwrap();
    let RepairAction::Repaired {
        declared_data_bytes,
        data_bytes,
        ..
    } = action
    else {
        panic!("expected a repair, got {action:?}");
    };
    assert_eq!(declared_data_bytes, before * 4);
    let after = frames_in(&path);
    assert_eq!(u64::from(after) * 4, u64::from(data_bytes));
    assert!(after > before + 2_000, "{before} -> {after}");
    let (_, left, right) = read_channels(&path);
    assert_eq!(left.len(), right.len());
    let held_ms = left.len() as u64 / 8;
    assert!(tone_level(&left, 0, held_ms - 100, HZ) > AMP * 0.9);
    assert_eq!(repair(&path).unwrap(), RepairAction::AlreadyValid);
    assert!(!needs_repair(&path).unwrap());
}

#[test]
fn a_file_cut_mid_sample_is_trimmed_to_whole_frames() {
    let dir = tempfile::tempdir().unwrap();
    let config = RecorderConfig::default();
    let mut rec = Recorder::create(
        &Layout::new(dir.path()),
        &CallId::from("cut"),
        t0(),
        t0(),
        config,
    )
    .unwrap();
    for k in 0..100u64 {
        let audio = tone(HZ, AMP, k * 160);
        rec.push(
            Channel::Customer,
            (k * 160) as u32,
            &audio,
            t0() + ms(k * 20),
        )
        .unwrap();
    }
    let info = rec.finish(t0() + ms(2_000)).unwrap();
    let (_, original, _) = read_channels(&info.path);
    // The disk filled up in the middle of a sample: 3 bytes of the last frame are missing.
    let file = OpenOptions::new().write(true).open(&info.path).unwrap();
    file.set_len(info.size_bytes - 3).unwrap();
    drop(file);
    assert!(
        hound::WavReader::open(&info.path)
            .unwrap()
            .samples::<i16>()
            .any(|s| s.is_err()),
        "the cut file is broken before repair"
    );

    let action = repair(&info.path).unwrap();
    assert_eq!(
        action,
        RepairAction::Repaired {
            declared_data_bytes: (info.frames * 4) as u32,
            data_bytes: ((info.frames - 1) * 4) as u32,
            trimmed_bytes: 1,
        }
    );
    let (_, left, right) = read_channels(&info.path);
    assert_eq!(left.len() as u64, info.frames - 1);
    assert_eq!(right.len(), left.len());
    assert_eq!(left[..], original[..left.len()]);
    assert_eq!(
        std::fs::metadata(&info.path).unwrap().len(),
        44 + (info.frames - 1) * 4
    );
    assert_eq!(repair(&info.path).unwrap(), RepairAction::AlreadyValid);
}

#[test]
fn a_crash_right_after_the_start_leaves_an_empty_valid_wav() {
    let dir = tempfile::tempdir().unwrap();
    let path = crash_after(dir.path(), "instant", 0, 32 * 1024);
    assert_eq!(frames_in(&path), 0);
    assert_eq!(repair(&path).unwrap(), RepairAction::AlreadyValid);
}

#[test]
fn directory_scan_repairs_stale_files_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("recordings");
    let stale = crash_after(&root, "stale", 2_500, 1024);
    let good = {
        let rec = Recorder::create(
            &Layout::new(&root),
            &CallId::from("good"),
            t0(),
            t0(),
            RecorderConfig::default(),
        )
        .unwrap();
        rec.finish(t0() + ms(100)).unwrap().path
    };
    let day = stale.parent().unwrap();
    std::fs::write(
        day.join("garbage.wav"),
        b"this is not audio at all, just text",
    )
    .unwrap();
    std::fs::write(day.join("empty.wav"), b"").unwrap();
    std::fs::write(day.join("notes.txt"), b"ignored").unwrap();
    // A link to a file outside the tree is not followed.
    let outside = dir.path().join("outside.wav");
    std::fs::write(&outside, b"RIFF").unwrap();
    std::os::unix::fs::symlink(&outside, day.join("link.wav")).unwrap();

    let report = repair_all(&root).unwrap();
    assert_eq!(report.repaired.len(), 1);
    assert_eq!(report.repaired[0].0, stale);
    assert_eq!(report.valid, 1);
    let mut failed: Vec<_> = report
        .failed
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_owned())
        .collect();
    failed.sort();
    assert_eq!(failed, ["empty.wav", "garbage.wav"]);
    assert!(
        report
            .failed
            .iter()
            .any(|(_, e)| matches!(e, RepairError::TooShort { len: 0 }))
    );
    assert_eq!(std::fs::read(&outside).unwrap(), b"RIFF");

    let again = repair_all(&root).unwrap();
    assert!(again.repaired.is_empty());
    assert_eq!(again.valid, 2);
    assert_eq!(frames_in(&good), 0, "the finished file still reads");
    assert!(
        repair_all(&dir.path().join("missing"))
            .unwrap()
            .repaired
            .is_empty()
    );
}

#[test]
fn repair_refuses_files_that_are_not_pcm_wav() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8]); 4] = [
        ("short.wav", b"RIFF\0\0"),
        ("notwave.wav", b"RIFF\x04\0\0\0AVI LIST\0\0\0\0"),
        ("nodata.wav", b"RIFF\x04\0\0\0WAVE"),
        ("datafirst.wav", b"RIFF\x0c\0\0\0WAVEdata\0\0\0\0"),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        assert!(repair(&p).is_err(), "{name}");
        assert_eq!(std::fs::read(&p).unwrap(), bytes, "{name} left untouched");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Random bytes, or a real recording with random bytes overwritten: repair never panics,
    /// and when it succeeds a second repair has nothing left to do.
    #[test]
    fn repair_never_panics_and_is_idempotent(
        garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        pokes in proptest::collection::vec((0usize..120, proptest::prelude::any::<u8>()), 0..6),
        truncate in 0usize..400,
        use_real in proptest::bool::ANY,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wav");
        let mut bytes = if use_real {
            let mut cursor = std::io::Cursor::new(Vec::new());
            let mut w = hound::WavWriter::new(&mut cursor, switchboard_recording::recorder::wav_spec()).unwrap();
            for i in 0..100i16 { w.write_sample(i).unwrap(); }
            w.finalize().unwrap();
            cursor.into_inner()
        } else {
            garbage
        };
        for (at, v) in pokes {
            if let Some(b) = bytes.get_mut(at) { *b = v; }
        }
        bytes.truncate(bytes.len().saturating_sub(truncate % 50));
        std::fs::write(&p, &bytes).unwrap();
        if repair(&p).is_ok() {
            proptest::prop_assert_eq!(repair(&p).unwrap(), RepairAction::AlreadyValid);
        }
    }
}
