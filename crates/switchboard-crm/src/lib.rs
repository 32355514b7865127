//! CRM sync for Switchboard: the customer file, interactions, orders, visits, complaint tickets
//! (工单) and hand-over, exposed through the REST API under `/api/v1` that people (bearer tokens)
//! and other systems (API keys) use.
//!
//! The API's building blocks — errors, the JSON extractor, the authenticated-caller extractor —
//! live in `api`; the pure rules beside it (ticket clock, shifts, agents' statistics) are
//! modules of their own.

pub mod agent_stats;
pub mod api;
pub mod campaigns;
pub mod live;
pub mod password;
pub mod reports;
pub mod retention;
pub mod scorecard;
pub mod shifts;
pub mod tickets;
pub mod webhooks;

pub use api::{ApiSettings, ApiState, router};
