//! The JSON objects of the payment server's API and of its outgoing webhooks.
//!
//! Defined once (as poem-openapi `Object`s, so the OpenAPI document describes
//! them) and shared by the HTTP adapter, the webhook sender and Rust clients,
//! so an API response and a webhook snapshot of the same history are the same
//! JSON. Requests convert to domain values at the edge with
//! `try_into_domain()`; responses are built from domain values with `From`.

mod monitors;
mod orders;
mod requests;
mod responses;
mod scalars;
mod webhooks;

pub use monitors::{
    CommitBody, CpuBody, MemoryBody, OutboxBody, PackageBody, PerformanceBody, ReconcilerBody, SystemBody,
};
pub use orders::{CreateOrderBody, OrderBody, OrderPgBody, OrderStateBody, OrderVendorBody};
pub use requests::{
    CancelHistoryBody, ChargeReservationBody, CreateHistoryBody, CreateReservationBody, PasswordBody,
    RefundAccountBody, SourceAccessorBody, VendorInputBody,
};
pub use responses::{
    CancelBody, CancelStatusBody, ErrorBody, ErrorCode, HistoryBody, HistorySnapshotBody, PgErrorBody, ReservationBody,
    SourceBody, VendorBody,
};
pub use scalars::{WireAmount, WireMoney, WireTimestamp, format_timestamp};
pub use webhooks::{
    DeliveryStateBody, EventDeliveryBody, EventFeedBody, FeedEventBody, IamportWebhookBody, TossWebhookBody,
    WebhookBody,
};

/// The wire spelling of a PG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename = "VendorCode")]
pub enum VendorCodeBody {
    /// Iamport (PortOne v1).
    #[oai(rename = "iamport")]
    Iamport,
    /// Toss Payments.
    #[oai(rename = "toss.payments")]
    TossPayments,
    /// PortOne V2.
    #[oai(rename = "portone")]
    PortOne,
}

impl From<payments_domain::VendorCode> for VendorCodeBody {
    fn from(code: payments_domain::VendorCode) -> Self {
        match code {
            payments_domain::VendorCode::Iamport => VendorCodeBody::Iamport,
            payments_domain::VendorCode::TossPayments => VendorCodeBody::TossPayments,
            payments_domain::VendorCode::PortOne => VendorCodeBody::PortOne,
        }
    }
}

impl From<VendorCodeBody> for payments_domain::VendorCode {
    fn from(code: VendorCodeBody) -> Self {
        match code {
            VendorCodeBody::Iamport => payments_domain::VendorCode::Iamport,
            VendorCodeBody::TossPayments => payments_domain::VendorCode::TossPayments,
            VendorCodeBody::PortOne => payments_domain::VendorCode::PortOne,
        }
    }
}
