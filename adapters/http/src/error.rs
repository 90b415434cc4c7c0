//! Error answers: `{"code", "message"}` JSON with the status of the failure.

use payments_application::AppError;
use payments_wire::ErrorBody;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};

/// An error answer. Built from [`AppError`] (whose `status()` and `code()`
/// decide the answer) or by this adapter for bodies it cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), retry_after: None }
    }

    /// The JSON body of this answer, with the id of the request being
    /// answered (none outside a request).
    pub fn body(&self) -> ErrorBody {
        ErrorBody { code: self.code.clone(), message: self.message.clone(), request_id: crate::current_request_id() }
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
        Self::new(400, "INVALID_BODY", message)
    }

    /// The answer to a request body over the size limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(413, "PAYLOAD_TOO_LARGE", format!("the body exceeds {limit} bytes"))
    }

    /// Rebuilds a stored error answer (idempotency replay).
    pub fn from_stored(status: u16, body: &str) -> Self {
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(value) => Self::new(
                status,
                value["code"].as_str().unwrap_or("ERROR").to_owned(),
                value["message"].as_str().unwrap_or("").to_owned(),
            ),
            Err(_) => Self::new(status, "ERROR", body.to_owned()),
        }
    }

    /// Maps a poem error (unknown route, wrong method, unsupported media type,
    /// unreadable JSON, size limit...) to a JSON answer.
    pub fn from_poem(error: &poem::Error) -> Self {
        if let Some(api) = error.downcast_ref::<ApiError>() {
            return api.clone();
        }
        let wrapped = error
            .downcast_ref::<RecordError>()
            .map(|e| &e.0)
            .or_else(|| error.downcast_ref::<WebhookError>().map(|e| &e.0))
            .or_else(|| error.downcast_ref::<MonitorError>().map(|e| &e.0));
        if let Some(api) = wrapped {
            return api.clone();
        }
        let status = error.status();
        let code = match status {
            StatusCode::BAD_REQUEST => "INVALID_REQUEST",
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
            StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
            s if s.is_server_error() => "INTERNAL",
            _ => "ERROR",
        };
        let message = if status.is_server_error() {
            tracing::error!(error = %error, "request failed");
            "internal error".to_owned()
        } else if status == StatusCode::NOT_FOUND && error.is::<poem::error::NotFoundError>() {
            "no such route".to_owned()
        } else {
            error.to_string()
        };
        Self::new(status.as_u16(), code, message)
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<AppError> for ApiError {
    /// Maps with [`AppError::status`] and [`AppError::code`]. An internal
    /// error's cause chain is logged and an opaque message returned.
    fn from(error: AppError) -> Self {
        if let AppError::Internal(cause) = &error {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        } else if error.status() >= 500 {
            tracing::warn!(status = error.status(), error = %error, "request failed upstream");
        }
        let retry_after = match &error {
            AppError::TooManyAttempts { retry_after, .. } => Some(retry_after.as_secs().max(1)),
            _ => None,
        };
        Self { retry_after, ..Self::new(error.status(), error.code(), error.to_string()) }
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

fn describe(status: u16) -> &'static str {
    match status {
        400 => "The body is not valid encrypted JSON of the expected shape, or a field is invalid.",
        403 => "Wrong password for this record.",
        404 => "No such record here, or the PG does not know the payment.",
        409 => "The record is already registered, or a request with the same Idempotency-Key is still running.",
        410 => "The saved card was removed; it cannot be charged.",
        413 => "The body exceeds 1 MiB.",
        429 => {
            "Too many wrong passwords for this record: nothing is checked until the `Retry-After` seconds have passed."
        }
        422 => {
            "A PG or domain rule refused the request (price mismatch, cancel above the balance, PG refusal), or the Idempotency-Key was used with another body."
        }
        500 => "A bug; the cause is logged, the message is opaque.",
        502 => "The PG failed or answered something unusable.",
        503 => "Our storage is unavailable; retry later.",
        504 => "The PG did not answer in time.",
        _ => "Error.",
    }
}

fn error_meta(statuses: &[u16]) -> MetaResponses {
    MetaResponses {
        responses: statuses
            .iter()
            .map(|&status| MetaResponse {
                description: describe(status),
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

macro_rules! error_response {
    ($(#[$meta:meta])* $name:ident, [$($status:literal),*]) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error(transparent)]
        pub struct $name(pub ApiError);

        impl From<ApiError> for $name {
            fn from(error: ApiError) -> Self {
                Self(error)
            }
        }

        impl From<AppError> for $name {
            fn from(error: AppError) -> Self {
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
                error_meta(&[$($status),*])
            }

            fn register(registry: &mut Registry) {
                ErrorBody::register(registry);
            }
        }
    };
}

error_response!(
    /// Errors of the encrypted record routes.
    RecordError, [400, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504]
);
error_response!(
    /// Errors of the saved-card charge: a removed card answers 410.
    CardError, [400, 403, 404, 409, 410, 413, 422, 429, 500, 502, 503, 504]
);
error_response!(
    /// Errors of the PG webhook routes.
    WebhookError, [400, 403, 404, 413, 500, 502, 503, 504]
);
error_response!(
    /// Errors of the monitoring routes.
    MonitorError, [500, 503]
);

/// The JSON text of an error body (for idempotency storage: without the
/// request id, which a replay answers with its own).
pub(crate) fn body_json(error: &ApiError) -> String {
    ErrorBody { request_id: None, ..error.body() }.to_json_string()
}
