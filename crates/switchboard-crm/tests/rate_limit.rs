//! Per-tenant API rate limits (issue 12), through the real router: a tenant past its burst gets
//! 429 with Retry-After and a JSON error, another tenant is still served. (The refill over time
//! is tested with a set clock in `switchboard_core::rate`.)

#![allow(clippy::unwrap_used)]

mod support;

use axum::http::StatusCode;
use support::{People, acme_state, send};
use switchboard_core::RateLimit;
use switchboard_store::testing::TestDb;

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_and_others_are_still_served() {
    let db = TestDb::sqlite().await;
    let people = People::seed(&db.store).await;
    let state = acme_state(&db.store).with_tenant_rate_limit(RateLimit {
        per_second: 2.0,
        burst: 3.0,
    });
    let router = axum::Router::new().nest("/api/v1", switchboard_crm::router(state));
    let acme = people.tokens["supervisor"].as_str();
    let globex = people.tokens["other:supervisor"].as_str();
    for _ in 0..3 {
        let (status, _, _) = send(&router, Some(acme), "GET", "/me", &[], None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, body) = send(&router, Some(acme), "GET", "/me", &[], None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "1");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another agent of the same tenant shares the tenant's budget.
    let (status, _, _) = send(
        &router,
        Some(people.tokens["agent"].as_str()),
        "GET",
        "/me",
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another tenant is not affected.
    let (status, _, _) = send(&router, Some(globex), "GET", "/me", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    // Anonymous requests are not counted against anybody (and still get 401).
    let (status, _, _) = send(&router, None, "GET", "/me", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    db.cleanup().await;
}
