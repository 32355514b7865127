//! Fixtures shared by the file-level tests: synthetic G.711-like tones and energy measurement.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use switchboard_core::Timestamp;

pub const RATE: u32 = 8000;
pub const PTIME: usize = 160;

pub fn t0() -> Timestamp {
    // 2026-03-07T12:00:00Z
    Timestamp::from_secs(1_772_884_800)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `PTIME` samples of a sine at `freq` Hz and `amplitude`, continuing from sample `offset`.
pub fn tone(freq: f64, amplitude: f64, offset: u64) -> Vec<i16> {
    (0..PTIME as u64)
        .map(|i| {
            let t = (offset + i) as f64 / f64::from(RATE);
            (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Both channels of a WAV file, plus its spec.
pub fn read_channels(path: &Path) -> (hound::WavSpec, Vec<i16>, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).expect("readable WAV");
    let spec = reader.spec();
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (spec, left, right)
}

/// Root-mean-square level of `samples[from_ms..to_ms]`.
pub fn rms(samples: &[i16], from_ms: u64, to_ms: u64) -> f64 {
    let a = ((from_ms * 8) as usize).min(samples.len());
    let b = ((to_ms * 8) as usize).min(samples.len());
    if a == b {
        return 0.0;
    }
    let sum: f64 = samples[a..b].iter().map(|&s| f64::from(s).powi(2)).sum();
    (sum / (b - a) as f64).sqrt()
}

/// Energy of a frequency in a window (Goertzel), normalised so a pure tone of amplitude A
/// gives about A.
pub fn tone_level(samples: &[i16], from_ms: u64, to_ms: u64, freq: f64) -> f64 {
    let a = ((from_ms * 8) as usize).min(samples.len());
    let b = ((to_ms * 8) as usize).min(samples.len());
    let n = (b - a) as f64;
    if n == 0.0 {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(RATE);
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in &samples[a..b] {
        let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    2.0 * power.sqrt() / n
}
