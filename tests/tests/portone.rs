//! PortOne V2 as the third PG, where it differs from the other two: its
//! webhooks are signed (a forged one is refused before anything is read),
//! and a cancel made at PortOne whose webhook never came is found by the
//! reconciler. Both databases.

use std::time::Duration;

use payments_e2e::{Pg, TestApp, accessor, money_text, unique};
use serde_json::json;

payments_e2e::scenarios!(
    with [("PAYMENT_RECONCILE_INTERVAL", "1s"), ("PAYMENT_RECONCILE_PACE_MS", "1")];
    a_forged_portone_webhook_is_refused_and_changes_nothing,
    a_cancel_at_portone_without_its_webhook_is_reconciled_once,
);

/// A webhook claiming a payment was cancelled, unsigned or signed under
/// another secret: 403, and the record and the backend hear nothing.
async fn a_forged_portone_webhook_is_refused_and_changes_nothing(app: &TestApp) {
    let order = unique("order");
    let uid = app.card_payment(Pg::PortOne, &order, 10_000).await;
    app.register(Pg::PortOne, &uid, &order, 10_000).await.expect("registered");
    let forged = json!({"type": "Transaction.Cancelled", "timestamp": "2026-12-02T12:00:00.000Z",
                        "data": {"paymentId": uid, "storeId": payments_portone::fake::TEST_STORE_ID,
                                 "transactionId": "tx", "cancellationId": "c"}});
    let unsigned =
        app.http.post(format!("{}/payments/webhooks/portone", app.url())).json(&forged).send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 403);
    let text = forged.to_string();
    let other = standardwebhooks::Webhook::new("whsec_Zm9yZ2VkLWJ5LWFuLWF0dGFja2VyLXdpdGgtYS1rZXk=").unwrap();
    let at = chrono::Utc::now().timestamp();
    let wrong = app
        .http
        .post(format!("{}/payments/webhooks/portone", app.url()))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_forged")
        .header("webhook-timestamp", at.to_string())
        .header("webhook-signature", other.sign("msg_forged", at, text.as_bytes()).unwrap())
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    // Signed by the store's own secret but naming a store with no secret
    // here: the same 403, word for word (the answer does not tell which
    // stores exist; the log says why).
    let elsewhere = json!({"type": "Transaction.Cancelled", "timestamp": "2026-12-02T12:00:00.000Z",
                           "data": {"paymentId": uid, "storeId": "store-nobody-configured",
                                    "transactionId": "tx", "cancellationId": "c"}})
    .to_string();
    let ours = standardwebhooks::Webhook::new(payments_portone::fake::TEST_WEBHOOK_SECRET).unwrap();
    let unknown_store = app
        .http
        .post(format!("{}/payments/webhooks/portone", app.url()))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_elsewhere")
        .header("webhook-timestamp", at.to_string())
        .header("webhook-signature", ours.sign("msg_elsewhere", at, elsewhere.as_bytes()).unwrap())
        .body(elsewhere)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_store.status().as_u16(), 403);
    let mut messages = Vec::new();
    for refused in [unsigned, wrong, unknown_store] {
        let body: serde_json::Value = refused.json().await.unwrap();
        messages.push((body["code"].clone(), body["message"].clone()));
    }
    assert_eq!(messages, vec![(json!("NOTIFICATION_NOT_PROVEN"), json!("not a notification of portone")); 3]);
    // The genuine one (signed by the fake's secret) is taken.
    assert_eq!(app.post_pg_webhook("portone", &app.pg_webhook(Pg::PortOne, &uid).await).await, 200);
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert_eq!((read.refund, read.cancels.len()), (None, 0), "nothing changed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.hooks.for_order(&order).is_empty(), "nothing announced");
}

/// A cancel made at PortOne with `skipWebhook` (no webhook reaches us): the
/// reconciler (every second here) records it, with one event, and no more.
async fn a_cancel_at_portone_without_its_webhook_is_reconciled_once(app: &TestApp) {
    let order = unique("order");
    let uid = app.card_payment(Pg::PortOne, &order, 10_000).await;
    app.register(Pg::PortOne, &uid, &order, 10_000).await.expect("registered");
    let body = json!({"amount": 2500, "reason": "at PortOne's console", "skipWebhook": true});
    app.portone.call(reqwest::Method::POST, &format!("/payments/{uid}/cancel"), Some(body)).await;
    let delivered = app.hooks.delivered(&order, 1).await;
    assert_eq!(delivered[0].webhook().current.refund.as_ref().map(money_text).as_deref(), Some("2500"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.hooks.for_order(&order).len(), 1, "exactly one event, in later runs too");
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert_eq!(read.refund.as_ref().map(money_text).as_deref(), Some("2500"));
    assert_eq!(app.pg_state(Pg::PortOne, &uid).await, ("PARTIAL_CANCELLED".to_owned(), 7500));
}
