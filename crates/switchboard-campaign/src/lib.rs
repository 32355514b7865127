//! Campaign scheduler: call-back (回访) and visit-invitation campaigns, customer-local calling
//! windows, SLAs, retries, quotas and payouts. Pure and clock-driven: every function takes the
//! current time as an argument and nothing here touches sockets, files or the wall clock.

pub mod attempts;
pub mod calling;
pub mod campaign;
pub mod outcome;
pub mod planner;
pub mod quota;
pub mod report;
pub mod scheduler;
mod slots;
pub mod task;
pub mod template;
pub mod triggers;
