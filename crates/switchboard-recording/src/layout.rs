//! Where recordings live: `<root>/YYYY/MM/DD/<call-id>.wav`, dated by the call's start (UTC).
//!
//! Call ids come from outside (SIP Call-IDs, integrators), so the file name is an escaped form of
//! the id: characters that are safe in a file name pass through, every other byte becomes `%XX`,
//! and a leading dot is escaped too. The mapping is one-to-one, so two calls never share a file,
//! and no id can name `..`, a hidden file or another directory.

use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use switchboard_core::{CallId, Timestamp};

/// File extension of every recording.
pub const EXTENSION: &str = "wav";

/// Longest escaped call id accepted (file systems allow 255 bytes per name).
const MAX_NAME_LEN: usize = 200;

/// Why a recording path could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("call id is empty")]
    EmptyCallId,
    #[error("call id is too long for a file name ({len} bytes escaped, limit {MAX_NAME_LEN})")]
    CallIdTooLong { len: usize },
    #[error("call start {0} is outside the years 1970-9999")]
    DateOutOfRange(Timestamp),
}

/// The recordings directory and the rules for naming files in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root` (default in the product: `recordings`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// The recordings root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Full path of a call's recording.
    pub fn path_for(&self, call: &CallId, call_started: Timestamp) -> Result<PathBuf, LayoutError> {
        Ok(self.root.join(relative_path(call, call_started)?))
    }
}

/// `YYYY/MM/DD/<escaped call id>.wav`, relative to the recordings root.
pub fn relative_path(call: &CallId, call_started: Timestamp) -> Result<PathBuf, LayoutError> {
    let date = call_started.to_utc().date_naive();
    if !(1970..=9999).contains(&date.year()) {
        return Err(LayoutError::DateOutOfRange(call_started));
    }
    let name = file_name_for(call)?;
    Ok(PathBuf::from(format!("{:04}", date.year()))
        .join(format!("{:02}", date.month()))
        .join(format!("{:02}", date.day()))
        .join(name))
}

fn passes_through(b: u8, first: bool) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'-' | b'_' | b'@' | b'+' | b'=')
        || (b == b'.' && !first)
}

/// The file name (with extension) for a call id.
pub fn file_name_for(call: &CallId) -> Result<String, LayoutError> {
    let id = call.as_str();
    if id.is_empty() {
        return Err(LayoutError::EmptyCallId);
    }
    let mut name = String::with_capacity(id.len() + 4);
    for (i, b) in id.bytes().enumerate() {
        if passes_through(b, i == 0) {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.len() > MAX_NAME_LEN {
        return Err(LayoutError::CallIdTooLong { len: name.len() });
    }
    name.push('.');
    name.push_str(EXTENSION);
    Ok(name)
}

/// The call id a recording's file name stands for, if the name is one this layout produces.
pub fn call_id_from_file_name(name: &str) -> Option<CallId> {
    let stem = name.strip_suffix(".wav")?;
    let bytes = stem.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = stem.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .ok()
        .filter(|s| !s.is_empty())
        .map(CallId::from)
}

/// The call date encoded in a recording's path below the root (`YYYY/MM/DD/<file>`), if the
/// path follows the layout.
pub fn date_of(relative: &Path) -> Option<NaiveDate> {
    let parts: Vec<&str> = relative
        .iter()
        .map(|c| c.to_str())
        .collect::<Option<Vec<_>>>()?;
    let [year, month, day, _file] = parts.as_slice() else {
        return None;
    };
    let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(iso: &str) -> Timestamp {
        Timestamp::from_utc(
            chrono::DateTime::parse_from_rfc3339(iso)
                .expect("valid test date")
                .to_utc(),
        )
    }

    #[test]
    fn recording_path_is_dated_by_the_utc_day_the_call_started() {
        let layout = Layout::new("recordings");
        let path = layout
            .path_for(
                &CallId::from("0190a1b2-c3d4"),
                at("2026-03-07T23:59:59+00:00"),
            )
            .unwrap();
        assert_eq!(
            path,
            PathBuf::from("recordings/2026/03/07/0190a1b2-c3d4.wav")
        );
        // 01:30 in UTC+02:00 is still the previous day in UTC.
        let path = layout
            .path_for(&CallId::from("x"), at("2026-03-08T01:30:00+02:00"))
            .unwrap();
        assert_eq!(path, PathBuf::from("recordings/2026/03/07/x.wav"));
    }

    #[test]
    fn call_ids_cannot_escape_the_day_directory() {
        for evil in [
            "../../etc/passwd",
            "..",
            ".",
            "/abs",
            "a/b",
            "a\\b",
            "\0",
            ".hidden",
        ] {
            let name = file_name_for(&CallId::from(evil)).unwrap();
            assert!(
                !name.contains('/') && !name.contains('\\') && !name.contains('\0'),
                "{name}"
            );
            assert!(!name.starts_with('.'), "{name}");
            let rel = relative_path(&CallId::from(evil), Timestamp::from_secs(0)).unwrap();
            assert_eq!(rel.components().count(), 4, "{evil} -> {}", rel.display());
        }
    }

    #[test]
    fn sip_call_ids_keep_a_readable_name_and_round_trip() {
        let id = CallId::from("a84b4c76e66710@pc33.atlanta.com");
        let name = file_name_for(&id).unwrap();
        assert_eq!(name, "a84b4c76e66710@pc33.atlanta.com.wav");
        assert_eq!(call_id_from_file_name(&name), Some(id));
        let odd = CallId::from("../weird id%/é");
        assert_eq!(
            call_id_from_file_name(&file_name_for(&odd).unwrap()),
            Some(odd)
        );
    }

    #[test]
    fn distinct_call_ids_never_share_a_file() {
        let a = file_name_for(&CallId::from("a%2Fb")).unwrap();
        let b = file_name_for(&CallId::from("a/b")).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn empty_and_overlong_ids_are_refused() {
        assert_eq!(
            file_name_for(&CallId::from("")),
            Err(LayoutError::EmptyCallId)
        );
        let long = "x".repeat(201);
        assert!(matches!(
            file_name_for(&CallId::from(long.as_str())),
            Err(LayoutError::CallIdTooLong { .. })
        ));
    }

    #[test]
    fn date_is_read_back_only_from_paths_that_follow_the_layout() {
        assert_eq!(
            date_of(Path::new("2026/03/07/x.wav")),
            NaiveDate::from_ymd_opt(2026, 3, 7)
        );
        assert_eq!(date_of(Path::new("2026/13/07/x.wav")), None);
        assert_eq!(date_of(Path::new("2026/3/07/x.wav")), None);
        assert_eq!(date_of(Path::new("misc/x.wav")), None);
    }
}
