//! The tokio driver: UDP and TCP listeners feeding one [`TransactionLayer`], sending what it
//! outputs, and sleeping until its next timer. The logic stays in the sans-IO pieces; this
//! module only moves bytes and time.
//!
//! Shape: each transport task parses what it receives (answering 400 itself when
//! [`crate::inbound::bad_request`] can, dropping and counting otherwise) and passes messages to
//! one core task that owns the transaction layer. The core answers OPTIONS with 200 and hands
//! every other transaction-user event to the TU (the registrar service, later the B2BUA) over a
//! bounded channel; the TU answers through a [`SipHandle`]. Every queue is bounded and full
//! queues drop (and count) rather than wait, so garbage or a flood never stalls the server.

mod core;
mod counters;
mod tcp;
mod udp;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use counters::{Counters, TransportCounters};
pub use ws::{Verdict, WsError, WsFlow, WsLimits, WsTransport};

use crate::message::{Message, Request, Response};
use crate::transaction::{LayerOutput, Peer, Timers, TxError, TxKey};

/// Why the driver could not start or a command failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot listen on {transport} {addr}: {source}")]
    Bind {
        transport: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the SIP driver has stopped")]
    Stopped,
    #[error(transparent)]
    Transaction(#[from] TxError),
}

/// Listener addresses and limits.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub udp_listen: SocketAddr,
    pub tcp_listen: SocketAddr,
    /// RFC 3261 timer values.
    pub timers: Timers,
    /// Most TCP connections open at once; more are accepted and closed at once.
    pub max_tcp_connections: usize,
    /// A TCP connection silent this long is closed (frees its slot; phones re-connect).
    pub tcp_idle_timeout: Duration,
    /// Depth of the queues between tasks (transport → core, core → TU, core → connection).
    pub queue_depth: usize,
    /// SIP over WebSocket flows (accepted by the HTTP listener).
    pub ws: WsLimits,
    /// New dialogs per source address (floods, scanners).
    pub source_limits: crate::admission::SourceLimits,
    /// Addresses never rate limited (the trunks).
    pub source_limit_exempt: Vec<std::net::IpAddr>,
}

impl DriverConfig {
    /// Defaults for the two listen addresses.
    pub fn new(udp_listen: SocketAddr, tcp_listen: SocketAddr) -> Self {
        DriverConfig {
            udp_listen,
            tcp_listen,
            timers: Timers::default(),
            max_tcp_connections: 1024,
            tcp_idle_timeout: Duration::from_secs(600),
            queue_depth: 4096,
            ws: WsLimits::default(),
            source_limits: crate::admission::SourceLimits::default(),
            source_limit_exempt: Vec::new(),
        }
    }
}

/// What the transaction layer hands the TU (every [`LayerOutput`] except `Send`, and the
/// OPTIONS requests the driver answers itself).
pub type TuEvent = LayerOutput;

/// A message from a transport task to the core.
#[derive(Debug)]
pub(crate) struct Inbound {
    pub message: Message,
    pub from: Peer,
}

/// What the TU asks of the core.
#[derive(Debug)]
pub(crate) enum Command {
    Respond {
        key: TxKey,
        response: Response,
    },
    /// `key` is the request's own, already given to the TU.
    SendRequest {
        key: TxKey,
        request: Request,
        to: Peer,
    },
    SendStateless {
        message: Message,
        to: Peer,
    },
}

/// The TU's way to answer and originate; cheap to clone.
#[derive(Debug, Clone)]
pub struct SipHandle {
    commands: mpsc::Sender<Command>,
}

impl SipHandle {
    /// Sends the response to a server transaction the TU was given.
    pub async fn respond(&self, key: TxKey, response: Response) -> Result<(), DriverError> {
        self.commands
            .send(Command::Respond { key, response })
            .await
            .map_err(|_| DriverError::Stopped)
    }

    /// Starts a client transaction; its responses come back as [`TuEvent::Response`].
    ///
    /// The key is the request's own (its top Via branch and method), so the TU does not wait
    /// for the core to start the transaction: with the core busy that round trip, twice a call
    /// (the INVITE and the BYE out), held up every other call's signalling behind it and made
    /// the TU's queue the limit of the call rate. Should the core then refuse the transaction
    /// (its branch already in use), that comes back as [`TuEvent::TransportError`].
    pub async fn send_request(&self, request: Request, to: Peer) -> Result<TxKey, DriverError> {
        let key = TxKey::for_client_transaction(&request)?;
        self.commands
            .send(Command::SendRequest {
                key: key.clone(),
                request,
                to,
            })
            .await
            .map_err(|_| DriverError::Stopped)?;
        Ok(key)
    }

    /// Sends a message outside any transaction (the ACK of a 2xx).
    pub async fn send_stateless(&self, message: Message, to: Peer) -> Result<(), DriverError> {
        self.commands
            .send(Command::SendStateless { message, to })
            .await
            .map_err(|_| DriverError::Stopped)
    }
}

/// The running driver: its tasks, bound addresses, TU handle and counters.
#[derive(Debug)]
pub struct SipDriver {
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    handle: SipHandle,
    counters: Arc<Counters>,
    ws: WsTransport,
    closed_flows: Option<mpsc::Receiver<Peer>>,
    tasks: Vec<JoinHandle<()>>,
}

/// What the SIP UDP socket asks for as its receive buffer. Every request, response and
/// retransmission of every call arrives on this one socket, and a burst (a trunk's busy minute,
/// a restart's re-REGISTERs) that outruns the reader for a moment overflows Linux's default
/// (~208 KiB, a few hundred messages) and loses datagrams, which then come back as
/// retransmissions. The kernel caps the request at `net.core.rmem_max`.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

/// Binds the SIP UDP socket with [`UDP_RECEIVE_BUFFER`].
fn bind_udp(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER) {
        tracing::warn!(error = %e, "cannot enlarge the SIP UDP receive buffer");
    }
    tracing::info!(
        bytes = socket.recv_buffer_size().unwrap_or(0),
        "SIP UDP receive buffer (raise net.core.rmem_max for more)"
    );
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

impl SipDriver {
    /// Binds both listeners and spawns the tasks. TU events arrive on the returned receiver;
    /// when it is dropped (or full) requests other than OPTIONS are answered 503.
    pub async fn start(
        config: DriverConfig,
        counters: Arc<Counters>,
    ) -> Result<(SipDriver, mpsc::Receiver<TuEvent>), DriverError> {
        let udp_socket = bind_udp(config.udp_listen).map_err(|source| DriverError::Bind {
            transport: "udp",
            addr: config.udp_listen,
            source,
        })?;
        let tcp_listener = tokio::net::TcpListener::bind(config.tcp_listen)
            .await
            .map_err(|source| DriverError::Bind {
                transport: "tcp",
                addr: config.tcp_listen,
                source,
            })?;
        let local = |r: std::io::Result<SocketAddr>, transport, addr| {
            r.map_err(|source| DriverError::Bind {
                transport,
                addr,
                source,
            })
        };
        let udp_addr = local(udp_socket.local_addr(), "udp", config.udp_listen)?;
        let tcp_addr = local(tcp_listener.local_addr(), "tcp", config.tcp_listen)?;
        let udp_socket = Arc::new(udp_socket);

        let depth = config.queue_depth.max(1);
        let (inbound_tx, inbound_rx) = mpsc::channel(depth);
        let (command_tx, command_rx) = mpsc::channel(depth);
        let (tu_tx, tu_rx) = mpsc::channel(depth);
        let connections = tcp::Connections::default();
        let ws_connections = tcp::Connections::default();
        let (closed_tx, closed_rx) = mpsc::channel(depth);
        let ws = WsTransport {
            connections: ws_connections.clone(),
            core: inbound_tx.clone(),
            closed: closed_tx,
            counters: counters.ws.clone(),
            limits: config.ws,
        };

        let core = core::Core::new(
            config.timers,
            udp_socket.clone(),
            connections.clone(),
            ws_connections,
            tu_tx,
            counters.clone(),
            crate::admission::SourceLimiter::new(
                config.source_limits,
                config.source_limit_exempt.clone(),
            ),
        );
        let tasks = vec![
            tokio::spawn(core.run(inbound_rx, command_rx)),
            tokio::spawn(udp::run(
                udp_socket,
                inbound_tx.clone(),
                counters.udp.clone(),
            )),
            tokio::spawn(tcp::run(
                tcp_listener,
                tcp::Limits {
                    max_connections: config.max_tcp_connections.max(1),
                    idle_timeout: config.tcp_idle_timeout,
                    queue_depth: depth,
                },
                connections,
                inbound_tx,
                counters.tcp.clone(),
            )),
        ];
        tracing::info!(udp = %udp_addr, tcp = %tcp_addr, "SIP listening");
        Ok((
            SipDriver {
                udp_addr,
                tcp_addr,
                handle: SipHandle {
                    commands: command_tx,
                },
                counters,
                ws,
                closed_flows: Some(closed_rx),
                tasks,
            },
            tu_rx,
        ))
    }

    /// The bound UDP address (useful when the config asked for port 0).
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The bound TCP address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// A handle for the TU.
    pub fn handle(&self) -> SipHandle {
        self.handle.clone()
    }

    /// Opens SIP WebSocket flows for the HTTP listener.
    pub fn ws_transport(&self) -> WsTransport {
        self.ws.clone()
    }

    /// The peers of WebSocket flows that closed, for the TU to drop their bindings and calls.
    /// Only the first call gets the receiver.
    pub fn closed_flows(&mut self) -> Option<mpsc::Receiver<Peer>> {
        self.closed_flows.take()
    }

    /// The transport counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Stops every task (listeners, connections, timers) and waits for them to end.
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests;
