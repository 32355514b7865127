//! First start: the default tenant and an `admin` account with a random password, printed once
//! and written to `<var_dir>/initial-admin-password` (mode 0600). There are no default passwords.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;
use switchboard_core::{Role, TenantId, Timestamp};
use switchboard_crm::password::{self, PasswordError};
use switchboard_store::users::NewUser;
use switchboard_store::{Store, StoreError, audit, tenants, users};

pub const DEFAULT_TENANT: &str = "default";
pub const ADMIN_USERNAME: &str = "admin";
pub const PASSWORD_FILE: &str = "initial-admin-password";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// What the first start created.
#[derive(Debug)]
pub struct CreatedAdmin {
    pub password: String,
    pub password_file: PathBuf,
}

/// Creates the default tenant if missing; creates `admin` when the tenant has no user at all.
pub async fn ensure_default_tenant(store: &Store, now: Timestamp) -> Result<TenantId, StoreError> {
    let tenant = TenantId::from(DEFAULT_TENANT);
    tenants::ensure_tenant(store, &tenant, "Default", now).await?;
    Ok(tenant)
}

pub async fn ensure_admin(
    store: &Store,
    var_dir: &Path,
    now: Timestamp,
) -> Result<Option<CreatedAdmin>, BootstrapError> {
    let tenant = ensure_default_tenant(store, now).await?;
    if users::count_users(store, &tenant).await? > 0 {
        return Ok(None);
    }
    let password = password::generate_password();
    let hash = password::hash_password(&password)?;
    let created = users::insert_user(
        store,
        &NewUser {
            tenant_id: &tenant,
            username: ADMIN_USERNAME,
            display_name: "Administrator",
            role: Role::Admin,
            password_hash: &hash,
        },
        now,
    )
    .await;
    let admin = match created {
        Ok(u) => u,
        // Another node sharing the database created it first.
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    audit::append(
        store,
        &tenant,
        None,
        "user.bootstrap_admin",
        admin.id.as_str(),
        &json!({}),
        now,
    )
    .await?;
    let password_file = var_dir.join(PASSWORD_FILE);
    write_secret(&password_file, &password)?;
    Ok(Some(CreatedAdmin {
        password,
        password_file,
    }))
}

/// Writes `secret` readable by the owner only.
fn write_secret(path: &Path, secret: &str) -> Result<(), BootstrapError> {
    let err = |source| BootstrapError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    // The mode above applies only when the file is new; make sure of it in every case.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    writeln!(file, "{secret}").map_err(err)?;
    Ok(())
}
