//! Sans-IO delivery planning: which subscriptions get an event, the exact request each gets,
//! and — from the answers — whether the event is done or when to try again (exponential
//! backoff with jitter). The worker only performs what this decides.

use std::time::Duration;

use serde_json::json;
use switchboard_core::Timestamp;
use switchboard_store::outbox::{OutboxEvent, Subscription};

use super::signature::{SIGNATURE_HEADER, sign};

/// Backoff between attempts of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubles after each further one.
    pub base: Duration,
    /// Delays never exceed this.
    pub max: Duration,
    /// Share of the delay taken off at random (0.0-1.0), so receivers that come back are not
    /// hit by every sender at the same instant.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(15 * 60),
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// When to try again after `failed_attempts` failures (1 = the first failure); `sample` is
    /// a uniform random number in [0, 1).
    pub fn next_attempt(&self, failed_attempts: i64, now: Timestamp, sample: f64) -> Timestamp {
        let exp = u32::try_from(failed_attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let delay = self
            .base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max);
        let cut = self.jitter.clamp(0.0, 1.0) * sample.clamp(0.0, 1.0);
        now + delay.mul_f64(1.0 - cut)
    }
}

/// One HTTP POST to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub subscription_id: String,
    pub url: String,
    pub body: Vec<u8>,
    /// `Content-Type`, `X-Switchboard-Event`, `Idempotency-Key`, `X-Switchboard-Signature`.
    pub headers: Vec<(&'static str, String)>,
}

/// The JSON body every subscriber of `event` receives.
pub fn body_of(event: &OutboxEvent) -> Vec<u8> {
    let data: serde_json::Value =
        serde_json::from_str(&event.payload).unwrap_or(serde_json::Value::Null);
    json!({
        "id": event.id,
        "type": event.event_type,
        "tenant": event.tenant_id,
        "created_at": event.created_at.to_string(),
        "data": data,
    })
    .to_string()
    .into_bytes()
}

/// The requests for `event`: one per active subscription of its tenant that wants its type
/// and has not had it yet.
pub fn plan(event: &OutboxEvent, subscriptions: &[Subscription], done: &[String]) -> Vec<Request> {
    let body = body_of(event);
    subscriptions
        .iter()
        .filter(|s| s.tenant_id == event.tenant_id && s.wants(&event.event_type))
        .filter(|s| !done.contains(&s.id))
        .map(|s| Request {
            subscription_id: s.id.clone(),
            url: s.url.clone(),
            headers: vec![
                ("Content-Type", "application/json".to_owned()),
                ("X-Switchboard-Event", event.event_type.clone()),
                ("Idempotency-Key", event.id.clone()),
                (SIGNATURE_HEADER, sign(&s.secret, &body)),
            ],
            body: body.clone(),
        })
        .collect()
}

/// What happened to the event after a round of requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every subscriber answered 2xx (or there were none).
    Delivered,
    Retry {
        at: Timestamp,
        error: String,
    },
}

/// Decides from the failures of this round (`subscription id`, reason).
pub fn verdict(
    policy: &RetryPolicy,
    event: &OutboxEvent,
    failures: &[(String, String)],
    now: Timestamp,
    sample: f64,
) -> Verdict {
    if failures.is_empty() {
        return Verdict::Delivered;
    }
    let error = failures
        .iter()
        .map(|(sub, why)| format!("{sub}: {why}"))
        .collect::<Vec<_>>()
        .join("; ");
    Verdict::Retry {
        at: policy.next_attempt(event.attempts + 1, now, sample),
        error,
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
