//! Webhooks across the whole server: PG webhooks repeated and concurrent make
//! one event and one delivery; a receiver that fails is retried with the same
//! `webhook-id` until it accepts, and every attempt is recorded. Deliveries
//! are verified (Standard Webhooks signature) and decrypted by the test
//! receiver with the client's `WebhookVerifier`. A PG's repeat of one
//! delivery (Toss's transmission id, PortOne's webhook-id) is answered 200
//! without reading the PG again.

use payments_e2e::{Pg, TestApp, metric, money_text, unique};

payments_e2e::scenarios!(
    iamport_repeated_pg_webhooks,
    toss_repeated_pg_webhooks,
    portone_repeated_pg_webhooks,
    failing_receiver_is_retried,
    a_repeated_toss_transmission_is_read_once,
    a_replayed_portone_delivery_is_read_once
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
    assert_eq!(delivered[0].webhook().previous.as_ref().unwrap().paid_at, None);
    assert!(delivered[0].webhook().current.paid_at.is_some());
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
            all.iter().filter(|d| d.order() == order).map(|d| d.answered).eq([
                Some(500),
                Some(500),
                Some(500),
                Some(200),
            ])
        })
        .await;
    let arrivals: Vec<_> = arrivals.into_iter().filter(|d| d.order() == order).collect();
    let id = arrivals[0].webhook().id;
    assert!(arrivals.iter().all(|d| d.id == id.to_string() && d.webhook().id == id), "same webhook-id each time");
    assert!(arrivals.iter().all(|d| d.webhook().current.refund.as_ref().map(money_text).as_deref() == Some("7000")));

    let outbox = app.outbox_settled(1).await;
    assert_eq!((outbox.delivered, outbox.failed), (1, 0), "{outbox:?}");
    let attempts = app.attempts(id).await.expect("attempts readable");
    let statuses: Vec<_> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(500), Some(200)]);
    assert_eq!(app.hooks.for_order(&order).len(), 4, "delivered once: no delivery after the 200");
}

/// The PG reads of `pg` so far (`payments_pg_calls_total`).
async fn reads(app: &TestApp, pg: &str) -> f64 {
    let series = format!(r#"payments_pg_calls_total{{pg="{pg}",operation="fetch_payment",outcome="ok"}}"#);
    metric(&app.scrape().await, &series)
}

/// The notifications of `pg` taken in with `outcome` so far.
async fn notifications(app: &TestApp, pg: &str, outcome: &str) -> f64 {
    app.pg_notifications(pg, outcome).await
}

/// Waits until `pg`'s fake has had a notification acknowledged (its own
/// webhook of a virtual account just issued, before the payment is
/// registered), so no webhook of the fake is read while a test counts reads.
async fn fake_webhook_acknowledged(app: &TestApp, pg: &str) {
    app.pg_notifications_reach(pg, "ignored", 1.0).await;
}

/// POSTs `body` to `/payments/webhooks/{route}` with `headers`; answers the status.
async fn post_with(app: &TestApp, route: &str, body: &str, headers: &[(String, String)]) -> u16 {
    let mut request = app
        .http
        .post(format!("{}/payments/webhooks/{route}", app.url()))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.expect("the server answers").status().as_u16()
}

/// Toss sends one delivery again (its first answer lost): both answered
/// 200, the PG read once and no second event. The same body as another
/// delivery (another transmission id) is read again; the first id on the
/// generic route is the same delivery still.
async fn a_repeated_toss_transmission_is_read_once(app: &TestApp) {
    let (pg, code) = (Pg::TossPayments, "toss.payments");
    let order = unique("order");
    let uid = app.virtual_account(pg, &order, 12_000).await;
    fake_webhook_acknowledged(app, code).await;
    app.register(pg, &uid, &order, 12_000).await.expect("registered");
    app.deposit(pg, &uid).await;
    // The fake's deposit callback (with its own transmission id): one event.
    app.hooks.delivered(&order, 1).await;

    let body = app.pg_webhook(pg, &uid).await.to_string();
    let delivery =
        |id: &str, retried: u32| payments_toss::webhook::transmission_headers(id, "2026-12-07T12:00:00+09:00", retried);
    let id = format!("whtrans_{}", uuid::Uuid::new_v4().simple());
    let before = reads(app, code).await;
    assert_eq!(post_with(app, "toss", &body, &delivery(&id, 0)).await, 200);
    assert_eq!(reads(app, code).await - before, 1.0, "the delivery is read");
    assert_eq!(post_with(app, "toss", &body, &delivery(&id, 1)).await, 200, "its retry");
    assert_eq!(post_with(app, "toss.payments", &body, &delivery(&id, 2)).await, 200, "on the generic route");
    assert_eq!(reads(app, code).await - before, 1.0, "a retry is not read again");
    assert_eq!(notifications(app, code, "duplicate").await, 2.0);

    let other = format!("whtrans_{}", uuid::Uuid::new_v4().simple());
    assert_eq!(post_with(app, "toss", &body, &delivery(&other, 0)).await, 200);
    assert_eq!(reads(app, code).await - before, 2.0, "another delivery of the same body is read");
    // Without an id, every one is read (as before the id was used).
    assert_eq!(post_with(app, "toss", &body, &[]).await, 200);
    assert_eq!(reads(app, code).await - before, 3.0);

    let outbox = app.outbox_settled(1).await;
    assert_eq!(outbox.delivered, 1, "one event: {outbox:?}");
    assert_eq!(app.hooks.for_order(&order).len(), 1, "one delivery: {:#?}", app.hooks.all());
}

/// A PortOne webhook replayed within its signature's tolerance (the same
/// signed `webhook-id`): answered 200 without reading PortOne again.
async fn a_replayed_portone_delivery_is_read_once(app: &TestApp) {
    let (pg, code) = (Pg::PortOne, "portone");
    let order = unique("order");
    let uid = app.virtual_account(pg, &order, 12_000).await;
    fake_webhook_acknowledged(app, code).await;
    app.register(pg, &uid, &order, 12_000).await.expect("registered");

    let body = app.pg_webhook(pg, &uid).await.to_string();
    let signer = standardwebhooks::Webhook::new(payments_portone::fake::TEST_WEBHOOK_SECRET).expect("a secret");
    let signed = |id: &str| {
        let at = chrono::Utc::now().timestamp();
        let signature = signer.sign(id, at, body.as_bytes()).expect("signed");
        vec![
            ("webhook-id".to_owned(), id.to_owned()),
            ("webhook-timestamp".to_owned(), at.to_string()),
            ("webhook-signature".to_owned(), signature),
        ]
    };
    let headers = signed("msg_e2e_replayed");
    let before = reads(app, code).await;
    assert_eq!(post_with(app, code, &body, &headers).await, 200);
    assert_eq!(reads(app, code).await - before, 1.0, "the delivery is read");
    assert_eq!(post_with(app, code, &body, &headers).await, 200, "replayed as it was");
    assert_eq!(post_with(app, code, &body, &signed("msg_e2e_replayed")).await, 200, "PortOne's retry, signed anew");
    assert_eq!(reads(app, code).await - before, 1.0, "neither is read again");
    assert_eq!(notifications(app, code, "duplicate").await, 2.0);
    assert_eq!(post_with(app, code, &body, &signed("msg_e2e_other")).await, 200);
    assert_eq!(reads(app, code).await - before, 2.0, "another delivery is read");
    // A forged repeat (not signed by the store's secret) is refused before anything is looked up.
    let mut forged = headers.clone();
    forged[2].1 = "v1,AAAA".to_owned();
    assert_eq!(post_with(app, code, &body, &forged).await, 403);
}
