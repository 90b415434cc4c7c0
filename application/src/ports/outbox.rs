//! The outgoing webhooks: the queue of events to deliver and the sender.

use std::time::Duration;

use async_trait::async_trait;
use payments_domain::{ClientId, DeliveryAttempt, EventId, Timestamp, WebhookEvent};
use uuid::Uuid;

use super::storage::RepositoryError;

/// Proof of a claim on a delivery job; results are recorded only under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseToken(pub Uuid);

/// A claimed delivery: the event, how many attempts came before, and the lease.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryJob {
    pub event: WebhookEvent,
    /// Attempts already recorded before this claim.
    pub attempts_made: u32,
    pub lease: LeaseToken,
}

/// The lease a delivery is enqueued under by the process that commits its
/// event and delivers it itself (see `HistoryRepository::save_change_leased`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnqueueLease {
    pub token: LeaseToken,
    /// When any other worker may claim it.
    pub until: Timestamp,
}

/// How a job stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// The receiver answered 2xx; the job is done.
    Delivered,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// The schedule is exhausted; kept as failed until redelivered by an operator.
    Failed,
}

/// Where one event's delivery stands, as its client's feed shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedDelivery {
    /// Due, never attempted.
    Pending,
    /// Attempted this many times, due again.
    Retrying {
        attempts: u32,
    },
    Delivered,
    /// Its schedule ran out (redeliver it).
    Failed,
    /// Settled long enough ago that its delivery record was purged.
    Settled,
}

/// An event of a client's feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub event: WebhookEvent,
    pub delivery: FeedDelivery,
}

/// Counts of the delivery queue, for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Due or scheduled, never attempted.
    pub pending: u64,
    /// Attempted at least once, scheduled again.
    pub retrying: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Age of the oldest job not yet delivered or failed.
    pub oldest_pending_age: Option<Duration>,
}

/// The durable queue of webhook deliveries (the outbox written by
/// [`HistoryRepository::save_change`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookOutbox: Send + Sync {
    /// Claims up to `limit` jobs due at `now` for `lease_for`. A job whose
    /// lease expired (its worker died) is due again. Safe to call from several
    /// processes at once: a job is claimed by one only.
    ///
    /// # Errors
    /// `Unavailable`, or `Corrupt` when an event does not decrypt.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<DeliveryJob>, RepositoryError>;

    /// Records one attempt and settles the job, only if `lease` still holds the
    /// job. Returns `false` (writing nothing) when the lease was lost.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn record_attempt(
        &self,
        event: EventId,
        lease: LeaseToken,
        attempt: &DeliveryAttempt,
        outcome: JobOutcome,
    ) -> Result<bool, RepositoryError>;

    /// Gives a claimed job back, due at once (used at shutdown).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn release(&self, event: EventId, lease: LeaseToken) -> Result<(), RepositoryError>;

    /// Makes a failed (or delivered) event due again now, with a fresh retry
    /// schedule (earlier attempts stay recorded), also one whose delivery
    /// record was purged. Returns `false` for an unknown event.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn redeliver(&self, event: EventId, now: Timestamp) -> Result<bool, RepositoryError>;

    /// The events of `client`'s payments created at or after `since`, after
    /// the event `after` (events are ordered by id: their ids grow with
    /// time), at most `limit`, oldest first, with their delivery state.
    ///
    /// # Errors
    /// `Unavailable`, or `Corrupt` when an event does not decrypt.
    async fn client_events(
        &self,
        client: ClientId,
        after: Option<EventId>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<FeedEvent>, RepositoryError>;

    /// The client whose payment `event` is about; `None` for no such event.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn event_client(&self, event: EventId) -> Result<Option<ClientId>, RepositoryError>;

    /// Every attempt recorded for an event, oldest first.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn attempts(&self, event: EventId) -> Result<Vec<DeliveryAttempt>, RepositoryError>;

    /// Queue counts at `now`.
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn stats(&self, now: Timestamp) -> Result<OutboxStats, RepositoryError>;

    /// Removes up to `limit` events whose delivery was settled (delivered,
    /// or given up on) before `cutoff`, with their job and attempts; answers
    /// how many. Pending deliveries are never removed.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn purge_settled_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepositoryError>;
}

/// The receiver's answer to one POST, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub status: Option<u16>,
    pub body: Option<String>,
}

/// Sends an event to its history's `webhook_url`, signed and encrypted.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs once with a timeout. Never fails: an unreachable or silent
    /// receiver is a result with no status.
    async fn send(&self, event: &WebhookEvent) -> SendResult;
}
