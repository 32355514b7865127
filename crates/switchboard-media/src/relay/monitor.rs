//! A supervisor on a call (listen, whisper, barge): the third socket pair of a relay task, the
//! supervisor's leg and the mixer (both sans-IO, in [`crate::mixer`]).

use tokio::net::UdpSocket;

use super::bind::PortLease;
use crate::bridge::{Bridge, LegId};
use crate::mixer::{Mixer, MonitorMode, Party, SupervisorLeg};

/// What a relay task holds while a supervisor is on its call.
#[derive(Debug)]
pub(super) struct Monitor {
    pub(super) mixer: Mixer,
    pub(super) leg: SupervisorLeg,
    pub(super) rtp: UdpSocket,
    /// Bound so the pair stays ours; RTCP from the supervisor is not used.
    pub(super) _rtcp: UdpSocket,
    /// Declared after the sockets so they close before the ports go back.
    pub(super) _lease: PortLease,
}

/// The party a bridge leg's audio belongs to.
pub(super) fn party_of(leg: LegId) -> Party {
    match leg {
        LegId::A => Party::Customer,
        LegId::B => Party::Agent,
    }
}

/// The bridge leg whose stream carries `party`'s mix (`None` for the supervisor's own).
pub(super) fn leg_of(party: Party) -> Option<LegId> {
    match party {
        Party::Customer => Some(LegId::A),
        Party::Agent => Some(LegId::B),
        Party::Supervisor => None,
    }
}

/// Makes the bridge relay or mix each leg's output as `mode` says.
pub(super) fn apply_mode(bridge: &mut Bridge, mode: MonitorMode) {
    for leg in [LegId::A, LegId::B] {
        bridge.set_mixed_output(leg, mode.mixes_for(party_of(leg)));
    }
}
