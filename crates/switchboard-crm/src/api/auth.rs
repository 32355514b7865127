//! Login, logout and the authenticated caller.
//!
//! People log in with tenant, username and password and get a bearer token valid for the
//! configured time; integrators use API keys the same way. Failed logins are throttled per source
//! address and user, so guessing passwords is slow and visible.

use std::net::SocketAddr;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::{Masked, Role, TenantId, Timestamp};
use switchboard_store::tokens::{NewToken, TokenKind};
use switchboard_store::users::User;
use switchboard_store::{audit, tokens, users};

use super::{ApiError, ApiJson, ApiState};
use crate::password;

/// The authenticated user behind the request's bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    token_hash: String,
}

impl Caller {
    pub fn tenant(&self) -> &TenantId {
        &self.user.tenant_id
    }

    /// Refuses with 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(names.join(" or ")))
        }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthenticated)?;
        let token_hash = password::token_hash(token);
        let user = tokens::find_token_user(&state.store, &token_hash, state.clock.now())
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if let Some(limiter) = &state.tenant_limiter {
            // Real time, not the API clock: the rate is about this process's load.
            let now = std::time::Instant::now();
            let mut limiter = limiter
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !limiter.admit(&user.tenant_id, now) {
                return Err(ApiError::RateLimited {
                    retry_after_secs: limiter.limit().retry_after_secs(),
                });
            }
        }
        Ok(Caller { user, token_hash })
    }
}

/// The peer address of the connection, when the server recorded it.
fn client_ip(parts_ext: &axum::http::Extensions) -> String {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Credentials of a person.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// Default: the server's default tenant.
    tenant: Option<String>,
    username: String,
    password: String,
}

/// A user as others see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UserView {
    id: String,
    tenant: String,
    username: String,
    display_name: String,
    #[schema(value_type = super::openapi::RoleDoc)]
    role: Role,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.to_string(),
            tenant: u.tenant_id.to_string(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
        }
    }
}

/// A bearer token and who it belongs to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LoginResponse {
    token: String,
    token_type: &'static str,
    expires_at: String,
    user: UserView,
}

/// Logs in: a bearer token valid for the configured time (12 h by default).
#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    security(()),
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Wrong tenant, username or password", body = super::openapi::ErrorBody),
        (status = 429, description = "Too many failures; see Retry-After", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn login(
    State(state): State<ApiState>,
    request: axum::extract::Request,
) -> Result<ApiJson<LoginResponse>, ApiError> {
    let ip = client_ip(request.extensions());
    let ApiJson(body) = ApiJson::<LoginRequest>::from_request(request, &state).await?;
    let tenant = body
        .tenant
        .map(TenantId::from)
        .unwrap_or_else(|| state.settings.default_tenant.clone());
    let key = format!("{ip}|{tenant}|{}", body.username);
    let now = state.clock.now();
    check_throttle(&state, &key, now)?;

    let user = users::find_user_by_username(&state.store, &tenant, &body.username).await?;
    let password = body.password;
    let verified = tokio::task::spawn_blocking(move || match &user {
        Some(u) if !u.disabled => {
            password::verify_password(&password, &u.password_hash).then_some(u.clone())
        }
        _ => {
            password::burn_verification_time(&password);
            None
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;

    let Some(user) = verified else {
        let locked = state
            .login_throttle
            .lock()
            .map_err(|_| ApiError::Internal("login throttle poisoned".into()))?
            .record_failure(key, now);
        tracing::warn!(tenant = %tenant, user = %Masked::name(&body.username), %ip, locked = locked.is_some(), "login failed");
        return Err(ApiError::BadCredentials);
    };
    if let Ok(mut throttle) = state.login_throttle.lock() {
        throttle.record_success(&key, now);
    }

    let (token, token_hash) = password::new_token();
    let expires_at = now + state.settings.token_ttl;
    tokens::insert_token(
        &state.store,
        &NewToken {
            token_hash: &token_hash,
            tenant_id: &user.tenant_id,
            user_id: &user.id,
            kind: TokenKind::Session,
            label: "login",
            expires_at: Some(expires_at),
        },
        now,
    )
    .await?;
    audit::append(
        &state.store,
        &user.tenant_id,
        Some(&user.id),
        "auth.login",
        user.id.as_str(),
        &json!({ "ip": ip }),
        now,
    )
    .await?;
    Ok(ApiJson(LoginResponse {
        token,
        token_type: "Bearer",
        expires_at: expires_at.to_string(),
        user: UserView::from(&user),
    }))
}

fn check_throttle(state: &ApiState, key: &String, now: Timestamp) -> Result<(), ApiError> {
    let throttle = state
        .login_throttle
        .lock()
        .map_err(|_| ApiError::Internal("login throttle poisoned".into()))?;
    throttle
        .check(key, now)
        .map_err(|retry_after| ApiError::TooManyAttempts {
            retry_after_secs: retry_after.as_secs().max(1),
        })
}

/// Revokes the token of this request.
#[utoipa::path(
    post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "Logged out"))
)]
pub(crate) async fn logout(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    tokens::revoke_token(&state.store, &caller.token_hash, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller.
#[utoipa::path(
    get, path = "/me", tag = "auth",
    responses((status = 200, description = "The user behind the token", body = UserView))
)]
pub(crate) async fn me(caller: Caller) -> ApiJson<UserView> {
    ApiJson(UserView::from(&caller.user))
}

use axum::extract::FromRequest as _;
