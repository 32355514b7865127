//! Calls we place ourselves: the outbound dialer's calls to customers. Leg A is the customer,
//! called through the trunk with the campaign's caller ID; when they answer, the call waits
//! like a queue call (`Queued`) for [`B2bua::offer`] to ring the agent, so the rest — the agent
//! leg, re-INVITEs, BYE either side, transfer, recording (customer left, agent right) — is the
//! ordinary call's.
//!
//! ```text
//! originate ──INVITE (our offer)──▶ trunk / customer
//!           ◀──180── Ringing event
//!           ◀──200── ACK, CustomerAnswered event, call Queued
//! offer(agent phones) ──INVITE──▶ agent ◀──200── Answered event: bridged
//! ring timeout / hangup while dialing ──CANCEL──▶ (Ended: no-answer)
//! ```

use std::cmp::Reverse;
use std::time::Duration;

use switchboard_core::{CallId, Timestamp};

use super::call::{self, BranchState, Call, CalleeInvite, Phase};
use super::{B2bua, B2buaConfig, CallEvent, EndCause, ForkTarget, HangupBy, Leg, MediaPlane};
use crate::dialog::Dialog;
use crate::message::Response;
use crate::transaction::{Peer, new_tag};

/// A call to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origination {
    /// Where the INVITE goes (the trunk and its credentials); the Request-URI's user part is
    /// the number to call.
    pub target: ForkTarget,
    /// The caller ID presented in From.
    pub caller_id: String,
    /// What the call is, for the CDR (e.g. `dialer:<campaign>`).
    pub label: String,
    /// Give up (CANCEL, `no-answer`) after this long. The dialer cancels at its own ring
    /// timeout first; this is the backstop.
    pub ring_timeout: Duration,
}

/// Header lines on the INVITE to the agent of a dialer call: phones that honour `Call-Info:
/// answer-after=0` (most desk phones) pick up at once, so the customer is not left waiting
/// past the 2 s the law allows.
pub(super) fn agent_leg_headers(config: &B2buaConfig) -> Vec<(&'static str, String)> {
    vec![
        (
            "Call-Info",
            format!("<sip:{}>;answer-after=0", config.domain),
        ),
        ("X-Switchboard-Dialer", "1".to_owned()),
    ]
}

impl B2bua {
    /// Places call `id` to a customer. `Started` is emitted at once; `Ringing`,
    /// `CustomerAnswered` (then the call waits for [`B2bua::offer`]) or `Ended` follow. False
    /// when the call could not even be sent (overload, no media ports): `Ended` says why.
    pub fn originate(
        &mut self,
        id: CallId,
        o: Origination,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) -> bool {
        let number = call::user_of(&o.target.uri);
        let call_id = call::new_call_id(&self.config);
        self.event(CallEvent::Started {
            call: id.clone(),
            caller: o.caller_id.clone(),
            callee: number.clone(),
            label: o.label.clone(),
            sip_call_id: call_id.clone(),
            at: now,
        });
        if self.calls.len() >= self.config.max_calls {
            let cause = EndCause::System("overloaded");
            self.ended(&id, cause, Some(503), HangupBy::System, now);
            return false;
        }
        let offer = match media.originate(&id) {
            Ok(offer) => offer,
            Err(f) => {
                let cause = EndCause::MediaNegotiation;
                self.ended(&id, cause, Some(f.status), HangupBy::System, now);
                return false;
            }
        };
        let from_tag = new_tag();
        let config = self.config.clone();
        let params = CalleeInvite {
            config: &config,
            call_id: &call_id,
            from_tag: &from_tag,
            caller_user: &o.caller_id,
            caller_display: None,
            callee_user: &number,
            max_forwards: 70,
            cseq: 1,
            sdp: &offer,
            extra_headers: &[],
        };
        let mut target = o.target;
        target.caller_id = Some(o.caller_id.clone());
        let branches = self.send_forks(&id, &params, vec![target]);
        let Some((invite, key, peer)) = branches
            .first()
            .map(|b| (b.invite.clone(), b.key.clone(), b.target.peer))
        else {
            media.close(&id);
            let cause = EndCause::System("bad-request-uri");
            self.ended(&id, cause, Some(500), HangupBy::System, now);
            return false;
        };
        let deadline = now + o.ring_timeout;
        self.ring_deadlines.push(Reverse((deadline, id.clone())));
        self.calls.insert(
            id,
            Call {
                phase: Phase::Dialing,
                caller_invite: invite,
                caller_key: key,
                caller_peer: peer,
                caller_tag: from_tag,
                caller_dialog: None,
                callee_call_id: call_id,
                branches,
                callee: None,
                ringing_sent: false,
                ring_deadline: Some(deadline),
                pending_reinvite: None,
                originated: true,
            },
        );
        true
    }

    /// The customer answered our INVITE (already ACKed): leg A's media is set, the call waits
    /// for its agent.
    pub(super) fn on_customer_answered(
        &mut self,
        id: &CallId,
        mut dialog: Dialog,
        peer: Peer,
        resp: &Response,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        if let Err(f) = media.originate_answer(id, &resp.body) {
            tracing::info!(%id, status = f.status, reason = %f.reason, "customer's answer refused");
            let bye = dialog.bye();
            self.send(id, super::Purpose::Ignore, bye, peer);
            let by = HangupBy::System;
            self.end_dialing(id, f.status, EndCause::MediaNegotiation, by, media, now);
            return;
        }
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if let Some(b) = call.branches.first_mut() {
            b.state = BranchState::Answered;
            call.caller_invite = b.invite.clone();
        }
        call.phase = Phase::Queued;
        call.ring_deadline = None;
        self.by_dialog
            .insert(dialog.id().clone(), (id.clone(), Leg::Caller));
        call.caller_dialog = Some(dialog);
        let sip_call_id = call.callee_call_id.clone();
        self.event(CallEvent::CustomerAnswered {
            call: id.clone(),
            sip_call_id,
            at: now,
        });
    }

    /// Ends a call we placed before the customer answered: CANCEL if still ringing.
    pub(super) fn end_dialing(
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
        for (cancel, peer) in super::cancel_pending(&mut call) {
            self.send(id, super::Purpose::Ignore, cancel, peer);
        }
        media.close(id);
        self.forget(&call);
        self.ended(id, cause, Some(status), by, now);
    }
}
