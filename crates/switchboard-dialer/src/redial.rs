//! The no-redial rule: a number whose call was abandoned is not dialled again for 72 h (Ofcom),
//! whichever campaign's scheduler offers it again.

use std::collections::HashMap;
use std::time::Duration;

use switchboard_core::{E164, Timestamp};

/// Remembers when each number last had an abandoned call, for as long as that blocks a redial.
#[derive(Debug, Clone)]
pub struct RedialGuard {
    block: Duration,
    last_abandon: HashMap<E164, Timestamp>,
    /// Size after the last clean-up; entries are pruned when the map doubles, which keeps the
    /// memory proportional to the abandons of the last 72 h at constant amortised cost.
    pruned_len: usize,
}

impl RedialGuard {
    /// A guard blocking numbers for `block` after an abandoned call.
    pub fn new(block: Duration) -> Self {
        RedialGuard {
            block,
            last_abandon: HashMap::new(),
            pruned_len: 0,
        }
    }

    /// A call to `number` was abandoned at `at`.
    pub fn record_abandon(&mut self, number: &E164, at: Timestamp) {
        let entry = self.last_abandon.entry(number.clone()).or_insert(at);
        *entry = (*entry).max(at);
        if self.last_abandon.len() > 2 * self.pruned_len.max(64) {
            let block = self.block;
            self.last_abandon.retain(|_, t| *t + block > at);
            self.pruned_len = self.last_abandon.len();
        }
    }

    /// Until when `number` may not be dialled, if it may not be dialled at `now`.
    pub fn blocked_until(&self, number: &E164, now: Timestamp) -> Option<Timestamp> {
        let until = *self.last_abandon.get(number)? + self.block;
        (until > now).then_some(until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> E164 {
        E164::parse(s).expect("valid test number")
    }

    #[test]
    fn a_number_abandoned_is_blocked_for_seventy_two_hours_exactly() {
        let mut g = RedialGuard::new(Duration::from_secs(72 * 3600));
        let t0 = Timestamp::from_secs(1_000_000);
        g.record_abandon(&n("+447700900123"), t0);
        let almost = t0 + Duration::from_secs(72 * 3600 - 1);
        assert_eq!(
            g.blocked_until(&n("+447700900123"), almost),
            Some(t0 + Duration::from_secs(72 * 3600))
        );
        assert_eq!(
            g.blocked_until(&n("+447700900123"), t0 + Duration::from_secs(72 * 3600)),
            None
        );
        assert_eq!(g.blocked_until(&n("+447700900124"), almost), None);
    }

    #[test]
    fn pruning_forgets_only_expired_numbers() {
        let mut g = RedialGuard::new(Duration::from_secs(3600));
        let t0 = Timestamp::from_secs(0);
        for i in 0..100 {
            g.record_abandon(&n(&format!("+4477009{i:05}")), t0);
        }
        let later = t0 + Duration::from_secs(7200);
        for i in 0..100 {
            g.record_abandon(&n(&format!("+4477008{i:05}")), later);
        }
        assert!(g.last_abandon.len() <= 200);
        assert!(g.blocked_until(&n("+447700800001"), later).is_some());
        assert!(g.blocked_until(&n("+447700900001"), later).is_none());
    }
}
