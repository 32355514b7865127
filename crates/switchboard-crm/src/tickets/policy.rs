//! The ticket clock's figures, from config `[tickets]` (defaults from the service rules).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a complaint may wait for its first reply, when it climbs the escalation ladder, and
/// how soon the follow-up call after resolution is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketPolicy {
    /// A ticket nobody has taken by then is flagged overdue (12 h).
    pub reply_within: Duration,
    /// A ticket still unresolved this long after creation goes to the first rung, and after
    /// each further such period to the next one (24 h).
    pub escalate_after: Duration,
    /// Who a ticket goes to, in order (`shift_lead`, then `manager`).
    pub ladder: Vec<String>,
    /// The follow-up call a resolution creates is due within this (the call-back SLA, 3 days).
    pub follow_up_within: Duration,
}

const HOUR: u64 = 3600;

impl TicketPolicy {
    /// From the config's hours; `follow_up_days` is the call-back SLA.
    pub fn from_hours(
        reply_within_hours: u32,
        escalate_after_hours: u32,
        ladder: Vec<String>,
        follow_up_days: u32,
    ) -> Self {
        TicketPolicy {
            reply_within: Duration::from_secs(u64::from(reply_within_hours) * HOUR),
            escalate_after: Duration::from_secs(u64::from(escalate_after_hours) * HOUR),
            ladder,
            follow_up_within: Duration::from_secs(u64::from(follow_up_days) * 24 * HOUR),
        }
    }
}

impl Default for TicketPolicy {
    fn default() -> Self {
        TicketPolicy::from_hours(12, 24, vec!["shift_lead".into(), "manager".into()], 3)
    }
}
