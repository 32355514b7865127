//! What the drivers tell the ACD ([`Input`]) and what the ACD asks of them ([`Output`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_core::{AgentId, CallId, QueueId, Timestamp};

use crate::agent::{NotReadyReason, StateChange};
use crate::config::{Member, QueueConfig, Skill};

/// A call entering a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCall {
    pub call: CallId,
    pub queue: QueueId,
    /// The number to call back: E.164 for outside callers, an extension for internal ones.
    pub caller: String,
    /// Higher is served first; calls of equal priority are served in arrival order.
    #[serde(default)]
    pub priority: u8,
    /// Skill name → minimum level an agent needs to be offered this call.
    #[serde(default)]
    pub skills: BTreeMap<Skill, u8>,
}

impl NewCall {
    /// A normal-priority call that needs no skills.
    pub fn new(
        call: impl Into<CallId>,
        queue: impl Into<QueueId>,
        caller: impl Into<String>,
    ) -> Self {
        NewCall {
            call: call.into(),
            queue: queue.into(),
            caller: caller.into(),
            priority: 0,
            skills: BTreeMap::new(),
        }
    }
}

/// How a connected call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndCause {
    /// Someone hung up.
    Normal,
    /// The call was cut mid-conversation (network, media timeout): the agent calls back.
    Dropped,
}

/// An event from the call layer, the agent console or the configuration API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Input {
    /// An agent's call the ACD did not route started (`busy`) or ended: a direct call to their
    /// extension, or one they placed. While they are on one, no queue call is offered to them,
    /// whatever their status says; two such calls at once need two ends.
    OutsideCall {
        agent: AgentId,
        busy: bool,
    },
    /// Create or change a queue.
    ConfigureQueue {
        queue: QueueId,
        config: QueueConfig,
    },
    /// Delete a queue (refused while calls wait in it or another queue overflows into it).
    RemoveQueue {
        queue: QueueId,
    },
    /// Add a member, or replace the membership of the same agent.
    AddMember {
        queue: QueueId,
        member: Member,
    },
    RemoveMember {
        queue: QueueId,
        agent: AgentId,
    },
    /// The agent logs in, ready or not.
    AgentLogin {
        agent: AgentId,
        ready: bool,
    },
    AgentLogout {
        agent: AgentId,
    },
    SetReady {
        agent: AgentId,
    },
    SetNotReady {
        agent: AgentId,
        reason: NotReadyReason,
    },
    /// The agent ends wrap-up before its time.
    EndWrapUp {
        agent: AgentId,
    },
    CallArrived(NewCall),
    /// The caller hung up before an agent answered.
    CallAbandoned {
        call: CallId,
    },
    OfferAnswered {
        call: CallId,
        agent: AgentId,
    },
    OfferRejected {
        call: CallId,
        agent: AgentId,
    },
    /// Another node had the agent first (several nodes share agents): no rejection is held
    /// against them, and the call is offered to someone else.
    OfferLost {
        call: CallId,
        agent: AgentId,
    },
    CallEnded {
        call: CallId,
        cause: EndCause,
    },
    /// The caller accepted the call-back offer (pressed 1).
    CallbackAccepted {
        call: CallId,
    },
}

/// Who must make a call-back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum TaskOwner {
    Agent(AgentId),
    Queue(QueueId),
}

/// Why a call-back task is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackReason {
    AbandonedWhileWaiting,
    DroppedMidCall,
    /// The caller accepted the call-back offered after the maximum wait.
    Requested,
}

/// Why an offer was taken back from an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    RingTimeout,
    /// Another agent answered first (ring-all).
    AnsweredElsewhere,
    CallerHungUp,
    Overflow,
    CallbackAccepted,
    /// The agent logged out or set not-ready while ringing.
    AgentLeft,
    /// The ACD restarted while the offer was ringing.
    Restart,
}

/// What the ACD asks the drivers to do or record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Output {
    /// Ring these agents for this call until `expires_at` (several only with ring-all).
    Offer {
        call: CallId,
        queue: QueueId,
        agents: Vec<AgentId>,
        expires_at: Timestamp,
    },
    /// Stop ringing this agent.
    CancelOffer {
        call: CallId,
        agent: AgentId,
        reason: CancelReason,
    },
    AgentStateChanged(StateChange),
    /// A caller has waited past the queue's alert threshold (for agents and supervisors).
    WaitAlert {
        call: CallId,
        queue: QueueId,
        waited: Duration,
    },
    /// The call moved to another queue after the maximum wait.
    Overflow {
        call: CallId,
        from: QueueId,
        to: QueueId,
    },
    /// Play the call-back offer ("press 1 to be called back").
    OfferCallback {
        call: CallId,
        queue: QueueId,
    },
    /// Create a call-back task at once.
    CallbackTaskNeeded {
        call: CallId,
        caller: String,
        owner: TaskOwner,
        reason: CallbackReason,
        at: Timestamp,
    },
}
