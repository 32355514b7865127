//! What the API test files share: two tenants with one user of every role (plus a second
//! agent) and their bearer tokens, a fixed clock, and one request through the real router.

// Helpers of tests: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, dead_code)]

pub mod campaigns;

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use switchboard_core::{Role, TenantId, Timestamp, UserId};
use switchboard_crm::password::new_token;
use switchboard_store::tokens::{NewToken, TokenKind};
use switchboard_store::users::NewUser;
use switchboard_store::{Store, tenants, tokens, users};
use tower::ServiceExt;

/// 2027-01-15T08:00:00Z: fixtures are dated from here; the API's clock stands one day later.
pub const T0_MS: i64 = 1_800_000_000_000;

pub fn ts(minutes: i64) -> Timestamp {
    Timestamp::from_millis(T0_MS + minutes * 60_000)
}

/// The API's state on `store` as the router tests run it: logins default to tenant `acme`, and
/// the clock stands one day after the fixtures' `ts(0)`.
pub fn acme_state(store: &Store) -> switchboard_crm::ApiState {
    switchboard_crm::ApiState::new(
        store.clone(),
        std::sync::Arc::new(switchboard_core::ManualClock::new(ts(24 * 60))),
        switchboard_crm::ApiSettings {
            default_tenant: TenantId::from("acme"),
            ..switchboard_crm::ApiSettings::default()
        },
    )
}

/// Who can call: "role" / "agent2" / "other:role" → bearer token and user id.
#[derive(Default)]
pub struct People {
    pub tokens: HashMap<String, String>,
    pub ids: HashMap<String, UserId>,
}

impl People {
    /// Tenants `acme` (keys without prefix) and `globex` (keys `other:…`), each with a user
    /// of every role and a second agent.
    pub async fn seed(store: &Store) -> People {
        let mut people = People::default();
        for (tenant, prefix) in [("acme", ""), ("globex", "other:")] {
            let tenant = TenantId::from(tenant);
            tenants::ensure_tenant(store, &tenant, tenant.as_str(), ts(0))
                .await
                .unwrap();
            let mut who: Vec<(String, Role)> =
                Role::ALL.iter().map(|r| (r.to_string(), *r)).collect();
            who.push(("agent2".into(), Role::Agent));
            for (name, role) in who {
                people
                    .add(store, &tenant, &format!("{prefix}{name}"), &name, role)
                    .await;
            }
        }
        people
    }

    pub async fn add(
        &mut self,
        store: &Store,
        tenant: &TenantId,
        key: &str,
        username: &str,
        role: Role,
    ) {
        let user = users::insert_user(
            store,
            &NewUser {
                tenant_id: tenant,
                username,
                display_name: username,
                role,
                password_hash: "!",
            },
            ts(0),
        )
        .await
        .unwrap();
        let (token, hash) = new_token();
        tokens::insert_token(
            store,
            &NewToken {
                token_hash: &hash,
                tenant_id: tenant,
                user_id: &user.id,
                kind: TokenKind::Session,
                label: "test",
                expires_at: None,
            },
            ts(0),
        )
        .await
        .unwrap();
        self.tokens.insert(key.to_owned(), token);
        self.ids.insert(key.to_owned(), user.id);
    }
}

/// One request through `router` as `token` (none: anonymous); a JSON `body` sets the
/// Content-Type. Returns status, headers and body bytes.
pub async fn send(
    router: &Router,
    token: Option<&str>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("/api/v1{path}"));
    if let Some(token) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b)
        }
        None => Body::empty(),
    };
    let response = router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes.to_vec())
}
