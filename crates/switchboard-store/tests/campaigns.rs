//! Campaigns and their tasks in the store: lifecycle with events, target queries, idempotent
//! trigger keys, claims and attempts guarded by versions, progress and quota figures. Every
//! test body runs on SQLite and on PostgreSQL.

// Test bodies: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use switchboard_core::{CustomerId, E164, TenantId, TicketId, Timestamp, UserId};
use switchboard_store::campaign_tasks::{
    self, Attempt, NewCampaignTask, Recorded, StoredNumber, TaskUpdate,
};
use switchboard_store::campaigns::{
    self, CampaignRecord, CampaignState, Change, TargetQuery, Transition,
};
use switchboard_store::customers::{self, CustomerData};
use switchboard_store::testing::{t, tenant};
use switchboard_store::tickets::{self, NewFollowUpTask, follow_up_trigger_key};
use switchboard_store::{Store, both_engines};

async fn customer(
    store: &Store,
    a: &TenantId,
    phone: &str,
    tags: &[&str],
    key: bool,
) -> CustomerId {
    let mut data = CustomerData::potential(E164::parse(phone).unwrap(), "Asia/Shanghai");
    data.tags = tags.iter().map(|s| (*s).to_owned()).collect();
    data.key_customer = key;
    data.grade = key.then(|| "A".to_owned());
    customers::create_customer(store, a, &data, t(1))
        .await
        .unwrap()
        .id
}

async fn events(store: &Store, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

fn draft(a: &TenantId, id: &str) -> CampaignRecord {
    CampaignRecord {
        id: id.into(),
        tenant_id: a.clone(),
        name: "服务效果回访".into(),
        kind: "service_follow_up".into(),
        priority: 100,
        dial_mode: "preview".into(),
        max_attempts: 3,
        state: CampaignState::Draft,
        starts_at: t(0),
        ends_at: t(30 * 86_400),
        target: serde_json::json!({"tags": ["vip"]}),
        assignees: serde_json::json!({"agents": ["agent-1"]}),
        language: "zh-CN".into(),
        calling: None,
        trigger_kind: None,
        created_by: None,
        resolved_at: None,
        version: 1,
        created_at: t(0),
        updated_at: t(0),
    }
}

fn task(
    a: &TenantId,
    campaign: &str,
    c: &CustomerId,
    key: bool,
    due: Timestamp,
) -> NewCampaignTask {
    NewCampaignTask {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: a.clone(),
        campaign_id: campaign.into(),
        kind: "campaign".into(),
        trigger_key: format!("campaign:{campaign}:{c}"),
        customer_id: c.to_string(),
        state: "open".into(),
        priority: 100,
        trigger_at: t(0),
        due_at: due,
        max_attempts: 3,
        time_zone: "Asia/Shanghai".into(),
        key_customer: key,
        numbers: vec![StoredNumber {
            number: "+8613800000001".into(),
            blocked_until: None,
            dead: false,
        }],
        purpose: "follow-up".into(),
        owner_agent_id: None,
        now: t(0),
    }
}

// A test builder with every field of the transition spelled out at the call.
#[allow(clippy::too_many_arguments)]
fn step<'a>(
    a: &'a TenantId,
    id: &'a str,
    version: i64,
    from: &'a [CampaignState],
    to: CampaignState,
    event: &'a str,
    tasks: Option<&'a [NewCampaignTask]>,
    now: Timestamp,
) -> Transition<'a> {
    Transition {
        tenant: a,
        id,
        expected_version: version,
        from,
        to,
        event,
        tasks,
        now,
    }
}

async fn a_campaign_starts_with_its_tasks_and_stopping_cancels_the_open_ones(store: Store) {
    let a = tenant(&store, "a").await;
    let c1 = customer(&store, &a, "+8613800000001", &["vip"], true).await;
    let c2 = customer(&store, &a, "+8613800000002", &["vip"], false).await;
    campaigns::insert(&store, &draft(&a, "camp-1"))
        .await
        .unwrap();
    let tasks = vec![
        task(&a, "camp-1", &c1, true, t(3 * 86_400)),
        task(&a, "camp-1", &c2, false, t(100)),
    ];
    let running = [CampaignState::Draft];
    let Change::Applied(c) = campaigns::transition(
        &store,
        &step(
            &a,
            "camp-1",
            1,
            &running,
            CampaignState::Running,
            "campaign.started",
            Some(&tasks),
            t(10),
        ),
    )
    .await
    .unwrap() else {
        panic!("started")
    };
    assert_eq!(c.state, CampaignState::Running);
    assert_eq!(c.resolved_at, Some(t(10)));
    assert_eq!(events(&store, "campaign.started").await, 1);
    // A second start from a stale read changes nothing.
    assert_eq!(
        campaigns::transition(
            &store,
            &step(
                &a,
                "camp-1",
                1,
                &running,
                CampaignState::Running,
                "campaign.started",
                Some(&tasks),
                t(11)
            )
        )
        .await
        .unwrap(),
        Change::Stale { current: 2 }
    );
    let p = campaign_tasks::progress(&store, &a, "camp-1", t(0), t(86_400), t(200))
        .await
        .unwrap();
    assert_eq!(
        (
            p.total,
            p.open,
            p.due_today,
            p.overdue,
            p.key_total,
            p.key_done
        ),
        (2, 2, 1, 1, 1, 0)
    );
    let Change::Applied(c) = campaigns::transition(
        &store,
        &step(
            &a,
            "camp-1",
            2,
            &[CampaignState::Running],
            CampaignState::Stopped,
            "campaign.stopped",
            None,
            t(300),
        ),
    )
    .await
    .unwrap() else {
        panic!("stopped")
    };
    assert_eq!(c.state, CampaignState::Stopped);
    let p = campaign_tasks::progress(&store, &a, "camp-1", t(0), t(86_400), t(400))
        .await
        .unwrap();
    assert_eq!((p.open, p.cancelled), (0, 2));
    assert_eq!(events(&store, "campaign.stopped").await, 1);
    // Other tenants see nothing of it.
    let b = tenant(&store, "b").await;
    assert!(
        campaigns::get(&store, &b, "camp-1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        campaigns::list(&store, &b, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_target_query_matches_whole_tags_grade_and_key_customers(store: Store) {
    let a = tenant(&store, "a").await;
    let vip = customer(&store, &a, "+8613800000011", &["vip", "import-7"], true).await;
    customer(&store, &a, "+8613800000012", &["vip2"], false).await;
    let plain = customer(&store, &a, "+8613800000013", &["vip"], false).await;
    let q = |tags: &[&str], key: Option<bool>| TargetQuery {
        tags: tags.iter().map(|s| (*s).to_owned()).collect(),
        key_customer: key,
        ..TargetQuery::default()
    };
    let ids =
        |list: Vec<campaigns::TargetCustomer>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(
            campaigns::target_customers(&store, &a, &q(&["vip"], None), 100)
                .await
                .unwrap()
        ),
        vec![vip.clone(), plain]
    );
    assert_eq!(
        ids(
            campaigns::target_customers(&store, &a, &q(&["vip", "import-7"], None), 100)
                .await
                .unwrap()
        ),
        vec![vip.clone()]
    );
    assert_eq!(
        ids(
            campaigns::target_customers(&store, &a, &q(&[], Some(true)), 100)
                .await
                .unwrap()
        ),
        vec![vip.clone()]
    );
    let graded = TargetQuery {
        grade: Some("A".into()),
        ..TargetQuery::default()
    };
    let found = campaigns::target_customers(&store, &a, &graded, 100)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].phones, vec!["+8613800000011".to_owned()]);
    let b = tenant(&store, "b").await;
    assert!(
        campaigns::target_customers(&store, &b, &q(&["vip"], None), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_trigger_key_makes_one_task_and_fills_in_the_tickets_own_follow_up(store: Store) {
    let a = tenant(&store, "a").await;
    let c = customer(&store, &a, "+8613800000021", &[], false).await;
    campaigns::insert(&store, &draft(&a, "camp-t"))
        .await
        .unwrap();
    let mut new = task(&a, "camp-t", &c, false, t(100));
    new.trigger_key = "order:o-1:reminder".into();
    assert!(campaign_tasks::insert(&store, &new).await.unwrap());
    new.id = uuid::Uuid::now_v7().to_string();
    assert!(
        !campaign_tasks::insert(&store, &new).await.unwrap(),
        "second insert is a no-op"
    );
    // Resolving a ticket writes its follow-up row first; the campaign task of the same key
    // becomes that row instead of a second task.
    let ticket = TicketId::from("tk-1");
    let mut conn = store.pool().acquire().await.unwrap();
    let row = tickets::insert_follow_up_task(
        &mut conn,
        &NewFollowUpTask {
            tenant_id: &a,
            ticket_id: &ticket,
            customer_id: Some(&c),
            owner_agent_id: None,
            due_at: t(500),
            now: t(5),
        },
    )
    .await
    .unwrap();
    drop(conn);
    let mut follow = task(&a, "camp-t", &c, false, t(600));
    follow.trigger_key = follow_up_trigger_key(&ticket);
    assert!(campaign_tasks::insert(&store, &follow).await.unwrap());
    let stored = campaign_tasks::by_trigger_key(&store, &a, &follow.trigger_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.id,
        row.to_string(),
        "the ticket's row became the campaign task"
    );
    assert_eq!(stored.campaign_id, "camp-t");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE trigger_key = $1")
        .bind(&follow.trigger_key)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

fn update(state: &str, effective: bool) -> TaskUpdate {
    TaskUpdate {
        state: state.into(),
        numbers: vec![StoredNumber {
            number: "+8613800000001".into(),
            blocked_until: None,
            dead: false,
        }],
        next_number: 0,
        round_tried: vec![false],
        not_before: t(0),
        due_at: t(3 * 86_400),
        booked_at: None,
        attempts: 1,
        outcome: "answered".into(),
        satisfaction: Some("satisfied".into()),
        suggestion: Some("更快发货".into()),
        effective,
        talk_seconds: Some(95),
        note: "ok".into(),
        keep_claim: false,
    }
}

fn attempt(task: &str, agent: &str, at: Timestamp, effective: bool) -> Attempt {
    Attempt {
        id: uuid::Uuid::now_v7().to_string(),
        task_id: task.into(),
        campaign_id: "camp-c".into(),
        agent_id: Some(UserId::from(agent)),
        number: "+8613800000001".into(),
        result: "answered".into(),
        reached: true,
        talk_seconds: 95,
        purpose_stated: true,
        effective,
        satisfaction: Some("satisfied".into()),
        suggestion: None,
        booked_at: None,
        visit: None,
        note: "ok".into(),
        at,
    }
}

async fn one_claim_and_one_outcome_win_and_the_attempt_feeds_the_quota(store: Store) {
    let a = tenant(&store, "a").await;
    let c = customer(&store, &a, "+8613800000031", &[], false).await;
    campaigns::insert(&store, &draft(&a, "camp-c"))
        .await
        .unwrap();
    let new = task(&a, "camp-c", &c, false, t(100));
    campaign_tasks::insert(&store, &new).await.unwrap();
    let (x, y) = (UserId::from("agent-x"), UserId::from("agent-y"));
    let ids = vec!["camp-c".to_owned()];
    let seen = campaign_tasks::candidates(&store, &a, &ids, &x, t(10), 10)
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    let v = seen[0].version;
    let won = campaign_tasks::claim(&store, &a, &new.id, v, &x, t(1_000), t(10))
        .await
        .unwrap();
    assert!(won.is_some());
    assert!(
        campaign_tasks::claim(&store, &a, &new.id, v, &y, t(1_000), t(10))
            .await
            .unwrap()
            .is_none(),
        "the same version cannot be claimed twice"
    );
    assert!(
        campaign_tasks::candidates(&store, &a, &ids, &y, t(20), 10)
            .await
            .unwrap()
            .is_empty(),
        "claimed by x"
    );
    assert_eq!(
        campaign_tasks::candidates(&store, &a, &ids, &y, t(1_000), 10)
            .await
            .unwrap()
            .len(),
        1,
        "the claim lapsed"
    );
    let claimed = won.unwrap();
    let Recorded::Applied(done) = campaign_tasks::record_attempt(
        &store,
        &a,
        claimed.version,
        &update("done", true),
        &attempt(&new.id, "agent-x", t(30), true),
    )
    .await
    .unwrap() else {
        panic!("recorded")
    };
    assert_eq!(
        (done.state.as_str(), done.effective, done.claimed_by.clone()),
        ("done", true, None)
    );
    assert_eq!(
        campaign_tasks::record_attempt(
            &store,
            &a,
            claimed.version,
            &update("done", true),
            &attempt(&new.id, "agent-y", t(31), true)
        )
        .await
        .unwrap(),
        Recorded::Stale
    );
    assert_eq!(events(&store, "campaign.task_outcome").await, 1);
    assert_eq!(
        campaign_tasks::attempts(&store, &a, &new.id)
            .await
            .unwrap()
            .len(),
        1
    );
    // Figures: only agents (users with the agent role) are reported; the effective call counts.
    let hash = "x";
    let agent = switchboard_store::users::insert_user(
        &store,
        &switchboard_store::users::NewUser {
            tenant_id: &a,
            username: "li",
            display_name: "李",
            role: switchboard_core::Role::Agent,
            password_hash: hash,
        },
        t(0),
    )
    .await
    .unwrap();
    let Recorded::Applied(_) = campaign_tasks::record_attempt(
        &store,
        &a,
        done.version,
        &update("done", true),
        &attempt(&new.id, agent.id.as_str(), t(40), true),
    )
    .await
    .unwrap() else {
        panic!("recorded")
    };
    let figs = campaign_tasks::agent_figures(&store, &a, None, t(0), t(86_400))
        .await
        .unwrap();
    assert_eq!(figs.len(), 1);
    assert_eq!((figs[0].effective_calls, figs[0].days_worked), (1, 1));
    assert_eq!(
        campaign_tasks::effective_calls(&store, &a, &agent.id, t(0), t(86_400))
            .await
            .unwrap(),
        1
    );
}

both_engines!(
    a_campaign_starts_with_its_tasks_and_stopping_cancels_the_open_ones,
    a_target_query_matches_whole_tags_grade_and_key_customers,
    a_trigger_key_makes_one_task_and_fills_in_the_tickets_own_follow_up,
    one_claim_and_one_outcome_win_and_the_attempt_feeds_the_quota,
);
