//! Bad input is refused with an error and changes nothing.

// Helpers outside #[test] functions unwrap too; a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use switchboard_acd::{
    AcdError, AcdSettings, AgentStatus, ConfigError, EndCause, Input, MaxWaitAction, Member,
    NotReadyReason, QueueConfig, TransitionError,
};
use switchboard_core::{QueueId, Seconds};

#[test]
fn an_agent_on_a_call_cannot_log_out_and_nothing_changes() {
    let mut acd = queue_with(&["a1"]);
    arrive(&mut acd, 1, t0());
    answer(&mut acd, 1, "a1", at(2));
    drain(&mut acd);
    let err = acd
        .handle(Input::AgentLogout { agent: agent("a1") }, at(3))
        .unwrap_err();
    assert!(matches!(
        err,
        AcdError::Transition(TransitionError::Illegal { .. })
    ));
    assert_eq!(status(&acd, "a1"), AgentStatus::OnCall);
    assert!(drain(&mut acd).is_empty());
}

#[test]
fn setting_ready_twice_or_ending_wrap_up_outside_wrap_up_is_an_error() {
    let mut acd = queue_with(&["a1"]);
    assert!(matches!(
        acd.handle(Input::SetReady { agent: agent("a1") }, at(1)),
        Err(AcdError::Transition(_))
    ));
    assert_eq!(
        acd.handle(Input::EndWrapUp { agent: agent("a1") }, at(1)),
        Err(AcdError::NotInWrapUp(agent("a1")))
    );
    assert_eq!(
        acd.handle(
            Input::SetReady {
                agent: agent("ghost")
            },
            at(1)
        ),
        Err(AcdError::UnknownAgent(agent("ghost")))
    );
}

#[test]
fn agents_cannot_set_missed_themselves_and_only_configured_reasons_are_accepted() {
    let mut settings = AcdSettings::default();
    settings
        .extra_not_ready_reasons
        .insert("coaching".to_owned());
    let mut acd = switchboard_acd::Acd::new(settings).unwrap();
    acd.handle(
        Input::AgentLogin {
            agent: agent("a1"),
            ready: true,
        },
        t0(),
    )
    .unwrap();
    assert_eq!(
        acd.handle(
            Input::SetNotReady {
                agent: agent("a1"),
                reason: NotReadyReason::Missed
            },
            at(1)
        ),
        Err(AcdError::ReservedReason)
    );
    assert_eq!(
        acd.handle(
            Input::SetNotReady {
                agent: agent("a1"),
                reason: NotReadyReason::Other("nap".to_owned())
            },
            at(1)
        ),
        Err(AcdError::UnknownReason("nap".to_owned()))
    );
    acd.handle(
        Input::SetNotReady {
            agent: agent("a1"),
            reason: NotReadyReason::Other("coaching".to_owned()),
        },
        at(1),
    )
    .unwrap();
    assert_eq!(
        status(&acd, "a1"),
        AgentStatus::NotReady(NotReadyReason::Other("coaching".to_owned()))
    );
}

#[test]
fn answering_a_call_not_offered_to_you_is_refused() {
    let mut acd = queue_with(&["a1", "a2"]);
    arrive(&mut acd, 1, t0());
    assert_eq!(
        acd.handle(
            Input::OfferAnswered {
                call: call(1),
                agent: agent("a2")
            },
            at(1)
        ),
        Err(AcdError::NotOffered {
            call: call(1),
            agent: agent("a2")
        })
    );
    assert_eq!(status(&acd, "a2"), AgentStatus::Ready);
}

#[test]
fn call_events_for_unknown_or_wrong_phase_calls_are_refused() {
    let mut acd = queue_with(&["a1"]);
    assert_eq!(
        acd.handle(Input::CallAbandoned { call: call(9) }, t0()),
        Err(AcdError::UnknownCall(call(9)))
    );
    arrive(&mut acd, 1, t0());
    assert_eq!(
        acd.handle(
            Input::CallEnded {
                call: call(1),
                cause: EndCause::Normal
            },
            at(1)
        ),
        Err(AcdError::NotConnected(call(1)))
    );
    answer(&mut acd, 1, "a1", at(2));
    assert_eq!(
        acd.handle(Input::CallAbandoned { call: call(1) }, at(3)),
        Err(AcdError::AlreadyAnswered(call(1)))
    );
    assert!(matches!(
        acd.handle(
            Input::CallArrived(switchboard_acd::NewCall::new(call(1), sales(), caller(1))),
            at(4)
        ),
        Err(AcdError::DuplicateCall(_))
    ));
    assert!(matches!(
        acd.handle(
            Input::CallArrived(switchboard_acd::NewCall::new(
                call(2),
                QueueId::from("nope"),
                caller(2)
            )),
            at(4)
        ),
        Err(AcdError::UnknownQueue(_))
    ));
}

#[test]
fn queue_configuration_is_validated() {
    let mut acd = queue_with(&[]);
    assert_eq!(
        acd.handle(
            Input::ConfigureQueue {
                queue: sales(),
                config: QueueConfig {
                    ring_timeout: Seconds(0),
                    ..QueueConfig::default()
                }
            },
            t0()
        ),
        Err(AcdError::Config(ConfigError::ZeroRingTimeout))
    );
    assert_eq!(
        acd.handle(
            Input::ConfigureQueue {
                queue: sales(),
                config: QueueConfig {
                    max_wait: Some(Seconds(60)),
                    on_max_wait: MaxWaitAction::Overflow(QueueId::from("missing")),
                    ..QueueConfig::default()
                }
            },
            t0()
        ),
        Err(AcdError::UnknownQueue(QueueId::from("missing")))
    );
    assert_eq!(
        acd.queue(&sales()).unwrap().config,
        QueueConfig::default(),
        "a refused change leaves the old config"
    );
    assert_eq!(
        acd.handle(
            Input::RemoveMember {
                queue: sales(),
                agent: agent("nobody")
            },
            t0()
        ),
        Err(AcdError::NotMember {
            queue: sales(),
            agent: agent("nobody")
        })
    );
    assert!(matches!(
        acd.handle(
            Input::AddMember {
                queue: sales(),
                member: Member::new("a1", "paris").with_skill(" ", 1)
            },
            t0()
        ),
        Err(AcdError::Config(ConfigError::EmptySkill))
    ));
}

#[test]
fn a_queue_with_waiting_calls_or_that_others_overflow_into_cannot_be_removed() {
    let mut acd = queue_with(&[]);
    arrive(&mut acd, 1, t0());
    assert_eq!(
        acd.handle(Input::RemoveQueue { queue: sales() }, at(1)),
        Err(AcdError::QueueHasCalls(sales()))
    );
    let other = QueueId::from("other");
    acd.handle(
        Input::ConfigureQueue {
            queue: other.clone(),
            config: QueueConfig {
                max_wait: Some(Seconds(30)),
                on_max_wait: MaxWaitAction::Overflow(sales()),
                ..QueueConfig::default()
            },
        },
        at(1),
    )
    .unwrap();
    acd.handle(Input::CallAbandoned { call: call(1) }, at(2))
        .unwrap();
    assert_eq!(
        acd.handle(Input::RemoveQueue { queue: sales() }, at(3)),
        Err(AcdError::OverflowTarget {
            queue: sales(),
            from: other.clone()
        })
    );
    acd.handle(Input::RemoveQueue { queue: other }, at(3))
        .unwrap();
    acd.handle(Input::RemoveQueue { queue: sales() }, at(3))
        .unwrap();
}
