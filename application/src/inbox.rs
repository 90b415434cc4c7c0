//! PG notifications are never lost: none is answered before it is processed
//! or stored. Each one is processed at once, within a bounded time; one that
//! could not be (the PG or our database failed, the payment is not registered
//! yet, the time ran out) is stored and retried by the inbox worker (on any
//! instance), for a bounded time. A notification processed at once costs no
//! write of its own: the write path of a PG webhook stays one transaction.

use std::time::Duration;

use crate::commands::{NotificationOutcome, NotificationTarget, PgNotification};
use crate::error::{AppError, Cause};
use crate::ports::{InboxItem, InboxOutcome};
use crate::service::{Notified, PaymentService};

/// How long the route processes a notification before answering the PG (Toss
/// wants its answer within 10 s); what is not done by then is left to the worker.
const INLINE_BUDGET: Duration = Duration::from_secs(5);
/// The most a notification waits inline, in all, for its PG read's turn
/// (see [`PaymentService::process_inline`]).
const INLINE_WAIT: Duration = Duration::from_millis(200);

/// How long the check whether a notification is worth storing may take
/// before it is stored anyway (so a PG is answered within its time even
/// while our database hangs: this, the inline budget and the store's own).
const KEEP_CHECK_BUDGET: Duration = Duration::from_secs(1);

/// How long a notification about a payment not registered yet is retried
/// (registration races the PG's notification; it reads the PG itself, so only
/// a change between its read and its insert needs the retry).
const UNREGISTERED_FOR: chrono::Duration = chrono::Duration::minutes(2);

/// When a notification not processed at once is first retried: soon when the
/// PG or the database failed; a little later for a payment not registered yet,
/// whose registration (in flight, usually) then has committed.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const FIRST_RETRY_UNREGISTERED: Duration = Duration::from_secs(5);

/// How long a notification is retried while the PG or our database fails.
const RETRIED_FOR: chrono::Duration = chrono::Duration::days(3);

/// How long a count of the inbox's rows is reused.
const KEPT_COUNT_FOR: Duration = Duration::from_secs(1);

/// Stored notifications attempted at once by one worker.
const INBOX_CONCURRENCY: usize = 8;

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
    /// Refused in a way no retry changes (logged): not stored.
    Refused,
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
    /// PG notifications the inbox keeps, processed or not (the console shows it).
    ///
    /// # Errors
    /// A storage failure.
    pub async fn inbox_size(&self) -> Result<u64, AppError> {
        Ok(self.deps.inbox.count().await?)
    }

    /// Takes in a PG notification: processes it at once within a bounded time
    /// (refusing a forged one, an order's secret that is not the PG's;
    /// acknowledging one about nothing worth keeping) and stores what could
    /// not be processed for the worker. Answered only once processed or stored.
    ///
    /// # Errors
    /// [`AppError::NotificationNotProven`] for a wrong secret; a storage
    /// failure or [`AppError::InboxFull`] when a notification that could not
    /// be processed cannot be stored either (the PG sends it again).
    pub async fn receive_pg_notification(&self, notice: PgNotification) -> Result<Received, AppError> {
        if self.deps.inbox.database_failing() {
            // The database failed a moment ago and has not answered since:
            // kept in this instance's spool at once, not after waiting on the
            // database for every step. The worker's attempt, once the
            // database answers, decides on it like on any kept one.
            let notice = PgNotification { payload: kept_payload(&notice.payload), ..notice };
            let known = notice.signed;
            self.deps.inbox.enqueue(&notice, self.deps.clock.now(), FIRST_RETRY, known).await?;
            return Ok(Received::Queued);
        }
        let received_at = self.deps.clock.now();
        let processing = self.process_inline(&notice, received_at);
        // `known`: about a payment registered here (it was found: the PG or
        // our database failed, or its read waits its turn), not one anyone
        // could name: the worker takes it before those.
        let (why, retry_in, known) = match tokio::time::timeout(INLINE_BUDGET, processing).await {
            Ok(Ok(Notified::Outcome(NotificationOutcome::Ignored))) => return Ok(Received::Ignored),
            Ok(Ok(Notified::Outcome(outcome))) => return Ok(Received::Processed(outcome)),
            // Its payment was re-read a moment ago (or is being re-read, or
            // the PG's budget is spent): kept for its turn, no PG read now.
            Ok(Ok(Notified::Later(wait))) => (format!("its PG read waits {wait:?} (bounded re-reads)"), wait, true),
            // A forgery is answered as one (no PG call was made for it).
            Ok(Err(error @ AppError::NotificationNotProven(_))) => return Err(error),
            Ok(Err(error)) if !worth_retrying(&error, chrono::Duration::zero()) => {
                tracing::warn!(vendor = %notice.vendor, %error, "PG notification refused; nothing to retry");
                return Ok(Received::Refused);
            }
            Ok(Err(error @ AppError::NotRegistered(_))) => (error.to_string(), FIRST_RETRY_UNREGISTERED, false),
            Ok(Err(error)) => (error.to_string(), FIRST_RETRY, true),
            // Dropped mid-way: its change, if any, committed whole or not at all.
            Err(_) => (format!("not processed within {INLINE_BUDGET:?}"), FIRST_RETRY, true),
        };
        // Only what is about to be stored is checked first (the happy path
        // reads the history once): nothing forged or about an unknown payment
        // that moves no money fills the inbox. A database that cannot tell
        // (down, or slow) keeps it: the worker's attempt decides.
        match tokio::time::timeout(KEEP_CHECK_BUDGET, self.worth_keeping(&notice)).await {
            Ok(Ok(true)) | Err(_) => {}
            Ok(Err(error)) if error.cause() == Cause::StorageUnavailable => {}
            Ok(Ok(false)) => return Ok(Received::Ignored),
            Ok(Err(other)) => return Err(other),
        }
        tracing::info!(vendor = %notice.vendor, %why, "PG notification kept for a retry");
        if self.inbox_is_full().await {
            tracing::warn!(vendor = %notice.vendor, "the PG notification inbox is full; the PG sends it again");
            return Err(AppError::InboxFull);
        }
        // What names the payment is kept; the body, whoever sent it, is not
        // (the payment is re-read from the PG, never taken from the body).
        let notice = PgNotification { payload: kept_payload(&notice.payload), ..notice };
        // One row per payment: a repeat refreshes the one kept. A signed
        // notification is the PG's: taken with those about registered payments.
        let known = known || notice.signed;
        self.deps.inbox.enqueue(&notice, self.deps.clock.now(), retry_in, known).await?;
        if let Some((_, count)) = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut() {
            *count += 1;
        }
        Ok(Received::Queued)
    }

    /// Processes a notification as it comes; a PG read that must wait only a
    /// moment (the PG's budget of reads this second, a read of the payment
    /// finishing) is waited for here, up to [`INLINE_WAIT`] in all, rather
    /// than the notification going to the inbox, whose worker would take it
    /// at its next poll (a second later). A longer wait is the inbox's.
    async fn process_inline(
        &self,
        notice: &PgNotification,
        received_at: payments_domain::Timestamp,
    ) -> Result<Notified, AppError> {
        let mut waited = Duration::ZERO;
        loop {
            match self.process_notified(notice, Some(received_at)).await? {
                Notified::Later(wait) if waited + wait < INLINE_WAIT => {
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
                other => return Ok(other),
            }
        }
    }

    /// Whether the inbox holds `max_kept_notifications` already (counted at
    /// most once a second, plus what this process stored since). A count
    /// that fails says no: storing then fails or goes to the spool anyway.
    async fn inbox_is_full(&self) -> bool {
        let cached = *self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = match cached {
            Some((at, count)) if at.elapsed() < KEPT_COUNT_FOR => count,
            _ => match tokio::time::timeout(KEEP_CHECK_BUDGET, self.deps.inbox.count()).await {
                Ok(Ok(count)) => {
                    *self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some((std::time::Instant::now(), count));
                    count
                }
                _ => return false,
            },
        };
        count >= self.deps.max_kept_notifications
    }

    /// Whether a notification needs storing: a forged order notification is
    /// refused, one about an unknown payment that moves no money is ignored.
    async fn worth_keeping(&self, notice: &PgNotification) -> Result<bool, AppError> {
        match &notice.target {
            NotificationTarget::Payment { uid, ignore_unknown: true, order } => {
                if self.histories().find_by_vendor(notice.vendor, uid).await?.is_some() {
                    return Ok(true);
                }
                // Kept when it may complete a pending order (a virtual account
                // issued for it).
                Ok(match order {
                    Some(order) => !self.orders().pending_orders_for(notice.vendor, order, 1).await?.is_empty(),
                    None => false,
                })
            }
            NotificationTarget::Payment { .. } => Ok(true),
            NotificationTarget::Cancel { key, ignore_unknown: true } => {
                Ok(self.histories().find_by_cancel_key(notice.vendor, key).await?.is_some())
            }
            NotificationTarget::Cancel { .. } => Ok(true),
            // A forgery is refused here, before anything is stored: one read.
            NotificationTarget::Order { .. } => {
                let gateway = self.deps.gateways.get(notice.vendor)?;
                match self.notified_history(gateway, notice).await {
                    Ok(found) => Ok(found.is_some()),
                    // Not registered yet: kept for a retry.
                    Err(AppError::NotRegistered(_)) => Ok(true),
                    Err(other) => Err(other),
                }
            }
        }
    }

    /// Processes stored notifications that are due, at most `limit`.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn process_inbox(&self, limit: u32) -> Result<InboxReport, AppError> {
        let lease_for = self.deps.intent_lease.saturating_add(INLINE_BUDGET);
        let items = self.deps.inbox.claim_due(self.deps.clock.now(), limit, lease_for).await?;
        let mut report = InboxReport { claimed: items.len(), ..InboxReport::default() };
        // Several at once: one slow PG read (or a payment's turn) does not
        // hold the others back; bounded.
        let mut attempts = tokio::task::JoinSet::new();
        let mut items = items.into_iter();
        loop {
            while attempts.len() < INBOX_CONCURRENCY {
                let Some(item) = items.next() else { break };
                let service = self.clone();
                attempts.spawn(async move { service.attempt(&item).await });
            }
            let Some(finished) = attempts.join_next().await else { break };
            match finished {
                Ok(InboxOutcome::Done) => report.done += 1,
                Ok(InboxOutcome::RetryAt(_)) => report.retrying += 1,
                Ok(InboxOutcome::Failed) => report.failed += 1,
                // Left claimed: its lease hands it to the worker again.
                Err(error) => tracing::error!(%error, "a PG notification's attempt failed to run"),
            }
        }
        Ok(report)
    }

    /// One processing attempt of a stored `item`, settled under its lease.
    async fn attempt(&self, item: &InboxItem) -> InboxOutcome {
        let result = self.process_notified(&item.notice, Some(item.received_at)).await;
        let now = self.deps.clock.now();
        let backoff = chrono::Duration::seconds((1i64 << item.attempts.min(10)).min(MAX_BACKOFF_SECS));
        let (outcome, error) = match &result {
            // Its turn for a PG read has not come: no attempt was made.
            Ok(Notified::Later(wait)) => {
                // Not sooner than a fifth of a second: the worker never spins on it.
                let wait = (*wait).max(std::time::Duration::from_millis(200));
                let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(1));
                (InboxOutcome::RetryAt(now + wait), None)
            }
            Ok(Notified::Outcome(_)) => (InboxOutcome::Done, None),
            Err(error) if worth_retrying(error, now - item.received_at) => {
                (InboxOutcome::RetryAt(now + backoff), Some(error.to_string()))
            }
            Err(error) => (InboxOutcome::Failed, Some(error.to_string())),
        };
        if let Some(why) = &error {
            tracing::warn!(notification = %item.id, attempts = item.attempts + 1, ?outcome, %why, "PG notification not processed");
        }
        if let Err(stuck) = self.deps.inbox.settle(item.id, item.lease, outcome, error, now).await {
            // Left claimed: the lease hands it to the worker again.
            tracing::error!(notification = %item.id, %stuck, "could not record a PG notification's outcome");
        }
        outcome
    }
}

/// The longest event type kept of a stored notification.
const MAX_KEPT_TYPE_CHARS: usize = 64;

/// What is kept of a stored notification's body: its event type (Toss
/// `eventType`, PortOne `type`, Iamport `status`; 64 characters at most) and
/// its size, never the body itself. Processing re-reads the payment from the
/// PG; the body only becomes the trigger of the event a change records. So a
/// notification costs the inbox a few hundred bytes whatever its size.
fn kept_payload(body: &serde_json::Value) -> serde_json::Value {
    let kind = ["eventType", "type", "status"]
        .iter()
        .find_map(|member| body.get(member).and_then(serde_json::Value::as_str))
        .map(|kind| kind.chars().filter(|c| !c.is_control()).take(MAX_KEPT_TYPE_CHARS).collect::<String>());
    serde_json::json!({ "kept": "summary", "type": kind, "bytes": body.to_string().len() })
}

/// Whether a notification that failed this way, `age` after it came, is worth
/// another attempt: the payment may yet be registered (for a short while), the
/// PG or our database may recover (for days); a refusal stays a refusal.
fn worth_retrying(error: &AppError, age: chrono::Duration) -> bool {
    match error.cause() {
        Cause::NotRegistered => age < UNREGISTERED_FOR,
        cause if cause.is_transient() => age < RETRIED_FOR,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{GatewayError, RepositoryError};

    /// The inbox decides on causes: a transient conflict (a concurrent change
    /// of the payment) is retried, a final one (a duplicate) is parked, and a
    /// payment not registered yet is retried only while its registration may
    /// still come.
    #[test]
    fn a_transient_conflict_is_retried_and_a_final_one_parked() {
        let now = chrono::Duration::zero();
        let retried = |error: AppError, age: chrono::Duration| worth_retrying(&error, age);
        assert!(retried(AppError::Storage(RepositoryError::Stale), now));
        assert!(retried(AppError::ConcurrentChanges, now));
        assert!(!retried(AppError::Storage(RepositoryError::Conflict("taken".into())), now));
        assert!(!retried(AppError::AlreadyRegistered { param: "source", message: "taken".into() }, now));
        assert!(retried(AppError::Pg(GatewayError::Timeout("10s".into())), chrono::Duration::days(2)));
        assert!(
            !retried(AppError::Pg(GatewayError::Timeout("10s".into())), chrono::Duration::days(4)),
            "for days, not for ever"
        );
        assert!(!retried(AppError::PgRefused("past our bounds".into()), now));
        assert!(!retried(AppError::NotificationNotProven("forged".into()), now));
        assert!(retried(AppError::NotRegistered("not yet".into()), chrono::Duration::seconds(60)));
        assert!(!retried(AppError::NotRegistered("not yet".into()), chrono::Duration::minutes(3)));
    }

    #[test]
    fn a_kept_body_is_its_event_type_and_size_only() {
        let body = serde_json::json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {"filler": "x".repeat(10_000)}});
        let kept = kept_payload(&body);
        assert_eq!(kept["type"], "PAYMENT_STATUS_CHANGED");
        assert_eq!(kept["bytes"], body.to_string().len());
        assert!(kept.to_string().len() < 100, "{kept}");
        let hostile = serde_json::json!({"type": format!("a\n\u{1b}[31m{}", "y".repeat(500))});
        let kind = kept_payload(&hostile)["type"].as_str().unwrap().to_owned();
        assert!(kind.chars().count() <= MAX_KEPT_TYPE_CHARS && !kind.contains(['\n', '\u{1b}']), "{kind:?}");
        assert_eq!(kept_payload(&serde_json::json!([1, 2]))["type"], serde_json::Value::Null);
    }
}
