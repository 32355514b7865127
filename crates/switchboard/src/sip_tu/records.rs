//! Call detail records and recording rows, written by one task in the order the call control
//! produced them, so the SIP loop never waits on the database and a row is never updated
//! before it was inserted.
//!
//! The writer drains everything queued and files it in ONE transaction per drain: at a few
//! hundred calls per second each call's six single-statement transactions (insert, ringing,
//! answered, closed, recording row, recording complete) were the largest cost of the server
//! (~40 % of its CPU in the sip-cps profile), and a transaction per drain costs one commit for
//! however many events the drain holds. Order is kept (statements run in queue order inside
//! the transaction), and so is crash consistency: a batch commits whole or not at all, and
//! every state a committed batch can leave (call open, recording `recording`) is one that
//! `serve`'s start-up repair already closes (`close_open_calls`, `recovery::recover`).
//!
//! Webhook events (`call.started`, `call.answered`, `call.ended`, `recording.ready`) are
//! enqueued in the same transaction as the row they announce, and only when the tenant has an
//! active subscription that wants the type: an outbox row is an insert plus a read-back of the
//! row for its payload, which the benchmark's subscription-less tenants should not pay. The
//! subscriptions are cached for [`SUBSCRIPTIONS_TTL`], so a new subscription sees call events
//! within that time.

mod events;

use std::collections::HashMap;
use std::time::Duration;

use sqlx::AnyConnection;
use switchboard_core::{CallId, TenantId, Timestamp, UserId};
use switchboard_recording::RecordingInfo;
use switchboard_store::calls::{self, CallEnd, CloseOutcome, Direction, HangupBy, NewCall};
use switchboard_store::outbox::{self, NewEvent, Subscription};
use switchboard_store::recordings::{self, Finished, NewRecording, RecordingState};
use switchboard_store::{Store, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long the writer trusts its copy of a tenant's webhook subscriptions.
pub(crate) const SUBSCRIPTIONS_TTL: Duration = Duration::from_secs(5);

/// Most updates filed in one transaction (bounds the transaction's length and memory).
const MAX_BATCH: usize = 1024;

/// Under load, the shortest time between two batches: updates that arrive sooner gather for the
/// next one. Every statement is a round trip to the SQLite worker thread (two thread wake-ups)
/// and every batch a BEGIN and a COMMIT, so at a few hundred calls per second a batch per call
/// event made those hand-offs most of the writer's cost; gathering for a few milliseconds files
/// a whole stretch of calls in one transaction. When the writer was idle for this long an update
/// is written at once, so a lone change (an agent's state, one call's end) shows without delay.
const GATHER: Duration = Duration::from_millis(20);

/// One change to write.
#[derive(Debug)]
pub(crate) enum RecordUpdate {
    CallStarted {
        id: CallId,
        tenant: TenantId,
        direction: Direction,
        caller: String,
        callee: String,
        target: String,
        queue: Option<String>,
        agent: Option<UserId>,
        sip_call_id: String,
        at: Timestamp,
    },
    Ringing {
        id: CallId,
        at: Timestamp,
    },
    Answered {
        id: CallId,
        sip_call_id: String,
        agent: Option<UserId>,
        at: Timestamp,
    },
    Ended {
        id: CallId,
        cause: String,
        status: Option<u16>,
        by: HangupBy,
        at: Timestamp,
    },
    RecordingStarted {
        tenant: TenantId,
        call: CallId,
        /// Relative to the recordings root.
        path: String,
        at: Timestamp,
    },
    RecordingFinished {
        call: CallId,
        info: RecordingInfo,
    },
    /// The recorder could not create the file of a recording already filed as started.
    RecordingFailed {
        call: CallId,
    },
    AgentState(switchboard_store::acd::AgentStateRow),
    /// A call-back (回访) task the ACD asked for.
    Task {
        tenant: TenantId,
        call: CallId,
        phone: String,
        reason: String,
        owner: switchboard_store::tasks::TaskOwner,
        due: Timestamp,
    },
}

/// Starts the writer; it ends when every sender is dropped.
/// Starts the writer; `node` is this node's name in a cluster (written on its calls, so a
/// survivor knows which calls to close when it dies).
pub(crate) fn spawn(
    store: Store,
    node: Option<String>,
) -> (mpsc::UnboundedSender<RecordUpdate>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, tokio::spawn(run(store, node, rx)))
}

async fn run(store: Store, node: Option<String>, mut rx: mpsc::UnboundedReceiver<RecordUpdate>) {
    let mut writer = Writer::new(store, node);
    let mut batch = Vec::with_capacity(64);
    let mut last_write: Option<Instant> = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if let Some(at) = last_write
            && at.elapsed() < GATHER
            && batch.len() < MAX_BATCH
        {
            tokio::time::sleep_until(at + GATHER).await;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(update) => batch.push(update),
                    Err(_) => break,
                }
            }
        }
        writer.write_batch(std::mem::take(&mut batch)).await;
        last_write = Some(Instant::now());
    }
}

/// One update with everything the transaction needs resolved beforehand (recording ids,
/// tenants, whether to announce), so that a failed batch can be retried update by update and
/// write exactly the same rows.
#[derive(Debug)]
enum Op {
    Insert {
        update: RecordUpdate,
        announce: bool,
    },
    Ringing {
        id: CallId,
        at: Timestamp,
    },
    Answered {
        id: CallId,
        sip_call_id: String,
        agent: Option<UserId>,
        at: Timestamp,
        announce: bool,
    },
    Ended {
        id: CallId,
        cause: String,
        status: Option<u16>,
        by: HangupBy,
        at: Timestamp,
        announce: bool,
    },
    RecordingStarted {
        id: String,
        tenant: TenantId,
        call: CallId,
        path: String,
        at: Timestamp,
    },
    RecordingFinished {
        id: String,
        tenant: TenantId,
        info: RecordingInfo,
        announce: bool,
    },
    RecordingFailed {
        id: String,
    },
    /// Written through the ACD's and tasks' own functions, outside the batch transaction.
    AgentState(switchboard_store::acd::AgentStateRow),
    Task {
        tenant: TenantId,
        call: CallId,
        phone: String,
        reason: String,
        owner: switchboard_store::tasks::TaskOwner,
        due: Timestamp,
        announce: bool,
    },
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Insert { .. } => "call started",
            Op::Ringing { .. } => "call ringing",
            Op::Answered { .. } => "call answered",
            Op::Ended { .. } => "call ended",
            Op::RecordingStarted { .. } => "recording started",
            Op::RecordingFinished { .. } => "recording finished",
            Op::RecordingFailed { .. } => "recording failed",
            Op::AgentState(_) => "agent state",
            Op::Task { .. } => "call-back task",
        }
    }

    /// Whether the op goes into the batch transaction.
    fn batched(&self) -> bool {
        !matches!(self, Op::AgentState(_) | Op::Task { .. })
    }
}

struct Writer {
    store: Store,
    node: Option<String>,
    /// Open calls' tenants (an update names only the call; its event needs the tenant).
    tenants: HashMap<CallId, TenantId>,
    /// call → (recording row id, tenant), between RecordingStarted and RecordingFinished.
    recordings: HashMap<CallId, (String, TenantId)>,
    /// Calls whose recording failed before its RecordingStarted came through (the recorder
    /// runs on another thread, so its failure can overtake the call control's updates).
    failed_early: std::collections::HashSet<CallId>,
    subscriptions: HashMap<TenantId, (Instant, Vec<Subscription>)>,
}

impl Writer {
    fn new(store: Store, node: Option<String>) -> Writer {
        Writer {
            store,
            node,
            tenants: HashMap::new(),
            recordings: HashMap::new(),
            failed_early: std::collections::HashSet::new(),
            subscriptions: HashMap::new(),
        }
    }

    async fn write_batch(&mut self, batch: Vec<RecordUpdate>) {
        let mut ops = Vec::with_capacity(batch.len());
        for update in batch {
            if let Some(op) = self.resolve(update).await {
                ops.push(op);
            }
        }
        // Consecutive batchable ops share a transaction; an agent state or a task (rare, and
        // written by other modules' functions) closes the run, so the queue order holds.
        let mut rest = ops.as_slice();
        while let Some(first) = rest.first() {
            if first.batched() {
                let n = rest.iter().take_while(|op| op.batched()).count();
                self.write_run(&rest[..n]).await;
                rest = &rest[n..];
            } else {
                if let Err(e) = self.write_alone(first).await {
                    tracing::error!(error = %e, what = first.name(), "writing a call record failed");
                }
                rest = &rest[1..];
            }
        }
    }

    /// Files `ops` in one transaction. Should that fail (one bad update, e.g. an update of a
    /// call the store does not know), it is rolled back and each op is retried in a
    /// transaction of its own, so that one bad update costs only itself, as before batching.
    async fn write_run(&mut self, ops: &[Op]) {
        let Err(e) = self.transaction(ops).await else {
            return;
        };
        if ops.len() == 1 {
            tracing::error!(error = %e, what = ops[0].name(), "writing a call record failed");
            return;
        }
        tracing::warn!(error = %e, updates = ops.len(), "a batch of call records failed; writing them one by one");
        for op in ops {
            if let Err(e) = self.transaction(std::slice::from_ref(op)).await {
                tracing::error!(error = %e, what = op.name(), "writing a call record failed");
            }
        }
    }

    async fn transaction(&self, ops: &[Op]) -> Result<(), StoreError> {
        let mut tx = self.store.begin_write().await?;
        for op in ops {
            write_op(&mut tx, op, self.node.as_deref()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Agent states and tasks, through their own repository functions.
    async fn write_alone(&self, op: &Op) -> Result<(), StoreError> {
        match op {
            Op::AgentState(row) => switchboard_store::acd::record_agent_state(&self.store, row)
                .await
                .map(drop),
            Op::Task {
                tenant,
                call,
                phone,
                reason,
                owner,
                due,
                announce,
            } => {
                let created = switchboard_store::tasks::create_task(
                    &self.store,
                    &switchboard_store::tasks::NewTask {
                        tenant_id: tenant,
                        call_id: Some(call),
                        customer_phone: phone,
                        reason,
                        owner,
                        due_at: *due,
                        note: None,
                        now: *due,
                    },
                )
                .await?;
                if created.created {
                    tracing::info!(%call, %reason, "call-back task created");
                    if *announce {
                        // `create_task` commits on its own (the tasks module is not ours to
                        // change here), so this event follows in a second transaction: a crash
                        // between the two loses the event, never the task.
                        let mut tx = self.store.begin_write().await?;
                        enqueue(
                            &mut tx,
                            tenant,
                            events::TASK_CREATED,
                            &events::task(&created.task),
                            *due,
                        )
                        .await?;
                        tx.commit().await?;
                    }
                }
                Ok(())
            }
            _ => self.transaction(std::slice::from_ref(op)).await,
        }
    }

    /// Turns an update into an op: assigns recording ids, tracks tenants, decides what to
    /// announce. `None` when there is nothing to write (a recording that never got a row).
    async fn resolve(&mut self, update: RecordUpdate) -> Option<Op> {
        Some(match update {
            RecordUpdate::CallStarted {
                ref id, ref tenant, ..
            } => {
                let tenant = tenant.clone();
                self.tenants.insert(id.clone(), tenant.clone());
                let announce = self.wants(&tenant, events::CALL_STARTED).await;
                Op::Insert { update, announce }
            }
            RecordUpdate::Ringing { id, at } => Op::Ringing { id, at },
            RecordUpdate::Answered {
                id,
                sip_call_id,
                agent,
                at,
            } => {
                let tenant = self.tenants.get(&id).cloned();
                let announce = self.wants_opt(tenant.as_ref(), events::CALL_ANSWERED).await;
                Op::Answered {
                    id,
                    sip_call_id,
                    agent,
                    at,
                    announce,
                }
            }
            RecordUpdate::Ended {
                id,
                cause,
                status,
                by,
                at,
            } => {
                let tenant = self.tenants.remove(&id);
                let announce = self.wants_opt(tenant.as_ref(), events::CALL_ENDED).await;
                Op::Ended {
                    id,
                    cause,
                    status,
                    by,
                    at,
                    announce,
                }
            }
            RecordUpdate::RecordingStarted {
                tenant,
                call,
                path,
                at,
            } => {
                if self.failed_early.remove(&call) {
                    return None;
                }
                let id = recordings::new_recording_id();
                self.recordings
                    .insert(call.clone(), (id.clone(), tenant.clone()));
                Op::RecordingStarted {
                    id,
                    tenant,
                    call,
                    path,
                    at,
                }
            }
            RecordUpdate::RecordingFinished { call, info } => {
                let (id, tenant) = self.recordings.remove(&call)?;
                let announce = self.wants(&tenant, events::RECORDING_READY).await;
                Op::RecordingFinished {
                    id,
                    tenant,
                    info,
                    announce,
                }
            }
            RecordUpdate::RecordingFailed { call } => match self.recordings.remove(&call) {
                Some((id, _)) => Op::RecordingFailed { id },
                None => {
                    self.failed_early.insert(call);
                    return None;
                }
            },
            RecordUpdate::AgentState(row) => Op::AgentState(row),
            RecordUpdate::Task {
                tenant,
                call,
                phone,
                reason,
                owner,
                due,
            } => {
                let announce = self.wants(&tenant, events::TASK_CREATED).await;
                Op::Task {
                    tenant,
                    call,
                    phone,
                    reason,
                    owner,
                    due,
                    announce,
                }
            }
        })
    }

    async fn wants_opt(&mut self, tenant: Option<&TenantId>, event_type: &str) -> bool {
        match tenant {
            Some(t) => self.wants(t, event_type).await,
            None => false,
        }
    }

    /// Whether one of `tenant`'s active subscriptions wants `event_type` (cached briefly; an
    /// unreadable subscription list counts as "yes": an extra outbox row is harmless, a
    /// missing event is not).
    async fn wants(&mut self, tenant: &TenantId, event_type: &str) -> bool {
        let now = Instant::now();
        let fresh = self
            .subscriptions
            .get(tenant)
            .is_some_and(|(at, _)| now.duration_since(*at) < SUBSCRIPTIONS_TTL);
        if !fresh {
            match outbox::list_subscriptions(&self.store, tenant).await {
                Ok(subs) => {
                    self.subscriptions.insert(tenant.clone(), (now, subs));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading webhook subscriptions failed");
                    return true;
                }
            }
        }
        self.subscriptions
            .get(tenant)
            .is_some_and(|(_, subs)| subs.iter().any(|s| s.wants(event_type)))
    }
}

async fn enqueue(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    event_type: &str,
    payload: &serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    outbox::enqueue(
        conn,
        &NewEvent {
            tenant_id: tenant,
            event_type,
            payload,
            now,
        },
    )
    .await
    .map(drop)
}

/// Announces the call `id` as it now stands, on `conn` (inside the write's transaction).
async fn announce_call(
    conn: &mut AnyConnection,
    id: &CallId,
    event_type: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    let Some(call) = calls::get_call_on(conn, id).await? else {
        return Ok(());
    };
    let payload = events::call(&call);
    enqueue(conn, &call.tenant_id, event_type, &payload, at).await
}

async fn write_op(conn: &mut AnyConnection, op: &Op, node: Option<&str>) -> Result<(), StoreError> {
    match op {
        Op::Insert { update, announce } => {
            let RecordUpdate::CallStarted {
                id,
                tenant,
                direction,
                caller,
                callee,
                target,
                queue,
                agent,
                sip_call_id,
                at,
            } = update
            else {
                return Ok(());
            };
            calls::insert_call_on(
                conn,
                &NewCall {
                    id,
                    tenant_id: tenant,
                    direction: *direction,
                    caller,
                    callee,
                    target: Some(target),
                    agent_user_id: agent.as_ref(),
                    queue: queue.as_deref(),
                    campaign_id: None,
                    sip_call_id_a: sip_call_id,
                    started_at: *at,
                    node,
                },
            )
            .await?;
            if *announce {
                announce_call(conn, id, events::CALL_STARTED, *at).await?;
            }
            Ok(())
        }
        Op::Ringing { id, at } => calls::mark_ringing_on(conn, id, *at).await.map(drop),
        Op::Answered {
            id,
            sip_call_id,
            agent,
            at,
            announce,
        } => {
            let changed =
                calls::mark_answered_on(conn, id, *at, sip_call_id, agent.as_ref()).await?;
            if changed && *announce {
                announce_call(conn, id, events::CALL_ANSWERED, *at).await?;
            }
            Ok(())
        }
        Op::Ended {
            id,
            cause,
            status,
            by,
            at,
            announce,
        } => {
            let end = CallEnd {
                ended_at: *at,
                end_cause: cause,
                sip_status: *status,
                hangup_by: *by,
            };
            let outcome = calls::close_call_on(conn, id, &end).await?;
            if outcome == CloseOutcome::Closed && *announce {
                announce_call(conn, id, events::CALL_ENDED, *at).await?;
            }
            Ok(())
        }
        Op::RecordingStarted {
            id,
            tenant,
            call,
            path,
            at,
        } => {
            recordings::insert_recording_on(
                conn,
                id,
                &NewRecording {
                    tenant_id: tenant,
                    call_id: call,
                    path,
                    started_at: *at,
                    channels: 2,
                    sample_rate: 8000,
                    created_at: *at,
                },
            )
            .await
        }
        Op::RecordingFinished {
            id,
            tenant,
            info,
            announce,
        } => {
            let paused = serde_json::to_string(&info.paused).unwrap_or_else(|_| "[]".into());
            recordings::complete_recording_on(
                conn,
                id,
                &Finished {
                    duration_ms: i64::try_from(info.duration_ms).unwrap_or(i64::MAX),
                    size_bytes: i64::try_from(info.size_bytes).unwrap_or(i64::MAX),
                    sha256: &info.sha256,
                    paused_json: &paused,
                    state: RecordingState::Complete,
                },
            )
            .await?;
            if *announce && let Some(row) = recordings::get_recording_on(conn, id).await? {
                // The file was finished about now: its start plus its length.
                let at = Timestamp::from_millis(
                    info.started_at
                        .as_millis()
                        .saturating_add(i64::try_from(info.duration_ms).unwrap_or(0)),
                );
                enqueue(
                    conn,
                    tenant,
                    events::RECORDING_READY,
                    &events::recording(&row),
                    at,
                )
                .await?;
            }
            Ok(())
        }
        Op::RecordingFailed { id } => recordings::delete_unstarted_recording_on(conn, id).await,
        Op::AgentState(_) | Op::Task { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests;
