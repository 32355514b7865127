//! The registrar service in-process over real UDP: SHA-256 digest (RFC 8760) registration,
//! bindings persisted with their tenant and restored by the next start, and the per-address
//! lockout from `sip.auth_max_failures`.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard::config::Config;
use switchboard::sip_service::SipService;
use switchboard_core::{SystemClock, TenantId, Timestamp};
use switchboard_sip::auth::{Algorithm, Challenge, StoredCredential};
use switchboard_sip::driver::Counters;
use switchboard_sip::message::{Message, Response, parse_datagram};
use switchboard_store::sip::{self, NewSipCredential};
use switchboard_store::testing::TestDb;
use switchboard_store::{Store, tenants};
use tokio::net::UdpSocket;

const REALM: &str = "reg.test";
const PASSWORD: &str = "phone-secret-9";

fn config() -> Config {
    let mut c = Config::default();
    c.sip.domain = REALM.into();
    c.sip.udp_listen = "127.0.0.1:0".parse().unwrap();
    c.sip.tcp_listen = "127.0.0.1:0".parse().unwrap();
    c.sip.auth_max_failures = 2;
    c
}

async fn provision(store: &Store) {
    let acme = TenantId::from("acme");
    tenants::ensure_tenant(store, &acme, "Acme", Timestamp::from_secs(1))
        .await
        .unwrap();
    let secrets = StoredCredential::from_password("1001", REALM, PASSWORD);
    sip::upsert_credential(
        store,
        &NewSipCredential {
            tenant_id: &acme,
            user_id: None,
            username: "1001",
            realm: REALM,
            extension: Some("1001"),
            ha1_md5: secrets.ha1_md5.as_deref().unwrap(),
            ha1_sha256: secrets.ha1_sha256.as_deref().unwrap(),
        },
        Timestamp::from_secs(1),
    )
    .await
    .unwrap();
}

struct Phone {
    sock: UdpSocket,
    server: SocketAddr,
    cseq: u32,
}

impl Phone {
    async fn new(server: SocketAddr) -> Phone {
        Phone {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            server,
            cseq: 0,
        }
    }

    /// Sends a REGISTER for 1001 (`contact` None = a query) and returns the answer.
    async fn register(&mut self, contact: Option<&str>, auth: Option<String>) -> Response {
        self.cseq += 1;
        let local = self.sock.local_addr().unwrap();
        let mut text = format!(
            "REGISTER sip:{REALM} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bKreg{}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:1001@{REALM}>;tag=ph\r\nTo: <sip:1001@{REALM}>\r\n\
             Call-ID: phone-1@{local}\r\nCSeq: {} REGISTER\r\nExpires: 600\r\n",
            self.cseq, self.cseq
        );
        if let Some(c) = contact {
            text.push_str(&format!("Contact: <{c}>\r\n"));
        }
        if let Some(a) = auth {
            text.push_str(&format!("Authorization: {a}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
        let mut buf = vec![0u8; 65536];
        let n = tokio::time::timeout(Duration::from_secs(5), self.sock.recv(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        match parse_datagram(&buf[..n]).unwrap() {
            Message::Response(r) => r,
            other => panic!("not a response: {other:?}"),
        }
    }

    /// Challenge, then answer the first (preferred) challenge with `password`.
    async fn register_with(&mut self, contact: Option<&str>, password: &str) -> Response {
        let challenge = self.register(contact, None).await;
        assert_eq!(challenge.status, 401);
        let first = challenge.headers.get("WWW-Authenticate").unwrap();
        let c = Challenge::parse(first).unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256, "strongest offered first");
        let auth = c.answer(
            "1001",
            password,
            "REGISTER",
            &format!("sip:{REALM}"),
            1,
            "cn1",
        );
        self.register(contact, Some(auth)).await
    }
}

async fn start(store: &Store) -> SipService {
    SipService::start(
        &config(),
        store.clone(),
        Arc::new(SystemClock),
        Counters::new(),
        switchboard::metrics::CallMetrics::default(),
        None,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn sha256_registration_is_persisted_and_restored_by_the_next_start() {
    let db = TestDb::sqlite().await;
    provision(&db.store).await;

    let service = start(&db.store).await;
    let mut phone = Phone::new(service.udp_addr()).await;
    let contact = "sip:1001@192.0.2.10:5062";
    let ok = phone.register_with(Some(contact), PASSWORD).await;
    assert_eq!(ok.status, 200);
    let stored =
        sip::list_tenant_bindings(&db.store, &TenantId::from("acme"), Timestamp::from_secs(2))
            .await
            .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].contact, contact);
    assert_eq!(stored[0].aor, format!("sip:1001@{REALM}"));
    service.shutdown().await;

    // A fresh process: the binding comes back from the store, so a query REGISTER (no
    // Contact) lists it.
    let service = start(&db.store).await;
    let mut phone = Phone::new(service.udp_addr()).await;
    let listed = phone.register_with(None, PASSWORD).await;
    assert_eq!(listed.status, 200);
    let contacts: Vec<&str> = listed.headers.get_all("Contact").collect();
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert!(
        contacts[0].starts_with(&format!("<{contact}>")),
        "{contacts:?}"
    );
    service.shutdown().await;
    db.cleanup().await;
}

#[tokio::test]
async fn wrong_passwords_are_challenged_until_the_address_is_locked_out() {
    let db = TestDb::sqlite().await;
    provision(&db.store).await;
    let service = start(&db.store).await;
    let mut phone = Phone::new(service.udp_addr()).await;
    let contact = Some("sip:1001@192.0.2.10:5062");
    assert_eq!(phone.register_with(contact, "wrong").await.status, 401);
    assert_eq!(phone.register_with(contact, "wrong").await.status, 403);
    // Locked: even the right password is refused, before any challenge.
    assert_eq!(phone.register(contact, None).await.status, 403);
    let none = sip::list_active_bindings(&db.store, Timestamp::from_secs(2))
        .await
        .unwrap();
    assert!(none.is_empty());
    service.shutdown().await;
    db.cleanup().await;
}
