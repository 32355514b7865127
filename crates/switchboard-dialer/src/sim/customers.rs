//! The simulator's customers and its stand-in for the campaign scheduler: each customer has a
//! calling window in their own local time; the scheduler offers a customer to the dialer only
//! while that window is open, with the window's end as the permission's end.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use chrono::{NaiveDateTime, NaiveTime, TimeDelta};
use rand::Rng;
use switchboard_core::{E164, TimeWindow, Timestamp};

/// Calling windows the simulated customers pick from (local time), one wrapping midnight.
const WINDOWS: [&str; 6] = [
    "09:00-21:00",
    "08:00-12:00",
    "13:00-20:00",
    "10:00-18:00",
    "18:00-22:00",
    "20:00-09:00",
];
/// Customers' UTC offsets in minutes (London, Paris, New York, Beijing, Mumbai).
const OFFSETS: [i32; 5] = [0, 60, -300, 480, 330];

/// One simulated customer.
#[derive(Debug, Clone)]
pub struct Customer {
    pub number: E164,
    pub window: TimeWindow,
    pub offset_minutes: i32,
    pub attempts: u32,
    pub done: bool,
}

impl Customer {
    /// The customer's local wall-clock time at `t`.
    pub fn local(&self, t: Timestamp) -> NaiveDateTime {
        (t.to_utc() + TimeDelta::minutes(i64::from(self.offset_minutes))).naive_utc()
    }

    /// Whether the customer may be called at `t` (the check the property tests use).
    pub fn callable_at(&self, t: Timestamp) -> bool {
        self.window.contains(self.local(t).time())
    }

    fn to_timestamp(&self, local: NaiveDateTime) -> Timestamp {
        let utc = local - TimeDelta::minutes(i64::from(self.offset_minutes));
        Timestamp::from_utc(utc.and_utc())
    }

    /// The next time at or after `local` when the local clock shows `at`.
    fn next_local(local: NaiveDateTime, at: NaiveTime) -> NaiveDateTime {
        let today = local.date().and_time(at);
        if today >= local {
            today
        } else {
            today + TimeDelta::days(1)
        }
    }

    /// While the window is open at `t`: when it closes.
    pub fn window_end_after(&self, t: Timestamp) -> Timestamp {
        let local = self.local(t);
        let mut end = Self::next_local(local, self.window.end());
        if end == local {
            end += TimeDelta::days(1);
        }
        self.to_timestamp(end)
    }

    /// While the window is closed at `t`: when it opens next.
    pub fn window_start_after(&self, t: Timestamp) -> Timestamp {
        self.to_timestamp(Self::next_local(self.local(t), self.window.start()))
    }
}

/// Offers customers in order of when they are due, each only inside their window.
#[derive(Debug)]
pub struct Scheduler {
    pub customers: Vec<Customer>,
    due: BinaryHeap<Reverse<(Timestamp, usize)>>,
    max_attempts: u32,
}

impl Scheduler {
    /// `count` customers with random windows and time zones, all due at `start`.
    pub fn new<R: Rng>(count: usize, max_attempts: u32, start: Timestamp, rng: &mut R) -> Self {
        let mut customers = Vec::with_capacity(count);
        let mut due = BinaryHeap::with_capacity(count);
        for i in 0..count {
            let digits = 100_000_000 + i % 900_000_000;
            let number = E164::parse(&format!("+44{digits:09}"))
                .unwrap_or_else(|_| unreachable!("11 digits after + is E.164"));
            let window = TimeWindow::parse(WINDOWS[rng.gen_range(0..WINDOWS.len())])
                .unwrap_or_else(|_| unreachable!("the window table is well formed"));
            let offset_minutes = OFFSETS[rng.gen_range(0..OFFSETS.len())];
            customers.push(Customer {
                number,
                window,
                offset_minutes,
                attempts: 0,
                done: false,
            });
            due.push(Reverse((start, i)));
        }
        Scheduler {
            customers,
            due,
            max_attempts,
        }
    }

    /// The next customer that may be dialled at `now`, with the end of their open window.
    pub fn next_ready(&mut self, now: Timestamp) -> Option<(usize, Timestamp)> {
        while let Some(Reverse((at, i))) = self.due.peek().copied() {
            if at > now {
                return None;
            }
            self.due.pop();
            let c = &self.customers[i];
            if c.done {
                continue;
            }
            if c.callable_at(now) {
                return Some((i, c.window_end_after(now)));
            }
            let opens = c.window_start_after(now);
            self.due
                .push(Reverse((opens.max(now + Duration::from_secs(1)), i)));
        }
        None
    }

    /// The customer was dialled (or handed back unused, `counted == false`): try again at `at`
    /// unless they have had all their attempts.
    pub fn retry_at(&mut self, i: usize, at: Timestamp, counted: bool) {
        let Some(c) = self.customers.get_mut(i) else {
            return;
        };
        if counted {
            c.attempts += 1;
        }
        if c.attempts >= self.max_attempts {
            c.done = true;
        } else {
            self.due.push(Reverse((at, i)));
        }
    }

    /// The customer was reached: nothing more to do.
    pub fn done(&mut self, i: usize) {
        if let Some(c) = self.customers.get_mut(i) {
            c.done = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn utc(h: u32, m: u32) -> Timestamp {
        Timestamp::from_utc(
            Utc.from_utc_datetime(
                &NaiveDate::from_ymd_opt(2026, 3, 2)
                    .and_then(|d| d.and_hms_opt(h, m, 0))
                    .expect("valid date"),
            ),
        )
    }

    fn customer(window: &str, offset_minutes: i32) -> Customer {
        Customer {
            number: E164::parse("+447700900001").expect("valid"),
            window: TimeWindow::parse(window).expect("valid"),
            offset_minutes,
            attempts: 0,
            done: false,
        }
    }

    #[test]
    fn a_beijing_customer_with_a_day_window_is_callable_in_the_utc_morning() {
        let c = customer("09:00-21:00", 480);
        assert!(c.callable_at(utc(2, 0)), "10:00 in Beijing");
        assert!(!c.callable_at(utc(13, 0)), "21:00 in Beijing");
        assert_eq!(c.window_end_after(utc(2, 0)), utc(13, 0));
        assert_eq!(
            c.window_start_after(utc(13, 0)),
            utc(1, 0) + TimeDelta::days(1).to_std().expect("positive")
        );
    }

    #[test]
    fn a_window_wrapping_midnight_ends_the_next_morning() {
        let c = customer("20:00-09:00", 0);
        assert!(c.callable_at(utc(23, 0)));
        assert_eq!(
            c.window_end_after(utc(23, 0)),
            utc(9, 0) + Duration::from_secs(86_400)
        );
        assert_eq!(c.window_end_after(utc(1, 0)), utc(9, 0));
    }
}
