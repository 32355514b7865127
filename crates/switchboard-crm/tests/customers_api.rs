//! The customer-file API through the real `/api/v1` router (no socket), on a real SQLite store.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchboard_core::{ManualClock, Role, TenantId, Timestamp};
use switchboard_crm::password::{new_token, token_hash};
use switchboard_crm::{ApiSettings, ApiState, router};
use switchboard_store::testing::TestDb;
use switchboard_store::tokens::{NewToken, TokenKind};
use switchboard_store::users::NewUser;
use switchboard_store::{Store, tenants, tokens, users};
use tower::ServiceExt;

const BODY_LIMIT: usize = 64 * 1024;

struct Api {
    router: Router,
    store: Store,
    clock: ManualClock,
    /// role name (and "other:" + role for the second tenant) → bearer token
    tokens: HashMap<String, String>,
    _db: TestDb,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Reply {
    fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
}

impl Api {
    async fn new() -> Api {
        let db = TestDb::sqlite().await;
        let store = db.store.clone();
        let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
        let state = ApiState::new(
            store.clone(),
            Arc::new(clock.clone()),
            ApiSettings {
                default_tenant: TenantId::from("acme"),
                ..ApiSettings::default()
            },
        );
        let router = Router::new()
            .nest("/api/v1", router(state))
            .layer(DefaultBodyLimit::max(BODY_LIMIT));
        let mut api = Api {
            router,
            store,
            clock,
            tokens: HashMap::new(),
            _db: db,
        };
        for (tenant, prefix) in [("acme", ""), ("globex", "other:")] {
            let tenant = TenantId::from(tenant);
            let now = api.now();
            tenants::ensure_tenant(&api.store, &tenant, tenant.as_str(), now)
                .await
                .unwrap();
            for role in Role::ALL {
                let user = users::insert_user(
                    &api.store,
                    &NewUser {
                        tenant_id: &tenant,
                        username: role.as_str(),
                        display_name: role.as_str(),
                        role,
                        password_hash: "!",
                    },
                    now,
                )
                .await
                .unwrap();
                let (token, hash) = new_token();
                tokens::insert_token(
                    &api.store,
                    &NewToken {
                        token_hash: &hash,
                        tenant_id: &tenant,
                        user_id: &user.id,
                        kind: TokenKind::Session,
                        label: "test",
                        expires_at: None,
                    },
                    now,
                )
                .await
                .unwrap();
                api.tokens.insert(format!("{prefix}{role}"), token);
            }
        }
        api
    }

    fn now(&self) -> Timestamp {
        use switchboard_core::Clock;
        self.clock.now()
    }

    async fn send(
        &self,
        who: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"));
        if let Some(token) = self.tokens.get(who) {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body.unwrap_or_default())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{method} {path}: body is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn call(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.send(who, method, path, &[], body.map(|b| b.to_string()))
            .await
    }

    async fn create(&self, body: Value) -> Value {
        let r = self.call("admin", "POST", "/customers", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    async fn count_customers(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }
}

fn li_na() -> Value {
    json!({
        "name": "李娜",
        "phones": [{"phone": "+86 138-1234-5678", "label": "mobile"}],
        "time_zone": "Asia/Shanghai",
        "grade": "A",
        "key_customer": true,
        "tags": ["vip"],
        "estimated_value_cents": 500000,
        "custom_fields": {"city": "杭州"}
    })
}

#[tokio::test]
async fn a_customer_round_trips_with_an_etag_of_its_version() {
    let api = Api::new().await;
    let created = api.create(li_na()).await;
    assert_eq!(created["phones"][0]["phone"], "+8613812345678");
    assert_eq!(created["category"], "potential");
    assert_eq!(created["custom_fields"]["city"], "杭州");
    let id = created["id"].as_str().unwrap();
    let got = api
        .call("agent", "GET", &format!("/customers/{id}"), None)
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.headers[header::ETAG], "\"1\"");
    assert_eq!(got.body, created);
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_412_and_the_first_edit_stays() {
    let api = Api::new().await;
    let id = api.create(li_na()).await["id"].as_str().unwrap().to_owned();
    let path = format!("/customers/{id}");
    let first = api
        .send(
            "supervisor",
            "PATCH",
            &path,
            &[("If-Match", "\"1\"")],
            Some(json!({"grade": "B"}).to_string()),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.headers[header::ETAG], "\"2\"");
    let second = api
        .send(
            "supervisor",
            "PATCH",
            &path,
            &[("If-Match", "\"1\"")],
            Some(json!({"grade": "C"}).to_string()),
        )
        .await;
    assert_eq!(second.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(second.field(), "If-Match");
    let missing = api
        .call("supervisor", "PATCH", &path, Some(json!({"grade": "C"})))
        .await;
    assert_eq!(missing.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(missing.field(), "If-Match");
    let now = api.call("agent", "GET", &path, None).await;
    assert_eq!(now.body["grade"], "B");
    assert_eq!(now.body["version"], 2);
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field_and_writes_nothing() {
    let api = Api::new().await;
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut unknown = li_na();
    unknown["nickname"] = json!("x");
    cases.push((unknown, "nickname"));
    let mut phone = li_na();
    phone["phones"] = json!([{"phone": "+8613812345678"}, {"phone": "12345"}]);
    cases.push((phone, "phones[1].phone"));
    let mut zone = li_na();
    zone["time_zone"] = json!("Mars/Olympus_Mons");
    cases.push((zone, "time_zone"));
    let mut negative = li_na();
    negative["estimated_value_cents"] = json!(-1);
    cases.push((negative, "estimated_value_cents"));
    let mut empty = li_na();
    empty["name"] = json!(" ");
    cases.push((empty, "name"));
    let mut nul = li_na();
    nul["grade"] = json!("A\u{0}");
    cases.push((nul, "grade"));
    let mut phone_label = li_na();
    phone_label["phones"][0]["extension"] = json!("12");
    cases.push((phone_label, "phones[0].extension"));
    for (body, field) in cases {
        let r = api.call("admin", "POST", "/customers", Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.body);
        assert!(
            r.field().starts_with(field),
            "expected field {field}, got {}",
            r.body
        );
    }
    let mut huge = li_na();
    huge["custom_fields"] = json!({"blob": "x".repeat(BODY_LIMIT + 1)});
    let r = api.call("admin", "POST", "/customers", Some(huge)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.field(), "body");
    let malformed = api
        .send(
            "admin",
            "POST",
            "/customers",
            &[],
            Some("{\"name\":".into()),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.count_customers().await, 0, "nothing half-written");

    // The same rules on PATCH leave the stored customer as it was.
    let id = api.create(li_na()).await["id"].as_str().unwrap().to_owned();
    let r = api
        .send(
            "admin",
            "PATCH",
            &format!("/customers/{id}"),
            &[("If-Match", "1")],
            Some(json!({"phones": [{"phone": "not a phone"}]}).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.field(), "phones[0].phone");
    let got = api
        .call("admin", "GET", &format!("/customers/{id}"), None)
        .await;
    assert_eq!(got.body["version"], 1);
    let bad_lookup = api
        .call("agent", "GET", "/customers/lookup?phone=12345", None)
        .await;
    assert_eq!(bad_lookup.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_lookup.field(), "phone");
    let bad_cursor = api
        .call("agent", "GET", "/customers?cursor=nonsense", None)
        .await;
    assert_eq!(bad_cursor.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_cursor.field(), "cursor");
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_replays_and_another_body_is_422() {
    let api = Api::new().await;
    let key = [("Idempotency-Key", "order-sync-42")];
    let body = li_na().to_string();
    let first = api
        .send("integrator", "POST", "/customers", &key, Some(body.clone()))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    // Same JSON, other spacing: the same request.
    let spaced = serde_json::to_string_pretty(&li_na()).unwrap();
    let again = api
        .send("integrator", "POST", "/customers", &key, Some(spaced))
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // The same fields in another order: still the same request.
    let reordered = r#"{"custom_fields":{"city":"杭州"},"estimated_value_cents":500000,"tags":["vip"],
        "key_customer":true,"grade":"A","time_zone":"Asia/Shanghai",
        "phones":[{"label":"mobile","phone":"+86 138-1234-5678"}],"name":"李娜"}"#;
    let third = api
        .send(
            "integrator",
            "POST",
            "/customers",
            &key,
            Some(reordered.to_owned()),
        )
        .await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.body);
    assert_eq!(third.body, first.body);
    let mut other = li_na();
    other["name"] = json!("王芳");
    let clash = api
        .send(
            "integrator",
            "POST",
            "/customers",
            &key,
            Some(other.to_string()),
        )
        .await;
    assert_eq!(clash.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(clash.field(), "Idempotency-Key");
    assert_eq!(api.count_customers().await, 1);
}

#[tokio::test]
async fn an_integrator_upserts_by_external_id() {
    let api = Api::new().await;
    let mut body = li_na();
    body["external_id"] = json!("erp-7");
    let first = api
        .call("integrator", "POST", "/customers", Some(body.clone()))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    body["grade"] = json!("C");
    let second = api
        .call("integrator", "POST", "/customers", Some(body))
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.body["id"], first.body["id"]);
    assert_eq!(second.body["version"], 2);
    assert_eq!(api.count_customers().await, 1);
}

#[tokio::test]
async fn pages_cover_every_customer_without_repeats_while_others_edit() {
    let api = Api::new().await;
    for i in 0..30 {
        api.create(
            json!({"name": format!("c{i:02}"), "phones": [{"phone": format!("+861380000{i:04}")}]}),
        )
        .await;
        api.clock.advance(std::time::Duration::from_millis(1));
    }
    let mut seen: HashMap<String, Vec<i64>> = HashMap::new();
    let mut cursor: Option<String> = None;
    let mut edited = Vec::new();
    for page_no in 0.. {
        let path = match &cursor {
            Some(c) => format!("/customers?limit=7&cursor={c}"),
            None => "/customers?limit=7".to_owned(),
        };
        let page = api.call("integrator", "GET", &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body["items"].as_array().unwrap().clone();
        for c in &items {
            seen.entry(c["id"].as_str().unwrap().to_owned())
                .or_default()
                .push(c["version"].as_i64().unwrap());
        }
        if page_no == 1 {
            // Someone edits the first customer read and one not reached yet.
            let all = api
                .call("admin", "GET", "/customers?limit=1000", None)
                .await;
            let all = all.body["items"].as_array().unwrap().clone();
            for target in [&all[0], &all[25]] {
                let id = target["id"].as_str().unwrap();
                let r = api
                    .send(
                        "supervisor",
                        "PATCH",
                        &format!("/customers/{id}"),
                        &[("If-Match", "\"1\"")],
                        Some(json!({"tags": ["edited"]}).to_string()),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK);
                edited.push(id.to_owned());
            }
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 30, "no customer skipped");
    for (id, versions) in &seen {
        if *id == edited[0] {
            assert_eq!(versions, &vec![1, 2]);
        } else if *id == edited[1] {
            assert_eq!(versions, &vec![2]);
        } else {
            assert_eq!(versions, &vec![1], "{id} repeated");
        }
    }
    let since = api
        .call(
            "agent",
            "GET",
            &format!(
                "/customers?updated_since={}",
                api.now().as_millis() - 1_000_000
            ),
            None,
        )
        .await;
    assert_eq!(since.status, StatusCode::OK);
    let rfc = api
        .call(
            "agent",
            "GET",
            "/customers?updated_since=2100-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(rfc.body["items"], json!([]));
}

#[tokio::test]
async fn the_screen_pop_shows_grade_key_flag_and_the_last_notes() {
    let api = Api::new().await;
    let id = api.create(li_na()).await["id"].as_str().unwrap().to_owned();
    for text in ["asked for a refund", "called back, satisfied"] {
        let r = api
            .call(
                "agent",
                "POST",
                &format!("/customers/{id}/notes"),
                Some(json!({"text": text, "call_id": "call-1"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        api.clock.advance(std::time::Duration::from_secs(60));
    }
    let pop = api
        .call(
            "agent",
            "GET",
            "/customers/lookup?phone=%2B8613812345678",
            None,
        )
        .await;
    assert_eq!(pop.status, StatusCode::OK, "{}", pop.body);
    let m = &pop.body["matches"][0];
    assert_eq!(m["name"], "李娜");
    assert_eq!(m["grade"], "A");
    assert_eq!(m["key_customer"], true);
    assert_eq!(m["last_notes"][0]["text"], "called back, satisfied");
    assert_eq!(m["last_notes"][1]["text"], "asked for a refund");
}

#[tokio::test]
async fn a_note_for_an_unknown_number_creates_a_potential_customer() {
    let api = Api::new().await;
    let r = api
        .call(
            "agent",
            "POST",
            "/notes",
            Some(json!({"phone": "+8613999990000", "text": "wants a catalogue"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["created_customer"], true);
    assert_eq!(r.body["customer"]["category"], "potential");
    let again = api
        .call(
            "agent",
            "POST",
            "/notes",
            Some(json!({"phone": "+8613999990000", "text": "sent it"})),
        )
        .await;
    assert_eq!(again.body["created_customer"], false);
    assert_eq!(again.body["customer"]["id"], r.body["customer"]["id"]);
    assert_eq!(api.count_customers().await, 1);
}

/// Who may do what, per route: every role of the tenant, then every role of a second tenant
/// against the first tenant's customer.
#[tokio::test]
async fn only_the_allowed_roles_succeed_and_no_tenant_reaches_another() {
    let api = Api::new().await;
    const ROLES: [&str; 5] = ["admin", "supervisor", "agent", "qa", "integrator"];
    let roles = ROLES;
    type Case = (&'static str, &'static str, &'static [&'static str]);
    let cases: &[Case] = &[
        ("GET", "/customers", &ROLES),
        ("GET", "/customers/{id}", &ROLES),
        ("GET", "/customers/{id}/notes", &ROLES),
        ("GET", "/customers/lookup?phone=%2B8613812345678", &ROLES),
        ("POST", "/customers", &["admin", "supervisor", "integrator"]),
        (
            "PATCH",
            "/customers/{id}",
            &["admin", "supervisor", "integrator"],
        ),
        (
            "POST",
            "/customers/{id}/notes",
            &["admin", "supervisor", "agent"],
        ),
        ("POST", "/notes", &["admin", "supervisor", "agent"]),
        ("POST", "/api-keys", &["admin"]),
        ("DELETE", "/customers/{id}", &["admin", "supervisor"]),
    ];
    for (method, template, allowed) in cases {
        for prefix in ["", "other:"] {
            for role in roles {
                let who = format!("{prefix}{role}");
                // A fresh customer of the first tenant for every attempt: deletes and edits of
                // one attempt do not change what the next sees.
                let target = api.create(li_na()).await;
                let id = target["id"].as_str().unwrap();
                let path = template.replace("{id}", id);
                let body = match (*method, *template) {
                    ("POST", "/customers") => Some(json!({"name": "x", "phones": []})),
                    ("PATCH", _) => Some(json!({"grade": "Z"})),
                    ("POST", "/notes") => Some(json!({"phone": "+8613812345678", "text": "hello"})),
                    ("POST", "/api-keys") => Some(json!({"label": "erp"})),
                    ("POST", _) => Some(json!({"text": "hello"})),
                    _ => None,
                };
                let r = api
                    .send(
                        &who,
                        method,
                        &path,
                        &[("If-Match", "*")],
                        body.map(|b| b.to_string()),
                    )
                    .await;
                let ok = r.status.is_success();
                let same_tenant = prefix.is_empty();
                // Our ids mean nothing in the other tenant: allowed there, but not found.
                let expected_ok =
                    allowed.contains(&role) && (same_tenant || !template.contains("{id}"));
                assert_eq!(
                    ok, expected_ok,
                    "{who} {method} {template}: {} {}",
                    r.status, r.body
                );
                if !allowed.contains(&role) {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} {method} {template}");
                    assert!(r.body["error"]["code"].is_string());
                }
                if !same_tenant && ok {
                    // The second tenant acted only on its own data: it never saw ours.
                    let text = r.body.to_string();
                    assert!(!text.contains(id), "{who} {method} {template} leaked {id}");
                    if *template != "/notes" {
                        assert!(
                            !text.contains("李娜"),
                            "{who} {method} {template} leaked the name: {text}"
                        );
                    }
                }
                if !same_tenant && template.contains("{id}") && allowed.contains(&role) {
                    // Our id means nothing in their tenant.
                    assert_eq!(r.status, StatusCode::NOT_FOUND, "{who} {method} {template}");
                }
                let after = api
                    .call("admin", "GET", &format!("/customers/{id}"), None)
                    .await;
                if !(same_tenant && ok && *method == "DELETE") {
                    assert_eq!(after.status, StatusCode::OK, "{who} {method} {template}");
                    let untouched = !(same_tenant && ok && *method == "PATCH");
                    if untouched {
                        assert_eq!(after.body["version"], 1, "{who} {method} {template} wrote");
                    }
                }
            }
        }
    }
    let no_token = api.call("nobody", "GET", "/customers", None).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_api_key_is_shown_once_and_acts_as_an_integrator() {
    let api = Api::new().await;
    let r = api
        .call(
            "admin",
            "POST",
            "/api-keys",
            Some(json!({"label": "shop ERP"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(r.body["role"], "integrator");
    let stored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM api_tokens WHERE kind = 'api_key' AND token_hash = $1",
    )
    .bind(token_hash(&token))
    .fetch_one(api.store.pool())
    .await
    .unwrap();
    assert_eq!(stored, 1, "only the hash is kept");
    let mut api = api;
    api.tokens.insert("key".into(), token);
    let created = api.call("key", "POST", "/customers", Some(li_na())).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap();
    let delete = api
        .call("key", "DELETE", &format!("/customers/{id}"), None)
        .await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    let audit = api.call("admin", "GET", "/audit", None).await;
    assert!(audit.body.to_string().contains("api_key.create"));
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_the_docs_page_renders_it() {
    let api = Api::new().await;
    let doc = api.call("nobody", "GET", "/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(doc.body["openapi"], "3.1.0");
    for (method, path) in [
        ("post", "/auth/login"),
        ("post", "/auth/logout"),
        ("get", "/me"),
        ("get", "/users"),
        ("post", "/users"),
        ("get", "/audit"),
        ("post", "/api-keys"),
        ("get", "/customers"),
        ("post", "/customers"),
        ("get", "/customers/lookup"),
        ("get", "/customers/{id}"),
        ("patch", "/customers/{id}"),
        ("delete", "/customers/{id}"),
        ("get", "/customers/{id}/notes"),
        ("post", "/customers/{id}/notes"),
        ("post", "/notes"),
    ] {
        let op = &doc.body["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing from the document");
        assert!(
            op["responses"]["4XX"].is_object(),
            "{method} {path} has no error schema"
        );
    }
    assert!(doc.body["components"]["schemas"]["CustomerView"].is_object());
    assert_eq!(
        doc.body["paths"]["/auth/login"]["post"]["security"],
        json!([{}])
    );

    let page = api
        .router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/api/v1/docs")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8_lossy(&html);
    assert!(html.contains("fetch(\"openapi.json\")"));
    assert!(
        !html.contains("https://"),
        "the page must not load anything remote"
    );
}
