//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' annotations, and the
//! small self-contained page that renders it (no CDN, no downloaded assets).

use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde::{Deserialize, Serialize};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder, Server};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{
    agent_states, agents, api_keys, auth, call_control, calls, campaign_plan, campaign_steer,
    campaign_tasks, campaigns, customer_types, customers, dialer, handovers, imports, orders, qa,
    queues, quotas, recordings, registrations, reports, softphone, stats, tasks, tickets, users,
    visits, wallboard, webhooks,
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
        softphone::my_softphone,
        users::list,
        users::create,
        users::audit_log,
        registrations::list,
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
        dialer::preview,
        dialer::dial,
        dialer::skip,
        calls::list_recordings,
        calls::get_recording,
        recordings::audio,
        recordings::peaks,
        qa::search,
        qa::list_comments,
        qa::add_comment,
        qa::get_scorecard,
        qa::put_scorecard,
        qa::get_score,
        qa::put_score,
        qa::get_retention,
        qa::put_retention,
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
        tickets::create,
        tickets::list,
        tickets::get_one,
        tickets::edit,
        tickets::delete,
        tickets::events,
        tickets::take,
        tickets::resolve,
        tickets::follow_up,
        tickets::close,
        tickets::judge,
        webhooks::list,
        webhooks::create,
        webhooks::get_one,
        webhooks::edit,
        webhooks::delete,
        orders::create,
        orders::list_for_customer,
        orders::list,
        orders::get_one,
        orders::pay,
        orders::cancel,
        visits::book,
        visits::list,
        visits::attended,
        visits::no_show,
        visits::cancel,
        handovers::shifts_now,
        handovers::create,
        handovers::list,
        handovers::get_one,
        handovers::mark_read,
        handovers::item_done,
        stats::agents,
        campaigns::templates,
        campaigns::create,
        campaigns::list,
        campaigns::get_one,
        campaigns::edit,
        campaigns::delete,
        campaign_steer::start,
        campaign_steer::pause,
        campaign_steer::stop,
        campaign_steer::progress,
        campaign_steer::tasks,
        campaign_plan::escalations,
        campaign_tasks::next,
        campaign_tasks::get_one,
        campaign_tasks::outcome,
        quotas::quotas,
        reports::agents,
        reports::queues,
        reports::campaigns_report,
        reports::tickets,
        wallboard::snapshot,
        wallboard::events,
    ),
    // Types only query parameters name are not collected from the handlers: list them here.
    components(schemas(
        ErrorBody,
        ErrorDetail,
        RoleDoc,
        customer_types::CategoryDoc,
        crate::tickets::TicketState,
        crate::tickets::Emotion,
        imports::ReportFormat,
    )),
    modifiers(&Conventions),
    tags(
        (name = "auth", description = "Login, logout, API keys"),
        (name = "users", description = "Accounts and the audit log"),
        (name = "customers", description = "The customer file, notes and the screen pop"),
        (name = "calls", description = "Call detail records"),
        (name = "recordings", description = "Call recordings: metadata, audio with Range, waveform peaks"),
        (name = "qa", description = "Quality assurance: search recordings, comments pinned to moments, scorecards and scores (feeding the agents' qa_score), retention"),
        (name = "queues", description = "ACD queues, their members and agents' state history"),
        (name = "agents", description = "Agents' own state (ready, not ready, wrap-up) and the live queue figures"),
        (name = "orders", description = "Orders (placed, paid, cancelled) and visits (booked, attended, no-show) on the customer file"),
        (name = "shifts", description = "Shifts on duty and the hand-over (交接班) between them"),
        (name = "campaigns", description = "Call-back (回访) and visit-invitation campaigns from the ten type templates: create, launch, pause, stop, progress; the agent's next task with script and outcome form; quotas and payouts"),
        (name = "stats", description = "Per-agent service statistics: customers served, converted, conversion rate"),
        (name = "tasks", description = "Call-back tasks (回访) the ACD creates for dropped and abandoned calls: list, claim, complete, cancel"),
        (name = "tickets", description = "Complaint tickets (工单): register, take, resolve, follow up, judge, close; reply due in 12 h, escalation after 24 h"),
        (name = "reports", description = "Supervisors' daily / weekly / monthly reports (JSON or CSV): per agent, per queue (service level, abandons), per campaign (the one avoidance and three guarantees), tickets (reply and escalation SLA)"),
        (name = "wallboard", description = "The supervisors' live wallboard: agents, queues, campaigns against quotas, overdue tickets; pushed as server-sent events"),
        (name = "webhooks", description = "Webhook subscriptions (admins): events signed with HMAC-SHA256, delivered at least once"),
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

/// `{"id": …}` of a create's 201 answer feeds every operation on `<collection>/{id}…`: the
/// links let Schemathesis's stateful phase (and readers) go from a create to the object's
/// operations with a real id instead of 404s on made-up ones.
fn link_creates(doc: &mut utoipa::openapi::OpenApi) {
    let paths: Vec<String> = doc.paths.paths.keys().cloned().collect();
    for collection in paths.iter().filter(|p| !p.contains('{')) {
        let object = format!("{collection}/{{id}}");
        let mut links = Vec::new();
        for path in paths
            .iter()
            .filter(|p| **p == object || p.starts_with(&format!("{object}/")))
        {
            let Some(item) = doc.paths.paths.get(path) else {
                continue;
            };
            let methods = [
                ("get", item.get.is_some()),
                ("put", item.put.is_some()),
                ("patch", item.patch.is_some()),
                ("post", item.post.is_some()),
                ("delete", item.delete.is_some()),
            ];
            for (method, present) in methods {
                if !present || path.contains("{user_id}") {
                    continue;
                }
                // A JSON pointer: `~` and `/` escaped as `~0` and `~1`.
                let pointer = path.replace('~', "~0").replace('/', "~1");
                let name = format!("{method}{}", path.replace(['/', '{', '}'], "_"));
                let link = LinkBuilder::new()
                    .operation_ref(format!("#/paths/{pointer}/{method}"))
                    .parameter("id", "$response.body#/id")
                    .build();
                links.push((name, link));
            }
        }
        if links.is_empty() {
            continue;
        }
        let created = doc
            .paths
            .paths
            .get_mut(collection)
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.responses.responses.get_mut("201"));
        if let Some(RefOr::T(response)) = created {
            for (name, link) in links {
                response.links.insert(name, RefOr::T(link));
            }
        }
    }
}

/// The document, built from the code.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    link_creates(&mut doc);
    doc
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

    /// `(METHOD, path)` of every route `router()` declares, read from its source, so that a route
    /// added there without a `#[utoipa::path]` in `paths(...)` fails the test below.
    fn served_routes() -> BTreeSet<(String, String)> {
        let src = include_str!("mod.rs");
        let start = src.find("pub fn router(").unwrap_or(0);
        let mut rest = &src[start..];
        let mut out = BTreeSet::new();
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            let mut depth = 1;
            let mut end = rest.len();
            for (j, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let call = &rest[..end];
            let path = call.split('"').nth(1).unwrap_or_default().to_owned();
            for m in METHODS {
                let pattern = format!("{m}(");
                let found = call.match_indices(&pattern).any(|(k, _)| {
                    call[..k]
                        .chars()
                        .last()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
                });
                if found {
                    out.insert((m.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        let mut out = BTreeSet::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                for m in METHODS {
                    if item.get(m).is_some() {
                        out.insert((m.to_uppercase(), path.clone()));
                    }
                }
            }
        }
        out
    }

    /// Every `$ref` in `value`.
    fn refs(value: &serde_json::Value, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v.as_str()) {
                        ("$ref", Some(r)) => {
                            out.insert(r.to_owned());
                        }
                        _ => refs(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn a_create_links_to_the_operations_on_what_it_made() {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        let links = &doc["paths"]["/tickets"]["post"]["responses"]["201"]["links"];
        let take = &links["post_tickets__id__take"];
        assert_eq!(take["operationRef"], "#/paths/~1tickets~1{id}~1take/post");
        assert_eq!(take["parameters"]["id"], "$response.body#/id");
        let webhook = &doc["paths"]["/webhooks"]["post"]["responses"]["201"]["links"];
        assert!(webhook.get("delete_webhooks__id_").is_some(), "{webhook}");
    }

    #[test]
    fn every_reference_in_the_document_resolves() {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        let mut all = BTreeSet::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        let dangling: Vec<_> = all
            .iter()
            .filter(|r| {
                let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
                doc["components"]["schemas"].get(name).is_none()
            })
            .collect();
        assert!(dangling.is_empty(), "unresolvable references: {dangling:?}");
    }

    #[test]
    fn every_served_route_is_in_the_document_and_back() {
        let mut served = served_routes();
        // The document itself and the page that renders it.
        served.remove(&("GET".into(), "/openapi.json".into()));
        served.remove(&("GET".into(), "/docs".into()));
        assert!(
            served.len() > 50,
            "the router's source was not read: {served:?}"
        );
        let documented = documented();
        let undocumented: Vec<_> = served.difference(&documented).collect();
        let not_served: Vec<_> = documented.difference(&served).collect();
        assert!(
            undocumented.is_empty(),
            "served but not in the OpenAPI document (add #[utoipa::path] and list it in paths(...)): {undocumented:?}"
        );
        assert!(
            not_served.is_empty(),
            "documented but not served: {not_served:?}"
        );
    }
}
