use super::*;
use crate::message::{parse_datagram, response_to};

fn parse_request(text: &str) -> Request {
    match parse_datagram(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn endpoint() -> LocalEndpoint {
    LocalEndpoint {
        transport: Transport::Udp,
        host: "198.51.100.1".into(),
        port: Some(5060),
        contact: Uri::parse("sip:sb@198.51.100.1:5060").unwrap(),
    }
}

/// An INVITE as it reaches us through two record-routing proxies.
fn incoming_invite() -> Request {
    parse_request(
        "INVITE sip:1001@198.51.100.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2\r\n\
         Via: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKuac\r\n\
         Max-Forwards: 68\r\nFrom: \"Caller\" <sip:caller@example.com>;tag=from1\r\n\
         To: <sip:1001@switchboard.test>\r\nCall-ID: dlg-1@192.0.2.5\r\nCSeq: 101 INVITE\r\n\
         Contact: <sip:caller@192.0.2.5:5060>\r\n\
         Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n\
         Content-Length: 0\r\n\r\n",
    )
}

#[test]
fn uas_dialog_routes_requests_back_through_the_record_route_in_order() {
    let invite = incoming_invite();
    let mut d = Dialog::as_uas(&invite, "tagB", 200, endpoint()).unwrap();
    assert_eq!(d.id().remote_tag, "from1");
    assert_eq!(d.state(), DialogState::Confirmed);
    let bye = d.bye();
    assert_eq!(bye.uri.to_string(), "sip:caller@192.0.2.5:5060");
    assert_eq!(
        bye.headers.list("Route"),
        vec!["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    );
    assert_eq!(bye.headers.from().unwrap().tag(), Some("tagB"));
    assert_eq!(bye.headers.to().unwrap().tag(), Some("from1"));
    assert_eq!(
        bye.headers.cseq().unwrap(),
        CSeq {
            seq: 1,
            method: Method::Bye
        }
    );
    let via = bye.headers.top_via().unwrap();
    assert!(via.branch().unwrap().starts_with("z9hG4bK"));
    bye.validate().unwrap();
}

#[test]
fn uac_dialog_reverses_the_record_route_and_targets_the_contact_of_the_2xx() {
    let mut invite = incoming_invite();
    invite
        .headers
        .set("From", "<sip:sb@switchboard.test>;tag=ours");
    let mut ok = response_to(&invite, 200, Some("theirs"));
    ok.headers.push(
        "Record-Route",
        "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>",
    );
    ok.headers.push("Contact", "<sip:1001@192.0.2.77:5062>");
    let mut d = Dialog::as_uac(&invite, &ok, endpoint()).unwrap();
    assert_eq!(d.id().local_tag, "ours");
    assert_eq!(d.remote_target().to_string(), "sip:1001@192.0.2.77:5062");
    let ack = d.ack(101);
    assert_eq!(ack.headers.cseq().unwrap().seq, 101);
    assert_eq!(ack.headers.cseq().unwrap().method, Method::Ack);
    assert_eq!(
        ack.headers.list("Route"),
        vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    // The next request moves past the INVITE's CSeq.
    let reinvite = d.reinvite(b"v=0\r\n".to_vec());
    assert_eq!(reinvite.headers.cseq().unwrap().seq, 102);
    assert_eq!(
        reinvite.headers.get("Contact"),
        Some("<sip:sb@198.51.100.1:5060>")
    );
    assert_eq!(reinvite.body, b"v=0\r\n");
}

#[test]
fn strict_route_becomes_the_request_uri_and_the_target_goes_last() {
    let mut invite = incoming_invite();
    invite
        .headers
        .set("Record-Route", "<sip:strict.example.com>");
    let mut d = Dialog::as_uas(&invite, "t", 200, endpoint()).unwrap();
    let bye = d.bye();
    assert_eq!(bye.uri.to_string(), "sip:strict.example.com");
    assert_eq!(
        bye.headers.list("Route"),
        vec!["<sip:caller@192.0.2.5:5060>"]
    );
}

#[test]
fn in_dialog_request_with_a_lower_cseq_is_refused_with_500() {
    let invite = incoming_invite();
    let mut d = Dialog::as_uas(&invite, "tagB", 200, endpoint()).unwrap();
    let mut bye = invite.clone();
    bye.method = Method::Bye;
    bye.headers
        .set("To", "<sip:1001@switchboard.test>;tag=tagB");
    bye.headers.set("CSeq", "100 BYE");
    let err = d.on_request(&bye).unwrap_err();
    assert_eq!(err.status(), 500);
    bye.headers.set("CSeq", "102 BYE");
    d.on_request(&bye).unwrap();
    // A request from another dialog is 481.
    bye.headers
        .set("To", "<sip:1001@switchboard.test>;tag=other");
    bye.headers.set("CSeq", "103 BYE");
    assert_eq!(d.on_request(&bye).unwrap_err().status(), 481);
}

#[test]
fn reinvite_from_the_peer_refreshes_the_remote_target() {
    let invite = incoming_invite();
    let mut d = Dialog::as_uas(&invite, "tagB", 200, endpoint()).unwrap();
    let mut re = invite.clone();
    re.headers.set("To", "<sip:1001@switchboard.test>;tag=tagB");
    re.headers.set("CSeq", "102 INVITE");
    re.headers.set("Contact", "<sip:caller@203.0.113.9:5070>");
    d.on_request(&re).unwrap();
    assert_eq!(d.remote_target().to_string(), "sip:caller@203.0.113.9:5070");
    assert_eq!(d.bye().uri.to_string(), "sip:caller@203.0.113.9:5070");
}

#[test]
fn provisional_with_tag_makes_an_early_dialog_that_the_2xx_confirms() {
    let mut invite = incoming_invite();
    invite
        .headers
        .set("From", "<sip:sb@switchboard.test>;tag=ours");
    let mut ringing = response_to(&invite, 180, Some("theirs"));
    ringing.headers.push("Contact", "<sip:1001@192.0.2.77>");
    let mut d = Dialog::as_uac(&invite, &ringing, endpoint()).unwrap();
    assert_eq!(d.state(), DialogState::Early);
    let mut ok = response_to(&invite, 200, Some("theirs"));
    ok.headers.push("Contact", "<sip:1001@192.0.2.78>");
    d.on_response(&ok);
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.remote_target().host, "192.0.2.78");
    let untagged = response_to(&invite, 180, None);
    assert_eq!(
        Dialog::as_uac(&invite, &untagged, endpoint()).unwrap_err(),
        DialogError::NoRemoteTag
    );
}
