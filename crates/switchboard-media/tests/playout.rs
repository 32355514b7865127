//! Music on hold and prompts through the relay driver with real UDP sockets on 127.0.0.1: a
//! caller's phone on leg A hears what the relay plays while no agent is connected, then the
//! agent's phone on leg B takes over in the same stream. Each test owns ten ports in
//! 41100-41199 so tests can run in parallel.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};
use switchboard_core::{Clock, SystemClock};
use switchboard_media::bridge::{BridgeConfig, LegConfig, LegId, MediaEvent, MediaTimeoutCause};
use switchboard_media::g711::Law;
use switchboard_media::playout::PlayoutSource;
use switchboard_media::ports::PortAllocator;
use switchboard_media::relay::{MediaCall, NoSink, RelayConfig, RelayEvent};
use switchboard_media::sdp::{Codec, Direction};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(3);
const PCMU: &[(u8, Codec)] = &[(0, Codec::Pcmu), (101, Codec::TelephoneEvent)];
const PCMA: &[(u8, Codec)] = &[(8, Codec::Pcma), (101, Codec::TelephoneEvent)];

fn start(base: u16, bridge: BridgeConfig) -> (MediaCall<NoSink>, mpsc::Receiver<RelayEvent>) {
    let ports = Arc::new(Mutex::new(PortAllocator::new(base..=base + 9).unwrap()));
    let (tx, rx) = mpsc::channel(64);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = RelayConfig {
        bind_ip: LOCALHOST,
        bridge,
    };
    let call = MediaCall::start("call-1".into(), ports, config, clock, None, tx).unwrap();
    (call, rx)
}

/// One received RTP packet.
#[derive(Debug, Clone)]
struct Got {
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

struct Phone {
    socket: UdpSocket,
    relay: SocketAddr,
}

impl Phone {
    async fn new(call: &MediaCall<NoSink>, leg: LegId) -> Phone {
        Phone {
            socket: UdpSocket::bind((LOCALHOST, 0)).await.unwrap(),
            relay: SocketAddr::new(LOCALHOST, call.local_rtp_port(leg)),
        }
    }

    fn leg_config(&self, payloads: &[(u8, Codec)]) -> LegConfig {
        LegConfig {
            remote_rtp: Some(self.socket.local_addr().unwrap()),
            remote_rtcp: None,
            payloads: payloads.to_vec(),
            remote_direction: Direction::SendRecv,
            rtcp_mux: false,
        }
    }

    async fn send(&self, ssrc: u32, seq: u16, payload: &[u8]) {
        let packet = RtpPacketBuilder::new()
            .payload_type(0)
            .sequence(Seq::from(seq))
            .timestamp(u32::from(seq) * 160)
            .ssrc(ssrc)
            .payload(payload)
            .build()
            .unwrap();
        self.socket.send_to(&packet, self.relay).await.unwrap();
    }

    async fn try_recv(&self, wait: Duration) -> Option<Got> {
        let mut buf = [0u8; 2048];
        let (n, _) = timeout(wait, self.socket.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        let rtp = RtpReader::new(&buf[..n]).unwrap();
        Some(Got {
            pt: rtp.payload_type(),
            seq: u16::from(rtp.sequence_number()),
            ts: rtp.timestamp(),
            ssrc: rtp.ssrc(),
            payload: rtp.payload().to_vec(),
        })
    }

    async fn recv(&self) -> Got {
        self.try_recv(WAIT).await.expect("a packet within the wait")
    }
}

async fn wait_for<T>(
    rx: &mut mpsc::Receiver<RelayEvent>,
    mut pick: impl FnMut(&MediaEvent) -> Option<T>,
) -> T {
    timeout(WAIT, async {
        loop {
            let e = rx.recv().await.expect("event channel open");
            if let Some(t) = pick(&e.event) {
                return t;
            }
        }
    })
    .await
    .expect("the event within the wait")
}

fn zero_crossings(samples: &[i16]) -> usize {
    samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count()
}

#[tokio::test]
async fn waiting_caller_hears_the_music_then_the_agent_in_the_same_stream() {
    let (call, _rx) = start(41100, BridgeConfig::default());
    let a = Phone::new(&call, LegId::A).await;
    call.configure_leg(LegId::A, a.leg_config(PCMU));
    // 400 Hz: 1000 ms holds 400 whole periods, so the loop is seamless.
    let music = Arc::new(PlayoutSource::tone(400.0, 1000, 0, 8000));
    let started = std::time::Instant::now();
    call.play(LegId::A, Arc::clone(&music), true);
    // The caller talks into the void meanwhile: dropped and counted, nothing breaks.
    for seq in 1..=3 {
        a.send(0xA1, seq, &[0xFF; 160]).await;
    }

    let mut heard = Vec::new();
    for _ in 0..15 {
        heard.push(a.recv().await);
    }
    // 14 intervals of 20 ms, less the clock's resolution: the playout's schedule is in whole
    // milliseconds of the call's clock, so its start may read up to 1 ms before `started`
    // (a clean-clone rehearsal failed the exact bound). A burst would take a millisecond or two.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(14 * 20 - 2),
        "frames come on a 20 ms schedule, not in a burst: 15 frames in {elapsed:?}"
    );
    let ssrc = heard[0].ssrc;
    let mut steps_of_one_frame = 0;
    for w in heard.windows(2) {
        assert_eq!(
            w[1].seq,
            w[0].seq.wrapping_add(1),
            "consecutive sequence numbers"
        );
        assert_eq!(w[1].ssrc, ssrc, "one SSRC");
        let step = w[1].ts.wrapping_sub(w[0].ts);
        // A driver starved for over 60 ms skips frames, and the timestamp says so.
        assert!(step >= 160 && step % 160 == 0, "timestamp step {step}");
        steps_of_one_frame += usize::from(step == 160);
    }
    assert!(
        steps_of_one_frame >= 12,
        "mostly 20 ms steps: {steps_of_one_frame}/14"
    );
    let mut pcm = Vec::new();
    for g in &heard {
        assert_eq!((g.pt, g.payload.len()), (0, 160), "20 ms of PCMU");
        pcm.extend(Law::Ulaw.decode(&g.payload));
    }
    // 400 Hz over 300 ms: 240 sign changes; a tone of 8000 peak has an RMS of about 5657.
    let crossings = zero_crossings(&pcm);
    assert!((230..=250).contains(&crossings), "{crossings} sign changes");
    let rms = (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt();
    assert!((5300.0..6000.0).contains(&rms), "RMS {rms}");

    // The agent answers; its phone talks.
    let b = Phone::new(&call, LegId::B).await;
    call.configure_leg(LegId::B, b.leg_config(PCMU));
    for seq in 500..505 {
        b.send(0xB2, seq, &[0x42; 160]).await;
    }
    let mut last_music = heard.last().cloned().unwrap();
    let first_agent = loop {
        let g = a.recv().await;
        if g.payload == [0x42; 160] {
            break g;
        }
        assert_eq!(
            g.seq,
            last_music.seq.wrapping_add(1),
            "music still continuous"
        );
        last_music = g;
    };
    assert_eq!(
        first_agent.ssrc, ssrc,
        "the agent's voice keeps the caller's SSRC"
    );
    assert_eq!(
        first_agent.seq,
        last_music.seq.wrapping_add(1),
        "no sequence gap"
    );
    assert!(
        first_agent.ts.wrapping_sub(last_music.ts) >= 160,
        "the timestamp moves on past the last music frame"
    );
    let mut prev = first_agent;
    for _ in 0..4 {
        let g = a.recv().await;
        assert_eq!(
            g.payload, [0x42; 160],
            "no music mixed in after the takeover"
        );
        assert_eq!((g.seq, g.ssrc), (prev.seq.wrapping_add(1), ssrc));
        assert_eq!(g.ts, prev.ts.wrapping_add(160));
        prev = g;
    }
    assert!(
        a.try_recv(Duration::from_millis(100)).await.is_none(),
        "the music stopped"
    );

    let report = call.stop().await;
    assert!(!report.panicked);
    assert_eq!(
        report.stats[0].dropped.no_destination, 3,
        "the caller's packets"
    );
    assert!(report.stats[0].sent_packets >= 20);
    assert_eq!(report.send_failures, 0);
}

#[tokio::test]
async fn a_prompt_plays_once_in_the_legs_codec_and_reports_its_end() {
    let (call, mut rx) = start(41110, BridgeConfig::default());
    let a = Phone::new(&call, LegId::A).await;
    call.configure_leg(LegId::A, a.leg_config(PCMA));
    let prompt = Arc::new(PlayoutSource::tone(1000.0, 60, 0, 4000));
    assert_eq!(prompt.frames(), 3);
    call.play(LegId::A, prompt, false);
    let mut pcm = Vec::new();
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let g = a.recv().await;
        seqs.push(g.seq);
        assert_eq!(g.pt, 8, "PCMA, the only G.711 leg A negotiated");
        pcm.extend(Law::Alaw.decode(&g.payload));
    }
    assert_eq!(
        seqs,
        [seqs[0], seqs[0] + 1, seqs[0] + 2],
        "all three frames, in order"
    );
    assert!(zero_crossings(&pcm) >= 110, "1 kHz for 60 ms");
    let leg = wait_for(&mut rx, |e| match e {
        MediaEvent::PlayoutFinished { leg } => Some(*leg),
        _ => None,
    })
    .await;
    assert_eq!(leg, LegId::A);
    assert!(
        a.try_recv(Duration::from_millis(100)).await.is_none(),
        "nothing after the prompt"
    );
    let report = call.stop().await;
    assert_eq!(
        report.send_failures, 0,
        "the first frame, sent at once, too"
    );
}

#[tokio::test]
async fn a_call_with_only_leg_a_still_times_out_while_music_plays() {
    let bridge = BridgeConfig {
        media_timeout: Duration::from_millis(300),
        ..BridgeConfig::default()
    };
    let (call, mut rx) = start(41120, bridge);
    let a = Phone::new(&call, LegId::A).await;
    call.configure_leg(LegId::A, a.leg_config(PCMU));
    call.play(LegId::A, Arc::new(PlayoutSource::silence()), true);
    // Leg B is not configured: asking to play there is refused without harm.
    call.play(LegId::B, Arc::new(PlayoutSource::silence()), true);
    let g = a.recv().await;
    assert_eq!(g.payload, Law::Ulaw.encode(&[0; 160]), "silence frames");
    let (leg, cause) = wait_for(&mut rx, |e| match e {
        MediaEvent::MediaTimeout { leg, cause } => Some((*leg, *cause)),
        _ => None,
    })
    .await;
    assert_eq!(
        (leg, cause),
        (LegId::A, MediaTimeoutCause::NoMediaReceived),
        "our own music does not count as the caller's media"
    );
    let report = call.stop().await;
    assert!(!report.panicked);
    assert_eq!(report.stats[1].sent_packets, 0);
}
