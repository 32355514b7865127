//! SIP credentials (digest HA1 values, never passwords) and registrar bindings, the latter kept
//! so that a restart does not forget who is registered.

use switchboard_core::{TenantId, Timestamp, UserId};

use crate::{Store, StoreError};

/// The digest secrets of one SIP username in one realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipCredential {
    pub id: String,
    pub tenant_id: TenantId,
    /// The login user the phone belongs to, if any (trunks have none).
    pub user_id: Option<UserId>,
    /// The digest username (for agents: their extension).
    pub username: String,
    pub realm: String,
    pub extension: Option<String>,
    /// `MD5(username:realm:password)`, lowercase hex.
    pub ha1_md5: String,
    /// `SHA-256(username:realm:password)`, lowercase hex (RFC 8760).
    pub ha1_sha256: String,
    pub created_at: Timestamp,
}

/// What [`upsert_credential`] writes.
#[derive(Debug, Clone)]
pub struct NewSipCredential<'a> {
    pub tenant_id: &'a TenantId,
    pub user_id: Option<&'a UserId>,
    pub username: &'a str,
    pub realm: &'a str,
    pub extension: Option<&'a str>,
    pub ha1_md5: &'a str,
    pub ha1_sha256: &'a str,
}

const CREDENTIAL_COLUMNS: &str =
    "id, tenant_id, user_id, username, realm, extension, ha1_md5, ha1_sha256, created_at";

#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: String,
    tenant_id: String,
    user_id: Option<String>,
    username: String,
    realm: String,
    extension: Option<String>,
    ha1_md5: String,
    ha1_sha256: String,
    created_at: i64,
}

impl From<CredentialRow> for SipCredential {
    fn from(r: CredentialRow) -> Self {
        SipCredential {
            id: r.id,
            tenant_id: r.tenant_id.into(),
            user_id: r.user_id.map(UserId::from),
            username: r.username,
            realm: r.realm,
            extension: r.extension,
            ha1_md5: r.ha1_md5,
            ha1_sha256: r.ha1_sha256,
            created_at: Timestamp::from_millis(r.created_at),
        }
    }
}

/// Creates the credential for realm+username, or replaces its HA1 values, user and extension.
/// A username held by another tenant in the same realm is a `Conflict`, never taken over.
pub async fn upsert_credential(
    store: &Store,
    new: &NewSipCredential<'_>,
    now: Timestamp,
) -> Result<SipCredential, StoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let done = sqlx::query(
        "INSERT INTO sip_credentials (id, tenant_id, user_id, username, realm, extension, ha1_md5, ha1_sha256, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (realm, username) DO UPDATE SET
             user_id = excluded.user_id, extension = excluded.extension,
             ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256
         WHERE sip_credentials.tenant_id = excluded.tenant_id",
    )
    .bind(&id)
    .bind(new.tenant_id.as_str())
    .bind(new.user_id.map(UserId::as_str))
    .bind(new.username)
    .bind(new.realm)
    .bind(new.extension)
    .bind(new.ha1_md5)
    .bind(new.ha1_sha256)
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    let what = || format!("SIP user '{}' in realm '{}'", new.username, new.realm);
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict { what: what() });
    }
    find_credential(store, new.realm, new.username)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: what() })
}

/// The credential the registrar checks a REGISTER against.
pub async fn find_credential(
    store: &Store,
    realm: &str,
    username: &str,
) -> Result<Option<SipCredential>, StoreError> {
    let row: Option<CredentialRow> = sqlx::query_as(&format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM sip_credentials WHERE realm = $1 AND username = $2"
    ))
    .bind(realm)
    .bind(username)
    .fetch_optional(store.pool())
    .await?;
    Ok(row.map(SipCredential::from))
}

/// Every credential of a tenant, by username.
pub async fn list_credentials(
    store: &Store,
    tenant: &TenantId,
) -> Result<Vec<SipCredential>, StoreError> {
    let rows: Vec<CredentialRow> = sqlx::query_as(&format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM sip_credentials WHERE tenant_id = $1 ORDER BY realm, username"
    ))
    .bind(tenant.as_str())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(SipCredential::from).collect())
}

/// The credentials that belong to one login user (to update them when the password changes).
pub async fn credentials_of_user(
    store: &Store,
    tenant: &TenantId,
    user: &UserId,
) -> Result<Vec<SipCredential>, StoreError> {
    let rows: Vec<CredentialRow> = sqlx::query_as(&format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM sip_credentials WHERE tenant_id = $1 AND user_id = $2 ORDER BY realm, username"
    ))
    .bind(tenant.as_str())
    .bind(user.as_str())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(SipCredential::from).collect())
}

/// One registered contact of an address-of-record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipBinding {
    pub tenant_id: TenantId,
    /// `sip:1001@domain`.
    pub aor: String,
    /// The contact URI as registered.
    pub contact: String,
    /// `transport:ip:port` the REGISTER came from, e.g. `udp:203.0.113.7:5060`.
    pub source: String,
    pub call_id: String,
    pub cseq: u32,
    pub expires_at: Timestamp,
    /// The node holding the registration (multi-node); `None` on a single node.
    pub node: Option<String>,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct BindingRow {
    tenant_id: String,
    aor: String,
    contact: String,
    source: String,
    call_id: String,
    cseq: i64,
    expires_at: i64,
    node: Option<String>,
    updated_at: i64,
}

impl TryFrom<BindingRow> for SipBinding {
    type Error = StoreError;
    fn try_from(r: BindingRow) -> Result<Self, StoreError> {
        Ok(SipBinding {
            tenant_id: r.tenant_id.into(),
            aor: r.aor,
            contact: r.contact,
            source: r.source,
            call_id: r.call_id,
            cseq: u32::try_from(r.cseq)
                .map_err(|_| StoreError::Corrupt(format!("sip_bindings.cseq {}", r.cseq)))?,
            expires_at: Timestamp::from_millis(r.expires_at),
            node: r.node,
            updated_at: Timestamp::from_millis(r.updated_at),
        })
    }
}

const BINDING_COLUMNS: &str =
    "tenant_id, aor, contact, source, call_id, cseq, expires_at, node, updated_at";

/// Records a new binding or a refresh of one (same AOR and contact).
pub async fn upsert_binding(store: &Store, b: &SipBinding) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sip_bindings (tenant_id, aor, contact, source, call_id, cseq, expires_at, node, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (aor, contact) DO UPDATE SET
             tenant_id = excluded.tenant_id, source = excluded.source, call_id = excluded.call_id,
             cseq = excluded.cseq, expires_at = excluded.expires_at, node = excluded.node,
             updated_at = excluded.updated_at",
    )
    .bind(b.tenant_id.as_str())
    .bind(&b.aor)
    .bind(&b.contact)
    .bind(&b.source)
    .bind(&b.call_id)
    .bind(i64::from(b.cseq))
    .bind(b.expires_at.as_millis())
    .bind(b.node.as_deref())
    .bind(b.updated_at.as_millis())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Forgets one binding; false if there was none.
pub async fn remove_binding(store: &Store, aor: &str, contact: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM sip_bindings WHERE aor = $1 AND contact = $2")
        .bind(aor)
        .bind(contact)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes bindings expired at `now`; returns how many.
pub async fn remove_expired_bindings(store: &Store, now: Timestamp) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM sip_bindings WHERE expires_at <= $1")
        .bind(now.as_millis())
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected())
}

/// Every binding still valid at `now`, all tenants (what the registrar reloads at start).
pub async fn list_active_bindings(
    store: &Store,
    now: Timestamp,
) -> Result<Vec<SipBinding>, StoreError> {
    let rows: Vec<BindingRow> = sqlx::query_as(&format!(
        "SELECT {BINDING_COLUMNS} FROM sip_bindings WHERE expires_at > $1 ORDER BY aor, contact"
    ))
    .bind(now.as_millis())
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(SipBinding::try_from).collect()
}

/// A tenant's bindings still valid at `now`.
pub async fn list_tenant_bindings(
    store: &Store,
    tenant: &TenantId,
    now: Timestamp,
) -> Result<Vec<SipBinding>, StoreError> {
    let rows: Vec<BindingRow> = sqlx::query_as(&format!(
        "SELECT {BINDING_COLUMNS} FROM sip_bindings WHERE tenant_id = $1 AND expires_at > $2 ORDER BY aor, contact"
    ))
    .bind(tenant.as_str())
    .bind(now.as_millis())
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(SipBinding::try_from).collect()
}
