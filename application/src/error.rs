//! The one error type of the use cases. Each variant is one HTTP status.

use payments_domain::DomainError;

use crate::ports::{GatewayError, RepositoryError};

/// Why a use case failed. Adapters map each variant to exactly one status and
/// never invent others:
///
/// | variant | status |
/// |---|---|
/// | `Invalid` | 400 |
/// | `Forbidden` | 403 |
/// | `NotFound` | 404 |
/// | `Conflict` | 409 |
/// | `Gone` | 410 |
/// | `Unprocessable` | 422 |
/// | `TooManyAttempts` | 429 |
/// | `Internal` | 500 |
/// | `BadGateway` | 502 |
/// | `Unavailable` | 503 |
/// | `GatewayTimeout` | 504 |
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A field of the request is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The record's password does not match.
    #[error("{0}")]
    Forbidden(String),
    /// No such record (here or at the PG).
    #[error("{0}")]
    NotFound(String),
    /// The record already exists.
    #[error("{0}")]
    Conflict(String),
    /// The record exists but was removed (a saved card removed at the PG).
    #[error("{0}")]
    Gone(String),
    /// A PG or a domain rule refused the request.
    #[error("{0}")]
    Unprocessable(String),
    /// Too many wrong passwords for this record: nothing is checked until
    /// `retry_after` has passed.
    #[error("{message}")]
    TooManyAttempts { message: String, retry_after: std::time::Duration },
    /// The PG failed or answered something unusable.
    #[error("{0}")]
    BadGateway(String),
    /// Our own storage is unreachable; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The PG did not answer in time.
    #[error("{0}")]
    GatewayTimeout(String),
    /// A bug or an unexpected failure; the cause is logged, never returned.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid(_) => 400,
            AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Gone(_) => 410,
            AppError::Unprocessable(_) => 422,
            AppError::TooManyAttempts { .. } => 429,
            AppError::Internal(_) => 500,
            AppError::BadGateway(_) => 502,
            AppError::Unavailable(_) => 503,
            AppError::GatewayTimeout(_) => 504,
        }
    }

    /// A stable machine-readable code for the `code` field of error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "INVALID_REQUEST",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::Conflict(_) => "CONFLICT",
            AppError::Gone(_) => "GONE",
            AppError::Unprocessable(_) => "UNPROCESSABLE",
            AppError::TooManyAttempts { .. } => "TOO_MANY_ATTEMPTS",
            AppError::Internal(_) => "INTERNAL",
            AppError::BadGateway(_) => "BAD_GATEWAY",
            AppError::Unavailable(_) => "UNAVAILABLE",
            AppError::GatewayTimeout(_) => "GATEWAY_TIMEOUT",
        }
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(cause.into())
    }
}

impl From<DomainError> for AppError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid { .. } => AppError::Invalid(error.to_string()),
            DomainError::NonPositiveCancel
            | DomainError::CancelExceedsBalance { .. }
            | DomainError::PriceMismatch { .. }
            | DomainError::Unpayable { .. } => AppError::Unprocessable(error.to_string()),
            DomainError::InconsistentSnapshot(_) => AppError::BadGateway(error.to_string()),
        }
    }
}

impl From<GatewayError> for AppError {
    fn from(error: GatewayError) -> Self {
        let message = error.to_string();
        match error {
            GatewayError::NotFound(_) => AppError::NotFound(message),
            GatewayError::Rejected(_) | GatewayError::BalanceMismatch(_) => AppError::Unprocessable(message),
            GatewayError::UnknownStore { .. } | GatewayError::Unrepresentable(_) => AppError::Invalid(message),
            GatewayError::Timeout(_) => AppError::GatewayTimeout(message),
            GatewayError::Unavailable(_) | GatewayError::Protocol(_) | GatewayError::OutOfBounds(_) => {
                AppError::BadGateway(message)
            }
            GatewayError::TooSoon(_) => AppError::Unavailable(message),
        }
    }
}

impl From<RepositoryError> for AppError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::Conflict(message) => AppError::Conflict(message),
            RepositoryError::Unavailable(message) => AppError::Unavailable(message),
            RepositoryError::Stale => AppError::Conflict("the record changed concurrently; retry".into()),
            RepositoryError::Corrupt(cause) | RepositoryError::Other(cause) => AppError::Internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_own_status() {
        let all = [
            AppError::Invalid(String::new()),
            AppError::Forbidden(String::new()),
            AppError::NotFound(String::new()),
            AppError::Conflict(String::new()),
            AppError::Gone(String::new()),
            AppError::Unprocessable(String::new()),
            AppError::TooManyAttempts { message: String::new(), retry_after: std::time::Duration::ZERO },
            AppError::Internal(anyhow::anyhow!("x")),
            AppError::BadGateway(String::new()),
            AppError::Unavailable(String::new()),
            AppError::GatewayTimeout(String::new()),
        ];
        let statuses: Vec<u16> = all.iter().map(AppError::status).collect();
        assert_eq!(statuses, [400, 403, 404, 409, 410, 422, 429, 500, 502, 503, 504]);
        assert_eq!(AppError::Internal(anyhow::anyhow!("db password is x")).to_string(), "internal error");
    }

    #[test]
    fn gateway_errors_map_to_their_statuses() {
        let status = |e: GatewayError| AppError::from(e).status();
        assert_eq!(status(GatewayError::NotFound("x".into())), 404);
        assert_eq!(status(GatewayError::Rejected("x".into())), 422);
        assert_eq!(status(GatewayError::Unavailable("x".into())), 502);
        assert_eq!(status(GatewayError::Protocol("x".into())), 502);
        assert_eq!(status(GatewayError::OutOfBounds("x".into())), 502);
        assert_eq!(status(GatewayError::Timeout("x".into())), 504);
        assert_eq!(status(GatewayError::Unrepresentable("price: USD amounts have at most 2 decimals".into())), 400);
        assert_eq!(
            status(GatewayError::UnknownStore { vendor: payments_domain::VendorCode::Iamport, store: "s".into() }),
            400
        );
    }
}
