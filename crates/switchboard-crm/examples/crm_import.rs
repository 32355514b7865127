//! The `crm-import` benchmark: a generated customer CSV (fixed seed, about 1 % bad rows of six
//! kinds, 1 % of the numbers already in the customer file) imported through the real API router
//! on SQLite and on PostgreSQL. Checks the counts and the error report against what was
//! generated, then prints rows per second for each engine.
//!
//! `cargo run --release -p switchboard-crm --example crm_import -- ROWS [sqlite,postgres]`

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_core::{E164, Role, SystemClock, TenantId, Timestamp};
use switchboard_crm::password::new_token;
use switchboard_crm::{ApiSettings, ApiState, router};
use switchboard_store::customers::{self, CustomerData};
use switchboard_store::testing::TestDb;
use switchboard_store::tokens::{self, NewToken, TokenKind};
use switchboard_store::users::{self, NewUser};
use switchboard_store::{Store, tenants};
use tower::ServiceExt;

const SEED: u64 = 20_261_124;
const ZONES: [&str; 4] = [
    "Asia/Shanghai",
    "Asia/Urumqi",
    "Europe/Berlin",
    "America/New_York",
];

/// The generated file and what importing it must report.
struct Generated {
    csv: String,
    rows: usize,
    /// (spreadsheet row, column) of every bad row, in row order.
    bad: Vec<(usize, &'static str)>,
    /// Numbers of rows that update a customer already stored.
    existing: Vec<String>,
}

fn generate(rows: usize) -> Generated {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut csv = String::from(
        "\u{feff}name,phones,time_zone,category,grade,key_customer,tags,estimated_value,do_not_call,custom.city\n",
    );
    let mut bad = Vec::new();
    let mut existing = Vec::new();
    let mut last_good_phone = String::new();
    for i in 0..rows {
        let row = i + 2;
        let phone = format!("+86138{i:08}");
        let mut name = format!("客户{i}");
        let mut phones = phone.clone();
        let mut zone = ZONES[rng.gen_range(0..ZONES.len())].to_owned();
        let mut category = if rng.gen_bool(0.5) {
            "customer"
        } else {
            "potential"
        }
        .to_owned();
        let mut value = format!("{}.{:02}", rng.gen_range(0..100_000), rng.gen_range(0..100));
        if rng.gen_bool(0.3) {
            phones.push_str(&format!("|+86139{i:08}"));
        }
        if rng.gen_bool(0.01) {
            let column = match rng.gen_range(0..6) {
                0 => {
                    phones = format!("0{i}");
                    "phones"
                }
                1 => {
                    zone = "Mars/Olympus".into();
                    "time_zone"
                }
                2 => {
                    category = "vip".into();
                    "category"
                }
                3 => {
                    name = String::new();
                    "name"
                }
                4 if !last_good_phone.is_empty() => {
                    phones = last_good_phone.clone();
                    "phones"
                }
                _ => {
                    value = "12.5x".into();
                    "estimated_value"
                }
            };
            bad.push((row, column));
        } else {
            last_good_phone = phone.clone();
            if rng.gen_bool(0.01) {
                existing.push(phone);
            }
        }
        let grade = ["A", "B", "C", ""][rng.gen_range(0..4)];
        let key = if rng.gen_bool(0.1) { "1" } else { "0" };
        let dnc = if rng.gen_bool(0.01) { "是" } else { "" };
        let city = ["上海", "北京", "深圳", "\"Zhuhai, Guangdong\""][rng.gen_range(0..4)];
        csv.push_str(&format!(
            "{name},{phones},{zone},{category},{grade},{key},spring|list-{},{value},{dnc},{city}\n",
            i % 7
        ));
    }
    Generated {
        csv,
        rows,
        bad,
        existing,
    }
}

struct Outcome {
    rows_per_sec: f64,
    seconds: f64,
}

async fn bench(store: Store, file: &Generated) -> Result<Outcome, String> {
    let tenant = TenantId::from("bench");
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    tenants::ensure_tenant(&store, &tenant, "Bench", now)
        .await
        .map_err(|e| fail(&e))?;
    let user = users::insert_user(
        &store,
        &NewUser {
            tenant_id: &tenant,
            username: "supervisor",
            display_name: "supervisor",
            role: Role::Supervisor,
            password_hash: "!",
        },
        now,
    )
    .await
    .map_err(|e| fail(&e))?;
    let (token, hash) = new_token();
    tokens::insert_token(
        &store,
        &NewToken {
            token_hash: &hash,
            tenant_id: &tenant,
            user_id: &user.id,
            kind: TokenKind::Session,
            label: "bench",
            expires_at: None,
        },
        now,
    )
    .await
    .map_err(|e| fail(&e))?;
    for phone in &file.existing {
        let phone = E164::parse(phone).map_err(|e| fail(&e))?;
        customers::create_customer(
            &store,
            &tenant,
            &CustomerData::potential(phone, "Asia/Shanghai"),
            now,
        )
        .await
        .map_err(|e| fail(&e))?;
    }
    let state = ApiState::new(
        store.clone(),
        Arc::new(SystemClock),
        ApiSettings {
            default_tenant: tenant.clone(),
            ..ApiSettings::default()
        },
    );
    let app = Router::new().nest("/api/v1", router(state));
    let call = |method: &str, path: &str, body: Body| {
        Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(body)
    };
    let started = Instant::now();
    let (status, body) = send(
        &app,
        call(
            "POST",
            "/customers/imports?tag=bench",
            Body::from(file.csv.clone()),
        )
        .map_err(|e| fail(&e))?,
    )
    .await?;
    if status != StatusCode::ACCEPTED {
        return Err(format!("upload answered {status}: {body}"));
    }
    let view: serde_json::Value = serde_json::from_str(&body).map_err(|e| fail(&e))?;
    let id = view["id"].as_str().ok_or("no import id")?.to_owned();
    let mut last_progress = -1;
    let done = loop {
        let (_, body) = send(
            &app,
            call("GET", &format!("/customers/imports/{id}"), Body::empty())
                .map_err(|e| fail(&e))?,
        )
        .await?;
        let view: serde_json::Value = serde_json::from_str(&body).map_err(|e| fail(&e))?;
        let processed = view["rows_processed"].as_i64().unwrap_or(0);
        if processed / 20_000 != last_progress / 20_000 {
            eprintln!(
                "  {processed}/{} rows after {:.1} s",
                view["rows_total"],
                started.elapsed().as_secs_f64()
            );
        }
        last_progress = processed;
        if view["state"] != "running" {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    verify(&done, file)?;
    let (_, report) = send(
        &app,
        call(
            "GET",
            &format!("/customers/imports/{id}/errors?format=csv"),
            Body::empty(),
        )
        .map_err(|e| fail(&e))?,
    )
    .await?;
    verify_report(&report, file)?;
    Ok(Outcome {
        rows_per_sec: file.rows as f64 / seconds,
        seconds,
    })
}

fn verify(done: &serde_json::Value, file: &Generated) -> Result<(), String> {
    let good = file.rows - file.bad.len();
    let want = [
        ("state", serde_json::json!("done")),
        ("rows_total", serde_json::json!(file.rows)),
        ("rows_processed", serde_json::json!(file.rows)),
        ("rows_failed", serde_json::json!(file.bad.len())),
        ("rows_updated", serde_json::json!(file.existing.len())),
        (
            "rows_created",
            serde_json::json!(good - file.existing.len()),
        ),
    ];
    for (key, value) in want {
        if done[key] != value {
            return Err(format!("{key} is {}, expected {value}: {done}", done[key]));
        }
    }
    Ok(())
}

fn verify_report(report: &str, file: &Generated) -> Result<(), String> {
    let mut reader = csv::Reader::from_reader(report.trim_start_matches('\u{feff}').as_bytes());
    let mut got = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let row: usize = record
            .get(0)
            .and_then(|r| r.parse().ok())
            .ok_or("bad row number in the report")?;
        got.push((row, record.get(1).unwrap_or("").to_owned()));
    }
    let want: Vec<(usize, String)> = file
        .bad
        .iter()
        .map(|(r, c)| (*r, (*c).to_owned()))
        .collect();
    if got != want {
        let first = got.iter().zip(&want).position(|(a, b)| a != b);
        return Err(format!(
            "the error report differs from the generated bad rows ({} vs {} entries; first difference at entry {first:?})",
            got.len(),
            want.len()
        ));
    }
    Ok(())
}

async fn send(app: &Router, req: Request<Body>) -> Result<(StatusCode, String), String> {
    let response = app.clone().oneshot(req).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let engines = args.next().unwrap_or_else(|| "sqlite,postgres".into());
    let file = generate(rows);
    eprintln!(
        "crm-import: {rows} rows ({:.1} MB), {} bad, {} already stored",
        file.csv.len() as f64 / 1e6,
        file.bad.len(),
        file.existing.len()
    );
    let mut figures = Vec::new();
    for engine in engines.split(',') {
        let db = match engine {
            "sqlite" => TestDb::sqlite().await,
            "postgres" => TestDb::postgres().await,
            other => {
                eprintln!("unknown engine {other}");
                return ExitCode::from(2);
            }
        };
        let result = bench(db.store.clone(), &file).await;
        db.cleanup().await;
        match result {
            Ok(o) => {
                println!(
                    "{engine}: {rows} rows in {:.2} s = {:.0} rows/s (counts and error report verified)",
                    o.seconds, o.rows_per_sec
                );
                figures.push((engine.to_owned(), o.rows_per_sec));
            }
            Err(e) => {
                eprintln!("{engine}: FAILED: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let figure = |name: &str| {
        figures
            .iter()
            .find(|(e, _)| e == name)
            .map_or("-".to_owned(), |(_, v)| format!("{v:.0}"))
    };
    println!(
        "crm-import: {} rows/s SQLite, {} rows/s PostgreSQL (target report)",
        figure("sqlite"),
        figure("postgres")
    );
    ExitCode::SUCCESS
}
