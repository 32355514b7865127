//! The planner: given open tasks, the agents' shifts and capacity, and `now`, decide who calls
//! whom and when over the planning horizon.
//!
//! Order of business (the service rules' priorities):
//! 1. Booked times first, each at exactly its instant ("honoured to the slot"); a booking no
//!    agent can take is escalated, never moved.
//! 2. Then key customers, then everyone else; within each, nearest deadline first (EDF), then
//!    campaign priority, then the earliest the task may be tried (retries).
//! 3. Each task goes to the earliest slot that lies wholly inside the customer's calling window
//!    and in which an agent of the campaign (or the task's preferred agent) is on shift, free,
//!    and under their per-shift capacity (the quota plan). Agents furthest behind their monthly
//!    quota are offered work first.
//! 4. A key customer's task that cannot be placed before its deadline is escalated to a
//!    supervisor (at planning time, so before the deadline) and still placed if any slot exists.
//!
//! Time is cut into slots (default 5 minutes) from `now`; availability is kept in "next free
//! slot" union-find arrays so each placement is near O(1), and each (zone, policy) pair's calling
//! window is precomputed once as a slot table.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;
use switchboard_core::{AgentId, CampaignId, QueueId, TimeWindow, Timestamp};

use crate::calling::{CallingError, CallingPolicy, Interval, ZoneCalendar};
use crate::campaign::{Assignees, Campaign};
use crate::slots::{FastMap, Grid, NextFree};
use crate::task::{Task, TaskState};

/// What can go wrong setting up a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("slot length must be at least one second")]
    SlotTooShort,
    #[error("horizon of {slots} slots is more than the limit of {limit}")]
    HorizonTooLong { slots: u64, limit: u64 },
    #[error("{0} tasks is more than one plan takes (4,294,967,295)")]
    TooManyTasks(usize),
    #[error("agent {0} is listed twice")]
    DuplicateAgent(AgentId),
    #[error(transparent)]
    Calling(#[from] CallingError),
}

const MAX_SLOTS: u64 = 200_000;
const MAX_AGENT_SLOTS: u64 = 50_000_000;
const NONE: u32 = u32::MAX;

/// Planner settings.
#[derive(Debug, Clone)]
pub struct PlannerConfig {
    /// Length of one planned call (talk + wrap-up).
    pub slot: Duration,
    /// How far ahead to plan; the SLA (3 days) by default.
    pub horizon: Duration,
    /// The tenant's default calling windows (campaigns may override).
    pub calling: CallingPolicy,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        PlannerConfig {
            slot: Duration::from_secs(5 * 60),
            horizon: crate::task::DEFAULT_SLA,
            calling: CallingPolicy::default(),
        }
    }
}

/// One agent as the planner sees them.
#[derive(Debug, Clone)]
pub struct AgentInput {
    pub id: AgentId,
    /// Queues the agent serves (campaigns assigned to a queue reach them through it).
    pub queues: Vec<QueueId>,
    /// Working time as UTC intervals (see [`shift_intervals`]); each interval is one shift.
    pub shifts: Vec<Interval>,
    /// Most tasks to plan per shift (from the quota plan: enough dials for 100 effective calls).
    pub per_shift_capacity: u32,
    /// Tasks already worked in the shift that contains `now`.
    pub done_in_current_shift: u32,
    /// Effective calls still missing to reach this month's quota; larger gets work first.
    pub quota_gap: i64,
}

/// A daily shift window in the site's zone turned into UTC intervals, skipping days off.
pub fn shift_intervals(
    window: TimeWindow,
    tz: Tz,
    days_off: &[NaiveDate],
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Interval>, PlanError> {
    // Off-shift time is the complement window; reuse the calling-window arithmetic (DST-exact).
    let off = TimeWindow::new(window.end(), window.start())
        .map_err(|_| PlanError::Calling(CallingError::AlwaysResting))?;
    let policy = CallingPolicy::new(vec![off], days_off.iter().copied())?;
    Ok(policy.allowed_intervals(tz, from, to))
}

/// One planned call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// Index into the `tasks` slice given to [`plan`].
    pub task: usize,
    pub at: Timestamp,
    /// Planned after the task's deadline (non-key tasks when capacity is short).
    pub late: bool,
}

/// Why a task goes to a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscalationReason {
    /// Key customer: no agent capacity before the deadline.
    NoCapacityBeforeDeadline,
    /// Key customer: the campaign has no agent to take it.
    NoAgents,
    /// No agent is free at the booked time (which is never moved).
    BookedSlotUnstaffed,
    /// The booked time has passed without a call.
    BookingMissed,
    /// Key customer: max attempts used without reaching them.
    AttemptsExhausted,
}

/// A task handed to a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    pub task: usize,
    pub reason: EscalationReason,
    pub deadline: Timestamp,
}

/// Why an open task has no slot in this plan (it stays open for the next one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnplannedReason {
    NoCapacityInHorizon,
    CampaignInactive,
    UnknownCampaign,
    NoAgents,
    /// `not_before` (retry time) is past the horizon.
    NotYetDue,
    BookedBeyondHorizon,
    BookedSlotUnstaffed,
    BookingMissed,
}

/// The result of planning.
#[derive(Debug, Clone)]
pub struct Plan {
    agents: Vec<AgentId>,
    index: HashMap<AgentId, usize>,
    per_agent: Vec<Vec<Assignment>>,
    escalations: Vec<Escalation>,
    unplanned: Vec<(usize, UnplannedReason)>,
}

impl Plan {
    /// The agent's planned calls in time order.
    pub fn assignments_for(&self, agent: &AgentId) -> &[Assignment] {
        self.index
            .get(agent)
            .and_then(|&i| self.per_agent.get(i))
            .map_or(&[], |v| v.as_slice())
    }

    /// "Next task for agent X": the first planned call.
    pub fn next_for(&self, agent: &AgentId) -> Option<&Assignment> {
        self.assignments_for(agent).first()
    }

    /// Every agent with their planned calls.
    pub fn iter(&self) -> impl Iterator<Item = (&AgentId, &[Assignment])> {
        self.agents
            .iter()
            .zip(self.per_agent.iter().map(|v| v.as_slice()))
    }

    pub fn escalations(&self) -> &[Escalation] {
        &self.escalations
    }

    pub fn unplanned(&self) -> &[(usize, UnplannedReason)] {
        &self.unplanned
    }

    pub fn planned_count(&self) -> usize {
        self.per_agent.iter().map(Vec::len).sum()
    }
}

/// Plans `tasks` over the horizon starting at `now`.
pub fn plan(
    cfg: &PlannerConfig,
    campaigns: &[Campaign],
    agents: &[AgentInput],
    tasks: &[Task],
    now: Timestamp,
) -> Result<Plan, PlanError> {
    if u32::try_from(tasks.len()).is_err() {
        return Err(PlanError::TooManyTasks(tasks.len()));
    }
    let mut p = Planner::new(cfg, campaigns, agents, now)?;
    p.run(tasks, now);
    Ok(p.finish())
}

/// An open task reduced to what placement needs.
#[derive(Debug, Clone, Copy)]
struct Open {
    task: usize,
    deadline: i64,
    start: i64,
    pool: u32,
    cal: u32,
    /// Preferred agent index or NONE.
    preferred: u32,
    key: bool,
}

#[derive(Debug)]
struct Pool {
    /// Agent indices, those furthest behind quota first.
    agents: Vec<u32>,
    /// Per slot: position in `agents` of the next agent to consider (earlier ones are used up).
    cursor: Vec<u32>,
    free: NextFree,
}

#[derive(Debug)]
struct Planner<'a> {
    grid: Grid,
    agents: &'a [AgentInput],
    agent_index: FastMap<&'a AgentId, u32>,
    /// `shift_of[a·S + s]`: index of agent a's shift covering slot s, or NONE.
    shift_of: Vec<u32>,
    shift_load: Vec<Vec<u32>>,
    used: Vec<bool>,
    agent_free: Vec<NextFree>,
    pools: Vec<Pool>,
    /// Per campaign: (active, pool index, calling policy id).
    campaigns: FastMap<&'a CampaignId, (bool, u32, usize)>,
    policies: Vec<&'a CallingPolicy>,
    /// (policy id, zone) → index into `slot_ok`.
    calendars: FastMap<(usize, Tz), usize>,
    /// Per calendar: `next_ok[s]` = first slot ≥ s lying wholly in calling time.
    next_ok: Vec<Vec<u32>>,
    per_agent: Vec<Vec<Assignment>>,
    escalations: Vec<Escalation>,
    unplanned: Vec<(usize, UnplannedReason)>,
}

impl<'a> Planner<'a> {
    fn new(
        cfg: &'a PlannerConfig,
        campaigns: &'a [Campaign],
        agents: &'a [AgentInput],
        now: Timestamp,
    ) -> Result<Self, PlanError> {
        let len = i64::try_from(cfg.slot.as_millis()).unwrap_or(i64::MAX);
        if len < 1000 {
            return Err(PlanError::SlotTooShort);
        }
        let horizon = u64::try_from(cfg.horizon.as_millis()).unwrap_or(u64::MAX);
        let slots = horizon.div_ceil(len.unsigned_abs());
        // The per-agent slot tables cost a few bytes per (agent, slot); bound them.
        let limit = MAX_SLOTS.min(MAX_AGENT_SLOTS / (agents.len() as u64).max(1));
        if slots > limit {
            return Err(PlanError::HorizonTooLong { slots, limit });
        }
        let grid = Grid {
            t0: now.as_millis(),
            len,
            slots: slots as u32,
        };
        let n = grid.slots as usize;
        let mut agent_index = FastMap::default();
        let mut shift_of = vec![NONE; agents.len() * n];
        let mut shift_load = Vec::with_capacity(agents.len());
        for (a, agent) in agents.iter().enumerate() {
            if agent_index.insert(&agent.id, a as u32).is_some() {
                return Err(PlanError::DuplicateAgent(agent.id.clone()));
            }
            let mut load = vec![0u32; agent.shifts.len()];
            for (i, iv) in agent.shifts.iter().enumerate() {
                let (start, end) = (iv.start.as_millis(), iv.end.as_millis());
                if start <= grid.t0 && grid.t0 < end {
                    load[i] = agent.done_in_current_shift;
                }
                let mut s = grid.ceil(start);
                while s < grid.slots && grid.start(s) + len <= end {
                    shift_of[a * n + s as usize] = i as u32;
                    s += 1;
                }
            }
            shift_load.push(load);
        }
        let agent_free = (0..agents.len())
            .map(|a| NextFree::new(grid.slots, |s| shift_of[a * n + s as usize] != NONE))
            .collect();
        let mut planner = Planner {
            grid,
            agents,
            agent_index,
            shift_of,
            shift_load,
            used: vec![false; agents.len() * n],
            agent_free,
            pools: Vec::new(),
            campaigns: FastMap::default(),
            policies: vec![&cfg.calling],
            calendars: FastMap::default(),
            next_ok: Vec::new(),
            per_agent: vec![Vec::new(); agents.len()],
            escalations: Vec::new(),
            unplanned: Vec::new(),
        };
        planner.add_campaigns(campaigns, now);
        Ok(planner)
    }

    fn add_campaigns(&mut self, campaigns: &'a [Campaign], now: Timestamp) {
        let mut pool_ids: HashMap<Vec<u32>, u32> = HashMap::new();
        for c in campaigns {
            let mut members: Vec<u32> = match &c.spec().assignees {
                Assignees::Agents(ids) => ids
                    .iter()
                    .filter_map(|id| self.agent_index.get(id).copied())
                    .collect(),
                Assignees::Queue(q) => (0..self.agents.len() as u32)
                    .filter(|&a| self.agents[a as usize].queues.contains(q))
                    .collect(),
            };
            members.sort_unstable_by_key(|&a| {
                (std::cmp::Reverse(self.agents[a as usize].quota_gap), a)
            });
            members.dedup();
            let pool = match pool_ids.get(&members) {
                Some(&p) => p,
                None => {
                    let p = self.pools.len() as u32;
                    self.pools.push(self.new_pool(members.clone()));
                    pool_ids.insert(members, p);
                    p
                }
            };
            let policy = match &c.spec().calling_override {
                Some(p) => {
                    self.policies.push(p);
                    self.policies.len() - 1
                }
                None => 0,
            };
            self.campaigns
                .insert(c.id(), (c.is_active(now), pool, policy));
        }
    }

    fn new_pool(&self, agents: Vec<u32>) -> Pool {
        let n = self.grid.slots as usize;
        let free = NextFree::new(self.grid.slots, |s| {
            agents
                .iter()
                .any(|&a| self.shift_of[a as usize * n + s as usize] != NONE)
        });
        Pool {
            agents,
            cursor: vec![0; n],
            free,
        }
    }

    fn calendar(&mut self, policy: usize, tz: Tz) -> usize {
        if let Some(&c) = self.calendars.get(&(policy, tz)) {
            return c;
        }
        let g = self.grid;
        let end = Timestamp::from_millis(g.start(g.slots));
        let cal = ZoneCalendar::build(self.policies[policy], tz, Timestamp::from_millis(g.t0), end);
        let mut next_ok = vec![g.slots; g.slots as usize + 1];
        for s in (0..g.slots).rev() {
            let start = g.start(s);
            next_ok[s as usize] = if cal.covers(start, start + g.len) {
                s
            } else {
                next_ok[s as usize + 1]
            };
        }
        self.next_ok.push(next_ok);
        self.calendars.insert((policy, tz), self.next_ok.len() - 1);
        self.next_ok.len() - 1
    }

    fn available(&self, a: u32, s: u32) -> bool {
        let k = a as usize * self.grid.slots as usize + s as usize;
        let shift = self.shift_of[k];
        shift != NONE
            && !self.used[k]
            && self.shift_load[a as usize][shift as usize]
                < self.agents[a as usize].per_shift_capacity
    }

    fn consume(&mut self, a: u32, s: u32) {
        let k = a as usize * self.grid.slots as usize + s as usize;
        self.used[k] = true;
        let shift = self.shift_of[k] as usize;
        self.shift_load[a as usize][shift] += 1;
        self.agent_free[a as usize].mark(s);
    }

    /// An agent of `pool` free at exactly slot `s`.
    fn take_from_pool(&mut self, pool: u32, s: u32) -> Option<u32> {
        let p = pool as usize;
        loop {
            let c = self.pools[p].cursor[s as usize] as usize;
            let Some(&a) = self.pools[p].agents.get(c) else {
                self.pools[p].free.mark(s);
                return None;
            };
            self.pools[p].cursor[s as usize] += 1;
            if self.available(a, s) {
                self.consume(a, s);
                return Some(a);
            }
        }
    }

    /// Earliest slot in `[from, until)` in calling time where agent `a` is free.
    fn earliest_for_agent(&mut self, a: u32, cal: usize, from: u32, until: u32) -> Option<u32> {
        let mut s = from;
        loop {
            s = self.next_ok[cal][s as usize];
            if s >= until {
                return None;
            }
            let f = self.agent_free[a as usize].find(s);
            if f != s {
                s = f;
                continue;
            }
            if self.available(a, s) {
                self.consume(a, s);
                return Some(s);
            }
            self.agent_free[a as usize].mark(s);
            s += 1;
        }
    }

    /// Earliest slot in `[from, until)` in calling time where the pool has a free agent.
    fn earliest_in_pool(
        &mut self,
        pool: u32,
        cal: usize,
        from: u32,
        until: u32,
    ) -> Option<(u32, u32)> {
        let mut s = from;
        loop {
            s = self.next_ok[cal][s as usize];
            if s >= until {
                return None;
            }
            let f = self.pools[pool as usize].free.find(s);
            if f != s {
                s = f;
                continue;
            }
            if let Some(a) = self.take_from_pool(pool, s) {
                return Some((s, a));
            }
            s += 1;
        }
    }

    fn assign(&mut self, task: usize, agent: u32, at: Timestamp, late: bool) {
        self.per_agent[agent as usize].push(Assignment { task, at, late });
    }

    fn run(&mut self, tasks: &'a [Task], now: Timestamp) {
        let mut booked = Vec::new();
        // The hot loop reads only these compact entries (sorted through packed keys), never the
        // much larger `Task`s in scattered order.
        let mut open: Vec<Open> = Vec::with_capacity(tasks.len());
        let mut order: Vec<u128> = Vec::with_capacity(tasks.len());
        self.unplanned.reserve(tasks.len());
        for (i, t) in tasks.iter().enumerate() {
            if t.state() != TaskState::Pending {
                if t.state() == TaskState::Exhausted && t.is_key_customer() {
                    self.escalate(i, EscalationReason::AttemptsExhausted, t.deadline());
                }
                continue;
            }
            let Some(&(active, pool, policy)) = self.campaigns.get(&t.spec().campaign) else {
                self.unplanned.push((i, UnplannedReason::UnknownCampaign));
                continue;
            };
            if !active {
                self.unplanned.push((i, UnplannedReason::CampaignInactive));
                continue;
            }
            let preferred = self.preferred(t);
            if self.pools[pool as usize].agents.is_empty() && preferred.is_none() {
                if t.is_key_customer() {
                    self.escalate(i, EscalationReason::NoAgents, t.deadline());
                }
                self.unplanned.push((i, UnplannedReason::NoAgents));
                continue;
            }
            if let Some(at) = t.booked_at() {
                booked.push((at, i, pool, preferred));
                continue;
            }
            let cal = self.calendar(policy, t.spec().tz) as u32;
            let key = t.is_key_customer();
            let deadline = t.deadline().as_millis();
            let not_before = t.not_before().as_millis();
            order.push(self.order_key(key, deadline, t.spec().priority, not_before, open.len()));
            open.push(Open {
                task: i,
                deadline,
                start: not_before.max(now.as_millis()),
                pool,
                cal,
                preferred: preferred.unwrap_or(NONE),
                key,
            });
        }
        booked.sort_unstable();
        for (at, i, pool, preferred) in booked {
            self.place_booked(i, at, pool, preferred, now);
        }
        order.sort_unstable();
        for k in order {
            // The low 32 bits are the position in `open` (see `order_key`).
            let o = open[(k & 0xFFFF_FFFF) as usize];
            self.place(o);
        }
        for list in &mut self.per_agent {
            list.sort_unstable_by_key(|a| (a.at, a.task));
        }
    }

    /// Packs the planning order into one integer: key customers first, then nearest deadline,
    /// then higher campaign priority, then earliest allowed start, then input order. Times are
    /// whole seconds from `now`, clamped to ±68 years.
    fn order_key(
        &self,
        key: bool,
        deadline: i64,
        priority: u8,
        not_before: i64,
        pos: usize,
    ) -> u128 {
        let rel = |ms: i64| {
            let secs = (ms - self.grid.t0).div_euclid(1000);
            let clamped = secs.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
            (clamped - i64::from(i32::MIN)) as u128
        };
        (u128::from(!key) << 104)
            | (rel(deadline) << 72)
            | (u128::from(u8::MAX - priority) << 64)
            | (rel(not_before) << 32)
            | (pos as u128 & 0xFFFF_FFFF)
    }

    fn escalate(&mut self, task: usize, reason: EscalationReason, deadline: Timestamp) {
        self.escalations.push(Escalation {
            task,
            reason,
            deadline,
        });
    }

    fn preferred(&self, t: &Task) -> Option<u32> {
        t.spec()
            .preferred_agent
            .as_ref()
            .and_then(|a| self.agent_index.get(a).copied())
    }

    fn place_booked(
        &mut self,
        i: usize,
        at: Timestamp,
        pool: u32,
        preferred: Option<u32>,
        now: Timestamp,
    ) {
        let g = self.grid;
        if at.as_millis() + g.len <= now.as_millis() {
            self.escalate(i, EscalationReason::BookingMissed, at);
            self.unplanned.push((i, UnplannedReason::BookingMissed));
            return;
        }
        let Some(s) = g.containing(at.as_millis().max(g.t0)) else {
            self.unplanned
                .push((i, UnplannedReason::BookedBeyondHorizon));
            return;
        };
        let agent = match preferred.filter(|&a| self.available(a, s)) {
            Some(a) => {
                self.consume(a, s);
                Some(a)
            }
            None => {
                let f = self.pools[pool as usize].free.find(s);
                if f == s {
                    self.take_from_pool(pool, s)
                } else {
                    None
                }
            }
        };
        match agent {
            // The booked instant itself, not the slot start: the customer's time is kept.
            Some(a) => self.assign(i, a, at, false),
            None => {
                self.escalate(i, EscalationReason::BookedSlotUnstaffed, at);
                self.unplanned
                    .push((i, UnplannedReason::BookedSlotUnstaffed));
            }
        }
    }

    fn place(&mut self, o: Open) {
        let g = self.grid;
        let (i, deadline, pool, cal) = (o.task, o.deadline, o.pool, o.cal as usize);
        let from = g.ceil(o.start);
        if from >= g.slots {
            self.unplanned.push((i, UnplannedReason::NotYetDue));
            return;
        }
        // Slots starting before the deadline; a slot starting exactly at it is already late.
        let on_time = g.ceil(deadline).min(g.slots);
        let mut found = None;
        if o.preferred != NONE {
            found = self
                .earliest_for_agent(o.preferred, cal, from, on_time)
                .map(|s| (s, o.preferred));
        }
        if found.is_none() {
            found = self.earliest_in_pool(pool, cal, from, on_time);
        }
        if found.is_none() && o.key {
            self.escalate(
                i,
                EscalationReason::NoCapacityBeforeDeadline,
                Timestamp::from_millis(deadline),
            );
        }
        if found.is_none() {
            // Late is better than never: keep looking to the end of the horizon.
            found = self.earliest_in_pool(pool, cal, from.max(on_time), g.slots);
        }
        match found {
            Some((s, a)) => {
                let at = g.start(s);
                self.assign(i, a, Timestamp::from_millis(at), at >= deadline);
            }
            None => self
                .unplanned
                .push((i, UnplannedReason::NoCapacityInHorizon)),
        }
    }

    fn finish(self) -> Plan {
        let agents: Vec<AgentId> = self.agents.iter().map(|a| a.id.clone()).collect();
        let index = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.clone(), i))
            .collect();
        Plan {
            agents,
            index,
            per_agent: self.per_agent,
            escalations: self.escalations,
            unplanned: self.unplanned,
        }
    }
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;
