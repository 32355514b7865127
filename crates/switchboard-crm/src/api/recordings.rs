//! The QA player's two reads of a recording: the WAV itself (`GET /recordings/{id}/audio`, with
//! `Range` so an `<audio>` element can seek) and its waveform (`GET /recordings/{id}/peaks`).
//!
//! The file is `recordings_root.join(row.path)`. A row path that is absolute, climbs with `..`,
//! or resolves (through a symlink) outside the root is refused with a 500 and an error in the log:
//! such a row is corrupt or hostile, and nothing outside the root is ever served. The audio is
//! streamed from disk in chunks, so a small range of a large file reads only that range.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_recording::peaks::PeaksError;
use switchboard_recording::range::{RangeResolution, resolve_range_header};
use switchboard_recording::{ByteRange, waveform_peaks_for_width};
use switchboard_store::recordings::Recording;
use tokio::io::{AsyncRead, AsyncSeekExt, ReadBuf};
use utoipa::{IntoParams, ToSchema};

use super::calls::{READERS, is_finished, readable_recording};
use super::customers::ApiQuery;
use super::{ApiError, ApiJson, ApiState, Caller};

/// Bytes read from disk per body frame.
const CHUNK: usize = 64 * 1024;
const DEFAULT_BUCKETS: u32 = 1000;
/// More peaks than any screen is wide; bounds the answer's size.
const MAX_BUCKETS: u32 = 10_000;

/// What can fail while serving a recording's audio or peaks, beyond the API's common errors.
#[derive(Debug, thiserror::Error)]
pub enum RecordingApiError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("recordings are not configured on this server (no recordings root)")]
    NotConfigured,
    #[error("the requested range lies outside the recording ({total} bytes)")]
    Unsatisfiable { total: u64 },
}

impl IntoResponse for RecordingApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        match self {
            RecordingApiError::Api(e) => e.into_response(),
            RecordingApiError::NotConfigured => (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "error": { "code": "not_configured", "message": message } })),
            )
                .into_response(),
            RecordingApiError::Unsatisfiable { total } => {
                let body = json!({ "error": {
                    "code": "range_not_satisfiable", "message": message, "field": "Range"
                } });
                let mut response =
                    (StatusCode::RANGE_NOT_SATISFIABLE, axum::Json(body)).into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                response
                    .headers_mut()
                    .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
                response
            }
        }
    }
}

/// True for a relative path made only of plain names (`2026/11/23/x.wav`): nothing absolute,
/// no `..`, no root or drive prefix.
fn is_safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && !p.is_absolute()
        && !path.contains('\0')
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// The recording's file on disk, checked to lie inside the recordings root.
async fn recording_file(state: &ApiState, rec: &Recording) -> Result<PathBuf, RecordingApiError> {
    let root = state
        .recordings_root
        .as_deref()
        .ok_or(RecordingApiError::NotConfigured)?;
    if !is_safe_relative(&rec.path) {
        return Err(ApiError::Internal(format!(
            "recording '{}' has the path {:?}, which is absolute or leaves the recordings root; \
             refusing to serve it",
            rec.id, rec.path
        ))
        .into());
    }
    let root = tokio::fs::canonicalize(root).await.map_err(|e| {
        ApiError::Internal(format!("recordings root {} unusable: {e}", root.display()))
    })?;
    let full = match tokio::fs::canonicalize(root.join(&rec.path)).await {
        Ok(full) => full,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            tracing::warn!(recording = %rec.id, "recording file is missing");
            return Err(ApiError::NotFound(format!("audio of recording '{}'", rec.id)).into());
        }
        Err(e) => {
            return Err(ApiError::Internal(format!("recording '{}': {e}", rec.id)).into());
        }
    };
    // A symlink under the root could still point elsewhere.
    if !full.starts_with(&root) {
        return Err(ApiError::Internal(format!(
            "recording '{}' resolves to {}, outside the recordings root; refusing to serve it",
            rec.id,
            full.display()
        ))
        .into());
    }
    Ok(full)
}

/// A body that reads `remaining` bytes of an open file, one chunk per frame.
#[derive(Debug)]
struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(self.remaining).map_or(CHUNK, |r| r.min(CHUNK));
        let mut chunk = vec![0u8; want];
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(&mut self.file).poll_read(cx, &mut buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n == 0 {
                    // The file shrank under us (retention, repair): end the body short rather
                    // than wait forever; the client sees fewer bytes than Content-Length.
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "recording file shorter than its length",
                    ))));
                }
                self.remaining -= n as u64;
                chunk.truncate(n);
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}

fn etag_of(rec: &Recording) -> Option<HeaderValue> {
    // Only a finished file has a fixed content; one still being written has no validator.
    let sha = rec.sha256.as_deref().filter(|_| is_finished(rec))?;
    HeaderValue::from_str(&format!("\"{sha}\"")).ok()
}

/// The range to answer with. Several ranges are answered as the one range that covers them
/// (RFC 9110 lets a server coalesce), which every client that sent them can read, instead of a
/// multipart body that `<audio>` never asks for.
fn single_range(ranges: &[ByteRange]) -> Option<ByteRange> {
    Some(ByteRange {
        first: ranges.first()?.first,
        last: ranges.last()?.last,
    })
}

fn io_error(rec: &Recording, e: std::io::Error) -> RecordingApiError {
    ApiError::Internal(format!("reading recording '{}': {e}", rec.id)).into()
}

/// The recording's WAV. `Range: bytes=…` answers 206 with `Content-Range`; a range wholly past
/// the end answers 416; no (or an unparsable) `Range` answers 200 with the whole file.
#[utoipa::path(
    get, path = "/recordings/{id}/audio", operation_id = "get_recording_audio", tag = "recordings",
    params(
        ("id" = String, Path, description = "Recording id"),
        ("Range" = Option<String>, Header, description = "`bytes=first-last`, `bytes=first-` or `bytes=-suffix`"),
    ),
    responses(
        (status = 200, description = "The whole WAV", content_type = "audio/wav", body = inline(WavBytes),
            headers(("Accept-Ranges" = String), ("Content-Length" = u64))),
        (status = 206, description = "The requested bytes", content_type = "audio/wav", body = inline(WavBytes),
            headers(("Content-Range" = String, description = "bytes first-last/total"))),
        (status = 416, description = "Range outside the file", body = super::openapi::ErrorBody,
            headers(("Content-Range" = String, description = "bytes */total"))),
        (status = 503, description = "Recordings are not configured", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn audio(
    State(state): State<ApiState>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, RecordingApiError> {
    caller.require(READERS)?;
    let rec = readable_recording(&state, &caller, &id).await?;
    let path = recording_file(&state, &rec).await?;
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| io_error(&rec, e))?;
    let total = file.metadata().await.map_err(|e| io_error(&rec, e))?.len();
    let etag = etag_of(&rec);
    // If-Range: the client's copy is stale unless it names our current ETag; then it gets the
    // whole file, never a range of a different one.
    let range_applies = match headers.get(header::IF_RANGE) {
        None => true,
        Some(v) => etag.as_ref().is_some_and(|e| e == v),
    };
    let range_header = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| range_applies);
    let (status, range) = match resolve_range_header(range_header, total) {
        RangeResolution::Full => (StatusCode::OK, None),
        RangeResolution::Partial(ranges) => match single_range(&ranges) {
            Some(r) => (StatusCode::PARTIAL_CONTENT, Some(r)),
            None => (StatusCode::OK, None),
        },
        RangeResolution::Unsatisfiable => {
            return Err(RecordingApiError::Unsatisfiable { total });
        }
    };
    let length = match range {
        Some(r) => {
            file.seek(std::io::SeekFrom::Start(r.first))
                .await
                .map_err(|e| io_error(&rec, e))?;
            r.len()
        }
        None => total,
    };
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "audio/wav")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, length)
        .header(header::CACHE_CONTROL, "private, no-cache");
    if let Some(r) = range {
        builder = builder.header(header::CONTENT_RANGE, r.content_range(total));
    }
    if let Some(etag) = etag {
        builder = builder.header(header::ETAG, etag);
    }
    builder
        .body(Body::new(FileBody {
            file,
            remaining: length,
        }))
        .map_err(|e| ApiError::Internal(e.to_string()).into())
}

/// The raw bytes of a WAV file (or of a range of one), for the OpenAPI document.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct WavBytes(
    #[expect(
        dead_code,
        reason = "never built: it only describes the body in the document"
    )]
    Vec<u8>,
);

/// Query of `GET /recordings/{id}/peaks`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeaksParams {
    /// About how many peaks per channel (the drawing's width in pixels), 1-10000 (default 1000).
    pub buckets: Option<String>,
}

/// One channel's waveform: `min[i]` and `max[i]` are the lowest and highest sample of block `i`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelPeaks {
    /// `customer` (left) or `agent` (right); `channel-N` beyond two.
    pub name: String,
    pub min: Vec<i16>,
    pub max: Vec<i16>,
}

/// A recording's waveform for the player.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PeaksView {
    pub recording_id: String,
    pub sample_rate: u32,
    /// Frames in the file.
    pub frames: u64,
    /// Frames covered by each peak (the last may cover fewer).
    pub samples_per_peak: u32,
    pub channels: Vec<ChannelPeaks>,
}

fn parse_buckets(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_BUCKETS);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_BUCKETS).contains(n))
        .ok_or_else(|| {
            ApiError::bad_field(
                "buckets",
                format!("buckets must be a whole number 1-{MAX_BUCKETS}"),
            )
        })
}

fn channel_name(i: usize) -> String {
    match i {
        0 => "customer".to_owned(),
        1 => "agent".to_owned(),
        n => format!("channel-{n}"),
    }
}

/// Waveform peaks per channel, about `buckets` of them.
#[utoipa::path(
    get, path = "/recordings/{id}/peaks", operation_id = "get_recording_peaks", tag = "recordings",
    params(("id" = String, Path, description = "Recording id"), PeaksParams),
    responses(
        (status = 200, description = "Peaks per channel, left (customer) first", body = PeaksView),
        (status = 503, description = "Recordings are not configured", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn peaks(
    State(state): State<ApiState>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
    ApiQuery(q): ApiQuery<PeaksParams>,
) -> Result<ApiJson<PeaksView>, RecordingApiError> {
    caller.require(READERS)?;
    let buckets = parse_buckets(q.buckets.as_deref())?;
    let rec = readable_recording(&state, &caller, &id).await?;
    let path = recording_file(&state, &rec).await?;
    // Reading a whole WAV is blocking file IO: keep it off the async workers.
    let peaks = tokio::task::spawn_blocking(move || waveform_peaks_for_width(&path, buckets))
        .await
        .map_err(|e| ApiError::Internal(format!("peaks task failed: {e}")))?
        .map_err(|e: PeaksError| {
            ApiError::Internal(format!("peaks of recording '{}': {e}", rec.id))
        })?;
    Ok(ApiJson(PeaksView {
        recording_id: rec.id,
        sample_rate: peaks.sample_rate,
        frames: peaks.frames,
        samples_per_peak: peaks.samples_per_peak,
        channels: peaks
            .channels
            .into_iter()
            .enumerate()
            .map(|(i, list)| ChannelPeaks {
                name: channel_name(i),
                min: list.iter().map(|p| p.min).collect(),
                max: list.iter().map(|p| p.max).collect(),
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_safe() {
        for ok in ["2026/11/23/a.wav", "./2026/a.wav", "a..b@host.wav"] {
            assert!(is_safe_relative(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../secret.wav",
            "2026/../../x.wav",
            "2026/11/..",
            "a\0.wav",
        ] {
            assert!(!is_safe_relative(bad), "{bad:?}");
        }
    }

    #[test]
    fn several_ranges_are_answered_as_the_range_covering_them() {
        let r = |first, last| ByteRange { first, last };
        assert_eq!(single_range(&[r(0, 9), r(50, 59)]), Some(r(0, 59)));
        assert_eq!(single_range(&[r(5, 5)]), Some(r(5, 5)));
        assert_eq!(single_range(&[]), None);
    }

    #[test]
    fn buckets_default_to_1000_and_must_be_1_to_10000() {
        assert_eq!(parse_buckets(None).ok(), Some(1000));
        assert_eq!(parse_buckets(Some("10000")).ok(), Some(10_000));
        for bad in ["0", "10001", "x", "-3"] {
            assert!(parse_buckets(Some(bad)).is_err(), "{bad}");
        }
    }
}
