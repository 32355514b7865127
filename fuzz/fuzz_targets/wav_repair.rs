//! Recording repair on a file built from the input: see
//! `switchboard_recording::fuzzing::fuzz_wav_repair`.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

/// One scratch folder per fuzzing process, made once.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        switchboard_recording::fuzzing::scratch_dir().expect("cannot make the scratch folder")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    switchboard_recording::fuzzing::fuzz_wav_repair(data, scratch());
});
