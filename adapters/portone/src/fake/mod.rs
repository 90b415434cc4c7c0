//! A fake PortOne V2 server, following the V2 OpenAPI document
//! (portone-io/developers.portone.io `src/schema/v2.openapi.json`) and its
//! webhook guide (`opi/ko/integration/webhook/readme-v2.mdx`):
//!
//! - `GET /payments/{paymentId}`, `POST /payments/{paymentId}/cancel`
//!   (`currentCancellableAmount` guarded, refund account for virtual
//!   accounts), `GET`/`DELETE /billing-keys/{billingKey}`,
//!   `POST /payments/{paymentId}/billing-key`,
//!   `POST /payments/{paymentId}/pre-register` (`{storeId?, totalAmount?,
//!   taxFreeAmount?, currency?}`, answered `{}`; registering an id again
//!   replaces what it was registered with; 409 `ALREADY_PAID` once it is
//!   paid); `Authorization: PortOne <secret>`; errors `{type, message}` with
//!   the documented statuses; `Idempotency-Key` on the calls that move money
//!   answered with the first answer. The bodies of pre-register and
//!   of the window below are JSON objects of at most 64 KiB (400
//!   `INVALID_REQUEST` with a message otherwise).
//! - Webhooks version 2024-04-25 (`{type, timestamp, data}`), signed with
//!   Standard Webhooks under the store's webhook secret.
//! - What a customer does in PortOne's window, for tests (each with the
//!   API secret as `Authorization: PortOne <secret>`):
//!   - `POST /internal/payments/{paymentId}` `{"amount": 1050, "currency":
//!     "USD", "method": "card" | "virtualAccount", "taxFreeAmount": 0,
//!     "orderName": "..", "customerId": "..", "cardNumber": ".."}` (only
//!     `amount` required: an integer in the currency's minor unit, as every
//!     PortOne amount; `currency` `KRW` and `method` `card` when absent):
//!     answers 200 with the `Payment` (`PAID` for a card, sending
//!     `Transaction.Paid`; `VIRTUAL_ACCOUNT_ISSUED` for a virtual account,
//!     sending `Transaction.VirtualAccountIssued`). A payment id
//!     pre-registered with another `totalAmount`, `taxFreeAmount` or
//!     `currency` is refused as the window refuses it: 409 `{"transactionType":
//!     "PAYMENT", "txId", "paymentId", "code": "AmountNotEqualToPredefined",
//!     "message"}` (the browser SDK's `PaymentResponse` and error code),
//!     charging and recording nothing and sending no webhook. A payment id
//!     paid already: 409 `{"type": "ALREADY_PAID"}`. A bad body: 400
//!     `{"type": "INVALID_REQUEST", "message"}`. An id never pre-registered
//!     pays as asked. `"loseWebhook": true` makes the payment and sends no
//!     webhook (one lost on the way, for the reconciler's tests).
//!   - `POST /internal/payments/{paymentId}/deposit` (the customer pays into
//!     the virtual account: `PAID`, `Transaction.Paid`),
//!     `POST /internal/billing-keys` (a card saved for a customer).
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
mod pre_register;

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
        .at("/payments/:paymentId/pre-register", post(pre_register::pre_register))
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
