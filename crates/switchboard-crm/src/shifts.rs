//! Shifts in the call centre's local time (config `[shifts]`): which are on duty now, which one a
//! hand-over belongs to, and the day/week/month periods the agents' figures are counted in.
//! Pure: every function takes the time it answers for.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use switchboard_core::{TimeWindow, Timestamp};

/// A named daily shift (`day` 08:00-17:00, `night` 15:00-24:00, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftPattern {
    pub name: String,
    pub window: TimeWindow,
}

/// The call centre's shifts and its time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftPolicy {
    pub time_zone: Tz,
    pub patterns: Vec<ShiftPattern>,
}

impl Default for ShiftPolicy {
    /// The service rules' shifts in China Standard Time.
    fn default() -> Self {
        let pattern = |name: &str, w: &str| ShiftPattern {
            name: name.to_owned(),
            window: TimeWindow::parse(w).unwrap_or_else(|_| unreachable!("valid literal")),
        };
        ShiftPolicy {
            time_zone: chrono_tz::Asia::Shanghai,
            patterns: vec![
                pattern("day", "08:00-17:00"),
                pattern("day-late", "09:00-18:00"),
                pattern("night", "15:00-24:00"),
            ],
        }
    }
}

/// One occurrence of a shift: a pattern on a local date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftInstance {
    pub name: String,
    /// The local date the shift starts on.
    pub date: NaiveDate,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
}

/// The period a figure is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// Monday to Sunday.
    Week,
    Month,
}

impl ShiftPolicy {
    pub fn pattern(&self, name: &str) -> Option<&ShiftPattern> {
        self.patterns.iter().find(|p| p.name == name)
    }

    /// The UTC instant of a local date and time; in a DST gap, the first valid instant after.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> Timestamp {
        let naive = date.and_time(time);
        let mut probe = naive;
        for _ in 0..4 {
            if let Some(t) = self.time_zone.from_local_datetime(&probe).earliest() {
                return Timestamp::from_millis(t.timestamp_millis());
            }
            probe += Duration::minutes(30);
        }
        Timestamp::from_millis(naive.and_utc().timestamp_millis())
    }

    fn local(&self, t: Timestamp) -> DateTime<Tz> {
        let utc = DateTime::<Utc>::from_timestamp_millis(t.as_millis()).unwrap_or_default();
        utc.with_timezone(&self.time_zone)
    }

    /// The local date of `t`.
    pub fn local_date(&self, t: Timestamp) -> NaiveDate {
        self.local(t).date_naive()
    }

    /// The occurrence of `pattern` that starts on local `date`.
    pub fn instance(&self, pattern: &ShiftPattern, date: NaiveDate) -> ShiftInstance {
        let end_date = if pattern.window.wraps_midnight() {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        ShiftInstance {
            name: pattern.name.clone(),
            date,
            starts_at: self.instant(date, pattern.window.start()),
            ends_at: self.instant(end_date, pattern.window.end()),
        }
    }

    /// Every shift occurrence that has started and not ended at `now`, earliest end first.
    pub fn on_duty(&self, now: Timestamp) -> Vec<ShiftInstance> {
        let mut out = self.around(now);
        out.retain(|s| s.starts_at <= now && now < s.ends_at);
        out
    }

    /// The shift a hand-over written at `now` closes: of the occurrences that ended in the last
    /// three hours or are on duty, the one whose end is nearest to `now`. `None` when no shift
    /// is near (a hand-over then names its shift itself).
    pub fn handing_over(&self, now: Timestamp) -> Option<ShiftInstance> {
        let three_hours = 3 * 3600 * 1000;
        self.around(now)
            .into_iter()
            .filter(|s| s.starts_at <= now && s.ends_at.as_millis() + three_hours > now.as_millis())
            .min_by_key(|s| (s.ends_at.as_millis() - now.as_millis()).abs())
    }

    /// Occurrences starting yesterday, today or tomorrow (local), by end time.
    fn around(&self, now: Timestamp) -> Vec<ShiftInstance> {
        let today = self.local_date(now);
        let mut out = Vec::new();
        for date in [today.pred_opt(), Some(today), today.succ_opt()]
            .into_iter()
            .flatten()
        {
            for p in &self.patterns {
                out.push(self.instance(p, date));
            }
        }
        out.sort_by_key(|s| (s.ends_at, s.starts_at));
        out
    }

    /// The local start of the period holding `t`, and the label it is reported under
    /// (`2027-01-15`, `2027-W03`, `2027-01`).
    pub fn period_of(&self, period: Period, t: Timestamp) -> (NaiveDate, String) {
        let date = self.local_date(t);
        match period {
            Period::Day => (date, date.format("%Y-%m-%d").to_string()),
            Period::Week => {
                let monday =
                    date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
                let iso = date.iso_week();
                (monday, format!("{}-W{:02}", iso.year(), iso.week()))
            }
            Period::Month => {
                let first = date.with_day(1).unwrap_or(date);
                (first, date.format("%Y-%m").to_string())
            }
        }
    }

    /// Local midnight of `date` as an instant.
    pub fn start_of(&self, date: NaiveDate) -> Timestamp {
        self.instant(date, NaiveTime::MIN)
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed step should stop the test loudly.
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// `2027-01-15 HH:MM` China Standard Time (UTC+8).
    fn cst(hh: u32, mm: u32) -> Timestamp {
        let t = chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2027, 1, 15, hh, mm, 0)
            .unwrap();
        Timestamp::from_millis(t.timestamp_millis())
    }

    #[test]
    fn at_four_in_the_afternoon_three_shifts_are_on_duty() {
        let p = ShiftPolicy::default();
        let names: Vec<_> = p.on_duty(cst(16, 0)).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["day", "day-late", "night"]);
        let names: Vec<_> = p.on_duty(cst(7, 59)).into_iter().map(|s| s.name).collect();
        assert!(names.is_empty(), "nobody works before 08:00: {names:?}");
    }

    #[test]
    fn the_night_shift_ends_at_midnight_local_time() {
        let p = ShiftPolicy::default();
        let night = p.instance(p.pattern("night").unwrap(), p.local_date(cst(16, 0)));
        assert_eq!(night.starts_at, cst(15, 0));
        assert_eq!(
            night.ends_at.as_millis() - night.starts_at.as_millis(),
            9 * 3600 * 1000
        );
    }

    #[test]
    fn a_handover_at_five_pm_closes_the_day_shift() {
        let p = ShiftPolicy::default();
        assert_eq!(p.handing_over(cst(16, 50)).unwrap().name, "day");
        assert_eq!(p.handing_over(cst(17, 40)).unwrap().name, "day-late");
        assert_eq!(p.handing_over(cst(23, 55)).unwrap().name, "night");
        assert!(p.handing_over(cst(5, 0)).is_none());
    }

    #[test]
    fn periods_are_counted_in_local_time() {
        let p = ShiftPolicy::default();
        // 07:30 on the 15th in Shanghai is still the 14th in UTC: the local day counts.
        assert_eq!(p.period_of(Period::Day, cst(7, 30)).1, "2027-01-15");
        assert_eq!(p.period_of(Period::Week, cst(7, 30)).1, "2027-W02");
        assert_eq!(
            p.period_of(Period::Week, cst(7, 30)).0,
            NaiveDate::from_ymd_opt(2027, 1, 11).unwrap()
        );
        assert_eq!(p.period_of(Period::Month, cst(7, 30)).1, "2027-01");
    }

    #[test]
    fn a_dst_gap_moves_a_shift_start_to_the_first_valid_instant() {
        let p = ShiftPolicy {
            time_zone: chrono_tz::America::New_York,
            patterns: vec![ShiftPattern {
                name: "early".into(),
                window: TimeWindow::parse("02:30-10:00").unwrap(),
            }],
        };
        // 2027-03-14: clocks go from 02:00 to 03:00 in New York.
        let s = p.instance(
            &p.patterns[0],
            NaiveDate::from_ymd_opt(2027, 3, 14).unwrap(),
        );
        let start = chrono_tz::America::New_York
            .with_ymd_and_hms(2027, 3, 14, 3, 0, 0)
            .unwrap();
        assert_eq!(s.starts_at.as_millis(), start.timestamp_millis());
    }
}
