use super::*;
use proptest::prelude::*;

fn month(avg_per_day: u64, callback_visits: u32) -> AgentMonth {
    AgentMonth {
        agent: "agent-1".into(),
        effective_calls: avg_per_day * 25,
        days_worked: 25,
        callback_visits,
        other_visits: 10,
        revenue_minor: 0,
    }
}

fn eval(m: &AgentMonth) -> Payout {
    evaluate(&QuotaTable::default(), m).expect("valid month")
}

#[test]
fn agent_averaging_85_calls_a_day_with_12_visits_loses_5_and_5_percent() {
    let p = eval(&month(85, 12));
    assert_eq!(p.avg_calls_centi, 8500);
    assert_eq!(p.call_deduction_pct, 5);
    assert_eq!(p.visit_deduction_pct, 5);
    assert_eq!(p.total_deduction_pct(), 10);
    assert!(!p.bonus_eligible());
}

#[test]
fn call_deduction_bands_at_their_edges() {
    // (average effective calls a day, expected deduction %)
    for (avg, pct) in [
        (120, 0),
        (100, 0),
        (99, 5),
        (90, 5),
        (80, 5),
        (79, 10),
        (0, 10),
    ] {
        assert_eq!(
            eval(&month(avg, 15)).call_deduction_pct,
            pct,
            "{avg} calls a day"
        );
    }
}

#[test]
fn visit_deduction_bands_at_their_edges() {
    for (visits, pct) in [
        (20, 0),
        (15, 0),
        (14, 5),
        (12, 5),
        (10, 5),
        (9, 10),
        (0, 10),
    ] {
        assert_eq!(
            eval(&month(100, visits)).visit_deduction_pct,
            pct,
            "{visits} visits"
        );
    }
}

#[test]
fn an_average_just_under_a_band_edge_is_not_rounded_up() {
    let mut m = month(100, 15);
    m.effective_calls = 2499; // 99.96 a day
    let p = eval(&m);
    assert_eq!(p.call_deduction_pct, 5);
    assert!(!p.calls_quota_met);
    m.effective_calls = 1999; // 79.96 a day
    assert_eq!(eval(&m).call_deduction_pct, 10);
}

#[test]
fn bonus_counts_500_call_units_extra_visits_and_one_percent_of_revenue() {
    let m = AgentMonth {
        agent: "agent-1".into(),
        effective_calls: 3_600, // 1,100 over the 2,500 quota → 2 units
        days_worked: 25,
        callback_visits: 20,      // 5 over 15
        other_visits: 12,         // 2 over 10
        revenue_minor: 8_000_000, // ¥80,000.00 → ¥800.00
    };
    let p = eval(&m);
    assert!(p.bonus_eligible());
    assert_eq!(p.call_bonus_units, 2);
    assert_eq!(p.visit_bonus_units, 7);
    assert_eq!(p.revenue_bonus_minor, 80_000);
    assert_eq!(p.total_deduction_pct(), 0);
}

#[test]
fn no_bonus_unless_both_quotas_are_met() {
    let mut m = month(160, 14); // calls far over quota, one call-back visit short
    m.revenue_minor = 1_000_000;
    let p = eval(&m);
    assert!(p.calls_quota_met && !p.visits_quota_met);
    assert_eq!(
        (
            p.call_bonus_units,
            p.visit_bonus_units,
            p.revenue_bonus_minor
        ),
        (0, 0, 0)
    );
    let mut m = month(160, 30);
    m.other_visits = 9; // other lists short: visit quota missed, but no deduction
    let p = eval(&m);
    assert!(!p.visits_quota_met);
    assert_eq!(p.visit_deduction_pct, 0);
    assert_eq!(p.call_bonus_units, 0);
}

#[test]
fn the_average_is_over_days_actually_worked() {
    let m = AgentMonth {
        agent: "part-timer".into(),
        effective_calls: 2_000,
        days_worked: 20,
        callback_visits: 15,
        other_visits: 10,
        revenue_minor: 0,
    };
    let p = eval(&m);
    assert!(p.calls_quota_met);
    assert_eq!(p.call_deduction_pct, 0);
    assert_eq!(p.call_bonus_units, 0);
}

#[test]
fn a_configured_table_changes_the_figures() {
    let table = QuotaTable {
        effective_calls_per_day: 60,
        call_deductions: vec![
            Band {
                below: 60,
                percent: 3,
            },
            Band {
                below: 40,
                percent: 8,
            },
        ],
        ..QuotaTable::default()
    };
    let p = evaluate(&table, &month(50, 15)).expect("valid");
    assert_eq!(p.call_deduction_pct, 3);
    let bad = QuotaTable {
        call_deductions: vec![
            Band {
                below: 80,
                percent: 10,
            },
            Band {
                below: 100,
                percent: 5,
            },
        ],
        ..QuotaTable::default()
    };
    assert!(matches!(
        evaluate(&bad, &month(50, 15)),
        Err(QuotaError::BadTable(_))
    ));
    let mut m = month(50, 15);
    m.days_worked = 0;
    assert!(matches!(
        evaluate(&QuotaTable::default(), &m),
        Err(QuotaError::NoWorkingDays(_))
    ));
}

#[test]
fn live_progress_shows_the_gap_to_quota() {
    let mut m = month(90, 6);
    m.days_worked = 10;
    m.effective_calls = 930;
    let p = Progress::new(&QuotaTable::default(), &m, 42);
    assert_eq!(p.target_month_to_date, 1_000);
    assert_eq!(p.gap(), 70);
    assert_eq!(p.target_today, 100);
    assert_eq!(p.visits_target, 25);
}

proptest! {
    #[test]
    fn more_effective_calls_never_raise_the_deduction(calls in 0u64..5_000, more in 0u64..500, days in 1u32..31) {
        let mut m = month(0, 15);
        m.days_worked = days;
        m.effective_calls = calls;
        let a = eval(&m);
        m.effective_calls = calls + more;
        let b = eval(&m);
        prop_assert!(b.call_deduction_pct <= a.call_deduction_pct);
        prop_assert!(b.call_bonus_units >= a.call_bonus_units);
    }
}
