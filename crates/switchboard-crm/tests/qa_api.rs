//! Issue 11 (QA) through the real `/api/v1` router, on SQLite and PostgreSQL: the QA search of
//! recordings, comments pinned to moments, scorecards and scores feeding `GET /stats/agents`,
//! the audit rows of every playback and download, only QA / supervisors / admins listening,
//! paused spans in the metadata, retention (setting and the daily job with a set clock), and
//! the `Range` edge cases of the audio (acceptance 2).

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchboard_core::{CallId, CampaignId, ManualClock, TenantId, UserId};
use switchboard_crm::{ApiSettings, ApiState, router};
use switchboard_store::Store;
use switchboard_store::calls::{self, CallEnd, Direction, HangupBy, NewCall};
use switchboard_store::recordings::{self, NewRecording, RecordingState};

mod support;
use support::{People, send, ts};

struct Api {
    router: Router,
    store: Store,
    people: People,
    root: tempfile::TempDir,
    wav: Vec<u8>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|_| {
            panic!("body is not JSON: {}", String::from_utf8_lossy(&self.bytes))
        })
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

/// Frames of the fixture WAV: two seconds at 8 kHz.
const FRAMES: u32 = 16_000;

/// A stereo WAV whose bytes differ everywhere (left a ramp, right its negation).
fn write_wav(path: &Path) -> Vec<u8> {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..FRAMES {
        let v = (i % 3000) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(-v).unwrap();
    }
    w.finalize().unwrap();
    std::fs::read(path).unwrap()
}

const SHA: &str = "cd";

impl Api {
    async fn new(store: Store) -> Api {
        let root = tempfile::tempdir().unwrap();
        let wav = write_wav(&root.path().join("2027/01/15/a.wav"));
        let state = ApiState::new(
            store.clone(),
            Arc::new(ManualClock::new(ts(24 * 60))),
            ApiSettings {
                default_tenant: TenantId::from("acme"),
                ..ApiSettings::default()
            },
        )
        .with_recordings_root(root.path().to_path_buf());
        Api {
            router: Router::new().nest("/api/v1", router(state)),
            people: People::seed(&store).await,
            store,
            root,
            wav,
        }
    }

    fn id(&self, who: &str) -> &UserId {
        &self.people.ids[who]
    }

    async fn req(
        &self,
        who: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let token = self.people.tokens.get(who).map(String::as_str);
        let (status, headers, bytes) = send(
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
            headers,
            bytes,
        }
    }

    async fn get(&self, who: &str, path: &str) -> Reply {
        self.req(who, "GET", path, &[], None).await
    }

    async fn ok(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.req(who, method, path, &[], body).await;
        assert!(
            r.status.is_success(),
            "{method} {path} as {who}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.bytes)
        );
        r.json()
    }

    /// An acme call `minute` minutes after T0 with a finished recording of `secs` seconds
    /// (all pointing at the one fixture WAV); answered by `agent` unless `None`.
    #[allow(clippy::too_many_arguments)]
    async fn recorded_call(
        &self,
        id: &str,
        minute: i64,
        caller: &str,
        agent: Option<&str>,
        queue: &str,
        campaign: Option<&str>,
        secs: i64,
        paused: &str,
    ) -> String {
        let call_id = CallId::from(id);
        let tenant = TenantId::from("acme");
        let campaign = campaign.map(CampaignId::from);
        calls::insert_call(
            &self.store,
            &NewCall {
                id: &call_id,
                tenant_id: &tenant,
                direction: Direction::Inbound,
                caller,
                callee: "+862155550000",
                target: Some("queue:x"),
                agent_user_id: None,
                queue: Some(queue),
                campaign_id: campaign.as_ref(),
                sip_call_id_a: &format!("sip-{id}"),
                started_at: ts(minute),
                node: None,
            },
        )
        .await
        .unwrap();
        let end = ts(minute) + Duration::from_secs(secs as u64);
        if let Some(agent) = agent {
            calls::mark_answered(
                &self.store,
                &call_id,
                ts(minute),
                &format!("b-{id}"),
                Some(self.id(agent)),
            )
            .await
            .unwrap();
        }
        calls::close_call(
            &self.store,
            &call_id,
            &CallEnd {
                ended_at: end,
                end_cause: if agent.is_some() {
                    calls::end_cause::NORMAL_CLEARING
                } else {
                    "no-answer"
                },
                sip_status: Some(if agent.is_some() { 200 } else { 480 }),
                hangup_by: HangupBy::Caller,
            },
        )
        .await
        .unwrap();
        let rec = recordings::insert_recording(
            &self.store,
            &NewRecording {
                tenant_id: &tenant,
                call_id: &call_id,
                path: "2027/01/15/a.wav",
                started_at: ts(minute),
                channels: 2,
                sample_rate: 8000,
                created_at: ts(minute),
            },
        )
        .await
        .unwrap();
        recordings::complete_recording(
            &self.store,
            &rec.id,
            secs * 1000,
            self.wav.len() as i64,
            &SHA.repeat(32),
            paused,
            RecordingState::Complete,
        )
        .await
        .unwrap();
        rec.id
    }
}

/// A score of the default (seeds') card: every unit rated `v`, plus the phrases heard.
fn score_body(v: u32, banned: &[&str]) -> Value {
    let units = [
        "phone_enquiries",
        "web_chat",
        "qq",
        "wechat",
        "visits",
        "call_backs",
        "orders",
        "script_compliance",
        "customer_records",
        "first_contact",
        "call_back_effectiveness",
        "enquiry_to_visit",
        "sales_conversion",
        "no_complaints",
        "skills",
    ];
    let values: serde_json::Map<String, Value> =
        units.iter().map(|u| ((*u).to_owned(), json!(v))).collect();
    json!({ "values": values, "banned": banned })
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["call_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Four recorded calls: c1 (agent, sales, 60 s, customer 王), c2 (agent2, support, campaign,
/// 300 s), c3 (unanswered, sales, 20 s), c4 (agent, sales, 120 s).
async fn four_calls(api: &Api) -> Vec<String> {
    api.ok(
        "admin",
        "POST",
        "/customers",
        Some(json!({"name": "王小明", "phones": [{"phone": "+8613800000001"}]})),
    )
    .await;
    let mut recs = vec![];
    for (id, minute, caller, agent, queue, campaign, secs) in [
        ("c1", 0, "+8613800000001", Some("agent"), "sales", None, 60),
        (
            "c2",
            10,
            "+8613800000002",
            Some("agent2"),
            "support",
            Some("camp-1"),
            300,
        ),
        ("c3", 20, "+8613800000003", None, "sales", None, 20),
        (
            "c4",
            30,
            "+8613800000001",
            Some("agent"),
            "sales",
            None,
            120,
        ),
    ] {
        recs.push(
            api.recorded_call(id, minute, caller, agent, queue, campaign, secs, "[]")
                .await,
        );
    }
    recs
}

async fn the_qa_search_filters_by_every_field_and_pages(store: Store) {
    let api = Api::new(store).await;
    let recs = four_calls(&api).await;
    let search = |q: &str| format!("/qa/recordings?{q}");
    assert_eq!(
        ids(&api.ok("qa", "GET", &search(""), None).await),
        ["c4", "c3", "c2", "c1"]
    );
    let agent = api.id("agent").to_string();
    let customer = api.ok("qa", "GET", "/customers?limit=10", None).await;
    let customer_id = customer["items"][0]["id"].as_str().unwrap().to_owned();
    for (q, want) in [
        (format!("agent={agent}"), vec!["c4", "c1"]),
        ("queue=support".to_owned(), vec!["c2"]),
        ("campaign=camp-1".to_owned(), vec!["c2"]),
        (format!("customer={customer_id}"), vec!["c4", "c1"]),
        ("number=%2B8613800000003".to_owned(), vec!["c3"]),
        (
            format!("from={}&to={}", ts(10).as_millis(), ts(30).as_millis()),
            vec!["c3", "c2"],
        ),
        (
            "min_duration=60&max_duration=120".to_owned(),
            vec!["c4", "c1"],
        ),
        ("outcome=unanswered".to_owned(), vec!["c3"]),
        ("outcome=no-answer".to_owned(), vec!["c3"]),
        ("outcome=answered&queue=sales".to_owned(), vec!["c4", "c1"]),
    ] {
        let got = ids(&api.ok("qa", "GET", &search(&q), None).await);
        assert_eq!(got, want, "{q}");
    }
    // The listing carries what the result list shows.
    let page = api
        .ok("qa", "GET", &search("queue=sales&limit=1"), None)
        .await;
    let first = &page["items"][0];
    assert_eq!(first["call_id"], "c4");
    assert_eq!(first["agent_name"], "agent");
    assert_eq!(first["customer_name"], "王小明");
    assert_eq!(first["duration_ms"], 120_000);
    assert_eq!(first["answered"], true);
    assert_eq!(first["score"], Value::Null);
    // Paging: the cursor continues where the page ended.
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = api
        .ok(
            "qa",
            "GET",
            &search(&format!("queue=sales&limit=1&cursor={cursor}")),
            None,
        )
        .await;
    assert_eq!(ids(&next), ["c3"]);

    // Scores: c1 80, c4 95 (one banned phrase: −5 → 90).
    api.ok(
        "qa",
        "PUT",
        &format!("/recordings/{}/score", recs[0]),
        Some(score_body(80, &[])),
    )
    .await;
    api.ok(
        "qa",
        "PUT",
        &format!("/recordings/{}/score", recs[3]),
        Some(score_body(95, &["但是"])),
    )
    .await;
    for (q, want) in [
        ("scored=true", vec!["c4", "c1"]),
        ("scored=false", vec!["c3", "c2"]),
        ("min_score=85", vec!["c4"]),
        ("max_score=85", vec!["c1"]),
        ("min_score=80&max_score=90", vec!["c4", "c1"]),
    ] {
        assert_eq!(
            ids(&api.ok("qa", "GET", &search(q), None).await),
            want,
            "{q}"
        );
    }
    let scored = api.ok("qa", "GET", &search("min_score=85"), None).await;
    assert_eq!(scored["items"][0]["score"], 90.0);

    // Bad filters name themselves; another tenant sees none of this; agents may not search.
    for (q, field) in [
        ("min_duration=long", "min_duration"),
        ("min_score=101", "min_score"),
        ("scored=maybe", "scored"),
        ("from=yesterday", "from"),
        ("limit=0", "limit"),
        ("cursor=zz", "cursor"),
        ("colour=red", "colour"),
    ] {
        let r = api.get("qa", &search(q)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        // A known parameter is named in `field`; an unknown one in the message.
        let error = &r.json()["error"];
        let named = error["field"].as_str().map_or_else(
            || error["message"].as_str().unwrap().contains(field),
            |f| f == field,
        );
        assert!(named, "{q}: {error}");
    }
    assert!(
        api.ok("other:qa", "GET", &search(""), None).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for who in ["agent", "integrator"] {
        assert_eq!(
            api.get(who, &search("")).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

async fn scores_follow_the_card_and_feed_the_agents_report(store: Store) {
    let api = Api::new(store).await;
    let recs = four_calls(&api).await;

    // The default card is the seeds'.
    let card = api.ok("qa", "GET", "/qa/scorecard", None).await;
    let weights: Vec<u64> = card["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["weight"].as_u64().unwrap())
        .collect();
    assert_eq!(weights, [50, 30, 20]);
    assert_eq!(card["banned_phrases"][0]["phrase"], "差不多");

    // A score: every unit 90, two phrases heard (−5 each) → 80.
    let path = format!("/recordings/{}/score", recs[0]);
    let s = api
        .ok(
            "qa",
            "PUT",
            &path,
            Some(score_body(90, &["差不多", "我不能"])),
        )
        .await;
    assert_eq!(s["total"], 80.0);
    assert_eq!(s["agent_id"], api.id("agent").as_str());
    assert_eq!(s["scorer_id"], api.id("qa").as_str());
    let again = api.ok("supervisor", "GET", &path, None).await;
    assert_eq!(again["total"], 80.0);
    // In the checklist's order.
    assert_eq!(again["banned"], json!(["差不多", "我不能"]));
    // The other call of the same agent on the same day: 70 → the day's average is 75.
    api.ok(
        "supervisor",
        "PUT",
        &format!("/recordings/{}/score", recs[3]),
        Some(score_body(70, &[])),
    )
    .await;
    let report = api
        .ok(
            "supervisor",
            "GET",
            "/stats/agents?from=2027-01-15&to=2027-01-15",
            None,
        )
        .await;
    let row = |agent: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["agent_id"] == agent)
            .cloned()
    };
    assert_eq!(row(api.id("agent").as_str()).unwrap()["qa_score"], 75.0);
    // agent2 answered a call (a customer served? no customer on file) and has no score.
    if let Some(r) = row(api.id("agent2").as_str()) {
        assert_eq!(r["qa_score"], Value::Null);
    }
    // The agent sees their own score in their own report.
    let mine = api
        .ok(
            "agent",
            "GET",
            "/stats/agents?from=2027-01-15&to=2027-01-15",
            None,
        )
        .await;
    assert_eq!(mine["rows"][0]["qa_score"], 75.0);

    // Scores are checked against the card: missing, unknown, out of range, phrase not listed.
    let mut missing = score_body(90, &[]);
    missing["values"].as_object_mut().unwrap().remove("skills");
    let mut unknown = score_body(90, &[]);
    unknown["values"]["charm"] = json!(50);
    let mut high = score_body(90, &[]);
    high["values"]["qq"] = json!(101);
    for (body, field) in [
        (missing, "values.skills"),
        (unknown, "values.charm"),
        (high, "values.qq"),
        (score_body(90, &["好吧"]), "banned[0]"),
    ] {
        let r = api.req("qa", "PUT", &path, &[], Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json()["error"]["field"], field);
    }
    // An unscored recording's score is 404; agents may not score or read scores.
    let unscored = format!("/recordings/{}/score", recs[1]);
    assert_eq!(api.get("qa", &unscored).await.status, StatusCode::NOT_FOUND);
    let r = api
        .req("agent", "PUT", &path, &[], Some(score_body(100, &[])))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A new card: weights that do not add up are refused, naming the field.
    let mut bad = card.clone();
    bad["criteria"][2]["weight"] = json!(25);
    let r = api
        .req("supervisor", "PUT", "/qa/scorecard", &[], Some(bad))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["field"], "criteria");
    let mut bad_items = card.clone();
    bad_items["criteria"][0]["items"][0]["weight"] = json!(11);
    let r = api
        .req("supervisor", "PUT", "/qa/scorecard", &[], Some(bad_items))
        .await;
    assert_eq!(r.json()["error"]["field"], "criteria[0].items");
    // QA may not change the card.
    let r = api
        .req("qa", "PUT", "/qa/scorecard", &[], Some(card.clone()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A simpler card: talk 60 / manners 40, one phrase worth 10 points.
    let simple = json!({
        "name": "Hotline",
        "criteria": [
            {"key": "talk", "name_en": "Talk", "name_zh": "沟通", "weight": 60},
            {"key": "manners", "name_en": "Manners", "name_zh": "礼貌", "weight": 40}
        ],
        "banned_phrases": [{"phrase": "不清楚", "kind": "vague", "meaning_en": "not sure"}],
        "banned_phrase_penalty": 10
    });
    api.ok("admin", "PUT", "/qa/scorecard", Some(simple.clone()))
        .await;
    // Read back as saved (criteria without sub-items list an empty `items`).
    let mut saved = simple.clone();
    for c in saved["criteria"].as_array_mut().unwrap() {
        c["items"] = json!([]);
    }
    assert_eq!(api.ok("qa", "GET", "/qa/scorecard", None).await, saved);
    let s = api
        .ok(
            "qa",
            "PUT",
            &format!("/recordings/{}/score", recs[1]),
            Some(
                json!({"values": {"talk": 100, "manners": 50}, "banned": ["不清楚"], "note": "ok"}),
            ),
        )
        .await;
    assert_eq!(s["total"], 70.0);
    // The earlier score keeps the card it was given with.
    let old = api.ok("qa", "GET", &path, None).await;
    assert_eq!(old["scorecard"]["criteria"][0]["key"], "volume");
    // Another tenant still has the default card.
    let other = api.ok("other:qa", "GET", "/qa/scorecard", None).await;
    assert_eq!(other["criteria"][0]["key"], "volume");
}

async fn comments_are_pinned_to_moments_of_the_recording(store: Store) {
    let api = Api::new(store).await;
    let recs = four_calls(&api).await;
    let path = format!("/recordings/{}/comments", recs[0]);
    let late = api
        .ok(
            "qa",
            "POST",
            &path,
            Some(json!({"at_ms": 45_000, "text": "说了“差不多”"})),
        )
        .await;
    assert_eq!(late["at_ms"], 45_000);
    assert_eq!(late["author_name"], "qa");
    api.ok(
        "supervisor",
        "POST",
        &path,
        Some(json!({"at_ms": 1_500, "text": "good greeting"})),
    )
    .await;
    let list = api.ok("qa", "GET", &path, None).await;
    let at: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["at_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(at, [1_500, 45_000]);
    assert_eq!(list[1]["text"], "说了“差不多”");
    let page = api
        .ok("qa", "GET", "/qa/recordings?queue=sales", None)
        .await;
    let c1 = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["call_id"] == "c1")
        .unwrap()
        .clone();
    assert_eq!(c1["comments"], 2);
    for (body, field) in [
        (json!({"at_ms": 60_001, "text": "x"}), "at_ms"),
        (json!({"at_ms": 10, "text": "  "}), "text"),
        (json!({"at_ms": -1, "text": "x"}), "at_ms"),
    ] {
        let r = api.req("qa", "POST", &path, &[], Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.json()["error"]["field"], field, "{body}");
    }
    let r = api
        .req(
            "agent",
            "POST",
            &path,
            &[],
            Some(json!({"at_ms": 1, "text": "mine"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = api.get("other:qa", &path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn every_playback_and_download_is_audited_and_agents_get_403(store: Store) {
    let api = Api::new(store).await;
    // c1 is the agent's own call, with a paused span of 1.0-2.5 s (frames at 8 kHz).
    let rec = api
        .recorded_call(
            "c1",
            0,
            "+8613800000001",
            Some("agent"),
            "sales",
            None,
            60,
            r#"[{"start":8000,"end":20000}]"#,
        )
        .await;
    let audio = format!("/recordings/{rec}/audio");
    for who in ["agent", "integrator"] {
        for p in [audio.clone(), format!("/recordings/{rec}/peaks")] {
            assert_eq!(
                api.get(who, &p).await.status,
                StatusCode::FORBIDDEN,
                "{who} {p}"
            );
        }
    }
    let meta = api
        .ok("agent", "GET", &format!("/recordings/{rec}"), None)
        .await;
    assert_eq!(
        meta["paused_segments"],
        json!([{"start_ms": 1000, "end_ms": 2500}])
    );
    assert_eq!(meta["deleted_at"], Value::Null);

    let r = api
        .req("qa", "GET", &audio, &[("range", "bytes=0-99")], None)
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    let r = api
        .req(
            "supervisor",
            "GET",
            &format!("{audio}?download=1"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-disposition"),
        "attachment; filename=\"recording-c1.wav\""
    );
    assert!(r.bytes == api.wav);
    let r = api.get("qa", &format!("{audio}?download=yes")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["field"], "download");

    let log = api.ok("admin", "GET", "/audit?limit=50", None).await;
    let rows: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == rec.as_str())
        .collect();
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("recording.download", api.id("supervisor").as_str()),
            ("recording.play", api.id("qa").as_str()),
        ]
    );
    let detail: Value = match &rows[1]["detail"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        v => v.clone(),
    };
    assert_eq!(detail["range"], "bytes=0-99");
    assert_eq!(detail["status"], 206);
}

/// Acceptance 2: open-ended, suffix, several ranges (multipart/byteranges), beyond the end,
/// If-Range.
async fn range_edge_cases(store: Store) {
    let api = Api::new(store).await;
    let rec = api
        .recorded_call("c1", 0, "+8613800000001", Some("agent"), "s", None, 2, "[]")
        .await;
    let audio = format!("/recordings/{rec}/audio");
    let wav = &api.wav;
    let n = wav.len();
    let get = |range: &'static str, extra: Option<(&'static str, String)>| {
        let audio = audio.clone();
        let api = &api;
        async move {
            let mut headers: Vec<(&str, String)> = vec![("range", range.to_owned())];
            headers.extend(extra);
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            api.req("qa", "GET", &audio, &h, None).await
        }
    };

    // Open-ended: from byte 100 to the end.
    let r = get("bytes=100-", None).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.header("content-range"),
        format!("bytes 100-{}/{n}", n - 1)
    );
    assert_eq!(r.header("content-length"), (n - 100).to_string());
    assert!(r.bytes == wav[100..]);

    // Suffix: the last 500 bytes; a suffix longer than the file is the whole file.
    let r = get("bytes=-500", None).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.header("content-range"),
        format!("bytes {}-{}/{n}", n - 500, n - 1)
    );
    assert!(r.bytes == wav[n - 500..]);
    let r = get("bytes=-99999999", None).await;
    assert_eq!(r.header("content-range"), format!("bytes 0-{}/{n}", n - 1));
    assert!(r.bytes == *wav);

    // Several ranges: multipart/byteranges, each part with its own Content-Range, in order.
    let r = get("bytes=500-599, 0-43, -10", None).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    let ctype = r.header("content-type").to_owned();
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("content-type {ctype}"));
    assert_eq!(r.header("content-range"), "");
    assert_eq!(r.header("content-length"), r.bytes.len().to_string());
    let parts = multipart(&r.bytes, boundary);
    let want: Vec<(String, &[u8])> = vec![
        (format!("bytes 0-43/{n}"), &wav[0..44]),
        (format!("bytes 500-599/{n}"), &wav[500..600]),
        (format!("bytes {}-{}/{n}", n - 10, n - 1), &wav[n - 10..]),
    ];
    assert_eq!(parts.len(), 3);
    for ((headers, body), (range, bytes)) in parts.iter().zip(&want) {
        assert!(headers.contains("Content-Type: audio/wav"), "{headers}");
        assert!(
            headers.contains(&format!("Content-Range: {range}")),
            "{headers}"
        );
        assert!(body == bytes, "{range}: wrong bytes");
    }
    // Overlapping ranges are merged into one plain part.
    let r = get("bytes=0-99,50-149", None).await;
    assert_eq!(r.header("content-range"), format!("bytes 0-149/{n}"));
    assert_eq!(r.header("content-type"), "audio/wav");

    // Beyond the end: 416 naming the length; partly beyond is clamped.
    for range in ["bytes=99999999-", "bytes=99999999-100000000,200000000-"] {
        let r = get(range, None).await;
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(r.header("content-range"), format!("bytes */{n}"));
        assert_eq!(r.json()["error"]["field"], "Range");
    }
    let r = get("bytes=-0", None).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let r = get("bytes=10-99999999", None).await;
    assert_eq!(r.header("content-range"), format!("bytes 10-{}/{n}", n - 1));

    // If-Range: the current ETag gets the range, any other the whole file.
    let etag = format!("\"{}\"", SHA.repeat(32));
    let r = get("bytes=0-9", Some(("if-range", etag))).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert!(r.bytes == wav[..10]);
    let r = get("bytes=0-9", Some(("if-range", "\"stale\"".to_owned()))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.bytes == *wav);
}

/// The parts of a multipart/byteranges body: (header block, body bytes).
fn multipart(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let mut parts = vec![];
    let mut rest = body;
    // Skip to the first delimiter.
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(rest, delimiter.as_bytes()).unwrap();
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        rest = rest.strip_prefix(b"\r\n").unwrap();
        let head_end = find(rest, b"\r\n\r\n").unwrap();
        let head = String::from_utf8(rest[..head_end].to_vec()).unwrap();
        rest = &rest[head_end + 4..];
        let next = find(rest, format!("\r\n{delimiter}").as_bytes()).unwrap();
        parts.push((head, rest[..next].to_vec()));
        rest = &rest[next + 2 + delimiter.len()..];
    }
    parts
}

async fn retention_is_set_per_tenant_and_the_job_deletes_what_expired(store: Store) {
    let api = Api::new(store).await;
    // Default: 30 days, admins only.
    let r = api.ok("admin", "GET", "/qa/retention", None).await;
    assert_eq!(
        (r["recording_days"].as_u64(), r["default"].as_bool()),
        (Some(30), Some(true))
    );
    for who in ["supervisor", "qa", "agent"] {
        assert_eq!(
            api.get(who, "/qa/retention").await.status,
            StatusCode::FORBIDDEN
        );
    }
    let r = api
        .req(
            "admin",
            "PUT",
            "/qa/retention",
            &[],
            Some(json!({"recording_days": 29})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["field"], "recording_days");
    // globex keeps recordings 90 days (the law asks for longer there).
    api.ok(
        "other:admin",
        "PUT",
        "/qa/retention",
        Some(json!({"recording_days": 90})),
    )
    .await;

    // Three acme recordings, each in its own file, and one of globex.
    let root = api.root.path();
    let mut files = vec![];
    for (id, minute) in [("old", 0), ("mid", 20 * 24 * 60), ("new", 40 * 24 * 60)] {
        let rec = api
            .recorded_call(
                id,
                minute,
                "+8613800000009",
                Some("agent"),
                "s",
                None,
                2,
                "[]",
            )
            .await;
        let rel = format!("2027/x/{id}.wav");
        write_wav(&root.join(&rel));
        set_path(&api.store, &rec, &rel).await;
        files.push((rec, root.join(rel)));
    }
    let globex_rec = globex_recording(&api.store, root).await;

    // 31 days after the first call: only "old" has passed 30 days.
    let now = ts(31 * 24 * 60);
    let report = switchboard_crm::retention::run_once(&api.store, root, now)
        .await
        .unwrap();
    assert_eq!((report.deleted, report.failed), (1, 0));
    assert!(!files[0].1.exists());
    assert!(files[1].1.exists() && files[2].1.exists());
    let meta = api
        .ok("qa", "GET", &format!("/recordings/{}", files[0].0), None)
        .await;
    assert_eq!(meta["deleted_at"], now.to_string());
    let r = api
        .get("qa", &format!("/recordings/{}/audio", files[0].0))
        .await;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(r.json()["error"]["code"], "expired");
    let found = api
        .ok("qa", "GET", "/qa/recordings?number=%2B8613800000009", None)
        .await;
    let deleted: Vec<bool> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["deleted"].as_bool().unwrap())
        .collect();
    assert_eq!(deleted, [false, false, true]);
    let log = api.ok("admin", "GET", "/audit?limit=20", None).await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "recording.expired" && e["target"] == files[0].0.as_str())
    );
    // Running again the same day changes nothing.
    let again = switchboard_crm::retention::run_once(&api.store, root, now)
        .await
        .unwrap();
    assert_eq!(again.deleted, 0);

    // acme raises its retention to 60 days: at day 55 "mid" (day 20) is kept, at day 81 not.
    api.ok(
        "admin",
        "PUT",
        "/qa/retention",
        Some(json!({"recording_days": 60})),
    )
    .await;
    let r = switchboard_crm::retention::run_once(&api.store, root, ts(55 * 24 * 60))
        .await
        .unwrap();
    assert_eq!(r.deleted, 0);
    assert!(files[1].1.exists());
    let r = switchboard_crm::retention::run_once(&api.store, root, ts(81 * 24 * 60))
        .await
        .unwrap();
    assert_eq!(r.deleted, 1);
    assert!(!files[1].1.exists() && files[2].1.exists());
    // globex's (day 0, 90 days) is still there at day 81, gone at day 91.
    assert!(globex_rec.exists());
    let r = switchboard_crm::retention::run_once(&api.store, root, ts(91 * 24 * 60))
        .await
        .unwrap();
    assert_eq!(r.deleted, 1);
    assert!(!globex_rec.exists());
}

async fn set_path(store: &Store, rec: &str, rel: &str) {
    sqlx::query("UPDATE recordings SET path = $1 WHERE id = $2")
        .bind(rel)
        .bind(rec)
        .execute(store.pool())
        .await
        .unwrap();
}

async fn globex_recording(store: &Store, root: &Path) -> std::path::PathBuf {
    let tenant = TenantId::from("globex");
    let call = CallId::from("g1");
    calls::insert_call(
        store,
        &NewCall {
            id: &call,
            tenant_id: &tenant,
            direction: Direction::Inbound,
            caller: "+8613800000008",
            callee: "+862155550000",
            target: None,
            agent_user_id: None,
            queue: None,
            campaign_id: None,
            sip_call_id_a: "sip-g1",
            started_at: ts(0),
            node: None,
        },
    )
    .await
    .unwrap();
    let rel = "2027/g/g1.wav";
    write_wav(&root.join(rel));
    let rec = recordings::insert_recording(
        store,
        &NewRecording {
            tenant_id: &tenant,
            call_id: &call,
            path: rel,
            started_at: ts(0),
            channels: 2,
            sample_rate: 8000,
            created_at: ts(0),
        },
    )
    .await
    .unwrap();
    recordings::complete_recording(
        store,
        &rec.id,
        2000,
        1,
        &SHA.repeat(32),
        "[]",
        RecordingState::Complete,
    )
    .await
    .unwrap();
    root.join(rel)
}

switchboard_store::both_engines!(
    the_qa_search_filters_by_every_field_and_pages,
    scores_follow_the_card_and_feed_the_agents_report,
    comments_are_pinned_to_moments_of_the_recording,
    every_playback_and_download_is_audited_and_agents_get_403,
    range_edge_cases,
    retention_is_set_per_tenant_and_the_job_deletes_what_expired
);
