//! Fuzzes the datagram parser, every typed accessor, and the 400 builder. Whatever parses must
//! serialise to a form that parses back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_sip::auth::DigestCredentials;
use switchboard_sip::inbound::bad_request;
use switchboard_sip::message::parse_datagram;

fuzz_target!(|data: &[u8]| {
    match parse_datagram(data) {
        Ok(msg) => {
            let h = msg.headers();
            let _ = (h.vias(), h.cseq(), h.call_id(), h.from(), h.to());
            let _ = (h.max_forwards(), h.expires(), h.contacts(), h.routes("Route"));
            let _ = msg.validate();
            for a in h.get_all("Authorization") {
                let _ = DigestCredentials::parse(a);
            }
            let once = msg.to_bytes();
            let again = parse_datagram(&once).expect("serialised message must parse");
            assert_eq!(again.to_bytes(), once, "serialisation is not a fixpoint");
        }
        Err(e) => {
            if let Some(resp) = bad_request(data, &e) {
                assert!(parse_datagram(&resp.to_bytes()).is_ok(), "our 400 must parse");
            }
        }
    }
});
