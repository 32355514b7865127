//! The thin tokio loop that delivers the outbox: each round takes the due events, POSTs them as
//! [`schedule::plan`] says, records each 2xx per subscription and lets [`schedule::verdict`]
//! decide between delivered and a later retry. A crash between sending and recording only
//! means a resend (at-least-once); receivers dedupe on `Idempotency-Key`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use switchboard_core::{Clock, TenantId};
use switchboard_store::outbox::{self, Subscription};
use switchboard_store::{Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::client;
use super::schedule::{self, RetryPolicy, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the worker paces itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerSettings {
    /// Longest sleep between rounds when nothing is due sooner.
    pub poll_interval: Duration,
    /// Events per round.
    pub batch: i64,
    /// Deadline for one POST (connect to response head).
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            poll_interval: Duration::from_secs(1),
            batch: 100,
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    pub events: usize,
    pub delivered: usize,
    pub retried: usize,
    pub requests: usize,
}

/// Delivers every event due now (one batch). Used by the loop and by tests.
pub async fn deliver_due(
    store: &Store,
    clock: &dyn Clock,
    settings: &WorkerSettings,
) -> Result<RoundReport, WorkerError> {
    let mut report = RoundReport::default();
    let due = outbox::due(store, clock.now(), settings.batch).await?;
    let mut subscriptions: HashMap<TenantId, Vec<Subscription>> = HashMap::new();
    for event in due {
        report.events += 1;
        if !subscriptions.contains_key(&event.tenant_id) {
            let subs = outbox::list_subscriptions(store, &event.tenant_id).await?;
            subscriptions.insert(event.tenant_id.clone(), subs);
        }
        let subs = subscriptions
            .get(&event.tenant_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let done = outbox::delivered_to(store, &event.id).await?;
        let mut failures = Vec::new();
        for request in schedule::plan(&event, subs, &done) {
            report.requests += 1;
            match client::post(&request, settings.request_timeout).await {
                Ok(status) if (200..300).contains(&status) => {
                    outbox::record_delivery(
                        store,
                        &event.id,
                        &request.subscription_id,
                        clock.now(),
                    )
                    .await?;
                }
                Ok(status) => failures.push((request.subscription_id, format!("HTTP {status}"))),
                Err(e) => failures.push((request.subscription_id, e.to_string())),
            }
        }
        let sample: f64 = rand::thread_rng().r#gen();
        let now = clock.now();
        match schedule::verdict(&settings.retry, &event, &failures, now, sample) {
            Verdict::Delivered => {
                outbox::mark_delivered(store, &event.id, now).await?;
                report.delivered += 1;
            }
            Verdict::Retry { at, error } => {
                tracing::debug!(event = %event.id, %error, next = %at, "webhook delivery failed; will retry");
                outbox::mark_failed(store, &event.id, &error, at).await?;
                report.retried += 1;
            }
        }
    }
    Ok(report)
}

/// Starts the delivery loop; it returns after `stop` turns true (or its sender is dropped).
pub fn spawn_worker(
    store: Store,
    clock: Arc<dyn Clock>,
    settings: WorkerSettings,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let mut pause = settings.poll_interval;
            match deliver_due(&store, clock.as_ref(), &settings).await {
                // A full batch means more are waiting: go again at once.
                Ok(r) if i64::try_from(r.events).unwrap_or(i64::MAX) >= settings.batch => {
                    pause = Duration::ZERO;
                }
                Ok(_) => {
                    if let Ok(Some(next)) = outbox::next_due_at(&store).await {
                        pause = pause.min(next.since(clock.now()));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhook delivery round failed; retrying"),
            }
            tokio::select! {
                _ = tokio::time::sleep(pause.max(Duration::from_millis(20))) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    })
}
