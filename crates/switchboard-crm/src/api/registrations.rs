//! `GET /api/v1/registrations`: the tenant's current SIP registrations (admin, supervisor), read
//! from the bindings the registrar persists.

use axum::extract::State;
use serde::Serialize;
use switchboard_core::{Role, Timestamp, mask_phone};
use switchboard_store::sip;
use utoipa::ToSchema;

use super::{ApiError, ApiJson, ApiState, Caller};

/// One registered contact.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegistrationView {
    /// `sip:1001@domain`.
    aor: String,
    /// The contact URI; a user part that is a phone number is masked.
    contact: String,
    /// `udp` or `tcp` and the address the phone registered from.
    source: String,
    /// Epoch milliseconds.
    #[schema(value_type = i64)]
    expires_at: Timestamp,
    /// Seconds left.
    expires_in: u64,
}

/// A contact's user part that looks like a phone number (a leading `+` or 7 and more digits)
/// is personal data: mask it like every other phone number we show or log.
fn mask_contact(contact: &str) -> String {
    let Some((scheme, rest)) = contact.split_once(':') else {
        return contact.to_owned();
    };
    let Some((user, host)) = rest.split_once('@') else {
        return contact.to_owned();
    };
    let digits = user.trim_start_matches('+');
    let phone_like = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (user.starts_with('+') || digits.len() >= 7);
    if phone_like {
        format!("{scheme}:{}@{host}", mask_phone(user))
    } else {
        contact.to_owned()
    }
}

/// The tenant's live registrations, by address-of-record.
#[utoipa::path(
    get, path = "/registrations", operation_id = "list_registrations", tag = "users",
    responses((status = 200, description = "Current registrations", body = Vec<RegistrationView>))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<Vec<RegistrationView>>, ApiError> {
    caller.require(&[Role::Admin, Role::Supervisor])?;
    let now = state.clock.now();
    let list = sip::list_tenant_bindings(&state.store, caller.tenant(), now).await?;
    Ok(ApiJson(
        list.into_iter()
            .map(|b| RegistrationView {
                expires_in: b.expires_at.since(now).as_secs(),
                contact: mask_contact(&b.contact),
                aor: b.aor,
                source: b.source,
                expires_at: b.expires_at,
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_in_contacts_are_masked_extensions_are_not() {
        assert_eq!(
            mask_contact("sip:+8613812345678@198.51.100.1:5060"),
            "sip:+86138****5678@198.51.100.1:5060"
        );
        assert_eq!(
            mask_contact("sip:1001@10.0.0.5:5062;transport=tcp"),
            "sip:1001@10.0.0.5:5062;transport=tcp"
        );
        assert_eq!(mask_contact("sip:10.0.0.5"), "sip:10.0.0.5");
    }
}
