//! ACD queues and their members over HTTP: `GET/POST /queues`, `GET/PATCH/DELETE /queues/{id}`,
//! `GET /queues/{id}/members`, `PUT/DELETE /queues/{id}/members/{user_id}`. Agents' state
//! history is in [`super::agent_states`].
//!
//! A queue's settings are switchboard-acd's `QueueConfig`, stored as JSON text. A posted config
//! is checked by deserialising it into `QueueConfig` and running its own validation before it is
//! stored, so the ACD never loads settings it would refuse; unknown keys are refused too, since a
//! misspelt `ring_timout` would otherwise silently keep the default.
//!
//! Roles: admins and supervisors write; QA and agents also read.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use switchboard_acd::{ConfigError, MaxWaitAction, QueueConfig};
use switchboard_core::{QueueId, Role, SiteId, UserId};
use switchboard_store::acd::{self, MemberRecord, QueueRecord, QueueUpsert};
use switchboard_store::{StoreError, audit, users};
use utoipa::ToSchema;

use super::{ApiError, ApiJson, ApiState, Caller};

/// Who configures queues and their members.
pub(crate) const WRITERS: &[Role] = &[Role::Admin, Role::Supervisor];
/// Who reads queues, members and state history (agents only their own history).
pub(crate) const READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa, Role::Agent];

const MAX_NAME: usize = 200;
const MAX_SKILLS: usize = 50;
const MAX_SKILL_NAME: usize = 64;
const MAX_SITE: usize = 64;

/// What went wrong in a queue route.
#[derive(Debug, thiserror::Error)]
pub enum QueueApiError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The store refuses to delete a queue with members: removing them is a decision of its own.
    #[error("queue '{0}' still has members: remove them first")]
    HasMembers(String),
}

impl From<StoreError> for QueueApiError {
    fn from(e: StoreError) -> Self {
        QueueApiError::Api(e.into())
    }
}

impl IntoResponse for QueueApiError {
    fn into_response(self) -> Response {
        match self {
            QueueApiError::Api(e) => e.into_response(),
            QueueApiError::HasMembers(_) => {
                let body = json!({ "error": { "code": "conflict", "message": self.to_string() } });
                (StatusCode::CONFLICT, axum::Json(body)).into_response()
            }
        }
    }
}

/// A queue. `config` is the full `QueueConfig`, defaults filled in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    pub id: String,
    pub name: String,
    /// Dialled number routed to the queue; unique within the tenant.
    pub number: Option<String>,
    /// `strategy`, `ring_timeout` (s), `max_missed_offers`, `wrap_up` (s), `wait_alert` (s),
    /// `max_wait` (s or null), `on_max_wait`, `service_level_threshold` (s).
    #[schema(value_type = Object)]
    pub config: Value,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&QueueRecord> for QueueView {
    fn from(q: &QueueRecord) -> Self {
        // Rows are written through this API, which validates; should one not parse, show it as
        // stored rather than fail the listing.
        let config = serde_json::from_str::<QueueConfig>(&q.config_json)
            .ok()
            .and_then(|c| serde_json::to_value(c).ok())
            .or_else(|| serde_json::from_str(&q.config_json).ok())
            .unwrap_or(Value::Null);
        QueueView {
            id: q.id.to_string(),
            name: q.name.clone(),
            number: q.number.clone(),
            config,
            created_at: q.created_at.to_string(),
            updated_at: q.updated_at.to_string(),
        }
    }
}

/// Body of `POST /queues`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateQueue {
    /// 1-64 letters, digits, `.`, `_`, `-`; used in task owners (`queue:<id>`).
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    id: String,
    name: String,
    /// Digits with an optional leading `+`, 1-20 digits.
    number: Option<String>,
    /// Partial `QueueConfig`; absent keys take the service rules' defaults (ring 20 s, 2 missed
    /// offers, wrap-up 30 s, wait alert 60 s, service level 20 s).
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
}

/// Absent stays `None`; `null` becomes `Some(None)` (clear the number).
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Body of `PATCH /queues/{id}`: only the keys given change. `config` keys are merged into the
/// current settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditQueue {
    name: Option<String>,
    /// `null` removes the number.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    number: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
}

fn valid_id(id: &str) -> bool {
    super::valid_username(id)
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME || name.contains('\0') {
        return Err(ApiError::bad_field(
            "name",
            format!("name must be 1-{MAX_NAME} characters"),
        ));
    }
    Ok(())
}

fn check_number(number: &str) -> Result<(), ApiError> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_field(
            "number",
            "number must be 1-20 digits with an optional leading +",
        ));
    }
    Ok(())
}

/// Parses a (partial) config object into `QueueConfig` and validates it for queue `id`; errors
/// name the key (`config.ring_timeout`).
pub(crate) fn parse_config(id: &QueueId, raw: &Value) -> Result<QueueConfig, ApiError> {
    let Some(object) = raw.as_object() else {
        return Err(ApiError::bad_field(
            "config",
            "config must be a JSON object",
        ));
    };
    let known = serde_json::to_value(QueueConfig::default())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(unknown) = object.keys().find(|k| known.get(k.as_str()).is_none()) {
        return Err(ApiError::bad_field(
            format!("config.{unknown}"),
            format!("config has no setting '{unknown}'"),
        ));
    }
    let config: QueueConfig = serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            "config".to_owned()
        } else {
            format!("config.{path}")
        };
        ApiError::bad_field(
            field.clone(),
            format!("invalid {field}: {}", e.into_inner()),
        )
    })?;
    config.validate(id).map_err(|e| {
        let field = match e {
            ConfigError::ZeroRingTimeout => "config.ring_timeout",
            ConfigError::ZeroMaxMisses => "config.max_missed_offers",
            ConfigError::ZeroMaxWait => "config.max_wait",
            ConfigError::OverflowToSelf(_) => "config.on_max_wait",
            ConfigError::EmptySkill | ConfigError::EmptyReason => "config",
        };
        ApiError::bad_field(field, e.to_string())
    })?;
    Ok(config)
}

/// A queue that overflows must overflow into a queue of the tenant: the ACD would otherwise
/// move waiting callers into a queue nobody serves.
async fn check_overflow(
    state: &ApiState,
    caller: &Caller,
    config: &QueueConfig,
) -> Result<(), ApiError> {
    if let MaxWaitAction::Overflow(target) = &config.on_max_wait {
        let exists = valid_id(target.as_str())
            && acd::get_queue(&state.store, caller.tenant(), target)
                .await?
                .is_some();
        if !exists {
            return Err(ApiError::bad_field(
                "config.on_max_wait",
                format!("overflow target queue '{target}' does not exist"),
            ));
        }
    }
    Ok(())
}

fn config_text(config: &QueueConfig) -> Result<String, ApiError> {
    serde_json::to_string(config).map_err(|e| ApiError::Internal(e.to_string()))
}

/// The tenant's queue `id`, or 404 (unknown or another tenant's).
async fn existing_queue(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<QueueRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("queue '{id}'"));
    if !valid_id(id) {
        return Err(not_found());
    }
    acd::get_queue(&state.store, caller.tenant(), &QueueId::from(id))
        .await?
        .ok_or_else(not_found)
}

async fn audit_write(
    state: &ApiState,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: &Value,
) -> Result<(), ApiError> {
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        action,
        target,
        detail,
        state.clock.now(),
    )
    .await?;
    Ok(())
}

/// The tenant's queues, by id.
#[utoipa::path(
    get, path = "/queues", operation_id = "list_queues", tag = "queues",
    responses((status = 200, description = "Queues by id", body = Vec<QueueView>))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<Vec<QueueView>>, ApiError> {
    caller.require(READERS)?;
    let queues = acd::list_queues(&state.store, caller.tenant()).await?;
    Ok(ApiJson(queues.iter().map(QueueView::from).collect()))
}

/// Creates a queue (admin, supervisor). 409 if the id or the number is taken. Audited.
#[utoipa::path(
    post, path = "/queues", operation_id = "create_queue", tag = "queues",
    request_body = CreateQueue,
    responses((status = 201, description = "The new queue", body = QueueView))
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateQueue>,
) -> Result<(StatusCode, ApiJson<QueueView>), ApiError> {
    caller.require(WRITERS)?;
    if !valid_id(&body.id) {
        return Err(ApiError::bad_field(
            "id",
            "id must be 1-64 letters, digits, '.', '_' or '-'",
        ));
    }
    check_name(&body.name)?;
    if let Some(n) = &body.number {
        check_number(n)?;
    }
    let id = QueueId::from(body.id.as_str());
    let config = match &body.config {
        Some(raw) => parse_config(&id, raw)?,
        None => QueueConfig::default(),
    };
    check_overflow(&state, &caller, &config).await?;
    // The store's write is an upsert (the ACD's own restore uses it); creating must not
    // replace a queue someone else configured.
    if acd::get_queue(&state.store, caller.tenant(), &id)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict(format!("queue '{id}'")));
    }
    let now = state.clock.now();
    acd::upsert_queue(
        &state.store,
        &QueueUpsert {
            tenant_id: caller.tenant(),
            id: &id,
            name: body.name.trim(),
            number: body.number.as_deref(),
            config_json: &config_text(&config)?,
            now,
        },
    )
    .await?;
    let record = existing_queue(&state, &caller, id.as_str()).await?;
    let view = QueueView::from(&record);
    audit_write(
        &state,
        &caller,
        "queue.create",
        id.as_str(),
        &json!({ "name": view.name, "number": view.number, "config": view.config }),
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(view)))
}

/// One queue.
#[utoipa::path(
    get, path = "/queues/{id}", operation_id = "get_queue", tag = "queues",
    params(("id" = String, Path, description = "Queue id")),
    responses((status = 200, description = "The queue", body = QueueView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<QueueView>, ApiError> {
    caller.require(READERS)?;
    let record = existing_queue(&state, &caller, &id).await?;
    Ok(ApiJson(QueueView::from(&record)))
}

/// Changes a queue's name, number or settings (admin, supervisor). Audited.
#[utoipa::path(
    patch, path = "/queues/{id}", operation_id = "edit_queue", tag = "queues",
    params(("id" = String, Path, description = "Queue id")),
    request_body = EditQueue,
    responses((status = 200, description = "The queue as it is now", body = QueueView))
)]
pub(crate) async fn edit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditQueue>,
) -> Result<ApiJson<QueueView>, ApiError> {
    caller.require(WRITERS)?;
    let current = existing_queue(&state, &caller, &id).await?;
    if let Some(name) = &body.name {
        check_name(name)?;
    }
    if let Some(Some(n)) = &body.number {
        check_number(n)?;
    }
    let config_json = match &body.config {
        None => current.config_json.clone(),
        Some(patch) => {
            let Some(patch) = patch.as_object() else {
                return Err(ApiError::bad_field(
                    "config",
                    "config must be a JSON object",
                ));
            };
            let mut merged = serde_json::from_str::<Value>(&current.config_json)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            for (k, v) in patch {
                merged[k.as_str()] = v.clone();
            }
            let config = parse_config(&current.id, &merged)?;
            check_overflow(&state, &caller, &config).await?;
            config_text(&config)?
        }
    };
    let name = body
        .name
        .as_deref()
        .map_or(current.name.as_str(), str::trim);
    let number = match &body.number {
        None => current.number.as_deref(),
        Some(n) => n.as_deref(),
    };
    acd::upsert_queue(
        &state.store,
        &QueueUpsert {
            tenant_id: caller.tenant(),
            id: &current.id,
            name,
            number,
            config_json: &config_json,
            now: state.clock.now(),
        },
    )
    .await?;
    let record = existing_queue(&state, &caller, &id).await?;
    let view = QueueView::from(&record);
    audit_write(
        &state,
        &caller,
        "queue.update",
        &id,
        &json!({ "name": view.name, "number": view.number, "config": view.config }),
    )
    .await?;
    Ok(ApiJson(view))
}

/// Deletes a queue (admin, supervisor); 409 while it has members. Audited.
#[utoipa::path(
    delete, path = "/queues/{id}", operation_id = "delete_queue", tag = "queues",
    params(("id" = String, Path, description = "Queue id")),
    responses((status = 204, description = "Deleted"))
)]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, QueueApiError> {
    caller.require(WRITERS)?;
    let queue = existing_queue(&state, &caller, &id).await?;
    match acd::delete_queue(&state.store, caller.tenant(), &queue.id).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Err(QueueApiError::HasMembers(id)),
        Err(e) => return Err(e.into()),
    }
    audit_write(&state, &caller, "queue.delete", &id, &json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One agent's membership in a queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub queue_id: String,
    pub user_id: String,
    /// Skill name → level (higher is better).
    pub skills: BTreeMap<String, u8>,
    /// Overall level (seniority).
    pub level: i64,
    /// Priority tier: lower tiers are offered calls first (0 = first line).
    pub priority: i64,
    pub site: String,
}

impl From<&MemberRecord> for MemberView {
    fn from(m: &MemberRecord) -> Self {
        MemberView {
            queue_id: m.queue_id.to_string(),
            user_id: m.agent_user_id.to_string(),
            // Written through this API as a map of levels; anything else shows as no skills.
            skills: serde_json::from_str(&m.skills_json).unwrap_or_default(),
            level: m.level,
            priority: m.priority,
            site: m.site.to_string(),
        }
    }
}

/// Body of `PUT /queues/{id}/members/{user_id}`: the whole membership.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutMember {
    /// Skill name → level 0-255.
    #[serde(default)]
    skills: BTreeMap<String, u8>,
    /// Overall level 0-255 (default 0).
    #[serde(default)]
    level: u8,
    /// Priority tier 0-255 (default 0, first line).
    #[serde(default)]
    priority: u8,
    /// The agent's site (default `default`).
    site: Option<String>,
}

/// A queue's members, first tier first.
#[utoipa::path(
    get, path = "/queues/{id}/members", operation_id = "list_queue_members", tag = "queues",
    params(("id" = String, Path, description = "Queue id")),
    responses((status = 200, description = "Members, first tier first", body = Vec<MemberView>))
)]
pub(crate) async fn list_members(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<MemberView>>, ApiError> {
    caller.require(READERS)?;
    let queue = existing_queue(&state, &caller, &id).await?;
    let members = acd::list_members(&state.store, caller.tenant(), &queue.id).await?;
    Ok(ApiJson(members.iter().map(MemberView::from).collect()))
}

/// Adds an agent or supervisor of the tenant to the queue, or replaces their membership
/// (admin, supervisor). Audited.
#[utoipa::path(
    put, path = "/queues/{id}/members/{user_id}", operation_id = "put_queue_member", tag = "queues",
    params(
        ("id" = String, Path, description = "Queue id"),
        ("user_id" = String, Path, description = "The agent's user id"),
    ),
    request_body = PutMember,
    responses((status = 200, description = "The membership", body = MemberView))
)]
pub(crate) async fn put_member(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<PutMember>,
) -> Result<ApiJson<MemberView>, ApiError> {
    caller.require(WRITERS)?;
    let queue = existing_queue(&state, &caller, &id).await?;
    let user = if valid_user_id(&user_id) {
        users::get_user(
            &state.store,
            caller.tenant(),
            &UserId::from(user_id.as_str()),
        )
        .await?
    } else {
        None
    };
    match user {
        None => {
            return Err(ApiError::bad_field(
                "user_id",
                format!("no user '{user_id}' in this tenant"),
            ));
        }
        Some(u) if !matches!(u.role, Role::Agent | Role::Supervisor) => {
            return Err(ApiError::bad_field(
                "user_id",
                format!(
                    "user '{user_id}' is {}: only agents and supervisors take calls",
                    u.role
                ),
            ));
        }
        Some(_) => {}
    }
    if body.skills.len() > MAX_SKILLS {
        return Err(ApiError::bad_field(
            "skills",
            format!("at most {MAX_SKILLS} skills"),
        ));
    }
    if let Some(bad) = body
        .skills
        .keys()
        .find(|s| s.trim().is_empty() || s.chars().count() > MAX_SKILL_NAME)
    {
        return Err(ApiError::bad_field(
            "skills",
            format!("skill name '{bad}' must be 1-{MAX_SKILL_NAME} characters"),
        ));
    }
    let site = body.site.unwrap_or_else(|| "default".to_owned());
    if site.trim().is_empty() || site.chars().count() > MAX_SITE || site.contains('\0') {
        return Err(ApiError::bad_field(
            "site",
            format!("site must be 1-{MAX_SITE} characters"),
        ));
    }
    let skills_json =
        serde_json::to_string(&body.skills).map_err(|e| ApiError::Internal(e.to_string()))?;
    let record = MemberRecord {
        tenant_id: caller.tenant().clone(),
        queue_id: queue.id.clone(),
        agent_user_id: UserId::from(user_id.as_str()),
        skills_json,
        level: i64::from(body.level),
        priority: i64::from(body.priority),
        site: SiteId::from(site.as_str()),
    };
    acd::upsert_member(&state.store, &record).await?;
    let view = MemberView::from(&record);
    audit_write(
        &state,
        &caller,
        "queue.member.put",
        &format!("{id}/{user_id}"),
        &json!({ "skills": view.skills, "level": view.level, "priority": view.priority, "site": view.site }),
    )
    .await?;
    Ok(ApiJson(view))
}

/// Takes an agent out of the queue (admin, supervisor). Audited.
#[utoipa::path(
    delete, path = "/queues/{id}/members/{user_id}", operation_id = "delete_queue_member", tag = "queues",
    params(
        ("id" = String, Path, description = "Queue id"),
        ("user_id" = String, Path, description = "The agent's user id"),
    ),
    responses((status = 204, description = "Removed"))
)]
pub(crate) async fn delete_member(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(WRITERS)?;
    let queue = existing_queue(&state, &caller, &id).await?;
    if !valid_user_id(&user_id) {
        return Err(ApiError::NotFound(format!("member '{user_id}'")));
    }
    acd::remove_member(
        &state.store,
        caller.tenant(),
        &queue.id,
        &UserId::from(user_id.as_str()),
    )
    .await?;
    audit_write(
        &state,
        &caller,
        "queue.member.delete",
        &format!("{id}/{user_id}"),
        &json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// User ids are ours (UUIDs): anything else cannot name a row.
pub(crate) fn valid_user_id(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 128 && !raw.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ApiError) -> Option<String> {
        match e {
            ApiError::BadRequest { field, .. } => field,
            _ => None,
        }
    }

    #[test]
    fn partial_config_takes_the_service_rules_defaults() {
        let c = parse_config(&QueueId::from("q"), &json!({"wrap_up": 10})).unwrap_or_default();
        assert_eq!(c.wrap_up.0, 10);
        assert_eq!(c.ring_timeout.0, 20);
        assert_eq!(c.max_missed_offers, 2);
        assert_eq!(c.wait_alert.0, 60);
        assert_eq!(c.service_level_threshold.0, 20);
    }

    #[test]
    fn config_errors_name_the_key() {
        let q = QueueId::from("q");
        for (raw, field) in [
            (json!({"ring_timeout": 0}), "config.ring_timeout"),
            (json!({"ring_timeout": "x"}), "config.ring_timeout"),
            (json!({"ring_timout": 5}), "config.ring_timout"),
            (json!({"max_missed_offers": 0}), "config.max_missed_offers"),
            (
                json!({"on_max_wait": {"action": "overflow", "queue": "q"}}),
                "config.on_max_wait",
            ),
            (json!([1]), "config"),
        ] {
            let e = parse_config(&q, &raw).err();
            assert_eq!(e.and_then(field_of).as_deref(), Some(field), "{raw}");
        }
    }

    #[test]
    fn numbers_are_digits_with_an_optional_plus() {
        assert!(check_number("8000").is_ok());
        assert!(check_number("+862155550000").is_ok());
        for bad in ["", "+", "12a", "1".repeat(21).as_str(), "++1"] {
            assert!(check_number(bad).is_err(), "{bad}");
        }
    }
}
