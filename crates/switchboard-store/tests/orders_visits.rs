//! Orders, visits, shift hand-overs and the facts behind the agents' statistics. Every test body
//! runs on SQLite and on PostgreSQL.

// Test bodies: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use switchboard_core::{CallId, CustomerId, E164, TenantId, UserId};
use switchboard_store::calls::{self, Direction, NewCall};
use switchboard_store::customers::{self, Category, CustomerData, InteractionKind, NewInteraction};
use switchboard_store::handovers::{self, HandoverFilter, ItemKind, NewHandover};
use switchboard_store::orders::{self, Change, Created, NewOrder, OrderFilter, OrderState};
use switchboard_store::testing::{t, tenant};
use switchboard_store::visits::{self, NewVisit, VisitFilter, VisitSource, VisitState};
use switchboard_store::{Store, agent_stats, both_engines};

async fn a_customer(store: &Store, tenant: &TenantId, phone: &str) -> CustomerId {
    let data = CustomerData::potential(E164::parse(phone).unwrap(), "Asia/Shanghai");
    customers::create_customer(store, tenant, &data, t(1))
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

fn order(customer: &CustomerId, external_ref: Option<&str>, paid: bool) -> NewOrder {
    NewOrder {
        customer_id: customer.clone(),
        external_ref: external_ref.map(str::to_owned),
        description: "年卡 annual pass".into(),
        amount_minor: 128_000,
        currency: "CNY".into(),
        agent_id: Some(UserId::from("agent-1")),
        placed_at: t(10),
        paid,
    }
}

async fn paying_a_prospects_order_makes_them_a_customer(store: Store) {
    let a = tenant(&store, "a").await;
    let c = a_customer(&store, &a, "+8613800000001").await;
    let Created::New(o) = orders::create(&store, &a, &order(&c, Some("shop-1"), false), t(10))
        .await
        .unwrap()
    else {
        panic!("a new order")
    };
    assert_eq!(o.state, OrderState::Placed);
    let still = customers::get_customer(&store, &a, &c)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.data.category, Category::Potential);

    let Change::Applied(paid) =
        orders::transition(&store, &a, &o.id, OrderState::Paid, Some(1), t(20))
            .await
            .unwrap()
    else {
        panic!("paid")
    };
    assert_eq!(
        (paid.state, paid.version, paid.paid_at),
        (OrderState::Paid, 2, Some(t(20)))
    );
    let now = customers::get_customer(&store, &a, &c)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.data.category, Category::Customer);
    assert_eq!(now.version, 2);
    assert_eq!(events(&store, "order.placed").await, 1);
    assert_eq!(events(&store, "order.paid").await, 1);
    assert_eq!(events(&store, "customer.updated").await, 1);
}

async fn the_same_shop_order_twice_is_booked_once(store: Store) {
    let a = tenant(&store, "a").await;
    let c = a_customer(&store, &a, "+8613800000001").await;
    let first = orders::create(&store, &a, &order(&c, Some("shop-9"), true), t(10))
        .await
        .unwrap();
    let again = orders::create(&store, &a, &order(&c, Some("shop-9"), true), t(11))
        .await
        .unwrap();
    let (Created::New(first), Created::Existing(again)) = (first, again) else {
        panic!("the retry must return the first order")
    };
    assert_eq!(first, again);
    let all = orders::list(
        &store,
        &a,
        &OrderFilter {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(events(&store, "order.placed").await, 1);
}

async fn a_stale_version_or_a_wrong_state_changes_nothing(store: Store) {
    let a = tenant(&store, "a").await;
    let c = a_customer(&store, &a, "+8613800000001").await;
    let Created::New(o) = orders::create(&store, &a, &order(&c, None, false), t(10))
        .await
        .unwrap()
    else {
        panic!()
    };
    let stale = orders::transition(&store, &a, &o.id, OrderState::Paid, Some(7), t(20))
        .await
        .unwrap();
    assert_eq!(stale, Change::Stale { current: 1 });
    let Change::Applied(_) =
        orders::transition(&store, &a, &o.id, OrderState::Cancelled, None, t(21))
            .await
            .unwrap()
    else {
        panic!()
    };
    let wrong = orders::transition(&store, &a, &o.id, OrderState::Paid, None, t(22))
        .await
        .unwrap();
    assert_eq!(wrong, Change::WrongState(OrderState::Cancelled));
    let got = orders::get(&store, &a, &o.id).await.unwrap().unwrap();
    assert_eq!((got.state, got.paid_at), (OrderState::Cancelled, None));
    // Another tenant cannot reach it at all.
    let b = tenant(&store, "b").await;
    assert_eq!(
        orders::transition(&store, &b, &o.id, OrderState::Paid, None, t(23))
            .await
            .unwrap(),
        Change::NotFound
    );
    assert!(orders::get(&store, &b, &o.id).await.unwrap().is_none());
}

async fn the_order_feed_pages_through_every_change_once(store: Store) {
    let a = tenant(&store, "a").await;
    let c = a_customer(&store, &a, "+8613800000001").await;
    for i in 0..5 {
        orders::create(
            &store,
            &a,
            &order(&c, Some(&format!("r{i}")), false),
            t(10 + i),
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = orders::list(
            &store,
            &a,
            &OrderFilter {
                after: after.clone(),
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.updated_at, last.id.clone()));
        seen.extend(page.into_iter().map(|o| o.external_ref.unwrap()));
    }
    assert_eq!(seen, ["r0", "r1", "r2", "r3", "r4"]);
}

async fn an_attended_visit_goes_on_the_customers_file(store: Store) {
    let a = tenant(&store, "a").await;
    let c = a_customer(&store, &a, "+8613800000001").await;
    let agent = UserId::from("agent-1");
    let v = visits::book(
        &store,
        &a,
        &NewVisit {
            customer_id: c.clone(),
            scheduled_at: t(86_400),
            source: VisitSource::CallBack,
            invited_by: Some(agent.clone()),
            campaign_id: None,
            note: "试听课 trial lesson".into(),
        },
        t(10),
    )
    .await
    .unwrap();
    assert_eq!(v.state, VisitState::Booked);
    let visits::Change::Applied(done) =
        visits::close(&store, &a, &v.id, VisitState::Attended, &agent, t(86_500))
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (done.state, done.closed_at),
        (VisitState::Attended, Some(t(86_500)))
    );
    // Closing twice is refused and changes nothing.
    assert_eq!(
        visits::close(&store, &a, &v.id, VisitState::NoShow, &agent, t(86_600))
            .await
            .unwrap(),
        visits::Change::WrongState(VisitState::Attended)
    );
    let file = customers::list_interactions(&store, &a, &c, 10)
        .await
        .unwrap();
    assert!(
        file.iter()
            .any(|i| i.kind == InteractionKind::Visit && i.agent_id.as_deref() == Some("agent-1"))
    );
    let mine = visits::list(
        &store,
        &a,
        &VisitFilter {
            invited_by: Some(&agent),
            state: Some(VisitState::Attended),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(events(&store, "visit.booked").await, 1);
    assert_eq!(events(&store, "visit.attended").await, 1);
}

async fn the_next_shift_sees_the_handover_until_it_is_read(store: Store) {
    let a = tenant(&store, "a").await;
    let c1 = a_customer(&store, &a, "+8613800000001").await;
    let c2 = a_customer(&store, &a, "+8613800000002").await;
    let day_agent = UserId::from("day");
    let night_agent = UserId::from("night");
    let h = handovers::create(
        &store,
        &a,
        &NewHandover {
            shift: "day".into(),
            shift_date: "2027-01-15".into(),
            author_id: day_agent.clone(),
            note: "退款未到账".into(),
            items: vec![
                (
                    c1.clone(),
                    ItemKind::Urgent,
                    "refund not received, call before 18:00".into(),
                ),
                (
                    c2.clone(),
                    ItemKind::Prospect,
                    "asked for the price list".into(),
                ),
            ],
        },
        t(9 * 3600),
    )
    .await
    .unwrap();
    assert_eq!(
        handovers::unread_count(&store, &a, &night_agent, t(0))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        handovers::unread_count(&store, &a, &day_agent, t(0))
            .await
            .unwrap(),
        0,
        "the author has read it"
    );
    let unread = handovers::list(
        &store,
        &a,
        &HandoverFilter {
            reader: &night_agent,
            unread_only: true,
            since: None,
            limit: 10,
        },
    )
    .await
    .unwrap();
    assert_eq!(unread.len(), 1);
    assert_eq!(unread[0].items.len(), 2);
    assert_eq!(unread[0].items[0].kind, ItemKind::Urgent);
    assert!(
        handovers::mark_item_done(&store, &a, &h.id, 0, &night_agent, t(10 * 3600))
            .await
            .unwrap()
    );
    assert!(
        handovers::mark_read(&store, &a, &h.id, &night_agent, t(10 * 3600))
            .await
            .unwrap()
    );
    assert_eq!(
        handovers::unread_count(&store, &a, &night_agent, t(0))
            .await
            .unwrap(),
        0
    );
    let got = handovers::get(&store, &a, &h.id, &night_agent)
        .await
        .unwrap()
        .unwrap();
    assert!(got.read);
    assert_eq!(got.items[0].done_by.as_ref(), Some(&night_agent));
    // Another tenant cannot read or tick it.
    let b = tenant(&store, "b").await;
    assert!(
        handovers::get(&store, &b, &h.id, &night_agent)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !handovers::mark_read(&store, &b, &h.id, &night_agent, t(1))
            .await
            .unwrap()
    );
    assert!(
        !handovers::mark_item_done(&store, &b, &h.id, 1, &night_agent, t(1))
            .await
            .unwrap()
    );
    // An item naming another tenant's customer is refused and nothing is written.
    let foreign = a_customer(&store, &b, "+8613800000003").await;
    let refused = handovers::create(
        &store,
        &a,
        &NewHandover {
            shift: "night".into(),
            shift_date: "2027-01-15".into(),
            author_id: night_agent.clone(),
            note: String::new(),
            items: vec![(foreign, ItemKind::Urgent, "x".into())],
        },
        t(20 * 3600),
    )
    .await;
    assert!(refused.is_err());
    assert_eq!(
        handovers::unread_count(&store, &a, &day_agent, t(0))
            .await
            .unwrap(),
        0
    );
    // The night shift hands over in turn: a list of both carries each one's own items.
    let night = handovers::create(
        &store,
        &a,
        &NewHandover {
            shift: "night".into(),
            shift_date: "2027-01-15".into(),
            author_id: night_agent.clone(),
            note: String::new(),
            items: vec![(c2.clone(), ItemKind::FollowUp, "send the contract".into())],
        },
        t(24 * 3600),
    )
    .await
    .unwrap();
    let both = handovers::list(
        &store,
        &a,
        &HandoverFilter {
            reader: &day_agent,
            unread_only: false,
            since: None,
            limit: 10,
        },
    )
    .await
    .unwrap();
    let items: Vec<(String, usize)> = both.iter().map(|h| (h.id.clone(), h.items.len())).collect();
    assert_eq!(items, vec![(night.id.clone(), 1), (h.id.clone(), 2)]);
    assert_eq!(both[0].items[0].what, "send the contract");
}

async fn service_facts_come_from_calls_and_the_file(store: Store) {
    let a = tenant(&store, "a").await;
    let c = a_customer(&store, &a, "+8613800000001").await;
    let agent = UserId::from("agent-1");
    let call = CallId::from("call-1");
    calls::insert_call(
        &store,
        &NewCall {
            id: &call,
            tenant_id: &a,
            direction: Direction::Inbound,
            caller: "+8613800000001",
            callee: "4000",
            target: None,
            agent_user_id: None,
            queue: None,
            campaign_id: None,
            sip_call_id_a: "x",
            started_at: t(100),
            node: None,
        },
    )
    .await
    .unwrap();
    calls::mark_answered(&store, &call, t(105), "y", Some(&agent))
        .await
        .unwrap();
    customers::add_interaction(
        &store,
        &a,
        &c,
        &NewInteraction {
            kind: InteractionKind::Note,
            body: "wants the blue one".into(),
            agent_id: Some("agent-2".into()),
            call_id: None,
        },
        t(200),
    )
    .await
    .unwrap();
    orders::create(&store, &a, &order(&c, None, true), t(300))
        .await
        .unwrap();
    let served = agent_stats::served_between(&store, &a, None, t(0), t(1000))
        .await
        .unwrap();
    let mut who: Vec<_> = served.iter().map(|s| (s.agent_id.as_str(), s.at)).collect();
    who.sort();
    assert_eq!(
        who,
        [
            ("agent-1", t(105).as_millis()),
            ("agent-2", t(200).as_millis())
        ]
    );
    assert!(served.iter().all(|s| s.customer_id == c.as_str()));
    let conv = agent_stats::conversions_between(&store, &a, None, t(0), t(1000))
        .await
        .unwrap();
    assert_eq!(conv.len(), 1);
    assert_eq!(
        (conv[0].agent_id.as_str(), conv[0].amount_minor),
        ("agent-1", 128_000)
    );
    // One agent's facts only, filtered by the database.
    let agent1 = UserId::from("agent-1");
    let mine = agent_stats::served_between(&store, &a, Some(&agent1), t(0), t(1000))
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].agent_id, "agent-1");
    let agent2 = UserId::from("agent-2");
    assert!(
        agent_stats::conversions_between(&store, &a, Some(&agent2), t(0), t(1000))
            .await
            .unwrap()
            .is_empty(),
        "agent-2 converted nobody"
    );
    // Outside the window: nothing.
    assert!(
        agent_stats::served_between(&store, &a, None, t(1000), t(2000))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Many writers at once, each reading before it writes (booking checks the customer, closing
/// reads the visit): every one must wait its turn, none may fail with "database is locked".
async fn concurrent_bookings_and_closings_all_succeed(store: Store) {
    let a = tenant(&store, "a").await;
    let c = a_customer(&store, &a, "+8613800000001").await;
    let agent = UserId::from("agent-1");
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8_i64 {
        let (store, a, c, agent) = (store.clone(), a.clone(), c.clone(), agent.clone());
        writers.spawn(async move {
            for i in 0..10_i64 {
                let new = NewVisit {
                    customer_id: c.clone(),
                    scheduled_at: t(86_400 + w * 100 + i),
                    source: VisitSource::Other,
                    invited_by: Some(agent.clone()),
                    campaign_id: None,
                    note: String::new(),
                };
                let v = visits::book(&store, &a, &new, t(10)).await.unwrap();
                let closed = visits::close(&store, &a, &v.id, VisitState::Attended, &agent, t(20))
                    .await
                    .unwrap();
                assert!(matches!(closed, visits::Change::Applied(_)));
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let attended = visits::list(
        &store,
        &a,
        &VisitFilter {
            state: Some(VisitState::Attended),
            limit: 1_000,
            ..VisitFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(attended.len(), 80);
}

both_engines!(
    paying_a_prospects_order_makes_them_a_customer,
    the_same_shop_order_twice_is_booked_once,
    a_stale_version_or_a_wrong_state_changes_nothing,
    the_order_feed_pages_through_every_change_once,
    an_attended_visit_goes_on_the_customers_file,
    the_next_shift_sees_the_handover_until_it_is_read,
    service_facts_come_from_calls_and_the_file,
    concurrent_bookings_and_closings_all_succeed,
);
