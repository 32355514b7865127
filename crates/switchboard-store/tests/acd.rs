//! ACD persistence (queues, members, agent states) and call-back tasks — each body on SQLite
//! and on PostgreSQL.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use switchboard_core::{CallId, QueueId, TaskId, TenantId, Timestamp, UserId};
use switchboard_store::acd::{self, AgentStateRow, MemberRecord, QueueUpsert, agent_status};
use switchboard_store::tasks::{
    self, NewTask, TaskChange, TaskCursor, TaskFilter, TaskOwner, TaskRecord, TaskState,
    callback_reason,
};
use switchboard_store::{Store, StoreError, both_engines};

use switchboard_store::testing::{t, tenant};

async fn put_queue(
    store: &Store,
    tenant: &TenantId,
    id: &str,
    number: Option<&str>,
    config: &str,
    at: i64,
) -> Result<(), StoreError> {
    acd::upsert_queue(
        store,
        &QueueUpsert {
            tenant_id: tenant,
            id: &QueueId::from(id),
            name: &format!("{id} line"),
            number,
            config_json: config,
            now: t(at),
        },
    )
    .await
}

fn member(tenant: &TenantId, queue: &str, agent: &str, priority: i64) -> MemberRecord {
    MemberRecord {
        tenant_id: tenant.clone(),
        queue_id: queue.into(),
        agent_user_id: agent.into(),
        skills_json: r#"{"billing":3}"#.to_owned(),
        level: 1,
        priority,
        site: "paris".into(),
    }
}

fn state(tenant: &TenantId, agent: &str, status: &str, at: i64) -> AgentStateRow {
    AgentStateRow {
        tenant_id: tenant.clone(),
        agent_user_id: agent.into(),
        status: status.to_owned(),
        reason: None,
        cause: Some("agent_request".to_owned()),
        since: t(at),
        call_id: None,
    }
}

fn is_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict { .. }))
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound { .. }))
}

async fn queues_are_created_updated_listed_and_deleted_only_without_members(store: Store) {
    let acme = tenant(&store, "acme").await;
    let sales = QueueId::from("sales");
    put_queue(&store, &acme, "sales", Some("+864008001234"), "{}", 1)
        .await
        .unwrap();
    put_queue(&store, &acme, "care", None, "{}", 2)
        .await
        .unwrap();

    let q = acd::get_queue(&store, &acme, &sales)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(q.name, "sales line");
    assert_eq!(q.number.as_deref(), Some("+864008001234"));
    assert_eq!((q.created_at, q.updated_at), (t(1), t(1)));

    // An update replaces settings and number but keeps the creation time.
    let ring_all = r#"{"strategy":"ring_all"}"#;
    put_queue(&store, &acme, "sales", Some("+864008009999"), ring_all, 5)
        .await
        .unwrap();
    let q = acd::get_queue(&store, &acme, &sales)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(q.config_json, ring_all);
    assert_eq!(q.number.as_deref(), Some("+864008009999"));
    assert_eq!((q.created_at, q.updated_at), (t(1), t(5)));

    // A dialled number routes to one queue only.
    assert!(is_conflict(
        put_queue(&store, &acme, "care", Some("+864008009999"), "{}", 6).await
    ));
    let ids: Vec<String> = acd::list_queues(&store, &acme)
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.id.into_string())
        .collect();
    assert_eq!(ids, ["care", "sales"]);

    acd::upsert_member(&store, &member(&acme, "sales", "u-1", 0))
        .await
        .unwrap();
    assert!(is_conflict(acd::delete_queue(&store, &acme, &sales).await));
    assert!(
        acd::get_queue(&store, &acme, &sales)
            .await
            .unwrap()
            .is_some()
    );

    acd::remove_member(&store, &acme, &sales, &UserId::from("u-1"))
        .await
        .unwrap();
    acd::delete_queue(&store, &acme, &sales).await.unwrap();
    assert!(
        acd::get_queue(&store, &acme, &sales)
            .await
            .unwrap()
            .is_none()
    );
    assert!(is_not_found(acd::delete_queue(&store, &acme, &sales).await));
}
both_engines!(queues_are_created_updated_listed_and_deleted_only_without_members);

async fn members_are_listed_by_tier_and_by_agent(store: Store) {
    let acme = tenant(&store, "acme").await;
    for q in ["sales", "care", "vip"] {
        put_queue(&store, &acme, q, None, "{}", 0).await.unwrap();
    }
    let sales = QueueId::from("sales");
    acd::upsert_member(&store, &member(&acme, "sales", "u-b", 1))
        .await
        .unwrap();
    acd::upsert_member(&store, &member(&acme, "sales", "u-c", 0))
        .await
        .unwrap();
    acd::upsert_member(&store, &member(&acme, "sales", "u-a", 1))
        .await
        .unwrap();
    acd::upsert_member(&store, &member(&acme, "care", "u-a", 0))
        .await
        .unwrap();

    let agents = |ms: Vec<MemberRecord>| -> Vec<String> {
        ms.into_iter()
            .map(|m| m.agent_user_id.into_string())
            .collect()
    };
    let listed = acd::list_members(&store, &acme, &sales).await.unwrap();
    assert_eq!(agents(listed.clone()), ["u-c", "u-a", "u-b"]);
    assert_eq!(listed[0].skills_json, r#"{"billing":3}"#);
    assert_eq!(listed[0].site.as_str(), "paris");

    // Upserting again replaces the membership rather than adding a second one.
    let mut promoted = member(&acme, "sales", "u-b", 0);
    promoted.skills_json = r#"{"billing":5,"french":2}"#.to_owned();
    promoted.level = 3;
    acd::upsert_member(&store, &promoted).await.unwrap();
    let listed = acd::list_members(&store, &acme, &sales).await.unwrap();
    assert_eq!(agents(listed.clone()), ["u-b", "u-c", "u-a"]);
    assert_eq!(listed[0], promoted);

    let of_a = acd::queues_of_agent(&store, &acme, &UserId::from("u-a"))
        .await
        .unwrap();
    let queues: Vec<&str> = of_a.iter().map(|m| m.queue_id.as_str()).collect();
    assert_eq!(queues, ["care", "sales"]);

    assert!(is_not_found(
        acd::upsert_member(&store, &member(&acme, "nosuch", "u-a", 0)).await
    ));
    assert!(is_not_found(
        acd::remove_member(&store, &acme, &QueueId::from("vip"), &UserId::from("u-a")).await
    ));
}
both_engines!(members_are_listed_by_tier_and_by_agent);

async fn tenants_see_only_their_own_queues_members_states_and_tasks(store: Store) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let sales = QueueId::from("sales");
    // The same queue id and number in two tenants are two queues.
    put_queue(&store, &acme, "sales", Some("+864008001234"), "{}", 0)
        .await
        .unwrap();
    put_queue(&store, &globex, "sales", Some("+864008001234"), "{}", 0)
        .await
        .unwrap();
    acd::upsert_member(&store, &member(&acme, "sales", "u-1", 0))
        .await
        .unwrap();
    assert!(
        acd::list_members(&store, &globex, &sales)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        acd::queues_of_agent(&store, &globex, &UserId::from("u-1"))
            .await
            .unwrap()
            .is_empty()
    );
    // globex's empty queue can go although acme's namesake has a member.
    acd::delete_queue(&store, &globex, &sales).await.unwrap();
    assert!(
        acd::get_queue(&store, &acme, &sales)
            .await
            .unwrap()
            .is_some()
    );
    assert!(is_not_found(
        acd::remove_member(&store, &globex, &sales, &UserId::from("u-1")).await
    ));

    acd::record_agent_state(&store, &state(&acme, "u-1", agent_status::READY, 1))
        .await
        .unwrap();
    assert!(
        acd::current_agent_states(&store, &globex)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        acd::agent_state_history(&store, &globex, &UserId::from("u-1"), t(0), t(10), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let task = new_task(&store, &acme, Some("c1"), queue_owner("sales"), 100).await;
    assert!(
        tasks::get_task(&store, &globex, &task.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(is_not_found(
        tasks::claim_task(&store, &globex, &task.id, &UserId::from("u-1"), t(2)).await
    ));
    let listed = tasks::list_tasks(&store, &globex, &page(10)).await.unwrap();
    assert!(listed.items.is_empty());
    // The same call and reason in another tenant is another task.
    let other = new_task(&store, &globex, Some("c1"), queue_owner("sales"), 100).await;
    assert_ne!(other.id, task.id);
}
both_engines!(tenants_see_only_their_own_queues_members_states_and_tasks);

async fn a_state_change_is_logged_and_becomes_current_together(store: Store) {
    let acme = tenant(&store, "acme").await;
    let u1 = UserId::from("u-1");
    assert!(
        acd::record_agent_state(&store, &state(&acme, "u-1", agent_status::READY, 1))
            .await
            .unwrap()
    );
    let mut on_call = state(&acme, "u-1", agent_status::ON_CALL, 5);
    on_call.call_id = Some(CallId::from("c-7"));
    on_call.cause = Some("answered".to_owned());
    assert!(acd::record_agent_state(&store, &on_call).await.unwrap());
    let mut lunch = state(&acme, "u-1", agent_status::NOT_READY, 9);
    lunch.reason = Some("lunch".to_owned());
    assert!(acd::record_agent_state(&store, &lunch).await.unwrap());

    assert_eq!(
        acd::current_agent_states(&store, &acme).await.unwrap(),
        [lunch.clone()]
    );

    // A late write of an older change (another node, a retry) is logged but does not move the
    // current state back in time.
    let stale = state(&acme, "u-1", agent_status::READY, 7);
    assert!(!acd::record_agent_state(&store, &stale).await.unwrap());
    assert_eq!(
        acd::current_agent_states(&store, &acme).await.unwrap(),
        [lunch.clone()]
    );

    let history = acd::agent_state_history(&store, &acme, &u1, t(0), t(100), 100)
        .await
        .unwrap();
    assert_eq!(
        history,
        [
            state(&acme, "u-1", "ready", 1),
            on_call.clone(),
            stale,
            lunch
        ]
    );
    // The window is [since, until) and the limit keeps the oldest.
    let window = acd::agent_state_history(&store, &acme, &u1, t(5), t(9), 100)
        .await
        .unwrap();
    let times: Vec<Timestamp> = window.iter().map(|s| s.since).collect();
    assert_eq!(times, [t(5), t(7)]);
    let first = acd::agent_state_history(&store, &acme, &u1, t(0), t(100), 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[1], on_call);
}
both_engines!(a_state_change_is_logged_and_becomes_current_together);

async fn a_failed_state_write_leaves_no_log_entry(store: Store) {
    let acme = tenant(&store, "acme").await;
    let u1 = UserId::from("u-1");
    acd::record_agent_state(&store, &state(&acme, "u-1", agent_status::READY, 1))
        .await
        .unwrap();
    // Make the second statement of the transaction (the current-state upsert) fail.
    sqlx::query("DROP TABLE agent_states")
        .execute(store.pool())
        .await
        .unwrap();
    let err = acd::record_agent_state(&store, &state(&acme, "u-1", agent_status::RINGING, 2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    let history = acd::agent_state_history(&store, &acme, &u1, t(0), t(100), 100)
        .await
        .unwrap();
    let statuses: Vec<&str> = history.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(statuses, [agent_status::READY]);
}
both_engines!(a_failed_state_write_leaves_no_log_entry);

async fn restart_restores_the_current_state_of_every_tenants_agents(store: Store) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    for (tenant, agent, status, at) in [
        (&globex, "u-9", agent_status::READY, 1),
        (&acme, "u-2", agent_status::WRAP_UP, 2),
        (&acme, "u-1", agent_status::READY, 3),
        (&acme, "u-1", agent_status::RINGING, 4),
    ] {
        acd::record_agent_state(&store, &state(tenant, agent, status, at))
            .await
            .unwrap();
    }
    let all = acd::all_current_agent_states(&store).await.unwrap();
    let seen: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|s| {
            (
                s.tenant_id.as_str(),
                s.agent_user_id.as_str(),
                s.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("acme", "u-1", "ringing"),
            ("acme", "u-2", "wrap_up"),
            ("globex", "u-9", "ready")
        ]
    );
    assert_eq!(all[0].since, t(4));
}
both_engines!(restart_restores_the_current_state_of_every_tenants_agents);

fn queue_owner(q: &str) -> TaskOwner {
    TaskOwner::Queue(q.into())
}

fn agent_owner(a: &str) -> TaskOwner {
    TaskOwner::Agent(a.into())
}

fn page(limit: u32) -> TaskFilter<'static> {
    TaskFilter {
        limit,
        ..TaskFilter::default()
    }
}

/// An abandoned-call task for `call`, due at `t(due)`.
async fn new_task(
    store: &Store,
    tenant: &TenantId,
    call: Option<&str>,
    owner: TaskOwner,
    due: i64,
) -> TaskRecord {
    let call = call.map(CallId::from);
    tasks::create_task(
        store,
        &NewTask {
            tenant_id: tenant,
            call_id: call.as_ref(),
            customer_phone: "+8613800000001",
            reason: callback_reason::ABANDONED_WHILE_WAITING,
            owner: &owner,
            due_at: t(due),
            note: None,
            now: t(0),
        },
    )
    .await
    .unwrap()
    .task
}

async fn the_same_call_back_announced_twice_is_one_task(store: Store) {
    let acme = tenant(&store, "acme").await;
    let call = CallId::from("c1");
    let owner = agent_owner("u-1");
    let mut new = NewTask {
        tenant_id: &acme,
        call_id: Some(&call),
        customer_phone: "+8613800000001",
        reason: callback_reason::DROPPED_MID_CALL,
        owner: &owner,
        due_at: t(3 * 86_400),
        note: Some("dropped after 40 s"),
        now: t(1),
    };
    let first = tasks::create_task(&store, &new).await.unwrap();
    assert!(first.created);
    assert_eq!(first.task.state, TaskState::Open);
    assert_eq!(first.task.owner, owner);
    assert_eq!(first.task.call_id, Some(call.clone()));
    assert_eq!(first.task.due_at, t(3 * 86_400));
    assert_eq!(first.task.note.as_deref(), Some("dropped after 40 s"));

    // After a restart the ACD announces it again, a little later.
    new.now = t(60);
    new.due_at = t(3 * 86_400 + 60);
    let again = tasks::create_task(&store, &new).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.task, first.task);

    // Another reason for the same call is another task; tasks without a call never collide.
    new.reason = callback_reason::REQUESTED;
    assert!(tasks::create_task(&store, &new).await.unwrap().created);
    new.call_id = None;
    let a = tasks::create_task(&store, &new).await.unwrap();
    let b = tasks::create_task(&store, &new).await.unwrap();
    assert!(a.created && b.created);
    assert_ne!(a.task.id, b.task.id);
    assert_eq!(
        tasks::list_tasks(&store, &acme, &page(100))
            .await
            .unwrap()
            .items
            .len(),
        4
    );
}
both_engines!(the_same_call_back_announced_twice_is_one_task);

async fn of_agents_claiming_one_task_at_once_exactly_one_wins(store: Store) {
    let acme = tenant(&store, "acme").await;
    let task = new_task(&store, &acme, Some("c1"), queue_owner("sales"), 100).await;
    let mut claims = Vec::new();
    for i in 0..6 {
        let (store, acme, id) = (store.clone(), acme.clone(), task.id.clone());
        claims.push(tokio::spawn(async move {
            let agent = UserId::from(format!("u-{i}"));
            let change = tasks::claim_task(&store, &acme, &id, &agent, t(10 + i))
                .await
                .unwrap();
            (agent, change)
        }));
    }
    let mut winners = Vec::new();
    for claim in claims {
        match claim.await.unwrap() {
            (agent, TaskChange::Applied(t)) => winners.push((agent, t)),
            (_, TaskChange::WrongState(TaskState::InProgress)) => {}
            (_, other) => panic!("unexpected claim outcome {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let (winner, claimed) = &winners[0];
    assert_eq!(claimed.state, TaskState::InProgress);
    assert_eq!(claimed.claimed_by.as_ref(), Some(winner));
    let stored = tasks::get_task(&store, &acme, &task.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&stored, &**claimed);
}
both_engines!(of_agents_claiming_one_task_at_once_exactly_one_wins);

async fn a_task_is_claimed_completed_or_cancelled_only_from_the_right_state(store: Store) {
    let acme = tenant(&store, "acme").await;
    let (u1, u2) = (UserId::from("u-1"), UserId::from("u-2"));
    let mine = new_task(&store, &acme, Some("c1"), agent_owner("u-1"), 100).await;

    // A dropped call's task belongs to the agent who was on it.
    assert_eq!(
        tasks::claim_task(&store, &acme, &mine.id, &u2, t(1))
            .await
            .unwrap(),
        TaskChange::NotYours
    );
    let TaskChange::Applied(claimed) = tasks::claim_task(&store, &acme, &mine.id, &u1, t(2))
        .await
        .unwrap()
    else {
        panic!("the owner could not claim");
    };
    assert_eq!((claimed.claimed_at, claimed.updated_at), (Some(t(2)), t(2)));
    assert_eq!(
        tasks::claim_task(&store, &acme, &mine.id, &u1, t(3))
            .await
            .unwrap(),
        TaskChange::WrongState(TaskState::InProgress)
    );
    assert_eq!(
        tasks::complete_task(&store, &acme, &mine.id, &u2, "reached", None, t(4))
            .await
            .unwrap(),
        TaskChange::NotYours
    );
    let TaskChange::Applied(done) =
        tasks::complete_task(&store, &acme, &mine.id, &u1, "reached", Some("ok"), t(5))
            .await
            .unwrap()
    else {
        panic!("the claimer could not complete");
    };
    assert_eq!(done.state, TaskState::Done);
    assert_eq!(done.done_at, Some(t(5)));
    assert_eq!(done.result.as_deref(), Some("reached"));
    assert_eq!(done.note.as_deref(), Some("ok"));
    assert_eq!(
        tasks::cancel_task(&store, &acme, &mine.id, None, t(6))
            .await
            .unwrap(),
        TaskChange::WrongState(TaskState::Done)
    );

    // An open task cannot be completed without a claim, but can be cancelled.
    let open = new_task(&store, &acme, Some("c2"), queue_owner("sales"), 100).await;
    assert_eq!(
        tasks::complete_task(&store, &acme, &open.id, &u1, "reached", None, t(7))
            .await
            .unwrap(),
        TaskChange::WrongState(TaskState::Open)
    );
    let TaskChange::Applied(cancelled) =
        tasks::cancel_task(&store, &acme, &open.id, Some("customer called in"), t(8))
            .await
            .unwrap()
    else {
        panic!("an open task could not be cancelled");
    };
    assert_eq!(cancelled.state, TaskState::Cancelled);
    assert_eq!(cancelled.done_at, Some(t(8)));
    // Each applied step, and only those, was announced with the task as it became.
    let announced: Vec<(String, String)> = sqlx::query_as(
        "SELECT event_type, payload FROM outbox WHERE event_type LIKE 'task.%' ORDER BY created_at, id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let types: Vec<&str> = announced.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["task.claimed", "task.completed", "task.cancelled"]);
    let completed: serde_json::Value = serde_json::from_str(&announced[1].1).unwrap();
    assert_eq!(
        (completed["state"].as_str(), completed["result"].as_str()),
        (Some("done"), Some("reached"))
    );
    assert_eq!(
        tasks::claim_task(&store, &acme, &open.id, &u1, t(9))
            .await
            .unwrap(),
        TaskChange::WrongState(TaskState::Cancelled)
    );
    assert!(is_not_found(
        tasks::cancel_task(&store, &acme, &TaskId::from("nosuch"), None, t(9)).await
    ));
}
both_engines!(a_task_is_claimed_completed_or_cancelled_only_from_the_right_state);

async fn tasks_are_filtered_and_paged_most_urgent_first(store: Store) {
    let acme = tenant(&store, "acme").await;
    let u1 = UserId::from("u-1");
    // Due times with ties, so paging must break them by id.
    let mut made = Vec::new();
    for (i, (owner, due)) in [
        (queue_owner("sales"), 50),
        (agent_owner("u-1"), 10),
        (queue_owner("sales"), 30),
        (queue_owner("care"), 30),
        (queue_owner("sales"), 30),
        (agent_owner("u-2"), 20),
        (queue_owner("sales"), 40),
    ]
    .into_iter()
    .enumerate()
    {
        made.push(new_task(&store, &acme, Some(&format!("c{i}")), owner, due).await);
    }
    let mut expected = made.clone();
    expected.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
    let ids = |ts: &[TaskRecord]| -> Vec<TaskId> { ts.iter().map(|t| t.id.clone()).collect() };

    // Pages of 2 walk the whole list once, in order.
    let mut walked = Vec::new();
    let mut filter = page(2);
    loop {
        let p = tasks::list_tasks(&store, &acme, &filter).await.unwrap();
        assert!(p.items.len() <= 2);
        walked.extend(p.items);
        match p.next {
            // The cursor survives the trip through a client.
            Some(c) => filter.after = Some(TaskCursor::decode(&c.encode()).unwrap()),
            None => break,
        }
    }
    assert_eq!(ids(&walked), ids(&expected));

    let sales = queue_owner("sales");
    let by_owner = tasks::list_tasks(
        &store,
        &acme,
        &TaskFilter {
            owner: Some(&sales),
            ..page(100)
        },
    )
    .await
    .unwrap();
    let dues: Vec<Timestamp> = by_owner.items.iter().map(|t| t.due_at).collect();
    assert_eq!(dues, [t(30), t(30), t(40), t(50)]);
    assert!(by_owner.next.is_none());

    // An agent's own tasks are not the queue's with the same id.
    let u1_owner = agent_owner("u-1");
    let of_u1 = tasks::list_tasks(
        &store,
        &acme,
        &TaskFilter {
            owner: Some(&u1_owner),
            ..page(100)
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&of_u1.items), [made[1].id.clone()]);

    let overdue = tasks::list_tasks(
        &store,
        &acme,
        &TaskFilter {
            due_before: Some(t(30)),
            ..page(100)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&overdue.items),
        [made[1].id.clone(), made[5].id.clone()]
    );

    tasks::claim_task(&store, &acme, &made[0].id, &u1, t(1))
        .await
        .unwrap();
    let in_progress = tasks::list_tasks(
        &store,
        &acme,
        &TaskFilter {
            state: Some(TaskState::InProgress),
            ..page(100)
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&in_progress.items), [made[0].id.clone()]);
    // u-1 works on a queue's task: found by who claimed it, not by owner.
    let claimed_by_u1 = tasks::list_tasks(
        &store,
        &acme,
        &TaskFilter {
            claimed_by: Some(&u1),
            ..page(100)
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&claimed_by_u1.items), [made[0].id.clone()]);
    let open_sales = tasks::list_tasks(
        &store,
        &acme,
        &TaskFilter {
            owner: Some(&sales),
            state: Some(TaskState::Open),
            due_before: Some(t(45)),
            ..page(100)
        },
    )
    .await
    .unwrap();
    assert_eq!(open_sales.items.len(), 3);

    assert!(TaskCursor::decode("zz").is_none());
    assert!(TaskCursor::decode(&hex_of("123:")).is_none());
}
both_engines!(tasks_are_filtered_and_paged_most_urgent_first);

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}
