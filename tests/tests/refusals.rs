//! What the server refuses, and that a refusal changes nothing it should not:
//! a price other than what was charged, a second registration, an unknown PG
//! uid, a cancel above the balance, an unknown vendor code; and the
//! idempotent retry that is not a duplicate.

use payments_e2e::{PASSWORD, Pg, TestApp, accessor, amount, assert_status, money_text, source, unique, vendor};
use payments_wire as wire;
use serde_json::json;

payments_e2e::scenarios!(
    iamport_price_mismatch,
    toss_price_mismatch,
    portone_price_mismatch,
    iamport_duplicate,
    toss_duplicate,
    portone_duplicate,
    iamport_unknown_uid,
    toss_unknown_uid,
    portone_unknown_uid,
    iamport_cancel_above_balance,
    toss_cancel_above_balance,
    portone_cancel_above_balance,
    unknown_vendor_code,
    idempotent_retries,
);

/// Register with a price different from what was charged: the PG payment
/// ends cancelled and the call answers 422; nothing is recorded.
async fn price_mismatch(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 10_000).await;
    let code = payments_domain::VendorCode::from(pg).as_str();
    let ignored = app.pg_notifications(code, "ignored").await;
    let refused = assert_status(app.register(pg, &uid, &order, 9_000).await, 422);
    assert_eq!(refused.code(), Some("PRICE_MISMATCH"), "{refused}");
    let (status, balance) = app.pg_state(pg, &uid).await;
    let cancelled = match pg {
        Pg::Iamport => "cancelled",
        Pg::TossPayments => "CANCELED",
        Pg::PortOne => "CANCELLED",
    };
    assert_eq!((status.as_str(), balance), (cancelled, 0), "the PG payment was cancelled");
    assert_status(app.client.get_history(&accessor(&order)).await, 404);
    if pg != Pg::Iamport {
        // The PG announces the cancel we made (Iamport sends none for an API
        // cancel): a payment that can never be registered, acknowledged and
        // not kept for a retry.
        app.pg_notifications_reach(code, "ignored", ignored + 1.0).await;
    }
    // The right price now meets a cancelled payment: still not registered as paid.
    let again = app.register(pg, &uid, &order, 10_000).await;
    if let Ok(history) = &again {
        assert!(history.cancelled_at.is_some(), "registered only as cancelled: {history:?}");
    }
}

async fn iamport_price_mismatch(app: &TestApp) {
    price_mismatch(app, Pg::Iamport).await;
}

async fn toss_price_mismatch(app: &TestApp) {
    price_mismatch(app, Pg::TossPayments).await;
}

async fn portone_price_mismatch(app: &TestApp) {
    price_mismatch(app, Pg::PortOne).await;
}

/// Register the same payment twice: 409, whether under the same or another
/// source; and another payment under a source already used: 409.
async fn duplicate(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 5_000).await;
    let first = app.register(pg, &uid, &order, 5_000).await.expect("registered");
    let twice = assert_status(app.register(pg, &uid, &order, 5_000).await, 409);
    assert_eq!(twice.code(), Some("ALREADY_REGISTERED"));
    assert_status(app.register(pg, &uid, &unique("order"), 5_000).await, 409);
    let other = app.card_payment(pg, &unique("order"), 5_000).await;
    assert_status(app.register(pg, &other, &order, 5_000).await, 409);
    let read = app.client.get_history(&accessor(&order)).await.expect("the first stays");
    assert_eq!(read, first);
}

async fn iamport_duplicate(app: &TestApp) {
    duplicate(app, Pg::Iamport).await;
}

async fn toss_duplicate(app: &TestApp) {
    duplicate(app, Pg::TossPayments).await;
}

async fn portone_duplicate(app: &TestApp) {
    duplicate(app, Pg::PortOne).await;
}

/// Register a uid the PG does not know: 404, for both PGs alike.
async fn unknown_uid(app: &TestApp, pg: Pg) {
    let uid = match pg {
        Pg::Iamport => "imp_000000000000".to_owned(),
        Pg::TossPayments => unique("no-such-payment-key"),
        Pg::PortOne => unique("no-such-payment-id"),
    };
    let order = unique("order");
    let error = assert_status(app.register(pg, &uid, &order, 1_000).await, 404);
    assert_eq!(error.code(), Some("PG_NOT_FOUND"));
    assert_status(app.client.get_history(&accessor(&order)).await, 404);
    let customer = unique("customer");
    let reservation = app
        .client
        .save_card(&wire::CreateReservationBody {
            vendor: vendor(pg, &customer),
            source: source(&customer),
            title: "never saved".into(),
            password: PASSWORD.into(),
        })
        .await;
    assert_status(reservation, 404);
}

async fn iamport_unknown_uid(app: &TestApp) {
    unknown_uid(app, Pg::Iamport).await;
}

async fn toss_unknown_uid(app: &TestApp) {
    unknown_uid(app, Pg::TossPayments).await;
}

async fn portone_unknown_uid(app: &TestApp) {
    unknown_uid(app, Pg::PortOne).await;
}

/// Cancel more than the balance: 422 and nothing changed, here or at the PG.
async fn cancel_above_balance(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 10_000).await;
    let created = app.register(pg, &uid, &order, 10_000).await.expect("registered");
    let paid_status = app.pg_state(pg, &uid).await.0;

    let error = assert_status(app.cancel(&order, 10_001, None).await, 422);
    assert_eq!(error.code(), Some("CANCEL_EXCEEDS_BALANCE"));
    assert_eq!(app.pg_state(pg, &uid).await, (paid_status.clone(), 10_000), "nothing changed at the PG");
    assert_eq!(app.client.get_history(&accessor(&order)).await.expect("read"), created);

    // After a partial cancel, the balance is what counts.
    app.cancel(&order, 6_000, None).await.expect("partial cancel");
    assert_status(app.cancel(&order, 4_001, None).await, 422);
    assert_eq!(app.pg_state(pg, &uid).await.1, 4_000, "nothing more refunded at the PG");
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert_eq!(read.refund.as_ref().map(money_text).as_deref(), Some("6000"));
    assert_eq!(read.cancels.len(), 1);
    // Zero is no cancel.
    let zero = app.cancel(&order, 0, None).await;
    assert!(matches!(zero.as_ref().map_err(|e| e.status()), Err(Some(400 | 422))), "{zero:?}");
    app.outbox_settled(1).await;
    assert_eq!(app.hooks.for_order(&order).len(), 1, "only the accepted cancel is announced");
}

async fn iamport_cancel_above_balance(app: &TestApp) {
    cancel_above_balance(app, Pg::Iamport).await;
}

async fn toss_cancel_above_balance(app: &TestApp) {
    cancel_above_balance(app, Pg::TossPayments).await;
}

async fn portone_cancel_above_balance(app: &TestApp) {
    cancel_above_balance(app, Pg::PortOne).await;
}

/// An unknown vendor code is a 400 naming the field, on every route taking one.
async fn unknown_vendor_code(app: &TestApp) {
    let vendor = json!({ "code": "paypal", "store_id": "s", "uid": "u" });
    let source = json!({ "schema": "shop", "table": "orders", "id": unique("order") });
    let history = json!({
        "vendor": vendor, "source": source, "price": 1000, "password": PASSWORD, "webhook_url": app.hook_url(),
    });
    let (status, body) = app.send_encrypted(reqwest::Method::POST, "/payments/histories", &history).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["code"].as_str().is_some_and(|c| c.starts_with("INVALID_")), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("vendor.code"), "names the field: {body}");
    let reservation = json!({ "vendor": vendor, "source": source, "title": "t", "password": PASSWORD });
    let (status, body) = app.send_encrypted(reqwest::Method::POST, "/payments/reservations", &reservation).await;
    assert_eq!(status, 400, "{body}");
    // And a PG webhook route that does not exist.
    let status = app.post_pg_webhook("paypal", &json!({})).await;
    assert_eq!(status, 404);
}

/// The same registration and cancel retried with their Idempotency-Key get
/// the first answer, not a 409 nor a second refund.
async fn idempotent_retries(app: &TestApp) {
    let order = unique("order");
    let uid = app.card_payment(Pg::Iamport, &order, 8_000).await;
    let body = wire::CreateHistoryBody {
        vendor: vendor(Pg::Iamport, &uid),
        source: source(&order),
        price: amount(8_000),
        password: PASSWORD.into(),
        webhook_url: app.hook_url(),
        currency: None,
    };
    let keyed = app.client.with_idempotency_key(unique("register"));
    let first = keyed.create_history(&body).await.expect("registered");
    let retry = keyed.create_history(&body).await.expect("the same answer");
    assert_eq!(first, retry);
    let cancel = wire::CancelHistoryBody {
        source: source(&order),
        password: PASSWORD.into(),
        price: amount(3_000),
        reason: "retried".into(),
        account: None,
    };
    let keyed = app.client.with_idempotency_key(unique("cancel"));
    let once = keyed.cancel_history(&cancel).await.expect("cancelled");
    let again = keyed.cancel_history(&cancel).await.expect("the same answer");
    assert_eq!(once, again);
    assert_eq!(app.pg_state(Pg::Iamport, &uid).await.1, 5_000, "refunded once at the PG");
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert_eq!(read.cancels.len(), 1);
    // The same key with another body is refused.
    let other = wire::CancelHistoryBody { price: amount(1_000), ..cancel };
    let error = keyed.cancel_history(&other).await;
    assert!(matches!(error.as_ref().map_err(|e| e.status()), Err(Some(409 | 422))), "{error:?}");
}
