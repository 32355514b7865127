//! Customer-file repository tests. Every test body runs twice: on SQLite and on PostgreSQL.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use switchboard_core::{CustomerId, E164};
use switchboard_store::customers::{
    self, Category, Cursor, CustomerData, CustomerError, CustomerPhone, IdempotencyKey,
    InteractionKind, ListQuery, NewInteraction, StoredResponse, Upsert,
};
use switchboard_store::{Store, both_engines};

use switchboard_store::testing::{t, tenant};

fn phone(s: &str) -> E164 {
    E164::parse(s).unwrap()
}

fn customer(name: &str, phones: &[&str]) -> CustomerData {
    let mut data = CustomerData::potential(phone(phones[0]), "Asia/Shanghai");
    data.name = name.to_owned();
    data.phones = phones
        .iter()
        .map(|p| CustomerPhone {
            phone: phone(p),
            label: "mobile".into(),
        })
        .collect();
    data
}

async fn outbox_events(store: &Store, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn a_customer_is_stored_with_every_field_and_phone(store: Store) {
    let a = tenant(&store, "a").await;
    let mut data = customer("王芳", &["+8613812345678", "+862188886666"]);
    data.external_id = Some("erp-17".into());
    data.given_name = "芳".into();
    data.family_name = "王".into();
    data.category = Category::Customer;
    data.grade = Some("A".into());
    data.key_customer = true;
    data.tags = vec!["vip".into(), "wholesale".into()];
    data.estimated_value_cents = 1_250_000;
    data.consent = false;
    data.do_not_call = true;
    data.custom_fields
        .insert("shoe_size".into(), serde_json::json!(38));
    let created = customers::create_customer(&store, &a, &data, t(1))
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    let got = customers::get_customer(&store, &a, &created.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, created);
    assert_eq!(got.data, data);
    assert_eq!(outbox_events(&store, "customer.created").await, 1);
}

async fn another_tenant_never_sees_the_customer(store: Store) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let c = customers::create_customer(&store, &a, &customer("Li", &["+8613800000001"]), t(1))
        .await
        .unwrap();
    assert!(
        customers::get_customer(&store, &b, &c.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        customers::find_by_phone(&store, &b, &phone("+8613800000001"))
            .await
            .unwrap()
            .is_empty()
    );
    let err = customers::update_customer(&store, &b, &c.id, 1, &c.data, t(2))
        .await
        .unwrap_err();
    assert!(matches!(err, CustomerError::NotFound(_)), "{err:?}");
    assert!(
        !customers::delete_customer(&store, &b, &c.id, t(3))
            .await
            .unwrap()
    );
    let page = customers::list_customers(
        &store,
        &b,
        &ListQuery {
            limit: 10,
            ..ListQuery::default()
        },
    )
    .await
    .unwrap();
    assert!(page.items.is_empty());
    let found = customers::find_by_phone(&store, &a, &phone("+8613800000001"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}

async fn an_update_of_a_stale_version_is_refused_and_changes_nothing(store: Store) {
    let a = tenant(&store, "a").await;
    let c = customers::create_customer(&store, &a, &customer("Li", &["+8613800000001"]), t(1))
        .await
        .unwrap();
    let mut first = c.data.clone();
    first.grade = Some("B".into());
    first.phones.push(CustomerPhone {
        phone: phone("+8613800000002"),
        label: String::new(),
    });
    let v2 = customers::update_customer(&store, &a, &c.id, 1, &first, t(2))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert!(v2.updated_at > c.updated_at);

    let mut second = c.data.clone();
    second.grade = Some("C".into());
    let err = customers::update_customer(&store, &a, &c.id, 1, &second, t(3))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CustomerError::Stale {
                expected: 1,
                current: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let got = customers::get_customer(&store, &a, &c.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, v2);
    assert_eq!(got.data.phones.len(), 2);
    assert_eq!(outbox_events(&store, "customer.updated").await, 1);
}

async fn a_failed_write_leaves_nothing_half_written(store: Store) {
    let a = tenant(&store, "a").await;
    // The same number twice breaks the phone table's key after the customer row went in.
    let bad = customer("Dup", &["+8613800000001", "+8613800000001"]);
    let err = customers::create_customer(&store, &a, &bad, t(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CustomerError::Store(switchboard_store::StoreError::Conflict { .. })
        ),
        "{err:?}"
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(outbox_events(&store, "customer.created").await, 0);

    let good = customers::create_customer(&store, &a, &customer("Ok", &["+8613800000003"]), t(2))
        .await
        .unwrap();
    let err = customers::update_customer(&store, &a, &good.id, 1, &bad, t(3))
        .await
        .unwrap_err();
    assert!(matches!(err, CustomerError::Store(_)), "{err:?}");
    let got = customers::get_customer(&store, &a, &good.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, good, "the failed update must not have touched the row");
}

fn render(c: &customers::Customer, created: bool) -> StoredResponse {
    StoredResponse {
        status: if created { 201 } else { 200 },
        body: format!("{{\"id\":\"{}\",\"version\":{}}}", c.id, c.version),
    }
}

fn key<'a>(key: &'a str, request_hash: &'a str) -> Option<IdempotencyKey<'a>> {
    Some(IdempotencyKey { key, request_hash })
}

async fn count_customers(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn the_same_idempotency_key_replays_and_refuses_another_request(store: Store) {
    let a = tenant(&store, "a").await;
    let data = customer("Li", &["+8613800000001"]);
    let first = customers::upsert_customer(&store, &a, &data, key("k1", "h1"), render, t(1))
        .await
        .unwrap();
    let Upsert::Written {
        response,
        customer: made,
        created: true,
    } = first
    else {
        panic!("first use must create: {first:?}");
    };
    assert_eq!(response.status, 201);
    assert!(response.body.contains(made.id.as_str()));
    let again = customers::upsert_customer(&store, &a, &data, key("k1", "h1"), render, t(2))
        .await
        .unwrap();
    assert_eq!(again, Upsert::Replayed(response));
    let other = customers::upsert_customer(
        &store,
        &a,
        &customer("Wang", &["+8613800000002"]),
        key("k1", "h2"),
        render,
        t(3),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(other, CustomerError::IdempotencyMismatch(_)),
        "{other:?}"
    );
    assert_eq!(count_customers(&store).await, 1);
    // Keys are per tenant.
    let b = tenant(&store, "b").await;
    let in_b = customers::upsert_customer(&store, &b, &data, key("k1", "h1"), render, t(4))
        .await
        .unwrap();
    assert!(matches!(in_b, Upsert::Written { created: true, .. }));
    assert_eq!(count_customers(&store).await, 2);
    assert_eq!(
        customers::purge_idempotency_keys(&store, t(100))
            .await
            .unwrap(),
        2
    );
}

async fn an_upsert_with_a_known_external_id_updates_that_customer(store: Store) {
    let a = tenant(&store, "a").await;
    let mut data = customer("Li", &["+8613800000001"]);
    data.external_id = Some("erp-1".into());
    let first = customers::upsert_customer(&store, &a, &data, None, render, t(1))
        .await
        .unwrap();
    data.name = "Li Lei".into();
    let second = customers::upsert_customer(&store, &a, &data, None, render, t(2))
        .await
        .unwrap();
    let (
        Upsert::Written {
            customer: c1,
            created: true,
            ..
        },
        Upsert::Written {
            customer: c2,
            created: false,
            response,
        },
    ) = (first, second)
    else {
        panic!("expected a create then an update");
    };
    assert_eq!(c1.id, c2.id);
    assert_eq!(c2.version, 2);
    assert_eq!(response.status, 200);
    assert_eq!(count_customers(&store).await, 1);
    let got = customers::get_customer(&store, &a, &c1.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.data.name, "Li Lei");
}

async fn pages_in_update_order_visit_each_unchanged_customer_once(store: Store) {
    let a = tenant(&store, "a").await;
    let mut ids = Vec::new();
    // The clock stands still for five creations at a time; stamps still strictly increase.
    for i in 0..25 {
        let c = customers::create_customer(
            &store,
            &a,
            &customer(&format!("c{i}"), &[&format!("+86138000{i:05}")]),
            t(i / 5),
        )
        .await
        .unwrap();
        ids.push(c);
    }
    let mut seen: HashMap<CustomerId, Vec<i64>> = HashMap::new();
    let mut after: Option<Cursor> = None;
    let mut pages = 0;
    loop {
        let page = customers::list_customers(
            &store,
            &a,
            &ListQuery {
                after: after.clone(),
                limit: 4,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
        for c in &page.items {
            seen.entry(c.id.clone()).or_default().push(c.version);
        }
        pages += 1;
        if pages == 2 {
            // Edit one already read and one not yet read while the client pages.
            for c in [&ids[0], &ids[20]] {
                customers::update_customer(&store, &a, &c.id, 1, &c.data, t(1))
                    .await
                    .unwrap();
            }
        }
        match page.next {
            Some(next) => after = Some(Cursor::decode(&next.encode()).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25, "no customer may be skipped");
    for c in &ids {
        let versions = &seen[&c.id];
        if c.id == ids[0].id {
            assert_eq!(
                versions,
                &vec![1, 2],
                "read, then read again after its edit"
            );
        } else if c.id == ids[20].id {
            assert_eq!(
                versions,
                &vec![2],
                "edited before it was reached: seen once, new"
            );
        } else {
            assert_eq!(versions, &vec![1], "{} repeated", c.id);
        }
    }
}

async fn updated_since_and_search_narrow_the_list(store: Store) {
    let a = tenant(&store, "a").await;
    customers::create_customer(
        &store,
        &a,
        &customer("Zhang Wei", &["+8613800000001"]),
        t(1),
    )
    .await
    .unwrap();
    customers::create_customer(&store, &a, &customer("Li Na", &["+8613911112222"]), t(10))
        .await
        .unwrap();
    let names = |page: customers::Page| -> Vec<String> {
        page.items.into_iter().map(|c| c.data.name).collect()
    };
    let since = customers::list_customers(
        &store,
        &a,
        &ListQuery {
            updated_since: Some(t(5)),
            limit: 10,
            ..ListQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(names(since), ["Li Na"]);
    let by_name = customers::list_customers(
        &store,
        &a,
        &ListQuery {
            search: Some("zhang".into()),
            limit: 10,
            ..ListQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(names(by_name), ["Zhang Wei"]);
    let by_phone = customers::list_customers(
        &store,
        &a,
        &ListQuery {
            search: Some("1391111".into()),
            limit: 10,
            ..ListQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(names(by_phone), ["Li Na"]);
    let wildcard = customers::list_customers(
        &store,
        &a,
        &ListQuery {
            search: Some("%".into()),
            limit: 10,
            ..ListQuery::default()
        },
    )
    .await
    .unwrap();
    assert!(names(wildcard).is_empty(), "% is matched literally");
}

async fn a_note_for_an_unknown_number_creates_a_potential_customer(store: Store) {
    let a = tenant(&store, "a").await;
    let note = NewInteraction {
        kind: InteractionKind::Note,
        body: "asked about delivery".into(),
        agent_id: Some("agent-1".into()),
        call_id: Some("call-1".into()),
    };
    let number = phone("+8613755556666");
    let (c, created, first) =
        customers::add_interaction_by_phone(&store, &a, &number, "Asia/Shanghai", &note, t(1))
            .await
            .unwrap();
    assert!(created);
    assert_eq!(c.data.category, Category::Potential);
    assert_eq!(c.data.phones[0].phone, number);
    let (same, created_again, second) =
        customers::add_interaction_by_phone(&store, &a, &number, "Asia/Shanghai", &note, t(2))
            .await
            .unwrap();
    assert!(!created_again);
    assert_eq!(same.id, c.id);
    let notes = customers::list_interactions(&store, &a, &c.id, 10)
        .await
        .unwrap();
    assert_eq!(notes, vec![second, first], "newest first");
    let b = tenant(&store, "b").await;
    let err = customers::add_interaction(&store, &b, &c.id, &note, t(3))
        .await
        .unwrap_err();
    assert!(matches!(err, CustomerError::NotFound(_)), "{err:?}");
}

async fn deleting_a_customer_removes_its_phones_and_notes(store: Store) {
    let a = tenant(&store, "a").await;
    let c = customers::create_customer(&store, &a, &customer("Li", &["+8613800000001"]), t(1))
        .await
        .unwrap();
    customers::add_interaction(
        &store,
        &a,
        &c.id,
        &NewInteraction {
            kind: InteractionKind::Visit,
            body: "came to the shop".into(),
            agent_id: None,
            call_id: None,
        },
        t(2),
    )
    .await
    .unwrap();
    assert!(
        customers::delete_customer(&store, &a, &c.id, t(3))
            .await
            .unwrap()
    );
    assert!(
        customers::find_by_phone(&store, &a, &phone("+8613800000001"))
            .await
            .unwrap()
            .is_empty()
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customer_interactions")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(outbox_events(&store, "customer.deleted").await, 1);
    assert!(
        !customers::delete_customer(&store, &a, &c.id, t(4))
            .await
            .unwrap()
    );
}

async fn a_clock_running_behind_still_moves_the_change_feed_forward(store: Store) {
    let a = tenant(&store, "a").await;
    let first = customers::create_customer(&store, &a, &customer("A", &["+8613800000001"]), t(10))
        .await
        .unwrap();
    let second = customers::create_customer(&store, &a, &customer("B", &["+8613800000002"]), t(5))
        .await
        .unwrap();
    assert!(second.updated_at > first.updated_at);
}

async fn concurrent_notes_and_creates_all_succeed(store: Store) {
    let a = tenant(&store, "a").await;
    let c = customers::create_customer(&store, &a, &customer("Li", &["+8613800000001"]), t(1))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (store, a, id) = (store.clone(), a.clone(), c.id.clone());
        tasks.push(tokio::spawn(async move {
            let note = NewInteraction {
                kind: InteractionKind::Note,
                body: format!("note {i}"),
                agent_id: None,
                call_id: None,
            };
            customers::add_interaction(&store, &a, &id, &note, t(2)).await?;
            customers::add_interaction_by_phone(
                &store,
                &a,
                &phone("+8613800000001"),
                "UTC",
                &note,
                t(3),
            )
            .await?;
            customers::create_customer(
                &store,
                &a,
                &customer(&format!("n{i}"), &[&format!("+86139000{i:05}")]),
                t(4),
            )
            .await
            .map(|_| ())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let notes = customers::list_interactions(&store, &a, &c.id, 1000)
        .await
        .unwrap();
    assert_eq!(notes.len(), 32);
}

/// Writers create and edit while a reader follows the feed from its last position: once the
/// writers stop and the reader catches up, it has seen every customer at its final version.
async fn a_reader_following_the_feed_misses_no_concurrent_write(store: Store) {
    let a = tenant(&store, "a").await;
    let mut writers = Vec::new();
    for w in 0..4 {
        let (store, a) = (store.clone(), a.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..10 {
                let c = customers::create_customer(
                    &store,
                    &a,
                    &customer(&format!("w{w}-{i}"), &[&format!("+8613{w}000{i:05}")]),
                    t(1),
                )
                .await
                .unwrap();
                customers::update_customer(&store, &a, &c.id, 1, &c.data, t(1))
                    .await
                    .unwrap();
            }
        }));
    }
    let mut seen: HashMap<CustomerId, i64> = HashMap::new();
    let mut after: Option<Cursor> = None;
    let mut writers_done = false;
    loop {
        let page = customers::list_customers(
            &store,
            &a,
            &ListQuery {
                after: after.clone(),
                limit: 5,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
        for c in &page.items {
            let v = seen.entry(c.id.clone()).or_default();
            *v = (*v).max(c.version);
            after = Some(Cursor {
                updated_at: c.updated_at,
                id: c.id.clone(),
            });
        }
        if page.items.is_empty() {
            if writers_done {
                break;
            }
            // Caught up: the next pass, after the writers have finished, drains the rest.
            writers_done = writers.iter().all(|w| w.is_finished());
            tokio::task::yield_now().await;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let all = customers::list_customers(
        &store,
        &a,
        &ListQuery {
            limit: 1000,
            ..ListQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.items.len(), 40);
    for c in &all.items {
        assert_eq!(seen.get(&c.id), Some(&c.version), "{} missed", c.id);
    }
}

both_engines!(
    a_reader_following_the_feed_misses_no_concurrent_write,
    concurrent_notes_and_creates_all_succeed,
    a_customer_is_stored_with_every_field_and_phone,
    another_tenant_never_sees_the_customer,
    an_update_of_a_stale_version_is_refused_and_changes_nothing,
    a_failed_write_leaves_nothing_half_written,
    the_same_idempotency_key_replays_and_refuses_another_request,
    an_upsert_with_a_known_external_id_updates_that_customer,
    pages_in_update_order_visit_each_unchanged_customer_once,
    updated_since_and_search_narrow_the_list,
    a_note_for_an_unknown_number_creates_a_potential_customer,
    deleting_a_customer_removes_its_phones_and_notes,
    a_clock_running_behind_still_moves_the_change_feed_forward,
);

#[test]
fn a_cursor_survives_a_round_trip_and_garbage_is_refused() {
    let c = Cursor {
        updated_at: t(1),
        id: CustomerId::from("0193-abc"),
    };
    assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    for bad in ["", "zz", "3a", &hex::encode("x:"), &hex::encode("12")] {
        assert!(Cursor::decode(bad).is_err(), "{bad}");
    }
}
