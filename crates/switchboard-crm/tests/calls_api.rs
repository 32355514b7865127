//! Call records and recordings through the real `/api/v1` router (no socket): listing and
//! paging CDRs, who sees which call, recording metadata, the WAV with `Range`, and waveform
//! peaks. Database-heavy tests run on SQLite and PostgreSQL; the audio tests on SQLite.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use switchboard_core::{CallId, ManualClock, TenantId, UserId};
use switchboard_crm::live::{
    AgentStateAction, LiveCommand, LiveError, LiveHandle, LiveReply, live_channel,
};
use switchboard_crm::{ApiSettings, ApiState, router};
use switchboard_store::Store;
use switchboard_store::calls::{self, CallEnd, Direction, HangupBy, NewCall};
use switchboard_store::recordings::{self, NewRecording, RecordingState};
use switchboard_store::testing::TestDb;

mod support;
use support::{People, send, ts};

struct Api {
    router: Router,
    store: Store,
    people: People,
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

impl Api {
    async fn new(store: Store, root: Option<PathBuf>) -> Api {
        Api::build(store, root, None).await
    }

    async fn build(store: Store, root: Option<PathBuf>, live: Option<LiveHandle>) -> Api {
        let clock = ManualClock::new(ts(24 * 60));
        let mut state = ApiState::new(
            store.clone(),
            Arc::new(clock),
            ApiSettings {
                default_tenant: TenantId::from("acme"),
                ..ApiSettings::default()
            },
        );
        if let Some(root) = root {
            state = state.with_recordings_root(root);
        }
        if let Some(live) = live {
            state = state.with_live(live);
        }
        Api {
            router: Router::new().nest("/api/v1", router(state)),
            people: People::seed(&store).await,
            store,
        }
    }

    fn id(&self, who: &str) -> &UserId {
        &self.people.ids[who]
    }

    async fn get_with(&self, who: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let token = self.people.tokens.get(who).map(String::as_str);
        let (status, headers, bytes) = send(&self.router, token, "GET", path, headers, None).await;
        Reply {
            status,
            headers,
            bytes,
        }
    }

    async fn post(&self, who: &str, path: &str) -> StatusCode {
        let token = self.people.tokens.get(who).map(String::as_str);
        send(&self.router, token, "POST", path, &[], None).await.0
    }

    async fn put_json(&self, who: &str, path: &str, body: &str) -> Reply {
        let token = self.people.tokens.get(who).map(String::as_str);
        let (status, headers, bytes) =
            send(&self.router, token, "PUT", path, &[], Some(body.to_owned())).await;
        Reply {
            status,
            headers,
            bytes,
        }
    }

    async fn get(&self, who: &str, path: &str) -> Reply {
        self.get_with(who, path, &[]).await
    }

    async fn get_json(&self, who: &str, path: &str) -> Value {
        let r = self.get(who, path).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "GET {path} as {who}: {}",
            String::from_utf8_lossy(&r.bytes)
        );
        r.json()
    }

    /// A call started `minute` minutes after T0; answered by `agent` and ended 90 s later when
    /// an agent is given, else left ringing.
    async fn call(&self, tenant: &str, id: &str, minute: i64, caller: &str, agent: Option<&str>) {
        let call_id = CallId::from(id);
        let tenant = TenantId::from(tenant);
        calls::insert_call(
            &self.store,
            &NewCall {
                id: &call_id,
                tenant_id: &tenant,
                direction: Direction::Inbound,
                caller,
                callee: "+862155550000",
                target: Some("queue:sales"),
                agent_user_id: None,
                queue: Some("sales"),
                campaign_id: None,
                sip_call_id_a: &format!("sip-{id}"),
                started_at: ts(minute),
                node: None,
            },
        )
        .await
        .unwrap();
        let ringing = ts(minute) + std::time::Duration::from_secs(2);
        calls::mark_ringing(&self.store, &call_id, ringing)
            .await
            .unwrap();
        if let Some(agent) = agent {
            let answered = ts(minute) + std::time::Duration::from_secs(10);
            calls::mark_answered(
                &self.store,
                &call_id,
                answered,
                &format!("b-{id}"),
                Some(self.id(agent)),
            )
            .await
            .unwrap();
            calls::close_call(
                &self.store,
                &call_id,
                &CallEnd {
                    ended_at: answered + std::time::Duration::from_secs(90),
                    end_cause: calls::end_cause::NORMAL_CLEARING,
                    sip_status: Some(200),
                    hangup_by: HangupBy::Caller,
                },
            )
            .await
            .unwrap();
        }
    }

    /// A finished recording row for call `id` of tenant acme at `path` (relative to the root).
    async fn recording(&self, call: &str, path: &str, size: i64) -> String {
        let call_id = CallId::from(call);
        let tenant = TenantId::from("acme");
        let call_row = calls::get_call(&self.store, &tenant, &call_id)
            .await
            .unwrap()
            .unwrap();
        let rec = recordings::insert_recording(
            &self.store,
            &NewRecording {
                tenant_id: &tenant,
                call_id: &call_id,
                path,
                started_at: call_row.started_at,
                channels: 2,
                sample_rate: 8000,
                created_at: call_row.started_at,
            },
        )
        .await
        .unwrap();
        recordings::complete_recording(
            &self.store,
            &rec.id,
            FRAMES as i64 / 8,
            size,
            &"ab".repeat(32),
            "[]",
            RecordingState::Complete,
        )
        .await
        .unwrap();
        rec.id
    }
}

/// Frames in the WAV fixture (one second at 8 kHz).
const FRAMES: u32 = 8000;

/// Left (customer) is a ramp `i % 1000`; right (agent) is its negation.
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
        let v = (i % 1000) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(-v).unwrap();
    }
    w.finalize().unwrap();
    std::fs::read(path).unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Five acme calls (c1 oldest … c5 newest) and one globex call.
async fn five_calls(api: &Api) {
    api.call("acme", "c1", 0, "+8613800000001", Some("agent"))
        .await;
    api.call("acme", "c2", 10, "+8613800000002", Some("agent2"))
        .await;
    api.call("acme", "c3", 20, "+8613800000001", None).await;
    api.call("acme", "c4", 30, "+8613800000003", Some("agent"))
        .await;
    api.call("acme", "c5", 40, "+8613800000004", Some("agent2"))
        .await;
    api.call("globex", "g1", 50, "+8613800000001", None).await;
}

async fn calls_are_listed_newest_first_filtered_and_paged(store: Store) {
    let api = Api::new(store, None).await;
    five_calls(&api).await;

    let page = api.get_json("supervisor", "/calls").await;
    assert_eq!(ids(&page), ["c5", "c4", "c3", "c2", "c1"]);
    assert_eq!(page["next_cursor"], Value::Null);
    let c1 = &page["items"][4];
    assert_eq!(c1["direction"], "inbound");
    assert_eq!(c1["caller"], "+8613800000001");
    assert_eq!(c1["callee"], "+862155550000");
    assert_eq!(c1["target"], "queue:sales");
    assert_eq!(c1["queue"], "sales");
    assert_eq!(c1["agent_user_id"], api.id("agent").as_str());
    assert_eq!(c1["started_at"], "2027-01-15T08:00:00.000Z");
    assert_eq!(c1["ringing_at"], "2027-01-15T08:00:02.000Z");
    assert_eq!(c1["answered_at"], "2027-01-15T08:00:10.000Z");
    assert_eq!(c1["ended_at"], "2027-01-15T08:01:40.000Z");
    assert_eq!(c1["state"], "ended");
    assert_eq!(c1["end_cause"], "normal-clearing");
    assert_eq!(c1["sip_status"], 200);
    assert_eq!(c1["hangup_by"], "caller");
    assert_eq!(c1["duration_ms"], 100_000);
    assert_eq!(c1["talk_ms"], 90_000);
    assert_eq!(c1["recording_id"], Value::Null);
    let c3 = &page["items"][2];
    assert_eq!(c3["state"], "ringing");
    assert_eq!(c3["answered_at"], Value::Null);
    assert_eq!(c3["duration_ms"], Value::Null);

    let by_number = api.get_json("qa", "/calls?number=%2B8613800000001").await;
    assert_eq!(ids(&by_number), ["c3", "c1"]);
    let ended = api.get_json("admin", "/calls?state=ended").await;
    assert_eq!(ids(&ended), ["c5", "c4", "c2", "c1"]);
    let agent2 = format!("/calls?agent={}", api.id("agent2"));
    assert_eq!(ids(&api.get_json("admin", &agent2).await), ["c5", "c2"]);
    // since is inclusive, until exclusive; both take RFC 3339 or epoch ms.
    let window = format!(
        "/calls?since=2027-01-15T08:10:00Z&until={}",
        ts(30).as_millis()
    );
    assert_eq!(ids(&api.get_json("admin", &window).await), ["c3", "c2"]);

    // Two by two, without gaps or repeats, until the cursor runs out.
    let mut seen = Vec::new();
    let mut path = "/calls?limit=2".to_owned();
    loop {
        let page = api.get_json("supervisor", &path).await;
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/calls?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["c5", "c4", "c3", "c2", "c1"]);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("state=hungup", "state"),
        ("since=yesterday", "since"),
        ("until=2027-13-01", "until"),
        ("cursor=zz", "cursor"),
        ("agent=%00", "agent"),
    ] {
        let r = api.get("supervisor", &format!("/calls?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(r.json()["error"]["field"], field, "{query}");
    }
    let r = api.get("supervisor", "/calls?colour=red").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

async fn an_agent_reads_only_their_own_calls_and_recordings(store: Store) {
    let api = Api::new(store, None).await;
    five_calls(&api).await;
    let rec_own = api.recording("c1", "2027/01/15/c1.wav", 0).await;
    let rec_other = api.recording("c2", "2027/01/15/c2.wav", 0).await;

    assert_eq!(ids(&api.get_json("agent", "/calls").await), ["c4", "c1"]);
    assert_eq!(
        ids(&api.get_json("agent", "/calls?agent=me").await),
        ["c4", "c1"]
    );
    let someone_else = format!("/calls?agent={}", api.id("agent2"));
    assert_eq!(
        api.get("agent", &someone_else).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(api.get_json("agent", "/calls/c1").await["id"], "c1");
    assert_eq!(
        api.get_json("agent", "/calls/c1").await["recording_id"],
        rec_own.as_str()
    );
    // Another agent's call looks like no call at all.
    assert_eq!(
        api.get("agent", "/calls/c2").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("agent", "/calls/c3").await.status,
        StatusCode::NOT_FOUND
    );

    let own = api
        .get_json("agent", &format!("/recordings/{rec_own}"))
        .await;
    assert_eq!(own["call_id"], "c1");
    assert_eq!(
        api.get("agent", &format!("/recordings/{rec_other}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("agent", "/recordings").await.status,
        StatusCode::FORBIDDEN
    );
    // Integrators (the CRM keeping its contact history) read every call of the tenant.
    assert_eq!(
        ids(&api.get_json("integrator", "/calls").await),
        ids(&api.get_json("supervisor", "/calls").await)
    );
}

async fn other_tenants_get_404_and_anonymous_callers_401(store: Store) {
    let api = Api::new(store, None).await;
    five_calls(&api).await;
    let rec = api.recording("c1", "2027/01/15/c1.wav", 0).await;

    assert_eq!(
        ids(&api.get_json("other:supervisor", "/calls").await),
        ["g1"]
    );
    for path in [
        "/calls/c1".to_owned(),
        format!("/recordings/{rec}"),
        format!("/recordings/{rec}/audio"),
        format!("/recordings/{rec}/peaks"),
    ] {
        let r = api.get("other:admin", &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.json()["error"]["code"], "not_found", "{path}");
    }
    assert!(
        api.get_json("other:admin", "/recordings").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for path in [
        "/calls".to_owned(),
        "/calls/c1".to_owned(),
        "/recordings".to_owned(),
        format!("/recordings/{rec}/audio"),
    ] {
        let r = api.get("nobody", &path).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

async fn recording_metadata_is_listed_and_read_without_the_file_path(store: Store) {
    let api = Api::new(store, None).await;
    five_calls(&api).await;
    let r1 = api.recording("c1", "2027/01/15/c1.wav", 32_044).await;
    let r4 = api.recording("c4", "2027/01/15/c4.wav", 32_044).await;

    let page = api.get_json("qa", "/recordings").await;
    assert_eq!(ids(&page), [r4.clone(), r1.clone()]);
    let one = api.get_json("qa", &format!("/recordings/{r1}")).await;
    assert_eq!(one["call_id"], "c1");
    assert_eq!(one["duration_ms"], 1000);
    assert_eq!(one["size_bytes"], 32_044);
    assert_eq!(one["sha256"], "ab".repeat(32));
    assert_eq!(one["channels"], 2);
    assert_eq!(one["sample_rate"], 8000);
    assert_eq!(one["state"], "complete");
    assert_eq!(one["paused"], serde_json::json!([]));
    assert_eq!(one["started_at"], "2027-01-15T08:00:00.000Z");
    assert_eq!(one["audio_url"], format!("/api/v1/recordings/{r1}/audio"));
    assert!(one.get("path").is_none(), "the disk path must not be shown");

    let first = api.get_json("qa", "/recordings?limit=1").await;
    assert_eq!(ids(&first), [r4.as_str()]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = api
        .get_json("qa", &format!("/recordings?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(ids(&second), [r1.as_str()]);
    let window = api
        .get_json("qa", "/recordings?since=2027-01-15T08:15:00Z")
        .await;
    assert_eq!(ids(&window), [r4]);
    let r = api.get("qa", "/recordings?cursor=nothex").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["field"], "cursor");
    assert_eq!(
        api.get("qa", "/recordings/no-such").await.status,
        StatusCode::NOT_FOUND
    );
}

/// A stand-in for the call control: calls "c1" and "c4" are in progress (c4 not recorded);
/// every command is logged.
fn fake_call_control() -> (LiveHandle, Arc<Mutex<Vec<LiveCommand>>>) {
    let (live, mut rx) = live_channel(8);
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        while let Some((command, reply)) = rx.recv().await {
            let call = match &command {
                LiveCommand::PauseRecording { call, .. }
                | LiveCommand::ResumeRecording { call, .. }
                | LiveCommand::Hangup { call, .. } => call.to_string(),
                _ => String::new(),
            };
            let result = match (call.as_str(), &command) {
                (_, LiveCommand::QueueLive { .. }) => Ok(LiveReply::Json(
                    serde_json::json!({"queues": [{"queue": "sales"}], "agents": []}),
                )),
                (_, LiveCommand::AgentState { .. }) => Ok(LiveReply::Done),
                ("c4", LiveCommand::PauseRecording { .. }) => {
                    Err(LiveError::NotApplicable("the call is not recorded".into()))
                }
                ("c1" | "c4", _) => Ok(LiveReply::Done),
                _ => Err(LiveError::NotInProgress),
            };
            seen.lock().unwrap().push(command);
            let _ = reply.send(result);
        }
    });
    (live, log)
}

async fn calls_in_progress_can_be_paused_resumed_and_hung_up(store: Store) {
    let (live, log) = fake_call_control();
    let api = Api::build(store, None, Some(live)).await;
    five_calls(&api).await;

    // The agent pauses and resumes the recording of their own call.
    assert_eq!(
        api.post("agent", "/calls/c1/recording/pause").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.post("agent", "/calls/c1/recording/resume").await,
        StatusCode::NO_CONTENT
    );
    // Not their call: 404 (as for reading it); not in progress: 409; not recorded: 400.
    assert_eq!(
        api.post("agent", "/calls/c2/recording/pause").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.post("supervisor", "/calls/c2/recording/pause").await,
        StatusCode::CONFLICT
    );
    assert_eq!(
        api.post("supervisor", "/calls/c4/recording/pause").await,
        StatusCode::BAD_REQUEST
    );
    // Hanging up is for supervisors and admins.
    assert_eq!(
        api.post("agent", "/calls/c1/hangup").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.post("supervisor", "/calls/c1/hangup").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.post("other:supervisor", "/calls/c1/hangup").await,
        StatusCode::NOT_FOUND
    );
    let acme = TenantId::from("acme");
    let commands = log.lock().unwrap().clone();
    assert_eq!(
        commands,
        vec![
            LiveCommand::PauseRecording {
                tenant: acme.clone(),
                call: "c1".into()
            },
            LiveCommand::ResumeRecording {
                tenant: acme.clone(),
                call: "c1".into()
            },
            LiveCommand::PauseRecording {
                tenant: acme.clone(),
                call: "c2".into()
            },
            LiveCommand::PauseRecording {
                tenant: acme.clone(),
                call: "c4".into()
            },
            LiveCommand::Hangup {
                tenant: acme.clone(),
                call: "c1".into()
            },
        ]
    );
    let audit = switchboard_store::audit::list(&api.store, &acme, 50)
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"call.recording.pause"), "{actions:?}");
    assert!(actions.contains(&"call.hangup"), "{actions:?}");
}

async fn agents_set_their_state_and_everyone_on_the_floor_sees_the_live_figures(store: Store) {
    let (live, log) = fake_call_control();
    let api = Api::build(store, None, Some(live)).await;
    let put = |body: &'static str| {
        let api = &api;
        async move { api.put_json("agent", "/agents/me/state", body).await }
    };
    assert_eq!(
        put(r#"{"state":"ready"}"#).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put(r#"{"state":"not_ready","reason":"lunch"}"#)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = put(r#"{"state":"not_ready"}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["field"], "reason");
    let r = put(r#"{"state":"asleep"}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["field"], "state");
    assert_eq!(
        api.put_json("qa", "/agents/me/state", r#"{"state":"ready"}"#)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let acme = TenantId::from("acme");
    let agent = api.id("agent").clone();
    let commands = log.lock().unwrap().clone();
    assert_eq!(
        commands,
        vec![
            LiveCommand::AgentState {
                tenant: acme.clone(),
                agent: agent.clone(),
                action: AgentStateAction::Ready
            },
            LiveCommand::AgentState {
                tenant: acme.clone(),
                agent,
                action: AgentStateAction::NotReady {
                    reason: "lunch".into()
                }
            },
        ]
    );
    let figures = api.get_json("qa", "/queues/live").await;
    assert_eq!(figures["queues"][0]["queue"], "sales");
    assert_eq!(
        api.get("integrator", "/queues/live").await.status,
        StatusCode::FORBIDDEN
    );
}

async fn without_call_control_the_commands_answer_503(store: Store) {
    let api = Api::new(store, None).await;
    five_calls(&api).await;
    assert_eq!(
        api.post("supervisor", "/calls/c1/hangup").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

switchboard_store::both_engines!(
    agents_set_their_state_and_everyone_on_the_floor_sees_the_live_figures,
    calls_in_progress_can_be_paused_resumed_and_hung_up,
    without_call_control_the_commands_answer_503,
);

switchboard_store::both_engines!(
    calls_are_listed_newest_first_filtered_and_paged,
    an_agent_reads_only_their_own_calls_and_recordings,
    other_tenants_get_404_and_anonymous_callers_401,
    recording_metadata_is_listed_and_read_without_the_file_path,
);

/// An API on SQLite with a recordings root holding c1's WAV; returns the file's bytes and the
/// recording id too.
struct AudioFixture {
    api: Api,
    wav: Vec<u8>,
    rec: String,
    /// The parent of the recordings root: a place outside it.
    outside: tempfile::TempDir,
    _db: TestDb,
}

async fn audio_fixture() -> AudioFixture {
    let db = TestDb::sqlite().await;
    let outside = tempfile::tempdir().unwrap();
    let root = outside.path().join("recordings");
    std::fs::create_dir_all(&root).unwrap();
    let api = Api::new(db.store.clone(), Some(root.clone())).await;
    five_calls(&api).await;
    let wav = write_wav(&root.join("2027/01/15/c1.wav"));
    let rec = api
        .recording("c1", "2027/01/15/c1.wav", wav.len() as i64)
        .await;
    AudioFixture {
        api,
        wav,
        rec,
        outside,
        _db: db,
    }
}

#[tokio::test]
async fn the_whole_wav_is_served_without_range() {
    let f = audio_fixture().await;
    let r = f
        .api
        .get("qa", &format!("/recordings/{}/audio", f.rec))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "audio/wav");
    assert_eq!(r.header("accept-ranges"), "bytes");
    assert_eq!(r.header("content-length"), f.wav.len().to_string());
    assert_eq!(r.header("etag"), format!("\"{}\"", "ab".repeat(32)));
    assert!(r.bytes == f.wav, "body differs from the file");
    // Only QA, supervisors and admins listen: not even the agent who took the call.
    for who in ["agent", "integrator"] {
        for what in ["audio", "peaks"] {
            let r = f
                .api
                .get(who, &format!("/recordings/{}/{what}", f.rec))
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} {what}");
        }
    }
    // A header that does not parse is ignored: the whole file.
    let r = f
        .api
        .get_with(
            "qa",
            &format!("/recordings/{}/audio", f.rec),
            &[("range", "bytes=abc")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.bytes.len(), f.wav.len());
}

#[tokio::test]
async fn a_range_answers_206_with_exactly_those_bytes() {
    let f = audio_fixture().await;
    let path = format!("/recordings/{}/audio", f.rec);
    let len = f.wav.len();
    for (range, first, last) in [
        ("bytes=100-199", 100, 199),
        ("bytes=0-0", 0, 0),
        ("bytes=44-", 44, len - 1),
        ("bytes=-10", len - 10, len - 1),
        ("bytes=30000-99999999", 30_000, len - 1),
        // Overlapping ranges are merged into one.
        ("bytes=10-29,20-59", 10, 59),
    ] {
        let r = f.api.get_with("qa", &path, &[("range", range)]).await;
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            r.header("content-range"),
            format!("bytes {first}-{last}/{len}"),
            "{range}"
        );
        assert_eq!(r.header("content-length"), (last - first + 1).to_string());
        assert_eq!(r.header("content-type"), "audio/wav");
        assert!(r.bytes == f.wav[first..=last], "{range}: wrong bytes");
    }
    // If-Range with a stale validator: the whole (current) file instead of a range of it.
    let r = f
        .api
        .get_with(
            "qa",
            &path,
            &[("range", "bytes=0-9"), ("if-range", "\"old\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.bytes.len(), len);
}

#[tokio::test]
async fn a_range_past_the_end_is_416_with_the_length() {
    let f = audio_fixture().await;
    let len = f.wav.len();
    let r = f
        .api
        .get_with(
            "qa",
            &format!("/recordings/{}/audio", f.rec),
            &[("range", format!("bytes={len}-").as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.header("content-range"), format!("bytes */{len}"));
    assert_eq!(r.json()["error"]["code"], "range_not_satisfiable");
}

#[tokio::test]
async fn rows_pointing_outside_the_root_are_refused_and_nothing_is_served() {
    let f = audio_fixture().await;
    let secret = b"not a recording: must never be served";
    std::fs::write(f.outside.path().join("secret.wav"), secret).unwrap();
    let absolute = f.outside.path().join("secret.wav");
    let mut bad = vec![
        f.api.recording("c4", "../secret.wav", 10).await,
        f.api.recording("c2", absolute.to_str().unwrap(), 10).await,
        f.api.recording("c5", "2027/../../secret.wav", 10).await,
    ];
    #[cfg(unix)]
    {
        let link = f.outside.path().join("recordings/link.wav");
        std::os::unix::fs::symlink(&absolute, link).unwrap();
        f.api.call("acme", "c6", 60, "+8613800000009", None).await;
        bad.push(f.api.recording("c6", "link.wav", 10).await);
    }
    for rec in bad {
        for what in ["audio", "peaks"] {
            let r = f
                .api
                .get("admin", &format!("/recordings/{rec}/{what}"))
                .await;
            assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{rec} {what}");
            assert_eq!(r.json()["error"]["code"], "internal");
            let text = String::from_utf8_lossy(&r.bytes);
            assert!(
                !text.contains("secret"),
                "leaks the path or the file: {text}"
            );
        }
    }
}

#[tokio::test]
async fn a_missing_file_is_404_and_an_unset_root_is_503() {
    let f = audio_fixture().await;
    let gone = f.api.recording("c4", "2027/01/15/c4.wav", 10).await;
    let r = f.api.get("qa", &format!("/recordings/{gone}/audio")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let db = TestDb::sqlite().await;
    let api = Api::new(db.store.clone(), None).await;
    five_calls(&api).await;
    let rec = api.recording("c1", "2027/01/15/c1.wav", 10).await;
    for what in ["audio", "peaks"] {
        let r = api.get("qa", &format!("/recordings/{rec}/{what}")).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{what}");
        assert_eq!(r.json()["error"]["code"], "not_configured");
    }
}

#[tokio::test]
async fn peaks_give_min_and_max_per_channel_for_the_requested_width() {
    let f = audio_fixture().await;
    let p = f
        .api
        .get_json("qa", &format!("/recordings/{}/peaks?buckets=8", f.rec))
        .await;
    assert_eq!(p["recording_id"], f.rec.as_str());
    assert_eq!(p["sample_rate"], 8000);
    assert_eq!(p["frames"], FRAMES);
    assert_eq!(p["samples_per_peak"], 1000);
    let channels = p["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[0]["name"], "customer");
    assert_eq!(channels[1]["name"], "agent");
    // Each block of 1000 frames holds one whole ramp 0..=999 on the left, negated on the right.
    assert_eq!(channels[0]["min"], serde_json::json!(vec![0; 8]));
    assert_eq!(channels[0]["max"], serde_json::json!(vec![999; 8]));
    assert_eq!(channels[1]["min"], serde_json::json!(vec![-999; 8]));
    assert_eq!(channels[1]["max"], serde_json::json!(vec![0; 8]));

    let default = f
        .api
        .get_json("qa", &format!("/recordings/{}/peaks", f.rec))
        .await;
    assert_eq!(
        default["channels"][0]["min"].as_array().unwrap().len(),
        1000
    );
    for bad in ["0", "10001", "wide"] {
        let r = f
            .api
            .get("qa", &format!("/recordings/{}/peaks?buckets={bad}", f.rec))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.json()["error"]["field"], "buckets");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_call_and_recording_routes() {
    let db = TestDb::sqlite().await;
    let api = Api::new(db.store.clone(), None).await;
    let doc = api.get_json("nobody", "/openapi.json").await;
    for path in [
        "/calls",
        "/calls/{id}",
        "/recordings",
        "/recordings/{id}",
        "/recordings/{id}/audio",
        "/recordings/{id}/peaks",
    ] {
        let op = &doc["paths"][path]["get"];
        assert!(op.is_object(), "GET {path} missing from the document");
        assert!(
            op["responses"]["4XX"].is_object(),
            "{path} has no error schema"
        );
    }
    let audio = &doc["paths"]["/recordings/{id}/audio"]["get"]["responses"];
    for status in ["200", "206"] {
        let schema = &audio[status]["content"]["audio/wav"]["schema"];
        assert_eq!(schema["format"], "binary", "{status}: {schema}");
    }
    assert_eq!(doc["paths"]["/calls"]["get"]["operationId"], "list_calls");
    assert!(doc["components"]["schemas"]["CallView"].is_object());
    assert!(doc["components"]["schemas"]["PeaksView"].is_object());
}
