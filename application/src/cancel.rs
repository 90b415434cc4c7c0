//! Cancelling a payment so that money moves once.
//!
//! Every cancel is recorded as a [`CancelIntent`] before the PG is called. The
//! intent is the payment's cancel lock (one open intent per payment, across
//! instances: later cancels wait their turn), carries the PG idempotency key,
//! and survives an answer that was lost: such an intent is `Unknown` and is
//! settled by re-reading the PG (its cancel found there is recorded, never
//! sent again), and only when the PG shows no such cancel is it re-sent, with
//! the same PG idempotency key and the balance it was first sent against, so
//! the PG refuses it if the first attempt did go through after all. The
//! stale-balance retry (a fresh balance, a new attempt) runs only after the
//! PG's explicit balance refusal, and then only once the PG shows the intent
//! did not refund.

use std::time::Duration;

use payments_domain::{CancelKey, HistoryId, PaymentHistory, PaymentSnapshot};
use serde_json::json;
use uuid::Uuid;

use crate::cancel_settle::{Found, cancel_of, closes};
use crate::change::{PgWord, Recorded};
use crate::commands::{CancelHistory, Locator};
use crate::error::AppError;
use crate::keys::derived_id;
use crate::ports::{
    CancelIntent, CancelRequest, GatewayError, IntentBegin, IntentState, PaymentGateway, StoredHistory,
};
use crate::service::PaymentService;

/// How often a cancel is re-sent after the PG refused it for a stale balance
/// (each refusal means another cancel went first, so this only bounds a storm).
const MAX_STALE_BALANCE_RETRIES: u32 = 64;

/// How long a cancel waits for the payment's cancel lock before `CancelInProgress`.
const MAX_LOCK_WAIT: Duration = Duration::from_secs(30);

/// How long to wait before sending again a cancel the PG refused as too soon
/// after the previous one (Toss: one cancel of a payment a second).
/// (Retried up to the stale-balance bound, so a 1 s rule costs a few pauses.)
const TOO_SOON_PAUSE: Duration = Duration::from_millis(250);

/// The id of the intent of a cancel: derived from the caller's key (scoped to
/// the payment) so that a retry finds the first attempt's intent, else new.
fn intent_id(history: HistoryId, key: Option<&str>, fresh: Uuid) -> Uuid {
    let Some(key) = key else { return fresh };
    derived_id(&["cancel-intent", &history.to_string(), key])
}

/// What a cancel asks, whoever asks it (a backend with the record's
/// password, an operator of the console).
#[derive(Debug, Clone)]
pub struct CancelAsk {
    pub price: payments_domain::Money,
    pub reason: payments_domain::CancelReason,
    pub account: Option<crate::ports::RefundAccount>,
    /// A retry with the same key settles the first attempt's cancel instead
    /// of sending another.
    pub idempotency_key: Option<String>,
}

/// What a cancel came to: the payment as recorded after it, and whether the
/// PG completed it.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelOutcome {
    pub history: PaymentHistory,
    /// `false` while the PG has accepted the cancel and not completed it
    /// (PortOne `REQUESTED`, Toss `IN_PROGRESS`): the history lists it as
    /// pending, nothing is refunded yet, and its intent holds the payment's
    /// cancel lock until the PG's word (a notification, or a re-read by the
    /// settle loop or the reconciler) completes it or says it failed.
    pub completed: bool,
}

/// Whether an error leaves the PG's outcome unknown (the cancel may have been
/// made): a timeout, a connection lost, a 5xx, an unreadable answer (or one
/// past our bounds).
fn outcome_unknown(error: &GatewayError) -> bool {
    matches!(
        error,
        GatewayError::Timeout(_)
            | GatewayError::Unavailable(_)
            | GatewayError::Protocol(_)
            | GatewayError::OutOfBounds(_)
    )
}

impl PaymentService {
    /// Cancels a payment wholly or partly at the PG, then records the change
    /// and its webhook event. A retry with the caller's `Idempotency-Key`
    /// returns the first attempt's outcome, settling it at the PG first when
    /// its answer was lost; it never refunds twice.
    ///
    /// # Errors
    /// As for reading; `CancelNotPositive` or `CancelExceedsBalance` (the PG
    /// is not called); `IdempotencyKeyReused` when the key was used for
    /// another cancel; `CancelInProgress` when other cancels of the payment
    /// kept it busy too long; a PG refusal; a PG failure or timeout when its
    /// outcome is unknown (retry with the same key).
    pub async fn cancel_history(&self, input: CancelHistory) -> Result<PaymentHistory, AppError> {
        self.cancel(input).await.map(|outcome| outcome.history)
    }

    /// Whether the cancel of the payment registered for `source` keyed `key`
    /// has its outcome: recorded, or refused. A retry of such a cancel is
    /// answered that outcome without waiting for its first request's claim
    /// on the key (its sender may have died after a survivor settled it).
    ///
    /// # Errors
    /// A storage failure.
    pub async fn cancel_settled(
        &self,
        client: payments_domain::ClientId,
        source: &payments_domain::Source,
        key: &str,
    ) -> Result<bool, AppError> {
        let Some(stored) = self.histories().find_by_source(client, source).await? else { return Ok(false) };
        Ok(self.keyed_intent(stored.history.id(), key).await?.is_some_and(|i| !i.state.is_open()))
    }

    /// Whether a cancel of the payment `history` keyed `key` was asked
    /// before (its retry is answered its outcome, whatever changed since).
    ///
    /// # Errors
    /// A storage failure.
    pub async fn cancel_asked_before(&self, history: HistoryId, key: &str) -> Result<bool, AppError> {
        Ok(self.keyed_intent(history, key).await?.is_some())
    }

    async fn keyed_intent(&self, history: HistoryId, key: &str) -> Result<Option<CancelIntent>, AppError> {
        Ok(self.deps.intents.find(intent_id(history, Some(key), Uuid::nil())).await?)
    }

    /// As [`PaymentService::cancel_history`], telling a cancel the PG
    /// completed from one it accepted and has not completed yet.
    ///
    /// # Errors
    /// As [`PaymentService::cancel_history`].
    pub async fn cancel(&self, input: CancelHistory) -> Result<CancelOutcome, AppError> {
        let stored = self.opened_history(input.client, &Locator::Source(input.source.clone()), &input.password).await?;
        let ask = CancelAsk {
            price: input.price,
            reason: input.reason,
            account: input.account,
            idempotency_key: input.idempotency_key,
        };
        self.cancel_opened(stored, &ask).await
    }

    /// A cancel an operator of the console asks for: the payment found by
    /// its id, whichever client's it is (the operator's role is the gate,
    /// checked by the console, and the audit trail names them), then exactly
    /// the cancel a backend makes (an intent before the PG call, the
    /// idempotency key to the PG, never re-sent while its outcome is unknown).
    ///
    /// # Errors
    /// `RecordNotFound`; as [`PaymentService::cancel_history`] otherwise.
    pub async fn cancel_by_operator(&self, history: HistoryId, ask: &CancelAsk) -> Result<CancelOutcome, AppError> {
        let stored = self.histories().find_by_id(history).await?;
        let stored = stored.ok_or(AppError::RecordNotFound(crate::error::RecordKind::History))?;
        self.cancel_opened(stored, ask).await
    }

    /// The cancel of a payment already opened (by its password, or by an operator).
    async fn cancel_opened(&self, stored: StoredHistory, input: &CancelAsk) -> Result<CancelOutcome, AppError> {
        let gateway = self.deps.gateways.get(stored.history.vendor().code)?;
        let id = intent_id(stored.history.id(), input.idempotency_key.as_deref(), self.deps.ids.new_id());
        // A retry answers its first attempt's outcome, whatever the balance
        // is now (a full cancel settled in the background left none).
        if input.idempotency_key.is_some()
            && let Some(first) = self.deps.intents.find(id).await?
        {
            return self.resume(gateway, input, first).await;
        }
        stored.history.check_cancel(input.price)?;
        let waited_until = tokio::time::Instant::now() + MAX_LOCK_WAIT;
        let mut stored = stored;
        let intent = loop {
            let now = self.deps.clock.now();
            let intent = CancelIntent {
                id,
                history: stored.history.id(),
                amount: input.price,
                reason: input.reason.clone(),
                refund_account: input.account.clone(),
                remaining: stored.history.remaining(),
                attempt: 0,
                state: IntentState::Pending,
                cancel_key: None,
                refusal: None,
                created_at: now,
                updated_at: now,
            };
            match self.deps.intents.begin(&intent).await? {
                IntentBegin::Begun => break self.judged_under_lock(intent, &mut stored, input.price).await?,
                IntentBegin::Exists(first) => return self.resume(gateway, input, first).await,
                IntentBegin::Busy(other) => {
                    // Its sender died or lost its answer: settle it, then take
                    // our turn. Its outcome is its caller's, not ours; while it
                    // cannot be settled (the PG is down) we wait like for a live one.
                    let settled = self.lease_expired(&other) && closes(&self.settle(gateway, other).await);
                    if !settled {
                        if tokio::time::Instant::now() >= waited_until {
                            return Err(AppError::CancelInProgress(
                                "another cancel of this payment is in progress; retry with the same Idempotency-Key"
                                    .into(),
                            ));
                        }
                        self.wait_for_intents().await;
                    }
                    // The balance may have moved while we waited.
                    stored = self.reload(stored.history.id()).await?;
                    stored.history.check_cancel(input.price)?;
                }
            }
        };
        self.send(gateway, intent, stored).await
    }

    /// The intent whose lock we now hold, judged on the record as it is: a
    /// cancel recorded between our read and our lock (on this instance or
    /// another) moved the balance the check before the lock used. Over the
    /// balance now, the intent closes as refused and the PG is not called.
    async fn judged_under_lock(
        &self,
        mut intent: CancelIntent,
        stored: &mut StoredHistory,
        price: payments_domain::Money,
    ) -> Result<CancelIntent, AppError> {
        let current = self.reload(intent.history).await?;
        if current.revision == stored.revision {
            return Ok(intent);
        }
        *stored = current;
        if let Err(error) = stored.history.check_cancel(price) {
            intent.state = IntentState::Refused;
            intent.refusal = Some(error.to_string());
            self.close(&intent).await;
            return Err(error.into());
        }
        intent.remaining = stored.history.remaining();
        intent.updated_at = self.deps.clock.now();
        self.deps.intents.update(&intent).await?;
        Ok(intent)
    }

    /// A retry of a cancel whose intent exists: its outcome, settled first if
    /// still open.
    async fn resume(
        &self,
        gateway: &dyn PaymentGateway,
        input: &CancelAsk,
        first: CancelIntent,
    ) -> Result<CancelOutcome, AppError> {
        if first.amount != input.price || first.reason != input.reason {
            return Err(AppError::IdempotencyKeyReused(
                "this Idempotency-Key was used for another cancel of this payment".into(),
            ));
        }
        match first.state {
            IntentState::Done => {
                Ok(CancelOutcome { history: self.reload(first.history).await?.history, completed: true })
            }
            IntentState::Refused => {
                // Refused for the balance (under the lock, before any PG
                // call), the retry says so as the first answer did; else the
                // PG's refusal.
                self.reload(first.history).await?.history.check_cancel(first.amount)?;
                Err(AppError::PgRefused(first.refusal.unwrap_or_else(|| "the PG refused this cancel".to_owned())))
            }
            IntentState::Pending if !self.lease_expired(&first) => Err(AppError::CancelInProgress(
                "this cancel is still being sent to the PG; retry with the same Idempotency-Key".into(),
            )),
            IntentState::Pending | IntentState::Unknown | IntentState::Accepted => self.settle(gateway, first).await,
        }
    }

    /// Whether an open intent may be settled by someone else than its sender:
    /// it was last touched longer ago than a PG call can take.
    async fn wait_for_intents(&self) {
        let closed = self.intent_closed.notified();
        // Another instance's intent closes without telling us: look again soon.
        let _ = tokio::time::timeout(Duration::from_millis(50), closed).await;
    }

    /// Sends the intent's cancel and records its outcome on `stored`.
    pub(crate) async fn send(
        &self,
        gateway: &dyn PaymentGateway,
        mut intent: CancelIntent,
        mut stored: StoredHistory,
    ) -> Result<CancelOutcome, AppError> {
        let vendor = stored.history.vendor().clone();
        for _ in 0..=MAX_STALE_BALANCE_RETRIES {
            let request = CancelRequest {
                amount: intent.amount,
                currency: stored.history.currency().clone(),
                reason: intent.reason.clone(),
                remaining: intent.remaining,
                refund_account: intent.refund_account.clone(),
                idempotency_key: Some(intent.pg_key()),
            };
            let refusal = match gateway.cancel_payment(&vendor.store_id, &vendor.uid, &request).await {
                Ok(snapshot) => {
                    let claimed = self.deps.intents.claimed_cancel_keys(intent.history).await?;
                    return match cancel_of(&intent, &snapshot, &claimed) {
                        Found::At { key, completed } => {
                            self.record_found(stored, intent, snapshot, key, completed).await
                        }
                        Found::Nothing => {
                            let error = GatewayError::Protocol("the PG answered the cancel without it".into());
                            Err(self.still_unknown(intent, error).await)
                        }
                    };
                }
                Err(error) if outcome_unknown(&error) => return Err(self.still_unknown(intent, error).await),
                Err(GatewayError::TooSoon(why)) => {
                    // Nothing was done; the same cancel goes again a moment
                    // later, as a new attempt (the PG may keep the refusal
                    // under the first key).
                    tracing::debug!(intent = %intent.id, %why, "the PG asks to wait before the next cancel");
                    tokio::time::sleep(TOO_SOON_PAUSE).await;
                    intent.attempt += 1;
                    intent.updated_at = self.deps.clock.now();
                    self.deps.intents.update(&intent).await?;
                    continue;
                }
                Err(GatewayError::BalanceMismatch(message)) => message,
                Err(error) => return Err(self.refused(intent, error).await),
            };
            // The PG holds another balance: another cancel went first, or an
            // earlier attempt of this very intent did. Look before sending again.
            let fresh = match gateway.fetch_payment(&vendor.store_id, &vendor.uid).await {
                Ok(fresh) => fresh,
                Err(error) => return Err(self.still_unknown(intent, error).await),
            };
            let claimed = self.deps.intents.claimed_cancel_keys(intent.history).await?;
            match cancel_of(&intent, &fresh, &claimed) {
                Found::At { key, completed } => return self.record_found(stored, intent, fresh, key, completed).await,
                Found::Nothing => {}
            }
            let Some(remaining) = fresh.remaining().filter(|r| *r != intent.remaining) else {
                return Err(self.refused(intent, GatewayError::BalanceMismatch(refusal)).await);
            };
            if intent.amount > remaining {
                let error = payments_domain::DomainError::CancelExceedsBalance { requested: intent.amount, remaining };
                intent.state = IntentState::Refused;
                intent.refusal = Some(error.to_string());
                self.close(&intent).await;
                return Err(error.into());
            }
            intent.remaining = remaining;
            intent.attempt += 1;
            intent.updated_at = self.deps.clock.now();
            self.deps.intents.update(&intent).await?;
            stored = self.reload(intent.history).await?;
        }
        Err(self.still_unknown(intent, GatewayError::Unavailable("too many stale-balance refusals".into())).await)
    }

    /// Records the intent's cancel as the PG shows it (the change and its
    /// event). Completed (`completed`), the intent closes as done; accepted
    /// and not completed, it stays open as accepted (still the payment's
    /// cancel lock), keeping the PG's cancel to settle it by. A failure to
    /// record leaves the intent unknown: settling finds the cancel at the PG.
    pub(crate) async fn record_found(
        &self,
        stored: StoredHistory,
        mut intent: CancelIntent,
        snapshot: PaymentSnapshot,
        key: CancelKey,
        completed: bool,
    ) -> Result<CancelOutcome, AppError> {
        let status = if completed { "done" } else { "pending" };
        let history = match self.record_cancel(stored, snapshot, self.cancel_trigger(&intent, status)).await {
            Ok(history) => history,
            Err(error) => return Err(self.unrecorded(intent, error).await),
        };
        intent.cancel_key = Some(key);
        if completed {
            intent.state = IntentState::Done;
            self.close(&intent).await;
        } else {
            intent.state = IntentState::Accepted;
            intent.updated_at = self.deps.clock.now();
            if let Err(error) = self.deps.intents.update(&intent).await {
                tracing::error!(intent = %intent.id, %error, "could not mark a cancel intent accepted");
            }
        }
        Ok(CancelOutcome { history, completed })
    }

    /// The trigger of the event a cancel records. The refund account is
    /// passed to the PG only, never in the trigger.
    pub(crate) fn cancel_trigger(&self, intent: &CancelIntent, status: &str) -> serde_json::Value {
        json!({
            "type": "cancel",
            "price": intent.amount,
            "reason": intent.reason.as_str(),
            "intent": intent.id,
            "status": status,
        })
    }

    /// After the PG answered but the change could not be recorded: the
    /// intent is unknown (settling finds the cancel at the PG); the error
    /// is the answer.
    async fn unrecorded(&self, mut intent: CancelIntent, error: AppError) -> AppError {
        intent.state = IntentState::Unknown;
        intent.updated_at = self.deps.clock.now();
        if let Err(stuck) = self.deps.intents.update(&intent).await {
            tracing::error!(intent = %intent.id, %stuck, "could not mark a cancel intent unknown");
        }
        error
    }

    /// Records the PG's answer to a cancel (the change and its event).
    pub(crate) async fn record_cancel(
        &self,
        stored: StoredHistory,
        snapshot: PaymentSnapshot,
        trigger: serde_json::Value,
    ) -> Result<PaymentHistory, AppError> {
        Ok(match self.record_change(stored, PgWord::Answer(snapshot), trigger).await? {
            Recorded::Unchanged(history) => history,
            Recorded::Changed(event) => event.current().clone(),
        })
    }

    /// Marks the intent's outcome unknown and answers the error that made it so.
    pub(crate) async fn still_unknown(&self, mut intent: CancelIntent, error: GatewayError) -> AppError {
        tracing::warn!(intent = %intent.id, %error, "the outcome of a cancel is unknown; it is settled before any resend");
        intent.state = IntentState::Unknown;
        intent.updated_at = self.deps.clock.now();
        if let Err(stuck) = self.deps.intents.update(&intent).await {
            tracing::error!(intent = %intent.id, %stuck, "could not mark a cancel intent unknown");
        }
        self.intent_closed.notify_waiters();
        error.into()
    }

    /// Closes the intent as refused and answers the refusal.
    async fn refused(&self, mut intent: CancelIntent, error: GatewayError) -> AppError {
        intent.state = IntentState::Refused;
        intent.refusal = Some(AppError::from(error.clone()).to_string());
        self.close(&intent).await;
        error.into()
    }

    /// Writes a settled intent and wakes the cancels waiting for the payment.
    pub(crate) async fn close(&self, intent: &CancelIntent) {
        let mut intent = intent.clone();
        intent.updated_at = self.deps.clock.now();
        if let Err(error) = self.deps.intents.update(&intent).await {
            // Still open in storage: the next cancel (or the reconciler)
            // settles it by re-reading the PG.
            tracing::error!(intent = %intent.id, %error, "could not close a cancel intent");
        }
        self.intent_closed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intent_ids_are_derived_from_the_callers_key_per_payment() {
        let a = HistoryId::from_uuid(Uuid::from_u128(1));
        let b = HistoryId::from_uuid(Uuid::from_u128(2));
        let fresh = Uuid::from_u128(99);
        assert_eq!(intent_id(a, Some("k"), fresh), intent_id(a, Some("k"), Uuid::from_u128(7)));
        assert_ne!(intent_id(a, Some("k"), fresh), intent_id(b, Some("k"), fresh));
        assert_ne!(intent_id(a, Some("k"), fresh), intent_id(a, Some("k2"), fresh));
        assert_eq!(intent_id(a, None, fresh), fresh);
    }
}
