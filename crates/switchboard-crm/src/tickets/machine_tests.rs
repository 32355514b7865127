//! The ticket clock against the service rules, with the clock moved by hand.

use std::time::Duration;

use super::*;

fn t0() -> Timestamp {
    Timestamp::from_secs(1_800_000_000)
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

fn agent(name: &str) -> UserId {
    UserId::from(name)
}

fn new_ticket() -> TicketClock {
    let policy = Arc::new(TicketPolicy::default());
    let snap = TicketSnapshot::new(&policy, t0());
    TicketClock::restore(policy, snap)
}

fn drain(clock: &mut TicketClock) -> Vec<Output> {
    std::iter::from_fn(|| clock.poll_output()).collect()
}

fn kinds(outputs: &[Output]) -> Vec<&'static str> {
    outputs.iter().map(Output::kind).collect()
}

#[test]
fn unanswered_ticket_is_flagged_overdue_after_twelve_hours() {
    let mut clock = new_ticket();
    assert_eq!(clock.poll_timeout(), Some(t0() + hours(12)));
    clock.handle_timeout(t0() + hours(12) - Duration::from_millis(1));
    assert!(drain(&mut clock).is_empty());
    assert!(!clock.snapshot().overdue);

    clock.handle_timeout(t0() + hours(12));
    let out = drain(&mut clock);
    assert_eq!(
        out,
        vec![Output::Overdue {
            due_at: t0() + hours(12),
            at: t0() + hours(12)
        }]
    );
    assert!(clock.snapshot().overdue);
    // Flagged once: the next deadline is the escalation, not the reply again.
    assert_eq!(clock.poll_timeout(), Some(t0() + hours(24)));
}

#[test]
fn open_ticket_goes_to_the_shift_lead_after_24_hours_then_to_the_manager() {
    let mut clock = new_ticket();
    clock.handle_timeout(t0() + hours(12));
    clock.handle_timeout(t0() + hours(24));
    let out = drain(&mut clock);
    assert_eq!(kinds(&out), ["overdue", "escalated"]);
    assert_eq!(
        out[1],
        Output::Escalated {
            level: 1,
            to: "shift_lead".into(),
            due_at: t0() + hours(24),
            at: t0() + hours(24)
        }
    );
    assert_eq!(clock.poll_timeout(), Some(t0() + hours(48)));

    clock.handle_timeout(t0() + hours(48));
    let out = drain(&mut clock);
    assert_eq!(kinds(&out), ["escalated"]);
    assert!(matches!(&out[0], Output::Escalated { level: 2, to, .. } if to == "manager"));
    assert_eq!(clock.snapshot().escalation_level, 2);
    assert_eq!(clock.snapshot().escalated_to.as_deref(), Some("manager"));
    // The ladder is exhausted: nothing more to wait for.
    assert_eq!(clock.poll_timeout(), None);
}

#[test]
fn a_late_sweep_records_every_missed_step_in_order() {
    let mut clock = new_ticket();
    clock.handle_timeout(t0() + hours(72));
    let out = drain(&mut clock);
    assert_eq!(kinds(&out), ["overdue", "escalated", "escalated"]);
    let dues: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Escalated { due_at, .. } => Some(*due_at),
            _ => None,
        })
        .collect();
    assert_eq!(dues, [t0() + hours(24), t0() + hours(48)]);
}

#[test]
fn taking_the_ticket_in_time_prevents_overdue_but_not_escalation() {
    let mut clock = new_ticket();
    clock
        .handle(Input::Take { agent: agent("a1") }, t0() + hours(1))
        .unwrap();
    assert_eq!(kinds(&drain(&mut clock)), ["taken"]);
    assert_eq!(clock.snapshot().state, TicketState::InProgress);
    assert_eq!(clock.poll_timeout(), Some(t0() + hours(24)));
    clock.handle_timeout(t0() + hours(24));
    assert_eq!(kinds(&drain(&mut clock)), ["escalated"]);
    assert!(!clock.snapshot().overdue);
}

#[test]
fn the_first_agent_to_take_a_ticket_owns_it() {
    let mut clock = new_ticket();
    clock
        .handle(Input::Take { agent: agent("a1") }, t0())
        .unwrap();
    let err = clock
        .handle(Input::Take { agent: agent("a2") }, t0())
        .unwrap_err();
    assert_eq!(err, TicketError::AlreadyOwned { owner: agent("a1") });
    assert_eq!(clock.snapshot().owner, Some(agent("a1")));
}

#[test]
fn taking_after_the_reply_time_records_overdue_before_taken() {
    let mut clock = new_ticket();
    clock
        .handle(Input::Take { agent: agent("a1") }, t0() + hours(13))
        .unwrap();
    assert_eq!(kinds(&drain(&mut clock)), ["overdue", "taken"]);
}

#[test]
fn resolving_requests_a_follow_up_call_and_stops_the_clock() {
    let mut clock = new_ticket();
    clock
        .handle(Input::Take { agent: agent("a1") }, t0())
        .unwrap();
    let resolve = Input::Resolve {
        by: agent("a1"),
        note: "refunded".into(),
    };
    clock.handle(resolve, t0() + hours(2)).unwrap();
    let out = drain(&mut clock);
    assert_eq!(kinds(&out), ["taken", "resolved", "follow_up_task"]);
    assert_eq!(
        out[2],
        Output::FollowUpTask {
            owner: Some(agent("a1")),
            due_at: t0() + hours(2) + hours(72),
            at: t0() + hours(2)
        }
    );
    assert_eq!(clock.poll_timeout(), None);
    clock.handle_timeout(t0() + hours(100));
    assert!(drain(&mut clock).is_empty());
}

#[test]
fn full_life_open_to_closed_with_judgment() {
    let mut clock = new_ticket();
    let a1 = agent("a1");
    clock
        .handle(Input::Take { agent: a1.clone() }, t0())
        .unwrap();
    clock
        .handle(
            Input::Resolve {
                by: a1.clone(),
                note: String::new(),
            },
            t0(),
        )
        .unwrap();
    clock
        .handle(
            Input::FollowUpDone {
                by: a1.clone(),
                note: "satisfied".into(),
            },
            t0(),
        )
        .unwrap();
    assert_eq!(
        clock.handle(Input::Close { by: a1.clone() }, t0()),
        Err(TicketError::NotJudged)
    );
    let judge = Input::Judge {
        by: a1.clone(),
        stands: true,
        team: Some(" logistics ".into()),
    };
    clock.handle(judge, t0()).unwrap();
    clock.handle(Input::Close { by: a1 }, t0()).unwrap();
    let s = clock.snapshot();
    assert_eq!(s.state, TicketState::Closed);
    assert_eq!(s.stands, Some(true));
    assert_eq!(s.responsible_team.as_deref(), Some("logistics"));
}

#[test]
fn a_complaint_that_stands_needs_a_responsible_team() {
    let mut clock = new_ticket();
    let judge = |team: Option<&str>| Input::Judge {
        by: agent("s1"),
        stands: true,
        team: team.map(String::from),
    };
    assert_eq!(
        clock.handle(judge(None), t0()),
        Err(TicketError::TeamRequired)
    );
    assert_eq!(
        clock.handle(judge(Some("  ")), t0()),
        Err(TicketError::TeamRequired)
    );
    let not_standing = Input::Judge {
        by: agent("s1"),
        stands: false,
        team: None,
    };
    clock.handle(not_standing, t0()).unwrap();
    assert_eq!(clock.snapshot().stands, Some(false));
}

#[test]
fn steps_out_of_order_are_refused_without_changing_the_ticket() {
    let mut clock = new_ticket();
    let before = clock.snapshot().clone();
    for input in [
        Input::Resolve {
            by: agent("a1"),
            note: String::new(),
        },
        Input::FollowUpDone {
            by: agent("a1"),
            note: String::new(),
        },
        Input::Close { by: agent("a1") },
    ] {
        assert!(matches!(
            clock.handle(input, t0()),
            Err(TicketError::WrongState {
                state: TicketState::Open,
                ..
            })
        ));
    }
    assert_eq!(clock.snapshot(), &before);
}

#[test]
fn ladder_and_hours_come_from_the_policy() {
    let policy = Arc::new(TicketPolicy::from_hours(
        2,
        6,
        vec!["lead".into(), "head".into(), "director".into()],
        1,
    ));
    let mut clock = TicketClock::restore(policy.clone(), TicketSnapshot::new(&policy, t0()));
    assert_eq!(clock.poll_timeout(), Some(t0() + hours(2)));
    clock.handle_timeout(t0() + hours(18));
    let rungs: Vec<String> = drain(&mut clock)
        .into_iter()
        .filter_map(|o| match o {
            Output::Escalated { to, .. } => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(rungs, ["lead", "head", "director"]);
}

#[test]
fn states_and_emotions_round_trip_and_unknown_values_are_errors() {
    for s in [
        TicketState::Open,
        TicketState::InProgress,
        TicketState::Resolved,
        TicketState::FollowedUp,
        TicketState::Closed,
    ] {
        assert_eq!(TicketState::parse(s.as_str()), Ok(s));
    }
    for e in [
        Emotion::Angry,
        Emotion::Anxious,
        Emotion::Sad,
        Emotion::Loud,
        Emotion::Calm,
    ] {
        assert_eq!(Emotion::parse(e.as_str()), Ok(e));
    }
    assert!(TicketState::parse("reopened").is_err());
    assert!(Emotion::parse("happy").is_err());
}
