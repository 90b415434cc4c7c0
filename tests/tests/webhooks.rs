//! Webhooks across the whole server: PG webhooks repeated and concurrent make
//! one event and one delivery; a receiver that fails is retried with the same
//! `webhook-id` until it accepts, and every attempt is recorded. Deliveries
//! are verified (Standard Webhooks signature) and decrypted by the test
//! receiver with the client's `WebhookVerifier`.

use payments_e2e::{Pg, TestApp, money_text, unique};

payments_e2e::scenarios!(
    iamport_repeated_pg_webhooks,
    toss_repeated_pg_webhooks,
    portone_repeated_pg_webhooks,
    failing_receiver_is_retried
);

/// A deposit, then the same PG webhook 5 times in a row and 10 at once:
/// one event, one delivery (previous without paid_at, current with it).
async fn repeated_pg_webhooks(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.virtual_account(pg, &order, 12_000).await;
    app.register(pg, &uid, &order, 12_000).await.expect("registered");
    app.deposit(pg, &uid).await;

    let route = TestApp::webhook_route(pg);
    let webhook = app.pg_webhook(pg, &uid).await;
    for _ in 0..5 {
        assert_eq!(app.post_pg_webhook(route, &webhook).await, 200, "{webhook}");
    }
    let concurrent = (0..10).map(|_| app.post_pg_webhook(route, &webhook));
    let statuses = futures::future::join_all(concurrent).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let delivered = app.hooks.delivered(&order, 1).await;
    assert_eq!(delivered[0].body.previous.paid_at, None);
    assert!(delivered[0].body.current.paid_at.is_some());
    let outbox = app.outbox_settled(1).await;
    assert_eq!(outbox.delivered, 1, "one event: {outbox:?}");
    assert_eq!(app.hooks.all().len(), 1, "one delivery: {:#?}", app.hooks.all());
    assert!(app.hooks.rejected().is_empty());
}

async fn iamport_repeated_pg_webhooks(app: &TestApp) {
    repeated_pg_webhooks(app, Pg::Iamport).await;
}

async fn toss_repeated_pg_webhooks(app: &TestApp) {
    repeated_pg_webhooks(app, Pg::TossPayments).await;
}

async fn portone_repeated_pg_webhooks(app: &TestApp) {
    repeated_pg_webhooks(app, Pg::PortOne).await;
}

/// The receiver answers 500 three times then 200: four recorded attempts,
/// delivered once, the same webhook-id each time.
async fn failing_receiver_is_retried(app: &TestApp) {
    let order = unique("order");
    let uid = app.card_payment(Pg::TossPayments, &order, 7_000).await;
    app.register_to(Pg::TossPayments, &uid, &order, 7_000, app.flaky_hook_url(3)).await.expect("registered");
    app.cancel(&order, 7_000, None).await.expect("cancelled");

    let arrivals = app
        .hooks
        .wait_until("four arrivals, the last accepted", |all| {
            all.iter().filter(|d| d.order() == order).map(|d| d.answered).eq([500, 500, 500, 200])
        })
        .await;
    let arrivals: Vec<_> = arrivals.into_iter().filter(|d| d.order() == order).collect();
    let id = arrivals[0].body.id;
    assert!(arrivals.iter().all(|d| d.webhook_id == id.to_string() && d.body.id == id), "same webhook-id each time");
    assert!(arrivals.iter().all(|d| d.body.current.refund.as_ref().map(money_text).as_deref() == Some("7000")));

    let outbox = app.outbox_settled(1).await;
    assert_eq!((outbox.delivered, outbox.failed), (1, 0), "{outbox:?}");
    let attempts = app.attempts(id).await.expect("attempts readable");
    let statuses: Vec<_> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(500), Some(200)]);
    assert_eq!(app.hooks.for_order(&order).len(), 4, "delivered once: no delivery after the 200");
}
