//! Several `serve` nodes on one PostgreSQL (config `[cluster]`, issue 12).
//!
//! A SIP proxy (Kamailio's dispatcher, `deploy/kamailio/`) spreads phones and calls over the
//! nodes; a call and its media stay on the node that took it. What the nodes share:
//! - phones' registrations: in the store, and announced so every node can ring every phone
//!   (through the proxy the REGISTER came from);
//! - agents' states: each node keeps a replica of every agent's ready / not-ready / logged-out
//!   state, announced by the node where it changed;
//! - who has an agent: a node rings an agent only after winning the agent's row in
//!   `agent_claims`, and keeps it through the call and wrap-up, so two nodes never offer one
//!   agent at once; the others treat the agent as busy meanwhile;
//! - who is alive: a heartbeat row per node. When one falls silent, one survivor takes it over:
//!   its open calls are closed as `node-lost`, waiting or cut-off callers get call-back tasks,
//!   and its agents are freed. Its recordings are repaired when it starts again (each node
//!   writes to its own recordings directory).
//!
//! The events travel over PostgreSQL LISTEN/NOTIFY; they are hints that save a round trip, the
//! tables are the truth (a node that lost its connection re-reads them).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_core::{Clock, QueueId, TenantId, Timestamp, UserId};
use switchboard_store::Store;
use switchboard_store::cluster as cluster_store;
use switchboard_store::tasks::{self, NewTask, TaskOwner};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::ClusterConfig;

/// What one node tells the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterEvent {
    /// A phone registered or refreshed its registration (UDP/TCP only: a browser's
    /// WebSocket ends on its own node, no other node can reach it).
    Bound {
        tenant: String,
        aor: String,
        contact: String,
        source: String,
        call_id: String,
        cseq: u32,
        expires_at: i64,
    },
    Unbound {
        aor: String,
        contact: String,
    },
    /// An agent became ready, not ready or logged out on the sending node.
    AgentState {
        tenant: String,
        agent: String,
        status: AgentPresence,
        reason: Option<String>,
    },
    /// An agent asked to end wrap-up on a node that does not have them.
    EndWrapUp {
        tenant: String,
        agent: String,
    },
    /// The sending node has the agent (ringing, talking, wrapping up) / gave it back.
    Engaged {
        agent: String,
    },
    Released {
        agent: String,
    },
    /// A survivor took `node` over: the agents it had are free.
    NodeLost {
        node: String,
        agents: Vec<String>,
    },
    /// Local only: the event connection was lost and re-made; events may have been missed.
    Resync,
}

/// The part of an agent's state every node keeps a replica of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentPresence {
    LoggedOut,
    Ready,
    NotReady,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    from: String,
    #[serde(flatten)]
    event: ClusterEvent,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster events (LISTEN on PostgreSQL): {0}")]
    Listen(#[from] switchboard_store::StoreError),
}

/// The call control's end of the cluster.
#[derive(Debug)]
pub struct ClusterLink {
    pub node: String,
    publish: mpsc::UnboundedSender<ClusterEvent>,
    /// Events from the other nodes (and the local watchdog), with the node they concern.
    pub events: mpsc::Receiver<(String, ClusterEvent)>,
}

impl ClusterLink {
    /// Tells the other nodes (in order, from a task of its own: never waits).
    pub fn publish(&self, event: ClusterEvent) {
        let _ = self.publish.send(event);
    }
}

/// The running cluster tasks.
#[derive(Debug)]
pub struct Cluster {
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Cluster {
    /// Marks this node started (clearing a take-over of its previous life), frees the agents
    /// it had before a crash, and starts the event listener, the publisher and the watchdog.
    pub async fn start(
        config: &ClusterConfig,
        database_url: &str,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<(Cluster, ClusterLink), ClusterError> {
        let node = config.node.clone();
        let now = clock.now();
        cluster_store::node_started(&store, &node, now).await?;
        let mut listener = cluster_store::listen(database_url).await?;
        let (publish, mut to_publish) = mpsc::unbounded_channel::<ClusterEvent>();
        let (events_tx, events) = mpsc::channel(4096);
        let (stop, stop_rx) = watch::channel(false);

        let freed = cluster_store::release_node(&store, &node).await?;
        if !freed.is_empty() {
            tracing::warn!(
                agents = freed.len(),
                "agents this node had before it stopped are free again"
            );
            let _ = publish.send(ClusterEvent::NodeLost {
                node: node.clone(),
                agents: freed.iter().map(|a| a.as_str().to_owned()).collect(),
            });
        }

        let publisher_store = store.clone();
        let from = node.clone();
        let publisher = tokio::spawn(async move {
            while let Some(event) = to_publish.recv().await {
                let payload = match serde_json::to_string(&Envelope {
                    from: from.clone(),
                    event,
                }) {
                    Ok(p) if p.len() <= cluster_store::MAX_PAYLOAD => p,
                    Ok(p) => {
                        tracing::warn!(bytes = p.len(), "cluster event too large; not sent");
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cluster event not serialisable");
                        continue;
                    }
                };
                if let Err(e) = cluster_store::notify(&publisher_store, &payload).await {
                    tracing::warn!(error = %e, "telling the other nodes failed");
                }
            }
        });

        let me = node.clone();
        let listener_events = events_tx.clone();
        let mut listener_stop = stop_rx.clone();
        let listen_task = tokio::spawn(async move {
            loop {
                let received = tokio::select! {
                    r = listener.try_recv() => r,
                    _ = listener_stop.changed() => return,
                };
                let event = match received {
                    Ok(Some(n)) => match serde_json::from_str::<Envelope>(n.payload()) {
                        Ok(e) if e.from != me => (e.from, e.event),
                        Ok(_) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable cluster event ignored");
                            continue;
                        }
                    },
                    // The connection was lost and is being re-made: what was sent meanwhile is
                    // gone, so the call control re-reads the tables.
                    Ok(None) => (me.clone(), ClusterEvent::Resync),
                    Err(e) => {
                        tracing::warn!(error = %e, "cluster event connection failed; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if listener_events.send(event).await.is_err() {
                    return;
                }
            }
        });

        let watchdog = tokio::spawn(watchdog(
            Watchdog {
                node: node.clone(),
                heartbeat: Duration::from_millis(config.heartbeat_ms),
                timeout: Duration::from_secs(config.node_timeout_secs),
                store,
                clock,
                publish: publish.clone(),
                local: events_tx,
            },
            stop_rx,
        ));

        Ok((
            Cluster {
                tasks: vec![publisher, listen_task, watchdog],
                stop,
            },
            ClusterLink {
                node,
                publish,
                events,
            },
        ))
    }

    /// Stops the tasks (the publisher ends when the call control drops its link).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

struct Watchdog {
    node: String,
    heartbeat: Duration,
    timeout: Duration,
    store: Store,
    clock: Arc<dyn Clock>,
    publish: mpsc::UnboundedSender<ClusterEvent>,
    local: mpsc::Sender<(String, ClusterEvent)>,
}

/// Says this node is alive every heartbeat and takes over nodes silent past the timeout.
async fn watchdog(w: Watchdog, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(w.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = w.clock.now();
        if let Err(e) = cluster_store::heartbeat(&w.store, &w.node, now).await {
            tracing::warn!(error = %e, "cluster heartbeat failed");
            continue;
        }
        let nodes = match cluster_store::nodes(&w.store).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "reading the cluster's nodes failed");
                continue;
            }
        };
        let silent_since = Timestamp::from_millis(
            now.as_millis() - i64::try_from(w.timeout.as_millis()).unwrap_or(i64::MAX / 2),
        );
        for dead in nodes
            .iter()
            .filter(|n| n.node != w.node && n.reaped_by.is_none() && n.seen_at < silent_since)
        {
            match cluster_store::take_over(&w.store, &dead.node, &w.node, silent_since, now).await {
                Ok(true) => w.take_over(&dead.node, now).await,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(node = %dead.node, error = %e, "taking over a silent node failed")
                }
            }
        }
    }
}

impl Watchdog {
    /// Cleans up after `dead`: call-back tasks for its waiting and cut-off callers, its calls
    /// closed as `node-lost`, its agents freed here and on every node.
    async fn take_over(&self, dead: &str, now: Timestamp) {
        let mut tasks_made = 0;
        match cluster_store::open_queue_calls(&self.store, dead).await {
            Ok(calls) => {
                for call in calls {
                    if self.call_back(&call, now).await {
                        tasks_made += 1;
                    }
                }
            }
            Err(e) => {
                tracing::error!(node = dead, error = %e, "reading a lost node's calls failed")
            }
        }
        let closed =
            switchboard_store::calls::close_open_calls(&self.store, Some(dead), "node-lost", now)
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(node = dead, error = %e, "closing a lost node's calls failed");
                    0
                });
        let agents = cluster_store::release_node(&self.store, dead)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(node = dead, error = %e, "freeing a lost node's agents failed");
                Vec::new()
            });
        tracing::warn!(
            node = dead,
            closed,
            agents = agents.len(),
            callbacks = tasks_made,
            "node silent past cluster.node_timeout_secs: taken over"
        );
        let event = ClusterEvent::NodeLost {
            node: dead.to_owned(),
            agents: agents.iter().map(|a| a.as_str().to_owned()).collect(),
        };
        let _ = self.local.send((dead.to_owned(), event.clone())).await;
        let _ = self.publish.send(event);
    }

    /// A lost node's queue call: a caller still waiting is called back by the queue, one cut
    /// mid-conversation by the agent who had them (the service rules: at once).
    async fn call_back(&self, call: &cluster_store::CutCall, now: Timestamp) -> bool {
        let (owner, reason) = match (&call.answered_at, &call.agent_user_id) {
            (Some(_), Some(agent)) => (
                TaskOwner::Agent(UserId::from(agent.as_str())),
                "dropped_mid_call",
            ),
            _ => match &call.queue {
                Some(q) => (
                    TaskOwner::Queue(QueueId::from(q.as_str())),
                    "abandoned_while_waiting",
                ),
                None => return false,
            },
        };
        let tenant = TenantId::from(call.tenant_id.as_str());
        let id = switchboard_core::CallId::from(call.id.as_str());
        match tasks::create_task(
            &self.store,
            &NewTask {
                tenant_id: &tenant,
                call_id: Some(&id),
                customer_phone: &call.caller,
                reason,
                owner: &owner,
                due_at: now,
                note: None,
                now,
            },
        )
        .await
        {
            Ok(created) => created.created,
            Err(e) => {
                tracing::error!(error = %e, "call-back task for a lost node's caller failed");
                false
            }
        }
    }
}
