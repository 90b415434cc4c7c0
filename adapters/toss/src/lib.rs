//! Toss Payments for the payment server.
//!
//! - [`wire`]: the JSON of the Toss API, named as in its swagger.
//! - [`TossGateway`]: the application's `PaymentGateway` over the Toss API
//!   (reqwest, Basic auth per store).
//! - [`webhook`]: reading the webhook Toss POSTs, and what it asks of the intake.
//! - `fake` (feature `fake`): a fake Toss Payments server speaking the same API.

mod client;
pub mod webhook;
pub mod wire;

#[cfg(feature = "fake")]
pub mod fake;

pub use client::{
    DEFAULT_BASE_URL, DEFAULT_TIMEOUT, TEST_SECRET_KEY, TossConfig, TossConfigError, TossCredentials, TossGateway,
    basic_authorization, snapshot,
};
pub use webhook::{
    PAYMENT_STATUS_CHANGED, TossPaymentWebhook, TossWebhookData, TossWebhookError, WebhookTarget, webhook_target,
};
