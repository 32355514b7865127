//! Lockout after repeated failures (wrong passwords, failed SIP digests), keyed by whatever the
//! caller chooses (source address, user name, both). Pure: time comes in as an argument.
//!
//! The table is bounded: a scanner cycling through millions of keys cannot grow it without end;
//! when it is full, the entries that can no longer matter are pruned first, then the oldest.

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
    last_seen: Timestamp,
}

#[derive(Debug)]
pub struct FailureThrottle<K> {
    policy: ThrottlePolicy,
    entries: HashMap<K, Entry>,
}

impl<K: Hash + Eq + Clone> FailureThrottle<K> {
    pub fn new(policy: ThrottlePolicy) -> Self {
        FailureThrottle {
            policy,
            entries: HashMap::new(),
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
            self.make_room(now);
        }
        let policy = self.policy;
        let entry = self.entries.entry(key).or_default();
        entry.last_seen = now;
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

    fn make_room(&mut self, now: Timestamp) {
        let policy = self.policy;
        self.entries.retain(|_, e| {
            let locked = e.locked_until.is_some_and(|u| u > now);
            let recent = e
                .failures
                .back()
                .is_some_and(|t| now.since(*t) < policy.window);
            locked || recent
        });
        if self.entries.len() >= policy.capacity {
            // Still full of live entries: drop the one seen longest ago.
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&oldest);
            }
        }
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
    fn table_stays_bounded_under_a_scan_of_many_keys() {
        let mut th = FailureThrottle::new(policy());
        for i in 0..1000 {
            th.record_failure(i, at(i64::from(i)));
            assert!(th.len() <= 4);
        }
    }
}
