//! The supervisors' report figures, computed from the store's facts (`switchboard_store::reports`)
//! so both engines give the same numbers and the rules are testable without a database.
//!
//! Definitions (the service rules' terms):
//! - queues: offered = calls that reached the queue; answered = an agent answered; abandoned =
//!   the caller hung up before an agent answered; service level = answered within the queue's
//!   `service_level_threshold` ÷ (answered + abandoned) (the ACD's definition); abandon rate =
//!   abandoned ÷ (answered + abandoned); ASA = mean wait of the answered calls; AHT = mean talk
//!   time of the answered calls that ended (the CDR has no wrap-up);
//! - campaigns ("one avoidance, three guarantees", 一避免三保证): rest-time violations =
//!   attempts made when the campaign's calling policy forbids calling the customer (rest time
//!   or holiday, in the customer's zone); key-customer coverage = key-customer tasks done ÷
//!   key-customer tasks; record completeness = answered attempts with both a satisfaction and
//!   a note ÷ answered attempts; within-3-days rate = tasks done by their trigger + the
//!   call-back SLA (3 days), or by the time the customer booked (+ 1 h), ÷ tasks done or past
//!   that deadline;
//! - tickets (工单): reply SLA = taken by the reply deadline (12 h) ÷ (taken in time + late or
//!   never taken past the deadline); resolution SLA = resolved within the escalation time
//!   (24 h) ÷ (resolved in time + resolved late or still open past it); escalated = climbed at
//!   least one rung.

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;
use serde::Serialize;
use switchboard_campaign::calling::CallingPolicy;
use switchboard_core::Timestamp;
use switchboard_store::reports::{CampaignAttempt, CampaignTask, QueueCall, TicketClock};
use utoipa::ToSchema;

/// Grace after a booked time within which the call still counts as "called then".
pub const BOOKED_GRACE_MS: i64 = 3_600_000;

fn rate(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn mean_secs(total_ms: i64, n: u64) -> Option<f64> {
    (n > 0).then(|| total_ms as f64 / 1000.0 / n as f64)
}

/// One queue over the period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QueueFigures {
    pub queue: String,
    pub offered: u64,
    pub answered: u64,
    pub answered_within_threshold: u64,
    pub abandoned: u64,
    /// The queue's service-level threshold T, seconds.
    pub threshold_secs: u64,
    pub service_level: Option<f64>,
    pub abandon_rate: Option<f64>,
    pub asa_secs: Option<f64>,
    pub aht_secs: Option<f64>,
    pub longest_wait_secs: u64,
}

/// Per queue (ordered by id); `thresholds` = queue id → T seconds (else `default_threshold`).
pub fn queue_figures(
    calls: &[QueueCall],
    thresholds: &HashMap<String, u64>,
    default_threshold: u64,
) -> Vec<QueueFigures> {
    #[derive(Default)]
    struct Acc {
        offered: u64,
        answered: u64,
        within: u64,
        abandoned: u64,
        wait_ms: i64,
        talk_ms: i64,
        talked: u64,
        longest_ms: i64,
    }
    let mut by_queue: BTreeMap<&str, Acc> = BTreeMap::new();
    for c in calls {
        let threshold = thresholds
            .get(&c.queue)
            .copied()
            .unwrap_or(default_threshold);
        let a = by_queue.entry(c.queue.as_str()).or_default();
        a.offered += 1;
        match (c.answered_at, c.ended_at) {
            (Some(answered), ended) => {
                let wait = (answered - c.started_at).max(0);
                a.answered += 1;
                a.wait_ms += wait;
                a.longest_ms = a.longest_ms.max(wait);
                if wait <= i64::try_from(threshold * 1000).unwrap_or(i64::MAX) {
                    a.within += 1;
                }
                if let Some(end) = ended {
                    a.talk_ms += (end - answered).max(0);
                    a.talked += 1;
                }
            }
            (None, Some(ended)) => {
                a.abandoned += 1;
                a.longest_ms = a.longest_ms.max((ended - c.started_at).max(0));
            }
            // Still waiting: offered, nothing else yet.
            (None, None) => {}
        }
    }
    by_queue
        .into_iter()
        .map(|(queue, a)| QueueFigures {
            queue: queue.to_owned(),
            offered: a.offered,
            answered: a.answered,
            answered_within_threshold: a.within,
            abandoned: a.abandoned,
            threshold_secs: thresholds.get(queue).copied().unwrap_or(default_threshold),
            service_level: rate(a.within, a.answered + a.abandoned),
            abandon_rate: rate(a.abandoned, a.answered + a.abandoned),
            asa_secs: mean_secs(a.wait_ms, a.answered),
            aht_secs: mean_secs(a.talk_ms, a.talked),
            longest_wait_secs: u64::try_from(a.longest_ms / 1000).unwrap_or(0),
        })
        .collect()
}

/// One campaign's compliance over the period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CampaignFigures {
    pub campaign_id: String,
    pub name: String,
    /// Attempts made in the period.
    pub attempts: u64,
    /// Of them, made in the customer's rest time or on a holiday (the one avoidance).
    pub rest_time_violations: u64,
    /// Key-customer tasks triggered in the period, and those done.
    pub key_customers: u64,
    pub key_customers_done: u64,
    pub key_customer_coverage: Option<f64>,
    /// Answered attempts, and those with satisfaction and note recorded.
    pub answered_attempts: u64,
    pub complete_records: u64,
    pub record_completeness: Option<f64>,
    /// Tasks triggered in the period that are done or past their deadline, and those done in time.
    pub tasks_due: u64,
    pub tasks_on_time: u64,
    pub within_3_days_rate: Option<f64>,
}

/// What the campaign report needs to know of each campaign.
#[derive(Debug)]
pub struct CampaignInfo {
    pub name: String,
    pub calling: CallingPolicy,
}

/// Per campaign with any task or attempt in the period (ordered by id). `zone` is the call
/// centre's (for tasks without a customer zone); `sla_ms` the call-back SLA (3 days).
pub fn campaign_figures(
    attempts: &[CampaignAttempt],
    tasks: &[CampaignTask],
    campaigns: &HashMap<String, CampaignInfo>,
    zone: Tz,
    sla_ms: i64,
    now: Timestamp,
) -> Vec<CampaignFigures> {
    let mut out: BTreeMap<&str, CampaignFigures> = BTreeMap::new();
    let entry = |id: &str| -> CampaignFigures {
        CampaignFigures {
            campaign_id: id.to_owned(),
            name: campaigns
                .get(id)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            attempts: 0,
            rest_time_violations: 0,
            key_customers: 0,
            key_customers_done: 0,
            key_customer_coverage: None,
            answered_attempts: 0,
            complete_records: 0,
            record_completeness: None,
            tasks_due: 0,
            tasks_on_time: 0,
            within_3_days_rate: None,
        }
    };
    for a in attempts {
        let f = out
            .entry(a.campaign_id.as_str())
            .or_insert_with(|| entry(&a.campaign_id));
        f.attempts += 1;
        if let Some(info) = campaigns.get(&a.campaign_id) {
            let tz = a
                .time_zone
                .as_deref()
                .and_then(|z| z.parse::<Tz>().ok())
                .unwrap_or(zone);
            if !info.calling.is_allowed(Timestamp::from_millis(a.at), tz) {
                f.rest_time_violations += 1;
            }
        }
        if a.result == "answered" {
            f.answered_attempts += 1;
            let has = |s: Option<&str>| s.is_some_and(|s| !s.trim().is_empty());
            if has(a.satisfaction.as_deref()) && has(Some(&a.note)) {
                f.complete_records += 1;
            }
        }
    }
    for t in tasks {
        let f = out
            .entry(t.campaign_id.as_str())
            .or_insert_with(|| entry(&t.campaign_id));
        let done = t.state == "done";
        if t.key_customer != 0 {
            f.key_customers += 1;
            if done {
                f.key_customers_done += 1;
            }
        }
        let deadline = t.trigger_at + sla_ms;
        let booked = t.booked_until.map(|b| b + BOOKED_GRACE_MS);
        let in_time = |at: i64| at <= deadline || booked.is_some_and(|b| at <= b);
        match t.done_at.filter(|_| done) {
            Some(at) => {
                f.tasks_due += 1;
                if in_time(at) {
                    f.tasks_on_time += 1;
                }
            }
            None if !in_time(now.as_millis()) => f.tasks_due += 1,
            None => {}
        }
    }
    out.into_values()
        .map(|mut f| {
            f.key_customer_coverage = rate(f.key_customers_done, f.key_customers);
            f.record_completeness = rate(f.complete_records, f.answered_attempts);
            f.within_3_days_rate = rate(f.tasks_on_time, f.tasks_due);
            f
        })
        .collect()
}

/// The tenant's tickets created in the period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketFigures {
    pub created: u64,
    pub replied_in_time: u64,
    /// Taken after the reply deadline, or not taken and past it.
    pub reply_late: u64,
    pub reply_sla: Option<f64>,
    pub resolved: u64,
    pub resolved_in_time: u64,
    /// Resolved after the escalation time, or unresolved and past it.
    pub resolution_late: u64,
    pub resolution_sla: Option<f64>,
    pub escalated: u64,
}

/// `escalate_after_ms`: the escalation time (24 h).
pub fn ticket_figures(
    tickets: &[TicketClock],
    escalate_after_ms: i64,
    now: Timestamp,
) -> TicketFigures {
    let now = now.as_millis();
    let mut f = TicketFigures {
        created: 0,
        replied_in_time: 0,
        reply_late: 0,
        reply_sla: None,
        resolved: 0,
        resolved_in_time: 0,
        resolution_late: 0,
        resolution_sla: None,
        escalated: 0,
    };
    for t in tickets {
        f.created += 1;
        match t.first_response_at {
            Some(at) if at <= t.reply_due_at => f.replied_in_time += 1,
            Some(_) => f.reply_late += 1,
            None if now > t.reply_due_at => f.reply_late += 1,
            None => {}
        }
        let due = t.created_at + escalate_after_ms;
        match t.resolved_at {
            Some(at) => {
                f.resolved += 1;
                if at <= due {
                    f.resolved_in_time += 1;
                } else {
                    f.resolution_late += 1;
                }
            }
            None if now > due => f.resolution_late += 1,
            None => {}
        }
        if t.escalation_level > 0 {
            f.escalated += 1;
        }
    }
    f.reply_sla = rate(f.replied_in_time, f.replied_in_time + f.reply_late);
    f.resolution_sla = rate(f.resolved_in_time, f.resolved_in_time + f.resolution_late);
    f
}

/// Rows as CSV with a header (RFC 4180, CRLF, a BOM so spreadsheets read UTF-8 names); rates
/// as fractions with four decimals, empty when undefined.
pub fn to_csv<T: Serialize>(rows: &[T]) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn call(queue: &str, start: i64, answered: Option<i64>, ended: Option<i64>) -> QueueCall {
        QueueCall {
            queue: queue.into(),
            started_at: start,
            answered_at: answered,
            ended_at: ended,
        }
    }

    #[test]
    fn service_level_counts_answers_within_the_queues_own_threshold() {
        let calls = [
            call("sales", 0, Some(10_000), Some(70_000)),
            call("sales", 0, Some(30_000), Some(90_000)),
            call("sales", 0, None, Some(5_000)),
            call("sales", 0, None, None),
            call("vip", 0, Some(30_000), Some(40_000)),
        ];
        let t = HashMap::from([("vip".to_owned(), 40)]);
        let f = queue_figures(&calls, &t, 20);
        assert_eq!((f[0].offered, f[0].answered, f[0].abandoned), (4, 2, 1));
        assert_eq!(f[0].service_level, Some(1.0 / 3.0));
        assert_eq!(f[0].asa_secs, Some(20.0));
        assert_eq!(f[0].aht_secs, Some(60.0));
        assert_eq!(f[0].longest_wait_secs, 30);
        assert_eq!(f[1].service_level, Some(1.0));
    }

    #[test]
    fn a_ticket_not_taken_counts_late_only_once_its_deadline_passed() {
        let t = TicketClock {
            created_at: 0,
            reply_due_at: 100,
            first_response_at: None,
            resolved_at: None,
            escalation_level: 0,
        };
        let before = ticket_figures(std::slice::from_ref(&t), 1000, Timestamp::from_millis(50));
        assert_eq!((before.reply_late, before.reply_sla), (0, None));
        let after = ticket_figures(&[t], 1000, Timestamp::from_millis(2000));
        assert_eq!((after.reply_late, after.resolution_late), (1, 1));
        assert_eq!(after.reply_sla, Some(0.0));
    }
}
