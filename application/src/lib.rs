//! The use cases of the payment server and the ports they need.
//!
//! Encryption is not this crate's business: the HTTP adapter encrypts the wire
//! and the persistence adapter encrypts at rest. Everything here takes and
//! returns plain domain values.

mod cancel;
mod charge;
pub mod commands;
mod delivery;
mod error;
mod inbox;
mod intake;
#[cfg(any(test, feature = "mocks"))]
pub mod memory;
mod payments;
pub mod ports;
mod reconcile;
pub mod reread;

pub use cancel::{CancelOutcome, SettleReport};
pub use delivery::{DeliveryDeps, DeliveryService};
pub use error::AppError;
pub use inbox::{InboxReport, Received};
pub use intake::Taken;
pub use payments::{
    Gateways, OrderBinding, PasswordPolicy, PaymentDeps, PaymentService, WebhookTargets, WebhookUrlPolicy, derived_key,
    lookup_digest,
};
pub use reconcile::{ReconcileOptions, ReconcileReport};

#[cfg(test)]
mod test_support;
