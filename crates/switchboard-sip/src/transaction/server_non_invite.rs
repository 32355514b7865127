//! Non-INVITE server transaction (RFC 3261 §17.2.2).
//!
//! Trying ─1xx→ Proceeding ─final→ Completed (timer J) ─→ Terminated.
//! Retransmitted requests are answered with the last response and never reach the TU.

use std::collections::VecDeque;
use std::time::Instant;

use super::{ServerInput, Timers, TxEvent, linger};
use crate::message::{Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// A non-INVITE server transaction.
#[derive(Debug)]
pub struct ServerNonInvite {
    request: Request,
    state: State,
    timers: Timers,
    reliable: bool,
    last: Option<Response>,
    timer_j: Option<Instant>,
    out: VecDeque<TxEvent>,
}

impl ServerNonInvite {
    /// Starts the transaction; nothing is sent until the TU responds.
    pub fn new(request: Request, reliable: bool, timers: Timers) -> Self {
        ServerNonInvite {
            request,
            state: State::Trying,
            timers,
            reliable,
            last: None,
            timer_j: None,
            out: VecDeque::new(),
        }
    }

    /// The request being served.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// True once the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// True while the TU may still send a response.
    pub fn can_respond(&self) -> bool {
        matches!(self.state, State::Trying | State::Proceeding)
    }

    /// Feeds a matched request, a response to send, or a transport error.
    pub fn handle(&mut self, input: ServerInput, now: Instant) {
        match input {
            ServerInput::Request(_) => {
                if let Some(last) = &self.last {
                    self.out.push_back(TxEvent::SendResponse(last.clone()));
                }
            }
            ServerInput::Respond(resp) => {
                if !self.can_respond() {
                    return;
                }
                if resp.is_provisional() {
                    self.state = State::Proceeding;
                } else {
                    self.state = State::Completed;
                    self.timer_j = linger(self.reliable, now, self.timers.t64());
                }
                self.last = Some(resp.clone());
                self.out.push_back(TxEvent::SendResponse(resp));
            }
            ServerInput::TransportError => {
                if self.state != State::Terminated {
                    self.out.push_back(TxEvent::TransportError);
                    self.terminate();
                }
            }
        }
    }

    /// Fires timer J when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_j.is_some_and(|j| j <= now) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_j = None;
        self.out.push_back(TxEvent::Terminated);
    }

    /// The next queued event.
    pub fn poll_output(&mut self) -> Option<TxEvent> {
        self.out.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_j
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::response_to;
    use crate::transaction::tests_support::{ms, register};

    fn drain(tx: &mut ServerNonInvite) -> Vec<TxEvent> {
        std::iter::from_fn(|| tx.poll_output()).collect()
    }

    #[test]
    fn retransmitted_request_before_any_answer_is_absorbed() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(register(), false, Timers::default());
        tx.handle(ServerInput::Request(register()), t0 + ms(500));
        assert!(drain(&mut tx).is_empty());
    }

    #[test]
    fn final_response_is_repeated_for_retransmissions_until_timer_j() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(register(), false, Timers::default());
        let ok = response_to(&register(), 200, Some("x"));
        tx.handle(ServerInput::Respond(ok.clone()), t0);
        assert_eq!(drain(&mut tx), vec![TxEvent::SendResponse(ok.clone())]);
        tx.handle(ServerInput::Request(register()), t0 + ms(1000));
        assert_eq!(drain(&mut tx), vec![TxEvent::SendResponse(ok.clone())]);
        // A second final is refused: the transaction has answered.
        tx.handle(
            ServerInput::Respond(response_to(&register(), 500, None)),
            t0 + ms(1100),
        );
        assert!(drain(&mut tx).is_empty());
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(32_000)));
        tx.handle_timeout(t0 + ms(32_000));
        assert_eq!(drain(&mut tx), vec![TxEvent::Terminated]);
    }

    #[test]
    fn over_tcp_timer_j_is_zero() {
        let t0 = Instant::now();
        let mut tx = ServerNonInvite::new(register(), true, Timers::default());
        tx.handle(
            ServerInput::Respond(response_to(&register(), 200, None)),
            t0,
        );
        assert_eq!(tx.poll_timeout(), Some(t0));
    }
}
