//! The HTTP API through the real router (no socket), on a real database.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchboard::http::app;
use switchboard::metrics::Metrics;
use switchboard_core::{ManualClock, Role, TenantId, ThrottlePolicy, Timestamp};
use switchboard_crm::password::hash_password;
use switchboard_crm::{ApiSettings, ApiState};
use switchboard_store::testing::TestDb;
use switchboard_store::users::NewUser;
use switchboard_store::{Store, tenants, users};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

struct Api {
    router: Router,
    store: Store,
    clock: ManualClock,
    _db: TestDb,
}

impl Api {
    async fn new() -> Api {
        Self::with_body_limit(64 * 1024).await
    }

    async fn with_body_limit(limit: usize) -> Api {
        let db = TestDb::sqlite().await;
        let store = db.store.clone();
        let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
        let settings = ApiSettings {
            token_ttl: Duration::from_secs(3600),
            login_throttle: ThrottlePolicy {
                max_failures: 3,
                window: Duration::from_secs(300),
                lockout: Duration::from_secs(600),
                capacity: 1000,
            },
            default_tenant: TenantId::from("acme"),
        };
        let state = ApiState::new(store.clone(), Arc::new(clock.clone()), settings);
        let router = app(state, Metrics::new(), limit)
            .layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 7], 5555))));
        let api = Api {
            router,
            store,
            clock,
            _db: db,
        };
        for tenant in ["acme", "globex"] {
            tenants::ensure_tenant(&api.store, &TenantId::from(tenant), tenant, api.clock_now())
                .await
                .unwrap();
        }
        api
    }

    fn clock_now(&self) -> Timestamp {
        use switchboard_core::Clock;
        self.clock.now()
    }

    async fn add_user(&self, tenant: &str, username: &str, role: Role) {
        let hash = hash_password(PASSWORD).unwrap();
        let tenant = TenantId::from(tenant);
        users::insert_user(
            &self.store,
            &NewUser {
                tenant_id: &tenant,
                username,
                display_name: username,
                role,
                password_hash: &hash,
            },
            self.clock_now(),
        )
        .await
        .unwrap();
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value, axum::http::HeaderMap) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body, headers)
    }

    async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let (s, b, _) = self.send(req.body(Body::empty()).unwrap()).await;
        (s, b)
    }

    async fn login(
        &self,
        tenant: &str,
        username: &str,
        password: &str,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let body =
            json!({ "tenant": tenant, "username": username, "password": password }).to_string();
        self.post_json("/api/v1/auth/login", None, &body).await
    }

    async fn token(&self, tenant: &str, username: &str) -> String {
        let (status, body, _) = self.login(tenant, username, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }
}

fn assert_json_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let api = Api::new().await;
    assert_eq!(api.get("/healthz", None).await.0, StatusCode::OK);
    let (status, body) = api.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ready");
    let (status, text) = api.get("/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(
        text.contains(
            "switchboard_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    let (status, page) = api.get("/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("Switchboard"));
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let api = Api::new().await;
    api.store.close().await;
    let (status, body) = api.get("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "database unreachable");
}

#[tokio::test]
async fn login_with_the_right_password_gives_a_token_that_works() {
    let api = Api::new().await;
    api.add_user("acme", "alice", Role::Agent).await;
    let (status, body, _) = api.login("acme", "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["role"], "agent");
    let token = body["token"].as_str().unwrap();
    let (status, me) = api.get("/api/v1/me", Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "alice");
}

#[tokio::test]
async fn wrong_password_is_401_and_repeated_failures_are_rate_limited() {
    let api = Api::new().await;
    api.add_user("acme", "alice", Role::Agent).await;
    for _ in 0..3 {
        let (status, body, _) = api.login("acme", "alice", "wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_json_error(&body, "bad_credentials");
    }
    // Locked now: even the right password is refused until the lockout ends.
    let (status, body, headers) = api.login("acme", "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_json_error(&body, "too_many_attempts");
    assert_eq!(headers[header::RETRY_AFTER], "600");
    api.clock.advance(Duration::from_secs(601));
    let (status, _, _) = api.login("acme", "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_user_and_wrong_tenant_get_the_same_401() {
    let api = Api::new().await;
    api.add_user("acme", "alice", Role::Agent).await;
    let (s1, b1, _) = api.login("acme", "nobody", PASSWORD).await;
    let (s2, b2, _) = api.login("globex", "alice", PASSWORD).await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_eq!(b1, b2);
}

#[tokio::test]
async fn a_supervisor_route_refuses_an_agent_with_403() {
    let api = Api::new().await;
    api.add_user("acme", "alice", Role::Agent).await;
    api.add_user("acme", "sam", Role::Supervisor).await;
    let agent = api.token("acme", "alice").await;
    let supervisor = api.token("acme", "sam").await;
    let (status, body) = api.get("/api/v1/users", Some(&agent)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_json_error(&body, "forbidden");
    let (status, body) = api.get("/api/v1/users", Some(&supervisor)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 2);
    // Creating users is for admins only.
    let (status, _, _) = api
        .post_json(
            "/api/v1/users",
            Some(&supervisor),
            r#"{"username":"x","role":"agent"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let api = Api::new().await;
    let (status, body) = api.get("/api/v1/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_json_error(&body, "unauthenticated");
    assert_eq!(
        api.get("/api/v1/me", Some("sb_forged")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn tokens_expire_and_logout_revokes() {
    let api = Api::new().await;
    api.add_user("acme", "alice", Role::Agent).await;
    let token = api.token("acme", "alice").await;
    api.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        api.get("/api/v1/me", Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let token = api.token("acme", "alice").await;
    let (status, _, _) = api.post_json("/api/v1/auth/logout", Some(&token), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/api/v1/me", Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_json_error_never_a_500() {
    let api = Api::new().await;
    for body in [
        "{",
        "not json",
        "{\"username\": 5, \"password\": \"x\"}",
        "[]",
        "{\"username\":\"a\",\"password\":\"b\"} trailing",
        "\u{0}\u{1}",
    ] {
        let (status, json, _) = api.post_json("/api/v1/auth/login", None, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?} → {json}");
        assert_json_error(&json, "bad_request");
    }
}

#[tokio::test]
async fn bad_fields_are_named_in_the_error() {
    let api = Api::new().await;
    api.add_user("acme", "root", Role::Admin).await;
    let admin = api.token("acme", "root").await;
    let (status, body, _) = api
        .post_json(
            "/api/v1/users",
            Some(&admin),
            r#"{"username":"x","role":"wizard"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "role", "{body}");
    let (status, body, _) = api
        .post_json(
            "/api/v1/users",
            Some(&admin),
            r#"{"username":"x","role":"agent","colour":"red"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{body}"
    );
    let (status, body, _) = api
        .post_json(
            "/api/v1/users",
            Some(&admin),
            r#"{"username":"bad name!","role":"agent"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "username");
    let (status, body, _) = api
        .post_json(
            "/api/v1/users",
            Some(&admin),
            r#"{"username":"x","role":"agent","password":"short"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "password");
}

#[tokio::test]
async fn wrong_content_type_is_415_and_oversized_body_is_413_both_json() {
    let api = Api::with_body_limit(2048).await;
    let req = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let (status, body, _) = api.send(req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_json_error(&body, "unsupported_media_type");
    let huge = format!(r#"{{"username":"{}","password":"x"}}"#, "a".repeat(10_000));
    let (status, body, _) = api.post_json("/api/v1/auth/login", None, &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_json_error(&body, "payload_too_large");
}

#[tokio::test]
async fn admin_creates_users_with_a_generated_password_and_it_is_audited() {
    let api = Api::new().await;
    api.add_user("acme", "root", Role::Admin).await;
    let admin = api.token("acme", "root").await;
    let (status, body, _) = api
        .post_json(
            "/api/v1/users",
            Some(&admin),
            r#"{"username":"newbie","role":"agent","display_name":"小王"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let generated = body["generated_password"].as_str().unwrap();
    let (status, _, _) = api.login("acme", "newbie", generated).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = api
        .post_json(
            "/api/v1/users",
            Some(&admin),
            r#"{"username":"newbie","role":"agent"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, log) = api.get("/api/v1/audit", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(actions.contains(&"user.create".to_owned()), "{actions:?}");
    assert!(actions.contains(&"auth.login".to_owned()), "{actions:?}");
}

#[tokio::test]
async fn tenants_never_see_each_others_users() {
    let api = Api::new().await;
    api.add_user("acme", "root", Role::Admin).await;
    api.add_user("acme", "alice", Role::Agent).await;
    api.add_user("globex", "boss", Role::Admin).await;
    let globex = api.token("globex", "boss").await;
    let (status, body) = api.get("/api/v1/users", Some(&globex)).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["boss"]);
    let (_, log) = api.get("/api/v1/audit", Some(&globex)).await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|e| e["target"] != "alice")
    );
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let api = Api::new().await;
    let (status, body) = api.get("/api/v1/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_json_error(&body, "not_found");
}
