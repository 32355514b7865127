//! A supervisor's monitoring call in the media plane: it has no relay of its own. Its phone's
//! offer is answered with a port of the watched call's relay (a WebRTC leg in front of it for a
//! browser), where the supervisor's audio is mixed in (see `switchboard_media::mixer`).

use std::collections::HashMap;
use std::net::SocketAddr;

use switchboard_core::CallId;
use switchboard_media::bridge::{LegConfig, LegId};
use switchboard_media::mixer::MonitorMode;
use switchboard_media::sdp::{LocalMedia, create_answer};
use switchboard_media::webrtc_leg::{LegTarget, WebRtcLeg, is_webrtc_sdp};
use switchboard_sip::b2bua::MediaFailure;

use super::{RelayPlane, failure, not_acceptable, parse, webrtc_failure};

/// A monitoring call's media.
#[derive(Debug)]
pub(super) struct MonitorSession {
    /// The call listened to.
    watched: CallId,
    /// The supervisor's browser, when it is one.
    browser: Option<WebRtcLeg>,
}

/// Monitoring calls about to be answered, and answered ones.
#[derive(Debug, Default)]
pub(super) struct Monitors {
    pending: HashMap<CallId, (CallId, MonitorMode)>,
    active: HashMap<CallId, MonitorSession>,
}

impl RelayPlane {
    /// Says that `call`, about to be parked, is a supervisor joining `watched` in `mode`.
    pub fn set_monitor(&mut self, call: &CallId, watched: CallId, mode: MonitorMode) {
        self.monitors.pending.insert(call.clone(), (watched, mode));
    }

    /// Answers a monitoring call's offer on the watched call's relay; `None` when `call` is not
    /// a monitoring call.
    pub(super) fn park_monitor(
        &mut self,
        call: &CallId,
        offer: &[u8],
    ) -> Option<Result<Vec<u8>, MediaFailure>> {
        let (watched, mode) = self.monitors.pending.remove(call)?;
        Some(self.join_watched(call, watched, mode, offer))
    }

    fn join_watched(
        &mut self,
        call: &CallId,
        watched: CallId,
        mode: MonitorMode,
        offer: &[u8],
    ) -> Result<Vec<u8>, MediaFailure> {
        if self.monitors.active.values().any(|m| m.watched == watched) {
            // One supervisor at a time: the relay mixes one third party.
            return Err(failure(
                486,
                "Busy Here (a supervisor is already on this call)",
            ));
        }
        let address = self.settings.address;
        let s = self
            .sessions
            .get(&watched)
            .ok_or_else(|| failure(404, "Not Found (the call has ended)"))?;
        let port = s.relay.attach_monitor(mode).map_err(|e| {
            tracing::error!(%call, error = %e, "no media ports for a supervisor");
            failure(503, "Service Unavailable (no media ports)")
        })?;
        let result = if is_webrtc_sdp(offer) {
            self.answer_supervisor_browser(call, &watched, SocketAddr::new(address, port), offer)
        } else {
            answer_supervisor_phone(self, &watched, port, offer)
        };
        match result {
            Ok((answer, browser)) => {
                self.monitors
                    .active
                    .insert(call.clone(), MonitorSession { watched, browser });
                Ok(answer)
            }
            Err(f) => {
                if let Some(s) = self.sessions.get(&watched) {
                    s.relay.detach_monitor();
                }
                Err(f)
            }
        }
    }

    fn answer_supervisor_browser(
        &mut self,
        call: &CallId,
        watched: &CallId,
        relay_rtp: SocketAddr,
        offer: &[u8],
    ) -> Result<(Vec<u8>, Option<WebRtcLeg>), MediaFailure> {
        let legs = self.webrtc_legs()?;
        let offer = std::str::from_utf8(offer).map_err(|_| failure(400, "Bad Request (SDP)"))?;
        // Its events (ICE/DTLS failure, closed) carry the monitoring call's id, so only the
        // monitoring call ends.
        let target = LegTarget {
            call: call.to_string(),
            leg: LegId::A,
            relay_rtp,
            events: self.events.clone(),
        };
        let (leg, answer) = legs
            .answer_blocking(target, offer)
            .map_err(|e| webrtc_failure(&e))?;
        if let Some(s) = self.sessions.get(watched) {
            s.relay.configure_monitor(leg.relay_leg_config());
        }
        Ok((answer.into_bytes(), Some(leg)))
    }

    /// Ends a monitoring call's media (the watched call goes on as before); whether `call` was
    /// one.
    pub(super) fn close_monitor(&mut self, call: &CallId) -> bool {
        self.monitors.pending.remove(call);
        let Some(m) = self.monitors.active.remove(call) else {
            return false;
        };
        if let Some(s) = self.sessions.get(&m.watched) {
            s.relay.detach_monitor();
        }
        if let (Some(leg), Some(legs)) = (m.browser, self.settings.webrtc.as_ref()) {
            legs.close_later(leg);
        }
        true
    }
}

/// A desk phone or SIPp supervisor: plain RTP answered with the monitor port.
fn answer_supervisor_phone(
    plane: &RelayPlane,
    watched: &CallId,
    port: u16,
    offer: &[u8],
) -> Result<(Vec<u8>, Option<WebRtcLeg>), MediaFailure> {
    let offer = parse(offer, "the offer")?;
    let session_id = u64::try_from(plane.clock.now().as_millis()).unwrap_or(1);
    let local = LocalMedia::new(plane.settings.address, port, session_id);
    let (answer, negotiated) = create_answer(&offer, &local).map_err(not_acceptable)?;
    if let Some(s) = plane.sessions.get(watched) {
        s.relay.configure_monitor(LegConfig::from(&negotiated));
    }
    Ok((answer.to_string().into_bytes(), None))
}
