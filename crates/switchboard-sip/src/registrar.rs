//! The registrar (RFC 3261 §10.3), sans-IO: REGISTER in, a response and binding changes out.
//! Bindings expire by (wall-clock) time; the store persists the changes and hands them back
//! through [`Registrar::restore`] after a restart.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use switchboard_core::Timestamp;

use crate::auth::{AuthOutcome, Authenticator, ChallengeKind, StoredCredential};
use crate::message::response_to;
use crate::message::{Contacts, Method, NameAddr, ParseError, Request, Response, Transport, Uri};

/// Why a REGISTER is refused; [`RegisterError::status`] maps to response codes in one place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("not a REGISTER")]
    NotRegister,
    #[error("malformed REGISTER: {0}")]
    Malformed(#[from] ParseError),
    #[error("Contact: * needs Expires: 0 and no other contact")]
    BadWildcard,
    #[error("expiry {asked} s is below the minimum {min} s")]
    IntervalTooBrief { asked: u32, min: u32 },
    #[error("user {user} may not register {aor}")]
    NotAuthorised { user: String, aor: String },
    #[error("more than {0} contacts for one address")]
    TooManyContacts(usize),
    #[error("out-of-order REGISTER for an existing binding")]
    OutOfOrder,
}

impl RegisterError {
    /// The response code for this error.
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::NotRegister => 405,
            RegisterError::Malformed(_) | RegisterError::BadWildcard => 400,
            RegisterError::IntervalTooBrief { .. } => 423,
            RegisterError::NotAuthorised { .. } | RegisterError::TooManyContacts(_) => 403,
            RegisterError::OutOfOrder => 500,
        }
    }
}

/// Registrar figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shorter requested expiries are answered 423 with Min-Expires.
    pub min_expires: u32,
    /// Longer requested expiries are shortened to this.
    pub max_expires: u32,
    /// Used when the request names no expiry.
    pub default_expires: u32,
    /// Most contacts one address-of-record may hold.
    pub max_contacts: usize,
    /// Proxies whose Via stamps are believed for lockout (see [`crate::auth::client_address`]).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

/// One contact registered for an address-of-record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// `sip:user@domain` (see [`Uri::aor`]).
    pub aor: String,
    /// The contact URI as registered.
    pub contact: Uri,
    pub expires_at: Timestamp,
    pub call_id: String,
    pub cseq: u32,
    /// Where the REGISTER really came from (requests go there when the phone is behind NAT).
    pub source: SocketAddr,
    pub transport: Transport,
    pub user_agent: Option<String>,
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalCause {
    /// The phone unregistered (expires 0 or `*`).
    Unregistered,
    /// Not refreshed in time.
    Expired,
    /// The connection it was registered over closed (a WebSocket flow, RFC 7118 §5: nothing
    /// else can reach a `*.invalid` contact).
    FlowClosed,
}

/// A change to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingChange {
    /// A new binding, or a refresh of an existing one (same AOR and contact).
    Upserted(Binding),
    Removed {
        aor: String,
        contact: Uri,
        cause: RemovalCause,
    },
}

/// Registrar state: the bindings of every address-of-record.
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    auth: Authenticator,
    bindings: HashMap<String, Vec<Binding>>,
    out: VecDeque<BindingChange>,
}

enum Op {
    Upsert(Binding),
    Remove(Uri),
}

impl Registrar {
    /// An empty registrar authenticating with `auth`.
    pub fn new(config: RegistrarConfig, auth: Authenticator) -> Self {
        Registrar {
            config,
            auth,
            bindings: HashMap::new(),
            out: VecDeque::new(),
        }
    }

    /// Reloads bindings persisted before a restart; ones already expired are dropped and
    /// reported as removed so the store forgets them too.
    pub fn restore(&mut self, bindings: impl IntoIterator<Item = Binding>, now: Timestamp) {
        for b in bindings {
            if b.expires_at <= now {
                self.out.push_back(BindingChange::Removed {
                    aor: b.aor,
                    contact: b.contact,
                    cause: RemovalCause::Expired,
                });
            } else {
                let list = self.bindings.entry(b.aor.clone()).or_default();
                list.retain(|x| x.contact != b.contact);
                list.push(b);
            }
        }
    }

    /// Drops a binding another node removed (several nodes share the bindings): reported to
    /// no one, since that node already updated the store.
    pub fn forget(&mut self, aor: &str, contact: &Uri) {
        if let Some(list) = self.bindings.get_mut(aor) {
            list.retain(|b| &b.contact != contact);
            if list.is_empty() {
                self.bindings.remove(aor);
            }
        }
    }

    /// The live bindings of an address-of-record (`sip:1001@example.com`).
    pub fn lookup(&self, aor: &str) -> &[Binding] {
        self.bindings.get(aor).map_or(&[], Vec::as_slice)
    }

    /// Number of addresses-of-record with at least one binding.
    pub fn registered_aors(&self) -> usize {
        self.bindings.len()
    }

    /// Handles one REGISTER (already through the transaction layer) and returns the response
    /// to send. `lookup` finds a user's stored HA1 values.
    pub fn handle(
        &mut self,
        req: &Request,
        source: SocketAddr,
        transport: Transport,
        lookup: impl FnOnce(&str) -> Option<StoredCredential>,
        now: Timestamp,
    ) -> Response {
        let to_tag = crate::transaction::new_tag();
        if req.method != Method::Register {
            return self.error(req, &RegisterError::NotRegister, &to_tag);
        }
        let client = crate::auth::client_address(req, source.ip(), &self.config.trusted_proxies);
        let outcome = self
            .auth
            .authenticate(req, ChallengeKind::Www, client, lookup, now);
        let AuthOutcome::Authenticated { username } = &outcome else {
            return Authenticator::response(req, &outcome, ChallengeKind::Www, &to_tag)
                .unwrap_or_else(|| response_to(req, 500, Some(&to_tag)));
        };
        match self.apply(req, username, source, transport, now) {
            Ok(aor) => {
                let mut resp = response_to(req, 200, Some(&to_tag));
                for b in self.lookup(&aor) {
                    let left = b.expires_at.since(now).as_secs();
                    resp.headers
                        .push("Contact", &format!("<{}>;expires={left}", b.contact));
                }
                resp
            }
            Err(e) => self.error(req, &e, &to_tag),
        }
    }

    fn error(&self, req: &Request, e: &RegisterError, to_tag: &str) -> Response {
        let mut resp = response_to(req, e.status(), Some(to_tag));
        match e {
            RegisterError::IntervalTooBrief { min, .. } => {
                resp.headers.push("Min-Expires", &min.to_string());
            }
            RegisterError::NotRegister => resp.headers.push("Allow", "REGISTER"),
            _ => {}
        }
        resp
    }

    /// Validates the whole request first, then applies every change, so a REGISTER is all
    /// or nothing. Returns the AOR.
    fn apply(
        &mut self,
        req: &Request,
        username: &str,
        source: SocketAddr,
        transport: Transport,
        now: Timestamp,
    ) -> Result<String, RegisterError> {
        let to = req.headers.to()?;
        let aor = to.uri.aor();
        if to.uri.user.as_deref() != Some(username) {
            return Err(RegisterError::NotAuthorised {
                user: username.to_owned(),
                aor,
            });
        }
        let call_id = req.headers.call_id()?.to_owned();
        let cseq = req.headers.cseq()?.seq;
        let header_expires = req.headers.expires()?;
        let existing = self.lookup(&aor).to_vec();
        let ops = match req.headers.contacts()? {
            Contacts::Star => {
                if header_expires != Some(0) {
                    return Err(RegisterError::BadWildcard);
                }
                existing
                    .iter()
                    .map(|b| Op::Remove(b.contact.clone()))
                    .collect()
            }
            Contacts::List(list) => {
                let mut ops = Vec::new();
                for c in &list {
                    let expires = self.expiry_of(c, header_expires)?;
                    if let Some(old) = existing.iter().find(|b| b.contact == c.uri)
                        && old.call_id == call_id
                        && cseq <= old.cseq
                    {
                        return Err(RegisterError::OutOfOrder);
                    }
                    ops.push(if expires == 0 {
                        Op::Remove(c.uri.clone())
                    } else {
                        Op::Upsert(Binding {
                            aor: aor.clone(),
                            contact: c.uri.clone(),
                            expires_at: now + Duration::from_secs(expires.into()),
                            call_id: call_id.clone(),
                            cseq,
                            source,
                            transport,
                            user_agent: req.headers.get("User-Agent").map(str::to_owned),
                        })
                    });
                }
                ops
            }
        };
        self.check_capacity(&existing, &ops)?;
        for op in ops {
            self.commit(&aor, op);
        }
        Ok(aor)
    }

    /// RFC 3261 §10.3 step 7: contact `expires` param, else the Expires header, else the
    /// default; clamped to the maximum; non-zero values below the minimum are refused.
    fn expiry_of(&self, c: &NameAddr, header: Option<u32>) -> Result<u32, RegisterError> {
        let param = match c.params.get("expires").flatten() {
            Some(v) => Some(
                v.parse::<u64>()
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                    .map_err(|_| ParseError::Header("Contact"))?,
            ),
            None => None,
        };
        let asked = param.or(header).unwrap_or(self.config.default_expires);
        if asked != 0 && asked < self.config.min_expires {
            return Err(RegisterError::IntervalTooBrief {
                asked,
                min: self.config.min_expires,
            });
        }
        Ok(asked.min(self.config.max_expires))
    }

    fn check_capacity(&self, existing: &[Binding], ops: &[Op]) -> Result<(), RegisterError> {
        let mut contacts: Vec<&Uri> = existing.iter().map(|b| &b.contact).collect();
        for op in ops {
            match op {
                Op::Upsert(b) if !contacts.contains(&&b.contact) => contacts.push(&b.contact),
                Op::Remove(u) => contacts.retain(|c| *c != u),
                Op::Upsert(_) => {}
            }
        }
        if contacts.len() > self.config.max_contacts {
            return Err(RegisterError::TooManyContacts(self.config.max_contacts));
        }
        Ok(())
    }

    fn commit(&mut self, aor: &str, op: Op) {
        let list = self.bindings.entry(aor.to_owned()).or_default();
        match op {
            Op::Upsert(b) => {
                list.retain(|x| x.contact != b.contact);
                list.push(b.clone());
                self.out.push_back(BindingChange::Upserted(b));
            }
            Op::Remove(contact) => {
                let before = list.len();
                list.retain(|x| x.contact != contact);
                if list.len() != before {
                    self.out.push_back(BindingChange::Removed {
                        aor: aor.to_owned(),
                        contact,
                        cause: RemovalCause::Unregistered,
                    });
                }
            }
        }
        if list.is_empty() {
            self.bindings.remove(aor);
        }
    }

    /// Removes every binding registered over the connection `transport`/`source` (which
    /// closed); returns how many went.
    pub fn remove_flow(&mut self, transport: Transport, source: SocketAddr) -> usize {
        let out = &mut self.out;
        let mut removed = 0;
        self.bindings.retain(|aor, list| {
            list.retain(|b| {
                let gone = b.transport == transport && b.source == source;
                if gone {
                    removed += 1;
                    out.push_back(BindingChange::Removed {
                        aor: aor.clone(),
                        contact: b.contact.clone(),
                        cause: RemovalCause::FlowClosed,
                    });
                }
                !gone
            });
            !list.is_empty()
        });
        removed
    }

    /// Expires every binding whose time is up.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let out = &mut self.out;
        self.bindings.retain(|aor, list| {
            list.retain(|b| {
                let live = b.expires_at > now;
                if !live {
                    out.push_back(BindingChange::Removed {
                        aor: aor.clone(),
                        contact: b.contact.clone(),
                        cause: RemovalCause::Expired,
                    });
                }
                live
            });
            !list.is_empty()
        });
    }

    /// The next binding change to persist.
    pub fn poll_output(&mut self) -> Option<BindingChange> {
        self.out.pop_front()
    }

    /// When the next binding expires.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.bindings.values().flatten().map(|b| b.expires_at).min()
    }
}

#[cfg(test)]
#[path = "registrar_tests.rs"]
mod tests;
