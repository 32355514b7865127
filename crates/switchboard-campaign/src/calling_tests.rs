use super::*;
use chrono::{NaiveDate, Utc};
use proptest::prelude::*;

fn utc(s: &str) -> Timestamp {
    let dt = chrono::DateTime::parse_from_rfc3339(s).expect("test timestamp");
    Timestamp::from_utc(dt.with_timezone(&Utc))
}

fn zone(name: &str) -> Tz {
    parse_zone(name).expect("test zone")
}

fn policy(windows: &[&str]) -> CallingPolicy {
    let rest = windows
        .iter()
        .map(|w| TimeWindow::parse(w).expect("test window"))
        .collect();
    CallingPolicy::new(rest, []).expect("test policy")
}

/// (zone, policy rest windows, now in UTC, expected next allowed instant in UTC, why)
type Case = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    &'static str,
);

const DEFAULT: &[&str] = &["12:00-14:00", "21:00-09:00"];

const CASES: &[Case] = &[
    // Asia/Shanghai, UTC+8 all year.
    (
        "Asia/Shanghai",
        DEFAULT,
        "2026-03-10T04:30:00Z",
        "2026-03-10T06:00:00Z",
        "lunch 12:30 → 14:00",
    ),
    (
        "Asia/Shanghai",
        DEFAULT,
        "2026-03-10T03:59:59Z",
        "2026-03-10T03:59:59Z",
        "11:59:59 is still allowed",
    ),
    (
        "Asia/Shanghai",
        DEFAULT,
        "2026-03-10T04:00:00Z",
        "2026-03-10T06:00:00Z",
        "12:00 sharp is rest",
    ),
    (
        "Asia/Shanghai",
        DEFAULT,
        "2026-03-10T12:59:00Z",
        "2026-03-10T12:59:00Z",
        "20:59 is the last allowed minute",
    ),
    (
        "Asia/Shanghai",
        DEFAULT,
        "2026-03-10T13:00:00Z",
        "2026-03-11T01:00:00Z",
        "21:00 → 09:00 next morning",
    ),
    (
        "Asia/Shanghai",
        DEFAULT,
        "2026-03-10T00:59:00Z",
        "2026-03-10T01:00:00Z",
        "08:59 → 09:00",
    ),
    // America/New_York: spring forward 2026-03-08 02:00 EST → 03:00 EDT.
    (
        "America/New_York",
        DEFAULT,
        "2026-03-08T13:30:00Z",
        "2026-03-08T13:30:00Z",
        "09:30 EDT allowed on DST day",
    ),
    (
        "America/New_York",
        DEFAULT,
        "2026-03-08T12:30:00Z",
        "2026-03-08T13:00:00Z",
        "08:30 EDT → 09:00 EDT (13:00Z, not 14:00Z)",
    ),
    (
        "America/New_York",
        DEFAULT,
        "2026-03-08T02:00:00Z",
        "2026-03-08T13:00:00Z",
        "21:00 EST the night before → 09:00 EDT",
    ),
    (
        "America/New_York",
        &["00:00-02:30"],
        "2026-03-08T06:30:00Z",
        "2026-03-08T07:00:00Z",
        "02:30 does not exist: first allowed is 03:00 EDT",
    ),
    // America/New_York: fall back 2026-11-01 02:00 EDT → 01:00 EST; 01:00-01:59 happens twice.
    (
        "America/New_York",
        &["22:00-01:30"],
        "2026-11-01T05:10:00Z",
        "2026-11-01T05:30:00Z",
        "01:10 EDT rest → 01:30 EDT",
    ),
    (
        "America/New_York",
        &["22:00-01:30"],
        "2026-11-01T05:45:00Z",
        "2026-11-01T05:45:00Z",
        "01:45 EDT allowed",
    ),
    (
        "America/New_York",
        &["22:00-01:30"],
        "2026-11-01T06:10:00Z",
        "2026-11-01T06:30:00Z",
        "repeated 01:10 EST is rest again → 01:30 EST",
    ),
    (
        "America/New_York",
        DEFAULT,
        "2026-11-01T12:30:00Z",
        "2026-11-01T14:00:00Z",
        "07:30 EST → 09:00 EST (14:00Z)",
    ),
    // Europe/London: 2026-03-29 01:00 GMT → 02:00 BST; 2026-10-25 02:00 BST → 01:00 GMT.
    (
        "Europe/London",
        DEFAULT,
        "2026-03-29T07:59:00Z",
        "2026-03-29T08:00:00Z",
        "08:59 BST → 09:00 BST",
    ),
    (
        "Europe/London",
        DEFAULT,
        "2026-03-28T20:59:00Z",
        "2026-03-28T20:59:00Z",
        "20:59 GMT allowed",
    ),
    (
        "Europe/London",
        DEFAULT,
        "2026-03-28T21:00:00Z",
        "2026-03-29T08:00:00Z",
        "21:00 GMT → 09:00 BST across the change",
    ),
    (
        "Europe/London",
        &["00:00-01:30"],
        "2026-03-29T00:10:00Z",
        "2026-03-29T01:00:00Z",
        "01:30 does not exist: 02:00 BST",
    ),
    (
        "Europe/London",
        DEFAULT,
        "2026-10-24T20:00:00Z",
        "2026-10-25T09:00:00Z",
        "21:00 BST → 09:00 GMT",
    ),
    (
        "Europe/London",
        DEFAULT,
        "2026-10-25T11:00:00Z",
        "2026-10-25T11:00:00Z",
        "11:00 GMT allowed",
    ),
    (
        "Europe/London",
        DEFAULT,
        "2026-10-25T12:00:00Z",
        "2026-10-25T14:00:00Z",
        "12:00 GMT lunch → 14:00 GMT",
    ),
    // Australia/Sydney: 2026-04-05 03:00 AEDT → 02:00 AEST; 2026-10-04 02:00 AEST → 03:00 AEDT.
    (
        "Australia/Sydney",
        DEFAULT,
        "2026-04-04T10:30:00Z",
        "2026-04-04T23:00:00Z",
        "21:30 AEDT → 09:00 AEST",
    ),
    (
        "Australia/Sydney",
        DEFAULT,
        "2026-04-04T22:59:00Z",
        "2026-04-04T23:00:00Z",
        "08:59 AEST → 09:00 AEST",
    ),
    (
        "Australia/Sydney",
        DEFAULT,
        "2026-10-03T21:59:00Z",
        "2026-10-03T22:00:00Z",
        "08:59 AEDT on the DST morning → 09:00 AEDT, not 09:00 AEST",
    ),
    (
        "Australia/Sydney",
        DEFAULT,
        "2026-10-04T21:30:00Z",
        "2026-10-04T22:00:00Z",
        "08:30 AEDT → 09:00 AEDT (22:00Z)",
    ),
    (
        "Australia/Sydney",
        &["01:00-02:30"],
        "2026-10-03T15:10:00Z",
        "2026-10-03T16:00:00Z",
        "02:30 does not exist: 03:00 AEDT",
    ),
    (
        "Australia/Sydney",
        &["22:00-02:30"],
        "2026-04-04T15:45:00Z",
        "2026-04-04T15:45:00Z",
        "02:45 AEDT allowed before the change",
    ),
    (
        "Australia/Sydney",
        &["22:00-02:30"],
        "2026-04-04T16:00:00Z",
        "2026-04-04T16:30:00Z",
        "03:00 AEDT becomes 02:00 AEST: rest again → 02:30 AEST",
    ),
    (
        "Australia/Sydney",
        &["22:00-02:30"],
        "2026-04-04T16:10:00Z",
        "2026-04-04T16:30:00Z",
        "repeated 02:10 AEST is rest → 02:30 AEST",
    ),
];

#[test]
fn next_allowed_time_respects_rest_windows_across_dst_in_four_zones() {
    for (zone_name, windows, now, expected, why) in CASES {
        let tz = zone(zone_name);
        let p = policy(windows);
        let got = p.next_allowed(utc(now), tz).expect("allowed time exists");
        assert_eq!(got, utc(expected), "{zone_name} {why}: got {got}");
        assert!(
            p.is_allowed(got, tz),
            "{zone_name} {why}: result is rest time"
        );
        assert!(
            !p.is_rest_local(local_of(got, tz)),
            "{zone_name} {why}: local time of the result is rest"
        );
    }
}

#[test]
fn allowed_intervals_never_contain_rest_time_minute_by_minute() {
    for zone_name in [
        "Asia/Shanghai",
        "America/New_York",
        "Europe/London",
        "Australia/Sydney",
    ] {
        let tz = zone(zone_name);
        for windows in [DEFAULT, &["22:00-01:30"][..], &["00:00-02:30"][..]] {
            let p = policy(windows);
            for (from, to) in [
                ("2026-03-06T00:00:00Z", "2026-03-31T00:00:00Z"),
                ("2026-04-02T00:00:00Z", "2026-04-07T00:00:00Z"),
                ("2026-10-02T00:00:00Z", "2026-11-03T00:00:00Z"),
            ] {
                let (from, to) = (utc(from), utc(to));
                let intervals = p.allowed_intervals(tz, from, to);
                assert!(!intervals.is_empty());
                let mut minute = from.as_millis();
                while minute < to.as_millis() {
                    let t = Timestamp::from_millis(minute);
                    let inside = intervals.iter().any(|i| i.start <= t && t < i.end);
                    assert_eq!(
                        inside,
                        p.is_allowed(t, tz),
                        "{zone_name} {windows:?} at {t}"
                    );
                    minute += 60_000;
                }
            }
        }
    }
}

#[test]
fn holidays_in_the_customers_calendar_are_skipped_whole() {
    let tz = zone("Australia/Sydney");
    let holiday = NaiveDate::from_ymd_opt(2026, 1, 26).expect("date");
    let p = CallingPolicy::default().with_holidays([holiday]);
    // 2026-01-25 20:00 AEDT, allowed until 21:00; then rest, then the holiday, then 09:00 on the 27th.
    assert!(p.is_allowed(utc("2026-01-25T09:00:00Z"), tz));
    let got = p
        .next_allowed(utc("2026-01-25T10:00:00Z"), tz)
        .expect("allowed time exists");
    assert_eq!(got, utc("2026-01-26T22:00:00Z"));
}

#[test]
fn rest_windows_covering_the_whole_day_are_refused() {
    let rest = vec![
        TimeWindow::parse("09:00-21:00").expect("window"),
        TimeWindow::parse("21:00-09:00").expect("window"),
    ];
    assert_eq!(
        CallingPolicy::new(rest, []),
        Err(CallingError::AlwaysResting)
    );
}

#[test]
fn unknown_zone_names_are_an_error() {
    assert!(matches!(
        parse_zone("Mars/Olympus"),
        Err(CallingError::UnknownZone(_))
    ));
}

#[test]
fn zone_calendar_agrees_with_direct_search() {
    let tz = zone("America/New_York");
    let p = CallingPolicy::default();
    let from = utc("2026-03-06T00:00:00Z");
    let cal = ZoneCalendar::build(&p, tz, from, utc("2026-03-12T00:00:00Z"));
    let mut t = from.as_millis();
    while t < utc("2026-03-11T00:00:00Z").as_millis() {
        let ts = Timestamp::from_millis(t);
        assert_eq!(cal.next_allowed(ts), p.next_allowed(ts, tz).ok(), "at {ts}");
        t += 17 * 60_000;
    }
}

const ZONES: &[&str] = &[
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "America/Santiago",
    "Asia/Tehran",
    "Europe/Berlin",
    "America/St_Johns",
    "Pacific/Apia",
];

fn arb_window() -> impl Strategy<Value = TimeWindow> {
    (0u32..1440, 1u32..1439).prop_map(|(start, len)| {
        let end = (start + len) % 1440;
        TimeWindow::new(
            NaiveTime::from_hms_opt(start / 60, start % 60, 0).expect("minute"),
            NaiveTime::from_hms_opt(end / 60, end % 60, 0).expect("minute"),
        )
        .expect("non-empty")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn next_allowed_is_never_rest_time_and_nothing_earlier_is_allowed(
        zone_idx in 0..ZONES.len(),
        windows in proptest::collection::vec(arb_window(), 1..4),
        // 2020-01-01 .. 2031-01-01
        secs in 1_577_836_800i64..1_924_992_000i64,
    ) {
        let tz = zone(ZONES[zone_idx]);
        let Ok(p) = CallingPolicy::new(windows, []) else { return Ok(()); };
        let t = Timestamp::from_secs(secs);
        let got = p.next_allowed(t, tz).expect("some time of day is free");
        prop_assert!(got >= t);
        prop_assert!(p.is_allowed(got, tz), "landed in rest time at {}", got);
        // Nothing between t and got is allowed: check each minute and the second before.
        let mut probe = t.as_millis();
        while probe < got.as_millis() {
            prop_assert!(!p.is_allowed(Timestamp::from_millis(probe), tz), "missed {}", probe);
            probe += 60_000;
        }
        if got > t {
            prop_assert!(!p.is_allowed(Timestamp::from_millis(got.as_millis() - 1000), tz));
        }
    }
}
