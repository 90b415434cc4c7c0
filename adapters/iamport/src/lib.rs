//! Iamport (PortOne v1) for the payment server: the wire types, a client that
//! implements the application's [`PaymentGateway`](payments_application::ports::PaymentGateway)
//! port, the webhook helper of the HTTP intake, and (feature `fake`) a fake
//! Iamport server that speaks the same wire format, and [`PG`] (feature `fake`),
//! Iamport's side of the PG contract as `bootstrap` registers it.

mod client;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "fake")]
pub mod module;
mod webhook;
pub mod wire;

pub use client::{IAMPORT_URL, IamportConfig, IamportCredentials, IamportGateway, snapshot_from_payment};
pub use webhook::{IamportNotifications, parse_webhook, webhook_needs_reread};
pub use wire::IamportWebhook;

#[cfg(feature = "fake")]
pub use module::PG;
