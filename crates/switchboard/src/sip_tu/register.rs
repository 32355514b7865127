//! REGISTER: the sans-IO registrar given credentials from the store (cached, since phones
//! re-register often) and every binding change persisted before the phone hears 200, so a
//! restart right after still knows it.

use std::time::Duration;

use switchboard_core::{TenantId, Timestamp};
use switchboard_sip::auth::{Algorithm, Challenge, DigestCredentials, StoredCredential};
use switchboard_sip::message::{Request, Response, Transport, response_to};
use switchboard_sip::registrar::BindingChange;
use switchboard_sip::transaction::{Peer, TxKey};
use switchboard_store::StoreError;
use switchboard_store::sip::{self as sip_store, SipBinding, SipCredential};

use super::SipTu;
use crate::cluster::ClusterEvent;

/// How long a looked-up credential (or its absence) is trusted before asking the store again,
/// so a `user passwd` takes effect within this time without a restart.
const CREDENTIAL_TTL: Duration = Duration::from_secs(30);
/// Most cached lookups; the cache is cleared when full (a scan of unknown names cannot grow it).
const CREDENTIAL_CACHE_MAX: usize = 10_000;

impl SipTu {
    pub(super) async fn on_register(&mut self, key: TxKey, request: Request, from: Peer) {
        let now = self.clock.now();
        let username = request
            .headers
            .get_all("Authorization")
            .filter_map(|v| DigestCredentials::parse(v).ok())
            .find(|c| c.realm == self.realm)
            .map(|c| c.username);
        let credential = match username {
            Some(u) => self.credential(&u, now).await,
            None => Ok(None),
        };
        let credential = match credential {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "SIP credential lookup failed");
                let mut resp = response_to(&request, 503, None);
                resp.headers.push("Retry-After", "5");
                self.respond(key, resp).await;
                return;
            }
        };
        let secrets = credential.as_ref().map(stored);
        let username = credential.as_ref().map(|c| c.username.clone());
        let mut response = self.registrar.handle(
            &request,
            from.addr,
            from.transport,
            |user| secrets.filter(|_| username.as_deref() == Some(user)),
            now,
        );
        if response.status == 403 {
            tracing::warn!(source = %from.addr, "SIP REGISTER refused (locked out or not allowed)");
        }
        browser_challenge_order(&mut response, from.transport);
        if matches!(from.transport, Transport::Ws | Transport::Wss) && !self.ws_open(from) {
            // The socket closed while this REGISTER waited its turn: nothing could reach the
            // binding, and its close was already handled.
            self.registrar.remove_flow(from.transport, from.addr);
        }
        // Persist before answering: once the phone has its 200, a restart must remember it.
        self.persist_bindings(credential.map(|c| c.tenant_id)).await;
        self.respond(key, response).await;
    }

    /// The stored credential of `username` in our realm (cached).
    pub(super) async fn credential(
        &mut self,
        username: &str,
        now: Timestamp,
    ) -> Result<Option<SipCredential>, StoreError> {
        if let Some((at, cached)) = self.credentials.get(username)
            && now.since(*at) < CREDENTIAL_TTL
        {
            return Ok(cached.clone());
        }
        let found = sip_store::find_credential(&self.store, &self.realm, username).await?;
        if self.credentials.len() >= CREDENTIAL_CACHE_MAX {
            self.credentials.clear();
        }
        self.credentials
            .insert(username.to_owned(), (now, found.clone()));
        Ok(found)
    }

    /// Writes the registrar's binding changes to the store. `tenant` is the tenant of the user
    /// who just registered (new AORs need it).
    pub(super) async fn persist_bindings(&mut self, tenant: Option<TenantId>) {
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
                        source: super::source_text(b.transport, b.source),
                        call_id: b.call_id,
                        cseq: b.cseq,
                        expires_at: b.expires_at,
                        node: self.node().map(str::to_owned),
                        updated_at: now,
                    };
                    let stored = sip_store::upsert_binding(&self.store, &row).await;
                    if stored.is_ok() {
                        self.announce_binding(
                            ClusterEvent::Bound {
                                tenant: row.tenant_id.as_str().to_owned(),
                                aor: row.aor,
                                contact: row.contact,
                                source: row.source,
                                call_id: row.call_id,
                                cseq: row.cseq,
                                expires_at: row.expires_at.as_millis(),
                            },
                            b.transport,
                        );
                    }
                    stored
                }
                BindingChange::Removed { aor, contact, .. } => {
                    if self.registrar.lookup(&aor).is_empty() {
                        self.tenants.remove(&aor);
                    }
                    let contact = contact.to_string();
                    let removed = sip_store::remove_binding(&self.store, &aor, &contact)
                        .await
                        .map(|_| ());
                    self.announce_binding(ClusterEvent::Unbound { aor, contact }, Transport::Udp);
                    removed
                }
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "persisting a SIP binding failed");
            }
        }
    }
}

/// The digest secrets of a stored credential.
pub(super) fn stored(c: &SipCredential) -> StoredCredential {
    StoredCredential {
        ha1_md5: Some(c.ha1_md5.clone()),
        ha1_sha256: Some(c.ha1_sha256.clone()),
    }
}

/// Browser SIP stacks (JsSIP, and SIP.js from the same parser) keep only the *last* digest
/// challenge of a response (each one replaces the previous) and speak only MD5, so over
/// WebSocket the MD5 challenge goes last, whatever `sip.digest_algorithms` says. The same set
/// stays on offer (a client could always pick MD5 from it), so this changes which one the
/// browser sees, not what is allowed; the others keep their configured order.
pub(super) fn browser_challenge_order(resp: &mut Response, transport: Transport) {
    if !matches!(transport, Transport::Ws | Transport::Wss) {
        return;
    }
    for name in ["WWW-Authenticate", "Proxy-Authenticate"] {
        let values: Vec<String> = resp.headers.get_all(name).map(str::to_owned).collect();
        if values.len() < 2 {
            continue;
        }
        let (md5, other): (Vec<String>, Vec<String>) = values
            .into_iter()
            .partition(|v| Challenge::parse(v).is_ok_and(|c| c.algorithm == Algorithm::Md5));
        resp.headers.remove(name);
        for v in other.iter().chain(&md5) {
            resp.headers.push(name, v);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test fixtures

    use super::*;

    /// Challenges as configured with `digest_algorithms = ["MD5", "SHA-256"]`.
    fn challenged() -> Response {
        let mut r = Response::new(401);
        r.headers.push(
            "WWW-Authenticate",
            r#"Digest realm="x", nonce="n2", algorithm=MD5, qop="auth""#,
        );
        r.headers.push(
            "WWW-Authenticate",
            r#"Digest realm="x", nonce="n1", algorithm=SHA-256, qop="auth""#,
        );
        r
    }

    fn algorithms(r: &Response) -> Vec<Algorithm> {
        r.headers
            .get_all("WWW-Authenticate")
            .map(|v| Challenge::parse(v).unwrap().algorithm)
            .collect()
    }

    #[test]
    fn browsers_over_websocket_get_the_md5_challenge_last_and_keep_both() {
        let mut r = challenged();
        browser_challenge_order(&mut r, Transport::Ws);
        assert_eq!(algorithms(&r), vec![Algorithm::Sha256, Algorithm::Md5]);
    }

    #[test]
    fn phones_over_udp_and_tcp_keep_the_configured_order() {
        for t in [Transport::Udp, Transport::Tcp] {
            let mut r = challenged();
            browser_challenge_order(&mut r, t);
            assert_eq!(algorithms(&r), vec![Algorithm::Md5, Algorithm::Sha256]);
        }
    }
}
