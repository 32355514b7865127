//! WebRTC legs against an in-process webrtc-rs peer playing the browser: ICE on loopback host
//! candidates, DTLS-SRTP, bridged through the real relay to a plain RTP socket, recorded.
//! IO tests: they wait on events and packets with timeouts, never sleep for logic.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};
use switchboard_core::{CallId, Clock, SystemClock};
use switchboard_media::bridge::{BridgeConfig, LegConfig, LegId, MediaEvent};
use switchboard_media::g711::Law;
use switchboard_media::ports::PortAllocator;
use switchboard_media::relay::{MediaCall, RelayConfig, RelayEvent};
use switchboard_media::sdp::{Codec, Direction};
use switchboard_media::webrtc_leg::testing::BrowserPeer;
use switchboard_media::webrtc_leg::{
    LegTarget, WebRtcConfig, WebRtcError, WebRtcLeg, WebRtcLegs, WebRtcRuntime,
};
use switchboard_recording::{Layout, Recorder, RecorderConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const FRAMES: u32 = 100; // 2 s of 20 ms frames

fn ports() -> Arc<Mutex<PortAllocator>> {
    // A range of its own per test binary; a pair some other process holds is skipped.
    Arc::new(Mutex::new(PortAllocator::new(47000..=47999).unwrap()))
}

fn legs(ports: &Arc<Mutex<PortAllocator>>, config: WebRtcConfig) -> WebRtcLegs {
    WebRtcLegs::new(
        config,
        ports.clone(),
        WebRtcRuntime::on(tokio::runtime::Handle::current()),
    )
}

fn tone(freq: f64, frame: u32) -> Vec<i16> {
    (0..160)
        .map(|i| {
            let n = f64::from(frame * 160 + i);
            (8000.0 * (2.0 * std::f64::consts::PI * freq * n / 8000.0).sin()) as i16
        })
        .collect()
}

/// Frequency of a tone from its zero crossings, over the part that is not silence.
fn frequency(samples: &[i16]) -> f64 {
    let start = samples.iter().position(|s| s.abs() > 1000).unwrap_or(0);
    let end = samples.iter().rposition(|s| s.abs() > 1000).unwrap_or(0);
    let s = &samples[start..=end.max(start)];
    let crossings = s.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    crossings as f64 / 2.0 / (s.len() as f64 / 8000.0)
}

fn assert_near(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() < want * 0.03,
        "{what}: {got:.1} Hz, want {want} Hz"
    );
}

struct Call {
    relay: MediaCall<Recorder>,
    events: mpsc::Receiver<RelayEvent>,
    events_tx: mpsc::Sender<RelayEvent>,
    phone: UdpSocket,
    _dir: tempfile::TempDir,
}

/// A relay with a recorder and leg A facing a plain RTP "phone" (PCMU + telephone-event).
async fn call(ports: &Arc<Mutex<PortAllocator>>, name: &str, media_timeout: Duration) -> Call {
    let dir = tempfile::tempdir().unwrap();
    let clock = SystemClock;
    let now = clock.now();
    let recorder = Recorder::create(
        &Layout::new(dir.path()),
        &CallId::from(name.to_owned()),
        now,
        now,
        RecorderConfig::default(),
    )
    .unwrap();
    let (events_tx, events) = mpsc::channel(64);
    let relay = MediaCall::start(
        name.to_owned(),
        ports.clone(),
        RelayConfig {
            bind_ip: LOCALHOST,
            bridge: BridgeConfig {
                media_timeout,
                ..BridgeConfig::default()
            },
        },
        Arc::new(SystemClock),
        Some(recorder),
        events_tx.clone(),
    )
    .unwrap();
    let phone = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    relay.configure_leg(
        LegId::A,
        LegConfig {
            remote_rtp: Some(phone.local_addr().unwrap()),
            remote_rtcp: None,
            payloads: vec![(0, Codec::Pcmu), (101, Codec::TelephoneEvent)],
            remote_direction: Direction::SendRecv,
            rtcp_mux: false,
        },
    );
    Call {
        relay,
        events,
        events_tx,
        phone,
        _dir: dir,
    }
}

fn target(c: &Call, name: &str) -> LegTarget {
    LegTarget {
        call: name.to_owned(),
        leg: LegId::B,
        relay_rtp: SocketAddr::new(LOCALHOST, c.relay.local_rtp_port(LegId::B)),
        events: c.events_tx.clone(),
    }
}

/// 2 s of 440 Hz from the phone and 1000 Hz from the browser, 20 ms apart; returns what the
/// phone received (decoded).
async fn talk(c: &Call, browser: &BrowserPeer) -> Vec<i16> {
    let relay_a = SocketAddr::new(LOCALHOST, c.relay.local_rtp_port(LegId::A));
    let mut heard = Vec::new();
    let mut buf = [0u8; 2048];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for frame in 0..FRAMES {
        tick.tick().await;
        let seq = u16::try_from(frame).unwrap();
        let payload = Law::Ulaw.encode(&tone(440.0, frame));
        let pkt = RtpPacketBuilder::new()
            .payload_type(0)
            .sequence(Seq::from(seq))
            .timestamp(frame * 160)
            .ssrc(0x440)
            .payload(&payload)
            .build()
            .unwrap();
        c.phone.send_to(&pkt, relay_a).await.unwrap();
        let payload = Law::Ulaw.encode(&tone(1000.0, frame));
        browser.send(0, seq, frame * 160, &payload).await.unwrap();
        while let Ok((n, _)) = c.phone.try_recv_from(&mut buf) {
            if let Ok(r) = RtpReader::new(&buf[..n])
                && r.payload_type() == 0
            {
                heard.extend(Law::Ulaw.decode(r.payload()));
            }
        }
    }
    // The last packets in flight.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, c.phone.recv_from(&mut buf)).await
    {
        if let Ok(r) = RtpReader::new(&buf[..n])
            && r.payload_type() == 0
        {
            heard.extend(Law::Ulaw.decode(r.payload()));
        }
    }
    heard
}

/// Stops the relay, finishes the WAV and returns its (left, right) channels.
async fn recording(c: Call) -> (Vec<i16>, Vec<i16>) {
    let report = c.relay.stop().await;
    let info = report.sink.unwrap().finish(SystemClock.now()).unwrap();
    let mut wav = hound::WavReader::open(&info.path).unwrap();
    assert_eq!(wav.spec().channels, 2);
    let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (left, right)
}

async fn check_tones(c: Call, browser: &BrowserPeer, leg: WebRtcLeg) {
    assert!(browser.connected(Duration::from_secs(10)).await, "DTLS up");
    let heard = talk(&c, browser).await;
    assert!(heard.len() > 8000, "phone heard {} samples", heard.len());
    assert_near(frequency(&heard), 1000.0, "the phone hears the browser");
    let browser_heard = browser.with_received(|r| Law::Ulaw.decode(&r.audio));
    assert!(
        browser_heard.len() > 8000,
        "browser heard {} samples",
        browser_heard.len()
    );
    assert_near(
        frequency(&browser_heard),
        440.0,
        "the browser hears the phone",
    );
    leg.close().await;
    let (left, right) = recording(c).await;
    assert_near(frequency(&left), 440.0, "left channel (caller)");
    assert_near(
        frequency(&right),
        1000.0,
        "right channel (callee, the browser)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_offer_is_answered_with_pcmu_and_tones_cross_and_are_recorded_in_stereo() {
    let ports = ports();
    let legs = legs(&ports, WebRtcConfig::default());
    let c = call(&ports, "webrtc-answer", Duration::from_secs(30)).await;
    let browser = BrowserPeer::new(LOCALHOST, true, true).await.unwrap();
    let offer = browser.offer().await.unwrap();
    let (leg, answer) = legs
        .answer(target(&c, "webrtc-answer"), &offer)
        .await
        .unwrap();
    assert_eq!(leg.codec(), (0, Codec::Pcmu));
    assert!(answer.contains("a=fingerprint:"), "{answer}");
    assert!(answer.contains("a=rtcp-mux"), "{answer}");
    assert!(answer.contains("a=group:BUNDLE"), "{answer}");
    assert!(
        answer.contains(&format!(" {} typ host", leg.local_port())),
        "{answer}"
    );
    assert!(!answer.contains("opus"), "{answer}");
    c.relay.configure_leg(LegId::B, leg.relay_leg_config());
    browser.accept_answer(&answer).await.unwrap();
    check_tones(c, &browser, leg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_offer_rings_a_browser_which_answers_and_tones_cross() {
    let ports = ports();
    let legs = legs(&ports, WebRtcConfig::default());
    let c = call(&ports, "webrtc-offer", Duration::from_secs(30)).await;
    let (pending, offer) = legs.offer(target(&c, "webrtc-offer")).await.unwrap();
    assert!(offer.contains("UDP/TLS/RTP/SAVPF"), "{offer}");
    let browser = BrowserPeer::new(LOCALHOST, true, true).await.unwrap();
    let answer = browser.answer(&offer).await.unwrap();
    let leg = pending.accept_answer(&answer).await.unwrap();
    c.relay.configure_leg(LegId::B, leg.relay_leg_config());
    check_tones(c, &browser, leg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_without_fingerprint_or_with_only_opus_are_refused_with_488() {
    let ports = ports();
    let legs = legs(&ports, WebRtcConfig::default());
    let c = call(&ports, "webrtc-refused", Duration::from_secs(30)).await;
    let browser = BrowserPeer::new(LOCALHOST, true, false).await.unwrap();
    let offer = browser.offer().await.unwrap();
    let no_fingerprint: String = offer
        .split("\r\n")
        .filter(|l| !l.starts_with("a=fingerprint"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let e = legs
        .answer(target(&c, "webrtc-refused"), &no_fingerprint)
        .await
        .unwrap_err();
    assert_eq!(e, WebRtcError::NoFingerprint);
    assert_eq!(e.sip_status(), 488);
    assert!(e.warning("sb.example").starts_with("399 sb.example \""));

    let opus_only = BrowserPeer::new(LOCALHOST, false, false).await.unwrap();
    let offer = opus_only.offer().await.unwrap();
    let e = legs
        .answer(target(&c, "webrtc-refused"), &offer)
        .await
        .unwrap_err();
    assert!(matches!(e, WebRtcError::NoG711 { .. }), "{e}");
    assert_eq!(e.sip_status(), 488);
    // Nothing was built: no port is held.
    assert_eq!(
        ports.lock().unwrap().in_use(),
        2,
        "only the relay's two pairs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_vanishes_mid_call_ends_the_leg() {
    let ports = ports();
    let config = WebRtcConfig {
        ice_disconnected_timeout: Duration::from_secs(1),
        ice_failed_timeout: Duration::from_secs(1),
        ice_keepalive: Duration::from_millis(300),
        ..WebRtcConfig::default()
    };
    let legs = legs(&ports, config);
    // The relay's own media timeout is the backstop, as for RTP legs.
    let mut c = call(&ports, "webrtc-vanish", Duration::from_secs(5)).await;
    // The browser's connection runs on a runtime of its own, so that shutting that runtime
    // down makes it vanish without a word (no DTLS close_notify), like a killed tab.
    let browser_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let browser = browser_rt
        .spawn(BrowserPeer::new(LOCALHOST, true, false))
        .await
        .unwrap()
        .unwrap();
    let browser = Arc::new(browser);
    let b = browser.clone();
    let offer = browser_rt
        .spawn(async move { b.offer().await })
        .await
        .unwrap()
        .unwrap();
    let (leg, answer) = legs
        .answer(target(&c, "webrtc-vanish"), &offer)
        .await
        .unwrap();
    c.relay.configure_leg(LegId::B, leg.relay_leg_config());
    browser.accept_answer(&answer).await.unwrap();
    assert!(browser.connected(Duration::from_secs(10)).await);
    for seq in 0..10u16 {
        browser
            .send(0, seq, u32::from(seq) * 160, &[0xFF; 160])
            .await
            .unwrap();
    }
    browser_rt.shutdown_background();
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(e) = c.events.recv().await {
            match e.event {
                MediaEvent::LegEnded { leg, cause } => return Some((leg, cause)),
                MediaEvent::MediaTimeout { leg, cause } => return Some((leg, cause.as_str())),
                _ => {}
            }
        }
        None
    })
    .await
    .expect("the leg ends within 15 s")
    .expect("an end event");
    assert_eq!(ended.0, LegId::B, "{ended:?}");
    eprintln!("vanished browser: {ended:?}");
    leg.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_hanging_up_ends_the_leg() {
    let ports = ports();
    // A closed peer answers no more ICE checks: the leg fails after these timeouts at the
    // latest, whether or not its DTLS close_notify arrived.
    let config = WebRtcConfig {
        ice_disconnected_timeout: Duration::from_secs(1),
        ice_failed_timeout: Duration::from_secs(1),
        ice_keepalive: Duration::from_millis(300),
        ..WebRtcConfig::default()
    };
    let legs = legs(&ports, config);
    let mut c = call(&ports, "webrtc-bye", Duration::from_secs(30)).await;
    let browser = BrowserPeer::new(LOCALHOST, true, false).await.unwrap();
    let offer = browser.offer().await.unwrap();
    let (leg, answer) = legs.answer(target(&c, "webrtc-bye"), &offer).await.unwrap();
    c.relay.configure_leg(LegId::B, leg.relay_leg_config());
    browser.accept_answer(&answer).await.unwrap();
    assert!(browser.connected(Duration::from_secs(10)).await);
    browser.close().await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(e) = c.events.recv().await {
            if let MediaEvent::LegEnded { leg, cause } = e.event {
                return Some((leg, cause));
            }
            eprintln!("event {e:?}");
        }
        None
    })
    .await
    .expect("the leg ends within 10 s")
    .expect("an end event");
    assert_eq!(ended.0, LegId::B);
    eprintln!("browser hung up: {ended:?}");
    drop(leg);
}
