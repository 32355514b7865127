//! `GET /reports/agents|queues|campaigns|tickets?period=day|week|month&date=YYYY-MM-DD`: the
//! supervisors' daily / weekly / monthly reports for the period holding `date` (in the call
//! centre's time zone), as JSON, or CSV with `?format=csv` or `Accept: text/csv`. Definitions
//! of every figure: [`crate::reports`]. Admins, supervisors and QA read them.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use switchboard_acd::QueueConfig;
use switchboard_campaign::quota::{AgentMonth, evaluate};
use switchboard_core::{Role, Timestamp};
use switchboard_store::{acd, agent_stats, campaign_tasks, campaigns, reports, users};
use utoipa::{IntoParams, ToSchema};

use super::customers::ApiQuery;
use super::{ApiError, ApiState, Caller};
use crate::reports::{
    CampaignFigures, CampaignInfo, QueueFigures, TicketFigures, campaign_figures, queue_figures,
    ticket_figures, to_csv,
};
use crate::shifts::Period;

const READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa];

/// Query of every report.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `day`, `week` (Monday-Sunday) or `month` (default).
    pub period: Option<String>,
    /// A local date in the period (YYYY-MM-DD); default today.
    pub date: Option<String>,
    /// `json` (default) or `csv` (also `Accept: text/csv`).
    pub format: Option<String>,
}

/// The period a report covers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportPeriod {
    /// `day`, `week` or `month`.
    pub period: String,
    /// `2027-01-15`, `2027-W03` or `2027-01`.
    pub label: String,
    /// First local date.
    pub from: String,
    /// Last local date, included.
    pub to: String,
    /// IANA zone of the dates.
    pub time_zone: String,
}

/// One agent over the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentReportRow {
    pub agent_id: String,
    pub name: String,
    /// Distinct customers served / converted (as `GET /stats/agents`).
    pub served: usize,
    pub converted: usize,
    pub conversion_rate: Option<f64>,
    /// Effective call-backs (reached, long enough, purpose stated).
    pub effective_calls: u64,
    /// Days with a recorded call-back attempt.
    pub days_worked: u32,
    /// The effective calls the quota asks for those days (per-day quota × days worked).
    pub effective_calls_quota: u64,
    /// Attended visits invited from the call-back list / from other lists.
    pub callback_visits: u32,
    pub other_visits: u32,
    /// Revenue of paid orders credited to the agent, minor units.
    pub revenue_minor: i64,
    /// Month reports only (quotas are monthly): the deduction the month's figures lead to,
    /// percent (calls + visits); `null` for days and weeks or before a day worked.
    pub deduction_pct: Option<u32>,
    /// Average QA score (0-100) of the agent's calls scored in the period; `null` when none.
    pub qa_score: Option<f64>,
}

/// The per-agent report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentReport {
    #[serde(flatten)]
    pub period: ReportPeriod,
    pub rows: Vec<AgentReportRow>,
}

/// The per-queue report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueReport {
    #[serde(flatten)]
    pub period: ReportPeriod,
    pub rows: Vec<QueueFigures>,
}

/// The per-campaign compliance report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignReport {
    #[serde(flatten)]
    pub period: ReportPeriod,
    pub rows: Vec<CampaignFigures>,
}

/// The tickets' SLA report (one row: the tenant).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketReport {
    #[serde(flatten)]
    pub period: ReportPeriod,
    pub rows: Vec<TicketFigures>,
}

/// The period a request names: its kind, instants and how it is shown.
pub(crate) struct Bounds {
    pub kind: Period,
    pub from: Timestamp,
    pub to: Timestamp,
    pub view: ReportPeriod,
}

pub(crate) fn bounds(state: &ApiState, q: &ReportParams) -> Result<Bounds, ApiError> {
    let (kind, name) = match q.period.as_deref().unwrap_or("month") {
        "day" => (Period::Day, "day"),
        "week" => (Period::Week, "week"),
        "month" => (Period::Month, "month"),
        _ => {
            return Err(ApiError::bad_field(
                "period",
                "period must be day, week or month",
            ));
        }
    };
    let policy = &state.shifts;
    let date = match q.date.as_deref() {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| ApiError::bad_field("date", "date must be YYYY-MM-DD"))?,
        None => policy.local_date(state.clock.now()),
    };
    // The period's first day and label, as the statistics count them (weeks Monday-Sunday).
    let (first, label) = match kind {
        Period::Day => (date, date.format("%Y-%m-%d").to_string()),
        Period::Week => {
            let monday =
                date - chrono::Duration::days(i64::from(date.weekday().num_days_from_monday()));
            let iso = date.iso_week();
            (monday, format!("{}-W{:02}", iso.year(), iso.week()))
        }
        Period::Month => (
            date.with_day(1).unwrap_or(date),
            date.format("%Y-%m").to_string(),
        ),
    };
    let next = match kind {
        Period::Day => first.succ_opt(),
        Period::Week => first.checked_add_days(chrono::Days::new(7)),
        Period::Month => first.checked_add_months(chrono::Months::new(1)),
    }
    .ok_or_else(|| ApiError::bad_field("date", "date out of range"))?;
    let last = next.pred_opt().unwrap_or(first);
    Ok(Bounds {
        kind,
        from: policy.start_of(first),
        to: policy.start_of(next),
        view: ReportPeriod {
            period: name.to_owned(),
            label,
            from: first.format("%Y-%m-%d").to_string(),
            to: last.format("%Y-%m-%d").to_string(),
            time_zone: policy.time_zone.name().to_owned(),
        },
    })
}

fn wants_csv(q: &ReportParams, headers: &HeaderMap) -> Result<bool, ApiError> {
    match q.format.as_deref() {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(_) => Err(ApiError::bad_field("format", "format must be json or csv")),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"))),
    }
}

fn respond<R: Serialize, T: Serialize>(
    csv: bool,
    name: &str,
    label: &str,
    report: &R,
    rows: &[T],
) -> Result<Response, ApiError> {
    if !csv {
        return Ok((StatusCode::OK, axum::Json(report)).into_response());
    }
    let body = to_csv(rows).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{name}-report-{label}.csv\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// Per agent: customers served and converted, effective calls, visits, quota and deduction.
/// The QA score is the average of the agent's calls scored in the period (as `GET /stats/agents`).
#[utoipa::path(
    get, path = "/reports/agents", operation_id = "report_agents", tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "One row per agent (CSV with format=csv)", body = AgentReport),
        (status = 400, description = "Bad period, date or format"),
    )
)]
pub(crate) async fn agents(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let csv = wants_csv(&q, &headers)?;
    let b = bounds(&state, &q)?;
    let tenant = caller.tenant();
    let served = agent_stats::served_between(&state.store, tenant, None, b.from, b.to).await?;
    let sales = agent_stats::conversions_between(&state.store, tenant, None, b.from, b.to).await?;
    let scores =
        switchboard_store::qa::scores_between(&state.store, tenant, None, b.from, b.to).await?;
    let stats: HashMap<String, crate::agent_stats::AgentPeriod> =
        crate::agent_stats::aggregate(&state.shifts, b.kind, &served, &sales, &scores)
            .into_iter()
            .map(|r| (r.agent_id.clone(), r))
            .collect();
    let figures = campaign_tasks::agent_figures(&state.store, tenant, None, b.from, b.to).await?;
    let names: HashMap<String, String> = users::list_users(&state.store, tenant)
        .await?
        .into_iter()
        .map(|u| {
            let name = if u.display_name.is_empty() {
                u.username
            } else {
                u.display_name
            };
            (u.id.to_string(), name)
        })
        .collect();
    let table = state.quota.as_ref();
    let mut rows: BTreeMap<String, AgentReportRow> = BTreeMap::new();
    for f in figures {
        let month = AgentMonth {
            agent: f.agent.as_str().into(),
            effective_calls: u64::try_from(f.effective_calls).unwrap_or(0),
            days_worked: u32::try_from(f.days_worked).unwrap_or(0),
            callback_visits: u32::try_from(f.callback_visits).unwrap_or(0),
            other_visits: u32::try_from(f.other_visits).unwrap_or(0),
            revenue_minor: f.revenue_minor,
        };
        let deduction_pct = if matches!(b.kind, Period::Month) && month.days_worked > 0 {
            Some(
                evaluate(table, &month)
                    .map_err(|e| ApiError::Internal(e.to_string()))?
                    .total_deduction_pct(),
            )
        } else {
            None
        };
        let id = f.agent.to_string();
        let s = stats.get(&id);
        rows.insert(
            id.clone(),
            AgentReportRow {
                name: names.get(&id).cloned().unwrap_or_default(),
                served: s.map_or(0, |s| s.served),
                converted: s.map_or(0, |s| s.converted),
                conversion_rate: s.and_then(|s| s.conversion_rate),
                effective_calls: month.effective_calls,
                days_worked: month.days_worked,
                effective_calls_quota: u64::from(table.effective_calls_per_day)
                    * u64::from(month.days_worked),
                callback_visits: month.callback_visits,
                other_visits: month.other_visits,
                revenue_minor: month.revenue_minor,
                deduction_pct,
                qa_score: s.and_then(|s| s.qa_score),
                agent_id: id,
            },
        );
    }
    // Supervisors who served customers are in the statistics but not in the quota figures.
    for (id, s) in &stats {
        rows.entry(id.clone()).or_insert_with(|| AgentReportRow {
            agent_id: id.clone(),
            name: names.get(id).cloned().unwrap_or_default(),
            served: s.served,
            converted: s.converted,
            conversion_rate: s.conversion_rate,
            effective_calls: 0,
            days_worked: 0,
            effective_calls_quota: 0,
            callback_visits: 0,
            other_visits: 0,
            revenue_minor: s.revenue_minor.values().sum(),
            deduction_pct: None,
            qa_score: s.qa_score,
        });
    }
    let rows: Vec<AgentReportRow> = rows.into_values().collect();
    let report = AgentReport {
        period: b.view,
        rows,
    };
    respond(csv, "agents", &report.period.label, &report, &report.rows)
}

/// The queues' service-level thresholds, by queue id.
pub(crate) async fn queue_thresholds(
    state: &ApiState,
    tenant: &switchboard_core::TenantId,
) -> Result<HashMap<String, QueueConfig>, ApiError> {
    Ok(acd::list_queues(&state.store, tenant)
        .await?
        .iter()
        .map(|q| {
            let config = serde_json::from_str::<QueueConfig>(&q.config_json).unwrap_or_default();
            (q.id.to_string(), config)
        })
        .collect())
}

/// Per queue: offered, answered, abandoned, service level, abandon rate, ASA, AHT.
#[utoipa::path(
    get, path = "/reports/queues", operation_id = "report_queues", tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "One row per queue (CSV with format=csv)", body = QueueReport),
        (status = 400, description = "Bad period, date or format"),
    )
)]
pub(crate) async fn queues(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let csv = wants_csv(&q, &headers)?;
    let b = bounds(&state, &q)?;
    let rows = queue_rows(&state, caller.tenant(), b.from, b.to).await?;
    let report = QueueReport {
        period: b.view,
        rows,
    };
    respond(csv, "queues", &report.period.label, &report, &report.rows)
}

/// The queue figures of `[from, to)` (also the wallboard's "today").
pub(crate) async fn queue_rows(
    state: &ApiState,
    tenant: &switchboard_core::TenantId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<QueueFigures>, ApiError> {
    let calls = reports::queue_calls(&state.store, tenant, from, to).await?;
    let thresholds: HashMap<String, u64> = queue_thresholds(state, tenant)
        .await?
        .into_iter()
        .map(|(id, c)| (id, c.service_level_threshold.0))
        .collect();
    Ok(queue_figures(
        &calls,
        &thresholds,
        QueueConfig::default().service_level_threshold.0,
    ))
}

/// Per campaign: the "one avoidance, three guarantees" (rest-time violations, key-customer
/// coverage, record completeness, within-3-days rate).
#[utoipa::path(
    get, path = "/reports/campaigns", operation_id = "report_campaigns", tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "One row per campaign (CSV with format=csv)", body = CampaignReport),
        (status = 400, description = "Bad period, date or format"),
    )
)]
pub(crate) async fn campaigns_report(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let csv = wants_csv(&q, &headers)?;
    let b = bounds(&state, &q)?;
    let tenant = caller.tenant();
    let attempts = reports::campaign_attempts(&state.store, tenant, b.from, b.to).await?;
    let tasks = reports::campaign_tasks(&state.store, tenant, b.from, b.to).await?;
    let mut info = HashMap::new();
    for c in campaigns::list(&state.store, tenant, None, 10_000).await? {
        let calling = crate::campaigns::calling_policy(&c, &state.campaign.calling)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        info.insert(
            c.id.clone(),
            CampaignInfo {
                name: c.name.clone(),
                calling,
            },
        );
    }
    let sla_ms = i64::try_from(state.tickets.follow_up_within.as_millis()).unwrap_or(i64::MAX);
    let rows = campaign_figures(
        &attempts,
        &tasks,
        &info,
        state.shifts.time_zone,
        sla_ms,
        state.clock.now(),
    );
    let report = CampaignReport {
        period: b.view,
        rows,
    };
    respond(
        csv,
        "campaigns",
        &report.period.label,
        &report,
        &report.rows,
    )
}

/// Tickets (工单) created in the period: reply SLA (12 h), resolution SLA (24 h), escalations.
#[utoipa::path(
    get, path = "/reports/tickets", operation_id = "report_tickets", tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, description = "One row for the tenant (CSV with format=csv)", body = TicketReport),
        (status = 400, description = "Bad period, date or format"),
    )
)]
pub(crate) async fn tickets(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let csv = wants_csv(&q, &headers)?;
    let b = bounds(&state, &q)?;
    let list = reports::tickets_created(&state.store, caller.tenant(), b.from, b.to).await?;
    let escalate_ms = i64::try_from(state.tickets.escalate_after.as_millis()).unwrap_or(i64::MAX);
    let rows = vec![ticket_figures(&list, escalate_ms, state.clock.now())];
    let report = TicketReport {
        period: b.view,
        rows,
    };
    respond(csv, "tickets", &report.period.label, &report, &report.rows)
}
