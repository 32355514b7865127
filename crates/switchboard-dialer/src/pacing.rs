//! Predictive pacing: how many extra calls to place now.
//!
//! An answered call must meet a free agent within the grace time (2 s), so timing matters as
//! much as numbers: an answer that comes while every agent is still in wrap-up is abandoned.
//! For every moment τ in the coming ring period (1 s steps) we look at the answers expected by
//! τ — from calls already ringing (using the measured spread of ring times) plus `n` new ones —
//! and the agents expected free by τ + grace (free now, or wrap-up ending by then). Answers by
//! τ are close to Poisson-distributed; the *expected overflow* `E[(answers − agents)⁺]` is the
//! number of calls that would find nobody. The dialer places the largest `n` that keeps the
//! expected overflow under an allowance at every τ. Unlike a fixed dial ratio this pools
//! agents: with one agent about to free up it dials carefully, with five it dials boldly, for
//! the same abandonment risk. Agents freeing later than the ring period are ignored: a call
//! placed now is over before they are back.
//!
//! The allowance adapts ([`aggressiveness`]): it grows while the recent abandonment rate is
//! under the target and shrinks as it nears the limit or as the remaining budget (slack) runs
//! low. The provable cap is applied afterwards by the dialer (speculative calls ≤ budget
//! slack), so nothing here can break the law — this only decides how close to it we run.

use std::time::Duration;

use switchboard_core::Timestamp;

use crate::config::PacingConfig;
use crate::stats::PacingStats;

/// A busy agent, as far as pacing can tell when they will be free for a dialer call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Known to be free at this time (and not before).
    FreeAt(Timestamp),
    /// In wrap-up for `elapsed`; `expected_free_at` is the fallback before wrap-up times have
    /// been measured.
    Wrapping {
        elapsed: Duration,
        expected_free_at: Timestamp,
    },
    /// Talking on a dialer call for `elapsed` (wrap-up follows).
    Talking {
        elapsed: Duration,
        expected_free_at: Timestamp,
    },
}

impl Busy {
    /// Chance the agent is free by `by`.
    pub fn free_by(&self, now: Timestamp, by: Timestamp, stats: &PacingStats) -> f64 {
        let point = |t: Timestamp| if t <= by { 1.0 } else { 0.0 };
        let h = by.since(now);
        match *self {
            Busy::FreeAt(t) => point(t),
            Busy::Wrapping {
                elapsed,
                expected_free_at,
            } => stats
                .wrap_ends_within(elapsed, h)
                .unwrap_or_else(|| point(expected_free_at)),
            Busy::Talking {
                elapsed,
                expected_free_at,
            } => stats
                .talk_and_wrap_end_within(elapsed, h)
                .unwrap_or_else(|| point(expected_free_at)),
        }
    }
}

/// A snapshot of what the dialer knows, taken when it decides.
#[derive(Debug, Clone)]
pub struct PacingView<'a> {
    pub now: Timestamp,
    /// Agents ready with no call, preview or reservation.
    pub free_agents: usize,
    /// Answered calls waiting for an agent.
    pub waiting_answered: usize,
    /// Ages of unreserved calls still ringing.
    pub ringing_ages: &'a [Duration],
    /// Agents now busy (talking on a dialer call or in wrap-up).
    pub busy: &'a [Busy],
    /// Abandons the budget still allows right now.
    pub slack: i64,
    /// How long a call placed now may ring (the ring timeout).
    pub look_ahead: Duration,
    /// How long an answered call may wait for an agent.
    pub grace: Duration,
}

/// Aggressiveness bounds around the configured allowance.
const MIN_AGGRESSIVENESS: f64 = 0.1;
const MAX_AGGRESSIVENESS: f64 = 3.0;
/// Busy agents less likely than this to be free in time are left out of the sums.
const NEGLIGIBLE: f64 = 1e-4;
/// Never more new calls in one decision than this (a bound for the search, not a policy).
const MAX_DIALS: usize = 4096;

/// How hard to push (a multiplier of the overflow allowance), from the recent abandonment rate
/// and the remaining budget.
pub fn aggressiveness(cfg: &PacingConfig, stats: &PacingStats, slack: i64) -> f64 {
    let target = cfg.target_abandon_rate;
    let rate = stats.recent_abandon_rate();
    // Proportional control around the target rate: under it we push harder, above it we hold
    // back.
    let mut k = 1.0 + cfg.gain * (target - rate) / target;
    // A thin budget slows the dialer down before the hard cap has to stop it.
    if slack < cfg.slack_comfort {
        let share = (slack.max(0) as f64) / (cfg.slack_comfort as f64);
        k = k.min(1.0) * (0.5 + 0.5 * share);
    }
    k.clamp(MIN_AGGRESSIVENESS, MAX_AGGRESSIVENESS)
}

/// `E[(X − agents)⁺]` for `X` Poisson with mean `mu`: expected answers finding no agent.
pub fn expected_overflow(mu: f64, agents: usize) -> f64 {
    if mu <= 0.0 {
        return 0.0;
    }
    // E[(X-a)+] = mu - a + sum_{x<a} (a-x) P(X=x)
    let mut px = (-mu).exp();
    let mut under = 0.0;
    for x in 0..agents {
        under += (agents - x) as f64 * px;
        px *= mu / (x + 1) as f64;
    }
    (mu - agents as f64 + under).max(0.0)
}

/// `E[(X − F)⁺]` for `X` Poisson(`mu`) and an independent agent count `F = offset + J`, where
/// `J` has the distribution `pj` (`pj[j]` = P(J = j)).
fn expected_overflow_mixed(mu: f64, offset: i64, pj: &[f64]) -> f64 {
    if mu <= 0.0 {
        return 0.0;
    }
    // eo(f) = E[(X-f)+] = mu - f for f <= 0; eo(f) = eo(f-1) - P(X >= f) above.
    let mut total = 0.0;
    let mut eo = mu; // eo(0)
    let mut f: i64 = 0;
    let mut px = (-mu).exp(); // P(X = f)
    let mut cdf = px; // P(X <= f)
    for (j, p) in pj.iter().enumerate() {
        let target = offset + j as i64;
        if target <= 0 {
            total += p * (mu - target as f64);
            continue;
        }
        while f < target {
            // eo(f+1) = eo(f) - P(X >= f+1) = eo(f) - (1 - P(X <= f))
            eo -= 1.0 - cdf;
            f += 1;
            px *= mu / f as f64;
            cdf += px;
        }
        total += p * eo.max(0.0);
    }
    total
}

/// The distribution of how many of `chances` (independent) happen: Poisson-binomial.
fn count_distribution(chances: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut dist = vec![1.0];
    for p in chances {
        dist.push(0.0);
        for k in (1..dist.len()).rev() {
            dist[k] = dist[k] * (1.0 - p) + dist[k - 1] * p;
        }
        dist[0] *= 1.0 - p;
    }
    dist
}

/// One moment τ of the look-ahead.
struct Moment {
    /// Answers expected by τ from calls already ringing.
    expected: f64,
    /// Chance a call placed now is answered by τ.
    per_call: f64,
    /// Free agents minus answered calls waiting (may be negative).
    offset: i64,
    /// Distribution of busy agents free by τ + grace.
    freeing: Vec<f64>,
}

/// Calls to place now (before the budget cap and the calls-per-agent cap).
///
/// For every second τ of the ring period: answers by τ (Poisson, from the calls ringing and `n`
/// new ones) against agents free by τ + grace (the free ones plus each busy agent with the
/// chance the measured talk and wrap-up times give, conditional on how long they have been
/// busy). The expected number of answers finding nobody must stay within the allowance at
/// every τ; the largest such `n` is dialled.
pub fn predictive_dials(view: &PacingView<'_>, cfg: &PacingConfig, stats: &PacingStats) -> usize {
    let allowance = cfg.overflow_allowance * aggressiveness(cfg, stats, view.slack);
    let steps = view.look_ahead.as_secs().max(1);
    let offset = i64::try_from(view.free_agents).unwrap_or(i64::MAX)
        - i64::try_from(view.waiting_answered).unwrap_or(i64::MAX);
    let moments: Vec<Moment> = (1..=steps)
        .map(|s| {
            let tau = Duration::from_secs(s);
            let by = view.now + tau.mul_f64(cfg.horizon_factor) + view.grace;
            let freeing = count_distribution(
                view.busy
                    .iter()
                    .map(|b| b.free_by(view.now, by, stats))
                    .filter(|p| *p > NEGLIGIBLE),
            );
            Moment {
                expected: view
                    .ringing_ages
                    .iter()
                    .map(|age| stats.answered_within(*age, tau))
                    .sum(),
                per_call: stats.answered_within(Duration::ZERO, tau),
                offset,
                freeing,
            }
        })
        .collect();
    let fits = |n: usize| {
        moments.iter().all(|m| {
            let mu = m.expected + n as f64 * m.per_call;
            expected_overflow_mixed(mu, m.offset, &m.freeing) <= allowance
        })
    };
    if !fits(0) {
        return 0;
    }
    // The largest n that fits: overflow grows with n, so double, then bisect.
    let mut lo = 0;
    let mut hi = 1;
    while hi < MAX_DIALS && fits(hi) {
        lo = hi;
        hi *= 2;
    }
    if hi >= MAX_DIALS && fits(MAX_DIALS) {
        return MAX_DIALS;
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_with(answer_every: usize) -> PacingStats {
        let mut s = PacingStats::new(&PacingConfig::default());
        for i in 0..400 {
            if i % answer_every == 0 {
                s.record_attempt(true, Duration::from_secs(6));
            } else {
                s.record_attempt(false, Duration::from_secs(20));
            }
        }
        for _ in 0..300 {
            s.record_live_outcome(false);
        }
        s
    }

    fn view<'a>(free: usize, ringing: &'a [Duration], busy: &'a [Busy]) -> PacingView<'a> {
        PacingView {
            now: Timestamp::from_secs(1000),
            free_agents: free,
            waiting_answered: 0,
            ringing_ages: ringing,
            busy,
            slack: 100,
            look_ahead: Duration::from_secs(20),
            grace: Duration::from_secs(2),
        }
    }

    #[test]
    fn dials_ahead_of_free_agents_but_within_reason() {
        let s = stats_with(4);
        let cfg = PacingConfig::default();
        let five = predictive_dials(&view(5, &[], &[]), &cfg, &s);
        assert!(
            five > 5,
            "more calls than agents at a 25 % answer rate, got {five}"
        );
        assert!(
            five <= 20,
            "not more than one over the answer rate per agent, got {five}"
        );
    }

    #[test]
    fn a_bigger_pool_of_free_agents_is_dialled_more_boldly_per_agent() {
        let s = stats_with(4);
        let cfg = PacingConfig::default();
        let two = predictive_dials(&view(2, &[], &[]), &cfg, &s) as f64;
        let eight = predictive_dials(&view(8, &[], &[]), &cfg, &s) as f64;
        assert!(eight / 8.0 > two / 2.0, "{eight} for 8 vs {two} for 2");
    }

    #[test]
    fn expected_overflow_matches_the_poisson_formula() {
        // One agent, mean 1: E[(X-1)+] = 1 - 1 + P(X=0) = e^-1.
        assert!((expected_overflow(1.0, 1) - (-1.0f64).exp()).abs() < 1e-12);
        assert_eq!(expected_overflow(0.0, 3), 0.0);
        assert!((expected_overflow(0.5, 0) - 0.5).abs() < 1e-12);
        assert!(expected_overflow(3.0, 2) > expected_overflow(3.0, 4));
    }

    #[test]
    fn a_lower_answer_rate_means_more_calls_per_agent() {
        let cfg = PacingConfig::default();
        let high = predictive_dials(&view(5, &[], &[]), &cfg, &stats_with(2));
        let low = predictive_dials(&view(5, &[], &[]), &cfg, &stats_with(5));
        assert!(low > high, "{low} <= {high}");
    }

    #[test]
    fn agents_about_to_finish_wrap_up_count_as_available() {
        let s = stats_with(4);
        let cfg = PacingConfig::default();
        let soon = [
            Busy::FreeAt(Timestamp::from_secs(1002)),
            Busy::FreeAt(Timestamp::from_secs(1003)),
        ];
        let late = [
            Busy::FreeAt(Timestamp::from_secs(1300)),
            Busy::FreeAt(Timestamp::from_secs(1400)),
        ];
        assert!(predictive_dials(&view(0, &[], &soon), &cfg, &s) > 0);
        assert_eq!(predictive_dials(&view(0, &[], &late), &cfg, &s), 0);
    }

    #[test]
    fn calls_already_ringing_reduce_the_calls_placed() {
        let s = stats_with(4);
        let cfg = PacingConfig::default();
        let ringing = [Duration::from_secs(1); 4];
        let fresh = predictive_dials(&view(2, &[], &[]), &cfg, &s);
        let with_ringing = predictive_dials(&view(2, &ringing, &[]), &cfg, &s);
        assert!(with_ringing < fresh);
    }

    #[test]
    fn the_dialer_slows_down_as_the_budget_tightens() {
        let s = stats_with(4);
        let cfg = PacingConfig::default();
        let roomy = aggressiveness(&cfg, &s, 100);
        let tight = aggressiveness(&cfg, &s, 1);
        let none = aggressiveness(&cfg, &s, 0);
        assert!(roomy > tight && tight > none, "{roomy} {tight} {none}");
    }

    #[test]
    fn the_dialer_slows_down_as_abandonment_nears_the_limit() {
        let cfg = PacingConfig::default();
        let calm = stats_with(4);
        let mut hot = stats_with(4);
        for _ in 0..30 {
            hot.record_live_outcome(true);
        }
        assert!(aggressiveness(&cfg, &hot, 100) < aggressiveness(&cfg, &calm, 100));
    }
}
