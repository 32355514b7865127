//! The outbound dialer inside the call control: one pure [`Dialer`] per running campaign with
//! a dial mode, fed the campaign tasks the driver claims (`crate::dialer_driver`), the ACD's
//! agent states and the calls' progress, and carried out on the B2BUA: an `Originate` is a
//! call through the trunk with the campaign's caller ID; a `Connect` rings the agent's phones
//! (SIP phone or browser) on the answered call, which is then bridged and recorded like any
//! call; an `Abandon` plays the message to the customer and hangs up. What must be stored (the
//! budget's counts, abandoned calls, task outcomes) goes to the driver as [`DialerEvent`]s.
//!
//! Agents: an agent assigned to several running campaigns works the first (highest priority).
//! While on or reserved for a dialer call the agent is "on an outside call" for the ACD (no
//! queue call is offered), and after it they wrap up for `dialer.wrap_up_secs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use switchboard_acd::AgentStatus;
use switchboard_core::{
    AgentId, CallId, CampaignId, CustomerId, E164, TaskId, TenantId, Timestamp, UserId,
};
use switchboard_dialer::{
    AbandonMessage, AgentState, Candidate, Dialer, DialerConfig, FailCause, Input, Mode, Output,
};
use switchboard_media::playout::PlayoutSource;
use switchboard_sip::b2bua::{CallEvent, EndCause, ForkTarget, Origination};
use switchboard_store::calls::Direction;
use tokio::sync::mpsc;

use super::browsers::one_media_kind;
use super::{CallFacts, SipTu};
use crate::dialer_driver::{CampaignSpec, DialerCommand, DialerEvent};
use switchboard_crm::campaigns::dialing::{DialTask, DialerResult};

/// Settings from `[dialer]` (validated at start).
#[derive(Debug, Clone)]
pub(crate) struct DialingSettings {
    pub caller_id: E164,
    pub callback_number: E164,
    /// The abandon message's file (for the log) and its audio.
    pub message_name: String,
    pub message: Arc<PlayoutSource>,
    pub ring_timeout: Duration,
    pub wrap_up: Duration,
    pub preview_auto_dial: Option<Duration>,
    pub day_offset_minutes: i32,
}

/// A customer shown to an agent in preview mode.
#[derive(Debug, Clone)]
pub(crate) struct Preview {
    pub tenant: TenantId,
    pub campaign: String,
    pub task: String,
    pub number: String,
    pub customer: String,
    pub auto_dial_at: Option<Timestamp>,
}

#[derive(Debug)]
struct DialCampaign {
    tenant: TenantId,
    dialer: Dialer,
    agents: Vec<AgentId>,
    tasks: HashMap<TaskId, DialTask>,
    reported: HashMap<AgentId, AgentState>,
    by_dialer_call: HashMap<CallId, CallId>,
}

#[derive(Debug, Clone)]
struct DialCall {
    campaign: String,
    dialer_call: CallId,
    task: TaskId,
    number: String,
    answered_at: Option<Timestamp>,
    agent: Option<AgentId>,
    connected: bool,
}

/// The dialer's state in the call control.
#[derive(Debug)]
pub(crate) struct Dialing {
    pub settings: DialingSettings,
    pub commands: mpsc::Receiver<DialerCommand>,
    pub events: mpsc::UnboundedSender<DialerEvent>,
    campaigns: BTreeMap<String, DialCampaign>,
    order: Vec<String>,
    calls: HashMap<CallId, DialCall>,
    busy_agents: HashMap<AgentId, CallId>,
    wrap_until: HashMap<AgentId, Timestamp>,
    abandoning: HashMap<CallId, Timestamp>,
    connecting: HashMap<CallId, Timestamp>,
    pub previews: HashMap<AgentId, Preview>,
}

/// How long the agent's phone may take to pick up a connected call before the customer is
/// treated as abandoned (the law's 2 s).
const AGENT_PICKUP: Duration = Duration::from_secs(2);

fn mode_of(s: &str) -> Mode {
    match s {
        "progressive" => Mode::Progressive,
        "predictive" => Mode::Predictive,
        _ => Mode::Preview,
    }
}

impl Dialing {
    pub fn new(
        settings: DialingSettings,
        commands: mpsc::Receiver<DialerCommand>,
        events: mpsc::UnboundedSender<DialerEvent>,
    ) -> Dialing {
        Dialing {
            settings,
            commands,
            events,
            campaigns: BTreeMap::new(),
            order: Vec::new(),
            calls: HashMap::new(),
            busy_agents: HashMap::new(),
            wrap_until: HashMap::new(),
            abandoning: HashMap::new(),
            connecting: HashMap::new(),
            previews: HashMap::new(),
        }
    }

    fn emit(&self, e: DialerEvent) {
        if self.events.send(e).is_err() {
            tracing::error!("the dialer driver has stopped");
        }
    }

    /// When the dialers next need [`SipTu::dialer_timeout`].
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.campaigns
            .values()
            .filter_map(|c| c.dialer.poll_timeout())
            .chain(self.wrap_until.values().copied())
            .chain(self.abandoning.values().copied())
            .chain(self.connecting.values().copied())
            .min()
    }

    fn config(&self, spec: &CampaignSpec) -> DialerConfig {
        let mut cfg = DialerConfig::new(
            CampaignId::from(spec.id.as_str()),
            mode_of(&spec.dial_mode),
            self.settings.caller_id.clone(),
            AbandonMessage {
                wav: self.settings.message_name.clone(),
                callback_number: self.settings.callback_number.clone(),
            },
        );
        cfg.ring_timeout = self.settings.ring_timeout;
        cfg.preview_auto_dial = self.settings.preview_auto_dial;
        cfg.abandon.day_offset_minutes = self.settings.day_offset_minutes;
        cfg
    }

    /// The day (for the stored budget) of `at` in campaign `id`.
    fn day_of(&self, id: &str, at: Timestamp) -> i64 {
        self.campaigns
            .get(id)
            .map_or(0, |c| c.dialer.budget().day_of(at))
    }
}

impl SipTu {
    /// A command from the driver: the campaigns to dial, or tasks to call.
    pub(super) async fn on_dialer_command(&mut self, cmd: DialerCommand) {
        let now = self.clock.now();
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        match cmd {
            DialerCommand::Campaigns(specs) => {
                let wanted: Vec<String> = specs.iter().map(|s| s.id.clone()).collect();
                for spec in specs {
                    let agents: Vec<AgentId> = spec
                        .agents
                        .iter()
                        .map(|u| AgentId::from(u.as_str()))
                        .collect();
                    if let Some(c) = d.campaigns.get_mut(&spec.id) {
                        c.agents = agents;
                        let mode = mode_of(&spec.dial_mode);
                        if c.dialer.mode() != mode
                            && let Err(e) = c.dialer.handle(Input::SetMode(mode), now)
                        {
                            tracing::warn!(campaign = %spec.id, error = %e, "dial mode change refused");
                        }
                        continue;
                    }
                    let cfg = d.config(&spec);
                    match Dialer::new(cfg) {
                        Ok(mut dialer) => {
                            dialer.restore(spec.days.iter().copied(), spec.abandons.clone());
                            tracing::info!(campaign = %spec.id, mode = %spec.dial_mode, agents = agents.len(), "dialer started");
                            d.campaigns.insert(
                                spec.id.clone(),
                                DialCampaign {
                                    tenant: spec.tenant.clone(),
                                    dialer,
                                    agents,
                                    tasks: HashMap::new(),
                                    reported: HashMap::new(),
                                    by_dialer_call: HashMap::new(),
                                },
                            );
                        }
                        Err(e) => {
                            tracing::error!(campaign = %spec.id, error = %e, "dialer refused the campaign");
                        }
                    }
                }
                // Campaigns no longer running: their agents are logged out of them, so nothing
                // new is dialled; calls in progress finish.
                let gone: Vec<String> = d
                    .campaigns
                    .keys()
                    .filter(|k| !wanted.contains(k))
                    .cloned()
                    .collect();
                for id in gone {
                    if let Some(c) = d.campaigns.get_mut(&id) {
                        c.agents.clear();
                        if c.dialer.calls_in_flight() == 0 && c.by_dialer_call.is_empty() {
                            tracing::info!(campaign = %id, "dialer stopped");
                            d.campaigns.remove(&id);
                        }
                    }
                }
                d.order = wanted;
            }
            DialerCommand::Candidates { campaign, tasks } => {
                let Some(c) = d.campaigns.get_mut(&campaign) else {
                    // Stopped meanwhile: the dialer's claims on them lapse by themselves.
                    tracing::debug!(%campaign, tasks = tasks.len(), "tasks for a stopped campaign dropped");
                    return;
                };
                for t in tasks {
                    let Ok(number) = E164::parse(&t.number) else {
                        tracing::warn!(task = %t.task_id, "campaign task has no valid number");
                        continue;
                    };
                    let cand = Candidate {
                        task: TaskId::from(t.task_id.as_str()),
                        number,
                        customer: Some(CustomerId::from(t.customer_id.as_str())),
                        allowed_from: now,
                        allowed_until: t.allowed_until,
                    };
                    let task = cand.task.clone();
                    match c.dialer.handle(Input::AddCandidate(cand), now) {
                        Ok(()) => {
                            c.tasks.insert(task, t);
                        }
                        Err(e) => tracing::debug!(error = %e, "candidate refused"),
                    }
                }
            }
        }
        self.flush().await;
    }

    /// Feeds each campaign's dialer the agents' states as the ACD and the dialer's own calls
    /// say, then carries out what the dialers decided. True if anything was done.
    pub(super) fn run_dialers(&mut self) -> bool {
        if self.dialing.is_none() {
            return false;
        }
        let now = self.clock.now();
        self.sync_agents(now);
        let mut any = false;
        loop {
            let mut outs = Vec::new();
            if let Some(d) = self.dialing.as_mut() {
                for (id, c) in &mut d.campaigns {
                    while let Some(o) = c.dialer.poll_output() {
                        outs.push((id.clone(), o));
                    }
                }
            }
            if outs.is_empty() {
                return any;
            }
            any = true;
            for (campaign, out) in outs {
                self.dialer_output(&campaign, out, now);
            }
        }
    }

    fn agent_state_now(&self, agent: &AgentId, now: Timestamp) -> AgentState {
        let Some(d) = self.dialing.as_ref() else {
            return AgentState::LoggedOut;
        };
        if d.busy_agents.contains_key(agent) {
            // The dialer tracks its own calls' agents (reserved, talking).
            return AgentState::Ready;
        }
        if let Some(until) = d.wrap_until.get(agent).filter(|u| **u > now) {
            return AgentState::WrapUp {
                expected_free_at: Some(*until),
            };
        }
        let Some(a) = self.queueing.acd.agent(agent) else {
            return AgentState::LoggedOut;
        };
        match a.status {
            AgentStatus::LoggedOut => AgentState::LoggedOut,
            AgentStatus::NotReady(_) => AgentState::Away,
            AgentStatus::Ringing | AgentStatus::OnCall => AgentState::Busy,
            AgentStatus::WrapUp => AgentState::WrapUp {
                expected_free_at: None,
            },
            AgentStatus::Ready if self.queueing.acd.on_outside_call(agent) => AgentState::Busy,
            AgentStatus::Ready if self.phones_of(agent).is_empty() => AgentState::Away,
            AgentStatus::Ready => AgentState::Ready,
        }
    }

    fn sync_agents(&mut self, now: Timestamp) {
        let Some(d) = self.dialing.as_ref() else {
            return;
        };
        // Each agent works the first campaign (in the driver's order) that lists them.
        let mut taken: HashMap<AgentId, String> = HashMap::new();
        for id in &d.order {
            if let Some(c) = d.campaigns.get(id) {
                for a in &c.agents {
                    taken.entry(a.clone()).or_insert_with(|| id.clone());
                }
            }
        }
        let mut updates: Vec<(String, AgentId, AgentState)> = Vec::new();
        for (id, c) in &d.campaigns {
            let mut agents: Vec<AgentId> = c.agents.clone();
            agents.extend(c.reported.keys().filter(|a| !c.agents.contains(a)).cloned());
            for a in agents {
                let mine = taken.get(&a) == Some(id);
                let state = if mine {
                    self.agent_state_now(&a, now)
                } else {
                    AgentState::LoggedOut
                };
                if c.reported.get(&a) != Some(&state) {
                    updates.push((id.clone(), a, state));
                }
            }
        }
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        for (id, agent, state) in updates {
            if let Some(c) = d.campaigns.get_mut(&id) {
                if state == AgentState::LoggedOut {
                    c.reported.remove(&agent);
                } else {
                    c.reported.insert(agent.clone(), state);
                }
                if let Err(e) = c.dialer.handle(Input::Agent { agent, state }, now) {
                    tracing::warn!(error = %e, "dialer refused an agent state");
                }
            }
        }
    }

    fn dialer_output(&mut self, campaign: &str, out: Output, now: Timestamp) {
        match out {
            Output::Originate(o) => self.dialer_originate(campaign, o, now),
            Output::CancelNoAnswer { call, .. } => {
                if let Some(id) = self.b2bua_call(campaign, &call) {
                    tracing::info!(call = %id, "dialer call rang the full ring time: no answer");
                    self.b2bua
                        .hangup(&id, EndCause::NoAnswer, &mut self.media, now);
                    self.dialer_result(&id, DialerResult::NoAnswer);
                }
            }
            Output::Connect { call, agent, .. } => self.dialer_connect(campaign, &call, agent, now),
            Output::Abandon { call, message, .. } => {
                self.dialer_abandon(campaign, &call, message.is_some(), now)
            }
            Output::Released { task, reason } => {
                let Some(d) = self.dialing.as_mut() else {
                    return;
                };
                let Some(c) = d.campaigns.get_mut(campaign) else {
                    return;
                };
                c.tasks.remove(&task);
                let until = match reason {
                    switchboard_dialer::ReleaseReason::RecentlyAbandoned { until } => Some(until),
                    _ => None,
                };
                let tenant = c.tenant.clone();
                tracing::info!(%task, ?reason, "dialer hands a task back");
                d.previews.retain(|_, p| p.task != task.as_str());
                d.emit(DialerEvent::Released {
                    tenant,
                    campaign: campaign.to_owned(),
                    task: task.to_string(),
                    blocked_until: until,
                });
            }
            Output::Preview {
                agent,
                task,
                number,
                customer,
                auto_dial_at,
            } => {
                let Some(d) = self.dialing.as_mut() else {
                    return;
                };
                let Some(c) = d.campaigns.get(campaign) else {
                    return;
                };
                let tenant = c.tenant.clone();
                tracing::info!(%agent, %task, number = %switchboard_core::Masked::phone(number.as_str()), "preview shown to the agent");
                d.previews.insert(
                    agent.clone(),
                    Preview {
                        tenant: tenant.clone(),
                        campaign: campaign.to_owned(),
                        task: task.to_string(),
                        number: number.as_str().to_owned(),
                        customer: customer.map(|c| c.to_string()).unwrap_or_default(),
                        auto_dial_at,
                    },
                );
                d.emit(DialerEvent::HandTo {
                    tenant,
                    campaign: campaign.to_owned(),
                    task: task.to_string(),
                    agent: UserId::from(agent.as_str()),
                    connected: false,
                });
            }
            Output::SwitchMode { to, reason } => {
                tracing::info!(campaign, %to, ?reason, "dialer pacing changed");
            }
        }
    }

    fn b2bua_call(&self, campaign: &str, dialer_call: &CallId) -> Option<CallId> {
        self.dialing
            .as_ref()?
            .campaigns
            .get(campaign)?
            .by_dialer_call
            .get(dialer_call)
            .cloned()
    }

    fn dialer_originate(
        &mut self,
        campaign: &str,
        o: switchboard_dialer::Originate,
        now: Timestamp,
    ) {
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        let Some(c) = d.campaigns.get_mut(campaign) else {
            return;
        };
        let id = CallId::generate();
        let tenant = c.tenant.clone();
        c.by_dialer_call.insert(o.call.clone(), id.clone());
        d.previews.retain(|_, p| p.task != o.task.as_str());
        let agent = o.reserved_agent.clone();
        if let Some(a) = &agent {
            d.busy_agents.insert(a.clone(), id.clone());
        }
        d.calls.insert(
            id.clone(),
            DialCall {
                campaign: campaign.to_owned(),
                dialer_call: o.call.clone(),
                task: o.task.clone(),
                number: o.number.as_str().to_owned(),
                answered_at: None,
                agent: agent.clone(),
                connected: false,
            },
        );
        let agent_user = agent.as_ref().map(|a| UserId::from(a.as_str()));
        self.facts.insert(
            id.clone(),
            CallFacts {
                tenant: tenant.clone(),
                caller: o.number.as_str().to_owned(),
                direction: Direction::Outbound,
                queue: None,
                agent: agent_user.clone(),
                outside_agents: agent_user.into_iter().collect(),
                answered: false,
            },
        );
        self.media.set_tenant(&id, tenant);
        self.media.set_webrtc_callee(&id, false);
        tracing::info!(call = %id, campaign, number = %switchboard_core::Masked::phone(o.number.as_str()), reserved = ?o.reserved_agent, "dialer places a call");
        let placed = match self.trunk_target.clone() {
            Some(mut target) => {
                target.uri.user = Some(o.number.as_str().to_owned());
                let origination = Origination {
                    target,
                    caller_id: o.caller_id.as_str().to_owned(),
                    label: format!("dialer:{campaign}"),
                    // The dialer cancels at its ring timeout; this is only the backstop.
                    ring_timeout: o.ring_timeout + Duration::from_secs(10),
                };
                self.b2bua
                    .originate(id.clone(), origination, &mut self.media, now)
            }
            None => false,
        };
        if !placed {
            tracing::warn!(call = %id, "dialer call could not be placed (no trunk or no ports)");
            self.facts.remove(&id);
            self.dialer_failed(&id, FailCause::Unreachable, now);
        }
    }

    fn dialer_connect(&mut self, campaign: &str, call: &CallId, agent: AgentId, now: Timestamp) {
        let Some(id) = self.b2bua_call(campaign, call) else {
            return;
        };
        let phones: Vec<ForkTarget> = self.phones_of(&agent);
        let phones = one_media_kind(&mut self.media, &id, phones, |t| t);
        let user = UserId::from(agent.as_str());
        if let Some(f) = self.facts.get_mut(&id) {
            f.agent = Some(user.clone());
            if !f.outside_agents.contains(&user) {
                f.outside_agents.push(user.clone());
                self.queueing.outside_call(&user, true, now);
            }
        }
        let offered = !phones.is_empty() && self.b2bua.offer(&id, phones, &mut self.media, now);
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        d.busy_agents.insert(agent.clone(), id.clone());
        let mut hand = None;
        if let Some(dc) = d.calls.get_mut(&id) {
            dc.agent = Some(agent.clone());
            dc.connected = true;
            if let Some(c) = d.campaigns.get(&dc.campaign) {
                hand = Some((c.tenant.clone(), dc.task.to_string()));
            }
        }
        if !offered {
            tracing::warn!(call = %id, %agent, "the agent's phone cannot be rung: abandoned");
            self.dialer_connect_failed(&id, now);
            return;
        }
        tracing::info!(call = %id, %agent, "dialer connects the customer to the agent");
        d.connecting.insert(id.clone(), now + AGENT_PICKUP);
        if let Some((tenant, task)) = hand {
            d.emit(DialerEvent::HandTo {
                tenant,
                campaign: campaign.to_owned(),
                task,
                agent: user,
                connected: true,
            });
        }
    }

    fn dialer_connect_failed(&mut self, id: &CallId, now: Timestamp) {
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        d.connecting.remove(id);
        let Some(dc) = d.calls.get(id).cloned() else {
            return;
        };
        self.b2bua.cancel_offer(id);
        if let Some(c) = d.campaigns.get_mut(&dc.campaign)
            && let Err(e) = c.dialer.handle(
                Input::ConnectFailed {
                    call: dc.dialer_call.clone(),
                },
                now,
            )
        {
            tracing::warn!(error = %e, "dialer refused a failed connect");
        }
    }

    fn dialer_abandon(
        &mut self,
        campaign: &str,
        call: &CallId,
        customer_there: bool,
        now: Timestamp,
    ) {
        let Some(id) = self.b2bua_call(campaign, call) else {
            return;
        };
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        d.connecting.remove(&id);
        let message = d.settings.message.clone();
        let Some(dc) = d.calls.get_mut(&id) else {
            return;
        };
        let answered_at = dc.answered_at.unwrap_or(now);
        let (task, number) = (dc.task.to_string(), dc.number.clone());
        if let Some(a) = dc.agent.take() {
            d.busy_agents.remove(&a);
        }
        let tenant = d
            .campaigns
            .get(campaign)
            .map(|c| c.tenant.clone())
            .unwrap_or_else(|| self.default_tenant.clone());
        let day = d.day_of(campaign, now);
        // The 72 h rule holds whichever campaign dials the number next: the tenant's other
        // dialers learn of the abandon at once (a new one reads it from the store).
        if let Ok(e164) = E164::parse(&number) {
            for (id, c) in d.campaigns.iter_mut() {
                if id != campaign && c.tenant == tenant {
                    c.dialer
                        .restore(std::iter::empty(), std::iter::once((e164.clone(), now)));
                }
            }
        }
        d.emit(DialerEvent::Abandoned {
            tenant,
            campaign: campaign.to_owned(),
            task,
            call: id.to_string(),
            number: number.clone(),
            answered_at,
            at: now,
            day,
            message_played: customer_there,
        });
        tracing::warn!(call = %id, number = %switchboard_core::Masked::phone(&number), "answered call found no agent in time: abandoned");
        self.record(super::records::RecordUpdate::Answered {
            id: id.clone(),
            sip_call_id: String::new(),
            agent: None,
            at: answered_at,
        });
        if customer_there && self.media.play_prompt(&id, message.clone()) {
            let until = now + message.duration() + Duration::from_secs(1);
            if let Some(d) = self.dialing.as_mut() {
                d.abandoning.insert(id, until);
            }
        } else {
            self.b2bua.hangup(
                &id,
                EndCause::System("dialer-abandoned"),
                &mut self.media,
                now,
            );
        }
    }

    /// The abandon message finished: hang up.
    pub(super) fn dialer_prompt_finished(&mut self, call: &CallId) -> bool {
        let Some(d) = self.dialing.as_mut() else {
            return false;
        };
        if d.abandoning.remove(call).is_none() {
            return false;
        }
        let now = self.clock.now();
        self.b2bua.hangup(
            call,
            EndCause::System("dialer-abandoned"),
            &mut self.media,
            now,
        );
        true
    }

    fn dialer_failed(&mut self, id: &CallId, cause: FailCause, now: Timestamp) {
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        let Some(dc) = d.calls.get(id).cloned() else {
            return;
        };
        if let Some(c) = d.campaigns.get_mut(&dc.campaign) {
            // Already cancelled by the dialer (no answer): it has forgotten the call.
            let _ = c.dialer.handle(
                Input::Failed {
                    call: dc.dialer_call.clone(),
                    cause,
                },
                now,
            );
        }
        let result = match cause {
            FailCause::Busy => DialerResult::Busy,
            FailCause::Rejected => DialerResult::InvalidNumber,
            FailCause::Unreachable | FailCause::NoAnswer => DialerResult::NoAnswer,
        };
        self.dialer_result(id, result);
    }

    /// Files the outcome of a dialer call no agent spoke on (once per call).
    fn dialer_result(&mut self, id: &CallId, result: DialerResult) {
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        let Some(dc) = d.calls.get_mut(id) else {
            return;
        };
        if dc.connected || dc.answered_at.is_some() && result != DialerResult::NoAnswer {
            return;
        }
        // Mark it filed: a later Ended event must not file it again.
        dc.connected = true;
        let (campaign, task, number) =
            (dc.campaign.clone(), dc.task.to_string(), dc.number.clone());
        if let Some(a) = dc.agent.take() {
            d.busy_agents.remove(&a);
        }
        let Some(c) = d.campaigns.get_mut(&campaign) else {
            return;
        };
        c.tasks.remove(&TaskId::from(task.as_str()));
        let tenant = c.tenant.clone();
        d.emit(DialerEvent::Result {
            tenant,
            campaign,
            task,
            number,
            result,
        });
    }

    /// A B2BUA event about one of the dialer's calls.
    pub(super) fn dialer_call_event(&mut self, e: &CallEvent) {
        let now = self.clock.now();
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        match e {
            CallEvent::CustomerAnswered { call, at, .. } => {
                let Some(dc) = d.calls.get_mut(call) else {
                    return;
                };
                dc.answered_at = Some(*at);
                let (campaign, dialer_call) = (dc.campaign.clone(), dc.dialer_call.clone());
                let day = d.day_of(&campaign, *at);
                if let Some(c) = d.campaigns.get_mut(&campaign) {
                    let tenant = c.tenant.clone();
                    if let Err(err) = c.dialer.handle(Input::Answered { call: dialer_call }, *at) {
                        tracing::warn!(error = %err, "dialer refused an answer");
                    }
                    d.emit(DialerEvent::LiveAnswer {
                        tenant,
                        campaign,
                        day,
                    });
                }
            }
            CallEvent::Answered { call, .. } => {
                // The agent's phone picked up: the customer is bridged.
                d.connecting.remove(call);
            }
            CallEvent::OfferFailed { call, .. } if d.calls.contains_key(call) => {
                self.dialer_connect_failed(call, now);
            }
            CallEvent::Ended { call, cause, .. } => {
                let Some(dc) = d.calls.remove(call) else {
                    return;
                };
                d.connecting.remove(call);
                d.abandoning.remove(call);
                if let Some(a) = &dc.agent {
                    d.busy_agents.remove(a);
                    if dc.connected {
                        d.wrap_until.insert(a.clone(), now + d.settings.wrap_up);
                    }
                }
                let Some(c) = d.campaigns.get_mut(&dc.campaign) else {
                    return;
                };
                c.by_dialer_call.remove(&dc.dialer_call);
                let input = if dc.answered_at.is_some() {
                    Input::Ended {
                        call: dc.dialer_call.clone(),
                    }
                } else {
                    let cause = match cause {
                        EndCause::Busy => FailCause::Busy,
                        EndCause::NotFound | EndCause::Rejected(_) => FailCause::Rejected,
                        EndCause::NoAnswer => FailCause::NoAnswer,
                        _ => FailCause::Unreachable,
                    };
                    // Put it back so the result is filed once, then forget it.
                    d.calls.insert(call.clone(), dc.clone());
                    self.dialer_failed(call, cause, now);
                    if let Some(d) = self.dialing.as_mut() {
                        d.calls.remove(call);
                    }
                    return;
                };
                // Already resolved inside the dialer (abandoned, no answer): nothing to say.
                let _ = c.dialer.handle(input, now);
                c.tasks.remove(&dc.task);
            }
            _ => {}
        }
    }

    /// Deadlines: the dialers' own, wrap-ups ending, messages that must end, agents' phones
    /// that did not pick up.
    pub(super) fn dialer_timeout(&mut self, now: Timestamp) {
        let Some(d) = self.dialing.as_mut() else {
            return;
        };
        for c in d.campaigns.values_mut() {
            if c.dialer.poll_timeout().is_some_and(|t| t <= now) {
                c.dialer.handle_timeout(now);
            }
        }
        d.wrap_until.retain(|_, t| *t > now);
        let hang: Vec<CallId> = d
            .abandoning
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(c, _)| c.clone())
            .collect();
        let late: Vec<CallId> = d
            .connecting
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(c, _)| c.clone())
            .collect();
        for id in hang {
            self.dialer_prompt_finished(&id);
        }
        for id in late {
            tracing::warn!(call = %id, "the agent's phone did not pick up within 2 s: abandoned");
            self.dialer_connect_failed(&id, now);
        }
    }

    /// What the dialer is previewing for `agent`, as the API shows it.
    pub(super) fn dialer_preview(
        &self,
        tenant: &TenantId,
        agent: &UserId,
    ) -> switchboard_crm::live::LiveReply {
        use switchboard_crm::live::LiveReply;
        let p = self
            .dialing
            .as_ref()
            .and_then(|d| d.previews.get(&AgentId::from(agent.as_str())))
            .filter(|p| &p.tenant == tenant);
        match p {
            Some(p) => LiveReply::Json(serde_json::json!({
                "campaign_id": p.campaign,
                "task_id": p.task,
                "number": p.number,
                "customer_id": p.customer,
                "auto_dial_at": p.auto_dial_at.map(|t| t.to_string()),
            })),
            None => LiveReply::Done,
        }
    }

    /// Preview mode: the agent dials (`dial`) or passes on the customer shown.
    pub(super) fn dialer_preview_action(
        &mut self,
        tenant: &TenantId,
        agent: &UserId,
        dial: bool,
    ) -> Result<(), String> {
        let now = self.clock.now();
        let Some(d) = self.dialing.as_mut() else {
            return Err("the dialer is not running".into());
        };
        let agent = AgentId::from(agent.as_str());
        let Some(p) = d.previews.get(&agent).filter(|p| &p.tenant == tenant) else {
            return Err("no customer is being previewed for you".into());
        };
        let campaign = p.campaign.clone();
        d.previews.remove(&agent);
        let Some(c) = d.campaigns.get_mut(&campaign) else {
            return Err("the campaign is no longer dialling".into());
        };
        let input = if dial {
            Input::PreviewDial { agent }
        } else {
            Input::PreviewSkip { agent }
        };
        c.dialer.handle(input, now).map_err(|e| e.to_string())
    }
}
