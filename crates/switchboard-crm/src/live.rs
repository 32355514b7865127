//! The API's line to the running call control (the SIP service in the same process): commands
//! on calls in progress, answered through a oneshot. The call control owns the calls; the API
//! only asks, so there is one writer of call state.
//!
//! The server makes the pair with [`live_channel`], gives the [`LiveHandle`] to the API
//! ([`crate::ApiState::with_live`]) and serves the [`LiveReceiver`] in its call-control loop.

use switchboard_core::{CallId, TenantId, UserId};
use tokio::sync::{mpsc, oneshot, watch};

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
    /// Ticks when the floor (agents' states, queues) changed; `None` when the call control
    /// does not report changes (the wallboard then refreshes on its periodic tick only).
    floor: Option<FloorChanges>,
}

/// A connected pair; `depth` bounds the commands waiting (the API answers 503 beyond it).
pub fn live_channel(depth: usize) -> (LiveHandle, LiveReceiver) {
    let (tx, rx) = mpsc::channel(depth.max(1));
    (LiveHandle { tx, floor: None }, rx)
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

    /// The same handle, with the call control's change signal (see [`FloorChanges`]).
    pub fn with_floor(mut self, floor: FloorChanges) -> Self {
        self.floor = Some(floor);
        self
    }

    /// A receiver that wakes when the floor changed, if the call control reports changes.
    pub fn floor_changes(&self) -> Option<watch::Receiver<u64>> {
        self.floor.as_ref().map(FloorChanges::subscribe)
    }
}

/// The call control's "something on the floor changed" signal: an agent's state, a caller
/// joining or leaving a queue, an offer. It carries no figures (a counter only), so the call
/// control pays one atomic update per change whatever the number of wallboards; each
/// wallboard then asks for its tenant's snapshot ([`LiveCommand::QueueLive`]) at its own pace,
/// which is where bursts are coalesced. Cheap to clone; every clone is the same signal.
#[derive(Debug, Clone)]
pub struct FloorChanges {
    tx: std::sync::Arc<watch::Sender<u64>>,
}

impl Default for FloorChanges {
    fn default() -> Self {
        Self::new()
    }
}

impl FloorChanges {
    pub fn new() -> FloorChanges {
        let (tx, _) = watch::channel(0);
        FloorChanges {
            tx: std::sync::Arc::new(tx),
        }
    }

    /// Marks a change; receivers see the latest count only (changes coalesce).
    pub fn notify(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver whose `changed()` wakes on the next [`FloorChanges::notify`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}
