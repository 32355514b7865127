use std::time::Duration;

use switchboard_core::{AgentId, CallId, E164, TaskId, Timestamp};

use super::{Dialer, DialerError};
use crate::config::Mode;
use crate::config::tests::config;
use crate::event::{
    AgentState, Candidate, FailCause, Input, Originate, Output, ReleaseReason, SwitchReason,
};

const DAY_MS: i64 = 86_400_000;

/// 10:00 UTC on a weekday: far from the day boundary.
fn t0() -> Timestamp {
    Timestamp::from_millis(20_454 * DAY_MS + 10 * 3_600_000)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn number(i: u32) -> E164 {
    E164::parse(&format!("+4477009{i:05}")).expect("valid test number")
}

fn candidate(i: u32, now: Timestamp) -> Candidate {
    Candidate {
        task: TaskId::from(format!("task-{i}")),
        number: number(i),
        customer: None,
        allowed_from: now,
        allowed_until: now + secs(8 * 3600),
    }
}

fn agent(name: &str) -> AgentId {
    AgentId::from(name)
}

fn dialer(mode: Mode) -> Dialer {
    Dialer::new(config(mode)).expect("valid config")
}

fn ready(d: &mut Dialer, name: &str, now: Timestamp) {
    d.handle(
        Input::Agent {
            agent: agent(name),
            state: AgentState::Ready,
        },
        now,
    )
    .expect("agent state is always accepted");
}

fn add(d: &mut Dialer, from: u32, count: u32, now: Timestamp) {
    for i in from..from + count {
        d.handle(Input::AddCandidate(candidate(i, now)), now)
            .expect("fresh candidate");
    }
}

fn drain(d: &mut Dialer) -> Vec<Output> {
    std::iter::from_fn(|| d.poll_output()).collect()
}

fn originates(outs: &[Output]) -> Vec<Originate> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Originate(o) => Some(o.clone()),
            _ => None,
        })
        .collect()
}

/// Runs calls one at a time with one agent until `n` were answered and connected, one in four
/// answered like the benchmark's customers, so that the budget has live answers to allow
/// abandons from and the statistics look like a real campaign. Returns the time afterwards.
fn live_answers(d: &mut Dialer, n: u32, mut now: Timestamp) -> Timestamp {
    ready(d, "warm", now);
    let mut answered = 0;
    let mut i = 0;
    while answered < n {
        add(d, 100_000 + i, 1, now);
        for o in originates(&drain(d)) {
            if i % 4 == 0 {
                now += secs(6);
                d.handle(
                    Input::Answered {
                        call: o.call.clone(),
                    },
                    now,
                )
                .expect("ringing call");
                answered += 1;
                now += secs(60);
                d.handle(Input::Ended { call: o.call }, now)
                    .expect("connected");
                ready(d, "warm", now);
            } else {
                now += secs(3);
                d.handle(
                    Input::Failed {
                        call: o.call,
                        cause: FailCause::Busy,
                    },
                    now,
                )
                .expect("ringing call");
            }
        }
        i += 1;
    }
    d.handle(
        Input::Agent {
            agent: agent("warm"),
            state: AgentState::LoggedOut,
        },
        now,
    )
    .expect("log out");
    drain(d);
    now
}

/// Three free agents and plenty of numbers after a warm-up: the dialer dials ahead.
fn predictive_with_three_free_agents() -> (Dialer, Timestamp, Vec<Originate>) {
    let mut d = dialer(Mode::Predictive);
    let now = live_answers(&mut d, 300, t0());
    add(&mut d, 1, 50, now);
    for a in ["a1", "a2", "a3"] {
        ready(&mut d, a, now);
    }
    let calls = originates(&drain(&mut d));
    assert!(
        calls.len() >= 4,
        "dials ahead of three agents, got {}",
        calls.len()
    );
    (d, now, calls)
}

#[test]
fn progressive_places_one_call_per_ready_agent_with_the_agent_reserved() {
    let mut d = dialer(Mode::Progressive);
    add(&mut d, 1, 10, t0());
    ready(&mut d, "a1", t0());
    ready(&mut d, "a2", t0());
    let calls = originates(&drain(&mut d));
    assert_eq!(calls.len(), 2);
    let mut reserved: Vec<_> = calls
        .iter()
        .filter_map(|c| c.reserved_agent.clone())
        .collect();
    reserved.sort();
    assert_eq!(reserved, vec![agent("a1"), agent("a2")]);
    assert!(calls.iter().all(|c| c.ring_timeout >= secs(15)));
    assert_eq!(calls[0].caller_id.as_str(), "+442071234567");
}

#[test]
fn unanswered_call_rings_the_full_timeout_then_is_cancelled_and_the_agent_gets_the_next() {
    let mut d = dialer(Mode::Progressive);
    add(&mut d, 1, 2, t0());
    ready(&mut d, "a1", t0());
    let first = originates(&drain(&mut d)).remove(0);
    assert_eq!(d.poll_timeout(), Some(t0() + secs(20)));
    d.handle_timeout(t0() + secs(19));
    assert!(
        drain(&mut d).is_empty(),
        "nothing happens before the ring timeout"
    );
    d.handle_timeout(t0() + secs(20));
    let outs = drain(&mut d);
    assert!(outs.contains(&Output::CancelNoAnswer {
        call: first.call.clone(),
        task: first.task.clone()
    }));
    let next = originates(&outs);
    assert_eq!(next.len(), 1, "the next number is dialled at once");
    assert_eq!(next[0].reserved_agent, Some(agent("a1")));
    assert_ne!(next[0].task, first.task);
}

#[test]
fn answered_progressive_call_is_bridged_to_its_reserved_agent() {
    let mut d = dialer(Mode::Progressive);
    add(&mut d, 1, 1, t0());
    ready(&mut d, "a1", t0());
    let call = originates(&drain(&mut d)).remove(0);
    d.handle(
        Input::Answered {
            call: call.call.clone(),
        },
        t0() + secs(7),
    )
    .expect("ringing");
    let outs = drain(&mut d);
    assert_eq!(
        outs,
        vec![Output::Connect {
            call: call.call,
            agent: agent("a1"),
            task: call.task,
            customer: None
        }]
    );
    assert_eq!(d.counters().connected, 1);
}

#[test]
fn a_busy_number_frees_the_reserved_agent_for_the_next_number() {
    let mut d = dialer(Mode::Progressive);
    add(&mut d, 1, 2, t0());
    ready(&mut d, "a1", t0());
    let call = originates(&drain(&mut d)).remove(0);
    d.handle(
        Input::Failed {
            call: call.call,
            cause: FailCause::Busy,
        },
        t0() + secs(3),
    )
    .expect("ringing");
    assert_eq!(originates(&drain(&mut d)).len(), 1);
}

#[test]
fn predictive_places_no_speculative_call_before_the_day_has_live_answers() {
    let mut d = dialer(Mode::Predictive);
    add(&mut d, 1, 50, t0());
    ready(&mut d, "a1", t0());
    ready(&mut d, "a2", t0());
    let outs = drain(&mut d);
    assert_eq!(originates(&outs).len(), 2, "only one call per free agent");
    assert!(outs.contains(&Output::SwitchMode {
        to: Mode::Progressive,
        reason: SwitchReason::BudgetExhausted
    }));
}

#[test]
fn predictive_dials_ahead_of_agents_once_the_budget_allows() {
    let (d, now, calls) = predictive_with_three_free_agents();
    assert!(d.budget().slack(now) >= 8);
    assert!(calls.iter().all(|c| c.reserved_agent.is_none()));
    assert_eq!(d.pacing_mode(), Mode::Predictive);
}

#[test]
fn speculative_calls_never_exceed_the_budget_slack() {
    let mut d = dialer(Mode::Predictive);
    let now = live_answers(&mut d, 100, t0());
    let slack = d.budget().slack(now);
    assert_eq!(slack, 3, "3 % of 100 live answers");
    add(&mut d, 1, 50, now);
    for a in ["a1", "a2", "a3", "a4", "a5", "a6"] {
        ready(&mut d, a, now);
    }
    let placed = originates(&drain(&mut d)).len();
    assert!(placed > 6, "the pacing wants more than the agents");
    assert!(
        placed <= 6 + 3,
        "six backed calls plus at most 3 speculative, got {placed}"
    );
}

/// Answers four of the calls at once with three agents free: one is left waiting.
fn four_answers(d: &mut Dialer, calls: &[Originate], at: Timestamp) {
    for c in &calls[..4] {
        d.handle(
            Input::Answered {
                call: c.call.clone(),
            },
            at,
        )
        .expect("ringing");
    }
}

#[test]
fn answered_call_with_no_free_agent_is_abandoned_after_two_seconds_with_the_message() {
    let (mut d, now, calls) = predictive_with_three_free_agents();
    let at = now + secs(5);
    four_answers(&mut d, &calls, at);
    let outs = drain(&mut d);
    assert_eq!(
        outs.iter()
            .filter(|o| matches!(o, Output::Connect { .. }))
            .count(),
        3
    );
    d.handle_timeout(at + secs(1));
    assert!(
        drain(&mut d)
            .iter()
            .all(|o| !matches!(o, Output::Abandon { .. }))
    );
    assert_eq!(d.poll_timeout().map(|t| t <= at + secs(2)), Some(true));
    d.handle_timeout(at + secs(2));
    let outs = drain(&mut d);
    let (call, answered_at, message) = outs
        .iter()
        .find_map(|o| match o {
            Output::Abandon {
                call,
                answered_at,
                message,
                ..
            } => Some((call.clone(), *answered_at, message.clone())),
            _ => None,
        })
        .expect("the fourth answer is abandoned");
    assert_eq!(call, calls[3].call);
    assert_eq!(answered_at, at);
    let message = message.expect("the customer hears the message");
    assert_eq!(message.wav, "prompts/abandoned.wav");
    assert_eq!(d.budget().today(at).abandoned, 1);
    assert_eq!(d.counters().abandoned, 1);
}

#[test]
fn answered_call_takes_an_agent_who_frees_up_within_two_seconds() {
    let (mut d, now, calls) = predictive_with_three_free_agents();
    let at = now + secs(5);
    four_answers(&mut d, &calls, at);
    drain(&mut d);
    ready(&mut d, "a4", at + Duration::from_millis(1500));
    let outs = drain(&mut d);
    assert!(outs.contains(&Output::Connect {
        call: calls[3].call.clone(),
        agent: agent("a4"),
        task: calls[3].task.clone(),
        customer: None
    }));
    d.handle_timeout(at + secs(2));
    assert!(
        drain(&mut d)
            .iter()
            .all(|o| !matches!(o, Output::Abandon { .. }))
    );
}

#[test]
fn an_abandoned_number_is_not_redialled_within_seventy_two_hours() {
    let (mut d, now, calls) = predictive_with_three_free_agents();
    let at = now + secs(5);
    four_answers(&mut d, &calls, at);
    d.handle_timeout(at + secs(2));
    drain(&mut d);
    let abandoned = calls[3].number.clone();
    let retry = Candidate {
        task: TaskId::from("retry"),
        number: abandoned.clone(),
        customer: None,
        allowed_from: at,
        allowed_until: at + secs(100 * 3600),
    };
    let later = at + secs(3600);
    // Hand back every number still waiting, so that the retry is the next one dialled.
    for i in 1..=50 {
        let _ = d.handle(
            Input::WithdrawCandidate(TaskId::from(format!("task-{i}"))),
            later,
        );
    }
    d.handle(Input::AddCandidate(retry), later)
        .expect("new task");
    ready(&mut d, "a9", later);
    let outs = drain(&mut d);
    assert!(originates(&outs).iter().all(|o| o.number != abandoned));
    assert!(outs.contains(&Output::Released {
        task: TaskId::from("retry"),
        reason: ReleaseReason::RecentlyAbandoned {
            until: at + secs(2) + secs(72 * 3600)
        }
    }));
}

#[test]
fn a_number_is_not_dialled_before_its_window_opens_nor_after_it_closes() {
    let mut d = dialer(Mode::Progressive);
    let opens = t0() + secs(600);
    let early = Candidate {
        allowed_from: opens,
        allowed_until: opens + secs(3600),
        ..candidate(1, t0())
    };
    let closed = Candidate {
        allowed_from: t0() - secs(7200),
        allowed_until: t0() - secs(3600),
        ..candidate(2, t0())
    };
    d.handle(Input::AddCandidate(early), t0()).expect("valid");
    d.handle(Input::AddCandidate(closed), t0()).expect("valid");
    ready(&mut d, "a1", t0());
    let outs = drain(&mut d);
    assert!(originates(&outs).is_empty());
    assert!(outs.contains(&Output::Released {
        task: TaskId::from("task-2"),
        reason: ReleaseReason::WindowClosed
    }));
    assert_eq!(
        d.poll_timeout(),
        Some(opens),
        "wakes up when the window opens"
    );
    d.handle_timeout(opens);
    let calls = originates(&drain(&mut d));
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].task, TaskId::from("task-1"));
}

#[test]
fn no_speculative_call_is_placed_so_late_that_it_could_be_abandoned_tomorrow() {
    let midnight = Timestamp::from_millis(20_455 * DAY_MS);
    // A call may ring 20 s and then wait 2 s: placed 30 s before midnight it ends today,
    // placed 20 s before it might be abandoned tomorrow, on a budget that has nothing yet.
    for (at, may_dial_ahead) in [(midnight - secs(30), true), (midnight - secs(20), false)] {
        let mut d = dialer(Mode::Predictive);
        let warm = live_answers(&mut d, 300, at - secs(40_000));
        assert!(warm < at);
        add(&mut d, 1, 50, at);
        for a in ["a1", "a2", "a3"] {
            ready(&mut d, a, at);
        }
        let placed = originates(&drain(&mut d)).len();
        if may_dial_ahead {
            assert!(placed > 3, "dials ahead 30 s before midnight, got {placed}");
        } else {
            assert_eq!(
                placed, 3,
                "only one call per free agent 20 s before midnight"
            );
        }
    }
}

#[test]
fn preview_shows_the_customer_and_dials_when_the_agent_clicks() {
    let mut d = dialer(Mode::Preview);
    add(&mut d, 1, 3, t0());
    ready(&mut d, "a1", t0());
    let outs = drain(&mut d);
    assert!(matches!(
        &outs[..],
        [Output::Preview { agent: a, auto_dial_at: None, .. }] if *a == agent("a1")
    ));
    assert_eq!(d.poll_timeout(), None, "no auto-dial configured");
    d.handle(Input::PreviewDial { agent: agent("a1") }, t0() + secs(30))
        .expect("previewing");
    let calls = originates(&drain(&mut d));
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].reserved_agent, Some(agent("a1")));
}

#[test]
fn preview_dials_by_itself_after_the_configured_delay() {
    let mut cfg = config(Mode::Preview);
    cfg.preview_auto_dial = Some(secs(15));
    let mut d = Dialer::new(cfg).expect("valid");
    add(&mut d, 1, 3, t0());
    ready(&mut d, "a1", t0());
    drain(&mut d);
    assert_eq!(d.poll_timeout(), Some(t0() + secs(15)));
    d.handle_timeout(t0() + secs(15));
    assert_eq!(originates(&drain(&mut d)).len(), 1);
}

#[test]
fn skipping_a_preview_hands_the_customer_back_and_shows_the_next() {
    let mut d = dialer(Mode::Preview);
    add(&mut d, 1, 3, t0());
    ready(&mut d, "a1", t0());
    drain(&mut d);
    d.handle(Input::PreviewSkip { agent: agent("a1") }, t0() + secs(5))
        .expect("previewing");
    let outs = drain(&mut d);
    assert_eq!(
        outs[0],
        Output::Released {
            task: TaskId::from("task-1"),
            reason: ReleaseReason::SkippedByAgent
        }
    );
    assert!(matches!(&outs[1], Output::Preview { task, .. } if *task == TaskId::from("task-2")));
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let mut d = dialer(Mode::Progressive);
    add(&mut d, 1, 1, t0());
    assert_eq!(
        d.handle(Input::AddCandidate(candidate(1, t0())), t0()),
        Err(DialerError::DuplicateTask(TaskId::from("task-1")))
    );
    let empty = Candidate {
        allowed_until: t0(),
        ..candidate(2, t0())
    };
    assert_eq!(
        d.handle(Input::AddCandidate(empty), t0()),
        Err(DialerError::EmptyWindow(TaskId::from("task-2")))
    );
    assert_eq!(
        d.handle(
            Input::Answered {
                call: CallId::from("nope")
            },
            t0()
        ),
        Err(DialerError::UnknownCall(CallId::from("nope")))
    );
    assert_eq!(
        d.handle(Input::PreviewDial { agent: agent("x") }, t0()),
        Err(DialerError::NotPreviewing(agent("x")))
    );
    assert_eq!(
        d.handle(Input::WithdrawCandidate(TaskId::from("zzz")), t0()),
        Err(DialerError::UnknownTask(TaskId::from("zzz")))
    );
    ready(&mut d, "a1", t0());
    let call = originates(&drain(&mut d)).remove(0);
    assert!(matches!(
        d.handle(Input::Ended { call: call.call }, t0()),
        Err(DialerError::WrongCallState { .. })
    ));
}

#[test]
fn a_dialer_with_a_short_ring_timeout_refuses_to_start() {
    let mut cfg = config(Mode::Progressive);
    cfg.ring_timeout = secs(10);
    assert!(matches!(Dialer::new(cfg), Err(DialerError::Config(_))));
}

#[test]
fn switching_to_progressive_keeps_free_agents_for_predictive_calls_still_ringing() {
    let (mut d, now, calls) = predictive_with_three_free_agents();
    d.handle(Input::SetMode(Mode::Progressive), now)
        .expect("mode change");
    let outs = drain(&mut d);
    assert!(outs.contains(&Output::SwitchMode {
        to: Mode::Progressive,
        reason: SwitchReason::Requested
    }));
    assert!(
        originates(&outs).is_empty(),
        "the three agents back the calls ringing"
    );
    // The calls end unanswered: the agents are then used for progressive calls.
    for c in &calls {
        d.handle(
            Input::Failed {
                call: c.call.clone(),
                cause: FailCause::Busy,
            },
            now + secs(3),
        )
        .expect("ringing");
    }
    let next = originates(&drain(&mut d));
    assert_eq!(next.len(), 3);
    assert!(next.iter().all(|o| o.reserved_agent.is_some()));
}

#[test]
fn a_restored_abandon_blocks_the_number_and_restored_days_give_the_budget_back() {
    let mut d = dialer(Mode::Predictive);
    let now = t0();
    let day = d.budget().day_of(now);
    // After a restart: 200 live answers earlier today, and an abandon of number 1 an hour ago
    // (in another campaign, say).
    d.restore(
        [crate::budget::DayCount {
            day,
            live_answered: 200,
            abandoned: 1,
        }],
        [(number(1), now - secs(3600))],
    );
    assert_eq!(d.budget().slack(now), 5, "3 % of 200 = 6, one used");
    add(&mut d, 1, 1, now);
    ready(&mut d, "a1", now);
    let outs = drain(&mut d);
    assert!(
        originates(&outs).is_empty(),
        "number 1 is blocked: {outs:?}"
    );
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Released {
            reason: ReleaseReason::RecentlyAbandoned { .. },
            ..
        }
    )));
}

#[test]
fn an_agent_whose_phone_never_picks_up_turns_the_call_into_an_abandon() {
    let mut d = dialer(Mode::Progressive);
    let now = t0();
    add(&mut d, 1, 1, now);
    ready(&mut d, "a1", now);
    let call = originates(&drain(&mut d))[0].call.clone();
    d.handle(Input::Answered { call: call.clone() }, now + secs(3))
        .expect("ringing call answered");
    assert!(
        drain(&mut d)
            .iter()
            .any(|o| matches!(o, Output::Connect { .. }))
    );
    d.handle(Input::ConnectFailed { call: call.clone() }, now + secs(5))
        .expect("connected call can fail to connect");
    let outs = drain(&mut d);
    assert!(
        outs.iter().any(|o| matches!(
            o,
            Output::Abandon {
                message: Some(_),
                ..
            }
        )),
        "{outs:?}"
    );
    assert_eq!(d.counters().abandoned, 1);
    assert_eq!(d.counters().connected, 0);
    assert_eq!(d.budget().today(now).abandoned, 1);
    assert!(
        d.handle(Input::ConnectFailed { call }, now + secs(6))
            .is_err(),
        "only once"
    );
}
