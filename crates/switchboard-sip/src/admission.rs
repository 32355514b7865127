//! Per-source admission of new dialogs (INVITE, REGISTER, …): a token bucket per source IP
//! (`switchboard_core::rate`), so that one address flooding us (a scanner, a broken phone in a
//! loop, an attack) is answered `503 Retry-After` without a transaction and without reaching the
//! call control, while every other address — the registered phones — keeps being served.
//! Requests inside a dialog (BYE, re-INVITE, ACK, CANCEL) are never limited: they end or keep up
//! calls already admitted. Memory stays bounded (see [`switchboard_core::KeyedLimiter`]).

use std::net::IpAddr;
use std::time::Instant;

use switchboard_core::{KeyedLimiter, RateLimit};

/// How fast a source may open dialogs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceLimits {
    /// Sustained new dialogs per second per source address, and at once.
    pub rate: RateLimit,
    /// Addresses tracked at most.
    pub max_sources: usize,
}

impl Default for SourceLimits {
    fn default() -> SourceLimits {
        SourceLimits {
            rate: RateLimit {
                per_second: 50.0,
                burst: 100.0,
            },
            max_sources: 100_000,
        }
    }
}

/// The per-source buckets, with the addresses that are never limited.
#[derive(Debug)]
pub struct SourceLimiter {
    /// The trunks: they carry every customer's calls.
    exempt: Vec<IpAddr>,
    buckets: KeyedLimiter<IpAddr>,
}

impl SourceLimiter {
    pub fn new(limits: SourceLimits, exempt: Vec<IpAddr>) -> SourceLimiter {
        SourceLimiter {
            exempt,
            buckets: KeyedLimiter::new(limits.rate, limits.max_sources),
        }
    }

    /// Whether a new dialog from `source` may go on at `now`.
    pub fn admit(&mut self, source: IpAddr, now: Instant) -> bool {
        self.exempt.contains(&source) || self.buckets.admit(&source, now)
    }

    /// Sources tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.tracked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_address_is_limited_and_the_trunk_never() {
        let t0 = Instant::now();
        let trunk = IpAddr::from([192, 0, 2, 10]);
        let limits = SourceLimits {
            rate: RateLimit {
                per_second: 1.0,
                burst: 2.0,
            },
            max_sources: 10,
        };
        let mut l = SourceLimiter::new(limits, vec![trunk]);
        let flood = IpAddr::from([198, 51, 100, 7]);
        assert_eq!((0..100).filter(|_| l.admit(flood, t0)).count(), 2);
        assert!(
            l.admit(IpAddr::from([203, 0, 113, 5]), t0),
            "another phone is served"
        );
        assert!((0..10_000).all(|_| l.admit(trunk, t0)));
        assert_eq!(l.tracked(), 2, "the trunk takes no bucket");
    }
}
