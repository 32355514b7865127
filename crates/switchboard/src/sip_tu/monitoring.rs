//! Supervisors stepping into an agent's call from their own phone or browser softphone:
//! dialling `*81` + the agent's extension listens to the agent's current call, `*82` whispers to
//! the agent (the customer does not hear it), `*83` barges in (three-way). The wallboard's
//! Listen / Whisper / Barge buttons dial these codes from the supervisor's console.
//!
//! The supervisor's INVITE is answered by us (like a queue call, but never queued); its media
//! joins the monitored call's relay as a third party, mixed by `switchboard_media::mixer`.
//! Only supervisors and admins of the agent's own tenant may do it; everything else is refused
//! with 403, and an agent with no answered call gives 404. The monitoring call has its own CDR
//! (target `monitor:<mode>:<extension>`), which is the audit trail of who listened to what. It
//! ends when the monitored call ends.

use switchboard_core::{CallId, Role, UserId};
use switchboard_media::mixer::MonitorMode;
use switchboard_sip::b2bua::{EndCause, Target};
use switchboard_sip::message::Request;
use switchboard_sip::transaction::{Peer, TxKey};
use switchboard_store::calls::Direction;
use switchboard_store::sip::SipCredential;

use super::{CallFacts, SipTu};

/// The dial codes, each followed by the agent's extension.
pub(crate) const CODES: [(&str, MonitorMode); 3] = [
    ("*81", MonitorMode::Listen),
    ("*82", MonitorMode::Whisper),
    ("*83", MonitorMode::Barge),
];

/// `*82 1001` → (whisper, "1001").
pub(super) fn parse_code(dialled: &str) -> Option<(MonitorMode, &str)> {
    CODES.iter().find_map(|(code, mode)| {
        let ext = dialled.strip_prefix(code)?;
        (!ext.is_empty() && ext.bytes().all(|b| b.is_ascii_alphanumeric())).then_some((*mode, ext))
    })
}

/// Why a monitoring INVITE is refused.
enum Refusal {
    /// Not a supervisor or admin of the agent's tenant.
    Forbidden,
    /// No such agent, or the agent is not on an answered call.
    NoCall,
}

impl SipTu {
    /// A supervisor's `*8x<extension>` INVITE, already authenticated as `supervisor`.
    pub(super) async fn on_monitor_invite(
        &mut self,
        key: TxKey,
        request: Request,
        from: Peer,
        supervisor: SipCredential,
        mode: MonitorMode,
        extension: String,
    ) {
        let id = CallId::generate();
        let label = format!("monitor:{}:{extension}", mode.as_str());
        let target = match self.monitor_target(&supervisor, &extension).await {
            Ok(watched) => {
                tracing::info!(call = %id, %watched, mode = mode.as_str(), "supervisor joins a call");
                self.media.set_monitor(&id, watched.clone(), mode);
                self.monitors.insert(id.clone(), watched);
                Target::Queue {
                    label,
                    queue: String::new(),
                }
            }
            Err(Refusal::Forbidden) => Target::Reject {
                label,
                status: 403,
                cause: EndCause::Rejected(403),
            },
            Err(Refusal::NoCall) => Target::Reject {
                label,
                status: 404,
                cause: EndCause::NotFound,
            },
        };
        self.media.set_tenant(&id, supervisor.tenant_id.clone());
        let caller = request
            .headers
            .from()
            .ok()
            .and_then(|f| f.uri.user)
            .unwrap_or_default();
        self.facts.insert(
            id.clone(),
            CallFacts {
                tenant: supervisor.tenant_id.clone(),
                caller,
                direction: Direction::Internal,
                queue: None,
                agent: supervisor.user_id.clone(),
                // A supervisor on a call is offered no queue call meanwhile.
                outside_agents: supervisor.user_id.iter().cloned().collect(),
                answered: false,
            },
        );
        let now = self.clock.now();
        self.b2bua
            .new_call(id, key, request, from, target, &mut self.media, now);
        self.flush().await;
    }

    /// The answered call of the agent with `extension`, if `supervisor` may step into it.
    async fn monitor_target(
        &mut self,
        supervisor: &SipCredential,
        extension: &str,
    ) -> Result<CallId, Refusal> {
        let allowed = match &supervisor.user_id {
            Some(user) => {
                match switchboard_store::users::get_user(&self.store, &supervisor.tenant_id, user)
                    .await
                {
                    Ok(Some(u)) => !u.disabled && matches!(u.role, Role::Supervisor | Role::Admin),
                    Ok(None) => false,
                    Err(e) => {
                        tracing::error!(error = %e, "user lookup for monitoring failed");
                        false
                    }
                }
            }
            None => false,
        };
        if !allowed {
            return Err(Refusal::Forbidden);
        }
        let now = self.clock.now();
        let agent = match self.credential(extension, now).await {
            Ok(Some(c)) if c.tenant_id == supervisor.tenant_id => c.user_id,
            // Another tenant's extension is, for this supervisor, no extension at all.
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, "credential lookup for monitoring failed");
                None
            }
        }
        .ok_or(Refusal::NoCall)?;
        self.answered_call_of(&agent).ok_or(Refusal::NoCall)
    }

    /// The answered call `agent` is on (not a monitoring call of their own).
    fn answered_call_of(&self, agent: &UserId) -> Option<CallId> {
        self.facts
            .iter()
            .filter(|(id, f)| {
                f.answered
                    && !self.monitors.contains_key(*id)
                    && (f.agent.as_ref() == Some(agent) || f.outside_agents.contains(agent))
            })
            .map(|(id, _)| id.clone())
            .next()
    }

    /// A call ended: a supervisor on it is hung up too, and a monitoring call is forgotten.
    pub(super) fn end_monitors(&mut self, ended: &CallId) {
        self.monitors.remove(ended);
        let watching: Vec<CallId> = self
            .monitors
            .iter()
            .filter(|(_, watched)| *watched == ended)
            .map(|(id, _)| id.clone())
            .collect();
        let now = self.clock.now();
        for id in watching {
            self.b2bua.hangup(
                &id,
                EndCause::System("monitored-call-ended"),
                &mut self.media,
                now,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_the_mode_and_the_extension() {
        assert_eq!(parse_code("*811001"), Some((MonitorMode::Listen, "1001")));
        assert_eq!(
            parse_code("*82agent7"),
            Some((MonitorMode::Whisper, "agent7"))
        );
        assert_eq!(parse_code("*831001"), Some((MonitorMode::Barge, "1001")));
        assert_eq!(parse_code("*81"), None);
        assert_eq!(parse_code("*84 1001"), None);
        assert_eq!(parse_code("*81 1001"), None);
        assert_eq!(parse_code("1001"), None);
    }
}
