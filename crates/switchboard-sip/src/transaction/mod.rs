//! RFC 3261 §17 transactions as sans-IO state machines, with the RFC 6026 "Accepted" state
//! for INVITE 2xx. Time is a `std::time::Instant` passed in; nothing here sleeps or sends.
//!
//! Each transaction takes `handle(input, now)` and `handle_timeout(now)`, and hands back
//! [`TxEvent`]s through `poll_output()`; `poll_timeout()` says when to call it again.
//! [`TransactionLayer`] owns many of them, matches incoming messages to them by branch
//! (§17.1.3, §17.2.3) and says where to send what.

mod client_invite;
mod client_non_invite;
mod layer;
mod server_invite;
mod server_non_invite;

pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use layer::{LayerOutput, Peer, Role, TransactionLayer, TxKey};
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;

use std::time::{Duration, Instant};

use rand::Rng;

use crate::message::{BRANCH_COOKIE, CSeq, Method, ParseError, Request, Response};

/// Errors of the transaction layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("request has no usable top Via with an RFC 3261 branch")]
    NoBranch,
    #[error("a transaction with this key already exists")]
    Duplicate,
    #[error("no such transaction")]
    Unknown,
    #[error("ACK is not sent in a transaction; send it directly")]
    AckNotTransactional,
    #[error("the transaction can no longer send a response in its state")]
    WrongState,
    #[error("malformed message: {0}")]
    Malformed(#[from] ParseError),
}

/// RFC 3261 timer base values (§17.1.1.1, table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64×T1: timers B, F, H, J, L, M.
    pub fn t64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// Inputs of a client transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientInput {
    /// A response matched to this transaction.
    Response(Response),
    /// The transport could not send.
    TransportError,
}

/// Inputs of a server transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerInput {
    /// A request matched to this transaction: a retransmission, or the ACK.
    Request(Request),
    /// The TU's response to send.
    Respond(Response),
    /// The transport could not send.
    TransportError,
}

/// What a single transaction asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxEvent {
    /// Send this request to the transaction's peer (first send or retransmission).
    SendRequest(Request),
    /// Send this response to the transaction's peer.
    SendResponse(Response),
    /// A response for the TU (client transactions).
    Response(Response),
    /// The ACK to a 2xx reached the server INVITE transaction (RFC 6026 Accepted).
    Ack(Request),
    /// No final response (client) or no ACK (server) in time.
    Timeout,
    /// The transport reported a failure.
    TransportError,
    /// The transaction is over and can be forgotten.
    Terminated,
}

/// A new RFC 3261 branch value: the magic cookie plus 64 random bits.
pub fn new_branch() -> String {
    format!("{BRANCH_COOKIE}{:016x}", rand::thread_rng().r#gen::<u64>())
}

/// A new tag for From/To (RFC 3261 §19.3: at least 32 random bits).
pub fn new_tag() -> String {
    format!("{:016x}", rand::thread_rng().r#gen::<u64>())
}

/// The ACK for a non-2xx final response (§17.1.1.3): same Request-URI, Call-ID, From, top Via
/// and Route as the INVITE, the To of the response, CSeq number of the INVITE.
pub fn ack_for_non_2xx(invite: &Request, response: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    if let Some(via) = invite.headers.list("Via").first() {
        ack.headers.push("Via", via);
    }
    ack.headers.push("Max-Forwards", "70");
    copy(invite, &mut ack, "From");
    match response.headers.get("To") {
        Some(to) => ack.headers.push("To", to),
        None => copy(invite, &mut ack, "To"),
    }
    copy(invite, &mut ack, "Call-ID");
    if let Ok(cseq) = invite.headers.cseq() {
        let cseq = CSeq {
            seq: cseq.seq,
            method: Method::Ack,
        };
        ack.headers.push("CSeq", &cseq.to_string());
    }
    copy(invite, &mut ack, "Route");
    ack
}

/// The CANCEL for a pending request (§9.1): same Request-URI, Call-ID, From, To, top Via
/// (hence the same branch) and Route; CSeq number kept, method CANCEL.
pub fn cancel_for(request: &Request) -> Request {
    let mut cancel = Request::new(Method::Cancel, request.uri.clone());
    if let Some(via) = request.headers.list("Via").first() {
        cancel.headers.push("Via", via);
    }
    cancel.headers.push("Max-Forwards", "70");
    for name in ["From", "To", "Call-ID"] {
        copy(request, &mut cancel, name);
    }
    if let Ok(cseq) = request.headers.cseq() {
        let cseq = CSeq {
            seq: cseq.seq,
            method: Method::Cancel,
        };
        cancel.headers.push("CSeq", &cseq.to_string());
    }
    copy(request, &mut cancel, "Route");
    cancel
}

fn copy(from: &Request, to: &mut Request, name: &str) {
    for v in from.headers.get_all(name) {
        to.headers.push(name, v);
    }
}

/// A deadline and the interval that produced it, for timers that double (A, E, G).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub at: Instant,
    pub interval: Duration,
}

impl Backoff {
    pub fn start(now: Instant, interval: Duration) -> Self {
        Backoff {
            at: now + interval,
            interval,
        }
    }

    /// Doubles the interval (capped when `cap` is given) and re-arms from `now`.
    pub fn next(self, now: Instant, cap: Option<Duration>) -> Self {
        let doubled = self.interval.saturating_mul(2);
        let interval = cap.map_or(doubled, |c| doubled.min(c));
        Backoff {
            at: now + interval,
            interval,
        }
    }
}

/// The earliest of some optional deadlines.
pub(crate) fn earliest(deadlines: &[Option<Instant>]) -> Option<Instant> {
    deadlines.iter().flatten().min().copied()
}

/// `Some(now + d)` on unreliable transports, `Some(now)` (fire at once) on reliable ones; the
/// "wait for retransmissions" timers D, I, J, K are zero over TCP (§17).
pub(crate) fn linger(reliable: bool, now: Instant, d: Duration) -> Option<Instant> {
    Some(if reliable { now } else { now + d })
}

#[cfg(test)]
pub(crate) mod tests_support {
    use std::time::Duration;

    use crate::message::{Message, Request, Response, parse_datagram, response_to};

    pub fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    pub fn parse_request(text: &str) -> Request {
        match parse_datagram(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    pub fn invite() -> Request {
        parse_request(
            "INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKinv1\r\n\
             Max-Forwards: 70\r\nTo: <sip:bob@b.com>\r\nFrom: <sip:a@a.com>;tag=1\r\n\
             Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.5>\r\n\
             Content-Length: 0\r\n\r\n",
        )
    }

    pub fn register() -> Request {
        parse_request(
            "REGISTER sip:b.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKreg1\r\n\
             Max-Forwards: 70\r\nTo: <sip:a@b.com>\r\nFrom: <sip:a@b.com>;tag=9\r\n\
             Call-ID: reg-1\r\nCSeq: 7 REGISTER\r\nContact: <sip:a@10.0.0.5>\r\n\
             Content-Length: 0\r\n\r\n",
        )
    }

    pub fn response_to_req(req: &Request, status: u16) -> Response {
        response_to(req, status, Some("totag"))
    }

    /// The ACK a client sends for a final response to `invite` (same branch as the INVITE).
    pub fn ack_for(invite: &Request) -> Request {
        super::ack_for_non_2xx(invite, &response_to_req(invite, 486))
    }
}
