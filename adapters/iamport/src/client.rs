//! The Iamport client: the application's [`PaymentGateway`] port over HTTP.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use payments_application::ports::{
    CancelRequest, ChargeRequest, ChargedPayment, GatewayError, OrderLock, OrderLockRequest, PaymentGateway, PgCard,
};
use payments_domain::{
    CancelHistory, CancelKey, CancelReason, Currency, Money, OrderId, PaymentPhase, PaymentSnapshot, SourceId, StoreId,
    VendorCode, VendorUid,
};
use payments_pg::{ExposeSecret, PgBuildError, PgHttp, SecretString, Stores};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::wire::{
    IamportResponse, IamportUser, PaymentCancelCreate, PaymentPrepare, SubscriptionAgain, UserAccessor, unix_time,
};

/// The real Iamport API.
pub const IAMPORT_URL: &str = "https://api.iamport.kr";

/// One store's API credentials (the secret never prints).
#[derive(Debug, Clone)]
pub struct IamportCredentials {
    pub imp_key: String,
    pub imp_secret: SecretString,
}

impl IamportCredentials {
    pub fn new(imp_key: impl Into<String>, imp_secret: impl Into<String>) -> Self {
        Self { imp_key: imp_key.into(), imp_secret: SecretString::from(imp_secret.into()) }
    }

    /// Whether these are `imp_key` and `imp_secret`.
    pub fn matches(&self, imp_key: &str, imp_secret: &str) -> bool {
        self.imp_key == imp_key && self.imp_secret.expose_secret() == imp_secret
    }
}

/// Where Iamport is and how each store signs in.
#[derive(Debug, Clone)]
pub struct IamportConfig {
    /// `https://api.iamport.kr`, or a fake's URL. A trailing slash is ignored.
    pub base_url: String,
    /// `store_id` -> credentials, and the credentials of every store not
    /// listed (one key pair for all stores, as the original server is
    /// configured; none: such stores are refused with `UnknownStore`).
    pub stores: Stores<IamportCredentials>,
    /// Bound on every call (connect, send, read). Default 10 s.
    pub timeout: Duration,
    /// A token is refreshed when less than this is left of its life. Default 60 s.
    pub token_refresh_margin: Duration,
}

impl Default for IamportConfig {
    /// The real Iamport, no store, the default timeout (10 s) and refresh margin (60 s).
    fn default() -> Self {
        Self::new(IAMPORT_URL)
    }
}

impl IamportConfig {
    /// No store yet, the default timeout and refresh margin.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            stores: Stores::default(),
            timeout: Duration::from_secs(10),
            token_refresh_margin: Duration::from_secs(60),
        }
    }

    /// Adds (or replaces) a store's credentials.
    #[must_use]
    pub fn with_store(mut self, store_id: impl Into<String>, credentials: IamportCredentials) -> Self {
        self.stores = self.stores.with_store(store_id, credentials);
        self
    }

    /// Sets the credentials of every store id not listed explicitly.
    #[must_use]
    pub fn with_default(mut self, credentials: IamportCredentials) -> Self {
        self.stores = self.stores.with_default(credentials);
        self
    }

    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A token and the instant (on our clock) after which it must not be used.
#[derive(Clone)]
struct CachedToken {
    token: String,
    refresh_at: Instant,
}

/// One store: credentials and its cached token. The mutex makes concurrent
/// callers share a single refresh.
struct StoreState {
    credentials: IamportCredentials,
    token: Mutex<Option<CachedToken>>,
}

/// The Iamport PG as a [`PaymentGateway`]: reads and cancels payments and
/// reads saved cards, with a per-store access token cached until shortly
/// before it expires.
pub struct IamportGateway {
    http: PgHttp,
    stores: Stores<Arc<StoreState>>,
    margin: Duration,
}

impl fmt::Debug for IamportGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamportGateway")
            .field("base", &self.http.base().as_str())
            .field("stores", &self.stores)
            .finish()
    }
}

/// What one HTTP exchange produced before interpretation.
enum Outcome {
    Ok(Value),
    Unauthorized(String),
}

impl IamportGateway {
    /// # Errors
    /// When the base URL is not an absolute http(s) URL, or the HTTP client cannot be built.
    pub fn new(config: IamportConfig) -> Result<Self, PgBuildError> {
        let http = PgHttp::new("Iamport", &config.base_url, config.timeout)?;
        let stores = config.stores.map(|credentials| Arc::new(StoreState { credentials, token: Mutex::new(None) }));
        Ok(Self { http, stores, margin: config.token_refresh_margin })
    }

    fn store(&self, store: &StoreId) -> Result<&Arc<StoreState>, GatewayError> {
        self.stores.get(VendorCode::Iamport, store.as_str())
    }

    /// A valid token for the store: the cached one, or a fresh one when it is
    /// missing, near its expiry, or `stale` (the PG just refused it).
    async fn token(&self, store: &StoreState, stale: Option<&str>) -> Result<String, GatewayError> {
        let mut cached = store.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_at
            && stale != Some(token.token.as_str())
        {
            return Ok(token.token.clone());
        }
        let fresh = self.issue_token(&store.credentials).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn issue_token(&self, credentials: &IamportCredentials) -> Result<CachedToken, GatewayError> {
        let body = UserAccessor {
            imp_key: credentials.imp_key.clone(),
            imp_secret: credentials.imp_secret.expose_secret().to_owned(),
        };
        let request = self.http.request(Method::POST, &["users", "getToken"]).json(&body);
        // Any refusal of the credentials is our configuration's fault, not the
        // caller's: the PG is unusable for this store until it is fixed.
        let outcome = self.exchange(request, "POST /users/getToken").await.map_err(|error| match error {
            GatewayError::NotFound(message) | GatewayError::Rejected(message) => {
                GatewayError::Unavailable(format!("Iamport refused the store's credentials: {message}"))
            }
            other => other,
        })?;
        let user: IamportUser = match outcome {
            Outcome::Ok(value) => parse_response(value)?,
            Outcome::Unauthorized(message) => {
                return Err(GatewayError::Unavailable(format!("Iamport refused the store's credentials: {message}")));
            }
        };
        let lifetime = match (unix_time(&user.now), unix_time(&user.expired_at)) {
            (Some(now), Some(expires)) => (expires - now).to_std().unwrap_or(Duration::ZERO),
            _ => Duration::ZERO,
        };
        // An absurd `expired_at` must not overflow the clock: such a token is used once.
        let now = Instant::now();
        let refresh_at = now.checked_add(lifetime.saturating_sub(self.margin)).unwrap_or(now);
        Ok(CachedToken { token: user.access_token, refresh_at })
    }

    /// Sends one request and sorts the answer: a 2xx envelope with code 0 is
    /// `Ok(response)`, a 401 is `Unauthorized`, the rest is a [`GatewayError`]
    /// naming the call and its status. Iamport's own words (its envelope's
    /// `message`, or the page it answered) are logged, never answered:
    /// Iamport documents no codes beyond 0 and "not 0".
    async fn exchange(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Outcome, GatewayError> {
        let answer = self.http.send(request, what).await?;
        let status = answer.status;
        let envelope: Option<IamportResponse<Value>> = serde_json::from_slice(&answer.body).ok();
        let failed = || {
            let text = envelope
                .as_ref()
                .and_then(|e| e.message.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| answer.snippet(payments_pg::LOGGED_PG_TEXT_CHARS));
            payments_pg::failed_call("Iamport", what, status, None, &text, &[])
        };
        if status == StatusCode::UNAUTHORIZED {
            return Ok(Outcome::Unauthorized(failed()));
        }
        if status == StatusCode::NOT_FOUND {
            // Iamport's own 404 carries its envelope; a bare 404 means the base
            // URL does not point at Iamport, which is not "no such payment".
            return Err(match envelope {
                Some(_) => GatewayError::NotFound(failed()),
                None => GatewayError::Protocol(format!("{} without an Iamport envelope", failed())),
            });
        }
        if status.is_server_error() {
            return Err(GatewayError::Unavailable(failed()));
        }
        if status.is_client_error() {
            return Err(GatewayError::Rejected(failed()));
        }
        if !status.is_success() {
            return Err(GatewayError::Protocol(failed()));
        }
        let Some(envelope_read) = envelope.as_ref() else {
            return Err(GatewayError::Protocol(format!("{}: not an Iamport envelope", failed())));
        };
        if envelope_read.code != 0 {
            return Err(GatewayError::Rejected(format!("{} with a refusal", failed())));
        }
        let response = envelope.and_then(|e| e.response);
        response.map(Outcome::Ok).ok_or_else(|| GatewayError::Protocol(format!("{what}: code 0 without a response")))
    }

    /// An authorised call: the store's token as `Authorization`, refreshed and
    /// retried once when the PG answers 401.
    async fn call<B: serde::Serialize + Sync + ?Sized>(
        &self,
        store: &StoreId,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<Value, GatewayError> {
        let state = self.store(store)?;
        let what = payments_pg::call_name(&method, segments);
        let mut stale: Option<String> = None;
        loop {
            let token = self.token(state, stale.as_deref()).await?;
            let mut request = self.http.request(method.clone(), segments).header("Authorization", &token);
            if let Some(body) = body {
                request = request.json(body);
            }
            match self.exchange(request, &what).await? {
                Outcome::Ok(value) => return Ok(value),
                Outcome::Unauthorized(message) if stale.is_none() => {
                    tracing::debug!(store = store.as_str(), %message, "Iamport refused the token; refreshing");
                    stale = Some(token);
                }
                Outcome::Unauthorized(message) => {
                    return Err(GatewayError::Unavailable(format!(
                        "Iamport refused a fresh token for store {}: {message}",
                        store.as_str()
                    )));
                }
            }
        }
    }
}

fn parse_response<T: DeserializeOwned>(value: Value) -> Result<T, GatewayError> {
    serde_json::from_value(value).map_err(|e| GatewayError::Protocol(format!("unreadable Iamport response: {e}")))
}

/// The fields of a payment the snapshot needs, read leniently (the real PG
/// sends `null` in places the SDK's schema does not allow).
#[derive(Deserialize)]
struct PaymentView {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    merchant_uid: Option<String>,
    currency: Option<String>,
    amount: Money,
    #[serde(default)]
    paid_at: Option<Number>,
    #[serde(default)]
    cancelled_at: Option<Number>,
    #[serde(default)]
    cancel_history: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct CancelView {
    #[serde(default)]
    cancellation_id: Option<String>,
    #[serde(default)]
    pg_tid: Option<String>,
    amount: Money,
    #[serde(default)]
    cancelled_at: Option<Number>,
    #[serde(default)]
    reason: Option<String>,
}

/// Converts Iamport's payment JSON into a [`PaymentSnapshot`], keeping the
/// JSON whole as its `data` (and each cancel's JSON as that cancel's `data`).
///
/// Cancel keys are stable across reads however many cancels there are and in
/// whatever order they are listed (see `cancel_key`).
///
/// # Errors
/// [`GatewayError::Protocol`] when a needed field is missing or invalid.
pub fn snapshot_from_payment(data: Value) -> Result<PaymentSnapshot, GatewayError> {
    let view: PaymentView = serde_json::from_value(data.clone())
        .map_err(|e| GatewayError::Protocol(format!("unreadable Iamport payment: {e}")))?;
    let currency = Currency::parse(view.currency.as_deref().unwrap_or("KRW"))
        .map_err(|e| GatewayError::Protocol(format!("Iamport payment currency: {e}")))?;
    let raw_cancels = view.cancel_history.unwrap_or_default();
    payments_pg::check_cancel_count("Iamport payment cancel_history", raw_cancels.len())?;
    let mut parsed = Vec::with_capacity(raw_cancels.len());
    for raw in &raw_cancels {
        let cancel: CancelView = serde_json::from_value(raw.clone())
            .map_err(|e| GatewayError::Protocol(format!("unreadable Iamport cancel: {e}")))?;
        parsed.push(cancel);
    }
    let mut cancels = Vec::with_capacity(parsed.len());
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (cancel, raw) in parsed.iter().zip(raw_cancels) {
        let created_at = cancel.cancelled_at.as_ref().and_then(unix_time);
        let key = cancel_key(cancel, &mut seen);
        let key = CancelKey::parse(truncate(&key, 255))
            .map_err(|e| GatewayError::Protocol(format!("Iamport cancel key: {e}")))?;
        let created_at = created_at
            .or_else(|| view.cancelled_at.as_ref().and_then(unix_time))
            .ok_or_else(|| GatewayError::Protocol("an Iamport cancel without cancelled_at".to_owned()))?;
        cancels.push(CancelHistory {
            key,
            price: crate::AMOUNTS.read("Iamport cancel_history.amount", &cancel.amount.to_json_number(), &currency)?,
            reason: CancelReason::from_pg(cancel.reason.as_deref()),
            created_at,
            data: raw,
        });
    }
    let pg_status = view.status.unwrap_or_default();
    let phase = match pg_status.as_str() {
        "paid" => PaymentPhase::Paid,
        "ready" => PaymentPhase::AwaitingDeposit,
        "cancelled" => PaymentPhase::Cancelled,
        // `failed`, and any status Iamport may add: never registrable.
        _ => PaymentPhase::Failed,
    };
    let order_id = match view.merchant_uid.as_deref().map(str::trim) {
        Some(uid) if !uid.is_empty() => Some(
            OrderId::parse(uid).map_err(|e| GatewayError::Protocol(format!("Iamport payment merchant_uid: {e}")))?,
        ),
        _ => None,
    };
    let price = crate::AMOUNTS.read("Iamport payment amount", &view.amount.to_json_number(), &currency)?;
    Ok(PaymentSnapshot {
        phase,
        pg_status,
        order_id,
        currency,
        price,
        paid_at: view.paid_at.as_ref().and_then(unix_time),
        cancelled_at: view.cancelled_at.as_ref().and_then(unix_time),
        cancels,
        data,
        pending_cancels: Vec::new(),
        failed_cancels: Vec::new(),
    })
}

/// The key of one cancel, stable however many cancels the payment has and in
/// whatever order Iamport lists them: its `cancellation_id` when Iamport gives
/// one; else its `pg_tid` (many PGs repeat the payment's own on every partial
/// cancel), time and amount, with `:n` for the n-th cancel identical in all
/// three (identical cancels are interchangeable, so their order does not matter).
fn cancel_key(cancel: &CancelView, seen: &mut std::collections::HashMap<String, usize>) -> String {
    if let Some(id) = cancel.cancellation_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
        return format!("cancellation:{id}");
    }
    let tid = cancel.pg_tid.as_deref().map(str::trim).filter(|tid| !tid.is_empty()).unwrap_or("cancel");
    let at = cancel.cancelled_at.as_ref().map_or_else(|| "0".to_owned(), ToString::to_string);
    let base = format!("{tid}:{at}:{}", cancel.amount);
    let count = seen.entry(base.clone()).or_insert(0);
    *count += 1;
    if *count == 1 { base } else { format!("{base}:{count}") }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[async_trait]
impl PaymentGateway for IamportGateway {
    async fn fetch_payment(&self, store: &StoreId, uid: &VendorUid) -> Result<PaymentSnapshot, GatewayError> {
        let value = self.call::<()>(store, Method::GET, &["payments", uid.as_str()], None).await?;
        snapshot_from_payment(value)
    }

    async fn cancel_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &CancelRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        let account = request.refund_account.as_ref();
        // Iamport's unit is the major one: a representable amount is sent as is.
        crate::AMOUNTS.write("price", request.amount, &request.currency)?;
        crate::AMOUNTS.write("price", request.remaining, &request.currency)?;
        let body = PaymentCancelCreate {
            imp_uid: Some(uid.as_str().to_owned()),
            amount: Some(request.amount),
            checksum: Some(request.remaining),
            reason: Some(request.reason.as_str().to_owned()),
            refund_holder: account.map(|a| a.holder.clone()),
            refund_bank: account.map(|a| a.bank.clone()),
            refund_account: account.map(|a| a.account.clone()),
            refund_tel: account.map(|a| a.mobile.clone()),
            ..PaymentCancelCreate::default()
        };
        match self.call(store, Method::POST, &["payments", "cancel"], Some(&body)).await {
            Ok(value) => snapshot_from_payment(value),
            // Iamport gives its checksum refusal no code of its own: it is one
            // when the payment's balance is not the one we sent.
            Err(GatewayError::Rejected(message)) => match self.fetch_payment(store, uid).await {
                Ok(now) if now.remaining() != Some(request.remaining) => Err(GatewayError::BalanceMismatch(message)),
                _ => Err(GatewayError::Rejected(message)),
            },
            Err(other) => Err(other),
        }
    }

    async fn fetch_saved_card(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        customer: &SourceId,
    ) -> Result<PgCard, GatewayError> {
        // A saved card is its customer's: the customer_uid is the caller's
        // id of the card holder (as Toss binds customerKey), so nobody
        // registers another customer's card under their own record.
        if uid.as_str() != customer.as_str() {
            return Err(GatewayError::Rejected(format!(
                "the saved card's customer_uid {:?} is not source.id {:?}",
                uid.as_str(),
                customer.as_str()
            )));
        }
        let data = self.call::<()>(store, Method::GET, &["subscribe", "customers", uid.as_str()], None).await?;
        // Iamport charges a saved card by its customer_uid.
        Ok(PgCard { data, key: uid.as_str().to_owned() })
    }

    async fn charge_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        _card_data: &Value,
        request: &ChargeRequest,
    ) -> Result<ChargedPayment, GatewayError> {
        // Iamport takes no idempotency key: the merchant_uid (one paid
        // payment each) and our intent (sent again only after a lookup by it)
        // keep a charge from running twice.
        crate::AMOUNTS.write("price", request.amount, &request.currency)?;
        let body = SubscriptionAgain {
            customer_uid: card.as_str().to_owned(),
            merchant_uid: request.order_id.as_str().to_owned(),
            amount: request.amount,
            name: truncate(request.order_name.as_str(), ORDER_NAME_CHARS),
            currency: None,
            tax_free: None,
            card_quota: None,
            buyer_name: None,
            buyer_email: None,
            buyer_tel: None,
            buyer_addr: None,
            buyer_postcode: None,
            interest_free_by_merchant: None,
            use_card_point: None,
            custom_data: None,
            notice_url: None,
        };
        let value = match self.call(store, Method::POST, &["subscribe", "payments", "again"], Some(&body)).await {
            Ok(value) => value,
            // A non-zero `code` (answered 200): PortOne's reference says only
            // "check the message", and the message may be the card company's
            // connection failing after it charged. The order tells: a paid
            // payment of it is this charge (orders are charged once here);
            // none, or a failed one, is the refusal. A lookup that fails
            // leaves the outcome unknown, to be settled by the same lookup later.
            Err(GatewayError::Rejected(why)) => {
                return match self.find_by_order(store, &request.order_id).await? {
                    Some(payment) if payment.snapshot.phase == PaymentPhase::Paid => {
                        tracing::warn!(
                            pg = "Iamport",
                            store = store.as_str(),
                            "a saved-card charge answered with a non-zero code was found paid: taken as charged"
                        );
                        Ok(payment)
                    }
                    _ => Err(GatewayError::Rejected(why)),
                };
            }
            Err(other) => return Err(other),
        };
        let payment = charged(value)?;
        // Code 0 says the card company was reached; a refused card is a
        // payment whose status is `failed` (its fail_reason says why).
        if payment.snapshot.phase == PaymentPhase::Failed {
            // Its fail_reason is the card company's words: logged, not answered.
            let reason = payment.snapshot.data.get("fail_reason").and_then(Value::as_str).unwrap_or_default();
            let reason: String = reason.chars().take(payments_pg::LOGGED_PG_TEXT_CHARS).collect();
            tracing::info!(
                pg = "Iamport",
                store = store.as_str(),
                fail_reason = reason,
                "a saved-card charge was refused"
            );
            return Err(GatewayError::Rejected(
                "Iamport POST /subscribe/payments/again: the card was refused (status failed)".into(),
            ));
        }
        Ok(payment)
    }

    /// `POST /payments/prepare` `{merchant_uid, amount, currency}` (amount in
    /// the currency's major unit): Iamport's window (`IMP.request_pay`) then
    /// stops before the PG's window for another amount or currency of that
    /// `merchant_uid`. Iamport documents no code for a `merchant_uid`
    /// prepared already (only "`code` not 0: read `message`"), and documents
    /// `PUT /payments/prepare` as the change of what `POST` registered: so a
    /// refusal is settled by what `GET /payments/prepare/{merchant_uid}`
    /// holds. The same amount and currency: locked already (a retried
    /// order). Another: moved with `PUT /payments/prepare`. Nothing prepared:
    /// the POST's refusal stands (`Rejected`).
    ///
    /// A `merchant_uid` over the documented 40 characters is `Rejected`
    /// before anything is sent.
    async fn lock_order(&self, store: &StoreId, request: &OrderLockRequest) -> Result<OrderLock, GatewayError> {
        let pg_amount = crate::AMOUNTS.write("price", request.amount, &request.currency)?;
        let merchant_uid = request.order_id.as_str();
        let length = merchant_uid.chars().count();
        if length > PREPARED_MERCHANT_UID_CHARS {
            return Err(GatewayError::Rejected(format!(
                "Iamport POST /payments/prepare takes a merchant_uid of at most {PREPARED_MERCHANT_UID_CHARS} \
                 characters; the order id has {length}"
            )));
        }
        let wanted = PaymentPrepare {
            merchant_uid: merchant_uid.to_owned(),
            amount: request.amount,
            currency: Some(request.currency.as_str().to_owned()),
        };
        let locked = OrderLock { locked: true, pg_amount };
        let segments = ["payments", "prepare"];
        let refusal = match self.call(store, Method::POST, &segments, Some(&wanted)).await {
            Ok(answer) => return prepared_as_asked(answer, &wanted, "POST /payments/prepare").map(|()| locked),
            Err(GatewayError::Rejected(refusal)) => refusal,
            Err(other) => return Err(other),
        };
        let held = match self.call::<()>(store, Method::GET, &["payments", "prepare", merchant_uid], None).await {
            Ok(answer) => answer,
            // Nothing prepared for it: the POST was refused for another reason.
            Err(GatewayError::NotFound(_) | GatewayError::Rejected(_)) => return Err(GatewayError::Rejected(refusal)),
            Err(other) => return Err(other),
        };
        if prepared_as_asked(held, &wanted, "GET /payments/prepare").is_ok() {
            return Ok(locked);
        }
        let moved = self.call(store, Method::PUT, &segments, Some(&wanted)).await?;
        prepared_as_asked(moved, &wanted, "PUT /payments/prepare").map(|()| locked)
    }

    async fn find_by_order(&self, store: &StoreId, order_id: &OrderId) -> Result<Option<ChargedPayment>, GatewayError> {
        match self.call::<()>(store, Method::GET, &["payments", "find", order_id.as_str()], None).await {
            Ok(value) => charged(value).map(Some),
            Err(GatewayError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn remove_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        card_data: &Value,
    ) -> Result<Value, GatewayError> {
        match self.call::<()>(store, Method::DELETE, &["subscribe", "customers", card.as_str()], None).await {
            // The customer_uid charges nothing without our API key; the card's
            // JSON (masked number, names) stays as the record of it.
            Ok(_) | Err(GatewayError::NotFound(_)) => Ok(card_data.clone()),
            Err(other) => Err(other),
        }
    }
}

/// Most characters Iamport takes in a payment's `name`.
const ORDER_NAME_CHARS: usize = 40;

/// Most characters of the `merchant_uid` of `POST`/`PUT /payments/prepare`
/// (the V1 document's `maxLength`).
const PREPARED_MERCHANT_UID_CHARS: usize = 40;

/// Whether Iamport's `PaymentPrepareAnnotation` (`answer`) holds what was
/// asked: the order, its amount, and its currency (a prepared amount
/// without one, `null`, takes any currency: not the lock asked for).
///
/// # Errors
/// [`GatewayError::Protocol`] naming `what` when it does not, or cannot be read.
fn prepared_as_asked(answer: Value, wanted: &PaymentPrepare, what: &str) -> Result<(), GatewayError> {
    let held: PaymentPrepare = serde_json::from_value(answer)
        .map_err(|e| GatewayError::Protocol(format!("Iamport {what}: unreadable PaymentPrepareAnnotation: {e}")))?;
    let same_currency = match (&held.currency, &wanted.currency) {
        (Some(held), Some(wanted)) => held.eq_ignore_ascii_case(wanted),
        (held, wanted) => held.is_none() && wanted.is_none(),
    };
    // Iamport's own text (its merchant_uid, its currency) is named, never quoted.
    let differs = if held.merchant_uid != wanted.merchant_uid {
        "the merchant_uid"
    } else if held.amount != wanted.amount {
        "the amount"
    } else if !same_currency {
        "the currency"
    } else {
        return Ok(());
    };
    Err(GatewayError::Protocol(format!("Iamport {what}: {differs} prepared is not the one asked")))
}

/// The payment an Iamport answer describes, with its `imp_uid` as our uid.
fn charged(value: Value) -> Result<ChargedPayment, GatewayError> {
    let uid = value.get("imp_uid").and_then(Value::as_str).unwrap_or_default();
    let uid = VendorUid::parse(uid).map_err(|e| GatewayError::Protocol(format!("Iamport payment imp_uid: {e}")))?;
    Ok(ChargedPayment { uid, snapshot: snapshot_from_payment(value)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_or_empty_pg_tids_get_distinct_stable_keys() {
        let payment = json!({
            "currency": "USD", "amount": 1000, "paid_at": 1700000000, "cancelled_at": 1700000100,
            "cancel_history": [
                {"pg_tid": "same", "amount": 100, "cancelled_at": 1700000100, "reason": ""},
                {"pg_tid": "same", "amount": 200, "cancelled_at": 1700000200, "reason": "r"},
                {"pg_tid": "", "amount": 300, "cancelled_at": 1700000300, "reason": "r"},
                {"pg_tid": "own", "amount": 1.5, "cancelled_at": 1700000400, "reason": "r"},
                {"pg_tid": "x", "cancellation_id": "cid-9", "amount": 1, "cancelled_at": 1700000500}
            ]
        });
        let snapshot = snapshot_from_payment(payment.clone()).unwrap();
        let keys: Vec<_> = snapshot.cancels.iter().map(|c| c.key.as_str().to_owned()).collect();
        assert_eq!(
            keys,
            [
                "same:1700000100:100",
                "same:1700000200:200",
                "cancel:1700000300:300",
                "own:1700000400:1.5",
                "cancellation:cid-9"
            ]
        );
        assert_eq!(snapshot.cancels[0].reason.as_str(), "-");
        assert_eq!(snapshot.cancels[3].price.to_string(), "1.5");
        assert_eq!(snapshot.data, payment);
        assert_eq!(snapshot.cancels[1].data, payment["cancel_history"][1]);
    }

    fn keys_of(cancels: &[Value]) -> Vec<String> {
        let payment = json!({"amount": 10000, "paid_at": 1700000000, "cancel_history": cancels});
        let mut keys: Vec<_> =
            snapshot_from_payment(payment).unwrap().cancels.iter().map(|c| c.key.as_str().to_owned()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn partial_cancels_sharing_the_payments_pg_tid_are_each_counted_once() {
        // Many Korean PGs repeat the payment's pg_tid on every partial cancel.
        let first = json!({"pg_tid": "T-1", "amount": 1000, "cancelled_at": 1700000100});
        let second = json!({"pg_tid": "T-1", "amount": 2000, "cancelled_at": 1700000200});
        let after_one = keys_of(std::slice::from_ref(&first));
        let after_two = keys_of(&[first.clone(), second.clone()]);
        assert!(after_two.contains(&after_one[0]), "the first cancel keeps its key when a second shares its pg_tid");
        assert_eq!(after_two, keys_of(&[second.clone(), first.clone()]), "list order does not matter");
        let payment = json!({"amount": 10000, "paid_at": 1700000000, "cancel_history": [first, second]});
        let snapshot = snapshot_from_payment(payment).unwrap();
        let refund = payments_domain::Money::sum(snapshot.cancels.iter().map(|c| &c.price)).unwrap();
        assert_eq!(refund.to_string(), "3000", "1000 + 2000, never counted twice");
        // Two cancels identical in pg_tid, time and amount are both counted, in either order.
        let twin = json!({"pg_tid": "T-1", "amount": 500, "cancelled_at": 1700000300});
        let twins = keys_of(&[twin.clone(), twin.clone()]);
        assert_eq!(twins, ["T-1:1700000300:500", "T-1:1700000300:500:2"]);
    }

    #[test]
    fn each_status_has_its_phase_and_the_order_id_is_the_merchant_uid() {
        for (status, phase) in [
            ("paid", PaymentPhase::Paid),
            ("ready", PaymentPhase::AwaitingDeposit),
            ("cancelled", PaymentPhase::Cancelled),
            ("failed", PaymentPhase::Failed),
            ("a_status_iamport_adds", PaymentPhase::Failed),
        ] {
            let payment = json!({"status": status, "merchant_uid": "order-7", "amount": 1000, "paid_at": 0});
            let snapshot = snapshot_from_payment(payment).unwrap();
            assert_eq!((snapshot.phase, snapshot.pg_status.as_str()), (phase, status));
            assert_eq!(snapshot.order_id.as_ref().map(OrderId::as_str), Some("order-7"));
        }
        let without = snapshot_from_payment(json!({"amount": 1000, "merchant_uid": " "})).unwrap();
        assert_eq!(without.order_id, None);
    }

    /// Iamport's unit: decimals in the currency's major unit (`Payment.amount`
    /// is a `number` in the V1 document; its PayPal guide: `amount: 14.2`
    /// USD), no more decimals than the currency has.
    #[test]
    fn amounts_are_major_decimals_of_the_payments_currency() {
        let payment = |currency: &str, amount: Value| json!({"currency": currency, "amount": amount, "paid_at": 0, "cancelled_at": 0, "cancel_history": []});
        for (currency, amount, price) in
            [("KRW", json!(1000), "1000"), ("JPY", json!(1000), "1000"), ("USD", json!(14.2), "14.2")]
        {
            let read = snapshot_from_payment(payment(currency, amount.clone())).unwrap();
            assert_eq!(read.price.to_string(), price, "{currency}");
            let written = crate::AMOUNTS.write("price", read.price, &read.currency).unwrap();
            assert_eq!(written.to_string(), read.price.to_string(), "{currency}");
        }
        for (currency, amount) in [("KRW", json!(999.5)), ("USD", json!(14.205)), ("XAU", json!(1))] {
            let refused = snapshot_from_payment(payment(currency, amount)).unwrap_err();
            assert!(matches!(&refused, GatewayError::Protocol(m) if m.contains("amount")), "{currency}: {refused:?}");
        }
    }

    /// A payment listing more cancels than one payment may have is refused as
    /// a protocol error naming the count; up to the bound it is read.
    #[test]
    fn more_cancels_than_one_payment_may_have_are_refused_naming_the_count() {
        let payment = |count: usize| {
            let cancels: Vec<Value> = (0..count)
                .map(|i| json!({"pg_tid": format!("T-{i}"), "amount": 1, "cancelled_at": 1700000100}))
                .collect();
            json!({"status": "paid", "amount": 100000, "paid_at": 1700000000, "cancel_history": cancels})
        };
        let refused = snapshot_from_payment(payment(5_000)).unwrap_err();
        assert!(matches!(&refused, GatewayError::OutOfBounds(m) if m.contains("5000 cancels")), "{refused:?}");
        let read = snapshot_from_payment(payment(payments_pg::MAX_CANCELS)).unwrap();
        assert_eq!(read.cancels.len(), payments_pg::MAX_CANCELS);
    }

    #[test]
    fn zero_times_are_none_and_the_amount_is_exact() {
        let snapshot = snapshot_from_payment(
            json!({"currency": "usd", "amount": 12.34, "paid_at": 0, "cancelled_at": 0, "cancel_history": []}),
        )
        .unwrap();
        assert_eq!(snapshot.paid_at, None);
        assert_eq!(snapshot.cancelled_at, None);
        assert_eq!(snapshot.price.to_string(), "12.34");
        assert_eq!(snapshot.currency.as_str(), "USD");
        assert!(matches!(snapshot_from_payment(json!({"amount": "x"})), Err(GatewayError::Protocol(_))));
    }

    #[test]
    fn reads_a_real_iamport_payment_with_nulls_and_extra_fields() {
        // Shaped like the real PG's answer: nulls where the SDK says string,
        // fields the SDK does not list, and a cancel with its cancellation_id.
        let payment: Value = serde_json::from_str(
            r#"{
            "amount": 5000, "apply_num": "", "bank_code": null, "bank_name": null, "buyer_addr": "",
            "buyer_email": "a@b.c", "buyer_name": "Kim", "buyer_postcode": "", "buyer_tel": "010",
            "cancel_amount": 1000, "cancel_history": [{
                "pg_tid": "StdpayCARDINIpayTest20240101", "amount": 1000, "cancelled_at": 1704067300,
                "reason": "partial", "cancellation_id": "c_1", "receipt_url": "https://r"
            }],
            "cancel_reason": "partial", "cancel_receipt_urls": ["https://r"], "cancelled_at": 1704067300,
            "card_code": "361", "card_name": "BC", "card_number": "910003*********5", "card_quota": 0,
            "card_type": 0, "cash_receipt_issued": false, "channel": "pc", "currency": "KRW",
            "custom_data": null, "customer_uid": null, "customer_uid_usage": null, "emb_pg_provider": null,
            "escrow": false, "fail_reason": null, "failed_at": 0, "imp_uid": "imp_123456789012",
            "merchant_uid": "order_1", "name": "Order", "paid_at": 1704067200, "pay_method": "card",
            "pg_id": "INIpayTest", "pg_provider": "html5_inicis", "pg_tid": "StdpayCARDINIpayTest20240101",
            "receipt_url": "https://r", "started_at": 1704067100, "status": "paid", "user_agent": "ua",
            "vbank_code": null, "vbank_date": 0, "vbank_holder": null, "vbank_issued_at": 0,
            "vbank_name": null, "vbank_num": null
        }"#,
        )
        .unwrap();
        let snapshot = snapshot_from_payment(payment.clone()).unwrap();
        assert_eq!(snapshot.data, payment);
        assert_eq!(snapshot.price, "5000".parse().unwrap());
        assert_eq!(snapshot.cancels.len(), 1);
        assert_eq!(snapshot.cancels[0].key.as_str(), "cancellation:c_1", "Iamport's own id of the cancel");
        assert_eq!(snapshot.cancels[0].created_at.timestamp(), 1_704_067_300);
        assert_eq!(snapshot.paid_at.unwrap().timestamp(), 1_704_067_200);
        // The real envelope says `message: null` on success.
        let envelope: IamportResponse<Value> =
            serde_json::from_value(json!({"code": 0, "message": null, "response": payment})).unwrap();
        assert_eq!(envelope.code, 0);
        assert_eq!(envelope.message, None);
    }

    #[test]
    fn debug_hides_secrets() {
        let config = IamportConfig::new("http://x").with_store("s", IamportCredentials::new("key", "very-secret"));
        assert!(!format!("{config:?}").contains("very-secret"));
        let gateway = IamportGateway::new(config).unwrap();
        assert!(!format!("{gateway:?}").contains("very-secret"));
        assert!(IamportGateway::new(IamportConfig::new("not a url")).is_err());
    }
}
