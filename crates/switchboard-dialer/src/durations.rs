//! Measured distributions of talk and wrap-up times, so predictive pacing can say how likely a
//! busy agent is to be free within the next seconds *given how long they have been busy*. A
//! mean alone cannot: with log-normal talk times an agent 60 s into a call is far less likely
//! to finish in the next 20 s than one 240 s in, and a wrap-up of 20-40 s that has run 35 s
//! ends within 5 s for sure.

use std::collections::VecDeque;
use std::time::Duration;

/// One-second buckets up to this many seconds; longer durations share the last bucket.
const BUCKETS: usize = 1800;

/// The last `capacity` durations in one-second buckets, with survival queries.
#[derive(Debug, Clone)]
pub struct DurationHist {
    capacity: usize,
    samples: VecDeque<u16>,
    /// `above[i]` = samples in buckets ≥ i, kept up to date on every change (a sample
    /// touches at most [`BUCKETS`] entries, once per call: cheaper than rebuilding per query).
    above: Vec<u32>,
}

fn bucket(d: Duration) -> usize {
    usize::try_from(d.as_secs()).map_or(BUCKETS - 1, |s| s.min(BUCKETS - 1))
}

impl DurationHist {
    /// An empty histogram remembering the last `capacity` samples.
    pub fn new(capacity: usize) -> Self {
        DurationHist {
            capacity: capacity.max(1),
            samples: VecDeque::with_capacity(capacity),
            above: vec![0; BUCKETS + 1],
        }
    }

    /// Samples currently remembered.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True with no sample.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Adds one measured duration (forgetting the oldest when full).
    pub fn record(&mut self, d: Duration) {
        if self.samples.len() == self.capacity
            && let Some(old) = self.samples.pop_front()
        {
            let old = usize::from(old);
            for a in &mut self.above[..=old] {
                *a -= 1;
            }
        }
        let b = bucket(d);
        for a in &mut self.above[..=b] {
            *a += 1;
        }
        // BUCKETS < u16::MAX, so the bucket index fits.
        self.samples.push_back(u16::try_from(b).unwrap_or(u16::MAX));
    }

    /// Samples of at least `secs` whole seconds (bucket resolution).
    fn at_least(&self, secs: usize) -> f64 {
        f64::from(self.above[secs.min(BUCKETS)])
    }

    /// P(X < e + h | X ≥ e) in whole seconds: the chance that something already running for
    /// `e` seconds ends within `h` more. 1 when no sample ever lasted that long (it is
    /// overdue; the best guess is "any moment").
    pub fn ends_within(&self, e: usize, h: usize) -> f64 {
        let running = self.at_least(e);
        if running <= 0.0 {
            return 1.0;
        }
        1.0 - self.at_least(e + h) / running
    }

    /// P(X ∈ [e + k, e + k + 1) | X ≥ e): the chance it ends in second `k` from now.
    pub fn ends_in_second(&self, e: usize, k: usize) -> f64 {
        let running = self.at_least(e);
        if running <= 0.0 {
            return if k == 0 { 1.0 } else { 0.0 };
        }
        (self.at_least(e + k) - self.at_least(e + k + 1)) / running
    }

    /// P(X < h) for a fresh one.
    pub fn within(&self, h: usize) -> f64 {
        self.ends_within(0, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[u64]) -> DurationHist {
        let mut h = DurationHist::new(100);
        for v in values {
            h.record(Duration::from_secs(*v));
        }
        h
    }

    #[test]
    fn conditional_chances_use_the_time_already_spent() {
        // Wrap-ups of 20..=39 s, evenly.
        let h = hist(&(20..40).collect::<Vec<_>>());
        assert!((h.within(30) - 0.5).abs() < 1e-9);
        // Running 35 s: the five left (35..=39) all end within 5 s.
        assert!((h.ends_within(35, 5) - 1.0).abs() < 1e-9);
        // Running 10 s: nothing ends in the next 5 s.
        assert_eq!(h.ends_within(10, 5), 0.0);
        assert!((h.ends_in_second(30, 0) - 0.1).abs() < 1e-9);
    }

    #[test]
    fn overdue_means_any_moment_and_the_window_forgets() {
        let mut h = DurationHist::new(3);
        for v in [10, 10, 10, 50, 50, 50] {
            h.record(Duration::from_secs(v));
        }
        assert_eq!(h.len(), 3);
        assert_eq!(h.within(20), 0.0, "the 10 s samples were forgotten");
        assert_eq!(h.ends_within(60, 1), 1.0);
    }
}
