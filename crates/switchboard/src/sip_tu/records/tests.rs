//! The records writer against a real store, each body on SQLite and on PostgreSQL.

// Test bodies: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use switchboard_core::{CallId, TenantId, UserId};
use switchboard_recording::RecordingInfo;
use switchboard_store::calls::{self, CallState, Direction, HangupBy};
use switchboard_store::outbox::{self, NewSubscription};
use switchboard_store::recordings::{self, RecordingState};
use switchboard_store::testing::{t, tenant};
use switchboard_store::{Store, both_engines};

use super::{RecordUpdate, spawn};

fn started(id: &CallId, tenant: &TenantId, at: i64) -> RecordUpdate {
    RecordUpdate::CallStarted {
        id: id.clone(),
        tenant: tenant.clone(),
        direction: Direction::Inbound,
        caller: "+8613800000001".into(),
        callee: "4008001234".into(),
        target: "extension:1001".into(),
        queue: None,
        agent: None,
        sip_call_id: format!("a-{id}"),
        at: t(at),
    }
}

fn finished(id: &CallId, at: i64) -> RecordUpdate {
    RecordUpdate::RecordingFinished {
        call: id.clone(),
        info: RecordingInfo {
            call_id: id.clone(),
            path: PathBuf::from(format!("2027/01/15/{id}.wav")),
            started_at: t(at),
            frames: 16_000,
            duration_ms: 2_000,
            size_bytes: 64_044,
            sha256: "ab".repeat(32),
            paused: Vec::new(),
            stats: Default::default(),
            truncated: false,
        },
    }
}

/// Every update of one recorded call, in the order the call control sends them.
fn whole_call(id: &CallId, tenant: &TenantId) -> Vec<RecordUpdate> {
    vec![
        started(id, tenant, 0),
        RecordUpdate::RecordingStarted {
            tenant: tenant.clone(),
            call: id.clone(),
            path: format!("2027/01/15/{id}.wav"),
            at: t(0),
        },
        RecordUpdate::Ringing {
            id: id.clone(),
            at: t(1),
        },
        RecordUpdate::Answered {
            id: id.clone(),
            sip_call_id: format!("b-{id}"),
            agent: Some(UserId::from("u-agent")),
            at: t(2),
        },
        RecordUpdate::Ended {
            id: id.clone(),
            cause: calls::end_cause::NORMAL_CLEARING.into(),
            status: Some(200),
            by: HangupBy::Caller,
            at: t(4),
        },
        finished(id, 2),
    ]
}

/// Sends `updates` at once (so the writer drains them as one batch) and waits for the writer.
async fn write_all(store: &Store, updates: Vec<RecordUpdate>) {
    let (tx, writer) = spawn(store.clone(), None);
    for u in updates {
        tx.send(u).unwrap();
    }
    drop(tx);
    writer.await.unwrap();
}

async fn subscribe(store: &Store, tenant: &TenantId, types: &[&str]) {
    let types: Vec<String> = types.iter().map(|s| (*s).to_owned()).collect();
    outbox::insert_subscription(
        store,
        &NewSubscription {
            tenant_id: tenant,
            url: "http://127.0.0.1:9/hook",
            secret: "s3cret",
            event_types: &types,
        },
        t(0),
    )
    .await
    .unwrap();
}

fn payload(e: &outbox::OutboxEvent) -> serde_json::Value {
    serde_json::from_str(&e.payload).unwrap()
}

async fn a_batch_files_the_call_its_recording_and_their_events(store: Store) {
    let acme = tenant(&store, "acme").await;
    subscribe(&store, &acme, &["call.*", "recording.ready"]).await;
    let id = CallId::from("c1");
    write_all(&store, whole_call(&id, &acme)).await;

    let call = calls::get_call(&store, &acme, &id).await.unwrap().unwrap();
    assert_eq!(call.state, CallState::Ended);
    assert_eq!(call.ringing_at, Some(t(1)));
    assert_eq!(call.answered_at, Some(t(2)));
    assert_eq!(call.agent_user_id, Some(UserId::from("u-agent")));
    let rec = recordings::recording_for_call(&store, &acme, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.state, RecordingState::Complete);
    assert_eq!(call.recording_id.as_deref(), Some(rec.id.as_str()));
    assert_eq!(rec.sha256.as_deref(), Some("ab".repeat(32).as_str()));

    let events = outbox::list(&store, &acme, 100).await.unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "call.started",
            "call.answered",
            "call.ended",
            "recording.ready"
        ]
    );
    let started = payload(&events[0]);
    assert_eq!(started["id"], "c1");
    assert_eq!(started["state"], "setup");
    assert_eq!(payload(&events[1])["state"], "answered");
    let ended = payload(&events[2]);
    assert_eq!(ended["state"], "ended");
    assert_eq!(ended["end_cause"], "normal-clearing");
    assert_eq!(ended["duration_ms"], 4_000);
    assert_eq!(ended["recording_id"], rec.id.as_str());
    let ready = payload(&events[3]);
    assert_eq!(ready["id"], rec.id.as_str());
    assert_eq!(ready["call_id"], "c1");
    assert_eq!(ready["duration_ms"], 2_000);
    assert_eq!(ready["size_bytes"], 64_044);
    assert_eq!(ready["state"], "complete");
    assert_eq!(
        ready["audio_url"],
        format!("/api/v1/recordings/{}/audio", rec.id)
    );
}

async fn without_a_subscription_no_event_is_written(store: Store) {
    let acme = tenant(&store, "acme").await;
    // Another tenant's subscription does not count, nor does one for other types.
    let other = tenant(&store, "other").await;
    subscribe(&store, &other, &["*"]).await;
    subscribe(&store, &acme, &["ticket.*"]).await;
    write_all(&store, whole_call(&CallId::from("c1"), &acme)).await;

    let call = calls::get_call(&store, &acme, &CallId::from("c1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.state, CallState::Ended);
    assert!(outbox::list(&store, &acme, 100).await.unwrap().is_empty());
}

async fn one_bad_update_costs_only_itself(store: Store) {
    let acme = tenant(&store, "acme").await;
    let mut updates = whole_call(&CallId::from("c1"), &acme);
    // A call the store never heard of: its update fails, in the middle of the batch.
    updates.insert(
        3,
        RecordUpdate::Ringing {
            id: CallId::from("nobody"),
            at: t(1),
        },
    );
    updates.extend(whole_call(&CallId::from("c2"), &acme));
    write_all(&store, updates).await;

    for id in ["c1", "c2"] {
        let call = calls::get_call(&store, &acme, &CallId::from(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(call.state, CallState::Ended, "{id}");
        let rec = recordings::recording_for_call(&store, &acme, &CallId::from(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.state, RecordingState::Complete, "{id}");
    }
}

async fn a_call_row_never_commits_without_its_event(store: Store) {
    let acme = tenant(&store, "acme").await;
    subscribe(&store, &acme, &["call.started"]).await;
    // The outbox cannot take the event: the row announcing it must not be written either.
    sqlx::query("ALTER TABLE outbox RENAME TO outbox_away")
        .execute(store.pool())
        .await
        .unwrap();
    write_all(&store, vec![started(&CallId::from("c1"), &acme, 0)]).await;
    assert!(
        calls::get_call(&store, &acme, &CallId::from("c1"))
            .await
            .unwrap()
            .is_none()
    );

    // With the outbox back, the next call commits with its event.
    sqlx::query("ALTER TABLE outbox_away RENAME TO outbox")
        .execute(store.pool())
        .await
        .unwrap();
    write_all(&store, vec![started(&CallId::from("c2"), &acme, 0)]).await;
    assert!(
        calls::get_call(&store, &acme, &CallId::from("c2"))
            .await
            .unwrap()
            .is_some()
    );
    let events = outbox::list(&store, &acme, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(payload(&events[0])["id"], "c2");
}

/// The recorder makes its file on another thread: its failure may reach the writer before or
/// after the call control's RecordingStarted; either way no row is left behind.
async fn a_recording_whose_file_failed_leaves_no_row(store: Store) {
    let acme = tenant(&store, "acme").await;
    let recording_started = |id: &CallId| RecordUpdate::RecordingStarted {
        tenant: acme.clone(),
        call: id.clone(),
        path: format!("2027/01/15/{id}.wav"),
        at: t(0),
    };
    let failed = |id: &CallId| RecordUpdate::RecordingFailed { call: id.clone() };
    let (after, before) = (CallId::from("c-after"), CallId::from("c-before"));
    write_all(
        &store,
        vec![
            started(&after, &acme, 0),
            recording_started(&after),
            failed(&after),
            started(&before, &acme, 0),
            failed(&before),
            recording_started(&before),
        ],
    )
    .await;
    for id in [&after, &before] {
        assert!(calls::get_call(&store, &acme, id).await.unwrap().is_some());
        assert!(
            recordings::recording_for_call(&store, &acme, id)
                .await
                .unwrap()
                .is_none(),
            "{id}: no recording row"
        );
    }
    // Without the failure the same updates leave the row.
    let later = CallId::from("c-later");
    write_all(
        &store,
        vec![started(&later, &acme, 0), recording_started(&later)],
    )
    .await;
    assert!(
        recordings::recording_for_call(&store, &acme, &later)
            .await
            .unwrap()
            .is_some()
    );
}

both_engines!(
    a_recording_whose_file_failed_leaves_no_row,
    a_batch_files_the_call_its_recording_and_their_events,
    without_a_subscription_no_event_is_written,
    one_bad_update_costs_only_itself,
    a_call_row_never_commits_without_its_event,
);

/// The payload builders mirror the API's view types; their field names must be exactly the
/// properties the OpenAPI document gives those views.
#[test]
fn payloads_have_the_api_bodies_fields() {
    use std::collections::BTreeSet;
    use switchboard_store::recordings::Recording;

    let doc = serde_json::to_value(switchboard_crm::api::openapi::document()).unwrap();
    let props = |schema: &str| -> BTreeSet<String> {
        doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"))
            .keys()
            .cloned()
            .collect()
    };
    let keys = |v: serde_json::Value| -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    };
    let call = calls::CallRecord {
        id: CallId::from("c1"),
        tenant_id: TenantId::from("acme"),
        direction: Direction::Inbound,
        caller: "1".into(),
        callee: "2".into(),
        target: None,
        agent_user_id: None,
        queue: None,
        campaign_id: None,
        sip_call_id_a: "a".into(),
        sip_call_id_b: None,
        started_at: t(0),
        ringing_at: None,
        answered_at: None,
        ended_at: None,
        state: CallState::Setup,
        end_cause: None,
        sip_status: None,
        hangup_by: None,
        recording_id: None,
        node: None,
    };
    assert_eq!(keys(super::events::call(&call)), props("CallView"));
    let rec = Recording {
        id: "r1".into(),
        tenant_id: TenantId::from("acme"),
        call_id: CallId::from("c1"),
        path: "x.wav".into(),
        started_at: t(0),
        duration_ms: 0,
        size_bytes: 0,
        sha256: None,
        channels: 2,
        sample_rate: 8000,
        paused_json: "[]".into(),
        state: RecordingState::Recording,
        created_at: t(0),
        deleted_at: None,
    };
    assert_eq!(keys(super::events::recording(&rec)), props("RecordingView"));
    let task = switchboard_store::tasks::TaskRecord {
        id: switchboard_core::TaskId::from("t1"),
        tenant_id: TenantId::from("acme"),
        call_id: None,
        customer_phone: "+8613800000001".into(),
        reason: "abandoned_while_waiting".into(),
        owner: switchboard_store::tasks::TaskOwner::Queue(switchboard_core::QueueId::from("q")),
        state: switchboard_store::tasks::TaskState::Open,
        due_at: t(0),
        claimed_by: None,
        claimed_at: None,
        created_at: t(0),
        updated_at: t(0),
        done_at: None,
        result: None,
        note: None,
    };
    assert_eq!(keys(super::events::task(&task)), props("TaskView"));
}
