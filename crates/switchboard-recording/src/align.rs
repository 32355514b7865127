//! Placing two RTP-timed channels on one sample timeline. Pure logic: no files, no clock.
//!
//! Each channel (customer, agent) arrives as decoded PCM with the RTP timestamp of its first
//! sample. The aligner turns that into interleaved stereo frames on a single timeline that starts
//! when the recorder was created:
//!
//! - A channel's first packet is placed at its wall-clock arrival on the timeline, so a party who
//!   starts talking later starts at the right offset. Later packets are placed by their RTP
//!   timestamp relative to that first packet (32-bit wrap-around handled by unwrapping against
//!   the newest timestamp seen).
//! - Frames are committed (emitted) once every channel is complete up to them: a channel counts
//!   as complete up to its newest packet, extrapolated by wall time while it is silent, minus a
//!   small reorder window. Anything not received by then is silence, so channels never drift.
//! - Duplicates and packets that arrive after their span was committed are dropped and counted.
//! - A packet whose timestamp puts it more than `resync_threshold` away from the wall clock is a
//!   discontinuity candidate (a new SSRC, a sender whose timestamps froze on hold, a bogus
//!   packet). It is dropped; if packets keep agreeing with the candidate for `resync_after`
//!   without any packet agreeing with the old timing, the channel is re-anchored on the wall
//!   clock. A short burst after a network stall never re-anchors.
//! - When no channel has sent anything for longer than `max_gap`, the extra time is cut from the
//!   timeline instead of being written as silence (a clock step or a long media outage must not
//!   write hours of zeros).
//! - Pause/resume mutes a span: it is written as silence and reported as a [`PausedSegment`].

use std::collections::VecDeque;
use std::time::Duration;

use switchboard_core::Timestamp;

/// Sample rate of every recording, in Hz (G.711 narrowband).
pub const SAMPLE_RATE: u32 = 8000;

const SAMPLES_PER_MS: u64 = SAMPLE_RATE as u64 / 1000;

/// How many recent timestamps per channel are remembered to spot duplicates.
const RECENT_TIMESTAMPS: usize = 64;

/// What went wrong feeding the aligner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlignError {
    #[error("packet of {samples} samples exceeds the limit of {limit}")]
    PacketTooLarge { samples: usize, limit: usize },
    #[error("recording is already paused")]
    AlreadyPaused,
    #[error("recording is not paused")]
    NotPaused,
    #[error("recording is already finished")]
    Finished,
    #[error("invalid aligner configuration: {0}")]
    InvalidConfig(&'static str),
}

/// Which party a stream of audio belongs to. Customer is the left channel, agent the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Customer,
    Agent,
}

impl Channel {
    /// Position in an interleaved frame: 0 = left, 1 = right.
    pub const fn index(self) -> usize {
        match self {
            Channel::Customer => 0,
            Channel::Agent => 1,
        }
    }
}

/// Tuning of the aligner. The defaults suit G.711 over a LAN or the public internet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlignerConfig {
    /// How long the aligner waits for a missing packet before writing silence in its place.
    /// Also the delay between a packet's arrival and its audio reaching the file.
    pub reorder_window: Duration,
    /// How far a packet's timestamp may stray from the wall clock before it is treated as a
    /// discontinuity rather than jitter or drift.
    pub resync_threshold: Duration,
    /// How long packets must agree on a new timing before the channel is re-anchored.
    pub resync_after: Duration,
    /// Longest stretch of silence written when no channel sends anything; the rest is cut.
    pub max_gap: Duration,
    /// Largest packet accepted, in samples (one second by default).
    pub max_packet_samples: usize,
}

impl Default for AlignerConfig {
    fn default() -> Self {
        AlignerConfig {
            reorder_window: Duration::from_millis(100),
            resync_threshold: Duration::from_secs(1),
            resync_after: Duration::from_millis(200),
            max_gap: Duration::from_secs(60),
            max_packet_samples: SAMPLE_RATE as usize,
        }
    }
}

/// One input to the aligner.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Decoded PCM of one RTP packet; `rtp_timestamp` is the timestamp of `samples[0]`.
    Audio {
        channel: Channel,
        rtp_timestamp: u32,
        samples: &'a [i16],
    },
    /// Stop recording audio (card numbers); the span is written as silence.
    Pause,
    /// Record audio again.
    Resume,
}

/// What the aligner asks its driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Interleaved stereo frames (left, right, left, right …) starting at frame `start`.
    Frames { start: u64, interleaved: Vec<i16> },
}

/// A muted span of the recording, in frames (samples per channel) from the start of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PausedSegment {
    /// First muted frame.
    pub start: u64,
    /// First frame after the muted span.
    pub end: u64,
}

impl PausedSegment {
    /// Start of the span in milliseconds from the start of the recording.
    pub fn start_ms(&self) -> u64 {
        self.start / SAMPLES_PER_MS
    }

    /// End of the span in milliseconds from the start of the recording.
    pub fn end_ms(&self) -> u64 {
        self.end / SAMPLES_PER_MS
    }
}

/// Counters for monitoring: how clean the incoming media was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlignStats {
    /// Audio packets handed in (empty ones not counted).
    pub packets: u64,
    /// Packets dropped because the same timestamp was already received.
    pub duplicates: u64,
    /// Packets dropped because their whole span was already committed.
    pub late: u64,
    /// Packets dropped while their timing disagreed with the channel's (discontinuity).
    pub discontinuous: u64,
    /// Times a channel was re-anchored on the wall clock.
    pub resyncs: u64,
    /// Frames of silence cut from the timeline because nobody sent anything for too long.
    pub gap_frames_cut: u64,
}

/// The timing of one channel's RTP stream.
#[derive(Debug, Clone, Copy)]
struct Stream {
    newest_ts: u32,
    newest_ext: i64,
    /// Timeline position of a sample = extended timestamp + offset.
    offset: i64,
    /// End (exclusive) of the newest packet on the timeline.
    newest_end: i64,
    /// Timeline clock when the newest packet arrived.
    newest_arrival: u64,
}

/// A possible new timing for a channel, waiting for confirmation.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    last_ts: u32,
    last_ext: i64,
    offset: i64,
    since: Timestamp,
    last_end: i64,
    last_arrival: u64,
}

#[derive(Debug, Default)]
struct Lane {
    /// Samples for timeline positions `[cursor, cursor + buf.len())`.
    buf: VecDeque<i16>,
    stream: Option<Stream>,
    candidate: Option<Candidate>,
    recent: VecDeque<i64>,
}

impl Lane {
    fn remember(&mut self, ext: i64) {
        if self.recent.len() == RECENT_TIMESTAMPS {
            self.recent.pop_front();
        }
        self.recent.push_back(ext);
    }
}

/// The aligner state machine. See the module docs for the rules it applies.
#[derive(Debug)]
pub struct Aligner {
    start: Timestamp,
    window: u64,
    threshold: i64,
    resync_after: Duration,
    max_gap: u64,
    max_packet: usize,
    /// Most samples a channel may hold beyond the cursor (bounds memory).
    max_ahead: u64,
    /// Wall-clock samples cut from the timeline by the gap cap.
    skipped: u64,
    /// Last value of the timeline clock (never goes backwards).
    clock: u64,
    /// Timeline clock at the last packet on any channel.
    last_activity: u64,
    /// Next frame to commit; everything before it has been emitted.
    cursor: u64,
    lanes: [Lane; 2],
    paused_since: Option<u64>,
    segments: Vec<PausedSegment>,
    out: VecDeque<Output>,
    stats: AlignStats,
    last_now: Timestamp,
    finished: bool,
}

/// Extends a 32-bit RTP timestamp against a reference, taking the nearest interpretation
/// (so both wrap-around and modest reordering come out right).
fn extend(reference_ts: u32, reference_ext: i64, ts: u32) -> i64 {
    // Reinterpreting the wrapped difference as signed is the point: it picks the nearest of the
    // candidates 2^32 apart.
    reference_ext + i64::from(ts.wrapping_sub(reference_ts) as i32)
}

fn ms_to_samples(d: Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX / SAMPLES_PER_MS)
        .saturating_mul(SAMPLES_PER_MS)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Aligner {
    /// A new aligner whose timeline starts (frame 0) at `start`.
    pub fn new(config: &AlignerConfig, start: Timestamp) -> Result<Self, AlignError> {
        if config.max_packet_samples == 0 {
            return Err(AlignError::InvalidConfig(
                "max_packet_samples must be positive",
            ));
        }
        if config.resync_threshold <= config.reorder_window {
            return Err(AlignError::InvalidConfig(
                "resync_threshold must exceed reorder_window",
            ));
        }
        // Upper bounds keep every buffer and every block of silence a small allocation.
        if config.max_gap > Duration::from_secs(3600)
            || config.resync_threshold > Duration::from_secs(60)
            || config.max_packet_samples > 10 * SAMPLE_RATE as usize
        {
            return Err(AlignError::InvalidConfig(
                "max_gap ≤ 1 h, resync_threshold ≤ 60 s, max_packet_samples ≤ 10 s",
            ));
        }
        let window = ms_to_samples(config.reorder_window);
        let threshold = ms_to_samples(config.resync_threshold);
        let max_packet = config.max_packet_samples;
        Ok(Aligner {
            start,
            window,
            threshold: to_i64(threshold),
            resync_after: config.resync_after,
            max_gap: ms_to_samples(config.max_gap),
            max_packet,
            // A fast channel may lead the wall clock by the threshold and a slow one trail it
            // by as much; the cursor follows the slower one.
            max_ahead: 2 * threshold + window + max_packet as u64,
            skipped: 0,
            clock: 0,
            last_activity: 0,
            cursor: 0,
            lanes: [Lane::default(), Lane::default()],
            paused_since: None,
            segments: Vec::new(),
            out: VecDeque::new(),
            stats: AlignStats::default(),
            last_now: start,
            finished: false,
        })
    }

    /// Feeds one input at time `now`.
    pub fn handle(&mut self, input: Input<'_>, now: Timestamp) -> Result<(), AlignError> {
        if self.finished {
            return Err(AlignError::Finished);
        }
        match input {
            Input::Audio {
                channel,
                rtp_timestamp,
                samples,
            } => self.audio(channel, rtp_timestamp, samples, now)?,
            Input::Pause => self.pause(now)?,
            Input::Resume => self.resume(now)?,
        }
        Ok(())
    }

    /// Lets time pass with no input: commits silence for channels that stay quiet.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if !self.finished {
            self.advance(now);
        }
    }

    /// When the driver should call [`Aligner::handle_timeout`] if nothing arrives before.
    /// Silence is committed in steps of the reorder window.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.finished {
            return None;
        }
        let step =
            Duration::from_millis(self.window / SAMPLES_PER_MS).max(Duration::from_millis(20));
        Some(self.last_now + step)
    }

    /// Next output for the driver, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Ends the recording: everything received is committed, an open pause is closed.
    /// Returns the total number of frames.
    pub fn finish(&mut self, now: Timestamp) -> Result<u64, AlignError> {
        if self.finished {
            return Err(AlignError::Finished);
        }
        self.advance(now);
        let buffered = self
            .lanes
            .iter()
            .map(|l| l.buf.len() as u64)
            .max()
            .unwrap_or(0);
        self.commit_to(self.cursor + buffered);
        if let Some(start) = self.paused_since.take() {
            self.segments.push(PausedSegment {
                start,
                end: self.cursor.max(start),
            });
        }
        self.finished = true;
        Ok(self.cursor)
    }

    /// Frames committed so far.
    pub fn frames(&self) -> u64 {
        self.cursor
    }

    /// Whether audio is currently muted.
    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// Closed paused spans, in order.
    pub fn paused_segments(&self) -> &[PausedSegment] {
        &self.segments
    }

    /// Counters so far.
    pub fn stats(&self) -> AlignStats {
        self.stats
    }

    /// The timeline clock: wall-clock samples since start, minus cut gaps, never decreasing.
    /// `packet` says a packet arrives now, which ends any gap.
    fn timeline(&mut self, now: Timestamp, packet: bool) -> u64 {
        if now > self.last_now {
            self.last_now = now;
        }
        let wall = ms_to_samples(now.since(self.start));
        self.clock = self.clock.max(wall.saturating_sub(self.skipped));
        // Cut the part of a stretch with no packets on any channel that exceeds the cap.
        let limit = self.last_activity.saturating_add(self.max_gap);
        if self.clock > limit {
            let excess = self.clock - limit;
            self.skipped = self.skipped.saturating_add(excess);
            self.stats.gap_frames_cut = self.stats.gap_frames_cut.saturating_add(excess);
            self.clock = limit;
        }
        if packet {
            self.last_activity = self.clock;
        }
        self.clock
    }

    fn audio(
        &mut self,
        channel: Channel,
        ts: u32,
        samples: &[i16],
        now: Timestamp,
    ) -> Result<(), AlignError> {
        if samples.len() > self.max_packet {
            return Err(AlignError::PacketTooLarge {
                samples: samples.len(),
                limit: self.max_packet,
            });
        }
        if samples.is_empty() {
            return Ok(());
        }
        self.stats.packets += 1;
        let t = self.timeline(now, true);
        let n = samples.len() as i64;
        let cursor = self.cursor;
        let threshold = self.threshold;
        let lane = &mut self.lanes[channel.index()];
        let Some(stream) = lane.stream else {
            // First packet: anchor on the wall clock.
            let pos = to_i64(t.max(cursor));
            lane.stream = Some(Stream {
                newest_ts: ts,
                newest_ext: i64::from(ts),
                offset: pos - i64::from(ts),
                newest_end: pos + n,
                newest_arrival: t,
            });
            lane.remember(i64::from(ts));
            self.place(channel, pos, samples);
            self.advance(now);
            return Ok(());
        };

        let ext = extend(stream.newest_ts, stream.newest_ext, ts);
        if lane.recent.contains(&ext) {
            self.stats.duplicates += 1;
            return Ok(());
        }
        let pos = ext + stream.offset;
        if (pos - to_i64(t)).abs() <= threshold {
            if ext > stream.newest_ext {
                lane.stream = Some(Stream {
                    newest_ts: ts,
                    newest_ext: ext,
                    newest_end: stream.newest_end.max(pos + n),
                    newest_arrival: t,
                    ..stream
                });
                // A packet that fits the old timing disproves any pending discontinuity.
                lane.candidate = None;
            }
            lane.remember(ext);
            self.place(channel, pos, samples);
        } else if ext > stream.newest_ext || lane.candidate.is_some() {
            self.discontinuity(channel, ts, samples, now, t);
        } else {
            // An old packet far from the wall clock: nothing sensible to do with it.
            self.stats.late += 1;
        }
        self.advance(now);
        Ok(())
    }

    /// A packet that does not fit the channel's timing: track it as a candidate new timing and
    /// adopt that once it has held for `resync_after`.
    fn discontinuity(
        &mut self,
        channel: Channel,
        ts: u32,
        samples: &[i16],
        now: Timestamp,
        t: u64,
    ) {
        let n = samples.len() as i64;
        let t_i = to_i64(t);
        let threshold = self.threshold;
        let resync_after = self.resync_after;
        let lane = &mut self.lanes[channel.index()];
        let fresh = Candidate {
            last_ts: ts,
            last_ext: i64::from(ts),
            offset: t_i - i64::from(ts),
            since: now,
            last_end: t_i + n,
            last_arrival: t,
        };
        let candidate = match lane.candidate {
            Some(c) => {
                let ext = extend(c.last_ts, c.last_ext, ts);
                let pos = ext + c.offset;
                if (pos - t_i).abs() <= threshold {
                    if ext > c.last_ext {
                        Candidate {
                            last_ts: ts,
                            last_ext: ext,
                            last_end: c.last_end.max(pos + n),
                            last_arrival: t,
                            ..c
                        }
                    } else {
                        c
                    }
                } else {
                    fresh
                }
            }
            None => fresh,
        };
        if now.since(candidate.since) >= resync_after && candidate.since != now {
            let ext_this = extend(candidate.last_ts, candidate.last_ext, ts);
            lane.stream = Some(Stream {
                newest_ts: candidate.last_ts,
                newest_ext: candidate.last_ext,
                offset: candidate.offset,
                newest_end: candidate.last_end,
                newest_arrival: candidate.last_arrival,
            });
            lane.candidate = None;
            // Timestamps of the old timing mean nothing in the new one.
            lane.recent.clear();
            lane.remember(ext_this);
            self.stats.resyncs += 1;
            let place_at = ext_this + candidate.offset;
            self.place(channel, place_at, samples);
        } else {
            lane.candidate = Some(candidate);
            self.stats.discontinuous += 1;
        }
    }

    /// Writes samples into a channel's buffer at timeline position `pos`, skipping what is
    /// already committed and what falls in a muted span.
    fn place(&mut self, channel: Channel, pos: i64, samples: &[i16]) {
        let cursor = to_i64(self.cursor);
        let n = samples.len() as i64;
        if pos + n <= cursor {
            self.stats.late += 1;
            return;
        }
        let skip = (cursor - pos).max(0);
        let first = pos + skip;
        let rel = u64::try_from(first - cursor).unwrap_or(u64::MAX);
        let len = (n - skip) as u64;
        if rel.saturating_add(len) > self.max_ahead {
            self.stats.discontinuous += 1;
            return;
        }
        let rel = rel as usize;
        let len = len as usize;
        let muted = self.muted_spans();
        let lane = &mut self.lanes[channel.index()];
        if lane.buf.len() < rel + len {
            lane.buf.resize(rel + len, 0);
        }
        let src = &samples[skip as usize..];
        let dst = &mut lane.buf.make_contiguous()[rel..rel + len];
        let any_muted = muted
            .iter()
            .flatten()
            .any(|&(a, b)| a < first + len as i64 && b > first);
        if !any_muted {
            dst.copy_from_slice(src);
            return;
        }
        for (i, (d, &s)) in dst.iter_mut().zip(src).enumerate() {
            let p = first + i as i64;
            if !muted.iter().flatten().any(|&(a, b)| p >= a && p < b) {
                *d = s;
            }
        }
    }

    /// Muted spans that can still affect uncommitted samples: the open pause and the last
    /// closed one (older spans lie wholly before the cursor).
    fn muted_spans(&self) -> [Option<(i64, i64)>; 2] {
        let open = self.paused_since.map(|s| (to_i64(s), i64::MAX));
        let last = self
            .segments
            .last()
            .filter(|seg| seg.end > self.cursor)
            .map(|seg| (to_i64(seg.start), to_i64(seg.end)));
        [open, last]
    }

    /// Commits every frame all channels are complete up to at `now`.
    fn advance(&mut self, now: Timestamp) {
        let t = self.timeline(now, false);
        let window = self.window;
        let target = self
            .lanes
            .iter()
            .map(|lane| match lane.stream {
                // Not started: complete as far as the wall clock.
                None => t,
                // Complete up to the newest packet, and beyond it by the wall time that has
                // passed since (a silent channel keeps its own lead or lag on the clock).
                Some(s) => {
                    let silent_for = t.saturating_sub(s.newest_arrival);
                    u64::try_from(s.newest_end.max(0))
                        .unwrap_or(0)
                        .saturating_add(silent_for)
                }
            })
            .min()
            .unwrap_or(t)
            .saturating_sub(window);
        self.commit_to(target);
    }

    /// Emits frames `[cursor, target)`, silence where a channel has nothing.
    fn commit_to(&mut self, target: u64) {
        if target <= self.cursor {
            return;
        }
        let count = (target - self.cursor) as usize;
        let start = self.cursor;
        // Append to the last queued output when it ends where this one starts, so a driver
        // that polls rarely gets few large blocks.
        let (out_start, mut interleaved) = match self.out.pop_back() {
            Some(Output::Frames {
                start: s,
                interleaved,
            }) if s + (interleaved.len() / 2) as u64 == start => (s, interleaved),
            other => {
                self.out.extend(other);
                (start, Vec::with_capacity(count * 2))
            }
        };
        let from = interleaved.len();
        interleaved.resize(from + count * 2, 0);
        let frames = &mut interleaved[from..];
        for (ch, lane) in self.lanes.iter_mut().enumerate() {
            let have = lane.buf.len().min(count);
            // Contiguous storage turns the copy into a tight loop over two slices.
            let samples = &lane.buf.make_contiguous()[..have];
            for (frame, &s) in frames.chunks_exact_mut(2).zip(samples) {
                frame[ch] = s;
            }
            lane.buf.drain(..have);
        }
        self.out.push_back(Output::Frames {
            start: out_start,
            interleaved,
        });
        self.cursor = target;
    }

    fn pause(&mut self, now: Timestamp) -> Result<(), AlignError> {
        if self.paused_since.is_some() {
            return Err(AlignError::AlreadyPaused);
        }
        self.advance(now);
        // Everything not yet committed is muted, including the reorder window just before the
        // request: better a few milliseconds too much silence than a digit too much audio.
        for lane in &mut self.lanes {
            lane.buf.iter_mut().for_each(|s| *s = 0);
        }
        self.paused_since = Some(self.cursor);
        Ok(())
    }

    fn resume(&mut self, now: Timestamp) -> Result<(), AlignError> {
        let Some(start) = self.paused_since else {
            return Err(AlignError::NotPaused);
        };
        self.advance(now);
        let t = self.clock;
        // Mute up to the live edge of the furthest channel, so audio spoken before the resume
        // request that is still in flight stays muted.
        let live_edge = self
            .lanes
            .iter()
            .filter_map(|l| {
                l.stream
                    .map(|s| u64::try_from(s.newest_end.max(0)).unwrap_or(0))
            })
            .chain([t, self.cursor, start])
            .max()
            .unwrap_or(t);
        self.paused_since = None;
        self.segments.push(PausedSegment {
            start,
            end: live_edge,
        });
        Ok(())
    }
}
