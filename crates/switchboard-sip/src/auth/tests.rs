use std::net::IpAddr;
use std::time::Duration;

use switchboard_core::Timestamp;

use super::*;
use crate::message::{Message, parse_datagram};

const REALM: &str = "switchboard.test";

fn at(s: i64) -> Timestamp {
    Timestamp::from_secs(s)
}

fn phone() -> IpAddr {
    IpAddr::from([192, 0, 2, 10])
}

fn register(authorization: Option<&str>) -> Request {
    let mut text = String::from(
        "REGISTER sip:switchboard.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-reg\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1001@switchboard.test>;tag=a\r\n\
         To: <sip:1001@switchboard.test>\r\nCall-ID: reg@192.0.2.10\r\nCSeq: 2 REGISTER\r\n\
         Contact: <sip:1001@192.0.2.10:5060>\r\n",
    );
    if let Some(a) = authorization {
        text.push_str(&format!("Authorization: {a}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    match parse_datagram(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn users(name: &str) -> Option<StoredCredential> {
    (name == "1001").then(|| StoredCredential::from_password("1001", REALM, "right"))
}

fn auth() -> Authenticator {
    Authenticator::new(AuthConfig::new(REALM))
}

fn challenge_of(outcome: &AuthOutcome, algorithm: Algorithm) -> Challenge {
    match outcome {
        AuthOutcome::Challenge(cs) => cs
            .iter()
            .find(|c| c.algorithm == algorithm)
            .cloned()
            .expect("a challenge for the algorithm"),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn answer(c: &Challenge, password: &str, nc: u32) -> Request {
    let value = c.answer(
        "1001",
        password,
        "REGISTER",
        "sip:switchboard.test",
        nc,
        "cn1",
    );
    register(Some(&value))
}

#[test]
fn request_without_credentials_is_challenged_with_sha256_first_and_md5() {
    let mut a = auth();
    let outcome = a.authenticate(&register(None), ChallengeKind::Www, phone(), users, at(0));
    let AuthOutcome::Challenge(cs) = &outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        cs.iter().map(|c| c.algorithm).collect::<Vec<_>>(),
        vec![Algorithm::Sha256, Algorithm::Md5]
    );
    let resp = Authenticator::response(&register(None), &outcome, ChallengeKind::Www, "t").unwrap();
    assert_eq!(resp.status, 401);
    assert_eq!(resp.headers.get_all("WWW-Authenticate").count(), 2);
}

#[test]
fn right_password_authenticates_with_either_algorithm() {
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let mut a = auth();
        let c = challenge_of(
            &a.authenticate(&register(None), ChallengeKind::Www, phone(), users, at(0)),
            alg,
        );
        let outcome = a.authenticate(
            &answer(&c, "right", 1),
            ChallengeKind::Www,
            phone(),
            users,
            at(1),
        );
        assert_eq!(
            outcome,
            AuthOutcome::Authenticated {
                username: "1001".into()
            }
        );
    }
}

#[test]
fn wrong_password_is_challenged_again_then_locked_out_at_the_fifth_failure() {
    let mut a = auth();
    let c = challenge_of(
        &a.authenticate(&register(None), ChallengeKind::Www, phone(), users, at(0)),
        Algorithm::Md5,
    );
    for i in 1..=4 {
        let outcome = a.authenticate(
            &answer(&c, "wrong", i),
            ChallengeKind::Www,
            phone(),
            users,
            at(i.into()),
        );
        assert!(matches!(outcome, AuthOutcome::Challenge(_)), "{outcome:?}");
    }
    let fifth = a.authenticate(
        &answer(&c, "wrong", 5),
        ChallengeKind::Www,
        phone(),
        users,
        at(5),
    );
    assert_eq!(fifth, AuthOutcome::Locked { until: at(305) });
    assert_eq!(
        Authenticator::response(&register(None), &fifth, ChallengeKind::Www, "t").map(|r| r.status),
        Some(403)
    );
    // Even the right password is refused while locked, then accepted afterwards.
    let locked = a.authenticate(
        &answer(&c, "right", 6),
        ChallengeKind::Www,
        phone(),
        users,
        at(6),
    );
    assert!(matches!(locked, AuthOutcome::Locked { .. }));
    let c = challenge_of(
        &a.authenticate(&register(None), ChallengeKind::Www, phone(), users, at(306)),
        Algorithm::Md5,
    );
    let ok = a.authenticate(
        &answer(&c, "right", 1),
        ChallengeKind::Www,
        phone(),
        users,
        at(307),
    );
    assert!(matches!(ok, AuthOutcome::Authenticated { .. }));
}

#[test]
fn unknown_user_counts_as_a_failure_like_a_wrong_password() {
    let mut a = auth();
    let c = challenge_of(
        &a.authenticate(&register(None), ChallengeKind::Www, phone(), users, at(0)),
        Algorithm::Sha256,
    );
    let outcome = a.authenticate(
        &answer(&c, "right", 1),
        ChallengeKind::Www,
        phone(),
        |_| None,
        at(1),
    );
    assert!(matches!(outcome, AuthOutcome::Challenge(_)));
}

#[test]
fn expired_nonce_is_challenged_with_stale_true_and_no_failure_counted() {
    let mut a = auth();
    let c = challenge_of(
        &a.authenticate(&register(None), ChallengeKind::Www, phone(), users, at(0)),
        Algorithm::Md5,
    );
    for i in 0..10 {
        let outcome = a.authenticate(
            &answer(&c, "right", 1),
            ChallengeKind::Www,
            phone(),
            users,
            at(301 + i),
        );
        let stale = challenge_of(&outcome, Algorithm::Md5);
        assert!(stale.stale);
    }
}

#[test]
fn replayed_request_with_the_same_nonce_count_is_refused() {
    let mut a = auth();
    let c = challenge_of(
        &a.authenticate(&register(None), ChallengeKind::Www, phone(), users, at(0)),
        Algorithm::Sha256,
    );
    let req = answer(&c, "right", 1);
    assert!(matches!(
        a.authenticate(&req, ChallengeKind::Www, phone(), users, at(1)),
        AuthOutcome::Authenticated { .. }
    ));
    let replay = a.authenticate(
        &req,
        ChallengeKind::Www,
        IpAddr::from([198, 51, 100, 1]),
        users,
        at(2),
    );
    assert!(challenge_of(&replay, Algorithm::Sha256).stale);
    // The genuine phone moves on to nc=2 and is accepted.
    assert!(matches!(
        a.authenticate(
            &answer(&c, "right", 2),
            ChallengeKind::Www,
            phone(),
            users,
            at(3)
        ),
        AuthOutcome::Authenticated { .. }
    ));
}

#[test]
fn digest_uri_must_match_the_request_uri() {
    let mut a = auth();
    let c = challenge_of(
        &a.authenticate(&register(None), ChallengeKind::Www, phone(), users, at(0)),
        Algorithm::Md5,
    );
    let value = c.answer("1001", "right", "REGISTER", "sip:elsewhere.test", 1, "cn");
    let outcome = a.authenticate(
        &register(Some(&value)),
        ChallengeKind::Www,
        phone(),
        users,
        at(1),
    );
    assert_eq!(outcome, AuthOutcome::BadRequest(AuthError::UriMismatch));
}

#[test]
fn nonce_from_before_a_restart_is_stale_not_a_failure() {
    let mut before = auth();
    let c = challenge_of(
        &before.authenticate(&register(None), ChallengeKind::Www, phone(), users, at(0)),
        Algorithm::Md5,
    );
    let mut after = Authenticator::new(AuthConfig {
        nonce_ttl: Duration::from_secs(300),
        ..AuthConfig::new(REALM)
    });
    let outcome = after.authenticate(
        &answer(&c, "right", 1),
        ChallengeKind::Www,
        phone(),
        users,
        at(1),
    );
    assert!(challenge_of(&outcome, Algorithm::Md5).stale);
}

#[test]
fn calls_are_challenged_with_407_and_proxy_authorization_is_checked() {
    let mut a = auth();
    let mut invite = register(None);
    invite.method = crate::message::Method::Invite;
    invite.headers.set("CSeq", "1 INVITE");
    let outcome = a.authenticate(&invite, ChallengeKind::Proxy, phone(), users, at(0));
    let resp = Authenticator::response(&invite, &outcome, ChallengeKind::Proxy, "t").unwrap();
    assert_eq!(resp.status, 407);
    let c = Challenge::parse(resp.headers.get("Proxy-Authenticate").unwrap()).unwrap();
    let value = c.answer("1001", "right", "INVITE", "sip:switchboard.test", 1, "cn");
    invite.headers.push("Proxy-Authorization", &value);
    assert_eq!(
        a.authenticate(&invite, ChallengeKind::Proxy, phone(), users, at(1)),
        AuthOutcome::Authenticated {
            username: "1001".into()
        }
    );
}

fn via_request(vias: &str) -> Request {
    let text = format!(
        "REGISTER sip:switchboard.test SIP/2.0\r\n{vias}\
         Max-Forwards: 69\r\nFrom: <sip:1001@switchboard.test>;tag=a\r\n\
         To: <sip:1001@switchboard.test>\r\nCall-ID: via@x\r\nCSeq: 2 REGISTER\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse_datagram(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn lockout_counts_the_phone_behind_a_trusted_proxy_and_only_behind_one() {
    let proxy = IpAddr::from([10, 0, 0, 5]);
    let trusted = [proxy];
    // Kamailio's Via on top, the phone's below it, stamped with where it really came from.
    let through_proxy = via_request(
        "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-p\r\n\
         Via: SIP/2.0/UDP 192.168.1.7:5060;branch=z9hG4bK-ph;received=203.0.113.9;rport=40000\r\n",
    );
    assert_eq!(
        client_address(&through_proxy, proxy, &trusted),
        IpAddr::from([203, 0, 113, 9])
    );
    // Without `received` the sent-by host is the phone's address.
    let plain = via_request(
        "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-p\r\n\
         Via: SIP/2.0/UDP 198.51.100.4:5060;branch=z9hG4bK-ph\r\n",
    );
    assert_eq!(
        client_address(&plain, proxy, &trusted),
        IpAddr::from([198, 51, 100, 4])
    );
    // A phone talking to us directly cannot blame another address with a forged Via.
    assert_eq!(client_address(&plain, phone(), &trusted), phone());
    // A host name in the Via cannot be checked: the proxy's address counts.
    let named = via_request(
        "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-p\r\n\
         Via: SIP/2.0/UDP phone.example:5060;branch=z9hG4bK-ph\r\n",
    );
    assert_eq!(client_address(&named, proxy, &trusted), proxy);
}
