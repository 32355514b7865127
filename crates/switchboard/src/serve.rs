//! `switchboard serve`: open and migrate the store, create the first admin if needed, bind the
//! listeners, and run until SIGINT/SIGTERM, then finish in-flight requests and close the store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::{Clock, SystemClock, TenantId, ThrottlePolicy};
use switchboard_crm::{ApiSettings, ApiState};
use switchboard_store::{Store, StoreError};
use tokio::net::TcpListener;

use crate::bootstrap::{self, BootstrapError, DEFAULT_TENANT};
use crate::config::Config;
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("first start: {0}")]
    Bootstrap(#[from] BootstrapError),
    #[error("cannot listen on {addr} (config key {key}): {source}")]
    Bind {
        key: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sip(#[from] crate::sip_service::SipServiceError),
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("HTTPS ({key}): {source}", key = .source.key())]
    Tls {
        #[from]
        source: crate::https::TlsError,
    },
}

pub fn api_settings(config: &Config) -> ApiSettings {
    ApiSettings {
        token_ttl: config.token_ttl(),
        login_throttle: ThrottlePolicy {
            max_failures: config.auth.login_max_failures,
            window: Duration::from_secs(config.auth.login_window_secs),
            lockout: Duration::from_secs(config.auth.login_lockout_secs),
            ..ThrottlePolicy::default()
        },
        default_tenant: TenantId::from(DEFAULT_TENANT),
    }
}

/// How often `serve` runs the ticket clock (overdue flags, escalations).
const TICKET_SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The ticket clock's figures from `[tickets]` (and the call-back SLA for the follow-up call).
pub fn ticket_policy(config: &Config) -> switchboard_crm::tickets::TicketPolicy {
    switchboard_crm::tickets::TicketPolicy::from_hours(
        config.tickets.reply_within_hours,
        config.tickets.escalate_after_hours,
        config.tickets.escalation_ladder.clone(),
        config.campaign.callback_sla_days,
    )
}

/// The campaign rules of `[campaign]`; the rest windows were checked to leave calling time
/// when the config was loaded (the service rules' default otherwise).
pub fn campaign_settings(config: &Config) -> switchboard_crm::campaigns::CampaignSettings {
    use switchboard_campaign::attempts::RetryPolicy;
    use switchboard_campaign::calling::CallingPolicy;
    use switchboard_campaign::outcome::EffectiveRule;
    let c = &config.campaign;
    let calling = CallingPolicy::new(c.rest_windows.clone(), []).unwrap_or_default();
    switchboard_crm::campaigns::CampaignSettings {
        calling,
        retry: RetryPolicy {
            busy_retry: Duration::from_secs(u64::from(c.busy_retry_minutes) * 60),
            abandoned_rest: Duration::from_secs(u64::from(c.abandoned_no_redial_hours) * 3600),
            ..RetryPolicy::default()
        },
        effective: EffectiveRule {
            min_talk: switchboard_core::Seconds(c.effective_call_min_secs),
        },
    }
}

/// The quota table of `[quota]`: the call and visit bands come from the quota and its minor
/// floor (under quota: the minor deduction; under the floor: the major one).
pub fn quota_table(config: &Config) -> switchboard_campaign::quota::QuotaTable {
    use switchboard_campaign::quota::{Band, QuotaTable};
    let q = &config.quota;
    let bands = |quota: u32, floor: u32| {
        vec![
            Band {
                below: quota,
                percent: q.deduction_minor_pct,
            },
            Band {
                below: floor,
                percent: q.deduction_major_pct,
            },
        ]
    };
    // Checked 0-100 % at load time, so the basis points fit.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let revenue_share_bp = (q.revenue_bonus_pct * 100.0).round().clamp(0.0, 10_000.0) as u32;
    QuotaTable {
        effective_calls_per_day: q.effective_calls_per_day,
        working_days: q.working_days_per_month,
        callback_visits_per_month: q.visits_from_callback_list_per_month,
        other_visits_per_month: q.visits_from_other_lists_per_month,
        call_deductions: bands(q.effective_calls_per_day, q.calls_minor_floor),
        visit_deductions: bands(q.visits_from_callback_list_per_month, q.visits_minor_floor),
        calls_per_bonus_unit: q.bonus_calls_per_unit,
        revenue_share_bp,
    }
}

/// The shifts of `[shifts]`; the time zone was checked when the config was loaded.
pub fn shift_policy(config: &Config) -> switchboard_crm::shifts::ShiftPolicy {
    use switchboard_crm::shifts::{ShiftPattern, ShiftPolicy};
    ShiftPolicy {
        time_zone: config
            .shifts
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::Asia::Shanghai),
        patterns: config
            .shifts
            .patterns
            .iter()
            .map(|p| ShiftPattern {
                name: p.name.clone(),
                window: p.window,
            })
            .collect(),
    }
}

/// Opens the configured database and applies pending migrations.
pub async fn open_store(config: &Config) -> Result<Store, StoreError> {
    let store = Store::connect(&config.database.url).await?;
    store.migrate().await?;
    Ok(store)
}

pub async fn run(config: Config) -> Result<(), ServeError> {
    // Listen for SIGTERM/SIGINT before anything else: a signal that arrives while the server
    // is still starting must stop it cleanly, not kill it with the default action.
    let stop_signal = ShutdownSignal::install();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = open_store(&config).await?;
    tracing::info!(engine = ?store.engine(), "database ready");

    if let Some(admin) = bootstrap::ensure_admin(&store, &config.var_dir(), clock.now()).await? {
        // Printed once, to the terminal only: logs never carry secrets.
        println!(
            "\n  First start: created user '{}' with password: {}\n  (also written to {}, readable by this user only)\n",
            bootstrap::ADMIN_USERNAME,
            admin.password,
            admin.password_file.display()
        );
    }

    crate::recovery::recover(&config, &store).await;
    // Customer imports the previous process was writing cannot finish: say so, never "running".
    match switchboard_crm::api::imports::fail_interrupted(&store, clock.now()).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            imports = n,
            "customer imports interrupted by the stop marked failed"
        ),
        Err(e) => tracing::error!(error = %e, "marking interrupted customer imports failed"),
    }

    let metrics = Metrics::new();
    metrics.up_since_seconds.set(clock.now().as_millis() / 1000);
    let api = ApiState::new(store.clone(), clock.clone(), api_settings(&config));
    let (live, live_rx) = switchboard_crm::live::live_channel(256);
    let api = api
        .with_live(live.clone())
        .with_ticket_policy(ticket_policy(&config))
        .with_shifts(shift_policy(&config))
        .with_quota_table(quota_table(&config))
        .with_campaign_settings(campaign_settings(&config))
        .with_recordings_root(config.storage.recordings_dir.clone())
        .with_tenant_rate_limit(switchboard_core::RateLimit {
            per_second: f64::from(config.auth.api_rate_per_sec),
            burst: f64::from(config.auth.api_rate_burst),
        });
    // Ticket clock sweep, webhook delivery and the campaign triggers run beside HTTP and stop before the store closes.
    let (background_stop, background_rx) = tokio::sync::watch::channel(false);
    let mut background = vec![
        switchboard_crm::tickets::spawn_sweeper(
            store.clone(),
            clock.clone(),
            api.tickets.clone(),
            TICKET_SWEEP_EVERY,
            background_rx.clone(),
        ),
        switchboard_crm::webhooks::spawn_worker(
            store.clone(),
            clock.clone(),
            switchboard_crm::webhooks::WorkerSettings::default(),
            background_rx.clone(),
        ),
        crate::campaign_driver::spawn(
            store.clone(),
            clock.clone(),
            crate::campaign_driver::trigger_config(&config.campaign),
            crate::campaign_driver::TICK_EVERY,
            background_rx.clone(),
        ),
        // Recordings past their tenant's retention: audio deleted, rows marked, once a day.
        switchboard_crm::retention::spawn(
            store.clone(),
            clock.clone(),
            config.storage.recordings_dir.clone(),
            switchboard_crm::retention::RUN_EVERY,
            background_rx.clone(),
        ),
    ];
    if let Some(schedule) = backup_schedule(&config) {
        tracing::info!(dir = %schedule.dir.display(), time = %config.backup.time, keep = schedule.keep, "daily backup on");
        background.push(crate::backup_schedule::spawn(
            store.clone(),
            clock.clone(),
            schedule,
            background_rx,
        ));
    }
    let sip = crate::sip_service::SipService::start(
        &config,
        store.clone(),
        clock.clone(),
        metrics.sip_transport.clone(),
        metrics.calls.clone(),
        Some(live_rx),
    )
    .await?;
    // The wallboards' push: the call control's change signal, known once it runs.
    let api = api.with_live(live.with_floor(sip.floor_changes()));
    let app =
        crate::http::app(api, metrics, config.http.max_body_bytes).merge(crate::sip_ws::router(
            sip.ws_transport(),
            crate::sip_ws::WsSettings::from_config(&config),
        ));

    let listener = TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| ServeError::Bind {
            key: "http.listen",
            addr: config.http.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(ServeError::Http)?;
    let tls = match (&config.http.tls_cert_file, &config.http.tls_key_file) {
        (Some(cert), Some(key)) => Some(crate::https::acceptor(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(addr = %local, scheme, "HTTP listening (console /, API /api/v1, SIP over WebSocket /sip, /metrics, /healthz)");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = match tls {
        Some(tls) => tokio::spawn(crate::https::serve(listener, tls, app, stop_rx)),
        None => tokio::spawn(
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .into_future(),
        ),
    };
    tokio::pin!(server);

    let result = tokio::select! {
        finished = &mut server => finished_early(finished),
        signal = stop_signal.recv() => {
            tracing::info!(%signal, "stopping: finishing in-flight requests");
            let _ = stop_tx.send(());
            let grace = Duration::from_secs(config.http.shutdown_grace_secs);
            match tokio::time::timeout(grace, &mut server).await {
                Ok(finished) => finished_early(finished),
                Err(_) => {
                    tracing::warn!(?grace, "requests still open after the grace period; closing them");
                    server.abort();
                    Ok(())
                }
            }
        }
    };
    sip.shutdown().await;
    let _ = background_stop.send(true);
    for mut task in background {
        // A delivery in flight gets a moment to finish; an unrecorded one is simply resent.
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
    store.close().await;
    tracing::info!("stopped");
    result
}

fn finished_early(
    joined: Result<Result<(), std::io::Error>, tokio::task::JoinError>,
) -> Result<(), ServeError> {
    match joined {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ServeError::Http(e)),
        Err(e) => Err(ServeError::Http(std::io::Error::other(e.to_string()))),
    }
}

/// SIGINT and SIGTERM, listened for from the moment it is installed (a signal that comes
/// before [`ShutdownSignal::recv`] is polled is kept, not lost).
struct ShutdownSignal {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    fn install() -> ShutdownSignal {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            ShutdownSignal {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        ShutdownSignal {}
    }

    /// Resolves with the signal's name.
    async fn recv(mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(&mut self.term) => "SIGTERM",
                () = next(&mut self.int) => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// The daily backup's settings, when `backup.dir` is set (validated at load).
fn backup_schedule(config: &Config) -> Option<crate::backup_schedule::Schedule> {
    if config.backup.dir.as_os_str().is_empty() {
        return None;
    }
    Some(crate::backup_schedule::Schedule {
        dir: config.backup.dir.clone(),
        minute_of_day: crate::backup_schedule::parse_time_of_day(&config.backup.time)?,
        keep: config.backup.keep as usize,
        database_url: config.database.url.clone(),
        recordings_dir: config.storage.recordings_dir.clone(),
        copy_to: config.backup.copy_target(),
    })
}
