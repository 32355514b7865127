//! `switchboard recordings repair` end to end: WAV files as a crash leaves them are repaired in
//! place and read back (decoded by hound, through the recording crate's peaks); a file that is
//! not a WAV makes the command exit 1.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};

use support::{Workdir, stderr, stdout};
use switchboard_recording::waveform_peaks;

const RATE: u32 = 8000;
/// Two seconds of stereo audio.
const FRAMES: u32 = 2 * RATE;

/// The samples of frame `i`: a different ramp on each channel, so a swap or shift shows.
fn frame(i: u32) -> (i16, i16) {
    let left = (i % 2000) as i16 * 10;
    (left, -left - 1)
}

/// Writes a stereo 16-bit WAV as a crash leaves it: the header still says what it said when the
/// file was created (no audio yet), and the last frame is cut short.
fn crashed_wav(root: &Path, rel: &str) -> PathBuf {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&36u32.to_le_bytes()); // stale: as if no data
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&2u16.to_le_bytes()); // channels
    bytes.extend_from_slice(&RATE.to_le_bytes());
    bytes.extend_from_slice(&(RATE * 4).to_le_bytes()); // bytes per second
    bytes.extend_from_slice(&4u16.to_le_bytes()); // block align
    bytes.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&0u32.to_le_bytes()); // stale: as if no data
    for i in 0..FRAMES {
        let (l, r) = frame(i);
        bytes.extend_from_slice(&l.to_le_bytes());
        bytes.extend_from_slice(&r.to_le_bytes());
    }
    bytes.extend_from_slice(&[1, 2, 3]); // a partial frame
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Every frame of the file as hound decodes it (a peak per frame is the frame itself).
fn frames_of(path: &Path) -> Vec<(i16, i16)> {
    let peaks = waveform_peaks(path, 1).unwrap();
    assert_eq!(peaks.sample_rate, RATE);
    assert_eq!(peaks.channels.len(), 2);
    let (left, right) = (&peaks.channels[0], &peaks.channels[1]);
    left.iter()
        .zip(right)
        .map(|(l, r)| (l.max, r.max))
        .collect()
}

#[test]
fn a_crashed_recording_is_repaired_in_place_and_a_second_run_changes_nothing() {
    let wd = Workdir::new();
    let path = crashed_wav(&wd.path().join("recordings"), "2026/11/23/call-1.wav");
    assert!(
        frames_of(&path).is_empty(),
        "before repair the header declares no audio"
    );

    let out = wd.run(&["recordings", "repair"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("repaired 2026/11/23/call-1.wav: data 0 -> 64000 bytes, 3 byte(s)"),
        "{text}"
    );
    assert!(
        text.contains("1 repaired, 0 already valid, 0 could not be repaired"),
        "{text}"
    );

    let expected: Vec<(i16, i16)> = (0..FRAMES).map(frame).collect();
    assert_eq!(frames_of(&path), expected, "every whole frame is back");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 44 + 64_000);

    let again = wd.run(&["recordings", "repair"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let text = stdout(&again);
    assert!(
        text.contains("0 repaired, 1 already valid, 0 could not be repaired"),
        "{text}"
    );
    assert!(!text.contains("repaired 2026"), "{text}");
}

#[test]
fn a_file_that_cannot_be_repaired_fails_the_command_but_not_the_others() {
    let wd = Workdir::new();
    // The recordings root comes from the config (here its environment override).
    let root = wd.path().join("store/rec");
    let good = crashed_wav(&root, "2026/11/23/good.wav");
    std::fs::write(root.join("2026/11/23/bad.wav"), b"this is not audio at all").unwrap();

    let out = wd
        .command(&["recordings", "repair"])
        .env("SWITCHBOARD_STORAGE__RECORDINGS_DIR", "store/rec")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("could not repair 2026/11/23/bad.wav: not a RIFF/WAVE file"),
        "{err}"
    );
    assert!(
        err.contains("1 recording(s) could not be repaired"),
        "{err}"
    );
    let text = stdout(&out);
    assert!(
        text.contains("1 repaired, 0 already valid, 1 could not be repaired"),
        "{text}"
    );
    assert_eq!(frames_of(&good).len(), FRAMES as usize);
}

#[test]
fn no_recordings_directory_yet_is_nothing_to_repair() {
    let wd = Workdir::new();
    let out = wd.run(&["recordings", "repair"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 repaired, 0 already valid, 0 could not be repaired"),
        "{}",
        stdout(&out)
    );
}
