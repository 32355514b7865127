//! RTP, RTCP and RFC 4733 packets through a call's relay: see
//! `switchboard_media::fuzzing::fuzz_rtp_rtcp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard_media::fuzzing::fuzz_rtp_rtcp(data);
});
