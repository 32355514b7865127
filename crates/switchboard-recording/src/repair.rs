//! Repairing WAV files a crash left behind.
//!
//! The recorder keeps the header at most about a second stale, so a file left by `kill -9` is
//! already a valid WAV; it just declares less audio than it holds (the `BufWriter` may have
//! written more before the crash), and its last frame may be cut short. Repair recomputes the
//! RIFF and data chunk sizes from the real file length and trims a trailing partial frame.
//! It is idempotent: a consistent file is left untouched. Anything that is not a RIFF/WAVE file
//! with a PCM `fmt ` chunk before its `data` chunk is an error, never a panic.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Most chunks read before `data` (a real file has two or three).
const MAX_CHUNKS: usize = 64;

/// Why a file could not be checked or repaired.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("file is too short to be a WAV ({len} bytes)")]
    TooShort { len: u64 },
    #[error("not a RIFF/WAVE file")]
    NotWav,
    #[error("no data chunk found")]
    NoDataChunk,
    #[error("no fmt chunk before the data chunk")]
    NoFormat,
    #[error("unusable fmt chunk: {0}")]
    BadFormat(&'static str),
    #[error("file holds {len} bytes, more than a WAV can describe")]
    TooLarge { len: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What [`repair`] did to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairAction {
    /// The header already matched the file; nothing was written.
    AlreadyValid,
    /// The sizes were rewritten (and a partial frame trimmed if `trimmed_bytes > 0`).
    Repaired {
        /// Data size the stale header declared.
        declared_data_bytes: u32,
        /// Data size now declared (whole frames actually in the file).
        data_bytes: u32,
        /// Bytes cut from the end of the file (a partial frame).
        trimmed_bytes: u64,
    },
}

/// Outcome of [`repair_all`] over a recordings tree.
#[derive(Debug, Default)]
pub struct RepairReport {
    /// Files whose header was brought up to date.
    pub repaired: Vec<(PathBuf, RepairAction)>,
    /// Number of files that were already consistent.
    pub valid: usize,
    /// Files that could not be repaired (not a WAV, unreadable …), with the reason.
    pub failed: Vec<(PathBuf, RepairError)>,
}

/// Where the pieces of a WAV file are.
#[derive(Debug, Clone, Copy)]
struct WavLayout {
    file_len: u64,
    riff_size: u32,
    data_start: u64,
    declared_data: u32,
    block_align: u16,
}

fn read_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn read_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn inspect(file: &mut File) -> Result<WavLayout, RepairError> {
    let file_len = file.metadata()?.len();
    if file_len < 12 {
        return Err(RepairError::TooShort { len: file_len });
    }
    let mut head = [0u8; 12];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut head)?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(RepairError::NotWav);
    }
    let riff_size = read_u32(&head[4..8]);
    let mut offset = 12u64;
    let mut block_align = None;
    for _ in 0..MAX_CHUNKS {
        if offset + 8 > file_len {
            return Err(RepairError::NoDataChunk);
        }
        let mut chunk = [0u8; 8];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut chunk)?;
        let size = read_u32(&chunk[4..8]);
        match &chunk[0..4] {
            b"fmt " => {
                if size < 16 || offset + 8 + 16 > file_len {
                    return Err(RepairError::BadFormat("fmt chunk shorter than 16 bytes"));
                }
                let mut fmt = [0u8; 16];
                file.read_exact(&mut fmt)?;
                let format_tag = read_u16(&fmt[0..2]);
                let channels = read_u16(&fmt[2..4]);
                let align = read_u16(&fmt[12..14]);
                let bits = read_u16(&fmt[14..16]);
                // 1 = PCM, 3 = IEEE float, 0xFFFE = extensible (PCM or float inside).
                if !matches!(format_tag, 1 | 3 | 0xFFFE) {
                    return Err(RepairError::BadFormat("not PCM"));
                }
                if channels == 0 || bits == 0 {
                    return Err(RepairError::BadFormat("zero channels or bits"));
                }
                if u32::from(align) != u32::from(channels) * u32::from(bits).div_ceil(8) {
                    return Err(RepairError::BadFormat(
                        "block align does not match channels",
                    ));
                }
                block_align = Some(align);
            }
            b"data" => {
                let block_align = block_align.ok_or(RepairError::NoFormat)?;
                return Ok(WavLayout {
                    file_len,
                    riff_size,
                    data_start: offset + 8,
                    declared_data: size,
                    block_align,
                });
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        offset += 8 + u64::from(size) + u64::from(size & 1);
    }
    Err(RepairError::NoDataChunk)
}

/// Whether the bytes from `offset` to the end of the file are a clean chain of chunks (another
/// tool's trailing metadata after `data`), in which case the data size is not stale.
fn trailing_chunks_fit(file: &mut File, mut offset: u64, file_len: u64) -> io::Result<bool> {
    for _ in 0..MAX_CHUNKS {
        if offset == file_len {
            return Ok(true);
        }
        if offset + 8 > file_len {
            return Ok(false);
        }
        let mut chunk = [0u8; 8];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut chunk)?;
        if !chunk[0..4]
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ')
        {
            return Ok(false);
        }
        let size = u64::from(read_u32(&chunk[4..8]));
        offset += 8 + size + (size & 1);
    }
    Ok(false)
}

/// What the sizes should be; `None` when the header already matches the file.
fn plan(file: &mut File, wav: &WavLayout) -> Result<Option<(u32, u32, u64)>, RepairError> {
    let available = wav.file_len - wav.data_start;
    let declared = u64::from(wav.declared_data);
    let declared_end = wav.data_start + declared + (declared & 1);
    let riff_ok = u64::from(wav.riff_size) == wav.file_len - 8;
    if declared <= available && declared % u64::from(wav.block_align) == 0 {
        // An odd-sized data chunk at the end of a file often lacks its pad byte; that is fine.
        let ends_at_eof = declared_end == wav.file_len || wav.data_start + declared == wav.file_len;
        if ends_at_eof && riff_ok {
            return Ok(None);
        }
        if declared_end < wav.file_len
            && riff_ok
            && trailing_chunks_fit(file, declared_end, wav.file_len)?
        {
            return Ok(None);
        }
    }
    let usable = available - available % u64::from(wav.block_align);
    let new_len = wav.data_start + usable;
    let riff =
        u32::try_from(new_len - 8).map_err(|_| RepairError::TooLarge { len: wav.file_len })?;
    let data = u32::try_from(usable).map_err(|_| RepairError::TooLarge { len: wav.file_len })?;
    Ok(Some((riff, data, wav.file_len - new_len)))
}

/// Checks a WAV file without changing it: `true` when its header is stale or its last frame is
/// partial, i.e. when [`repair`] would write.
pub fn needs_repair(path: &Path) -> Result<bool, RepairError> {
    let mut file = File::open(path)?;
    let wav = inspect(&mut file)?;
    Ok(plan(&mut file, &wav)?.is_some())
}

/// Brings a WAV file's header up to date with its real length and trims a trailing partial
/// frame. Idempotent.
pub fn repair(path: &Path) -> Result<RepairAction, RepairError> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let wav = inspect(&mut file)?;
    let Some((riff, data, trimmed)) = plan(&mut file, &wav)? else {
        return Ok(RepairAction::AlreadyValid);
    };
    if trimmed > 0 {
        file.set_len(wav.file_len - trimmed)?;
    }
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&riff.to_le_bytes())?;
    file.seek(SeekFrom::Start(wav.data_start - 4))?;
    file.write_all(&data.to_le_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), declared = wav.declared_data, data, trimmed, "repaired recording");
    Ok(RepairAction::Repaired {
        declared_data_bytes: wav.declared_data,
        data_bytes: data,
        trimmed_bytes: trimmed,
    })
}

/// Repairs every `.wav` under `root` whose header is stale (symbolic links are not followed).
/// One bad file does not stop the scan; it is listed in [`RepairReport::failed`]. Errors only
/// when the tree itself cannot be read.
pub fn repair_all(root: &Path) -> Result<RepairReport, RepairError> {
    let mut report = RepairReport::default();
    if !root.exists() {
        return Ok(report);
    }
    for path in crate::walk::wav_files(root)? {
        match repair(&path) {
            Ok(RepairAction::AlreadyValid) => report.valid += 1,
            Ok(action) => report.repaired.push((path, action)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "recording could not be repaired");
                report.failed.push((path, e));
            }
        }
    }
    Ok(report)
}
