//! Benchmark driver for `tests/bench/campaign-plan.sh`: plans N tasks across M agents (customers
//! in four zones, default calling windows, retries, bookings, key customers, per-shift capacity
//! from the quota plan) and prints the planning time as the last line.
//!
//! Usage: `cargo run --release -p switchboard-campaign --example campaign_plan -- [TASKS] [AGENTS]`

use std::time::{Duration, Instant};

use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_campaign::calling::CallingPolicy;
use switchboard_campaign::campaign::{Assignees, Campaign};
use switchboard_campaign::planner::{AgentInput, PlannerConfig, plan, shift_intervals};
use switchboard_campaign::task::{Consent, DEFAULT_SLA, Task, TaskSpec};
use switchboard_campaign::template::{CampaignType, Language};
use switchboard_core::{E164, TimeWindow, Timestamp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n_tasks: usize = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let n_agents: usize = args.next().map_or(Ok(500), |a| a.parse())?;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // 2026-03-09 08:00 Shanghai (Monday), the day after New York's DST change.
    let now = Timestamp::from_secs(1_773_014_400);
    let day = Duration::from_secs(86_400);
    let zones: [(Tz, u32); 4] = [
        (chrono_tz::Asia::Shanghai, 85),
        (chrono_tz::America::New_York, 5),
        (chrono_tz::Europe::London, 5),
        (chrono_tz::Australia::Sydney, 5),
    ];
    let queues = ["callback", "sales", "care"];
    let mut campaigns = Vec::new();
    for (i, kind) in CampaignType::ALL.iter().enumerate() {
        let mut c = Campaign::from_template(
            format!("c{i}").into(),
            *kind,
            Language::ZhCn,
            Assignees::Queue(queues[i % queues.len()].into()),
            now - day * 10,
            now + day * 60,
        )?;
        c.start()?;
        campaigns.push(c);
    }
    let day_shift = TimeWindow::parse("09:00-18:00")?;
    let night_shift = TimeWindow::parse("15:00-24:00")?;
    let mut agents = Vec::with_capacity(n_agents);
    for a in 0..n_agents {
        let window = if a % 4 == 3 { night_shift } else { day_shift };
        agents.push(AgentInput {
            id: format!("agent-{a}").into(),
            queues: vec![queues[a % 3].into(), queues[(a + 1) % 3].into()],
            shifts: shift_intervals(window, chrono_tz::Asia::Shanghai, &[], now, now + day * 4)?,
            // Enough dials to reach 100 effective calls at a ~70 % reach rate.
            per_shift_capacity: 140,
            done_in_current_shift: 0,
            quota_gap: rng.gen_range(-200..800),
        });
    }
    let calling = CallingPolicy::default();
    let mut tasks = Vec::with_capacity(n_tasks);
    for i in 0..n_tasks {
        let roll = rng.gen_range(0..100);
        let mut acc = 0;
        let tz = zones
            .iter()
            .find(|(_, w)| {
                acc += w;
                roll < acc
            })
            .map_or(chrono_tz::Asia::Shanghai, |(z, _)| *z);
        let campaign = &campaigns[i % campaigns.len()];
        let triggered = now - Duration::from_secs(rng.gen_range(0..3 * 86_400));
        let mut task = Task::new(TaskSpec {
            id: format!("t{i}").into(),
            campaign: campaign.id().clone(),
            kind: campaign.spec().kind,
            customer: format!("u{i}").into(),
            tz,
            numbers: vec![E164::parse(&format!("+86138{:08}", i % 100_000_000))?],
            key_customer: rng.gen_bool(0.1),
            consent: Consent {
                do_not_call: rng.gen_bool(0.01),
                consent_given: true,
            },
            triggered_at: triggered,
            sla: DEFAULT_SLA,
            preferred_agent: if rng.gen_bool(0.01) {
                Some(format!("agent-{}", rng.gen_range(0..n_agents)).into())
            } else {
                None
            },
            priority: campaign.spec().priority,
            max_attempts: 3,
            purpose: String::new(),
        })?;
        if rng.gen_bool(0.01) {
            // The customer asked for a time in the next two days (kept only if bookable).
            let at = now + Duration::from_secs(rng.gen_range(0..2 * 86_400) / 300 * 300);
            let _ = task.book(at, now, &calling);
        } else if rng.gen_bool(0.1) {
            // A retry: busy or no answer earlier, tried again later.
            let _ = task.record_attempt(
                switchboard_campaign::attempts::DialResult::Busy,
                now,
                &switchboard_campaign::attempts::RetryPolicy::default(),
                &calling,
            );
        }
        tasks.push(task);
    }
    let cfg = PlannerConfig::default();
    let started = Instant::now();
    let p = plan(&cfg, &campaigns, &agents, &tasks, now)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "planned {} calls, {} escalations, {} left for later plans",
        p.planned_count(),
        p.escalations().len(),
        p.unplanned().len()
    );
    println!("campaign-plan: {secs:.2} s for {n_tasks} tasks / {n_agents} agents (target < 2 s)");
    Ok(())
}
