//! What the outbound dialer must remember across restarts: live-answered and abandoned counts
//! per campaign day (its abandonment budget: 3 % per day and over 30 days) and every abandoned
//! call (the log, and the 72 h no-redial rule, which holds whichever campaign dials the number
//! again). Migration `20261124000012_dialer.sql`.

use switchboard_core::{TenantId, Timestamp};

use crate::{Store, StoreError};

/// Counts of one campaign day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct DialerDay {
    pub day: i64,
    pub live_answered: i64,
    pub abandoned: i64,
}

/// An answered call that found no agent in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandon {
    pub tenant_id: TenantId,
    pub campaign_id: String,
    pub task_id: String,
    pub call_id: String,
    pub number: String,
    pub answered_at: Timestamp,
    pub abandoned_at: Timestamp,
    pub message_played: bool,
}

/// Adds to a campaign day's counts (creating the day).
pub async fn count_day(
    store: &Store,
    tenant: &TenantId,
    campaign: &str,
    day: i64,
    live_answered: i64,
    abandoned: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO dialer_days (tenant_id, campaign_id, day, live_answered, abandoned)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, campaign_id, day) DO UPDATE SET
           live_answered = dialer_days.live_answered + excluded.live_answered,
           abandoned = dialer_days.abandoned + excluded.abandoned",
    )
    .bind(tenant.as_str())
    .bind(campaign)
    .bind(day)
    .bind(live_answered)
    .bind(abandoned)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// A campaign's days from `from_day` on, oldest first.
pub async fn days(
    store: &Store,
    tenant: &TenantId,
    campaign: &str,
    from_day: i64,
) -> Result<Vec<DialerDay>, StoreError> {
    let rows: Vec<DialerDay> = sqlx::query_as(
        "SELECT day, live_answered, abandoned FROM dialer_days
         WHERE tenant_id = $1 AND campaign_id = $2 AND day >= $3 ORDER BY day",
    )
    .bind(tenant.as_str())
    .bind(campaign)
    .bind(from_day)
    .fetch_all(store.pool())
    .await?;
    Ok(rows)
}

/// Logs an abandoned call.
pub async fn record_abandon(store: &Store, a: &Abandon) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO dialer_abandons (id, tenant_id, campaign_id, task_id, call_id, number,
           answered_at, abandoned_at, message_played)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(a.tenant_id.as_str())
    .bind(a.campaign_id.as_str())
    .bind(a.task_id.as_str())
    .bind(a.call_id.as_str())
    .bind(a.number.as_str())
    .bind(a.answered_at.as_millis())
    .bind(a.abandoned_at.as_millis())
    .bind(i32::from(a.message_played))
    .execute(store.pool())
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct AbandonRow {
    tenant_id: String,
    campaign_id: String,
    task_id: String,
    call_id: String,
    number: String,
    answered_at: i64,
    abandoned_at: i64,
    message_played: i32,
}

impl From<AbandonRow> for Abandon {
    fn from(r: AbandonRow) -> Abandon {
        Abandon {
            tenant_id: TenantId::from(r.tenant_id.as_str()),
            campaign_id: r.campaign_id,
            task_id: r.task_id,
            call_id: r.call_id,
            number: r.number,
            answered_at: Timestamp::from_millis(r.answered_at),
            abandoned_at: Timestamp::from_millis(r.abandoned_at),
            message_played: r.message_played != 0,
        }
    }
}

/// The tenant's abandoned calls since `since` (every campaign), oldest first.
pub async fn abandons_since(
    store: &Store,
    tenant: &TenantId,
    since: Timestamp,
) -> Result<Vec<Abandon>, StoreError> {
    let rows: Vec<AbandonRow> = sqlx::query_as(
        "SELECT tenant_id, campaign_id, task_id, call_id, number, answered_at, abandoned_at,
           message_played FROM dialer_abandons
         WHERE tenant_id = $1 AND abandoned_at >= $2 ORDER BY abandoned_at",
    )
    .bind(tenant.as_str())
    .bind(since.as_millis())
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(Abandon::from).collect())
}
