//! Replays every committed input of the `wav_repair` fuzz target (`fuzz/corpus/wav_repair`, the
//! seeds and what the fuzzer kept, and `fuzz/regressions/wav_repair`, crashes it found) through
//! the target's own harness, so they are checked on stable by every `cargo test`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use switchboard_recording::fuzzing::fuzz_wav_repair;

const TARGET: &str = "wav_repair";

fn inputs(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(TARGET);
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

#[test]
fn every_corpus_and_regression_input_passes_the_fuzz_harness() {
    let corpus = inputs("corpus");
    assert!(
        corpus.len() >= 10,
        "fuzz/corpus/{TARGET} holds {} files: the seeds are missing",
        corpus.len()
    );
    let scratch = tempfile::tempdir().unwrap();
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&inputs("regressions")) {
        let data = std::fs::read(path).unwrap();
        if std::panic::catch_unwind(|| fuzz_wav_repair(&data, scratch.path())).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}
