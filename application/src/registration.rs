//! Registering a payment made in the PG's window.

use payments_domain::{CancelReason, HistoryId, HistoryIdentity, PaymentHistory, PaymentPhase, PaymentSnapshot};

use crate::commands::CreateHistory;
use crate::error::AppError;
use crate::keys::derived_key;
use crate::policy::OrderBinding;
use crate::ports::{CancelRequest, ConfirmRequest, PaymentGateway};
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
    pub async fn create_history(&self, input: CreateHistory) -> Result<PaymentHistory, AppError> {
        self.check_new_password(&input.password)?;
        self.check_webhook_url(&input.webhook_url).await?;
        if self.histories().find_by_vendor(input.vendor.code, &input.vendor.uid).await?.is_some() {
            return Err(AppError::AlreadyRegistered {
                param: "vendor.uid",
                message: format!("payment {} of {} is already registered", input.vendor.uid, input.vendor.code),
            });
        }
        if self.histories().find_by_source(&input.source).await?.is_some() {
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
            let order_id = snapshot
                .order_id
                .clone()
                .ok_or_else(|| AppError::pg_bad_answer("the PG did not report the order id of a payment to confirm"))?;
            let request = ConfirmRequest {
                order_id,
                amount: input.price,
                currency: snapshot.currency.clone(),
                idempotency_key: confirm_key(&input),
            };
            snapshot = gateway.confirm_payment(&input.vendor.store_id, &input.vendor.uid, &request).await?;
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
        };
        let history = PaymentHistory::register(identity, snapshot)?;
        self.histories().insert(&history, &password_hash).await?;
        // The PG's notifications that came before this read (the webhook that
        // raced the customer's redirect) are answered by it: no read more.
        self.rereads.read_elsewhere(history.id(), read_at);
        Ok(history)
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
            Some(_) => Err(AppError::OrderMismatch {
                param: "source.id",
                message: format!(
                    "payment {} of {} was made for another order (its order id at the PG must be source.id)",
                    input.vendor.uid, input.vendor.code
                ),
            }),
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
        let Some(remaining) = snapshot.remaining() else { return };
        if remaining.is_zero() {
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
        let idempotency_key = Some(derived_key(
            "mismatch-cancel",
            &[input.vendor.code.as_str(), input.vendor.store_id.as_str(), input.vendor.uid.as_str()],
        ));
        let request = CancelRequest {
            amount: remaining,
            currency: snapshot.currency.clone(),
            reason,
            remaining,
            refund_account: None,
            idempotency_key,
        };
        if let Err(error) = gateway.cancel_payment(&input.vendor.store_id, &input.vendor.uid, &request).await {
            tracing::error!(
                vendor = %input.vendor.code, uid = %input.vendor.uid, %error,
                "could not cancel a payment whose price did not match; cancel it at the PG by hand"
            );
        }
    }
}

/// The PG idempotency key of a registration's confirmation.
fn confirm_key(input: &CreateHistory) -> String {
    let price = input.price.to_string();
    derived_key(
        "confirm",
        &[input.vendor.code.as_str(), input.vendor.store_id.as_str(), input.vendor.uid.as_str(), &price],
    )
}
