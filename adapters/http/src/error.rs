//! Error answers: `{code, message, param?, pg?, request_id}` JSON. This module
//! is the one place that knows a status: [`status_of`] maps every code (each
//! cause of the use cases, and the edge's own) to one status, and each
//! operation's error type lists the causes it can answer, from which its
//! statuses in the OpenAPI document are derived.

use payments_application::{AppError, Cause};
use payments_wire::{ErrorBody, ErrorCode, PgErrorBody};
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};

/// The status of each code: the table a reader scans.
pub fn status_of(code: ErrorCode) -> u16 {
    use ErrorCode as C;
    match code {
        // The request.
        C::InvalidField
        | C::VendorNotEnabled
        | C::StoreNotConfigured
        | C::AmountNotRepresentable
        | C::WebhookUrlRefused
        | C::InvalidBody
        | C::InvalidRequest => 400,
        // Its credentials.
        C::Unauthenticated => 401,
        C::WrongPassword | C::NotificationNotProven | C::ScopeMissing => 403,
        C::RecordNotFound | C::PgNotFound | C::NotRegistered | C::NotFound => 404,
        C::MethodNotAllowed => 405,
        // The record's state, or another request holding it.
        C::AlreadyRegistered
        | C::CancelInProgress
        | C::ChargeInProgress
        | C::ConcurrentChange
        | C::IdempotencyKeyInUse => 409,
        C::SavedCardRemoved => 410,
        C::PayloadTooLarge => 413,
        C::UnsupportedMediaType => 415,
        // A rule of the payment, or the PG, refused.
        C::PriceMismatch
        | C::OrderMismatch
        | C::CurrencyMismatch
        | C::PaymentNotPayable
        | C::CancelNotPositive
        | C::CancelExceedsBalance
        | C::IdempotencyKeyReused
        | C::PgRejected
        | C::PgBalanceChanged => 422,
        C::RecordLocked | C::RateLimited => 429,
        C::Internal => 500,
        // The PG failed.
        C::PgUnavailable | C::PgBadAnswer => 502,
        // We are busy or our storage failed: retry later.
        C::PgBusy | C::StorageUnavailable | C::ServerBusy | C::NotificationsBacklogged | C::RequestTimeout => 503,
        C::PgTimeout => 504,
    }
}

/// An error answer. Built from [`AppError`] (its cause decides the code and,
/// through [`status_of`], the status) or by this adapter for what it cannot
/// read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {message}", .code.as_str())]
pub struct ApiError {
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault.
    pub param: Option<String>,
    /// The PG's documented code, when a PG refused with one.
    pub pg_code: Option<String>,
    /// Seconds for a `Retry-After` header (a locked record).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An answer with `code`, at its status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status: status_of(code), code, message: message.into(), param: None, pg_code: None, retry_after: None }
    }

    /// Answers with a `Retry-After` of `seconds` (at least 1).
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// Names the request field at fault.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// The JSON body of this answer, with the id of the request being
    /// answered (none outside a request).
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message.clone(),
            param: self.param.clone(),
            pg: self.pg_code.clone().map(|code| PgErrorBody { code }),
            request_id: crate::current_request_id(),
        }
    }

    /// A body that could not be decrypted or read as the route's JSON.
    /// Outside local mode every such failure answers the same, so the answer
    /// tells nothing about where decryption failed (no padding oracle).
    pub fn unreadable_body(local_mode: bool, detail: impl FnOnce() -> String) -> Self {
        let message = if local_mode {
            format!("the body is not a valid encrypted request: {}", detail())
        } else {
            "the body is not a valid encrypted request".to_owned()
        };
        Self::new(ErrorCode::InvalidBody, message)
    }

    /// The answer to a request body over the size limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(ErrorCode::PayloadTooLarge, format!("the body exceeds {limit} bytes"))
    }

    /// The opaque answer to a bug (its cause is logged where it happened).
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// Rebuilds a stored error answer (idempotency replay) with its stored
    /// status. A code this version does not know (stored by an older one)
    /// reads as the edge's generic code of its status class.
    pub fn from_stored(status: u16, body: &str) -> Self {
        let value = serde_json::from_str::<serde_json::Value>(body).unwrap_or_default();
        let fallback = if status >= 500 { ErrorCode::Internal } else { ErrorCode::InvalidRequest };
        let code = value["code"].as_str().and_then(ErrorCode::parse).unwrap_or(fallback);
        let message = value["message"].as_str().map_or_else(|| body.to_owned(), str::to_owned);
        Self {
            status,
            code,
            message,
            param: value["param"].as_str().map(str::to_owned),
            pg_code: value["pg"]["code"].as_str().map(str::to_owned),
            retry_after: None,
        }
    }

    /// Maps a poem error (unknown route, wrong method, unsupported media type,
    /// unreadable JSON, size limit...) to a JSON answer.
    pub fn from_poem(error: &poem::Error) -> Self {
        if let Some(api) = error.downcast_ref::<ApiError>() {
            return api.clone();
        }
        if let Some(api) = operation_error_of(error) {
            return api.clone();
        }
        let status = error.status();
        let code = match status {
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            s if s.is_server_error() => ErrorCode::Internal,
            _ => ErrorCode::InvalidRequest,
        };
        let message = if status.is_server_error() {
            tracing::error!(error = %error, "request failed");
            "internal error".to_owned()
        } else if status == StatusCode::NOT_FOUND && error.is::<poem::error::NotFoundError>() {
            "no such route".to_owned()
        } else {
            error.to_string()
        };
        Self::new(code, message)
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<AppError> for ApiError {
    /// The cause decides the code and its status; the field at fault and the
    /// PG's documented code ride along. An internal error's cause chain is
    /// logged and an opaque message returned.
    fn from(error: AppError) -> Self {
        let cause = error.cause();
        // A bug or corrupt data: its text is for the log only.
        if cause == Cause::Internal {
            tracing::error!(error = format!("{:#}", anyhow::Error::new(error)), "internal error");
            return Self::internal();
        }
        if cause.is_transient() {
            tracing::warn!(code = cause.code(), error = %error, "request failed upstream");
        }
        let retry_after = match &error {
            AppError::RecordLocked { retry_after } => Some(retry_after.as_secs().max(1)),
            _ => None,
        };
        Self {
            param: error.param().map(str::to_owned),
            pg_code: error.pg_code().map(str::to_owned),
            retry_after,
            ..Self::new(ErrorCode::from(cause), error.to_string())
        }
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status_code()
    }

    fn as_response(&self) -> Response {
        let mut response = Json(self.body()).into_response().with_status(self.status_code()).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(poem::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        poem::error::ResponseError::as_response(&self)
    }
}

/// What an answer of `status` means, naming the codes that give it.
fn describe(status: u16, codes: &[ErrorCode]) -> String {
    let meaning = match status {
        400 => "The request is not valid",
        401 => "No valid API key (the same answer whatever was wrong with it)",
        403 => "Not allowed",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "The record is taken or held by another request",
        410 => "Gone",
        413 => "The body exceeds 1 MiB",
        415 => "Unsupported media type",
        422 => "A rule of the payment or the PG refused",
        429 => {
            "Too many requests (of this client) or too many wrong passwords (for this record): retry after `Retry-After` seconds"
        }
        500 => "A bug; the cause is logged, the message is opaque",
        502 => "The PG failed or answered something unusable",
        503 => "Busy or our storage is unavailable; retry later",
        504 => "The PG did not answer in time",
        _ => "Error",
    };
    let codes: Vec<String> = codes.iter().filter(|c| status_of(**c) == status).map(|c| c.as_str()).collect();
    format!("{meaning}: {}.", codes.join(", "))
}

/// The statuses `codes` answer, each once, ascending.
pub fn statuses_of(codes: &[ErrorCode]) -> Vec<u16> {
    let mut statuses: Vec<u16> = codes.iter().map(|c| status_of(*c)).collect();
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

/// `text` as a `&'static str` (the document's descriptions must be): each
/// distinct text is kept once, and there are as many as statuses of
/// operations, so building the document again costs nothing more.
fn interned(text: String) -> &'static str {
    static TEXTS: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<&'static str>>> =
        std::sync::OnceLock::new();
    let mut texts = TEXTS.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(kept) = texts.get(text.as_str()) {
        return kept;
    }
    let kept: &'static str = Box::leak(text.into_boxed_str());
    texts.insert(kept);
    kept
}

fn error_meta(codes: &[ErrorCode]) -> MetaResponses {
    MetaResponses {
        responses: statuses_of(codes)
            .into_iter()
            .map(|status| MetaResponse {
                description: interned(describe(status, codes)),
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "application/json; charset=utf-8",
                    schema: ErrorBody::schema_ref(),
                }],
                headers: vec![],
            })
            .collect(),
    }
}

/// The edge's own codes of every route that takes an encrypted body (a
/// client's: its key, its scopes, its rate).
const ENCRYPTED_EDGE: &[ErrorCode] = &[
    ErrorCode::Unauthenticated,
    ErrorCode::ScopeMissing,
    ErrorCode::RateLimited,
    ErrorCode::InvalidBody,
    ErrorCode::InvalidRequest,
    ErrorCode::PayloadTooLarge,
    ErrorCode::UnsupportedMediaType,
    ErrorCode::Internal,
    ErrorCode::RequestTimeout,
];

/// Those of a route that takes an `Idempotency-Key`.
const IDEMPOTENT_EDGE: &[ErrorCode] = &[ErrorCode::IdempotencyKeyInUse, ErrorCode::IdempotencyKeyReused];

/// What reading a record with its password can meet.
const ACCESS: &[Cause] = &[
    Cause::InvalidField,
    Cause::RecordNotFound,
    Cause::WrongPassword,
    Cause::RecordLocked,
    Cause::StorageUnavailable,
    Cause::ServerBusy,
    Cause::Internal,
];

/// What a PG call can meet.
const PG_CALL: &[Cause] = &[
    Cause::VendorNotEnabled,
    Cause::StoreNotConfigured,
    Cause::PgNotFound,
    Cause::PgRejected,
    Cause::PgBusy,
    Cause::PgTimeout,
    Cause::PgUnavailable,
    Cause::PgBadAnswer,
];

macro_rules! operation_error {
    ($(#[$meta:meta])* $name:ident, causes: [$($causes:expr),* $(,)?], edge: [$($edge:expr),* $(,)?]) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error(transparent)]
        pub struct $name(pub ApiError);

        impl $name {
            /// Every code this operation answers: its causes and the edge's own.
            /// Each once, in the order declared; listed once per process.
            pub fn codes() -> &'static [ErrorCode] {
                static CODES: std::sync::OnceLock<Vec<ErrorCode>> = std::sync::OnceLock::new();
                CODES.get_or_init(|| {
                    let causes: &[&[Cause]] = &[$($causes),*];
                    let edge: &[&[ErrorCode]] = &[$($edge),*];
                    let declared = causes.concat().into_iter().map(ErrorCode::from).chain(edge.concat());
                    let mut codes = Vec::new();
                    for code in declared {
                        if !codes.contains(&code) {
                            codes.push(code);
                        }
                    }
                    codes
                })
            }
        }

        impl From<ApiError> for $name {
            fn from(error: ApiError) -> Self {
                Self(error)
            }
        }

        impl From<AppError> for $name {
            fn from(error: AppError) -> Self {
                let code = ErrorCode::from(error.cause());
                if !Self::codes().contains(&code) {
                    // The document does not list it: a use case grew a cause
                    // this operation does not declare.
                    tracing::error!(operation = stringify!($name), code = code.as_str(), "an undeclared error cause");
                    #[cfg(debug_assertions)]
                    return Self(ApiError::new(
                        ErrorCode::Internal,
                        format!("{} answered the undeclared cause {}", stringify!($name), code.as_str()),
                    ));
                }
                Self(ApiError::from(error))
            }
        }

        impl poem::error::ResponseError for $name {
            fn status(&self) -> StatusCode {
                self.0.status_code()
            }

            fn as_response(&self) -> Response {
                poem::error::ResponseError::as_response(&self.0)
            }
        }

        impl ApiResponse for $name {
            fn meta() -> MetaResponses {
                error_meta(Self::codes())
            }

            fn register(registry: &mut Registry) {
                ErrorBody::register(registry);
            }
        }
    };
}

operation_error!(
    /// Errors of reading a payment history or a saved card.
    ReadError,
    causes: [ACCESS],
    edge: [ENCRYPTED_EDGE]
);
/// What making a record (a payment, an order) can meet besides the PG: its
/// fields, its source taken, the password of the order it falls under.
const NEW_RECORD: &[Cause] = &[
    Cause::InvalidField,
    Cause::AmountNotRepresentable,
    Cause::WebhookUrlRefused,
    Cause::AlreadyRegistered,
    Cause::WrongPassword,
    Cause::RecordLocked,
    Cause::StorageUnavailable,
    Cause::ServerBusy,
    Cause::Internal,
];

operation_error!(
    /// Errors of registering a payment.
    RegisterError,
    causes: [
        PG_CALL,
        NEW_RECORD,
        &[Cause::OrderMismatch, Cause::PriceMismatch, Cause::CurrencyMismatch, Cause::PaymentNotPayable],
    ],
    edge: [ENCRYPTED_EDGE, IDEMPOTENT_EDGE]
);
operation_error!(
    /// Errors of a client's event feed and its redeliveries.
    FeedError,
    causes: [&[
        Cause::InvalidField,
        Cause::RecordNotFound,
        Cause::StorageUnavailable,
        Cause::Internal,
    ]],
    edge: [ENCRYPTED_EDGE]
);
operation_error!(
    /// Errors of registering an order.
    OrderError,
    causes: [PG_CALL, NEW_RECORD],
    edge: [ENCRYPTED_EDGE, IDEMPOTENT_EDGE]
);
operation_error!(
    /// Errors of cancelling a payment.
    CancelError,
    causes: [
        ACCESS,
        PG_CALL,
        &[
            Cause::AmountNotRepresentable,
            Cause::CancelNotPositive,
            Cause::CancelExceedsBalance,
            Cause::CancelInProgress,
            Cause::IdempotencyKeyReused,
            Cause::PgBalanceChanged,
            Cause::ConcurrentChange,
        ],
    ],
    edge: [ENCRYPTED_EDGE, IDEMPOTENT_EDGE]
);
operation_error!(
    /// Errors of saving a card.
    SaveCardError,
    causes: [
        PG_CALL,
        &[
            Cause::InvalidField,
            Cause::AlreadyRegistered,
            Cause::StorageUnavailable,
            Cause::ServerBusy,
            Cause::Internal,
        ],
    ],
    edge: [ENCRYPTED_EDGE, IDEMPOTENT_EDGE]
);
operation_error!(
    /// Errors of charging a saved card.
    ChargeError,
    causes: [
        ACCESS,
        PG_CALL,
        &[
            Cause::AmountNotRepresentable,
            Cause::WebhookUrlRefused,
            Cause::SavedCardRemoved,
            Cause::AlreadyRegistered,
            Cause::ChargeInProgress,
            Cause::PgBalanceChanged,
        ],
    ],
    edge: [ENCRYPTED_EDGE, IDEMPOTENT_EDGE]
);
operation_error!(
    /// Errors of removing a saved card.
    RemoveCardError,
    causes: [ACCESS, PG_CALL],
    edge: [ENCRYPTED_EDGE]
);
operation_error!(
    /// Errors of the PG webhook routes.
    WebhookError,
    causes: [&[
        Cause::NotificationNotProven,
        Cause::NotificationsBacklogged,
        Cause::StorageUnavailable,
        Cause::Internal,
    ]],
    edge: [&[
        ErrorCode::InvalidRequest,
        ErrorCode::NotFound,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RequestTimeout,
    ]]
);
operation_error!(
    /// Errors of the monitoring routes.
    MonitorError,
    causes: [&[Cause::StorageUnavailable, Cause::Internal]],
    edge: [&[ErrorCode::RequestTimeout]]
);

/// The [`ApiError`] inside one of the operations' error types.
fn operation_error_of(error: &poem::Error) -> Option<&ApiError> {
    error
        .downcast_ref::<ReadError>()
        .map(|e| &e.0)
        .or_else(|| error.downcast_ref::<RegisterError>().map(|e| &e.0))
        .or_else(|| error.downcast_ref::<OrderError>().map(|e| &e.0))
        .or_else(|| error.downcast_ref::<FeedError>().map(|e| &e.0))
        .or_else(|| error.downcast_ref::<CancelError>().map(|e| &e.0))
        .or_else(|| error.downcast_ref::<SaveCardError>().map(|e| &e.0))
        .or_else(|| error.downcast_ref::<ChargeError>().map(|e| &e.0))
        .or_else(|| error.downcast_ref::<RemoveCardError>().map(|e| &e.0))
        .or_else(|| error.downcast_ref::<WebhookError>().map(|e| &e.0))
        .or_else(|| error.downcast_ref::<MonitorError>().map(|e| &e.0))
}

/// The JSON text of an error body (for idempotency storage: without the
/// request id, which a replay answers with its own).
pub(crate) fn body_json(error: &ApiError) -> String {
    ErrorBody { request_id: None, ..error.body() }.to_json_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use payments_application::RecordKind;
    use payments_application::ports::{GatewayError, RepositoryError};
    use payments_domain::{DomainError, VendorCode};

    /// One error of each cause, as the use cases make it.
    fn one_of_each_cause() -> Vec<AppError> {
        let money = |text: &str| text.parse::<payments_domain::Money>().unwrap();
        vec![
            AppError::Domain(payments_domain::Source::parse("shop", "orders", "").unwrap_err()),
            AppError::VendorNotEnabled(VendorCode::PortOne),
            AppError::Pg(GatewayError::UnknownStore { vendor: VendorCode::Iamport, store: "s".into() }),
            AppError::Pg(GatewayError::Unrepresentable(
                "price: KRW amounts are whole numbers; 0.5 has decimals".into(),
            )),
            AppError::WebhookUrlRefused("host \"x\" is not in the allowed list".into()),
            AppError::RecordNotFound(RecordKind::History),
            AppError::Unauthenticated("the API key is not valid".into()),
            AppError::ScopeMissing(payments_domain::Scope::Cancel),
            AppError::WrongPassword,
            AppError::RecordLocked { retry_after: std::time::Duration::from_secs(42) },
            AppError::AlreadyRegistered { param: "source", message: "a payment is already registered".into() },
            AppError::SavedCardRemoved,
            AppError::Domain(DomainError::PriceMismatch { expected: money("100"), charged: money("200") }),
            AppError::OrderMismatch { param: "source.id", message: "another order".into() },
            AppError::CurrencyMismatch { expected: "USD".into() },
            AppError::Domain(DomainError::Unpayable { status: "ABORTED".into() }),
            AppError::Domain(DomainError::NonPositiveCancel),
            AppError::Domain(DomainError::CancelExceedsBalance { requested: money("2"), remaining: money("1") }),
            AppError::CancelInProgress("another cancel".into()),
            AppError::ChargeInProgress("being sent".into()),
            AppError::IdempotencyKeyReused("another cancel".into()),
            AppError::Pg(GatewayError::NotFound("Toss GET /v1/payments/x answered 404 NOT_FOUND_PAYMENT".into())),
            AppError::Pg(GatewayError::Rejected(
                "Toss POST /v1/payments/confirm answered 400 REJECT_CARD_COMPANY".into(),
            )),
            AppError::Pg(GatewayError::BalanceMismatch(
                "Toss POST /v1/payments/x/cancel answered 400 NOT_MATCHES_REFUNDABLE_AMOUNT".into(),
            )),
            AppError::Pg(GatewayError::TooSoon("Toss answered 403 FORBIDDEN_CONSECUTIVE_REQUEST".into())),
            AppError::Pg(GatewayError::Timeout("10s".into())),
            AppError::Pg(GatewayError::Unavailable("Toss GET /v1/payments/x answered 500".into())),
            AppError::Pg(GatewayError::Protocol("not JSON".into())),
            AppError::Storage(RepositoryError::Unavailable("pool timed out".into())),
            AppError::ConcurrentChanges,
            AppError::Busy("the hashing queue is full".into()),
            AppError::NotRegistered("no payment imp_1 of iamport is registered".into()),
            AppError::NotificationNotProven("the secret is not the PG's".into()),
            AppError::InboxFull,
            AppError::Storage(RepositoryError::Corrupt(anyhow::anyhow!("row 7 does not open"))),
        ]
    }

    /// Each cause answers its own code at its status over HTTP, with the
    /// field at fault and the PG's documented code where they apply; a bug's
    /// text never leaves the log.
    #[tokio::test]
    async fn every_cause_answers_its_code_status_param_and_pg_code() {
        let errors = one_of_each_cause();
        let covered: std::collections::BTreeSet<Cause> = errors.iter().map(AppError::cause).collect();
        let all: std::collections::BTreeSet<Cause> = Cause::ALL.iter().copied().collect();
        assert_eq!(covered, all, "one error of each cause");
        for error in errors {
            let cause = error.cause();
            let (param, pg_code) = (error.param().map(str::to_owned), error.pg_code().map(str::to_owned));
            let response = poem::error::ResponseError::as_response(&ApiError::from(error));
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            let body: serde_json::Value =
                serde_json::from_slice(&response.into_body().into_bytes().await.unwrap()).unwrap();
            assert_eq!(status, status_of(ErrorCode::from(cause)), "{cause:?}");
            assert_eq!(body["code"], cause.code(), "{cause:?}");
            assert_eq!(body["param"].as_str().map(str::to_owned), param, "{cause:?}");
            assert_eq!(body["pg"]["code"].as_str().map(str::to_owned), pg_code, "{cause:?}");
            match cause {
                Cause::InvalidField => assert_eq!(body["param"], "source.id"),
                Cause::AmountNotRepresentable | Cause::PriceMismatch | Cause::CancelExceedsBalance => {
                    assert_eq!(body["param"], "price", "{cause:?}");
                }
                Cause::StoreNotConfigured => assert_eq!(body["param"], "vendor.store_id"),
                Cause::PgRejected => assert_eq!(body["pg"]["code"], "REJECT_CARD_COMPANY"),
                Cause::PgBalanceChanged => assert_eq!(body["pg"]["code"], "NOT_MATCHES_REFUNDABLE_AMOUNT"),
                Cause::RecordLocked => assert_eq!(retry_after.as_deref(), Some("42")),
                Cause::Internal => assert_eq!(body["message"], "internal error", "no detail of a bug"),
                _ => {}
            }
        }
    }

    #[test]
    fn every_code_has_a_status_and_an_error_status() {
        for cause in Cause::ALL {
            let status = status_of(ErrorCode::from(*cause));
            assert!((400..600).contains(&status), "{cause:?}: {status}");
        }
        assert_eq!(status_of(ErrorCode::from(Cause::PriceMismatch)), 422);
        assert_eq!(status_of(ErrorCode::from(Cause::RecordLocked)), 429);
    }

    #[test]
    fn an_operations_statuses_come_from_its_causes() {
        assert!(!statuses_of(ReadError::codes()).contains(&409), "no 409 on a read");
        assert!(!statuses_of(ReadError::codes()).contains(&502), "a read calls no PG");
        assert!(statuses_of(ChargeError::codes()).contains(&410));
        assert!(!statuses_of(CancelError::codes()).contains(&410));
    }

    #[test]
    fn a_stored_answer_reads_back_whole_and_an_old_code_as_its_class() {
        let locked =
            ApiError::from(AppError::PgRefused("Toss POST /v1/payments/x answered 400 REJECT_CARD_COMPANY".into()));
        let stored = body_json(&locked);
        let back = ApiError::from_stored(422, &stored);
        assert_eq!((back.code, back.pg_code.as_deref()), (ErrorCode::PgRejected, Some("REJECT_CARD_COMPANY")));
        let old = ApiError::from_stored(422, r#"{"code":"UNPROCESSABLE","message":"price 1 is not..."}"#);
        assert_eq!((old.code, old.message.as_str()), (ErrorCode::InvalidRequest, "price 1 is not..."));
    }
}
