//! Inputs from the call layer: arrivals, answers, rejections, hang-ups, call-back acceptance.

use std::collections::BTreeSet;

use switchboard_core::{AgentId, CallId, Timestamp};

use super::{Acd, AcdError, Call, CallPhase};
use crate::agent::{AgentStatus, ChangeReason};
use crate::event::{CallbackReason, CancelReason, EndCause, NewCall, Output, TaskOwner};

impl Acd {
    pub(super) fn call_arrived(&mut self, new: NewCall, now: Timestamp) -> Result<(), AcdError> {
        if self.calls.contains_key(&new.call) {
            return Err(AcdError::DuplicateCall(new.call));
        }
        let queue = self
            .queues
            .get_mut(&new.queue)
            .ok_or_else(|| AcdError::UnknownQueue(new.queue.clone()))?;
        queue.counters.offered += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.calls.insert(
            new.call.clone(),
            Call {
                id: new.call,
                queue: new.queue,
                caller: new.caller,
                priority: new.priority,
                skills: new.skills,
                arrived_at: now,
                entered_queue_at: now,
                seq,
                phase: CallPhase::Waiting,
                alerted: false,
                max_wait_done: false,
                declined: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// The caller hung up before an answer: the queue owes them a call-back.
    pub(super) fn call_abandoned(&mut self, id: &CallId, now: Timestamp) -> Result<(), AcdError> {
        self.require_queued(id)?;
        self.withdraw_offer(id, CancelReason::CallerHungUp, now)?;
        let call = self
            .calls
            .remove(id)
            .ok_or_else(|| AcdError::UnknownCall(id.clone()))?;
        if let Some(q) = self.queues.get_mut(&call.queue) {
            q.counters.abandoned += 1;
            q.counters.record_wait(now.since(call.entered_queue_at));
        }
        self.outputs.push_back(Output::CallbackTaskNeeded {
            call: call.id,
            caller: call.caller,
            owner: TaskOwner::Queue(call.queue),
            reason: CallbackReason::AbandonedWhileWaiting,
            at: now,
        });
        Ok(())
    }

    /// The caller pressed 1 for a call-back: they leave the queue and the queue owes the call.
    pub(super) fn callback_accepted(
        &mut self,
        id: &CallId,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        self.require_queued(id)?;
        self.withdraw_offer(id, CancelReason::CallbackAccepted, now)?;
        let call = self
            .calls
            .remove(id)
            .ok_or_else(|| AcdError::UnknownCall(id.clone()))?;
        if let Some(q) = self.queues.get_mut(&call.queue) {
            q.counters.callbacks_requested += 1;
            q.counters.record_wait(now.since(call.entered_queue_at));
        }
        self.outputs.push_back(Output::CallbackTaskNeeded {
            call: call.id,
            caller: call.caller,
            owner: TaskOwner::Queue(call.queue),
            reason: CallbackReason::Requested,
            at: now,
        });
        Ok(())
    }

    pub(super) fn offer_answered(
        &mut self,
        id: &CallId,
        agent: &AgentId,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        let others = self.require_offered_to(id, agent)?;
        self.check_transition(agent, &AgentStatus::OnCall)?;
        // Ring-all: the first answer wins and the others stop ringing.
        for other in others.iter().filter(|o| *o != agent) {
            self.drop_ringer(id, other, CancelReason::AnsweredElsewhere);
            self.move_agent(other, AgentStatus::Ready, ChangeReason::OfferWithdrawn, now)?;
        }
        self.move_agent(agent, AgentStatus::OnCall, ChangeReason::Answered, now)?;
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| AcdError::UnknownCall(id.clone()))?;
        call.phase = CallPhase::Connected {
            agent: agent.clone(),
            answered_at: now,
        };
        let waited = now.since(call.entered_queue_at);
        let queue_id = call.queue.clone();
        let mut threshold = crate::QueueConfig::default()
            .service_level_threshold
            .as_duration();
        if let Some(q) = self.queues.get_mut(&queue_id) {
            threshold = q.config.service_level_threshold.as_duration();
            q.counters.record_answer(waited, threshold);
        }
        if let Some(a) = self.agents.get_mut(agent) {
            a.call = Some(id.clone());
            a.queue = Some(queue_id);
            a.misses = 0;
            a.answered += 1;
            a.counters.record_answer(waited, threshold);
        }
        Ok(())
    }

    /// An explicit rejection is not a miss, but the call moves on to another agent.
    pub(super) fn offer_rejected(
        &mut self,
        id: &CallId,
        agent: &AgentId,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        self.take_offer_back(id, agent)?;
        if let Some(call) = self.calls.get_mut(id) {
            call.declined.insert(agent.clone());
        }
        self.move_agent(agent, AgentStatus::Ready, ChangeReason::Rejected, now)?;
        if let Some(a) = self.agents.get_mut(agent) {
            a.counters.rejected += 1;
        }
        Ok(())
    }

    /// Another node had the agent first (several nodes share agents): the agent is ready again
    /// here with nothing held against them, and the call moves on.
    pub(super) fn offer_lost(
        &mut self,
        id: &CallId,
        agent: &AgentId,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        self.take_offer_back(id, agent)?;
        self.move_agent(agent, AgentStatus::Ready, ChangeReason::OfferWithdrawn, now)
    }

    /// Removes `agent` from the call's offer (the call waits again if no one else rings).
    fn take_offer_back(&mut self, id: &CallId, agent: &AgentId) -> Result<(), AcdError> {
        self.require_offered_to(id, agent)?;
        self.check_transition(agent, &AgentStatus::Ready)?;
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| AcdError::UnknownCall(id.clone()))?;
        if let CallPhase::Offered { agents, .. } = &mut call.phase {
            agents.remove(agent);
            if agents.is_empty() {
                call.phase = CallPhase::Waiting;
            }
        }
        Ok(())
    }

    /// A connected call ended. Wrap-up follows; a call cut mid-conversation becomes a call-back
    /// task for the agent who had it.
    pub(super) fn call_ended(
        &mut self,
        id: &CallId,
        cause: EndCause,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        let call = self.call_ref(id)?;
        let CallPhase::Connected { agent, answered_at } = &call.phase else {
            return Err(AcdError::NotConnected(id.clone()));
        };
        let (agent, answered_at) = (agent.clone(), *answered_at);
        // A queue with calls cannot be removed, so the lookup only falls back on a bug.
        let wrap_up = self
            .queues
            .get(&call.queue)
            .map_or(crate::QueueConfig::default().wrap_up, |q| q.config.wrap_up);
        let to = if wrap_up.0 == 0 {
            AgentStatus::Ready
        } else {
            AgentStatus::WrapUp
        };
        self.check_transition(&agent, &to)?;
        let call = self
            .calls
            .remove(id)
            .ok_or_else(|| AcdError::UnknownCall(id.clone()))?;
        let reason = match cause {
            EndCause::Normal => ChangeReason::CallEnded,
            EndCause::Dropped => ChangeReason::CallDropped,
        };
        self.move_agent(&agent, to.clone(), reason, now)?;
        if let Some(q) = self.queues.get_mut(&call.queue) {
            q.counters.record_talk(now.since(answered_at));
        }
        if let Some(a) = self.agents.get_mut(&agent) {
            a.counters.handled += 1;
            if to == AgentStatus::WrapUp {
                a.call = Some(call.id.clone());
                a.queue = Some(call.queue.clone());
                a.wrap_up_until = Some(now + wrap_up.as_duration());
            }
            if cause == EndCause::Dropped {
                a.counters.dropped += 1;
            }
        }
        if cause == EndCause::Dropped {
            self.outputs.push_back(Output::CallbackTaskNeeded {
                call: call.id,
                caller: call.caller,
                owner: TaskOwner::Agent(agent),
                reason: CallbackReason::DroppedMidCall,
                at: now,
            });
        }
        Ok(())
    }

    fn require_queued(&self, id: &CallId) -> Result<(), AcdError> {
        if self.call_ref(id)?.is_queued() {
            Ok(())
        } else {
            Err(AcdError::AlreadyAnswered(id.clone()))
        }
    }

    /// The agents ringing for `id`, if `agent` is one of them.
    fn require_offered_to(&self, id: &CallId, agent: &AgentId) -> Result<Vec<AgentId>, AcdError> {
        match &self.call_ref(id)?.phase {
            CallPhase::Offered { agents, .. } if agents.contains(agent) => {
                Ok(agents.iter().cloned().collect())
            }
            CallPhase::Connected { .. } => Err(AcdError::AlreadyAnswered(id.clone())),
            _ => Err(AcdError::NotOffered {
                call: id.clone(),
                agent: agent.clone(),
            }),
        }
    }
}
