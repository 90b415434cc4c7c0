//! The reconciler: what changed at a PG without a notification reaching us (a
//! cancel in the PG's console, a deposit whose webhook was lost) is found by
//! re-reading the PG, and recorded as an ordinary change with its event.

use std::time::Duration;

use payments_domain::{Applied, HistoryId, Timestamp};
use serde_json::json;

use crate::commands::{NotificationOutcome, NotificationTarget, PgNotification};
use crate::error::AppError;
use crate::service::PaymentService;
use crate::{ChargeSettleReport, SettleReport};

/// Histories read from storage per page.
const PAGE: u32 = 100;

/// What one reconciliation looks at and how fast it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Histories registered or changed since then are re-read (with every
    /// history not paid yet).
    pub since: Timestamp,
    /// Report the drift, record nothing, send nothing.
    pub dry_run: bool,
    /// At most this many histories per run.
    pub limit: usize,
    /// The pause between two PG reads (the rate bound: PGs throttle).
    pub pace: Duration,
}

/// What a reconciliation found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Histories re-read at their PG.
    pub checked: usize,
    /// Histories whose PG state differed from ours.
    pub drifted: usize,
    /// Drifts recorded (each as one change and its event); 0 in a dry run.
    pub fixed: usize,
    /// Histories that could not be re-read or recorded (retried next run).
    pub failed: usize,
    /// Cancel intents whose outcome was unknown, settled first.
    pub intents: SettleReport,
    /// Saved-card charges whose answer was lost and whose caller never
    /// retried: recorded (and announced) or closed as not charged.
    pub charges: ChargeSettleReport,
    /// Pending orders read at their PG: completed, refused, expired.
    pub orders: crate::OrderSettleReport,
}

impl PaymentService {
    /// Re-reads at the PG every history not paid yet and every history
    /// registered or changed since `options.since`, and records each
    /// difference as an ordinary change (one event each), after settling the
    /// cancels whose outcome was unknown and the saved-card charges whose
    /// caller is gone (a charge found at the PG is recorded and announced),
    /// and after reading every pending order at its PG (one the PG shows
    /// paid is completed and announced; one past its expiry is closed).
    ///
    /// # Errors
    /// A storage failure; a PG failure counts the history as
    /// failed and goes on.
    pub async fn reconcile(&self, options: ReconcileOptions) -> Result<ReconcileReport, AppError> {
        let mut report = ReconcileReport::default();
        if !options.dry_run {
            report.intents = self.settle_open_cancels(PAGE).await?;
            report.charges = self.settle_abandoned_charges(PAGE).await?;
            report.orders = self.settle_pending_orders(options.limit, options.pace).await?;
        }
        let mut after: Option<HistoryId> = None;
        'pages: loop {
            let ids = self.histories().reconcile_candidates(options.since, after, PAGE).await?;
            let Some(last) = ids.last() else { break };
            after = Some(*last);
            for id in ids {
                if report.checked >= options.limit {
                    break 'pages;
                }
                if report.checked > 0 {
                    tokio::time::sleep(options.pace).await;
                }
                report.checked += 1;
                match self.reconcile_one(id, options.dry_run).await {
                    Ok(false) => {}
                    Ok(true) => {
                        report.drifted += 1;
                        report.fixed += usize::from(!options.dry_run);
                    }
                    Err(error) => {
                        tracing::warn!(history = %id, %error, "could not reconcile a payment");
                        report.failed += 1;
                    }
                }
            }
        }
        if !options.dry_run {
            let finished = (self.deps.clock.now(), report);
            *self.last_reconciliation.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(finished);
        }
        Ok(report)
    }

    /// When this process's last (recording) reconciliation finished, and what
    /// it did; `None` before the first.
    pub fn last_reconciliation(&self) -> Option<(Timestamp, ReconcileReport)> {
        *self.last_reconciliation.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the PG's state of one history differs from ours; recorded
    /// unless `dry_run`.
    async fn reconcile_one(&self, id: HistoryId, dry_run: bool) -> Result<bool, AppError> {
        if dry_run {
            let stored = self.reload(id).await?;
            let vendor = stored.history.vendor().clone();
            let gateway = self.deps.gateways.get(vendor.code)?;
            let snapshot = gateway.fetch_payment(&vendor.store_id, &vendor.uid).await?;
            return Ok(matches!(stored.history.apply_current(snapshot)?, Applied::Changed(_)));
        }
        self.reread(id, json!({ "type": "reconcile" })).await
    }

    /// Re-reads one payment at its PG now, for an operator of the console:
    /// a drift is recorded as any change, its event's trigger naming them;
    /// whether it changed.
    ///
    /// # Errors
    /// `RecordNotFound`; the PG's failures; storage.
    pub async fn reread_by_operator(&self, id: HistoryId, operator: &str) -> Result<bool, AppError> {
        self.reread(id, json!({ "type": "reread", "by": format!("operator {operator}") })).await
    }

    /// Re-reads one payment at its PG as a notification whose `payload` says
    /// why; whether it changed.
    async fn reread(&self, id: HistoryId, payload: serde_json::Value) -> Result<bool, AppError> {
        let stored = self.histories().find_by_id(id).await?;
        let vendor =
            stored.ok_or(AppError::RecordNotFound(crate::error::RecordKind::History))?.history.vendor().clone();
        let notice = PgNotification {
            vendor: vendor.code,
            target: NotificationTarget::Payment { uid: vendor.uid, ignore_unknown: false, order: None },
            payload,
            signed: false,
        };
        Ok(matches!(self.process_pg_notification(&notice).await?, NotificationOutcome::Changed(_)))
    }
}
