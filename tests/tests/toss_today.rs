//! Toss Payments as a merchant uses it today (API 2022-11-16, the fake's
//! default): a card payment authenticated in the window is confirmed at
//! registration, a wrong price is refused before anything is charged, expired
//! and refused payments are 422, a virtual account is paid through the flat
//! `DEPOSIT_CALLBACK` (a forged one changes nothing), a deposit the bank
//! reverses is announced, event types we do not record are answered 200, and
//! a saved card is issued from the window's `authKey`.

use payments_e2e::{PASSWORD, Pg, TestApp, accessor, assert_status, unique, vendor};
use payments_wire as wire;
use serde_json::json;

payments_e2e::scenarios!(
    an_authenticated_card_is_confirmed_at_registration,
    a_wrong_price_is_refused_and_nothing_is_charged,
    an_expired_payment_is_422,
    a_card_refused_at_confirmation_is_422_and_nothing_is_stored,
    a_virtual_account_is_paid_through_the_deposit_callback,
    a_forged_deposit_callback_changes_nothing,
    a_reversed_deposit_is_announced,
    event_types_we_do_not_record_are_answered_200,
    a_saved_card_is_issued_from_the_windows_auth_key,
);

const TOSS: Pg = Pg::TossPayments;

async fn an_authenticated_card_is_confirmed_at_registration(app: &TestApp) {
    let order = unique("order");
    let key = app.toss.authenticated_card_payment(&order, 15_000).await;
    let history = app.register(TOSS, &key, &order, 15_000).await.expect("registered");
    assert!(history.paid_at.is_some(), "confirmed, so paid: {history:?}");
    assert_eq!(history.data["status"], "DONE");
    let at_toss = app.toss.payment(&key).await;
    assert_eq!(at_toss["status"], "DONE", "the fake shows it confirmed: {at_toss}");
    let confirm_key = app.toss.confirmation_key(&key).await.expect("the confirmation carried an Idempotency-Key");
    assert!(!confirm_key.is_empty() && confirm_key.len() <= 300, "{confirm_key}");

    // Registering it again is refused here, before Toss is asked anything.
    assert_status(app.register(TOSS, &key, &unique("order"), 15_000).await, 409);
    assert_eq!(app.toss.confirmation_key(&key).await.as_deref(), Some(confirm_key.as_str()));
}

async fn a_wrong_price_is_refused_and_nothing_is_charged(app: &TestApp) {
    let order = unique("order");
    let key = app.toss.authenticated_card_payment(&order, 15_000).await;
    let refused = assert_status(app.register(TOSS, &key, &order, 14_000).await, 422);
    assert!(refused.to_string().contains("price"), "{refused}");
    let at_toss = app.toss.payment(&key).await;
    assert_eq!(at_toss["status"], "IN_PROGRESS", "never confirmed, never charged: {at_toss}");
    assert!(at_toss["cancels"].is_null(), "nothing to cancel either: {at_toss}");
    assert_eq!(app.toss.confirmation_key(&key).await, None);
    assert_status(app.client.get_history(&accessor(&order)).await, 404);

    // The backend can still register it at the right price.
    let history = app.register(TOSS, &key, &order, 15_000).await.expect("registered at the right price");
    assert!(history.paid_at.is_some());
}

async fn an_expired_payment_is_422(app: &TestApp) {
    let order = unique("order");
    let key = app.toss.authenticated_card_payment(&order, 8_000).await;
    app.toss.expire(&key).await;
    let refused = assert_status(app.register(TOSS, &key, &order, 8_000).await, 422);
    assert!(refused.to_string().contains("EXPIRED"), "names the status: {refused}");
    assert_status(app.client.get_history(&accessor(&order)).await, 404);
}

async fn a_card_refused_at_confirmation_is_422_and_nothing_is_stored(app: &TestApp) {
    let order = unique("order");
    let key = app.toss.authenticated_with_card(payments_toss::fake::REFUSED_CARD_NUMBER, &order, 5_000).await;
    let refused = assert_status(app.register(TOSS, &key, &order, 5_000).await, 422);
    assert!(refused.to_string().contains("REJECT_CARD_COMPANY"), "Toss's code: {refused}");
    assert_eq!(app.toss.payment(&key).await["status"], "ABORTED");
    assert_status(app.client.get_history(&accessor(&order)).await, 404);
    // Aborted for good: a retry is refused naming the status.
    let again = assert_status(app.register(TOSS, &key, &order, 5_000).await, 422);
    assert!(again.to_string().contains("ABORTED"), "{again}");
}

async fn a_virtual_account_is_paid_through_the_deposit_callback(app: &TestApp) {
    let order = unique("order");
    let key = app.toss.virtual_account(&order, 12_000).await;
    let history = app.register(TOSS, &key, &order, 12_000).await.expect("registered unpaid");
    assert!(history.paid_at.is_none());
    // The fake sends the flat DEPOSIT_CALLBACK (with the account's secret) to the server.
    app.toss.deposit(&key).await;
    let delivered = app.hooks.delivered(&order, 1).await;
    assert_eq!(delivered[0].webhook().previous.as_ref().unwrap().paid_at, None);
    assert!(delivered[0].webhook().current.paid_at.is_some());
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert!(read.paid_at.is_some());
    assert_eq!(app.outbox_settled(1).await.delivered, 1, "one event");
}

async fn a_forged_deposit_callback_changes_nothing(app: &TestApp) {
    let order = unique("order");
    let key = app.toss.virtual_account(&order, 12_000).await;
    let history = app.register(TOSS, &key, &order, 12_000).await.expect("registered unpaid");
    let order_id = history.data["orderId"].as_str().expect("Toss's orderId").to_owned();
    let forged = json!({
        "createdAt": "2026-12-01T10:00:00.000000", "secret": "ps_guessed", "status": "DONE",
        "transactionKey": "forged", "orderId": order_id,
    });
    assert_eq!(app.post_pg_webhook("toss", &forged).await, 403);
    // The genuine secret, before any deposit: re-read, nothing changed.
    let secret = history.data["secret"].as_str().expect("the account's secret").to_owned();
    let early = json!({ "secret": secret, "status": "DONE", "orderId": order_id });
    assert_eq!(app.post_pg_webhook("toss", &early).await, 200);
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert!(read.paid_at.is_none(), "still unpaid: {read:?}");
    assert_eq!(app.outbox_settled(0).await.delivered, 0, "no event");
    assert!(app.hooks.for_order(&order).is_empty());
}

async fn a_reversed_deposit_is_announced(app: &TestApp) {
    let order = unique("order");
    let key = app.toss.virtual_account(&order, 30_000).await;
    app.register(TOSS, &key, &order, 30_000).await.expect("registered unpaid");
    app.toss.deposit(&key).await;
    app.hooks.delivered(&order, 1).await;
    app.toss.reverse_deposit(&key).await;
    let delivered = app.hooks.delivered(&order, 2).await;
    let reversal = delivered[1].webhook();
    assert!(reversal.previous.as_ref().unwrap().paid_at.is_some(), "{reversal:?}");
    assert_eq!(reversal.current.paid_at, None, "unpaid again: {reversal:?}");
    assert_eq!(reversal.current.data["status"], "WAITING_FOR_DEPOSIT");
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert_eq!(read.paid_at, None);
    assert_eq!(app.outbox_settled(2).await.delivered, 2, "one event for the deposit, one for its reversal");
}

async fn event_types_we_do_not_record_are_answered_200(app: &TestApp) {
    for body in [
        json!({ "eventType": "CANCEL_STATUS_CHANGED", "createdAt": "2026-12-01T10:00:00.000000",
                "data": { "transactionKey": "t", "cancelStatus": "DONE" } }),
        json!({ "eventType": "BILLING_DELETED", "createdAt": "2026-12-01T10:00:00.000000",
                "data": { "billingKey": "unknown-key", "reason": null } }),
        json!({ "eventType": "SOMETHING_TOSS_ADDS_NEXT_YEAR", "data": { "anything": [1, 2, 3] } }),
    ] {
        assert_eq!(app.post_pg_webhook("toss", &body).await, 200, "{body}");
    }
    for malformed in [json!([1, 2]), json!({ "data": {} })] {
        assert_eq!(app.post_pg_webhook("toss", &malformed).await, 400, "{malformed}");
    }
}

async fn a_saved_card_is_issued_from_the_windows_auth_key(app: &TestApp) {
    let customer_key = unique("customer");
    let auth_key = app.toss.card_registration(&customer_key).await;
    let source = wire::SourceBody { schema: "shop".into(), table: "customers".into(), id: customer_key.clone() };
    let reservation = app
        .client
        .save_card(&wire::CreateReservationBody {
            vendor: vendor(TOSS, &auth_key),
            source: source.clone(),
            title: "monthly plan".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("the authKey is exchanged for a billing key");
    let billing_key = reservation.data["billingKey"].as_str().expect("the billing key, sealed at rest").to_owned();
    assert_eq!(reservation.data["customerKey"], customer_key.as_str());
    let number = reservation.data["card"]["number"].as_str().expect("a masked card number");
    assert!(number.contains('*'), "masked as Toss masks it: {number}");
    // The billing key charges the card for that customer.
    let order = unique("order");
    let payment_key = app.toss.charge_saved_card(&billing_key, &customer_key, &order, 4_900).await;
    let history = app.register(TOSS, &payment_key, &order, 4_900).await.expect("charge registered");
    assert!(history.paid_at.is_some());
    // Toss says the customer removed the card: the record is kept, marked removed.
    let deleted = json!({ "eventType": "BILLING_DELETED", "createdAt": "2026-12-01T10:00:00.000000",
                          "data": { "billingKey": billing_key, "reason": null } });
    assert_eq!(app.post_pg_webhook("toss", &deleted).await, 200);
    let read = app.client.get_saved_card_by_id(reservation.id, PASSWORD).await.expect("still readable");
    assert!(read.removed_at.is_some(), "marked removed: {read:?}");
    assert_eq!(reservation.removed_at, None);
    // The authKey is single-use: registering it for another source fails at Toss.
    let other = wire::SourceBody { id: unique("customer"), ..source };
    let again = app
        .client
        .save_card(&wire::CreateReservationBody {
            vendor: vendor(TOSS, &auth_key),
            source: other,
            title: "again".into(),
            password: PASSWORD.into(),
        })
        .await;
    assert!(matches!(again.as_ref().map_err(|e| e.status()), Err(Some(409 | 404 | 422))), "{again:?}");
}
