#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;

use super::*;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_000_000 + ms)
}

fn ramp(len: usize) -> Arc<PlayoutSource> {
    Arc::new(PlayoutSource::from_samples(
        (0..len).map(|i| i as i16).collect(),
    ))
}

fn write_wav(path: &Path, spec: hound::WavSpec, samples: &[i32]) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        if spec.bits_per_sample == 16 {
            w.write_sample(s as i16).unwrap();
        } else {
            w.write_sample(s).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn spec(rate: u32, channels: u16, bits: u16) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Sign changes of a signal: twice the frequency per second of a pure tone.
fn zero_crossings(samples: &[i16]) -> usize {
    samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count()
}

#[test]
fn frame_k_is_due_at_start_plus_k_times_20_ms_even_after_late_wakeups() {
    let mut p = Playout::new(ramp(8000), true, t(0));
    assert_eq!(p.poll_timeout(), Some(t(0)));
    assert_eq!(p.poll_frame(t(0)).unwrap().index, 0);
    assert_eq!(p.poll_frame(t(0)), None, "one frame per 20 ms");
    assert_eq!(p.poll_timeout(), Some(t(20)));
    assert_eq!(p.poll_frame(t(19)), None, "not before it is due");
    // The driver wakes 7 ms late: the frame goes out, the next one stays on the 20 ms grid.
    let f = p.poll_frame(t(27)).unwrap();
    assert_eq!((f.index, f.due), (1, t(20)));
    assert_eq!(
        p.poll_timeout(),
        Some(t(40)),
        "no drift from the late wake-up"
    );
    assert_eq!(p.poll_frame(t(40)).unwrap().samples[0], 320);
}

#[test]
fn a_late_driver_catches_up_three_frames_and_skips_older_ones() {
    let mut p = Playout::new(ramp(8000), true, t(0));
    assert!(p.poll_frame(t(0)).is_some());
    // Frames 1..=10 are due at 200 ms: the newest three come out, seven are skipped.
    let got: Vec<PlayoutFrame> = std::iter::from_fn(|| p.poll_frame(t(200))).collect();
    assert_eq!(
        got.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![8, 9, 10]
    );
    assert_eq!(p.skipped(), 7);
    assert_eq!(
        got[0].samples[0],
        8 * 160,
        "skipped audio is passed over, not delayed"
    );
    assert_eq!(p.poll_timeout(), Some(t(220)));
    // Two frames late is within the catch-up: nothing skipped.
    let got: Vec<u64> = std::iter::from_fn(|| p.poll_frame(t(240)))
        .map(|f| f.index)
        .collect();
    assert_eq!(got, vec![11, 12]);
    assert_eq!(p.skipped(), 7);
}

#[test]
fn a_looped_source_wraps_sample_exactly_and_never_finishes() {
    let mut p = Playout::new(ramp(250), true, t(0));
    let f0 = p.poll_frame(t(0)).unwrap();
    let f1 = p.poll_frame(t(20)).unwrap();
    assert_eq!(f0.samples[159], 159);
    assert_eq!(&f1.samples[..90], &(160..250).collect::<Vec<i16>>()[..]);
    assert_eq!(
        &f1.samples[90..],
        &(0..70).collect::<Vec<i16>>()[..],
        "the loop restarts mid-frame"
    );
    for k in 2..100 {
        assert!(!p.poll_frame(t(20 * k)).unwrap().last);
    }
    assert!(!p.is_finished());
    assert!(p.is_looped());
}

#[test]
fn a_once_source_ends_with_its_last_frame_padded_with_silence() {
    let mut p = Playout::new(ramp(400), false, t(0));
    let frames: Vec<PlayoutFrame> = (0..3).map(|k| p.poll_frame(t(20 * k)).unwrap()).collect();
    assert!(!frames[0].last && !frames[1].last);
    assert!(frames[2].last);
    assert_eq!(frames[2].samples[79], 399);
    assert!(
        frames[2].samples[80..].iter().all(|&s| s == 0),
        "padding after the end"
    );
    assert!(p.is_finished());
    assert_eq!(p.poll_timeout(), None);
    assert_eq!(p.poll_frame(t(60)), None);
}

#[test]
fn a_once_source_skipped_past_its_end_is_finished() {
    let mut p = Playout::new(ramp(320), false, t(0));
    assert_eq!(p.poll_frame(t(1000)), None);
    assert!(p.is_finished());
}

#[test]
fn tone_has_its_frequency_amplitude_and_cadence() {
    let src = PlayoutSource::tone(450.0, 1000, 4000, 8000);
    assert_eq!(src.samples().len(), 5 * 8000);
    assert_eq!(src.duration(), Duration::from_secs(5));
    assert_eq!(src.frames(), 250);
    let (on, off) = src.samples().split_at(8000);
    let crossings = zero_crossings(on);
    assert!(
        (898..=900).contains(&crossings),
        "450 Hz = 900 sign changes a second, got {crossings}"
    );
    let peak = on.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!((7900..=8000).contains(&peak), "peak {peak}");
    assert!(off.iter().all(|&s| s == 0), "the off part is silent");

    let steady = PlayoutSource::tone(1000.0, 20, 0, 1000);
    assert_eq!(steady.samples().len(), FRAME_SAMPLES);
    assert_eq!(
        PlayoutSource::tone(400.0, 0, 0, 1000),
        PlayoutSource::silence()
    );
}

#[test]
fn silence_is_one_zero_frame_and_loops_forever() {
    let src = Arc::new(PlayoutSource::silence());
    assert_eq!(src.frames(), 1);
    let mut p = Playout::new(src, true, t(0));
    for k in 0..10 {
        assert_eq!(p.poll_frame(t(20 * k)).unwrap().samples, [0; FRAME_SAMPLES]);
    }
    assert!(PlayoutSource::from_samples(Vec::new()) == PlayoutSource::silence());
}

#[test]
fn an_8_khz_mono_wav_is_taken_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("moh.wav");
    let samples: Vec<i32> = (0..1000).map(|i| (i * 7 % 2000) - 1000).collect();
    write_wav(&path, spec(8000, 1, 16), &samples);
    let src = PlayoutSource::from_wav(&path).unwrap();
    let expected: Vec<i16> = samples.iter().map(|&s| s as i16).collect();
    assert_eq!(src.samples(), &expected[..]);
}

#[test]
fn a_16_khz_stereo_wav_is_mixed_down_and_halved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stereo.wav");
    // Left 1000, right 3000; pairs of frames alternate with 0/0 so the averaging shows.
    let mut samples = Vec::new();
    for i in 0..800 {
        if i % 2 == 0 {
            samples.extend([1000, 3000]);
        } else {
            samples.extend([0, 0]);
        }
    }
    write_wav(&path, spec(16_000, 2, 16), &samples);
    let src = PlayoutSource::from_wav(&path).unwrap();
    assert_eq!(src.samples().len(), 400);
    assert!(
        src.samples().iter().all(|&s| s == 1000),
        "(2000 + 0) / 2 for every output sample"
    );
}

#[test]
fn a_44_1_khz_and_a_48_khz_wav_become_8_khz_with_the_tone_kept() {
    let dir = tempfile::tempdir().unwrap();
    for rate in [44_100u32, 48_000] {
        let path = dir.path().join(format!("{rate}.wav"));
        let step = 2.0 * std::f64::consts::PI * 400.0 / f64::from(rate);
        let samples: Vec<i32> = (0..rate)
            .map(|i| (10_000.0 * (step * f64::from(i)).sin()) as i32)
            .collect();
        write_wav(&path, spec(rate, 1, 16), &samples);
        let src = PlayoutSource::from_wav(&path).unwrap();
        assert_eq!(src.samples().len(), 8000, "{rate} Hz: one second");
        let crossings = zero_crossings(src.samples());
        assert!(
            (798..=802).contains(&crossings),
            "{rate} Hz: 400 Hz kept, {crossings} sign changes"
        );
        let peak = src
            .samples()
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap();
        assert!(peak > 9000, "{rate} Hz: little loss at 400 Hz, peak {peak}");
    }
}

#[test]
fn wavs_we_do_not_convert_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("24bit.wav");
    write_wav(&deep, spec(8000, 1, 24), &[1, 2, 3]);
    let e = PlayoutSource::from_wav(&deep).unwrap_err();
    assert!(matches!(e, PlayoutError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("24-bit"), "{e}");

    let slow = dir.path().join("4k.wav");
    write_wav(&slow, spec(4000, 1, 16), &[1, 2, 3]);
    let e = PlayoutSource::from_wav(&slow).unwrap_err();
    assert!(e.to_string().contains("4000 Hz"), "{e}");

    let empty = dir.path().join("empty.wav");
    write_wav(&empty, spec(8000, 1, 16), &[]);
    assert!(matches!(
        PlayoutSource::from_wav(&empty),
        Err(PlayoutError::Empty { .. })
    ));

    let missing = dir.path().join("missing.wav");
    let e = PlayoutSource::from_wav(&missing).unwrap_err();
    assert!(matches!(e, PlayoutError::Read { .. }));
    assert!(e.to_string().contains("missing.wav"), "{e}");
}

proptest::proptest! {
    /// Whatever the driver's wake-ups: frames stay on the 20 ms grid, come in order, never early,
    /// at most `MAX_CATCH_UP` at once, carry the audio of their place in the source, and every
    /// due frame is either handed out or counted as skipped.
    #[test]
    fn frames_stay_on_the_grid_whatever_the_wakeups(
        len in 1usize..2000,
        looped in proptest::bool::ANY,
        wakes in proptest::collection::vec(0i64..150, 1..60),
    ) {
        let mut p = Playout::new(ramp(len), looped, t(0));
        let (mut now, mut next_index, mut delivered) = (0i64, 0u64, 0u64);
        for d in wakes {
            now += d;
            let frames: Vec<PlayoutFrame> = std::iter::from_fn(|| p.poll_frame(t(now))).collect();
            proptest::prop_assert!(frames.len() as u64 <= MAX_CATCH_UP);
            for f in &frames {
                proptest::prop_assert!(f.index >= next_index, "in order");
                proptest::prop_assert_eq!(f.due, t(20 * f.index as i64));
                proptest::prop_assert!(f.due <= t(now), "never early");
                let pos = f.index as usize * FRAME_SAMPLES;
                if looped {
                    proptest::prop_assert_eq!(f.samples[0], (pos % len) as i16);
                } else {
                    proptest::prop_assert!(pos < len);
                    proptest::prop_assert_eq!(f.samples[0], pos as i16);
                    proptest::prop_assert_eq!(f.last, pos + FRAME_SAMPLES >= len);
                }
                next_index = f.index + 1;
            }
            delivered += frames.len() as u64;
            let due_now = (now / 20 + 1) as u64;
            if p.is_finished() {
                proptest::prop_assert!(!looped);
                proptest::prop_assert_eq!(p.poll_timeout(), None);
            } else {
                proptest::prop_assert_eq!(delivered + p.skipped(), due_now);
                proptest::prop_assert!(p.poll_timeout().unwrap() > t(now));
            }
        }
    }
}
