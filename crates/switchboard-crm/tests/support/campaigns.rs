//! A campaign task for router tests: a running campaign of one agent with one task, claimed by
//! that agent (what `GET /campaign-tasks/next` would have handed them).

// Helpers of tests: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, dead_code)]

use serde_json::json;
use switchboard_core::{TenantId, UserId};
use switchboard_store::Store;
use switchboard_store::campaign_tasks::{self, NewCampaignTask, StoredNumber};
use switchboard_store::campaigns::{self, CampaignRecord, CampaignState};

use super::ts;

/// Creates campaign `camp-{n}` and task `ctask-{n}` for `customer` in `tenant`, claimed by
/// `owner` until the API's clock plus a day; returns (task id, campaign id).
pub async fn claimed_task(
    store: &Store,
    tenant: &str,
    n: u32,
    owner: &UserId,
    customer: &str,
) -> (String, String) {
    let tenant = TenantId::from(tenant);
    let campaign = format!("camp-{n}");
    let record = CampaignRecord {
        id: campaign.clone(),
        tenant_id: tenant.clone(),
        name: format!("回访 {n}"),
        kind: "service_follow_up".into(),
        priority: 100,
        dial_mode: "preview".into(),
        max_attempts: 3,
        state: CampaignState::Running,
        starts_at: ts(0),
        ends_at: ts(60 * 24 * 60),
        target: json!({}),
        assignees: json!({"agents": [owner.as_str()]}),
        language: "zh-CN".into(),
        calling: None,
        trigger_kind: None,
        created_by: None,
        resolved_at: Some(ts(0)),
        version: 1,
        created_at: ts(0),
        updated_at: ts(0),
    };
    campaigns::insert(store, &record).await.unwrap();
    let id = format!("ctask-{n}");
    campaign_tasks::insert(
        store,
        &NewCampaignTask {
            id: id.clone(),
            tenant_id: tenant.clone(),
            campaign_id: campaign.clone(),
            kind: "campaign".into(),
            trigger_key: format!("campaign:{campaign}:{customer}"),
            customer_id: customer.to_owned(),
            state: "open".into(),
            priority: 100,
            trigger_at: ts(0),
            due_at: ts(3 * 24 * 60),
            max_attempts: 3,
            time_zone: "Asia/Shanghai".into(),
            key_customer: false,
            numbers: vec![StoredNumber {
                number: format!("+86132{n:08}"),
                blocked_until: None,
                dead: false,
            }],
            purpose: "follow-up".into(),
            owner_agent_id: None,
            now: ts(0),
        },
    )
    .await
    .unwrap();
    let claimed = campaign_tasks::claim(store, &tenant, &id, 1, owner, ts(48 * 60), ts(0))
        .await
        .unwrap();
    assert!(claimed.is_some(), "a fresh task is claimed");
    (id, campaign)
}
