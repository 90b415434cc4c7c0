//! Persistence for the payments server: every repository port of the
//! application over SQLite (a file; the embedded default) or PostgreSQL
//! (production, shared by several instances), behind the same traits.
//!
//! - Migrations per backend are embedded in the binary ([`Database::migrate`]);
//!   re-running them is a no-op.
//! - Money is exact: `NUMERIC` in PostgreSQL, the decimal text in SQLite.
//!   Timestamps are UTC at millisecond precision: `TIMESTAMPTZ(3)` in
//!   PostgreSQL, epoch milliseconds in SQLite.
//! - The PGs' JSON (`data` of histories, cancels and saved cards, the webhook
//!   snapshots and triggers), the receivers' answers to our webhooks and
//!   stored idempotent responses are sealed with
//!   the [`AtRestKeys`] (AES-GCM, a key id prefix, bound to column and row).
//!   [`Database::reencrypt_all`] re-seals values written under an older key.
//! - Passwords arrive already hashed (argon2id PHC strings); none is stored
//!   in plaintext.
//! - There is deliberately no query that lists histories or saved cards.

mod codec;
mod error;
mod postgres;
mod spool;
mod sqlite;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use payments_application::ports::{
    CancelIntentRepository, HistoryRepository, IdempotencyStore, NotificationInbox, SavedCardRepository, WebhookOutbox,
};
use payments_crypto::Keyring;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use error::ConnectError;
pub use payments_application::ports::RepositoryError;
pub use spool::{Spool, SpoolConfig, SpoolError};

/// The at-rest keyrings, one per table as the original keeps one key per table.
/// Webhook events and stored idempotent responses use the histories keyring,
/// each under its own context.
#[derive(Debug, Clone)]
pub struct AtRestKeys {
    /// `PAYMENT_HISTORY_ENCRYPTION_KEY`: `payment_histories.data`, webhook
    /// events and their delivery answers, idempotent responses.
    pub histories: Keyring,
    /// `PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY`: `payment_history_cancels.data`.
    pub cancels: Keyring,
    /// `PAYMENT_RESERVATION_ENCRYPTION_KEY`: `payment_reservations.data`.
    pub reservations: Keyring,
}

/// Pool sizing and waiting limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most connections open at once.
    pub max_connections: u32,
    /// Connections kept open while idle.
    pub min_connections: u32,
    /// How long a request waits for a free connection before `Unavailable`.
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for the write lock before
    /// failing with "database is locked".
    pub sqlite_busy_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Which backend a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to one of the two backends.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The repository ports over one database.
#[derive(Clone)]
pub struct Repositories {
    pub histories: Arc<dyn HistoryRepository>,
    pub intents: Arc<dyn CancelIntentRepository>,
    pub charges: Arc<dyn payments_application::ports::ChargeIntentRepository>,
    pub inbox: Arc<dyn NotificationInbox>,
    /// PG deliveries already answered (never spooled: a repeat the
    /// database cannot tell about is processed again).
    pub receipts: Arc<dyn payments_application::ports::NotificationReceipts>,
    pub attempts: Arc<dyn payments_application::ports::PasswordAttempts>,
    pub reservations: Arc<dyn SavedCardRepository>,
    pub outbox: Arc<dyn WebhookOutbox>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub orders: Arc<dyn payments_application::ports::OrderRepository>,
    pub clients: Arc<dyn payments_application::ports::ClientRepository>,
    pub operators: Arc<dyn payments_application::ports::OperatorRepository>,
    pub console: Arc<dyn payments_application::ports::ConsoleQueries>,
}

impl Repositories {
    fn over<S>(store: Arc<S>, spool: Option<Spool>) -> Self
    where
        S: spool::SealedInbox
            + HistoryRepository
            + CancelIntentRepository
            + payments_application::ports::ChargeIntentRepository
            + payments_application::ports::PasswordAttempts
            + payments_application::ports::NotificationReceipts
            + SavedCardRepository
            + WebhookOutbox
            + IdempotencyStore
            + payments_application::ports::OrderRepository
            + payments_application::ports::ClientRepository
            + payments_application::ports::OperatorRepository
            + payments_application::ports::ConsoleQueries
            + 'static,
    {
        let inbox: Arc<dyn NotificationInbox> = match spool {
            Some(spool) => Arc::new(spool::SpooledInbox::new(store.clone(), spool)),
            None => store.clone(),
        };
        Self {
            histories: store.clone(),
            intents: store.clone(),
            charges: store.clone(),
            inbox,
            receipts: store.clone(),
            attempts: store.clone(),
            reservations: store.clone(),
            outbox: store.clone(),
            orders: store.clone(),
            clients: store.clone(),
            operators: store.clone(),
            console: store.clone(),
            idempotency: store,
        }
    }
}

/// How many stored values [`Database::reencrypt_all`] re-sealed, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub histories: u64,
    pub cancels: u64,
    pub reservations: u64,
    pub webhook_events: u64,
    pub webhook_responses: u64,
    pub idempotency_keys: u64,
    /// PG notifications kept in the inbox.
    pub notifications: u64,
}

impl RotationReport {
    /// Rows re-sealed in all tables.
    pub fn total(&self) -> u64 {
        self.histories
            + self.cancels
            + self.reservations
            + self.webhook_events
            + self.webhook_responses
            + self.idempotency_keys
            + self.notifications
    }
}

/// Sealed values naming keys a keyring does not hold: how many, and which
/// key ids (never the keys: an id is a digest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnknownKeys {
    pub count: u64,
    pub key_ids: std::collections::BTreeSet<String>,
}

impl UnknownKeys {
    fn of<'a>(keyring: &Keyring, sealed: impl Iterator<Item = &'a str>) -> Self {
        let mut found = Self::default();
        for value in sealed.filter(|value| !keyring.knows(value)) {
            found.count += 1;
            found.key_ids.insert(Keyring::key_id(value).unwrap_or("(not a sealed value)").to_owned());
        }
        found
    }
}

/// The PG notifications an instance holds, acknowledged to their PG, that
/// its configured keys could not open: in its spool, and pending in the inbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanedNotifications {
    pub spooled: UnknownKeys,
    pub inbox: UnknownKeys,
}

impl OrphanedNotifications {
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.spooled.count == 0 && self.inbox.count == 0
    }
}

impl std::fmt::Display for OrphanedNotifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: std::collections::BTreeSet<&String> = self.spooled.key_ids.iter().chain(&self.inbox.key_ids).collect();
        write!(
            f,
            "{} PG notifications already acknowledged to their PG ({} in the spool, {} pending in the database) \
             are sealed with a histories key that is not configured (key id {}): put that key back in \
             PAYMENT_HISTORY_ENCRYPTION_PREVIOUS_KEYS until they are processed, or run `payments keys rotate` \
             with it there first (it moves the spool in and re-seals them)",
            self.spooled.count + self.inbox.count,
            self.spooled.count,
            self.inbox.count,
            ids.into_iter().map(String::as_str).collect::<Vec<_>>().join(", ")
        )
    }
}

/// A pooled PostgreSQL connection idle this long is pinged before use.
const PING_AFTER_IDLE: Duration = Duration::from_secs(10);
impl Database {
    /// Connects to `sqlite://path` (the file is created if missing; WAL mode,
    /// busy timeout, foreign keys) or `postgres://...` / `postgresql://...`.
    /// Does not migrate: call [`Database::migrate`].
    ///
    /// # Errors
    /// [`ConnectError::UnsupportedUrl`] for another scheme or an in-memory
    /// SQLite database (each pooled connection would see its own empty
    /// database); [`ConnectError::Sqlx`] when the URL is malformed or the
    /// server cannot be reached.
    pub async fn connect(url: &str, config: &PoolConfig) -> Result<Self, ConnectError> {
        if url.starts_with("sqlite:") {
            if url.contains(":memory:") || url.contains("mode=memory") {
                return Err(ConnectError::UnsupportedUrl(
                    "an in-memory SQLite database cannot be shared by a pool; use a file (sqlite://payments.db)".into(),
                ));
            }
            Self::connect_sqlite(SqliteConnectOptions::from_str(url)?, config).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(PgConnectOptions::from_str(url)?, config).await
        } else {
            let scheme: String = url.split(':').next().unwrap_or_default().chars().take(20).collect();
            Err(ConnectError::UnsupportedUrl(format!(
                "unsupported database URL scheme {scheme:?}; expected sqlite:// or postgres://"
            )))
        }
    }

    /// Opens a SQLite file with the settings every connection needs (created
    /// if missing, WAL, `synchronous = NORMAL`, busy timeout, foreign keys).
    ///
    /// # Errors
    /// [`ConnectError::Sqlx`] when the file cannot be opened.
    pub async fn connect_sqlite(options: SqliteConnectOptions, config: &PoolConfig) -> Result<Self, ConnectError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(config.sqlite_busy_timeout)
            .foreign_keys(true);
        // A connection to a local file does not go stale: no ping (a round
        // trip to the connection's thread) before each use.
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(config.max_connections.max(1))
            .min_connections(config.min_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(Self::Sqlite(pool))
    }

    /// Connects to PostgreSQL; the pool opens one connection at once so an
    /// unreachable server fails here rather than at the first request.
    ///
    /// # Errors
    /// [`ConnectError::Sqlx`] when the server cannot be reached.
    pub async fn connect_postgres(options: PgConnectOptions, config: &PoolConfig) -> Result<Self, ConnectError> {
        // sqlx pings every connection before handing it out: a round trip
        // (and server CPU) per query, over a tenth of the webhook path's
        // time. Only a connection idle long enough to have been dropped by
        // the server or a proxy is pinged; a connection that broke while in
        // use fails its query, and the pool replaces it.
        let pool = PgPoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        sqlx::Connection::ping(connection).await?;
                    }
                    Ok(true)
                })
            })
            .max_connections(config.max_connections.max(1))
            .min_connections(config.min_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(Self::Postgres(pool))
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend not applied yet (a
    /// no-op when all are).
    ///
    /// # Errors
    /// When a migration fails or an applied one was changed since.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Self::Sqlite(pool) => migrate_sqlite(pool, sqlx::migrate!("./migrations/sqlite")).await,
            Self::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await,
        }
    }

    /// Applies only the embedded migrations older than `version`: a database
    /// as a server of that time left it, for tests of an upgrade.
    ///
    /// # Errors
    /// As [`Database::migrate`].
    #[doc(hidden)]
    pub async fn migrate_before(&self, version: i64) -> Result<(), sqlx::migrate::MigrateError> {
        use sqlx::migrate::Migrator;
        let older = |all: Migrator| Migrator {
            migrations: all.migrations.iter().filter(|m| m.version < version).cloned().collect::<Vec<_>>().into(),
            ..all
        };
        match self {
            Self::Sqlite(pool) => migrate_sqlite(pool, older(sqlx::migrate!("./migrations/sqlite"))).await,
            Self::Postgres(pool) => older(sqlx::migrate!("./migrations/postgres")).run(pool).await,
        }
    }

    /// The repository ports over this database, sealing with `keys`. On
    /// SQLite each call opens one writer connection of its own (writes of one
    /// set of repositories queue in order; two sets in one process meet like
    /// two processes, through the busy timeout): call it once per process.
    pub fn repositories(&self, keys: AtRestKeys) -> Repositories {
        self.repositories_spooled(keys, None)
    }

    /// [`repositories`](Self::repositories) whose inbox falls back to `spool`
    /// when the database cannot take a PG notification (see [`Spool`]).
    pub fn repositories_spooled(&self, keys: AtRestKeys, spool: Option<Spool>) -> Repositories {
        let keys = Arc::new(keys);
        match self {
            Self::Sqlite(pool) => Repositories::over(Arc::new(sqlite::Store::new(pool.clone(), keys)), spool),
            Self::Postgres(pool) => Repositories::over(Arc::new(postgres::Store::new(pool.clone(), keys)), spool),
        }
    }

    /// Re-seals under the current keys every stored value sealed with an older
    /// one (the `keys rotate` command). Safe while the server runs: each row
    /// is replaced only if it did not change meanwhile. Rows are read in
    /// pages, never all at once.
    ///
    /// # Errors
    /// `Corrupt` naming the row when a value opens with none of the keys
    /// (nothing after it is re-sealed); `Unavailable` when the database is down.
    pub async fn reencrypt_all(&self, keys: &AtRestKeys) -> Result<RotationReport, RepositoryError> {
        match self {
            Self::Sqlite(pool) => sqlite::Store::new(pool.clone(), Arc::new(keys.clone())).reencrypt_all().await,
            Self::Postgres(pool) => postgres::Store::new(pool.clone(), Arc::new(keys.clone())).reencrypt_all().await,
        }
    }

    /// The PG notifications this instance holds (its spool, the pending
    /// inbox) that `keys` cannot open: start-up refuses to run without the
    /// key that seals them, since they were acknowledged to their PG.
    ///
    /// # Errors
    /// `Unavailable` when the database is down or the spool cannot be read.
    pub async fn orphaned_notifications(
        &self,
        keys: &AtRestKeys,
        spool: Option<&Spool>,
    ) -> Result<OrphanedNotifications, RepositoryError> {
        let spooled = match spool {
            Some(spool) => spool
                .records_under_unknown_keys(&keys.histories)
                .await
                .map_err(|e| RepositoryError::Unavailable(format!("notification spool: {e}")))?,
            None => UnknownKeys::default(),
        };
        let keys = Arc::new(keys.clone());
        let inbox = match self {
            Self::Sqlite(pool) => sqlite::Store::new(pool.clone(), keys).pending_under_unknown_keys().await?,
            Self::Postgres(pool) => postgres::Store::new(pool.clone(), keys).pending_under_unknown_keys().await?,
        };
        Ok(OrphanedNotifications { spooled, inbox })
    }

    /// Moves `spool`'s records into the database (as the server does when
    /// the database is back), so `keys rotate` re-seals them; how many.
    ///
    /// # Errors
    /// `Unavailable` when the database or the spool fails (nothing is lost:
    /// the spool keeps what was not moved).
    pub async fn move_spool_in(&self, keys: &AtRestKeys, spool: &Spool) -> Result<usize, RepositoryError> {
        let keys = Arc::new(keys.clone());
        let now = payments_domain::to_millis(chrono::Utc::now());
        match self {
            Self::Sqlite(pool) => {
                spool::SpooledInbox::new(Arc::new(sqlite::Store::new(pool.clone(), keys)), spool.clone())
                    .move_spooled(now)
                    .await
            }
            Self::Postgres(pool) => {
                spool::SpooledInbox::new(Arc::new(postgres::Store::new(pool.clone(), keys)), spool.clone())
                    .move_spooled(now)
                    .await
            }
        }
    }

    /// The pool's connections now: `(in use, idle)`.
    pub fn pool_usage(&self) -> (u32, u32) {
        let (size, idle) = match self {
            Self::Sqlite(pool) => (pool.size(), pool.num_idle()),
            Self::Postgres(pool) => (pool.size(), pool.num_idle()),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        (size.saturating_sub(idle), idle)
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Runs SQLite migrations on one connection with its foreign keys off, as
/// SQLite's procedure for changing a table's constraints requires (a table
/// is rebuilt: a new one filled from the old, the old dropped, the new
/// renamed; with foreign keys on, the drop would cascade to the rows that
/// refer to the table). The pragma has no effect inside a transaction, and
/// each migration runs in one: it is set on the connection before. When
/// migrations were applied, no row may refer to a row that does not exist
/// that did not before (`foreign_key_check` before and after: a database
/// with nothing to apply is not scanned, and one with dangling rows of its
/// own is not refused for them).
/// Rows referring to rows that do not exist (`PRAGMA foreign_key_check`).
async fn dangling_rows(conn: &mut sqlx::SqliteConnection) -> Result<usize, sqlx::Error> {
    Ok(sqlx::query("PRAGMA foreign_key_check").fetch_all(conn).await?.len())
}

async fn migrate_sqlite(
    pool: &SqlitePool,
    migrator: sqlx::migrate::Migrator,
) -> Result<(), sqlx::migrate::MigrateError> {
    use sqlx::migrate::MigrateError;
    let mut conn = pool.acquire().await?;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut *conn)
        .await
        .unwrap_or(0);
    if usize::try_from(applied).is_ok_and(|applied| applied >= migrator.iter().count()) {
        // Nothing to apply (the migrator still checks what was applied).
        return migrator.run_direct(&mut *conn).await;
    }
    let before = dangling_rows(&mut conn).await?;
    sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await?;
    let migrated = migrator.run_direct(&mut *conn).await;
    let after = dangling_rows(&mut conn).await;
    let restored = sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await;
    if restored.is_err() {
        // A pooled connection must never serve without its foreign keys.
        conn.detach();
    }
    migrated?;
    let after = after?;
    if after > before {
        return Err(MigrateError::Execute(sqlx::Error::Protocol(format!(
            "the migrations left {} row(s) referring to rows that do not exist (PRAGMA foreign_key_check)",
            after - before
        ))));
    }
    restored?;
    Ok(())
}
