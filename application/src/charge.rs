//! Charging a saved card.
//!
//! A charge moves money once. It is recorded as an intent (one per PG order)
//! before the PG is called, sent with an idempotency key that every attempt
//! of it shares, and never sent again while its outcome is unknown: a retry
//! (the caller's, with the same `Idempotency-Key`) first looks the order up
//! at the PG, records the payment it finds, and sends again only when the PG
//! holds none.

use payments_domain::{
    HistoryId, HistoryIdentity, Money, OrderId, PasswordHash, PaymentHistory, PaymentPhase, SavedCard, SavedCardId,
    Timestamp, Vendor,
};
use uuid::Uuid;

use crate::commands::ChargeSavedCard;
use crate::error::AppError;
use crate::keys::{derived_id, derived_key};
use crate::ports::{
    ChargeBegin, ChargeContext, ChargeIntent, ChargeRequest, ChargedPayment, GatewayError, IntentState, PaymentGateway,
    RepositoryError, StoredSavedCard,
};
use crate::service::PaymentService;

/// Why a charge is refused when its source is registered already.
const SOURCE_TAKEN: &str = "a payment is already registered for this source";

/// The id of a charge's intent: derived from the saved card and the caller's
/// key, so a retry finds the first attempt's intent.
fn charge_intent_id(card: SavedCardId, key: &str) -> Uuid {
    derived_id(&["charge-intent", &card.to_string(), key])
}

/// One charge being made: the card, the amount, the caller's side (its
/// record, webhook URL and title), the PG order id and the password hash the
/// new history is stored with (the card's).
struct Charging<'a> {
    card: &'a SavedCard,
    price: Money,
    context: ChargeContext,
    order_id: OrderId,
    password_hash: PasswordHash,
}

/// What recording a charge does besides storing the payment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Announce {
    /// Nothing: the caller has the answer.
    No,
    /// An event to the backend: nobody answered the caller (the reconciler
    /// recorded a charge whose caller is gone).
    Recorded,
}

/// What [`PaymentService::settle_abandoned_charges`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChargeSettleReport {
    /// Abandoned charge intents looked at.
    pub checked: usize,
    /// Charged at the PG: recorded as a payment and announced.
    pub recorded: usize,
    /// Not charged: the PG holds no payment of the order; closed.
    pub not_charged: usize,
    /// Still open: the PG could not be read, or the intent predates what
    /// recording needs (retried at the next run, or left to the caller's retry).
    pub left_open: usize,
}

/// The PG's uniqueness of an order: one charge per (vendor, store, order id).
fn order_digest(vendor: &Vendor, order_id: &OrderId) -> String {
    derived_key("order", &[vendor.code.as_str(), vendor.store_id.as_str(), order_id.as_str()])
}

impl PaymentService {
    /// Whether the charge of `card` keyed `key` has its outcome: charged and
    /// recorded, or refused. A retry of such a charge is answered that
    /// outcome without waiting for its first request's claim on the key.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn charge_settled(&self, card: SavedCardId, key: &str) -> Result<bool, AppError> {
        let intent = self.deps.charges.find_charge(charge_intent_id(card, key)).await?;
        Ok(intent.is_some_and(|i| !i.state.is_open()))
    }

    /// Charges a saved card and records the payment as an ordinary history
    /// (pointing at the card), so it is read, cancelled, announced and
    /// reconciled like any other. The history opens with the card's password.
    ///
    /// # Errors
    /// As for reading a saved card; `SavedCardRemoved`; `AlreadyRegistered`
    /// when the source is taken or another request charges the same order;
    /// `ChargeInProgress` while this charge is being sent; a PG refusal when
    /// the PG or the card company refused (nothing charged, no history); a PG
    /// failure or timeout when the
    /// PG's answer was lost (the retry with the same key settles it).
    pub async fn charge_saved_card(&self, input: ChargeSavedCard) -> Result<PaymentHistory, AppError> {
        self.check_webhook_url(&input.webhook_url).await?;
        // We send no currency, so both PGs charge won (Toss's billing charge
        // takes none; Iamport's `again` defaults to KRW): whole amounts only.
        payments_domain::Currency::krw().check_amount("price", input.price)?;
        let StoredSavedCard { reservation: card, password_hash } =
            self.opened_saved_card(input.client, &input.reservation, &input.password).await?;
        if card.removed_at.is_some() {
            return Err(AppError::SavedCardRemoved);
        }
        let gateway = self.deps.gateways.get(card.vendor.code)?;
        let order_id = OrderId::parse(input.source.id.as_str())?;
        let context = ChargeContext {
            source: input.source.clone(),
            webhook_url: input.webhook_url.clone(),
            title: input.title.clone(),
        };
        // The history opens with the card's password: its verified hash serves.
        let charge = Charging { card: &card, price: input.price, context: context.clone(), order_id, password_hash };
        let now = self.deps.clock.now();
        let fresh = ChargeIntent {
            id: charge_intent_id(card.id, &input.idempotency_key),
            reservation: card.id,
            order_digest: order_digest(&card.vendor, &charge.order_id),
            amount: input.price,
            state: IntentState::Pending,
            history: None,
            refusal: None,
            context: Some(context),
            created_at: now,
            updated_at: now,
        };
        let intent = match self.deps.charges.begin_charge(&fresh).await? {
            ChargeBegin::Begun => {
                if self.histories().find_by_source(input.client, &input.source).await?.is_some() {
                    let why = SOURCE_TAKEN;
                    self.close_charge(fresh, IntentState::Refused, None, Some(why.into()), now).await;
                    return Err(AppError::AlreadyRegistered { param: "source", message: why.into() });
                }
                return self.send_charge(gateway, &charge, fresh).await;
            }
            ChargeBegin::Exists(existing) if existing.id != fresh.id => {
                return Err(AppError::AlreadyRegistered {
                    param: "source",
                    message: "a charge of this order was already asked with another Idempotency-Key".into(),
                });
            }
            ChargeBegin::Exists(existing) => *existing,
        };
        match intent.state {
            IntentState::Done => {
                let id =
                    intent.history.ok_or_else(|| AppError::internal(anyhow::anyhow!("done charge without history")))?;
                Ok(self.reload(id).await?.history)
            }
            // Refused for a source registered meanwhile, or by the PG.
            IntentState::Refused => Err(match intent.refusal {
                Some(why) if why == SOURCE_TAKEN => AppError::AlreadyRegistered { param: "source", message: why },
                why => AppError::PgRefused(why.unwrap_or_else(|| "the PG refused this charge".into())),
            }),
            IntentState::Pending if !self.charge_lease_expired(&intent, now) => {
                Err(AppError::ChargeInProgress("this charge is being sent; retry in a moment".into()))
            }
            // (Accepted is a cancel's state; a charge is never left in it.)
            IntentState::Pending | IntentState::Unknown | IntentState::Accepted => {
                let expected = intent.updated_at;
                let mut taken = intent;
                taken.state = IntentState::Pending;
                taken.updated_at = now;
                if !self.deps.charges.update_charge(&taken, expected).await? {
                    return Err(AppError::ChargeInProgress("this charge is being settled; retry in a moment".into()));
                }
                self.settle_charge(gateway, &charge, taken).await
            }
        }
    }

    /// Settles, at most `limit` of them, the charge intents whose outcome is
    /// open and whose sender is gone (untouched for longer than the intent
    /// lease): the caller's answer was lost and it never retried. Each is
    /// looked up at the PG by its order id: a payment found is recorded as
    /// the history the charge would have made and announced to the backend
    /// with one webhook; none found closes the intent as not charged (a
    /// retry with the caller's key then answers so; nothing is ever sent).
    ///
    /// # Errors
    /// A storage failure; a PG failure leaves that intent open.
    pub async fn settle_abandoned_charges(&self, limit: u32) -> Result<ChargeSettleReport, AppError> {
        let now = self.deps.clock.now();
        let lease = chrono::Duration::from_std(self.deps.intent_lease).unwrap_or(chrono::Duration::MAX);
        let stale_before = now.checked_sub_signed(lease).unwrap_or(now);
        let mut report = ChargeSettleReport::default();
        for intent in self.deps.charges.abandoned_charges(stale_before, limit).await? {
            report.checked += 1;
            match self.settle_abandoned_charge(intent, now).await {
                Ok(Some(true)) => report.recorded += 1,
                Ok(Some(false)) => report.not_charged += 1,
                Ok(None) => report.left_open += 1,
                Err(error) => {
                    tracing::warn!(%error, "could not settle an abandoned charge; the next run tries again");
                    report.left_open += 1;
                }
            }
        }
        Ok(report)
    }

    /// One abandoned charge: `Some(true)` recorded, `Some(false)` not
    /// charged, `None` left open.
    async fn settle_abandoned_charge(&self, intent: ChargeIntent, now: Timestamp) -> Result<Option<bool>, AppError> {
        let Some(context) = intent.context.clone() else {
            tracing::warn!(intent = %intent.id, "an abandoned charge begun before its context was kept: left to its caller's retry");
            return Ok(None);
        };
        let Some(StoredSavedCard { reservation: card, password_hash }) =
            self.deps.reservations.find_by_id(intent.reservation).await?
        else {
            return Ok(None);
        };
        // Taken over from the expected version: two reconcilers never both settle it.
        let expected = intent.updated_at;
        let mut taken = intent;
        taken.state = IntentState::Pending;
        taken.updated_at = now;
        if !self.deps.charges.update_charge(&taken, expected).await? {
            return Ok(None);
        }
        let gateway = self.deps.gateways.get(card.vendor.code)?;
        let order_id = OrderId::parse(context.source.id.as_str())?;
        let charge = Charging { card: &card, price: taken.amount, context, order_id, password_hash };
        match gateway.find_by_order(&card.vendor.store_id, &charge.order_id).await {
            Ok(Some(payment)) => match self.record_charge(&charge, taken, payment, Announce::Recorded).await {
                Ok(_) => Ok(Some(true)),
                // Refused or left unknown by what the PG shows: closed or
                // open as record_charge decided.
                Err(error) if error.cause() == crate::Cause::PgRejected => Ok(Some(false)),
                Err(error) => Err(error),
            },
            Ok(None) => {
                let why = "not charged: the PG holds no payment of this order".to_owned();
                self.close_charge(taken, IntentState::Refused, None, Some(why), now).await;
                Ok(Some(false))
            }
            Err(error) => {
                let _ = self.charge_unknown(taken, error).await;
                Ok(None)
            }
        }
    }

    fn charge_lease_expired(&self, intent: &ChargeIntent, now: Timestamp) -> bool {
        now - intent.updated_at > chrono::Duration::from_std(self.deps.intent_lease).unwrap_or(chrono::Duration::MAX)
    }

    /// An intent whose outcome is not known: the PG is asked for the order
    /// first; only when it holds none is the charge sent (with the same key).
    async fn settle_charge(
        &self,
        gateway: &dyn PaymentGateway,
        charge: &Charging<'_>,
        intent: ChargeIntent,
    ) -> Result<PaymentHistory, AppError> {
        match gateway.find_by_order(&charge.card.vendor.store_id, &charge.order_id).await {
            Ok(Some(payment)) => self.record_charge(charge, intent, payment, Announce::No).await,
            Ok(None) => self.send_charge(gateway, charge, intent).await,
            Err(error) => Err(self.charge_unknown(intent, error).await),
        }
    }

    async fn send_charge(
        &self,
        gateway: &dyn PaymentGateway,
        charge: &Charging<'_>,
        intent: ChargeIntent,
    ) -> Result<PaymentHistory, AppError> {
        let Charging { card, price, context, order_id, .. } = charge;
        let request = ChargeRequest {
            order_id: order_id.clone(),
            amount: *price,
            currency: payments_domain::Currency::krw(),
            order_name: context.title.clone(),
            customer: card.source.id.clone(),
            idempotency_key: intent.pg_key(),
        };
        match gateway.charge_saved_card(&card.vendor.store_id, &card.vendor.uid, &card.data, &request).await {
            Ok(payment) => self.record_charge(charge, intent, payment, Announce::No).await,
            // Refused, or the PG does not know the card: nothing was charged.
            Err(GatewayError::Rejected(why) | GatewayError::NotFound(why)) => {
                let message = format!("the PG refused the charge: {why}");
                self.close_charge(intent, IntentState::Refused, None, Some(message.clone()), self.deps.clock.now())
                    .await;
                Err(AppError::PgRefused(message))
            }
            Err(error) => Err(self.charge_unknown(intent, error).await),
        }
    }

    /// Records the payment a charge made (once: a concurrent settle that
    /// recorded it first is answered with its history), announced when
    /// `announce` says nobody answered the caller.
    async fn record_charge(
        &self,
        charge: &Charging<'_>,
        intent: ChargeIntent,
        payment: ChargedPayment,
        announce: Announce,
    ) -> Result<PaymentHistory, AppError> {
        let Charging { card, price, context, password_hash, .. } = charge;
        let now = self.deps.clock.now();
        match payment.snapshot.phase {
            PaymentPhase::Paid => {}
            PaymentPhase::Failed => {
                let message = format!("the PG refused the charge (status {})", payment.snapshot.pg_status);
                self.close_charge(intent, IntentState::Refused, None, Some(message.clone()), now).await;
                return Err(AppError::PgRefused(message));
            }
            _ => {
                let message = format!("the PG shows the charge as {}", payment.snapshot.pg_status);
                return Err(self.charge_unknown(intent, GatewayError::Protocol(message)).await);
            }
        }
        if let Err(mismatch) = payment.snapshot.ensure_price(*price) {
            return Err(self.charge_unknown(intent, GatewayError::Protocol(mismatch.to_string())).await);
        }
        let vendor = Vendor { code: card.vendor.code, store_id: card.vendor.store_id.clone(), uid: payment.uid };
        let identity = HistoryIdentity {
            id: HistoryId::from_uuid(self.deps.ids.new_id()),
            vendor,
            source: context.source.clone(),
            webhook_url: context.webhook_url.clone(),
            created_at: now,
            reservation_id: Some(card.id),
            client: card.client,
        };
        let history = PaymentHistory::register(identity, payment.snapshot)?;
        let history = match self.histories().insert(&history, password_hash).await {
            Ok(()) if announce == Announce::Recorded => self.announce_recorded(history, now).await?,
            Ok(()) => history,
            Err(RepositoryError::Conflict(_)) => {
                let code = history.vendor().code;
                match self.histories().find_by_vendor(code, &history.vendor().uid).await? {
                    // Recorded by an earlier attempt. One the reconciler
                    // recorded and could not announce (no change saved since:
                    // revision 0) is announced now, so a failed announcement
                    // is retried rather than lost.
                    Some(stored)
                        if stored.history.identity().reservation_id == Some(card.id)
                            && announce == Announce::Recorded
                            && stored.revision == crate::ports::Revision(0) =>
                    {
                        self.announce_recorded(stored.history, now).await?
                    }
                    Some(stored) if stored.history.identity().reservation_id == Some(card.id) => stored.history,
                    _ => {
                        return Err(AppError::AlreadyRegistered { param: "source", message: SOURCE_TAKEN.into() });
                    }
                }
            }
            // Left open: the next attempt finds the payment at the PG.
            Err(other) => return Err(self.charge_unknown(intent, GatewayError::Unavailable(other.to_string())).await),
        };
        self.close_charge(intent, IntentState::Done, Some(history.id()), None, now).await;
        Ok(history)
    }

    /// Announces a payment recorded with nobody to answer: one event with
    /// no `previous`, its `current` the payment as recorded, its trigger
    /// `charge_recorded` (the backend never got the charge's answer).
    async fn announce_recorded(&self, history: PaymentHistory, now: Timestamp) -> Result<PaymentHistory, AppError> {
        let trigger = serde_json::json!({
            "type": "charge_recorded",
            "reason": "the charge's answer was lost and its caller never retried; found at the PG by the reconciler",
        });
        let id = payments_domain::EventId::from_uuid(self.deps.ids.new_id());
        let event = payments_domain::WebhookEvent::created(id, history.clone(), trigger, now);
        self.histories().save_change(crate::ports::Revision(0), &history, &event).await?;
        Ok(history)
    }

    /// Leaves the intent unknown (settled by the next attempt) and answers
    /// the error that made it so.
    async fn charge_unknown(&self, intent: ChargeIntent, error: GatewayError) -> AppError {
        tracing::warn!(intent = %intent.id, %error, "the outcome of a charge is unknown; it is settled before any resend");
        self.close_charge(intent, IntentState::Unknown, None, None, self.deps.clock.now()).await;
        match error {
            GatewayError::Unavailable(message) => AppError::Pg(GatewayError::Unavailable(format!(
                "{message}; the charge's outcome is unknown: retry with the same Idempotency-Key"
            ))),
            other => other.into(),
        }
    }

    async fn close_charge(
        &self,
        mut intent: ChargeIntent,
        state: IntentState,
        history: Option<HistoryId>,
        refusal: Option<String>,
        now: Timestamp,
    ) {
        let expected = intent.updated_at;
        intent.state = state;
        intent.history = history;
        intent.refusal = refusal;
        intent.updated_at = now.max(expected);
        if let Err(stuck) = self.deps.charges.update_charge(&intent, expected).await {
            tracing::error!(intent = %intent.id, %stuck, "could not record a charge's outcome; the next attempt settles it");
        }
    }
}
