//! Non-INVITE client transaction (RFC 3261 §17.1.2).
//!
//! Trying ─1xx→ Proceeding ─final→ Completed (timer K) ─→ Terminated.
//! Timer E retransmits (T1 doubling up to T2; T2 once Proceeding), timer F gives up at 64×T1.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Backoff, ClientInput, Timers, TxEvent, earliest, linger};
use crate::message::{Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// A non-INVITE client transaction (REGISTER, BYE, OPTIONS, CANCEL, REFER…).
#[derive(Debug)]
pub struct ClientNonInvite {
    request: Request,
    state: State,
    timers: Timers,
    timer_e: Option<Backoff>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
    reliable: bool,
    out: VecDeque<TxEvent>,
}

impl ClientNonInvite {
    /// Starts the transaction: the request is queued for sending at once.
    pub fn new(request: Request, reliable: bool, timers: Timers, now: Instant) -> Self {
        let mut out = VecDeque::new();
        out.push_back(TxEvent::SendRequest(request.clone()));
        ClientNonInvite {
            request,
            state: State::Trying,
            timers,
            timer_e: (!reliable).then(|| Backoff::start(now, timers.t1)),
            timer_f: Some(now + timers.t64()),
            timer_k: None,
            reliable,
            out,
        }
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// True once the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
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
        if !matches!(self.state, State::Trying | State::Proceeding) {
            // Completed absorbs retransmitted finals.
            return;
        }
        if resp.is_provisional() {
            self.state = State::Proceeding;
        } else {
            self.state = State::Completed;
            self.timer_e = None;
            self.timer_f = None;
            self.timer_k = linger(self.reliable, now, self.timers.t4);
        }
        self.out.push_back(TxEvent::Response(resp));
    }

    /// Fires every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(due) = self.poll_timeout().filter(|&t| t <= now) {
            if self.timer_f == Some(due) {
                self.out.push_back(TxEvent::Timeout);
                self.terminate();
            } else if let Some(e) = self.timer_e.filter(|e| e.at == due) {
                self.out
                    .push_back(TxEvent::SendRequest(self.request.clone()));
                self.timer_e = Some(if self.state == State::Proceeding {
                    Backoff {
                        at: now + self.timers.t2,
                        interval: self.timers.t2,
                    }
                } else {
                    e.next(now, Some(self.timers.t2))
                });
            } else {
                self.terminate();
            }
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
        self.out.push_back(TxEvent::Terminated);
    }

    /// The next queued event.
    pub fn poll_output(&mut self) -> Option<TxEvent> {
        self.out.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_e.map(|e| e.at), self.timer_f, self.timer_k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::tests_support::{ms, register, response_to_req};

    fn drain(tx: &mut ClientNonInvite) -> Vec<TxEvent> {
        std::iter::from_fn(|| tx.poll_output()).collect()
    }

    /// Runs the transaction to its end, returning the offsets of retransmissions and of the
    /// timeout.
    fn run(tx: &mut ClientNonInvite, t0: Instant) -> (Vec<u64>, Option<u64>) {
        drain(tx);
        let (mut sends, mut timeout) = (Vec::new(), None);
        while let Some(t) = tx.poll_timeout() {
            tx.handle_timeout(t);
            let at = u64::try_from(t.duration_since(t0).as_millis()).unwrap();
            for e in drain(tx) {
                match e {
                    TxEvent::SendRequest(_) => sends.push(at),
                    TxEvent::Timeout => timeout = Some(at),
                    _ => {}
                }
            }
        }
        (sends, timeout)
    }

    #[test]
    fn retransmits_after_500ms_1s_2s_4s_4s_and_times_out_at_64_t1() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(register(), false, Timers::default(), t0);
        let (sends, timeout) = run(&mut tx, t0);
        let gaps: Vec<u64> = std::iter::once(sends[0])
            .chain(sends.windows(2).map(|w| w[1] - w[0]))
            .collect();
        assert_eq!(&gaps[..5], &[500, 1000, 2000, 4000, 4000]);
        assert!(gaps[4..].iter().all(|&g| g == 4000), "{gaps:?}");
        assert_eq!(timeout, Some(32_000));
        assert!(tx.is_terminated());
    }

    #[test]
    fn provisional_response_moves_retransmissions_to_every_t2() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(register(), false, Timers::default(), t0);
        drain(&mut tx);
        tx.handle_timeout(t0 + ms(500));
        drain(&mut tx);
        let trying = response_to_req(tx.request(), 100);
        tx.handle(ClientInput::Response(trying), t0 + ms(600));
        assert!(matches!(drain(&mut tx)[..], [TxEvent::Response(_)]));
        tx.handle_timeout(t0 + ms(1500));
        assert!(matches!(drain(&mut tx)[..], [TxEvent::SendRequest(_)]));
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(5500)));
    }

    #[test]
    fn final_response_completes_and_timer_k_ends_after_t4() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(register(), false, Timers::default(), t0);
        drain(&mut tx);
        let ok = response_to_req(tx.request(), 200);
        tx.handle(ClientInput::Response(ok.clone()), t0 + ms(50));
        assert_eq!(drain(&mut tx), vec![TxEvent::Response(ok.clone())]);
        // A retransmitted final is absorbed.
        tx.handle(ClientInput::Response(ok), t0 + ms(60));
        assert!(drain(&mut tx).is_empty());
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(5050)));
        tx.handle_timeout(t0 + ms(5050));
        assert_eq!(drain(&mut tx), vec![TxEvent::Terminated]);
    }

    #[test]
    fn transport_error_ends_the_transaction() {
        let t0 = Instant::now();
        let mut tx = ClientNonInvite::new(register(), true, Timers::default(), t0);
        drain(&mut tx);
        tx.handle(ClientInput::TransportError, t0);
        assert_eq!(
            drain(&mut tx),
            vec![TxEvent::TransportError, TxEvent::Terminated]
        );
        assert_eq!(tx.poll_timeout(), None);
    }
}
