//! The REST API under `/api/v1`.
//!
//! `router(state)` builds every route; the server only nests and binds it, and tests call it
//! with `tower::ServiceExt::oneshot` against a real database.

mod auth;
mod error;
mod json;
pub mod users;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use switchboard_core::{Clock, FailureThrottle, TenantId, ThrottlePolicy};
use switchboard_store::Store;

pub use auth::Caller;
pub use error::ApiError;
pub use json::ApiJson;
pub use users::valid_username;

/// Settings of the API that come from the config file.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// How long a login token stays valid.
    pub token_ttl: Duration,
    /// Failed logins from one address for one user before the lockout.
    pub login_throttle: ThrottlePolicy,
    /// Tenant used when a login names none.
    pub default_tenant: TenantId,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            token_ttl: Duration::from_secs(12 * 3600),
            login_throttle: ThrottlePolicy::default(),
            default_tenant: TenantId::from("default"),
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<ApiSettings>,
    pub(crate) login_throttle: Arc<Mutex<FailureThrottle<String>>>,
}

impl ApiState {
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: ApiSettings) -> Self {
        let login_throttle = Arc::new(Mutex::new(FailureThrottle::new(settings.login_throttle)));
        ApiState {
            store,
            clock,
            settings: Arc::new(settings),
            login_throttle,
        }
    }
}

/// Every `/api/v1` route, relative to `/api/v1`.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/users", get(users::list).post(users::create))
        .route("/audit", get(users::audit_log))
        .fallback(error::not_found)
        .with_state(state)
}
