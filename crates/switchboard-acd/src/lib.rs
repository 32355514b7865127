//! Automatic call distribution: queues, agent states, routing strategies, ring timeout, wait
//! alerts, dropped-call call-backs and service-level figures. Pure and clock-driven.
//!
//! [`Acd`] is a sans-IO state machine. The call layer and the agent console feed it
//! [`Input`]s with the current time ([`Acd::handle`]); the driver sleeps until
//! [`Acd::poll_timeout`] and then calls [`Acd::handle_timeout`]; after each, it drains
//! [`Acd::poll_output`] for offers to ring, offers to cancel, agent state changes to store,
//! wait alerts, overflows and call-back tasks. [`Acd::snapshot`] / [`Acd::restore`] carry the
//! state across a restart; [`Acd::live`] gives the wallboard figures.
//!
//! ```
//! use switchboard_acd::{Acd, AcdSettings, Input, Member, NewCall, Output, QueueConfig};
//! use switchboard_core::Timestamp;
//!
//! let t0 = Timestamp::from_secs(1_000);
//! let mut acd = Acd::new(AcdSettings::default()).unwrap();
//! acd.handle(Input::ConfigureQueue { queue: "sales".into(), config: QueueConfig::default() }, t0).unwrap();
//! acd.handle(Input::AddMember { queue: "sales".into(), member: Member::new("a1", "paris") }, t0).unwrap();
//! acd.handle(Input::AgentLogin { agent: "a1".into(), ready: true }, t0).unwrap();
//! let caller = "+8613812345678";
//! acd.handle(Input::CallArrived(NewCall::new("c1", "sales", caller)), t0).unwrap();
//! let offered = std::iter::from_fn(|| acd.poll_output())
//!     .any(|o| matches!(o, Output::Offer { agents, .. } if agents == ["a1".into()]));
//! assert!(offered);
//! ```

mod acd;
pub mod agent;
pub mod config;
pub mod erlang;
pub mod event;
pub mod sim;
pub mod snapshot;
pub mod stats;

pub use acd::{Acd, AcdError, Call, CallPhase, Queue};
pub use agent::{Agent, AgentStatus, ChangeReason, NotReadyReason, StateChange, TransitionError};
pub use config::{AcdSettings, ConfigError, MaxWaitAction, Member, QueueConfig, Skill, Strategy};
pub use erlang::{ErlangC, ErlangError};
pub use event::{CallbackReason, CancelReason, EndCause, Input, NewCall, Output, TaskOwner};
pub use snapshot::{AcdSnapshot, RestoreError};
pub use stats::{AgentCounters, AgentLive, LiveSnapshot, QueueCounters, QueueLive};
