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
use utoipa::ToSchema;

use super::{ApiError, ApiJson, ApiState, Caller};
use crate::webhooks::client;

const MAX_URL: usize = 2048;
const MAX_TYPES: usize = 50;

/// A webhook subscription: where the tenant's events are POSTed, signed with its secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    id: String,
    /// An `http://` URL (the delivery client speaks plain HTTP).
    url: String,
    /// Patterns: `*`, `ticket.*`, `ticket.created`.
    event_types: Vec<String>,
    /// Inactive subscriptions receive nothing.
    active: bool,
    created_at: String,
    updated_at: String,
    /// The signing secret: only in the answer to the create call.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    secret: Option<String>,
}

impl From<&Subscription> for WebhookView {
    fn from(s: &Subscription) -> Self {
        WebhookView {
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

/// Ids are ours (UUIDs): anything else cannot name a subscription.
fn webhook_id(raw: &str) -> Result<&str, ApiError> {
    if raw.is_empty() || raw.len() > 64 || raw.contains('\0') {
        return Err(ApiError::NotFound(format!("webhook subscription '{raw}'")));
    }
    Ok(raw)
}

fn check_url(url: &str) -> Result<(), ApiError> {
    if url.contains('\0') {
        return Err(ApiError::bad_field(
            "url",
            "url must not contain NUL characters",
        ));
    }
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

/// The tenant's webhook subscriptions (admins).
#[utoipa::path(
    get, path = "/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, description = "Every subscription of the tenant", body = Vec<WebhookView>))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<Vec<WebhookView>>, ApiError> {
    caller.require(&[Role::Admin])?;
    let subs = outbox::list_subscriptions(&state.store, caller.tenant()).await?;
    Ok(ApiJson(subs.iter().map(WebhookView::from).collect()))
}

/// One webhook subscription (admins); the secret is never shown again.
#[utoipa::path(
    get, path = "/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription", body = WebhookView))
)]
pub(crate) async fn get_one(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiJson<WebhookView>, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = webhook_id(&id)?;
    let sub = outbox::get_subscription(&state.store, caller.tenant(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("webhook subscription '{id}'")))?;
    Ok(ApiJson(WebhookView::from(&sub)))
}

fn default_types() -> Vec<String> {
    vec!["*".to_owned()]
}

/// Body of `POST /webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateWebhook {
    /// Where to POST the events: an `http://` URL, at most 2048 bytes.
    #[schema(
        pattern = r"^http://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$",
        max_length = 2048
    )]
    url: String,
    /// 1-50 patterns (default `["*"]`): `*`, `ticket.*`, `ticket.created`.
    #[serde(default = "default_types")]
    #[schema(min_items = 1, max_items = 50)]
    event_types: Vec<String>,
}

/// Subscribes a URL to the tenant's events (admins, audited). The signing secret is in this
/// answer only.
#[utoipa::path(
    post, path = "/webhooks", operation_id = "create_webhook", tag = "webhooks",
    request_body = CreateWebhook,
    responses((status = 201, description = "Subscribed; `secret` shown this once", body = WebhookView))
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, ApiJson<WebhookView>), ApiError> {
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
    let mut view = WebhookView::from(&sub);
    view.secret = Some(secret);
    Ok((StatusCode::CREATED, ApiJson(view)))
}

/// Body of `PATCH /webhooks/{id}`: the fields given change, the others stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditWebhook {
    url: Option<String>,
    event_types: Option<Vec<String>>,
    active: Option<bool>,
}

/// Changes a subscription's URL, event types or active flag (admins, audited).
#[utoipa::path(
    patch, path = "/webhooks/{id}", operation_id = "edit_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    request_body = EditWebhook,
    responses((status = 200, description = "The subscription as changed", body = WebhookView))
)]
pub(crate) async fn edit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditWebhook>,
) -> Result<ApiJson<WebhookView>, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = webhook_id(&id)?;
    let mut sub = outbox::get_subscription(&state.store, caller.tenant(), id)
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
    Ok(ApiJson(WebhookView::from(&sub)))
}

/// Unsubscribes (admins, audited); pending deliveries are dropped.
#[utoipa::path(
    delete, path = "/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id")),
    responses((status = 204, description = "Deleted"))
)]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = webhook_id(&id)?;
    let now = state.clock.now();
    outbox::delete_subscription(&state.store, caller.tenant(), id).await?;
    audit::append(
        &state.store,
        caller.tenant(),
        Some(&caller.user.id),
        "webhook.delete",
        id,
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
