//! Routing: which ready agent gets which waiting call, and the offer itself.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use switchboard_core::{AgentId, CallId, Timestamp};

use super::{Acd, AcdError, Call, CallPhase, Queue};
use crate::agent::{Agent, AgentStatus, ChangeReason};
use crate::config::{Member, Strategy};
use crate::event::{CancelReason, Output};

impl Acd {
    /// Offers every waiting call that has a matching ready agent, highest priority and longest
    /// waiting first. Runs after every input and timeout, so a call never waits while an agent
    /// who could take it is ready.
    pub(crate) fn dispatch(&mut self, now: Timestamp) -> Result<(), AcdError> {
        // Most events leave nothing waiting: check that first, it is the cheap side.
        let mut waiting: Vec<(Reverse<u8>, u64, CallId)> = self
            .calls
            .values()
            .filter(|c| c.phase == CallPhase::Waiting)
            .map(|c| (Reverse(c.priority), c.seq, c.id.clone()))
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        let mut ready: BTreeSet<AgentId> = self
            .agents
            .values()
            .filter(|a| a.status == AgentStatus::Ready && !self.outside_calls.contains_key(&a.id))
            .map(|a| a.id.clone())
            .collect();
        if ready.is_empty() {
            return Ok(());
        }
        waiting.sort();
        for (_, _, call_id) in waiting {
            if ready.is_empty() {
                break;
            }
            let Some(call) = self.calls.get(&call_id) else {
                continue;
            };
            let Some(queue) = self.queues.get(&call.queue) else {
                continue;
            };
            let picked = pick(queue, call, &self.agents, &ready);
            if picked.is_empty() {
                continue;
            }
            for a in &picked {
                ready.remove(a);
            }
            self.offer(&call_id, picked, now)?;
        }
        Ok(())
    }

    fn offer(
        &mut self,
        call_id: &CallId,
        agents: Vec<AgentId>,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        let call = self
            .calls
            .get_mut(call_id)
            .ok_or_else(|| AcdError::UnknownCall(call_id.clone()))?;
        let queue = self
            .queues
            .get_mut(&call.queue)
            .ok_or_else(|| AcdError::UnknownQueue(call.queue.clone()))?;
        let expires_at = now + queue.config.ring_timeout();
        queue.last_offered = agents.last().cloned();
        call.phase = CallPhase::Offered {
            agents: agents.iter().cloned().collect(),
            expires_at,
        };
        let queue_id = call.queue.clone();
        self.outputs.push_back(Output::Offer {
            call: call_id.clone(),
            queue: queue_id.clone(),
            agents: agents.clone(),
            expires_at,
        });
        for id in &agents {
            self.move_agent(id, AgentStatus::Ringing, ChangeReason::Offered, now)?;
            if let Some(agent) = self.agents.get_mut(id) {
                agent.call = Some(call_id.clone());
                agent.queue = Some(queue_id.clone());
                agent.counters.offers += 1;
            }
        }
        Ok(())
    }

    /// Takes one agent off a call's offer and tells the driver to stop ringing them. The call
    /// returns to waiting when nobody rings any more; the agent's own state is the caller's job.
    pub(crate) fn drop_ringer(&mut self, call_id: &CallId, agent: &AgentId, reason: CancelReason) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        if let CallPhase::Offered { agents, .. } = &mut call.phase {
            agents.remove(agent);
            if agents.is_empty() {
                call.phase = CallPhase::Waiting;
            }
        }
        call.declined.insert(agent.clone());
        self.outputs.push_back(Output::CancelOffer {
            call: call_id.clone(),
            agent: agent.clone(),
            reason,
        });
    }

    /// Stops every agent ringing for a call (the caller left, overflowed or took a call-back);
    /// the agents go back to ready without a miss.
    pub(crate) fn withdraw_offer(
        &mut self,
        call_id: &CallId,
        reason: CancelReason,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        let ringing: Vec<AgentId> = match self.calls.get(call_id).map(|c| &c.phase) {
            Some(CallPhase::Offered { agents, .. }) => agents.iter().cloned().collect(),
            _ => return Ok(()),
        };
        let declined_before = self
            .calls
            .get(call_id)
            .map(|c| c.declined.clone())
            .unwrap_or_default();
        for agent in ringing {
            self.drop_ringer(call_id, &agent, reason);
            self.move_agent(
                &agent,
                AgentStatus::Ready,
                ChangeReason::OfferWithdrawn,
                now,
            )?;
        }
        if let Some(call) = self.calls.get_mut(call_id) {
            // Withdrawn offers were not the agents' choice; they do not count as declining.
            call.declined = declined_before;
        }
        Ok(())
    }
}

/// The agents to offer `call` to: ready members of its queue that have the call's skills, in
/// the best priority tier, preferring agents who have not already let this call go, ordered by
/// the queue's strategy. Empty when nobody can take it.
fn pick(
    queue: &Queue,
    call: &Call,
    agents: &std::collections::BTreeMap<AgentId, Agent>,
    ready: &BTreeSet<AgentId>,
) -> Vec<AgentId> {
    let eligible: Vec<(&Member, &Agent)> = queue
        .members
        .iter()
        .filter(|m| ready.contains(&m.agent) && m.has_skills(&call.skills))
        .filter_map(|m| agents.get(&m.agent).map(|a| (m, a)))
        .collect();
    let Some(best_tier) = eligible.iter().map(|(m, _)| m.priority).min() else {
        return Vec::new();
    };
    let tier: Vec<(&Member, &Agent)> = eligible
        .into_iter()
        .filter(|(m, _)| m.priority == best_tier)
        .collect();
    let fresh: Vec<(&Member, &Agent)> = tier
        .iter()
        .filter(|(m, _)| !call.declined.contains(&m.agent))
        .copied()
        .collect();
    // If everyone free already let this call go, offer it to them again rather than keep the
    // caller waiting while an agent is ready.
    let candidates = if fresh.is_empty() { tier } else { fresh };
    let chosen = match queue.config.strategy {
        Strategy::RingAll => return candidates.iter().map(|(m, _)| m.agent.clone()).collect(),
        Strategy::LongestIdle => candidates
            .iter()
            .min_by_key(|(m, a)| (a.idle_since, &m.agent)),
        Strategy::FewestCalls => candidates
            .iter()
            .min_by_key(|(m, a)| (a.answered, a.idle_since, &m.agent)),
        Strategy::SkillsBased => candidates
            .iter()
            .min_by_key(|(m, a)| (Reverse(m.skill_score(&call.skills)), a.idle_since, &m.agent)),
        Strategy::RoundRobin => round_robin(queue, &candidates),
    };
    chosen
        .map(|(m, _)| vec![m.agent.clone()])
        .unwrap_or_default()
}

/// The first candidate after the last offered member, in membership order, wrapping around.
fn round_robin<'a>(
    queue: &Queue,
    candidates: &'a [(&'a Member, &'a Agent)],
) -> Option<&'a (&'a Member, &'a Agent)> {
    let n = queue.members.len();
    let start = queue
        .last_offered
        .as_ref()
        .and_then(|last| queue.members.iter().position(|m| &m.agent == last))
        .map_or(0, |i| i + 1);
    (0..n)
        .map(|k| &queue.members[(start + k) % n].agent)
        .find_map(|id| candidates.iter().find(|(m, _)| &m.agent == id))
}
