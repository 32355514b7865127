//! `/sip`: SIP over WebSocket (RFC 7118) on the HTTP listener, for browser softphones.
//!
//! The handshake must offer the `sip` subprotocol (§4, answered with it); anything else gets a
//! JSON 400. Each upgraded socket becomes a [`WsFlow`] of the SIP driver, and this module only
//! pumps: received text/binary messages go to the flow (which parses, counts and hands them to
//! the same transaction layer as UDP and TCP), what the core sends to the flow goes out as a
//! text message, a ping goes out every `sip.ws_ping_interval_secs`, and a socket that was
//! silent (not even a pong) for `sip.ws_idle_timeout_secs` is closed. Dropping the flow at the
//! end is what removes the browser's bindings and ends its calls.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use switchboard_sip::driver::{Verdict, WsFlow, WsTransport};
use switchboard_sip::message::MAX_MESSAGE_SIZE;
use tokio::time::Instant;

/// The subprotocol RFC 7118 registers.
const SUBPROTOCOL: &str = "sip";

/// Keep-alive settings (from the `sip` config section) and who may connect.
#[derive(Debug, Clone)]
pub struct WsSettings {
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    /// Other origins allowed besides the page's own (`http.allowed_origins`), normalised.
    pub allowed_origins: Vec<String>,
}

impl WsSettings {
    /// The `sip.ws_*` keys and `http.allowed_origins`.
    pub fn from_config(config: &crate::config::Config) -> WsSettings {
        let sip = &config.sip;
        WsSettings {
            ping_interval: Duration::from_secs(sip.ws_ping_interval_secs.max(1)),
            idle_timeout: Duration::from_secs(sip.ws_idle_timeout_secs.max(1)),
            allowed_origins: config
                .http
                .allowed_origins
                .iter()
                .filter_map(|o| parse_origin(o))
                .collect(),
        }
    }
}

/// `https://Crm.Example.com:443/` → `https://crm.example.com:443`; `None` unless it is an
/// http(s) origin (scheme and host, optional port, nothing else).
pub fn parse_origin(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid.then(|| format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// Whether a WebSocket upgrade may go on. Browsers always send `Origin`: a page may open
/// `/sip` from our own origin (its host is the `Host` it connects to) or from one listed in
/// `http.allowed_origins`; any other page is refused, so a site an agent happens to visit
/// cannot use the agent's browser to reach us (cross-site WebSocket hijacking). Clients that are
/// not browsers send no `Origin` and are let through to the digest check like any phone.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(origin) = origin.to_str().ok().and_then(parse_origin) else {
        return false;
    };
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, o)| o.eq_ignore_ascii_case(host))
        });
    own || allowed.contains(&origin)
}

#[derive(Debug, Clone)]
struct WsState {
    transport: WsTransport,
    settings: WsSettings,
}

/// The `/sip` route, to merge into the HTTP app.
pub fn router(transport: WsTransport, settings: WsSettings) -> Router {
    Router::new()
        .route("/sip", get(upgrade))
        .with_state(WsState {
            transport,
            settings,
        })
}

/// A JSON error like every other HTTP error of ours.
fn refuse(status: StatusCode, message: &str) -> Response {
    let code = if status == StatusCode::SERVICE_UNAVAILABLE {
        "unavailable"
    } else {
        "bad_request"
    };
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn offers_sip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

async fn upgrade(
    State(state): State<WsState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => {
            let status = rejection.status();
            return refuse(
                status,
                &format!("/sip takes a WebSocket upgrade (RFC 7118): {rejection}"),
            );
        }
    };
    if !origin_allowed(&headers, &state.settings.allowed_origins) {
        tracing::warn!(%addr, origin = ?headers.get(header::ORIGIN), "SIP WebSocket refused: origin not allowed");
        return refuse(
            StatusCode::FORBIDDEN,
            "this page's origin may not open SIP over WebSocket here (http.allowed_origins)",
        );
    }
    if !offers_sip(&headers) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "WebSocket subprotocol 'sip' required (Sec-WebSocket-Protocol: sip, RFC 7118)",
        );
    }
    let flow = match state.transport.open(addr, false) {
        Ok(flow) => flow,
        Err(e) => {
            tracing::warn!(%addr, error = %e, "SIP WebSocket refused");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
        }
    };
    let settings = state.settings.clone();
    upgrade
        .protocols([SUBPROTOCOL])
        // Larger than any SIP message we accept, so an oversized one reaches the flow and is
        // counted as garbage; far larger ones end the socket in the WebSocket layer.
        .max_message_size(4 * MAX_MESSAGE_SIZE)
        .max_frame_size(4 * MAX_MESSAGE_SIZE)
        .on_upgrade(move |socket| pump(socket, flow, settings))
}

/// Why a socket's pump ended.
#[derive(Debug)]
enum End {
    Peer,
    Garbage,
    Idle,
    Stopped,
    Io,
}

async fn pump(mut socket: WebSocket, mut flow: WsFlow, settings: WsSettings) {
    let addr = flow.peer().addr;
    tracing::debug!(%addr, "SIP WebSocket open");
    let mut ping = tokio::time::interval(settings.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; a fresh socket needs no ping.
    ping.tick().await;
    let mut heard = Instant::now();
    let end = loop {
        tokio::select! {
            received = socket.recv() => {
                let data = match received {
                    None => break End::Peer,
                    Some(Err(e)) => {
                        // Over the size limit, bad UTF-8 in a text frame, protocol errors.
                        flow.refused_by_socket();
                        tracing::debug!(%addr, error = %e, "SIP WebSocket read failed");
                        break End::Io;
                    }
                    Some(Ok(Message::Close(_))) => break End::Peer,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        // Pings are answered by the WebSocket layer itself.
                        heard = Instant::now();
                        continue;
                    }
                    Some(Ok(Message::Text(text))) => text.as_str().as_bytes().to_vec(),
                    Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                };
                heard = Instant::now();
                match flow.receive(&data) {
                    Verdict::Accepted | Verdict::Ignored => {}
                    Verdict::Reply(bytes) => {
                        if socket.send(outgoing(bytes)).await.is_err() {
                            break End::Io;
                        }
                    }
                    Verdict::Close => break End::Garbage,
                }
            }
            sent = flow.next_outgoing() => match sent {
                Some(bytes) => {
                    if socket.send(outgoing(bytes)).await.is_err() {
                        break End::Io;
                    }
                }
                None => break End::Stopped,
            },
            _ = ping.tick() => {
                if heard.elapsed() >= settings.idle_timeout {
                    break End::Idle;
                }
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break End::Io;
                }
            }
        }
    };
    let close = match end {
        End::Garbage => Some((close_code::POLICY, "too many malformed SIP messages")),
        End::Idle => Some((close_code::AWAY, "idle")),
        End::Stopped => Some((close_code::RESTART, "server stopping")),
        End::Peer | End::Io => None,
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
    tracing::debug!(%addr, ?end, "SIP WebSocket closed");
    // Dropping the flow tells the SIP side (bindings removed, calls ended).
    drop(flow);
}

/// SIP text goes out as a text message, anything else (a body that is not UTF-8) as binary
/// (RFC 7118 §4).
fn outgoing(bytes: Vec<u8>) -> Message {
    match String::from_utf8(bytes) {
        Ok(text) => Message::Text(text.into()),
        Err(e) => Message::Binary(e.into_bytes().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sip_subprotocol_is_found_among_others_in_any_case() {
        let mut h = HeaderMap::new();
        assert!(!offers_sip(&h));
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            header::HeaderValue::from_static("chat, SIP"),
        );
        assert!(offers_sip(&h));
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            header::HeaderValue::from_static("sipx, chat"),
        );
        assert!(!offers_sip(&h));
    }

    fn with(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), header::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_our_own_and_listed_origins_may_open_sip_over_websocket() {
        let allowed = vec!["https://crm.example.com".to_string()];
        // Not a browser: no Origin, left to the digest check.
        assert!(origin_allowed(
            &with(&[(header::HOST, "sb.example.com")]),
            &allowed
        ));
        // The console's own page.
        assert!(origin_allowed(
            &with(&[
                (header::HOST, "sb.example.com:8443"),
                (header::ORIGIN, "https://SB.example.com:8443")
            ]),
            &allowed
        ));
        // A listed site.
        assert!(origin_allowed(
            &with(&[
                (header::HOST, "sb.example.com"),
                (header::ORIGIN, "https://crm.example.com")
            ]),
            &allowed
        ));
        // Anybody else, a lookalike, and junk.
        for bad in [
            "https://evil.example",
            "https://sb.example.com.evil.example",
            "null",
            "file://x",
        ] {
            assert!(
                !origin_allowed(
                    &with(&[(header::HOST, "sb.example.com"), (header::ORIGIN, bad)]),
                    &allowed
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn origins_are_normalised_and_checked() {
        assert_eq!(
            parse_origin("HTTPS://Crm.Example.com/").as_deref(),
            Some("https://crm.example.com")
        );
        assert_eq!(
            parse_origin("http://10.0.0.5:8080").as_deref(),
            Some("http://10.0.0.5:8080")
        );
        for bad in [
            "crm.example.com",
            "ftp://x",
            "https://",
            "https://a/b",
            "https://a b",
        ] {
            assert_eq!(parse_origin(bad), None, "{bad}");
        }
    }
}
