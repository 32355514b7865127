//! SIP for Switchboard: messages, RFC 3261 transactions and timers, dialogs, digest auth,
//! registrar and B2BUA call control as sans-IO state machines, with thin tokio transports (UDP,
//! TCP, WebSocket).
//!
//! Everything in this crate but [`driver`] is sans-IO: state machines take input and the current
//! time, and hand back what to send and when to be woken up. [`driver`] owns the sockets (UDP
//! and TCP listeners around one transaction layer) and does steps 1-3 below for its TU.
//!
//! How a driver wires the pieces for one received datagram or stream frame:
//! 1. [`message::parse_datagram`] (UDP/WebSocket) or [`framing::StreamDecoder`] (TCP/TLS);
//!    on error, [`inbound::bad_request`] gives a 400 to send, or `None` to drop and count.
//! 2. For requests: [`inbound::stamp_via`] (received/rport), [`inbound::validate`] (400 on
//!    missing headers or CSeq mismatch), then [`transaction::TransactionLayer::receive`].
//! 3. Drain [`transaction::TransactionLayer::poll_output`]: `Send` goes to the socket, the rest
//!    to the TU (registrar for REGISTER, B2BUA for the rest); sleep until `poll_timeout`.
//! 4. The TU answers with [`transaction::TransactionLayer::respond`] and originates with
//!    [`transaction::TransactionLayer::send_request`], building in-dialog requests with
//!    [`dialog::Dialog`].

pub mod admission;
pub mod auth;
pub mod b2bua;
pub mod dialog;
pub mod driver;
pub mod framing;
pub mod fuzzing;
pub mod inbound;
pub mod message;
pub mod registrar;
pub mod transaction;

pub use message::{Message, Method, ParseError, Request, Response, Uri};
