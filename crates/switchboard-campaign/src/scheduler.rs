//! The campaign scheduler as one sans-IO state machine: campaigns, tasks and agents go in through
//! [`Scheduler::handle`], attempts are recorded, the planner re-runs when something changed or
//! the replan interval passed ([`Scheduler::poll_timeout`] / [`Scheduler::handle_timeout`]), and
//! escalations, "dial the next number now" and closed tasks come out of
//! [`Scheduler::poll_output`]. The API layer calls [`Scheduler::next_task_for`] for an agent.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use switchboard_core::{AgentId, CampaignId, E164, TaskId, Timestamp};

use crate::attempts::{AttemptError, Decision, DialResult, RetryPolicy};
use crate::campaign::{Campaign, CampaignError};
use crate::outcome::EffectiveRule;
use crate::planner::{AgentInput, EscalationReason, Plan, PlanError, PlannerConfig, plan};
use crate::task::{Task, TaskError, TaskSpec, TaskState};

/// What can go wrong driving the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    #[error("unknown task {0}")]
    UnknownTask(TaskId),
    #[error("unknown campaign {0}")]
    UnknownCampaign(CampaignId),
    #[error("task {0} already exists")]
    DuplicateTask(TaskId),
    #[error("campaign {0} already exists")]
    DuplicateCampaign(CampaignId),
    #[error(transparent)]
    Campaign(#[from] CampaignError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Attempt(#[from] AttemptError),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Scheduler settings.
#[derive(Debug, Clone, Default)]
pub struct SchedulerConfig {
    pub planner: PlannerConfig,
    pub retry: RetryPolicy,
    pub effective: EffectiveRule,
    /// Re-plan at least this often even when nothing changed (slots move on); 5 min if zero.
    pub replan_every: Duration,
}

/// Commands and events.
#[derive(Debug, Clone)]
pub enum Input {
    AddCampaign(Campaign),
    StartCampaign(CampaignId),
    PauseCampaign(CampaignId),
    /// Final: the campaign's open tasks are cancelled.
    StopCampaign(CampaignId),
    AddTask(TaskSpec),
    /// Replaces the roster (shifts, capacity, quota gaps).
    SetAgents(Vec<AgentInput>),
    /// One dial of the task's current number, by `agent` when an agent was on the call.
    Attempt {
        task: TaskId,
        agent: Option<AgentId>,
        result: DialResult,
    },
    /// The customer asked to be called at `at`.
    Book {
        task: TaskId,
        at: Timestamp,
    },
    CancelTask(TaskId),
}

/// What the driver must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Hand to a supervisor (each task and reason once).
    Escalate {
        task: TaskId,
        reason: EscalationReason,
        deadline: Timestamp,
    },
    /// No answer: dial the customer's next number now.
    DialNow {
        task: TaskId,
        number: E164,
    },
    /// Counts towards the agent's quota of effective calls.
    EffectiveCall {
        task: TaskId,
        agent: AgentId,
    },
    TaskClosed {
        task: TaskId,
        state: TaskState,
    },
}

/// The agent's next call-back, from the current plan.
#[derive(Debug, Clone, Copy)]
pub struct NextTask<'a> {
    pub task: &'a Task,
    pub at: Timestamp,
    pub late: bool,
}

/// The campaign scheduler.
#[derive(Debug)]
pub struct Scheduler {
    cfg: SchedulerConfig,
    campaigns: Vec<Campaign>,
    tasks: Vec<Task>,
    task_index: HashMap<TaskId, usize>,
    agents: Vec<AgentInput>,
    plan: Option<Plan>,
    /// When the first change since the last plan came in.
    dirty_since: Option<Timestamp>,
    last_plan: Option<Timestamp>,
    escalated: HashSet<(usize, EscalationReason)>,
    out: VecDeque<Output>,
}

impl Scheduler {
    pub fn new(cfg: SchedulerConfig) -> Self {
        Scheduler {
            cfg,
            campaigns: Vec::new(),
            tasks: Vec::new(),
            task_index: HashMap::new(),
            agents: Vec::new(),
            plan: None,
            dirty_since: None,
            last_plan: None,
            escalated: HashSet::new(),
            out: VecDeque::new(),
        }
    }

    pub fn handle(&mut self, input: Input, now: Timestamp) -> Result<(), SchedulerError> {
        match input {
            Input::AddCampaign(c) => {
                if self.campaigns.iter().any(|x| x.id() == c.id()) {
                    return Err(SchedulerError::DuplicateCampaign(c.id().clone()));
                }
                self.campaigns.push(c);
            }
            Input::StartCampaign(id) => self.campaign_mut(&id)?.start()?,
            Input::PauseCampaign(id) => self.campaign_mut(&id)?.pause()?,
            Input::StopCampaign(id) => {
                self.campaign_mut(&id)?.stop()?;
                for t in self
                    .tasks
                    .iter_mut()
                    .filter(|t| t.spec().campaign == id && t.is_open())
                {
                    t.cancel()?;
                    self.out.push_back(Output::TaskClosed {
                        task: t.id().clone(),
                        state: TaskState::Cancelled,
                    });
                }
            }
            Input::AddTask(spec) => {
                if self.task_index.contains_key(&spec.id) {
                    return Err(SchedulerError::DuplicateTask(spec.id));
                }
                if !self.campaigns.iter().any(|c| *c.id() == spec.campaign) {
                    return Err(SchedulerError::UnknownCampaign(spec.campaign));
                }
                let task = Task::new(spec)?;
                self.task_index.insert(task.id().clone(), self.tasks.len());
                self.tasks.push(task);
            }
            Input::SetAgents(agents) => self.agents = agents,
            Input::Attempt {
                task,
                agent,
                result,
            } => self.attempt(task, agent, result, now)?,
            Input::Book { task, at } => {
                let i = self.index(&task)?;
                let policy = self.policy_for(i);
                self.tasks[i].book(at, now, &policy)?;
            }
            Input::CancelTask(task) => {
                let i = self.index(&task)?;
                self.tasks[i].cancel()?;
                self.out.push_back(Output::TaskClosed {
                    task,
                    state: TaskState::Cancelled,
                });
            }
        }
        self.dirty_since = Some(self.dirty_since.map_or(now, |d| d.min(now)));
        Ok(())
    }

    /// Re-plans when something changed or the interval passed.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), SchedulerError> {
        if self.poll_timeout().is_some_and(|at| at <= now) {
            self.replan(now)?;
        }
        Ok(())
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When the next re-plan is due (now, if something changed).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.dirty_since
            .or_else(|| self.last_plan.map(|at| at + self.replan_every()))
    }

    /// The agent's next call-back: the first planned task that is still open.
    pub fn next_task_for(&self, agent: &AgentId) -> Option<NextTask<'_>> {
        let plan = self.plan.as_ref()?;
        plan.assignments_for(agent)
            .iter()
            .find(|a| self.tasks[a.task].is_open())
            .map(|a| NextTask {
                task: &self.tasks[a.task],
                at: a.at,
                late: a.late,
            })
    }

    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.task_index.get(id).map(|&i| &self.tasks[i])
    }

    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    pub fn campaign(&self, id: &CampaignId) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| c.id() == id)
    }

    fn replan_every(&self) -> Duration {
        if self.cfg.replan_every.is_zero() {
            Duration::from_secs(300)
        } else {
            self.cfg.replan_every
        }
    }

    fn replan(&mut self, now: Timestamp) -> Result<(), SchedulerError> {
        let p = plan(
            &self.cfg.planner,
            &self.campaigns,
            &self.agents,
            &self.tasks,
            now,
        )?;
        for e in p.escalations() {
            if self.escalated.insert((e.task, e.reason)) {
                self.out.push_back(Output::Escalate {
                    task: self.tasks[e.task].id().clone(),
                    reason: e.reason,
                    deadline: e.deadline,
                });
            }
        }
        self.plan = Some(p);
        self.dirty_since = None;
        self.last_plan = Some(now);
        Ok(())
    }

    fn attempt(
        &mut self,
        task: TaskId,
        agent: Option<AgentId>,
        result: DialResult,
        now: Timestamp,
    ) -> Result<(), SchedulerError> {
        let i = self.index(&task)?;
        let effective =
            matches!(&result, DialResult::Answered(r) if self.cfg.effective.is_effective(r));
        let policy = self.policy_for(i);
        let decision = self.tasks[i].record_attempt(result, now, &self.cfg.retry, &policy)?;
        if let (true, Some(agent)) = (effective, agent) {
            self.out.push_back(Output::EffectiveCall {
                task: task.clone(),
                agent,
            });
        }
        match decision {
            Decision::DialNow { number } => self.out.push_back(Output::DialNow { task, number }),
            Decision::Done => self.out.push_back(Output::TaskClosed {
                task,
                state: TaskState::Done,
            }),
            Decision::Exhausted { escalate } => {
                if escalate
                    && self
                        .escalated
                        .insert((i, EscalationReason::AttemptsExhausted))
                {
                    self.out.push_back(Output::Escalate {
                        task: task.clone(),
                        reason: EscalationReason::AttemptsExhausted,
                        deadline: self.tasks[i].deadline(),
                    });
                }
                self.out.push_back(Output::TaskClosed {
                    task,
                    state: TaskState::Exhausted,
                });
            }
            Decision::RetryAt { .. } | Decision::Booked { .. } => {}
        }
        Ok(())
    }

    fn index(&self, id: &TaskId) -> Result<usize, SchedulerError> {
        self.task_index
            .get(id)
            .copied()
            .ok_or_else(|| SchedulerError::UnknownTask(id.clone()))
    }

    fn campaign_mut(&mut self, id: &CampaignId) -> Result<&mut Campaign, SchedulerError> {
        self.campaigns
            .iter_mut()
            .find(|c| c.id() == id)
            .ok_or_else(|| SchedulerError::UnknownCampaign(id.clone()))
    }

    /// The calling policy for task `i` (its campaign's override or the default).
    fn policy_for(&self, i: usize) -> crate::calling::CallingPolicy {
        let default = &self.cfg.planner.calling;
        self.campaigns
            .iter()
            .find(|c| *c.id() == self.tasks[i].spec().campaign)
            .map_or(default, |c| c.calling_policy(default))
            .clone()
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
