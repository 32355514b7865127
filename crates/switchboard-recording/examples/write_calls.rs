//! Benchmark-style run: records N calls of M seconds each through the real recorder (aligner,
//! hound, BufWriter, header refresh every second, fsync and SHA-256 at the end) and prints the
//! CPU time spent per call-second of audio.
//!
//! Audio is fed as the media bridge would: 20 ms packets of decoded PCM on both channels, calls
//! interleaved packet by packet so many files are open at once, as on a busy server.
//!
//! Usage: `cargo run --release -p switchboard-recording --example write_calls -- [CALLS] [SECONDS] [DIR]`
//! (defaults 200 calls × 60 s in a temporary directory). `SMOKE=1` runs 10 × 5 s.

use std::time::{Duration, Instant};

use switchboard_core::{CallId, Timestamp};
use switchboard_recording::{Channel, Layout, Recorder, RecorderConfig};

/// CPU time of this process so far: from `/proc/self/stat` (user + system, in clock ticks of
/// 10 ms on Linux), or `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    cpu_split().map(|(user, system)| user + system)
}

/// User and system CPU time of this process so far.
fn cpu_split() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((
        Duration::from_millis(utime * 10),
        Duration::from_millis(stime * 10),
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let smoke = std::env::var("SMOKE").is_ok_and(|v| v == "1");
    let mut args = std::env::args().skip(1);
    let calls: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(if smoke { 10 } else { 200 });
    let seconds: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(if smoke { 5 } else { 60 });
    let tmp = tempfile::tempdir()?;
    let root = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    let layout = Layout::new(&root);

    // One second of two different tones, reused as the "decoded G.711" payload.
    let tone = |hz: f64, amp: f64| -> Vec<i16> {
        (0..8000)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * hz * f64::from(i) / 8000.0).sin()) as i16)
            .collect()
    };
    let customer = tone(440.0, 8000.0);
    let agent = tone(1000.0, 3000.0);

    let start = Timestamp::from_secs(1_800_000_000);
    let cpu0 = cpu_time();
    let split0 = cpu_split();
    let wall0 = Instant::now();
    let mut recorders = (0..calls)
        .map(|i| {
            Recorder::create(
                &layout,
                &CallId::from(format!("bench-{i}")),
                start,
                start,
                RecorderConfig::default(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let packets = seconds * 50;
    for k in 0..packets {
        let now = start + Duration::from_millis(k * 20);
        let off = ((k % 50) * 160) as usize;
        let ts = (k * 160) as u32;
        for rec in &mut recorders {
            rec.push(Channel::Customer, ts, &customer[off..off + 160], now)?;
            rec.push(
                Channel::Agent,
                ts.wrapping_add(4242),
                &agent[off..off + 160],
                now,
            )?;
        }
    }
    let end = start + Duration::from_secs(seconds);
    let cpu_streaming = cpu_time();
    let mut bytes = 0u64;
    for rec in recorders {
        let info = rec.finish(end)?;
        bytes += info.size_bytes;
    }
    let wall = wall0.elapsed();
    let cpu = match (cpu0, cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => wall,
    };
    let call_seconds = (calls * seconds) as f64;
    if let (Some((u0, s0)), Some((u1, s1))) = (split0, cpu_split()) {
        eprintln!(
            "user {:.1} us, system {:.1} us per call-second",
            u1.saturating_sub(u0).as_secs_f64() * 1e6 / call_seconds,
            s1.saturating_sub(s0).as_secs_f64() * 1e6 / call_seconds
        );
    }
    if let (Some(a), Some(b)) = (cpu0, cpu_streaming) {
        let streaming = b.saturating_sub(a);
        eprintln!(
            "streaming (align + write + header refresh): {:.1} us per call-second; finish (fsync + SHA-256 read-back): {:.1} us per call-second",
            streaming.as_secs_f64() * 1e6 / call_seconds,
            cpu.saturating_sub(streaming).as_secs_f64() * 1e6 / call_seconds
        );
    }
    let per_call_second_us = cpu.as_secs_f64() * 1e6 / call_seconds;
    eprintln!(
        "{calls} calls x {seconds} s = {call_seconds} call-seconds, {:.1} MB written, cpu {:.3} s, wall {:.3} s",
        bytes as f64 / 1e6,
        cpu.as_secs_f64(),
        wall.as_secs_f64()
    );
    eprintln!(
        "one core records {:.0} concurrent calls at this cost",
        1e6 / per_call_second_us
    );
    println!(
        "recording-write: {per_call_second_us:.1} us CPU per call-second (target < 660 us, i.e. >= 1,500 calls per core)"
    );
    Ok(())
}
