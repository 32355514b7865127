//! Waveform peaks for the QA player: per channel, the minimum and maximum sample of every block
//! of `samples_per_peak` frames, enough to draw the waveform without sending the audio.

use std::io::Read;
use std::path::Path;

/// Why peaks could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum PeaksError {
    #[error("samples per peak must be positive")]
    ZeroBlock,
    #[error("only 16-bit integer PCM is supported (file has {bits}-bit {format:?})")]
    Unsupported {
        bits: u16,
        format: hound::SampleFormat,
    },
    #[error(transparent)]
    Wav(#[from] hound::Error),
}

/// Lowest and highest sample of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Peak {
    pub min: i16,
    pub max: i16,
}

/// Peaks of every channel of a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Peaks {
    /// Frames covered by each peak (the last one may cover fewer).
    pub samples_per_peak: u32,
    pub sample_rate: u32,
    /// Frames in the file.
    pub frames: u64,
    /// One list per channel (left first), each `ceil(frames / samples_per_peak)` long.
    pub channels: Vec<Vec<Peak>>,
}

/// Peaks of the WAV file at `path`, one per `samples_per_peak` frames.
pub fn waveform_peaks(path: &Path, samples_per_peak: u32) -> Result<Peaks, PeaksError> {
    peaks_of(hound::WavReader::open(path)?, samples_per_peak)
}

/// Peaks of the WAV file at `path`, with the block size chosen so there are about `buckets`
/// peaks per channel (for a drawing `buckets` pixels wide).
pub fn waveform_peaks_for_width(path: &Path, buckets: u32) -> Result<Peaks, PeaksError> {
    if buckets == 0 {
        return Err(PeaksError::ZeroBlock);
    }
    let reader = hound::WavReader::open(path)?;
    let frames = u64::from(reader.duration());
    let per = u32::try_from(frames.div_ceil(u64::from(buckets)).max(1)).unwrap_or(u32::MAX);
    peaks_of(reader, per)
}

/// Peaks from an open WAV reader.
pub fn peaks_of<R: Read>(
    mut reader: hound::WavReader<R>,
    samples_per_peak: u32,
) -> Result<Peaks, PeaksError> {
    if samples_per_peak == 0 {
        return Err(PeaksError::ZeroBlock);
    }
    let spec = reader.spec();
    if spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
        return Err(PeaksError::Unsupported {
            bits: spec.bits_per_sample,
            format: spec.sample_format,
        });
    }
    let channels = usize::from(spec.channels.max(1));
    let frames = u64::from(reader.duration());
    let per = u64::from(samples_per_peak);
    let blocks = usize::try_from(frames.div_ceil(per)).unwrap_or(0);
    let mut out = vec![Vec::with_capacity(blocks); channels];
    let empty = Peak {
        min: i16::MAX,
        max: i16::MIN,
    };
    let mut current = vec![empty; channels];
    let mut in_block = 0u64;
    for (i, sample) in reader.samples::<i16>().enumerate() {
        let sample = sample?;
        let ch = i % channels;
        let peak = &mut current[ch];
        peak.min = peak.min.min(sample);
        peak.max = peak.max.max(sample);
        if ch == channels - 1 {
            in_block += 1;
            if in_block == per {
                for (list, peak) in out.iter_mut().zip(current.iter_mut()) {
                    list.push(std::mem::replace(peak, empty));
                }
                in_block = 0;
            }
        }
    }
    if in_block > 0 {
        for (list, peak) in out.iter_mut().zip(current) {
            list.push(peak);
        }
    }
    Ok(Peaks {
        samples_per_peak,
        sample_rate: spec.sample_rate,
        frames,
        channels: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(frames: &[(i16, i16)]) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut bytes, spec).unwrap();
        for &(l, r) in frames {
            w.write_sample(l).unwrap();
            w.write_sample(r).unwrap();
        }
        w.finalize().unwrap();
        bytes.into_inner()
    }

    fn peaks(bytes: &[u8], per: u32) -> Peaks {
        peaks_of(hound::WavReader::new(bytes).unwrap(), per).unwrap()
    }

    #[test]
    fn each_block_reports_its_own_min_and_max_per_channel() {
        let frames: Vec<(i16, i16)> = (0..10).map(|i| (i * 100, -i * 10)).collect();
        let p = peaks(&wav(&frames), 4);
        assert_eq!(p.frames, 10);
        assert_eq!(
            p.channels[0],
            vec![
                Peak { min: 0, max: 300 },
                Peak { min: 400, max: 700 },
                Peak { min: 800, max: 900 }
            ]
        );
        assert_eq!(
            p.channels[1],
            vec![
                Peak { min: -30, max: 0 },
                Peak { min: -70, max: -40 },
                Peak { min: -90, max: -80 }
            ]
        );
    }

    #[test]
    fn extreme_samples_survive() {
        let p = peaks(&wav(&[(i16::MIN, 0), (i16::MAX, 0)]), 2);
        assert_eq!(
            p.channels[0],
            vec![Peak {
                min: i16::MIN,
                max: i16::MAX
            }]
        );
        assert_eq!(p.channels[1], vec![Peak { min: 0, max: 0 }]);
    }

    #[test]
    fn empty_file_has_no_peaks_and_zero_block_is_refused() {
        let bytes = wav(&[]);
        let p = peaks(&bytes, 100);
        assert_eq!(p.channels, vec![Vec::<Peak>::new(), Vec::new()]);
        assert!(matches!(
            peaks_of(hound::WavReader::new(&bytes[..]).unwrap(), 0),
            Err(PeaksError::ZeroBlock)
        ));
    }

    #[test]
    fn width_picks_a_block_size_that_fits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let frames: Vec<(i16, i16)> = (0..1000).map(|i| (i as i16, 0)).collect();
        std::fs::write(&path, wav(&frames)).unwrap();
        let p = waveform_peaks_for_width(&path, 300).unwrap();
        assert_eq!(p.samples_per_peak, 4);
        assert_eq!(p.channels[0].len(), 250);
        assert_eq!(p.channels[0][249], Peak { min: 996, max: 999 });
    }
}
