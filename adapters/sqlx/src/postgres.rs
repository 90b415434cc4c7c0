//! The repositories over PostgreSQL: UUID, NUMERIC and TIMESTAMPTZ(3)
//! columns. A change is guarded by the history's revision (`UPDATE ... WHERE
//! revision = $n`, which also row-locks it until commit); the outbox claim
//! uses `FOR UPDATE SKIP LOCKED` so several instances share the queue.

type Db = sqlx::Postgres;
type DbPool = sqlx::PgPool;
type DbRow = sqlx::postgres::PgRow;

type IdCol = uuid::Uuid;
fn id_col(id: uuid::Uuid) -> IdCol {
    id
}
fn from_id(col: IdCol) -> uuid::Uuid {
    col
}

type TsCol = payments_domain::Timestamp;
fn ts_col(at: payments_domain::Timestamp) -> TsCol {
    payments_domain::to_millis(at)
}
#[allow(clippy::unnecessary_wraps)] // same signature as the SQLite decoder
fn from_ts(at: TsCol) -> Result<payments_domain::Timestamp, payments_application::ports::RepositoryError> {
    Ok(payments_domain::to_millis(at))
}

type MoneyCol = rust_decimal::Decimal;
fn money_col(amount: payments_domain::Money) -> MoneyCol {
    amount.amount()
}
fn from_money(amount: MoneyCol) -> Result<payments_domain::Money, payments_application::ports::RepositoryError> {
    payments_domain::Money::new(amount).map_err(|e| crate::error::corrupt("amount", e))
}

/// A SELECT expression summing `column` (NUMERIC: exact).
fn money_sum_sql(column: &str, alias: &str) -> String {
    format!("SUM({column}) AS {alias}_sum")
}
fn from_money_sum(
    row: &DbRow,
    alias: &str,
) -> Result<payments_domain::Money, payments_application::ports::RepositoryError> {
    use sqlx::Row as _;
    let sum: Option<rust_decimal::Decimal> =
        row.try_get(format!("{alias}_sum").as_str()).map_err(|e| crate::error::corrupt("a sum of amounts", e))?;
    payments_domain::Money::new(sum.unwrap_or_default().normalize())
        .map_err(|e| crate::error::corrupt("a sum of amounts", e))
}

const BEGIN_WRITE: &str = "BEGIN";
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// Many writers at once, each locking only the rows it changes: writes share
/// the pool.
fn writer_pool(pool: &DbPool) -> DbPool {
    pool.clone()
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
