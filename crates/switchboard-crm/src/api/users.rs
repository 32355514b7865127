//! User accounts of a tenant, and its audit log.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::Role;
use switchboard_store::users::NewUser;
use switchboard_store::{audit, users};

use super::auth::UserView;
use super::customers::ApiQuery;
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::password;

/// The tenant's users (admin, supervisor).
#[utoipa::path(
    get, path = "/users", tag = "users",
    responses((status = 200, description = "Users by name", body = Vec<UserView>))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<Vec<UserView>>, ApiError> {
    caller.require(&[Role::Admin, Role::Supervisor])?;
    let list = users::list_users(&state.store, caller.tenant()).await?;
    Ok(ApiJson(list.iter().map(UserView::from).collect()))
}

/// A new user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUser {
    /// 1-64 letters, digits, `.`, `_`, `-`.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    username: String,
    display_name: Option<String>,
    #[schema(value_type = super::openapi::RoleDoc)]
    role: Role,
    /// When absent a random password is generated and returned once.
    password: Option<String>,
}

/// The user, and the generated password when none was given (shown once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedUser {
    user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<String>,
}

/// 1 to 64 characters of letters, digits, `.`, `_` and `-`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Creates a user (admin). Audited.
#[utoipa::path(
    post, path = "/users", tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 409, description = "The username is taken", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, ApiJson<CreatedUser>), ApiError> {
    caller.require(&[Role::Admin])?;
    if !valid_username(&body.username) {
        return Err(ApiError::bad_field(
            "username",
            "username must be 1-64 letters, digits, '.', '_' or '-'",
        ));
    }
    let (password, generated) = match body.password {
        Some(p) => (p, false),
        None => (password::generate_password(), true),
    };
    let hash = tokio::task::spawn_blocking({
        let password = password.clone();
        move || password::hash_password(&password)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::bad_field("password", e.to_string()))?;
    let now = state.clock.now();
    let display_name = body.display_name.unwrap_or_else(|| body.username.clone());
    let user = users::insert_user(
        &state.store,
        &NewUser {
            tenant_id: caller.tenant(),
            username: &body.username,
            display_name: &display_name,
            role: body.role,
            password_hash: &hash,
        },
        now,
    )
    .await?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "user.create",
        user.id.as_str(),
        &json!({ "role": user.role }),
        now,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedUser {
            user: UserView::from(&user),
            generated_password: generated.then_some(password),
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// How many entries, newest first (1-1000, default 100).
    limit: Option<i64>,
}

/// One audit entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditView {
    at: String,
    actor: Option<String>,
    action: String,
    target: String,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

/// The tenant's audit log (admin).
#[utoipa::path(
    get, path = "/audit", tag = "users",
    params(AuditQuery),
    responses((status = 200, description = "Newest first", body = Vec<AuditView>))
)]
pub(crate) async fn audit_log(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<ApiJson<Vec<AuditView>>, ApiError> {
    caller.require(&[Role::Admin])?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let entries = audit::list(&state.store, caller.tenant(), limit).await?;
    Ok(ApiJson(
        entries
            .into_iter()
            .map(|e| AuditView {
                at: e.at.to_string(),
                actor: e.actor.map(|a| a.to_string()),
                action: e.action,
                target: e.target,
                detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
    ))
}
