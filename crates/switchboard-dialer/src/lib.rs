//! Outbound dialer pacing: preview, progressive and predictive dialing with a provable
//! abandonment cap, plus a seeded discrete-event simulator that runs the real pacing code.
//!
//! Pure and clock-driven: [`Dialer`] is a sans-IO state machine (`handle(input, now)`,
//! `handle_timeout(now)`, `poll_output()`, `poll_timeout()`). Adapters feed it the campaign
//! scheduler's candidates (calling windows already decided), the ACD's agent states and the
//! trunk's call progress, and carry out its [`Output`]s.
//!
//! - [`config`]: modes, ring timeout (≥ 15 s), abandonment policy (3 % per day / 30 days,
//!   2 s to connect, 72 h no-redial), pacing knobs.
//! - [`budget`]: the per-day and 30-day abandonment budget and its provable slack.
//! - [`redial`]: the 72 h no-redial rule.
//! - [`stats`] and [`pacing`]: measurements and the predictive dial decision.
//! - [`dialer`]: the state machine.
//! - [`sim`]: the seeded simulator used by the property tests and the `dialer-sim` benchmark.

pub mod budget;
pub mod config;
pub mod dialer;
pub mod durations;
pub mod event;
pub mod pacing;
pub mod redial;
pub mod sim;
pub mod stats;

pub use budget::{AbandonBudget, DayCount};
pub use config::{AbandonMessage, AbandonPolicy, ConfigError, DialerConfig, Mode, PacingConfig};
pub use dialer::{Dialer, DialerCounters, DialerError};
pub use event::{
    AgentState, Candidate, FailCause, Input, Originate, Output, ReleaseReason, SwitchReason,
};
