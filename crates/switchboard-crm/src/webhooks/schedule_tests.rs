//! Backoff and fan-out, with made-up times and random samples.

use std::time::Duration;

use switchboard_core::{TenantId, Timestamp};
use switchboard_store::outbox::{OutboxEvent, Subscription};

use super::*;
use crate::webhooks::signature::verify;

fn t0() -> Timestamp {
    Timestamp::from_secs(1_800_000_000)
}

fn event(attempts: i64) -> OutboxEvent {
    OutboxEvent {
        id: "ev-1".into(),
        tenant_id: TenantId::from("acme"),
        event_type: "ticket.created".into(),
        payload: r#"{"ticket":{"id":"t1"}}"#.into(),
        created_at: t0(),
        attempts,
        next_attempt_at: t0(),
        delivered_at: None,
        last_error: None,
    }
}

fn sub(id: &str, tenant: &str, types: &[&str], active: bool) -> Subscription {
    Subscription {
        id: id.into(),
        tenant_id: TenantId::from(tenant),
        url: format!("http://127.0.0.1:9/{id}"),
        secret: format!("secret-{id}"),
        event_types: types.iter().map(|s| s.to_string()).collect(),
        active,
        created_at: t0(),
        updated_at: t0(),
    }
}

#[test]
fn backoff_doubles_from_the_base_up_to_the_cap() {
    let p = RetryPolicy {
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
        jitter: 0.0,
    };
    let delays: Vec<i64> = (1..=8)
        .map(|n| (p.next_attempt(n, t0(), 0.5).as_millis() - t0().as_millis()) / 1000)
        .collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    // Absurd attempt counts stay capped instead of overflowing.
    assert_eq!(
        p.next_attempt(i64::MAX, t0(), 0.0),
        t0() + Duration::from_secs(60)
    );
}

#[test]
fn jitter_takes_at_most_its_share_off_the_delay() {
    let p = RetryPolicy {
        base: Duration::from_secs(10),
        max: Duration::from_secs(600),
        jitter: 0.2,
    };
    assert_eq!(p.next_attempt(1, t0(), 0.0), t0() + Duration::from_secs(10));
    assert_eq!(p.next_attempt(1, t0(), 0.5), t0() + Duration::from_secs(9));
    let earliest = p.next_attempt(1, t0(), 0.999_999);
    assert!(earliest >= t0() + Duration::from_secs(8));
}

#[test]
fn plan_sends_to_matching_active_subscriptions_of_the_tenant_not_yet_served() {
    let subs = vec![
        sub("all", "acme", &["*"], true),
        sub("tickets", "acme", &["ticket.*"], true),
        sub("exact", "acme", &["ticket.created"], true),
        sub("customers", "acme", &["customer.*"], false),
        sub("off", "acme", &["*"], false),
        sub("other-tenant", "globex", &["*"], true),
        sub("done", "acme", &["*"], true),
    ];
    let reqs = plan(&event(0), &subs, &["done".to_owned()]);
    let ids: Vec<&str> = reqs.iter().map(|r| r.subscription_id.as_str()).collect();
    assert_eq!(ids, ["all", "tickets", "exact"]);
}

#[test]
fn every_request_carries_event_type_idempotency_key_and_a_valid_signature() {
    let subs = vec![sub("a", "acme", &["*"], true)];
    let reqs = plan(&event(0), &subs, &[]);
    let r = &reqs[0];
    let header = |name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("X-Switchboard-Event"), "ticket.created");
    assert_eq!(header("Idempotency-Key"), "ev-1");
    assert!(verify(
        "secret-a",
        &r.body,
        &header("X-Switchboard-Signature")
    ));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["id"], "ev-1");
    assert_eq!(body["data"]["ticket"]["id"], "t1");
}

#[test]
fn a_failed_round_retries_later_and_a_clean_round_is_delivered() {
    let p = RetryPolicy {
        base: Duration::from_secs(2),
        max: Duration::from_secs(60),
        jitter: 0.0,
    };
    assert_eq!(verdict(&p, &event(0), &[], t0(), 0.0), Verdict::Delivered);
    let failures = vec![("a".to_owned(), "HTTP 503".to_owned())];
    // The third failure (two before) waits 2 s × 2² = 8 s.
    assert_eq!(
        verdict(&p, &event(2), &failures, t0(), 0.0),
        Verdict::Retry {
            at: t0() + Duration::from_secs(8),
            error: "a: HTTP 503".into()
        }
    );
}
