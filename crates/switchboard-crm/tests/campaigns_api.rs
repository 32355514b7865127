//! Campaigns through the real `/api/v1` router (no socket), each test on SQLite and
//! PostgreSQL: templates, a campaign launched from a tagged customer list and worked by an
//! agent in the customers' calling windows, outcomes and what the campaign crate decides next,
//! quotas with CSV export, the trigger driver's tick with a set clock (acceptance 4), and bad
//! input naming the field. The clock starts at 2027-01-16T08:00:00Z: 16:00 in Shanghai (calling
//! time), 03:00 in New York (rest time).

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_campaign::triggers::TriggerConfig;
use switchboard_core::{ManualClock, TenantId, Timestamp};
use switchboard_crm::campaigns::triggers::tick;
use switchboard_crm::router;
use switchboard_store::{Store, both_engines};

mod support;
use support::{People, send, ts};

struct Api {
    router: Router,
    store: Store,
    people: People,
    clock: Arc<ManualClock>,
}

struct Reply {
    status: StatusCode,
    body: Value,
    text: String,
}

impl Reply {
    fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
}

impl Api {
    async fn new(store: Store) -> Api {
        let clock = Arc::new(ManualClock::new(ts(24 * 60)));
        let state = switchboard_crm::ApiState::new(
            store.clone(),
            clock.clone(),
            switchboard_crm::ApiSettings {
                default_tenant: TenantId::from("acme"),
                ..switchboard_crm::ApiSettings::default()
            },
        );
        Api {
            router: Router::new().nest("/api/v1", router(state)),
            people: People::seed(&store).await,
            store,
            clock,
        }
    }

    fn now(&self) -> Timestamp {
        switchboard_core::Clock::now(&*self.clock)
    }

    fn advance(&self, d: Duration) {
        self.clock.set(self.now() + d);
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
        let (status, _, bytes) = send(
            &self.router,
            token,
            method,
            path,
            headers,
            body.map(|b| b.to_string()),
        )
        .await;
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
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

    async fn customer(&self, name: &str, phones: &[&str], extra: Value) -> String {
        let mut body = json!({
            "name": name,
            "phones": phones.iter().map(|p| json!({"phone": p})).collect::<Vec<_>>(),
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let c = self
            .ok("supervisor", "POST", "/customers", Some(body))
            .await;
        c["id"].as_str().unwrap().to_owned()
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }

    async fn outcome(&self, task: &str, body: Value) -> Reply {
        self.call(
            "agent",
            "POST",
            &format!("/campaign-tasks/{task}/outcome"),
            Some(body),
        )
        .await
    }
}

fn rfc(t: Timestamp) -> String {
    t.to_string()
}

async fn templates_list_the_ten_types_in_both_languages(store: Store) {
    let api = Api::new(store).await;
    let list = api.ok("agent", "GET", "/campaign-templates", None).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 10);
    assert_eq!(list[0]["type"], "reactivation");
    assert_eq!(list[9]["type"], "care_call");
    for t in list {
        assert_ne!(t["name_zh"], t["name_en"]);
        assert_ne!(t["script_zh"]["greeting"], t["script_en"]["greeting"]);
        let keys: Vec<&str> = t["outcome_form"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        assert!(keys.contains(&"satisfaction"), "{keys:?}");
        assert_eq!(
            keys.contains(&"visit"),
            t["invites_visit"].as_bool().unwrap()
        );
    }
    let r = api.call("", "GET", "/campaign-templates", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn a_supervisor_launches_a_tagged_campaign_and_an_agent_works_it(store: Store) {
    let api = Api::new(store).await;
    let key = api
        .customer(
            "王芳",
            &["+8613800000001", "+8613800000002"],
            json!({"tags": ["autumn"], "key_customer": true, "time_zone": "Asia/Shanghai"}),
        )
        .await;
    let plain = api
        .customer(
            "李雷",
            &["+8613800000003"],
            json!({"tags": ["autumn"], "time_zone": "Asia/Shanghai"}),
        )
        .await;
    let ny = api
        .customer(
            "Ann Lee",
            &["+12125550100"],
            json!({"tags": ["autumn"], "time_zone": "America/New_York"}),
        )
        .await;
    api.customer(
        "拒接",
        &["+8613800000004"],
        json!({"tags": ["autumn"], "do_not_call": true}),
    )
    .await;
    api.customer("无关", &["+8613800000005"], json!({"tags": ["spring"]}))
        .await;

    let created = api
        .ok(
            "supervisor",
            "POST",
            "/campaigns",
            Some(json!({
                "type": "service_follow_up",
                "starts_at": rfc(ts(0)),
                "ends_at": rfc(ts(30 * 24 * 60)),
                "agents": [api.people.ids["agent"].as_str()],
                "target": {"tags": ["autumn"]},
            })),
        )
        .await;
    assert_eq!(created["state"], "draft");
    assert_eq!(created["name"], "服务效果回访");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.call("agent", "GET", "/campaign-tasks/next", None)
            .await
            .status,
        StatusCode::NO_CONTENT,
        "a draft hands out nothing"
    );

    let started = api
        .ok(
            "supervisor",
            "POST",
            &format!("/campaigns/{id}/start"),
            None,
        )
        .await;
    assert_eq!(started["campaign"]["state"], "running");
    assert_eq!(started["tasks_created"], 3, "{started}");
    assert_eq!(
        api.count("SELECT COUNT(*) FROM outbox WHERE event_type = 'campaign.started'")
            .await,
        1
    );
    let p = api
        .ok("qa", "GET", &format!("/campaigns/{id}/progress"), None)
        .await;
    assert_eq!(
        (&p["total"], &p["open"], &p["suppressed"]),
        (&json!(4), &json!(3), &json!(1))
    );
    assert_eq!(p["key_customers"]["total"], 1);

    // Not assigned: nothing for agent2.
    assert_eq!(
        api.call("agent2", "GET", "/campaign-tasks/next", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // The key customer first, with script, customer file and the number to dial.
    let next = api.ok("agent", "GET", "/campaign-tasks/next", None).await;
    assert_eq!(next["task"]["customer_id"], key.as_str());
    assert_eq!(next["dial"], "+8613800000001");
    assert_eq!(next["customer"]["name"], "王芳");
    assert_eq!(next["customer_local_time"], "2027-01-16 16:00");
    assert!(
        next["script"]["greeting"]
            .as_str()
            .unwrap()
            .contains("王芳"),
        "{}",
        next["script"]
    );
    let task = next["task"]["id"].as_str().unwrap().to_owned();
    let again = api.ok("agent", "GET", "/campaign-tasks/next", None).await;
    assert_eq!(
        again["task"]["id"],
        task.as_str(),
        "the agent keeps their task"
    );
    // agent2 cannot record on it.
    let r = api
        .call(
            "agent2",
            "POST",
            &format!("/campaign-tasks/{task}/outcome"),
            Some(json!({"result": "no_answer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // No answer: the next number at once.
    let r = api.outcome(&task, json!({"result": "no_answer"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["next"]["kind"], "dial_now");
    assert_eq!(r.body["next"]["number"], "+8613800000002");
    // Answered: the outcome form's required fields are required.
    let r = api
        .outcome(
            &task,
            json!({"result": "answered", "talk_seconds": 45, "note": "好"}),
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "satisfaction")
    );
    let r = api
        .outcome(
            &task,
            json!({"result": "answered", "talk_seconds": 45, "note": "好", "satisfaction": "happy"}),
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "satisfaction")
    );
    let r = api
        .outcome(
            &task,
            json!({"result": "answered", "talk_seconds": 45, "note": "回访完成",
                   "satisfaction": "satisfied", "suggestion": "希望周末也能预约"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["next"]["kind"], "done");
    assert_eq!(r.body["effective"], true);
    assert_eq!(r.body["task"]["suggestion"], "希望周末也能预约");
    assert_eq!(r.body["task"]["attempts"], 2);

    // Next: the Shanghai customer; busy → a short retry.
    let next = api.ok("agent", "GET", "/campaign-tasks/next", None).await;
    assert_eq!(next["task"]["customer_id"], plain.as_str());
    let task2 = next["task"]["id"].as_str().unwrap().to_owned();
    let r = api.outcome(&task2, json!({"result": "busy"})).await;
    assert_eq!(r.body["next"]["kind"], "retry_at");
    assert_eq!(
        r.body["next"]["at"],
        rfc(api.now() + Duration::from_secs(600))
    );
    // New York is asleep (03:00) and the busy retry is not due: nothing to call.
    assert_eq!(
        api.call("agent", "GET", "/campaign-tasks/next", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    api.advance(Duration::from_secs(600));
    let next = api.ok("agent", "GET", "/campaign-tasks/next", None).await;
    assert_eq!(next["task"]["id"], task2.as_str());
    // The customer asks for another time: inside rest time is refused, naming booked_at.
    let lunch = Timestamp::from_utc("2027-01-17T04:30:00Z".parse().unwrap()); // 12:30 Shanghai
    let r = api
        .outcome(
            &task2,
            json!({"result": "call_back_later", "booked_at": rfc(lunch), "talk_seconds": 20}),
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "booked_at"),
        "{}",
        r.text
    );
    let slot = Timestamp::from_utc("2027-01-18T02:00:00Z".parse().unwrap()); // 10:00 Shanghai
    let r = api
        .outcome(
            &task2,
            json!({"result": "call_back_later", "booked_at": rfc(slot), "talk_seconds": 20}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["next"]["kind"], "booked");
    assert_eq!(r.body["task"]["booked_at"], rfc(slot));
    assert_eq!(
        r.body["task"]["not_before"],
        rfc(slot),
        "honoured to the slot"
    );

    // 14:00Z: 09:00 in New York, 22:00 in Shanghai — only New York may be called.
    api.clock
        .set(Timestamp::from_utc("2027-01-16T14:00:00Z".parse().unwrap()));
    let next = api.ok("agent", "GET", "/campaign-tasks/next", None).await;
    assert_eq!(next["task"]["customer_id"], ny.as_str());
    assert_eq!(next["customer_local_time"], "2027-01-16 09:00");

    let p = api
        .ok(
            "supervisor",
            "GET",
            &format!("/campaigns/{id}/progress"),
            None,
        )
        .await;
    assert_eq!((&p["done"], &p["open"]), (&json!(1), &json!(2)));
    assert_eq!(p["key_customers"]["percent"], 100.0);
    let list = api
        .ok(
            "supervisor",
            "GET",
            &format!("/campaigns/{id}/tasks?state=open"),
            None,
        )
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Pause: nothing handed out; stop: open tasks cancelled.
    api.ok(
        "supervisor",
        "POST",
        &format!("/campaigns/{id}/pause"),
        None,
    )
    .await;
    assert_eq!(
        api.call("agent", "GET", "/campaign-tasks/next", None)
            .await
            .status,
        StatusCode::NO_CONTENT,
        "a paused campaign hands out nothing, not even a claimed task"
    );
    let stopped = api
        .ok("supervisor", "POST", &format!("/campaigns/{id}/stop"), None)
        .await;
    assert_eq!(stopped["campaign"]["state"], "stopped");
    let r = api
        .call(
            "supervisor",
            "POST",
            &format!("/campaigns/{id}/start"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "stopping is final");
    let p = api
        .ok(
            "supervisor",
            "GET",
            &format!("/campaigns/{id}/progress"),
            None,
        )
        .await;
    assert_eq!((&p["open"], &p["cancelled"]), (&json!(0), &json!(2)));
    for (event, n) in [
        ("campaign.paused", 1),
        ("campaign.stopped", 1),
        ("campaign.task_outcome", 4),
    ] {
        let sql = format!("SELECT COUNT(*) FROM outbox WHERE event_type = '{event}'");
        assert_eq!(api.count(&sql).await, n, "{event}");
    }
    // The other tenant sees none of it.
    let r = api
        .call("other:supervisor", "GET", &format!("/campaigns/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn quotas_show_agents_their_own_month_and_export_csv(store: Store) {
    let api = Api::new(store).await;
    api.customer("王芳", &["+8613800000001"], json!({"tags": ["q"]}))
        .await;
    let c = api
        .ok(
            "supervisor",
            "POST",
            "/campaigns",
            Some(json!({
                "type": "promotion", "starts_at": rfc(ts(0)), "ends_at": rfc(ts(60 * 24 * 60)),
                "agents": [api.people.ids["agent"].as_str()], "target": {"tags": ["q"]},
            })),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    api.ok(
        "supervisor",
        "POST",
        &format!("/campaigns/{id}/start"),
        None,
    )
    .await;
    let next = api.ok("agent", "GET", "/campaign-tasks/next", None).await;
    let task = next["task"]["id"].as_str().unwrap();
    let r = api
        .outcome(
            task,
            json!({"result": "answered", "talk_seconds": 60, "note": "ok", "satisfaction": "neutral"}),
        )
        .await;
    assert_eq!(r.body["effective"], true, "{}", r.text);

    let mine = api.ok("agent", "GET", "/quotas?month=2027-01", None).await;
    let rows = mine["agents"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "an agent sees only themselves");
    assert_eq!(rows[0]["agent_id"], api.people.ids["agent"].as_str());
    assert_eq!(rows[0]["effective_calls"], 1);
    assert_eq!(rows[0]["progress"]["effective_today"], 1);
    assert_eq!(rows[0]["payout"]["call_deduction_pct"], 10);
    let other = api.people.ids["agent2"].as_str();
    let r = api
        .call("agent", "GET", &format!("/quotas?agent_id={other}"), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let all = api
        .ok("supervisor", "GET", "/quotas?month=2027-01", None)
        .await;
    assert_eq!(all["agents"].as_array().unwrap().len(), 2);
    let csv = api
        .call_with(
            "supervisor",
            "GET",
            "/quotas?month=2027-01",
            &[("accept", "text/csv")],
            None,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let lines: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{}", csv.text);
    assert!(lines[0].starts_with("agent,days_worked,effective_calls"));
    assert!(lines[1].starts_with(&format!("{},1,1,", api.people.ids["agent"])));
    let r = api
        .call("supervisor", "GET", "/quotas?month=2027-13", None)
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "month"));
    let r = api.call("qa", "GET", "/quotas", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Acceptance 4: unpaid orders at 3 and 7 days and a resolved ticket become tasks when the
/// driver ticks with the clock there, once each however often it ticks.
async fn triggers_create_order_reminders_and_ticket_follow_ups_once(store: Store) {
    let api = Api::new(store.clone()).await;
    let cfg = TriggerConfig::default();
    let buyer = api.customer("张伟", &["+8613800000011"], json!({})).await;
    let payer = api.customer("赵敏", &["+8613800000012"], json!({})).await;
    let placed = api.now();
    let order = api
        .ok(
            "supervisor",
            "POST",
            &format!("/customers/{buyer}/orders"),
            Some(json!({"amount_minor": 9900, "currency": "CNY", "placed_at": rfc(placed)})),
        )
        .await;
    let paid = api
        .ok(
            "supervisor",
            "POST",
            &format!("/customers/{payer}/orders"),
            Some(json!({"amount_minor": 100, "currency": "CNY", "placed_at": rfc(placed)})),
        )
        .await;
    api.ok(
        "supervisor",
        "POST",
        &format!("/orders/{}/pay", paid["id"].as_str().unwrap()),
        None,
    )
    .await;
    // A ticket resolved now: its follow-up goes to the agent who owned it.
    let t = api
        .ok(
            "agent",
            "POST",
            "/tickets",
            Some(json!({"subject": "快递延误", "customer_id": payer, "emotion": "angry"})),
        )
        .await;
    let tid = t["id"].as_str().unwrap();
    api.ok(
        "agent",
        "POST",
        &format!("/tickets/{tid}/take"),
        Some(json!({})),
    )
    .await;
    api.ok(
        "agent",
        "POST",
        &format!("/tickets/{tid}/resolve"),
        Some(json!({"note": "已补发"})),
    )
    .await;
    let tasks = || async {
        api.count("SELECT COUNT(*) FROM tasks WHERE numbers IS NOT NULL")
            .await
    };

    let day = Duration::from_secs(86_400);
    let report = tick(&store, &cfg, placed + day * 2).await.unwrap();
    assert_eq!(
        (report.created, tasks().await),
        (1, 1),
        "2 days: only the follow-up"
    );
    let sql = format!("SELECT COUNT(*) FROM tasks WHERE trigger_key = 'ticket:{tid}:follow_up'");
    assert_eq!(
        api.count(&sql).await,
        1,
        "one follow-up row, the ticket's own"
    );
    tick(&store, &cfg, placed + day * 3).await.unwrap();
    let reminder = format!("order:{}:reminder", order["id"].as_str().unwrap());
    let sql = format!("SELECT COUNT(*) FROM tasks WHERE trigger_key = '{reminder}'");
    assert_eq!(api.count(&sql).await, 1, "3 days: the reminder");
    assert_eq!(tasks().await, 2, "the paid order has none");
    let again = tick(&store, &cfg, placed + day * 3).await.unwrap();
    assert_eq!(
        (again.created, tasks().await),
        (0, 2),
        "a second tick adds nothing"
    );
    tick(&store, &cfg, placed + day * 7).await.unwrap();
    let warning = format!("order:{}:warning", order["id"].as_str().unwrap());
    let sql = format!("SELECT COUNT(*) FROM tasks WHERE trigger_key = '{warning}'");
    assert_eq!(api.count(&sql).await, 1, "7 days: the warning");
    assert_eq!(tasks().await, 3);
    api.clock.set(placed + day * 7);

    // The trigger campaigns are visible, and the agent gets the follow-up (owner first in
    // line for it; 16:00 in Shanghai).
    let list = api
        .ok("supervisor", "GET", "/campaigns?state=running", None)
        .await;
    let kinds: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["trigger_kind"].as_str())
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let next = api.ok("agent2", "GET", "/campaign-tasks/next", None).await;
    assert_eq!(
        next["task"]["kind"], "order_reminder",
        "the follow-up is the owner's"
    );
    assert_eq!(next["task"]["customer_id"], buyer.as_str());
    let next = api.ok("agent", "GET", "/campaign-tasks/next", None).await;
    assert_eq!(
        next["task"]["owner_agent_id"],
        api.people.ids["agent"].as_str()
    );
    assert_eq!(next["task"]["kind"], "ticket_follow_up");
}

async fn bad_campaign_input_names_the_field_and_writes_nothing(store: Store) {
    let api = Api::new(store).await;
    let agent = api.people.ids["agent"].to_string();
    let base = json!({
        "type": "promotion", "starts_at": rfc(ts(0)), "ends_at": rfc(ts(600)), "agents": [agent],
    });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("type", json!("cold_calling")), "type"),
        (with("starts_at", json!("yesterday")), "starts_at"),
        (with("ends_at", json!(rfc(ts(-10)))), "ends_at"),
        (with("language", json!("fr")), "language"),
        (with("dial_mode", json!("robocall")), "dial_mode"),
        (with("max_attempts", json!(0)), "max_attempts"),
        (with("max_attempts", json!(99)), "max_attempts"),
        (with("priority", json!(300)), "priority"),
        (with("agents", json!(["nobody"])), "agents[0]"),
        (with("agents", json!([])), "agents"),
        (with("queue", json!("sales")), "queue"),
        (
            with("target", json!({"category": "vip"})),
            "target.category",
        ),
        (
            with("calling", json!({"rest": ["25:00-26:00"]})),
            "calling.rest[0]",
        ),
        (
            with("calling", json!({"rest": ["00:00-12:00", "12:00-24:00"]})),
            "calling.rest",
        ),
        (
            with("calling", json!({"rest": [], "holidays": ["2027-02-30"]})),
            "calling.holidays[0]",
        ),
    ];
    for (body, field) in cases {
        let r = api
            .call("supervisor", "POST", "/campaigns", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.field(), field, "{body}: {}", r.text);
    }
    let r = api
        .call(
            "supervisor",
            "POST",
            "/campaigns",
            Some(with("colour", json!("red"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("colour"), "{}", r.text);
    let r = api
        .call("supervisor", "GET", "/campaigns?state=done", None)
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "state"));
    assert_eq!(api.count("SELECT COUNT(*) FROM campaigns").await, 0);
    let r = api
        .call("agent", "POST", "/campaigns", Some(base.clone()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api
        .call(
            "agent",
            "POST",
            "/campaign-tasks/nope/outcome",
            Some(json!({"result": "maybe"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// A key customer in a campaign no agent works goes to a supervisor (the planner's verdict).
async fn key_customers_nobody_can_reach_are_escalated(store: Store) {
    let api = Api::new(store).await;
    api.ok(
        "supervisor",
        "POST",
        "/queues",
        Some(json!({"id": "empty", "name": "无人队列"})),
    )
    .await;
    let key = api
        .customer(
            "钱总",
            &["+8613800000041"],
            json!({"tags": ["vip"], "key_customer": true}),
        )
        .await;
    api.customer("普通", &["+8613800000042"], json!({"tags": ["vip"]}))
        .await;
    let c = api
        .ok(
            "supervisor",
            "POST",
            "/campaigns",
            Some(json!({
                "type": "reactivation", "starts_at": rfc(ts(0)), "ends_at": rfc(ts(30 * 24 * 60)),
                "queue": "empty", "target": {"tags": ["vip"]},
            })),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    api.ok(
        "supervisor",
        "POST",
        &format!("/campaigns/{id}/start"),
        None,
    )
    .await;
    let e = api
        .ok(
            "supervisor",
            "GET",
            &format!("/campaigns/{id}/escalations"),
            None,
        )
        .await;
    let list = e["escalations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{e}");
    assert_eq!(list[0]["customer_id"], key.as_str());
    assert_eq!(list[0]["reason"], "no_agents");
    assert_eq!(e["planned"], 0);
    // With the agent in the queue, the key customer is planned in their shift instead.
    let agent = api.people.ids["agent"].to_string();
    api.ok(
        "supervisor",
        "PUT",
        &format!("/queues/empty/members/{agent}"),
        Some(json!({})),
    )
    .await;
    let e = api
        .ok(
            "supervisor",
            "GET",
            &format!("/campaigns/{id}/escalations"),
            None,
        )
        .await;
    assert_eq!(e["escalations"], json!([]), "{e}");
    assert_eq!(e["planned"], 2);
}

both_engines!(
    key_customers_nobody_can_reach_are_escalated,
    templates_list_the_ten_types_in_both_languages,
    a_supervisor_launches_a_tagged_campaign_and_an_agent_works_it,
    quotas_show_agents_their_own_month_and_export_csv,
    triggers_create_order_reminders_and_ticket_follow_ups_once,
    bad_campaign_input_names_the_field_and_writes_nothing,
);
