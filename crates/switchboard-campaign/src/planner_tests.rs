use super::*;
use crate::campaign::CampaignSpec;
use crate::task::fixtures::spec;
use crate::template::{CampaignType, Language};
use chrono_tz::Asia::Shanghai;
use proptest::prelude::*;
use std::collections::HashSet;

/// 2026-03-10 09:00 in Shanghai (01:00Z), a Tuesday.
fn t0() -> Timestamp {
    Timestamp::from_secs(1_773_104_400)
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

fn running_campaign(id: &str, assignees: Assignees) -> Campaign {
    let mut c = Campaign::from_template(
        id.into(),
        CampaignType::ServiceFollowUp,
        Language::ZhCn,
        assignees,
        t0() - hours(24),
        t0() + hours(24 * 30),
    )
    .expect("campaign");
    c.start().expect("start");
    c
}

/// An agent on the callback queue working 09:00-18:00 Shanghai every day.
fn agent(id: &str, capacity: u32) -> AgentInput {
    AgentInput {
        id: id.into(),
        queues: vec!["callback".into()],
        shifts: shift_intervals(
            TimeWindow::parse("09:00-18:00").expect("window"),
            Shanghai,
            &[],
            t0(),
            t0() + hours(24 * 4),
        )
        .expect("shifts"),
        per_shift_capacity: capacity,
        done_in_current_shift: 0,
        quota_gap: 0,
    }
}

/// An agent on shift around the clock (for tests about customers' windows alone).
fn round_the_clock(id: &str) -> AgentInput {
    AgentInput {
        shifts: vec![Interval {
            start: t0(),
            end: t0() + hours(24 * 4),
        }],
        per_shift_capacity: u32::MAX,
        ..agent(id, 0)
    }
}

fn task_for(id: &str, tz: Tz, triggered: Timestamp, key: bool) -> Task {
    let mut s = spec(id, tz, triggered);
    s.key_customer = key;
    Task::new(s).expect("task")
}

fn queue() -> Assignees {
    Assignees::Queue("callback".into())
}

fn cfg() -> PlannerConfig {
    PlannerConfig::default()
}

#[test]
fn next_task_for_an_agent_is_the_earliest_planned_call() {
    let tasks = vec![
        task_for("a", Shanghai, t0(), false),
        task_for("b", Shanghai, t0() - hours(48), false),
    ];
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &[agent("x", 100)],
        &tasks,
        t0(),
    )
    .expect("plan");
    let next = plan.next_for(&"x".into()).expect("a task");
    assert_eq!(next.task, 1, "task b is due first");
    assert_eq!(next.at, t0());
    assert_eq!(plan.assignments_for(&"x".into()).len(), 2);
    assert!(plan.next_for(&"nobody".into()).is_none());
}

#[test]
fn key_customers_are_planned_before_others_even_with_a_later_deadline() {
    let tasks = vec![
        task_for("plain", Shanghai, t0() - hours(60), false),
        task_for("key", Shanghai, t0(), true),
    ];
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &[agent("x", 100)],
        &tasks,
        t0(),
    )
    .expect("plan");
    assert_eq!(plan.next_for(&"x".into()).map(|a| a.task), Some(1));
}

#[test]
fn calls_are_never_planned_in_the_customers_rest_time() {
    // 09:00 in Shanghai is 01:00Z = 21:00 EDT the evening before in New York (DST began on
    // 8 March): rest starts exactly then, so the first call is 09:00 EDT (13:00Z).
    let ny = chrono_tz::America::New_York;
    let tasks: Vec<Task> = (0..40)
        .map(|i| task_for(&format!("t{i}"), ny, t0(), false))
        .collect();
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &[round_the_clock("x")],
        &tasks,
        t0(),
    )
    .expect("plan");
    let calling = CallingPolicy::default();
    let list = plan.assignments_for(&"x".into());
    assert_eq!(list.len(), 40);
    for a in list {
        assert!(calling.is_allowed(a.at, ny), "{}", a.at);
        let last_minute = a.at + Duration::from_secs(299);
        assert!(
            calling.is_allowed(last_minute, ny),
            "slot spills into rest: {}",
            a.at
        );
    }
    assert_eq!(list[0].at, Timestamp::from_secs(1_773_147_600));
    // 36 five-minute slots until the 12:00 lunch rest, then 14:00 EDT (18:00Z).
    assert_eq!(list[35].at, Timestamp::from_secs(1_773_147_600 + 35 * 300));
    assert_eq!(list[36].at, Timestamp::from_secs(1_773_165_600));
}

#[test]
fn retry_time_is_respected() {
    let mut t = task_for("a", Shanghai, t0(), false);
    t.not_before = t0() + hours(2);
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &[agent("x", 100)],
        &[t],
        t0(),
    )
    .expect("plan");
    assert_eq!(
        plan.next_for(&"x".into()).map(|a| a.at),
        Some(t0() + hours(2))
    );
}

#[test]
fn per_shift_capacity_spreads_work_over_agents_and_days() {
    let tasks: Vec<Task> = (0..10)
        .map(|i| task_for(&format!("t{i}"), Shanghai, t0(), false))
        .collect();
    let agents = [agent("x", 3), agent("y", 3)];
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &agents,
        &tasks,
        t0(),
    )
    .expect("plan");
    for id in ["x", "y"] {
        let list = plan.assignments_for(&id.into());
        assert_eq!(list.len(), 5, "{id}: 3 today + 2 tomorrow");
        assert!(list[3].at >= t0() + hours(24), "{id}: 4th call is tomorrow");
    }
}

#[test]
fn agents_furthest_behind_quota_get_work_first() {
    let tasks = vec![task_for("a", Shanghai, t0(), false)];
    let mut behind = agent("behind", 100);
    behind.quota_gap = 400;
    let agents = [agent("ahead", 100), behind];
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &agents,
        &tasks,
        t0(),
    )
    .expect("plan");
    assert_eq!(plan.assignments_for(&"behind".into()).len(), 1);
}

#[test]
fn dropped_call_callback_goes_to_the_same_agent() {
    let mut s = spec("a", Shanghai, t0());
    s.preferred_agent = Some("y".into());
    let tasks = vec![Task::new(s).expect("task")];
    let agents = [agent("x", 100), agent("y", 100)];
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &agents,
        &tasks,
        t0(),
    )
    .expect("plan");
    assert_eq!(plan.next_for(&"y".into()).map(|a| a.at), Some(t0()));
}

#[test]
fn paused_and_unknown_campaigns_are_not_planned() {
    let mut c = running_campaign("c1", queue());
    c.pause().expect("pause");
    let mut other = spec("b", Shanghai, t0());
    other.campaign = "ghost".into();
    let tasks = vec![
        task_for("a", Shanghai, t0(), false),
        Task::new(other).expect("task"),
    ];
    let plan = plan(&cfg(), &[c], &[agent("x", 100)], &tasks, t0()).expect("plan");
    assert_eq!(plan.planned_count(), 0);
    assert_eq!(
        plan.unplanned(),
        &[
            (0, UnplannedReason::CampaignInactive),
            (1, UnplannedReason::UnknownCampaign)
        ]
    );
}

#[test]
fn booked_time_is_kept_to_the_minute_and_unstaffed_bookings_are_escalated() {
    let calling = CallingPolicy::default();
    let mut a = task_for("a", Shanghai, t0(), false);
    let at = t0() + Duration::from_secs(3 * 3600 + 17 * 60 + 30); // 12:17:30? no: lunch
    assert!(
        a.book(at, t0(), &calling).is_err(),
        "lunch time cannot be booked"
    );
    let at = t0() + Duration::from_secs(5 * 3600 + 17 * 60 + 30); // 14:17:30 local
    a.book(at, t0(), &calling).expect("bookable");
    let mut b = task_for("b", Shanghai, t0(), false);
    b.book(at + Duration::from_secs(60), t0(), &calling)
        .expect("bookable");
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &[agent("x", 100)],
        &[a, b],
        t0(),
    )
    .expect("plan");
    assert_eq!(
        plan.assignments_for(&"x".into()),
        &[Assignment {
            task: 0,
            at,
            late: false
        }]
    );
    assert_eq!(plan.escalations().len(), 1);
    assert_eq!(
        plan.escalations()[0].reason,
        EscalationReason::BookedSlotUnstaffed
    );
    assert_eq!(plan.escalations()[0].task, 1);
}

#[test]
fn key_customer_beyond_capacity_is_escalated_before_the_deadline() {
    // One agent, capacity 2 per shift; three key customers due in 10 hours (today only).
    let tasks: Vec<Task> = (0..3)
        .map(|i| task_for(&format!("k{i}"), Shanghai, t0() - hours(62), true))
        .collect();
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &[agent("x", 2)],
        &tasks,
        t0(),
    )
    .expect("plan");
    let esc = plan.escalations();
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0].reason, EscalationReason::NoCapacityBeforeDeadline);
    assert!(
        esc[0].deadline > t0(),
        "escalated while the deadline is still ahead"
    );
    // Never dropped: it is still planned, late, for tomorrow.
    let late: Vec<_> = plan
        .assignments_for(&"x".into())
        .iter()
        .filter(|a| a.late)
        .collect();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].task, esc[0].task);
}

#[test]
fn exhausted_key_customer_is_escalated_every_plan() {
    let mut t = task_for("k", Shanghai, t0(), true);
    t.state = TaskState::Exhausted;
    let plan = plan(
        &cfg(),
        &[running_campaign("c1", queue())],
        &[agent("x", 2)],
        &[t],
        t0(),
    )
    .expect("plan");
    assert_eq!(
        plan.escalations()[0].reason,
        EscalationReason::AttemptsExhausted
    );
}

#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    let mut c = cfg();
    c.slot = Duration::ZERO;
    assert_eq!(
        plan(&c, &[], &[], &[], t0()).err(),
        Some(PlanError::SlotTooShort)
    );
    let mut c = cfg();
    c.slot = Duration::from_secs(1);
    c.horizon = hours(24 * 365);
    assert!(matches!(
        plan(&c, &[], &[], &[], t0()),
        Err(PlanError::HorizonTooLong { .. })
    ));
    let dup = [agent("x", 1), agent("x", 1)];
    assert!(matches!(
        plan(&cfg(), &[], &dup, &[], t0()),
        Err(PlanError::DuplicateAgent(_))
    ));
}

const ZONES: &[Tz] = &[
    chrono_tz::Asia::Shanghai,
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Australia::Sydney,
];

fn arb_window() -> impl Strategy<Value = TimeWindow> {
    (0u32..48, 1u32..47).prop_map(|(start, len)| {
        let end = (start + len) % 48;
        let t = |h: u32| chrono::NaiveTime::from_hms_opt(h / 2, (h % 2) * 30, 0).expect("time");
        TimeWindow::new(t(start), t(end)).expect("non-empty")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_planned_call_starts_or_ends_in_rest_time_and_no_agent_is_double_booked(
        windows in proptest::collection::vec(arb_window(), 1..3),
        day_offset in 0i64..400,
        tasks in proptest::collection::vec((0..ZONES.len(), 0i64..96, any::<bool>()), 1..120),
        agents in 1usize..4,
    ) {
        let Ok(calling) = CallingPolicy::new(windows, []) else { return Ok(()); };
        let now = t0() + Duration::from_secs((day_offset * 86_400 + day_offset * 1_337) as u64);
        let config = PlannerConfig { calling: calling.clone(), ..cfg() };
        let agents: Vec<AgentInput> = (0..agents)
            .map(|i| AgentInput {
                shifts: vec![Interval { start: now, end: now + hours(24 * 4) }],
                ..round_the_clock(&format!("a{i}"))
            })
            .collect();
        let tasks: Vec<Task> = tasks
            .iter()
            .enumerate()
            .map(|(i, &(z, back, key))| task_for(&format!("t{i}"), ZONES[z], now - hours(back as u64), key))
            .collect();
        let mut camp = running_campaign("c1", queue());
        camp = Campaign::new("c1".into(), CampaignSpec { starts_at: now - hours(1), ends_at: now + hours(24 * 30), ..camp.spec().clone() })
            .expect("campaign");
        camp.start().expect("start");
        let p = plan(&config, &[camp], &agents, &tasks, now).expect("plan");
        for (_, list) in p.iter() {
            let mut seen = HashSet::new();
            for a in list {
                let tz = tasks[a.task].spec().tz;
                prop_assert!(calling.is_allowed(a.at, tz), "start in rest: {} {:?}", a.at, tz);
                prop_assert!(calling.is_allowed(a.at + Duration::from_secs(299), tz), "end in rest");
                prop_assert!(seen.insert(a.at), "agent double-booked at {}", a.at);
                prop_assert!(a.at >= now);
            }
        }
    }

    #[test]
    fn key_customers_are_on_time_when_capacity_exists_and_escalated_when_not(
        n_key in 1usize..60,
        n_plain in 0usize..60,
        capacity in 1u32..40,
        hours_left in 1u64..10,
    ) {
        // Everyone in Shanghai, the agent works 09:00-18:00, `now` is 09:00 and each deadline
        // is `hours_left` hours away, so the slots before the deadline are known exactly.
        let mut tasks = Vec::new();
        for i in 0..n_key {
            tasks.push(task_for(&format!("k{i}"), Shanghai, t0() + hours(hours_left) - hours(72), true));
        }
        for i in 0..n_plain {
            tasks.push(task_for(&format!("p{i}"), Shanghai, t0() - hours(72), false));
        }
        let p = plan(&cfg(), &[running_campaign("c1", queue())], &[agent("x", capacity)], &tasks, t0())
            .expect("plan");
        // Calling time before the deadline: 09:00-12:00 then 14:00-...; 12 slots an hour.
        let allowed_hours = hours_left.min(3) + hours_left.saturating_sub(5);
        let slots = (allowed_hours * 12) as usize;
        let room = slots.min(capacity as usize);
        let on_time: HashSet<usize> = p
            .assignments_for(&"x".into())
            .iter()
            .filter(|a| !a.late)
            .map(|a| a.task)
            .collect();
        let escalated: HashSet<usize> = p.escalations().iter().map(|e| e.task).collect();
        for k in 0..n_key {
            // Every key task is either on time or escalated, never silently late or dropped.
            prop_assert!(on_time.contains(&k) ^ escalated.contains(&k), "key task {}", k);
        }
        let key_on_time = (0..n_key).filter(|k| on_time.contains(k)).count();
        prop_assert_eq!(key_on_time, n_key.min(room), "capacity used for key customers first");
        for e in p.escalations() {
            prop_assert!(e.task < n_key, "only key customers are escalated here");
            prop_assert!(e.deadline > t0(), "escalated before the deadline");
        }
    }

    #[test]
    fn a_booked_time_is_never_moved(
        bookings in proptest::collection::vec((0u64..72 * 12, 0u64..300), 1..40),
        agents in 1usize..3,
    ) {
        let calling = CallingPolicy::default();
        let mut tasks = Vec::new();
        for (i, &(slot, sec)) in bookings.iter().enumerate() {
            let at = t0() + Duration::from_secs(slot * 300 + sec);
            let mut t = task_for(&format!("b{i}"), Shanghai, t0(), i % 2 == 0);
            if t.book(at, t0(), &calling).is_ok() {
                tasks.push(t);
            }
        }
        let agents: Vec<AgentInput> = (0..agents).map(|i| agent(&format!("a{i}"), 1000)).collect();
        let p = plan(&cfg(), &[running_campaign("c1", queue())], &agents, &tasks, t0()).expect("plan");
        let mut placed = HashSet::new();
        for (_, list) in p.iter() {
            for a in list {
                prop_assert_eq!(Some(a.at), tasks[a.task].booked_at(), "booked time moved");
                placed.insert(a.task);
            }
        }
        for (i, _) in tasks.iter().enumerate() {
            let escalated = p.escalations().iter().any(|e| e.task == i);
            let beyond = p.unplanned().contains(&(i, UnplannedReason::BookedBeyondHorizon));
            prop_assert!(placed.contains(&i) || escalated || beyond, "booking {} lost", i);
        }
    }
}
