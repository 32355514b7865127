//! SDP offers and answers: see `switchboard_media::fuzzing::fuzz_sdp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard_media::fuzzing::fuzz_sdp(data);
});
