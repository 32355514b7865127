//! Users: people (and integrations) with a login, one role each, inside one tenant.

use switchboard_core::{Role, TenantId, Timestamp, UserId};

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub tenant_id: &'a TenantId,
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.tenant_id, u.username, u.display_name, u.role, u.password_hash, u.disabled, u.created_at, u.updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    tenant_id: String,
    username: String,
    display_name: String,
    role: String,
    password_hash: String,
    disabled: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let role = r
            .role
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("users.role: {e}")))?;
        Ok(User {
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            username: r.username,
            display_name: r.display_name,
            role,
            password_hash: r.password_hash,
            disabled: r.disabled != 0,
            created_at: Timestamp::from_millis(r.created_at),
            updated_at: Timestamp::from_millis(r.updated_at),
        })
    }
}

pub async fn insert_user(
    store: &Store,
    new: &NewUser<'_>,
    now: Timestamp,
) -> Result<User, StoreError> {
    let id = UserId::generate();
    sqlx::query(
        "INSERT INTO users (id, tenant_id, username, display_name, role, password_hash, disabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
    )
    .bind(id.as_str())
    .bind(new.tenant_id.as_str())
    .bind(new.username)
    .bind(new.display_name)
    .bind(new.role.as_str())
    .bind(new.password_hash)
    .bind(now.as_millis())
    .execute(store.pool())
    .await
    .map_err(|e| StoreError::from_insert(e, format!("user '{}'", new.username)))?;
    Ok(User {
        id,
        tenant_id: new.tenant_id.clone(),
        username: new.username.to_owned(),
        display_name: new.display_name.to_owned(),
        role: new.role,
        password_hash: new.password_hash.to_owned(),
        disabled: false,
        created_at: now,
        updated_at: now,
    })
}

pub async fn find_user_by_username(
    store: &Store,
    tenant: &TenantId,
    username: &str,
) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_id = $1 AND u.username = $2"
    ))
    .bind(tenant.as_str())
    .bind(username)
    .fetch_optional(store.pool())
    .await?;
    row.map(User::try_from).transpose()
}

pub async fn get_user(
    store: &Store,
    tenant: &TenantId,
    id: &UserId,
) -> Result<Option<User>, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_id = $1 AND u.id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await?;
    row.map(User::try_from).transpose()
}

pub async fn list_users(store: &Store, tenant: &TenantId) -> Result<Vec<User>, StoreError> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.tenant_id = $1 ORDER BY u.username"
    ))
    .bind(tenant.as_str())
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(User::try_from).collect()
}

pub async fn count_users(store: &Store, tenant: &TenantId) -> Result<i64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_one(store.pool())
        .await?;
    Ok(n)
}

/// Replaces the password hash; returns `NotFound` when no such user exists.
pub async fn set_password_hash(
    store: &Store,
    tenant: &TenantId,
    username: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE users SET password_hash = $1, updated_at = $2 WHERE tenant_id = $3 AND username = $4",
    )
    .bind(password_hash)
    .bind(now.as_millis())
    .bind(tenant.as_str())
    .bind(username)
    .execute(store.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("user '{username}'"),
        });
    }
    Ok(())
}
