//! Complaint tickets (工单) and their clock.
//!
//! - [`machine`]: the pure state machine of one ticket (ownership, reply deadline, escalation
//!   ladder, follow-up call, judgment).
//! - [`service`]: loads and stores tickets around the machine, one transaction per change,
//!   with history rows and `ticket.*` outbox events.
//! - [`sweeper`]: the periodic sweep `serve` runs so deadlines fire with nobody watching.

pub mod machine;
mod policy;
pub mod service;
pub mod sweeper;

pub use machine::{Emotion, Input, Output, TicketClock, TicketError, TicketSnapshot, TicketState};
pub use policy::TicketPolicy;
pub use sweeper::spawn_sweeper;
