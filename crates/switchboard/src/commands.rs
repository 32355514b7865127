//! The commands other than `serve`: migrations, users, backup and restore, recordings repair.

use std::io::BufRead;
use std::path::Path;

use serde_json::json;
use switchboard_core::{Clock, Extension, SystemClock, TenantId, Timestamp, UserId};
use switchboard_crm::password::{self, PasswordError};
use switchboard_recording::repair::{self, RepairAction, RepairError, RepairReport};
use switchboard_sip::auth::StoredCredential;
use switchboard_store::sip::{self, NewSipCredential};
use switchboard_store::users::NewUser;
use switchboard_store::{StoreError, audit, backup, tenants, tokens, users};

use crate::cli::{Command, RecordingsCommand, UserCommand};
use crate::config::Config;
use crate::exit;
use crate::serve::{self, ServeError};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("{0}")]
    Usage(String),
    #[error("reading standard input: {0}")]
    Stdin(std::io::Error),
    #[error("recordings: {0}")]
    Repair(#[from] RepairError),
    #[error("{failed} recording(s) could not be repaired")]
    RecordingsNotRepaired { failed: usize },
    #[error("{damaged} recording(s) are missing or damaged and were not backed up")]
    RecordingsDamaged { damaged: usize },
}

impl CommandError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Usage(_) => exit::BAD_CONFIG_OR_USAGE,
            _ => exit::RUNTIME,
        }
    }
}

pub async fn dispatch(
    command: Command,
    config_path: &Path,
    config: Config,
) -> Result<(), CommandError> {
    match command {
        Command::Serve => Ok(serve::run(config).await?),
        Command::CheckConfig => {
            println!(
                "config OK: {} (HTTP {}, SIP udp {} tcp {}, database {})",
                config_path.display(),
                config.http.listen,
                config.sip.udp_listen,
                config.sip.tcp_listen,
                switchboard_store::redact_url(&config.database.url)
            );
            Ok(())
        }
        Command::Migrate => {
            let store = serve::open_store(&config).await?;
            crate::bootstrap::ensure_default_tenant(&store, SystemClock.now()).await?;
            println!("database migrated ({:?})", store.engine());
            store.close().await;
            Ok(())
        }
        Command::User(cmd) => user(cmd, &config).await,
        Command::Backup { dir } => {
            let store = serve::open_store(&config).await?;
            let recordings = &config.storage.recordings_dir;
            let report = backup::create_backup(
                &store,
                &config.database.url,
                Some(recordings.as_path()),
                &dir,
                SystemClock.now(),
            )
            .await;
            store.close().await;
            let report = report?;
            print_backup_report(&dir, &report);
            match report.damaged.len() {
                0 => Ok(()),
                damaged => Err(CommandError::RecordingsDamaged { damaged }),
            }
        }
        Command::Restore { dir } => {
            let report = backup::restore_backup(
                &dir,
                &config.database.url,
                Some(config.storage.recordings_dir.as_path()),
                SystemClock.now(),
            )
            .await?;
            println!(
                "restored {} and {} recording file(s) from {} (backup of {})",
                report.restored_to,
                report.recordings_written,
                dir.display(),
                report.manifest.created_at
            );
            if let Some(kept) = report.previous_kept_at {
                println!("the replaced database was kept as {}", kept.display());
            }
            Ok(())
        }
        Command::Recordings(RecordingsCommand::Repair) => {
            // Blocking file IO over a tree of any size; the CLI runtime runs nothing else.
            let report = tokio::task::block_in_place(|| repair_recordings(&config))?;
            print_repair_report(&config.storage.recordings_dir, &report);
            match report.failed.len() {
                0 => Ok(()),
                failed => Err(CommandError::RecordingsNotRepaired { failed }),
            }
        }
    }
}

/// Repairs every WAV under `storage.recordings_dir` that a crash left with a stale header or a
/// partial last frame. `serve` runs it at start, before recording anything, and the
/// `recordings repair` command runs it on demand. Blocking file IO: call it from a blocking
/// thread. Errors only when the tree itself cannot be read; a bad file is listed in the report.
pub fn repair_recordings(config: &Config) -> Result<RepairReport, RepairError> {
    repair::repair_all(&config.storage.recordings_dir)
}

/// One line per file repaired or not repairable (paths relative to the root), then the total.
fn print_repair_report(root: &Path, report: &RepairReport) {
    let shown = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    for (path, action) in &report.repaired {
        if let RepairAction::Repaired {
            declared_data_bytes,
            data_bytes,
            trimmed_bytes,
        } = action
        {
            println!(
                "repaired {}: data {declared_data_bytes} -> {data_bytes} bytes, {trimmed_bytes} byte(s) of partial frame trimmed",
                shown(path)
            );
        }
    }
    for (path, error) in &report.failed {
        eprintln!("could not repair {}: {error}", shown(path));
    }
    println!(
        "recordings in {}: {} repaired, {} already valid, {} could not be repaired",
        root.display(),
        report.repaired.len(),
        report.valid,
        report.failed.len()
    );
}

async fn user(cmd: UserCommand, config: &Config) -> Result<(), CommandError> {
    let store = serve::open_store(config).await?;
    let now = SystemClock.now();
    crate::bootstrap::ensure_default_tenant(&store, now).await?;
    let result = async {
        match cmd {
            UserCommand::Add {
                username,
                role,
                name,
                tenant,
                extension,
                password_stdin,
            } => {
                let tenant = existing_tenant(&store, &tenant).await?;
                if !switchboard_crm::api::valid_username(&username) {
                    return Err(CommandError::Usage(
                        "username must be 1-64 letters, digits, '.', '_' or '-'".into(),
                    ));
                }
                let realm = config.sip.domain.as_str();
                let extension = match extension {
                    Some(e) => Some(free_extension(&store, realm, &e).await?),
                    None => None,
                };
                let (password, generated) = new_password(password_stdin)?;
                let hash = password::hash_password(&password)?;
                let display = name.unwrap_or_else(|| username.clone());
                let user = users::insert_user(
                    &store,
                    &NewUser {
                        tenant_id: &tenant,
                        username: &username,
                        display_name: &display,
                        role,
                        password_hash: &hash,
                    },
                    now,
                )
                .await?;
                audit::append(
                    &store,
                    &tenant,
                    None,
                    "user.create",
                    user.id.as_str(),
                    &json!({ "role": role, "via": "cli" }),
                    now,
                )
                .await?;
                println!("created user '{username}' ({role}) in tenant '{tenant}'");
                if let Some(ext) = &extension {
                    let secrets = StoredCredential::from_password(ext.as_str(), realm, &password);
                    save_sip_credential(
                        &store,
                        &tenant,
                        &user.id,
                        ext.as_str(),
                        realm,
                        &secrets,
                        now,
                    )
                    .await?;
                    println!("SIP: registers as {ext}@{realm} with the same password");
                }
                if generated {
                    println!("password: {password}");
                }
                Ok(())
            }
            UserCommand::List { tenant } => {
                let tenant = existing_tenant(&store, &tenant).await?;
                let list = users::list_users(&store, &tenant).await?;
                println!(
                    "{:<24} {:<12} {:<8} DISPLAY NAME",
                    "USERNAME", "ROLE", "STATE"
                );
                for u in list {
                    let state = if u.disabled { "disabled" } else { "active" };
                    println!(
                        "{:<24} {:<12} {:<8} {}",
                        u.username,
                        u.role.as_str(),
                        state,
                        u.display_name
                    );
                }
                Ok(())
            }
            UserCommand::Passwd {
                username,
                tenant,
                password_stdin,
            } => {
                let tenant = existing_tenant(&store, &tenant).await?;
                let user = users::find_user_by_username(&store, &tenant, &username)
                    .await?
                    .ok_or_else(|| {
                        CommandError::Usage(format!("no user '{username}' in tenant '{tenant}'"))
                    })?;
                let (password, generated) = new_password(password_stdin)?;
                let hash = password::hash_password(&password)?;
                users::set_password_hash(&store, &tenant, &username, &hash, now).await?;
                // The phone's digest secrets follow the password; the password itself is
                // never stored.
                for c in sip::credentials_of_user(&store, &tenant, &user.id).await? {
                    let secrets = StoredCredential::from_password(&c.username, &c.realm, &password);
                    let ext = c.extension.as_deref().unwrap_or(&c.username);
                    save_sip_credential(&store, &tenant, &user.id, ext, &c.realm, &secrets, now)
                        .await?;
                }
                let revoked = tokens::revoke_user_tokens(&store, &tenant, &user.id, now).await?;
                audit::append(
                    &store,
                    &tenant,
                    None,
                    "user.passwd",
                    user.id.as_str(),
                    &json!({ "via": "cli" }),
                    now,
                )
                .await?;
                println!("password of '{username}' changed; {revoked} session(s) signed out");
                if generated {
                    println!("password: {password}");
                }
                Ok(())
            }
        }
    }
    .await;
    store.close().await;
    result
}

/// A valid extension not yet registered in `realm`.
async fn free_extension(
    store: &switchboard_store::Store,
    realm: &str,
    extension: &str,
) -> Result<Extension, CommandError> {
    let ext = Extension::parse(extension).map_err(|_| {
        CommandError::Usage(format!("--extension '{extension}': use 2 to 8 digits"))
    })?;
    if sip::find_credential(store, realm, ext.as_str())
        .await?
        .is_some()
    {
        return Err(CommandError::Usage(format!(
            "--extension {ext}: already in use in realm '{realm}'"
        )));
    }
    Ok(ext)
}

/// Writes the SIP credential of an agent's extension (the digest username is the extension).
async fn save_sip_credential(
    store: &switchboard_store::Store,
    tenant: &TenantId,
    user: &UserId,
    extension: &str,
    realm: &str,
    secrets: &StoredCredential,
    now: Timestamp,
) -> Result<(), CommandError> {
    let (Some(md5), Some(sha256)) = (&secrets.ha1_md5, &secrets.ha1_sha256) else {
        return Err(CommandError::Usage("no digest values computed".into()));
    };
    sip::upsert_credential(
        store,
        &NewSipCredential {
            tenant_id: tenant,
            user_id: Some(user),
            username: extension,
            realm,
            extension: Some(extension),
            ha1_md5: md5,
            ha1_sha256: sha256,
        },
        now,
    )
    .await?;
    Ok(())
}

async fn existing_tenant(
    store: &switchboard_store::Store,
    name: &str,
) -> Result<TenantId, CommandError> {
    let id = TenantId::from(name);
    match tenants::get_tenant(store, &id).await? {
        Some(_) => Ok(id),
        None => Err(CommandError::Usage(format!("no tenant '{name}'"))),
    }
}

/// From stdin's first line, or a generated one (then `true`).
fn new_password(from_stdin: bool) -> Result<(String, bool), CommandError> {
    if !from_stdin {
        return Ok((password::generate_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(CommandError::Stdin)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok((password, false))
}

/// What `backup` wrote, and every recording it could not take, one line each.
pub(crate) fn print_backup_report(dir: &Path, report: &backup::BackupReport) {
    let m = &report.manifest;
    let rows: i64 = m.row_counts.values().sum();
    let bytes: u64 = m.recordings.iter().map(|r| r.size).sum();
    println!(
        "backup written to {} ({} database, {rows} rows, sha256 {}; {} recording(s), {bytes} bytes, each checked against its stored SHA-256; {} still recording, left for the next backup)",
        dir.display(),
        m.engine,
        m.sha256,
        m.recordings.len(),
        m.recordings_in_progress
    );
    for d in &report.damaged {
        eprintln!("recording {} not backed up: {}", d.path, d.problem);
    }
}
