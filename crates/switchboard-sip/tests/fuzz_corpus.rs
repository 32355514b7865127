//! Replays every committed input of the `sip_message` fuzz target through the target's own
//! harness, so they are checked on stable by every `cargo test`.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use switchboard_sip::fuzzing::fuzz_sip_message;

#[test]
fn every_corpus_and_regression_input_passes_the_fuzz_harness() {
    replay::replay("sip_message", 10, fuzz_sip_message);
}
