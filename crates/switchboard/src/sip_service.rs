//! SIP in the server: the UDP/TCP driver plus the registrar as its transaction user.
//!
//! The registrar itself is sans-IO; this task gives it what it cannot have: credentials from
//! the store (with a small cache, since phones re-register often), persistence of every binding
//! change before the phone hears 200 (so a restart right after still knows it), the bindings
//! restored at start, and the wall clock. Requests other than REGISTER and OPTIONS are
//! answered 501 until the B2BUA lands.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::{Clock, TenantId, Timestamp};
use switchboard_sip::auth::{
    Algorithm, AuthConfig, Authenticator, DigestCredentials, LockoutPolicy, StoredCredential,
};
use switchboard_sip::driver::{Counters, DriverConfig, DriverError, SipDriver, SipHandle, TuEvent};
use switchboard_sip::message::{Method, Request, Transport, Uri, response_to};
use switchboard_sip::registrar::{Binding, BindingChange, Registrar, RegistrarConfig};
use switchboard_sip::transaction::{Peer, TxKey};
use switchboard_store::sip::{self as sip_store, SipBinding, SipCredential};
use switchboard_store::{Store, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Config;

/// Why the SIP service could not start.
#[derive(Debug, thiserror::Error)]
pub enum SipServiceError {
    #[error("SIP transport: {0}")]
    Driver(#[from] DriverError),
    #[error("loading registrations: {0}")]
    Store(#[from] StoreError),
    #[error("config key 'sip.digest_algorithms': {0}")]
    Algorithms(String),
}

/// How long a looked-up credential (or its absence) is trusted before asking the store again,
/// so a `user passwd` takes effect within this time without a restart.
const CREDENTIAL_TTL: Duration = Duration::from_secs(30);
/// Most cached lookups; the cache is cleared when full (a scan of unknown names cannot grow it).
const CREDENTIAL_CACHE_MAX: usize = 10_000;

/// The running SIP side of the server.
#[derive(Debug)]
pub struct SipService {
    driver: SipDriver,
    registrar: JoinHandle<()>,
}

impl SipService {
    /// Binds `sip.udp_listen` and `sip.tcp_listen`, restores the stored bindings and starts the
    /// registrar.
    pub async fn start(
        config: &Config,
        store: Store,
        clock: Arc<dyn Clock>,
        counters: Arc<Counters>,
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

        let driver_config = DriverConfig::new(config.sip.udp_listen, config.sip.tcp_listen);
        let (driver, events) = SipDriver::start(driver_config, counters).await?;
        tracing::info!(restored = count, "SIP registrar ready");
        let tu = RegistrarTu {
            registrar,
            store,
            clock,
            realm: config.sip.domain.clone(),
            handle: driver.handle(),
            cache: HashMap::new(),
            tenants,
        };
        let registrar = tokio::spawn(tu.run(events));
        Ok(SipService { driver, registrar })
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.driver.udp_addr()
    }

    /// The bound TCP address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.driver.tcp_addr()
    }

    /// Stops the listeners and the registrar. Bindings are already persisted.
    pub async fn shutdown(self) {
        self.driver.shutdown().await;
        self.registrar.abort();
        let _ = self.registrar.await;
    }
}

fn registrar_config(config: &Config) -> RegistrarConfig {
    let min = config.sip.register_min_expires_secs;
    let max = config.sip.register_max_expires_secs.max(min);
    RegistrarConfig {
        min_expires: min,
        max_expires: max,
        default_expires: 3600u32.clamp(min, max),
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

/// `udp:127.0.0.1:5070` ↔ (transport, address).
fn source_text(transport: Transport, addr: SocketAddr) -> String {
    format!("{}:{addr}", transport.to_string().to_ascii_lowercase())
}

fn parse_source(s: &str) -> Option<(Transport, SocketAddr)> {
    let (t, addr) = s.split_once(':')?;
    let transport = match t {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        "ws" => Transport::Ws,
        "wss" => Transport::Wss,
        _ => return None,
    };
    Some((transport, addr.parse().ok()?))
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

/// The registrar as the driver's transaction user.
struct RegistrarTu {
    registrar: Registrar,
    store: Store,
    clock: Arc<dyn Clock>,
    realm: String,
    handle: SipHandle,
    /// username → (when looked up, what the store said).
    cache: HashMap<String, (Timestamp, Option<SipCredential>)>,
    /// AOR → tenant, for persisting bindings.
    tenants: HashMap<String, TenantId>,
}

impl RegistrarTu {
    async fn run(mut self, mut events: mpsc::Receiver<TuEvent>) {
        loop {
            let wake = self
                .registrar
                .poll_timeout()
                .map(|at| at.since(self.clock.now()));
            tokio::select! {
                event = events.recv() => match event {
                    Some(TuEvent::Request { key, request, from }) => {
                        self.on_request(key, request, from).await;
                    }
                    // ACKs, timeouts and terminations concern INVITEs: nothing to do yet.
                    Some(_) => {}
                    None => break,
                },
                () = sleep_for(wake) => {
                    self.registrar.handle_timeout(self.clock.now());
                    self.persist(None).await;
                }
            }
        }
    }

    async fn on_request(&mut self, key: TxKey, request: Request, from: Peer) {
        if request.method != Method::Register {
            let mut resp = response_to(&request, 501, None);
            resp.headers.push("Allow", "REGISTER, OPTIONS");
            self.respond(key, resp).await;
            return;
        }
        let now = self.clock.now();
        let credential = match self.credential_for(&request, now).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "SIP credential lookup failed");
                let mut resp = response_to(&request, 503, None);
                resp.headers.push("Retry-After", "5");
                self.respond(key, resp).await;
                return;
            }
        };
        let secrets = credential.as_ref().map(|c| StoredCredential {
            ha1_md5: Some(c.ha1_md5.clone()),
            ha1_sha256: Some(c.ha1_sha256.clone()),
        });
        let username = credential.as_ref().map(|c| c.username.clone());
        let response = self.registrar.handle(
            &request,
            from.addr,
            from.transport,
            |user| secrets.filter(|_| username.as_deref() == Some(user)),
            now,
        );
        if response.status == 403 {
            tracing::warn!(source = %from.addr, "SIP REGISTER refused (locked out or not allowed)");
        }
        // Persist before answering: once the phone has its 200, a restart must remember it.
        self.persist(credential.map(|c| c.tenant_id)).await;
        self.respond(key, response).await;
    }

    /// The stored credential named by the request's digest for our realm, if any.
    async fn credential_for(
        &mut self,
        req: &Request,
        now: Timestamp,
    ) -> Result<Option<SipCredential>, StoreError> {
        let username = req
            .headers
            .get_all("Authorization")
            .filter_map(|v| DigestCredentials::parse(v).ok())
            .find(|c| c.realm == self.realm)
            .map(|c| c.username);
        let Some(username) = username else {
            return Ok(None);
        };
        if let Some((at, cached)) = self.cache.get(&username)
            && now.since(*at) < CREDENTIAL_TTL
        {
            return Ok(cached.clone());
        }
        let found = sip_store::find_credential(&self.store, &self.realm, &username).await?;
        if self.cache.len() >= CREDENTIAL_CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(username, (now, found.clone()));
        Ok(found)
    }

    /// Writes the registrar's binding changes to the store. `tenant` is the tenant of the user
    /// who just registered (new AORs need it).
    async fn persist(&mut self, tenant: Option<TenantId>) {
        let now = self.clock.now();
        while let Some(change) = self.registrar.poll_output() {
            let result = match change {
                BindingChange::Upserted(b) => {
                    let Some(tenant) = self.tenants.get(&b.aor).cloned().or_else(|| tenant.clone())
                    else {
                        tracing::warn!(aor = %b.aor, "binding without a tenant not persisted");
                        continue;
                    };
                    self.tenants.insert(b.aor.clone(), tenant.clone());
                    let row = SipBinding {
                        tenant_id: tenant,
                        aor: b.aor,
                        contact: b.contact.to_string(),
                        source: source_text(b.transport, b.source),
                        call_id: b.call_id,
                        cseq: b.cseq,
                        expires_at: b.expires_at,
                        node: None,
                        updated_at: now,
                    };
                    sip_store::upsert_binding(&self.store, &row).await
                }
                BindingChange::Removed { aor, contact, .. } => {
                    if self.registrar.lookup(&aor).is_empty() {
                        self.tenants.remove(&aor);
                    }
                    sip_store::remove_binding(&self.store, &aor, &contact.to_string())
                        .await
                        .map(|_| ())
                }
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "persisting a SIP binding failed");
            }
        }
    }

    async fn respond(&self, key: TxKey, response: switchboard_sip::Response) {
        if self.handle.respond(key, response).await.is_err() {
            tracing::debug!("SIP driver stopped before the answer");
        }
    }
}

async fn sleep_for(d: Option<Duration>) {
    match d {
        // At least a millisecond, so an already-due deadline cannot spin the loop.
        Some(d) => tokio::time::sleep(d.max(Duration::from_millis(1))).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
