//! A fake Iamport server, wire-compatible with the real API as the original
//! project's SDK speaks it: every path of the reference swagger, token auth,
//! balances checked, webhooks sent after every state change, and state kept in
//! bounded, expiring memory.
//!
//! Beyond the swagger, the V1 document's amount preparation:
//! `POST /payments/prepare` and `PUT /payments/prepare` (`{merchant_uid,
//! amount, currency?}`, JSON or a form; the registration answered 200; a
//! `merchant_uid` prepared already is refused by `POST` with `code` 1 and
//! changed by `PUT`; `PUT` of one never prepared is 404) and
//! `GET /payments/prepare/{merchant_uid}` (200; `code` 1 when none).
//!
//! Beyond the real API it has the swagger's test-only routes:
//! `PUT /internal/deposit/{imp_uid}` (the customer pays into a virtual
//! account) and `POST /internal/webhook` (a sink for webhooks), and the
//! window:
//!
//! `POST /internal/payments` (with a token, like every route but
//! `getToken`): a customer pays in `IMP.request_pay`'s window. Body (JSON):
//! `{"merchant_uid": "order-1", "amount": 1000}`, and optionally
//! `"currency"` (`KRW` (the default), `USD`, `EUR`, `JPY`), `"pay_method"`
//! (`card` (the default) or `vbank`), `"name"`, `"buyer_name"`,
//! `"buyer_email"`, `"buyer_tel"`, `"buyer_addr"`, `"buyer_postcode"`,
//! `"custom_data"`, `"notice_url"`, `"card_number"`
//! (`0000-0000-0000-0000`), `"card_quota"`; `amount` in the currency's
//! major unit (`14.2` USD). It answers 200 with the SDK callback's report
//! (`{"success": true, "imp_uid", "merchant_uid", "pay_method",
//! "paid_amount", "status": "paid" | "ready", ...}`), records the payment
//! and sends its webhook (`{imp_uid, merchant_uid, status}`, `paid` for a
//! card, `ready` for a virtual account, which
//! `PUT /internal/deposit/{imp_uid}` then pays) to `notice_url` or the
//! configured URL. A `merchant_uid` prepared with another amount (or
//! another currency) is refused as Iamport's window refuses it, and so is
//! one whose payment is paid, issued or cancelled: 409 `{"success": false,
//! "imp_uid": null, "merchant_uid", "error_msg"}`, nothing charged or
//! recorded, no webhook. One never prepared pays as asked. A bad body: 400
//! with the envelope below. `POST /subscribe/payments/onetime` stays the
//! API's payment, which Iamport does not check against a prepared amount.
//!
//! Status codes: `POST` successes answer 201 and the others 200, as in the
//! swagger; malformed input is 400, a missing/unknown/expired token 401, an
//! unknown payment, card, certification or receipt 404, all with the
//! `{code, message, response: null}` envelope. A refusal (balance exceeded,
//! checksum mismatch, missing refund account, ...) answers like the real PG:
//! HTTP 200 with `code: 1` and the reason in `message`.

mod handlers;
mod prepare;
mod window;
pub mod wire;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use payments_fakekit::{RunningServer, Store, StoreLimits, WebhookEmitter};
use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::{EndpointExt, IntoResponse, Response, Route, get, post, put};
use serde::Serialize;

use self::wire::{
    IamportCertification, IamportPayment, IamportReceipt, IamportResponse, IamportSubscription, PaymentPrepare,
};
use crate::IamportCredentials;

/// The port the original fake Iamport server listens on.
pub const DEFAULT_PORT: u16 = 10851;
pub use crate::{TEST_IMP_KEY, TEST_IMP_SECRET};
/// A card saved with this number (its digits; Iamport writes it
/// `4000-0000-0000-0002`) is refused by the card company when charged
/// (`POST /subscribe/payments/again` answers code 0 with a `failed` payment,
/// as Iamport documents a declined card), so a test can see that path.
pub const REFUSED_CARD_NUMBER: &str = "4000000000000002";

/// How a fake Iamport server behaves.
#[derive(Debug, Clone)]
pub struct FakeIamportConfig {
    /// Credentials `POST /users/getToken` accepts. Default: `test_imp_key` / `test_imp_secret`.
    pub credentials: Vec<IamportCredentials>,
    /// Receives the webhook of every payment without a `notice_url`. `None`: such webhooks are dropped.
    pub webhook_url: Option<String>,
    /// Capacity and time-to-live of each map (payments, cards, certifications,
    /// receipts). Default: 1000 entries, 3 minutes, as the original.
    pub limits: StoreLimits,
    /// Life of an access token. Default: 30 minutes, as the real PG.
    pub token_ttl: Duration,
}

impl Default for FakeIamportConfig {
    fn default() -> Self {
        Self {
            credentials: vec![IamportCredentials::new(TEST_IMP_KEY, TEST_IMP_SECRET)],
            webhook_url: None,
            limits: StoreLimits::default(),
            token_ttl: Duration::from_secs(30 * 60),
        }
    }
}

impl FakeIamportConfig {
    #[must_use]
    pub fn with_webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }
}

/// A saved card: what the API shows, plus the number a later payment uses.
#[derive(Debug, Clone)]
pub(crate) struct CustomerRecord {
    pub subscription: IamportSubscription,
    pub card_number: String,
}

/// A payment and the URL its webhooks go to.
#[derive(Debug, Clone)]
pub(crate) struct PaymentRecord {
    pub payment: IamportPayment,
    pub notice_url: Option<String>,
}

/// A token: the revocation generation it was issued in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenRecord {
    pub generation: u64,
}

pub(crate) struct State {
    pub credentials: Vec<IamportCredentials>,
    pub token_ttl: Duration,
    pub tokens: Store<String, TokenRecord>,
    pub payments: Store<String, PaymentRecord>,
    /// The latest payment (`imp_uid`) of each `merchant_uid`.
    pub orders: Store<String, String>,
    /// The amount prepared for each `merchant_uid` (`POST /payments/prepare`).
    pub prepared: Store<String, PaymentPrepare>,
    /// Held while an amount is prepared or the window pays, so that neither
    /// sees the other half done.
    pub window: std::sync::Mutex<()>,
    pub customers: Store<String, CustomerRecord>,
    pub certifications: Store<String, IamportCertification>,
    pub receipts: Store<String, IamportReceipt>,
    pub webhooks: WebhookEmitter,
    pub tokens_issued: AtomicU64,
    pub generation: AtomicU64,
}

/// A fake Iamport: its state, and the poem endpoint that serves it.
///
/// Clones share the state, so a test can keep a handle to inspect it while the
/// endpoint serves.
#[derive(Clone)]
pub struct FakeIamport {
    state: Arc<State>,
}

impl std::fmt::Debug for FakeIamport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeIamport").field("tokens_issued", &self.tokens_issued()).finish_non_exhaustive()
    }
}

impl FakeIamport {
    pub fn new(config: FakeIamportConfig) -> Self {
        let limits = config.limits;
        let token_ttl = config.token_ttl.max(Duration::from_secs(1));
        let state = State {
            credentials: config.credentials,
            token_ttl,
            tokens: Store::new(StoreLimits { capacity: limits.capacity, ttl: token_ttl }),
            payments: Store::new(limits),
            orders: Store::new(limits),
            prepared: Store::new(limits),
            window: std::sync::Mutex::new(()),
            customers: Store::new(limits),
            certifications: Store::new(limits),
            receipts: Store::new(limits),
            webhooks: WebhookEmitter::new(config.webhook_url),
            tokens_issued: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        };
        Self { state: Arc::new(state) }
    }

    /// The routes of the fake, ready to serve or to mount under a prefix.
    pub fn endpoint(&self) -> BoxEndpoint<'static> {
        Route::new()
            .at("/users/getToken", post(handlers::get_token))
            .at("/payments/cancel", post(handlers::cancel_payment))
            .at("/payments/prepare", post(prepare::prepare).put(prepare::change))
            .at("/payments/prepare/:merchant_uid", get(prepare::read_prepare))
            .at("/payments/:imp_uid", get(handlers::get_payment))
            .at("/payments/find/:merchant_uid", get(handlers::find_payment))
            .at("/payments/find/:merchant_uid/:payment_status", get(handlers::find_payment_with_status))
            .at("/vbanks", post(handlers::create_vbank).put(handlers::update_vbank))
            .at(
                "/subscribe/customers/:customer_uid",
                get(handlers::get_customer).post(handlers::create_customer).delete(handlers::delete_customer),
            )
            .at("/subscribe/payments/onetime", post(handlers::pay_onetime))
            .at("/subscribe/payments/again", post(handlers::pay_again))
            .at("/certifications/otp/request", post(handlers::request_certification))
            .at("/certifications/otp/confirm/:imp_uid", post(handlers::confirm_certification))
            .at("/certifications/:imp_uid", get(handlers::get_certification).delete(handlers::delete_certification))
            .at(
                "/receipts/:imp_uid",
                get(handlers::get_receipt).post(handlers::create_receipt).delete(handlers::delete_receipt),
            )
            .at("/internal/payments", post(window::pay_in_window))
            .at("/internal/deposit/:imp_uid", put(handlers::deposit))
            .at("/internal/webhook", post(handlers::receive_webhook))
            .data(self.state.clone())
            .catch_all_error(|error: poem::Error| async move {
                let status = error.status();
                let status = if status.is_success() { StatusCode::INTERNAL_SERVER_ERROR } else { status };
                failure(status, -1, error.to_string())
            })
            .boxed()
    }

    /// How many tokens `POST /users/getToken` has issued.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens_issued.load(Ordering::SeqCst)
    }

    /// Invalidates every token issued so far (as if they had all expired).
    pub fn revoke_tokens(&self) {
        self.state.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// How many payments are held now.
    pub fn payment_count(&self) -> usize {
        self.state.payments.len()
    }

    /// Serves this fake on `addr` (port 0 picks a free port) in the background.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn serve(&self, addr: SocketAddr) -> io::Result<RunningServer> {
        payments_fakekit::serve(self.endpoint(), addr).await
    }
}

/// Starts a fake Iamport on `addr` (port 0 picks a free port); the returned
/// server tells its bound address (`url()`) and stops when dropped.
///
/// # Errors
/// When the address cannot be bound.
pub async fn start(config: FakeIamportConfig, addr: SocketAddr) -> io::Result<RunningServer> {
    FakeIamport::new(config).serve(addr).await
}

/// The fake's routes for `config`, for a binary that mounts them itself.
pub fn endpoint(config: FakeIamportConfig) -> BoxEndpoint<'static> {
    FakeIamport::new(config).endpoint()
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::builder().status(status).content_type("application/json; charset=utf-8").body(bytes),
        Err(error) => {
            tracing::error!(%error, "fake Iamport cannot serialise its answer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `{code: 0, message: "success", response}`.
pub(crate) fn success<T: Serialize>(status: StatusCode, response: T) -> Response {
    json_response(status, &IamportResponse::success(response))
}

/// `{code, message, response: null}`.
pub(crate) fn failure(status: StatusCode, code: i64, message: impl Into<String>) -> Response {
    json_response(status, &IamportResponse::<()>::failure(code, message))
}
