//! The supervisor's side of a monitored call: the RTP the supervisor's phone (or browser, through
//! its WebRTC leg) sends us, decoded for the [`super::Mixer`], and the mixed stream we send back.
//! Sans-IO like the bridge: the relay passes datagrams in and sends the packets that come out.

use std::net::SocketAddr;

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

use crate::bridge::LegConfig;
use crate::g711::Law;

/// The supervisor's leg of a monitored call.
#[derive(Debug)]
pub struct SupervisorLeg {
    config: Option<LegConfig>,
    /// Where the supervisor's RTP comes from (symmetric RTP: the mix goes back there).
    latched: Option<SocketAddr>,
    ssrc: u32,
    seq: u16,
    ts: u32,
    sent_any: bool,
    /// Datagrams refused (wrong source, not RTP, not G.711), for the call's counters.
    pub dropped: u64,
    /// Mixed packets sent.
    pub sent: u64,
}

impl SupervisorLeg {
    /// A leg whose outgoing stream starts at the numbers `seed` gives.
    pub fn new(seed: u32) -> SupervisorLeg {
        SupervisorLeg {
            config: None,
            latched: None,
            ssrc: seed,
            seq: (seed >> 16) as u16,
            ts: seed.rotate_left(8),
            sent_any: false,
            dropped: 0,
            sent: 0,
        }
    }

    /// What the supervisor's side negotiated (after its offer/answer).
    pub fn configure(&mut self, config: LegConfig) {
        self.config = Some(config);
    }

    /// One datagram from `from`: the decoded audio if it is the supervisor's G.711 RTP.
    /// The first source is latched; packets from anywhere else are dropped.
    pub fn receive(&mut self, from: SocketAddr, packet: &[u8]) -> Option<Vec<i16>> {
        let Some(config) = self.config.as_ref() else {
            self.dropped += 1;
            return None;
        };
        if *self.latched.get_or_insert(from) != from {
            self.dropped += 1;
            return None;
        }
        let Ok(rtp) = RtpReader::new(packet) else {
            self.dropped += 1;
            return None;
        };
        match config.codec_of(rtp.payload_type()).and_then(|c| c.law()) {
            Some(law) if config.remote_direction.sends() => Some(law.decode(rtp.payload())),
            // Telephone-event, comfort noise, a held phone: nothing to mix.
            _ => None,
        }
    }

    /// The packet carrying `samples` (one 20 ms frame) to the supervisor, and where it goes;
    /// `None` before the leg is configured, while its address is unknown, or when it does
    /// not receive.
    pub fn packet(&mut self, samples: &[i16]) -> Option<(SocketAddr, Vec<u8>)> {
        let config = self.config.as_ref()?;
        if !config.remote_direction.receives() {
            return None;
        }
        let to = self.latched.or(config.remote_rtp)?;
        let (pt, law): (u8, Law) = config
            .payloads
            .iter()
            .find_map(|(pt, c)| c.law().map(|l| (*pt, l)))?;
        let marker = !self.sent_any;
        self.sent_any = true;
        let bytes = RtpPacketBuilder::new()
            .payload_type(pt)
            .marked(marker)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.seq))
            .timestamp(self.ts)
            .payload(&law.encode(samples))
            .build()
            .ok()?;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(samples.len() as u32);
        self.sent += 1;
        Some((to, bytes))
    }
}
