//! Lockout after repeated failures (wrong passwords, failed SIP digests), keyed by whatever the
//! caller chooses (source address, user name, both). Pure: time comes in as an argument.
//!
//! The table is bounded: a scanner cycling through millions of keys cannot grow it without end.
//! When it is full, entries that can no longer matter are pruned (at most once a second, so a
//! flood of new keys does not cost a full scan each); if it is still full of live entries, new keys
//! are not tracked — a flood must never evict a lock that is in force.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use crate::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures within `window` that lock the key.
    pub max_failures: u32,
    pub window: Duration,
    /// How long a locked key stays locked.
    pub lockout: Duration,
    /// Most keys tracked at once.
    pub capacity: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
            capacity: 100_000,
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Timestamp>,
    locked_until: Option<Timestamp>,
}

/// How often a full table may be scanned for entries to prune.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct FailureThrottle<K> {
    policy: ThrottlePolicy,
    entries: HashMap<K, Entry>,
    last_prune: Option<Timestamp>,
}

impl<K: Hash + Eq + Clone> FailureThrottle<K> {
    pub fn new(policy: ThrottlePolicy) -> Self {
        FailureThrottle {
            policy,
            entries: HashMap::new(),
            last_prune: None,
        }
    }

    /// `Err(retry_after)` while the key is locked.
    pub fn check(&self, key: &K, now: Timestamp) -> Result<(), Duration> {
        match self.entries.get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err(until.since(now)),
            _ => Ok(()),
        }
    }

    /// Records a failure; returns `Some(lockout)` when this failure locked the key.
    pub fn record_failure(&mut self, key: K, now: Timestamp) -> Option<Duration> {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.policy.capacity {
            if self.last_prune.is_none_or(|t| now.since(t) >= PRUNE_EVERY) {
                self.prune(now);
                self.last_prune = Some(now);
            }
            if self.entries.len() >= self.policy.capacity {
                return None;
            }
        }
        let policy = self.policy;
        let entry = self.entries.entry(key).or_default();
        while entry
            .failures
            .front()
            .is_some_and(|t| now.since(*t) >= policy.window)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        if entry.failures.len() >= policy.max_failures as usize {
            entry.failures.clear();
            entry.locked_until = Some(now + policy.lockout);
            return Some(policy.lockout);
        }
        None
    }

    /// A success forgets the key's failures (but does not lift a lock in force).
    pub fn record_success(&mut self, key: &K, now: Timestamp) {
        if self.check(key, now).is_ok() {
            self.entries.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops entries that are neither locked nor hold a failure inside the window.
    fn prune(&mut self, now: Timestamp) {
        let policy = self.policy;
        self.entries.retain(|_, e| {
            let locked = e.locked_until.is_some_and(|u| u > now);
            let recent = e
                .failures
                .back()
                .is_some_and(|t| now.since(*t) < policy.window);
            locked || recent
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            max_failures: 3,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
            capacity: 4,
        }
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn third_failure_within_window_locks_for_the_lockout() {
        let mut th = FailureThrottle::new(policy());
        assert_eq!(th.record_failure("ip", at(0)), None);
        assert_eq!(th.record_failure("ip", at(10)), None);
        assert_eq!(
            th.record_failure("ip", at(20)),
            Some(Duration::from_secs(300))
        );
        assert_eq!(th.check(&"ip", at(21)), Err(Duration::from_secs(299)));
        assert_eq!(th.check(&"ip", at(320)), Ok(()));
        assert_eq!(th.check(&"other", at(21)), Ok(()));
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let mut th = FailureThrottle::new(policy());
        th.record_failure("ip", at(0));
        th.record_failure("ip", at(10));
        assert_eq!(th.record_failure("ip", at(70)), None);
        assert_eq!(th.check(&"ip", at(71)), Ok(()));
    }

    #[test]
    fn success_forgets_failures_but_not_a_lock() {
        let mut th = FailureThrottle::new(policy());
        th.record_failure("ip", at(0));
        th.record_failure("ip", at(1));
        th.record_success(&"ip", at(2));
        assert_eq!(th.record_failure("ip", at(3)), None);
        th.record_failure("ip", at(4));
        th.record_failure("ip", at(5));
        th.record_success(&"ip", at(6));
        assert!(th.check(&"ip", at(7)).is_err());
    }

    #[test]
    fn a_flood_of_new_keys_never_evicts_a_lock_in_force() {
        let mut th = FailureThrottle::new(policy());
        for t in 0..3 {
            th.record_failure(u32::MAX, at(t));
        }
        for i in 0..1000 {
            th.record_failure(i, at(10));
        }
        assert!(th.check(&u32::MAX, at(11)).is_err());
        assert!(th.len() <= 4);
    }

    #[test]
    fn table_stays_bounded_under_a_scan_of_many_keys() {
        let mut th = FailureThrottle::new(policy());
        for i in 0..1000 {
            th.record_failure(i, at(i64::from(i)));
            assert!(th.len() <= 4);
        }
    }
}
