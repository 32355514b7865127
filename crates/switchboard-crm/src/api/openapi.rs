//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' annotations, and the
//! small self-contained page that renders it (no CDN, no downloaded assets).

use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, ResponseBuilder, Server};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{
    agent_states, agents, api_keys, auth, call_control, calls, customer_types, customers, imports,
    queues, recordings, tasks, users,
};

/// Every error the API returns: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `bad_request`, `forbidden`, `precondition_failed`, …
    pub code: String,
    pub message: String,
    /// The field, header or parameter at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A role, one per user or API key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Role)]
pub enum RoleDoc {
    Admin,
    Supervisor,
    Agent,
    Qa,
    Integrator,
}

/// Every route `router()` serves must be listed in `paths(...)` (with a `#[utoipa::path]` on its
/// handler): the document is the contract Schemathesis and integrators test against.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "Call-centre telephony backend: authentication, users, audit log and the customer file. \
            Every request is scoped to the caller's tenant. Errors are JSON with the field at fault."
    ),
    paths(
        auth::login,
        auth::logout,
        auth::me,
        users::list,
        users::create,
        users::audit_log,
        api_keys::create,
        customers::create,
        customers::list,
        customers::lookup,
        customers::get_one,
        customers::patch,
        customers::delete,
        customers::list_notes,
        customers::add_note,
        customers::add_note_by_phone,
        imports::upload,
        imports::list,
        imports::get_one,
        imports::errors,
        calls::list,
        calls::get_one,
        call_control::pause_recording,
        call_control::resume_recording,
        call_control::hangup,
        agents::set_my_state,
        agents::live,
        calls::list_recordings,
        calls::get_recording,
        recordings::audio,
        recordings::peaks,
        queues::list,
        queues::create,
        queues::get_one,
        queues::edit,
        queues::delete,
        queues::list_members,
        queues::put_member,
        queues::delete_member,
        agent_states::state_history,
        tasks::list,
        tasks::get_one,
        tasks::claim,
        tasks::complete,
        tasks::cancel,
    ),
    components(schemas(ErrorBody, ErrorDetail, RoleDoc, customer_types::CategoryDoc)),
    modifiers(&Conventions),
    tags(
        (name = "auth", description = "Login, logout, API keys"),
        (name = "users", description = "Accounts and the audit log"),
        (name = "customers", description = "The customer file, notes and the screen pop"),
        (name = "calls", description = "Call detail records"),
        (name = "recordings", description = "Call recordings: metadata, audio with Range, waveform peaks"),
        (name = "queues", description = "ACD queues, their members and agents' state history"),
        (name = "agents", description = "Agents' own state (ready, not ready, wrap-up) and the live queue figures"),
        (name = "tasks", description = "Call-back tasks (回访) the ACD creates for dropped and abandoned calls: list, claim, complete, cancel"),
    )
)]
struct ApiDoc;

/// What every operation shares, added once instead of on each annotation: the server prefix,
/// bearer authentication, and the JSON error body of every 4xx.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.servers = Some(vec![Server::new("/api/v1")]);
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A login token or an integrator API key"))
                    .build(),
            ),
        );
        doc.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
        let error = ResponseBuilder::new()
            .description("Client error: a JSON body naming the field at fault")
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build();
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .entry("4XX".to_owned())
                    .or_insert_with(|| error.clone().into());
            }
        }
    }
}

/// The document, built from the code.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /api/v1/openapi.json`
pub(crate) async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        axum::Json(document()),
    )
}

/// `GET /api/v1/docs`: renders the document in the browser, from our own page.
pub(crate) async fn docs_page() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Html(include_str!("docs.html")),
    )
}
