//! `GET /api/v1/me/softphone`: what the browser softphone needs to register as the caller —
//! their extension and the SIP domain (the digest realm of their SIP account) and where the
//! SIP WebSocket is. The SIP password is the login password, which the console has just typed
//! in and never gets from the server.

use axum::extract::State;
use serde::Serialize;
use switchboard_core::Role;
use switchboard_store::sip;
use utoipa::ToSchema;

use super::{ApiError, ApiJson, ApiState, Caller};

/// Path of SIP over WebSocket on the HTTP listener (RFC 7118, subprotocol `sip`).
const WS_PATH: &str = "/sip";

/// The caller's softphone account.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SoftphoneView {
    /// The extension, which is also the SIP digest username.
    extension: String,
    /// The SIP domain and digest realm.
    domain: String,
    /// `sip:<extension>@<domain>`.
    uri: String,
    /// Path of the SIP WebSocket on this server (`ws://` or `wss://` as the page was loaded).
    ws_path: &'static str,
}

/// The caller's extension and SIP domain, for the browser softphone (agents and supervisors,
/// the people who take calls). 404 when the user has no SIP account (created with
/// `switchboard user add … --extension`).
#[utoipa::path(
    get, path = "/me/softphone", operation_id = "my_softphone", tag = "auth",
    responses(
        (status = 200, description = "The caller's SIP account (no secrets)", body = SoftphoneView),
        (status = 403, description = "Not an agent or supervisor", body = super::openapi::ErrorBody),
        (status = 404, description = "The caller has no extension", body = super::openapi::ErrorBody),
    )
)]
pub(crate) async fn my_softphone(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<ApiJson<SoftphoneView>, ApiError> {
    caller.require(&[Role::Agent, Role::Supervisor])?;
    let accounts = sip::credentials_of_user(&state.store, caller.tenant(), &caller.user.id).await?;
    // An agent has one phone account; should there be several, the one with an extension wins,
    // then the first by realm and username (the store's order), so the answer is stable.
    let account = accounts
        .iter()
        .find(|c| c.extension.is_some())
        .or_else(|| accounts.first())
        .ok_or_else(|| ApiError::NotFound("a SIP extension for this user".into()))?;
    let extension = account
        .extension
        .clone()
        .unwrap_or_else(|| account.username.clone());
    Ok(ApiJson(SoftphoneView {
        uri: format!("sip:{}@{}", account.username, account.realm),
        extension,
        domain: account.realm.clone(),
        ws_path: WS_PATH,
    }))
}
