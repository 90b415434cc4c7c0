//! A fresh database per test: a SQLite file in a temporary directory, or a
//! new PostgreSQL schema (`PAYMENT_TEST_POSTGRES_URL`), both migrated.

#![allow(dead_code)]

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use payments_crypto::Keyring;
use payments_domain::*;
use payments_sqlx::{AtRestKeys, Backend, Database, PoolConfig, Repositories};
use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// `suite!(a, b, ...)`: each `async fn a(db: &TestDb)` of the test file,
/// run once on SQLite and once on PostgreSQL (when configured), each bounded
/// by [`TEST_TIMEOUT`]. (`#[macro_use] mod harness;` in the test file.)
#[allow(unused_macros)] // spool.rs runs its own
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::harness::sqlite().await;
                    tokio::time::timeout(super::TEST_TIMEOUT, super::$name(&db)).await.expect("test timed out");
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::harness::postgres(stringify!($name)).await else { return };
                    tokio::time::timeout(super::TEST_TIMEOUT, super::$name(&db)).await.expect("test timed out");
                    db.cleanup().await;
                }
            )*
        }
    };
}

/// Every test is bounded by this.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A card number that must never reach the database in plaintext.
pub const CARD_NUMBER: &str = "4111111111111111";

pub struct TestDb {
    pub db: Database,
    pub repos: Repositories,
    pub keys: AtRestKeys,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(tempfile::TempDir),
    Postgres { url: String, schema: String },
}

pub fn config() -> PoolConfig {
    PoolConfig { max_connections: 4, acquire_timeout: Duration::from_secs(20), ..PoolConfig::default() }
}

pub fn keys(seed: u8) -> AtRestKeys {
    AtRestKeys {
        histories: Keyring::new(&[seed; 32], &[]).unwrap(),
        cancels: Keyring::new(&[seed.wrapping_add(1); 32], &[]).unwrap(),
        reservations: Keyring::new(&[seed.wrapping_add(2); 16], &[]).unwrap(),
    }
}

/// Keys whose current key is `seed`'s and which still open values of `old`.
pub fn rotated_keys(seed: u8, old: u8) -> AtRestKeys {
    AtRestKeys {
        histories: Keyring::new(&[seed; 32], &[&[old; 32]]).unwrap(),
        cancels: Keyring::new(&[seed.wrapping_add(1); 32], &[&[old.wrapping_add(1); 32]]).unwrap(),
        reservations: Keyring::new(&[seed.wrapping_add(2); 16], &[&[old.wrapping_add(2); 16]]).unwrap(),
    }
}

impl TestDb {
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Every byte the database holds, as text (SQLite: the database file and
    /// its WAL; PostgreSQL: every row of every table of the schema as text).
    pub async fn dump(&self) -> String {
        match (&self.db, &self.cleanup) {
            (Database::Sqlite(_), Cleanup::Sqlite(dir)) => {
                let mut all = Vec::new();
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    all.extend(std::fs::read(entry.unwrap().path()).unwrap());
                }
                String::from_utf8_lossy(&all).into_owned()
            }
            (Database::Postgres(pool), Cleanup::Postgres { schema, .. }) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
                )
                .bind(schema)
                .fetch_all(pool)
                .await
                .unwrap();
                assert!(tables.len() >= 8, "expected every table, got {tables:?}");
                let mut all = String::new();
                for table in tables {
                    let text: Option<String> =
                        sqlx::query_scalar(&format!("SELECT string_agg(t::text, E'\\n') FROM \"{table}\" t"))
                            .fetch_one(pool)
                            .await
                            .unwrap();
                    all.push_str(&text.unwrap_or_default());
                }
                all
            }
            _ => unreachable!(),
        }
    }

    /// Runs one statement (test-only tampering and counting).
    pub async fn execute(&self, sql: &str) -> u64 {
        match &self.db {
            Database::Sqlite(pool) => sqlx::query(sql).execute(pool).await.unwrap().rows_affected(),
            Database::Postgres(pool) => sqlx::query(sql).execute(pool).await.unwrap().rows_affected(),
        }
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// The one integer `sql` selects.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match &self.db {
            Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }

    /// A second pool on the same database (another process, or this one
    /// after a restart).
    pub async fn reconnect(&self) -> Database {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => {
                let url = format!("sqlite://{}", dir.path().join("payments.db").display());
                Database::connect(&url, &config()).await.unwrap()
            }
            Cleanup::Postgres { url, schema } => {
                let options = PgConnectOptions::from_str(url).unwrap().options([("search_path", schema.as_str())]);
                Database::connect_postgres(options, &config()).await.unwrap()
            }
        }
    }

    pub async fn cleanup(self) {
        self.db.close().await;
        if let Cleanup::Postgres { url, schema } = self.cleanup {
            // Best effort: a failed test leaves its schema for inspection.
            if let Ok(mut admin) = PgConnection::connect(&url).await {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin).await;
                let _ = admin.close().await;
            }
        }
    }
}

pub async fn sqlite() -> TestDb {
    sqlite_migrated_before(None).await
}

/// A SQLite database migrated up to the migrations older than `version`
/// (all of them for `None`).
pub async fn sqlite_migrated_before(version: Option<i64>) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("payments.db").display());
    let db = Database::connect(&url, &config()).await.unwrap();
    migrate(&db, version).await;
    let keys = keys(7);
    TestDb { repos: db.repositories(keys.clone()), db, keys, cleanup: Cleanup::Sqlite(dir) }
}

/// `None` (after saying so) when `PAYMENT_TEST_POSTGRES_URL` is unset; panics
/// when it is set but the server cannot be reached.
pub async fn postgres(test: &str) -> Option<TestDb> {
    postgres_migrated_before(test, None).await
}

/// As [`postgres`], migrated as [`sqlite_migrated_before`].
pub async fn postgres_migrated_before(test: &str, version: Option<i64>) -> Option<TestDb> {
    let Ok(url) = std::env::var("PAYMENT_TEST_POSTGRES_URL") else {
        eprintln!("PAYMENT_TEST_POSTGRES_URL is unset: PostgreSQL test {test} did NOT run");
        return None;
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = tokio::time::timeout(Duration::from_secs(20), PgConnection::connect(&url))
        .await
        .unwrap_or_else(|_| panic!("PAYMENT_TEST_POSTGRES_URL is set but PostgreSQL did not answer in time"))
        .unwrap_or_else(|e| panic!("PAYMENT_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e}"));
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    let options = PgConnectOptions::from_str(&url).unwrap().options([("search_path", schema.as_str())]);
    let db = Database::connect_postgres(options, &config()).await.unwrap();
    migrate(&db, version).await;
    let keys = keys(7);
    Some(TestDb { repos: db.repositories(keys.clone()), db, keys, cleanup: Cleanup::Postgres { url, schema } })
}

async fn migrate(db: &Database, before: Option<i64>) {
    match before {
        Some(version) => db.migrate_before(version).await.unwrap(),
        None => db.migrate().await.unwrap(),
    }
}

// ---------------------------------------------------------------------------
// Domain values
// ---------------------------------------------------------------------------

/// A time with milliseconds, `ms` after a fixed instant.
pub fn at(ms: i64) -> Timestamp {
    Utc.timestamp_millis_opt(1_700_000_000_123 + ms).unwrap()
}

pub fn now() -> Timestamp {
    to_millis(Utc::now())
}

pub fn money(text: &str) -> Money {
    text.parse().unwrap()
}

pub fn hash() -> PasswordHash {
    PasswordHash::parse("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap()
}

pub fn cancel(key: &str, price: &str, ms: i64) -> CancelHistory {
    CancelHistory {
        key: CancelKey::parse(key).unwrap(),
        price: money(price),
        reason: CancelReason::parse("customer asked").unwrap(),
        created_at: at(ms),
        data: json!({ "pg_tid": key, "card_number": CARD_NUMBER, "amount": serde_json::Number::from_str(price).unwrap() }),
    }
}

pub fn snapshot(price: &str, cancels: Vec<CancelHistory>) -> PaymentSnapshot {
    PaymentSnapshot {
        phase: PaymentPhase::Paid,
        pg_status: "paid".into(),
        order_id: None,
        currency: Currency::krw(),
        price: money(price),
        paid_at: Some(at(10)),
        cancelled_at: None,
        data: json!({
            "imp_uid": "imp",
            "card_number": CARD_NUMBER,
            "amount": serde_json::Number::from_str(price).unwrap(),
            "cancels": cancels.len(),
        }),
        cancels,
        pending_cancels: Vec::new(),
        failed_cancels: Vec::new(),
    }
}

/// A history of `price` registered for `uid` and source id `order`.
pub fn history(uid: &str, order: &str, price: &str, cancels: Vec<CancelHistory>) -> PaymentHistory {
    PaymentHistory::register(
        HistoryIdentity {
            id: HistoryId::from_uuid(uuid::Uuid::now_v7()),
            vendor: Vendor::parse("iamport", "store-1", uid).unwrap(),
            source: Source::parse("shop", "orders", order).unwrap(),
            webhook_url: WebhookUrl::parse("http://127.0.0.1:9/hook").unwrap(),
            created_at: at(0),
            reservation_id: None,
            client: ClientId::LEGACY,
        },
        PaymentSnapshot { order_id: Some(OrderId::parse(format!("pg-{order}")).unwrap()), ..snapshot(price, cancels) },
    )
    .unwrap()
}

pub fn reservation(uid: &str, customer: &str) -> SavedCard {
    SavedCard {
        client: ClientId::LEGACY,
        id: SavedCardId::from_uuid(uuid::Uuid::now_v7()),
        vendor: Vendor::parse("toss.payments", "store-1", uid).unwrap(),
        source: Source::parse("shop", "customers", customer).unwrap(),
        title: Title::parse("my card").unwrap(),
        data: json!({ "billingKey": uid, "card": { "number": CARD_NUMBER } }),
        key_digest: Some(payments_application::lookup_digest(uid)),
        created_at: at(5),
        removed_at: None,
    }
}

/// `previous` changed by the PG's `snapshot`; panics when nothing changed.
pub fn change(previous: &PaymentHistory, snapshot: PaymentSnapshot, ms: i64) -> (PaymentHistory, WebhookEvent) {
    let Applied::Changed(next) = previous.apply(snapshot).unwrap() else { panic!("expected a change") };
    let event = WebhookEvent::new(
        EventId::from_uuid(uuid::Uuid::now_v7()),
        previous.clone(),
        next.clone(),
        json!({ "imp_uid": "imp", "status": "cancelled", "card_number": CARD_NUMBER }),
        at(ms),
    )
    .unwrap();
    (next, event)
}

pub fn event_at(previous: &PaymentHistory, next: &PaymentHistory, created_at: DateTime<Utc>) -> WebhookEvent {
    WebhookEvent::new(
        EventId::from_uuid(uuid::Uuid::now_v7()),
        previous.clone(),
        next.clone(),
        json!({ "status": "paid" }),
        created_at,
    )
    .unwrap()
}
