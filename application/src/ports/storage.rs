//! Payment histories and saved cards, stored.

use async_trait::async_trait;
use payments_domain::{
    ClientId, HistoryId, OrderId, PasswordHash, PaymentHistory, SavedCard, SavedCardId, Source, Timestamp, VendorCode,
    VendorUid, WebhookEvent,
};

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A unique key is taken; the message names which (vendor uid or source).
    #[error("{0}")]
    Conflict(String),
    /// The record changed since it was read (optimistic concurrency).
    #[error("the record changed since it was read")]
    Stale,
    /// The database cannot be reached or is shutting down; retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored value does not decrypt, verify or parse.
    #[error("stored data is corrupt")]
    Corrupt(#[source] anyhow::Error),
    /// Anything else.
    #[error(transparent)]
    Other(anyhow::Error),
}

/// The version of a stored history, bumped by every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(pub i64);

/// A history as stored: the record, its password hash and its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredHistory {
    pub history: PaymentHistory,
    pub password_hash: PasswordHash,
    pub revision: Revision,
}

/// A saved card as stored, with its password hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSavedCard {
    pub reservation: SavedCard,
    pub password_hash: PasswordHash,
}

/// Payment histories. Values are plain domain values: encryption at rest is
/// the implementation's business. There is deliberately no way to list records.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HistoryRepository: Send + Sync {
    /// Stores a newly registered history (revision 0).
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when its `(vendor code, uid)` or its
    /// source is taken; `Unavailable` when the database is down.
    async fn insert(&self, history: &PaymentHistory, password_hash: &PasswordHash) -> Result<(), RepositoryError>;

    /// # Errors
    /// `Unavailable`, or `Corrupt` when the stored row does not decrypt.
    async fn find_by_id(&self, id: HistoryId) -> Result<Option<StoredHistory>, RepositoryError>;

    /// The payment `client` registered for `source` (sources are unique per
    /// client: two clients may each have their own `shop/orders/1`).
    ///
    /// # Errors
    /// As [`HistoryRepository::find_by_id`].
    async fn find_by_source(&self, client: ClientId, source: &Source)
    -> Result<Option<StoredHistory>, RepositoryError>;

    /// # Errors
    /// As [`HistoryRepository::find_by_id`].
    async fn find_by_vendor(&self, code: VendorCode, uid: &VendorUid)
    -> Result<Option<StoredHistory>, RepositoryError>;

    /// The ids of the histories the reconciler re-reads, after `after`, in id
    /// order, at most `limit`: those not final (a payment not paid yet) and
    /// those registered or changed since `since`.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn reconcile_candidates(
        &self,
        since: Timestamp,
        after: Option<HistoryId>,
        limit: u32,
    ) -> Result<Vec<HistoryId>, RepositoryError>;

    /// The histories of `code` whose PG order id is `order_id` (unique per
    /// store, so at most a few across stores), at most `limit`.
    ///
    /// # Errors
    /// As [`HistoryRepository::find_by_id`].
    async fn find_by_order(
        &self,
        code: VendorCode,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<StoredHistory>, RepositoryError>;

    /// The history of `code` one of whose cancels carries the PG's key `key`
    /// (Toss `transactionKey`): a cancel recorded, or one asked here whose
    /// intent holds that key (a cancel the PG accepted and completes later).
    ///
    /// # Errors
    /// As [`HistoryRepository::find_by_id`].
    async fn find_by_cancel_key(
        &self,
        code: VendorCode,
        key: &payments_domain::CancelKey,
    ) -> Result<Option<StoredHistory>, RepositoryError>;

    /// Atomically, and only if the history is still at `expected`: writes
    /// `next` (bumping the revision), inserts its cancels not yet stored,
    /// records `event`, and enqueues the event's delivery, due now. All or
    /// nothing.
    ///
    /// # Errors
    /// [`RepositoryError::Stale`] when another change came first (nothing is
    /// written); `Unavailable` when the database is down.
    async fn save_change(
        &self,
        expected: Revision,
        next: &PaymentHistory,
        event: &WebhookEvent,
    ) -> Result<(), RepositoryError>;

    /// As [`save_change`](Self::save_change), with the event's delivery
    /// enqueued already leased under `lease`: the process that commits it
    /// hands the job to its own delivery worker in memory, no claim needed,
    /// and any instance takes it once the lease runs out (that process died).
    /// Answers whether it was leased; a repository that cannot lease enqueues
    /// it unleased, as `save_change` does, and answers `false`.
    ///
    /// # Errors
    /// As [`save_change`](Self::save_change).
    async fn save_change_leased(
        &self,
        expected: Revision,
        next: &PaymentHistory,
        event: &WebhookEvent,
        lease: super::outbox::EnqueueLease,
    ) -> Result<bool, RepositoryError> {
        let _ = lease;
        self.save_change(expected, next, event).await.map(|()| false)
    }
}

/// Saved cards. No listing either.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SavedCardRepository: Send + Sync {
    /// Marks removed, at `at`, the saved cards of `code` whose key digest is
    /// `key_digest` and that are not removed yet; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn mark_removed(&self, code: VendorCode, key_digest: &str, at: Timestamp) -> Result<u64, RepositoryError>;

    /// Marks the saved card removed at `at` (unless it was already) and
    /// replaces its PG data with `reservation.data` (the charging key erased);
    /// `false` when no such record exists.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn remove(&self, reservation: &SavedCard, at: Timestamp) -> Result<bool, RepositoryError>;

    /// # Errors
    /// [`RepositoryError::Conflict`] when its `(vendor code, uid)` or its source is taken.
    async fn insert(&self, reservation: &SavedCard, password_hash: &PasswordHash) -> Result<(), RepositoryError>;

    /// # Errors
    /// `Unavailable`, or `Corrupt` when the stored row does not decrypt.
    async fn find_by_id(&self, id: SavedCardId) -> Result<Option<StoredSavedCard>, RepositoryError>;

    /// The card `client` saved for `source` (unique per client).
    ///
    /// # Errors
    /// As [`SavedCardRepository::find_by_id`].
    async fn find_by_source(
        &self,
        client: ClientId,
        source: &Source,
    ) -> Result<Option<StoredSavedCard>, RepositoryError>;

    /// # Errors
    /// As [`SavedCardRepository::find_by_id`].
    async fn find_by_vendor(
        &self,
        code: VendorCode,
        uid: &VendorUid,
    ) -> Result<Option<StoredSavedCard>, RepositoryError>;
}
