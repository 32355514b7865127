//! Digest authentication of SIP requests (RFC 3261 §22, RFC 7616, RFC 8760) with nonce expiry,
//! replay protection and per-address lockout. Sans-IO: the user store is a lookup closure,
//! time is an argument.

pub mod digest;
pub mod lockout;
pub mod nonce;

use std::net::IpAddr;
use std::time::Duration;

use switchboard_core::Timestamp;

pub use digest::{Algorithm, Challenge, DigestCredentials, StoredCredential, ha1};
pub use lockout::{Lockout, LockoutPolicy};
pub use nonce::{NonceCheck, Nonces};

use crate::message::{Request, Response, response_to};

/// The address a request's failed attempts count against (lockout). Usually where it came
/// from; through one of our `trusted_proxies` (Kamailio in front of a cluster) that is the
/// proxy, which carries every phone, so the phone's own hop is read from the Via the proxy
/// stamped (`received`, RFC 3261 §18.2.1, or the sent-by host). A Via that cannot be read
/// counts against the proxy's address: a request cannot pick someone else's address this way,
/// because only a trusted proxy's Vias are believed.
pub fn client_address(req: &Request, source: IpAddr, trusted_proxies: &[IpAddr]) -> IpAddr {
    if !trusted_proxies.contains(&source) {
        return source;
    }
    let Ok(vias) = req.headers.vias() else {
        return source;
    };
    // vias[0] is the proxy's own; each further one is the hop before.
    let mut client = source;
    for via in vias.iter().skip(1) {
        let hop = via
            .params
            .get("received")
            .flatten()
            .unwrap_or(&via.host)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>();
        match hop {
            Ok(ip) => {
                client = ip;
                if !trusted_proxies.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// Everything wrong with credentials themselves (answered 400, not 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("malformed Authorization: {0}")]
    Malformed(&'static str),
    #[error("unsupported digest algorithm")]
    UnsupportedAlgorithm,
    #[error("digest uri does not match the Request-URI")]
    UriMismatch,
}

/// Authenticator settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub realm: String,
    /// Offered in this order; RFC 8760 asks for the strongest first.
    pub algorithms: Vec<Algorithm>,
    /// How long a nonce stays valid before `stale=true`.
    pub nonce_ttl: Duration,
    /// Most nonces tracked for replay protection.
    pub nonce_capacity: usize,
    /// Signing key for nonces; `None` picks a random one (nonces then die with the process).
    pub nonce_key: Option<[u8; 32]>,
    pub lockout: LockoutPolicy,
}

impl AuthConfig {
    /// Defaults for `realm`: SHA-256 then MD5, 5-minute nonces, 5 failures/60 s → 5 min lock.
    pub fn new(realm: &str) -> Self {
        AuthConfig {
            realm: realm.to_owned(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_ttl: Duration::from_secs(300),
            nonce_capacity: 100_000,
            nonce_key: None,
            lockout: LockoutPolicy::default(),
        }
    }
}

/// Which header pair carries the exchange: a registrar or UAS uses `Authorization` and answers
/// 401 `WWW-Authenticate`; a B2BUA authorising calls acts as a proxy here and uses
/// `Proxy-Authorization` and 407 `Proxy-Authenticate` (RFC 3261 §22.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    Www,
    Proxy,
}

impl ChallengeKind {
    fn credentials_header(self) -> &'static str {
        match self {
            ChallengeKind::Www => "Authorization",
            ChallengeKind::Proxy => "Proxy-Authorization",
        }
    }

    fn challenge_header(self) -> &'static str {
        match self {
            ChallengeKind::Www => "WWW-Authenticate",
            ChallengeKind::Proxy => "Proxy-Authenticate",
        }
    }

    fn status(self) -> u16 {
        match self {
            ChallengeKind::Www => 401,
            ChallengeKind::Proxy => 407,
        }
    }
}

/// The verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Credentials checked out for this user.
    Authenticated { username: String },
    /// Answer 401 with these challenges (no or wrong credentials, or a stale nonce).
    Challenge(Vec<Challenge>),
    /// The source address is locked out: answer 403 or drop.
    Locked { until: Timestamp },
    /// The credentials are malformed: answer 400.
    BadRequest(AuthError),
}

/// Checks digest credentials; one per realm.
#[derive(Debug)]
pub struct Authenticator {
    config: AuthConfig,
    nonces: Nonces,
    lockout: Lockout,
}

impl Authenticator {
    /// An authenticator with fresh nonce and lockout tables.
    pub fn new(config: AuthConfig) -> Self {
        let key = config.nonce_key.unwrap_or_else(Nonces::random_key);
        Authenticator {
            nonces: Nonces::new(key, config.nonce_ttl, config.nonce_capacity),
            lockout: Lockout::new(config.lockout),
            config,
        }
    }

    /// The realm challenged for.
    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// Fresh challenges, one per configured algorithm.
    pub fn challenges(&self, stale: bool, now: Timestamp) -> Vec<Challenge> {
        self.config
            .algorithms
            .iter()
            .map(|&algorithm| Challenge {
                realm: self.config.realm.clone(),
                nonce: self.nonces.issue(now),
                algorithm,
                stale,
            })
            .collect()
    }

    /// Checks the credentials of `req` from `source` (`Authorization` or
    /// `Proxy-Authorization` per `kind`). `lookup` finds a user's stored HA1 values.
    pub fn authenticate(
        &mut self,
        req: &Request,
        kind: ChallengeKind,
        source: IpAddr,
        lookup: impl FnOnce(&str) -> Option<StoredCredential>,
        now: Timestamp,
    ) -> AuthOutcome {
        if let Some(until) = self.lockout.locked_until(source, now) {
            return AuthOutcome::Locked { until };
        }
        let realm = &self.config.realm;
        let mut ours = None;
        for value in req.headers.get_all(kind.credentials_header()) {
            match DigestCredentials::parse(value) {
                Ok(c) if &c.realm == realm => {
                    ours = Some(c);
                    break;
                }
                Ok(_) => {}
                Err(e) => return self.fail_malformed(source, e, now),
            }
        }
        let Some(creds) = ours else {
            return AuthOutcome::Challenge(self.challenges(false, now));
        };
        if !self.config.algorithms.contains(&creds.algorithm) {
            return self.fail_malformed(source, AuthError::UnsupportedAlgorithm, now);
        }
        match self.nonces.validate(&creds.nonce, now) {
            NonceCheck::Fresh => {}
            // A nonce signed with another key (e.g. before a restart) is treated like an old
            // one: the phone re-authenticates silently, and no failure is counted.
            _ => return AuthOutcome::Challenge(self.challenges(true, now)),
        }
        if Self::uri_differs(&creds.uri, req) {
            return self.fail_malformed(source, AuthError::UriMismatch, now);
        }
        let stored = lookup(&creds.username).unwrap_or_default();
        let ok = match creds.verify(req.method.as_str(), &stored) {
            Ok(ok) => ok,
            // An unknown user has no HA1: count it exactly like a wrong password, so user
            // names cannot be probed.
            Err(AuthError::UnsupportedAlgorithm) => false,
            Err(e) => return self.fail_malformed(source, e, now),
        };
        if !ok {
            return self.fail(source, now);
        }
        let nc = creds.nc.unwrap_or(0);
        match self.nonces.record_count(&creds.nonce, nc, now) {
            NonceCheck::Fresh => {
                self.lockout.record_success(source);
                AuthOutcome::Authenticated {
                    username: creds.username,
                }
            }
            NonceCheck::Replay | NonceCheck::Stale | NonceCheck::Invalid => {
                AuthOutcome::Challenge(self.challenges(true, now))
            }
        }
    }

    fn uri_differs(digest_uri: &str, req: &Request) -> bool {
        match crate::message::Uri::parse(digest_uri) {
            Ok(u) => u != req.uri,
            Err(_) => digest_uri != req.uri.to_string(),
        }
    }

    fn fail(&mut self, source: IpAddr, now: Timestamp) -> AuthOutcome {
        match self.lockout.record_failure(source, now) {
            Some(until) => AuthOutcome::Locked { until },
            None => AuthOutcome::Challenge(self.challenges(false, now)),
        }
    }

    fn fail_malformed(&mut self, source: IpAddr, e: AuthError, now: Timestamp) -> AuthOutcome {
        match self.lockout.record_failure(source, now) {
            Some(until) => AuthOutcome::Locked { until },
            None => AuthOutcome::BadRequest(e),
        }
    }

    /// The response for a non-authenticated outcome: 401/407 with challenges, 403 when
    /// locked, 400 for malformed credentials. `None` for `Authenticated`.
    pub fn response(
        req: &Request,
        outcome: &AuthOutcome,
        kind: ChallengeKind,
        to_tag: &str,
    ) -> Option<Response> {
        let resp = match outcome {
            AuthOutcome::Authenticated { .. } => return None,
            AuthOutcome::Challenge(challenges) => {
                let mut r = response_to(req, kind.status(), Some(to_tag));
                for c in challenges {
                    r.headers.push(kind.challenge_header(), &c.to_string());
                }
                r
            }
            AuthOutcome::Locked { .. } => response_to(req, 403, Some(to_tag)),
            AuthOutcome::BadRequest(e) => {
                let mut r = response_to(req, 400, Some(to_tag));
                r.reason = format!("Bad Request ({e})");
                r
            }
        };
        Some(resp)
    }
}

#[cfg(test)]
mod tests;
