//! The ACD state machine: queues, agents and waiting calls, driven by [`Input`]s and the clock.
//!
//! Drivers call [`Acd::handle`] for each event, [`Acd::handle_timeout`] when
//! [`Acd::poll_timeout`] is reached, and drain [`Acd::poll_output`] after each. Nothing here
//! reads the wall clock or does IO.

mod agents;
mod calls;
mod dispatch;
mod live;
mod timers;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use switchboard_core::{AgentId, CallId, QueueId, Timestamp};

use crate::agent::{Agent, AgentStatus, ChangeReason, TransitionError};
use crate::config::{AcdSettings, ConfigError, Member, QueueConfig, Skill};
use crate::event::{Input, Output};
use crate::stats::QueueCounters;

/// Why the ACD refused an input. A refused input changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    #[error("unknown queue {0}")]
    UnknownQueue(QueueId),
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    #[error("unknown call {0}")]
    UnknownCall(CallId),
    #[error("call {0} is already in the ACD")]
    DuplicateCall(CallId),
    #[error("agent {agent} is not a member of queue {queue}")]
    NotMember { queue: QueueId, agent: AgentId },
    #[error("agent {0} is not logged in")]
    NotLoggedIn(AgentId),
    #[error("agent {0} is already logged in")]
    AlreadyLoggedIn(AgentId),
    #[error("agent {0} is not in wrap-up")]
    NotInWrapUp(AgentId),
    #[error("call {call} is not being offered to agent {agent}")]
    NotOffered { call: CallId, agent: AgentId },
    #[error("call {0} has already been answered")]
    AlreadyAnswered(CallId),
    #[error("call {0} is not connected to an agent")]
    NotConnected(CallId),
    #[error("queue {0} still has calls")]
    QueueHasCalls(QueueId),
    #[error("queue {queue} is the overflow target of queue {from}")]
    OverflowTarget { queue: QueueId, from: QueueId },
    #[error("not-ready reason 'missed' is set only by the ACD")]
    ReservedReason,
    #[error("not-ready reason '{0}' is not configured")]
    UnknownReason(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// Where a call is in its life inside the ACD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum CallPhase {
    /// In the queue, no agent ringing.
    Waiting,
    /// Ringing these agents (more than one only with ring-all).
    Offered {
        agents: BTreeSet<AgentId>,
        expires_at: Timestamp,
    },
    /// Answered by `agent`.
    Connected {
        agent: AgentId,
        answered_at: Timestamp,
    },
}

/// A call the ACD knows about (also its stored form in a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub id: CallId,
    pub queue: QueueId,
    pub caller: String,
    pub priority: u8,
    pub skills: BTreeMap<Skill, u8>,
    /// First arrival in any queue.
    pub arrived_at: Timestamp,
    /// Arrival in the current queue (overflow resets it); waits and alerts count from here.
    pub entered_queue_at: Timestamp,
    /// Arrival order; overflowed calls keep theirs so they are not sent to the back.
    pub seq: u64,
    pub phase: CallPhase,
    /// The wait alert of the current queue was raised.
    pub alerted: bool,
    /// The current queue's maximum wait action was taken.
    pub max_wait_done: bool,
    /// Agents who let this call ring out or rejected it; others are preferred.
    pub declined: BTreeSet<AgentId>,
}

impl Call {
    /// Whether the call is still waiting for an agent (possibly ringing one).
    pub fn is_queued(&self) -> bool {
        !matches!(self.phase, CallPhase::Connected { .. })
    }
}

/// A queue, its members and its counters (also its stored form in a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub id: QueueId,
    pub config: QueueConfig,
    /// In the order they were added; round-robin follows this order.
    pub members: Vec<Member>,
    /// The member offered last, for round-robin.
    pub last_offered: Option<AgentId>,
    pub counters: QueueCounters,
}

impl Queue {
    /// The membership of `agent` in this queue, if any.
    pub fn member(&self, agent: &AgentId) -> Option<&Member> {
        self.members.iter().find(|m| &m.agent == agent)
    }
}

/// The automatic call distributor.
#[derive(Debug, Clone, Default)]
pub struct Acd {
    pub(crate) settings: AcdSettings,
    pub(crate) queues: BTreeMap<QueueId, Queue>,
    pub(crate) agents: BTreeMap<AgentId, Agent>,
    pub(crate) calls: BTreeMap<CallId, Call>,
    pub(crate) next_seq: u64,
    pub(crate) outputs: VecDeque<Output>,
    /// Agents on calls the ACD did not route, with how many (see [`Input::OutsideCall`]).
    /// Not in snapshots: those calls do not outlive a restart.
    pub(crate) outside_calls: BTreeMap<AgentId, u32>,
}

impl Acd {
    /// An empty ACD: no queues, no agents.
    pub fn new(settings: AcdSettings) -> Result<Self, AcdError> {
        settings.validate()?;
        Ok(Acd {
            settings,
            ..Acd::default()
        })
    }

    /// Applies one event at `now`, then offers waiting calls to ready agents.
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Result<(), AcdError> {
        match input {
            Input::ConfigureQueue { queue, config } => self.configure_queue(queue, config)?,
            Input::RemoveQueue { queue } => self.remove_queue(&queue)?,
            Input::AddMember { queue, member } => self.add_member(&queue, member)?,
            Input::RemoveMember { queue, agent } => self.remove_member(&queue, &agent)?,
            Input::OutsideCall { agent, busy } => self.outside_call(agent, busy),
            Input::AgentLogin { agent, ready } => self.login(agent, ready, now)?,
            Input::AgentLogout { agent } => self.logout(&agent, now)?,
            Input::SetReady { agent } => self.set_ready(&agent, now)?,
            Input::SetNotReady { agent, reason } => self.set_not_ready(&agent, reason, now)?,
            Input::EndWrapUp { agent } => self.end_wrap_up(&agent, now)?,
            Input::CallArrived(call) => self.call_arrived(call, now)?,
            Input::CallAbandoned { call } => self.call_abandoned(&call, now)?,
            Input::OfferAnswered { call, agent } => self.offer_answered(&call, &agent, now)?,
            Input::OfferRejected { call, agent } => self.offer_rejected(&call, &agent, now)?,
            Input::OfferLost { call, agent } => self.offer_lost(&call, &agent, now)?,
            Input::CallEnded { call, cause } => self.call_ended(&call, cause, now)?,
            Input::CallbackAccepted { call } => self.callback_accepted(&call, now)?,
        }
        self.dispatch(now)
    }

    fn outside_call(&mut self, agent: AgentId, busy: bool) {
        if busy {
            *self.outside_calls.entry(agent).or_default() += 1;
        } else if let std::collections::btree_map::Entry::Occupied(mut e) =
            self.outside_calls.entry(agent)
        {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
        }
    }

    /// Whether `agent` is on a call the ACD did not route.
    pub fn on_outside_call(&self, agent: &AgentId) -> bool {
        self.outside_calls.contains_key(agent)
    }

    /// The next output for the drivers, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// A queue's configuration, members and counters.
    pub fn queue(&self, id: &QueueId) -> Option<&Queue> {
        self.queues.get(id)
    }

    /// Every queue, by id.
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values()
    }

    /// One agent's state record (agents appear at their first login).
    pub fn agent(&self, id: &AgentId) -> Option<&Agent> {
        self.agents.get(id)
    }

    /// Every agent that ever logged in, by id.
    pub fn agents(&self) -> impl Iterator<Item = &Agent> {
        self.agents.values()
    }

    /// A call still in the ACD (queued or connected).
    pub fn call(&self, id: &CallId) -> Option<&Call> {
        self.calls.get(id)
    }

    /// Every call still in the ACD.
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values()
    }

    /// The ACD-wide settings.
    pub fn settings(&self) -> &AcdSettings {
        &self.settings
    }

    /// The queued calls of one queue in the order they will be served.
    pub fn waiting_order(&self, queue: &QueueId) -> Vec<CallId> {
        let mut waiting: Vec<&Call> = self
            .calls
            .values()
            .filter(|c| &c.queue == queue && c.is_queued())
            .collect();
        waiting.sort_by_key(|c| (std::cmp::Reverse(c.priority), c.seq));
        waiting.into_iter().map(|c| c.id.clone()).collect()
    }

    /// 1-based position of a queued call in its queue (for the position announcement).
    pub fn position(&self, call: &CallId) -> Option<usize> {
        let queue = &self.calls.get(call)?.queue;
        self.waiting_order(queue)
            .iter()
            .position(|c| c == call)
            .map(|i| i + 1)
    }

    // ---- configuration ----

    fn configure_queue(&mut self, id: QueueId, config: QueueConfig) -> Result<(), AcdError> {
        config.validate(&id)?;
        if let crate::MaxWaitAction::Overflow(target) = &config.on_max_wait
            && !self.queues.contains_key(target)
        {
            return Err(AcdError::UnknownQueue(target.clone()));
        }
        match self.queues.get_mut(&id) {
            Some(q) => q.config = config,
            None => {
                self.queues.insert(
                    id.clone(),
                    Queue {
                        id,
                        config,
                        members: Vec::new(),
                        last_offered: None,
                        counters: QueueCounters::default(),
                    },
                );
            }
        }
        Ok(())
    }

    fn remove_queue(&mut self, id: &QueueId) -> Result<(), AcdError> {
        if !self.queues.contains_key(id) {
            return Err(AcdError::UnknownQueue(id.clone()));
        }
        if self.calls.values().any(|c| &c.queue == id) {
            return Err(AcdError::QueueHasCalls(id.clone()));
        }
        if let Some(from) = self.queues.values().find(|q| {
            matches!(&q.config.on_max_wait, crate::MaxWaitAction::Overflow(t) if t == id)
                && &q.id != id
        }) {
            return Err(AcdError::OverflowTarget {
                queue: id.clone(),
                from: from.id.clone(),
            });
        }
        self.queues.remove(id);
        Ok(())
    }

    fn add_member(&mut self, queue: &QueueId, member: Member) -> Result<(), AcdError> {
        member.validate()?;
        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| AcdError::UnknownQueue(queue.clone()))?;
        match q.members.iter_mut().find(|m| m.agent == member.agent) {
            Some(existing) => *existing = member,
            None => q.members.push(member),
        }
        Ok(())
    }

    fn remove_member(&mut self, queue: &QueueId, agent: &AgentId) -> Result<(), AcdError> {
        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| AcdError::UnknownQueue(queue.clone()))?;
        let before = q.members.len();
        q.members.retain(|m| &m.agent != agent);
        if q.members.len() == before {
            return Err(AcdError::NotMember {
                queue: queue.clone(),
                agent: agent.clone(),
            });
        }
        Ok(())
    }

    // ---- shared helpers ----

    /// Moves an agent and emits the change. Wrap-up time is credited to the queue of the call
    /// being wrapped when the wrap-up ends, however it ends.
    pub(crate) fn move_agent(
        &mut self,
        id: &AgentId,
        to: AgentStatus,
        reason: ChangeReason,
        now: Timestamp,
    ) -> Result<(), AcdError> {
        let agent = self
            .agents
            .get_mut(id)
            .ok_or_else(|| AcdError::UnknownAgent(id.clone()))?;
        // Credit wrap-up only up to its scheduled end: a late timeout or a restart must not
        // inflate the queue's handle time.
        let wrapped = (agent.status == AgentStatus::WrapUp).then(|| {
            let end = agent.wrap_up_until.map_or(now, |until| until.min(now));
            (agent.queue.clone(), end.since(agent.since))
        });
        let change = agent.transition(to, reason, now)?;
        if let Some((Some(queue), spent)) = wrapped
            && let Some(q) = self.queues.get_mut(&queue)
        {
            q.counters.record_wrap_up(spent);
        }
        self.outputs.push_back(Output::AgentStateChanged(change));
        Ok(())
    }

    pub(crate) fn agent_ref(&self, id: &AgentId) -> Result<&Agent, AcdError> {
        self.agents
            .get(id)
            .ok_or_else(|| AcdError::UnknownAgent(id.clone()))
    }

    pub(crate) fn call_ref(&self, id: &CallId) -> Result<&Call, AcdError> {
        self.calls
            .get(id)
            .ok_or_else(|| AcdError::UnknownCall(id.clone()))
    }

    /// Refuses a transition before any side effect, so a refused input changes nothing.
    pub(crate) fn check_transition(&self, id: &AgentId, to: &AgentStatus) -> Result<(), AcdError> {
        let agent = self.agent_ref(id)?;
        if agent.status.can_become(to) {
            Ok(())
        } else {
            Err(TransitionError::Illegal {
                agent: id.clone(),
                from: agent.status.clone(),
                to: to.clone(),
            }
            .into())
        }
    }
}
