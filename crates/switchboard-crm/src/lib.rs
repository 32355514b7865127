//! CRM sync for Switchboard: the customer file, interactions, orders, visits, complaint tickets
//! (工单) and hand-over, exposed through the REST API under `/api/v1` that people (bearer tokens)
//! and other systems (API keys) use.
//!
//! So far: authentication (login, tokens, roles), users and the audit log. The API's building
//! blocks — errors, the JSON extractor, the authenticated-caller extractor — live in `api` and
//! every later route uses them.

pub mod api;
pub mod live;
pub mod password;
pub mod tickets;
pub mod webhooks;

pub use api::{ApiSettings, ApiState, router};
