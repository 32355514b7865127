//! Test support: a fresh, migrated database per test on either engine.
//!
//! SQLite gets a file in a temporary directory. PostgreSQL gets its own schema in the database
//! named by `SWITCHBOARD_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`), so tests
//! run in parallel without seeing each other. PostgreSQL being unreachable is a test failure with
//! a message saying so — never a silent skip.
//!
//! ```ignore
//! async fn users_are_found_by_name(store: Store) { /* ... */ }
//! switchboard_store::both_engines!(users_are_found_by_name);
//! ```

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Store;

pub const PG_URL_ENV: &str = "SWITCHBOARD_TEST_PG_URL";
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA_PREFIX: &str = "sbtest_";
/// Schemas left behind by crashed test runs are dropped once older than this.
const STALE_AFTER_SECS: u64 = 3600;

/// The PostgreSQL URL tests use.
pub fn pg_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    /// For SQLite: the directory holding the file (deleted on drop).
    pub dir: Option<tempfile::TempDir>,
    pg: Option<(Store, String)>,
    /// A URL that reaches this same database (for a second process or a second pool).
    pub url: String,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url)
            .await
            .expect("open a SQLite test database");
        store
            .migrate()
            .await
            .expect("migrate the SQLite test database");
        TestDb {
            store,
            dir: Some(dir),
            pg: None,
            url,
        }
    }

    /// Panics with a clear message when PostgreSQL cannot be reached.
    pub async fn postgres() -> TestDb {
        let base = pg_url();
        let admin = match Store::connect(&base).await {
            Ok(s) => s,
            Err(e) => panic!(
                "PostgreSQL is required for the store tests but is unreachable at {base} ({e}). \
                 Start it (pg_ctlcluster <version> main start) or set {PG_URL_ENV}."
            ),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        drop_stale_schemas(&admin, now).await;
        let schema = format!("{SCHEMA_PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(admin.pool())
            .await
            .expect("create a test schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let store = Store::connect(&url)
            .await
            .expect("connect to the test schema");
        store
            .migrate()
            .await
            .expect("migrate the PostgreSQL test schema");
        TestDb {
            store,
            dir: None,
            pg: Some((admin, schema)),
            url,
        }
    }

    /// Closes the pool and, on PostgreSQL, drops the test schema.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((admin, schema)) = self.pg {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(admin.pool())
                .await;
            admin.close().await;
        }
    }
}

async fn drop_stale_schemas(admin: &Store, now_secs: u64) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'sbtest\\_%'",
    )
    .fetch_all(admin.pool())
    .await
    .unwrap_or_default();
    for name in names {
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|c| c + STALE_AFTER_SECS < now_secs) {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .execute(admin.pool())
                .await;
        }
    }
}

pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDb::sqlite().await;
    body(db.store.clone()).await;
    db.cleanup().await;
}

pub async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDb::postgres().await;
    body(db.store.clone()).await;
    db.cleanup().await;
}

/// Runs `async fn NAME(store: Store)` as two tests, `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    $crate::testing::on_sqlite(super::$name).await
                }
                #[tokio::test]
                async fn postgres() {
                    $crate::testing::on_postgres(super::$name).await
                }
            }
        )+
    };
}

/// Test time: `secs` seconds after 2027-01-15T08:00:00Z (a fixed, obviously-test instant).
pub fn t(secs: i64) -> switchboard_core::Timestamp {
    switchboard_core::Timestamp::from_secs(1_800_000_000 + secs)
}

/// Creates tenant `id` (a no-op when it exists) and returns its id.
pub async fn tenant(store: &Store, id: &str) -> switchboard_core::TenantId {
    let id = switchboard_core::TenantId::from(id);
    crate::tenants::ensure_tenant(store, &id, "Test shop", t(0))
        .await
        .expect("create the test tenant");
    id
}
