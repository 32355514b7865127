use super::*;
use switchboard_core::{Clock, ManualClock};

fn days(d: u64) -> Duration {
    Duration::from_secs(d * 86_400)
}

fn start() -> Timestamp {
    Timestamp::from_secs(1_773_104_400)
}

fn order(id: &str) -> OrderId {
    OrderId(id.to_owned())
}

fn drain(e: &mut TriggerEngine) -> Vec<Output> {
    std::iter::from_fn(|| e.poll_output()).collect()
}

/// Moves the clock to the engine's next deadline, as a driver would after sleeping.
fn run_until(e: &mut TriggerEngine, clock: &ManualClock, until: Timestamp) -> Vec<Output> {
    let mut out = Vec::new();
    while let Some(at) = e.poll_timeout().filter(|at| *at <= until) {
        clock.set(at);
        e.handle_timeout(clock.now());
        out.extend(drain(e));
    }
    clock.set(until);
    out
}

fn created(out: &[Output]) -> Vec<&TaskRequest> {
    out.iter()
        .filter_map(|o| match o {
            Output::CreateTask(r) => Some(r),
            Output::CheckOrder { .. } => None,
        })
        .collect()
}

#[test]
fn unpaid_order_gets_a_reminder_at_three_days_and_a_checked_warning_at_seven() {
    let clock = ManualClock::new(start());
    let mut e = TriggerEngine::new(TriggerConfig::default());
    e.handle(
        Input::OrderPlaced {
            order: order("o-1"),
            customer: "cust-1".into(),
            at: clock.now(),
        },
        clock.now(),
    )
    .unwrap();
    assert_eq!(e.poll_timeout(), Some(start() + days(3)));

    let out = run_until(&mut e, &clock, start() + days(3) - Duration::from_secs(1));
    assert!(out.is_empty(), "nothing before three days");

    let out = run_until(&mut e, &clock, start() + days(3));
    let tasks = created(&out);
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        tasks[0].reason,
        TriggerReason::OrderReminder {
            order: order("o-1")
        }
    );
    assert_eq!(tasks[0].triggered_at, start() + days(3));
    assert_eq!(
        tasks[0].due,
        start() + days(6),
        "due three days after the trigger"
    );
    assert!(tasks[0].purpose.contains("3 days"));

    let out = run_until(&mut e, &clock, start() + days(7));
    assert_eq!(
        out,
        vec![Output::CheckOrder {
            order: order("o-1")
        }],
        "check before warning"
    );
    e.handle(
        Input::OrderChecked {
            order: order("o-1"),
            in_stock: false,
            cancelled: false,
        },
        clock.now(),
    )
    .unwrap();
    let out = drain(&mut e);
    let tasks = created(&out);
    assert_eq!(
        tasks[0].reason,
        TriggerReason::OrderWarning {
            order: order("o-1"),
            in_stock: false
        }
    );
    assert!(tasks[0].purpose.contains("out of stock"));
    assert_eq!(e.poll_timeout(), None);
}

#[test]
fn paid_order_gets_no_reminder_and_a_cancelled_one_no_warning() {
    let clock = ManualClock::new(start());
    let mut e = TriggerEngine::new(TriggerConfig::default());
    for id in ["paid", "cancelled-later"] {
        e.handle(
            Input::OrderPlaced {
                order: order(id),
                customer: "c".into(),
                at: clock.now(),
            },
            clock.now(),
        )
        .unwrap();
    }
    e.handle(
        Input::OrderPaid {
            order: order("paid"),
        },
        clock.now(),
    )
    .unwrap();
    let out = run_until(&mut e, &clock, start() + days(7));
    assert_eq!(created(&out).len(), 1, "only the unpaid order's reminder");
    assert!(out.contains(&Output::CheckOrder {
        order: order("cancelled-later")
    }));
    e.handle(
        Input::OrderChecked {
            order: order("cancelled-later"),
            in_stock: true,
            cancelled: true,
        },
        clock.now(),
    )
    .unwrap();
    assert!(
        drain(&mut e).is_empty(),
        "a cancelled order gets no warning"
    );
}

#[test]
fn resolved_ticket_creates_a_follow_up_for_its_owner() {
    let clock = ManualClock::new(start());
    let mut e = TriggerEngine::new(TriggerConfig::default());
    clock.advance(Duration::from_secs(3600));
    e.handle(
        Input::TicketResolved {
            ticket: "tk-9".into(),
            customer: "cust-2".into(),
            owner: Some("agent-7".into()),
            at: clock.now(),
        },
        clock.now(),
    )
    .unwrap();
    let out = drain(&mut e);
    let tasks = created(&out);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].kind, CampaignType::ServiceFollowUp);
    assert_eq!(tasks[0].preferred_agent, Some("agent-7".into()));
    assert_eq!(tasks[0].triggered_at, start() + Duration::from_secs(3600));
    assert_eq!(tasks[0].due, clock.now() + days(3));
}

#[test]
fn dropped_inbound_call_creates_an_immediate_call_back_to_the_same_agent() {
    let now = start();
    let mut e = TriggerEngine::new(TriggerConfig::default());
    e.handle(
        Input::InboundCallDropped {
            call: "call-1".into(),
            customer: "cust-3".into(),
            agent: Some("agent-1".into()),
            queue: Some("support".into()),
            at: now,
        },
        now,
    )
    .unwrap();
    let out = drain(&mut e);
    let tasks = created(&out);
    assert_eq!(tasks[0].due, now, "due immediately");
    assert_eq!(tasks[0].preferred_agent, Some("agent-1".into()));
    assert_eq!(tasks[0].queue, Some("support".into()));
}

#[test]
fn deposit_without_visit_creates_a_call_unless_the_customer_came() {
    let clock = ManualClock::new(start());
    let mut e = TriggerEngine::new(TriggerConfig::default());
    for c in ["came", "stayed-home"] {
        e.handle(
            Input::DepositPaid {
                customer: c.into(),
                at: clock.now(),
                visit_by: clock.now() + days(5),
            },
            clock.now(),
        )
        .unwrap();
    }
    e.handle(
        Input::VisitAttended {
            customer: "came".into(),
        },
        clock.now(),
    )
    .unwrap();
    let out = run_until(&mut e, &clock, start() + days(5));
    let tasks = created(&out);
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].customer, "stayed-home".into());
    assert_eq!(tasks[0].kind, CampaignType::DepositNoVisit);
}

#[test]
fn birthdays_and_holidays_create_care_calls_on_the_day() {
    let clock = ManualClock::new(start());
    let mut e = TriggerEngine::new(TriggerConfig::default());
    e.handle(
        Input::CareOccasion {
            customer: "c".into(),
            occasion: Occasion::Holiday("Mid-Autumn Festival".into()),
            at: start() + days(10),
        },
        clock.now(),
    )
    .unwrap();
    assert!(run_until(&mut e, &clock, start() + days(9)).is_empty());
    let out = run_until(&mut e, &clock, start() + days(10));
    let tasks = created(&out);
    assert_eq!(tasks[0].kind, CampaignType::CareCall);
    assert!(tasks[0].purpose.contains("Mid-Autumn"));
}

#[test]
fn bad_events_are_errors() {
    let mut e = TriggerEngine::new(TriggerConfig::default());
    let placed = Input::OrderPlaced {
        order: order("o"),
        customer: "c".into(),
        at: start(),
    };
    e.handle(placed.clone(), start()).unwrap();
    assert_eq!(
        e.handle(placed, start()),
        Err(TriggerError::DuplicateOrder(order("o")))
    );
    assert_eq!(
        e.handle(
            Input::OrderChecked {
                order: order("o"),
                in_stock: true,
                cancelled: false
            },
            start()
        ),
        Err(TriggerError::UnexpectedCheck(order("o")))
    );
    assert!(matches!(
        e.handle(
            Input::DepositPaid {
                customer: "c".into(),
                at: start(),
                visit_by: start() - days(1)
            },
            start()
        ),
        Err(TriggerError::VisitBeforeDeposit { .. })
    ));
}
