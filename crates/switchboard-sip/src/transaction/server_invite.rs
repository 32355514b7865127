//! INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1).
//!
//! Proceeding (100 Trying sent at once) ─2xx→ Accepted (timer L) ─→ Terminated
//!     └──300-699──→ Completed (timers G, H) ─ACK→ Confirmed (timer I) ─→ Terminated
//!
//! In Accepted we also retransmit the 2xx on the timer G schedule until its ACK arrives
//! (the UAS core's duty in §13.3.1.4), so the B2BUA does not need its own timer for it.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Backoff, ServerInput, Timers, TxEvent, earliest, linger};
use crate::message::{Method, Request, Response, response_to};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// An INVITE server transaction.
#[derive(Debug)]
pub struct ServerInvite {
    request: Request,
    state: State,
    timers: Timers,
    reliable: bool,
    last: Response,
    acked: bool,
    timer_g: Option<Backoff>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
    out: VecDeque<TxEvent>,
}

impl ServerInvite {
    /// Starts the transaction and queues a 100 Trying (§17.2.1: so the client stops
    /// retransmitting while the B2BUA works out where the call goes).
    pub fn new(request: Request, reliable: bool, timers: Timers) -> Self {
        let trying = response_to(&request, 100, None);
        let mut out = VecDeque::new();
        out.push_back(TxEvent::SendResponse(trying.clone()));
        ServerInvite {
            request,
            state: State::Proceeding,
            timers,
            reliable,
            last: trying,
            acked: false,
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
            out,
        }
    }

    /// The INVITE being served.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// True once the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// True after a 2xx was sent and before the transaction ends.
    pub fn is_accepted(&self) -> bool {
        self.state == State::Accepted
    }

    /// True while the TU may still send a response.
    pub fn can_respond(&self) -> bool {
        matches!(self.state, State::Proceeding | State::Accepted)
    }

    /// Feeds a matched request, a response to send, or a transport error.
    pub fn handle(&mut self, input: ServerInput, now: Instant) {
        match input {
            ServerInput::Request(req) if req.method == Method::Ack => self.on_ack(req, now),
            ServerInput::Request(_) => match self.state {
                // A retransmitted INVITE: repeat what we last said.
                State::Proceeding | State::Completed => {
                    self.out.push_back(TxEvent::SendResponse(self.last.clone()));
                }
                _ => {}
            },
            ServerInput::Respond(resp) => self.respond(resp, now),
            ServerInput::TransportError => {
                if self.state != State::Terminated {
                    self.out.push_back(TxEvent::TransportError);
                    self.terminate();
                }
            }
        }
    }

    fn on_ack(&mut self, ack: Request, now: Instant) {
        match self.state {
            State::Completed => {
                self.state = State::Confirmed;
                self.timer_g = None;
                self.timer_h = None;
                self.timer_i = linger(self.reliable, now, self.timers.t4);
            }
            State::Accepted if !self.acked => {
                self.acked = true;
                self.timer_g = None;
                self.out.push_back(TxEvent::Ack(ack));
            }
            _ => {}
        }
    }

    fn respond(&mut self, resp: Response, now: Instant) {
        match (self.state, resp.status) {
            (State::Proceeding, 100..=199) => {}
            (State::Proceeding | State::Accepted, 200..=299) => {
                if self.state == State::Proceeding {
                    self.state = State::Accepted;
                    self.timer_l = Some(now + self.timers.t64());
                    self.timer_g = (!self.reliable).then(|| Backoff::start(now, self.timers.t1));
                }
            }
            (State::Proceeding, 300..=699) => {
                self.state = State::Completed;
                self.timer_g = (!self.reliable).then(|| Backoff::start(now, self.timers.t1));
                self.timer_h = Some(now + self.timers.t64());
            }
            _ => return,
        }
        self.last = resp.clone();
        self.out.push_back(TxEvent::SendResponse(resp));
    }

    /// Fires every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(due) = self.poll_timeout().filter(|&t| t <= now) {
            if self.timer_h == Some(due) {
                // No ACK for our error response.
                self.out.push_back(TxEvent::Timeout);
                self.terminate();
            } else if self.timer_l == Some(due) {
                if !self.acked {
                    // §13.3.1.4: no ACK for the 2xx; the TU should end the dialog.
                    self.out.push_back(TxEvent::Timeout);
                }
                self.terminate();
            } else if let Some(g) = self.timer_g.filter(|g| g.at == due) {
                self.out.push_back(TxEvent::SendResponse(self.last.clone()));
                self.timer_g = Some(g.next(now, Some(self.timers.t2)));
            } else {
                // Timer I.
                self.terminate();
            }
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
        self.out.push_back(TxEvent::Terminated);
    }

    /// The next queued event.
    pub fn poll_output(&mut self) -> Option<TxEvent> {
        self.out.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[
            self.timer_g.map(|g| g.at),
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::tests_support::{ack_for, invite, ms};

    fn drain(tx: &mut ServerInvite) -> Vec<TxEvent> {
        std::iter::from_fn(|| tx.poll_output()).collect()
    }

    fn statuses(events: &[TxEvent]) -> Vec<u16> {
        events
            .iter()
            .filter_map(|e| match e {
                TxEvent::SendResponse(r) => Some(r.status),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_new_invite_is_answered_100_trying_at_once_and_retransmissions_repeat_it() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(invite(), false, Timers::default());
        assert_eq!(statuses(&drain(&mut tx)), vec![100]);
        tx.handle(ServerInput::Request(invite()), t0 + ms(500));
        assert_eq!(statuses(&drain(&mut tx)), vec![100]);
        tx.handle(
            ServerInput::Respond(response_to(&invite(), 180, Some("t"))),
            t0 + ms(600),
        );
        tx.handle(ServerInput::Request(invite()), t0 + ms(1500));
        assert_eq!(statuses(&drain(&mut tx)), vec![180, 180]);
    }

    #[test]
    fn error_response_is_retransmitted_until_ack_then_confirmed_for_t4() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(invite(), false, Timers::default());
        drain(&mut tx);
        tx.handle(
            ServerInput::Respond(response_to(&invite(), 486, Some("t"))),
            t0,
        );
        drain(&mut tx);
        let mut at = Vec::new();
        for _ in 0..4 {
            let t = tx.poll_timeout().unwrap();
            tx.handle_timeout(t);
            assert_eq!(statuses(&drain(&mut tx)), vec![486]);
            at.push(t.duration_since(t0));
        }
        assert_eq!(at, [500, 1500, 3500, 7500].map(ms).to_vec());
        tx.handle(ServerInput::Request(ack_for(&invite())), t0 + ms(8000));
        assert!(drain(&mut tx).is_empty());
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(13_000)));
        tx.handle_timeout(t0 + ms(13_000));
        assert_eq!(drain(&mut tx), vec![TxEvent::Terminated]);
    }

    #[test]
    fn error_response_never_acked_times_out_with_timer_h() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(invite(), false, Timers::default());
        tx.handle(
            ServerInput::Respond(response_to(&invite(), 404, Some("t"))),
            t0,
        );
        let mut last = Vec::new();
        while let Some(t) = tx.poll_timeout() {
            tx.handle_timeout(t);
            last = drain(&mut tx);
            if tx.is_terminated() {
                assert_eq!(t, t0 + ms(32_000));
            }
        }
        assert_eq!(last, vec![TxEvent::Timeout, TxEvent::Terminated]);
    }

    #[test]
    fn two_hundred_ok_is_retransmitted_until_its_ack_reaches_the_tu() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(invite(), false, Timers::default());
        drain(&mut tx);
        tx.handle(
            ServerInput::Respond(response_to(&invite(), 200, Some("t"))),
            t0,
        );
        assert_eq!(statuses(&drain(&mut tx)), vec![200]);
        tx.handle_timeout(t0 + ms(500));
        assert_eq!(statuses(&drain(&mut tx)), vec![200]);
        let ack = ack_for(&invite());
        tx.handle(ServerInput::Request(ack.clone()), t0 + ms(700));
        assert_eq!(drain(&mut tx), vec![TxEvent::Ack(ack)]);
        // No more 2xx retransmissions; timer L ends the transaction quietly.
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(32_000)));
        tx.handle_timeout(t0 + ms(32_000));
        assert_eq!(drain(&mut tx), vec![TxEvent::Terminated]);
    }

    #[test]
    fn two_hundred_ok_never_acked_reports_a_timeout() {
        let t0 = Instant::now();
        let mut tx = ServerInvite::new(invite(), true, Timers::default());
        drain(&mut tx);
        tx.handle(
            ServerInput::Respond(response_to(&invite(), 200, Some("t"))),
            t0,
        );
        drain(&mut tx);
        tx.handle_timeout(t0 + ms(32_000));
        assert_eq!(drain(&mut tx), vec![TxEvent::Timeout, TxEvent::Terminated]);
    }
}
