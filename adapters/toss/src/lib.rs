//! Toss Payments for the payment server.
//!
//! - [`wire`]: the JSON of the Toss API, named as in its swagger.
//! - [`TossGateway`]: the application's `PaymentGateway` over the Toss API
//!   (reqwest, Basic auth per store).
//! - [`snapshot`]: what the client reads of a payment, tolerant of every API version.
//! - [`webhook`]: reading the notifications Toss POSTs, and what each asks of the intake.
//! - `fake` (feature `fake`): a fake Toss Payments server speaking the same API.
//! - [`PG`] (feature `fake`): Toss's side of the PG contract, as `bootstrap` registers it.

mod client;
pub mod snapshot;
pub mod webhook;
pub mod wire;

#[cfg(feature = "fake")]
pub mod fake;
pub mod module;
pub use module::PG;

pub use client::{
    ALREADY_PROCESSED_PAYMENT, DEFAULT_BASE_URL, DEFAULT_TIMEOUT, NOT_MATCHES_REFUNDABLE_AMOUNT, TEST_SECRET_KEY,
    TossConfig, TossCredentials, TossGateway, basic_authorization,
};
pub use snapshot::snapshot;

/// Toss writes amounts as decimals in the currency's major unit, with at
/// most the currency's decimals (KRW whole numbers; its PayPal guide:
/// `amount: 664.98, currency: 'USD'`).
pub const AMOUNTS: payments_pg::AmountUnit = payments_pg::AmountUnit::MajorDecimal;
pub use webhook::{
    BILLING_DELETED, CANCEL_STATUS_CHANGED, DEPOSIT_CALLBACK, PAYMENT_STATUS_CHANGED, TossDepositCallback,
    TossNotification, TossNotifications, TossWebhookError,
};
