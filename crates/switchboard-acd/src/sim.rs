//! A seeded discrete-event simulation of one inbound queue, driven through the real [`Acd`].
//!
//! Calls arrive as a Poisson process, agents answer every offer at once and talk for an
//! exponential time: an M/M/N queue, which Erlang C predicts exactly. The simulator never
//! sleeps: it jumps the clock to the next arrival, call end or [`Acd::poll_timeout`]. Its
//! measured service level and ASA therefore test the ACD's routing (no call waits while an
//! agent is free, first come first served) against the textbook.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::{AgentId, CallId, QueueId, Seconds, Timestamp};

use crate::acd::{Acd, AcdError};
use crate::config::{AcdSettings, Member, QueueConfig, Strategy};
use crate::erlang::{ErlangC, ErlangError};
use crate::event::{EndCause, Input, NewCall, Output};

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("load must be between 0 and 1 (exclusive), got {0}")]
    BadLoad(f64),
    #[error("simulated duration must be longer than the warm-up")]
    TooShort,
    #[error(transparent)]
    Erlang(#[from] ErlangError),
    #[error("the ACD refused a simulated event: {0}")]
    Acd(#[from] AcdError),
    #[error("a call was offered twice or answered after it ended: {0}")]
    Inconsistent(CallId),
}

/// Parameters of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub agents: u32,
    pub aht: Duration,
    /// Offered load per agent (traffic ÷ agents), e.g. 0.9.
    pub load: f64,
    /// Simulated time during which calls arrive.
    pub duration: Duration,
    /// Calls arriving before this are not measured (the queue starts empty).
    pub warm_up: Duration,
    pub service_level_threshold: Duration,
    pub strategy: Strategy,
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            agents: 50,
            aht: Duration::from_secs(180),
            load: 0.9,
            duration: Duration::from_secs(500 * 3600),
            warm_up: Duration::from_secs(3600),
            service_level_threshold: Duration::from_secs(20),
            strategy: Strategy::LongestIdle,
            seed: 7,
        }
    }
}

/// Measured figures next to the Erlang C prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct SimReport {
    /// Calls that arrived after the warm-up (the measured ones).
    pub calls: u64,
    /// Fraction answered within the threshold, measured by the simulator from the offers.
    pub service_level: f64,
    pub asa: Duration,
    /// The ACD's own queue counters (whole run including warm-up), as a cross-check.
    pub acd_service_level: Option<f64>,
    pub acd_asa: Option<Duration>,
    pub predicted_service_level: f64,
    pub predicted_asa: Duration,
    /// Inputs and timeouts handled by the ACD.
    pub events: u64,
}

const QUEUE: &str = "sim";

/// Runs the simulation to the end of its duration, then lets the calls still in progress
/// finish so every measured call has been answered.
pub fn run(config: &SimConfig) -> Result<SimReport, SimError> {
    if !(config.load > 0.0 && config.load < 1.0) {
        return Err(SimError::BadLoad(config.load));
    }
    if config.duration <= config.warm_up {
        return Err(SimError::TooShort);
    }
    let traffic = config.load * f64::from(config.agents);
    let erlang = ErlangC::new(config.agents, traffic, config.aht)?;
    let arrival_rate = traffic / config.aht.as_secs_f64();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut acd = build_acd(config)?;

    let start = Timestamp::from_secs(1_700_000_000);
    let measure_from = start + config.warm_up;
    let stop_arrivals = start + config.duration;
    let mut now = start;
    let mut next_arrival = Some(start + exponential(&mut rng, arrival_rate));
    let mut ends: BinaryHeap<Reverse<(Timestamp, u64)>> = BinaryHeap::new();
    let mut in_progress: BTreeMap<u64, CallId> = BTreeMap::new();
    let mut arrived: BTreeMap<CallId, Timestamp> = BTreeMap::new();
    let mut serial = 0u64;
    let mut m = Measure::default();
    let caller = "+4420700000000".to_owned();

    loop {
        let next_end = ends.peek().map(|Reverse((t, _))| *t);
        let next_timer = acd.poll_timeout();
        let Some(t) = [next_arrival, next_end, next_timer]
            .into_iter()
            .flatten()
            .min()
        else {
            break;
        };
        // Once arrivals stop, only the calls in progress matter; queue timers alone (alerts)
        // must not keep the loop alive.
        if next_arrival.is_none() && ends.is_empty() && arrived.is_empty() {
            break;
        }
        now = now.max(t);
        if next_arrival == Some(t) {
            serial += 1;
            let call = CallId::from(format!("c{serial}"));
            arrived.insert(call.clone(), t);
            acd.handle(
                Input::CallArrived(NewCall::new(call, QUEUE, caller.clone())),
                now,
            )?;
            let after = t + exponential(&mut rng, arrival_rate);
            next_arrival = (after < stop_arrivals).then_some(after);
        } else if next_end == Some(t) {
            if let Some(Reverse((_, id))) = ends.pop()
                && let Some(call) = in_progress.remove(&id)
            {
                acd.handle(
                    Input::CallEnded {
                        call,
                        cause: EndCause::Normal,
                    },
                    now,
                )?;
            }
        } else {
            acd.handle_timeout(now)?;
        }
        m.events += 1;
        // Agents answer at once; answering may free nothing, so one pass over the offers is
        // enough, but the loop drains until the ACD has nothing more to say.
        while let Some(out) = acd.poll_output() {
            let Output::Offer { call, agents, .. } = out else {
                continue;
            };
            let Some(agent) = agents.into_iter().next() else {
                continue;
            };
            let arrived_at = arrived
                .remove(&call)
                .ok_or_else(|| SimError::Inconsistent(call.clone()))?;
            answer(&mut acd, &call, agent, now)?;
            m.events += 1;
            if arrived_at >= measure_from {
                m.record(now.since(arrived_at), config.service_level_threshold);
            }
            serial += 1;
            ends.push(Reverse((
                now + exponential_mean(&mut rng, config.aht),
                serial,
            )));
            in_progress.insert(serial, call);
        }
    }

    let counters = acd
        .queue(&QueueId::from(QUEUE))
        .map(|q| q.counters.clone())
        .unwrap_or_default();
    Ok(SimReport {
        calls: m.answered,
        service_level: if m.answered == 0 {
            0.0
        } else {
            m.within as f64 / m.answered as f64
        },
        asa: Duration::from_secs_f64(m.total_wait_s / (m.answered.max(1) as f64)),
        acd_service_level: counters.service_level(),
        acd_asa: counters.asa(),
        predicted_service_level: erlang.service_level(config.service_level_threshold),
        predicted_asa: erlang.asa(),
        events: m.events,
    })
}

#[derive(Debug, Default)]
struct Measure {
    answered: u64,
    within: u64,
    total_wait_s: f64,
    events: u64,
}

impl Measure {
    fn record(&mut self, waited: Duration, threshold: Duration) {
        self.answered += 1;
        if waited <= threshold {
            self.within += 1;
        }
        self.total_wait_s += waited.as_secs_f64();
    }
}

fn build_acd(config: &SimConfig) -> Result<Acd, SimError> {
    let t0 = Timestamp::from_secs(1_700_000_000);
    let mut acd = Acd::new(AcdSettings::default())?;
    let queue = QueueId::from(QUEUE);
    let qc = QueueConfig {
        strategy: config.strategy,
        // Erlang C has no wrap-up: the handle time is all talk.
        wrap_up: Seconds(0),
        service_level_threshold: Seconds(config.service_level_threshold.as_secs()),
        ..QueueConfig::default()
    };
    acd.handle(
        Input::ConfigureQueue {
            queue: queue.clone(),
            config: qc,
        },
        t0,
    )?;
    for i in 0..config.agents {
        let agent = AgentId::from(format!("agent{i:03}"));
        acd.handle(
            Input::AddMember {
                queue: queue.clone(),
                member: Member::new(agent.clone(), if i % 2 == 0 { "east" } else { "west" }),
            },
            t0,
        )?;
        acd.handle(Input::AgentLogin { agent, ready: true }, t0)?;
    }
    while acd.poll_output().is_some() {}
    Ok(acd)
}

fn answer(acd: &mut Acd, call: &CallId, agent: AgentId, now: Timestamp) -> Result<(), SimError> {
    acd.handle(
        Input::OfferAnswered {
            call: call.clone(),
            agent,
        },
        now,
    )?;
    Ok(())
}

/// An exponential interval with the given rate per second.
fn exponential(rng: &mut ChaCha8Rng, rate_per_s: f64) -> Duration {
    // 1 - u is in (0, 1], so the logarithm is finite.
    let u: f64 = rng.r#gen();
    Duration::from_secs_f64(-(1.0 - u).ln() / rate_per_s)
}

fn exponential_mean(rng: &mut ChaCha8Rng, mean: Duration) -> Duration {
    exponential(rng, 1.0 / mean.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_answers_every_measured_call_and_agrees_with_the_acd_counters() {
        let config = SimConfig {
            agents: 10,
            load: 0.8,
            duration: Duration::from_secs(4 * 3600),
            warm_up: Duration::from_secs(600),
            ..SimConfig::default()
        };
        let r = run(&config).unwrap();
        assert!(r.calls > 500, "calls {}", r.calls);
        assert!((0.0..=1.0).contains(&r.service_level));
        // The ACD counts the warm-up too, so the two differ a little but not by much.
        let acd_sl = r.acd_service_level.unwrap();
        assert!(
            (acd_sl - r.service_level).abs() < 0.05,
            "{acd_sl} vs {}",
            r.service_level
        );
    }

    #[test]
    fn fifo_longest_idle_agrees_with_erlang_c() {
        // 10 agents at 80 % for 100 simulated hours: Erlang C says SL(20 s) = 67.2 %,
        // ASA 36.8 s. ASA converges much more slowly than SL (busy periods are long and
        // correlated): this run is 17 % high, 2,000 hours land within 3 %, hence the wide band.
        let config = SimConfig {
            agents: 10,
            load: 0.8,
            duration: Duration::from_secs(100 * 3600),
            ..SimConfig::default()
        };
        let r = run(&config).unwrap();
        let delta = (r.service_level - r.predicted_service_level).abs();
        assert!(
            delta < 0.03,
            "SL {} vs {}",
            r.service_level,
            r.predicted_service_level
        );
        let asa_ratio = r.asa.as_secs_f64() / r.predicted_asa.as_secs_f64();
        assert!(
            (0.8..1.25).contains(&asa_ratio),
            "ASA {:?} vs {:?}",
            r.asa,
            r.predicted_asa
        );
    }

    #[test]
    fn same_seed_same_result() {
        let config = SimConfig {
            agents: 5,
            load: 0.7,
            duration: Duration::from_secs(3600),
            warm_up: Duration::from_secs(60),
            ..SimConfig::default()
        };
        assert_eq!(run(&config).unwrap(), run(&config).unwrap());
    }

    #[test]
    fn impossible_loads_are_errors() {
        let config = SimConfig {
            load: 1.2,
            ..SimConfig::default()
        };
        assert!(matches!(run(&config), Err(SimError::BadLoad(_))));
    }
}
