//! The ticket clock's driver: loads a ticket, runs [`TicketClock`], and writes the row, each
//! recorded step and its `ticket.*` outbox event in ONE transaction. The API calls it for
//! people's actions; the sweep calls it for deadlines.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use switchboard_core::{CustomerId, TenantId, TicketId, Timestamp, UserId};
use switchboard_store::tickets::{self, NewFollowUpTask, NewTicketEvent, TicketRecord};
use switchboard_store::{Store, StoreError, outbox};
use utoipa::ToSchema;

use super::TicketState;
use super::{Emotion, Input, Output, TicketClock, TicketError, TicketPolicy, TicketSnapshot};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Ticket(#[from] TicketError),
    #[error("ticket '{0}' not found")]
    NotFound(TicketId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a person registers.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub customer_id: Option<CustomerId>,
    pub subject: String,
    pub body: String,
    pub emotion: Emotion,
}

/// Field changes from an edit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TicketChanges {
    pub customer_id: Option<CustomerId>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub emotion: Option<Emotion>,
}

/// A complaint ticket (工单) as API responses and webhook payloads show it (one serialiser for
/// both, so a receiver and a reader see the same fields). Times are RFC 3339 (UTC) or null.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketView {
    pub id: String,
    pub customer_id: Option<String>,
    /// The agent who took it first; owns it to the end.
    pub owner_agent_id: Option<String>,
    pub subject: String,
    pub body: String,
    /// `angry`, `anxious`, `sad`, `loud` or `calm`.
    pub emotion: String,
    /// `open`, `in_progress`, `resolved`, `followed_up` or `closed`.
    pub state: String,
    /// Whether the complaint stands, once judged.
    pub stands: Option<bool>,
    pub responsible_team: Option<String>,
    /// The first response is due by then (12 h after registering by default).
    pub reply_due_at: String,
    pub first_response_at: Option<String>,
    pub overdue: bool,
    /// Rungs of the escalation ladder reached so far (0 = not escalated).
    pub escalation_level: i64,
    pub escalated_to: Option<String>,
    pub escalated_at: Option<String>,
    pub resolved_at: Option<String>,
    /// Goes up by one at every change.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&TicketRecord> for TicketView {
    fn from(t: &TicketRecord) -> Self {
        let opt = |v: Option<Timestamp>| v.map(|t| t.to_string());
        TicketView {
            id: t.id.to_string(),
            customer_id: t.customer_id.as_ref().map(ToString::to_string),
            owner_agent_id: t.owner_agent_id.as_ref().map(ToString::to_string),
            subject: t.subject.clone(),
            body: t.body.clone(),
            emotion: t.emotion.clone(),
            state: t.state.clone(),
            stands: t.stands,
            responsible_team: t.responsible_team.clone(),
            reply_due_at: t.reply_due_at.to_string(),
            first_response_at: opt(t.first_response_at),
            overdue: t.overdue,
            escalation_level: t.escalation_level,
            escalated_to: t.escalated_to.clone(),
            escalated_at: opt(t.escalated_at),
            resolved_at: opt(t.resolved_at),
            version: t.version,
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
        }
    }
}

/// The ticket as webhook payloads carry it: [`TicketView`] as JSON.
pub fn ticket_json(t: &TicketRecord) -> serde_json::Value {
    json!(TicketView::from(t))
}

fn snapshot_of(t: &TicketRecord) -> Result<TicketSnapshot, ServiceError> {
    Ok(TicketSnapshot {
        state: TicketState::parse(&t.state)?,
        owner: t.owner_agent_id.clone(),
        created_at: t.created_at,
        reply_due_at: t.reply_due_at,
        first_response_at: t.first_response_at,
        overdue: t.overdue,
        escalation_level: usize::try_from(t.escalation_level).unwrap_or(0),
        escalated_to: t.escalated_to.clone(),
        escalated_at: t.escalated_at,
        resolved_at: t.resolved_at,
        stands: t.stands,
        responsible_team: t.responsible_team.clone(),
    })
}

fn write_snapshot(t: &mut TicketRecord, clock: &TicketClock, now: Timestamp) {
    let s = clock.snapshot();
    t.state = s.state.as_str().to_owned();
    t.owner_agent_id = s.owner.clone();
    t.reply_due_at = s.reply_due_at;
    t.first_response_at = s.first_response_at;
    t.overdue = s.overdue;
    t.escalation_level = i64::try_from(s.escalation_level).unwrap_or(i64::MAX);
    t.escalated_to = s.escalated_to.clone();
    t.escalated_at = s.escalated_at;
    t.resolved_at = s.resolved_at;
    t.stands = s.stands;
    t.responsible_team = s.responsible_team.clone();
    t.next_check_at = clock.poll_timeout();
    t.updated_at = now;
}

/// Registers a complaint: the row, its `created` step and `ticket.created`, together.
pub async fn create(
    store: &Store,
    policy: &TicketPolicy,
    tenant: &TenantId,
    actor: &UserId,
    new: NewTicket,
    now: Timestamp,
) -> Result<TicketRecord, ServiceError> {
    let snap = TicketSnapshot::new(policy, now);
    let clock = TicketClock::restore(Arc::new(policy.clone()), snap);
    let mut record = TicketRecord {
        id: TicketId::generate(),
        tenant_id: tenant.clone(),
        customer_id: new.customer_id,
        owner_agent_id: None,
        subject: new.subject,
        body: new.body,
        emotion: new.emotion.as_str().to_owned(),
        state: String::new(),
        stands: None,
        responsible_team: None,
        reply_due_at: now,
        first_response_at: None,
        overdue: false,
        escalation_level: 0,
        escalated_to: None,
        escalated_at: None,
        resolved_at: None,
        next_check_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    write_snapshot(&mut record, &clock, now);
    let mut tx = store.begin_write().await.map_err(StoreError::from)?;
    tickets::insert(&mut tx, &record).await?;
    let detail = json!({ "emotion": record.emotion, "subject": record.subject });
    record_step(&mut tx, &record, "created", Some(actor), &detail, now).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(record)
}

/// Applies a person's action to a ticket and records what followed.
pub async fn apply(
    store: &Store,
    policy: &Arc<TicketPolicy>,
    tenant: &TenantId,
    id: &TicketId,
    input: Input,
    now: Timestamp,
) -> Result<TicketRecord, ServiceError> {
    let record = tickets::get(store, tenant, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(id.clone()))?;
    let mut clock = TicketClock::restore(policy.clone(), snapshot_of(&record)?);
    clock.handle(input, now)?;
    persist(store, record, &mut clock, now).await
}

/// Edits the registered facts (not the state, which only actions change).
pub async fn edit(
    store: &Store,
    tenant: &TenantId,
    id: &TicketId,
    actor: &UserId,
    changes: TicketChanges,
    now: Timestamp,
) -> Result<TicketRecord, ServiceError> {
    let mut record = tickets::get(store, tenant, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(id.clone()))?;
    let mut changed = Vec::new();
    if let Some(c) = changes.customer_id {
        record.customer_id = Some(c);
        changed.push("customer_id");
    }
    if let Some(s) = changes.subject {
        record.subject = s;
        changed.push("subject");
    }
    if let Some(b) = changes.body {
        record.body = b;
        changed.push("body");
    }
    if let Some(e) = changes.emotion {
        record.emotion = e.as_str().to_owned();
        changed.push("emotion");
    }
    record.updated_at = now;
    let mut tx = store.begin_write().await.map_err(StoreError::from)?;
    record.version = tickets::update(&mut tx, &record).await?;
    let detail = json!({ "fields": changed });
    record_step(&mut tx, &record, "updated", Some(actor), &detail, now).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(record)
}

/// Deletes a ticket and its history, announcing `ticket.deleted`.
pub async fn delete(
    store: &Store,
    tenant: &TenantId,
    id: &TicketId,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let mut tx = store.begin_write().await.map_err(StoreError::from)?;
    tickets::delete(&mut tx, tenant, id).await?;
    let payload = json!({ "ticket": { "id": id }, "at": now.to_string() });
    outbox::enqueue(
        &mut tx,
        &outbox::NewEvent {
            tenant_id: tenant,
            event_type: "ticket.deleted",
            payload: &payload,
            now,
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub checked: usize,
    pub steps: usize,
    /// Changed by someone else meanwhile; picked up by the next sweep.
    pub skipped: usize,
}

/// Feeds `handle_timeout(now)` to every ticket (of every tenant) whose deadline has come.
pub async fn sweep(
    store: &Store,
    policy: &Arc<TicketPolicy>,
    now: Timestamp,
    limit: i64,
) -> Result<SweepReport, ServiceError> {
    let mut report = SweepReport::default();
    for record in tickets::due_for_check(store, now, limit).await? {
        report.checked += 1;
        let mut clock = TicketClock::restore(policy.clone(), snapshot_of(&record)?);
        clock.handle_timeout(now);
        let before = report.steps;
        match persist_counting(store, record, &mut clock, now, &mut report.steps).await {
            Ok(_) => {}
            Err(ServiceError::Store(StoreError::Conflict { .. })) => {
                report.steps = before;
                report.skipped += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

async fn persist(
    store: &Store,
    record: TicketRecord,
    clock: &mut TicketClock,
    now: Timestamp,
) -> Result<TicketRecord, ServiceError> {
    let mut steps = 0;
    persist_counting(store, record, clock, now, &mut steps).await
}

async fn persist_counting(
    store: &Store,
    mut record: TicketRecord,
    clock: &mut TicketClock,
    now: Timestamp,
    steps: &mut usize,
) -> Result<TicketRecord, ServiceError> {
    write_snapshot(&mut record, clock, now);
    let mut tx = store.begin_write().await.map_err(StoreError::from)?;
    record.version = tickets::update(&mut tx, &record).await?;
    while let Some(output) = clock.poll_output() {
        *steps += 1;
        if let Output::FollowUpTask { owner, due_at, at } = &output {
            let task = tickets::insert_follow_up_task(
                &mut tx,
                &NewFollowUpTask {
                    tenant_id: &record.tenant_id,
                    ticket_id: &record.id,
                    customer_id: record.customer_id.as_ref(),
                    owner_agent_id: owner.as_ref(),
                    due_at: *due_at,
                    now: *at,
                },
            )
            .await?;
            let payload = json!({
                "task": {
                    "id": task,
                    "kind": tickets::FOLLOW_UP_TASK_KIND,
                    "ticket_id": record.id,
                    "customer_id": record.customer_id,
                    "owner_agent_id": owner,
                    "due_at": due_at.to_string(),
                },
                "at": at.to_string(),
            });
            outbox::enqueue(
                &mut tx,
                &outbox::NewEvent {
                    tenant_id: &record.tenant_id,
                    event_type: "task.created",
                    payload: &payload,
                    now: *at,
                },
            )
            .await?;
        }
        let detail = output.detail();
        record_step(
            &mut tx,
            &record,
            output.kind(),
            output.actor(),
            &detail,
            output.at(),
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(record)
}

/// One history row and its `ticket.<kind>` event.
async fn record_step(
    conn: &mut sqlx::AnyConnection,
    record: &TicketRecord,
    kind: &str,
    actor: Option<&UserId>,
    detail: &serde_json::Value,
    at: Timestamp,
) -> Result<(), ServiceError> {
    tickets::append_event(
        conn,
        &NewTicketEvent {
            tenant_id: &record.tenant_id,
            ticket_id: &record.id,
            kind,
            actor,
            detail,
            at,
        },
    )
    .await?;
    let payload = json!({
        "ticket": ticket_json(record),
        "step": { "kind": kind, "actor": actor, "detail": detail, "at": at.to_string() },
    });
    let event_type = format!("ticket.{kind}");
    outbox::enqueue(
        conn,
        &outbox::NewEvent {
            tenant_id: &record.tenant_id,
            event_type: &event_type,
            payload: &payload,
            now: at,
        },
    )
    .await?;
    Ok(())
}
