//! The thin tokio loop that runs the ticket clock in `serve`: every `interval` it feeds
//! `handle_timeout(now)` to the tickets whose deadline has come, until told to stop.

use std::sync::Arc;
use std::time::Duration;

use switchboard_core::Clock;
use switchboard_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::TicketPolicy;
use super::service;

/// Tickets handled per sweep; the rest wait for the next one.
const BATCH: i64 = 500;

/// Starts the sweep; it returns after `stop` turns true (or its sender is dropped).
pub fn spawn_sweeper(
    store: Store,
    clock: Arc<dyn Clock>,
    policy: Arc<TicketPolicy>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = clock.now();
            match service::sweep(&store, &policy, now, BATCH).await {
                Ok(r) if r.steps > 0 || r.skipped > 0 => {
                    tracing::info!(
                        checked = r.checked,
                        steps = r.steps,
                        skipped = r.skipped,
                        "ticket clock sweep"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "ticket clock sweep failed; retrying next round")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    })
}
