//! One call-back task: who to call (numbers, time zone, key customer, consent), why, and by when.
//!
//! SLA: a task is due 3 days after its trigger. When the customer asks for a better time, that
//! booked time replaces the due time and is honoured to the slot: the planner never moves it.

use std::time::Duration;

use chrono_tz::Tz;
use switchboard_core::{AgentId, CampaignId, CustomerId, E164, TaskId, Timestamp};

use crate::calling::CallingPolicy;
use crate::outcome::CallReport;
use crate::template::CampaignType;

/// What can go wrong creating or updating a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("task {0} has no phone number to call")]
    NoNumbers(TaskId),
    #[error("max attempts must be at least 1")]
    ZeroAttempts,
    #[error("task {task} is {state:?} and takes no more attempts")]
    Closed { task: TaskId, state: TaskState },
    #[error("booked time {at} is in the customer's rest time")]
    BookedInRestTime { at: Timestamp },
    #[error("booked time {at} is in the past (now {now})")]
    BookedInPast { at: Timestamp, now: Timestamp },
    #[error("number index {index} is out of range for task {task}")]
    NoSuchNumber { task: TaskId, index: usize },
}

/// Default SLA: call back within 3 days of the triggering event.
pub const DEFAULT_SLA: Duration = Duration::from_secs(3 * 24 * 3600);

/// Why a task will never be dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suppression {
    DoNotCall,
    NoConsent,
}

/// Lifecycle of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting to be planned and dialled.
    Pending,
    /// The call-back happened and its outcome is recorded.
    Done,
    /// Max attempts used without reaching the customer.
    Exhausted,
    /// Do-not-call or no consent: never scheduled.
    Suppressed(Suppression),
    /// The trigger went away (order paid, campaign stopped ...).
    Cancelled,
}

/// One phone number of the customer and whether the dialer may use it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberState {
    pub number: E164,
    /// A number whose call the dialer abandoned rests for 72 h.
    pub blocked_until: Option<Timestamp>,
    /// Reported invalid (unallocated, disconnected): never dialled again.
    pub dead: bool,
}

/// Customer's contact permissions, as recorded in the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent {
    pub do_not_call: bool,
    pub consent_given: bool,
}

impl Default for Consent {
    fn default() -> Self {
        Consent {
            do_not_call: false,
            consent_given: true,
        }
    }
}

/// Everything needed to create a task.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub id: TaskId,
    pub campaign: CampaignId,
    pub kind: CampaignType,
    pub customer: CustomerId,
    /// The customer's IANA zone: calling windows are judged in it.
    pub tz: Tz,
    /// In the order to try them.
    pub numbers: Vec<E164>,
    pub key_customer: bool,
    pub consent: Consent,
    pub triggered_at: Timestamp,
    /// SLA from the trigger; [`DEFAULT_SLA`] unless configured.
    pub sla: Duration,
    /// Same agent as before (dropped call, ticket owner); the planner tries them first.
    pub preferred_agent: Option<AgentId>,
    /// Higher is more urgent; usually the campaign's priority.
    pub priority: u8,
    pub max_attempts: u32,
    /// A short line for the agent: "order 1234 unpaid for 3 days".
    pub purpose: String,
}

/// A call-back task.
#[derive(Debug, Clone)]
pub struct Task {
    pub(crate) spec: TaskSpec,
    pub(crate) numbers: Vec<NumberState>,
    pub(crate) state: TaskState,
    pub(crate) due: Timestamp,
    pub(crate) booked_at: Option<Timestamp>,
    pub(crate) attempts: u32,
    /// Index of the number to dial next.
    pub(crate) next_number: usize,
    /// Numbers tried without answer in the current round (a round ends when every usable
    /// number has failed; the next round goes to another part of the day).
    pub(crate) round_tried: Vec<bool>,
    /// No attempt before this instant (retry delays, blocked numbers).
    pub(crate) not_before: Timestamp,
    pub(crate) last_report: Option<CallReport>,
}

impl Task {
    /// Validates the spec. Do-not-call or missing consent makes the task suppressed at once:
    /// it exists (so reports can count it) but is never scheduled.
    pub fn new(spec: TaskSpec) -> Result<Self, TaskError> {
        if spec.max_attempts == 0 {
            return Err(TaskError::ZeroAttempts);
        }
        let state = if spec.consent.do_not_call {
            TaskState::Suppressed(Suppression::DoNotCall)
        } else if !spec.consent.consent_given {
            TaskState::Suppressed(Suppression::NoConsent)
        } else if spec.numbers.is_empty() {
            return Err(TaskError::NoNumbers(spec.id.clone()));
        } else {
            TaskState::Pending
        };
        let numbers: Vec<NumberState> = spec
            .numbers
            .iter()
            .map(|n| NumberState {
                number: n.clone(),
                blocked_until: None,
                dead: false,
            })
            .collect();
        Ok(Task {
            due: spec.triggered_at + spec.sla,
            not_before: spec.triggered_at,
            round_tried: vec![false; numbers.len()],
            numbers,
            state,
            booked_at: None,
            attempts: 0,
            next_number: 0,
            last_report: None,
            spec,
        })
    }

    pub fn id(&self) -> &TaskId {
        &self.spec.id
    }

    pub fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    pub fn state(&self) -> TaskState {
        self.state
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub fn max_attempts(&self) -> u32 {
        self.spec.max_attempts
    }

    pub fn is_key_customer(&self) -> bool {
        self.spec.key_customer
    }

    pub fn numbers(&self) -> &[NumberState] {
        &self.numbers
    }

    /// The number the next attempt should dial.
    pub fn current_number(&self) -> Option<&E164> {
        self.numbers.get(self.next_number).map(|n| &n.number)
    }

    /// The SLA due time: trigger + SLA.
    pub fn due(&self) -> Timestamp {
        self.due
    }

    /// The time the customer asked to be called, if any.
    pub fn booked_at(&self) -> Option<Timestamp> {
        self.booked_at
    }

    /// The deadline the planner works to: the booked time when there is one, else the due time.
    pub fn deadline(&self) -> Timestamp {
        self.booked_at.unwrap_or(self.due)
    }

    /// Earliest instant for the next attempt.
    pub fn not_before(&self) -> Timestamp {
        self.not_before
    }

    pub fn last_report(&self) -> Option<&CallReport> {
        self.last_report.as_ref()
    }

    /// True while the task still wants a call.
    pub fn is_open(&self) -> bool {
        self.state == TaskState::Pending
    }

    /// The customer asked to be called at `at`. It must be in the future and outside the
    /// customer's rest time (the agent offers another time otherwise); once booked, the
    /// planner uses exactly this instant.
    pub fn book(
        &mut self,
        at: Timestamp,
        now: Timestamp,
        calling: &CallingPolicy,
    ) -> Result<(), TaskError> {
        self.ensure_open()?;
        if at < now {
            return Err(TaskError::BookedInPast { at, now });
        }
        if !calling.is_allowed(at, self.spec.tz) {
            return Err(TaskError::BookedInRestTime { at });
        }
        self.booked_at = Some(at);
        self.not_before = at;
        Ok(())
    }

    /// The trigger went away (order paid, ticket reopened ...).
    pub fn cancel(&mut self) -> Result<(), TaskError> {
        self.ensure_open()?;
        self.state = TaskState::Cancelled;
        Ok(())
    }

    pub(crate) fn ensure_open(&self) -> Result<(), TaskError> {
        if self.state == TaskState::Pending {
            Ok(())
        } else {
            Err(TaskError::Closed {
                task: self.spec.id.clone(),
                state: self.state,
            })
        }
    }
}

/// The mutable part of a task, for drivers that keep tasks in a database between calls: a
/// task is rebuilt with [`Task::restore`] from its spec and this snapshot, handed the next
/// event, and its new [`Task::snapshot`] written back. The logic stays here; the store only
/// keeps the numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSnapshot {
    pub state: TaskState,
    pub numbers: Vec<NumberState>,
    pub due: Timestamp,
    pub booked_at: Option<Timestamp>,
    pub attempts: u32,
    pub next_number: usize,
    pub round_tried: Vec<bool>,
    pub not_before: Timestamp,
}

impl Task {
    /// The task's current state, to store.
    pub fn snapshot(&self) -> TaskSnapshot {
        TaskSnapshot {
            state: self.state,
            numbers: self.numbers.clone(),
            due: self.due,
            booked_at: self.booked_at,
            attempts: self.attempts,
            next_number: self.next_number,
            round_tried: self.round_tried.clone(),
            not_before: self.not_before,
        }
    }

    /// A task as it was stored. The snapshot must fit the spec (one entry per number); a
    /// snapshot that does not is refused rather than trusted.
    pub fn restore(spec: TaskSpec, snap: TaskSnapshot) -> Result<Self, TaskError> {
        if spec.max_attempts == 0 {
            return Err(TaskError::ZeroAttempts);
        }
        let n = snap.numbers.len();
        if snap.round_tried.len() != n || (n > 0 && snap.next_number >= n) {
            return Err(TaskError::NoSuchNumber {
                task: spec.id.clone(),
                index: snap.next_number,
            });
        }
        Ok(Task {
            spec,
            numbers: snap.numbers,
            state: snap.state,
            due: snap.due,
            booked_at: snap.booked_at,
            attempts: snap.attempts,
            next_number: snap.next_number,
            round_tried: snap.round_tried,
            not_before: snap.not_before,
            last_report: None,
        })
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A pending service follow-up for a customer in `tz`, triggered at `at`, two numbers.
    pub fn task(id: &str, tz: Tz, at: Timestamp) -> Task {
        Task::new(spec(id, tz, at)).expect("valid task")
    }

    pub fn spec(id: &str, tz: Tz, at: Timestamp) -> TaskSpec {
        TaskSpec {
            id: id.into(),
            campaign: "c1".into(),
            kind: CampaignType::ServiceFollowUp,
            customer: format!("cust-{id}").as_str().into(),
            tz,
            numbers: vec![
                E164::parse("+8613800000001").expect("number"),
                E164::parse("+8613800000002").expect("number"),
            ],
            key_customer: false,
            consent: Consent::default(),
            triggered_at: at,
            sla: DEFAULT_SLA,
            preferred_agent: None,
            priority: 100,
            max_attempts: 5,
            purpose: "follow-up".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn task_is_due_three_days_after_its_trigger() {
        let t = task(
            "t1",
            chrono_tz::Asia::Shanghai,
            Timestamp::from_secs(1_000_000),
        );
        assert_eq!(t.due(), Timestamp::from_secs(1_000_000 + 3 * 86_400));
        assert_eq!(t.deadline(), t.due());
    }

    #[test]
    fn booked_time_replaces_the_due_time() {
        let tz = chrono_tz::Asia::Shanghai;
        // 2026-03-10 10:00 Shanghai = 02:00Z.
        let now = Timestamp::from_secs(1_773_108_000);
        let mut t = task("t1", tz, now);
        let at = now + Duration::from_secs(5 * 86_400);
        t.book(at, now, &CallingPolicy::default()).unwrap();
        assert_eq!(t.deadline(), at);
        assert_eq!(t.booked_at(), Some(at));
    }

    #[test]
    fn booking_in_rest_time_or_the_past_is_refused() {
        let tz = chrono_tz::Asia::Shanghai;
        let now = Timestamp::from_secs(1_773_108_000); // 10:00 local
        let mut t = task("t1", tz, now);
        let lunch = now + Duration::from_secs(2 * 3600 + 600); // 12:10 local
        assert_eq!(
            t.book(lunch, now, &CallingPolicy::default()),
            Err(TaskError::BookedInRestTime { at: lunch })
        );
        let past = Timestamp::from_secs(1_000);
        assert!(matches!(
            t.book(past, now, &CallingPolicy::default()),
            Err(TaskError::BookedInPast { .. })
        ));
        assert_eq!(t.booked_at(), None);
    }

    #[test]
    fn do_not_call_and_missing_consent_suppress_the_task() {
        let mut s = spec("t1", chrono_tz::Europe::London, Timestamp::from_secs(0));
        s.consent.do_not_call = true;
        assert_eq!(
            Task::new(s.clone()).unwrap().state(),
            TaskState::Suppressed(Suppression::DoNotCall)
        );
        s.consent = Consent {
            do_not_call: false,
            consent_given: false,
        };
        assert_eq!(
            Task::new(s).unwrap().state(),
            TaskState::Suppressed(Suppression::NoConsent)
        );
    }

    #[test]
    fn a_task_without_numbers_or_attempts_is_refused() {
        let mut s = spec("t1", chrono_tz::Europe::London, Timestamp::from_secs(0));
        s.max_attempts = 0;
        assert_eq!(Task::new(s.clone()).err(), Some(TaskError::ZeroAttempts));
        s.max_attempts = 3;
        s.numbers.clear();
        assert!(matches!(Task::new(s), Err(TaskError::NoNumbers(_))));
    }

    #[test]
    fn a_restored_task_continues_where_its_snapshot_left_off() {
        use crate::attempts::{DialResult, RetryPolicy};
        let tz = chrono_tz::Asia::Shanghai;
        let now = Timestamp::from_secs(1_773_108_000); // 10:00 local
        let mut t = task("t1", tz, now);
        let policy = CallingPolicy::default();
        t.record_attempt(DialResult::NoAnswer, now, &RetryPolicy::default(), &policy)
            .unwrap();
        let restored = Task::restore(t.spec().clone(), t.snapshot()).unwrap();
        assert_eq!(restored.snapshot(), t.snapshot());
        assert_eq!(restored.current_number(), t.current_number());
        assert_eq!(restored.attempts(), 1);
        let mut bad = t.snapshot();
        bad.round_tried.pop();
        assert!(Task::restore(t.spec().clone(), bad).is_err());
    }
}
