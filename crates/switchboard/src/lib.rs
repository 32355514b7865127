//! The Switchboard server and CLI: reads the config, opens the store, wires the crates together
//! and serves HTTP (console, REST API, metrics, health).
//!
//! The library half exists so that tests can build the same router and run the same commands
//! the binary does.

pub mod backup_copy;
pub mod backup_schedule;
pub mod bootstrap;
pub mod campaign_driver;
pub mod cli;
pub mod cluster;
mod commands;
pub mod config;
pub mod console;
pub(crate) mod dialer_driver;
pub mod http;
pub mod https;
pub mod logging;
pub mod metrics;
pub mod recovery;
pub mod serve;
pub mod sip_service;
mod sip_tu;
pub mod sip_ws;

/// Exit codes of the `switchboard` command.
pub mod exit {
    pub const OK: i32 = 0;
    pub const RUNTIME: i32 = 1;
    pub const BAD_CONFIG_OR_USAGE: i32 = 2;
}
