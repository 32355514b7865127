//! SIP in the server: the UDP/TCP driver, and the transaction user ([`crate::sip_tu`]) that
//! runs the registrar and the B2BUA with its media relays and call records.
//!
//! At start the stored bindings are restored (a restart does not forget who is registered)
//! and calls a crash left open are closed with cause `server-restart`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::{Clock, TenantId};
use switchboard_media::bridge::BridgeConfig;
use switchboard_media::playout::PlayoutSource;
use switchboard_media::ports::PortAllocator;
use switchboard_media::relay::RelayConfig;
use switchboard_media::webrtc_leg::{WebRtcConfig, WebRtcLegs, WebRtcRuntime};
use switchboard_recording::{FilesError, Layout, RecordingFiles};
use switchboard_sip::auth::{Algorithm, AuthConfig, Authenticator, LockoutPolicy};
use switchboard_sip::b2bua::{B2bua, B2buaConfig};
use switchboard_sip::driver::{
    Counters, DriverConfig, DriverError, SipDriver, WsLimits, WsTransport,
};
use switchboard_sip::message::Uri;
use switchboard_sip::registrar::{Binding, Registrar, RegistrarConfig};
use switchboard_store::calls as call_store;
use switchboard_store::sip::{self as sip_store, SipBinding};
use switchboard_store::{Store, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::metrics::CallMetrics;
use crate::sip_tu::dialing::{Dialing, DialingSettings};
use crate::sip_tu::media_plane::{MediaSettings, RelayPlane};
use crate::sip_tu::queueing::Queueing;
use crate::sip_tu::{SipTu, SipTuParts, advertised_host, parse_source, records};

/// Why the SIP service could not start.
#[derive(Debug, thiserror::Error)]
pub enum SipServiceError {
    #[error("SIP transport: {0}")]
    Driver(#[from] DriverError),
    #[error("loading registrations: {0}")]
    Store(#[from] StoreError),
    #[error("config key 'sip.digest_algorithms': {0}")]
    Algorithms(String),
    #[error("config key 'rtp.port_min': {0}")]
    Ports(#[from] switchboard_media::ports::PortError),
    #[error("config key 'calls.music_on_hold': {0}")]
    MusicOnHold(#[from] switchboard_media::playout::PlayoutError),
    #[error("config key 'calls.callback_prompt': {0}")]
    Prompt(String),
    #[error("config key 'dialer.abandon_message_wav': {0}")]
    AbandonMessage(switchboard_media::playout::PlayoutError),
    #[error("config key 'dialer.caller_id': {0}")]
    DialerCallerId(String),
    #[error("starting the WebRTC media runtime: {0}")]
    WebRtc(std::io::Error),
    #[error("config key 'cluster.node': {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("config key 'storage.recordings_dir': {0}")]
    Recordings(#[from] FilesError),
}

/// The running SIP side of the server.
#[derive(Debug)]
pub struct SipService {
    driver: SipDriver,
    tu: JoinHandle<()>,
    records: JoinHandle<()>,
    floor: switchboard_crm::live::FloorChanges,
    cluster: Option<crate::cluster::Cluster>,
}

impl SipService {
    /// Binds `sip.udp_listen` and `sip.tcp_listen`, restores the stored bindings and starts the
    /// registrar.
    pub async fn start(
        config: &Config,
        store: Store,
        clock: Arc<dyn Clock>,
        counters: Arc<Counters>,
        metrics: CallMetrics,
        live: Option<switchboard_crm::live::LiveReceiver>,
    ) -> Result<SipService, SipServiceError> {
        let mut registrar = Registrar::new(registrar_config(config), authenticator(config)?);
        let now = clock.now();
        let stored = sip_store::list_active_bindings(&store, now).await?;
        let mut tenants = HashMap::new();
        let mut restored = Vec::new();
        for b in stored {
            match to_binding(&b) {
                Some(binding) => {
                    tenants.insert(b.aor.clone(), b.tenant_id.clone());
                    restored.push(binding);
                }
                None => tracing::warn!(aor = %b.aor, "stored SIP binding unreadable; skipped"),
            }
        }
        let count = restored.len();
        registrar.restore(restored, now);
        sip_store::remove_expired_bindings(&store, now).await?;

        let mut queueing = Queueing::new(&config.acd.not_ready_reasons);
        queueing.reload(&store, now).await?;
        queueing.restore_agents(&store, now).await?;

        // In a cluster only this node's calls are this node's to close; the others are live.
        let node = (!config.cluster.node.is_empty()).then(|| config.cluster.node.clone());
        let closed =
            call_store::close_open_calls(&store, node.as_deref(), "server-restart", now).await?;
        if closed > 0 {
            tracing::warn!(
                closed,
                "calls left open by an unclean stop closed as server-restart"
            );
        }

        let mut driver_config = DriverConfig::new(config.sip.udp_listen, config.sip.tcp_listen);
        driver_config.ws = WsLimits {
            max_connections: config.sip.ws_max_connections.max(1),
            ..WsLimits::default()
        };
        driver_config.source_limits = switchboard_sip::admission::SourceLimits {
            rate: switchboard_core::RateLimit {
                per_second: f64::from(config.sip.source_rate_per_sec),
                burst: f64::from(config.sip.source_rate_burst),
            },
            ..Default::default()
        };
        // The trunks carry every customer's calls, and the proxies in front of a cluster every
        // phone's: never limited.
        driver_config.source_limit_exempt = config
            .trunk
            .inbound_from
            .iter()
            .chain(&config.sip.trusted_proxies)
            .copied()
            .collect();
        let (mut driver, events) = SipDriver::start(driver_config, counters).await?;
        let closed_flows = driver.closed_flows();
        tracing::info!(restored = count, "SIP registrar ready");

        let (records_tx, records) = records::spawn(store.clone(), node.clone());
        let (cluster, cluster_link) = match node {
            Some(_) => {
                let (cluster, link) = crate::cluster::Cluster::start(
                    &config.cluster,
                    &config.database.url,
                    store.clone(),
                    clock.clone(),
                )
                .await?;
                tracing::info!(node = %link.node, "cluster node: sharing agents and registrations with the other nodes");
                (Some(cluster), Some(link))
            }
            None => (None, None),
        };
        let dialing = dialing(config, &store, &clock)?;
        let ports = Arc::new(Mutex::new(PortAllocator::new(
            config.rtp.port_min..=config.rtp.port_max,
        )?));
        let _ = metrics.rtp_ports.set(ports.clone());
        // Browsers' legs: host candidates on the RTP address, ports from the same range, on a
        // runtime of their own (the media plane waits for them synchronously).
        let webrtc = WebRtcLegs::new(
            WebRtcConfig {
                bind_ip: config.rtp.address,
                ..WebRtcConfig::default()
            },
            ports.clone(),
            WebRtcRuntime::dedicated(1).map_err(SipServiceError::WebRtc)?,
        );
        let (media_events_tx, media_events) = mpsc::channel(4096);
        let media = RelayPlane::new(
            MediaSettings {
                address: config.rtp.address,
                relay: RelayConfig {
                    bind_ip: config.rtp.address,
                    bridge: BridgeConfig {
                        media_timeout: Duration::from_secs(config.rtp.media_timeout_secs),
                        ..BridgeConfig::default()
                    },
                },
                recordings: match config.calls.record {
                    true => Some(RecordingFiles::start(
                        Layout::new(config.storage.recordings_dir.clone()),
                        RECORDING_THREADS,
                    )?),
                    false => None,
                },
                music_on_hold: Arc::new(music_on_hold(config)?),
                callback_prompt: Arc::new(callback_prompt(config)?),
                webrtc: Some(webrtc),
            },
            ports,
            clock.clone(),
            media_events_tx,
            records_tx.clone(),
        );
        let b2bua = B2bua::new(B2buaConfig {
            domain: config.sip.domain.clone(),
            advertised_host: advertised_host(config),
            udp_port: driver.udp_addr().port(),
            tcp_port: driver.tcp_addr().port(),
            ring_timeout: Duration::from_secs(config.calls.ring_timeout_secs),
            max_calls: config.calls.max_calls,
            user_agent: format!("Switchboard/{}", env!("CARGO_PKG_VERSION")),
        });
        let floor = switchboard_crm::live::FloorChanges::new();
        let tu = SipTu::new(SipTuParts {
            registrar,
            b2bua,
            call_auth: authenticator(config)?,
            media,
            media_events,
            records: records_tx,
            store,
            clock,
            realm: config.sip.domain.clone(),
            handle: driver.handle(),
            default_tenant: TenantId::from(crate::bootstrap::DEFAULT_TENANT),
            calls: config.calls.clone(),
            trunk: config.trunk.clone(),
            tenants,
            metrics,
            live,
            queueing,
            ws: Some(driver.ws_transport()),
            closed_flows,
            floor: floor.clone(),
            dialing,
            cluster: cluster_link,
            trusted_proxies: config.sip.trusted_proxies.clone(),
        });
        let tu = tokio::spawn(tu.run(events));
        Ok(SipService {
            driver,
            tu,
            records,
            floor,
            cluster,
        })
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.driver.udp_addr()
    }

    /// The bound TCP address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.driver.tcp_addr()
    }

    /// The call control's signal that agents or queues changed (the wallboard's push).
    pub fn floor_changes(&self) -> switchboard_crm::live::FloorChanges {
        self.floor.clone()
    }

    /// Where the HTTP listener's `/sip` route hands its WebSockets.
    pub fn ws_transport(&self) -> WsTransport {
        self.driver.ws_transport()
    }

    /// Stops the listeners and the transaction user. Bindings are already persisted; call
    /// records still queued are written before this returns.
    pub async fn shutdown(self) {
        self.driver.shutdown().await;
        // The TU ends when the driver's event channel closes, hanging up what is left.
        if tokio::time::timeout(Duration::from_secs(2), self.tu)
            .await
            .is_err()
        {
            tracing::warn!("SIP call control did not stop in time");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.records).await;
        if let Some(cluster) = self.cluster {
            cluster.shutdown().await;
        }
    }
}

/// Threads opening and finishing recordings (the syncing has one more). Two keep creating new
/// files going while the other hashes a long call's file at its end.
const RECORDING_THREADS: usize = 2;

/// The built-in abandoned-call message (`prompts/make-dialer-abandoned.sh`).
const DIALER_ABANDONED_WAV: &[u8] = include_bytes!("../prompts/dialer-abandoned.wav");

/// The outbound dialer: its settings (validated here, naming the key) and its driver. `None`
/// with `dialer.enabled = false` or no trunk to call through.
fn dialing(
    config: &Config,
    store: &Store,
    clock: &Arc<dyn Clock>,
) -> Result<Option<Dialing>, SipServiceError> {
    let d = &config.dialer;
    let message = if d.abandon_message_wav.as_os_str().is_empty() {
        PlayoutSource::from_wav_bytes(
            DIALER_ABANDONED_WAV,
            std::path::Path::new("<built-in dialer-abandoned.wav>"),
        )
    } else {
        PlayoutSource::from_wav(&d.abandon_message_wav)
    }
    .map_err(SipServiceError::AbandonMessage)?;
    if !d.enabled || config.trunk.host.is_empty() {
        return Ok(None);
    }
    let caller = if d.caller_id.is_empty() {
        &config.trunk.caller_id
    } else {
        &d.caller_id
    };
    let caller_id = switchboard_core::E164::parse(caller).map_err(|_| {
        SipServiceError::DialerCallerId(format!(
            "the dialer needs a caller ID in E.164 (dialer.caller_id or trunk.caller_id), got '{caller}'"
        ))
    })?;
    let callback_number = if d.callback_number.is_empty() {
        caller_id.clone()
    } else {
        switchboard_core::E164::parse(&d.callback_number).unwrap_or_else(|_| caller_id.clone())
    };
    let settings = DialingSettings {
        caller_id,
        callback_number,
        message_name: if d.abandon_message_wav.as_os_str().is_empty() {
            "built-in".into()
        } else {
            d.abandon_message_wav.display().to_string()
        },
        message: Arc::new(message),
        ring_timeout: Duration::from_secs(d.ring_timeout_secs),
        wrap_up: Duration::from_secs(d.wrap_up_secs),
        preview_auto_dial: (d.preview_auto_dial_secs > 0)
            .then(|| Duration::from_secs(d.preview_auto_dial_secs)),
        day_offset_minutes: d.day_offset_minutes,
    };
    let (commands_tx, commands) = mpsc::channel(64);
    let (events, events_rx) = mpsc::unbounded_channel();
    crate::dialer_driver::spawn(
        store.clone(),
        clock.clone(),
        crate::serve::campaign_settings(config),
        d.day_offset_minutes,
        commands_tx,
        events_rx,
    );
    tracing::info!(ring_secs = d.ring_timeout_secs, "outbound dialer on");
    Ok(Some(Dialing::new(settings, commands, events)))
}

/// The configured music on hold, or a soft 425 Hz beep every 4 s.
fn music_on_hold(config: &Config) -> Result<PlayoutSource, SipServiceError> {
    if config.calls.music_on_hold.as_os_str().is_empty() {
        return Ok(PlayoutSource::tone(425.0, 400, 3600, 4000));
    }
    Ok(PlayoutSource::from_wav(&config.calls.music_on_hold)?)
}

/// The configured call-back offer, or three short 880 Hz beeps.
fn callback_prompt(config: &Config) -> Result<PlayoutSource, SipServiceError> {
    if config.calls.callback_prompt.as_os_str().is_empty() {
        let beep = PlayoutSource::tone(880.0, 150, 150, 6000);
        let mut samples = Vec::new();
        for _ in 0..3 {
            samples.extend_from_slice(beep.samples());
        }
        return Ok(PlayoutSource::from_samples(samples));
    }
    PlayoutSource::from_wav(&config.calls.callback_prompt)
        .map_err(|e| SipServiceError::Prompt(e.to_string()))
}

fn registrar_config(config: &Config) -> RegistrarConfig {
    let min = config.sip.register_min_expires_secs;
    let max = config.sip.register_max_expires_secs.max(min);
    RegistrarConfig {
        min_expires: min,
        max_expires: max,
        default_expires: 3600u32.clamp(min, max),
        trusted_proxies: config.sip.trusted_proxies.clone(),
        ..RegistrarConfig::default()
    }
}

fn authenticator(config: &Config) -> Result<Authenticator, SipServiceError> {
    let mut auth = AuthConfig::new(&config.sip.domain);
    auth.algorithms = digest_algorithms(&config.sip.digest_algorithms)?;
    auth.lockout = LockoutPolicy {
        max_failures: usize::try_from(config.sip.auth_max_failures)
            .unwrap_or(usize::MAX)
            .max(1),
        lock_for: Duration::from_secs(config.sip.auth_lockout_secs),
        ..LockoutPolicy::default()
    };
    Ok(Authenticator::new(auth))
}

fn digest_algorithms(names: &[String]) -> Result<Vec<Algorithm>, SipServiceError> {
    let mut out = Vec::new();
    for name in names {
        let a = Algorithm::parse(Some(name)).map_err(|_| {
            SipServiceError::Algorithms(format!("unknown algorithm '{name}' (use SHA-256, MD5)"))
        })?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(SipServiceError::Algorithms("name at least one".into()));
    }
    Ok(out)
}

fn to_binding(b: &SipBinding) -> Option<Binding> {
    let (transport, source) = parse_source(&b.source)?;
    Some(Binding {
        aor: b.aor.clone(),
        contact: Uri::parse(&b.contact).ok()?,
        expires_at: b.expires_at,
        call_id: b.call_id.clone(),
        cseq: b.cseq,
        source,
        transport,
        user_agent: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip_tu::source_text;
    use switchboard_sip::message::Transport;

    #[test]
    fn binding_sources_round_trip_through_their_stored_form() {
        let addr: SocketAddr = "203.0.113.7:5070".parse().expect("address");
        let text = source_text(Transport::Tcp, addr);
        assert_eq!(text, "tcp:203.0.113.7:5070");
        assert_eq!(parse_source(&text), Some((Transport::Tcp, addr)));
        assert_eq!(parse_source("carrier-pigeon:1.2.3.4:1"), None);
        assert_eq!(parse_source("udp:not-an-address"), None);
    }

    #[test]
    fn digest_algorithms_keep_the_configured_order_and_refuse_unknown_names() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            digest_algorithms(&names(&["MD5", "SHA-256", "md5"])).expect("valid"),
            vec![Algorithm::Md5, Algorithm::Sha256]
        );
        assert!(digest_algorithms(&names(&["SHA-1"])).is_err());
        assert!(digest_algorithms(&[]).is_err());
    }

    #[test]
    fn expiry_limits_come_from_the_config() {
        let mut config = Config::default();
        config.sip.register_min_expires_secs = 120;
        config.sip.register_max_expires_secs = 600;
        let r = registrar_config(&config);
        assert_eq!(
            (r.min_expires, r.max_expires, r.default_expires),
            (120, 600, 600)
        );
    }
}
