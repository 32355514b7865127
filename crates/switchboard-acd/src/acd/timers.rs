//! Deadlines: ring timeouts, wrap-up ends, wait alerts and maximum waits.

use std::time::Duration;

use switchboard_core::{AgentId, CallId, QueueId, Timestamp};

use super::{Acd, AcdError, Call, CallPhase};
use crate::agent::{AgentStatus, ChangeReason, NotReadyReason};
use crate::config::{MaxWaitAction, QueueConfig};
use crate::event::{CancelReason, Output};

impl Acd {
    /// The earliest deadline, if any. The driver calls [`Acd::handle_timeout`] when it passes.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let wrap_ups = self
            .agents
            .values()
            .filter(|a| a.status == AgentStatus::WrapUp)
            .filter_map(|a| a.wrap_up_until);
        let calls = self
            .calls
            .values()
            .filter(|c| c.is_queued())
            .filter_map(|c| {
                let config = &self.queues.get(&c.queue)?.config;
                call_deadline(c, config)
            });
        wrap_ups.chain(calls).min()
    }

    /// Acts on every deadline at or before `now`, then offers waiting calls.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), AcdError> {
        self.end_due_wrap_ups(now)?;
        self.expire_offers(now)?;
        self.raise_wait_alerts(now);
        self.apply_max_waits(now)?;
        self.dispatch(now)
    }

    fn end_due_wrap_ups(&mut self, now: Timestamp) -> Result<(), AcdError> {
        let due: Vec<AgentId> = self
            .agents
            .values()
            .filter(|a| {
                a.status == AgentStatus::WrapUp && a.wrap_up_until.is_some_and(|t| t <= now)
            })
            .map(|a| a.id.clone())
            .collect();
        for id in due {
            self.move_agent(&id, AgentStatus::Ready, ChangeReason::WrapUpElapsed, now)?;
        }
        Ok(())
    }

    /// Offers that rang out: each agent counts a miss (and goes not-ready "missed" at the
    /// queue's limit); the call goes back to waiting and on to the next agent.
    fn expire_offers(&mut self, now: Timestamp) -> Result<(), AcdError> {
        let due: Vec<(CallId, QueueId, Vec<AgentId>)> = self
            .calls
            .values()
            .filter_map(|c| match &c.phase {
                CallPhase::Offered { agents, expires_at } if *expires_at <= now => Some((
                    c.id.clone(),
                    c.queue.clone(),
                    agents.iter().cloned().collect(),
                )),
                _ => None,
            })
            .collect();
        for (call, queue, agents) in due {
            let max_misses = self
                .queues
                .get(&queue)
                .map_or(QueueConfig::default().max_missed_offers, |q| {
                    q.config.max_missed_offers
                });
            for agent in agents {
                self.drop_ringer(&call, &agent, CancelReason::RingTimeout);
                let misses = match self.agents.get_mut(&agent) {
                    Some(a) => {
                        a.misses += 1;
                        a.counters.missed += 1;
                        a.misses
                    }
                    None => continue,
                };
                let (to, reason) = if misses >= max_misses {
                    (
                        AgentStatus::NotReady(NotReadyReason::Missed),
                        ChangeReason::MissedOffers,
                    )
                } else {
                    (AgentStatus::Ready, ChangeReason::RingTimeout)
                };
                self.move_agent(&agent, to, reason, now)?;
            }
        }
        Ok(())
    }

    fn raise_wait_alerts(&mut self, now: Timestamp) {
        for call in self.calls.values_mut() {
            let Some(q) = self.queues.get(&call.queue) else {
                continue;
            };
            if call.is_queued()
                && !call.alerted
                && call.entered_queue_at + q.config.wait_alert.as_duration() <= now
            {
                call.alerted = true;
                self.outputs.push_back(Output::WaitAlert {
                    call: call.id.clone(),
                    queue: call.queue.clone(),
                    waited: now.since(call.entered_queue_at),
                });
            }
        }
    }

    fn apply_max_waits(&mut self, now: Timestamp) -> Result<(), AcdError> {
        let due: Vec<(CallId, MaxWaitAction)> = self
            .calls
            .values()
            .filter(|c| c.is_queued() && !c.max_wait_done)
            .filter_map(|c| {
                let config = &self.queues.get(&c.queue)?.config;
                let max = config.max_wait?;
                (c.entered_queue_at + max.as_duration() <= now)
                    .then(|| (c.id.clone(), config.on_max_wait.clone()))
            })
            .collect();
        for (id, action) in due {
            match action {
                MaxWaitAction::OfferCallback => {
                    if let Some(call) = self.calls.get_mut(&id) {
                        call.max_wait_done = true;
                        self.outputs.push_back(Output::OfferCallback {
                            call: id.clone(),
                            queue: call.queue.clone(),
                        });
                    }
                }
                MaxWaitAction::Overflow(to) => self.overflow(&id, to, now)?,
            }
        }
        Ok(())
    }

    fn overflow(&mut self, id: &CallId, to: QueueId, now: Timestamp) -> Result<(), AcdError> {
        if !self.queues.contains_key(&to) {
            // Removal of an overflow target is refused, so this is a stale config: keep waiting.
            if let Some(call) = self.calls.get_mut(id) {
                call.max_wait_done = true;
            }
            return Ok(());
        }
        self.withdraw_offer(id, CancelReason::Overflow, now)?;
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| AcdError::UnknownCall(id.clone()))?;
        let from = std::mem::replace(&mut call.queue, to.clone());
        let waited = now.since(call.entered_queue_at);
        call.entered_queue_at = now;
        call.alerted = false;
        call.max_wait_done = false;
        call.declined.clear();
        if let Some(q) = self.queues.get_mut(&from) {
            q.counters.overflowed_out += 1;
            q.counters.record_wait(waited);
        }
        if let Some(q) = self.queues.get_mut(&to) {
            q.counters.offered += 1;
        }
        self.outputs.push_back(Output::Overflow {
            call: id.clone(),
            from,
            to,
        });
        Ok(())
    }
}

/// The earliest deadline of one call under its queue's config.
fn call_deadline(call: &Call, config: &QueueConfig) -> Option<Timestamp> {
    if !call.is_queued() {
        return None;
    }
    let offer = match &call.phase {
        CallPhase::Offered { expires_at, .. } => Some(*expires_at),
        _ => None,
    };
    let alert = (!call.alerted).then(|| call.entered_queue_at + config.wait_alert.as_duration());
    let max_wait = config
        .max_wait
        .filter(|_| !call.max_wait_done)
        .map(|m| call.entered_queue_at + m.as_duration());
    [offer, alert, max_wait].into_iter().flatten().min()
}

/// How long a queued call has waited in its current queue.
pub(crate) fn waited(call: &Call, now: Timestamp) -> Duration {
    now.since(call.entered_queue_at)
}
