//! The call recorder as a relay's audio sink: leg A (the caller, normally the customer) goes to
//! the left channel, leg B (the agent) to the right.

use switchboard_core::Timestamp;
use switchboard_recording::{Channel, Recorder, RecorderError};

use super::sink::AudioSink;
use crate::bridge::{AudioFrame, LegId};

/// The WAV channel of a leg.
pub fn channel_of(leg: LegId) -> Channel {
    match leg {
        LegId::A => Channel::Customer,
        LegId::B => Channel::Agent,
    }
}

/// A recording failure must never stop the media of the call, so it is only logged.
fn log_error(recorder: &Recorder, what: &str, error: &RecorderError) {
    match error {
        // The recorder warns once itself when it fills up; every later packet fails the same way.
        RecorderError::Full { .. } => {
            tracing::debug!(path = %recorder.path().display(), what, %error, "recording full");
        }
        _ => tracing::warn!(path = %recorder.path().display(), what, %error, "recording failed"),
    }
}

impl AudioSink for Recorder {
    fn push(&mut self, frame: &AudioFrame, now: Timestamp) {
        let channel = channel_of(frame.leg);
        if let Err(e) = Recorder::push(self, channel, frame.rtp_timestamp, &frame.samples, now) {
            log_error(self, "push", &e);
        }
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        if let Err(e) = Recorder::handle_timeout(self, now) {
            log_error(self, "timeout", &e);
        }
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        Some(Recorder::poll_timeout(self))
    }

    fn pause(&mut self, now: Timestamp) {
        if let Err(e) = Recorder::pause(self, now) {
            log_error(self, "pause", &e);
        }
    }

    fn resume(&mut self, now: Timestamp) {
        if let Err(e) = Recorder::resume(self, now) {
            log_error(self, "resume", &e);
        }
    }
}
