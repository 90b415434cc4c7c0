//! A fake Toss Payments server speaking the API of the swagger
//! (`toss-payments.swagger.json`), for tests and local mode.
//!
//! Every `/v1` route wants `Authorization: Basic base64(secret + ":")` with the
//! configured secret (401 `{code, message}` otherwise); the test-only
//! `/internal` routes want none. Errors are `{code, message}` with the status
//! Toss would use; bad input is a 400, never a 500. State is bounded and
//! expires ([`payments_fakekit::Store`]). After every status change the fake
//! POSTs `{eventType: "PAYMENT_STATUS_CHANGED", data: {paymentKey, orderId,
//! status}}` to the configured webhook URL.

mod handlers;
mod state;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, IntoResponse, Route, get, post, put};

use payments_fakekit::{RunningServer, StoreLimits, WebhookEmitter};

use crate::TEST_SECRET_KEY;

pub use state::FakeState;

/// Port the fake listens on when run on its own.
pub const DEFAULT_PORT: u16 = 30771;

/// Largest request body accepted.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// How the fake behaves.
#[derive(Clone)]
pub struct FakeTossConfig {
    /// The secret key accepted in Basic auth.
    pub secret_key: String,
    /// Where status-change webhooks go; `None` sends none.
    pub webhook_url: Option<String>,
    /// Size and lifetime of each in-memory table.
    pub limits: StoreLimits,
}

impl Default for FakeTossConfig {
    /// The public test secret, no webhook, 1000 entries per table kept 3 minutes.
    fn default() -> Self {
        Self { secret_key: TEST_SECRET_KEY.to_owned(), webhook_url: None, limits: StoreLimits::default() }
    }
}

impl std::fmt::Debug for FakeTossConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTossConfig")
            .field("secret_key", &"***")
            .field("webhook_url", &self.webhook_url)
            .field("limits", &self.limits)
            .finish()
    }
}

/// The fake's routes over a fresh state, ready to mount or serve.
pub fn endpoint(config: FakeTossConfig) -> BoxEndpoint<'static> {
    let emitter = WebhookEmitter::new(config.webhook_url.clone());
    endpoint_with_state(Arc::new(FakeState::new(&config, emitter)))
}

/// The fake's routes over a given state (so a test can look inside it).
pub fn endpoint_with_state(state: Arc<FakeState>) -> BoxEndpoint<'static> {
    Route::new()
        .at("/v1/payments/key-in", post(handlers::key_in))
        .at("/v1/payments/confirm", post(handlers::confirm))
        .at("/v1/payments/:paymentKey", get(handlers::payment_at).post(handlers::approve))
        .at("/v1/payments/:paymentKey/cancel", post(handlers::cancel))
        .at("/v1/virtual-accounts", post(handlers::virtual_account))
        .at("/v1/billing/authorizations/card", post(handlers::billing_card))
        .at("/v1/billing/authorizations/:billingKey", post(handlers::billing_at))
        .at("/v1/billing/:billingKey", post(handlers::billing_pay))
        .at("/v1/cash-receipts", post(handlers::cash_receipt_create))
        .at("/v1/cash-receipts/:receiptKey/cancel", post(handlers::cash_receipt_cancel))
        .at("/internal/:paymentKey/deposit", put(handlers::deposit))
        .at("/internal/webhook", post(handlers::internal_webhook))
        .data(state)
        .catch_all_error(|error| async move {
            let status = error.status();
            let code = match status.as_u16() {
                404 => "NOT_FOUND",
                405 => "METHOD_NOT_ALLOWED",
                413 => "PAYLOAD_TOO_LARGE",
                s if s < 500 => "INVALID_REQUEST",
                _ => "FAILED_INTERNAL_SYSTEM_PROCESSING",
            };
            handlers::error_response(status, code, &error.to_string()).into_response()
        })
        .boxed()
}

/// Serves the fake on `addr` (port 0 picks a free port) until the returned
/// server is stopped or dropped.
///
/// # Errors
/// When `addr` cannot be bound.
pub async fn start(config: FakeTossConfig, addr: SocketAddr) -> io::Result<RunningServer> {
    payments_fakekit::serve(endpoint(config), addr).await
}

/// As [`start`], over a given state.
///
/// # Errors
/// When `addr` cannot be bound.
pub async fn start_with_state(state: Arc<FakeState>, addr: SocketAddr) -> io::Result<RunningServer> {
    payments_fakekit::serve(endpoint_with_state(state), addr).await
}
