//! The customer file over HTTP: create/upsert (with `Idempotency-Key`), the `updated_since`
//! change feed, read (ETag), edit (If-Match), delete, the agent console's screen pop by phone, and
//! notes.
//!
//! Roles: everyone in the tenant reads; agents add notes; supervisors and admins write and
//! delete; integrators (API keys) upsert and edit; QA only reads.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchboard_core::{CustomerId, Role};
use switchboard_store::StoreError;
use switchboard_store::customers::{
    self, Cursor, CustomerError, IdempotencyKey, ListQuery, NewInteraction, StoredResponse, Upsert,
};

use super::customer_types::{
    CustomerInput, CustomerPage, CustomerPatch, CustomerView, InteractionKindDoc, InteractionView,
    ListParams, LookupParams, LookupResult, NoteInput, PhoneNoteInput, PhoneNoteResult, ScreenPop,
    call_id, note_text, parse_time, phone, time_zone,
};
use super::{ApiError, ApiJson, ApiState, Caller, json};

const READERS: &[Role] = &[
    Role::Admin,
    Role::Supervisor,
    Role::Agent,
    Role::Qa,
    Role::Integrator,
];
const WRITERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Integrator];
const DELETERS: &[Role] = &[Role::Admin, Role::Supervisor];
const NOTE_WRITERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent];
const MAX_IDEMPOTENCY_KEY: usize = 200;

/// What can fail in a customer-file request. Wraps the API's common errors and adds the three
/// that only concurrency control and idempotency produce.
#[derive(Debug, thiserror::Error)]
pub enum CustomerApiError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("If-Match is required: send the ETag of the version you edited")]
    PreconditionRequired,
    #[error(
        "the customer changed: If-Match names version {expected}, the current one is {current}"
    )]
    Stale { expected: i64, current: i64 },
    #[error("Idempotency-Key '{0}' was already used with a different request")]
    IdempotencyMismatch(String),
}

impl From<StoreError> for CustomerApiError {
    fn from(e: StoreError) -> Self {
        CustomerApiError::Api(e.into())
    }
}

impl From<CustomerError> for CustomerApiError {
    fn from(e: CustomerError) -> Self {
        match e {
            CustomerError::NotFound(_) => ApiError::NotFound("customer".into()).into(),
            CustomerError::Stale {
                expected, current, ..
            } => CustomerApiError::Stale { expected, current },
            CustomerError::BadCursor => {
                ApiError::bad_field("cursor", "cursor is not one this server issued").into()
            }
            CustomerError::IdempotencyMismatch(key) => CustomerApiError::IdempotencyMismatch(key),
            CustomerError::Referenced(_) => {
                ApiError::Conflict("calls, tasks or tickets that refer to this customer".into())
                    .into()
            }
            CustomerError::Store(e) => e.into(),
        }
    }
}

fn error_body(code: &str, message: String, field: &str) -> serde_json::Value {
    json!({ "error": { "code": code, "message": message, "field": field } })
}

impl IntoResponse for CustomerApiError {
    fn into_response(self) -> Response {
        let message = self.to_string();
        let (status, body) = match self {
            // An oversized body is a fault of the body as a whole: name it, like every 4xx here.
            CustomerApiError::Api(ApiError::PayloadTooLarge) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                error_body("payload_too_large", message, "body"),
            ),
            CustomerApiError::Api(e) => return e.into_response(),
            CustomerApiError::PreconditionRequired => (
                StatusCode::PRECONDITION_REQUIRED,
                error_body("precondition_required", message, "If-Match"),
            ),
            CustomerApiError::Stale { .. } => (
                StatusCode::PRECONDITION_FAILED,
                error_body("precondition_failed", message, "If-Match"),
            ),
            CustomerApiError::IdempotencyMismatch(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                error_body("idempotency_key_reused", message, "Idempotency-Key"),
            ),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// A query string parsed like `ApiJson` parses bodies: failures are JSON errors, never axum's
/// plain-text rejection.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::BadRequest {
                field: None,
                message: format!("invalid query string: {}", e.body_text()),
            })
    }
}

/// A `limit` query parameter: `default` when absent, else a whole number 1-`max`.
pub(crate) fn limit_param(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad_field("limit", format!("limit must be a whole number 1-{max}"))
        })
}

fn etag(version: i64) -> HeaderValue {
    // A decimal number in quotes is always a valid header value.
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn customer_response(status: StatusCode, view: &CustomerView) -> Response {
    etag_response(status, view, view.version)
}

/// A JSON body with its version as the `ETag` (the value `If-Match` sends back).
pub(crate) fn etag_response<T: serde::Serialize>(
    status: StatusCode,
    body: &T,
    version: i64,
) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// Like [`if_match`] where the header may be left out (then nothing is checked).
pub(crate) fn optional_if_match(headers: &HeaderMap) -> Result<Option<i64>, CustomerApiError> {
    if headers.contains_key(header::IF_MATCH) {
        if_match(headers)
    } else {
        Ok(None)
    }
}

/// A user id given in a body: it must name a user of the caller's tenant.
pub(crate) async fn tenant_user(
    state: &ApiState,
    caller: &Caller,
    raw: &str,
    field: &str,
) -> Result<switchboard_core::UserId, ApiError> {
    let id = switchboard_core::UserId::from(raw);
    let known = !raw.is_empty()
        && raw.len() <= 128
        && switchboard_store::users::get_user(&state.store, caller.tenant(), &id)
            .await?
            .is_some();
    if known {
        Ok(id)
    } else {
        Err(ApiError::bad_field(
            field,
            format!("{field} names no user of this tenant"),
        ))
    }
}

/// The version an `If-Match` names: `"3"`, `W/"3"` or `3`; `*` matches whatever is current.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, CustomerApiError> {
    let raw = headers
        .get(header::IF_MATCH)
        .ok_or(CustomerApiError::PreconditionRequired)?;
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
        .ok_or_else(|| bad().into())
}

/// Ids are ours (UUIDs) or nothing: anything else cannot name a customer.
pub(crate) fn customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    if raw.is_empty() || raw.len() > 64 || raw.contains('\0') {
        return Err(ApiError::NotFound("customer".into()));
    }
    Ok(CustomerId::from(raw))
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
        .ok_or_else(|| {
            ApiError::bad_field(
                "Idempotency-Key",
                "Idempotency-Key must be 1-200 visible ASCII characters",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// Creates a customer; with a known `external_id` updates it instead (upsert).
///
/// Bodies are taken as `Result` so that their rejections (oversized, not JSON) go through
/// [`CustomerApiError`], which names the field of every 4xx.
#[utoipa::path(
    post, path = "/customers", tag = "customers",
    request_body = CustomerInput,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Same key and body: the first response again. Same key, other body: 422.")),
    responses(
        (status = 201, description = "Created", body = CustomerView, headers(("ETag" = String))),
        (status = 200, description = "Updated the customer with this external_id", body = CustomerView),
        (status = 422, description = "Idempotency-Key reused with another body", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<ApiJson<Value>, ApiError>,
) -> Result<Response, CustomerApiError> {
    caller.require(WRITERS)?;
    let ApiJson(body) = body?;
    let key = idempotency_key(&headers)?;
    // The hash is over the parsed body, so whitespace and key order do not make it "different".
    let mut canonical_body = String::new();
    canonical(&body, &mut canonical_body);
    let request_hash = hex::encode(Sha256::digest(
        format!("POST /customers {canonical_body}").as_bytes(),
    ));
    let input: CustomerInput = json::parse(body.to_string().as_bytes())?;
    let data = input.into_data()?;
    let now = state.clock.now();
    let render = |c: &customers::Customer, created: bool| StoredResponse {
        status: if created { 201 } else { 200 },
        body: serde_json::to_string(&CustomerView::from(c)).unwrap_or_default(),
    };
    let outcome = customers::upsert_customer(
        &state.store,
        caller.tenant(),
        &data,
        key.as_deref().map(|key| IdempotencyKey {
            key,
            request_hash: &request_hash,
        }),
        render,
        now,
    )
    .await?;
    let (response, replayed) = match outcome {
        Upsert::Written { response, .. } => (response, false),
        Upsert::Replayed(response) => (response, true),
    };
    stored_response(response, replayed)
}

/// JSON text with object keys sorted at every level, whatever map order serde_json was built with.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn stored_response(stored: StoredResponse, replayed: bool) -> Result<Response, CustomerApiError> {
    let view: CustomerView = serde_json::from_str(&stored.body)
        .map_err(|e| ApiError::Internal(format!("stored idempotent response: {e}")))?;
    let status = StatusCode::from_u16(stored.status)
        .map_err(|e| ApiError::Internal(format!("stored idempotent status: {e}")))?;
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ETAG, etag(view.version))
        .body(Body::from(stored.body))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Customers in change order, for syncing: `updated_since` and `cursor` page without gaps.
#[utoipa::path(
    get, path = "/customers", tag = "customers",
    params(ListParams),
    responses((status = 200, description = "One page, oldest change first", body = CustomerPage))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<ApiJson<CustomerPage>, CustomerApiError> {
    caller.require(READERS)?;
    let updated_since = q
        .updated_since
        .as_deref()
        .map(|s| parse_time("updated_since", s))
        .transpose()?;
    let after = q.cursor.as_deref().map(Cursor::decode).transpose()?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_field("limit", "limit must be 1-1000").into());
    }
    let search = q.q.filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.contains('\0')) {
        return Err(ApiError::bad_field("q", "q must not contain NUL characters").into());
    }
    let page = customers::list_customers(
        &state.store,
        caller.tenant(),
        &ListQuery {
            updated_since,
            after,
            search,
            limit,
        },
    )
    .await?;
    Ok(ApiJson(CustomerPage {
        items: page.items.iter().map(CustomerView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// One customer; the ETag is its version.
#[utoipa::path(
    get, path = "/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, description = "The customer", body = CustomerView, headers(("ETag" = String))))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, CustomerApiError> {
    caller.require(READERS)?;
    let id = customer_id(&id)?;
    let customer = customers::get_customer(&state.store, caller.tenant(), &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("customer".into()))?;
    Ok(customer_response(
        StatusCode::OK,
        &CustomerView::from(&customer),
    ))
}

/// Changes some fields. `If-Match` must name the version edited: a stale one is refused (412).
#[utoipa::path(
    patch, path = "/customers/{id}", tag = "customers",
    request_body = CustomerPatch,
    params(
        ("id" = String, Path, description = "Customer id"),
        ("If-Match" = String, Header, description = "The ETag (version) edited, e.g. \"3\""),
    ),
    responses(
        (status = 200, description = "The new version", body = CustomerView, headers(("ETag" = String))),
        (status = 412, description = "Stale If-Match", body = super::openapi::ErrorBody),
        (status = 428, description = "If-Match missing", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn patch(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    change: Result<ApiJson<CustomerPatch>, ApiError>,
) -> Result<Response, CustomerApiError> {
    caller.require(WRITERS)?;
    let ApiJson(change) = change?;
    let id = customer_id(&id)?;
    let expected = if_match(&headers)?;
    let current = customers::get_customer(&state.store, caller.tenant(), &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("customer".into()))?;
    let version = expected.unwrap_or(current.version);
    if version != current.version {
        return Err(CustomerApiError::Stale {
            expected: version,
            current: current.version,
        });
    }
    let data = change.apply(current.data)?;
    // The store checks the version again: a write between our read and this one is caught there.
    let updated = customers::update_customer(
        &state.store,
        caller.tenant(),
        &id,
        version,
        &data,
        state.clock.now(),
    )
    .await?;
    Ok(customer_response(
        StatusCode::OK,
        &CustomerView::from(&updated),
    ))
}

/// Deletes a customer with its phones and notes (admin, supervisor). Audited.
#[utoipa::path(
    delete, path = "/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 204, description = "Deleted"))
)]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, CustomerApiError> {
    caller.require(DELETERS)?;
    let id = customer_id(&id)?;
    let now = state.clock.now();
    if !customers::delete_customer(&state.store, caller.tenant(), &id, now).await? {
        return Err(ApiError::NotFound("customer".into()).into());
    }
    switchboard_store::audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "customer.delete",
        id.as_str(),
        &json!({}),
        now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Screen pop for the agent console: who is calling, by phone number.
#[utoipa::path(
    get, path = "/customers/lookup", tag = "customers",
    params(LookupParams),
    responses((status = 200, description = "Customers with this number (usually one, or none)", body = LookupResult))
)]
pub(crate) async fn lookup(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<LookupParams>,
) -> Result<ApiJson<LookupResult>, CustomerApiError> {
    caller.require(READERS)?;
    let number = phone("phone", &q.phone)?;
    let found = customers::find_by_phone(&state.store, caller.tenant(), &number).await?;
    let mut matches = Vec::with_capacity(found.len());
    for c in found {
        let notes = customers::list_interactions(&state.store, caller.tenant(), &c.id, 5).await?;
        matches.push(ScreenPop {
            id: c.id.to_string(),
            name: c.data.name,
            category: c.data.category.into(),
            grade: c.data.grade,
            key_customer: c.data.key_customer,
            do_not_call: c.data.do_not_call,
            time_zone: c.data.time_zone,
            last_notes: notes.iter().map(InteractionView::from).collect(),
        });
    }
    Ok(ApiJson(LookupResult {
        phone: number.to_string(),
        matches,
    }))
}

/// The newest interactions on a customer's file.
#[utoipa::path(
    get, path = "/customers/{id}/notes", tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, description = "Newest first (at most 100)", body = Vec<InteractionView>))
)]
pub(crate) async fn list_notes(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<InteractionView>>, CustomerApiError> {
    caller.require(READERS)?;
    let id = customer_id(&id)?;
    customers::get_customer(&state.store, caller.tenant(), &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("customer".into()))?;
    let notes = customers::list_interactions(&state.store, caller.tenant(), &id, 100).await?;
    Ok(ApiJson(notes.iter().map(InteractionView::from).collect()))
}

/// Adds an after-call note (or a chat, visit or call record) to a customer's file.
#[utoipa::path(
    post, path = "/customers/{id}/notes", tag = "customers",
    request_body = NoteInput,
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 201, description = "Recorded", body = InteractionView))
)]
pub(crate) async fn add_note(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<ApiJson<NoteInput>, ApiError>,
) -> Result<(StatusCode, ApiJson<InteractionView>), CustomerApiError> {
    caller.require(NOTE_WRITERS)?;
    let ApiJson(body) = body?;
    let id = customer_id(&id)?;
    note_text(&body.text)?;
    call_id(body.call_id.as_deref())?;
    let note = customers::add_interaction(
        &state.store,
        caller.tenant(),
        &id,
        &NewInteraction {
            kind: body.kind.unwrap_or(InteractionKindDoc::Note).into(),
            body: body.text,
            agent_id: Some(caller.user.id.to_string()),
            call_id: body.call_id,
        },
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(InteractionView::from(&note))))
}

/// An after-call note by phone number: an unknown number becomes a potential customer.
#[utoipa::path(
    post, path = "/notes", tag = "customers",
    request_body = PhoneNoteInput,
    responses((status = 201, description = "Recorded", body = PhoneNoteResult))
)]
pub(crate) async fn add_note_by_phone(
    State(state): State<ApiState>,
    caller: Caller,
    body: Result<ApiJson<PhoneNoteInput>, ApiError>,
) -> Result<(StatusCode, ApiJson<PhoneNoteResult>), CustomerApiError> {
    caller.require(NOTE_WRITERS)?;
    let ApiJson(body) = body?;
    let number = phone("phone", &body.phone)?;
    note_text(&body.text)?;
    call_id(body.call_id.as_deref())?;
    let zone = time_zone(
        "time_zone",
        body.time_zone
            .as_deref()
            .unwrap_or(super::customer_types::DEFAULT_TIME_ZONE),
    )?;
    let (customer, created, note) = customers::add_interaction_by_phone(
        &state.store,
        caller.tenant(),
        &number,
        &zone,
        &NewInteraction {
            kind: customers::InteractionKind::Note,
            body: body.text,
            agent_id: Some(caller.user.id.to_string()),
            call_id: body.call_id,
        },
        state.clock.now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(PhoneNoteResult {
            customer: CustomerView::from(&customer),
            created_customer: created,
            note: InteractionView::from(&note),
        }),
    ))
}
