use std::net::SocketAddr;

use super::*;
use crate::auth::{Algorithm, AuthConfig, Challenge};
use crate::message::{Message, parse_datagram};

const REALM: &str = "switchboard.test";

fn at(s: i64) -> Timestamp {
    Timestamp::from_secs(s)
}

fn phone() -> SocketAddr {
    "192.0.2.10:5060".parse().unwrap()
}

fn users(name: &str) -> Option<StoredCredential> {
    (name == "1001" || name == "1002").then(|| StoredCredential::from_password(name, REALM, "pw"))
}

fn registrar() -> Registrar {
    Registrar::new(
        RegistrarConfig::default(),
        Authenticator::new(AuthConfig::new(REALM)),
    )
}

/// A REGISTER for user 1001 with the given extra header lines.
fn register(cseq: u32, extra: &str) -> Request {
    let text = format!(
        "REGISTER sip:switchboard.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1001@switchboard.test>;tag=a\r\n\
         To: <sip:1001@switchboard.test>\r\nCall-ID: reg@192.0.2.10\r\nCSeq: {cseq} REGISTER\r\n\
         User-Agent: SIPp\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    match parse_datagram(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// Sends `req` unauthenticated, answers the MD5 challenge as `user` with `password`, and
/// returns the final response.
fn register_as(
    r: &mut Registrar,
    req: &Request,
    user: &str,
    password: &str,
    now: Timestamp,
) -> Response {
    let first = r.handle(req, phone(), Transport::Udp, users, now);
    assert_eq!(first.status, 401);
    let challenge = first
        .headers
        .get_all("WWW-Authenticate")
        .map(|v| Challenge::parse(v).unwrap())
        .find(|c| c.algorithm == Algorithm::Md5)
        .unwrap();
    let mut authed = req.clone();
    let cseq = req.headers.cseq().unwrap().seq + 1;
    authed.headers.set("CSeq", &format!("{cseq} REGISTER"));
    authed.headers.push(
        "Authorization",
        &challenge.answer(user, password, "REGISTER", "sip:switchboard.test", 1, "c"),
    );
    r.handle(&authed, phone(), Transport::Udp, users, now)
}

fn changes(r: &mut Registrar) -> Vec<BindingChange> {
    std::iter::from_fn(|| r.poll_output()).collect()
}

#[test]
fn authenticated_register_binds_the_contact_and_lists_it_in_the_200() {
    let mut r = registrar();
    let req = register(1, "Contact: <sip:1001@192.0.2.10:5060>\r\nExpires: 600\r\n");
    let resp = register_as(&mut r, &req, "1001", "pw", at(0));
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.headers.get("Contact"),
        Some("<sip:1001@192.0.2.10:5060>;expires=600")
    );
    let binding = &r.lookup("sip:1001@switchboard.test")[0];
    assert_eq!(binding.expires_at, at(600));
    assert_eq!(binding.source, phone());
    assert!(matches!(changes(&mut r)[..], [BindingChange::Upserted(_)]));
}

#[test]
fn wrong_password_binds_nothing() {
    let mut r = registrar();
    let req = register(1, "Contact: <sip:1001@192.0.2.10>\r\n");
    let resp = register_as(&mut r, &req, "1001", "nope", at(0));
    assert_eq!(resp.status, 401);
    assert!(r.lookup("sip:1001@switchboard.test").is_empty());
    assert!(changes(&mut r).is_empty());
}

#[test]
fn a_user_cannot_register_someone_elses_address() {
    let mut r = registrar();
    let req = register(1, "Contact: <sip:1001@192.0.2.10>\r\n");
    let resp = register_as(&mut r, &req, "1002", "pw", at(0));
    assert_eq!(resp.status, 403);
}

#[test]
fn too_short_expiry_is_answered_423_with_min_expires() {
    let mut r = registrar();
    let req = register(1, "Contact: <sip:1001@192.0.2.10>;expires=30\r\n");
    let resp = register_as(&mut r, &req, "1001", "pw", at(0));
    assert_eq!(resp.status, 423);
    assert_eq!(resp.headers.get("Min-Expires"), Some("60"));
}

#[test]
fn too_long_expiry_is_shortened_to_the_maximum() {
    let mut r = registrar();
    let req = register(1, "Contact: <sip:1001@192.0.2.10>\r\nExpires: 99999\r\n");
    register_as(&mut r, &req, "1001", "pw", at(0));
    assert_eq!(
        r.lookup("sip:1001@switchboard.test")[0].expires_at,
        at(3600)
    );
}

#[test]
fn several_contacts_per_address_and_unregistering_one_keeps_the_other() {
    let mut r = registrar();
    let both = register(
        1,
        "Contact: <sip:1001@192.0.2.10>, <sip:1001@192.0.2.11>;expires=120\r\n",
    );
    register_as(&mut r, &both, "1001", "pw", at(0));
    let aor = "sip:1001@switchboard.test";
    assert_eq!(r.lookup(aor).len(), 2);
    assert_eq!(r.lookup(aor)[1].expires_at, at(120));
    changes(&mut r);
    let one = register(5, "Contact: <sip:1001@192.0.2.10>\r\nExpires: 0\r\n");
    let resp = register_as(&mut r, &one, "1001", "pw", at(10));
    assert_eq!(resp.status, 200);
    assert_eq!(r.lookup(aor).len(), 1);
    assert!(matches!(
        &changes(&mut r)[..],
        [BindingChange::Removed {
            cause: RemovalCause::Unregistered,
            ..
        }]
    ));
}

#[test]
fn wildcard_unregister_removes_every_contact() {
    let mut r = registrar();
    let both = register(
        1,
        "Contact: <sip:1001@192.0.2.10>, <sip:1001@192.0.2.11>\r\n",
    );
    register_as(&mut r, &both, "1001", "pw", at(0));
    let star = register(5, "Contact: *\r\nExpires: 0\r\n");
    assert_eq!(register_as(&mut r, &star, "1001", "pw", at(1)).status, 200);
    assert!(r.lookup("sip:1001@switchboard.test").is_empty());
    let bad_star = register(9, "Contact: *\r\nExpires: 60\r\n");
    assert_eq!(
        register_as(&mut r, &bad_star, "1001", "pw", at(2)).status,
        400
    );
}

#[test]
fn refresh_extends_the_binding_and_an_unrefreshed_one_expires() {
    let mut r = registrar();
    let req = register(1, "Contact: <sip:1001@192.0.2.10>\r\nExpires: 300\r\n");
    register_as(&mut r, &req, "1001", "pw", at(0));
    let refresh = register(3, "Contact: <sip:1001@192.0.2.10>\r\nExpires: 300\r\n");
    register_as(&mut r, &refresh, "1001", "pw", at(200));
    assert_eq!(r.poll_timeout(), Some(at(500)));
    changes(&mut r);
    r.handle_timeout(at(499));
    assert!(changes(&mut r).is_empty());
    r.handle_timeout(at(500));
    assert!(matches!(
        &changes(&mut r)[..],
        [BindingChange::Removed {
            cause: RemovalCause::Expired,
            ..
        }]
    ));
    assert_eq!(r.registered_aors(), 0);
}

#[test]
fn out_of_order_register_for_the_same_call_id_is_refused() {
    let mut r = registrar();
    let req = register(10, "Contact: <sip:1001@192.0.2.10>\r\n");
    register_as(&mut r, &req, "1001", "pw", at(0));
    // register_as sends CSeq 10 then 11; an older CSeq 4 (+1 = 5) is out of order.
    let old = register(4, "Contact: <sip:1001@192.0.2.10>\r\n");
    assert_eq!(register_as(&mut r, &old, "1001", "pw", at(1)).status, 500);
}

#[test]
fn bindings_survive_a_restart_through_restore_and_expired_ones_are_dropped() {
    let mut before = registrar();
    let req = register(
        1,
        "Contact: <sip:1001@192.0.2.10>, <sip:1001@192.0.2.11>;expires=100\r\n",
    );
    register_as(&mut before, &req, "1001", "pw", at(0));
    let persisted: Vec<Binding> = changes(&mut before)
        .into_iter()
        .filter_map(|c| match c {
            BindingChange::Upserted(b) => Some(b),
            BindingChange::Removed { .. } => None,
        })
        .collect();
    let mut after = registrar();
    after.restore(persisted, at(150));
    let aor = "sip:1001@switchboard.test";
    assert_eq!(after.lookup(aor).len(), 1);
    assert_eq!(after.lookup(aor)[0].contact.host, "192.0.2.10");
    assert!(matches!(
        &changes(&mut after)[..],
        [BindingChange::Removed {
            cause: RemovalCause::Expired,
            ..
        }]
    ));
}

#[test]
fn contacts_beyond_the_limit_are_refused_whole() {
    let mut r = Registrar::new(
        RegistrarConfig {
            max_contacts: 2,
            ..RegistrarConfig::default()
        },
        Authenticator::new(AuthConfig::new(REALM)),
    );
    let three = register(
        1,
        "Contact: <sip:1001@192.0.2.10>, <sip:1001@192.0.2.11>, <sip:1001@192.0.2.12>\r\n",
    );
    assert_eq!(register_as(&mut r, &three, "1001", "pw", at(0)).status, 403);
    assert!(r.lookup("sip:1001@switchboard.test").is_empty());
}

#[test]
fn register_without_contact_lists_the_current_bindings_and_changes_nothing() {
    let mut r = registrar();
    let req = register(1, "Contact: <sip:1001@192.0.2.10>\r\nExpires: 600\r\n");
    register_as(&mut r, &req, "1001", "pw", at(0));
    changes(&mut r);
    let query = register(5, "");
    let resp = register_as(&mut r, &query, "1001", "pw", at(100));
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.headers.get("Contact"),
        Some("<sip:1001@192.0.2.10>;expires=500")
    );
    assert!(changes(&mut r).is_empty());
}

#[test]
fn a_closed_websocket_takes_its_bindings_and_only_its_bindings_with_it() {
    let mut r = registrar();
    let browser: SocketAddr = "192.0.2.20:51000".parse().unwrap();
    let aor = "sip:1001@switchboard.test";
    let binding = |contact: &str, transport, source| Binding {
        aor: aor.to_owned(),
        contact: Uri::parse(contact).unwrap(),
        expires_at: at(600),
        call_id: contact.to_owned(),
        cseq: 1,
        source,
        transport,
        user_agent: None,
    };
    r.restore(
        [
            binding(
                "sip:k3@df7jal23ls0d.invalid;transport=ws",
                Transport::Ws,
                browser,
            ),
            binding("sip:1001@192.0.2.10:5060", Transport::Udp, phone()),
        ],
        at(0),
    );
    // Same address on another transport is another flow.
    assert_eq!(r.remove_flow(Transport::Tcp, browser), 0);
    assert_eq!(r.remove_flow(Transport::Ws, browser), 1);
    assert_eq!(r.lookup(aor).len(), 1);
    assert_eq!(r.lookup(aor)[0].transport, Transport::Udp);
    assert!(matches!(
        &changes(&mut r)[..],
        [BindingChange::Removed {
            cause: RemovalCause::FlowClosed,
            ..
        }]
    ));
}
