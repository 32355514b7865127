//! Replays every committed input of the `wav_repair` fuzz target through the target's own
//! harness (each in a scratch folder), so they are checked on stable by every `cargo test`.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use switchboard_recording::fuzzing::fuzz_wav_repair;

#[test]
fn every_corpus_and_regression_input_passes_the_fuzz_harness() {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    replay::replay("wav_repair", 10, |data| {
        fuzz_wav_repair(data, scratch.path())
    });
}
