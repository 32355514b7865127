//! One complaint ticket's life and clock, as a sans-IO state machine.
//!
//! `open → in_progress → resolved → followed_up → closed`. The agent who takes it first owns it;
//! nobody taking it within the reply time flags it overdue; still unresolved after the
//! escalation period it climbs one rung of the ladder per period. Every change comes out of
//! [`TicketClock::poll_output`] as a step to record (and announce); time is always an argument.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::{Timestamp, UserId};

use super::TicketPolicy;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("cannot {action} a ticket that is {state}")]
    WrongState {
        action: &'static str,
        state: TicketState,
    },
    #[error("the ticket is already owned by {owner}")]
    AlreadyOwned { owner: UserId },
    #[error("a complaint that stands needs the responsible team")]
    TeamRequired,
    #[error("judge whether the complaint stands before closing it")]
    NotJudged,
    #[error("unknown {what} '{value}'")]
    Unknown { what: &'static str, value: String },
}

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Open,
    InProgress,
    Resolved,
    FollowedUp,
    Closed,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::InProgress => "in_progress",
            TicketState::Resolved => "resolved",
            TicketState::FollowedUp => "followed_up",
            TicketState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, TicketError> {
        Ok(match s {
            "open" => TicketState::Open,
            "in_progress" => TicketState::InProgress,
            "resolved" => TicketState::Resolved,
            "followed_up" => TicketState::FollowedUp,
            "closed" => TicketState::Closed,
            other => {
                return Err(TicketError::Unknown {
                    what: "ticket state",
                    value: other.to_owned(),
                });
            }
        })
    }

    /// Not yet resolved: the escalation clock runs.
    pub fn is_unresolved(self) -> bool {
        matches!(self, TicketState::Open | TicketState::InProgress)
    }
}

impl std::fmt::Display for TicketState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The customer's emotion, as registered with the complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Angry,
    Anxious,
    Sad,
    Loud,
    #[default]
    Calm,
}

impl Emotion {
    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Angry => "angry",
            Emotion::Anxious => "anxious",
            Emotion::Sad => "sad",
            Emotion::Loud => "loud",
            Emotion::Calm => "calm",
        }
    }

    pub fn parse(s: &str) -> Result<Self, TicketError> {
        Ok(match s {
            "angry" => Emotion::Angry,
            "anxious" => Emotion::Anxious,
            "sad" => Emotion::Sad,
            "loud" => Emotion::Loud,
            "calm" => Emotion::Calm,
            other => {
                return Err(TicketError::Unknown {
                    what: "emotion",
                    value: other.to_owned(),
                });
            }
        })
    }
}

/// What the ticket clock persists between calls (one ticket row holds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketSnapshot {
    pub state: TicketState,
    pub owner: Option<UserId>,
    pub created_at: Timestamp,
    pub reply_due_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
    pub overdue: bool,
    /// Rungs reached so far: 0 = not escalated, 1 = first rung, ...
    pub escalation_level: usize,
    pub escalated_to: Option<String>,
    pub escalated_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub stands: Option<bool>,
    pub responsible_team: Option<String>,
}

impl TicketSnapshot {
    /// A ticket registered at `now`, due for a reply per `policy`.
    pub fn new(policy: &TicketPolicy, now: Timestamp) -> Self {
        TicketSnapshot {
            state: TicketState::Open,
            owner: None,
            created_at: now,
            reply_due_at: now + policy.reply_within,
            first_response_at: None,
            overdue: false,
            escalation_level: 0,
            escalated_to: None,
            escalated_at: None,
            resolved_at: None,
            stands: None,
            responsible_team: None,
        }
    }
}

/// What people do to a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// First response: the agent takes the ticket and owns it from now on.
    Take {
        agent: UserId,
    },
    Resolve {
        by: UserId,
        note: String,
    },
    /// The follow-up call after resolution is done.
    FollowUpDone {
        by: UserId,
        note: String,
    },
    Close {
        by: UserId,
    },
    /// Whether the complaint stands and, if it does, which team is responsible.
    Judge {
        by: UserId,
        stands: bool,
        team: Option<String>,
    },
}

/// A step to record in the ticket's history and announce as `ticket.<kind>`, or a task to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Taken {
        agent: UserId,
        at: Timestamp,
    },
    /// Nobody answered within the reply time.
    Overdue {
        due_at: Timestamp,
        at: Timestamp,
    },
    /// Went up one rung: `level` 1 is the first rung.
    Escalated {
        level: usize,
        to: String,
        due_at: Timestamp,
        at: Timestamp,
    },
    Resolved {
        by: UserId,
        note: String,
        at: Timestamp,
    },
    /// Resolution closes the loop with a follow-up call: create this task.
    FollowUpTask {
        owner: Option<UserId>,
        due_at: Timestamp,
        at: Timestamp,
    },
    FollowedUp {
        by: UserId,
        note: String,
        at: Timestamp,
    },
    Closed {
        by: UserId,
        at: Timestamp,
    },
    Judged {
        by: UserId,
        stands: bool,
        team: Option<String>,
        at: Timestamp,
    },
}

impl Output {
    /// The history step's kind (`taken`, `overdue`, `escalated`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Output::Taken { .. } => "taken",
            Output::Overdue { .. } => "overdue",
            Output::Escalated { .. } => "escalated",
            Output::Resolved { .. } => "resolved",
            Output::FollowUpTask { .. } => "follow_up_task",
            Output::FollowedUp { .. } => "followed_up",
            Output::Closed { .. } => "closed",
            Output::Judged { .. } => "judged",
        }
    }

    /// Who did it; `None` when the clock did.
    pub fn actor(&self) -> Option<&UserId> {
        match self {
            Output::Taken { agent, .. } => Some(agent),
            Output::Resolved { by, .. }
            | Output::FollowedUp { by, .. }
            | Output::Closed { by, .. }
            | Output::Judged { by, .. } => Some(by),
            Output::Overdue { .. } | Output::Escalated { .. } | Output::FollowUpTask { .. } => None,
        }
    }

    pub fn at(&self) -> Timestamp {
        match self {
            Output::Taken { at, .. }
            | Output::Overdue { at, .. }
            | Output::Escalated { at, .. }
            | Output::Resolved { at, .. }
            | Output::FollowUpTask { at, .. }
            | Output::FollowedUp { at, .. }
            | Output::Closed { at, .. }
            | Output::Judged { at, .. } => *at,
        }
    }

    /// Step-specific detail for the history and the webhook payload.
    pub fn detail(&self) -> serde_json::Value {
        match self {
            Output::Taken { agent, .. } => json!({ "owner": agent }),
            Output::Overdue { due_at, .. } => json!({ "reply_due_at": due_at.to_string() }),
            Output::Escalated {
                level, to, due_at, ..
            } => json!({ "level": level, "to": to, "due_at": due_at.to_string() }),
            Output::Resolved { note, .. } | Output::FollowedUp { note, .. } => {
                json!({ "note": note })
            }
            Output::FollowUpTask { owner, due_at, .. } => {
                json!({ "owner": owner, "due_at": due_at.to_string() })
            }
            Output::Closed { .. } => json!({}),
            Output::Judged { stands, team, .. } => {
                json!({ "stands": stands, "responsible_team": team })
            }
        }
    }
}

/// One ticket's state machine: `handle(input, now)`, `handle_timeout(now)`, `poll_output()`,
/// `poll_timeout()`.
#[derive(Debug, Clone)]
pub struct TicketClock {
    policy: Arc<TicketPolicy>,
    snap: TicketSnapshot,
    outputs: VecDeque<Output>,
}

impl TicketClock {
    /// Resumes a ticket from what was stored.
    pub fn restore(policy: Arc<TicketPolicy>, snap: TicketSnapshot) -> Self {
        TicketClock {
            policy,
            snap,
            outputs: VecDeque::new(),
        }
    }

    pub fn snapshot(&self) -> &TicketSnapshot {
        &self.snap
    }

    pub fn handle(&mut self, input: Input, now: Timestamp) -> Result<(), TicketError> {
        // Deadlines that passed before this input count first, so the history stays in order.
        self.handle_timeout(now);
        let s = &mut self.snap;
        match input {
            Input::Take { agent } => {
                if let Some(owner) = &s.owner {
                    return Err(TicketError::AlreadyOwned {
                        owner: owner.clone(),
                    });
                }
                if s.state != TicketState::Open {
                    return Err(wrong("take", s.state));
                }
                s.owner = Some(agent.clone());
                s.state = TicketState::InProgress;
                s.first_response_at = Some(now);
                self.outputs.push_back(Output::Taken { agent, at: now });
            }
            Input::Resolve { by, note } => {
                if s.state != TicketState::InProgress {
                    return Err(wrong("resolve", s.state));
                }
                s.state = TicketState::Resolved;
                s.resolved_at = Some(now);
                self.outputs
                    .push_back(Output::Resolved { by, note, at: now });
                self.outputs.push_back(Output::FollowUpTask {
                    owner: s.owner.clone(),
                    due_at: now + self.policy.follow_up_within,
                    at: now,
                });
            }
            Input::FollowUpDone { by, note } => {
                if s.state != TicketState::Resolved {
                    return Err(wrong("record the follow-up call of", s.state));
                }
                s.state = TicketState::FollowedUp;
                self.outputs
                    .push_back(Output::FollowedUp { by, note, at: now });
            }
            Input::Close { by } => {
                if s.state != TicketState::FollowedUp {
                    return Err(wrong("close", s.state));
                }
                if s.stands.is_none() {
                    return Err(TicketError::NotJudged);
                }
                s.state = TicketState::Closed;
                self.outputs.push_back(Output::Closed { by, at: now });
            }
            Input::Judge { by, stands, team } => {
                if s.state == TicketState::Closed {
                    return Err(wrong("judge", s.state));
                }
                let team = team.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
                if stands && team.is_none() {
                    return Err(TicketError::TeamRequired);
                }
                s.stands = Some(stands);
                s.responsible_team = team.clone();
                self.outputs.push_back(Output::Judged {
                    by,
                    stands,
                    team,
                    at: now,
                });
            }
        }
        Ok(())
    }

    /// Flags the ticket overdue and climbs the ladder for every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if let Some(due) = self.reply_deadline()
            && due <= now
        {
            self.snap.overdue = true;
            self.outputs.push_back(Output::Overdue {
                due_at: due,
                at: now,
            });
        }
        // A sweep that was down for days catches up one rung at a time, each step recorded.
        while let Some(due) = self.escalation_deadline()
            && due <= now
        {
            let s = &mut self.snap;
            let to = self.policy.ladder[s.escalation_level].clone();
            s.escalation_level += 1;
            s.escalated_to = Some(to.clone());
            s.escalated_at = Some(now);
            self.outputs.push_back(Output::Escalated {
                level: s.escalation_level,
                to,
                due_at: due,
                at: now,
            });
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The next moment the ticket needs the clock, if any.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match (self.reply_deadline(), self.escalation_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// While nobody has answered an open ticket: when it becomes overdue.
    fn reply_deadline(&self) -> Option<Timestamp> {
        let s = &self.snap;
        (s.state == TicketState::Open && s.first_response_at.is_none() && !s.overdue)
            .then_some(s.reply_due_at)
    }

    /// While unresolved and rungs remain: when it goes up the next one.
    fn escalation_deadline(&self) -> Option<Timestamp> {
        let s = &self.snap;
        if !s.state.is_unresolved() || s.escalation_level >= self.policy.ladder.len() {
            return None;
        }
        let periods = u32::try_from(s.escalation_level + 1).unwrap_or(u32::MAX);
        Some(s.created_at + self.policy.escalate_after.saturating_mul(periods))
    }
}

fn wrong(action: &'static str, state: TicketState) -> TicketError {
    TicketError::WrongState { action, state }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
