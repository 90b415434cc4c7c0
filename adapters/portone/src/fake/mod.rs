//! A fake PortOne V2 server, following the V2 OpenAPI document
//! (portone-io/developers.portone.io `src/schema/v2.openapi.json`) and its
//! webhook guide (`opi/ko/integration/webhook/readme-v2.mdx`):
//!
//! - `GET /payments/{paymentId}`, `POST /payments/{paymentId}/cancel`
//!   (`currentCancellableAmount` guarded, refund account for virtual
//!   accounts), `GET`/`DELETE /billing-keys/{billingKey}`,
//!   `POST /payments/{paymentId}/billing-key`; `Authorization: PortOne
//!   <secret>`; errors `{type, message}` with the documented statuses;
//!   `Idempotency-Key` on POST and DELETE answered with the first answer.
//! - Webhooks version 2024-04-25 (`{type, timestamp, data}`), signed with
//!   Standard Webhooks under the store's webhook secret.
//! - What a customer does in PortOne's window, for tests:
//!   `POST /internal/payments/{paymentId}` (a card payment, or a virtual
//!   account), `POST /internal/payments/{paymentId}/deposit`,
//!   `POST /internal/billing-keys` (a card saved for a customer).
//! - What PortOne does with a cancel, for tests (each member of the
//!   documented `PaymentCancellation` union):
//!   `POST /internal/payments/{paymentId}/cancel-behaviour`
//!   `{"next": "succeeded" | "requested" | "failed"}` sets how the API's
//!   cancels of that payment are answered from then on (`SUCCEEDED` at once,
//!   the default; `REQUESTED`, announced by `Transaction.CancelPending`; or
//!   `FAILED`, answered 200 with nothing moved), and
//!   `POST /internal/payments/{paymentId}/cancellations/{cancellationId}`
//!   `{"outcome": "succeeded" | "failed", "webhook": true}` finishes a
//!   `REQUESTED` one (409 when it is not `REQUESTED`).
//!
//! Card numbers are only ever masked.

mod handlers;

use std::net::SocketAddr;
use std::sync::Arc;

use payments_fakekit::{RunningServer, StoreLimits, WebhookEmitter};
use poem::{EndpointExt, Route, get, post};

pub use crate::{TEST_API_SECRET, TEST_STORE_ID, TEST_WEBHOOK_SECRET};

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakePortOneConfig {
    pub api_secret: String,
    pub store_id: String,
    pub webhook_secret: String,
    /// Where webhooks go; `None` sends none.
    pub webhook_url: Option<String>,
    /// Size and lifetime of each in-memory table.
    pub limits: StoreLimits,
}

impl Default for FakePortOneConfig {
    fn default() -> Self {
        Self {
            api_secret: TEST_API_SECRET.to_owned(),
            store_id: TEST_STORE_ID.to_owned(),
            webhook_secret: TEST_WEBHOOK_SECRET.to_owned(),
            webhook_url: None,
            limits: StoreLimits::default(),
        }
    }
}

/// The fake's routes over fresh state.
///
/// # Errors
/// When the webhook secret is not a Standard Webhooks secret.
pub fn endpoint(config: &FakePortOneConfig) -> anyhow::Result<impl poem::Endpoint + use<>> {
    let signer = standardwebhooks::Webhook::new(&config.webhook_secret)
        .map_err(|e| anyhow::anyhow!("the fake PortOne's webhook secret: {e}"))?;
    let state = Arc::new(handlers::State::new(config, WebhookEmitter::new(config.webhook_url.clone()), signer));
    Ok(Route::new()
        .at("/payments/:paymentId", get(handlers::read_payment))
        .at("/payments/:paymentId/cancel", post(handlers::cancel))
        .at("/payments/:paymentId/billing-key", post(handlers::pay_with_billing_key))
        .at("/billing-keys/:billingKey", get(handlers::read_billing_key).delete(handlers::delete_billing_key))
        .at("/internal/payments/:paymentId", post(handlers::customer_pays))
        .at("/internal/payments/:paymentId/deposit", post(handlers::deposit))
        .at("/internal/payments/:paymentId/cancel-behaviour", post(handlers::cancel_behaviour))
        .at("/internal/payments/:paymentId/cancellations/:cancellationId", post(handlers::finish_cancellation))
        .at("/internal/billing-keys", post(handlers::issue_billing_key))
        .data(state))
}

/// Serves the fake on `addr` (port 0: any).
///
/// # Errors
/// When the address cannot be bound or the webhook secret is invalid.
pub async fn start(config: FakePortOneConfig, addr: SocketAddr) -> anyhow::Result<RunningServer> {
    Ok(payments_fakekit::serve(endpoint(&config)?, addr).await?)
}
