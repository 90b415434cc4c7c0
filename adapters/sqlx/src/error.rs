//! From sqlx errors to the application's [`RepositoryError`].

use payments_application::ports::RepositoryError;

/// Why [`crate::Database::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL names no supported backend.
    #[error("{0}")]
    UnsupportedUrl(String),
    /// The URL is malformed or the database cannot be opened or reached.
    #[error("cannot open the database: {0}")]
    Sqlx(#[from] sqlx::Error),
}

/// Which unique key a violation hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniqueKey {
    Vendor,
    Source,
    Other,
}

/// The unique key a database error violated, if it is a unique violation.
/// PostgreSQL names the constraint; SQLite names the columns in its message
/// (`UNIQUE constraint failed: payment_histories.vendor_code, ...`).
pub(crate) fn unique_violation(error: &sqlx::Error) -> Option<UniqueKey> {
    let sqlx::Error::Database(db) = error else { return None };
    if !db.is_unique_violation() {
        return None;
    }
    let name = db.constraint().unwrap_or_else(|| db.message());
    Some(if name.contains("vendor") {
        UniqueKey::Vendor
    } else if name.contains("source") {
        UniqueKey::Source
    } else {
        UniqueKey::Other
    })
}

/// Maps an error of an insert of a record unique on its vendor uid and source;
/// `what` is `payment` or `saved card`.
pub(crate) fn insert_error(error: sqlx::Error, what: &str, code: &str, uid: &str) -> RepositoryError {
    match unique_violation(&error) {
        Some(UniqueKey::Vendor) => {
            RepositoryError::Conflict(format!("vendor.uid: {what} {uid} of {code} is already registered"))
        }
        Some(UniqueKey::Source) => {
            RepositoryError::Conflict(format!("source: a {what} is already registered for this source"))
        }
        _ => db_err(error),
    }
}

/// SQLite primary result codes meaning "another connection holds the lock".
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;

/// Classifies any other sqlx error.
pub(crate) fn db_err(error: sqlx::Error) -> RepositoryError {
    use sqlx::Error as E;
    match &error {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
            RepositoryError::Unavailable(error.to_string())
        }
        E::Decode(_) | E::ColumnDecode { .. } | E::ColumnNotFound(_) | E::ColumnIndexOutOfBounds { .. } => {
            RepositoryError::Corrupt(anyhow::Error::new(error))
        }
        E::Database(db) => {
            if db.is_unique_violation() {
                return RepositoryError::Conflict(format!("already exists: {}", db.message()));
            }
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let unavailable = match db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // 08: connection exception; 53: insufficient resources;
                // 57P01-03: shutting down or starting up; 25006: a write on
                // a read-only server (a standby after a failover, or the
                // database set read-only): retry once a primary is back.
                Some(_) => {
                    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code == "25006"
                }
                // SQLite reports extended codes; the low byte is the primary one.
                None => code.parse::<i64>().is_ok_and(|c| matches!(c & 0xff, SQLITE_BUSY | SQLITE_LOCKED)),
            };
            if unavailable {
                RepositoryError::Unavailable(error.to_string())
            } else {
                RepositoryError::Other(anyhow::Error::new(error))
            }
        }
        _ => RepositoryError::Other(anyhow::Error::new(error)),
    }
}

/// A stored value that does not decrypt, verify or parse.
pub(crate) fn corrupt(what: impl std::fmt::Display, cause: impl std::fmt::Display) -> RepositoryError {
    RepositoryError::Corrupt(anyhow::anyhow!("{what}: {cause}"))
}
