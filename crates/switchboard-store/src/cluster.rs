//! Several `serve` nodes sharing one database (issue 12): which nodes are alive, which node has
//! each busy agent, and the events the nodes tell each other (PostgreSQL LISTEN/NOTIFY).
//! Migration `20261124000013_cluster.sql`.
//!
//! The tables work on both engines (the tests run them on both); NOTIFY exists on PostgreSQL
//! only, and a cluster needs PostgreSQL anyway (the config refuses a node name on SQLite).

use switchboard_core::{CallId, Timestamp, UserId};

use crate::{Engine, Store, StoreError};

/// The channel every node listens on.
pub const CHANNEL: &str = "switchboard_cluster";
/// PostgreSQL refuses NOTIFY payloads from 8000 bytes on.
pub const MAX_PAYLOAD: usize = 7900;

/// Says `node` is alive at `now`; a node starting again clears its `reaped_by` mark.
pub async fn heartbeat(store: &Store, node: &str, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO cluster_nodes (node, started_at, seen_at) VALUES ($1, $2, $2)
         ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(node)
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// `node` starts (again): alive, not reaped, started now.
pub async fn node_started(store: &Store, node: &str, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO cluster_nodes (node, started_at, seen_at) VALUES ($1, $2, $2)
         ON CONFLICT (node) DO UPDATE SET started_at = excluded.started_at,
           seen_at = excluded.seen_at, reaped_by = NULL, reaped_at = NULL",
    )
    .bind(node)
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(())
}

/// A node's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub node: String,
    pub started_at: Timestamp,
    pub seen_at: Timestamp,
    pub reaped_by: Option<String>,
}

#[derive(sqlx::FromRow)]
struct NodeRowRaw {
    node: String,
    started_at: i64,
    seen_at: i64,
    reaped_by: Option<String>,
}

/// Every node that ever ran, by name.
pub async fn nodes(store: &Store) -> Result<Vec<NodeRow>, StoreError> {
    let rows: Vec<NodeRowRaw> = sqlx::query_as(
        "SELECT node, started_at, seen_at, reaped_by FROM cluster_nodes ORDER BY node",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| NodeRow {
            node: r.node,
            started_at: Timestamp::from_millis(r.started_at),
            seen_at: Timestamp::from_millis(r.seen_at),
            reaped_by: r.reaped_by,
        })
        .collect())
}

/// Takes over `dead` for `survivor` if it has been silent since before `silent_since` and no
/// one took it over yet. True for exactly one survivor per death.
pub async fn take_over(
    store: &Store,
    dead: &str,
    survivor: &str,
    silent_since: Timestamp,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE cluster_nodes SET reaped_by = $1, reaped_at = $2
         WHERE node = $3 AND reaped_by IS NULL AND seen_at < $4",
    )
    .bind(survivor)
    .bind(now.as_millis())
    .bind(dead)
    .bind(silent_since.as_millis())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims `agent` for `call` on `node`. True if this node has the agent now (it may already
/// have had it: a ring-all offer, a transfer); false if another node has it.
pub async fn claim_agent(
    store: &Store,
    agent: &UserId,
    node: &str,
    call: &CallId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO agent_claims (agent_user_id, node, call_id, claimed_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (agent_user_id) DO UPDATE SET call_id = excluded.call_id,
           claimed_at = excluded.claimed_at
         WHERE agent_claims.node = excluded.node",
    )
    .bind(agent.as_str())
    .bind(node)
    .bind(call.as_str())
    .bind(now.as_millis())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives `agent` back if `node` has it. True if it had.
pub async fn release_agent(store: &Store, agent: &UserId, node: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM agent_claims WHERE agent_user_id = $1 AND node = $2")
        .bind(agent.as_str())
        .bind(node)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives back every agent `node` has (it died, or starts again); returns them.
pub async fn release_node(store: &Store, node: &str) -> Result<Vec<UserId>, StoreError> {
    let mut tx = store.begin_write().await?;
    let agents: Vec<(String,)> =
        sqlx::query_as("SELECT agent_user_id FROM agent_claims WHERE node = $1")
            .bind(node)
            .fetch_all(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM agent_claims WHERE node = $1")
        .bind(node)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(agents.into_iter().map(|(a,)| UserId::from(a)).collect())
}

/// Agents other nodes have, with the node (what a starting node must not offer calls to).
pub async fn claims_elsewhere(
    store: &Store,
    node: &str,
) -> Result<Vec<(UserId, String)>, StoreError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT agent_user_id, node FROM agent_claims WHERE node <> $1")
            .bind(node)
            .fetch_all(store.pool())
            .await?;
    Ok(rows
        .into_iter()
        .map(|(a, n)| (UserId::from(a), n))
        .collect())
}

/// A dead node's call that never reached an agent or was cut mid-conversation: its caller
/// gets a call-back task.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CutCall {
    pub id: String,
    pub tenant_id: String,
    pub caller: String,
    pub queue: Option<String>,
    pub agent_user_id: Option<String>,
    pub answered_at: Option<i64>,
}

/// Inbound queue calls still open on `node` (read before they are closed).
pub async fn open_queue_calls(store: &Store, node: &str) -> Result<Vec<CutCall>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, caller, queue, agent_user_id, answered_at FROM calls
         WHERE ended_at IS NULL AND node = $1 AND direction = 'inbound' AND queue IS NOT NULL",
    )
    .bind(node)
    .fetch_all(store.pool())
    .await?)
}

/// Tells every node (PostgreSQL NOTIFY on [`CHANNEL`]); nothing to do on SQLite, where there
/// is only one node.
pub async fn notify(store: &Store, payload: &str) -> Result<(), StoreError> {
    if store.engine() != Engine::Postgres {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// A connection that receives what [`notify`] sends (PostgreSQL only). It reconnects by itself
/// after a lost connection; events sent meanwhile are lost, so the caller re-reads the tables.
pub async fn listen(database_url: &str) -> Result<sqlx::postgres::PgListener, StoreError> {
    let mut listener = sqlx::postgres::PgListener::connect(database_url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
