//! INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2).
//!
//! Calling ─1xx→ Proceeding ─2xx→ Accepted (timer M) ─→ Terminated
//!    └──────300-699──→ Completed (ACK sent, timer D) ─→ Terminated
//! Timer A retransmits the INVITE (unreliable only), timer B gives up after 64×T1.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Backoff, ClientInput, Timers, TxEvent, ack_for_non_2xx, earliest, linger};
use crate::message::{Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

/// An INVITE client transaction.
#[derive(Debug)]
pub struct ClientInvite {
    request: Request,
    ack: Option<Request>,
    state: State,
    timers: Timers,
    timer_a: Option<Backoff>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    reliable: bool,
    out: VecDeque<TxEvent>,
}

impl ClientInvite {
    /// Starts the transaction: the INVITE is queued for sending at once.
    pub fn new(request: Request, reliable: bool, timers: Timers, now: Instant) -> Self {
        let mut out = VecDeque::new();
        out.push_back(TxEvent::SendRequest(request.clone()));
        ClientInvite {
            request,
            ack: None,
            state: State::Calling,
            timers,
            timer_a: (!reliable).then(|| Backoff::start(now, timers.t1)),
            timer_b: Some(now + timers.t64()),
            timer_d: None,
            timer_m: None,
            reliable,
            out,
        }
    }

    /// The INVITE this transaction sends.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// True once the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// True after a 2xx (RFC 6026 Accepted): further 2xx retransmissions go to the TU.
    pub fn is_accepted(&self) -> bool {
        self.state == State::Accepted
    }

    /// Feeds a response or a transport error.
    pub fn handle(&mut self, input: ClientInput, now: Instant) {
        match input {
            ClientInput::Response(resp) => self.on_response(resp, now),
            ClientInput::TransportError => {
                if self.state != State::Terminated {
                    self.out.push_back(TxEvent::TransportError);
                    self.terminate();
                }
            }
        }
    }

    fn on_response(&mut self, resp: Response, now: Instant) {
        match (self.state, resp.status) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                // §17.1.1.2: a provisional stops retransmissions; timer B only guards Calling.
                self.timer_a = None;
                self.timer_b = None;
                self.out.push_back(TxEvent::Response(resp));
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_m = Some(now + self.timers.t64());
                self.out.push_back(TxEvent::Response(resp));
            }
            (State::Calling | State::Proceeding, _) => {
                self.state = State::Completed;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_d = linger(self.reliable, now, self.timers.t64());
                let ack = ack_for_non_2xx(&self.request, &resp);
                self.out.push_back(TxEvent::SendRequest(ack.clone()));
                self.ack = Some(ack);
                self.out.push_back(TxEvent::Response(resp));
            }
            (State::Completed, 300..=699) => {
                // The final response was retransmitted: our ACK was lost.
                if let Some(ack) = &self.ack {
                    self.out.push_back(TxEvent::SendRequest(ack.clone()));
                }
            }
            (State::Accepted, 200..=299) => {
                // RFC 6026: retransmitted 2xx go to the TU, which re-sends its ACK.
                self.out.push_back(TxEvent::Response(resp));
            }
            _ => {}
        }
    }

    /// Fires every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(due) = self.poll_timeout().filter(|&t| t <= now) {
            if self.timer_b == Some(due) {
                self.out.push_back(TxEvent::Timeout);
                self.terminate();
            } else if self.timer_a.map(|a| a.at) == Some(due) {
                self.out
                    .push_back(TxEvent::SendRequest(self.request.clone()));
                // Timer A doubles without a cap; B ends it at 64×T1.
                self.timer_a = self.timer_a.map(|a| a.next(now, None));
            } else {
                // Timer D or M: the wait for stray retransmissions is over.
                self.terminate();
            }
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
        self.out.push_back(TxEvent::Terminated);
    }

    /// The next queued event.
    pub fn poll_output(&mut self) -> Option<TxEvent> {
        self.out.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[
            self.timer_a.map(|a| a.at),
            self.timer_b,
            self.timer_d,
            self.timer_m,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Method;
    use crate::transaction::tests_support::{invite, ms, response_to_req};

    fn drain(tx: &mut ClientInvite) -> Vec<TxEvent> {
        std::iter::from_fn(|| tx.poll_output()).collect()
    }

    #[test]
    fn invite_is_retransmitted_at_doubling_intervals_and_times_out_at_64_t1() {
        let t0 = Instant::now();
        let mut tx = ClientInvite::new(invite(), false, Timers::default(), t0);
        assert!(matches!(drain(&mut tx)[..], [TxEvent::SendRequest(_)]));
        let mut sends = Vec::new();
        while let Some(t) = tx.poll_timeout() {
            tx.handle_timeout(t);
            for e in drain(&mut tx) {
                match e {
                    TxEvent::SendRequest(_) => sends.push(t.duration_since(t0)),
                    TxEvent::Timeout => assert_eq!(t.duration_since(t0), ms(32_000)),
                    _ => {}
                }
            }
        }
        let want: Vec<_> = [500, 1500, 3500, 7500, 15500, 31500].map(ms).to_vec();
        assert_eq!(sends, want);
        assert!(tx.is_terminated());
    }

    #[test]
    fn provisional_response_stops_retransmissions_and_reaches_the_tu() {
        let t0 = Instant::now();
        let mut tx = ClientInvite::new(invite(), false, Timers::default(), t0);
        drain(&mut tx);
        let ringing = response_to_req(tx.request(), 180);
        tx.handle(ClientInput::Response(ringing.clone()), t0 + ms(100));
        assert_eq!(drain(&mut tx), vec![TxEvent::Response(ringing)]);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn busy_here_is_acked_inside_the_transaction_and_the_ack_is_resent_on_retransmission() {
        let t0 = Instant::now();
        let mut tx = ClientInvite::new(invite(), false, Timers::default(), t0);
        drain(&mut tx);
        let busy = response_to_req(tx.request(), 486);
        tx.handle(ClientInput::Response(busy.clone()), t0 + ms(200));
        let events = drain(&mut tx);
        let TxEvent::SendRequest(ack) = &events[0] else {
            panic!("expected the ACK first, got {events:?}");
        };
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.headers.cseq().unwrap().seq, 1);
        assert_eq!(ack.headers.top_via().unwrap().branch(), Some("z9hG4bKinv1"));
        assert_eq!(events[1], TxEvent::Response(busy.clone()));
        tx.handle(ClientInput::Response(busy), t0 + ms(300));
        assert!(matches!(drain(&mut tx)[..], [TxEvent::SendRequest(_)]));
        // Timer D: 32 s on UDP.
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(200) + ms(32_000)));
        tx.handle_timeout(t0 + ms(32_200));
        assert!(tx.is_terminated());
    }

    #[test]
    fn two_hundred_ok_enters_accepted_and_passes_retransmitted_2xx_to_the_tu() {
        let t0 = Instant::now();
        let mut tx = ClientInvite::new(invite(), true, Timers::default(), t0);
        drain(&mut tx);
        let ok = response_to_req(tx.request(), 200);
        tx.handle(ClientInput::Response(ok.clone()), t0);
        assert_eq!(drain(&mut tx), vec![TxEvent::Response(ok.clone())]);
        assert!(tx.is_accepted());
        tx.handle(ClientInput::Response(ok.clone()), t0 + ms(500));
        assert_eq!(drain(&mut tx), vec![TxEvent::Response(ok)]);
        tx.handle_timeout(t0 + ms(32_000));
        assert_eq!(drain(&mut tx), vec![TxEvent::Terminated]);
    }

    #[test]
    fn reliable_transport_sends_once_and_still_times_out() {
        let t0 = Instant::now();
        let mut tx = ClientInvite::new(invite(), true, Timers::default(), t0);
        drain(&mut tx);
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(32_000)));
        tx.handle_timeout(t0 + ms(32_000));
        assert_eq!(drain(&mut tx), vec![TxEvent::Timeout, TxEvent::Terminated]);
    }
}
