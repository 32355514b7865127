//! The service rules of inbound queues, one test per rule.

// Helpers outside #[test] functions unwrap too; a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use switchboard_acd::{
    AgentStatus, CallbackReason, CancelReason, ChangeReason, EndCause, Input, NotReadyReason,
    Output, QueueConfig, TaskOwner,
};
use switchboard_core::Seconds;

#[test]
fn longest_idle_agent_gets_the_call() {
    // The fixture makes members ready in order, so a1 has idled longest, then a2.
    let mut acd = queue_with(&["a1", "a2", "a3"]);
    arrive(&mut acd, 1, t0());
    assert_offered(&drain(&mut acd), 1, "a1");
    arrive(&mut acd, 2, t0());
    assert_offered(&drain(&mut acd), 2, "a2");
}

#[test]
fn unanswered_offer_moves_to_next_agent_after_twenty_seconds() {
    let mut acd = queue_with(&["a1", "a2"]);
    arrive(&mut acd, 1, t0());
    assert_offered(&drain(&mut acd), 1, "a1");
    assert_eq!(acd.poll_timeout(), Some(at(20)));

    acd.handle_timeout(at(20) - Duration::from_millis(1))
        .unwrap();
    assert!(
        offers(&drain(&mut acd)).is_empty(),
        "nothing moves before 20 s"
    );

    acd.handle_timeout(at(20)).unwrap();
    let out = drain(&mut acd);
    assert_eq!(
        cancels(&out),
        vec![(call(1), agent("a1"), CancelReason::RingTimeout)]
    );
    assert_offered(&out, 1, "a2");
    assert_eq!(
        change_of(&out, "a1"),
        Some((AgentStatus::Ready, ChangeReason::RingTimeout))
    );
}

#[test]
fn agent_who_misses_two_offers_in_a_row_is_set_not_ready_missed() {
    let mut acd = queue_with(&["a1"]);
    arrive(&mut acd, 1, t0());
    drain(&mut acd);
    acd.handle_timeout(at(20)).unwrap();
    // Only a1 can take it, so the call comes straight back to a1: first miss, still ready.
    let out = drain(&mut acd);
    assert_offered(&out, 1, "a1");
    acd.handle_timeout(at(40)).unwrap();
    let out = drain(&mut acd);
    assert_eq!(
        change_of(&out, "a1"),
        Some((
            AgentStatus::NotReady(NotReadyReason::Missed),
            ChangeReason::MissedOffers
        ))
    );
    assert!(offers(&out).is_empty(), "a not-ready agent gets no offer");
    assert_eq!(acd.agent(&agent("a1")).unwrap().counters.missed, 2);
}

#[test]
fn answering_resets_the_miss_count() {
    let mut acd = acd_with(
        QueueConfig {
            wrap_up: Seconds(0),
            ..QueueConfig::default()
        },
        &["a1"],
    );
    arrive(&mut acd, 1, t0());
    acd.handle_timeout(at(20)).unwrap();
    answer(&mut acd, 1, "a1", at(25));
    acd.handle(
        Input::CallEnded {
            call: call(1),
            cause: EndCause::Normal,
        },
        at(60),
    )
    .unwrap();
    arrive(&mut acd, 2, at(61));
    drain(&mut acd);
    acd.handle_timeout(at(81)).unwrap();
    let reasons: Vec<_> = changes(&drain(&mut acd))
        .into_iter()
        .map(|c| (c.to, c.reason))
        .collect();
    // One miss after an answer is the first of a new count: ready, then offered again.
    assert_eq!(
        reasons,
        vec![
            (AgentStatus::Ready, ChangeReason::RingTimeout),
            (AgentStatus::Ringing, ChangeReason::Offered)
        ]
    );
}

#[test]
fn wrap_up_lasts_thirty_seconds_then_the_agent_is_ready() {
    let mut acd = queue_with(&["a1"]);
    arrive(&mut acd, 1, t0());
    answer(&mut acd, 1, "a1", at(5));
    acd.handle(
        Input::CallEnded {
            call: call(1),
            cause: EndCause::Normal,
        },
        at(100),
    )
    .unwrap();
    assert_eq!(status(&acd, "a1"), AgentStatus::WrapUp);
    assert_eq!(acd.poll_timeout(), Some(at(130)));
    drain(&mut acd);
    arrive(&mut acd, 2, at(110));
    assert!(
        offers(&drain(&mut acd)).is_empty(),
        "no offer during wrap-up"
    );
    acd.handle_timeout(at(130)).unwrap();
    let out = drain(&mut acd);
    assert!(changes(&out).iter().any(|c| c.agent == agent("a1")
        && c.from == AgentStatus::WrapUp
        && c.to == AgentStatus::Ready
        && c.reason == ChangeReason::WrapUpElapsed
        && c.at == at(130)));
    assert_offered(&out, 2, "a1");
}

#[test]
fn agent_may_end_wrap_up_early() {
    let mut acd = queue_with(&["a1"]);
    arrive(&mut acd, 1, t0());
    answer(&mut acd, 1, "a1", at(5));
    acd.handle(
        Input::CallEnded {
            call: call(1),
            cause: EndCause::Normal,
        },
        at(100),
    )
    .unwrap();
    acd.handle(Input::EndWrapUp { agent: agent("a1") }, at(104))
        .unwrap();
    assert_eq!(
        change_of(&drain(&mut acd), "a1"),
        Some((AgentStatus::Ready, ChangeReason::WrapUpEnded))
    );
    assert_eq!(acd.poll_timeout(), None);
}

#[test]
fn caller_waiting_sixty_seconds_raises_one_wait_alert() {
    let mut acd = queue_with(&[]);
    arrive(&mut acd, 1, t0());
    assert_eq!(acd.poll_timeout(), Some(at(60)));
    acd.handle_timeout(at(60)).unwrap();
    let out = drain(&mut acd);
    assert_eq!(
        out,
        vec![Output::WaitAlert {
            call: call(1),
            queue: sales(),
            waited: secs(60)
        }]
    );
    assert_eq!(acd.poll_timeout(), None, "the alert is raised once");
}

#[test]
fn caller_who_hangs_up_while_waiting_gets_a_call_back_task_for_the_queue() {
    let mut acd = queue_with(&[]);
    arrive(&mut acd, 1, t0());
    acd.handle(Input::CallAbandoned { call: call(1) }, at(42))
        .unwrap();
    let out = drain(&mut acd);
    assert_eq!(
        out,
        vec![Output::CallbackTaskNeeded {
            call: call(1),
            caller: caller(1),
            owner: TaskOwner::Queue(sales()),
            reason: CallbackReason::AbandonedWhileWaiting,
            at: at(42),
        }]
    );
    let counters = &acd.queue(&sales()).unwrap().counters;
    assert_eq!((counters.offered, counters.abandoned), (1, 1));
}

#[test]
fn caller_who_hangs_up_while_an_agent_rings_frees_the_agent_without_a_miss() {
    let mut acd = queue_with(&["a1"]);
    arrive(&mut acd, 1, t0());
    drain(&mut acd);
    acd.handle(Input::CallAbandoned { call: call(1) }, at(7))
        .unwrap();
    let out = drain(&mut acd);
    assert_eq!(
        cancels(&out),
        vec![(call(1), agent("a1"), CancelReason::CallerHungUp)]
    );
    assert_eq!(
        change_of(&out, "a1"),
        Some((AgentStatus::Ready, ChangeReason::OfferWithdrawn))
    );
    assert_eq!(acd.agent(&agent("a1")).unwrap().misses, 0);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::CallbackTaskNeeded { owner: TaskOwner::Queue(q), .. } if *q == sales()
    )));
}

#[test]
fn call_cut_mid_conversation_gives_a_call_back_task_to_the_agent_who_had_it() {
    let mut acd = queue_with(&["a1", "a2"]);
    arrive(&mut acd, 1, t0());
    answer(&mut acd, 1, "a1", at(3));
    drain(&mut acd);
    acd.handle(
        Input::CallEnded {
            call: call(1),
            cause: EndCause::Dropped,
        },
        at(90),
    )
    .unwrap();
    let out = drain(&mut acd);
    assert!(out.contains(&Output::CallbackTaskNeeded {
        call: call(1),
        caller: caller(1),
        owner: TaskOwner::Agent(agent("a1")),
        reason: CallbackReason::DroppedMidCall,
        at: at(90),
    }));
    assert_eq!(
        change_of(&out, "a1"),
        Some((AgentStatus::WrapUp, ChangeReason::CallDropped))
    );
}

#[test]
fn a_normal_hang_up_creates_no_call_back_task() {
    let mut acd = queue_with(&["a1"]);
    arrive(&mut acd, 1, t0());
    answer(&mut acd, 1, "a1", at(3));
    acd.handle(
        Input::CallEnded {
            call: call(1),
            cause: EndCause::Normal,
        },
        at(90),
    )
    .unwrap();
    assert!(
        !drain(&mut acd)
            .iter()
            .any(|o| matches!(o, Output::CallbackTaskNeeded { .. }))
    );
}

#[test]
fn agents_of_several_sites_serve_one_queue() {
    let mut acd = queue_with(&[]);
    for (name, site) in [("p1", "paris"), ("s1", "shanghai"), ("n1", "nairobi")] {
        acd.handle(
            Input::AddMember {
                queue: sales(),
                member: switchboard_acd::Member::new(name, site),
            },
            t0(),
        )
        .unwrap();
    }
    for (i, name) in ["s1", "n1", "p1"].iter().enumerate() {
        acd.handle(
            Input::AgentLogin {
                agent: agent(name),
                ready: true,
            },
            t0() + secs(i as u64),
        )
        .unwrap();
    }
    drain(&mut acd);
    let mut served = Vec::new();
    for n in 1..=3 {
        arrive(&mut acd, n, at(10));
        let out = drain(&mut acd);
        let (_, agents) = offers(&out).remove(0);
        served.push(agents[0].clone());
    }
    // One queue across sites, longest idle first regardless of site.
    assert_eq!(served, vec![agent("s1"), agent("n1"), agent("p1")]);
    let live = acd.live(at(10));
    assert_eq!(live.queues[0].members, 3);
}

#[test]
fn rejected_offer_goes_to_the_next_agent_without_counting_a_miss() {
    let mut acd = queue_with(&["a1", "a2"]);
    arrive(&mut acd, 1, t0());
    drain(&mut acd);
    acd.handle(
        Input::OfferRejected {
            call: call(1),
            agent: agent("a1"),
        },
        at(2),
    )
    .unwrap();
    let out = drain(&mut acd);
    assert_offered(&out, 1, "a2");
    assert_eq!(
        change_of(&out, "a1"),
        Some((AgentStatus::Ready, ChangeReason::Rejected))
    );
    assert_eq!(acd.agent(&agent("a1")).unwrap().misses, 0);
}

#[test]
fn offer_lost_to_another_node_moves_on_and_holds_nothing_against_the_agent() {
    let mut acd = queue_with(&["a1", "a2"]);
    arrive(&mut acd, 1, t0());
    drain(&mut acd);
    // Another node had a1 first: a1 is busy there (an outside call here), the call moves on.
    acd.handle(
        Input::OutsideCall {
            agent: agent("a1"),
            busy: true,
        },
        at(0),
    )
    .unwrap();
    acd.handle(
        Input::OfferLost {
            call: call(1),
            agent: agent("a1"),
        },
        at(0),
    )
    .unwrap();
    let out = drain(&mut acd);
    assert_offered(&out, 1, "a2");
    assert_eq!(
        change_of(&out, "a1"),
        Some((AgentStatus::Ready, ChangeReason::OfferWithdrawn))
    );
    let a1 = acd.agent(&agent("a1")).unwrap();
    assert_eq!((a1.misses, a1.counters.rejected), (0, 0));
    // Given back by the other node, a1 takes the next call.
    acd.handle(
        Input::OutsideCall {
            agent: agent("a1"),
            busy: false,
        },
        at(2),
    )
    .unwrap();
    arrive(&mut acd, 2, at(3));
    assert_offered(&drain(&mut acd), 2, "a1");
}

#[test]
fn agent_who_steps_away_while_ringing_passes_the_call_on_at_once() {
    let mut acd = queue_with(&["a1", "a2"]);
    arrive(&mut acd, 1, t0());
    drain(&mut acd);
    acd.handle(
        Input::SetNotReady {
            agent: agent("a1"),
            reason: NotReadyReason::Away,
        },
        at(3),
    )
    .unwrap();
    let out = drain(&mut acd);
    assert_eq!(
        cancels(&out),
        vec![(call(1), agent("a1"), CancelReason::AgentLeft)]
    );
    assert_offered(&out, 1, "a2");
}

#[test]
fn waiting_call_is_offered_the_moment_an_agent_becomes_ready() {
    let mut acd = queue_with(&[]);
    arrive(&mut acd, 1, t0());
    acd.handle(
        Input::AddMember {
            queue: sales(),
            member: switchboard_acd::Member::new("a1", "paris"),
        },
        at(1),
    )
    .unwrap();
    acd.handle(
        Input::AgentLogin {
            agent: agent("a1"),
            ready: false,
        },
        at(2),
    )
    .unwrap();
    assert!(offers(&drain(&mut acd)).is_empty());
    acd.handle(Input::SetReady { agent: agent("a1") }, at(30))
        .unwrap();
    assert_offered(&drain(&mut acd), 1, "a1");
}

#[test]
fn higher_priority_call_is_served_before_earlier_calls() {
    let mut acd = queue_with(&[]);
    arrive(&mut acd, 1, t0());
    let mut vip = switchboard_acd::NewCall::new(call(2), sales(), caller(2));
    vip.priority = 5;
    acd.handle(Input::CallArrived(vip), at(1)).unwrap();
    assert_eq!(acd.waiting_order(&sales()), vec![call(2), call(1)]);
    assert_eq!(acd.position(&call(1)), Some(2));
    acd.handle(
        Input::AddMember {
            queue: sales(),
            member: switchboard_acd::Member::new("a1", "paris"),
        },
        at(2),
    )
    .unwrap();
    acd.handle(
        Input::AgentLogin {
            agent: agent("a1"),
            ready: true,
        },
        at(2),
    )
    .unwrap();
    assert_offered(&drain(&mut acd), 2, "a1");
}

#[test]
fn service_level_asa_and_aht_follow_the_calls() {
    let mut acd = queue_with(&["a1", "a2"]);
    arrive(&mut acd, 1, t0());
    arrive(&mut acd, 2, t0());
    answer(&mut acd, 1, "a1", at(10)); // within 20 s
    acd.handle_timeout(at(20)).unwrap(); // a2 misses call 2, it comes back to a2
    answer(&mut acd, 2, "a2", at(30)); // answered after 30 s
    for (n, end) in [(1, 70), (2, 90)] {
        acd.handle(
            Input::CallEnded {
                call: call(n),
                cause: EndCause::Normal,
            },
            at(end),
        )
        .unwrap();
    }
    acd.handle_timeout(at(100)).unwrap(); // a1's 30 s wrap-up ends
    acd.handle_timeout(at(120)).unwrap(); // a2's
    let live = acd.live(at(120));
    let q = &live.queues[0];
    assert_eq!(q.counters.answered, 2);
    assert_eq!(q.service_level, Some(0.5));
    assert_eq!(q.asa, Some(secs(20)));
    // Talk 60 s + 60 s, wrap-up 30 s + 30 s over 2 calls.
    assert_eq!(q.aht, Some(secs(90)));
    assert_eq!(q.longest_wait, secs(30));
    let a1 = live.agents.iter().find(|a| a.agent == agent("a1")).unwrap();
    // a1: ready 100 s, ringing 10 s, talking 60 s, wrap-up 30 s, ready 20 s.
    assert_eq!(a1.counters.on_call_ms, 60_000);
    assert_eq!(a1.counters.wrap_up_ms, 30_000);
    assert_eq!(a1.counters.ready_ms, 120_000);
    assert_eq!(a1.counters.ringing_ms, 10_000);
    assert_eq!(a1.occupancy, Some(90.0 / 220.0));
    let a2 = live.agents.iter().find(|a| a.agent == agent("a2")).unwrap();
    assert_eq!((a1.service_level, a2.service_level), (Some(1.0), Some(0.0)));
    assert_eq!(a2.asa, Some(secs(30)));
    assert_eq!(a2.counters.missed, 1);
}

#[test]
fn an_agent_on_a_direct_call_is_offered_no_queue_call_until_it_ends() {
    let mut acd = queue_with(&["a1", "a2"]);
    let busy = |acd: &mut switchboard_acd::Acd, busy| {
        acd.handle(
            Input::OutsideCall {
                agent: agent("a1"),
                busy,
            },
            t0(),
        )
        .unwrap();
    };
    // a1 (longest idle) takes a call to their extension, and places another meanwhile.
    busy(&mut acd, true);
    busy(&mut acd, true);
    assert!(acd.on_outside_call(&agent("a1")));
    arrive(&mut acd, 1, t0());
    assert_offered(&drain(&mut acd), 1, "a2");
    arrive(&mut acd, 2, t0());
    assert!(
        offers(&drain(&mut acd)).is_empty(),
        "a1 is busy, a2 is ringing"
    );
    busy(&mut acd, false);
    assert!(
        offers(&drain(&mut acd)).is_empty(),
        "one of a1's two calls is still going"
    );
    busy(&mut acd, false);
    assert_offered(&drain(&mut acd), 2, "a1");
    assert!(!acd.on_outside_call(&agent("a1")));
    // An end without a start (e.g. after a restart) changes nothing.
    busy(&mut acd, false);
    assert!(!acd.on_outside_call(&agent("a1")));
}
