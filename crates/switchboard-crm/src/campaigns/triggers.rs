//! One tick of the trigger driver: the events of the last weeks (orders still unpaid, tickets
//! resolved) go into the campaign crate's `TriggerEngine` with `now`, and each task it asks
//! for is written under its trigger key. The engine is rebuilt from the database on every
//! tick, so the tick holds no memory between runs: a restart, or a second node ticking at the
//! same moment, re-derives the same requests and the unique trigger key turns the repeats
//! into no-ops.

use std::time::Duration;

use switchboard_campaign::template::CampaignType;
use switchboard_campaign::triggers::{
    Input, OrderId, Output, TaskRequest, TriggerConfig, TriggerEngine, TriggerError, TriggerReason,
};
use switchboard_core::{TenantId, Timestamp};
use switchboard_store::campaign_tasks;
use switchboard_store::campaigns::{self, CampaignRecord, CampaignState};
use switchboard_store::tickets::follow_up_trigger_key;
use switchboard_store::{Store, StoreError};

use super::{TaskFor, new_task};

/// What can go wrong in a tick.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Trigger(#[from] TriggerError),
}

/// How far back a tick looks for events: longer than the latest trigger (7 days) plus time for
/// a node that was down a while to catch up.
pub const LOOKBACK: Duration = Duration::from_secs(30 * 86_400);

/// What a tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Tasks written (new, or a ticket's follow-up row filled in).
    pub created: usize,
    /// Requests that could not become a task (customer gone, no valid number), with why.
    pub skipped: Vec<String>,
}

/// The far end of a trigger campaign's dates (they run until a supervisor stops them).
const NO_END: Timestamp = Timestamp::from_millis(253_402_300_799_000);

/// The campaign a trigger reason's tasks go to: (trigger kind, campaign type, priority, name).
fn campaign_of(reason: &TriggerReason) -> (&'static str, CampaignType, i64, &'static str) {
    match reason {
        TriggerReason::OrderReminder { .. } => (
            "order_reminder",
            CampaignType::ConsultedNotBought,
            120,
            "未付款订单提醒（3天） / Unpaid order reminder (3 days)",
        ),
        TriggerReason::OrderWarning { .. } => (
            "order_warning",
            CampaignType::ConsultedNotBought,
            150,
            "未付款订单警告（7天） / Unpaid order warning (7 days)",
        ),
        TriggerReason::TicketFollowUp { .. } => (
            "ticket_follow_up",
            CampaignType::ServiceFollowUp,
            130,
            "工单解决后回访 / Ticket follow-up",
        ),
        TriggerReason::DepositNoVisit => (
            "deposit_no_visit",
            CampaignType::DepositNoVisit,
            110,
            "已交定金未到店 / Deposit, no visit",
        ),
        TriggerReason::Care(_) => (
            "care_call",
            CampaignType::CareCall,
            80,
            "关怀回访 / Care calls",
        ),
        TriggerReason::DroppedCall { .. } => (
            "dropped_call",
            CampaignType::ServiceFollowUp,
            200,
            "掉线回拨 / Dropped-call call-back",
        ),
    }
}

fn trigger_key(reason: &TriggerReason) -> String {
    match reason {
        TriggerReason::OrderReminder { order } => format!("order:{order}:reminder"),
        TriggerReason::OrderWarning { order, .. } => format!("order:{order}:warning"),
        TriggerReason::TicketFollowUp { ticket } => follow_up_trigger_key(ticket),
        TriggerReason::DepositNoVisit => "deposit".to_owned(),
        TriggerReason::Care(o) => format!("care:{o:?}"),
        TriggerReason::DroppedCall { call } => format!("call:{call}:dropped"),
    }
}

/// The tenant's campaign for a trigger kind, created running on first use.
async fn trigger_campaign(
    store: &Store,
    tenant: &TenantId,
    reason: &TriggerReason,
    now: Timestamp,
) -> Result<CampaignRecord, StoreError> {
    let (trigger_kind, kind, priority, name) = campaign_of(reason);
    let template = CampaignRecord {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.clone(),
        name: name.to_owned(),
        kind: kind.as_str().to_owned(),
        priority,
        dial_mode: "preview".into(),
        max_attempts: 3,
        state: CampaignState::Running,
        starts_at: Timestamp::EPOCH,
        ends_at: NO_END,
        target: serde_json::json!({"triggered": trigger_kind}),
        // Any agent of the tenant may take these; a ticket's follow-up goes to its owner.
        assignees: serde_json::json!({"all_agents": true}),
        language: "zh-CN".into(),
        calling: None,
        trigger_kind: Some(trigger_kind.to_owned()),
        created_by: None,
        resolved_at: Some(now),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    campaigns::ensure_trigger_campaign(store, &template).await
}

async fn write_request(
    store: &Store,
    tenant: &TenantId,
    req: &TaskRequest,
    now: Timestamp,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    let key = trigger_key(&req.reason);
    if campaign_tasks::by_trigger_key(store, tenant, &key)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let campaign = trigger_campaign(store, tenant, &req.reason, now).await?;
    let Some(customer) = campaigns::target_customer(store, tenant, &req.customer).await? else {
        report
            .skipped
            .push(format!("{key}: customer '{}' not found", req.customer));
        return Ok(());
    };
    let (reason, ..) = campaign_of(&req.reason);
    let owner = req.preferred_agent.as_ref().map(|a| a.as_str().to_owned());
    let row = new_task(&TaskFor {
        campaign: &campaign,
        kind: req.kind,
        customer: &customer,
        reason,
        trigger_key: key.clone(),
        triggered_at: req.triggered_at,
        sla: req.due.since(req.triggered_at),
        owner: owner.as_deref(),
        purpose: req.purpose.clone(),
        now,
    });
    match row {
        Ok(row) => {
            if campaign_tasks::insert(store, &row).await? {
                report.created += 1;
            }
        }
        Err(why) => report.skipped.push(format!("{key}: {why}")),
    }
    Ok(())
}

/// One tick for every tenant at `now`.
pub async fn tick(
    store: &Store,
    cfg: &TriggerConfig,
    now: Timestamp,
) -> Result<TickReport, TickError> {
    let mut report = TickReport::default();
    let since = Timestamp::from_millis(
        now.as_millis()
            .saturating_sub(i64::try_from(LOOKBACK.as_millis()).unwrap_or(i64::MAX)),
    );
    for tenant in campaigns::tenants(store).await? {
        let mut engine = TriggerEngine::new(*cfg);
        for o in campaigns::unpaid_orders(store, &tenant, since, now).await? {
            engine.handle(
                Input::OrderPlaced {
                    order: OrderId(o.id),
                    customer: o.customer_id,
                    at: o.placed_at,
                },
                now,
            )?;
        }
        for t in campaigns::resolved_tickets(store, &tenant, since, now).await? {
            engine.handle(
                Input::TicketResolved {
                    ticket: t.id.as_str().into(),
                    customer: t.customer_id,
                    owner: t.owner_agent_id.map(|a| a.as_str().into()),
                    at: t.resolved_at,
                },
                now,
            )?;
        }
        engine.handle_timeout(now);
        while let Some(out) = engine.poll_output() {
            match out {
                Output::CheckOrder { order } => {
                    // The shop's stock is not known here: the warning goes out as in stock,
                    // unless the order was cancelled (or paid) since it was read.
                    let state = campaigns::order_state(store, &tenant, &order.0).await?;
                    if state.as_deref() == Some("paid") {
                        engine.handle(Input::OrderPaid { order }, now)?;
                        continue;
                    }
                    engine.handle(
                        Input::OrderChecked {
                            cancelled: state.as_deref() != Some("placed"),
                            in_stock: true,
                            order,
                        },
                        now,
                    )?;
                }
                Output::CreateTask(req) => {
                    write_request(store, &tenant, &req, now, &mut report).await?;
                }
            }
        }
    }
    Ok(report)
}
