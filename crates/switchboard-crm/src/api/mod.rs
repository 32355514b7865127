//! The REST API under `/api/v1`.
//!
//! `router(state)` builds every route; the server only nests and binds it, and tests call it
//! with `tower::ServiceExt::oneshot` against a real database.

mod agent_states;
mod agents;
mod api_keys;
mod auth;
mod call_control;
mod calls;
mod campaign_plan;
mod campaign_steer;
mod campaign_tasks;
mod campaign_views;
mod campaigns;
mod customer_types;
pub mod customers;
mod dialer;
mod error;
mod handovers;
mod import_csv;
pub mod imports;
mod json;
pub mod openapi;
mod orders;
mod qa;
mod queues;
mod quotas;
mod recordings;
mod registrations;
mod reports;
mod softphone;
mod stats;
mod tasks;
mod tickets;
pub mod users;
mod visits;
mod wallboard;
mod webhooks;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
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
    /// The ticket clock's figures (config `[tickets]`).
    pub tickets: Arc<crate::tickets::TicketPolicy>,
    /// Where recording rows' relative paths point; `None` until configured, and then the
    /// audio and peaks routes answer 503.
    pub recordings_root: Option<Arc<PathBuf>>,
    /// The running call control, for commands on calls in progress (`None`: answered 503).
    pub live: Option<crate::live::LiveHandle>,
    /// The shifts and the call centre's time zone (config `[shifts]`).
    pub shifts: Arc<crate::shifts::ShiftPolicy>,
    /// Call-back agents' quotas, deductions and bonus units (config `[quota]`).
    pub quota: Arc<switchboard_campaign::quota::QuotaTable>,
    /// Default rest time, retry timings and the effective-call rule (config `[campaign]`).
    pub campaign: Arc<crate::campaigns::CampaignSettings>,
    /// Requests per tenant (`None`: unlimited), checked when the caller is identified.
    pub(crate) tenant_limiter: Option<Arc<Mutex<switchboard_core::KeyedLimiter<TenantId>>>>,
}

impl ApiState {
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: ApiSettings) -> Self {
        let login_throttle = Arc::new(Mutex::new(FailureThrottle::new(settings.login_throttle)));
        ApiState {
            store,
            clock,
            settings: Arc::new(settings),
            login_throttle,
            tickets: Arc::default(),
            recordings_root: None,
            live: None,
            shifts: Arc::default(),
            quota: Arc::default(),
            campaign: Arc::default(),
            tenant_limiter: None,
        }
    }

    /// Limits every tenant to `limit` authenticated requests (per second, burst), so one
    /// integration gone wrong cannot starve the others; beyond it: 429 with Retry-After.
    pub fn with_tenant_rate_limit(mut self, limit: switchboard_core::RateLimit) -> Self {
        // Every tenant of a deployment fits; past that the quietest are forgotten first.
        const MAX_TENANTS: usize = 100_000;
        self.tenant_limiter = Some(Arc::new(Mutex::new(switchboard_core::KeyedLimiter::new(
            limit,
            MAX_TENANTS,
        ))));
        self
    }

    /// Sets the quota table (default: the service rules' — 100 effective calls a day, 15 + 10
    /// visits a month, −5 % / −10 % bands, a bonus unit per 500 extra calls, 1 % of revenue).
    pub fn with_campaign_settings(mut self, settings: crate::campaigns::CampaignSettings) -> Self {
        self.campaign = Arc::new(settings);
        self
    }

    pub fn with_quota_table(mut self, table: switchboard_campaign::quota::QuotaTable) -> Self {
        self.quota = Arc::new(table);
        self
    }

    /// Sets the ticket clock's figures (default: the service rules').
    pub fn with_ticket_policy(mut self, policy: crate::tickets::TicketPolicy) -> Self {
        self.tickets = Arc::new(policy);
        self
    }

    /// Sets the shifts and the call centre's time zone (default: the service rules' shifts in
    /// China Standard Time).
    pub fn with_shifts(mut self, shifts: crate::shifts::ShiftPolicy) -> Self {
        self.shifts = Arc::new(shifts);
        self
    }

    /// Connects the API to the running call control.
    pub fn with_live(mut self, live: crate::live::LiveHandle) -> Self {
        self.live = Some(live);
        self
    }

    /// Sets the directory recordings are stored under (config `storage`), which the audio and
    /// peaks routes read from.
    pub fn with_recordings_root(mut self, root: PathBuf) -> Self {
        self.recordings_root = Some(Arc::new(root));
        self
    }
}

/// Every `/api/v1` route, relative to `/api/v1`.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/me/softphone", get(softphone::my_softphone))
        .route("/users", get(users::list).post(users::create))
        .route("/audit", get(users::audit_log))
        .route("/tickets", get(tickets::list).post(tickets::create))
        .route(
            "/tickets/{id}",
            get(tickets::get_one)
                .patch(tickets::edit)
                .delete(tickets::delete),
        )
        .route("/tickets/{id}/events", get(tickets::events))
        .route("/tickets/{id}/take", post(tickets::take))
        .route("/tickets/{id}/resolve", post(tickets::resolve))
        .route("/tickets/{id}/follow-up", post(tickets::follow_up))
        .route("/tickets/{id}/close", post(tickets::close))
        .route("/tickets/{id}/judge", post(tickets::judge))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/webhooks/{id}",
            get(webhooks::get_one)
                .patch(webhooks::edit)
                .delete(webhooks::delete),
        )
        .route("/api-keys", post(api_keys::create))
        .route("/customers", get(customers::list).post(customers::create))
        .route("/customers/lookup", get(customers::lookup))
        .route(
            "/customers/imports",
            get(imports::list)
                .post(imports::upload)
                .layer(DefaultBodyLimit::max(imports::MAX_IMPORT_BYTES)),
        )
        .route("/customers/imports/{id}", get(imports::get_one))
        .route("/customers/imports/{id}/errors", get(imports::errors))
        .route(
            "/customers/{id}",
            get(customers::get_one)
                .patch(customers::patch)
                .delete(customers::delete),
        )
        .route(
            "/customers/{id}/notes",
            get(customers::list_notes).post(customers::add_note),
        )
        .route("/notes", post(customers::add_note_by_phone))
        .route("/registrations", get(registrations::list))
        .route("/calls", get(calls::list))
        .route("/calls/{id}", get(calls::get_one))
        .route(
            "/calls/{id}/recording/pause",
            post(call_control::pause_recording),
        )
        .route(
            "/calls/{id}/recording/resume",
            post(call_control::resume_recording),
        )
        .route("/calls/{id}/hangup", post(call_control::hangup))
        .route("/recordings", get(calls::list_recordings))
        .route("/recordings/{id}", get(calls::get_recording))
        .route("/recordings/{id}/audio", get(recordings::audio))
        .route("/recordings/{id}/peaks", get(recordings::peaks))
        .route(
            "/recordings/{id}/comments",
            get(qa::list_comments).post(qa::add_comment),
        )
        .route(
            "/recordings/{id}/score",
            get(qa::get_score).put(qa::put_score),
        )
        .route("/qa/recordings", get(qa::search))
        .route(
            "/qa/scorecard",
            get(qa::get_scorecard).put(qa::put_scorecard),
        )
        .route(
            "/qa/retention",
            get(qa::get_retention).put(qa::put_retention),
        )
        .route("/queues", get(queues::list).post(queues::create))
        .route("/queues/live", get(agents::live))
        .route("/agents/me/state", put(agents::set_my_state))
        .route("/dialer/preview", get(dialer::preview))
        .route("/dialer/preview/dial", post(dialer::dial))
        .route("/dialer/preview/skip", post(dialer::skip))
        .route(
            "/queues/{id}",
            get(queues::get_one)
                .patch(queues::edit)
                .delete(queues::delete),
        )
        .route("/queues/{id}/members", get(queues::list_members))
        .route(
            "/queues/{id}/members/{user_id}",
            put(queues::put_member).delete(queues::delete_member),
        )
        .route("/agents/{user_id}/states", get(agent_states::state_history))
        .route("/tasks", get(tasks::list))
        .route("/tasks/{id}", get(tasks::get_one))
        .route("/tasks/{id}/claim", post(tasks::claim))
        .route("/tasks/{id}/complete", post(tasks::complete))
        .route("/tasks/{id}/cancel", post(tasks::cancel))
        .route(
            "/customers/{id}/orders",
            get(orders::list_for_customer).post(orders::create),
        )
        .route("/orders", get(orders::list))
        .route("/orders/{id}", get(orders::get_one))
        .route("/orders/{id}/pay", post(orders::pay))
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/customers/{id}/visits", post(visits::book))
        .route("/visits", get(visits::list))
        .route("/visits/{id}/attended", post(visits::attended))
        .route("/visits/{id}/no-show", post(visits::no_show))
        .route("/visits/{id}/cancel", post(visits::cancel))
        .route("/shifts", get(handovers::shifts_now))
        .route("/handovers", get(handovers::list).post(handovers::create))
        .route("/handovers/{id}", get(handovers::get_one))
        .route("/handovers/{id}/read", post(handovers::mark_read))
        .route(
            "/handovers/{id}/items/{position}/done",
            post(handovers::item_done),
        )
        .route("/stats/agents", get(stats::agents))
        .route("/campaign-templates", get(campaigns::templates))
        .route("/campaigns", get(campaigns::list).post(campaigns::create))
        .route(
            "/campaigns/{id}",
            get(campaigns::get_one)
                .patch(campaigns::edit)
                .delete(campaigns::delete),
        )
        .route("/campaigns/{id}/start", post(campaign_steer::start))
        .route("/campaigns/{id}/pause", post(campaign_steer::pause))
        .route("/campaigns/{id}/stop", post(campaign_steer::stop))
        .route("/campaigns/{id}/progress", get(campaign_steer::progress))
        .route("/campaigns/{id}/tasks", get(campaign_steer::tasks))
        .route(
            "/campaigns/{id}/escalations",
            get(campaign_plan::escalations),
        )
        .route("/campaign-tasks/next", get(campaign_tasks::next))
        .route("/campaign-tasks/{id}", get(campaign_tasks::get_one))
        .route(
            "/campaign-tasks/{id}/outcome",
            post(campaign_tasks::outcome),
        )
        .route("/quotas", get(quotas::quotas))
        .route("/reports/agents", get(reports::agents))
        .route("/reports/queues", get(reports::queues))
        .route("/reports/campaigns", get(reports::campaigns_report))
        .route("/reports/tickets", get(reports::tickets))
        .route("/wallboard", get(wallboard::snapshot))
        .route("/wallboard/events", get(wallboard::events))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/docs", get(openapi::docs_page))
        .fallback(error::not_found)
        .with_state(state)
}
