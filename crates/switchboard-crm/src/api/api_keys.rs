//! API keys for integrators (the shop's CRM, ERP): an admin creates one, sees the secret once,
//! and the other system sends it as a bearer token. Each key is its own user with the
//! `integrator` role, so its writes are attributed and it can be revoked alone.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::Role;
use switchboard_store::tokens::{NewToken, TokenKind};
use switchboard_store::users::NewUser;
use switchboard_store::{audit, tokens, users};
use utoipa::ToSchema;

use super::{ApiError, ApiJson, ApiState, Caller};
use crate::password;

/// Not an Argon2 hash, so no password ever verifies: an API key's user cannot log in.
const NO_LOGIN: &str = "!api-key";

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApiKey {
    /// What the key is for, e.g. "shop ERP sync".
    #[schema(min_length = 1, max_length = 64, example = "shop ERP sync")]
    label: String,
}

/// The key, shown once: only its hash is kept.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CreatedApiKey {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// The integrator user the key acts as.
    user_id: String,
    username: String,
    label: String,
    #[schema(example = "integrator")]
    role: String,
}

/// Creates an integrator API key (admin). The token is in this response only.
#[utoipa::path(
    post, path = "/api-keys", tag = "auth",
    request_body = NewApiKey,
    responses((status = 201, description = "Created; the token is shown once", body = CreatedApiKey))
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Result<(StatusCode, ApiJson<CreatedApiKey>), ApiError> {
    caller.require(&[Role::Admin])?;
    let label = body.label.trim();
    if label.is_empty() || label.chars().count() > 64 || label.contains('\0') {
        return Err(ApiError::bad_field(
            "label",
            "label must be 1-64 characters",
        ));
    }
    let now = state.clock.now();
    let (token, token_hash) = password::new_token();
    // The username is derived from the secret's hash: unique, and says nothing about the secret.
    let username = format!("apikey-{}", &token_hash[..12]);
    let user = users::insert_user(
        &state.store,
        &NewUser {
            tenant_id: caller.tenant(),
            username: &username,
            display_name: label,
            role: Role::Integrator,
            password_hash: NO_LOGIN,
        },
        now,
    )
    .await?;
    tokens::insert_token(
        &state.store,
        &NewToken {
            token_hash: &token_hash,
            tenant_id: caller.tenant(),
            user_id: &user.id,
            kind: TokenKind::ApiKey,
            label,
            expires_at: None,
        },
        now,
    )
    .await?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "api_key.create",
        user.id.as_str(),
        &json!({ "label": label }),
        now,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(CreatedApiKey {
            token,
            user_id: user.id.to_string(),
            username,
            label: label.to_owned(),
            role: Role::Integrator.as_str().to_owned(),
        }),
    ))
}
