//! Predictive pacing inside the dialer: how many unreserved calls to place, capped so that
//! speculative calls never exceed the abandonment budget's slack.

use std::time::Duration;

use switchboard_core::Timestamp;

use super::{Call, Dialer, Phase, Slot};
use crate::config::Mode;
use crate::event::{Output, SwitchReason};
use crate::pacing::{Busy, PacingView, predictive_dials};

impl Dialer {
    pub(super) fn pump_predictive(&mut self, now: Timestamp) {
        let latest_abandon = now + self.cfg.ring_timeout + self.cfg.abandon.connect_within;
        let slack = if latest_abandon >= self.budget.day_end(now) {
            0
        } else {
            self.budget.slack(now)
        };
        self.update_pacing_mode(slack);

        let free = self.free_agents_by_idle().len();
        let unreserved: Vec<&Call> = self
            .calls
            .values()
            .filter(|c| c.reserved.is_none() && !matches!(c.phase, Phase::Connected { .. }))
            .collect();
        let in_flight_unreserved = unreserved.len();
        // Calls that could be answered with nobody free: each may become an abandon.
        let speculative = in_flight_unreserved.saturating_sub(free);

        let backed = free.saturating_sub(in_flight_unreserved);
        // The provable cap: speculative calls after dialling must stay within the slack.
        let room_in_budget = usize::try_from(slack.max(0))
            .unwrap_or(usize::MAX)
            .saturating_sub(speculative);
        let allowed = backed.saturating_add(room_in_budget);
        let cap = (self.cfg.pacing.max_calls_per_agent * self.agents.len() as f64).floor() as usize;
        let room_in_cap = cap.saturating_sub(self.calls_in_flight());
        // No point weighing more calls than may be placed.
        let limit = allowed.min(room_in_cap).min(self.pool.len());
        let wanted = if self.pacing_mode == Mode::Predictive {
            let ringing_ages: Vec<Duration> = unreserved
                .iter()
                .filter(|c| matches!(c.phase, Phase::Ringing { .. }))
                .map(|c| now.since(c.placed_at))
                .collect();
            let waiting = in_flight_unreserved - ringing_ages.len();
            let busy = self.busy_agents(now);
            let view = PacingView {
                now,
                free_agents: free,
                waiting_answered: waiting,
                ringing_ages: &ringing_ages,
                busy: &busy,
                slack,
                look_ahead: self.cfg.ring_timeout,
                grace: self.cfg.abandon.connect_within,
            };
            // Never worse than progressive: a free agent with no call ringing for them idles.
            predictive_dials(&view, &self.cfg.pacing, &self.stats, limit).max(backed)
        } else {
            backed
        };
        let n = wanted.min(allowed).min(room_in_cap);
        for _ in 0..n {
            let Some(cand) = self.take_candidate(now) else {
                break;
            };
            self.originate(cand, None, now);
        }
    }

    /// Predictive falls back to progressive when the budget is gone, and returns with a little
    /// hysteresis so that one abandon does not flip it back and forth.
    fn update_pacing_mode(&mut self, slack: i64) {
        let to = match self.pacing_mode {
            Mode::Predictive if slack <= 0 => (Mode::Progressive, SwitchReason::BudgetExhausted),
            Mode::Progressive if slack >= 2 => (Mode::Predictive, SwitchReason::BudgetRestored),
            _ => return,
        };
        self.pacing_mode = to.0;
        self.outputs.push_back(Output::SwitchMode {
            to: to.0,
            reason: to.1,
        });
    }

    /// The busy agents and how long they have been busy, for pacing to weigh their chances of
    /// being free in time.
    fn busy_agents(&self, now: Timestamp) -> Vec<Busy> {
        let talk = self.stats.mean_talk();
        let wrap = self.stats.mean_wrap_up();
        self.agents
            .values()
            .filter_map(|a| match a.slot {
                Slot::WrapUp { expected_free_at } => Some(Busy::Wrapping {
                    elapsed: now.since(a.since),
                    expected_free_at,
                }),
                Slot::Talking => Some(Busy::Talking {
                    elapsed: now.since(a.since),
                    expected_free_at: (a.since + talk + wrap).max(now + wrap),
                }),
                _ => None,
            })
            .collect()
    }
}
