//! Monthly quota report rows and their CSV export.

use crate::quota::{AgentMonth, Payout, QuotaError, QuotaTable, evaluate};

/// One row of the monthly report: the agent's figures and their payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub month: AgentMonth,
    pub payout: Payout,
}

/// Evaluates every agent's month; rows come back in agent-id order.
pub fn monthly_report(
    table: &QuotaTable,
    months: &[AgentMonth],
) -> Result<Vec<ReportRow>, QuotaError> {
    let mut rows = months
        .iter()
        .map(|m| {
            Ok(ReportRow {
                month: m.clone(),
                payout: evaluate(table, m)?,
            })
        })
        .collect::<Result<Vec<_>, QuotaError>>()?;
    rows.sort_by(|a, b| a.month.agent.cmp(&b.month.agent));
    Ok(rows)
}

const HEADER: &str = "agent,days_worked,effective_calls,avg_calls_per_day,callback_visits,other_visits,revenue,call_deduction_pct,visit_deduction_pct,total_deduction_pct,bonus_eligible,call_bonus_units,visit_bonus_units,revenue_bonus";

/// The report as CSV (RFC 4180: comma separated, CRLF line ends, quoted when needed). Money is
/// printed in major units with two decimals.
pub fn to_csv(rows: &[ReportRow]) -> String {
    let mut out = String::from(HEADER);
    out.push_str("\r\n");
    for r in rows {
        let p = &r.payout;
        let m = &r.month;
        let fields = [
            field(m.agent.as_str()),
            m.days_worked.to_string(),
            m.effective_calls.to_string(),
            format!("{}.{:02}", p.avg_calls_centi / 100, p.avg_calls_centi % 100),
            m.callback_visits.to_string(),
            m.other_visits.to_string(),
            money(m.revenue_minor),
            p.call_deduction_pct.to_string(),
            p.visit_deduction_pct.to_string(),
            p.total_deduction_pct().to_string(),
            p.bonus_eligible().to_string(),
            p.call_bonus_units.to_string(),
            p.visit_bonus_units.to_string(),
            money(p.revenue_bonus_minor),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let v = minor.unsigned_abs();
    format!("{sign}{}.{:02}", v / 100, v % 100)
}

/// Quotes a text field when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(agent: &str, calls: u64, visits: u32, revenue: i64) -> AgentMonth {
        AgentMonth {
            agent: agent.into(),
            effective_calls: calls,
            days_worked: 25,
            callback_visits: visits,
            other_visits: 10,
            revenue_minor: revenue,
        }
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_agent_in_agent_order() {
        let rows = monthly_report(
            &QuotaTable::default(),
            &[
                month("wang", 2125, 12, 0),
                month("li", 3100, 17, 12_345_600),
            ],
        )
        .unwrap();
        let csv = to_csv(&rows);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(
            lines[1],
            "li,25,3100,124.00,17,10,123456.00,0,0,0,true,1,2,1234.56"
        );
        assert_eq!(
            lines[2],
            "wang,25,2125,85.00,12,10,0.00,5,5,10,false,0,0,0.00"
        );
        assert_eq!(lines[3], "");
    }

    #[test]
    fn csv_quotes_awkward_names_and_defuses_formulas() {
        assert_eq!(field("Smith, J"), "\"Smith, J\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(money(-5), "-0.05");
    }

    #[test]
    fn a_month_without_working_days_is_an_error_in_the_report() {
        let mut m = month("zhao", 0, 0, 0);
        m.days_worked = 0;
        assert!(monthly_report(&QuotaTable::default(), &[m]).is_err());
    }
}
