//! Browsers among the phones a call rings. A browser (a contact registered over WebSocket)
//! takes DTLS-SRTP with ICE, a desk phone or trunk plain RTP, and the B2BUA sends one offer to
//! every branch of a fork, so one fork cannot mix the two kinds. When an agent has both a
//! browser and a desk phone registered, the browser is rung: the console is open, so that is
//! where the agent is working (closing it removes its binding at once).

use switchboard_core::CallId;
use switchboard_sip::b2bua::{ForkTarget, Target};
use switchboard_sip::message::Transport;

use super::media_plane::RelayPlane;

fn is_browser(target: &ForkTarget) -> bool {
    matches!(target.peer.transport, Transport::Ws | Transport::Wss)
}

/// Keeps the items whose targets one offer can serve and tells the media plane which kind of
/// offer that is. `target` picks an item's fork target (items may carry more, e.g. the agent
/// a phone belongs to).
pub(super) fn one_media_kind<T>(
    media: &mut RelayPlane,
    call: &CallId,
    items: Vec<T>,
    target: impl Fn(&T) -> &ForkTarget,
) -> Vec<T> {
    let browsers = items.iter().filter(|i| is_browser(target(i))).count();
    media.set_webrtc_callee(call, browsers > 0);
    if browsers == 0 || browsers == items.len() {
        return items;
    }
    tracing::info!(
        %call,
        phones = items.len() - browsers,
        "ringing only the browsers among the callee's phones"
    );
    items
        .into_iter()
        .filter(|i| is_browser(target(i)))
        .collect()
}

/// [`one_media_kind`] for a dial-plan target (only forks ring phones).
pub(super) fn one_media_kind_of_target(media: &mut RelayPlane, call: &CallId, target: &mut Target) {
    match target {
        Target::Fork { targets, .. } => {
            *targets = one_media_kind(media, call, std::mem::take(targets), |t| t);
        }
        _ => media.set_webrtc_callee(call, false),
    }
}
