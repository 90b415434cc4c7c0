//! Orders on the wire: the request registering one, and the order as read.

use std::time::Duration;

use payments_application::{AppError, CreateOrder};
use payments_domain::{Money, OrderState, Password, PaymentOrder, StoreId, Timestamp, WebhookUrl};
use poem_openapi::Object;

use crate::{SourceBody, VendorCodeBody, WireAmount, WireMoney, WireTimestamp};

/// The PG and store an order will be paid at.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "OrderVendor")]
pub struct OrderVendorBody {
    /// Which PG the customer's window is opened at.
    pub code: VendorCodeBody,
    /// The store (merchant account) at that PG.
    pub store_id: String,
}

/// Registers an order before the customer's window opens.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "CreatePaymentOrder")]
pub struct CreateOrderBody {
    /// The PG and store the window is opened at.
    pub vendor: OrderVendorBody,
    /// The caller's own record the order is for. `id` is the order id the
    /// window must pay (Toss `orderId`, Iamport `merchant_uid`, PortOne
    /// `paymentId`).
    pub source: SourceBody,
    /// The amount the window must charge: locked at the PG where it offers
    /// that (PortOne pre-register, Iamport prepare).
    pub price: WireAmount,
    /// ISO 4217 currency code; `KRW` when absent.
    #[oai(skip_serializing_if_is_none)]
    pub currency: Option<String>,
    /// A password of the caller's choosing: it opens the order and the
    /// payment history the order completes as.
    pub password: String,
    /// Where to POST (encrypted) the payment when the order completes, and
    /// every later change of it.
    pub webhook_url: String,
    /// Seconds the order may wait for its payment (60 to 604800; 3600 when
    /// absent). A payment made after it expired does not complete it.
    #[oai(skip_serializing_if_is_none)]
    pub expires_in: Option<u64>,
}

impl CreateOrderBody {
    /// # Errors
    /// [`AppError::Domain`] (an invalid field) naming the bad field.
    pub fn try_into_domain(self, client: payments_domain::ClientId) -> Result<CreateOrder, AppError> {
        Ok(CreateOrder {
            client,
            vendor_code: self.vendor.code.into(),
            store_id: StoreId::parse(self.vendor.store_id)?,
            source: self.source.try_into_domain()?,
            price: self.price.to_money("price")?,
            currency: self.currency.map(payments_domain::Currency::parse).transpose()?,
            password: Password::parse(self.password)?,
            webhook_url: WebhookUrl::parse(self.webhook_url)?,
            expires_in: self.expires_in.map(Duration::from_secs),
        })
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename = "PaymentOrderState", rename_all = "lowercase")]
pub enum OrderStateBody {
    /// Waiting for its payment.
    Pending,
    /// Paid: `history_id` is its payment history.
    Completed,
    /// It expired before a matching payment was made; it never completes.
    Expired,
    /// Paid with another amount or currency: the payment was cancelled at
    /// the PG (recorded as `history_id`, refunded); `refusal` says why.
    Refused,
}

impl From<OrderState> for OrderStateBody {
    fn from(state: OrderState) -> Self {
        match state {
            OrderState::Pending => Self::Pending,
            OrderState::Completed => Self::Completed,
            OrderState::Expired => Self::Expired,
            OrderState::Refused => Self::Refused,
        }
    }
}

/// What the PG's window needs to pay an order.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "PaymentOrderPg")]
pub struct OrderPgBody {
    /// The order id to open the window with (`source.id`).
    pub order_id: String,
    /// The amount to open the window with, in the PG's own unit (PortOne V2:
    /// the currency's minor unit, `1050` for 10.50 USD; Iamport and Toss:
    /// the major unit).
    pub amount: WireMoney,
    /// Whether the PG holds this amount (its window refuses another).
    pub locked: bool,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "PaymentOrder")]
pub struct OrderBody {
    /// Our id of the order.
    pub id: uuid::Uuid,
    /// `pending`, `completed`, `expired` or `refused`.
    pub state: OrderStateBody,
    /// The PG and store.
    pub vendor: OrderVendorBody,
    /// The caller's record the order is for.
    pub source: SourceBody,
    /// ISO 4217 currency code.
    pub currency: String,
    /// The amount the order is for.
    pub price: WireMoney,
    /// Where its payment is announced.
    pub webhook_url: String,
    /// What the PG's window needs.
    pub pg: OrderPgBody,
    /// When it was registered.
    pub created_at: WireTimestamp,
    /// When it expires (or expired) unless paid.
    pub expires_at: WireTimestamp,
    /// When it was completed, refused or closed as expired; `null` before.
    pub closed_at: Option<WireTimestamp>,
    /// The payment history its payment is recorded as; `null` until paid.
    pub history_id: Option<uuid::Uuid>,
    /// Why it was refused; `null` unless refused.
    pub refusal: Option<String>,
}

impl OrderBody {
    /// The order as it stands at `now` (a pending order past its expiry reads `expired`).
    pub fn at(order: &PaymentOrder, now: Timestamp) -> Self {
        let pg_amount = order.pg_amount.parse::<Money>().unwrap_or(order.price);
        Self {
            id: order.id.as_uuid(),
            state: order.state_at(now).into(),
            vendor: OrderVendorBody { code: order.vendor_code.into(), store_id: order.store_id.to_string() },
            source: (&order.source).into(),
            currency: order.currency.to_string(),
            price: order.price.into(),
            webhook_url: order.webhook_url.to_string(),
            pg: OrderPgBody { order_id: order.source.id.to_string(), amount: pg_amount.into(), locked: order.locked },
            created_at: order.created_at.into(),
            expires_at: order.expires_at.into(),
            closed_at: order.closed_at.map(Into::into),
            history_id: order.history().map(|h| h.as_uuid()),
            refusal: match &order.status {
                payments_domain::OrderStatus::Refused { reason, .. } => Some(reason.clone()),
                _ => None,
            },
        }
    }
}
