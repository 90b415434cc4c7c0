//! The use cases of the payment server and the ports they need.
//!
//! Encryption is not this crate's business: the HTTP adapter encrypts the wire
//! and the persistence adapter encrypts at rest. Everything here takes and
//! returns plain domain values.

mod access;
mod cancel;
mod cancel_settle;
mod change;
mod charge;
mod clients;
pub mod commands;
mod delivery;
mod error;
mod inbox;
mod intake;
mod keys;
#[cfg(any(test, feature = "mocks"))]
pub mod memory;
mod notification;
mod operators;
mod orders;
mod policy;
pub mod ports;
mod reconcile;
mod registration;
pub mod reread;
mod saved_cards;
mod service;

pub use cancel::{CancelAsk, CancelOutcome};
pub use cancel_settle::SettleReport;
pub use charge::ChargeSettleReport;
pub use clients::{ClientService, IssuedClient, KeyMode, NewClient};
pub use delivery::{DeliveryDeps, DeliveryService};
pub use error::{AppError, Cause, RecordKind};
pub use inbox::{InboxReport, Received};
pub use intake::Taken;
pub use keys::{derived_key, lookup_digest};
pub use operators::{ConsolePolicy, IssuedOperator, OperatorError, OperatorService, RequestContext, SignedIn};
pub use orders::{Answered, CreateOrder, OrderSettleReport};
pub use policy::{OrderBinding, PasswordPolicy, WebhookTargets, WebhookUrlPolicy};
pub use reconcile::{ReconcileOptions, ReconcileReport};
pub use service::{Gateways, PaymentDeps, PaymentService};

#[cfg(test)]
mod test_support;

#[cfg(test)]
#[path = "payments_tests.rs"]
mod payments_tests;
