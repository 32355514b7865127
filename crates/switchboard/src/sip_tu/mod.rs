//! The SIP transaction user: one task that owns the registrar and the B2BUA (both sans-IO)
//! and gives them what they cannot have themselves: the store (credentials, bindings, call
//! records), the wall clock, the media relays and the driver's sockets.
//!
//! Events are handled one at a time, in order; nothing in here waits on the network, and the
//! database is only awaited for credential lookups (cached) and binding changes (which must be
//! durable before the phone hears 200). Call records go to a writer task in order.

mod acd_glue;
mod browsers;
pub(crate) mod cluster_glue;
pub(crate) mod dialing;
mod invite;
pub(crate) mod media_plane;
mod monitoring;
pub(crate) mod queueing;
pub(crate) mod records;
mod register;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::{CallId, Clock, QueueId, TenantId, Timestamp, UserId};
use switchboard_crm::live::{LiveCommand, LiveError, LiveReceiver, LiveReply, LiveRequest};
use switchboard_media::relay::RelayEvent;
use switchboard_sip::auth::Authenticator;
use switchboard_sip::b2bua::{B2bua, CallEvent, EndCause, ForkTarget, HangupBy, Output};
use switchboard_sip::driver::{SipHandle, TuEvent, WsTransport};
use switchboard_sip::message::{Method, Response, Transport};
use switchboard_sip::registrar::Registrar;
use switchboard_sip::transaction::{Peer, TxKey};
use switchboard_store::Store;
use switchboard_store::calls::{self as call_store, Direction};
use switchboard_store::sip::SipCredential;
use tokio::sync::mpsc;

use media_plane::RelayPlane;
use records::RecordUpdate;

/// What the call record needs beyond what the B2BUA reports.
#[derive(Debug)]
struct CallFacts {
    tenant: TenantId,
    /// The caller's number or extension (for call-back tasks).
    caller: String,
    direction: Direction,
    queue: Option<String>,
    agent: Option<UserId>,
    /// Agents this call ties up outside the ACD (the extension that placed it, the extension
    /// it rings): the ACD offers them no queue call until it ends.
    outside_agents: Vec<UserId>,
    /// Whether the call has been answered (a supervisor may step into answered calls only).
    answered: bool,
}

/// The transaction user.
pub(crate) struct SipTu {
    pub registrar: Registrar,
    pub b2bua: B2bua,
    /// Proxy digest for INVITEs from phones (separate nonces and lockout from REGISTER).
    pub call_auth: Authenticator,
    pub media: RelayPlane,
    pub media_events: mpsc::Receiver<RelayEvent>,
    pub records: mpsc::UnboundedSender<RecordUpdate>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub realm: String,
    pub handle: SipHandle,
    pub default_tenant: TenantId,
    /// Number → fixed UDP address (`calls.static_routes`, validated at start).
    pub static_routes: HashMap<String, SocketAddr>,
    pub trunk: crate::config::TrunkConfig,
    pub trunk_target: Option<ForkTarget>,
    /// Proxies in front of this node (`sip.trusted_proxies`): lockout counts the phone behind.
    trusted_proxies: Vec<IpAddr>,
    /// username → (when looked up, what the store said).
    pub credentials: HashMap<String, (Timestamp, Option<SipCredential>)>,
    /// AOR → tenant, for persisting bindings.
    pub tenants: HashMap<String, TenantId>,
    facts: HashMap<CallId, CallFacts>,
    metrics: crate::metrics::CallMetrics,
    /// REFERs waiting to be routed (routing may ask the store).
    transfers: Vec<(CallId, String)>,
    /// Supervisors' monitoring calls → the call each one listens to (see `monitoring`).
    monitors: HashMap<CallId, CallId>,
    live: Option<LiveReceiver>,
    pub(super) queueing: queueing::Queueing,
    /// When queues and members are next re-read from the store.
    next_reload: Timestamp,
    /// SIP WebSocket flows: which are open, and which just closed.
    ws: Option<WsTransport>,
    closed_flows: Option<mpsc::Receiver<Peer>>,
    /// Tells the wallboards that agents or queues changed.
    floor: switchboard_crm::live::FloorChanges,
    /// The outbound dialer (none without a trunk or with `dialer.enabled = false`).
    pub(super) dialing: Option<dialing::Dialing>,
    /// This node's part in a cluster (none on a single node).
    pub(super) cluster: Option<cluster_glue::ClusterState>,
}

/// Everything [`SipTu::new`] needs.
pub(crate) struct SipTuParts {
    pub registrar: Registrar,
    pub b2bua: B2bua,
    pub call_auth: Authenticator,
    pub media: RelayPlane,
    pub media_events: mpsc::Receiver<RelayEvent>,
    pub records: mpsc::UnboundedSender<RecordUpdate>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub realm: String,
    pub handle: SipHandle,
    pub default_tenant: TenantId,
    pub calls: crate::config::CallsConfig,
    pub trunk: crate::config::TrunkConfig,
    pub tenants: HashMap<String, TenantId>,
    pub metrics: crate::metrics::CallMetrics,
    /// Commands from the API on calls in progress.
    pub live: Option<LiveReceiver>,
    /// The ACD, loaded from the store.
    pub queueing: queueing::Queueing,
    /// The driver's WebSocket side and its closed flows (none in tests without WebSocket).
    pub ws: Option<WsTransport>,
    pub closed_flows: Option<mpsc::Receiver<Peer>>,
    /// The wallboards' change signal (the API holds the other end through its `LiveHandle`).
    pub floor: switchboard_crm::live::FloorChanges,
    pub dialing: Option<dialing::Dialing>,
    pub cluster: Option<crate::cluster::ClusterLink>,
    pub trusted_proxies: Vec<IpAddr>,
}

impl SipTu {
    pub fn new(p: SipTuParts) -> SipTu {
        SipTu {
            trunk_target: invite::trunk_target(&p.trunk),
            registrar: p.registrar,
            b2bua: p.b2bua,
            call_auth: p.call_auth,
            media: p.media,
            media_events: p.media_events,
            records: p.records,
            store: p.store,
            clock: p.clock,
            realm: p.realm,
            handle: p.handle,
            default_tenant: p.default_tenant,
            static_routes: p
                .calls
                .static_routes
                .iter()
                .filter_map(|(n, a)| Some((n.clone(), a.parse().ok()?)))
                .collect(),
            trunk: p.trunk,
            trusted_proxies: p.trusted_proxies,
            credentials: HashMap::new(),
            tenants: p.tenants,
            facts: HashMap::new(),
            metrics: p.metrics,
            transfers: Vec::new(),
            monitors: HashMap::new(),
            live: p.live,
            queueing: p.queueing,
            next_reload: Timestamp::default(),
            ws: p.ws,
            closed_flows: p.closed_flows,
            floor: p.floor,
            dialing: p.dialing,
            cluster: p.cluster.map(cluster_glue::ClusterState::new),
        }
    }

    /// This node's name in a cluster.
    pub(super) fn node(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.link.node.as_str())
    }

    pub async fn run(mut self, mut events: mpsc::Receiver<TuEvent>) {
        self.load_claims_elsewhere().await;
        loop {
            let now = self.clock.now();
            let wake = [
                self.registrar.poll_timeout(),
                self.b2bua.poll_timeout(),
                self.queueing.poll_timeout(),
                self.dialing
                    .as_ref()
                    .and_then(dialing::Dialing::poll_timeout),
                Some(self.next_reload),
            ]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.since(now));
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => break,
                },
                Some(e) = self.media_events.recv() => self.on_media_event(e).await,
                Some(peer) = next_closed(&mut self.closed_flows) => self.on_flow_closed(peer).await,
                Some(cmd) = next_dialer_command(&mut self.dialing) => self.on_dialer_command(cmd).await,
                Some((node, event)) = next_cluster_event(&mut self.cluster) => self.on_cluster_event(node, event).await,
                Some((command, reply)) = next_live(&mut self.live) => {
                    let result = self.on_live(command).await;
                    let _ = reply.send(result);
                }
                () = sleep_for(wake) => {
                    let now = self.clock.now();
                    self.registrar.handle_timeout(now);
                    self.persist_bindings(None).await;
                    self.b2bua.handle_timeout(&mut self.media, now);
                    self.queueing.handle_timeout(now);
                    self.dialer_timeout(now);
                    if now >= self.next_reload {
                        self.next_reload = now + queueing::RELOAD_EVERY;
                        if let Err(e) = self.queueing.reload(&self.store, now).await {
                            tracing::error!(error = %e, "re-reading queues failed");
                        }
                    }
                    self.flush().await;
                }
            }
        }
        self.hang_up_all("server-shutdown").await;
    }

    async fn on_event(&mut self, event: TuEvent) {
        let now = self.clock.now();
        match event {
            TuEvent::Request { key, request, from } => {
                if request.method == Method::Register {
                    self.on_register(key, request, from).await;
                } else if B2bua::is_initial_invite(&request) {
                    self.on_invite(key, request, from).await;
                } else {
                    self.b2bua
                        .handle_request(key, request, &mut self.media, now);
                }
            }
            TuEvent::Ack { request, .. } => self.b2bua.handle_ack(&request),
            TuEvent::Response { key, response } => {
                self.b2bua
                    .handle_response(key, response, &mut self.media, now);
            }
            TuEvent::StrayResponse { response, .. } => {
                self.b2bua.handle_stray_response(&response);
            }
            TuEvent::Timeout { key } | TuEvent::TransportError { key } => {
                self.b2bua
                    .handle_transaction_timeout(&key, &mut self.media, now);
            }
            TuEvent::Terminated { key } => self.b2bua.handle_transaction_terminated(&key),
            TuEvent::Send { .. } => {}
        }
        self.flush().await;
    }

    /// A browser's WebSocket closed: nothing can reach its `*.invalid` contact any more, so
    /// its bindings go now (not at expiry) and its calls end cleanly (BYE/CANCEL to the other
    /// side, CDR closed with cause `transport-closed`).
    async fn on_flow_closed(&mut self, peer: Peer) {
        let now = self.clock.now();
        let removed = self.registrar.remove_flow(peer.transport, peer.addr);
        self.persist_bindings(None).await;
        self.b2bua.flow_closed(
            peer,
            EndCause::System("transport-closed"),
            &mut self.media,
            now,
        );
        self.flush().await;
        tracing::info!(addr = %peer.addr, removed, "SIP WebSocket closed");
    }

    /// Whether the WebSocket flow `peer` is still open.
    pub(super) fn ws_open(&self, peer: Peer) -> bool {
        self.ws.as_ref().is_some_and(|ws| ws.is_open(peer))
    }

    async fn on_media_event(&mut self, e: RelayEvent) {
        use switchboard_media::bridge::MediaEvent;
        match e.event {
            MediaEvent::MediaTimeout { leg, cause } => {
                tracing::info!(call = %e.call, ?leg, %cause, "media timeout: ending the call");
                let now = self.clock.now();
                self.b2bua.hangup(
                    &CallId::from(e.call),
                    EndCause::MediaTimeout(cause.as_str()),
                    &mut self.media,
                    now,
                );
                self.flush().await;
            }
            MediaEvent::LegEnded { leg, cause } => {
                // A browser's WebRTC leg failed (ICE/DTLS) or was closed: no stuck call.
                tracing::info!(call = %e.call, ?leg, cause, "media leg ended: ending the call");
                let now = self.clock.now();
                self.b2bua.hangup(
                    &CallId::from(e.call),
                    EndCause::System(cause),
                    &mut self.media,
                    now,
                );
                self.flush().await;
            }
            MediaEvent::Dtmf { leg, event } => {
                self.metrics.dtmf_events.inc();
                tracing::debug!(call = %e.call, ?leg, ?event, "DTMF");
                if leg == switchboard_media::bridge::LegId::A
                    && matches!(
                        event.phase,
                        switchboard_media::dtmf::DtmfPhase::Ended { .. }
                    )
                    && let Some(digit) = event.digit()
                {
                    self.on_caller_key(&CallId::from(e.call), digit);
                    self.flush().await;
                }
            }
            MediaEvent::PlayoutFinished { leg } => {
                // A prompt ended: a caller still waiting hears the music again.
                let call = CallId::from(e.call);
                if leg == switchboard_media::bridge::LegId::A && self.dialer_prompt_finished(&call)
                {
                    self.flush().await;
                } else if leg == switchboard_media::bridge::LegId::A
                    && self.queueing.waiting.contains(&call)
                {
                    self.media.resume_music(&call);
                }
            }
            other => tracing::debug!(call = %e.call, event = ?other, "media"),
        }
    }

    async fn on_live(&mut self, command: LiveCommand) -> Result<LiveReply, LiveError> {
        let (tenant, call) = match &command {
            LiveCommand::PauseRecording { tenant, call }
            | LiveCommand::ResumeRecording { tenant, call }
            | LiveCommand::Hangup { tenant, call } => (tenant, call.clone()),
            LiveCommand::AgentState {
                tenant,
                agent,
                action,
            } => {
                let (tenant, agent, action) = (tenant.clone(), agent.clone(), action.clone());
                return self.on_agent_state(tenant, agent, action).await;
            }
            LiveCommand::QueueLive { tenant } => {
                return Ok(LiveReply::Json(self.queue_live(tenant)));
            }
            LiveCommand::DialerPreview { tenant, agent } => {
                return Ok(self.dialer_preview(tenant, agent));
            }
            LiveCommand::DialerPreviewAction {
                tenant,
                agent,
                dial,
            } => {
                let (tenant, agent, dial) = (tenant.clone(), agent.clone(), *dial);
                self.dialer_preview_action(&tenant, &agent, dial)
                    .map_err(LiveError::NotApplicable)?;
                self.flush().await;
                return Ok(LiveReply::Done);
            }
        };
        if self.facts.get(&call).map(|f| &f.tenant) != Some(tenant) {
            return Err(LiveError::NotInProgress);
        }
        match command {
            LiveCommand::PauseRecording { .. } | LiveCommand::ResumeRecording { .. } => {
                let pause = matches!(command, LiveCommand::PauseRecording { .. });
                self.media
                    .set_recording_paused(&call, pause)
                    .map_err(|m| LiveError::NotApplicable(m.into()))?;
                tracing::info!(%call, pause, "recording paused/resumed from the API");
            }
            LiveCommand::Hangup { .. } => {
                let now = self.clock.now();
                self.b2bua.hangup(
                    &call,
                    EndCause::System("hangup-by-supervisor"),
                    &mut self.media,
                    now,
                );
                self.flush().await;
            }
            LiveCommand::AgentState { .. }
            | LiveCommand::QueueLive { .. }
            | LiveCommand::DialerPreview { .. }
            | LiveCommand::DialerPreviewAction { .. } => {}
        }
        Ok(LiveReply::Done)
    }

    /// Ends every call (shutdown): BYE/CANCEL go out, records are closed.
    async fn hang_up_all(&mut self, cause: &'static str) {
        let now = self.clock.now();
        for id in self.b2bua.call_ids() {
            self.b2bua
                .hangup(&id, EndCause::System(cause), &mut self.media, now);
        }
        self.flush().await;
    }

    /// Carries out what the B2BUA asked for, routing transfers it asked about on the way.
    pub(super) async fn flush(&mut self) {
        loop {
            self.flush_outputs().await;
            if self.run_acd() {
                continue;
            }
            if self.run_dialers() {
                continue;
            }
            if self.settle_cluster().await {
                continue;
            }
            let Some((call, target)) = self.transfers.pop() else {
                break;
            };
            self.transfer(call, target).await;
        }
        // After the whole event, so a burst of ACD inputs is one signal.
        if std::mem::take(&mut self.queueing.touched) {
            self.floor.notify();
        }
    }

    async fn flush_outputs(&mut self) {
        while let Some(out) = self.b2bua.poll_output() {
            match out {
                Output::Respond { key, response } => self.respond(key, response).await,
                Output::Request { request, to } => {
                    if let Err(e) = self.handle.send_request(request, to).await {
                        tracing::warn!(error = %e, to = %to.addr, "sending a SIP request failed");
                    }
                }
                Output::Stateless { message, to } => {
                    let _ = self.handle.send_stateless(message, to).await;
                }
                Output::Event(e) => self.on_call_event(e),
            }
        }
        for update in self.media.take_records() {
            self.record(update);
        }
    }

    fn on_call_event(&mut self, e: CallEvent) {
        self.dialer_call_event(&e);
        match e {
            // The customer of a dialer call picked up (the dialer was told above): the CDR is
            // answered when the agent picks up (`Answered`, with the agent), or at the answer
            // when it is abandoned.
            CallEvent::CustomerAnswered { .. } => {}
            CallEvent::Started {
                call,
                caller,
                callee,
                label,
                sip_call_id,
                at,
            } => {
                let Some(f) = self.facts.get(&call) else {
                    return;
                };
                for agent in &f.outside_agents {
                    self.queueing.outside_call(agent, true, at);
                }
                self.metrics.active.inc();
                tracing::info!(
                    %call,
                    caller = %switchboard_core::Masked::phone(&caller),
                    callee = %switchboard_core::Masked::phone(&callee),
                    target = %label,
                    "call started"
                );
                self.record(RecordUpdate::CallStarted {
                    id: call,
                    tenant: f.tenant.clone(),
                    direction: f.direction,
                    caller,
                    callee,
                    target: label,
                    queue: f.queue.clone(),
                    agent: f.agent.clone(),
                    sip_call_id,
                    at,
                });
            }
            CallEvent::Ringing { call, at } => self.record(RecordUpdate::Ringing { id: call, at }),
            CallEvent::Answered {
                call,
                sip_call_id,
                at,
                target,
            } => {
                let acd_agent = self.queueing.answered(&call, target, at);
                if let Some(f) = self.facts.get_mut(&call) {
                    f.answered = true;
                    if let Some(agent) = acd_agent {
                        f.agent = Some(UserId::from(agent.as_str()));
                    }
                }
                let agent = self.facts.get(&call).and_then(|f| f.agent.clone());
                self.record(RecordUpdate::Answered {
                    id: call,
                    sip_call_id,
                    agent,
                    at,
                });
            }
            // Queue calls are routed to the ACD once it is wired in (issue 7); until then the
            // dial plan refuses queue numbers and these do not occur.
            CallEvent::Queued { call, queue, at } => {
                if let Some(watched) = self.monitors.get(&call) {
                    // A supervisor's monitoring call, answered by us: its media is on the
                    // watched call already; nothing to queue.
                    tracing::debug!(%call, %watched, "monitoring call answered");
                    return;
                }
                tracing::info!(%call, %queue, "call waiting in queue");
                let caller = self
                    .facts
                    .get(&call)
                    .map(|f| f.caller.clone())
                    .unwrap_or_default();
                self.queueing
                    .arrived(call, QueueId::from(queue), caller, at);
            }
            CallEvent::OfferFailed { call, status, at } => {
                tracing::info!(%call, status, "offer to an agent failed");
                self.queueing.offer_failed(&call, at);
            }
            CallEvent::TransferRequested { call, target, .. } => {
                self.transfers.push((call, target));
            }
            CallEvent::Transferred { call, .. } => {
                tracing::info!(%call, "transfer answered");
            }
            CallEvent::MediaDirection { call, from, .. } => {
                tracing::debug!(%call, from = from.as_str(), "re-INVITE relayed");
            }
            CallEvent::Ended {
                call,
                cause,
                status,
                by,
                at,
            } => {
                tracing::info!(%call, cause = %cause, ?status, by = by.as_str(), "call ended");
                self.end_monitors(&call);
                if let Some(f) = self.facts.remove(&call) {
                    self.metrics.active.dec();
                    for agent in &f.outside_agents {
                        self.queueing.outside_call(agent, false, at);
                    }
                }
                let dropped = matches!(cause, EndCause::MediaTimeout(_));
                self.queueing.ended(&call, dropped, at);
                self.metrics
                    .ended
                    .get_or_create(&crate::metrics::CauseLabels {
                        cause: cause.as_str().to_owned(),
                    })
                    .inc();
                self.record(RecordUpdate::Ended {
                    id: call,
                    cause: cause.as_str().to_owned(),
                    status,
                    by: match by {
                        HangupBy::Caller => call_store::HangupBy::Caller,
                        HangupBy::Callee => call_store::HangupBy::Callee,
                        HangupBy::System => call_store::HangupBy::System,
                    },
                    at,
                });
            }
        }
    }

    pub(super) async fn respond(&self, key: TxKey, response: Response) {
        if self.handle.respond(key, response).await.is_err() {
            tracing::debug!("SIP driver stopped before the answer");
        }
    }
}

/// `udp:127.0.0.1:5070` ↔ (transport, address).
pub(crate) fn source_text(transport: Transport, addr: SocketAddr) -> String {
    format!("{}:{addr}", transport.to_string().to_ascii_lowercase())
}

pub(crate) fn parse_source(s: &str) -> Option<(Transport, SocketAddr)> {
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

/// The host for our Via/Contact: the configured one, else the UDP listen address.
pub(crate) fn advertised_host(config: &crate::config::Config) -> String {
    if config.sip.advertised_host.is_empty() {
        let ip: IpAddr = config.sip.udp_listen.ip();
        ip.to_string()
    } else {
        config.sip.advertised_host.clone()
    }
}

/// The next closed WebSocket flow, or never without WebSocket.
async fn next_closed(closed: &mut Option<mpsc::Receiver<Peer>>) -> Option<Peer> {
    match closed {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The next command of the dialer driver, or never without a dialer.
async fn next_dialer_command(
    dialing: &mut Option<dialing::Dialing>,
) -> Option<crate::dialer_driver::DialerCommand> {
    match dialing {
        Some(d) => d.commands.recv().await,
        None => std::future::pending().await,
    }
}

/// The next event from the other nodes, or never on a single node.
async fn next_cluster_event(
    cluster: &mut Option<cluster_glue::ClusterState>,
) -> Option<(String, crate::cluster::ClusterEvent)> {
    match cluster {
        Some(c) => c.link.events.recv().await,
        None => std::future::pending().await,
    }
}

/// The next API command, or never when the API is not connected.
async fn next_live(live: &mut Option<LiveReceiver>) -> Option<LiveRequest> {
    match live {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_for(d: Option<Duration>) {
    match d {
        // At least a millisecond, so an already-due deadline cannot spin the loop.
        Some(d) => tokio::time::sleep(d.max(Duration::from_millis(1))).await,
        None => std::future::pending().await,
    }
}
