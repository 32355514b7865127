//! The API's line to the running call control (the SIP service in the same process): commands
//! on calls in progress, answered through a oneshot. The call control owns the calls; the API
//! only asks, so there is one writer of call state.
//!
//! The server makes the pair with [`live_channel`], gives the [`LiveHandle`] to the API
//! ([`crate::ApiState::with_live`]) and serves the [`LiveReceiver`] in its call-control loop.

use switchboard_core::{CallId, TenantId, UserId};
use tokio::sync::{mpsc, oneshot};

/// What the API asks of a call in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveCommand {
    /// Stop writing audio (a card number is being read out); the gap is marked in the file.
    PauseRecording {
        tenant: TenantId,
        call: CallId,
    },
    ResumeRecording {
        tenant: TenantId,
        call: CallId,
    },
    /// End the call now (a supervisor's decision); both parties get BYE.
    Hangup {
        tenant: TenantId,
        call: CallId,
    },
    /// An agent logs in or out, becomes ready or not ready, or ends wrap-up.
    AgentState {
        tenant: TenantId,
        agent: UserId,
        action: AgentStateAction,
    },
    /// The live figures of the tenant's queues and agents (wallboard).
    QueueLive {
        tenant: TenantId,
    },
    /// The customer the dialer is previewing for an agent (preview campaigns); `Json` or
    /// `Done` when none.
    DialerPreview {
        tenant: TenantId,
        agent: UserId,
    },
    /// The agent dials (`dial`) or passes on the previewed customer.
    DialerPreviewAction {
        tenant: TenantId,
        agent: UserId,
        dial: bool,
    },
}

/// What an agent asks of their state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentStateAction {
    Login { ready: bool },
    Logout,
    Ready,
    NotReady { reason: String },
    EndWrapUp,
}

/// What a command gives back.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveReply {
    Done,
    Json(serde_json::Value),
}

/// Why a command did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// No such call in progress for this tenant (ended, or never existed).
    #[error("call not in progress")]
    NotInProgress,
    /// The call exists but the command does not apply (e.g. it is not recorded).
    #[error("{0}")]
    NotApplicable(String),
    /// The call control is not running (starting, stopping, or not configured).
    #[error("call control is not available")]
    Unavailable,
}

/// One command and where its answer goes.
pub type LiveRequest = (LiveCommand, oneshot::Sender<Result<LiveReply, LiveError>>);
/// The call control's end of the channel.
pub type LiveReceiver = mpsc::Receiver<LiveRequest>;

/// The API's end of the channel; cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveHandle {
    tx: mpsc::Sender<LiveRequest>,
}

/// A connected pair; `depth` bounds the commands waiting (the API answers 503 beyond it).
pub fn live_channel(depth: usize) -> (LiveHandle, LiveReceiver) {
    let (tx, rx) = mpsc::channel(depth.max(1));
    (LiveHandle { tx }, rx)
}

impl LiveHandle {
    /// Sends `command` and waits for the call control's answer.
    pub async fn send(&self, command: LiveCommand) -> Result<LiveReply, LiveError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send((command, reply))
            .map_err(|_| LiveError::Unavailable)?;
        answer.await.map_err(|_| LiveError::Unavailable)?
    }
}
