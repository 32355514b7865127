//! What the agent console (the page at `/`) reads besides the customer file, through the real
//! router on SQLite and PostgreSQL: the caller's softphone account (`GET /me/softphone`) and the
//! queue wait-alert banner (`GET /queues/live`, which agents see only for their own queues).

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_core::TenantId;
use switchboard_crm::live::{LiveCommand, LiveHandle, LiveReply, live_channel};
use switchboard_crm::router;
use switchboard_store::Store;
use switchboard_store::sip::{self, NewSipCredential};

mod support;
use support::{People, send, ts};

struct Api {
    router: Router,
    people: People,
}

impl Api {
    fn new(store: &Store, live: LiveHandle, people: People) -> Api {
        let state = support::acme_state(store).with_live(live);
        Api {
            router: Router::new().nest("/api/v1", router(state)),
            people,
        }
    }

    async fn call(
        &self,
        who: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = self.people.tokens.get(who).map(String::as_str);
        let (status, _, bytes) = send(
            &self.router,
            token,
            method,
            path,
            &[],
            body.map(|b| b.to_string()),
        )
        .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

/// The call control's snapshot as it sends it: queue ids carry the tenant, durations are
/// `{secs, nanos}`; `agents` lists the user ids given.
fn call_control(agents: Vec<String>) -> LiveHandle {
    let (live, mut rx) = live_channel(8);
    tokio::spawn(async move {
        while let Some((command, reply)) = rx.recv().await {
            let answer = match command {
                LiveCommand::QueueLive { .. } => LiveReply::Json(json!({
                    "queues": [
                        {"queue": "acme/sales", "waiting": ["c1", "c2"],
                         "longest_current_wait": {"secs": 45, "nanos": 0}},
                        {"queue": "acme/support", "waiting": ["c3"],
                         "longest_current_wait": {"secs": 45, "nanos": 0}},
                    ],
                    "agents": agents.iter().map(|a| json!({"agent": a, "status": {"status": "ready"}})).collect::<Vec<_>>(),
                })),
                _ => LiveReply::Done,
            };
            let _ = reply.send(Ok(answer));
        }
    });
    live
}

async fn the_softphone_account_is_the_callers_extension_and_domain(store: Store) {
    let (live, _rx) = live_channel(1);
    let api = Api::new(&store, live, People::seed(&store).await);
    sip::upsert_credential(
        &store,
        &NewSipCredential {
            tenant_id: &TenantId::from("acme"),
            user_id: Some(&api.people.ids["agent"]),
            username: "1001",
            realm: "acme.example",
            extension: Some("1001"),
            ha1_md5: "0",
            ha1_sha256: "0",
        },
        ts(0),
    )
    .await
    .unwrap();
    let (status, body) = api.call("agent", "GET", "/me/softphone", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"extension": "1001", "domain": "acme.example", "uri": "sip:1001@acme.example", "ws_path": "/sip"})
    );
    // Nothing secret in it: the SIP password is the login password the page already has.
    assert!(!body.to_string().contains("ha1"));
    // An agent without a phone gets 404 naming what is missing; QA takes no calls.
    let (status, body) = api.call("agent2", "GET", "/me/softphone", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SIP extension"),
        "{body}"
    );
    assert_eq!(
        api.call("qa", "GET", "/me/softphone", None).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn an_agent_sees_the_wait_alert_of_their_own_queues_only(store: Store) {
    let people = People::seed(&store).await;
    let everyone: Vec<String> = ["agent", "agent2", "supervisor"]
        .iter()
        .map(|w| people.ids[*w].to_string())
        .collect();
    let api = Api::new(&store, call_control(everyone), people);
    // sales alerts after 30 s, support after 60 s (the service rules' default).
    for (id, config) in [("sales", json!({"wait_alert": 30})), ("support", json!({}))] {
        let (status, body) = api
            .call(
                "supervisor",
                "POST",
                "/queues",
                Some(json!({"id": id, "name": id, "config": config})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let agent = api.people.ids["agent"].to_string();
    let (status, body) = api
        .call(
            "supervisor",
            "PUT",
            &format!("/queues/sales/members/{agent}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The supervisor sees the whole floor, each queue with its threshold and alert.
    let (status, floor) = api.call("supervisor", "GET", "/queues/live", None).await;
    assert_eq!(status, StatusCode::OK, "{floor}");
    let alerts: Vec<(String, u64, bool)> = floor["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["queue"].as_str().unwrap().to_owned(),
                q["wait_alert_secs"].as_u64().unwrap(),
                q["wait_alert"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        alerts,
        vec![
            ("acme/sales".into(), 30, true),
            ("acme/support".into(), 60, false)
        ]
    );
    assert_eq!(floor["agents"].as_array().unwrap().len(), 3);

    // The agent (a member of sales only) sees sales and their own line.
    let (status, mine) = api.call("agent", "GET", "/queues/live", None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["queues"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["queues"][0]["queue"], "acme/sales");
    assert_eq!(mine["queues"][0]["wait_alert"], true);
    assert_eq!(
        mine["agents"],
        json!([{"agent": agent, "status": {"status": "ready"}}])
    );

    // agent2 is in no queue: no banner to show, nobody else's state.
    let (_, none) = api.call("agent2", "GET", "/queues/live", None).await;
    assert_eq!(none["queues"], json!([]));
    assert_eq!(none["agents"].as_array().unwrap().len(), 1);
}

switchboard_store::both_engines!(
    the_softphone_account_is_the_callers_extension_and_domain,
    an_agent_sees_the_wait_alert_of_their_own_queues_only,
);
