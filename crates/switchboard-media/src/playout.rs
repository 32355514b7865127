//! Audio the bridge plays itself (music on hold, prompts, ringback-like tones), sans-IO.
//!
//! A [`PlayoutSource`] is 8 kHz mono linear PCM held once and shared through an `Arc`, so a
//! thousand callers waiting in a queue share one copy of the music file. A [`Playout`] walks one
//! source for one leg and hands out 20 ms frames (160 samples) on schedule: frame `k` is due at
//! `start + k·20 ms`, computed from the start and never from the previous wake-up, so a late
//! driver does not make the stream drift. A driver that wakes late gets the overdue frames at
//! once, up to [`MAX_CATCH_UP`]; older ones are skipped (the audio jumps ahead, as a phone's
//! jitter buffer would have discarded them anyway).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::Timestamp;

/// Sample rate of every source: G.711's.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;
/// Length of one frame.
pub const FRAME: Duration = Duration::from_millis(20);
/// Most overdue frames handed out after a late wake-up; a burst longer than this would only
/// overflow the phone's jitter buffer.
pub const MAX_CATCH_UP: u64 = 3;

/// Why a WAV file cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum PlayoutError {
    /// The file could not be opened or is not a readable WAV.
    #[error("reading WAV {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What hound said.
        source: hound::Error,
    },
    /// A WAV we do not convert (the message says what would be accepted).
    #[error("WAV {path}: {why}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The file holds no samples.
    #[error("WAV {path} holds no audio")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// 8 kHz mono 16-bit audio to play, never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayoutSource {
    samples: Vec<i16>,
}

impl PlayoutSource {
    /// Loads a 16-bit integer PCM WAV, mono or stereo, at 8 kHz or any higher rate (16 kHz,
    /// 44.1 kHz, 48 kHz …). Stereo is mixed down by averaging the two channels. Higher rates are
    /// brought to 8 kHz by averaging the input samples that fall into each output sample's
    /// 125 µs (a boxcar filter then decimation): simple and alias-tolerant enough for music on
    /// hold through G.711, not a studio resampler. Convert other formats (8-bit, 24-bit, float,
    /// more channels) with `sox in.wav -r 8000 -c 1 -b 16 out.wav`.
    pub fn from_wav(path: impl AsRef<Path>) -> Result<PlayoutSource, PlayoutError> {
        let path = path.as_ref();
        let reader = hound::WavReader::open(path).map_err(|source| PlayoutError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_wav_reader(reader, path)
    }

    /// [`PlayoutSource::from_wav`] of WAV bytes in memory (a prompt built into the binary);
    /// `name` is what errors call it.
    pub fn from_wav_bytes(bytes: &[u8], name: &Path) -> Result<PlayoutSource, PlayoutError> {
        let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|source| {
            PlayoutError::Read {
                path: name.to_path_buf(),
                source,
            }
        })?;
        Self::from_wav_reader(reader, name)
    }

    fn from_wav_reader<R: std::io::Read>(
        reader: hound::WavReader<R>,
        path: &Path,
    ) -> Result<PlayoutSource, PlayoutError> {
        let read_err = |source| PlayoutError::Read {
            path: path.to_path_buf(),
            source,
        };
        let unsupported = |why: String| PlayoutError::Unsupported {
            path: path.to_path_buf(),
            why,
        };
        let spec = reader.spec();
        if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
            return Err(unsupported(format!(
                "{} {}-bit samples; 16-bit integer PCM is needed",
                match spec.sample_format {
                    hound::SampleFormat::Int => "integer",
                    hound::SampleFormat::Float => "float",
                },
                spec.bits_per_sample
            )));
        }
        if !(1..=2).contains(&spec.channels) {
            return Err(unsupported(format!(
                "{} channels; mono or stereo is needed",
                spec.channels
            )));
        }
        if spec.sample_rate < SAMPLE_RATE {
            return Err(unsupported(format!(
                "{} Hz; 8000 Hz or more is needed",
                spec.sample_rate
            )));
        }
        let raw = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<i16>, _>>()
            .map_err(read_err)?;
        let mono = if spec.channels == 2 {
            raw.chunks_exact(2)
                .map(|lr| ((i32::from(lr[0]) + i32::from(lr[1])) / 2) as i16)
                .collect()
        } else {
            raw
        };
        let samples = downsample(&mono, spec.sample_rate);
        if samples.is_empty() {
            return Err(PlayoutError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(PlayoutSource { samples })
    }

    /// Audio already at 8 kHz mono. An empty vector becomes one frame of silence, so a source
    /// is never empty.
    pub fn from_samples(samples: Vec<i16>) -> PlayoutSource {
        if samples.is_empty() {
            return PlayoutSource::silence();
        }
        PlayoutSource { samples }
    }

    /// One cadence of a sine tone: `on_ms` of `freq_hz` at peak `amplitude`, then `off_ms` of
    /// silence; looped it is a ringback-like signal (China: 450 Hz, 1000 ms on, 4000 ms off).
    /// With `off_ms = 0` it is a steady tone; it loops without a click when `freq_hz · on_ms`
    /// is a multiple of 1000 (whole periods). Zero length gives one frame of silence.
    pub fn tone(freq_hz: f64, on_ms: u32, off_ms: u32, amplitude: i16) -> PlayoutSource {
        let per_ms = (SAMPLE_RATE / 1000) as usize;
        let on = on_ms as usize * per_ms;
        let total = on + off_ms as usize * per_ms;
        let step = 2.0 * std::f64::consts::PI * freq_hz / f64::from(SAMPLE_RATE);
        let samples = (0..total)
            .map(|i| {
                if i < on {
                    // `as` saturates; amplitude bounds the value anyway.
                    (f64::from(amplitude) * (step * i as f64).sin()).round() as i16
                } else {
                    0
                }
            })
            .collect();
        PlayoutSource::from_samples(samples)
    }

    /// One frame of silence: looped it keeps a stream (and the NAT binding) alive.
    pub fn silence() -> PlayoutSource {
        PlayoutSource {
            samples: vec![0; FRAME_SAMPLES],
        }
    }

    /// The 8 kHz samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// How long one pass lasts.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / u64::from(SAMPLE_RATE))
    }

    /// Frames in one pass (the last one padded with silence).
    pub fn frames(&self) -> usize {
        self.samples.len().div_ceil(FRAME_SAMPLES)
    }
}

/// Boxcar average + decimation to 8 kHz: output sample `n` is the mean of the input samples
/// `[n·rate/8000, (n+1)·rate/8000)`, which also handles 44.1 kHz (5 or 6 inputs per output).
fn downsample(input: &[i16], rate: u32) -> Vec<i16> {
    if rate == SAMPLE_RATE {
        return input.to_vec();
    }
    let (rate, out_rate) = (u64::from(rate), u64::from(SAMPLE_RATE));
    let out_len = input.len() as u64 * out_rate / rate;
    (0..out_len)
        .map(|n| {
            let from = (n * rate / out_rate) as usize;
            let to = (((n + 1) * rate / out_rate) as usize).clamp(from + 1, input.len());
            let window = &input[from..to];
            let sum: i64 = window.iter().map(|&s| i64::from(s)).sum();
            (sum / window.len() as i64) as i16
        })
        .collect()
}

/// One 20 ms frame handed out by [`Playout::poll_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayoutFrame {
    /// Frame number since the start (skipped frames count), so its RTP timestamp is
    /// `base + index · 160`.
    pub index: u64,
    /// When it was due.
    pub due: Timestamp,
    /// 160 samples (the end of a once-played source is padded with silence).
    pub samples: [i16; FRAME_SAMPLES],
    /// Whether this is the last frame of a once-played source.
    pub last: bool,
}

/// Plays one source to one leg: which frame is next and when it is due.
#[derive(Debug, Clone)]
pub struct Playout {
    source: Arc<PlayoutSource>,
    looped: bool,
    start: Timestamp,
    /// Index of the next frame.
    next: u64,
    /// Sample of the source the next frame starts at.
    pos: usize,
    finished: bool,
    skipped: u64,
}

impl Playout {
    /// Starts playing `source` with frame 0 due at `now`; `looped` repeats it until stopped.
    pub fn new(source: Arc<PlayoutSource>, looped: bool, now: Timestamp) -> Playout {
        Playout {
            source,
            looped,
            start: now,
            next: 0,
            pos: 0,
            finished: false,
            skipped: 0,
        }
    }

    /// When frame `index` is due.
    pub fn due(&self, index: u64) -> Timestamp {
        self.start + FRAME * u32::try_from(index).unwrap_or(u32::MAX)
    }

    /// When the next frame is due; `None` once a once-played source has ended.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        (!self.finished).then(|| self.due(self.next))
    }

    /// The next frame due at `now`, if any. Call until `None`: after a late wake-up the
    /// overdue frames come one after the other (at most [`MAX_CATCH_UP`], older ones skipped).
    pub fn poll_frame(&mut self, now: Timestamp) -> Option<PlayoutFrame> {
        if self.finished || self.due(self.next) > now {
            return None;
        }
        let frame_ms = FRAME.as_millis() as u64;
        let due_count = now.since(self.start).as_millis() as u64 / frame_ms + 1 - self.next;
        if due_count > MAX_CATCH_UP {
            let skip = due_count - MAX_CATCH_UP;
            self.skipped += skip;
            self.next += skip;
            self.advance(skip as usize * FRAME_SAMPLES);
            if self.finished {
                return None;
            }
        }
        let index = self.next;
        let mut samples = [0i16; FRAME_SAMPLES];
        let src = self.source.samples();
        let mut last = false;
        if self.looped {
            for (i, s) in samples.iter_mut().enumerate() {
                *s = src[(self.pos + i) % src.len()];
            }
        } else {
            let end = (self.pos + FRAME_SAMPLES).min(src.len());
            samples[..end - self.pos].copy_from_slice(&src[self.pos..end]);
            last = end == src.len();
        }
        self.next += 1;
        self.advance(FRAME_SAMPLES);
        Some(PlayoutFrame {
            index,
            due: self.due(index),
            samples,
            last,
        })
    }

    fn advance(&mut self, samples: usize) {
        let len = self.source.samples().len();
        if self.looped {
            self.pos = (self.pos + samples % len) % len;
        } else {
            self.pos = self.pos.saturating_add(samples);
            if self.pos >= len {
                self.finished = true;
            }
        }
    }

    /// Whether a once-played source has ended (a looped one never ends).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the source repeats.
    pub fn is_looped(&self) -> bool {
        self.looped
    }

    /// Frames skipped because the driver woke too late.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests;
