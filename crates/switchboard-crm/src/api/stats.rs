//! `GET /stats/agents`: per-agent service statistics by day, week or month, in the call centre's
//! time zone (see `crate::agent_stats` for the definitions). Supervisors, admins and QA see
//! every agent; an agent sees their own figures.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use switchboard_core::Role;
use switchboard_store::agent_stats;
use utoipa::{IntoParams, ToSchema};

use super::customers::ApiQuery;
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::agent_stats::aggregate;
use crate::shifts::Period;
use axum::extract::State;

const READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa, Role::Agent];
const ALL_AGENTS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa];
/// The longest range one request may cover.
const MAX_DAYS: i64 = 400;

/// Query of `GET /stats/agents`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgentStatsParams {
    /// `day` (default), `week` (Monday-Sunday) or `month`.
    pub period: Option<String>,
    /// First local date (YYYY-MM-DD); default: 6 days before `to`.
    pub from: Option<String>,
    /// Last local date, included (YYYY-MM-DD); default: today.
    pub to: Option<String>,
    /// One agent's user id, or `me`; default: every agent (agents: themselves).
    pub agent: Option<String>,
}

/// One agent's figures over one period.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentStatsRow {
    pub agent_id: String,
    /// `2027-01-15`, `2027-W02` or `2027-01`.
    pub period: String,
    /// The local date the period starts on.
    pub starts_on: String,
    /// Distinct customers served (calls, notes, chats, visits, sales).
    pub customers_served: usize,
    /// Distinct customers with a paid order credited to the agent.
    pub customers_converted: usize,
    /// converted ÷ served; null when nobody was served.
    pub conversion_rate: Option<f64>,
    /// Currency → revenue of the paid orders, minor units.
    pub revenue_minor: std::collections::BTreeMap<String, i64>,
    /// Average QA score (0-100) of the agent's calls in the period that were scored
    /// (`PUT /recordings/{id}/score`); null when none was.
    pub qa_score: Option<f64>,
}

/// The report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentStats {
    /// IANA zone the periods are counted in.
    pub time_zone: String,
    pub period: String,
    pub from: String,
    pub to: String,
    pub rows: Vec<AgentStatsRow>,
}

fn date(field: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_field(field, format!("{field} must be a date, YYYY-MM-DD")))
}

/// Customers served and converted per agent and period.
#[utoipa::path(
    get, path = "/stats/agents", operation_id = "agent_stats", tag = "stats",
    params(AgentStatsParams),
    responses((status = 200, description = "Rows by period, then agent", body = AgentStats))
)]
pub(crate) async fn agents(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AgentStatsParams>,
) -> Result<ApiJson<AgentStats>, ApiError> {
    caller.require(READERS)?;
    let (period, period_name) = match q.period.as_deref().unwrap_or("day") {
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
    let today = policy.local_date(state.clock.now());
    let to =
        q.to.as_deref()
            .map(|d| date("to", d))
            .transpose()?
            .unwrap_or(today);
    let from = match q.from.as_deref() {
        Some(d) => date("from", d)?,
        None => to - chrono::Duration::days(6),
    };
    if from > to {
        return Err(ApiError::bad_field("from", "from must not be after to"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::bad_field(
            "from",
            format!("a report covers at most {MAX_DAYS} days"),
        ));
    }
    let only_agent = match q.agent.as_deref() {
        Some("me") => Some(caller.user.id.to_string()),
        Some(a) => Some(a.to_owned()),
        None => None,
    };
    let only_agent = if ALL_AGENTS.contains(&caller.user.role) {
        only_agent
    } else {
        let me = caller.user.id.to_string();
        if only_agent.as_ref().is_some_and(|a| *a != me) {
            return Err(ApiError::Forbidden(
                "supervisor, qa or admin (agents see their own figures)".into(),
            ));
        }
        Some(me)
    };
    let start = policy.start_of(from);
    let end = policy.start_of(to.succ_opt().unwrap_or(to));
    let only_agent = only_agent.map(switchboard_core::UserId::from);
    let tenant = caller.tenant();
    let served =
        agent_stats::served_between(&state.store, tenant, only_agent.as_ref(), start, end).await?;
    let sales =
        agent_stats::conversions_between(&state.store, tenant, only_agent.as_ref(), start, end)
            .await?;
    let scores = switchboard_store::qa::scores_between(
        &state.store,
        tenant,
        only_agent.as_ref(),
        start,
        end,
    )
    .await?;
    let rows = aggregate(policy, period, &served, &sales, &scores)
        .into_iter()
        .map(|r| AgentStatsRow {
            agent_id: r.agent_id,
            period: r.period,
            starts_on: r.starts_on.format("%Y-%m-%d").to_string(),
            customers_served: r.served,
            customers_converted: r.converted,
            conversion_rate: r.conversion_rate,
            revenue_minor: r.revenue_minor,
            qa_score: r.qa_score,
        })
        .collect();
    Ok(ApiJson(AgentStats {
        time_zone: policy.time_zone.name().to_owned(),
        period: period_name.to_owned(),
        from: from.format("%Y-%m-%d").to_string(),
        to: to.format("%Y-%m-%d").to_string(),
        rows,
    }))
}
