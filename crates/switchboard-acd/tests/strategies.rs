//! Routing strategies, member priority tiers, skills, overflow and call-back offers.

// Helpers outside #[test] functions unwrap too; a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use switchboard_acd::{
    AgentStatus, CallbackReason, CancelReason, ChangeReason, EndCause, Input, MaxWaitAction,
    Member, NewCall, Output, QueueConfig, Strategy, TaskOwner,
};
use switchboard_core::{QueueId, Seconds};

fn with_strategy(strategy: Strategy, members: &[&str]) -> switchboard_acd::Acd {
    acd_with(
        QueueConfig {
            strategy,
            wrap_up: Seconds(0),
            ..QueueConfig::default()
        },
        members,
    )
}

/// Answers and ends `n` at once so the agent is ready again.
fn serve(acd: &mut switchboard_acd::Acd, n: u32, name: &str, now: switchboard_core::Timestamp) {
    answer(acd, n, name, now);
    acd.handle(
        Input::CallEnded {
            call: call(n),
            cause: EndCause::Normal,
        },
        now,
    )
    .unwrap();
}

fn first_offered(acd: &mut switchboard_acd::Acd) -> String {
    let out = drain(acd);
    let (_, agents) = offers(&out).remove(0);
    agents[0].to_string()
}

#[test]
fn round_robin_takes_members_in_turn() {
    let mut acd = with_strategy(Strategy::RoundRobin, &["a1", "a2", "a3"]);
    let mut order = Vec::new();
    for n in 1..=4 {
        arrive(&mut acd, n, at(u64::from(n)));
        order.push(first_offered(&mut acd));
        serve(&mut acd, n, order.last().unwrap(), at(u64::from(n)));
    }
    assert_eq!(order, ["a1", "a2", "a3", "a1"]);
}

#[test]
fn longest_idle_sends_the_next_call_to_whoever_waited_longest() {
    let mut acd = with_strategy(Strategy::LongestIdle, &["a1", "a2", "a3"]);
    let mut order = Vec::new();
    for n in 1..=4 {
        arrive(&mut acd, n, at(u64::from(n)));
        order.push(first_offered(&mut acd));
        serve(&mut acd, n, order.last().unwrap(), at(u64::from(n)));
    }
    // a1 finished call 1 at 1 s, later than a2 and a3 became ready: a2, a3, then a1 again.
    assert_eq!(order, ["a1", "a2", "a3", "a1"]);
}

#[test]
fn fewest_calls_prefers_the_agent_who_answered_least() {
    let mut acd = with_strategy(Strategy::FewestCalls, &["a1", "a2"]);
    // a2 answers two calls while a1 is not ready.
    acd.handle(
        Input::SetNotReady {
            agent: agent("a1"),
            reason: switchboard_acd::NotReadyReason::Break,
        },
        t0(),
    )
    .unwrap();
    for n in 1..=2 {
        arrive(&mut acd, n, at(u64::from(n)));
        assert_eq!(first_offered(&mut acd), "a2");
        serve(&mut acd, n, "a2", at(u64::from(n)));
    }
    // a1 comes back later (so is idle for less time) but has answered fewer calls.
    acd.handle(Input::SetReady { agent: agent("a1") }, at(50))
        .unwrap();
    arrive(&mut acd, 3, at(60));
    assert_eq!(first_offered(&mut acd), "a1");
}

#[test]
fn ring_all_rings_everyone_and_the_first_answer_wins() {
    let mut acd = with_strategy(Strategy::RingAll, &["a1", "a2", "a3"]);
    arrive(&mut acd, 1, t0());
    let out = drain(&mut acd);
    assert_eq!(
        offers(&out),
        vec![(call(1), vec![agent("a1"), agent("a2"), agent("a3")])]
    );
    answer(&mut acd, 1, "a2", at(4));
    let out = drain(&mut acd);
    let mut cancelled = cancels(&out);
    cancelled.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        cancelled,
        vec![
            (call(1), agent("a1"), CancelReason::AnsweredElsewhere),
            (call(1), agent("a3"), CancelReason::AnsweredElsewhere),
        ]
    );
    assert_eq!(status(&acd, "a1"), AgentStatus::Ready);
    assert_eq!(status(&acd, "a2"), AgentStatus::OnCall);
    // A late answer from a loser is refused.
    assert!(
        acd.handle(
            Input::OfferAnswered {
                call: call(1),
                agent: agent("a3")
            },
            at(5)
        )
        .is_err()
    );
}

#[test]
fn skills_based_routing_picks_the_most_skilled_eligible_agent() {
    let mut acd = with_strategy(Strategy::SkillsBased, &[]);
    for (name, level) in [("novice", 1u8), ("expert", 9), ("middling", 5)] {
        acd.handle(
            Input::AddMember {
                queue: sales(),
                member: Member::new(name, "paris").with_skill("billing", level),
            },
            t0(),
        )
        .unwrap();
        acd.handle(
            Input::AgentLogin {
                agent: agent(name),
                ready: true,
            },
            t0(),
        )
        .unwrap();
    }
    let mut billing = NewCall::new(call(1), sales(), caller(1));
    billing.skills.insert("billing".to_owned(), 3);
    acd.handle(Input::CallArrived(billing), at(1)).unwrap();
    assert_offered(&drain(&mut acd), 1, "expert");
}

#[test]
fn a_call_needing_a_skill_never_rings_an_agent_without_it() {
    let mut acd = queue_with(&["plain"]);
    let mut french = NewCall::new(call(1), sales(), caller(1));
    french.skills.insert("french".to_owned(), 1);
    acd.handle(Input::CallArrived(french), t0()).unwrap();
    assert!(offers(&drain(&mut acd)).is_empty());
    acd.handle(
        Input::AddMember {
            queue: sales(),
            member: Member::new("marie", "lyon").with_skill("french", 4),
        },
        at(5),
    )
    .unwrap();
    acd.handle(
        Input::AgentLogin {
            agent: agent("marie"),
            ready: true,
        },
        at(6),
    )
    .unwrap();
    assert_offered(&drain(&mut acd), 1, "marie");
}

#[test]
fn second_line_members_get_calls_only_when_the_first_line_is_busy() {
    let mut acd = queue_with(&[]);
    for (name, prio) in [("backup", 1u8), ("front", 0)] {
        acd.handle(
            Input::AddMember {
                queue: sales(),
                member: Member::new(name, "paris").with_priority(prio),
            },
            t0(),
        )
        .unwrap();
        acd.handle(
            Input::AgentLogin {
                agent: agent(name),
                ready: true,
            },
            t0(),
        )
        .unwrap();
    }
    drain(&mut acd);
    arrive(&mut acd, 1, at(1));
    assert_offered(&drain(&mut acd), 1, "front");
    arrive(&mut acd, 2, at(2));
    assert_offered(&drain(&mut acd), 2, "backup");
}

#[test]
fn call_overflows_to_another_queue_after_the_maximum_wait() {
    let mut acd = queue_with(&[]);
    let overflow = QueueId::from("overflow");
    acd.handle(
        Input::ConfigureQueue {
            queue: overflow.clone(),
            config: QueueConfig::default(),
        },
        t0(),
    )
    .unwrap();
    acd.handle(
        Input::ConfigureQueue {
            queue: sales(),
            config: QueueConfig {
                max_wait: Some(Seconds(90)),
                on_max_wait: MaxWaitAction::Overflow(overflow.clone()),
                ..QueueConfig::default()
            },
        },
        t0(),
    )
    .unwrap();
    acd.handle(
        Input::AddMember {
            queue: overflow.clone(),
            member: Member::new("helper", "paris"),
        },
        t0(),
    )
    .unwrap();
    arrive(&mut acd, 1, t0());
    acd.handle_timeout(at(60)).unwrap();
    drain(&mut acd);
    acd.handle_timeout(at(90)).unwrap();
    assert_eq!(
        drain(&mut acd),
        vec![Output::Overflow {
            call: call(1),
            from: sales(),
            to: overflow.clone()
        }]
    );
    acd.handle(
        Input::AgentLogin {
            agent: agent("helper"),
            ready: true,
        },
        at(95),
    )
    .unwrap();
    let out = drain(&mut acd);
    assert_offered(&out, 1, "helper");
    assert_eq!(acd.queue(&sales()).unwrap().counters.overflowed_out, 1);
    assert_eq!(acd.queue(&overflow).unwrap().counters.offered, 1);
}

#[test]
fn after_the_maximum_wait_the_caller_is_offered_a_call_back_and_can_accept_it() {
    let mut acd = acd_with(
        QueueConfig {
            max_wait: Some(Seconds(120)),
            on_max_wait: MaxWaitAction::OfferCallback,
            ..QueueConfig::default()
        },
        &[],
    );
    arrive(&mut acd, 1, t0());
    acd.handle_timeout(at(60)).unwrap();
    drain(&mut acd);
    assert_eq!(acd.poll_timeout(), Some(at(120)));
    acd.handle_timeout(at(120)).unwrap();
    assert_eq!(
        drain(&mut acd),
        vec![Output::OfferCallback {
            call: call(1),
            queue: sales()
        }]
    );
    acd.handle(Input::CallbackAccepted { call: call(1) }, at(125))
        .unwrap();
    assert_eq!(
        drain(&mut acd),
        vec![Output::CallbackTaskNeeded {
            call: call(1),
            caller: caller(1),
            owner: TaskOwner::Queue(sales()),
            reason: CallbackReason::Requested,
            at: at(125)
        }]
    );
    assert!(acd.call(&call(1)).is_none());
}

#[test]
fn missed_offer_goes_to_a_fresh_agent_before_coming_back() {
    let mut acd = queue_with(&["a1", "a2"]);
    arrive(&mut acd, 1, t0());
    assert_offered(&drain(&mut acd), 1, "a1");
    acd.handle_timeout(at(20)).unwrap();
    let out = drain(&mut acd);
    assert_offered(&out, 1, "a2");
    // a1 kept their idle place, so a new call goes to a1.
    arrive(&mut acd, 2, at(21));
    assert_offered(&drain(&mut acd), 2, "a1");
    assert_eq!(
        change_of(&out, "a1"),
        Some((AgentStatus::Ready, ChangeReason::RingTimeout))
    );
}
