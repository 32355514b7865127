//! Acceptance 4 of issue 9 at the driver: `serve`'s campaign trigger tick, called with a set
//! clock (no sleeps) on real SQLite and PostgreSQL, creates the unpaid-order reminder at 3
//! days and the warning at 7 (none for a paid or cancelled order), and neither a restart nor
//! two nodes ticking at the same instant duplicate a task.

// Test bodies: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use switchboard::campaign_driver::{run_once, trigger_config};
use switchboard::config::CampaignConfig;
use switchboard_core::{E164, ManualClock, Timestamp};
use switchboard_store::customers::{self, CustomerData};
use switchboard_store::orders::{self, NewOrder};
use switchboard_store::testing::{t, tenant};
use switchboard_store::{Store, both_engines};

const DAY: Duration = Duration::from_secs(86_400);

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn order(store: &Store, phone: &str, placed: Timestamp) -> String {
    let a = tenant(store, "shop").await;
    let data = CustomerData::potential(E164::parse(phone).unwrap(), "Asia/Shanghai");
    let c = customers::create_customer(store, &a, &data, placed)
        .await
        .unwrap();
    let new = NewOrder {
        customer_id: c.id,
        external_ref: None,
        description: "课程 course".into(),
        amount_minor: 19_900,
        currency: "CNY".into(),
        agent_id: None,
        placed_at: placed,
        paid: false,
    };
    match orders::create(store, &a, &new, placed).await.unwrap() {
        orders::Created::New(o) | orders::Created::Existing(o) => o.id,
    }
}

async fn unpaid_orders_get_a_reminder_at_three_days_and_a_warning_at_seven_once(store: Store) {
    let cfg = trigger_config(&CampaignConfig::default());
    let placed = t(0);
    let open = order(&store, "+8613800000001", placed).await;
    let paid = order(&store, "+8613800000002", placed).await;
    let cancelled = order(&store, "+8613800000003", placed).await;
    let a = tenant(&store, "shop").await;
    for (id, to) in [
        (&paid, orders::OrderState::Paid),
        (&cancelled, orders::OrderState::Cancelled),
    ] {
        orders::transition(&store, &a, id, to, None, placed + DAY)
            .await
            .unwrap();
    }
    let tasks = "SELECT COUNT(*) FROM tasks WHERE numbers IS NOT NULL";
    let clock = ManualClock::new(placed + DAY * 3 - Duration::from_secs(60));
    assert_eq!(run_once(&store, &cfg, &clock).await.unwrap().created, 0);
    assert_eq!(count(&store, tasks).await, 0, "a minute early: nothing");
    clock.set(placed + DAY * 3);
    assert_eq!(run_once(&store, &cfg, &clock).await.unwrap().created, 1);
    let reminder = format!(
        "SELECT COUNT(*) FROM tasks WHERE trigger_key = 'order:{open}:reminder' AND kind = 'order_reminder'"
    );
    assert_eq!(count(&store, &reminder).await, 1);
    // A restart: a new clock at the same instant, a fresh tick.
    let restarted = ManualClock::new(placed + DAY * 3);
    assert_eq!(run_once(&store, &cfg, &restarted).await.unwrap().created, 0);
    // Two nodes at the warning's instant, at once.
    let (n1, n2) = (
        ManualClock::new(placed + DAY * 7),
        ManualClock::new(placed + DAY * 7),
    );
    let (r1, r2) = tokio::join!(run_once(&store, &cfg, &n1), run_once(&store, &cfg, &n2));
    assert_eq!(
        r1.unwrap().created + r2.unwrap().created,
        1,
        "one warning between the two nodes"
    );
    let warning = format!("SELECT COUNT(*) FROM tasks WHERE trigger_key = 'order:{open}:warning'");
    assert_eq!(count(&store, &warning).await, 1);
    assert_eq!(
        count(&store, tasks).await,
        2,
        "nothing for the paid or the cancelled order"
    );
    // The warning is due 3 days after it fired, in the campaign the driver keeps for it.
    let due: i64 = sqlx::query_scalar(&format!(
        "SELECT due_at FROM tasks WHERE trigger_key = 'order:{open}:warning'"
    ))
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(due, (placed + DAY * 10).as_millis());
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM campaigns WHERE trigger_kind IN ('order_reminder','order_warning') AND state = 'running'").await,
        2
    );
}

#[test]
fn the_default_config_is_the_service_rules_quota_table_and_campaign_rules() {
    let config = switchboard::config::Config::default();
    assert_eq!(
        switchboard::serve::quota_table(&config),
        switchboard_campaign::quota::QuotaTable::default()
    );
    let settings = switchboard::serve::campaign_settings(&config);
    assert_eq!(
        settings.calling,
        switchboard_campaign::calling::CallingPolicy::default()
    );
    assert_eq!(
        settings.retry,
        switchboard_campaign::attempts::RetryPolicy::default()
    );
    assert_eq!(
        settings.effective,
        switchboard_campaign::outcome::EffectiveRule::default()
    );
}

both_engines!(unpaid_orders_get_a_reminder_at_three_days_and_a_warning_at_seven_once);
