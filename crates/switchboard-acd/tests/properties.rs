//! Acceptance 1: random event sequences, with random restarts through snapshot and restore.
//!
//! The test keeps its own model of the floor, built only from the ACD's outputs, and checks:
//! - no call is offered to two agents at once (except ring-all, where the first answer wins
//!   and the others are cancelled);
//! - no agent holds two calls;
//! - after every step, no waiting call has a matching ready agent;
//! - every state change is legal (by this file's own table) and starts where the last ended;
//! - a refused input changes nothing.

// Helpers outside #[test] functions unwrap too; a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{caller, t0};
use proptest::prelude::*;
use switchboard_acd::{
    Acd, AcdSettings, AcdSnapshot, AgentStatus, CancelReason, EndCause, Input, MaxWaitAction,
    Member, NewCall, NotReadyReason, Output, QueueConfig, Strategy as Routing,
};
use switchboard_core::{AgentId, CallId, QueueId, Seconds, Timestamp};

const AGENTS: [&str; 5] = ["a0", "a1", "a2", "a3", "a4"];

fn q(i: usize) -> QueueId {
    QueueId::from(["q1", "q2"][i])
}

/// Membership: a0-a2 in q1, a2-a4 in q2 (a2 in both). Only a0 and a3 speak French.
fn member_of(queue: &QueueId, agent: &AgentId) -> bool {
    let i = AGENTS
        .iter()
        .position(|a| *a == agent.as_str())
        .unwrap_or(9);
    if queue.as_str() == "q1" {
        i <= 2
    } else {
        (2..=4).contains(&i)
    }
}

fn speaks_french(agent: &AgentId) -> bool {
    matches!(agent.as_str(), "a0" | "a3")
}

/// The transition table, written out again here so the test does not trust the crate's own.
fn legal(from: &AgentStatus, to: &AgentStatus) -> bool {
    use AgentStatus::*;
    matches!(
        (from, to),
        (LoggedOut, Ready | NotReady(_))
            | (Ready, Ringing | NotReady(_) | LoggedOut)
            | (NotReady(_), Ready | LoggedOut)
            | (Ringing, OnCall | Ready | NotReady(_) | LoggedOut)
            | (OnCall, WrapUp | Ready)
            | (WrapUp, Ready | NotReady(_) | LoggedOut)
    ) || matches!((from, to), (NotReady(a), NotReady(b)) if a != b)
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Arrive {
        queue: usize,
        french: bool,
        priority: u8,
    },
    Abandon(usize),
    Answer(usize),
    Reject(usize),
    End {
        pick: usize,
        dropped: bool,
    },
    CallbackAccepted(usize),
    Login {
        agent: usize,
        ready: bool,
    },
    Logout(usize),
    SetReady(usize),
    SetNotReady {
        agent: usize,
        reason: usize,
    },
    EndWrapUp(usize),
    /// Change q1's strategy while calls are in flight.
    Reconfigure(Routing),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..45).prop_map(Op::Advance),
        4 => (0usize..2, any::<bool>(), 0u8..3)
            .prop_map(|(queue, french, priority)| Op::Arrive { queue, french, priority }),
        1 => any::<usize>().prop_map(Op::Abandon),
        4 => any::<usize>().prop_map(Op::Answer),
        1 => any::<usize>().prop_map(Op::Reject),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(pick, dropped)| Op::End { pick, dropped }),
        1 => any::<usize>().prop_map(Op::CallbackAccepted),
        2 => (0usize..5, any::<bool>()).prop_map(|(agent, ready)| Op::Login { agent, ready }),
        1 => (0usize..5).prop_map(Op::Logout),
        2 => (0usize..5).prop_map(Op::SetReady),
        1 => (0usize..5, 0usize..5).prop_map(|(agent, reason)| Op::SetNotReady { agent, reason }),
        1 => (0usize..5).prop_map(Op::EndWrapUp),
        1 => strategy().prop_map(Op::Reconfigure),
        1 => Just(Op::Restart),
    ]
}

fn strategy() -> impl Strategy<Value = Routing> {
    prop_oneof![
        Just(Routing::LongestIdle),
        Just(Routing::RoundRobin),
        Just(Routing::FewestCalls),
        Just(Routing::RingAll),
        Just(Routing::SkillsBased),
    ]
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Waiting,
    Ringing(BTreeSet<AgentId>),
    Connected(AgentId),
}

#[derive(Debug)]
struct ModelCall {
    queue: QueueId,
    french: bool,
    phase: Phase,
}

/// What the test believes, from the outputs alone.
#[derive(Debug, Default)]
struct Model {
    status: BTreeMap<AgentId, AgentStatus>,
    holds: BTreeMap<AgentId, CallId>,
    calls: BTreeMap<CallId, ModelCall>,
    ring_all: BTreeSet<QueueId>,
}

impl Model {
    fn status(&self, a: &AgentId) -> AgentStatus {
        self.status
            .get(a)
            .cloned()
            .unwrap_or(AgentStatus::LoggedOut)
    }

    fn apply(&mut self, outputs: &[Output]) {
        for o in outputs {
            match o {
                Output::Offer {
                    call,
                    queue,
                    agents,
                    ..
                } => {
                    let c = self.calls.get_mut(call).expect("offer of a known call");
                    assert_eq!(
                        c.phase,
                        Phase::Waiting,
                        "{call} offered while {:?}",
                        c.phase
                    );
                    assert_eq!(&c.queue, queue);
                    assert!(
                        agents.len() == 1 || self.ring_all.contains(queue),
                        "{call} offered to {agents:?} in a queue that is not ring-all"
                    );
                    for a in agents {
                        let status = self
                            .status
                            .get(a)
                            .cloned()
                            .unwrap_or(AgentStatus::LoggedOut);
                        assert_eq!(status, AgentStatus::Ready, "{a} offered while not ready");
                        assert!(member_of(queue, a), "{a} is not in {queue}");
                        assert!(!c.french || speaks_french(a), "{a} lacks the skill");
                        if let Some(other) = self.holds.insert(a.clone(), call.clone()) {
                            panic!("{a} offered {call} while holding {other}");
                        }
                    }
                    c.phase = Phase::Ringing(agents.iter().cloned().collect());
                }
                Output::CancelOffer { call, agent, .. } => {
                    assert_eq!(self.holds.remove(agent).as_ref(), Some(call));
                    if let Some(c) = self.calls.get_mut(call)
                        && let Phase::Ringing(set) = &mut c.phase
                    {
                        set.remove(agent);
                        if set.is_empty() {
                            c.phase = Phase::Waiting;
                        }
                    }
                }
                Output::AgentStateChanged(ch) => {
                    assert_eq!(
                        ch.from,
                        self.status(&ch.agent),
                        "change does not chain: {ch:?}"
                    );
                    assert!(legal(&ch.from, &ch.to), "illegal {} → {}", ch.from, ch.to);
                    self.status.insert(ch.agent.clone(), ch.to.clone());
                }
                Output::Overflow { call, from, to } => {
                    let c = self.calls.get_mut(call).expect("known call overflows");
                    assert_eq!(&c.queue, from);
                    assert_eq!(
                        c.phase,
                        Phase::Waiting,
                        "offers are withdrawn before overflow"
                    );
                    c.queue = to.clone();
                }
                Output::CallbackTaskNeeded { call, .. } => {
                    if let Some(c) = self.calls.get(call)
                        && !matches!(c.phase, Phase::Connected(_))
                    {
                        self.calls.remove(call);
                    }
                }
                Output::WaitAlert { .. } | Output::OfferCallback { .. } => {}
            }
        }
    }

    fn eligible(&self, call: &ModelCall, agent: &AgentId) -> bool {
        member_of(&call.queue, agent) && (!call.french || speaks_french(agent))
    }

    fn check_nobody_waits_beside_a_ready_agent(&self) {
        for (id, c) in &self.calls {
            if c.phase != Phase::Waiting {
                continue;
            }
            for (a, s) in &self.status {
                assert!(
                    !(*s == AgentStatus::Ready && self.eligible(c, a)),
                    "{id} waits in {} while {a} is ready",
                    c.queue
                );
            }
        }
    }

    fn check_matches(&self, acd: &Acd) {
        for a in acd.agents() {
            assert_eq!(a.status, self.status(&a.id), "state of {}", a.id);
        }
        let mut holders = BTreeSet::new();
        for c in acd.calls() {
            let agents: Vec<AgentId> = match &c.phase {
                switchboard_acd::CallPhase::Offered { agents, .. } => {
                    agents.iter().cloned().collect()
                }
                switchboard_acd::CallPhase::Connected { agent, .. } => vec![agent.clone()],
                switchboard_acd::CallPhase::Waiting => vec![],
            };
            for a in agents {
                assert!(holders.insert(a.clone()), "{a} holds two calls in the ACD");
            }
        }
    }

    fn ringing_pairs(&self) -> Vec<(CallId, AgentId)> {
        self.calls
            .iter()
            .flat_map(|(id, c)| match &c.phase {
                Phase::Ringing(set) => set.iter().map(|a| (id.clone(), a.clone())).collect(),
                _ => vec![],
            })
            .collect()
    }

    fn connected(&self) -> Vec<CallId> {
        self.calls
            .iter()
            .filter(|(_, c)| matches!(c.phase, Phase::Connected(_)))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn queued(&self) -> Vec<CallId> {
        self.calls
            .iter()
            .filter(|(_, c)| !matches!(c.phase, Phase::Connected(_)))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

fn q1_config(s1: Routing, wrap_up: u64, overflow: bool) -> QueueConfig {
    QueueConfig {
        strategy: s1,
        wrap_up: Seconds(wrap_up),
        max_wait: overflow.then_some(Seconds(90)),
        on_max_wait: if overflow {
            MaxWaitAction::Overflow(q(1))
        } else {
            MaxWaitAction::OfferCallback
        },
        ..QueueConfig::default()
    }
}

fn setup(s1: Routing, wrap_up: u64, overflow: bool) -> (Acd, Model) {
    let mut acd = Acd::new(AcdSettings::default()).unwrap();
    let mut model = Model::default();
    let q2 = QueueConfig {
        strategy: Routing::RingAll,
        wrap_up: Seconds(wrap_up),
        max_wait: Some(Seconds(150)),
        on_max_wait: MaxWaitAction::OfferCallback,
        ..QueueConfig::default()
    };
    let q1 = q1_config(s1, wrap_up, overflow);
    for (i, config) in [(1, q2), (0, q1)] {
        if config.strategy == Routing::RingAll {
            model.ring_all.insert(q(i));
        }
        acd.handle(
            Input::ConfigureQueue {
                queue: q(i),
                config,
            },
            t0(),
        )
        .unwrap();
    }
    for i in 0..2 {
        for a in AGENTS {
            let id = AgentId::from(a);
            if member_of(&q(i), &id) {
                let mut m = Member::new(a, if i == 0 { "paris" } else { "shanghai" });
                if speaks_french(&id) {
                    m = m.with_skill("french", 3);
                }
                acd.handle(
                    Input::AddMember {
                        queue: q(i),
                        member: m,
                    },
                    t0(),
                )
                .unwrap();
            }
        }
    }
    (acd, model)
}

fn input_for(op: &Op, model: &Model, serial: &mut u32, q1: &QueueConfig) -> Option<Input> {
    let agent = |i: usize| AgentId::from(AGENTS[i % AGENTS.len()]);
    let unknown = CallId::from("unknown");
    Some(match op {
        Op::Advance(_) | Op::Restart => return None,
        Op::Arrive {
            queue,
            french,
            priority,
        } => {
            *serial += 1;
            let mut c = NewCall::new(format!("c{serial}"), q(*queue), caller(*serial));
            c.priority = *priority;
            if *french {
                c.skills.insert("french".to_owned(), 2);
            }
            Input::CallArrived(c)
        }
        Op::Abandon(i) => Input::CallAbandoned {
            call: pick(&model.queued(), *i).unwrap_or(unknown),
        },
        Op::CallbackAccepted(i) => Input::CallbackAccepted {
            call: pick(&model.queued(), *i).unwrap_or(unknown),
        },
        Op::Answer(i) | Op::Reject(i) => {
            let (call, agent) = pick(&model.ringing_pairs(), *i).unwrap_or((unknown, agent(*i)));
            if matches!(op, Op::Answer(_)) {
                Input::OfferAnswered { call, agent }
            } else {
                Input::OfferRejected { call, agent }
            }
        }
        Op::End { pick: i, dropped } => Input::CallEnded {
            call: pick(&model.connected(), *i).unwrap_or(unknown),
            cause: if *dropped {
                EndCause::Dropped
            } else {
                EndCause::Normal
            },
        },
        Op::Login { agent: a, ready } => Input::AgentLogin {
            agent: agent(*a),
            ready: *ready,
        },
        Op::Logout(a) => Input::AgentLogout { agent: agent(*a) },
        Op::SetReady(a) => Input::SetReady { agent: agent(*a) },
        Op::SetNotReady { agent: a, reason } => Input::SetNotReady {
            agent: agent(*a),
            // Index 4 is "missed", which agents may not set: exercises a refusal.
            reason: [
                NotReadyReason::Away,
                NotReadyReason::Break,
                NotReadyReason::Lunch,
                NotReadyReason::Training,
                NotReadyReason::Missed,
            ][*reason % 5]
                .clone(),
        },
        Op::EndWrapUp(a) => Input::EndWrapUp { agent: agent(*a) },
        Op::Reconfigure(s) => Input::ConfigureQueue {
            queue: q(0),
            config: QueueConfig {
                strategy: *s,
                ..q1.clone()
            },
        },
    })
}

fn without_time(mut s: AcdSnapshot) -> AcdSnapshot {
    s.taken_at = Timestamp::EPOCH;
    s
}

fn run(s1: Routing, wrap_up: u64, overflow: bool, ops: Vec<Op>) {
    let (mut acd, mut model) = setup(s1, wrap_up, overflow);
    let q1 = q1_config(s1, wrap_up, overflow);
    let mut now = t0();
    let mut serial = 0;
    for op in ops {
        let mut outputs = Vec::new();
        match &op {
            Op::Advance(s) => {
                let target = now + std::time::Duration::from_secs(*s);
                while let Some(t) = acd.poll_timeout().filter(|t| *t <= target) {
                    now = now.max(t);
                    acd.handle_timeout(now).unwrap();
                    outputs.extend(std::iter::from_fn(|| acd.poll_output()));
                }
                now = target;
            }
            Op::Restart => {
                let json = serde_json::to_string(&acd.snapshot(now)).unwrap();
                acd = Acd::restore(serde_json::from_str(&json).unwrap(), now).unwrap();
                outputs.extend(std::iter::from_fn(|| acd.poll_output()));
                // Restart resets carry restart reasons; offers are withdrawn with "restart".
                for o in &outputs {
                    if let Output::CancelOffer { reason, .. } = o {
                        assert_eq!(*reason, CancelReason::Restart);
                    }
                }
            }
            _ => {
                let input = input_for(&op, &model, &mut serial, &q1).unwrap();
                if let Input::CallArrived(c) = &input {
                    model.calls.insert(
                        c.call.clone(),
                        ModelCall {
                            queue: c.queue.clone(),
                            french: !c.skills.is_empty(),
                            phase: Phase::Waiting,
                        },
                    );
                }
                let before = without_time(acd.snapshot(now));
                let answered = match &input {
                    Input::OfferAnswered { call, agent } => Some((call.clone(), agent.clone())),
                    _ => None,
                };
                let ended = match &input {
                    Input::CallEnded { call, .. } => Some(call.clone()),
                    Input::OfferRejected { call, agent } => {
                        Some(call.clone()).filter(|_| model.holds.get(agent) == Some(call))
                    }
                    _ => None,
                };
                match acd.handle(input.clone(), now) {
                    Err(_) => {
                        assert_eq!(
                            without_time(acd.snapshot(now)),
                            before,
                            "refused {input:?} changed state"
                        );
                        assert!(
                            acd.poll_output().is_none(),
                            "refused {input:?} produced output"
                        );
                        if let Input::CallArrived(c) = &input {
                            model.calls.remove(&c.call);
                        }
                    }
                    Ok(()) => {
                        outputs.extend(std::iter::from_fn(|| acd.poll_output()));
                        if let Input::ConfigureQueue { queue, config } = &input {
                            if config.strategy == Routing::RingAll {
                                model.ring_all.insert(queue.clone());
                            } else {
                                model.ring_all.remove(queue);
                            }
                        }
                        if let Some((call, agent)) = answered {
                            // The winner keeps the call; every other ringing agent is cancelled.
                            model.apply(&outputs);
                            outputs.clear();
                            let c = model.calls.get_mut(&call).unwrap();
                            assert_eq!(c.phase, Phase::Ringing([agent.clone()].into()));
                            c.phase = Phase::Connected(agent);
                        }
                        if let Some(call) = ended {
                            if let Some(Phase::Connected(a)) =
                                model.calls.get(&call).map(|c| c.phase.clone())
                            {
                                model.holds.remove(&a);
                                model.calls.remove(&call);
                            } else if let Input::OfferRejected { agent, .. } = &input {
                                model.holds.remove(agent);
                                if let Some(c) = model.calls.get_mut(&call)
                                    && let Phase::Ringing(set) = &mut c.phase
                                {
                                    set.remove(agent);
                                    if set.is_empty() {
                                        c.phase = Phase::Waiting;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        model.apply(&outputs);
        model.check_matches(&acd);
        model.check_nobody_waits_beside_a_ready_agent();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn acd_keeps_its_promises_under_random_events_and_restarts(
        s1 in strategy(),
        wrap_up in prop_oneof![Just(0u64), Just(30u64)],
        overflow in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        run(s1, wrap_up, overflow, ops);
    }
}
