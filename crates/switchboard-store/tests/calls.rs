//! Call detail records and recording rows — each body on SQLite and on PostgreSQL.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use switchboard_core::{CallId, TenantId, UserId};
use switchboard_store::calls::{
    self, CallCursor, CallEnd, CallFilter, CallState, CloseOutcome, Direction, HangupBy, NewCall,
    end_cause,
};
use switchboard_store::recordings::{self, NewRecording, RecordingFilter, RecordingState};
use switchboard_store::{Store, StoreError, both_engines};

use switchboard_store::testing::{t, tenant};

/// Inserts an inbound call from `caller` to 4008001234 started at `t(at)`.
async fn start(store: &Store, tenant: &TenantId, id: &str, caller: &str, at: i64) -> CallId {
    let id = CallId::from(id);
    calls::insert_call(
        store,
        &NewCall {
            id: &id,
            tenant_id: tenant,
            direction: Direction::Inbound,
            caller,
            callee: "+864008001234",
            target: Some("queue:sales"),
            agent_user_id: None,
            queue: Some("sales"),
            campaign_id: None,
            sip_call_id_a: &format!("a-{id}"),
            started_at: t(at),
            node: None,
        },
    )
    .await
    .unwrap();
    id
}

fn normal_end(at: i64, by: HangupBy) -> CallEnd<'static> {
    CallEnd {
        ended_at: t(at),
        end_cause: end_cause::NORMAL_CLEARING,
        sip_status: Some(200),
        hangup_by: by,
    }
}

async fn get(store: &Store, tenant: &TenantId, id: &CallId) -> calls::CallRecord {
    calls::get_call(store, tenant, id).await.unwrap().unwrap()
}

async fn an_answered_call_records_each_step_and_its_durations(store: Store) {
    let acme = tenant(&store, "acme").await;
    let agent = UserId::from("u-agent");
    let id = start(&store, &acme, "c1", "+8613800000001", 0).await;

    let c = get(&store, &acme, &id).await;
    assert_eq!(c.state, CallState::Setup);
    assert_eq!(c.direction, Direction::Inbound);
    assert_eq!(c.target.as_deref(), Some("queue:sales"));
    assert_eq!(c.sip_call_id_a, "a-c1");
    assert_eq!((c.duration_ms(), c.talk_ms()), (None, None));

    assert!(calls::mark_ringing(&store, &id, t(2)).await.unwrap());
    assert_eq!(get(&store, &acme, &id).await.state, CallState::Ringing);
    assert!(
        calls::mark_answered(&store, &id, t(7), "b-c1", Some(&agent))
            .await
            .unwrap()
    );
    let outcome = calls::close_call(&store, &id, &normal_end(67, HangupBy::Callee))
        .await
        .unwrap();
    assert_eq!(outcome, CloseOutcome::Closed);

    let c = get(&store, &acme, &id).await;
    assert_eq!(c.state, CallState::Ended);
    assert_eq!(c.ringing_at, Some(t(2)));
    assert_eq!(c.answered_at, Some(t(7)));
    assert_eq!(c.ended_at, Some(t(67)));
    assert_eq!(c.sip_call_id_b.as_deref(), Some("b-c1"));
    assert_eq!(c.agent_user_id.as_ref(), Some(&agent));
    assert_eq!(c.end_cause.as_deref(), Some("normal-clearing"));
    assert_eq!(c.sip_status, Some(200));
    assert_eq!(c.hangup_by, Some(HangupBy::Callee));
    assert_eq!(c.duration_ms(), Some(67_000));
    assert_eq!(c.talk_ms(), Some(60_000));
}

async fn an_unanswered_call_has_a_duration_but_no_talk_time(store: Store) {
    let acme = tenant(&store, "acme").await;
    let id = start(&store, &acme, "c1", "+8613800000001", 0).await;
    calls::mark_ringing(&store, &id, t(1)).await.unwrap();
    let end = CallEnd {
        ended_at: t(21),
        end_cause: end_cause::NO_ANSWER,
        sip_status: Some(480),
        hangup_by: HangupBy::System,
    };
    calls::close_call(&store, &id, &end).await.unwrap();
    let c = get(&store, &acme, &id).await;
    assert_eq!(c.duration_ms(), Some(21_000));
    assert_eq!(c.talk_ms(), None);
    assert_eq!(c.sip_status, Some(480));
}

async fn late_events_do_not_move_a_call_backwards(store: Store) {
    let acme = tenant(&store, "acme").await;
    let id = start(&store, &acme, "c1", "+8613800000001", 0).await;
    assert!(
        calls::mark_answered(&store, &id, t(3), "b-1", None)
            .await
            .unwrap()
    );
    assert!(
        !calls::mark_ringing(&store, &id, t(4)).await.unwrap(),
        "a 180 after the 200 is ignored"
    );
    assert!(
        !calls::mark_answered(&store, &id, t(5), "b-2", None)
            .await
            .unwrap(),
        "a second answer is ignored"
    );
    let c = get(&store, &acme, &id).await;
    assert_eq!(c.state, CallState::Answered);
    assert_eq!(c.ringing_at, None);
    assert_eq!(c.answered_at, Some(t(3)));
    assert_eq!(c.sip_call_id_b.as_deref(), Some("b-1"));
}

async fn closing_a_closed_call_changes_nothing_and_says_so(store: Store) {
    let acme = tenant(&store, "acme").await;
    let id = start(&store, &acme, "c1", "+8613800000001", 0).await;
    calls::mark_answered(&store, &id, t(3), "b-1", None)
        .await
        .unwrap();
    let first = calls::close_call(&store, &id, &normal_end(30, HangupBy::Caller))
        .await
        .unwrap();
    let again = CallEnd {
        ended_at: t(31),
        end_cause: end_cause::MEDIA_TIMEOUT_NO_RTP,
        sip_status: None,
        hangup_by: HangupBy::System,
    };
    let second = calls::close_call(&store, &id, &again).await.unwrap();
    assert_eq!(
        (first, second),
        (CloseOutcome::Closed, CloseOutcome::AlreadyClosed)
    );
    let c = get(&store, &acme, &id).await;
    assert_eq!(c.ended_at, Some(t(30)));
    assert_eq!(c.end_cause.as_deref(), Some("normal-clearing"));
    assert_eq!(c.hangup_by, Some(HangupBy::Caller));
    assert!(
        !calls::mark_answered(&store, &id, t(32), "b-2", None)
            .await
            .unwrap()
    );
}

async fn unknown_calls_are_not_found(store: Store) {
    tenant(&store, "acme").await;
    let ghost = CallId::from("ghost");
    let err = calls::mark_ringing(&store, &ghost, t(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = calls::close_call(&store, &ghost, &normal_end(2, HangupBy::Caller))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

async fn a_call_id_is_inserted_once(store: Store) {
    let acme = tenant(&store, "acme").await;
    start(&store, &acme, "c1", "+8613800000001", 0).await;
    let id = CallId::from("c1");
    let err = calls::insert_call(
        &store,
        &NewCall {
            id: &id,
            tenant_id: &acme,
            direction: Direction::Outbound,
            caller: "1001",
            callee: "+8613800000002",
            target: Some("trunk:main"),
            agent_user_id: None,
            queue: None,
            campaign_id: None,
            sip_call_id_a: "x",
            started_at: t(1),
            node: None,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
}

async fn a_tenant_never_sees_another_tenants_calls(store: Store) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let id = start(&store, &acme, "c1", "+8613800000001", 0).await;
    start(&store, &globex, "c2", "+8613800000001", 1).await;
    assert!(
        calls::get_call(&store, &globex, &id)
            .await
            .unwrap()
            .is_none()
    );
    let page = calls::list_calls(
        &store,
        &globex,
        &CallFilter {
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ids: Vec<&str> = page.items.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c2"]);
}

async fn list(store: &Store, tenant: &TenantId, f: CallFilter<'_>) -> calls::CallPage {
    calls::list_calls(store, tenant, &f).await.unwrap()
}

fn ids(page: &calls::CallPage) -> Vec<&str> {
    page.items.iter().map(|c| c.id.as_str()).collect()
}

async fn calls_are_listed_newest_first_and_filtered(store: Store) {
    let acme = tenant(&store, "acme").await;
    let agent = UserId::from("u-1");
    start(&store, &acme, "c1", "+8613800000001", 10).await;
    let c2 = start(&store, &acme, "c2", "+8613800000002", 20).await;
    start(&store, &acme, "c3", "+8613800000001", 30).await;
    let c4 = start(&store, &acme, "c4", "+8613800000003", 40).await;
    calls::mark_answered(&store, &c2, t(21), "b", Some(&agent))
        .await
        .unwrap();
    calls::close_call(&store, &c4, &normal_end(41, HangupBy::Caller))
        .await
        .unwrap();

    let all = list(
        &store,
        &acme,
        CallFilter {
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&all), ["c4", "c3", "c2", "c1"]);
    assert_eq!(all.next, None, "a page that is not full has no next");

    let window = list(
        &store,
        &acme,
        CallFilter {
            since: Some(t(20)),
            until: Some(t(40)),
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        ids(&window),
        ["c3", "c2"],
        "since inclusive, until exclusive"
    );

    let by_number = list(
        &store,
        &acme,
        CallFilter {
            number: Some("+8613800000001"),
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&by_number), ["c3", "c1"]);
    let by_callee = list(
        &store,
        &acme,
        CallFilter {
            number: Some("+864008001234"),
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_callee.items.len(), 4, "the number dialled matches too");

    let by_agent = list(
        &store,
        &acme,
        CallFilter {
            agent: Some(&agent),
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&by_agent), ["c2"]);

    let ended = list(
        &store,
        &acme,
        CallFilter {
            state: Some(CallState::Ended),
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&ended), ["c4"]);
}

async fn the_cursor_pages_through_calls_started_in_the_same_millisecond(store: Store) {
    let acme = tenant(&store, "acme").await;
    // Five calls, three of them in one millisecond: paging must neither skip nor repeat.
    for (id, at) in [("c1", 1), ("c2", 2), ("c3", 2), ("c4", 2), ("c5", 3)] {
        start(&store, &acme, id, "+8613800000001", at).await;
    }
    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = calls::list_calls(
            &store,
            &acme,
            &CallFilter {
                limit: 2,
                before: before.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|c| c.id.to_string()));
        match page.next {
            Some(next) => {
                let round_trip = CallCursor::decode(&next.encode()).unwrap();
                assert_eq!(round_trip, next);
                before = Some(round_trip);
            }
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, ["c5", "c4", "c3", "c2", "c1"]);
    assert_eq!(
        pages, 3,
        "2 + 2 + 1; the last page is not full so has no next"
    );
    assert_eq!(CallCursor::decode("not hex"), None);
    assert_eq!(CallCursor::decode(&hex_of("12:")), None);
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

async fn a_restart_closes_the_calls_a_crash_left_open(store: Store) {
    let acme = tenant(&store, "acme").await;
    let done = start(&store, &acme, "done", "+8613800000001", 0).await;
    calls::close_call(&store, &done, &normal_end(5, HangupBy::Caller))
        .await
        .unwrap();
    let talking = start(&store, &acme, "talking", "+8613800000002", 1).await;
    calls::mark_answered(&store, &talking, t(2), "b", None)
        .await
        .unwrap();
    let ringing = start(&store, &acme, "ringing", "+8613800000003", 3).await;
    calls::mark_ringing(&store, &ringing, t(4)).await.unwrap();

    // The process dies here; the next start closes what was open.
    let closed = calls::close_open_calls(&store, None, end_cause::SERVER_RESTART, t(100))
        .await
        .unwrap();
    assert_eq!(closed, 2);
    for id in [&talking, &ringing] {
        let c = get(&store, &acme, id).await;
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.ended_at, Some(t(100)));
        assert_eq!(c.end_cause.as_deref(), Some("server-restart"));
        assert_eq!(c.hangup_by, Some(HangupBy::System));
    }
    assert_eq!(get(&store, &acme, &talking).await.talk_ms(), Some(98_000));
    let untouched = get(&store, &acme, &done).await;
    assert_eq!(untouched.ended_at, Some(t(5)));
    assert_eq!(untouched.end_cause.as_deref(), Some("normal-clearing"));
    assert_eq!(
        calls::close_open_calls(&store, None, end_cause::SERVER_RESTART, t(200))
            .await
            .unwrap(),
        0,
        "a second start finds nothing open"
    );
}

async fn a_node_closes_only_its_own_open_calls(store: Store) {
    let acme = tenant(&store, "acme").await;
    for (id, node) in [("on-n1", "n1"), ("on-n2", "n2")] {
        let id = CallId::from(id);
        calls::insert_call(
            &store,
            &NewCall {
                id: &id,
                tenant_id: &acme,
                direction: Direction::Internal,
                caller: "1001",
                callee: "1002",
                target: Some("extension:1002"),
                agent_user_id: None,
                queue: None,
                campaign_id: None,
                sip_call_id_a: "a",
                started_at: t(0),
                node: Some(node),
            },
        )
        .await
        .unwrap();
    }
    let closed = calls::close_open_calls(&store, Some("n1"), end_cause::SERVER_RESTART, t(9))
        .await
        .unwrap();
    assert_eq!(closed, 1);
    let n1 = get(&store, &acme, &CallId::from("on-n1")).await;
    let n2 = get(&store, &acme, &CallId::from("on-n2")).await;
    assert_eq!(n1.state, CallState::Ended);
    assert_eq!(n2.state, CallState::Setup, "another node's call stays open");
}

async fn a_recording_row_exists_from_the_start_and_is_completed(store: Store) {
    let acme = tenant(&store, "acme").await;
    let call = start(&store, &acme, "c1", "+8613800000001", 0).await;
    let rec = recordings::insert_recording(
        &store,
        &NewRecording {
            tenant_id: &acme,
            call_id: &call,
            path: "2027/01/15/c1.wav",
            started_at: t(5),
            channels: 2,
            sample_rate: 8000,
            created_at: t(5),
        },
    )
    .await
    .unwrap();
    assert_eq!(rec.state, RecordingState::Recording);
    let stored = recordings::get_recording(&store, &acme, &rec.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, rec, "what insert returns is what was stored");
    assert_eq!(
        get(&store, &acme, &call).await.recording_id.as_deref(),
        Some(rec.id.as_str()),
        "the call points at its recording"
    );
    let open = recordings::recordings_in_state(&store, RecordingState::Recording, None)
        .await
        .unwrap();
    assert_eq!(open, std::slice::from_ref(&rec));

    recordings::complete_recording(
        &store,
        &rec.id,
        61_500,
        984_044,
        "ab12",
        r#"[{"from_ms":1000,"to_ms":9000}]"#,
        RecordingState::Complete,
    )
    .await
    .unwrap();
    let done = recordings::recording_for_call(&store, &acme, &call)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.state, RecordingState::Complete);
    assert_eq!(
        (done.duration_ms, done.size_bytes, done.sha256.as_deref()),
        (61_500, 984_044, Some("ab12"))
    );
    assert_eq!(done.paused_json, r#"[{"from_ms":1000,"to_ms":9000}]"#);
    assert_eq!((done.channels, done.sample_rate), (2, 8000));
    assert!(
        recordings::recordings_in_state(&store, RecordingState::Recording, None)
            .await
            .unwrap()
            .is_empty()
    );
    let err =
        recordings::complete_recording(&store, "nope", 0, 0, "", "[]", RecordingState::Repaired)
            .await
            .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

async fn recordings_stay_within_their_tenant(store: Store) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let call = start(&store, &acme, "c1", "+8613800000001", 0).await;
    let new = |tenant| NewRecording {
        tenant_id: tenant,
        call_id: &call,
        path: "2027/01/15/c1.wav",
        started_at: t(1),
        channels: 2,
        sample_rate: 8000,
        created_at: t(1),
    };
    let err = recordings::insert_recording(&store, &new(&globex))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "another tenant's call cannot be recorded: {err:?}"
    );
    let rec = recordings::insert_recording(&store, &new(&acme))
        .await
        .unwrap();
    assert!(
        recordings::get_recording(&store, &globex, &rec.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        recordings::recording_for_call(&store, &globex, &call)
            .await
            .unwrap()
            .is_none()
    );
    let page = recordings::list_recordings(
        &store,
        &globex,
        &RecordingFilter {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(page.items.is_empty());
}

async fn recordings_are_listed_newest_first_by_page(store: Store) {
    let acme = tenant(&store, "acme").await;
    let mut made = Vec::new();
    for (i, at) in [10, 20, 20, 30].into_iter().enumerate() {
        let call = start(&store, &acme, &format!("c{i}"), "+8613800000001", at).await;
        let rec = recordings::insert_recording(
            &store,
            &NewRecording {
                tenant_id: &acme,
                call_id: &call,
                path: &format!("2027/01/15/c{i}.wav"),
                started_at: t(at),
                channels: 2,
                sample_rate: 8000,
                created_at: t(at),
            },
        )
        .await
        .unwrap();
        made.push(rec);
    }
    // Newest first; the two at t(20) by id descending.
    let mut expected: Vec<_> = made.iter().collect();
    expected.sort_by(|a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)));
    let expected: Vec<&str> = expected.iter().map(|r| r.id.as_str()).collect();

    let mut seen = Vec::new();
    let mut before = None;
    for _ in 0..5 {
        let page = recordings::list_recordings(
            &store,
            &acme,
            &RecordingFilter {
                limit: 3,
                before: before.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        seen.extend(page.items.iter().map(|r| r.id.clone()));
        before = page.next;
        if before.is_none() {
            break;
        }
    }
    assert_eq!(seen, expected);

    let window = recordings::list_recordings(
        &store,
        &acme,
        &RecordingFilter {
            since: Some(t(15)),
            until: Some(t(30)),
            limit: 10,
            before: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(window.items.len(), 2);
    assert!(window.items.iter().all(|r| r.started_at == t(20)));
}

both_engines!(
    an_answered_call_records_each_step_and_its_durations,
    an_unanswered_call_has_a_duration_but_no_talk_time,
    late_events_do_not_move_a_call_backwards,
    closing_a_closed_call_changes_nothing_and_says_so,
    unknown_calls_are_not_found,
    a_call_id_is_inserted_once,
    a_tenant_never_sees_another_tenants_calls,
    calls_are_listed_newest_first_and_filtered,
    the_cursor_pages_through_calls_started_in_the_same_millisecond,
    a_restart_closes_the_calls_a_crash_left_open,
    a_node_closes_only_its_own_open_calls,
    a_recording_row_exists_from_the_start_and_is_completed,
    recordings_stay_within_their_tenant,
    recordings_are_listed_newest_first_by_page,
);
