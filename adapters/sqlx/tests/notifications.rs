//! What PG notifications need of storage, on SQLite and on PostgreSQL: the
//! deliveries already answered (seen until their time, remembered again
//! without shortening it, purged past it), a payment found by the PG's key
//! of one of its cancels, and a notification naming a cancel kept in the inbox.
//!
//! PostgreSQL tests need `PAYMENT_TEST_POSTGRES_URL` (each test gets its own
//! schema); unset, they say they did not run.

#[macro_use]
mod harness;

use std::time::Duration;

use harness::*;
use payments_application::commands::{NotificationTarget, PgNotification};
use payments_application::ports::{CancelIntent, InboxOutcome, IntentBegin, IntentState, Revision};
use payments_domain::*;
use serde_json::json;

suite!(
    answered_deliveries_are_seen_until_their_time_and_purged_after,
    a_payment_is_found_by_the_pg_key_of_one_of_its_cancels,
    a_notification_naming_a_cancel_is_kept_in_the_inbox,
);

const TOSS: VendorCode = VendorCode::TossPayments;

async fn answered_deliveries_are_seen_until_their_time_and_purged_after(db: &TestDb) {
    let receipts = &db.repos.receipts;
    let digest = payments_application::lookup_digest("whtrans_1");
    assert!(!receipts.seen(TOSS, &digest, at(0)).await.unwrap(), "not remembered yet");

    receipts.remember(TOSS, &digest, at(10_000)).await.unwrap();
    assert!(receipts.seen(TOSS, &digest, at(0)).await.unwrap());
    assert!(receipts.seen(TOSS, &digest, at(10_000)).await.unwrap(), "kept until its time, included");
    assert!(!receipts.seen(TOSS, &digest, at(10_001)).await.unwrap(), "past its time a repeat is new again");
    assert!(!receipts.seen(VendorCode::PortOne, &digest, at(0)).await.unwrap(), "per vendor");
    let other = payments_application::lookup_digest("whtrans_2");
    assert!(!receipts.seen(TOSS, &other, at(0)).await.unwrap());

    // Remembered again (an upsert): the later time is kept, never an earlier one.
    receipts.remember(TOSS, &digest, at(20_000)).await.unwrap();
    receipts.remember(TOSS, &digest, at(5_000)).await.unwrap();
    assert!(receipts.seen(TOSS, &digest, at(20_000)).await.unwrap());
    assert_eq!(db.count("pg_notification_receipts").await, 1, "one row per delivery");

    receipts.remember(TOSS, &other, at(1_000)).await.unwrap();
    receipts.remember(VendorCode::PortOne, &digest, at(1_000)).await.unwrap();
    assert_eq!(receipts.purge_before(at(1_000)).await.unwrap(), 0, "kept until their time, included");
    assert_eq!(receipts.purge_before(at(1_001)).await.unwrap(), 2);
    assert!(receipts.seen(TOSS, &digest, at(1_001)).await.unwrap(), "one still in its time stays");
    assert_eq!(receipts.purge_before(at(20_001)).await.unwrap(), 1);
    assert_eq!(db.count("pg_notification_receipts").await, 0);

    // Only the digest is stored, never the PG's id.
    receipts.remember(TOSS, &digest, at(1_000)).await.unwrap();
    assert!(!db.dump().await.contains("whtrans_1"));
}

async fn a_payment_is_found_by_the_pg_key_of_one_of_its_cancels(db: &TestDb) {
    let paid = history("imp_1", "order-1", "1000", vec![]);
    let other = history("imp_2", "order-2", "1000", vec![cancel("tx-other", "100", 20)]);
    for h in [&paid, &other] {
        db.repos.histories.insert(h, &hash()).await.unwrap();
    }
    let key = CancelKey::parse("tx-cancel-1").unwrap();
    assert!(db.repos.histories.find_by_cancel_key(VendorCode::Iamport, &key).await.unwrap().is_none());

    let (next, event) = change(&paid, snapshot("1000", vec![cancel("tx-cancel-1", "300", 30)]), 40);
    db.repos.histories.save_change(Revision(0), &next, &event).await.unwrap();
    let found = db.repos.histories.find_by_cancel_key(VendorCode::Iamport, &key).await.unwrap().expect("found");
    assert_eq!(found.history.id(), paid.id());
    assert_eq!((found.history.refund(), found.revision), (money("300"), Revision(1)));
    assert!(db.repos.histories.find_by_cancel_key(TOSS, &key).await.unwrap().is_none(), "per vendor");
    let registered_with = CancelKey::parse("tx-other").unwrap();
    let found = db.repos.histories.find_by_cancel_key(VendorCode::Iamport, &registered_with).await.unwrap();
    assert_eq!(found.map(|s| s.history.id()), Some(other.id()), "a cancel recorded at registration");

    // A cancel asked here that the PG has not completed: known by its intent.
    let waiting = history("imp_3", "order-3", "1000", vec![]);
    db.repos.histories.insert(&waiting, &hash()).await.unwrap();
    let mut intent = CancelIntent {
        id: uuid::Uuid::now_v7(),
        history: waiting.id(),
        amount: money("400"),
        reason: CancelReason::parse("customer asked").unwrap(),
        refund_account: None,
        remaining: money("1000"),
        attempt: 0,
        state: IntentState::Pending,
        cancel_key: None,
        refusal: None,
        created_at: at(100),
        updated_at: at(100),
    };
    assert_eq!(db.repos.intents.begin(&intent).await.unwrap(), IntentBegin::Begun);
    let accepted = CancelKey::parse("tx-accepted").unwrap();
    assert!(db.repos.histories.find_by_cancel_key(VendorCode::Iamport, &accepted).await.unwrap().is_none());
    intent.cancel_key = Some(accepted.clone());
    assert!(db.repos.intents.update(&intent).await.unwrap());
    let found = db.repos.histories.find_by_cancel_key(VendorCode::Iamport, &accepted).await.unwrap();
    assert_eq!(found.map(|s| s.history.id()), Some(waiting.id()), "by the intent that holds its key");
}

async fn a_notification_naming_a_cancel_is_kept_in_the_inbox(db: &TestDb) {
    let inbox = &db.repos.inbox;
    let lease = Duration::from_secs(10);
    let notice = PgNotification {
        vendor: TOSS,
        target: NotificationTarget::Cancel { key: CancelKey::parse("tx-cancel-1").unwrap(), ignore_unknown: false },
        payload: json!({"eventType": "CANCEL_STATUS_CHANGED", "data": {"transactionKey": "tx-cancel-1"}}),
        signed: false,
    };
    let id = inbox.enqueue(&notice, at(0), lease, false).await.unwrap();
    let taken = inbox.claim_due(at(10_001), 10, lease).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].id, &taken[0].notice.target), (id, &notice.target));
    assert_eq!(taken[0].notice.payload, notice.payload);
    assert!(inbox.settle(id, taken[0].lease, InboxOutcome::Done, None, at(10_002)).await.unwrap());
}
