//! Audio the bridge plays into a leg itself: music on hold while a caller waits for an agent,
//! prompts, tones. The frames join the stream already sent to that leg (same SSRC, next
//! sequence numbers, timestamps following on), like the bridge's own DTMF, so the phone hears
//! one continuous stream across "music → agent's voice".
//!
//! A playout ends in one of three ways:
//! - a once-played source runs out: [`MediaEvent::PlayoutFinished`];
//! - [`Bridge::stop_playout`];
//! - relayed media takes over: the first packet from the other leg that is actually sent to
//!   this leg stops it, at once and without an event (the agent answered and spoke). Stopping
//!   by itself means call control need not race the first RTP of the agent's phone; a caller
//!   who wants music to go on while the other side sends (hold with a phone that keeps sending
//!   silence) must stop the relaying by direction or not configure that leg yet.
//!
//! While the bridge's own DTMF goes to the same leg, or the leg's peer does not receive
//! (held), the frames due are consumed without being sent, so the music keeps its time.

use std::sync::Arc;

use rtp_rs::{RtpPacketBuilder, Seq};
use switchboard_core::Timestamp;

use super::{Bridge, LegId, MediaEvent, Transmit};
use crate::g711::Law;
use crate::playout::{FRAME, FRAME_SAMPLES, Playout, PlayoutFrame, PlayoutSource, SAMPLE_RATE};

/// Why a playout cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartPlayoutError {
    /// The leg has not been configured (no answer from its peer yet).
    #[error("leg {0:?} is not configured")]
    NotConfigured(LegId),
    /// The leg negotiated neither PCMU nor PCMA, so there is no codec to encode the audio in.
    #[error("leg {0:?} negotiated no G.711 codec")]
    NoG711(LegId),
}

/// One leg's playout and where its RTP timestamps start.
#[derive(Debug)]
pub(super) struct LegPlayout {
    playout: Playout,
    /// RTP timestamp of frame 0, fixed when the first frame is handed out.
    base_ts: Option<u32>,
    /// Whether a frame has been sent (the first one carries the marker bit).
    sent_any: bool,
}

/// The playouts of both legs.
#[derive(Debug, Default)]
pub(super) struct Playouts([Option<LegPlayout>; 2]);

impl Playouts {
    pub(super) fn next_due(&self) -> Option<Timestamp> {
        self.0
            .iter()
            .flatten()
            .filter_map(|p| p.playout.poll_timeout())
            .min()
    }

    /// Ends `leg`'s playout; whether one was running.
    pub(super) fn stop(&mut self, leg: LegId) -> bool {
        self.0[leg.index()].take().is_some()
    }

    fn get(&self, leg: LegId) -> Option<&LegPlayout> {
        self.0[leg.index()].as_ref()
    }
}

/// The codec frames go out in on a leg: its first negotiated G.711 payload type (the answer's
/// order is the preference order).
pub(super) fn g711_of(bridge: &Bridge, leg: LegId) -> Result<(u8, Law), StartPlayoutError> {
    let config = bridge
        .leg(leg)
        .config
        .as_ref()
        .ok_or(StartPlayoutError::NotConfigured(leg))?;
    config
        .payloads
        .iter()
        .find_map(|(pt, c)| c.law().map(|l| (*pt, l)))
        .ok_or(StartPlayoutError::NoG711(leg))
}

impl Bridge {
    /// Plays `source` to `leg` from `now` (replacing a playout already running there); with
    /// `looped` it repeats until stopped. Frames come out of [`Bridge::poll_transmit`], encoded
    /// in the leg's first negotiated G.711 codec.
    pub fn start_playout(
        &mut self,
        leg: LegId,
        source: Arc<PlayoutSource>,
        looped: bool,
        now: Timestamp,
    ) -> Result<(), StartPlayoutError> {
        g711_of(self, leg)?;
        self.playouts.0[leg.index()] = Some(LegPlayout {
            playout: Playout::new(source, looped, now),
            base_ts: None,
            sent_any: false,
        });
        Ok(())
    }

    /// Stops the playout to `leg` (no event); whether one was running.
    pub fn stop_playout(&mut self, leg: LegId) -> bool {
        self.playouts.stop(leg)
    }

    /// Whether the bridge is playing audio to `leg`.
    pub fn is_playing(&self, leg: LegId) -> bool {
        self.playouts.get(leg).is_some()
    }

    /// The next playout packet due at `now`, for [`Bridge::poll_transmit`]. A once-played
    /// source that has run out is removed with its event as soon as its last frame is handed
    /// out (the prompt is over as far as call control is concerned).
    pub(super) fn poll_playout(&mut self, now: Timestamp) -> Option<Transmit> {
        for leg in [LegId::A, LegId::B] {
            while let Some(p) = self.playouts.0[leg.index()].as_mut() {
                let frame = p.playout.poll_frame(now);
                let finished = p.playout.is_finished();
                let had_frame = frame.is_some();
                let packet = frame.and_then(|f| self.frame_packet(leg, &f, now));
                if finished {
                    self.playouts.0[leg.index()] = None;
                    self.events.push_back(MediaEvent::PlayoutFinished { leg });
                }
                if packet.is_some() {
                    return packet;
                }
                if !had_frame {
                    break;
                }
            }
        }
        None
    }

    /// Builds the packet of `frame` for `leg`, or `None` when it is consumed unsent (held peer,
    /// our DTMF playing, no address or no G.711 after a re-INVITE).
    fn frame_packet(
        &mut self,
        leg: LegId,
        frame: &PlayoutFrame,
        now: Timestamp,
    ) -> Option<Transmit> {
        let l = self.leg(leg);
        if !l.peer_receives() || self.dtmf_out.sending_to(leg, now) {
            return None;
        }
        let to_addr = l.rtp_destination()?;
        let (pt, law) = g711_of(self, leg).ok()?;
        let seed_ts = self.config.ssrc_seed.rotate_left(16);
        let frame_start = frame.due;
        let stream_ts = self.leg(leg).out.ts_at(SAMPLE_RATE, frame_start);
        let p = self.playouts.0[leg.index()].as_mut()?;
        let base_ts = *p
            .base_ts
            .get_or_insert_with(|| first_base(stream_ts, seed_ts, frame.index));
        let marker = !p.sent_any;
        p.sent_any = true;
        let ts = base_ts.wrapping_add((frame.index as u32).wrapping_mul(FRAME_SAMPLES as u32));
        let seed_ssrc = self.config.ssrc_seed ^ (leg as u32);
        let (ssrc, seq) = self.leg_mut(leg).out.inject_frame(
            seed_ssrc,
            ts,
            FRAME_SAMPLES as u32,
            frame_start + FRAME,
        );
        let payload = law.encode(&frame.samples);
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

/// Timestamp of frame 0 such that frame `index` (the first one sent) lands where the stream
/// to the leg has got to, or at a seed when nothing was sent to it before.
fn first_base(stream_ts: Option<u32>, seed: u32, index: u64) -> u32 {
    stream_ts
        .unwrap_or(seed)
        .wrapping_sub((index as u32).wrapping_mul(FRAME_SAMPLES as u32))
}

#[cfg(test)]
mod tests;
