//! A connection that closed under its calls (a browser's WebSocket, RFC 7118): what the B2BUA
//! does with the calls that lived on it.

use switchboard_core::Timestamp;

use super::{B2bua, EndCause, Leg, MediaPlane};
use crate::message::response_to;
use crate::transaction::Peer;

impl B2bua {
    /// The connection to `peer` closed (a browser's WebSocket): calls whose caller or answered
    /// callee was on it end (BYE/CANCEL to the other side, cause `cause`); a forked INVITE
    /// still ringing there fails like one that timed out (480: that phone is gone for now), so
    /// the other branches ring on.
    pub fn flow_closed(
        &mut self,
        peer: Peer,
        cause: EndCause,
        media: &mut dyn MediaPlane,
        now: Timestamp,
    ) {
        let mut end = Vec::new();
        let mut failed = Vec::new();
        for (id, call) in &self.calls {
            if call.peer_of(Leg::Caller) == Some(peer) || call.peer_of(Leg::Callee) == Some(peer) {
                end.push(id.clone());
                continue;
            }
            for (n, b) in call.pending_branches() {
                if b.target.peer == peer {
                    failed.push((id.clone(), n, response_to(&b.invite, 480, None)));
                }
            }
        }
        for id in end {
            self.hangup(&id, cause.clone(), media, now);
        }
        for (id, n, resp) in failed {
            self.on_branch_response(&id, n, resp, media, now);
        }
    }
}
