//! The live snapshot of queues and agents for wallboards and the API.

use std::time::Duration;

use switchboard_core::Timestamp;

use super::Acd;
use super::timers::waited;
use crate::agent::{Agent, AgentStatus};
use crate::stats::{AgentCounters, AgentLive, LiveSnapshot, QueueLive};

impl Acd {
    /// Every queue's and agent's figures at `now`, counting the time of the current states.
    pub fn live(&self, now: Timestamp) -> LiveSnapshot {
        let agents: Vec<AgentLive> = self
            .agents
            .values()
            .map(|a| agent_live(a, self.outside_calls.contains_key(&a.id), now))
            .collect();
        let queues = self
            .queues
            .values()
            .map(|q| {
                let waiting = self.waiting_order(&q.id);
                let longest_current_wait = waiting
                    .iter()
                    .filter_map(|c| self.calls.get(c))
                    .map(|c| waited(c, now))
                    .max()
                    .unwrap_or(Duration::ZERO);
                let member_agents: Vec<&AgentLive> = agents
                    .iter()
                    .filter(|a| q.member(&a.agent).is_some())
                    .collect();
                let mut together = AgentCounters::default();
                for a in &member_agents {
                    together.ready_ms += a.counters.ready_ms;
                    together.ringing_ms += a.counters.ringing_ms;
                    together.on_call_ms += a.counters.on_call_ms;
                    together.wrap_up_ms += a.counters.wrap_up_ms;
                }
                let longest_wait =
                    longest_current_wait.max(Duration::from_millis(q.counters.longest_wait_ms));
                QueueLive {
                    queue: q.id.clone(),
                    longest_current_wait,
                    waiting,
                    members: q.members.len(),
                    agents_logged_in: member_agents
                        .iter()
                        .filter(|a| a.status.is_logged_in())
                        .count(),
                    agents_ready: member_agents
                        .iter()
                        .filter(|a| a.status == AgentStatus::Ready)
                        .count(),
                    service_level: q.counters.service_level(),
                    asa: q.counters.asa(),
                    aht: q.counters.aht(),
                    longest_wait,
                    occupancy: together.occupancy(),
                    counters: q.counters.clone(),
                }
            })
            .collect();
        LiveSnapshot {
            at: now,
            queues,
            agents,
        }
    }
}

fn agent_live(agent: &Agent, outside_call: bool, now: Timestamp) -> AgentLive {
    let mut counters = agent.counters.clone();
    counters.record_time(&agent.status, now.since(agent.since));
    AgentLive {
        agent: agent.id.clone(),
        status: agent.status.clone(),
        since: agent.since,
        call: agent.call.clone(),
        outside_call,
        service_level: counters.service_level(),
        asa: counters.asa(),
        aht: counters.aht(),
        occupancy: counters.occupancy(),
        counters,
    }
}
