//! SIP datagrams and TCP streams: see `switchboard_sip::fuzzing::fuzz_sip_message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard_sip::fuzzing::fuzz_sip_message(data);
});
