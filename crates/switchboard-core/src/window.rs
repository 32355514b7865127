//! Daily time-of-day windows ("09:00-21:00", or "21:00-09:00" which wraps past midnight).
//! Used for calling windows and rest time (in the customer's local time) and for shifts.

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("time window must look like HH:MM-HH:MM, got '{0}'")]
    Format(String),
    #[error("time window '{0}' is empty (start equals end)")]
    Empty(String),
}

/// `[start, end)` in local time of day. When `end <= start` the window wraps past midnight;
/// "24:00" is accepted as an end meaning midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeWindow {
    start: NaiveTime,
    end: NaiveTime,
}

impl TimeWindow {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, WindowError> {
        if start == end {
            return Err(WindowError::Empty(format!("{start}-{end}")));
        }
        Ok(TimeWindow { start, end })
    }

    pub fn parse(s: &str) -> Result<Self, WindowError> {
        let err = || WindowError::Format(s.to_owned());
        let (a, b) = s.trim().split_once('-').ok_or_else(err)?;
        let start = parse_hhmm(a.trim()).ok_or_else(err)?;
        let end = parse_hhmm(b.trim()).ok_or_else(err)?;
        if start == end {
            return Err(WindowError::Empty(s.to_owned()));
        }
        Ok(TimeWindow { start, end })
    }

    pub fn start(&self) -> NaiveTime {
        self.start
    }

    pub fn end(&self) -> NaiveTime {
        self.end
    }

    pub fn wraps_midnight(&self) -> bool {
        self.end <= self.start
    }

    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.wraps_midnight() {
            t >= self.start || t < self.end
        } else {
            t >= self.start && t < self.end
        }
    }
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    if s == "24:00" {
        return NaiveTime::from_hms_opt(0, 0, 0);
    }
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

impl TryFrom<String> for TimeWindow {
    type Error = WindowError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TimeWindow::parse(&s)
    }
}

impl From<TimeWindow> for String {
    fn from(w: TimeWindow) -> String {
        w.to_string()
    }
}

impl std::fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn lunch_rest_window_is_half_open() {
        let w = TimeWindow::parse("12:00-14:00").unwrap();
        assert!(w.contains(t(12, 0)));
        assert!(w.contains(t(13, 59)));
        assert!(!w.contains(t(14, 0)));
        assert!(!w.contains(t(11, 59)));
    }

    #[test]
    fn night_rest_window_wraps_midnight() {
        let w = TimeWindow::parse("21:00-09:00").unwrap();
        assert!(w.wraps_midnight());
        assert!(w.contains(t(23, 0)));
        assert!(w.contains(t(0, 0)));
        assert!(w.contains(t(8, 59)));
        assert!(!w.contains(t(9, 0)));
        assert!(!w.contains(t(20, 59)));
    }

    #[test]
    fn night_shift_may_end_at_24_00() {
        let w = TimeWindow::parse("15:00-24:00").unwrap();
        assert!(w.contains(t(23, 59)));
        assert!(!w.contains(t(0, 0)));
        assert_eq!(w.to_string(), "15:00-00:00");
    }

    #[test]
    fn rejects_garbage_and_empty_windows() {
        assert!(matches!(
            TimeWindow::parse("9-5"),
            Err(WindowError::Format(_))
        ));
        assert!(matches!(
            TimeWindow::parse("09:00-09:00"),
            Err(WindowError::Empty(_))
        ));
        assert!(matches!(
            TimeWindow::parse("25:00-26:00"),
            Err(WindowError::Format(_))
        ));
    }
}
