//! Reading a socket's queued datagrams with one `recvmmsg(2)` per wake-up instead of one
//! `recvfrom(2)` per datagram plus a last one that only says "empty".
//!
//! Why: an RTP socket usually holds exactly one packet when it wakes its task (one every
//! 20 ms), and the old loop paid two receive system calls for it: the packet and the
//! `EAGAIN` that proved the queue empty (tokio clears a socket's readiness only when it sees
//! `WouldBlock`). `recvmmsg` with room for [`BATCH`] datagrams that returns fewer than that has
//! proved the queue empty in the same call, so we report `WouldBlock` to tokio ourselves and it
//! clears the readiness. That is race-free: tokio clears only the readiness it had observed
//! before the call (its tick), and every datagram queued after our read raises a new
//! edge-triggered event, which sets the readiness again.

use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::task::BUF_SIZE;

/// Datagrams taken per system call.
pub(super) const BATCH: usize = 4;

/// The receive buffers of one call.
pub(super) type Buffers = [[u8; BUF_SIZE]; BATCH];

/// What one [`recv_batch`] read: `(length, source)` of the first `count` buffers.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub(super) count: usize,
    pub(super) datagrams: [(usize, Option<SocketAddr>); BATCH],
    /// The queue was empty after these: the caller need not read again before the next
    /// readiness.
    pub(super) drained: bool,
}

/// Reads up to [`BATCH`] datagrams without waiting. `Ok` with `count == 0` and `drained`
/// means nothing was waiting; errors other than `WouldBlock` are the socket's (an ICMP error of
/// an earlier send, typically).
pub(super) fn recv_batch(socket: &UdpSocket, bufs: &mut Buffers) -> io::Result<Batch> {
    let mut batch = Batch::default();
    let result = socket.try_io(Interest::READABLE, || {
        let got = read(socket.as_raw_fd(), bufs, &mut batch.datagrams)?;
        batch.count = got;
        if got < BATCH {
            // Fewer than asked: the queue is empty now. Saying `WouldBlock` makes tokio clear
            // the readiness it saw, which saves the extra receive that would have said so.
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(())
        }
    });
    match result {
        Ok(()) => Ok(batch),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            batch.drained = true;
            Ok(batch)
        }
        Err(e) => Err(e),
    }
}

thread_local! {
    /// The `mmsghdr` array `recvmmsg` fills. It holds raw pointers, so it is not `Send` and
    /// cannot live in the relay task; one per thread spares an allocation per system call.
    static HEADERS: RefCell<MultiHeaders<SockaddrStorage>> =
        RefCell::new(MultiHeaders::preallocate(BATCH, None));
}

fn read(
    fd: std::os::fd::RawFd,
    bufs: &mut Buffers,
    out: &mut [(usize, Option<SocketAddr>); BATCH],
) -> io::Result<usize> {
    HEADERS.with_borrow_mut(|headers| read_with(headers, fd, bufs, out))
}

fn read_with(
    headers: &mut MultiHeaders<SockaddrStorage>,
    fd: std::os::fd::RawFd,
    bufs: &mut Buffers,
    out: &mut [(usize, Option<SocketAddr>); BATCH],
) -> io::Result<usize> {
    let mut slices: [[IoSliceMut<'_>; 1]; BATCH] = bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
    let received = recvmmsg(fd, headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None)
        .map_err(io::Error::from)?;
    let mut n = 0;
    for (msg, slot) in received.zip(out.iter_mut()) {
        *slot = (msg.bytes, msg.address.and_then(to_socket_addr));
        n += 1;
    }
    Ok(n)
}

fn to_socket_addr(addr: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6((*v6).into()))
}
