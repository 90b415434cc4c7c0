//! Orders registered before the customer pays (`POST /payments/orders`):
//! the amount locked at the PG, the payment recorded and announced by the
//! PG's webhook alone (a customer who never comes back), by the backend's
//! registration when it comes first, and once when both race; a tampered
//! amount refused by the PG's lock; Toss confirmed with the order's amount;
//! an expired order never completing. Both databases.

use payments_e2e::{PASSWORD, Pg, TestApp, accessor, accessor_with, assert_status, money_text, source, unique};
use payments_wire as wire;
use serde_json::{Value, json};

payments_e2e::scenarios!(
    portone_order_completed_by_its_webhook_alone,
    iamport_order_completed_by_its_webhook_alone,
    portone_order_registered_before_its_webhook,
    iamport_order_registered_before_its_webhook,
    portone_order_registration_racing_its_webhook,
    iamport_order_registration_racing_its_webhook,
    portone_tampered_amount_refused_by_the_lock,
    iamport_tampered_amount_refused_by_the_lock,
    toss_order_confirmed_with_the_orders_amount,
    an_order_paid_with_another_amount_is_refunded_and_refused,
    portone_virtual_account_order_completed_when_issued,
    an_expired_order_never_completes,
    orders_refuse_bad_input,
);

/// The registration the backend sends after the redirect, as sent: its
/// status (201 registered now, 200 recorded already) and its answer.
async fn register_raw(app: &TestApp, pg: Pg, uid: &str, order: &str, price: u64) -> (u16, Value) {
    let code = match pg {
        Pg::Iamport => "iamport",
        Pg::TossPayments => "toss.payments",
        Pg::PortOne => "portone",
    };
    let body = json!({
        "vendor": {"code": code, "store_id": payments_e2e::store_of(pg), "uid": uid},
        "source": {"schema": source(order).schema, "table": source(order).table, "id": order},
        "price": price, "password": PASSWORD, "webhook_url": app.hook_url(),
    });
    app.send_encrypted(reqwest::Method::POST, "/payments/histories", &body).await
}

/// An order of 10,000 won, pending and locked at `pg`.
async fn locked_order(app: &TestApp, pg: Pg, order: &str) -> wire::OrderBody {
    let created = app.create_order(pg, order, 10_000).await.expect("an order");
    assert_eq!(created.state, wire::OrderStateBody::Pending);
    assert_eq!(created.source, source(order));
    assert_eq!((created.pg.order_id.as_str(), money_text(&created.pg.amount)), (order, "10000".to_owned()));
    assert!(created.pg.locked, "{pg:?} locks the amount");
    assert_eq!((created.history_id, created.closed_at), (None, None));
    created
}

/// The order's payment, announced once with no previous state: its history.
async fn announced_once(app: &TestApp, order: &str) -> wire::HistorySnapshotBody {
    let delivered = app.hooks.delivered(order, 1).await;
    let hook = delivered[0].webhook();
    assert!(hook.previous.is_none(), "a completion is announced with previous: null: {hook:?}");
    assert_eq!(hook.source, source(order));
    assert_eq!(money_text(&hook.current.price), "10000");
    assert!(hook.current.paid_at.is_some());
    app.outbox_settled(1).await;
    assert_eq!(app.hooks.for_order(order).len(), 1, "one completion, one announcement");
    hook.current.clone()
}

/// The order reads completed as `history`, which opens with the order's password.
async fn completed_as(app: &TestApp, order: &str, history: uuid::Uuid) {
    let read = app.client.get_order(&accessor(order)).await.expect("the order reads");
    assert_eq!(read.state, wire::OrderStateBody::Completed);
    assert_eq!(read.history_id, Some(history));
    assert!(read.closed_at.is_some());
    let payment = app.client.get_history(&accessor(order)).await.expect("its payment reads with its password");
    assert_eq!(payment.id, history);
    assert_eq!(payment.webhook_url, app.hook_url());
}

/// The customer pays and never comes back: the PG's webhook alone records
/// and announces the payment; the backend's registration, when it comes,
/// answers 200 with that same payment.
async fn completed_by_its_webhook_alone(app: &TestApp, pg: Pg) {
    let order = unique("order");
    locked_order(app, pg, &order).await;
    let uid = app.pay_in_window(pg, &order, 10_000, false).await.expect("paid in the window");
    let current = announced_once(app, &order).await;
    assert_eq!(current.vendor.uid, uid);
    completed_as(app, &order, current.id).await;
    let (status, answer) = register_raw(app, pg, &uid, &order, 10_000).await;
    assert_eq!(status, 200, "recorded already: {answer}");
    assert_eq!(answer["id"], json!(current.id));
    // The same order asked again answers it, completed.
    let again = app.create_order(pg, &order, 10_000).await.expect("the order again");
    assert_eq!((again.state, again.history_id), (wire::OrderStateBody::Completed, Some(current.id)));
    app.outbox_settled(1).await;
    assert_eq!(app.hooks.for_order(&order).len(), 1, "nothing more announced");
}

async fn portone_order_completed_by_its_webhook_alone(app: &TestApp) {
    completed_by_its_webhook_alone(app, Pg::PortOne).await;
}

async fn iamport_order_completed_by_its_webhook_alone(app: &TestApp) {
    completed_by_its_webhook_alone(app, Pg::Iamport).await;
}

/// The backend registers before the PG's webhook comes: 201, announced
/// once; the webhook then changes nothing.
async fn registered_before_its_webhook(app: &TestApp, pg: Pg) {
    let order = unique("order");
    locked_order(app, pg, &order).await;
    let uid = app.pay_in_window(pg, &order, 10_000, true).await.expect("paid, its webhook held back");
    let (status, answer) = register_raw(app, pg, &uid, &order, 10_000).await;
    assert_eq!(status, 201, "{answer}");
    let current = announced_once(app, &order).await;
    assert_eq!(answer["id"], json!(current.id));
    completed_as(app, &order, current.id).await;
    let late = app.pg_webhook(pg, &uid).await;
    assert_eq!(app.post_pg_webhook(TestApp::webhook_route(pg), &late).await, 200);
    app.outbox_settled(1).await;
    assert_eq!(app.hooks.for_order(&order).len(), 1, "the late webhook changes nothing");
}

async fn portone_order_registered_before_its_webhook(app: &TestApp) {
    registered_before_its_webhook(app, Pg::PortOne).await;
}

async fn iamport_order_registered_before_its_webhook(app: &TestApp) {
    registered_before_its_webhook(app, Pg::Iamport).await;
}

/// The PG's webhook and the backend's registration race (the webhook sent
/// by hand at the same moment as the registration, besides the PG's own):
/// one history, one announcement, and the registration answers it.
async fn registration_racing_its_webhook(app: &TestApp, pg: Pg) {
    for round in 0..3 {
        let order = unique(&format!("race-{round}"));
        locked_order(app, pg, &order).await;
        let uid = app.pay_in_window(pg, &order, 10_000, false).await.expect("paid");
        let webhook = app.pg_webhook(pg, &uid).await;
        let (registered, notified) = tokio::join!(
            register_raw(app, pg, &uid, &order, 10_000),
            app.post_pg_webhook(TestApp::webhook_route(pg), &webhook),
        );
        assert!(matches!(registered.0, 200 | 201), "{registered:?}");
        assert_eq!(notified, 200);
        let current = announced_once(app, &order).await;
        assert_eq!(registered.1["id"], json!(current.id));
        completed_as(app, &order, current.id).await;
    }
}

async fn portone_order_registration_racing_its_webhook(app: &TestApp) {
    registration_racing_its_webhook(app, Pg::PortOne).await;
}

async fn iamport_order_registration_racing_its_webhook(app: &TestApp) {
    registration_racing_its_webhook(app, Pg::Iamport).await;
}

/// A customer who changed the amount in the browser: the PG's window
/// refuses it (nothing charged, nothing recorded); the order stays pending
/// and the right amount then completes it.
async fn tampered_amount_refused_by_the_lock(app: &TestApp, pg: Pg) {
    let order = unique("order");
    locked_order(app, pg, &order).await;
    let (status, refusal) = app.pay_in_window(pg, &order, 100, false).await.expect_err("the window refuses 100");
    assert_eq!(status, 409, "{refusal}");
    let pending = app.client.get_order(&accessor(&order)).await.expect("the order");
    assert_eq!(pending.state, wire::OrderStateBody::Pending);
    let uid = app.pay_in_window(pg, &order, 10_000, false).await.expect("the locked amount pays");
    let current = announced_once(app, &order).await;
    assert_eq!(current.vendor.uid, uid);
    assert_eq!(app.pg_state(pg, &uid).await.1, 10_000, "charged once, the order's amount");
}

async fn portone_tampered_amount_refused_by_the_lock(app: &TestApp) {
    tampered_amount_refused_by_the_lock(app, Pg::PortOne).await;
}

async fn iamport_tampered_amount_refused_by_the_lock(app: &TestApp) {
    tampered_amount_refused_by_the_lock(app, Pg::Iamport).await;
}

/// Toss has no lock: the registration confirms with the order's amount; a
/// request saying another is refused before anything is confirmed.
async fn toss_order_confirmed_with_the_orders_amount(app: &TestApp) {
    let order = unique("order");
    let created = app.create_order(Pg::TossPayments, &order, 10_000).await.expect("an order");
    assert!(!created.pg.locked, "Toss locks nothing; the order keeps the amount");
    let payment_key = app.pay_in_window(Pg::TossPayments, &order, 10_000, false).await.expect("authenticated");
    let (status, refused) = register_raw(app, Pg::TossPayments, &payment_key, &order, 9_000).await;
    assert_eq!(
        (status, refused["code"].as_str(), refused["param"].as_str()),
        (422, Some("ORDER_MISMATCH"), Some("price"))
    );
    let (toss_status, _) = app.pg_state(Pg::TossPayments, &payment_key).await;
    assert_ne!(toss_status, "DONE", "nothing confirmed for another price");
    let (status, answer) = register_raw(app, Pg::TossPayments, &payment_key, &order, 10_000).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(app.pg_state(Pg::TossPayments, &payment_key).await, ("DONE".to_owned(), 10_000));
    let current = announced_once(app, &order).await;
    completed_as(app, &order, current.id).await;
}

/// A payment made for an order past its lock (Iamport's API payment,
/// which Iamport does not check against a prepared amount) with another
/// amount: cancelled at the PG, recorded refunded, announced, the order
/// refused; the backend's registration is refused naming the price.
async fn an_order_paid_with_another_amount_is_refunded_and_refused(app: &TestApp) {
    let order = unique("order");
    locked_order(app, Pg::Iamport, &order).await;
    let uid = app.iamport.card_payment(&order, 9_000).await;
    let delivered = app.hooks.delivered(&order, 1).await;
    let hook = delivered[0].webhook();
    assert!(hook.previous.is_none());
    assert_eq!(money_text(&hook.current.price), "9000");
    assert_eq!(hook.current.refund.as_ref().map(money_text).as_deref(), Some("9000"), "refunded whole");
    assert_eq!(app.pg_state(Pg::Iamport, &uid).await, ("cancelled".to_owned(), 0));
    let refused = app.client.get_order(&accessor(&order)).await.expect("the order");
    assert_eq!((refused.state, refused.history_id), (wire::OrderStateBody::Refused, Some(hook.current.id)));
    assert!(refused.refusal.as_deref().is_some_and(|r| r.contains("9000")), "{refused:?}");
    let (status, answer) = register_raw(app, Pg::Iamport, &uid, &order, 10_000).await;
    assert_eq!(
        (status, answer["code"].as_str(), answer["param"].as_str()),
        (422, Some("ORDER_MISMATCH"), Some("price"))
    );
    app.outbox_settled(1).await;
    assert_eq!(app.hooks.for_order(&order).len(), 1);
}

/// A virtual account issued for an order completes it (nothing paid yet:
/// `paid_at` null); the deposit is then an ordinary change.
async fn portone_virtual_account_order_completed_when_issued(app: &TestApp) {
    let order = unique("order");
    locked_order(app, Pg::PortOne, &order).await;
    let uid = app.portone.virtual_account(&order, 10_000).await;
    let issued = app.hooks.delivered(&order, 1).await;
    let hook = issued[0].webhook();
    assert!(hook.previous.is_none());
    assert_eq!((hook.current.paid_at, money_text(&hook.current.price)), (None, "10000".to_owned()));
    completed_as(app, &order, hook.current.id).await;
    app.deposit(Pg::PortOne, &uid).await;
    let both = app.hooks.delivered(&order, 2).await;
    let deposit = both[1].webhook();
    assert_eq!(deposit.previous.as_ref().map(|p| p.paid_at), Some(None));
    assert!(deposit.current.paid_at.is_some());
}

/// An order past its lifetime reads expired; a payment made for it then
/// does not complete it: its webhook waits as one about a payment not
/// registered, and the backend's registration records it as a payment
/// without an order (201, no announcement), the order staying expired.
async fn an_expired_order_never_completes(app: &TestApp) {
    let order = unique("order");
    locked_order(app, Pg::PortOne, &order).await;
    app.expire_order_now(&order).await;
    let expired = app.client.get_order(&accessor(&order)).await.expect("the order");
    assert_eq!((expired.state, expired.history_id), (wire::OrderStateBody::Expired, None));
    let uid = app.pay_in_window(Pg::PortOne, &order, 10_000, false).await.expect("the PG still takes it");
    app.pg_notifications_reach("portone", "queued", 1.0).await;
    let (status, answer) = register_raw(app, Pg::PortOne, &uid, &order, 10_000).await;
    assert_eq!(status, 201, "registered as a payment without an order: {answer}");
    let after = app.client.get_order(&accessor(&order)).await.expect("the order");
    assert_eq!((after.state, after.history_id), (wire::OrderStateBody::Expired, None));
    app.outbox_settled(0).await;
    assert!(app.hooks.for_order(&order).is_empty(), "a registration answered is not announced");
}

/// Bad orders: 400 naming the field, 404 and 403 on reads, 409 for a
/// second order of the source with another amount (the same one again is
/// answered idempotently) or for a source registered already.
async fn orders_refuse_bad_input(app: &TestApp) {
    let order = unique("order");
    let unknown = json!({
        "vendor": {"code": "paypal", "store_id": "s"},
        "source": {"schema": source(&order).schema, "table": source(&order).table, "id": order}, "price": 1000,
        "password": PASSWORD, "webhook_url": app.hook_url(),
    });
    let (status, refused) = app.send_encrypted(reqwest::Method::POST, "/payments/orders", &unknown).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("INVALID_BODY")), "{refused}");
    let mut short = app.order_request(Pg::PortOne, &order, 10_000);
    short.expires_in = Some(59);
    let refused = assert_status(app.client.create_order(&short).await, 400);
    assert_eq!((refused.code(), refused.param()), (Some("INVALID_FIELD"), Some("expires_in")));
    let mut fraction = app.order_request(Pg::PortOne, &order, 10_000);
    fraction.price = payments_e2e::decimal("10.5");
    let refused = assert_status(app.client.create_order(&fraction).await, 400);
    assert_eq!(refused.param(), Some("price"));
    let mut no_hook = app.order_request(Pg::PortOne, &order, 10_000);
    no_hook.webhook_url = "not a url".into();
    assert_eq!(assert_status(app.client.create_order(&no_hook).await, 400).param(), Some("webhook_url"));

    let first = app.create_order(Pg::PortOne, &order, 10_000).await.expect("an order");
    let again = app.create_order(Pg::PortOne, &order, 10_000).await.expect("the same order again");
    assert_eq!(again.id, first.id);
    let other = assert_status(app.create_order(Pg::PortOne, &order, 20_000).await, 409);
    assert_eq!((other.code(), other.param()), (Some("ALREADY_REGISTERED"), Some("source")));
    let mut stranger = app.order_request(Pg::PortOne, &order, 10_000);
    stranger.password = "someone else's password".into();
    assert_status(app.client.create_order(&stranger).await, 403);
    assert_status(app.client.get_order(&accessor_with(&order, "not the password")).await, 403);
    assert_status(app.client.get_order(&accessor(&unique("no-order"))).await, 404);

    let paid = unique("order");
    let uid = app.card_payment(Pg::Iamport, &paid, 5_000).await;
    app.register(Pg::Iamport, &uid, &paid, 5_000).await.expect("registered without an order");
    let taken = assert_status(app.create_order(Pg::Iamport, &paid, 5_000).await, 409);
    assert_eq!(taken.param(), Some("source"));
}
