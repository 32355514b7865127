//! Inputs from the agent console: log in and out, ready, not ready, end wrap-up.

use switchboard_core::{AgentId, Timestamp};

use super::{Acd, AcdError};
use crate::agent::{Agent, AgentStatus, ChangeReason, NotReadyReason};
use crate::event::CancelReason;

impl Acd {
    pub(super) fn login(
        &mut self,
        id: AgentId,
        ready: bool,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        let agent = self
            .agents
            .entry(id.clone())
            .or_insert_with(|| Agent::new(id.clone(), now));
        if agent.status.is_logged_in() {
            return Err(AcdError::AlreadyLoggedIn(id));
        }
        let to = if ready {
            AgentStatus::Ready
        } else {
            AgentStatus::NotReady(NotReadyReason::Away)
        };
        self.move_agent(&id, to, ChangeReason::Login, now)
    }

    pub(super) fn logout(&mut self, id: &AgentId, now: Timestamp) -> Result<(), AcdError> {
        self.require_logged_in(id)?;
        self.check_transition(id, &AgentStatus::LoggedOut)?;
        self.leave_offer_if_ringing(id)?;
        self.move_agent(id, AgentStatus::LoggedOut, ChangeReason::Logout, now)
    }

    /// Ready is the agent's choice only from not-ready or wrap-up: a ringing agent answers or
    /// rejects, and an agent on a call becomes ready through the call's end.
    pub(super) fn set_ready(&mut self, id: &AgentId, now: Timestamp) -> Result<(), AcdError> {
        self.require_logged_in(id)?;
        let status = &self.agent_ref(id)?.status;
        if !matches!(status, AgentStatus::NotReady(_) | AgentStatus::WrapUp) {
            return Err(crate::TransitionError::Illegal {
                agent: id.clone(),
                from: status.clone(),
                to: AgentStatus::Ready,
            }
            .into());
        }
        self.move_agent(id, AgentStatus::Ready, ChangeReason::AgentRequest, now)
    }

    pub(super) fn set_not_ready(
        &mut self,
        id: &AgentId,
        reason: NotReadyReason,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        match &reason {
            NotReadyReason::Missed => return Err(AcdError::ReservedReason),
            NotReadyReason::Other(r) if !self.settings.extra_not_ready_reasons.contains(r) => {
                return Err(AcdError::UnknownReason(r.clone()));
            }
            _ => {}
        }
        self.require_logged_in(id)?;
        let to = AgentStatus::NotReady(reason);
        self.check_transition(id, &to)?;
        // Stepping away while ringing gives the call to the next agent at once.
        self.leave_offer_if_ringing(id)?;
        self.move_agent(id, to, ChangeReason::AgentRequest, now)
    }

    pub(super) fn end_wrap_up(&mut self, id: &AgentId, now: Timestamp) -> Result<(), AcdError> {
        if self.agent_ref(id)?.status != AgentStatus::WrapUp {
            return Err(AcdError::NotInWrapUp(id.clone()));
        }
        self.move_agent(id, AgentStatus::Ready, ChangeReason::WrapUpEnded, now)
    }

    fn require_logged_in(&self, id: &AgentId) -> Result<(), AcdError> {
        if self.agent_ref(id)?.status.is_logged_in() {
            Ok(())
        } else {
            Err(AcdError::NotLoggedIn(id.clone()))
        }
    }

    /// Takes a ringing agent off their offer (the caller keeps waiting for the next agent).
    fn leave_offer_if_ringing(&mut self, id: &AgentId) -> Result<(), AcdError> {
        let agent = self.agent_ref(id)?;
        if agent.status != AgentStatus::Ringing {
            return Ok(());
        }
        if let Some(call) = agent.call.clone() {
            self.drop_ringer(&call, id, CancelReason::AgentLeft);
        }
        Ok(())
    }
}
