//! PG notifications are never lost: each one is stored before the PG is
//! answered, processed at once when it can be, and otherwise retried by the
//! inbox worker (on another instance too) until it is processed, for a
//! bounded time.

use std::time::Duration;

use crate::commands::{NotificationOutcome, NotificationTarget, PgNotification};
use crate::error::AppError;
use crate::payments::PaymentService;
use crate::ports::{InboxItem, InboxOutcome};

/// How long the route processes a notification before answering the PG (Toss
/// wants its answer within 10 s); what is not done by then is left to the worker.
const INLINE_BUDGET: Duration = Duration::from_secs(5);

/// How long a notification about a payment not registered yet is retried
/// (registration usually races the PG's notification).
const UNREGISTERED_FOR: chrono::Duration = chrono::Duration::hours(1);

/// How long a notification is retried while the PG or our database fails.
const RETRIED_FOR: chrono::Duration = chrono::Duration::days(3);

/// The longest pause between two attempts.
const MAX_BACKOFF_SECS: i64 = 600;

/// What became of a received notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Processed at once.
    Processed(NotificationOutcome),
    /// Stored; the worker processes it (the PG or our database failed, or the
    /// payment is not registered yet).
    Queued,
    /// About a payment not registered here, and nothing to keep: not stored.
    Ignored,
}

/// What [`PaymentService::process_inbox`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxReport {
    pub claimed: usize,
    pub done: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl PaymentService {
    /// Takes in a PG notification: refuses a forged one (an order's secret that
    /// is not the PG's: 403), acknowledges one about nothing worth keeping,
    /// else stores it and processes it at once within a bounded time. Once
    /// stored it is answered as taken, whatever processing it still needs.
    ///
    /// # Errors
    /// 403 for a wrong secret; 503 when it cannot be stored (the PG retries).
    pub async fn receive_pg_notification(&self, notice: PgNotification) -> Result<Received, AppError> {
        if !self.worth_keeping(&notice).await? {
            return Ok(Received::Ignored);
        }
        let lease_for = self.deps.intent_lease.saturating_add(INLINE_BUDGET);
        let now = self.deps.clock.now();
        let (id, lease) = self.deps.inbox.enqueue(&notice, now, lease_for).await?;
        let item = InboxItem { id, notice, attempts: 0, received_at: now, lease };
        match tokio::time::timeout(INLINE_BUDGET, self.attempt(&item)).await {
            Ok((_, Some(outcome))) => Ok(Received::Processed(outcome)),
            Ok((_, None)) => Ok(Received::Queued),
            // Still running when the PG needs its answer: the lease hands it
            // to the worker if this attempt never settles.
            Err(_) => Ok(Received::Queued),
        }
    }

    /// Whether a notification needs storing: a forged order notification is
    /// refused, one about an unknown payment that moves no money is ignored.
    async fn worth_keeping(&self, notice: &PgNotification) -> Result<bool, AppError> {
        match &notice.target {
            NotificationTarget::Payment { uid, ignore_unknown: true } => {
                Ok(self.histories().find_by_vendor(notice.vendor, uid).await?.is_some())
            }
            NotificationTarget::Payment { .. } => Ok(true),
            NotificationTarget::Order { order_id, ignore_unknown, .. } => {
                let gateway = self.deps.gateways.get(notice.vendor)?;
                let found = self.histories().find_by_order(notice.vendor, order_id, 8).await?;
                if found.is_empty() {
                    return Ok(!*ignore_unknown);
                }
                // Refused here, before anything is stored: a forgery costs one read.
                self.notified_history(gateway, notice).await.map(|_| true)
            }
        }
    }

    /// Processes stored notifications that are due, at most `limit`.
    ///
    /// # Errors
    /// 503 when the database is down.
    pub async fn process_inbox(&self, limit: u32) -> Result<InboxReport, AppError> {
        let lease_for = self.deps.intent_lease.saturating_add(INLINE_BUDGET);
        let items = self.deps.inbox.claim_due(self.deps.clock.now(), limit, lease_for).await?;
        let mut report = InboxReport { claimed: items.len(), ..InboxReport::default() };
        for item in items {
            match self.attempt(&item).await.0 {
                InboxOutcome::Done => report.done += 1,
                InboxOutcome::RetryAt(_) => report.retrying += 1,
                InboxOutcome::Failed => report.failed += 1,
            }
        }
        Ok(report)
    }

    /// One processing attempt of `item`, settled under its lease; what it
    /// led to when it was processed.
    async fn attempt(&self, item: &InboxItem) -> (InboxOutcome, Option<NotificationOutcome>) {
        let result = self.process_pg_notification(item.notice.clone()).await;
        let now = self.deps.clock.now();
        let age = now - item.received_at;
        let backoff = chrono::Duration::seconds((1i64 << item.attempts.min(10)).min(MAX_BACKOFF_SECS));
        let (outcome, error) = match &result {
            Ok(_) => (InboxOutcome::Done, None),
            Err(AppError::NotFound(why)) if age < UNREGISTERED_FOR => {
                (InboxOutcome::RetryAt(now + backoff), Some(why.clone()))
            }
            // Retrying cannot help these.
            Err(
                error @ (AppError::NotFound(_)
                | AppError::Forbidden(_)
                | AppError::Invalid(_)
                | AppError::Unprocessable(_)
                | AppError::Conflict(_)),
            ) => (InboxOutcome::Failed, Some(error.to_string())),
            Err(error) if age < RETRIED_FOR => (InboxOutcome::RetryAt(now + backoff), Some(error.to_string())),
            Err(error) => (InboxOutcome::Failed, Some(error.to_string())),
        };
        if let Some(why) = &error {
            tracing::warn!(notification = %item.id, attempts = item.attempts + 1, ?outcome, %why, "PG notification not processed");
        }
        if let Err(stuck) = self.deps.inbox.settle(item.id, item.lease, outcome, error, now).await {
            // Left claimed: the lease hands it to the worker again.
            tracing::error!(notification = %item.id, %stuck, "could not record a PG notification's outcome");
        }
        (outcome, result.ok())
    }
}
