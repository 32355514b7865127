//! Call-back tasks (回访): the calls an agent owes a customer. The ACD creates them for callers
//! who hung up while waiting, calls dropped mid-conversation and accepted call-back offers;
//! campaigns reuse the table with their own reasons.
//!
//! A task goes open → in_progress (an agent claimed it) → done, or is cancelled while open or
//! in progress. Each step is one conditional UPDATE, so two agents claiming the same task at
//! once (on one node or two) cannot both win: the database serialises the writes and the loser
//! matches no row. Tasks are kept after they end, for the supervisors' figures.

use switchboard_core::{CallId, QueueId, TaskId, TenantId, Timestamp, UserId};

use crate::calls::str_enum;
use crate::{Store, StoreError};

str_enum!(
    /// Where a task is in its life.
    TaskState { Open => "open", InProgress => "in_progress", Done => "done", Cancelled => "cancelled" }
);

/// The reasons the ACD writes (switchboard-acd's `CallbackReason`, snake_case). Campaigns add
/// their own; the column is not restricted to these.
pub mod callback_reason {
    pub const ABANDONED_WHILE_WAITING: &str = "abandoned_while_waiting";
    pub const DROPPED_MID_CALL: &str = "dropped_mid_call";
    pub const REQUESTED: &str = "requested";
}

/// Who is to make the call: one agent (the one a dropped call was with), or any member of a
/// queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskOwner {
    Agent(UserId),
    Queue(QueueId),
}

impl TaskOwner {
    fn kind(&self) -> &'static str {
        match self {
            TaskOwner::Agent(_) => "agent",
            TaskOwner::Queue(_) => "queue",
        }
    }

    fn id(&self) -> &str {
        match self {
            TaskOwner::Agent(a) => a.as_str(),
            TaskOwner::Queue(q) => q.as_str(),
        }
    }

    fn from_columns(kind: &str, id: String) -> Result<Self, StoreError> {
        match kind {
            "agent" => Ok(TaskOwner::Agent(id.into())),
            "queue" => Ok(TaskOwner::Queue(id.into())),
            other => Err(StoreError::Corrupt(format!(
                "callback_tasks.owner_kind '{other}'"
            ))),
        }
    }
}

/// One call-back task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub id: TaskId,
    pub tenant_id: TenantId,
    /// The call the task came from, if any.
    pub call_id: Option<CallId>,
    /// E.164.
    pub customer_phone: String,
    /// One of [`callback_reason`]'s strings, or a campaign's.
    pub reason: String,
    pub owner: TaskOwner,
    pub state: TaskState,
    /// The SLA deadline.
    pub due_at: Timestamp,
    /// The agent who claimed it.
    pub claimed_by: Option<UserId>,
    pub claimed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When it was completed or cancelled.
    pub done_at: Option<Timestamp>,
    /// The outcome the agent recorded (`reached`, `no_answer`, ...).
    pub result: Option<String>,
    pub note: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: String,
    tenant_id: String,
    call_id: Option<String>,
    customer_phone: String,
    reason: String,
    owner_kind: String,
    owner_id: String,
    state: String,
    due_at: i64,
    claimed_by: Option<String>,
    claimed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    done_at: Option<i64>,
    result: Option<String>,
    note: Option<String>,
}

impl TryFrom<TaskRow> for TaskRecord {
    type Error = StoreError;
    fn try_from(r: TaskRow) -> Result<Self, StoreError> {
        let ts = Timestamp::from_millis;
        Ok(TaskRecord {
            owner: TaskOwner::from_columns(&r.owner_kind, r.owner_id)?,
            state: TaskState::from_column("callback_tasks.state", &r.state)?,
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            call_id: r.call_id.map(CallId::from),
            customer_phone: r.customer_phone,
            reason: r.reason,
            due_at: ts(r.due_at),
            claimed_by: r.claimed_by.map(UserId::from),
            claimed_at: r.claimed_at.map(ts),
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
            done_at: r.done_at.map(ts),
            result: r.result,
            note: r.note,
        })
    }
}

const COLUMNS: &str = "id, tenant_id, call_id, customer_phone, reason, owner_kind, owner_id, state, due_at, claimed_by, claimed_at, created_at, updated_at, done_at, result, note";

fn what(id: &TaskId) -> String {
    format!("call-back task '{id}'")
}

/// What [`create_task`] writes (state `open`).
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    pub tenant_id: &'a TenantId,
    pub call_id: Option<&'a CallId>,
    pub customer_phone: &'a str,
    pub reason: &'a str,
    pub owner: &'a TaskOwner,
    pub due_at: Timestamp,
    pub note: Option<&'a str>,
    pub now: Timestamp,
}

/// What [`create_task`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTask {
    pub task: TaskRecord,
    /// False when a task for the same call and reason already existed: it is returned unchanged.
    pub created: bool,
}

/// Creates an open task. Idempotent on (tenant, call, reason): the ACD may announce the same
/// call-back again after a restart, and the second announcement returns the first task.
/// Tasks without a call are always created.
pub async fn create_task(store: &Store, t: &NewTask<'_>) -> Result<CreatedTask, StoreError> {
    let id = TaskId::generate();
    let done = sqlx::query(
        "INSERT INTO callback_tasks (id, tenant_id, call_id, customer_phone, reason, owner_kind, owner_id, state, due_at, created_at, updated_at, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $9, $10)
         ON CONFLICT (tenant_id, call_id, reason) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(t.tenant_id.as_str())
    .bind(t.call_id.map(CallId::as_str))
    .bind(t.customer_phone)
    .bind(t.reason)
    .bind(t.owner.kind())
    .bind(t.owner.id())
    .bind(t.due_at.as_millis())
    .bind(t.now.as_millis())
    .bind(t.note)
    .execute(store.pool())
    .await
    .map_err(|e| StoreError::from_insert(e, what(&id)))?;
    let created = done.rows_affected() > 0;
    let row: Option<TaskRow> = if created {
        fetch(store, t.tenant_id, &id).await?
    } else {
        // Only a task with a call can conflict (NULL call ids are distinct).
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM callback_tasks WHERE tenant_id = $1 AND call_id = $2 AND reason = $3"
        ))
        .bind(t.tenant_id.as_str())
        .bind(t.call_id.map(CallId::as_str))
        .bind(t.reason)
        .fetch_optional(store.pool())
        .await?
    };
    let row = row.ok_or_else(|| StoreError::NotFound { what: what(&id) })?;
    Ok(CreatedTask {
        task: TaskRecord::try_from(row)?,
        created,
    })
}

async fn fetch(
    store: &Store,
    tenant: &TenantId,
    id: &TaskId,
) -> Result<Option<TaskRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM callback_tasks WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await?)
}

/// One task of `tenant`; `None` if there is none or it belongs to another tenant.
pub async fn get_task(
    store: &Store,
    tenant: &TenantId,
    id: &TaskId,
) -> Result<Option<TaskRecord>, StoreError> {
    fetch(store, tenant, id)
        .await?
        .map(TaskRecord::try_from)
        .transpose()
}

/// A position in a most-urgent-first list: the last `(due_at, id)` a page returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCursor {
    pub due_at: Timestamp,
    pub id: TaskId,
}

impl TaskCursor {
    /// Opaque to clients: hex of `"<ms>:<id>"`.
    pub fn encode(&self) -> String {
        hex::encode(format!("{}:{}", self.due_at.as_millis(), self.id))
    }

    /// `None` when `s` is not a cursor [`TaskCursor::encode`] made.
    pub fn decode(s: &str) -> Option<TaskCursor> {
        let text = String::from_utf8(hex::decode(s).ok()?).ok()?;
        let (ms, id) = text.split_once(':')?;
        let ms: i64 = ms.parse().ok()?;
        (!id.is_empty()).then(|| TaskCursor {
            due_at: Timestamp::from_millis(ms),
            id: TaskId::from(id),
        })
    }
}

/// Which tasks [`list_tasks`] returns; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter<'a> {
    pub owner: Option<&'a TaskOwner>,
    /// Claimed by this agent (their in-progress work, whoever owns it).
    pub claimed_by: Option<&'a UserId>,
    pub state: Option<TaskState>,
    /// Due strictly before (the overdue ones: `Some(now)`).
    pub due_before: Option<Timestamp>,
    /// Clamped to 1..=1000.
    pub limit: u32,
    /// Continue after this position (the previous page's `next`).
    pub after: Option<TaskCursor>,
}

/// One page of tasks, most urgent first.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub items: Vec<TaskRecord>,
    /// Present when the page is full: pass it back as `after` for the next page.
    pub next: Option<TaskCursor>,
}

/// A tenant's tasks, earliest deadline first by `(due_at, id)`.
pub async fn list_tasks(
    store: &Store,
    tenant: &TenantId,
    filter: &TaskFilter<'_>,
) -> Result<TaskPage, StoreError> {
    let limit = filter.limit.clamp(1, 1000);
    // Absent filters are bound as NULL and absent bounds as sentinels, so one query text serves
    // both engines; the cursor's id breaks ties between tasks due in the same millisecond.
    let (after_ms, after_id) = filter.after.as_ref().map_or((i64::MIN, None), |c| {
        (c.due_at.as_millis(), Some(c.id.as_str()))
    });
    let rows: Vec<TaskRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM callback_tasks
         WHERE tenant_id = $1
           AND ($2 IS NULL OR (owner_kind = $2 AND owner_id = $3))
           AND ($4 IS NULL OR claimed_by = $4)
           AND ($5 IS NULL OR state = $5)
           AND due_at < $6
           AND (due_at > $7 OR (due_at = $7 AND ($8 IS NULL OR id > $8)))
         ORDER BY due_at, id LIMIT $9"
    ))
    .bind(tenant.as_str())
    .bind(filter.owner.map(TaskOwner::kind))
    .bind(filter.owner.map(TaskOwner::id))
    .bind(filter.claimed_by.map(UserId::as_str))
    .bind(filter.state.map(TaskState::as_str))
    .bind(filter.due_before.map_or(i64::MAX, Timestamp::as_millis))
    .bind(after_ms)
    .bind(after_id)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let items = rows
        .into_iter()
        .map(TaskRecord::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let next = (items.len() == limit as usize)
        .then(|| items.last())
        .flatten()
        .map(|t| TaskCursor {
            due_at: t.due_at,
            id: t.id.clone(),
        });
    Ok(TaskPage { items, next })
}

/// What a claim, completion or cancellation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskChange {
    /// Done; the task as it is now (boxed: it dwarfs the other variants).
    Applied(Box<TaskRecord>),
    /// The task is not in a state this step applies to: someone else claimed, completed or
    /// cancelled it first. Carries the state it is in.
    WrongState(TaskState),
    /// The task is another agent's: owned by them, or claimed by them.
    NotYours,
}

/// The webhook payload of `task.*` events: the body of `GET /api/v1/tasks/{id}`.
pub fn event_payload(t: &TaskRecord) -> serde_json::Value {
    let owner = match &t.owner {
        TaskOwner::Agent(a) => format!("agent:{a}"),
        TaskOwner::Queue(q) => format!("queue:{q}"),
    };
    serde_json::json!({
        "id": t.id.to_string(),
        "call_id": t.call_id.as_ref().map(ToString::to_string),
        "customer_phone": t.customer_phone,
        "reason": t.reason,
        "owner": owner,
        "state": t.state.to_string(),
        "due_at": t.due_at.to_string(),
        "claimed_by": t.claimed_by.as_ref().map(ToString::to_string),
        "claimed_at": t.claimed_at.map(|x| x.to_string()),
        "created_at": t.created_at.to_string(),
        "updated_at": t.updated_at.to_string(),
        "done_at": t.done_at.map(|x| x.to_string()),
        "result": t.result,
        "note": t.note,
    })
}

/// Runs one step's conditional UPDATE and, when it matched, announces the task as it now is
/// (`event_type`) in the same transaction: a step and its webhook event commit together.
async fn step<'a>(
    store: &Store,
    tenant: &TenantId,
    id: &TaskId,
    update: sqlx::query::Query<'a, sqlx::Any, sqlx::any::AnyArguments<'a>>,
    event_type: &str,
    now: Timestamp,
    allowed: &[TaskState],
) -> Result<TaskChange, StoreError> {
    let mut tx = store.begin_write().await?;
    let applied = update.execute(&mut *tx).await?.rows_affected() > 0;
    if applied {
        let row: Option<TaskRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM callback_tasks WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let task =
            TaskRecord::try_from(row.ok_or_else(|| StoreError::NotFound { what: what(id) })?)?;
        crate::outbox::enqueue(
            &mut tx,
            &crate::outbox::NewEvent {
                tenant_id: tenant,
                event_type,
                payload: &event_payload(&task),
                now,
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(TaskChange::Applied(Box::new(task)));
    }
    tx.rollback().await?;
    outcome(store, tenant, id, false, allowed).await
}

/// Works out why a conditional UPDATE matched no row (or re-reads the row when it did).
async fn outcome(
    store: &Store,
    tenant: &TenantId,
    id: &TaskId,
    applied: bool,
    allowed: &[TaskState],
) -> Result<TaskChange, StoreError> {
    let task = get_task(store, tenant, id)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: what(id) })?;
    Ok(if applied {
        TaskChange::Applied(Box::new(task))
    } else if allowed.contains(&task.state) {
        TaskChange::NotYours
    } else {
        TaskChange::WrongState(task.state)
    })
}

/// An agent takes an open task (open → in_progress). Only one of several agents claiming at
/// once wins; the others get `WrongState(InProgress)`. A task owned by an agent can be claimed
/// by that agent only (`NotYours`); a queue's task by anyone (the server checks membership).
/// `NotFound` if the tenant has no such task.
pub async fn claim_task(
    store: &Store,
    tenant: &TenantId,
    id: &TaskId,
    agent: &UserId,
    now: Timestamp,
) -> Result<TaskChange, StoreError> {
    let update = sqlx::query(
        "UPDATE callback_tasks SET state = 'in_progress', claimed_by = $3, claimed_at = $4, updated_at = $4
         WHERE tenant_id = $1 AND id = $2 AND state = 'open'
           AND (owner_kind = 'queue' OR owner_id = $3)",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .bind(agent.as_str())
    .bind(now.as_millis());
    step(
        store,
        tenant,
        id,
        update,
        "task.claimed",
        now,
        &[TaskState::Open],
    )
    .await
}

/// The agent who claimed the task made the call (in_progress → done) with `result` (and an
/// optional note, which replaces the stored one when given). `NotYours` if another agent
/// claimed it.
pub async fn complete_task(
    store: &Store,
    tenant: &TenantId,
    id: &TaskId,
    agent: &UserId,
    result: &str,
    note: Option<&str>,
    now: Timestamp,
) -> Result<TaskChange, StoreError> {
    let update = sqlx::query(
        "UPDATE callback_tasks SET state = 'done', done_at = $4, updated_at = $4, result = $5,
             note = COALESCE($6, note)
         WHERE tenant_id = $1 AND id = $2 AND state = 'in_progress' AND claimed_by = $3",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .bind(agent.as_str())
    .bind(now.as_millis())
    .bind(result)
    .bind(note);
    step(
        store,
        tenant,
        id,
        update,
        "task.completed",
        now,
        &[TaskState::InProgress],
    )
    .await
}

/// Cancels an open or in-progress task (a supervisor, or the customer called back first).
/// Permission is the caller's business; a finished task gives `WrongState`.
pub async fn cancel_task(
    store: &Store,
    tenant: &TenantId,
    id: &TaskId,
    note: Option<&str>,
    now: Timestamp,
) -> Result<TaskChange, StoreError> {
    let update = sqlx::query(
        "UPDATE callback_tasks SET state = 'cancelled', done_at = $3, updated_at = $3,
             note = COALESCE($4, note)
         WHERE tenant_id = $1 AND id = $2 AND state IN ('open', 'in_progress')",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .bind(now.as_millis())
    .bind(note);
    // No state is "allowed but not yours" here: every miss is a wrong state.
    step(store, tenant, id, update, "task.cancelled", now, &[]).await
}
