//! Supervisor monitoring of a call in progress: listen, whisper and barge. Sans-IO: the relay
//! feeds in the decoded audio of the three parties as it arrives ([`Mixer::push`]) and, every
//! 20 ms ([`Mixer::poll_timeout`] / [`Mixer::handle_timeout`]), takes out one mixed frame for
//! each party whose stream the mixer makes.
//!
//! Who hears whom:
//!
//! | mode    | supervisor hears   | agent hears             | customer hears          |
//! |---------|--------------------|-------------------------|-------------------------|
//! | listen  | customer + agent   | customer (relayed)      | agent (relayed)         |
//! | whisper | customer + agent   | customer + supervisor   | agent (relayed)         |
//! | barge   | customer + agent   | customer + supervisor   | agent + supervisor      |
//!
//! "Relayed" streams are not touched: the bridge forwards them as for any call. A mixed stream
//! replaces the bridge's forwarding to that party ([`crate::bridge::Bridge::set_mixed_output`]).
//! The customer never gets a mixed stream in whisper mode, so the supervisor's voice cannot
//! reach them, whatever the supervisor's phone sends.
//!
//! Each party's audio waits in a short buffer: a frame that is late by a tick is still mixed in
//! the next one, and a buffer past [`MAX_BUFFERED`] loses its oldest samples, so a source that
//! runs fast cannot build up more delay than that.

mod supervisor;

pub use supervisor::SupervisorLeg;

use std::collections::VecDeque;
use std::time::Duration;

use switchboard_core::Timestamp;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// One frame's duration.
pub const FRAME: Duration = Duration::from_millis(20);
/// Most samples kept per party (200 ms): the delay a party may add at worst. A browser's
/// frames often arrive in bursts after a stall; a shorter buffer would throw them away.
pub const MAX_BUFFERED: usize = 10 * FRAME_SAMPLES;
/// Frames made at once when the timer fired late; beyond that the mixer skips ahead.
const MAX_CATCH_UP: u32 = 10;

/// What the supervisor does on the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorMode {
    /// Hear both parties; nobody hears the supervisor.
    Listen,
    /// Hear both parties and speak to the agent only (coaching).
    Whisper,
    /// Three-way: everyone hears everyone.
    Barge,
}

impl MonitorMode {
    /// The stable name used in the API, the dial codes' documentation and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }

    /// Whether `party`'s stream is made by the mixer in this mode (rather than relayed).
    pub fn mixes_for(self, party: Party) -> bool {
        match party {
            Party::Supervisor => true,
            Party::Agent => matches!(self, MonitorMode::Whisper | MonitorMode::Barge),
            Party::Customer => self == MonitorMode::Barge,
        }
    }

    /// The parties `party` hears in a mixed frame of this mode.
    fn sources_of(self, party: Party) -> &'static [Party] {
        match party {
            Party::Supervisor => &[Party::Customer, Party::Agent],
            Party::Agent => &[Party::Customer, Party::Supervisor],
            Party::Customer => &[Party::Agent, Party::Supervisor],
        }
    }
}

impl std::str::FromStr for MonitorMode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<MonitorMode, UnknownMode> {
        match s {
            "listen" => Ok(MonitorMode::Listen),
            "whisper" => Ok(MonitorMode::Whisper),
            "barge" => Ok(MonitorMode::Barge),
            other => Err(UnknownMode(other.to_owned())),
        }
    }
}

/// A mode name that is none of listen, whisper, barge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown monitor mode '{0}': expected listen, whisper or barge")]
pub struct UnknownMode(pub String);

/// One of the three people on a monitored call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// Leg A of the call (the caller on inbound calls).
    Customer,
    /// Leg B (the agent's phone).
    Agent,
    /// The supervisor's phone or browser.
    Supervisor,
}

impl Party {
    fn index(self) -> usize {
        match self {
            Party::Customer => 0,
            Party::Agent => 1,
            Party::Supervisor => 2,
        }
    }
}

/// One mixed 20 ms frame for `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixedFrame {
    /// Whose stream it belongs to.
    pub to: Party,
    /// When the frame starts (its due time; consecutive frames are [`FRAME`] apart).
    pub due: Timestamp,
    /// 8 kHz linear PCM, [`FRAME_SAMPLES`] long.
    pub samples: Vec<i16>,
}

/// The mixer of one monitored call.
#[derive(Debug)]
pub struct Mixer {
    mode: MonitorMode,
    buffers: [VecDeque<i16>; 3],
    next_tick: Timestamp,
    /// Samples dropped because a buffer was full, per party.
    overflowed: [u64; 3],
}

impl Mixer {
    /// A mixer whose first frame is due one frame after `now`.
    pub fn new(mode: MonitorMode, now: Timestamp) -> Mixer {
        Mixer {
            mode,
            buffers: Default::default(),
            next_tick: now + FRAME,
            overflowed: [0; 3],
        }
    }

    /// The current mode.
    pub fn mode(&self) -> MonitorMode {
        self.mode
    }

    /// Switches mode from the next frame on.
    pub fn set_mode(&mut self, mode: MonitorMode) {
        self.mode = mode;
    }

    /// Samples dropped so far because `party` sent faster than it was mixed.
    pub fn overflowed(&self, party: Party) -> u64 {
        self.overflowed[party.index()]
    }

    /// Audio `from` a party, as decoded from its RTP.
    pub fn push(&mut self, from: Party, samples: &[i16]) {
        let i = from.index();
        let buf = &mut self.buffers[i];
        buf.extend(samples.iter().copied());
        if buf.len() > MAX_BUFFERED {
            let excess = buf.len() - MAX_BUFFERED;
            buf.drain(..excess);
            self.overflowed[i] += excess as u64;
        }
    }

    /// When the next frame is due.
    pub fn poll_timeout(&self) -> Timestamp {
        self.next_tick
    }

    /// The frames due at `now`: for every tick passed, one frame for each party whose stream
    /// the mode mixes. A timer that fired very late does not make a burst: at most a few
    /// ticks are made up and the rest skipped (their audio was dropped by the buffers).
    pub fn handle_timeout(&mut self, now: Timestamp) -> Vec<MixedFrame> {
        let mut out = Vec::new();
        let mut made = 0;
        while self.next_tick <= now {
            if made == MAX_CATCH_UP {
                let behind = now.since(self.next_tick).as_millis() / FRAME.as_millis();
                let skipped = u32::try_from(behind).unwrap_or(u32::MAX - 1) + 1;
                self.next_tick += FRAME * skipped;
                break;
            }
            let due = self.next_tick;
            let taken: [Vec<i16>; 3] = std::array::from_fn(|i| take_frame(&mut self.buffers[i]));
            for party in [Party::Supervisor, Party::Agent, Party::Customer] {
                if !self.mode.mixes_for(party) {
                    continue;
                }
                let mut samples = vec![0i16; FRAME_SAMPLES];
                for source in self.mode.sources_of(party) {
                    for (s, x) in samples.iter_mut().zip(&taken[source.index()]) {
                        *s = s.saturating_add(*x);
                    }
                }
                out.push(MixedFrame {
                    to: party,
                    due,
                    samples,
                });
            }
            self.next_tick = due + FRAME;
            made += 1;
        }
        out
    }
}

/// The next frame of a party's buffer, silence where it has nothing.
fn take_frame(buf: &mut VecDeque<i16>) -> Vec<i16> {
    let n = buf.len().min(FRAME_SAMPLES);
    let mut frame: Vec<i16> = buf.drain(..n).collect();
    frame.resize(FRAME_SAMPLES, 0);
    frame
}

#[cfg(test)]
mod tests;
