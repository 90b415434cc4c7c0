//! The PortOne V2 API client: the application's [`PaymentGateway`] for PortOne.
//!
//! A payment's id at PortOne is the merchant's: our history's order id and
//! PG uid are both that `paymentId`. Calls that move money carry an
//! `Idempotency-Key` (PortOne answers a retry with the first answer), and a
//! cancel carries `currentCancellableAmount`, PortOne's balance guard.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use payments_application::ports::{
    CancelRequest, ChargeRequest, ChargedPayment, GatewayError, OrderLock, OrderLockRequest, PaymentGateway, PgCard,
};
use payments_domain::{OrderId, PaymentSnapshot, SourceId, StoreId, VendorCode, VendorUid};
use payments_pg::{
    Answer, ExposeSecret, IDEMPOTENCY_KEY, PgBuildError, PgFailure, PgHttp, SecretString, Stores, call_name,
};

use crate::AMOUNTS;
use crate::snapshot::snapshot;

/// The real API.
pub const DEFAULT_BASE_URL: &str = "https://api.portone.io";

/// PortOne's refusal of a cancel computed on another balance.
const CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN: &str = "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN";
/// A retry that came while the first request with its key still runs.
const IDEMPOTENCY_OUTSTANDING_REQUEST: &str = "IDEMPOTENCY_OUTSTANDING_REQUEST";
/// A refusal by the PG behind PortOne (its `pgCode`, `pgMessage`).
const PG_PROVIDER: &str = "PG_PROVIDER";
/// Refusals of an operation on a billing key already deleted.
const BILLING_KEY_ALREADY_DELETED: &str = "BILLING_KEY_ALREADY_DELETED";

/// The error `type`s PortOne V2 documents for the calls this client makes
/// (`src/schema/v2.openapi.json`, API 1.16.0: every error schema reachable
/// from `GetPaymentError`, `CancelPaymentError`, `GetBillingKeyInfoError`,
/// `DeleteBillingKeyError`, `PayWithBillingKeyError` and
/// `PreRegisterPaymentError`; the same set as
/// `tests/data/v2-schemas.json`, checked by a test). Only these reach an
/// answer of ours, next to the call and its status; any other type, every
/// message and `pgMessage` stay in the log.
pub const DOCUMENTED_ERRORS: &[&str] = &[
    "ALREADY_PAID",
    "BILLING_KEY_ALREADY_DELETED",
    "BILLING_KEY_NOT_FOUND",
    "BILLING_KEY_NOT_ISSUED",
    "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT",
    "CANCEL_TAX_AMOUNT_EXCEEDS_CANCELLABLE_TAX_AMOUNT",
    "CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT",
    "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
    "CHANNEL_NOT_FOUND",
    "CHANNEL_SPECIFIC",
    "DISCOUNT_AMOUNT_EXCEEDS_TOTAL_AMOUNT",
    "FORBIDDEN",
    "INVALID_REQUEST",
    "MAX_CANCEL_COUNT_REACHED",
    "MAX_TRANSACTION_COUNT_REACHED",
    "NEGATIVE_PROMOTION_ADJUSTED_CANCEL_AMOUNT",
    "PAYMENT_ALREADY_CANCELLED",
    "PAYMENT_NOT_FOUND",
    "PAYMENT_NOT_PAID",
    "PAYMENT_SCHEDULE_ALREADY_EXISTS",
    "PG_PROVIDER",
    "PROMOTION_DISCOUNT_RETAIN_OPTION_SHOULD_NOT_BE_CHANGED",
    "PROMOTION_PAY_METHOD_DOES_NOT_MATCH",
    "SUM_OF_PARTS_EXCEEDS_CANCEL_AMOUNT",
    "SUM_OF_PARTS_EXCEEDS_TOTAL_AMOUNT",
    "UNAUTHORIZED",
    // The REST overview's retry of a key whose first request still runs.
    "IDEMPOTENCY_OUTSTANDING_REQUEST",
];

/// One store of ours at PortOne: its API secret, PortOne's id of the store
/// (sent where the API asks for it; the secret's own store when `None`) and
/// the secret its webhooks are signed with.
#[derive(Debug, Clone)]
pub struct PortOneStore {
    pub api_secret: SecretString,
    pub store_id: Option<String>,
    pub webhook_secret: Option<SecretString>,
}

impl PortOneStore {
    pub fn new(api_secret: impl Into<String>) -> Self {
        Self { api_secret: SecretString::from(api_secret.into()), store_id: None, webhook_secret: None }
    }

    #[must_use]
    pub fn with_store_id(mut self, store_id: impl Into<String>) -> Self {
        self.store_id = Some(store_id.into());
        self
    }

    #[must_use]
    pub fn with_webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secret = Some(SecretString::from(secret.into()));
        self
    }
}

/// `PortOne <API secret>`, the value of the `Authorization` header.
pub fn authorization(api_secret: &str) -> String {
    format!("PortOne {api_secret}")
}

/// The `Idempotency-Key` header value for one of our keys: PortOne takes 16
/// to 256 ASCII characters, as an RFC 8941 string (in double quotes). A key
/// outside that (or with a quote or a backslash) is sent as its SHA-256.
pub fn idempotency_key(key: &str) -> String {
    let plain = (16..=256).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && !key.contains(['"', '\\']);
    if plain {
        format!("\"{key}\"")
    } else {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(key.as_bytes());
        format!("\"{}\"", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

/// Where PortOne is and which stores may use it.
#[derive(Debug, Clone)]
pub struct PortOneConfig {
    pub base_url: String,
    /// Our store id (a record's `vendor.store_id`) -> the store at PortOne.
    pub stores: Stores<PortOneStore>,
    pub timeout: Duration,
}

impl PortOneConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into(), stores: Stores::default(), timeout: Duration::from_secs(10) }
    }
}

/// The PortOne V2 API, for every configured store.
#[derive(Debug, Clone)]
pub struct PortOneGateway {
    http: PgHttp,
    stores: Stores<PortOneStore>,
}

impl PortOneGateway {
    /// # Errors
    /// [`PgBuildError`] for a base URL that cannot take paths, or when the
    /// HTTP client cannot be built.
    pub fn new(config: PortOneConfig) -> Result<Self, PgBuildError> {
        Ok(Self { http: PgHttp::new("PortOne", &config.base_url, config.timeout)?, stores: config.stores })
    }

    fn store(&self, store: &str) -> Result<&PortOneStore, GatewayError> {
        self.stores.get(VendorCode::PortOne, store)
    }

    /// One call: the store's secret, its PortOne store id as the query
    /// parameter `storeId` (`query_store`) or the body member `storeId`, and
    /// an `Idempotency-Key` when given. The JSON of a 2xx answer.
    async fn call(
        &self,
        store: &str,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
        idempotency: Option<&str>,
    ) -> Result<Value, PgFailure> {
        let account = self.store(store)?;
        let what = call_name(&method, segments);
        let query_store = body.is_none();
        let mut request = self
            .http
            .request(method, segments)
            .header(reqwest::header::AUTHORIZATION, authorization(account.api_secret.expose_secret()));
        if let Some(key) = idempotency {
            request = request.header(IDEMPOTENCY_KEY, idempotency_key(key));
        }
        match (body, &account.store_id) {
            (Some(mut body), store_id) => {
                if let (Some(object), Some(store_id)) = (body.as_object_mut(), store_id) {
                    object.insert("storeId".into(), Value::String(store_id.clone()));
                }
                request = request.json(&body);
            }
            (None, Some(store_id)) if query_store => request = request.query(&[("storeId", store_id)]),
            (None, _) => {}
        }
        let answer = self.http.send(request, &what).await?;
        if answer.status.is_success() {
            return serde_json::from_slice(&answer.body)
                .map_err(|e| PgFailure::from(GatewayError::Protocol(format!("{what}: the answer is not JSON: {e}"))));
        }
        Err(refusal(&what, &answer))
    }

    async fn payment_json(&self, store: &str, payment_id: &str) -> Result<Value, GatewayError> {
        self.call(store, Method::GET, &["payments", payment_id], None, None).await.map_err(|r| r.error)
    }

    async fn read(&self, store: &str, payment_id: &str) -> Result<PaymentSnapshot, GatewayError> {
        snapshot(self.payment_json(store, payment_id).await?)
    }

    async fn billing_key(&self, store: &str, billing_key: &str) -> Result<Value, GatewayError> {
        self.call(store, Method::GET, &["billing-keys", billing_key], None, None).await.map_err(|r| r.error)
    }
}

/// Maps a non-2xx answer by PortOne's error `type` and status: 404 ->
/// `NotFound`; 401 and 403 (our secret or our store) and 429 -> `Unavailable`;
/// `PG_PROVIDER` (the PG behind PortOne said no) -> `Rejected`; other 5xx ->
/// `Unavailable` (the outcome is unknown until re-read); other 4xx ->
/// `Rejected`. The message names the call, its status and PortOne's type when
/// documented ([`DOCUMENTED_ERRORS`]); PortOne's `message`, the underlying
/// PG's `pgCode`/`pgMessage` and an error page are logged, never answered.
fn refusal(what: &str, answer: &Answer) -> PgFailure {
    let body: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let member = |name: &str| body.as_ref().and_then(|b| b.get(name)).and_then(Value::as_str);
    let kind = member("type").map(str::to_owned);
    let text = match (member("message"), member("pgCode"), member("pgMessage")) {
        (None, None, None) if body.is_none() => answer.snippet(payments_pg::LOGGED_PG_TEXT_CHARS),
        (message, pg_code, pg_message) => format!(
            "{}; the PG: {} {}",
            message.unwrap_or_default(),
            pg_code.unwrap_or_default(),
            pg_message.unwrap_or_default()
        ),
    };
    let message = payments_pg::failed_call("PortOne", what, answer.status, kind.as_deref(), &text, DOCUMENTED_ERRORS);
    let error = match answer.status {
        StatusCode::NOT_FOUND => GatewayError::NotFound(message),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            GatewayError::Unavailable(format!("{message}: PortOne refused our credentials or store"))
        }
        StatusCode::TOO_MANY_REQUESTS => GatewayError::Unavailable(format!("{message}: rate limited")),
        StatusCode::CONFLICT if kind.as_deref() == Some(CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN) => {
            GatewayError::BalanceMismatch(message)
        }
        StatusCode::CONFLICT if kind.as_deref() == Some(IDEMPOTENCY_OUTSTANDING_REQUEST) => {
            GatewayError::TooSoon(message)
        }
        // The PG behind PortOne answered, and said no (a card declined):
        // nothing moved.
        StatusCode::BAD_GATEWAY if kind.as_deref() == Some(PG_PROVIDER) => GatewayError::Rejected(message),
        s if s.is_client_error() => GatewayError::Rejected(message),
        _ => GatewayError::Unavailable(message),
    };
    PgFailure { code: kind, error }
}

#[async_trait]
impl PaymentGateway for PortOneGateway {
    async fn fetch_payment(&self, store: &StoreId, uid: &VendorUid) -> Result<PaymentSnapshot, GatewayError> {
        self.read(store.as_str(), uid.as_str()).await
    }

    /// `POST /payments/{paymentId}/pre-register` (`PreRegisterPaymentBody`):
    /// `totalAmount` in the currency's minor unit and `currency`, the
    /// store's `storeId` when configured; `taxFreeAmount` is optional in the
    /// schema and not sent (the order carries none). PortOne's window then
    /// refuses another amount for that payment id (the browser SDK's
    /// `AmountNotEqualToPredefined`).
    ///
    /// Sent again, the same body registers the same amount, and another
    /// amount replaces it: the operation documents no refusal of a payment
    /// id registered already (its errors are `ALREADY_PAID` (409),
    /// `INVALID_REQUEST`, `UNAUTHORIZED` and `FORBIDDEN`), so no
    /// idempotency key is needed. `ALREADY_PAID` and `INVALID_REQUEST` are
    /// `Rejected`; 401/403 `Unavailable` ([`refusal`]).
    async fn lock_order(&self, store: &StoreId, request: &OrderLockRequest) -> Result<OrderLock, GatewayError> {
        let total = AMOUNTS.write("price", request.amount, &request.currency)?;
        // `totalAmount` is an int64.
        if total.as_i64().is_none() {
            return Err(GatewayError::Unrepresentable(format!(
                "price: {} {} is over the largest amount PortOne takes",
                request.amount,
                request.currency.as_str()
            )));
        }
        let body = json!({"totalAmount": total, "currency": request.currency.as_str()});
        let segments = ["payments", request.order_id.as_str(), "pre-register"];
        // The answer is a `PreRegisterPaymentResponse`: an object without members.
        let answer = self.call(store.as_str(), Method::POST, &segments, Some(body), None).await.map_err(|r| r.error)?;
        if !answer.is_object() {
            return Err(GatewayError::Protocol("PortOne's pre-register answer is not a JSON object".to_owned()));
        }
        Ok(OrderLock { locked: true, pg_amount: total })
    }

    async fn cancel_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &CancelRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        let mut body = json!({
            "amount": AMOUNTS.write("price", request.amount, &request.currency)?,
            "reason": request.reason.as_str(),
            "currentCancellableAmount": AMOUNTS.write("price", request.remaining, &request.currency)?,
        });
        if let Some(account) = &request.refund_account {
            let bank = crate::bank_of(&account.bank).ok_or_else(|| {
                GatewayError::Rejected(format!("PortOne does not know the refund account's bank {:?}", account.bank))
            })?;
            body["refundAccount"] = json!({
                "bank": bank, "number": account.account, "holderName": account.holder,
                "holderPhoneNumber": account.mobile,
            });
        }
        let segments = ["payments", uid.as_str(), "cancel"];
        let key = request.idempotency_key.as_deref();
        let answer = self.call(store.as_str(), Method::POST, &segments, Some(body), key).await.map_err(|r| r.error)?;
        // The answer holds the cancellation only (a `PaymentCancellation`:
        // SUCCEEDED, REQUESTED to be completed later, or FAILED). A failed
        // one refunded nothing: a refusal. Otherwise the payment is read back.
        let cancellation = answer
            .get("cancellation")
            .ok_or_else(|| GatewayError::Protocol("PortOne's cancel answer has no cancellation member".to_owned()))?;
        match cancellation.get("status").and_then(Value::as_str) {
            Some("SUCCEEDED" | "REQUESTED") => {}
            Some("FAILED") => {
                let id = cancellation.get("id").and_then(Value::as_str).unwrap_or("?");
                return Err(GatewayError::Rejected(format!(
                    "PortOne answered the cancel with a FAILED cancellation ({id})"
                )));
            }
            other => {
                return Err(GatewayError::Protocol(format!(
                    "PortOne's cancel answer: cancellation.status {other:?} is not SUCCEEDED, REQUESTED or FAILED"
                )));
            }
        }
        self.read(store.as_str(), uid.as_str()).await
    }

    async fn fetch_saved_card(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        customer: &SourceId,
    ) -> Result<PgCard, GatewayError> {
        let data = self.billing_key(store.as_str(), uid.as_str()).await?;
        if data.get("status").and_then(Value::as_str) != Some("ISSUED") {
            return Err(GatewayError::Rejected("the billing key is not issued (deleted?)".to_owned()));
        }
        // A billing key is its customer's: nobody registers another
        // customer's card under their own record.
        let holder = data.pointer("/customer/id").and_then(Value::as_str).unwrap_or_default();
        if holder != customer.as_str() {
            return Err(GatewayError::Rejected(format!(
                "the billing key's customer.id {holder:?} is not source.id {:?}",
                customer.as_str()
            )));
        }
        Ok(PgCard { key: uid.as_str().to_owned(), data })
    }

    async fn charge_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        _card_data: &Value,
        request: &ChargeRequest,
    ) -> Result<ChargedPayment, GatewayError> {
        let order = request.order_id.as_str();
        let body = json!({
            "billingKey": card.as_str(),
            "orderName": request.order_name.as_str(),
            "customer": {"id": request.customer.as_str()},
            "amount": {"total": AMOUNTS.write("price", request.amount, &request.currency)?},
            "currency": request.currency.as_str(),
        });
        let segments = ["payments", order, "billing-key"];
        let key = Some(request.idempotency_key.as_str());
        match self.call(store.as_str(), Method::POST, &segments, Some(body), key).await {
            Ok(_) => {}
            Err(PgFailure { code: Some(kind), error }) if kind == BILLING_KEY_ALREADY_DELETED => {
                return Err(GatewayError::NotFound(error.to_string()));
            }
            Err(refusal) => return Err(refusal.error),
        }
        let uid = VendorUid::parse(order).map_err(|e| GatewayError::Protocol(format!("PortOne paymentId: {e}")))?;
        Ok(ChargedPayment { snapshot: self.read(store.as_str(), order).await?, uid })
    }

    async fn find_by_order(&self, store: &StoreId, order_id: &OrderId) -> Result<Option<ChargedPayment>, GatewayError> {
        match self.read(store.as_str(), order_id.as_str()).await {
            Ok(snapshot) => {
                let uid = VendorUid::parse(order_id.as_str())
                    .map_err(|e| GatewayError::Protocol(format!("PortOne paymentId: {e}")))?;
                Ok(Some(ChargedPayment { uid, snapshot }))
            }
            Err(GatewayError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn remove_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        _card_data: &Value,
    ) -> Result<Value, GatewayError> {
        let segments = ["billing-keys", card.as_str()];
        match self.call(store.as_str(), Method::DELETE, &segments, None, None).await {
            Ok(_) => {}
            // Deleted already (at PortOne's console, say): what we wanted.
            Err(PgFailure { code: Some(kind), .. }) if kind == BILLING_KEY_ALREADY_DELETED => {}
            Err(refusal) => return Err(refusal.error),
        }
        // Kept as PortOne shows it now (DELETED), the key itself erased: it
        // can never be charged from here again.
        let mut kept = self.billing_key(store.as_str(), card.as_str()).await?;
        if let Some(object) = kept.as_object_mut() {
            object.remove("billingKey");
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_quoted_strings_of_16_to_256_characters() {
        let ours = "cancel-0190a8f2-6f4e-7c3b-9a1d-2b3c4d5e6f70";
        assert_eq!(idempotency_key(ours), format!("\"{ours}\""));
        for odd in ["short", "with \"quotes\" inside!", &"x".repeat(300), "한글-키-0123456789"] {
            let sent = idempotency_key(odd);
            assert_eq!(sent.len(), 66, "{odd}: {sent}");
            assert!(sent.starts_with('"') && sent.ends_with('"'));
            assert_eq!(sent, idempotency_key(odd), "the same key each time");
        }
    }

    #[test]
    fn refusals_map_by_type_and_status() {
        let answer =
            |status: u16, body: &str| Answer { status: StatusCode::from_u16(status).unwrap(), body: bytes_of(body) };
        let cases = [
            (404, r#"{"type":"PAYMENT_NOT_FOUND","message":"no such payment"}"#, "NotFound"),
            (401, r#"{"type":"UNAUTHORIZED"}"#, "Unavailable"),
            (403, r#"{"type":"FORBIDDEN"}"#, "Unavailable"),
            (409, r#"{"type":"CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN"}"#, "BalanceMismatch"),
            (409, r#"{"type":"IDEMPOTENCY_OUTSTANDING_REQUEST"}"#, "TooSoon"),
            (409, r#"{"type":"CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT","message":"too much"}"#, "Rejected"),
            (409, r#"{"type":"ALREADY_PAID","message":"paid"}"#, "Rejected"),
            (400, r#"{"type":"INVALID_REQUEST"}"#, "Rejected"),
            (502, r#"{"type":"PG_PROVIDER","pgCode":"X","pgMessage":"declined"}"#, "Rejected"),
            (502, r#"{"type":"CHANNEL_SPECIFIC"}"#, "Unavailable"),
            (500, "not json", "Unavailable"),
        ];
        for (status, body, expected) in cases {
            let mapped = refusal("POST /payments/x/cancel", &answer(status, body)).error;
            let name = format!("{mapped:?}");
            assert!(name.starts_with(expected), "{status} {body}: {name}");
        }
        let rejected =
            refusal("x", &answer(409, r#"{"type":"CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT","message":"too much"}"#));
        assert_eq!(
            rejected.error.to_string(),
            "refused by the PG: PortOne x answered 409 CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT"
        );
    }

    /// An answer names the call, its status and PortOne's type when PortOne
    /// documents it; PortOne's message, the PG's `pgMessage`, an undocumented
    /// type and an error page (a forged log line in it) never reach it.
    #[test]
    fn refusals_carry_no_text_of_portone_or_its_pg() {
        let answer =
            |status: u16, body: &str| Answer { status: StatusCode::from_u16(status).unwrap(), body: bytes_of(body) };
        let forged = r"\n2026-01-01T00:00:00.000000Z  INFO request: method=PUT status=200 \u001b[2K";
        let what = "POST /payments/p-1/cancel";
        let cases = [
            (
                502,
                format!(r#"{{"type":"PG_PROVIDER","message":"{forged}","pgCode":"X","pgMessage":"{forged}"}}"#),
                "PortOne POST /payments/p-1/cancel answered 502 PG_PROVIDER",
            ),
            (
                400,
                format!(r#"{{"type":"SOMETHING_{forged}","message":"{forged}"}}"#),
                "PortOne POST /payments/p-1/cancel answered 400",
            ),
            (500, format!("<html>\n{forged}\u{1b}[2K</html>"), "PortOne POST /payments/p-1/cancel answered 500"),
        ];
        for (status, body, expected) in cases {
            let error = refusal(what, &answer(status, &body)).error;
            let text = error.to_string();
            assert!(text.ends_with(expected), "{status}: {text}");
            assert!(!text.contains("INFO") && !text.chars().any(char::is_control), "{status}: {text}");
        }
    }

    /// The documented types are exactly the error schemas of the V2 document
    /// this client's calls can answer (and the REST overview's idempotency one).
    #[test]
    fn documented_errors_are_the_documents_error_types() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v2-schemas.json")).unwrap();
        let document: Value = serde_json::from_str(&text).unwrap();
        let mut types: Vec<&str> = document["components"]["schemas"]
            .as_object()
            .unwrap()
            .values()
            .filter(|schema| schema.get("x-portone-status-code").is_some())
            .filter_map(|schema| schema["properties"]["type"]["const"].as_str())
            .chain([IDEMPOTENCY_OUTSTANDING_REQUEST])
            .collect();
        types.sort_unstable();
        types.dedup();
        let mut documented = DOCUMENTED_ERRORS.to_vec();
        documented.sort_unstable();
        assert_eq!(documented, types);
        for code in [CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN, PG_PROVIDER, BILLING_KEY_ALREADY_DELETED] {
            assert!(DOCUMENTED_ERRORS.contains(&code), "{code}");
        }
    }

    fn bytes_of(text: &str) -> payments_pg::http::Bytes {
        payments_pg::http::Bytes::copy_from_slice(text.as_bytes())
    }
}
