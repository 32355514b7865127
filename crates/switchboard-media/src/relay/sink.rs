//! Where a relay's decoded audio goes: in production the call's [`Recorder`], in tests anything
//! that collects frames.
//!
//! [`Recorder`]: switchboard_recording::Recorder

use switchboard_core::Timestamp;

use crate::bridge::AudioFrame;

/// Receives every decoded frame of both legs. Runs inside the relay task, so every method must
/// return quickly: a slow sink delays the media of its call.
pub trait AudioSink: Send + 'static {
    /// One packet's decoded audio, in the order the packets arrived.
    fn push(&mut self, frame: &AudioFrame, now: Timestamp);
    /// Called once `now` has reached [`AudioSink::poll_timeout`] (e.g. to refresh a header).
    fn handle_timeout(&mut self, now: Timestamp);
    /// When [`AudioSink::handle_timeout`] is next due; `None` for never.
    fn poll_timeout(&self) -> Option<Timestamp>;
    /// Mutes what is collected from `now` on (a card number being read out).
    fn pause(&mut self, now: Timestamp);
    /// Collects audio again after [`AudioSink::pause`].
    fn resume(&mut self, now: Timestamp);
}

/// The sink type of a call that is not recorded: it has no value, so `Option<NoSink>` is
/// always `None` and the relay skips decoding altogether.
#[derive(Debug)]
pub enum NoSink {}

impl AudioSink for NoSink {
    fn push(&mut self, _frame: &AudioFrame, _now: Timestamp) {
        match *self {}
    }

    fn handle_timeout(&mut self, _now: Timestamp) {
        match *self {}
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        match *self {}
    }

    fn pause(&mut self, _now: Timestamp) {
        match *self {}
    }

    fn resume(&mut self, _now: Timestamp) {
        match *self {}
    }
}
