//! Acceptance 4: a restart while agents are ready, ringing, on a call and in wrap-up leaves no
//! agent stuck — states are restored or reset with a logged reason.

// Helpers outside #[test] functions unwrap too; a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use switchboard_acd::{
    Acd, AcdSnapshot, AgentStatus, CancelReason, ChangeReason, EndCause, Input, NotReadyReason,
    Output, RestoreError,
};

/// At 27 s: ringing: ring (call 1, since 25 s) and r1 (call 4, since 26 s) · on call: talk
/// (call 2) · wrap-up running: wrap (call 3 ended at 20 s, wrap-up till 50 s) · wrap-up that will
/// have elapsed at restart: old (till 32 s) · not ready: away.
fn busy_floor() -> Acd {
    let mut acd = queue_with(&["old", "wrap", "talk", "ring", "r1", "away"]);
    for (who, reason) in [
        ("away", NotReadyReason::Lunch),
        ("r1", NotReadyReason::Break),
    ] {
        acd.handle(
            Input::SetNotReady {
                agent: agent(who),
                reason,
            },
            t0(),
        )
        .unwrap();
    }
    // old, wrap, talk idle longest in that order.
    for (n, who) in [(5, "old"), (3, "wrap"), (2, "talk")] {
        arrive(&mut acd, n, t0());
        assert_offered(&drain(&mut acd), n, who);
        answer(&mut acd, n, who, at(1));
    }
    for (n, end) in [(5, 2), (3, 20)] {
        acd.handle(
            Input::CallEnded {
                call: call(n),
                cause: EndCause::Normal,
            },
            at(end),
        )
        .unwrap();
    }
    arrive(&mut acd, 1, at(25));
    assert_offered(&drain(&mut acd), 1, "ring");
    arrive(&mut acd, 4, at(25));
    acd.handle(Input::SetReady { agent: agent("r1") }, at(26))
        .unwrap();
    assert_offered(&drain(&mut acd), 4, "r1");
    acd
}

fn restart(acd: &Acd, taken: u64, restart_at: u64) -> (Acd, Vec<Output>) {
    let json = serde_json::to_string(&acd.snapshot(at(taken))).unwrap();
    let snapshot: AcdSnapshot = serde_json::from_str(&json).unwrap();
    let mut restored = Acd::restore(snapshot, at(restart_at)).unwrap();
    let out = drain(&mut restored);
    (restored, out)
}

#[test]
fn restart_withdraws_ringing_offers_and_re_offers_the_calls() {
    let acd = busy_floor();
    assert_eq!(status(&acd, "ring"), AgentStatus::Ringing);
    assert_eq!(status(&acd, "r1"), AgentStatus::Ringing);
    let (restored, out) = restart(&acd, 27, 40);
    let ch = changes(&out);
    for who in ["ring", "r1"] {
        assert!(
            ch.iter().any(|c| c.agent == agent(who)
                && c.from == AgentStatus::Ringing
                && c.to == AgentStatus::Ready
                && c.reason == ChangeReason::RestartOfferWithdrawn),
            "{who} reset with a logged reason: {ch:#?}"
        );
    }
    assert!(cancels(&out).contains(&(call(1), agent("ring"), CancelReason::Restart)));
    // Both calls keep their place and are offered again at once to the freed agents.
    let offered: Vec<_> = offers(&out).into_iter().map(|(c, _)| c).collect();
    assert!(
        offered.contains(&call(1)) && offered.contains(&call(4)),
        "{out:#?}"
    );
    assert!(
        restored
            .calls()
            .all(|c| c.phase != switchboard_acd::CallPhase::Waiting)
    );
}

#[test]
fn restart_ends_wrap_ups_whose_time_passed_and_keeps_running_ones() {
    let acd = busy_floor();
    let (restored, out) = restart(&acd, 27, 40);
    assert!(changes(&out).iter().any(|c| c.agent == agent("old")
        && c.from == AgentStatus::WrapUp
        && c.reason == ChangeReason::RestartWrapUpElapsed));
    assert_eq!(status(&restored, "wrap"), AgentStatus::WrapUp);
    assert_eq!(
        restored.agent(&agent("wrap")).unwrap().wrap_up_until,
        Some(at(50))
    );
}

#[test]
fn restart_keeps_calls_in_progress_not_ready_agents_and_counters() {
    let acd = busy_floor();
    let (mut restored, out) = restart(&acd, 27, 40);
    assert_eq!(status(&restored, "talk"), AgentStatus::OnCall);
    assert_eq!(
        status(&restored, "away"),
        AgentStatus::NotReady(NotReadyReason::Lunch)
    );
    assert!(
        changes(&out)
            .iter()
            .all(|c| c.agent != agent("talk") && c.agent != agent("away"))
    );
    // Counters carry over; the only addition is old's wrap-up, credited up to its end (32 s),
    // not up to the restart (40 s).
    let mut expected = acd.queue(&sales()).unwrap().counters.clone();
    expected.total_wrap_up_ms += 30_000;
    assert_eq!(restored.queue(&sales()).unwrap().counters, expected);
    // The call in progress can still end normally, with its call-back if it dropped.
    restored
        .handle(
            Input::CallEnded {
                call: call(2),
                cause: EndCause::Dropped,
            },
            at(200),
        )
        .unwrap();
    assert!(
        drain(&mut restored)
            .iter()
            .any(|o| matches!(o, Output::CallbackTaskNeeded { .. }))
    );
}

#[test]
fn every_agent_after_restart_is_in_a_state_that_something_will_end() {
    let acd = busy_floor();
    let (restored, _) = restart(&acd, 27, 500);
    for a in restored.agents() {
        let ends_by_itself = match &a.status {
            AgentStatus::Ringing => restored.poll_timeout().is_some(),
            AgentStatus::WrapUp => a.wrap_up_until.is_some_and(|t| t > at(500)),
            AgentStatus::OnCall => a.call.as_ref().and_then(|c| restored.call(c)).is_some(),
            _ => true,
        };
        assert!(ends_by_itself, "{} stuck in {}", a.id, a.status);
    }
}

#[test]
fn a_snapshot_with_a_call_in_an_unknown_queue_is_refused() {
    let acd = busy_floor();
    let mut snapshot = acd.snapshot(at(27));
    snapshot.queues.clear();
    assert!(matches!(
        Acd::restore(snapshot, at(40)),
        Err(RestoreError::CallInUnknownQueue { .. })
    ));
}

#[test]
fn an_agent_on_a_call_the_snapshot_lost_is_reset_to_ready() {
    let acd = busy_floor();
    let mut snapshot = acd.snapshot(at(27));
    snapshot.calls.retain(|c| c.id != call(2));
    let mut restored = Acd::restore(snapshot, at(40)).unwrap();
    let out = drain(&mut restored);
    assert!(changes(&out).iter().any(|c| c.agent == agent("talk")
        && c.from == AgentStatus::OnCall
        && c.reason == ChangeReason::RestartCallMissing));
}
