//! Datagrams on both legs of a bridge (RTP, muxed RTCP, telephone-event) must never panic.
//! Input: a sequence of [leg byte, length byte, packet bytes...] records.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use switchboard_core::Timestamp;
use switchboard_media::bridge::{Bridge, BridgeConfig, LegConfig, LegId};
use switchboard_media::sdp::{Codec, Direction};

fuzz_target!(|data: &[u8]| {
    let mut bridge = Bridge::new(BridgeConfig {
        audio_tap: true,
        ..BridgeConfig::default()
    });
    let peer = SocketAddr::from(([192, 0, 2, 1], 4000));
    for leg in [LegId::A, LegId::B] {
        bridge.configure_leg(
            leg,
            LegConfig {
                remote_rtp: Some(peer),
                remote_rtcp: None,
                payloads: vec![(0, Codec::Pcmu), (8, Codec::Pcma), (101, Codec::TelephoneEvent)],
                remote_direction: Direction::SendRecv,
                rtcp_mux: leg == LegId::A,
            },
            Timestamp::from_millis(0),
        );
    }
    let mut rest = data;
    let mut now = 0;
    while let [leg, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let mut packet = tail[..n].to_vec();
        rest = &tail[n..];
        let leg = if leg & 1 == 0 { LegId::A } else { LegId::B };
        now += 20;
        let t = Timestamp::from_millis(now);
        let _ = bridge.handle_packet(leg, peer, &mut packet, t);
        let _ = bridge.handle_rtcp(leg, peer, &packet, t);
        bridge.handle_timeout(t);
        while bridge.poll_event().is_some() {}
        while bridge.poll_audio().is_some() {}
    }
});
