//! One call's state: the caller's INVITE transaction and dialog, the forked INVITEs towards
//! the callee and, once one answers, the callee dialog. Also the builders for the messages
//! the B2BUA originates, so `mod.rs` reads as the protocol.

use switchboard_core::Timestamp;

use super::types::{B2buaConfig, ClientCredentials, ForkTarget, Leg};
use crate::dialog::{Dialog, LocalEndpoint};
use crate::message::{CSeq, Method, NameAddr, Request, Response, Transport, Uri, response_to};
use crate::transaction::{Peer, TxKey, new_tag};

/// How far the call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// INVITEs out, no final answer yet.
    Ringing,
    /// A callee answered; we sent 200 to the caller.
    Answered,
    /// Answered by us, waiting in a queue for an agent (music on hold); also an originated
    /// call the customer answered, waiting for its agent.
    Queued,
    /// A call we placed ourselves (the dialer): our INVITE to the customer is out.
    Dialing,
    /// A new callee is ringing for an answered or queued caller: after a transfer (REFER) or
    /// an ACD offer.
    Offering(OfferKind),
}

/// What a new callee is rung for, which decides what happens when nobody answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OfferKind {
    /// Blind transfer: the caller is hung up on if the target fails.
    Transfer,
    /// ACD offer: the caller goes back to waiting in the queue.
    Queue,
}

/// One forked INVITE towards the callee side.
#[derive(Debug)]
pub(super) struct Branch {
    pub target: ForkTarget,
    pub invite: Request,
    pub key: TxKey,
    pub state: BranchState,
    /// We already answered one auth challenge on this branch.
    pub authenticated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BranchState {
    Calling,
    Early,
    Answered,
    Failed(u16),
    Cancelled,
}

impl BranchState {
    pub fn is_pending(self) -> bool {
        matches!(self, BranchState::Calling | BranchState::Early)
    }
}

/// A re-INVITE relayed from one leg to the other, waiting for the other's answer.
#[derive(Debug)]
pub(super) struct PendingReinvite {
    pub from: Leg,
    pub server_key: TxKey,
    pub server_request: Request,
}

#[derive(Debug)]
pub(super) struct Call {
    pub phase: Phase,
    /// The caller's INVITE, its transaction and where it came from.
    pub caller_invite: Request,
    pub caller_key: TxKey,
    pub caller_peer: Peer,
    /// Our To tag towards the caller.
    pub caller_tag: String,
    pub caller_dialog: Option<Dialog>,
    pub callee_call_id: String,
    pub branches: Vec<Branch>,
    pub callee: Option<(usize, Dialog)>,
    pub ringing_sent: bool,
    pub ring_deadline: Option<Timestamp>,
    pub pending_reinvite: Option<PendingReinvite>,
    /// We placed the call (the dialer): leg A is the customer we called, `caller_invite` is our
    /// INVITE to them and `caller_dialog` a UAC dialog.
    pub originated: bool,
}

impl Call {
    pub fn dialog_mut(&mut self, leg: Leg) -> Option<&mut Dialog> {
        match leg {
            Leg::Caller => self.caller_dialog.as_mut(),
            Leg::Callee => self.callee.as_mut().map(|(_, d)| d),
        }
    }

    pub fn peer_of(&self, leg: Leg) -> Option<Peer> {
        match leg {
            Leg::Caller => Some(self.caller_peer),
            Leg::Callee => self
                .callee
                .as_ref()
                .map(|(i, _)| self.branches[*i].target.peer),
        }
    }

    pub fn pending_branches(&self) -> impl Iterator<Item = (usize, &Branch)> {
        self.branches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.state.is_pending())
    }
}

/// Our Via/Contact for messages sent over `transport`.
pub(super) fn endpoint(config: &B2buaConfig, transport: Transport) -> LocalEndpoint {
    let port = config.port_for(transport);
    let mut contact = Uri::sip(Some("switchboard"), &config.advertised_host, Some(port));
    if transport != Transport::Udp {
        contact.params.set(
            "transport",
            Some(&transport.to_string().to_ascii_lowercase()),
        );
    }
    LocalEndpoint {
        transport,
        host: config.advertised_host.clone(),
        port: Some(port),
        contact,
    }
}

/// What the callee's INVITE needs from the caller's.
pub(super) struct CalleeInvite<'a> {
    pub config: &'a B2buaConfig,
    pub call_id: &'a str,
    pub from_tag: &'a str,
    pub caller_user: &'a str,
    pub caller_display: Option<&'a str>,
    pub callee_user: &'a str,
    pub max_forwards: u32,
    pub cseq: u32,
    pub sdp: &'a [u8],
    /// Extra header lines (name, value), e.g. the auto-answer hint on a dialer call's agent leg.
    pub extra_headers: &'a [(&'static str, String)],
}

/// A new INVITE towards one fork target (RFC 3261 §8.1.1): a fresh branch, our Contact, the
/// caller's identity (or the trunk's caller ID) in From.
pub(super) fn callee_invite(p: &CalleeInvite<'_>, target: &ForkTarget) -> Request {
    let ep = endpoint(p.config, target.peer.transport);
    let mut req = Request::new(Method::Invite, target.uri.clone());
    req.headers.push("Via", &ep.via().to_string());
    req.headers
        .push("Max-Forwards", &p.max_forwards.to_string());
    let from_user = target.caller_id.as_deref().unwrap_or(p.caller_user);
    let mut from = NameAddr::new(Uri::sip(Some(from_user), &p.config.domain, None));
    from.display = p
        .caller_display
        .filter(|_| target.caller_id.is_none())
        .map(str::to_owned);
    from.params.set("tag", Some(p.from_tag));
    req.headers.push("From", &from.to_string());
    let to_host = if target.credentials.is_some() {
        target.uri.host.clone()
    } else {
        p.config.domain.clone()
    };
    let to = NameAddr::new(Uri::sip(Some(p.callee_user), &to_host, None));
    req.headers.push("To", &to.to_string());
    req.headers.push("Call-ID", p.call_id);
    req.headers.push(
        "CSeq",
        &CSeq {
            seq: p.cseq,
            method: Method::Invite,
        }
        .to_string(),
    );
    req.headers.push("Contact", &format!("<{}>", ep.contact));
    req.headers.push("Allow", super::ALLOW);
    req.headers.push("User-Agent", &p.config.user_agent);
    for (name, value) in p.extra_headers {
        req.headers.push(name, value);
    }
    if !p.sdp.is_empty() {
        req.headers.push("Content-Type", "application/sdp");
        req.body = p.sdp.to_vec();
    }
    req
}

/// The same INVITE again with digest credentials for `challenge_header` (a trunk's 401/407):
/// a new branch and the next CSeq (RFC 3261 §22.2).
pub(super) fn with_credentials(
    invite: &Request,
    response: &Response,
    credentials: &ClientCredentials,
    endpoint: &LocalEndpoint,
) -> Option<Request> {
    let (challenge_header, answer_header) = match response.status {
        401 => ("WWW-Authenticate", "Authorization"),
        407 => ("Proxy-Authenticate", "Proxy-Authorization"),
        _ => return None,
    };
    let challenge = response
        .headers
        .get_all(challenge_header)
        .find_map(|v| crate::auth::Challenge::parse(v).ok())?;
    let mut req = invite.clone();
    let cseq = invite.headers.cseq().ok()?;
    req.headers.set(
        "CSeq",
        &CSeq {
            seq: cseq.seq.saturating_add(1),
            method: Method::Invite,
        }
        .to_string(),
    );
    req.headers.set("Via", &endpoint.via().to_string());
    let uri = invite.uri.to_string();
    let answer = challenge.answer(
        &credentials.username,
        &credentials.password,
        "INVITE",
        &uri,
        1,
        &new_tag(),
    );
    req.headers.push(answer_header, &answer);
    Some(req)
}

/// A response to the caller with our To tag and Contact (a dialog-creating 1xx/2xx).
pub(super) fn caller_response(
    call: &Call,
    config: &B2buaConfig,
    status: u16,
    sdp: Option<Vec<u8>>,
) -> Response {
    let mut resp = response_to(&call.caller_invite, status, Some(&call.caller_tag));
    if status < 300 {
        let ep = endpoint(config, call.caller_peer.transport);
        resp.headers.push("Contact", &format!("<{}>", ep.contact));
        resp.headers.push("Allow", super::ALLOW);
    }
    resp.headers.push("Server", &config.user_agent);
    if let Some(sdp) = sdp {
        resp.headers.push("Content-Type", "application/sdp");
        resp.body = sdp;
    }
    resp
}

/// The user part of a URI, or its host when it has none.
pub(super) fn user_of(uri: &Uri) -> String {
    uri.user.clone().unwrap_or_else(|| uri.host.clone())
}

/// A fresh Call-ID for the callee leg (never the caller's: the legs are independent).
pub(super) fn new_call_id(config: &B2buaConfig) -> String {
    format!("{}@{}", new_tag(), config.advertised_host)
}
