//! What the outbound dialer keeps across restarts: per-day live-answered and abandoned counts
//! (added to, never overwritten) and the abandoned-call log the 72 h rule reads back for every
//! campaign of the tenant, and only that tenant's. Every body runs on SQLite and PostgreSQL.

// Test bodies: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use switchboard_store::dialer::{self, Abandon, DialerDay};
use switchboard_store::testing::{t, tenant};
use switchboard_store::{Store, both_engines};

async fn days_add_up_per_campaign_and_day(store: Store) {
    let a = tenant(&store, "acme").await;
    dialer::count_day(&store, &a, "c1", 100, 1, 0)
        .await
        .unwrap();
    dialer::count_day(&store, &a, "c1", 100, 1, 0)
        .await
        .unwrap();
    dialer::count_day(&store, &a, "c1", 100, 0, 1)
        .await
        .unwrap();
    dialer::count_day(&store, &a, "c1", 101, 5, 0)
        .await
        .unwrap();
    dialer::count_day(&store, &a, "c2", 100, 9, 9)
        .await
        .unwrap();
    let days = dialer::days(&store, &a, "c1", 100).await.unwrap();
    assert_eq!(
        days,
        vec![
            DialerDay {
                day: 100,
                live_answered: 2,
                abandoned: 1
            },
            DialerDay {
                day: 101,
                live_answered: 5,
                abandoned: 0
            },
        ]
    );
    assert_eq!(dialer::days(&store, &a, "c1", 101).await.unwrap().len(), 1);
}

async fn abandons_are_read_back_by_time_for_the_tenant_only(store: Store) {
    let a = tenant(&store, "acme").await;
    let g = tenant(&store, "globex").await;
    let abandon = |tenant: &switchboard_core::TenantId, campaign: &str, number: &str, at| Abandon {
        tenant_id: tenant.clone(),
        campaign_id: campaign.into(),
        task_id: "task".into(),
        call_id: format!("call-{number}-{campaign}"),
        number: number.into(),
        answered_at: t(at - 2),
        abandoned_at: t(at),
        message_played: true,
    };
    dialer::record_abandon(&store, &abandon(&a, "c1", "+8613800000001", 10))
        .await
        .unwrap();
    dialer::record_abandon(&store, &abandon(&a, "c2", "+8613800000002", 500))
        .await
        .unwrap();
    dialer::record_abandon(&store, &abandon(&g, "c9", "+8613800000003", 600))
        .await
        .unwrap();
    let since = dialer::abandons_since(&store, &a, t(100)).await.unwrap();
    assert_eq!(since, vec![abandon(&a, "c2", "+8613800000002", 500)]);
    let all = dialer::abandons_since(&store, &a, t(0)).await.unwrap();
    assert_eq!(all.len(), 2, "both campaigns of acme, none of globex");
}

both_engines!(
    days_add_up_per_campaign_and_day,
    abandons_are_read_back_by_time_for_the_tenant_only,
);
