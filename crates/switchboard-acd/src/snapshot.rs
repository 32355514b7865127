//! Stored state and the restart rules that rebuild a running ACD from it.
//!
//! The store persists an [`AcdSnapshot`] (and the state-change log); after a restart
//! [`Acd::restore`] rebuilds the ACD so that no agent is stuck:
//! - a ringing offer is withdrawn (the agent's phone stopped with the server): the agent goes
//!   back to ready and the call back into the queue at its old place;
//! - a wrap-up whose time passed while the server was down ends (ready);
//! - an agent on a call the stored state does not hold is reset to ready;
//! - everything else (ready, not ready, logged out, on a known call, wrap-up still running,
//!   waiting calls with their waits, alerts and counters) is kept.
//!
//! Each reset is an `AgentStateChanged` output with a `restart_*` reason, so it is logged.
//! Calls that did not survive the restart in the call layer are then reported by the driver
//! as usual (`CallAbandoned`, `CallEnded { cause: Dropped }`), which creates their call-backs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use switchboard_core::{AgentId, CallId, Timestamp};

use crate::acd::{Acd, AcdError, Call, CallPhase, Queue};
use crate::agent::{Agent, AgentStatus, ChangeReason};
use crate::config::AcdSettings;
use crate::event::{CancelReason, Output};

/// A stored snapshot that cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("call {call} is in unknown queue {queue}")]
    CallInUnknownQueue { call: CallId, queue: String },
    #[error("call {call} is connected to unknown agent {agent}")]
    CallWithUnknownAgent { call: CallId, agent: AgentId },
    #[error("call {call} is connected to agent {agent}, who is not on it")]
    AgentNotOnCall { call: CallId, agent: AgentId },
    #[error("{0} appears twice in the snapshot")]
    Duplicate(String),
    #[error("restart rule failed: {0}")]
    Acd(#[from] AcdError),
}

/// Everything the ACD needs to resume: settings, queues with members and counters, agents and
/// calls. Serialise it with serde (JSON in the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcdSnapshot {
    pub taken_at: Timestamp,
    pub settings: AcdSettings,
    pub queues: Vec<Queue>,
    pub agents: Vec<Agent>,
    pub calls: Vec<Call>,
    pub next_seq: u64,
}

impl Acd {
    /// The state to persist. Outputs not yet polled are not part of it: drain them first.
    pub fn snapshot(&self, now: Timestamp) -> AcdSnapshot {
        AcdSnapshot {
            taken_at: now,
            settings: self.settings.clone(),
            queues: self.queues.values().cloned().collect(),
            agents: self.agents.values().cloned().collect(),
            calls: self.calls.values().cloned().collect(),
            next_seq: self.next_seq,
        }
    }

    /// Rebuilds an ACD from a snapshot at `now`, applying the restart rules (module docs).
    /// The resets and the new offers they lead to are waiting in [`Acd::poll_output`].
    pub fn restore(snapshot: AcdSnapshot, now: Timestamp) -> Result<Acd, RestoreError> {
        let mut acd = Acd::new(snapshot.settings)?;
        for q in snapshot.queues {
            if acd.queues.insert(q.id.clone(), q).is_some() {
                return Err(RestoreError::Duplicate("a queue".to_owned()));
            }
        }
        for a in snapshot.agents {
            if acd.agents.insert(a.id.clone(), a).is_some() {
                return Err(RestoreError::Duplicate("an agent".to_owned()));
            }
        }
        let mut max_seq = snapshot.next_seq;
        for c in snapshot.calls {
            if !acd.queues.contains_key(&c.queue) {
                return Err(RestoreError::CallInUnknownQueue {
                    call: c.id.clone(),
                    queue: c.queue.to_string(),
                });
            }
            if let CallPhase::Connected { agent, .. } = &c.phase {
                // A connected call whose agent is elsewhere would hold the caller forever.
                match acd.agents.get(agent) {
                    None => {
                        return Err(RestoreError::CallWithUnknownAgent {
                            call: c.id.clone(),
                            agent: agent.clone(),
                        });
                    }
                    Some(a)
                        if a.status != AgentStatus::OnCall || a.call.as_ref() != Some(&c.id) =>
                    {
                        return Err(RestoreError::AgentNotOnCall {
                            call: c.id.clone(),
                            agent: agent.clone(),
                        });
                    }
                    Some(_) => {}
                }
            }
            max_seq = max_seq.max(c.seq + 1);
            if acd.calls.insert(c.id.clone(), c).is_some() {
                return Err(RestoreError::Duplicate("a call".to_owned()));
            }
        }
        acd.next_seq = max_seq;
        acd.apply_restart_rules(now)?;
        acd.dispatch(now)?;
        Ok(acd)
    }

    fn apply_restart_rules(&mut self, now: Timestamp) -> Result<(), AcdError> {
        // Offers die with the server: every offered call goes back to waiting.
        let mut was_ringing: BTreeMap<AgentId, CallId> = BTreeMap::new();
        for call in self.calls.values_mut() {
            if let CallPhase::Offered { agents, .. } = &call.phase {
                for a in agents {
                    was_ringing.insert(a.clone(), call.id.clone());
                }
                call.phase = CallPhase::Waiting;
            }
        }
        let connected: BTreeSet<(AgentId, CallId)> = self
            .calls
            .values()
            .filter_map(|c| match &c.phase {
                CallPhase::Connected { agent, .. } => Some((agent.clone(), c.id.clone())),
                _ => None,
            })
            .collect();
        let ids: Vec<AgentId> = self.agents.keys().cloned().collect();
        for id in ids {
            let Some(agent) = self.agents.get(&id) else {
                continue;
            };
            let call = agent.call.clone();
            match agent.status {
                AgentStatus::Ringing => {
                    if let Some(call) = call.or_else(|| was_ringing.get(&id).cloned()) {
                        self.outputs.push_back(Output::CancelOffer {
                            call,
                            agent: id.clone(),
                            reason: CancelReason::Restart,
                        });
                    }
                    self.move_agent(
                        &id,
                        AgentStatus::Ready,
                        ChangeReason::RestartOfferWithdrawn,
                        now,
                    )?;
                }
                AgentStatus::WrapUp if agent.wrap_up_until.is_none_or(|t| t <= now) => {
                    self.move_agent(
                        &id,
                        AgentStatus::Ready,
                        ChangeReason::RestartWrapUpElapsed,
                        now,
                    )?;
                }
                AgentStatus::OnCall
                    if !call.is_some_and(|c| connected.contains(&(id.clone(), c))) =>
                {
                    self.reset_lost_call_agent(&id, now)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// An agent on a call the snapshot does not hold would never get a call end: reset to
    /// ready (on-call → ready is the "call ended, no wrap-up" edge).
    fn reset_lost_call_agent(&mut self, id: &AgentId, now: Timestamp) -> Result<(), AcdError> {
        self.move_agent(
            id,
            AgentStatus::Ready,
            ChangeReason::RestartCallMissing,
            now,
        )
    }
}
