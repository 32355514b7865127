//! Events that create call-back tasks, as a sans-IO state machine.
//!
//! - Order placed and not paid: 3 days → reminder; 7 days → warning, after the driver has checked
//!   stock and cancellation ([`Output::CheckOrder`] → [`Input::OrderChecked`]).
//! - Ticket resolved → follow-up call (closed loop).
//! - Deposit paid, no visit by the expected date → deposit-no-visit call.
//! - Birthday or holiday → care call.
//! - Inbound call dropped → immediate call-back, to the same agent when known.
//!
//! The driver feeds events with [`TriggerEngine::handle`], sleeps until
//! [`TriggerEngine::poll_timeout`], calls [`TriggerEngine::handle_timeout`], and turns each
//! [`Output::CreateTask`] into a task (it knows the customer's zone, numbers and grade).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use switchboard_core::{AgentId, CallId, CustomerId, QueueId, TicketId, Timestamp};

use crate::template::CampaignType;

/// What can go wrong feeding the trigger engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("order {0} is already being watched")]
    DuplicateOrder(OrderId),
    #[error("order {0} is not waiting for a stock and cancellation check")]
    UnexpectedCheck(OrderId),
    #[error("visit deadline {visit_by} is before the deposit time {paid_at}")]
    VisitBeforeDeposit {
        paid_at: Timestamp,
        visit_by: Timestamp,
    },
}

/// An order in the shop or ERP (core has no order id; it lives here until the CRM owns one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderId(pub String);

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Trigger timings (configurable per tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriggerConfig {
    pub order_reminder_after: Duration,
    pub order_warning_after: Duration,
    /// Due time of created tasks after their trigger.
    pub sla: Duration,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        TriggerConfig {
            order_reminder_after: Duration::from_secs(3 * 86_400),
            order_warning_after: Duration::from_secs(7 * 86_400),
            sla: crate::task::DEFAULT_SLA,
        }
    }
}

/// A care-call occasion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Occasion {
    Birthday,
    Holiday(String),
}

/// Events from the CRM, shop and ACD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    OrderPlaced {
        order: OrderId,
        customer: CustomerId,
        at: Timestamp,
    },
    OrderPaid {
        order: OrderId,
    },
    OrderCancelled {
        order: OrderId,
    },
    /// The driver's answer to [`Output::CheckOrder`].
    OrderChecked {
        order: OrderId,
        in_stock: bool,
        cancelled: bool,
    },
    TicketResolved {
        ticket: TicketId,
        customer: CustomerId,
        /// First-response owner: they make the follow-up call when possible.
        owner: Option<AgentId>,
        at: Timestamp,
    },
    DepositPaid {
        customer: CustomerId,
        at: Timestamp,
        /// When the visit was expected; no visit by then creates a call.
        visit_by: Timestamp,
    },
    VisitAttended {
        customer: CustomerId,
    },
    /// A birthday or holiday; `at` is when the care call becomes due (start of the customer's
    /// day, computed by the driver in the customer's zone).
    CareOccasion {
        customer: CustomerId,
        occasion: Occasion,
        at: Timestamp,
    },
    InboundCallDropped {
        call: CallId,
        customer: CustomerId,
        agent: Option<AgentId>,
        queue: Option<QueueId>,
        at: Timestamp,
    },
}

/// Why a task was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerReason {
    OrderReminder { order: OrderId },
    OrderWarning { order: OrderId, in_stock: bool },
    TicketFollowUp { ticket: TicketId },
    DepositNoVisit,
    Care(Occasion),
    DroppedCall { call: CallId },
}

/// A task to create; the driver adds the customer's zone, numbers, grade and consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    pub reason: TriggerReason,
    pub kind: CampaignType,
    pub customer: CustomerId,
    pub triggered_at: Timestamp,
    pub due: Timestamp,
    pub preferred_agent: Option<AgentId>,
    pub queue: Option<QueueId>,
    /// One line for the agent's screen.
    pub purpose: String,
}

/// What the engine asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    CreateTask(TaskRequest),
    /// Before the 7-day warning: check stock and whether the order was cancelled, then answer
    /// with [`Input::OrderChecked`].
    CheckOrder {
        order: OrderId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Timer {
    OrderReminder(OrderId),
    OrderWarning(OrderId),
    DepositVisit(CustomerId, Timestamp),
    Care(CustomerId, Occasion),
}

#[derive(Debug, Clone)]
struct WatchedOrder {
    customer: CustomerId,
    placed_at: Timestamp,
    awaiting_check: bool,
}

/// The trigger state machine.
#[derive(Debug, Default)]
pub struct TriggerEngine {
    cfg: TriggerConfig,
    orders: HashMap<OrderId, WatchedOrder>,
    /// Customer → deposit time of the visit still expected.
    deposits: HashMap<CustomerId, Timestamp>,
    timers: BTreeSet<(Timestamp, u64)>,
    timer_kinds: HashMap<u64, Timer>,
    next_timer: u64,
    out: VecDeque<Output>,
}

impl TriggerEngine {
    pub fn new(cfg: TriggerConfig) -> Self {
        TriggerEngine {
            cfg,
            ..TriggerEngine::default()
        }
    }

    /// Feeds one event. Events whose time has already passed act at once on the next
    /// [`Self::handle_timeout`] (or now, for immediate ones).
    pub fn handle(&mut self, input: Input, now: Timestamp) -> Result<(), TriggerError> {
        match input {
            Input::OrderPlaced {
                order,
                customer,
                at,
            } => {
                if self.orders.contains_key(&order) {
                    return Err(TriggerError::DuplicateOrder(order));
                }
                self.arm(
                    at + self.cfg.order_reminder_after,
                    Timer::OrderReminder(order.clone()),
                );
                self.arm(
                    at + self.cfg.order_warning_after,
                    Timer::OrderWarning(order.clone()),
                );
                self.orders.insert(
                    order,
                    WatchedOrder {
                        customer,
                        placed_at: at,
                        awaiting_check: false,
                    },
                );
            }
            // Timers of a forgotten order find nothing when they fire.
            Input::OrderPaid { order } | Input::OrderCancelled { order } => {
                self.orders.remove(&order);
            }
            Input::OrderChecked {
                order,
                in_stock,
                cancelled,
            } => {
                let Some(w) = self.orders.get(&order).filter(|w| w.awaiting_check) else {
                    return Err(TriggerError::UnexpectedCheck(order));
                };
                let customer = w.customer.clone();
                self.orders.remove(&order);
                if !cancelled {
                    let purpose = if in_stock {
                        format!("order {order} unpaid for 7 days: warning")
                    } else {
                        format!(
                            "order {order} unpaid for 7 days and out of stock: warning, offer an alternative"
                        )
                    };
                    self.create(
                        TriggerReason::OrderWarning { order, in_stock },
                        CampaignType::ConsultedNotBought,
                        customer,
                        now,
                        None,
                        purpose,
                    );
                }
            }
            Input::TicketResolved {
                ticket,
                customer,
                owner,
                at,
            } => {
                let purpose = format!("ticket {ticket} resolved: follow-up call");
                self.create(
                    TriggerReason::TicketFollowUp { ticket },
                    CampaignType::ServiceFollowUp,
                    customer,
                    at,
                    owner,
                    purpose,
                );
            }
            Input::DepositPaid {
                customer,
                at,
                visit_by,
            } => {
                if visit_by < at {
                    return Err(TriggerError::VisitBeforeDeposit {
                        paid_at: at,
                        visit_by,
                    });
                }
                self.deposits.insert(customer.clone(), at);
                self.arm(visit_by, Timer::DepositVisit(customer, at));
            }
            Input::VisitAttended { customer } => {
                self.deposits.remove(&customer);
            }
            Input::CareOccasion {
                customer,
                occasion,
                at,
            } => self.arm(at, Timer::Care(customer, occasion)),
            Input::InboundCallDropped {
                call,
                customer,
                agent,
                queue,
                at,
            } => {
                let mut req = self.request(
                    TriggerReason::DroppedCall { call },
                    CampaignType::ServiceFollowUp,
                    customer,
                    at,
                    agent,
                    "call dropped: call back at once, apologise, repeat the last point".to_owned(),
                );
                // Immediate: due now, so the planner puts it ahead of every 3-day task.
                req.due = at;
                req.queue = queue;
                self.out.push_back(Output::CreateTask(req));
            }
        }
        Ok(())
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Some(timer) = self.timer_kinds.remove(&id) {
                self.fire(timer, at);
            }
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Self::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.first().map(|(at, _)| *at)
    }

    fn fire(&mut self, timer: Timer, at: Timestamp) {
        match timer {
            Timer::OrderReminder(order) => {
                if let Some(w) = self.orders.get(&order) {
                    let days = at.since(w.placed_at).as_secs() / 86_400;
                    let customer = w.customer.clone();
                    let purpose = format!("order {order} unpaid for {days} days: reminder");
                    self.create(
                        TriggerReason::OrderReminder { order },
                        CampaignType::ConsultedNotBought,
                        customer,
                        at,
                        None,
                        purpose,
                    );
                }
            }
            Timer::OrderWarning(order) => {
                if let Some(w) = self.orders.get_mut(&order) {
                    w.awaiting_check = true;
                    self.out.push_back(Output::CheckOrder { order });
                }
            }
            Timer::DepositVisit(customer, paid_at) => {
                // Only if this deposit is still open (no visit, no newer deposit).
                if self.deposits.get(&customer) == Some(&paid_at) {
                    self.deposits.remove(&customer);
                    self.create(
                        TriggerReason::DepositNoVisit,
                        CampaignType::DepositNoVisit,
                        customer,
                        at,
                        None,
                        "deposit paid, no visit yet: book a visit".to_owned(),
                    );
                }
            }
            Timer::Care(customer, occasion) => {
                let purpose = match &occasion {
                    Occasion::Birthday => "birthday care call".to_owned(),
                    Occasion::Holiday(name) => format!("{name} care call"),
                };
                self.create(
                    TriggerReason::Care(occasion),
                    CampaignType::CareCall,
                    customer,
                    at,
                    None,
                    purpose,
                );
            }
        }
    }

    fn arm(&mut self, at: Timestamp, timer: Timer) {
        let id = self.next_timer;
        self.next_timer += 1;
        self.timers.insert((at, id));
        self.timer_kinds.insert(id, timer);
    }

    fn request(
        &self,
        reason: TriggerReason,
        kind: CampaignType,
        customer: CustomerId,
        at: Timestamp,
        preferred_agent: Option<AgentId>,
        purpose: String,
    ) -> TaskRequest {
        TaskRequest {
            reason,
            kind,
            customer,
            triggered_at: at,
            due: at + self.cfg.sla,
            preferred_agent,
            queue: None,
            purpose,
        }
    }

    fn create(
        &mut self,
        reason: TriggerReason,
        kind: CampaignType,
        customer: CustomerId,
        at: Timestamp,
        preferred_agent: Option<AgentId>,
        purpose: String,
    ) {
        let req = self.request(reason, kind, customer, at, preferred_agent, purpose);
        self.out.push_back(Output::CreateTask(req));
    }
}

#[cfg(test)]
#[path = "triggers_tests.rs"]
mod tests;
