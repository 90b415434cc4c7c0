//! The repositories over SQLite: UUIDs as hyphenated text, money as its exact
//! decimal text, timestamps as epoch milliseconds (so `<=` compares times).
//! Write transactions start with `BEGIN IMMEDIATE`, taking the database's
//! write lock at once (waiting up to the busy timeout), so concurrent writers
//! queue instead of failing mid-transaction.

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

const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
/// SQLite has one writer at a time: the claiming statement runs under the
/// write lock, so no row lock is needed.
const SKIP_LOCKED: &str = "";
/// One writer at a time: this process queues its writers itself.
const SINGLE_WRITER: bool = true;

// The repositories themselves, written once for both backends over the
// definitions above (compiled once per backend, hence the lint).
#[allow(clippy::duplicate_mod)]
#[path = "store.rs"]
mod store;
pub(crate) use store::Store;
