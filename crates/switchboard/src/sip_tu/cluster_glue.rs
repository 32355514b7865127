//! The call control's side of a cluster (see [`crate::cluster`]): offers wait for their
//! agents' claims, agents this node has are announced and given back, and what the other
//! nodes announce (registrations, agents' states, agents they have) is applied here.

use std::collections::{HashMap, HashSet};

use switchboard_acd::{AgentStatus, StateChange};
use switchboard_core::{AgentId, CallId, TenantId, UserId};
use switchboard_sip::message::{Transport, Uri};
use switchboard_sip::registrar::Binding;
use switchboard_store::cluster as cluster_store;

use super::SipTu;
use super::queueing::{AgentAction, not_ready_reason};
use crate::cluster::{AgentPresence, ClusterEvent, ClusterLink};

/// A cluster node's state in the call control.
#[derive(Debug)]
pub(crate) struct ClusterState {
    pub link: ClusterLink,
    /// Offers the ACD made, waiting for their agents' claims.
    pending_offers: Vec<(CallId, Vec<AgentId>)>,
    /// Agents this node has.
    claimed: HashSet<AgentId>,
    /// Agents to give back (their call and wrap-up are over).
    pending_releases: Vec<AgentId>,
    /// Agents another node has, with that node: not offered here.
    elsewhere: HashMap<AgentId, String>,
    /// Agents whose state is being set from another node's announcement: not announced back,
    /// not stored twice.
    applying: HashSet<AgentId>,
}

impl ClusterState {
    pub fn new(link: ClusterLink) -> ClusterState {
        ClusterState {
            link,
            pending_offers: Vec::new(),
            claimed: HashSet::new(),
            pending_releases: Vec::new(),
            elsewhere: HashMap::new(),
            applying: HashSet::new(),
        }
    }

    /// An ACD offer: rung once its agents are claimed ([`SipTu::settle_cluster`]).
    pub fn hold_offer(&mut self, call: CallId, agents: Vec<AgentId>) {
        self.pending_offers.push((call, agents));
    }

    /// Whether a state change came from another node's announcement (already stored there).
    pub fn is_remote(&self, change: &StateChange) -> bool {
        self.applying.contains(&change.agent) && presence(&change.to).is_some()
    }
}

/// The replicated part of a status; `None` while the agent is on one node's call.
fn presence(status: &AgentStatus) -> Option<AgentPresence> {
    match status {
        AgentStatus::LoggedOut => Some(AgentPresence::LoggedOut),
        AgentStatus::Ready => Some(AgentPresence::Ready),
        AgentStatus::NotReady(_) => Some(AgentPresence::NotReady),
        AgentStatus::Ringing | AgentStatus::OnCall | AgentStatus::WrapUp => None,
    }
}

impl SipTu {
    /// Agents other nodes have, read at start: none of them is offered a call here.
    pub(super) async fn load_claims_elsewhere(&mut self) {
        let Some(c) = &self.cluster else { return };
        match cluster_store::claims_elsewhere(&self.store, &c.link.node).await {
            Ok(claims) => {
                let now = self.clock.now();
                let fresh: HashMap<AgentId, String> = claims
                    .into_iter()
                    .map(|(a, n)| (AgentId::from(a.as_str()), n))
                    .collect();
                let Some(c) = &mut self.cluster else { return };
                let before = std::mem::take(&mut c.elsewhere);
                c.elsewhere = fresh;
                let (gone, new): (Vec<_>, Vec<_>) = (
                    before
                        .keys()
                        .filter(|a| !c.elsewhere.contains_key(*a))
                        .cloned()
                        .collect(),
                    c.elsewhere
                        .keys()
                        .filter(|a| !before.contains_key(*a))
                        .cloned()
                        .collect(),
                );
                for a in gone {
                    self.queueing
                        .outside_call(&UserId::from(a.as_str()), false, now);
                }
                for a in new {
                    self.queueing
                        .outside_call(&UserId::from(a.as_str()), true, now);
                }
            }
            Err(e) => tracing::error!(error = %e, "reading other nodes' agents failed"),
        }
    }

    /// A local agent state change: announced to the other nodes; an agent back from a call
    /// is given back.
    pub(super) fn cluster_state_changed(&mut self, change: &StateChange) {
        let Some(c) = &mut self.cluster else { return };
        let Some(presence) = presence(&change.to) else {
            return;
        };
        if c.claimed.remove(&change.agent) {
            c.pending_releases.push(change.agent.clone());
        }
        if c.applying.contains(&change.agent) {
            return;
        }
        let Some(info) = self.queueing.agents.get(&change.agent) else {
            return;
        };
        let reason = match &change.to {
            AgentStatus::NotReady(r) => Some(r.to_string()),
            _ => None,
        };
        c.link.publish(ClusterEvent::AgentState {
            tenant: info.tenant.as_str().to_owned(),
            agent: change.agent.as_str().to_owned(),
            status: presence,
            reason,
        });
    }

    /// Claims the agents of held offers (ringing those this node won) and gives back agents
    /// whose calls are over. True if there was anything to do.
    pub(super) async fn settle_cluster(&mut self) -> bool {
        let Some(c) = &mut self.cluster else {
            return false;
        };
        let offers = std::mem::take(&mut c.pending_offers);
        let releases = std::mem::take(&mut c.pending_releases);
        let node = c.link.node.clone();
        if offers.is_empty() && releases.is_empty() {
            return false;
        }
        for agent in releases {
            let user = UserId::from(agent.as_str());
            match cluster_store::release_agent(&self.store, &user, &node).await {
                Ok(_) => self.publish(ClusterEvent::Released {
                    agent: agent.as_str().to_owned(),
                }),
                Err(e) => tracing::error!(%agent, error = %e, "giving an agent back failed"),
            }
        }
        for (call, agents) in offers {
            let now = self.clock.now();
            let mut won = Vec::new();
            for agent in agents {
                let user = UserId::from(agent.as_str());
                match cluster_store::claim_agent(&self.store, &user, &node, &call, now).await {
                    Ok(true) => {
                        if let Some(c) = &mut self.cluster
                            && c.claimed.insert(agent.clone())
                        {
                            c.link.publish(ClusterEvent::Engaged {
                                agent: agent.as_str().to_owned(),
                            });
                        }
                        won.push(agent);
                    }
                    Ok(false) => {
                        tracing::debug!(%call, %agent, "another node has the agent");
                        self.mark_elsewhere(&agent, "?", now);
                        self.queueing.lost(&call, &agent, now);
                    }
                    Err(e) => {
                        // Without the claim another node might ring them too: not this time.
                        tracing::error!(%agent, error = %e, "claiming an agent failed");
                        self.queueing.lost(&call, &agent, now);
                    }
                }
            }
            if !won.is_empty() {
                self.ring_offer(call, won, now);
            }
        }
        true
    }

    fn publish(&self, event: ClusterEvent) {
        if let Some(c) = &self.cluster {
            c.link.publish(event);
        }
    }

    /// `agent` is on `node`'s call: no offer from here until it gives them back.
    fn mark_elsewhere(&mut self, agent: &AgentId, node: &str, now: switchboard_core::Timestamp) {
        let Some(c) = &mut self.cluster else { return };
        if c.elsewhere.insert(agent.clone(), node.to_owned()).is_none() {
            self.queueing
                .outside_call(&UserId::from(agent.as_str()), true, now);
        }
    }

    fn clear_elsewhere(&mut self, agent: &AgentId, node: &str, now: switchboard_core::Timestamp) {
        let Some(c) = &mut self.cluster else { return };
        // "?" stands for a node not yet known (a lost claim); any node's release clears it.
        let held_there = c
            .elsewhere
            .get(agent)
            .is_some_and(|n| n == node || n == "?");
        if held_there {
            c.elsewhere.remove(agent);
            self.queueing
                .outside_call(&UserId::from(agent.as_str()), false, now);
        }
    }

    /// Applies what another node announced.
    pub(super) async fn on_cluster_event(&mut self, node: String, event: ClusterEvent) {
        let now = self.clock.now();
        match event {
            ClusterEvent::Bound {
                tenant,
                aor,
                contact,
                source,
                call_id,
                cseq,
                expires_at,
            } => {
                let Some((transport, source)) = super::parse_source(&source) else {
                    return;
                };
                let Ok(contact) = Uri::parse(&contact) else {
                    return;
                };
                self.tenants.insert(aor.clone(), TenantId::from(tenant));
                self.registrar.restore(
                    [Binding {
                        aor,
                        contact,
                        expires_at: switchboard_core::Timestamp::from_millis(expires_at),
                        call_id,
                        cseq,
                        source,
                        transport,
                        user_agent: None,
                    }],
                    now,
                );
            }
            ClusterEvent::Unbound { aor, contact } => {
                if let Ok(contact) = Uri::parse(&contact) {
                    self.registrar.forget(&aor, &contact);
                }
            }
            ClusterEvent::AgentState {
                tenant,
                agent,
                status,
                reason,
            } => {
                self.apply_remote_state(&tenant, &agent, status, reason.as_deref())
                    .await;
            }
            ClusterEvent::EndWrapUp { tenant, agent } => {
                let tenant = TenantId::from(tenant);
                let user = UserId::from(agent);
                let _ = self
                    .queueing
                    .agent_action(&tenant, &user, AgentAction::EndWrapUp, now);
            }
            ClusterEvent::Engaged { agent } => {
                self.mark_elsewhere(&AgentId::from(agent.as_str()), &node, now);
            }
            ClusterEvent::Released { agent } => {
                self.clear_elsewhere(&AgentId::from(agent.as_str()), &node, now);
            }
            ClusterEvent::NodeLost { node, agents } => {
                for agent in agents {
                    self.clear_elsewhere(&AgentId::from(agent.as_str()), &node, now);
                }
            }
            ClusterEvent::Resync => self.load_claims_elsewhere().await,
        }
        self.flush().await;
        if let Some(c) = &mut self.cluster {
            c.applying.clear();
        }
    }

    /// Brings this node's replica of an agent's state to what another node announced.
    async fn apply_remote_state(
        &mut self,
        tenant: &str,
        agent: &str,
        status: AgentPresence,
        reason: Option<&str>,
    ) {
        let tenant = TenantId::from(tenant);
        let user = UserId::from(agent);
        let id = AgentId::from(agent);
        if !self.queueing.agents.contains_key(&id)
            && let Err(e) = self
                .queueing
                .refresh_agent(&self.store, &tenant, &user)
                .await
        {
            tracing::error!(error = %e, "loading an agent announced by another node failed");
            return;
        }
        let current = self.queueing.acd.agent(&id).map(|a| a.status.clone());
        let logged_out = matches!(current, None | Some(AgentStatus::LoggedOut));
        if current.as_ref().is_some_and(|s| presence(s).is_none()) && status == AgentPresence::Ready
        {
            // Ringing, talking or wrapping up on this node's call: this node says when the
            // agent is ready again. (Not ready or logged out still applies where the ACD
            // allows it: stepping away while ringing or in wrap-up.)
            return;
        }
        let actions: Vec<AgentAction> = match status {
            AgentPresence::LoggedOut if logged_out => vec![],
            AgentPresence::LoggedOut => vec![AgentAction::Logout],
            AgentPresence::Ready if logged_out => vec![AgentAction::Login { ready: true }],
            AgentPresence::Ready => vec![AgentAction::Ready],
            AgentPresence::NotReady => {
                let reason = reason.unwrap_or("away").to_owned();
                let mut list = Vec::new();
                if logged_out {
                    list.push(AgentAction::Login { ready: false });
                }
                // "missed" is the ACD's own to set; here it only has to keep calls away.
                if not_ready_reason(&reason) == switchboard_acd::NotReadyReason::Missed {
                    list.push(AgentAction::NotReady("away".into()));
                } else {
                    list.push(AgentAction::NotReady(reason));
                }
                list
            }
        };
        if let Some(c) = &mut self.cluster {
            c.applying.insert(id);
        }
        let now = self.clock.now();
        for action in actions {
            if let Err(e) = self.queueing.agent_action(&tenant, &user, action, now) {
                tracing::debug!(agent, error = %e, "another node's agent state not applicable here");
            }
        }
    }

    /// An agent's end of wrap-up asked here while another node has them: that node ends it.
    pub(super) fn forward_end_wrap_up(&self, tenant: &TenantId, agent: &UserId) -> bool {
        let Some(c) = &self.cluster else { return false };
        if !c.elsewhere.contains_key(&AgentId::from(agent.as_str())) {
            return false;
        }
        c.link.publish(ClusterEvent::EndWrapUp {
            tenant: tenant.as_str().to_owned(),
            agent: agent.as_str().to_owned(),
        });
        true
    }

    /// A phone's registration changed here: the other nodes can ring it too (not a browser:
    /// its WebSocket ends on this node).
    pub(super) fn announce_binding(&self, event: ClusterEvent, transport: Transport) {
        if matches!(transport, Transport::Udp | Transport::Tcp) {
            self.publish(event);
        }
    }
}
