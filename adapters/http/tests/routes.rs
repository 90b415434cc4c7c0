//! Every route over real HTTP (port 0) with an encrypting client.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use payments_application::ports::GatewayError;
use serde_json::{Value, json};

fn is_wire_timestamp(value: &Value) -> bool {
    let text = value.as_str().unwrap_or("");
    text.len() == 24
        && text.ends_with('Z')
        && text.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

#[tokio::test]
async fn create_history_answers_201_with_the_history() {
    let app = spawn_app().await;
    // Dollars: a currency with cents, to show the digits travel exactly.
    app.pg.add_payment_in("imp_1", "19900.50", "USD");
    let answer = app.call("POST", "/payments/histories", create_body("imp_1", "19900.50", "o-1"), None).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert!(answer.content_type.starts_with("text/plain"));
    let body = answer.body;
    assert_eq!(body["vendor_code"], "iamport");
    assert_eq!(body["vendor"], json!({"code": "iamport", "store_id": "store-1", "uid": "imp_1"}));
    assert_eq!(body["source"], source("o-1"));
    assert_eq!(serde_json::to_string(&body["price"]).unwrap(), "19900.5", "exact digits");
    assert_eq!(serde_json::to_string(&body["data"]["amount"]).unwrap(), "19900.50", "PG data unchanged");
    assert_eq!(body["refund"], Value::Null);
    assert_eq!(body["cancelled_at"], Value::Null);
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["cancels"], json!([]));
    assert!(is_wire_timestamp(&body["created_at"]), "{}", body["created_at"]);
    assert!(is_wire_timestamp(&body["paid_at"]), "{}", body["paid_at"]);
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn create_history_maps_each_failure_to_its_status() {
    let app = spawn_app().await;
    app.register("imp_1", "1000", "o-1").await;

    let duplicate = app.call("POST", "/payments/histories", create_body("imp_1", "1000", "o-2"), None).await;
    assert_eq!((duplicate.status, duplicate.body["code"].as_str()), (409, Some("ALREADY_REGISTERED")));
    assert_eq!(duplicate.body["param"], "vendor.uid");

    let unknown = app.call("POST", "/payments/histories", create_body("imp_404", "1000", "o-3"), None).await;
    assert_eq!((unknown.status, unknown.body["code"].as_str()), (404, Some("PG_NOT_FOUND")), "{}", unknown.text);

    app.pg.add_payment("imp_2", "1000");
    let mismatch = app.call("POST", "/payments/histories", create_body("imp_2", "999", "o-4"), None).await;
    assert_eq!((mismatch.status, mismatch.body["code"].as_str()), (422, Some("PRICE_MISMATCH")));
    assert_eq!(mismatch.body["param"], "price");
    // The harness does not bind payments to orders (its fake PG reports
    // none), so a mismatch is refused and not cancelled; the bound case's
    // auto-cancel is tested in the use case and end to end.
    assert_eq!(app.pg.cancels.load(Ordering::SeqCst), 0, "unbound: a mismatched payment is not cancelled");

    let invalid = app.call("POST", "/payments/histories", create_body("imp_3", "1000", ""), None).await;
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.error_body(),
        json!({"code": "INVALID_FIELD", "message": "source.id: must not be empty", "param": "source.id"})
    );

    let vendor = app.call("POST", "/payments/histories", create_body_of("paypal", "imp_3", "1000", "o-5"), None).await;
    assert_eq!(vendor.status, 400, "{}", vendor.text);

    let negative = app.call("POST", "/payments/histories", create_body("imp_3", "-1", "o-5"), None).await;
    assert_eq!(
        negative.error_body(),
        json!({"code": "INVALID_FIELD", "message": "price: must not be negative", "param": "price"})
    );
    let precise = app.call("POST", "/payments/histories", create_body("imp_3", "1.00001", "o-5"), None).await;
    assert_eq!(precise.body["message"], "price: must have at most 4 decimal places");

    app.pg.add_payment("imp_5", "1000");
    *app.pg.fail_with.lock().unwrap() = Some(GatewayError::Unavailable("down".into()));
    let bad_gateway = app.call("POST", "/payments/histories", create_body("imp_5", "1000", "o-6"), None).await;
    assert_eq!((bad_gateway.status, bad_gateway.body["code"].as_str()), (502, Some("PG_UNAVAILABLE")));
    *app.pg.fail_with.lock().unwrap() = Some(GatewayError::Timeout("slow".into()));
    let timeout = app.call("POST", "/payments/histories", create_body("imp_5", "1000", "o-6"), None).await;
    assert_eq!((timeout.status, timeout.body["code"].as_str()), (504, Some("PG_TIMEOUT")));
    *app.pg.fail_with.lock().unwrap() = None;

    *app.histories.down.lock().unwrap() = true;
    let unavailable = app.call("POST", "/payments/histories", create_body("imp_5", "1000", "o-6"), None).await;
    assert_eq!((unavailable.status, unavailable.body["code"].as_str()), (503, Some("STORAGE_UNAVAILABLE")));
    assert!(unavailable.content_type.starts_with("application/json"));
}

#[tokio::test]
async fn histories_are_read_by_source_and_by_id_with_the_password() {
    let app = spawn_app().await;
    let created = app.register("imp_1", "1000", "o-1").await;
    let id = created["id"].as_str().unwrap();

    let accessor = json!({"schema": "shop", "table": "orders", "id": "o-1", "password": "secret"});
    let by_source = app.call("PATCH", "/payments/histories/get", accessor.clone(), None).await;
    assert_eq!(by_source.status, 200, "the fixed route wins over /{{id}}: {}", by_source.text);
    assert_eq!(by_source.body, created);

    let by_id = app.call("PATCH", &format!("/payments/histories/{id}"), json!({"password": "secret"}), None).await;
    assert_eq!((by_id.status, &by_id.body), (200, &created));

    let wrong = app.call("PATCH", &format!("/payments/histories/{id}"), json!({"password": "nope"}), None).await;
    assert_eq!((wrong.status, wrong.body["code"].as_str()), (403, Some("WRONG_PASSWORD")));
    let mut other = accessor.clone();
    other["password"] = json!("nope");
    assert_eq!(app.call("PATCH", "/payments/histories/get", other, None).await.status, 403);

    let mut missing = accessor;
    missing["id"] = json!("o-404");
    assert_eq!(app.call("PATCH", "/payments/histories/get", missing, None).await.status, 404);
    let unknown_id = format!("/payments/histories/{}", uuid::Uuid::now_v7());
    assert_eq!(app.call("PATCH", &unknown_id, json!({"password": "secret"}), None).await.status, 404);
    let not_uuid = app.call("PATCH", "/payments/histories/not-a-uuid", json!({"password": "secret"}), None).await;
    assert_eq!(not_uuid.status, 400, "{}", not_uuid.text);
    assert!(not_uuid.body["code"].is_string());
}

fn cancel_body(order: &str, price: &str) -> Value {
    let price: Value = serde_json::from_str(price).unwrap();
    json!({"source": source(order), "password": "secret", "price": price, "reason": "changed mind", "account": null})
}

#[tokio::test]
async fn cancel_answers_the_history_afterwards() {
    let app = spawn_app().await;
    app.register_in("imp_1", "1000", "USD", "o-1").await;

    let answer = app.call("PUT", "/payments/histories/cancel", cancel_body("o-1", "300.5"), None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(serde_json::to_string(&answer.body["refund"]).unwrap(), "300.5");
    assert_eq!(answer.body["cancels"][0]["reason"], "changed mind");
    assert!(is_wire_timestamp(&answer.body["cancelled_at"]));
    assert_eq!(app.histories.events.lock().unwrap().len(), 1, "the change is an event");

    let mut with_account = cancel_body("o-1", "100");
    with_account["account"] = json!({"bank": "088", "account": "123-456", "holder": "Kim", "mobile": "01012345678"});
    assert_eq!(app.call("PUT", "/payments/histories/cancel", with_account, None).await.status, 200);

    let too_much = app.call("PUT", "/payments/histories/cancel", cancel_body("o-1", "1000"), None).await;
    assert_eq!((too_much.status, too_much.body["code"].as_str()), (422, Some("CANCEL_EXCEEDS_BALANCE")));
    assert_eq!(too_much.body["param"], "price");
    let zero = app.call("PUT", "/payments/histories/cancel", cancel_body("o-1", "0"), None).await;
    assert_eq!((zero.status, zero.body["code"].as_str()), (422, Some("CANCEL_NOT_POSITIVE")));
    let mut wrong = cancel_body("o-1", "1");
    wrong["password"] = json!("nope");
    assert_eq!(app.call("PUT", "/payments/histories/cancel", wrong, None).await.status, 403);
    assert_eq!(app.call("PUT", "/payments/histories/cancel", cancel_body("o-404", "1"), None).await.status, 404);
    let mut no_reason = cancel_body("o-1", "1");
    no_reason["reason"] = json!("");
    let invalid = app.call("PUT", "/payments/histories/cancel", no_reason, None).await;
    assert_eq!(invalid.body["message"], "reason: must not be empty");
    *app.pg.fail_with.lock().unwrap() = Some(GatewayError::Rejected("no".into()));
    assert_eq!(app.call("PUT", "/payments/histories/cancel", cancel_body("o-1", "1"), None).await.status, 422);
}

fn reservation_body(uid: &str, order: &str) -> Value {
    json!({
        "vendor": {"code": "toss.payments", "store_id": "store-1", "uid": uid},
        "source": {"schema": "shop", "table": "customers", "id": order},
        "title": "my card",
        "password": "secret",
    })
}

#[tokio::test]
async fn reservations_are_created_and_read() {
    let app = spawn_app().await;
    app.pg
        .cards
        .lock()
        .unwrap()
        .insert("billing_1".into(), json!({"billingKey": "billing_1", "card": {"number": "1234"}}));

    let created = app.call("POST", "/payments/reservations", reservation_body("billing_1", "c-1"), None).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["vendor_code"], "toss.payments");
    assert_eq!(created.body["title"], "my card");
    assert_eq!(created.body["data"]["card"]["number"], "1234");
    assert!(is_wire_timestamp(&created.body["created_at"]));
    let id = created.body["id"].as_str().unwrap().to_owned();

    let duplicate = app.call("POST", "/payments/reservations", reservation_body("billing_1", "c-2"), None).await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(
        app.call("POST", "/payments/reservations", reservation_body("billing_404", "c-3"), None).await.status,
        404
    );

    let accessor = json!({"schema": "shop", "table": "customers", "id": "c-1", "password": "secret"});
    let by_source = app.call("PATCH", "/payments/reservations/get", accessor.clone(), None).await;
    assert_eq!((by_source.status, &by_source.body), (200, &created.body));
    let by_id = app.call("PATCH", &format!("/payments/reservations/{id}"), json!({"password": "secret"}), None).await;
    assert_eq!((by_id.status, &by_id.body), (200, &created.body));
    let wrong = app.call("PATCH", &format!("/payments/reservations/{id}"), json!({"password": "x"}), None).await;
    assert_eq!(wrong.status, 403);
    let mut missing = accessor;
    missing["id"] = json!("c-404");
    assert_eq!(app.call("PATCH", "/payments/reservations/get", missing, None).await.status, 404);
}

#[tokio::test]
async fn iamport_webhooks_accept_json_and_forms() {
    let app = spawn_app().await;
    app.register("imp_1", "1000", "o-1").await;
    let fetches = app.pg.fetches.load(Ordering::SeqCst);

    let ready = app
        .post_json("/payments/webhooks/iamport", json!({"imp_uid": "imp_1", "merchant_uid": "o-1", "status": "ready"}))
        .await;
    assert_eq!(ready.status, 200);
    // An account issued may complete an order: re-read, and nothing changed.
    assert_eq!(app.pg.fetches.load(Ordering::SeqCst), fetches + 1, "ready is re-read");
    assert!(app.histories.events.lock().unwrap().is_empty(), "an issued account registered already changes nothing");

    app.pg.cancel_behind("imp_1", "400");
    let cancelled = app
        .post_json(
            "/payments/webhooks/iamport",
            json!({"imp_uid": "imp_1", "merchant_uid": "o-1", "status": "cancelled", "cancellation_id": "x"}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    {
        let events = app.histories.events.lock().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].trigger()["cancellation_id"], "x");
    }

    let form = app
        .post_form("/payments/webhooks/iamport", &[("imp_uid", "imp_1"), ("merchant_uid", "o-1"), ("status", "paid")])
        .await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert_eq!(app.histories.events.lock().unwrap().len(), 1, "nothing changed: no event");

    let unknown = app
        .post_json("/payments/webhooks/iamport", json!({"imp_uid": "imp_9", "merchant_uid": "o", "status": "paid"}))
        .await;
    // Not registered yet (registration races the PG): taken in and kept for the worker to retry.
    assert_eq!(unknown.status, 200, "{}", unknown.text);
    assert_eq!(app.queued(), 1, "kept for a retry");
    let malformed = app.post_json("/payments/webhooks/iamport", json!({"imp_uid": 5})).await;
    assert_eq!(malformed.status, 400, "{}", malformed.text);
    assert!(malformed.body["message"].is_string());
    *app.pg.fail_with.lock().unwrap() = Some(GatewayError::Timeout("slow".into()));
    let slow = app
        .post_json("/payments/webhooks/iamport", json!({"imp_uid": "imp_1", "merchant_uid": "o-1", "status": "paid"}))
        .await;
    assert_eq!(slow.status, 200, "stored before it is answered: never lost while the PG is slow");
    assert_eq!(app.queued(), 2, "kept for a retry");
}

#[tokio::test]
async fn toss_webhooks_take_short_and_whole_payment_objects() {
    let app = spawn_app().await;
    app.pg.add_payment("pay_1", "5000");
    let created =
        app.call("POST", "/payments/histories", create_body_of("toss.payments", "pay_1", "5000", "o-1"), None).await;
    assert_eq!(created.status, 201, "{}", created.text);

    let waiting = app
        .post_json("/payments/webhooks/toss", json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": "pay_1", "orderId": "o-1", "status": "WAITING_FOR_DEPOSIT"}}))
        .await;
    assert_eq!(waiting.status, 200);

    app.pg.cancel_behind("pay_1", "5000");
    let whole = json!({
        "eventType": "PAYMENT_STATUS_CHANGED",
        "createdAt": "2026-11-24T13:22:48.000000",
        "data": {"paymentKey": "pay_1", "orderId": "o-1", "status": "CANCELED", "totalAmount": 5000.0, "balanceAmount": 0, "cancels": [{"cancelAmount": 5000}], "unknownField": {"x": 1}},
    });
    let answer = app.post_json("/payments/webhooks/toss", whole).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(app.histories.events.lock().unwrap().len(), 1);

    let no_key = app
        .post_json("/payments/webhooks/toss", json!({"eventType": PAYMENT_STATUS, "data": {"status": "DONE"}}))
        .await;
    assert_eq!(no_key.status, 400);
    assert_eq!(no_key.body["message"], "malformed Toss webhook: data.paymentKey: must be a non-empty string");
    let unknown = app
        .post_json(
            "/payments/webhooks/toss",
            json!({"eventType": PAYMENT_STATUS, "data": {"paymentKey": "pay_9", "orderId": "o", "status": "DONE"}}),
        )
        .await;
    assert_eq!(unknown.status, 200, "taken in, kept for a retry: {}", unknown.text);
    assert_eq!(app.queued(), 1);
}

/// `/payments/webhooks/{vendor}` serves each PG by its vendor code, through
/// the same parser as its named route: Toss at `toss.payments` (JSON),
/// Iamport's form body through the generic request; another code is 404.
#[tokio::test]
async fn the_generic_webhook_route_serves_each_pg_by_its_vendor_code() {
    let app = spawn_app().await;
    app.pg.add_payment("pay_1", "5000");
    let created =
        app.call("POST", "/payments/histories", create_body_of("toss.payments", "pay_1", "5000", "o-1"), None).await;
    assert_eq!(created.status, 201, "{}", created.text);
    app.pg.cancel_behind("pay_1", "5000");
    let changed =
        json!({"eventType": PAYMENT_STATUS, "data": {"paymentKey": "pay_1", "orderId": "o-1", "status": "CANCELED"}});
    let answer = app.post_json("/payments/webhooks/toss.payments", changed).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(app.histories.events.lock().unwrap().len(), 1, "the change is recorded");
    let no_key =
        app.post_json("/payments/webhooks/toss.payments", json!({"eventType": PAYMENT_STATUS, "data": {}})).await;
    assert_eq!(no_key.status, 400);
    assert_eq!(no_key.body["message"], "malformed Toss webhook: data.paymentKey: must be a non-empty string");
    let later = app.post_json("/payments/webhooks/toss.payments", json!({"eventType": "A_TYPE_TOSS_ADDS_LATER"})).await;
    assert_eq!(later.status, 200, "{}", later.text);

    let form = app
        .client
        .post(format!("{}/payments/webhooks/toss.payments", app.url))
        .form(&[("eventType", PAYMENT_STATUS)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 400, "a form is read too, by Toss's parser (no data)");

    for vendor in ["paypal", "TOSS", "toss.payments.x"] {
        let unknown = app.post_json(&format!("/payments/webhooks/{vendor}"), json!({})).await;
        assert_eq!((unknown.status, unknown.body["code"].as_str()), (404, Some("NOT_FOUND")), "{vendor}");
    }
}

/// A PG that signs its notifications (PortOne V2, Standard Webhooks) is
/// proven before anything is read: its signed webhook is processed; one
/// unsigned, signed under another secret, or changed after signing is 403
/// and nothing is stored or recorded.
#[tokio::test]
async fn a_signed_pgs_webhook_is_proven_before_it_is_read() {
    let app = spawn_app().await;
    app.pg.add_payment("order-po", "5000");
    let created =
        app.call("POST", "/payments/histories", create_body_of("portone", "order-po", "5000", "order-po"), None).await;
    assert_eq!(created.status, 201, "{}", created.text);
    app.pg.cancel_behind("order-po", "5000");
    let body = json!({"type": "Transaction.Cancelled", "timestamp": "2026-12-02T10:00:00.000Z",
                      "data": {"paymentId": "order-po", "storeId": "store-1", "transactionId": "tx-1",
                               "cancellationId": "c-1"}})
    .to_string();
    let post = |headers: Vec<(&'static str, String)>, body: String| {
        let mut request = app
            .client
            .post(format!("{}/payments/webhooks/portone", app.url))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let other = "whsec_YW5vdGhlci1zZWNyZXQtb2YtYW5vdGhlci1hY2NvdW50";
    for (headers, sent, why) in [
        (vec![], body.clone(), "unsigned"),
        (signed_headers(&body, other), body.clone(), "another secret"),
        (signed_headers(&body, PORTONE_WEBHOOK_SECRET), body.replace("c-1", "c-2"), "changed after signing"),
    ] {
        let refused = post(headers, sent).await.unwrap();
        assert_eq!(refused.status().as_u16(), 403, "{why}");
        let error: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(error["code"], "NOTIFICATION_NOT_PROVEN", "{why}: {error}");
        // One message whatever failed: the reason is logged, not answered.
        assert_eq!(error["message"], "not a notification of portone", "{why}: {error}");
    }
    assert!(app.histories.events.lock().unwrap().is_empty() && app.inbox.all().is_empty(), "nothing recorded or kept");
    let taken = post(signed_headers(&body, PORTONE_WEBHOOK_SECRET), body.clone()).await.unwrap();
    assert_eq!(taken.status().as_u16(), 200);
    assert_eq!(app.histories.events.lock().unwrap().len(), 1, "the change is recorded");
}

const PAYMENT_STATUS: &str = "PAYMENT_STATUS_CHANGED";

#[tokio::test]
async fn toss_event_types_this_server_does_not_record_are_answered_200() {
    let app = spawn_app().await;
    for body in [
        json!({"eventType": "CANCEL_STATUS_CHANGED", "createdAt": "2026-11-24T13:22:48.000000", "data": {"transactionKey": "t"}}),
        json!({"eventType": "BILLING_DELETED", "createdAt": "2026-11-24T13:22:48.000000", "data": {"billingKey": "b", "reason": null}}),
        json!({"eventType": "A_TYPE_TOSS_ADDS_LATER", "data": [1, 2]}),
    ] {
        let answer = app.post_json("/payments/webhooks/toss", body.clone()).await;
        assert_eq!(answer.status, 200, "{body}: {}", answer.text);
    }
    assert!(app.histories.events.lock().unwrap().is_empty());
    for bad in [json!([1]), json!("DONE"), json!({"data": {}}), json!({"secret": "s", "status": "DONE"})] {
        let answer = app.post_json("/payments/webhooks/toss", bad.clone()).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.text);
        assert!(answer.body["message"].is_string());
    }
}

#[tokio::test]
async fn a_toss_deposit_callback_is_taken_only_with_the_payment_secret() {
    let app = spawn_app().await;
    app.pg.add_payment("pay_1", "5000");
    app.pg.set_data("pay_1", json!({"paymentKey": "pay_1", "orderId": "o-1", "secret": "ps_right", "status": "DONE"}));
    app.pg.set_order("pay_1", "o-1");
    let created =
        app.call("POST", "/payments/histories", create_body_of("toss.payments", "pay_1", "5000", "o-1"), None).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let callback = |secret: &str| json!({"createdAt": "2026-11-24T13:22:48.000000", "secret": secret, "status": "DONE", "transactionKey": "t1", "orderId": "o-1"});
    let fetches = app.pg.fetches.load(std::sync::atomic::Ordering::SeqCst);
    let forged = app.post_json("/payments/webhooks/toss", callback("ps_guess")).await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert_eq!(app.pg.fetches.load(std::sync::atomic::Ordering::SeqCst), fetches, "a forgery costs no PG call");
    let genuine = app.post_json("/payments/webhooks/toss", callback("ps_right")).await;
    assert_eq!(genuine.status, 200, "{}", genuine.text);
    assert_eq!(app.pg.fetches.load(std::sync::atomic::Ordering::SeqCst), fetches + 1, "re-read once");
    let issued_elsewhere = json!({"secret": "s", "status": "WAITING_FOR_DEPOSIT", "orderId": "never-registered"});
    assert_eq!(app.post_json("/payments/webhooks/toss", issued_elsewhere).await.status, 200);
    assert_eq!(app.queued(), 0, "nothing to keep of an account issued elsewhere");
    let paid_elsewhere = json!({"secret": "s", "status": "DONE", "orderId": "never-registered"});
    assert_eq!(app.post_json("/payments/webhooks/toss", paid_elsewhere).await.status, 200);
    assert_eq!(app.queued(), 1, "a payment of an order not registered yet: kept for a retry");
}

#[tokio::test]
async fn monitors_report_health_system_and_performance() {
    let app = spawn_app_with(false, Some(delivery_with_stats())).await;
    let health = app.get("/monitors/health").await;
    assert_eq!((health.status, health.text.as_str()), (200, ""), "empty, as the original SDK expects");

    let system = app.get("/monitors/system").await;
    assert_eq!(system.status, 200);
    assert_eq!(system.body["package"], json!({"name": "payments", "version": "9.9.9"}));
    assert_eq!(system.body["commit"]["hash"], "abc123");
    assert!(system.body["arguments"].is_array());
    assert!(uuid::Uuid::parse_str(system.body["uid"].as_str().unwrap()).is_ok());
    assert!(is_wire_timestamp(&system.body["created_at"]));

    let performance = app.get("/monitors/performance").await;
    assert_eq!(performance.status, 200, "{}", performance.text);
    assert_eq!(
        performance.body["outbox"],
        json!({"pending": 2, "retrying": 1, "delivered": 5, "failed": 0, "oldest_pending_age_seconds": 42})
    );
    assert!(performance.body["uptime_seconds"].is_u64());
    if cfg!(target_os = "linux") {
        assert!(performance.body["memory"]["rss"].as_u64().unwrap() > 0);
        assert!(performance.body["cpu"]["user"].is_u64());
    }
}

#[tokio::test]
async fn documents_unknown_routes_and_methods() {
    let app = spawn_app().await;
    let document = app.get("/openapi.json").await;
    assert_eq!(document.status, 200);
    assert_eq!(document.text, payments_http::openapi_json());
    let docs = app.client.get(format!("{}/docs", app.url)).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"));
    assert!(html.contains("x-encrypted"), "the UI shows the annotated document");

    let missing = app.get("/nowhere").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["code"], "NOT_FOUND");
    assert!(missing.content_type.starts_with("application/json"));
    let method = app.get("/payments/histories").await;
    assert_eq!(method.status, 405);
    assert!(method.body["code"].is_string());
    let id = app.get("/monitors/health").await;
    assert_eq!(id.status, 200);
    let with_id = app.client.get(format!("{}/monitors/health", app.url)).send().await.unwrap();
    assert!(with_id.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn a_callers_request_id_is_kept_and_quoted_in_errors() {
    let app = spawn_app().await;
    let ask = |id: &str| {
        app.client
            .get(format!("{}/payments/histories/{}", app.url, uuid::Uuid::new_v4()))
            .header("x-request-id", id.to_owned())
            .send()
    };
    let kept = TestApp::answer(ask("order-7f3a:retry.2_b").await.unwrap()).await;
    assert_eq!(kept.status, 405, "{}", kept.text);
    assert_eq!(kept.request_id.as_deref(), Some("order-7f3a:retry.2_b"));
    assert_eq!(kept.body["request_id"], "order-7f3a:retry.2_b");
    // Free text, an overlong id or an empty one is replaced by a fresh id.
    for hostile in ["<script>alert(1)</script>", "a b", &"x".repeat(65), ""] {
        let answer = TestApp::answer(ask(hostile).await.unwrap()).await;
        let id = answer.request_id.clone().unwrap();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{hostile:?} answered with id {id:?}");
        assert_eq!(answer.error_body()["code"], "METHOD_NOT_ALLOWED");
    }
}

#[tokio::test]
async fn internal_errors_are_opaque_and_monitors_report_storage_outages() {
    let app = spawn_app_with(false, Some(delivery_down())).await;
    let performance = app.get("/monitors/performance").await;
    assert_eq!((performance.status, performance.body["code"].as_str()), (503, Some("STORAGE_UNAVAILABLE")));

    *app.histories.corrupt.lock().unwrap() = true;
    let accessor = json!({"schema": "shop", "table": "orders", "id": "o-1", "password": "secret"});
    let internal = app.call("PATCH", "/payments/histories/get", accessor, None).await;
    assert_eq!(internal.status, 500);
    assert_eq!(internal.error_body(), json!({"code": "INTERNAL", "message": "internal error"}));
    assert!(!internal.text.contains("secret detail"));
}

#[tokio::test]
async fn amounts_with_more_decimals_than_the_currency_are_400_and_reach_no_pg() {
    let app = spawn_app().await;
    app.register("imp_1", "1000", "o-1").await;
    let half = app.call("PUT", "/payments/histories/cancel", cancel_body("o-1", "0.5"), None).await;
    assert_eq!(half.status, 400, "{}", half.text);
    assert_eq!((half.body["code"].as_str(), half.body["param"].as_str()), (Some("INVALID_FIELD"), Some("price")));
    assert_eq!(half.body["message"], "price: KRW amounts are whole numbers; 0.5 has decimals");
    app.pg.add_payment("imp_2", "1000");
    let register = app.call("POST", "/payments/histories", create_body("imp_2", "999.5", "o-2"), None).await;
    assert_eq!(register.status, 400, "{}", register.text);
    assert_eq!(app.pg.cancels.load(Ordering::SeqCst), 0, "no cancel at the PG: not the mismatch path");
}

#[tokio::test]
async fn webhook_urls_at_internal_addresses_are_refused_outside_local_mode() {
    let strict = payments_webhook::TargetPolicy::new(&[], false, false).unwrap();
    let app = spawn_app_targeting(false, None, std::sync::Arc::new(strict)).await;
    for (n, target) in [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:5432/",
        "http://2130706433/",
        "http://10.0.0.8/hook",
        // The metadata address inside SIIT and local-use NAT64 forms.
        "http://[::ffff:0:a9fe:a9fe]/latest/meta-data",
        "http://[64:ff9b:1::a9fe:a9fe]/latest/meta-data",
    ]
    .into_iter()
    .enumerate()
    {
        let uid = format!("imp_ssrf_{n}");
        app.pg.add_payment(&uid, "1000");
        let mut body = create_body(&uid, "1000", &format!("o-ssrf-{n}"));
        body["webhook_url"] = json!(target);
        let refused = app.call("POST", "/payments/histories", body, None).await;
        assert_eq!(refused.status, 400, "{target}: {}", refused.text);
        assert!(refused.body["message"].as_str().unwrap().starts_with("webhook_url: "), "{}", refused.text);
    }
    assert_eq!(app.pg.fetches.load(Ordering::SeqCst), 0, "refused before the PG is asked");
    app.pg.add_payment("imp_public", "1000");
    let mut body = create_body("imp_public", "1000", "o-public");
    body["webhook_url"] = json!("http://93.184.216.34/hook");
    assert_eq!(app.call("POST", "/payments/histories", body, None).await.status, 201);
}

fn order_body(order: &str, store: &str, price: u64) -> Value {
    json!({
        "vendor": {"code": "iamport", "store_id": store}, "source": source(order), "price": price,
        "password": "order password", "webhook_url": "http://127.0.0.1:9/hook",
    })
}

#[tokio::test]
async fn orders_answer_201_then_200_for_the_same_and_their_refusals_by_cause() {
    let app = spawn_app().await;
    let created = app.call("POST", "/payments/orders", order_body("o-1", "store-1", 1000), Some("key-1")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["state"], "pending");
    assert_eq!(created.body["pg"], json!({"order_id": "o-1", "amount": 1000, "locked": true}));
    assert_eq!(created.body["history_id"], Value::Null);
    assert!(is_wire_timestamp(&created.body["expires_at"]), "{}", created.body["expires_at"]);
    // The same request replayed under its key, and the same order asked anew.
    let replayed = app.call("POST", "/payments/orders", order_body("o-1", "store-1", 1000), Some("key-1")).await;
    assert_eq!((replayed.status, &replayed.body["id"]), (201, &created.body["id"]));
    let again = app.call("POST", "/payments/orders", order_body("o-1", "store-1", 1000), None).await;
    assert_eq!((again.status, &again.body["id"]), (200, &created.body["id"]));
    let other = app.call("POST", "/payments/orders", order_body("o-1", "store-1", 2000), None).await;
    assert_eq!(
        (other.status, other.body["code"].as_str(), other.body["param"].as_str()),
        (409, Some("ALREADY_REGISTERED"), Some("source"))
    );
    let store = app.call("POST", "/payments/orders", order_body("o-2", "unknown-store", 1000), None).await;
    assert_eq!(
        (store.status, store.body["code"].as_str(), store.body["param"].as_str()),
        (400, Some("STORE_NOT_CONFIGURED"), Some("vendor.store_id"))
    );
    let mut long = order_body("o-3", "store-1", 1000);
    long["expires_in"] = json!(700_000);
    let lifetime = app.call("POST", "/payments/orders", long, None).await;
    assert_eq!((lifetime.status, lifetime.body["param"].as_str()), (400, Some("expires_in")));

    let accessor = json!({"schema": "shop", "table": "orders", "id": "o-1", "password": "order password"});
    let read = app.call("PATCH", "/payments/orders/get", accessor.clone(), None).await;
    assert_eq!((read.status, &read.body["id"]), (200, &created.body["id"]));
    let mut wrong = accessor.clone();
    wrong["password"] = json!("not it");
    assert_eq!(app.call("PATCH", "/payments/orders/get", wrong, None).await.status, 403);
    let mut missing = accessor;
    missing["id"] = json!("o-404");
    assert_eq!(app.call("PATCH", "/payments/orders/get", missing, None).await.status, 404);
}
