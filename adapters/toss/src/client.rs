//! The Toss Payments API client: the application's [`PaymentGateway`] for Toss.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use payments_pg::{Answer, ExposeSecret, IDEMPOTENCY_KEY, PgBuildError, PgFailure, PgHttp, SecretString, Stores};

use payments_application::ports::{
    CancelRequest, ChargeRequest, ChargedPayment, ConfirmRequest, GatewayError, OrderLock, OrderLockRequest,
    PaymentGateway, PgCard,
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

/// The error codes Toss documents for the calls this client makes
/// (docs.tosspayments.com/reference/error-codes: the tables of 결제 승인,
/// 결제 조회, 결제 취소, 빌링키 발급 and 자동결제 승인, as copied in the
/// sources `tests/data/documented/SOURCES.md` names, [ERR-COPIES]; and every
/// `error-*.json` example there). Only these reach an answer of ours, next
/// to the call and its status; any other code, and every message, stays in
/// the log.
pub const DOCUMENTED_CODES: &[&str] = &[
    // 결제 승인 (confirm)
    "ALREADY_PROCESSED_PAYMENT",
    "INVALID_CARD_NUMBER",
    "INVALID_STOPPED_CARD",
    "INVALID_CARD_EXPIRATION",
    "INVALID_REJECT_CARD",
    "EXCEED_MAX_AMOUNT",
    "INVALID_CARD_LOST_OR_STOLEN",
    "UNAPPROVED_ORDER_ID",
    "INVALID_REQUEST",
    "EXCEED_MAX_CARD_INSTALLMENT_PLAN",
    "NOT_ALLOWED_POINT_USE",
    "INVALID_API_KEY",
    "BELOW_MINIMUM_AMOUNT",
    "EXCEED_MAX_DAILY_PAYMENT_COUNT",
    "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT",
    "INVALID_CARD_INSTALLMENT_PLAN",
    "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN",
    "EXCEED_MAX_PAYMENT_AMOUNT",
    "NOT_FOUND_TERMINAL_ID",
    "INVALID_AUTHORIZE_AUTH",
    "RESTRICTED_TRANSFER_ACCOUNT",
    "INVALID_UNREGISTERED_SUBMALL",
    "NOT_REGISTERED_BUSINESS",
    "EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT",
    "EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT",
    "INVALID_ACCOUNT_INFO_RE_REGISTER",
    "NOT_AVAILABLE_PAYMENT",
    "EXCEED_MAX_MONTHLY_PAYMENT_AMOUNT",
    "PROVIDER_ERROR",
    "CARD_PROCESSING_ERROR",
    "REJECT_CARD_PAYMENT",
    "REJECT_CARD_COMPANY",
    "FORBIDDEN_REQUEST",
    "REJECT_ACCOUNT_PAYMENT",
    "REJECT_TOSSPAY_INVALID_ACCOUNT",
    "EXCEED_MAX_AUTH_COUNT",
    "EXCEED_MAX_ONE_DAY_AMOUNT",
    "NOT_AVAILABLE_BANK",
    "INVALID_PASSWORD",
    "INCORRECT_BASIC_AUTH_FORMAT",
    "FDS_ERROR",
    "NOT_FOUND_PAYMENT",
    "NOT_FOUND_PAYMENT_SESSION",
    "FAILED_INTERNAL_SYSTEM_PROCESSING",
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
    "UNKNOWN_PAYMENT_ERROR",
    // 결제 조회 (a payment, by key or order)
    "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN_BELOW_AMOUNT",
    "FORBIDDEN_CONSECUTIVE_REQUEST",
    "NOT_FOUND",
    // 결제 취소 (cancel)
    "INVALID_REFUND_ACCOUNT_INFO",
    "EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT",
    "INVALID_REFUND_ACCOUNT_NUMBER",
    "INVALID_BANK",
    "NOT_MATCHES_REFUNDABLE_AMOUNT",
    "REFUND_REJECTED",
    "ALREADY_REFUND_PAYMENT",
    "FORBIDDEN_BANK_REFUND_REQUEST",
    "NOT_CANCELABLE_AMOUNT",
    "NOT_CANCELABLE_PAYMENT",
    "EXCEED_MAX_REFUND_DUE",
    "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT",
    "NOT_ALLOWED_PARTIAL_REFUND",
    "NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER",
    "EXCEED_CANCEL_LIMIT",
    "FAILED_REFUND_PROCESS",
    "FAILED_PARTIAL_REFUND",
    "FAILED_METHOD_HANDLING_CANCEL",
    "COMMON_ERROR",
    "ALREADY_CANCELED_PAYMENT",
    // 빌링키 발급, 자동결제 승인 (saved cards)
    "NOT_SUPPORTED_CARD_TYPE",
    "INVALID_CARD_PASSWORD",
    "INVALID_CARD_IDENTITY",
    "INVALID_BIRTH_DAY_FORMAT",
    "NOT_REGISTERED_CARD_COMPANY",
    "INVALID_EMAIL",
    "NOT_SUPPORTED_METHOD",
    "INVALID_BILL_KEY_REQUEST",
    "INVALID_BILLING_AUTH",
    "NOT_FOUND_BILLING",
    "DUPLICATED_ORDER_ID",
    "NOT_MATCHES_CUSTOMER_KEY",
    "UNAUTHORIZED_KEY",
    "FAILED_DB_PROCESSING",
    "FAILED_CARD_COMPANY_RESPONSE",
    // Idempotency-Key (인증 및 기타 헤더 설정)
    "INVALID_IDEMPOTENCY_KEY",
    "IDEMPOTENT_REQUEST_PROCESSING",
];

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
    /// As [`PaymentGateway::fetch_saved_card`].
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
    /// As [`PaymentGateway::fetch_saved_card`].
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

    /// Toss offers no lock before its window: it documents keeping
    /// `orderId` and `amount` on the merchant's server and confirming with
    /// them (which registration does with the order's amount). The store
    /// must be one of ours.
    async fn lock_order(&self, store: &StoreId, request: &OrderLockRequest) -> Result<OrderLock, GatewayError> {
        self.stores.get(VendorCode::TossPayments, store.as_str())?;
        let pg_amount = AMOUNTS.write("price", request.amount, &request.currency)?;
        Ok(OrderLock { locked: false, pg_amount })
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

    async fn fetch_saved_card(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        customer: &SourceId,
    ) -> Result<PgCard, GatewayError> {
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
        Ok(PgCard { data, key })
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
/// 4xx -> `Rejected`; anything else -> `Unavailable`. The message names the
/// call, its status and Toss's code when documented ([`DOCUMENTED_CODES`]);
/// Toss's message (or error page) is logged, never answered.
fn status_error(what: &str, answer: &Answer) -> GatewayError {
    let (code, text) = match serde_json::from_slice::<TossError>(&answer.body) {
        Ok(error) => (Some(error.code), error.message),
        Err(_) => (None, answer.snippet(payments_pg::LOGGED_PG_TEXT_CHARS)),
    };
    let message = payments_pg::failed_call("Toss", what, answer.status, code.as_deref(), &text, DOCUMENTED_CODES);
    match answer.status {
        StatusCode::NOT_FOUND => GatewayError::NotFound(message),
        StatusCode::UNAUTHORIZED => GatewayError::Unavailable(format!("{message}: Toss refused our credentials")),
        StatusCode::TOO_MANY_REQUESTS => GatewayError::Unavailable(format!("{message}: rate limited")),
        StatusCode::REQUEST_TIMEOUT => GatewayError::Timeout(message),
        s if s.is_client_error() => GatewayError::Rejected(message),
        _ => GatewayError::Unavailable(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            body: payments_pg::http::Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    /// An answer names the call, its status and Toss's code when Toss
    /// documents it; Toss's message, an undocumented code and an error page
    /// (a forged log line in it) never reach it.
    #[test]
    fn refusals_name_the_call_the_status_and_only_a_documented_code() {
        let forged = "\\n2026-01-01T00:00:00.000000Z  INFO request: method=PUT status=200 \\u001b[2K";
        let what = "POST /v1/payments/pk-1/cancel";
        let documented = answer(403, &format!(r#"{{"code":"NOT_CANCELABLE_AMOUNT","message":"{forged}"}}"#));
        let error = status_error(what, &documented);
        assert!(matches!(&error, GatewayError::Rejected(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            "refused by the PG: Toss POST /v1/payments/pk-1/cancel answered 403 NOT_CANCELABLE_AMOUNT"
        );
        let undocumented = answer(400, &format!(r#"{{"code":"SOMETHING\\nELSE","message":"{forged}"}}"#));
        assert_eq!(
            status_error(what, &undocumented).to_string(),
            "refused by the PG: Toss POST /v1/payments/pk-1/cancel answered 400"
        );
        let page =
            answer(502, "<html>\n2026-01-01T00:00:00.000000Z  INFO request: method=PUT status=200\u{1b}[2K</html>");
        let error = status_error(what, &page);
        assert!(matches!(&error, GatewayError::Unavailable(_)), "{error:?}");
        assert_eq!(error.to_string(), "the PG failed: Toss POST /v1/payments/pk-1/cancel answered 502");
        let credentials = status_error(what, &answer(401, r#"{"code":"UNAUTHORIZED_KEY","message":"no"}"#));
        assert!(credentials.to_string().ends_with("answered 401 UNAUTHORIZED_KEY: Toss refused our credentials"));
    }

    /// Every code this client acts on, and every error example the
    /// documentation shows, is a documented code.
    #[test]
    fn the_codes_acted_on_and_the_documented_examples_are_documented_codes() {
        for code in [ALREADY_PROCESSED_PAYMENT, FORBIDDEN_CONSECUTIVE_REQUEST, NOT_MATCHES_REFUNDABLE_AMOUNT] {
            assert!(DOCUMENTED_CODES.contains(&code), "{code}");
        }
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/documented");
        let mut examples = 0;
        for version in std::fs::read_dir(root).unwrap() {
            let version = version.unwrap().path();
            if !version.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&version).unwrap() {
                let path = file.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name.starts_with("error-") && name.ends_with(".json") {
                    let body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                    let code = body["code"].as_str().unwrap_or_default();
                    assert!(DOCUMENTED_CODES.contains(&code), "{name}: {code}");
                    examples += 1;
                }
            }
        }
        assert!(examples >= 20, "{examples} examples read");
    }
}
