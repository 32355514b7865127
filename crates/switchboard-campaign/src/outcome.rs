//! Call outcomes: what makes a call "effective", the satisfaction answer and suggestion, and the
//! visit funnel (invited → booked → attended).

use serde::{Deserialize, Serialize};
use switchboard_core::{Seconds, Timestamp};

/// What can go wrong recording an outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutcomeError {
    #[error("visit cannot go from {from:?} to {to:?}")]
    VisitStep { from: VisitStage, to: VisitStage },
    #[error("a booked visit needs its time")]
    VisitWithoutTime,
    #[error("unknown satisfaction '{0}': expected satisfied, neutral or not_satisfied")]
    UnknownSatisfaction(String),
}

/// The customer's answer to "are you satisfied with our products and service?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    Satisfied,
    Neutral,
    NotSatisfied,
}

impl std::str::FromStr for Satisfaction {
    type Err = OutcomeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "satisfied" => Ok(Satisfaction::Satisfied),
            "neutral" => Ok(Satisfaction::Neutral),
            "not_satisfied" => Ok(Satisfaction::NotSatisfied),
            other => Err(OutcomeError::UnknownSatisfaction(other.to_owned())),
        }
    }
}

/// Rule for counting a call as effective: reached, talked at least `min_talk`, purpose stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveRule {
    pub min_talk: Seconds,
}

impl Default for EffectiveRule {
    /// 30 seconds of conversation, the default "short conversation" of the quota rules.
    fn default() -> Self {
        EffectiveRule {
            min_talk: Seconds(30),
        }
    }
}

/// What happened on one connected call-back, as the agent records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallReport {
    /// The customer in person was reached (not voicemail, not a relative).
    pub reached: bool,
    pub talk: Seconds,
    /// The agent stated why they were calling.
    pub purpose_stated: bool,
    pub satisfaction: Option<Satisfaction>,
    /// Suggestion (satisfied branch) or what to improve (other branches).
    pub suggestion: Option<String>,
}

impl EffectiveRule {
    /// An effective call: the customer was reached, a conversation of at least `min_talk`
    /// happened and the purpose of the call was stated.
    pub fn is_effective(&self, report: &CallReport) -> bool {
        report.reached && report.talk >= self.min_talk && report.purpose_stated
    }
}

/// Where an invited visit stands. Steps only go forward, one at a time, except that a booked
/// visit may be re-booked (a new time) and an invitation may be declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitStage {
    NotInvited,
    Invited,
    Booked,
    Attended,
    Declined,
}

/// One customer's visit funnel for one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    stage: VisitStage,
    booked_at: Option<Timestamp>,
    attended_at: Option<Timestamp>,
}

impl Default for Visit {
    fn default() -> Self {
        Visit {
            stage: VisitStage::NotInvited,
            booked_at: None,
            attended_at: None,
        }
    }
}

impl Visit {
    pub fn stage(&self) -> VisitStage {
        self.stage
    }

    pub fn booked_at(&self) -> Option<Timestamp> {
        self.booked_at
    }

    pub fn attended_at(&self) -> Option<Timestamp> {
        self.attended_at
    }

    /// The agent invited the customer.
    pub fn invite(&mut self) -> Result<(), OutcomeError> {
        self.step(
            VisitStage::Invited,
            &[VisitStage::NotInvited, VisitStage::Declined],
        )
    }

    /// The customer booked a visit at `at` (re-booking moves the time).
    pub fn book(&mut self, at: Timestamp) -> Result<(), OutcomeError> {
        self.step(
            VisitStage::Booked,
            &[VisitStage::Invited, VisitStage::Booked],
        )?;
        self.booked_at = Some(at);
        Ok(())
    }

    /// The customer came; only a booked visit can be attended.
    pub fn attend(&mut self, now: Timestamp) -> Result<(), OutcomeError> {
        if self.booked_at.is_none() {
            return Err(OutcomeError::VisitWithoutTime);
        }
        self.step(VisitStage::Attended, &[VisitStage::Booked])?;
        self.attended_at = Some(now);
        Ok(())
    }

    /// The customer declined the invitation or cancelled the booking.
    pub fn decline(&mut self) -> Result<(), OutcomeError> {
        self.step(
            VisitStage::Declined,
            &[VisitStage::Invited, VisitStage::Booked],
        )?;
        self.booked_at = None;
        Ok(())
    }

    fn step(&mut self, to: VisitStage, allowed_from: &[VisitStage]) -> Result<(), OutcomeError> {
        if !allowed_from.contains(&self.stage) {
            return Err(OutcomeError::VisitStep {
                from: self.stage,
                to,
            });
        }
        self.stage = to;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(reached: bool, talk: u64, purpose: bool) -> CallReport {
        CallReport {
            reached,
            talk: Seconds(talk),
            purpose_stated: purpose,
            satisfaction: Some(Satisfaction::Satisfied),
            suggestion: None,
        }
    }

    #[test]
    fn effective_call_needs_reach_thirty_seconds_and_stated_purpose() {
        let rule = EffectiveRule::default();
        assert!(rule.is_effective(&report(true, 30, true)));
        assert!(!rule.is_effective(&report(true, 29, true)));
        assert!(!rule.is_effective(&report(false, 300, true)));
        assert!(!rule.is_effective(&report(true, 300, false)));
        let strict = EffectiveRule {
            min_talk: Seconds(60),
        };
        assert!(!strict.is_effective(&report(true, 45, true)));
    }

    #[test]
    fn visit_goes_invited_then_booked_then_attended() {
        let mut v = Visit::default();
        v.invite().unwrap();
        v.book(Timestamp::from_secs(1_000)).unwrap();
        v.book(Timestamp::from_secs(2_000)).unwrap();
        assert_eq!(v.booked_at(), Some(Timestamp::from_secs(2_000)));
        v.attend(Timestamp::from_secs(2_100)).unwrap();
        assert_eq!(v.stage(), VisitStage::Attended);
        assert_eq!(v.attended_at(), Some(Timestamp::from_secs(2_100)));
    }

    #[test]
    fn visit_cannot_skip_steps() {
        let mut v = Visit::default();
        assert!(matches!(
            v.book(Timestamp::from_secs(1)),
            Err(OutcomeError::VisitStep { .. })
        ));
        assert_eq!(
            v.attend(Timestamp::from_secs(1)),
            Err(OutcomeError::VisitWithoutTime)
        );
        v.invite().unwrap();
        v.decline().unwrap();
        assert_eq!(v.stage(), VisitStage::Declined);
        assert!(v.attend(Timestamp::from_secs(1)).is_err());
    }

    #[test]
    fn satisfaction_parses_the_form_values_only() {
        assert_eq!("neutral".parse(), Ok(Satisfaction::Neutral));
        assert!("meh".parse::<Satisfaction>().is_err());
    }
}
