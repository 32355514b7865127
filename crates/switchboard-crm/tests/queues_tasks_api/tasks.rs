//! Call-back tasks (回访): who sees which, claiming races, completing and cancelling.

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_core::{QueueId, TaskId, UserId};
use switchboard_store::Store;
use switchboard_store::tasks::TaskOwner;
use switchboard_store::testing::TestDb;

use super::{Api, ids, ts};

/// sales (agent and agent2 are members) and support (nobody); t1 sales due +10 min, t2 agent's
/// own +20, t3 agent2's +30, t4 support +40.
async fn task_fixture(api: &Api) -> [String; 4] {
    api.queue("sales", None).await;
    api.queue("support", None).await;
    api.member("sales", "agent").await;
    api.member("sales", "agent2").await;
    let agent = |who: &str| TaskOwner::Agent(UserId::from(api.id(who)));
    [
        api.task("c1", TaskOwner::Queue(QueueId::from("sales")), 10)
            .await,
        api.task("c2", agent("agent"), 20).await,
        api.task("c3", agent("agent2"), 30).await,
        api.task("c4", TaskOwner::Queue(QueueId::from("support")), 40)
            .await,
    ]
}

async fn agents_see_their_own_and_their_queues_tasks(store: Store) {
    let api = Api::new(store).await;
    let [t1, t2, t3, t4] = task_fixture(&api).await;
    assert_eq!(
        ids(&api.ok("agent", "GET", "/tasks", None).await),
        [t1.as_str(), t2.as_str()]
    );
    assert_eq!(
        ids(&api.ok("agent2", "GET", "/tasks", None).await),
        [t1.as_str(), t3.as_str()]
    );
    assert_eq!(
        ids(&api.ok("agent", "GET", "/tasks?owner=me", None).await),
        [t2.as_str()]
    );
    assert_eq!(
        ids(&api
            .ok("agent", "GET", "/tasks?owner=queue:sales", None)
            .await),
        [t1.as_str()]
    );
    for owner in [
        "queue:support".to_owned(),
        format!("agent:{}", api.id("agent2")),
    ] {
        let r = api
            .call("agent", "GET", &format!("/tasks?owner={owner}"), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{owner}");
    }
    for t in [t3.as_str(), t4.as_str()] {
        let r = api.call("agent", "GET", &format!("/tasks/{t}"), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    let one = api.ok("agent", "GET", &format!("/tasks/{t1}"), None).await;
    assert_eq!(one["owner"], "queue:sales");
    assert_eq!(one["state"], "open");
    assert_eq!(one["reason"], "dropped_mid_call");

    // An agent's pages merge their own and their queues' tasks, earliest deadline first.
    let first = api.ok("agent", "GET", "/tasks?limit=1", None).await;
    assert_eq!(ids(&first), [t1.as_str()]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = api
        .ok(
            "agent",
            "GET",
            &format!("/tasks?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(ids(&second), [t2.as_str()]);
    let cursor = second["next_cursor"].as_str().unwrap();
    let third = api
        .ok(
            "agent",
            "GET",
            &format!("/tasks?limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(
        (ids(&third).len(), &third["next_cursor"]),
        (0, &Value::Null)
    );

    for who in ["supervisor", "qa", "admin"] {
        assert_eq!(
            ids(&api.ok(who, "GET", "/tasks", None).await),
            [t1.as_str(), t2.as_str(), t3.as_str(), t4.as_str()],
            "{who}"
        );
    }
    assert_eq!(
        ids(&api
            .ok("supervisor", "GET", "/tasks?owner=queue:support", None)
            .await),
        [t4.as_str()]
    );
    let due = ts(25).as_millis();
    assert_eq!(
        ids(&api
            .ok(
                "supervisor",
                "GET",
                &format!("/tasks?due_before={due}"),
                None
            )
            .await),
        [t1.as_str(), t2.as_str()]
    );
    assert_eq!(
        ids(&api.ok("supervisor", "GET", "/tasks?state=done", None).await).len(),
        0
    );
    for (query, field) in [
        ("state=finished", "state"),
        ("owner=team:x", "owner"),
        ("due_before=yesterday", "due_before"),
        ("limit=0", "limit"),
        ("cursor=zz", "cursor"),
    ] {
        let r = api
            .call("supervisor", "GET", &format!("/tasks?{query}"), None)
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, field),
            "{query}"
        );
    }
    assert_eq!(
        api.call("integrator", "GET", "/tasks", None).await.status,
        StatusCode::FORBIDDEN
    );
    // Another tenant sees nothing of acme's.
    assert_eq!(
        ids(&api.ok("other:supervisor", "GET", "/tasks", None).await).len(),
        0
    );
    for (method, path) in [
        ("GET", format!("/tasks/{t1}")),
        ("POST", format!("/tasks/{t1}/cancel")),
    ] {
        let r = api.call("other:supervisor", method, &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let r = api
        .call("other:agent", "POST", &format!("/tasks/{t1}/claim"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn one_of_two_racing_claims_wins_and_only_the_claimer_completes(store: Store) {
    let api = Api::new(store).await;
    let [t1, t2, _t3, t4] = task_fixture(&api).await;
    let claim = format!("/tasks/{t1}/claim");
    let (a, b) = tokio::join!(
        api.call("agent", "POST", &claim, None),
        api.call("agent2", "POST", &claim, None)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{} {}",
        a.body,
        b.body
    );
    let (winner, loser) = if a.status == StatusCode::OK {
        ("agent", "agent2")
    } else {
        ("agent2", "agent")
    };
    let claimed = if a.status == StatusCode::OK {
        &a.body
    } else {
        &b.body
    };
    assert_eq!(claimed["state"], "in_progress");
    assert_eq!(claimed["claimed_by"], api.id(winner));
    assert_eq!(
        api.call(winner, "POST", &claim, None).await.status,
        StatusCode::CONFLICT
    );

    // Another agent's own task: a supervisor sees it but cannot take it.
    let r = api
        .call("supervisor", "POST", &format!("/tasks/{t2}/claim"), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // A queue the caller is not a member of.
    let r = api
        .call("supervisor", "POST", &format!("/tasks/{t4}/claim"), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for who in ["qa", "admin"] {
        let r = api
            .call(who, "POST", &format!("/tasks/{t2}/claim"), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}");
    }

    let complete = format!("/tasks/{t1}/complete");
    let done = json!({ "result": "reached", "note": "客户已回电确认" });
    let r = api.call(loser, "POST", &complete, Some(done.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "non-claimer: {}", r.body);
    let r = api
        .call(winner, "POST", &complete, Some(json!({ "result": " " })))
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "result"));
    let r = api
        .call(winner, "POST", &complete, Some(json!({ "note": "x" })))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let finished = api.ok(winner, "POST", &complete, Some(done.clone())).await;
    assert_eq!(finished["state"], "done");
    assert_eq!(finished["result"], "reached");
    assert_eq!(finished["note"], "客户已回电确认");
    assert!(finished["done_at"].is_string());
    let r = api
        .call(winner, "POST", &complete, Some(done.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "completed twice");
    // Not claimed yet: nothing to complete.
    let r = api
        .call(
            "agent",
            "POST",
            &format!("/tasks/{t2}/complete"),
            Some(done),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    let cancel = format!("/tasks/{t2}/cancel");
    assert_eq!(
        api.call("agent", "POST", &cancel, None).await.status,
        StatusCode::FORBIDDEN
    );
    let cancelled = api
        .ok(
            "supervisor",
            "POST",
            &cancel,
            Some(json!({ "note": "customer called in" })),
        )
        .await;
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled["note"], "customer called in");
    assert_eq!(
        api.call("admin", "POST", &cancel, None).await.status,
        StatusCode::CONFLICT
    );
    let r = api
        .call("admin", "POST", &format!("/tasks/{t1}/cancel"), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a done task stays done");
    assert_eq!(
        ids(&api.ok("supervisor", "GET", "/tasks?state=open", None).await).len(),
        2
    );
    let audit = api.audit_actions().await;
    for action in ["task.claim", "task.complete", "task.cancel"] {
        assert!(audit.contains(action), "{action} not audited");
    }
}

switchboard_store::both_engines!(
    agents_see_their_own_and_their_queues_tasks,
    one_of_two_racing_claims_wins_and_only_the_claimer_completes,
);

#[tokio::test]
async fn an_unknown_task_id_answers_404_for_every_reader() {
    // A made-up task id answers 404 for every role that reads tasks.
    let db = TestDb::sqlite().await;
    let api = Api::new(db.store.clone()).await;
    let missing = TaskId::generate();
    for who in ["agent", "supervisor", "qa"] {
        let r = api
            .call(who, "GET", &format!("/tasks/{missing}"), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{who}");
    }
    db.cleanup().await;
}
