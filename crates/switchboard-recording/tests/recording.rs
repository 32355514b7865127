//! A whole call recorded to disk and read back with hound: each party on its own channel, in
//! time, with silence exactly where the network lost audio or the agent paused.

mod common;

use common::*;
use switchboard_core::CallId;
use switchboard_recording::{Channel, Layout, Recorder, RecorderConfig, RecorderError};

const CUSTOMER_HZ: f64 = 440.0;
const CUSTOMER_AMP: f64 = 8000.0;
const AGENT_HZ: f64 = 1000.0;
const AGENT_AMP: f64 = 3000.0;

/// Ten seconds of call. Customer talks from 0 s and loses 2.0–2.2 s; their packets are sometimes
/// duplicated. The agent starts at 2 s with jittered, reordered packets. The agent pauses
/// recording at 5 s and resumes at 6 s.
fn record_call(root: &std::path::Path) -> switchboard_recording::RecordingInfo {
    let layout = Layout::new(root);
    let call = CallId::from("call-0001");
    let mut rec = Recorder::create(&layout, &call, t0(), t0(), RecorderConfig::default())
        .expect("recording step succeeds");
    let customer_base = 123_456u32;
    let agent_base = u32::MAX - 30_000; // wraps during the call
    let mut agent_pending: Option<(u32, Vec<i16>)> = None;
    for k in 0..500u64 {
        let at = k * 20;
        let now = t0() + ms(at);
        if at == 5000 {
            rec.pause(now).expect("recording step succeeds");
        }
        if at == 6000 {
            rec.resume(now).expect("recording step succeeds");
        }
        if !(100..110).contains(&k) {
            let ts = customer_base + (k as u32) * 160;
            let audio = tone(CUSTOMER_HZ, CUSTOMER_AMP, k * 160);
            rec.push(Channel::Customer, ts, &audio, now)
                .expect("recording step succeeds");
            if k % 13 == 0 {
                rec.push(Channel::Customer, ts, &audio, now + ms(3))
                    .expect("recording step succeeds");
            }
        }
        if at >= 2000 {
            let j = k - 100;
            let ts = agent_base.wrapping_add((j as u32) * 160);
            let audio = tone(AGENT_HZ, AGENT_AMP, j * 160);
            // Every fourth packet is held back and delivered after the next one.
            let jitter = ms(j % 3 * 7);
            if j % 4 == 1 {
                agent_pending = Some((ts, audio));
            } else {
                rec.push(Channel::Agent, ts, &audio, now + jitter)
                    .expect("recording step succeeds");
                if let Some((pts, paudio)) = agent_pending.take() {
                    rec.push(Channel::Agent, pts, &paudio, now + jitter + ms(1))
                        .expect("recording step succeeds");
                }
            }
        }
        if k % 5 == 0 {
            rec.handle_timeout(now + ms(10))
                .expect("recording step succeeds");
        }
    }
    rec.finish(t0() + ms(10_200))
        .expect("recording step succeeds")
}

#[test]
fn each_party_is_on_its_own_channel_in_time_with_silence_where_expected() {
    let dir = tempfile::tempdir().expect("recording step succeeds");
    let info = record_call(dir.path());
    let (spec, left, right) = read_channels(&info.path);
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    assert_eq!(left.len(), right.len(), "channels never drift apart");
    assert_eq!(left.len() as u64, info.frames);
    // The call ended at 10.2 s; the reorder window before that is not committed.
    assert!(
        (10_000..=10_200).contains(&info.duration_ms),
        "{}",
        info.duration_ms
    );

    // Customer (left): the tone, except where packets were lost and while paused.
    for (a, b) in [(50, 1950), (2250, 4800), (6300, 9950)] {
        let level = tone_level(&left, a, b, CUSTOMER_HZ);
        assert!(
            (CUSTOMER_AMP * 0.9..CUSTOMER_AMP * 1.1).contains(&level),
            "{a}-{b}: {level}"
        );
        assert!(
            tone_level(&left, a, b, AGENT_HZ) < 50.0,
            "no agent audio on the left"
        );
    }
    assert!(rms(&left, 2005, 2195) < 1.0, "lost packets are silence");

    // Agent (right): silent until they start at 2 s, then their tone.
    assert!(rms(&right, 0, 1995) < 1.0);
    for (a, b) in [(2050, 4800), (6300, 9950)] {
        let level = tone_level(&right, a, b, AGENT_HZ);
        assert!(
            (AGENT_AMP * 0.9..AGENT_AMP * 1.1).contains(&level),
            "{a}-{b}: {level}"
        );
        assert!(
            tone_level(&right, a, b, CUSTOMER_HZ) < 50.0,
            "no customer audio on the right"
        );
    }

    // The paused span: reported, and silent on both channels.
    assert_eq!(info.paused.len(), 1);
    let seg = info.paused[0];
    assert!(seg.start_ms() <= 5000 && seg.end_ms() >= 6000, "{seg:?}");
    assert!(seg.end_ms() - seg.start_ms() <= 1300, "{seg:?}");
    assert!(rms(&left, seg.start_ms() + 1, seg.end_ms()) < 1.0);
    assert!(rms(&right, seg.start_ms() + 1, seg.end_ms()) < 1.0);
    assert!(info.stats.duplicates > 0);
}

#[test]
fn finished_recording_is_filed_by_day_with_size_and_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let info = record_call(dir.path());
    assert_eq!(info.path, dir.path().join("2026/03/07/call-0001.wav"));
    let bytes = std::fs::read(&info.path).unwrap();
    assert_eq!(info.size_bytes, bytes.len() as u64);
    assert_eq!(info.size_bytes, 44 + info.frames * 4);
    use sha2::Digest;
    assert_eq!(info.sha256, hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(info.call_id, CallId::from("call-0001"));
    assert!(!info.truncated);
}

#[test]
fn a_call_id_with_path_tricks_is_stored_inside_the_day_directory() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path().join("recordings"));
    let call = CallId::from("../../../escape");
    let rec = Recorder::create(&layout, &call, t0(), t0(), RecorderConfig::default()).unwrap();
    let path = rec.path().to_owned();
    rec.finish(t0()).unwrap();
    assert!(path.starts_with(dir.path().join("recordings/2026/03/07")));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_existing_recording_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path());
    let call = CallId::from("same");
    let first = Recorder::create(&layout, &call, t0(), t0(), RecorderConfig::default()).unwrap();
    let again = Recorder::create(&layout, &call, t0(), t0(), RecorderConfig::default());
    assert!(matches!(again, Err(RecorderError::AlreadyExists(_))));
    first.finish(t0()).unwrap();
}

#[test]
fn a_recording_that_reaches_its_size_limit_stops_there_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = RecorderConfig {
        max_frames: 8000,
        ..RecorderConfig::default()
    };
    let mut rec = Recorder::create(
        &Layout::new(dir.path()),
        &CallId::from("long"),
        t0(),
        t0(),
        config,
    )
    .unwrap();
    let mut full = false;
    for k in 0..150u64 {
        let audio = tone(CUSTOMER_HZ, CUSTOMER_AMP, k * 160);
        match rec.push(
            Channel::Customer,
            (k * 160) as u32,
            &audio,
            t0() + ms(k * 20),
        ) {
            Ok(()) => {}
            Err(RecorderError::Full { max_frames }) => {
                assert_eq!(max_frames, 8000);
                full = true;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(full);
    let info = rec.finish(t0() + ms(3000)).unwrap();
    assert!(info.truncated);
    assert_eq!(info.frames, 8000);
    let (_, left, _) = read_channels(&info.path);
    assert_eq!(left.len(), 8000);
}
