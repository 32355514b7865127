use super::*;
use crate::dtmf::{DtmfPhase, TelephoneEvent};
use crate::g711::{alaw_encode, ulaw_decode, ulaw_encode};
use rtp_rs::{RtpPacketBuilder, Seq};

const PEER_A: &str = "192.0.2.1:4000";
const PEER_B: &str = "198.51.100.7:6000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + ms)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn leg_config(remote: &str, payloads: &[(u8, Codec)]) -> LegConfig {
    let rtp = addr(remote);
    LegConfig {
        remote_rtp: Some(rtp),
        remote_rtcp: Some(SocketAddr::new(rtp.ip(), rtp.port() + 1)),
        payloads: payloads.to_vec(),
        remote_direction: Direction::SendRecv,
        rtcp_mux: false,
    }
}

/// A: PCMU + telephone-event 101; B: PCMU + telephone-event 96.
fn bridge_with(config: BridgeConfig) -> Bridge {
    let mut b = Bridge::new(config);
    b.configure_leg(
        LegId::A,
        leg_config(PEER_A, &[(0, Codec::Pcmu), (101, Codec::TelephoneEvent)]),
        t(0),
    );
    b.configure_leg(
        LegId::B,
        leg_config(PEER_B, &[(0, Codec::Pcmu), (96, Codec::TelephoneEvent)]),
        t(0),
    );
    b
}

fn bridge() -> Bridge {
    bridge_with(BridgeConfig::default())
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    RtpPacketBuilder::new()
        .payload_type(pt)
        .sequence(Seq::from(seq))
        .timestamp(ts)
        .ssrc(ssrc)
        .payload(payload)
        .build()
        .unwrap()
}

fn audio(seq: u16, ssrc: u32) -> Vec<u8> {
    rtp(
        0,
        seq,
        u32::from(seq) * 160,
        ssrc,
        &[ulaw_encode(1000); 160],
    )
}

fn events(b: &mut Bridge) -> Vec<MediaEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

struct Sent {
    fwd: Forward,
    bytes: Vec<u8>,
}

fn send(
    b: &mut Bridge,
    leg: LegId,
    from: &str,
    mut packet: Vec<u8>,
    now: Timestamp,
) -> Option<Sent> {
    let fwd = b.handle_packet(leg, addr(from), &mut packet, now)?;
    packet.truncate(fwd.len);
    Some(Sent { fwd, bytes: packet })
}

#[test]
fn audio_from_a_is_forwarded_unchanged_to_b_at_its_sdp_address() {
    let mut b = bridge();
    let pkt = audio(100, 0xA1);
    let sent = send(&mut b, LegId::A, PEER_A, pkt.clone(), t(0)).expect("forwarded");
    assert_eq!(sent.fwd.to_leg, LegId::B);
    assert_eq!(sent.fwd.to_addr, addr(PEER_B));
    assert_eq!(sent.fwd.socket, Socket::Rtp);
    assert_eq!(sent.bytes, pkt, "same PT, first source: nothing to rewrite");
    assert_eq!(
        events(&mut b),
        vec![MediaEvent::Latched {
            leg: LegId::A,
            addr: addr(PEER_A)
        }]
    );
    assert_eq!(b.stats(LegId::A).received.packets, 1);
    assert_eq!(b.stats(LegId::B).sent_packets, 1);
}

#[test]
fn first_packet_latches_the_source_and_replies_go_there_not_to_the_sdp_address() {
    let mut b = bridge();
    // B is behind NAT: its SDP says 198.51.100.7:6000 but packets come from elsewhere.
    let natted = "203.0.113.9:31000";
    send(&mut b, LegId::B, natted, audio(1, 0xB1), t(0));
    let sent = send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(20)).unwrap();
    assert_eq!(sent.fwd.to_addr, addr(natted));
    assert_eq!(b.stats(LegId::B).latched, Some(addr(natted)));
}

#[test]
fn packet_from_an_unexpected_source_is_dropped_and_counted() {
    let mut b = bridge();
    send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).unwrap();
    assert!(send(&mut b, LegId::A, "192.0.2.66:4000", audio(2, 0xEE), t(20)).is_none());
    assert_eq!(b.stats(LegId::A).dropped.unexpected_source, 1);
    assert_eq!(b.stats(LegId::A).received.packets, 1);
    assert_eq!(b.stats(LegId::A).latched, Some(addr(PEER_A)));
}

#[test]
fn latch_moves_after_the_old_source_falls_silent_for_two_seconds() {
    let mut b = bridge();
    let moved = "192.0.2.1:4444";
    send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).unwrap();
    assert!(send(&mut b, LegId::A, moved, audio(2, 0xA1), t(1_000)).is_none());
    events(&mut b);
    let sent = send(&mut b, LegId::A, moved, audio(3, 0xA1), t(2_000));
    assert!(sent.is_some(), "silent for 2 s: NAT rebinding accepted");
    assert_eq!(
        events(&mut b),
        vec![MediaEvent::Relatched {
            leg: LegId::A,
            from: addr(PEER_A),
            to: addr(moved)
        }]
    );
}

#[test]
fn latch_moves_at_once_to_the_address_the_sdp_named() {
    let mut b = bridge();
    send(&mut b, LegId::A, "10.9.9.9:1234", audio(1, 0xA1), t(0)).unwrap();
    assert!(send(&mut b, LegId::A, PEER_A, audio(2, 0xA1), t(20)).is_some());
    assert_eq!(b.stats(LegId::A).latched, Some(addr(PEER_A)));
}

#[test]
fn strict_mode_refuses_sources_on_another_ip() {
    let mut b = bridge_with(BridgeConfig {
        strict_source_ip: true,
        ..BridgeConfig::default()
    });
    assert!(send(&mut b, LegId::A, "10.9.9.9:4000", audio(1, 0xA1), t(0)).is_none());
    assert_eq!(b.stats(LegId::A).dropped.unexpected_source, 1);
    assert!(send(&mut b, LegId::A, "192.0.2.1:5555", audio(2, 0xA1), t(20)).is_some());
}

#[test]
fn reinvite_with_a_new_address_drops_the_latch() {
    let mut b = bridge();
    send(&mut b, LegId::B, PEER_B, audio(1, 0xB1), t(0)).unwrap();
    b.configure_leg(
        LegId::B,
        leg_config("198.51.100.8:7000", &[(0, Codec::Pcmu)]),
        t(100),
    );
    let sent = send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(120)).unwrap();
    assert_eq!(sent.fwd.to_addr, addr("198.51.100.8:7000"));
}

#[test]
fn telephone_event_payload_type_is_mapped_between_legs() {
    let mut b = bridge();
    let ev = TelephoneEvent {
        event: 5,
        end: false,
        volume: 10,
        duration: 160,
    };
    let mut pkt = rtp(101, 7, 8000, 0xA1, &ev.to_bytes());
    pkt[1] |= 0x80; // marker on the first packet of the event
    let sent = send(&mut b, LegId::A, PEER_A, pkt, t(0)).unwrap();
    let r = RtpReader::new(&sent.bytes).unwrap();
    assert_eq!(r.payload_type(), 96);
    assert!(r.mark(), "marker survives the PT rewrite");
    assert_eq!(r.payload(), &ev.to_bytes());
}

#[test]
fn dtmf_through_the_bridge_gives_one_start_and_one_end_per_key_press() {
    let mut b = bridge();
    for (i, (end, duration)) in [
        (false, 160),
        (false, 320),
        (false, 480),
        (true, 640),
        (true, 640),
        (true, 640),
    ]
    .into_iter()
    .enumerate()
    {
        let (seq, at) = (10 + i as u16, 20 * i as i64);
        let ev = TelephoneEvent {
            event: 11,
            end,
            volume: 10,
            duration,
        };
        let sent = send(
            &mut b,
            LegId::A,
            PEER_A,
            rtp(101, seq, 16000, 0xA1, &ev.to_bytes()),
            t(at),
        );
        assert!(
            sent.is_some(),
            "every packet, redundant ends too, is passed on"
        );
    }
    let dtmf: Vec<(LegId, Option<char>, DtmfPhase)> = events(&mut b)
        .into_iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf { leg, event } => Some((leg, event.digit(), event.phase)),
            _ => None,
        })
        .collect();
    assert_eq!(
        dtmf,
        vec![
            (LegId::A, Some('#'), DtmfPhase::Started),
            (LegId::A, Some('#'), DtmfPhase::Ended { duration_ms: 80 }),
        ]
    );
}

#[test]
fn pcmu_is_converted_to_pcma_when_the_other_leg_took_only_a_law() {
    let mut b = Bridge::new(BridgeConfig::default());
    b.configure_leg(LegId::A, leg_config(PEER_A, &[(0, Codec::Pcmu)]), t(0));
    b.configure_leg(LegId::B, leg_config(PEER_B, &[(8, Codec::Pcma)]), t(0));
    let sent = send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).unwrap();
    let r = RtpReader::new(&sent.bytes).unwrap();
    assert_eq!(r.payload_type(), 8);
    let want = alaw_encode(ulaw_decode(ulaw_encode(1000)));
    assert!(r.payload().iter().all(|&c| c == want));
}

#[test]
fn without_transcoding_an_unmatched_codec_is_dropped_and_counted() {
    let mut b = Bridge::new(BridgeConfig {
        transcode_g711: false,
        ..BridgeConfig::default()
    });
    b.configure_leg(LegId::A, leg_config(PEER_A, &[(0, Codec::Pcmu)]), t(0));
    b.configure_leg(LegId::B, leg_config(PEER_B, &[(8, Codec::Pcma)]), t(0));
    assert!(send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).is_none());
    // A payload type A never negotiated is dropped too.
    assert!(
        send(
            &mut b,
            LegId::A,
            PEER_A,
            rtp(18, 2, 320, 0xA1, &[0; 20]),
            t(20)
        )
        .is_none()
    );
    assert_eq!(b.stats(LegId::A).dropped.unmapped_payload, 2);
}

#[test]
fn new_source_behind_a_leg_continues_the_outgoing_sequence_timestamp_and_ssrc() {
    let mut b = bridge();
    let first = send(&mut b, LegId::A, PEER_A, audio(500, 0xAAAA), t(0)).unwrap();
    let r = RtpReader::new(&first.bytes).unwrap();
    let (ssrc0, seq0, ts0) = (r.ssrc(), u16::from(r.sequence_number()), r.timestamp());
    // The caller's phone restarts its stream (new SSRC, random seq/ts) 20 ms later.
    let mut pkt = rtp(0, 9, 777_777, 0xBBBB, &[0xFF; 160]);
    let fwd = b
        .handle_packet(LegId::A, addr(PEER_A), &mut pkt, t(20))
        .unwrap();
    let r = RtpReader::new(&pkt[..fwd.len]).unwrap();
    assert_eq!(r.ssrc(), ssrc0);
    assert_eq!(u16::from(r.sequence_number()), seq0.wrapping_add(1));
    assert_eq!(r.timestamp(), ts0 + 160, "20 ms of 8 kHz later");
    // And it stays continuous afterwards.
    let mut pkt = rtp(0, 10, 777_937, 0xBBBB, &[0xFF; 160]);
    let fwd = b
        .handle_packet(LegId::A, addr(PEER_A), &mut pkt, t(40))
        .unwrap();
    let r = RtpReader::new(&pkt[..fwd.len]).unwrap();
    assert_eq!(u16::from(r.sequence_number()), seq0.wrapping_add(2));
    assert_eq!(r.timestamp(), ts0 + 320);
    assert!(events(&mut b).contains(&MediaEvent::SourceChanged {
        leg: LegId::A,
        ssrc: 0xBBBB
    }));
}

#[test]
fn hold_with_sendonly_stops_media_towards_the_holding_party_only() {
    let mut b = bridge();
    // A puts B on hold: A's re-INVITE says sendonly (A sends music, wants nothing back).
    b.set_remote_direction(LegId::A, Direction::SendOnly, t(0));
    b.set_remote_direction(LegId::B, Direction::RecvOnly, t(0));
    assert!(send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).is_some());
    assert!(send(&mut b, LegId::B, PEER_B, audio(1, 0xB1), t(0)).is_none());
    assert_eq!(b.stats(LegId::B).dropped.on_hold, 1);
    // Resume.
    b.set_remote_direction(LegId::A, Direction::SendRecv, t(1000));
    b.set_remote_direction(LegId::B, Direction::SendRecv, t(1000));
    assert!(send(&mut b, LegId::B, PEER_B, audio(2, 0xB1), t(1000)).is_some());
}

#[test]
fn inactive_stops_media_both_ways() {
    let mut b = bridge();
    b.set_remote_direction(LegId::A, Direction::Inactive, t(0));
    assert!(send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).is_none());
    assert!(send(&mut b, LegId::B, PEER_B, audio(1, 0xB1), t(0)).is_none());
}

#[test]
fn media_timeout_fires_after_thirty_seconds_without_rtp() {
    let mut b = bridge();
    send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).unwrap();
    send(&mut b, LegId::B, PEER_B, audio(1, 0xB1), t(0)).unwrap();
    // A keeps talking, B falls silent at t=10 s.
    send(&mut b, LegId::B, PEER_B, audio(2, 0xB1), t(10_000)).unwrap();
    for i in 0..30 {
        send(
            &mut b,
            LegId::A,
            PEER_A,
            audio(2 + i, 0xA1),
            t(10_000 + 1000 * i64::from(i)),
        );
    }
    events(&mut b);
    assert_eq!(b.poll_timeout(), Some(t(40_000)));
    b.handle_timeout(t(39_999));
    assert!(events(&mut b).is_empty());
    b.handle_timeout(t(40_000));
    assert_eq!(
        events(&mut b),
        vec![MediaEvent::MediaTimeout {
            leg: LegId::B,
            cause: MediaTimeoutCause::MediaStopped {
                last_packet: t(10_000)
            }
        }]
    );
    // Reported once, not again.
    b.handle_timeout(t(80_000));
    assert!(
        !events(&mut b)
            .iter()
            .any(|e| matches!(e, MediaEvent::MediaTimeout { leg: LegId::B, .. }))
    );
}

#[test]
fn leg_that_never_sends_times_out_with_no_media_received() {
    let mut b = Bridge::new(BridgeConfig::default());
    assert_eq!(
        b.poll_timeout(),
        None,
        "nothing runs before a leg is configured"
    );
    b.configure_leg(LegId::A, leg_config(PEER_A, &[(0, Codec::Pcmu)]), t(0));
    assert_eq!(b.poll_timeout(), Some(t(30_000)));
    b.handle_timeout(t(30_000));
    assert_eq!(
        events(&mut b),
        vec![MediaEvent::MediaTimeout {
            leg: LegId::A,
            cause: MediaTimeoutCause::NoMediaReceived
        }]
    );
}

#[test]
fn held_party_that_sends_nothing_does_not_time_out() {
    let mut b = bridge();
    // B answered the hold with recvonly: it will not send, so its silence is expected.
    b.set_remote_direction(LegId::B, Direction::RecvOnly, t(0));
    send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0));
    for i in 1..=60 {
        send(
            &mut b,
            LegId::A,
            PEER_A,
            audio(1 + i, 0xA1),
            t(1000 * i64::from(i)),
        );
        b.handle_timeout(t(1000 * i64::from(i)));
    }
    assert!(
        !events(&mut b)
            .iter()
            .any(|e| matches!(e, MediaEvent::MediaTimeout { .. }))
    );
    assert_eq!(b.poll_timeout(), Some(t(90_000)), "only A's timer runs");
}

#[test]
fn media_timeout_is_configurable() {
    let mut b = bridge_with(BridgeConfig {
        media_timeout: secs(5),
        ..BridgeConfig::default()
    });
    b.handle_timeout(t(5_000));
    assert_eq!(events(&mut b).len(), 2, "both legs silent for 5 s");
}

#[test]
fn audio_tap_gives_the_recorder_pcm_with_continuous_timestamps() {
    let mut b = bridge_with(BridgeConfig {
        audio_tap: true,
        ..BridgeConfig::default()
    });
    send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).unwrap();
    send(
        &mut b,
        LegId::B,
        PEER_B,
        rtp(0, 50, 1600, 0xB1, &[ulaw_encode(-2000); 160]),
        t(5),
    )
    .unwrap();
    let a = b.poll_audio().unwrap();
    assert_eq!(a.leg, LegId::A);
    assert_eq!(a.rtp_timestamp, 160);
    assert_eq!(a.samples, vec![ulaw_decode(ulaw_encode(1000)); 160]);
    let bf = b.poll_audio().unwrap();
    assert_eq!(bf.leg, LegId::B);
    assert_eq!(bf.rtp_timestamp, 1600);
    assert!(bf.samples.iter().all(|&s| s < -1900));
    assert!(b.poll_audio().is_none());
    // DTMF packets are not audio.
    let ev = TelephoneEvent {
        event: 1,
        end: false,
        volume: 10,
        duration: 160,
    };
    send(
        &mut b,
        LegId::A,
        PEER_A,
        rtp(101, 2, 320, 0xA1, &ev.to_bytes()),
        t(20),
    );
    assert!(b.poll_audio().is_none());
}

#[test]
fn loss_and_jitter_are_counted_per_leg() {
    let mut b = bridge();
    for seq in [1u16, 2, 3, 5, 6, 9, 10] {
        send(
            &mut b,
            LegId::A,
            PEER_A,
            audio(seq, 0xA1),
            t(i64::from(seq) * 20),
        );
    }
    let s = b.stats(LegId::A).received;
    assert_eq!(s.packets, 7);
    assert_eq!(s.expected, 10);
    assert_eq!(s.lost, 3);
    assert_eq!(s.jitter_ms, 0.0);
    assert_eq!(b.stats(LegId::B).received.packets, 0);
}

#[test]
fn garbage_on_the_rtp_port_is_counted_as_malformed() {
    let mut b = bridge();
    for junk in [&b""[..], b"\x80", b"hello world, not rtp", &[0x80; 11]] {
        let mut v = junk.to_vec();
        assert!(
            b.handle_packet(LegId::A, addr(PEER_A), &mut v, t(0))
                .is_none()
        );
    }
    assert_eq!(b.stats(LegId::A).dropped.malformed, 4);
}

#[test]
fn media_before_the_other_leg_answers_has_no_destination() {
    let mut b = Bridge::new(BridgeConfig::default());
    b.configure_leg(LegId::A, leg_config(PEER_A, &[(0, Codec::Pcmu)]), t(0));
    assert!(send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).is_none());
    assert_eq!(b.stats(LegId::A).dropped.no_destination, 1);
}

fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

#[test]
fn rtcp_is_passed_to_the_other_legs_rtcp_port_and_counted() {
    let mut b = bridge();
    let fwd = b
        .handle_rtcp(LegId::A, addr("192.0.2.1:4001"), &rtcp_rr(0xA1), t(0))
        .unwrap();
    assert_eq!(fwd.to_leg, LegId::B);
    assert_eq!(fwd.socket, Socket::Rtcp);
    assert_eq!(fwd.to_addr, addr("198.51.100.7:6001"));
    assert_eq!(b.stats(LegId::A).rtcp_received, 1);
    assert_eq!(b.stats(LegId::B).rtcp_sent, 1);
    assert!(
        b.handle_rtcp(LegId::A, addr(PEER_A), b"\x80\xc9", t(0))
            .is_none()
    );
    assert_eq!(b.stats(LegId::A).dropped.malformed, 1);
}

#[test]
fn muxed_rtcp_on_the_rtp_port_is_recognised_and_not_relayed_as_rtp() {
    let mut b = Bridge::new(BridgeConfig::default());
    let mut a = leg_config(PEER_A, &[(0, Codec::Pcmu)]);
    a.rtcp_mux = true;
    let mut bb = leg_config(PEER_B, &[(0, Codec::Pcmu)]);
    bb.rtcp_mux = true;
    b.configure_leg(LegId::A, a, t(0));
    b.configure_leg(LegId::B, bb, t(0));
    send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).unwrap();
    let mut rr = rtcp_rr(0xA1);
    let fwd = b
        .handle_packet(LegId::A, addr(PEER_A), &mut rr, t(5))
        .unwrap();
    assert_eq!(fwd.socket, Socket::Rtp);
    assert_eq!(fwd.to_addr, addr(PEER_B));
    assert_eq!(rr, rtcp_rr(0xA1), "RTCP is not rewritten");
    assert_eq!(b.stats(LegId::A).received.packets, 1, "RTCP is not RTP");
    assert_eq!(b.stats(LegId::A).rtcp_received, 1);
}

fn transmits(b: &mut Bridge, now: Timestamp) -> Vec<Transmit> {
    std::iter::from_fn(|| b.poll_transmit(now)).collect()
}

#[test]
fn sent_digit_goes_out_on_the_legs_event_payload_type_at_its_times() {
    let mut b = bridge();
    b.send_dtmf(LegId::B, '5', Duration::from_millis(100), t(0))
        .unwrap();
    assert_eq!(b.poll_timeout(), Some(t(0)));
    let first = transmits(&mut b, t(0));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].to_addr, addr(PEER_B));
    let r = RtpReader::new(&first[0].bytes).unwrap();
    assert_eq!(r.payload_type(), 96);
    assert!(r.mark());
    assert_eq!(b.poll_timeout(), Some(t(20)));
    let mut all = first;
    for ms in (20..=100).step_by(20) {
        all.extend(transmits(&mut b, t(ms)));
    }
    assert_eq!(all.len(), 5 + 3, "updates, then three end packets");
    // The far end decodes exactly one press of 100 ms.
    let mut dec = crate::dtmf::DtmfDecoder::new();
    for tx in &all {
        let r = RtpReader::new(&tx.bytes).unwrap();
        dec.handle(r.timestamp(), r.payload()).unwrap();
    }
    let got: Vec<_> = std::iter::from_fn(|| dec.poll_event()).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].digit(), Some('5'));
    assert_eq!(got[1].phase, DtmfPhase::Ended { duration_ms: 100 });
    assert!(transmits(&mut b, t(1000)).is_empty());
}

#[test]
fn sent_digit_fits_into_the_relayed_stream_without_sequence_gaps() {
    let mut b = bridge();
    let mut seqs = Vec::new();
    let record = |bytes: &[u8]| {
        let r = RtpReader::new(bytes).unwrap();
        (u16::from(r.sequence_number()), r.ssrc(), r.payload_type())
    };
    // A talks, the bridge sends '1' to B for 40 ms in the middle, A keeps talking.
    for (i, ms) in (0..200).step_by(20).enumerate() {
        let input_seq = 100 + i as u16;
        if ms == 40 {
            b.send_dtmf(LegId::B, '1', Duration::from_millis(40), t(ms))
                .unwrap();
        }
        for tx in transmits(&mut b, t(ms)) {
            seqs.push(record(&tx.bytes));
        }
        if let Some(s) = send(&mut b, LegId::A, PEER_A, audio(input_seq, 0xA1), t(ms)) {
            seqs.push(record(&s.bytes));
        }
    }
    let numbers: Vec<u16> = seqs.iter().map(|s| s.0).collect();
    let expected: Vec<u16> = (0..numbers.len() as u16).map(|i| 100 + i).collect();
    assert_eq!(numbers, expected, "one continuous sequence: {seqs:?}");
    assert!(seqs.iter().all(|s| s.1 == 0xA1), "one SSRC towards B");
    assert!(seqs.iter().any(|s| s.2 == 96) && seqs.iter().any(|s| s.2 == 0));
    assert!(
        b.stats(LegId::A).dropped.replaced_by_dtmf > 0,
        "audio paused for the digit"
    );
}

#[test]
fn digits_queue_one_after_another() {
    let mut b = bridge();
    b.send_dtmf(LegId::A, '1', Duration::from_millis(40), t(0))
        .unwrap();
    b.send_dtmf(LegId::A, '2', Duration::from_millis(40), t(0))
        .unwrap();
    let mut digits = Vec::new();
    let mut dec = crate::dtmf::DtmfDecoder::new();
    for ms in (0..400).step_by(10) {
        for tx in transmits(&mut b, t(ms)) {
            let r = RtpReader::new(&tx.bytes).unwrap();
            dec.handle(r.timestamp(), r.payload()).unwrap();
        }
        while let Some(e) = dec.poll_event() {
            if e.phase == DtmfPhase::Started {
                digits.push((e.digit(), ms));
            }
        }
    }
    assert_eq!(
        digits,
        vec![(Some('1'), 0), (Some('2'), 100)],
        "40 ms + 60 ms pause"
    );
}

#[test]
fn sending_dtmf_to_a_leg_without_telephone_event_is_refused() {
    let mut b = Bridge::new(BridgeConfig::default());
    b.configure_leg(LegId::A, leg_config(PEER_A, &[(0, Codec::Pcmu)]), t(0));
    assert_eq!(
        b.send_dtmf(LegId::A, '1', Duration::from_millis(100), t(0)),
        Err(SendDtmfError::NotNegotiated(LegId::A))
    );
    assert!(matches!(
        bridge().send_dtmf(LegId::A, 'x', Duration::from_millis(100), t(0)),
        Err(SendDtmfError::Dtmf(_))
    ));
}

#[test]
fn reordered_packets_keep_their_order_after_a_source_change() {
    let mut b = bridge();
    send(&mut b, LegId::A, PEER_A, audio(1, 0xA1), t(0)).unwrap();
    // New source; its packet 12 arrives before 11.
    let out: Vec<u16> = [(10u16, 20), (12, 40), (11, 41)]
        .into_iter()
        .map(|(seq, ms)| {
            let sent = send(&mut b, LegId::A, PEER_A, audio(seq, 0xB2), t(ms)).unwrap();
            u16::from(RtpReader::new(&sent.bytes).unwrap().sequence_number())
        })
        .collect();
    assert_eq!(out, vec![2, 4, 3]);
}

/// (seq, ts, ssrc) of an RTP packet.
fn numbers(bytes: &[u8]) -> (u16, u32, u32) {
    let r = RtpReader::new(bytes).unwrap();
    (u16::from(r.sequence_number()), r.timestamp(), r.ssrc())
}

#[test]
fn a_mixed_leg_gets_the_mix_instead_of_the_relayed_packets_and_the_recording_goes_on() {
    let mut b = bridge_with(BridgeConfig {
        audio_tap: true,
        ..BridgeConfig::default()
    });
    // The agent (B) hears the customer (A) relayed first.
    let mut p = audio(1, 0xA);
    let first = b
        .handle_packet(LegId::A, addr(PEER_A), &mut p, t(0))
        .unwrap();
    let (seq0, ts0, ssrc0) = numbers(&p[..first.len]);
    assert!(b.poll_audio().is_some());

    // A supervisor whispers: B's stream now comes from the mixer.
    b.set_mixed_output(LegId::B, true);
    assert!(b.is_mixed(LegId::B) && !b.is_mixed(LegId::A));
    let mut p = audio(2, 0xA);
    assert!(
        b.handle_packet(LegId::A, addr(PEER_A), &mut p, t(20))
            .is_none()
    );
    assert_eq!(b.stats(LegId::A).dropped.mixed, 1);
    let tapped = b.poll_audio().unwrap();
    assert_eq!(tapped.leg, LegId::A);
    assert_eq!(
        tapped.rtp_timestamp,
        ts0.wrapping_add(160),
        "recording stays continuous"
    );

    let mix = b.mixed_packet(LegId::B, &[500; 160], t(20)).unwrap();
    assert_eq!(mix.to_addr, addr(PEER_B));
    let (seq1, ts1, ssrc1) = numbers(&mix.bytes);
    assert_eq!(ssrc1, ssrc0, "one stream for the agent's phone");
    assert_eq!(seq1, seq0.wrapping_add(1), "no gap in the sequence");
    assert!(ts1.wrapping_sub(ts0) >= 160);
    let mix2 = b.mixed_packet(LegId::B, &[500; 160], t(40)).unwrap();
    let (seq2, ts2, _) = numbers(&mix2.bytes);
    assert_eq!((seq2, ts2), (seq1.wrapping_add(1), ts1.wrapping_add(160)));
    let payload = RtpReader::new(&mix2.bytes).unwrap().payload().to_vec();
    assert!(payload.iter().all(|x| (ulaw_decode(*x) - 500).abs() < 32));
    // A is not mixed: no mixed packets for it.
    assert!(b.mixed_packet(LegId::A, &[0; 160], t(40)).is_none());

    // The supervisor leaves: relaying resumes in the same stream, after the mix.
    b.set_mixed_output(LegId::B, false);
    let mut p = audio(4, 0xA);
    let f = b
        .handle_packet(LegId::A, addr(PEER_A), &mut p, t(60))
        .unwrap();
    let (seq3, ts3, ssrc3) = numbers(&p[..f.len]);
    assert_eq!(ssrc3, ssrc0);
    assert_eq!(seq3, seq2.wrapping_add(1));
    assert!(ts3.wrapping_sub(ts2) >= 160 && ts3.wrapping_sub(ts2) < 8000);
}

#[test]
fn a_held_mixed_leg_gets_no_mix() {
    let mut b = bridge();
    b.set_mixed_output(LegId::A, true);
    b.set_remote_direction(LegId::A, Direction::SendOnly, t(0));
    assert!(b.mixed_packet(LegId::A, &[1; 160], t(20)).is_none());
}
