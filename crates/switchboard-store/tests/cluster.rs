//! The tables behind several nodes on one database: one node per busy agent (the claim), one
//! survivor per dead node (the take-over), a restarting node clears its mark. Every body runs on
//! SQLite and PostgreSQL; LISTEN/NOTIFY (PostgreSQL only) has its own test.

// Test bodies: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use switchboard_core::{CallId, UserId};
use switchboard_store::cluster;
use switchboard_store::testing::{TestDb, t};
use switchboard_store::{Store, both_engines};

async fn an_agent_belongs_to_one_node_at_a_time(store: Store) {
    let agent = UserId::from("agent-1");
    let (c1, c2) = (CallId::from("call-1"), CallId::from("call-2"));
    assert!(
        cluster::claim_agent(&store, &agent, "a", &c1, t(0))
            .await
            .unwrap()
    );
    assert!(
        !cluster::claim_agent(&store, &agent, "b", &c2, t(1))
            .await
            .unwrap(),
        "node b must not get an agent node a has"
    );
    assert!(
        cluster::claim_agent(&store, &agent, "a", &c2, t(2))
            .await
            .unwrap(),
        "the node that has the agent may offer it another call"
    );
    assert_eq!(
        cluster::claims_elsewhere(&store, "b").await.unwrap(),
        vec![(agent.clone(), "a".to_owned())]
    );
    assert!(
        cluster::claims_elsewhere(&store, "a")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!cluster::release_agent(&store, &agent, "b").await.unwrap());
    assert!(cluster::release_agent(&store, &agent, "a").await.unwrap());
    assert!(
        cluster::claim_agent(&store, &agent, "b", &c2, t(3))
            .await
            .unwrap()
    );
    let other = UserId::from("agent-2");
    assert!(
        cluster::claim_agent(&store, &other, "b", &c1, t(3))
            .await
            .unwrap()
    );
    let mut freed = cluster::release_node(&store, "b").await.unwrap();
    freed.sort();
    assert_eq!(freed, vec![agent, other]);
    assert!(
        cluster::claims_elsewhere(&store, "a")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn one_survivor_takes_over_a_silent_node(store: Store) {
    cluster::node_started(&store, "a", t(0)).await.unwrap();
    cluster::node_started(&store, "b", t(0)).await.unwrap();
    cluster::heartbeat(&store, "a", t(10)).await.unwrap();
    cluster::heartbeat(&store, "b", t(4)).await.unwrap();
    assert!(
        !cluster::take_over(&store, "a", "b", t(5), t(10))
            .await
            .unwrap(),
        "a node heard from since the cut-off is alive"
    );
    assert!(
        cluster::take_over(&store, "b", "a", t(5), t(10))
            .await
            .unwrap()
    );
    assert!(
        !cluster::take_over(&store, "b", "c", t(5), t(10))
            .await
            .unwrap(),
        "a dead node is taken over once"
    );
    let nodes = cluster::nodes(&store).await.unwrap();
    assert_eq!(nodes[1].reaped_by.as_deref(), Some("a"));
    // b comes back: alive and not reaped; it can die (and be taken over) again.
    cluster::node_started(&store, "b", t(20)).await.unwrap();
    let nodes = cluster::nodes(&store).await.unwrap();
    assert_eq!(
        (nodes[1].reaped_by.as_deref(), nodes[1].started_at),
        (None, t(20))
    );
    assert!(
        cluster::take_over(&store, "b", "a", t(30), t(40))
            .await
            .unwrap()
    );
}

both_engines!(
    an_agent_belongs_to_one_node_at_a_time,
    one_survivor_takes_over_a_silent_node,
);

#[tokio::test]
async fn notify_reaches_a_listener_on_postgres() {
    let db = TestDb::postgres().await;
    let mut listener = cluster::listen(&db.url).await.unwrap();
    let marker = format!("test-{}", uuid::Uuid::new_v4());
    cluster::notify(&db.store, &marker).await.unwrap();
    // Other tests may notify on the same database: wait for ours.
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let n = listener.recv().await.unwrap();
            if n.payload() == marker {
                return n.channel().to_owned();
            }
        }
    })
    .await
    .expect("the notification arrives");
    assert_eq!(got, cluster::CHANNEL);
    db.cleanup().await;
}
