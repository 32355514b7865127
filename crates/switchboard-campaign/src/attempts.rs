//! Dial attempts and retries.
//!
//! - No answer → the customer's next number at once; when every number of this round failed,
//!   retry later in a **different part of the day** (morning / afternoon / evening, customer's
//!   local time).
//! - Busy → a short retry on the same number (default 10 min).
//! - Abandoned by the dialer → that number rests 72 h; another number may be dialled at once.
//! - Every dial counts against max attempts, except one where the customer booked a later time;
//!   a key customer's task that runs out is escalated to
//!   a supervisor instead of silently closed.

use std::time::Duration;

use chrono::{NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use switchboard_core::{E164, Timestamp};

use crate::calling::{CallingError, CallingPolicy, local_of};
use crate::outcome::CallReport;
use crate::task::{Task, TaskError, TaskState};

/// What can go wrong recording an attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Calling(#[from] CallingError),
}

/// Retry timings (configurable per tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Busy line: try the same number again after this long.
    pub busy_retry: Duration,
    /// A number whose call the dialer abandoned is not called again for this long.
    pub abandoned_rest: Duration,
    /// At least this long between two rounds over the customer's numbers.
    pub round_gap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            busy_retry: Duration::from_secs(10 * 60),
            abandoned_rest: Duration::from_secs(72 * 3600),
            round_gap: Duration::from_secs(3600),
        }
    }
}

/// What the dialer or agent reports after one dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialResult {
    NoAnswer,
    Busy,
    /// The customer answered but no agent was free; the dialer hung up.
    AbandonedByDialer,
    /// Unallocated or disconnected number.
    InvalidNumber,
    /// The call-back happened; the outcome form is filled in.
    Answered(CallReport),
    /// The customer answered and asked to be called at another time.
    CallBackLater {
        report: CallReport,
        at: Timestamp,
    },
}

/// What happens next for the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Dial this next number of the customer now.
    DialNow { number: E164 },
    /// Back to the planner; no attempt before `at`.
    RetryAt { at: Timestamp },
    /// The customer booked this exact time.
    Booked { at: Timestamp },
    /// Outcome recorded; the task is closed.
    Done,
    /// Max attempts reached or no usable number left. `escalate` is true for key customers:
    /// they are never dropped, a supervisor takes over.
    Exhausted { escalate: bool },
}

/// Parts of the customer's day used to vary retry times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayPart {
    /// 00:00-12:00
    Morning,
    /// 12:00-18:00
    Afternoon,
    /// 18:00-24:00
    Evening,
}

impl DayPart {
    pub fn of(t: NaiveTime) -> DayPart {
        match t.hour() {
            0..=11 => DayPart::Morning,
            12..=17 => DayPart::Afternoon,
            _ => DayPart::Evening,
        }
    }

    /// Local wall time at which the part containing `local` ends.
    fn end_after(local: NaiveDateTime) -> Option<NaiveDateTime> {
        let date = local.date();
        match DayPart::of(local.time()) {
            DayPart::Morning => date.and_hms_opt(12, 0, 0),
            DayPart::Afternoon => date.and_hms_opt(18, 0, 0),
            DayPart::Evening => date.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)),
        }
    }
}

impl Task {
    /// Records one dial of the current number and decides what happens next.
    pub fn record_attempt(
        &mut self,
        result: DialResult,
        now: Timestamp,
        retry: &RetryPolicy,
        calling: &CallingPolicy,
    ) -> Result<Decision, AttemptError> {
        self.ensure_open()?;
        let idx = self.next_number;
        if idx >= self.numbers.len() {
            return Err(TaskError::NoSuchNumber {
                task: self.spec.id.clone(),
                index: idx,
            }
            .into());
        }
        // A booking is the customer's own request after being reached: it does not use up the
        // attempt budget (meant for tries that did not reach them) and resets the rounds.
        let result = match result {
            DialResult::CallBackLater { report, at } => {
                if at < now {
                    return Err(TaskError::BookedInPast { at, now }.into());
                }
                if !calling.is_allowed(at, self.spec.tz) {
                    return Err(TaskError::BookedInRestTime { at }.into());
                }
                self.last_report = Some(report);
                self.booked_at = Some(at);
                self.not_before = at;
                self.round_tried.iter_mut().for_each(|t| *t = false);
                return Ok(Decision::Booked { at });
            }
            other => other,
        };
        self.attempts += 1;
        match result {
            DialResult::Answered(report) => {
                self.last_report = Some(report);
                self.state = TaskState::Done;
                return Ok(Decision::Done);
            }
            DialResult::CallBackLater { .. } => {}
            DialResult::Busy => {
                if let Some(d) = self.exhausted_if_no_attempts_left() {
                    return Ok(d);
                }
                let at = calling.next_allowed(now + retry.busy_retry, self.spec.tz)?;
                self.not_before = at;
                return Ok(Decision::RetryAt { at });
            }
            DialResult::NoAnswer => self.round_tried[idx] = true,
            DialResult::AbandonedByDialer => {
                self.round_tried[idx] = true;
                self.numbers[idx].blocked_until = Some(now + retry.abandoned_rest);
            }
            DialResult::InvalidNumber => self.numbers[idx].dead = true,
        }
        if let Some(d) = self.exhausted_if_no_attempts_left() {
            return Ok(d);
        }
        // Next number of this round, at once.
        let usable_now =
            |n: &crate::task::NumberState| !n.dead && n.blocked_until.is_none_or(|b| b <= now);
        if let Some(j) =
            (0..self.numbers.len()).find(|&j| !self.round_tried[j] && usable_now(&self.numbers[j]))
        {
            self.next_number = j;
            self.not_before = now;
            return Ok(Decision::DialNow {
                number: self.numbers[j].number.clone(),
            });
        }
        // Round over: retry in another part of the customer's day, once a number is usable.
        let Some(unblocked) = self
            .numbers
            .iter()
            .filter(|n| !n.dead)
            .map(|n| n.blocked_until.unwrap_or(now))
            .min()
        else {
            self.state = TaskState::Exhausted;
            return Ok(Decision::Exhausted {
                escalate: self.spec.key_customer,
            });
        };
        let tz = self.spec.tz;
        let avoid = DayPart::of(local_of(now, tz).time());
        let start = (now + retry.round_gap).max(unblocked);
        let at = retry_in_other_part(start, avoid, tz, calling)?;
        self.round_tried.iter_mut().for_each(|t| *t = false);
        self.next_number = (0..self.numbers.len())
            .find(|&j| {
                !self.numbers[j].dead && self.numbers[j].blocked_until.is_none_or(|b| b <= at)
            })
            .unwrap_or(0);
        self.not_before = at;
        Ok(Decision::RetryAt { at })
    }

    fn exhausted_if_no_attempts_left(&mut self) -> Option<Decision> {
        if self.attempts >= self.spec.max_attempts {
            self.state = TaskState::Exhausted;
            Some(Decision::Exhausted {
                escalate: self.spec.key_customer,
            })
        } else {
            None
        }
    }
}

/// First allowed instant at or after `start` whose local day part differs from `avoid`. Falls
/// back to the first allowed instant when the calling windows only ever open in one part.
pub fn retry_in_other_part(
    start: Timestamp,
    avoid: DayPart,
    tz: Tz,
    calling: &CallingPolicy,
) -> Result<Timestamp, CallingError> {
    const WEEK: Duration = Duration::from_secs(8 * 86_400);
    for iv in calling.allowed_intervals(tz, start, start + WEEK) {
        let mut t = iv.start;
        while t < iv.end {
            let local = local_of(t, tz);
            if DayPart::of(local.time()) != avoid {
                return Ok(t);
            }
            let Some(boundary) = DayPart::end_after(local) else {
                break;
            };
            match first_instant_after(boundary, t, tz) {
                Some(next) => t = next,
                None => break,
            }
        }
    }
    calling.next_allowed(start, tz)
}

/// The first instant later than `after` whose local time is `local` (the later one when the
/// local time happens twice; the end of the gap when it does not exist).
fn first_instant_after(local: NaiveDateTime, after: Timestamp, tz: Tz) -> Option<Timestamp> {
    for minutes in 0..=180 {
        let probe = local + chrono::Duration::minutes(minutes);
        let found = tz
            .from_local_datetime(&probe)
            .earliest()
            .into_iter()
            .chain(tz.from_local_datetime(&probe).latest())
            .map(|dt| Timestamp::from_utc(dt.with_timezone(&chrono::Utc)))
            .find(|ts| *ts > after);
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
#[path = "attempts_tests.rs"]
mod tests;
