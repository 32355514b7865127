//! Queue configuration and membership, with the service rules' defaults.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_core::{AgentId, QueueId, Seconds, SiteId};

/// Why a queue or member configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("ring timeout must be at least 1 second")]
    ZeroRingTimeout,
    #[error("max unanswered offers must be at least 1")]
    ZeroMaxMisses,
    #[error("maximum wait, when set, must be at least 1 second")]
    ZeroMaxWait,
    #[error("queue {0} cannot overflow into itself")]
    OverflowToSelf(QueueId),
    #[error("skill name must not be empty")]
    EmptySkill,
    #[error("not-ready reason name must not be empty")]
    EmptyReason,
}

/// How a queue chooses among the ready agents that can take a call.
///
/// Every strategy first prefers the best (lowest) member priority tier; the strategy orders
/// agents inside that tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The agent who has been ready the longest since their last call (or since becoming ready).
    #[default]
    LongestIdle,
    /// Members in turn, starting after the one offered last.
    RoundRobin,
    /// The agent who answered the fewest calls, ties to the longest idle.
    FewestCalls,
    /// Every eligible agent rings at once; the first to answer gets the call.
    RingAll,
    /// The agent with the highest total level in the call's required skills, ties to the
    /// longest idle.
    SkillsBased,
}

/// What happens to a call that has waited the queue's maximum wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "queue", rename_all = "snake_case")]
pub enum MaxWaitAction {
    /// Move the call to another queue (it keeps its place by original arrival order).
    Overflow(QueueId),
    /// Offer the caller a call-back (press 1); the call keeps waiting until they accept.
    OfferCallback,
}

/// Per-queue settings. [`QueueConfig::default`] gives the service rules' figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    pub strategy: Strategy,
    /// How long one offer rings before the call goes to the next agent (default 20 s).
    pub ring_timeout: Seconds,
    /// Consecutive unanswered offers after which the agent is set not-ready "missed" (default 2).
    pub max_missed_offers: u32,
    /// Wrap-up after each call (default 30 s); the agent may end it early. Zero means none.
    pub wrap_up: Seconds,
    /// A waiting call raises an alert after this long (default 60 s).
    pub wait_alert: Seconds,
    /// Maximum wait before `on_max_wait` applies; `None` waits indefinitely.
    pub max_wait: Option<Seconds>,
    pub on_max_wait: MaxWaitAction,
    /// Service-level threshold T: a call answered within T counts as "in service level" (20 s).
    pub service_level_threshold: Seconds,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            strategy: Strategy::LongestIdle,
            ring_timeout: Seconds(20),
            max_missed_offers: 2,
            wrap_up: Seconds(30),
            wait_alert: Seconds(60),
            max_wait: None,
            on_max_wait: MaxWaitAction::OfferCallback,
            service_level_threshold: Seconds(20),
        }
    }
}

impl QueueConfig {
    /// Checks the settings that would make the queue misbehave (a zero ring timeout would
    /// re-offer in a busy loop).
    pub fn validate(&self, own_id: &QueueId) -> Result<(), ConfigError> {
        if self.ring_timeout.0 == 0 {
            return Err(ConfigError::ZeroRingTimeout);
        }
        if self.max_missed_offers == 0 {
            return Err(ConfigError::ZeroMaxMisses);
        }
        // Zero would let two queues that overflow into each other bounce a call forever.
        if self.max_wait == Some(Seconds(0)) {
            return Err(ConfigError::ZeroMaxWait);
        }
        if let MaxWaitAction::Overflow(target) = &self.on_max_wait
            && target == own_id
        {
            return Err(ConfigError::OverflowToSelf(own_id.clone()));
        }
        Ok(())
    }

    pub(crate) fn ring_timeout(&self) -> Duration {
        self.ring_timeout.as_duration()
    }
}

/// A skill name such as `"billing"` or `"cantonese"`.
pub type Skill = String;

/// One agent's membership in one queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub agent: AgentId,
    /// The agent's site; agents of several sites serve one queue alike ("unified queues").
    pub site: SiteId,
    /// Skill name → level (higher is better).
    #[serde(default)]
    pub skills: BTreeMap<Skill, u8>,
    /// Priority tier: lower tiers are offered calls first (0 = first line).
    #[serde(default)]
    pub priority: u8,
}

impl Member {
    /// A first-line member with no skills.
    pub fn new(agent: impl Into<AgentId>, site: impl Into<SiteId>) -> Self {
        Member {
            agent: agent.into(),
            site: site.into(),
            skills: BTreeMap::new(),
            priority: 0,
        }
    }

    /// Adds a skill at a level (builder style).
    pub fn with_skill(mut self, skill: &str, level: u8) -> Self {
        self.skills.insert(skill.to_owned(), level);
        self
    }

    /// Sets the priority tier (builder style).
    pub fn with_priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.skills.keys().any(|s| s.trim().is_empty()) {
            return Err(ConfigError::EmptySkill);
        }
        Ok(())
    }

    /// Whether this member has every required skill at or above the required level.
    pub fn has_skills(&self, required: &BTreeMap<Skill, u8>) -> bool {
        required
            .iter()
            .all(|(skill, min)| self.skills.get(skill).is_some_and(|lvl| lvl >= min))
    }

    /// Sum of this member's levels in the required skills (for skills-based routing).
    pub fn skill_score(&self, required: &BTreeMap<Skill, u8>) -> u32 {
        required
            .keys()
            .filter_map(|s| self.skills.get(s))
            .map(|l| u32::from(*l))
            .sum()
    }
}

/// Settings of the whole ACD (not per queue).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AcdSettings {
    /// Not-ready reasons a tenant configured on top of away, break, lunch and training.
    pub extra_not_ready_reasons: BTreeSet<String>,
}

impl AcdSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self
            .extra_not_ready_reasons
            .iter()
            .any(|r| r.trim().is_empty())
        {
            return Err(ConfigError::EmptyReason);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_service_rules_figures() {
        let c = QueueConfig::default();
        assert_eq!(c.strategy, Strategy::LongestIdle);
        assert_eq!(c.ring_timeout, Seconds(20));
        assert_eq!(c.max_missed_offers, 2);
        assert_eq!(c.wrap_up, Seconds(30));
        assert_eq!(c.wait_alert, Seconds(60));
        assert_eq!(c.service_level_threshold, Seconds(20));
    }

    #[test]
    fn queue_cannot_overflow_into_itself_or_ring_for_zero_seconds() {
        let q = QueueId::from("sales");
        let mut c = QueueConfig {
            on_max_wait: MaxWaitAction::Overflow(q.clone()),
            ..QueueConfig::default()
        };
        assert_eq!(c.validate(&q), Err(ConfigError::OverflowToSelf(q.clone())));
        c.on_max_wait = MaxWaitAction::OfferCallback;
        c.ring_timeout = Seconds(0);
        assert_eq!(c.validate(&q), Err(ConfigError::ZeroRingTimeout));
    }

    #[test]
    fn member_needs_every_required_skill_at_its_level() {
        let m = Member::new("a1", "paris")
            .with_skill("billing", 3)
            .with_skill("french", 5);
        let mut need = BTreeMap::new();
        need.insert("billing".to_owned(), 3);
        assert!(m.has_skills(&need));
        need.insert("french".to_owned(), 6);
        assert!(!m.has_skills(&need));
        assert_eq!(m.skill_score(&need), 8);
    }

    #[test]
    fn partial_json_config_takes_defaults_for_the_rest() {
        let c: QueueConfig =
            serde_json::from_str(r#"{"strategy":"ring_all","wrap_up":0}"#).unwrap();
        assert_eq!(c.strategy, Strategy::RingAll);
        assert_eq!(c.wrap_up, Seconds(0));
        assert_eq!(c.ring_timeout, Seconds(20));
    }
}
