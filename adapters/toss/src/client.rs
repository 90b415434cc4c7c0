//! The Toss Payments API client: the application's [`PaymentGateway`] for Toss.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use payments_pg::{Answer, ExposeSecret, IDEMPOTENCY_KEY, PgBuildError, PgFailure, PgHttp, SecretString, Stores};

use payments_application::ports::{
    CancelRequest, ChargeRequest, ChargedPayment, ConfirmRequest, GatewayError, PaymentGateway, SavedCard,
};
use payments_domain::{Money, OrderId, PaymentSnapshot, SourceId, StoreId, VendorCode, VendorUid};

use crate::AMOUNTS;
use crate::snapshot::{secret, snapshot};
use crate::wire::{
    TossBillingCustomerKey, TossBillingIssue, TossBillingPayment, TossError, TossPaymentApproval,
    TossPaymentCancelCreate, TossRefundReceiveAccount,
};

/// Toss's code for a confirmation of a payment it already confirmed.
pub const ALREADY_PROCESSED_PAYMENT: &str = "ALREADY_PROCESSED_PAYMENT";
/// Toss's code for a second cancel of one payment within a second.
pub const FORBIDDEN_CONSECUTIVE_REQUEST: &str = "FORBIDDEN_CONSECUTIVE_REQUEST";
/// Toss's code for a cancel whose `refundableAmount` is not the balance.
pub const NOT_MATCHES_REFUNDABLE_AMOUNT: &str = "NOT_MATCHES_REFUNDABLE_AMOUNT";

/// The real API.
pub const DEFAULT_BASE_URL: &str = "https://api.tosspayments.com";
/// How long one call may take, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The secret key of Toss's public test store, accepted by the fake by default.
pub const TEST_SECRET_KEY: &str = "test_ak_ZORzdMaqN3wQd5k6ygr5AkYXQGwy";

/// The secret key of one Toss store (it never prints).
#[derive(Debug, Clone)]
pub struct TossCredentials {
    secret_key: SecretString,
}

impl TossCredentials {
    pub fn new(secret_key: impl Into<String>) -> Self {
        Self { secret_key: SecretString::from(secret_key.into()) }
    }

    pub fn secret_key(&self) -> &str {
        self.secret_key.expose_secret()
    }

    /// `Basic base64(secret + ":")`, the value of the `Authorization` header.
    pub fn authorization(&self) -> String {
        basic_authorization(self.secret_key.expose_secret())
    }
}

/// `Basic base64(secret + ":")`.
pub fn basic_authorization(secret_key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{secret_key}:")))
}

/// Where Toss is and which stores may use it.
#[derive(Debug, Clone)]
pub struct TossConfig {
    /// `https://api.tosspayments.com`, or the fake's URL.
    pub base_url: String,
    /// Store id (the `vendor.store_id` of records) -> its secret key, and the
    /// key of every store not listed (none: such stores are refused with
    /// `UnknownStore`).
    pub stores: Stores<TossCredentials>,
    /// Per call, connection included.
    pub timeout: Duration,
}

impl Default for TossConfig {
    /// The real API, no store, 10 s.
    fn default() -> Self {
        Self { base_url: DEFAULT_BASE_URL.to_owned(), stores: Stores::default(), timeout: DEFAULT_TIMEOUT }
    }
}

impl TossConfig {
    /// `base_url`, no store yet, the default timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into(), ..Self::default() }
    }

    /// Adds (or replaces) a store's secret key.
    #[must_use]
    pub fn with_store(mut self, store_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        self.stores = self.stores.with_store(store_id, TossCredentials::new(secret_key));
        self
    }

    /// Sets the secret key of every store id not listed explicitly.
    #[must_use]
    pub fn with_default(mut self, secret_key: impl Into<String>) -> Self {
        self.stores = self.stores.with_default(TossCredentials::new(secret_key));
        self
    }

    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The Toss Payments API, for every configured store.
#[derive(Debug, Clone)]
pub struct TossGateway {
    http: PgHttp,
    stores: Stores<TossCredentials>,
}

impl TossGateway {
    /// # Errors
    /// [`PgBuildError`] for a base URL that cannot take paths, or when the
    /// HTTP client cannot be built.
    pub fn new(config: TossConfig) -> Result<Self, PgBuildError> {
        Ok(Self { http: PgHttp::new("Toss Payments", &config.base_url, config.timeout)?, stores: config.stores })
    }

    /// Sends one call and returns the JSON of a 2xx answer.
    async fn call<B: Serialize + ?Sized>(
        &self,
        store: &str,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<Value, GatewayError> {
        self.call_once(store, method, segments, body, None).await.map_err(|failure| failure.error)
    }

    /// Sends one call, with `Idempotency-Key` when given; a refusal keeps
    /// Toss's code so the caller can tell one refusal from another.
    async fn call_once<B: Serialize + ?Sized>(
        &self,
        store: &str,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, PgFailure> {
        let credentials = self.stores.get(VendorCode::TossPayments, store).map_err(PgFailure::from)?;
        let what = payments_pg::call_name(&method, segments);
        let mut request =
            self.http.request(method, segments).header(reqwest::header::AUTHORIZATION, credentials.authorization());
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = self.http.send(request, &what).await.map_err(PgFailure::from)?;
        if answer.status.is_success() {
            return serde_json::from_slice(&answer.body)
                .map_err(|e| PgFailure::from(GatewayError::Protocol(format!("{what}: the answer is not JSON: {e}"))));
        }
        let code = serde_json::from_slice::<TossError>(&answer.body).ok().map(|e| e.code);
        Err(PgFailure { code, error: status_error(&what, &answer) })
    }

    /// The payment's JSON exactly as Toss sent it (`GET /v1/payments/{paymentKey}`).
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_payment`].
    pub async fn payment_json(&self, store: &str, payment_key: &str) -> Result<Value, GatewayError> {
        self.call::<()>(store, Method::GET, &["v1", "payments", payment_key], None).await
    }

    /// Confirms a payment authenticated in Toss's window
    /// (`POST /v1/payments/confirm` `{paymentKey, orderId, amount}`), sending
    /// `idempotency_key` as `Idempotency-Key` so that a confirmation whose
    /// answer was lost is answered again, never charged twice. A payment Toss
    /// already confirmed (`ALREADY_PROCESSED_PAYMENT`) is read back.
    ///
    /// # Errors
    /// As [`PaymentGateway::confirm_payment`].
    pub async fn confirm(
        &self,
        store: &str,
        payment_key: &str,
        order_id: &str,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<PaymentSnapshot, GatewayError> {
        let body = TossPaymentApproval {
            payment_key: Some(payment_key.to_owned()),
            order_id: order_id.to_owned(),
            amount: amount.to_json_number(),
        };
        let segments = ["v1", "payments", "confirm"];
        match self.call_once(store, Method::POST, &segments, Some(&body), Some(idempotency_key)).await {
            Ok(payment) => snapshot(payment),
            Err(PgFailure { code: Some(code), .. }) if code == ALREADY_PROCESSED_PAYMENT => {
                snapshot(self.payment_json(store, payment_key).await?)
            }
            Err(failure) => Err(failure.error),
        }
    }

    /// Exchanges the `authKey` Toss's card-registration window gave the
    /// customer for a billing key (`POST /v1/billing/authorizations/issue`,
    /// with an `Idempotency-Key` derived from the exchange); the answer,
    /// billing key included, is returned whole.
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_reservation`].
    pub async fn issue_billing_key(
        &self,
        store: &str,
        auth_key: &str,
        customer_key: &str,
    ) -> Result<Value, GatewayError> {
        let body = TossBillingIssue { auth_key: auth_key.to_owned(), customer_key: customer_key.to_owned() };
        // An authKey is exchanged once: a retry whose first answer was lost
        // gets that answer again instead of a refusal.
        let key = payments_application::derived_key("billing-issue", &[store, auth_key, customer_key]);
        let segments = ["v1", "billing", "authorizations", "issue"];
        let value =
            self.call_once(store, Method::POST, &segments, Some(&body), Some(&key)).await.map_err(|f| f.error)?;
        billing(value)
    }

    /// A saved card read with the customer key it was issued to
    /// (`POST /v1/billing/authorizations/{billingKey}`, the API 1.x route
    /// the original SDK's saved cards are read with).
    ///
    /// # Errors
    /// As [`PaymentGateway::fetch_reservation`].
    pub async fn legacy_billing(
        &self,
        store: &str,
        billing_key: &str,
        customer_key: &str,
    ) -> Result<Value, GatewayError> {
        let body = TossBillingCustomerKey { customer_key: customer_key.to_owned() };
        let value =
            self.call(store, Method::POST, &["v1", "billing", "authorizations", billing_key], Some(&body)).await?;
        billing(value)
    }
}

impl TossGateway {
    /// The payment a Toss answer describes, with its `paymentKey` as our uid.
    fn charged(payment: Value) -> Result<ChargedPayment, GatewayError> {
        let key = payment.get("paymentKey").and_then(Value::as_str).unwrap_or_default();
        let uid = VendorUid::parse(key).map_err(|e| GatewayError::Protocol(format!("Toss payment paymentKey: {e}")))?;
        Ok(ChargedPayment { uid, snapshot: snapshot(payment)? })
    }
}

/// Checks that a billing answer carries a billing key and the customer key.
fn billing(value: Value) -> Result<Value, GatewayError> {
    for member in ["billingKey", "customerKey"] {
        if value.get(member).and_then(Value::as_str).is_none_or(|text| text.trim().is_empty()) {
            return Err(GatewayError::Protocol(format!("Toss billing {member}: missing or not a string")));
        }
    }
    Ok(value)
}

#[async_trait]
impl PaymentGateway for TossGateway {
    async fn fetch_payment(&self, store: &StoreId, uid: &VendorUid) -> Result<PaymentSnapshot, GatewayError> {
        snapshot(self.payment_json(store.as_str(), uid.as_str()).await?)
    }

    async fn confirm_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &ConfirmRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        // Toss's unit is the major one: a representable amount is written as is.
        AMOUNTS.write("price", request.amount, &request.currency)?;
        self.confirm(store.as_str(), uid.as_str(), request.order_id.as_str(), request.amount, &request.idempotency_key)
            .await
    }

    fn notification_secret_matches(&self, data: &Value, given: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        secret(data).is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(given.as_bytes())))
    }

    async fn cancel_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &CancelRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        let body = TossPaymentCancelCreate {
            payment_key: None,
            cancel_reason: request.reason.as_str().to_owned(),
            cancel_amount: Some(AMOUNTS.write("price", request.amount, &request.currency)?),
            refund_receive_account: request.refund_account.as_ref().map(|account| TossRefundReceiveAccount {
                bank: account.bank.clone(),
                account_number: account.account.clone(),
                holder_name: account.holder.clone(),
            }),
            tax_amount: None,
            tax_free_amount: None,
            refundable_amount: Some(AMOUNTS.write("price", request.remaining, &request.currency)?),
        };
        let segments = ["v1", "payments", uid.as_str(), "cancel"];
        let key = request.idempotency_key.as_deref();
        match self.call_once(store.as_str(), Method::POST, &segments, Some(&body), key).await {
            Ok(payment) => snapshot(payment),
            Err(PgFailure { code: Some(code), error }) if code == NOT_MATCHES_REFUNDABLE_AMOUNT => {
                Err(GatewayError::BalanceMismatch(error.to_string()))
            }
            Err(PgFailure { code: Some(code), error }) if code == FORBIDDEN_CONSECUTIVE_REQUEST => {
                Err(GatewayError::TooSoon(error.to_string()))
            }
            Err(failure) => Err(failure.error),
        }
    }

    async fn fetch_reservation(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        customer: &SourceId,
    ) -> Result<SavedCard, GatewayError> {
        // Today's window hands out an authKey to exchange for a billing key;
        // the original SDK registers a billing key it issued itself (API 1.x).
        let data = match self.issue_billing_key(store.as_str(), uid.as_str(), customer.as_str()).await {
            Ok(billing) => Ok(billing),
            Err(first @ (GatewayError::NotFound(_) | GatewayError::Rejected(_))) => self
                .legacy_billing(store.as_str(), uid.as_str(), customer.as_str())
                .await
                .map_err(|legacy| if matches!(legacy, GatewayError::NotFound(_)) { first } else { legacy }),
            Err(other) => Err(other),
        }?;
        let key = data.get("billingKey").and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(SavedCard { data, key })
    }

    async fn charge_saved_card(
        &self,
        store: &StoreId,
        _card: &VendorUid,
        card_data: &Value,
        request: &ChargeRequest,
    ) -> Result<ChargedPayment, GatewayError> {
        let billing_key = card_data
            .get("billingKey")
            .and_then(Value::as_str)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| GatewayError::NotFound("the saved card holds no billing key (removed?)".into()))?;
        let body = TossBillingPayment {
            method: None,
            billing_key: None,
            order_id: request.order_id.as_str().to_owned(),
            amount: AMOUNTS.write("price", request.amount, &request.currency)?,
            customer_key: request.customer.as_str().to_owned(),
            order_name: Some(request.order_name.as_str().to_owned()),
        };
        let segments = ["v1", "billing", billing_key];
        let key = Some(request.idempotency_key.as_str());
        let payment =
            self.call_once(store.as_str(), Method::POST, &segments, Some(&body), key).await.map_err(|f| f.error)?;
        Self::charged(payment)
    }

    async fn find_by_order(&self, store: &StoreId, order_id: &OrderId) -> Result<Option<ChargedPayment>, GatewayError> {
        let segments = ["v1", "payments", "orders", order_id.as_str()];
        match self.call::<()>(store.as_str(), Method::GET, &segments, None).await {
            Ok(payment) => Self::charged(payment).map(Some),
            Err(GatewayError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn remove_saved_card(
        &self,
        _store: &StoreId,
        _card: &VendorUid,
        card_data: &Value,
    ) -> Result<Value, GatewayError> {
        // Toss documents no removal of a billing key: ours is erased, so it
        // can never be charged again from here.
        let mut kept = card_data.clone();
        if let Some(object) = kept.as_object_mut() {
            object.remove("billingKey");
        }
        Ok(kept)
    }
}

/// Maps a non-2xx answer: 404 -> `NotFound`; 401 and 429 -> `Unavailable`
/// (our credentials or our rate, not the request); 408 -> `Timeout`; other
/// 4xx -> `Rejected` with Toss's message; anything else -> `Unavailable`.
fn status_error(what: &str, answer: &Answer) -> GatewayError {
    let message = match serde_json::from_slice::<TossError>(&answer.body) {
        Ok(error) => format!("{} ({})", error.message, error.code),
        Err(_) => format!("HTTP {}: {}", answer.status, answer.snippet(200)),
    };
    match answer.status {
        StatusCode::NOT_FOUND => GatewayError::NotFound(message),
        StatusCode::UNAUTHORIZED => {
            GatewayError::Unavailable(format!("{what}: Toss refused our credentials: {message}"))
        }
        StatusCode::TOO_MANY_REQUESTS => GatewayError::Unavailable(format!("{what}: rate limited: {message}")),
        StatusCode::REQUEST_TIMEOUT => GatewayError::Timeout(format!("{what}: {message}")),
        s if s.is_client_error() => GatewayError::Rejected(message),
        _ => GatewayError::Unavailable(format!("{what}: {message}")),
    }
}
