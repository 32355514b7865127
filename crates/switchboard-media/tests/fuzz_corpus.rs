//! Replays every committed input of the `sdp` and `rtp_rtcp` fuzz targets through the targets'
//! own harnesses, so they are checked on stable by every `cargo test`.

#[path = "../../../fuzz/replay.rs"]
mod replay;

use switchboard_media::fuzzing::{fuzz_rtp_rtcp, fuzz_sdp};

#[test]
fn every_sdp_corpus_and_regression_input_passes_the_fuzz_harness() {
    replay::replay("sdp", 7, fuzz_sdp);
}

#[test]
fn every_rtp_rtcp_corpus_and_regression_input_passes_the_fuzz_harness() {
    replay::replay("rtp_rtcp", 3, fuzz_rtp_rtcp);
}
