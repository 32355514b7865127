//! SDP parsing, serialising and answering must never panic, and whatever parses must
//! serialise into something that parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_media::sdp::{LocalMedia, SessionDescription, create_answer};

fuzz_target!(|data: &[u8]| {
    if let Ok(sd) = SessionDescription::parse(data) {
        let text = sd.to_string();
        assert!(SessionDescription::parse(text.as_bytes()).is_ok(), "{text}");
        let local = LocalMedia::new(std::net::Ipv4Addr::LOCALHOST.into(), 20000, 1);
        let _ = create_answer(&sd, &local);
    }
});
