//! The abandonment budget: how many more answered calls may still go without an agent.
//!
//! Counts are kept per campaign day (local midnight to midnight) for the last 30 days. The budget
//! is *provable*, not statistical: [`AbandonBudget::slack`] is the number of further abandoned
//! calls that would keep every limit, measured at this very moment and assuming the campaign
//! stopped now. The dialer keeps "speculative calls in flight ≤ slack" (a speculative call is
//! one no free agent is waiting for), so even if every one of them were answered and abandoned,
//! no limit could be exceeded:
//!
//! - per day: abandoned today ≤ limit × live-answered today;
//! - over 30 days: for every run of consecutive days ending today (1 to 30 days long), abandoned
//!   ≤ limit × live-answered. Runs ending today are the only part of a future 30-day window that
//!   is already known, so keeping all of them within the limit keeps every 30-day window within
//!   it, whatever happens later.
//!
//! Live-answered counts every call a person answered, including the abandoned ones (the TSR
//! definition). Rates are turned into parts per million so that the arithmetic is exact.

use std::collections::VecDeque;

use switchboard_core::Timestamp;

use crate::config::AbandonPolicy;

const DAY_MS: i64 = 24 * 3600 * 1000;
const WINDOW_DAYS: i64 = 30;
const PPM: u64 = 1_000_000;

/// Live-answered and abandoned counts of one campaign day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayCount {
    /// Day number: days since the epoch in the campaign's local time.
    pub day: i64,
    pub live_answered: u64,
    pub abandoned: u64,
}

/// Per-day and 30-day abandonment accounting for one campaign.
#[derive(Debug, Clone)]
pub struct AbandonBudget {
    day_ppm: Option<u64>,
    window_ppm: Option<u64>,
    offset_ms: i64,
    /// Oldest first; at most [`WINDOW_DAYS`] entries, days without calls are absent.
    days: VecDeque<DayCount>,
}

fn to_ppm(rate: f64) -> u64 {
    // Rates are validated to lie in (0, 1]; the cast cannot overflow.
    (rate * PPM as f64).floor().max(0.0) as u64
}

/// Abandons allowed for `live` answered calls at `ppm`, minus those already used.
fn allowance(ppm: u64, live: u64, abandoned: u64) -> i64 {
    let allowed = u128::from(ppm) * u128::from(live) / u128::from(PPM);
    let allowed = i64::try_from(allowed).unwrap_or(i64::MAX);
    allowed.saturating_sub(i64::try_from(abandoned).unwrap_or(i64::MAX))
}

impl AbandonBudget {
    /// An empty budget with the policy's limits and day boundaries.
    pub fn new(policy: &AbandonPolicy) -> Self {
        AbandonBudget {
            day_ppm: policy.max_rate_per_day.map(to_ppm),
            window_ppm: policy.max_rate_per_30_days.map(to_ppm),
            offset_ms: i64::from(policy.day_offset_minutes) * 60_000,
            days: VecDeque::new(),
        }
    }

    /// The campaign day `t` falls in.
    pub fn day_of(&self, t: Timestamp) -> i64 {
        (t.as_millis() + self.offset_ms).div_euclid(DAY_MS)
    }

    /// When the campaign day containing `now` ends.
    pub fn day_end(&self, now: Timestamp) -> Timestamp {
        Timestamp::from_millis((self.day_of(now) + 1) * DAY_MS - self.offset_ms)
    }

    fn today_mut(&mut self, now: Timestamp) -> &mut DayCount {
        let day = self.day_of(now);
        while self
            .days
            .front()
            .is_some_and(|d| d.day <= day - WINDOW_DAYS)
        {
            self.days.pop_front();
        }
        if self.days.back().is_none_or(|d| d.day < day) {
            self.days.push_back(DayCount {
                day,
                ..DayCount::default()
            });
        }
        // Time only moves forward for the dialer; a late event for an earlier day is counted
        // on the newest day, which can only make the budget stricter.
        self.days
            .back_mut()
            .expect("a day was pushed just above if none was there")
    }

    /// Puts back the counts of earlier days (from the store, after a restart); days are merged
    /// with what is already counted, oldest first, and only the last 30 are kept.
    pub fn restore(&mut self, days: impl IntoIterator<Item = DayCount>) {
        let mut all: Vec<DayCount> = self.days.drain(..).collect();
        for d in days {
            match all.iter_mut().find(|x| x.day == d.day) {
                Some(x) => {
                    x.live_answered += d.live_answered;
                    x.abandoned += d.abandoned;
                }
                None => all.push(d),
            }
        }
        all.sort_by_key(|d| d.day);
        let newest = all.last().map_or(0, |d| d.day);
        self.days = all
            .into_iter()
            .filter(|d| d.day > newest - WINDOW_DAYS)
            .collect();
    }

    /// A person answered one of our calls.
    pub fn record_live_answer(&mut self, now: Timestamp) {
        self.today_mut(now).live_answered += 1;
    }

    /// An answered call found no agent in time.
    pub fn record_abandon(&mut self, now: Timestamp) {
        self.today_mut(now).abandoned += 1;
    }

    /// Counts for the day containing `now`.
    pub fn today(&self, now: Timestamp) -> DayCount {
        let day = self.day_of(now);
        self.days
            .iter()
            .rev()
            .find(|d| d.day == day)
            .copied()
            .unwrap_or(DayCount {
                day,
                ..DayCount::default()
            })
    }

    /// Totals over the 30 days ending with the day containing `now`.
    pub fn last_30_days(&self, now: Timestamp) -> (u64, u64) {
        let day = self.day_of(now);
        self.days
            .iter()
            .filter(|d| d.day > day - WINDOW_DAYS && d.day <= day)
            .fold((0, 0), |(l, a), d| (l + d.live_answered, a + d.abandoned))
    }

    /// How many more calls may be abandoned right now without breaking any limit, even if no
    /// further call were ever answered. Negative when a limit is already broken (which only
    /// happens when an agent the dialer counted on disappeared).
    pub fn slack(&self, now: Timestamp) -> i64 {
        let today = self.day_of(now);
        let mut slack = i64::MAX;
        if let Some(ppm) = self.day_ppm {
            let t = self.today(now);
            slack = slack.min(allowance(ppm, t.live_answered, t.abandoned));
        }
        if let Some(ppm) = self.window_ppm {
            let (mut live, mut abandoned) = (0u64, 0u64);
            // With no calls yet today, the run made of today alone allows nothing.
            if self.days.back().is_none_or(|d| d.day < today) {
                slack = slack.min(allowance(ppm, 0, 0));
            }
            // Days without calls add nothing, so suffixes ending on them need no own check.
            for d in self.days.iter().rev() {
                if d.day > today {
                    continue;
                }
                if d.day <= today - WINDOW_DAYS {
                    break;
                }
                live += d.live_answered;
                abandoned += d.abandoned;
                slack = slack.min(allowance(ppm, live, abandoned));
            }
        }
        slack
    }

    /// Whether the counts now within the window keep every limit (used by tests and reports).
    pub fn within_limits(&self, now: Timestamp) -> bool {
        self.slack(now) >= 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn policy() -> AbandonPolicy {
        AbandonPolicy::default()
    }

    fn at(day: i64, secs: i64) -> Timestamp {
        Timestamp::from_millis(day * DAY_MS + secs * 1000)
    }

    #[test]
    fn no_abandon_is_allowed_before_thirty_four_live_answers() {
        let mut b = AbandonBudget::new(&policy());
        for _ in 0..33 {
            b.record_live_answer(at(100, 10));
        }
        assert_eq!(b.slack(at(100, 20)), 0);
        b.record_live_answer(at(100, 30));
        assert_eq!(b.slack(at(100, 40)), 1, "3 % of 34 is 1.02");
    }

    #[test]
    fn three_percent_of_a_hundred_live_answers_is_three_abandons() {
        let mut b = AbandonBudget::new(&policy());
        for _ in 0..100 {
            b.record_live_answer(at(5, 0));
        }
        assert_eq!(b.slack(at(5, 1)), 3);
        for _ in 0..3 {
            b.record_abandon(at(5, 2));
        }
        assert_eq!(b.slack(at(5, 3)), 0);
        b.record_abandon(at(5, 4));
        assert_eq!(b.slack(at(5, 5)), -1);
        assert!(!b.within_limits(at(5, 5)));
    }

    #[test]
    fn daily_budget_starts_again_at_local_midnight() {
        let mut p = policy();
        p.day_offset_minutes = 8 * 60;
        let mut b = AbandonBudget::new(&p);
        // 15:59 UTC is 23:59 in UTC+8.
        let before = at(10, 15 * 3600 + 59 * 60);
        for _ in 0..200 {
            b.record_live_answer(before);
        }
        assert_eq!(b.slack(before), 6);
        assert_eq!(b.day_end(before), at(10, 16 * 3600));
        assert_eq!(b.slack(before + Duration::from_secs(60)), 0);
    }

    #[test]
    fn yesterdays_overspend_is_paid_back_today_under_the_thirty_day_rule() {
        let mut p = policy();
        p.max_rate_per_day = None;
        let mut b = AbandonBudget::new(&p);
        // Yesterday: 100 live, 5 abandoned (an agent vanished) - over the limit.
        for _ in 0..100 {
            b.record_live_answer(at(1, 0));
        }
        for _ in 0..5 {
            b.record_abandon(at(1, 0));
        }
        for _ in 0..100 {
            b.record_live_answer(at(2, 0));
        }
        // Today alone would allow 3, but yesterday+today allow 6 - 5 = 1.
        assert_eq!(b.slack(at(2, 1)), 1);
    }

    #[test]
    fn days_older_than_thirty_fall_out_of_the_window() {
        let mut b = AbandonBudget::new(&policy());
        b.record_live_answer(at(0, 0));
        b.record_live_answer(at(29, 0));
        assert_eq!(b.last_30_days(at(29, 1)), (2, 0));
        b.record_live_answer(at(30, 0));
        assert_eq!(b.last_30_days(at(30, 1)), (2, 0));
    }

    #[test]
    fn restored_days_count_as_if_the_dialer_had_never_stopped() {
        let mut b = AbandonBudget::new(&policy());
        b.restore([
            DayCount {
                day: 3,
                live_answered: 100,
                abandoned: 2,
            },
            DayCount {
                day: 2,
                live_answered: 100,
                abandoned: 3,
            },
        ]);
        assert_eq!(b.slack(at(3, 10)), 1, "today 3 % of 100 minus 2");
        assert_eq!(b.last_30_days(at(3, 10)), (200, 5));
    }

    #[test]
    fn no_limits_means_unbounded_slack() {
        let mut p = policy();
        p.max_rate_per_day = None;
        p.max_rate_per_30_days = None;
        let b = AbandonBudget::new(&p);
        assert_eq!(b.slack(at(0, 0)), i64::MAX);
    }
}
