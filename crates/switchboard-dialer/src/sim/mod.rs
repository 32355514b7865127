//! A seeded discrete-event simulator of one outbound campaign. It drives the real [`Dialer`]
//! (the same code production runs) by jumping the clock to the next event — a customer
//! answering, a call ending, a wrap-up finishing, a shift starting — or to the dialer's own next
//! deadline. It also plays the campaign scheduler (customers with calling windows in their own
//! time zones, retries) and checks the rules independently of the dialer:
//! calls only inside the customer's window, no redial within 72 h of an abandoned call, ring at
//! least 15 s before "no answer", a live agent within 2 s, and abandonment ≤ 3 % of live
//! answers per day and over every 30 days at every instant.
//!
//! Agent time counted as **busy** is talk plus wrap-up: from the moment a call is bridged to the
//! agent until the agent's wrap-up ends. Agent hours are logged-in time, from shift start until
//! the agent logs out (at shift end, or after the wrap-up of a call still running then).
//!
//! [`Dialer`]: crate::Dialer

pub mod customers;
pub mod dist;
mod run;

use std::time::Duration;

use crate::config::{Mode, PacingConfig};
pub use dist::Dist;
pub use run::run;

/// Everything about the simulated world.
#[derive(Debug, Clone, PartialEq)]
pub struct SimParams {
    pub mode: Mode,
    pub agents: usize,
    /// Working days simulated; each has one shift.
    pub days: u32,
    /// Shift start (UTC hour) and length.
    pub shift_start_hour: u32,
    pub shift_length: Duration,
    pub customers: usize,
    /// Share of dialled calls a person answers.
    pub answer_rate: f64,
    /// Share of dialled calls that get a busy signal.
    pub busy_rate: f64,
    /// Share of dialled calls the network cannot complete. The rest ring with no answer.
    pub unreachable_rate: f64,
    /// Ring time of the calls that are answered.
    pub answer_delay: Dist,
    pub busy_delay: Dist,
    pub unreachable_delay: Dist,
    /// Conversation length once bridged.
    pub talk: Dist,
    pub wrap_up: Dist,
    /// Preview mode: how long an agent reads the file before clicking dial.
    pub preview_think: Dist,
    pub ring_timeout: Duration,
    /// When a customer not reached is offered again.
    pub retry_after: Duration,
    pub max_attempts: u32,
    pub pacing: PacingConfig,
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl SimParams {
    /// The benchmark world: 20 agents, 25 % answer rate, an eight-hour shift.
    ///
    /// Call lengths follow the service rules' "effective call": the customer is reached, a short
    /// conversation happens and the purpose is stated — talk is log-normal with mean 150 s and
    /// standard deviation 75 s (clamped to 20 s - 15 min). Wrap-up is 30 s, always: the product
    /// holds an agent in wrap-up for exactly `dialer.wrap_up_secs` (default 30) after a dialer
    /// call whatever the agent does (`sip_tu/dialing.rs`), and tells the pacing when it ends.
    /// (Until session 9 the benchmark drew it from 20-40 s, a spread the product does not have:
    /// `dialer-sim --wrap-up-spread 10` runs that world.)
    /// Answered calls ring log-normal mean 8 s (2-19 s); 10 % are busy (2-5 s), 5 % unreachable
    /// (1-3 s) and the other 60 % ring until the 20 s ring timeout.
    pub fn benchmark(mode: Mode) -> Self {
        SimParams {
            mode,
            agents: 20,
            days: 5,
            shift_start_hour: 9,
            shift_length: secs(8 * 3600),
            customers: 100_000,
            answer_rate: 0.25,
            busy_rate: 0.10,
            unreachable_rate: 0.05,
            answer_delay: Dist::LogNormal {
                mean: secs(8),
                sd: secs(4),
                min: secs(2),
                max: secs(19),
            },
            busy_delay: Dist::Uniform {
                lo: secs(2),
                hi: secs(5),
            },
            unreachable_delay: Dist::Uniform {
                lo: secs(1),
                hi: secs(3),
            },
            talk: Dist::LogNormal {
                mean: secs(150),
                sd: secs(75),
                min: secs(20),
                max: secs(900),
            },
            wrap_up: Dist::Fixed(secs(30)),
            preview_think: Dist::Uniform {
                lo: secs(3),
                hi: secs(20),
            },
            ring_timeout: secs(20),
            retry_after: secs(2 * 3600),
            max_attempts: 3,
            pacing: PacingConfig::default(),
        }
    }
}

/// A rule the simulation saw broken. Property tests require there to be none.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    OutsideWindow { customer: usize, at_secs: i64 },
    RedialWithin72h { customer: usize, at_secs: i64 },
    RangTooShort { rang: Duration },
    LateConnect { waited: Duration },
    LateAbandon { waited: Duration },
    DayLimit { day: i64, live: u64, abandoned: u64 },
    ThirtyDayLimit { day: i64, live: u64, abandoned: u64 },
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReport {
    pub mode: Mode,
    pub agent_hours: f64,
    pub busy_hours: f64,
    pub placed: u64,
    pub live_answered: u64,
    pub connected: u64,
    pub abandoned: u64,
    pub no_answer: u64,
    pub failed: u64,
    /// Customers handed back because of the 72 h rule.
    pub redial_blocks: u64,
    /// Times predictive fell back to progressive or came back.
    pub mode_switches: u64,
    /// Highest end-of-day abandonment rate over the days simulated.
    pub worst_day_rate: f64,
    pub violations: Vec<Violation>,
}

impl SimReport {
    /// Talk plus wrap-up minutes per logged-in agent hour.
    pub fn busy_minutes_per_agent_hour(&self) -> f64 {
        if self.agent_hours <= 0.0 {
            0.0
        } else {
            60.0 * self.busy_hours / self.agent_hours
        }
    }

    /// Abandoned calls as a share of live-answered calls.
    pub fn abandon_rate(&self) -> f64 {
        if self.live_answered == 0 {
            0.0
        } else {
            self.abandoned as f64 / self.live_answered as f64
        }
    }
}

/// The simulation could not run (a bug: the dialer refused an input the world gave it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Dialer(#[from] crate::DialerError),
    #[error("the simulated world is inconsistent: {0}")]
    Params(&'static str),
}
