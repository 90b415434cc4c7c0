//! Cancels whose outcome is open, settled from what the PG shows: an
//! intent whose sender is gone or whose answer was lost (its cancel found at
//! the PG is recorded, and only when the PG shows none is it sent again), and
//! a cancel the PG accepted and has not completed.

use payments_domain::{CancelKey, PaymentHistory, PaymentSnapshot};

use crate::cancel::CancelOutcome;
use crate::error::{AppError, Cause};
use crate::ports::{CancelIntent, IntentState, PaymentGateway, StoredHistory};
use crate::service::PaymentService;

/// How far before an intent a PG cancel may be timed and still be the
/// intent's (the PG's clock and ours differ).
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// The PG cancel an intent made, as a snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// This cancel; `completed`: money refunded (else accepted, not completed).
    At { key: CancelKey, completed: bool },
    /// Not there.
    Nothing,
}

/// The PG cancel `intent` made, as `snapshot` shows it: a cancel of its amount,
/// not before it (allowing for clock skew), and not made by another intent.
/// The earliest such one, completed ones first.
pub(crate) fn cancel_of(intent: &CancelIntent, snapshot: &PaymentSnapshot, claimed: &[CancelKey]) -> Found {
    let not_before = intent.created_at - chrono::Duration::milliseconds(CLOCK_SKEW_MS);
    let find = |cancels: &[payments_domain::CancelHistory]| {
        cancels
            .iter()
            .filter(|c| c.price == intent.amount && c.created_at >= not_before && !claimed.contains(&c.key))
            .min_by_key(|c| (c.created_at, c.key.clone()))
            .map(|c| c.key.clone())
    };
    match (find(&snapshot.cancels), find(&snapshot.pending_cancels)) {
        (Some(key), _) => Found::At { key, completed: true },
        (None, Some(key)) => Found::At { key, completed: false },
        (None, None) => Found::Nothing,
    }
}

/// Whether settling an intent closed it: recorded as done, or refused by the
/// PG (its refusal is the answer); anything else (still pending at the PG
/// included) leaves it open.
pub(crate) fn closes(outcome: &Result<CancelOutcome, AppError>) -> bool {
    match outcome {
        Ok(CancelOutcome { completed, .. }) => *completed,
        // Refused: closed with the refusal as its answer.
        Err(error) => matches!(error.cause(), Cause::PgRejected),
    }
}

/// What [`PaymentService::settle_open_cancels`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettleReport {
    /// Open intents looked at.
    pub checked: usize,
    /// Settled: recorded as done or refused.
    pub settled: usize,
    /// Still open: their sender may still be at work, or the PG could not be read.
    pub left_open: usize,
}

impl PaymentService {
    /// Settles, at most `limit` of them, the open cancel intents whose sender
    /// is gone (its lease ran out) or whose answer was lost: each is re-read at
    /// the PG and recorded, or sent again only when the PG shows no such cancel.
    ///
    /// # Errors
    /// A storage failure; a PG failure leaves that intent open.
    pub async fn settle_open_cancels(&self, limit: u32) -> Result<SettleReport, AppError> {
        let mut report = SettleReport::default();
        for intent in self.deps.intents.open(limit).await? {
            report.checked += 1;
            // A cancel the PG accepted is re-read at every pass (that is all
            // there is to do); any other open intent only once its sender's
            // lease ran out.
            if intent.state != IntentState::Accepted && !self.lease_expired(&intent) {
                report.left_open += 1;
                continue;
            }
            let id = intent.id;
            let vendor = self.reload(intent.history).await?.history.vendor().code;
            let gateway = self.deps.gateways.get(vendor)?;
            let outcome = self.settle(gateway, intent).await;
            if closes(&outcome) {
                report.settled += 1;
            } else {
                if let Err(error) = outcome {
                    tracing::warn!(intent = %id, %error, "an open cancel could not be settled yet");
                }
                report.left_open += 1;
            }
        }
        Ok(report)
    }

    pub(crate) fn lease_expired(&self, intent: &CancelIntent) -> bool {
        intent.state == IntentState::Unknown
            || self.deps.clock.now() - intent.updated_at
                > chrono::Duration::from_std(self.deps.intent_lease).unwrap_or(chrono::Duration::MAX)
    }

    /// Settles an open intent whose outcome is unknown: the PG is re-read
    /// first; the intent's cancel found there is recorded; only when the PG
    /// shows none is it sent again (same PG key, same balance).
    pub(crate) async fn settle(
        &self,
        gateway: &dyn PaymentGateway,
        intent: CancelIntent,
    ) -> Result<CancelOutcome, AppError> {
        let stored = self.reload(intent.history).await?;
        let vendor = stored.history.vendor().clone();
        let snapshot = match gateway.fetch_payment(&vendor.store_id, &vendor.uid).await {
            Ok(snapshot) => snapshot,
            // A cancel the PG accepted stays accepted: only its end is unknown.
            Err(error) if intent.state == IntentState::Accepted => return Err(error.into()),
            Err(error) => return Err(self.still_unknown(intent, error).await),
        };
        if intent.state == IntentState::Accepted {
            return self.settle_accepted(stored, intent, snapshot).await;
        }
        let claimed = self.deps.intents.claimed_cancel_keys(intent.history).await?;
        match cancel_of(&intent, &snapshot, &claimed) {
            Found::At { key, completed } => self.record_found(stored, intent, snapshot, key, completed).await,
            Found::Nothing => {
                tracing::info!(intent = %intent.id, "the PG shows no cancel of an unknown intent: sending it again");
                self.send(gateway, intent, stored).await
            }
        }
    }

    /// Settles a cancel the PG accepted, on what the PG says now: completed
    /// (recorded, done), failed (its pending entry dropped, refused), or
    /// still in progress (recorded as the PG shows it; the intent's lease is
    /// renewed, so waiting cancels re-read it once a lease).
    async fn settle_accepted(
        &self,
        stored: StoredHistory,
        mut intent: CancelIntent,
        snapshot: PaymentSnapshot,
    ) -> Result<CancelOutcome, AppError> {
        let Some(key) = intent.cancel_key.clone() else {
            return Err(AppError::internal(anyhow::anyhow!("accepted cancel intent {} has no cancel key", intent.id)));
        };
        if snapshot.cancels.iter().any(|c| c.key == key) {
            return self.record_found(stored, intent, snapshot, key, true).await;
        }
        let failed = snapshot.failed_cancels.contains(&key);
        let history = self.record_cancel(stored, snapshot, self.cancel_trigger(&intent, "pending")).await?;
        if failed {
            let refusal = format!("the PG reports that cancel {} failed; nothing was refunded", key.as_str());
            intent.state = IntentState::Refused;
            intent.refusal = Some(refusal.clone());
            self.close(&intent).await;
            return Err(AppError::PgRefused(refusal));
        }
        intent.updated_at = self.deps.clock.now();
        self.deps.intents.update(&intent).await?;
        Ok(CancelOutcome { history, completed: false })
    }

    /// A change recorded from the PG's word that completed (or dropped) a
    /// cancel the PG had accepted settles that cancel's intent at once, so
    /// the payment's next cancel does not wait for the settle loop. Nothing
    /// is read from the PG: the change already says it. A failure is logged;
    /// the settle loop closes the intent later.
    pub(crate) async fn close_settled_cancel(&self, previous: &PaymentHistory, next: &PaymentHistory) {
        if previous.pending_cancels().is_empty() {
            return;
        }
        let mut intent = match self.deps.intents.open_of(next.id()).await {
            Ok(Some(intent)) if intent.state == IntentState::Accepted => intent,
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(history = %next.id(), %error, "could not look up the cancel a change settled");
                return;
            }
        };
        let Some(key) = intent.cancel_key.clone() else { return };
        if next.pending_cancels().iter().any(|c| c.key == key) {
            return;
        }
        if next.cancels().iter().any(|c| c.key == key) {
            intent.state = IntentState::Done;
        } else {
            intent.state = IntentState::Refused;
            intent.refusal = Some(format!("the PG reports that cancel {} failed; nothing was refunded", key.as_str()));
        }
        self.close(&intent).await;
    }
}
