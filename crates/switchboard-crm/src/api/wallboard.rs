//! The supervisors' wallboard: `GET /wallboard` (one snapshot) and `GET /wallboard/events`
//! (server-sent events, `event: board`, the same snapshot pushed on every change).
//!
//! Push: the call control ticks a [`crate::live::FloorChanges`] signal on every agent state
//! change and queue change; each open stream then asks the call control for its tenant's
//! figures ([`crate::live::LiveCommand::QueueLive`]) and sends them if they differ from the
//! last it sent. Bursts coalesce: a stream sends at most one board per [`MIN_GAP`] (≤ 10/s),
//! and the signal keeps only the latest count. A periodic [`TICK`] refreshes what the database
//! holds (today's queue figures, campaigns, tickets). Times in state and waits are not pushed
//! every second: the board carries `since` instants and the page counts from them.
//!
//! Authentication is the usual `Authorization: Bearer` header: the page reads the stream with
//! `fetch()` (whose body is a stream), not `EventSource`, which cannot send headers — so no
//! token ever goes into a URL (logs, history, `Referer`) and no second credential (a ticket,
//! a cookie) is needed. `?once=true` ends the stream after the first board (curl, tests).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_acd::QueueConfig;
use switchboard_core::{Role, TenantId, UserId};
use switchboard_store::{acd, campaign_tasks, campaigns, reports, users};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use super::call_control::to_api;
use super::customers::ApiQuery;
use super::{ApiError, ApiJson, ApiState, Caller};
use crate::live::{LiveCommand, LiveReply};

/// Who watches the whole floor.
const WATCHERS: &[Role] = &[Role::Admin, Role::Supervisor];
/// The shortest gap between two boards on one stream (at most 10 a second).
pub const MIN_GAP: Duration = Duration::from_millis(100);
/// How often a stream re-reads the database's figures without a change on the floor.
pub const TICK: Duration = Duration::from_secs(5);

/// Query of `GET /wallboard/events`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// `true`: send one board and end the stream.
    pub once: Option<bool>,
}

/// What the database says of the floor (names, today's figures, campaigns, tickets): read on
/// connect, on the periodic tick and once after a burst of changes — never on the path of a
/// change itself, so a state change reaches the page after one round trip to the call control.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    people: HashMap<String, String>,
    /// User id → their phone extension (the wallboard's Listen / Whisper / Barge dial it).
    extensions: HashMap<String, String>,
    effective_today: HashMap<String, i64>,
    quota_per_day: u32,
    queues: HashMap<String, (String, QueueConfig)>,
    today: HashMap<String, Value>,
    campaigns: Vec<Value>,
    overdue_tickets: i64,
}

pub(crate) async fn stored(state: &ApiState, tenant: &TenantId) -> Result<Stored, ApiError> {
    let now = state.clock.now();
    let today = state.shifts.local_date(now);
    let day_start = state.shifts.start_of(today);
    let day_end = today.succ_opt().map_or(now, |d| state.shifts.start_of(d));
    let people = users::list_users(&state.store, tenant)
        .await?
        .into_iter()
        .map(|u| {
            let name = if u.display_name.is_empty() {
                u.username
            } else {
                u.display_name
            };
            (u.id.to_string(), name)
        })
        .collect();
    let extensions = switchboard_store::sip::list_credentials(&state.store, tenant)
        .await?
        .into_iter()
        .filter_map(|c| Some((c.user_id?.to_string(), c.extension?)))
        .collect();
    let effective_today =
        campaign_tasks::agent_figures(&state.store, tenant, None, day_start, day_end)
            .await?
            .into_iter()
            .map(|f| (f.agent.to_string(), f.effective_calls))
            .collect();
    let queues = acd::list_queues(&state.store, tenant)
        .await?
        .into_iter()
        .map(|q| {
            let config = serde_json::from_str::<QueueConfig>(&q.config_json).unwrap_or_default();
            (q.id.to_string(), (q.name, config))
        })
        .collect();
    let today = super::reports::queue_rows(state, tenant, day_start, day_end)
        .await?
        .into_iter()
        .map(|f| {
            (
                f.queue.clone(),
                serde_json::to_value(f).unwrap_or(Value::Null),
            )
        })
        .collect();
    let mut campaigns = Vec::new();
    for c in campaigns::running(&state.store, tenant).await? {
        let p =
            campaign_tasks::progress(&state.store, tenant, &c.id, day_start, day_end, now).await?;
        campaigns.push(json!({
            "id": c.id,
            "name": c.name,
            "total": p.total,
            "done": p.done,
            "open": p.open,
            "overdue": p.overdue,
            "key_total": p.key_total,
            "key_done": p.key_done,
        }));
    }
    Ok(Stored {
        people,
        extensions,
        effective_today,
        quota_per_day: state.quota.effective_calls_per_day,
        queues,
        today,
        campaigns,
        overdue_tickets: reports::overdue_tickets(&state.store, tenant, now).await?,
    })
}

/// The call control's figures of the tenant's queues and agents now.
pub(crate) async fn live_figures(state: &ApiState, tenant: &TenantId) -> Result<Value, ApiError> {
    let live = state
        .live
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("call control is not running".into()))?;
    Ok(
        match live
            .send(LiveCommand::QueueLive {
                tenant: tenant.clone(),
            })
            .await
            .map_err(to_api)?
        {
            LiveReply::Json(v) => v,
            LiveReply::Done => json!({ "queues": [], "agents": [] }),
        },
    )
}

/// The board: the call control's `figures` at `at` (ms) with what the database holds.
pub(crate) fn compose(tenant: &TenantId, figures: &Value, db: &Stored, at: i64) -> Value {
    let mut agents: Vec<Value> = figures["agents"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let id = a["agent"].as_str().unwrap_or_default().to_owned();
            json!({
                "agent": id,
                "name": db.people.get(&id).cloned().unwrap_or_else(|| id.clone()),
                "extension": db.extensions.get(&id),
                "status": a["status"]["status"],
                "reason": reason(&a["status"]),
                "since": a["since"],
                "call": a["call"],
                "outside_call": a["outside_call"],
                "effective_calls_today": db.effective_today.get(&id).copied().unwrap_or(0),
                "effective_calls_quota": db.quota_per_day,
            })
        })
        .collect();
    agents.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let prefix = format!("{tenant}/");
    let mut queues: Vec<Value> = figures["queues"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|q| {
            let raw = q["queue"].as_str().unwrap_or_default();
            let id = raw.strip_prefix(&prefix).unwrap_or(raw).to_owned();
            let (name, config) = db
                .queues
                .get(&id)
                .cloned()
                .unwrap_or_else(|| (id.clone(), QueueConfig::default()));
            let waiting = q["waiting"].as_array().map_or(0, Vec::len);
            // The ACD serialises durations as {secs, nanos}.
            let waited_ms = q["longest_current_wait"]["secs"].as_i64().unwrap_or(0) * 1000
                + q["longest_current_wait"]["nanos"].as_i64().unwrap_or(0) / 1_000_000;
            let threshold = config.wait_alert.0;
            json!({
                "queue": id,
                "name": name,
                "waiting": waiting,
                "longest_wait_since": if waiting > 0 { json!(at - waited_ms) } else { Value::Null },
                "wait_alert_secs": threshold,
                "wait_alert": waiting > 0 && waited_ms >= i64::try_from(threshold * 1000).unwrap_or(i64::MAX),
                "agents_logged_in": q["agents_logged_in"],
                "agents_ready": q["agents_ready"],
                "today": db.today.get(&id).cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    queues.sort_by(|a, b| a["queue"].as_str().cmp(&b["queue"].as_str()));
    json!({
        "at": at,
        "agents": agents,
        "queues": queues,
        "campaigns": db.campaigns,
        "overdue_tickets": db.overdue_tickets,
    })
}

/// The floor now, for one tenant.
pub(crate) async fn board(state: &ApiState, tenant: &TenantId) -> Result<Value, ApiError> {
    let figures = live_figures(state, tenant).await?;
    let db = stored(state, tenant).await?;
    Ok(compose(
        tenant,
        &figures,
        &db,
        state.clock.now().as_millis(),
    ))
}

/// A not-ready reason as a word: the ACD writes a tenant's own reason as `{"other": "…"}`.
fn reason(status: &Value) -> Value {
    match status.get("reason") {
        Some(Value::String(s)) => json!(s),
        Some(Value::Object(o)) => o.get("other").cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// The wallboard once: agents (state and since when, effective calls today against the daily
/// quota), queues (waiting, longest wait since, alert past the threshold, today's service
/// level, ASA, AHT and abandon rate), running campaigns' progress, overdue tickets.
#[utoipa::path(
    get, path = "/wallboard", operation_id = "wallboard", tag = "wallboard",
    responses(
        (status = 200, description = "The floor now", body = Object),
        (status = 503, description = "Call control not running"),
    )
)]
pub(crate) async fn snapshot(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<Value>, ApiError> {
    caller.require(WATCHERS)?;
    Ok(ApiJson(board(&state, caller.tenant()).await?))
}

/// The wallboard pushed: `text/event-stream` of `event: board` with the snapshot of
/// `GET /wallboard` as data, on connect and after every change on the floor (at most 10 a
/// second), and every 5 s for the database's figures. Send the bearer token in the header
/// (read the stream with `fetch`).
#[utoipa::path(
    get, path = "/wallboard/events", operation_id = "wallboard_events", tag = "wallboard",
    params(EventsParams),
    responses(
        (status = 200, description = "Server-sent events", content_type = "text/event-stream", body = String),
        (status = 503, description = "Call control not running"),
    )
)]
pub(crate) async fn events(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EventsParams>,
) -> Result<Response, ApiError> {
    caller.require(WATCHERS)?;
    let tenant = caller.tenant().clone();
    // The first board is made here, so a stream that cannot start fails with a status.
    let figures = live_figures(&state, &tenant).await?;
    let db = stored(&state, &tenant).await?;
    let first = compose(&tenant, &figures, &db, state.clock.now().as_millis());
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(4);
    let once = q.once.unwrap_or(false);
    let user = caller.user.id.clone();
    tokio::spawn(async move {
        feed(state, tenant, user, (first, db), once, tx).await;
    });
    Ok(Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// The board without its timestamp, to tell a real change from a tick.
fn content(board: &Value) -> Value {
    let mut b = board.clone();
    if let Some(o) = b.as_object_mut() {
        o.remove("at");
    }
    b
}

fn event(board: &Value) -> Result<Event, Infallible> {
    Ok(Event::default().event("board").data(board.to_string()))
}

/// One stream's loop: ends when the client goes (the channel closes) or after the first
/// board with `once`. A change on the floor is sent with the database's figures as last read;
/// those are re-read [`MIN_GAP`] after the last change (a call that ended changes today's
/// figures) and on every [`TICK`].
async fn feed(
    state: ApiState,
    tenant: TenantId,
    user: UserId,
    (first, mut db): (Value, Stored),
    once: bool,
    tx: mpsc::Sender<Result<Event, Infallible>>,
) {
    let mut last = content(&first);
    if tx.send(event(&first)).await.is_err() || once {
        return;
    }
    let mut db_stale = false;
    let mut db_at = tokio::time::Instant::now();
    let mut changes = state.live.as_ref().and_then(|l| l.floor_changes());
    if let Some(c) = changes.as_mut() {
        c.mark_unchanged();
    }
    let mut sent_at = tokio::time::Instant::now();
    loop {
        let changed = async {
            match changes.as_mut() {
                Some(c) => c.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let wait = if db_stale { MIN_GAP } else { TICK };
        let floor_changed = tokio::select! {
            ok = changed => {
                if !ok {
                    changes = None;
                }
                ok
            }
            () = tokio::time::sleep(wait) => false,
            () = tx.closed() => return,
        };
        // Coalesce: changes in the gap are all in the next board.
        let gap = sent_at.elapsed();
        if gap < MIN_GAP {
            tokio::time::sleep(MIN_GAP - gap).await;
        }
        if let Some(c) = changes.as_mut() {
            c.mark_unchanged();
        }
        let figures = match live_figures(&state, &tenant).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, %user, "wallboard figures failed; retrying at the next tick");
                continue;
            }
        };
        // A floor that never rests for MIN_GAP still gets the database re-read every TICK.
        if floor_changed && db_at.elapsed() < TICK {
            db_stale = true;
        } else {
            match stored(&state, &tenant).await {
                Ok(d) => {
                    db = d;
                    db_stale = false;
                    db_at = tokio::time::Instant::now();
                }
                Err(e) => {
                    // The floor is still shown; the database's part waits for the next tick.
                    tracing::warn!(error = %e, %user, "wallboard figures failed; retrying at the next tick");
                    db_stale = false;
                    db_at = tokio::time::Instant::now();
                }
            }
        }
        let board = compose(&tenant, &figures, &db, state.clock.now().as_millis());
        let now_content = content(&board);
        if now_content == last {
            continue;
        }
        last = now_content;
        sent_at = tokio::time::Instant::now();
        if tx.send(event(&board)).await.is_err() {
            return;
        }
    }
}
