//! Storage for Switchboard.
//!
//! One set of queries runs on both engines through sqlx's `Any` driver: SQLite (the embedded
//! default, a file under `var/`) and PostgreSQL (several nodes sharing one database). Both engines
//! run the same migrations (`migrations/`): the schema keeps to types both share (TEXT, BIGINT; times as milliseconds since the epoch, flags as 0/1) so a query
//! written once is correct on both, and the test suite runs every repository test on both.
//!
//! One module per aggregate; each function is one query or one transaction.

pub mod acd;
pub mod agent_stats;
pub mod audit;
pub mod backup;
pub mod calls;
pub mod campaign_tasks;
pub mod campaigns;
pub mod cluster;
pub mod customers;
pub mod dialer;
mod engine;
mod error;
pub mod handovers;
pub mod orders;
pub mod outbox;
pub mod qa;
pub mod recordings;
pub mod reports;
pub mod sip;
pub mod tasks;
pub mod tenants;
pub mod testing;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod visits;

pub use engine::{Engine, Store, redact_url};
pub use error::StoreError;
