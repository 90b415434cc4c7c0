//! The fake Iamport's own behaviour: bad input, authentication, concurrency
//! and its bounded, expiring state.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use payments_fakekit::StoreLimits;
use payments_iamport::fake::FakeIamportConfig;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Answer, WAIT, fake};

/// A client error with the envelope and a message; never a 5xx.
fn assert_refused(answer: &Answer, status: u16, needle: &str, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
    let message = answer.body["message"].as_str().unwrap_or_else(|| panic!("{what}: no message in {}", answer.body));
    assert!(message.contains(needle), "{what}: {message:?} should mention {needle:?}");
    assert_eq!(answer.body["response"], Value::Null, "{what}");
    assert!(answer.body["code"].as_i64().is_some_and(|c| c != 0), "{what}");
}

#[tokio::test]
async fn bad_input_is_a_400_with_a_message() {
    let fake = fake(FakeIamportConfig::default()).await;
    let token = fake.token().await;
    let paid = fake.card_payment(1000).await;
    let imp_uid = paid["imp_uid"].as_str().unwrap().to_owned();
    let card = json!({"card_number": "1234-5678-1234-5678", "expiry": "2030-12", "birth": "900101"});
    let with = |extra: Value| {
        let mut body = card.clone();
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body.to_string()
    };
    let cases: Vec<(Method, String, String, &str)> = vec![
        (Method::POST, "/users/getToken".into(), "not json".into(), "invalid request body"),
        (Method::POST, "/users/getToken".into(), "".into(), "empty"),
        (Method::POST, "/users/getToken".into(), "{}".into(), "imp_key"),
        (Method::POST, "/users/getToken".into(), r#"{"imp_key": 1, "imp_secret": "x"}"#.into(), "invalid type"),
        (Method::POST, "/payments/cancel".into(), "{".into(), "invalid request body"),
        (Method::POST, "/payments/cancel".into(), "[]".into(), "invalid type"),
        (Method::POST, "/payments/cancel".into(), "{}".into(), "imp_uid"),
        (Method::POST, "/payments/cancel".into(), format!(r#"{{"imp_uid": "{imp_uid}", "amount": "x"}}"#), "amount"),
        (Method::POST, "/payments/cancel".into(), format!(r#"{{"imp_uid": "{imp_uid}", "amount": -5}}"#), "negative"),
        (Method::POST, "/payments/cancel".into(), format!(r#"{{"imp_uid": "{imp_uid}", "amount": 1e400}}"#), "price"),
        (Method::POST, "/payments/cancel".into(), format!(r#"{{"imp_uid": "{imp_uid}", "amount": 1.23456}}"#), "decimal"),
        (Method::POST, "/vbanks".into(), r#"{"merchant_uid": "m", "amount": 100, "vbank_code": "088", "vbank_holder": "h"}"#.into(), "vbank_due"),
        (Method::POST, "/vbanks".into(), r#"{"merchant_uid": "m", "amount": 0, "vbank_code": "088", "vbank_due": 1, "vbank_holder": "h"}"#.into(), "amount"),
        (Method::POST, "/vbanks".into(), r#"{"merchant_uid": "m", "amount": "100", "vbank_code": "088", "vbank_due": 1, "vbank_holder": "h"}"#.into(), "amount"),
        (Method::POST, "/vbanks".into(), r#"{"merchant_uid": "m", "amount": 100, "vbank_code": "088", "vbank_due": 1, "vbank_holder": "h", "notice_url": "nope"}"#.into(), "notice_url"),
        (Method::POST, "/vbanks".into(), r#"{"merchant_uid": " ", "amount": 100, "vbank_code": "088", "vbank_due": 1, "vbank_holder": "h"}"#.into(), "merchant_uid"),
        (Method::PUT, "/vbanks".into(), "{}".into(), "imp_uid"),
        (Method::PUT, "/vbanks".into(), format!(r#"{{"imp_uid": "{imp_uid}", "vbank_due": -1}}"#), "vbank_due"),
        (Method::POST, "/subscribe/customers/c1".into(), with(json!({"card_number": "1234"})), "card_number"),
        (Method::POST, "/subscribe/customers/c1".into(), with(json!({"expiry": "2030-13"})), "expiry"),
        (Method::POST, "/subscribe/customers/c1".into(), with(json!({"birth": "901341"})), "birth"),
        (Method::POST, "/subscribe/customers/c1".into(), with(json!({"pwd_2digit": "123"})), "pwd_2digit"),
        (Method::POST, "/subscribe/customers/c1".into(), r#"{"card_number": "1234-5678-1234-5678"}"#.into(), "expiry"),
        (Method::POST, "/subscribe/payments/onetime".into(), with(json!({"name": "n", "amount": 10})), "merchant_uid"),
        (Method::POST, "/subscribe/payments/onetime".into(), with(json!({"name": "n", "merchant_uid": "m", "amount": 10, "currency": "XXX"})), "unknown variant"),
        (Method::POST, "/subscribe/payments/onetime".into(), with(json!({"name": "n", "merchant_uid": "m", "amount": 10, "card_quota": "3"})), "card_quota"),
        (Method::POST, "/subscribe/payments/again".into(), r#"{"customer_uid": "c", "merchant_uid": "m", "name": "n"}"#.into(), "amount"),
        (Method::POST, "/certifications/otp/request".into(), r#"{"name": "n", "phone": "01012345678", "birth": "19900101", "gender_digit": "1", "carrier": "ABC"}"#.into(), "unknown variant"),
        (Method::POST, "/certifications/otp/request".into(), r#"{"name": "n", "phone": "01012345678", "birth": "19901340", "gender_digit": "1", "carrier": "KT"}"#.into(), "birth"),
        (Method::POST, "/certifications/otp/request".into(), r#"{"name": "n", "phone": "phone", "birth": "19900101", "gender_digit": "1", "carrier": "KT"}"#.into(), "phone"),
        (Method::POST, "/certifications/otp/confirm/imp_1".into(), r#"{"otp": 123456}"#.into(), "invalid type"),
        (Method::POST, format!("/receipts/{imp_uid}"), "{}".into(), "identifier"),
        (Method::POST, format!("/receipts/{imp_uid}"), r#"{"identifier": "010", "type": "alien"}"#.into(), "unknown variant"),
        (Method::POST, "/internal/webhook".into(), r#"{"imp_uid": "a", "merchant_uid": "m", "status": "weird"}"#.into(), "status"),
        (Method::POST, "/internal/webhook".into(), r#"{"merchant_uid": "m", "status": "paid"}"#.into(), "imp_uid"),
    ];
    for (method, path, body, needle) in cases {
        let what = format!("{method} {path} {body}");
        let answer = fake.raw(method, &path, Some(&token), Some(body.into_bytes())).await;
        assert_refused(&answer, 400, needle, &what);
    }
    let answer = fake.raw(Method::GET, &format!("/payments/{imp_uid}?extension=maybe"), Some(&token), None).await;
    assert_refused(&answer, 400, "extension", "a bad query");
    let answer = fake.raw(Method::POST, "/vbanks", Some(&token), Some(vec![b' '; 2 * 1024 * 1024])).await;
    assert_refused(&answer, 413, "exceeds", "a huge body");
    let answer = fake.raw(Method::GET, "/nowhere", Some(&token), None).await;
    assert_refused(&answer, 404, "", "an unknown path");
    let answer = fake.raw(Method::DELETE, "/vbanks", Some(&token), None).await;
    assert_refused(&answer, 405, "", "a wrong method");
    // The payment is untouched by all of it.
    let read = fake.raw(Method::GET, &format!("/payments/{imp_uid}"), Some(&token), None).await;
    assert_eq!(read.body["response"], paid);
}

#[tokio::test]
async fn every_route_but_the_token_and_the_sink_needs_a_valid_token() {
    let fake = fake(FakeIamportConfig::default()).await;
    let token = fake.token().await;
    let routes = [
        (Method::GET, "/payments/imp_1"),
        (Method::POST, "/payments/cancel"),
        (Method::POST, "/vbanks"),
        (Method::PUT, "/vbanks"),
        (Method::GET, "/subscribe/customers/c"),
        (Method::POST, "/subscribe/customers/c"),
        (Method::DELETE, "/subscribe/customers/c"),
        (Method::POST, "/subscribe/payments/onetime"),
        (Method::POST, "/subscribe/payments/again"),
        (Method::POST, "/certifications/otp/request"),
        (Method::POST, "/certifications/otp/confirm/imp_1"),
        (Method::GET, "/certifications/imp_1"),
        (Method::DELETE, "/certifications/imp_1"),
        (Method::GET, "/receipts/imp_1"),
        (Method::POST, "/receipts/imp_1"),
        (Method::DELETE, "/receipts/imp_1"),
        (Method::PUT, "/internal/deposit/imp_1"),
        (Method::POST, "/payments/prepare"),
        (Method::PUT, "/payments/prepare"),
        (Method::GET, "/payments/prepare/m-1"),
        (Method::POST, "/internal/payments"),
    ];
    for (method, path) in routes {
        for header in [None, Some("unknown"), Some("Bearer unknown"), Some("Bearer")] {
            let answer = fake.raw(method.clone(), path, header, Some(b"{}".to_vec())).await;
            assert_refused(&answer, 401, "Unauthorized", &format!("{method} {path} with {header:?}"));
        }
        for header in [token.clone(), format!("Bearer {token}"), format!("bearer {token}")] {
            let answer = fake.raw(method.clone(), path, Some(&header), Some(b"{}".to_vec())).await;
            assert_ne!(answer.status, 401, "{method} {path} with a valid token: {}", answer.body);
        }
    }
    let wrong = json!({"imp_key": "test_imp_key", "imp_secret": "nope"}).to_string().into_bytes();
    assert_refused(&fake.raw(Method::POST, "/users/getToken", None, Some(wrong)).await, 401, "imp_key", "bad secret");
    // The form encoding of the real API is accepted too.
    let response = fake
        .http
        .post(format!("{}/users/getToken", fake.url()))
        .form(&[("imp_key", "test_imp_key"), ("imp_secret", "test_imp_secret")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let fake = fake(FakeIamportConfig { token_ttl: Duration::from_secs(1), ..FakeIamportConfig::default() }).await;
    let token = fake.token().await;
    let payment = fake.card_payment(1000).await;
    let path = format!("/payments/{}", payment["imp_uid"].as_str().unwrap());
    assert_eq!(fake.raw(Method::GET, &path, Some(&token), None).await.status, 200);
    // Expiry is wall-clock time: poll, bounded.
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = fake.raw(Method::GET, &path, Some(&token), None).await;
        if answer.status == 401 {
            assert_refused(&answer, 401, "expired", "an expired token");
            break;
        }
        assert!(Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn concurrent_cancels_never_refund_more_than_was_paid() {
    let fake = Arc::new(fake(FakeIamportConfig::default()).await);
    let token = Arc::new(fake.token().await);
    let payment = fake.card_payment(10_000).await;
    let imp_uid = payment["imp_uid"].as_str().unwrap().to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let (fake, token, imp_uid) = (fake.clone(), token.clone(), imp_uid.clone());
        tasks.spawn(async move {
            let body = json!({"imp_uid": imp_uid, "amount": 1000, "reason": "race"}).to_string().into_bytes();
            fake.raw(Method::POST, "/payments/cancel", Some(&token), Some(body)).await
        });
    }
    let mut accepted = 0;
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        assert!(answer.status == 201 || answer.status == 200, "{}", answer.body);
        if answer.body["code"] == json!(0) {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 10);
    let read = fake.raw(Method::GET, &format!("/payments/{imp_uid}"), Some(&token), None).await;
    assert_eq!(read.body["response"]["cancel_amount"], json!(10000));
    assert_eq!(read.body["response"]["status"], "cancelled");
    assert_eq!(read.body["response"]["cancel_history"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn state_is_bounded_by_capacity() {
    let limits = StoreLimits { capacity: 2, ttl: Duration::from_secs(60) };
    let fake = fake(FakeIamportConfig { limits, ..FakeIamportConfig::default() }).await;
    let first = fake.card_payment(1000).await;
    let second = fake.card_payment(2000).await;
    let third = fake.card_payment(3000).await;
    assert_eq!(fake.fake.payment_count(), 2);
    let read = |payment: &Value| format!("/payments/{}", payment["imp_uid"].as_str().unwrap());
    assert_eq!(fake.call(Method::GET, &read(&first), None).await.status, 404);
    assert_eq!(fake.call(Method::GET, &read(&second), None).await.status, 200);
    assert_eq!(fake.call(Method::GET, &read(&third), None).await.status, 200);
}

#[tokio::test]
async fn a_saved_card_pays_again_and_an_unknown_one_is_not_found() {
    let fake = fake(FakeIamportConfig::default()).await;
    let again = json!({"customer_uid": "nobody", "merchant_uid": "m", "amount": 100, "name": "n"});
    assert_refused(&fake.call(Method::POST, "/subscribe/payments/again", Some(again)).await, 404, "nobody", "again");
    let onetime = json!({"card_number": "1234-5678-1234-5678", "expiry": "2030-12", "birth": "900101",
        "name": "n", "merchant_uid": "m1", "amount": 100, "customer_uid": "saved"});
    assert_eq!(fake.call(Method::POST, "/subscribe/payments/onetime", Some(onetime)).await.status, 201);
    let again = json!({"customer_uid": "saved", "merchant_uid": "m2", "amount": 250, "name": "n"});
    let paid = fake.call(Method::POST, "/subscribe/payments/again", Some(again)).await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    assert_eq!(paid.body["response"]["card_number"], "123456******5678", "masked as Iamport answers it");
    assert_eq!(paid.body["response"]["customer_uid"], "saved");
    assert_eq!(paid.body["response"]["amount"], json!(250));
    let deleted = fake.call(Method::DELETE, "/subscribe/customers/saved", None).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(fake.call(Method::GET, "/subscribe/customers/saved", None).await.status, 404);
}

#[tokio::test]
async fn a_wrong_otp_is_refused_and_the_right_one_certifies() {
    let fake = fake(FakeIamportConfig::default()).await;
    let request = json!({"name": "Kim", "phone": "01012345678", "birth": "19900101", "gender_digit": "2",
        "carrier": "LGT"});
    let accessor = fake.call(Method::POST, "/certifications/otp/request", Some(request)).await;
    let imp_uid = accessor.body["response"]["imp_uid"].as_str().unwrap().to_owned();
    let pending = fake.call(Method::GET, &format!("/certifications/{imp_uid}"), None).await;
    assert_eq!(pending.body["response"]["gender"], "female");
    let otp = pending.body["response"]["__otp"].as_str().unwrap().to_owned();
    let confirm = format!("/certifications/otp/confirm/{imp_uid}");
    let wrong = fake.call(Method::POST, &confirm, Some(json!({"otp": "wrong"}))).await;
    assert_refused(&wrong, 200, "OTP", "a wrong OTP");
    let right = fake.call(Method::POST, &confirm, Some(json!({"otp": otp}))).await;
    assert_eq!(right.body["response"]["certified"], true);
    assert_ne!(right.body["response"]["certified_at"], json!(0));
    let twice = fake.call(Method::POST, &confirm, Some(json!({"otp": otp}))).await;
    assert_refused(&twice, 200, "already", "a second confirmation");
}
