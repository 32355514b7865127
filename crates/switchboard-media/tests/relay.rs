//! The relay driver with real UDP sockets on 127.0.0.1: two fake phones talk through a
//! `MediaCall`. Each test owns its own ten ports in 41000-41119 so tests can run in parallel.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};
use switchboard_core::{CallId, Clock, SystemClock, Timestamp};
use switchboard_media::bridge::{AudioFrame, BridgeConfig, LegConfig, LegId, MediaEvent};
use switchboard_media::dtmf::{DtmfPhase, TelephoneEvent};
use switchboard_media::g711::{Law, ulaw_encode};
use switchboard_media::ports::PortAllocator;
use switchboard_media::relay::{AudioSink, MediaCall, NoSink, RelayConfig, RelayError, RelayEvent};
use switchboard_media::sdp::{Codec, Direction};
use switchboard_recording::{Recorder, RecorderConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(3);
const PCMU: &[(u8, Codec)] = &[(0, Codec::Pcmu), (101, Codec::TelephoneEvent)];
const PCMA: &[(u8, Codec)] = &[(8, Codec::Pcma), (101, Codec::TelephoneEvent)];

/// Ten ports from `base`: five RTP/RTCP pairs, enough for two calls.
fn allocator(base: u16) -> Arc<Mutex<PortAllocator>> {
    Arc::new(Mutex::new(PortAllocator::new(base..=base + 9).unwrap()))
}

fn in_use(ports: &Arc<Mutex<PortAllocator>>) -> usize {
    ports.lock().unwrap().in_use()
}

/// Waits until every port is back: after a plain drop the runtime closes the aborted task's
/// sockets, then releases their ports, at its next turn.
async fn released(ports: &Arc<Mutex<PortAllocator>>) {
    timeout(WAIT, async {
        while in_use(ports) > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("ports released after the drop");
}

fn config(bridge: BridgeConfig) -> RelayConfig {
    RelayConfig {
        bind_ip: LOCALHOST,
        bridge,
    }
}

fn start<S: AudioSink>(
    ports: &Arc<Mutex<PortAllocator>>,
    bridge: BridgeConfig,
    sink: Option<S>,
) -> (MediaCall<S>, mpsc::Receiver<RelayEvent>) {
    let (tx, rx) = mpsc::channel(64);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let call = MediaCall::start(
        "call-1".into(),
        Arc::clone(ports),
        config(bridge),
        clock,
        sink,
        tx,
    )
    .unwrap();
    (call, rx)
}

/// A phone: one socket, sending RTP towards its leg of the relay.
struct Phone {
    socket: UdpSocket,
    relay: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl Phone {
    async fn new(call: &MediaCall<impl AudioSink>, leg: LegId, ssrc: u32) -> Phone {
        Phone {
            socket: UdpSocket::bind((LOCALHOST, 0)).await.unwrap(),
            relay: SocketAddr::new(LOCALHOST, call.local_rtp_port(leg)),
            ssrc,
            seq: 1000,
            ts: 50_000,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn leg_config(&self, payloads: &[(u8, Codec)]) -> LegConfig {
        LegConfig {
            remote_rtp: Some(self.addr()),
            remote_rtcp: None,
            payloads: payloads.to_vec(),
            remote_direction: Direction::SendRecv,
            rtcp_mux: false,
        }
    }

    async fn send_raw(&self, pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) {
        let packet = RtpPacketBuilder::new()
            .payload_type(pt)
            .marked(marker)
            .sequence(Seq::from(seq))
            .timestamp(ts)
            .ssrc(self.ssrc)
            .payload(payload)
            .build()
            .unwrap();
        self.socket.send_to(&packet, self.relay).await.unwrap();
    }

    /// Sends one 20 ms audio packet and advances seq/timestamp.
    async fn send_audio(&mut self, pt: u8, payload: &[u8]) {
        self.send_raw(pt, false, self.seq, self.ts, payload).await;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
    }

    /// The next datagram, as (payload type, seq, timestamp, ssrc, payload).
    async fn recv(&self) -> (u8, u16, u32, u32, Vec<u8>) {
        let mut buf = [0u8; 2048];
        let (n, _) = timeout(WAIT, self.socket.recv_from(&mut buf))
            .await
            .expect("a packet within the wait")
            .unwrap();
        let rtp = RtpReader::new(&buf[..n]).unwrap();
        (
            rtp.payload_type(),
            u16::from(rtp.sequence_number()),
            rtp.timestamp(),
            rtp.ssrc(),
            rtp.payload().to_vec(),
        )
    }
}

/// Starts a call with both legs configured to the two phones.
async fn bridged<S: AudioSink>(
    ports: &Arc<Mutex<PortAllocator>>,
    bridge: BridgeConfig,
    sink: Option<S>,
    payloads: [&[(u8, Codec)]; 2],
) -> (MediaCall<S>, mpsc::Receiver<RelayEvent>, Phone, Phone) {
    let (call, rx) = start(ports, bridge, sink);
    let a = Phone::new(&call, LegId::A, 0xAAAA_0001).await;
    let b = Phone::new(&call, LegId::B, 0xBBBB_0002).await;
    call.configure_leg(LegId::A, a.leg_config(payloads[0]));
    call.configure_leg(LegId::B, b.leg_config(payloads[1]));
    (call, rx, a, b)
}

/// Waits for the first event that `pick` accepts, skipping others (latching and the like).
async fn wait_for<T>(
    rx: &mut mpsc::Receiver<RelayEvent>,
    mut pick: impl FnMut(&MediaEvent) -> Option<T>,
) -> T {
    timeout(WAIT, async {
        loop {
            let e = rx.recv().await.expect("event channel open");
            assert_eq!(e.call, "call-1");
            if let Some(t) = pick(&e.event) {
                return t;
            }
        }
    })
    .await
    .expect("the event within the wait")
}

#[tokio::test]
async fn pcmu_flows_both_ways_with_payload_intact_and_a_continuous_stream() {
    let ports = allocator(41000);
    let (call, _rx, mut a, mut b) =
        bridged::<NoSink>(&ports, BridgeConfig::default(), None, [PCMU, PCMU]).await;

    let mut seen_by_b = Vec::new();
    for i in 0..5u8 {
        a.send_audio(0, &[i; 160]).await;
        seen_by_b.push(b.recv().await);
    }
    for i in 0..5u8 {
        b.send_audio(0, &[0x40 + i; 160]).await;
        let (pt, _, _, ssrc, payload) = a.recv().await;
        assert_eq!((pt, ssrc), (0, 0xBBBB_0002), "B's stream reaches A as sent");
        assert_eq!(payload, vec![0x40 + i; 160]);
    }
    let (_, seq0, ts0, ssrc0, _) = seen_by_b[0];
    for (i, (pt, seq, ts, ssrc, payload)) in seen_by_b.iter().enumerate() {
        assert_eq!(*pt, 0);
        assert_eq!(payload, &vec![i as u8; 160], "payload intact");
        assert_eq!(*ssrc, ssrc0, "one outgoing SSRC");
        assert_eq!(
            *seq,
            seq0.wrapping_add(i as u16),
            "consecutive sequence numbers"
        );
        assert_eq!(
            *ts,
            ts0.wrapping_add(160 * i as u32),
            "timestamps step by 20 ms"
        );
    }

    let report = call.stop().await;
    assert!(!report.panicked);
    assert_eq!(
        report.stats[1].sent_packets, 5,
        "five packets sent towards B"
    );
    assert_eq!(
        report.stats[0].sent_packets, 5,
        "five packets sent towards A"
    );
    assert_eq!(report.stats[0].received.packets, 5);
    assert_eq!(in_use(&ports), 0);
}

/// The relay reads a socket several datagrams per system call and decides from a short read
/// that the socket is empty: a burst larger than one read, queued before the relay task runs,
/// must come through whole and in order, with nothing left stranded in the socket. One
/// direction at a time: a socket that also sends gets readiness events from its own sends,
/// which would hide a stranded datagram.
#[tokio::test]
async fn a_burst_queued_on_one_leg_is_relayed_whole_and_in_order() {
    let ports = allocator(41100);
    let (call, _rx, mut a, mut b) =
        bridged::<NoSink>(&ports, BridgeConfig::default(), None, [PCMU, PCMU]).await;
    // Latch both legs first, so the burst is not judged against a source still unknown.
    a.send_audio(0, &[0; 160]).await;
    b.recv().await;
    b.send_audio(0, &[0; 160]).await;
    a.recv().await;

    const BURST: u8 = 23; // not a multiple of any likely batch size
    for i in 1..=BURST {
        a.send_audio(0, &[i; 160]).await;
    }
    for i in 1..=BURST {
        assert_eq!(
            b.recv().await.4,
            vec![i; 160],
            "A's packet {i} reaches B in order"
        );
    }
    for i in 1..=BURST {
        b.send_audio(0, &[0x80 | i; 160]).await;
    }
    for i in 1..=BURST {
        assert_eq!(
            a.recv().await.4,
            vec![0x80 | i; 160],
            "B's packet {i} reaches A in order"
        );
    }

    let report = call.stop().await;
    assert_eq!(report.stats[1].sent_packets, u64::from(BURST) + 1);
    assert_eq!(report.stats[0].sent_packets, u64::from(BURST) + 1);
}

#[tokio::test]
async fn pcmu_from_a_reaches_a_pcma_only_b_transcoded_and_back() {
    let ports = allocator(41010);
    let (call, _rx, mut a, mut b) =
        bridged::<NoSink>(&ports, BridgeConfig::default(), None, [PCMU, PCMA]).await;
    let pcm: Vec<i16> = (0..160).map(|i| ((i * 97) % 4000 - 2000) as i16).collect();
    let ulaw = Law::Ulaw.encode(&pcm);
    let alaw = Law::Alaw.encode(&pcm);

    a.send_audio(0, &ulaw).await;
    let (pt, _, _, _, payload) = b.recv().await;
    assert_eq!(pt, 8, "B negotiated PCMA only");
    let mut expected = ulaw.clone();
    Law::Ulaw.transcode_in_place(Law::Alaw, &mut expected);
    assert_eq!(payload, expected);
    assert_ne!(payload, ulaw, "the payload was converted");

    b.send_audio(8, &alaw).await;
    let (pt, _, _, _, payload) = a.recv().await;
    assert_eq!(pt, 0);
    let mut expected = alaw.clone();
    Law::Alaw.transcode_in_place(Law::Ulaw, &mut expected);
    assert_eq!(payload, expected);
    call.stop().await;
}

#[tokio::test]
async fn key_press_from_a_is_reported_and_relayed_to_b() {
    let ports = allocator(41020);
    let (call, mut rx, a, b) =
        bridged::<NoSink>(&ports, BridgeConfig::default(), None, [PCMU, PCMU]).await;
    // Digit 5: start with the marker, one update, three end packets (RFC 4733 §2.5.1.4).
    let ts = 8000;
    let packets = [
        (true, false, 160u16),
        (false, false, 320),
        (false, true, 480),
    ];
    let all = packets.into_iter().chain([(false, true, 480); 2]);
    for (seq, (marker, end, duration)) in (1..).zip(all) {
        let event = TelephoneEvent {
            event: 5,
            end,
            volume: 10,
            duration,
        };
        a.send_raw(101, marker, seq, ts, &event.to_bytes()).await;
    }

    let started = wait_for(&mut rx, |e| match e {
        MediaEvent::Dtmf { leg, event } if event.phase == DtmfPhase::Started => {
            Some((*leg, event.digit()))
        }
        _ => None,
    })
    .await;
    assert_eq!(started, (LegId::A, Some('5')));
    let ended = wait_for(&mut rx, |e| match e {
        MediaEvent::Dtmf { event, .. } => match event.phase {
            DtmfPhase::Ended { duration_ms } => Some(duration_ms),
            DtmfPhase::Started => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(ended, 60, "480 timestamp units at 8 kHz");

    let (pt, _, _, _, payload) = b.recv().await;
    assert_eq!(pt, 101);
    assert_eq!(TelephoneEvent::parse(&payload).unwrap().event, 5);
    call.stop().await;
}

#[tokio::test]
async fn digit_sent_by_the_relay_reaches_b_as_telephone_events() {
    let ports = allocator(41030);
    let (call, _rx, _a, b) =
        bridged::<NoSink>(&ports, BridgeConfig::default(), None, [PCMU, PCMU]).await;
    call.send_dtmf(LegId::B, '#', Duration::from_millis(100));
    let mut events = Vec::new();
    loop {
        let (pt, _, _, _, payload) = b.recv().await;
        assert_eq!(pt, 101);
        let event = TelephoneEvent::parse(&payload).unwrap();
        events.push(event);
        if event.end {
            break;
        }
    }
    assert_eq!(events[0].event, 11, "'#' is event 11");
    assert!(events.len() >= 5, "updates every 20 ms: {events:?}");
    call.stop().await;
}

#[tokio::test]
async fn silent_legs_end_in_media_timeout() {
    let ports = allocator(41040);
    let bridge = BridgeConfig {
        media_timeout: Duration::from_millis(300),
        ..BridgeConfig::default()
    };
    let started = std::time::Instant::now();
    let (call, mut rx, _a, _b) = bridged::<NoSink>(&ports, bridge, None, [PCMU, PCMU]).await;
    let (leg, cause) = wait_for(&mut rx, |e| match e {
        MediaEvent::MediaTimeout { leg, cause } => Some((*leg, cause.as_str())),
        _ => None,
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(290),
        "not before the timeout"
    );
    assert_eq!(cause, "media-timeout-no-rtp");
    let other = wait_for(&mut rx, |e| match e {
        MediaEvent::MediaTimeout { leg, .. } => Some(*leg),
        _ => None,
    })
    .await;
    assert_eq!(other, leg.other(), "both silent legs time out");
    call.stop().await;
}

#[tokio::test]
async fn ports_go_back_after_stop_after_drop_and_after_a_failed_start() {
    let ports = allocator(41050);
    let (call, _rx) = start::<NoSink>(&ports, BridgeConfig::default(), None);
    assert_eq!(in_use(&ports), 2, "one pair per leg");
    let report = call.stop().await;
    assert!(!report.panicked);
    assert_eq!(in_use(&ports), 0, "after stop");

    let (call, _rx) = start::<NoSink>(&ports, BridgeConfig::default(), None);
    let (second, _rx2) = start::<NoSink>(&ports, BridgeConfig::default(), None);
    assert_eq!(in_use(&ports), 4);
    drop(call);
    drop(second);
    released(&ports).await;

    // Five pairs in the range: a third call needs two more than the one left.
    let (c1, _r1) = start::<NoSink>(&ports, BridgeConfig::default(), None);
    let (c2, _r2) = start::<NoSink>(&ports, BridgeConfig::default(), None);
    let (tx, _rx3) = mpsc::channel(1);
    let third = MediaCall::<NoSink>::start(
        "call-3".into(),
        Arc::clone(&ports),
        config(BridgeConfig::default()),
        Arc::new(SystemClock),
        None,
        tx,
    );
    assert!(matches!(third, Err(RelayError::Ports(_))), "{third:?}");
    assert_eq!(
        in_use(&ports),
        4,
        "the half-started call gave its pair back"
    );
    drop((c1, c2));
    released(&ports).await;
}

#[tokio::test]
async fn port_held_by_another_process_is_skipped_and_a_full_range_is_an_error() {
    let ports = allocator(41060);
    let squatter = std::net::UdpSocket::bind((LOCALHOST, 41060)).unwrap();
    let (call, _rx) = start::<NoSink>(&ports, BridgeConfig::default(), None);
    assert_ne!(call.local_rtp_port(LegId::A), 41060);
    assert_ne!(call.local_rtp_port(LegId::B), 41060);
    assert_eq!(in_use(&ports), 2, "the taken pair was given back");
    call.stop().await;

    // A range of one pair, held by someone else: a few tries, then an error.
    let one = Arc::new(Mutex::new(PortAllocator::new(41060..=41061).unwrap()));
    let (tx, _rx) = mpsc::channel(1);
    let result = MediaCall::<NoSink>::start(
        "call-x".into(),
        Arc::clone(&one),
        config(BridgeConfig::default()),
        Arc::new(SystemClock),
        None,
        tx,
    );
    assert!(
        matches!(result, Err(RelayError::Bind { port: 41060, .. })),
        "{result:?}"
    );
    assert_eq!(in_use(&one), 0);
    drop(squatter);
}

#[test]
fn start_outside_a_runtime_is_an_error_not_a_panic() {
    let ports = allocator(41090);
    let (tx, _rx) = mpsc::channel(1);
    let result = MediaCall::<NoSink>::start(
        "call-y".into(),
        Arc::clone(&ports),
        config(BridgeConfig::default()),
        Arc::new(SystemClock),
        None,
        tx,
    );
    assert!(matches!(result, Err(RelayError::NoRuntime)), "{result:?}");
    assert_eq!(in_use(&ports), 0);
}

/// What a sink was handed, in order.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Frame(LegId, usize),
    Pause,
    Resume,
}

/// Passes each frame's leg and size, and pauses and resumes, to the test.
struct ChannelSink(std::sync::mpsc::Sender<Got>);

impl AudioSink for ChannelSink {
    fn push(&mut self, frame: &AudioFrame, _now: Timestamp) {
        let _ = self.0.send(Got::Frame(frame.leg, frame.samples.len()));
    }
    fn handle_timeout(&mut self, _now: Timestamp) {}
    fn poll_timeout(&self) -> Option<Timestamp> {
        None
    }
    fn pause(&mut self, _now: Timestamp) {
        let _ = self.0.send(Got::Pause);
    }
    fn resume(&mut self, _now: Timestamp) {
        let _ = self.0.send(Got::Resume);
    }
}

#[tokio::test]
async fn sink_receives_decoded_frames_of_both_legs_and_pauses_in_order() {
    let ports = allocator(41070);
    let (tx, frames) = std::sync::mpsc::channel();
    let sink = Some(ChannelSink(tx));
    let (call, _rx, mut a, mut b) =
        bridged(&ports, BridgeConfig::default(), sink, [PCMU, PCMA]).await;
    for _ in 0..3 {
        a.send_audio(0, &[0x55; 160]).await;
        b.recv().await;
        b.send_audio(8, &[0x55; 160]).await;
        a.recv().await;
    }
    call.pause_recording();
    a.send_audio(0, &[0x55; 160]).await;
    b.recv().await;
    call.resume_recording();
    let report = call.stop().await;
    assert!(report.sink.is_some(), "the sink comes back");
    let got: Vec<Got> = frames.try_iter().collect();
    let mut expected: Vec<Got> = (0..3)
        .flat_map(|_| [Got::Frame(LegId::A, 160), Got::Frame(LegId::B, 160)])
        .collect();
    expected.extend([Got::Pause, Got::Frame(LegId::A, 160), Got::Resume]);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_sink_made_later_gets_the_audio_once_it_arrives_and_always_comes_back() {
    let ports = allocator(41110);
    let (events, _rx) = mpsc::channel(64);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (give, sink_later) = tokio::sync::oneshot::channel();
    let call = MediaCall::start_with_sink_later(
        "call-1".into(),
        Arc::clone(&ports),
        config(BridgeConfig::default()),
        Arc::clone(&clock),
        sink_later,
        events,
    )
    .unwrap();
    let mut a = Phone::new(&call, LegId::A, 0xAAAA_0001).await;
    let b = Phone::new(&call, LegId::B, 0xBBBB_0002).await;
    call.configure_leg(LegId::A, a.leg_config(PCMU));
    call.configure_leg(LegId::B, b.leg_config(PCMU));
    // Before the sink exists the call is relayed all the same.
    a.send_audio(0, &[0x55; 160]).await;
    b.recv().await;
    let (tx, frames) = std::sync::mpsc::channel();
    assert!(give.send(ChannelSink(tx)).is_ok());
    for _ in 0..2 {
        a.send_audio(0, &[0x55; 160]).await;
        b.recv().await;
    }
    let report = call.stop().await;
    assert!(report.sink.is_some(), "the sink comes back");
    let got: Vec<Got> = frames.try_iter().collect();
    assert_eq!(
        got,
        [Got::Frame(LegId::A, 160), Got::Frame(LegId::A, 160)],
        "the audio after it arrived"
    );

    // Stopped before the sink was ready: the stop waits for it and gives it back.
    let (events, _rx) = mpsc::channel(64);
    let (give, sink_later) = tokio::sync::oneshot::channel();
    let call = MediaCall::start_with_sink_later(
        "call-2".into(),
        Arc::clone(&ports),
        config(BridgeConfig::default()),
        clock,
        sink_later,
        events,
    )
    .unwrap();
    let stopping = tokio::spawn(call.stop());
    tokio::task::yield_now().await;
    let (tx, _frames) = std::sync::mpsc::channel();
    assert!(give.send(ChannelSink(tx)).is_ok());
    let report = timeout(WAIT, stopping).await.unwrap().unwrap();
    assert!(report.sink.is_some(), "the late sink comes back");
    released(&ports).await;
}

/// Power of `freq` Hz in 8 kHz `samples` (Goertzel).
fn power_at(samples: &[i16], freq: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / 8000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s = f64::from(x) + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - k * s1 * s2
}

fn tone(freq: f64, start: usize) -> Vec<u8> {
    (start..start + 160)
        .map(|n| {
            let x = 8000.0 * (2.0 * std::f64::consts::PI * freq * n as f64 / 8000.0).sin();
            ulaw_encode(x as i16)
        })
        .collect()
}

#[tokio::test]
async fn recording_puts_a_on_the_left_and_b_on_the_right() {
    let ports = allocator(41080);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    let clock = SystemClock;
    let recorder = Recorder::create_at(
        &path,
        CallId::from("call-1"),
        clock.now(),
        RecorderConfig::default(),
    )
    .unwrap();
    let (call, _rx, mut a, mut b) = bridged(
        &ports,
        BridgeConfig::default(),
        Some(recorder),
        [PCMU, PCMU],
    )
    .await;

    // 0.6 s of a 1 kHz tone from A and a 300 Hz tone from B, paced like phones.
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..30 {
        tick.tick().await;
        a.send_audio(0, &tone(1000.0, i * 160)).await;
        b.send_audio(0, &tone(300.0, i * 160)).await;
    }
    for _ in 0..30 {
        a.recv().await;
        b.recv().await;
    }
    let report = call.stop().await;
    let info = report.sink.unwrap().finish(clock.now()).unwrap();
    assert!(info.frames >= 4000, "about 0.6 s recorded: {info:?}");

    let mut reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let (l1000, l300) = (power_at(&left, 1000.0), power_at(&left, 300.0));
    let (r1000, r300) = (power_at(&right, 1000.0), power_at(&right, 300.0));
    assert!(
        l1000 > 100.0 * l300,
        "left is A's 1 kHz: {l1000:e} vs {l300:e}"
    );
    assert!(
        r300 > 100.0 * r1000,
        "right is B's 300 Hz: {r300:e} vs {r1000:e}"
    );
}
