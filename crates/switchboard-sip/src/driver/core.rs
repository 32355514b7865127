//! The core task: owns the [`TransactionLayer`], applies the inbound checks (Via stamping,
//! mandatory headers), answers OPTIONS, passes the rest to the TU, puts the layer's `Send`
//! outputs on the right transport, and sleeps until the layer's next timer.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::tcp::Connections;
use super::{Command, Counters, Inbound, TransportCounters, TuEvent};
use crate::admission::SourceLimiter;
use crate::inbound::{stamp_via, validate};
use crate::message::{Message, Method, Transport, response_to};
use crate::transaction::{LayerOutput, Peer, Timers, TransactionLayer, TxKey};

/// Methods the OPTIONS answer advertises.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER";

pub(crate) struct Core {
    layer: TransactionLayer,
    udp: Arc<UdpSocket>,
    tcp: Connections,
    ws: Connections,
    tu: mpsc::Sender<TuEvent>,
    counters: Arc<Counters>,
    limiter: SourceLimiter,
}

impl Core {
    pub fn new(
        timers: Timers,
        udp: Arc<UdpSocket>,
        tcp: Connections,
        ws: Connections,
        tu: mpsc::Sender<TuEvent>,
        counters: Arc<Counters>,
        limiter: SourceLimiter,
    ) -> Core {
        Core {
            layer: TransactionLayer::new(timers),
            udp,
            tcp,
            ws,
            tu,
            counters,
            limiter,
        }
    }

    /// Runs until the inbound side closes (every transport task gone).
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::Receiver<Command>,
    ) {
        let mut commands_open = true;
        loop {
            let deadline = self.layer.poll_timeout().map(Instant::from_std);
            tokio::select! {
                msg = inbound.recv() => match msg {
                    Some(m) => self.receive(m),
                    None => break,
                },
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(c) => self.command(c),
                    None => commands_open = false,
                },
                () = sleep_until(deadline) => {
                    self.layer.handle_timeout(Instant::now().into_std());
                }
            }
            self.flush().await;
        }
    }

    fn counters_for(&self, transport: Transport) -> &TransportCounters {
        match transport {
            Transport::Udp => &self.counters.udp,
            Transport::Ws | Transport::Wss => &self.counters.ws,
            _ => &self.counters.tcp,
        }
    }

    fn receive(&mut self, Inbound { message, from }: Inbound) {
        let now = Instant::now().into_std();
        let message = match message {
            Message::Request(mut req) => {
                let checked = stamp_via(&mut req, from.addr).and_then(|()| validate(&req));
                if let Err(e) = checked {
                    // Parsed but unusable (no Via, CSeq mismatch …): answered without a
                    // transaction, like a parse error.
                    let counters = self.counters_for(from.transport);
                    TransportCounters::inc(&counters.parse_errors);
                    if req.method == Method::Ack {
                        TransportCounters::inc(&counters.dropped);
                    } else {
                        TransportCounters::inc(&counters.bad_requests_sent);
                        let resp = e.response(&req);
                        self.layer.send_stateless(Message::Response(resp), from);
                    }
                    return;
                }
                // A new dialog from an address over its rate is answered here, without a
                // transaction (no state, no retransmissions), so a flood costs one parse and
                // one small datagram per request and never reaches the call control. CANCEL
                // and ACK belong to a transaction already admitted.
                let opens = !matches!(req.method, Method::Ack | Method::Cancel)
                    && req.headers.to().is_ok_and(|to| to.tag().is_none());
                if opens && !self.limiter.admit(from.addr.ip(), now) {
                    self.counters.source_limited.fetch_add(1, Ordering::Relaxed);
                    let mut resp = response_to(&req, 503, None);
                    resp.headers.push("Retry-After", "10");
                    self.layer.send_stateless(Message::Response(resp), from);
                    return;
                }
                Message::Request(req)
            }
            resp @ Message::Response(_) => resp,
        };
        if let Err(e) = self.layer.receive(message, from, now) {
            TransportCounters::inc(&self.counters_for(from.transport).dropped);
            tracing::debug!(addr = %from.addr, error = %e, "message matched no transaction rule");
        }
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now().into_std();
        match cmd {
            Command::Respond { key, response } => {
                if let Err(e) = self.layer.respond(&key, response, now) {
                    tracing::debug!(error = %e, "TU response for a gone transaction");
                }
            }
            Command::SendRequest { key, request, to } => {
                // The TU already holds `key` (see `SipHandle::send_request`): a refusal must
                // reach it as that transaction's failure.
                if let Err(e) = self.layer.send_request(request, to, now) {
                    tracing::warn!(error = %e, "a request of the TU could not be sent");
                    let _ = self.tu.try_send(TuEvent::TransportError { key });
                }
            }
            Command::SendStateless { message, to } => self.layer.send_stateless(message, to),
        }
    }

    /// Handles every output the layer has queued (answering OPTIONS may queue more).
    async fn flush(&mut self) {
        while let Some(out) = self.layer.poll_output() {
            match out {
                LayerOutput::Send { to, message } => self.send(to, message).await,
                LayerOutput::Request {
                    key,
                    request,
                    from: _,
                } if request.method == Method::Options => {
                    let mut resp = response_to(&request, 200, Some(&crate::transaction::new_tag()));
                    resp.headers.push("Allow", ALLOW);
                    resp.headers.push("Accept", "application/sdp");
                    self.respond_now(&key, resp);
                }
                LayerOutput::Request { key, request, from } => {
                    // New dialogs (INVITE, REGISTER, anything without a To tag) are refused
                    // while the TU's queue is three quarters full, so that what belongs to
                    // calls already up — above all their BYEs — always finds room.
                    let opens = request.headers.to().is_ok_and(|to| to.tag().is_none());
                    let reserve = self.tu.max_capacity() / 4;
                    if opens && self.tu.capacity() <= reserve {
                        self.counters
                            .overload_refused
                            .fetch_add(1, Ordering::Relaxed);
                        let mut resp = response_to(&request, 503, None);
                        resp.headers.push("Retry-After", "5");
                        self.respond_now(&key, resp);
                        continue;
                    }
                    let event = LayerOutput::Request {
                        key: key.clone(),
                        request,
                        from,
                    };
                    if let Err(e) = self.tu.try_send(event) {
                        // No TU (or it is overwhelmed): tell the peer to retry elsewhere/later
                        // instead of letting it retransmit into the void.
                        let req = match e {
                            mpsc::error::TrySendError::Full(LayerOutput::Request {
                                request,
                                ..
                            })
                            | mpsc::error::TrySendError::Closed(LayerOutput::Request {
                                request,
                                ..
                            }) => request,
                            _ => continue,
                        };
                        let mut resp = response_to(&req, 503, None);
                        resp.headers.push("Retry-After", "5");
                        self.respond_now(&key, resp);
                    }
                }
                other => {
                    // Acks, responses, timeouts, terminations: the TU may not care about all
                    // of them, and losing one under overload is recoverable (timers).
                    let _ = self.tu.try_send(other);
                }
            }
        }
    }

    fn respond_now(&mut self, key: &TxKey, resp: crate::message::Response) {
        let now = Instant::now().into_std();
        if let Err(e) = self.layer.respond(key, resp, now) {
            tracing::debug!(error = %e, "could not answer");
        }
    }

    async fn send(&self, to: Peer, message: Message) {
        let bytes = message.to_bytes();
        let ok = match to.transport {
            Transport::Udp => self.udp.send_to(&bytes, to.addr).await.is_ok(),
            Transport::Tcp => self.tcp.send(to.addr, bytes),
            // The flow the peer's WebSocket registered (RFC 7118 §5).
            Transport::Ws | Transport::Wss => self.ws.send(to.addr, bytes),
            // TLS is not wired yet.
            Transport::Tls => false,
        };
        if !ok {
            tracing::debug!(addr = %to.addr, transport = %to.transport, "could not send");
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
