//! Quality assurance over HTTP (issue 11): the QA search of recordings, comments pinned to
//! moments of a recording, the tenant's scorecard, scores, and the retention setting.
//!
//! Roles: QA, supervisors and admins search, comment and score; supervisors and admins change
//! the scorecard; only admins read or change the retention. Agents and integrators get 403 —
//! the recordings' audio is for those who oversee calls (see [`super::recordings::LISTENERS`]).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::{Role, Timestamp, UserId};
use switchboard_recording::retention::{
    DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS,
};
use switchboard_store::qa::{self, NewScore, QaFilter, QaRow};
use switchboard_store::{audit, calls};
use utoipa::{IntoParams, ToSchema};

use super::calls::readable_recording;
use super::customer_types::parse_time;
use super::customers::ApiQuery;
use super::recordings::LISTENERS;
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::scorecard::{Scorecard, ScorecardError};

/// Who changes the scorecard.
const CARD_EDITORS: &[Role] = &[Role::Admin, Role::Supervisor];
const ADMINS: &[Role] = &[Role::Admin];
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;
/// Longest comment or note.
const MAX_TEXT: usize = 4000;
/// Longest id or number filter.
const MAX_FILTER: usize = 128;

impl From<ScorecardError> for ApiError {
    fn from(e: ScorecardError) -> Self {
        ApiError::bad_field(e.field().to_owned(), e.to_string())
    }
}

/// Query of `GET /qa/recordings`. Values are taken as text and checked here, so that a bad
/// one is a 400 naming its parameter.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QaSearchParams {
    /// The handling agent's user id.
    pub agent: Option<String>,
    /// Queue id.
    pub queue: Option<String>,
    /// Campaign id.
    pub campaign: Option<String>,
    /// Customer id: calls with one of the customer's numbers.
    pub customer: Option<String>,
    /// Exactly the caller or the callee.
    pub number: Option<String>,
    /// Recordings started at or after: RFC 3339 or milliseconds since the epoch.
    pub from: Option<String>,
    /// Recordings started before: RFC 3339 or milliseconds since the epoch.
    pub to: Option<String>,
    /// Shortest duration, seconds.
    pub min_duration: Option<String>,
    /// Longest duration, seconds.
    pub max_duration: Option<String>,
    /// `answered`, `unanswered`, or the call's end cause (`normal-clearing`, `busy`, `no-answer`, …).
    pub outcome: Option<String>,
    /// Lowest total score, 0-100 (unscored recordings are left out).
    pub min_score: Option<String>,
    /// Highest total score, 0-100 (unscored recordings are left out).
    pub max_score: Option<String>,
    /// `true`: only scored recordings; `false`: only those still to score.
    pub scored: Option<String>,
    /// Page size, 1-500 (default 50).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A recording as the QA search lists it, with its call, agent, customer and score.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QaRecording {
    pub id: String,
    pub call_id: String,
    pub started_at: String,
    pub duration_ms: i64,
    /// `recording`, `complete` or `repaired`.
    pub state: String,
    /// The audio was deleted by retention.
    pub deleted: bool,
    /// `inbound`, `outbound` or `internal`.
    pub direction: String,
    pub caller: String,
    pub callee: String,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub queue: Option<String>,
    pub campaign_id: Option<String>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    /// The call's end cause (`normal-clearing`, `busy`, …).
    pub outcome: Option<String>,
    pub answered: bool,
    /// Total score 0-100; null when not scored yet.
    pub score: Option<f64>,
    /// Comments pinned to the timeline.
    pub comments: i64,
    pub audio_url: String,
}

fn score_of(centi: i64) -> f64 {
    centi as f64 / 100.0
}

fn iso(ms: i64) -> String {
    Timestamp::from_millis(ms).to_string()
}

impl From<QaRow> for QaRecording {
    fn from(r: QaRow) -> Self {
        QaRecording {
            audio_url: format!("/api/v1/recordings/{}/audio", r.id),
            started_at: iso(r.started_at),
            deleted: r.deleted_at.is_some(),
            answered: r.answered_at.is_some(),
            score: r.total_centi.map(score_of),
            id: r.id,
            call_id: r.call_id,
            duration_ms: r.duration_ms,
            state: r.state,
            direction: r.direction,
            caller: r.caller,
            callee: r.callee,
            agent_id: r.agent_user_id,
            agent_name: r.agent_name,
            queue: r.queue,
            campaign_id: r.campaign_id,
            customer_id: r.customer_id,
            customer_name: r.customer_name,
            outcome: r.end_cause,
            comments: r.comments,
        }
    }
}

/// One page of the QA search, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QaPage {
    pub items: Vec<QaRecording>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn filter_text<'a>(field: &str, raw: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    match raw.filter(|s| !s.is_empty()) {
        Some(s) if s.len() > MAX_FILTER || s.contains('\0') => Err(ApiError::bad_field(
            field,
            format!("{field} must be at most {MAX_FILTER} characters, without NUL"),
        )),
        other => Ok(other),
    }
}

fn seconds(field: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>().map(|n| i64::from(n) * 1000).map_err(|_| {
                ApiError::bad_field(field, format!("{field} must be a whole number of seconds"))
            })
        })
        .transpose()
}

fn score_bound(field: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f64>()
                .ok()
                .filter(|v| (0.0..=100.0).contains(v))
                .map(|v| (v * 100.0).round() as i64)
                .ok_or_else(|| ApiError::bad_field(field, format!("{field} must be 0-100")))
        })
        .transpose()
}

fn encode_cursor(at: Timestamp, id: &str) -> String {
    hex::encode(format!("{}:{id}", at.as_millis()))
}

fn decode_cursor(s: &str) -> Option<(Timestamp, String)> {
    let text = String::from_utf8(hex::decode(s).ok()?).ok()?;
    let (ms, id) = text.split_once(':')?;
    let ms: i64 = ms.parse().ok()?;
    (!id.is_empty()).then(|| (Timestamp::from_millis(ms), id.to_owned()))
}

/// Searches the tenant's recordings by agent, queue, campaign, customer, number, date,
/// duration, outcome and score; newest first.
#[utoipa::path(
    get, path = "/qa/recordings", operation_id = "qa_search_recordings", tag = "qa",
    params(QaSearchParams),
    responses(
        (status = 200, description = "One page, newest recording first", body = QaPage),
        (status = 400, description = "A filter is malformed; `field` names it", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn search(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<QaSearchParams>,
) -> Result<ApiJson<QaPage>, ApiError> {
    caller.require(LISTENERS)?;
    let since = q
        .from
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time("from", s))
        .transpose()?;
    let until =
        q.to.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| parse_time("to", s))
            .transpose()?;
    let scored = match q.scored.as_deref() {
        None | Some("") => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(_) => {
            return Err(ApiError::bad_field(
                "scored",
                "scored must be true or false",
            ));
        }
    };
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_field(
                    "limit",
                    format!("limit must be a whole number 1-{MAX_LIMIT}"),
                )
            })?,
    };
    let before = q
        .cursor
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|c| {
            decode_cursor(c).ok_or_else(|| {
                ApiError::bad_field("cursor", "cursor is not one this server issued")
            })
        })
        .transpose()?;
    let filter = QaFilter {
        agent: filter_text("agent", q.agent.as_deref())?,
        queue: filter_text("queue", q.queue.as_deref())?,
        campaign: filter_text("campaign", q.campaign.as_deref())?,
        customer: filter_text("customer", q.customer.as_deref())?,
        number: filter_text("number", q.number.as_deref())?,
        since,
        until,
        min_duration_ms: seconds("min_duration", q.min_duration.as_deref())?,
        max_duration_ms: seconds("max_duration", q.max_duration.as_deref())?,
        outcome: filter_text("outcome", q.outcome.as_deref())?,
        min_score_centi: score_bound("min_score", q.min_score.as_deref())?,
        max_score_centi: score_bound("max_score", q.max_score.as_deref())?,
        scored,
        limit,
        before,
    };
    let page = qa::search(&state.store, caller.tenant(), &filter).await?;
    Ok(ApiJson(QaPage {
        next_cursor: page.next.map(|(at, id)| encode_cursor(at, &id)),
        items: page.items.into_iter().map(QaRecording::from).collect(),
    }))
}

/// A comment pinned to a moment of a recording.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommentView {
    pub id: String,
    pub recording_id: String,
    /// The moment, in milliseconds from the start of the recording.
    pub at_ms: i64,
    pub author_id: String,
    pub author_name: Option<String>,
    pub text: String,
    pub created_at: String,
}

impl From<qa::Comment> for CommentView {
    fn from(c: qa::Comment) -> Self {
        CommentView {
            created_at: iso(c.created_at),
            id: c.id,
            recording_id: c.recording_id,
            at_ms: c.offset_ms,
            author_id: c.author_id,
            author_name: c.author_name,
            text: c.body,
        }
    }
}

/// Body of `POST /recordings/{id}/comments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// The moment, in milliseconds from the start of the recording (at most its duration).
    pub at_ms: u64,
    /// 1-4000 characters.
    pub text: String,
}

/// A recording's comments, in timeline order.
#[utoipa::path(
    get, path = "/recordings/{id}/comments", operation_id = "list_recording_comments", tag = "qa",
    params(("id" = String, Path, description = "Recording id")),
    responses((status = 200, description = "Comments by moment", body = Vec<CommentView>))
)]
pub(crate) async fn list_comments(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<CommentView>>, ApiError> {
    caller.require(LISTENERS)?;
    let rec = readable_recording(&state, &caller, &id).await?;
    let list = qa::comments(&state.store, caller.tenant(), &rec.id).await?;
    Ok(ApiJson(list.into_iter().map(CommentView::from).collect()))
}

/// Pins a comment to a moment of a recording.
#[utoipa::path(
    post, path = "/recordings/{id}/comments", operation_id = "add_recording_comment", tag = "qa",
    params(("id" = String, Path, description = "Recording id")),
    request_body = NewComment,
    responses(
        (status = 201, description = "The comment", body = CommentView),
        (status = 400, description = "`at_ms` past the end or `text` empty or too long", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn add_comment(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewComment>,
) -> Result<(StatusCode, ApiJson<CommentView>), ApiError> {
    caller.require(LISTENERS)?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT || text.contains('\0') {
        return Err(ApiError::bad_field(
            "text",
            format!("text must be 1-{MAX_TEXT} characters"),
        ));
    }
    let rec = readable_recording(&state, &caller, &id).await?;
    let at_ms = i64::try_from(body.at_ms).unwrap_or(i64::MAX);
    // A recording still being written has no length yet; any moment may be pinned then.
    if rec.duration_ms > 0 && at_ms > rec.duration_ms {
        return Err(ApiError::bad_field(
            "at_ms",
            format!(
                "at_ms is past the end of the recording ({} ms)",
                rec.duration_ms
            ),
        ));
    }
    let now = state.clock.now();
    let comment_id = qa::add_comment(
        &state.store,
        caller.tenant(),
        &rec.id,
        at_ms,
        &caller.user.id,
        text,
        now,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CommentView {
            id: comment_id,
            recording_id: rec.id,
            at_ms,
            author_id: caller.user.id.to_string(),
            author_name: Some(caller.user.display_name.clone()),
            text: text.to_owned(),
            created_at: now.to_string(),
        }),
    ))
}

/// The tenant's scorecard, or the default one (the seeds' card).
pub(crate) async fn tenant_card(state: &ApiState, caller: &Caller) -> Result<Scorecard, ApiError> {
    match qa::scorecard(&state.store, caller.tenant()).await? {
        None => Ok(Scorecard::default()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            ApiError::Internal(format!(
                "stored scorecard of {} unreadable: {e}",
                caller.tenant()
            ))
        }),
    }
}

/// The tenant's scorecard: criteria with weights and sub-items, the banned-phrase checklist.
/// Until one is saved it is the seeds' card.
#[utoipa::path(
    get, path = "/qa/scorecard", operation_id = "get_scorecard", tag = "qa",
    responses((status = 200, description = "The scorecard", body = Scorecard))
)]
pub(crate) async fn get_scorecard(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<Scorecard>, ApiError> {
    caller.require(LISTENERS)?;
    Ok(ApiJson(tenant_card(&state, &caller).await?))
}

/// Replaces the tenant's scorecard. Criteria weights must sum to 100 and each criterion's
/// sub-items to its weight; a 400 names the field that does not. Scores given before keep the
/// card they were given with.
#[utoipa::path(
    put, path = "/qa/scorecard", operation_id = "put_scorecard", tag = "qa",
    request_body = Scorecard,
    responses(
        (status = 200, description = "The saved scorecard", body = Scorecard),
        (status = 400, description = "Weights that do not sum up, duplicate keys, …; `field` names it", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn put_scorecard(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(card): ApiJson<Scorecard>,
) -> Result<ApiJson<Scorecard>, ApiError> {
    caller.require(CARD_EDITORS)?;
    card.validate()?;
    let json = serde_json::to_string(&card).map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.clock.now();
    qa::put_scorecard(&state.store, caller.tenant(), &json, &caller.user.id, now).await?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "qa.scorecard",
        "scorecard",
        &json!({ "name": card.name, "criteria": card.criteria.len() }),
        now,
    )
    .await?;
    Ok(ApiJson(card))
}

/// Body of `PUT /recordings/{id}/score`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreInput {
    /// A rating 0-100 for every sub-item (and every criterion without sub-items), by key.
    pub values: BTreeMap<String, u32>,
    /// Banned phrases heard in the call, from the scorecard's checklist.
    #[serde(default)]
    pub banned: Vec<String>,
    /// The scorer's remark, up to 4000 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// A recording's score.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScoreView {
    pub recording_id: String,
    pub call_id: String,
    /// The agent of the call, whose report the score feeds.
    pub agent_id: Option<String>,
    /// 0-100: the weighted ratings minus the banned phrases' penalty.
    pub total: f64,
    pub values: BTreeMap<String, u32>,
    pub banned: Vec<String>,
    pub note: String,
    pub scorer_id: String,
    pub scored_at: String,
    /// The card the score was given with.
    pub scorecard: Scorecard,
}

impl TryFrom<qa::Score> for ScoreView {
    type Error = ApiError;
    fn try_from(s: qa::Score) -> Result<Self, ApiError> {
        let bad = |e: serde_json::Error| {
            ApiError::Internal(format!(
                "stored score of {} unreadable: {e}",
                s.recording_id
            ))
        };
        Ok(ScoreView {
            values: serde_json::from_str(&s.values_json).map_err(bad)?,
            banned: serde_json::from_str(&s.banned_json).map_err(bad)?,
            scorecard: serde_json::from_str(&s.card_json).map_err(bad)?,
            total: score_of(s.total_centi),
            scored_at: iso(s.scored_at),
            recording_id: s.recording_id,
            call_id: s.call_id,
            agent_id: s.agent_user_id,
            note: s.note,
            scorer_id: s.scorer_id,
        })
    }
}

/// A recording's score; 404 while it has none.
#[utoipa::path(
    get, path = "/recordings/{id}/score", operation_id = "get_recording_score", tag = "qa",
    params(("id" = String, Path, description = "Recording id")),
    responses(
        (status = 200, description = "The score", body = ScoreView),
        (status = 404, description = "Not scored yet (or no such recording)", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn get_score(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<ScoreView>, ApiError> {
    caller.require(LISTENERS)?;
    let rec = readable_recording(&state, &caller, &id).await?;
    let score = qa::score(&state.store, caller.tenant(), &rec.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("score of recording '{}'", rec.id)))?;
    Ok(ApiJson(ScoreView::try_from(score)?))
}

/// Scores a recording against the tenant's scorecard (scoring again replaces the score). The
/// total feeds the agent's `qa_score` in `GET /stats/agents`.
#[utoipa::path(
    put, path = "/recordings/{id}/score", operation_id = "put_recording_score", tag = "qa",
    params(("id" = String, Path, description = "Recording id")),
    request_body = ScoreInput,
    responses(
        (status = 200, description = "The score with its total", body = ScoreView),
        (status = 400, description = "An item not rated, rated outside 0-100, or unknown; a phrase not on the checklist; `field` names it", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn put_score(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ScoreInput>,
) -> Result<ApiJson<ScoreView>, ApiError> {
    caller.require(LISTENERS)?;
    let note = input.note.as_deref().unwrap_or("").trim().to_owned();
    if note.chars().count() > MAX_TEXT || note.contains('\0') {
        return Err(ApiError::bad_field(
            "note",
            format!("note must be at most {MAX_TEXT} characters"),
        ));
    }
    let rec = readable_recording(&state, &caller, &id).await?;
    let card = tenant_card(&state, &caller).await?;
    let total_centi = card.total_centi(&input.values, &input.banned)?;
    let call = calls::get_call(&state.store, caller.tenant(), &rec.call_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("recording '{}' has no call", rec.id)))?;
    // Heard phrases in the checklist's order, each once.
    let banned: Vec<String> = card
        .banned_phrases
        .iter()
        .filter(|p| input.banned.contains(&p.phrase))
        .map(|p| p.phrase.clone())
        .collect();
    let values_json = to_json(&input.values)?;
    let banned_json = to_json(&banned)?;
    let card_json = to_json(&card)?;
    let now = state.clock.now();
    qa::put_score(
        &state.store,
        caller.tenant(),
        &NewScore {
            recording_id: &rec.id,
            call_id: &rec.call_id,
            agent_user_id: call.agent_user_id.as_ref(),
            call_started_at: call.started_at,
            total_centi,
            values_json: &values_json,
            banned_json: &banned_json,
            card_json: &card_json,
            note: &note,
            scorer: &caller.user.id,
            now,
        },
    )
    .await?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "recording.score",
        &rec.id,
        &json!({ "total": score_of(total_centi), "banned": banned.len() }),
        now,
    )
    .await?;
    Ok(ApiJson(ScoreView {
        recording_id: rec.id,
        call_id: rec.call_id.to_string(),
        agent_id: call.agent_user_id.map(|a| a.to_string()),
        total: score_of(total_centi),
        values: input.values,
        banned,
        note,
        scorer_id: caller.user.id.to_string(),
        scored_at: now.to_string(),
        scorecard: card,
    }))
}

/// A value for a JSON column; a failure is an internal error.
fn to_json<T: Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::Internal(e.to_string()))
}

/// How long the tenant keeps recordings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RetentionView {
    /// Days a recording is kept after its call started; the daily job deletes older audio.
    pub recording_days: u32,
    /// The floor no setting goes below.
    pub minimum_days: u32,
    /// True while the tenant has no setting of its own (the default applies).
    pub default: bool,
}

/// Body of `PUT /qa/retention`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionInput {
    /// 30-36500 days (longer where the law asks).
    pub recording_days: u32,
}

/// The tenant's retention of recordings.
#[utoipa::path(
    get, path = "/qa/retention", operation_id = "get_retention", tag = "qa",
    responses((status = 200, description = "The retention", body = RetentionView))
)]
pub(crate) async fn get_retention(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<RetentionView>, ApiError> {
    caller.require(ADMINS)?;
    let days = qa::retention_days(&state.store, caller.tenant()).await?;
    Ok(ApiJson(RetentionView {
        recording_days: days
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(DEFAULT_RETENTION_DAYS),
        minimum_days: MIN_RETENTION_DAYS,
        default: days.is_none(),
    }))
}

/// Changes the tenant's retention of recordings (at least 30 days).
#[utoipa::path(
    put, path = "/qa/retention", operation_id = "put_retention", tag = "qa",
    request_body = RetentionInput,
    responses(
        (status = 200, description = "The retention", body = RetentionView),
        (status = 400, description = "Fewer than 30 days or more than 36500; `field` is `recording_days`", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn put_retention(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(input): ApiJson<RetentionInput>,
) -> Result<ApiJson<RetentionView>, ApiError> {
    caller.require(ADMINS)?;
    if !(MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&input.recording_days) {
        return Err(ApiError::bad_field(
            "recording_days",
            format!(
                "recording_days must be {MIN_RETENTION_DAYS}-{MAX_RETENTION_DAYS} (recordings are kept at least {MIN_RETENTION_DAYS} days)"
            ),
        ));
    }
    let now = state.clock.now();
    let by: &UserId = &caller.user.id;
    qa::put_retention_days(
        &state.store,
        caller.tenant(),
        i64::from(input.recording_days),
        by,
        now,
    )
    .await?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(by),
        "qa.retention",
        "recordings",
        &json!({ "recording_days": input.recording_days }),
        now,
    )
    .await?;
    Ok(ApiJson(RetentionView {
        recording_days: input.recording_days,
        minimum_days: MIN_RETENTION_DAYS,
        default: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_foreign_text() {
        let at = Timestamp::from_millis(1_800_000_000_123);
        assert_eq!(
            decode_cursor(&encode_cursor(at, "0193-a")),
            Some((at, "0193-a".to_owned()))
        );
        for bad in ["", "zz", &hex::encode("x:id"), &hex::encode("5:")] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn score_bounds_are_0_to_100_in_hundredths() {
        assert_eq!(
            score_bound("min_score", Some("82.5")).ok(),
            Some(Some(8250))
        );
        assert_eq!(score_bound("min_score", None).ok(), Some(None));
        for bad in ["-1", "100.5", "x"] {
            assert!(score_bound("min_score", Some(bad)).is_err(), "{bad}");
        }
    }
}
