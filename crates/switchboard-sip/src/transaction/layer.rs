//! The transaction layer: owns every live transaction, matches incoming messages to them
//! (RFC 3261 §17.1.3 for responses, §17.2.3 for requests), and turns their events into
//! "send this there" and "tell the TU this" outputs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use super::{
    ClientInput, ClientInvite, ClientNonInvite, ServerInput, ServerInvite, ServerNonInvite, Timers,
    TxError, TxEvent,
};
use crate::message::{BRANCH_COOKIE, Message, Method, Request, Response, Transport};

/// The far end of a transaction: where its messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

/// Which side of the transaction we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Client,
    Server,
}

/// Identifies a transaction: branch, sent-by (server side) and method, with ACK folded into
/// INVITE so the ACK of an error response finds its INVITE transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxKey {
    role: Role,
    branch: String,
    sent_by: String,
    method: String,
}

impl TxKey {
    /// The key of the server transaction a received request belongs to. Requests without an
    /// RFC 3261 branch (RFC 2543 peers) are keyed on Call-ID, From tag, CSeq number and Via.
    pub fn for_incoming_request(req: &Request) -> Result<TxKey, TxError> {
        let via = req.headers.top_via()?;
        let method = match req.method {
            Method::Ack => Method::Invite,
            ref m => m.clone(),
        };
        let branch = match via.branch() {
            Some(b) if b.starts_with(BRANCH_COOKIE) => b.to_owned(),
            _ => format!(
                "2543:{}:{}:{}",
                req.headers.call_id()?,
                req.headers.from()?.tag().unwrap_or(""),
                req.headers.cseq()?.seq
            ),
        };
        Ok(TxKey {
            role: Role::Server,
            branch,
            sent_by: via.sent_by().to_ascii_lowercase(),
            method: method.as_str().to_owned(),
        })
    }

    /// The key of the client transaction a request we send creates.
    pub fn for_outgoing_request(req: &Request) -> Result<TxKey, TxError> {
        let via = req.headers.top_via()?;
        let branch = via
            .branch()
            .filter(|b| b.starts_with(BRANCH_COOKIE))
            .ok_or(TxError::NoBranch)?;
        Ok(TxKey {
            role: Role::Client,
            branch: branch.to_owned(),
            sent_by: String::new(),
            method: req.method.as_str().to_owned(),
        })
    }

    /// The key of the client transaction sending `req` starts; an ACK starts none (§17.1.1.3).
    pub fn for_client_transaction(req: &Request) -> Result<TxKey, TxError> {
        if req.method == Method::Ack {
            return Err(TxError::AckNotTransactional);
        }
        TxKey::for_outgoing_request(req)
    }

    /// The key of the client transaction a received response belongs to.
    pub fn for_response(resp: &Response) -> Result<TxKey, TxError> {
        let via = resp.headers.top_via()?;
        let branch = via.branch().ok_or(TxError::NoBranch)?;
        Ok(TxKey {
            role: Role::Client,
            branch: branch.to_owned(),
            sent_by: String::new(),
            method: resp.headers.cseq()?.method.as_str().to_owned(),
        })
    }

    /// For a CANCEL's server transaction: the INVITE transaction it cancels (same branch).
    pub fn cancelled_invite(&self) -> Option<TxKey> {
        (self.method == "CANCEL").then(|| TxKey {
            method: "INVITE".to_owned(),
            ..self.clone()
        })
    }

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The branch (or the RFC 2543 substitute).
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The method (ACK counted as INVITE).
    pub fn method(&self) -> &str {
        &self.method
    }
}

/// What the layer asks of its driver and its TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerOutput {
    /// Put this message on the wire to `to`.
    Send { to: Peer, message: Message },
    /// A new request for the TU; answer it with [`TransactionLayer::respond`] using `key`.
    Request {
        key: TxKey,
        request: Request,
        from: Peer,
    },
    /// An ACK outside any error-response transaction: the ACK of a 2xx. `invite` names the
    /// accepted INVITE server transaction it matched (which stops retransmitting the 2xx).
    Ack {
        request: Request,
        from: Peer,
        invite: Option<TxKey>,
    },
    /// A response for a request the TU sent.
    Response { key: TxKey, response: Response },
    /// A response matching no transaction (e.g. a 2xx retransmitted after ours ended); the
    /// dialog layer may need to ACK it again.
    StrayResponse { response: Response, from: Peer },
    /// Timer B/F (no final response) or H/L (no ACK) fired.
    Timeout { key: TxKey },
    /// The transport failed for this transaction.
    TransportError { key: TxKey },
    /// The transaction is gone.
    Terminated { key: TxKey },
}

// Named after the RFC's four machines; the shared suffix is the point.
#[allow(clippy::enum_variant_names)]
#[derive(Debug)]
enum Tx {
    ClientInvite(ClientInvite),
    ClientNonInvite(ClientNonInvite),
    ServerInvite(ServerInvite),
    ServerNonInvite(ServerNonInvite),
}

impl Tx {
    fn poll_output(&mut self) -> Option<TxEvent> {
        match self {
            Tx::ClientInvite(t) => t.poll_output(),
            Tx::ClientNonInvite(t) => t.poll_output(),
            Tx::ServerInvite(t) => t.poll_output(),
            Tx::ServerNonInvite(t) => t.poll_output(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Tx::ClientInvite(t) => t.poll_timeout(),
            Tx::ClientNonInvite(t) => t.poll_timeout(),
            Tx::ServerInvite(t) => t.poll_timeout(),
            Tx::ServerNonInvite(t) => t.poll_timeout(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Tx::ClientInvite(t) => t.handle_timeout(now),
            Tx::ClientNonInvite(t) => t.handle_timeout(now),
            Tx::ServerInvite(t) => t.handle_timeout(now),
            Tx::ServerNonInvite(t) => t.handle_timeout(now),
        }
    }

    fn handle_client(&mut self, input: ClientInput, now: Instant) {
        match self {
            Tx::ClientInvite(t) => t.handle(input, now),
            Tx::ClientNonInvite(t) => t.handle(input, now),
            _ => {}
        }
    }

    fn handle_server(&mut self, input: ServerInput, now: Instant) {
        match self {
            Tx::ServerInvite(t) => t.handle(input, now),
            Tx::ServerNonInvite(t) => t.handle(input, now),
            _ => {}
        }
    }
}

#[derive(Debug)]
struct Entry {
    tx: Tx,
    peer: Peer,
    /// The deadline already in the heap, so unchanged deadlines are not pushed again.
    scheduled: Option<Instant>,
    /// (Call-ID, CSeq) of a server INVITE that sent a 2xx, for matching its ACK.
    ack_key: Option<(String, u32)>,
}

/// Owns and drives every transaction of one SIP endpoint.
#[derive(Debug, Default)]
pub struct TransactionLayer {
    timers: Timers,
    txs: HashMap<TxKey, Entry>,
    accepted: HashMap<(String, u32), TxKey>,
    deadlines: BinaryHeap<Reverse<(Instant, TxKey)>>,
    out: VecDeque<LayerOutput>,
}

impl TransactionLayer {
    /// An empty layer using the given timer values.
    pub fn new(timers: Timers) -> Self {
        TransactionLayer {
            timers,
            ..TransactionLayer::default()
        }
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// True if no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// True if the transaction is live.
    pub fn contains(&self, key: &TxKey) -> bool {
        self.txs.contains_key(key)
    }

    /// The request a live transaction carries.
    pub fn request(&self, key: &TxKey) -> Option<&Request> {
        self.txs.get(key).map(|e| match &e.tx {
            Tx::ClientInvite(t) => t.request(),
            Tx::ClientNonInvite(t) => t.request(),
            Tx::ServerInvite(t) => t.request(),
            Tx::ServerNonInvite(t) => t.request(),
        })
    }

    /// A message arrived from `from` (already parsed; Via already stamped for requests).
    pub fn receive(&mut self, msg: Message, from: Peer, now: Instant) -> Result<(), TxError> {
        match msg {
            Message::Request(req) => self.receive_request(req, from, now),
            Message::Response(resp) => {
                let key = TxKey::for_response(&resp)?;
                match self.txs.get_mut(&key) {
                    Some(entry) => {
                        entry.tx.handle_client(ClientInput::Response(resp), now);
                        self.drain(&key);
                    }
                    None => self.out.push_back(LayerOutput::StrayResponse {
                        response: resp,
                        from,
                    }),
                }
                Ok(())
            }
        }
    }

    fn receive_request(&mut self, req: Request, from: Peer, now: Instant) -> Result<(), TxError> {
        let key = TxKey::for_incoming_request(&req)?;
        if let Some(entry) = self.txs.get_mut(&key) {
            entry.tx.handle_server(ServerInput::Request(req), now);
            self.drain(&key);
            return Ok(());
        }
        if req.method == Method::Ack {
            let ack_key = (req.headers.call_id()?.to_owned(), req.headers.cseq()?.seq);
            if let Some(invite) = self.accepted.get(&ack_key).cloned()
                && let Some(entry) = self.txs.get_mut(&invite)
            {
                entry.tx.handle_server(ServerInput::Request(req), now);
                self.drain(&invite);
            } else {
                self.out.push_back(LayerOutput::Ack {
                    request: req,
                    from,
                    invite: None,
                });
            }
            return Ok(());
        }
        let reliable = from.transport.is_reliable();
        let tx = if req.method == Method::Invite {
            Tx::ServerInvite(ServerInvite::new(req.clone(), reliable, self.timers))
        } else {
            Tx::ServerNonInvite(ServerNonInvite::new(req.clone(), reliable, self.timers))
        };
        self.insert(key.clone(), tx, from);
        self.out.push_back(LayerOutput::Request {
            key: key.clone(),
            request: req,
            from,
        });
        self.drain(&key);
        Ok(())
    }

    /// Sends the TU's response on a server transaction.
    pub fn respond(&mut self, key: &TxKey, resp: Response, now: Instant) -> Result<(), TxError> {
        let entry = self.txs.get_mut(key).ok_or(TxError::Unknown)?;
        let is_2xx = (200..300).contains(&resp.status);
        match &mut entry.tx {
            Tx::ServerInvite(t) if t.can_respond() => {
                t.handle(ServerInput::Respond(resp), now);
                if is_2xx && t.is_accepted() && entry.ack_key.is_none() {
                    let r = t.request();
                    let ack_key = (r.headers.call_id()?.to_owned(), r.headers.cseq()?.seq);
                    entry.ack_key = Some(ack_key.clone());
                    self.accepted.insert(ack_key, key.clone());
                }
            }
            Tx::ServerNonInvite(t) if t.can_respond() => t.handle(ServerInput::Respond(resp), now),
            _ => return Err(TxError::WrongState),
        }
        self.drain(key);
        Ok(())
    }

    /// Starts a client transaction for `req` towards `to`. The top Via must carry a fresh
    /// RFC 3261 branch (see [`super::new_branch`]).
    pub fn send_request(&mut self, req: Request, to: Peer, now: Instant) -> Result<TxKey, TxError> {
        let key = TxKey::for_client_transaction(&req)?;
        if self.txs.contains_key(&key) {
            return Err(TxError::Duplicate);
        }
        let reliable = to.transport.is_reliable();
        let tx = if req.method == Method::Invite {
            Tx::ClientInvite(ClientInvite::new(req, reliable, self.timers, now))
        } else {
            Tx::ClientNonInvite(ClientNonInvite::new(req, reliable, self.timers, now))
        };
        self.insert(key.clone(), tx, to);
        self.drain(&key);
        Ok(key)
    }

    /// Sends a message outside any transaction (the ACK of a 2xx, a stateless 400).
    pub fn send_stateless(&mut self, message: Message, to: Peer) {
        self.out.push_back(LayerOutput::Send { to, message });
    }

    /// The transport failed to deliver for this transaction.
    pub fn transport_error(&mut self, key: &TxKey, now: Instant) {
        if let Some(entry) = self.txs.get_mut(key) {
            match key.role {
                Role::Client => entry.tx.handle_client(ClientInput::TransportError, now),
                Role::Server => entry.tx.handle_server(ServerInput::TransportError, now),
            }
            self.drain(key);
        }
    }

    /// Fires every transaction timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.deadlines.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, key))) = self.deadlines.pop() else {
                break;
            };
            let Some(entry) = self.txs.get_mut(&key) else {
                continue;
            };
            if entry.scheduled != Some(at) {
                // Stale: the deadline moved since this was pushed.
                continue;
            }
            entry.scheduled = None;
            entry.tx.handle_timeout(now);
            self.drain(&key);
        }
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<LayerOutput> {
        self.out.pop_front()
    }

    /// The earliest instant `handle_timeout` must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    fn insert(&mut self, key: TxKey, tx: Tx, peer: Peer) {
        self.txs.insert(
            key,
            Entry {
                tx,
                peer,
                scheduled: None,
                ack_key: None,
            },
        );
    }

    /// Moves a transaction's events to the layer's outputs and re-arms its deadline.
    fn drain(&mut self, key: &TxKey) {
        let Some(entry) = self.txs.get_mut(key) else {
            return;
        };
        let peer = entry.peer;
        let mut terminated = false;
        while let Some(event) = entry.tx.poll_output() {
            self.out.push_back(match event {
                TxEvent::SendRequest(r) => LayerOutput::Send {
                    to: peer,
                    message: Message::Request(r),
                },
                TxEvent::SendResponse(r) => LayerOutput::Send {
                    to: peer,
                    message: Message::Response(r),
                },
                TxEvent::Response(response) => LayerOutput::Response {
                    key: key.clone(),
                    response,
                },
                TxEvent::Ack(request) => LayerOutput::Ack {
                    request,
                    from: peer,
                    invite: Some(key.clone()),
                },
                TxEvent::Timeout => LayerOutput::Timeout { key: key.clone() },
                TxEvent::TransportError => LayerOutput::TransportError { key: key.clone() },
                TxEvent::Terminated => {
                    terminated = true;
                    LayerOutput::Terminated { key: key.clone() }
                }
            });
        }
        if terminated {
            if let Some(entry) = self.txs.remove(key)
                && let Some(ack_key) = entry.ack_key
            {
                self.accepted.remove(&ack_key);
            }
        } else {
            let next = entry.tx.poll_timeout();
            if next != entry.scheduled {
                entry.scheduled = next;
                if let Some(at) = next {
                    self.deadlines.push(Reverse((at, key.clone())));
                }
            }
        }
        self.drop_stale_top();
    }

    /// Pops heap entries whose transaction is gone or has moved its deadline, so that
    /// `poll_timeout` reports a real deadline and the driver does not wake for nothing.
    fn drop_stale_top(&mut self) {
        while let Some(Reverse((at, key))) = self.deadlines.peek() {
            let live = self.txs.get(key).is_some_and(|e| e.scheduled == Some(*at));
            if live {
                break;
            }
            self.deadlines.pop();
        }
    }
}
