//! Agent states, the legal transitions between them, and why each change happened.

use serde::{Deserialize, Serialize};
use switchboard_core::{AgentId, CallId, QueueId, Timestamp};

use crate::stats::AgentCounters;

/// An agent state change that the transition table forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("agent {agent} cannot go from {from} to {to}")]
    Illegal {
        agent: AgentId,
        from: AgentStatus,
        to: AgentStatus,
    },
}

/// Why an agent is not ready. `Missed` is set only by the ACD (after unanswered offers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotReadyReason {
    Away,
    Break,
    Lunch,
    Training,
    /// Set by the ACD after the queue's maximum number of unanswered offers.
    Missed,
    /// A reason the tenant configured (see [`crate::AcdSettings`]).
    Other(String),
}

impl std::fmt::Display for NotReadyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReadyReason::Away => f.write_str("away"),
            NotReadyReason::Break => f.write_str("break"),
            NotReadyReason::Lunch => f.write_str("lunch"),
            NotReadyReason::Training => f.write_str("training"),
            NotReadyReason::Missed => f.write_str("missed"),
            NotReadyReason::Other(s) => f.write_str(s),
        }
    }
}

/// The state of an agent as shown on the console and stored in the state log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum AgentStatus {
    LoggedOut,
    Ready,
    NotReady(NotReadyReason),
    Ringing,
    OnCall,
    WrapUp,
}

impl std::fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentStatus::LoggedOut => f.write_str("logged-out"),
            AgentStatus::Ready => f.write_str("ready"),
            AgentStatus::NotReady(r) => write!(f, "not-ready({r})"),
            AgentStatus::Ringing => f.write_str("ringing"),
            AgentStatus::OnCall => f.write_str("on-call"),
            AgentStatus::WrapUp => f.write_str("wrap-up"),
        }
    }
}

impl AgentStatus {
    /// The transition table. Anything not listed is a bug in the caller or in the ACD.
    ///
    /// - logged-out → ready | not-ready (log in)
    /// - ready → ringing (offer) | not-ready | logged-out
    /// - not-ready → ready | not-ready (another reason) | logged-out
    /// - ringing → on-call (answer) | ready (rejected, timed out, withdrawn) |
    ///   not-ready (missed too often, or the agent stepped away) | logged-out
    /// - on-call → wrap-up | ready (queue without wrap-up)
    /// - wrap-up → ready | not-ready | logged-out
    pub fn can_become(&self, to: &AgentStatus) -> bool {
        use AgentStatus as S;
        match (self, to) {
            (S::LoggedOut, S::Ready | S::NotReady(_)) => true,
            (S::Ready, S::Ringing | S::NotReady(_) | S::LoggedOut) => true,
            (S::NotReady(a), S::NotReady(b)) => a != b,
            (S::NotReady(_), S::Ready | S::LoggedOut) => true,
            (S::Ringing, S::OnCall | S::Ready | S::NotReady(_) | S::LoggedOut) => true,
            (S::OnCall, S::WrapUp | S::Ready) => true,
            (S::WrapUp, S::Ready | S::NotReady(_) | S::LoggedOut) => true,
            _ => false,
        }
    }

    /// Whether the agent is logged in (any state but logged-out).
    pub fn is_logged_in(&self) -> bool {
        !matches!(self, AgentStatus::LoggedOut)
    }
}

/// Why a state change happened; stored next to each change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    Login,
    Logout,
    /// The agent pressed ready / not-ready.
    AgentRequest,
    Offered,
    Answered,
    Rejected,
    /// The offer rang for the ring timeout without an answer.
    RingTimeout,
    /// The ring timed out and the agent reached the queue's maximum of unanswered offers.
    MissedOffers,
    /// The offer was taken back: the caller hung up, another agent answered (ring-all), the
    /// call overflowed or was turned into a call-back.
    OfferWithdrawn,
    CallEnded,
    CallDropped,
    /// The agent ended wrap-up early.
    WrapUpEnded,
    /// The wrap-up time ran out.
    WrapUpElapsed,
    /// Restart rule: an offer that was ringing when the ACD stopped is withdrawn.
    RestartOfferWithdrawn,
    /// Restart rule: a wrap-up whose time passed while the ACD was down ends.
    RestartWrapUpElapsed,
    /// Restart rule: the agent was on a call the stored state does not know; reset to ready.
    RestartCallMissing,
}

impl ChangeReason {
    /// Whether this change was made by the restart rules.
    pub fn is_restart(self) -> bool {
        matches!(
            self,
            ChangeReason::RestartOfferWithdrawn
                | ChangeReason::RestartWrapUpElapsed
                | ChangeReason::RestartCallMissing
        )
    }
}

/// One agent state change, emitted for the store to persist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub agent: AgentId,
    pub from: AgentStatus,
    pub to: AgentStatus,
    pub reason: ChangeReason,
    pub at: Timestamp,
}

/// The ACD's record of one agent (also the stored form in a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub status: AgentStatus,
    /// When the current status began.
    pub since: Timestamp,
    /// Ready since (for longest-idle): set when the agent becomes ready other than after a
    /// missed or withdrawn offer, which does not cost them their place.
    pub idle_since: Timestamp,
    /// The call the agent is ringing for, talking on, or wrapping up.
    pub call: Option<CallId>,
    /// The queue of that call (its config decides wrap-up and misses).
    pub queue: Option<QueueId>,
    /// When the wrap-up ends by itself.
    pub wrap_up_until: Option<Timestamp>,
    /// Consecutive unanswered offers.
    pub misses: u32,
    /// Calls answered since the ACD started (for fewest-calls).
    pub answered: u64,
    /// Time per status and call counts, for the agent's figures.
    #[serde(default)]
    pub counters: AgentCounters,
}

impl Agent {
    pub(crate) fn new(id: AgentId, now: Timestamp) -> Self {
        Agent {
            id,
            status: AgentStatus::LoggedOut,
            since: now,
            idle_since: now,
            call: None,
            queue: None,
            wrap_up_until: None,
            misses: 0,
            answered: 0,
            counters: AgentCounters::default(),
        }
    }

    /// Moves to `to` if the table allows it and returns the change to emit.
    pub(crate) fn transition(
        &mut self,
        to: AgentStatus,
        reason: ChangeReason,
        now: Timestamp,
    ) -> Result<StateChange, TransitionError> {
        if !self.status.can_become(&to) {
            return Err(TransitionError::Illegal {
                agent: self.id.clone(),
                from: self.status.clone(),
                to,
            });
        }
        self.counters
            .record_time(&self.status, now.since(self.since));
        let from = std::mem::replace(&mut self.status, to.clone());
        self.since = now;
        // The call stays attached through wrap-up so the console can show what is being wrapped.
        if !matches!(
            to,
            AgentStatus::Ringing | AgentStatus::OnCall | AgentStatus::WrapUp
        ) {
            self.call = None;
            self.queue = None;
        }
        if to != AgentStatus::WrapUp {
            self.wrap_up_until = None;
        }
        if matches!(to, AgentStatus::NotReady(_) | AgentStatus::LoggedOut) {
            self.misses = 0;
        }
        if to == AgentStatus::Ready && from != AgentStatus::Ringing {
            self.idle_since = now;
        }
        Ok(StateChange {
            agent: self.id.clone(),
            from,
            to,
            reason,
            at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_on_a_call_cannot_log_out_or_take_another_offer() {
        assert!(!AgentStatus::OnCall.can_become(&AgentStatus::LoggedOut));
        assert!(!AgentStatus::OnCall.can_become(&AgentStatus::Ringing));
        assert!(!AgentStatus::WrapUp.can_become(&AgentStatus::Ringing));
        assert!(!AgentStatus::NotReady(NotReadyReason::Away).can_become(&AgentStatus::Ringing));
        assert!(!AgentStatus::LoggedOut.can_become(&AgentStatus::OnCall));
    }

    #[test]
    fn illegal_transition_is_an_error_and_leaves_the_agent_unchanged() {
        let mut a = Agent::new(AgentId::from("a1"), Timestamp::from_secs(0));
        let err = a
            .transition(
                AgentStatus::OnCall,
                ChangeReason::Answered,
                Timestamp::from_secs(1),
            )
            .unwrap_err();
        assert!(matches!(err, TransitionError::Illegal { .. }));
        assert_eq!(a.status, AgentStatus::LoggedOut);
        assert_eq!(a.since, Timestamp::from_secs(0));
    }

    #[test]
    fn status_serialises_with_its_reason() {
        let s = AgentStatus::NotReady(NotReadyReason::Missed);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"status":"not_ready","reason":"missed"}"#);
        let back: AgentStatus = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
