//! Load test of the whole media path on loopback: N `MediaCall`s (real UDP sockets, the relay
//! task, a stereo WAV recorder per call) fed by a load generator running in a CHILD process (this
//! same binary re-executed with `--load`), which plays both phones of every call: 20 ms PCMU
//! packets both ways for D seconds, the phones' sending spread over the 20 ms period as
//! independent phones' clocks are (phone i in millisecond slot i mod 20).
//!
//! What it measures:
//! - loss: packets the generator sent that its other phone did not receive (within 300 ms of
//!   the end);
//! - added jitter: for consecutive packets of one stream, |(r_k − r_{k−1}) − (s_k − s_{k−1})|,
//!   send time s stamped in the payload by the generator right before `send_to`, receive time r
//!   taken when the generator's receive task wakes. It includes the generator's own scheduling
//!   delay (one thread in the child), so it is an upper bound of what the relay adds;
//! - relay CPU: utime+stime of THIS process (all threads) from /proc/self/stat between "go" and
//!   the generator's result (D seconds of media plus the 300 ms grace), assuming the usual
//!   100 clock ticks per second (10 ms resolution). The relay runs on a current-thread tokio
//!   runtime, so it uses at most one core. Calls per core = N × D / cpu_seconds. It covers the
//!   relay tasks and recording (aligning, writing, header refresh every second); the recorders'
//!   finish (fsync + SHA-256) happens afterwards and is printed separately. Start-up (binding,
//!   creating files) is not counted.
//!
//! Usage: `cargo run --release -p switchboard-media --example media_calls -- [calls] [seconds]`
//! (defaults 100 calls, 10 s). The last line is the figure.

use std::error::Error;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_core::{CallId, Clock, SystemClock};
use switchboard_media::bridge::{BridgeConfig, LegConfig, LegId, MediaEvent};
use switchboard_media::ports::PortAllocator;
use switchboard_media::relay::{MediaCall, RelayConfig, RelayEvent};
use switchboard_media::sdp::{Codec, Direction};
use switchboard_recording::{Recorder, RecorderConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

type Res<T> = Result<T, Box<dyn Error>>;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// How long the generator keeps listening after its last packet.
const GRACE: Duration = Duration::from_millis(300);
/// Clock ticks per second of /proc/<pid>/stat (CLK_TCK; 100 on Linux x86-64 and arm64).
const CLK_TCK: f64 = 100.0;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if args.first().map(String::as_str) == Some("--load") {
        let seconds: u64 = args.get(1).ok_or("--load needs seconds")?.parse()?;
        let pairs = parse_pairs(args.get(2).ok_or("--load needs ports")?)?;
        return runtime.block_on(load(seconds, pairs));
    }
    let calls: usize = args.first().map_or(Ok(100), |a| a.parse())?;
    let seconds: u64 = args.get(1).map_or(Ok(10), |a| a.parse())?;
    runtime.block_on(relay(calls, seconds))
}

/// `a:b,a:b,…` → port pairs.
fn parse_pairs(s: &str) -> Res<Vec<(u16, u16)>> {
    s.split(',')
        .map(|p| {
            let (a, b) = p.split_once(':').ok_or("pair without ':'")?;
            Ok((a.parse()?, b.parse()?))
        })
        .collect()
}

fn process_cpu_seconds() -> Res<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').ok_or("bad /proc/self/stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11).ok_or("no utime")?.parse()?;
    let stime: u64 = f.get(12).ok_or("no stime")?.parse()?;
    Ok((utime + stime) as f64 / CLK_TCK)
}

fn leg(port: u16) -> LegConfig {
    LegConfig {
        remote_rtp: Some(SocketAddr::new(LOCALHOST, port)),
        remote_rtcp: None,
        payloads: vec![(0, Codec::Pcmu), (101, Codec::TelephoneEvent)],
        remote_direction: Direction::SendRecv,
        rtcp_mux: false,
    }
}

/// The relay process: starts the calls, runs the generator, reports.
async fn relay(n: usize, seconds: u64) -> Res<()> {
    let dir = tempfile::tempdir()?;
    let ports = Arc::new(Mutex::new(PortAllocator::new(20000..=29999)?));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (events_tx, mut events_rx) = mpsc::channel::<RelayEvent>(4096);
    let events = tokio::spawn(async move {
        let (mut all, mut timeouts) = (0u64, 0u64);
        while let Some(e) = events_rx.recv().await {
            all += 1;
            timeouts += u64::from(matches!(e.event, MediaEvent::MediaTimeout { .. }));
        }
        (all, timeouts)
    });

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
        let call = MediaCall::start(
            id,
            Arc::clone(&ports),
            config,
            Arc::clone(&clock),
            Some(recorder),
            events_tx.clone(),
        )?;
        calls.push(call);
    }
    drop(events_tx);
    let relay_ports: Vec<String> = calls
        .iter()
        .map(|c| {
            let (a, b) = (c.local_rtp_port(LegId::A), c.local_rtp_port(LegId::B));
            format!("{a}:{b}")
        })
        .collect();

    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--load")
        .arg(seconds.to_string())
        .arg(relay_ports.join(","))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no child stdin")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no child stdout")?).lines();
    let phones = lines.next_line().await?.ok_or("generator gave no ports")?;
    let phones = parse_pairs(phones.strip_prefix("PHONES ").ok_or("expected PHONES")?)?;
    for (call, (a, b)) in calls.iter().zip(phones) {
        call.configure_leg(LegId::A, leg(a));
        call.configure_leg(LegId::B, leg(b));
    }

    let cpu0 = process_cpu_seconds()?;
    let wall0 = Instant::now();
    stdin.write_all(b"go\n").await?;
    let result = lines.next_line().await?.ok_or("generator gave no result")?;
    let cpu = process_cpu_seconds()? - cpu0;
    let wall = wall0.elapsed();
    child.wait().await?;

    let (mut relayed, mut dropped, mut send_failures) = (0u64, 0u64, 0u64);
    let mut recorders = Vec::with_capacity(n);
    for call in calls {
        let report = call.stop().await;
        for s in report.stats {
            relayed += s.sent_packets;
            let d = s.dropped;
            dropped += d.unexpected_source
                + d.malformed
                + d.unmapped_payload
                + d.on_hold
                + d.no_destination
                + d.replaced_by_dtmf;
        }
        send_failures += report.send_failures;
        recorders.extend(report.sink);
    }
    let finish_cpu0 = process_cpu_seconds()?;
    let mut recorded_frames = 0u64;
    for r in recorders {
        recorded_frames += r.finish(clock.now())?.frames;
    }
    let finish_cpu = process_cpu_seconds()? - finish_cpu0;
    let (events, timeouts) = events.await?;

    println!(
        "calls {n}, media {seconds} s, window {:.2} s wall",
        wall.as_secs_f64()
    );
    println!("generator: {result}");
    println!(
        "relay: {relayed} packets relayed, {dropped} dropped, {send_failures} send failures; \
         {events} events ({timeouts} media timeouts)"
    );
    println!(
        "recordings: {:.2} s of audio per call on average; finish (fsync + hash) {finish_cpu:.2} s CPU",
        recorded_frames as f64 / n as f64 / 8000.0
    );
    println!("relay CPU during media: {cpu:.2} s (utime+stime of this process)");
    let expected = n as u64 * seconds * 100;
    if relayed * 100 < expected * 99 {
        // A relay that drops its load does less work: its CPU figure would flatter it.
        println!("WARNING: relayed {relayed} of {expected} packets; the figure below is not valid");
    }
    if cpu > 0.0 {
        let per_core = (n as u64 * seconds) as f64 / cpu;
        println!("{per_core:.0} relayed and recorded G.711 calls per core");
    } else {
        println!("CPU below the 10 ms resolution: run more calls or longer");
    }
    Ok(())
}

/// What one phone's receive task saw.
#[derive(Default)]
struct Received {
    packets: u64,
    /// |Δ transit| between consecutive packets, in µs.
    jitter_us: Vec<u32>,
}

async fn receive(socket: Arc<UdpSocket>, epoch: Instant, until: tokio::time::Instant) -> Received {
    let mut got = Received::default();
    let mut buf = [0u8; 2048];
    let mut prev_transit: Option<i64> = None;
    while let Ok(Ok((len, _))) = tokio::time::timeout_at(until, socket.recv_from(&mut buf)).await {
        let now = epoch.elapsed().as_nanos() as i64;
        // 12-byte header (the relay adds no CSRC or extension), then our send stamp.
        let Some(stamp) = buf.get(12..20).filter(|_| len >= 20) else {
            continue;
        };
        let mut b = [0u8; 8];
        b.copy_from_slice(stamp);
        let transit = now - i64::from_be_bytes(b);
        if let Some(p) = prev_transit {
            got.jitter_us
                .push(u32::try_from((transit - p).unsigned_abs() / 1000).unwrap_or(u32::MAX));
        }
        prev_transit = Some(transit);
        got.packets += 1;
    }
    got
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Millisecond slots of a 20 ms packet period the phones' sending is spread over.
const SLOTS: u64 = 20;

/// The generator process: both phones of every call.
async fn load(seconds: u64, relay_ports: Vec<(u16, u16)>) -> Res<()> {
    let epoch = Instant::now();
    let mut phones = Vec::with_capacity(relay_ports.len() * 2);
    let mut listed = Vec::with_capacity(relay_ports.len());
    for (pa, pb) in &relay_ports {
        let a = Arc::new(UdpSocket::bind((LOCALHOST, 0)).await?);
        let b = Arc::new(UdpSocket::bind((LOCALHOST, 0)).await?);
        listed.push(format!(
            "{}:{}",
            a.local_addr()?.port(),
            b.local_addr()?.port()
        ));
        phones.push((a, SocketAddr::new(LOCALHOST, *pa)));
        phones.push((b, SocketAddr::new(LOCALHOST, *pb)));
    }
    // Blocking std IO is fine here: nothing else runs in this process until "go".
    println!("PHONES {}", listed.join(","));
    std::io::stdout().flush()?;
    let mut go = String::new();
    std::io::stdin().read_line(&mut go)?;

    let packets = seconds * 50;
    let end = tokio::time::Instant::now() + Duration::from_millis(packets * 20) + GRACE;
    let receivers: Vec<_> = phones
        .iter()
        .map(|(s, _)| tokio::spawn(receive(Arc::clone(s), epoch, end)))
        .collect();

    // Real phones' 20 ms clocks are independent, so their packets arrive spread over the
    // period, not all at once: phone i sends in millisecond slot i % 20 of each period. (Sending
    // every phone's packet in one burst would make the last one of the burst wait behind all
    // the others, a queueing delay no real population of phones produces.)
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut packet = [0xFFu8; 12 + 160];
    packet[0] = 0x80; // version 2
    packet[1] = 0; // no marker, PT 0 (PCMU)
    let (mut sent, mut send_errors) = (0u64, 0u64);
    for step in 0..packets * SLOTS {
        tick.tick().await;
        let (k, slot) = (step / SLOTS, (step % SLOTS) as usize);
        packet[2..4].copy_from_slice(&(k as u16).to_be_bytes());
        packet[4..8].copy_from_slice(&((k as u32).wrapping_mul(160)).to_be_bytes());
        for (i, (socket, relay)) in phones.iter().enumerate().skip(slot).step_by(SLOTS as usize) {
            packet[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            let stamp = epoch.elapsed().as_nanos() as u64;
            packet[12..20].copy_from_slice(&stamp.to_be_bytes());
            match socket.try_send_to(&packet, *relay) {
                Ok(_) => sent += 1,
                Err(_) => send_errors += 1,
            }
        }
    }

    let mut received = 0u64;
    let mut jitter = Vec::new();
    for r in receivers {
        let got = r.await?;
        received += got.packets;
        jitter.extend(got.jitter_us);
    }
    jitter.sort_unstable();
    let loss = if sent > 0 {
        100.0 * sent.saturating_sub(received) as f64 / sent as f64
    } else {
        0.0
    };
    println!(
        "sent {sent} ({send_errors} send errors), received {received}, loss {loss:.3} %, \
         added jitter p50 {} µs, p99 {} µs, max {} µs",
        percentile(&jitter, 0.5),
        percentile(&jitter, 0.99),
        jitter.last().copied().unwrap_or(0),
    );
    std::io::stdout().flush()?;
    Ok(())
}
