//! What predictive pacing measures: the answer rate, how long answered and unanswered calls
//! ring, talk time, wrap-up time and the recent abandonment rate. Every figure starts from a
//! configured prior and moves towards what the campaign actually sees.

use std::collections::VecDeque;
use std::time::Duration;

use crate::config::PacingConfig;
use crate::durations::DurationHist;

/// Ring durations are kept in one-second buckets up to this many seconds.
const BUCKETS: usize = 64;
/// How many recent dial outcomes the answer rate and ring-time shapes are measured over.
const WINDOW: usize = 400;
/// Weight of the prior answer rate, in calls.
const PRIOR_WEIGHT: f64 = 20.0;
/// Smoothing of the time averages: roughly the last 100 calls count.
const EWMA_ALPHA: f64 = 0.01;
/// Smoothing of the abandonment rate: roughly the last 300 live answers count.
const ABANDON_ALPHA: f64 = 1.0 / 300.0;
/// Talk and wrap-up times remembered for their distributions.
const DURATION_WINDOW: usize = 500;
/// Below this many samples the distributions are not trusted; the means are used instead.
const MIN_DURATION_SAMPLES: usize = 30;

#[derive(Debug, Clone, Copy)]
struct Attempt {
    answered: bool,
    bucket: usize,
}

/// Running measurements for one campaign.
#[derive(Debug, Clone)]
pub struct PacingStats {
    prior_answer_rate: f64,
    window: VecDeque<Attempt>,
    answered_in_window: usize,
    /// Counts of ring durations (whole seconds) of answered and of unanswered calls.
    answered_hist: [u32; BUCKETS],
    other_hist: [u32; BUCKETS],
    talk_secs: f64,
    wrap_secs: f64,
    time_to_answer_secs: f64,
    abandon_rate: f64,
    talk_hist: DurationHist,
    wrap_hist: DurationHist,
}

fn bucket(d: Duration) -> usize {
    usize::try_from(d.as_secs()).map_or(BUCKETS - 1, |s| s.min(BUCKETS - 1))
}

fn secs_usize(d: Duration) -> usize {
    usize::try_from(d.as_secs()).unwrap_or(usize::MAX / 2)
}

fn ewma(old: f64, sample: f64) -> f64 {
    old + EWMA_ALPHA * (sample - old)
}

impl PacingStats {
    /// Starts from the configured priors.
    pub fn new(cfg: &PacingConfig) -> Self {
        PacingStats {
            prior_answer_rate: cfg.prior_answer_rate,
            window: VecDeque::with_capacity(WINDOW),
            answered_in_window: 0,
            answered_hist: [0; BUCKETS],
            other_hist: [0; BUCKETS],
            talk_secs: cfg.prior_talk.as_secs_f64(),
            wrap_secs: cfg.prior_wrap_up.as_secs_f64(),
            time_to_answer_secs: cfg.prior_time_to_answer.as_secs_f64(),
            abandon_rate: 0.0,
            talk_hist: DurationHist::new(DURATION_WINDOW),
            wrap_hist: DurationHist::new(DURATION_WINDOW),
        }
    }

    /// A dialled call ended its ringing phase: answered by a person, or not (busy, failed,
    /// no answer), after `rang` from the moment it was placed.
    pub fn record_attempt(&mut self, answered: bool, rang: Duration) {
        if self.window.len() == WINDOW
            && let Some(old) = self.window.pop_front()
        {
            self.hist_mut(old.answered)[old.bucket] -= 1;
            if old.answered {
                self.answered_in_window -= 1;
            }
        }
        let b = bucket(rang);
        self.hist_mut(answered)[b] += 1;
        self.window.push_back(Attempt {
            answered,
            bucket: b,
        });
        if answered {
            self.answered_in_window += 1;
            self.time_to_answer_secs = ewma(self.time_to_answer_secs, rang.as_secs_f64());
        }
    }

    fn hist_mut(&mut self, answered: bool) -> &mut [u32; BUCKETS] {
        if answered {
            &mut self.answered_hist
        } else {
            &mut self.other_hist
        }
    }

    /// A bridged call ended after `talk`.
    pub fn record_talk(&mut self, talk: Duration) {
        self.talk_secs = ewma(self.talk_secs, talk.as_secs_f64());
        self.talk_hist.record(talk);
    }

    /// An agent finished wrap-up after `wrap`.
    pub fn record_wrap_up(&mut self, wrap: Duration) {
        self.wrap_secs = ewma(self.wrap_secs, wrap.as_secs_f64());
        self.wrap_hist.record(wrap);
    }

    /// Chance that an agent `elapsed` into wrap-up is free within `h`, from the measured
    /// wrap-up times; `None` until enough have been measured.
    pub fn wrap_ends_within(&self, elapsed: Duration, h: Duration) -> Option<f64> {
        (self.wrap_hist.len() >= MIN_DURATION_SAMPLES).then(|| {
            self.wrap_hist
                .ends_within(secs_usize(elapsed), secs_usize(h))
        })
    }

    /// Chance that an agent `elapsed` into a conversation has finished it *and* the wrap-up
    /// after it within `h`: the remaining talk time (given what has passed) convolved with a
    /// fresh wrap-up. `None` until enough of both have been measured.
    pub fn talk_and_wrap_end_within(&self, elapsed: Duration, h: Duration) -> Option<f64> {
        if self.talk_hist.len() < MIN_DURATION_SAMPLES
            || self.wrap_hist.len() < MIN_DURATION_SAMPLES
        {
            return None;
        }
        let (e, h) = (secs_usize(elapsed), secs_usize(h));
        if self.wrap_hist.within(h) <= 0.0 {
            // Not even a wrap-up started now would be over in time.
            return Some(0.0);
        }
        let p = (0..h)
            .map(|k| self.talk_hist.ends_in_second(e, k) * self.wrap_hist.within(h - k))
            .sum::<f64>();
        Some(p.clamp(0.0, 1.0))
    }

    /// One live answer was connected (`abandoned == false`) or abandoned.
    pub fn record_live_outcome(&mut self, abandoned: bool) {
        let sample = if abandoned { 1.0 } else { 0.0 };
        self.abandon_rate += ABANDON_ALPHA * (sample - self.abandon_rate);
    }

    /// Share of dialled calls a person answers, pulled towards the prior while data is thin.
    pub fn answer_rate(&self) -> f64 {
        let n = self.window.len() as f64;
        let answered = self.answered_in_window as f64;
        ((answered + PRIOR_WEIGHT * self.prior_answer_rate) / (n + PRIOR_WEIGHT)).clamp(0.01, 1.0)
    }

    /// Chance that a call still ringing after `age` will be answered at all.
    pub fn answer_chance_while_ringing(&self, age: Duration) -> f64 {
        self.answered_within(age, Duration::from_secs(BUCKETS as u64))
    }

    /// Chance that a call still ringing after `age` is answered within the next `within`.
    /// Uses the measured ring-time shapes of answered and unanswered calls; until there are
    /// enough of both, answers are assumed spread evenly over twice the mean time to answer.
    pub fn answered_within(&self, age: Duration, within: Duration) -> f64 {
        let p = self.answer_rate();
        let answered = self.answered_in_window;
        let others = self.window.len() - answered;
        let (sa_now, sa_later, so_now) = if answered < 20 || others < 20 {
            let span = (2.0 * self.time_to_answer_secs).max(1.0);
            let a = age.as_secs_f64();
            let b = a + within.as_secs_f64();
            ((1.0 - a / span).max(0.0), (1.0 - b / span).max(0.0), 1.0)
        } else {
            let from = bucket(age);
            let until = usize::try_from((age + within).as_secs()).unwrap_or(usize::MAX);
            let sum = |h: &[u32; BUCKETS], b: usize| -> f64 {
                h.get(b..)
                    .map_or(0.0, |rest| f64::from(rest.iter().sum::<u32>()))
            };
            (
                sum(&self.answered_hist, from) / answered as f64,
                sum(&self.answered_hist, until) / answered as f64,
                sum(&self.other_hist, from) / others as f64,
            )
        };
        let denom = p * sa_now + (1.0 - p) * so_now;
        if denom <= 0.0 {
            0.0
        } else {
            (p * (sa_now - sa_later) / denom).max(0.0)
        }
    }

    /// A snapshot of the ring-time shapes, for answering many "when will this ringing call be
    /// answered" questions at once (same figures as [`PacingStats::answered_within`]).
    pub fn answer_shape(&self) -> AnswerShape {
        let answered = self.answered_in_window;
        let others = self.window.len() - answered;
        let suffix = |h: &[u32; BUCKETS], total: usize| -> Vec<f64> {
            let mut out = vec![0.0; BUCKETS + 1];
            for b in (0..BUCKETS).rev() {
                out[b] = out[b + 1] + f64::from(h[b]) / total as f64;
            }
            out
        };
        let measured = (answered >= 20 && others >= 20).then(|| {
            (
                suffix(&self.answered_hist, answered),
                suffix(&self.other_hist, others),
            )
        });
        AnswerShape {
            answer_rate: self.answer_rate(),
            span: (2.0 * self.time_to_answer_secs).max(1.0),
            measured,
        }
    }

    /// Smoothed talk time.
    pub fn mean_talk(&self) -> Duration {
        Duration::from_secs_f64(self.talk_secs.max(0.0))
    }

    /// Smoothed wrap-up time.
    pub fn mean_wrap_up(&self) -> Duration {
        Duration::from_secs_f64(self.wrap_secs.max(0.0))
    }

    /// Smoothed time from dialling to a person answering.
    pub fn mean_time_to_answer(&self) -> Duration {
        Duration::from_secs_f64(self.time_to_answer_secs.max(0.0))
    }

    /// Recent share of live answers that were abandoned (smoothed).
    pub fn recent_abandon_rate(&self) -> f64 {
        self.abandon_rate
    }
}

/// The measured ring-time shapes of answered and other calls at one moment.
#[derive(Debug, Clone)]
pub struct AnswerShape {
    answer_rate: f64,
    /// Answers spread evenly over this many seconds while data is thin.
    span: f64,
    /// Share of answered and of other calls still ringing at each whole second.
    measured: Option<(Vec<f64>, Vec<f64>)>,
}

impl AnswerShape {
    /// For a call ringing for `age`: the chance it is answered in each of the next `steps`
    /// seconds (and not before).
    pub fn per_second(&self, age: Duration, steps: usize) -> Vec<f64> {
        let p = self.answer_rate;
        match &self.measured {
            None => {
                let a = age.as_secs_f64();
                let alive = |t: f64| (1.0 - t / self.span).max(0.0);
                let denom = p * alive(a) + (1.0 - p);
                (0..steps)
                    .map(|k| {
                        let (t0, t1) = (a + k as f64, a + k as f64 + 1.0);
                        (p * (alive(t0) - alive(t1)) / denom).max(0.0)
                    })
                    .collect()
            }
            Some((answered, others)) => {
                let at = |v: &[f64], b: usize| v.get(b).copied().unwrap_or(0.0);
                let from = bucket(age);
                let denom = p * at(answered, from) + (1.0 - p) * at(others, from);
                if denom <= 0.0 {
                    return vec![0.0; steps];
                }
                (0..steps)
                    .map(|k| {
                        (p * (at(answered, from + k) - at(answered, from + k + 1)) / denom).max(0.0)
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn answer_rate_moves_from_the_prior_to_the_measured_rate() {
        let mut s = PacingStats::new(&PacingConfig::default());
        assert!((s.answer_rate() - 0.3).abs() < 1e-9);
        for i in 0..400 {
            s.record_attempt(i % 4 == 0, secs(10));
        }
        assert!((s.answer_rate() - (100.0 + 6.0) / 420.0).abs() < 1e-9);
    }

    #[test]
    fn a_call_ringing_past_every_answer_time_is_unlikely_to_be_answered() {
        let mut s = PacingStats::new(&PacingConfig::default());
        for i in 0..400 {
            // Answers come after 5 s, unanswered calls ring 20 s.
            if i % 4 == 0 {
                s.record_attempt(true, secs(5));
            } else {
                s.record_attempt(false, secs(20));
            }
        }
        assert!(s.answer_chance_while_ringing(secs(1)) > 0.2);
        assert_eq!(s.answer_chance_while_ringing(secs(6)), 0.0);
    }

    #[test]
    fn the_answer_shape_agrees_with_answered_within() {
        let mut s = PacingStats::new(&PacingConfig::default());
        let check = |s: &PacingStats| {
            for age in [0, 3, 7, 12] {
                let per = s.answer_shape().per_second(secs(age), 20);
                let mut total = 0.0;
                for (k, p) in per.iter().enumerate() {
                    total += p;
                    let direct = s.answered_within(secs(age), secs(k as u64 + 1));
                    assert!(
                        (total - direct).abs() < 1e-9,
                        "age {age} k {k}: {total} vs {direct}"
                    );
                }
            }
        };
        check(&s);
        for i in 0..400u64 {
            if i % 4 == 0 {
                s.record_attempt(true, secs(3 + i % 11));
            } else {
                s.record_attempt(false, secs(if i % 3 == 0 { 2 } else { 20 }));
            }
        }
        check(&s);
    }

    #[test]
    fn abandon_rate_rises_with_abandons() {
        let mut s = PacingStats::new(&PacingConfig::default());
        for _ in 0..100 {
            s.record_live_outcome(false);
        }
        let low = s.recent_abandon_rate();
        for _ in 0..10 {
            s.record_live_outcome(true);
        }
        assert!(s.recent_abandon_rate() > low);
    }
}
