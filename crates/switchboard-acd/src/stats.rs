//! Service-level counters per queue and per agent, and the figures derived from them.
//!
//! Counters only grow; figures (service level, ASA, AHT, occupancy) are computed on demand so a
//! live snapshot and a stored history agree. Definitions:
//! - service level = calls answered within T ÷ (answered + abandoned), the calls whose wait
//!   ended in the queue (overflowed calls count in the queue that finally handles them);
//! - ASA = total wait of answered calls ÷ answered;
//! - AHT = (talk + wrap-up) ÷ calls handled;
//! - occupancy = (on-call + wrap-up) ÷ (ready + ringing + on-call + wrap-up) time.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_core::{AgentId, CallId, QueueId, Timestamp};

use crate::agent::AgentStatus;

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    // u64 → f64 loses precision only beyond 2^53 ms (285,000 years).
    (den > 0).then(|| num as f64 / den as f64)
}

fn mean(total_ms: u64, count: u64) -> Option<Duration> {
    (count > 0).then(|| Duration::from_millis(total_ms / count))
}

/// Counters of one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounters {
    /// Calls that entered the queue (arrivals and overflows in).
    pub offered: u64,
    pub answered: u64,
    /// Answered within the service-level threshold T.
    pub answered_within_threshold: u64,
    pub abandoned: u64,
    pub overflowed_out: u64,
    pub callbacks_requested: u64,
    pub total_answer_wait_ms: u64,
    /// Longest wait of a call that left the queue (answered, abandoned, overflowed).
    pub longest_wait_ms: u64,
    pub handled: u64,
    pub total_talk_ms: u64,
    pub total_wrap_up_ms: u64,
}

impl QueueCounters {
    pub(crate) fn record_wait(&mut self, waited: Duration) {
        self.longest_wait_ms = self.longest_wait_ms.max(ms(waited));
    }

    pub(crate) fn record_answer(&mut self, waited: Duration, threshold: Duration) {
        self.answered += 1;
        if waited <= threshold {
            self.answered_within_threshold += 1;
        }
        self.total_answer_wait_ms += ms(waited);
        self.record_wait(waited);
    }

    pub(crate) fn record_talk(&mut self, talk: Duration) {
        self.handled += 1;
        self.total_talk_ms += ms(talk);
    }

    pub(crate) fn record_wrap_up(&mut self, wrap: Duration) {
        self.total_wrap_up_ms += ms(wrap);
    }

    /// Service level as a fraction (0.0-1.0); `None` before any call finished waiting.
    pub fn service_level(&self) -> Option<f64> {
        ratio(
            self.answered_within_threshold,
            self.answered + self.abandoned,
        )
    }

    /// Average speed of answer; `None` before the first answer.
    pub fn asa(&self) -> Option<Duration> {
        mean(self.total_answer_wait_ms, self.answered)
    }

    /// Average handle time (talk + wrap-up); `None` before the first call ends.
    pub fn aht(&self) -> Option<Duration> {
        mean(self.total_talk_ms + self.total_wrap_up_ms, self.handled)
    }
}

/// Counters of one agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCounters {
    pub offers: u64,
    pub answered: u64,
    /// Of the calls answered, those that had waited no longer than the queue's T.
    pub answered_within_threshold: u64,
    pub total_answer_wait_ms: u64,
    pub longest_answer_wait_ms: u64,
    pub missed: u64,
    pub rejected: u64,
    pub handled: u64,
    pub dropped: u64,
    pub ready_ms: u64,
    pub ringing_ms: u64,
    pub on_call_ms: u64,
    pub wrap_up_ms: u64,
    pub not_ready_ms: u64,
}

impl AgentCounters {
    /// Adds the time spent in `status` to its bucket.
    pub(crate) fn record_time(&mut self, status: &AgentStatus, spent: Duration) {
        let spent = ms(spent);
        match status {
            AgentStatus::LoggedOut => {}
            AgentStatus::Ready => self.ready_ms += spent,
            AgentStatus::NotReady(_) => self.not_ready_ms += spent,
            AgentStatus::Ringing => self.ringing_ms += spent,
            AgentStatus::OnCall => self.on_call_ms += spent,
            AgentStatus::WrapUp => self.wrap_up_ms += spent,
        }
    }

    /// Average handle time of this agent's calls (talk + wrap-up).
    pub fn aht(&self) -> Option<Duration> {
        mean(self.on_call_ms + self.wrap_up_ms, self.handled)
    }

    /// Fraction of the calls this agent answered that had waited no longer than T.
    pub fn service_level(&self) -> Option<f64> {
        ratio(self.answered_within_threshold, self.answered)
    }

    /// Average wait of the calls this agent answered.
    pub fn asa(&self) -> Option<Duration> {
        mean(self.total_answer_wait_ms, self.answered)
    }

    pub(crate) fn record_answer(&mut self, waited: Duration, threshold: Duration) {
        self.answered += 1;
        if waited <= threshold {
            self.answered_within_threshold += 1;
        }
        self.total_answer_wait_ms += ms(waited);
        self.longest_answer_wait_ms = self.longest_answer_wait_ms.max(ms(waited));
    }

    /// Busy (talk + wrap-up) share of the time the agent was available or busy.
    pub fn occupancy(&self) -> Option<f64> {
        let busy = self.on_call_ms + self.wrap_up_ms;
        ratio(busy, busy + self.ready_ms + self.ringing_ms)
    }
}

/// Live view of one queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueLive {
    pub queue: QueueId,
    /// Calls waiting, in the order they will be served (includes calls being offered).
    pub waiting: Vec<CallId>,
    /// Longest wait of a call still in the queue.
    pub longest_current_wait: Duration,
    pub members: usize,
    pub agents_logged_in: usize,
    pub agents_ready: usize,
    pub counters: QueueCounters,
    pub service_level: Option<f64>,
    pub asa: Option<Duration>,
    pub aht: Option<Duration>,
    /// Longest wait, counting calls still waiting.
    pub longest_wait: Duration,
    /// Occupancy of the queue's members taken together.
    pub occupancy: Option<f64>,
}

/// Live view of one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentLive {
    pub agent: AgentId,
    pub status: AgentStatus,
    pub since: Timestamp,
    pub call: Option<CallId>,
    /// On a call the ACD did not route (a direct or placed call): offered nothing meanwhile.
    #[serde(default)]
    pub outside_call: bool,
    /// Counters including the status the agent is in now.
    pub counters: AgentCounters,
    pub service_level: Option<f64>,
    pub asa: Option<Duration>,
    pub aht: Option<Duration>,
    pub occupancy: Option<f64>,
}

/// The whole floor at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    pub at: Timestamp,
    pub queues: Vec<QueueLive>,
    pub agents: Vec<AgentLive>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_level_counts_answered_within_threshold_over_calls_that_finished_waiting() {
        let mut q = QueueCounters::default();
        let t = Duration::from_secs(20);
        q.record_answer(Duration::from_secs(5), t);
        q.record_answer(Duration::from_secs(20), t);
        q.record_answer(Duration::from_secs(21), t);
        q.abandoned += 1;
        assert_eq!(q.service_level(), Some(0.5));
        // (5 + 20 + 21) s / 3, in whole milliseconds.
        assert_eq!(q.asa(), Some(Duration::from_millis(15_333)));
        assert_eq!(q.longest_wait_ms, 21_000);
    }

    #[test]
    fn figures_are_absent_before_any_call() {
        let q = QueueCounters::default();
        assert_eq!(q.service_level(), None);
        assert_eq!(q.asa(), None);
        assert_eq!(AgentCounters::default().occupancy(), None);
    }

    #[test]
    fn occupancy_is_busy_time_over_available_time() {
        let mut a = AgentCounters::default();
        a.record_time(&AgentStatus::Ready, Duration::from_secs(30));
        a.record_time(&AgentStatus::OnCall, Duration::from_secs(60));
        a.record_time(&AgentStatus::WrapUp, Duration::from_secs(30));
        a.record_time(
            &AgentStatus::NotReady(crate::NotReadyReason::Lunch),
            Duration::from_secs(3600),
        );
        assert_eq!(a.occupancy(), Some(0.75));
    }
}
