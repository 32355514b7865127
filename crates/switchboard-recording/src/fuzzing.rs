//! Harness for the `wav_repair` cargo-fuzz target in `fuzz/` (workspace root), kept here so the
//! fuzz target and the stable regression test (`tests/fuzz_corpus.rs`, which replays every
//! corpus and crash file) run exactly the same code. It panics when a property is broken; any
//! other input must return normally.

use std::io;
use std::path::Path;

use crate::peaks::waveform_peaks_for_width;
use crate::repair::{RepairAction, needs_repair, repair};

/// Bytes of the header the recorder writes (RIFF, a 16-byte `fmt `, the `data` chunk head).
const RECORDER_HEADER: usize = 44;

/// A file left in the recordings folder, built from `data`, run through what `serve` and
/// `recordings repair` do with it: [`needs_repair`], [`repair`], then the QA player's peaks.
///
/// `data[0]` picks how the file is built: even, the rest of the input is the file as it is;
/// odd, the recorder's own header (stereo 8 kHz 16-bit PCM) with the RIFF and data sizes taken
/// from `data[1..9]`, then the rest as audio, i.e. what a crash leaves behind.
///
/// Properties: `needs_repair` says exactly whether `repair` writes; a repaired file declares
/// whole frames ending at the end of the file and needs no second repair; a file with the
/// recorder's header opens with hound after repair and yields every declared sample.
///
/// The file is `scratch/fuzz.wav`; `scratch` must exist. Panics on an IO error of the scratch
/// folder itself (the harness cannot test anything then).
pub fn fuzz_wav_repair(data: &[u8], scratch: &Path) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let ours = mode & 1 == 1;
    let bytes = if ours {
        let mut sizes = [0u8; 8];
        let n = rest.len().min(8);
        sizes[..n].copy_from_slice(&rest[..n]);
        let mut b = recorder_header(
            u32::from_le_bytes([sizes[0], sizes[1], sizes[2], sizes[3]]),
            u32::from_le_bytes([sizes[4], sizes[5], sizes[6], sizes[7]]),
        );
        b.extend_from_slice(&rest[n..]);
        b
    } else {
        rest.to_vec()
    };
    let path = scratch.join("fuzz.wav");
    if let Err(e) = std::fs::write(&path, &bytes) {
        panic!("cannot write {}: {e}", path.display());
    }

    let needed = needs_repair(&path);
    let action = repair(&path);
    match (&needed, &action) {
        (Ok(true), Ok(RepairAction::Repaired { .. }))
        | (Ok(false), Ok(RepairAction::AlreadyValid)) => {}
        (Err(_), Err(_)) => return,
        _ => panic!("needs_repair said {needed:?} but repair did {action:?}"),
    }
    let len = file_len(&path);
    if let Ok(RepairAction::Repaired {
        data_bytes,
        trimmed_bytes,
        ..
    }) = action
    {
        assert_eq!(
            len + trimmed_bytes,
            bytes.len() as u64,
            "repair cut more than it said"
        );
        assert!(
            u64::from(data_bytes) <= len,
            "declares {data_bytes} data bytes in a {len}-byte file"
        );
        assert!(
            matches!(repair(&path), Ok(RepairAction::AlreadyValid)),
            "a second repair changed the file again"
        );
        if ours {
            // Our header: the data starts at byte 44 and frames are 4 bytes.
            assert_eq!(u64::from(data_bytes), len - RECORDER_HEADER as u64);
            assert_eq!(data_bytes % 4, 0, "a partial frame is left");
        }
    }
    if ours {
        let reader = match hound::WavReader::open(&path) {
            Ok(r) => r,
            Err(e) => panic!("a repaired recording does not open with hound: {e}"),
        };
        let declared = reader.len();
        let read = reader.into_samples::<i16>().filter(Result::is_ok).count();
        assert_eq!(
            read as u64,
            u64::from(declared),
            "hound could not read every sample"
        );
    }
    // The QA player draws whatever the folder holds; an unreadable file is an error, not a panic.
    let _ = waveform_peaks_for_width(&path, 800);
    // Leave nothing behind in the scratch folder (it is in memory under /dev/shm).
    let _ = std::fs::remove_file(&path);
}

fn file_len(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// The 44-byte header `hound` writes for [`crate::recorder::wav_spec`], with the given sizes.
fn recorder_header(riff_size: u32, data_size: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(RECORDER_HEADER);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_size.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&2u16.to_le_bytes()); // stereo
    h.extend_from_slice(&8000u32.to_le_bytes());
    h.extend_from_slice(&32000u32.to_le_bytes()); // bytes per second
    h.extend_from_slice(&4u16.to_le_bytes()); // block align
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_size.to_le_bytes());
    h
}

/// A scratch folder for [`fuzz_wav_repair`] unique to this process, under the system's temp
/// folder (`/dev/shm` when it exists, so a long fuzz run does not wear a disk).
pub fn scratch_dir() -> io::Result<std::path::PathBuf> {
    let base = Path::new("/dev/shm");
    let base = if base.is_dir() {
        base.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("switchboard-fuzz-wav-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
