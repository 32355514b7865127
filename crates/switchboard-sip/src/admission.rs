//! Per-source admission of new dialogs (INVITE, REGISTER, …): a token bucket per source IP, so
//! that one address flooding us (a scanner, a broken phone in a loop, an attack) is answered
//! `503 Retry-After` without a transaction and without reaching the call control, while every
//! other address — the registered phones — keeps being served. Requests inside a dialog (BYE,
//! re-INVITE, ACK, CANCEL) are never limited: they end or keep up calls already admitted.
//!
//! Sans-IO: [`SourceLimiter::admit`] takes the source and `now`. Memory is bounded: at most
//! [`SourceLimiter::max_sources`] buckets are kept; when the table is full, buckets that have
//! refilled (idle sources) are dropped first, and if none has, the new source is refused, so a
//! spoofed-address flood cannot grow the table either.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How fast a source may open dialogs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceLimits {
    /// Sustained new dialogs per second per source address.
    pub per_second: f64,
    /// How many may come at once (the bucket's size).
    pub burst: f64,
    /// Addresses tracked at most.
    pub max_sources: usize,
}

impl Default for SourceLimits {
    fn default() -> SourceLimits {
        SourceLimits {
            per_second: 50.0,
            burst: 100.0,
            max_sources: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every source seen recently.
#[derive(Debug)]
pub struct SourceLimiter {
    limits: SourceLimits,
    /// Addresses never limited (the trunks: they carry every customer's calls).
    exempt: Vec<IpAddr>,
    buckets: HashMap<IpAddr, Bucket>,
    /// Requests refused so far.
    pub refused: u64,
}

impl SourceLimiter {
    pub fn new(limits: SourceLimits, exempt: Vec<IpAddr>) -> SourceLimiter {
        SourceLimiter {
            limits,
            exempt,
            buckets: HashMap::new(),
            refused: 0,
        }
    }

    /// Most sources tracked.
    pub fn max_sources(&self) -> usize {
        self.limits.max_sources
    }

    /// Sources tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    /// Whether a new dialog from `source` may go on at `now` (and takes its token).
    pub fn admit(&mut self, source: IpAddr, now: Instant) -> bool {
        if self.exempt.contains(&source) {
            return true;
        }
        let SourceLimits {
            per_second, burst, ..
        } = self.limits;
        if !self.buckets.contains_key(&source) && self.buckets.len() >= self.limits.max_sources {
            self.forget_idle(now);
            if self.buckets.len() >= self.limits.max_sources {
                self.refused += 1;
                return false;
            }
        }
        let b = self.buckets.entry(source).or_insert(Bucket {
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

    /// Drops the buckets that would be full again by `now` (their sources went quiet).
    fn forget_idle(&mut self, now: Instant) {
        let SourceLimits {
            per_second, burst, ..
        } = self.limits;
        let refill = Duration::from_secs_f64(burst / per_second.max(f64::MIN_POSITIVE));
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.at) < refill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn limiter(per_second: f64, burst: f64, max_sources: usize) -> SourceLimiter {
        SourceLimiter::new(
            SourceLimits {
                per_second,
                burst,
                max_sources,
            },
            vec![ip("192.0.2.10")],
        )
    }

    #[test]
    fn a_burst_is_admitted_then_the_rate_holds() {
        let t0 = Instant::now();
        let mut l = limiter(10.0, 5.0, 100);
        let flood = ip("198.51.100.7");
        let admitted = (0..20).filter(|_| l.admit(flood, t0)).count();
        assert_eq!(admitted, 5, "the burst");
        // A second later: ten more tokens, capped by the burst of five.
        let later = t0 + Duration::from_secs(1);
        assert_eq!((0..20).filter(|_| l.admit(flood, later)).count(), 5);
        // 150 ms later: one and a half tokens.
        let soon = later + Duration::from_millis(150);
        assert_eq!((0..20).filter(|_| l.admit(flood, soon)).count(), 1);
        assert_eq!(l.refused, 15 + 15 + 19);
    }

    #[test]
    fn one_flooding_source_does_not_limit_another() {
        let t0 = Instant::now();
        let mut l = limiter(10.0, 5.0, 100);
        for _ in 0..1000 {
            l.admit(ip("198.51.100.7"), t0);
        }
        assert!(
            l.admit(ip("203.0.113.5"), t0),
            "a phone elsewhere is served"
        );
    }

    #[test]
    fn the_trunk_is_never_limited() {
        let t0 = Instant::now();
        let mut l = limiter(1.0, 1.0, 100);
        assert!((0..10_000).all(|_| l.admit(ip("192.0.2.10"), t0)));
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn the_table_stays_bounded_and_idle_sources_make_room() {
        let t0 = Instant::now();
        let mut l = limiter(10.0, 5.0, 3);
        for i in 1..=3u8 {
            assert!(l.admit(IpAddr::from([198, 51, 100, i]), t0));
        }
        // Full, and nobody is idle yet: a fourth (spoofed) source is refused.
        assert!(!l.admit(ip("198.51.100.4"), t0));
        assert_eq!(l.tracked(), 3);
        // Half a second later the first three have refilled: they are forgotten.
        let later = t0 + Duration::from_millis(600);
        assert!(l.admit(ip("198.51.100.4"), later));
        assert_eq!(l.tracked(), 1);
    }
}
