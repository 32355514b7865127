//! Webhook subscriptions (admins only, audited): where a tenant's events go. The signing secret
//! is generated here and shown once, in the answer to the create call.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::Role;
use switchboard_store::audit;
use switchboard_store::outbox::{self, NewSubscription, Subscription};

use super::{ApiError, ApiJson, ApiState, Caller};
use crate::webhooks::client;

const MAX_URL: usize = 2048;
const MAX_TYPES: usize = 50;

#[derive(Debug, Serialize)]
pub(crate) struct SubscriptionView {
    id: String,
    url: String,
    event_types: Vec<String>,
    active: bool,
    created_at: String,
    updated_at: String,
    /// Only in the answer to the create call.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        SubscriptionView {
            id: s.id.clone(),
            url: s.url.clone(),
            event_types: s.event_types.clone(),
            active: s.active,
            created_at: s.created_at.to_string(),
            updated_at: s.updated_at.to_string(),
            secret: None,
        }
    }
}

fn check_url(url: &str) -> Result<(), ApiError> {
    if url.len() > MAX_URL {
        return Err(ApiError::bad_field(
            "url",
            format!("url is longer than {MAX_URL} bytes"),
        ));
    }
    client::check_url(url).map_err(|e| ApiError::bad_field("url", e.to_string()))
}

/// `*`, `ticket.*` or `ticket.created`: lowercase words joined by dots.
fn check_types(types: &[String]) -> Result<(), ApiError> {
    if types.is_empty() || types.len() > MAX_TYPES {
        return Err(ApiError::bad_field(
            "event_types",
            format!("give 1 to {MAX_TYPES} event types, e.g. [\"ticket.*\"] or [\"*\"]"),
        ));
    }
    for (i, t) in types.iter().enumerate() {
        let body = t.strip_suffix(".*").unwrap_or(t);
        let ok = t == "*"
            || (!body.is_empty()
                && body.len() <= 64
                && body.split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
                }));
        if !ok {
            return Err(ApiError::bad_field(
                format!("event_types[{i}]"),
                format!(
                    "'{t}' is not an event type pattern (\"*\", \"ticket.*\", \"ticket.created\")"
                ),
            ));
        }
    }
    Ok(())
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<Vec<SubscriptionView>>, ApiError> {
    caller.require(&[Role::Admin])?;
    let subs = outbox::list_subscriptions(&state.store, caller.tenant()).await?;
    Ok(ApiJson(subs.iter().map(SubscriptionView::from).collect()))
}

pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<SubscriptionView>, ApiError> {
    caller.require(&[Role::Admin])?;
    let sub = outbox::get_subscription(&state.store, caller.tenant(), &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("webhook subscription '{id}'")))?;
    Ok(ApiJson(SubscriptionView::from(&sub)))
}

fn default_types() -> Vec<String> {
    vec!["*".to_owned()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSubscription {
    url: String,
    #[serde(default = "default_types")]
    event_types: Vec<String>,
}

pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> Result<(StatusCode, ApiJson<SubscriptionView>), ApiError> {
    caller.require(&[Role::Admin])?;
    check_url(&body.url)?;
    check_types(&body.event_types)?;
    let now = state.clock.now();
    let secret = new_secret();
    let sub = outbox::insert_subscription(
        &state.store,
        &NewSubscription {
            tenant_id: caller.tenant(),
            url: &body.url,
            secret: &secret,
            event_types: &body.event_types,
        },
        now,
    )
    .await?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "webhook.create",
        &sub.id,
        &json!({ "url": sub.url, "event_types": sub.event_types }),
        now,
    )
    .await?;
    let mut view = SubscriptionView::from(&sub);
    view.secret = Some(secret);
    Ok((StatusCode::CREATED, ApiJson(view)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditSubscription {
    url: Option<String>,
    event_types: Option<Vec<String>>,
    active: Option<bool>,
}

pub(crate) async fn edit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditSubscription>,
) -> Result<ApiJson<SubscriptionView>, ApiError> {
    caller.require(&[Role::Admin])?;
    let mut sub = outbox::get_subscription(&state.store, caller.tenant(), &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("webhook subscription '{id}'")))?;
    if let Some(url) = body.url {
        check_url(&url)?;
        sub.url = url;
    }
    if let Some(types) = body.event_types {
        check_types(&types)?;
        sub.event_types = types;
    }
    if let Some(active) = body.active {
        sub.active = active;
    }
    let now = state.clock.now();
    outbox::update_subscription(&state.store, &sub, now).await?;
    sub.updated_at = now;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "webhook.update",
        &sub.id,
        &json!({ "url": sub.url, "event_types": sub.event_types, "active": sub.active }),
        now,
    )
    .await?;
    Ok(ApiJson(SubscriptionView::from(&sub)))
}

pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Admin])?;
    let now = state.clock.now();
    outbox::delete_subscription(&state.store, caller.tenant(), &id).await?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "webhook.delete",
        &id,
        &json!({}),
        now,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_patterns_are_checked_and_the_bad_one_is_named() {
        let ok: Vec<String> = ["*", "ticket.*", "ticket.created", "call.answered"]
            .map(String::from)
            .to_vec();
        assert!(check_types(&ok).is_ok());
        for bad in [
            "",
            "Ticket.created",
            "ticket.",
            "ticket..x",
            "*.created",
            "a b",
        ] {
            let types = vec!["*".to_owned(), bad.to_owned()];
            match check_types(&types) {
                Err(ApiError::BadRequest { field, .. }) => {
                    assert_eq!(field.as_deref(), Some("event_types[1]"), "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(check_types(&[]).is_err());
    }
}
