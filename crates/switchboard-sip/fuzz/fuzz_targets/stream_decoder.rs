//! Fuzzes TCP framing: the input is fed in chunks whose size comes from the first byte; the
//! decoder must never panic and never buffer more than one message's worth.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_sip::framing::{StreamDecoder, StreamItem};
use switchboard_sip::inbound::bad_request;
use switchboard_sip::message::MAX_MESSAGE_SIZE;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first).max(1);
    let mut d = StreamDecoder::new();
    for piece in rest.chunks(chunk) {
        d.feed(piece);
        loop {
            match d.decode() {
                Ok(Some(StreamItem::Invalid { raw, error })) => {
                    let _ = bad_request(&raw, &error);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        assert!(d.buffered() <= MAX_MESSAGE_SIZE + chunk);
    }
});
