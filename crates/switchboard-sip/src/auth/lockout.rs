//! Failed-authentication lockout per source address: after `max_failures` failures within
//! `window`, the address is locked for `lock_for`. The table is bounded so a scan from many
//! addresses cannot grow it without end.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use switchboard_core::Timestamp;

/// Lockout figures. Defaults: 5 failures in 60 s lock the address for 5 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: usize,
    pub window: Duration,
    pub lock_for: Duration,
    /// Most addresses tracked at once.
    pub capacity: usize,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            window: Duration::from_secs(60),
            lock_for: Duration::from_secs(300),
            capacity: 100_000,
        }
    }
}

#[derive(Debug, Default)]
struct Record {
    failures: VecDeque<Timestamp>,
    locked_until: Option<Timestamp>,
}

/// Per-address failure counts and locks.
#[derive(Debug, Default)]
pub struct Lockout {
    policy: LockoutPolicy,
    by_addr: HashMap<IpAddr, Record>,
}

impl Lockout {
    /// An empty table.
    pub fn new(policy: LockoutPolicy) -> Self {
        Lockout {
            policy,
            by_addr: HashMap::new(),
        }
    }

    /// `Some(until)` while `addr` is locked.
    pub fn locked_until(&self, addr: IpAddr, now: Timestamp) -> Option<Timestamp> {
        self.by_addr
            .get(&addr)
            .and_then(|r| r.locked_until)
            .filter(|&until| until > now)
    }

    /// Counts a failure; returns `Some(until)` if this failure locked the address.
    pub fn record_failure(&mut self, addr: IpAddr, now: Timestamp) -> Option<Timestamp> {
        if !self.by_addr.contains_key(&addr) && self.by_addr.len() >= self.policy.capacity {
            self.prune(now);
        }
        let policy = self.policy;
        let rec = self.by_addr.entry(addr).or_default();
        while rec
            .failures
            .front()
            .is_some_and(|&t| now.since(t) >= policy.window)
        {
            rec.failures.pop_front();
        }
        rec.failures.push_back(now);
        if rec.failures.len() >= policy.max_failures {
            rec.failures.clear();
            let until = now + policy.lock_for;
            rec.locked_until = Some(until);
            return Some(until);
        }
        None
    }

    /// A successful authentication clears the address's failures.
    pub fn record_success(&mut self, addr: IpAddr) {
        self.by_addr.remove(&addr);
    }

    /// Addresses tracked.
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// True if no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// Drops records that no longer matter; if the table is still full, drops unlocked
    /// records, oldest failure first, until a tenth of the room is free.
    fn prune(&mut self, now: Timestamp) {
        let window = self.policy.window;
        self.by_addr.retain(|_, r| {
            r.locked_until.is_some_and(|u| u > now)
                || r.failures.back().is_some_and(|&t| now.since(t) < window)
        });
        if self.by_addr.len() < self.policy.capacity {
            return;
        }
        let mut unlocked: Vec<(Timestamp, IpAddr)> = self
            .by_addr
            .iter()
            .filter(|(_, r)| r.locked_until.is_none_or(|u| u <= now))
            .map(|(a, r)| (r.failures.back().copied().unwrap_or(Timestamp::EPOCH), *a))
            .collect();
        unlocked.sort();
        let excess = self.by_addr.len() + self.policy.capacity / 10 - self.policy.capacity;
        for (_, addr) in unlocked.into_iter().take(excess.max(1)) {
            self.by_addr.remove(&addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn five_failures_within_a_minute_lock_the_address_for_five_minutes() {
        let mut l = Lockout::new(LockoutPolicy::default());
        for s in 0..4 {
            assert_eq!(l.record_failure(ip(1), at(s * 10)), None);
        }
        assert_eq!(l.record_failure(ip(1), at(50)), Some(at(350)));
        assert_eq!(l.locked_until(ip(1), at(349)), Some(at(350)));
        assert_eq!(l.locked_until(ip(1), at(350)), None);
        assert_eq!(l.locked_until(ip(2), at(100)), None);
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_lock() {
        let mut l = Lockout::new(LockoutPolicy::default());
        for s in 0..10 {
            assert_eq!(l.record_failure(ip(1), at(s * 20)), None);
        }
    }

    #[test]
    fn success_clears_the_count() {
        let mut l = Lockout::new(LockoutPolicy::default());
        for s in 0..4 {
            l.record_failure(ip(1), at(s));
        }
        l.record_success(ip(1));
        assert_eq!(l.record_failure(ip(1), at(5)), None);
    }

    #[test]
    fn the_table_stays_bounded_under_a_scan_and_keeps_locked_addresses() {
        let mut l = Lockout::new(LockoutPolicy {
            capacity: 50,
            ..LockoutPolicy::default()
        });
        for _ in 0..5 {
            l.record_failure(ip(0), at(0));
        }
        for i in 0..5000u32 {
            l.record_failure(IpAddr::from((10u32 << 24 | i).to_be_bytes()), at(1));
            assert!(l.len() <= 50, "table grew to {}", l.len());
        }
        assert_eq!(l.locked_until(ip(0), at(1)), Some(at(300)));
    }
}
