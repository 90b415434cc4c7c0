//! A fake Toss Payments server, for tests and local mode. It speaks Toss's
//! current API (version 2022-11-16) by default, or the 1.4 shape of the
//! original's swagger (`toss-payments.swagger.json`) when configured so
//! ([`FakeTossConfig::api_version`]).
//!
//! Every `/v1` route wants `Authorization: Basic base64(secret + ":")` with the
//! configured secret (401 `{code, message}` otherwise); the test-only
//! `/internal` routes want none. Errors are `{code, message}` with the status
//! Toss would use; bad input is a 400, never a 500. State is bounded and
//! expires ([`payments_fakekit::Store`]); card numbers are kept and answered
//! masked only (`43301234****123*`). Every POST honours `Idempotency-Key`
//! (same key and path: the first answer again, not executed twice).
//!
//! A cancel is `DONE` at once unless told otherwise, for tests, by
//! `PUT /internal/{paymentKey}/cancel-behaviour` `{"next": "done" |
//! "in_progress" | "aborted"}` (sticky): `in_progress` leaves the cancel
//! `IN_PROGRESS` (no balance nor status change) until
//! `PUT /internal/{paymentKey}/cancels/{transactionKey}` `{"outcome": "done" |
//! "aborted", "webhook": true}` finishes it and sends `CANCEL_STATUS_CHANGED`;
//! `aborted` refuses the cancel with Toss's 400 `REFUND_REJECTED`. The other
//! `/internal` routes: a deposit (`PUT .../deposit`), its reversal
//! (`PUT .../reverse-deposit`), the confirmation window closing
//! (`PUT .../expire`), the confirmation's idempotency key
//! (`GET .../confirmation`), the card-registration window
//! (`POST /internal/billing/auth`) and a webhook receiver
//! (`POST /internal/webhook`).
//!
//! Webhooks go to the configured URL after each status change. 2022-11-16:
//! `PAYMENT_STATUS_CHANGED` with the whole payment for cards and the other
//! methods (`DONE`, `CANCELED`, `PARTIAL_CANCELED`, `EXPIRED`, `ABORTED`), the
//! flat `DEPOSIT_CALLBACK` for virtual accounts, `CANCEL_STATUS_CHANGED`
//! with the cancel when an `IN_PROGRESS` cancel finishes. 1.4: `{eventType:
//! "PAYMENT_STATUS_CHANGED", data: {paymentKey, orderId, status}}`. Billing
//! (saved-card) payments send none.

mod billing;
mod handlers;
mod idempotency;
mod internal;
mod render;
mod state;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, IntoResponse, Route, get, post, put};

use payments_fakekit::{RunningServer, StoreLimits, WebhookEmitter};

use crate::TEST_SECRET_KEY;

pub use render::mask_card_number;
pub use state::FakeState;

/// Port the fake listens on when run on its own.
pub const DEFAULT_PORT: u16 = 30771;

/// A card number the card company refuses: a payment with it is authenticated
/// (`IN_PROGRESS`), and its confirmation answers 403 `REJECT_CARD_COMPANY`
/// and leaves it `ABORTED` (an immediate key-in payment is refused the same way).
pub const REFUSED_CARD_NUMBER: &str = "4000000000000002";

/// Largest request body accepted.
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// The Toss API version the fake answers in (a merchant's version is fixed in
/// its Toss account; Toss answers every call in it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TossApiVersion {
    /// `2022-11-16`, the current version: `lastTransactionKey`, numeric
    /// organisation codes (`card.issuerCode`, `virtualAccount.bankCode`), the
    /// whole payment in webhooks, the flat deposit callback, 200 on success.
    #[default]
    V2022_11_16,
    /// `1.4`, the shape of the original's swagger: `transactionKey`,
    /// `card.company`, `virtualAccount.bank`, short webhooks, 201 on POST.
    V1_4,
}

impl TossApiVersion {
    /// As Toss writes it in `version`: `2022-11-16` or `1.4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2022_11_16 => "2022-11-16",
            Self::V1_4 => "1.4",
        }
    }
}

impl std::fmt::Display for TossApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version the fake does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Toss API version {0:?}: the fake speaks \"2022-11-16\" and \"1.4\"")]
pub struct UnknownTossApiVersion(pub String);

impl std::str::FromStr for TossApiVersion {
    type Err = UnknownTossApiVersion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "2022-11-16" => Ok(Self::V2022_11_16),
            "1.4" => Ok(Self::V1_4),
            other => Err(UnknownTossApiVersion(other.to_owned())),
        }
    }
}

/// How the fake behaves.
#[derive(Clone)]
pub struct FakeTossConfig {
    /// The secret key accepted in Basic auth.
    pub secret_key: String,
    /// Where status-change webhooks go; `None` sends none.
    pub webhook_url: Option<String>,
    /// Size and lifetime of each in-memory table (idempotent answers included).
    pub limits: StoreLimits,
    /// The API version every answer and webhook is shaped for.
    pub api_version: TossApiVersion,
    /// A cancel of a payment within this time of its last cancel is refused
    /// with 403 `FORBIDDEN_CONSECUTIVE_REQUEST`, as Toss processes only the
    /// first of two cancels of one payment within a second (the default).
    pub consecutive_cancel_window: std::time::Duration,
}

impl Default for FakeTossConfig {
    /// The public test secret, no webhook, 1000 entries per table kept 3
    /// minutes, the current API version.
    fn default() -> Self {
        Self {
            secret_key: TEST_SECRET_KEY.to_owned(),
            webhook_url: None,
            limits: StoreLimits::default(),
            api_version: TossApiVersion::default(),
            consecutive_cancel_window: std::time::Duration::from_secs(1),
        }
    }
}

impl std::fmt::Debug for FakeTossConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTossConfig")
            .field("secret_key", &"***")
            .field("webhook_url", &self.webhook_url)
            .field("limits", &self.limits)
            .field("api_version", &self.api_version)
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
    let idempotency_state = state.clone();
    Route::new()
        .at("/v1/payments/key-in", post(handlers::key_in))
        .at("/v1/payments/confirm", post(handlers::confirm))
        .at("/v1/payments/orders/:orderId", get(handlers::payment_of_order))
        .at("/v1/payments/:paymentKey", get(handlers::payment_at).post(handlers::approve))
        .at("/v1/payments/:paymentKey/cancel", post(handlers::cancel))
        .at("/v1/virtual-accounts", post(handlers::virtual_account))
        .at("/v1/billing/authorizations/card", post(billing::billing_card))
        .at("/v1/billing/authorizations/issue", post(billing::billing_issue))
        .at("/v1/billing/authorizations/:billingKey", post(billing::billing_at))
        .at("/v1/billing/:billingKey", post(billing::billing_pay))
        .at("/v1/cash-receipts", post(handlers::cash_receipt_create))
        .at("/v1/cash-receipts/:receiptKey/cancel", post(handlers::cash_receipt_cancel))
        .at("/internal/billing/auth", post(internal::billing_auth))
        .at("/internal/:paymentKey/deposit", put(internal::deposit))
        .at("/internal/:paymentKey/reverse-deposit", put(internal::reverse_deposit))
        .at("/internal/:paymentKey/expire", put(internal::expire))
        .at("/internal/:paymentKey/confirmation", get(internal::confirmation))
        .at("/internal/:paymentKey/cancel-behaviour", put(internal::cancel_behaviour))
        .at("/internal/:paymentKey/cancels/:transactionKey", put(internal::finish_cancel))
        .at("/internal/webhook", post(internal::webhook))
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
        .around(move |endpoint, request| {
            let state = idempotency_state.clone();
            async move { Ok(idempotency::serve(&state.idempotency, endpoint.as_ref(), request).await) }
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
