//! The outbound dialer's side of campaigns, for the driver in `serve`: which running campaigns
//! it dials and for which agents, the tasks it may dial now (claimed, inside the customer's
//! calling window, with the window's end), handing a task to the agent who got the call (so the
//! agent records the conversation's outcome as usual), and the outcomes the dialer decides by
//! itself (no answer, busy, invalid number, abandoned), through the campaign crate's rules like
//! an agent's.

use std::collections::HashSet;
use std::time::Duration;

use switchboard_campaign::attempts::DialResult;
use switchboard_core::{TenantId, Timestamp, UserId};
use switchboard_store::campaign_tasks::{self, Attempt, Recorded, TaskUpdate};
use switchboard_store::campaigns::{self, CampaignRecord};
use switchboard_store::{StoreError, acd, tenants};

use super::stored_numbers;
use super::{CampaignSettings, GlueError, calling_policy, campaign_type, pure_task, state_str};
use switchboard_store::Store;

/// Something the dialer glue could not do.
#[derive(Debug, thiserror::Error)]
pub enum DialingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Glue(#[from] GlueError),
    #[error("recording the dialer's outcome failed: {0}")]
    Attempt(String),
}

/// A running campaign the dialer works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialerCampaign {
    pub tenant: TenantId,
    pub id: String,
    /// `preview`, `progressive` or `predictive`.
    pub dial_mode: String,
    pub priority: i64,
    /// The agents assigned (listed, the queue's members, or every agent of the tenant).
    pub agents: Vec<UserId>,
}

/// A task the dialer may call now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialTask {
    pub task_id: String,
    pub number: String,
    pub customer_id: String,
    /// The end of the customer's current calling window (at most an hour ahead: the task is
    /// offered again after that).
    pub allowed_until: Timestamp,
}

/// Every running campaign, of every tenant, inside its dates, with its agents.
pub async fn dialer_campaigns(
    store: &Store,
    now: Timestamp,
) -> Result<Vec<DialerCampaign>, DialingError> {
    let mut out = Vec::new();
    for tenant in tenants::list_tenants(store).await? {
        let tenant = tenant.id;
        for c in campaigns::running(store, &tenant).await? {
            if !(c.starts_at <= now && now < c.ends_at) {
                continue;
            }
            let agents = agents_of(store, &tenant, &c).await?;
            out.push(DialerCampaign {
                tenant: tenant.clone(),
                id: c.id.clone(),
                dial_mode: c.dial_mode.clone(),
                priority: c.priority,
                agents,
            });
        }
    }
    // Higher priority first: an agent assigned to several campaigns works the first.
    out.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
    Ok(out)
}

async fn agents_of(
    store: &Store,
    tenant: &TenantId,
    c: &CampaignRecord,
) -> Result<Vec<UserId>, DialingError> {
    if let Some(list) = c
        .assignees
        .get("agents")
        .and_then(serde_json::Value::as_array)
    {
        return Ok(list
            .iter()
            .filter_map(|a| a.as_str().map(UserId::from))
            .collect());
    }
    if let Some(q) = c.assignees.get("queue").and_then(serde_json::Value::as_str) {
        let members = acd::list_members(store, tenant, &switchboard_core::QueueId::from(q)).await?;
        return Ok(members.into_iter().map(|m| m.agent_user_id).collect());
    }
    if c.assignees
        .get("all_agents")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
    {
        let users = switchboard_store::users::list_users(store, tenant).await?;
        return Ok(users
            .into_iter()
            .filter(|u| u.role == switchboard_core::Role::Agent)
            .map(|u| u.id)
            .collect());
    }
    Ok(Vec::new())
}

/// Claims up to `n` tasks of `campaign` for the dialer (`claimer`, until `claim_until`), each
/// open and inside its customer's calling window now; `skip` are tasks the dialer holds
/// already.
#[allow(clippy::too_many_arguments)]
pub async fn claim_tasks(
    store: &Store,
    settings: &CampaignSettings,
    campaign: &DialerCampaign,
    claimer: &UserId,
    skip: &HashSet<String>,
    n: usize,
    claim_until: Timestamp,
    now: Timestamp,
) -> Result<Vec<DialTask>, DialingError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let Some(record) = campaigns::get(store, &campaign.tenant, &campaign.id).await? else {
        return Ok(Vec::new());
    };
    let kind = campaign_type(&record)?;
    let policy = calling_policy(&record, &settings.calling)?;
    let limit = u32::try_from(n + skip.len()).unwrap_or(u32::MAX).min(500);
    let rows = campaign_tasks::candidates(
        store,
        &campaign.tenant,
        std::slice::from_ref(&campaign.id),
        claimer,
        now,
        limit,
    )
    .await?;
    let mut out = Vec::new();
    for row in rows {
        if out.len() >= n {
            break;
        }
        if skip.contains(&row.id) {
            continue;
        }
        let task = pure_task(&row, kind)?;
        let tz = task.spec().tz;
        if !task.is_open() || !policy.is_allowed(now, tz) {
            continue;
        }
        let Some(number) = task.current_number().map(|n| n.as_str().to_owned()) else {
            continue;
        };
        let until = policy
            .allowed_intervals(tz, now, now + Duration::from_secs(3600))
            .first()
            .map_or(now, |i| i.end);
        if until <= now {
            continue;
        }
        let claimed = campaign_tasks::claim(
            store,
            &campaign.tenant,
            &row.id,
            row.version,
            claimer,
            claim_until,
            now,
        )
        .await?;
        if claimed.is_some() {
            out.push(DialTask {
                task_id: row.id.clone(),
                number,
                customer_id: row.customer_id.clone(),
                allowed_until: until,
            });
        }
    }
    Ok(out)
}

/// Hands a task the dialer holds to `agent` until `until` (the agent who got the call, or is
/// previewing it); `until = now` gives it back to everyone.
pub async fn hand_to(
    store: &Store,
    tenant: &TenantId,
    task_id: &str,
    agent: &UserId,
    until: Timestamp,
    now: Timestamp,
) -> Result<bool, DialingError> {
    let Some(row) = campaign_tasks::get(store, tenant, task_id).await? else {
        return Ok(false);
    };
    if row.state != "open" {
        return Ok(false);
    }
    let done =
        campaign_tasks::claim(store, tenant, task_id, row.version, agent, until, now).await?;
    Ok(done.is_some())
}

/// What the dialer saw happen to a call it placed without an agent speaking to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialerResult {
    NoAnswer,
    Busy,
    InvalidNumber,
    /// Answered, no agent within 2 s: the customer heard the message.
    Abandoned,
}

impl DialerResult {
    /// The outcome's name, as the API's `result` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            DialerResult::NoAnswer => "no_answer",
            DialerResult::Busy => "busy",
            DialerResult::InvalidNumber => "invalid_number",
            DialerResult::Abandoned => "abandoned",
        }
    }
}

/// Records a dialer outcome on the task (an attempt, and what the campaign crate decides
/// next: retry later, the next number, out of attempts); the dialer's claim ends. Returns the
/// task's state afterwards, `None` when the task is gone or changed meanwhile.
pub async fn record_result(
    store: &Store,
    settings: &CampaignSettings,
    tenant: &TenantId,
    task_id: &str,
    number: &str,
    result: DialerResult,
    now: Timestamp,
) -> Result<Option<String>, DialingError> {
    let Some(row) = campaign_tasks::get(store, tenant, task_id).await? else {
        return Ok(None);
    };
    let Some(record) = campaigns::get(store, tenant, &row.campaign_id).await? else {
        return Ok(None);
    };
    let kind = campaign_type(&record)?;
    let policy = calling_policy(&record, &settings.calling)?;
    let mut task = pure_task(&row, kind)?;
    if !task.is_open() {
        return Ok(None);
    }
    let dial = match result {
        DialerResult::NoAnswer => DialResult::NoAnswer,
        DialerResult::Busy => DialResult::Busy,
        DialerResult::InvalidNumber => DialResult::InvalidNumber,
        DialerResult::Abandoned => DialResult::AbandonedByDialer,
    };
    task.record_attempt(dial, now, &settings.retry, &policy)
        .map_err(|e| DialingError::Attempt(e.to_string()))?;
    let snap = task.snapshot();
    let update = TaskUpdate {
        state: state_str(snap.state).to_owned(),
        numbers: stored_numbers(&snap.numbers),
        next_number: i64::try_from(snap.next_number).unwrap_or(0),
        round_tried: snap.round_tried.clone(),
        not_before: snap.not_before,
        due_at: snap.due,
        booked_at: snap.booked_at,
        attempts: i64::from(snap.attempts),
        outcome: result.as_str().to_owned(),
        satisfaction: None,
        suggestion: None,
        effective: false,
        talk_seconds: None,
        note: String::new(),
        keep_claim: false,
    };
    let attempt = Attempt {
        id: uuid::Uuid::now_v7().to_string(),
        task_id: row.id.clone(),
        campaign_id: row.campaign_id.clone(),
        agent_id: None,
        number: number.to_owned(),
        result: result.as_str().to_owned(),
        reached: false,
        talk_seconds: 0,
        purpose_stated: false,
        effective: false,
        satisfaction: None,
        suggestion: None,
        booked_at: None,
        visit: None,
        note: String::new(),
        at: now,
    };
    match campaign_tasks::record_attempt(store, tenant, row.version, &update, &attempt).await? {
        Recorded::Applied(t) => Ok(Some(t.state.clone())),
        Recorded::Stale => Ok(None),
    }
}
