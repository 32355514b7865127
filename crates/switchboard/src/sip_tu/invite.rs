//! A new INVITE: who is calling (a trusted trunk address, or an extension proving itself with
//! proxy digest auth), where the call goes (the dial plan), and the call record's facts.

use switchboard_core::{CallId, TenantId, UserId};
use switchboard_sip::auth::{AuthOutcome, Authenticator, ChallengeKind, DigestCredentials};
use switchboard_sip::b2bua::{ClientCredentials, EndCause, ForkTarget, Target};
use switchboard_sip::message::{Request, Transport, Uri, response_to};
use switchboard_sip::transaction::{Peer, TxKey};
use switchboard_store::calls::Direction;
use switchboard_store::sip::SipCredential;

use super::browsers::one_media_kind_of_target;
use super::records::RecordUpdate;
use super::{CallFacts, SipTu};

/// Who placed the call.
enum Caller {
    Trunk,
    Extension(SipCredential),
    /// An agent's phone handing its caller on (REFER).
    Transfer,
}

/// The dial plan's verdict plus what the call record needs.
struct Route {
    target: Target,
    tenant: Option<TenantId>,
    agent: Option<UserId>,
    queue: Option<String>,
    to_trunk: bool,
}

impl SipTu {
    pub(super) async fn on_invite(&mut self, key: TxKey, request: Request, from: Peer) {
        let Some(caller) = self.identify_caller(&key, &request, from).await else {
            return;
        };
        let dialled = request.uri.user.clone().unwrap_or_default();
        if let Some((mode, extension)) = super::monitoring::parse_code(&dialled) {
            let extension = extension.to_owned();
            match caller {
                Caller::Extension(supervisor) => {
                    self.on_monitor_invite(key, request, from, supervisor, mode, extension)
                        .await;
                }
                // A trunk or a transfer never steps into a call.
                Caller::Trunk | Caller::Transfer => {
                    let tag = switchboard_sip::transaction::new_tag();
                    self.respond(key, response_to(&request, 403, Some(&tag)))
                        .await;
                }
            }
            return;
        }
        let route = match self.route(&dialled, &caller).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "dial plan lookup failed");
                let mut resp = response_to(&request, 503, None);
                resp.headers.push("Retry-After", "5");
                self.respond(key, resp).await;
                return;
            }
        };
        let (direction, caller_tenant, caller_agent) = match &caller {
            Caller::Trunk | Caller::Transfer => (Direction::Inbound, None, None),
            Caller::Extension(c) => (
                if route.to_trunk {
                    Direction::Outbound
                } else {
                    Direction::Internal
                },
                Some(c.tenant_id.clone()),
                c.user_id.clone(),
            ),
        };
        let tenant = caller_tenant
            .or(route.tenant)
            .unwrap_or_else(|| self.default_tenant.clone());
        let id = CallId::generate();
        self.media.set_tenant(&id, tenant.clone());
        let caller_number = request
            .headers
            .from()
            .ok()
            .and_then(|f| f.uri.user)
            .unwrap_or_default();
        let mut outside_agents: Vec<UserId> = caller_agent.iter().cloned().collect();
        if route.queue.is_none()
            && let Some(callee) = &route.agent
            && !outside_agents.contains(callee)
        {
            outside_agents.push(callee.clone());
        }
        self.facts.insert(
            id.clone(),
            CallFacts {
                tenant,
                caller: caller_number,
                direction,
                queue: route.queue,
                agent: caller_agent.or(route.agent),
                outside_agents,
                answered: false,
            },
        );
        let mut target = route.target;
        one_media_kind_of_target(&mut self.media, &id, &mut target);
        let now = self.clock.now();
        self.b2bua
            .new_call(id, key, request, from, target, &mut self.media, now);
        self.flush().await;
    }

    /// Routes the target of a blind transfer and hands the call over.
    pub(super) async fn transfer(&mut self, call: CallId, dialled: String) {
        let mut target = match self.route(&dialled, &Caller::Transfer).await {
            Ok(route) => route.target,
            Err(e) => {
                tracing::error!(error = %e, "dial plan lookup for a transfer failed");
                Target::Reject {
                    label: "transfer".into(),
                    status: 503,
                    cause: EndCause::TransferFailed,
                }
            }
        };
        tracing::info!(%call, to = %switchboard_core::Masked::phone(&dialled), "blind transfer");
        one_media_kind_of_target(&mut self.media, &call, &mut target);
        let now = self.clock.now();
        self.b2bua.transfer(&call, target, &mut self.media, now);
    }

    /// `None` when the request was answered here (challenge, lockout, bad credentials).
    async fn identify_caller(&mut self, key: &TxKey, req: &Request, from: Peer) -> Option<Caller> {
        // A trunk is a SIP server: it never arrives over a browser's WebSocket, so a browser
        // on a trusted address (the same host, say) still proves who it is.
        let browser = matches!(from.transport, Transport::Ws | Transport::Wss);
        if !browser && self.trunk.inbound_from.contains(&from.addr.ip()) {
            return Some(Caller::Trunk);
        }
        let now = self.clock.now();
        let username = req
            .headers
            .get_all("Proxy-Authorization")
            .filter_map(|v| DigestCredentials::parse(v).ok())
            .find(|c| c.realm == self.realm)
            .map(|c| c.username);
        let credential = match username {
            Some(u) => match self.credential(&u, now).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "SIP credential lookup failed");
                    self.respond(key.clone(), response_to(req, 503, None)).await;
                    return None;
                }
            },
            None => None,
        };
        let secrets = credential.as_ref().map(super::register::stored);
        let name = credential.as_ref().map(|c| c.username.clone());
        let client =
            switchboard_sip::auth::client_address(req, from.addr.ip(), &self.trusted_proxies);
        let outcome = self.call_auth.authenticate(
            req,
            ChallengeKind::Proxy,
            client,
            |user| secrets.filter(|_| name.as_deref() == Some(user)),
            now,
        );
        match (&outcome, credential) {
            (AuthOutcome::Authenticated { .. }, Some(c)) => Some(Caller::Extension(c)),
            _ => {
                if matches!(outcome, AuthOutcome::Locked { .. }) {
                    tracing::warn!(source = %from.addr, "INVITE refused: address locked out");
                }
                let tag = switchboard_sip::transaction::new_tag();
                let mut resp = Authenticator::response(req, &outcome, ChallengeKind::Proxy, &tag)
                    .unwrap_or_else(|| response_to(req, 403, Some(&tag)));
                super::register::browser_challenge_order(&mut resp, from.transport);
                self.respond(key.clone(), resp).await;
                None
            }
        }
    }

    /// The dial plan: queue numbers, then extensions, then the trunk (only for our own
    /// extensions: a trunk call is never sent back out, which would be toll fraud).
    async fn route(
        &mut self,
        dialled: &str,
        caller: &Caller,
    ) -> Result<Route, switchboard_store::StoreError> {
        let reject = |label: String, status, cause| Route {
            target: Target::Reject {
                label,
                status,
                cause,
            },
            tenant: None,
            agent: None,
            queue: None,
            to_trunk: false,
        };
        if let Some((tenant, queue)) = self.queueing.numbers.get(dialled).cloned() {
            let local = queue
                .as_str()
                .split_once('/')
                .map_or(queue.as_str(), |(_, q)| q)
                .to_owned();
            return Ok(Route {
                target: Target::Queue {
                    label: format!("queue:{local}"),
                    queue: queue.to_string(),
                },
                tenant: Some(tenant),
                agent: None,
                queue: Some(local),
                to_trunk: false,
            });
        }
        if let Some(addr) = self.static_routes.get(dialled).copied() {
            return Ok(Route {
                target: Target::Fork {
                    label: format!("static:{dialled}"),
                    targets: vec![ForkTarget {
                        uri: Uri::sip(Some(dialled), &addr.ip().to_string(), Some(addr.port())),
                        peer: Peer {
                            transport: Transport::Udp,
                            addr,
                        },
                        credentials: None,
                        caller_id: None,
                    }],
                    ring_timeout: None,
                },
                tenant: None,
                agent: None,
                queue: None,
                to_trunk: false,
            });
        }
        let now = self.clock.now();
        if !dialled.is_empty()
            && let Some(callee) = self.credential(dialled, now).await?
        {
            let label = format!("extension:{dialled}");
            let aor = Uri::sip(Some(dialled), &self.realm, None).aor();
            let targets: Vec<ForkTarget> = self
                .registrar
                .lookup(&aor)
                .iter()
                .map(|b| ForkTarget {
                    uri: b.contact.clone(),
                    peer: Peer {
                        transport: b.transport,
                        addr: b.source,
                    },
                    credentials: None,
                    caller_id: None,
                })
                .collect();
            let mut r = if targets.is_empty() {
                reject(label, 480, EndCause::Unavailable)
            } else {
                Route {
                    target: Target::Fork {
                        label,
                        targets,
                        ring_timeout: None,
                    },
                    tenant: None,
                    agent: None,
                    queue: None,
                    to_trunk: false,
                }
            };
            r.tenant = Some(callee.tenant_id.clone());
            r.agent = callee.user_id.clone();
            return Ok(r);
        }
        let trunk_allowed = matches!(caller, Caller::Extension(_) | Caller::Transfer);
        match (&self.trunk_target, trunk_allowed) {
            (Some(trunk), true) if !dialled.is_empty() => {
                let mut target = trunk.clone();
                target.uri.user = Some(dialled.to_owned());
                Ok(Route {
                    target: Target::Fork {
                        label: "trunk".into(),
                        targets: vec![target],
                        ring_timeout: None,
                    },
                    tenant: None,
                    agent: None,
                    queue: None,
                    to_trunk: true,
                })
            }
            _ => Ok(reject("unknown".into(), 404, EndCause::NotFound)),
        }
    }

    /// Files a call's progress with the record writer.
    pub(super) fn record(&self, update: RecordUpdate) {
        if self.records.send(update).is_err() {
            tracing::error!("call record writer has stopped");
        }
    }
}

/// The trunk as a fork target (`None` when no trunk is configured).
pub(super) fn trunk_target(config: &crate::config::TrunkConfig) -> Option<ForkTarget> {
    let addr: std::net::SocketAddr = config.host.parse().ok()?;
    let transport = if config.transport == "tcp" {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    Some(ForkTarget {
        uri: Uri::sip(None, &addr.ip().to_string(), Some(addr.port())),
        peer: Peer { transport, addr },
        credentials: (!config.username.is_empty()).then(|| ClientCredentials {
            username: config.username.clone(),
            password: config.password.clone(),
        }),
        caller_id: (!config.caller_id.is_empty()).then(|| config.caller_id.clone()),
    })
}
