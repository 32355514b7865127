//! The `dialer-sim` benchmark: progressive and predictive dialing side by side in the seeded
//! simulator (20 agents, 25 % answer rate, the service rules' short call-back conversations).
//!
//! Usage: `dialer-sim [--days N] [--seeds N] [--wrap-up-spread S]`. Prints one line per mode and
//! seed, then the figure as the last line. "Busy" is talk plus wrap-up per logged-in agent hour.
//! `--wrap-up-spread S` draws each wrap-up from the benchmark's fixed one (30 s) ± S s.

use std::process::ExitCode;

use std::time::Duration;

use switchboard_dialer::sim::{Dist, SimParams, SimReport, run};
use switchboard_dialer::{Mode, PacingConfig};

fn arg(args: &[String], name: &str, default: u32) -> Result<u32, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a whole number")),
    }
}

struct Totals {
    busy_hours: f64,
    agent_hours: f64,
    live: u64,
    abandoned: u64,
    worst_day: f64,
    violations: usize,
}

/// Pacing knobs for tuning runs: `--abandon-cost 100 --comfort 8 --max-per-agent 5`.
fn pacing(args: &[String]) -> Result<PacingConfig, String> {
    let mut p = PacingConfig::default();
    for (name, slot) in [
        ("--abandon-cost", &mut p.abandon_cost),
        ("--max-per-agent", &mut p.max_calls_per_agent),
    ] {
        if let Some(i) = args.iter().position(|a| a == name) {
            *slot = args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))?;
        }
    }
    if let Some(i) = args.iter().position(|a| a == "--comfort") {
        p.slack_comfort = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or("--comfort needs a whole number")?;
    }
    Ok(p)
}

/// The benchmark world of `mode`, with the run's days, pacing knobs and wrap-up spread.
fn world(mode: Mode, days: u32, pacing: &PacingConfig, wrap_up_spread: u32) -> SimParams {
    let mut p = SimParams::benchmark(mode);
    p.days = days;
    p.pacing = pacing.clone();
    if wrap_up_spread > 0 {
        let mean = p.wrap_up.nominal_mean();
        let spread = Duration::from_secs(u64::from(wrap_up_spread)).min(mean);
        p.wrap_up = Dist::Uniform {
            lo: mean - spread,
            hi: mean + spread,
        };
    }
    p
}

fn simulate(seeds: u32, p: &SimParams) -> Result<Totals, String> {
    let mode = p.mode;
    let mut t = Totals {
        busy_hours: 0.0,
        agent_hours: 0.0,
        live: 0,
        abandoned: 0,
        worst_day: 0.0,
        violations: 0,
    };
    for seed in 0..seeds {
        let r: SimReport = run(p, u64::from(seed) + 1).map_err(|e| e.to_string())?;
        println!(
            "{mode:<11} seed {seed}: {:.1} busy min/agent-h, {} placed, {} live, {} abandoned \
             ({:.2} %, worst day {:.2} %), {} switches, {} redial blocks, {} violations",
            r.busy_minutes_per_agent_hour(),
            r.placed,
            r.live_answered,
            r.abandoned,
            100.0 * r.abandon_rate(),
            100.0 * r.worst_day_rate,
            r.mode_switches,
            r.redial_blocks,
            r.violations.len()
        );
        t.busy_hours += r.busy_hours;
        t.agent_hours += r.agent_hours;
        t.live += r.live_answered;
        t.abandoned += r.abandoned;
        t.worst_day = t.worst_day.max(r.worst_day_rate);
        t.violations += r.violations.len();
    }
    Ok(t)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (days, seeds, spread) = match (
        arg(&args, "--days", 5),
        arg(&args, "--seeds", 3),
        arg(&args, "--wrap-up-spread", 0),
    ) {
        (Ok(d), Ok(s), Ok(w)) if d > 0 && s > 0 => (d, s, w),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("dialer-sim: {e}");
            return ExitCode::from(2);
        }
        _ => {
            eprintln!("dialer-sim: --days and --seeds must be at least 1");
            return ExitCode::from(2);
        }
    };
    let knobs = match pacing(&args) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("dialer-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let (prog, pred) = match (
        simulate(seeds, &world(Mode::Progressive, days, &knobs, spread)),
        simulate(seeds, &world(Mode::Predictive, days, &knobs, spread)),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("dialer-sim: {e}");
            return ExitCode::from(1);
        }
    };
    let per_hour = |t: &Totals| 60.0 * t.busy_hours / t.agent_hours.max(f64::MIN_POSITIVE);
    let rate = |t: &Totals| 100.0 * t.abandoned as f64 / (t.live.max(1)) as f64;
    println!(
        "summary: {days} day(s) x {seeds} seed(s); predictive worst day {:.2} %; rule violations: {}",
        100.0 * pred.worst_day,
        prog.violations + pred.violations
    );
    println!(
        "dialer-sim: predictive {:.1} busy min/agent-h at {:.1} % abandoned vs progressive {:.1} \
         (target ≥ 55 at ≤ 3.0 %)",
        per_hour(&pred),
        rate(&pred),
        per_hour(&prog)
    );
    if prog.violations + pred.violations > 0 {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
