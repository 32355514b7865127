//! Call detail records and recording metadata over HTTP: `GET /calls`, `GET /calls/{id}`,
//! `GET /recordings`, `GET /recordings/{id}`. The audio and the waveform are in
//! [`super::recordings`].
//!
//! Roles: admins, supervisors and QA read every call and recording of their tenant; an agent
//! reads only the calls they handled (`agent_user_id` is themselves) and those calls'
//! recordings. Another agent's call answers 404, like another tenant's, so ids do not leak.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_core::{CallId, Role, UserId};
use switchboard_store::calls::{self, CallCursor, CallFilter, CallRecord, CallState};
use switchboard_store::recordings::{
    self, Recording, RecordingCursor, RecordingFilter, RecordingState,
};
use utoipa::{IntoParams, ToSchema};

use super::customer_types::parse_time;
use super::customers::ApiQuery;
use super::{ApiError, ApiJson, ApiState, Caller};

/// Who may read calls and recordings at all; agents are further limited to their own calls.
pub(crate) const READERS: &[Role] = &[
    Role::Admin,
    Role::Supervisor,
    Role::Qa,
    Role::Agent,
    Role::Integrator,
];
/// Who reads every call of the tenant: staff who oversee it, and the CRM/ERP keeping its
/// contact history in sync.
const ALL_CALLS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa, Role::Integrator];
const DEFAULT_LIMIT: u32 = 100;
/// Longest `number` filter accepted: E.164 is 16 characters, SIP user parts can be longer.
const MAX_NUMBER: usize = 64;

/// One call detail record. Times are RFC 3339 (UTC, milliseconds) or null.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallView {
    pub id: String,
    /// `inbound`, `outbound` or `internal`.
    pub direction: String,
    /// Number or extension as presented.
    pub caller: String,
    /// Number dialled.
    pub callee: String,
    /// What the call was routed to: `extension:1001`, `queue:sales`, `trunk:main`.
    pub target: Option<String>,
    /// The agent who handled the call.
    pub agent_user_id: Option<String>,
    pub queue: Option<String>,
    pub started_at: String,
    pub ringing_at: Option<String>,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
    /// `setup`, `ringing`, `answered` or `ended`.
    pub state: String,
    /// `normal-clearing`, `busy`, `no-answer`, `server-restart`, … once ended.
    pub end_cause: Option<String>,
    /// Final SIP status code the caller got.
    pub sip_status: Option<u16>,
    /// `caller`, `callee` or `system`.
    pub hangup_by: Option<String>,
    /// Start to end; null while the call is open.
    pub duration_ms: Option<i64>,
    /// Answer to end; null if never answered or still open.
    pub talk_ms: Option<i64>,
    /// Read it at `/recordings/{recording_id}`.
    pub recording_id: Option<String>,
}

impl From<&CallRecord> for CallView {
    fn from(c: &CallRecord) -> Self {
        CallView {
            id: c.id.to_string(),
            direction: c.direction.to_string(),
            caller: c.caller.clone(),
            callee: c.callee.clone(),
            target: c.target.clone(),
            agent_user_id: c.agent_user_id.as_ref().map(ToString::to_string),
            queue: c.queue.clone(),
            started_at: c.started_at.to_string(),
            ringing_at: c.ringing_at.map(|t| t.to_string()),
            answered_at: c.answered_at.map(|t| t.to_string()),
            ended_at: c.ended_at.map(|t| t.to_string()),
            state: c.state.to_string(),
            end_cause: c.end_cause.clone(),
            sip_status: c.sip_status,
            hangup_by: c.hangup_by.map(|h| h.to_string()),
            duration_ms: c.duration_ms(),
            talk_ms: c.talk_ms(),
            recording_id: c.recording_id.clone(),
        }
    }
}

/// One page of `GET /calls`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallPage {
    pub items: Vec<CallView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /calls`. Values are taken as text and checked here, so that a bad one is a
/// 400 naming its parameter.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallListParams {
    /// Calls started at or after: RFC 3339 or milliseconds since the epoch.
    pub since: Option<String>,
    /// Calls started before: RFC 3339 or milliseconds since the epoch.
    pub until: Option<String>,
    /// Exactly the caller or the callee.
    pub number: Option<String>,
    /// The handling agent's user id, or `me`. Agents always see only their own calls.
    pub agent: Option<String>,
    /// `setup`, `ringing`, `answered` or `ended`.
    pub state: Option<String>,
    /// Page size, 1-1000 (default 100).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A recording's metadata. The file's location on disk is not shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordingView {
    pub id: String,
    pub call_id: String,
    pub started_at: String,
    /// 0 while recording.
    pub duration_ms: i64,
    /// 0 while recording.
    pub size_bytes: i64,
    /// SHA-256 of the finished file, lowercase hex; null while recording.
    pub sha256: Option<String>,
    /// 2: left = customer, right = agent.
    pub channels: u16,
    pub sample_rate: u32,
    /// `recording`, `complete` or `repaired` (finished after a crash).
    pub state: String,
    /// Muted spans (card numbers read out), as the recorder wrote them.
    #[schema(value_type = Vec<Object>)]
    pub paused: Value,
    /// The same spans in milliseconds from the start of the recording, for the player.
    pub paused_segments: Vec<PausedSpan>,
    pub created_at: String,
    /// When the retention job deleted the audio (the row stays); null while it is kept.
    pub deleted_at: Option<String>,
    /// Where the player fetches the WAV (supports `Range`).
    pub audio_url: String,
    /// Where the player fetches the waveform.
    pub peaks_url: String,
}

/// A paused (muted) span of a recording, in milliseconds from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PausedSpan {
    pub start_ms: u64,
    pub end_ms: u64,
}

/// The recorder's paused spans (frames) in milliseconds; an unreadable column is no spans.
pub(crate) fn paused_spans(paused_json: &str) -> Vec<PausedSpan> {
    serde_json::from_str::<Vec<switchboard_recording::align::PausedSegment>>(paused_json)
        .unwrap_or_default()
        .iter()
        .map(|p| PausedSpan {
            start_ms: p.start_ms(),
            end_ms: p.end_ms(),
        })
        .collect()
}

impl From<&Recording> for RecordingView {
    fn from(r: &Recording) -> Self {
        RecordingView {
            paused_segments: paused_spans(&r.paused_json),
            deleted_at: r.deleted_at.map(|t| t.to_string()),
            id: r.id.clone(),
            call_id: r.call_id.to_string(),
            started_at: r.started_at.to_string(),
            duration_ms: r.duration_ms,
            size_bytes: r.size_bytes,
            sha256: r.sha256.clone(),
            channels: r.channels,
            sample_rate: r.sample_rate,
            state: r.state.to_string(),
            // The recorder writes this column; should it ever not be a JSON list, show an empty
            // one rather than fail the whole listing or break the documented shape.
            paused: serde_json::from_str::<Value>(&r.paused_json)
                .ok()
                .filter(Value::is_array)
                .unwrap_or(Value::Array(Vec::new())),
            created_at: r.created_at.to_string(),
            audio_url: format!("/api/v1/recordings/{}/audio", r.id),
            peaks_url: format!("/api/v1/recordings/{}/peaks", r.id),
        }
    }
}

/// One page of `GET /recordings`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordingPage {
    pub items: Vec<RecordingView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /recordings`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordingListParams {
    /// Recordings started at or after: RFC 3339 or milliseconds since the epoch.
    pub since: Option<String>,
    /// Recordings started before: RFC 3339 or milliseconds since the epoch.
    pub until: Option<String>,
    /// Page size, 1-1000 (default 100).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn is_agent_only(caller: &Caller) -> bool {
    !ALL_CALLS.contains(&caller.user.role)
}

fn parse_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| ApiError::bad_field("limit", "limit must be a whole number 1-1000"))
}

fn bad_cursor() -> ApiError {
    ApiError::bad_field("cursor", "cursor is not one this server issued")
}

/// Opaque to clients, like the calls' cursor: hex of `"<ms>:<id>"`.
fn encode_recording_cursor(c: &RecordingCursor) -> String {
    hex::encode(format!("{}:{}", c.started_at.as_millis(), c.id))
}

fn decode_recording_cursor(s: &str) -> Option<RecordingCursor> {
    let text = String::from_utf8(hex::decode(s).ok()?).ok()?;
    let (ms, id) = text.split_once(':')?;
    let ms: i64 = ms.parse().ok()?;
    (!id.is_empty()).then(|| RecordingCursor {
        started_at: switchboard_core::Timestamp::from_millis(ms),
        id: id.to_owned(),
    })
}

/// Ids are ours (UUIDs) or nothing: anything else cannot name a row.
fn valid_id(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 128 && !raw.contains('\0')
}

/// The caller's call `id`, or 404 (unknown, another tenant's, or another agent's).
pub(crate) async fn readable_call(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<CallRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("call '{id}'"));
    if !valid_id(id) {
        return Err(not_found());
    }
    let call = calls::get_call(&state.store, caller.tenant(), &CallId::from(id))
        .await?
        .ok_or_else(not_found)?;
    if is_agent_only(caller) && call.agent_user_id.as_ref() != Some(&caller.user.id) {
        return Err(not_found());
    }
    Ok(call)
}

/// The caller's recording `id`, or 404. An agent reads the recordings of their own calls.
pub(crate) async fn readable_recording(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<Recording, ApiError> {
    let not_found = || ApiError::NotFound(format!("recording '{id}'"));
    if !valid_id(id) {
        return Err(not_found());
    }
    let rec = recordings::get_recording(&state.store, caller.tenant(), id)
        .await?
        .ok_or_else(not_found)?;
    if is_agent_only(caller) {
        let call = calls::get_call(&state.store, caller.tenant(), &rec.call_id).await?;
        let own = call.is_some_and(|c| c.agent_user_id.as_ref() == Some(&caller.user.id));
        if !own {
            return Err(not_found());
        }
    }
    Ok(rec)
}

/// The tenant's calls, newest first, filtered and paged by `cursor`.
#[utoipa::path(
    get, path = "/calls", operation_id = "list_calls", tag = "calls",
    params(CallListParams),
    responses((status = 200, description = "One page, newest call first", body = CallPage))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CallListParams>,
) -> Result<ApiJson<CallPage>, ApiError> {
    caller.require(READERS)?;
    let since = q
        .since
        .as_deref()
        .map(|s| parse_time("since", s))
        .transpose()?;
    let until = q
        .until
        .as_deref()
        .map(|s| parse_time("until", s))
        .transpose()?;
    let number = q.number.as_deref().filter(|n| !n.is_empty());
    if number.is_some_and(|n| n.len() > MAX_NUMBER || n.contains('\0')) {
        return Err(ApiError::bad_field(
            "number",
            format!("number must be at most {MAX_NUMBER} characters, without NUL"),
        ));
    }
    let state_filter = q
        .state
        .as_deref()
        .map(|s| {
            CallState::parse(s).ok_or_else(|| {
                ApiError::bad_field("state", "state must be setup, ringing, answered or ended")
            })
        })
        .transpose()?;
    let limit = parse_limit(q.limit.as_deref())?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| CallCursor::decode(c).ok_or_else(bad_cursor))
        .transpose()?;
    let asked: Option<UserId> = match q.agent.as_deref() {
        None | Some("") => None,
        Some("me") => Some(caller.user.id.clone()),
        Some(a) if valid_id(a) => Some(UserId::from(a)),
        Some(_) => {
            return Err(ApiError::bad_field(
                "agent",
                "agent must be a user id or me",
            ));
        }
    };
    let agent = if is_agent_only(&caller) {
        if asked.as_ref().is_some_and(|a| a != &caller.user.id) {
            return Err(ApiError::Forbidden(
                "supervisor, qa or admin (agents read only their own calls)".into(),
            ));
        }
        Some(caller.user.id.clone())
    } else {
        asked
    };
    let page = calls::list_calls(
        &state.store,
        caller.tenant(),
        &CallFilter {
            since,
            until,
            number,
            agent: agent.as_ref(),
            state: state_filter,
            limit,
            before,
        },
    )
    .await?;
    Ok(ApiJson(CallPage {
        items: page.items.iter().map(CallView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// One call.
#[utoipa::path(
    get, path = "/calls/{id}", operation_id = "get_call", tag = "calls",
    params(("id" = String, Path, description = "Call id")),
    responses((status = 200, description = "The call", body = CallView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<CallView>, ApiError> {
    caller.require(READERS)?;
    let call = readable_call(&state, &caller, &id).await?;
    Ok(ApiJson(CallView::from(&call)))
}

/// The tenant's recordings, newest first. Agents find their recordings through their calls'
/// `recording_id` (`GET /calls?agent=me`) instead.
#[utoipa::path(
    get, path = "/recordings", operation_id = "list_recordings", tag = "recordings",
    params(RecordingListParams),
    responses((status = 200, description = "One page, newest recording first", body = RecordingPage))
)]
pub(crate) async fn list_recordings(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RecordingListParams>,
) -> Result<ApiJson<RecordingPage>, ApiError> {
    // The store cannot filter recordings by the call's agent, and filtering a page afterwards
    // would make pages short and uneven: agents use their calls' `recording_id`.
    caller.require(ALL_CALLS)?;
    let since = q
        .since
        .as_deref()
        .map(|s| parse_time("since", s))
        .transpose()?;
    let until = q
        .until
        .as_deref()
        .map(|s| parse_time("until", s))
        .transpose()?;
    let limit = parse_limit(q.limit.as_deref())?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| decode_recording_cursor(c).ok_or_else(bad_cursor))
        .transpose()?;
    let page = recordings::list_recordings(
        &state.store,
        caller.tenant(),
        &RecordingFilter {
            since,
            until,
            limit,
            before,
        },
    )
    .await?;
    Ok(ApiJson(RecordingPage {
        items: page.items.iter().map(RecordingView::from).collect(),
        next_cursor: page.next.as_ref().map(encode_recording_cursor),
    }))
}

/// One recording's metadata.
#[utoipa::path(
    get, path = "/recordings/{id}", operation_id = "get_recording", tag = "recordings",
    params(("id" = String, Path, description = "Recording id")),
    responses((status = 200, description = "The recording", body = RecordingView))
)]
pub(crate) async fn get_recording(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<RecordingView>, ApiError> {
    caller.require(READERS)?;
    let rec = readable_recording(&state, &caller, &id).await?;
    Ok(ApiJson(RecordingView::from(&rec)))
}

/// Whether a recording's file is finished (complete or repaired), for caching decisions.
pub(crate) fn is_finished(rec: &Recording) -> bool {
    rec.state != RecordingState::Recording
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_cursor_round_trips_and_rejects_foreign_text() {
        let c = RecordingCursor {
            started_at: switchboard_core::Timestamp::from_millis(1_800_000_000_123),
            id: "0193-abc".into(),
        };
        assert_eq!(
            decode_recording_cursor(&encode_recording_cursor(&c)),
            Some(c)
        );
        for bad in [
            "",
            "zz",
            &hex::encode("no-colon"),
            &hex::encode("x:id"),
            &hex::encode("5:"),
        ] {
            assert_eq!(decode_recording_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn limit_defaults_to_100_and_must_be_1_to_1000() {
        assert_eq!(parse_limit(None).ok(), Some(100));
        assert_eq!(parse_limit(Some("1000")).ok(), Some(1000));
        for bad in ["0", "1001", "-1", "ten", ""] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
