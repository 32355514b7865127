//! The UDP listener: one datagram is one message. Malformed datagrams are answered 400 from
//! here when possible, otherwise dropped; both are counted.

use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::{Inbound, TransportCounters};
use crate::inbound::bad_request;
use crate::message::{MAX_MESSAGE_SIZE, Transport, parse_datagram};
use crate::transaction::Peer;

/// Receives until the task is aborted.
pub(crate) async fn run(
    socket: Arc<UdpSocket>,
    core: mpsc::Sender<Inbound>,
    counters: Arc<TransportCounters>,
) {
    // One byte more than the largest message we accept, so an oversized datagram is seen as
    // such instead of being silently cut to a size that might parse.
    let mut buf = vec![0u8; MAX_MESSAGE_SIZE + 1];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems; they concern
                // one peer, not the socket, so keep receiving.
                tracing::debug!(error = %e, "UDP receive error");
                continue;
            }
        };
        let data = &buf[..n];
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | b' ' | 0)) {
            // RFC 5626 keep-alives (CRLF) and empty datagrams: nothing to answer.
            continue;
        }
        TransportCounters::inc(&counters.received);
        let peer = Peer {
            transport: Transport::Udp,
            addr: from,
        };
        match parse_datagram(data) {
            Ok(message) => {
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
            Err(error) => {
                TransportCounters::inc(&counters.parse_errors);
                match bad_request(data, &error) {
                    Some(resp) => {
                        if socket.send_to(&resp.to_bytes(), from).await.is_ok() {
                            TransportCounters::inc(&counters.bad_requests_sent);
                        }
                    }
                    None => TransportCounters::inc(&counters.dropped),
                }
                tracing::debug!(%from, %error, "malformed UDP datagram");
            }
        }
    }
}
