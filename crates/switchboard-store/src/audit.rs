//! The audit log: who did what to which object, for admin actions, logins and recording access.

use switchboard_core::{TenantId, Timestamp, UserId};

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub tenant_id: TenantId,
    pub actor: Option<UserId>,
    pub action: String,
    pub target: String,
    /// JSON object with action-specific detail.
    pub detail: String,
    pub at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    tenant_id: String,
    actor: Option<String>,
    action: String,
    target: String,
    detail: String,
    at: i64,
}

pub async fn append(
    store: &Store,
    tenant: &TenantId,
    actor: Option<&UserId>,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, actor, action, target, detail, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(tenant.as_str())
    .bind(actor.map(UserId::as_str))
    .bind(action)
    .bind(target)
    .bind(detail.to_string())
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The newest entries first.
pub async fn list(
    store: &Store,
    tenant: &TenantId,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, tenant_id, actor, action, target, detail, at FROM audit_log
         WHERE tenant_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(tenant.as_str())
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            tenant_id: r.tenant_id.into(),
            actor: r.actor.map(UserId::from),
            action: r.action,
            target: r.target,
            detail: r.detail,
            at: Timestamp::from_millis(r.at),
        })
        .collect())
}
