//! Calling windows in the **customer's** time zone: "never call a customer during their rest
//! time". Rest time is a set of daily local windows (default 12:00-14:00 and 21:00-09:00) plus a
//! holidays calendar; a campaign may override both.
//!
//! DST: whether an instant is allowed is always decided from that instant's own local wall time,
//! so a local time that does not exist (spring forward) or happens twice (fall back) can never
//! make a call land in rest time. Allowed time is computed as UTC intervals: the allowed/rest
//! state can only change at a mapped local boundary (window edge, midnight) or at an offset
//! transition, so evaluating the state at each of those instants is exact.

use std::collections::BTreeSet;

use chrono::{Duration as ChronoDuration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;
use switchboard_core::{TimeWindow, Timestamp};

/// What can go wrong with calling windows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallingError {
    #[error("rest windows cover the whole day: no calling time is left")]
    AlwaysResting,
    #[error("no allowed calling time within {days} days after {from}")]
    NoCallingTime { from: Timestamp, days: i64 },
    #[error("unknown IANA time zone '{0}'")]
    UnknownZone(String),
}

/// Parses an IANA zone name such as `Asia/Shanghai`.
pub fn parse_zone(name: &str) -> Result<Tz, CallingError> {
    name.parse::<Tz>()
        .map_err(|_| CallingError::UnknownZone(name.to_owned()))
}

const MS_PER_DAY: i64 = 86_400_000;
/// How far `next_allowed` looks before giving up (a long holiday block is still found).
const SEARCH_DAYS: i64 = 400;

/// A half-open UTC interval `[start, end)`, in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Rest windows and holidays, evaluated in a customer's local time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingPolicy {
    rest: Vec<TimeWindow>,
    holidays: BTreeSet<NaiveDate>,
}

impl Default for CallingPolicy {
    /// The service rules' default rest time: 12:00-14:00 and 21:00-09:00 local, no holidays.
    fn default() -> Self {
        let lunch = hm(12, 0)
            .zip(hm(14, 0))
            .and_then(|(a, b)| TimeWindow::new(a, b).ok());
        let night = hm(21, 0)
            .zip(hm(9, 0))
            .and_then(|(a, b)| TimeWindow::new(a, b).ok());
        CallingPolicy {
            rest: lunch.into_iter().chain(night).collect(),
            holidays: BTreeSet::new(),
        }
    }
}

fn hm(h: u32, m: u32) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(h, m, 0)
}

impl CallingPolicy {
    /// A policy from rest windows and holiday dates. Fails when the windows leave no minute of the
    /// day to call in (such a campaign could never reach anyone).
    pub fn new(
        rest: Vec<TimeWindow>,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CallingError> {
        let all_day = (0..1440u32)
            .all(|m| hm(m / 60, m % 60).is_some_and(|t| rest.iter().any(|w| w.contains(t))));
        if all_day {
            return Err(CallingError::AlwaysResting);
        }
        Ok(CallingPolicy {
            rest,
            holidays: holidays.into_iter().collect(),
        })
    }

    /// The default rest windows with the given holidays.
    pub fn with_holidays(mut self, holidays: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.holidays.extend(holidays);
        self
    }

    pub fn rest_windows(&self) -> &[TimeWindow] {
        &self.rest
    }

    pub fn holidays(&self) -> impl Iterator<Item = &NaiveDate> {
        self.holidays.iter()
    }

    /// True when this local wall time is rest time (a rest window or a holiday).
    pub fn is_rest_local(&self, local: NaiveDateTime) -> bool {
        self.holidays.contains(&local.date()) || self.rest.iter().any(|w| w.contains(local.time()))
    }

    /// True when a call may start at `t` for a customer living in `tz`.
    pub fn is_allowed(&self, t: Timestamp, tz: Tz) -> bool {
        !self.is_rest_local(local_of(t, tz))
    }

    /// The first instant at or after `t` at which a call may start for a customer in `tz`.
    pub fn next_allowed(&self, t: Timestamp, tz: Tz) -> Result<Timestamp, CallingError> {
        let chunk = 8 * MS_PER_DAY;
        let mut from = t.as_millis();
        while from - t.as_millis() < SEARCH_DAYS * MS_PER_DAY {
            let to = from + chunk;
            if let Some(first) = self.intervals_ms(tz, from, to).first() {
                return Ok(Timestamp::from_millis(first.0));
            }
            from = to;
        }
        Err(CallingError::NoCallingTime {
            from: t,
            days: SEARCH_DAYS,
        })
    }

    /// The allowed time between `from` and `to` as sorted, disjoint UTC intervals.
    pub fn allowed_intervals(&self, tz: Tz, from: Timestamp, to: Timestamp) -> Vec<Interval> {
        self.intervals_ms(tz, from.as_millis(), to.as_millis())
            .into_iter()
            .map(|(s, e)| Interval {
                start: Timestamp::from_millis(s),
                end: Timestamp::from_millis(e),
            })
            .collect()
    }

    fn intervals_ms(&self, tz: Tz, from: i64, to: i64) -> Vec<(i64, i64)> {
        if to <= from {
            return Vec::new();
        }
        let mut cuts = self.state_changes(tz, from, to);
        cuts.push(from);
        cuts.retain(|c| (from..to).contains(c));
        cuts.sort_unstable();
        cuts.dedup();
        let mut out: Vec<(i64, i64)> = Vec::new();
        for (i, &c) in cuts.iter().enumerate() {
            if !self.is_allowed(Timestamp::from_millis(c), tz) {
                continue;
            }
            let end = cuts.get(i + 1).copied().unwrap_or(to);
            match out.last_mut() {
                Some(last) if last.1 == c => last.1 = end,
                _ => out.push((c, end)),
            }
        }
        out
    }

    /// Every instant in (about) `[from, to]` at which the allowed/rest state may change: each
    /// local boundary (midnight and window edges) mapped to UTC — both instants when the local
    /// time is ambiguous, none when it does not exist — and each UTC offset transition.
    fn state_changes(&self, tz: Tz, from: i64, to: i64) -> Vec<i64> {
        let mut times: Vec<NaiveTime> = vec![NaiveTime::MIN];
        for w in &self.rest {
            times.push(w.start());
            times.push(w.end());
        }
        let first = local_of(Timestamp::from_millis(from), tz).date() - ChronoDuration::days(1);
        let last = local_of(Timestamp::from_millis(to), tz).date() + ChronoDuration::days(1);
        let mut cuts = Vec::new();
        for day in first.iter_days().take_while(|d| *d <= last) {
            for t in &times {
                let local = day.and_time(*t);
                match tz.from_local_datetime(&local) {
                    chrono::LocalResult::Single(x) => cuts.push(x.timestamp_millis()),
                    chrono::LocalResult::Ambiguous(a, b) => {
                        cuts.push(a.timestamp_millis());
                        cuts.push(b.timestamp_millis());
                    }
                    chrono::LocalResult::None => {}
                }
            }
        }
        offset_transitions(tz, from, to, &mut cuts);
        cuts
    }
}

/// The customer's local wall time at `t`.
pub fn local_of(t: Timestamp, tz: Tz) -> NaiveDateTime {
    t.to_utc().with_timezone(&tz).naive_local()
}

fn offset_secs(tz: Tz, ms: i64) -> i32 {
    let utc = Timestamp::from_millis(ms).to_utc().naive_utc();
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

/// Pushes the instants (to the second) at which `tz` changes its UTC offset within
/// `[from, to]`. Offsets change at most a few times a year, so 6-hour steps cannot miss one.
fn offset_transitions(tz: Tz, from: i64, to: i64, out: &mut Vec<i64>) {
    const STEP: i64 = 6 * 3_600_000;
    let mut a = from;
    while a < to {
        let b = (a + STEP).min(to);
        if offset_secs(tz, a) != offset_secs(tz, b) {
            // Binary search in whole seconds for the first instant with the new offset.
            let target = offset_secs(tz, b);
            let (mut lo, mut hi) = (a.div_euclid(1000), b.div_euclid(1000) + 1);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_secs(tz, mid * 1000) == target {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            out.push(hi * 1000);
        }
        a = b;
    }
}

/// Allowed calling time for one (policy, zone) over a planning horizon, precomputed so that the
/// planner answers "next allowed instant" with a binary search instead of zone arithmetic.
#[derive(Debug, Clone)]
pub struct ZoneCalendar {
    intervals: Vec<(i64, i64)>,
}

impl ZoneCalendar {
    /// Allowed intervals of `policy` in `tz` between `from` and `to`.
    pub fn build(policy: &CallingPolicy, tz: Tz, from: Timestamp, to: Timestamp) -> Self {
        ZoneCalendar {
            intervals: policy.intervals_ms(tz, from.as_millis(), to.as_millis()),
        }
    }

    /// The allowed interval containing `ms`, or the first one after it: `(start, end)` with
    /// `start` clamped up to `ms`. `None` past the horizon.
    pub fn next_allowed_ms(&self, ms: i64) -> Option<(i64, i64)> {
        let i = self.intervals.partition_point(|&(_, end)| end <= ms);
        self.intervals.get(i).map(|&(s, e)| (s.max(ms), e))
    }

    /// The first instant at or after `t` that is allowed, within the horizon.
    pub fn next_allowed(&self, t: Timestamp) -> Option<Timestamp> {
        self.next_allowed_ms(t.as_millis())
            .map(|(s, _)| Timestamp::from_millis(s))
    }

    /// True when `[start, end)` lies entirely inside allowed time.
    pub fn covers(&self, start: i64, end: i64) -> bool {
        self.next_allowed_ms(start)
            .is_some_and(|(s, e)| s == start && end <= e)
    }
}

#[cfg(test)]
#[path = "calling_tests.rs"]
mod tests;
