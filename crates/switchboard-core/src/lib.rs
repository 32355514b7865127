//! Shared vocabulary of Switchboard.
//!
//! Everything here is pure: no sockets, no files, no wall clock except through [`SystemClock`].
//! Other crates build on these types so that an `AgentId` can never be passed where a
//! `CustomerId` is expected, and so that every piece of logic takes time as an argument.

pub mod clock;
pub mod ids;
pub mod mask;
pub mod phone;
pub mod rate;
pub mod role;
pub mod throttle;
pub mod window;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use ids::{
    AgentId, CallId, CampaignId, CustomerId, QueueId, SiteId, TaskId, TenantId, TicketId, UserId,
};
pub use mask::{Masked, mask_name, mask_phone};
pub use phone::{E164, Extension, PhoneError};
pub use rate::{KeyedLimiter, RateLimit};
pub use role::{Role, RoleError};
pub use throttle::{FailureThrottle, ThrottlePolicy};
pub use window::{TimeWindow, WindowError};

/// A whole number of seconds, used for configured durations (ring timeout, wrap-up, SLA).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Seconds(pub u64);

impl Seconds {
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }
}
