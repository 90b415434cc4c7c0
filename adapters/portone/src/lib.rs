//! PortOne V2 (api.portone.io) for the payment server: one API in front of
//! the Korean PGs PortOne connects (Inicis, NICE, KCP, Toss, KPN, ...).
//!
//! - [`PortOneGateway`]: the application's `PaymentGateway` over the V2 REST
//!   API (`Authorization: PortOne <API secret>`, the payment id being the
//!   merchant's order id, `Idempotency-Key` on every call that moves money;
//!   an order's amount locked before the window with
//!   `POST /payments/{paymentId}/pre-register`).
//! - [`snapshot`]: what the client reads of a `Payment`.
//! - [`PortOneNotifications`]: webhooks (version 2024-04-25), verified with
//!   Standard Webhooks against the store's webhook secret, read as re-reads.
//! - `fake` (feature `fake`): a fake PortOne V2 server, and [`PG`], PortOne's
//!   side of the PG contract as `bootstrap` registers it.

mod banks;
mod client;
pub mod snapshot;
mod webhook;

#[cfg(feature = "fake")]
pub mod fake;
pub mod module;

pub use banks::bank_of;

/// PortOne V2 writes every amount as a whole number of the currency's minor
/// unit (its payment guide, `opi/ko/quick-guide/payment/index.mdx`: "USD:
/// 100배"; the browser SDK's `Currency`): 1050 in USD is 10.50 USD.
pub const AMOUNTS: payments_pg::AmountUnit = payments_pg::AmountUnit::MinorInteger;
pub use client::{DEFAULT_BASE_URL, PortOneConfig, PortOneGateway, PortOneStore, authorization, idempotency_key};
pub use snapshot::snapshot;
pub use webhook::{PortOneNotifications, WebhookKey};

pub use module::PG;

/// The API secret the fake accepts by default (local mode and tests only).
pub const TEST_API_SECRET: &str = "portone-test-api-secret-0123456789";
/// The PortOne store id of the fake's store.
pub const TEST_STORE_ID: &str = "store-00000000-0000-4000-8000-000000000001";
/// The secret the fake signs its webhooks with by default (public: tests only).
pub const TEST_WEBHOOK_SECRET: &str = "whsec_cG9ydG9uZS10ZXN0LXdlYmhvb2stc2VjcmV0LTMyYnl0ZXM=";
