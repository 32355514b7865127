//! What goes into the dialer and what comes out. Adapters translate: the campaign scheduler
//! supplies [`Candidate`]s, the ACD supplies agent states, the B2BUA reports call progress and
//! carries out [`Output`]s (originate, cancel, bridge, play the abandon message).

use std::time::Duration;

use switchboard_core::{AgentId, CallId, CustomerId, E164, TaskId, Timestamp};

use crate::config::{AbandonMessage, Mode};

/// A number the scheduler wants called, with its calling-window permission already decided:
/// it may be dialled from `allowed_from` until (not including) `allowed_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub task: TaskId,
    pub number: E164,
    pub customer: Option<CustomerId>,
    pub allowed_from: Timestamp,
    pub allowed_until: Timestamp,
}

/// An agent's state as the ACD sees it. The dialer tracks the finer states it causes itself
/// (previewing, reserved for a ringing call, talking on a dialer call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    /// Logged in and free for a dialer call.
    Ready,
    /// Finishing notes after a call; `expected_free_at` when the ACD can tell.
    WrapUp { expected_free_at: Option<Timestamp> },
    /// Busy with something the dialer did not give (an inbound call, a manual call).
    Busy,
    /// Logged in but not ready (away).
    Away,
    /// Gone from the campaign.
    LoggedOut,
}

/// Why a ringing call ended without a person answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailCause {
    Busy,
    Rejected,
    Unreachable,
    /// The network gave up before our ring timeout.
    NoAnswer,
}

/// Everything the dialer reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The scheduler offers a number to call.
    AddCandidate(Candidate),
    /// The scheduler takes an offered number back (done elsewhere, window revoked, ...).
    WithdrawCandidate(TaskId),
    /// The ACD reports an agent's state.
    Agent { agent: AgentId, state: AgentState },
    /// Preview mode: the agent clicked "dial".
    PreviewDial { agent: AgentId },
    /// Preview mode: the agent passed on the customer shown.
    PreviewSkip { agent: AgentId },
    /// A person answered the call.
    Answered { call: CallId },
    /// The call ended before anyone answered.
    Failed { call: CallId, cause: FailCause },
    /// The customer or agent hung up an answered call.
    Ended { call: CallId },
    /// The agent a `Connect` named could not be reached (their phone refused, failed or did
    /// not pick up in time): the customer is abandoned after all.
    ConnectFailed { call: CallId },
    /// A supervisor changes the campaign's dialing mode.
    SetMode(Mode),
}

/// Place a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originate {
    pub call: CallId,
    pub task: TaskId,
    pub number: E164,
    pub caller_id: E164,
    /// The agent waiting for this call (preview, progressive); `None` for predictive calls,
    /// which go to whichever agent is free when the customer answers.
    pub reserved_agent: Option<AgentId>,
    /// The trunk must let it ring this long; the dialer cancels it then (at least 15 s).
    pub ring_timeout: Duration,
}

/// Why a candidate goes back to the scheduler unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseReason {
    /// Its calling window closed before it could be dialled.
    WindowClosed,
    /// A call to the number was abandoned less than 72 h ago.
    RecentlyAbandoned { until: Timestamp },
    /// The agent passed on it in preview.
    SkippedByAgent,
}

/// Why the dialer changed the way it paces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchReason {
    /// The abandonment budget is used up: only calls with a free agent are placed.
    BudgetExhausted,
    /// Enough budget again to dial ahead of agents.
    BudgetRestored,
    /// A supervisor asked for it.
    Requested,
}

/// Decisions for the adapters to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Preview mode: show this customer to the agent.
    Preview {
        agent: AgentId,
        task: TaskId,
        number: E164,
        customer: Option<CustomerId>,
        /// When the dialer will dial by itself if the agent does nothing.
        auto_dial_at: Option<Timestamp>,
    },
    /// Place this call now.
    Originate(Originate),
    /// The call rang the full ring timeout: cancel it as "no answer".
    CancelNoAnswer { call: CallId, task: TaskId },
    /// Bridge the answered call to the agent and pop the customer's file.
    Connect {
        call: CallId,
        agent: AgentId,
        task: TaskId,
        customer: Option<CustomerId>,
    },
    /// The answered call found no agent within 2 s: play the message (if the customer is still
    /// there), hang up, and log it as abandoned.
    Abandon {
        call: CallId,
        task: TaskId,
        number: E164,
        answered_at: Timestamp,
        message: Option<AbandonMessage>,
    },
    /// A candidate returned to the scheduler.
    Released { task: TaskId, reason: ReleaseReason },
    /// The pacing actually used changed.
    SwitchMode { to: Mode, reason: SwitchReason },
}
