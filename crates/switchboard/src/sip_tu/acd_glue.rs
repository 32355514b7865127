//! The call control's side of the ACD: carrying out what it asks (ring an agent's phones,
//! stop ringing, store state changes and call-back tasks) and agents' requests from the API.

use serde_json::{Value, json};
use switchboard_acd::Output;
use switchboard_core::{AgentId, CallId, TenantId, Timestamp, UserId};
use switchboard_crm::live::{AgentStateAction, LiveError, LiveReply};
use switchboard_sip::b2bua::ForkTarget;
use switchboard_sip::message::Uri;
use switchboard_sip::transaction::Peer;

use super::SipTu;
use super::browsers::one_media_kind;
use super::queueing::{AgentAction, Queueing};
use super::records::RecordUpdate;

impl SipTu {
    /// Carries out every pending ACD output; true if there was any (the B2BUA may then have
    /// output of its own to send).
    pub(super) fn run_acd(&mut self) -> bool {
        let mut any = false;
        while let Some(out) = self.queueing.poll_output() {
            any = true;
            let now = self.clock.now();
            match out {
                Output::Offer { call, agents, .. } => match &mut self.cluster {
                    // Several nodes: rung once the agents are this node's (`settle_cluster`).
                    Some(cluster) => cluster.hold_offer(call, agents),
                    None => self.ring_offer(call, agents, now),
                },
                Output::CancelOffer { call, reason, .. } => {
                    tracing::debug!(%call, ?reason, "offer withdrawn");
                    self.queueing.offers.remove(&call);
                    self.b2bua.cancel_offer(&call);
                }
                Output::AgentStateChanged(change) => {
                    tracing::info!(agent = %change.agent, to = %change.to, reason = ?change.reason, "agent state");
                    // Another node's announcement: stored by that node.
                    let remote = self.cluster.as_ref().is_some_and(|c| c.is_remote(&change));
                    if !remote && let Some(row) = self.queueing.state_row(&change, None) {
                        self.record(RecordUpdate::AgentState(row));
                    }
                    self.cluster_state_changed(&change);
                }
                Output::WaitAlert {
                    call,
                    queue,
                    waited,
                } => {
                    self.metrics.wait_alerts.inc();
                    tracing::warn!(%call, %queue, waited_secs = waited.as_secs(), "caller waiting too long");
                }
                Output::Overflow { call, from, to } => {
                    tracing::info!(%call, %from, %to, "call overflowed to another queue");
                }
                Output::OfferCallback { call, queue } => {
                    tracing::info!(%call, %queue, "offering the caller a call-back (press 1)");
                    self.queueing.callback_offered.insert(call.clone());
                    self.media.play_callback_prompt(&call);
                }
                Output::CallbackTaskNeeded {
                    call,
                    caller,
                    owner,
                    reason,
                    at,
                } => {
                    let tenant = match &owner {
                        switchboard_acd::TaskOwner::Queue(q) => Queueing::tenant_of_queue(q),
                        switchboard_acd::TaskOwner::Agent(a) => {
                            self.queueing.agents.get(a).map(|i| i.tenant.clone())
                        }
                    };
                    let reason = serde_json::to_value(reason)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "callback".into());
                    if let Some(tenant) = tenant {
                        self.record(RecordUpdate::Task {
                            tenant,
                            call,
                            phone: caller,
                            reason,
                            owner: Queueing::task_owner(&owner),
                            due: at,
                        });
                    }
                }
            }
        }
        any
    }

    /// Rings the registered phones of the agents the ACD offered the call to.
    pub(super) fn ring_offer(&mut self, call: CallId, agents: Vec<AgentId>, now: Timestamp) {
        let phones: Vec<(ForkTarget, AgentId)> = agents
            .iter()
            .flat_map(|a| self.phones_of(a).into_iter().map(|t| (t, a.clone())))
            .collect();
        let phones = one_media_kind(&mut self.media, &call, phones, |(t, _)| t);
        let (targets, by_target): (Vec<_>, Vec<_>) = phones.into_iter().unzip();
        if targets.is_empty() {
            tracing::info!(%call, "offered agents have no registered phone");
            self.queueing.offers.insert(call.clone(), agents);
            self.queueing.offer_failed(&call, now);
        } else if self.b2bua.offer(&call, targets, &mut self.media, now) {
            self.queueing.offers.insert(call, by_target);
        } else {
            // The call left before the ACD heard of it.
            self.queueing.ended(&call, false, now);
        }
    }

    /// A key the caller pressed: 1 after a call-back offer accepts it, which ends the call
    /// with a call-back task for the queue.
    pub(super) fn on_caller_key(&mut self, call: &switchboard_core::CallId, digit: char) {
        if digit != '1' || !self.queueing.callback_offered.contains(call) {
            return;
        }
        let now = self.clock.now();
        self.queueing.callback_accepted(call, now);
        self.b2bua.hangup(
            call,
            switchboard_sip::b2bua::EndCause::System("callback-requested"),
            &mut self.media,
            now,
        );
    }

    /// The registered phones of an agent, as fork targets.
    pub(super) fn phones_of(&self, agent: &AgentId) -> Vec<ForkTarget> {
        let Some(info) = self.queueing.agents.get(agent) else {
            return Vec::new();
        };
        info.extensions
            .iter()
            .flat_map(|ext| {
                let aor = Uri::sip(Some(ext), &self.realm, None).aor();
                self.registrar.lookup(&aor).to_vec()
            })
            .map(|b| ForkTarget {
                uri: b.contact.clone(),
                peer: Peer {
                    transport: b.transport,
                    addr: b.source,
                },
                credentials: None,
                caller_id: None,
            })
            .collect()
    }

    pub(super) async fn on_agent_state(
        &mut self,
        tenant: TenantId,
        agent: UserId,
        action: AgentStateAction,
    ) -> Result<LiveReply, LiveError> {
        let login = matches!(action, AgentStateAction::Login { .. });
        if (login
            || !self
                .queueing
                .agents
                .contains_key(&AgentId::from(agent.as_str())))
            && let Err(e) = self
                .queueing
                .refresh_agent(&self.store, &tenant, &agent)
                .await
        {
            tracing::error!(error = %e, "loading an agent's phones failed");
            return Err(LiveError::Unavailable);
        }
        let action = match action {
            AgentStateAction::Login { ready } => AgentAction::Login { ready },
            AgentStateAction::Logout => AgentAction::Logout,
            AgentStateAction::Ready => AgentAction::Ready,
            AgentStateAction::NotReady { reason } => AgentAction::NotReady(reason),
            AgentStateAction::EndWrapUp => AgentAction::EndWrapUp,
        };
        let now = self.clock.now();
        let end_wrap_up = matches!(action, AgentAction::EndWrapUp);
        if let Err(e) = self.queueing.agent_action(&tenant, &agent, action, now) {
            // In wrap-up on another node's call: that node ends it.
            if end_wrap_up && self.forward_end_wrap_up(&tenant, &agent) {
                return Ok(LiveReply::Done);
            }
            return Err(LiveError::NotApplicable(e));
        }
        self.flush().await;
        Ok(LiveReply::Done)
    }

    /// The ACD's live figures, cut to one tenant.
    pub(super) fn queue_live(&self, tenant: &TenantId) -> Value {
        let now = self.clock.now();
        let live = serde_json::to_value(self.queueing.acd.live(now)).unwrap_or(Value::Null);
        let prefix = format!("{tenant}/");
        let queues: Vec<Value> = live["queues"]
            .as_array()
            .map(|qs| {
                qs.iter()
                    .filter(|q| {
                        q["queue"]
                            .as_str()
                            .is_some_and(|id| id.starts_with(&prefix))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let agents: Vec<Value> = live["agents"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter(|a| {
                        a["agent"].as_str().is_some_and(|id| {
                            self.queueing
                                .agents
                                .get(&AgentId::from(id))
                                .is_some_and(|i| &i.tenant == tenant)
                        })
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        json!({ "queues": queues, "agents": agents })
    }
}
