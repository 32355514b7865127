//! The TCP listener: a [`StreamDecoder`] per connection, a bounded number of connections, a
//! bounded write queue each, an idle timeout, and the connection closed as soon as framing is
//! lost (nothing after a bad Content-Length can be trusted).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Inbound, TransportCounters};
use crate::framing::{FramingError, StreamDecoder, StreamItem};
use crate::inbound::bad_request;
use crate::message::Transport;
use crate::transaction::Peer;

/// Limits for the listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub queue_depth: usize,
}

/// Open connections by peer address, so the core can send responses (and later requests) down
/// the connection a request came in on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Connections(Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>);

impl Connections {
    /// Queues bytes for the connection to `addr`; false if there is none or its queue is full.
    pub fn send(&self, addr: SocketAddr, bytes: Vec<u8>) -> bool {
        let sender = match self.0.lock() {
            Ok(map) => map.get(&addr).cloned(),
            Err(_) => None,
        };
        sender.is_some_and(|s| s.try_send(bytes).is_ok())
    }

    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |m| m.len())
    }

    /// Whether a connection to `addr` is open.
    pub fn has(&self, addr: SocketAddr) -> bool {
        self.0.lock().is_ok_and(|m| m.contains_key(&addr))
    }

    pub fn insert(&self, addr: SocketAddr, tx: mpsc::Sender<Vec<u8>>) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(addr, tx);
        }
    }

    pub fn remove(&self, addr: SocketAddr) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&addr);
        }
    }
}

/// Accepts until the task is aborted; aborting it also ends every connection (they live in
/// its `JoinSet`).
pub(crate) async fn run(
    listener: TcpListener,
    limits: Limits,
    connections: Connections,
    core: mpsc::Sender<Inbound>,
    counters: Arc<TransportCounters>,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Usually EMFILE: back off a little instead of spinning.
                        tracing::warn!(error = %e, "TCP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if connections.len() >= limits.max_connections {
                    TransportCounters::inc(&counters.dropped);
                    tracing::debug!(%addr, "TCP connection refused: limit reached");
                    drop(stream);
                    continue;
                }
                let (tx, rx) = mpsc::channel(limits.queue_depth);
                connections.insert(addr, tx);
                let conns = connections.clone();
                let core = core.clone();
                let counters = counters.clone();
                tasks.spawn(async move {
                    serve(stream, addr, rx, core, &counters, limits.idle_timeout).await;
                    conns.remove(addr);
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
}

/// Why a connection ends.
enum Close {
    Peer,
    Idle,
    Desync,
    Io,
}

async fn serve(
    mut stream: TcpStream,
    addr: SocketAddr,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
    core: mpsc::Sender<Inbound>,
    counters: &TransportCounters,
    idle: Duration,
) {
    let peer = Peer {
        transport: Transport::Tcp,
        addr,
    };
    let mut decoder = StreamDecoder::new();
    let mut buf = vec![0u8; 16 * 1024];
    let why = loop {
        tokio::select! {
            read = tokio::time::timeout(idle, stream.read(&mut buf)) => {
                let n = match read {
                    Err(_) => break Close::Idle,
                    Ok(Err(_)) => break Close::Io,
                    Ok(Ok(0)) => break Close::Peer,
                    Ok(Ok(n)) => n,
                };
                decoder.feed(&buf[..n]);
                if let Err(close) = drain(&mut decoder, &mut stream, peer, &core, counters).await {
                    break close;
                }
            }
            Some(bytes) = outgoing.recv() => {
                if stream.write_all(&bytes).await.is_err() {
                    break Close::Io;
                }
            }
        }
    };
    match why {
        Close::Desync => TransportCounters::inc(&counters.desync_closed),
        // A message cut off by the close (truncated): it is lost, so count it.
        _ if decoder.buffered() > 0 => {
            TransportCounters::inc(&counters.received);
            TransportCounters::inc(&counters.dropped);
        }
        _ => {}
    }
    let _ = stream.shutdown().await;
}

/// Frames and dispatches everything buffered.
async fn drain(
    decoder: &mut StreamDecoder,
    stream: &mut TcpStream,
    peer: Peer,
    core: &mpsc::Sender<Inbound>,
    counters: &TransportCounters,
) -> Result<(), Close> {
    loop {
        let item = match decoder.decode() {
            Ok(Some(item)) => item,
            Ok(None) => return Ok(()),
            // An earlier frame already lost the framing (and was counted when handed out).
            Err(FramingError::Desynchronised) => return Err(Close::Desync),
            Err(error) => {
                // The head never ended within the size limit: framing is gone.
                TransportCounters::inc(&counters.received);
                TransportCounters::inc(&counters.parse_errors);
                TransportCounters::inc(&counters.dropped);
                tracing::debug!(addr = %peer.addr, %error, "TCP framing lost; closing");
                return Err(Close::Desync);
            }
        };
        match item {
            StreamItem::Message(message) => {
                TransportCounters::inc(&counters.received);
                if core
                    .try_send(Inbound {
                        message,
                        from: peer,
                    })
                    .is_err()
                {
                    TransportCounters::inc(&counters.dropped);
                }
            }
            StreamItem::Invalid { raw, error } => {
                TransportCounters::inc(&counters.received);
                TransportCounters::inc(&counters.parse_errors);
                match bad_request(&raw, &error) {
                    Some(resp) => {
                        stream
                            .write_all(&resp.to_bytes())
                            .await
                            .map_err(|_| Close::Io)?;
                        TransportCounters::inc(&counters.bad_requests_sent);
                    }
                    None => TransportCounters::inc(&counters.dropped),
                }
                tracing::debug!(addr = %peer.addr, %error, "malformed TCP frame");
            }
            StreamItem::Ping => {
                stream.write_all(b"\r\n").await.map_err(|_| Close::Io)?;
            }
            StreamItem::Pong => {}
        }
    }
}
