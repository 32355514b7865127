//! HTTP `Range` requests for the QA player (RFC 9110 §14), as pure functions.
//!
//! [`parse_range_header`] turns a header value into range specs; [`resolve`] applies them to a
//! representation length. [`resolve_range_header`] does both the way a server should: a header
//! it cannot parse is ignored (200 with the whole file), ranges that all miss the file are
//! unsatisfiable (416 with `Content-Range: bytes */len`), anything else is a 206.

/// Most ranges accepted in one header; more is treated as abuse and the header ignored.
pub const MAX_RANGES: usize = 16;

/// Why a `Range` header value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("range unit is not bytes")]
    NotBytes,
    #[error("no range given")]
    Empty,
    #[error("malformed range spec {0:?}")]
    Malformed(String),
    #[error("more than {MAX_RANGES} ranges")]
    TooMany,
}

/// One range spec as written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `first-last`, both inclusive.
    FromTo(u64, u64),
    /// `first-`: from `first` to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// A resolved byte range, both ends inclusive (as in `Content-Range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Always false: a resolved range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `Content-Range` header value for this range of a representation of `total` bytes.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{}", self.first, self.last, total)
    }
}

/// What to answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeResolution {
    /// 200: send the whole representation (no header, or one to ignore).
    Full,
    /// 206: these ranges, ascending and non-overlapping (one part, or multipart/byteranges).
    Partial(Vec<ByteRange>),
    /// 416: nothing requested lies inside the representation.
    Unsatisfiable,
}

/// The `Content-Range` value of a 416 answer.
pub fn unsatisfied_content_range(total: u64) -> String {
    format!("bytes */{total}")
}

fn number(s: &str, spec: &str) -> Result<u64, RangeError> {
    // `u64::from_str` would accept a leading '+', which the grammar does not.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeError::Malformed(spec.to_owned()));
    }
    s.parse()
        .map_err(|_| RangeError::Malformed(spec.to_owned()))
}

/// Parses a `Range` header value such as `bytes=0-99, 200-, -500`.
pub fn parse_range_header(value: &str) -> Result<Vec<RangeSpec>, RangeError> {
    let (unit, set) = value.trim().split_once('=').ok_or(RangeError::NotBytes)?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Err(RangeError::NotBytes);
    }
    let mut specs = Vec::new();
    // Empty list elements ("0-1,,5-6") are allowed by the list syntax and skipped.
    for raw in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if specs.len() == MAX_RANGES {
            return Err(RangeError::TooMany);
        }
        let (first, last) = raw
            .split_once('-')
            .ok_or_else(|| RangeError::Malformed(raw.to_owned()))?;
        let spec = match (first.is_empty(), last.is_empty()) {
            (true, true) => return Err(RangeError::Malformed(raw.to_owned())),
            (true, false) => RangeSpec::Suffix(number(last, raw)?),
            (false, true) => RangeSpec::From(number(first, raw)?),
            (false, false) => {
                let (a, b) = (number(first, raw)?, number(last, raw)?);
                if b < a {
                    return Err(RangeError::Malformed(raw.to_owned()));
                }
                RangeSpec::FromTo(a, b)
            }
        };
        specs.push(spec);
    }
    if specs.is_empty() {
        return Err(RangeError::Empty);
    }
    Ok(specs)
}

/// Applies range specs to a representation of `len` bytes. Overlapping or adjacent ranges are
/// merged, as RFC 9110 allows, so a client cannot make the server send the same bytes twice.
pub fn resolve(specs: &[RangeSpec], len: u64) -> RangeResolution {
    let mut ranges: Vec<ByteRange> = specs
        .iter()
        .filter_map(|spec| match *spec {
            RangeSpec::FromTo(first, last) if first < len => Some(ByteRange {
                first,
                last: last.min(len - 1),
            }),
            RangeSpec::From(first) if first < len => Some(ByteRange {
                first,
                last: len - 1,
            }),
            RangeSpec::Suffix(n) if n > 0 && len > 0 => Some(ByteRange {
                first: len - n.min(len),
                last: len - 1,
            }),
            _ => None,
        })
        .collect();
    if ranges.is_empty() {
        // RFC 9110 §14.1.1: for an empty representation a non-zero suffix is satisfiable; the
        // only sensible answer is the (empty) whole.
        let empty_suffix = len == 0
            && specs
                .iter()
                .any(|s| matches!(s, RangeSpec::Suffix(n) if *n > 0));
        return if empty_suffix {
            RangeResolution::Full
        } else {
            RangeResolution::Unsatisfiable
        };
    }
    ranges.sort_by_key(|r| r.first);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(prev) if r.first <= prev.last.saturating_add(1) => {
                prev.last = prev.last.max(r.last)
            }
            _ => merged.push(r),
        }
    }
    RangeResolution::Partial(merged)
}

/// What to answer to a request carrying `header` (the `Range` value, if any) for a file of
/// `len` bytes. A header that does not parse is ignored, as RFC 9110 requires.
pub fn resolve_range_header(header: Option<&str>, len: u64) -> RangeResolution {
    match header.map(parse_range_header) {
        Some(Ok(specs)) => resolve(&specs, len),
        Some(Err(_)) | None => RangeResolution::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(ranges: &[(u64, u64)]) -> RangeResolution {
        RangeResolution::Partial(
            ranges
                .iter()
                .map(|&(first, last)| ByteRange { first, last })
                .collect(),
        )
    }

    #[test]
    fn single_range_is_clamped_to_the_file() {
        assert_eq!(
            resolve_range_header(Some("bytes=0-99"), 1000),
            partial(&[(0, 99)])
        );
        assert_eq!(
            resolve_range_header(Some("bytes=900-2000"), 1000),
            partial(&[(900, 999)])
        );
        assert_eq!(
            resolve_range_header(Some("bytes=999-999"), 1000),
            partial(&[(999, 999)])
        );
    }

    #[test]
    fn open_ended_range_runs_to_the_end() {
        assert_eq!(
            resolve_range_header(Some("bytes=100-"), 1000),
            partial(&[(100, 999)])
        );
    }

    #[test]
    fn suffix_range_takes_the_last_bytes_or_the_whole_file() {
        assert_eq!(
            resolve_range_header(Some("bytes=-500"), 1000),
            partial(&[(500, 999)])
        );
        assert_eq!(
            resolve_range_header(Some("bytes=-5000"), 1000),
            partial(&[(0, 999)])
        );
        assert_eq!(
            resolve_range_header(Some("bytes=-0"), 1000),
            RangeResolution::Unsatisfiable
        );
    }

    #[test]
    fn several_ranges_come_back_sorted_and_merged() {
        assert_eq!(
            resolve_range_header(Some("bytes=500-599, 0-99,50-149 , 150-160,-10"), 1000),
            partial(&[(0, 160), (500, 599), (990, 999)])
        );
        // Ranges beyond the end are dropped while others are satisfiable.
        assert_eq!(
            resolve_range_header(Some("bytes=0-9,5000-6000"), 1000),
            partial(&[(0, 9)])
        );
    }

    #[test]
    fn ranges_wholly_beyond_the_end_are_unsatisfiable() {
        assert_eq!(
            resolve_range_header(Some("bytes=1000-"), 1000),
            RangeResolution::Unsatisfiable
        );
        assert_eq!(
            resolve_range_header(Some("bytes=1000-1100,2000-"), 1000),
            RangeResolution::Unsatisfiable
        );
        assert_eq!(
            resolve_range_header(Some("bytes=0-0"), 0),
            RangeResolution::Unsatisfiable
        );
        assert_eq!(unsatisfied_content_range(1000), "bytes */1000");
    }

    #[test]
    fn suffix_of_an_empty_file_is_the_empty_whole() {
        assert_eq!(
            resolve_range_header(Some("bytes=-5"), 0),
            RangeResolution::Full
        );
    }

    #[test]
    fn headers_that_do_not_parse_are_ignored() {
        for bad in [
            "items=0-1",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=abc",
            "bytes=5-1",
            "bytes=+5-9",
            "bytes=0-1-2",
            "bytes=99999999999999999999999-",
            "bytes=1 -2",
        ] {
            assert!(parse_range_header(bad).is_err(), "{bad} should not parse");
            assert_eq!(
                resolve_range_header(Some(bad), 1000),
                RangeResolution::Full,
                "{bad}"
            );
        }
        assert_eq!(resolve_range_header(None, 1000), RangeResolution::Full);
    }

    #[test]
    fn unit_is_case_insensitive_and_empty_list_elements_are_skipped() {
        assert_eq!(
            resolve_range_header(Some("Bytes=0-1,,4-5"), 10),
            partial(&[(0, 1), (4, 5)])
        );
    }

    #[test]
    fn too_many_ranges_are_refused() {
        let many = (0..=MAX_RANGES)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect::<Vec<_>>();
        let header = format!("bytes={}", many.join(","));
        assert_eq!(parse_range_header(&header), Err(RangeError::TooMany));
    }

    #[test]
    fn content_range_names_the_bytes_and_total() {
        let r = ByteRange {
            first: 100,
            last: 199,
        };
        assert_eq!(r.len(), 100);
        assert_eq!(r.content_range(1000), "bytes 100-199/1000");
    }

    proptest::proptest! {
        #[test]
        fn resolved_ranges_always_lie_inside_the_file(header in "bytes=[0-9,\\- ]{0,40}", len in 0u64..5000) {
            if let RangeResolution::Partial(ranges) = resolve_range_header(Some(&header), len) {
                proptest::prop_assert!(!ranges.is_empty());
                for w in ranges.windows(2) {
                    proptest::prop_assert!(w[0].last + 1 < w[1].first);
                }
                for r in ranges {
                    proptest::prop_assert!(r.first <= r.last && r.last < len);
                }
            }
        }
    }
}
