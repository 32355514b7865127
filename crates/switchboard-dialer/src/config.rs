//! Dialer settings: the dialing mode, ring timeout, the abandonment policy and the pacing limits.
//! Defaults follow the strictest of the rules we must obey (US TSR and UK Ofcom): ring at least
//! 15 s, a live agent within 2 s of the answer, at most 3 % abandoned per day and per 30 days, no
//! repeat call within 72 h of an abandoned one.

use std::time::Duration;

use switchboard_core::{CampaignId, E164};

/// The shortest ring the law allows before a call may be treated as "no answer".
pub const MIN_RING_TIMEOUT: Duration = Duration::from_secs(15);

/// How the dialer paces calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The agent sees the customer first and clicks to dial (or it dials itself after a delay).
    Preview,
    /// One call per ready agent, the agent reserved for that call: never abandons.
    Progressive,
    /// Dials ahead of agents from measured answer rate and handling times, within the budget.
    Predictive,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Preview => "preview",
            Mode::Progressive => "progressive",
            Mode::Predictive => "predictive",
        })
    }
}

/// The recording played to a customer whose answered call found no agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbandonMessage {
    /// Path or storage key of the WAV prompt (company name and call-back number).
    pub wav: String,
    /// The call-back number the message announces, kept for the abandoned-call log.
    pub callback_number: E164,
}

/// Limits on abandoned calls. Rates are fractions of live-answered calls (0.03 = 3 %).
#[derive(Debug, Clone, PartialEq)]
pub struct AbandonPolicy {
    /// UK Ofcom: per calendar day of the campaign. `None` disables the daily limit.
    pub max_rate_per_day: Option<f64>,
    /// US TSR: over 30 days. `None` disables it.
    pub max_rate_per_30_days: Option<f64>,
    /// An answered call with no agent connected within this time is abandoned (2 s by law).
    pub connect_within: Duration,
    /// A number whose call was abandoned is not dialled again for this long (72 h).
    pub no_redial_after_abandon: Duration,
    /// Offset of the campaign's local time from UTC, in minutes; days for the daily budget
    /// start at local midnight.
    pub day_offset_minutes: i32,
}

impl Default for AbandonPolicy {
    fn default() -> Self {
        AbandonPolicy {
            max_rate_per_day: Some(0.03),
            max_rate_per_30_days: Some(0.03),
            connect_within: Duration::from_secs(2),
            no_redial_after_abandon: Duration::from_secs(72 * 3600),
            day_offset_minutes: 0,
        }
    }
}

/// Knobs of predictive pacing. Defaults were tuned with the simulator (see `sim`).
#[derive(Debug, Clone, PartialEq)]
pub struct PacingConfig {
    /// Never more calls in flight than this many per logged-in agent.
    pub max_calls_per_agent: f64,
    /// Answer rate assumed before enough calls have been measured.
    pub prior_answer_rate: f64,
    /// Talk time assumed before measurement.
    pub prior_talk: Duration,
    /// Wrap-up time assumed before measurement.
    pub prior_wrap_up: Duration,
    /// Time from dialling to answer assumed before measurement.
    pub prior_time_to_answer: Duration,
    /// How often predictive pacing re-evaluates while nothing else happens.
    pub tick: Duration,
    /// What one abandoned call costs, in idle agent-seconds, when the budget's slack is at the
    /// comfort level: predictive pacing places a call when the idle time it saves is worth its
    /// abandonment risk at this price. Dearer below the comfort level, cheaper above it.
    pub abandon_cost: f64,
    /// The budget slack (abandons still allowed) that pacing steers towards: about the
    /// speculative calls it wants in flight, so that the provable cap seldom binds.
    pub slack_comfort: i64,
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig {
            max_calls_per_agent: 5.0,
            prior_answer_rate: 0.3,
            prior_talk: Duration::from_secs(150),
            prior_wrap_up: Duration::from_secs(30),
            prior_time_to_answer: Duration::from_secs(8),
            tick: Duration::from_secs(1),
            abandon_cost: 250.0,
            slack_comfort: 8,
        }
    }
}

/// Everything one campaign's dialer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DialerConfig {
    pub campaign: CampaignId,
    pub mode: Mode,
    /// Caller ID presented on every call of the campaign.
    pub caller_id: E164,
    /// How long a call rings before the dialer gives up on it (at least 15 s).
    pub ring_timeout: Duration,
    /// Preview mode: dial by itself this long after showing the customer, if set.
    pub preview_auto_dial: Option<Duration>,
    pub abandon: AbandonPolicy,
    pub abandon_message: AbandonMessage,
    pub pacing: PacingConfig,
}

/// A setting that would break a rule or make no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("ring timeout {0:?} is shorter than the legal minimum of 15 s")]
    RingTimeoutTooShort(Duration),
    #[error("abandonment rate limit {0} must be above 0 and at most 1")]
    BadRate(f64),
    #[error("connect-within time {0:?} must be between 0 and 2 s")]
    BadConnectWithin(Duration),
    #[error("max calls per agent {0} must be at least 1")]
    BadMaxCallsPerAgent(f64),
    #[error("pacing tick must be positive")]
    ZeroTick,
    #[error("pacing {0} must be a finite number above 0 (slack comfort at least 1)")]
    BadPacing(&'static str),
    #[error("day offset {0} minutes is not a time zone offset")]
    BadDayOffset(i32),
}

impl DialerConfig {
    /// A configuration with the legal defaults: 20 s ring, 3 % budgets, 2 s connect, 72 h.
    pub fn new(
        campaign: CampaignId,
        mode: Mode,
        caller_id: E164,
        abandon_message: AbandonMessage,
    ) -> Self {
        DialerConfig {
            campaign,
            mode,
            caller_id,
            ring_timeout: Duration::from_secs(20),
            preview_auto_dial: None,
            abandon: AbandonPolicy::default(),
            abandon_message,
            pacing: PacingConfig::default(),
        }
    }

    /// Checks the rules a configuration must keep; the dialer refuses to start otherwise.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ring_timeout < MIN_RING_TIMEOUT {
            return Err(ConfigError::RingTimeoutTooShort(self.ring_timeout));
        }
        for rate in [
            self.abandon.max_rate_per_day,
            self.abandon.max_rate_per_30_days,
        ]
        .into_iter()
        .flatten()
        .chain([self.pacing.prior_answer_rate])
        {
            if !(rate > 0.0 && rate <= 1.0) {
                return Err(ConfigError::BadRate(rate));
            }
        }
        if self.abandon.connect_within > Duration::from_secs(2) {
            return Err(ConfigError::BadConnectWithin(self.abandon.connect_within));
        }
        if self.pacing.max_calls_per_agent.is_nan() || self.pacing.max_calls_per_agent < 1.0 {
            return Err(ConfigError::BadMaxCallsPerAgent(
                self.pacing.max_calls_per_agent,
            ));
        }
        if self.pacing.tick.is_zero() {
            return Err(ConfigError::ZeroTick);
        }
        if !(self.pacing.abandon_cost.is_finite() && self.pacing.abandon_cost > 0.0) {
            return Err(ConfigError::BadPacing("abandon cost"));
        }
        if self.pacing.slack_comfort < 1 {
            return Err(ConfigError::BadPacing("slack comfort"));
        }
        if self.abandon.day_offset_minutes.abs() > 18 * 60 {
            return Err(ConfigError::BadDayOffset(self.abandon.day_offset_minutes));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn config(mode: Mode) -> DialerConfig {
        DialerConfig::new(
            CampaignId::from("c1"),
            mode,
            E164::parse("+442071234567").expect("valid caller id"),
            AbandonMessage {
                wav: "prompts/abandoned.wav".into(),
                callback_number: E164::parse("+442071234567").expect("valid number"),
            },
        )
    }

    #[test]
    fn defaults_follow_the_law() {
        let c = config(Mode::Predictive);
        assert!(c.validate().is_ok());
        assert!(c.ring_timeout >= MIN_RING_TIMEOUT);
        assert_eq!(c.abandon.connect_within, Duration::from_secs(2));
        assert_eq!(c.abandon.max_rate_per_day, Some(0.03));
        assert_eq!(
            c.abandon.no_redial_after_abandon,
            Duration::from_secs(72 * 3600)
        );
    }

    #[test]
    fn ring_timeout_under_fifteen_seconds_is_refused() {
        let mut c = config(Mode::Progressive);
        c.ring_timeout = Duration::from_secs(14);
        assert_eq!(
            c.validate(),
            Err(ConfigError::RingTimeoutTooShort(Duration::from_secs(14)))
        );
    }

    #[test]
    fn nonsense_rates_are_refused() {
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            let mut c = config(Mode::Predictive);
            c.abandon.max_rate_per_day = Some(bad);
            assert!(
                matches!(c.validate(), Err(ConfigError::BadRate(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn connecting_later_than_two_seconds_is_refused() {
        let mut c = config(Mode::Predictive);
        c.abandon.connect_within = Duration::from_secs(3);
        assert!(matches!(
            c.validate(),
            Err(ConfigError::BadConnectWithin(_))
        ));
    }
}
