//! Token-bucket rate limiting, keyed: a bucket per key (a source address, a tenant) holding up
//! to `burst` tokens that refill at `per_second`; each admitted event takes one. Pure: callers
//! pass `now`. The table is bounded: when it is full, buckets that have refilled completely
//! (keys gone quiet, which a fresh bucket would equal) are dropped, and if none has, a new key
//! is refused, so a flood of new keys (spoofed addresses) cannot grow it.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How fast each key may go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained events per second per key.
    pub per_second: f64,
    /// Events at once (the bucket's size).
    pub burst: f64,
}

impl RateLimit {
    /// How long an empty bucket takes to fill.
    fn refill_time(&self) -> Duration {
        Duration::from_secs_f64(self.burst / self.per_second.max(f64::MIN_POSITIVE))
    }

    /// Seconds until one token is back in a bucket that has none (for Retry-After).
    pub fn retry_after_secs(&self) -> u64 {
        (1.0 / self.per_second.max(f64::MIN_POSITIVE))
            .ceil()
            .max(1.0) as u64
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every key seen recently.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    limit: RateLimit,
    max_keys: usize,
    buckets: HashMap<K, Bucket>,
    /// Events refused so far.
    pub refused: u64,
}

impl<K: Eq + Hash + Clone> KeyedLimiter<K> {
    pub fn new(limit: RateLimit, max_keys: usize) -> KeyedLimiter<K> {
        KeyedLimiter {
            limit,
            max_keys,
            buckets: HashMap::new(),
            refused: 0,
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Keys tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    /// Whether an event for `key` may go on at `now` (and takes its token).
    pub fn admit(&mut self, key: &K, now: Instant) -> bool {
        if !self.buckets.contains_key(key) && self.buckets.len() >= self.max_keys {
            let refill = self.limit.refill_time();
            self.buckets
                .retain(|_, b| now.saturating_duration_since(b.at) < refill);
            if self.buckets.len() >= self.max_keys {
                self.refused += 1;
                return false;
            }
        }
        let RateLimit { per_second, burst } = self.limit;
        let b = self.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            self.refused += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst: f64, max_keys: usize) -> KeyedLimiter<&'static str> {
        KeyedLimiter::new(RateLimit { per_second, burst }, max_keys)
    }

    #[test]
    fn a_burst_is_admitted_then_the_rate_holds() {
        let t0 = Instant::now();
        let mut l = limiter(10.0, 5.0, 100);
        assert_eq!(
            (0..20).filter(|_| l.admit(&"a", t0)).count(),
            5,
            "the burst"
        );
        let later = t0 + Duration::from_secs(1);
        assert_eq!(
            (0..20).filter(|_| l.admit(&"a", later)).count(),
            5,
            "capped by the burst"
        );
        let soon = later + Duration::from_millis(150);
        assert_eq!((0..20).filter(|_| l.admit(&"a", soon)).count(), 1);
        assert_eq!(l.refused, 15 + 15 + 19);
    }

    #[test]
    fn one_busy_key_does_not_limit_another() {
        let t0 = Instant::now();
        let mut l = limiter(10.0, 5.0, 100);
        for _ in 0..1000 {
            l.admit(&"flood", t0);
        }
        assert!(l.admit(&"phone", t0));
    }

    #[test]
    fn the_table_stays_bounded_and_quiet_keys_make_room() {
        let t0 = Instant::now();
        let mut l = limiter(10.0, 5.0, 3);
        for k in ["a", "b", "c"] {
            assert!(l.admit(&k, t0));
        }
        assert!(!l.admit(&"d", t0), "full, nobody quiet yet");
        assert_eq!(l.tracked(), 3);
        let later = t0 + Duration::from_millis(600);
        assert!(l.admit(&"d", later));
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn retry_after_is_the_time_to_the_next_token() {
        assert_eq!(
            RateLimit {
                per_second: 0.1,
                burst: 1.0
            }
            .retry_after_secs(),
            10
        );
        assert_eq!(
            RateLimit {
                per_second: 50.0,
                burst: 1.0
            }
            .retry_after_secs(),
            1
        );
    }
}
