//! The QA player's two reads of a recording: the WAV itself (`GET /recordings/{id}/audio`, with
//! `Range` so an `<audio>` element can seek) and its waveform (`GET /recordings/{id}/peaks`).
//!
//! The file is `recordings_root.join(row.path)`. A row path that is absolute, climbs with `..`,
//! or resolves (through a symlink) outside the root is refused with a 500 and an error in the log:
//! such a row is corrupt or hostile, and nothing outside the root is ever served. The audio is
//! streamed from disk in chunks, so a small range of a large file reads only that range.
//!
//! Only QA, supervisors and admins listen (audio and waveform); every audio request is written
//! to the audit log before a byte is sent (`recording.play`, or `recording.download` for
//! `?download=1`), one row per request with the range asked for, so each seek of a player is a
//! row of its own. Several ranges are answered as `multipart/byteranges` (RFC 9110 §14.6).

use std::collections::VecDeque;
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
use switchboard_core::Role;
use switchboard_recording::peaks::PeaksError;
use switchboard_recording::range::{RangeResolution, resolve_range_header};
use switchboard_recording::{ByteRange, waveform_peaks_for_width};
use switchboard_store::audit;
use switchboard_store::recordings::Recording;
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};
use utoipa::{IntoParams, ToSchema};

use super::calls::{is_finished, readable_recording};
use super::customers::ApiQuery;
use super::{ApiError, ApiJson, ApiState, Caller};

/// Who may listen to recordings (audio and waveform): the service rules keep calls between the
/// customer, the agent and those who oversee them; agents and integrators read metadata only.
pub(crate) const LISTENERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa];

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
    #[error("the audio of recording '{0}' was deleted when its retention period ended")]
    Expired(String),
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
            RecordingApiError::Expired(_) => (
                StatusCode::GONE,
                axum::Json(json!({ "error": { "code": "expired", "message": message } })),
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

/// One piece of a response body: literal bytes (multipart headers) or a range of the file.
#[derive(Debug)]
enum Part {
    Bytes(Bytes),
    File { first: u64, len: u64 },
}

/// A body made of parts, read from an open file one chunk per frame: the whole file, one
/// range, or the parts of a `multipart/byteranges` answer.
#[derive(Debug)]
struct PartsBody {
    file: tokio::fs::File,
    parts: VecDeque<Part>,
    /// Bytes of the front file part still to send, once the file is positioned for it.
    remaining: Option<u64>,
    seeking: bool,
    left_total: u64,
}

impl PartsBody {
    fn new(file: tokio::fs::File, parts: Vec<Part>) -> Self {
        let left_total = parts
            .iter()
            .map(|p| match p {
                Part::Bytes(b) => b.len() as u64,
                Part::File { len, .. } => *len,
            })
            .sum();
        PartsBody {
            file,
            parts: parts.into(),
            remaining: None,
            seeking: false,
            left_total,
        }
    }
}

impl hyper::body::Body for PartsBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        loop {
            let (first, len) = match this.parts.front() {
                None => return Poll::Ready(None),
                Some(Part::Bytes(_)) => {
                    let Some(Part::Bytes(b)) = this.parts.pop_front() else {
                        continue;
                    };
                    this.left_total -= b.len() as u64;
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                Some(Part::File { first, len }) => (*first, *len),
            };
            let remaining = match this.remaining {
                Some(r) => r,
                None => {
                    if !this.seeking {
                        Pin::new(&mut this.file).start_seek(std::io::SeekFrom::Start(first))?;
                        this.seeking = true;
                    }
                    match Pin::new(&mut this.file).poll_complete(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                        Poll::Ready(Ok(_)) => {
                            this.seeking = false;
                            this.remaining = Some(len);
                            len
                        }
                    }
                }
            };
            if remaining == 0 {
                this.parts.pop_front();
                this.remaining = None;
                continue;
            }
            let want = usize::try_from(remaining).map_or(CHUNK, |r| r.min(CHUNK));
            let mut chunk = vec![0u8; want];
            let mut buf = ReadBuf::new(&mut chunk);
            return match Pin::new(&mut this.file).poll_read(cx, &mut buf) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                Poll::Ready(Ok(())) => {
                    let n = buf.filled().len();
                    if n == 0 {
                        // The file shrank under us (retention, repair): end the body short
                        // rather than wait forever; the client sees fewer bytes than promised.
                        return Poll::Ready(Some(Err(std::io::Error::new(
                            ErrorKind::UnexpectedEof,
                            "recording file shorter than its length",
                        ))));
                    }
                    this.remaining = Some(remaining - n as u64);
                    this.left_total -= n as u64;
                    chunk.truncate(n);
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
                }
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left_total == 0
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.left_total)
    }
}

/// The parts of a `multipart/byteranges` body for `ranges` of a `total`-byte WAV.
fn multipart_parts(ranges: &[ByteRange], total: u64, boundary: &str) -> Vec<Part> {
    let mut parts = Vec::with_capacity(ranges.len() * 2 + 1);
    for (i, r) in ranges.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        parts.push(Part::Bytes(Bytes::from(format!(
            "{lead}--{boundary}\r\nContent-Type: audio/wav\r\nContent-Range: {}\r\n\r\n",
            r.content_range(total)
        ))));
        parts.push(Part::File {
            first: r.first,
            len: r.len(),
        });
    }
    parts.push(Part::Bytes(Bytes::from(format!("\r\n--{boundary}--\r\n"))));
    parts
}

fn etag_of(rec: &Recording) -> Option<HeaderValue> {
    // Only a finished file has a fixed content; one still being written has no validator.
    let sha = rec.sha256.as_deref().filter(|_| is_finished(rec))?;
    HeaderValue::from_str(&format!("\"{sha}\"")).ok()
}

fn io_error(rec: &Recording, e: std::io::Error) -> RecordingApiError {
    ApiError::Internal(format!("reading recording '{}': {e}", rec.id)).into()
}

/// Query of `GET /recordings/{id}/audio`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AudioParams {
    /// `1` or `true`: a download (`Content-Disposition: attachment`), audited as such.
    pub download: Option<String>,
}

fn parse_download(raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(_) => Err(ApiError::bad_field(
            "download",
            "download must be 1, true, 0 or false",
        )),
    }
}

/// The recording's WAV. `Range: bytes=…` answers 206 with `Content-Range` (several ranges: a
/// `multipart/byteranges` body); a range wholly past the end answers 416; no (or an
/// unparsable) `Range` answers 200 with the whole file. Every request is audited.
#[utoipa::path(
    get, path = "/recordings/{id}/audio", operation_id = "get_recording_audio", tag = "recordings",
    params(
        ("id" = String, Path, description = "Recording id"),
        ("Range" = Option<String>, Header, description = "`bytes=first-last`, `bytes=first-`, `bytes=-suffix`, or several separated by commas"),
        ("If-Range" = Option<String>, Header, description = "The ETag the client holds: the range is sent only if it still matches"),
        AudioParams,
    ),
    responses(
        (status = 200, description = "The whole WAV", content_type = "audio/wav", body = inline(WavBytes),
            headers(("Accept-Ranges" = String), ("Content-Length" = u64), ("Content-Disposition" = String, description = "attachment with ?download=1"))),
        (status = 206, description = "The requested bytes (one range), or `multipart/byteranges` (several)",
            content((inline(WavBytes) = "audio/wav"), (inline(WavBytes) = "multipart/byteranges")),
            headers(("Content-Range" = String, description = "bytes first-last/total (one range)"))),
        (status = 410, description = "The audio was deleted by retention", body = super::openapi::ErrorBody),
        (status = 416, description = "Range outside the file", body = super::openapi::ErrorBody,
            headers(("Content-Range" = String, description = "bytes */total"))),
        (status = 503, description = "Recordings are not configured", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn audio(
    State(state): State<ApiState>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
    ApiQuery(q): ApiQuery<AudioParams>,
    headers: HeaderMap,
) -> Result<Response, RecordingApiError> {
    caller.require(LISTENERS)?;
    let download = parse_download(q.download.as_deref())?;
    let rec = readable_recording(&state, &caller, &id).await?;
    if rec.deleted_at.is_some() {
        return Err(RecordingApiError::Expired(rec.id));
    }
    let path = recording_file(&state, &rec).await?;
    let file = tokio::fs::File::open(&path)
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
    let resolution = resolve_range_header(range_header, total);
    let status = match &resolution {
        RangeResolution::Full => StatusCode::OK,
        RangeResolution::Partial(_) => StatusCode::PARTIAL_CONTENT,
        RangeResolution::Unsatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
    };
    // Written before anything is sent: a listen that cannot be audited does not happen.
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        if download {
            "recording.download"
        } else {
            "recording.play"
        },
        &rec.id,
        &json!({
            "call_id": rec.call_id.to_string(),
            "range": range_header,
            "status": status.as_u16(),
        }),
        state.clock.now(),
    )
    .await
    .map_err(ApiError::from)?;
    let mut builder = Response::builder()
        .status(status)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "private, no-store");
    let parts = match resolution {
        RangeResolution::Unsatisfiable => {
            return Err(RecordingApiError::Unsatisfiable { total });
        }
        RangeResolution::Full => {
            builder = builder.header(header::CONTENT_TYPE, "audio/wav");
            vec![Part::File {
                first: 0,
                len: total,
            }]
        }
        RangeResolution::Partial(ranges) => match ranges.as_slice() {
            [one] => {
                builder = builder
                    .header(header::CONTENT_TYPE, "audio/wav")
                    .header(header::CONTENT_RANGE, one.content_range(total));
                vec![Part::File {
                    first: one.first,
                    len: one.len(),
                }]
            }
            several => {
                let boundary = uuid::Uuid::new_v4().simple().to_string();
                builder = builder.header(
                    header::CONTENT_TYPE,
                    format!("multipart/byteranges; boundary={boundary}"),
                );
                multipart_parts(several, total, &boundary)
            }
        },
    };
    if download {
        let call = rec.call_id.to_string();
        let safe: String = call
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        builder = builder.header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"recording-{safe}.wav\""),
        );
    }
    if let Some(etag) = etag {
        builder = builder.header(header::ETAG, etag);
    }
    let body = PartsBody::new(file, parts);
    builder
        .header(header::CONTENT_LENGTH, body.left_total)
        .body(Body::new(body))
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
    caller.require(LISTENERS)?;
    let buckets = parse_buckets(q.buckets.as_deref())?;
    let rec = readable_recording(&state, &caller, &id).await?;
    if rec.deleted_at.is_some() {
        return Err(RecordingApiError::Expired(rec.id));
    }
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
    fn several_ranges_become_delimited_parts_each_with_its_content_range() {
        let r = |first, last| ByteRange { first, last };
        let parts = multipart_parts(&[r(0, 9), r(50, 59)], 100, "B");
        let texts: Vec<String> = parts
            .iter()
            .map(|p| match p {
                Part::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                Part::File { first, len } => format!("<{first}+{len}>"),
            })
            .collect();
        assert_eq!(
            texts.concat(),
            "--B\r\nContent-Type: audio/wav\r\nContent-Range: bytes 0-9/100\r\n\r\n<0+10>\
             \r\n--B\r\nContent-Type: audio/wav\r\nContent-Range: bytes 50-59/100\r\n\r\n<50+10>\
             \r\n--B--\r\n"
        );
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
