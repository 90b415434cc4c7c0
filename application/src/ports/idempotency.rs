//! Answers kept per `Idempotency-Key`.

use async_trait::async_trait;
use payments_domain::Timestamp;

use super::storage::RepositoryError;

/// A response kept for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// The plaintext JSON body (stored encrypted).
    pub body: String,
}

/// What a request carrying an idempotency key should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First time: go ahead, then call `complete` (or `abandon`).
    Proceed,
    /// Done before with the same body: answer this again.
    Replay(StoredResponse),
    /// Another request with this key is running now.
    InProgress,
    /// The key was used with a different body.
    Mismatch,
}

/// Stored idempotency keys, shared by every instance of the server.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` within `scope` (the route) for a request whose body hashes
    /// to `fingerprint`. A claim of the same body still unanswered since before
    /// `stale_before` belonged to a process that died: it is taken over (`Proceed`).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
        stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, RepositoryError>;

    /// Stores the answer to replay.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn complete(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<(), RepositoryError>;

    /// Forgets a claim whose request failed in a way worth retrying.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn abandon(&self, scope: &str, key: &str) -> Result<(), RepositoryError>;

    /// Deletes keys created before `cutoff`; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;
}
