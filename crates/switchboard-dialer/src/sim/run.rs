//! The event loop of the simulator and the world's reactions to the dialer's decisions.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::{AgentId, CallId, CampaignId, E164, TaskId, Timestamp};

use super::customers::Scheduler;
use super::{SimError, SimParams, SimReport, Violation};
use crate::config::{AbandonMessage, DialerConfig, MIN_RING_TIMEOUT};
use crate::dialer::{Dialer, DialerError};
use crate::event::{AgentState, Candidate, FailCause, Input, Output, ReleaseReason};

const DAY_MS: i64 = 86_400_000;
/// The first simulated day (days since the epoch; a Monday in 2026).
const FIRST_DAY: i64 = 20_454;
/// Candidates the scheduler keeps offered to the dialer.
const POOL_PER_AGENT: usize = 6;
const PPM_LIMIT: u64 = 30_000;

#[derive(Debug, Clone)]
enum Ev {
    Answer(CallId),
    Fail(CallId, FailCause),
    End(CallId),
    WrapDone(usize),
    PreviewClick(usize, TaskId),
    ShiftStart,
    StopFeeding,
    ShiftEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentSim {
    Off,
    Ready,
    Previewing,
    Reserved,
    Talking,
    WrapUp,
}

#[derive(Debug)]
struct SimAgent {
    id: AgentId,
    state: AgentSim,
    leaving: bool,
    busy_since: Option<Timestamp>,
    logged_in_at: Option<Timestamp>,
    preview_task: Option<TaskId>,
}

#[derive(Debug)]
struct SimCall {
    customer: usize,
    placed: Timestamp,
    answered: Option<Timestamp>,
    reserved: Option<usize>,
}

struct World<'p> {
    p: &'p SimParams,
    rng: ChaCha8Rng,
    dialer: Dialer,
    sched: Scheduler,
    events: BTreeMap<(Timestamp, u64), Ev>,
    seq: u64,
    agents: Vec<SimAgent>,
    agent_index: HashMap<AgentId, usize>,
    calls: HashMap<CallId, SimCall>,
    offered: HashMap<TaskId, usize>,
    feeding: bool,
    next_task: u64,
    last_abandon: HashMap<usize, Timestamp>,
    day_live: BTreeMap<i64, u64>,
    day_abandoned: BTreeMap<i64, u64>,
    report: SimReport,
}

/// Runs one seeded simulation of `params` and reports what it measured and any rule broken.
pub fn run(params: &SimParams, seed: u64) -> Result<SimReport, SimError> {
    if params.agents == 0 || params.days == 0 {
        return Err(SimError::Params("needs at least one agent and one day"));
    }
    if !(0.0..=1.0).contains(&(params.answer_rate + params.busy_rate + params.unreachable_rate)) {
        return Err(SimError::Params("outcome rates must add up to at most 1"));
    }
    let mut world = World::new(params, seed)?;
    world.run()?;
    Ok(world.finish())
}

fn number(s: &str) -> E164 {
    E164::parse(s).unwrap_or_else(|_| unreachable!("constant test number is E.164"))
}

impl<'p> World<'p> {
    fn new(p: &'p SimParams, seed: u64) -> Result<Self, SimError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let start = Timestamp::from_millis(FIRST_DAY * DAY_MS);
        let sched = Scheduler::new(p.customers, p.max_attempts, start, &mut rng);
        let mut cfg = DialerConfig::new(
            CampaignId::from("sim"),
            p.mode,
            number("+442071234567"),
            AbandonMessage {
                wav: "prompts/abandoned.wav".into(),
                callback_number: number("+442071234567"),
            },
        );
        cfg.ring_timeout = p.ring_timeout;
        cfg.pacing = p.pacing.clone();
        let dialer = Dialer::new(cfg)?;
        let agents: Vec<SimAgent> = (0..p.agents)
            .map(|i| SimAgent {
                id: AgentId::from(format!("agent-{i:03}")),
                state: AgentSim::Off,
                leaving: false,
                busy_since: None,
                logged_in_at: None,
                preview_task: None,
            })
            .collect();
        let agent_index = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let mut world = World {
            p,
            rng,
            dialer,
            sched,
            events: BTreeMap::new(),
            seq: 0,
            agents,
            agent_index,
            calls: HashMap::new(),
            offered: HashMap::new(),
            feeding: false,
            next_task: 0,
            last_abandon: HashMap::new(),
            day_live: BTreeMap::new(),
            day_abandoned: BTreeMap::new(),
            report: SimReport {
                mode: p.mode,
                agent_hours: 0.0,
                busy_hours: 0.0,
                placed: 0,
                live_answered: 0,
                connected: 0,
                abandoned: 0,
                no_answer: 0,
                failed: 0,
                redial_blocks: 0,
                mode_switches: 0,
                worst_day_rate: 0.0,
                violations: Vec::new(),
            },
        };
        // Stop offering numbers long enough before the shift ends that every call placed has
        // finished ringing (and waiting for an agent) before the agents leave.
        let drain = p.ring_timeout + Duration::from_secs(30);
        for d in 0..i64::from(p.days) {
            let shift = start
                + Duration::from_millis(
                    u64::try_from(d * DAY_MS).unwrap_or(0)
                        + u64::from(p.shift_start_hour) * 3_600_000,
                );
            world.at(shift, Ev::ShiftStart);
            world.at(
                shift + p.shift_length.saturating_sub(drain),
                Ev::StopFeeding,
            );
            world.at(shift + p.shift_length, Ev::ShiftEnd);
        }
        Ok(world)
    }

    fn at(&mut self, t: Timestamp, ev: Ev) {
        self.seq += 1;
        self.events.insert((t, self.seq), ev);
    }

    fn run(&mut self) -> Result<(), SimError> {
        let end = Timestamp::from_millis((FIRST_DAY + i64::from(self.p.days)) * DAY_MS);
        loop {
            let next_event = self.events.keys().next().map(|(t, _)| *t);
            let next_timer = self.dialer.poll_timeout();
            let Some(now) = next_event.into_iter().chain(next_timer).min() else {
                return Ok(());
            };
            if now > end {
                return Ok(());
            }
            if next_timer.is_some_and(|t| t <= now) {
                self.dialer.handle_timeout(now);
                self.settle(now)?;
            }
            while let Some(entry) = self.events.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let ev = entry.remove();
                self.event(ev, now)?;
                self.settle(now)?;
            }
        }
    }

    /// Carries out the dialer's decisions and keeps its pool topped up until nothing changes.
    fn settle(&mut self, now: Timestamp) -> Result<(), SimError> {
        loop {
            while let Some(out) = self.dialer.poll_output() {
                self.output(out, now)?;
            }
            if !self.refill(now)? {
                return Ok(());
            }
        }
    }

    fn refill(&mut self, now: Timestamp) -> Result<bool, SimError> {
        let target = POOL_PER_AGENT * self.p.agents;
        let mut added = false;
        while self.feeding && self.dialer.pending_candidates() < target {
            let Some((customer, until)) = self.sched.next_ready(now) else {
                break;
            };
            self.next_task += 1;
            let task = TaskId::from(format!("task-{}", self.next_task));
            self.offered.insert(task.clone(), customer);
            let cand = Candidate {
                task,
                number: self.sched.customers[customer].number.clone(),
                customer: None,
                allowed_from: now,
                allowed_until: until,
            };
            self.dialer.handle(Input::AddCandidate(cand), now)?;
            added = true;
        }
        Ok(added)
    }

    fn sample(&mut self, d: super::Dist) -> Duration {
        d.sample(&mut self.rng)
    }

    fn event(&mut self, ev: Ev, now: Timestamp) -> Result<(), SimError> {
        match ev {
            Ev::Answer(call) => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return Ok(());
                };
                c.answered = Some(now);
                *self.day_live.entry(day(now)).or_default() += 1;
                self.report.live_answered += 1;
                self.dialer.handle(Input::Answered { call }, now)?;
            }
            Ev::Fail(call, cause) => {
                let Some(c) = self.calls.remove(&call) else {
                    return Ok(());
                };
                self.report.failed += 1;
                self.not_reached(&c, now);
                self.dialer.handle(Input::Failed { call, cause }, now)?;
            }
            Ev::End(call) => {
                let Some(c) = self.calls.remove(&call) else {
                    return Ok(());
                };
                self.sched.done(c.customer);
                self.dialer.handle(Input::Ended { call }, now)?;
                if let Some(a) = c.reserved {
                    let wrap = self.sample(self.p.wrap_up);
                    self.agents[a].state = AgentSim::WrapUp;
                    let expected = now + self.p.wrap_up.nominal_mean();
                    let id = self.agents[a].id.clone();
                    self.dialer.handle(
                        Input::Agent {
                            agent: id,
                            state: AgentState::WrapUp {
                                expected_free_at: Some(expected),
                            },
                        },
                        now,
                    )?;
                    self.at(now + wrap, Ev::WrapDone(a));
                }
            }
            Ev::WrapDone(a) => {
                if let Some(since) = self.agents[a].busy_since.take() {
                    self.report.busy_hours += now.since(since).as_secs_f64() / 3600.0;
                }
                self.agent_free(a, now)?;
            }
            Ev::PreviewClick(a, task) => {
                if self.agents[a].preview_task.as_ref() == Some(&task) {
                    let agent = self.agents[a].id.clone();
                    match self.dialer.handle(Input::PreviewDial { agent }, now) {
                        Ok(()) | Err(DialerError::NotPreviewing(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Ev::ShiftStart => {
                self.feeding = true;
                for a in 0..self.agents.len() {
                    let agent = &mut self.agents[a];
                    agent.leaving = false;
                    if agent.state == AgentSim::Off {
                        agent.logged_in_at = Some(now);
                        agent.state = AgentSim::Ready;
                        let id = agent.id.clone();
                        self.dialer.handle(
                            Input::Agent {
                                agent: id,
                                state: AgentState::Ready,
                            },
                            now,
                        )?;
                    }
                }
            }
            Ev::StopFeeding => {
                self.feeding = false;
                // Withdrawing pumps the dialer, which may still dial some of these; their
                // Originate outputs are handled after this event, so they stay in `offered`.
                let offered: Vec<(TaskId, usize)> =
                    self.offered.iter().map(|(t, c)| (t.clone(), *c)).collect();
                for (task, customer) in offered {
                    match self
                        .dialer
                        .handle(Input::WithdrawCandidate(task.clone()), now)
                    {
                        Ok(()) => {
                            self.offered.remove(&task);
                            self.sched.retry_at(customer, now, false);
                        }
                        // Already dialled: the call's outcome decides the retry.
                        Err(DialerError::UnknownTask(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                for agent in &mut self.agents {
                    if agent.state == AgentSim::Previewing {
                        agent.state = AgentSim::Ready;
                        agent.preview_task = None;
                    }
                }
            }
            Ev::ShiftEnd => {
                for a in 0..self.agents.len() {
                    self.agents[a].leaving = true;
                    if self.agents[a].state == AgentSim::Ready {
                        self.log_out(a, now)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn agent_free(&mut self, a: usize, now: Timestamp) -> Result<(), SimError> {
        if self.agents[a].leaving {
            return self.log_out(a, now);
        }
        self.agents[a].state = AgentSim::Ready;
        let id = self.agents[a].id.clone();
        self.dialer.handle(
            Input::Agent {
                agent: id,
                state: AgentState::Ready,
            },
            now,
        )?;
        Ok(())
    }

    fn log_out(&mut self, a: usize, now: Timestamp) -> Result<(), SimError> {
        let agent = &mut self.agents[a];
        agent.state = AgentSim::Off;
        if let Some(t) = agent.logged_in_at.take() {
            self.report.agent_hours += now.since(t).as_secs_f64() / 3600.0;
        }
        let id = agent.id.clone();
        self.dialer.handle(
            Input::Agent {
                agent: id,
                state: AgentState::LoggedOut,
            },
            now,
        )?;
        Ok(())
    }

    /// The call ended without reaching the customer: free its agent, plan a retry.
    fn not_reached(&mut self, c: &SimCall, now: Timestamp) {
        self.sched
            .retry_at(c.customer, now + self.p.retry_after, true);
        if let Some(a) = c.reserved {
            // The dialer frees the agent itself; the world only mirrors it.
            self.agents[a].state = AgentSim::Ready;
            if self.agents[a].leaving {
                self.agents[a].state = AgentSim::Off;
                if let Some(t) = self.agents[a].logged_in_at.take() {
                    self.report.agent_hours += now.since(t).as_secs_f64() / 3600.0;
                }
                let id = self.agents[a].id.clone();
                // Logging out cannot fail; the dialer forgets the agent.
                let _ = self.dialer.handle(
                    Input::Agent {
                        agent: id,
                        state: AgentState::LoggedOut,
                    },
                    now,
                );
            }
        }
    }

    fn output(&mut self, out: Output, now: Timestamp) -> Result<(), SimError> {
        match out {
            Output::Originate(o) => {
                let Some(customer) = self.offered.remove(&o.task) else {
                    return Err(SimError::Params(
                        "dialer placed a call for a task never offered",
                    ));
                };
                self.report.placed += 1;
                if !self.sched.customers[customer].callable_at(now) {
                    self.report.violations.push(Violation::OutsideWindow {
                        customer,
                        at_secs: now.as_millis() / 1000,
                    });
                }
                if let Some(t) = self.last_abandon.get(&customer)
                    && now.since(*t) < Duration::from_secs(72 * 3600)
                {
                    self.report.violations.push(Violation::RedialWithin72h {
                        customer,
                        at_secs: now.as_millis() / 1000,
                    });
                }
                let reserved = o
                    .reserved_agent
                    .as_ref()
                    .and_then(|a| self.agent_index.get(a));
                if let Some(&a) = reserved {
                    self.agents[a].state = AgentSim::Reserved;
                    self.agents[a].preview_task = None;
                }
                self.calls.insert(
                    o.call.clone(),
                    SimCall {
                        customer,
                        placed: now,
                        answered: None,
                        reserved: reserved.copied(),
                    },
                );
                let r: f64 = self.rng.r#gen();
                let p = self.p;
                if r < p.answer_rate {
                    let d = self.sample(p.answer_delay);
                    self.at(now + d, Ev::Answer(o.call));
                } else if r < p.answer_rate + p.busy_rate {
                    let d = self.sample(p.busy_delay);
                    self.at(now + d, Ev::Fail(o.call, FailCause::Busy));
                } else if r < p.answer_rate + p.busy_rate + p.unreachable_rate {
                    let d = self.sample(p.unreachable_delay);
                    self.at(now + d, Ev::Fail(o.call, FailCause::Unreachable));
                }
            }
            Output::CancelNoAnswer { call, .. } => {
                if let Some(c) = self.calls.remove(&call) {
                    let rang = now.since(c.placed);
                    if rang < MIN_RING_TIMEOUT {
                        self.report
                            .violations
                            .push(Violation::RangTooShort { rang });
                    }
                    self.report.no_answer += 1;
                    self.not_reached(&c, now);
                }
            }
            Output::Connect { call, agent, .. } => {
                let a = *self
                    .agent_index
                    .get(&agent)
                    .ok_or(SimError::Params("dialer connected an unknown agent"))?;
                if let Some(c) = self.calls.get_mut(&call) {
                    let waited = c.answered.map_or(Duration::ZERO, |t| now.since(t));
                    if waited > Duration::from_secs(2) {
                        self.report
                            .violations
                            .push(Violation::LateConnect { waited });
                    }
                    c.reserved = Some(a);
                }
                self.report.connected += 1;
                self.agents[a].state = AgentSim::Talking;
                self.agents[a].busy_since = Some(now);
                let talk = self.sample(self.p.talk);
                self.at(now + talk, Ev::End(call));
            }
            Output::Abandon {
                call, answered_at, ..
            } => {
                let waited = now.since(answered_at);
                if waited > Duration::from_secs(2) {
                    self.report
                        .violations
                        .push(Violation::LateAbandon { waited });
                }
                self.report.abandoned += 1;
                let d = day(now);
                *self.day_abandoned.entry(d).or_default() += 1;
                self.check_limits(d);
                if let Some(c) = self.calls.remove(&call) {
                    self.last_abandon.insert(c.customer, now);
                    // A naive scheduler offers the customer again soon: the dialer must refuse.
                    self.sched
                        .retry_at(c.customer, now + Duration::from_secs(3600), true);
                }
            }
            Output::Released { task, reason } => {
                let Some(customer) = self.offered.remove(&task) else {
                    return Ok(());
                };
                let again = match reason {
                    ReleaseReason::RecentlyAbandoned { until } => {
                        self.report.redial_blocks += 1;
                        until
                    }
                    ReleaseReason::WindowClosed => now,
                    ReleaseReason::SkippedByAgent => now + self.p.retry_after,
                };
                self.sched.retry_at(customer, again, false);
            }
            Output::Preview { agent, task, .. } => {
                if let Some(&a) = self.agent_index.get(&agent) {
                    self.agents[a].state = AgentSim::Previewing;
                    self.agents[a].preview_task = Some(task.clone());
                    let think = self.sample(self.p.preview_think);
                    self.at(now + think, Ev::PreviewClick(a, task));
                }
            }
            Output::SwitchMode { .. } => self.report.mode_switches += 1,
        }
        Ok(())
    }

    /// Checks the day's and the 30 days' abandonment after an abandon (the strictest moment).
    fn check_limits(&mut self, d: i64) {
        let live = self.day_live.get(&d).copied().unwrap_or(0);
        let abandoned = self.day_abandoned.get(&d).copied().unwrap_or(0);
        if abandoned * 1_000_000 > PPM_LIMIT * live {
            self.report.violations.push(Violation::DayLimit {
                day: d,
                live,
                abandoned,
            });
        }
        let live30: u64 = self.day_live.range(d - 29..=d).map(|(_, v)| v).sum();
        let ab30: u64 = self.day_abandoned.range(d - 29..=d).map(|(_, v)| v).sum();
        if ab30 * 1_000_000 > PPM_LIMIT * live30 {
            self.report.violations.push(Violation::ThirtyDayLimit {
                day: d,
                live: live30,
                abandoned: ab30,
            });
        }
    }

    fn finish(mut self) -> SimReport {
        let end = Timestamp::from_millis((FIRST_DAY + i64::from(self.p.days)) * DAY_MS);
        for a in &mut self.agents {
            if let Some(t) = a.logged_in_at.take() {
                self.report.agent_hours += end.since(t).as_secs_f64() / 3600.0;
            }
        }
        self.report.worst_day_rate = self
            .day_live
            .iter()
            .map(|(d, live)| {
                let ab = self.day_abandoned.get(d).copied().unwrap_or(0);
                if *live == 0 {
                    0.0
                } else {
                    ab as f64 / *live as f64
                }
            })
            .fold(0.0, f64::max);
        self.report
    }
}

fn day(t: Timestamp) -> i64 {
    t.as_millis().div_euclid(DAY_MS)
}
