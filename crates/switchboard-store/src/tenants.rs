//! Tenants: the customer organisations that share one Switchboard.

use switchboard_core::{TenantId, Timestamp};

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    created_at: i64,
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Self {
        Tenant {
            id: r.id.into(),
            name: r.name,
            created_at: Timestamp::from_millis(r.created_at),
        }
    }
}

/// Creates the tenant if it does not exist yet; returns whether it was created.
pub async fn ensure_tenant(
    store: &Store,
    id: &TenantId,
    name: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(name)
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_tenant(store: &Store, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
    let row: Option<TenantRow> =
        sqlx::query_as("SELECT id, name, created_at FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(store.pool())
            .await?;
    Ok(row.map(Tenant::from))
}

pub async fn list_tenants(store: &Store) -> Result<Vec<Tenant>, StoreError> {
    let rows: Vec<TenantRow> =
        sqlx::query_as("SELECT id, name, created_at FROM tenants ORDER BY id")
            .fetch_all(store.pool())
            .await?;
    Ok(rows.into_iter().map(Tenant::from).collect())
}
