//! An order: a payment announced before the customer's window opens, its
//! amount locked, completed by whichever comes first of the PG's webhook, the
//! backend's registration and the reconciler.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{
    ClientId, Currency, DomainError, HistoryId, Money, PaymentPhase, PaymentSnapshot, Source, StoreId, Timestamp,
    VendorCode, WebhookUrl,
};

crate::ids::id_newtype!(
    /// Id of a [`PaymentOrder`].
    PaymentOrderId
);

/// How an order stands, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Waiting for its payment (until it expires).
    Pending,
    /// Its payment is recorded as this history.
    Completed { history: HistoryId },
    /// It expired before a payment matching it was made; it never completes.
    Expired,
    /// A payment was made for it that did not match it (another amount or
    /// currency: a PG without a lock); the payment was cancelled at the PG
    /// and recorded as `history`, refunded.
    Refused { reason: String, history: Option<HistoryId> },
}

/// How an order stands at a point in time: a pending order past its expiry
/// is expired, whether or not that was stored yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Pending,
    Completed,
    Expired,
    Refused,
}

impl OrderState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Expired => "expired",
            Self::Refused => "refused",
        }
    }
}

/// Why a PG payment does not complete an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderMiss {
    /// Not paid (yet): failed, awaiting confirmation, cancelled. The order
    /// stays pending.
    NotPaid { status: String },
    /// Paid after the order expired: the order never completes; the payment
    /// is a payment without an order.
    PaidAfterExpiry { paid_at: Timestamp },
    /// Made for another PG order id than the order's: not its payment.
    OtherOrder,
    /// Paid with another amount or currency than the order's.
    Mismatch { reason: String },
}

/// An order. Its PG order id is `source.id` (Toss `orderId`, Iamport
/// `merchant_uid`, PortOne `paymentId`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentOrder {
    pub id: PaymentOrderId,
    pub vendor_code: VendorCode,
    pub store_id: StoreId,
    pub source: Source,
    pub currency: Currency,
    pub price: Money,
    pub webhook_url: WebhookUrl,
    /// Whether the PG holds the amount (its window refuses another).
    pub locked: bool,
    /// The amount as the PG's window takes it, in the PG's unit (decimal text).
    pub pg_amount: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub status: OrderStatus,
    /// When it was completed, refused or expired.
    pub closed_at: Option<Timestamp>,
    /// The client it belongs to (its history will too).
    pub client: ClientId,
}

impl PaymentOrder {
    /// Least and most time an order may stay pending.
    pub const MIN_LIFETIME: Duration = Duration::from_secs(60);
    pub const MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
    /// When the request names none.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

    /// When an order created at `created_at` for `lifetime` expires.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming `expires_in` outside
    /// [`Self::MIN_LIFETIME`]..=[`Self::MAX_LIFETIME`].
    pub fn expiry(created_at: Timestamp, lifetime: Duration) -> Result<Timestamp, DomainError> {
        if lifetime < Self::MIN_LIFETIME || lifetime > Self::MAX_LIFETIME {
            return Err(DomainError::invalid(
                "expires_in",
                format!(
                    "must be between {} and {} seconds",
                    Self::MIN_LIFETIME.as_secs(),
                    Self::MAX_LIFETIME.as_secs()
                ),
            ));
        }
        let lifetime =
            chrono::Duration::from_std(lifetime).map_err(|e| DomainError::invalid("expires_in", e.to_string()))?;
        Ok(created_at + lifetime)
    }

    /// Its state at `now`.
    pub fn state_at(&self, now: Timestamp) -> OrderState {
        match &self.status {
            OrderStatus::Pending if now >= self.expires_at => OrderState::Expired,
            OrderStatus::Pending => OrderState::Pending,
            OrderStatus::Completed { .. } => OrderState::Completed,
            OrderStatus::Expired => OrderState::Expired,
            OrderStatus::Refused { .. } => OrderState::Refused,
        }
    }

    /// The history it completed as, if it did.
    pub fn history(&self) -> Option<HistoryId> {
        match &self.status {
            OrderStatus::Completed { history } => Some(*history),
            OrderStatus::Refused { history, .. } => *history,
            _ => None,
        }
    }

    /// Whether a request for an order with these terms is this order again
    /// (an order retried): same PG, store, amount and currency.
    pub fn same_terms(&self, vendor: VendorCode, store: &StoreId, price: Money, currency: &Currency) -> bool {
        self.vendor_code == vendor && &self.store_id == store && self.price == price && &self.currency == currency
    }

    /// Whether the PG's payment `snapshot`, read at `read_at`, completes
    /// this (stored pending) order: made for its order id, paid (or a
    /// virtual account issued) no later than its expiry, with its amount and
    /// currency.
    ///
    /// # Errors
    /// The [`OrderMiss`] saying why not.
    pub fn check_payment(&self, snapshot: &PaymentSnapshot, read_at: Timestamp) -> Result<(), OrderMiss> {
        if snapshot.order_id.as_ref().is_none_or(|order| order.as_str() != self.source.id.as_str()) {
            return Err(OrderMiss::OtherOrder);
        }
        match snapshot.phase {
            PaymentPhase::Paid | PaymentPhase::AwaitingDeposit => {}
            PaymentPhase::AwaitingConfirmation | PaymentPhase::Cancelled | PaymentPhase::Failed => {
                return Err(OrderMiss::NotPaid { status: snapshot.pg_status.clone() });
            }
        }
        let paid_at = snapshot.paid_at.unwrap_or(read_at);
        if paid_at > self.expires_at {
            return Err(OrderMiss::PaidAfterExpiry { paid_at });
        }
        if snapshot.currency != self.currency {
            return Err(OrderMiss::Mismatch {
                reason: format!("paid in {}, the order is in {}", snapshot.currency, self.currency),
            });
        }
        if snapshot.price != self.price {
            return Err(OrderMiss::Mismatch {
                reason: format!("paid {} {}, the order is {}", snapshot.price, snapshot.currency, self.price),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrderId, SourceId, SourceSchema, SourceTable};

    fn at(seconds: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn order() -> PaymentOrder {
        PaymentOrder {
            id: PaymentOrderId::from_uuid(uuid::Uuid::nil()),
            vendor_code: VendorCode::PortOne,
            store_id: StoreId::parse("store-1").unwrap(),
            source: Source::new(
                SourceSchema::parse("shop").unwrap(),
                SourceTable::parse("orders").unwrap(),
                SourceId::parse("order-1").unwrap(),
            ),
            currency: Currency::krw(),
            price: Money::parse_for("price", "1000").unwrap(),
            webhook_url: WebhookUrl::parse("https://shop.example/hooks").unwrap(),
            locked: true,
            pg_amount: "1000".into(),
            created_at: at(0),
            expires_at: at(3600),
            status: OrderStatus::Pending,
            closed_at: None,
            client: ClientId::LEGACY,
        }
    }

    fn snapshot(order_id: &str, price: &str, phase: PaymentPhase, paid_at: Option<Timestamp>) -> PaymentSnapshot {
        PaymentSnapshot {
            phase,
            pg_status: "PAID".into(),
            order_id: Some(OrderId::parse(order_id).unwrap()),
            currency: Currency::krw(),
            price: Money::parse_for("price", price).unwrap(),
            paid_at,
            cancelled_at: None,
            cancels: vec![],
            pending_cancels: vec![],
            failed_cancels: vec![],
            data: serde_json::json!({}),
        }
    }

    #[test]
    fn lifetimes_are_bounded() {
        assert_eq!(PaymentOrder::expiry(at(0), Duration::from_secs(3600)).unwrap(), at(3600));
        for wrong in [Duration::from_secs(59), PaymentOrder::MAX_LIFETIME + Duration::from_secs(1)] {
            let refused = PaymentOrder::expiry(at(0), wrong).unwrap_err();
            assert!(matches!(refused, DomainError::Invalid { field: "expires_in", .. }), "{refused:?}");
        }
    }

    #[test]
    fn a_pending_order_past_its_expiry_reads_as_expired() {
        let order = order();
        assert_eq!(order.state_at(at(3599)), OrderState::Pending);
        assert_eq!(order.state_at(at(3600)), OrderState::Expired);
        let done = PaymentOrder {
            status: OrderStatus::Completed { history: HistoryId::from_uuid(uuid::Uuid::nil()) },
            ..order
        };
        assert_eq!(done.state_at(at(9999)), OrderState::Completed);
    }

    #[test]
    fn only_its_own_payment_paid_in_time_with_its_amount_completes_it() {
        let order = order();
        assert_eq!(order.check_payment(&snapshot("order-1", "1000", PaymentPhase::Paid, Some(at(10))), at(20)), Ok(()));
        // A virtual account issued (no paid time) counts when it was read.
        assert_eq!(
            order.check_payment(&snapshot("order-1", "1000", PaymentPhase::AwaitingDeposit, None), at(20)),
            Ok(())
        );
        assert_eq!(
            order.check_payment(&snapshot("order-2", "1000", PaymentPhase::Paid, Some(at(10))), at(20)),
            Err(OrderMiss::OtherOrder)
        );
        assert!(matches!(
            order.check_payment(&snapshot("order-1", "1000", PaymentPhase::Failed, None), at(20)),
            Err(OrderMiss::NotPaid { .. })
        ));
        assert_eq!(
            order.check_payment(&snapshot("order-1", "1000", PaymentPhase::Paid, Some(at(3601))), at(3700)),
            Err(OrderMiss::PaidAfterExpiry { paid_at: at(3601) })
        );
        // Paid in time, read after the expiry: it completes.
        assert_eq!(
            order.check_payment(&snapshot("order-1", "1000", PaymentPhase::Paid, Some(at(3599))), at(3700)),
            Ok(())
        );
        assert!(matches!(
            order.check_payment(&snapshot("order-1", "900", PaymentPhase::Paid, Some(at(10))), at(20)),
            Err(OrderMiss::Mismatch { .. })
        ));
    }
}
