//! Load test of WebRTC legs: N calls, each a browser (webrtc-rs peer: ICE, DTLS-SRTP) bridged
//! through our WebRTC leg and the relay to a plain RTP phone, recorded in stereo. The browsers
//! and the phones run in a CHILD process (this binary re-executed with `--load`); this process
//! is the server: the relays, the recorders and the WebRTC legs.
//!
//! Measured:
//! - loss both ways: 20 ms PCMU frames the phones and browsers sent that the other side did not
//!   receive (a receiver stops after 1 s without packets once the sending is over);
//! - server CPU: utime+stime of THIS process (all threads) from /proc/self/stat, between "go"
//!   and the generator's result (D seconds of media plus the grace), at 100 ticks per second.
//!   Set-up (DTLS handshakes) and the recorders' finish are printed apart.
//!   Legs per core = N × D / cpu_seconds (one WebRTC leg = one browser call bridged to RTP).
//!
//! Usage: `cargo run --release -p switchboard-media --example webrtc_legs -- [calls] [seconds]`
//! (defaults 100 calls, 10 s). The last line is the figure.

use std::error::Error;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_core::{CallId, Clock, SystemClock};
use switchboard_media::bridge::{BridgeConfig, LegConfig, LegId, LegStats, MediaEvent};
use switchboard_media::ports::PortAllocator;
use switchboard_media::relay::{MediaCall, RelayConfig, RelayEvent};
use switchboard_media::sdp::{Codec, Direction};
use switchboard_media::webrtc_leg::testing::BrowserPeer;
use switchboard_media::webrtc_leg::{LegTarget, WebRtcConfig, WebRtcLegs, WebRtcRuntime};
use switchboard_recording::{Recorder, RecorderConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

type Res<T> = Result<T, Box<dyn Error>>;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// A receiver that heard nothing for this long after the last frame was sent is done: what
/// has not arrived by then is lost. (An idle limit rather than a deadline, so a generator that
/// falls behind on a loaded machine still counts what is waiting in its socket buffers.)
const GRACE: Duration = Duration::from_millis(1000);
const CLK_TCK: f64 = 100.0;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.first().map(String::as_str) == Some("--load") {
        let seconds: u64 = args.get(1).ok_or("--load needs seconds")?.parse()?;
        let relays: Vec<u16> = args
            .get(2)
            .ok_or("--load needs ports")?
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        return runtime.block_on(load(seconds, relays));
    }
    let calls: usize = args.first().map_or(Ok(100), |a| a.parse())?;
    let seconds: u64 = args.get(1).map_or(Ok(10), |a| a.parse())?;
    runtime.block_on(server(calls, seconds))
}

fn process_cpu_seconds() -> Res<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let rest = stat.rsplit_once(')').ok_or("bad /proc/self/stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11).ok_or("no utime")?.parse()?;
    let stime: u64 = f.get(12).ok_or("no stime")?.parse()?;
    Ok((utime + stime) as f64 / CLK_TCK)
}

/// SDP on one line for the pipe (no SDP line we make contains `|`).
fn flat(sdp: &str) -> String {
    sdp.replace("\r\n", "|")
}

fn unflat(line: &str) -> String {
    line.replace('|', "\r\n")
}

async fn server(n: usize, seconds: u64) -> Res<()> {
    let dir = tempfile::tempdir()?;
    let ports = Arc::new(Mutex::new(PortAllocator::new(30000..=39999)?));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (events_tx, mut events_rx) = mpsc::channel::<RelayEvent>(4096);
    let events = tokio::spawn(async move {
        let (mut all, mut ends) = (0u64, 0u64);
        while let Some(e) = events_rx.recv().await {
            all += 1;
            ends += u64::from(matches!(
                e.event,
                MediaEvent::MediaTimeout { .. } | MediaEvent::LegEnded { .. }
            ));
        }
        (all, ends)
    });
    let legs = WebRtcLegs::new(
        WebRtcConfig {
            bind_ip: LOCALHOST,
            ..WebRtcConfig::default()
        },
        ports.clone(),
        WebRtcRuntime::on(tokio::runtime::Handle::current()),
    );

    let mut calls = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("call-{i}");
        let recorder = Recorder::create_at(
            &dir.path().join(format!("{id}.wav")),
            CallId::from(id.as_str()),
            clock.now(),
            RecorderConfig::default(),
        )?;
        let config = RelayConfig {
            bind_ip: LOCALHOST,
            bridge: BridgeConfig::default(),
        };
        calls.push(MediaCall::start(
            id,
            Arc::clone(&ports),
            config,
            Arc::clone(&clock),
            Some(recorder),
            events_tx.clone(),
        )?);
    }
    let relay_a: Vec<String> = calls
        .iter()
        .map(|c| c.local_rtp_port(LegId::A).to_string())
        .collect();
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--load")
        .arg(seconds.to_string())
        .arg(relay_a.join(","))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no child stdin")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no child stdout")?).lines();

    let setup0 = Instant::now();
    let setup_cpu0 = process_cpu_seconds()?;
    let mut webrtc = Vec::with_capacity(n);
    for (i, call) in calls.iter().enumerate() {
        let line = lines.next_line().await?.ok_or("generator gave no offer")?;
        let offer = line
            .strip_prefix(&format!("OFFER {i} "))
            .ok_or("expected OFFER")?;
        let target = LegTarget {
            call: call.call().to_owned(),
            leg: LegId::B,
            relay_rtp: SocketAddr::new(LOCALHOST, call.local_rtp_port(LegId::B)),
            events: events_tx.clone(),
        };
        let (leg, answer) = legs.answer(target, &unflat(offer)).await?;
        call.configure_leg(LegId::B, leg.relay_leg_config());
        stdin
            .write_all(format!("ANSWER {i} {}\n", flat(&answer)).as_bytes())
            .await?;
        webrtc.push(leg);
    }
    drop(events_tx);
    let phones = lines.next_line().await?.ok_or("generator gave no phones")?;
    let phones: Vec<u16> = phones
        .strip_prefix("PHONES ")
        .ok_or("expected PHONES")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    for (call, port) in calls.iter().zip(phones) {
        call.configure_leg(
            LegId::A,
            LegConfig {
                remote_rtp: Some(SocketAddr::new(LOCALHOST, port)),
                remote_rtcp: None,
                payloads: vec![(0, Codec::Pcmu), (101, Codec::TelephoneEvent)],
                remote_direction: Direction::SendRecv,
                rtcp_mux: false,
            },
        );
    }
    let ready = lines.next_line().await?.ok_or("generator gave no READY")?;
    let setup_cpu = process_cpu_seconds()? - setup_cpu0;
    let setup = setup0.elapsed();

    let cpu0 = process_cpu_seconds()?;
    let wall0 = Instant::now();
    stdin.write_all(b"go\n").await?;
    let result = lines.next_line().await?.ok_or("generator gave no result")?;
    let cpu = process_cpu_seconds()? - cpu0;
    let wall = wall0.elapsed();
    child.wait().await?;

    for leg in webrtc {
        leg.close().await;
    }
    let mut recorders = Vec::with_capacity(n);
    let (mut relayed, mut send_failures) = (0u64, 0u64);
    let mut dropped = [LegStats::default().dropped; 2];
    for call in calls {
        let report = call.stop().await;
        relayed += report.stats.iter().map(|s| s.sent_packets).sum::<u64>();
        send_failures += report.send_failures;
        for (total, s) in dropped.iter_mut().zip(report.stats) {
            let d = s.dropped;
            total.unexpected_source += d.unexpected_source;
            total.malformed += d.malformed;
            total.unmapped_payload += d.unmapped_payload;
            total.on_hold += d.on_hold;
            total.no_destination += d.no_destination;
            total.replaced_by_dtmf += d.replaced_by_dtmf;
        }
        recorders.extend(report.sink);
    }
    let mut recorded_frames = 0u64;
    for r in recorders {
        recorded_frames += r.finish(clock.now())?.frames;
    }
    let (events, ends) = events.await?;

    println!(
        "calls {n}, media {seconds} s, window {:.2} s wall",
        wall.as_secs_f64()
    );
    println!(
        "set-up: {ready} in {:.2} s wall, {setup_cpu:.2} s CPU (ICE + DTLS handshakes)",
        setup.as_secs_f64()
    );
    println!("generator: {result}");
    println!(
        "relay: {relayed} packets relayed, {send_failures} send failures; {events} events ({ends} leg ends or media timeouts); \
         recordings {:.2} s of audio per call on average",
        recorded_frames as f64 / n as f64 / 8000.0
    );
    println!(
        "relay drops: phone leg {:?}; browser leg {:?}",
        dropped[0], dropped[1]
    );
    println!("server CPU during media: {cpu:.2} s (utime+stime of this process)");
    let lost: u64 = result
        .split_whitespace()
        .skip_while(|w| *w != "lost")
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or(u64::MAX);
    if lost > 0 {
        println!("LOSS: {lost} frames lost; no zero-loss figure");
    }
    if cpu > 0.0 {
        let per_core = (n as u64 * seconds) as f64 / cpu;
        println!("{per_core:.0} WebRTC legs per core");
    } else {
        println!("CPU below the 10 ms resolution: run more calls or longer");
    }
    Ok(())
}

/// The generator: one browser and one phone per call.
async fn load(seconds: u64, relays: Vec<u16>) -> Res<()> {
    // Blocking std IO is fine here: the generator does nothing else while it waits.
    let stdin = std::io::stdin();
    let read_line = || -> Res<String> {
        let mut line = String::new();
        stdin.read_line(&mut line)?;
        Ok(line.trim_end().to_owned())
    };
    let mut browsers = Vec::with_capacity(relays.len());
    let mut out = std::io::stdout();
    for i in 0..relays.len() {
        let browser = BrowserPeer::new(LOCALHOST, true, false).await?;
        let offer = browser.offer().await?;
        writeln!(out, "OFFER {i} {}", flat(&offer))?;
        out.flush()?;
        let line = read_line()?;
        let answer = line
            .strip_prefix(&format!("ANSWER {i} "))
            .ok_or("expected ANSWER")?;
        browser.accept_answer(&unflat(answer)).await?;
        browsers.push(Arc::new(browser));
    }
    let mut phones = Vec::with_capacity(relays.len());
    for port in &relays {
        let s = Arc::new(UdpSocket::bind((LOCALHOST, 0)).await?);
        phones.push((s, SocketAddr::new(LOCALHOST, *port)));
    }
    let listed: Vec<String> = phones
        .iter()
        .map(|(s, _)| s.local_addr().map(|a| a.port().to_string()))
        .collect::<Result<_, _>>()?;
    writeln!(out, "PHONES {}", listed.join(","))?;
    let mut connected = 0;
    for b in &browsers {
        connected += usize::from(b.connected(Duration::from_secs(30)).await);
    }
    // Our side of each DTLS handshake finishes a moment after the browser's.
    tokio::time::sleep(Duration::from_millis(500)).await;
    writeln!(out, "READY {connected}/{} connected", browsers.len())?;
    out.flush()?;
    read_line()?;

    let frames = seconds * 50;
    let sending = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let receivers: Vec<_> = phones
        .iter()
        .map(|(s, _)| {
            let s = Arc::clone(s);
            let sending = Arc::clone(&sending);
            tokio::spawn(async move {
                let mut got = 0u64;
                let mut buf = [0u8; 2048];
                loop {
                    match tokio::time::timeout(GRACE, s.recv_from(&mut buf)).await {
                        Ok(Ok(_)) => got += 1,
                        Ok(Err(_)) => {}
                        Err(_) if sending.load(std::sync::atomic::Ordering::Relaxed) => {}
                        Err(_) => break,
                    }
                }
                got
            })
        })
        .collect();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut packet = [0xFFu8; 12 + 160];
    packet[0] = 0x80; // version 2
    packet[1] = 0; // no marker, PT 0 (PCMU)
    let payload = [0xFFu8; 160];
    let (mut phone_sent, mut browser_sent) = (0u64, 0u64);
    for k in 0..frames {
        tick.tick().await;
        let seq = k as u16;
        let ts = (k as u32).wrapping_mul(160);
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet[4..8].copy_from_slice(&ts.to_be_bytes());
        for (i, (socket, relay)) in phones.iter().enumerate() {
            packet[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            if socket.try_send_to(&packet, *relay).is_ok() {
                phone_sent += 1;
            }
        }
        for b in &browsers {
            if b.send(0, seq, ts, &payload).await.is_ok() {
                browser_sent += 1;
            }
        }
    }
    sending.store(false, std::sync::atomic::Ordering::Relaxed);
    let browser_total = || -> u64 {
        browsers
            .iter()
            .map(|b| b.with_received(|r| r.audio_packets))
            .sum()
    };
    let mut browser_got = browser_total();
    loop {
        tokio::time::sleep(GRACE).await;
        let now = browser_total();
        if now == browser_got {
            break;
        }
        browser_got = now;
    }
    let mut phone_got = 0u64;
    for r in receivers {
        phone_got += r.await?;
    }
    let lost = phone_sent.saturating_sub(browser_got) + browser_sent.saturating_sub(phone_got);
    writeln!(
        out,
        "phones sent {phone_sent}, browsers got {browser_got}; browsers sent {browser_sent}, \
         phones got {phone_got}; lost {lost}"
    )?;
    out.flush()?;
    for b in &browsers {
        b.close().await;
    }
    Ok(())
}
