//! Complaint tickets (工单): register, read, edit, and the actions of their life — take, resolve,
//! follow-up call done, judge, close. Every write goes through the ticket service, which records
//! the step and enqueues its `ticket.*` webhook event in the same transaction.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_core::{CustomerId, Role, TicketId, UserId};
use switchboard_store::audit;
use switchboard_store::tickets::{self as store_tickets, TicketFilter};

use super::{ApiError, ApiJson, ApiState, Caller};
use crate::tickets::service::{self, NewTicket, ServiceError, TicketChanges, ticket_json};
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

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), ApiError> {
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTicket {
    customer_id: Option<String>,
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    emotion: Emotion,
}

pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTicket>,
) -> Result<(StatusCode, ApiJson<Value>), ApiError> {
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
    Ok((StatusCode::CREATED, ApiJson(ticket_json(&record))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    state: Option<TicketState>,
    overdue: Option<bool>,
    /// Only tickets that went up the ladder at least once.
    escalated: Option<bool>,
    /// An agent's user id, or `me`.
    owner: Option<String>,
    limit: Option<i64>,
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<ApiJson<Vec<Value>>, ApiError> {
    caller.require(READERS)?;
    let q = query(q)?;
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
    Ok(ApiJson(list.iter().map(ticket_json).collect()))
}

pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Value>, ApiError> {
    caller.require(READERS)?;
    let id = TicketId::from(id.as_str());
    let record = store_tickets::get(&state.store, caller.tenant(), &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("ticket '{id}'")))?;
    Ok(ApiJson(ticket_json(&record)))
}

#[derive(Debug, Serialize)]
pub(crate) struct StepView {
    seq: i64,
    kind: String,
    actor: Option<String>,
    detail: Value,
    at: String,
}

/// A ticket's recorded steps, in order.
pub(crate) async fn events(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<StepView>>, ApiError> {
    caller.require(READERS)?;
    let id = TicketId::from(id.as_str());
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
            .map(|e| StepView {
                seq: e.seq,
                kind: e.kind,
                actor: e.actor.map(|a| a.to_string()),
                detail: serde_json::from_str(&e.detail).unwrap_or(Value::Null),
                at: e.at.to_string(),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditTicket {
    customer_id: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    emotion: Option<Emotion>,
}

pub(crate) async fn edit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditTicket>,
) -> Result<ApiJson<Value>, ApiError> {
    caller.require(HANDLERS)?;
    let id = TicketId::from(id.as_str());
    require_owner_or_lead(&state, &caller, &id).await?;
    if let Some(s) = &body.subject {
        check_text("subject", s, MAX_SUBJECT, true)?;
    }
    if let Some(b) = &body.body {
        check_text("body", b, MAX_TEXT, false)?;
    }
    let customer_id = check_customer(&state, &caller, body.customer_id.as_ref()).await?;
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
    Ok(ApiJson(ticket_json(&record)))
}

/// Admins only; audited. Complaints are normally closed, not deleted.
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = TicketId::from(id.as_str());
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
) -> Result<ApiJson<Value>, ApiError> {
    let id = TicketId::from(id);
    let record = service::apply(
        &state.store,
        &state.tickets,
        caller.tenant(),
        &id,
        input,
        state.clock.now(),
    )
    .await?;
    Ok(ApiJson(ticket_json(&record)))
}

/// First response: the caller takes the ticket and owns it from now on.
pub(crate) async fn take(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Value>, ApiError> {
    caller.require(HANDLERS)?;
    let agent = caller.user.id.clone();
    act(&state, &caller, &id, Input::Take { agent }).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
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

pub(crate) async fn resolve(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<ApiJson<Value>, ApiError> {
    caller.require(HANDLERS)?;
    require_owner_or_lead(&state, &caller, &TicketId::from(id.as_str())).await?;
    let note = note_of(&body)?;
    let by = caller.user.id.clone();
    act(&state, &caller, &id, Input::Resolve { by, note }).await
}

pub(crate) async fn follow_up(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<ApiJson<Value>, ApiError> {
    caller.require(HANDLERS)?;
    require_owner_or_lead(&state, &caller, &TicketId::from(id.as_str())).await?;
    let note = note_of(&body)?;
    let by = caller.user.id.clone();
    act(&state, &caller, &id, Input::FollowUpDone { by, note }).await
}

pub(crate) async fn close(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Value>, ApiError> {
    caller.require(HANDLERS)?;
    require_owner_or_lead(&state, &caller, &TicketId::from(id.as_str())).await?;
    let by = caller.user.id.clone();
    act(&state, &caller, &id, Input::Close { by }).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JudgeBody {
    stands: bool,
    responsible_team: Option<String>,
}

/// Leads judge whether the complaint stands and, if so, which team answers for it.
pub(crate) async fn judge(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<JudgeBody>,
) -> Result<ApiJson<Value>, ApiError> {
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
