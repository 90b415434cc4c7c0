//! The fake Toss's cancels that do not finish at once, over HTTP: a cancel
//! left `IN_PROGRESS` and finished later (`DONE` or `ABORTED`, announced by
//! `CANCEL_STATUS_CHANGED` with the cancel as `data`), and a cancel refused
//! at once with Toss's `REFUND_REJECTED`
//! (docs.tosspayments.com/reference/using-api/webhook-events,
//! /reference/error-codes).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Fake, Receiver, bounded, documented, keys, order_id};
use poem::web::Data;
use poem::{EndpointExt, Route, handler, post};
use reqwest::Method;
use serde_json::{Value, json};

fn key_of(payment: &Value) -> String {
    payment["paymentKey"].as_str().unwrap().to_owned()
}

/// `PUT /internal/{paymentKey}/cancel-behaviour`.
async fn next_cancel(fake: &Fake, key: &str, next: &str) {
    let path = format!("/internal/{key}/cancel-behaviour");
    let answer = fake.raw(Method::PUT, &path, Some(&json!({"next": next}))).await;
    assert_eq!(answer, (200, json!({"paymentKey": key, "next": next})));
}

/// `PUT /internal/{paymentKey}/cancels/{transactionKey}`.
async fn finish(fake: &Fake, key: &str, cancel: &Value, body: Value) -> (u16, Value) {
    let path = format!("/internal/{key}/cancels/{}", cancel["transactionKey"].as_str().unwrap());
    fake.raw(Method::PUT, &path, Some(&body)).await
}

type Received = Arc<Mutex<Vec<(Vec<(String, String)>, Value)>>>;

#[handler]
fn record(request: &poem::Request, body: Vec<u8>, received: Data<&Received>) {
    let headers = request
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    received.lock().unwrap().push((headers, serde_json::from_slice(&body).unwrap()));
}

/// A receiver that keeps each webhook's headers too.
async fn receiver() -> (payments_fakekit::RunningServer, Received) {
    let received: Received = Arc::default();
    let route = Route::new().at("/hook", post(record)).data(received.clone());
    (payments_fakekit::serve(route, "127.0.0.1:0".parse().unwrap()).await.unwrap(), received)
}

/// What came, after a pause long enough for a webhook to arrive.
async fn settled(received: &Received) -> Vec<(Vec<(String, String)>, Value)> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    received.lock().unwrap().clone()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn an_in_progress_cancel_changes_nothing_until_toss_finishes_it_and_announces_it() {
    bounded(async {
        let (sink, received) = receiver().await;
        let fake = Fake::current(Some(format!("{}/hook", sink.url()))).await;
        let paid = fake.key_in(&order_id(), 10_000, true).await;
        let key = key_of(&paid);
        next_cancel(&fake, &key, "in_progress").await;

        let path = format!("/v1/payments/{key}/cancel");
        let cancel = json!({"cancelReason": "customer asked", "cancelAmount": 4000, "refundableAmount": 10_000});
        let (status, answer) =
            fake.raw_with_key(Method::POST, &path, Some(&cancel), Some("cancel-in-progress-1")).await;
        assert_eq!(status, 200, "{answer:#}");
        fake.check_answer(&answer);
        assert_eq!((answer["status"].as_str(), answer["balanceAmount"].as_i64()), (Some("DONE"), Some(10_000)));
        let pending = &answer["cancels"][0];
        assert_eq!(
            (pending["cancelStatus"].as_str(), pending["cancelAmount"].as_i64()),
            (Some("IN_PROGRESS"), Some(4000))
        );
        assert!(pending["cancelRequestId"].is_string(), "an asynchronous cancel's request id: {pending}");
        assert_eq!(answer["lastTransactionKey"], pending["transactionKey"]);
        // Retried with its key: the first answer, one cancel.
        let again = fake.raw_with_key(Method::POST, &path, Some(&cancel), Some("cancel-in-progress-1")).await;
        assert_eq!(again, (200, answer.clone()));
        assert_eq!(fake.state.payment_json(&key).unwrap(), answer);

        // While it is in progress, 6000 is what may still be cancelled.
        let stale = json!({"cancelReason": "r", "cancelAmount": 1000, "refundableAmount": 10_000});
        let refused = fake.refused(Method::POST, &path, Some(stale), 400).await;
        assert_eq!(refused["code"], "NOT_MATCHES_REFUNDABLE_AMOUNT");
        let over = json!({"cancelReason": "r", "cancelAmount": 6001});
        assert_eq!(fake.refused(Method::POST, &path, Some(over), 403).await["code"], "NOT_CANCELABLE_AMOUNT");
        // Toss sends nothing for a cancel that is in progress (no status changed).
        let hooks = settled(&received).await;
        assert_eq!(hooks.len(), 1, "the payment's DONE only: {hooks:?}");

        // Toss finishes it: DONE, the balance falls, the status follows.
        let (status, finished) = finish(&fake, &key, pending, json!({"outcome": "done", "webhook": true})).await;
        assert_eq!(status, 200, "{finished:#}");
        fake.check_answer(&finished);
        assert_eq!(
            (finished["status"].as_str(), finished["balanceAmount"].as_i64()),
            (Some("PARTIAL_CANCELED"), Some(6000))
        );
        let done = &finished["cancels"][0];
        assert_eq!(
            (done["cancelStatus"].as_str(), &done["transactionKey"]),
            (Some("DONE"), &pending["transactionKey"])
        );
        assert_eq!(done["refundableAmount"].as_i64(), Some(6000));
        assert_eq!(fake.state.payment_json(&key).unwrap(), finished);

        let hooks = settled(&received).await;
        assert_eq!(hooks.len(), 2, "{hooks:?}");
        let (headers, body) = &hooks[1];
        assert_eq!(body["eventType"], "CANCEL_STATUS_CHANGED");
        assert_eq!(body["data"], *done, "data is the cancel whose status changed");
        let example = documented("v2022-11-16/webhook-cancel-status-changed.json");
        assert_eq!(keys(body), keys(&example));
        assert_eq!(keys(&body["data"]), keys(&example["data"]));
        let created_at = body["createdAt"].as_str().unwrap();
        assert!(chrono::NaiveDateTime::parse_from_str(created_at, "%Y-%m-%dT%H:%M:%S%.6f").is_ok(), "{created_at}");
        assert!(header(headers, "tosspayments-webhook-transmission-id").is_some_and(|id| id.starts_with("whtrans_")));
        assert_eq!(header(headers, "tosspayments-webhook-transmission-retried-count"), Some("0"));
        assert!(header(headers, "tosspayments-webhook-transmission-time").is_some());
        assert!(payments_toss::TossNotification::parse(body).is_ok(), "the webhook parser reads it: {body}");

        let (status, twice) = finish(&fake, &key, pending, json!({"outcome": "done"})).await;
        assert_eq!((status, twice["code"].as_str()), (409, Some("CANCEL_NOT_IN_PROGRESS")), "{twice}");
    })
    .await;
}

#[tokio::test]
async fn an_in_progress_cancel_that_toss_aborts_moves_nothing_and_frees_its_amount() {
    bounded(async {
        let mut hooks = Receiver::start().await;
        let fake = Fake::current(Some(hooks.url())).await;
        let paid = fake.key_in(&order_id(), 8000, true).await;
        let key = key_of(&paid);
        hooks.wait_for(&key, "DONE").await;
        next_cancel(&fake, &key, "in_progress").await;
        let path = format!("/v1/payments/{key}/cancel");
        let whole = fake.ok("POST /v1/payments/{paymentKey}/cancel", &path, Some(json!({"cancelReason": "r"}))).await;
        let pending = &whole["cancels"][0];
        assert_eq!(
            (pending["cancelStatus"].as_str(), pending["cancelAmount"].as_i64()),
            (Some("IN_PROGRESS"), Some(8000))
        );
        let one_more = json!({"cancelReason": "r", "cancelAmount": 1});
        assert_eq!(fake.refused(Method::POST, &path, Some(one_more), 403).await["code"], "NOT_CANCELABLE_AMOUNT");

        let (status, aborted) = finish(&fake, &key, pending, json!({"outcome": "aborted"})).await;
        assert_eq!(status, 200, "{aborted:#}");
        fake.check_answer(&aborted);
        assert_eq!((aborted["status"].as_str(), aborted["balanceAmount"].as_i64()), (Some("DONE"), Some(8000)));
        assert_eq!(aborted["cancels"][0]["cancelStatus"], "ABORTED");
        assert_eq!(aborted["cancels"][0]["canceledAt"], pending["canceledAt"]);
        let announced =
            hooks.next_matching("CANCEL_STATUS_CHANGED", |b| b["eventType"] == "CANCEL_STATUS_CHANGED").await;
        assert_eq!(announced["data"], aborted["cancels"][0]);
        let (status, _) = finish(&fake, &key, pending, json!({"outcome": "done"})).await;
        assert_eq!(status, 409, "an aborted cancel stays aborted");

        // Its amount is cancelable again; back to cancels done at once.
        next_cancel(&fake, &key, "done").await;
        let again = json!({"cancelReason": "r", "refundableAmount": 8000});
        let canceled = fake.ok("POST /v1/payments/{paymentKey}/cancel", &path, Some(again)).await;
        assert_eq!((canceled["status"].as_str(), canceled["balanceAmount"].as_i64()), (Some("CANCELED"), Some(0)));
        assert_eq!(canceled["cancels"][1]["cancelStatus"], "DONE");
        hooks.wait_for(&key, "CANCELED").await;
    })
    .await;
}

#[tokio::test]
async fn a_cancel_told_to_abort_is_refused_with_tosss_refund_rejected_and_changes_nothing() {
    bounded(async {
        let (sink, received) = receiver().await;
        let fake = Fake::current(Some(format!("{}/hook", sink.url()))).await;
        let paid = fake.key_in(&order_id(), 5000, true).await;
        let key = key_of(&paid);
        next_cancel(&fake, &key, "aborted").await;
        let path = format!("/v1/payments/{key}/cancel");
        let refused =
            fake.refused(Method::POST, &path, Some(json!({"cancelReason": "r", "cancelAmount": 1000})), 400).await;
        assert_eq!(
            refused,
            json!({"code": "REFUND_REJECTED", "message": "환불이 거절됐습니다. 결제사에 문의 부탁드립니다."})
        );
        // The request's own faults still come first.
        let over = json!({"cancelReason": "r", "cancelAmount": 5001});
        assert_eq!(fake.refused(Method::POST, &path, Some(over), 403).await["code"], "NOT_CANCELABLE_AMOUNT");
        assert_eq!(fake.state.payment_json(&key).unwrap(), paid, "nothing recorded");
        assert_eq!(settled(&received).await.len(), 1, "the payment's DONE only");
    })
    .await;
}

#[tokio::test]
async fn a_finish_without_a_webhook_sends_none() {
    bounded(async {
        let (sink, received) = receiver().await;
        let fake = Fake::current(Some(format!("{}/hook", sink.url()))).await;
        let paid = fake.key_in(&order_id(), 3000, true).await;
        let key = key_of(&paid);
        next_cancel(&fake, &key, "in_progress").await;
        let path = format!("/v1/payments/{key}/cancel");
        let answer = fake.ok("POST /v1/payments/{paymentKey}/cancel", &path, Some(json!({"cancelReason": "r"}))).await;
        let (status, canceled) =
            finish(&fake, &key, &answer["cancels"][0], json!({"outcome": "done", "webhook": false})).await;
        assert_eq!((status, canceled["status"].as_str()), (200, Some("CANCELED")), "{canceled:#}");
        assert_eq!(settled(&received).await.len(), 1, "the payment's DONE only");
    })
    .await;
}

#[tokio::test]
async fn the_internal_cancel_routes_refuse_what_they_do_not_know() {
    bounded(async {
        let fake = Fake::current(None).await;
        let paid = fake.key_in(&order_id(), 2000, true).await;
        let key = key_of(&paid);
        let behaviour = format!("/internal/{key}/cancel-behaviour");
        for body in [json!({"next": "DONE"}), json!({}), json!({"next": true}), json!([])] {
            let refused = fake.refused(Method::PUT, &behaviour, Some(body), 400).await;
            assert_eq!(refused["code"], "INVALID_REQUEST");
        }
        let unknown =
            fake.refused(Method::PUT, "/internal/nobody/cancel-behaviour", Some(json!({"next": "done"})), 404).await;
        assert_eq!(unknown["code"], "NOT_FOUND_PAYMENT");

        // A cancel done at once cannot be finished again.
        let path = format!("/v1/payments/{key}/cancel");
        let part = json!({"cancelReason": "r", "cancelAmount": 500});
        let partial = fake.ok("POST /v1/payments/{paymentKey}/cancel", &path, Some(part)).await;
        let (status, refused) = finish(&fake, &key, &partial["cancels"][0], json!({"outcome": "aborted"})).await;
        assert_eq!((status, refused["code"].as_str()), (409, Some("CANCEL_NOT_IN_PROGRESS")));
        for body in [json!({"outcome": "canceled"}), json!({"outcome": "done", "webhook": "no"}), json!({})] {
            let (status, refused) = finish(&fake, &key, &partial["cancels"][0], body).await;
            assert_eq!((status, refused["code"].as_str()), (400, Some("INVALID_REQUEST")));
        }
        let none = json!({"transactionKey": "NO-SUCH-CANCEL"});
        let (status, refused) = finish(&fake, &key, &none, json!({"outcome": "done"})).await;
        assert_eq!((status, refused["code"].as_str()), (404, Some("NOT_FOUND_CANCEL")));
        let (status, refused) =
            fake.raw(Method::PUT, "/internal/nobody/cancels/NO-SUCH-CANCEL", Some(&json!({"outcome": "done"}))).await;
        assert_eq!((status, refused["code"].as_str()), (404, Some("NOT_FOUND_PAYMENT")));
    })
    .await;
}

#[tokio::test]
async fn in_1_4_an_in_progress_cancel_still_answers_the_swaggers_payment() {
    bounded(async {
        let fake = Fake::legacy(None).await;
        let paid = fake.key_in(&order_id(), 4000, true).await;
        let key = key_of(&paid);
        next_cancel(&fake, &key, "in_progress").await;
        let path = format!("/v1/payments/{key}/cancel");
        let part = json!({"cancelReason": "r", "cancelAmount": 1000});
        let answer = fake.ok("POST /v1/payments/{paymentKey}/cancel", &path, Some(part)).await;
        assert_eq!((answer["status"].as_str(), answer["balanceAmount"].as_i64()), (Some("DONE"), Some(4000)));
        assert_eq!(answer["cancels"][0]["cancelStatus"], "IN_PROGRESS");
        let (status, finished) = finish(&fake, &key, &answer["cancels"][0], json!({"outcome": "done"})).await;
        assert_eq!(status, 200, "{finished:#}");
        fake.check_payment(&finished);
        assert_eq!(
            (finished["status"].as_str(), finished["balanceAmount"].as_i64()),
            (Some("PARTIAL_CANCELED"), Some(3000))
        );
    })
    .await;
}
