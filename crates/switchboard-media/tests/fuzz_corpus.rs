//! Replays every committed input of the `sdp` and `rtp_rtcp` fuzz targets
//! (`fuzz/corpus/<target>`, the seeds and what the fuzzer kept, and `fuzz/regressions/<target>`,
//! crashes it found) through the targets' own harnesses, so they are checked on stable by every
//! `cargo test`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use switchboard_media::fuzzing::{fuzz_rtp_rtcp, fuzz_sdp};

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, seeds: usize, harness: fn(&[u8])) {
    let corpus = inputs("corpus", target);
    assert!(
        corpus.len() >= seeds,
        "fuzz/corpus/{target} holds {} files: the seeds are missing",
        corpus.len()
    );
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&inputs("regressions", target)) {
        let data = std::fs::read(path).unwrap();
        if std::panic::catch_unwind(|| harness(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} inputs that fail: {failed:#?}");
}

#[test]
fn every_sdp_corpus_and_regression_input_passes_the_fuzz_harness() {
    replay("sdp", 7, fuzz_sdp);
}

#[test]
fn every_rtp_rtcp_corpus_and_regression_input_passes_the_fuzz_harness() {
    replay("rtp_rtcp", 3, fuzz_rtp_rtcp);
}
