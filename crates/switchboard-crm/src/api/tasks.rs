//! Call-back tasks (回访) over HTTP: `GET /tasks`, `GET /tasks/{id}`, and the steps of a task's
//! life — `POST /tasks/{id}/claim`, `…/complete`, `…/cancel`. The ACD creates these call-back
//! tasks for callers who hung up while waiting and for calls dropped mid-conversation.
//!
//! Who sees what: admins, supervisors and QA read every task of the tenant; an agent reads the
//! tasks owned by them or by a queue they are a member of (and any task they claimed). A task
//! an agent may not see answers 404, like another tenant's, so ids do not leak.
//!
//! Claiming is one conditional UPDATE in the store, so of two agents claiming at once exactly
//! one wins and the other gets 409.

use std::collections::HashSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::{QueueId, Role, TaskId, UserId};
use switchboard_store::tasks::{
    self as store_tasks, TaskChange, TaskCursor, TaskFilter, TaskOwner, TaskRecord, TaskState,
};
use switchboard_store::{StoreError, acd, audit};
use utoipa::{IntoParams, ToSchema};

use super::customer_types::parse_time;
use super::customers::ApiQuery;
use super::queues::valid_user_id;
use super::{ApiError, ApiJson, ApiState, Caller};

/// Who reads tasks at all; agents are further limited to their own and their queues'.
const READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa, Role::Agent];
/// Who reads every task of the tenant.
const ALL_TASKS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Qa];
/// Who makes call-backs: agents, and supervisors who are queue members.
const CALLERS: &[Role] = &[Role::Agent, Role::Supervisor];
/// Who cancels a task.
const LEADS: &[Role] = &[Role::Admin, Role::Supervisor];

const DEFAULT_LIMIT: u32 = 100;
const MAX_RESULT: usize = 64;
const MAX_NOTE: usize = 10_000;

/// What went wrong in a task route.
#[derive(Debug, thiserror::Error)]
pub enum TaskApiError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Someone claimed, completed or cancelled the task first.
    #[error("call-back task '{id}' is {state}")]
    WrongState { id: String, state: TaskState },
    /// The task is owned by another agent.
    #[error("call-back task '{0}' belongs to another agent")]
    OtherAgents(String),
    /// Only the agent who claimed a task completes it.
    #[error("only the agent who claimed call-back task '{0}' completes it")]
    NotClaimer(String),
}

impl From<StoreError> for TaskApiError {
    fn from(e: StoreError) -> Self {
        TaskApiError::Api(e.into())
    }
}

impl IntoResponse for TaskApiError {
    fn into_response(self) -> Response {
        if let TaskApiError::Api(e) = self {
            return e.into_response();
        }
        let (status, code) = match &self {
            TaskApiError::Api(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            TaskApiError::WrongState { .. } | TaskApiError::OtherAgents(_) => {
                (StatusCode::CONFLICT, "conflict")
            }
            TaskApiError::NotClaimer(_) => (StatusCode::FORBIDDEN, "forbidden"),
        };
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        (status, axum::Json(body)).into_response()
    }
}

/// One call-back task. Times are RFC 3339 (UTC, milliseconds) or null.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    pub id: String,
    /// The call the task came from.
    pub call_id: Option<String>,
    /// E.164.
    pub customer_phone: String,
    /// `abandoned_while_waiting`, `dropped_mid_call`, `requested`, or a campaign's.
    pub reason: String,
    /// `agent:<user id>` or `queue:<queue id>`.
    pub owner: String,
    /// `open`, `in_progress`, `done` or `cancelled`.
    pub state: String,
    /// The deadline.
    pub due_at: String,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When it was completed or cancelled.
    pub done_at: Option<String>,
    /// The outcome the agent recorded (`reached`, `no_answer`, …).
    pub result: Option<String>,
    pub note: Option<String>,
}

fn owner_text(owner: &TaskOwner) -> String {
    match owner {
        TaskOwner::Agent(a) => format!("agent:{a}"),
        TaskOwner::Queue(q) => format!("queue:{q}"),
    }
}

impl From<&TaskRecord> for TaskView {
    fn from(t: &TaskRecord) -> Self {
        TaskView {
            id: t.id.to_string(),
            call_id: t.call_id.as_ref().map(ToString::to_string),
            customer_phone: t.customer_phone.clone(),
            reason: t.reason.clone(),
            owner: owner_text(&t.owner),
            state: t.state.to_string(),
            due_at: t.due_at.to_string(),
            claimed_by: t.claimed_by.as_ref().map(ToString::to_string),
            claimed_at: t.claimed_at.map(|x| x.to_string()),
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
            done_at: t.done_at.map(|x| x.to_string()),
            result: t.result.clone(),
            note: t.note.clone(),
        }
    }
}

/// One page of `GET /tasks`, earliest deadline first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskPage {
    pub items: Vec<TaskView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /tasks`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    /// `agent:<user id>`, `queue:<queue id>` or `me` (tasks owned by the caller). Agents may
    /// name only themselves and their queues; without it they get all of those.
    pub owner: Option<String>,
    /// `open`, `in_progress`, `done` or `cancelled`.
    pub state: Option<String>,
    /// Tasks due strictly before: RFC 3339 or epoch milliseconds (overdue ones: now).
    pub due_before: Option<String>,
    /// Page size, 1-1000 (default 100).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Body of `POST /tasks/{id}/complete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteTask {
    /// The outcome: `reached`, `no_answer`, `wrong_number`, … (1-64 characters).
    result: String,
    note: Option<String>,
}

/// Optional body of `POST /tasks/{id}/cancel`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelTask {
    note: Option<String>,
}

fn is_agent_only(caller: &Caller) -> bool {
    !ALL_TASKS.contains(&caller.user.role)
}

/// The queues the caller is a member of.
async fn my_queues(state: &ApiState, caller: &Caller) -> Result<HashSet<QueueId>, ApiError> {
    Ok(
        acd::queues_of_agent(&state.store, caller.tenant(), &caller.user.id)
            .await?
            .into_iter()
            .map(|m| m.queue_id)
            .collect(),
    )
}

fn is_mine(task: &TaskRecord, me: &UserId, queues: &HashSet<QueueId>) -> bool {
    task.claimed_by.as_ref() == Some(me)
        || match &task.owner {
            TaskOwner::Agent(a) => a == me,
            TaskOwner::Queue(q) => queues.contains(q),
        }
}

/// The caller's task `id`, or 404 (unknown, another tenant's, or not the agent's to see).
async fn readable_task(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<TaskRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("call-back task '{id}'"));
    if !valid_user_id(id) {
        return Err(not_found());
    }
    let task = store_tasks::get_task(&state.store, caller.tenant(), &TaskId::from(id))
        .await?
        .ok_or_else(not_found)?;
    if is_agent_only(caller) && !is_mine(&task, &caller.user.id, &my_queues(state, caller).await?) {
        return Err(not_found());
    }
    Ok(task)
}

fn parse_owner(raw: &str, me: &UserId) -> Result<TaskOwner, ApiError> {
    let bad = || {
        ApiError::bad_field(
            "owner",
            "owner must be agent:<user id>, queue:<queue id> or me",
        )
    };
    if raw == "me" {
        return Ok(TaskOwner::Agent(me.clone()));
    }
    let (kind, id) = raw.split_once(':').ok_or_else(bad)?;
    if !valid_user_id(id) {
        return Err(bad());
    }
    match kind {
        "agent" => Ok(TaskOwner::Agent(UserId::from(id))),
        "queue" => Ok(TaskOwner::Queue(QueueId::from(id))),
        _ => Err(bad()),
    }
}

fn parse_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    super::customers::limit_param(raw, DEFAULT_LIMIT, 1000)
}

/// Merges pages of several owners, each already earliest-first after the same cursor: the first
/// `limit` of the union are exactly the tenant-wide page those owners' tasks would give, and the
/// next page starts after its last task whenever it is full.
fn merge_pages(mut items: Vec<TaskRecord>, limit: u32) -> (Vec<TaskRecord>, Option<TaskCursor>) {
    items.sort_by(|a, b| (a.due_at, a.id.as_str()).cmp(&(b.due_at, b.id.as_str())));
    items.truncate(limit as usize);
    let next = (items.len() == limit as usize)
        .then(|| items.last())
        .flatten()
        .map(|t| TaskCursor {
            due_at: t.due_at,
            id: t.id.clone(),
        });
    (items, next)
}

/// Call-back tasks (回访), earliest deadline first, filtered and paged by `cursor`.
#[utoipa::path(
    get, path = "/tasks", operation_id = "list_tasks", tag = "tasks",
    params(TaskListParams),
    responses((status = 200, description = "One page, earliest deadline first", body = TaskPage))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TaskListParams>,
) -> Result<ApiJson<TaskPage>, ApiError> {
    caller.require(READERS)?;
    let asked = q
        .owner
        .as_deref()
        .filter(|o| !o.is_empty())
        .map(|o| parse_owner(o, &caller.user.id))
        .transpose()?;
    let task_state = q
        .state
        .as_deref()
        .map(|s| {
            TaskState::parse(s).ok_or_else(|| {
                ApiError::bad_field(
                    "state",
                    "state must be open, in_progress, done or cancelled",
                )
            })
        })
        .transpose()?;
    let due_before = q
        .due_before
        .as_deref()
        .map(|s| parse_time("due_before", s))
        .transpose()?;
    let limit = parse_limit(q.limit.as_deref())?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            TaskCursor::decode(c).ok_or_else(|| {
                ApiError::bad_field("cursor", "cursor is not one this server issued")
            })
        })
        .transpose()?;
    let owners: Vec<Option<TaskOwner>> = if is_agent_only(&caller) {
        let mut mine = vec![TaskOwner::Agent(caller.user.id.clone())];
        mine.extend(
            my_queues(&state, &caller)
                .await?
                .into_iter()
                .map(TaskOwner::Queue),
        );
        match asked {
            Some(o) if !mine.contains(&o) => {
                return Err(ApiError::Forbidden(
                    "supervisor, qa or admin (agents read their own and their queues' tasks)"
                        .into(),
                ));
            }
            Some(o) => vec![Some(o)],
            None => mine.into_iter().map(Some).collect(),
        }
    } else {
        vec![asked]
    };
    let mut items = Vec::new();
    for owner in &owners {
        let page = store_tasks::list_tasks(
            &state.store,
            caller.tenant(),
            &TaskFilter {
                owner: owner.as_ref(),
                claimed_by: None,
                state: task_state,
                due_before,
                limit,
                after: after.clone(),
            },
        )
        .await?;
        items.extend(page.items);
    }
    let (items, next) = merge_pages(items, limit);
    Ok(ApiJson(TaskPage {
        items: items.iter().map(TaskView::from).collect(),
        next_cursor: next.map(|c| c.encode()),
    }))
}

/// One call-back task.
#[utoipa::path(
    get, path = "/tasks/{id}", operation_id = "get_task", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, description = "The task", body = TaskView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<TaskView>, ApiError> {
    caller.require(READERS)?;
    let task = readable_task(&state, &caller, &id).await?;
    Ok(ApiJson(TaskView::from(&task)))
}

/// The task as changed, or the 409/403 saying why not.
fn applied(
    id: &str,
    change: TaskChange,
    not_yours: TaskApiError,
) -> Result<TaskRecord, TaskApiError> {
    match change {
        TaskChange::Applied(task) => Ok(*task),
        TaskChange::WrongState(state) => Err(TaskApiError::WrongState {
            id: id.to_owned(),
            state,
        }),
        TaskChange::NotYours => Err(not_yours),
    }
}

async fn audit_step(
    state: &ApiState,
    caller: &Caller,
    action: &str,
    task: &TaskRecord,
) -> Result<(), ApiError> {
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        action,
        task.id.as_str(),
        &json!({ "state": task.state.as_str(), "result": task.result }),
        state.clock.now(),
    )
    .await?;
    Ok(())
}

/// The caller takes an open task to make the call-back (agents; supervisors who are members).
/// 409 if it is not open any more or belongs to another agent.
#[utoipa::path(
    post, path = "/tasks/{id}/claim", operation_id = "claim_task", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, description = "The task, now in progress", body = TaskView))
)]
pub(crate) async fn claim(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<TaskView>, TaskApiError> {
    caller.require(CALLERS)?;
    let task = readable_task(&state, &caller, &id).await?;
    if let TaskOwner::Queue(q) = &task.owner
        && !my_queues(&state, &caller).await?.contains(q)
    {
        return Err(ApiError::Forbidden(format!("a member of queue '{q}'")).into());
    }
    let change = store_tasks::claim_task(
        &state.store,
        caller.tenant(),
        &task.id,
        &caller.user.id,
        state.clock.now(),
    )
    .await?;
    let task = applied(&id, change, TaskApiError::OtherAgents(id.clone()))?;
    audit_step(&state, &caller, "task.claim", &task).await?;
    Ok(ApiJson(TaskView::from(&task)))
}

fn check_len(field: &str, value: &str, max: usize, required: bool) -> Result<(), ApiError> {
    if (required && value.trim().is_empty()) || value.chars().count() > max || value.contains('\0')
    {
        let min = if required { 1 } else { 0 };
        return Err(ApiError::bad_field(
            field,
            format!("{field} must be {min}-{max} characters"),
        ));
    }
    Ok(())
}

/// The agent who claimed the task records its outcome. 403 for anyone else; 409 when the task
/// is not in progress.
#[utoipa::path(
    post, path = "/tasks/{id}/complete", operation_id = "complete_task", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    request_body = CompleteTask,
    responses((status = 200, description = "The task, now done", body = TaskView))
)]
pub(crate) async fn complete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CompleteTask>,
) -> Result<ApiJson<TaskView>, TaskApiError> {
    caller.require(CALLERS)?;
    check_len("result", &body.result, MAX_RESULT, true)?;
    if let Some(note) = &body.note {
        check_len("note", note, MAX_NOTE, false)?;
    }
    let task = readable_task(&state, &caller, &id).await?;
    let change = store_tasks::complete_task(
        &state.store,
        caller.tenant(),
        &task.id,
        &caller.user.id,
        body.result.trim(),
        body.note.as_deref(),
        state.clock.now(),
    )
    .await?;
    let task = applied(&id, change, TaskApiError::NotClaimer(id.clone()))?;
    audit_step(&state, &caller, "task.complete", &task).await?;
    Ok(ApiJson(TaskView::from(&task)))
}

/// Cancels an open or in-progress task (supervisors, admins), e.g. when the customer called in
/// first. An empty body is allowed. 409 once the task is done or cancelled.
#[utoipa::path(
    post, path = "/tasks/{id}/cancel", operation_id = "cancel_task", tag = "tasks",
    params(("id" = String, Path, description = "Task id")),
    request_body(content = Option<CancelTask>, description = "Optional note"),
    responses((status = 200, description = "The task, now cancelled", body = TaskView))
)]
pub(crate) async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    super::json::ApiBytes(body): super::json::ApiBytes,
) -> Result<ApiJson<TaskView>, TaskApiError> {
    caller.require(LEADS)?;
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        CancelTask::default()
    } else {
        super::json::parse::<CancelTask>(&body)?
    };
    if let Some(note) = &body.note {
        check_len("note", note, MAX_NOTE, false)?;
    }
    let task = readable_task(&state, &caller, &id).await?;
    let change = store_tasks::cancel_task(
        &state.store,
        caller.tenant(),
        &task.id,
        body.note.as_deref(),
        state.clock.now(),
    )
    .await?;
    let task = applied(&id, change, TaskApiError::OtherAgents(id.clone()))?;
    audit_step(&state, &caller, "task.cancel", &task).await?;
    Ok(ApiJson(TaskView::from(&task)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{TenantId, Timestamp};

    fn task(id: &str, due: i64) -> TaskRecord {
        TaskRecord {
            id: TaskId::from(id),
            tenant_id: TenantId::from("t"),
            call_id: None,
            customer_phone: "+8613800000001".into(),
            reason: "dropped_mid_call".into(),
            owner: TaskOwner::Queue(QueueId::from("q")),
            state: TaskState::Open,
            due_at: Timestamp::from_millis(due),
            claimed_by: None,
            claimed_at: None,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            done_at: None,
            result: None,
            note: None,
        }
    }

    #[test]
    fn merged_pages_are_earliest_first_and_continue_after_the_last() {
        let (items, next) = merge_pages(vec![task("b", 5), task("a", 9), task("c", 5)], 2);
        let ids: Vec<&str> = items.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(
            next.map(|c| (c.due_at.as_millis(), c.id)),
            Some((5, TaskId::from("c")))
        );
        let (items, next) = merge_pages(vec![task("a", 1)], 2);
        assert_eq!(items.len(), 1);
        assert!(next.is_none());
    }

    #[test]
    fn owners_are_agent_queue_or_me() {
        let me = UserId::from("u1");
        assert_eq!(
            parse_owner("me", &me).ok(),
            Some(TaskOwner::Agent(me.clone()))
        );
        assert_eq!(
            parse_owner("queue:sales", &me).ok(),
            Some(TaskOwner::Queue(QueueId::from("sales")))
        );
        for bad in ["", "sales", "team:x", "agent:"] {
            assert!(parse_owner(bad, &me).is_err(), "{bad}");
        }
    }
}
