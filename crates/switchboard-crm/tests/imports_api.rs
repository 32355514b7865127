//! Customer CSV imports through the real `/api/v1` router (no socket), on SQLite and PostgreSQL:
//! good rows land, each kind of bad row is reported at its spreadsheet row, existing customers
//! are updated rather than duplicated, progress reaches the total, roles and tenants hold.

// Test bodies and their helpers: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchboard_core::{TenantId, Timestamp};
use switchboard_crm::router;
use switchboard_store::Store;
use switchboard_store::customers::StoredResponse;
use switchboard_store::customers::import::{self, ImportStart, NewImport};
use tower::ServiceExt;

mod support;
use support::{People, send, ts};

struct Api {
    router: Router,
    store: Store,
    people: People,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

impl Api {
    async fn new(store: Store) -> Api {
        let state = support::acme_state(&store);
        Api {
            router: Router::new().nest("/api/v1", router(state)),
            people: People::seed(&store).await,
            store,
        }
    }

    async fn upload(&self, who: &str, query: &str, csv: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = Request::builder()
            .method("POST")
            .uri(format!("/api/v1/customers/imports{query}"))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.people.tokens[who]),
            )
            .header(header::CONTENT_TYPE, "text/csv");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.request(req.body(Body::from(csv.to_owned())).unwrap())
            .await
    }

    async fn request(&self, req: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            bytes,
        }
    }

    async fn get(&self, who: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let token = self.people.tokens.get(who).map(String::as_str);
        let (status, headers, bytes) = send(&self.router, token, "GET", path, headers, None).await;
        Reply {
            status,
            headers,
            bytes,
        }
    }

    /// Polls the import until it is no longer running. The runner is a task on this test's
    /// runtime: every await here lets it write another batch.
    async fn finished(&self, who: &str, id: &str) -> Value {
        for _ in 0..100_000 {
            let r = self
                .get(who, &format!("/customers/imports/{id}"), &[])
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.json());
            let view = r.json();
            if view["state"] != "running" {
                return view;
            }
            tokio::task::yield_now().await;
        }
        panic!("import {id} never finished");
    }

    async fn import(&self, who: &str, query: &str, csv: &str) -> Value {
        let r = self.upload(who, query, csv, &[]).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.json());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(
            r.headers[header::LOCATION],
            format!("/api/v1/customers/imports/{id}").as_str()
        );
        self.finished(who, &id).await
    }

    async fn lookup(&self, phone: &str) -> Vec<Value> {
        let r = self
            .get(
                "admin",
                &format!("/customers/lookup?phone={}", phone.replace('+', "%2B")),
                &[],
            )
            .await;
        r.json()["matches"].as_array().cloned().unwrap_or_default()
    }
}

const HEADER: &str = "name,phones,time_zone,category,estimated_value,tags,custom.city";

async fn each_kind_of_bad_row_is_reported_at_its_row(store: Store) {
    let api = Api::new(store).await;
    // An existing customer the file updates (matched by its second phone number).
    let existing = send(
        &api.router,
        Some(&api.people.tokens["admin"]),
        "POST",
        "/customers",
        &[],
        Some(
            json!({"name": "老客户", "grade": "A", "phones": [{"phone": "+8613900000001"}, {"phone": "+8613900000002"}], "tags": ["old"]})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(existing.0, StatusCode::CREATED);
    let csv = format!(
        "\u{feff}{HEADER}\n\
         王芳,+8613800000001,Asia/Shanghai,customer,1200.50,vip,上海\n\
         坏电话,12345,,,,,\n\
         坏时区,+8613800000003,Mars/Olympus,,,,\n\
         坏类别,+8613800000004,,prospect,,,\n\
         ,+8613800000005,,,,,\n\
         重复,+8613800000001,,,,,\n\
         坏数字,+8613800000007,,,12abc,,\n\
         李雷,+8613800000008|+8613800000009,Europe/Berlin,potential,,a;b,\n\
         老客户改名,+8613900000002,,customer,,,北京\n"
    );
    let done = api
        .import("supervisor", "?tag=campaign-2026-11", &csv)
        .await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["rows_total"], 9);
    assert_eq!(done["rows_processed"], 9);
    assert_eq!(done["rows_created"], 2);
    assert_eq!(done["rows_updated"], 1);
    assert_eq!(done["rows_failed"], 6);
    assert_eq!(done["tag"], "campaign-2026-11");
    assert!(done["finished_at"].is_string());

    let id = done["id"].as_str().unwrap();
    let report = api
        .get(
            "supervisor",
            &format!("/customers/imports/{id}/errors"),
            &[],
        )
        .await
        .json();
    let got: Vec<(i64, String)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let want: Vec<(i64, String)> = [
        (3, "phones"),
        (4, "time_zone"),
        (5, "category"),
        (6, "name"),
        (7, "phones"),
        (8, "estimated_value"),
    ]
    .iter()
    .map(|(r, c)| (*r, (*c).to_owned()))
    .collect();
    assert_eq!(got, want, "{report}");
    let items = report["items"].as_array().unwrap();
    assert_eq!(
        items[0]["value"], "***45",
        "phones are masked in the report"
    );
    assert!(
        items[4]["message"].as_str().unwrap().contains("row 2"),
        "{}",
        items[4]
    );
    assert_eq!(items[4]["value"], "+86138****0001");
    assert_eq!(items[5]["value"], "12abc");

    // The rows that landed, with the tag; the existing customer updated, not duplicated.
    let wang = api.lookup("+8613800000001").await;
    assert_eq!(wang.len(), 1);
    let wang_id = wang[0]["id"].as_str().unwrap();
    let wang = api
        .get("admin", &format!("/customers/{wang_id}"), &[])
        .await
        .json();
    assert_eq!(wang["name"], "王芳");
    assert_eq!(wang["category"], "customer");
    assert_eq!(wang["estimated_value_cents"], 120_050);
    assert_eq!(wang["tags"], json!(["vip", "campaign-2026-11"]));
    assert_eq!(wang["custom_fields"]["city"], "上海");
    let li = api.lookup("+8613800000009").await;
    assert_eq!(li.len(), 1);
    assert_eq!(li[0]["time_zone"], "Europe/Berlin");
    let old = api.lookup("+8613900000002").await;
    assert_eq!(old.len(), 1, "updated, not duplicated");
    let old_id = old[0]["id"].as_str().unwrap();
    let old = api
        .get("admin", &format!("/customers/{old_id}"), &[])
        .await
        .json();
    assert_eq!(old["name"], "老客户改名");
    assert_eq!(old["grade"], "A", "a column the file lacks keeps its value");
    assert_eq!(old["version"], 2);
    assert_eq!(old["phones"].as_array().unwrap().len(), 2);
    assert_eq!(old["custom_fields"]["city"], "北京");
    // An empty cell keeps the stored value.
    assert_eq!(old["tags"], json!(["old", "campaign-2026-11"]));
    for bad in [
        "+8613800000003",
        "+8613800000004",
        "+8613800000005",
        "+8613800000007",
    ] {
        assert!(
            api.lookup(bad).await.is_empty(),
            "{bad} must not be half-written"
        );
    }

    // The same report as a spreadsheet.
    let csv_report = api
        .get(
            "supervisor",
            &format!("/customers/imports/{id}/errors"),
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(csv_report.status, StatusCode::OK);
    assert!(
        csv_report.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = String::from_utf8(csv_report.bytes).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("\u{feff}row,column,value,message"));
    assert!(lines.next().unwrap().starts_with("3,phones,***45,"));
    assert_eq!(text.lines().count(), 7);
    let same = api
        .get(
            "supervisor",
            &format!("/customers/imports/{id}/errors?format=csv"),
            &[],
        )
        .await;
    assert_eq!(String::from_utf8(same.bytes).unwrap(), text);

    // Paging the JSON report.
    let page = api
        .get(
            "supervisor",
            &format!("/customers/imports/{id}/errors?limit=4"),
            &[],
        )
        .await
        .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    assert_eq!(page["next_after_row"], 6);
    let rest = api
        .get(
            "supervisor",
            &format!("/customers/imports/{id}/errors?after_row=6"),
            &[],
        )
        .await
        .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert!(rest["next_after_row"].is_null());
}

async fn a_large_file_reaches_its_total_across_batches(store: Store) {
    let api = Api::new(store).await;
    let mut csv = String::from("name,phones\n");
    for i in 0..1_234 {
        if i % 100 == 7 {
            csv.push_str(&format!("bad {i},not-a-number\n"));
        } else {
            csv.push_str(&format!("客户{i},+86139{i:08}\n"));
        }
    }
    let done = api.import("integrator", "", &csv).await;
    assert_eq!(done["state"], "done");
    assert_eq!(done["rows_total"], 1_234);
    assert_eq!(done["rows_processed"], 1_234);
    assert_eq!(done["rows_failed"], 13);
    assert_eq!(done["rows_created"], 1_221);
    // Importing the same file again updates every good row and duplicates none.
    let again = api.import("integrator", "", &csv).await;
    assert_eq!(again["rows_created"], 0);
    assert_eq!(again["rows_updated"], 1_221);
    assert_eq!(again["rows_failed"], 13);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE tenant_id = 'acme'")
        .fetch_one(api.store.pool())
        .await
        .unwrap();
    assert_eq!(count, 1_221);
    let list = api.get("admin", "/customers/imports", &[]).await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
}

async fn a_bad_file_is_refused_whole_naming_the_column(store: Store) {
    let api = Api::new(store).await;
    for (csv, field) in [
        ("name,phones,colour\nA,+8613800000001,red\n", "colour"),
        ("name,time_zone\nA,UTC\n", "phones"),
        ("", "body"),
    ] {
        let r = api.upload("admin", "", csv, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{csv}");
        assert_eq!(r.json()["error"]["field"], field, "{}", r.json());
    }
    let r = api.upload("admin", "?tag=", "name,phones\n", &[]).await;
    assert_eq!(r.json()["error"]["field"], "tag");
    let r = api
        .upload("admin", "?colour=red", "name,phones\n", &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let json = send(
        &api.router,
        Some(&api.people.tokens["admin"]),
        "POST",
        "/customers/imports",
        &[],
        Some("{}".into()),
    )
    .await;
    assert_eq!(json.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let list = api.get("admin", "/customers/imports", &[]).await.json();
    assert_eq!(list, json!([]), "nothing was started");
}

async fn roles_and_tenants_are_enforced(store: Store) {
    let api = Api::new(store).await;
    for who in ["agent", "qa"] {
        let r = api
            .upload(who, "", "name,phones\nA,+8613800000001\n", &[])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}");
    }
    let done = api
        .import("admin", "", "name,phones\nA,+8613800000001\n")
        .await;
    let id = done["id"].as_str().unwrap();
    for path in [
        format!("/customers/imports/{id}"),
        format!("/customers/imports/{id}/errors"),
    ] {
        assert_eq!(
            api.get("other:admin", &path, &[]).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            api.get("agent", &path, &[]).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            api.get("supervisor", &path, &[]).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        api.get("other:admin", "/customers/imports", &[])
            .await
            .json(),
        json!([])
    );
    // The other tenant's import of the same number creates its own customer.
    let theirs = api
        .import("other:admin", "", "name,phones\nB,+8613800000001\n")
        .await;
    assert_eq!(theirs["rows_created"], 1);
}

async fn an_idempotency_key_replays_the_first_import(store: Store) {
    let api = Api::new(store).await;
    let csv = "name,phones\nA,+8613800000001\n";
    let first = api
        .upload("integrator", "", csv, &[("idempotency-key", "k1")])
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let id = first.json()["id"].as_str().unwrap().to_owned();
    api.finished("integrator", &id).await;
    let again = api
        .upload("integrator", "", csv, &[("idempotency-key", "k1")])
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other = api
        .upload(
            "integrator",
            "",
            "name,phones\nB,+8613800000002\n",
            &[("idempotency-key", "k1")],
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json()["error"]["field"], "Idempotency-Key");
    assert_eq!(
        api.get("admin", "/customers/imports", &[])
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn an_interrupted_import_is_marked_failed(store: Store) {
    let api = Api::new(store).await;
    let tenant = TenantId::from("acme");
    let render = |_: &import::ImportJob| StoredResponse {
        status: 202,
        body: String::new(),
    };
    let new = NewImport {
        tag: None,
        file_name: Some("list.csv"),
        created_by: None,
        rows_total: 10,
    };
    // Started by a process that died: its heartbeat stopped a day before the API's clock.
    let ImportStart::Started { job, .. } =
        import::start_import(&api.store, &tenant, &new, None, render, ts(0))
            .await
            .unwrap()
    else {
        panic!("not started");
    };
    let view = api
        .get("admin", &format!("/customers/imports/{}", job.id), &[])
        .await
        .json();
    assert_eq!(view["state"], "failed", "{view}");
    assert!(view["failure"].as_str().unwrap().contains("interrupted"));
    // At start the server fails what the previous process left running.
    let ImportStart::Started { job, .. } =
        import::start_import(&api.store, &tenant, &new, None, render, ts(24 * 60))
            .await
            .unwrap()
    else {
        panic!("not started");
    };
    let failed = switchboard_crm::api::imports::fail_interrupted(
        &api.store,
        // Ten seconds after it started.
        Timestamp::from_millis(ts(24 * 60).as_millis() + 10_000),
    )
    .await
    .unwrap();
    let after = api
        .get("admin", &format!("/customers/imports/{}", job.id), &[])
        .await
        .json();
    match api.store.engine() {
        switchboard_store::Engine::Sqlite => {
            assert_eq!(failed, 1);
            assert_eq!(after["state"], "failed");
        }
        // Another node may be running it: only a stopped heartbeat counts there.
        switchboard_store::Engine::Postgres => {
            assert_eq!(failed, 0);
            assert_eq!(after["state"], "running");
        }
    }
}

switchboard_store::both_engines!(
    each_kind_of_bad_row_is_reported_at_its_row,
    a_large_file_reaches_its_total_across_batches,
    a_bad_file_is_refused_whole_naming_the_column,
    roles_and_tenants_are_enforced,
    an_idempotency_key_replays_the_first_import,
    an_interrupted_import_is_marked_failed,
);

#[tokio::test]
async fn a_file_over_the_limit_is_refused_with_413() {
    let db = switchboard_store::testing::TestDb::sqlite().await;
    let api = Api::new(db.store.clone()).await;
    let mut csv = String::from("name,phones\n");
    while csv.len() <= 50 * 1024 * 1024 {
        csv.push_str("someone with a long name,+8613800000001\n");
    }
    let r = api.upload("admin", "", &csv, &[]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["error"]["field"], "body");
    db.cleanup().await;
}
