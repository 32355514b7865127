//! Visits over HTTP: book one for a customer (`POST /customers/{id}/visits`), list them
//! (`GET /visits`, by scheduled time: the front desk's day list), and close a booked visit as
//! attended, no-show or cancelled (`POST /visits/{id}/attended|no-show|cancel`).
//!
//! Roles: everyone in the tenant reads; agents, supervisors, admins and integrators book and
//! close visits (the front desk is often an agent account). An agent who books is the inviter
//! unless another agent is named.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_core::{Role, UserId};
use switchboard_store::visits::{self, NewVisit, Visit, VisitFilter, VisitSource, VisitState};
use utoipa::{IntoParams, ToSchema};

use super::customer_types::parse_time;
use super::customers::{ApiQuery, customer_id, limit_param, tenant_user};
use super::{ApiError, ApiJson, ApiState, Caller};

const READERS: &[Role] = &[
    Role::Admin,
    Role::Supervisor,
    Role::Agent,
    Role::Qa,
    Role::Integrator,
];
const WRITERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent, Role::Integrator];
const MAX_NOTE: usize = 2_000;

/// One visit. Times RFC 3339.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VisitView {
    pub id: String,
    pub customer_id: String,
    /// `booked`, `attended`, `no_show` or `cancelled`.
    pub state: String,
    pub scheduled_at: String,
    /// Which monthly visit quota it counts for: `call_back` (the call-back list) or `other`.
    pub source: String,
    /// The agent who invited the customer.
    pub invited_by: Option<String>,
    pub campaign_id: Option<String>,
    pub note: String,
    /// When it was marked attended, no-show or cancelled.
    pub closed_at: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Visit> for VisitView {
    fn from(v: &Visit) -> Self {
        VisitView {
            id: v.id.clone(),
            customer_id: v.customer_id.to_string(),
            state: v.state.as_str().to_owned(),
            scheduled_at: v.scheduled_at.to_string(),
            source: v.source.as_str().to_owned(),
            invited_by: v.invited_by.as_ref().map(ToString::to_string),
            campaign_id: v.campaign_id.clone(),
            note: v.note.clone(),
            closed_at: v.closed_at.map(|t| t.to_string()),
            version: v.version,
            created_at: v.created_at.to_string(),
            updated_at: v.updated_at.to_string(),
        }
    }
}

/// A visit to book.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitInput {
    /// When the customer comes (RFC 3339 or epoch ms).
    pub scheduled_at: String,
    /// `call_back` (invited from the call-back list) or `other` (default).
    pub source: Option<String>,
    /// The inviting agent (default: the calling agent).
    pub invited_by: Option<String>,
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// Query of `GET /visits`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VisitListParams {
    pub customer_id: Option<String>,
    /// `booked`, `attended`, `no_show` or `cancelled`.
    pub state: Option<String>,
    /// An agent's user id, or `me`.
    pub invited_by: Option<String>,
    /// Scheduled at or after (RFC 3339 or epoch ms).
    pub from: Option<String>,
    /// Scheduled before.
    pub to: Option<String>,
    /// 1-1000, default 200.
    pub limit: Option<String>,
}

/// Books a visit for the customer.
#[utoipa::path(
    post, path = "/customers/{id}/visits", operation_id = "book_visit", tag = "orders",
    params(("id" = String, Path, description = "Customer id")),
    request_body = VisitInput,
    responses((status = 201, description = "Booked", body = VisitView))
)]
pub(crate) async fn book(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<VisitInput>,
) -> Result<(StatusCode, ApiJson<VisitView>), ApiError> {
    caller.require(WRITERS)?;
    let customer = customer_id(&id)?;
    if input.note.chars().count() > MAX_NOTE {
        return Err(ApiError::bad_field(
            "note",
            format!("note must be at most {MAX_NOTE} characters"),
        ));
    }
    let source = match input.source.as_deref() {
        None => VisitSource::Other,
        Some(s) => VisitSource::parse(s)
            .ok_or_else(|| ApiError::bad_field("source", "source must be call_back or other"))?,
    };
    if let Some(c) = &input.campaign_id
        && (c.is_empty() || c.len() > 128)
    {
        return Err(ApiError::bad_field(
            "campaign_id",
            "campaign_id must be 1-128 characters",
        ));
    }
    let invited_by = match input.invited_by.as_deref() {
        Some(a) => Some(tenant_user(&state, &caller, a, "invited_by").await?),
        None if caller.user.role == Role::Agent => Some(caller.user.id.clone()),
        None => None,
    };
    let new = NewVisit {
        customer_id: customer,
        scheduled_at: parse_time("scheduled_at", &input.scheduled_at)?,
        source,
        invited_by,
        campaign_id: input.campaign_id,
        note: input.note,
    };
    let visit = visits::book(&state.store, caller.tenant(), &new, state.clock.now()).await?;
    Ok((StatusCode::CREATED, ApiJson(VisitView::from(&visit))))
}

/// Visits by scheduled time.
#[utoipa::path(
    get, path = "/visits", operation_id = "list_visits", tag = "orders",
    params(VisitListParams),
    responses((status = 200, description = "Visits, earliest first", body = [VisitView]))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<VisitListParams>,
) -> Result<ApiJson<Vec<VisitView>>, ApiError> {
    caller.require(READERS)?;
    let customer = q.customer_id.as_deref().map(customer_id).transpose()?;
    let visit_state = q
        .state
        .as_deref()
        .map(|s| {
            VisitState::parse(s).ok_or_else(|| {
                ApiError::bad_field(
                    "state",
                    "state must be booked, attended, no_show or cancelled",
                )
            })
        })
        .transpose()?;
    let inviter = q.invited_by.as_deref().map(|a| {
        if a == "me" {
            caller.user.id.clone()
        } else {
            UserId::from(a)
        }
    });
    let limit = limit_param(q.limit.as_deref(), 200, 1000)?;
    let list = visits::list(
        &state.store,
        caller.tenant(),
        &VisitFilter {
            customer_id: customer.as_ref(),
            state: visit_state,
            invited_by: inviter.as_ref(),
            from: q
                .from
                .as_deref()
                .map(|t| parse_time("from", t))
                .transpose()?,
            to: q.to.as_deref().map(|t| parse_time("to", t)).transpose()?,
            limit,
        },
    )
    .await?;
    Ok(ApiJson(list.iter().map(VisitView::from).collect()))
}

async fn close(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    to: VisitState,
) -> Result<ApiJson<VisitView>, ApiError> {
    caller.require(WRITERS)?;
    match visits::close(
        &state.store,
        caller.tenant(),
        id,
        to,
        &caller.user.id,
        state.clock.now(),
    )
    .await?
    {
        visits::Change::Applied(v) => Ok(ApiJson(VisitView::from(&v))),
        visits::Change::NotFound => Err(ApiError::NotFound(format!("visit '{id}'"))),
        visits::Change::WrongState(now) => Err(ApiError::Conflict(format!(
            "visit '{id}' is {now}; only a booked visit can be closed"
        ))),
    }
}

/// The customer came: counts for the inviting agent's visit quota and goes on the file.
#[utoipa::path(
    post, path = "/visits/{id}/attended", operation_id = "visit_attended", tag = "orders",
    params(("id" = String, Path, description = "Visit id")),
    responses((status = 200, description = "Attended", body = VisitView))
)]
pub(crate) async fn attended(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<VisitView>, ApiError> {
    close(&state, &caller, &id, VisitState::Attended).await
}

/// The customer did not come.
#[utoipa::path(
    post, path = "/visits/{id}/no-show", operation_id = "visit_no_show", tag = "orders",
    params(("id" = String, Path, description = "Visit id")),
    responses((status = 200, description = "No-show", body = VisitView))
)]
pub(crate) async fn no_show(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<VisitView>, ApiError> {
    close(&state, &caller, &id, VisitState::NoShow).await
}

/// The visit is called off.
#[utoipa::path(
    post, path = "/visits/{id}/cancel", operation_id = "cancel_visit", tag = "orders",
    params(("id" = String, Path, description = "Visit id")),
    responses((status = 200, description = "Cancelled", body = VisitView))
)]
pub(crate) async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<VisitView>, ApiError> {
    close(&state, &caller, &id, VisitState::Cancelled).await
}
