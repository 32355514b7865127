//! RFC 4733 payloads: parse and decode must never panic. Input: [4-byte timestamp, payload]
//! records of 8 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_media::dtmf::DtmfDecoder;

fuzz_target!(|data: &[u8]| {
    let mut dec = DtmfDecoder::new();
    for chunk in data.chunks(8) {
        let (ts, payload) = chunk.split_at(chunk.len().min(4));
        let mut b = [0u8; 4];
        b[..ts.len()].copy_from_slice(ts);
        let _ = dec.handle(u32::from_be_bytes(b), payload);
        while dec.poll_event().is_some() {}
    }
    dec.flush();
});
