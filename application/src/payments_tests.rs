//! Every payment use case against mocks of every port, failure paths included.

use std::sync::Arc;

use mockall::predicate::*;
use payments_domain::*;
use serde_json::json;

use super::*;
use crate::commands::*;
use crate::ports::*;
use crate::test_support::*;
use crate::{Cause, Received, Taken};

/// The mocks of one test; `service()` consumes them.
struct Mocks {
    gateway: MockPaymentGateway,
    histories: MockHistoryRepository,
    reservations: MockSavedCardRepository,
    hasher: MockPasswordHasher,
    policy: WebhookUrlPolicy,
    intents: Arc<MemoryIntents>,
    charges: Arc<crate::memory::MemoryCharges>,
    inbox: Arc<crate::memory::MemoryInbox>,
    receipts: Arc<dyn NotificationReceipts>,
    attempts: Arc<crate::memory::MemoryAttempts>,
    orders: OrderBinding,
    /// Orders (none unless a test stores some: see `service`).
    payment_orders: MockOrderRepository,
    /// The clock, in seconds after `at(0)`.
    now: Arc<std::sync::atomic::AtomicI64>,
    /// The bounds on notification-triggered PG reads (none by default).
    rereads: crate::reread::RereadLimits,
    /// The clock is the wall clock instead (a test that waits on real time).
    wall_clock: bool,
}

impl Mocks {
    fn new() -> Self {
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| Ok(hash()));
        hasher.expect_verify().returning(|p, _| Ok(p.expose() == "secret password"));
        Self {
            gateway: MockPaymentGateway::new(),
            histories: MockHistoryRepository::new(),
            reservations: MockSavedCardRepository::new(),
            hasher,
            policy: WebhookUrlPolicy::AnyHost,
            intents: Arc::default(),
            charges: Arc::default(),
            inbox: Arc::default(),
            receipts: Arc::new(crate::memory::MemoryReceipts::default()),
            attempts: Arc::default(),
            orders: OrderBinding::SourceId,
            payment_orders: MockOrderRepository::new(),
            now: Arc::new(std::sync::atomic::AtomicI64::new(100)),
            rereads: crate::reread::RereadLimits { min_interval: std::time::Duration::ZERO, per_second: u32::MAX },
            wall_clock: false,
        }
    }

    fn service(self) -> PaymentService {
        let mut clock = MockClock::new();
        let now = self.now.clone();
        if self.wall_clock {
            clock.expect_now().returning(|| payments_domain::to_millis(chrono::Utc::now()));
        } else {
            clock.expect_now().returning(move || at(now.load(std::sync::atomic::Ordering::SeqCst)));
        }
        let mut ids = MockIdGenerator::new();
        let mut next = 10u128;
        ids.expect_new_id().returning(move || {
            next += 1;
            uuid::Uuid::from_u128(next)
        });
        // After a test's own expectations, which mockall tries first: no order.
        let mut payment_orders = self.payment_orders;
        payment_orders.expect_find_order_by_source().returning(|_, _| Ok(None));
        payment_orders.expect_pending_orders_for().returning(|_, _, _| Ok(vec![]));
        payment_orders.expect_pending_orders().returning(|_, _| Ok(vec![]));
        PaymentService::new(PaymentDeps {
            payment_orders: Arc::new(payment_orders),
            gateways: Gateways::new().with(VendorCode::Iamport, Arc::new(self.gateway)),
            histories: Arc::new(self.histories),
            reservations: Arc::new(self.reservations),
            hasher: Arc::new(self.hasher),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
            webhook_urls: Arc::new(self.policy),
            intents: self.intents,
            charges: self.charges,
            intent_lease: std::time::Duration::from_secs(25),
            inbox: self.inbox,
            rereads: self.rereads,
            max_kept_notifications: u64::MAX,
            receipts: self.receipts,
            attempts: self.attempts,
            passwords: PasswordPolicy::default(),
            orders: self.orders,
        })
    }

    /// No history exists yet for the vendor uid nor the source.
    fn nothing_registered(&mut self) {
        self.histories.expect_find_by_vendor().returning(|_, _| Ok(None));
        self.histories.expect_find_by_source().returning(|_, _| Ok(None));
    }

    /// The saved card of [`saved_card`] exists (with the password hash) and
    /// no payment is registered for any source yet: a charge's setting.
    fn saved_card_and_a_free_source(&mut self) {
        self.reservations
            .expect_find_by_id()
            .returning(|_| Ok(Some(StoredSavedCard { reservation: saved_card(), password_hash: hash() })));
        self.histories.expect_find_by_source().returning(|_, _| Ok(None));
    }

    fn stored(&mut self, history: PaymentHistory) {
        let stored = StoredHistory { history, password_hash: hash(), revision: Revision(3) };
        let (a, b, c) = (stored.clone(), stored.clone(), stored);
        self.histories.expect_find_by_id().returning(move |_| Ok(Some(a.clone())));
        self.histories.expect_find_by_source().returning(move |_, _| Ok(Some(b.clone())));
        self.histories.expect_find_by_vendor().returning(move |_, _| Ok(Some(c.clone())));
    }
}

fn create_input(price: &str) -> CreateHistory {
    CreateHistory {
        client: ClientId::LEGACY,
        vendor: vendor(),
        source: source(),
        price: money(price),
        password: password(),
        webhook_url: webhook_url(),
        currency: None,
    }
}

fn cancel_input(price: &str) -> crate::commands::CancelHistory {
    crate::commands::CancelHistory {
        client: ClientId::LEGACY,
        source: source(),
        password: password(),
        price: money(price),
        reason: CancelReason::parse("customer asked").unwrap(),
        account: None,
        idempotency_key: None,
    }
}

// --- create ---------------------------------------------------------------

#[tokio::test]
async fn create_registers_what_the_pg_charged() {
    let mut m = Mocks::new();
    m.nothing_registered();
    m.gateway
        .expect_fetch_payment()
        .withf(|store, uid| store.as_str() == "store-1" && uid.as_str() == "imp_123")
        .times(1)
        .returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories
        .expect_insert()
        .withf(|h, hash| {
            h.price() == money("19900") && h.created_at() == at(100) && hash.as_str().starts_with("$argon2id")
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let history = m.service().create_history(create_input("19900")).await.unwrap().into_inner();
    assert_eq!(history.vendor(), &vendor());
    assert_eq!(history.source(), &source());
    assert_eq!(history.refund(), Money::ZERO);
    assert_eq!(history.paid_at(), Some(at(1)));
}

#[tokio::test]
async fn create_with_another_price_cancels_at_the_pg_and_fails_422() {
    let mut m = Mocks::new();
    m.nothing_registered();
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, req| req.amount == money("19900") && req.remaining == money("19900"))
        .times(1)
        .returning(|_, _, _| Ok(snapshot("19900", true, vec![cancel("c", "19900", 5)])));
    m.histories.expect_insert().never();
    let err = m.service().create_history(create_input("100")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::PriceMismatch, "{err}");
    assert_eq!(err.to_string(), "price 100 is not the amount the PG charged", "the charged amount is not told");
}

#[tokio::test]
async fn create_with_a_price_its_currency_cannot_have_is_400_and_cancels_nothing() {
    let mut m = Mocks::new();
    m.nothing_registered();
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.gateway.expect_cancel_payment().never();
    m.gateway.expect_confirm_payment().never();
    m.histories.expect_insert().never();
    let err = m.service().create_history(create_input("19899.5")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::InvalidField, "{err}");
}

#[tokio::test]
async fn create_in_another_currency_than_the_pgs_cancels_at_the_pg_and_fails_422() {
    let mut m = Mocks::new();
    m.nothing_registered();
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.gateway.expect_cancel_payment().times(1).returning(|_, _, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_insert().never();
    let dollars = CreateHistory { currency: Some(Currency::parse("USD").unwrap()), ..create_input("19900") };
    let err = m.service().create_history(dollars).await.unwrap_err();
    assert_eq!(
        (err.cause(), err.to_string()),
        (Cause::CurrencyMismatch, "currency USD is not the currency the PG charged in".to_owned())
    );

    let mut m = Mocks::new();
    m.nothing_registered();
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.gateway.expect_cancel_payment().never();
    m.histories.expect_insert().times(1).returning(|_, _| Ok(()));
    let won = CreateHistory { currency: Some(Currency::krw()), ..create_input("19900") };
    assert!(m.service().create_history(won).await.is_ok());
}

/// A snapshot of a payment the PG made for `order`.
fn snapshot_of_order(order: Option<&str>) -> PaymentSnapshot {
    PaymentSnapshot { order_id: order.map(|o| OrderId::parse(o).unwrap()), ..snapshot("19900", true, vec![]) }
}

#[tokio::test]
async fn create_for_a_payment_of_another_order_is_422_and_nothing_is_confirmed_or_cancelled() {
    for (order, message) in [
        (
            Some("someone-elses-order"),
            "source.id: payment imp_123 of iamport was made for another order (its order id at the PG must be source.id)",
        ),
        (None, "vendor.uid: iamport reports no order id for payment imp_123, so it cannot be bound to source.id"),
    ] {
        let mut m = Mocks::new();
        m.nothing_registered();
        let theirs = snapshot_of_order(order);
        m.gateway.expect_fetch_payment().times(2).returning(move |_, _| Ok(theirs.clone()));
        m.gateway.expect_confirm_payment().never();
        m.gateway.expect_cancel_payment().never();
        m.histories.expect_insert().never();
        // A wrong price too: the stranger's payment is not refunded either way.
        let service = m.service();
        for price in ["19900", "100"] {
            let err = service.create_history(create_input(price)).await.unwrap_err();
            assert_eq!(
                (err.cause(), err.to_string()),
                (Cause::OrderMismatch, message.to_owned()),
                "{order:?} at {price}"
            );
        }
    }
}

#[tokio::test]
async fn unbound_orders_register_any_order_and_a_mismatch_is_refused_without_cancelling() {
    let mut m = Mocks::new();
    m.orders = OrderBinding::Off;
    m.nothing_registered();
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot_of_order(Some("another-order"))));
    m.gateway.expect_cancel_payment().never();
    m.histories.expect_insert().times(1).returning(|_, _| Ok(()));
    let service = m.service();
    let err = service.create_history(create_input("100")).await.unwrap_err();
    assert_eq!(
        (err.cause(), err.to_string()),
        (Cause::PriceMismatch, "price 100 is not the amount the PG charged".to_owned())
    );
    let dollars = CreateHistory { currency: Some(Currency::parse("USD").unwrap()), ..create_input("19900") };
    assert_eq!(service.create_history(dollars).await.unwrap_err().cause(), Cause::CurrencyMismatch);
    let registered = service.create_history(create_input("19900")).await.expect("any order registers").into_inner();
    assert_eq!(registered.order_id().map(OrderId::as_str), Some("another-order"));
}

#[tokio::test]
async fn create_still_fails_422_when_the_mismatch_cancel_fails() {
    let mut m = Mocks::new();
    m.nothing_registered();
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.gateway.expect_cancel_payment().times(1).returning(|_, _, _| Err(GatewayError::Unavailable("down".into())));
    m.histories.expect_insert().never();
    assert_eq!(m.service().create_history(create_input("100")).await.unwrap_err().cause(), Cause::PriceMismatch);
}

#[tokio::test]
async fn create_twice_is_409_without_calling_the_pg() {
    let mut m = Mocks::new();
    m.stored(history("19900", true));
    m.gateway.expect_fetch_payment().never();
    m.gateway.expect_cancel_payment().never();
    let err = m.service().create_history(create_input("100")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::AlreadyRegistered, "a duplicate must not cancel the first registration's payment");
}

#[tokio::test]
async fn create_for_a_taken_source_is_409() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_vendor().returning(|_, _| Ok(None));
    let taken = StoredHistory { history: history("1", true), password_hash: hash(), revision: Revision(0) };
    m.histories.expect_find_by_source().returning(move |_, _| Ok(Some(taken.clone())));
    m.gateway.expect_fetch_payment().never();
    assert_eq!(m.service().create_history(create_input("1")).await.unwrap_err().cause(), Cause::AlreadyRegistered);
}

#[tokio::test]
async fn create_race_lost_at_insert_is_409() {
    let mut m = Mocks::new();
    m.nothing_registered();
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_insert().returning(|_, _| Err(RepositoryError::Conflict("vendor.uid taken".into())));
    assert_eq!(m.service().create_history(create_input("19900")).await.unwrap_err().cause(), Cause::AlreadyRegistered);
}

#[tokio::test]
async fn create_maps_pg_failures_and_writes_nothing() {
    let cases = [
        (GatewayError::NotFound("imp_123".into()), Cause::PgNotFound),
        (GatewayError::Unavailable("connection refused".into()), Cause::PgUnavailable),
        (GatewayError::Protocol("not json".into()), Cause::PgBadAnswer),
        (GatewayError::Timeout("10s".into()), Cause::PgTimeout),
        (
            GatewayError::UnknownStore { vendor: VendorCode::Iamport, store: "store-1".into() },
            Cause::StoreNotConfigured,
        ),
    ];
    for (error, status) in cases {
        let mut m = Mocks::new();
        m.nothing_registered();
        m.gateway.expect_fetch_payment().returning(move |_, _| Err(error.clone()));
        m.histories.expect_insert().never();
        m.gateway.expect_cancel_payment().never();
        assert_eq!(m.service().create_history(create_input("1")).await.unwrap_err().cause(), status);
    }
}

#[tokio::test]
async fn create_with_a_disallowed_webhook_host_is_400() {
    let mut m = Mocks::new();
    m.policy = WebhookUrlPolicy::Hosts(vec!["shop.example".into()]);
    m.gateway.expect_fetch_payment().never();
    let err = m.service().create_history(create_input("1")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::WebhookUrlRefused);
    assert!(err.to_string().starts_with("webhook_url"), "{err}");
}

#[tokio::test]
async fn create_with_a_vendor_not_enabled_is_400() {
    let mut m = Mocks::new();
    m.nothing_registered();
    let mut input = create_input("1");
    input.vendor = Vendor::parse("toss.payments", "s", "pk").unwrap();
    assert_eq!(m.service().create_history(input).await.unwrap_err().cause(), Cause::VendorNotEnabled);
}

#[tokio::test]
async fn storage_down_is_503() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_vendor().returning(|_, _| Err(RepositoryError::Unavailable("pool timed out".into())));
    assert_eq!(m.service().create_history(create_input("1")).await.unwrap_err().cause(), Cause::StorageUnavailable);
}

// --- read -----------------------------------------------------------------

#[tokio::test]
async fn get_by_id_and_by_source_with_the_right_password() {
    let mut m = Mocks::new();
    m.stored(history("5000", true));
    let service = m.service();
    let id = HistoryId::from_uuid(uuid::Uuid::from_u128(1));
    assert_eq!(service.get_history(ClientId::LEGACY, Locator::Id(id), &password()).await.unwrap().id(), id);
    assert_eq!(service.get_history(ClientId::LEGACY, Locator::Source(source()), &password()).await.unwrap().id(), id);
}

#[tokio::test]
async fn get_with_a_wrong_password_is_403() {
    let mut m = Mocks::new();
    m.stored(history("5000", true));
    let wrong = Password::parse("guess").unwrap();
    let err = m.service().get_history(ClientId::LEGACY, Locator::Source(source()), &wrong).await.unwrap_err();
    assert_eq!(err.cause(), Cause::WrongPassword);
}

#[tokio::test]
async fn get_unknown_is_404() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_id().returning(|_| Ok(None));
    // An unknown record costs the argon2 time of a wrong password: one
    // verification against a dummy hash (made once) per lookup.
    m.hasher = MockPasswordHasher::new();
    m.hasher.expect_hash().times(1).returning(|_| Ok(hash()));
    m.hasher.expect_verify().times(3).returning(|_, _| Ok(false));
    let service = m.service();
    for n in 0..3 {
        let id = HistoryId::from_uuid(uuid::Uuid::from_u128(9 + n));
        assert_eq!(
            service.get_history(ClientId::LEGACY, Locator::Id(id), &password()).await.unwrap_err().cause(),
            Cause::RecordNotFound
        );
    }
}

#[tokio::test]
async fn wrong_passwords_lock_the_record_for_growing_times_and_the_right_one_resets() {
    use std::sync::atomic::Ordering::SeqCst;
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    let (now, attempts) = (m.now.clone(), m.attempts.clone());
    let service = m.service();
    let wrong = Password::parse("a guessed password").unwrap();
    let read = |password: Password| {
        let service = service.clone();
        async move { service.get_history(ClientId::LEGACY, Locator::Source(source()), &password).await }
    };
    for _ in 0..4 {
        assert_eq!(read(wrong.clone()).await.unwrap_err().cause(), Cause::WrongPassword);
    }
    // The right password clears the count: four more wrong ones lock nothing.
    assert!(read(password()).await.is_ok());
    assert!(attempts.rows.lock().unwrap().is_empty());
    for _ in 0..4 {
        assert_eq!(read(wrong.clone()).await.unwrap_err().cause(), Cause::WrongPassword);
    }
    // The fifth within the window locks: even the right password is refused, unchecked.
    assert_eq!(read(wrong.clone()).await.unwrap_err().cause(), Cause::WrongPassword);
    let locked = read(password()).await.unwrap_err();
    let AppError::RecordLocked { retry_after } = &locked else { panic!("{locked:?}") };
    assert_eq!((locked.cause(), retry_after.as_secs()), (Cause::RecordLocked, 60));
    now.fetch_add(30, SeqCst);
    let AppError::RecordLocked { retry_after } = read(password()).await.unwrap_err() else { panic!() };
    assert_eq!(retry_after.as_secs(), 30, "the time left");
    // Once it passes, five more wrong ones lock for twice as long.
    now.fetch_add(30, SeqCst);
    for _ in 0..5 {
        assert_eq!(read(wrong.clone()).await.unwrap_err().cause(), Cause::WrongPassword);
    }
    let AppError::RecordLocked { retry_after } = read(password()).await.unwrap_err() else { panic!() };
    assert_eq!(retry_after.as_secs(), 120);
    now.fetch_add(120, SeqCst);
    assert!(read(password()).await.is_ok(), "the right password opens it once the lock passed");
    assert!(attempts.rows.lock().unwrap().is_empty());
}

#[tokio::test]
async fn failures_older_than_the_window_do_not_count() {
    use std::sync::atomic::Ordering::SeqCst;
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    let now = m.now.clone();
    let service = m.service();
    let wrong = Password::parse("a guessed password").unwrap();
    for _ in 0..4 {
        assert_eq!(
            service.get_history(ClientId::LEGACY, Locator::Source(source()), &wrong).await.unwrap_err().cause(),
            Cause::WrongPassword
        );
    }
    now.fetch_add(16 * 60, SeqCst);
    assert_eq!(
        service.get_history(ClientId::LEGACY, Locator::Source(source()), &wrong).await.unwrap_err().cause(),
        Cause::WrongPassword
    );
    assert!(
        service.get_history(ClientId::LEGACY, Locator::Source(source()), &password()).await.is_ok(),
        "not locked: a new window"
    );
}

#[tokio::test]
async fn new_records_need_a_password_of_the_minimum_length() {
    let m = Mocks::new();
    let short = CreateHistory { password: Password::parse("short").unwrap(), ..create_input("19900") };
    let err = m.service().create_history(short).await.unwrap_err();
    assert_eq!(
        (err.cause(), err.to_string()),
        (Cause::InvalidField, "password: must be at least 8 characters".to_owned())
    );
}

// --- cancel ---------------------------------------------------------------

#[tokio::test]
async fn partial_cancel_records_the_change_and_its_event() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| {
            r.amount == money("2000") && r.remaining == money("10000") && r.reason.as_str() == "customer asked"
        })
        .times(1)
        .returning(|_, _, _| Ok(snapshot("10000", true, vec![cancel("c1", "2000", 50)])));
    m.histories
        .expect_save_change()
        .withf(|rev, next, event| {
            *rev == Revision(3)
                && next.refund() == money("2000")
                && event.previous().unwrap().refund() == Money::ZERO
                && event.current() == next
                && event.trigger()["type"] == "cancel"
                && event.trigger().get("account").is_none()
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let after = m.service().cancel_history(cancel_input("2000")).await.unwrap();
    assert_eq!(after.refund(), money("2000"));
    assert_eq!(after.remaining(), money("8000"));
    assert_eq!(after.cancelled_at(), Some(at(50)));
}

#[tokio::test]
async fn cancel_above_the_balance_is_422_and_the_pg_is_not_called() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway.expect_cancel_payment().never();
    m.histories.expect_save_change().never();
    let err = m.service().cancel_history(cancel_input("10001")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::CancelExceedsBalance);
    let err = Mocks { ..mocks_with(history("10000", true)) }.service().cancel_history(cancel_input("0")).await;
    assert_eq!(err.unwrap_err().cause(), Cause::CancelNotPositive);
}

#[tokio::test]
async fn a_cancel_of_half_a_won_is_400_and_the_pg_is_not_called() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway.expect_cancel_payment().never();
    m.histories.expect_save_change().never();
    let err = m.service().cancel_history(cancel_input("0.5")).await.unwrap_err();
    assert_eq!(
        (err.cause(), err.to_string().contains("KRW amounts are whole numbers")),
        (Cause::InvalidField, true),
        "{err}"
    );
}

fn mocks_with(h: PaymentHistory) -> Mocks {
    let mut m = Mocks::new();
    m.stored(h);
    m.gateway.expect_cancel_payment().never();
    m
}

#[tokio::test]
async fn cancel_with_a_wrong_password_is_403_and_the_pg_is_not_called() {
    let mut m = mocks_with(history("10000", true));
    m.histories.expect_save_change().never();
    let mut input = cancel_input("1");
    input.password = Password::parse("nope").unwrap();
    assert_eq!(m.service().cancel_history(input).await.unwrap_err().cause(), Cause::WrongPassword);
}

#[tokio::test]
async fn cancel_refused_by_the_pg_is_422_and_nothing_is_written() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway
        .expect_cancel_payment()
        .returning(|_, _, _| Err(GatewayError::Rejected("refund account required".into())));
    // A refusal that is not about the balance stands: the PG is not re-read.
    m.gateway.expect_fetch_payment().never();
    m.histories.expect_save_change().never();
    let intents = m.intents.clone();
    let err = m.service().cancel_history(cancel_input("10")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::PgRejected);
    assert!(err.to_string().contains("refund account"), "{err}");
    let intent = &intents.all()[0];
    assert_eq!(intent.state, IntentState::Refused, "the lock is released");
    assert!(intent.refusal.as_deref().unwrap().contains("refund account"));
}

#[tokio::test]
async fn cancel_retries_when_a_concurrent_change_committed_first() {
    let mut m = Mocks::new();
    let original = history("10000", true);
    // The first read is the original; after the conflict the re-read shows the
    // other request's cancel already applied.
    let Applied::Changed(with_other) = original.apply(snapshot("10000", true, vec![cancel("c0", "1000", 40)])).unwrap()
    else {
        panic!()
    };
    let first = StoredHistory { history: original, password_hash: hash(), revision: Revision(3) };
    let reread = StoredHistory { history: with_other, password_hash: hash(), revision: Revision(4) };
    let under_lock = first.clone();
    m.histories.expect_find_by_source().returning(move |_, _| Ok(Some(first.clone())));
    // Under the cancel lock the record is as read; the other change commits
    // while the PG is called.
    let mut by_id = mockall::Sequence::new();
    m.histories.expect_find_by_id().times(1).in_sequence(&mut by_id).returning(move |_| Ok(Some(under_lock.clone())));
    m.histories.expect_find_by_id().times(1).in_sequence(&mut by_id).returning(move |_| Ok(Some(reread.clone())));
    m.gateway
        .expect_cancel_payment()
        .returning(|_, _, _| Ok(snapshot("10000", true, vec![cancel("c0", "1000", 40), cancel("c1", "2000", 50)])));
    let mut seq = mockall::Sequence::new();
    m.histories
        .expect_save_change()
        .withf(|rev, _, _| *rev == Revision(3))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(RepositoryError::Stale));
    m.histories
        .expect_save_change()
        .withf(|rev, next, event| {
            *rev == Revision(4) && next.refund() == money("3000") && event.previous().unwrap().refund() == money("1000")
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    let after = m.service().cancel_history(cancel_input("2000")).await.unwrap();
    assert_eq!(after.refund(), money("3000"));
    assert_eq!(after.cancels().len(), 2);
}

/// A cancel recorded after this cancel read the record and before it took
/// the payment's cancel lock (another request, maybe on another instance):
/// the balance is judged again under the lock, the PG is not called, the
/// lock is given back, and a retry with the same key says the same.
#[tokio::test]
async fn a_cancel_recorded_between_the_read_and_the_lock_is_judged_under_the_lock_without_a_pg_call() {
    let mut m = Mocks::new();
    let original = history("10000", true);
    let Applied::Changed(after_other) =
        original.apply(snapshot("10000", true, vec![cancel("c0", "6000", 40)])).unwrap()
    else {
        panic!()
    };
    let read = StoredHistory { history: original, password_hash: hash(), revision: Revision(3) };
    let now = StoredHistory { history: after_other, password_hash: hash(), revision: Revision(4) };
    m.histories.expect_find_by_source().returning(move |_, _| Ok(Some(read.clone())));
    m.histories.expect_find_by_id().returning(move |_| Ok(Some(now.clone())));
    m.gateway.expect_cancel_payment().never();
    m.gateway.expect_fetch_payment().never();
    m.histories.expect_save_change().never();
    let intents = m.intents.clone();
    let service = m.service();
    for _ in 0..2 {
        let error = service.cancel_history(keyed_cancel("6000", "key-1")).await.unwrap_err();
        assert_eq!(error.cause(), Cause::CancelExceedsBalance, "{error}");
    }
    let all = intents.all();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].state, IntentState::Refused, "closed: the payment's cancel lock is free");
    // Its outcome is settled: a retry holding up behind the first request's
    // claim on the key may take it over.
    assert!(service.cancel_settled(ClientId::LEGACY, &source(), "key-1").await.unwrap());
    assert!(!service.cancel_settled(ClientId::LEGACY, &source(), "another key").await.unwrap());
}

/// Unchanged under the lock, the cancel goes on with the balance it read.
#[tokio::test]
async fn a_record_unchanged_under_the_lock_is_cancelled_against_the_balance_read() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway
        .expect_cancel_payment()
        .times(1)
        .withf(|_, _, request| request.remaining == money("10000"))
        .returning(|_, _, _| Ok(snapshot("10000", true, vec![cancel("c1", "6000", 50)])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let after = m.service().cancel_history(cancel_input("6000")).await.unwrap();
    assert_eq!(after.refund(), money("6000"));
}

#[tokio::test]
async fn cancel_refused_for_a_stale_balance_is_resent_against_the_fresh_one() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    let mut seq = mockall::Sequence::new();
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| r.remaining == money("10000"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(GatewayError::BalanceMismatch("refundableAmount differs".into())));
    // Another cancel of 1000 went first at the PG.
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(snapshot("10000", true, vec![cancel("c0", "1000", 40)])));
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| {
            r.remaining == money("9000")
                && r.amount == money("2000")
                && r.idempotency_key.as_deref().unwrap().ends_with("-1")
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(snapshot("10000", true, vec![cancel("c0", "1000", 40), cancel("c1", "2000", 50)])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let after = m.service().cancel_history(cancel_input("2000")).await.unwrap();
    assert_eq!(after.refund(), money("3000"));
}

#[tokio::test]
async fn cancel_refused_for_a_stale_balance_that_no_longer_fits_is_422() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway
        .expect_cancel_payment()
        .times(1)
        .returning(|_, _, _| Err(GatewayError::BalanceMismatch("refundableAmount differs".into())));
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .returning(|_, _| Ok(snapshot("10000", true, vec![cancel("c0", "9000", 40)])));
    m.histories.expect_save_change().never();
    let err = m.service().cancel_history(cancel_input("2000")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::CancelExceedsBalance, "{err}");
}

#[tokio::test]
async fn cancel_pg_timeout_is_504_and_leaves_the_intent_unknown() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway.expect_cancel_payment().returning(|_, _, _| Err(GatewayError::Timeout("10s".into())));
    m.histories.expect_save_change().never();
    let intents = m.intents.clone();
    assert_eq!(m.service().cancel_history(cancel_input("10")).await.unwrap_err().cause(), Cause::PgTimeout);
    assert_eq!(intents.all()[0].state, IntentState::Unknown);
}

fn keyed_cancel(price: &str, key: &str) -> crate::commands::CancelHistory {
    crate::commands::CancelHistory { idempotency_key: Some(key.into()), ..cancel_input(price) }
}

#[tokio::test]
async fn a_lost_answer_retried_with_its_key_is_settled_by_re_reading_and_never_resent() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    // Toss refunded, but the answer was lost: our timeout fired.
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| r.idempotency_key.is_some() && r.remaining == money("10000"))
        .times(1)
        .returning(|_, _, _| Err(GatewayError::Timeout("10s".into())));
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .returning(|_, _| Ok(snapshot("10000", true, vec![cancel("c1", "2000", 150)])));
    m.histories
        .expect_save_change()
        .withf(|_, next, event| next.refund() == money("2000") && event.trigger()["type"] == "cancel")
        .times(1)
        .returning(|_, _, _| Ok(()));
    let intents = m.intents.clone();
    let service = m.service();
    assert_eq!(service.cancel_history(keyed_cancel("2000", "k-1")).await.unwrap_err().cause(), Cause::PgTimeout);
    let after = service.cancel_history(keyed_cancel("2000", "k-1")).await.unwrap();
    assert_eq!(after.refund(), money("2000"), "refunded once");
    let intent = &intents.all()[0];
    assert_eq!((intent.state, intent.cancel_key.as_ref().map(CancelKey::as_str)), (IntentState::Done, Some("c1")));
}

/// A full cancel whose answer was lost, settled in the background (the PG
/// shows it, it is recorded): the caller's retry with its key answers the
/// refund, not "over the balance" (the balance it left is zero).
#[tokio::test]
async fn a_full_cancel_settled_in_the_background_is_its_retrys_answer_not_a_balance_refusal() {
    let mut m = Mocks::new();
    let paid = history("10000", true);
    let Applied::Changed(refunded) = paid.apply(snapshot("10000", true, vec![cancel("c1", "10000", 150)])).unwrap()
    else {
        panic!()
    };
    let current =
        Arc::new(std::sync::Mutex::new(StoredHistory { history: paid, password_hash: hash(), revision: Revision(3) }));
    let (by_source, by_id, saved) = (current.clone(), current.clone(), current.clone());
    m.histories.expect_find_by_source().returning(move |_, _| Ok(Some(by_source.lock().unwrap().clone())));
    m.histories.expect_find_by_id().returning(move |_| Ok(Some(by_id.lock().unwrap().clone())));
    m.histories.expect_save_change().times(1).returning(move |_, next, _| {
        *saved.lock().unwrap() = StoredHistory { history: next.clone(), password_hash: hash(), revision: Revision(4) };
        Ok(())
    });
    m.gateway.expect_cancel_payment().times(1).returning(|_, _, _| Err(GatewayError::Timeout("10s".into())));
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .returning(|_, _| Ok(snapshot("10000", true, vec![cancel("c1", "10000", 150)])));
    let now = m.now.clone();
    let service = m.service();
    let lost = service.cancel_history(keyed_cancel("10000", "k-1")).await.unwrap_err();
    assert_eq!(lost.cause(), Cause::PgTimeout);
    now.fetch_add(60, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(service.settle_open_cancels(10).await.unwrap().settled, 1);
    assert_eq!(current.lock().unwrap().history.refund(), refunded.refund());
    let retried = service.cancel_history(keyed_cancel("10000", "k-1")).await.unwrap();
    assert_eq!(retried.refund(), money("10000"), "the first attempt's refund, answered");
}

#[tokio::test]
async fn a_lost_answer_the_pg_shows_nothing_of_is_resent_with_the_same_key_and_balance() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    let keys = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = keys.clone();
    let mut calls = 0;
    m.gateway.expect_cancel_payment().times(2).returning(move |_, _, r| {
        seen.lock().unwrap().push((r.idempotency_key.clone().unwrap(), r.remaining));
        calls += 1;
        if calls == 1 {
            Err(GatewayError::Unavailable("connection reset".into()))
        } else {
            Ok(snapshot("10000", true, vec![cancel("c1", "2000", 150)]))
        }
    });
    m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("10000", true, vec![])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let service = m.service();
    assert_eq!(service.cancel_history(keyed_cancel("2000", "k-1")).await.unwrap_err().cause(), Cause::PgUnavailable);
    assert_eq!(service.cancel_history(keyed_cancel("2000", "k-1")).await.unwrap().refund(), money("2000"));
    let keys = keys.lock().unwrap();
    assert_eq!(keys[0], keys[1], "the same PG idempotency key and balance: the PG refunds it at most once");
}

#[tokio::test]
async fn our_failure_after_the_pg_said_yes_is_settled_by_the_retry_without_a_second_refund() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway
        .expect_cancel_payment()
        .times(1)
        .returning(|_, _, _| Ok(snapshot("10000", true, vec![cancel("c1", "2000", 150)])));
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .returning(|_, _| Ok(snapshot("10000", true, vec![cancel("c1", "2000", 150)])));
    let mut seq = mockall::Sequence::new();
    m.histories
        .expect_save_change()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(RepositoryError::Unavailable("down".into())));
    m.histories.expect_save_change().times(1).in_sequence(&mut seq).returning(|_, _, _| Ok(()));
    let service = m.service();
    assert_eq!(
        service.cancel_history(keyed_cancel("2000", "k-1")).await.unwrap_err().cause(),
        Cause::StorageUnavailable
    );
    assert_eq!(service.cancel_history(keyed_cancel("2000", "k-1")).await.unwrap().refund(), money("2000"));
}

#[tokio::test]
async fn a_done_cancel_retried_is_answered_without_calling_the_pg() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway
        .expect_cancel_payment()
        .times(1)
        .returning(|_, _, _| Ok(snapshot("10000", true, vec![cancel("c1", "2000", 150)])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let service = m.service();
    service.cancel_history(keyed_cancel("2000", "k-1")).await.unwrap();
    // The stored history in these mocks stays the original; what matters is the PG is not asked again.
    assert!(service.cancel_history(keyed_cancel("2000", "k-1")).await.is_ok());
    let other = service.cancel_history(keyed_cancel("3000", "k-1")).await.unwrap_err();
    assert_eq!(other.cause(), Cause::IdempotencyKeyReused, "the key was used for another cancel: {other}");
}

#[tokio::test]
async fn an_unknown_intent_of_another_request_is_settled_before_a_new_cancel_is_sent() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    let mut seq = mockall::Sequence::new();
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| r.amount == money("1000"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(GatewayError::Timeout("10s".into())));
    // The next cancel finds the first unknown: the PG shows it done.
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(snapshot("10000", true, vec![cancel("c1", "1000", 150)])));
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| r.amount == money("2000"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(snapshot("10000", true, vec![cancel("c1", "1000", 150), cancel("c2", "2000", 160)])));
    m.histories.expect_save_change().times(2).returning(|_, _, _| Ok(()));
    let intents = m.intents.clone();
    let service = m.service();
    assert_eq!(service.cancel_history(cancel_input("1000")).await.unwrap_err().cause(), Cause::PgTimeout);
    service.cancel_history(cancel_input("2000")).await.unwrap();
    let keys: Vec<_> =
        intents.all().iter().map(|i| (i.state, i.cancel_key.clone().map(|k| k.as_str().to_owned()))).collect();
    assert_eq!(keys, [(IntentState::Done, Some("c1".into())), (IntentState::Done, Some("c2".into()))]);
}

// --- confirmation at registration -------------------------------------------

fn awaiting_confirmation(price: &str) -> PaymentSnapshot {
    PaymentSnapshot {
        phase: PaymentPhase::AwaitingConfirmation,
        pg_status: "IN_PROGRESS".into(),
        ..snapshot(price, false, vec![])
    }
}

#[tokio::test]
async fn an_authenticated_payment_is_confirmed_with_a_stable_key_then_registered() {
    let keys = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    for _ in 0..2 {
        let mut m = Mocks::new();
        m.nothing_registered();
        m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(awaiting_confirmation("19900")));
        let seen = keys.clone();
        m.gateway
            .expect_confirm_payment()
            .withf(|store, uid, request| {
                store.as_str() == "store-1"
                    && uid.as_str() == "imp_123"
                    && request.order_id.as_str() == "order-1"
                    && request.amount == money("19900")
                    && request.idempotency_key.len() <= 300
            })
            .times(1)
            .returning(move |_, _, request| {
                seen.lock().unwrap().push(request.idempotency_key.clone());
                Ok(snapshot("19900", true, vec![]))
            });
        m.histories.expect_insert().times(1).returning(|_, _| Ok(()));
        let history = m.service().create_history(create_input("19900")).await.unwrap().into_inner();
        assert_eq!(history.paid_at(), Some(at(1)));
        assert_eq!(history.order_id().map(OrderId::as_str), Some("order-1"));
    }
    let keys = keys.lock().unwrap();
    assert_eq!(keys[0], keys[1], "a retried registration sends the same PG idempotency key");
}

#[tokio::test]
async fn an_authenticated_payment_with_another_price_is_422_and_never_confirmed_nor_cancelled() {
    let mut m = Mocks::new();
    m.nothing_registered();
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(awaiting_confirmation("19900")));
    m.gateway.expect_confirm_payment().never();
    m.gateway.expect_cancel_payment().never();
    m.histories.expect_insert().never();
    let err = m.service().create_history(create_input("100")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::PriceMismatch);
}

#[tokio::test]
async fn a_confirmation_refused_by_the_pg_is_422_and_a_failed_one_502_with_nothing_written() {
    for (error, status) in [
        (GatewayError::Rejected("card refused (REJECT_CARD_COMPANY)".into()), Cause::PgRejected),
        (GatewayError::Unavailable("500".into()), Cause::PgUnavailable),
        (GatewayError::Timeout("10s".into()), Cause::PgTimeout),
    ] {
        let mut m = Mocks::new();
        m.nothing_registered();
        m.gateway.expect_fetch_payment().returning(|_, _| Ok(awaiting_confirmation("19900")));
        let error = error.clone();
        m.gateway.expect_confirm_payment().times(1).returning(move |_, _, _| Err(error.clone()));
        m.histories.expect_insert().never();
        let err = m.service().create_history(create_input("19900")).await.unwrap_err();
        assert_eq!(err.cause(), status, "{err}");
    }
}

#[tokio::test]
async fn a_payment_that_can_never_be_paid_is_422_naming_its_status() {
    for (phase, status) in
        [(PaymentPhase::Failed, "EXPIRED"), (PaymentPhase::Failed, "failed"), (PaymentPhase::Cancelled, "CANCELED")]
    {
        let mut m = Mocks::new();
        m.nothing_registered();
        m.gateway.expect_fetch_payment().returning(move |_, _| {
            Ok(PaymentSnapshot { phase, pg_status: status.into(), ..snapshot("19900", false, vec![]) })
        });
        m.gateway.expect_cancel_payment().never();
        m.histories.expect_insert().never();
        let err = m.service().create_history(create_input("19900")).await.unwrap_err();
        assert_eq!(err.cause(), Cause::PaymentNotPayable);
        assert!(err.to_string().contains(status), "{err}");
    }
}

// --- PG notifications -----------------------------------------------------

fn notice() -> PgNotification {
    PgNotification {
        vendor: VendorCode::Iamport,
        target: NotificationTarget::Payment {
            uid: VendorUid::parse("imp_123").unwrap(),
            ignore_unknown: false,
            order: None,
        },
        payload: json!({ "imp_uid": "imp_123", "merchant_uid": "order-1", "status": "paid" }),
        signed: false,
    }
}

fn order_notice(secret: &str) -> PgNotification {
    PgNotification {
        vendor: VendorCode::Iamport,
        target: NotificationTarget::Order {
            order_id: OrderId::parse("order-1").unwrap(),
            secret: secret.to_owned(),
            ignore_unknown: false,
        },
        payload: json!({ "orderId": "order-1", "status": "DONE" }),
        signed: false,
    }
}

fn stored_at(history: PaymentHistory, revision: i64) -> StoredHistory {
    StoredHistory { history, password_hash: hash(), revision: Revision(revision) }
}

fn transmission(id: &str) -> Option<Transmission> {
    Transmission::new(id, std::time::Duration::from_secs(600))
}

fn reread(notice: &PgNotification) -> NotificationIntent {
    NotificationIntent::Reread(notice.target.clone())
}

/// While the database fails (its circuit open: it failed to take a
/// notification a moment ago), a notification is kept at once: nothing is
/// read from the database or the PG first, each of which would wait on it.
#[tokio::test]
async fn while_the_database_fails_a_notification_is_kept_at_once_without_reading_anything() {
    let m = Mocks::new();
    // No expectation on the histories nor the gateway: any call fails the test.
    let inbox = m.inbox.clone();
    inbox.database_failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let service = m.service();
    assert_eq!(service.receive_pg_notification(notice()).await.unwrap(), crate::Received::Queued);
    let kept = inbox.all();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].notice.payload["kept"], "summary", "the body is not kept");
}

#[tokio::test]
async fn a_repeated_delivery_is_acknowledged_without_a_pg_read_until_its_time_is_over() {
    let mut m = Mocks::new();
    let receipts = Arc::new(crate::memory::MemoryReceipts::default());
    m.receipts = receipts.clone();
    m.stored(history("19900", false));
    // Read for delivery-1, delivery-2, and delivery-1 once its time is over: three reads.
    m.gateway.expect_fetch_payment().times(3).returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_save_change().returning(|_, _, _| Ok(()));
    let now = m.now.clone();
    let service = m.service();
    let take = |id: &str| {
        service.take_pg_notification(
            VendorCode::Iamport,
            Proof::Unsigned,
            transmission(id),
            reread(&notice()),
            notice().payload,
        )
    };
    let processed = |taken: &Taken| matches!(taken, Taken::Received(Received::Processed(_)));

    assert!(processed(&take("delivery-1").await.unwrap()));
    assert_eq!(take("delivery-1").await.unwrap(), Taken::Repeat, "no PG read, nothing stored");
    assert_eq!(receipts.rows.lock().unwrap().len(), 1);
    assert!(processed(&take("delivery-2").await.unwrap()), "another delivery of the same body is read");
    now.fetch_add(601, std::sync::atomic::Ordering::SeqCst);
    assert!(processed(&take("delivery-1").await.unwrap()), "past its time a delivery counts as new");
    assert_eq!(take("delivery-1").await.unwrap(), Taken::Repeat, "and is remembered again");
    assert!(service.deps.inbox.claim_due(at(10_000), 10, std::time::Duration::from_secs(1)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_delivery_answered_with_an_error_is_not_remembered() {
    let mut m = Mocks::new();
    let receipts = Arc::new(crate::memory::MemoryReceipts::default());
    m.receipts = receipts.clone();
    let stored = stored_at(history("19900", false), 3);
    m.histories.expect_find_by_order().times(2).returning(move |_, _, _| Ok(vec![stored.clone()]));
    m.gateway.expect_notification_secret_matches().returning(|_, _| false);
    m.gateway.expect_fetch_payment().never();
    let service = m.service();
    let forged = order_notice("guessed");
    for _ in 0..2 {
        let err = service
            .take_pg_notification(
                VendorCode::Iamport,
                Proof::Unsigned,
                transmission("d"),
                reread(&forged),
                forged.payload.clone(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.cause(), Cause::NotificationNotProven, "refused again: the first refusal was not remembered");
    }
    assert!(receipts.rows.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_database_that_cannot_tell_whether_a_delivery_was_answered_does_not_hold_it_up() {
    let mut m = Mocks::new();
    let mut receipts = MockNotificationReceipts::new();
    receipts.expect_seen().times(1).returning(|_, _, _| Err(RepositoryError::Unavailable("down".into())));
    receipts.expect_remember().times(1).returning(|_, _, _| Err(RepositoryError::Unavailable("down".into())));
    m.receipts = Arc::new(receipts);
    m.stored(history("19900", false));
    m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let taken = m
        .service()
        .take_pg_notification(
            VendorCode::Iamport,
            Proof::Unsigned,
            transmission("d"),
            reread(&notice()),
            notice().payload,
        )
        .await
        .unwrap();
    assert!(matches!(taken, Taken::Received(Received::Processed(NotificationOutcome::Changed(_)))), "{taken:?}");
}

#[tokio::test]
async fn deliveries_with_nothing_to_do_or_no_id_are_not_looked_up() {
    let mut m = Mocks::new();
    let mut receipts = MockNotificationReceipts::new();
    receipts.expect_seen().never();
    receipts.expect_remember().never();
    m.receipts = Arc::new(receipts);
    m.stored(history("19900", true));
    m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("19900", true, vec![])));
    let service = m.service();
    let ignored = service
        .take_pg_notification(
            VendorCode::Iamport,
            Proof::Unsigned,
            transmission("d"),
            NotificationIntent::Ignore("why".into()),
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(ignored, Taken::Ignored("why".into()));
    let unnamed = service
        .take_pg_notification(VendorCode::Iamport, Proof::Unsigned, None, reread(&notice()), notice().payload)
        .await;
    assert_eq!(unnamed.unwrap(), Taken::Received(Received::Processed(NotificationOutcome::Unchanged)));
}

#[tokio::test]
async fn a_cancel_notification_finds_its_payment_by_the_cancel_key() {
    let mut m = Mocks::new();
    let stored = stored_at(history("19900", true), 3);
    m.histories
        .expect_find_by_cancel_key()
        .withf(|code, key| *code == VendorCode::Iamport && key.as_str() == "tx-cancel-1")
        .times(1)
        .returning(move |_, _| Ok(Some(stored.clone())));
    m.histories.expect_find_by_id().returning(|_| Ok(None));
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .returning(|_, _| Ok(snapshot("19900", true, vec![cancel("tx-cancel-1", "19900", 50)])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let mut notice = notice();
    notice.target = NotificationTarget::Cancel { key: CancelKey::parse("tx-cancel-1").unwrap(), ignore_unknown: false };
    let outcome = m.service().process_pg_notification(&notice).await.unwrap();
    assert!(matches!(outcome, NotificationOutcome::Changed(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_cancel_notification_for_an_unknown_cancel_is_404_or_ignored() {
    for (ignore_unknown, expected) in [(false, Err(Cause::NotRegistered)), (true, Ok(NotificationOutcome::Ignored))] {
        let mut m = Mocks::new();
        m.histories.expect_find_by_cancel_key().returning(|_, _| Ok(None));
        m.gateway.expect_fetch_payment().never();
        let mut notice = notice();
        notice.target = NotificationTarget::Cancel { key: CancelKey::parse("tx-nope").unwrap(), ignore_unknown };
        let outcome = m.service().process_pg_notification(&notice).await.map_err(|e| e.cause());
        assert_eq!(outcome, expected);
    }
}

#[tokio::test]
async fn a_notification_for_an_unknown_payment_that_may_be_ignored_is_ignored() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_vendor().returning(|_, _| Ok(None));
    m.gateway.expect_fetch_payment().never();
    let mut notice = notice();
    notice.target =
        NotificationTarget::Payment { uid: VendorUid::parse("imp_123").unwrap(), ignore_unknown: true, order: None };
    assert_eq!(m.service().process_pg_notification(&notice).await.unwrap(), NotificationOutcome::Ignored);
}

#[tokio::test]
async fn an_order_notification_with_the_pg_secret_is_re_read_and_recorded() {
    let mut m = Mocks::new();
    let stored = stored_at(history("19900", false), 3);
    m.histories
        .expect_find_by_order()
        .withf(|code, order, limit| *code == VendorCode::Iamport && order.as_str() == "order-1" && *limit > 0)
        .returning(move |_, _, _| Ok(vec![stored.clone()]));
    m.gateway.expect_notification_secret_matches().returning(|_, secret| secret == "the-secret");
    m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let outcome = m.service().process_pg_notification(&order_notice("the-secret")).await.unwrap();
    assert!(matches!(outcome, NotificationOutcome::Changed(_)));
}

#[tokio::test]
async fn an_order_notification_with_a_wrong_secret_is_403_and_changes_nothing() {
    let mut m = Mocks::new();
    let stored = stored_at(history("19900", false), 3);
    m.histories.expect_find_by_order().returning(move |_, _, _| Ok(vec![stored.clone()]));
    m.gateway.expect_notification_secret_matches().returning(|_, secret| secret == "the-secret");
    m.gateway.expect_fetch_payment().never();
    m.histories.expect_save_change().never();
    let err = m.service().process_pg_notification(&order_notice("guessed")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::NotificationNotProven);
}

#[tokio::test]
async fn an_order_notification_for_an_unknown_order_is_404() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_order().returning(|_, _, _| Ok(vec![]));
    m.gateway.expect_fetch_payment().never();
    assert_eq!(
        m.service().process_pg_notification(&order_notice("s")).await.unwrap_err().cause(),
        Cause::NotRegistered
    );
}

#[tokio::test]
async fn a_reversed_deposit_is_recorded_as_unpaid_with_one_event() {
    let mut m = Mocks::new();
    m.stored(history("19900", true));
    m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("19900", false, vec![])));
    m.histories
        .expect_save_change()
        .withf(|_, next, event| {
            next.paid_at().is_none()
                && event.previous().unwrap().paid_at().is_some()
                && event.current().paid_at().is_none()
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let outcome = m.service().process_pg_notification(&notice()).await.unwrap();
    assert!(matches!(outcome, NotificationOutcome::Changed(_)));
}

#[tokio::test]
async fn a_notification_that_lost_a_race_re_reads_the_pg_before_applying_again() {
    // The first read says paid; another change (the same deposit) commits
    // first; the second read, made after reloading, says paid too: no event.
    let mut m = Mocks::new();
    let unpaid = stored_at(history("19900", false), 3);
    let mut paid = history("19900", false).apply(snapshot("19900", true, vec![])).unwrap();
    let Applied::Changed(paid) = std::mem::replace(&mut paid, Applied::Unchanged) else { panic!("a change") };
    let paid = stored_at(paid, 4);
    m.histories.expect_find_by_vendor().returning(move |_, _| Ok(Some(unpaid.clone())));
    m.histories.expect_find_by_id().returning(move |_| Ok(Some(paid.clone())));
    m.gateway.expect_fetch_payment().times(2).returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Err(RepositoryError::Stale));
    assert_eq!(m.service().process_pg_notification(&notice()).await.unwrap(), NotificationOutcome::Unchanged);
}

#[tokio::test]
async fn a_deposit_notification_records_one_event() {
    let mut m = Mocks::new();
    m.stored(history("19900", false));
    m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories
        .expect_save_change()
        .withf(|_, next, event| {
            event.previous().unwrap().paid_at().is_none()
                && event.current().paid_at() == Some(at(1))
                && next.paid_at().is_some()
                && event.trigger()["status"] == "paid"
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let outcome = m.service().process_pg_notification(&notice()).await.unwrap();
    assert!(matches!(outcome, NotificationOutcome::Changed(_)));
}

#[tokio::test]
async fn a_notification_that_changes_nothing_records_no_event() {
    let mut m = Mocks::new();
    m.stored(history("19900", true));
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_save_change().never();
    assert_eq!(m.service().process_pg_notification(&notice()).await.unwrap(), NotificationOutcome::Unchanged);
}

#[tokio::test]
async fn a_notification_for_an_unknown_payment_is_404() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_vendor().returning(|_, _| Ok(None));
    m.gateway.expect_fetch_payment().never();
    assert_eq!(m.service().process_pg_notification(&notice()).await.unwrap_err().cause(), Cause::NotRegistered);
}

#[tokio::test]
async fn a_notification_when_the_pg_is_down_is_502_and_writes_nothing() {
    let mut m = Mocks::new();
    m.stored(history("19900", false));
    m.gateway.expect_fetch_payment().returning(|_, _| Err(GatewayError::Unavailable("503".into())));
    m.histories.expect_save_change().never();
    assert_eq!(m.service().process_pg_notification(&notice()).await.unwrap_err().cause(), Cause::PgUnavailable);
}

// --- reservations ---------------------------------------------------------

fn reservation_input() -> SaveCard {
    SaveCard {
        client: ClientId::LEGACY,
        vendor: Vendor::parse("iamport", "store-1", "order-1").unwrap(),
        source: source(),
        title: Title::parse("my card").unwrap(),
        password: password(),
    }
}

fn stored_reservation() -> StoredSavedCard {
    StoredSavedCard {
        reservation: SavedCard {
            client: ClientId::LEGACY,
            id: SavedCardId::from_uuid(uuid::Uuid::from_u128(2)),
            vendor: reservation_input().vendor,
            source: source(),
            title: Title::parse("my card").unwrap(),
            data: json!({ "customer_uid": "order-1" }),
            key_digest: Some(lookup_digest("order-1")),
            created_at: at(0),
            removed_at: None,
        },
        password_hash: hash(),
    }
}

#[tokio::test]
async fn create_reservation_reads_the_saved_card_from_the_pg() {
    let mut m = Mocks::new();
    m.reservations.expect_find_by_vendor().returning(|_, _| Ok(None));
    m.reservations.expect_find_by_source().returning(|_, _| Ok(None));
    m.gateway
        .expect_fetch_saved_card()
        .withf(|_, uid, customer| uid.as_str() == "order-1" && customer.as_str() == "order-1")
        .times(1)
        .returning(|_, _, _| {
            Ok(PgCard { data: json!({ "customer_uid": "order-1", "card_name": "BC" }), key: "key-1".into() })
        });
    m.reservations.expect_insert().times(1).returning(|_, _| Ok(()));
    let r = m.service().save_card(reservation_input()).await.unwrap();
    assert_eq!(r.data["card_name"], "BC");
    assert_eq!(r.created_at, at(100));
    assert_eq!(r.removed_at, None);
    let digest = r.key_digest.expect("the key's digest");
    assert_eq!(digest.len(), 64);
    assert!(!digest.contains("key-1"), "the key itself is not kept outside the sealed data");
}

#[tokio::test]
async fn a_card_removed_at_the_pg_is_marked_removed_by_its_key_digest() {
    let mut m = Mocks::new();
    m.reservations
        .expect_mark_removed()
        .withf(|code, digest, at_| *code == VendorCode::Iamport && digest == lookup_digest("key-1") && *at_ == at(100))
        .times(1)
        .returning(|_, _, _| Ok(1));
    let removed = m.service().process_card_removed(VendorCode::Iamport, &SecretKey("key-1".into())).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(format!("{:?}", SecretKey("key-1".into())), "SecretKey(***)");
}

#[tokio::test]
async fn create_reservation_failures() {
    // duplicate
    let mut m = Mocks::new();
    m.reservations.expect_find_by_vendor().returning(|_, _| Ok(Some(stored_reservation())));
    m.gateway.expect_fetch_saved_card().never();
    assert_eq!(m.service().save_card(reservation_input()).await.unwrap_err().cause(), Cause::AlreadyRegistered);
    // unknown at the PG, someone else's card, PG down
    for (error, status) in [
        (GatewayError::NotFound("x".into()), Cause::PgNotFound),
        (GatewayError::Rejected("customerKey differs".into()), Cause::PgRejected),
        (GatewayError::Unavailable("x".into()), Cause::PgUnavailable),
    ] {
        let mut m = Mocks::new();
        m.reservations.expect_find_by_vendor().returning(|_, _| Ok(None));
        m.reservations.expect_find_by_source().returning(|_, _| Ok(None));
        m.gateway.expect_fetch_saved_card().returning(move |_, _, _| Err(error.clone()));
        m.reservations.expect_insert().never();
        assert_eq!(m.service().save_card(reservation_input()).await.unwrap_err().cause(), status);
    }
}

#[tokio::test]
async fn get_reservation_checks_the_password() {
    let mut m = Mocks::new();
    m.reservations.expect_find_by_id().returning(|_| Ok(Some(stored_reservation())));
    m.reservations.expect_find_by_source().returning(|_, _| Ok(None));
    let service = m.service();
    let id = SavedCardId::from_uuid(uuid::Uuid::from_u128(2));
    assert_eq!(service.get_saved_card(ClientId::LEGACY, Locator::Id(id), &password()).await.unwrap().id, id);
    let wrong = Password::parse("x").unwrap();
    assert_eq!(
        service.get_saved_card(ClientId::LEGACY, Locator::Id(id), &wrong).await.unwrap_err().cause(),
        Cause::WrongPassword
    );
    assert_eq!(
        service.get_saved_card(ClientId::LEGACY, Locator::Source(source()), &password()).await.unwrap_err().cause(),
        Cause::RecordNotFound
    );
}

#[tokio::test]
async fn open_cancels_whose_sender_is_gone_are_settled_in_the_background() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    // The first sender's answer was lost; the PG did refund.
    m.gateway.expect_cancel_payment().times(1).returning(|_, _, _| Err(GatewayError::Timeout("10s".into())));
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .returning(|_, _| Ok(snapshot("10000", true, vec![cancel("c1", "2000", 150)])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let intents = m.intents.clone();
    let service = m.service();
    assert_eq!(service.cancel_history(cancel_input("2000")).await.unwrap_err().cause(), Cause::PgTimeout);
    let report = service.settle_open_cancels(10).await.unwrap();
    assert_eq!(report, crate::SettleReport { checked: 1, settled: 1, left_open: 0 });
    assert_eq!(intents.all()[0].state, IntentState::Done);
    assert_eq!(service.settle_open_cancels(10).await.unwrap().checked, 0, "nothing left open");
}

// --- the inbox of PG notifications ----------------------------------------

#[tokio::test]
async fn a_notification_for_a_payment_not_registered_yet_is_kept_and_processed_once_registered() {
    let mut m = Mocks::new();
    let registered = Arc::new(std::sync::Mutex::new(None::<StoredHistory>));
    let found = registered.clone();
    m.histories.expect_find_by_vendor().returning(move |_, _| Ok(found.lock().unwrap().clone()));
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let inbox = m.inbox.clone();
    let service = m.service();
    assert_eq!(service.receive_pg_notification(notice()).await.unwrap(), crate::Received::Queued);
    assert_eq!(inbox.all().len(), 1, "not processed, so stored before it was answered");
    // Registered meanwhile (unpaid), the retry records the payment.
    *registered.lock().unwrap() = Some(stored_at(history("19900", false), 3));
    let row = inbox.all().remove(0);
    let Some(crate::ports::InboxOutcome::RetryAt(first_retry)) = row.state else { panic!("{row:?}") };
    assert!(first_retry > row.received_at, "due a little later");
    // Due once that passed (the mocked clock stands still: make it due now).
    inbox.rows.lock().unwrap()[0].state = None;
    let report = service.process_inbox(10).await.unwrap();
    assert_eq!(report, crate::InboxReport { claimed: 1, done: 1, retrying: 0, failed: 0 });
    assert_eq!(inbox.all()[0].state, Some(crate::ports::InboxOutcome::Done));
    assert_eq!(service.process_inbox(10).await.unwrap().claimed, 0, "processed once");
}

#[tokio::test]
async fn a_notification_while_the_pg_is_down_is_taken_in_and_retried() {
    let mut m = Mocks::new();
    m.stored(history("19900", false));
    let mut seq = mockall::Sequence::new();
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Err(GatewayError::Unavailable("503".into())));
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let inbox = m.inbox.clone();
    let service = m.service();
    assert_eq!(service.receive_pg_notification(notice()).await.unwrap(), crate::Received::Queued);
    inbox.rows.lock().unwrap()[0].state = None;
    assert_eq!(service.process_inbox(10).await.unwrap().done, 1);
}

/// A PG answer past our bounds (5,000 cancels) is the same at every read: the
/// notification is refused (answered, not kept), and one stored earlier is
/// parked as failed at its first attempt, never retried for days.
#[tokio::test]
async fn a_notification_whose_payment_is_past_our_bounds_is_refused_not_retried() {
    let mut m = Mocks::new();
    m.stored(history("19900", false));
    let why = "Toss payment cancels: 5000 cancels, more than the 1000 one payment may have";
    m.gateway.expect_fetch_payment().times(2).returning(move |_, _| Err(GatewayError::OutOfBounds(why.into())));
    m.histories.expect_save_change().never();
    let inbox = m.inbox.clone();
    let service = m.service();
    assert_eq!(service.receive_pg_notification(notice()).await.unwrap(), crate::Received::Refused);
    assert!(inbox.all().is_empty(), "nothing kept for a retry");
    inbox.enqueue(&notice(), at(0), std::time::Duration::ZERO, false).await.unwrap();
    let report = service.process_inbox(10).await.unwrap();
    assert_eq!(report, crate::InboxReport { claimed: 1, done: 0, retrying: 0, failed: 1 });
    let parked = inbox.all().remove(0);
    assert_eq!(parked.state, Some(crate::ports::InboxOutcome::Failed));
    assert!(parked.last_error.unwrap_or_default().contains("5000 cancels"));
}

/// A notification whose PG read must wait a moment for the PG's budget of
/// reads (here 10 a second) waits for it as it comes, and is processed then;
/// it is not sent to the inbox, whose worker would take it a second later.
#[tokio::test]
async fn a_notification_that_waits_a_moment_for_its_read_is_processed_as_it_comes() {
    let mut m = Mocks::new();
    m.rereads = crate::reread::RereadLimits { min_interval: std::time::Duration::ZERO, per_second: 10 };
    m.wall_clock = true;
    m.stored(history("19900", true));
    m.gateway.expect_fetch_payment().times(11).returning(|_, _| Ok(snapshot("19900", true, vec![])));
    let inbox = m.inbox.clone();
    let service = m.service();
    let started = std::time::Instant::now();
    // A burst of ten is in the budget; the eleventh waits about 100 ms for it.
    for n in 0..11 {
        let received = service.receive_pg_notification(notice()).await.unwrap();
        assert!(matches!(received, crate::Received::Processed(_)), "notification {n}: {received:?}");
    }
    assert!(inbox.all().is_empty(), "none sent to the inbox");
    assert!(started.elapsed() >= std::time::Duration::from_millis(50), "the eleventh waited for the budget");
}

/// The database is down: neither processing nor the check whether it is
/// worth keeping can read it; the notification is stored anyway (the inbox
/// falls back to its spool), never answered 503 for that alone.
#[tokio::test]
async fn a_notification_while_the_database_is_down_is_kept_whatever_it_is_about() {
    for notice in [
        PgNotification {
            target: NotificationTarget::Payment {
                uid: VendorUid::parse("imp_123").unwrap(),
                ignore_unknown: true,
                order: None,
            },
            ..notice()
        },
        order_notice("the-secret"),
    ] {
        let mut m = Mocks::new();
        let down = || RepositoryError::Unavailable("connection refused".into());
        m.histories.expect_find_by_vendor().returning(move |_, _| Err(down()));
        m.histories.expect_find_by_order().returning(move |_, _, _| Err(down()));
        m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
        let inbox = m.inbox.clone();
        let service = m.service();
        assert_eq!(service.receive_pg_notification(notice.clone()).await.unwrap(), crate::Received::Queued);
        assert_eq!(inbox.all().len(), 1, "stored for the worker: {:?}", notice.target);
    }
}

#[tokio::test]
async fn a_notification_processed_at_once_is_not_stored_and_a_forged_one_is_refused() {
    let mut m = Mocks::new();
    m.stored(history("19900", false));
    m.gateway.expect_fetch_payment().returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let stored = stored_at(history("19900", false), 3);
    m.histories.expect_find_by_order().returning(move |_, _, _| Ok(vec![stored.clone()]));
    m.gateway.expect_notification_secret_matches().returning(|_, secret| secret == "the-secret");
    let inbox = m.inbox.clone();
    let service = m.service();
    assert!(matches!(
        service.receive_pg_notification(notice()).await.unwrap(),
        crate::Received::Processed(NotificationOutcome::Changed(_))
    ));
    assert!(inbox.all().is_empty(), "processed before it was answered: nothing to keep, no write of its own");
    let forged = service.receive_pg_notification(order_notice("guessed")).await.unwrap_err();
    assert_eq!(forged.cause(), Cause::NotificationNotProven);
    assert!(inbox.all().is_empty(), "a forgery is not stored");
}

// --- the reconciler ---------------------------------------------------------

fn reconcile_options(dry_run: bool) -> crate::ReconcileOptions {
    crate::ReconcileOptions { since: at(0), dry_run, limit: 100, pace: std::time::Duration::ZERO }
}

#[tokio::test]
async fn the_reconciler_records_a_drift_once_and_a_dry_run_records_nothing() {
    for dry_run in [true, false] {
        let mut m = Mocks::new();
        m.stored(history("19900", false));
        let id = history("19900", false).id();
        m.histories
            .expect_reconcile_candidates()
            .returning(move |_, after, _| Ok(if after.is_none() { vec![id] } else { vec![] }));
        // Paid at the PG without a notification reaching us.
        m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("19900", true, vec![])));
        m.histories
            .expect_save_change()
            .withf(|_, _, event| event.trigger()["type"] == "reconcile")
            .times(usize::from(!dry_run))
            .returning(|_, _, _| Ok(()));
        let report = m.service().reconcile(reconcile_options(dry_run)).await.unwrap();
        assert_eq!((report.checked, report.drifted, report.fixed), (1, 1, usize::from(!dry_run)), "dry run {dry_run}");
    }
}

#[tokio::test]
async fn the_reconciler_goes_on_past_a_pg_failure_and_respects_its_limit() {
    let mut m = Mocks::new();
    m.stored(history("19900", true));
    let ids: Vec<_> = (0..3).map(|n| HistoryId::from_uuid(uuid::Uuid::from_u128(100 + n))).collect();
    m.histories
        .expect_reconcile_candidates()
        .returning(move |_, after, _| Ok(if after.is_none() { ids.clone() } else { vec![] }));
    let mut calls = 0;
    m.gateway.expect_fetch_payment().times(2).returning(move |_, _| {
        calls += 1;
        if calls == 1 { Err(GatewayError::Timeout("10s".into())) } else { Ok(snapshot("19900", true, vec![])) }
    });
    let options = crate::ReconcileOptions { limit: 2, ..reconcile_options(false) };
    let report = m.service().reconcile(options).await.unwrap();
    assert_eq!((report.checked, report.failed, report.drifted), (2, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_cancel_waiting_on_an_unknown_intent_it_cannot_settle_is_409_after_a_bounded_wait() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    // Another request's cancel: its answer was lost.
    m.gateway.expect_cancel_payment().times(1).returning(|_, _, _| Err(GatewayError::Timeout("10s".into())));
    // The PG stays unreadable, so that intent cannot be settled.
    m.gateway.expect_fetch_payment().returning(|_, _| Err(GatewayError::Unavailable("503".into())));
    m.histories.expect_save_change().never();
    let intents = m.intents.clone();
    let service = m.service();
    assert_eq!(service.cancel_history(cancel_input("1000")).await.unwrap_err().cause(), Cause::PgTimeout);
    let ours = service.cancel_history(cancel_input("2000")).await.unwrap_err();
    assert_eq!(ours.cause(), Cause::CancelInProgress, "not the other request's outcome, and not a loop: {ours}");
    assert_eq!(intents.all().len(), 1, "ours was never sent");
}

#[tokio::test]
async fn a_cancel_behind_another_refused_one_is_sent_and_not_answered_with_its_refusal() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    let mut seq = mockall::Sequence::new();
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| r.amount == money("1000"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(GatewayError::Timeout("10s".into())));
    // Settled by the next cancel: the PG shows nothing, so it is sent again and refused.
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(snapshot("10000", true, vec![])));
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| r.amount == money("1000"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(GatewayError::Rejected("card company refused".into())));
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| r.amount == money("2000"))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(snapshot("10000", true, vec![cancel("c2", "2000", 160)])));
    m.histories.expect_save_change().times(1).returning(|_, _, _| Ok(()));
    let service = m.service();
    assert_eq!(service.cancel_history(cancel_input("1000")).await.unwrap_err().cause(), Cause::PgTimeout);
    let ours = service.cancel_history(cancel_input("2000")).await.unwrap();
    assert_eq!(ours.refund(), money("2000"));
}

// ---------------------------------------------------------------- saved-card charges

fn saved_card() -> SavedCard {
    SavedCard {
        client: ClientId::LEGACY,
        id: SavedCardId::from_uuid(uuid::Uuid::from_u128(7)),
        vendor: Vendor::parse("iamport", "store-1", "customer-1").unwrap(),
        source: Source::parse("shop", "customers", "customer-1").unwrap(),
        title: Title::parse("monthly plan").unwrap(),
        data: json!({ "customer_uid": "customer-1" }),
        key_digest: None,
        created_at: at(1),
        removed_at: None,
    }
}

fn charge_command(key: &str) -> ChargeSavedCard {
    ChargeSavedCard {
        client: ClientId::LEGACY,
        reservation: Locator::Id(saved_card().id),
        password: password(),
        source: source(),
        price: money("1000"),
        title: Title::parse("December").unwrap(),
        webhook_url: webhook_url(),
        idempotency_key: key.to_owned(),
    }
}

/// A charge whose answer was lost (504) is never sent again by its retry:
/// the retry looks the order up at the PG, finds the payment the first
/// attempt made, and records it once, pointing at the card.
#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_settled_by_looking_the_order_up_not_by_charging_again() {
    let mut m = Mocks::new();
    let card = saved_card();
    m.reservations
        .expect_find_by_id()
        .returning(move |_| Ok(Some(StoredSavedCard { reservation: saved_card(), password_hash: hash() })));
    m.histories.expect_find_by_source().returning(|_, _| Ok(None));
    m.gateway
        .expect_charge_saved_card()
        .times(1)
        .withf(|_, card, _, request| {
            card.as_str() == "customer-1"
                && request.order_id.as_str() == "order-1"
                && request.idempotency_key.starts_with("payments-charge-")
        })
        .returning(|_, _, _, _| Err(GatewayError::Timeout("lost".into())));
    m.gateway.expect_find_by_order().times(1).returning(|_, _| {
        Ok(Some(ChargedPayment {
            uid: VendorUid::parse("imp_charged").unwrap(),
            snapshot: snapshot("1000", true, vec![]),
        }))
    });
    m.histories.expect_insert().times(1).returning(|_, _| Ok(()));
    let charges = Arc::new(crate::memory::MemoryCharges::default());
    m.charges = charges.clone();
    let service = m.service();

    let first = service.charge_saved_card(charge_command("key-1")).await.unwrap_err();
    assert_eq!(first.cause(), Cause::PgTimeout);
    assert_eq!(charges.rows.lock().unwrap()[0].state, IntentState::Unknown);

    // The retry, once the sender's lease is over (an unknown intent needs none).
    let history = service.charge_saved_card(charge_command("key-1")).await.unwrap();
    assert_eq!(history.vendor().uid.as_str(), "imp_charged");
    assert_eq!(history.identity().reservation_id, Some(card.id));
    let intent = charges.rows.lock().unwrap()[0].clone();
    assert_eq!((intent.state, intent.history), (IntentState::Done, Some(history.id())));

    // Another key for the same order is refused without calling the PG.
    assert_eq!(service.charge_saved_card(charge_command("key-2")).await.unwrap_err().cause(), Cause::AlreadyRegistered);
}

/// A charge whose answer was lost and whose caller never came back: once its
/// lease is over the reconciler looks the order up at the PG, records the
/// payment the charge made (pointing at the card, opening with its password)
/// and announces it with one event; a later retry with the key answers it.
#[tokio::test]
async fn an_abandoned_charge_found_at_the_pg_is_recorded_and_announced_by_the_reconciler() {
    let mut m = Mocks::new();
    m.saved_card_and_a_free_source();
    m.gateway.expect_charge_saved_card().times(1).returning(|_, _, _, _| Err(GatewayError::Timeout("lost".into())));
    m.gateway.expect_find_by_order().times(1).returning(|_, order| {
        assert_eq!(order.as_str(), "order-1");
        Ok(Some(ChargedPayment {
            uid: VendorUid::parse("imp_charged").unwrap(),
            snapshot: snapshot("1000", true, vec![]),
        }))
    });
    let recorded = Arc::new(std::sync::Mutex::new(None::<PaymentHistory>));
    let inserted = recorded.clone();
    m.histories.expect_insert().times(1).returning(move |h, _| {
        *inserted.lock().unwrap() = Some(h.clone());
        Ok(())
    });
    m.histories
        .expect_save_change()
        .times(1)
        .withf(|revision, next, event| {
            *revision == Revision(0)
                && event.current() == next
                && event.previous().is_none()
                && event.trigger()["type"] == "charge_recorded"
        })
        .returning(|_, _, _| Ok(()));
    let by_id = recorded.clone();
    m.histories.expect_find_by_id().returning(move |_| {
        Ok(by_id.lock().unwrap().clone().map(|history| StoredHistory {
            history,
            password_hash: hash(),
            revision: Revision(1),
        }))
    });
    let charges = m.charges.clone();
    let now = m.now.clone();
    let service = m.service();

    let lost = service.charge_saved_card(charge_command("key-1")).await.unwrap_err();
    assert_eq!(lost.cause(), Cause::PgTimeout);
    // Within the lease the sender may still be at work: left alone.
    assert_eq!(service.settle_abandoned_charges(10).await.unwrap(), ChargeSettleReport::default());
    now.fetch_add(60, std::sync::atomic::Ordering::SeqCst);
    let report = service.settle_abandoned_charges(10).await.unwrap();
    assert_eq!((report.checked, report.recorded, report.not_charged, report.left_open), (1, 1, 0, 0));
    let history = recorded.lock().unwrap().clone().expect("recorded");
    assert_eq!(
        (history.vendor().uid.as_str(), history.identity().reservation_id),
        ("imp_charged", Some(saved_card().id))
    );
    assert_eq!(history.webhook_url(), &webhook_url());
    let intent = charges.rows.lock().unwrap()[0].clone();
    assert_eq!((intent.state, intent.history), (IntentState::Done, Some(history.id())));
    // Nothing more to do; the caller's late retry answers the payment.
    assert_eq!(service.settle_abandoned_charges(10).await.unwrap().checked, 0);
    assert_eq!(service.charge_saved_card(charge_command("key-1")).await.unwrap().id(), history.id());
}

/// The reconciler recorded an abandoned charge but could not announce it
/// (the database failed in between): the intent stays open, and the next
/// run finds the payment recorded and never announced (revision 0) and
/// announces it then, once.
#[tokio::test]
async fn an_abandoned_charge_whose_announcement_failed_is_announced_by_the_next_run() {
    let mut m = Mocks::new();
    m.saved_card_and_a_free_source();
    m.gateway.expect_charge_saved_card().times(1).returning(|_, _, _, _| Err(GatewayError::Timeout("lost".into())));
    m.gateway.expect_find_by_order().times(2).returning(|_, _| {
        Ok(Some(ChargedPayment {
            uid: VendorUid::parse("imp_charged").unwrap(),
            snapshot: snapshot("1000", true, vec![]),
        }))
    });
    let recorded = Arc::new(std::sync::Mutex::new(None::<PaymentHistory>));
    let (inserted, found) = (recorded.clone(), recorded.clone());
    let mut inserts = mockall::Sequence::new();
    m.histories.expect_insert().times(1).in_sequence(&mut inserts).returning(move |h, _| {
        *inserted.lock().unwrap() = Some(h.clone());
        Ok(())
    });
    m.histories
        .expect_insert()
        .times(1)
        .in_sequence(&mut inserts)
        .returning(|_, _| Err(RepositoryError::Conflict("vendor uid taken".into())));
    m.histories.expect_find_by_vendor().returning(move |_, _| {
        Ok(found.lock().unwrap().clone().map(|history| StoredHistory {
            history,
            password_hash: hash(),
            revision: Revision(0),
        }))
    });
    let mut announcements = mockall::Sequence::new();
    m.histories
        .expect_save_change()
        .times(1)
        .in_sequence(&mut announcements)
        .returning(|_, _, _| Err(RepositoryError::Unavailable("database down".into())));
    m.histories
        .expect_save_change()
        .times(1)
        .in_sequence(&mut announcements)
        .withf(|revision, next, event| *revision == Revision(0) && event.current() == next)
        .returning(|_, _, _| Ok(()));
    let (charges, now) = (m.charges.clone(), m.now.clone());
    let service = m.service();
    service.charge_saved_card(charge_command("key-1")).await.unwrap_err();
    now.fetch_add(60, std::sync::atomic::Ordering::SeqCst);
    let first = service.settle_abandoned_charges(10).await.unwrap();
    assert_eq!((first.recorded, first.left_open), (0, 1), "recorded, not announced: left open");
    assert_eq!(charges.rows.lock().unwrap()[0].state, IntentState::Pending);
    now.fetch_add(60, std::sync::atomic::Ordering::SeqCst);
    let second = service.settle_abandoned_charges(10).await.unwrap();
    assert_eq!((second.recorded, second.left_open), (1, 0), "announced by the next run");
    assert_eq!(charges.rows.lock().unwrap()[0].state, IntentState::Done);
}

/// An abandoned charge the PG holds no payment for was never made: closed as
/// not charged, nothing recorded or announced, nothing sent.
#[tokio::test]
async fn an_abandoned_charge_the_pg_never_made_is_closed_as_not_charged() {
    let mut m = Mocks::new();
    m.saved_card_and_a_free_source();
    m.gateway.expect_charge_saved_card().times(1).returning(|_, _, _, _| Err(GatewayError::Timeout("lost".into())));
    m.gateway.expect_find_by_order().times(1).returning(|_, _| Ok(None));
    m.histories.expect_insert().never();
    m.histories.expect_save_change().never();
    let (charges, now) = (m.charges.clone(), m.now.clone());
    let service = m.service();
    service.charge_saved_card(charge_command("key-1")).await.unwrap_err();
    now.fetch_add(60, std::sync::atomic::Ordering::SeqCst);
    let report = service.settle_abandoned_charges(10).await.unwrap();
    assert_eq!((report.recorded, report.not_charged), (0, 1));
    assert_eq!(charges.rows.lock().unwrap()[0].state, IntentState::Refused);
    let retried = service.charge_saved_card(charge_command("key-1")).await.unwrap_err();
    assert!(retried.to_string().contains("not charged"), "{retried}");
}

/// A refused card leaves no history, and its retry is refused again without
/// another charge.
#[tokio::test]
async fn a_refused_charge_stores_nothing_and_is_not_sent_again() {
    let mut m = Mocks::new();
    m.saved_card_and_a_free_source();
    m.gateway
        .expect_charge_saved_card()
        .times(1)
        .returning(|_, _, _, _| Err(GatewayError::Rejected("[8325] 잔액이 부족합니다.".into())));
    m.histories.expect_insert().never();
    let service = m.service();
    for _ in 0..2 {
        let error = service.charge_saved_card(charge_command("key-1")).await.unwrap_err();
        assert_eq!(error.cause(), Cause::PgRejected);
        assert!(error.to_string().contains("잔액"), "{error}");
    }
    let card = saved_card().id;
    assert!(service.charge_settled(card, "key-1").await.unwrap(), "refused: settled");
    assert!(!service.charge_settled(card, "key-2").await.unwrap(), "never begun: not settled");
}

/// A cancel the PG accepted and has not completed (PortOne `REQUESTED`):
/// not completed, listed as pending with nothing refunded, its intent
/// accepted (the payment's cancel lock, never sent again); the settle loop
/// re-reads the PG and, once the PG completed it, records it and closes the
/// intent.
#[tokio::test]
async fn a_cancel_the_pg_accepted_is_pending_until_a_re_read_finds_it_completed() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    let mut accepted = snapshot("10000", true, vec![]);
    accepted.pending_cancels = vec![cancel("c1", "2000", 50)];
    m.gateway.expect_cancel_payment().times(1).returning(move |_, _, _| Ok(accepted.clone()));
    m.gateway
        .expect_fetch_payment()
        .times(1)
        .returning(|_, _| Ok(snapshot("10000", true, vec![cancel("c1", "2000", 60)])));
    let mut seq = mockall::Sequence::new();
    m.histories
        .expect_save_change()
        .withf(|_, next, _| next.refund() == Money::ZERO && next.pending_cancels().len() == 1)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    m.histories
        .expect_save_change()
        .withf(|_, next, _| next.refund() == money("2000") && next.pending_cancels().is_empty())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    let intents = m.intents.clone();
    let service = m.service();

    let outcome = service.cancel(cancel_input("2000")).await.unwrap();
    assert!(!outcome.completed, "accepted, not completed");
    assert_eq!((outcome.history.refund(), outcome.history.pending_cancels().len()), (Money::ZERO, 1));
    let intent = intents.rows.lock().unwrap()[0].clone();
    assert_eq!((intent.state, intent.cancel_key.as_ref().map(CancelKey::as_str)), (IntentState::Accepted, Some("c1")));
    assert!(intent.state.is_open(), "still the payment's cancel lock");

    let report = service.settle_open_cancels(10).await.unwrap();
    assert_eq!((report.checked, report.settled), (1, 1), "re-read at once, found completed");
    assert_eq!(intents.rows.lock().unwrap()[0].state, IntentState::Done);
}

/// A cancel the PG answered with a failed cancellation (PortOne `FAILED`) is
/// a refusal: 422, nothing recorded, the intent refused (the lock freed).
#[tokio::test]
async fn a_cancel_the_pg_answered_failed_is_422_and_frees_the_lock() {
    let mut m = Mocks::new();
    m.stored(history("10000", true));
    m.gateway.expect_cancel_payment().times(1).returning(|_, _, _| {
        Err(GatewayError::Rejected("PortOne answered the cancel with a FAILED cancellation".into()))
    });
    m.histories.expect_save_change().never();
    let intents = m.intents.clone();
    let err = m.service().cancel(cancel_input("2000")).await.unwrap_err();
    assert_eq!(err.cause(), Cause::PgRejected, "{err}");
    assert_eq!(intents.rows.lock().unwrap()[0].state, IntentState::Refused);
}

// ---------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------

/// An order of 19,900 won for [`source`] at Iamport, pending, expiring at `at(expires)`.
fn pending_order(expires: i64) -> StoredOrder {
    StoredOrder {
        order: PaymentOrder {
            client: ClientId::LEGACY,
            id: PaymentOrderId::from_uuid(uuid::Uuid::from_u128(7)),
            vendor_code: VendorCode::Iamport,
            store_id: StoreId::parse("store-1").unwrap(),
            source: source(),
            currency: Currency::krw(),
            price: money("19900"),
            webhook_url: webhook_url(),
            locked: true,
            pg_amount: "19900".into(),
            created_at: at(0),
            expires_at: at(expires),
            status: OrderStatus::Pending,
            closed_at: None,
        },
        password_hash: hash(),
    }
}

fn order_input() -> crate::CreateOrder {
    crate::CreateOrder {
        client: ClientId::LEGACY,
        vendor_code: VendorCode::Iamport,
        store_id: StoreId::parse("store-1").unwrap(),
        source: source(),
        price: money("19900"),
        currency: None,
        password: password(),
        webhook_url: webhook_url(),
        expires_in: None,
    }
}

/// A notification of payment imp_123 naming the order id order-1.
fn ordered_payment_notice() -> PgNotification {
    PgNotification {
        target: NotificationTarget::Payment {
            uid: VendorUid::parse("imp_123").unwrap(),
            ignore_unknown: false,
            order: Some(OrderId::parse("order-1").unwrap()),
        },
        ..notice()
    }
}

#[tokio::test]
async fn an_order_whose_lock_failed_is_not_kept() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_source().returning(|_, _| Ok(None));
    m.payment_orders.expect_insert_order().times(1).returning(|_, _| Ok(()));
    m.gateway.expect_lock_order().times(1).returning(|_, _| Err(GatewayError::Unavailable("down".into())));
    m.payment_orders.expect_remove_pending_order().times(1).returning(|_| Ok(true));
    m.payment_orders.expect_record_lock().never();
    let err = m.service().create_order(order_input()).await.unwrap_err();
    assert_eq!(err.cause(), Cause::PgUnavailable);
}

#[tokio::test]
async fn an_order_is_locked_at_the_pg_in_its_unit_and_kept_as_locked() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_source().returning(|_, _| Ok(None));
    m.payment_orders.expect_insert_order().times(1).returning(|order, _| {
        assert_eq!((order.locked, order.status.clone()), (false, OrderStatus::Pending));
        Ok(())
    });
    m.gateway
        .expect_lock_order()
        .withf(|store, r| store.as_str() == "store-1" && r.order_id.as_str() == "order-1" && r.amount == money("19900"))
        .times(1)
        .returning(|_, _| Ok(OrderLock { locked: true, pg_amount: serde_json::Number::from(19900) }));
    m.payment_orders.expect_record_lock().with(always(), eq(true), eq("19900")).times(1).returning(|_, _, _| Ok(()));
    let answered = m.service().create_order(order_input()).await.unwrap();
    assert!(answered.is_created());
    let order = answered.into_inner();
    assert_eq!((order.locked, order.expires_at), (true, at(100 + 3600)));
}

#[tokio::test]
async fn an_order_asked_again_with_other_terms_is_refused_and_with_another_password_too() {
    let mut m = Mocks::new();
    m.payment_orders.expect_find_order_by_source().returning(|_, _| Ok(Some(pending_order(9_999))));
    let service = m.service();
    let other = crate::CreateOrder { price: money("100"), ..order_input() };
    let refused = service.create_order(other).await.unwrap_err();
    assert_eq!((refused.cause(), refused.param()), (Cause::AlreadyRegistered, Some("source")));
    let stranger = crate::CreateOrder { password: Password::parse("another password").unwrap(), ..order_input() };
    assert_eq!(service.create_order(stranger).await.unwrap_err().cause(), Cause::WrongPassword);
    let again = service.create_order(order_input()).await.unwrap();
    assert!(!again.is_created(), "the same order again is the first one");
}

#[tokio::test]
async fn a_notification_completes_its_pending_order_with_one_announcement() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_vendor().returning(|_, _| Ok(None));
    m.payment_orders.expect_pending_orders_for().returning(|_, _, _| Ok(vec![pending_order(9_999)]));
    m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.payment_orders
        .expect_complete_order()
        .withf(|id, closing, history, password_hash, event| {
            *id == PaymentOrderId::from_uuid(uuid::Uuid::from_u128(7))
                && matches!(closing, OrderClosing::Completed { .. })
                && history.source() == &source()
                && history.vendor().uid.as_str() == "imp_123"
                && password_hash == &hash()
                && event.previous().is_none()
                && event.current() == history
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(()));
    let outcome = m.service().process_pg_notification(&ordered_payment_notice()).await.unwrap();
    assert!(matches!(outcome, NotificationOutcome::Changed(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_payment_made_after_its_order_expired_closes_the_order_and_is_not_recorded() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_vendor().returning(|_, _| Ok(None));
    // Expired at 0.5 s; paid at 1 s (the snapshot's paid_at).
    let mut order = pending_order(0);
    order.order.expires_at = at(0) + chrono::Duration::milliseconds(500);
    m.payment_orders.expect_pending_orders_for().returning(move |_, _, _| Ok(vec![order.clone()]));
    m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("19900", true, vec![])));
    m.payment_orders.expect_complete_order().never();
    m.payment_orders
        .expect_close_order()
        .withf(|_, status, _| *status == OrderStatus::Expired)
        .times(1)
        .returning(|_, _, _| Ok(true));
    let err = m.service().process_pg_notification(&ordered_payment_notice()).await.unwrap_err();
    assert_eq!(err.cause(), Cause::NotRegistered, "kept as a payment not registered yet");
}

#[tokio::test]
async fn a_payment_of_another_amount_for_an_order_is_cancelled_and_the_order_refused() {
    let mut m = Mocks::new();
    m.histories.expect_find_by_vendor().returning(|_, _| Ok(None));
    m.payment_orders.expect_pending_orders_for().returning(|_, _, _| Ok(vec![pending_order(9_999)]));
    m.gateway.expect_fetch_payment().times(1).returning(|_, _| Ok(snapshot("100", true, vec![])));
    m.gateway
        .expect_cancel_payment()
        .withf(|_, _, r| r.amount == money("100") && r.remaining == money("100") && r.idempotency_key.is_some())
        .times(1)
        .returning(|_, _, _| Ok(snapshot("100", true, vec![cancel("c1", "100", 2)])));
    m.payment_orders
        .expect_complete_order()
        .withf(|_, closing, history, _, event| {
            matches!(closing, OrderClosing::Refused { reason, .. } if reason.contains("100"))
                && history.refund() == money("100")
                && event.previous().is_none()
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(()));
    let outcome = m.service().process_pg_notification(&ordered_payment_notice()).await.unwrap();
    assert!(matches!(outcome, NotificationOutcome::Changed(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_registration_that_loses_to_its_orders_refusal_answers_the_refusal_not_the_refunded_payment() {
    let mut m = Mocks::new();
    // Read pending; by the time the registration looks, the order's
    // notification recorded the payment (of another amount, refunded) and
    // refused the order.
    m.payment_orders.expect_find_order_by_source().returning(|_, _| Ok(Some(pending_order(9_999))));
    let refunded = history("100", true);
    let refused = StoredOrder {
        order: PaymentOrder {
            status: OrderStatus::Refused {
                reason: "paid 100, not the order's 19900".into(),
                history: Some(refunded.id()),
            },
            ..pending_order(9_999).order
        },
        password_hash: hash(),
    };
    m.payment_orders.expect_find_order().returning(move |_| Ok(Some(refused.clone())));
    m.stored(refunded);
    m.gateway.expect_fetch_payment().never();
    let err = m.service().create_history(create_input("19900")).await.unwrap_err();
    assert_eq!((err.cause(), err.param()), (Cause::OrderMismatch, Some("price")), "{err:?}");
}
