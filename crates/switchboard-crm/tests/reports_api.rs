//! Acceptance (issue 11, item 5): the reports checked against a hand-computed fixture month,
//! December 2026 in the call centre's zone (Asia/Shanghai, UTC+8), through the real router on
//! SQLite and PostgreSQL. Every expected figure below is written by hand, with how it was
//! counted; the fixture rows are inserted with their exact times (the report reads the stored
//! facts, however they got there). The API's clock stands at 2027-01-10 10:00 Shanghai, after
//! every deadline of the month. Also: the wallboard's overdue-ticket count and its roles.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use chrono::TimeZone;
use serde_json::{Value, json};
use switchboard_core::{ManualClock, TenantId, Timestamp};
use switchboard_crm::live::{LiveCommand, LiveReply, live_channel};
use switchboard_crm::router;
use switchboard_store::{Store, both_engines};

mod support;
use support::{People, send};

/// December 2026 (or `month`), local Shanghai time, as epoch ms.
fn sh(month: u32, day: u32, hour: u32, min: u32) -> i64 {
    let year = if month == 1 { 2027 } else { 2026 };
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(year, month, day, hour, min, 0)
        .unwrap()
        .timestamp_millis()
}

const S: i64 = 1000;
const H: i64 = 3_600_000;

struct World {
    router: Router,
    store: Store,
    people: People,
}

impl World {
    async fn new(store: Store) -> World {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(sh(1, 10, 10, 0))));
        // A call control with nobody on the floor: the wallboard's live part is empty here
        // (the browser test covers it against the real one).
        let (live, mut rx) = live_channel(16);
        tokio::spawn(async move {
            while let Some((command, reply)) = rx.recv().await {
                let answer = match command {
                    LiveCommand::QueueLive { .. } => {
                        LiveReply::Json(json!({"queues": [], "agents": []}))
                    }
                    _ => LiveReply::Done,
                };
                let _ = reply.send(Ok(answer));
            }
        });
        let state = switchboard_crm::ApiState::new(
            store.clone(),
            clock,
            switchboard_crm::ApiSettings {
                default_tenant: TenantId::from("acme"),
                ..switchboard_crm::ApiSettings::default()
            },
        )
        .with_live(live);
        World {
            router: Router::new().nest("/api/v1", router(state)),
            people: People::seed(&store).await,
            store,
        }
    }

    fn id(&self, who: &str) -> String {
        self.people.ids[who].to_string()
    }

    async fn get(&self, who: &str, path: &str) -> (StatusCode, Vec<u8>) {
        let token = self.people.tokens.get(who).map(String::as_str);
        let (status, _, body) = send(&self.router, token, "GET", path, &[], None).await;
        (status, body)
    }

    async fn json(&self, who: &str, path: &str) -> Value {
        let (status, body) = self.get(who, path).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }

    async fn post(&self, who: &str, path: &str, body: Value) -> Value {
        let token = self.people.tokens.get(who).map(String::as_str);
        let (status, _, body) = send(
            &self.router,
            token,
            "POST",
            path,
            &[],
            Some(body.to_string()),
        )
        .await;
        assert!(
            status.is_success(),
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }

    async fn exec(&self, sql: &str, args: Vec<Arg>) {
        let mut q = sqlx::query(sql);
        for a in args {
            q = match a {
                Arg::T(s) => q.bind(s),
                Arg::I(i) => q.bind(i),
                Arg::N => q.bind(None::<i64>),
                Arg::NT => q.bind(None::<String>),
            };
        }
        q.execute(self.store.pool()).await.unwrap();
    }
}

enum Arg {
    T(String),
    I(i64),
    N,
    NT,
}
use Arg::{I, N, NT, T};

fn t(s: &str) -> Arg {
    T(s.to_owned())
}

fn opt(v: Option<i64>) -> Arg {
    v.map_or(N, I)
}

#[allow(clippy::too_many_arguments)]
/// A queue call: started, answered after `wait` s (None: abandoned after `abandon` s), talked `talk` s.
async fn queue_call(
    w: &World,
    tenant: &str,
    id: &str,
    queue: &str,
    caller: &str,
    agent: Option<&str>,
    start: i64,
    wait: Option<i64>,
    talk_or_abandon: i64,
) {
    let answered = wait.map(|s| start + s * S);
    let ended = answered.map_or(start + talk_or_abandon * S, |a| a + talk_or_abandon * S);
    w.exec(
        "INSERT INTO calls (id, tenant_id, direction, caller, callee, target, agent_user_id, queue,
           sip_call_id_a, started_at, answered_at, ended_at, state)
         VALUES ($1, $2, 'inbound', $3, '4000', $4, $5, $6, $7, $8, $9, $10, 'ended')",
        vec![
            t(id),
            t(tenant),
            t(caller),
            T(format!("queue:{queue}")),
            agent.map_or(NT, t),
            t(queue),
            T(format!("sip-{id}")),
            I(start),
            opt(answered),
            I(ended),
        ],
    )
    .await;
}

#[allow(clippy::too_many_arguments)]
async fn task(
    w: &World,
    id: &str,
    campaign: &str,
    state: &str,
    key: bool,
    zone: &str,
    trigger: i64,
    done: Option<i64>,
) {
    w.exec(
        "INSERT INTO tasks (id, tenant_id, kind, campaign_id, state, trigger_at, due_at, numbers,
           key_customer, time_zone, done_at, created_at, updated_at)
         VALUES ($1, 'acme', 'campaign', $2, $3, $4, $5, '[]', $6, $7, $8, $4, $4)",
        vec![
            t(id),
            t(campaign),
            t(state),
            I(trigger),
            I(trigger + 72 * H),
            I(i64::from(key)),
            t(zone),
            opt(done),
        ],
    )
    .await;
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    w: &World,
    id: &str,
    task: &str,
    campaign: &str,
    agent: &str,
    result: &str,
    effective: bool,
    satisfaction: Option<&str>,
    note: &str,
    booked: Option<i64>,
    at: i64,
) {
    w.exec(
        "INSERT INTO task_attempts (id, tenant_id, task_id, campaign_id, agent_id, number, result,
           reached, effective, satisfaction, note, booked_at, at)
         VALUES ($1, 'acme', $2, $3, $4, '+8613800000001', $5, $6, $7, $8, $9, $10, $11)",
        vec![
            t(id),
            t(task),
            t(campaign),
            t(agent),
            t(result),
            I(i64::from(result == "answered")),
            I(i64::from(effective)),
            satisfaction.map_or(NT, t),
            t(note),
            opt(booked),
            I(at),
        ],
    )
    .await;
}

async fn fixture(w: &World) -> [String; 3] {
    let (a1, a2, sup) = (w.id("agent"), w.id("agent2"), w.id("supervisor"));
    // Queues with their own service-level thresholds: sales T = 20 s, support T = 30 s.
    w.post(
        "admin",
        "/queues",
        json!({"id": "sales", "name": "Sales", "number": "4000", "config": {"service_level_threshold": 20}}),
    )
    .await;
    w.post(
        "admin",
        "/queues",
        json!({"id": "support", "name": "Support", "number": "4001", "config": {"service_level_threshold": 30}}),
    )
    .await;
    let mut customers = Vec::new();
    for n in 1..=3 {
        let c = w
            .post(
                "admin",
                "/customers",
                json!({"name": format!("客户{n}"), "phones": [{"phone": format!("+861380000000{n}")}]}),
            )
            .await;
        customers.push(c["id"].as_str().unwrap().to_owned());
    }
    let k = |n: usize| format!("+861380000000{n}");

    // Queue calls (started, wait → answered, talk; or abandoned after a wait).
    queue_call(
        w,
        "acme",
        "c1",
        "sales",
        &k(1),
        Some(&a1),
        sh(12, 3, 10, 0),
        Some(15),
        300,
    )
    .await;
    queue_call(
        w,
        "acme",
        "c2",
        "sales",
        &k(2),
        Some(&a1),
        sh(12, 3, 11, 0),
        Some(25),
        120,
    )
    .await;
    queue_call(
        w,
        "acme",
        "c3",
        "sales",
        &k(2),
        None,
        sh(12, 10, 9, 0),
        None,
        40,
    )
    .await;
    queue_call(
        w,
        "acme",
        "c4",
        "sales",
        &k(3),
        Some(&a2),
        sh(12, 20, 15, 0),
        Some(5),
        180,
    )
    .await;
    // 30 November 20:00 local: in the week of 3 December (Mon 30 Nov - Sun 6 Dec), not in December.
    queue_call(
        w,
        "acme",
        "c5",
        "sales",
        &k(3),
        Some(&a1),
        sh(11, 30, 20, 0),
        Some(10),
        60,
    )
    .await;
    queue_call(
        w,
        "acme",
        "c6",
        "support",
        &k(1),
        Some(&a2),
        sh(12, 5, 14, 0),
        Some(25),
        60,
    )
    .await;
    queue_call(
        w,
        "acme",
        "c7",
        "support",
        &k(1),
        None,
        sh(12, 5, 14, 10),
        None,
        10,
    )
    .await;
    // Another tenant's call in a queue of the same name: never in acme's report.
    queue_call(
        w,
        "globex",
        "g1",
        "sales",
        &k(1),
        None,
        sh(12, 3, 10, 0),
        Some(1),
        10,
    )
    .await;

    // Orders credited to agents: O1 (a1, K1, paid 8 Dec, 500.00), O2 (a2, K3, paid 21 Dec,
    // 300.00); O3 placed only and O4 paid in January are not December's.
    for (id, cust, agent, state, paid, amount) in [
        (
            "o1",
            &customers[0],
            &a1,
            "paid",
            Some(sh(12, 8, 10, 0)),
            50_000,
        ),
        (
            "o2",
            &customers[2],
            &a2,
            "paid",
            Some(sh(12, 21, 10, 0)),
            30_000,
        ),
        ("o3", &customers[1], &a1, "placed", None, 10_000),
        (
            "o4",
            &customers[1],
            &a1,
            "paid",
            Some(sh(1, 2, 10, 0)),
            70_000,
        ),
    ] {
        w.exec(
            "INSERT INTO orders (id, tenant_id, customer_id, amount_minor, currency, state, agent_id,
               placed_at, paid_at, created_at, updated_at)
             VALUES ($1, 'acme', $2, $3, 'CNY', $4, $5, $6, $7, $6, $6)",
            vec![
                t(id),
                t(cust),
                I(amount),
                t(state),
                t(agent),
                I(sh(12, 1, 9, 0)),
                opt(paid),
            ],
        )
        .await;
    }

    // Visits: a1 12 attended from the call-back list + 3 from other lists (plus a no-show and
    // one in January, not counted); a2 16 from the call-back list.
    let mut visits: Vec<(&str, &str, &String, i64)> = Vec::new();
    for d in 1..=12 {
        visits.push(("attended", "call_back", &a1, sh(12, d, 15, 0)));
    }
    for d in 13..=15 {
        visits.push(("attended", "other", &a1, sh(12, d, 15, 0)));
    }
    visits.push(("no_show", "call_back", &a1, sh(12, 16, 15, 0)));
    visits.push(("attended", "call_back", &a1, sh(1, 3, 15, 0)));
    for d in 1..=16 {
        visits.push(("attended", "call_back", &a2, sh(12, d, 16, 0)));
    }
    for (i, (state, source, agent, at)) in visits.into_iter().enumerate() {
        w.exec(
            "INSERT INTO visits (id, tenant_id, customer_id, state, scheduled_at, source, invited_by,
               created_at, updated_at)
             VALUES ($1, 'acme', $2, $3, $4, $5, $6, $4, $4)",
            vec![
                T(format!("v{i}")),
                t(&customers[0]),
                t(state),
                I(at),
                t(source),
                t(agent),
            ],
        )
        .await;
    }

    // Campaigns: A with the service rules' rest time (12:00-14:00, 21:00-09:00, customer's
    // zone), Q (the quota calls) with no rest time.
    for (id, name, rest) in [
        ("camp-a", "售后回访", json!(["12:00-14:00", "21:00-09:00"])),
        ("camp-q", "Quota calls", json!([])),
    ] {
        w.exec(
            "INSERT INTO campaigns (id, tenant_id, name, kind, state, starts_at, ends_at, calling,
               created_at, updated_at)
             VALUES ($1, 'acme', $2, 'service_follow_up', 'running', $3, $4, $5, $3, $3)",
            vec![
                t(id),
                t(name),
                I(sh(11, 1, 0, 0)),
                I(sh(1, 31, 0, 0)),
                T(json!({"rest": rest, "holidays": []}).to_string()),
            ],
        )
        .await;
    }
    let (sha, nyc) = ("Asia/Shanghai", "America/New_York");
    // Campaign A's tasks (trigger, done) and attempts, made by the supervisor (so they are not
    // in any agent's quota).
    task(
        w,
        "t0",
        "camp-a",
        "done",
        false,
        sha,
        sh(11, 25, 10, 0),
        Some(sh(12, 1, 10, 0)),
    )
    .await;
    task(
        w,
        "t1",
        "camp-a",
        "done",
        true,
        sha,
        sh(12, 1, 10, 0),
        Some(sh(12, 2, 10, 0)),
    )
    .await;
    task(w, "t2", "camp-a", "open", true, sha, sh(12, 2, 10, 0), None).await;
    task(
        w,
        "t3",
        "camp-a",
        "done",
        false,
        nyc,
        sh(12, 3, 10, 0),
        Some(sh(12, 4, 9, 0)),
    )
    .await;
    task(
        w,
        "t4",
        "camp-a",
        "done",
        false,
        nyc,
        sh(12, 10, 10, 0),
        Some(sh(12, 15, 9, 30)),
    )
    .await;
    task(
        w,
        "t5",
        "camp-a",
        "done",
        true,
        sha,
        sh(12, 28, 10, 0),
        Some(sh(12, 28, 15, 0)),
    )
    .await;
    task(
        w,
        "t6",
        "camp-a",
        "cancelled",
        true,
        sha,
        sh(12, 5, 10, 0),
        None,
    )
    .await;
    let ans = "answered";
    attempt(
        w,
        "a0",
        "t0",
        "camp-a",
        &sup,
        ans,
        true,
        Some("satisfied"),
        "ok",
        None,
        sh(12, 1, 10, 0),
    )
    .await;
    attempt(
        w,
        "a1",
        "t1",
        "camp-a",
        &sup,
        ans,
        true,
        Some("satisfied"),
        "满意",
        None,
        sh(12, 2, 10, 0),
    )
    .await;
    // 12:30 in Shanghai: rest time.
    attempt(
        w,
        "a2",
        "t2",
        "camp-a",
        &sup,
        "no_answer",
        false,
        None,
        "",
        None,
        sh(12, 2, 12, 30),
    )
    .await;
    // 4 Dec 09:00 Shanghai = 3 Dec 20:00 New York: allowed; no satisfaction: incomplete.
    attempt(
        w,
        "a3",
        "t3",
        "camp-a",
        &sup,
        ans,
        true,
        None,
        "x",
        None,
        sh(12, 4, 9, 0),
    )
    .await;
    // 11 Dec 11:00 Shanghai = 10 Dec 22:00 New York: rest time; the customer books 15 Dec 09:30.
    let booked = sh(12, 15, 9, 30);
    attempt(
        w,
        "a4a",
        "t4",
        "camp-a",
        &sup,
        "call_back_later",
        false,
        None,
        "",
        Some(booked),
        sh(12, 11, 11, 0),
    )
    .await;
    // 15 Dec 09:30 Shanghai = 14 Dec 20:30 New York: allowed; no note: incomplete.
    attempt(
        w,
        "a4b",
        "t4",
        "camp-a",
        &sup,
        ans,
        true,
        Some("neutral"),
        "",
        None,
        booked,
    )
    .await;
    attempt(
        w,
        "a5",
        "t5",
        "camp-a",
        &sup,
        ans,
        true,
        Some("satisfied"),
        "done",
        None,
        sh(12, 28, 15, 0),
    )
    .await;

    // Quota calls (campaign Q, tasks triggered in November): a1 85 effective on 7 Dec and 85
    // on 8 Dec, 10 unanswered on 7 Dec; a2 120 effective on 9 Dec. 10:00 Shanghai = 02:00 UTC,
    // so each local day is one UTC day (days worked count UTC days).
    task(
        w,
        "tq1",
        "camp-q",
        "open",
        false,
        sha,
        sh(11, 20, 10, 0),
        None,
    )
    .await;
    task(
        w,
        "tq2",
        "camp-q",
        "open",
        false,
        sha,
        sh(11, 20, 10, 0),
        None,
    )
    .await;
    let mut n = 0;
    let mut quota_call = |agent: &str, task: &'static str, day: u32, result: &'static str| {
        n += 1;
        (format!("q{n}"), agent.to_owned(), task, day, result)
    };
    let mut calls = Vec::new();
    for _ in 0..85 {
        calls.push(quota_call(&a1, "tq1", 7, ans));
        calls.push(quota_call(&a1, "tq1", 8, ans));
    }
    for _ in 0..10 {
        calls.push(quota_call(&a1, "tq1", 7, "no_answer"));
    }
    for _ in 0..120 {
        calls.push(quota_call(&a2, "tq2", 9, ans));
    }
    for (id, agent, task, day, result) in calls {
        let answered = result == ans;
        attempt(
            w,
            &id,
            task,
            "camp-q",
            &agent,
            result,
            answered,
            answered.then_some("satisfied"),
            if answered { "ok" } else { "" },
            None,
            sh(12, day, 10, 0),
        )
        .await;
    }

    // Tickets created in December (and one in November, not counted): created, reply due
    // (+12 h), first response, resolved, escalation rung, state.
    let day = |d: u32| sh(12, d, 10, 0);
    for (id, created, first, resolved, level, state, overdue) in [
        (
            "tk1",
            day(1),
            Some(day(1) + 2 * H),
            Some(day(1) + 20 * H),
            0,
            "resolved",
            0,
        ),
        (
            "tk2",
            day(2),
            Some(day(2) + 13 * H),
            Some(day(2) + 30 * H),
            1,
            "resolved",
            1,
        ),
        ("tk3", day(3), None, None, 2, "open", 1),
        (
            "tk4",
            day(4),
            Some(day(4) + 12 * H),
            None,
            1,
            "in_progress",
            0,
        ),
        ("tk5", sh(11, 30, 10, 0), None, None, 2, "open", 1),
    ] {
        w.exec(
            "INSERT INTO tickets (id, tenant_id, subject, state, reply_due_at, escalation_level,
               first_response_at, resolved_at, overdue, created_at, updated_at)
             VALUES ($1, 'acme', '投诉', $2, $3, $4, $5, $6, $7, $8, $8)",
            vec![
                t(id),
                t(state),
                I(created + 12 * H),
                I(level),
                opt(first),
                opt(resolved),
                I(overdue),
                I(created),
            ],
        )
        .await;
    }
    [a1, a2, sup]
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}

async fn figures_match_the_hand_computed_month(store: Store) {
    let w = World::new(store).await;
    let [a1, a2, _] = fixture(&w).await;
    let month = "period=month&date=2026-12-15";

    // --- queues ---------------------------------------------------------------------------
    let q = w
        .json("supervisor", &format!("/reports/queues?{month}"))
        .await;
    assert_eq!(
        (q["label"].as_str(), q["from"].as_str(), q["to"].as_str()),
        (Some("2026-12"), Some("2026-12-01"), Some("2026-12-31"))
    );
    let rows = q["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        2,
        "sales and support; c5 (November) and globex's call left out"
    );
    let sales = &rows[0];
    assert_eq!(sales["queue"], "sales");
    // c1..c4: answered c1 (15 s), c2 (25 s), c4 (5 s); c3 abandoned after 40 s.
    assert_eq!(sales["offered"], 4);
    assert_eq!(sales["answered"], 3);
    assert_eq!(sales["abandoned"], 1);
    // Within T = 20 s: c1 and c4 → SL = 2 ÷ (3 answered + 1 abandoned) = 0.5.
    assert_eq!(sales["answered_within_threshold"], 2);
    close(&sales["service_level"], 0.5);
    // Abandon rate 1 ÷ 4.
    close(&sales["abandon_rate"], 0.25);
    // ASA (15 + 25 + 5) ÷ 3 = 15 s; AHT talk (300 + 120 + 180) ÷ 3 = 200 s; longest wait 40 s (c3).
    close(&sales["asa_secs"], 15.0);
    close(&sales["aht_secs"], 200.0);
    assert_eq!(sales["longest_wait_secs"], 40);
    let support = &rows[1];
    // c6 answered at 25 s (within its T = 30 s), c7 abandoned: SL 1 ÷ 2, abandon 1 ÷ 2.
    assert_eq!(support["threshold_secs"], 30);
    close(&support["service_level"], 0.5);
    close(&support["abandon_rate"], 0.5);
    close(&support["asa_secs"], 25.0);
    close(&support["aht_secs"], 60.0);

    // The week of 3 December is Monday 30 November to Sunday 6 December: c5, c1, c2.
    let wk = w
        .json("qa", "/reports/queues?period=week&date=2026-12-03")
        .await;
    assert_eq!(
        (wk["label"].as_str(), wk["from"].as_str(), wk["to"].as_str()),
        (Some("2026-W49"), Some("2026-11-30"), Some("2026-12-06"))
    );
    let ws = &wk["rows"][0];
    // Waits 10, 15, 25 s: two within 20 s of three → 2/3; ASA 50 ÷ 3; AHT (60 + 300 + 120) ÷ 3.
    assert_eq!(
        (ws["offered"].as_u64(), ws["abandoned"].as_u64()),
        (Some(3), Some(0))
    );
    close(&ws["service_level"], 2.0 / 3.0);
    close(&ws["asa_secs"], 50.0 / 3.0);
    close(&ws["aht_secs"], 160.0);
    // One day: 3 December holds c1 and c2 only.
    let d = w
        .json("admin", "/reports/queues?period=day&date=2026-12-03")
        .await;
    assert_eq!(d["rows"].as_array().unwrap().len(), 1);
    assert_eq!(d["rows"][0]["offered"], 2);
    close(&d["rows"][0]["service_level"], 0.5);
    close(&d["rows"][0]["abandon_rate"], 0.0);

    // --- agents ---------------------------------------------------------------------------
    let ag = w
        .json("supervisor", &format!("/reports/agents?{month}"))
        .await;
    let row = |id: &str| {
        ag["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["agent_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {id}: {ag}"))
    };
    let r1 = row(&a1);
    // Served: K1 (c1), K2 (c2) by calls; converted: K1 (o1 paid 8 Dec) → 2, 1, 0.5.
    assert_eq!(
        (r1["served"].as_u64(), r1["converted"].as_u64()),
        (Some(2), Some(1))
    );
    close(&r1["conversion_rate"], 0.5);
    // 85 + 85 effective calls on 2 days (the 10 unanswered are not effective).
    assert_eq!(r1["effective_calls"], 170);
    assert_eq!(r1["days_worked"], 2);
    // Quota for those days: 100 a day × 2.
    assert_eq!(r1["effective_calls_quota"], 200);
    assert_eq!(
        (r1["callback_visits"].as_u64(), r1["other_visits"].as_u64()),
        (Some(12), Some(3))
    );
    // Only o1 is paid in December: 500.00.
    assert_eq!(r1["revenue_minor"], 50_000);
    // Deductions: 85 a day (80-99) → −5 %; 12 call-back visits (10-14) → −5 %; total 10 %.
    assert_eq!(r1["deduction_pct"], 10);
    let r2 = row(&a2);
    // Served: K3 (c4), K1 (c6); converted K3 (o2) → 2, 1.
    assert_eq!(
        (r2["served"].as_u64(), r2["converted"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (r2["effective_calls"].as_u64(), r2["days_worked"].as_u64()),
        (Some(120), Some(1))
    );
    assert_eq!(r2["effective_calls_quota"], 100);
    assert_eq!(r2["callback_visits"], 16);
    assert_eq!(r2["revenue_minor"], 30_000);
    // 120 a day and 16 call-back visits: no deduction.
    assert_eq!(r2["deduction_pct"], 0);
    // A day report has no monthly deduction.
    let day_ag = w
        .json("supervisor", "/reports/agents?period=day&date=2026-12-07")
        .await;
    let d1 = day_ag["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agent_id"] == a1.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (
            d1["effective_calls"].as_u64(),
            d1["deduction_pct"].is_null()
        ),
        (Some(85), true)
    );

    // --- campaigns ------------------------------------------------------------------------
    let cp = w
        .json("supervisor", &format!("/reports/campaigns?{month}"))
        .await;
    let rows = cp["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let a = &rows[0];
    assert_eq!(
        (a["campaign_id"].as_str(), a["name"].as_str()),
        (Some("camp-a"), Some("售后回访"))
    );
    // Attempts in December: a0, a1, a2, a3, a4a, a4b, a5.
    assert_eq!(a["attempts"], 7);
    // a2 (12:30 Shanghai) and a4a (22:00 New York) fall in the rest time.
    assert_eq!(a["rest_time_violations"], 2);
    // Key customers triggered in December: t1, t2, t5 (t6 cancelled); done t1, t5 → 2/3.
    assert_eq!(
        (
            a["key_customers"].as_u64(),
            a["key_customers_done"].as_u64()
        ),
        (Some(3), Some(2))
    );
    close(&a["key_customer_coverage"], 2.0 / 3.0);
    // Answered: a0, a1, a3, a4b, a5; complete (satisfaction and note): a0, a1, a5 → 3/5.
    assert_eq!(
        (
            a["answered_attempts"].as_u64(),
            a["complete_records"].as_u64()
        ),
        (Some(5), Some(3))
    );
    close(&a["record_completeness"], 0.6);
    // Due: t1, t2 (open past 3 days), t3, t4, t5; on time: t1 (1 day), t3 (23 h), t4 (at the
    // booked time), t5 (5 h) → 4/5.
    assert_eq!(
        (a["tasks_due"].as_u64(), a["tasks_on_time"].as_u64()),
        (Some(5), Some(4))
    );
    close(&a["within_3_days_rate"], 0.8);
    let qc = &rows[1];
    // 85 + 85 + 10 + 120 attempts, none in rest (no rest time), 290 answered all complete,
    // no task triggered in December.
    assert_eq!(qc["attempts"], 300);
    assert_eq!(qc["rest_time_violations"], 0);
    close(&qc["record_completeness"], 1.0);
    assert!(qc["within_3_days_rate"].is_null() && qc["key_customer_coverage"].is_null());

    // --- tickets --------------------------------------------------------------------------
    let tk = w
        .json("supervisor", &format!("/reports/tickets?{month}"))
        .await;
    let r = &tk["rows"][0];
    // tk1-tk4 (tk5 is November's).
    assert_eq!(r["created"], 4);
    // Reply within 12 h: tk1 (2 h), tk4 (exactly 12 h); late: tk2 (13 h), tk3 (never) → 1/2.
    assert_eq!(
        (r["replied_in_time"].as_u64(), r["reply_late"].as_u64()),
        (Some(2), Some(2))
    );
    close(&r["reply_sla"], 0.5);
    // Resolved within 24 h: tk1 (20 h); late: tk2 (30 h), tk3 and tk4 (open past 24 h) → 1/4.
    assert_eq!(
        (r["resolved"].as_u64(), r["resolved_in_time"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(r["resolution_late"], 3);
    close(&r["resolution_sla"], 0.25);
    assert_eq!(r["escalated"], 3);

    // --- CSV --------------------------------------------------------------------------------
    let (status, body) = w
        .get("supervisor", &format!("/reports/queues?{month}&format=csv"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "queue,offered,answered,answered_within_threshold,abandoned,threshold_secs,service_level,abandon_rate,asa_secs,aht_secs,longest_wait_secs"
    );
    assert_eq!(lines[1], "sales,4,3,2,1,20,0.5,0.25,15.0,200.0,40");
    assert_eq!(lines.len(), 3);

    // --- the wallboard's overdue tickets now: tk3 and tk5 (open, escalated), tk4 (in
    // progress, escalated); tk1 and tk2 are resolved. Both campaigns are running.
    let wb = w.json("supervisor", "/wallboard").await;
    assert_eq!(wb["overdue_tickets"], 3);
    assert_eq!(wb["campaigns"].as_array().unwrap().len(), 2);
}

async fn reports_and_the_wallboard_refuse_the_wrong_roles_and_input(store: Store) {
    let w = World::new(store).await;
    for path in [
        "/reports/agents",
        "/reports/queues",
        "/reports/campaigns",
        "/reports/tickets",
    ] {
        for (who, want) in [
            ("admin", StatusCode::OK),
            ("supervisor", StatusCode::OK),
            ("qa", StatusCode::OK),
            ("agent", StatusCode::FORBIDDEN),
            ("integrator", StatusCode::FORBIDDEN),
        ] {
            assert_eq!(w.get(who, path).await.0, want, "{who} {path}");
        }
    }
    for (who, want) in [
        ("admin", StatusCode::OK),
        ("supervisor", StatusCode::OK),
        ("qa", StatusCode::FORBIDDEN),
        ("agent", StatusCode::FORBIDDEN),
    ] {
        assert_eq!(w.get(who, "/wallboard").await.0, want, "{who}");
        assert_eq!(
            w.get(who, "/wallboard/events?once=true").await.0,
            want,
            "{who} events"
        );
    }
    for (path, field) in [
        ("/reports/agents?period=year", "period"),
        ("/reports/queues?date=2026-13-01", "date"),
        ("/reports/tickets?format=xml", "format"),
    ] {
        let (status, body) = w.get("supervisor", path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["field"], field, "{path}");
    }
    // The stream with once=true: one `board` event, then the end.
    let (status, body) = w.get("supervisor", "/wallboard/events?once=true").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with("event: board\ndata: {"), "{text}");
    assert_eq!(text.matches("event: board").count(), 1);
}

/// The next `event: board` of an SSE body, as JSON (at most 5 s).
async fn next_board(body: &mut axum::body::Body, buffer: &mut String) -> Value {
    use http_body_util::BodyExt;
    loop {
        if let Some(cut) = buffer.find("\n\n") {
            let block: String = buffer.drain(..cut + 2).collect();
            if let Some(data) = block.strip_prefix("event: board\ndata: ") {
                return serde_json::from_str(data.trim_end()).unwrap();
            }
            continue; // a keep-alive comment
        }
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("a board within 5 s")
            .expect("the stream is open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            buffer.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
}

async fn the_wallboard_pushes_every_change_of_the_floor(store: Store) {
    use switchboard_crm::live::FloorChanges;
    use tower::ServiceExt;
    let people = People::seed(&store).await;
    let a1 = people.ids["agent"].to_string();
    // A call control whose floor the test sets, and its change signal.
    let floor = FloorChanges::new();
    let figures = Arc::new(std::sync::Mutex::new(json!({"queues": [], "agents": [
        {"agent": a1, "status": {"status": "ready"}, "since": 1_000, "call": null}
    ]})));
    let (live, mut rx) = live_channel(16);
    let shared = figures.clone();
    tokio::spawn(async move {
        while let Some((_, reply)) = rx.recv().await {
            let now = shared.lock().unwrap().clone();
            let _ = reply.send(Ok(LiveReply::Json(now)));
        }
    });
    let state = support::acme_state(&store).with_live(live.with_floor(floor.clone()));
    let app = Router::new().nest("/api/v1", router(state));
    let request = axum::http::Request::get("/api/v1/wallboard/events")
        .header(
            "Authorization",
            format!("Bearer {}", people.tokens["supervisor"]),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut buffer = String::new();
    let first = next_board(&mut body, &mut buffer).await;
    assert_eq!(first["agents"][0]["status"], "ready");
    assert_eq!(first["agents"][0]["name"], "agent");

    // The agent's phone rings: the call control signals, the stream sends, unasked.
    *figures.lock().unwrap() = json!({"queues": [], "agents": [
        {"agent": a1, "status": {"status": "ringing"}, "since": 2_000, "call": "c1"}
    ]});
    floor.notify();
    let ringing = next_board(&mut body, &mut buffer).await;
    assert_eq!(ringing["agents"][0]["status"], "ringing");
    assert_eq!(ringing["agents"][0]["call"], "c1");

    // A burst of 50 changes in a few milliseconds is coalesced: the last state arrives, in far
    // fewer boards than changes.
    let started = std::time::Instant::now();
    for n in 0..50 {
        *figures.lock().unwrap() = json!({"queues": [], "agents": [
            {"agent": a1, "status": {"status": "on_call"}, "since": 3_000 + n, "call": "c1"}
        ]});
        floor.notify();
    }
    let mut boards = 0;
    loop {
        let b = next_board(&mut body, &mut buffer).await;
        boards += 1;
        if b["agents"][0]["since"] == 3_049 {
            break;
        }
    }
    assert_eq!(figures.lock().unwrap()["agents"][0]["since"], 3_049);
    let secs = started.elapsed().as_secs_f64();
    assert!(
        f64::from(boards) <= 10.0 * secs + 2.0,
        "{boards} boards in {secs:.2} s for 50 changes"
    );
}

both_engines!(
    figures_match_the_hand_computed_month,
    reports_and_the_wallboard_refuse_the_wrong_roles_and_input,
    the_wallboard_pushes_every_change_of_the_floor
);
