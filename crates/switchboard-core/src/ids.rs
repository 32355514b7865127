//! Identifier newtypes. Each is a string (a UUID for ids we mint, or an external id an integrator
//! brought), typed so that one kind of id cannot be passed where another is expected.

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new time-ordered random id (UUID v7).
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A customer organisation using Switchboard; every row and every request belongs to one.
    TenantId
);
string_id!(
    /// A person or integration with a login.
    UserId
);
string_id!(
    /// A user acting as an agent (answers and places calls).
    AgentId
);
string_id!(
    /// One call: both legs of a bridged call share it.
    CallId
);
string_id!(
    /// An inbound queue.
    QueueId
);
string_id!(
    /// A physical or logical site (several sites are managed as one).
    SiteId
);
string_id!(
    /// A customer's file.
    CustomerId
);
string_id!(
    /// An outbound campaign (call-back, visit invitation, ...).
    CampaignId
);
string_id!(
    /// One unit of work for an agent (a call-back, a follow-up call, ...).
    TaskId
);
string_id!(
    /// A complaint ticket (工单).
    TicketId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_serialise_as_plain_strings() {
        let a = CallId::generate();
        let b = CallId::generate();
        assert_ne!(a, b);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, format!("\"{a}\""));
    }
}
