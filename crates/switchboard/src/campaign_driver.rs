//! The campaign trigger driver: every `interval` it runs one tick of
//! `switchboard_crm::campaigns::triggers::tick` with the clock's `now` — unpaid orders at 3 and
//! 7 days become reminder and warning tasks, resolved tickets a follow-up call. The tick is a
//! pure function of the database and `now` (the decisions are the campaign crate's
//! `TriggerEngine`), and every task carries a unique trigger key, so several nodes may run this
//! loop on one PostgreSQL at once, and a restart repeats nothing.

use std::sync::Arc;
use std::time::Duration;

use switchboard_campaign::triggers::TriggerConfig;
use switchboard_core::Clock;
use switchboard_crm::campaigns::triggers::{TickReport, tick};
use switchboard_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::CampaignConfig;

/// How often `serve` ticks: fine enough that a reminder appears within the minute it is due.
pub const TICK_EVERY: Duration = Duration::from_secs(60);

/// The trigger timings from `[campaign]`.
pub fn trigger_config(c: &CampaignConfig) -> TriggerConfig {
    let days = |d: u32| Duration::from_secs(u64::from(d) * 86_400);
    TriggerConfig {
        order_reminder_after: days(c.order_reminder_days),
        order_warning_after: days(c.order_warning_days),
        sla: days(c.callback_sla_days),
    }
}

/// One tick at the clock's `now`, logged (what `serve` runs every [`TICK_EVERY`]).
pub async fn run_once(store: &Store, cfg: &TriggerConfig, clock: &dyn Clock) -> Option<TickReport> {
    match tick(store, cfg, clock.now()).await {
        Ok(report) => {
            if report.created > 0 || !report.skipped.is_empty() {
                tracing::info!(
                    created = report.created,
                    skipped = ?report.skipped,
                    "campaign triggers"
                );
            }
            Some(report)
        }
        Err(e) => {
            tracing::warn!(error = %e, "campaign trigger tick failed; retrying next round");
            None
        }
    }
}

/// Runs [`run_once`] every `interval` until `stop` turns true.
pub fn spawn(
    store: Store,
    clock: Arc<dyn Clock>,
    cfg: TriggerConfig,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            run_once(&store, &cfg, clock.as_ref()).await;
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
