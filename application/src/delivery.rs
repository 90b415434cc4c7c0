//! Delivering recorded events to the callers' webhook URLs.

use std::sync::Arc;
use std::time::Duration;

use payments_domain::{DeliveryAttempt, EventId, NextStep, RetrySchedule};

use crate::error::{AppError, RecordKind};
use crate::ports::{Clock, DeliveryJob, JobOutcome, LeaseToken, OutboxStats, WebhookOutbox, WebhookSender};

/// What the delivery use case depends on.
#[derive(Clone)]
pub struct DeliveryDeps {
    pub outbox: Arc<dyn WebhookOutbox>,
    pub sender: Arc<dyn WebhookSender>,
    pub clock: Arc<dyn Clock>,
    pub schedule: RetrySchedule,
    /// How long a claim lasts before another worker may take the job.
    pub lease: Duration,
}

/// Claims due deliveries, sends them, and records every attempt.
#[derive(Clone)]
pub struct DeliveryService {
    deps: Arc<DeliveryDeps>,
    /// The last counts read, for [`DeliveryService::recent_stats`].
    counted: Arc<tokio::sync::Mutex<Option<(std::time::Instant, OutboxStats)>>>,
}

/// Most events one purge pass removes (then it pauses for the next pass).
pub const PURGE_BATCH: u32 = 1_000;

impl DeliveryService {
    pub fn new(deps: DeliveryDeps) -> Self {
        Self { deps: Arc::new(deps), counted: Arc::default() }
    }

    pub fn lease(&self) -> Duration {
        self.deps.lease
    }

    /// Claims up to `limit` due jobs.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn claim(&self, limit: u32) -> Result<Vec<DeliveryJob>, AppError> {
        Ok(self.deps.outbox.claim_due(self.deps.clock.now(), limit, self.deps.lease).await?)
    }

    /// Sends one claimed job and records the attempt under its lease: done on
    /// a 2xx, else scheduled again, or failed once the schedule is exhausted.
    /// Returns `None` when the lease was lost meanwhile (another worker owns
    /// the job now; nothing was recorded).
    ///
    /// # Errors
    /// A storage failure (the lease then expires and the job is retried).
    pub async fn deliver(&self, job: &DeliveryJob) -> Result<Option<JobOutcome>, AppError> {
        let result = self.deps.sender.send(&job.event).await;
        let now = self.deps.clock.now();
        let attempt = match (result.status, result.body) {
            (Some(status), body) => DeliveryAttempt::answered(status, body.as_deref().unwrap_or(""), now),
            (None, _) => DeliveryAttempt::unanswered(now),
        };
        let outcome = if attempt.is_success() {
            JobOutcome::Delivered
        } else {
            match self.deps.schedule.after_failure(job.attempts_made + 1, rand::random::<f64>()) {
                NextStep::RetryAfter(wait) => {
                    let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    JobOutcome::RetryAt(now.checked_add_signed(wait).unwrap_or(now))
                }
                NextStep::GiveUp => JobOutcome::Failed,
            }
        };
        let recorded = self.deps.outbox.record_attempt(job.event.id(), job.lease, &attempt, outcome).await?;
        Ok(recorded.then_some(outcome))
    }

    /// Gives a claimed job back (shutdown).
    ///
    /// # Errors
    /// A storage failure.
    pub async fn release(&self, event: EventId, lease: LeaseToken) -> Result<(), AppError> {
        Ok(self.deps.outbox.release(event, lease).await?)
    }

    /// Queue counts for monitoring.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn stats(&self) -> Result<OutboxStats, AppError> {
        Ok(self.deps.outbox.stats(self.deps.clock.now()).await?)
    }

    /// Queue counts at most `max_age` old: monitors and scrapes share one
    /// count (one query at a time, however many ask), so asking often costs
    /// the database nothing more.
    ///
    /// # Errors
    /// A storage failure when no count is recent enough.
    pub async fn recent_stats(&self, max_age: Duration) -> Result<OutboxStats, AppError> {
        let mut counted = self.counted.lock().await;
        if let Some((at, stats)) = *counted
            && at.elapsed() < max_age
        {
            return Ok(stats);
        }
        let stats = self.stats().await?;
        *counted = Some((std::time::Instant::now(), stats));
        Ok(stats)
    }

    /// Removes the events whose delivery settled (delivered or given up)
    /// more than `retention` ago, with their jobs and attempts, in batches of
    /// [`PURGE_BATCH`], at most `max_batches` of them; answers how many.
    ///
    /// # Errors
    /// A storage failure (what was purged before stays purged).
    pub async fn purge_settled(&self, retention: Duration, max_batches: u32) -> Result<u64, AppError> {
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let now = self.deps.clock.now();
        let cutoff = now.checked_sub_signed(retention).unwrap_or(now);
        let mut purged = 0;
        for _ in 0..max_batches {
            let batch = self.deps.outbox.purge_settled_before(cutoff, PURGE_BATCH).await?;
            purged += batch;
            if batch < u64::from(PURGE_BATCH) {
                break;
            }
        }
        Ok(purged)
    }

    /// Makes an event due again (operator command).
    ///
    /// # Errors
    /// `RecordNotFound` for an unknown event; a storage failure.
    pub async fn redeliver(&self, event: payments_domain::EventId) -> Result<(), AppError> {
        if self.deps.outbox.redeliver(event, self.deps.clock.now()).await? {
            Ok(())
        } else {
            Err(AppError::RecordNotFound(RecordKind::Event))
        }
    }

    /// `client`'s events after the event `after`, oldest first, at most
    /// `limit` (1 to [`MAX_FEED_PAGE`]), reaching back [`FEED_WINDOW`], each
    /// with its delivery state: what a backend that was down reads to catch up.
    ///
    /// # Errors
    /// `InvalidField` naming `limit`; a storage failure.
    pub async fn feed(
        &self,
        client: payments_domain::ClientId,
        after: Option<payments_domain::EventId>,
        limit: u32,
    ) -> Result<Vec<crate::ports::FeedEvent>, AppError> {
        if !(1..=MAX_FEED_PAGE).contains(&limit) {
            return Err(AppError::InvalidField {
                param: "limit".into(),
                reason: format!("must be between 1 and {MAX_FEED_PAGE}"),
            });
        }
        let window = chrono::Duration::from_std(FEED_WINDOW).unwrap_or(chrono::Duration::MAX);
        let now = self.deps.clock.now();
        let since = now.checked_sub_signed(window).unwrap_or(now);
        Ok(self.deps.outbox.client_events(client, after, since, limit).await?)
    }

    /// Makes `client`'s event due again; another client's is not found.
    ///
    /// # Errors
    /// `RecordNotFound` for an unknown event or another client's; a storage failure.
    pub async fn redeliver_for(
        &self,
        client: payments_domain::ClientId,
        event: payments_domain::EventId,
    ) -> Result<(), AppError> {
        if self.deps.outbox.event_client(event).await? != Some(client) {
            return Err(AppError::RecordNotFound(RecordKind::Event));
        }
        self.redeliver(event).await
    }
}

/// How far back a client's event feed reaches.
pub const FEED_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most events in one page of a feed.
pub const MAX_FEED_PAGE: u32 = 100;

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
