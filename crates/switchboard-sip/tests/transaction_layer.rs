//! The transaction layer driven like the tokio driver will drive it: messages in, outputs
//! out, the clock moved to `poll_timeout()` — no sockets, no sleeping.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use switchboard_sip::message::{Message, Method, Request, Transport, parse_datagram, response_to};
use switchboard_sip::transaction::{LayerOutput, Peer, Timers, TransactionLayer, new_branch};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn udp(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse().unwrap(),
    }
}

fn request(text: &str) -> Request {
    match parse_datagram(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn invite(branch: &str) -> Request {
    request(&format!(
        "INVITE sip:1001@198.51.100.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.5:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:c@example.com>;tag=f1\r\nTo: <sip:1001@example.com>\r\n\
         Call-ID: call-7\r\nCSeq: 1 INVITE\r\nContact: <sip:c@192.0.2.5>\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

fn with_method(req: &Request, method: Method, to_tag: Option<&str>) -> Request {
    let mut r = req.clone();
    r.method = method.clone();
    r.headers.set("CSeq", &format!("1 {method}"));
    if let Some(t) = to_tag {
        r.headers
            .set("To", &format!("<sip:1001@example.com>;tag={t}"));
    }
    r
}

fn drain(layer: &mut TransactionLayer) -> Vec<LayerOutput> {
    std::iter::from_fn(|| layer.poll_output()).collect()
}

fn sent_statuses(outputs: &[LayerOutput]) -> Vec<u16> {
    outputs
        .iter()
        .filter_map(|o| match o {
            LayerOutput::Send {
                message: Message::Response(r),
                ..
            } => Some(r.status),
            _ => None,
        })
        .collect()
}

#[test]
fn incoming_invite_reaches_the_tu_once_and_retransmissions_get_the_100_again() {
    let t0 = Instant::now();
    let peer = udp("192.0.2.5:5060");
    let mut layer = TransactionLayer::new(Timers::default());
    layer
        .receive(Message::Request(invite("z9hG4bKa")), peer, t0)
        .unwrap();
    let out = drain(&mut layer);
    assert!(matches!(&out[0], LayerOutput::Request { request, from, .. }
        if request.method == Method::Invite && *from == peer));
    assert_eq!(sent_statuses(&out), vec![100]);
    layer
        .receive(Message::Request(invite("z9hG4bKa")), peer, t0 + ms(500))
        .unwrap();
    let out = drain(&mut layer);
    assert_eq!(sent_statuses(&out), vec![100]);
    assert!(!out.iter().any(|o| matches!(o, LayerOutput::Request { .. })));
}

#[test]
fn busy_answer_is_acked_within_the_transaction_and_the_layer_forgets_it_after_t4() {
    let t0 = Instant::now();
    let peer = udp("192.0.2.5:5060");
    let mut layer = TransactionLayer::new(Timers::default());
    let inv = invite("z9hG4bKb");
    layer
        .receive(Message::Request(inv.clone()), peer, t0)
        .unwrap();
    let Some(LayerOutput::Request { key, .. }) = drain(&mut layer).into_iter().next() else {
        panic!("no request for the TU");
    };
    layer
        .respond(&key, response_to(&inv, 486, Some("u1")), t0 + ms(10))
        .unwrap();
    assert_eq!(sent_statuses(&drain(&mut layer)), vec![486]);
    let ack = with_method(&inv, Method::Ack, Some("u1"));
    layer
        .receive(Message::Request(ack), peer, t0 + ms(20))
        .unwrap();
    assert!(
        drain(&mut layer).is_empty(),
        "the ACK of a 486 is not for the TU"
    );
    let at = layer.poll_timeout().unwrap();
    assert_eq!(at, t0 + ms(20) + ms(5000));
    layer.handle_timeout(at);
    assert_eq!(drain(&mut layer), vec![LayerOutput::Terminated { key }]);
    assert!(layer.is_empty());
}

#[test]
fn cancel_gets_its_own_transaction_that_names_the_invite_it_cancels() {
    let t0 = Instant::now();
    let peer = udp("192.0.2.5:5060");
    let mut layer = TransactionLayer::new(Timers::default());
    let inv = invite("z9hG4bKc");
    layer
        .receive(Message::Request(inv.clone()), peer, t0)
        .unwrap();
    drain(&mut layer);
    let cancel = with_method(&inv, Method::Cancel, None);
    layer
        .receive(Message::Request(cancel), peer, t0 + ms(100))
        .unwrap();
    let Some(LayerOutput::Request { key, request, .. }) = drain(&mut layer).into_iter().next()
    else {
        panic!("CANCEL must reach the TU");
    };
    assert_eq!(request.method, Method::Cancel);
    let invite_key = key.cancelled_invite().unwrap();
    assert!(layer.contains(&invite_key));
    assert_eq!(layer.request(&invite_key).unwrap().method, Method::Invite);
}

#[test]
fn two_hundred_ok_is_retransmitted_until_the_ack_with_a_new_branch_arrives() {
    let t0 = Instant::now();
    let peer = udp("192.0.2.5:5060");
    let mut layer = TransactionLayer::new(Timers::default());
    let inv = invite("z9hG4bKd");
    layer
        .receive(Message::Request(inv.clone()), peer, t0)
        .unwrap();
    let Some(LayerOutput::Request { key, .. }) = drain(&mut layer).into_iter().next() else {
        panic!("no request for the TU");
    };
    layer
        .respond(&key, response_to(&inv, 200, Some("u2")), t0)
        .unwrap();
    assert_eq!(sent_statuses(&drain(&mut layer)), vec![200]);
    layer.handle_timeout(t0 + ms(500));
    assert_eq!(sent_statuses(&drain(&mut layer)), vec![200]);
    // The ACK of a 2xx is a new transaction: new branch, same Call-ID and CSeq number.
    let mut ack = with_method(&inv, Method::Ack, Some("u2"));
    ack.headers.set(
        "Via",
        &format!("SIP/2.0/UDP 192.0.2.5:5060;branch={}", new_branch()),
    );
    layer
        .receive(Message::Request(ack), peer, t0 + ms(600))
        .unwrap();
    let out = drain(&mut layer);
    assert!(matches!(&out[..], [LayerOutput::Ack { invite: Some(k), .. }] if *k == key));
    layer.handle_timeout(t0 + ms(1500));
    assert!(sent_statuses(&drain(&mut layer)).is_empty());
    // An ACK nobody waits for still reaches the TU.
    let mut stray = with_method(&inv, Method::Ack, Some("u2"));
    stray.headers.set("Call-ID", "other-call");
    stray.headers.set(
        "Via",
        &format!("SIP/2.0/UDP 192.0.2.5:5060;branch={}", new_branch()),
    );
    layer
        .receive(Message::Request(stray), peer, t0 + ms(1600))
        .unwrap();
    assert!(matches!(
        &drain(&mut layer)[..],
        [LayerOutput::Ack { invite: None, .. }]
    ));
}

#[test]
fn client_request_gets_its_response_and_unknown_responses_are_stray() {
    let t0 = Instant::now();
    let registrar = udp("203.0.113.1:5060");
    let mut layer = TransactionLayer::new(Timers::default());
    let mut reg = with_method(&invite("z9hG4bKx"), Method::Register, None);
    reg.headers.set(
        "Via",
        &format!("SIP/2.0/UDP 198.51.100.1:5060;branch={}", new_branch()),
    );
    let key = layer.send_request(reg.clone(), registrar, t0).unwrap();
    assert!(matches!(&drain(&mut layer)[..], [LayerOutput::Send { to, .. }] if *to == registrar));
    let ok = response_to(&reg, 200, Some("r"));
    layer
        .receive(Message::Response(ok.clone()), registrar, t0 + ms(40))
        .unwrap();
    assert_eq!(
        drain(&mut layer),
        vec![LayerOutput::Response {
            key: key.clone(),
            response: ok.clone()
        }]
    );
    layer.handle_timeout(t0 + ms(40) + ms(5000));
    assert_eq!(drain(&mut layer), vec![LayerOutput::Terminated { key }]);
    layer
        .receive(Message::Response(ok), registrar, t0 + ms(6000))
        .unwrap();
    assert!(matches!(
        &drain(&mut layer)[..],
        [LayerOutput::StrayResponse { .. }]
    ));
}

#[test]
fn unanswered_request_is_retransmitted_then_times_out_at_32_seconds() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let mut opts = with_method(&invite("z9hG4bKy"), Method::Options, None);
    opts.headers.set(
        "Via",
        &format!("SIP/2.0/UDP 198.51.100.1:5060;branch={}", new_branch()),
    );
    let key = layer
        .send_request(opts, udp("203.0.113.9:5060"), t0)
        .unwrap();
    drain(&mut layer);
    let mut sends = Vec::new();
    let mut ended = None;
    while let Some(at) = layer.poll_timeout() {
        layer.handle_timeout(at);
        for o in drain(&mut layer) {
            match o {
                LayerOutput::Send { .. } => sends.push(at.duration_since(t0).as_millis()),
                LayerOutput::Timeout { key: k } => {
                    assert_eq!(k, key);
                    ended = Some(at.duration_since(t0));
                }
                _ => {}
            }
        }
    }
    assert_eq!(&sends[..5], &[500, 1500, 3500, 7500, 11500]);
    assert_eq!(ended, Some(ms(32_000)));
    assert!(layer.is_empty());
}

#[test]
fn the_layer_wakes_for_the_earliest_of_many_transactions() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    for i in 0..100u64 {
        let mut opts = with_method(&invite("z9hG4bKz"), Method::Options, None);
        opts.headers.set(
            "Via",
            &format!("SIP/2.0/UDP 198.51.100.1:5060;branch={}", new_branch()),
        );
        layer
            .send_request(opts, udp("203.0.113.9:5060"), t0 + ms(100 - i))
            .unwrap();
    }
    drain(&mut layer);
    assert_eq!(layer.poll_timeout(), Some(t0 + ms(1) + ms(500)));
    assert_eq!(layer.len(), 100);
    assert!(
        layer
            .send_request(
                with_method(&invite("z9hG4bKz"), Method::Ack, None),
                udp("203.0.113.9:5060"),
                t0
            )
            .is_err()
    );
}
