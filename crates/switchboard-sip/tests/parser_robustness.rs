//! Hostile input for the parser and the stream decoder: random bytes, and real SIPp-style
//! messages (INVITE with SDP, REGISTER with Authorization, 200 OK with SDP) mutated at random.
//! Nothing may panic; whatever parses must serialise to a fixpoint; the stream decoder must
//! stay bounded and frame exactly what was sent. This is the CI stand-in for `cargo fuzz`.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use switchboard_sip::auth::DigestCredentials;
use switchboard_sip::framing::{StreamDecoder, StreamItem};
use switchboard_sip::inbound::bad_request;
use switchboard_sip::message::{MAX_MESSAGE_SIZE, Message, parse_datagram};

const INVITE: &[u8] = include_bytes!("fixtures/invite_sdp.sip");
const REGISTER: &[u8] = include_bytes!("fixtures/register_auth.sip");
const OK: &[u8] = include_bytes!("fixtures/ok_sdp.sip");
const FIXTURES: [&[u8]; 3] = [INVITE, REGISTER, OK];

/// Exercises every accessor a caller might use on a parsed message.
fn poke(msg: &Message) {
    let h = msg.headers();
    let _ = (h.vias(), h.cseq(), h.call_id(), h.from(), h.to());
    let _ = (
        h.max_forwards(),
        h.expires(),
        h.contacts(),
        h.routes("Record-Route"),
    );
    let _ = msg.validate();
    for a in h.get_all("Authorization") {
        let _ = DigestCredentials::parse(a);
    }
}

/// Parse → serialise → parse → serialise must be stable.
fn assert_fixpoint(msg: &Message) {
    let once = msg.to_bytes();
    let again = parse_datagram(&once).unwrap_or_else(|e| {
        panic!(
            "serialised form does not parse ({e}):\n{}",
            String::from_utf8_lossy(&once)
        )
    });
    assert_eq!(again.to_bytes(), once);
}

#[test]
fn sipp_fixtures_parse_validate_and_round_trip() {
    for raw in FIXTURES {
        let msg = parse_datagram(raw).unwrap();
        msg.validate().unwrap();
        assert_fixpoint(&msg);
    }
    let Ok(Message::Request(invite)) = parse_datagram(INVITE) else {
        panic!("INVITE fixture must parse as a request");
    };
    assert!(invite.body.starts_with(b"v=0\r\n"));
    assert!(invite.body.ends_with(b"a=sendrecv\r\n"));
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Duplicate { from: usize, len: usize },
    ContentLength(u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(from, len)| Mutation::Duplicate { from, len }),
        any::<u32>().prop_map(Mutation::ContentLength),
    ]
}

fn apply(mut msg: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let n = msg.len().max(1);
    match m {
        Mutation::Flip { at, byte } => {
            let i = at % n;
            if let Some(b) = msg.get_mut(i) {
                *b = *byte;
            }
        }
        Mutation::Truncate { at } => msg.truncate(at % n),
        Mutation::Insert { at, bytes } => {
            let i = at % n;
            msg.splice(i..i, bytes.iter().copied());
        }
        Mutation::Duplicate { from, len } => {
            let start = from % n;
            let end = (start + len).min(msg.len());
            let copy = msg[start..end].to_vec();
            msg.splice(end..end, copy);
        }
        Mutation::ContentLength(v) => {
            let text = String::from_utf8_lossy(&msg).into_owned();
            if let Some(pos) = text.find("Content-Length: ") {
                let end = text[pos..].find("\r\n").map_or(text.len(), |e| pos + e);
                let mut t = text.clone();
                t.replace_range(pos..end, &format!("Content-Length: {v}"));
                msg = t.into_bytes();
            }
        }
    }
    msg
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic_the_parser_or_the_400_builder(
        bytes in prop::collection::vec(any::<u8>(), 0..2048)
    ) {
        match parse_datagram(&bytes) {
            Ok(msg) => { poke(&msg); assert_fixpoint(&msg); }
            Err(e) => { let _ = bad_request(&bytes, &e); }
        }
    }

    #[test]
    fn mutated_real_messages_parse_or_fail_cleanly(
        which in 0usize..3,
        mutations in prop::collection::vec(mutation(), 1..4)
    ) {
        let raw = mutations.iter().fold(FIXTURES[which].to_vec(), apply);
        match parse_datagram(&raw) {
            Ok(msg) => { poke(&msg); assert_fixpoint(&msg); }
            Err(e) => {
                if let Some(resp) = bad_request(&raw, &e) {
                    prop_assert!(resp.status >= 400);
                    // Our 400 must itself be a parseable message.
                    prop_assert!(parse_datagram(&resp.to_bytes()).is_ok());
                }
            }
        }
    }

    #[test]
    fn stream_decoder_frames_what_was_sent_however_it_is_split(
        order in prop::collection::vec(0usize..3, 1..6),
        cuts in prop::collection::vec(1usize..300, 1..40),
    ) {
        let wire: Vec<u8> = order.iter().flat_map(|&i| FIXTURES[i].to_vec()).collect();
        let mut d = StreamDecoder::new();
        let mut got = Vec::new();
        let mut rest = &wire[..];
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap_or(&1)).min(rest.len());
            d.feed(&rest[..n]);
            rest = &rest[n..];
            while let Some(item) = d.decode().unwrap() {
                got.push(item);
            }
        }
        prop_assert_eq!(got.len(), order.len());
        for (item, &i) in got.iter().zip(&order) {
            let want = parse_datagram(FIXTURES[i]).unwrap();
            prop_assert_eq!(item, &StreamItem::Message(want));
        }
    }

    #[test]
    fn stream_decoder_stays_bounded_on_garbage_and_mutations(
        which in 0usize..3,
        mutations in prop::collection::vec(mutation(), 0..4),
        garbage in prop::collection::vec(any::<u8>(), 0..512),
        chunk in 1usize..4096,
    ) {
        let mut wire = mutations.iter().fold(FIXTURES[which].to_vec(), apply);
        wire.extend_from_slice(&garbage);
        wire.extend_from_slice(FIXTURES[which]);
        let mut d = StreamDecoder::new();
        for piece in wire.chunks(chunk) {
            d.feed(piece);
            loop {
                match d.decode() {
                    Ok(Some(StreamItem::Message(m))) => poke(&m),
                    Ok(Some(StreamItem::Invalid { raw, error })) => {
                        let _ = bad_request(&raw, &error);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            prop_assert!(d.buffered() <= MAX_MESSAGE_SIZE + chunk);
        }
    }
}

#[test]
fn a_flood_of_header_bytes_without_an_end_is_refused_not_buffered_forever() {
    let mut d = StreamDecoder::new();
    d.feed(b"INVITE sip:a@b SIP/2.0\r\n");
    let line = b"X-Junk: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut refused = false;
    for _ in 0..2000 {
        d.feed(line);
        if d.decode().is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused);
    assert_eq!(d.buffered(), 0);
}

#[test]
fn wrong_content_length_is_an_error_on_udp_and_waits_for_bytes_on_tcp() {
    let body_len = match parse_datagram(INVITE).unwrap() {
        Message::Request(r) => r.body.len(),
        Message::Response(r) => r.body.len(),
    };
    // Declare 500 bytes more body than the message carries.
    let text = String::from_utf8_lossy(INVITE).replace(
        &format!("Content-Length: {body_len}"),
        &format!("Content-Length: {}", body_len + 500),
    );
    assert_ne!(text.as_bytes(), INVITE);
    assert!(parse_datagram(text.as_bytes()).is_err());
    let mut d = StreamDecoder::new();
    d.feed(text.as_bytes());
    assert_eq!(d.decode(), Ok(None));
}

#[test]
fn wrong_sip_version_is_answered_505_and_an_oversized_request_513() {
    let text = String::from_utf8_lossy(INVITE).replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1);
    let err = parse_datagram(text.as_bytes()).unwrap_err();
    assert_eq!(
        bad_request(text.as_bytes(), &err).map(|r| r.status),
        Some(505)
    );
    let mut big = INVITE.to_vec();
    big.resize(MAX_MESSAGE_SIZE + 10, b'a');
    let err = parse_datagram(&big).unwrap_err();
    assert_eq!(bad_request(&big, &err).map(|r| r.status), Some(513));
}
