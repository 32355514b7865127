//! Shifts and hand-over (交接班) over HTTP.
//!
//! `GET /shifts` tells who is on duty now in the call centre's time zone. At a shift change the
//! leaving shift writes `POST /handovers`: the customers it passes on, each with what is urgent,
//! which prospect to contact, or what to follow up. The next shift sees the hand-overs it has
//! not read (`GET /handovers?unread=true`, which the console shows after sign-in), marks them
//! read and ticks items off as they are done.
//!
//! Roles: agents, supervisors and admins (the people on shifts).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_core::{CustomerId, Role, Timestamp};
use switchboard_store::handovers::{self, Handover, HandoverFilter, ItemKind, NewHandover};
use utoipa::{IntoParams, ToSchema};

use super::customer_types::parse_time;
use super::customers::{ApiQuery, customer_id, limit_param};
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::shifts::ShiftInstance;

const ON_SHIFT: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent];
const MAX_ITEMS: usize = 200;
const MAX_WHAT: usize = 1_000;
const MAX_NOTE: usize = 5_000;
/// Unread hand-overs older than this are history, not news for the shift starting now.
const INBOX_DAYS: i64 = 2;

/// One occurrence of a shift. Times RFC 3339.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShiftView {
    pub name: String,
    /// The local date the shift starts on (YYYY-MM-DD).
    pub date: String,
    pub starts_at: String,
    pub ends_at: String,
}

impl From<&ShiftInstance> for ShiftView {
    fn from(s: &ShiftInstance) -> Self {
        ShiftView {
            name: s.name.clone(),
            date: s.date.format("%Y-%m-%d").to_string(),
            starts_at: s.starts_at.to_string(),
            ends_at: s.ends_at.to_string(),
        }
    }
}

/// A configured shift pattern.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShiftPatternView {
    pub name: String,
    /// Local time of day, `08:00-17:00`.
    pub window: String,
}

/// The shifts and who is on duty now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShiftsNow {
    /// IANA zone the shifts are in.
    pub time_zone: String,
    pub patterns: Vec<ShiftPatternView>,
    /// Shifts on duty now, earliest end first.
    pub on_duty: Vec<ShiftView>,
    /// The shift a hand-over written now would close, if one is near its end.
    pub handing_over: Option<ShiftView>,
}

/// One line of a hand-over.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HandoverItemView {
    pub position: i64,
    pub customer_id: String,
    /// `urgent`, `prospect` or `follow_up`.
    pub kind: String,
    pub what: String,
    pub done_at: Option<String>,
    pub done_by: Option<String>,
}

/// A hand-over record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HandoverView {
    pub id: String,
    /// The shift that handed over.
    pub shift: String,
    /// The local date that shift started (YYYY-MM-DD).
    pub shift_date: String,
    pub author_id: String,
    pub note: String,
    pub created_at: String,
    pub items: Vec<HandoverItemView>,
    /// Whether the caller has read it.
    pub read: bool,
}

impl From<&Handover> for HandoverView {
    fn from(h: &Handover) -> Self {
        HandoverView {
            id: h.id.clone(),
            shift: h.shift.clone(),
            shift_date: h.shift_date.clone(),
            author_id: h.author_id.to_string(),
            note: h.note.clone(),
            created_at: h.created_at.to_string(),
            items: h
                .items
                .iter()
                .map(|i| HandoverItemView {
                    position: i.position,
                    customer_id: i.customer_id.to_string(),
                    kind: i.kind.as_str().to_owned(),
                    what: i.what.clone(),
                    done_at: i.done_at.map(|t| t.to_string()),
                    done_by: i.done_by.as_ref().map(ToString::to_string),
                })
                .collect(),
            read: h.read,
        }
    }
}

/// A customer passed on to the next shift.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverItemInput {
    pub customer_id: String,
    /// `urgent`, `prospect` or `follow_up`.
    pub kind: String,
    /// What the next shift must do.
    pub what: String,
}

/// A hand-over to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverInput {
    /// The shift handing over (a pattern name); default: the shift ending nearest to now.
    pub shift: Option<String>,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub items: Vec<HandoverItemInput>,
}

/// Query of `GET /handovers`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HandoverListParams {
    /// `true`: only those the caller has not read from the last two days (the sign-in inbox).
    pub unread: Option<bool>,
    /// Only those written at or after this time (RFC 3339 or epoch ms).
    pub since: Option<String>,
    /// 1-200, default 50.
    pub limit: Option<String>,
}

/// The shift patterns and who is on duty now.
#[utoipa::path(
    get, path = "/shifts", operation_id = "shifts_now", tag = "shifts",
    responses((status = 200, description = "Shifts now", body = ShiftsNow))
)]
pub(crate) async fn shifts_now(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<ShiftsNow>, ApiError> {
    caller.require(&[Role::Admin, Role::Supervisor, Role::Agent, Role::Qa])?;
    let now = state.clock.now();
    let policy = &state.shifts;
    Ok(ApiJson(ShiftsNow {
        time_zone: policy.time_zone.name().to_owned(),
        patterns: policy
            .patterns
            .iter()
            .map(|p| ShiftPatternView {
                name: p.name.clone(),
                window: p.window.to_string(),
            })
            .collect(),
        on_duty: policy.on_duty(now).iter().map(ShiftView::from).collect(),
        handing_over: policy.handing_over(now).as_ref().map(ShiftView::from),
    }))
}

/// The occurrence of the named shift that started last before `now`.
fn latest_of(state: &ApiState, name: &str, now: Timestamp) -> Result<ShiftInstance, ApiError> {
    let policy = &state.shifts;
    let pattern = policy.pattern(name).ok_or_else(|| {
        let names: Vec<&str> = policy.patterns.iter().map(|p| p.name.as_str()).collect();
        ApiError::bad_field(
            "shift",
            format!("shift must be one of {}", names.join(", ")),
        )
    })?;
    let today = policy.local_date(now);
    let candidates = [today.succ_opt(), Some(today), today.pred_opt()];
    candidates
        .into_iter()
        .flatten()
        .map(|d| policy.instance(pattern, d))
        .find(|s| s.starts_at <= now)
        .ok_or_else(|| ApiError::bad_field("shift", "that shift has not started yet"))
}

/// Records a hand-over from the caller's shift.
#[utoipa::path(
    post, path = "/handovers", operation_id = "create_handover", tag = "shifts",
    request_body = HandoverInput,
    responses((status = 201, description = "Recorded", body = HandoverView))
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(input): ApiJson<HandoverInput>,
) -> Result<(StatusCode, ApiJson<HandoverView>), ApiError> {
    caller.require(ON_SHIFT)?;
    let now = state.clock.now();
    let shift = match input.shift.as_deref() {
        Some(name) => latest_of(&state, name, now)?,
        None => state.shifts.handing_over(now).ok_or_else(|| {
            ApiError::bad_field(
                "shift",
                "no shift is ending now: name the shift handing over",
            )
        })?,
    };
    if input.note.chars().count() > MAX_NOTE {
        return Err(ApiError::bad_field(
            "note",
            format!("note must be at most {MAX_NOTE} characters"),
        ));
    }
    if input.items.len() > MAX_ITEMS {
        return Err(ApiError::bad_field(
            "items",
            format!("at most {MAX_ITEMS} items"),
        ));
    }
    let mut items = Vec::with_capacity(input.items.len());
    for (i, item) in input.items.iter().enumerate() {
        let kind = ItemKind::parse(&item.kind).ok_or_else(|| {
            ApiError::bad_field(
                format!("items[{i}].kind"),
                "kind must be urgent, prospect or follow_up",
            )
        })?;
        let what = item.what.trim();
        if what.is_empty() || what.chars().count() > MAX_WHAT {
            return Err(ApiError::bad_field(
                format!("items[{i}].what"),
                format!("what must be 1-{MAX_WHAT} characters"),
            ));
        }
        let customer: CustomerId = customer_id(&item.customer_id).map_err(|_| {
            ApiError::bad_field(format!("items[{i}].customer_id"), "no such customer")
        })?;
        items.push((customer, kind, what.to_owned()));
    }
    let new = NewHandover {
        shift: shift.name,
        shift_date: shift.date.format("%Y-%m-%d").to_string(),
        author_id: caller.user.id.clone(),
        note: input.note,
        items,
    };
    let handover = handovers::create(&state.store, caller.tenant(), &new, now)
        .await
        .map_err(|e| match e {
            switchboard_store::StoreError::NotFound { what } => {
                ApiError::bad_field("items", format!("{what} does not exist in this tenant"))
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, ApiJson(HandoverView::from(&handover))))
}

/// Hand-overs, newest first; `unread=true` is the sign-in inbox.
#[utoipa::path(
    get, path = "/handovers", operation_id = "list_handovers", tag = "shifts",
    params(HandoverListParams),
    responses((status = 200, description = "Hand-overs, newest first", body = [HandoverView]))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HandoverListParams>,
) -> Result<ApiJson<Vec<HandoverView>>, ApiError> {
    caller.require(ON_SHIFT)?;
    let unread_only = q.unread.unwrap_or(false);
    let mut since = q
        .since
        .as_deref()
        .map(|t| parse_time("since", t))
        .transpose()?;
    if unread_only && since.is_none() {
        let now = state.clock.now().as_millis();
        since = Some(Timestamp::from_millis(now - INBOX_DAYS * 86_400_000));
    }
    let limit = limit_param(q.limit.as_deref(), 50, 200)?;
    let list = handovers::list(
        &state.store,
        caller.tenant(),
        &HandoverFilter {
            reader: &caller.user.id,
            unread_only,
            since,
            limit,
        },
    )
    .await?;
    Ok(ApiJson(list.iter().map(HandoverView::from).collect()))
}

async fn reread(state: &ApiState, caller: &Caller, id: &str) -> Result<HandoverView, ApiError> {
    handovers::get(&state.store, caller.tenant(), id, &caller.user.id)
        .await?
        .map(|h| HandoverView::from(&h))
        .ok_or_else(|| ApiError::NotFound(format!("hand-over '{id}'")))
}

/// One hand-over.
#[utoipa::path(
    get, path = "/handovers/{id}", operation_id = "get_handover", tag = "shifts",
    params(("id" = String, Path, description = "Hand-over id")),
    responses((status = 200, description = "The hand-over", body = HandoverView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<HandoverView>, ApiError> {
    caller.require(ON_SHIFT)?;
    Ok(ApiJson(reread(&state, &caller, &id).await?))
}

/// The caller has read the hand-over (it leaves their sign-in inbox).
#[utoipa::path(
    post, path = "/handovers/{id}/read", operation_id = "read_handover", tag = "shifts",
    params(("id" = String, Path, description = "Hand-over id")),
    responses((status = 200, description = "Marked read", body = HandoverView))
)]
pub(crate) async fn mark_read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    _body: Bytes,
) -> Result<ApiJson<HandoverView>, ApiError> {
    caller.require(ON_SHIFT)?;
    let now = state.clock.now();
    if !handovers::mark_read(&state.store, caller.tenant(), &id, &caller.user.id, now).await? {
        return Err(ApiError::NotFound(format!("hand-over '{id}'")));
    }
    Ok(ApiJson(reread(&state, &caller, &id).await?))
}

/// An item is done.
#[utoipa::path(
    post, path = "/handovers/{id}/items/{position}/done", operation_id = "handover_item_done", tag = "shifts",
    params(
        ("id" = String, Path, description = "Hand-over id"),
        ("position" = i64, Path, description = "The item's position, from 0"),
    ),
    responses((status = 200, description = "The hand-over with the item ticked", body = HandoverView))
)]
pub(crate) async fn item_done(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, position)): Path<(String, String)>,
    _body: Bytes,
) -> Result<ApiJson<HandoverView>, ApiError> {
    caller.require(ON_SHIFT)?;
    let position: i64 = position
        .parse()
        .map_err(|_| ApiError::NotFound(format!("item '{position}'")))?;
    let now = state.clock.now();
    let ticked = handovers::mark_item_done(
        &state.store,
        caller.tenant(),
        &id,
        position,
        &caller.user.id,
        now,
    )
    .await?;
    if !ticked {
        return Err(ApiError::NotFound(format!(
            "item {position} of hand-over '{id}'"
        )));
    }
    Ok(ApiJson(reread(&state, &caller, &id).await?))
}
