//! The agent console's files, embedded in the binary so a fresh machine needs no build step and
//! no network: the page at `/` and its assets under `/assets/…`.
//!
//! Caching: the page and our own scripts and styles are `no-cache` with an `ETag` (a browser
//! asks again each load and gets a cheap 304 while the binary is the same, so an upgraded server
//! never runs with yesterday's script); the vendored JsSIP carries its version in its name and
//! is cached for a year.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// Versioned by name: cache for good.
    immutable: bool,
}

/// The JsSIP build's file name under `/assets/`, with its version (see
/// tests/browser/vendor_jssip.js, which writes `web/jssip.min.js`).
pub const JSSIP_ASSET: &str = "jssip-3.13.8.min.js";

const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../web/console.css"),
        immutable: false,
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/console.js"),
        immutable: false,
    },
    Asset {
        name: "console-view.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/console-view.js"),
        immutable: false,
    },
    Asset {
        name: "campaign.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/campaign.js"),
        immutable: false,
    },
    Asset {
        name: "qa.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/qa.js"),
        immutable: false,
    },
    Asset {
        name: "wallboard.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/wallboard.js"),
        immutable: false,
    },
    Asset {
        name: "reports.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/reports.js"),
        immutable: false,
    },
    Asset {
        name: "i18n.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/i18n.js"),
        immutable: false,
    },
    Asset {
        name: JSSIP_ASSET,
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../web/jssip.min.js"),
        immutable: true,
    },
];

const PAGE: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../web/index.html"),
    immutable: false,
};

/// Each file's ETag, computed once: a hash of its bytes (stable for one binary, which is all
/// a validator needs).
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    std::iter::once(&PAGE)
        .chain(ASSETS)
        .map(|a| {
            let mut h = DefaultHasher::new();
            a.body.hash(&mut h);
            format!("\"{:016x}\"", h.finish())
        })
        .collect()
});

fn serve(index: usize, asset: &Asset, request: &HeaderMap) -> Response {
    let etag = ETAGS.get(index).cloned().unwrap_or_default();
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    // The page's own files only: no framing by other sites, no sniffing a script as something else.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    (headers, asset.body).into_response()
}

/// `GET /`: the console page.
pub async fn page(request: HeaderMap) -> Response {
    serve(0, &PAGE, &request)
}

/// `GET /assets/{name}`: one of the page's files; anything else is a JSON 404 naming it.
pub async fn asset(Path(name): Path<String>, request: HeaderMap) -> Response {
    match ASSETS.iter().position(|a| a.name == name) {
        Some(i) => serve(i + 1, &ASSETS[i], &request),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": { "code": "not_found", "message": format!("no asset '{name}'"), "field": "name" } })),
        )
            .into_response(),
    }
}
