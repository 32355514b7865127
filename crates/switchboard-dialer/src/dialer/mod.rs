//! The dialer state machine for one campaign: `handle(input, now)`, `handle_timeout(now)`,
//! `poll_output()`, `poll_timeout()`. No IO and no wall clock.
//!
//! Safety rules it keeps, whatever the pacing does:
//! - every call rings the configured ring timeout (≥ 15 s) before the dialer cancels it;
//! - an answered call with no agent connected within 2 s is abandoned: message, log, budget;
//! - *speculative* calls in flight (unreserved calls beyond the free agents, i.e. calls that
//!   could be answered with nobody there) never exceed the budget slack, so the abandonment
//!   limits hold at every instant even if all of them were answered at once;
//! - speculative calls are only placed if they resolve before the campaign day ends, so each
//!   one is counted in the day whose budget allowed it;
//! - no number is dialled within 72 h of an abandoned call to it;
//! - no number is dialled outside the window the scheduler allowed for it.

use std::collections::{BTreeMap, HashSet, VecDeque};

use switchboard_core::{AgentId, CallId, CustomerId, E164, TaskId, Timestamp};

use crate::budget::AbandonBudget;
use crate::config::{ConfigError, DialerConfig, Mode};
use crate::event::{AgentState, Candidate, Input, Originate, Output, ReleaseReason, SwitchReason};
use crate::redial::RedialGuard;
use crate::stats::PacingStats;

mod predictive;
#[cfg(test)]
mod tests;

/// Input the dialer cannot act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DialerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("task {0} is already known to the dialer")]
    DuplicateTask(TaskId),
    #[error("task {0} has an empty calling window")]
    EmptyWindow(TaskId),
    #[error("task {0} is not waiting to be dialled")]
    UnknownTask(TaskId),
    #[error("call {0} is not one of this dialer's calls (maybe already cancelled)")]
    UnknownCall(CallId),
    #[error("call {call} cannot take '{event}' in its current state")]
    WrongCallState { call: CallId, event: &'static str },
    #[error("agent {0} is not previewing a customer")]
    NotPreviewing(AgentId),
}

/// Running totals since the dialer started, for reports and the simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DialerCounters {
    pub placed: u64,
    pub answered: u64,
    pub connected: u64,
    pub abandoned: u64,
    pub no_answer: u64,
    pub failed: u64,
}

#[derive(Debug, Clone)]
enum Slot {
    Ready,
    Previewing {
        cand: Candidate,
        auto_dial_at: Option<Timestamp>,
    },
    Reserved,
    Talking,
    WrapUp {
        expected_free_at: Timestamp,
    },
    Busy,
    Away,
}

#[derive(Debug, Clone)]
struct Agent {
    slot: Slot,
    /// When the agent entered `slot`: orders free agents by idle time, measures wrap-up.
    since: Timestamp,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Ringing {
        deadline: Timestamp,
    },
    Waiting {
        answered_at: Timestamp,
        deadline: Timestamp,
    },
    Connected {
        since: Timestamp,
    },
}

#[derive(Debug, Clone)]
struct Call {
    task: TaskId,
    number: E164,
    customer: Option<CustomerId>,
    placed_at: Timestamp,
    reserved: Option<AgentId>,
    phase: Phase,
}

/// One campaign's dialer.
#[derive(Debug)]
pub struct Dialer {
    cfg: DialerConfig,
    mode: Mode,
    /// What predictive mode is actually doing: predictive, or progressive when out of budget.
    pacing_mode: Mode,
    budget: AbandonBudget,
    redial: RedialGuard,
    stats: PacingStats,
    pool: VecDeque<Candidate>,
    tasks: HashSet<TaskId>,
    agents: BTreeMap<AgentId, Agent>,
    calls: BTreeMap<CallId, Call>,
    outputs: VecDeque<Output>,
    next_call: u64,
    next_tick: Option<Timestamp>,
    next_candidate_at: Option<Timestamp>,
    counters: DialerCounters,
}

impl Dialer {
    /// A dialer for a validated configuration.
    pub fn new(cfg: DialerConfig) -> Result<Self, DialerError> {
        cfg.validate()?;
        Ok(Dialer {
            mode: cfg.mode,
            pacing_mode: cfg.mode,
            budget: AbandonBudget::new(&cfg.abandon),
            redial: RedialGuard::new(cfg.abandon.no_redial_after_abandon),
            stats: PacingStats::new(&cfg.pacing),
            pool: VecDeque::new(),
            tasks: HashSet::new(),
            agents: BTreeMap::new(),
            calls: BTreeMap::new(),
            outputs: VecDeque::new(),
            next_call: 0,
            next_tick: None,
            next_candidate_at: None,
            counters: DialerCounters::default(),
            cfg,
        })
    }

    /// After a restart: the stored per-day counts (the budget) and the abandoned calls of the
    /// last 72 h (numbers blocked from redial), so the limits hold across the restart.
    pub fn restore(
        &mut self,
        days: impl IntoIterator<Item = crate::budget::DayCount>,
        abandons: impl IntoIterator<Item = (E164, Timestamp)>,
    ) {
        self.budget.restore(days);
        for (number, at) in abandons {
            self.redial.record_abandon(&number, at);
        }
    }

    /// The configured mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The pacing in use: differs from [`Dialer::mode`] when predictive fell back to progressive.
    pub fn pacing_mode(&self) -> Mode {
        self.pacing_mode
    }

    /// The abandonment budget (per-day and 30-day counts, slack).
    pub fn budget(&self) -> &AbandonBudget {
        &self.budget
    }

    /// What pacing has measured so far.
    pub fn stats(&self) -> &PacingStats {
        &self.stats
    }

    /// Totals since start.
    pub fn counters(&self) -> DialerCounters {
        self.counters
    }

    /// Calls placed and not yet finished ringing or waiting for an agent.
    pub fn calls_in_flight(&self) -> usize {
        self.calls
            .values()
            .filter(|c| !matches!(c.phase, Phase::Connected { .. }))
            .count()
    }

    /// Candidates waiting to be dialled.
    pub fn pending_candidates(&self) -> usize {
        self.pool.len()
    }

    /// Feeds one input. On error nothing has changed.
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Result<(), DialerError> {
        match input {
            Input::AddCandidate(c) => self.add_candidate(c)?,
            Input::WithdrawCandidate(task) => self.withdraw(&task, now)?,
            Input::Agent { agent, state } => self.agent_state(agent, state, now),
            Input::PreviewDial { agent } => self.preview_dial(&agent, now)?,
            Input::PreviewSkip { agent } => self.preview_skip(&agent, now)?,
            Input::Answered { call } => self.answered(&call, now)?,
            Input::Failed { call, .. } => self.failed(&call, now)?,
            Input::Ended { call } => self.ended(&call, now)?,
            Input::ConnectFailed { call } => self.connect_failed(&call, now)?,
            Input::SetMode(mode) => {
                if mode != self.mode {
                    self.mode = mode;
                    self.pacing_mode = mode;
                    self.outputs.push_back(Output::SwitchMode {
                        to: mode,
                        reason: SwitchReason::Requested,
                    });
                }
            }
        }
        self.pump(now);
        Ok(())
    }

    /// Acts on every deadline that has passed: ring timeouts, the 2 s connect limit, preview
    /// auto-dial, and the pacing tick.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let due: Vec<(CallId, Phase)> = self
            .calls
            .iter()
            .filter_map(|(id, c)| match c.phase {
                Phase::Ringing { deadline } | Phase::Waiting { deadline, .. }
                    if deadline <= now =>
                {
                    Some((id.clone(), c.phase))
                }
                _ => None,
            })
            .collect();
        for (id, phase) in due {
            match phase {
                Phase::Ringing { .. } => self.no_answer(&id, now),
                Phase::Waiting { .. } => self.abandon(&id, now, true),
                Phase::Connected { .. } => {}
            }
        }
        let auto: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, a)| {
                matches!(a.slot, Slot::Previewing { auto_dial_at: Some(t), .. } if t <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for agent in auto {
            // The agent is known to be previewing: this cannot fail.
            let _ = self.preview_dial(&agent, now);
        }
        self.pump(now);
    }

    /// The next decision the dialer has to make.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Dialer::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let calls = self.calls.values().filter_map(|c| match c.phase {
            Phase::Ringing { deadline } | Phase::Waiting { deadline, .. } => Some(deadline),
            Phase::Connected { .. } => None,
        });
        let previews = self.agents.values().filter_map(|a| match a.slot {
            Slot::Previewing { auto_dial_at, .. } => auto_dial_at,
            _ => None,
        });
        calls
            .chain(previews)
            .chain(self.next_tick)
            .chain(self.next_candidate_at)
            .min()
    }

    fn add_candidate(&mut self, c: Candidate) -> Result<(), DialerError> {
        if c.allowed_until <= c.allowed_from {
            return Err(DialerError::EmptyWindow(c.task));
        }
        if !self.tasks.insert(c.task.clone()) {
            return Err(DialerError::DuplicateTask(c.task));
        }
        self.pool.push_back(c);
        Ok(())
    }

    fn withdraw(&mut self, task: &TaskId, now: Timestamp) -> Result<(), DialerError> {
        if let Some(i) = self.pool.iter().position(|c| &c.task == task) {
            self.pool.remove(i);
            self.tasks.remove(task);
            return Ok(());
        }
        let previewing = self
            .agents
            .iter_mut()
            .find(|(_, a)| matches!(&a.slot, Slot::Previewing { cand, .. } if &cand.task == task));
        if let Some((_, agent)) = previewing {
            agent.slot = Slot::Ready;
            agent.since = now;
            self.tasks.remove(task);
            return Ok(());
        }
        Err(DialerError::UnknownTask(task.clone()))
    }

    fn agent_state(&mut self, id: AgentId, state: AgentState, now: Timestamp) {
        let mean_wrap = self.stats.mean_wrap_up();
        let Some(agent) = self.agents.get_mut(&id) else {
            let slot = match state {
                AgentState::LoggedOut => return,
                AgentState::Ready => Slot::Ready,
                AgentState::WrapUp { expected_free_at } => Slot::WrapUp {
                    expected_free_at: expected_free_at.unwrap_or(now + mean_wrap),
                },
                AgentState::Busy => Slot::Busy,
                AgentState::Away => Slot::Away,
            };
            self.agents.insert(id, Agent { slot, since: now });
            return;
        };
        let new_slot = match state {
            // Previewing and reserved agents look "ready" to the ACD; talking agents stay
            // talking until their call ends, whatever a late ACD update says.
            AgentState::Ready => match agent.slot {
                Slot::Previewing { .. } | Slot::Reserved | Slot::Ready | Slot::Talking => {
                    return;
                }
                Slot::WrapUp { .. } => {
                    self.stats.record_wrap_up(now.since(agent.since));
                    Slot::Ready
                }
                Slot::Busy | Slot::Away => Slot::Ready,
            },
            AgentState::WrapUp { expected_free_at } => Slot::WrapUp {
                expected_free_at: expected_free_at.unwrap_or(now + mean_wrap),
            },
            AgentState::Busy => Slot::Busy,
            AgentState::Away | AgentState::LoggedOut => Slot::Away,
        };
        let old = std::mem::replace(&mut agent.slot, new_slot);
        agent.since = now;
        if matches!(state, AgentState::LoggedOut) {
            self.agents.remove(&id);
        }
        self.release_agent_commitments(&id, old);
    }

    /// An agent left the state the dialer put them in: hand back what they held.
    fn release_agent_commitments(&mut self, id: &AgentId, old: Slot) {
        match old {
            Slot::Previewing { cand, .. } => self.pool.push_front(cand),
            Slot::Reserved => {
                // The call goes on without its agent: it becomes speculative. The budget may
                // be overspent if it is answered now; the 30-day rule pays that back later.
                for call in self.calls.values_mut() {
                    if call.reserved.as_ref() == Some(id) {
                        call.reserved = None;
                    }
                }
            }
            _ => {}
        }
    }

    fn preview_dial(&mut self, id: &AgentId, now: Timestamp) -> Result<(), DialerError> {
        let Some(agent) = self.agents.get_mut(id) else {
            return Err(DialerError::NotPreviewing(id.clone()));
        };
        let Slot::Previewing { cand, .. } = &agent.slot else {
            return Err(DialerError::NotPreviewing(id.clone()));
        };
        let cand = cand.clone();
        agent.slot = Slot::Ready;
        agent.since = now;
        // The window or the 72 h block may have changed while the agent read the file.
        if let Some(reason) = self.refusal(&cand, now) {
            self.release(cand, reason);
            return Ok(());
        }
        self.originate(cand, Some(id.clone()), now);
        Ok(())
    }

    fn preview_skip(&mut self, id: &AgentId, now: Timestamp) -> Result<(), DialerError> {
        let Some(agent) = self.agents.get_mut(id) else {
            return Err(DialerError::NotPreviewing(id.clone()));
        };
        let Slot::Previewing { cand, .. } = &agent.slot else {
            return Err(DialerError::NotPreviewing(id.clone()));
        };
        let cand = cand.clone();
        agent.slot = Slot::Ready;
        agent.since = now;
        self.release(cand, ReleaseReason::SkippedByAgent);
        Ok(())
    }

    fn answered(&mut self, id: &CallId, now: Timestamp) -> Result<(), DialerError> {
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| DialerError::UnknownCall(id.clone()))?;
        if !matches!(call.phase, Phase::Ringing { .. }) {
            return Err(DialerError::WrongCallState {
                call: id.clone(),
                event: "answered",
            });
        }
        self.stats.record_attempt(true, now.since(call.placed_at));
        self.budget.record_live_answer(now);
        self.counters.answered += 1;
        let reserved = call.reserved.clone();
        call.phase = Phase::Waiting {
            answered_at: now,
            deadline: now + self.cfg.abandon.connect_within,
        };
        let agent = reserved.or_else(|| self.free_agent());
        match agent {
            Some(agent) => self.connect(id, agent, now),
            None if self.cfg.abandon.connect_within.is_zero() => self.abandon(id, now, true),
            None => {}
        }
        Ok(())
    }

    fn failed(&mut self, id: &CallId, now: Timestamp) -> Result<(), DialerError> {
        let call = self
            .calls
            .get(id)
            .ok_or_else(|| DialerError::UnknownCall(id.clone()))?;
        match call.phase {
            Phase::Ringing { .. } => {
                self.stats.record_attempt(false, now.since(call.placed_at));
                self.counters.failed += 1;
                self.finish_unanswered(id, now);
                Ok(())
            }
            // The customer hung up while waiting for an agent.
            Phase::Waiting { .. } => {
                self.abandon(id, now, false);
                Ok(())
            }
            Phase::Connected { .. } => Err(DialerError::WrongCallState {
                call: id.clone(),
                event: "failed",
            }),
        }
    }

    fn ended(&mut self, id: &CallId, now: Timestamp) -> Result<(), DialerError> {
        let call = self
            .calls
            .get(id)
            .ok_or_else(|| DialerError::UnknownCall(id.clone()))?;
        match call.phase {
            Phase::Connected { since } => {
                self.stats.record_talk(now.since(since));
                let wrap = self.stats.mean_wrap_up();
                if let Some(call) = self.calls.remove(id) {
                    self.tasks.remove(&call.task);
                    if let Some(agent) = call.reserved.and_then(|a| self.agents.get_mut(&a))
                        && matches!(agent.slot, Slot::Talking)
                    {
                        // Until the ACD says otherwise, assume the usual wrap-up follows.
                        agent.slot = Slot::WrapUp {
                            expected_free_at: now + wrap,
                        };
                        agent.since = now;
                    }
                }
                Ok(())
            }
            Phase::Waiting { .. } => {
                self.abandon(id, now, false);
                Ok(())
            }
            Phase::Ringing { .. } => Err(DialerError::WrongCallState {
                call: id.clone(),
                event: "ended",
            }),
        }
    }

    /// The connected agent's phone never took the call: count it as what it is for the
    /// customer, an abandoned call (budget, 72 h block, message), and keep the agent out of
    /// pacing until the ACD reports them again.
    fn connect_failed(&mut self, id: &CallId, now: Timestamp) -> Result<(), DialerError> {
        let call = self
            .calls
            .get_mut(id)
            .ok_or_else(|| DialerError::UnknownCall(id.clone()))?;
        let Phase::Connected { since } = call.phase else {
            return Err(DialerError::WrongCallState {
                call: id.clone(),
                event: "connect failed",
            });
        };
        if let Some(agent) = call.reserved.take().and_then(|a| self.agents.get_mut(&a)) {
            agent.slot = Slot::Away;
            agent.since = now;
        }
        call.phase = Phase::Waiting {
            answered_at: since,
            deadline: now,
        };
        self.counters.connected = self.counters.connected.saturating_sub(1);
        self.abandon(id, now, true);
        Ok(())
    }

    /// The ring timeout passed with no answer.
    fn no_answer(&mut self, id: &CallId, now: Timestamp) {
        let Some(call) = self.calls.get(id) else {
            return;
        };
        self.stats.record_attempt(false, now.since(call.placed_at));
        self.counters.no_answer += 1;
        self.outputs.push_back(Output::CancelNoAnswer {
            call: id.clone(),
            task: call.task.clone(),
        });
        self.finish_unanswered(id, now);
    }

    fn finish_unanswered(&mut self, id: &CallId, now: Timestamp) {
        if let Some(call) = self.calls.remove(id) {
            self.tasks.remove(&call.task);
            if let Some(agent) = call.reserved.and_then(|a| self.agents.get_mut(&a))
                && matches!(agent.slot, Slot::Reserved)
            {
                agent.slot = Slot::Ready;
                agent.since = now;
            }
        }
    }

    /// No agent in time (or the customer hung up first): log, budget, block the number.
    fn abandon(&mut self, id: &CallId, now: Timestamp, customer_present: bool) {
        let Some(call) = self.calls.remove(id) else {
            return;
        };
        let Phase::Waiting { answered_at, .. } = call.phase else {
            self.calls.insert(id.clone(), call);
            return;
        };
        self.tasks.remove(&call.task);
        self.budget.record_abandon(now);
        self.redial.record_abandon(&call.number, now);
        self.stats.record_live_outcome(true);
        self.counters.abandoned += 1;
        self.outputs.push_back(Output::Abandon {
            call: id.clone(),
            task: call.task,
            number: call.number,
            answered_at,
            message: customer_present.then(|| self.cfg.abandon_message.clone()),
        });
    }

    fn connect(&mut self, id: &CallId, agent_id: AgentId, now: Timestamp) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.phase = Phase::Connected { since: now };
        call.reserved = Some(agent_id.clone());
        if let Some(agent) = self.agents.get_mut(&agent_id) {
            agent.slot = Slot::Talking;
            agent.since = now;
        }
        self.stats.record_live_outcome(false);
        self.counters.connected += 1;
        self.outputs.push_back(Output::Connect {
            call: id.clone(),
            agent: agent_id,
            task: call.task.clone(),
            customer: call.customer.clone(),
        });
    }

    /// The longest-idle free agent.
    fn free_agent(&self) -> Option<AgentId> {
        self.agents
            .iter()
            .filter(|(_, a)| matches!(a.slot, Slot::Ready))
            .min_by_key(|(_, a)| a.since)
            .map(|(id, _)| id.clone())
    }

    fn release(&mut self, cand: Candidate, reason: ReleaseReason) {
        self.tasks.remove(&cand.task);
        self.outputs.push_back(Output::Released {
            task: cand.task,
            reason,
        });
    }

    /// Why `cand` may not be dialled now, if it may not (ignoring a window not yet open).
    fn refusal(&self, cand: &Candidate, now: Timestamp) -> Option<ReleaseReason> {
        if cand.allowed_until <= now {
            return Some(ReleaseReason::WindowClosed);
        }
        if cand.allowed_from > now {
            // Only a preview can hold a candidate whose window has not opened: release it so
            // the scheduler offers it again in time.
            return Some(ReleaseReason::WindowClosed);
        }
        self.redial
            .blocked_until(&cand.number, now)
            .map(|until| ReleaseReason::RecentlyAbandoned { until })
    }

    /// The first candidate that may be dialled now; drops the ones that never will be.
    fn take_candidate(&mut self, now: Timestamp) -> Option<Candidate> {
        let mut i = 0;
        while i < self.pool.len() {
            let c = &self.pool[i];
            if c.allowed_from > now && c.allowed_until > now {
                i += 1;
                continue;
            }
            let cand = self.pool.remove(i)?;
            match self.refusal(&cand, now) {
                Some(reason) => self.release(cand, reason),
                None => return Some(cand),
            }
        }
        None
    }

    fn originate(&mut self, cand: Candidate, reserved: Option<AgentId>, now: Timestamp) {
        self.next_call += 1;
        let call = CallId::from(format!("{}-{}", self.cfg.campaign, self.next_call));
        if let Some(agent) = reserved.as_ref().and_then(|a| self.agents.get_mut(a)) {
            agent.slot = Slot::Reserved;
            agent.since = now;
        }
        self.counters.placed += 1;
        self.outputs.push_back(Output::Originate(Originate {
            call: call.clone(),
            task: cand.task.clone(),
            number: cand.number.clone(),
            caller_id: self.cfg.caller_id.clone(),
            reserved_agent: reserved.clone(),
            ring_timeout: self.cfg.ring_timeout,
        }));
        self.calls.insert(
            call,
            Call {
                task: cand.task,
                number: cand.number,
                customer: cand.customer,
                placed_at: now,
                reserved,
                phase: Phase::Ringing {
                    deadline: now + self.cfg.ring_timeout,
                },
            },
        );
    }

    /// Makes every decision the current state allows.
    fn pump(&mut self, now: Timestamp) {
        self.connect_waiting(now);
        match self.mode {
            Mode::Preview => self.pump_preview(now),
            Mode::Progressive => self.pump_progressive(now),
            Mode::Predictive => self.pump_predictive(now),
        }
        let idle = self.agents.values().any(|a| matches!(a.slot, Slot::Ready));
        self.next_tick =
            (self.mode == Mode::Predictive && !self.agents.is_empty() && !self.pool.is_empty())
                .then(|| now + self.cfg.pacing.tick);
        // Wake up when a candidate's window opens, if someone could use it.
        self.next_candidate_at = if idle || self.mode == Mode::Predictive {
            self.pool
                .iter()
                .map(|c| c.allowed_from)
                .filter(|t| *t > now)
                .min()
        } else {
            None
        };
    }

    /// Answered calls waiting for an agent take free agents, oldest answer first.
    fn connect_waiting(&mut self, now: Timestamp) {
        loop {
            let oldest = self
                .calls
                .iter()
                .filter_map(|(id, c)| match c.phase {
                    Phase::Waiting { answered_at, .. } => Some((answered_at, id.clone())),
                    _ => None,
                })
                .min();
            let Some((_, call)) = oldest else { return };
            let Some(agent) = self.free_agent() else {
                return;
            };
            self.connect(&call, agent, now);
        }
    }

    /// Free agents that no unreserved call in flight may need: after a switch away from
    /// predictive, calls still ringing keep the agents that back them.
    fn uncommitted_free_agents(&self) -> Vec<AgentId> {
        let unreserved = self
            .calls
            .values()
            .filter(|c| c.reserved.is_none() && !matches!(c.phase, Phase::Connected { .. }))
            .count();
        let mut free = self.free_agents_by_idle();
        free.drain(..unreserved.min(free.len()));
        free
    }

    fn free_agents_by_idle(&self) -> Vec<AgentId> {
        let mut free: Vec<(&AgentId, &Agent)> = self
            .agents
            .iter()
            .filter(|(_, a)| matches!(a.slot, Slot::Ready))
            .collect();
        free.sort_by_key(|(_, a)| a.since);
        free.into_iter().map(|(id, _)| id.clone()).collect()
    }

    fn pump_preview(&mut self, now: Timestamp) {
        for agent in self.uncommitted_free_agents() {
            let Some(cand) = self.take_candidate(now) else {
                return;
            };
            let auto_dial_at = self.cfg.preview_auto_dial.map(|d| now + d);
            self.outputs.push_back(Output::Preview {
                agent: agent.clone(),
                task: cand.task.clone(),
                number: cand.number.clone(),
                customer: cand.customer.clone(),
                auto_dial_at,
            });
            if let Some(a) = self.agents.get_mut(&agent) {
                a.slot = Slot::Previewing { cand, auto_dial_at };
                a.since = now;
            }
        }
    }

    fn pump_progressive(&mut self, now: Timestamp) {
        for agent in self.uncommitted_free_agents() {
            let Some(cand) = self.take_candidate(now) else {
                return;
            };
            self.originate(cand, Some(agent), now);
        }
    }
}
