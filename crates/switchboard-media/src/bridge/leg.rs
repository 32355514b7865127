//! One side of a bridge: where its peer is (symmetric RTP latching), what it negotiated, what it
//! received, and the rewriting state of the stream we send to it.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_core::Timestamp;

use crate::dtmf::DtmfDecoder;
use crate::sdp::{Codec, Direction, NegotiatedAudio};
use crate::stats::{ReceiveStats, StreamStats};

/// What one leg negotiated, as the bridge needs it. Build it from [`NegotiatedAudio`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegConfig {
    /// Where the peer said to send RTP (SDP `c=`/`m=`); `None` until known or when held.
    pub remote_rtp: Option<SocketAddr>,
    /// Where the peer said to send RTCP.
    pub remote_rtcp: Option<SocketAddr>,
    /// Payload type → codec on this leg.
    pub payloads: Vec<(u8, Codec)>,
    /// The direction the peer wrote in its SDP (its own point of view).
    pub remote_direction: Direction,
    /// Whether RTCP shares the RTP port on this leg.
    pub rtcp_mux: bool,
}

impl From<&NegotiatedAudio> for LegConfig {
    fn from(n: &NegotiatedAudio) -> LegConfig {
        LegConfig {
            remote_rtp: n.remote_rtp,
            remote_rtcp: n.remote_rtcp,
            payloads: n.payloads(),
            remote_direction: n.remote_direction,
            rtcp_mux: n.rtcp_mux,
        }
    }
}

impl LegConfig {
    /// The codec of payload type `pt` on this leg.
    pub fn codec_of(&self, pt: u8) -> Option<Codec> {
        self.payloads
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, c)| *c)
    }

    /// The payload type of `codec` on this leg.
    pub fn pt_of(&self, codec: Codec) -> Option<u8> {
        self.payloads
            .iter()
            .find(|(_, c)| *c == codec)
            .map(|(p, _)| *p)
    }
}

/// Counters of packets a leg sent us that went nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropCounts {
    /// From an address other than the latched one (and re-latching did not allow it).
    pub unexpected_source: u64,
    /// Not parseable as RTP/RTCP.
    pub malformed: u64,
    /// Payload type unknown on this leg, or with no counterpart on the other leg.
    pub unmapped_payload: u64,
    /// Stopped by hold: this leg does not send, or the other does not receive.
    pub on_hold: u64,
    /// The other leg has no address to send to yet.
    pub no_destination: u64,
    /// Paused while the bridge sent its own DTMF to the other leg.
    pub replaced_by_dtmf: u64,
    /// Not forwarded because the other leg hears a mix instead (a supervisor whispering or
    /// barging in); the audio reached that peer inside the mix.
    pub mixed: u64,
}

/// Everything counted for one leg.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LegStats {
    /// RTP received from this leg's peer (after the source check).
    pub received: StreamStats,
    /// RTP packets sent towards this leg's peer.
    pub sent_packets: u64,
    /// Bytes of those packets.
    pub sent_bytes: u64,
    /// RTCP packets received from this leg's peer.
    pub rtcp_received: u64,
    /// RTCP packets passed on towards this leg's peer.
    pub rtcp_sent: u64,
    /// Packets dropped, by reason.
    pub dropped: DropCounts,
    /// The address the leg is latched to.
    pub latched: Option<SocketAddr>,
}

/// Outcome of the source check of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceCheck {
    /// From the latched address.
    Known,
    /// First packet: the leg is now latched here.
    Latched,
    /// Moved from the previous address to this one.
    Relatched(SocketAddr),
    /// Not allowed.
    Rejected,
}

/// Maps incoming seq/timestamp/SSRC to the outgoing stream towards one leg, so that the peer
/// sees one continuous stream even when the source behind the bridge changes (re-INVITE,
/// transfer, the peer restarting its stream).
#[derive(Debug, Clone, Default)]
pub(super) struct OutStream {
    state: Option<OutState>,
}

#[derive(Debug, Clone, Copy)]
struct OutState {
    ssrc: u32,
    /// `None` while only the bridge's own packets (DTMF) have been sent.
    source_ssrc: Option<u32>,
    seq_delta: u16,
    ts_delta: u32,
    last_seq: u16,
    last_ts: u32,
    last_at: Timestamp,
}

impl OutStream {
    /// Output `(ssrc, seq, ts)` for an input packet; `Some(old_source)` when the source changed.
    pub(super) fn map(
        &mut self,
        ssrc: u32,
        seq: u16,
        ts: u32,
        clock_rate: u32,
        now: Timestamp,
    ) -> ((u32, u16, u32), Option<u32>) {
        let mut changed = None;
        let st = match &mut self.state {
            None => self.state.insert(OutState {
                // The first source's SSRC is kept: RTCP from it then matches without rewriting.
                ssrc,
                source_ssrc: Some(ssrc),
                seq_delta: 0,
                ts_delta: 0,
                last_seq: seq.wrapping_sub(1),
                last_ts: ts,
                last_at: now,
            }),
            Some(st) => {
                if st.source_ssrc != Some(ssrc) {
                    changed = st.source_ssrc;
                    // Continue right after the last packet sent, with the timestamp advanced by
                    // the wall time since then (at least one sample, so it always moves on).
                    st.seq_delta = st.last_seq.wrapping_add(1).wrapping_sub(seq);
                    st.ts_delta = st
                        .last_ts
                        .wrapping_add(advance(st.last_at, now, clock_rate))
                        .wrapping_sub(ts);
                    st.source_ssrc = Some(ssrc);
                }
                st
            }
        };
        let out_seq = seq.wrapping_add(st.seq_delta);
        let out_ts = ts.wrapping_add(st.ts_delta);
        // Only a newer packet moves the high-water marks; a reordered one keeps its numbers.
        if (out_seq.wrapping_sub(st.last_seq) as i16) > 0 {
            st.last_seq = out_seq;
            st.last_ts = out_ts;
            st.last_at = now;
        }
        ((st.ssrc, out_seq, out_ts), changed)
    }

    /// Takes back the numbers of the packet just mapped, which is not sent after all, so the
    /// peer sees no gap in the sequence.
    pub(super) fn unmap_newest(&mut self, out_seq: u16) {
        if let Some(st) = &mut self.state
            && st.last_seq == out_seq
        {
            st.last_seq = st.last_seq.wrapping_sub(1);
            st.seq_delta = st.seq_delta.wrapping_sub(1);
        }
    }

    /// Numbers for a packet the bridge itself sends into this stream: the next sequence number
    /// (relayed packets after it move up by one) and the current timestamp.
    pub(super) fn inject(
        &mut self,
        seed_ssrc: u32,
        clock_rate: u32,
        now: Timestamp,
    ) -> (u32, u16, u32) {
        let st = self.state.get_or_insert(OutState {
            ssrc: seed_ssrc,
            source_ssrc: None,
            seq_delta: 0,
            ts_delta: 0,
            last_seq: 0,
            last_ts: 0,
            last_at: now,
        });
        let seq = st.last_seq.wrapping_add(1);
        let ts = st
            .last_ts
            .wrapping_add(advance(st.last_at, now, clock_rate));
        st.last_seq = seq;
        st.seq_delta = st.seq_delta.wrapping_add(1);
        (st.ssrc, seq, ts)
    }

    /// The timestamp this stream has reached at `at`, if it has started: where a stream the
    /// bridge originates (a playout) begins so that it continues what the peer heard.
    pub(super) fn ts_at(&self, clock_rate: u32, at: Timestamp) -> Option<u32> {
        let st = self.state.as_ref()?;
        let mut step = advance(st.last_at, at, clock_rate);
        if st.source_ssrc.is_some() {
            // The last packet was relayed and `last_ts` is its start; its length is unknown
            // here, so assume the usual 20 ms rather than overlap it.
            step = step.max(clock_rate / 50);
        }
        Some(st.last_ts.wrapping_add(step))
    }

    /// Numbers for an audio frame the bridge sends itself with timestamp `ts`, covering
    /// `samples` and ending at `end_at`: the next sequence number and the stream's SSRC. The
    /// high-water marks move to the end of the frame, and the relayed source is forgotten, so
    /// the next relayed packet (even from the source heard before) continues after the frame.
    pub(super) fn inject_frame(
        &mut self,
        seed_ssrc: u32,
        ts: u32,
        samples: u32,
        end_at: Timestamp,
    ) -> (u32, u16) {
        let st = self.state.get_or_insert(OutState {
            ssrc: seed_ssrc,
            source_ssrc: None,
            seq_delta: 0,
            ts_delta: 0,
            last_seq: 0,
            last_ts: ts,
            last_at: end_at,
        });
        let seq = st.last_seq.wrapping_add(1);
        st.last_seq = seq;
        st.seq_delta = st.seq_delta.wrapping_add(1);
        st.last_ts = ts.wrapping_add(samples);
        st.last_at = end_at;
        st.source_ssrc = None;
        (st.ssrc, seq)
    }
}

/// RTP units of wall time from `since` to `now`, at least 1.
fn advance(since: Timestamp, now: Timestamp, clock_rate: u32) -> u32 {
    let elapsed_ms = u64::try_from(now.since(since).as_millis()).unwrap_or(u64::MAX / 8000);
    (elapsed_ms.saturating_mul(u64::from(clock_rate)) / 1000).clamp(1, u64::from(u32::MAX)) as u32
}

/// State of one leg.
#[derive(Debug)]
pub(super) struct Leg {
    pub(super) config: Option<LegConfig>,
    pub(super) latched: Option<SocketAddr>,
    pub(super) latched_rtcp: Option<SocketAddr>,
    /// Last accepted RTP from this leg.
    pub(super) last_rx: Option<Timestamp>,
    /// Since when the media timeout has been running (configured, or direction changed).
    pub(super) armed_since: Option<Timestamp>,
    pub(super) timed_out: bool,
    pub(super) in_ssrc: Option<u32>,
    pub(super) rx: ReceiveStats,
    pub(super) stats: LegStats,
    pub(super) out: OutStream,
    pub(super) dtmf: DtmfDecoder,
}

impl Leg {
    pub(super) fn new() -> Leg {
        Leg {
            config: None,
            latched: None,
            latched_rtcp: None,
            last_rx: None,
            armed_since: None,
            timed_out: false,
            in_ssrc: None,
            rx: ReceiveStats::new(8000),
            stats: LegStats::default(),
            out: OutStream::default(),
            dtmf: DtmfDecoder::new(),
        }
    }

    /// Symmetric RTP: the first packet latches; a packet from elsewhere moves the latch only if
    /// it comes from the address the SDP named, or the latched source has been silent for
    /// `relatch_after` (a NAT rebinding); with `strict_ip` the source IP must be the SDP's.
    pub(super) fn check_source(
        &mut self,
        from: SocketAddr,
        now: Timestamp,
        relatch_after: Duration,
        strict_ip: bool,
    ) -> SourceCheck {
        if self.latched == Some(from) {
            return SourceCheck::Known;
        }
        let declared = self.config.as_ref().and_then(|c| c.remote_rtp);
        if strict_ip && declared.is_some_and(|d| d.ip() != from.ip()) {
            return SourceCheck::Rejected;
        }
        match self.latched {
            None => {
                self.latched = Some(from);
                SourceCheck::Latched
            }
            Some(old) => {
                let silent = self.last_rx.is_none_or(|t| now.since(t) >= relatch_after);
                if declared == Some(from) || silent {
                    self.latched = Some(from);
                    SourceCheck::Relatched(old)
                } else {
                    SourceCheck::Rejected
                }
            }
        }
    }

    /// Where to send RTP to this leg's peer: the latched source, else the SDP address.
    pub(super) fn rtp_destination(&self) -> Option<SocketAddr> {
        self.latched
            .or_else(|| self.config.as_ref().and_then(|c| c.remote_rtp))
    }

    /// Where to send RTCP to this leg's peer, and whether that is the RTP socket (rtcp-mux).
    pub(super) fn rtcp_destination(&self) -> Option<(SocketAddr, bool)> {
        let cfg = self.config.as_ref()?;
        if cfg.rtcp_mux {
            return self.rtp_destination().map(|a| (a, true));
        }
        self.latched_rtcp
            .or(cfg.remote_rtcp)
            .or_else(|| {
                self.latched
                    .map(|a| SocketAddr::new(a.ip(), a.port().saturating_add(1)))
            })
            .map(|a| (a, false))
    }

    /// Whether the peer sends media (so silence from it means something is wrong).
    pub(super) fn peer_sends(&self) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| c.remote_direction.sends())
    }

    /// Whether the peer wants to receive media.
    pub(super) fn peer_receives(&self) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| c.remote_direction.receives())
    }

    /// When the media timeout fires for this leg, if it is running.
    pub(super) fn timeout_at(&self, timeout: Duration) -> Option<Timestamp> {
        if self.timed_out || !self.peer_sends() {
            return None;
        }
        let since = match (self.armed_since, self.last_rx) {
            (Some(a), Some(r)) => a.max(r),
            (a, r) => a.or(r)?,
        };
        Some(since + timeout)
    }
}
