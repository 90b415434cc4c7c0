//! The payment domain: values that cannot be invalid and the rules of a payment.
//!
//! No I/O, no async, no framework. Every type here is built through a fallible
//! constructor, so code past the edge of the system never re-checks a value.

mod client;
mod currency;
mod error;
mod history;
mod ids;
mod money;
mod operator;
mod order;
mod saved_card;
mod source;
mod text;
mod vendor;
mod webhook;
mod webhook_url;

pub use client::{Client, ClientId, ClientName, Scope, Scopes};
pub use currency::Currency;
pub use error::DomainError;
pub use history::{
    Applied, CancelHistory, CancelKey, HistoryIdentity, HistoryParts, PaymentHistory, PaymentPhase, PaymentSnapshot,
};
pub use ids::{EventId, HistoryId, SavedCardId, Timestamp, to_millis};
pub use money::Money;
pub use operator::{AuditAction, AuditEntry, AuditId, Operator, OperatorId, OperatorName, Permission, Role};
pub use order::{OrderMiss, OrderState, OrderStatus, PaymentOrder, PaymentOrderId};
pub use saved_card::SavedCard;
pub use source::{Password, PasswordHash, Source, SourceId, SourceSchema, SourceTable};
pub use text::{CancelReason, Title};
pub use vendor::{OrderId, StoreId, Vendor, VendorCode, VendorUid};
pub use webhook::{DeliveryAttempt, NextStep, RetrySchedule, WebhookEvent};
pub use webhook_url::WebhookUrl;

/// Re-exported so adapters name the same decimal type.
pub use rust_decimal::Decimal;
