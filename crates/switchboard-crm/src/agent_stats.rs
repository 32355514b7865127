//! Per-agent service statistics (the teams' daily/weekly/monthly report): customers served,
//! customers converted, conversion rate, and the revenue of the sales credited to the agent.
//!
//! Definitions (pure, so the figures are the same on both engines and testable without one):
//! - served: distinct customers the agent answered a call from or placed a call to, or wrote a
//!   note, chat or visit for, in the period — plus the customers they converted (a sale is a
//!   service), so the rate never exceeds 100 %;
//! - converted: distinct customers with an order credited to the agent and paid in the period;
//! - conversion rate: converted ÷ served;
//! - QA score: the average total of the agent's calls that started in the period and were
//!   scored (none scored: no score). An agent with scored calls but nobody served still gets a
//!   row, so a QA report never loses a score.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use switchboard_core::Timestamp;
use switchboard_store::agent_stats::{Conversion, Served};
use switchboard_store::qa::ScoredCall;

use crate::shifts::{Period, ShiftPolicy};

/// One agent's figures over one period.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentPeriod {
    pub agent_id: String,
    /// `2027-01-15`, `2027-W02` or `2027-01`.
    pub period: String,
    /// The local date the period starts on.
    pub starts_on: NaiveDate,
    pub served: usize,
    pub converted: usize,
    /// `None` when nobody was served.
    pub conversion_rate: Option<f64>,
    /// Currency → sum of paid orders, minor units.
    pub revenue_minor: BTreeMap<String, i64>,
    /// Average QA score (0-100) of the agent's scored calls; `None` when none was scored.
    pub qa_score: Option<f64>,
}

#[derive(Default)]
struct Tally {
    served: BTreeSet<String>,
    converted: BTreeSet<String>,
    revenue: BTreeMap<String, i64>,
    scores_centi: Vec<i64>,
}

/// Groups the facts by agent and period (in the policy's time zone), ordered by period, then
/// agent.
pub fn aggregate(
    policy: &ShiftPolicy,
    period: Period,
    served: &[Served],
    conversions: &[Conversion],
    scores: &[ScoredCall],
) -> Vec<AgentPeriod> {
    let mut tallies: BTreeMap<(NaiveDate, String, String), Tally> = BTreeMap::new();
    let key = |agent: &str, at: Timestamp| {
        let (start, label) = policy.period_of(period, at);
        (start, agent.to_owned(), label)
    };
    for s in served {
        let k = key(&s.agent_id, Timestamp::from_millis(s.at));
        tallies
            .entry(k)
            .or_default()
            .served
            .insert(s.customer_id.clone());
    }
    for c in conversions {
        let k = key(c.agent_id.as_str(), c.paid_at);
        let t = tallies.entry(k).or_default();
        t.served.insert(c.customer_id.to_string());
        t.converted.insert(c.customer_id.to_string());
        *t.revenue.entry(c.currency.clone()).or_default() += c.amount_minor;
    }
    for s in scores {
        let k = key(&s.agent_id, Timestamp::from_millis(s.call_started_at));
        tallies
            .entry(k)
            .or_default()
            .scores_centi
            .push(s.total_centi);
    }
    tallies
        .into_iter()
        .map(|((starts_on, agent_id, label), t)| {
            let served = t.served.len();
            let converted = t.converted.len();
            AgentPeriod {
                agent_id,
                period: label,
                starts_on,
                served,
                converted,
                conversion_rate: (served > 0).then(|| converted as f64 / served as f64),
                revenue_minor: t.revenue,
                qa_score: average_score(&t.scores_centi),
            }
        })
        .collect()
}

/// The mean of scores given × 100, as a score rounded to hundredths.
fn average_score(centi: &[i64]) -> Option<f64> {
    if centi.is_empty() {
        return None;
    }
    let sum: i64 = centi.iter().sum();
    let mean = sum as f64 / centi.len() as f64;
    Some(mean.round() / 100.0)
}

#[cfg(test)]
mod tests {
    // Test code: a failed step should stop the test loudly.
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use switchboard_core::UserId;

    use super::*;

    /// `2027-01-DD HH:00` in Shanghai, as epoch ms.
    fn at(day: u32, hour: u32) -> i64 {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2027, 1, day, hour, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    fn served(agent: &str, customer: &str, ms: i64) -> Served {
        Served {
            agent_id: agent.into(),
            customer_id: customer.into(),
            at: ms,
        }
    }

    fn sale(agent: &str, customer: &str, ms: i64, amount: i64) -> Conversion {
        Conversion {
            agent_id: UserId::from(agent),
            customer_id: customer.into(),
            paid_at: Timestamp::from_millis(ms),
            amount_minor: amount,
            currency: "CNY".into(),
        }
    }

    #[test]
    fn a_customer_served_twice_in_a_day_counts_once() {
        let facts = [
            served("a1", "c1", at(15, 9)),
            served("a1", "c1", at(15, 16)),
            served("a1", "c2", at(15, 10)),
            served("a2", "c1", at(15, 11)),
        ];
        let rows = aggregate(&ShiftPolicy::default(), Period::Day, &facts, &[], &[]);
        let a1 = rows.iter().find(|r| r.agent_id == "a1").unwrap();
        assert_eq!(
            (a1.served, a1.converted, a1.conversion_rate),
            (2, 0, Some(0.0))
        );
        assert_eq!(rows.iter().find(|r| r.agent_id == "a2").unwrap().served, 1);
    }

    #[test]
    fn conversion_rate_is_converted_over_served_with_revenue_summed() {
        let facts = [
            served("a1", "c1", at(15, 9)),
            served("a1", "c2", at(15, 10)),
            served("a1", "c3", at(15, 11)),
            served("a1", "c4", at(15, 12)),
        ];
        let sales = [
            sale("a1", "c1", at(15, 13), 50_000),
            sale("a1", "c1", at(15, 14), 20_000),
        ];
        let rows = aggregate(&ShiftPolicy::default(), Period::Day, &facts, &sales, &[]);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].served, rows[0].converted), (4, 1));
        assert_eq!(rows[0].conversion_rate, Some(0.25));
        assert_eq!(rows[0].revenue_minor["CNY"], 70_000);
    }

    #[test]
    fn a_sale_to_a_customer_served_last_week_still_counts_as_served_this_week() {
        let rows = aggregate(
            &ShiftPolicy::default(),
            Period::Week,
            &[served("a1", "c1", at(8, 9))],
            &[sale("a1", "c1", at(15, 9), 100)],
            &[],
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[1].period.as_str(), rows[1].served, rows[1].converted),
            ("2027-W02", 1, 1)
        );
        assert_eq!(rows[1].conversion_rate, Some(1.0));
    }

    #[test]
    fn early_morning_local_time_belongs_to_the_local_day() {
        // 07:00 in Shanghai on the 15th is 23:00 UTC on the 14th.
        let rows = aggregate(
            &ShiftPolicy::default(),
            Period::Day,
            &[served("a1", "c1", at(15, 7))],
            &[],
            &[],
        );
        assert_eq!(rows[0].period, "2027-01-15");
        let month = aggregate(
            &ShiftPolicy::default(),
            Period::Month,
            &[
                served("a1", "c1", at(15, 7)),
                served("a1", "c2", at(31, 23)),
            ],
            &[],
            &[],
        );
        assert_eq!(
            (month.len(), month[0].period.as_str(), month[0].served),
            (1, "2027-01", 2)
        );
    }

    fn scored(agent: &str, ms: i64, centi: i64) -> ScoredCall {
        ScoredCall {
            agent_id: agent.into(),
            call_started_at: ms,
            total_centi: centi,
        }
    }

    #[test]
    fn qa_score_is_the_average_of_the_periods_scored_calls() {
        let rows = aggregate(
            &ShiftPolicy::default(),
            Period::Day,
            &[served("a1", "c1", at(15, 9)), served("a2", "c2", at(15, 9))],
            &[],
            &[
                scored("a1", at(15, 10), 9000),
                scored("a1", at(15, 11), 7550),
                scored("a1", at(16, 11), 6000),
                scored("a3", at(15, 12), 8000),
            ],
        );
        let row = |agent: &str, day: &str| {
            rows.iter()
                .find(|r| r.agent_id == agent && r.period == day)
                .unwrap()
        };
        assert_eq!(row("a1", "2027-01-15").qa_score, Some(82.75));
        assert_eq!(row("a1", "2027-01-16").qa_score, Some(60.0));
        // Served but never scored: no score, not zero.
        assert_eq!(row("a2", "2027-01-15").qa_score, None);
        // Scored but nobody served that day: still a row with the score.
        assert_eq!(
            (
                row("a3", "2027-01-15").served,
                row("a3", "2027-01-15").qa_score
            ),
            (0, Some(80.0))
        );
    }
}
