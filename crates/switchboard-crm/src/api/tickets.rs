//! Complaint tickets (工单): register, read, edit, and the actions of their life — take, resolve,
//! follow-up call done, judge, close. Every write goes through the ticket service, which records
//! the step and enqueues its `ticket.*` webhook event in the same transaction.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_core::{CustomerId, Role, TicketId, UserId};
use switchboard_store::audit;
use switchboard_store::tickets::{self as store_tickets, TicketFilter};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiJson, ApiState, Caller};
use crate::tickets::service::{self, NewTicket, ServiceError, TicketChanges, TicketView};
use crate::tickets::{Emotion, Input, TicketError, TicketState};

const READERS: &[Role] = &[
    Role::Admin,
    Role::Supervisor,
    Role::Agent,
    Role::Qa,
    Role::Integrator,
];
const REGISTRARS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent, Role::Integrator];
const HANDLERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent];
const LEADS: &[Role] = &[Role::Admin, Role::Supervisor];

const MAX_SUBJECT: usize = 200;
const MAX_TEXT: usize = 10_000;

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(id) => ApiError::NotFound(format!("ticket '{id}'")),
            ServiceError::Store(s) => s.into(),
            ServiceError::Ticket(t) => {
                let field = match &t {
                    TicketError::WrongState { .. } => "state",
                    TicketError::AlreadyOwned { .. } => "owner_agent_id",
                    TicketError::TeamRequired => "responsible_team",
                    TicketError::NotJudged => "stands",
                    TicketError::Unknown { .. } => {
                        return ApiError::Internal(t.to_string());
                    }
                };
                ApiError::bad_field(field, t.to_string())
            }
        }
    }
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| ApiError::BadRequest {
        field: None,
        message: format!("invalid query string: {}", e.body_text()),
    })
}

/// Ids are ours (UUIDs): anything else cannot name a ticket, and never reaches the database.
fn ticket_id(raw: &str) -> Result<TicketId, ApiError> {
    if raw.is_empty() || raw.len() > 64 || raw.contains('\0') {
        return Err(ApiError::NotFound(format!("ticket '{raw}'")));
    }
    Ok(TicketId::from(raw))
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), ApiError> {
    // PostgreSQL refuses NUL in text: refuse it here, as the client's fault, on every engine.
    if value.contains('\0') {
        return Err(ApiError::bad_field(
            field,
            format!("{field} must not contain NUL characters"),
        ));
    }
    if required && value.trim().is_empty() {
        return Err(ApiError::bad_field(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(ApiError::bad_field(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(())
}

async fn check_customer(
    state: &ApiState,
    caller: &Caller,
    id: Option<&String>,
) -> Result<Option<CustomerId>, ApiError> {
    let Some(id) = id else { return Ok(None) };
    let unknown =
        || ApiError::bad_field("customer_id", format!("no customer '{id}' in this tenant"));
    if id.is_empty() || id.len() > 64 || id.contains('\0') {
        return Err(unknown());
    }
    let id = CustomerId::from(id.as_str());
    if !store_tickets::customer_exists(&state.store, caller.tenant(), &id).await? {
        return Err(ApiError::bad_field(
            "customer_id",
            format!("no customer '{id}' in this tenant"),
        ));
    }
    Ok(Some(id))
}

/// Agents act only on tickets they own (or nobody owns yet); leads act on any.
async fn require_owner_or_lead(
    state: &ApiState,
    caller: &Caller,
    id: &TicketId,
) -> Result<(), ApiError> {
    if LEADS.contains(&caller.user.role) {
        return Ok(());
    }
    let ticket = store_tickets::get(&state.store, caller.tenant(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("ticket '{id}'")))?;
    match &ticket.owner_agent_id {
        Some(owner) if owner != &caller.user.id => Err(ApiError::Forbidden(
            "supervisor or admin (this ticket belongs to another agent)".into(),
        )),
        _ => Ok(()),
    }
}

/// Body of `POST /tickets`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTicket {
    /// A customer of the tenant.
    customer_id: Option<String>,
    /// 1-200 characters.
    #[schema(min_length = 1, max_length = 200)]
    subject: String,
    /// Up to 10,000 characters.
    #[schema(max_length = 10000)]
    #[serde(default)]
    body: String,
    #[serde(default)]
    emotion: Emotion,
}

/// Registers a complaint: reply due in 12 h, escalation after 24 h (admin, supervisor, agent,
/// integrator).
#[utoipa::path(
    post, path = "/tickets", operation_id = "create_ticket", tag = "tickets",
    request_body = CreateTicket,
    responses((status = 201, description = "Registered", body = TicketView))
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTicket>,
) -> Result<(StatusCode, ApiJson<TicketView>), ApiError> {
    caller.require(REGISTRARS)?;
    check_text("subject", &body.subject, MAX_SUBJECT, true)?;
    check_text("body", &body.body, MAX_TEXT, false)?;
    let customer_id = check_customer(&state, &caller, body.customer_id.as_ref()).await?;
    let record = service::create(
        &state.store,
        &state.tickets,
        caller.tenant(),
        &caller.user.id,
        NewTicket {
            customer_id,
            subject: body.subject.trim().to_owned(),
            body: body.body,
            emotion: body.emotion,
        },
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(TicketView::from(&record))))
}

/// Query of `GET /tickets`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    state: Option<TicketState>,
    overdue: Option<bool>,
    /// Only tickets that went up the ladder at least once.
    escalated: Option<bool>,
    /// An agent's user id, or `me`.
    owner: Option<String>,
    /// 1-1000 (default 100; out of range is clamped).
    limit: Option<i64>,
}

/// The tenant's tickets, newest first, filtered.
#[utoipa::path(
    get, path = "/tickets", operation_id = "list_tickets", tag = "tickets",
    params(ListQuery),
    responses((status = 200, description = "Newest first", body = Vec<TicketView>))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<ApiJson<Vec<TicketView>>, ApiError> {
    caller.require(READERS)?;
    let q = query(q)?;
    if let Some(o) = &q.owner {
        check_text("owner", o, 64, false)?;
    }
    let owner = q.owner.map(|o| {
        if o == "me" {
            caller.user.id.clone()
        } else {
            UserId::from(o.as_str())
        }
    });
    let filter = TicketFilter {
        state: q.state.map(TicketState::as_str),
        overdue: q.overdue,
        owner: owner.as_ref(),
        min_escalation_level: q.escalated.filter(|e| *e).map(|_| 1),
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let list = store_tickets::list(&state.store, caller.tenant(), &filter).await?;
    Ok(ApiJson(list.iter().map(TicketView::from).collect()))
}

/// One ticket.
#[utoipa::path(
    get, path = "/tickets/{id}", operation_id = "get_ticket", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id")),
    responses((status = 200, description = "The ticket", body = TicketView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<TicketView>, ApiError> {
    caller.require(READERS)?;
    let id = ticket_id(&id)?;
    let record = store_tickets::get(&state.store, caller.tenant(), &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("ticket '{id}'")))?;
    Ok(ApiJson(TicketView::from(&record)))
}

/// One recorded step of a ticket's life.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TicketStepView {
    /// 1, 2, 3 … in the order the steps happened.
    seq: i64,
    /// `created`, `taken`, `overdue`, `escalated`, `resolved`, `updated`, …
    kind: String,
    /// The user who acted; null for the ticket clock.
    actor: Option<String>,
    /// What the step recorded (depends on `kind`).
    #[schema(value_type = Object)]
    detail: Value,
    at: String,
}

/// A ticket's recorded steps, in order.
#[utoipa::path(
    get, path = "/tickets/{id}/events", operation_id = "list_ticket_events", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id")),
    responses((status = 200, description = "Oldest first", body = Vec<TicketStepView>))
)]
pub(crate) async fn events(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<TicketStepView>>, ApiError> {
    caller.require(READERS)?;
    let id = ticket_id(&id)?;
    if store_tickets::get(&state.store, caller.tenant(), &id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("ticket '{id}'")));
    }
    let steps = store_tickets::events(&state.store, caller.tenant(), &id).await?;
    Ok(ApiJson(
        steps
            .into_iter()
            .map(|e| TicketStepView {
                seq: e.seq,
                kind: e.kind,
                actor: e.actor.map(|a| a.to_string()),
                // Always written as an object; an unreadable one shows as empty, not null.
                detail: serde_json::from_str::<Value>(&e.detail)
                    .ok()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({})),
                at: e.at.to_string(),
            })
            .collect(),
    ))
}

/// Body of `PATCH /tickets/{id}`: the fields given change, the others stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditTicket {
    customer_id: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    emotion: Option<Emotion>,
}

/// The version an optional `If-Match` names (`"3"`, `W/"3"` or `3`; `*`: any).
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || ApiError::bad_field("If-Match", "If-Match must be an ETag such as \"3\"");
    let text = raw.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let text = text.strip_prefix("W/").unwrap_or(text);
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    text.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .map(Some)
        .ok_or_else(bad)
}

/// Edits the registered facts (owner agent or leads). With `If-Match` (the ticket's `version`)
/// a stale edit is refused with 412.
#[utoipa::path(
    patch, path = "/tickets/{id}", operation_id = "edit_ticket", tag = "tickets",
    request_body = EditTicket,
    params(
        ("id" = String, Path, description = "Ticket id"),
        ("If-Match" = Option<String>, Header, description = "The version edited, e.g. \"3\""),
    ),
    responses(
        (status = 200, description = "The new version", body = TicketView),
        (status = 412, description = "Stale If-Match", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn edit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EditTicket>,
) -> Result<ApiJson<TicketView>, ApiError> {
    caller.require(HANDLERS)?;
    let id = ticket_id(&id)?;
    let expected = if_match(&headers)?;
    require_owner_or_lead(&state, &caller, &id).await?;
    if let Some(s) = &body.subject {
        check_text("subject", s, MAX_SUBJECT, true)?;
    }
    if let Some(b) = &body.body {
        check_text("body", b, MAX_TEXT, false)?;
    }
    let customer_id = check_customer(&state, &caller, body.customer_id.as_ref()).await?;
    if let Some(expected) = expected {
        let current = store_tickets::get(&state.store, caller.tenant(), &id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("ticket '{id}'")))?;
        if current.version != expected {
            return Err(ApiError::PreconditionFailed(format!(
                "the ticket changed: If-Match names version {expected}, the current one is {}",
                current.version
            )));
        }
    }
    let record = service::edit(
        &state.store,
        caller.tenant(),
        &id,
        &caller.user.id,
        TicketChanges {
            customer_id,
            subject: body.subject.map(|s| s.trim().to_owned()),
            body: body.body,
            emotion: body.emotion,
        },
        state.clock.now(),
    )
    .await?;
    Ok(ApiJson(TicketView::from(&record)))
}

/// Admins only; audited. Complaints are normally closed, not deleted.
#[utoipa::path(
    delete, path = "/tickets/{id}", operation_id = "delete_ticket", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id")),
    responses((status = 204, description = "Deleted with its history"))
)]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = ticket_id(&id)?;
    let now = state.clock.now();
    service::delete(&state.store, caller.tenant(), &id, now).await?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "ticket.delete",
        id.as_str(),
        &json!({}),
        now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn act(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    input: Input,
) -> Result<ApiJson<TicketView>, ApiError> {
    let id = ticket_id(id)?;
    let record = service::apply(
        &state.store,
        &state.tickets,
        caller.tenant(),
        &id,
        input,
        state.clock.now(),
    )
    .await?;
    Ok(ApiJson(TicketView::from(&record)))
}

/// First response: the caller takes the ticket and owns it from now on.
#[utoipa::path(
    post, path = "/tickets/{id}/take", operation_id = "take_ticket", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id")),
    responses((status = 200, description = "The ticket, now in progress", body = TicketView))
)]
pub(crate) async fn take(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<TicketView>, ApiError> {
    caller.require(HANDLERS)?;
    let agent = caller.user.id.clone();
    act(&state, &caller, &id, Input::Take { agent }).await
}

/// Optional body of `resolve` and `follow-up`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    /// Up to 10,000 characters.
    #[serde(default)]
    note: String,
}

/// An optional JSON body `{"note": "..."}`: an empty body counts as `{}`.
fn note_of(body: &Bytes) -> Result<String, ApiError> {
    let note = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        super::json::parse::<NoteBody>(body)?.note
    };
    check_text("note", &note, MAX_TEXT, false)?;
    Ok(note)
}

/// The ticket is answered (owner agent or leads); a follow-up call task is created.
#[utoipa::path(
    post, path = "/tickets/{id}/resolve", operation_id = "resolve_ticket", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id")),
    request_body(content = Option<NoteBody>, description = "Optional note"),
    responses((status = 200, description = "The ticket, now resolved", body = TicketView))
)]
pub(crate) async fn resolve(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    super::json::ApiBytes(body): super::json::ApiBytes,
) -> Result<ApiJson<TicketView>, ApiError> {
    caller.require(HANDLERS)?;
    require_owner_or_lead(&state, &caller, &ticket_id(&id)?).await?;
    let note = note_of(&body)?;
    let by = caller.user.id.clone();
    act(&state, &caller, &id, Input::Resolve { by, note }).await
}

/// The follow-up call to the customer was made (owner agent or leads).
#[utoipa::path(
    post, path = "/tickets/{id}/follow-up", operation_id = "follow_up_ticket", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id")),
    request_body(content = Option<NoteBody>, description = "Optional note"),
    responses((status = 200, description = "The ticket, now followed up", body = TicketView))
)]
pub(crate) async fn follow_up(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    super::json::ApiBytes(body): super::json::ApiBytes,
) -> Result<ApiJson<TicketView>, ApiError> {
    caller.require(HANDLERS)?;
    require_owner_or_lead(&state, &caller, &ticket_id(&id)?).await?;
    let note = note_of(&body)?;
    let by = caller.user.id.clone();
    act(&state, &caller, &id, Input::FollowUpDone { by, note }).await
}

/// Closes a judged ticket (owner agent or leads).
#[utoipa::path(
    post, path = "/tickets/{id}/close", operation_id = "close_ticket", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id")),
    responses((status = 200, description = "The ticket, now closed", body = TicketView))
)]
pub(crate) async fn close(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<TicketView>, ApiError> {
    caller.require(HANDLERS)?;
    require_owner_or_lead(&state, &caller, &ticket_id(&id)?).await?;
    let by = caller.user.id.clone();
    act(&state, &caller, &id, Input::Close { by }).await
}

/// Body of `POST /tickets/{id}/judge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JudgeBody {
    /// Whether the complaint stands.
    stands: bool,
    /// The team that answers for it (required when it stands), up to 200 characters.
    responsible_team: Option<String>,
}

/// Leads judge whether the complaint stands and, if so, which team answers for it.
#[utoipa::path(
    post, path = "/tickets/{id}/judge", operation_id = "judge_ticket", tag = "tickets",
    params(("id" = String, Path, description = "Ticket id")),
    request_body = JudgeBody,
    responses((status = 200, description = "The ticket, judged", body = TicketView))
)]
pub(crate) async fn judge(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<JudgeBody>,
) -> Result<ApiJson<TicketView>, ApiError> {
    caller.require(LEADS)?;
    if let Some(team) = &body.responsible_team {
        check_text("responsible_team", team, MAX_SUBJECT, false)?;
    }
    let input = Input::Judge {
        by: caller.user.id.clone(),
        stands: body.stands,
        team: body.responsible_team,
    };
    act(&state, &caller, &id, input).await
}
