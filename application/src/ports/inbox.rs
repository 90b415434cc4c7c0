//! PG notifications kept until processed, and the deliveries already answered.

use std::time::Duration;

use async_trait::async_trait;
use payments_domain::{Timestamp, VendorCode};
use uuid::Uuid;

use super::{outbox::LeaseToken, storage::RepositoryError};

/// A PG notification as kept in the inbox, claimed under a lease.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub id: Uuid,
    pub notice: crate::commands::PgNotification,
    /// Processing attempts made before this claim.
    pub attempts: u32,
    pub received_at: Timestamp,
    pub lease: LeaseToken,
}

/// How an inbox item stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOutcome {
    /// Processed (a change recorded, or nothing to record).
    Done,
    /// Try again at this time (the PG or our database failed, or the payment
    /// is not registered yet).
    RetryAt(Timestamp),
    /// Given up: the notification cannot be processed (logged with why).
    Failed,
}

/// The durable inbox of PG notifications: stored before the PG is answered,
/// processed with retries, by one instance at a time each.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NotificationInbox: Send + Sync {
    /// Keeps a notification for the worker, due `due_in` from `now`, under
    /// [`PgNotification::inbox_id`](crate::commands::PgNotification::inbox_id):
    /// at most one row per vendor and target. A repeat of a kept one
    /// refreshes that row (its body, received-at, and due time when sooner;
    /// one already processed is kept again) instead of adding one, and one
    /// repeated while a worker holds the row is attempted again after that
    /// attempt, whatever its outcome. `known`: it names a payment registered
    /// here or proved itself (such ones are claimed before those about
    /// unknown payments, which anyone can send). Returns its id.
    ///
    /// # Errors
    /// `Unavailable` when the database is down (the PG is then refused
    /// and sends it again).
    async fn enqueue(
        &self,
        notice: &crate::commands::PgNotification,
        now: Timestamp,
        due_in: Duration,
        known: bool,
    ) -> Result<Uuid, RepositoryError>;

    /// Claims up to `limit` items due at `now` (and items whose lease ran
    /// out), those about registered payments first, then the oldest due.
    ///
    /// # Errors
    /// `Unavailable`; `Corrupt` items are parked as failed, not returned.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<InboxItem>, RepositoryError>;

    /// Records an attempt's outcome, only under `lease`; `false` when the
    /// lease was lost. A row refreshed during the attempt stays pending
    /// (due as its refresh asked, or at the retry when that is sooner).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn settle(
        &self,
        id: Uuid,
        lease: LeaseToken,
        outcome: InboxOutcome,
        error: Option<String>,
        now: Timestamp,
    ) -> Result<bool, RepositoryError>;

    /// Deletes processed or failed items received before `cutoff`; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;

    /// How many items it holds, whatever their state (the bound on what
    /// keyless clients can make it store).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn count(&self) -> Result<u64, RepositoryError>;

    /// Whether the database failed to take a notification a moment ago and
    /// has not answered since (a circuit: open on a failure or a timeout of
    /// the database, closed by its next answer). While it is open,
    /// [`NotificationInbox::enqueue`] keeps notifications in this instance's
    /// spool at once, and the caller should not wait on the database either.
    /// An inbox without a spool never says so.
    fn database_failing(&self) -> bool {
        false
    }
}

/// The deliveries of PG notifications already answered 200 (see
/// [`Transmission`]), each kept until a repeat of it can no longer come, so
/// a repeat is acknowledged without reading the PG or storing anything.
/// Keyed by vendor and a SHA-256 digest (hex) of the delivery, never the
/// PG's id itself (a header: its size is the sender's choice).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NotificationReceipts: Send + Sync {
    /// Whether the delivery `digest` of `vendor` was remembered and is still
    /// kept at `now`.
    ///
    /// # Errors
    /// `Unavailable` when the database is down (the caller then processes
    /// the notification as a new one).
    async fn seen(&self, vendor: VendorCode, digest: &str, now: Timestamp) -> Result<bool, RepositoryError>;

    /// Remembers the delivery `digest` of `vendor` until `until` (remembered
    /// again, the later time is kept).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn remember(&self, vendor: VendorCode, digest: &str, until: Timestamp) -> Result<(), RepositoryError>;

    /// Forgets the deliveries kept until before `cutoff`; returns how many.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError>;
}
