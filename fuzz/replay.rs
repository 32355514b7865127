//! Replaying a fuzz target's committed inputs through its harness on stable `cargo test`:
//! `fuzz/corpus/<target>` (the seeds and what the fuzzer kept) and `fuzz/regressions/<target>`
//! (crashes it found). Included by each crate's `tests/fuzz_corpus.rs` with `#[path]`, so the
//! three crates that own harnesses share one copy of this without a crate for test code.

use std::path::{Path, PathBuf};

/// The files of `fuzz/<kind>/<target>`, sorted; none when the folder is missing.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("list a fuzz input folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every corpus and regression input of `target` through `harness`; fails listing the
/// inputs that panic, or when fewer than `seeds` corpus files are there (the seeds went missing).
pub fn replay(target: &str, seeds: usize, harness: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    let corpus = inputs("corpus", target);
    assert!(
        corpus.len() >= seeds,
        "fuzz/corpus/{target} holds {} files: the seeds are missing",
        corpus.len()
    );
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&inputs("regressions", target)) {
        let data = std::fs::read(path).expect("read a fuzz input");
        if std::panic::catch_unwind(|| harness(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} inputs that fail: {failed:#?}");
}
