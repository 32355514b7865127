//! Quotas and payouts per agent and month (`GET /quotas?month=YYYY-MM`): the figures come from
//! the store (effective calls recorded on campaign tasks, attended visits by source, paid orders
//! credited to the agent), the verdict from the campaign crate's quota table (the service
//! rules' defaults: 100 effective calls a day, 15 + 10 visits, the deduction bands and bonus
//! units). `Accept: text/csv` gives the monthly report as CSV. Agents only see themselves.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use switchboard_campaign::quota::{AgentMonth, Payout, Progress, QuotaTable, evaluate};
use switchboard_campaign::report::{ReportRow, to_csv};
use switchboard_core::{Role, UserId};
use switchboard_store::campaign_tasks;
use utoipa::{IntoParams, ToSchema};

use super::customers::ApiQuery;
use super::{ApiError, ApiState, Caller};

const READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Agent];

/// Query of `GET /quotas`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuotaParams {
    /// `YYYY-MM`, in the call centre's time zone; default the current month.
    pub month: Option<String>,
    /// One agent (agents may only name themselves, or `me`).
    pub agent_id: Option<String>,
}

/// One agent's month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaRowView {
    pub agent_id: String,
    pub days_worked: u32,
    pub effective_calls: u64,
    pub callback_visits: u32,
    pub other_visits: u32,
    pub revenue_minor: i64,
    /// `null` until the agent has worked a day this month.
    #[schema(value_type = Option<Object>)]
    pub payout: Option<Payout>,
    /// Live progress against the quota (today's effective calls and the month to date).
    #[schema(value_type = Object)]
    pub progress: Progress,
}

/// The month's quota report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaReportView {
    pub month: String,
    #[schema(value_type = Object)]
    pub table: QuotaTable,
    pub agents: Vec<QuotaRowView>,
}

fn month_param(raw: Option<&str>, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let bad = || ApiError::bad_field("month", "month must look like 2026-11");
    let first = match raw {
        None => today.with_day(1).ok_or_else(bad)?,
        Some(m) => {
            let (y, mo) = m.split_once('-').ok_or_else(bad)?;
            if y.len() != 4 || mo.len() != 2 {
                return Err(bad());
            }
            let y: i32 = y.parse().map_err(|_| bad())?;
            let mo: u32 = mo.parse().map_err(|_| bad())?;
            NaiveDate::from_ymd_opt(y, mo, 1).ok_or_else(bad)?
        }
    };
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(bad)?;
    Ok((first, next))
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"))
}

/// Quotas and payouts per agent for a month (JSON; the monthly report as CSV with
/// `Accept: text/csv`).
#[utoipa::path(
    get, path = "/quotas", operation_id = "quotas", tag = "campaigns",
    params(QuotaParams),
    responses((status = 200, description = "The month's figures and payouts", body = QuotaReportView))
)]
pub(crate) async fn quotas(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<QuotaParams>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let now = state.clock.now();
    let today = state.shifts.local_date(now);
    let (first, next) = month_param(q.month.as_deref(), today)?;
    let only: Option<UserId> = match (caller.user.role, q.agent_id.as_deref()) {
        (Role::Agent, None | Some("me")) => Some(caller.user.id.clone()),
        (Role::Agent, Some(other)) if other == caller.user.id.as_str() => {
            Some(caller.user.id.clone())
        }
        (Role::Agent, Some(_)) => {
            return Err(ApiError::Forbidden(
                "supervisor (agents see only their own quota)".into(),
            ));
        }
        (_, Some("me")) => Some(caller.user.id.clone()),
        (_, Some(a)) => Some(UserId::from(a)),
        (_, None) => None,
    };
    let from = state.shifts.start_of(first);
    let to = state.shifts.start_of(next);
    let figures =
        campaign_tasks::agent_figures(&state.store, caller.tenant(), only.as_ref(), from, to)
            .await?;
    let day_start = state.shifts.start_of(today);
    let day_end = today.succ_opt().map_or(to, |d| state.shifts.start_of(d));
    let table = state.quota.as_ref().clone();
    let mut rows = Vec::with_capacity(figures.len());
    let mut report = Vec::new();
    for f in figures {
        let month = AgentMonth {
            agent: f.agent.as_str().into(),
            effective_calls: u64::try_from(f.effective_calls).unwrap_or(0),
            days_worked: u32::try_from(f.days_worked).unwrap_or(0),
            callback_visits: u32::try_from(f.callback_visits).unwrap_or(0),
            other_visits: u32::try_from(f.other_visits).unwrap_or(0),
            revenue_minor: f.revenue_minor,
        };
        let today_calls = if (from..to).contains(&now) {
            campaign_tasks::effective_calls(
                &state.store,
                caller.tenant(),
                &f.agent,
                day_start,
                day_end,
            )
            .await?
        } else {
            0
        };
        let payout = if month.days_worked > 0 {
            Some(evaluate(&table, &month).map_err(|e| ApiError::Internal(e.to_string()))?)
        } else {
            None
        };
        if let Some(p) = &payout {
            report.push(ReportRow {
                month: month.clone(),
                payout: p.clone(),
            });
        }
        rows.push(QuotaRowView {
            agent_id: f.agent.to_string(),
            days_worked: month.days_worked,
            effective_calls: month.effective_calls,
            callback_visits: month.callback_visits,
            other_visits: month.other_visits,
            revenue_minor: month.revenue_minor,
            progress: Progress::new(&table, &month, u32::try_from(today_calls).unwrap_or(0)),
            payout,
        });
    }
    let month = first.format("%Y-%m").to_string();
    if wants_csv(&headers) {
        let mut response = (StatusCode::OK, to_csv(&report)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok(response);
    }
    Ok((
        StatusCode::OK,
        axum::Json(QuotaReportView {
            month,
            table,
            agents: rows,
        }),
    )
        .into_response())
}
