//! Call detail records: one row per call, inserted when the call starts and updated as it rings,
//! is answered and ends.
//!
//! Writing the row at the start (not at the end) is what makes a crash visible: a call the
//! process was handling when it died is left with `ended_at` NULL, and the next start closes it
//! with [`close_open_calls`]. Updates only move a call forward (setup → ringing → answered →
//! ended), so a late or repeated event from the SIP side cannot rewrite what happened.

use sqlx::AnyConnection;
use switchboard_core::{CallId, CampaignId, TenantId, Timestamp, UserId};

use crate::{Store, StoreError};

/// A Rust enum stored as one of a fixed set of strings (the schema CHECKs the same set).
macro_rules! str_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The variant stored as `s`; `None` for any other string.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            pub(crate) fn from_column(column: &str, s: &str) -> Result<Self, StoreError> {
                Self::parse(s).ok_or_else(|| StoreError::Corrupt(format!("{column} '{s}'")))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use str_enum;

str_enum!(
    /// Which way a call goes, seen from the call centre.
    Direction { Inbound => "inbound", Outbound => "outbound", Internal => "internal" }
);
str_enum!(
    /// How far a call got. Only ever moves forward.
    CallState { Setup => "setup", Ringing => "ringing", Answered => "answered", Ended => "ended" }
);
str_enum!(
    /// Who ended a call; `System` for timeouts, errors and calls closed after a restart.
    HangupBy { Caller => "caller", Callee => "callee", System => "system" }
);

/// Stable end causes the call engine writes into `end_cause` (a CDR reader can group by them).
pub mod end_cause {
    pub const NORMAL_CLEARING: &str = "normal-clearing";
    pub const CALLER_CANCEL: &str = "caller-cancel";
    pub const BUSY: &str = "busy";
    pub const NO_ANSWER: &str = "no-answer";
    pub const NOT_FOUND: &str = "not-found";
    pub const REJECTED: &str = "rejected";
    pub const MEDIA_TIMEOUT_NO_RTP: &str = "media-timeout-no-rtp";
    /// Written by [`super::close_open_calls`] for calls a crash or restart left open.
    pub const SERVER_RESTART: &str = "server-restart";
}

/// One call detail record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub id: CallId,
    pub tenant_id: TenantId,
    pub direction: Direction,
    /// Number or extension as presented.
    pub caller: String,
    /// Number dialled.
    pub callee: String,
    /// What the call was routed to: `extension:1001`, `queue:sales`, `trunk:main`.
    pub target: Option<String>,
    pub agent_user_id: Option<UserId>,
    pub queue: Option<String>,
    pub campaign_id: Option<CampaignId>,
    /// SIP Call-ID of the caller's leg.
    pub sip_call_id_a: String,
    /// SIP Call-ID of the leg that answered.
    pub sip_call_id_b: Option<String>,
    pub started_at: Timestamp,
    pub ringing_at: Option<Timestamp>,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub state: CallState,
    /// One of [`end_cause`]'s strings once ended.
    pub end_cause: Option<String>,
    /// Final SIP status code the caller got.
    pub sip_status: Option<u16>,
    pub hangup_by: Option<HangupBy>,
    pub recording_id: Option<String>,
    pub node: Option<String>,
}

impl CallRecord {
    /// Whole call, start to end, in ms; `None` while the call is open.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.ended_at?.as_millis() - self.started_at.as_millis())
    }

    /// Answer to end in ms; `None` if never answered or still open.
    pub fn talk_ms(&self) -> Option<i64> {
        Some(self.ended_at?.as_millis() - self.answered_at?.as_millis())
    }
}

/// What [`insert_call`] writes when a call starts (state `setup`).
#[derive(Debug, Clone)]
pub struct NewCall<'a> {
    pub id: &'a CallId,
    pub tenant_id: &'a TenantId,
    pub direction: Direction,
    pub caller: &'a str,
    pub callee: &'a str,
    pub target: Option<&'a str>,
    /// Known at start for calls an agent places.
    pub agent_user_id: Option<&'a UserId>,
    pub queue: Option<&'a str>,
    pub campaign_id: Option<&'a CampaignId>,
    pub sip_call_id_a: &'a str,
    pub started_at: Timestamp,
    pub node: Option<&'a str>,
}

/// How a call ended, for [`close_call`].
#[derive(Debug, Clone)]
pub struct CallEnd<'a> {
    pub ended_at: Timestamp,
    pub end_cause: &'a str,
    pub sip_status: Option<u16>,
    pub hangup_by: HangupBy,
}

/// What [`close_call`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    Closed,
    /// The call was already ended; nothing was changed.
    AlreadyClosed,
}

const COLUMNS: &str = "id, tenant_id, direction, caller, callee, target, agent_user_id, queue, campaign_id, sip_call_id_a, sip_call_id_b, started_at, ringing_at, answered_at, ended_at, state, end_cause, sip_status, hangup_by, recording_id, node";

#[derive(sqlx::FromRow)]
struct CallRow {
    id: String,
    tenant_id: String,
    direction: String,
    caller: String,
    callee: String,
    target: Option<String>,
    agent_user_id: Option<String>,
    queue: Option<String>,
    campaign_id: Option<String>,
    sip_call_id_a: String,
    sip_call_id_b: Option<String>,
    started_at: i64,
    ringing_at: Option<i64>,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    state: String,
    end_cause: Option<String>,
    sip_status: Option<i64>,
    hangup_by: Option<String>,
    recording_id: Option<String>,
    node: Option<String>,
}

impl TryFrom<CallRow> for CallRecord {
    type Error = StoreError;
    fn try_from(r: CallRow) -> Result<Self, StoreError> {
        let ts = Timestamp::from_millis;
        let sip_status = r
            .sip_status
            .map(|s| {
                u16::try_from(s).map_err(|_| StoreError::Corrupt(format!("calls.sip_status {s}")))
            })
            .transpose()?;
        let hangup_by = r
            .hangup_by
            .as_deref()
            .map(|h| HangupBy::from_column("calls.hangup_by", h))
            .transpose()?;
        Ok(CallRecord {
            direction: Direction::from_column("calls.direction", &r.direction)?,
            state: CallState::from_column("calls.state", &r.state)?,
            id: r.id.into(),
            tenant_id: r.tenant_id.into(),
            caller: r.caller,
            callee: r.callee,
            target: r.target,
            agent_user_id: r.agent_user_id.map(UserId::from),
            queue: r.queue,
            campaign_id: r.campaign_id.map(CampaignId::from),
            sip_call_id_a: r.sip_call_id_a,
            sip_call_id_b: r.sip_call_id_b,
            started_at: ts(r.started_at),
            ringing_at: r.ringing_at.map(ts),
            answered_at: r.answered_at.map(ts),
            ended_at: r.ended_at.map(ts),
            end_cause: r.end_cause,
            sip_status,
            hangup_by,
            recording_id: r.recording_id,
            node: r.node,
        })
    }
}

fn what(id: &CallId) -> String {
    format!("call '{id}'")
}

/// Writes a new call in state `setup`. `Conflict` if the id is taken.
pub async fn insert_call(store: &Store, c: &NewCall<'_>) -> Result<(), StoreError> {
    insert_call_on(&mut *store.pool().acquire().await?, c).await
}

/// [`insert_call`] on `conn`: pass `&mut *tx` to make it part of a larger transaction (the
/// records writer files a whole batch of call events in one).
pub async fn insert_call_on(conn: &mut AnyConnection, c: &NewCall<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO calls (id, tenant_id, direction, caller, callee, target, agent_user_id, queue, campaign_id, sip_call_id_a, started_at, state, node)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'setup', $12)",
    )
    .bind(c.id.as_str())
    .bind(c.tenant_id.as_str())
    .bind(c.direction.as_str())
    .bind(c.caller)
    .bind(c.callee)
    .bind(c.target)
    .bind(c.agent_user_id.map(UserId::as_str))
    .bind(c.queue)
    .bind(c.campaign_id.map(CampaignId::as_str))
    .bind(c.sip_call_id_a)
    .bind(c.started_at.as_millis())
    .bind(c.node)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from_insert(e, what(c.id)))?;
    Ok(())
}

/// Turns "no row changed" into `Ok(false)` if the call exists, `NotFound` if it does not.
async fn changed_or_not_found(
    conn: &mut AnyConnection,
    rows: u64,
    id: &CallId,
) -> Result<bool, StoreError> {
    if rows > 0 {
        return Ok(true);
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE id = $1")
        .bind(id.as_str())
        .fetch_one(conn)
        .await?;
    if n == 0 {
        Err(StoreError::NotFound { what: what(id) })
    } else {
        Ok(false)
    }
}

/// The callee's side is ringing. True if recorded; false if the call was already past setup (a
/// repeated 180, or a 180 after the 200), which changes nothing.
pub async fn mark_ringing(store: &Store, id: &CallId, at: Timestamp) -> Result<bool, StoreError> {
    mark_ringing_on(&mut *store.pool().acquire().await?, id, at).await
}

/// [`mark_ringing`] on `conn` (see [`insert_call_on`]).
pub async fn mark_ringing_on(
    conn: &mut AnyConnection,
    id: &CallId,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE calls SET ringing_at = $2, state = 'ringing' WHERE id = $1 AND state = 'setup'",
    )
    .bind(id.as_str())
    .bind(at.as_millis())
    .execute(&mut *conn)
    .await?;
    changed_or_not_found(conn, done.rows_affected(), id).await
}

/// The call was answered on the leg with Call-ID `sip_call_id_b`, by `agent_user_id` when an
/// agent took it. True if recorded; false if it was already answered or ended.
pub async fn mark_answered(
    store: &Store,
    id: &CallId,
    at: Timestamp,
    sip_call_id_b: &str,
    agent_user_id: Option<&UserId>,
) -> Result<bool, StoreError> {
    let mut conn = store.pool().acquire().await?;
    mark_answered_on(&mut conn, id, at, sip_call_id_b, agent_user_id).await
}

/// [`mark_answered`] on `conn` (see [`insert_call_on`]).
pub async fn mark_answered_on(
    conn: &mut AnyConnection,
    id: &CallId,
    at: Timestamp,
    sip_call_id_b: &str,
    agent_user_id: Option<&UserId>,
) -> Result<bool, StoreError> {
    // COALESCE keeps an agent known from the start (outbound calls) when none is given here.
    let done = sqlx::query(
        "UPDATE calls SET answered_at = $2, sip_call_id_b = $3,
             agent_user_id = COALESCE($4, agent_user_id), state = 'answered'
         WHERE id = $1 AND state IN ('setup', 'ringing')",
    )
    .bind(id.as_str())
    .bind(at.as_millis())
    .bind(sip_call_id_b)
    .bind(agent_user_id.map(UserId::as_str))
    .execute(&mut *conn)
    .await?;
    changed_or_not_found(conn, done.rows_affected(), id).await
}

/// Ends a call. Idempotent: ending an ended call keeps the first ending and returns
/// `AlreadyClosed` (both legs' BYEs, or a BYE racing a media timeout, may each try).
pub async fn close_call(
    store: &Store,
    id: &CallId,
    end: &CallEnd<'_>,
) -> Result<CloseOutcome, StoreError> {
    close_call_on(&mut *store.pool().acquire().await?, id, end).await
}

/// [`close_call`] on `conn` (see [`insert_call_on`]).
pub async fn close_call_on(
    conn: &mut AnyConnection,
    id: &CallId,
    end: &CallEnd<'_>,
) -> Result<CloseOutcome, StoreError> {
    let done = sqlx::query(
        "UPDATE calls SET ended_at = $2, end_cause = $3, sip_status = $4, hangup_by = $5, state = 'ended'
         WHERE id = $1 AND state <> 'ended'",
    )
    .bind(id.as_str())
    .bind(end.ended_at.as_millis())
    .bind(end.end_cause)
    .bind(end.sip_status.map(i64::from))
    .bind(end.hangup_by.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(
        if changed_or_not_found(conn, done.rows_affected(), id).await? {
            CloseOutcome::Closed
        } else {
            CloseOutcome::AlreadyClosed
        },
    )
}

/// Ends every call left open by a crash: on `node` only, or every open call when `node` is
/// `None` (a single node owns them all). Run once at start, before taking calls. Returns how
/// many calls were closed.
pub async fn close_open_calls(
    store: &Store,
    node: Option<&str>,
    cause: &str,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE calls SET ended_at = $1, end_cause = $2, hangup_by = 'system', state = 'ended'
         WHERE ended_at IS NULL AND ($3 IS NULL OR node = $3)",
    )
    .bind(now.as_millis())
    .bind(cause)
    .bind(node)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected())
}

/// One call of `tenant`; `None` if there is none or it belongs to another tenant.
pub async fn get_call(
    store: &Store,
    tenant: &TenantId,
    id: &CallId,
) -> Result<Option<CallRecord>, StoreError> {
    let row: Option<CallRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM calls WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(store.pool())
    .await?;
    row.map(CallRecord::try_from).transpose()
}

/// A call by id alone, on `conn` (the records writer reads back the row it just wrote, inside
/// its transaction, to announce it).
pub async fn get_call_on(
    conn: &mut AnyConnection,
    id: &CallId,
) -> Result<Option<CallRecord>, StoreError> {
    let row: Option<CallRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM calls WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(conn)
            .await?;
    row.map(CallRecord::try_from).transpose()
}

/// A position in a newest-first list: the last `(started_at, id)` a page returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCursor {
    pub started_at: Timestamp,
    pub id: CallId,
}

impl CallCursor {
    /// Opaque to clients: hex of `"<ms>:<id>"`.
    pub fn encode(&self) -> String {
        hex::encode(format!("{}:{}", self.started_at.as_millis(), self.id))
    }

    /// `None` when `s` is not a cursor [`CallCursor::encode`] made.
    pub fn decode(s: &str) -> Option<CallCursor> {
        let text = String::from_utf8(hex::decode(s).ok()?).ok()?;
        let (ms, id) = text.split_once(':')?;
        let ms: i64 = ms.parse().ok()?;
        (!id.is_empty()).then(|| CallCursor {
            started_at: Timestamp::from_millis(ms),
            id: CallId::from(id),
        })
    }
}

/// Which calls [`list_calls`] returns; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct CallFilter<'a> {
    /// Started at or after.
    pub since: Option<Timestamp>,
    /// Started before.
    pub until: Option<Timestamp>,
    /// Exactly the caller or the callee.
    pub number: Option<&'a str>,
    pub agent: Option<&'a UserId>,
    pub state: Option<CallState>,
    /// Clamped to 1..=1000.
    pub limit: u32,
    /// Continue after this position (the previous page's `next`).
    pub before: Option<CallCursor>,
}

/// One page of calls, newest first.
#[derive(Debug, Clone)]
pub struct CallPage {
    pub items: Vec<CallRecord>,
    /// Present when the page is full: pass it back as `before` for the next page.
    pub next: Option<CallCursor>,
}

/// A tenant's calls, newest first by `(started_at, id)`.
pub async fn list_calls(
    store: &Store,
    tenant: &TenantId,
    filter: &CallFilter<'_>,
) -> Result<CallPage, StoreError> {
    let limit = filter.limit.clamp(1, 1000);
    // Absent bounds become sentinels (and absent filters NULL) so that one query text serves
    // both engines; the cursor's id breaks ties between calls started in the same millisecond.
    let (before_ms, before_id) = filter.before.as_ref().map_or((i64::MAX, None), |c| {
        (c.started_at.as_millis(), Some(c.id.as_str()))
    });
    let rows: Vec<CallRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM calls
         WHERE tenant_id = $1 AND started_at >= $2 AND started_at < $3
           AND ($4 IS NULL OR caller = $4 OR callee = $4)
           AND ($5 IS NULL OR agent_user_id = $5)
           AND ($6 IS NULL OR state = $6)
           AND (started_at < $7 OR (started_at = $7 AND $8 IS NOT NULL AND id < $8))
         ORDER BY started_at DESC, id DESC LIMIT $9"
    ))
    .bind(tenant.as_str())
    .bind(filter.since.map_or(i64::MIN, Timestamp::as_millis))
    .bind(filter.until.map_or(i64::MAX, Timestamp::as_millis))
    .bind(filter.number)
    .bind(filter.agent.map(UserId::as_str))
    .bind(filter.state.map(CallState::as_str))
    .bind(before_ms)
    .bind(before_id)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let items = rows
        .into_iter()
        .map(CallRecord::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let next = (items.len() == limit as usize)
        .then(|| items.last())
        .flatten()
        .map(|c| CallCursor {
            started_at: c.started_at,
            id: c.id.clone(),
        });
    Ok(CallPage { items, next })
}
