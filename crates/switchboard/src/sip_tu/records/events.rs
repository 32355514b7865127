//! Webhook payloads for call, recording and task events, shaped exactly like the API's
//! `/calls/{id}`, `/recordings/{id}` and `/tasks/{id}` bodies so that a receiver can use one
//! parser for both. The API's view types are private to the CRM crate; these builders mirror
//! them field for field, and `payloads_match_the_api_bodies` (tests/api.rs) fails if the two
//! ever drift apart.

use serde_json::{Value, json};
use switchboard_store::calls::CallRecord;
use switchboard_store::recordings::Recording;
use switchboard_store::tasks::TaskRecord;

pub(crate) const CALL_STARTED: &str = "call.started";
pub(crate) const CALL_ANSWERED: &str = "call.answered";
pub(crate) const CALL_ENDED: &str = "call.ended";
pub(crate) const RECORDING_READY: &str = "recording.ready";
pub(crate) const TASK_CREATED: &str = "task.created";

/// The body of `GET /api/v1/calls/{id}`.
pub fn call(c: &CallRecord) -> Value {
    json!({
        "id": c.id.to_string(),
        "direction": c.direction.to_string(),
        "caller": c.caller,
        "callee": c.callee,
        "target": c.target,
        "agent_user_id": c.agent_user_id.as_ref().map(ToString::to_string),
        "queue": c.queue,
        "started_at": c.started_at.to_string(),
        "ringing_at": c.ringing_at.map(|t| t.to_string()),
        "answered_at": c.answered_at.map(|t| t.to_string()),
        "ended_at": c.ended_at.map(|t| t.to_string()),
        "state": c.state.to_string(),
        "end_cause": c.end_cause,
        "sip_status": c.sip_status,
        "hangup_by": c.hangup_by.map(|h| h.to_string()),
        "duration_ms": c.duration_ms(),
        "talk_ms": c.talk_ms(),
        "recording_id": c.recording_id,
    })
}

/// The body of `GET /api/v1/recordings/{id}`.
pub fn recording(r: &Recording) -> Value {
    // Same fallback as the API: a paused list that is not a JSON list shows as empty.
    let paused = serde_json::from_str::<Value>(&r.paused_json)
        .ok()
        .filter(Value::is_array)
        .unwrap_or(Value::Array(Vec::new()));
    json!({
        "id": r.id,
        "call_id": r.call_id.to_string(),
        "started_at": r.started_at.to_string(),
        "duration_ms": r.duration_ms,
        "size_bytes": r.size_bytes,
        "sha256": r.sha256,
        "channels": r.channels,
        "sample_rate": r.sample_rate,
        "state": r.state.to_string(),
        "paused": paused,
        "paused_segments": paused_segments(&r.paused_json),
        "created_at": r.created_at.to_string(),
        "deleted_at": r.deleted_at.map(|t| t.to_string()),
        "audio_url": format!("/api/v1/recordings/{}/audio", r.id),
        "peaks_url": format!("/api/v1/recordings/{}/peaks", r.id),
    })
}

/// The paused spans in milliseconds, as `RecordingView.paused_segments` shows them.
fn paused_segments(paused_json: &str) -> Value {
    let spans: Vec<Value> =
        serde_json::from_str::<Vec<switchboard_recording::PausedSegment>>(paused_json)
            .unwrap_or_default()
            .iter()
            .map(|p| json!({ "start_ms": p.start_ms(), "end_ms": p.end_ms() }))
            .collect();
    Value::Array(spans)
}

/// The body of `GET /api/v1/tasks/{id}` (one serialiser with the API's task steps).
pub fn task(t: &TaskRecord) -> Value {
    switchboard_store::tasks::event_payload(t)
}
