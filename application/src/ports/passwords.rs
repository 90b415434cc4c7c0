//! Record passwords: hashing, and wrong attempts counted per record.

use std::time::Duration;

use async_trait::async_trait;
use payments_domain::{HistoryId, OperatorId, Password, PasswordHash, PaymentOrderId, SavedCardId, Timestamp};

use super::storage::RepositoryError;

/// Which record a password opens (the key of its failure count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordRecord {
    History(HistoryId),
    SavedCard(SavedCardId),
    Order(PaymentOrderId),
    /// An operator's sign-in (password and second factor).
    Operator(OperatorId),
}

impl PasswordRecord {
    /// `history:<uuid>`, `reservation:<uuid>`, `order:<uuid>` or `operator:<uuid>`.
    pub fn key(&self) -> String {
        match self {
            Self::History(id) => format!("history:{}", id.as_uuid()),
            Self::SavedCard(id) => format!("reservation:{}", id.as_uuid()),
            Self::Order(id) => format!("order:{}", id.as_uuid()),
            Self::Operator(id) => format!("operator:{}", id.as_uuid()),
        }
    }
}

/// The wrong passwords of one record, as counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PasswordFailures {
    /// Failures in the current window.
    pub failures: u32,
    /// Times the record was locked since its last right password.
    pub lockouts: u32,
    /// Until when the record is locked, checking nothing.
    pub locked_until: Option<Timestamp>,
}

/// Wrong passwords counted per record, in the database (so every instance
/// sees the same count).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordAttempts: Send + Sync {
    /// The record's count (all zero when it has none).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn failures(&self, record: PasswordRecord) -> Result<PasswordFailures, RepositoryError>;

    /// Counts one wrong password at `now`: in the window that began at the
    /// first failure still younger than `window`, else in a new one.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn fail(
        &self,
        record: PasswordRecord,
        now: Timestamp,
        window: Duration,
    ) -> Result<PasswordFailures, RepositoryError>;

    /// Locks the record until `until` and starts a new window (one more lockout).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn lock(&self, record: PasswordRecord, until: Timestamp) -> Result<(), RepositoryError>;

    /// Forgets the record's failures (its right password was given).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn clear(&self, record: PasswordRecord) -> Result<(), RepositoryError>;

    /// Removes counts neither locked nor counting since `cutoff`.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;
}

/// What a [`PasswordHasher`] fails with when its queue is full: the request
/// is refused at once instead of waiting behind the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks at once; retry shortly")]
pub struct HasherBusy;

/// Slow password hashing (argon2id). Implementations run off the async
/// executor and bound how many hashes run at once.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// # Errors
    /// Only on an internal failure of the hasher.
    async fn hash(&self, password: &Password) -> anyhow::Result<PasswordHash>;

    /// Constant-time check of `password` against `hash`.
    ///
    /// # Errors
    /// Only when `hash` is not a hash this hasher can read.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> anyhow::Result<bool>;
}
