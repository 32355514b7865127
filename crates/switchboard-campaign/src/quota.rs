//! Quotas and payouts per call-back agent and month, from a configurable table whose defaults
//! are the seeds' own plan:
//!
//! - 100 effective calls a day over 25 working days;
//! - 15 visits a month from the call-back list plus 10 from other lists;
//! - deductions: 80-99 effective calls a day on average −5 %, below 80 −10 %; 10-14 call-back
//!   visits −5 %, below 10 −10 %;
//! - bonus (only when both quotas are met): a unit per 500 effective calls over quota, a unit per
//!   visit over quota, and 1 % of the revenue from customers the call-backs brought in.
//!
//! Averages are compared exactly (integer cross-multiplication), so 99.96 calls a day is below
//! 100, never rounded up into the quota.

use serde::{Deserialize, Serialize};
use switchboard_core::AgentId;

/// What can go wrong evaluating a month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("agent {0} has no working days in the month")]
    NoWorkingDays(AgentId),
    #[error("quota table is inconsistent: {0}")]
    BadTable(&'static str),
}

/// A deduction band: averages below `below` (and at or above the next band's) lose `percent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    pub below: u32,
    pub percent: u32,
}

/// The configurable quota and payout table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaTable {
    pub effective_calls_per_day: u32,
    pub working_days: u32,
    pub callback_visits_per_month: u32,
    pub other_visits_per_month: u32,
    /// Bands on the daily average of effective calls, strictest last.
    pub call_deductions: Vec<Band>,
    /// Bands on call-back-list visits in the month, strictest last.
    pub visit_deductions: Vec<Band>,
    /// Extra effective calls per bonus unit.
    pub calls_per_bonus_unit: u32,
    /// Revenue share in basis points (100 = 1 %).
    pub revenue_share_bp: u32,
}

impl Default for QuotaTable {
    fn default() -> Self {
        QuotaTable {
            effective_calls_per_day: 100,
            working_days: 25,
            callback_visits_per_month: 15,
            other_visits_per_month: 10,
            call_deductions: vec![
                Band {
                    below: 100,
                    percent: 5,
                },
                Band {
                    below: 80,
                    percent: 10,
                },
            ],
            visit_deductions: vec![
                Band {
                    below: 15,
                    percent: 5,
                },
                Band {
                    below: 10,
                    percent: 10,
                },
            ],
            calls_per_bonus_unit: 500,
            revenue_share_bp: 100,
        }
    }
}

impl QuotaTable {
    /// Checks the table makes sense (bands strictly tighter, positive divisors).
    pub fn validate(&self) -> Result<(), QuotaError> {
        if self.calls_per_bonus_unit == 0 {
            return Err(QuotaError::BadTable(
                "calls per bonus unit must be positive",
            ));
        }
        if self.working_days == 0 {
            return Err(QuotaError::BadTable("working days must be positive"));
        }
        for bands in [&self.call_deductions, &self.visit_deductions] {
            if bands
                .windows(2)
                .any(|w| w[1].below >= w[0].below || w[1].percent < w[0].percent)
            {
                return Err(QuotaError::BadTable(
                    "deduction bands must get stricter in order",
                ));
            }
        }
        Ok(())
    }

    /// The month's target of effective calls for a full month (100 × 25 by default).
    pub fn monthly_calls(&self) -> u64 {
        u64::from(self.effective_calls_per_day) * u64::from(self.working_days)
    }
}

/// One agent's month so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMonth {
    pub agent: AgentId,
    pub effective_calls: u64,
    /// Days the agent actually worked (the daily average divides by these).
    pub days_worked: u32,
    /// Customers from the call-back list who actually visited.
    pub callback_visits: u32,
    /// Visits from other lists.
    pub other_visits: u32,
    /// Revenue from customers the call-backs brought in, in minor units (fen, cents).
    pub revenue_minor: i64,
}

/// The month's evaluation for one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    pub agent: AgentId,
    /// Daily average of effective calls, in hundredths (8550 = 85.50), for display.
    pub avg_calls_centi: u64,
    pub call_deduction_pct: u32,
    pub visit_deduction_pct: u32,
    pub calls_quota_met: bool,
    pub visits_quota_met: bool,
    /// Zero unless both quotas are met.
    pub call_bonus_units: u64,
    pub visit_bonus_units: u64,
    pub revenue_bonus_minor: i64,
}

impl Payout {
    pub fn total_deduction_pct(&self) -> u32 {
        self.call_deduction_pct + self.visit_deduction_pct
    }

    pub fn bonus_eligible(&self) -> bool {
        self.calls_quota_met && self.visits_quota_met
    }
}

/// Percent lost by the strictest band `value / days` falls under (exactly: `value < below·days`).
fn deduction(bands: &[Band], value: u64, days: u64) -> u32 {
    bands
        .iter()
        .filter(|b| value < u64::from(b.below) * days)
        .map(|b| b.percent)
        .max()
        .unwrap_or(0)
}

/// Evaluates one agent's month against the table.
pub fn evaluate(table: &QuotaTable, m: &AgentMonth) -> Result<Payout, QuotaError> {
    table.validate()?;
    if m.days_worked == 0 {
        return Err(QuotaError::NoWorkingDays(m.agent.clone()));
    }
    let days = u64::from(m.days_worked);
    let call_target = u64::from(table.effective_calls_per_day) * days;
    let calls_quota_met = m.effective_calls >= call_target;
    let visits_quota_met = m.callback_visits >= table.callback_visits_per_month
        && m.other_visits >= table.other_visits_per_month;
    let bonus = calls_quota_met && visits_quota_met;
    let (call_bonus_units, visit_bonus_units, revenue_bonus_minor) = if bonus {
        let extra_calls = m.effective_calls - call_target;
        let extra_visits = u64::from(m.callback_visits - table.callback_visits_per_month)
            + u64::from(m.other_visits - table.other_visits_per_month);
        let revenue = m
            .revenue_minor
            .max(0)
            .saturating_mul(i64::from(table.revenue_share_bp))
            / 10_000;
        (
            extra_calls / u64::from(table.calls_per_bonus_unit),
            extra_visits,
            revenue,
        )
    } else {
        (0, 0, 0)
    };
    Ok(Payout {
        agent: m.agent.clone(),
        avg_calls_centi: m.effective_calls * 100 / days,
        call_deduction_pct: deduction(&table.call_deductions, m.effective_calls, days),
        visit_deduction_pct: deduction(&table.visit_deductions, u64::from(m.callback_visits), 1),
        calls_quota_met,
        visits_quota_met,
        call_bonus_units,
        visit_bonus_units,
        revenue_bonus_minor,
    })
}

/// Live progress against quota, for the agent's console and the supervisor's board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub effective_today: u32,
    pub target_today: u32,
    pub effective_month: u64,
    /// Target for the days worked so far including today.
    pub target_month_to_date: u64,
    pub visits_month: u32,
    pub visits_target: u32,
}

impl Progress {
    /// Progress after `days_worked` days (today included) with these counts.
    pub fn new(table: &QuotaTable, m: &AgentMonth, effective_today: u32) -> Progress {
        Progress {
            effective_today,
            target_today: table.effective_calls_per_day,
            effective_month: m.effective_calls,
            target_month_to_date: u64::from(table.effective_calls_per_day)
                * u64::from(m.days_worked),
            visits_month: m.callback_visits + m.other_visits,
            visits_target: table.callback_visits_per_month + table.other_visits_per_month,
        }
    }

    /// Effective calls still missing for the month to date (negative when ahead).
    pub fn gap(&self) -> i64 {
        i64::try_from(self.target_month_to_date).unwrap_or(i64::MAX)
            - i64::try_from(self.effective_month).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
#[path = "quota_tests.rs"]
mod tests;
