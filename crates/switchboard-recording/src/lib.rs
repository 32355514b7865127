//! Call recording for Switchboard.
//!
//! A bridged call is recorded as one stereo, 16-bit PCM WAV at 8 kHz: left = customer,
//! right = agent. The pieces, one concern per module:
//!
//! - [`align`]: pure logic (no IO) that places each channel's decoded RTP payloads on one sample
//!   timeline by RTP timestamp and arrival time, fills losses with silence, drops duplicates and
//!   late packets, resynchronises on timestamp jumps, caps pathological gaps and mutes paused
//!   spans. Time is an argument; tests move the clock.
//! - [`recorder`]: the file driver. Feeds the aligner, writes frames through `hound` into a
//!   `BufWriter`, brings the WAV header up to date at least once a second so a `kill -9` leaves a
//!   valid file, and returns [`RecordingInfo`] (duration, size, SHA-256, paused segments).
//! - [`files`]: opens and finishes recordings on threads of their own and syncs finished ones
//!   to disk group-wise (one `syncfs` per batch), for the server.
//! - [`layout`]: `recordings/YYYY/MM/DD/<call-id>.wav`, safe against path traversal.
//! - [`repair`]: fixes WAV files a crash left behind (sizes recomputed from the file length,
//!   trailing partial frame trimmed); idempotent; a directory scan for `recordings repair`.
//! - [`range`]: HTTP `Range` parsing and resolution for the QA player (pure functions).
//! - [`peaks`]: min/max waveform peaks per channel for drawing.
//! - [`retention`]: which recordings have outlived the retention period.
//! - [`fuzzing`]: the harness of the `wav_repair` fuzz target (`fuzz/`), shared with the stable
//!   test that replays its corpus.

pub mod align;
pub mod files;
pub mod fuzzing;
pub mod layout;
pub mod peaks;
pub mod range;
pub mod recorder;
pub mod repair;
pub mod retention;
mod walk;

pub use align::{AlignStats, Aligner, AlignerConfig, Channel, PausedSegment, SAMPLE_RATE};
pub use files::{FilesError, RecordingFiles};
pub use layout::Layout;
pub use peaks::{Peak, Peaks, waveform_peaks, waveform_peaks_for_width};
pub use range::{ByteRange, RangeResolution, resolve_range_header};
pub use recorder::{Recorder, RecorderConfig, RecorderError, RecordingInfo};
pub use repair::{RepairAction, RepairReport, repair, repair_all};
pub use retention::{ExpiredRecording, expired_recordings};
