//! Port pairs for one call: taken from the shared allocator, bound as std sockets (so that
//! [`super::MediaCall::start`] needs no `.await`), and given back when the lease is dropped.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::ports::{PortAllocator, PortPair};

use super::RelayError;

/// Pairs tried per leg before giving up: each failed bind is a port some other process holds,
/// and the allocator hands out the next pair on the following try.
pub(super) const BIND_TRIES: usize = 8;

/// Locks the allocator. A panic while it was held cannot leave it half-updated (every method
/// changes it in one step), so a poisoned lock is used as is.
pub(super) fn lock(ports: &Mutex<PortAllocator>) -> MutexGuard<'_, PortAllocator> {
    ports
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One allocated pair; released on drop, so no path (error, drop, panic) leaks it.
#[derive(Debug)]
pub(super) struct PortLease {
    ports: Arc<Mutex<PortAllocator>>,
    pair: PortPair,
}

impl PortLease {
    pub(super) fn pair(&self) -> PortPair {
        self.pair
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if let Err(e) = lock(&self.ports).release(self.pair.rtp) {
            tracing::error!(port = self.pair.rtp, %e, "media port released twice");
        }
    }
}

/// The RTP and RTCP sockets of one leg, bound and non-blocking, with their lease.
#[derive(Debug)]
pub(super) struct BoundPair {
    pub(super) rtp: UdpSocket,
    pub(super) rtcp: UdpSocket,
    pub(super) lease: PortLease,
}

fn bind_one(ip: IpAddr, port: u16) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, port))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Allocates a pair and binds both ports on `ip`; a port that will not bind (another process
/// has it) is given back and the next pair tried, up to [`BIND_TRIES`] times.
pub(super) fn bind_pair(
    ports: &Arc<Mutex<PortAllocator>>,
    ip: IpAddr,
) -> Result<BoundPair, RelayError> {
    let mut last_error = None;
    for _ in 0..BIND_TRIES {
        let pair = lock(ports).allocate()?;
        let lease = PortLease {
            ports: Arc::clone(ports),
            pair,
        };
        match bind_one(ip, pair.rtp).and_then(|rtp| Ok((rtp, bind_one(ip, pair.rtcp)?))) {
            Ok((rtp, rtcp)) => return Ok(BoundPair { rtp, rtcp, lease }),
            Err(e) => {
                tracing::debug!(%ip, port = pair.rtp, %e, "media port taken, trying the next");
                last_error = Some((pair.rtp, e));
                // `lease` drops here: the pair goes back before the next one is taken.
            }
        }
    }
    let (port, source) = last_error.unwrap_or_else(|| {
        (
            0,
            io::Error::new(io::ErrorKind::AddrInUse, "no bind attempted"),
        )
    });
    Err(RelayError::Bind {
        ip,
        port,
        tries: BIND_TRIES,
        source,
    })
}
