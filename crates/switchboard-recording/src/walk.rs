//! Listing the recordings under a root without following symbolic links, so a link planted in
//! the recordings tree cannot make a scan touch files elsewhere.

use std::io;
use std::path::{Path, PathBuf};

/// Deepest directory level visited below the root (`YYYY/MM/DD` needs three).
const MAX_DEPTH: usize = 8;

/// Every regular `.wav` file (extension compared without case) under `root`, sorted.
pub(crate) fn wav_files(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    visit(root, 0, &mut found)?;
    found.sort();
    Ok(found)
}

fn visit(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            if depth < MAX_DEPTH {
                visit(&path, depth + 1, found)?;
            }
        } else if kind.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(crate::layout::EXTENSION))
        {
            found.push(path);
        }
    }
    Ok(())
}
