//! Iamport (PortOne v1) for the payment server: the wire types, a client that
//! implements the application's [`PaymentGateway`](payments_application::ports::PaymentGateway)
//! port, the webhook helper of the HTTP intake, and (feature `fake`) a fake
//! Iamport server that speaks the same wire format, and [`PG`] (feature `fake`),
//! Iamport's side of the PG contract as `bootstrap` registers it.

mod client;
#[cfg(feature = "fake")]
pub mod fake;
pub mod module;
mod webhook;
pub mod wire;

pub use client::{IAMPORT_URL, IamportConfig, IamportCredentials, IamportGateway, snapshot_from_payment};
pub use webhook::{IamportNotifications, parse_webhook, webhook_needs_reread};
pub use wire::IamportWebhook;

/// Iamport (PortOne V1) writes amounts as decimals in the currency's major
/// unit (`Payment.amount` is a `number` in the V1 OpenAPI document; its PayPal
/// guide, `opi/ko/integration/pg/v1/paypal.mdx`: `amount: 14.2, currency: "USD"`).
pub const AMOUNTS: payments_pg::AmountUnit = payments_pg::AmountUnit::MajorDecimal;

pub use module::PG;

/// The key the fake accepts by default (local mode's credentials).
pub const TEST_IMP_KEY: &str = "test_imp_key";
/// The secret the fake accepts by default (local mode's credentials).
pub const TEST_IMP_SECRET: &str = "test_imp_secret";
