//! Runs the ACD simulation and prints the measured service level and ASA next to Erlang C.
//!
//! `cargo run --release -p switchboard-acd --example acd-erlang -- [--agents 50] [--aht 180]
//! [--load 0.9] [--hours 500] [--warm-up-hours 1] [--seed 7]`

use std::process::ExitCode;
use std::time::{Duration, Instant};

use switchboard_acd::sim::{SimConfig, run};

fn parse_args() -> Result<SimConfig, String> {
    let mut config = SimConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number: f64 = value
            .parse()
            .map_err(|_| format!("{flag}: '{value}' is not a number"))?;
        if !number.is_finite() || number < 0.0 {
            return Err(format!("{flag}: '{value}' must be a non-negative number"));
        }
        match flag.as_str() {
            "--agents" => config.agents = number as u32,
            "--aht" => config.aht = Duration::from_secs_f64(number),
            "--load" => config.load = number,
            "--hours" => config.duration = Duration::from_secs_f64(number * 3600.0),
            "--warm-up-hours" => config.warm_up = Duration::from_secs_f64(number * 3600.0),
            "--seed" => config.seed = number as u64,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("acd-erlang: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let report = match run(&config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("acd-erlang: {e}");
            return ExitCode::from(1);
        }
    };
    let wall = started.elapsed();
    let sl = report.service_level * 100.0;
    let predicted_sl = report.predicted_service_level * 100.0;
    println!(
        "agents {} · AHT {:.0} s exponential · load {:.0} % · {:.0} simulated hours ({:.0} h warm-up) · seed {} · strategy {:?}",
        config.agents,
        config.aht.as_secs_f64(),
        config.load * 100.0,
        config.duration.as_secs_f64() / 3600.0,
        config.warm_up.as_secs_f64() / 3600.0,
        config.seed,
        config.strategy,
    );
    println!(
        "measured calls {} · ACD events {} · wall time {:.2} s",
        report.calls,
        report.events,
        wall.as_secs_f64()
    );
    if let (Some(acd_sl), Some(acd_asa)) = (report.acd_service_level, report.acd_asa) {
        println!(
            "ACD queue counters (whole run): SL {:.1} %, ASA {:.1} s",
            acd_sl * 100.0,
            acd_asa.as_secs_f64()
        );
    }
    println!(
        "acd-erlang: SL {:.1} % vs Erlang C {:.1} % (Δ {:.1} points), ASA {:.1} s vs {:.1} s (target within 3 points)",
        sl,
        predicted_sl,
        (sl - predicted_sl).abs(),
        report.asa.as_secs_f64(),
        report.predicted_asa.as_secs_f64(),
    );
    ExitCode::SUCCESS
}
