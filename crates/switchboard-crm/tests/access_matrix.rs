//! Acceptance (issue 8, item 2): the role and tenant matrix of EVERY operation in the OpenAPI
//! document, through the real router, on SQLite and PostgreSQL.
//!
//! The table below has one line per operation: who may call it, the status those callers get,
//! and the object (created in tenant `acme` for each attempt) its path names. The test walks the
//! document, so an operation added there without a line here fails with its name. For each:
//! - every role of `acme` that is allowed gets the status of its line, every other one 403;
//! - every token of `globex` (each role and an API key) gets 404 or 403 when the path names an
//!   `acme` object, never sees an `acme` id in any answer, and leaves `acme`'s data as it was;
//! - no token gets 401.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_core::{CallId, TaskId, TenantId, UserId};
use switchboard_crm::live::{LiveCommand, LiveHandle, LiveReply, live_channel};
use switchboard_crm::router;
use switchboard_store::Store;
use switchboard_store::calls::{self, CallEnd, Direction, HangupBy, NewCall};
use switchboard_store::recordings::{self, NewRecording, RecordingState};
use switchboard_store::sip::{self, NewSipCredential};
use switchboard_store::tasks::{self, NewTask, TaskOwner};

mod support;
use support::{People, send, ts};

const ADM: u8 = 1;
const SUP: u8 = 2;
const AGT: u8 = 4;
const QA: u8 = 8;
const INT: u8 = 16;
const ALL: u8 = ADM | SUP | AGT | QA | INT;

/// What an attempt's path names, created in `acme` before the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fx {
    /// Nothing: the path names no object.
    None,
    Customer,
    Call,
    Recording,
    /// A recording scored by `acme`'s admin.
    ScoredRecording,
    Queue,
    /// A queue with `acme`'s agent as a member.
    Member,
    /// An open call-back task owned by the caller (or by `acme`'s agent).
    Task,
    /// A task claimed by the caller (or by `acme`'s agent).
    ClaimedTask,
    Ticket,
    /// A ticket taken by the caller (or by `acme`'s agent).
    TakenTicket,
    ResolvedTicket,
    /// Followed up and judged: ready to close.
    FollowedUpTicket,
    Webhook,
    /// A placed order on a new customer.
    Order,
    /// A booked visit on a new customer.
    Visit,
    /// A hand-over with one item.
    Handover,
    /// A customer CSV import.
    Import,
    /// A draft campaign (assigned to `acme`'s agent, targeting no customer).
    Campaign,
    /// The same, started.
    RunningCampaign,
    /// A campaign task claimed by the caller (or by `acme`'s agent).
    CampaignTask,
}

/// One line of the table.
struct Op {
    method: &'static str,
    /// The documented path, `{id}` and `{user_id}` filled in; may end in a query string.
    path: &'static str,
    allowed: u8,
    /// What an allowed caller of `acme` gets.
    ok: u16,
    fixture: Fx,
    /// A valid body; `{n}` becomes a number unique to the attempt.
    body: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
}

const fn op(
    method: &'static str,
    path: &'static str,
    allowed: u8,
    ok: u16,
    fixture: Fx,
    body: Option<&'static str>,
) -> Op {
    Op {
        method,
        path,
        allowed,
        ok,
        fixture,
        body,
        headers: &[],
    }
}

const ANY_VERSION: &[(&str, &str)] = &[("If-Match", "*")];
const CSV: &[(&str, &str)] = &[("Content-Type", "text/csv")];

#[rustfmt::skip]
const TABLE: &[Op] = &[
    op("POST", "/auth/login", ALL, 401, Fx::None, Some(r#"{"username":"nobody{n}","password":"wrong password"}"#)),
    op("GET", "/me", ALL, 200, Fx::None, None),
    op("GET", "/me/softphone", SUP | AGT, 200, Fx::None, None),
    op("GET", "/users", ADM | SUP, 200, Fx::None, None),
    op("POST", "/users", ADM, 201, Fx::None, Some(r#"{"username":"user{n}","role":"agent"}"#)),
    op("GET", "/audit", ADM, 200, Fx::None, None),
    op("GET", "/registrations", ADM | SUP, 200, Fx::None, None),
    op("POST", "/api-keys", ADM, 201, Fx::None, Some(r#"{"label":"erp {n}"}"#)),
    op("POST", "/customers", ADM | SUP | INT, 201, Fx::None, Some(r#"{"name":"客户{n}","phones":[{"phone":"+86139000{n}"}]}"#)),
    op("GET", "/customers", ALL, 200, Fx::None, None),
    op("GET", "/customers/lookup?phone=%2B8613800000001", ALL, 200, Fx::None, None),
    op("GET", "/customers/{id}", ALL, 200, Fx::Customer, None),
    Op { headers: ANY_VERSION, ..op("PATCH", "/customers/{id}", ADM | SUP | INT, 200, Fx::Customer, Some(r#"{"grade":"B"}"#)) },
    op("DELETE", "/customers/{id}", ADM | SUP, 204, Fx::Customer, None),
    op("GET", "/customers/{id}/notes", ALL, 200, Fx::Customer, None),
    op("POST", "/customers/{id}/notes", ADM | SUP | AGT, 201, Fx::Customer, Some(r#"{"text":"called back"}"#)),
    op("POST", "/notes", ADM | SUP | AGT, 201, Fx::None, Some(r#"{"phone":"+86137000{n}","text":"asked for a catalogue"}"#)),
    op("GET", "/calls", ALL, 200, Fx::None, None),
    op("GET", "/calls/{id}", ALL, 200, Fx::Call, None),
    op("POST", "/calls/{id}/recording/pause", ADM | SUP | AGT, 204, Fx::Call, None),
    op("POST", "/calls/{id}/recording/resume", ADM | SUP | AGT, 204, Fx::Call, None),
    op("POST", "/calls/{id}/hangup", ADM | SUP, 204, Fx::Call, None),
    op("PUT", "/agents/me/state", SUP | AGT, 204, Fx::None, Some(r#"{"state":"ready"}"#)),
    op("GET", "/queues/live", ADM | SUP | QA | AGT, 200, Fx::None, None),
    op("GET", "/dialer/preview", SUP | AGT, 204, Fx::None, None),
    op("POST", "/dialer/preview/dial", SUP | AGT, 204, Fx::None, None),
    op("POST", "/dialer/preview/skip", SUP | AGT, 204, Fx::None, None),
    op("GET", "/recordings", ADM | SUP | QA | INT, 200, Fx::None, None),
    op("GET", "/recordings/{id}", ALL, 200, Fx::Recording, None),
    op("GET", "/recordings/{id}/audio", ADM | SUP | QA, 200, Fx::Recording, None),
    op("GET", "/recordings/{id}/peaks", ADM | SUP | QA, 200, Fx::Recording, None),
    op("GET", "/qa/recordings", ADM | SUP | QA, 200, Fx::None, None),
    op("GET", "/recordings/{id}/comments", ADM | SUP | QA, 200, Fx::Recording, None),
    op("POST", "/recordings/{id}/comments", ADM | SUP | QA, 201, Fx::Recording, Some(r#"{"at_ms":500,"text":"greeting {n}"}"#)),
    op("GET", "/recordings/{id}/score", ADM | SUP | QA, 200, Fx::ScoredRecording, None),
    op("PUT", "/recordings/{id}/score", ADM | SUP | QA, 200, Fx::Recording, Some(SCORE)),
    op("GET", "/qa/scorecard", ADM | SUP | QA, 200, Fx::None, None),
    // The same card as the default (the seeds'), so the scores above and below stay valid.
    op("PUT", "/qa/scorecard", ADM | SUP, 200, Fx::None, Some(CARD)),
    op("GET", "/qa/retention", ADM, 200, Fx::None, None),
    op("PUT", "/qa/retention", ADM, 200, Fx::None, Some(r#"{"recording_days":90}"#)),
    op("GET", "/queues", ADM | SUP | QA | AGT, 200, Fx::None, None),
    op("POST", "/queues", ADM | SUP, 201, Fx::None, Some(r#"{"id":"q{n}","name":"售后 {n}"}"#)),
    op("GET", "/queues/{id}", ADM | SUP | QA | AGT, 200, Fx::Queue, None),
    op("PATCH", "/queues/{id}", ADM | SUP, 200, Fx::Queue, Some(r#"{"name":"renamed"}"#)),
    op("DELETE", "/queues/{id}", ADM | SUP, 204, Fx::Queue, None),
    op("GET", "/queues/{id}/members", ADM | SUP | QA | AGT, 200, Fx::Member, None),
    op("PUT", "/queues/{id}/members/{user_id}", ADM | SUP, 200, Fx::Queue, Some(r#"{"level":3}"#)),
    op("DELETE", "/queues/{id}/members/{user_id}", ADM | SUP, 204, Fx::Member, None),
    op("GET", "/agents/{user_id}/states", ADM | SUP | QA | AGT, 200, Fx::None, None),
    op("GET", "/tasks", ADM | SUP | QA | AGT, 200, Fx::None, None),
    op("GET", "/tasks/{id}", ADM | SUP | QA | AGT, 200, Fx::Task, None),
    op("POST", "/tasks/{id}/claim", SUP | AGT, 200, Fx::Task, None),
    op("POST", "/tasks/{id}/complete", SUP | AGT, 200, Fx::ClaimedTask, Some(r#"{"result":"reached"}"#)),
    op("POST", "/tasks/{id}/cancel", ADM | SUP, 200, Fx::Task, Some(r#"{"note":"customer called in"}"#)),
    op("POST", "/tickets", ADM | SUP | AGT | INT, 201, Fx::None, Some(r#"{"subject":"快递延误 {n}","emotion":"angry"}"#)),
    op("GET", "/tickets", ALL, 200, Fx::None, None),
    op("GET", "/tickets/{id}", ALL, 200, Fx::Ticket, None),
    op("PATCH", "/tickets/{id}", ADM | SUP | AGT, 200, Fx::Ticket, Some(r#"{"body":"more detail"}"#)),
    op("DELETE", "/tickets/{id}", ADM, 204, Fx::Ticket, None),
    op("GET", "/tickets/{id}/events", ALL, 200, Fx::Ticket, None),
    op("POST", "/tickets/{id}/take", ADM | SUP | AGT, 200, Fx::Ticket, None),
    op("POST", "/tickets/{id}/resolve", ADM | SUP | AGT, 200, Fx::TakenTicket, Some(r#"{"note":"refunded"}"#)),
    op("POST", "/tickets/{id}/follow-up", ADM | SUP | AGT, 200, Fx::ResolvedTicket, None),
    op("POST", "/tickets/{id}/close", ADM | SUP | AGT, 200, Fx::FollowedUpTicket, None),
    op("POST", "/tickets/{id}/judge", ADM | SUP, 200, Fx::Ticket, Some(r#"{"stands":true,"responsible_team":"物流"}"#)),
    op("GET", "/webhooks", ADM, 200, Fx::None, None),
    op("POST", "/webhooks", ADM, 201, Fx::None, Some(r#"{"url":"http://127.0.0.1:9/hook{n}","event_types":["ticket.*"]}"#)),
    op("GET", "/webhooks/{id}", ADM, 200, Fx::Webhook, None),
    op("PATCH", "/webhooks/{id}", ADM, 200, Fx::Webhook, Some(r#"{"active":false}"#)),
    op("DELETE", "/webhooks/{id}", ADM, 204, Fx::Webhook, None),
    op("POST", "/customers/{id}/orders", ADM | SUP | AGT | INT, 201, Fx::Customer, Some(r#"{"amount_minor":12800,"currency":"CNY","external_ref":"T-{n}"}"#)),
    op("GET", "/customers/{id}/orders", ALL, 200, Fx::Customer, None),
    op("GET", "/orders?updated_since=0", ALL, 200, Fx::None, None),
    op("GET", "/orders/{id}", ALL, 200, Fx::Order, None),
    op("POST", "/orders/{id}/pay", ADM | SUP | INT, 200, Fx::Order, None),
    op("POST", "/orders/{id}/cancel", ADM | SUP | INT, 200, Fx::Order, None),
    op("POST", "/customers/{id}/visits", ADM | SUP | AGT | INT, 201, Fx::Customer, Some(r#"{"scheduled_at":"2027-01-18T02:00:00Z","source":"call_back"}"#)),
    op("GET", "/visits", ALL, 200, Fx::None, None),
    op("POST", "/visits/{id}/attended", ADM | SUP | AGT | INT, 200, Fx::Visit, None),
    op("POST", "/visits/{id}/no-show", ADM | SUP | AGT | INT, 200, Fx::Visit, None),
    op("POST", "/visits/{id}/cancel", ADM | SUP | AGT | INT, 200, Fx::Visit, None),
    op("GET", "/shifts", ADM | SUP | AGT | QA, 200, Fx::None, None),
    op("POST", "/handovers", ADM | SUP | AGT, 201, Fx::None, Some(r#"{"shift":"day","note":"交接 {n}"}"#)),
    op("GET", "/handovers", ADM | SUP | AGT, 200, Fx::None, None),
    op("GET", "/handovers/{id}", ADM | SUP | AGT, 200, Fx::Handover, None),
    op("POST", "/handovers/{id}/read", ADM | SUP | AGT, 200, Fx::Handover, None),
    op("POST", "/handovers/{id}/items/{position}/done", ADM | SUP | AGT, 200, Fx::Handover, None),
    op("GET", "/stats/agents", ADM | SUP | AGT | QA, 200, Fx::None, None),
    Op { headers: CSV, ..op("POST", "/customers/imports", ADM | SUP | INT, 202, Fx::None, Some("name,phones\n客户{n},+86134{n}000\n")) },
    op("GET", "/customers/imports", ADM | SUP | INT, 200, Fx::None, None),
    op("GET", "/customers/imports/{id}", ADM | SUP | INT, 200, Fx::Import, None),
    op("GET", "/customers/imports/{id}/errors", ADM | SUP | INT, 200, Fx::Import, None),
    op("GET", "/campaign-templates", ALL, 200, Fx::None, None),
    op("GET", "/campaigns", ADM | SUP | QA | INT, 200, Fx::None, None),
    op("POST", "/campaigns", ADM | SUP, 201, Fx::None, Some(CAMPAIGN)),
    op("GET", "/campaigns/{id}", ADM | SUP | QA | INT, 200, Fx::Campaign, None),
    op("PATCH", "/campaigns/{id}", ADM | SUP, 200, Fx::Campaign, Some(r#"{"priority":150}"#)),
    op("DELETE", "/campaigns/{id}", ADM | SUP, 204, Fx::Campaign, None),
    op("POST", "/campaigns/{id}/start", ADM | SUP, 200, Fx::Campaign, None),
    op("POST", "/campaigns/{id}/pause", ADM | SUP, 200, Fx::RunningCampaign, None),
    op("POST", "/campaigns/{id}/stop", ADM | SUP, 200, Fx::Campaign, None),
    op("GET", "/campaigns/{id}/progress", ADM | SUP | QA | INT, 200, Fx::Campaign, None),
    op("GET", "/campaigns/{id}/tasks", ADM | SUP | QA, 200, Fx::Campaign, None),
    op("GET", "/campaigns/{id}/escalations", ADM | SUP | QA, 200, Fx::Campaign, None),
    // Before any campaign task exists: nothing to call yet.
    op("GET", "/campaign-tasks/next", SUP | AGT, 204, Fx::None, None),
    op("GET", "/campaign-tasks/{id}", ADM | SUP | QA | AGT, 200, Fx::CampaignTask, None),
    op("POST", "/campaign-tasks/{id}/outcome", SUP | AGT, 200, Fx::CampaignTask, Some(r#"{"result":"no_answer"}"#)),
    op("GET", "/quotas", ADM | SUP | AGT, 200, Fx::None, None),
    op("GET", "/reports/agents", ADM | SUP | QA, 200, Fx::None, None),
    op("GET", "/reports/queues", ADM | SUP | QA, 200, Fx::None, None),
    op("GET", "/reports/campaigns", ADM | SUP | QA, 200, Fx::None, None),
    op("GET", "/reports/tickets", ADM | SUP | QA, 200, Fx::None, None),
    op("GET", "/wallboard", ADM | SUP, 200, Fx::None, None),
    op("GET", "/wallboard/events?once=true", ADM | SUP, 200, Fx::None, None),
    // Last: it revokes the caller's token.
    op("POST", "/auth/logout", ALL, 204, Fx::None, None),
];

/// A score on the default card (the seeds').
const SCORE: &str = r#"{"values":{"phone_enquiries":80,"web_chat":80,"qq":80,"wechat":80,"visits":80,"call_backs":80,"orders":80,"script_compliance":90,"customer_records":90,"first_contact":90,"call_back_effectiveness":90,"enquiry_to_visit":90,"sales_conversion":90,"no_complaints":90,"skills":70},"banned":["差不多"]}"#;

/// A scorecard with the default card's units and weights.
const CARD: &str = r#"{"name":"card {n}","criteria":[
 {"key":"volume","name_en":"Volume","name_zh":"工作量","weight":50,"items":[
  {"key":"phone_enquiries","name_en":"Phone","name_zh":"电话咨询","weight":10},{"key":"web_chat","name_en":"Chat","name_zh":"网络咨询","weight":5},
  {"key":"qq","name_en":"QQ","name_zh":"QQ","weight":2},{"key":"wechat","name_en":"WeChat","name_zh":"微信","weight":3},
  {"key":"visits","name_en":"Visits","name_zh":"到店","weight":15},{"key":"call_backs","name_en":"Call-backs","name_zh":"回访","weight":10},
  {"key":"orders","name_en":"Orders","name_zh":"订单","weight":5}]},
 {"key":"quality","name_en":"Quality","name_zh":"质量","weight":30,"items":[
  {"key":"script_compliance","name_en":"Script","name_zh":"话术规范","weight":5},{"key":"customer_records","name_en":"Records","name_zh":"客户资料完整","weight":5},
  {"key":"first_contact","name_en":"First contact","name_zh":"首次接触有效","weight":5},{"key":"call_back_effectiveness","name_en":"Call-back","name_zh":"回访有效","weight":5},
  {"key":"enquiry_to_visit","name_en":"To visit","name_zh":"咨询到店率","weight":5},{"key":"sales_conversion","name_en":"Sales","name_zh":"销售转化","weight":3},
  {"key":"no_complaints","name_en":"No complaints","name_zh":"无投诉","weight":2}]},
 {"key":"skills","name_en":"Skills","name_zh":"技能","weight":20}],
 "banned_phrases":[{"phrase":"差不多","kind":"vague","meaning_en":"roughly"}],"banned_phrase_penalty":5}"#;

/// A campaign body; `{agent}` becomes `acme`'s agent (a user `globex` cannot name).
const CAMPAIGN: &str = r#"{"type":"promotion","starts_at":"2027-01-15T00:00:00Z","ends_at":"2027-02-15T00:00:00Z","agents":["{agent}"],"target":{"tags":["none-{n}"]}}"#;

/// The callers of each tenant: a user of every role, and an integrator API key.
const CALLERS: [(&str, u8); 6] = [
    ("admin", ADM),
    ("supervisor", SUP),
    ("agent", AGT),
    ("qa", QA),
    ("integrator", INT),
    ("apikey", INT),
];

/// What reads of `acme` show, to prove a refused request changed nothing.
const FINGERPRINT: &[&str] = &[
    "/customers?limit=1000",
    "/tickets?limit=1000",
    "/webhooks",
    "/queues",
    "/tasks?limit=1000",
    "/users",
    "/calls?limit=1000",
    "/recordings",
    "/audit?limit=1000",
    "/orders?limit=500",
    "/visits",
    "/handovers?limit=200",
    "/campaigns?limit=1000",
];

/// A stand-in for the call control that does whatever it is asked, for the caller's tenant.
fn fake_call_control() -> LiveHandle {
    let (live, mut rx) = live_channel(64);
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
    live
}

struct World {
    router: Router,
    store: Store,
    people: People,
    recordings_dir: tempfile::TempDir,
    counter: AtomicU32,
    /// Every id of an `acme` object made so far: none may show up in `globex`'s answers.
    acme_ids: std::sync::Mutex<BTreeSet<String>>,
}

struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl World {
    async fn new(store: Store) -> World {
        let dir = tempfile::tempdir().unwrap();
        write_wav(&dir.path().join("rec.wav"));
        let state = support::acme_state(&store)
            .with_recordings_root(dir.path().to_path_buf())
            .with_live(fake_call_control());
        let mut world = World {
            router: Router::new().nest("/api/v1", router(state)),
            people: People::seed(&store).await,
            store,
            recordings_dir: dir,
            counter: AtomicU32::new(10_000),
            acme_ids: Default::default(),
        };
        // acme's people who take calls have phones (for GET /me/softphone); globex's have none.
        for who in ["agent", "supervisor"] {
            let extension = if who == "agent" { "1001" } else { "1009" };
            sip::upsert_credential(
                &world.store,
                &NewSipCredential {
                    tenant_id: &TenantId::from("acme"),
                    user_id: Some(world.id(who)),
                    username: extension,
                    realm: "acme.test",
                    extension: Some(extension),
                    ha1_md5: "0",
                    ha1_sha256: "0",
                },
                ts(0),
            )
            .await
            .unwrap();
        }
        for prefix in ["", "other:"] {
            let r = world
                .call(
                    &format!("{prefix}admin"),
                    "POST",
                    "/api-keys",
                    &[],
                    Some(r#"{"label":"erp"}"#.into()),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            let token = r.json()["token"].as_str().unwrap().to_owned();
            world.people.tokens.insert(format!("{prefix}apikey"), token);
        }
        world
    }

    fn next(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn id(&self, who: &str) -> &UserId {
        &self.people.ids[who]
    }

    async fn call(
        &self,
        who: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let token = self.people.tokens.get(who).map(String::as_str);
        let (status, _, body) = send(&self.router, token, method, path, headers, body).await;
        Reply { status, body }
    }

    /// `POST path body` as `acme`'s `who`; the new object's id.
    async fn make(&self, who: &str, path: &str, body: Value) -> String {
        let r = self
            .call(who, "POST", path, &[], Some(body.to_string()))
            .await;
        assert!(r.status.is_success(), "POST {path}: {}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        self.acme_ids.lock().unwrap().insert(id.clone());
        id
    }

    /// The `acme` user an object is made for: the caller when it is an `acme` user of one of
    /// `roles`, else `acme`'s agent.
    fn actor(&self, caller: &str, roles: u8) -> String {
        let role = CALLERS
            .iter()
            .find(|(name, _)| *name == caller)
            .map_or(0, |(_, r)| *r);
        if role & roles != 0 && self.people.ids.contains_key(caller) {
            caller.to_owned()
        } else {
            "agent".to_owned()
        }
    }

    /// Creates the object an attempt by `caller` names; its id.
    async fn fixture(&self, fx: Fx, caller: &str) -> String {
        let n = self.next();
        match fx {
            Fx::None => String::new(),
            Fx::Customer => {
                self.make(
                    "admin",
                    "/customers",
                    json!({"name": format!("王{n}"), "phones": [{"phone": format!("+86136{n:08}")}]}),
                )
                .await
            }
            Fx::Queue | Fx::Member => {
                let id = self
                    .make(
                        "admin",
                        "/queues",
                        json!({"id": format!("q{n}"), "name": "sales"}),
                    )
                    .await;
                if fx == Fx::Member {
                    let path = format!("/queues/{id}/members/{}", self.id("agent"));
                    let r = self.call("admin", "PUT", &path, &[], Some("{}".into())).await;
                    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
                }
                id
            }
            Fx::Webhook => {
                self.make(
                    "admin",
                    "/webhooks",
                    json!({"url": format!("http://127.0.0.1:9/{n}")}),
                )
                .await
            }
            Fx::Import => {
                let csv = format!("name,phones\n客户{n},+86133{n:08}\nbad,12345\n");
                let r = self
                    .call("admin", "POST", "/customers/imports", CSV, Some(csv))
                    .await;
                assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
                let id = r.json()["id"].as_str().unwrap().to_owned();
                self.acme_ids.lock().unwrap().insert(id.clone());
                id
            }
            Fx::Order | Fx::Visit | Fx::Handover => {
                let customer = self
                    .make(
                        "admin",
                        "/customers",
                        json!({"name": format!("李{n}"), "phones": [{"phone": format!("+86135{n:08}")}]}),
                    )
                    .await;
                let (path, body) = match fx {
                    Fx::Order => (
                        format!("/customers/{customer}/orders"),
                        json!({"amount_minor": 100, "currency": "CNY"}),
                    ),
                    Fx::Visit => (
                        format!("/customers/{customer}/visits"),
                        json!({"scheduled_at": "2027-01-18T02:00:00Z"}),
                    ),
                    _ => (
                        "/handovers".to_owned(),
                        json!({"shift": "day", "items": [
                            {"customer_id": customer, "kind": "urgent", "what": "call back"}
                        ]}),
                    ),
                };
                self.make("admin", &path, body).await
            }
            Fx::Ticket | Fx::TakenTicket | Fx::ResolvedTicket | Fx::FollowedUpTicket => {
                let id = self
                    .make("admin", "/tickets", json!({"subject": format!("投诉 {n}")}))
                    .await;
                let owner = self.actor(caller, ADM | SUP | AGT);
                let mut steps = vec![];
                if fx != Fx::Ticket {
                    steps.push((owner.as_str(), "take", None));
                }
                if matches!(fx, Fx::ResolvedTicket | Fx::FollowedUpTicket) {
                    steps.push(("admin", "resolve", None));
                }
                if fx == Fx::FollowedUpTicket {
                    steps.push(("admin", "follow-up", None));
                    steps.push((
                        "admin",
                        "judge",
                        Some(r#"{"stands":false}"#.to_owned()),
                    ));
                }
                for (who, action, body) in steps {
                    let path = format!("/tickets/{id}/{action}");
                    let body = body.or(Some("{}".into()));
                    let r = self.call(who, "POST", &path, &[], body).await;
                    assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text());
                }
                id
            }
            Fx::Task | Fx::ClaimedTask => {
                let owner = self.actor(caller, SUP | AGT);
                let owner_id = self.id(&owner).clone();
                let tenant = TenantId::from("acme");
                let created = tasks::create_task(
                    &self.store,
                    &NewTask {
                        tenant_id: &tenant,
                        call_id: None,
                        customer_phone: "+8613800000001",
                        reason: "requested",
                        owner: &TaskOwner::Agent(owner_id.clone()),
                        due_at: ts(36 * 60),
                        note: None,
                        now: ts(0),
                    },
                )
                .await
                .unwrap();
                let id: TaskId = created.task.id;
                if fx == Fx::ClaimedTask {
                    tasks::claim_task(&self.store, &tenant, &id, &owner_id, ts(60))
                        .await
                        .unwrap();
                }
                self.acme_ids.lock().unwrap().insert(id.to_string());
                id.to_string()
            }
            Fx::Campaign | Fx::RunningCampaign => {
                let body = CAMPAIGN
                    .replace("{n}", &n.to_string())
                    .replace("{agent}", self.id("agent").as_str());
                let id = self
                    .make("admin", "/campaigns", serde_json::from_str(&body).unwrap())
                    .await;
                if fx == Fx::RunningCampaign {
                    let path = format!("/campaigns/{id}/start");
                    let r = self.call("admin", "POST", &path, &[], None).await;
                    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
                }
                id
            }
            Fx::CampaignTask => self.campaign_task(n, caller).await,
            Fx::Call | Fx::Recording | Fx::ScoredRecording => {
                let id = self.acme_call(n).await;
                if fx == Fx::Call {
                    return id;
                }
                let rec = self.recording(&id).await;
                self.acme_ids.lock().unwrap().insert(rec.clone());
                if fx == Fx::ScoredRecording {
                    let path = format!("/recordings/{rec}/score");
                    let r = self.call("admin", "PUT", &path, &[], Some(SCORE.into())).await;
                    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
                }
                rec
            }
        }
    }

    /// A task of a running campaign, claimed by the caller (or `acme`'s agent).
    async fn campaign_task(&self, n: u32, caller: &str) -> String {
        let owner = self.id(&self.actor(caller, SUP | AGT)).clone();
        let customer = self
            .make(
                "admin",
                "/customers",
                json!({"name": format!("周{n}"), "phones": [{"phone": format!("+86132{n:08}")}]}),
            )
            .await;
        let (task, campaign) =
            support::campaigns::claimed_task(&self.store, "acme", n, &owner, &customer).await;
        let mut ids = self.acme_ids.lock().unwrap();
        ids.insert(task.clone());
        ids.insert(campaign);
        task
    }

    /// A call of `acme` answered by its agent (so the agent may see it).
    async fn acme_call(&self, n: u32) -> String {
        let id = CallId::from(format!("call-{n}").as_str());
        let tenant = TenantId::from("acme");
        calls::insert_call(
            &self.store,
            &NewCall {
                id: &id,
                tenant_id: &tenant,
                direction: Direction::Inbound,
                caller: "+8613800000001",
                callee: "+862155550000",
                target: Some("queue:sales"),
                agent_user_id: None,
                queue: Some("sales"),
                campaign_id: None,
                sip_call_id_a: &format!("sip-{n}"),
                started_at: ts(0),
                node: None,
            },
        )
        .await
        .unwrap();
        let answered = ts(1);
        calls::mark_answered(
            &self.store,
            &id,
            answered,
            &format!("b-{n}"),
            Some(self.id("agent")),
        )
        .await
        .unwrap();
        calls::close_call(
            &self.store,
            &id,
            &CallEnd {
                ended_at: ts(3),
                end_cause: calls::end_cause::NORMAL_CLEARING,
                sip_status: Some(200),
                hangup_by: HangupBy::Caller,
            },
        )
        .await
        .unwrap();
        self.acme_ids.lock().unwrap().insert(id.to_string());
        id.to_string()
    }

    async fn recording(&self, call: &str) -> String {
        let tenant = TenantId::from("acme");
        let call_id = CallId::from(call);
        let rec = recordings::insert_recording(
            &self.store,
            &NewRecording {
                tenant_id: &tenant,
                call_id: &call_id,
                path: "rec.wav",
                started_at: ts(1),
                channels: 2,
                sample_rate: 8000,
                created_at: ts(1),
            },
        )
        .await
        .unwrap();
        let size = std::fs::metadata(self.recordings_dir.path().join("rec.wav"))
            .unwrap()
            .len();
        recordings::complete_recording(
            &self.store,
            &rec.id,
            1000,
            i64::try_from(size).unwrap(),
            &"ab".repeat(32),
            "[]",
            RecordingState::Complete,
        )
        .await
        .unwrap();
        rec.id
    }

    /// Everything `acme`'s admin reads; equal before and after means nothing changed.
    async fn fingerprint(&self) -> String {
        self.imports_settled().await;
        let mut out = String::new();
        for path in FINGERPRINT {
            let r = self.call("admin", "GET", path, &[], None).await;
            assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.text());
            out.push_str(&r.text());
            out.push('\n');
        }
        out
    }

    /// Waits until no customer import of `acme` is still running: imports write in the
    /// background, and a fingerprint taken while one runs would see it as a change.
    async fn imports_settled(&self) {
        for _ in 0..1000 {
            let r = self
                .call("admin", "GET", "/customers/imports?limit=200", &[], None)
                .await;
            let running = r
                .json()
                .as_array()
                .is_some_and(|list| list.iter().any(|i| i["state"] == "running"));
            if !running {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("a customer import of acme is still running after 10 s");
    }

    /// The request of `op` on `id`, made for `caller`.
    async fn attempt(&self, op: &Op, caller: &str, id: &str) -> Reply {
        let n = self.next().to_string();
        let path = op
            .path
            .replace("{id}", id)
            .replace("{user_id}", self.id("agent").as_str())
            .replace("{position}", "0");
        let body = op.body.map(|b| {
            b.replace("{n}", &n)
                .replace("{agent}", self.id("agent").as_str())
        });
        self.call(caller, op.method, &path, op.headers, body).await
    }
}

/// One second of stereo silence-free 8 kHz audio.
fn write_wav(path: &std::path::Path) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..8000_i32 {
        let v = i16::try_from(i % 1000).unwrap();
        w.write_sample(v).unwrap();
        w.write_sample(-v).unwrap();
    }
    w.finalize().unwrap();
}

/// `(METHOD, path)` of every operation the served document lists.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn table_key(op: &Op) -> (String, String) {
    let path = op.path.split('?').next().unwrap_or_default();
    (op.method.to_owned(), path.to_owned())
}

async fn every_documented_operation_admits_only_its_roles_and_tenant(store: Store) {
    let world = World::new(store).await;

    // The table covers the document, exactly.
    let doc = world.call("admin", "GET", "/openapi.json", &[], None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let documented = documented_operations(&doc.json());
    let tabled: BTreeSet<_> = TABLE.iter().map(table_key).collect();
    assert_eq!(
        tabled.len(),
        TABLE.len(),
        "an operation is in the table twice"
    );
    let missing: Vec<_> = documented.difference(&tabled).collect();
    assert!(
        missing.is_empty(),
        "documented operations without a line in the access table: {missing:?}"
    );
    let extra: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        extra.is_empty(),
        "table lines for undocumented operations: {extra:?}"
    );

    // Objects of acme that every globex answer is checked against.
    for fx in [
        Fx::Customer,
        Fx::Ticket,
        Fx::Webhook,
        Fx::Queue,
        Fx::Task,
        Fx::Recording,
    ] {
        world.fixture(fx, "admin").await;
    }

    let mut failures = Vec::new();
    for op in TABLE {
        let name = format!("{} {}", op.method, op.path);
        let names_acme_object = op.fixture != Fx::None || op.path.contains("{user_id}");
        // The roles of acme that may not are refused and change nothing.
        let shared = world.fixture(op.fixture, "admin").await;
        let before = world.fingerprint().await;
        for (caller, role) in CALLERS {
            if op.allowed & role != 0 {
                continue;
            }
            let r = world.attempt(op, caller, &shared).await;
            if r.status != StatusCode::FORBIDDEN {
                failures.push(format!(
                    "{name} as {caller}: {} (want 403) {}",
                    r.status,
                    r.text()
                ));
            }
        }
        // Tenant globex: never acme's objects, never a change to acme's data.
        for (caller, role) in CALLERS {
            let who = format!("other:{caller}");
            let r = world.attempt(op, &who, &shared).await;
            let status = r.status.as_u16();
            let ok = if op.allowed & role == 0 {
                status == 403
            } else if names_acme_object {
                status == 404 || status == 403
            } else {
                status < 500
            };
            if !ok {
                failures.push(format!("{name} as {who}: {} {}", r.status, r.text()));
            }
            let text = r.text();
            let leaked: Vec<String> = world
                .acme_ids
                .lock()
                .unwrap()
                .iter()
                // A 404 may name the id it was asked for; any other is a leak.
                .filter(|id| **id != shared && text.contains(id.as_str()))
                .cloned()
                .collect();
            if !leaked.is_empty() {
                failures.push(format!("{name} as {who} saw acme's {leaked:?}"));
            }
        }
        let after = world.fingerprint().await;
        if before != after {
            failures.push(format!("{name}: refused callers changed acme's data"));
        }
        // No token.
        let r = world.attempt(op, "nobody", &shared).await;
        if r.status != StatusCode::UNAUTHORIZED {
            failures.push(format!("{name} without a token: {} (want 401)", r.status));
        }
        // Last (logout revokes the token): the allowed roles succeed, each on its own object.
        for (caller, role) in CALLERS {
            if op.allowed & role == 0 {
                continue;
            }
            let id = world.fixture(op.fixture, caller).await;
            let r = world.attempt(op, caller, &id).await;
            if r.status.as_u16() != op.ok {
                failures.push(format!(
                    "{name} as {caller}: {} (want {}) {}",
                    r.status,
                    op.ok,
                    r.text()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

switchboard_store::both_engines!(every_documented_operation_admits_only_its_roles_and_tenant);
