//! Call detail records and recording rows, written by one task in the order the call control
//! produced them, so the SIP loop never waits on the database and a row is never updated
//! before it was inserted.

use std::collections::HashMap;

use switchboard_core::{CallId, TenantId, Timestamp, UserId};
use switchboard_recording::RecordingInfo;
use switchboard_store::Store;
use switchboard_store::calls::{self, CallEnd, Direction, HangupBy, NewCall};
use switchboard_store::recordings::{self, NewRecording, RecordingState};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
pub(crate) fn spawn(store: Store) -> (mpsc::UnboundedSender<RecordUpdate>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, tokio::spawn(run(store, rx)))
}

async fn run(store: Store, mut rx: mpsc::UnboundedReceiver<RecordUpdate>) {
    // call → recording row id, between RecordingStarted and RecordingFinished.
    let mut recording_ids: HashMap<CallId, String> = HashMap::new();
    while let Some(update) = rx.recv().await {
        let what = update_name(&update);
        if let Err(e) = write(&store, update, &mut recording_ids).await {
            tracing::error!(error = %e, what, "writing a call record failed");
        }
    }
}

fn update_name(u: &RecordUpdate) -> &'static str {
    match u {
        RecordUpdate::CallStarted { .. } => "call started",
        RecordUpdate::Ringing { .. } => "call ringing",
        RecordUpdate::Answered { .. } => "call answered",
        RecordUpdate::Ended { .. } => "call ended",
        RecordUpdate::RecordingStarted { .. } => "recording started",
        RecordUpdate::RecordingFinished { .. } => "recording finished",
        RecordUpdate::AgentState(_) => "agent state",
        RecordUpdate::Task { .. } => "call-back task",
    }
}

async fn write(
    store: &Store,
    update: RecordUpdate,
    recording_ids: &mut HashMap<CallId, String>,
) -> Result<(), switchboard_store::StoreError> {
    match update {
        RecordUpdate::CallStarted {
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
        } => {
            calls::insert_call(
                store,
                &NewCall {
                    id: &id,
                    tenant_id: &tenant,
                    direction,
                    caller: &caller,
                    callee: &callee,
                    target: Some(&target),
                    agent_user_id: agent.as_ref(),
                    queue: queue.as_deref(),
                    campaign_id: None,
                    sip_call_id_a: &sip_call_id,
                    started_at: at,
                    node: None,
                },
            )
            .await
        }
        RecordUpdate::Ringing { id, at } => calls::mark_ringing(store, &id, at).await.map(drop),
        RecordUpdate::Answered {
            id,
            sip_call_id,
            agent,
            at,
        } => calls::mark_answered(store, &id, at, &sip_call_id, agent.as_ref())
            .await
            .map(drop),
        RecordUpdate::Ended {
            id,
            cause,
            status,
            by,
            at,
        } => calls::close_call(
            store,
            &id,
            &CallEnd {
                ended_at: at,
                end_cause: &cause,
                sip_status: status,
                hangup_by: by,
            },
        )
        .await
        .map(drop),
        RecordUpdate::RecordingStarted {
            tenant,
            call,
            path,
            at,
        } => {
            let row = recordings::insert_recording(
                store,
                &NewRecording {
                    tenant_id: &tenant,
                    call_id: &call,
                    path: &path,
                    started_at: at,
                    channels: 2,
                    sample_rate: 8000,
                    created_at: at,
                },
            )
            .await?;
            recording_ids.insert(call, row.id);
            Ok(())
        }
        RecordUpdate::AgentState(row) => switchboard_store::acd::record_agent_state(store, &row)
            .await
            .map(drop),
        RecordUpdate::Task {
            tenant,
            call,
            phone,
            reason,
            owner,
            due,
        } => {
            let created = switchboard_store::tasks::create_task(
                store,
                &switchboard_store::tasks::NewTask {
                    tenant_id: &tenant,
                    call_id: Some(&call),
                    customer_phone: &phone,
                    reason: &reason,
                    owner: &owner,
                    due_at: due,
                    note: None,
                    now: due,
                },
            )
            .await?;
            if created.created {
                tracing::info!(%call, %reason, "call-back task created");
            }
            Ok(())
        }
        RecordUpdate::RecordingFinished { call, info } => {
            let Some(id) = recording_ids.remove(&call) else {
                return Ok(());
            };
            let paused = serde_json::to_string(&info.paused).unwrap_or_else(|_| "[]".into());
            recordings::complete_recording(
                store,
                &id,
                i64::try_from(info.duration_ms).unwrap_or(i64::MAX),
                i64::try_from(info.size_bytes).unwrap_or(i64::MAX),
                &info.sha256,
                &paused,
                RecordingState::Complete,
            )
            .await
        }
    }
}
