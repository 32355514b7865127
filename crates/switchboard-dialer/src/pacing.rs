//! Predictive pacing: how many extra calls to place now.
//!
//! **The model.** An answered call must meet a free agent within the grace time (2 s), so
//! timing matters as much as numbers. For the coming ring period, second by second, a small
//! queue model follows the agents *available* for an answer (free, or freeing within the
//! grace after it):
//! - agents become available: each busy agent with the chance the measured wrap-up (and, for
//!   one still talking, talk + wrap-up) times give of being free by then, *conditional on the
//!   time already spent* — a wrap-up of 20-40 s that has run 35 s ends within 5 s for sure;
//!   one that has run 5 s will not end within the next 15 s at all;
//! - answers arrive: each call still ringing with the chance the measured ring-time shapes
//!   give of an answer in that second given how long it has rung (a call ringing for 15 s is
//!   most likely a no-answer), plus the calls placed now;
//! - each answer takes an available agent; one that finds none is abandoned; agents nobody
//!   takes idle.
//!
//! The number of agents freed by each second comes from a Poisson-binomial over the busy
//! agents; the paths of that count are coupled through one quantile ("an agent freed stays
//! freed": the count never goes down and has the right distribution at every second), which
//! keeps the arrivals of agents in wrap-up as regular as they really are. The answers of the
//! calls already placed are taken as Poisson in each second; the call being weighed is
//! followed exactly (below).
//!
//! **The decision.** One more call is placed now when that lowers the expected idle
//! agent-seconds + `cost` × abandons over the ring period, and lowers them more than placing it
//! one second later would. The extra call is followed exactly — answered in second k with the
//! measured chance, or never, and at most once — against the queue with everything else (the
//! distribution of available agents before each second, forward, and the cost still to come
//! from each state, backward). The "one second later" comparison is what times calls: a call
//! for an agent whose wrap-up ends in 15 s would be answered (8 s typical) while they are still
//! busy, so it waits; a call while agents sit idle is placed at once. Pooling comes for free:
//! with five agents idle an extra answer is safe, with one it is not.
//!
//! **The budget.** `cost` (idle agent-seconds one abandon is worth) adapts to the abandonment
//! budget's slack ([`abandon_cost`]): the slack is the integral of "3 % of live answers minus
//! abandons" over today and the last 30 days, so scaling the cost up as the slack falls under
//! a comfort level and down above it is a feedback controller on the measured rate — it holds
//! the slack around the comfort level, i.e. the day's rate a little under 3 %, and keeps enough
//! of it for the speculative calls the dialer wants in flight. Early in the day (slack small)
//! it dials carefully and builds slack; with the slack gone the dialer falls back to
//! progressive. The provable cap is applied afterwards by the dialer (speculative calls ≤
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

/// The cost multiplier never goes beyond these (a bound for sanity, not a policy).
const MIN_COST_FACTOR: f64 = 0.25;
const MAX_COST_FACTOR: f64 = 64.0;
/// Busy agents less likely than this to be free in time are left out of the sums.
const NEGLIGIBLE: f64 = 1e-4;
/// Quantile slices of the agents-freed paths.
const SLICES: usize = 16;
/// Never more new calls in one decision than this (a bound for the search, not a policy).
const MAX_DIALS: usize = 4096;

/// What one abandon costs, in idle agent-seconds, given the budget's slack: the configured
/// cost at the comfort level, dearer as the slack runs low (the square of the shortfall, so
/// that the last few abandons are guarded hard), cheaper above it.
pub fn abandon_cost(cfg: &PacingConfig, slack: i64) -> f64 {
    let comfort = cfg.slack_comfort.max(1) as f64;
    let s = (slack as f64).max(0.5);
    let factor = if s < comfort {
        (comfort / s).powi(2)
    } else {
        comfort / s
    };
    cfg.abandon_cost * factor.clamp(MIN_COST_FACTOR, MAX_COST_FACTOR)
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

/// Paths of the number of busy agents freed by each second, from its distribution at each
/// second (`cumulative[k]`), coupled through one quantile: every path is non-decreasing and
/// the paths together have the right distribution at every second. Identical paths are merged;
/// each comes with its weight and the number newly freed in each second.
fn freed_paths(cumulative: &[Vec<f64>]) -> Vec<(f64, Vec<usize>)> {
    let mut paths: Vec<(f64, Vec<usize>)> = Vec::new();
    let weight = 1.0 / SLICES as f64;
    for q in 0..SLICES {
        let u = (q as f64 + 0.5) * weight;
        let mut freed = Vec::with_capacity(cumulative.len());
        let mut last = 0;
        for pmf in cumulative {
            // The u-quantile of the count freed by this second.
            let mut acc = 0.0;
            let mut j = 0;
            while j + 1 < pmf.len() {
                acc += pmf[j];
                if acc >= u {
                    break;
                }
                j += 1;
            }
            freed.push(j.max(last) - last);
            last = j.max(last);
        }
        match paths.iter_mut().find(|(_, f)| *f == freed) {
            Some(p) => p.0 += weight,
            None => paths.push((weight, freed)),
        }
    }
    paths
}

/// Poisson probabilities `P(X = 0..len)` for mean `mu`.
fn poisson_pmf(mu: f64, len: usize, out: &mut Vec<f64>) {
    out.clear();
    let mut p = (-mu).exp();
    for a in 0..len {
        out.push(p);
        p *= mu / (a + 1) as f64;
    }
}

/// The coming seconds as the queue model sees them.
struct Outlook {
    /// Free agents minus answered calls waiting (negative: calls waiting for nobody yet).
    start: i64,
    /// Weighted paths of busy agents becoming available, per second.
    paths: Vec<(f64, Vec<usize>)>,
    /// Per second: answers expected from calls already ringing.
    ringing: Vec<f64>,
    /// Per second: chance a call placed now is answered in that second.
    fresh: Vec<f64>,
}

impl Outlook {
    fn new(view: &PacingView<'_>, stats: &PacingStats) -> Self {
        let steps = usize::try_from(view.look_ahead.as_secs())
            .unwrap_or(0)
            .max(1);
        // An answer in second k finds an agent if one is free by the end of it plus the grace.
        let cumulative: Vec<Vec<f64>> = (0..steps)
            .map(|k| {
                let by = view.now + Duration::from_secs(k as u64 + 1) + view.grace;
                count_distribution(
                    view.busy
                        .iter()
                        .map(|b| b.free_by(view.now, by, stats))
                        .filter(|p| *p > NEGLIGIBLE),
                )
            })
            .collect();
        let shape = stats.answer_shape();
        let mut ringing = vec![0.0; steps];
        for age in view.ringing_ages {
            for (r, p) in ringing.iter_mut().zip(shape.per_second(*age, steps)) {
                *r += p;
            }
        }
        Outlook {
            start: i64::try_from(view.free_agents).unwrap_or(i64::MAX)
                - i64::try_from(view.waiting_answered).unwrap_or(i64::MAX),
            paths: freed_paths(&cumulative),
            ringing,
            fresh: shape.per_second(Duration::ZERO, steps),
        }
    }

    /// What one more call changes, placed now and placed a second from now, with `n` new
    /// calls already placed: `(now, later)` changes of idle seconds + `cost` × abandons.
    ///
    /// The extra call is followed exactly — it is answered in second k with the measured
    /// chance, or never, and at most once — against the queue with everything else: the
    /// distribution of available agents before each second's answers (forward) and the cost
    /// still to come from each state (backward) give its effect for every second it may be
    /// answered in.
    fn marginal(&self, n: usize, cost: f64) -> (f64, f64) {
        let mut total = (0.0, 0.0);
        for (weight, freed) in &self.paths {
            let (now, later) = self.path_marginal(freed, n, cost);
            total.0 += weight * now;
            total.1 += weight * later;
        }
        total
    }

    fn path_marginal(&self, freed: &[usize], n: usize, cost: f64) -> (f64, f64) {
        let steps = freed.len();
        let size =
            usize::try_from(self.start.max(0)).unwrap_or(0) + freed.iter().sum::<usize>() + 1;
        let mu: Vec<f64> = (0..steps)
            .map(|k| self.ringing[k] + n as f64 * self.fresh[k])
            .collect();
        let pmfs: Vec<Vec<f64>> = mu
            .iter()
            .map(|m| {
                let mut p = Vec::with_capacity(size);
                poisson_pmf(*m, size, &mut p);
                p
            })
            .collect();
        // Forward: before[k][i] = P(i agents available before the answers of second k).
        let mut before = vec![vec![0.0; size]; steps];
        let mut dist = vec![0.0; size];
        match usize::try_from(self.start) {
            Ok(s) => dist[(s + freed[0]).min(size - 1)] = 1.0,
            Err(_) => {
                // Answered calls waiting take the agents freeing in the first second.
                let waiting = usize::try_from(self.start.unsigned_abs()).unwrap_or(usize::MAX);
                dist[freed[0].saturating_sub(waiting)] = 1.0;
            }
        }
        for k in 0..steps {
            before[k].copy_from_slice(&dist);
            let mut next = vec![0.0; size];
            for (i, pi) in dist.iter().enumerate() {
                if *pi == 0.0 {
                    continue;
                }
                let mut below = 0.0;
                for (a, pa) in pmfs[k].iter().enumerate().take(i) {
                    below += pa;
                    next[i - a] += pi * pa;
                }
                next[0] += pi * (1.0 - below).max(0.0);
            }
            dist = vec![0.0; size];
            let f = freed.get(k + 1).copied().unwrap_or(0);
            for (i, p) in next.iter().enumerate() {
                dist[(i + f).min(size - 1)] += p;
            }
        }
        // Backward: after[i] = cost still to come with i agents available after second k's
        // answers (the next seconds' frees, answers and idle time).
        let mut after = vec![0.0; size];
        let mut now_delta = 0.0;
        let mut later_delta = 0.0;
        for k in (0..steps).rev() {
            let pmf = &pmfs[k];
            let m = mu[k];
            // Cost of second k onwards from i available before its answers, with `extra`
            // answers more than the base.
            let from = |i: usize, extra: usize| -> f64 {
                if i < extra {
                    // Nobody left for the extra answers or any other.
                    return cost * (m + (extra - i) as f64) + after[0];
                }
                let j = i - extra;
                // E[(A - j)+] and the states left when fewer than j answer.
                let mut under = 0.0;
                let mut below = 0.0;
                let mut rest = 0.0;
                for (a, pa) in pmf.iter().enumerate().take(j) {
                    under += (j - a) as f64 * pa;
                    below += pa;
                    rest += pa * ((j - a) as f64 + after[j - a]);
                }
                cost * (m - j as f64 + under).max(0.0) + rest + (1.0 - below).max(0.0) * after[0]
            };
            let base: Vec<f64> = (0..size).map(|i| from(i, 0)).collect();
            let effect: f64 = (0..size)
                .map(|i| before[k][i] * (from(i, 1) - base[i]))
                .sum();
            now_delta += self.fresh[k] * effect;
            if k > 0 {
                later_delta += self.fresh[k - 1] * effect;
            }
            // Shift to the state before second k's frees for the step before.
            let f = freed[k];
            after = (0..size).map(|i| base[(i + f).min(size - 1)]).collect();
        }
        (now_delta, later_delta)
    }
}

/// Calls to place now, at most `limit` (the dialer's budget and calls-per-agent caps).
///
/// Calls are added one at a time while the next one, placed now, lowers idle seconds plus the
/// adaptive cost of its expected abandons, and lowers them more than placing it a second later
/// would. See the module documentation for the model.
pub fn predictive_dials(
    view: &PacingView<'_>,
    cfg: &PacingConfig,
    stats: &PacingStats,
    limit: usize,
) -> usize {
    let cost = abandon_cost(cfg, view.slack);
    let outlook = Outlook::new(view, stats);
    let mut n = 0;
    while n < limit.min(MAX_DIALS) {
        let (now, later) = outlook.marginal(n, cost);
        if now >= 0.0 || now > later {
            break;
        }
        n += 1;
    }
    n
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
        // Wrap-ups of 20..=39 s, evenly.
        for i in 0..100u64 {
            s.record_wrap_up(Duration::from_secs(20 + i % 20));
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
            slack: 8,
            look_ahead: Duration::from_secs(20),
            grace: Duration::from_secs(2),
        }
    }

    fn dials(view: &PacingView<'_>, s: &PacingStats) -> usize {
        predictive_dials(view, &PacingConfig::default(), s, 1000)
    }

    fn wrapping(elapsed: u64) -> Busy {
        Busy::Wrapping {
            elapsed: Duration::from_secs(elapsed),
            expected_free_at: Timestamp::from_secs(1000 + 30 - elapsed.min(30) as i64),
        }
    }

    #[test]
    fn dials_ahead_of_free_agents_but_within_reason() {
        let s = stats_with(4);
        let five = dials(&view(5, &[], &[]), &s);
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
        let two = dials(&view(2, &[], &[]), &s) as f64;
        let eight = dials(&view(8, &[], &[]), &s) as f64;
        assert!(eight / 8.0 > two / 2.0, "{eight} for 8 vs {two} for 2");
    }

    #[test]
    fn one_more_call_is_weighed_by_the_idle_time_it_saves_and_the_abandons_it_risks() {
        // One agent free for three seconds, nobody else; a call is answered in the second
        // second a quarter of the time.
        let outlook = Outlook {
            start: 1,
            paths: vec![(1.0, vec![0, 0, 0])],
            ringing: vec![0.0; 3],
            fresh: vec![0.0, 0.25, 0.0],
        };
        let cost = 100.0;
        // Placed now it saves two idle seconds when answered; a second later, one.
        let (now, later) = outlook.marginal(0, cost);
        assert!((now + 0.5).abs() < 1e-12, "{now}");
        assert!((later + 0.25).abs() < 1e-12, "{later}");
        // With one such call already placed (Poisson mean 0.25 in that second), a second one
        // is abandoned when the first is answered too, and saves idle time only when not.
        let (now, _) = outlook.marginal(1, cost);
        let p0 = (-0.25f64).exp();
        let expected = 0.25 * (cost * (1.0 - p0) - 2.0 * p0);
        assert!((now - expected).abs() < 1e-12, "{now} vs {expected}");
    }

    #[test]
    fn freed_paths_have_the_right_distribution_and_never_go_down() {
        // One agent certain to be free by the second second, another even odds by the third.
        let cumulative = vec![
            count_distribution([0.0, 0.0].into_iter()),
            count_distribution([1.0, 0.0].into_iter()),
            count_distribution([1.0, 0.5].into_iter()),
        ];
        let paths = freed_paths(&cumulative);
        let total: f64 = paths.iter().map(|(w, _)| w).sum();
        assert!((total - 1.0).abs() < 1e-12);
        for (k, pmf) in cumulative.iter().enumerate() {
            for (j, p) in pmf.iter().enumerate() {
                let w: f64 = paths
                    .iter()
                    .filter(|(_, f)| f[..=k].iter().sum::<usize>() == j)
                    .map(|(w, _)| w)
                    .sum();
                assert!((w - p).abs() < 1e-9, "second {k}, {j} freed: {w} vs {p}");
            }
        }
    }

    #[test]
    fn a_lower_answer_rate_means_more_calls_per_agent() {
        let high = dials(&view(5, &[], &[]), &stats_with(2));
        let low = dials(&view(5, &[], &[]), &stats_with(5));
        assert!(low > high, "{low} <= {high}");
    }

    #[test]
    fn agents_about_to_finish_wrap_up_count_as_available() {
        let s = stats_with(4);
        let soon = [wrapping(36), wrapping(37)];
        let late = [wrapping(1), wrapping(2)];
        assert!(dials(&view(0, &[], &soon), &s) > 0);
        assert_eq!(dials(&view(0, &[], &late), &s), 0);
    }

    #[test]
    fn a_call_for_an_agent_freeing_later_waits_until_it_would_be_answered_in_time() {
        let s = stats_with(4);
        // Wrap-ups with 0-4 s left: dial now. With up to 15 s left an answer (6 s) could come
        // while they are still busy, and a second later that is less likely: wait.
        assert!(dials(&view(0, &[], &[wrapping(36), wrapping(37)]), &s) > 0);
        assert_eq!(dials(&view(0, &[], &[wrapping(24), wrapping(25)]), &s), 0);
    }

    #[test]
    fn calls_already_ringing_reduce_the_calls_placed() {
        let s = stats_with(4);
        let ringing = [Duration::from_secs(1); 4];
        let fresh = dials(&view(2, &[], &[]), &s);
        let with_ringing = dials(&view(2, &ringing, &[]), &s);
        assert!(with_ringing < fresh, "{with_ringing} vs {fresh}");
    }

    #[test]
    fn the_limit_is_respected() {
        let s = stats_with(4);
        assert_eq!(
            predictive_dials(&view(8, &[], &[]), &PacingConfig::default(), &s, 3),
            3
        );
    }

    #[test]
    fn the_dialer_slows_down_as_the_budget_tightens() {
        let cfg = PacingConfig::default();
        let roomy = abandon_cost(&cfg, 100);
        let comfortable = abandon_cost(&cfg, cfg.slack_comfort);
        let tight = abandon_cost(&cfg, 2);
        let none = abandon_cost(&cfg, 0);
        assert!(
            roomy < comfortable && comfortable < tight && tight < none,
            "{roomy} {comfortable} {tight} {none}"
        );
        let s = stats_with(4);
        let mut v = view(4, &[], &[]);
        v.slack = 100;
        let bold = dials(&v, &s);
        v.slack = 1;
        let careful = dials(&v, &s);
        assert!(careful < bold, "{careful} vs {bold}");
    }
}
