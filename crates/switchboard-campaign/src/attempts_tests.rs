use super::*;
use crate::outcome::Satisfaction;
use crate::task::fixtures::{spec, task};
use chrono_tz::Asia::Shanghai;
use proptest::prelude::*;
use switchboard_core::Seconds;

/// 2026-03-10 10:00 in Shanghai (02:00Z): a Tuesday morning inside the calling window.
fn morning() -> Timestamp {
    Timestamp::from_secs(1_773_108_000)
}

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

fn report() -> CallReport {
    CallReport {
        reached: true,
        talk: Seconds(95),
        purpose_stated: true,
        satisfaction: Some(Satisfaction::Satisfied),
        suggestion: Some("faster delivery".into()),
    }
}

fn record(t: &mut Task, r: DialResult, now: Timestamp) -> Decision {
    t.record_attempt(r, now, &RetryPolicy::default(), &CallingPolicy::default())
        .expect("attempt accepted")
}

#[test]
fn no_answer_dials_the_customers_next_number_at_once() {
    let mut t = task("t1", Shanghai, morning());
    let second = t.numbers()[1].number.clone();
    assert_eq!(
        record(&mut t, DialResult::NoAnswer, morning()),
        Decision::DialNow {
            number: second.clone()
        }
    );
    assert_eq!(t.current_number(), Some(&second));
    assert_eq!(t.attempts(), 1);
}

#[test]
fn after_every_number_fails_the_retry_is_in_another_part_of_the_day() {
    let mut t = task("t1", Shanghai, morning());
    record(&mut t, DialResult::NoAnswer, morning());
    let d = record(&mut t, DialResult::NoAnswer, morning() + mins(1));
    // Morning failed; the lunch rest ends at 14:00 local = 06:00Z, an afternoon slot.
    let expected = Timestamp::from_secs(1_773_122_400);
    assert_eq!(d, Decision::RetryAt { at: expected });
    assert_eq!(t.not_before(), expected);
    assert_eq!(t.current_number(), Some(&t.numbers()[0].number));
    // The afternoon round fails too: next try is the evening (18:00 local), not the afternoon.
    record(&mut t, DialResult::NoAnswer, expected);
    let d = record(&mut t, DialResult::NoAnswer, expected + mins(1));
    assert_eq!(
        d,
        Decision::RetryAt {
            at: Timestamp::from_secs(1_773_136_800)
        }
    );
}

#[test]
fn busy_line_is_retried_after_ten_minutes_on_the_same_number() {
    let mut t = task("t1", Shanghai, morning());
    let first = t.current_number().cloned();
    let d = record(&mut t, DialResult::Busy, morning());
    assert_eq!(
        d,
        Decision::RetryAt {
            at: morning() + mins(10)
        }
    );
    assert_eq!(t.current_number().cloned(), first);
}

#[test]
fn busy_retry_never_lands_in_rest_time() {
    // 11:55 local: ten minutes later is lunch, so the retry waits for 14:00.
    let now = morning() + mins(115);
    let mut t = task("t1", Shanghai, now);
    let d = record(&mut t, DialResult::Busy, now);
    assert_eq!(
        d,
        Decision::RetryAt {
            at: Timestamp::from_secs(1_773_122_400)
        }
    );
}

#[test]
fn a_number_abandoned_by_the_dialer_is_not_called_again_for_72_hours() {
    let mut s = spec("t1", Shanghai, morning());
    s.numbers.truncate(1);
    s.max_attempts = 10;
    let mut t = Task::new(s).expect("task");
    let d = record(&mut t, DialResult::AbandonedByDialer, morning());
    let Decision::RetryAt { at } = d else {
        panic!("expected a retry, got {d:?}");
    };
    assert!(at >= morning() + Duration::from_secs(72 * 3600), "{at}");
    assert!(CallingPolicy::default().is_allowed(at, Shanghai));
}

#[test]
fn abandoned_number_is_skipped_while_another_number_is_dialled_at_once() {
    let mut t = task("t1", Shanghai, morning());
    let second = t.numbers()[1].number.clone();
    let d = record(&mut t, DialResult::AbandonedByDialer, morning());
    assert_eq!(d, Decision::DialNow { number: second });
    // The second also fails: the retry waits until the first number's 72 h are over or uses
    // the second number, never the rested first number early.
    let d = record(&mut t, DialResult::NoAnswer, morning() + mins(1));
    let Decision::RetryAt { at } = d else {
        panic!("expected a retry, got {d:?}");
    };
    let n = &t.numbers()[t.next_number];
    assert!(n.blocked_until.is_none_or(|b| b <= at));
}

#[test]
fn answered_call_closes_the_task_with_its_outcome() {
    let mut t = task("t1", Shanghai, morning());
    assert_eq!(
        record(&mut t, DialResult::Answered(report()), morning()),
        Decision::Done
    );
    assert_eq!(t.state(), TaskState::Done);
    assert_eq!(
        t.last_report().and_then(|r| r.suggestion.as_deref()),
        Some("faster delivery")
    );
    assert!(
        t.record_attempt(
            DialResult::NoAnswer,
            morning(),
            &RetryPolicy::default(),
            &CallingPolicy::default()
        )
        .is_err()
    );
}

#[test]
fn customer_asking_for_a_later_time_books_it_without_using_an_attempt() {
    let mut t = task("t1", Shanghai, morning());
    let at = morning() + Duration::from_secs(2 * 86_400);
    let d = record(
        &mut t,
        DialResult::CallBackLater {
            report: report(),
            at,
        },
        morning(),
    );
    assert_eq!(d, Decision::Booked { at });
    assert_eq!(t.deadline(), at);
    assert_eq!(t.attempts(), 0);
    let lunch = morning() + mins(150);
    let refused = t.record_attempt(
        DialResult::CallBackLater {
            report: report(),
            at: lunch,
        },
        morning(),
        &RetryPolicy::default(),
        &CallingPolicy::default(),
    );
    assert!(refused.is_err());
    assert_eq!(t.booked_at(), Some(at), "a refused booking changes nothing");
}

#[test]
fn key_customer_out_of_attempts_is_escalated_not_dropped() {
    let mut s = spec("t1", Shanghai, morning());
    s.key_customer = true;
    s.max_attempts = 2;
    let mut t = Task::new(s).expect("task");
    record(&mut t, DialResult::NoAnswer, morning());
    let d = record(&mut t, DialResult::NoAnswer, morning() + mins(1));
    assert_eq!(d, Decision::Exhausted { escalate: true });
    assert_eq!(t.state(), TaskState::Exhausted);
}

#[test]
fn invalid_numbers_are_never_dialled_again() {
    let mut t = task("t1", Shanghai, morning());
    record(&mut t, DialResult::InvalidNumber, morning());
    let d = record(&mut t, DialResult::InvalidNumber, morning());
    assert_eq!(d, Decision::Exhausted { escalate: false });
}

#[test]
fn retry_crosses_the_new_york_dst_change_into_another_day_part() {
    let tz = chrono_tz::America::New_York;
    // 2026-03-07 20:30 EST (Sat) = 2026-03-08 01:30Z, evening. Next allowed: Sunday 09:00 EDT.
    let now = Timestamp::from_secs(1_772_933_400);
    let at = retry_in_other_part(now, DayPart::Evening, tz, &CallingPolicy::default())
        .expect("time exists");
    assert_eq!(
        at,
        Timestamp::from_secs(1_772_974_800),
        "09:00 EDT = 13:00Z"
    );
}

fn arb_result() -> impl Strategy<Value = DialResult> {
    prop_oneof![
        6 => Just(DialResult::NoAnswer),
        3 => Just(DialResult::Busy),
        2 => Just(DialResult::AbandonedByDialer),
        1 => Just(DialResult::InvalidNumber),
        1 => Just(DialResult::Answered(report())),
        1 => (1u64..200).prop_map(|h| DialResult::CallBackLater {
            report: report(),
            at: Timestamp::from_secs(1_773_108_000 + (h as i64) * 3600),
        }),
    ]
}

proptest! {
    #[test]
    fn attempts_never_exceed_the_maximum_and_retries_never_land_in_rest_time(
        max in 1u32..8,
        key in any::<bool>(),
        results in proptest::collection::vec(arb_result(), 1..40),
        gaps in proptest::collection::vec(0u64..600, 40),
    ) {
        let mut s = spec("t1", Shanghai, morning());
        s.max_attempts = max;
        s.key_customer = key;
        let mut t = Task::new(s).expect("task");
        let calling = CallingPolicy::default();
        let mut now = morning();
        for (r, gap) in results.into_iter().zip(gaps) {
            let before = t.booked_at();
            match t.record_attempt(r, now, &RetryPolicy::default(), &calling) {
                Ok(Decision::RetryAt { at }) => {
                    prop_assert!(at >= now);
                    prop_assert!(calling.is_allowed(at, Shanghai));
                    now = at;
                }
                Ok(Decision::Booked { at }) => prop_assert_eq!(t.deadline(), at),
                Ok(Decision::Exhausted { escalate }) => {
                    prop_assert_eq!(escalate, key);
                    prop_assert_ne!(t.state(), TaskState::Pending);
                }
                Ok(_) => {}
                Err(_) => prop_assert_eq!(t.booked_at(), before, "an error must change nothing"),
            }
            prop_assert!(t.attempts() <= t.max_attempts(), "{} > {}", t.attempts(), t.max_attempts());
            now += mins(gap);
        }
    }
}
