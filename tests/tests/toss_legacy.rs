//! Toss Payments for a merchant whose account is still on API version 1.4
//! (the original SDK's): the fake answers in the reference swagger's shape
//! and sends the short `{eventType, data: {paymentKey, orderId, status}}`
//! webhook. A card payment, a virtual-account deposit, a deposit the bank
//! reverses (1.4 reports it as `CANCELED` without a refund) and a saved card
//! issued with the old API are recorded exactly as with today's API.

use payments_e2e::{PASSWORD, Pg, TestApp, accessor, money_text, unique, vendor};
use payments_wire as wire;

payments_e2e::scenarios!(
    with [("PAYMENT_FAKE_TOSS_API_VERSION", "1.4")];
    a_card_payment_is_registered_and_partly_cancelled,
    a_deposit_and_its_reversal_are_announced,
    a_saved_card_issued_with_the_old_api_is_registered,
);

const TOSS: Pg = Pg::TossPayments;

async fn a_card_payment_is_registered_and_partly_cancelled(app: &TestApp) {
    let order = unique("order");
    let key = app.toss.card_payment(&order, 20_000).await;
    let payment = app.toss.payment(&key).await;
    assert_eq!(payment["version"], "1.4", "{payment}");
    assert!(payment["card"]["company"].is_string(), "the 1.4 shape: {payment}");
    let history = app.register(TOSS, &key, &order, 20_000).await.expect("registered");
    assert!(history.paid_at.is_some());
    let cancelled = app.cancel(&order, 5_000, None).await.expect("cancelled");
    assert_eq!(cancelled.refund.as_ref().map(money_text).as_deref(), Some("5000"));
    let delivered = app.hooks.delivered(&order, 1).await;
    assert_eq!(delivered[0].webhook().current.refund.as_ref().map(money_text).as_deref(), Some("5000"));
}

async fn a_deposit_and_its_reversal_are_announced(app: &TestApp) {
    let order = unique("order");
    let key = app.toss.virtual_account(&order, 12_000).await;
    assert!(app.toss.payment(&key).await["virtualAccount"]["bank"].is_string(), "the 1.4 shape");
    app.register(TOSS, &key, &order, 12_000).await.expect("registered unpaid");
    // The fake sends the short 1.4 webhook; the server re-reads the payment.
    app.toss.deposit(&key).await;
    let delivered = app.hooks.delivered(&order, 1).await;
    assert!(delivered[0].webhook().current.paid_at.is_some());
    let path = format!("/internal/{key}/reverse-deposit");
    let (_, reversed) = app.toss.call(reqwest::Method::PUT, &path, None).await;
    assert_eq!(reversed["status"], "CANCELED", "1.4 reports a reversal as CANCELED: {reversed}");
    let delivered = app.hooks.delivered(&order, 2).await;
    assert!(delivered[1].webhook().previous.as_ref().unwrap().paid_at.is_some());
    assert_eq!(delivered[1].webhook().current.paid_at, None, "unpaid again");
    assert_eq!(delivered[1].webhook().current.refund, None, "nothing was refunded");
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert_eq!(read.paid_at, None);
}

async fn a_saved_card_issued_with_the_old_api_is_registered(app: &TestApp) {
    let customer_key = unique("customer");
    let billing_key = app.toss.save_card(&customer_key).await;
    let reservation = app
        .client
        .save_card(&wire::CreateReservationBody {
            vendor: vendor(TOSS, &billing_key),
            source: wire::SourceBody { schema: "shop".into(), table: "customers".into(), id: customer_key.clone() },
            title: "monthly plan".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("a billing key of the old API is read back and registered");
    assert_eq!(reservation.data["billingKey"], billing_key.as_str());
    let number = reservation.data["cardNumber"].as_str().expect("the 1.4 shape's card number");
    assert!(number.contains('*'), "masked: {number}");
}
