//! Sending RFC 4733 digits into a leg from the bridge itself (IVR, transfer codes, a supervisor
//! pressing a key): the packets join the stream already sent to that leg, so its sequence
//! numbers and timestamps stay continuous, and relayed audio to that leg pauses meanwhile.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use rtp_rs::{RtpPacketBuilder, Seq};
use switchboard_core::Timestamp;

use super::{Bridge, LegId};
use crate::dtmf::{self, DtmfError, EventPacket};
use crate::sdp::Codec;

/// Update interval of sent events, matching 20 ms audio packets.
const INTERVAL_MS: u32 = 20;
/// Pause between two queued digits.
const INTER_DIGIT: Duration = Duration::from_millis(60);
/// Volume of sent events, in -dBm0 (10 is what most phones send).
const VOLUME: u8 = 10;

/// Why a digit cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendDtmfError {
    /// The leg did not negotiate telephone-event.
    #[error("leg {0:?} did not negotiate telephone-event")]
    NotNegotiated(LegId),
    /// The digit or duration is unusable.
    #[error(transparent)]
    Dtmf(#[from] DtmfError),
}

/// A datagram the bridge itself originates: `bytes` from `to_leg`'s RTP socket to `to_addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The leg whose socket sends it.
    pub to_leg: LegId,
    /// That leg's peer.
    pub to_addr: SocketAddr,
    /// The RTP packet.
    pub bytes: Vec<u8>,
}

/// One digit being sent, or waiting its turn.
#[derive(Debug)]
pub(super) struct DtmfJob {
    to: LegId,
    pt: u8,
    start: Timestamp,
    packets: Vec<EventPacket>,
    next: usize,
    /// RTP timestamp of the event, fixed when its first packet goes out.
    event_ts: Option<u32>,
}

impl DtmfJob {
    fn due(&self) -> Option<Timestamp> {
        let p = self.packets.get(self.next)?;
        Some(self.start + Duration::from_millis(u64::from(p.offset_ms)))
    }

    fn end(&self) -> Timestamp {
        let last = self.packets.last().map_or(0, |p| p.offset_ms);
        self.start + Duration::from_millis(u64::from(last))
    }
}

/// The queue of digits to send, oldest first.
#[derive(Debug, Default)]
pub(super) struct DtmfQueue(VecDeque<DtmfJob>);

impl DtmfQueue {
    /// Whether relayed media to `leg` should pause at `now` (a digit is being sent to it).
    pub(super) fn sending_to(&self, leg: LegId, now: Timestamp) -> bool {
        self.0
            .front()
            .is_some_and(|j| j.to == leg && j.start <= now && j.next < j.packets.len())
    }

    pub(super) fn next_due(&self) -> Option<Timestamp> {
        self.0.front().and_then(DtmfJob::due)
    }
}

impl Bridge {
    /// Queues `digit` for `to`, pressed for `duration`, starting at `now` or after the digits
    /// already queued. The packets come out of [`Bridge::poll_transmit`] at their time.
    pub fn send_dtmf(
        &mut self,
        to: LegId,
        digit: char,
        duration: Duration,
        now: Timestamp,
    ) -> Result<(), SendDtmfError> {
        let pt = self
            .leg(to)
            .config
            .as_ref()
            .and_then(|c| c.pt_of(Codec::TelephoneEvent))
            .ok_or(SendDtmfError::NotNegotiated(to))?;
        let ms = u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
        let packets = dtmf::encode_digit(digit, ms, INTERVAL_MS, VOLUME)?;
        let start = match self.dtmf_out.0.back() {
            Some(prev) => (prev.end() + INTER_DIGIT).max(now),
            None => now,
        };
        self.dtmf_out.0.push_back(DtmfJob {
            to,
            pt,
            start,
            packets,
            next: 0,
            event_ts: None,
        });
        Ok(())
    }

    /// The next DTMF packet the bridge sends that is due at `now`.
    pub(super) fn poll_dtmf(&mut self, now: Timestamp) -> Option<Transmit> {
        loop {
            let job = self.dtmf_out.0.front()?;
            if job.next >= job.packets.len() {
                self.dtmf_out.0.pop_front();
                continue;
            }
            if job.due()? > now {
                return None;
            }
            let to = job.to;
            let Some(to_addr) = self.leg(to).rtp_destination() else {
                // Nowhere to send: the digit is dropped rather than sent late.
                self.dtmf_out.0.pop_front();
                continue;
            };
            let (ssrc, seq, ts_now) = {
                let seed = self.config.ssrc_seed ^ (to as u32);
                self.leg_mut(to).out.inject(seed, dtmf::CLOCK_RATE, now)
            };
            let job = self.dtmf_out.0.front_mut()?;
            let event_ts = *job.event_ts.get_or_insert(ts_now);
            let p = job.packets[job.next];
            job.next += 1;
            let payload = p.event.to_bytes();
            let built = RtpPacketBuilder::new()
                .payload_type(job.pt)
                .marked(p.marker)
                .ssrc(ssrc)
                .sequence(Seq::from(seq))
                .timestamp(event_ts)
                .payload(&payload)
                .build();
            let Ok(bytes) = built else {
                // Cannot happen for a 4-byte payload and a 7-bit PT; skip rather than panic.
                continue;
            };
            let l = self.leg_mut(to);
            l.stats.sent_packets += 1;
            l.stats.sent_bytes += bytes.len() as u64;
            return Some(Transmit {
                to_leg: to,
                to_addr,
                bytes,
            });
        }
    }
}
