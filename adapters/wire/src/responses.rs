//! Response bodies: the records as the API (and the webhooks) show them.

use payments_domain::{CancelHistory, PaymentHistory, SavedCard, Source, Vendor};
use poem_openapi::Object;

use crate::{VendorCodeBody, WireMoney, WireTimestamp};

/// The body of every error answer, on every route (never encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "ErrorBody")]
pub struct ErrorBody {
    /// What went wrong, as a backend branches on it: the cause (README,
    /// "Errors", lists each with its status).
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault, by its wire name (`price`, `source.id`,
    /// `account.bank`, ...), when one is.
    #[oai(skip_serializing_if_is_none)]
    pub param: Option<String>,
    /// When a PG refused: the PG's own code, when it is one the PG documents.
    #[oai(skip_serializing_if_is_none)]
    pub pg: Option<PgErrorBody>,
    /// The id of the request this answers (also its `x-request-id` header):
    /// quote it when reporting a problem, it is on every log line of the request.
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

/// What a PG said when it refused.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "PgError")]
pub struct PgErrorBody {
    /// The PG's documented code (Toss `REJECT_CARD_COMPANY`, PortOne
    /// `PG_PROVIDER`, ...).
    pub code: String,
}

/// The `code` of an error answer: a cause of the use cases
/// ([`payments_application::Cause`], one each) or one of the HTTP edge's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, poem_openapi::Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidField,
    VendorNotEnabled,
    StoreNotConfigured,
    AmountNotRepresentable,
    WebhookUrlRefused,
    RecordNotFound,
    Unauthenticated,
    ScopeMissing,
    WrongPassword,
    RecordLocked,
    AlreadyRegistered,
    SavedCardRemoved,
    PriceMismatch,
    OrderMismatch,
    CurrencyMismatch,
    PaymentNotPayable,
    CancelNotPositive,
    CancelExceedsBalance,
    CancelInProgress,
    ChargeInProgress,
    IdempotencyKeyReused,
    PgNotFound,
    PgRejected,
    PgBalanceChanged,
    PgBusy,
    PgTimeout,
    PgUnavailable,
    PgBadAnswer,
    StorageUnavailable,
    ConcurrentChange,
    ServerBusy,
    NotRegistered,
    NotificationNotProven,
    NotificationsBacklogged,
    Internal,
    /// The edge's own: a body that is not a valid encrypted request.
    InvalidBody,
    /// The edge's own: a request the route cannot read (a path or header
    /// value, a notification body the PG never sends).
    InvalidRequest,
    /// The edge's own: a body over the size limit.
    PayloadTooLarge,
    /// The edge's own: a body of a type the route does not take.
    UnsupportedMediaType,
    /// The edge's own: no such route, or a PG not served here.
    NotFound,
    /// The edge's own: a method the route does not take.
    MethodNotAllowed,
    /// The edge's own: a request with the same `Idempotency-Key` is running.
    IdempotencyKeyInUse,
    /// The edge's own: the client sent more requests than its rate allows.
    RateLimited,
    /// The edge's own: the request ran longer than its deadline.
    RequestTimeout,
}

impl From<payments_application::Cause> for ErrorCode {
    fn from(cause: payments_application::Cause) -> Self {
        use payments_application::Cause as C;
        match cause {
            C::InvalidField => Self::InvalidField,
            C::VendorNotEnabled => Self::VendorNotEnabled,
            C::StoreNotConfigured => Self::StoreNotConfigured,
            C::AmountNotRepresentable => Self::AmountNotRepresentable,
            C::WebhookUrlRefused => Self::WebhookUrlRefused,
            C::RecordNotFound => Self::RecordNotFound,
            C::Unauthenticated => Self::Unauthenticated,
            C::ScopeMissing => Self::ScopeMissing,
            C::WrongPassword => Self::WrongPassword,
            C::RecordLocked => Self::RecordLocked,
            C::AlreadyRegistered => Self::AlreadyRegistered,
            C::SavedCardRemoved => Self::SavedCardRemoved,
            C::PriceMismatch => Self::PriceMismatch,
            C::OrderMismatch => Self::OrderMismatch,
            C::CurrencyMismatch => Self::CurrencyMismatch,
            C::PaymentNotPayable => Self::PaymentNotPayable,
            C::CancelNotPositive => Self::CancelNotPositive,
            C::CancelExceedsBalance => Self::CancelExceedsBalance,
            C::CancelInProgress => Self::CancelInProgress,
            C::ChargeInProgress => Self::ChargeInProgress,
            C::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            C::PgNotFound => Self::PgNotFound,
            C::PgRejected => Self::PgRejected,
            C::PgBalanceChanged => Self::PgBalanceChanged,
            C::PgBusy => Self::PgBusy,
            C::PgTimeout => Self::PgTimeout,
            C::PgUnavailable => Self::PgUnavailable,
            C::PgBadAnswer => Self::PgBadAnswer,
            C::StorageUnavailable => Self::StorageUnavailable,
            C::ConcurrentChange => Self::ConcurrentChange,
            C::ServerBusy => Self::ServerBusy,
            C::NotRegistered => Self::NotRegistered,
            C::NotificationNotProven => Self::NotificationNotProven,
            C::NotificationsBacklogged => Self::NotificationsBacklogged,
            C::Internal => Self::Internal,
        }
    }
}

impl ErrorCode {
    /// Its wire spelling (`PRICE_MISMATCH`).
    pub fn as_str(self) -> String {
        use poem_openapi::types::ToJSON;
        self.to_json().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    /// Reads a wire spelling back (a stored answer); `None` for a code this
    /// version does not know.
    pub fn parse(code: &str) -> Option<Self> {
        use poem_openapi::types::ParseFromJSON;
        Self::parse_from_json(Some(serde_json::Value::String(code.to_owned()))).ok()
    }
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

impl From<&SavedCard> for ReservationBody {
    fn from(reservation: &SavedCard) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each cause of the use cases is the code of the same name.
    #[test]
    fn every_cause_is_its_error_code() {
        for cause in payments_application::Cause::ALL {
            let code = ErrorCode::from(*cause);
            assert_eq!(code.as_str(), cause.code());
            assert_eq!(ErrorCode::parse(cause.code()), Some(code));
        }
        assert_eq!(ErrorCode::parse("UNPROCESSABLE"), None, "a code of before is not one now");
    }
}
