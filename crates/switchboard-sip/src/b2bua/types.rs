//! The B2BUA's vocabulary: where a call goes, what it tells its driver, why calls end, and
//! the media plane it asks for SDP.

use std::fmt;
use std::time::Duration;

use switchboard_core::{CallId, Timestamp};

use crate::message::{Message, Request, Response, Transport, Uri};
use crate::transaction::{Peer, TxKey};

/// The two sides of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The side that sent the INVITE (the customer on inbound calls), leg A.
    Caller,
    /// The side we called (agent phone or trunk), leg B.
    Callee,
}

impl Leg {
    /// The opposite side.
    pub fn other(self) -> Leg {
        match self {
            Leg::Caller => Leg::Callee,
            Leg::Callee => Leg::Caller,
        }
    }

    /// `caller` / `callee`, as written into CDRs.
    pub fn as_str(self) -> &'static str {
        match self {
            Leg::Caller => "caller",
            Leg::Callee => "callee",
        }
    }
}

/// Digest credentials we answer a trunk's 401/407 with.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// One place to ring: a registered contact of an extension or a trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkTarget {
    /// The Request-URI (the binding's Contact, or `sip:<number>@<trunk host>`).
    pub uri: Uri,
    /// Where the INVITE goes: the address the phone registered from (so NAT works) or the
    /// trunk's address.
    pub peer: Peer,
    /// Answer a 401/407 from this target with these (trunks).
    pub credentials: Option<ClientCredentials>,
    /// The caller ID presented in From (a trunk's configured number); `None` keeps the caller's.
    pub caller_id: Option<String>,
}

/// Where the dial plan sends a new call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Ring every target at once; the first to answer gets the call.
    Fork {
        /// What the call was routed to, for the CDR: `extension:1001`, `trunk:main`.
        label: String,
        targets: Vec<ForkTarget>,
        /// Give up ringing after this long (no answer); `None` uses the configured default.
        ring_timeout: Option<Duration>,
    },
    /// Answer the call ourselves and hold it (music on hold) until [`super::B2bua::offer`]
    /// rings an agent: a queue call, distributed by the ACD.
    Queue { label: String, queue: String },
    /// Refuse the call with `status` (e.g. 404 unknown number, 480 not registered).
    Reject {
        label: String,
        status: u16,
        cause: EndCause,
    },
}

/// Why a call ended; the short stable strings go into CDRs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndCause {
    /// A party hung up after the call was answered.
    NormalClearing,
    /// The caller gave up before the answer (CANCEL).
    CallerCancel,
    /// The callee was busy (486/600).
    Busy,
    /// Nobody answered within the ring timeout.
    NoAnswer,
    /// The number or extension does not exist.
    NotFound,
    /// The extension exists but nothing is registered, or the target could not be reached.
    Unavailable,
    /// The callee declined (603) or failed with another final code.
    Rejected(u16),
    /// The two sides' media could not be matched (no common codec).
    MediaNegotiation,
    /// No RTP arrived for the media timeout (`media-timeout-…` from the media crate).
    MediaTimeout(&'static str),
    /// The caller never acknowledged our 200.
    NoAck,
    /// A blind transfer's target could not be reached; the caller was hung up on.
    TransferFailed,
    /// The call was ended by an operator or the system for this reason.
    System(&'static str),
}

impl EndCause {
    /// The CDR form.
    pub fn as_str(&self) -> &str {
        match self {
            EndCause::NormalClearing => "normal-clearing",
            EndCause::CallerCancel => "caller-cancel",
            EndCause::Busy => "busy",
            EndCause::NoAnswer => "no-answer",
            EndCause::NotFound => "not-found",
            EndCause::Unavailable => "unavailable",
            EndCause::Rejected(_) => "rejected",
            EndCause::MediaNegotiation => "media-negotiation-failed",
            EndCause::MediaTimeout(s) | EndCause::System(s) => s,
            EndCause::NoAck => "no-ack",
            EndCause::TransferFailed => "transfer-failed",
        }
    }
}

impl fmt::Display for EndCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupBy {
    Caller,
    Callee,
    System,
}

impl HangupBy {
    /// The CDR form.
    pub fn as_str(self) -> &'static str {
        match self {
            HangupBy::Caller => "caller",
            HangupBy::Callee => "callee",
            HangupBy::System => "system",
        }
    }
}

impl From<Leg> for HangupBy {
    fn from(leg: Leg) -> HangupBy {
        match leg {
            Leg::Caller => HangupBy::Caller,
            Leg::Callee => HangupBy::Callee,
        }
    }
}

/// What happened to a call, for the CDR, the ACD and the wallboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    Started {
        call: CallId,
        /// The caller's user part (number or extension).
        caller: String,
        /// The dialled user part.
        callee: String,
        /// What the dial plan chose.
        label: String,
        /// The caller leg's SIP Call-ID.
        sip_call_id: String,
        at: Timestamp,
    },
    Ringing {
        call: CallId,
        at: Timestamp,
    },
    Answered {
        call: CallId,
        /// The callee leg's SIP Call-ID.
        sip_call_id: String,
        /// Which fork target answered (index into the `Target::Fork` list).
        target: usize,
        at: Timestamp,
    },
    /// The customer answered a call we placed ([`super::B2bua::originate`]); it waits for
    /// [`super::B2bua::offer`] to ring its agent.
    CustomerAnswered {
        call: CallId,
        /// Leg A's SIP Call-ID.
        sip_call_id: String,
        at: Timestamp,
    },
    /// The call was answered by us and waits in `queue` for an agent.
    Queued {
        call: CallId,
        queue: String,
        at: Timestamp,
    },
    /// Every target of an [`super::B2bua::offer`] refused or failed (the call waits on).
    OfferFailed {
        call: CallId,
        status: u16,
        at: Timestamp,
    },
    /// The callee asked (REFER) to hand the caller over to `target` (the Refer-To user part);
    /// the driver routes it and calls [`super::B2bua::transfer`].
    TransferRequested {
        call: CallId,
        target: String,
        at: Timestamp,
    },
    /// The transfer target answered; it is the callee from now on.
    Transferred {
        call: CallId,
        sip_call_id: String,
        at: Timestamp,
    },
    /// A party put the other on hold (`sendonly`/`inactive`) or resumed.
    MediaDirection {
        call: CallId,
        from: Leg,
        at: Timestamp,
    },
    Ended {
        call: CallId,
        cause: EndCause,
        /// The final status the caller got, when the call never got answered.
        status: Option<u16>,
        by: HangupBy,
        at: Timestamp,
    },
}

/// What the B2BUA asks of its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Answer a server transaction.
    Respond { key: TxKey, response: Response },
    /// Start a client transaction (its key is `TxKey::for_outgoing_request(&request)`).
    Request { request: Request, to: Peer },
    /// Send outside any transaction (the ACK of a 2xx).
    Stateless { message: Message, to: Peer },
    /// Tell the rest of the server.
    Event(CallEvent),
}

/// Why the media plane refused an SDP; the caller hears `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFailure {
    /// 488 for "no common codec", 500 for "no ports left" and the like.
    pub status: u16,
    pub reason: String,
    /// A `Warning` header value (RFC 3261 §20.43) saying why, e.g. `399 host "no DTLS
    /// fingerprint"` for a WebRTC offer we cannot serve.
    pub warning: Option<String>,
}

impl MediaFailure {
    /// The response to `request` that refuses it for this reason.
    pub(crate) fn apply(&self, resp: &mut crate::message::Response) {
        resp.reason.clone_from(&self.reason);
        if let Some(w) = &self.warning {
            resp.headers.push("Warning", w);
        }
    }
}

/// The media side of the B2BUA, anchoring each call's RTP. Calls are synchronous so the core
/// stays a plain state machine; the server's implementation binds sockets (fast and
/// non-blocking) and tests use a fake.
pub trait MediaPlane {
    /// A new call with the caller's offer: set up the relay and return the offer to send the
    /// callee.
    fn open(&mut self, call: &CallId, caller_offer: &[u8]) -> Result<Vec<u8>, MediaFailure>;
    /// The callee answered with `answer`: finish leg B and return the answer for the caller.
    fn answer(&mut self, call: &CallId, callee_answer: &[u8]) -> Result<Vec<u8>, MediaFailure>;
    /// A re-INVITE from `from` (hold, resume, new address): return the offer for the other leg.
    fn reoffer(&mut self, call: &CallId, from: Leg, offer: &[u8]) -> Result<Vec<u8>, MediaFailure>;
    /// The other leg answered the re-offer: return the answer for `from`.
    fn reanswer(
        &mut self,
        call: &CallId,
        from: Leg,
        answer: &[u8],
    ) -> Result<Vec<u8>, MediaFailure>;
    /// A blind transfer: a fresh offer for the new callee on leg B (the caller's side of the
    /// relay does not change, so the caller needs no re-INVITE).
    fn retarget(&mut self, call: &CallId) -> Result<Vec<u8>, MediaFailure>;
    /// The new callee answered the retarget offer.
    fn retarget_answer(&mut self, call: &CallId, answer: &[u8]) -> Result<(), MediaFailure>;
    /// A queue call: answer the caller's offer ourselves (the relay plays music on hold to the
    /// caller until a callee is connected with [`MediaPlane::retarget`]).
    fn park(&mut self, call: &CallId, caller_offer: &[u8]) -> Result<Vec<u8>, MediaFailure>;
    /// The call is over: release its ports and finish its recording.
    fn close(&mut self, call: &CallId);
    /// A call we place ourselves (the dialer): set up the relay and return our offer for the
    /// customer (leg A).
    fn originate(&mut self, call: &CallId) -> Result<Vec<u8>, MediaFailure> {
        let _ = call;
        Err(MediaFailure {
            status: 500,
            reason: "Server Internal Error (this media plane places no calls)".into(),
            warning: None,
        })
    }
    /// The customer answered our offer with `answer`.
    fn originate_answer(&mut self, call: &CallId, answer: &[u8]) -> Result<(), MediaFailure> {
        let _ = (call, answer);
        Err(MediaFailure {
            status: 500,
            reason: "Server Internal Error (this media plane places no calls)".into(),
            warning: None,
        })
    }
}

/// Our own addresses, as written in Via and Contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct B2buaConfig {
    /// The SIP domain (caller ID URIs are `sip:<user>@<domain>`).
    pub domain: String,
    /// The host written in Via and Contact.
    pub advertised_host: String,
    pub udp_port: u16,
    pub tcp_port: u16,
    /// How long a call may ring before it ends as "no answer".
    pub ring_timeout: Duration,
    /// Calls at once; more are refused with 503.
    pub max_calls: usize,
    /// `User-Agent` / `Server` value.
    pub user_agent: String,
}

impl B2buaConfig {
    /// The port we listen on for `transport`.
    pub fn port_for(&self, transport: Transport) -> u16 {
        match transport {
            Transport::Udp => self.udp_port,
            _ => self.tcp_port,
        }
    }
}
