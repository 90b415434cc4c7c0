//! One repository suite, run against SQLite and against PostgreSQL.
//!
//! PostgreSQL tests need `PAYMENT_TEST_POSTGRES_URL` (each test gets its own
//! schema); unset, they say they did not run; set but unreachable, they fail.

#[macro_use]
mod harness;

use std::time::Duration;

use harness::*;
use payments_application::ports::{
    CancelIntent, ChargeBegin, ChargeContext, ChargeIntent, EnqueueLease, IdempotencyClaim, IntentBegin, IntentState,
    JobOutcome, LeaseToken, OrderClosing, OutboxStats, PasswordHasher, RefundAccount, RepositoryError, Revision,
    StoredOrder, StoredResponse,
};
use payments_crypto::{Argon2Hasher, Argon2Params};
use payments_domain::*;
use payments_sqlx::{Database, PoolConfig};

suite!(
    migrations_rerun_as_a_no_op,
    history_create_and_read_by_id_source_and_vendor,
    history_unique_keys_conflict,
    reservation_create_read_and_conflict,
    money_and_milliseconds_are_exact,
    save_change_applies_a_snapshot,
    a_change_saved_leased_is_claimed_by_nobody_until_its_lease_runs_out,
    unchanged_snapshot_writes_nothing_and_stale_revision_is_refused,
    cancels_are_not_duplicated,
    many_cancels_are_written_within_the_databases_bind_limits,
    failed_save_change_leaves_nothing_behind,
    concurrent_changes_yield_one_ok_and_one_stale,
    concurrent_cancels_never_refund_more_than_the_price,
    outbox_claim_lease_and_retry_bookkeeping,
    outbox_release_redeliver_failed_and_limits,
    outbox_claim_is_exclusive_between_concurrent_workers,
    concurrent_attempts_are_recorded_together_each_under_its_own_lease,
    idempotency_keys,
    key_rotation_keeps_old_rows_readable_and_reseals_them,
    tampered_or_moved_values_fail_loudly,
    an_unreadable_event_is_parked_and_does_not_block_the_queue,
    wrong_password_is_refused_and_no_password_is_stored,
    no_plaintext_card_number_anywhere,
    closed_pool_is_unavailable,
    histories_are_found_by_the_pg_order_id,
    saved_cards_are_marked_removed_by_their_key_digest,
    a_payment_has_at_most_one_open_cancel_intent,
    concurrent_intents_of_one_payment_begin_one_at_a_time,
    charge_intents_are_one_per_order_and_found_by_id,
    the_inbox_keeps_notifications_until_processed_under_leases,
    the_inbox_keeps_one_row_per_target_refreshed_by_repeats,
    reconcile_candidates_are_the_unpaid_and_the_recent_in_pages,
    settled_deliveries_are_purged_after_their_retention_with_their_attempts,
    wrong_passwords_are_counted_per_record_in_windows_and_locks,
    an_order_completes_once_with_its_history_and_its_announcement,
    sources_are_unique_per_client,
);

/// The migration that made sources unique per client.
const SOURCES_PER_CLIENT: i64 = 20261207000010;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_upgrade_to_sources_per_client_keeps_every_row() {
    let db = harness::sqlite_migrated_before(Some(SOURCES_PER_CLIENT)).await;
    tokio::time::timeout(TEST_TIMEOUT, upgrade_to_sources_per_client_keeps_every_row(&db)).await.unwrap();
    db.cleanup().await;
}

/// A SQLite database holding a row that refers to nothing (written with its
/// foreign keys off, as a hand repair might) still migrates and starts: the
/// check after the migrations counts only what they left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_dangling_rows_of_its_own_do_not_stop_it_from_migrating_or_starting() {
    let db = harness::sqlite_migrated_before(Some(SOURCES_PER_CLIENT)).await;
    let Database::Sqlite(pool) = &db.db else { unreachable!("a SQLite database") };
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await.unwrap();
    sqlx::query(
        "INSERT INTO payment_history_cancels (id, payment_history_id, cancel_key, added_revision, amount, reason, \
         data, created_at) VALUES ('c-1', 'no-such-payment', 'k', 1, '1', 'r', 'x', 1)",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await.unwrap();
    drop(conn);
    db.db.migrate().await.expect("the migrations add no dangling row: applied");
    db.db.migrate().await.expect("nothing to apply: not scanned, not refused");
    assert_eq!(db.count("payment_history_cancels").await, 1, "its row is left as it was");
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_upgrade_to_sources_per_client_keeps_every_row() {
    let test = "postgres_upgrade_to_sources_per_client_keeps_every_row";
    let Some(db) = harness::postgres_migrated_before(test, Some(SOURCES_PER_CLIENT)).await else { return };
    tokio::time::timeout(TEST_TIMEOUT, upgrade_to_sources_per_client_keeps_every_row(&db)).await.unwrap();
    db.cleanup().await;
}

/// Another client than the legacy one.
fn a_client() -> ClientId {
    ClientId::from_uuid(uuid::Uuid::now_v7())
}

/// `history` made by `client` for PG payment `uid` (its own, unique at the PG).
fn history_of(client: ClientId, uid: &str, order: &str) -> PaymentHistory {
    let h = history(uid, order, "1000", vec![]);
    PaymentHistory::register(HistoryIdentity { client, ..h.identity().clone() }, snapshot("1000", vec![])).unwrap()
}

async fn sources_are_unique_per_client(db: &TestDb) {
    let (a, b) = (a_client(), a_client());
    // Histories: one source for the legacy client, a and b; a second of any of them conflicts.
    let legacy = history("imp_legacy", "order-1", "1000", vec![]);
    let of_a = history_of(a, "imp_a", "order-1");
    let of_b = history_of(b, "imp_b", "order-1");
    for h in [&legacy, &of_a, &of_b] {
        db.repos.histories.insert(h, &hash()).await.unwrap();
    }
    for (client, uid) in [(ClientId::LEGACY, "imp_legacy_2"), (a, "imp_a_2")] {
        let again = history_of(client, uid, "order-1");
        let message = conflict_message(db.repos.histories.insert(&again, &hash()).await);
        assert!(message.starts_with("source"), "{message}");
    }
    // The PG's id stays unique across clients.
    let message = conflict_message(db.repos.histories.insert(&history_of(b, "imp_a", "order-2"), &hash()).await);
    assert!(message.starts_with("vendor.uid"), "{message}");
    for (client, expected) in [(ClientId::LEGACY, &legacy), (a, &of_a), (b, &of_b)] {
        let found = db.repos.histories.find_by_source(client, legacy.source()).await.unwrap().unwrap();
        assert_eq!(&found.history, expected);
    }
    assert!(db.repos.histories.find_by_source(a_client(), legacy.source()).await.unwrap().is_none());

    // Saved cards.
    let card = reservation("billing_legacy", "customer-1");
    let card_of_a = SavedCard { client: a, ..reservation("billing_a", "customer-1") };
    db.repos.reservations.insert(&card, &hash()).await.unwrap();
    db.repos.reservations.insert(&card_of_a, &hash()).await.unwrap();
    let again = SavedCard { client: a, ..reservation("billing_a_2", "customer-1") };
    let message = conflict_message(db.repos.reservations.insert(&again, &hash()).await);
    assert!(message.starts_with("source"), "{message}");
    assert_eq!(db.repos.reservations.find_by_source(a, &card.source).await.unwrap().unwrap().reservation, card_of_a);
    assert_eq!(
        db.repos.reservations.find_by_source(ClientId::LEGACY, &card.source).await.unwrap().unwrap().reservation,
        card
    );
    assert!(db.repos.reservations.find_by_source(b, &card.source).await.unwrap().is_none());

    // Orders.
    let orders = &db.repos.orders;
    let (legacy_order, order_of_a) = (order("order-9"), PaymentOrder { client: a, ..order("order-9") });
    orders.insert_order(&legacy_order, &hash()).await.unwrap();
    orders.insert_order(&order_of_a, &hash()).await.unwrap();
    let again = orders.insert_order(&PaymentOrder { client: a, ..order("order-9") }, &hash()).await.unwrap_err();
    assert!(matches!(again, RepositoryError::Conflict(ref m) if m.starts_with("source: ")), "{again:?}");
    let found = orders.find_order_by_source(a, &legacy_order.source).await.unwrap().unwrap();
    assert_eq!(found.order, order_of_a);
    let found = orders.find_order_by_source(ClientId::LEGACY, &legacy_order.source).await.unwrap().unwrap();
    assert_eq!(found.order, legacy_order);
    assert!(orders.find_order_by_source(b, &legacy_order.source).await.unwrap().is_none());
    // A notification of that PG order id finds both pending orders (the use case tells them apart).
    let order_id = OrderId::parse("order-9").unwrap();
    assert_eq!(orders.pending_orders_for(VendorCode::Iamport, &order_id, 8).await.unwrap().len(), 2);
}

/// Rows written before the migration (a payment with a cancel, its event and
/// delivery, a saved card, an order) are all there after it: rebuilding a
/// table on SQLite must not cascade to the rows that refer to it, and those
/// still refer to it (deleting the payment deletes its cancels).
async fn upgrade_to_sources_per_client_keeps_every_row(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![cancel("c1", "100", 20)]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let (next, event) = change(&h, snapshot("1000", vec![cancel("c1", "100", 20), cancel("c2", "200", 30)]), 60);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();
    let card = reservation("billing_1", "customer-1");
    db.repos.reservations.insert(&card, &hash()).await.unwrap();
    let pending = order("order-2");
    db.repos.orders.insert_order(&pending, &hash()).await.unwrap();
    let tables = [
        "payment_histories",
        "payment_history_cancels",
        "payment_history_webhooks",
        "payment_webhook_outbox",
        "payment_reservations",
        "payment_orders",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(db.count(table).await);
    }
    assert_eq!(before, vec![1, 2, 1, 1, 1, 1]);

    db.db.migrate().await.unwrap();
    let repos = &db.repos;
    let mut after = Vec::new();
    for table in tables {
        after.push(db.count(table).await);
    }
    assert_eq!(after, before);
    let stored = repos.histories.find_by_source(ClientId::LEGACY, h.source()).await.unwrap().unwrap();
    assert_eq!((stored.history, stored.revision), (next, Revision(1)));
    assert_eq!(
        repos.reservations.find_by_source(ClientId::LEGACY, &card.source).await.unwrap().unwrap().reservation,
        card
    );
    assert_eq!(
        repos.orders.find_order_by_source(ClientId::LEGACY, &pending.source).await.unwrap().unwrap().order,
        pending
    );
    let jobs = repos.outbox.claim_due(at(60), 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(jobs.iter().map(|j| j.event.id()).collect::<Vec<_>>(), vec![event.id()]);
    // The new key: another client may now hold the same source; the same client may not.
    repos.histories.insert(&history_of(a_client(), "imp_2", "order-1"), &hash()).await.unwrap();
    let message = conflict_message(repos.histories.insert(&history("imp_3", "order-1", "1000", vec![]), &hash()).await);
    assert!(message.starts_with("source"), "{message}");
    // The cancels still belong to their payment: they go with it (ON DELETE CASCADE).
    db.execute("DELETE FROM payment_orders WHERE source_id = 'order-2'").await;
    db.execute("DELETE FROM payment_histories WHERE source_id = 'order-1'").await;
    assert_eq!(db.count("payment_history_cancels").await, 0);
    assert_eq!(db.count("payment_history_webhooks").await, 0);
}

async fn reconcile_candidates_are_the_unpaid_and_the_recent_in_pages(db: &TestDb) {
    let paid = history("imp_paid", "order-paid", "1000", vec![]);
    let unpaid = PaymentHistory::register(
        HistoryIdentity {
            id: HistoryId::from_uuid(uuid::Uuid::now_v7()),
            vendor: Vendor::parse("iamport", "store-1", "imp_unpaid").unwrap(),
            source: Source::parse("shop", "orders", "order-unpaid").unwrap(),
            ..paid.identity().clone()
        },
        PaymentSnapshot { paid_at: None, phase: PaymentPhase::AwaitingDeposit, ..snapshot("1000", vec![]) },
    )
    .unwrap();
    db.repos.histories.insert(&paid, &hash()).await.unwrap();
    db.repos.histories.insert(&unpaid, &hash()).await.unwrap();
    // Both were registered at(0): a window from after that keeps the unpaid one only.
    let late = db.repos.histories.reconcile_candidates(at(1_000), None, 10).await.unwrap();
    assert_eq!(late, vec![unpaid.id()]);
    let mut all = db.repos.histories.reconcile_candidates(at(-1_000), None, 10).await.unwrap();
    all.sort_by_key(|id| id.as_uuid());
    let mut expected = vec![paid.id(), unpaid.id()];
    expected.sort_by_key(|id| id.as_uuid());
    assert_eq!(all, expected);
    let first = db.repos.histories.reconcile_candidates(at(-1_000), None, 1).await.unwrap();
    let rest = db.repos.histories.reconcile_candidates(at(-1_000), first.last().copied(), 10).await.unwrap();
    assert_eq!([first, rest].concat(), expected, "paged in id order");
    // A change within the window makes a paid one a candidate again.
    let (next, event) = change(&paid, snapshot("1000", vec![cancel("c1", "100", 20)]), 5_000);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();
    let mut recent = db.repos.histories.reconcile_candidates(at(1_000), None, 10).await.unwrap();
    recent.sort_by_key(|id| id.as_uuid());
    assert_eq!(recent, expected);
}

async fn the_inbox_keeps_notifications_until_processed_under_leases(db: &TestDb) {
    use payments_application::commands::{NotificationTarget, PgNotification};
    use payments_application::ports::InboxOutcome;
    let inbox = &db.repos.inbox;
    let lease = Duration::from_secs(10);
    let deposit = PgNotification {
        vendor: VendorCode::TossPayments,
        target: NotificationTarget::Order {
            order_id: OrderId::parse("order-1").unwrap(),
            secret: "ps_secret-unmistakable".into(),
            ignore_unknown: false,
        },
        payload: serde_json::json!({"orderId": "order-1", "status": "DONE"}),
        signed: false,
    };
    let id = inbox.enqueue(&deposit, at(0), lease, false).await.unwrap();
    assert!(!db.dump().await.contains("ps_secret-unmistakable"), "the secret is sealed at rest");
    // Due after its delay: nobody takes it before.
    assert!(inbox.claim_due(at(1_000), 10, lease).await.unwrap().is_empty());
    let first = inbox.claim_due(at(10_000), 10, lease).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(inbox.claim_due(at(10_001), 10, lease).await.unwrap().is_empty(), "held under its lease");
    let taken = inbox.claim_due(at(20_001), 10, lease).await.unwrap();
    assert_eq!(taken.len(), 1, "its worker died: another takes it");
    let item = &taken[0];
    assert_eq!((item.id, item.attempts, item.received_at), (id, 0, at(0)));
    assert_eq!(format!("{:?}", item.notice.target), format!("{:?}", deposit.target));
    assert_eq!(item.notice.payload, deposit.payload);
    assert!(!inbox.settle(id, first[0].lease, InboxOutcome::Done, None, at(20_002)).await.unwrap(), "a lost lease");
    let retry = InboxOutcome::RetryAt(at(30_000));
    assert!(inbox.settle(id, item.lease, retry, Some("not registered yet".into()), at(20_002)).await.unwrap());
    assert!(inbox.claim_due(at(29_999), 10, lease).await.unwrap().is_empty(), "not due yet");
    let again = inbox.claim_due(at(30_000), 10, lease).await.unwrap();
    assert_eq!(again[0].attempts, 1);
    assert!(inbox.settle(id, again[0].lease, InboxOutcome::Done, None, at(30_001)).await.unwrap());
    assert!(inbox.claim_due(at(100_000), 10, lease).await.unwrap().is_empty(), "processed once");
    assert_eq!(inbox.purge_before(at(-1)).await.unwrap(), 0);
    assert_eq!(inbox.purge_before(at(1)).await.unwrap(), 1, "processed items go after their retention");
    // A pending item is never purged.
    let payment = PgNotification {
        vendor: VendorCode::Iamport,
        target: NotificationTarget::Payment {
            uid: VendorUid::parse("imp_1").unwrap(),
            ignore_unknown: false,
            order: Some(OrderId::parse("order-1").unwrap()),
        },
        payload: serde_json::json!({"imp_uid": "imp_1"}),
        signed: false,
    };
    inbox.enqueue(&payment, at(0), lease, false).await.unwrap();
    assert_eq!(inbox.purge_before(at(1_000_000)).await.unwrap(), 0);
    assert!(inbox.claim_due(at(1_000_000), 0, lease).await.unwrap().is_empty(), "bounded by the limit");
}

/// One row per vendor and target: repeats refresh it (sooner due time,
/// newest body, `known` kept), one repeated during an attempt is attempted
/// again whatever that attempt's outcome, one processed is kept again from
/// scratch, and a deposit callback with another secret is a row of its own.
async fn the_inbox_keeps_one_row_per_target_refreshed_by_repeats(db: &TestDb) {
    use payments_application::commands::{NotificationTarget, PgNotification};
    use payments_application::ports::InboxOutcome;
    let inbox = &db.repos.inbox;
    let lease = Duration::from_secs(10);
    let seconds = |s: u64| Duration::from_secs(s);
    let notice = |status: &str| PgNotification {
        vendor: VendorCode::Iamport,
        target: NotificationTarget::Payment {
            uid: VendorUid::parse("imp_1").unwrap(),
            ignore_unknown: false,
            order: None,
        },
        payload: serde_json::json!({"imp_uid": "imp_1", "status": status}),
        signed: false,
    };
    let id = inbox.enqueue(&notice("ready"), at(0), seconds(60), true).await.unwrap();
    for n in 1..=50 {
        assert_eq!(inbox.enqueue(&notice("ready"), at(n), seconds(60), false).await.unwrap(), id);
    }
    assert_eq!(inbox.enqueue(&notice("paid"), at(100), seconds(5), false).await.unwrap(), id);
    assert_eq!(db.count("pg_notifications").await, 1, "repeats refresh the one row");
    assert!(inbox.claim_due(at(5_099), 10, lease).await.unwrap().is_empty());
    let taken = inbox.claim_due(at(5_100), 10, lease).await.unwrap();
    assert_eq!(taken.len(), 1, "due at the sooner time");
    assert_eq!((taken[0].received_at, taken[0].notice.payload["status"].as_str()), (at(100), Some("paid")));

    // Repeated while a worker holds it: its Done leaves it pending, due as the repeat asked.
    assert_eq!(inbox.enqueue(&notice("cancelled"), at(5_200), seconds(1), false).await.unwrap(), id);
    assert!(inbox.claim_due(at(6_200), 10, lease).await.unwrap().is_empty(), "still held");
    assert!(inbox.settle(id, taken[0].lease, InboxOutcome::Done, None, at(5_300)).await.unwrap());
    let again = inbox.claim_due(at(6_200), 10, lease).await.unwrap();
    assert_eq!(again.len(), 1, "attempted again after the repeat");
    assert_eq!(again[0].notice.payload["status"], "cancelled");
    assert!(inbox.settle(id, again[0].lease, InboxOutcome::Done, None, at(6_300)).await.unwrap());
    assert!(inbox.claim_due(at(100_000), 10, lease).await.unwrap().is_empty(), "processed");

    // Processed, then repeated: kept again, from its first attempt.
    assert_eq!(inbox.enqueue(&notice("paid"), at(200_000), seconds(1), false).await.unwrap(), id);
    let revived = inbox.claim_due(at(201_000), 10, lease).await.unwrap();
    assert_eq!((revived.len(), revived[0].attempts), (1, 0));
    assert_eq!(db.count("pg_notifications").await, 1);

    let deposit = |secret: &str| PgNotification {
        vendor: VendorCode::TossPayments,
        target: NotificationTarget::Order {
            order_id: OrderId::parse("order-1").unwrap(),
            secret: secret.into(),
            ignore_unknown: false,
        },
        payload: serde_json::json!({"orderId": "order-1", "status": "DONE"}),
        signed: false,
    };
    let genuine = inbox.enqueue(&deposit("the-pgs-secret"), at(0), seconds(1), false).await.unwrap();
    let forged = inbox.enqueue(&deposit("a-guess"), at(0), seconds(1), false).await.unwrap();
    assert_ne!(genuine, forged, "a forged secret never shares the genuine callback's row");
    assert_eq!(db.count("pg_notifications").await, 3);

    // The largest row a notification can make: the longest order id and
    // secret the PGs' readers take, and the kept summary of its body.
    let largest = PgNotification {
        vendor: VendorCode::TossPayments,
        target: NotificationTarget::Order {
            order_id: OrderId::parse("o".repeat(OrderId::MAX_CHARS)).unwrap(),
            secret: "s".repeat(256),
            ignore_unknown: false,
        },
        payload: serde_json::json!({"kept": "summary", "type": "t".repeat(64), "bytes": 1 << 20}),
        signed: false,
    };
    inbox.enqueue(&largest, at(0), seconds(1), false).await.unwrap();
    let longest = db.scalar("SELECT CAST(MAX(LENGTH(body)) AS BIGINT) FROM pg_notifications").await;
    assert!(longest <= 1_200, "the largest sealed body is {longest} bytes");
    println!("RESULT largest_inbox_body bytes={longest}");
}

fn intent(history: &PaymentHistory, amount: &str, account: bool) -> CancelIntent {
    CancelIntent {
        id: uuid::Uuid::now_v7(),
        history: history.id(),
        amount: money(amount),
        reason: CancelReason::parse("customer asked").unwrap(),
        refund_account: account.then(|| RefundAccount {
            bank: "088".into(),
            account: "110123456789".into(),
            holder: "Holder".into(),
            mobile: "01012345678".into(),
        }),
        remaining: history.remaining(),
        attempt: 0,
        state: IntentState::Pending,
        cancel_key: None,
        refusal: None,
        created_at: at(100),
        updated_at: at(100),
    }
}

async fn a_payment_has_at_most_one_open_cancel_intent(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let first = intent(&h, "100", true);
    assert_eq!(db.repos.intents.begin(&first).await.unwrap(), IntentBegin::Begun);
    assert_eq!(db.repos.intents.begin(&first).await.unwrap(), IntentBegin::Exists(first.clone()), "read back whole");
    let second = intent(&h, "200", false);
    assert_eq!(db.repos.intents.begin(&second).await.unwrap(), IntentBegin::Busy(first.clone()));
    assert_eq!(db.repos.intents.open(10).await.unwrap(), vec![first.clone()]);
    // The refund account is sealed at rest.
    assert!(!db.dump().await.contains("110123456789"), "the account number is not stored in clear");

    // Unknown still holds the lock; done releases it, records its cancel and drops the account.
    let mut unknown = CancelIntent { state: IntentState::Unknown, attempt: 1, updated_at: at(200), ..first.clone() };
    assert!(db.repos.intents.update(&unknown).await.unwrap());
    assert!(matches!(db.repos.intents.begin(&second).await.unwrap(), IntentBegin::Busy(i) if i == unknown));
    unknown.state = IntentState::Done;
    unknown.cancel_key = Some(CancelKey::parse("c-1").unwrap());
    assert!(db.repos.intents.update(&unknown).await.unwrap());
    assert_eq!(db.repos.intents.claimed_cancel_keys(h.id()).await.unwrap(), vec![CancelKey::parse("c-1").unwrap()]);
    let IntentBegin::Exists(done) = db.repos.intents.begin(&first).await.unwrap() else { panic!("exists") };
    assert_eq!((done.state, done.refund_account), (IntentState::Done, None), "a closed intent keeps no account");
    assert_eq!(db.repos.intents.begin(&second).await.unwrap(), IntentBegin::Begun, "the lock is free");
    assert!(db.repos.intents.open(10).await.unwrap().iter().all(|i| i.id == second.id));
    let missing = CancelIntent { id: uuid::Uuid::now_v7(), ..second.clone() };
    assert!(!db.repos.intents.update(&missing).await.unwrap());
    // Found by id, open or closed (a retry's first look).
    assert_eq!(db.repos.intents.find(first.id).await.unwrap().map(|i| i.state), Some(IntentState::Done));
    assert_eq!(db.repos.intents.find(second.id).await.unwrap(), Some(second.clone()));
    assert_eq!(db.repos.intents.find(missing.id).await.unwrap(), None);
}

async fn charge_intents_are_one_per_order_and_found_by_id(db: &TestDb) {
    let card = reservation("billing_charge", "customer-charge");
    db.repos.reservations.insert(&card, &hash()).await.unwrap();
    let first = ChargeIntent {
        id: uuid::Uuid::now_v7(),
        reservation: card.id,
        order_digest: "digest-of-order-1".into(),
        amount: money("5000"),
        state: IntentState::Pending,
        history: None,
        refusal: None,
        context: Some(ChargeContext {
            source: Source::parse("shop", "orders", "order-charge-1").unwrap(),
            webhook_url: WebhookUrl::parse("https://backend.example/hooks/payments").unwrap(),
            title: Title::parse("December plan").unwrap(),
        }),
        created_at: at(100),
        updated_at: at(100),
    };
    assert_eq!(db.repos.charges.begin_charge(&first).await.unwrap(), ChargeBegin::Begun);
    // What recording it needs is kept, sealed.
    assert!(!db.dump().await.contains("backend.example"), "the charge's context is sealed at rest");
    assert_eq!(db.repos.charges.abandoned_charges(at(100), 10).await.unwrap(), vec![], "touched at 100: not before it");
    assert_eq!(db.repos.charges.abandoned_charges(at(101), 10).await.unwrap(), vec![first.clone()]);
    let same_order = ChargeIntent { id: uuid::Uuid::now_v7(), ..first.clone() };
    assert_eq!(db.repos.charges.begin_charge(&same_order).await.unwrap(), ChargeBegin::Exists(Box::new(first.clone())));
    assert_eq!(db.repos.charges.find_charge(first.id).await.unwrap(), Some(first.clone()));
    let refused = ChargeIntent {
        state: IntentState::Refused,
        refusal: Some("declined".into()),
        updated_at: at(200),
        ..first.clone()
    };
    assert!(db.repos.charges.update_charge(&refused, at(100)).await.unwrap());
    assert!(!db.repos.charges.update_charge(&refused, at(100)).await.unwrap(), "only from the expected version");
    assert_eq!(db.repos.charges.find_charge(first.id).await.unwrap(), Some(refused));
    assert_eq!(db.repos.charges.find_charge(same_order.id).await.unwrap(), None);
    assert_eq!(db.repos.charges.abandoned_charges(at(10_000), 10).await.unwrap(), vec![], "closed: not abandoned");
}

async fn concurrent_intents_of_one_payment_begin_one_at_a_time(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let attempts = (0..16).map(|_| {
        let intents = db.repos.intents.clone();
        let candidate = intent(&h, "10", false);
        tokio::spawn(async move { intents.begin(&candidate).await.unwrap() })
    });
    let outcomes = futures::future::join_all(attempts).await;
    let begun = outcomes.iter().filter(|o| matches!(o.as_ref().unwrap(), IntentBegin::Begun)).count();
    assert_eq!(begun, 1, "one cancel of a payment in flight at a time: {outcomes:?}");
    assert_eq!(db.repos.intents.open(100).await.unwrap().len(), 1);
}

async fn histories_are_found_by_the_pg_order_id(db: &TestDb) {
    let a = history("imp_1", "order-1", "1000", vec![]);
    let b = history("imp_2", "order-2", "1000", vec![]);
    for h in [&a, &b] {
        db.repos.histories.insert(h, &hash()).await.unwrap();
    }
    let order = OrderId::parse("pg-order-1").unwrap();
    let found = db.repos.histories.find_by_order(VendorCode::Iamport, &order, 8).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].history, a);
    assert_eq!(found[0].history.order_id(), Some(&order));
    assert!(db.repos.histories.find_by_order(VendorCode::TossPayments, &order, 8).await.unwrap().is_empty());
    let unknown = OrderId::parse("pg-nope").unwrap();
    assert!(db.repos.histories.find_by_order(VendorCode::Iamport, &unknown, 8).await.unwrap().is_empty());
    assert!(db.repos.histories.find_by_order(VendorCode::Iamport, &order, 0).await.unwrap().is_empty(), "bounded");
    // The order id survives a change.
    let (next, event) = change(&a, snapshot("1000", vec![cancel("c1", "100", 20)]), 30);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();
    let found = db.repos.histories.find_by_order(VendorCode::Iamport, &order, 8).await.unwrap();
    assert_eq!(found[0].history.refund(), money("100"));
}

async fn saved_cards_are_marked_removed_by_their_key_digest(db: &TestDb) {
    let r = reservation("billing_1", "customer-1");
    db.repos.reservations.insert(&r, &hash()).await.unwrap();
    let digest = payments_application::lookup_digest("billing_1");
    assert_eq!(db.repos.reservations.mark_removed(VendorCode::Iamport, &digest, at(50)).await.unwrap(), 0);
    assert_eq!(db.repos.reservations.mark_removed(VendorCode::TossPayments, "other", at(50)).await.unwrap(), 0);
    assert_eq!(db.repos.reservations.mark_removed(VendorCode::TossPayments, &digest, at(50)).await.unwrap(), 1);
    let read = db.repos.reservations.find_by_id(r.id).await.unwrap().unwrap().reservation;
    assert_eq!(read.removed_at, Some(at(50)));
    assert_eq!(read.key_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(
        db.repos.reservations.mark_removed(VendorCode::TossPayments, &digest, at(60)).await.unwrap(),
        0,
        "the first removal time stays"
    );
}

async fn closed_pool_is_unavailable(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    db.db.close().await;
    let read = db.repos.histories.find_by_id(h.id()).await;
    assert!(matches!(read, Err(RepositoryError::Unavailable(_))), "{read:?}");
    let claim = db.repos.outbox.claim_due(at(0), 1, Duration::from_secs(1)).await;
    assert!(matches!(claim, Err(RepositoryError::Unavailable(_))), "{claim:?}");
}

fn conflict_message(result: Result<(), RepositoryError>) -> String {
    match result {
        Err(RepositoryError::Conflict(message)) => message,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn migrations_rerun_as_a_no_op(db: &TestDb) {
    db.db.migrate().await.unwrap();
    db.db.migrate().await.unwrap();
}

async fn history_create_and_read_by_id_source_and_vendor(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![cancel("c1", "100", 20)]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();

    let by_id = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
    assert_eq!(by_id.history, h);
    assert_eq!(by_id.revision, Revision(0));
    assert_eq!(by_id.password_hash, hash());
    let by_source = db.repos.histories.find_by_source(ClientId::LEGACY, h.source()).await.unwrap().unwrap();
    assert_eq!(by_source.history, h);
    let by_vendor = db.repos.histories.find_by_vendor(VendorCode::Iamport, &h.vendor().uid).await.unwrap().unwrap();
    assert_eq!(by_vendor.history, h);

    let unknown = HistoryId::from_uuid(uuid::Uuid::now_v7());
    assert!(db.repos.histories.find_by_id(unknown).await.unwrap().is_none());
    let other_source = Source::parse("shop", "orders", "nope").unwrap();
    assert!(db.repos.histories.find_by_source(ClientId::LEGACY, &other_source).await.unwrap().is_none());
    let other_uid = VendorUid::parse("imp_1").unwrap();
    assert!(db.repos.histories.find_by_vendor(VendorCode::TossPayments, &other_uid).await.unwrap().is_none());
}

async fn history_unique_keys_conflict(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();

    let same_vendor = history("imp_1", "order-2", "1000", vec![]);
    let message = conflict_message(db.repos.histories.insert(&same_vendor, &hash()).await);
    assert!(message.starts_with("vendor.uid"), "{message}");
    assert!(message.contains("imp_1"), "{message}");

    let same_source = history("imp_2", "order-1", "1000", vec![]);
    let message = conflict_message(db.repos.histories.insert(&same_source, &hash()).await);
    assert!(message.starts_with("source"), "{message}");

    // Nothing of the refused rows was written.
    assert!(db.repos.histories.find_by_id(same_vendor.id()).await.unwrap().is_none());
    assert_eq!(db.count("payment_histories").await, 1);
}

async fn reservation_create_read_and_conflict(db: &TestDb) {
    let r = reservation("billing_1", "customer-1");
    db.repos.reservations.insert(&r, &hash()).await.unwrap();
    let by_id = db.repos.reservations.find_by_id(r.id).await.unwrap().unwrap();
    assert_eq!(by_id.reservation, r);
    assert_eq!(by_id.password_hash, hash());
    assert_eq!(
        db.repos.reservations.find_by_source(ClientId::LEGACY, &r.source).await.unwrap().unwrap().reservation,
        r
    );
    let found = db.repos.reservations.find_by_vendor(VendorCode::TossPayments, &r.vendor.uid).await.unwrap();
    assert_eq!(found.unwrap().reservation, r);
    assert!(db.repos.reservations.find_by_vendor(VendorCode::Iamport, &r.vendor.uid).await.unwrap().is_none());
    assert!(db.repos.reservations.find_by_id(SavedCardId::from_uuid(uuid::Uuid::now_v7())).await.unwrap().is_none());

    let message =
        conflict_message(db.repos.reservations.insert(&reservation("billing_1", "customer-2"), &hash()).await);
    assert!(message.starts_with("vendor.uid"), "{message}");
    let message =
        conflict_message(db.repos.reservations.insert(&reservation("billing_2", "customer-1"), &hash()).await);
    assert!(message.starts_with("source"), "{message}");

    // Histories and saved cards have separate keys: the same uid/source is fine.
    let h = history("billing_1", "customer-1", "10", vec![]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
}

async fn money_and_milliseconds_are_exact(db: &TestDb) {
    let h = history(
        "imp_big",
        "order-big",
        "999999999999999.9999",
        vec![cancel("c1", "0.0001", 1), cancel("c2", "123456789012345.6789", 2)],
    );
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let stored = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap().history;
    assert_eq!(stored.price(), money("999999999999999.9999"));
    assert_eq!(stored.refund(), money("123456789012345.679"));
    assert_eq!(stored.cancels()[0].price, money("0.0001"));
    assert_eq!(stored.created_at(), at(0));
    assert_eq!(stored.created_at().timestamp_subsec_millis(), 123);
    assert_eq!(stored.cancels()[1].created_at, at(2));
    assert_eq!(stored, h);
}

async fn save_change_applies_a_snapshot(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let (next, event) = change(&h, snapshot("1000", vec![cancel("c1", "300", 50)]), 60);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();

    let stored = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
    assert_eq!(stored.history, next);
    assert_eq!(stored.revision, Revision(1));
    assert_eq!(stored.history.refund(), money("300"));
    assert_eq!(stored.history.cancelled_at(), Some(at(50)));

    // The event was recorded and its delivery enqueued, due at once.
    let stats = db.repos.outbox.stats(at(60)).await.unwrap();
    assert_eq!(stats, OutboxStats { pending: 1, oldest_pending_age: Some(Duration::ZERO), ..OutboxStats::default() });
    let jobs = db.repos.outbox.claim_due(at(60), 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].event, event);
    assert_eq!(jobs[0].attempts_made, 0);
}

/// A change saved by the process that delivers it itself: its delivery is
/// enqueued under that process's lease (its worker got the job in memory),
/// so no claim takes it while the lease holds, and any claim does once it
/// runs out (that process died); recorded under the lease, it is settled.
/// The cancels are written from the change's previous snapshot (none read
/// back), exactly once.
async fn a_change_saved_leased_is_claimed_by_nobody_until_its_lease_runs_out(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![cancel("a", "100", 20)]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let (next, event) = change(&h, snapshot("1000", vec![cancel("a", "100", 20), cancel("b", "200", 30)]), 60);
    let lease = EnqueueLease { token: LeaseToken(uuid::Uuid::new_v4()), until: at(90) };
    let leased = db.repos.histories.save_change_leased(Revision(0), &next, &event, lease).await.unwrap();
    assert!(leased, "the database leases it");
    assert_eq!(db.count("payment_history_cancels").await, 2, "the new cancel only");
    assert_eq!(db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap().history, next);
    let stats = db.repos.outbox.stats(at(60)).await.unwrap();
    assert_eq!(stats.pending, 1, "pending like any delivery: {stats:?}");
    assert!(db.repos.outbox.claim_due(at(89), 10, Duration::from_secs(30)).await.unwrap().is_empty(), "leased");
    let attempt = DeliveryAttempt::answered(200, "ok", at(70));
    assert!(db.repos.outbox.record_attempt(event.id(), lease.token, &attempt, JobOutcome::Delivered).await.unwrap());
    assert_eq!(db.repos.outbox.stats(at(95)).await.unwrap().pending, 0, "settled under the lease it was enqueued with");

    // Another change, whose process never delivers it.
    let (third, event) =
        change(&next, snapshot("1000", vec![cancel("a", "100", 20), cancel("b", "200", 30), cancel("c", "1", 70)]), 80);
    let lease = EnqueueLease { token: LeaseToken(uuid::Uuid::new_v4()), until: at(100) };
    assert!(db.repos.histories.save_change_leased(Revision(1), &third, &event, lease).await.unwrap());
    assert!(db.repos.outbox.claim_due(at(99), 10, Duration::from_secs(30)).await.unwrap().is_empty());
    let taken = db.repos.outbox.claim_due(at(100), 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(taken.len(), 1, "its lease ran out: any worker takes it");
    assert_eq!(taken[0].event, event);
    assert_ne!(taken[0].lease, lease.token);
    assert_eq!(db.count("payment_history_cancels").await, 3);
}

async fn unchanged_snapshot_writes_nothing_and_stale_revision_is_refused(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![cancel("c1", "100", 20)]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let stored = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
    // The PG says the same again: the domain reports no change, so the use
    // case writes nothing; the store is untouched.
    assert_eq!(stored.history.apply(snapshot("1000", vec![cancel("c1", "100", 20)])).unwrap(), Applied::Unchanged);

    let (next, event) = change(&h, snapshot("1000", vec![cancel("c1", "100", 20), cancel("c2", "50", 30)]), 40);
    let stale = db.repos.histories.save_change(Revision(5), &next, &event).await;
    assert!(matches!(stale, Err(RepositoryError::Stale)), "{stale:?}");
    let after = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
    assert_eq!(after, stored);
    assert_eq!(db.count("payment_history_cancels").await, 1);
    assert_eq!(db.count("payment_history_webhooks").await, 0);
    assert_eq!(db.count("payment_webhook_outbox").await, 0);
}

async fn cancels_are_not_duplicated(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![cancel("a", "100", 20)]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let (next, event) = change(&h, snapshot("1000", vec![cancel("a", "100", 20), cancel("b", "200", 30)]), 40);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();
    assert_eq!(db.count("payment_history_cancels").await, 2);

    let (third, event) = change(
        &next,
        snapshot("1000", vec![cancel("c", "300", 50), cancel("b", "200", 30), cancel("a", "100", 20)]),
        60,
    );
    db.repos.histories.save_change(Revision(1), &third, &event).await.unwrap();
    assert_eq!(db.count("payment_history_cancels").await, 3);
    let stored = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
    assert_eq!(stored.history, third);
    let keys: Vec<&str> = stored.history.cancels().iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(stored.history.refund(), money("600"));
}

/// More cancels than one statement may bind (8 binds each: 8,500 are 68,000
/// binds, past PostgreSQL's 65,535; 4,200 more are 33,600, past SQLite's
/// 32,766) are written whole, at registration and in a change.
async fn many_cancels_are_written_within_the_databases_bind_limits(db: &TestDb) {
    let cancels = |from: usize, to: usize| (from..to).map(|i| cancel(&format!("c{i}"), "1", 20)).collect::<Vec<_>>();
    let h = history("imp_many", "order-many", "20000", cancels(0, 8_500));
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    assert_eq!(db.count("payment_history_cancels").await, 8_500);
    let (next, event) = change(&h, snapshot("20000", cancels(0, 12_700)), 40);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();
    assert_eq!(db.count("payment_history_cancels").await, 12_700);
    let stored = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
    assert_eq!(stored.history.cancels().len(), 12_700);
    assert_eq!(stored.history.refund(), money("12700"));
}

async fn failed_save_change_leaves_nothing_behind(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let (next, event) = change(&h, snapshot("1000", vec![cancel("a", "100", 20)]), 30);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();

    // A second change whose event id is taken fails at the event insert,
    // after the history update and the cancel insert ran: all is rolled back.
    let (third, fresh) = change(&next, snapshot("1000", vec![cancel("a", "100", 20), cancel("b", "200", 40)]), 50);
    let reused = WebhookEvent::new(event.id(), next.clone(), third.clone(), fresh.trigger().clone(), at(50)).unwrap();
    let failed = db.repos.histories.save_change(Revision(1), &third, &reused).await;
    assert!(failed.is_err(), "{failed:?}");

    let stored = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
    assert_eq!(stored.revision, Revision(1));
    assert_eq!(stored.history, next);
    assert_eq!(db.count("payment_history_cancels").await, 1);
    assert_eq!(db.count("payment_history_webhooks").await, 1);
    assert_eq!(db.count("payment_webhook_outbox").await, 1);

    // The same change with a fresh event then goes through.
    db.repos.histories.save_change(Revision(1), &third, &fresh).await.unwrap();
    assert_eq!(db.count("payment_history_cancels").await, 2);
}

async fn concurrent_changes_yield_one_ok_and_one_stale(db: &TestDb) {
    for round in 0..5 {
        let h = history(&format!("imp_{round}"), &format!("order-{round}"), "1000", vec![]);
        db.repos.histories.insert(&h, &hash()).await.unwrap();
        let (a, event_a) = change(&h, snapshot("1000", vec![cancel("a", "100", 20)]), 30);
        let (b, event_b) = change(&h, snapshot("1000", vec![cancel("b", "200", 20)]), 30);
        let (ra, rb) = tokio::join!(
            db.repos.histories.save_change(Revision(0), &a, &event_a),
            db.repos.histories.save_change(Revision(0), &b, &event_b),
        );
        let stale = |r: &Result<(), RepositoryError>| matches!(r, Err(RepositoryError::Stale));
        assert!(
            (ra.is_ok() && stale(&rb)) || (rb.is_ok() && stale(&ra)),
            "expected one Ok and one Stale, got {ra:?} and {rb:?}"
        );
        let stored = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
        assert_eq!(stored.revision, Revision(1));
        assert_eq!(stored.history, if ra.is_ok() { a } else { b });
    }
}

/// Several writers race to cancel 600 of 1000 each, re-reading on `Stale` as
/// the use case does: exactly one cancel lands.
async fn concurrent_cancels_never_refund_more_than_the_price(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let workers = (0..4).map(|i| {
        let repos = db.repos.clone();
        let id = h.id();
        tokio::spawn(async move {
            loop {
                let stored = repos.histories.find_by_id(id).await.unwrap().unwrap();
                if stored.history.check_cancel(money("600")).is_err() {
                    return false;
                }
                let mut cancels = stored.history.cancels().to_vec();
                cancels.push(cancel(&format!("w{i}"), "600", 100 + i));
                let (next, event) = change(&stored.history, snapshot("1000", cancels), 200);
                match repos.histories.save_change(stored.revision, &next, &event).await {
                    Ok(()) => return true,
                    Err(RepositoryError::Stale) => continue,
                    Err(other) => panic!("{other:?}"),
                }
            }
        })
    });
    let results = futures::future::join_all(workers).await;
    let landed = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(landed, 1);
    let stored = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
    assert_eq!(stored.history.refund(), money("600"));
    assert_eq!(db.count("payment_history_cancels").await, 1);
}

/// Registers a history and one change of it; returns the event.
async fn one_event(db: &TestDb, n: u32, created_ms: i64) -> WebhookEvent {
    let h = history(&format!("imp_{n}"), &format!("order-{n}"), "1000", vec![]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let (next, event) = change(&h, snapshot("1000", vec![cancel("a", "100", 20)]), created_ms);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();
    event
}

async fn outbox_claim_lease_and_retry_bookkeeping(db: &TestDb) {
    let event = one_event(db, 1, 1_000).await;
    let lease = Duration::from_secs(30);
    let t0 = at(1_000);

    assert!(db.repos.outbox.claim_due(at(999), 10, lease).await.unwrap().is_empty(), "not due yet");
    let first = db.repos.outbox.claim_due(t0, 10, lease).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempts_made, 0);
    assert!(db.repos.outbox.claim_due(t0, 10, lease).await.unwrap().is_empty(), "leased");
    assert!(db.repos.outbox.claim_due(at(30_999), 10, lease).await.unwrap().is_empty(), "still leased");

    // The lease expires (the worker died): another claim takes the job.
    let second = db.repos.outbox.claim_due(at(31_000), 10, lease).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].lease, first[0].lease);

    // The first worker's late result is refused and writes nothing.
    let late = DeliveryAttempt::answered(200, "ok", at(32_000));
    assert!(!db.repos.outbox.record_attempt(event.id(), first[0].lease, &late, JobOutcome::Delivered).await.unwrap());
    assert!(db.repos.outbox.attempts(event.id()).await.unwrap().is_empty());

    // The owner records a failure and a retry time.
    let failure = DeliveryAttempt::answered(500, "boom", at(33_000));
    let retry_at = at(93_000);
    let recorded = db.repos.outbox.record_attempt(event.id(), second[0].lease, &failure, JobOutcome::RetryAt(retry_at));
    assert!(recorded.await.unwrap());
    // The lease is spent: recording again under it is refused.
    let again = db.repos.outbox.record_attempt(event.id(), second[0].lease, &failure, JobOutcome::Delivered);
    assert!(!again.await.unwrap());
    let stats = db.repos.outbox.stats(at(40_000)).await.unwrap();
    assert_eq!((stats.pending, stats.retrying, stats.delivered, stats.failed), (0, 1, 0, 0));
    assert_eq!(stats.oldest_pending_age, Some(Duration::from_secs(39)));

    assert!(db.repos.outbox.claim_due(at(92_999), 10, lease).await.unwrap().is_empty(), "not due before retry_at");
    let third = db.repos.outbox.claim_due(retry_at, 10, lease).await.unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].attempts_made, 1);
    let unanswered = DeliveryAttempt::unanswered(at(94_000));
    let recorded =
        db.repos.outbox.record_attempt(event.id(), third[0].lease, &unanswered, JobOutcome::RetryAt(at(95_000)));
    assert!(recorded.await.unwrap());
    let fourth = db.repos.outbox.claim_due(at(95_000), 10, lease).await.unwrap();
    assert_eq!(fourth[0].attempts_made, 2);
    let ok = DeliveryAttempt::answered(204, "", at(96_000));
    assert!(db.repos.outbox.record_attempt(event.id(), fourth[0].lease, &ok, JobOutcome::Delivered).await.unwrap());

    assert_eq!(db.repos.outbox.attempts(event.id()).await.unwrap(), vec![failure, unanswered, ok]);
    let stats = db.repos.outbox.stats(at(100_000)).await.unwrap();
    assert_eq!(stats, OutboxStats { delivered: 1, ..OutboxStats::default() });
    assert!(db.repos.outbox.claim_due(at(10_000_000), 10, lease).await.unwrap().is_empty(), "delivered is done");
}

/// Attempts recorded at once are written in shared transactions: each caller
/// still learns whether its own lease held, and only those are written.
async fn concurrent_attempts_are_recorded_together_each_under_its_own_lease(db: &TestDb) {
    let lease = Duration::from_secs(30);
    let mut events = Vec::new();
    for n in 0..24 {
        events.push(one_event(db, n, 1_000).await);
    }
    let jobs = db.repos.outbox.claim_due(at(2_000), 24, lease).await.unwrap();
    assert_eq!(jobs.len(), 24);
    let stale = payments_application::ports::LeaseToken(uuid::Uuid::new_v4());
    let calls = jobs.iter().enumerate().map(|(n, job)| {
        let outbox = db.repos.outbox.clone();
        let (event, lease) = (job.event.id(), job.lease);
        async move {
            // Every fourth caller holds a lease that is not the job's; the
            // others deliver, retry or give up.
            let (lease, attempt, outcome) = match n % 4 {
                0 => (stale, DeliveryAttempt::answered(200, "late", at(3_000)), JobOutcome::Delivered),
                1 => (lease, DeliveryAttempt::answered(200, &format!("ok {n}"), at(3_000)), JobOutcome::Delivered),
                2 => (lease, DeliveryAttempt::unanswered(at(3_000)), JobOutcome::RetryAt(at(60_000))),
                _ => (lease, DeliveryAttempt::answered(410, "gone", at(3_000)), JobOutcome::Failed),
            };
            let recorded = outbox.record_attempt(event, lease, &attempt, outcome).await.unwrap();
            (n, event, attempt, recorded)
        }
    });
    for (n, event, attempt, recorded) in futures::future::join_all(calls).await {
        assert_eq!(recorded, n % 4 != 0, "caller {n}");
        let attempts = db.repos.outbox.attempts(event).await.unwrap();
        if recorded {
            assert_eq!(attempts, vec![attempt], "caller {n}");
        } else {
            assert!(attempts.is_empty(), "caller {n}: a stale lease writes nothing");
        }
    }
    let stats = db.repos.outbox.stats(at(4_000)).await.unwrap();
    // The stale callers' jobs are still leased (pending); retries wait.
    assert_eq!((stats.delivered, stats.failed, stats.retrying, stats.pending), (6, 6, 6, 6));
    let retried = db.repos.outbox.claim_due(at(60_000), 24, lease).await.unwrap();
    assert_eq!(retried.len(), 12, "the retries and the expired leases of the stale callers");
}

async fn outbox_release_redeliver_failed_and_limits(db: &TestDb) {
    let lease = Duration::from_secs(30);
    let mut events = Vec::new();
    for n in 0..5 {
        events.push(one_event(db, n, 1_000 + i64::from(n)).await);
    }
    let now = at(10_000);
    let batch = db.repos.outbox.claim_due(now, 3, lease).await.unwrap();
    assert_eq!(batch.len(), 3);
    // Oldest due first.
    let ids: Vec<EventId> = batch.iter().map(|j| j.event.id()).collect();
    assert_eq!(ids, events[..3].iter().map(WebhookEvent::id).collect::<Vec<_>>());
    let rest = db.repos.outbox.claim_due(now, 10, lease).await.unwrap();
    assert_eq!(rest.len(), 2);

    // Released jobs are due again at once; a wrong lease releases nothing.
    db.repos.outbox.release(rest[0].event.id(), batch[0].lease).await.unwrap();
    assert!(db.repos.outbox.claim_due(now, 10, lease).await.unwrap().is_empty());
    for job in &rest {
        db.repos.outbox.release(job.event.id(), job.lease).await.unwrap();
    }
    let again = db.repos.outbox.claim_due(now, 10, lease).await.unwrap();
    assert_eq!(again.len(), 2);

    // Failed stays failed until redelivered.
    let failure = DeliveryAttempt::unanswered(at(11_000));
    let job = &batch[0];
    assert!(db.repos.outbox.record_attempt(job.event.id(), job.lease, &failure, JobOutcome::Failed).await.unwrap());
    let stats = db.repos.outbox.stats(at(12_000)).await.unwrap();
    assert_eq!(stats.failed, 1);
    assert_eq!(stats.pending, 4);
    assert_eq!(stats.oldest_pending_age, Some(Duration::from_millis(12_000 - 1_001)));
    assert!(
        db.repos
            .outbox
            .claim_due(at(1_000_000), 10, Duration::from_secs(1))
            .await
            .unwrap()
            .iter()
            .all(|j| j.event.id() != job.event.id())
    );

    assert!(db.repos.outbox.redeliver(job.event.id(), at(2_000_000)).await.unwrap());
    assert!(!db.repos.outbox.redeliver(EventId::from_uuid(uuid::Uuid::now_v7()), now).await.unwrap());
    let redelivered = db.repos.outbox.claim_due(at(2_000_000), 10, lease).await.unwrap();
    let mine = redelivered.iter().find(|j| j.event.id() == job.event.id()).expect("redelivered job is due");
    assert_eq!(mine.attempts_made, 0, "a redelivered event starts a fresh retry schedule");
    assert_eq!(db.repos.outbox.attempts(job.event.id()).await.unwrap().len(), 1, "earlier attempts stay recorded");
    assert_eq!(db.repos.outbox.claim_due(now, 0, lease).await.unwrap().len(), 0);
}

async fn settled_deliveries_are_purged_after_their_retention_with_their_attempts(db: &TestDb) {
    let lease = Duration::from_secs(30);
    let mut events = Vec::new();
    for n in 0..6 {
        events.push(one_event(db, n, 1_000).await);
    }
    let jobs = db.repos.outbox.claim_due(at(2_000), 10, lease).await.unwrap();
    assert_eq!(jobs.len(), 6);
    // Two delivered long ago, one given up long ago, one delivered recently,
    // one retrying (attempted long ago), one never attempted.
    let settle = |n: usize, at_ms: i64, outcome: JobOutcome| {
        let job = jobs.iter().find(|j| j.event.id() == events[n].id()).unwrap().clone();
        let outbox = db.repos.outbox.clone();
        async move {
            let attempt = DeliveryAttempt::answered(200, "ok", at(at_ms));
            assert!(outbox.record_attempt(job.event.id(), job.lease, &attempt, outcome).await.unwrap());
        }
    };
    settle(0, 3_000, JobOutcome::Delivered).await;
    settle(1, 4_000, JobOutcome::Delivered).await;
    settle(2, 5_000, JobOutcome::Failed).await;
    settle(3, 90_000, JobOutcome::Delivered).await;
    settle(4, 6_000, JobOutcome::RetryAt(at(1_000_000))).await;
    let attempts_before = db.count("payment_history_webhook_responses").await;
    assert_eq!(attempts_before, 5);

    // Oldest first, `limit` at a time; the recent and the unsettled stay.
    let cutoff = at(60_000);
    assert_eq!(db.repos.outbox.purge_settled_before(cutoff, 2).await.unwrap(), 2);
    assert_eq!(db.repos.outbox.purge_settled_before(cutoff, 2).await.unwrap(), 1);
    assert_eq!(db.repos.outbox.purge_settled_before(cutoff, 2).await.unwrap(), 0);
    for gone in &events[..3] {
        assert!(db.repos.outbox.attempts(gone.id()).await.unwrap().is_empty());
        assert!(!db.repos.outbox.redeliver(gone.id(), at(100_000)).await.unwrap(), "its job is gone too");
    }
    assert_eq!(db.count("payment_history_webhooks").await, 3);
    assert_eq!(db.count("payment_webhook_outbox").await, 3);
    assert_eq!(db.count("payment_history_webhook_responses").await, 2, "the kept events' attempts stay");
    let stats = db.repos.outbox.stats(at(100_000)).await.unwrap();
    assert_eq!((stats.delivered, stats.failed, stats.retrying, stats.pending), (1, 0, 1, 1));
    // The histories themselves are untouched.
    assert_eq!(db.count("payment_histories").await, 6);
}

async fn wrong_passwords_are_counted_per_record_in_windows_and_locks(db: &TestDb) {
    use payments_application::ports::{PasswordFailures, PasswordRecord};
    let attempts = &db.repos.attempts;
    let card = PasswordRecord::SavedCard(SavedCardId::from_uuid(uuid::Uuid::now_v7()));
    let other = PasswordRecord::History(HistoryId::from_uuid(uuid::Uuid::now_v7()));
    let window = Duration::from_secs(60);
    assert_eq!(attempts.failures(card).await.unwrap(), PasswordFailures::default());
    // Concurrent failures (several instances) all count.
    let fails = (0..8).map(|_| attempts.fail(card, at(1_000), window));
    futures::future::try_join_all(fails).await.unwrap();
    assert_eq!(attempts.failures(card).await.unwrap().failures, 8);
    assert_eq!(attempts.failures(other).await.unwrap(), PasswordFailures::default(), "per record");
    // A failure after the window starts a new one.
    assert_eq!(attempts.fail(card, at(62_000), window).await.unwrap().failures, 1);
    attempts.lock(card, at(120_000)).await.unwrap();
    let locked = attempts.failures(card).await.unwrap();
    assert_eq!(locked, PasswordFailures { failures: 0, lockouts: 1, locked_until: Some(at(120_000)) });
    assert_eq!(attempts.fail(card, at(121_000), window).await.unwrap().lockouts, 1, "lockouts are kept");
    // Purged only once neither counting nor locked since the cutoff.
    assert_eq!(attempts.purge_before(at(121_000)).await.unwrap(), 0);
    attempts.fail(other, at(1_000), window).await.unwrap();
    assert_eq!(attempts.purge_before(at(100_000)).await.unwrap(), 1);
    attempts.clear(card).await.unwrap();
    assert_eq!(attempts.failures(card).await.unwrap(), PasswordFailures::default());
}

async fn outbox_claim_is_exclusive_between_concurrent_workers(db: &TestDb) {
    for n in 0..20 {
        one_event(db, n, 1_000).await;
    }
    let lease = Duration::from_secs(60);
    let workers = (0..4).map(|_| {
        let outbox = db.repos.outbox.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let jobs = outbox.claim_due(at(5_000), 3, lease).await.unwrap();
                if jobs.is_empty() {
                    return mine;
                }
                mine.extend(jobs.into_iter().map(|j| j.event.id()));
            }
        })
    });
    let mut all: Vec<EventId> = Vec::new();
    for claimed in futures::future::join_all(workers).await {
        all.extend(claimed.unwrap());
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(total, 20, "every job claimed once");
    assert_eq!(all.len(), 20, "no job claimed twice");
}

async fn idempotency_keys(db: &TestDb) {
    let store = &db.repos.idempotency;
    assert_eq!(
        store.begin("POST /histories", "k1", "fp1", at(0), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::Proceed
    );
    assert_eq!(
        store.begin("POST /histories", "k1", "fp1", at(1), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::InProgress
    );
    assert_eq!(
        store.begin("POST /histories", "k1", "fp2", at(1), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::Mismatch
    );
    // Another scope is another key.
    assert_eq!(
        store.begin("POST /reservations", "k1", "fp2", at(1), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::Proceed
    );

    let body = format!(r#"{{"id":"x","card":"{CARD_NUMBER}"}}"#);
    let response = StoredResponse { status: 201, body: body.clone() };
    store.complete("POST /histories", "k1", &response).await.unwrap();
    assert_eq!(
        store.begin("POST /histories", "k1", "fp1", at(2), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::Replay(response.clone())
    );
    assert_eq!(
        store.begin("POST /histories", "k1", "fp2", at(2), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::Mismatch
    );
    assert!(!db.dump().await.contains(CARD_NUMBER), "response bodies are sealed");

    store.abandon("POST /reservations", "k1").await.unwrap();
    assert_eq!(
        store.begin("POST /reservations", "k1", "fp3", at(3), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::Proceed
    );

    assert_eq!(
        store.begin("POST /histories", "k2", "fp", at(10), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::Proceed
    );
    assert_eq!(store.purge_before(at(5)).await.unwrap(), 2);
    assert_eq!(
        store.begin("POST /histories", "k1", "fp9", at(11), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::Proceed
    );
    assert_eq!(
        store.begin("POST /histories", "k2", "fp", at(11), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::InProgress
    );
    // An unanswered claim older than the lease belonged to a dead process: taken over once.
    assert_eq!(store.begin("POST /histories", "k2", "fp", at(20), at(15)).await.unwrap(), IdempotencyClaim::Proceed);
    assert_eq!(store.begin("POST /histories", "k2", "fp", at(21), at(15)).await.unwrap(), IdempotencyClaim::InProgress);
    assert_eq!(
        store.begin("POST /histories", "k2", "other", at(40), at(35)).await.unwrap(),
        IdempotencyClaim::Mismatch
    );
}

async fn key_rotation_keeps_old_rows_readable_and_reseals_them(db: &TestDb) {
    // Written under the keys of seed 7 (the harness default).
    let h = history("imp_1", "order-1", "1000", vec![cancel("a", "100", 20)]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let (next, event) = change(&h, snapshot("1000", vec![cancel("a", "100", 20), cancel("b", "100", 30)]), 40);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();
    let r = reservation("billing_1", "customer-1");
    db.repos.reservations.insert(&r, &hash()).await.unwrap();
    db.repos.idempotency.begin("s", "k", "fp", at(0), at(-1_000_000)).await.unwrap();
    let response = StoredResponse { status: 200, body: "{}".into() };
    db.repos.idempotency.complete("s", "k", &response).await.unwrap();
    let job = db.repos.outbox.claim_due(at(40), 1, Duration::from_secs(1)).await.unwrap().remove(0);
    let answered = DeliveryAttempt::answered(500, "try later", at(41));
    let retry = JobOutcome::RetryAt(at(40));
    assert!(db.repos.outbox.record_attempt(event.id(), job.lease, &answered, retry).await.unwrap());
    // A PG notification kept, pending: acknowledged to its PG, sealed too.
    let kept = payments_application::commands::PgNotification {
        vendor: VendorCode::Iamport,
        target: payments_application::commands::NotificationTarget::Payment {
            uid: VendorUid::parse("imp_kept").unwrap(),
            ignore_unknown: false,
            order: None,
        },
        payload: serde_json::json!({"imp_uid": "imp_kept"}),
        signed: false,
    };
    db.repos.inbox.enqueue(&kept, at(0), Duration::from_secs(60), false).await.unwrap();
    assert!(db.db.orphaned_notifications(&db.keys, None).await.unwrap().is_empty());

    // New keys configured, old ones kept for reading: everything still reads.
    let rotated = rotated_keys(50, 7);
    let repos = db.db.repositories(rotated.clone());
    assert_eq!(repos.histories.find_by_id(h.id()).await.unwrap().unwrap().history, next);
    assert_eq!(repos.reservations.find_by_id(r.id).await.unwrap().unwrap().reservation, r);
    let jobs = repos.outbox.claim_due(at(40), 1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(jobs[0].event, event);

    // Only the new keys: old rows no longer open, loudly.
    let only_new = keys(50);
    let strict = db.db.repositories(only_new.clone());
    assert!(matches!(strict.histories.find_by_id(h.id()).await, Err(RepositoryError::Corrupt(_))));
    // And the kept notification would be lost: said, naming the old key.
    let orphaned = db.db.orphaned_notifications(&only_new, None).await.unwrap();
    assert_eq!((orphaned.inbox.count, orphaned.spooled.count), (1, 0), "{orphaned}");
    assert!(orphaned.to_string().contains(db.keys.histories.current_id()), "{orphaned}");
    assert!(db.db.orphaned_notifications(&rotated, None).await.unwrap().is_empty(), "the old key kept as previous");

    // Re-encrypt under the new keys, then the old keys can go.
    let report = db.db.reencrypt_all(&rotated).await.unwrap();
    assert_eq!(report.histories, 2, "its data and its sealed order id");
    assert_eq!(report.cancels, 2);
    assert_eq!(report.reservations, 1);
    assert_eq!(report.webhook_events, 1);
    assert_eq!(report.webhook_responses, 1);
    assert_eq!(report.idempotency_keys, 1);
    assert_eq!(report.notifications, 1);
    assert_eq!(db.db.reencrypt_all(&rotated).await.unwrap().total(), 0, "second run has nothing to do");
    assert!(db.db.orphaned_notifications(&only_new, None).await.unwrap().is_empty(), "re-sealed: the old key can go");

    assert_eq!(strict.histories.find_by_id(h.id()).await.unwrap().unwrap().history, next);
    assert_eq!(
        strict.histories.find_by_source(ClientId::LEGACY, h.source()).await.unwrap().unwrap().revision,
        Revision(1)
    );
    assert_eq!(strict.reservations.find_by_id(r.id).await.unwrap().unwrap().reservation, r);
    assert_eq!(
        strict.idempotency.begin("s", "k", "fp", at(1), at(-1_000_000)).await.unwrap(),
        IdempotencyClaim::Replay(response)
    );
    let jobs = strict.outbox.claim_due(at(100_000), 1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(jobs[0].event, event);
    assert_eq!(strict.outbox.attempts(event.id()).await.unwrap(), vec![answered]);
    // And the original keys alone no longer open anything.
    assert!(matches!(db.repos.histories.find_by_id(h.id()).await, Err(RepositoryError::Corrupt(_))));
}

async fn tampered_or_moved_values_fail_loudly(db: &TestDb) {
    let a = history("imp_a", "order-a", "1000", vec![]);
    let b = history("imp_b", "order-b", "1000", vec![]);
    db.repos.histories.insert(&a, &hash()).await.unwrap();
    db.repos.histories.insert(&b, &hash()).await.unwrap();
    // Copy a's sealed data into b: it was bound to a's row, so b fails to open.
    let id = |h: &PaymentHistory| h.id().to_string();
    let sql = format!(
        "UPDATE payment_histories SET data = (SELECT data FROM payment_histories WHERE id = '{}') WHERE id = '{}'",
        id(&a),
        id(&b)
    );
    assert_eq!(db.execute(&sql).await, 1);
    assert!(matches!(db.repos.histories.find_by_id(b.id()).await, Err(RepositoryError::Corrupt(_))));
    // Flip one character of a's ciphertext.
    let sql = format!(
        "UPDATE payment_histories SET data = substr(data, 1, length(data) - 3) || \
         CASE WHEN substr(data, length(data) - 2, 1) = 'A' THEN 'B' ELSE 'A' END || substr(data, length(data) - 1) \
         WHERE id = '{}'",
        id(&a)
    );
    assert_eq!(db.execute(&sql).await, 1);
    assert!(matches!(db.repos.histories.find_by_id(a.id()).await, Err(RepositoryError::Corrupt(_))));
}

async fn an_unreadable_event_is_parked_and_does_not_block_the_queue(db: &TestDb) {
    let broken = one_event(db, 1, 1_000).await;
    let fine = one_event(db, 2, 2_000).await;
    // Swap in another row's sealed snapshot: bound to its own row, it cannot open here.
    let sql = format!(
        "UPDATE payment_history_webhooks SET previous = (SELECT previous FROM payment_history_webhooks WHERE id = '{}') \
         WHERE id = '{}'",
        fine.id(),
        broken.id()
    );
    assert_eq!(db.execute(&sql).await, 1);
    let lease = Duration::from_secs(30);
    let claimed = db.repos.outbox.claim_due(at(10_000), 10, lease).await.unwrap();
    let ids: Vec<EventId> = claimed.iter().map(|job| job.event.id()).collect();
    assert_eq!(ids, vec![fine.id()], "the readable event is delivered, the unreadable one skipped");
    let stats = db.repos.outbox.stats(at(10_000)).await.unwrap();
    assert_eq!(stats.failed, 1, "parked as failed for an operator: {stats:?}");
    let later = db.repos.outbox.claim_due(at(99_000), 10, lease).await.unwrap();
    assert!(later.iter().all(|job| job.event.id() != broken.id()), "the parked event is not claimed again");
}

async fn wrong_password_is_refused_and_no_password_is_stored(db: &TestDb) {
    let hasher = Argon2Hasher::new(Argon2Params::TEST, 2).unwrap();
    let secret = Password::parse("correct horse battery staple").unwrap();
    let phc = hasher.hash(&secret).await.unwrap();
    let h = history("imp_1", "order-1", "1000", vec![]);
    db.repos.histories.insert(&h, &phc).await.unwrap();
    let r = reservation("billing_1", "customer-1");
    db.repos.reservations.insert(&r, &phc).await.unwrap();

    let stored = db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap();
    assert!(stored.password_hash.as_str().starts_with("$argon2id$"));
    assert!(hasher.verify(&secret, &stored.password_hash).await.unwrap());
    assert!(!hasher.verify(&Password::parse("wrong").unwrap(), &stored.password_hash).await.unwrap());
    let stored = db.repos.reservations.find_by_id(r.id).await.unwrap().unwrap();
    assert!(!hasher.verify(&Password::parse("correct horse").unwrap(), &stored.password_hash).await.unwrap());

    assert!(!db.dump().await.contains(secret.expose()), "the password is stored only as its hash");
}

async fn no_plaintext_card_number_anywhere(db: &TestDb) {
    let h = history("imp_1", "order-1", "1000", vec![cancel("a", "100", 20)]);
    db.repos.histories.insert(&h, &hash()).await.unwrap();
    let (next, event) = change(&h, snapshot("1000", vec![cancel("a", "100", 20), cancel("b", "200", 30)]), 40);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();
    db.repos.reservations.insert(&reservation("billing_1", "customer-1"), &hash()).await.unwrap();
    let job = db.repos.outbox.claim_due(at(40), 1, Duration::from_secs(5)).await.unwrap().remove(0);
    let echo = format!("received card {CARD_NUMBER}");
    let attempt = DeliveryAttempt::answered(200, &echo, at(50));
    db.repos.outbox.record_attempt(event.id(), job.lease, &attempt, JobOutcome::Delivered).await.unwrap();

    // Everything reads back (so the card number is in there, sealed).
    assert_eq!(db.repos.outbox.attempts(event.id()).await.unwrap()[0].body.as_deref(), Some(echo.as_str()));
    assert!(
        db.repos.histories.find_by_id(h.id()).await.unwrap().unwrap().history.data().to_string().contains(CARD_NUMBER)
    );
    let dump = db.dump().await;
    assert!(dump.contains("imp_1"), "the dump reads the rows: {} bytes", dump.len());
    assert!(!dump.contains(CARD_NUMBER), "a card number is stored in plaintext");
}

/// Times 200 sequential `save_change` calls per backend, in two shapes:
/// the usual one (200 histories, one cancel each) and the worst one (one
/// history cancelled 200 times, so every event carries two snapshots with up
/// to 200 cancels).
/// `cargo test -p payments-sqlx --test repositories -- --ignored --nocapture measure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn measure_save_change() {
    const N: usize = 200;
    async fn typical(db: &TestDb, label: &str) {
        let mut changes = Vec::with_capacity(N);
        for i in 0..N {
            let h = history(&format!("imp_t{i}"), &format!("order-t{i}"), "1000", vec![]);
            db.repos.histories.insert(&h, &hash()).await.unwrap();
            changes.push(change(&h, snapshot("1000", vec![cancel("a", "100", 20)]), 30));
        }
        let started = std::time::Instant::now();
        for (next, event) in &changes {
            db.repos.histories.save_change(Revision(0), next, event).await.unwrap();
        }
        let elapsed = started.elapsed();
        println!("{label}: {N} save_change, one per history: {elapsed:?} ({:?} each)", elapsed / 200);
        let started = std::time::Instant::now();
        for (next, _) in &changes {
            db.repos.histories.find_by_id(next.id()).await.unwrap().unwrap();
        }
        println!("{label}: {N} find_by_id of those: {:?}", started.elapsed());
    }
    async fn growing(db: &TestDb, label: &str) {
        let mut current = history("imp_m", "order-m", "1000000", vec![]);
        db.repos.histories.insert(&current, &hash()).await.unwrap();
        let mut changes = Vec::with_capacity(N);
        let mut cancels = Vec::new();
        for i in 0..N {
            let ms = i64::try_from(i).unwrap() * 10 + 20;
            cancels.push(cancel(&format!("c{i}"), "1", ms));
            let (next, event) = change(&current, snapshot("1000000", cancels.clone()), ms + 5);
            changes.push((next.clone(), event));
            current = next;
        }
        let started = std::time::Instant::now();
        for (i, (next, event)) in changes.iter().enumerate() {
            db.repos.histories.save_change(Revision(i64::try_from(i).unwrap()), next, event).await.unwrap();
        }
        let elapsed = started.elapsed();
        println!(
            "{label}: {N} save_change of one history growing to {N} cancels: {elapsed:?} ({:?} each)",
            elapsed / 200
        );
    }
    let db = sqlite().await;
    typical(&db, "sqlite").await;
    growing(&db, "sqlite").await;
    db.cleanup().await;
    if let Some(db) = postgres("measure_save_change").await {
        typical(&db, "postgres").await;
        growing(&db, "postgres").await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn connect_refuses_unknown_schemes_and_in_memory_sqlite() {
    for url in ["mysql://localhost/x", "sqlite::memory:", "nonsense"] {
        let error = Database::connect(url, &PoolConfig::default()).await.unwrap_err();
        assert!(matches!(error, payments_sqlx::ConnectError::UnsupportedUrl(_)), "{url}: {error}");
    }
}

#[tokio::test]
async fn connecting_to_an_unreachable_postgres_fails_fast() {
    // A port nothing listens on: connecting fails quickly with a clear error.
    let config = PoolConfig { acquire_timeout: Duration::from_secs(5), ..PoolConfig::default() };
    let started = std::time::Instant::now();
    let result = Database::connect("postgres://postgres@127.0.0.1:1/none", &config).await;
    assert!(result.is_err());
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// An order of 1000 for source `order`, pending.
fn order(order: &str) -> PaymentOrder {
    PaymentOrder {
        client: ClientId::LEGACY,
        id: PaymentOrderId::from_uuid(uuid::Uuid::now_v7()),
        vendor_code: VendorCode::Iamport,
        store_id: StoreId::parse("store-1").unwrap(),
        source: Source::parse("shop", "orders", order).unwrap(),
        currency: Currency::krw(),
        price: money("1000"),
        webhook_url: WebhookUrl::parse("http://127.0.0.1:9/hook").unwrap(),
        locked: false,
        pg_amount: "1000".into(),
        created_at: at(0),
        expires_at: at(3_600_000),
        status: OrderStatus::Pending,
        closed_at: None,
    }
}

/// The order's announcement of `history`, as recorded.
fn created(history: &PaymentHistory) -> WebhookEvent {
    WebhookEvent::created(
        EventId::from_uuid(uuid::Uuid::now_v7()),
        history.clone(),
        serde_json::json!({"type": "order_completed"}),
        at(10),
    )
}

async fn an_order_completes_once_with_its_history_and_its_announcement(db: &TestDb) {
    let orders = &db.repos.orders;
    let pending = order("order-1");
    orders.insert_order(&pending, &hash()).await.unwrap();
    let again = orders.insert_order(&order("order-1"), &hash()).await.unwrap_err();
    assert!(matches!(again, RepositoryError::Conflict(ref m) if m.starts_with("source: ")), "{again:?}");
    orders.record_lock(pending.id, true, "1000").await.unwrap();
    let stored = orders.find_order_by_source(pending.client, &pending.source).await.unwrap().unwrap();
    assert_eq!(stored, StoredOrder { order: PaymentOrder { locked: true, ..pending.clone() }, password_hash: hash() });
    let order_id = OrderId::parse("order-1").unwrap();
    assert_eq!(orders.pending_orders_for(VendorCode::Iamport, &order_id, 8).await.unwrap().len(), 1);
    assert!(orders.pending_orders_for(VendorCode::PortOne, &order_id, 8).await.unwrap().is_empty());

    // Two completions race (two instances): one history, one event, one delivery.
    let first = history("imp_1", "order-1", "1000", vec![]);
    let second = history("imp_1", "order-1", "1000", vec![]);
    let (hash, first_event, second_event) = (hash(), created(&first), created(&second));
    let completed = OrderClosing::Completed { at: at(10) };
    let (a, b) = tokio::join!(
        orders.complete_order(pending.id, &completed, &first, &hash, &first_event),
        orders.complete_order(pending.id, &completed, &second, &hash, &second_event),
    );
    let lost =
        |r: &Result<(), RepositoryError>| matches!(r, Err(RepositoryError::Stale | RepositoryError::Conflict(_)));
    assert!((a.is_ok() && lost(&b)) || (b.is_ok() && lost(&a)), "expected one completion, got {a:?} and {b:?}");
    let winner = if a.is_ok() { &first } else { &second };
    assert_eq!(db.count("payment_histories").await, 1);
    assert_eq!(db.count("payment_history_webhooks").await, 1);
    assert_eq!(db.count("payment_webhook_outbox").await, 1);
    let done = orders.find_order(pending.id).await.unwrap().unwrap().order;
    assert_eq!(done.status, OrderStatus::Completed { history: winner.id() });
    assert_eq!(done.closed_at, Some(at(10)));
    assert!(orders.pending_orders(None, 10).await.unwrap().is_empty());
    let job = db.repos.outbox.claim_due(at(20), 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(job.len(), 1);
    assert!(job[0].event.previous().is_none(), "an order's completion is announced with no previous state");
    assert_eq!(job[0].event.current(), winner);

    // Closed only while pending; a lock that failed removes only a pending order.
    let expiring = order("order-2");
    orders.insert_order(&expiring, &hash).await.unwrap();
    assert_eq!(orders.pending_orders(None, 10).await.unwrap().len(), 1);
    assert!(orders.close_order(expiring.id, &OrderStatus::Expired, at(3_600_001)).await.unwrap());
    assert!(!orders.close_order(expiring.id, &OrderStatus::Expired, at(3_600_002)).await.unwrap());
    assert!(!orders.remove_pending_order(expiring.id).await.unwrap());
    let late = history("imp_2", "order-2", "1000", vec![]);
    let late_event = created(&late);
    let refused = orders.complete_order(expiring.id, &completed, &late, &hash, &late_event);
    assert!(matches!(refused.await, Err(RepositoryError::Stale)));
    assert_eq!(db.count("payment_histories").await, 1, "a refused completion leaves nothing behind");
    let unlocked = order("order-3");
    orders.insert_order(&unlocked, &hash).await.unwrap();
    assert!(orders.remove_pending_order(unlocked.id).await.unwrap());
    assert!(orders.find_order(unlocked.id).await.unwrap().is_none());
}
