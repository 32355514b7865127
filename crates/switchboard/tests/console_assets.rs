//! The agent console's files through the real router: the page and every asset it references
//! are served from the binary with their content types, `no-cache` + `ETag` (a 304 when
//! unchanged) for our own files, a year's cache for the versioned JsSIP build (which keeps its
//! licence header), and a JSON 404 naming an unknown asset.

// Test bodies: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use switchboard::console::JSSIP_ASSET;
use switchboard::http::app;
use switchboard::metrics::Metrics;
use switchboard_core::{ManualClock, Timestamp};
use switchboard_crm::{ApiSettings, ApiState};
use switchboard_store::testing::TestDb;
use tower::ServiceExt;

async fn router() -> (Router, TestDb) {
    let db = TestDb::sqlite().await;
    let state = ApiState::new(
        db.store.clone(),
        Arc::new(ManualClock::new(Timestamp::from_secs(1_800_000_000))),
        ApiSettings::default(),
    );
    (app(state, Metrics::new(), 64 * 1024), db)
}

async fn get(router: &Router, path: &str, etag: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::get(path);
    if let Some(tag) = etag {
        req = req.header(header::IF_NONE_MATCH, tag);
    }
    let response = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn header_of(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test]
async fn the_page_and_every_asset_it_references_are_served_with_type_and_cache_headers() {
    let (router, _db) = router().await;
    let (status, headers, page) = get(&router, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header_of(&headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header_of(&headers, header::CACHE_CONTROL), "no-cache");
    // Every /assets/ reference of the page resolves, with the type its extension says.
    let referenced: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert_eq!(
        referenced,
        vec![
            "/assets/console.css",
            "/assets/i18n.js",
            &format!("/assets/{JSSIP_ASSET}"),
            "/assets/console-view.js",
            "/assets/console.js",
            "/assets/campaign.js",
            "/assets/qa.js",
            "/assets/wallboard.js",
            "/assets/reports.js"
        ]
    );
    for path in referenced {
        let (status, headers, body) = get(&router, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!body.is_empty(), "{path}");
        let want = if path.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        assert_eq!(header_of(&headers, header::CONTENT_TYPE), want, "{path}");
        assert_eq!(
            header_of(&headers, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff"
        );
        let cache = header_of(&headers, header::CACHE_CONTROL);
        if path.contains("jssip") {
            assert_eq!(cache, "public, max-age=31536000, immutable");
            assert!(body.starts_with("/*! JsSIP 3.13.8"), "licence header first");
            assert!(body.contains("The MIT License"));
        } else {
            assert_eq!(cache, "no-cache", "{path}");
        }
    }
}

#[tokio::test]
async fn an_unchanged_file_is_a_304_and_a_changed_etag_gets_the_file() {
    let (router, _db) = router().await;
    for path in ["/", "/assets/console.js"] {
        let (_, headers, body) = get(&router, path, None).await;
        let etag = header_of(&headers, header::ETAG).to_owned();
        assert!(etag.starts_with('"') && etag.len() > 2, "{path}: {etag}");
        let (status, again, empty) = get(&router, path, Some(&etag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(header_of(&again, header::ETAG), etag);
        assert!(empty.is_empty());
        let (status, _, full) = get(&router, path, Some("\"stale\"")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(full, body);
    }
    // Different files, different validators.
    let (_, a, _) = get(&router, "/assets/console.js", None).await;
    let (_, b, _) = get(&router, "/assets/i18n.js", None).await;
    assert_ne!(header_of(&a, header::ETAG), header_of(&b, header::ETAG));
}

#[tokio::test]
async fn an_unknown_asset_is_a_json_404_naming_it() {
    let (router, _db) = router().await;
    for name in ["nope.js", "..%2Fsrc%2Fmain.rs", "console.js.map"] {
        let (status, headers, body) = get(&router, &format!("/assets/{name}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        assert!(header_of(&headers, header::CONTENT_TYPE).starts_with("application/json"));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"]["field"], "name");
    }
}
