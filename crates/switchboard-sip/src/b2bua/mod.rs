//! B2BUA call control, sans-IO: every call is two independent dialogs (caller ↔ us ↔ callee)
//! with the media anchored on our relay.
//!
//! The driver feeds it the transaction layer's events and the current time, and carries out
//! its [`Output`]s. The dial plan is not in here: for a new INVITE the driver decides the
//! [`Target`] (it knows the registrar and the config) and calls [`B2bua::new_call`]. SDP goes
//! through a [`MediaPlane`] the driver passes in, which anchors RTP and returns the SDP to
//! send on the other leg.
//!
//! ```text
//! caller ──INVITE──▶ new_call ──INVITE (forked)──▶ callee(s)
//!        ◀──100───
//!        ◀──180─── on 180/183 ◀──────────────────
//!        ◀──200─── on first 2xx: ACK it, CANCEL the other forks ◀──200──
//!        ──ACK──▶
//!        ──BYE──▶ 200, BYE the other leg ──BYE──▶        (either side)
//! ```
//! Every call emits `Started`, then `Ended` exactly once, whatever path it takes.

mod call;
mod flows;
mod originate;
mod types;

pub use originate::Origination;
pub use types::{
    B2buaConfig, CallEvent, ClientCredentials, EndCause, ForkTarget, HangupBy, Leg, MediaFailure,
    MediaPlane, Output, Target,
};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use switchboard_core::{CallId, Timestamp};

use crate::dialog::{Dialog, DialogId};
use crate::message::{Message, Method, Request, Response, response_to};
use crate::transaction::{Peer, TxKey, cancel_for, new_tag};
use call::{Branch, BranchState, Call, CalleeInvite, OfferKind, PendingReinvite, Phase};

/// Methods we take inside a call.
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY";

/// What a client transaction we started is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    /// Forked INVITE number `n` of the call.
    Branch(usize),
    /// A re-INVITE relayed to this leg.
    Reinvite,
    /// BYE, CANCEL and the like: their answers change nothing.
    Ignore,
}

/// The call controller.
#[derive(Debug)]
pub struct B2bua {
    config: B2buaConfig,
    calls: HashMap<CallId, Call>,
    /// Caller INVITE server transaction → call (CANCEL, Timer H).
    by_server_invite: HashMap<TxKey, CallId>,
    by_client: HashMap<TxKey, (CallId, Purpose)>,
    by_dialog: HashMap<DialogId, (CallId, Leg)>,
    ring_deadlines: BinaryHeap<Reverse<(Timestamp, CallId)>>,
    out: VecDeque<Output>,
}

impl B2bua {
    /// A controller with no calls.
    pub fn new(config: B2buaConfig) -> B2bua {
        B2bua {
            config,
            calls: HashMap::new(),
            by_server_invite: HashMap::new(),
            by_client: HashMap::new(),
            by_dialog: HashMap::new(),
            ring_deadlines: BinaryHeap::new(),
            out: VecDeque::new(),
        }
    }

    /// Calls in progress.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True with no call in progress.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// True for an INVITE that starts a call (no To tag) rather than a re-INVITE.
    pub fn is_initial_invite(req: &Request) -> bool {
        req.method == Method::Invite && req.headers.to().is_ok_and(|to| to.tag().is_none())
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`B2bua::handle_timeout`] wants to run next (the earliest ring timeout).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.ring_deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// A new INVITE (see [`B2bua::is_initial_invite`]) routed by the driver to `target`, as
    /// call `id` (the driver names it, so it can file the call's tenant and agent first).
    #[allow(clippy::too_many_arguments)]
    pub fn new_call(
        &mut self,
        id: CallId,
        key: TxKey,
        invite: Request,
        from: Peer,
        target: Target,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let caller_tag = new_tag();
        let from_hdr = invite.headers.from().ok();
        let caller_user = from_hdr
            .as_ref()
            .map(|f| call::user_of(&f.uri))
            .unwrap_or_default();
        let caller_display = from_hdr.and_then(|f| f.display);
        let callee_user = call::user_of(&invite.uri);
        let label = match &target {
            Target::Fork { label, .. }
            | Target::Reject { label, .. }
            | Target::Queue { label, .. } => label.clone(),
        };
        self.event(CallEvent::Started {
            call: id.clone(),
            caller: caller_user.clone(),
            callee: callee_user.clone(),
            label,
            sip_call_id: invite
                .headers
                .call_id()
                .map(str::to_owned)
                .unwrap_or_default(),
            at: now,
        });
        let refuse = |b: &mut B2bua, status: u16, cause: EndCause| {
            let resp = response_to(&invite, status, Some(&caller_tag));
            b.out.push_back(Output::Respond {
                key: key.clone(),
                response: resp,
            });
            b.ended(&id, cause, Some(status), HangupBy::System, now);
        };
        let max_forwards = invite.headers.max_forwards().ok().flatten().unwrap_or(70);
        if max_forwards == 0 {
            refuse(self, 483, EndCause::Rejected(483));
            return;
        }
        if self.calls.len() >= self.config.max_calls {
            refuse(self, 503, EndCause::System("overloaded"));
            return;
        }
        let (targets, ring_timeout) = match target {
            Target::Reject { status, cause, .. } => {
                refuse(self, status, cause);
                return;
            }
            Target::Queue { queue, .. } => {
                self.park(id, key, invite, from, queue, media, now);
                return;
            }
            Target::Fork { targets, .. } if targets.is_empty() => {
                refuse(self, 480, EndCause::Unavailable);
                return;
            }
            Target::Fork {
                targets,
                ring_timeout,
                ..
            } => (targets, ring_timeout.unwrap_or(self.config.ring_timeout)),
        };
        self.out.push_back(Output::Respond {
            key: key.clone(),
            response: response_to(&invite, 100, None),
        });
        let offer = match media.open(&id, &invite.body) {
            Ok(offer) => offer,
            Err(f) => {
                let mut resp = response_to(&invite, f.status, Some(&caller_tag));
                f.apply(&mut resp);
                self.out.push_back(Output::Respond {
                    key,
                    response: resp,
                });
                self.ended(
                    &id,
                    EndCause::MediaNegotiation,
                    Some(f.status),
                    HangupBy::System,
                    now,
                );
                return;
            }
        };
        let callee_call_id = call::new_call_id(&self.config);
        let callee_from_tag = new_tag();
        // A copy, so the fork loop below can borrow `self` mutably.
        let config = self.config.clone();
        let params = CalleeInvite {
            config: &config,
            call_id: &callee_call_id,
            from_tag: &callee_from_tag,
            caller_user: &caller_user,
            caller_display: caller_display.as_deref(),
            callee_user: &callee_user,
            max_forwards: max_forwards - 1,
            cseq: 1,
            sdp: &offer,
            extra_headers: &[],
        };
        let branches = self.send_forks(&id, &params, targets);
        let deadline = now + ring_timeout;
        self.ring_deadlines.push(Reverse((deadline, id.clone())));
        self.by_server_invite.insert(key.clone(), id.clone());
        self.calls.insert(
            id.clone(),
            Call {
                phase: Phase::Ringing,
                caller_invite: invite,
                caller_key: key,
                caller_peer: from,
                caller_tag,
                caller_dialog: None,
                callee_call_id,
                branches,
                callee: None,
                ringing_sent: false,
                ring_deadline: Some(deadline),
                pending_reinvite: None,
                originated: false,
            },
        );
    }

    /// Answers a queue call ourselves: 200 with the media plane's answer, the caller's dialog,
    /// and the call waits (`Queued`) for [`B2bua::offer`].
    #[allow(clippy::too_many_arguments)]
    fn park(
        &mut self,
        id: CallId,
        key: TxKey,
        invite: Request,
        from: Peer,
        queue: String,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let caller_tag = new_tag();
        self.respond(key.clone(), response_to(&invite, 100, None));
        let answer = match media.park(&id, &invite.body) {
            Ok(a) => a,
            Err(f) => {
                let mut resp = response_to(&invite, f.status, Some(&caller_tag));
                f.apply(&mut resp);
                self.respond(key, resp);
                let cause = EndCause::MediaNegotiation;
                self.ended(&id, cause, Some(f.status), HangupBy::System, now);
                return;
            }
        };
        let caller_ep = call::endpoint(&self.config, from.transport);
        let caller_dialog = Dialog::as_uas(&invite, &caller_tag, 200, caller_ep).ok();
        if let Some(d) = &caller_dialog {
            self.by_dialog
                .insert(d.id().clone(), (id.clone(), Leg::Caller));
        }
        let call = Call {
            phase: Phase::Queued,
            caller_invite: invite,
            caller_key: key.clone(),
            caller_peer: from,
            caller_tag,
            caller_dialog,
            callee_call_id: String::new(),
            branches: Vec::new(),
            callee: None,
            ringing_sent: true,
            ring_deadline: None,
            pending_reinvite: None,
            originated: false,
        };
        let ok = call::caller_response(&call, &self.config, 200, Some(answer));
        self.by_server_invite.insert(key.clone(), id.clone());
        self.calls.insert(id.clone(), call);
        self.respond(key, ok);
        self.event(CallEvent::Queued {
            call: id,
            queue,
            at: now,
        });
    }

    /// Rings `targets` (an agent's phones) for a queued call. The ACD keeps the ring timeout
    /// and calls [`B2bua::cancel_offer`]; when every target fails by itself the call is queued
    /// again and `OfferFailed` says so. Returns false if the call is not waiting.
    pub fn offer(
        &mut self,
        id: &CallId,
        targets: Vec<ForkTarget>,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) -> bool {
        let waiting = self.calls.get(id).is_some_and(|c| c.phase == Phase::Queued);
        if !waiting || targets.is_empty() {
            return false;
        }
        self.ring(id, targets, None, OfferKind::Queue, media, now)
    }

    /// Stops ringing the current offer of a queued call (ring timeout, agent left); the call
    /// waits on.
    pub fn cancel_offer(&mut self, id: &CallId) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if call.phase != Phase::Offering(OfferKind::Queue) {
            return;
        }
        call.phase = Phase::Queued;
        for (cancel, peer) in cancel_pending(call) {
            self.send(id, Purpose::Ignore, cancel, peer);
        }
    }

    /// Rings new callee targets for an answered or queued caller, with a fresh leg-B offer.
    fn ring(
        &mut self,
        id: &CallId,
        targets: Vec<ForkTarget>,
        ring_timeout: Option<std::time::Duration>,
        kind: OfferKind,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) -> bool {
        let Some(call) = self.calls.get_mut(id) else {
            return false;
        };
        for b in &call.branches {
            if let Some((_, purpose)) = self.by_client.get_mut(&b.key) {
                *purpose = Purpose::Ignore;
            }
        }
        // The agent's phone shows (and the console looks up) the customer: on a call we
        // placed, that is whom our INVITE went to, not our caller ID.
        let caller = if call.originated {
            call.caller_invite.headers.to().ok()
        } else {
            call.caller_invite.headers.from().ok()
        };
        let caller_user = caller
            .as_ref()
            .map(|f| call::user_of(&f.uri))
            .unwrap_or_default();
        let caller_display = caller.and_then(|f| f.display);
        let extra_headers = if call.originated {
            originate::agent_leg_headers(&self.config)
        } else {
            Vec::new()
        };
        let max_forwards = call
            .caller_invite
            .headers
            .max_forwards()
            .ok()
            .flatten()
            .unwrap_or(70);
        let Ok(offer) = media.retarget(id) else {
            return false;
        };
        let callee_call_id = call::new_call_id(&self.config);
        let from_tag = new_tag();
        let callee_user = targets
            .first()
            .map(|t| call::user_of(&t.uri))
            .unwrap_or_default();
        let config = self.config.clone();
        let params = CalleeInvite {
            config: &config,
            call_id: &callee_call_id,
            from_tag: &from_tag,
            caller_user: &caller_user,
            caller_display: caller_display.as_deref(),
            callee_user: &callee_user,
            max_forwards: max_forwards.saturating_sub(1).max(1),
            cseq: 1,
            sdp: &offer,
            extra_headers: &extra_headers,
        };
        let branches = self.send_forks(id, &params, targets);
        let deadline = ring_timeout.map(|t| now + t);
        if let Some(at) = deadline {
            self.ring_deadlines.push(Reverse((at, id.clone())));
        }
        if let Some(call) = self.calls.get_mut(id) {
            call.branches = branches;
            call.callee_call_id = callee_call_id;
            call.phase = Phase::Offering(kind);
            call.ring_deadline = deadline;
        }
        true
    }

    /// INVITEs to every target at once; their keys map to `Purpose::Branch(i)`.
    fn send_forks(
        &mut self,
        id: &CallId,
        params: &CalleeInvite<'_>,
        targets: Vec<ForkTarget>,
    ) -> Vec<Branch> {
        let mut branches = Vec::with_capacity(targets.len());
        for target in targets {
            let request = call::callee_invite(params, &target);
            let Ok(bkey) = TxKey::for_outgoing_request(&request) else {
                continue;
            };
            self.by_client
                .insert(bkey.clone(), (id.clone(), Purpose::Branch(branches.len())));
            self.out.push_back(Output::Request {
                request: request.clone(),
                to: target.peer,
            });
            branches.push(Branch {
                target,
                invite: request,
                key: bkey,
                state: BranchState::Calling,
                authenticated: false,
            });
        }
        branches
    }

    /// Hands the caller over to `target` after the callee's REFER (blind transfer): the old
    /// callee gets NOTIFY (sipfrag 200) and BYE, the new target is rung with a fresh offer on
    /// leg B. If nobody there answers, the caller is hung up on (`transfer-failed`).
    pub fn transfer(
        &mut self,
        id: &CallId,
        target: Target,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if call.phase != Phase::Answered {
            return;
        }
        let old = call.callee.take();
        let old_peer = old.as_ref().map(|(n, _)| call.branches[*n].target.peer);
        for b in &call.branches {
            if let Some((_, purpose)) = self.by_client.get_mut(&b.key) {
                *purpose = Purpose::Ignore;
            }
        }
        if let (Some((_, mut dialog)), Some(peer)) = (old, old_peer) {
            self.by_dialog.remove(dialog.id());
            let mut notify = dialog.request(Method::Notify);
            notify.headers.push("Event", "refer");
            notify
                .headers
                .push("Subscription-State", "terminated;reason=noresource");
            notify
                .headers
                .push("Content-Type", "message/sipfrag;version=2.0");
            notify.body = b"SIP/2.0 200 OK\r\n".to_vec();
            self.send(id, Purpose::Ignore, notify, peer);
            let bye = dialog.bye();
            self.send(id, Purpose::Ignore, bye, peer);
        }
        let (targets, ring_timeout) = match target {
            Target::Fork {
                targets,
                ring_timeout,
                ..
            } if !targets.is_empty() => (targets, ring_timeout.unwrap_or(self.config.ring_timeout)),
            _ => {
                self.hang_up(
                    id,
                    EndCause::TransferFailed,
                    HangupBy::System,
                    None,
                    media,
                    now,
                );
                return;
            }
        };
        if !self.ring(
            id,
            targets,
            Some(ring_timeout),
            OfferKind::Transfer,
            media,
            now,
        ) {
            self.hang_up(
                id,
                EndCause::TransferFailed,
                HangupBy::System,
                None,
                media,
                now,
            );
        }
    }

    /// REFER from the callee (an agent handing the customer on). Transfers started by the
    /// caller are refused: the caller is usually the customer on an outside line.
    fn on_refer(&mut self, id: &CallId, leg: Leg, key: TxKey, req: &Request, now: Timestamp) {
        let answered = self
            .calls
            .get(id)
            .is_some_and(|c| c.phase == Phase::Answered && c.pending_reinvite.is_none());
        if !answered {
            self.respond(key, response_to(req, 491, None));
            return;
        }
        if leg != Leg::Callee {
            let mut resp = response_to(req, 403, None);
            resp.reason = "Forbidden (only the callee can transfer)".into();
            self.respond(key, resp);
            return;
        }
        let target = req
            .headers
            .get("Refer-To")
            .and_then(|v| crate::message::NameAddr::parse(v).ok())
            .and_then(|n| n.uri.user);
        let Some(target) = target else {
            let mut resp = response_to(req, 400, None);
            resp.reason = "Bad Request (Refer-To)".into();
            self.respond(key, resp);
            return;
        };
        self.respond(key, response_to(req, 202, None));
        self.event(CallEvent::TransferRequested {
            call: id.clone(),
            target,
            at: now,
        });
    }

    /// A request other than an initial INVITE: CANCEL, BYE, re-INVITE, INFO, OPTIONS…
    pub fn handle_request(
        &mut self,
        key: TxKey,
        req: Request,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        if req.method == Method::Cancel {
            self.on_cancel(key, &req, media, now);
            return;
        }
        let found = DialogId::of_incoming_request(&req)
            .and_then(|d| self.by_dialog.get(&d).cloned())
            .filter(|(id, _)| self.calls.contains_key(id));
        let Some((id, leg)) = found else {
            self.respond(key, response_to(&req, 481, None));
            return;
        };
        let checked = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.dialog_mut(leg))
            .map(|d| d.on_request(&req));
        if let Some(Err(e)) = checked {
            self.respond(key, response_to(&req, e.status(), None));
            return;
        }
        match req.method {
            Method::Bye => {
                self.respond(key, response_to(&req, 200, None));
                self.hang_up(
                    &id,
                    EndCause::NormalClearing,
                    leg.into(),
                    Some(leg),
                    media,
                    now,
                );
            }
            Method::Invite => self.on_reinvite(&id, leg, key, req, media, now),
            Method::Refer => self.on_refer(&id, leg, key, &req, now),
            Method::Options | Method::Info | Method::Notify => {
                self.respond(key, response_to(&req, 200, None));
            }
            _ => {
                let mut resp = response_to(&req, 501, None);
                resp.headers.push("Allow", ALLOW);
                self.respond(key, resp);
            }
        }
    }

    /// An ACK for a 2xx (the transaction layer took care of ACKs of errors).
    pub fn handle_ack(&mut self, req: &Request) {
        if let Some(d) = DialogId::of_incoming_request(req)
            && let Some((id, leg)) = self.by_dialog.get(&d).cloned()
            && let Some(dialog) = self.calls.get_mut(&id).and_then(|c| c.dialog_mut(leg))
        {
            let _ = dialog.on_request(req);
        }
    }

    /// A response to a request we sent.
    pub fn handle_response(
        &mut self,
        key: TxKey,
        resp: Response,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let Some((id, purpose)) = self.by_client.get(&key).cloned() else {
            return;
        };
        match purpose {
            Purpose::Branch(n) => self.on_branch_response(&id, n, resp, media, now),
            Purpose::Reinvite => self.on_reinvite_response(&id, resp, media, now),
            Purpose::Ignore => {}
        }
    }

    /// A 2xx that matched no transaction: the callee re-sent its 200 because our ACK was lost.
    pub fn handle_stray_response(&mut self, resp: &Response) {
        let is_invite_2xx = (200..300).contains(&resp.status)
            && resp
                .headers
                .cseq()
                .is_ok_and(|c| c.method == Method::Invite);
        if !is_invite_2xx {
            return;
        }
        let Some(d) = DialogId::of_incoming_response(resp) else {
            return;
        };
        let Some((id, leg)) = self.by_dialog.get(&d).cloned() else {
            return;
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let dialog = match leg {
            Leg::Callee => call.callee.as_ref().map(|(_, d)| d),
            // Leg A is ours to acknowledge only on a call we placed.
            Leg::Caller => call.caller_dialog.as_ref().filter(|_| call.originated),
        };
        if let Some(dialog) = dialog
            && let Ok(cseq) = resp.headers.cseq()
            && let Some(peer) = call.peer_of(leg)
        {
            let ack = dialog.ack(cseq.seq);
            self.out.push_back(Output::Stateless {
                message: Message::Request(ack),
                to: peer,
            });
        }
    }

    /// A transaction timed out: Timer B/F on ours (as a 408), Timer H on the caller's INVITE
    /// (our 200 was never acknowledged).
    pub fn handle_transaction_timeout(
        &mut self,
        key: &TxKey,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        if let Some(id) = self.by_server_invite.get(key).cloned() {
            if self
                .calls
                .get(&id)
                .is_some_and(|c| c.phase != Phase::Ringing)
            {
                self.hang_up(&id, EndCause::NoAck, HangupBy::System, None, media, now);
            }
            return;
        }
        let Some((id, purpose)) = self.by_client.get(key).cloned() else {
            return;
        };
        let Some(request) = self.calls.get(&id).and_then(|c| match purpose {
            Purpose::Branch(n) => c.branches.get(n).map(|b| b.invite.clone()),
            _ => c
                .pending_reinvite
                .as_ref()
                .map(|p| p.server_request.clone()),
        }) else {
            return;
        };
        let timeout = response_to(&request, 408, None);
        match purpose {
            Purpose::Branch(n) => self.on_branch_response(&id, n, timeout, media, now),
            Purpose::Reinvite => self.on_reinvite_response(&id, timeout, media, now),
            Purpose::Ignore => {}
        }
    }

    /// A transaction is gone; forget its key.
    pub fn handle_transaction_terminated(&mut self, key: &TxKey) {
        self.by_client.remove(key);
        self.by_server_invite.remove(key);
    }

    /// Ring timeouts.
    pub fn handle_timeout(&mut self, media: &mut dyn MediaPlane, now: Timestamp) {
        while let Some(Reverse((at, id))) = self.ring_deadlines.peek().cloned() {
            if at > now {
                break;
            }
            self.ring_deadlines.pop();
            let phase = self
                .calls
                .get(&id)
                .filter(|c| c.ring_deadline == Some(at))
                .map(|c| c.phase);
            match phase {
                Some(Phase::Ringing) => {
                    self.fail_unanswered(
                        &id,
                        480,
                        EndCause::NoAnswer,
                        HangupBy::System,
                        media,
                        now,
                    );
                }
                Some(Phase::Offering(_)) => {
                    let cause = EndCause::TransferFailed;
                    self.hang_up(&id, cause, HangupBy::System, None, media, now);
                }
                Some(Phase::Dialing) => {
                    let by = HangupBy::System;
                    self.end_dialing(&id, 487, EndCause::NoAnswer, by, media, now);
                }
                _ => {}
            }
        }
    }

    /// Ends a call from outside SIP: media timeout, an operator, shutdown.
    pub fn hangup(
        &mut self,
        id: &CallId,
        cause: EndCause,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let Some(call) = self.calls.get(id) else {
            return;
        };
        if call.phase == Phase::Ringing {
            self.fail_unanswered(id, 480, cause, HangupBy::System, media, now);
        } else if call.phase == Phase::Dialing {
            self.end_dialing(id, 487, cause, HangupBy::System, media, now);
        } else {
            self.hang_up(id, cause, HangupBy::System, None, media, now);
        }
    }

    /// Ids of the calls in progress (e.g. to end them all at shutdown).
    pub fn call_ids(&self) -> Vec<CallId> {
        self.calls.keys().cloned().collect()
    }

    fn on_cancel(&mut self, key: TxKey, req: &Request, media: &mut dyn MediaPlane, now: Timestamp) {
        let call = key
            .cancelled_invite()
            .and_then(|invite| self.by_server_invite.get(&invite).cloned());
        let Some(id) = call else {
            self.respond(key, response_to(req, 481, None));
            return;
        };
        self.respond(key, response_to(req, 200, None));
        let ringing = self
            .calls
            .get(&id)
            .is_some_and(|c| c.phase == Phase::Ringing);
        // After our 200 the CANCEL changes nothing (§9.2): the caller will BYE.
        if ringing {
            self.fail_unanswered(
                &id,
                487,
                EndCause::CallerCancel,
                HangupBy::Caller,
                media,
                now,
            );
        }
    }

    fn on_branch_response(
        &mut self,
        id: &CallId,
        n: usize,
        resp: Response,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let Some(branch) = call.branches.get_mut(n) else {
            return;
        };
        match resp.status {
            100 => {}
            101..=199 => {
                if branch.state == BranchState::Calling {
                    branch.state = BranchState::Early;
                }
                if call.phase == Phase::Dialing && !call.ringing_sent {
                    call.ringing_sent = true;
                    self.event(CallEvent::Ringing {
                        call: id.clone(),
                        at: now,
                    });
                } else if call.phase == Phase::Ringing && !call.ringing_sent {
                    call.ringing_sent = true;
                    let ringing = call::caller_response(call, &self.config, 180, None);
                    let key = call.caller_key.clone();
                    self.respond(key, ringing);
                    self.event(CallEvent::Ringing {
                        call: id.clone(),
                        at: now,
                    });
                }
            }
            200..=299 => self.on_branch_answered(id, n, &resp, media, now),
            _ => {
                if let Some(retry) = self.challenge_answer(id, n, &resp) {
                    let Some(call) = self.calls.get_mut(id) else {
                        return;
                    };
                    let branch = &mut call.branches[n];
                    let peer = branch.target.peer;
                    if let Ok(new_key) = TxKey::for_outgoing_request(&retry) {
                        self.by_client.remove(&branch.key);
                        branch.key = new_key.clone();
                        branch.invite = retry.clone();
                        branch.authenticated = true;
                        self.by_client
                            .insert(new_key, (id.clone(), Purpose::Branch(n)));
                        self.out.push_back(Output::Request {
                            request: retry,
                            to: peer,
                        });
                        return;
                    }
                }
                let Some(call) = self.calls.get_mut(id) else {
                    return;
                };
                let branch = &mut call.branches[n];
                if branch.state.is_pending() {
                    branch.state = BranchState::Failed(resp.status);
                }
                let settled = call.pending_branches().next().is_none();
                if call.phase == Phase::Ringing && settled {
                    let (status, cause) = final_for_caller(call);
                    self.fail_unanswered(id, status, cause, HangupBy::Callee, media, now);
                } else if call.phase == Phase::Dialing && settled {
                    let (status, cause) = final_for_caller(call);
                    self.end_dialing(id, status, cause, HangupBy::Callee, media, now);
                } else if call.phase == Phase::Offering(OfferKind::Transfer) && settled {
                    let cause = EndCause::TransferFailed;
                    self.hang_up(id, cause, HangupBy::System, None, media, now);
                } else if call.phase == Phase::Offering(OfferKind::Queue) && settled {
                    call.phase = Phase::Queued;
                    self.event(CallEvent::OfferFailed {
                        call: id.clone(),
                        status: resp.status,
                        at: now,
                    });
                }
            }
        }
    }

    /// The INVITE re-sent with credentials, when `resp` is a challenge we can answer once.
    fn challenge_answer(&self, id: &CallId, n: usize, resp: &Response) -> Option<Request> {
        let call = self.calls.get(id)?;
        let branch = call.branches.get(n)?;
        if branch.authenticated || call.phase == Phase::Answered {
            return None;
        }
        let credentials = branch.target.credentials.as_ref()?;
        let ep = call::endpoint(&self.config, branch.target.peer.transport);
        call::with_credentials(&branch.invite, resp, credentials, &ep)
    }

    fn on_branch_answered(
        &mut self,
        id: &CallId,
        n: usize,
        resp: &Response,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let branch = &mut call.branches[n];
        let ep = call::endpoint(&self.config, branch.target.peer.transport);
        let peer = branch.target.peer;
        let Ok(mut dialog) = Dialog::as_uac(&branch.invite, resp, ep) else {
            return;
        };
        let seq = branch.invite.headers.cseq().map(|c| c.seq).unwrap_or(1);
        self.out.push_back(Output::Stateless {
            message: Message::Request(dialog.ack(seq)),
            to: peer,
        });
        if call.phase == Phase::Answered {
            // A second fork answered too late: it gets ACK and BYE (§13.2.2.4).
            let bye = dialog.bye();
            self.send(id, Purpose::Ignore, bye, peer);
            return;
        }
        if let Phase::Offering(kind) = call.phase {
            self.on_offer_answered(id, n, kind, dialog, peer, resp, media, now);
            return;
        }
        if call.phase == Phase::Dialing {
            self.on_customer_answered(id, dialog, peer, resp, media, now);
            return;
        }
        branch.state = BranchState::Answered;
        let answer = match media.answer(id, &resp.body) {
            Ok(a) => a,
            Err(f) => {
                let bye = dialog.bye();
                self.send(id, Purpose::Ignore, bye, peer);
                self.fail_unanswered(
                    id,
                    f.status,
                    EndCause::MediaNegotiation,
                    HangupBy::System,
                    media,
                    now,
                );
                return;
            }
        };
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.phase = Phase::Answered;
        call.ring_deadline = None;
        let ok = call::caller_response(call, &self.config, 200, Some(answer));
        let caller_ep = call::endpoint(&self.config, call.caller_peer.transport);
        let caller_dialog = Dialog::as_uas(&call.caller_invite, &call.caller_tag, 200, caller_ep);
        self.by_dialog
            .insert(dialog.id().clone(), (id.clone(), Leg::Callee));
        if let Ok(d) = &caller_dialog {
            self.by_dialog
                .insert(d.id().clone(), (id.clone(), Leg::Caller));
        }
        call.caller_dialog = caller_dialog.ok();
        call.callee = Some((n, dialog));
        let callee_call_id = call.callee_call_id.clone();
        let cancels = cancel_pending(call);
        let key = call.caller_key.clone();
        self.respond(key, ok);
        for (cancel, peer) in cancels {
            self.send(id, Purpose::Ignore, cancel, peer);
        }
        self.event(CallEvent::Answered {
            call: id.clone(),
            sip_call_id: callee_call_id,
            target: n,
            at: now,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn on_offer_answered(
        &mut self,
        id: &CallId,
        n: usize,
        kind: OfferKind,
        mut dialog: Dialog,
        peer: Peer,
        resp: &Response,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        if media.retarget_answer(id, &resp.body).is_err() {
            let bye = dialog.bye();
            self.send(id, Purpose::Ignore, bye, peer);
            self.hang_up(
                id,
                EndCause::TransferFailed,
                HangupBy::System,
                None,
                media,
                now,
            );
            return;
        }
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.branches[n].state = BranchState::Answered;
        call.phase = Phase::Answered;
        call.ring_deadline = None;
        self.by_dialog
            .insert(dialog.id().clone(), (id.clone(), Leg::Callee));
        call.callee = Some((n, dialog));
        let sip_call_id = call.callee_call_id.clone();
        let cancels = cancel_pending(call);
        for (cancel, peer) in cancels {
            self.send(id, Purpose::Ignore, cancel, peer);
        }
        self.event(match kind {
            OfferKind::Transfer => CallEvent::Transferred {
                call: id.clone(),
                sip_call_id,
                at: now,
            },
            OfferKind::Queue => CallEvent::Answered {
                call: id.clone(),
                sip_call_id,
                target: n,
                at: now,
            },
        });
    }

    fn on_reinvite(
        &mut self,
        id: &CallId,
        from: Leg,
        key: TxKey,
        req: Request,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if call.pending_reinvite.is_some() || call.phase != Phase::Answered {
            // §14.1: one offer at a time; the peer retries after a random delay.
            self.respond(key, response_to(&req, 491, None));
            return;
        }
        let offer = match media.reoffer(id, from, &req.body) {
            Ok(o) => o,
            Err(f) => {
                let mut resp = response_to(&req, f.status, None);
                f.apply(&mut resp);
                self.respond(key, resp);
                return;
            }
        };
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let peer = call.peer_of(from.other());
        let Some((dialog, peer)) = call.dialog_mut(from.other()).zip(peer) else {
            self.respond(key, response_to(&req, 500, None));
            return;
        };
        let reinvite = dialog.reinvite(offer);
        let Ok(client_key) = TxKey::for_outgoing_request(&reinvite) else {
            return;
        };
        call.pending_reinvite = Some(PendingReinvite {
            from,
            server_key: key,
            server_request: req,
        });
        self.by_client
            .insert(client_key, (id.clone(), Purpose::Reinvite));
        self.out.push_back(Output::Request {
            request: reinvite,
            to: peer,
        });
        self.event(CallEvent::MediaDirection {
            call: id.clone(),
            from,
            at: now,
        });
    }

    fn on_reinvite_response(
        &mut self,
        id: &CallId,
        resp: Response,
        media: &mut dyn MediaPlane,
        _now: Timestamp,
    ) {
        if resp.status < 200 {
            return;
        }
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let Some(pending) = call.pending_reinvite.take() else {
            return;
        };
        let answering = pending.from.other();
        if (200..300).contains(&resp.status) {
            if let Some(peer) = call.peer_of(answering)
                && let Some(dialog) = call.dialog_mut(answering)
            {
                dialog.on_response(&resp);
                let seq = resp.headers.cseq().map(|c| c.seq).unwrap_or(1);
                let ack = dialog.ack(seq);
                self.out.push_back(Output::Stateless {
                    message: Message::Request(ack),
                    to: peer,
                });
            }
            let mut ok = response_to(&pending.server_request, 200, None);
            match media.reanswer(id, pending.from, &resp.body) {
                Ok(sdp) => {
                    let ep = call::endpoint(&self.config, call_transport(call, pending.from));
                    ok.headers.push("Contact", &format!("<{}>", ep.contact));
                    ok.headers.push("Content-Type", "application/sdp");
                    ok.body = sdp;
                }
                Err(f) => {
                    ok = response_to(&pending.server_request, f.status, None);
                    f.apply(&mut ok);
                }
            }
            self.respond(pending.server_key, ok);
        } else {
            let mut resp2 = response_to(&pending.server_request, resp.status, None);
            resp2.reason = resp.reason;
            self.respond(pending.server_key, resp2);
        }
    }

    /// Ends an unanswered call: CANCEL the pending forks, final `status` to the caller.
    fn fail_unanswered(
        &mut self,
        id: &CallId,
        status: u16,
        cause: EndCause,
        by: HangupBy,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let Some(mut call) = self.calls.remove(id) else {
            return;
        };
        for (cancel, peer) in cancel_pending(&mut call) {
            self.send(id, Purpose::Ignore, cancel, peer);
        }
        let resp = call::caller_response(&call, &self.config, status, None);
        self.respond(call.caller_key.clone(), resp);
        media.close(id);
        self.forget(&call);
        self.ended(id, cause, Some(status), by, now);
    }

    /// Ends an answered call: BYE every leg but `except` (which sent its own BYE).
    fn hang_up(
        &mut self,
        id: &CallId,
        cause: EndCause,
        by: HangupBy,
        except: Option<Leg>,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let Some(mut call) = self.calls.remove(id) else {
            return;
        };
        for (cancel, peer) in cancel_pending(&mut call) {
            self.send(id, Purpose::Ignore, cancel, peer);
        }
        for leg in [Leg::Caller, Leg::Callee] {
            if Some(leg) == except {
                continue;
            }
            let peer = call.peer_of(leg);
            if let Some((dialog, peer)) = call.dialog_mut(leg).zip(peer) {
                let bye = dialog.bye();
                self.send(id, Purpose::Ignore, bye, peer);
            }
        }
        if let Some(p) = call.pending_reinvite.take() {
            self.respond(p.server_key, response_to(&p.server_request, 487, None));
        }
        media.close(id);
        self.forget(&call);
        self.ended(id, cause, None, by, now);
    }

    /// Drops the call's dialog and INVITE mappings; client keys stay until their
    /// transactions end so late answers are recognised and ignored.
    fn forget(&mut self, call: &Call) {
        self.by_server_invite.remove(&call.caller_key);
        if let Some(d) = &call.caller_dialog {
            self.by_dialog.remove(d.id());
        }
        if let Some((_, d)) = &call.callee {
            self.by_dialog.remove(d.id());
        }
        for b in &call.branches {
            if let Some((_, purpose)) = self.by_client.get_mut(&b.key) {
                *purpose = Purpose::Ignore;
            }
        }
    }

    fn send(&mut self, id: &CallId, purpose: Purpose, request: Request, to: Peer) {
        if let Ok(key) = TxKey::for_outgoing_request(&request) {
            self.by_client.insert(key, (id.clone(), purpose));
        }
        self.out.push_back(Output::Request { request, to });
    }

    fn respond(&mut self, key: TxKey, response: Response) {
        self.out.push_back(Output::Respond { key, response });
    }

    fn event(&mut self, e: CallEvent) {
        self.out.push_back(Output::Event(e));
    }

    fn ended(
        &mut self,
        id: &CallId,
        cause: EndCause,
        status: Option<u16>,
        by: HangupBy,
        now: Timestamp,
    ) {
        self.event(CallEvent::Ended {
            call: id.clone(),
            cause,
            status,
            by,
            at: now,
        });
    }
}

/// CANCELs for the forks still ringing, which are marked cancelled.
fn cancel_pending(call: &mut Call) -> Vec<(Request, Peer)> {
    call.branches
        .iter_mut()
        .filter(|b| b.state.is_pending())
        .map(|b| {
            b.state = BranchState::Cancelled;
            (cancel_for(&b.invite), b.target.peer)
        })
        .collect()
}

fn call_transport(call: &Call, leg: Leg) -> crate::message::Transport {
    call.peer_of(leg)
        .map_or(crate::message::Transport::Udp, |p| p.transport)
}

/// The caller's final answer when every fork failed (RFC 3261 §16.7 in spirit): busy beats a
/// decline, which beats "not found", which beats other 4xx, then 5xx and timeouts.
fn final_for_caller(call: &Call) -> (u16, EndCause) {
    let codes: Vec<u16> = call
        .branches
        .iter()
        .filter_map(|b| match b.state {
            BranchState::Failed(s) => Some(s),
            _ => None,
        })
        .collect();
    let has = |f: &dyn Fn(u16) -> bool| codes.iter().copied().find(|&c| f(c));
    if let Some(c) = has(&|c| c == 486 || c == 600) {
        return (c, EndCause::Busy);
    }
    if let Some(c) = has(&|c| c == 603) {
        return (c, EndCause::Rejected(c));
    }
    if has(&|c| c == 404 || c == 604).is_some() {
        return (404, EndCause::NotFound);
    }
    if has(&|c| c == 408 || c == 480).is_some() {
        return (480, EndCause::Unavailable);
    }
    if let Some(c) = has(&|c| (400..500).contains(&c)) {
        return (c, EndCause::Rejected(c));
    }
    match codes.first() {
        Some(&c) if c >= 500 => (502, EndCause::Rejected(c)),
        Some(&c) => (c, EndCause::Rejected(c)),
        None => (480, EndCause::Unavailable),
    }
}

#[cfg(test)]
mod tests;
