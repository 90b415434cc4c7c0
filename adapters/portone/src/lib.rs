//! PortOne V2 (api.portone.io) for the payment server: one API in front of
//! the Korean PGs PortOne connects (Inicis, NICE, KCP, Toss, KPN, ...).
//!
//! - [`PortOneGateway`]: the application's `PaymentGateway` over the V2 REST
//!   API (`Authorization: PortOne <API secret>`, the payment id being the
//!   merchant's order id, `Idempotency-Key` on every call that moves money).
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
#[cfg(feature = "fake")]
pub mod module;

pub use banks::bank_of;

/// PortOne V2 writes every amount as a whole number of the currency's minor
/// unit (its payment guide, `opi/ko/quick-guide/payment/index.mdx`: "USD:
/// 100배"; the browser SDK's `Currency`): 1050 in USD is 10.50 USD.
pub const AMOUNTS: payments_pg::AmountUnit = payments_pg::AmountUnit::MinorInteger;
pub use client::{DEFAULT_BASE_URL, PortOneConfig, PortOneGateway, PortOneStore, authorization, idempotency_key};
pub use snapshot::snapshot;
pub use webhook::{PortOneNotifications, WebhookKey};

#[cfg(feature = "fake")]
pub use module::PG;
