//! Delivering recorded events to the callers' webhook URLs.

use std::sync::Arc;
use std::time::Duration;

use payments_domain::{DeliveryAttempt, EventId, NextStep, RetrySchedule};

use crate::error::AppError;
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
}

impl DeliveryService {
    pub fn new(deps: DeliveryDeps) -> Self {
        Self { deps: Arc::new(deps) }
    }

    pub fn lease(&self) -> Duration {
        self.deps.lease
    }

    /// Claims up to `limit` due jobs.
    ///
    /// # Errors
    /// 503 when the database is down.
    pub async fn claim(&self, limit: u32) -> Result<Vec<DeliveryJob>, AppError> {
        Ok(self.deps.outbox.claim_due(self.deps.clock.now(), limit, self.deps.lease).await?)
    }

    /// Sends one claimed job and records the attempt under its lease: done on
    /// a 2xx, else scheduled again, or failed once the schedule is exhausted.
    /// Returns `None` when the lease was lost meanwhile (another worker owns
    /// the job now; nothing was recorded).
    ///
    /// # Errors
    /// 503 when the database is down (the lease then expires and the job is retried).
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
    /// 503 when the database is down.
    pub async fn release(&self, event: EventId, lease: LeaseToken) -> Result<(), AppError> {
        Ok(self.deps.outbox.release(event, lease).await?)
    }

    /// Queue counts for monitoring.
    ///
    /// # Errors
    /// 503 when the database is down.
    pub async fn stats(&self) -> Result<OutboxStats, AppError> {
        Ok(self.deps.outbox.stats(self.deps.clock.now()).await?)
    }

    /// Makes an event due again (operator command).
    ///
    /// # Errors
    /// 404 for an unknown event; 503 when the database is down.
    pub async fn redeliver(&self, event: payments_domain::EventId) -> Result<(), AppError> {
        if self.deps.outbox.redeliver(event, self.deps.clock.now()).await? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("no webhook event {event}")))
        }
    }
}

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
