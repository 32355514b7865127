//! Tickets and webhooks through the real router on a real database, the ticket clock driven by
//! a manual clock, and webhook delivery to a real HTTP receiver on 127.0.0.1.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchboard_core::{Clock, ManualClock, Role, TenantId, Timestamp};
use switchboard_crm::tickets::service;
use switchboard_crm::webhooks::{self, RetryPolicy, WorkerSettings};
use switchboard_crm::{ApiSettings, ApiState, password, router};
use switchboard_store::testing::TestDb;
use switchboard_store::tokens::{self, NewToken, TokenKind};
use switchboard_store::users::{self, NewUser};
use switchboard_store::{Store, outbox, tenants};
use tower::ServiceExt;

const HOUR: Duration = Duration::from_secs(3600);

struct Api {
    router: Router,
    store: Store,
    clock: ManualClock,
    state: ApiState,
    tokens: HashMap<String, String>,
    _db: TestDb,
}

impl Api {
    async fn new() -> Api {
        let db = TestDb::sqlite().await;
        let store = db.store.clone();
        let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
        let state = ApiState::new(
            store.clone(),
            Arc::new(clock.clone()),
            ApiSettings::default(),
        );
        let mut api = Api {
            router: router(state.clone()),
            store,
            clock,
            state,
            tokens: HashMap::new(),
            _db: db,
        };
        for tenant in ["acme", "globex"] {
            let t = TenantId::from(tenant);
            tenants::ensure_tenant(&api.store, &t, tenant, api.now())
                .await
                .unwrap();
        }
        for (tenant, name, role) in [
            ("acme", "admin", Role::Admin),
            ("acme", "lead", Role::Supervisor),
            ("acme", "a1", Role::Agent),
            ("acme", "a2", Role::Agent),
            ("acme", "qa", Role::Qa),
            ("acme", "crm", Role::Integrator),
            ("globex", "g-admin", Role::Admin),
            ("globex", "g-agent", Role::Agent),
        ] {
            api.add_user(tenant, name, role).await;
        }
        api
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    async fn add_user(&mut self, tenant: &str, name: &str, role: Role) {
        let tenant = TenantId::from(tenant);
        let user = users::insert_user(
            &self.store,
            &NewUser {
                tenant_id: &tenant,
                username: name,
                display_name: name,
                role,
                password_hash: "$argon2id$unused",
            },
            self.now(),
        )
        .await
        .unwrap();
        let (token, hash) = password::new_token();
        tokens::insert_token(
            &self.store,
            &NewToken {
                token_hash: &hash,
                tenant_id: &tenant,
                user_id: &user.id,
                kind: TokenKind::ApiKey,
                label: "test",
                expires_at: None,
            },
            self.now(),
        )
        .await
        .unwrap();
        self.tokens.insert(name.to_owned(), token);
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        who: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path).header(
            header::AUTHORIZATION,
            format!("Bearer {}", self.tokens[who]),
        );
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn new_ticket(&self, who: &str, subject: &str) -> String {
        let body = json!({ "subject": subject, "body": "box crushed", "emotion": "angry" });
        let (status, v) = self.call("POST", "/tickets", who, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    async fn sweep(&self) {
        service::sweep(&self.store, &self.state.tickets, self.now(), 100)
            .await
            .unwrap();
    }

    async fn outbox_types(&self) -> Vec<String> {
        outbox::list(&self.store, &TenantId::from("acme"), 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }
}

fn field(v: &Value) -> &str {
    v["error"]["field"].as_str().unwrap_or("")
}

#[tokio::test]
async fn unanswered_ticket_is_overdue_at_12_h_then_goes_to_shift_lead_at_24_h_and_manager_at_48_h()
{
    let api = Api::new().await;
    let id = api.new_ticket("a1", "refund never arrived").await;
    let (_, t) = api.call("GET", &format!("/tickets/{id}"), "a1", None).await;
    assert_eq!(t["overdue"], false);
    assert_eq!(t["state"], "open");

    api.clock.advance(12 * HOUR - Duration::from_secs(1));
    api.sweep().await;
    let (_, t) = api.call("GET", &format!("/tickets/{id}"), "a1", None).await;
    assert_eq!(t["overdue"], false);

    api.clock.advance(Duration::from_secs(1));
    api.sweep().await;
    let (_, t) = api.call("GET", &format!("/tickets/{id}"), "a1", None).await;
    assert_eq!(t["overdue"], true);
    assert_eq!(t["escalation_level"], 0);

    api.clock.advance(12 * HOUR);
    api.sweep().await;
    let (_, t) = api
        .call("GET", &format!("/tickets/{id}"), "lead", None)
        .await;
    assert_eq!(t["escalation_level"], 1);
    assert_eq!(t["escalated_to"], "shift_lead");

    api.clock.advance(24 * HOUR);
    api.sweep().await;
    let (_, t) = api
        .call("GET", &format!("/tickets/{id}"), "lead", None)
        .await;
    assert_eq!(t["escalation_level"], 2);
    assert_eq!(t["escalated_to"], "manager");

    let (status, steps) = api
        .call("GET", &format!("/tickets/{id}/events"), "lead", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "overdue", "escalated", "escalated"]);
    assert_eq!(steps[2]["detail"]["to"], "shift_lead");
    assert_eq!(steps[3]["detail"]["to"], "manager");
    assert_eq!(steps[3]["actor"], Value::Null);

    let (_, list) = api
        .call("GET", "/tickets?overdue=true&escalated=true", "lead", None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        api.outbox_types().await,
        [
            "ticket.created",
            "ticket.overdue",
            "ticket.escalated",
            "ticket.escalated"
        ]
    );
}

#[tokio::test]
async fn first_taker_owns_the_ticket_through_resolution_follow_up_judgment_and_close() {
    let api = Api::new().await;
    let id = api.new_ticket("crm", "wrong size").await;
    let path = |action: &str| format!("/tickets/{id}/{action}");

    let (status, t) = api.call("POST", &path("take"), "a1", None).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "in_progress");
    let (status, e) = api.call("POST", &path("take"), "a2", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&e), "owner_agent_id");
    // Another agent cannot resolve it; the owner can.
    let (status, _) = api.call("POST", &path("resolve"), "a2", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, t) = api
        .call(
            "POST",
            &path("resolve"),
            "a1",
            Some(json!({ "note": "exchanged" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "resolved");
    let task_kind: String = sqlx::query_scalar("SELECT kind FROM tasks WHERE owner_agent_id = $1")
        .bind(t["owner_agent_id"].as_str().unwrap())
        .fetch_one(api.store.pool())
        .await
        .unwrap();
    assert_eq!(task_kind, "ticket_follow_up");

    let (status, t) = api.call("POST", &path("follow-up"), "a1", None).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let (status, e) = api.call("POST", &path("close"), "a1", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&e), "stands");
    let (status, _) = api
        .call(
            "POST",
            &path("judge"),
            "a1",
            Some(json!({ "stands": false })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, e) = api
        .call(
            "POST",
            &path("judge"),
            "lead",
            Some(json!({ "stands": true })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&e), "responsible_team");
    let judgment = json!({ "stands": true, "responsible_team": "warehouse" });
    let (status, t) = api
        .call("POST", &path("judge"), "lead", Some(judgment))
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let (status, t) = api.call("POST", &path("close"), "a1", None).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["state"], "closed");
    assert_eq!(t["stands"], true);
    assert_eq!(t["responsible_team"], "warehouse");

    assert_eq!(
        api.outbox_types().await,
        [
            "ticket.created",
            "ticket.taken",
            "ticket.resolved",
            "task.created",
            "ticket.follow_up_task",
            "ticket.followed_up",
            "ticket.judged",
            "ticket.closed"
        ]
    );
}

#[tokio::test]
async fn another_tenant_neither_reads_nor_changes_tickets() {
    let api = Api::new().await;
    let id = api.new_ticket("a1", "late delivery").await;
    for (method, path) in [
        ("GET", format!("/tickets/{id}")),
        ("GET", format!("/tickets/{id}/events")),
        ("POST", format!("/tickets/{id}/take")),
    ] {
        let (status, _) = api.call(method, &path, "g-agent", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let (status, _) = api
        .call("DELETE", &format!("/tickets/{id}"), "g-admin", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = api.call("GET", "/tickets", "g-agent", None).await;
    assert_eq!(list, json!([]));
    let (_, t) = api.call("GET", &format!("/tickets/{id}"), "a1", None).await;
    assert_eq!(t["state"], "open");
}

#[tokio::test]
async fn bad_ticket_input_is_a_400_naming_the_field_and_writes_nothing() {
    let api = Api::new().await;
    for (body, expected) in [
        (json!({ "subject": "x", "colour": "red" }), ""),
        (json!({ "subject": "x", "emotion": "happy" }), "emotion"),
        (json!({ "subject": "   " }), "subject"),
        (
            json!({ "subject": "x", "customer_id": "nope" }),
            "customer_id",
        ),
    ] {
        let (status, e) = api.call("POST", "/tickets", "a1", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        if !expected.is_empty() {
            assert_eq!(field(&e), expected, "{body}");
        }
        assert!(e["error"]["message"].as_str().is_some());
    }
    assert!(api.outbox_types().await.is_empty());
    let (status, _) = api
        .call("POST", "/tickets", "qa", Some(json!({ "subject": "x" })))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn webhook_subscriptions_are_admin_only_and_the_secret_is_shown_once() {
    let api = Api::new().await;
    let body = json!({ "url": "http://127.0.0.1:9/hook", "event_types": ["ticket.*"] });
    for who in ["lead", "a1", "crm", "qa"] {
        let (status, _) = api.call("POST", "/webhooks", who, Some(body.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    let (status, created) = api.call("POST", "/webhooks", "admin", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = created["id"].as_str().unwrap();
    let (_, list) = api.call("GET", "/webhooks", "admin", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("secret").is_none());
    let (_, one) = api
        .call("GET", &format!("/webhooks/{id}"), "admin", None)
        .await;
    assert!(one.get("secret").is_none());
    let (status, _) = api
        .call("GET", &format!("/webhooks/{id}"), "g-admin", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, e) = api
        .call(
            "PATCH",
            &format!("/webhooks/{id}"),
            "admin",
            Some(json!({ "url": "ftp://x/" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&e), "url");
    let (status, e) = api
        .call(
            "POST",
            "/webhooks",
            "admin",
            Some(json!({ "url": "http://x/", "event_types": ["Bad"] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&e), "event_types[0]");
    let (status, one) = api
        .call(
            "PATCH",
            &format!("/webhooks/{id}"),
            "admin",
            Some(json!({ "active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["active"], false);
    let (status, _) = api
        .call("DELETE", &format!("/webhooks/{id}"), "admin", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, audit) = api.call("GET", "/audit", "admin", None).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"webhook.create") && actions.contains(&"webhook.delete"));
}

/// What a webhook receiver saw.
#[derive(Debug, Clone)]
struct Received {
    key: String,
    event_type: String,
    signature: String,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// The status it answers with (200 unless a test says otherwise).
    status: Arc<AtomicU16>,
}

impl Receiver {
    /// A real HTTP server on `addr` (port 0 for any free one).
    async fn start(addr: SocketAddr) -> (Receiver, SocketAddr, tokio::task::JoinHandle<()>) {
        let rx = Receiver::default();
        rx.status.store(200, Ordering::SeqCst);
        let state = rx.clone();
        let app = Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let h = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    state.got.lock().unwrap().push(Received {
                        key: h("idempotency-key"),
                        event_type: h("x-switchboard-event"),
                        signature: h("x-switchboard-signature"),
                        body,
                    });
                    StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let local = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (rx, local, task)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

async fn subscribe(api: &Api, addr: SocketAddr) -> String {
    let body =
        json!({ "url": format!("http://{addr}/hook"), "event_types": ["ticket.*", "task.*"] });
    let (status, created) = api.call("POST", "/webhooks", "admin", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["secret"].as_str().unwrap().to_owned()
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.2,
        },
        ..WorkerSettings::default()
    }
}

/// Each outbox event reached the receiver exactly once, signed, with its type and key.
fn assert_each_event_once(api_events: &[outbox::OutboxEvent], got: &[Received], secret: &str) {
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    for r in got {
        *by_key.entry(r.key.as_str()).or_default() += 1;
        assert!(
            webhooks::verify(secret, &r.body, &r.signature),
            "bad signature for {}",
            r.key
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"], r.key.as_str());
        assert_eq!(body["type"], r.event_type.as_str());
    }
    for e in api_events {
        assert_eq!(
            by_key.get(e.id.as_str()),
            Some(&1),
            "event {} {}",
            e.event_type,
            e.id
        );
        assert!(e.delivered_at.is_some());
    }
    assert_eq!(by_key.len(), api_events.len());
}

#[tokio::test]
async fn a_real_receiver_gets_every_event_once_per_idempotency_key_with_a_valid_signature() {
    let api = Api::new().await;
    let (rx, addr, _server) = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let secret = subscribe(&api, addr).await;
    for i in 0..3 {
        let id = api.new_ticket("a1", &format!("complaint {i}")).await;
        api.call("POST", &format!("/tickets/{id}/take"), "a1", None)
            .await;
    }
    let report = webhooks::deliver_due(&api.store, &api.clock, &settings())
        .await
        .unwrap();
    assert_eq!(report.delivered, 6);
    // Nothing is due any more: a second round sends nothing.
    let again = webhooks::deliver_due(&api.store, &api.clock, &settings())
        .await
        .unwrap();
    assert_eq!(again.requests, 0);
    let events = outbox::list(&api.store, &TenantId::from("acme"), 100)
        .await
        .unwrap();
    assert_eq!(events.len(), 6);
    assert_each_event_once(&events, &rx.received(), &secret);
    let types: Vec<_> = rx.received().iter().map(|r| r.event_type.clone()).collect();
    assert_eq!(types.iter().filter(|t| *t == "ticket.created").count(), 3);
    assert_eq!(types.iter().filter(|t| *t == "ticket.taken").count(), 3);
}

#[tokio::test]
async fn with_the_receiver_down_events_are_retried_with_backoff_and_delivered_when_it_returns() {
    let api = Api::new().await;
    // Reserve a port, then leave it closed: the receiver is "stopped".
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let secret = subscribe(&api, port).await;
    for i in 0..3 {
        api.new_ticket("a1", &format!("complaint {i}")).await;
    }
    let r = webhooks::deliver_due(&api.store, &api.clock, &settings())
        .await
        .unwrap();
    assert_eq!((r.delivered, r.retried), (0, 3));
    let pending = outbox::list(&api.store, &TenantId::from("acme"), 100)
        .await
        .unwrap();
    for e in &pending {
        assert_eq!(e.attempts, 1);
        assert!(
            e.last_error.as_deref().unwrap().contains("connect"),
            "{:?}",
            e.last_error
        );
        let wait = e.next_attempt_at.since(api.now());
        assert!(
            wait > Duration::from_millis(700) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
    }
    // Not yet due: nothing is tried.
    let r = webhooks::deliver_due(&api.store, &api.clock, &settings())
        .await
        .unwrap();
    assert_eq!(r.requests, 0);
    // Second failure waits about twice as long.
    api.clock.advance(Duration::from_secs(1));
    webhooks::deliver_due(&api.store, &api.clock, &settings())
        .await
        .unwrap();
    for e in outbox::list(&api.store, &TenantId::from("acme"), 100)
        .await
        .unwrap()
    {
        assert_eq!(e.attempts, 2);
        let wait = e.next_attempt_at.since(api.now());
        assert!(
            wait > Duration::from_millis(1500) && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
    }

    // The receiver comes back on the same address, answering 503 at first: still retried.
    let (rx, _, _server) = Receiver::start(port).await;
    rx.status.store(503, Ordering::SeqCst);
    api.clock.advance(Duration::from_secs(2));
    let r = webhooks::deliver_due(&api.store, &api.clock, &settings())
        .await
        .unwrap();
    assert_eq!(r.retried, 3);
    assert_eq!(rx.received().len(), 3);

    rx.status.store(200, Ordering::SeqCst);
    rx.got.lock().unwrap().clear();
    api.clock.advance(Duration::from_secs(10));
    let r = webhooks::deliver_due(&api.store, &api.clock, &settings())
        .await
        .unwrap();
    assert_eq!(r.delivered, 3);
    let events = outbox::list(&api.store, &TenantId::from("acme"), 100)
        .await
        .unwrap();
    assert_each_event_once(&events, &rx.received(), &secret);
    assert!(
        outbox::due(&api.store, api.now() + HOUR, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
