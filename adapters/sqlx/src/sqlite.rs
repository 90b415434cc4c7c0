//! The repositories over SQLite: UUIDs as hyphenated text, money as its exact
//! decimal text, timestamps as epoch milliseconds (so `<=` compares times).
//! Writes go through a single connection of their own ([`writer_pool`]);
//! write transactions start with `BEGIN IMMEDIATE`, taking the database's
//! write lock at once (another process's writer is waited for up to the busy
//! timeout) instead of failing mid-transaction.

type Db = sqlx::Sqlite;
type DbPool = sqlx::SqlitePool;
type DbRow = sqlx::sqlite::SqliteRow;

type IdCol = uuid::fmt::Hyphenated;
fn id_col(id: uuid::Uuid) -> IdCol {
    id.hyphenated()
}
fn from_id(col: IdCol) -> uuid::Uuid {
    col.into_uuid()
}

type TsCol = i64;
fn ts_col(at: payments_domain::Timestamp) -> TsCol {
    at.timestamp_millis()
}
fn from_ts(millis: TsCol) -> Result<payments_domain::Timestamp, payments_application::ports::RepositoryError> {
    chrono::DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| crate::error::corrupt("timestamp", format!("{millis} ms is out of range")))
}

type MoneyCol = String;
fn money_col(amount: payments_domain::Money) -> MoneyCol {
    amount.to_string()
}
fn from_money(text: MoneyCol) -> Result<payments_domain::Money, payments_application::ports::RepositoryError> {
    text.parse().map_err(|e| crate::error::corrupt("amount", e))
}

/// Decimal places a sum of amounts keeps exactly ([`money_sum_sql`]).
const SUM_DECIMALS: u32 = 9;

/// SELECT expressions summing the decimal text of `column` exactly: its
/// whole parts and its fractions (as billionths) as two integer sums, and the
/// longest fraction (SQLite would sum the text as floats).
fn money_sum_sql(column: &str, alias: &str) -> String {
    // Whole amounts (most) take the cheap path: no string work.
    let dot = format!("instr({column}, '.')");
    format!(
        "SUM(CASE WHEN {dot} = 0 THEN CAST({column} AS INTEGER) \
         ELSE CAST(substr({column}, 1, {dot} - 1) AS INTEGER) END) AS {alias}_whole, \
         SUM(CASE WHEN {dot} = 0 THEN 0 \
         ELSE CAST(substr(substr({column}, {dot} + 1) || '000000000', 1, {SUM_DECIMALS}) AS INTEGER) END) \
         AS {alias}_fraction, \
         MAX(CASE WHEN {dot} = 0 THEN 0 ELSE length({column}) - {dot} END) AS {alias}_digits"
    )
}
fn from_money_sum(
    row: &DbRow,
    alias: &str,
) -> Result<payments_domain::Money, payments_application::ports::RepositoryError> {
    use sqlx::Row as _;
    let get = |suffix: &str| {
        row.try_get::<Option<i64>, _>(format!("{alias}_{suffix}").as_str())
            .map_err(|e| crate::error::corrupt("a sum of amounts", e))
    };
    if get("digits")?.unwrap_or(0) > i64::from(SUM_DECIMALS) {
        return Err(crate::error::corrupt(
            "a sum of amounts",
            format!("an amount has more than {SUM_DECIMALS} decimals"),
        ));
    }
    let whole = rust_decimal::Decimal::from(get("whole")?.unwrap_or(0));
    let fraction = rust_decimal::Decimal::new(get("fraction")?.unwrap_or(0), SUM_DECIMALS);
    payments_domain::Money::new((whole + fraction).normalize())
        .map_err(|e| crate::error::corrupt("a sum of amounts", e))
}

const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
/// SQLite has one writer at a time: the claiming statement runs under the
/// write lock, so no row lock is needed.
const SKIP_LOCKED: &str = "";

/// SQLite takes one writer at a time. Its busy handler makes a second writer
/// sleep and poll (1, 2, 5 ... 100 ms), which under load turns into long,
/// unfair waits; so this process's writes go through one connection of their
/// own, queued (in order) on its pool, while reads use the main pool. A
/// writer also never waits for a connection that readers hold. Other
/// processes on the same file still meet the busy timeout.
/// It closes when `pool` closes.
fn writer_pool(pool: &DbPool) -> DbPool {
    let writer = sqlx::sqlite::SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(1)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .connect_lazy_with(pool.connect_options().as_ref().clone());
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let (closing, writer) = (pool.close_event(), writer.clone());
        runtime.spawn(async move {
            closing.await;
            writer.close().await;
        });
    }
    writer
}

// The repositories themselves, written once for both backends over the
// definitions above (compiled once per backend, hence the lint).
#[allow(clippy::duplicate_mod)]
#[path = "store.rs"]
mod store;
pub(crate) use store::Store;
#[allow(clippy::duplicate_mod)]
#[path = "attempts.rs"]
mod attempts;
#[allow(clippy::duplicate_mod)]
#[path = "charges.rs"]
mod charges;
#[allow(clippy::duplicate_mod)]
#[path = "clients.rs"]
mod clients;
#[allow(clippy::duplicate_mod)]
#[path = "console.rs"]
mod console;
#[allow(clippy::duplicate_mod)]
#[path = "histories.rs"]
mod histories;
#[allow(clippy::duplicate_mod)]
#[path = "idempotency.rs"]
mod idempotency;
#[allow(clippy::duplicate_mod)]
#[path = "inbox.rs"]
mod inbox;
#[allow(clippy::duplicate_mod)]
#[path = "intents.rs"]
mod intents;
#[allow(clippy::duplicate_mod)]
#[path = "operators.rs"]
mod operators;
#[allow(clippy::duplicate_mod)]
#[path = "orders.rs"]
mod orders;
#[allow(clippy::duplicate_mod)]
#[path = "outbox.rs"]
mod outbox;
#[allow(clippy::duplicate_mod)]
#[path = "receipts.rs"]
mod receipts;
#[allow(clippy::duplicate_mod)]
#[path = "rotation.rs"]
mod rotation;
#[allow(clippy::duplicate_mod)]
#[path = "saved_cards.rs"]
mod saved_cards;
