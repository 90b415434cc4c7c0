//! One PG notification processed: the payment it names found here and re-read from the PG.

use payments_domain::Timestamp;

use crate::change::{PgWord, Recorded};
use crate::commands::{NotificationOutcome, NotificationTarget, PgNotification};
use crate::error::AppError;
use crate::ports::{PaymentGateway, StoredHistory};
use crate::reread::Admission;
use crate::service::{Notified, PaymentService};

/// Most histories an order id is looked up in (order ids are unique per
/// store; the same one at several stores is rare).
const MAX_HISTORIES_PER_ORDER: u32 = 8;

impl PaymentService {
    /// A PG says a payment changed: re-read it from the PG and record what
    /// changed, if anything. The snapshot is always read after the history
    /// was loaded (again after losing a race), so it is never older than the
    /// record it is applied to, and a reversed deposit is told from a stale read.
    ///
    /// # Errors
    /// `NotRegistered` when no history has this PG uid or order id (so the
    /// PG retries later); `NotificationNotProven` when an order's secret is
    /// not the PG's; a PG failure or timeout when the PG
    /// cannot be read.
    pub async fn process_pg_notification(&self, notice: &PgNotification) -> Result<NotificationOutcome, AppError> {
        match self.process_notified(notice, None).await? {
            Notified::Outcome(outcome) => Ok(outcome),
            // Never without a gate.
            Notified::Later(_) => Ok(NotificationOutcome::Unchanged),
        }
    }

    /// As [`process_pg_notification`](Self::process_pg_notification); with
    /// `received_at` (when the notification came), the PG read it triggers
    /// goes through the bounds of [`crate::reread`]: it may be answered by a
    /// read made since it came, or told to wait.
    pub(crate) async fn process_notified(
        &self,
        notice: &PgNotification,
        received_at: Option<Timestamp>,
    ) -> Result<Notified, AppError> {
        let gateway = self.deps.gateways.get(notice.vendor)?;
        let found = self.notified_history(gateway, notice).await;
        let stored = match found {
            Ok(Some(stored)) => stored,
            Ok(None) | Err(AppError::NotRegistered(_)) => {
                // A payment registered nowhere here may be a pending order's.
                if let NotificationTarget::Payment { uid, order: Some(order), .. } = &notice.target
                    && let Some(notified) =
                        self.complete_notified_order(gateway, notice, uid, order, received_at).await?
                {
                    return Ok(notified);
                }
                return found.map(|_| Notified::Outcome(NotificationOutcome::Ignored));
            }
            Err(error) => return Err(error),
        };
        let Some(received_at) = received_at else {
            return self.reread_and_apply(gateway, notice, stored).await.map(Notified::Outcome);
        };
        let history = stored.history.id();
        // A deposit callback proved itself by its secret (checked above), a
        // signed notification by its signature.
        let proven = notice.signed || matches!(notice.target, NotificationTarget::Order { .. });
        let started = self.deps.clock.now();
        match self.rereads.admit(notice.vendor, history, received_at, proven, started) {
            Admission::Answered => Ok(Notified::Outcome(NotificationOutcome::Unchanged)),
            Admission::Later(wait) => Ok(Notified::Later(wait)),
            Admission::Go => {
                // Ended even when this future is dropped mid-read (a timeout).
                let turn = crate::reread::Turn::new(&self.rereads, history, started, self.deps.clock.as_ref());
                let outcome = self.reread_and_apply(gateway, notice, stored).await;
                turn.finish(outcome.is_ok());
                outcome.map(Notified::Outcome)
            }
        }
    }

    /// Re-reads the payment of `stored` and records what changed; a change
    /// that completed (or dropped) a cancel closes its intent.
    async fn reread_and_apply(
        &self,
        gateway: &dyn PaymentGateway,
        notice: &PgNotification,
        stored: StoredHistory,
    ) -> Result<NotificationOutcome, AppError> {
        match self.record_change(stored, PgWord::Reread(gateway), notice.payload.clone()).await? {
            Recorded::Unchanged(_) => Ok(NotificationOutcome::Unchanged),
            Recorded::Changed(event) => {
                if let Some(previous) = event.previous() {
                    self.close_settled_cancel(previous, event.current()).await;
                }
                Ok(NotificationOutcome::Changed(event.id()))
            }
        }
    }

    /// The history a notification is about; `None` when it may be ignored.
    pub(crate) async fn notified_history(
        &self,
        gateway: &dyn PaymentGateway,
        notice: &PgNotification,
    ) -> Result<Option<StoredHistory>, AppError> {
        let vendor = notice.vendor;
        match &notice.target {
            NotificationTarget::Payment { uid, ignore_unknown, .. } => {
                match self.histories().find_by_vendor(vendor, uid).await? {
                    Some(stored) => Ok(Some(stored)),
                    None if *ignore_unknown => Ok(None),
                    None => Err(AppError::NotRegistered(format!("no payment {uid} of {vendor} is registered"))),
                }
            }
            NotificationTarget::Order { order_id, secret, ignore_unknown } => {
                let found = self.histories().find_by_order(vendor, order_id, MAX_HISTORIES_PER_ORDER).await?;
                if found.is_empty() && *ignore_unknown {
                    return Ok(None);
                }
                if found.is_empty() {
                    return Err(AppError::NotRegistered(format!(
                        "no payment of order {order_id} of {vendor} is registered"
                    )));
                }
                // Every candidate is checked, so the time taken does not tell which one matched.
                let mut matched = None;
                for stored in found {
                    if gateway.notification_secret_matches(stored.history.data(), secret) && matched.is_none() {
                        matched = Some(stored);
                    }
                }
                matched.map(Some).ok_or_else(|| {
                    AppError::NotificationNotProven(format!(
                        "the secret is not the one {vendor} gave for order {order_id}"
                    ))
                })
            }
            NotificationTarget::Cancel { key, ignore_unknown } => {
                match self.histories().find_by_cancel_key(vendor, key).await? {
                    Some(stored) => Ok(Some(stored)),
                    None if *ignore_unknown => Ok(None),
                    None => Err(AppError::NotRegistered(format!(
                        "no payment of {vendor} with cancel {} is registered",
                        key.as_str()
                    ))),
                }
            }
        }
    }
}
