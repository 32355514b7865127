//! Benchmark of the sans-IO relay: N bridged G.711 calls, 20 ms packets both ways, PT mapping,
//! DTMF-free audio decoded for the recorder (audio tap on), stats, latching, timeouts.
//! Measures this thread's own CPU time (from /proc/thread-self/schedstat) and the per-packet
//! processing time, and prints how many calls one core can carry and the p99 time a packet
//! spends in the relay logic (its share of the added jitter).
//!
//! Usage: media_relay_bench [calls] [media_seconds]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchboard_core::Timestamp;
use switchboard_media::bridge::{Bridge, BridgeConfig, LegConfig, LegId};
use switchboard_media::sdp::{Codec, Direction};

fn thread_cpu() -> Duration {
    // First field of schedstat: nanoseconds this thread spent on a CPU.
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

fn leg(addr: SocketAddr, payloads: Vec<(u8, Codec)>) -> LegConfig {
    LegConfig {
        remote_rtp: Some(addr),
        remote_rtcp: None,
        payloads,
        remote_direction: Direction::SendRecv,
        rtcp_mux: false,
    }
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let calls = args.first().copied().unwrap_or(2000) as usize;
    let seconds = args.get(1).copied().unwrap_or(30);
    let start = Timestamp::from_millis(1_700_000_000_000);

    let mut bridges: Vec<(Bridge, SocketAddr, SocketAddr)> = (0..calls)
        .map(|i| {
            let a = SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 40000));
            let b = SocketAddr::from(([10, 2, (i >> 8) as u8, i as u8], 50000));
            let mut br = Bridge::new(BridgeConfig {
                audio_tap: true,
                ..BridgeConfig::default()
            });
            // Caller on PCMA, agent on PCMU: the relay also converts the law.
            br.configure_leg(
                LegId::A,
                leg(a, vec![(8, Codec::Pcma), (101, Codec::TelephoneEvent)]),
                start,
            );
            br.configure_leg(
                LegId::B,
                leg(b, vec![(0, Codec::Pcmu), (96, Codec::TelephoneEvent)]),
                start,
            );
            (br, a, b)
        })
        .collect();

    // One 20 ms G.711 packet as a template; seq/ts/ssrc are patched per packet.
    let mut template = vec![0x80u8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    template.extend((0..160).map(|n| ((n * 37) % 251) as u8));
    let mut buf = template.clone();

    let ticks = seconds * 50;
    let mut samples_ns: Vec<u32> = Vec::with_capacity((ticks as usize) * calls * 2 / 16 + 1);
    let mut packets: u64 = 0;
    let mut forwarded: u64 = 0;
    let mut pcm_samples: u64 = 0;
    let cpu0 = thread_cpu();
    let wall0 = Instant::now();
    for tick in 0..ticks {
        let now = start + Duration::from_millis(tick * 20);
        let seq = (tick as u16).to_be_bytes();
        let ts = ((tick as u32) * 160).to_be_bytes();
        for (i, (br, a, b)) in bridges.iter_mut().enumerate() {
            for (leg, from, pt) in [(LegId::A, *a, 8u8), (LegId::B, *b, 0u8)] {
                buf.copy_from_slice(&template);
                buf[1] = pt;
                buf[2..4].copy_from_slice(&seq);
                buf[4..8].copy_from_slice(&ts);
                buf[8..12].copy_from_slice(&(i as u32 * 2 + pt as u32).to_be_bytes());
                // Time one packet in sixteen: enough for a p99 without the clock dominating.
                let timed = packets.is_multiple_of(16);
                let t0 = timed.then(Instant::now);
                if br.handle_packet(leg, from, &mut buf, now).is_some() {
                    forwarded += 1;
                }
                while let Some(frame) = br.poll_audio() {
                    pcm_samples += frame.samples.len() as u64;
                }
                if let Some(t0) = t0 {
                    samples_ns.push(t0.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32);
                }
                packets += 1;
            }
            if tick % 50 == 0 {
                br.handle_timeout(now);
                while br.poll_event().is_some() {}
            }
        }
    }
    let cpu = thread_cpu().saturating_sub(cpu0);
    let wall = wall0.elapsed();
    // Fall back to wall time if schedstat is unavailable.
    let cpu = if cpu.is_zero() { wall } else { cpu };

    samples_ns.sort_unstable();
    let p99 = samples_ns
        .get(samples_ns.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or(0);
    let media = seconds as f64;
    let calls_per_core = calls as f64 * media / cpu.as_secs_f64();
    let lost = packets - forwarded;
    println!(
        "calls={calls} media_s={seconds} packets={packets} forwarded={forwarded} dropped={lost} \
         pcm_samples={pcm_samples} cpu_s={:.3} wall_s={:.3} ns_per_packet={:.0} p99_packet_us={:.2}",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        cpu.as_nanos() as f64 / packets.max(1) as f64,
        f64::from(p99) / 1000.0
    );
    if lost != 0 {
        eprintln!("error: {lost} packets were not forwarded");
        std::process::exit(1);
    }
    println!("media-relay: {calls_per_core:.0} calls per core (target 1500)");
}
