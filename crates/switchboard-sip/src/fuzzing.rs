//! Harnesses for the cargo-fuzz targets in `fuzz/` (workspace root), kept here so the fuzz
//! targets and the stable regression test (`tests/fuzz_corpus.rs`, which replays every corpus
//! and crash file) run exactly the same code. Each function panics when a property is broken;
//! any other input must return normally.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::auth::{Challenge, DigestCredentials};
use crate::framing::{FramingError, StreamDecoder, StreamItem};
use crate::inbound::{bad_request, next_hop_max_forwards, process_routes, stamp_via, validate};
use crate::message::{MAX_MESSAGE_SIZE, Message, Transport, parse_datagram, response_to};
use crate::transaction::{LayerOutput, Peer, Timers, TransactionLayer};

/// Where fuzzed datagrams "come from": not the host most Vias name, so `received` is stamped.
const SOURCE: ([u8; 4], u16) = ([192, 0, 2, 7], 5071);

/// One SIP input as the network hands it to us, through both paths of the drivers:
///
/// - as a UDP/WebSocket datagram: parse, every typed accessor, the driver's checks (Via
///   stamping, validation, Max-Forwards, Route processing), the transaction layer and a TU
///   answer. Properties: a parsed message serialises to a form that parses back to the same
///   bytes; every message we would send (a 400 for unparseable input, the error answer for a
///   parsed but unusable request, the request stamped for forwarding, the TU's response)
///   parses.
/// - as a TCP stream, cut into chunks of `data[0]` bytes (the whole input is the stream, so a
///   corpus file is a valid message for both paths). Properties: the decoder never buffers
///   more than one message plus one chunk; chunking does not change what is framed.
pub fn fuzz_sip_message(data: &[u8]) {
    datagram(data);
    stream(data);
}

fn must_parse(bytes: &[u8], what: &str) -> Message {
    match parse_datagram(bytes) {
        Ok(m) => m,
        Err(e) => panic!(
            "{what} does not parse ({e}):\n{}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

fn poke(msg: &Message) {
    let h = msg.headers();
    let _ = (h.vias(), h.cseq(), h.call_id(), h.from(), h.to());
    let _ = (h.max_forwards(), h.expires(), h.contacts());
    let _ = (h.routes("Route"), h.routes("Record-Route"));
    let _ = msg.validate();
    for a in h.get_all("Authorization") {
        let _ = DigestCredentials::parse(a);
    }
    for a in h.get_all("Proxy-Authorization") {
        let _ = DigestCredentials::parse(a);
    }
    for c in h.get_all("WWW-Authenticate") {
        let _ = Challenge::parse(c);
    }
}

fn datagram(data: &[u8]) {
    let msg = match parse_datagram(data) {
        Ok(msg) => msg,
        Err(e) => {
            if let Some(resp) = bad_request(data, &e) {
                must_parse(&resp.to_bytes(), "our 400");
            }
            return;
        }
    };
    poke(&msg);
    let once = msg.to_bytes();
    let again = must_parse(&once, "a serialised message");
    assert_eq!(again.to_bytes(), once, "serialisation is not a fixpoint");

    let from = SocketAddr::from(SOURCE);
    let message = match msg {
        Message::Request(mut req) => {
            // As `driver::core` does before any transaction sees the request.
            if let Err(e) = stamp_via(&mut req, from).and_then(|()| validate(&req)) {
                must_parse(
                    &Message::Response(e.response(&req)).to_bytes(),
                    "error answer",
                );
                return;
            }
            must_parse(&req.to_bytes(), "the Via-stamped request");
            let _ = next_hop_max_forwards(&req);
            let mut routed = req.clone();
            if process_routes(&mut routed, |u| u.host == "192.0.2.7").is_ok() {
                must_parse(&routed.to_bytes(), "the route-processed request");
            }
            Message::Request(req)
        }
        resp @ Message::Response(_) => resp,
    };
    transaction(message, from);
}

/// The transaction layer and a TU answering every new request, as the registrar and B2BUA do.
fn transaction(message: Message, from: SocketAddr) {
    let mut layer = TransactionLayer::new(Timers::default());
    let peer = Peer {
        transport: Transport::Udp,
        addr: from,
    };
    let now = Instant::now();
    let _ = layer.receive(message, peer, now);
    while let Some(out) = layer.poll_output() {
        match out {
            LayerOutput::Request { key, request, .. } => {
                let status = if request.method == crate::Method::Invite {
                    486
                } else {
                    200
                };
                let resp = response_to(&request, status, Some("fuzz"));
                let _ = layer.respond(&key, resp, now);
            }
            LayerOutput::Send { message, .. } => {
                must_parse(&message.to_bytes(), "a message the layer sends");
            }
            _ => {}
        }
    }
    // Retransmission and timeout timers must run without panicking too.
    layer.handle_timeout(now + Duration::from_secs(64));
    while layer.poll_output().is_some() {}
}

/// What a decoder framed from a stream, and how it ended.
#[derive(Debug, PartialEq)]
struct Framed {
    items: Vec<StreamItem>,
    error: Option<FramingError>,
}

fn decode_all(d: &mut StreamDecoder, out: &mut Framed) {
    while out.error.is_none() {
        match d.decode() {
            Ok(Some(item)) => {
                if let StreamItem::Invalid { raw, error } = &item
                    && let Some(resp) = bad_request(raw, error)
                {
                    must_parse(&resp.to_bytes(), "our 400 on a stream");
                }
                if let StreamItem::Message(m) = &item {
                    poke(m);
                }
                out.items.push(item);
            }
            Ok(None) => break,
            Err(e) => out.error = Some(e),
        }
    }
}

fn stream(data: &[u8]) {
    let Some(&first) = data.first() else {
        return;
    };
    let chunk = usize::from(first).max(1);
    let mut chunked = StreamDecoder::new();
    let mut got = Framed {
        items: Vec::new(),
        error: None,
    };
    for piece in data.chunks(chunk) {
        chunked.feed(piece);
        decode_all(&mut chunked, &mut got);
        assert!(
            chunked.buffered() <= MAX_MESSAGE_SIZE + chunk,
            "the stream decoder holds {} bytes",
            chunked.buffered()
        );
    }
    let mut whole = StreamDecoder::new();
    let mut want = Framed {
        items: Vec::new(),
        error: None,
    };
    whole.feed(data);
    decode_all(&mut whole, &mut want);
    assert_eq!(got, want, "chunks of {chunk} bytes framed differently");
}
