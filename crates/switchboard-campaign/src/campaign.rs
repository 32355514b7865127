//! The campaign a supervisor launches: type, target list, priority, dates, who calls (agents or a
//! queue), dial mode, max attempts and an optional calling-window override; and its lifecycle
//! draft → running ⇄ paused → stopped.

use serde::{Deserialize, Serialize};
use switchboard_core::{AgentId, CampaignId, QueueId, Timestamp};

use crate::calling::CallingPolicy;
use crate::template::{CampaignType, Language};

/// What can go wrong defining or steering a campaign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignError {
    #[error("campaign must end after it starts")]
    EndsBeforeStart,
    #[error("max attempts must be 1 to {MAX_ATTEMPTS_LIMIT}, got {0}")]
    MaxAttempts(u32),
    #[error("campaign needs at least one agent or a queue")]
    NoAgents,
    #[error("campaign name must not be empty")]
    EmptyName,
    #[error("cannot {action} a campaign that is {state:?}")]
    State {
        action: &'static str,
        state: CampaignState,
    },
}

/// Upper bound on max attempts, so a typo cannot harass a customer with hundreds of calls.
pub const MAX_ATTEMPTS_LIMIT: u32 = 20;

/// How the dialer places the campaign's calls (the pacing itself is the dialer crate's job).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialMode {
    /// The agent sees the task and clicks to dial.
    Preview,
    /// One call per ready agent.
    Progressive,
    /// Calls paced ahead of agents, within the abandonment budget.
    Predictive,
}

/// Who works the campaign's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignees {
    Agents(Vec<AgentId>),
    Queue(QueueId),
}

/// Where the campaign's customers come from (resolved by the CRM/store layer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetList {
    /// A saved customer query, e.g. `grade = key AND last_order < 2025-01-01`.
    Query(String),
    /// An uploaded CSV, by its stored name.
    Csv(String),
    /// Tasks come from triggers (order reminders, ticket follow-ups, dropped calls ...).
    Triggered,
}

/// Lifecycle of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    Draft,
    Running,
    Paused,
    Stopped,
}

/// Everything a supervisor fills in to create a campaign.
#[derive(Debug, Clone)]
pub struct CampaignSpec {
    pub name: String,
    pub kind: CampaignType,
    pub target: TargetList,
    /// Higher is more urgent (0-255).
    pub priority: u8,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub assignees: Assignees,
    pub dial_mode: DialMode,
    pub max_attempts: u32,
    pub language: Language,
    /// Replaces the tenant's default rest windows and holidays for this campaign.
    pub calling_override: Option<CallingPolicy>,
}

/// A validated campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    id: CampaignId,
    spec: CampaignSpec,
    state: CampaignState,
}

impl Campaign {
    /// Validates the spec; the campaign starts as a draft.
    pub fn new(id: CampaignId, spec: CampaignSpec) -> Result<Self, CampaignError> {
        if spec.name.trim().is_empty() {
            return Err(CampaignError::EmptyName);
        }
        if spec.ends_at <= spec.starts_at {
            return Err(CampaignError::EndsBeforeStart);
        }
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&spec.max_attempts) {
            return Err(CampaignError::MaxAttempts(spec.max_attempts));
        }
        if matches!(&spec.assignees, Assignees::Agents(a) if a.is_empty()) {
            return Err(CampaignError::NoAgents);
        }
        Ok(Campaign {
            id,
            spec,
            state: CampaignState::Draft,
        })
    }

    /// A campaign from a type template with the template's defaults: normal priority, three
    /// attempts, preview dialling, default calling windows.
    pub fn from_template(
        id: CampaignId,
        kind: CampaignType,
        language: Language,
        assignees: Assignees,
        starts_at: Timestamp,
        ends_at: Timestamp,
    ) -> Result<Self, CampaignError> {
        Campaign::new(
            id,
            CampaignSpec {
                name: kind.name(language).to_owned(),
                kind,
                target: TargetList::Triggered,
                priority: 100,
                starts_at,
                ends_at,
                assignees,
                dial_mode: DialMode::Preview,
                max_attempts: 3,
                language,
                calling_override: None,
            },
        )
    }

    pub fn id(&self) -> &CampaignId {
        &self.id
    }

    pub fn spec(&self) -> &CampaignSpec {
        &self.spec
    }

    pub fn state(&self) -> CampaignState {
        self.state
    }

    /// The calling policy for this campaign's customers: the override, else `default`.
    pub fn calling_policy<'a>(&'a self, default: &'a CallingPolicy) -> &'a CallingPolicy {
        self.spec.calling_override.as_ref().unwrap_or(default)
    }

    /// True when the planner should hand out this campaign's tasks at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.state == CampaignState::Running
            && self.spec.starts_at <= now
            && now < self.spec.ends_at
    }

    /// Launch a draft or resume a paused campaign.
    pub fn start(&mut self) -> Result<(), CampaignError> {
        self.transition(
            "start",
            &[CampaignState::Draft, CampaignState::Paused],
            CampaignState::Running,
        )
    }

    pub fn pause(&mut self) -> Result<(), CampaignError> {
        self.transition("pause", &[CampaignState::Running], CampaignState::Paused)
    }

    /// Stopping is final.
    pub fn stop(&mut self) -> Result<(), CampaignError> {
        self.transition(
            "stop",
            &[
                CampaignState::Draft,
                CampaignState::Running,
                CampaignState::Paused,
            ],
            CampaignState::Stopped,
        )
    }

    fn transition(
        &mut self,
        action: &'static str,
        from: &[CampaignState],
        to: CampaignState,
    ) -> Result<(), CampaignError> {
        if !from.contains(&self.state) {
            return Err(CampaignError::State {
                action,
                state: self.state,
            });
        }
        self.state = to;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign() -> Campaign {
        Campaign::from_template(
            "c1".into(),
            CampaignType::ServiceFollowUp,
            Language::En,
            Assignees::Queue("callback".into()),
            Timestamp::from_secs(1_000),
            Timestamp::from_secs(100_000),
        )
        .unwrap()
    }

    #[test]
    fn campaign_runs_only_between_its_dates_while_running() {
        let mut c = campaign();
        assert!(!c.is_active(Timestamp::from_secs(2_000)), "draft");
        c.start().unwrap();
        assert!(c.is_active(Timestamp::from_secs(2_000)));
        assert!(!c.is_active(Timestamp::from_secs(999)));
        assert!(!c.is_active(Timestamp::from_secs(100_000)));
        c.pause().unwrap();
        assert!(!c.is_active(Timestamp::from_secs(2_000)));
        c.start().unwrap();
        c.stop().unwrap();
        assert!(c.start().is_err(), "stopped is final");
    }

    #[test]
    fn invalid_campaigns_are_refused() {
        let mut spec = campaign().spec().clone();
        spec.max_attempts = 0;
        assert_eq!(
            Campaign::new("x".into(), spec.clone()).err(),
            Some(CampaignError::MaxAttempts(0))
        );
        spec.max_attempts = 3;
        spec.ends_at = spec.starts_at;
        assert_eq!(
            Campaign::new("x".into(), spec.clone()).err(),
            Some(CampaignError::EndsBeforeStart)
        );
        spec.ends_at = Timestamp::from_secs(5_000);
        spec.assignees = Assignees::Agents(vec![]);
        assert_eq!(
            Campaign::new("x".into(), spec).err(),
            Some(CampaignError::NoAgents)
        );
    }

    #[test]
    fn override_replaces_the_default_calling_policy() {
        let default = CallingPolicy::default();
        let c = campaign();
        assert_eq!(c.calling_policy(&default), &default);
        let mut spec = c.spec().clone();
        let custom = CallingPolicy::new(
            vec![switchboard_core::TimeWindow::parse("20:00-10:00").unwrap()],
            [],
        )
        .unwrap();
        spec.calling_override = Some(custom.clone());
        let c = Campaign::new("c2".into(), spec).unwrap();
        assert_eq!(c.calling_policy(&default), &custom);
    }
}
