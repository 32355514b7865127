//! Small builders shared by the ACD tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::time::Duration;

use switchboard_acd::{
    Acd, AcdSettings, AgentStatus, CancelReason, ChangeReason, Input, Member, NewCall, Output,
    QueueConfig, StateChange,
};
use switchboard_core::{AgentId, CallId, QueueId, Timestamp};

pub fn t0() -> Timestamp {
    Timestamp::from_secs(1_700_000_000)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn at(s: u64) -> Timestamp {
    t0() + secs(s)
}

pub fn caller(n: u32) -> String {
    format!("+86138{n:08}")
}

pub fn call(n: u32) -> CallId {
    CallId::from(format!("call{n}"))
}

pub fn agent(name: &str) -> AgentId {
    AgentId::from(name)
}

pub fn sales() -> QueueId {
    QueueId::from("sales")
}

/// A queue "sales" with the given config and members (all at site "paris"), every member
/// logged in and ready in the order given (so the first has been idle longest), outputs drained.
pub fn acd_with(config: QueueConfig, members: &[&str]) -> Acd {
    let mut acd = Acd::new(AcdSettings::default()).unwrap();
    acd.handle(
        Input::ConfigureQueue {
            queue: sales(),
            config,
        },
        t0(),
    )
    .unwrap();
    for (i, m) in members.iter().enumerate() {
        let when = t0() - secs(100) + secs(i as u64);
        acd.handle(
            Input::AddMember {
                queue: sales(),
                member: Member::new(*m, "paris"),
            },
            when,
        )
        .unwrap();
        acd.handle(
            Input::AgentLogin {
                agent: agent(m),
                ready: true,
            },
            when,
        )
        .unwrap();
    }
    drain(&mut acd);
    acd
}

pub fn queue_with(members: &[&str]) -> Acd {
    acd_with(QueueConfig::default(), members)
}

pub fn drain(acd: &mut Acd) -> Vec<Output> {
    std::iter::from_fn(|| acd.poll_output()).collect()
}

pub fn arrive(acd: &mut Acd, n: u32, now: Timestamp) {
    acd.handle(
        Input::CallArrived(NewCall::new(call(n), sales(), caller(n))),
        now,
    )
    .unwrap();
}

/// The agents each call was offered to, in output order.
pub fn offers(outputs: &[Output]) -> Vec<(CallId, Vec<AgentId>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Offer { call, agents, .. } => Some((call.clone(), agents.clone())),
            _ => None,
        })
        .collect()
}

pub fn changes(outputs: &[Output]) -> Vec<StateChange> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::AgentStateChanged(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

pub fn cancels(outputs: &[Output]) -> Vec<(CallId, AgentId, CancelReason)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::CancelOffer {
                call,
                agent,
                reason,
            } => Some((call.clone(), agent.clone(), *reason)),
            _ => None,
        })
        .collect()
}

/// Asserts the outputs offer `call` to exactly `name`, and nothing else is offered.
pub fn assert_offered(outputs: &[Output], n: u32, name: &str) {
    assert_eq!(
        offers(outputs),
        vec![(call(n), vec![agent(name)])],
        "outputs: {outputs:#?}"
    );
}

pub fn status(acd: &Acd, name: &str) -> AgentStatus {
    acd.agent(&agent(name)).unwrap().status.clone()
}

pub fn answer(acd: &mut Acd, n: u32, name: &str, now: Timestamp) {
    acd.handle(
        Input::OfferAnswered {
            call: call(n),
            agent: agent(name),
        },
        now,
    )
    .unwrap();
}

pub fn change_of(outputs: &[Output], name: &str) -> Option<(AgentStatus, ChangeReason)> {
    changes(outputs)
        .into_iter()
        .rev()
        .find(|c| c.agent == agent(name))
        .map(|c| (c.to, c.reason))
}
