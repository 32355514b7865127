//! Queue calls: the pure ACD (`switchboard-acd`) between the B2BUA and the agents' phones.
//!
//! The call control parks a queue call (the caller hears music on hold) and tells the ACD; the
//! ACD picks agents and keeps the ring clock; an offer rings the agent's registered phones
//! through the B2BUA; answers, refusals, hang-ups and drops go back to the ACD, whose state
//! changes and call-back (回访) tasks are stored.
//!
//! Queue ids inside the ACD are `<tenant>/<queue>`, so one ACD serves every tenant; agents are
//! user ids (unique across tenants). Queues and members come from the store at start and are
//! re-read every [`RELOAD_EVERY`], so changes made through the API take effect without a
//! restart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use switchboard_acd::{
    Acd, AcdSettings, AgentStatus, Input, Member, NotReadyReason, Output, QueueConfig, StateChange,
    TaskOwner,
};
use switchboard_core::{AgentId, CallId, QueueId, TenantId, Timestamp, UserId};
use switchboard_store::acd::{self as acd_store, agent_status};
use switchboard_store::{Store, StoreError, sip as sip_store, tenants};

/// How often queues and members are re-read from the store.
pub(crate) const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// The ACD's id of a tenant's queue.
pub(crate) fn acd_queue_id(tenant: &TenantId, queue: &QueueId) -> QueueId {
    QueueId::from(format!("{tenant}/{queue}"))
}

/// An agent's tenant and the extensions their phones register as.
#[derive(Debug, Clone)]
pub(crate) struct AgentInfo {
    pub tenant: TenantId,
    pub extensions: Vec<String>,
}

/// What agents can ask for (from the console, through the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AgentAction {
    Login { ready: bool },
    Logout,
    Ready,
    NotReady(String),
    EndWrapUp,
}

/// The ACD and what the call control needs around it.
#[derive(Debug)]
pub(crate) struct Queueing {
    pub acd: Acd,
    /// Dialled number → (tenant, ACD queue id).
    pub numbers: HashMap<String, (TenantId, QueueId)>,
    pub agents: HashMap<AgentId, AgentInfo>,
    /// The agents rung by the current offer of a call, by fork target index.
    pub offers: HashMap<CallId, Vec<AgentId>>,
    /// Calls an agent answered.
    pub connected: HashMap<CallId, AgentId>,
    /// Calls waiting in a queue (no agent yet).
    pub waiting: HashSet<CallId>,
    /// Waiting calls that were offered a call-back (press 1).
    pub callback_offered: HashSet<CallId>,
    /// The ACD was given an input since the wallboards were last told (see
    /// [`switchboard_crm::live::FloorChanges`]); taken by the call control after each event.
    pub touched: bool,
    /// Members per ACD queue as last loaded, to notice removals.
    members: HashMap<QueueId, HashSet<AgentId>>,
}

/// Parses a not-ready reason as the ACD names it.
pub(crate) fn not_ready_reason(s: &str) -> NotReadyReason {
    match s {
        "away" => NotReadyReason::Away,
        "break" => NotReadyReason::Break,
        "lunch" => NotReadyReason::Lunch,
        "training" => NotReadyReason::Training,
        "missed" => NotReadyReason::Missed,
        other => NotReadyReason::Other(other.to_owned()),
    }
}

/// (status, not-ready reason) as stored.
pub(crate) fn stored_status(s: &AgentStatus) -> (&'static str, Option<String>) {
    match s {
        AgentStatus::LoggedOut => (agent_status::LOGGED_OUT, None),
        AgentStatus::Ready => (agent_status::READY, None),
        AgentStatus::NotReady(r) => (agent_status::NOT_READY, Some(r.to_string())),
        AgentStatus::Ringing => (agent_status::RINGING, None),
        AgentStatus::OnCall => (agent_status::ON_CALL, None),
        AgentStatus::WrapUp => (agent_status::WRAP_UP, None),
    }
}

impl Queueing {
    /// An ACD with the tenants' extra not-ready reasons (config `acd.not_ready_reasons`).
    pub fn new(reasons: &[String]) -> Queueing {
        let builtin = ["away", "break", "lunch", "training", "missed"];
        let settings = AcdSettings {
            extra_not_ready_reasons: reasons
                .iter()
                .filter(|r| !builtin.contains(&r.as_str()) && !r.trim().is_empty())
                .cloned()
                .collect(),
        };
        let acd = Acd::new(settings).unwrap_or_else(|e| {
            tracing::error!(error = %e, "ACD settings refused; using the built-in reasons");
            #[allow(clippy::expect_used)]
            Acd::new(AcdSettings::default()).expect("default ACD settings are valid")
        });
        Queueing {
            acd,
            numbers: HashMap::new(),
            agents: HashMap::new(),
            offers: HashMap::new(),
            connected: HashMap::new(),
            waiting: HashSet::new(),
            callback_offered: HashSet::new(),
            touched: false,
            members: HashMap::new(),
        }
    }

    /// `user` started (`busy`) or ended a call the ACD did not route; see
    /// [`Input::OutsideCall`]. Users the ACD does not know are ignored by it.
    pub fn outside_call(&mut self, user: &UserId, busy: bool, now: Timestamp) {
        let agent = AgentId::from(user.as_str());
        self.input(Input::OutsideCall { agent, busy }, now);
    }

    fn input(&mut self, input: Input, now: Timestamp) {
        self.touched = true;
        if let Err(e) = self.acd.handle(input, now) {
            tracing::warn!(error = %e, "ACD refused an input");
        }
    }

    /// Reads queues and members of every tenant and applies the differences.
    pub async fn reload(&mut self, store: &Store, now: Timestamp) -> Result<(), StoreError> {
        let mut numbers = HashMap::new();
        let mut seen_queues = HashSet::new();
        for tenant in tenants::list_tenants(store).await? {
            let tenant = tenant.id;
            for q in acd_store::list_queues(store, &tenant).await? {
                let id = acd_queue_id(&tenant, &q.id);
                let mut config: QueueConfig =
                    serde_json::from_str(&q.config_json).unwrap_or_else(|e| {
                        tracing::warn!(queue = %id, error = %e, "stored queue config unreadable; defaults used");
                        QueueConfig::default()
                    });
                // Overflow targets are the tenant's queue ids; inside the ACD they carry the
                // tenant too.
                if let switchboard_acd::MaxWaitAction::Overflow(target) = &config.on_max_wait {
                    config.on_max_wait =
                        switchboard_acd::MaxWaitAction::Overflow(acd_queue_id(&tenant, target));
                }
                self.input(
                    Input::ConfigureQueue {
                        queue: id.clone(),
                        config,
                    },
                    now,
                );
                if let Some(n) = &q.number {
                    numbers.insert(n.clone(), (tenant.clone(), id.clone()));
                }
                let mut current = HashSet::new();
                for m in acd_store::list_members(store, &tenant, &q.id).await? {
                    let agent = AgentId::from(m.agent_user_id.as_str());
                    let skills: BTreeMap<_, u8> =
                        serde_json::from_str(&m.skills_json).unwrap_or_default();
                    let member = Member {
                        agent: agent.clone(),
                        site: m.site.clone(),
                        skills,
                        priority: u8::try_from(m.priority.clamp(0, 255)).unwrap_or(u8::MAX),
                    };
                    self.input(
                        Input::AddMember {
                            queue: id.clone(),
                            member,
                        },
                        now,
                    );
                    self.know_agent(store, &tenant, &m.agent_user_id).await?;
                    current.insert(agent);
                }
                let before = self.members.insert(id.clone(), current.clone());
                for gone in before.unwrap_or_default().difference(&current) {
                    self.input(
                        Input::RemoveMember {
                            queue: id.clone(),
                            agent: gone.clone(),
                        },
                        now,
                    );
                }
                seen_queues.insert(id);
            }
        }
        let removed: Vec<QueueId> = self
            .members
            .keys()
            .filter(|q| !seen_queues.contains(*q))
            .cloned()
            .collect();
        for q in removed {
            self.members.remove(&q);
            self.input(Input::RemoveQueue { queue: q }, now);
        }
        self.numbers = numbers;
        Ok(())
    }

    /// Loads an agent's tenant and extensions (once; extensions are re-read on login).
    async fn know_agent(
        &mut self,
        store: &Store,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<(), StoreError> {
        let agent = AgentId::from(user.as_str());
        if self.agents.contains_key(&agent) {
            return Ok(());
        }
        self.refresh_agent(store, tenant, user).await
    }

    pub async fn refresh_agent(
        &mut self,
        store: &Store,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<(), StoreError> {
        let extensions = sip_store::credentials_of_user(store, tenant, user)
            .await?
            .into_iter()
            .filter_map(|c| c.extension)
            .collect();
        self.agents.insert(
            AgentId::from(user.as_str()),
            AgentInfo {
                tenant: tenant.clone(),
                extensions,
            },
        );
        Ok(())
    }

    /// After a restart: agents come back as they were when they were ready or not ready; those
    /// caught ringing, talking or wrapping up are made ready again (their calls are gone), and
    /// the log says why.
    pub async fn restore_agents(
        &mut self,
        store: &Store,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        for row in acd_store::all_current_agent_states(store).await? {
            let agent = AgentId::from(row.agent_user_id.as_str());
            self.know_agent(store, &row.tenant_id, &row.agent_user_id)
                .await?;
            match row.status.as_str() {
                agent_status::LOGGED_OUT => {}
                agent_status::READY => self.input(Input::AgentLogin { agent, ready: true }, now),
                agent_status::NOT_READY => {
                    self.input(
                        Input::AgentLogin {
                            agent: agent.clone(),
                            ready: false,
                        },
                        now,
                    );
                    if let Some(r) = row.reason.as_deref().filter(|r| *r != "missed") {
                        self.input(
                            Input::SetNotReady {
                                agent,
                                reason: not_ready_reason(r),
                            },
                            now,
                        );
                    }
                }
                other => {
                    tracing::warn!(
                        agent = %row.agent_user_id,
                        was = other,
                        "agent was {other} when the server stopped; reset to ready (restart)"
                    );
                    self.input(Input::AgentLogin { agent, ready: true }, now);
                }
            }
        }
        Ok(())
    }

    /// An agent's request, checked against their tenant.
    pub fn agent_action(
        &mut self,
        tenant: &TenantId,
        user: &UserId,
        action: AgentAction,
        now: Timestamp,
    ) -> Result<(), String> {
        let agent = AgentId::from(user.as_str());
        match self.agents.get(&agent) {
            Some(info) if &info.tenant == tenant => {}
            _ => return Err("unknown agent".into()),
        }
        // Pressing the button of the state one is already in (a double click, two tabs) is
        // not an error.
        let current = self.acd.agent(&agent).map(|a| a.status.clone());
        let already = match (&action, &current) {
            (AgentAction::Ready, Some(AgentStatus::Ready)) => true,
            (AgentAction::NotReady(r), Some(AgentStatus::NotReady(now))) => {
                &not_ready_reason(r) == now
            }
            (AgentAction::Logout, Some(AgentStatus::LoggedOut) | None) => true,
            _ => false,
        };
        if already {
            return Ok(());
        }
        self.touched = true;
        let input = match action {
            AgentAction::Login { ready } => Input::AgentLogin { agent, ready },
            AgentAction::Logout => Input::AgentLogout { agent },
            AgentAction::Ready => Input::SetReady { agent },
            AgentAction::NotReady(r) => Input::SetNotReady {
                agent,
                reason: not_ready_reason(&r),
            },
            AgentAction::EndWrapUp => Input::EndWrapUp { agent },
        };
        self.acd.handle(input, now).map_err(|e| e.to_string())
    }

    /// The ACD's next request.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.acd.poll_output()
    }

    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.acd.poll_timeout()
    }

    pub fn handle_timeout(&mut self, now: Timestamp) {
        // Ring timeouts, wrap-up ends and wait alerts all change what a wallboard shows.
        self.touched = true;
        if let Err(e) = self.acd.handle_timeout(now) {
            tracing::warn!(error = %e, "ACD timer failed");
        }
    }

    /// A parked call entered its queue.
    pub fn arrived(&mut self, call: CallId, queue: QueueId, caller: String, now: Timestamp) {
        self.waiting.insert(call.clone());
        self.input(
            Input::CallArrived(switchboard_acd::NewCall::new(call, queue, caller)),
            now,
        );
    }

    /// The caller pressed 1 after the call-back offer: the ACD files the task, the call ends.
    pub fn callback_accepted(&mut self, call: &CallId, now: Timestamp) {
        self.callback_offered.remove(call);
        if self.waiting.remove(call) {
            self.input(Input::CallbackAccepted { call: call.clone() }, now);
        }
    }

    /// Fork target `target` of the call's offer answered: its agent has the call.
    pub fn answered(&mut self, call: &CallId, target: usize, now: Timestamp) -> Option<AgentId> {
        let agents = self.offers.remove(call)?;
        let agent = agents.get(target)?.clone();
        self.waiting.remove(call);
        self.callback_offered.remove(call);
        self.connected.insert(call.clone(), agent.clone());
        self.input(
            Input::OfferAnswered {
                call: call.clone(),
                agent: agent.clone(),
            },
            now,
        );
        Some(agent)
    }

    /// Every phone of the offer refused or failed.
    pub fn offer_failed(&mut self, call: &CallId, now: Timestamp) {
        let agents: HashSet<AgentId> = self
            .offers
            .remove(call)
            .unwrap_or_default()
            .into_iter()
            .collect();
        for agent in agents {
            self.input(
                Input::OfferRejected {
                    call: call.clone(),
                    agent,
                },
                now,
            );
        }
    }

    /// Another node had `agent` first: the call moves on (see `cluster_glue`).
    pub fn lost(&mut self, call: &CallId, agent: &AgentId, now: Timestamp) {
        self.input(
            Input::OfferLost {
                call: call.clone(),
                agent: agent.clone(),
            },
            now,
        );
    }

    /// The call is over: abandoned while waiting, or ended/dropped after an agent answered.
    pub fn ended(&mut self, call: &CallId, dropped: bool, now: Timestamp) {
        self.offers.remove(call);
        self.callback_offered.remove(call);
        if self.connected.remove(call).is_some() {
            let cause = if dropped {
                switchboard_acd::EndCause::Dropped
            } else {
                switchboard_acd::EndCause::Normal
            };
            self.input(
                Input::CallEnded {
                    call: call.clone(),
                    cause,
                },
                now,
            );
        } else if self.waiting.remove(call) {
            self.input(Input::CallAbandoned { call: call.clone() }, now);
        }
    }

    /// The tenant of an ACD queue id.
    pub fn tenant_of_queue(queue: &QueueId) -> Option<TenantId> {
        queue
            .as_str()
            .split_once('/')
            .map(|(t, _)| TenantId::from(t))
    }

    /// The agent and tenant a state change concerns, as a stored row.
    pub fn state_row(
        &self,
        change: &StateChange,
        call: Option<CallId>,
    ) -> Option<acd_store::AgentStateRow> {
        let info = self.agents.get(&change.agent)?;
        let (status, reason) = stored_status(&change.to);
        let cause = serde_json::to_value(change.reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned));
        Some(acd_store::AgentStateRow {
            tenant_id: info.tenant.clone(),
            agent_user_id: UserId::from(change.agent.as_str()),
            status: status.to_owned(),
            reason,
            cause,
            since: change.at,
            call_id: call,
        })
    }

    /// The store's owner of a call-back task.
    pub fn task_owner(owner: &TaskOwner) -> switchboard_store::tasks::TaskOwner {
        match owner {
            TaskOwner::Agent(a) => {
                switchboard_store::tasks::TaskOwner::Agent(UserId::from(a.as_str()))
            }
            TaskOwner::Queue(q) => {
                let local = q.as_str().split_once('/').map_or(q.as_str(), |(_, q)| q);
                switchboard_store::tasks::TaskOwner::Queue(QueueId::from(local))
            }
        }
    }
}
