//! Outgoing webhooks: the outbox's events POSTed to each tenant's subscriptions, signed with
//! HMAC-SHA256, retried with exponential backoff and jitter, delivered at least once.
//!
//! - [`signature`]: `X-Switchboard-Signature: sha256=<hex>` and its check.
//! - [`schedule`]: sans-IO fan-out, request building and retry decisions.
//! - [`client`]: the HTTP POST (hyper).
//! - [`worker`]: the tokio loop `serve` runs.

pub mod client;
pub mod schedule;
pub mod signature;
pub mod worker;

pub use schedule::RetryPolicy;
pub use signature::{SIGNATURE_HEADER, sign, verify};
pub use worker::{WorkerSettings, deliver_due, spawn_worker};
