//! The server on port 0 with in-memory ports and a fake PG, and an encrypting client.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use payments_application::ports::*;
use payments_application::{DeliveryDeps, DeliveryService, Gateways, PaymentDeps, PaymentService, WebhookUrlPolicy};
use payments_crypto::WireCipher;
use payments_domain::*;
use payments_fakekit::RunningServer;
use payments_http::{HttpState, SystemInfo};
use serde_json::{Value, json};

pub const KEY: &[u8; 32] = b"0123456789abcdef0123456789abcdef";
pub const IV: &[u8; 16] = b"fedcba9876543210";

pub fn cipher() -> WireCipher {
    WireCipher::new(KEY, IV).unwrap()
}

// ---------------------------------------------------------------- storage

#[derive(Default)]
pub struct Histories {
    rows: Mutex<Vec<StoredHistory>>,
    pub events: Mutex<Vec<WebhookEvent>>,
    pub down: Mutex<bool>,
    pub corrupt: Mutex<bool>,
}

impl Histories {
    fn check(&self) -> Result<(), RepositoryError> {
        if *self.corrupt.lock().unwrap() {
            return Err(RepositoryError::Corrupt(anyhow::anyhow!("secret detail: row 7 does not decrypt")));
        }
        if *self.down.lock().unwrap() { Err(RepositoryError::Unavailable("down".into())) } else { Ok(()) }
    }
    fn find(&self, f: impl Fn(&PaymentHistory) -> bool) -> Result<Option<StoredHistory>, RepositoryError> {
        self.check()?;
        Ok(self.rows.lock().unwrap().iter().find(|s| f(&s.history)).cloned())
    }
}

#[async_trait]
impl HistoryRepository for Histories {
    async fn insert(&self, history: &PaymentHistory, hash: &PasswordHash) -> Result<(), RepositoryError> {
        self.check()?;
        let mut rows = self.rows.lock().unwrap();
        let same_source = |s: &StoredHistory| {
            s.history.identity().client == history.identity().client && s.history.source() == history.source()
        };
        if rows.iter().any(|s| s.history.vendor() == history.vendor() || same_source(s)) {
            return Err(RepositoryError::Conflict("taken".into()));
        }
        rows.push(StoredHistory { history: history.clone(), password_hash: hash.clone(), revision: Revision(0) });
        Ok(())
    }
    async fn find_by_id(&self, id: HistoryId) -> Result<Option<StoredHistory>, RepositoryError> {
        self.find(|h| h.id() == id)
    }
    async fn find_by_source(
        &self,
        client: ClientId,
        source: &Source,
    ) -> Result<Option<StoredHistory>, RepositoryError> {
        self.find(|h| h.identity().client == client && h.source() == source)
    }
    async fn find_by_vendor(
        &self,
        code: VendorCode,
        uid: &VendorUid,
    ) -> Result<Option<StoredHistory>, RepositoryError> {
        self.find(|h| h.vendor().code == code && &h.vendor().uid == uid)
    }
    async fn reconcile_candidates(
        &self,
        since: Timestamp,
        after: Option<HistoryId>,
        limit: u32,
    ) -> Result<Vec<HistoryId>, RepositoryError> {
        self.check()?;
        let rows = self.rows.lock().unwrap();
        let mut ids: Vec<HistoryId> = rows
            .iter()
            .map(|s| &s.history)
            .filter(|h| h.paid_at().is_none() || h.created_at() >= since)
            .map(PaymentHistory::id)
            .filter(|id| after.is_none_or(|after| id.as_uuid() > after.as_uuid()))
            .collect();
        ids.sort_by_key(|id| id.as_uuid());
        ids.truncate(limit as usize);
        Ok(ids)
    }
    async fn find_by_order(
        &self,
        code: VendorCode,
        order_id: &OrderId,
        limit: u32,
    ) -> Result<Vec<StoredHistory>, RepositoryError> {
        self.check()?;
        let rows = self.rows.lock().unwrap();
        let found = rows.iter().filter(|s| s.history.vendor().code == code && s.history.order_id() == Some(order_id));
        Ok(found.take(limit as usize).cloned().collect())
    }
    async fn find_by_cancel_key(
        &self,
        code: VendorCode,
        key: &payments_domain::CancelKey,
    ) -> Result<Option<StoredHistory>, RepositoryError> {
        self.find(|h| h.vendor().code == code && h.cancels().iter().any(|c| &c.key == key))
    }
    async fn save_change(
        &self,
        expected: Revision,
        next: &PaymentHistory,
        event: &WebhookEvent,
    ) -> Result<(), RepositoryError> {
        self.check()?;
        let mut rows = self.rows.lock().unwrap();
        let row = rows.iter_mut().find(|s| s.history.id() == next.id()).ok_or(RepositoryError::Stale)?;
        if row.revision != expected {
            return Err(RepositoryError::Stale);
        }
        row.history = next.clone();
        row.revision = Revision(expected.0 + 1);
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}

#[derive(Default)]
pub struct Reservations {
    rows: Mutex<Vec<StoredSavedCard>>,
}

#[async_trait]
impl SavedCardRepository for Reservations {
    async fn mark_removed(&self, code: VendorCode, key_digest: &str, at: Timestamp) -> Result<u64, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let mut marked = 0;
        for row in rows.iter_mut().map(|s| &mut s.reservation) {
            if row.vendor.code == code && row.key_digest.as_deref() == Some(key_digest) && row.removed_at.is_none() {
                row.removed_at = Some(at);
                marked += 1;
            }
        }
        Ok(marked)
    }
    async fn remove(&self, r: &SavedCard, at: Timestamp) -> Result<bool, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let Some(row) = rows.iter_mut().find(|s| s.reservation.id == r.id) else { return Ok(false) };
        row.reservation.data = r.data.clone();
        row.reservation.removed_at = row.reservation.removed_at.or(Some(at));
        Ok(true)
    }
    async fn insert(&self, r: &SavedCard, hash: &PasswordHash) -> Result<(), RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        if rows.iter().any(|s| s.reservation.vendor == r.vendor || s.reservation.source == r.source) {
            return Err(RepositoryError::Conflict("taken".into()));
        }
        rows.push(StoredSavedCard { reservation: r.clone(), password_hash: hash.clone() });
        Ok(())
    }
    async fn find_by_id(&self, id: SavedCardId) -> Result<Option<StoredSavedCard>, RepositoryError> {
        Ok(self.rows.lock().unwrap().iter().find(|s| s.reservation.id == id).cloned())
    }
    async fn find_by_source(
        &self,
        client: ClientId,
        source: &Source,
    ) -> Result<Option<StoredSavedCard>, RepositoryError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.iter().find(|s| s.reservation.client == client && &s.reservation.source == source).cloned())
    }
    async fn find_by_vendor(
        &self,
        code: VendorCode,
        uid: &VendorUid,
    ) -> Result<Option<StoredSavedCard>, RepositoryError> {
        Ok(self
            .rows
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.reservation.vendor.code == code && &s.reservation.vendor.uid == uid)
            .cloned())
    }
}

/// Idempotency keys in memory, as the SQL store keeps them.
#[derive(Default)]
pub struct Keys {
    rows: Mutex<HashMap<(String, String), KeyRow>>,
}

/// The fingerprint of a key's body and, once done, its answer.
type KeyRow = (String, Option<StoredResponse>);

#[async_trait]
impl IdempotencyStore for Keys {
    async fn begin(
        &self,
        scope: &str,
        key: &str,
        fp: &str,
        _now: Timestamp,
        _stale_before: Timestamp,
    ) -> Result<IdempotencyClaim, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        match rows.get(&(scope.to_owned(), key.to_owned())) {
            None => {
                rows.insert((scope.to_owned(), key.to_owned()), (fp.to_owned(), None));
                Ok(IdempotencyClaim::Proceed)
            }
            Some((stored, _)) if stored != fp => Ok(IdempotencyClaim::Mismatch),
            Some((_, None)) => Ok(IdempotencyClaim::InProgress),
            Some((_, Some(response))) => Ok(IdempotencyClaim::Replay(response.clone())),
        }
    }
    async fn complete(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<(), RepositoryError> {
        if let Some(row) = self.rows.lock().unwrap().get_mut(&(scope.to_owned(), key.to_owned())) {
            row.1 = Some(response.clone());
        }
        Ok(())
    }
    async fn abandon(&self, scope: &str, key: &str) -> Result<(), RepositoryError> {
        self.rows.lock().unwrap().remove(&(scope.to_owned(), key.to_owned()));
        Ok(())
    }
    async fn purge_before(&self, _cutoff: Timestamp) -> Result<u64, RepositoryError> {
        Ok(0)
    }
}

pub struct PlainHasher;

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, password: &Password) -> anyhow::Result<PasswordHash> {
        Ok(PasswordHash::parse(format!("$plain${}", password.expose()))?)
    }
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> anyhow::Result<bool> {
        Ok(hash.as_str() == format!("$plain${}", password.expose()))
    }
}

// ---------------------------------------------------------------- the fake PG

/// A PG whose payments the test sets up; counts its calls; can be told to fail.
#[derive(Default)]
pub struct FakePg {
    pub payments: Mutex<HashMap<String, PaymentSnapshot>>,
    pub cards: Mutex<HashMap<String, Value>>,
    pub fail_with: Mutex<Option<GatewayError>>,
    pub fetches: AtomicUsize,
    pub cancels: AtomicUsize,
}

impl FakePg {
    pub fn add_payment(&self, uid: &str, price: &str) {
        self.add_payment_in(uid, price, "KRW");
    }

    /// A payment in `currency` (one with cents, for amounts with decimals).
    pub fn add_payment_in(&self, uid: &str, price: &str, currency: &str) {
        let snapshot = PaymentSnapshot {
            phase: PaymentPhase::Paid,
            pg_status: "paid".into(),
            order_id: None,
            currency: Currency::parse(currency).unwrap(),
            price: price.parse().unwrap(),
            paid_at: Some(to_millis(Utc::now())),
            cancelled_at: None,
            cancels: vec![],
            data: serde_json::from_str(&format!(r#"{{"imp_uid":"{uid}","amount":{price},"status":"paid"}}"#)).unwrap(),
            pending_cancels: Vec::new(),
            failed_cancels: Vec::new(),
        };
        self.payments.lock().unwrap().insert(uid.to_owned(), snapshot);
    }

    /// Replaces the PG's JSON of a payment.
    pub fn set_data(&self, uid: &str, data: Value) {
        self.payments.lock().unwrap().get_mut(uid).unwrap().data = data;
    }

    /// Sets the order id the PG reports for a payment.
    pub fn set_order(&self, uid: &str, order: &str) {
        self.payments.lock().unwrap().get_mut(uid).unwrap().order_id = Some(OrderId::parse(order).unwrap());
    }

    /// Records a cancel made at the PG behind our back (for webhook tests).
    pub fn cancel_behind(&self, uid: &str, amount: &str) {
        let mut payments = self.payments.lock().unwrap();
        let snapshot = payments.get_mut(uid).unwrap();
        let n = snapshot.cancels.len();
        snapshot.cancels.push(CancelHistory {
            key: CancelKey::parse(format!("behind-{n}")).unwrap(),
            price: amount.parse().unwrap(),
            reason: CancelReason::parse("by the PG").unwrap(),
            created_at: to_millis(Utc::now()),
            data: json!({}),
        });
    }

    fn failure(&self) -> Result<(), GatewayError> {
        match self.fail_with.lock().unwrap().clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl PaymentGateway for FakePg {
    /// Locks (as PortOne or Iamport do) at every store but `unknown-store`.
    async fn lock_order(
        &self,
        store: &StoreId,
        request: &payments_application::ports::OrderLockRequest,
    ) -> Result<payments_application::ports::OrderLock, GatewayError> {
        if store.as_str() == "unknown-store" {
            return Err(GatewayError::UnknownStore { vendor: VendorCode::Iamport, store: store.to_string() });
        }
        self.failure()?;
        Ok(payments_application::ports::OrderLock { locked: true, pg_amount: request.amount.to_json_number() })
    }

    async fn fetch_payment(&self, _store: &StoreId, uid: &VendorUid) -> Result<PaymentSnapshot, GatewayError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.failure()?;
        self.payments.lock().unwrap().get(uid.as_str()).cloned().ok_or_else(|| GatewayError::NotFound(uid.to_string()))
    }
    async fn cancel_payment(
        &self,
        _store: &StoreId,
        uid: &VendorUid,
        request: &CancelRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        self.failure()?;
        let mut payments = self.payments.lock().unwrap();
        let snapshot = payments.get_mut(uid.as_str()).ok_or_else(|| GatewayError::NotFound(uid.to_string()))?;
        let n = snapshot.cancels.len();
        let at = to_millis(Utc::now());
        snapshot.cancelled_at.get_or_insert(at);
        snapshot.cancels.push(CancelHistory {
            key: CancelKey::parse(format!("c{n}")).unwrap(),
            price: request.amount,
            reason: request.reason.clone(),
            created_at: at,
            data: json!({"n": n}),
        });
        Ok(snapshot.clone())
    }
    async fn confirm_payment(
        &self,
        _store: &StoreId,
        uid: &VendorUid,
        _request: &ConfirmRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        Err(GatewayError::Protocol(format!("{uid}: nothing to confirm at this fake")))
    }
    fn notification_secret_matches(&self, data: &Value, secret: &str) -> bool {
        data.get("secret").and_then(Value::as_str) == Some(secret)
    }
    async fn fetch_saved_card(
        &self,
        _store: &StoreId,
        uid: &VendorUid,
        _customer: &SourceId,
    ) -> Result<PgCard, GatewayError> {
        self.failure()?;
        let data = self
            .cards
            .lock()
            .unwrap()
            .get(uid.as_str())
            .cloned()
            .ok_or_else(|| GatewayError::NotFound(uid.to_string()))?;
        let key = data.get("billingKey").and_then(Value::as_str).unwrap_or(uid.as_str()).to_owned();
        Ok(PgCard { data, key })
    }
    async fn charge_saved_card(
        &self,
        _store: &StoreId,
        _card: &VendorUid,
        _card_data: &Value,
        request: &ChargeRequest,
    ) -> Result<ChargedPayment, GatewayError> {
        self.failure()?;
        let uid = format!("charge-{}", request.order_id);
        self.add_payment(&uid, &request.amount.to_string());
        self.set_order(&uid, request.order_id.as_str());
        let snapshot = self.payments.lock().unwrap()[&uid].clone();
        Ok(ChargedPayment { uid: VendorUid::parse(uid).unwrap(), snapshot })
    }
    async fn find_by_order(
        &self,
        _store: &StoreId,
        order_id: &OrderId,
    ) -> Result<Option<ChargedPayment>, GatewayError> {
        self.failure()?;
        let uid = format!("charge-{order_id}");
        let snapshot = self.payments.lock().unwrap().get(&uid).cloned();
        Ok(snapshot.map(|snapshot| ChargedPayment { uid: VendorUid::parse(uid).unwrap(), snapshot }))
    }
    async fn remove_saved_card(
        &self,
        _store: &StoreId,
        uid: &VendorUid,
        card_data: &Value,
    ) -> Result<Value, GatewayError> {
        self.failure()?;
        self.cards.lock().unwrap().remove(uid.as_str());
        Ok(card_data.clone())
    }
}

// ---------------------------------------------------------------- the app

pub struct TestApp {
    pub server: RunningServer,
    pub url: String,
    pub pg: Arc<FakePg>,
    pub histories: Arc<Histories>,
    pub keys: Arc<Keys>,
    pub client: reqwest::Client,
    /// PG notifications taken in (the server stores each before answering).
    pub inbox: Arc<payments_application::memory::MemoryInbox>,
}

pub struct Answer {
    pub status: u16,
    /// The decrypted body (2xx of encrypted routes) or the JSON error body.
    pub body: Value,
    pub text: String,
    pub content_type: String,
    /// The `x-request-id` header.
    pub request_id: Option<String>,
}

impl Answer {
    /// An error body without its request id, after checking that the id is
    /// the one of the `x-request-id` header.
    pub fn error_body(&self) -> Value {
        let mut body = self.body.clone();
        let id = body.as_object_mut().and_then(|b| b.remove("request_id"));
        assert_eq!(id.as_ref().and_then(Value::as_str), self.request_id.as_deref(), "{}", self.text);
        body
    }
}

fn init_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(false, None).await
}

pub async fn spawn_app_with(local_mode: bool, delivery: Option<DeliveryService>) -> TestApp {
    spawn_app_targeting(local_mode, delivery, Arc::new(WebhookUrlPolicy::AnyHost)).await
}

/// As [`spawn_app_with`], with webhooks allowed where `targets` says.
/// The secret PortOne's webhooks to the test server are signed with.
pub const PORTONE_WEBHOOK_SECRET: &str = "whsec_aHR0cC1hZGFwdGVyLXRlc3RzLXBvcnRvbmUtc2VjcmV0";

/// Standard Webhooks headers for `body`, signed under `secret` now.
pub fn signed_headers(body: &str, secret: &str) -> Vec<(&'static str, String)> {
    let at = chrono::Utc::now().timestamp();
    let signature = standardwebhooks::Webhook::new(secret).unwrap().sign("msg_test", at, body.as_bytes()).unwrap();
    vec![("webhook-id", "msg_test".to_owned()), ("webhook-timestamp", at.to_string()), ("webhook-signature", signature)]
}

pub async fn spawn_app_targeting(
    local_mode: bool,
    delivery: Option<DeliveryService>,
    targets: Arc<dyn payments_application::WebhookTargets>,
) -> TestApp {
    init_tracing();
    let pg = Arc::new(FakePg::default());
    let histories = Arc::new(Histories::default());
    let keys = Arc::new(Keys::default());
    let inbox = Arc::new(payments_application::memory::MemoryInbox::default());
    let payments = PaymentService::new(PaymentDeps {
        attempts: Arc::new(payments_application::memory::MemoryAttempts::default()),
        // These tests are about routes; the password policy and the order
        // binding are the use case's (tested there and end to end).
        passwords: payments_application::PasswordPolicy { min_chars: 1, ..Default::default() },
        orders: payments_application::OrderBinding::Off,
        gateways: Gateways::new()
            .with(VendorCode::Iamport, pg.clone())
            .with(VendorCode::TossPayments, pg.clone())
            .with(VendorCode::PortOne, pg.clone()),
        histories: histories.clone(),
        reservations: Arc::new(Reservations::default()),
        hasher: Arc::new(PlainHasher),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
        webhook_urls: targets,
        intents: Arc::new(payments_application::memory::MemoryIntents::default()),
        charges: Arc::new(payments_application::memory::MemoryCharges::default()),
        intent_lease: Duration::from_secs(25),
        inbox: inbox.clone(),
        rereads: payments_application::reread::RereadLimits {
            min_interval: std::time::Duration::ZERO,
            per_second: u32::MAX,
        },
        max_kept_notifications: u64::MAX,
        receipts: Arc::new(payments_application::memory::MemoryReceipts::default()),
        payment_orders: Arc::new(payments_application::memory::MemoryOrders::new(histories.clone())),
    });
    let state = HttpState::new(
        payments,
        delivery,
        cipher(),
        keys.clone(),
        SystemInfo::new("payments", "9.9.9", Some("abc123".into())),
        local_mode,
    )
    .with_notifications(VendorCode::Iamport, Arc::new(payments_iamport::IamportNotifications))
    .with_notifications(VendorCode::TossPayments, Arc::new(payments_toss::TossNotifications))
    .with_notifications(
        VendorCode::PortOne,
        Arc::new(payments_portone::PortOneNotifications::new(vec![payments_portone::WebhookKey {
            store_id: None,
            secret: payments_pg::SecretString::from(PORTONE_WEBHOOK_SECRET.to_owned()),
        }])),
    )
    .with_idempotency_secret(idempotency_secret());
    let server = payments_fakekit::serve(payments_http::app(state), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.url();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    TestApp { server, url, pg, histories, keys, client, inbox }
}

/// A delivery service whose outbox reports fixed counts.
pub fn delivery_with_stats() -> DeliveryService {
    let mut outbox = MockWebhookOutbox::new();
    outbox.expect_stats().returning(|_| {
        Ok(OutboxStats {
            pending: 2,
            retrying: 1,
            delivered: 5,
            failed: 0,
            oldest_pending_age: Some(Duration::from_secs(42)),
        })
    });
    delivery_over(outbox)
}

/// A delivery service whose outbox database is down.
pub fn delivery_down() -> DeliveryService {
    let mut outbox = MockWebhookOutbox::new();
    outbox.expect_stats().returning(|_| Err(RepositoryError::Unavailable("down".into())));
    delivery_over(outbox)
}

fn delivery_over(outbox: MockWebhookOutbox) -> DeliveryService {
    DeliveryService::new(DeliveryDeps {
        outbox: Arc::new(outbox),
        sender: Arc::new(MockWebhookSender::new()),
        clock: Arc::new(SystemClock),
        schedule: RetrySchedule::three_days(),
        lease: Duration::from_secs(30),
    })
}

impl TestApp {
    /// Notifications stored but not processed (waiting for a retry).
    pub fn queued(&self) -> usize {
        use payments_application::ports::InboxOutcome;
        self.inbox.all().iter().filter(|r| matches!(r.state, None | Some(InboxOutcome::RetryAt(_)))).count()
    }

    /// Sends `body` encrypted (text/plain) and decrypts a 2xx answer.
    pub async fn call(&self, method: &str, path: &str, body: Value, key: Option<&str>) -> Answer {
        let plaintext = serde_json::to_string(&body).unwrap();
        self.send_raw(method, path, cipher().encrypt(plaintext.as_bytes()).into_bytes(), key).await
    }

    /// Sends raw bytes as a text/plain body.
    pub async fn send_raw(&self, method: &str, path: &str, body: Vec<u8>, key: Option<&str>) -> Answer {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{}", self.url, path))
            .header("content-type", "text/plain")
            .body(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        Self::answer(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        Self::answer(self.client.get(format!("{}{}", self.url, path)).send().await.unwrap()).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Answer {
        Self::answer(self.client.post(format!("{}{}", self.url, path)).json(&body).send().await.unwrap()).await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        Self::answer(self.client.post(format!("{}{}", self.url, path)).form(form).send().await.unwrap()).await
    }

    pub async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = header("content-type").unwrap_or_default();
        let request_id = header("x-request-id");
        let text = response.text().await.unwrap();
        let body = if content_type.starts_with("text/plain") && (200..300).contains(&status) && !text.is_empty() {
            serde_json::from_str(&cipher().decrypt(&text).expect("an encrypted answer")).unwrap()
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        Answer { status, body, text, content_type, request_id }
    }

    /// Registers payment `uid` of `price` for source `order` and returns its JSON.
    pub async fn register(&self, uid: &str, price: &str, order: &str) -> Value {
        self.register_in(uid, price, "KRW", order).await
    }

    /// Registers a payment in `currency`.
    pub async fn register_in(&self, uid: &str, price: &str, currency: &str, order: &str) -> Value {
        self.pg.add_payment_in(uid, price, currency);
        let answer = self.call("POST", "/payments/histories", create_body(uid, price, order), None).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        answer.body
    }
}

/// The idempotency secret of the test servers.
pub fn idempotency_secret() -> payments_http::IdempotencySecret {
    payments_http::IdempotencySecret::new([42; 32])
}

pub fn source(order: &str) -> Value {
    json!({"schema": "shop", "table": "orders", "id": order})
}

pub fn create_body(uid: &str, price: &str, order: &str) -> Value {
    create_body_of("iamport", uid, price, order)
}

pub fn create_body_of(vendor: &str, uid: &str, price: &str, order: &str) -> Value {
    let price: Value = serde_json::from_str(price).unwrap();
    json!({
        "vendor": {"code": vendor, "store_id": "store-1", "uid": uid},
        "source": source(order),
        "price": price,
        "password": "secret",
        "webhook_url": "http://127.0.0.1:9/hook",
    })
}
