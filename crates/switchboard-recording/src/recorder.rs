//! The recording driver: one stereo WAV per call, fed by the media bridge.
//!
//! [`Recorder`] owns the file and an [`Aligner`]; every call takes `now` so the media driver (or
//! a test) decides what time it is. The WAV header is brought up to date at least every
//! `flush_interval` of `now` (one second by default): a `kill -9` leaves a valid file that
//! holds the audio up to that flush, and [`crate::repair`] recovers whatever the buffer wrote
//! after it.
//!
//! Write cost per call (defaults): 8000 frames × 4 bytes = 32 KB of audio per second, collected
//! in a 32 KiB `BufWriter`. Each header update flushes the buffer, so a call costs about one
//! data `write` plus the header rewrite (two 4-byte writes, a flush and four `lseek`s) per
//! second: ~8 system calls and 32 KB per call-second; at the end one `fsync` and one read of the
//! file to compute its SHA-256 (the header is only final then, and it comes first). 1,500 calls
//! write ~48 MB/s. Measured with `examples/write_calls.rs` (200 calls × 60 s, release build):
//! 140-170 µs of CPU per call-second in total (user ~100, system ~50), of which ~45 µs is the
//! finish (fsync + hash), i.e. one core keeps up with ~6,000 concurrent recorded calls.
//! `finish` does blocking file IO proportional to the call's length; async drivers should run
//! it on a blocking thread. The server does both through [`crate::files`], which turns the
//! per-file `fsync` off and syncs the file system once per batch of finished recordings.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use switchboard_core::{CallId, Timestamp};

use crate::align::{
    AlignError, AlignStats, Aligner, AlignerConfig, Channel, Input, Output, PausedSegment,
    SAMPLE_RATE,
};
use crate::layout::{Layout, LayoutError};

/// Bytes per stereo 16-bit frame.
const FRAME_BYTES: u64 = 4;

/// Most frames one WAV can hold: its sizes are 32-bit and the RIFF size adds 36 header bytes
/// (about 37 hours at 8 kHz stereo).
pub const MAX_WAV_FRAMES: u64 = (u32::MAX as u64 - 36) / FRAME_BYTES;

/// What went wrong recording.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Align(#[from] AlignError),
    #[error("recording {0} already exists")]
    AlreadyExists(PathBuf),
    #[error("recording reached its size limit of {max_frames} frames; later audio is dropped")]
    Full { max_frames: u64 },
    #[error(transparent)]
    Wav(#[from] hound::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Settings of a recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderConfig {
    pub align: AlignerConfig,
    /// Longest time the header may lag behind the audio written.
    pub flush_interval: Duration,
    /// Size of the write buffer in front of the file.
    pub buffer_bytes: usize,
    /// `fsync` the finished file before hashing it.
    pub sync_on_finish: bool,
    /// Size limit in frames (at most [`MAX_WAV_FRAMES`]).
    pub max_frames: u64,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            align: AlignerConfig::default(),
            flush_interval: Duration::from_secs(1),
            buffer_bytes: 32 * 1024,
            sync_on_finish: true,
            max_frames: MAX_WAV_FRAMES,
        }
    }
}

/// What a finished recording is, for the store row and the player.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordingInfo {
    pub call_id: CallId,
    pub path: PathBuf,
    /// When the recording's first frame was taken.
    pub started_at: Timestamp,
    /// Frames per channel.
    pub frames: u64,
    /// Length of the audio in milliseconds.
    pub duration_ms: u64,
    /// File size in bytes.
    pub size_bytes: u64,
    /// SHA-256 of the whole file, lower-case hex.
    pub sha256: String,
    /// Muted spans (card numbers), in frames from the start.
    pub paused: Vec<PausedSegment>,
    /// Media quality counters.
    pub stats: AlignStats,
    /// True when the size limit cut the recording short.
    pub truncated: bool,
}

/// The WAV format of every recording: stereo, 8 kHz, 16-bit PCM.
pub fn wav_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 2,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Records one call into one stereo WAV file.
pub struct Recorder {
    call_id: CallId,
    path: PathBuf,
    started_at: Timestamp,
    aligner: Aligner,
    wav: hound::WavWriter<BufWriter<File>>,
    /// A second handle on the file, to `fsync` after hound has finalised it; only when
    /// `sync_on_finish` (every open file counts against the process's limit).
    file: Option<File>,
    next_flush: Timestamp,
    frames_written: u64,
    full: bool,
    config: RecorderConfig,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("call_id", &self.call_id)
            .field("path", &self.path)
            .field("frames_written", &self.frames_written)
            .field("paused", &self.aligner.is_paused())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Starts recording `call` at `now` into its place in `layout` (dated by `call_started`),
    /// creating the day directory. Refuses to overwrite an existing recording.
    pub fn create(
        layout: &Layout,
        call: &CallId,
        call_started: Timestamp,
        now: Timestamp,
        config: RecorderConfig,
    ) -> Result<Self, RecorderError> {
        let path = layout.path_for(call, call_started)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Self::create_at(&path, call.clone(), now, config)
    }

    /// Starts recording at `now` into exactly `path`.
    pub fn create_at(
        path: &Path,
        call_id: CallId,
        now: Timestamp,
        config: RecorderConfig,
    ) -> Result<Self, RecorderError> {
        let aligner = Aligner::new(&config.align, now)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => RecorderError::AlreadyExists(path.to_owned()),
                _ => RecorderError::Io(e),
            })?;
        let handle = match config.sync_on_finish {
            true => Some(file.try_clone()?),
            false => None,
        };
        let mut wav = hound::WavWriter::new(
            BufWriter::with_capacity(config.buffer_bytes, file),
            wav_spec(),
        )?;
        // Put a valid (empty) header on disk at once, so even an immediate crash leaves a WAV.
        wav.flush()?;
        Ok(Recorder {
            call_id,
            path: path.to_owned(),
            started_at: now,
            aligner,
            wav,
            file: handle,
            next_flush: now + config.flush_interval,
            frames_written: 0,
            full: false,
            config: RecorderConfig {
                max_frames: config.max_frames.min(MAX_WAV_FRAMES),
                ..config
            },
        })
    }

    /// Hands in one packet's decoded audio (`rtp_timestamp` = timestamp of `samples[0]`).
    pub fn push(
        &mut self,
        channel: Channel,
        rtp_timestamp: u32,
        samples: &[i16],
        now: Timestamp,
    ) -> Result<(), RecorderError> {
        self.aligner.handle(
            Input::Audio {
                channel,
                rtp_timestamp,
                samples,
            },
            now,
        )?;
        self.drain(now)
    }

    /// Mutes the recording from now on (card numbers). The muted span is written as silence.
    pub fn pause(&mut self, now: Timestamp) -> Result<(), RecorderError> {
        self.aligner.handle(Input::Pause, now)?;
        self.drain(now)
    }

    /// Records audio again after [`Recorder::pause`].
    pub fn resume(&mut self, now: Timestamp) -> Result<(), RecorderError> {
        self.aligner.handle(Input::Resume, now)?;
        self.drain(now)
    }

    /// Lets time pass: writes silence for quiet channels and keeps the header fresh. Call it at
    /// [`Recorder::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<(), RecorderError> {
        self.aligner.handle_timeout(now);
        self.drain(now)
    }

    /// When [`Recorder::handle_timeout`] should run next if no packet arrives.
    pub fn poll_timeout(&self) -> Timestamp {
        match self.aligner.poll_timeout() {
            Some(t) => t.min(self.next_flush),
            None => self.next_flush,
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames written to the file so far.
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// Whether the recording is muted.
    pub fn is_paused(&self) -> bool {
        self.aligner.is_paused()
    }

    /// Media counters so far.
    pub fn stats(&self) -> AlignStats {
        self.aligner.stats()
    }

    /// Writes what the aligner committed and refreshes the header when it is due.
    fn drain(&mut self, now: Timestamp) -> Result<(), RecorderError> {
        let mut overflow = false;
        while let Some(Output::Frames { interleaved, .. }) = self.aligner.poll_output() {
            overflow |= !self.write_frames(&interleaved)?;
        }
        if now >= self.next_flush {
            self.wav.flush()?;
            self.next_flush = now + self.config.flush_interval;
        }
        if overflow {
            return Err(RecorderError::Full {
                max_frames: self.config.max_frames,
            });
        }
        Ok(())
    }

    /// Appends interleaved frames; false when the size limit dropped some.
    fn write_frames(&mut self, interleaved: &[i16]) -> Result<bool, RecorderError> {
        let room = self.config.max_frames - self.frames_written;
        let frames = (interleaved.len() / 2) as u64;
        let take = frames.min(room);
        if take > 0 {
            let samples = &interleaved[..(take * 2) as usize];
            // `take` ≤ MAX_WAV_FRAMES, so twice it fits a u32.
            let mut writer = self.wav.get_i16_writer(samples.len() as u32);
            for &s in samples {
                writer.write_sample(s);
            }
            writer.flush()?;
            self.frames_written += take;
        }
        if take < frames {
            if !self.full {
                tracing::warn!(call = %self.call_id, "recording reached its size limit");
            }
            self.full = true;
            return Ok(false);
        }
        Ok(true)
    }

    /// Ends the recording at `now`: writes what is buffered, finalises the header, syncs the
    /// file and hashes it.
    pub fn finish(mut self, now: Timestamp) -> Result<RecordingInfo, RecorderError> {
        self.aligner.finish(now)?;
        let mut overflow = false;
        while let Some(Output::Frames { interleaved, .. }) = self.aligner.poll_output() {
            overflow |= !self.write_frames(&interleaved)?;
        }
        let Recorder {
            call_id,
            path,
            started_at,
            aligner,
            wav,
            file,
            frames_written,
            full,
            ..
        } = self;
        wav.finalize()?;
        if let Some(file) = file {
            file.sync_all()?;
        }
        let (size_bytes, sha256) = hash_file(&path)?;
        Ok(RecordingInfo {
            call_id,
            path,
            started_at,
            frames: frames_written,
            duration_ms: frames_written * 1000 / u64::from(SAMPLE_RATE),
            size_bytes,
            sha256,
            paused: aligner.paused_segments().to_vec(),
            stats: aligner.stats(),
            truncated: full || overflow,
        })
    }
}

/// Size and SHA-256 (hex) of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}
