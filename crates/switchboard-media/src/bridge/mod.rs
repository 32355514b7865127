//! The RTP relay of one call: two legs, each facing one peer. Sans-IO: the driver passes in
//! every datagram with its source and `now`, and sends what [`Bridge::handle_packet`] returns.
//!
//! ```text
//!  peer A ──RTP──▶ leg A ─┐   latch source, stats, DTMF, hold check,      ┌─ leg B ──RTP──▶ peer B
//!                         └─▶ PT map (or G.711 μ↔A), seq/ts/SSRC rewrite ─┘
//! ```
//! The packet is rewritten in place, so the driver sends the same buffer on the other leg's
//! socket. Decoded PCM for the recorder comes out of [`Bridge::poll_audio`] when the audio tap
//! is on; DTMF, latching and media timeouts come out of [`Bridge::poll_event`].
//!
//! The driver loop, with the sockets left out:
//! ```
//! use std::net::SocketAddr;
//! use switchboard_core::Timestamp;
//! use switchboard_media::bridge::{Bridge, BridgeConfig, LegConfig, LegId, MediaEvent};
//! use switchboard_media::sdp::{Codec, Direction};
//!
//! let now = Timestamp::from_millis(0);
//! let mut bridge = Bridge::new(BridgeConfig { audio_tap: true, ..BridgeConfig::default() });
//! // After offer/answer on each leg (normally `LegConfig::from(&negotiated_audio)`):
//! for (leg, peer) in [(LegId::A, "192.0.2.1:4000"), (LegId::B, "192.0.2.2:5000")] {
//!     let config = LegConfig {
//!         remote_rtp: Some(peer.parse().unwrap()),
//!         remote_rtcp: None,
//!         payloads: vec![(0, Codec::Pcmu), (101, Codec::TelephoneEvent)],
//!         remote_direction: Direction::SendRecv,
//!         rtcp_mux: false,
//!     };
//!     bridge.configure_leg(leg, config, now);
//! }
//! // A datagram arrived on leg A's RTP socket.
//! let from: SocketAddr = "192.0.2.1:4000".parse().unwrap();
//! let mut buf = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7];
//! buf.extend([0xFF; 160]);
//! if let Some(f) = bridge.handle_packet(LegId::A, from, &mut buf, now) {
//!     // socket_of(f.to_leg, f.socket).send_to(&buf[..f.len], f.to_addr)
//!     assert_eq!(f.to_addr, "192.0.2.2:5000".parse::<SocketAddr>().unwrap());
//! }
//! while let Some(frame) = bridge.poll_audio() {
//!     // recorder.push(channel_of(frame.leg), frame.rtp_timestamp, &frame.samples)
//!     assert_eq!(frame.samples.len(), 160);
//! }
//! while let Some(event) = bridge.poll_event() {
//!     // MediaTimeout → end the call with `cause.as_str()`; Dtmf → call control.
//!     assert!(matches!(event, MediaEvent::Latched { .. }));
//! }
//! // Timer: sleep until `poll_timeout()`, then `handle_timeout(now)`; send what
//! // `poll_transmit(now)` yields (DTMF and audio the bridge originates).
//! assert!(bridge.poll_timeout().is_some());
//! ```

mod inject;
mod leg;
mod mixed;
mod playout;

pub use inject::{SendDtmfError, Transmit};
pub use leg::{DropCounts, LegConfig, LegStats};
pub use playout::StartPlayoutError;

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use rtp_rs::RtpReader;
use switchboard_core::Timestamp;

use crate::dtmf::DtmfEvent;
use crate::sdp::{Codec, Direction};
use leg::{Leg, SourceCheck};

/// One of the two sides of a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegId {
    /// The side the call came from (the customer on inbound calls).
    A,
    /// The side the call was connected to (the agent on inbound calls).
    B,
}

impl LegId {
    /// The opposite leg.
    pub fn other(self) -> LegId {
        match self {
            LegId::A => LegId::B,
            LegId::B => LegId::A,
        }
    }

    fn index(self) -> usize {
        match self {
            LegId::A => 0,
            LegId::B => 1,
        }
    }
}

/// Tunables of a bridge. Defaults follow the service: 30 s media timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// No RTP from a sending peer for this long ends the call (`MediaTimeout`).
    pub media_timeout: Duration,
    /// A latched source silent this long may be replaced by a new one (NAT rebinding).
    pub relatch_after: Duration,
    /// Accept only sources whose IP is the one the SDP named.
    pub strict_source_ip: bool,
    /// Decode G.711 from both legs for the recorder ([`Bridge::poll_audio`]).
    pub audio_tap: bool,
    /// Convert PCMU ↔ PCMA when the legs negotiated different laws.
    pub transcode_g711: bool,
    /// SSRC for a stream the bridge starts itself (DTMF sent before any media was relayed);
    /// the driver should set a random value.
    pub ssrc_seed: u32,
}

impl Default for BridgeConfig {
    fn default() -> BridgeConfig {
        BridgeConfig {
            media_timeout: Duration::from_secs(30),
            relatch_after: Duration::from_secs(2),
            strict_source_ip: false,
            audio_tap: false,
            transcode_g711: true,
            ssrc_seed: 0x5B0A_4D00,
        }
    }
}

/// Which socket of a leg a datagram goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socket {
    /// The RTP port (also RTCP with rtcp-mux).
    Rtp,
    /// The separate RTCP port.
    Rtcp,
}

/// Send the (rewritten) packet: `buf[..len]` from `to_leg`'s `socket` to `to_addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// The leg whose socket sends it.
    pub to_leg: LegId,
    /// That leg's peer.
    pub to_addr: SocketAddr,
    /// RTP or RTCP socket of that leg.
    pub socket: Socket,
    /// Bytes of the buffer to send (the whole packet).
    pub len: usize,
}

/// Why a leg's media timed out; written into the CDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaTimeoutCause {
    /// Not a single RTP packet arrived from this leg.
    NoMediaReceived,
    /// RTP arrived, then stopped.
    MediaStopped {
        /// When the last packet came.
        last_packet: Timestamp,
    },
}

impl MediaTimeoutCause {
    /// A short stable cause string for CDRs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            MediaTimeoutCause::NoMediaReceived => "media-timeout-no-rtp",
            MediaTimeoutCause::MediaStopped { .. } => "media-timeout-rtp-stopped",
        }
    }
}

impl fmt::Display for MediaTimeoutCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Things the call control wants to know about.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// The first RTP packet from `leg` came from `addr`; media goes back there.
    Latched {
        /// Which leg.
        leg: LegId,
        /// The peer's real address.
        addr: SocketAddr,
    },
    /// The peer of `leg` moved.
    Relatched {
        /// Which leg.
        leg: LegId,
        /// Old address.
        from: SocketAddr,
        /// New address.
        to: SocketAddr,
    },
    /// A new SSRC appeared on `leg`.
    SourceChanged {
        /// Which leg.
        leg: LegId,
        /// The new SSRC.
        ssrc: u32,
    },
    /// An RFC 4733 key press from `leg` started or ended.
    Dtmf {
        /// Which leg pressed it.
        leg: LegId,
        /// The decoded event.
        event: DtmfEvent,
    },
    /// No RTP from `leg` for the media timeout: the call should end with this cause.
    MediaTimeout {
        /// The silent leg.
        leg: LegId,
        /// Why.
        cause: MediaTimeoutCause,
    },
    /// A leg that is not plain RTP (a browser's WebRTC leg) ended on its own: ICE or DTLS
    /// failed, or the peer closed. The call should end with `cause`, as for a media timeout.
    LegEnded {
        /// The leg.
        leg: LegId,
        /// A short stable cause for CDRs (`webrtc-failed`, `webrtc-closed`).
        cause: &'static str,
    },
    /// A source played once to `leg` ([`Bridge::start_playout`] without loop) has ended: its
    /// last frame is out. Not sent when the playout was stopped or taken over by relayed media.
    PlayoutFinished {
        /// The leg it was played to.
        leg: LegId,
    },
}

/// Decoded audio of one packet, for the recorder: `(channel, rtp_timestamp, &samples)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// The leg whose peer spoke.
    pub leg: LegId,
    /// RTP timestamp of the first sample, in the continuous numbering of the stream sent on
    /// (so a change of source behind the leg does not make the recording jump).
    pub rtp_timestamp: u32,
    /// 8 kHz linear PCM.
    pub samples: Vec<i16>,
}

/// The media relay of one call.
#[derive(Debug)]
pub struct Bridge {
    config: BridgeConfig,
    legs: [Leg; 2],
    events: VecDeque<MediaEvent>,
    audio: VecDeque<AudioFrame>,
    dtmf_out: inject::DtmfQueue,
    playouts: playout::Playouts,
    mixed: mixed::MixedOutputs,
}

/// RTCP packet types 200-204 (and 192-223 generally) sit where RTP keeps marker + PT
/// (RFC 5761 §4), which is how a muxed port tells them apart.
fn is_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 2 && (192..=223).contains(&packet[1])
}

impl Bridge {
    /// A bridge with no leg configured yet; nothing times out until a leg is configured.
    pub fn new(config: BridgeConfig) -> Bridge {
        Bridge {
            config,
            legs: [Leg::new(), Leg::new()],
            events: VecDeque::new(),
            audio: VecDeque::new(),
            dtmf_out: inject::DtmfQueue::default(),
            playouts: playout::Playouts::default(),
            mixed: mixed::MixedOutputs::default(),
        }
    }

    fn leg(&self, id: LegId) -> &Leg {
        &self.legs[id.index()]
    }

    fn leg_mut(&mut self, id: LegId) -> &mut Leg {
        &mut self.legs[id.index()]
    }

    /// Sets what `leg` negotiated (after the answer, and again after every re-INVITE). A new
    /// remote address drops the latch so the peer is found afresh; the media timeout restarts.
    pub fn configure_leg(&mut self, leg: LegId, config: LegConfig, now: Timestamp) {
        let l = self.leg_mut(leg);
        let moved = l.config.as_ref().and_then(|c| c.remote_rtp) != config.remote_rtp;
        if moved && l.config.is_some() {
            l.latched = None;
            l.latched_rtcp = None;
        }
        l.config = Some(config);
        l.armed_since = Some(now);
        l.timed_out = false;
    }

    /// Changes only the direction `leg`'s peer wrote (hold/resume through re-INVITE).
    pub fn set_remote_direction(&mut self, leg: LegId, direction: Direction, now: Timestamp) {
        let l = self.leg_mut(leg);
        if let Some(c) = l.config.as_mut() {
            c.remote_direction = direction;
            l.armed_since = Some(now);
            l.timed_out = false;
        }
        if !direction.sends() {
            // A held peer stops sending: close a key press left open.
            l.dtmf.flush();
            self.drain_dtmf(leg);
        }
    }

    /// Counters of `leg`.
    pub fn stats(&self, leg: LegId) -> LegStats {
        let l = self.leg(leg);
        LegStats {
            received: l.rx.snapshot(),
            latched: l.latched,
            ..l.stats
        }
    }

    /// Handles one datagram received on `leg`'s RTP socket from `from`. RTP is checked,
    /// counted, rewritten in place and returned as a [`Forward`] to the other leg; RTCP on a
    /// muxed port goes to [`Bridge::handle_rtcp`]. `None` means drop it (the reason is counted).
    pub fn handle_packet(
        &mut self,
        leg: LegId,
        from: SocketAddr,
        packet: &mut [u8],
        now: Timestamp,
    ) -> Option<Forward> {
        let muxed = self.leg(leg).config.as_ref().is_some_and(|c| c.rtcp_mux);
        if muxed && is_rtcp(packet) {
            return self.handle_rtcp(leg, from, packet, now);
        }
        let Ok(rtp) = RtpReader::new(packet) else {
            self.leg_mut(leg).stats.dropped.malformed += 1;
            return None;
        };
        let (pt, seq, ts, ssrc) = (
            rtp.payload_type(),
            u16::from(rtp.sequence_number()),
            rtp.timestamp(),
            rtp.ssrc(),
        );
        let payload_start = rtp.payload_offset();
        let payload_end = payload_start + rtp.payload().len();
        let len = packet.len();

        if !self.accept_source(leg, from, ssrc, now) {
            return None;
        }
        let src = self.leg_mut(leg);
        src.rx.record(seq, ts, len, now);
        src.last_rx = Some(now);
        src.timed_out = false;
        let src_sends = src.peer_sends();
        let Some(codec) = src.config.as_ref().and_then(|c| c.codec_of(pt)) else {
            src.stats.dropped.unmapped_payload += 1;
            return None;
        };
        if codec == Codec::TelephoneEvent && src_sends {
            // A short payload is a broken event; the packet is still relayed as it came.
            let _ = src.dtmf.handle(ts, &packet[payload_start..payload_end]);
            self.drain_dtmf(leg);
        }

        let to = leg.other();
        let dst = self.leg(to);
        let Some(dst_config) = dst.config.as_ref() else {
            // The other side has not answered yet.
            self.leg_mut(leg).stats.dropped.no_destination += 1;
            return None;
        };
        if !src_sends || !dst.peer_receives() {
            self.leg_mut(leg).stats.dropped.on_hold += 1;
            return None;
        }
        let Some((out_pt, transcode)) = self.map_payload(codec, dst_config) else {
            self.leg_mut(leg).stats.dropped.unmapped_payload += 1;
            return None;
        };
        let Some(to_addr) = dst.rtp_destination() else {
            self.leg_mut(leg).stats.dropped.no_destination += 1;
            return None;
        };

        if let Some(shadow) = self.mixed.shadow_mut(to) {
            // That peer hears a mix (a supervisor whispering or barging in) made from the
            // tapped audio instead of this packet. The tap keeps the numbering the relayed
            // stream would have had, so the recording's channel stays continuous.
            let ((_, _, tap_ts), _) = shadow.map(ssrc, seq, ts, crate::dtmf::CLOCK_RATE, now);
            self.tap(leg, codec, tap_ts, &packet[payload_start..payload_end]);
            self.leg_mut(leg).stats.dropped.mixed += 1;
            return None;
        }
        let ((out_ssrc, out_seq, out_ts), changed) =
            self.leg_mut(to)
                .out
                .map(ssrc, seq, ts, crate::dtmf::CLOCK_RATE, now);
        if changed.is_some() {
            tracing::debug!(?leg, ssrc, "new RTP source behind the bridge");
        }
        // Recorded even when the packet is not sent on below: the party did speak.
        self.tap(leg, codec, out_ts, &packet[payload_start..payload_end]);
        let payload = &mut packet[payload_start..payload_end];
        if self.dtmf_out.sending_to(to, now) {
            // Our own digit is playing to that peer; its audio resumes after the end packets.
            self.leg_mut(to).out.unmap_newest(out_seq);
            self.leg_mut(leg).stats.dropped.replaced_by_dtmf += 1;
            return None;
        }
        if self.playouts.stop(to) {
            // Real media for that peer has arrived: it replaces our music at once, continuing
            // the numbering the music left (see `playout`).
            tracing::debug!(?to, "playout taken over by relayed media");
        }
        if let Some((from_law, to_law)) = transcode {
            from_law.transcode_in_place(to_law, payload);
        }
        packet[1] = (packet[1] & 0x80) | (out_pt & 0x7F);
        packet[2..4].copy_from_slice(&out_seq.to_be_bytes());
        packet[4..8].copy_from_slice(&out_ts.to_be_bytes());
        packet[8..12].copy_from_slice(&out_ssrc.to_be_bytes());

        let dst = self.leg_mut(to);
        dst.stats.sent_packets += 1;
        dst.stats.sent_bytes += len as u64;
        Some(Forward {
            to_leg: to,
            to_addr,
            socket: Socket::Rtp,
            len,
        })
    }

    /// Handles one datagram from `leg`'s RTCP socket (or RTCP found on a muxed RTP port):
    /// counts it and passes it unchanged to the other leg. RTCP is not rewritten; while the
    /// source behind a leg stays the same the outgoing SSRC equals the incoming one, so the
    /// reports still match the stream.
    pub fn handle_rtcp(
        &mut self,
        leg: LegId,
        from: SocketAddr,
        packet: &[u8],
        _now: Timestamp,
    ) -> Option<Forward> {
        let valid = packet.len() >= 8 && packet[0] >> 6 == 2 && is_rtcp(packet);
        let src = self.leg_mut(leg);
        if !valid {
            src.stats.dropped.malformed += 1;
            return None;
        }
        let muxed = src.config.as_ref().is_some_and(|c| c.rtcp_mux);
        let expected = if muxed { src.latched } else { src.latched_rtcp };
        match expected {
            Some(a) if a != from => {
                src.stats.dropped.unexpected_source += 1;
                return None;
            }
            None if !muxed => src.latched_rtcp = Some(from),
            _ => {}
        }
        src.stats.rtcp_received += 1;
        let to = leg.other();
        let Some((to_addr, on_rtp)) = self.leg(to).rtcp_destination() else {
            self.leg_mut(leg).stats.dropped.no_destination += 1;
            return None;
        };
        self.leg_mut(to).stats.rtcp_sent += 1;
        Some(Forward {
            to_leg: to,
            to_addr,
            socket: if on_rtp { Socket::Rtp } else { Socket::Rtcp },
            len: packet.len(),
        })
    }

    fn accept_source(&mut self, leg: LegId, from: SocketAddr, ssrc: u32, now: Timestamp) -> bool {
        let (relatch_after, strict) = (self.config.relatch_after, self.config.strict_source_ip);
        let l = self.leg_mut(leg);
        let event = match l.check_source(from, now, relatch_after, strict) {
            SourceCheck::Known => None,
            SourceCheck::Latched => Some(MediaEvent::Latched { leg, addr: from }),
            SourceCheck::Relatched(old) => Some(MediaEvent::Relatched {
                leg,
                from: old,
                to: from,
            }),
            SourceCheck::Rejected => {
                l.stats.dropped.unexpected_source += 1;
                return false;
            }
        };
        if l.in_ssrc != Some(ssrc) {
            let first = l.in_ssrc.is_none();
            l.in_ssrc = Some(ssrc);
            if !first {
                l.rx.restart_source();
                self.events
                    .push_back(MediaEvent::SourceChanged { leg, ssrc });
            }
        }
        if let Some(e) = event {
            self.events.push_back(e);
        }
        true
    }

    /// Output payload type on the destination leg, and a G.711 conversion if one is needed.
    #[allow(clippy::type_complexity)]
    fn map_payload(
        &self,
        codec: Codec,
        dst: &LegConfig,
    ) -> Option<(u8, Option<(crate::g711::Law, crate::g711::Law)>)> {
        if let Some(pt) = dst.pt_of(codec) {
            return Some((pt, None));
        }
        if !self.config.transcode_g711 {
            return None;
        }
        let from = codec.law()?;
        let (pt, to) = dst
            .payloads
            .iter()
            .find_map(|(pt, c)| c.law().map(|l| (*pt, l)))?;
        Some((pt, Some((from, to))))
    }

    /// Decoded audio of a packet from `leg` for the recorder and the monitor mixer (only with
    /// the audio tap on, and only for G.711).
    fn tap(&mut self, leg: LegId, codec: Codec, rtp_timestamp: u32, payload: &[u8]) {
        if self.config.audio_tap
            && let Some(law) = codec.law()
        {
            self.audio.push_back(AudioFrame {
                leg,
                rtp_timestamp,
                samples: law.decode(payload),
            });
        }
    }

    fn drain_dtmf(&mut self, leg: LegId) {
        while let Some(event) = self.leg_mut(leg).dtmf.poll_event() {
            self.events.push_back(MediaEvent::Dtmf { leg, event });
        }
    }

    /// Fires media timeouts that are due at `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let timeout = self.config.media_timeout;
        for id in [LegId::A, LegId::B] {
            let l = self.leg_mut(id);
            let Some(at) = l.timeout_at(timeout) else {
                continue;
            };
            if now >= at {
                l.timed_out = true;
                l.dtmf.flush();
                let cause = match l.last_rx {
                    None => MediaTimeoutCause::NoMediaReceived,
                    Some(last_packet) => MediaTimeoutCause::MediaStopped { last_packet },
                };
                self.drain_dtmf(id);
                self.events
                    .push_back(MediaEvent::MediaTimeout { leg: id, cause });
            }
        }
    }

    /// The next moment [`Bridge::handle_timeout`] or [`Bridge::poll_transmit`] has work to do.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let timeout = self.config.media_timeout;
        self.legs
            .iter()
            .filter_map(|l| l.timeout_at(timeout))
            .chain(self.dtmf_out.next_due())
            .chain(self.playouts.next_due())
            .min()
    }

    /// The next packet the bridge itself sends that is due at `now`: its own DTMF, then
    /// playout frames ([`Bridge::start_playout`]). Call until `None`.
    pub fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        self.poll_dtmf(now).or_else(|| self.poll_playout(now))
    }

    /// The next event for call control.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// The next decoded audio frame for the recorder (only with `audio_tap`).
    pub fn poll_audio(&mut self) -> Option<AudioFrame> {
        self.audio.pop_front()
    }
}

#[cfg(test)]
mod tests;
