//! Tickets, their history, the outbox and webhook subscriptions — each body on SQLite and on
//! PostgreSQL.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use switchboard_core::{TenantId, TicketId, Timestamp, UserId};
use switchboard_store::outbox::{self, NewEvent, NewSubscription};
use switchboard_store::tickets::{
    self, NewFollowUpTask, NewTicketEvent, TicketFilter, TicketRecord,
};
use switchboard_store::{Store, StoreError, both_engines};

use switchboard_store::testing::{t, tenant};

async fn enqueue(store: &Store, tenant: &TenantId, kind: &str, at: Timestamp) -> String {
    let mut tx = store.begin_write().await.unwrap();
    let id = outbox::enqueue(
        &mut tx,
        &NewEvent {
            tenant_id: tenant,
            event_type: kind,
            payload: &json!({ "n": 1 }),
            now: at,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn an_event_rolled_back_with_its_change_is_never_delivered(store: Store) {
    let acme = tenant(&store, "acme").await;
    let mut tx = store.begin_write().await.unwrap();
    outbox::enqueue(
        &mut tx,
        &NewEvent {
            tenant_id: &acme,
            event_type: "ticket.created",
            payload: &json!({}),
            now: t(1),
        },
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert!(outbox::due(&store, t(10), 10).await.unwrap().is_empty());

    let kept = enqueue(&store, &acme, "ticket.created", t(2)).await;
    let due = outbox::due(&store, t(10), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, kept);
    assert_eq!(due[0].event_type, "ticket.created");
    assert_eq!(due[0].payload, r#"{"n":1}"#);
    assert_eq!(due[0].attempts, 0);
}

async fn failed_events_wait_for_their_next_attempt_and_delivered_ones_leave(store: Store) {
    let acme = tenant(&store, "acme").await;
    let a = enqueue(&store, &acme, "ticket.created", t(1)).await;
    let b = enqueue(&store, &acme, "ticket.taken", t(2)).await;
    // Nothing is due before it was created.
    assert!(outbox::due(&store, t(0), 10).await.unwrap().is_empty());

    outbox::mark_failed(&store, &a, "HTTP 503", t(60))
        .await
        .unwrap();
    outbox::mark_delivered(&store, &b, t(3)).await.unwrap();
    assert!(outbox::due(&store, t(59), 10).await.unwrap().is_empty());
    assert_eq!(outbox::next_due_at(&store).await.unwrap(), Some(t(60)));

    let due = outbox::due(&store, t(60), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1);
    assert_eq!(due[0].last_error.as_deref(), Some("HTTP 503"));
    let delivered = outbox::get(&store, &b).await.unwrap().unwrap();
    assert_eq!(delivered.delivered_at, Some(t(3)));
    // A late failure report does not resurrect a delivered event.
    outbox::mark_failed(&store, &b, "late", t(4)).await.unwrap();
    assert_eq!(
        outbox::get(&store, &b).await.unwrap().unwrap().delivered_at,
        Some(t(3))
    );
}

async fn due_returns_the_oldest_first_up_to_the_limit(store: Store) {
    let acme = tenant(&store, "acme").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(enqueue(&store, &acme, "ticket.created", t(i)).await);
    }
    let due = outbox::due(&store, t(100), 3).await.unwrap();
    let got: Vec<_> = due.iter().map(|e| e.id.clone()).collect();
    assert_eq!(got, ids[..3]);
}

async fn subscriptions_belong_to_one_tenant(store: Store) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let types = vec!["ticket.*".to_owned()];
    let sub = outbox::insert_subscription(
        &store,
        &NewSubscription {
            tenant_id: &acme,
            url: "http://127.0.0.1:9/hook",
            secret: "s",
            event_types: &types,
        },
        t(1),
    )
    .await
    .unwrap();
    let got = outbox::get_subscription(&store, &acme, &sub.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, sub);
    assert!(got.wants("ticket.escalated"));
    assert!(!got.wants("customer.created"));
    assert!(
        outbox::get_subscription(&store, &globex, &sub.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        outbox::list_subscriptions(&store, &globex)
            .await
            .unwrap()
            .is_empty()
    );

    let mut foreign = sub.clone();
    foreign.tenant_id = globex.clone();
    foreign.active = false;
    assert!(matches!(
        outbox::update_subscription(&store, &foreign, t(2)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        outbox::delete_subscription(&store, &globex, &sub.id).await,
        Err(StoreError::NotFound { .. })
    ));

    let mut off = sub.clone();
    off.active = false;
    outbox::update_subscription(&store, &off, t(3))
        .await
        .unwrap();
    let got = outbox::get_subscription(&store, &acme, &sub.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!got.active && !got.wants("ticket.created"));

    let ev = enqueue(&store, &acme, "ticket.created", t(4)).await;
    outbox::record_delivery(&store, &ev, &sub.id, t(5))
        .await
        .unwrap();
    // Recording twice (two nodes, or a retry) is harmless.
    outbox::record_delivery(&store, &ev, &sub.id, t(6))
        .await
        .unwrap();
    assert_eq!(
        outbox::delivered_to(&store, &ev).await.unwrap(),
        vec![sub.id.as_str()]
    );

    outbox::delete_subscription(&store, &acme, &sub.id)
        .await
        .unwrap();
    assert!(
        outbox::list_subscriptions(&store, &acme)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(outbox::delivered_to(&store, &ev).await.unwrap().is_empty());
}

fn ticket(tenant: &TenantId, created: Timestamp) -> TicketRecord {
    TicketRecord {
        id: TicketId::generate(),
        tenant_id: tenant.clone(),
        customer_id: None,
        owner_agent_id: None,
        subject: "parcel arrived broken".into(),
        body: String::new(),
        emotion: "angry".into(),
        state: "open".into(),
        stands: None,
        responsible_team: None,
        reply_due_at: created + Duration::from_secs(12 * 3600),
        first_response_at: None,
        overdue: false,
        escalation_level: 0,
        escalated_to: None,
        escalated_at: None,
        resolved_at: None,
        next_check_at: Some(created + Duration::from_secs(12 * 3600)),
        version: 1,
        created_at: created,
        updated_at: created,
    }
}

async fn tickets_update_only_from_the_version_they_read(store: Store) {
    let acme = tenant(&store, "acme").await;
    let mut rec = ticket(&acme, t(0));
    let mut conn = store.pool().acquire().await.unwrap();
    tickets::insert(&mut conn, &rec).await.unwrap();
    assert_eq!(
        tickets::get(&store, &acme, &rec.id).await.unwrap().unwrap(),
        rec
    );

    let stale = rec.clone();
    rec.overdue = true;
    rec.escalation_level = 1;
    rec.escalated_to = Some("shift_lead".into());
    rec.updated_at = t(5);
    rec.version = tickets::update(&mut conn, &rec).await.unwrap();
    assert_eq!(rec.version, 2);
    assert_eq!(
        tickets::get(&store, &acme, &rec.id).await.unwrap().unwrap(),
        rec
    );

    assert!(matches!(
        tickets::update(&mut conn, &stale).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut foreign = rec.clone();
    foreign.tenant_id = tenant(&store, "globex").await;
    assert!(matches!(
        tickets::update(&mut conn, &foreign).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn sweep_finds_tickets_whose_deadline_has_come_across_tenants(store: Store) {
    let acme = tenant(&store, "acme").await;
    let globex = tenant(&store, "globex").await;
    let mut conn = store.pool().acquire().await.unwrap();
    let a = ticket(&acme, t(0));
    let b = ticket(&globex, t(100));
    let mut done = ticket(&acme, t(0));
    done.next_check_at = None;
    for r in [&a, &b, &done] {
        tickets::insert(&mut conn, r).await.unwrap();
    }
    let at = |secs: i64| t(12 * 3600 + secs);
    assert!(
        tickets::due_for_check(&store, at(-1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = tickets::due_for_check(&store, at(100), 10).await.unwrap();
    let ids: Vec<_> = due.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, [a.id.clone(), b.id.clone()]);
}

async fn ticket_lists_filter_by_state_overdue_owner_and_escalation(store: Store) {
    let acme = tenant(&store, "acme").await;
    let mut conn = store.pool().acquire().await.unwrap();
    let open = ticket(&acme, t(0));
    let mut overdue = ticket(&acme, t(1));
    overdue.overdue = true;
    overdue.escalation_level = 2;
    let mut owned = ticket(&acme, t(2));
    owned.state = "in_progress".into();
    owned.owner_agent_id = Some(UserId::from("u1"));
    // The owner must be a real user of the tenant.
    sqlx::query("INSERT INTO users (id, tenant_id, username, display_name, role, password_hash, disabled, created_at, updated_at) VALUES ('u1', 'acme', 'u1', 'u1', 'agent', 'x', 0, 0, 0)")
        .execute(&mut *conn)
        .await
        .unwrap();
    for r in [&open, &overdue, &owned] {
        tickets::insert(&mut conn, r).await.unwrap();
    }
    let ids = |v: Vec<TicketRecord>| {
        v.into_iter()
            .map(|r| r.id.into_string())
            .collect::<Vec<_>>()
    };
    let all = TicketFilter {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        ids(tickets::list(&store, &acme, &all).await.unwrap()),
        [owned.id.as_str(), overdue.id.as_str(), open.id.as_str()]
    );
    let f = TicketFilter {
        state: Some("open"),
        overdue: Some(false),
        ..all.clone()
    };
    assert_eq!(
        ids(tickets::list(&store, &acme, &f).await.unwrap()),
        [open.id.as_str()]
    );
    let f = TicketFilter {
        min_escalation_level: Some(1),
        ..all.clone()
    };
    assert_eq!(
        ids(tickets::list(&store, &acme, &f).await.unwrap()),
        [overdue.id.as_str()]
    );
    let u1 = UserId::from("u1");
    let f = TicketFilter {
        owner: Some(&u1),
        ..all.clone()
    };
    assert_eq!(
        ids(tickets::list(&store, &acme, &f).await.unwrap()),
        [owned.id.as_str()]
    );
    let globex = tenant(&store, "globex").await;
    assert!(
        tickets::list(&store, &globex, &all)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn ticket_history_is_numbered_in_order_and_goes_with_the_ticket(store: Store) {
    let acme = tenant(&store, "acme").await;
    let rec = ticket(&acme, t(0));
    let mut tx = store.begin_write().await.unwrap();
    tickets::insert(&mut tx, &rec).await.unwrap();
    for (i, kind) in ["created", "overdue", "escalated"].iter().enumerate() {
        let seq = tickets::append_event(
            &mut tx,
            &NewTicketEvent {
                tenant_id: &acme,
                ticket_id: &rec.id,
                kind,
                actor: None,
                detail: &json!({ "i": i }),
                at: t(i as i64),
            },
        )
        .await
        .unwrap();
        assert_eq!(seq, i as i64 + 1);
    }
    let task = tickets::insert_follow_up_task(
        &mut tx,
        &NewFollowUpTask {
            tenant_id: &acme,
            ticket_id: &rec.id,
            customer_id: None,
            owner_agent_id: None,
            due_at: t(3 * 86400),
            now: t(5),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let steps = tickets::events(&store, &acme, &rec.id).await.unwrap();
    let kinds: Vec<_> = steps.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["created", "overdue", "escalated"]);
    assert_eq!(steps[2].detail, r#"{"i":2}"#);
    let kind: String = sqlx::query_scalar("SELECT kind FROM tasks WHERE id = $1")
        .bind(task.as_str())
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(kind, tickets::FOLLOW_UP_TASK_KIND);

    let mut conn = store.pool().acquire().await.unwrap();
    tickets::delete(&mut conn, &acme, &rec.id).await.unwrap();
    assert!(
        tickets::events(&store, &acme, &rec.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        tickets::get(&store, &acme, &rec.id)
            .await
            .unwrap()
            .is_none()
    );
}

both_engines!(
    an_event_rolled_back_with_its_change_is_never_delivered,
    failed_events_wait_for_their_next_attempt_and_delivered_ones_leave,
    due_returns_the_oldest_first_up_to_the_limit,
    subscriptions_belong_to_one_tenant,
    tickets_update_only_from_the_version_they_read,
    sweep_finds_tickets_whose_deadline_has_come_across_tenants,
    ticket_lists_filter_by_state_overdue_owner_and_escalation,
    ticket_history_is_numbered_in_order_and_goes_with_the_ticket,
);
