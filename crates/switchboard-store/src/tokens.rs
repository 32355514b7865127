//! Bearer tokens (sessions after login) and API keys (integrators). Only a SHA-256 of each secret
//! is stored, so a database leak does not leak usable tokens.

use switchboard_core::{TenantId, Timestamp, UserId};

use crate::users::{USER_COLUMNS, User, UserRow};
use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Session,
    ApiKey,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::ApiKey => "api_key",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// Hex SHA-256 of the secret the client holds.
    pub token_hash: &'a str,
    pub tenant_id: &'a TenantId,
    pub user_id: &'a UserId,
    pub kind: TokenKind,
    pub label: &'a str,
    pub expires_at: Option<Timestamp>,
}

pub async fn insert_token(
    store: &Store,
    new: &NewToken<'_>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, tenant_id, user_id, kind, label, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.token_hash)
    .bind(new.tenant_id.as_str())
    .bind(new.user_id.as_str())
    .bind(new.kind.as_str())
    .bind(new.label)
    .bind(now.as_millis())
    .bind(new.expires_at.map(Timestamp::as_millis))
    .execute(store.pool())
    .await
    .map_err(|e| StoreError::from_insert(e, "token"))?;
    Ok(())
}

/// The user behind a token that is neither expired, revoked, nor owned by a disabled user.
pub async fn find_token_user(
    store: &Store,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL
           AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.disabled = 0"
    ))
    .bind(token_hash)
    .bind(now.as_millis())
    .fetch_optional(store.pool())
    .await?;
    row.map(User::try_from).transpose()
}

pub async fn revoke_token(
    store: &Store,
    token_hash: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now.as_millis())
    .bind(token_hash)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Revokes every token of a user (after a password change); returns how many.
pub async fn revoke_user_tokens(
    store: &Store,
    tenant: &TenantId,
    user: &UserId,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE tenant_id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now.as_millis())
    .bind(tenant.as_str())
    .bind(user.as_str())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Deletes tokens that expired or were revoked before `before`; returns how many.
pub async fn purge_tokens(store: &Store, before: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM api_tokens WHERE (expires_at IS NOT NULL AND expires_at < $1) OR (revoked_at IS NOT NULL AND revoked_at < $1)",
    )
    .bind(before.as_millis())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}
