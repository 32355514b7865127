use super::*;
use crate::calling::Interval;
use crate::campaign::Assignees;
use crate::outcome::{CallReport, Satisfaction};
use crate::task::fixtures::spec;
use crate::template::{CampaignType, Language};
use chrono_tz::Asia::Shanghai;
use switchboard_core::{Clock, ManualClock, Seconds};

/// 2026-03-10 09:00 in Shanghai.
fn t0() -> Timestamp {
    Timestamp::from_secs(1_773_104_400)
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

fn agent(id: &str) -> AgentInput {
    AgentInput {
        id: id.into(),
        queues: vec!["callback".into()],
        shifts: vec![Interval {
            start: t0(),
            end: t0() + hours(9),
        }],
        per_shift_capacity: 100,
        done_in_current_shift: 0,
        quota_gap: 0,
    }
}

fn scheduler(clock: &ManualClock) -> Scheduler {
    let mut s = Scheduler::new(SchedulerConfig::default());
    let c = Campaign::from_template(
        "c1".into(),
        CampaignType::ServiceFollowUp,
        Language::ZhCn,
        Assignees::Queue("callback".into()),
        t0() - hours(1),
        t0() + hours(24 * 30),
    )
    .expect("campaign");
    s.handle(Input::AddCampaign(c), clock.now()).expect("add");
    s.handle(Input::StartCampaign("c1".into()), clock.now())
        .expect("start");
    s.handle(Input::SetAgents(vec![agent("a1")]), clock.now())
        .expect("agents");
    s
}

fn tick(s: &mut Scheduler, clock: &ManualClock) -> Vec<Output> {
    s.handle_timeout(clock.now()).expect("replan");
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn answered(talk: u64) -> DialResult {
    DialResult::Answered(CallReport {
        reached: true,
        talk: Seconds(talk),
        purpose_stated: true,
        satisfaction: Some(Satisfaction::NotSatisfied),
        suggestion: Some("送货太慢".into()),
    })
}

#[test]
fn agent_gets_the_next_task_with_its_script_and_records_an_effective_call() {
    let clock = ManualClock::new(t0());
    let mut s = scheduler(&clock);
    s.handle(Input::AddTask(spec("t1", Shanghai, t0())), clock.now())
        .expect("task");
    assert_eq!(
        s.poll_timeout(),
        Some(t0()),
        "a change asks for a replan now"
    );
    tick(&mut s, &clock);
    let next = s.next_task_for(&"a1".into()).expect("a task");
    assert_eq!(next.task.id(), &TaskId::from("t1"));
    let script = next.task.spec().kind.script(Language::ZhCn);
    assert!(script.satisfaction_question.contains("满意"));

    s.handle(
        Input::Attempt {
            task: "t1".into(),
            agent: Some("a1".into()),
            result: answered(95),
        },
        clock.now(),
    )
    .expect("attempt");
    let out = tick(&mut s, &clock);
    assert!(out.contains(&Output::EffectiveCall {
        task: "t1".into(),
        agent: "a1".into()
    }));
    assert!(out.contains(&Output::TaskClosed {
        task: "t1".into(),
        state: TaskState::Done
    }));
    assert!(s.next_task_for(&"a1".into()).is_none());
}

#[test]
fn a_short_call_is_recorded_but_not_effective() {
    let clock = ManualClock::new(t0());
    let mut s = scheduler(&clock);
    s.handle(Input::AddTask(spec("t1", Shanghai, t0())), clock.now())
        .expect("task");
    s.handle(
        Input::Attempt {
            task: "t1".into(),
            agent: Some("a1".into()),
            result: answered(12),
        },
        clock.now(),
    )
    .expect("attempt");
    let out = tick(&mut s, &clock);
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::EffectiveCall { .. }))
    );
}

#[test]
fn unanswered_task_returns_to_the_agent_in_another_part_of_the_day() {
    let clock = ManualClock::new(t0());
    let mut s = scheduler(&clock);
    s.handle(Input::AddTask(spec("t1", Shanghai, t0())), clock.now())
        .expect("task");
    tick(&mut s, &clock);
    let attempt = |s: &mut Scheduler, now| {
        s.handle(
            Input::Attempt {
                task: "t1".into(),
                agent: Some("a1".into()),
                result: DialResult::NoAnswer,
            },
            now,
        )
    };
    attempt(&mut s, clock.now()).expect("first number");
    let out = tick(&mut s, &clock);
    assert!(
        matches!(out.as_slice(), [Output::DialNow { .. }]),
        "{out:?}"
    );
    attempt(&mut s, clock.now()).expect("second number");
    tick(&mut s, &clock);
    let next = s.next_task_for(&"a1".into()).expect("still planned");
    // Afternoon: 14:00 local (06:00Z), after the lunch rest.
    assert_eq!(next.at, Timestamp::from_secs(1_773_122_400));
}

#[test]
fn stopping_a_campaign_cancels_its_open_tasks() {
    let clock = ManualClock::new(t0());
    let mut s = scheduler(&clock);
    s.handle(Input::AddTask(spec("t1", Shanghai, t0())), clock.now())
        .expect("task");
    s.handle(Input::StopCampaign("c1".into()), clock.now())
        .expect("stop");
    let out = tick(&mut s, &clock);
    assert_eq!(
        out,
        vec![Output::TaskClosed {
            task: "t1".into(),
            state: TaskState::Cancelled
        }]
    );
    assert!(
        s.handle(Input::StartCampaign("c1".into()), clock.now())
            .is_err()
    );
}

#[test]
fn key_customer_escalation_is_reported_once_across_replans() {
    let clock = ManualClock::new(t0());
    let mut s = scheduler(&clock);
    // Due in one hour, but nobody works today.
    s.handle(Input::SetAgents(vec![]), clock.now())
        .expect("agents");
    let mut k = spec("k1", Shanghai, t0() + hours(1) - hours(72));
    k.key_customer = true;
    s.handle(Input::AddTask(k), clock.now()).expect("task");
    let out = tick(&mut s, &clock);
    assert_eq!(
        out,
        vec![Output::Escalate {
            task: "k1".into(),
            reason: EscalationReason::NoAgents,
            deadline: t0() + hours(1)
        }]
    );
    clock.advance(Duration::from_secs(300));
    assert_eq!(s.poll_timeout(), Some(clock.now()));
    assert!(tick(&mut s, &clock).is_empty(), "not repeated");
}

#[test]
fn unknown_ids_are_errors() {
    let clock = ManualClock::new(t0());
    let mut s = scheduler(&clock);
    assert!(matches!(
        s.handle(Input::CancelTask("nope".into()), clock.now()),
        Err(SchedulerError::UnknownTask(_))
    ));
    let mut orphan = spec("t9", Shanghai, t0());
    orphan.campaign = "ghost".into();
    assert!(matches!(
        s.handle(Input::AddTask(orphan), clock.now()),
        Err(SchedulerError::UnknownCampaign(_))
    ));
    s.handle(Input::AddTask(spec("t1", Shanghai, t0())), clock.now())
        .expect("task");
    assert!(matches!(
        s.handle(Input::AddTask(spec("t1", Shanghai, t0())), clock.now()),
        Err(SchedulerError::DuplicateTask(_))
    ));
}
