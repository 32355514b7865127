//! SIP over WebSocket (RFC 7118): the part that does not depend on the HTTP server.
//!
//! The WebSocket handshake belongs to the HTTP listener (the binary's `/sip` route); once a
//! socket is up it asks [`WsTransport::open`] for a [`WsFlow`] and pumps frames through it.
//! Each text or binary message is one SIP message (§4): it is parsed like a UDP datagram, put
//! into the same core as UDP and TCP with transport `WS`, and whatever the core sends back to
//! that peer arrives on [`WsFlow::next_outgoing`]. The flow's peer address is its identity
//! (RFC 7118 §5: the browser's Contact host is `*.invalid`, so requests to it must go down this
//! very connection); the registrar stores it as the binding's source. When the flow is dropped
//! the connection is forgotten and the TU is told ([`SipDriver::closed_flows`]) so it removes
//! the bindings and ends the calls that lived on it.
//!
//! [`SipDriver::closed_flows`]: super::SipDriver::closed_flows

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::tcp::Connections;
use super::{Inbound, TransportCounters};
use crate::inbound::bad_request;
use crate::message::{MAX_MESSAGE_SIZE, Message, Transport, parse_datagram};
use crate::transaction::Peer;

/// Limits for WebSocket flows.
#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    /// Most WebSocket flows open at once.
    pub max_connections: usize,
    /// Malformed or oversized messages a flow may send before it is closed.
    pub max_bad_messages: u32,
    /// Messages queued towards one flow before more are dropped.
    pub queue_depth: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_connections: 1024,
            max_bad_messages: 5,
            queue_depth: 256,
        }
    }
}

/// Why a flow could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("too many SIP WebSocket connections (limit {0})")]
    TooMany(usize),
    #[error("the SIP driver has stopped")]
    Stopped,
}

/// What the socket pump should do after a received message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Handed to the SIP core (or dropped and counted when the core is full).
    Accepted,
    /// Malformed but answerable: send these bytes back (a 400/505/513).
    Reply(Vec<u8>),
    /// Malformed and unanswerable, or a keep-alive: nothing to send.
    Ignored,
    /// Too many malformed messages: close the socket.
    Close,
}

/// Opens flows for the HTTP listener's `/sip` route; cheap to clone.
#[derive(Debug, Clone)]
pub struct WsTransport {
    pub(crate) connections: Connections,
    pub(crate) core: mpsc::Sender<Inbound>,
    pub(crate) closed: mpsc::Sender<Peer>,
    pub(crate) counters: Arc<TransportCounters>,
    pub(crate) limits: WsLimits,
}

impl WsTransport {
    /// Registers a new WebSocket from `addr` (`secure` for `wss`). Refused (and counted as
    /// dropped) over the connection limit.
    pub fn open(&self, addr: SocketAddr, secure: bool) -> Result<WsFlow, WsError> {
        if self.core.is_closed() {
            return Err(WsError::Stopped);
        }
        let max = self.limits.max_connections.max(1);
        if self.connections.len() >= max {
            TransportCounters::inc(&self.counters.dropped);
            return Err(WsError::TooMany(max));
        }
        let (tx, outgoing) = mpsc::channel(self.limits.queue_depth.max(1));
        self.connections.insert(addr, tx);
        let transport = if secure {
            Transport::Wss
        } else {
            Transport::Ws
        };
        Ok(WsFlow {
            peer: Peer { transport, addr },
            outgoing,
            frames: FramePolicy::new(self.limits.max_bad_messages),
            transport: self.clone(),
        })
    }

    /// Whether a flow to `peer` is open (a registration racing its socket's close).
    pub fn is_open(&self, peer: Peer) -> bool {
        matches!(peer.transport, Transport::Ws | Transport::Wss) && self.connections.has(peer.addr)
    }

    /// Flows open now.
    pub fn open_flows(&self) -> usize {
        self.connections.len()
    }
}

/// One open SIP WebSocket. Dropping it closes the flow for the SIP side.
#[derive(Debug)]
pub struct WsFlow {
    peer: Peer,
    outgoing: mpsc::Receiver<Vec<u8>>,
    frames: FramePolicy,
    transport: WsTransport,
}

impl WsFlow {
    /// The flow's identity: transport `WS`/`WSS` and the browser's address.
    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The next message the core wants sent to this peer; `None` once the driver stopped.
    pub async fn next_outgoing(&mut self) -> Option<Vec<u8>> {
        self.outgoing.recv().await
    }

    /// One received WebSocket message (text or binary payload).
    pub fn receive(&mut self, data: &[u8]) -> Verdict {
        let counters = &self.transport.counters;
        match self.frames.classify(data) {
            Frame::KeepAlive => Verdict::Ignored,
            Frame::Message(message) => {
                TransportCounters::inc(&counters.received);
                let sent = self.transport.core.try_send(Inbound {
                    message,
                    from: self.peer,
                });
                if sent.is_err() {
                    TransportCounters::inc(&counters.dropped);
                }
                Verdict::Accepted
            }
            Frame::Bad { reply, close } => {
                TransportCounters::inc(&counters.received);
                TransportCounters::inc(&counters.parse_errors);
                let verdict = match reply {
                    Some(bytes) => {
                        TransportCounters::inc(&counters.bad_requests_sent);
                        Verdict::Reply(bytes)
                    }
                    None => {
                        TransportCounters::inc(&counters.dropped);
                        Verdict::Ignored
                    }
                };
                tracing::debug!(addr = %self.peer.addr, "malformed SIP WebSocket message");
                if close {
                    TransportCounters::inc(&counters.desync_closed);
                    tracing::info!(addr = %self.peer.addr, "SIP WebSocket closed after repeated garbage");
                    return Verdict::Close;
                }
                verdict
            }
        }
    }

    /// A message the socket layer refused itself (over its size limit, invalid UTF-8 text):
    /// counted like garbage.
    pub fn refused_by_socket(&mut self) {
        let counters = &self.transport.counters;
        TransportCounters::inc(&counters.received);
        TransportCounters::inc(&counters.parse_errors);
        TransportCounters::inc(&counters.dropped);
    }
}

impl Drop for WsFlow {
    fn drop(&mut self) {
        self.transport.connections.remove(self.peer.addr);
        // A full queue only delays the clean-up to the bindings' expiry; count it. A closed
        // one means the server is stopping: nothing left to clean up.
        if let Err(mpsc::error::TrySendError::Full(_)) = self.transport.closed.try_send(self.peer) {
            TransportCounters::inc(&self.transport.counters.dropped);
            tracing::warn!(addr = %self.peer.addr, "SIP WebSocket close not delivered to the TU");
        }
    }
}

/// What one message turned out to be.
#[derive(Debug)]
enum Frame {
    KeepAlive,
    Message(Message),
    Bad { reply: Option<Vec<u8>>, close: bool },
}

/// The per-flow message rules, without IO: size limit, parsing, and the garbage allowance.
#[derive(Debug)]
struct FramePolicy {
    bad: u32,
    max_bad: u32,
}

impl FramePolicy {
    fn new(max_bad: u32) -> FramePolicy {
        FramePolicy {
            bad: 0,
            max_bad: max_bad.max(1),
        }
    }

    fn classify(&mut self, data: &[u8]) -> Frame {
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ')) {
            // CRLF keep-alives (RFC 5626 over WebSocket) and empty messages.
            return Frame::KeepAlive;
        }
        let parsed = if data.len() > MAX_MESSAGE_SIZE {
            None
        } else {
            Some(parse_datagram(data))
        };
        match parsed {
            Some(Ok(message)) => Frame::Message(message),
            Some(Err(error)) => {
                let reply = bad_request(data, &error).map(|r| r.to_bytes());
                self.bad(reply)
            }
            // Oversized: not even looked at (it may be a flood); dropped.
            None => self.bad(None),
        }
    }

    fn bad(&mut self, reply: Option<Vec<u8>>) -> Frame {
        self.bad += 1;
        Frame::Bad {
            reply,
            close: self.bad >= self.max_bad,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test fixtures

    use super::*;

    const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\n\
        Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKasudf\r\n\
        Max-Forwards: 70\r\n\
        To: <sip:1001@example.com>\r\n\
        From: <sip:1001@example.com>;tag=5sy2\r\n\
        Call-ID: asidkj3ss\r\n\
        CSeq: 1 REGISTER\r\n\
        Contact: <sip:kj3@df7jal23ls0d.invalid;transport=ws>;expires=600\r\n\
        Content-Length: 0\r\n\r\n";

    fn transport(max_bad: u32) -> (WsTransport, mpsc::Receiver<Inbound>, mpsc::Receiver<Peer>) {
        let (core, inbound) = mpsc::channel(8);
        let (closed, closed_rx) = mpsc::channel(8);
        let t = WsTransport {
            connections: Connections::default(),
            core,
            closed,
            counters: Arc::new(TransportCounters::default()),
            limits: WsLimits {
                max_connections: 2,
                max_bad_messages: max_bad,
                queue_depth: 4,
            },
        };
        (t, inbound, closed_rx)
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
        c.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[test]
    fn a_sip_message_reaches_the_core_with_transport_ws_and_the_sockets_address() {
        let (t, mut inbound, _closed) = transport(5);
        let mut flow = t.open(addr(40000), false).unwrap();
        assert_eq!(flow.receive(REGISTER.as_bytes()), Verdict::Accepted);
        let got = inbound.try_recv().unwrap();
        assert_eq!(got.from.transport, Transport::Ws);
        assert_eq!(got.from.addr, addr(40000));
        assert!(matches!(got.message, Message::Request(_)));
        assert_eq!(count(&t.counters.received), 1);
    }

    #[test]
    fn a_message_without_content_length_is_the_whole_frame() {
        let (t, mut inbound, _closed) = transport(5);
        let mut flow = t.open(addr(40000), true).unwrap();
        let text = REGISTER.replace("Content-Length: 0\r\n", "");
        assert_eq!(flow.receive(text.as_bytes()), Verdict::Accepted);
        assert_eq!(inbound.try_recv().unwrap().from.transport, Transport::Wss);
    }

    #[test]
    fn parseable_garbage_is_answered_400_and_junk_is_dropped_both_counted() {
        let (t, mut inbound, _closed) = transport(5);
        let mut flow = t.open(addr(40000), false).unwrap();
        let broken = REGISTER.replace("Max-Forwards: 70", "this line is no header");
        match flow.receive(broken.as_bytes()) {
            Verdict::Reply(bytes) => {
                assert!(String::from_utf8(bytes).unwrap().starts_with("SIP/2.0 400"));
            }
            other => panic!("expected a 400, got {other:?}"),
        }
        assert_eq!(flow.receive(&[0xff, 0x00, 0x13, 0x37]), Verdict::Ignored);
        assert_eq!(flow.receive(b"hello, is this HTTP?"), Verdict::Ignored);
        assert!(inbound.try_recv().is_err());
        assert_eq!(count(&t.counters.parse_errors), 3);
        assert_eq!(count(&t.counters.bad_requests_sent), 1);
        assert_eq!(count(&t.counters.dropped), 2);
    }

    #[test]
    fn an_oversized_message_is_dropped_unparsed() {
        let (t, mut inbound, _closed) = transport(5);
        let mut flow = t.open(addr(40000), false).unwrap();
        let huge = format!("{REGISTER}{}", "x".repeat(MAX_MESSAGE_SIZE));
        assert_eq!(flow.receive(huge.as_bytes()), Verdict::Ignored);
        assert!(inbound.try_recv().is_err());
        assert_eq!(count(&t.counters.dropped), 1);
    }

    #[test]
    fn repeated_garbage_closes_the_flow() {
        let (t, _inbound, _closed) = transport(3);
        let mut flow = t.open(addr(40000), false).unwrap();
        assert_eq!(flow.receive(b"junk"), Verdict::Ignored);
        assert_eq!(flow.receive(REGISTER.as_bytes()), Verdict::Accepted);
        assert_eq!(flow.receive(b"junk"), Verdict::Ignored);
        assert_eq!(flow.receive(b"junk"), Verdict::Close);
        assert_eq!(count(&t.counters.desync_closed), 1);
    }

    #[test]
    fn keep_alives_are_neither_messages_nor_garbage() {
        let (t, mut inbound, _closed) = transport(1);
        let mut flow = t.open(addr(40000), false).unwrap();
        assert_eq!(flow.receive(b"\r\n\r\n"), Verdict::Ignored);
        assert_eq!(flow.receive(b""), Verdict::Ignored);
        assert!(inbound.try_recv().is_err());
        assert_eq!(count(&t.counters.received), 0);
    }

    #[tokio::test]
    async fn what_the_core_sends_to_the_peer_arrives_on_its_flow_only() {
        let (t, _inbound, _closed) = transport(5);
        let mut a = t.open(addr(40000), false).unwrap();
        let _b = t.open(addr(40001), false).unwrap();
        assert!(
            t.connections
                .send(addr(40000), b"SIP/2.0 200 OK\r\n\r\n".to_vec())
        );
        assert_eq!(
            a.next_outgoing().await.unwrap(),
            b"SIP/2.0 200 OK\r\n\r\n".to_vec()
        );
        assert!(!t.connections.send(addr(40002), b"x".to_vec()));
    }

    #[test]
    fn dropping_a_flow_forgets_it_and_tells_the_tu() {
        let (t, _inbound, mut closed) = transport(5);
        let flow = t.open(addr(40000), false).unwrap();
        let peer = flow.peer();
        assert!(t.is_open(peer));
        drop(flow);
        assert!(!t.is_open(peer));
        assert_eq!(closed.try_recv().unwrap(), peer);
        assert!(!t.connections.send(addr(40000), b"x".to_vec()));
    }

    #[test]
    fn flows_over_the_limit_are_refused_and_counted() {
        let (t, _inbound, _closed) = transport(5);
        let _a = t.open(addr(40000), false).unwrap();
        let _b = t.open(addr(40001), false).unwrap();
        assert!(matches!(
            t.open(addr(40002), false),
            Err(WsError::TooMany(2))
        ));
        assert_eq!(count(&t.counters.dropped), 1);
    }
}
