//! The aligner's rules, driven with a made-up clock: no files, no sleeping.

use std::time::Duration;

use switchboard_core::Timestamp;
use switchboard_recording::align::{AlignError, Aligner, AlignerConfig, Channel, Input, Output};

const PTIME: usize = 160; // 20 ms at 8 kHz
const CUSTOMER: i16 = 1000;
const AGENT: i16 = 2000;

fn t0() -> Timestamp {
    Timestamp::from_secs(1_800_000_000)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An aligner plus everything it has emitted, checked for contiguity.
struct Sim {
    aligner: Aligner,
    frames: Vec<(i16, i16)>,
}

impl Sim {
    fn new() -> Self {
        Self::with(AlignerConfig::default())
    }

    fn with(config: AlignerConfig) -> Self {
        Sim {
            aligner: Aligner::new(&config, t0()).expect("valid config"),
            frames: Vec::new(),
        }
    }

    fn collect(&mut self) {
        while let Some(Output::Frames { start, interleaved }) = self.aligner.poll_output() {
            assert_eq!(start, self.frames.len() as u64, "output must be contiguous");
            self.frames
                .extend(interleaved.chunks_exact(2).map(|f| (f[0], f[1])));
        }
    }

    /// Packet of constant `value` on `channel`, RTP timestamp `ts`, arriving at t0 + `at_ms`.
    fn packet(&mut self, channel: Channel, ts: u32, value: i16, at_ms: u64) {
        self.aligner
            .handle(
                Input::Audio {
                    channel,
                    rtp_timestamp: ts,
                    samples: &[value; PTIME],
                },
                t0() + ms(at_ms),
            )
            .expect("packet accepted");
        self.collect();
    }

    fn finish(&mut self, at_ms: u64) -> u64 {
        let frames = self.aligner.finish(t0() + ms(at_ms)).expect("first finish");
        self.collect();
        frames
    }

    fn left(&self, range: std::ops::Range<usize>) -> Vec<i16> {
        self.frames[range].iter().map(|f| f.0).collect()
    }

    fn right(&self, range: std::ops::Range<usize>) -> Vec<i16> {
        self.frames[range].iter().map(|f| f.1).collect()
    }
}

fn all(v: &[i16], value: i16) -> bool {
    v.iter().all(|&s| s == value)
}

/// Packet `k` of a channel that started at `start_ms`: timestamp `base + k * 160`, arriving
/// 20 ms after its first sample was spoken.
fn stream(sim: &mut Sim, channel: Channel, value: i16, base: u32, start_ms: u64, packets: u32) {
    for k in 0..packets {
        let ts = base.wrapping_add(k * PTIME as u32);
        sim.packet(channel, ts, value, start_ms + u64::from(k) * 20);
    }
}

/// Both parties sending at once, packet by packet.
fn conversation(sim: &mut Sim, base: u32, start_ms: u64, packets: u32) {
    for k in 0..packets {
        let ts = base.wrapping_add(k * PTIME as u32);
        let at = start_ms + u64::from(k) * 20;
        sim.packet(Channel::Customer, ts, CUSTOMER, at);
        sim.packet(Channel::Agent, ts, AGENT, at);
    }
}

#[test]
fn late_starting_agent_starts_at_the_offset_of_their_first_packet() {
    let mut sim = Sim::new();
    // Customer talks from the start; the agent's first packet arrives two seconds later.
    for k in 0..200u32 {
        let at = u64::from(k) * 20;
        sim.packet(Channel::Customer, 5_000 + k * 160, CUSTOMER, at);
        if at >= 2000 {
            sim.packet(Channel::Agent, 90_000 + (k - 100) * 160, AGENT, at);
        }
    }
    let frames = sim.finish(4000);
    assert_eq!(frames as usize, sim.frames.len());
    assert!(
        all(&sim.right(0..16_000), 0),
        "agent silent before they start"
    );
    assert!(
        all(&sim.right(16_000..32_000), AGENT),
        "agent from exactly 2 s on"
    );
    assert!(all(&sim.left(0..32_000), CUSTOMER));
}

#[test]
fn lost_packet_becomes_silence_and_the_next_one_lands_in_place() {
    let mut sim = Sim::new();
    for k in 0..50u32 {
        if k == 10 {
            continue; // lost
        }
        sim.packet(Channel::Customer, k * 160, CUSTOMER, u64::from(k) * 20);
    }
    sim.finish(1000);
    assert!(all(&sim.left(0..1600), CUSTOMER));
    assert!(all(&sim.left(1600..1760), 0));
    assert!(all(&sim.left(1760..8000), CUSTOMER));
    assert_eq!(sim.frames.len(), 8000);
}

#[test]
fn reordered_packets_within_the_window_land_in_place() {
    let mut sim = Sim::new();
    // Packets 3 and 4 swap; packet 7 comes 60 ms late (inside the 100 ms window).
    let order = [0u32, 1, 2, 4, 3, 5, 6, 8, 9, 10, 7, 11, 12, 13, 14];
    for (i, &k) in order.iter().enumerate() {
        sim.packet(Channel::Customer, k * 160, k as i16 + 1, i as u64 * 20);
    }
    sim.finish(400);
    for k in 0..15usize {
        assert!(
            all(&sim.left(k * 160..(k + 1) * 160), k as i16 + 1),
            "packet {k}"
        );
    }
    assert_eq!(sim.aligner.stats().late, 0);
}

#[test]
fn packets_arriving_after_their_span_was_written_are_dropped() {
    let mut sim = Sim::new();
    for k in 0..30u32 {
        if k != 5 {
            sim.packet(Channel::Customer, k * 160, CUSTOMER, u64::from(k) * 20);
        }
    }
    // Packet 5 shows up 400 ms late: its span has been committed as silence.
    sim.packet(Channel::Customer, 5 * 160, 7, 29 * 20 + 1);
    sim.finish(700);
    assert!(all(&sim.left(800..960), 0));
    assert_eq!(sim.aligner.stats().late, 1);
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let mut sim = Sim::new();
    for k in 0..20u32 {
        sim.packet(Channel::Customer, k * 160, CUSTOMER, u64::from(k) * 20);
        if k == 8 {
            // Same timestamp again with different content: the first copy wins.
            sim.packet(Channel::Customer, k * 160, 5, u64::from(k) * 20 + 1);
        }
    }
    sim.finish(500);
    assert!(all(&sim.left(0..3200), CUSTOMER));
    assert_eq!(sim.aligner.stats().duplicates, 1);
}

#[test]
fn timestamp_wrap_around_keeps_the_stream_continuous() {
    let mut sim = Sim::new();
    let base = u32::MAX - 5 * 160 + 1;
    stream(&mut sim, Channel::Agent, AGENT, base, 0, 20);
    sim.finish(500);
    assert_eq!(sim.frames.len(), 20 * 160);
    assert!(all(&sim.right(0..3200), AGENT));
    assert_eq!(sim.aligner.stats().resyncs, 0);
}

#[test]
fn timestamp_jump_re_anchors_on_the_wall_clock_once_it_persists() {
    let mut sim = Sim::new();
    stream(&mut sim, Channel::Customer, CUSTOMER, 0, 0, 50);
    // From 1 s on the sender's timestamps jump by an hour (a new SSRC, say).
    let jumped = 50 * 160 + 3600 * 8000;
    stream(&mut sim, Channel::Customer, 3, jumped, 1000, 50);
    sim.finish(2000);
    assert_eq!(sim.aligner.stats().resyncs, 1);
    // No hour of silence was written: the recording is about two seconds long.
    assert!(sim.frames.len() <= 2 * 8000 + 800, "{}", sim.frames.len());
    // The 200 ms of confirmation are silence, then the new audio continues on time.
    assert!(all(&sim.left(8000..9600), 0));
    assert!(all(&sim.left(9800..16_000), 3));
}

#[test]
fn a_short_burst_after_a_network_stall_does_not_re_anchor() {
    let mut sim = Sim::new();
    for k in 0..100u32 {
        // Packets 40..=90 are held up by the network and delivered together at 1.82 s.
        let at = if (40..=90).contains(&k) {
            1820 + u64::from(k - 40)
        } else {
            u64::from(k) * 20
        };
        sim.packet(Channel::Customer, k * 160, CUSTOMER, at);
    }
    sim.finish(2100);
    assert_eq!(sim.aligner.stats().resyncs, 0);
    // The late part is silence; the rest is where its timestamps say.
    assert!(all(&sim.left(0..6400), CUSTOMER));
    assert!(all(&sim.left(91 * 160..100 * 160), CUSTOMER));
    assert!(sim.aligner.stats().late > 0);
}

#[test]
fn frozen_timestamps_after_hold_re_anchor_instead_of_dropping_the_rest_of_the_call() {
    let mut sim = Sim::new();
    stream(&mut sim, Channel::Agent, AGENT, 0, 0, 50);
    // On hold for 5 s with no RTP; the phone resumes with the timestamp where it stopped.
    stream(&mut sim, Channel::Agent, 9, 50 * 160, 6000, 100);
    sim.finish(8000);
    assert_eq!(sim.aligner.stats().resyncs, 1);
    assert!(all(&sim.right(0..8000), AGENT));
    assert!(all(&sim.right(8000..48_000), 0), "hold is silence");
    let tail = sim.right(50_000..sim.frames.len());
    assert!(all(&tail, 9) && tail.len() > 10_000);
}

#[test]
fn a_long_silence_on_every_channel_is_cut_to_the_gap_cap() {
    let mut sim = Sim::with(AlignerConfig {
        max_gap: Duration::from_secs(10),
        ..AlignerConfig::default()
    });
    conversation(&mut sim, 0, 0, 50);
    for s in 1..=120 {
        sim.aligner.handle_timeout(t0() + Duration::from_secs(s));
        sim.collect();
    }
    // Both come back after two minutes, timestamps advanced as if they had been sending.
    conversation(&mut sim, 121 * 8000, 121_000, 50);
    sim.finish(122_500);
    let len = sim.frames.len();
    assert!((11 * 8000..13 * 8000).contains(&len), "length {len}");
    // The audio after the gap is not lost, and both channels resume together.
    let after_gap = &sim.frames[9 * 8000..];
    let n = after_gap.iter().filter(|f| f.0 == CUSTOMER).count();
    let m = after_gap.iter().filter(|f| f.1 == AGENT).count();
    let first_c = after_gap.iter().position(|f| f.0 == CUSTOMER);
    let first_a = after_gap.iter().position(|f| f.1 == AGENT);
    assert_eq!(first_c, first_a, "both channels resume on the same frame");
    assert!(n >= 6000 && m >= 6000, "{n} {m}");
    assert_eq!(n, m);
    assert!(sim.aligner.stats().gap_frames_cut > 100 * 8000);
}

#[test]
fn a_quiet_party_is_filled_with_silence_as_time_passes() {
    let mut sim = Sim::new();
    stream(&mut sim, Channel::Customer, CUSTOMER, 0, 0, 10);
    for k in 1..=10 {
        sim.aligner.handle_timeout(t0() + ms(200 * k));
        sim.collect();
    }
    // Nothing more arrived, yet two seconds minus the reorder window are on disk.
    assert_eq!(sim.frames.len(), 2000 * 8 - 800);
    assert!(all(&sim.left(0..1600), CUSTOMER));
    assert!(all(&sim.left(1600..sim.frames.len()), 0));
}

#[test]
fn paused_span_is_silent_on_both_channels_and_reported() {
    let mut sim = Sim::new();
    for k in 0..150u32 {
        let at = u64::from(k) * 20;
        if at == 1000 {
            sim.aligner.handle(Input::Pause, t0() + ms(at)).unwrap();
        }
        if at == 2000 {
            sim.aligner.handle(Input::Resume, t0() + ms(at)).unwrap();
        }
        sim.packet(Channel::Customer, k * 160, CUSTOMER, at);
        sim.packet(Channel::Agent, k * 160, AGENT, at);
    }
    sim.finish(3000);
    let segments = sim.aligner.paused_segments().to_vec();
    assert_eq!(segments.len(), 1);
    let seg = segments[0];
    // Muting starts no later than the request and ends no earlier than the resume.
    assert!(seg.start <= 8000 && seg.end >= 16_000, "{seg:?}");
    assert!(seg.end - seg.start <= 8000 + 2 * 800 + 320, "{seg:?}");
    let (a, b) = (seg.start as usize, seg.end as usize);
    assert!(all(&sim.left(a..b), 0) && all(&sim.right(a..b), 0));
    assert!(all(&sim.left(0..a), CUSTOMER) && all(&sim.right(0..a), AGENT));
    assert!(all(&sim.left(b..24_000), CUSTOMER) && all(&sim.right(b..24_000), AGENT));
    assert_eq!(seg.start_ms(), seg.start / 8);
}

#[test]
fn pause_left_open_is_closed_at_finish() {
    let mut sim = Sim::new();
    stream(&mut sim, Channel::Customer, CUSTOMER, 0, 0, 25);
    sim.aligner.handle(Input::Pause, t0() + ms(500)).unwrap();
    stream(&mut sim, Channel::Customer, CUSTOMER, 25 * 160, 500, 25);
    let frames = sim.finish(1000);
    let seg = sim.aligner.paused_segments()[0];
    assert_eq!(seg.end, frames);
    assert!(all(&sim.left(seg.start as usize..frames as usize), 0));
}

#[test]
fn pausing_twice_or_resuming_unpaused_is_an_error() {
    let mut a = Aligner::new(&AlignerConfig::default(), t0()).unwrap();
    assert_eq!(a.handle(Input::Resume, t0()), Err(AlignError::NotPaused));
    a.handle(Input::Pause, t0()).unwrap();
    assert_eq!(a.handle(Input::Pause, t0()), Err(AlignError::AlreadyPaused));
}

#[test]
fn oversized_packets_and_input_after_finish_are_refused() {
    let mut a = Aligner::new(&AlignerConfig::default(), t0()).unwrap();
    let big = vec![0i16; 8001];
    let err = a.handle(
        Input::Audio {
            channel: Channel::Agent,
            rtp_timestamp: 0,
            samples: &big,
        },
        t0(),
    );
    assert!(matches!(err, Err(AlignError::PacketTooLarge { .. })));
    a.finish(t0()).unwrap();
    assert_eq!(a.handle(Input::Pause, t0()), Err(AlignError::Finished));
}

#[test]
fn a_configuration_that_cannot_work_is_refused() {
    let bad = AlignerConfig {
        resync_threshold: ms(50),
        ..AlignerConfig::default()
    };
    assert!(matches!(
        Aligner::new(&bad, t0()),
        Err(AlignError::InvalidConfig(_))
    ));
    let huge_gap = AlignerConfig {
        max_gap: Duration::from_secs(86_400),
        ..AlignerConfig::default()
    };
    assert!(matches!(
        Aligner::new(&huge_gap, t0()),
        Err(AlignError::InvalidConfig(_))
    ));
}

proptest::proptest! {
    /// Whatever the network does (loss, duplication, reordering, jitter, wild timestamps), the
    /// aligner never panics, its output is contiguous, and it stays bounded.
    #[test]
    fn any_packet_pattern_yields_contiguous_bounded_output(
        events in proptest::collection::vec((0u8..2, 0u32..400, -3i64..3, proptest::bool::ANY, 0u64..300), 1..300)
    ) {
        let mut sim = Sim::new();
        let mut now = 0u64;
        for (ch, k, skew, wild, jitter) in events {
            now += 5;
            let channel = if ch == 0 { Channel::Customer } else { Channel::Agent };
            let ts = if wild { k.wrapping_mul(2_654_435_761) } else { (k as i64 + skew).max(0) as u32 * 160 };
            sim.aligner.handle(Input::Audio { channel, rtp_timestamp: ts, samples: &[1; PTIME] }, t0() + ms(now + jitter)).unwrap();
            sim.collect();
        }
        let frames = sim.finish(now + 400);
        proptest::prop_assert_eq!(frames as usize, sim.frames.len());
        // Never longer than the wall time plus the largest possible lead.
        proptest::prop_assert!(sim.frames.len() as u64 <= (now + 400 + 300) * 8 + 3 * 8000);
    }
}
