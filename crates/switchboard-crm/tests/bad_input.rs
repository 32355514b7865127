//! Acceptance (issue 8, item 5): bad input — unknown fields, invalid phone numbers and time
//! zones, oversized bodies, stale or missing If-Match — gets a 4xx JSON error naming the field,
//! and nothing is half-written: after each refused request the store reads back as before.
//! Customers, notes, tickets, webhooks, queues and call-back tasks; SQLite and PostgreSQL.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_core::TenantId;
use switchboard_crm::router;
use switchboard_store::Store;
use switchboard_store::tasks::{self, NewTask, TaskOwner};

mod support;
use support::{People, send, ts};

const BODY_LIMIT: usize = 16 * 1024;

struct Api {
    router: Router,
    store: Store,
    people: People,
    /// More reads for the snapshot (a customer's notes).
    watched: Vec<String>,
}

struct Reply {
    status: StatusCode,
    body: Value,
    raw: String,
}

impl Reply {
    fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
}

impl Api {
    async fn new(store: Store) -> Api {
        let state = support::acme_state(&store);
        Api {
            router: Router::new()
                .nest("/api/v1", router(state))
                .layer(DefaultBodyLimit::max(BODY_LIMIT)),
            people: People::seed(&store).await,
            store,
            watched: Vec::new(),
        }
    }

    async fn send(
        &self,
        who: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let token = self.people.tokens.get(who).map(String::as_str);
        let (status, _, bytes) = send(&self.router, token, method, path, headers, body).await;
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status,
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
        }
    }

    async fn call(&self, who: &str, method: &str, path: &str, body: Value) -> Reply {
        self.send(who, method, path, &[], Some(body.to_string()))
            .await
    }

    async fn get(&self, path: &str) -> Value {
        let r = self.send("admin", "GET", path, &[], None).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.raw);
        r.body
    }

    /// Everything the tests write to, as the tenant's admin reads it.
    async fn snapshot(&self) -> Value {
        let mut out = serde_json::Map::new();
        for path in [
            "/customers?limit=1000",
            "/tickets?limit=1000",
            "/webhooks",
            "/queues",
            "/tasks?limit=1000",
        ]
        .into_iter()
        .chain(self.watched.iter().map(String::as_str))
        {
            out.insert(path.to_owned(), self.get(path).await);
        }
        Value::Object(out)
    }
}

/// One refused request: its status, the field its error names, and that nothing changed.
struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
    status: StatusCode,
    field: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: &str,
    body: Value,
    field: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_owned(),
        headers: vec![],
        body: body.to_string(),
        status: StatusCode::BAD_REQUEST,
        field,
    }
}

/// A body just over the limit, as JSON whose `field` holds the padding.
fn oversized(what: &'static str, method: &'static str, path: &str, field: &str) -> Case {
    let body = json!({ field: "x".repeat(BODY_LIMIT + 1) });
    Case {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        ..case(what, method, path, body, "body")
    }
}

async fn check(api: &Api, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in cases {
        let before = api.snapshot().await;
        let headers: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = api
            .send("admin", c.method, &c.path, &headers, Some(c.body.clone()))
            .await;
        if r.status != c.status {
            failures.push(format!(
                "{}: {} (want {}) {}",
                c.what, r.status, c.status, r.raw
            ));
        } else if r.body["error"]["message"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            failures.push(format!("{}: not a JSON error: {}", c.what, r.raw));
        } else if r.field() != c.field {
            failures.push(format!(
                "{}: names {:?}, want {:?}: {}",
                c.what,
                r.field(),
                c.field,
                r.raw
            ));
        }
        if api.snapshot().await != before {
            failures.push(format!("{}: the store changed", c.what));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn bad_input_is_a_4xx_naming_the_field_and_writes_nothing(store: Store) {
    let mut api = Api::new(store).await;
    let customer = api
        .call(
            "admin",
            "POST",
            "/customers",
            json!({"name": "李娜", "phones": [{"phone": "+8613812345678"}]}),
        )
        .await;
    assert_eq!(customer.status, StatusCode::CREATED, "{}", customer.raw);
    let customer = customer.body["id"].as_str().unwrap().to_owned();
    api.watched.push(format!("/customers/{customer}/notes"));
    let ticket = api
        .call("admin", "POST", "/tickets", json!({"subject": "快递延误"}))
        .await;
    assert_eq!(ticket.status, StatusCode::CREATED, "{}", ticket.raw);
    let ticket = ticket.body["id"].as_str().unwrap().to_owned();
    let webhook = api
        .call(
            "admin",
            "POST",
            "/webhooks",
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(webhook.status, StatusCode::CREATED, "{}", webhook.raw);
    let webhook = webhook.body["id"].as_str().unwrap().to_owned();
    let queue = api
        .call(
            "admin",
            "POST",
            "/queues",
            json!({"id": "sales", "name": "销售"}),
        )
        .await;
    assert_eq!(queue.status, StatusCode::CREATED, "{}", queue.raw);
    let tenant = TenantId::from("acme");
    let task = tasks::create_task(
        &api.store,
        &NewTask {
            tenant_id: &tenant,
            call_id: None,
            customer_phone: "+8613800000001",
            reason: "requested",
            owner: &TaskOwner::Agent(api.people.ids["agent"].clone()),
            due_at: ts(36 * 60),
            note: None,
            now: ts(0),
        },
    )
    .await
    .unwrap()
    .task
    .id
    .to_string();

    let c = format!("/customers/{customer}");
    let t = format!("/tickets/{ticket}");
    let w = format!("/webhooks/{webhook}");
    let tk = format!("/tasks/{task}");
    let stale = |mut case: Case, etag: &str| {
        case.headers.push(("If-Match", etag.to_owned()));
        case
    };
    let with_match = |case: Case| stale(case, "*");
    let precondition = |mut case: Case, status: StatusCode| {
        case.status = status;
        case
    };
    let cases = vec![
        // Customers.
        case(
            "customer: unknown field",
            "POST",
            "/customers",
            json!({"name": "王", "nickname": "x"}),
            "nickname",
        ),
        case(
            "customer: bad E.164",
            "POST",
            "/customers",
            json!({"name": "王", "phones": [{"phone": "12345"}]}),
            "phones[0].phone",
        ),
        case(
            "customer: bad zone",
            "POST",
            "/customers",
            json!({"name": "王", "time_zone": "Mars/Olympus_Mons"}),
            "time_zone",
        ),
        oversized("customer: oversized", "POST", "/customers", "name"),
        with_match(case(
            "customer edit: unknown field",
            "PATCH",
            &c,
            json!({"nickname": "x"}),
            "nickname",
        )),
        with_match(case(
            "customer edit: bad E.164",
            "PATCH",
            &c,
            json!({"phones": [{"phone": "+86 1"}]}),
            "phones[0].phone",
        )),
        with_match(case(
            "customer edit: bad zone",
            "PATCH",
            &c,
            json!({"time_zone": "Asia/Nowhere"}),
            "time_zone",
        )),
        precondition(
            stale(
                case(
                    "customer edit: stale If-Match",
                    "PATCH",
                    &c,
                    json!({"grade": "C"}),
                    "If-Match",
                ),
                "\"7\"",
            ),
            StatusCode::PRECONDITION_FAILED,
        ),
        precondition(
            case(
                "customer edit: no If-Match",
                "PATCH",
                &c,
                json!({"grade": "C"}),
                "If-Match",
            ),
            StatusCode::PRECONDITION_REQUIRED,
        ),
        // Notes.
        case(
            "note: unknown field",
            "POST",
            &format!("{c}/notes"),
            json!({"text": "hi", "mood": "ok"}),
            "mood",
        ),
        oversized("note: oversized", "POST", &format!("{c}/notes"), "text"),
        case(
            "note by phone: bad E.164",
            "POST",
            "/notes",
            json!({"phone": "call me", "text": "hi"}),
            "phone",
        ),
        case(
            "note by phone: bad zone",
            "POST",
            "/notes",
            json!({"phone": "+8613900000009", "text": "hi", "time_zone": "Beijing"}),
            "time_zone",
        ),
        case(
            "note by phone: unknown field",
            "POST",
            "/notes",
            json!({"phone": "+8613900000009", "text": "hi", "x": 1}),
            "x",
        ),
        oversized("note by phone: oversized", "POST", "/notes", "text"),
        // Tickets.
        case(
            "ticket: unknown field",
            "POST",
            "/tickets",
            json!({"subject": "s", "priority": 1}),
            "priority",
        ),
        case(
            "ticket: bad emotion",
            "POST",
            "/tickets",
            json!({"subject": "s", "emotion": "furious"}),
            "emotion",
        ),
        case(
            "ticket: unknown customer",
            "POST",
            "/tickets",
            json!({"subject": "s", "customer_id": "nobody"}),
            "customer_id",
        ),
        oversized("ticket: oversized", "POST", "/tickets", "subject"),
        case(
            "ticket edit: unknown field",
            "PATCH",
            &t,
            json!({"state": "closed"}),
            "state",
        ),
        precondition(
            stale(
                case(
                    "ticket edit: stale If-Match",
                    "PATCH",
                    &t,
                    json!({"body": "b"}),
                    "If-Match",
                ),
                "\"9\"",
            ),
            StatusCode::PRECONDITION_FAILED,
        ),
        oversized("ticket edit: oversized", "PATCH", &t, "body"),
        case(
            "ticket resolve: unknown field",
            "POST",
            &format!("{t}/resolve"),
            json!({"notes": "x"}),
            "notes",
        ),
        oversized(
            "ticket resolve: oversized",
            "POST",
            &format!("{t}/resolve"),
            "note",
        ),
        case(
            "ticket judge: unknown field",
            "POST",
            &format!("{t}/judge"),
            json!({"stands": false, "why": "x"}),
            "why",
        ),
        // Webhooks.
        case(
            "webhook: unknown field",
            "POST",
            "/webhooks",
            json!({"url": "http://127.0.0.1:9/x", "secret": "mine"}),
            "secret",
        ),
        case(
            "webhook: bad url",
            "POST",
            "/webhooks",
            json!({"url": "not a url"}),
            "url",
        ),
        case(
            "webhook: bad event type",
            "POST",
            "/webhooks",
            json!({"url": "http://127.0.0.1:9/x", "event_types": ["Ticket"]}),
            "event_types[0]",
        ),
        oversized("webhook: oversized", "POST", "/webhooks", "url"),
        case(
            "webhook edit: unknown field",
            "PATCH",
            &w,
            json!({"enabled": false}),
            "enabled",
        ),
        oversized("webhook edit: oversized", "PATCH", &w, "url"),
        // Queues.
        case(
            "queue: unknown field",
            "POST",
            "/queues",
            json!({"id": "q2", "name": "n", "colour": "red"}),
            "colour",
        ),
        case(
            "queue: bad number",
            "POST",
            "/queues",
            json!({"id": "q2", "name": "n", "number": "four"}),
            "number",
        ),
        oversized("queue: oversized", "POST", "/queues", "name"),
        case(
            "queue edit: unknown field",
            "PATCH",
            "/queues/sales",
            json!({"id": "other"}),
            "id",
        ),
        case(
            "member: unknown field",
            "PUT",
            &format!("/queues/sales/members/{}", api.people.ids["agent"]),
            json!({"rank": 1}),
            "rank",
        ),
        // Call-back tasks.
        case(
            "task cancel: unknown field",
            "POST",
            &format!("{tk}/cancel"),
            json!({"reason": "x"}),
            "reason",
        ),
        oversized(
            "task cancel: oversized",
            "POST",
            &format!("{tk}/cancel"),
            "note",
        ),
    ];
    check(&api, cases).await;

    // Tasks are completed by the agent who claimed them: the same rules for them.
    let claim = api
        .send("agent", "POST", &format!("{tk}/claim"), &[], None)
        .await;
    assert_eq!(claim.status, StatusCode::OK, "{}", claim.raw);
    let before = api.get(&tk).await;
    for (body, status, field) in [
        (
            json!({"result": "reached", "extra": 1}).to_string(),
            StatusCode::BAD_REQUEST,
            "extra",
        ),
        (
            json!({"result": "x".repeat(BODY_LIMIT + 1)}).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
        ),
    ] {
        let r = api
            .send("agent", "POST", &format!("{tk}/complete"), &[], Some(body))
            .await;
        assert_eq!(r.status, status, "{}", r.raw);
        assert_eq!(r.field(), field, "{}", r.raw);
        assert_eq!(api.get(&tk).await, before, "the task changed");
    }
}

switchboard_store::both_engines!(bad_input_is_a_4xx_naming_the_field_and_writes_nothing);
