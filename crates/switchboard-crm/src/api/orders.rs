//! Orders on the customer file over HTTP: record (`POST /customers/{id}/orders`, idempotent by
//! the shop's `external_ref`), read, the `updated_since` feed (`GET /orders`), and the two steps
//! of an order's life (`POST /orders/{id}/pay`, `…/cancel`, with an optional `If-Match`).
//!
//! Roles: everyone in the tenant reads; agents, supervisors, admins and integrators record
//! orders; supervisors, admins and integrators (the shop) mark them paid or cancelled.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchboard_core::{CustomerId, Role, Timestamp};
use switchboard_store::orders::{self, Change, Created, NewOrder, Order, OrderFilter, OrderState};
use utoipa::{IntoParams, ToSchema};

use super::customer_types::parse_time;
use super::customers::{
    ApiQuery, CustomerApiError, customer_id, etag_response, limit_param, optional_if_match,
    tenant_user,
};
use super::{ApiError, ApiJson, ApiState, Caller};

const READERS: &[Role] = &[
    Role::Admin,
    Role::Supervisor,
    Role::Agent,
    Role::Qa,
    Role::Integrator,
];
const RECORDERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent, Role::Integrator];
const SETTLERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Integrator];

const MAX_DESCRIPTION: usize = 2_000;
const MAX_REF: usize = 100;
/// 10^13 minor units: beyond any real order, far from overflowing a sum of many.
const MAX_AMOUNT: i64 = 10_000_000_000_000;

/// One order. Money is in the currency's minor unit (fen, cents); times RFC 3339.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    pub id: String,
    pub customer_id: String,
    /// The shop's own order number.
    pub external_ref: Option<String>,
    pub description: String,
    pub amount_minor: i64,
    /// ISO 4217, e.g. `CNY`.
    pub currency: String,
    /// `placed`, `paid` or `cancelled`.
    pub state: String,
    /// The agent credited with the sale.
    pub agent_id: Option<String>,
    pub placed_at: String,
    pub paid_at: Option<String>,
    pub cancelled_at: Option<String>,
    /// Also the `ETag`.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        OrderView {
            id: o.id.clone(),
            customer_id: o.customer_id.to_string(),
            external_ref: o.external_ref.clone(),
            description: o.description.clone(),
            amount_minor: o.amount_minor,
            currency: o.currency.clone(),
            state: o.state.as_str().to_owned(),
            agent_id: o.agent_id.as_ref().map(ToString::to_string),
            placed_at: o.placed_at.to_string(),
            paid_at: o.paid_at.map(|t| t.to_string()),
            cancelled_at: o.cancelled_at.map(|t| t.to_string()),
            version: o.version,
            created_at: o.created_at.to_string(),
            updated_at: o.updated_at.to_string(),
        }
    }
}

/// An order to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// The shop's own order number: recording the same one again returns the first order.
    pub external_ref: Option<String>,
    #[serde(default)]
    pub description: String,
    pub amount_minor: i64,
    /// ISO 4217, three letters.
    pub currency: String,
    /// The agent credited with the sale (default: the calling agent, or nobody).
    pub agent_id: Option<String>,
    /// When the customer placed it (default: now).
    pub placed_at: Option<String>,
    /// Already paid (a shop syncing a paid order).
    #[serde(default)]
    pub paid: bool,
}

/// One page of the order feed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// Query of `GET /orders`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderListParams {
    /// Only this customer's orders.
    pub customer_id: Option<String>,
    /// `placed`, `paid` or `cancelled`.
    pub state: Option<String>,
    /// Only orders changed at or after this time (RFC 3339 or epoch ms).
    pub updated_since: Option<String>,
    /// 1-500, default 100.
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

fn currency(raw: &str) -> Result<String, ApiError> {
    let c = raw.trim();
    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(c.to_ascii_uppercase())
    } else {
        Err(ApiError::bad_field(
            "currency",
            "currency must be an ISO 4217 code such as CNY",
        ))
    }
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max || value.contains('\0') {
        return Err(ApiError::bad_field(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(())
}

fn cursor_text(o: &Order) -> String {
    format!("{}.{}", o.updated_at.as_millis(), o.id)
}

fn parse_cursor(raw: &str) -> Result<(Timestamp, String), ApiError> {
    raw.split_once('.')
        .and_then(|(ms, id)| Some((Timestamp::from_millis(ms.parse().ok()?), id.to_owned())))
        .filter(|(_, id)| !id.is_empty())
        .ok_or_else(|| ApiError::bad_field("cursor", "cursor is not one this server issued"))
}

fn order_response(status: StatusCode, order: &Order) -> Response {
    etag_response(status, &OrderView::from(order), order.version)
}

/// Records an order on the customer's file.
#[utoipa::path(
    post, path = "/customers/{id}/orders", operation_id = "create_order", tag = "orders",
    params(("id" = String, Path, description = "Customer id")),
    request_body = OrderInput,
    responses(
        (status = 201, description = "Recorded", body = OrderView),
        (status = 200, description = "An order with this external_ref existed: returned unchanged", body = OrderView),
        (status = 409, description = "This external_ref is already used on another customer"),
    )
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<ApiJson<OrderInput>, ApiError>,
) -> Result<Response, CustomerApiError> {
    caller.require(RECORDERS)?;
    let customer = customer_id(&id)?;
    let ApiJson(input) = body?;
    if let Some(r) = &input.external_ref {
        if r.trim().is_empty() {
            return Err(
                ApiError::bad_field("external_ref", "external_ref must not be empty").into(),
            );
        }
        check_len("external_ref", r, MAX_REF)?;
    }
    check_len("description", &input.description, MAX_DESCRIPTION)?;
    if !(0..=MAX_AMOUNT).contains(&input.amount_minor) {
        return Err(ApiError::bad_field(
            "amount_minor",
            "amount_minor must be 0 or more, in the currency's minor unit",
        )
        .into());
    }
    let agent_id = match input.agent_id.as_deref() {
        Some(a) => Some(tenant_user(&state, &caller, a, "agent_id").await?),
        None if caller.user.role == Role::Agent => Some(caller.user.id.clone()),
        None => None,
    };
    let now = state.clock.now();
    let new = NewOrder {
        customer_id: customer,
        external_ref: input.external_ref.map(|r| r.trim().to_owned()),
        description: input.description,
        amount_minor: input.amount_minor,
        currency: currency(&input.currency)?,
        agent_id,
        placed_at: input
            .placed_at
            .as_deref()
            .map(|t| parse_time("placed_at", t))
            .transpose()?
            .unwrap_or(now),
        paid: input.paid,
    };
    Ok(
        match orders::create(&state.store, caller.tenant(), &new, now).await? {
            Created::New(o) => order_response(StatusCode::CREATED, &o),
            Created::Existing(o) => order_response(StatusCode::OK, &o),
        },
    )
}

/// The customer's orders, oldest change first.
#[utoipa::path(
    get, path = "/customers/{id}/orders", operation_id = "list_customer_orders", tag = "orders",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, description = "Up to 500 orders", body = [OrderView]))
)]
pub(crate) async fn list_for_customer(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<OrderView>>, ApiError> {
    caller.require(READERS)?;
    let customer: CustomerId = customer_id(&id)?;
    // Another tenant's customer (or none) is not found, not an empty list.
    if switchboard_store::customers::get_customer(&state.store, caller.tenant(), &customer)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("customer".into()));
    }
    let list = orders::list(
        &state.store,
        caller.tenant(),
        &OrderFilter {
            customer_id: Some(&customer),
            limit: 500,
            ..Default::default()
        },
    )
    .await?;
    Ok(ApiJson(list.iter().map(OrderView::from).collect()))
}

/// Every order of the tenant by last change: pull the changes since a time, page by `cursor`.
#[utoipa::path(
    get, path = "/orders", operation_id = "list_orders", tag = "orders",
    params(OrderListParams),
    responses((status = 200, description = "One page, oldest change first", body = OrderPage))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OrderListParams>,
) -> Result<ApiJson<OrderPage>, ApiError> {
    caller.require(READERS)?;
    let customer = q.customer_id.as_deref().map(customer_id).transpose()?;
    let order_state = q
        .state
        .as_deref()
        .map(|s| {
            OrderState::parse(s).ok_or_else(|| {
                ApiError::bad_field("state", "state must be placed, paid or cancelled")
            })
        })
        .transpose()?;
    let limit = limit_param(q.limit.as_deref(), 100, 500)?;
    let filter = OrderFilter {
        customer_id: customer.as_ref(),
        state: order_state,
        updated_since: q
            .updated_since
            .as_deref()
            .map(|t| parse_time("updated_since", t))
            .transpose()?,
        after: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit,
    };
    let items = orders::list(&state.store, caller.tenant(), &filter).await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(cursor_text))
        .flatten();
    Ok(ApiJson(OrderPage {
        items: items.iter().map(OrderView::from).collect(),
        next_cursor,
    }))
}

/// One order, with its version as `ETag`.
#[utoipa::path(
    get, path = "/orders/{id}", operation_id = "get_order", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    responses((status = 200, description = "The order", body = OrderView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let order = orders::get(&state.store, caller.tenant(), &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("order '{id}'")))?;
    Ok(order_response(StatusCode::OK, &order))
}

async fn transition(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    headers: &HeaderMap,
    to: OrderState,
) -> Result<Response, CustomerApiError> {
    caller.require(SETTLERS)?;
    let expected = optional_if_match(headers)?;
    let change = orders::transition(
        &state.store,
        caller.tenant(),
        id,
        to,
        expected,
        state.clock.now(),
    )
    .await?;
    match change {
        Change::Applied(o) => Ok(order_response(StatusCode::OK, &o)),
        Change::NotFound => Err(ApiError::NotFound(format!("order '{id}'")).into()),
        Change::WrongState(now) => Err(ApiError::Conflict(format!(
            "order '{id}' is {now}, so it cannot become {to}"
        ))
        .into()),
        Change::Stale { current } => Err(CustomerApiError::Stale {
            expected: expected.unwrap_or_default(),
            current,
        }),
    }
}

/// The customer paid: the order is `paid`, and a potential customer becomes a customer.
#[utoipa::path(
    post, path = "/orders/{id}/pay", operation_id = "pay_order", tag = "orders",
    params(
        ("id" = String, Path, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version you saw"),
    ),
    responses((status = 200, description = "Paid", body = OrderView))
)]
pub(crate) async fn pay(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    transition(&state, &caller, &id, &headers, OrderState::Paid)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The order is cancelled (also after payment: a refund).
#[utoipa::path(
    post, path = "/orders/{id}/cancel", operation_id = "cancel_order", tag = "orders",
    params(
        ("id" = String, Path, description = "Order id"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version you saw"),
    ),
    responses((status = 200, description = "Cancelled", body = OrderView))
)]
pub(crate) async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    transition(&state, &caller, &id, &headers, OrderState::Cancelled)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}
