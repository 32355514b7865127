//! Campaigns over HTTP: the ten type templates (`GET /campaign-templates`), campaigns made from
//! them (`/campaigns` CRUD), launch / pause / stop, progress and the task list.
//!
//! Roles: admins and supervisors manage campaigns; QA and integrators read them and their
//! progress (reviews, reporting); agents see templates only — their work comes through
//! `GET /campaign-tasks/next`. Every rule (valid spec, allowed transitions, suppression) is the
//! campaign crate's; this file validates the request shape and names the wrong field.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_campaign::campaign::{
    Assignees, Campaign, CampaignError, CampaignSpec, DialMode, TargetList,
};
use switchboard_campaign::template::{CampaignType, Language, OutcomeForm, Script};
use switchboard_core::{Role, UserId};
use switchboard_store::campaigns::{self, CampaignRecord, CampaignState, Change};
use utoipa::{IntoParams, ToSchema};

use super::customer_types::parse_time;
use super::customers::{
    ApiQuery, CustomerApiError, etag_response, limit_param, optional_if_match, tenant_user,
};
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::campaigns::{CallingOverride, campaign_type};

pub(crate) const MANAGERS: &[Role] = &[Role::Admin, Role::Supervisor];
pub(crate) const READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa, Role::Integrator];
const ALL: &[Role] = &[
    Role::Admin,
    Role::Supervisor,
    Role::Agent,
    Role::Qa,
    Role::Integrator,
];
/// How many customers one campaign may target (a larger list is split into campaigns).
pub(crate) const MAX_TARGETS: u32 = 100_000;

/// One campaign type with its default scripts and outcome form.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateView {
    /// The key used in `type`, e.g. `deposit_no_visit`.
    pub r#type: String,
    pub name_zh: String,
    pub name_en: String,
    /// Visit invitations track invited → booked → attended.
    pub invites_visit: bool,
    #[schema(value_type = Object)]
    pub script_zh: Script,
    #[schema(value_type = Object)]
    pub script_en: Script,
    #[schema(value_type = Object)]
    pub outcome_form: OutcomeForm,
}

/// The ten call-back (回访) campaign types of the service rules.
#[utoipa::path(
    get, path = "/campaign-templates", operation_id = "campaign_templates", tag = "campaigns",
    responses((status = 200, description = "The ten types, in the service rules' order", body = [TemplateView]))
)]
pub(crate) async fn templates(caller: Caller) -> Result<ApiJson<Vec<TemplateView>>, ApiError> {
    caller.require(ALL)?;
    Ok(ApiJson(
        CampaignType::ALL
            .into_iter()
            .map(|t| TemplateView {
                r#type: t.as_str().to_owned(),
                name_zh: t.name(Language::ZhCn).to_owned(),
                name_en: t.name(Language::En).to_owned(),
                invites_visit: t.invites_visit(),
                script_zh: t.script(Language::ZhCn),
                script_en: t.script(Language::En),
                outcome_form: t.outcome_form(),
            })
            .collect(),
    ))
}

/// Which customers a campaign calls; every given condition must hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    /// Customers carrying all these tags (a CSV import's `?tag=` gives its rows one).
    #[serde(default)]
    pub tags: Vec<String>,
    pub grade: Option<String>,
    pub key_customer: Option<bool>,
    /// `potential` or `customer`.
    pub category: Option<String>,
}

/// A campaign to create from a type template. Omitted fields take the template's defaults.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    /// One of the ten template keys (`GET /campaign-templates`).
    pub r#type: String,
    /// Default: the template's name in `language`.
    pub name: Option<String>,
    /// `zh-CN` (default) or `en`: the script language.
    pub language: Option<String>,
    /// 0-255, higher first; default 100.
    pub priority: Option<i64>,
    /// RFC 3339 or epoch ms.
    pub starts_at: String,
    pub ends_at: String,
    /// Agents (user ids) who work the campaign; or give `queue`.
    pub agents: Option<Vec<String>>,
    pub queue: Option<String>,
    /// `preview` (default), `progressive` or `predictive`.
    pub dial_mode: Option<String>,
    /// 1-20, default 3.
    pub max_attempts: Option<i64>,
    #[serde(default)]
    pub target: TargetInput,
    /// Replaces the default rest time (12:00-14:00, 21:00-09:00 customer-local).
    pub calling: Option<CallingOverride>,
}

/// Fields a draft or paused campaign may change.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub priority: Option<i64>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub agents: Option<Vec<String>>,
    pub queue: Option<String>,
    pub dial_mode: Option<String>,
    pub max_attempts: Option<i64>,
    pub target: Option<TargetInput>,
    /// `null` is not accepted; send `{"rest": ["12:00-14:00","21:00-09:00"]}` for the default.
    pub calling: Option<CallingOverride>,
}

/// A campaign. Times RFC 3339.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub name: String,
    pub r#type: String,
    /// `draft`, `running`, `paused` or `stopped`.
    pub state: String,
    pub priority: i64,
    pub dial_mode: String,
    pub max_attempts: i64,
    pub language: String,
    pub starts_at: String,
    pub ends_at: String,
    #[schema(value_type = Object)]
    pub target: serde_json::Value,
    #[schema(value_type = Object)]
    pub assignees: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub calling: Option<serde_json::Value>,
    /// Set on the campaigns the trigger driver keeps (`order_reminder`, ...).
    pub trigger_kind: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&CampaignRecord> for CampaignView {
    fn from(c: &CampaignRecord) -> Self {
        CampaignView {
            id: c.id.clone(),
            name: c.name.clone(),
            r#type: c.kind.clone(),
            state: c.state.as_str().to_owned(),
            priority: c.priority,
            dial_mode: c.dial_mode.clone(),
            max_attempts: c.max_attempts,
            language: c.language.clone(),
            starts_at: c.starts_at.to_string(),
            ends_at: c.ends_at.to_string(),
            target: c.target.clone(),
            assignees: c.assignees.clone(),
            calling: c.calling.clone(),
            trigger_kind: c.trigger_kind.clone(),
            version: c.version,
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
        }
    }
}

fn parse_type(raw: &str) -> Result<CampaignType, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::bad_field(
            "type",
            format!("unknown campaign type '{raw}': see GET /campaign-templates"),
        )
    })
}

pub(crate) fn parse_language(raw: &str) -> Result<Language, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_field("language", "language must be zh-CN or en"))
}

fn language_str(l: Language) -> &'static str {
    match l {
        Language::ZhCn => "zh-CN",
        Language::En => "en",
    }
}

fn parse_dial_mode(raw: &str) -> Result<DialMode, ApiError> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).map_err(|_| {
        ApiError::bad_field(
            "dial_mode",
            "dial_mode must be preview, progressive or predictive",
        )
    })
}

fn dial_mode_str(d: DialMode) -> &'static str {
    match d {
        DialMode::Preview => "preview",
        DialMode::Progressive => "progressive",
        DialMode::Predictive => "predictive",
    }
}

fn check_target(t: &TargetInput) -> Result<(), ApiError> {
    if let Some(c) = &t.category
        && c != "potential"
        && c != "customer"
    {
        return Err(ApiError::bad_field(
            "target.category",
            "target.category must be potential or customer",
        ));
    }
    if t.tags.iter().any(|tag| tag.is_empty() || tag.len() > 64) {
        return Err(ApiError::bad_field(
            "target.tags",
            "each tag must be 1-64 characters",
        ));
    }
    Ok(())
}

/// Agents or a queue, checked against the tenant.
async fn assignees(
    state: &ApiState,
    caller: &Caller,
    agents: Option<&[String]>,
    queue: Option<&str>,
) -> Result<(Assignees, serde_json::Value), ApiError> {
    match (agents, queue) {
        (Some(_), Some(_)) => Err(ApiError::bad_field(
            "queue",
            "give either agents or queue, not both",
        )),
        (Some(list), None) => {
            let mut ids = Vec::with_capacity(list.len());
            for (i, a) in list.iter().enumerate() {
                ids.push(tenant_user(state, caller, a, &format!("agents[{i}]")).await?);
            }
            let json =
                serde_json::json!({ "agents": ids.iter().map(UserId::as_str).collect::<Vec<_>>() });
            Ok((
                Assignees::Agents(ids.iter().map(|u| u.as_str().into()).collect()),
                json,
            ))
        }
        (None, Some(q)) => {
            let known = !q.is_empty()
                && q.len() <= 128
                && switchboard_store::acd::get_queue(&state.store, caller.tenant(), &q.into())
                    .await?
                    .is_some();
            if !known {
                return Err(ApiError::bad_field(
                    "queue",
                    "queue names no queue of this tenant",
                ));
            }
            Ok((
                Assignees::Queue(q.into()),
                serde_json::json!({ "queue": q }),
            ))
        }
        (None, None) => Err(ApiError::bad_field(
            "agents",
            "a campaign needs agents or a queue",
        )),
    }
}

pub(crate) fn campaign_error(e: CampaignError) -> ApiError {
    let field = match &e {
        CampaignError::EndsBeforeStart => "ends_at",
        CampaignError::MaxAttempts(_) => "max_attempts",
        CampaignError::NoAgents => "agents",
        CampaignError::EmptyName => "name",
        CampaignError::State { .. } => return ApiError::Conflict(e.to_string()),
    };
    ApiError::bad_field(field, e.to_string())
}

pub(crate) fn priority(raw: i64) -> Result<u8, ApiError> {
    u8::try_from(raw).map_err(|_| ApiError::bad_field("priority", "priority must be 0-255"))
}

pub(crate) fn max_attempts(raw: i64) -> Result<u32, ApiError> {
    u32::try_from(raw)
        .map_err(|_| ApiError::bad_field("max_attempts", "max attempts must be 1 to 20"))
}

fn calling_json(c: Option<&CallingOverride>) -> Result<Option<serde_json::Value>, ApiError> {
    let Some(c) = c else { return Ok(None) };
    c.policy()
        .map_err(|e| ApiError::bad_field(e.field, e.message))?;
    serde_json::to_value(c)
        .map(Some)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

fn target_json(t: &TargetInput) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(t).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Creates a draft campaign from a type template.
#[utoipa::path(
    post, path = "/campaigns", operation_id = "create_campaign", tag = "campaigns",
    request_body = CampaignInput,
    responses((status = 201, description = "Draft created", body = CampaignView))
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(input): ApiJson<CampaignInput>,
) -> Result<Response, ApiError> {
    caller.require(MANAGERS)?;
    let kind = parse_type(&input.r#type)?;
    let language = parse_language(input.language.as_deref().unwrap_or("zh-CN"))?;
    let starts_at = parse_time("starts_at", &input.starts_at)?;
    let ends_at = parse_time("ends_at", &input.ends_at)?;
    let dial_mode = parse_dial_mode(input.dial_mode.as_deref().unwrap_or("preview"))?;
    let prio = priority(input.priority.unwrap_or(100))?;
    let attempts = max_attempts(input.max_attempts.unwrap_or(3))?;
    check_target(&input.target)?;
    let calling = calling_json(input.calling.as_ref())?;
    let name = input
        .name
        .clone()
        .unwrap_or_else(|| kind.name(language).to_owned());
    if name.chars().count() > 200 {
        return Err(ApiError::bad_field(
            "name",
            "name must be at most 200 characters",
        ));
    }
    let (pure_assignees, assignees_json) = assignees(
        &state,
        &caller,
        input.agents.as_deref(),
        input.queue.as_deref(),
    )
    .await?;
    let id = uuid::Uuid::now_v7().to_string();
    // The crate validates the whole spec (dates, attempts, agents, name).
    Campaign::new(
        id.as_str().into(),
        CampaignSpec {
            name: name.clone(),
            kind,
            target: TargetList::Query(target_json(&input.target)?.to_string()),
            priority: prio,
            starts_at,
            ends_at,
            assignees: pure_assignees,
            dial_mode,
            max_attempts: attempts,
            language,
            calling_override: None,
        },
    )
    .map_err(campaign_error)?;
    let now = state.clock.now();
    let record = CampaignRecord {
        id,
        tenant_id: caller.tenant().clone(),
        name,
        kind: kind.as_str().to_owned(),
        priority: i64::from(prio),
        dial_mode: dial_mode_str(dial_mode).to_owned(),
        max_attempts: i64::from(attempts),
        state: CampaignState::Draft,
        starts_at,
        ends_at,
        target: target_json(&input.target)?,
        assignees: assignees_json,
        language: language_str(language).to_owned(),
        calling,
        trigger_kind: None,
        created_by: Some(caller.user.id.clone()),
        resolved_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    campaigns::insert(&state.store, &record).await?;
    Ok(etag_response(
        StatusCode::CREATED,
        &CampaignView::from(&record),
        record.version,
    ))
}

/// Query of `GET /campaigns`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CampaignListParams {
    /// `draft`, `running`, `paused` or `stopped`.
    pub state: Option<String>,
    /// 1-1000, default 200.
    pub limit: Option<String>,
}

/// The tenant's campaigns, newest first.
#[utoipa::path(
    get, path = "/campaigns", operation_id = "list_campaigns", tag = "campaigns",
    params(CampaignListParams),
    responses((status = 200, description = "Campaigns", body = [CampaignView]))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CampaignListParams>,
) -> Result<ApiJson<Vec<CampaignView>>, ApiError> {
    caller.require(READERS)?;
    let st = q
        .state
        .as_deref()
        .map(|s| {
            CampaignState::parse(s).ok_or_else(|| {
                ApiError::bad_field("state", "state must be draft, running, paused or stopped")
            })
        })
        .transpose()?;
    let limit = limit_param(q.limit.as_deref(), 200, 1000)?;
    let list = campaigns::list(&state.store, caller.tenant(), st, limit).await?;
    Ok(ApiJson(list.iter().map(CampaignView::from).collect()))
}

pub(crate) async fn load(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<CampaignRecord, ApiError> {
    if id.is_empty() || id.len() > 64 {
        return Err(ApiError::NotFound(format!("campaign '{id}'")));
    }
    campaigns::get(&state.store, caller.tenant(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("campaign '{id}'")))
}

/// One campaign (ETag: its version).
#[utoipa::path(
    get, path = "/campaigns/{id}", operation_id = "get_campaign", tag = "campaigns",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "The campaign", body = CampaignView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let c = load(&state, &caller, &id).await?;
    Ok(etag_response(
        StatusCode::OK,
        &CampaignView::from(&c),
        c.version,
    ))
}

pub(crate) fn change_result(
    id: &str,
    change: Change,
    action: &str,
) -> Result<CampaignRecord, ApiError> {
    match change {
        Change::Applied(c) => Ok(*c),
        Change::NotFound => Err(ApiError::NotFound(format!("campaign '{id}'"))),
        Change::Stale { current } => Err(ApiError::PreconditionFailed(format!(
            "campaign '{id}' is at version {current}; reload it and try again"
        ))),
        Change::WrongState(s) => Err(ApiError::Conflict(format!(
            "campaign '{id}' is {s}; cannot {action} it"
        ))),
    }
}

/// Edits a draft or paused campaign (`If-Match` optional).
#[utoipa::path(
    patch, path = "/campaigns/{id}", operation_id = "edit_campaign", tag = "campaigns",
    params(("id" = String, Path, description = "Campaign id")),
    request_body = CampaignPatch,
    responses((status = 200, description = "Edited", body = CampaignView))
)]
pub(crate) async fn edit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(p): ApiJson<CampaignPatch>,
) -> Result<Response, ApiError> {
    caller.require(MANAGERS)?;
    let expected = optional_if_match(&headers).map_err(|e| match e {
        CustomerApiError::Api(a) => a,
        other => ApiError::bad_field("If-Match", other.to_string()),
    })?;
    let mut c = load(&state, &caller, &id).await?;
    if c.trigger_kind.is_some() {
        return Err(ApiError::Conflict(format!(
            "campaign '{id}' is kept by the trigger driver; pause or stop it instead"
        )));
    }
    let kind = campaign_type(&c).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(n) = p.name {
        c.name = n;
    }
    if let Some(v) = p.priority {
        c.priority = i64::from(priority(v)?);
    }
    if let Some(t) = &p.starts_at {
        c.starts_at = parse_time("starts_at", t)?;
    }
    if let Some(t) = &p.ends_at {
        c.ends_at = parse_time("ends_at", t)?;
    }
    if let Some(d) = &p.dial_mode {
        c.dial_mode = dial_mode_str(parse_dial_mode(d)?).to_owned();
    }
    if let Some(m) = p.max_attempts {
        c.max_attempts = i64::from(max_attempts(m)?);
    }
    if let Some(t) = &p.target {
        check_target(t)?;
        c.target = target_json(t)?;
    }
    if let Some(cl) = &p.calling {
        c.calling = calling_json(Some(cl))?;
    }
    let mut pure_assignees = Assignees::Queue("-".into());
    if p.agents.is_some() || p.queue.is_some() {
        let (a, json) = assignees(&state, &caller, p.agents.as_deref(), p.queue.as_deref()).await?;
        pure_assignees = a;
        c.assignees = json;
    }
    Campaign::new(
        c.id.as_str().into(),
        CampaignSpec {
            name: c.name.clone(),
            kind,
            target: TargetList::Query(c.target.to_string()),
            priority: priority(c.priority)?,
            starts_at: c.starts_at,
            ends_at: c.ends_at,
            assignees: pure_assignees,
            dial_mode: parse_dial_mode(&c.dial_mode)?,
            max_attempts: max_attempts(c.max_attempts)?,
            language: parse_language(&c.language)?,
            calling_override: None,
        },
    )
    .map_err(campaign_error)?;
    let change = campaigns::update(
        &state.store,
        &c,
        expected.unwrap_or(c.version),
        state.clock.now(),
    )
    .await?;
    let c = change_result(&id, change, "edit")?;
    Ok(etag_response(
        StatusCode::OK,
        &CampaignView::from(&c),
        c.version,
    ))
}

/// Deletes a draft (a campaign that ran stays for the reports: stop it instead).
#[utoipa::path(
    delete, path = "/campaigns/{id}", operation_id = "delete_campaign", tag = "campaigns",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 204, description = "Deleted"))
)]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(MANAGERS)?;
    load(&state, &caller, &id).await?;
    let change = campaigns::delete_draft(&state.store, caller.tenant(), &id).await?;
    change_result(&id, change, "delete")?;
    Ok(StatusCode::NO_CONTENT)
}
