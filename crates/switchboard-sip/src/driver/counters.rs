//! Transport counters, shared lock-free between the driver tasks and whoever exports them
//! (the binary's `/metrics`). Plain atomics so this crate needs no metrics library.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts for one transport.
#[derive(Debug, Default)]
pub struct TransportCounters {
    /// Datagrams or stream frames received (keep-alives not included).
    pub received: AtomicU64,
    /// Of those, how many the parser or framer refused.
    pub parse_errors: AtomicU64,
    /// 400 (or 505/513) answers sent for malformed input.
    pub bad_requests_sent: AtomicU64,
    /// Input dropped without an answer: unanswerable garbage, full queues, refused connections.
    pub dropped: AtomicU64,
    /// Stream connections closed because framing was lost (TCP) or after repeated garbage
    /// (WebSocket).
    pub desync_closed: AtomicU64,
}

impl TransportCounters {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `(name, help, value)` for each counter, for exporters.
    pub fn values(&self) -> [(&'static str, &'static str, u64); 5] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            (
                "sip_received",
                "SIP datagrams or stream frames received",
                get(&self.received),
            ),
            (
                "sip_parse_errors",
                "SIP input the parser or framer refused",
                get(&self.parse_errors),
            ),
            (
                "sip_bad_requests_sent",
                "400/505/513 answers sent for malformed SIP input",
                get(&self.bad_requests_sent),
            ),
            (
                "sip_dropped",
                "SIP input dropped without an answer",
                get(&self.dropped),
            ),
            (
                "sip_desync_closed",
                "SIP stream connections closed after losing framing",
                get(&self.desync_closed),
            ),
        ]
    }
}

/// The counters of every transport.
#[derive(Debug, Default)]
pub struct Counters {
    pub udp: Arc<TransportCounters>,
    pub tcp: Arc<TransportCounters>,
    /// SIP over WebSocket (`ws` and `wss`).
    pub ws: Arc<TransportCounters>,
    /// New dialogs answered 503 because the TU's queue was nearly full (overload).
    pub overload_refused: AtomicU64,
    /// New dialogs answered 503 (statelessly) because their source address sent more than
    /// its rate (see [`crate::admission`]).
    pub source_limited: AtomicU64,
}

impl Counters {
    /// Fresh zeroed counters.
    pub fn new() -> Arc<Counters> {
        Arc::new(Counters::default())
    }

    /// `(transport label, counters)` pairs.
    pub fn by_transport(&self) -> [(&'static str, &TransportCounters); 3] {
        [("udp", &self.udp), ("tcp", &self.tcp), ("ws", &self.ws)]
    }
}
