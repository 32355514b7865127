//! The media side of one bridged call as the B2BUA drives it: ports, offer/answer on both legs,
//! relay both ways with a codec change, DTMF, hold and resume, media timeout, ports freed.

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use switchboard_core::Timestamp;
use switchboard_media::bridge::{Bridge, BridgeConfig, LegConfig, LegId, MediaEvent};
use switchboard_media::dtmf::{DtmfPhase, TelephoneEvent};
use switchboard_media::g711::{Law, alaw_encode};
use switchboard_media::ports::PortAllocator;
use switchboard_media::sdp::{
    Codec, Direction, LocalMedia, SessionDescription, accept_answer, create_answer, create_offer,
};

const CALLER: &str = "127.0.0.1:6000";
const AGENT: &str = "127.0.0.2:7000";

/// What SIPp's uac_pcap sends: PCMA and telephone-event.
fn caller_offer(direction: &str) -> SessionDescription {
    let text = format!(
        "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
         t=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na={direction}\r\n"
    );
    SessionDescription::parse(text.as_bytes()).expect("valid caller SDP")
}

/// The agent's phone answers our offer with PCMU only.
fn agent_answer() -> SessionDescription {
    let text = "v=0\r\no=agent 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
                m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
                a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    SessionDescription::parse(text.as_bytes()).expect("valid agent SDP")
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_800_000_000_000 + ms)
}

fn packet(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    RtpPacketBuilder::new()
        .payload_type(pt)
        .sequence(Seq::from(seq))
        .timestamp(ts)
        .ssrc(0x1234)
        .payload(payload)
        .build()
        .expect("valid packet")
}

#[test]
fn bridged_call_relays_both_ways_passes_dtmf_holds_and_frees_its_ports() {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut ports = PortAllocator::new(20000..=20009).expect("range");
    let port_a = ports.allocate().expect("free pair");
    let port_b = ports.allocate().expect("free pair");

    // Leg A: the caller offered, we answer.
    let local_a = LocalMedia::new(ip, port_a.rtp, 1);
    let (answer_a, neg_a) = create_answer(&caller_offer("sendrecv"), &local_a).expect("codec");
    assert_eq!(answer_a.media[0].port, 20000);
    assert_eq!(
        (neg_a.codec, neg_a.telephone_event_pt),
        (Codec::Pcma, Some(101))
    );

    // Leg B: we offer to the agent, it answers PCMU.
    let local_b = LocalMedia::new(ip, port_b.rtp, 2);
    let offer_b = create_offer(&local_b);
    let neg_b = accept_answer(&offer_b, &agent_answer()).expect("answer");
    assert_eq!(neg_b.codec, Codec::Pcmu);

    let mut bridge = Bridge::new(BridgeConfig {
        audio_tap: true,
        ..BridgeConfig::default()
    });
    bridge.configure_leg(LegId::A, LegConfig::from(&neg_a), t(0));
    bridge.configure_leg(LegId::B, LegConfig::from(&neg_b), t(0));

    // Caller speaks A-law; the agent receives μ-law.
    let caller: SocketAddr = CALLER.parse().expect("addr");
    let agent: SocketAddr = AGENT.parse().expect("addr");
    let voice = [alaw_encode(3000); 160];
    let mut p = packet(8, 1, 0, &voice);
    let fwd = bridge
        .handle_packet(LegId::A, caller, &mut p, t(0))
        .expect("relayed");
    assert_eq!((fwd.to_leg, fwd.to_addr), (LegId::B, agent));
    let r = RtpReader::new(&p[..fwd.len]).expect("rtp");
    assert_eq!(r.payload_type(), 0);
    let heard = Law::Ulaw.decode(r.payload());
    assert!(
        heard.iter().all(|s| (s - 3000).abs() < 200),
        "{:?}",
        &heard[..4]
    );

    // The agent answers in μ-law; the caller gets A-law at its latched address.
    let mut p = packet(0, 77, 5000, &[0x10; 160]);
    let fwd = bridge
        .handle_packet(LegId::B, agent, &mut p, t(10))
        .expect("relayed");
    assert_eq!((fwd.to_leg, fwd.to_addr), (LegId::A, caller));
    assert_eq!(RtpReader::new(&p).expect("rtp").payload_type(), 8);

    // Both parties reach the recorder, one frame each.
    let frames: Vec<_> = std::iter::from_fn(|| bridge.poll_audio()).collect();
    assert_eq!(frames.len(), 2);
    assert_eq!((frames[0].leg, frames[1].leg), (LegId::A, LegId::B));

    // The caller presses 4: the agent gets it on PT 101 and call control sees the digit.
    for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
        let ev = TelephoneEvent {
            event: 4,
            end,
            volume: 10,
            duration: 160 * (i as u16 + 1).min(3),
        };
        let mut p = packet(101, 2 + i as u16, 800, &ev.to_bytes());
        let fwd = bridge.handle_packet(LegId::A, caller, &mut p, t(20 + 20 * i as i64));
        assert!(fwd.is_some());
    }
    let digits: Vec<_> = std::iter::from_fn(|| bridge.poll_event())
        .filter_map(|e| match e {
            MediaEvent::Dtmf { leg, event } => Some((leg, event.digit(), event.phase)),
            _ => None,
        })
        .collect();
    assert_eq!(
        digits,
        vec![
            (LegId::A, Some('4'), DtmfPhase::Started),
            (LegId::A, Some('4'), DtmfPhase::Ended { duration_ms: 60 }),
        ]
    );

    // The caller holds (re-INVITE sendonly): we answer recvonly; nothing goes to the caller
    // any more, while what the caller sends (music on hold) still reaches the agent.
    let (answer, held) = create_answer(&caller_offer("sendonly"), &local_a).expect("codec");
    assert_eq!(answer.media_direction(0), Some(Direction::RecvOnly));
    bridge.set_remote_direction(LegId::A, held.remote_direction, t(200));
    let mut p = packet(0, 78, 5160, &[0x10; 160]);
    assert!(
        bridge
            .handle_packet(LegId::B, agent, &mut p, t(220))
            .is_none()
    );
    let mut p = packet(8, 10, 1600, &voice);
    assert!(
        bridge
            .handle_packet(LegId::A, caller, &mut p, t(220))
            .is_some(),
        "music on hold"
    );

    // Resume, then the agent's phone dies: media timeout 30 s after its last packet.
    bridge.set_remote_direction(LegId::A, Direction::SendRecv, t(1000));
    let mut p = packet(0, 79, 5320, &[0x10; 160]);
    assert!(
        bridge
            .handle_packet(LegId::B, agent, &mut p, t(1000))
            .is_some()
    );
    let deadline = bridge.poll_timeout().expect("timer running");
    assert!(deadline <= t(31_000));
    bridge.handle_timeout(t(31_000));
    let timed_out: Vec<_> = std::iter::from_fn(|| bridge.poll_event())
        .filter_map(|e| match e {
            MediaEvent::MediaTimeout { leg, cause } => Some((leg, cause.as_str())),
            _ => None,
        })
        .collect();
    assert!(
        timed_out.contains(&(LegId::B, "media-timeout-rtp-stopped")),
        "{timed_out:?}"
    );

    // Hang-up frees both pairs.
    ports.release(port_a.rtp).expect("allocated");
    ports.release(port_b.rtp).expect("allocated");
    assert_eq!(ports.in_use(), 0);
}
