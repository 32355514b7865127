use std::time::Duration;

use super::*;
use crate::message::{Transport, Uri, parse_datagram};

const INVITE: &str = "INVITE sip:1001@switchboard.local SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKcaller1;rport=5070;received=192.0.2.10\r\n\
Max-Forwards: 70\r\n\
From: \"Ms Li\" <sip:+8613800138000@carrier.example>;tag=ctag\r\n\
To: <sip:1001@switchboard.local>\r\n\
Call-ID: caller-call-1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:caller@192.0.2.10:5070>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 5\r\n\r\nOFFER";

#[derive(Default)]
struct FakeMedia {
    opened: Vec<CallId>,
    closed: Vec<CallId>,
    refuse_open: bool,
}

impl MediaPlane for FakeMedia {
    fn open(&mut self, call: &CallId, offer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        if self.refuse_open {
            return Err(MediaFailure {
                status: 488,
                reason: "Not Acceptable Here (no common codec)".into(),
                warning: Some("399 fake \"no common codec\"".into()),
            });
        }
        assert_eq!(offer, b"OFFER");
        self.opened.push(call.clone());
        Ok(b"B-OFFER".to_vec())
    }
    fn answer(&mut self, _: &CallId, answer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        assert_eq!(answer, b"B-ANSWER");
        Ok(b"A-ANSWER".to_vec())
    }
    fn reoffer(&mut self, _: &CallId, from: Leg, offer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        Ok(format!(
            "REOFFER-{}-{}",
            from.as_str(),
            String::from_utf8_lossy(offer)
        )
        .into_bytes())
    }
    fn reanswer(&mut self, _: &CallId, from: Leg, a: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        Ok(format!("REANSWER-{}-{}", from.as_str(), String::from_utf8_lossy(a)).into_bytes())
    }
    fn park(&mut self, call: &CallId, offer: &[u8]) -> Result<Vec<u8>, MediaFailure> {
        assert_eq!(offer, b"OFFER");
        self.opened.push(call.clone());
        Ok(b"PARK-ANSWER".to_vec())
    }
    fn retarget(&mut self, _: &CallId) -> Result<Vec<u8>, MediaFailure> {
        Ok(b"RETARGET-OFFER".to_vec())
    }
    fn retarget_answer(&mut self, _: &CallId, answer: &[u8]) -> Result<(), MediaFailure> {
        assert_eq!(answer, b"NEW-ANSWER");
        Ok(())
    }
    fn close(&mut self, call: &CallId) {
        self.closed.push(call.clone());
    }
    fn originate(&mut self, call: &CallId) -> Result<Vec<u8>, MediaFailure> {
        self.opened.push(call.clone());
        Ok(b"CUSTOMER-OFFER".to_vec())
    }
    fn originate_answer(&mut self, _: &CallId, answer: &[u8]) -> Result<(), MediaFailure> {
        assert_eq!(answer, b"CUSTOMER-ANSWER");
        Ok(())
    }
}

fn config() -> B2buaConfig {
    B2buaConfig {
        domain: "switchboard.local".into(),
        advertised_host: "198.51.100.1".into(),
        udp_port: 5060,
        tcp_port: 5060,
        ring_timeout: Duration::from_secs(30),
        max_calls: 100,
        user_agent: "switchboard-test".into(),
    }
}

fn peer(addr: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: addr.parse().unwrap(),
    }
}

fn target(addr: &str) -> ForkTarget {
    ForkTarget {
        uri: Uri::parse(&format!("sip:1001@{addr}")).unwrap(),
        peer: peer(addr),
        credentials: None,
        caller_id: None,
    }
}

fn request(text: &str) -> Request {
    match parse_datagram(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// A running test: the controller, the fake media plane and every output so far.
struct Harness {
    b2bua: B2bua,
    media: FakeMedia,
    out: Vec<Output>,
    caller_key: TxKey,
    invite: Request,
}

impl Harness {
    fn start(targets: Vec<ForkTarget>) -> (Harness, CallId) {
        let invite = request(INVITE);
        let key = TxKey::for_incoming_request(&invite).unwrap();
        let mut h = Harness {
            b2bua: B2bua::new(config()),
            media: FakeMedia::default(),
            out: Vec::new(),
            caller_key: key.clone(),
            invite: invite.clone(),
        };
        let target = Target::Fork {
            label: "extension:1001".into(),
            targets,
            ring_timeout: None,
        };
        let id = CallId::generate();
        h.b2bua.new_call(
            id.clone(),
            key,
            invite,
            peer("192.0.2.10:5070"),
            target,
            &mut h.media,
            t(0),
        );
        h.drain();
        (h, id)
    }

    fn drain(&mut self) -> Vec<Output> {
        let mut new = Vec::new();
        while let Some(o) = self.b2bua.poll_output() {
            new.push(o);
        }
        self.out.extend(new.clone());
        new
    }

    fn callee_invites(&self) -> Vec<(Request, Peer)> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Request { request, to } if request.method == Method::Invite => {
                    Some((request.clone(), *to))
                }
                _ => None,
            })
            .collect()
    }

    fn callee_says(&mut self, invite: &Request, status: u16, tag: &str, body: &[u8]) {
        let mut resp = response_to(invite, status, Some(tag));
        resp.headers.push("Contact", "<sip:1001@192.0.2.20:5080>");
        resp.body = body.to_vec();
        let key = TxKey::for_outgoing_request(invite).unwrap();
        self.b2bua
            .handle_response(key, resp, &mut self.media, t(1000));
        self.drain();
    }

    fn caller_responses(&self) -> Vec<u16> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Respond { key, response } if *key == self.caller_key => {
                    Some(response.status)
                }
                _ => None,
            })
            .collect()
    }

    fn ended(&self) -> Vec<(EndCause, Option<u16>, HangupBy)> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Event(CallEvent::Ended {
                    cause, status, by, ..
                }) => Some((cause.clone(), *status, *by)),
                _ => None,
            })
            .collect()
    }

    fn sent(&self, method: Method) -> Vec<(Request, Peer)> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Request { request, to } if request.method == method => {
                    Some((request.clone(), *to))
                }
                Output::Stateless {
                    message: Message::Request(request),
                    to,
                } if request.method == method => Some((request.clone(), *to)),
                _ => None,
            })
            .collect()
    }

    fn answered_call(&mut self) -> Response {
        let (invite, _) = self.callee_invites()[0].clone();
        self.callee_says(&invite, 180, "btag", b"");
        self.callee_says(&invite, 200, "btag", b"B-ANSWER");
        self.out
            .iter()
            .rev()
            .find_map(|o| match o {
                Output::Respond { key, response }
                    if *key == self.caller_key && response.status == 200 =>
                {
                    Some(response.clone())
                }
                _ => None,
            })
            .expect("a 200 to the caller")
    }

    /// An in-dialog request from the caller, built from our 200.
    fn caller_in_dialog(&self, ok: &Response, method: &str, cseq: u32, body: &str) -> Request {
        let to = ok.headers.get("To").unwrap();
        request(&format!(
            "{method} sip:switchboard@198.51.100.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bKcaller{cseq};rport=5070\r\n\
Max-Forwards: 70\r\n\
From: \"Ms Li\" <sip:+8613800138000@carrier.example>;tag=ctag\r\n\
To: {to}\r\n\
Call-ID: caller-call-1\r\n\
CSeq: {cseq} {method}\r\n\
Contact: <sip:caller@192.0.2.10:5070>\r\n\
Content-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }
}

#[test]
fn a_basic_call_rings_answers_and_ends_when_the_caller_hangs_up() {
    let (mut h, id) = Harness::start(vec![target("192.0.2.20:5080")]);
    assert_eq!(h.caller_responses(), vec![100]);
    let invites = h.callee_invites();
    assert_eq!(invites.len(), 1);
    let (invite, to) = &invites[0];
    assert_eq!(to.addr.to_string(), "192.0.2.20:5080");
    assert_eq!(invite.body, b"B-OFFER");
    assert_ne!(invite.headers.call_id().unwrap(), "caller-call-1");
    assert_eq!(invite.headers.max_forwards().unwrap(), Some(69));
    let from = invite.headers.from().unwrap();
    assert_eq!(from.uri.user.as_deref(), Some("+8613800138000"));
    assert_eq!(from.display.as_deref(), Some("Ms Li"));

    let ok = h.answered_call();
    assert_eq!(h.caller_responses(), vec![100, 180, 200]);
    assert_eq!(ok.body, b"A-ANSWER");
    assert!(ok.headers.get("Contact").is_some());
    assert_eq!(h.sent(Method::Ack).len(), 1, "the callee's 200 is ACKed");
    assert!(
        h.out
            .iter()
            .any(|o| matches!(o, Output::Event(CallEvent::Answered { target: 0, .. })))
    );

    let bye = h.caller_in_dialog(&ok, "BYE", 2, "");
    let bye_key = TxKey::for_incoming_request(&bye).unwrap();
    h.b2bua
        .handle_request(bye_key.clone(), bye, &mut h.media, t(5000));
    h.drain();
    assert!(h.out.iter().any(|o| matches!(
        o,
        Output::Respond { key, response } if *key == bye_key && response.status == 200
    )));
    let byes = h.sent(Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].1.addr.to_string(), "192.0.2.20:5080");
    assert_eq!(
        h.ended(),
        vec![(EndCause::NormalClearing, None, HangupBy::Caller)]
    );
    assert_eq!(h.media.closed, vec![id]);
    assert!(h.b2bua.is_empty());
}

#[test]
fn the_callee_hanging_up_sends_bye_to_the_caller() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    h.answered_call();
    let (invite, _) = h.callee_invites()[0].clone();
    // The callee's BYE: From = its tag, To = our tag.
    let bye = request(&format!(
        "BYE sip:switchboard@198.51.100.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.20:5080;branch=z9hG4bKcalleebye\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@switchboard.local>;tag=btag\r\n\
To: {}\r\n\
Call-ID: {}\r\n\
CSeq: 1 BYE\r\n\
Content-Length: 0\r\n\r\n",
        invite.headers.get("From").unwrap(),
        invite.headers.call_id().unwrap()
    ));
    let key = TxKey::for_incoming_request(&bye).unwrap();
    h.b2bua.handle_request(key, bye, &mut h.media, t(9000));
    h.drain();
    let byes = h.sent(Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].1.addr.to_string(), "192.0.2.10:5070");
    assert_eq!(byes[0].0.headers.call_id().unwrap(), "caller-call-1");
    assert_eq!(
        h.ended(),
        vec![(EndCause::NormalClearing, None, HangupBy::Callee)]
    );
}

#[test]
fn cancel_before_the_answer_gives_487_and_cancels_the_callee() {
    let (mut h, id) = Harness::start(vec![target("192.0.2.20:5080")]);
    let cancel = crate::transaction::cancel_for(&h.invite);
    let key = TxKey::for_incoming_request(&cancel).unwrap();
    h.b2bua
        .handle_request(key.clone(), cancel, &mut h.media, t(2000));
    h.drain();
    assert!(h.out.iter().any(|o| matches!(
        o,
        Output::Respond { key: k, response } if *k == key && response.status == 200
    )));
    assert_eq!(h.caller_responses(), vec![100, 487]);
    assert_eq!(h.sent(Method::Cancel).len(), 1);
    assert_eq!(
        h.ended(),
        vec![(EndCause::CallerCancel, Some(487), HangupBy::Caller)]
    );
    assert_eq!(h.media.closed, vec![id]);
}

#[test]
fn a_busy_callee_gives_the_caller_486() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    let (invite, _) = h.callee_invites()[0].clone();
    h.callee_says(&invite, 486, "btag", b"");
    assert_eq!(h.caller_responses(), vec![100, 486]);
    assert_eq!(
        h.ended(),
        vec![(EndCause::Busy, Some(486), HangupBy::Callee)]
    );
    assert!(h.b2bua.is_empty());
}

#[test]
fn nobody_answering_ends_with_480_at_the_ring_timeout() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    let (invite, _) = h.callee_invites()[0].clone();
    h.callee_says(&invite, 180, "btag", b"");
    assert_eq!(h.b2bua.poll_timeout(), Some(t(30_000)));
    h.b2bua.handle_timeout(&mut h.media, t(29_999));
    assert!(h.drain().is_empty());
    h.b2bua.handle_timeout(&mut h.media, t(30_000));
    h.drain();
    assert_eq!(h.caller_responses(), vec![100, 180, 480]);
    assert_eq!(h.sent(Method::Cancel).len(), 1);
    assert_eq!(
        h.ended(),
        vec![(EndCause::NoAnswer, Some(480), HangupBy::System)]
    );
}

#[test]
fn an_unreachable_callee_times_out_as_unavailable() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    let (invite, _) = h.callee_invites()[0].clone();
    let key = TxKey::for_outgoing_request(&invite).unwrap();
    h.b2bua
        .handle_transaction_timeout(&key, &mut h.media, t(32_000));
    h.drain();
    assert_eq!(h.caller_responses(), vec![100, 480]);
    assert_eq!(h.ended()[0].0, EndCause::Unavailable);
}

#[test]
fn forks_ring_together_and_the_first_answer_cancels_the_rest() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080"), target("192.0.2.21:5080")]);
    let invites = h.callee_invites();
    assert_eq!(invites.len(), 2);
    assert_eq!(
        invites[0].0.headers.call_id().unwrap(),
        invites[1].0.headers.call_id().unwrap()
    );
    h.callee_says(&invites[1].0, 200, "second", b"B-ANSWER");
    let cancels = h.sent(Method::Cancel);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].1.addr.to_string(), "192.0.2.20:5080");
    assert!(
        h.out
            .iter()
            .any(|o| matches!(o, Output::Event(CallEvent::Answered { target: 1, .. })))
    );
    // The cancelled fork answers anyway: it gets ACK and BYE, the call is unchanged.
    h.callee_says(&invites[0].0, 200, "first", b"B-ANSWER");
    assert_eq!(h.sent(Method::Bye).len(), 1);
    assert_eq!(h.b2bua.len(), 1);
    assert_eq!(
        h.caller_responses().iter().filter(|s| **s == 200).count(),
        1
    );
}

#[test]
fn a_reinvite_is_relayed_with_sdp_from_the_media_plane_both_ways() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    let ok = h.answered_call();
    let reinvite = h.caller_in_dialog(&ok, "INVITE", 2, "HOLD");
    let key = TxKey::for_incoming_request(&reinvite).unwrap();
    h.b2bua
        .handle_request(key.clone(), reinvite, &mut h.media, t(3000));
    h.drain();
    let to_callee: Vec<_> = h.callee_invites();
    assert_eq!(to_callee.len(), 2);
    let relayed = &to_callee[1].0;
    assert_eq!(relayed.body, b"REOFFER-caller-HOLD");
    assert_eq!(relayed.headers.cseq().unwrap().seq, 2);
    // A second offer while one is pending is refused with 491.
    let glare = h.caller_in_dialog(&ok, "INVITE", 3, "X");
    let glare_key = TxKey::for_incoming_request(&glare).unwrap();
    h.b2bua
        .handle_request(glare_key.clone(), glare, &mut h.media, t(3001));
    h.drain();
    assert!(h.out.iter().any(|o| matches!(
        o,
        Output::Respond { key: k, response } if *k == glare_key && response.status == 491
    )));
    h.callee_says(relayed, 200, "btag", b"HELD");
    assert_eq!(h.sent(Method::Ack).len(), 2);
    let answer = h
        .out
        .iter()
        .find_map(|o| match o {
            Output::Respond { key: k, response } if *k == key => Some(response.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, b"REANSWER-caller-HELD");
}

#[test]
fn rejected_targets_and_media_failures_still_write_a_call_record() {
    let invite = request(INVITE);
    let key = TxKey::for_incoming_request(&invite).unwrap();
    let mut b = B2bua::new(config());
    let mut media = FakeMedia::default();
    b.new_call(
        CallId::generate(),
        key.clone(),
        invite.clone(),
        peer("192.0.2.10:5070"),
        Target::Reject {
            label: "unknown".into(),
            status: 404,
            cause: EndCause::NotFound,
        },
        &mut media,
        t(0),
    );
    let outs: Vec<_> = std::iter::from_fn(|| b.poll_output()).collect();
    assert!(matches!(outs[0], Output::Event(CallEvent::Started { .. })));
    assert!(matches!(&outs[1], Output::Respond { response, .. } if response.status == 404));
    assert!(matches!(
        &outs[2],
        Output::Event(CallEvent::Ended {
            cause: EndCause::NotFound,
            status: Some(404),
            ..
        })
    ));

    media.refuse_open = true;
    b.new_call(
        CallId::generate(),
        key,
        invite,
        peer("192.0.2.10:5070"),
        Target::Fork {
            label: "extension:1001".into(),
            targets: vec![target("192.0.2.20:5080")],
            ring_timeout: None,
        },
        &mut media,
        t(0),
    );
    let outs: Vec<_> = std::iter::from_fn(|| b.poll_output()).collect();
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Respond { response, .. } if response.status == 488
            && response.headers.get("Warning") == Some("399 fake \"no common codec\"")
    )));
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Event(CallEvent::Ended {
            cause: EndCause::MediaNegotiation,
            ..
        })
    )));
    assert!(b.is_empty());
}

#[test]
fn a_trunk_challenge_is_answered_once_with_credentials() {
    let mut trunk = target("203.0.113.5:5060");
    trunk.credentials = Some(ClientCredentials {
        username: "acct".into(),
        password: "s3cret".into(),
    });
    trunk.caller_id = Some("+861088886666".into());
    let (mut h, _) = Harness::start(vec![trunk]);
    let (invite, _) = h.callee_invites()[0].clone();
    assert_eq!(
        invite.headers.from().unwrap().uri.user.as_deref(),
        Some("+861088886666")
    );
    let mut challenge = response_to(&invite, 407, Some("t"));
    challenge.headers.push(
        "Proxy-Authenticate",
        "Digest realm=\"carrier\", nonce=\"abc\", algorithm=MD5, qop=\"auth\"",
    );
    let key = TxKey::for_outgoing_request(&invite).unwrap();
    h.b2bua
        .handle_response(key, challenge.clone(), &mut h.media, t(100));
    h.drain();
    let invites = h.callee_invites();
    assert_eq!(invites.len(), 2);
    let retry = &invites[1].0;
    assert_eq!(retry.headers.cseq().unwrap().seq, 2);
    assert!(
        retry
            .headers
            .get("Proxy-Authorization")
            .unwrap()
            .contains("username=\"acct\"")
    );
    // A second challenge means the credentials are wrong: the call fails.
    let key = TxKey::for_outgoing_request(retry).unwrap();
    let mut again = response_to(retry, 407, Some("t"));
    again.headers = challenge.headers.clone();
    h.b2bua.handle_response(key, again, &mut h.media, t(200));
    h.drain();
    assert_eq!(h.caller_responses(), vec![100, 407]);
}

#[test]
fn requests_for_unknown_dialogs_get_481() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    let ok = h.answered_call();
    let mut bye = h.caller_in_dialog(&ok, "BYE", 2, "");
    bye.headers.set("Call-ID", "someone-else");
    let key = TxKey::for_incoming_request(&bye).unwrap();
    h.b2bua
        .handle_request(key.clone(), bye, &mut h.media, t(5000));
    h.drain();
    assert!(h.out.iter().any(|o| matches!(
        o,
        Output::Respond { key: k, response } if *k == key && response.status == 481
    )));
    assert_eq!(h.b2bua.len(), 1);
}

#[test]
fn a_system_hangup_of_an_answered_call_byes_both_legs() {
    let (mut h, id) = Harness::start(vec![target("192.0.2.20:5080")]);
    h.answered_call();
    h.b2bua.hangup(
        &id,
        EndCause::MediaTimeout("media-timeout-no-rtp"),
        &mut h.media,
        t(40_000),
    );
    h.drain();
    assert_eq!(h.sent(Method::Bye).len(), 2);
    assert_eq!(h.ended()[0].0.as_str(), "media-timeout-no-rtp");
}

/// An in-dialog request from the callee of the first INVITE (From = its tag "btag").
fn callee_request(invite: &Request, method: &str, cseq: u32, extra: &str) -> Request {
    request(&format!(
        "{method} sip:switchboard@198.51.100.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.20:5080;branch=z9hG4bKcallee{cseq}\r\n\
Max-Forwards: 70\r\n\
From: <sip:1001@switchboard.local>;tag=btag\r\n\
To: {}\r\n\
Call-ID: {}\r\n\
CSeq: {cseq} {method}\r\n\
{extra}Content-Length: 0\r\n\r\n",
        invite.headers.get("From").unwrap(),
        invite.headers.call_id().unwrap()
    ))
}

fn transfer_requested(h: &Harness) -> Option<String> {
    h.out.iter().find_map(|o| match o {
        Output::Event(CallEvent::TransferRequested { target, .. }) => Some(target.clone()),
        _ => None,
    })
}

#[test]
fn a_blind_transfer_hands_the_caller_to_the_new_target() {
    let (mut h, id) = Harness::start(vec![target("192.0.2.20:5080")]);
    h.answered_call();
    let (first_invite, _) = h.callee_invites()[0].clone();
    let refer = callee_request(
        &first_invite,
        "REFER",
        1,
        "Refer-To: <sip:1002@switchboard.local>\r\nContact: <sip:1001@192.0.2.20:5080>\r\n",
    );
    let key = TxKey::for_incoming_request(&refer).unwrap();
    h.b2bua
        .handle_request(key.clone(), refer, &mut h.media, t(4000));
    h.drain();
    assert!(h.out.iter().any(|o| matches!(
        o,
        Output::Respond { key: k, response } if *k == key && response.status == 202
    )));
    assert_eq!(transfer_requested(&h).as_deref(), Some("1002"));

    let mut new_target = target("192.0.2.30:5080");
    new_target.uri = Uri::parse("sip:1002@192.0.2.30:5080").unwrap();
    let fork = Target::Fork {
        label: "extension:1002".into(),
        targets: vec![new_target],
        ring_timeout: None,
    };
    h.b2bua.transfer(&id, fork, &mut h.media, t(4001));
    h.drain();
    let notify = h.sent(Method::Notify);
    assert_eq!(notify.len(), 1);
    assert_eq!(notify[0].0.body, b"SIP/2.0 200 OK\r\n");
    let byes = h.sent(Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].1.addr.to_string(), "192.0.2.20:5080");
    let invites = h.callee_invites();
    assert_eq!(invites.len(), 2);
    let (second, to) = &invites[1];
    assert_eq!(to.addr.to_string(), "192.0.2.30:5080");
    assert_eq!(second.body, b"RETARGET-OFFER");
    assert_eq!(
        second.headers.from().unwrap().uri.user.as_deref(),
        Some("+8613800138000"),
        "the new target sees the customer's number"
    );

    h.callee_says(second, 200, "ctag2", b"NEW-ANSWER");
    assert!(
        h.out
            .iter()
            .any(|o| matches!(o, Output::Event(CallEvent::Transferred { .. })))
    );
    assert_eq!(
        h.caller_responses(),
        vec![100, 180, 200],
        "the caller hears nothing new"
    );
    assert!(h.ended().is_empty());

    // The caller hangs up: the BYE goes to the new callee.
    let ok_to_caller = h
        .out
        .iter()
        .find_map(|o| match o {
            Output::Respond { key, response } if *key == h.caller_key && response.status == 200 => {
                Some(response.clone())
            }
            _ => None,
        })
        .unwrap();
    let bye = h.caller_in_dialog(&ok_to_caller, "BYE", 2, "");
    let key = TxKey::for_incoming_request(&bye).unwrap();
    h.b2bua.handle_request(key, bye, &mut h.media, t(9000));
    h.drain();
    let byes = h.sent(Method::Bye);
    assert_eq!(byes.len(), 2);
    assert_eq!(byes[1].1.addr.to_string(), "192.0.2.30:5080");
    assert_eq!(h.ended()[0].0, EndCause::NormalClearing);
}

#[test]
fn a_transfer_nobody_takes_hangs_up_on_the_caller() {
    let (mut h, id) = Harness::start(vec![target("192.0.2.20:5080")]);
    h.answered_call();
    let (first_invite, _) = h.callee_invites()[0].clone();
    let refer = callee_request(
        &first_invite,
        "REFER",
        1,
        "Refer-To: <sip:1002@switchboard.local>\r\n",
    );
    let key = TxKey::for_incoming_request(&refer).unwrap();
    h.b2bua.handle_request(key, refer, &mut h.media, t(4000));
    h.b2bua.transfer(
        &id,
        Target::Fork {
            label: "extension:1002".into(),
            targets: vec![target("192.0.2.30:5080")],
            ring_timeout: None,
        },
        &mut h.media,
        t(4001),
    );
    h.drain();
    let (second, _) = h.callee_invites()[1].clone();
    h.callee_says(&second, 486, "busy", b"");
    let byes = h.sent(Method::Bye);
    assert_eq!(byes.last().unwrap().1.addr.to_string(), "192.0.2.10:5070");
    assert_eq!(
        h.ended(),
        vec![(EndCause::TransferFailed, None, HangupBy::System)]
    );
}

#[test]
fn only_the_callee_may_transfer() {
    let (mut h, _) = Harness::start(vec![target("192.0.2.20:5080")]);
    let ok = h.answered_call();
    let mut refer = h.caller_in_dialog(&ok, "REFER", 2, "");
    refer
        .headers
        .push("Refer-To", "<sip:1002@switchboard.local>");
    let key = TxKey::for_incoming_request(&refer).unwrap();
    h.b2bua
        .handle_request(key.clone(), refer, &mut h.media, t(4000));
    h.drain();
    assert!(h.out.iter().any(|o| matches!(
        o,
        Output::Respond { key: k, response } if *k == key && response.status == 403
    )));
    assert!(transfer_requested(&h).is_none());
}

fn queued_call() -> (Harness, CallId) {
    let invite = request(INVITE);
    let key = TxKey::for_incoming_request(&invite).unwrap();
    let mut h = Harness {
        b2bua: B2bua::new(config()),
        media: FakeMedia::default(),
        out: Vec::new(),
        caller_key: key.clone(),
        invite: invite.clone(),
    };
    let id = CallId::generate();
    h.b2bua.new_call(
        id.clone(),
        key,
        invite,
        peer("192.0.2.10:5070"),
        Target::Queue {
            label: "queue:sales".into(),
            queue: "sales".into(),
        },
        &mut h.media,
        t(0),
    );
    h.drain();
    (h, id)
}

fn events_named(h: &Harness, name: &str) -> usize {
    h.out
        .iter()
        .filter(|o| match o {
            Output::Event(e) => format!("{e:?}").starts_with(name),
            _ => false,
        })
        .count()
}

#[test]
fn a_queue_call_is_answered_by_us_and_waits_for_an_offer() {
    let (mut h, id) = queued_call();
    assert_eq!(h.caller_responses(), vec![100, 200]);
    let ok = h
        .out
        .iter()
        .find_map(|o| match o {
            Output::Respond { response, .. } if response.status == 200 => Some(response.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(ok.body, b"PARK-ANSWER");
    assert_eq!(events_named(&h, "Queued"), 1);
    assert!(h.callee_invites().is_empty());
    assert_eq!(
        h.b2bua.poll_timeout(),
        None,
        "the ACD keeps the clock of queued calls"
    );

    assert!(
        h.b2bua
            .offer(&id, vec![target("192.0.2.20:5080")], &mut h.media, t(1000))
    );
    h.drain();
    let (invite, _) = h.callee_invites()[0].clone();
    assert_eq!(invite.body, b"RETARGET-OFFER");
    assert!(
        !h.b2bua
            .offer(&id, vec![target("192.0.2.21:5080")], &mut h.media, t(1001)),
        "one offer at a time"
    );
    h.callee_says(&invite, 200, "agent", b"NEW-ANSWER");
    assert!(
        h.out
            .iter()
            .any(|o| matches!(o, Output::Event(CallEvent::Answered { target: 0, .. })))
    );
    assert_eq!(
        h.caller_responses(),
        vec![100, 200],
        "the caller hears nothing new"
    );

    // The agent hangs up: the caller gets BYE.
    let bye = callee_request(&invite, "BYE", 1, "");
    let bye = {
        let mut b = bye;
        b.headers
            .set("From", "<sip:1001@switchboard.local>;tag=agent");
        b
    };
    let key = TxKey::for_incoming_request(&bye).unwrap();
    h.b2bua.handle_request(key, bye, &mut h.media, t(60_000));
    h.drain();
    assert_eq!(h.sent(Method::Bye)[0].1.addr.to_string(), "192.0.2.10:5070");
    assert_eq!(
        h.ended(),
        vec![(EndCause::NormalClearing, None, HangupBy::Callee)]
    );
}

#[test]
fn a_failed_offer_leaves_the_call_waiting_and_a_cancelled_one_too() {
    let (mut h, id) = queued_call();
    h.b2bua
        .offer(&id, vec![target("192.0.2.20:5080")], &mut h.media, t(1000));
    h.drain();
    let (first, _) = h.callee_invites()[0].clone();
    h.callee_says(&first, 486, "busy", b"");
    assert_eq!(events_named(&h, "OfferFailed"), 1);
    assert!(h.ended().is_empty());

    assert!(
        h.b2bua
            .offer(&id, vec![target("192.0.2.21:5080")], &mut h.media, t(2000))
    );
    h.drain();
    h.b2bua.cancel_offer(&id);
    h.drain();
    assert_eq!(h.sent(Method::Cancel).len(), 1);
    assert!(
        h.b2bua
            .offer(&id, vec![target("192.0.2.22:5080")], &mut h.media, t(3000))
    );
    h.drain();
    assert_eq!(h.callee_invites().len(), 3);

    // The caller gives up while the third agent rings: CANCEL it, the call ends.
    let ok = h
        .out
        .iter()
        .find_map(|o| match o {
            Output::Respond { key, response } if *key == h.caller_key && response.status == 200 => {
                Some(response.clone())
            }
            _ => None,
        })
        .unwrap();
    let bye = h.caller_in_dialog(&ok, "BYE", 2, "");
    let key = TxKey::for_incoming_request(&bye).unwrap();
    h.b2bua.handle_request(key, bye, &mut h.media, t(4000));
    h.drain();
    assert_eq!(h.sent(Method::Cancel).len(), 2);
    assert_eq!(
        h.ended(),
        vec![(EndCause::NormalClearing, None, HangupBy::Caller)]
    );
    assert_eq!(h.media.closed, vec![id]);
}

#[path = "flow_tests.rs"]
mod flow;

/// A call we place (the dialer): INVITE to the trunk with the campaign's caller ID, the
/// customer's answer parks the call, the agent's phone is offered it showing the customer's
/// number with the auto-answer hint, and the agent's answer bridges it.
#[test]
fn an_originated_call_rings_the_customer_then_the_agent() {
    let mut h = Harness {
        b2bua: B2bua::new(config()),
        media: FakeMedia::default(),
        out: Vec::new(),
        caller_key: TxKey::for_incoming_request(&request(INVITE)).unwrap(),
        invite: request(INVITE),
    };
    let id = CallId::generate();
    let mut trunk = target("203.0.113.5:5060");
    trunk.uri.user = Some("+8613900139000".into());
    let o = Origination {
        target: trunk,
        caller_id: "+8640088888888".into(),
        label: "dialer:c1".into(),
        ring_timeout: Duration::from_secs(25),
    };
    assert!(h.b2bua.originate(id.clone(), o, &mut h.media, t(0)));
    h.drain();
    let (invite, to) = h.callee_invites()[0].clone();
    assert_eq!(to, peer("203.0.113.5:5060"));
    assert_eq!(invite.uri.user.as_deref(), Some("+8613900139000"));
    assert!(
        invite
            .headers
            .get("From")
            .unwrap()
            .contains("sip:+8640088888888@")
    );
    assert_eq!(invite.body, b"CUSTOMER-OFFER");
    h.callee_says(&invite, 180, "ctag", b"");
    h.callee_says(&invite, 200, "ctag", b"CUSTOMER-ANSWER");
    assert_eq!(
        h.sent(Method::Ack).len(),
        1,
        "the customer's 200 is acknowledged"
    );
    assert!(
        h.out
            .iter()
            .any(|o| matches!(o, Output::Event(CallEvent::Ringing { .. })))
    );
    assert!(h.out.iter().any(
        |o| matches!(o, Output::Event(CallEvent::CustomerAnswered { call, .. }) if *call == id)
    ));
    assert!(
        h.caller_responses().is_empty(),
        "nobody to answer: we are the caller"
    );

    assert!(
        h.b2bua
            .offer(&id, vec![target("192.0.2.20:5080")], &mut h.media, t(1500))
    );
    h.drain();
    let (agent_invite, _) = h.callee_invites()[1].clone();
    assert!(
        agent_invite
            .headers
            .get("From")
            .unwrap()
            .contains("sip:+8613900139000@"),
        "the agent's phone shows the customer: {:?}",
        agent_invite.headers.get("From")
    );
    assert!(
        agent_invite
            .headers
            .get("Call-Info")
            .unwrap()
            .contains("answer-after=0")
    );
    let mut ok = response_to(&agent_invite, 200, Some("atag"));
    ok.headers.push("Contact", "<sip:1001@192.0.2.20:5080>");
    ok.body = b"NEW-ANSWER".to_vec();
    let key = TxKey::for_outgoing_request(&agent_invite).unwrap();
    h.b2bua.handle_response(key, ok, &mut h.media, t(1600));
    h.drain();
    assert!(
        h.out
            .iter()
            .any(|o| matches!(o, Output::Event(CallEvent::Answered { .. })))
    );
    h.b2bua
        .hangup(&id, EndCause::NormalClearing, &mut h.media, t(5000));
    h.drain();
    assert_eq!(
        h.sent(Method::Bye).len(),
        2,
        "BYE to the customer and the agent"
    );
    assert_eq!(h.ended().len(), 1);
}

/// Nobody answers: at the backstop ring timeout the INVITE is cancelled, the call ends as
/// no-answer, and its media is released.
#[test]
fn an_originated_call_nobody_answers_is_cancelled() {
    let mut h = Harness {
        b2bua: B2bua::new(config()),
        media: FakeMedia::default(),
        out: Vec::new(),
        caller_key: TxKey::for_incoming_request(&request(INVITE)).unwrap(),
        invite: request(INVITE),
    };
    let id = CallId::generate();
    let mut trunk = target("203.0.113.5:5060");
    trunk.uri.user = Some("+8613900139000".into());
    let o = Origination {
        target: trunk,
        caller_id: "+8640088888888".into(),
        label: "dialer:c1".into(),
        ring_timeout: Duration::from_secs(20),
    };
    assert!(h.b2bua.originate(id.clone(), o, &mut h.media, t(0)));
    h.drain();
    let (invite, _) = h.callee_invites()[0].clone();
    h.callee_says(&invite, 180, "ctag", b"");
    assert_eq!(h.b2bua.poll_timeout(), Some(t(20_000)));
    h.b2bua.handle_timeout(&mut h.media, t(20_000));
    h.drain();
    assert_eq!(h.sent(Method::Cancel).len(), 1);
    assert_eq!(
        h.ended(),
        vec![(EndCause::NoAnswer, Some(487), HangupBy::System)]
    );
    assert_eq!(h.media.closed, vec![id]);
    // A busy customer ends the call as busy.
    let id2 = CallId::generate();
    let mut trunk = target("203.0.113.5:5060");
    trunk.uri.user = Some("+8613900139001".into());
    let o = Origination {
        target: trunk,
        caller_id: "+8640088888888".into(),
        label: "dialer:c1".into(),
        ring_timeout: Duration::from_secs(20),
    };
    assert!(h.b2bua.originate(id2, o, &mut h.media, t(30_000)));
    h.drain();
    let (invite, _) = h.callee_invites()[1].clone();
    h.callee_says(&invite, 486, "ctag2", b"");
    assert_eq!(h.ended()[1], (EndCause::Busy, Some(486), HangupBy::Callee));
}
