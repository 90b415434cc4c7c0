//! Registering a payment made in the PG's window.

use payments_domain::{CancelReason, HistoryId, HistoryIdentity, PaymentHistory, PaymentPhase, PaymentSnapshot};

use crate::commands::CreateHistory;
use crate::error::AppError;
use crate::keys::derived_key;
use crate::orders::{Answered, OrderSettled};
use crate::policy::OrderBinding;
use crate::ports::{CancelRequest, ConfirmRequest, PasswordRecord, PaymentGateway, StoredOrder};
use crate::service::PaymentService;

impl PaymentService {
    /// Registers a payment: refuses duplicates, reads the payment from the PG,
    /// confirms it there when the PG waits for the merchant's confirmation
    /// (after checking its price: a wrong price is never charged), and if the
    /// PG charged another amount, cancels it there and refuses.
    ///
    /// # Errors
    /// `AlreadyRegistered` for the payment or the source; `PgNotFound` when
    /// the PG does not know the uid; `OrderMismatch`; `PriceMismatch` or
    /// `CurrencyMismatch` (after cancelling a
    /// charged payment), a confirmation the PG refused, or a payment that can
    /// never be paid (`PaymentNotPayable`); a PG failure or timeout
    /// (nothing is written).
    ///
    /// A source with a pending order registers under it (see
    /// [`Self::register_ordered`]): answered `Existing` when the order's
    /// payment was recorded first (by the PG's webhook or the reconciler).
    pub async fn create_history(&self, input: CreateHistory) -> Result<Answered<PaymentHistory>, AppError> {
        self.check_new_password(&input.password)?;
        self.check_webhook_url(&input.webhook_url).await?;
        if let Some(order) = self.orders().find_order_by_source(input.client, &input.source).await?
            && let Some(answered) = self.register_ordered(&input, order).await?
        {
            return Ok(answered);
        }
        if self.histories().find_by_vendor(input.vendor.code, &input.vendor.uid).await?.is_some() {
            return Err(AppError::AlreadyRegistered {
                param: "vendor.uid",
                message: format!("payment {} of {} is already registered", input.vendor.uid, input.vendor.code),
            });
        }
        if self.histories().find_by_source(input.client, &input.source).await?.is_some() {
            return Err(AppError::AlreadyRegistered {
                param: "source",
                message: "a payment is already registered for this source".into(),
            });
        }
        let gateway = self.deps.gateways.get(input.vendor.code)?;
        let read_at = self.deps.clock.now();
        let mut snapshot = gateway.fetch_payment(&input.vendor.store_id, &input.vendor.uid).await?;
        self.ensure_own_order(&input, &snapshot)?;
        // A price the currency cannot have is the caller's mistake: refused
        // before it is compared (a mismatch cancels the payment).
        snapshot.currency.check_amount("price", input.price)?;
        if snapshot.phase == PaymentPhase::AwaitingConfirmation {
            // Not charged yet: a wrong price is refused before anything is charged.
            snapshot.ensure_price(input.price)?;
            let currency = snapshot.currency.clone();
            snapshot = confirmed(gateway, &input, snapshot, input.price, currency).await?;
        }
        snapshot.ensure_registrable()?;
        if let Err(mismatch) = snapshot.ensure_price(input.price) {
            self.cancel_mismatched(gateway, &input, &snapshot).await;
            return Err(mismatch.into());
        }
        if let Some(expected) = input.currency.as_ref().filter(|c| **c != snapshot.currency) {
            self.cancel_mismatched(gateway, &input, &snapshot).await;
            return Err(AppError::CurrencyMismatch { expected: expected.to_string() });
        }
        let password_hash = self.hash(&input.password).await?;
        let identity = HistoryIdentity {
            id: HistoryId::from_uuid(self.deps.ids.new_id()),
            vendor: input.vendor,
            source: input.source,
            webhook_url: input.webhook_url,
            created_at: self.deps.clock.now(),
            reservation_id: None,
            client: input.client,
        };
        let history = PaymentHistory::register(identity, snapshot)?;
        self.histories().insert(&history, &password_hash).await?;
        // The PG's notifications that came before this read (the webhook that
        // raced the customer's redirect) are answered by it: no read more.
        self.rereads.read_elsewhere(history.id(), read_at);
        Ok(Answered::Created(history))
    }

    /// Registers the payment of the order `stored` (the source's): with the
    /// order's password, at the order's amount (a Toss payment is confirmed
    /// with it; a request with another price is refused before anything is
    /// confirmed), recorded and announced as the webhook would have. An
    /// order completed already answers its history (`Existing`). `None`
    /// when the order no longer applies (expired, or paid after its
    /// expiry): the payment registers as one without an order.
    async fn register_ordered(
        &self,
        input: &CreateHistory,
        stored: StoredOrder,
    ) -> Result<Option<Answered<PaymentHistory>>, AppError> {
        self.check_password(PasswordRecord::Order(stored.order.id), &input.password, &stored.password_hash).await?;
        let order = &stored.order;
        if order.vendor_code != input.vendor.code || order.store_id != input.vendor.store_id {
            return Err(AppError::OrderMismatch {
                param: "vendor",
                message: format!("the order of this source is at {} store {}", order.vendor_code, order.store_id),
            });
        }
        match &order.status {
            payments_domain::OrderStatus::Pending => {}
            payments_domain::OrderStatus::Completed { .. } | payments_domain::OrderStatus::Refused { .. } => {
                let Some(id) = order.history() else { return Ok(None) };
                return self.ordered_answer(self.reload(id).await?.history, input, order).await.map(Some);
            }
            payments_domain::OrderStatus::Expired => return Ok(None),
        }
        if order.state_at(self.deps.clock.now()) != payments_domain::OrderState::Pending {
            return Ok(None);
        }
        if input.price != order.price {
            return Err(AppError::OrderMismatch {
                param: "price",
                message: format!("price {} is not the order's {}", input.price, order.price),
            });
        }
        if let Some(expected) = input.currency.as_ref().filter(|c| **c != order.currency) {
            return Err(AppError::CurrencyMismatch { expected: expected.to_string() });
        }
        if self.histories().find_by_vendor(input.vendor.code, &input.vendor.uid).await?.is_some() {
            // Recorded since the order was read (its notification won), or
            // another source's payment.
            let history = self.order_recorded_elsewhere(&stored, &input.vendor.uid).await?;
            return self.ordered_answer(history, input, order).await.map(Some);
        }
        let gateway = self.deps.gateways.get(input.vendor.code)?;
        let read_at = self.deps.clock.now();
        let mut snapshot = gateway.fetch_payment(&input.vendor.store_id, &input.vendor.uid).await?;
        self.ensure_own_order(input, &snapshot)?;
        // The order's amount, never the request's.
        snapshot = confirmed(gateway, input, snapshot, order.price, order.currency.clone()).await?;
        let trigger = serde_json::json!({ "type": "order_completed", "by": "registration" });
        match self.settle_order_payment(&stored, &input.vendor.uid, snapshot, read_at, trigger).await? {
            OrderSettled::Recorded(history, _) => {
                self.rereads.read_elsewhere(history.id(), read_at);
                Ok(Some(Answered::Created(history)))
            }
            OrderSettled::Already(history) => self.ordered_answer(history, input, order).await.map(Some),
            OrderSettled::Refused { reason, .. } => Err(AppError::OrderMismatch { param: "price", message: reason }),
            OrderSettled::NotPaid(status) => Err(payments_domain::DomainError::Unpayable { status }.into()),
            OrderSettled::OtherOrder => Err(other_order(input)),
            OrderSettled::PaidLate => Ok(None),
        }
    }

    /// The answer to a registration of an order recorded already as `history`:
    /// that history, or the order's refusal. An order read pending is read
    /// again: it was closed since, maybe refused (its notification recorded a
    /// payment of another amount at the same moment).
    async fn ordered_answer(
        &self,
        history: PaymentHistory,
        input: &CreateHistory,
        order: &payments_domain::PaymentOrder,
    ) -> Result<Answered<PaymentHistory>, AppError> {
        if history.vendor().uid != input.vendor.uid {
            return Err(AppError::AlreadyRegistered {
                param: "vendor.uid",
                message: "the order of this source was paid by another payment".into(),
            });
        }
        let status = match order.status {
            payments_domain::OrderStatus::Pending => self.orders().find_order(order.id).await?.map(|s| s.order.status),
            ref closed => Some(closed.clone()),
        };
        if let Some(payments_domain::OrderStatus::Refused { reason, .. }) = status {
            return Err(AppError::OrderMismatch { param: "price", message: reason });
        }
        Ok(Answered::Existing(history))
    }

    /// Under [`OrderBinding::SourceId`], refuses a payment whose PG
    /// order id is not the caller's `source.id`, before anything is confirmed
    /// or cancelled. The message names neither order.
    fn ensure_own_order(&self, input: &CreateHistory, snapshot: &PaymentSnapshot) -> Result<(), AppError> {
        if self.deps.orders == OrderBinding::Off {
            return Ok(());
        }
        match &snapshot.order_id {
            Some(order) if order.as_str() == input.source.id.as_str() => Ok(()),
            Some(_) => Err(other_order(input)),
            None => Err(AppError::OrderMismatch {
                param: "vendor.uid",
                message: format!(
                    "{} reports no order id for payment {}, so it cannot be bound to source.id",
                    input.vendor.code, input.vendor.uid
                ),
            }),
        }
    }

    /// A payment whose amount is not what the caller expected must not stay
    /// charged: cancel what is left of it, when it is the caller's own
    /// ([`OrderBinding::SourceId`]; unbound, a mismatch is only refused). A
    /// failure here is logged; the registration fails either way.
    async fn cancel_mismatched(&self, gateway: &dyn PaymentGateway, input: &CreateHistory, snapshot: &PaymentSnapshot) {
        if self.deps.orders == OrderBinding::Off {
            tracing::warn!(
                vendor = %input.vendor.code, uid = %input.vendor.uid,
                "a registration did not match the payment at the PG; order binding is off, so it is not cancelled"
            );
            return;
        }
        let Ok(reason) = CancelReason::parse(format!(
            "registered price {} differs from the charged {}",
            input.price, snapshot.price
        )) else {
            return;
        };
        // Not registered, so no intent: a key derived from the registration
        // keeps a retried registration from refunding twice at Toss.
        let key = derived_key(
            "mismatch-cancel",
            &[input.vendor.code.as_str(), input.vendor.store_id.as_str(), input.vendor.uid.as_str()],
        );
        let Some(request) = whole_refund(snapshot, reason, key) else { return };
        if let Err(error) = gateway.cancel_payment(&input.vendor.store_id, &input.vendor.uid, &request).await {
            tracing::error!(
                vendor = %input.vendor.code, uid = %input.vendor.uid, %error,
                "could not cancel a payment whose price did not match; cancel it at the PG by hand"
            );
        }
    }
}

/// The refusal of a PG payment made for another order than `input.source.id`.
fn other_order(input: &CreateHistory) -> AppError {
    AppError::OrderMismatch {
        param: "source.id",
        message: format!(
            "payment {} of {} was made for another order (its order id at the PG must be source.id)",
            input.vendor.uid, input.vendor.code
        ),
    }
}

/// The cancel of what is left of `snapshot` (a payment that must not stay
/// charged), sent with the PG key `key`; `None` when nothing is left (or its
/// cancels exceed it: an inconsistent snapshot).
pub(crate) fn whole_refund(snapshot: &PaymentSnapshot, reason: CancelReason, key: String) -> Option<CancelRequest> {
    let remaining = snapshot.remaining().filter(|r| !r.is_zero())?;
    Some(CancelRequest {
        amount: remaining,
        currency: snapshot.currency.clone(),
        reason,
        remaining,
        refund_account: None,
        idempotency_key: Some(key),
    })
}

/// `snapshot` confirmed at the PG for `amount` of `currency` when it awaits
/// the merchant's confirmation (Toss); any other as it is.
async fn confirmed(
    gateway: &dyn PaymentGateway,
    input: &CreateHistory,
    snapshot: PaymentSnapshot,
    amount: payments_domain::Money,
    currency: payments_domain::Currency,
) -> Result<PaymentSnapshot, AppError> {
    if snapshot.phase != PaymentPhase::AwaitingConfirmation {
        return Ok(snapshot);
    }
    let order_id = snapshot
        .order_id
        .clone()
        .ok_or_else(|| AppError::pg_bad_answer("the PG did not report the order id of a payment to confirm"))?;
    let request = ConfirmRequest { order_id, amount, currency, idempotency_key: confirm_key(input) };
    Ok(gateway.confirm_payment(&input.vendor.store_id, &input.vendor.uid, &request).await?)
}

/// The PG idempotency key of a registration's confirmation.
fn confirm_key(input: &CreateHistory) -> String {
    let price = input.price.to_string();
    derived_key(
        "confirm",
        &[input.vendor.code.as_str(), input.vendor.store_id.as_str(), input.vendor.uid.as_str(), &price],
    )
}
