//! Response bodies: the records as the API (and the webhooks) show them.

use payments_domain::{CancelHistory, PaymentHistory, PaymentReservation, Source, Vendor};
use poem_openapi::Object;

use crate::{VendorCodeBody, WireMoney, WireTimestamp};

/// The body of every error answer, on every route (never encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "ErrorBody")]
pub struct ErrorBody {
    /// A stable machine-readable code: `INVALID_REQUEST`, `FORBIDDEN`,
    /// `NOT_FOUND`, `CONFLICT`, `UNPROCESSABLE`, `PAYLOAD_TOO_LARGE`,
    /// `BAD_GATEWAY`, `UNAVAILABLE`, `GATEWAY_TIMEOUT`, `INTERNAL`, ...
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The id of the request this answers (also its `x-request-id` header):
    /// quote it when reporting a problem, it is on every log line of the request.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

/// The PG side of a record.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Vendor")]
pub struct VendorBody {
    /// Which PG: `iamport` or `toss.payments`.
    pub code: VendorCodeBody,
    /// The store (merchant account) at the PG.
    pub store_id: String,
    /// The PG's id of the payment or saved card.
    pub uid: String,
}

impl From<&Vendor> for VendorBody {
    fn from(vendor: &Vendor) -> Self {
        Self { code: vendor.code.into(), store_id: vendor.store_id.to_string(), uid: vendor.uid.to_string() }
    }
}

/// The caller's own record a payment or saved card belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Source")]
pub struct SourceBody {
    /// Schema of the caller's record (a namespace of the caller's choosing).
    pub schema: String,
    /// Table of the caller's record.
    pub table: String,
    /// Id of the caller's record, usually its order id.
    pub id: String,
}

impl From<&Source> for SourceBody {
    fn from(source: &Source) -> Self {
        Self { schema: source.schema.to_string(), table: source.table.to_string(), id: source.id.to_string() }
    }
}

/// Where a cancellation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename = "PaymentCancelStatus", rename_all = "lowercase")]
pub enum CancelStatusBody {
    /// The PG refunded it; counted in `refund`.
    Done,
    /// The PG accepted it and has not completed it (PortOne `REQUESTED`,
    /// Toss `IN_PROGRESS`): nothing refunded yet, not counted in `refund`.
    Pending,
}

/// One (partial or full) cancellation of a payment.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "PaymentCancel")]
pub struct CancelBody {
    /// Amount refunded (or, pending, to be refunded) by this cancel.
    pub price: WireMoney,
    /// Why the payment was cancelled.
    pub reason: String,
    /// When the PG cancelled (pending: when it was asked).
    pub created_at: WireTimestamp,
    /// `done`, or `pending` while the PG has not completed it.
    pub status: CancelStatusBody,
}

impl CancelBody {
    fn of(cancel: &CancelHistory, status: CancelStatusBody) -> Self {
        Self {
            price: cancel.price.into(),
            reason: cancel.reason.to_string(),
            created_at: cancel.created_at.into(),
            status,
        }
    }

    /// Every cancel of `history`, completed and pending, oldest first.
    fn all_of(history: &PaymentHistory) -> Vec<Self> {
        let done = history.cancels().iter().map(|c| (c, CancelStatusBody::Done));
        let pending = history.pending_cancels().iter().map(|c| (c, CancelStatusBody::Pending));
        let mut all: Vec<_> = done.chain(pending).collect();
        all.sort_by(|a, b| (a.0.created_at, &a.0.key).cmp(&(b.0.created_at, &b.0.key)));
        all.into_iter().map(|(cancel, status)| Self::of(cancel, status)).collect()
    }
}

impl From<&CancelHistory> for CancelBody {
    fn from(cancel: &CancelHistory) -> Self {
        Self::of(cancel, CancelStatusBody::Done)
    }
}

fn refund_of(history: &PaymentHistory) -> Option<WireMoney> {
    (!history.refund().is_zero()).then(|| history.refund().into())
}

/// A registered payment.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "PaymentHistory")]
pub struct HistoryBody {
    /// Our id of the record.
    pub id: uuid::Uuid,
    /// The same as `vendor.code`, to tell the shape of `data` at a glance.
    pub vendor_code: VendorCodeBody,
    /// The PG, store and payment id.
    pub vendor: VendorBody,
    /// The caller's record the payment is for.
    pub source: SourceBody,
    /// The PG's own JSON for the payment, unchanged (its shape depends on the PG).
    pub data: serde_json::Value,
    /// ISO 4217 currency code (`KRW`, `USD`).
    pub currency: String,
    /// The amount paid (or, for a virtual account, requested).
    pub price: WireMoney,
    /// The sum of every cancel; `null` while nothing was refunded.
    pub refund: Option<WireMoney>,
    /// Where changes of this payment are POSTed.
    pub webhook_url: String,
    /// When the payment was registered here.
    pub created_at: WireTimestamp,
    /// When the money arrived; `null` while a virtual account awaits its deposit.
    pub paid_at: Option<WireTimestamp>,
    /// When the payment was first cancelled; `null` if never.
    pub cancelled_at: Option<WireTimestamp>,
    /// Every cancellation, completed (`done`) and `pending`, oldest first.
    pub cancels: Vec<CancelBody>,
    /// The saved card this payment was charged from; absent for a payment
    /// made in the PG's window.
    #[oai(skip_serializing_if_is_none)]
    pub reservation_id: Option<uuid::Uuid>,
}

impl From<&PaymentHistory> for HistoryBody {
    fn from(history: &PaymentHistory) -> Self {
        Self {
            id: history.id().as_uuid(),
            vendor_code: history.vendor().code.into(),
            vendor: history.vendor().into(),
            source: history.source().into(),
            data: history.data().clone(),
            currency: history.currency().to_string(),
            price: history.price().into(),
            refund: refund_of(history),
            webhook_url: history.webhook_url().to_string(),
            created_at: history.created_at().into(),
            paid_at: history.paid_at().map(Into::into),
            cancelled_at: history.cancelled_at().map(Into::into),
            cancels: CancelBody::all_of(history),
            reservation_id: history.identity().reservation_id.map(|r| r.as_uuid()),
        }
    }
}

/// A payment as a webhook shows it: the payment history without `source` (the
/// webhook body carries the source once, beside the two snapshots).
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "PaymentHistorySnapshot")]
pub struct HistorySnapshotBody {
    /// Our id of the record.
    pub id: uuid::Uuid,
    /// The same as `vendor.code`.
    pub vendor_code: VendorCodeBody,
    /// The PG, store and payment id.
    pub vendor: VendorBody,
    /// The PG's own JSON for the payment, unchanged.
    pub data: serde_json::Value,
    /// ISO 4217 currency code.
    pub currency: String,
    /// The amount paid (or requested).
    pub price: WireMoney,
    /// The sum of every cancel; `null` while nothing was refunded.
    pub refund: Option<WireMoney>,
    /// Where changes of this payment are POSTed.
    pub webhook_url: String,
    /// When the payment was registered here.
    pub created_at: WireTimestamp,
    /// When the money arrived; `null` while a virtual account awaits its deposit.
    pub paid_at: Option<WireTimestamp>,
    /// When the payment was first cancelled; `null` if never.
    pub cancelled_at: Option<WireTimestamp>,
    /// Every cancellation, completed (`done`) and `pending`, oldest first.
    pub cancels: Vec<CancelBody>,
}

impl From<&PaymentHistory> for HistorySnapshotBody {
    fn from(history: &PaymentHistory) -> Self {
        let HistoryBody {
            id,
            vendor_code,
            vendor,
            source: _,
            data,
            currency,
            price,
            refund,
            webhook_url,
            created_at,
            paid_at,
            cancelled_at,
            cancels,
            reservation_id: _,
        } = HistoryBody::from(history);
        Self {
            id,
            vendor_code,
            vendor,
            data,
            currency,
            price,
            refund,
            webhook_url,
            created_at,
            paid_at,
            cancelled_at,
            cancels,
        }
    }
}

/// A card saved at a PG for later charges.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "PaymentReservation")]
pub struct ReservationBody {
    /// Our id of the record.
    pub id: uuid::Uuid,
    /// The same as `vendor.code`.
    pub vendor_code: VendorCodeBody,
    /// The PG, store and saved card id.
    pub vendor: VendorBody,
    /// The caller's record the card belongs to.
    pub source: SourceBody,
    /// The title the caller chose.
    pub title: String,
    /// The PG's own JSON for the saved card, unchanged.
    pub data: serde_json::Value,
    /// When the card was registered here.
    pub created_at: WireTimestamp,
    /// When the PG said the card was removed (Toss `BILLING_DELETED`); a
    /// removed card is never charged.
    pub removed_at: Option<WireTimestamp>,
}

impl From<&PaymentReservation> for ReservationBody {
    fn from(reservation: &PaymentReservation) -> Self {
        Self {
            id: reservation.id.as_uuid(),
            vendor_code: reservation.vendor.code.into(),
            vendor: (&reservation.vendor).into(),
            source: (&reservation.source).into(),
            title: reservation.title.to_string(),
            data: reservation.data.clone(),
            created_at: reservation.created_at.into(),
            removed_at: reservation.removed_at.map(Into::into),
        }
    }
}
