//! Why a use case failed, by cause, in the domain's words. Nothing here knows
//! an HTTP status: the HTTP adapter maps each [`Cause`] to one status in one
//! table, and the background loops (inbox, cancel settlement, reconciler)
//! decide on causes, where a transient failure and a final one are never the
//! same variant.

use payments_domain::{DomainError, VendorCode};

use crate::ports::{GatewayError, RepositoryError, documented_code_in};

/// Which kind of record a request named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    History,
    SavedCard,
    Event,
    Order,
    Client,
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::History => "payment history",
            Self::SavedCard => "saved card",
            Self::Event => "webhook event",
            Self::Order => "order",
            Self::Client => "client",
        })
    }
}

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A rule of the domain refused the request, or a value failed its
    /// constructor (the field is named), or the PG reported data that cannot
    /// describe the payment.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A field of the request that no constructor checks (a refund account,
    /// a new password's length).
    #[error("{param}: {reason}")]
    InvalidField { param: String, reason: String },
    /// No gateway of this PG runs in this deployment.
    #[error("vendor.code: {0} is not enabled on this server")]
    VendorNotEnabled(VendorCode),
    /// The webhook target policy refuses this `webhook_url`.
    #[error("webhook_url: {0}")]
    WebhookUrlRefused(String),
    /// No such record here.
    #[error("{0} not found")]
    RecordNotFound(RecordKind),
    /// The request named no valid API key (none where one is needed, not a
    /// bearer key, another mode's, unknown, revoked): one message for all.
    #[error("{0}")]
    Unauthenticated(String),
    /// The client's scopes do not include what the route needs.
    #[error("this client's scopes do not include {}", .0.as_str())]
    ScopeMissing(payments_domain::Scope),
    /// The record's password is not this one.
    #[error("wrong password")]
    WrongPassword,
    /// Too many wrong passwords for this record: nothing is checked until
    /// `retry_after` has passed.
    #[error("too many wrong passwords for this record; retry in {} s", .retry_after.as_secs())]
    RecordLocked { retry_after: std::time::Duration },
    /// The PG's payment (`param` `vendor.uid`) or the caller's source
    /// (`param` `source`) is registered already. Final.
    #[error("{param}: {message}")]
    AlreadyRegistered { param: &'static str, message: String },
    /// The saved card was removed (here or at the PG): it charges nothing.
    #[error("the saved card was removed; it cannot be charged")]
    SavedCardRemoved,
    /// The PG's payment was made for another order than the caller's
    /// `source.id`, or the PG reports none (`param` says which field).
    #[error("{param}: {message}")]
    OrderMismatch { param: &'static str, message: String },
    /// The PG charged in another currency than the caller expected.
    #[error("currency {expected} is not the currency the PG charged in")]
    CurrencyMismatch { expected: String },
    /// Another cancel of the payment holds its cancel lock (transient: retry).
    #[error("{0}")]
    CancelInProgress(String),
    /// This charge is being sent or settled by another request (transient).
    #[error("{0}")]
    ChargeInProgress(String),
    /// The PG (or the card company behind it) refused, as recorded when it
    /// did (a retry is answered the first attempt's refusal): nothing moved.
    /// Final.
    #[error("{0}")]
    PgRefused(String),
    /// The caller's `Idempotency-Key` was used for another request.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// A PG call failed (refused, timed out, unreachable, an unreadable
    /// answer...): the kind is the gateway's.
    #[error(transparent)]
    Pg(#[from] GatewayError),
    /// Our database failed (unavailable, a concurrent change, a duplicate).
    #[error(transparent)]
    Storage(#[from] RepositoryError),
    /// The payment changed concurrently more often than a change is
    /// re-applied (transient: retry).
    #[error("too many concurrent changes of this payment; retry")]
    ConcurrentChanges,
    /// The password hashing queue is full (transient: retry shortly).
    #[error("{0}")]
    Busy(String),
    /// A PG notification names a payment not registered here (yet: the
    /// registration may be racing it; transient for a while).
    #[error("{0}")]
    NotRegistered(String),
    /// A PG notification did not prove itself (a deposit callback's secret
    /// that is not the PG's). Final.
    #[error("{0}")]
    NotificationNotProven(String),
    /// Too many PG notifications wait to be processed; the PG sends it again.
    #[error("too many PG notifications are waiting to be processed; send it again later")]
    InboxFull,
    /// A bug or an unexpected failure; the cause is logged, never returned.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The cause of an [`AppError`], without its details: what a backend
/// branches on. Its wire spelling ([`Cause::code`]) is the `code` of an
/// error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
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
}

impl Cause {
    /// Every cause, in declaration order.
    pub const ALL: &'static [Cause] = &[
        Cause::InvalidField,
        Cause::VendorNotEnabled,
        Cause::StoreNotConfigured,
        Cause::AmountNotRepresentable,
        Cause::WebhookUrlRefused,
        Cause::RecordNotFound,
        Cause::Unauthenticated,
        Cause::ScopeMissing,
        Cause::WrongPassword,
        Cause::RecordLocked,
        Cause::AlreadyRegistered,
        Cause::SavedCardRemoved,
        Cause::PriceMismatch,
        Cause::OrderMismatch,
        Cause::CurrencyMismatch,
        Cause::PaymentNotPayable,
        Cause::CancelNotPositive,
        Cause::CancelExceedsBalance,
        Cause::CancelInProgress,
        Cause::ChargeInProgress,
        Cause::IdempotencyKeyReused,
        Cause::PgNotFound,
        Cause::PgRejected,
        Cause::PgBalanceChanged,
        Cause::PgBusy,
        Cause::PgTimeout,
        Cause::PgUnavailable,
        Cause::PgBadAnswer,
        Cause::StorageUnavailable,
        Cause::ConcurrentChange,
        Cause::ServerBusy,
        Cause::NotRegistered,
        Cause::NotificationNotProven,
        Cause::NotificationsBacklogged,
        Cause::Internal,
    ];

    /// Its stable SCREAMING_SNAKE name, the `code` of an error answer.
    pub fn code(self) -> &'static str {
        match self {
            Cause::InvalidField => "INVALID_FIELD",
            Cause::VendorNotEnabled => "VENDOR_NOT_ENABLED",
            Cause::StoreNotConfigured => "STORE_NOT_CONFIGURED",
            Cause::AmountNotRepresentable => "AMOUNT_NOT_REPRESENTABLE",
            Cause::WebhookUrlRefused => "WEBHOOK_URL_REFUSED",
            Cause::RecordNotFound => "RECORD_NOT_FOUND",
            Cause::Unauthenticated => "UNAUTHENTICATED",
            Cause::ScopeMissing => "SCOPE_MISSING",
            Cause::WrongPassword => "WRONG_PASSWORD",
            Cause::RecordLocked => "RECORD_LOCKED",
            Cause::AlreadyRegistered => "ALREADY_REGISTERED",
            Cause::SavedCardRemoved => "SAVED_CARD_REMOVED",
            Cause::PriceMismatch => "PRICE_MISMATCH",
            Cause::OrderMismatch => "ORDER_MISMATCH",
            Cause::CurrencyMismatch => "CURRENCY_MISMATCH",
            Cause::PaymentNotPayable => "PAYMENT_NOT_PAYABLE",
            Cause::CancelNotPositive => "CANCEL_NOT_POSITIVE",
            Cause::CancelExceedsBalance => "CANCEL_EXCEEDS_BALANCE",
            Cause::CancelInProgress => "CANCEL_IN_PROGRESS",
            Cause::ChargeInProgress => "CHARGE_IN_PROGRESS",
            Cause::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Cause::PgNotFound => "PG_NOT_FOUND",
            Cause::PgRejected => "PG_REJECTED",
            Cause::PgBalanceChanged => "PG_BALANCE_CHANGED",
            Cause::PgBusy => "PG_BUSY",
            Cause::PgTimeout => "PG_TIMEOUT",
            Cause::PgUnavailable => "PG_UNAVAILABLE",
            Cause::PgBadAnswer => "PG_BAD_ANSWER",
            Cause::StorageUnavailable => "STORAGE_UNAVAILABLE",
            Cause::ConcurrentChange => "CONCURRENT_CHANGE",
            Cause::ServerBusy => "SERVER_BUSY",
            Cause::NotRegistered => "NOT_REGISTERED",
            Cause::NotificationNotProven => "NOTIFICATION_NOT_PROVEN",
            Cause::NotificationsBacklogged => "NOTIFICATIONS_BACKLOGGED",
            Cause::Internal => "INTERNAL",
        }
    }

    /// Whether asking again, unchanged, may succeed (a PG or our database
    /// that failed, a lock held by another request). A final cause stays
    /// what it is however often it is asked.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Cause::CancelInProgress
                | Cause::ChargeInProgress
                | Cause::PgBusy
                | Cause::PgTimeout
                | Cause::PgUnavailable
                | Cause::PgBadAnswer
                | Cause::StorageUnavailable
                | Cause::ConcurrentChange
                | Cause::ServerBusy
                | Cause::NotRegistered
                | Cause::NotificationsBacklogged
                | Cause::Internal
        )
    }
}

impl AppError {
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(cause.into())
    }

    /// The PG answered something we cannot use (our reading of its answer).
    pub fn pg_bad_answer(message: impl Into<String>) -> Self {
        AppError::Pg(GatewayError::Protocol(message.into()))
    }

    /// Its cause.
    pub fn cause(&self) -> Cause {
        match self {
            AppError::Domain(error) => match error {
                DomainError::Invalid { .. } => Cause::InvalidField,
                DomainError::NonPositiveCancel => Cause::CancelNotPositive,
                DomainError::CancelExceedsBalance { .. } => Cause::CancelExceedsBalance,
                DomainError::PriceMismatch { .. } => Cause::PriceMismatch,
                DomainError::Unpayable { .. } => Cause::PaymentNotPayable,
                DomainError::InconsistentSnapshot(_) => Cause::PgBadAnswer,
            },
            AppError::InvalidField { .. } => Cause::InvalidField,
            AppError::VendorNotEnabled(_) => Cause::VendorNotEnabled,
            AppError::WebhookUrlRefused(_) => Cause::WebhookUrlRefused,
            AppError::RecordNotFound(_) => Cause::RecordNotFound,
            AppError::Unauthenticated(_) => Cause::Unauthenticated,
            AppError::ScopeMissing(_) => Cause::ScopeMissing,
            AppError::WrongPassword => Cause::WrongPassword,
            AppError::RecordLocked { .. } => Cause::RecordLocked,
            AppError::AlreadyRegistered { .. } => Cause::AlreadyRegistered,
            AppError::SavedCardRemoved => Cause::SavedCardRemoved,
            AppError::OrderMismatch { .. } => Cause::OrderMismatch,
            AppError::CurrencyMismatch { .. } => Cause::CurrencyMismatch,
            AppError::CancelInProgress(_) => Cause::CancelInProgress,
            AppError::ChargeInProgress(_) => Cause::ChargeInProgress,
            AppError::PgRefused(_) => Cause::PgRejected,
            AppError::IdempotencyKeyReused(_) => Cause::IdempotencyKeyReused,
            AppError::Pg(error) => match error {
                GatewayError::NotFound(_) => Cause::PgNotFound,
                GatewayError::Rejected(_) => Cause::PgRejected,
                GatewayError::BalanceMismatch(_) => Cause::PgBalanceChanged,
                GatewayError::TooSoon(_) => Cause::PgBusy,
                GatewayError::UnknownStore { .. } => Cause::StoreNotConfigured,
                GatewayError::Timeout(_) => Cause::PgTimeout,
                GatewayError::Unavailable(_) => Cause::PgUnavailable,
                GatewayError::Protocol(_) | GatewayError::OutOfBounds(_) => Cause::PgBadAnswer,
                GatewayError::Unrepresentable(_) => Cause::AmountNotRepresentable,
            },
            AppError::Storage(error) => match error {
                // A unique key taken by a concurrent registration.
                RepositoryError::Conflict(_) => Cause::AlreadyRegistered,
                RepositoryError::Unavailable(_) => Cause::StorageUnavailable,
                RepositoryError::Stale => Cause::ConcurrentChange,
                RepositoryError::Corrupt(_) | RepositoryError::Other(_) => Cause::Internal,
            },
            AppError::ConcurrentChanges => Cause::ConcurrentChange,
            AppError::Busy(_) => Cause::ServerBusy,
            AppError::NotRegistered(_) => Cause::NotRegistered,
            AppError::NotificationNotProven(_) => Cause::NotificationNotProven,
            AppError::InboxFull => Cause::NotificationsBacklogged,
            AppError::Internal(_) => Cause::Internal,
        }
    }

    /// The request field at fault, by its wire name, when one is.
    pub fn param(&self) -> Option<&str> {
        match self {
            AppError::Domain(DomainError::Invalid { field, .. }) => Some(field),
            AppError::Domain(
                DomainError::NonPositiveCancel
                | DomainError::CancelExceedsBalance { .. }
                | DomainError::PriceMismatch { .. },
            ) => Some("price"),
            AppError::InvalidField { param, .. } => Some(param),
            AppError::VendorNotEnabled(_) => Some("vendor.code"),
            AppError::WebhookUrlRefused(_) => Some("webhook_url"),
            AppError::AlreadyRegistered { param, .. } | AppError::OrderMismatch { param, .. } => Some(param),
            AppError::CurrencyMismatch { .. } => Some("currency"),
            AppError::Pg(GatewayError::UnknownStore { .. }) => Some("vendor.store_id"),
            // "price: USD amounts have at most 2 decimals"
            AppError::Pg(GatewayError::Unrepresentable(message)) => {
                message.split_once(": ").map(|(field, _)| field).filter(|field| is_field_path(field))
            }
            _ => None,
        }
    }

    /// The PG's own documented code, when a PG refused with one.
    pub fn pg_code(&self) -> Option<&str> {
        match self {
            AppError::PgRefused(message) => documented_code_in(message),
            AppError::Pg(error) => error.documented_code(),
            _ => None,
        }
    }
}

/// Whether `text` reads as a request field path (`price`, `account.bank`).
fn is_field_path(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_its_own_code_in_screaming_snake() {
        let codes: std::collections::BTreeSet<_> = Cause::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes.len(), Cause::ALL.len(), "one code per cause");
        for code in codes {
            assert!(code.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{code}");
        }
        assert_eq!(AppError::internal(anyhow::anyhow!("db password is x")).to_string(), "internal error");
    }

    #[test]
    fn gateway_errors_keep_their_kind_as_a_cause() {
        let cause = |e: GatewayError| AppError::from(e).cause();
        assert_eq!(cause(GatewayError::NotFound("x".into())), Cause::PgNotFound);
        assert_eq!(cause(GatewayError::Rejected("x".into())), Cause::PgRejected);
        assert_eq!(cause(GatewayError::Unavailable("x".into())), Cause::PgUnavailable);
        assert_eq!(cause(GatewayError::Protocol("x".into())), Cause::PgBadAnswer);
        assert_eq!(cause(GatewayError::OutOfBounds("x".into())), Cause::PgBadAnswer);
        assert_eq!(cause(GatewayError::Timeout("x".into())), Cause::PgTimeout);
        let store = GatewayError::UnknownStore { vendor: VendorCode::Iamport, store: "s".into() };
        assert_eq!(
            (AppError::from(store.clone()).cause(), AppError::from(store).param()),
            (Cause::StoreNotConfigured, Some("vendor.store_id"))
        );
        let unit = AppError::from(GatewayError::Unrepresentable("price: USD amounts have at most 2 decimals".into()));
        assert_eq!((unit.cause(), unit.param()), (Cause::AmountNotRepresentable, Some("price")));
    }

    #[test]
    fn transient_and_final_causes_are_never_one() {
        // A concurrent change is worth a retry; a duplicate never is.
        assert!(AppError::from(RepositoryError::Stale).cause().is_transient());
        assert!(!AppError::from(RepositoryError::Conflict("dup".into())).cause().is_transient());
        assert!(!AppError::AlreadyRegistered { param: "source", message: "x".into() }.cause().is_transient());
        assert!(AppError::CancelInProgress("x".into()).cause().is_transient());
        assert!(!AppError::PgRefused("x".into()).cause().is_transient());
    }

    #[test]
    fn a_pg_refusal_carries_the_pgs_documented_code() {
        let refused = AppError::from(GatewayError::Rejected(
            "Toss POST /v1/payments/confirm answered 400 REJECT_CARD_COMPANY".into(),
        ));
        assert_eq!((refused.cause(), refused.pg_code()), (Cause::PgRejected, Some("REJECT_CARD_COMPANY")));
        let bare = AppError::from(GatewayError::Rejected("Iamport POST /payments/cancel answered 200".into()));
        assert_eq!(bare.pg_code(), None);
    }
}
