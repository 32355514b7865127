//! Orders, visits, shifts and hand-over, and the agents' statistics through the real `/api/v1`
//! router (no socket), each test on SQLite and PostgreSQL. The API's clock stands at
//! 2027-01-16T08:00:00Z, 16:00 in Shanghai: the day shifts and the night shift are on duty.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_crm::router;
use switchboard_store::{Store, both_engines};

mod support;
use support::{People, send};

struct Api {
    router: Router,
    store: Store,
    people: People,
}

struct Reply {
    status: StatusCode,
    etag: Option<String>,
    body: Value,
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
            router: Router::new().nest("/api/v1", router(state)),
            people: People::seed(&store).await,
            store,
        }
    }

    fn id(&self, who: &str) -> &str {
        self.people.ids[who].as_str()
    }

    async fn call_with(
        &self,
        who: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let token = self.people.tokens.get(who).map(String::as_str);
        let body = body.map(|b| b.to_string());
        let (status, headers, bytes) = send(&self.router, token, method, path, headers, body).await;
        Reply {
            status,
            etag: headers.get("etag").map(|v| v.to_str().unwrap().to_owned()),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn call(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_with(who, method, path, &[], body).await
    }

    async fn ok(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.call(who, method, path, body).await;
        assert!(
            r.status.is_success(),
            "{method} {path} as {who}: {} {}",
            r.status,
            r.body
        );
        r.body
    }

    async fn customer(&self, phone: &str) -> String {
        let c = self
            .ok(
                "supervisor",
                "POST",
                "/customers",
                Some(json!({"name": "王芳", "phones": [{"phone": phone}]})),
            )
            .await;
        c["id"].as_str().unwrap().to_owned()
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }
}

async fn an_order_is_recorded_once_paid_with_if_match_and_makes_a_customer(store: Store) {
    let api = Api::new(store).await;
    let c = api.customer("+8613800000001").await;
    let body = json!({"external_ref": "T-1001", "amount_minor": 128000, "currency": "cny",
                      "description": "年卡"});
    let r = api
        .call(
            "agent",
            "POST",
            &format!("/customers/{c}/orders"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.etag.as_deref(), Some("\"1\""));
    let order = r.body;
    assert_eq!(order["currency"], "CNY");
    assert_eq!(
        order["agent_id"],
        api.id("agent"),
        "credited to the agent who took it"
    );
    // The shop retries the same order: the first one comes back, nothing is booked twice.
    let again = api
        .call(
            "integrator",
            "POST",
            &format!("/customers/{c}/orders"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], order["id"]);
    // The same reference on another customer is a conflict, not that customer's order.
    let other = api.customer("+8613800000002").await;
    let clash = api
        .call(
            "integrator",
            "POST",
            &format!("/customers/{other}/orders"),
            Some(body),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert!(clash.body.to_string().contains("T-1001"), "{}", clash.body);
    assert_eq!(api.count("SELECT COUNT(*) FROM orders").await, 1);

    let id = order["id"].as_str().unwrap();
    let stale = api
        .call_with(
            "supervisor",
            "POST",
            &format!("/orders/{id}/pay"),
            &[("if-match", "\"7\"")],
            None,
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.field(), "If-Match");
    let paid = api
        .call_with(
            "integrator",
            "POST",
            &format!("/orders/{id}/pay"),
            &[("if-match", "\"1\"")],
            None,
        )
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!(
        (paid.body["state"].as_str(), paid.etag.as_deref()),
        (Some("paid"), Some("\"2\""))
    );
    let customer = api.ok("qa", "GET", &format!("/customers/{c}"), None).await;
    assert_eq!(
        customer["category"], "customer",
        "a paid order makes a prospect a customer"
    );

    // A refund cancels the paid order; a cancelled order cannot be paid.
    api.ok("supervisor", "POST", &format!("/orders/{id}/cancel"), None)
        .await;
    let r = api
        .call("supervisor", "POST", &format!("/orders/{id}/pay"), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // The sync feed: changes since a time, in order.
    let feed = api
        .ok(
            "integrator",
            "GET",
            "/orders?updated_since=0&limit=10",
            None,
        )
        .await;
    assert_eq!(feed["items"].as_array().unwrap().len(), 1);
    assert_eq!(feed["items"][0]["state"], "cancelled");
}

async fn orders_refuse_bad_input_roles_and_other_tenants(store: Store) {
    let api = Api::new(store).await;
    let c = api.customer("+8613800000001").await;
    let path = format!("/customers/{c}/orders");
    for (body, field) in [
        (json!({"amount_minor": 1, "currency": "yuan"}), "currency"),
        (
            json!({"amount_minor": -5, "currency": "CNY"}),
            "amount_minor",
        ),
        (
            json!({"amount_minor": 1, "currency": "CNY", "agent_id": "nobody"}),
            "agent_id",
        ),
        (
            json!({"amount_minor": 1, "currency": "CNY", "placed_at": "yesterday"}),
            "placed_at",
        ),
        (
            json!({"amount_minor": 1, "currency": "CNY", "external_ref": " "}),
            "external_ref",
        ),
    ] {
        let r = api
            .call("supervisor", "POST", &path, Some(body.clone()))
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, field),
            "{body}: {}",
            r.body
        );
    }
    let r = api
        .call(
            "supervisor",
            "POST",
            &path,
            Some(json!({"amount_minor": 1, "currency": "CNY", "colour": "red"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    let r = api
        .call(
            "qa",
            "POST",
            &path,
            Some(json!({"amount_minor": 1, "currency": "CNY"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api
        .call(
            "other:supervisor",
            "POST",
            &path,
            Some(json!({"amount_minor": 1, "currency": "CNY"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another tenant's customer does not exist"
    );
    assert_eq!(
        api.count("SELECT COUNT(*) FROM orders").await,
        0,
        "nothing half-written"
    );

    let o = api
        .ok(
            "supervisor",
            "POST",
            &path,
            Some(json!({"amount_minor": 1, "currency": "CNY"})),
        )
        .await;
    let id = o["id"].as_str().unwrap();
    assert_eq!(
        api.call("other:admin", "GET", &format!("/orders/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call("other:admin", "POST", &format!("/orders/{id}/pay"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call("agent", "POST", &format!("/orders/{id}/pay"), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let o = api.ok("qa", "GET", &format!("/orders/{id}"), None).await;
    assert_eq!(o["state"], "placed");
}

async fn a_booked_visit_is_attended_once_and_lands_on_the_file(store: Store) {
    let api = Api::new(store).await;
    let c = api.customer("+8613800000001").await;
    let v = api
        .call(
            "agent",
            "POST",
            &format!("/customers/{c}/visits"),
            Some(json!({"scheduled_at": "2027-01-18T02:00:00Z", "source": "call_back", "note": "试听课"})),
        )
        .await;
    assert_eq!(v.status, StatusCode::CREATED, "{}", v.body);
    assert_eq!(v.body["invited_by"], api.id("agent"));
    let id = v.body["id"].as_str().unwrap();
    let mine = api
        .ok("agent", "GET", "/visits?invited_by=me&state=booked", None)
        .await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let done = api
        .ok("agent2", "POST", &format!("/visits/{id}/attended"), None)
        .await;
    assert_eq!(done["state"], "attended");
    let again = api
        .call("agent2", "POST", &format!("/visits/{id}/no-show"), None)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        api.count("SELECT COUNT(*) FROM customer_interactions WHERE kind = 'visit'")
            .await,
        1
    );
    let r = api
        .call(
            "agent",
            "POST",
            &format!("/customers/{c}/visits"),
            Some(json!({"scheduled_at": "2027-01-18T02:00:00Z", "source": "walk-in"})),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "source"));
    assert_eq!(
        api.call("other:agent", "POST", &format!("/visits/{id}/cancel"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call("qa", "POST", &format!("/visits/{id}/cancel"), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn the_next_shift_reads_the_handover_and_ticks_items_off(store: Store) {
    let api = Api::new(store).await;
    let c1 = api.customer("+8613800000001").await;
    let c2 = api.customer("+8613800000002").await;
    let shifts = api.ok("agent", "GET", "/shifts", None).await;
    let on_duty: Vec<&str> = shifts["on_duty"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(on_duty, ["day", "day-late", "night"]);
    assert_eq!(shifts["time_zone"], "Asia/Shanghai");

    let h = api
        .call(
            "agent",
            "POST",
            "/handovers",
            Some(json!({"note": "交接", "items": [
                {"customer_id": c1, "kind": "urgent", "what": "退款 refund not received, call before 18:00"},
                {"customer_id": c2, "kind": "prospect", "what": "asked for the price list"}
            ]})),
        )
        .await;
    assert_eq!(h.status, StatusCode::CREATED, "{}", h.body);
    assert_eq!(
        (h.body["shift"].as_str(), h.body["shift_date"].as_str()),
        (Some("day"), Some("2027-01-16"))
    );
    let id = h.body["id"].as_str().unwrap();

    let inbox = api
        .ok("agent2", "GET", "/handovers?unread=true", None)
        .await;
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    assert_eq!(inbox[0]["items"][0]["kind"], "urgent");
    let author_inbox = api.ok("agent", "GET", "/handovers?unread=true", None).await;
    assert!(author_inbox.as_array().unwrap().is_empty());
    let ticked = api
        .ok(
            "agent2",
            "POST",
            &format!("/handovers/{id}/items/0/done"),
            None,
        )
        .await;
    assert_eq!(ticked["items"][0]["done_by"], api.id("agent2"));
    api.ok("agent2", "POST", &format!("/handovers/{id}/read"), None)
        .await;
    let inbox = api
        .ok("agent2", "GET", "/handovers?unread=true", None)
        .await;
    assert!(inbox.as_array().unwrap().is_empty());

    assert_eq!(
        api.call("other:agent", "GET", &format!("/handovers/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(
            "other:agent",
            "POST",
            &format!("/handovers/{id}/read"),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(
            "agent2",
            "POST",
            &format!("/handovers/{id}/items/9/done"),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call("integrator", "GET", "/handovers", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let before = api.count("SELECT COUNT(*) FROM handovers").await;
    for (body, field) in [
        (
            json!({"items": [{"customer_id": c1, "kind": "soon", "what": "x"}]}),
            "items[0].kind",
        ),
        (
            json!({"items": [{"customer_id": c1, "kind": "urgent", "what": " "}]}),
            "items[0].what",
        ),
        (json!({"shift": "graveyard"}), "shift"),
    ] {
        let r = api
            .call("agent", "POST", "/handovers", Some(body.clone()))
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, field),
            "{body}: {}",
            r.body
        );
    }
    let foreign = {
        let c = api
            .ok(
                "other:supervisor",
                "POST",
                "/customers",
                Some(json!({"name": "x", "phones": [{"phone": "+8613800000009"}]})),
            )
            .await;
        c["id"].as_str().unwrap().to_owned()
    };
    let r = api
        .call(
            "agent",
            "POST",
            "/handovers",
            Some(json!({"items": [{"customer_id": foreign, "kind": "urgent", "what": "x"}]})),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "items"));
    assert_eq!(
        api.count("SELECT COUNT(*) FROM handovers").await,
        before,
        "nothing half-written"
    );
}

async fn agents_see_customers_served_and_converted(store: Store) {
    let api = Api::new(store).await;
    let c1 = api.customer("+8613800000001").await;
    let c2 = api.customer("+8613800000002").await;
    for c in [&c1, &c2] {
        api.ok(
            "agent",
            "POST",
            &format!("/customers/{c}/notes"),
            Some(json!({"text": "called back"})),
        )
        .await;
    }
    let o = api
        .ok(
            "agent",
            "POST",
            &format!("/customers/{c1}/orders"),
            Some(json!({"amount_minor": 50000, "currency": "CNY"})),
        )
        .await;
    api.ok(
        "supervisor",
        "POST",
        &format!("/orders/{}/pay", o["id"].as_str().unwrap()),
        None,
    )
    .await;

    let report = api
        .ok("supervisor", "GET", "/stats/agents?period=day", None)
        .await;
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    assert_eq!(rows[0]["agent_id"], api.id("agent"));
    assert_eq!(rows[0]["period"], "2027-01-16");
    assert_eq!(
        (
            rows[0]["customers_served"].as_i64(),
            rows[0]["customers_converted"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(rows[0]["conversion_rate"].as_f64(), Some(0.5));
    assert_eq!(rows[0]["revenue_minor"]["CNY"], 50000);

    let month = api
        .ok(
            "agent",
            "GET",
            "/stats/agents?period=month&from=2027-01-01&to=2027-01-31",
            None,
        )
        .await;
    assert_eq!(month["rows"][0]["period"], "2027-01");
    let other_agent = api.ok("agent2", "GET", "/stats/agents", None).await;
    assert!(
        other_agent["rows"].as_array().unwrap().is_empty(),
        "agents see only their own"
    );
    let peek = api
        .call(
            "agent2",
            "GET",
            &format!("/stats/agents?agent={}", api.id("agent")),
            None,
        )
        .await;
    assert_eq!(peek.status, StatusCode::FORBIDDEN);
    let r = api
        .call("supervisor", "GET", "/stats/agents?period=year", None)
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "period"));
    let r = api
        .call(
            "supervisor",
            "GET",
            "/stats/agents?from=2020-01-01&to=2027-01-01",
            None,
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "from"));
    let theirs = api
        .ok("other:supervisor", "GET", "/stats/agents", None)
        .await;
    assert!(
        theirs["rows"].as_array().unwrap().is_empty(),
        "another tenant sees none of it"
    );
}

both_engines!(
    an_order_is_recorded_once_paid_with_if_match_and_makes_a_customer,
    orders_refuse_bad_input_roles_and_other_tenants,
    a_booked_visit_is_attended_once_and_lands_on_the_file,
    the_next_shift_reads_the_handover_and_ticks_items_off,
    agents_see_customers_served_and_converted,
);
