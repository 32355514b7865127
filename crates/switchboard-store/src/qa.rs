//! Quality assurance on recordings: the QA search (recordings joined with their call, agent,
//! customer and score), comments pinned to a moment of a recording, the tenant's scorecard,
//! scores, and the per-tenant retention setting with what the retention job needs.
//!
//! Scorecards and scores are stored as JSON: their rules (weights summing to 100, the total)
//! belong to the API crate's pure scorecard module, not to SQL.

use switchboard_core::{CallId, TenantId, Timestamp, UserId};

use crate::{Store, StoreError};

/// Which recordings [`search`] returns; empty strings and `None` mean any.
#[derive(Debug, Clone, Default)]
pub struct QaFilter<'a> {
    pub agent: Option<&'a str>,
    pub queue: Option<&'a str>,
    pub campaign: Option<&'a str>,
    /// A customer id: calls with one of the customer's numbers.
    pub customer: Option<&'a str>,
    /// Exactly the caller or the callee.
    pub number: Option<&'a str>,
    /// Recording started at or after / before.
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub min_duration_ms: Option<i64>,
    pub max_duration_ms: Option<i64>,
    /// The call's end cause (`normal-clearing`, `busy`, …), or `answered` / `unanswered`.
    pub outcome: Option<&'a str>,
    /// Score × 100, inclusive; a bound excludes unscored recordings.
    pub min_score_centi: Option<i64>,
    pub max_score_centi: Option<i64>,
    /// `Some(true)`: only scored, `Some(false)`: only unscored.
    pub scored: Option<bool>,
    /// Clamped to 1..=500.
    pub limit: u32,
    /// Continue after this `(started_at, id)` (newest first).
    pub before: Option<(Timestamp, String)>,
}

/// One recording as the QA search lists it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct QaRow {
    pub id: String,
    pub call_id: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub state: String,
    pub deleted_at: Option<i64>,
    pub direction: String,
    pub caller: String,
    pub callee: String,
    pub agent_user_id: Option<String>,
    pub agent_name: Option<String>,
    pub queue: Option<String>,
    pub campaign_id: Option<String>,
    pub end_cause: Option<String>,
    pub answered_at: Option<i64>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub total_centi: Option<i64>,
    pub comments: i64,
}

/// One page of [`search`], newest first.
#[derive(Debug, Clone)]
pub struct QaPage {
    pub items: Vec<QaRow>,
    /// Present when the page is full: `(started_at, id)` of the last item.
    pub next: Option<(Timestamp, String)>,
}

/// The tenant's recordings matching `f`, newest first by `(started_at, id)`.
pub async fn search(
    store: &Store,
    tenant: &TenantId,
    f: &QaFilter<'_>,
) -> Result<QaPage, StoreError> {
    let limit = f.limit.clamp(1, 500);
    let (before_ms, before_id) = f
        .before
        .as_ref()
        .map_or((i64::MAX, ""), |(t, id)| (t.as_millis(), id.as_str()));
    // The customer of a call is the owner of the far end's number: the caller of an inbound
    // call, the callee of an outbound one (as the agent statistics count it).
    let rows: Vec<QaRow> = sqlx::query_as(
        "SELECT r.id, r.call_id, r.started_at, r.duration_ms, r.state, r.deleted_at,
                c.direction, c.caller, c.callee, c.agent_user_id, u.display_name AS agent_name,
                c.queue, c.campaign_id, c.end_cause, c.answered_at,
                cu.id AS customer_id, cu.name AS customer_name,
                s.total_centi,
                (SELECT COUNT(*) FROM recording_comments m
                  WHERE m.tenant_id = r.tenant_id AND m.recording_id = r.id) AS comments
         FROM recordings r
         JOIN calls c ON c.tenant_id = r.tenant_id AND c.id = r.call_id
         LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.agent_user_id
         LEFT JOIN customers cu ON cu.tenant_id = c.tenant_id AND cu.id = (
              SELECT p.customer_id FROM customer_phones p
              WHERE p.tenant_id = c.tenant_id
                AND p.phone = CASE WHEN c.direction = 'outbound' THEN c.callee ELSE c.caller END
              ORDER BY p.customer_id LIMIT 1)
         LEFT JOIN recording_scores s ON s.recording_id = r.id
         WHERE r.tenant_id = $1 AND r.started_at >= $2 AND r.started_at < $3
           AND (r.started_at < $4 OR (r.started_at = $4 AND $5 <> '' AND r.id < $5))
           AND ($6 = '' OR c.agent_user_id = $6)
           AND ($7 = '' OR c.queue = $7)
           AND ($8 = '' OR c.campaign_id = $8)
           AND ($9 = '' OR EXISTS (SELECT 1 FROM customer_phones p
                 WHERE p.tenant_id = c.tenant_id AND p.customer_id = $9
                   AND (p.phone = c.caller OR p.phone = c.callee)))
           AND ($10 = '' OR c.caller = $10 OR c.callee = $10)
           AND r.duration_ms >= $11 AND r.duration_ms <= $12
           AND ($13 = '' OR ($13 = 'answered' AND c.answered_at IS NOT NULL)
                OR ($13 = 'unanswered' AND c.answered_at IS NULL) OR c.end_cause = $13)
           AND ($14 = 0 OR (s.total_centi IS NOT NULL AND s.total_centi >= $15 AND s.total_centi <= $16))
           AND ($17 = '' OR ($17 = 'yes' AND s.recording_id IS NOT NULL)
                OR ($17 = 'no' AND s.recording_id IS NULL))
         ORDER BY r.started_at DESC, r.id DESC LIMIT $18",
    )
    .bind(tenant.as_str())
    .bind(f.since.map_or(i64::MIN, Timestamp::as_millis))
    .bind(f.until.map_or(i64::MAX, Timestamp::as_millis))
    .bind(before_ms)
    .bind(before_id)
    .bind(f.agent.unwrap_or(""))
    .bind(f.queue.unwrap_or(""))
    .bind(f.campaign.unwrap_or(""))
    .bind(f.customer.unwrap_or(""))
    .bind(f.number.unwrap_or(""))
    .bind(f.min_duration_ms.unwrap_or(i64::MIN))
    .bind(f.max_duration_ms.unwrap_or(i64::MAX))
    .bind(f.outcome.unwrap_or(""))
    .bind(i64::from(
        f.min_score_centi.is_some() || f.max_score_centi.is_some(),
    ))
    .bind(f.min_score_centi.unwrap_or(i64::MIN))
    .bind(f.max_score_centi.unwrap_or(i64::MAX))
    .bind(match f.scored {
        None => "",
        Some(true) => "yes",
        Some(false) => "no",
    })
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last())
        .flatten()
        .map(|r| (Timestamp::from_millis(r.started_at), r.id.clone()));
    Ok(QaPage { items: rows, next })
}

/// A comment pinned to a moment of a recording.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Comment {
    pub id: String,
    pub recording_id: String,
    pub offset_ms: i64,
    pub author_id: String,
    pub author_name: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// Adds a comment; the caller has checked that the recording is the tenant's.
pub async fn add_comment(
    store: &Store,
    tenant: &TenantId,
    recording_id: &str,
    offset_ms: i64,
    author: &UserId,
    body: &str,
    now: Timestamp,
) -> Result<String, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO recording_comments (id, tenant_id, recording_id, offset_ms, author_id, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(tenant.as_str())
    .bind(recording_id)
    .bind(offset_ms)
    .bind(author.as_str())
    .bind(body)
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(id)
}

/// A recording's comments in timeline order.
pub async fn comments(
    store: &Store,
    tenant: &TenantId,
    recording_id: &str,
) -> Result<Vec<Comment>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT m.id, m.recording_id, m.offset_ms, m.author_id, u.display_name AS author_name,
                m.body, m.created_at
         FROM recording_comments m
         LEFT JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.author_id
         WHERE m.tenant_id = $1 AND m.recording_id = $2
         ORDER BY m.offset_ms, m.created_at, m.id",
    )
    .bind(tenant.as_str())
    .bind(recording_id)
    .fetch_all(store.pool())
    .await?)
}

/// The tenant's scorecard JSON, or `None` for the built-in default.
pub async fn scorecard(store: &Store, tenant: &TenantId) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT card_json FROM qa_scorecards WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(store.pool())
            .await?,
    )
}

/// Replaces the tenant's scorecard.
pub async fn put_scorecard(
    store: &Store,
    tenant: &TenantId,
    card_json: &str,
    by: &UserId,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO qa_scorecards (tenant_id, card_json, updated_by, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET card_json = excluded.card_json,
              updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .bind(tenant.as_str())
    .bind(card_json)
    .bind(by.as_str())
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// A recording's score.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Score {
    pub recording_id: String,
    pub call_id: String,
    pub agent_user_id: Option<String>,
    pub call_started_at: i64,
    pub total_centi: i64,
    pub values_json: String,
    pub banned_json: String,
    pub card_json: String,
    pub note: String,
    pub scorer_id: String,
    pub scored_at: i64,
}

/// What [`put_score`] writes.
#[derive(Debug, Clone)]
pub struct NewScore<'a> {
    pub recording_id: &'a str,
    pub call_id: &'a CallId,
    pub agent_user_id: Option<&'a UserId>,
    pub call_started_at: Timestamp,
    pub total_centi: i64,
    pub values_json: &'a str,
    pub banned_json: &'a str,
    pub card_json: &'a str,
    pub note: &'a str,
    pub scorer: &'a UserId,
    pub now: Timestamp,
}

/// Scores a recording, replacing an earlier score of it.
pub async fn put_score(
    store: &Store,
    tenant: &TenantId,
    s: &NewScore<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recording_scores (recording_id, tenant_id, call_id, agent_user_id, call_started_at,
              total_centi, values_json, banned_json, card_json, note, scorer_id, scored_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (recording_id) DO UPDATE SET agent_user_id = excluded.agent_user_id,
              call_started_at = excluded.call_started_at, total_centi = excluded.total_centi,
              values_json = excluded.values_json, banned_json = excluded.banned_json,
              card_json = excluded.card_json, note = excluded.note,
              scorer_id = excluded.scorer_id, scored_at = excluded.scored_at",
    )
    .bind(s.recording_id)
    .bind(tenant.as_str())
    .bind(s.call_id.as_str())
    .bind(s.agent_user_id.map(UserId::as_str))
    .bind(s.call_started_at.as_millis())
    .bind(s.total_centi)
    .bind(s.values_json)
    .bind(s.banned_json)
    .bind(s.card_json)
    .bind(s.note)
    .bind(s.scorer.as_str())
    .bind(s.now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// A recording's score, if it has one.
pub async fn score(
    store: &Store,
    tenant: &TenantId,
    recording_id: &str,
) -> Result<Option<Score>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT recording_id, call_id, agent_user_id, call_started_at, total_centi, values_json,
                banned_json, card_json, note, scorer_id, scored_at
         FROM recording_scores WHERE tenant_id = $1 AND recording_id = $2",
    )
    .bind(tenant.as_str())
    .bind(recording_id)
    .fetch_optional(store.pool())
    .await?)
}

/// A scored call of an agent, for the per-agent report.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScoredCall {
    pub agent_id: String,
    pub call_started_at: i64,
    pub total_centi: i64,
}

/// Scores of calls that started in `[from, to)` (of one agent, or of all).
pub async fn scores_between(
    store: &Store,
    tenant: &TenantId,
    agent: Option<&UserId>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<ScoredCall>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT agent_user_id AS agent_id, call_started_at, total_centi FROM recording_scores
         WHERE tenant_id = $1 AND call_started_at >= $2 AND call_started_at < $3
           AND agent_user_id IS NOT NULL AND ($4 = '' OR agent_user_id = $4)",
    )
    .bind(tenant.as_str())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .bind(agent.map_or("", UserId::as_str))
    .fetch_all(store.pool())
    .await?)
}

/// The tenant's retention in days, or `None` for the default.
pub async fn retention_days(store: &Store, tenant: &TenantId) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT recording_days FROM qa_retention WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(store.pool())
            .await?,
    )
}

/// Sets the tenant's retention in days.
pub async fn put_retention_days(
    store: &Store,
    tenant: &TenantId,
    days: i64,
    by: &UserId,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO qa_retention (tenant_id, recording_days, updated_by, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET recording_days = excluded.recording_days,
              updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .bind(tenant.as_str())
    .bind(days)
    .bind(by.as_str())
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// A recording still on disk, as the retention job weighs it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Kept {
    pub id: String,
    pub tenant_id: String,
    pub path: String,
    pub started_at: i64,
    pub state: String,
    /// The tenant's retention setting, if it has one.
    pub recording_days: Option<i64>,
}

/// Every tenant's recordings still on disk whose call started at least their tenant's retention
/// (`default_days` without a setting, never fewer than `min_days`) before `now`, oldest first,
/// at most `limit` (the job works in batches). The caller re-checks each with the pure rule.
pub async fn expired_candidates(
    store: &Store,
    now: Timestamp,
    default_days: i64,
    min_days: i64,
    limit: i64,
) -> Result<Vec<Kept>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT r.id, r.tenant_id, r.path, r.started_at, r.state, t.recording_days
         FROM recordings r LEFT JOIN qa_retention t ON t.tenant_id = r.tenant_id
         WHERE r.deleted_at IS NULL AND r.state <> 'recording'
           AND r.started_at + (CASE WHEN COALESCE(t.recording_days, $2) < $3 THEN $3
                                    ELSE COALESCE(t.recording_days, $2) END) * 86400000 <= $1
         ORDER BY r.started_at, r.id LIMIT $4",
    )
    .bind(now.as_millis())
    .bind(default_days)
    .bind(min_days)
    .bind(limit)
    .fetch_all(store.pool())
    .await?)
}

/// Marks a recording's file as deleted by retention. False if it was already marked.
pub async fn mark_deleted(store: &Store, id: &str, now: Timestamp) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE recordings SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .bind(now.as_millis())
            .execute(store.pool())
            .await?;
    Ok(done.rows_affected() == 1)
}
