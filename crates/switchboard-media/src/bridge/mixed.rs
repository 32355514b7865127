//! Streams the bridge sends from a mix instead of relaying: a supervisor whispering to the
//! agent, or barging in (see [`crate::mixer`]). While a leg's output is mixed, packets from the
//! other leg are not forwarded to it (their audio reaches that peer inside the mix, through the
//! audio tap); the mixed frames join the stream already sent to that leg (same SSRC, next
//! sequence numbers, timestamps following on), as the bridge's music and DTMF do, so the phone
//! hears one continuous stream across "agent's voice → mix → agent's voice".

use rtp_rs::{RtpPacketBuilder, Seq};
use switchboard_core::Timestamp;

use super::leg::OutStream;
use super::playout::g711_of;
use super::{Bridge, LegId, Transmit};
use crate::playout::{FRAME, FRAME_SAMPLES, SAMPLE_RATE};

/// One leg's mixed output.
#[derive(Debug)]
struct MixedOut {
    /// The numbering relayed packets would have had (a copy of the leg's stream when mixing
    /// began), so the recorder's timestamps for the other party stay continuous.
    shadow: OutStream,
    /// RTP timestamp of the next mixed frame, fixed by the first one.
    next_ts: Option<u32>,
    /// Whether a frame has gone out (the first one carries the marker bit).
    sent_any: bool,
}

/// The mixed outputs of both legs.
#[derive(Debug, Default)]
pub(super) struct MixedOutputs([Option<MixedOut>; 2]);

impl MixedOutputs {
    /// The relayed numbering of `leg` while its output is mixed; `None` when it is not.
    pub(super) fn shadow_mut(&mut self, leg: LegId) -> Option<&mut OutStream> {
        self.0[leg.index()].as_mut().map(|m| &mut m.shadow)
    }
}

impl Bridge {
    /// Sends `leg` a mix (from [`Bridge::mixed_packet`]) instead of what the other leg says
    /// (`true`), or goes back to relaying (`false`).
    pub fn set_mixed_output(&mut self, leg: LegId, on: bool) {
        let slot = &mut self.mixed.0[leg.index()];
        match (on, slot.is_some()) {
            (true, false) => {
                *slot = Some(MixedOut {
                    shadow: self.legs[leg.index()].out.clone(),
                    next_ts: None,
                    sent_any: false,
                });
            }
            (false, true) => *slot = None,
            _ => {}
        }
    }

    /// Whether `leg` hears a mix rather than the other leg.
    pub fn is_mixed(&self, leg: LegId) -> bool {
        self.mixed.0[leg.index()].is_some()
    }

    /// Turns the decoded audio for [`Bridge::poll_audio`] on or off (the relay turns it on for
    /// a monitored call even when the call is not recorded).
    pub fn set_audio_tap(&mut self, on: bool) {
        self.config.audio_tap = on;
    }

    /// The packet carrying one mixed frame (`samples`, 20 ms of 8 kHz PCM starting at `due`)
    /// to `leg`, encoded in its first negotiated G.711 law; `None` when the leg is not mixed,
    /// its peer does not receive (held), our DTMF is playing to it, or it has no address.
    pub fn mixed_packet(
        &mut self,
        leg: LegId,
        samples: &[i16],
        due: Timestamp,
    ) -> Option<Transmit> {
        self.mixed.0[leg.index()].as_ref()?;
        let l = self.leg(leg);
        if !l.peer_receives() || self.dtmf_out.sending_to(leg, due) {
            return None;
        }
        let to_addr = l.rtp_destination()?;
        let (pt, law) = g711_of(self, leg).ok()?;
        let seed = self.config.ssrc_seed;
        let stream_ts = self.leg(leg).out.ts_at(SAMPLE_RATE, due);
        let m = self.mixed.0[leg.index()].as_mut()?;
        let ts = *m
            .next_ts
            .get_or_insert_with(|| stream_ts.unwrap_or(seed.rotate_left(16)));
        m.next_ts = Some(ts.wrapping_add(FRAME_SAMPLES as u32));
        let marker = !m.sent_any;
        m.sent_any = true;
        let (ssrc, seq) = self.leg_mut(leg).out.inject_frame(
            seed ^ (leg as u32),
            ts,
            FRAME_SAMPLES as u32,
            due + FRAME,
        );
        let payload = law.encode(samples);
        let bytes = RtpPacketBuilder::new()
            .payload_type(pt)
            .marked(marker)
            .ssrc(ssrc)
            .sequence(Seq::from(seq))
            .timestamp(ts)
            .payload(&payload)
            .build()
            // Cannot fail for 160 bytes and a 7-bit PT from the SDP; drop rather than panic.
            .ok()?;
        let l = self.leg_mut(leg);
        l.stats.sent_packets += 1;
        l.stats.sent_bytes += bytes.len() as u64;
        Some(Transmit {
            to_leg: leg,
            to_addr,
            bytes,
        })
    }
}
