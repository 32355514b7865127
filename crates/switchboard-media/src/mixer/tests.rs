#![allow(clippy::unwrap_used)]

use super::*;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn frame(value: i16) -> Vec<i16> {
    vec![value; FRAME_SAMPLES]
}

/// One tick with customer = 1, agent = 10, supervisor = 100 pushed: what each party gets.
fn one_tick(mode: MonitorMode) -> Vec<(Party, i16)> {
    let mut m = Mixer::new(mode, at(0));
    m.push(Party::Customer, &frame(1));
    m.push(Party::Agent, &frame(10));
    m.push(Party::Supervisor, &frame(100));
    m.handle_timeout(at(20))
        .into_iter()
        .map(|f| {
            assert_eq!(f.samples.len(), FRAME_SAMPLES);
            assert!(f.samples.iter().all(|s| *s == f.samples[0]));
            (f.to, f.samples[0])
        })
        .collect()
}

#[test]
fn listen_gives_the_supervisor_both_parties_and_nobody_the_supervisor() {
    assert_eq!(one_tick(MonitorMode::Listen), vec![(Party::Supervisor, 11)]);
}

#[test]
fn whisper_reaches_the_agent_and_never_the_customer() {
    assert_eq!(
        one_tick(MonitorMode::Whisper),
        vec![(Party::Supervisor, 11), (Party::Agent, 101)]
    );
}

#[test]
fn barge_is_a_three_way_call() {
    assert_eq!(
        one_tick(MonitorMode::Barge),
        vec![
            (Party::Supervisor, 11),
            (Party::Agent, 101),
            (Party::Customer, 110)
        ]
    );
}

#[test]
fn the_mode_can_change_during_the_call() {
    let mut m = Mixer::new(MonitorMode::Listen, at(0));
    assert_eq!(m.handle_timeout(at(20)).len(), 1);
    m.set_mode(MonitorMode::Barge);
    assert_eq!(m.mode(), MonitorMode::Barge);
    assert_eq!(m.handle_timeout(at(40)).len(), 3);
}

#[test]
fn nothing_is_due_before_the_tick_and_ticks_are_twenty_ms_apart() {
    let mut m = Mixer::new(MonitorMode::Listen, at(1000));
    assert_eq!(m.poll_timeout(), at(1020));
    assert!(m.handle_timeout(at(1019)).is_empty());
    let frames = m.handle_timeout(at(1065));
    let dues: Vec<_> = frames.iter().map(|f| f.due).collect();
    assert_eq!(dues, vec![at(1020), at(1040), at(1060)]);
    assert_eq!(m.poll_timeout(), at(1080));
}

#[test]
fn a_silent_party_is_mixed_as_silence_and_a_short_frame_is_padded() {
    let mut m = Mixer::new(MonitorMode::Listen, at(0));
    m.push(Party::Customer, &[500; 100]);
    let f = m.handle_timeout(at(20)).remove(0);
    assert_eq!(&f.samples[..100], &[500; 100][..]);
    assert_eq!(&f.samples[100..], &[0; 60][..]);
}

#[test]
fn a_frame_that_arrives_a_tick_late_is_heard_in_the_next_frame() {
    let mut m = Mixer::new(MonitorMode::Listen, at(0));
    m.push(Party::Agent, &frame(7));
    m.push(Party::Agent, &frame(8));
    assert_eq!(m.handle_timeout(at(20))[0].samples[0], 7);
    assert_eq!(m.handle_timeout(at(40))[0].samples[0], 8);
    assert_eq!(m.handle_timeout(at(60))[0].samples[0], 0);
}

#[test]
fn loud_parties_saturate_instead_of_wrapping() {
    let mut m = Mixer::new(MonitorMode::Listen, at(0));
    m.push(Party::Customer, &frame(i16::MAX - 10));
    m.push(Party::Agent, &frame(1000));
    assert_eq!(m.handle_timeout(at(20))[0].samples[0], i16::MAX);
    m.push(Party::Customer, &frame(i16::MIN + 10));
    m.push(Party::Agent, &frame(-1000));
    assert_eq!(m.handle_timeout(at(40))[0].samples[0], i16::MIN);
}

#[test]
fn a_fast_source_cannot_build_up_delay() {
    let mut m = Mixer::new(MonitorMode::Listen, at(0));
    for v in 1..=15 {
        m.push(Party::Customer, &frame(v));
    }
    assert_eq!(m.overflowed(Party::Customer), 5 * FRAME_SAMPLES as u64);
    // Only the newest ten frames (200 ms) are left.
    let heard: Vec<i16> = (1..=11)
        .map(|i| m.handle_timeout(at(20 * i))[0].samples[0])
        .collect();
    assert_eq!(heard, vec![6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0]);
}

#[test]
fn a_very_late_timer_makes_up_a_few_frames_and_skips_the_rest() {
    let mut m = Mixer::new(MonitorMode::Listen, at(0));
    let frames = m.handle_timeout(at(1000));
    assert_eq!(frames.len(), MAX_CATCH_UP as usize);
    assert!(m.poll_timeout() > at(1000));
    assert!(m.poll_timeout() <= at(1020));
}

#[test]
fn modes_parse_from_their_names_only() {
    for mode in [
        MonitorMode::Listen,
        MonitorMode::Whisper,
        MonitorMode::Barge,
    ] {
        assert_eq!(mode.as_str().parse::<MonitorMode>().unwrap(), mode);
    }
    let e = "spy".parse::<MonitorMode>().unwrap_err();
    assert!(e.to_string().contains("listen, whisper or barge"));
}
