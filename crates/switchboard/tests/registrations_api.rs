//! `GET /api/v1/registrations` through the real router: the tenant's live bindings for admins
//! and supervisors only, phone numbers in contacts masked, other tenants' bindings invisible.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchboard::http::app;
use switchboard::metrics::Metrics;
use switchboard_core::{ManualClock, Role, TenantId, Timestamp};
use switchboard_crm::password::hash_password;
use switchboard_crm::{ApiSettings, ApiState};
use switchboard_store::sip::{self, SipBinding};
use switchboard_store::testing::TestDb;
use switchboard_store::users::NewUser;
use switchboard_store::{Store, tenants, users};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";
const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn user(store: &Store, tenant: &TenantId, name: &str, role: Role) {
    let hash = hash_password(PASSWORD).unwrap();
    users::insert_user(
        store,
        &NewUser {
            tenant_id: tenant,
            username: name,
            display_name: name,
            role,
            password_hash: &hash,
        },
        T0,
    )
    .await
    .unwrap();
}

async fn token(router: &axum::Router, tenant: &str, name: &str) -> String {
    let body = json!({ "tenant": tenant, "username": name, "password": PASSWORD }).to_string();
    let req = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let (status, body) = send(router, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn registrations(router: &axum::Router, token: &str) -> (StatusCode, Value) {
    let req = Request::get("/api/v1/registrations")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(router, req).await
}

fn binding(tenant: &TenantId, aor: &str, contact: &str, expires_in_secs: u64) -> SipBinding {
    SipBinding {
        tenant_id: tenant.clone(),
        aor: aor.to_owned(),
        contact: contact.to_owned(),
        source: "udp:198.51.100.7:5060".to_owned(),
        call_id: "c".to_owned(),
        cseq: 1,
        expires_at: T0 + std::time::Duration::from_secs(expires_in_secs),
        node: None,
        updated_at: T0,
    }
}

#[tokio::test]
async fn supervisors_see_their_tenants_live_registrations_with_phone_numbers_masked() {
    let db = TestDb::sqlite().await;
    let store = db.store.clone();
    let clock = ManualClock::new(T0);
    let (acme, globex) = (TenantId::from("acme"), TenantId::from("globex"));
    for t in [&acme, &globex] {
        tenants::ensure_tenant(&store, t, t.as_str(), T0)
            .await
            .unwrap();
    }
    user(&store, &acme, "boss", Role::Supervisor).await;
    user(&store, &acme, "agent", Role::Agent).await;
    user(&store, &globex, "other", Role::Admin).await;
    let aor = "sip:1001@sb.test";
    sip::upsert_binding(&store, &binding(&acme, aor, "sip:1001@10.0.0.5:5062", 300))
        .await
        .unwrap();
    let mobile = "sip:+8613812345678@10.0.0.6:5060";
    sip::upsert_binding(&store, &binding(&acme, aor, mobile, 30))
        .await
        .unwrap();
    sip::upsert_binding(
        &store,
        &binding(&globex, "sip:2001@sb.test", "sip:2001@h", 300),
    )
    .await
    .unwrap();

    let settings = ApiSettings {
        default_tenant: acme.clone(),
        ..ApiSettings::default()
    };
    let state = ApiState::new(store.clone(), Arc::new(clock.clone()), settings);
    let router = app(state, Metrics::new(), 64 * 1024)
        .layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 7], 5555))));

    let boss = token(&router, "acme", "boss").await;
    let (status, body) = registrations(&router, &boss).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 2, "{body}");
    let contacts: Vec<&str> = list
        .iter()
        .map(|r| r["contact"].as_str().unwrap())
        .collect();
    assert!(contacts.contains(&"sip:1001@10.0.0.5:5062"), "{body}");
    assert!(
        contacts.contains(&"sip:+86138****5678@10.0.0.6:5060"),
        "{body}"
    );
    assert!(!body.to_string().contains("13812345678"));

    // Expired bindings are not shown.
    clock.advance(std::time::Duration::from_secs(60));
    let (_, body) = registrations(&router, &boss).await;
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body[0]["expires_in"], 240);

    let agent = token(&router, "acme", "agent").await;
    assert_eq!(
        registrations(&router, &agent).await.0,
        StatusCode::FORBIDDEN
    );
    let other = token(&router, "globex", "other").await;
    let (_, body) = registrations(&router, &other).await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["aor"], "sip:2001@sb.test");
    db.cleanup().await;
}
