//! Queues, members, agent state history and call-back tasks (回访) through the real `/api/v1`
//! router (no socket), each database test on SQLite and PostgreSQL.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_core::{TenantId, UserId};
use switchboard_crm::router;
use switchboard_store::Store;
use switchboard_store::acd::{self, AgentStateRow};
use switchboard_store::tasks::{self, NewTask, TaskOwner};
use switchboard_store::testing::TestDb;

mod support;
use support::{People, send, ts};

/// Call-back task tests, in their own file to keep each under 800 lines.
#[path = "queues_tasks_api/tasks.rs"]
mod task_api;

struct Api {
    router: Router,
    store: Store,
    people: People,
}

struct Reply {
    status: StatusCode,
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

    async fn call(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let token = self.people.tokens.get(who).map(String::as_str);
        let body = body.map(|b| b.to_string());
        let (status, _, bytes) = send(&self.router, token, method, path, &[], body).await;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body }
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

    async fn queue(&self, id: &str, number: Option<&str>) {
        let body = json!({ "id": id, "name": format!("{id} line"), "number": number });
        self.ok("supervisor", "POST", "/queues", Some(body)).await;
    }

    async fn member(&self, queue: &str, who: &str) {
        let path = format!("/queues/{queue}/members/{}", self.id(who));
        self.ok("supervisor", "PUT", &path, Some(json!({}))).await;
    }

    /// A task of acme, as the ACD would create it for a dropped call.
    async fn task(&self, call: &str, owner: TaskOwner, due_minute: i64) -> String {
        let tenant = TenantId::from("acme");
        let call = switchboard_core::CallId::from(call);
        tasks::create_task(
            &self.store,
            &NewTask {
                tenant_id: &tenant,
                call_id: Some(&call),
                customer_phone: "+8613800000001",
                reason: tasks::callback_reason::DROPPED_MID_CALL,
                owner: &owner,
                due_at: ts(due_minute),
                note: None,
                now: ts(0),
            },
        )
        .await
        .unwrap()
        .task
        .id
        .to_string()
    }

    async fn audit_actions(&self) -> String {
        self.ok("admin", "GET", "/audit?limit=500", None)
            .await
            .to_string()
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn queues_are_created_read_edited_and_deleted(store: Store) {
    let api = Api::new(store).await;
    let body = json!({ "id": "sales", "name": "销售热线", "number": "8000",
                       "config": { "strategy": "round_robin", "ring_timeout": 15 } });
    let created = api
        .call("supervisor", "POST", "/queues", Some(body.clone()))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let config = &created.body["config"];
    assert_eq!(config["strategy"], "round_robin");
    assert_eq!(config["ring_timeout"], 15);
    // The rest are the service rules' figures.
    assert_eq!(config["max_missed_offers"], 2);
    assert_eq!(config["wrap_up"], 30);
    assert_eq!(config["wait_alert"], 60);
    assert_eq!(config["service_level_threshold"], 20);
    assert_eq!(
        api.call("admin", "POST", "/queues", Some(body))
            .await
            .status,
        StatusCode::CONFLICT
    );

    let edited = api
        .ok(
            "admin",
            "PATCH",
            "/queues/sales",
            Some(json!({ "name": "Sales", "config": { "wrap_up": 10 } })),
        )
        .await;
    assert_eq!(edited["name"], "Sales");
    assert_eq!(edited["number"], "8000");
    assert_eq!(edited["config"]["wrap_up"], 10);
    assert_eq!(edited["config"]["ring_timeout"], 15, "config keys merge");
    let cleared = api
        .ok(
            "supervisor",
            "PATCH",
            "/queues/sales",
            Some(json!({ "number": null })),
        )
        .await;
    assert_eq!(cleared["number"], Value::Null);
    assert_eq!(cleared["name"], "Sales");

    api.queue("support", None).await;
    let list = api.ok("qa", "GET", "/queues", None).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sales", "support"]);
    assert_eq!(
        api.ok("agent", "GET", "/queues/sales", None).await["name"],
        "Sales"
    );

    let deleted = api
        .call("supervisor", "DELETE", "/queues/sales", None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    for (method, status) in [
        ("GET", StatusCode::NOT_FOUND),
        ("DELETE", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(
            api.call("admin", method, "/queues/sales", None)
                .await
                .status,
            status
        );
    }
    let audit = api.audit_actions().await;
    for action in ["queue.create", "queue.update", "queue.delete"] {
        assert!(audit.contains(action), "{action} not audited");
    }
}

async fn queue_validation_errors_name_the_field(store: Store) {
    let api = Api::new(store).await;
    api.queue("sales", Some("8000")).await;
    for (body, field) in [
        (json!({ "id": "no spaces", "name": "x" }), "id"),
        (json!({ "id": "q", "name": "  " }), "name"),
        (
            json!({ "id": "q", "name": "x", "number": "80a0" }),
            "number",
        ),
        (
            json!({ "id": "q", "name": "x", "config": { "ring_timeout": 0 } }),
            "config.ring_timeout",
        ),
        (
            json!({ "id": "q", "name": "x", "config": { "ring_timeout": "20s" } }),
            "config.ring_timeout",
        ),
        (
            json!({ "id": "q", "name": "x", "config": { "ring_timout": 20 } }),
            "config.ring_timout",
        ),
        (
            json!({ "id": "q", "name": "x", "config": { "max_missed_offers": 0 } }),
            "config.max_missed_offers",
        ),
        (
            json!({ "id": "q", "name": "x", "config": { "strategy": "random" } }),
            "config.strategy",
        ),
        (json!({ "id": "q", "name": "x", "config": 5 }), "config"),
        (json!({ "id": "q", "name": "x", "colour": "red" }), ""),
    ] {
        let r = api
            .call("admin", "POST", "/queues", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        if !field.is_empty() {
            assert_eq!(r.field(), field, "{body}: {}", r.body);
        }
    }
    let overflow =
        json!({ "config": { "on_max_wait": { "action": "overflow", "queue": "sales" } } });
    let r = api
        .call("admin", "PATCH", "/queues/sales", Some(overflow))
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "config.on_max_wait")
    );
    let nowhere =
        json!({ "config": { "on_max_wait": { "action": "overflow", "queue": "nowhere" } } });
    let r = api
        .call("admin", "PATCH", "/queues/sales", Some(nowhere))
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "config.on_max_wait")
    );
    api.queue("overflow", None).await;
    let spill = json!({ "config": { "on_max_wait": { "action": "overflow", "queue": "overflow" }, "max_wait": 120 } });
    let edited = api.ok("admin", "PATCH", "/queues/sales", Some(spill)).await;
    assert_eq!(edited["config"]["on_max_wait"]["queue"], "overflow");
    assert_eq!(edited["config"]["max_wait"], 120);
    // A number another queue uses.
    let r = api
        .call(
            "admin",
            "POST",
            "/queues",
            Some(json!({ "id": "q2", "name": "x", "number": "8000" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    api.queue("q3", Some("8001")).await;
    let r = api
        .call(
            "admin",
            "PATCH",
            "/queues/q3",
            Some(json!({ "number": "8000" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(
        api.ok("admin", "GET", "/queues/q3", None).await["number"],
        "8001"
    );
}

async fn agents_cannot_write_queues_and_other_tenants_get_404(store: Store) {
    let api = Api::new(store).await;
    api.queue("sales", None).await;
    let member_path = format!("/queues/sales/members/{}", api.id("agent"));
    for who in ["agent", "qa", "integrator"] {
        for (method, path, body) in [
            ("POST", "/queues", Some(json!({ "id": "x", "name": "x" }))),
            ("PATCH", "/queues/sales", Some(json!({ "name": "y" }))),
            ("DELETE", "/queues/sales", None),
            ("PUT", member_path.as_str(), Some(json!({}))),
            ("DELETE", member_path.as_str(), None),
        ] {
            let r = api.call(who, method, path, body).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} {method} {path}");
        }
    }
    for who in ["qa", "agent", "supervisor", "admin"] {
        api.ok(who, "GET", "/queues", None).await;
        api.ok(who, "GET", "/queues/sales/members", None).await;
    }
    assert_eq!(
        api.call("integrator", "GET", "/queues", None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.call("nobody", "GET", "/queues", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Another tenant sees none of acme's queues.
    assert_eq!(
        api.ok("other:admin", "GET", "/queues", None).await,
        json!([])
    );
    let other_member = format!("/queues/sales/members/{}", api.id("other:agent"));
    for (method, path, body) in [
        ("GET", "/queues/sales", None),
        ("PATCH", "/queues/sales", Some(json!({ "name": "mine" }))),
        ("DELETE", "/queues/sales", None),
        ("GET", "/queues/sales/members", None),
        ("PUT", other_member.as_str(), Some(json!({}))),
    ] {
        let r = api.call("other:supervisor", method, path, body).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.body
        );
    }
    assert_eq!(
        api.ok("admin", "GET", "/queues/sales", None).await["name"],
        "sales line"
    );
}

async fn members_must_be_agents_or_supervisors_of_the_tenant(store: Store) {
    let api = Api::new(store).await;
    api.queue("sales", None).await;
    let path = |who: &str| format!("/queues/sales/members/{}", api.id(who));
    let put = api
        .ok(
            "supervisor",
            "PUT",
            &path("agent"),
            Some(json!({ "skills": { "billing": 3, "粤语": 5 }, "level": 2, "priority": 1, "site": "shanghai" })),
        )
        .await;
    assert_eq!(put["skills"]["粤语"], 5);
    assert_eq!(put["site"], "shanghai");
    api.ok("admin", "PUT", &path("supervisor"), Some(json!({})))
        .await;
    for who in ["qa", "admin", "integrator", "other:agent"] {
        let r = api.call("admin", "PUT", &path(who), Some(json!({}))).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, "user_id"),
            "{who}"
        );
    }
    let r = api
        .call(
            "admin",
            "PUT",
            "/queues/sales/members/nobody",
            Some(json!({})),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "user_id"));
    for (body, field) in [
        (json!({ "skills": { " ": 1 } }), "skills"),
        (json!({ "skills": { "billing": 300 } }), "skills.billing"),
        (json!({ "level": -1 }), "level"),
        (json!({ "site": "" }), "site"),
    ] {
        let r = api
            .call("admin", "PUT", &path("agent2"), Some(body.clone()))
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, field),
            "{body}"
        );
    }
    let r = api
        .call(
            "admin",
            "PUT",
            &format!("/queues/nope/members/{}", api.id("agent")),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // First tier first.
    let members = api.ok("qa", "GET", "/queues/sales/members", None).await;
    let order: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [api.id("supervisor"), api.id("agent")]);

    let r = api.call("admin", "DELETE", "/queues/sales", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "queue with members");
    for who in ["agent", "supervisor"] {
        let r = api.call("supervisor", "DELETE", &path(who), None).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let r = api.call("supervisor", "DELETE", &path("agent"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api.call("admin", "DELETE", "/queues/sales", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let audit = api.audit_actions().await;
    assert!(audit.contains("queue.member.put") && audit.contains("queue.member.delete"));
}

async fn state_history_is_filtered_and_agents_read_only_their_own(store: Store) {
    let api = Api::new(store).await;
    let agent = UserId::from(api.id("agent"));
    for (minute, status, reason) in [
        (0, "ready", None),
        (5, "ringing", None),
        (6, "not_ready", Some("missed")),
        (30, "ready", None),
    ] {
        acd::record_agent_state(
            &api.store,
            &AgentStateRow {
                tenant_id: TenantId::from("acme"),
                agent_user_id: agent.clone(),
                status: status.into(),
                reason: reason.map(str::to_owned),
                cause: None,
                since: ts(minute),
                call_id: None,
            },
        )
        .await
        .unwrap();
    }
    let statuses = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let (since, until) = (ts(0).as_millis(), ts(60).as_millis());
    let path = format!("/agents/{agent}/states?since={since}&until={until}");
    let all = api.ok("supervisor", "GET", &path, None).await;
    assert_eq!(statuses(&all), ["ready", "ringing", "not_ready", "ready"]);
    assert_eq!(all[2]["reason"], "missed");
    let window = format!(
        "/agents/{agent}/states?since={}&until={}",
        ts(5).as_millis(),
        ts(30).as_millis()
    );
    assert_eq!(
        statuses(&api.ok("qa", "GET", &window, None).await),
        ["ringing", "not_ready"]
    );
    let limited = api
        .ok("agent", "GET", &format!("{path}&limit=1"), None)
        .await;
    assert_eq!(statuses(&limited), ["ready"]);
    let me = api
        .ok(
            "agent",
            "GET",
            &format!("/agents/me/states?since={since}&until={until}"),
            None,
        )
        .await;
    assert_eq!(statuses(&me).len(), 4);
    // The default window is the day before the API's clock: T0 + 24 h, so it holds everything.
    assert_eq!(
        statuses(
            &api.ok("admin", "GET", &format!("/agents/{agent}/states"), None)
                .await
        )
        .len(),
        4
    );
    let r = api.call("agent2", "GET", &path, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (query, field) in [
        ("since=soon", "since"),
        ("until=x", "until"),
        ("limit=0", "limit"),
    ] {
        let r = api
            .call(
                "supervisor",
                "GET",
                &format!("/agents/{agent}/states?{query}"),
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, field),
            "{query}"
        );
    }
    // Another tenant's supervisor cannot name acme's agent.
    let r = api.call("other:supervisor", "GET", &path, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "other tenant");
    let r = api
        .call("supervisor", "GET", "/agents/nobody/states", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

switchboard_store::both_engines!(
    queues_are_created_read_edited_and_deleted,
    queue_validation_errors_name_the_field,
    agents_cannot_write_queues_and_other_tenants_get_404,
    members_must_be_agents_or_supervisors_of_the_tenant,
    state_history_is_filtered_and_agents_read_only_their_own,
);

#[tokio::test]
async fn the_openapi_document_lists_every_queue_task_and_state_route() {
    let db = TestDb::sqlite().await;
    let api = Api::new(db.store.clone()).await;
    let doc = api.ok("nobody", "GET", "/openapi.json", None).await;
    for (method, path) in [
        ("get", "/queues"),
        ("post", "/queues"),
        ("get", "/queues/{id}"),
        ("patch", "/queues/{id}"),
        ("delete", "/queues/{id}"),
        ("get", "/queues/{id}/members"),
        ("put", "/queues/{id}/members/{user_id}"),
        ("delete", "/queues/{id}/members/{user_id}"),
        ("get", "/agents/{user_id}/states"),
        ("get", "/tasks"),
        ("get", "/tasks/{id}"),
        ("post", "/tasks/{id}/claim"),
        ("post", "/tasks/{id}/complete"),
        ("post", "/tasks/{id}/cancel"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing from the document");
        assert!(
            op["responses"]["4XX"].is_object(),
            "{method} {path} has no error schema"
        );
    }
    assert!(doc["components"]["schemas"]["TaskView"].is_object());
    let tags = doc["tags"].to_string();
    assert!(
        tags.contains("回访"),
        "the tasks tag names the call-back term"
    );
    db.cleanup().await;
}
