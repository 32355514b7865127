#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::time::Duration;

use rtp_rs::RtpReader;

use super::*;
use crate::bridge::{BridgeConfig, LegConfig};
use crate::sdp::{Codec, Direction};

const PEER_A: &str = "192.0.2.1:4000";
const PEER_B: &str = "198.51.100.7:6000";
const PCMU: &[(u8, Codec)] = &[(0, Codec::Pcmu), (101, Codec::TelephoneEvent)];

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + ms)
}

fn leg_config(remote: &str, payloads: &[(u8, Codec)]) -> LegConfig {
    LegConfig {
        remote_rtp: Some(addr(remote)),
        remote_rtcp: None,
        payloads: payloads.to_vec(),
        remote_direction: Direction::SendRecv,
        rtcp_mux: false,
    }
}

/// Only leg A configured: a caller waiting in the queue.
fn waiting_caller(payloads: &[(u8, Codec)]) -> Bridge {
    let mut b = Bridge::new(BridgeConfig::default());
    b.configure_leg(LegId::A, leg_config(PEER_A, payloads), t(0));
    b
}

/// A source whose every frame `k` is filled with the value `(k + 1) · 100`, so frames are told apart.
fn numbered(frames: usize) -> Arc<PlayoutSource> {
    Arc::new(PlayoutSource::from_samples(
        (0..frames * FRAME_SAMPLES)
            .map(|i| (i / FRAME_SAMPLES) as i16 * 100 + 100)
            .collect(),
    ))
}

/// Everything due at `now`, as (pt, marker, seq, ts, ssrc, decoded samples).
#[allow(clippy::type_complexity)]
fn sent(b: &mut Bridge, now: Timestamp) -> Vec<(u8, bool, u16, u32, u32, Vec<i16>)> {
    std::iter::from_fn(|| b.poll_transmit(now))
        .map(|tx| {
            assert_eq!(tx.to_leg, LegId::A);
            assert_eq!(tx.to_addr, addr(PEER_A));
            let r = RtpReader::new(&tx.bytes).unwrap();
            let law = if r.payload_type() == 8 {
                Law::Alaw
            } else {
                Law::Ulaw
            };
            (
                r.payload_type(),
                r.mark(),
                u16::from(r.sequence_number()),
                r.timestamp(),
                r.ssrc(),
                law.decode(r.payload()),
            )
        })
        .collect()
}

fn events(b: &mut Bridge) -> Vec<MediaEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

#[test]
fn music_reaches_a_waiting_caller_every_20_ms_in_one_continuous_stream() {
    let mut b = waiting_caller(PCMU);
    b.start_playout(LegId::A, numbered(50), true, t(0)).unwrap();
    assert!(b.is_playing(LegId::A));
    assert_eq!(b.poll_timeout(), Some(t(0)));
    let mut all = Vec::new();
    for k in 0..10 {
        let got = sent(&mut b, t(20 * k));
        assert_eq!(got.len(), 1, "one frame at {} ms", 20 * k);
        assert_eq!(b.poll_timeout(), Some(t(20 * k + 20)));
        all.extend(got);
    }
    let (_, _, seq0, ts0, ssrc0, _) = all[0].clone();
    for (k, (pt, marker, seq, ts, ssrc, samples)) in all.into_iter().enumerate() {
        assert_eq!(pt, 0, "PCMU, as negotiated");
        assert_eq!(marker, k == 0, "marker on the first frame only");
        assert_eq!(seq, seq0.wrapping_add(k as u16));
        assert_eq!(ts, ts0.wrapping_add(160 * k as u32));
        assert_eq!(ssrc, ssrc0);
        let want = Law::Ulaw.decode(&Law::Ulaw.encode(&[(k as i16 + 1) * 100]))[0];
        assert!(
            samples.iter().all(|&s| s == want),
            "frame {k} carries its audio"
        );
    }
    assert_eq!(b.stats(LegId::A).sent_packets, 10);
}

#[test]
fn frames_use_the_legs_first_g711_codec_and_need_a_configured_leg() {
    let mut b = waiting_caller(&[(8, Codec::Pcma), (0, Codec::Pcmu)]);
    b.start_playout(LegId::A, numbered(1), false, t(0)).unwrap();
    let got = sent(&mut b, t(0));
    assert_eq!(got[0].0, 8, "PCMA first in the answer");
    let want = Law::Alaw.decode(&Law::Alaw.encode(&[100]))[0];
    assert!(got[0].5.iter().all(|&s| s == want), "A-law encoded");

    let mut b = waiting_caller(&[(101, Codec::TelephoneEvent)]);
    assert_eq!(
        b.start_playout(LegId::A, numbered(1), true, t(0)),
        Err(StartPlayoutError::NoG711(LegId::A))
    );
    assert_eq!(
        b.start_playout(LegId::B, numbered(1), true, t(0)),
        Err(StartPlayoutError::NotConfigured(LegId::B))
    );
    assert!(!b.is_playing(LegId::A) && !b.is_playing(LegId::B));
    assert_eq!(b.poll_timeout(), Some(t(30_000)), "only the media timeout");
}

#[test]
fn a_prompt_played_once_ends_with_playout_finished() {
    let mut b = waiting_caller(PCMU);
    b.start_playout(LegId::A, numbered(3), false, t(0)).unwrap();
    assert_eq!(sent(&mut b, t(0)).len(), 1);
    assert_eq!(sent(&mut b, t(20)).len(), 1);
    assert!(events(&mut b).is_empty(), "not yet");
    assert_eq!(
        sent(&mut b, t(40)).len(),
        1,
        "the last frame still goes out"
    );
    assert_eq!(
        events(&mut b),
        vec![MediaEvent::PlayoutFinished { leg: LegId::A }]
    );
    assert!(!b.is_playing(LegId::A));
    assert!(sent(&mut b, t(60)).is_empty());
    assert!(events(&mut b).is_empty(), "reported once");
}

#[test]
fn stopping_ends_the_music_without_an_event() {
    let mut b = waiting_caller(PCMU);
    b.start_playout(LegId::A, numbered(3), false, t(0)).unwrap();
    assert_eq!(sent(&mut b, t(0)).len(), 1);
    assert!(b.stop_playout(LegId::A));
    assert!(!b.stop_playout(LegId::A), "nothing left to stop");
    assert!(sent(&mut b, t(100)).is_empty());
    assert!(events(&mut b).is_empty());
}

#[test]
fn the_callers_packets_are_dropped_and_counted_while_nobody_is_connected() {
    let mut b = waiting_caller(PCMU);
    b.start_playout(LegId::A, numbered(5), true, t(0)).unwrap();
    let mut pkt = rtp_rs::RtpPacketBuilder::new()
        .payload_type(0)
        .sequence(rtp_rs::Seq::from(1))
        .ssrc(0xA1)
        .payload(&[0xFF; 160])
        .build()
        .unwrap();
    assert_eq!(
        b.handle_packet(LegId::A, addr(PEER_A), &mut pkt, t(5)),
        None
    );
    assert_eq!(b.stats(LegId::A).dropped.no_destination, 1);
    assert!(
        b.is_playing(LegId::A),
        "the caller talking does not stop the music"
    );
    // The media timeout still runs from the caller's last packet.
    b.handle_timeout(t(30_005));
    assert!(
        events(&mut b)
            .iter()
            .any(|e| matches!(e, MediaEvent::MediaTimeout { leg: LegId::A, .. }))
    );
}

#[test]
fn the_agents_media_takes_over_with_the_same_ssrc_and_next_sequence_number() {
    let mut b = waiting_caller(PCMU);
    b.start_playout(LegId::A, numbered(50), true, t(0)).unwrap();
    let mut music = Vec::new();
    for k in 0..5 {
        music.extend(sent(&mut b, t(20 * k)));
    }
    let (_, _, last_seq, last_ts, ssrc, _) = music[4].clone();
    // The agent answers at 90 ms; its phone talks at 95 ms with numbers of its own.
    b.configure_leg(LegId::B, leg_config(PEER_B, PCMU), t(90));
    assert!(
        b.is_playing(LegId::A),
        "configuring B alone does not stop the music"
    );
    let agent = |seq: u16| {
        rtp_rs::RtpPacketBuilder::new()
            .payload_type(0)
            .sequence(rtp_rs::Seq::from(seq))
            .timestamp(777_000 + u32::from(seq) * 160)
            .ssrc(0xB0B)
            .payload(&[0x42; 160])
            .build()
            .unwrap()
    };
    let mut pkt = agent(9000);
    let fwd = b
        .handle_packet(LegId::B, addr(PEER_B), &mut pkt, t(95))
        .unwrap();
    assert_eq!(fwd.to_addr, addr(PEER_A));
    let r = RtpReader::new(&pkt[..fwd.len]).unwrap();
    assert_eq!(r.ssrc(), ssrc, "one outgoing SSRC towards the caller");
    assert_eq!(u16::from(r.sequence_number()), last_seq.wrapping_add(1));
    let ts = r.timestamp();
    assert!(
        ts.wrapping_sub(last_ts) >= 160 && ts.wrapping_sub(last_ts) < 400,
        "timestamp continues after the last music frame: {last_ts} → {ts}"
    );
    assert!(!b.is_playing(LegId::A), "the music stopped at once");
    assert!(sent(&mut b, t(200)).is_empty());
    assert!(
        events(&mut b)
            .iter()
            .all(|e| !matches!(e, MediaEvent::PlayoutFinished { .. }))
    );
    let mut pkt = agent(9001);
    b.handle_packet(LegId::B, addr(PEER_B), &mut pkt, t(115))
        .unwrap();
    let r = RtpReader::new(&pkt).unwrap();
    assert_eq!(u16::from(r.sequence_number()), last_seq.wrapping_add(2));
    assert_eq!(r.timestamp(), ts.wrapping_add(160));
}

#[test]
fn music_keeps_its_time_while_the_caller_is_held_or_our_digit_plays() {
    let mut b = waiting_caller(PCMU);
    b.start_playout(LegId::A, numbered(50), true, t(0)).unwrap();
    let first = sent(&mut b, t(0));
    b.set_remote_direction(LegId::A, Direction::SendOnly, t(10));
    assert!(
        sent(&mut b, t(20)).is_empty(),
        "a peer that does not receive"
    );
    assert!(sent(&mut b, t(40)).is_empty());
    b.set_remote_direction(LegId::A, Direction::SendRecv, t(50));
    let after = sent(&mut b, t(60));
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].2, first[0].2.wrapping_add(1), "no sequence gap");
    assert_eq!(
        after[0].3,
        first[0].3.wrapping_add(3 * 160),
        "the timestamp tells the 40 ms not sent"
    );
    let frame3 = Law::Ulaw.decode(&Law::Ulaw.encode(&[400]))[0];
    assert_eq!(after[0].5[0], frame3, "frame 3 of the music, not frame 1");

    // Our own digit to A replaces the music while it plays.
    b.send_dtmf(LegId::A, '1', Duration::from_millis(40), t(80))
        .unwrap();
    let during = sent(&mut b, t(80));
    assert_eq!(during.len(), 1);
    assert_eq!(during[0].0, 101, "only the event packet");
    let resumed = sent(&mut b, t(200));
    assert!(
        resumed.iter().any(|p| p.0 == 0),
        "music back after the digit"
    );
}

#[test]
fn a_new_playout_replaces_the_old_one_and_continues_the_numbering() {
    let mut b = waiting_caller(PCMU);
    b.start_playout(LegId::A, numbered(3), false, t(0)).unwrap();
    let prompt = sent(&mut b, t(0));
    b.start_playout(LegId::A, numbered(50), true, t(20))
        .unwrap();
    let music = sent(&mut b, t(20));
    assert_eq!(music.len(), 1);
    assert_eq!(music[0].2, prompt[0].2.wrapping_add(1));
    assert!(music[0].3.wrapping_sub(prompt[0].3) >= 160);
    assert_eq!(music[0].4, prompt[0].4, "same SSRC");
    assert!(
        events(&mut b).is_empty(),
        "a replaced prompt did not finish"
    );
}

#[derive(Debug, Clone)]
enum Op {
    /// Time passes by this many ms.
    Tick(i64),
    /// The agent's phone sends one 20 ms packet.
    AgentTalks,
    /// Call control starts a playout of this many frames.
    Play { frames: usize, looped: bool },
    /// Call control stops it.
    Stop,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (0i64..80).prop_map(Op::Tick),
        2 => Just(Op::AgentTalks),
        1 => (1usize..5, proptest::bool::ANY).prop_map(|(frames, looped)| Op::Play { frames, looped }),
        1 => Just(Op::Stop),
    ]
}

proptest::proptest! {
    /// Music, prompts and the agent's relayed voice, in any order: the caller's phone sees one
    /// stream, with one SSRC, no sequence gap and timestamps that never overlap.
    #[test]
    fn the_caller_sees_one_continuous_stream_whatever_plays(
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut b = waiting_caller(PCMU);
        b.configure_leg(LegId::B, leg_config(PEER_B, PCMU), t(0));
        let (mut now, mut agent_seq) = (0i64, 100u16);
        let mut stream: Vec<(u16, u32, u32)> = Vec::new();
        for op in ops {
            match op {
                Op::Tick(ms) => now += ms,
                Op::AgentTalks => {
                    agent_seq = agent_seq.wrapping_add(1);
                    let mut pkt = rtp_rs::RtpPacketBuilder::new()
                        .payload_type(0)
                        .sequence(rtp_rs::Seq::from(agent_seq))
                        .timestamp(u32::from(agent_seq).wrapping_mul(160))
                        .ssrc(0xB0B)
                        .payload(&[0x42; 160])
                        .build()
                        .unwrap();
                    let fwd = b.handle_packet(LegId::B, addr(PEER_B), &mut pkt, t(now)).unwrap();
                    let r = RtpReader::new(&pkt[..fwd.len]).unwrap();
                    stream.push((u16::from(r.sequence_number()), r.timestamp(), r.ssrc()));
                    proptest::prop_assert!(!b.is_playing(LegId::A), "the agent takes over");
                }
                Op::Play { frames, looped } => {
                    b.start_playout(LegId::A, numbered(frames), looped, t(now)).unwrap();
                }
                Op::Stop => {
                    b.stop_playout(LegId::A);
                }
            }
            for (_, _, seq, ts, ssrc, _) in sent(&mut b, t(now)) {
                stream.push((seq, ts, ssrc));
            }
        }
        for w in stream.windows(2) {
            proptest::prop_assert_eq!(w[1].0, w[0].0.wrapping_add(1), "no sequence gap: {:?}", w);
            proptest::prop_assert_eq!(w[1].2, w[0].2, "one SSRC");
            let step = w[1].1.wrapping_sub(w[0].1) as i32;
            // Each packet holds 20 ms: the next one starts at least 160 samples later, else the
            // phone would play them over each other.
            proptest::prop_assert!(step >= 160, "timestamps do not overlap: {:?}", w);
        }
    }
}
