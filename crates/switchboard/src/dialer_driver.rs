//! The dialer driver in `serve`: a thin task between the store and the dialers inside the call
//! control (`sip_tu::dialing`). Every [`SYNC_EVERY`] it reads the running campaigns (every
//! tenant) and their agents, sends them to the call control (with the stored budget counts and
//! the last 72 h of abandoned calls the first time, so the limits hold across a restart), and
//! tops each campaign's pool of numbers up with tasks it claims inside the customers' calling
//! windows (the campaign crate's rules). It files what the call control reports: live answers
//! and abandoned calls (the budget per campaign day, the abandon log), the outcomes no agent
//! spoke on (no answer, busy, invalid number, abandoned → the campaign crate's retry rules),
//! and hands a task to the agent who got its call (they record the conversation's outcome with
//! `POST /campaign-tasks/{id}/outcome`, as for any call-back) or is previewing it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use switchboard_core::{Clock, E164, TenantId, Timestamp, UserId};
use switchboard_crm::campaigns::CampaignSettings;
use switchboard_crm::campaigns::dialing::{self, DialTask, DialerCampaign, DialerResult};
use switchboard_dialer::DayCount;
use switchboard_store::Store;
use switchboard_store::dialer as dialer_store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How often campaigns are re-read and pools topped up.
pub const SYNC_EVERY: Duration = Duration::from_secs(2);
/// How long the dialer's claim on a task lasts (renewed while it holds it).
const CLAIM_FOR: Duration = Duration::from_secs(600);
/// Numbers kept offered per assigned agent (and a few more).
const POOL_PER_AGENT: usize = 3;
/// Who holds the tasks the dialer has claimed and not yet handed to an agent.
pub const DIALER_CLAIMER: &str = "dialer";
/// A previewing agent holds their task this long.
const PREVIEW_CLAIM: Duration = Duration::from_secs(30 * 60);

/// A campaign for the call control to dial.
#[derive(Debug, Clone)]
pub(crate) struct CampaignSpec {
    pub tenant: TenantId,
    pub id: String,
    pub dial_mode: String,
    pub agents: Vec<UserId>,
    /// Stored counts of the last 30 days (sent once, when the campaign is new to the dialer).
    pub days: Vec<DayCount>,
    /// Abandoned calls of the last 72 h, every campaign of the tenant (sent once).
    pub abandons: Vec<(E164, Timestamp)>,
}

/// From the driver to the call control.
#[derive(Debug)]
pub(crate) enum DialerCommand {
    /// The campaigns to dial now, in order (an agent works the first that lists them).
    Campaigns(Vec<CampaignSpec>),
    /// Tasks to call, claimed for the dialer.
    Candidates {
        campaign: String,
        tasks: Vec<DialTask>,
    },
}

/// From the call control to the driver.
#[derive(Debug, Clone)]
pub(crate) enum DialerEvent {
    LiveAnswer {
        tenant: TenantId,
        campaign: String,
        day: i64,
    },
    Abandoned {
        tenant: TenantId,
        campaign: String,
        task: String,
        call: String,
        number: String,
        answered_at: Timestamp,
        at: Timestamp,
        day: i64,
        message_played: bool,
    },
    Result {
        tenant: TenantId,
        campaign: String,
        task: String,
        number: String,
        result: DialerResult,
    },
    /// The task goes to `agent`: their call was connected, or they are previewing it.
    HandTo {
        tenant: TenantId,
        campaign: String,
        task: String,
        agent: UserId,
        connected: bool,
    },
    /// The dialer gives the task back unused (window closed, skipped, number blocked).
    Released {
        tenant: TenantId,
        campaign: String,
        task: String,
        blocked_until: Option<Timestamp>,
    },
}

struct Driver {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: CampaignSettings,
    commands: mpsc::Sender<DialerCommand>,
    /// Tasks each campaign's dialer holds.
    held: HashMap<String, HashSet<String>>,
    /// Tasks not to offer again before a time (a number blocked by the 72 h rule).
    blocked: HashMap<String, Timestamp>,
    known: HashSet<String>,
    day_offset_minutes: i32,
}

/// Starts the driver; it ends when the call control drops its event sender.
pub(crate) fn spawn(
    store: Store,
    clock: Arc<dyn Clock>,
    settings: CampaignSettings,
    day_offset_minutes: i32,
    commands: mpsc::Sender<DialerCommand>,
    mut events: mpsc::UnboundedReceiver<DialerEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut d = Driver {
            store,
            clock,
            settings,
            commands,
            held: HashMap::new(),
            blocked: HashMap::new(),
            known: HashSet::new(),
            day_offset_minutes,
        };
        let mut tick = tokio::time::interval(SYNC_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = d.sync().await {
                        tracing::warn!(error = %e, "dialer sync failed; retrying");
                    }
                }
                e = events.recv() => match e {
                    Some(e) => {
                        if let Err(err) = d.on_event(e).await {
                            tracing::error!(error = %err, "filing a dialer event failed");
                        }
                    }
                    None => return,
                },
            }
        }
    })
}

impl Driver {
    async fn sync(&mut self) -> Result<(), dialing::DialingError> {
        let now = self.clock.now();
        let campaigns: Vec<DialerCampaign> = dialing::dialer_campaigns(&self.store, now).await?;
        let mut specs = Vec::new();
        for c in &campaigns {
            let mut spec = CampaignSpec {
                tenant: c.tenant.clone(),
                id: c.id.clone(),
                dial_mode: c.dial_mode.clone(),
                agents: c.agents.clone(),
                days: Vec::new(),
                abandons: Vec::new(),
            };
            if !self.known.contains(&c.id) {
                let today = self.day_of(now);
                spec.days = dialer_store::days(&self.store, &c.tenant, &c.id, today - 29)
                    .await?
                    .into_iter()
                    .map(|d| DayCount {
                        day: d.day,
                        live_answered: u64::try_from(d.live_answered).unwrap_or(0),
                        abandoned: u64::try_from(d.abandoned).unwrap_or(0),
                    })
                    .collect();
                let since = Timestamp::from_millis(now.as_millis() - 72 * 3_600_000);
                spec.abandons = dialer_store::abandons_since(&self.store, &c.tenant, since)
                    .await?
                    .into_iter()
                    .filter_map(|a| Some((E164::parse(&a.number).ok()?, a.abandoned_at)))
                    .collect();
                self.known.insert(c.id.clone());
            }
            specs.push(spec);
        }
        // A campaign that stops running is new again when it comes back (resumed): its dialer
        // may be gone by then, and a new one must start from the stored budget and 72 h blocks.
        self.known
            .retain(|id| campaigns.iter().any(|c| &c.id == id));
        if self
            .commands
            .send(DialerCommand::Campaigns(specs))
            .await
            .is_err()
        {
            return Ok(());
        }
        self.blocked.retain(|_, until| *until > now);
        let claimer = UserId::from(DIALER_CLAIMER);
        for c in &campaigns {
            let held = self.held.entry(c.id.clone()).or_default();
            let want = (POOL_PER_AGENT * c.agents.len() + 2).saturating_sub(held.len());
            if c.agents.is_empty() || want == 0 {
                continue;
            }
            let mut skip: HashSet<String> = held.clone();
            skip.extend(self.blocked.keys().cloned());
            let tasks = dialing::claim_tasks(
                &self.store,
                &self.settings,
                c,
                &claimer,
                &skip,
                want,
                now + CLAIM_FOR,
                now,
            )
            .await?;
            if tasks.is_empty() {
                continue;
            }
            held.extend(tasks.iter().map(|t| t.task_id.clone()));
            tracing::debug!(campaign = %c.id, tasks = tasks.len(), "tasks offered to the dialer");
            let _ = self
                .commands
                .send(DialerCommand::Candidates {
                    campaign: c.id.clone(),
                    tasks,
                })
                .await;
        }
        Ok(())
    }

    fn day_of(&self, t: Timestamp) -> i64 {
        (t.as_millis() + i64::from(self.day_offset_minutes) * 60_000).div_euclid(86_400_000)
    }

    fn forget(&mut self, campaign: &str, task: &str) {
        if let Some(h) = self.held.get_mut(campaign) {
            h.remove(task);
        }
    }

    async fn on_event(&mut self, e: DialerEvent) -> Result<(), dialing::DialingError> {
        let now = self.clock.now();
        match e {
            DialerEvent::LiveAnswer {
                tenant,
                campaign,
                day,
            } => {
                dialer_store::count_day(&self.store, &tenant, &campaign, day, 1, 0).await?;
            }
            DialerEvent::Abandoned {
                tenant,
                campaign,
                task,
                call,
                number,
                answered_at,
                at,
                day,
                message_played,
            } => {
                self.forget(&campaign, &task);
                dialer_store::count_day(&self.store, &tenant, &campaign, day, 0, 1).await?;
                dialer_store::record_abandon(
                    &self.store,
                    &dialer_store::Abandon {
                        tenant_id: tenant.clone(),
                        campaign_id: campaign.clone(),
                        task_id: task.clone(),
                        call_id: call,
                        number: number.clone(),
                        answered_at,
                        abandoned_at: at,
                        message_played,
                    },
                )
                .await?;
                dialing::record_result(
                    &self.store,
                    &self.settings,
                    &tenant,
                    &task,
                    &number,
                    DialerResult::Abandoned,
                    now,
                )
                .await?;
            }
            DialerEvent::Result {
                tenant,
                campaign,
                task,
                number,
                result,
            } => {
                self.forget(&campaign, &task);
                let state = dialing::record_result(
                    &self.store,
                    &self.settings,
                    &tenant,
                    &task,
                    &number,
                    result,
                    now,
                )
                .await?;
                tracing::info!(%task, result = result.as_str(), ?state, "dialer outcome filed");
            }
            DialerEvent::HandTo {
                tenant,
                campaign,
                task,
                agent,
                connected,
            } => {
                if connected {
                    self.forget(&campaign, &task);
                }
                let until = now + PREVIEW_CLAIM;
                dialing::hand_to(&self.store, &tenant, &task, &agent, until, now).await?;
            }
            DialerEvent::Released {
                tenant,
                campaign,
                task,
                blocked_until,
            } => {
                self.forget(&campaign, &task);
                if let Some(until) = blocked_until {
                    self.blocked.insert(task.clone(), until);
                }
                let claimer = UserId::from(DIALER_CLAIMER);
                dialing::hand_to(&self.store, &tenant, &task, &claimer, now, now).await?;
            }
        }
        Ok(())
    }
}
