//! `Idempotency-Key` on create and cancel: replays, mismatches, retries after 5xx.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use payments_application::ports::GatewayError;
use serde_json::json;

#[tokio::test]
async fn a_retried_create_replays_the_first_answer_without_calling_the_pg() {
    let app = spawn_app().await;
    app.pg.add_payment("imp_1", "1000");
    let body = create_body("imp_1", "1000", "o-1");
    let first = app.call("POST", "/payments/histories", body.clone(), Some("key-1")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let fetches = app.pg.fetches.load(Ordering::SeqCst);

    let again = app.call("POST", "/payments/histories", body.clone(), Some("key-1")).await;
    assert_eq!((again.status, &again.body), (201, &first.body));
    assert_eq!(app.pg.fetches.load(Ordering::SeqCst), fetches, "the PG is not called again");

    // Another request under the same key (the password is not part of it:
    // see a_replay_answers_only_the_password_of_its_record).
    let mut other = body;
    other["webhook_url"] = json!("http://127.0.0.1:9/another-hook");
    let mismatch = app.call("POST", "/payments/histories", other, Some("key-1")).await;
    assert_eq!((mismatch.status, mismatch.body["code"].as_str()), (422, Some("IDEMPOTENCY_KEY_REUSED")));

    let too_long = "k".repeat(256);
    let invalid = app.call("POST", "/payments/histories", create_body("imp_1", "1000", "o-1"), Some(&too_long)).await;
    assert_eq!(invalid.status, 400);
}

#[tokio::test]
async fn a_retried_cancel_refunds_once() {
    let app = spawn_app().await;
    app.register("imp_1", "1000", "o-1").await;
    let body = json!({"source": source("o-1"), "password": "secret", "price": 400, "reason": "r", "account": null});
    let first = app.call("PUT", "/payments/histories/cancel", body.clone(), Some("cancel-1")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = app.call("PUT", "/payments/histories/cancel", body.clone(), Some("cancel-1")).await;
    assert_eq!((second.status, &second.body), (200, &first.body));
    assert_eq!(app.pg.cancels.load(Ordering::SeqCst), 1, "refunded once");
    assert_eq!(serde_json::to_string(&second.body["refund"]).unwrap(), "400");

    // A 4xx answer is kept and replayed too.
    let mut too_much = body;
    too_much["price"] = json!(5000);
    let refused = app.call("PUT", "/payments/histories/cancel", too_much.clone(), Some("cancel-2")).await;
    assert_eq!(refused.status, 422);
    let replayed = app.call("PUT", "/payments/histories/cancel", too_much, Some("cancel-2")).await;
    // The same answer, named by the request that asked again.
    let without_id = |body: &serde_json::Value| json!({"code": body["code"], "message": body["message"]});
    assert_eq!((replayed.status, without_id(&replayed.body)), (422, without_id(&refused.body)));
    assert_ne!(replayed.body["request_id"], refused.body["request_id"]);
    assert!(replayed.body["request_id"].is_string());
}

#[tokio::test]
async fn a_failure_worth_retrying_frees_the_key() {
    let app = spawn_app().await;
    app.pg.add_payment("imp_1", "1000");
    *app.pg.fail_with.lock().unwrap() = Some(GatewayError::Unavailable("down".into()));
    let body = create_body("imp_1", "1000", "o-1");
    let failed = app.call("POST", "/payments/histories", body.clone(), Some("key-9")).await;
    assert_eq!(failed.status, 502);
    *app.pg.fail_with.lock().unwrap() = None;
    let retried = app.call("POST", "/payments/histories", body, Some("key-9")).await;
    assert_eq!(retried.status, 201, "{}", retried.text);
}

#[tokio::test]
async fn reservations_take_keys_too() {
    let app = spawn_app().await;
    app.pg.cards.lock().unwrap().insert("cust_1".into(), json!({"customer_uid": "cust_1"}));
    let body = json!({
        "vendor": {"code": "iamport", "store_id": "store-1", "uid": "cust_1"},
        "source": source("c-1"),
        "title": "card",
        "password": "secret",
    });
    let first = app.call("POST", "/payments/reservations", body.clone(), Some("r-1")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = app.call("POST", "/payments/reservations", body, Some("r-1")).await;
    assert_eq!((again.status, &again.body), (201, &first.body), "a replay, not a 409");
}

#[tokio::test]
async fn a_key_still_running_answers_409_and_reformatted_bodies_are_the_same_request() {
    use payments_application::ports::IdempotencyStore;
    let app = spawn_app().await;
    app.pg.add_payment("imp_1", "1000");
    // Another instance holds the key and has not answered yet.
    let body = create_body("imp_1", "1000", "o-1");
    let secret = idempotency_secret();
    let fingerprint = payments_http::fingerprint(&secret, &payments_http::canonical_json(&body));
    let scope = payments_http::scope(&secret, "POST /payments/histories", "source shop orders o-1");
    let now = chrono::Utc::now();
    app.keys.begin(&scope, "busy", &fingerprint, now, now).await.unwrap();
    let busy = app.call("POST", "/payments/histories", body.clone(), Some("busy")).await;
    assert_eq!((busy.status, busy.body["code"].as_str()), (409, Some("IDEMPOTENCY_KEY_IN_USE")));

    // The same body written with other whitespace and key order is the same request.
    let first = app.call("POST", "/payments/histories", body.clone(), Some("k")).await;
    assert_eq!(first.status, 201);
    let pretty = serde_json::to_string_pretty(&body).unwrap().replace("\"vendor\"", "\"vendor\" ");
    let again =
        app.send_raw("POST", "/payments/histories", cipher().encrypt(pretty.as_bytes()).into_bytes(), Some("k")).await;
    assert_eq!((again.status, &again.body), (201, &first.body));
}

#[tokio::test]
async fn a_replay_answers_only_the_password_of_its_record() {
    let app = spawn_app().await;
    app.pg.add_payment("imp_1", "1000");
    let body = create_body("imp_1", "1000", "o-1");
    let first = app.call("POST", "/payments/histories", body.clone(), Some("k-1")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    // A guessed key and body with a guessed password: the record is not shown.
    let mut guessed = body.clone();
    guessed["password"] = json!("not the password");
    let refused = app.call("POST", "/payments/histories", guessed, Some("k-1")).await;
    assert_eq!((refused.status, refused.body["code"].as_str()), (403, Some("WRONG_PASSWORD")), "{}", refused.text);
    assert!(refused.body.get("vendor").is_none());
    // The real retry is answered as the first time.
    let again = app.call("POST", "/payments/histories", body, Some("k-1")).await;
    assert_eq!((again.status, &again.body), (201, &first.body));
    // The key names a request about one record: the same key for another
    // order is another request (here: a second payment registered).
    app.pg.add_payment("imp_2", "1000");
    let other = app.call("POST", "/payments/histories", create_body("imp_2", "1000", "o-2"), Some("k-1")).await;
    assert_eq!(other.status, 201, "{}", other.text);
    assert_ne!(other.body["id"], first.body["id"]);
}
