//! Error mapping of the client, and the fake's answers to bad input.

mod common;

use std::time::Duration;

use common::{Fake, STORE, Swagger, TossApiVersion, bounded, documented, order_id};
use payments_application::ports::{GatewayError, PaymentGateway};
use payments_domain::{SourceId, StoreId, VendorUid};
use payments_toss::{TEST_SECRET_KEY, TossConfig, TossGateway};
use poem::http::StatusCode;
use poem::web::Path;
use poem::{EndpointExt, Response, Route, get, handler, post};
use reqwest::Method;
use serde_json::{Value, json};

fn store() -> StoreId {
    StoreId::parse(STORE).unwrap()
}

fn uid(key: &str) -> VendorUid {
    VendorUid::parse(key).unwrap()
}

/// A stand-in for Toss that misbehaves as the payment key says.
#[handler]
async fn scripted(Path(key): Path<String>) -> Response {
    let json = |status: StatusCode, body: Value| {
        Response::builder().status(status).content_type("application/json").body(body.to_string())
    };
    match key.as_str() {
        "silent" => {
            std::future::pending::<()>().await;
            Response::builder().finish()
        }
        "e500" => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": "FAILED_INTERNAL_SYSTEM_PROCESSING", "message": "boom"}),
        ),
        "e502" => Response::builder().status(StatusCode::BAD_GATEWAY).body("<html>bad gateway</html>"),
        "e400" => json(StatusCode::BAD_REQUEST, json!({"code": "INVALID_REQUEST", "message": "잘못된 요청입니다."})),
        "e403" => json(StatusCode::FORBIDDEN, json!({"code": "FORBIDDEN_REQUEST", "message": "not allowed"})),
        "e429" => json(StatusCode::TOO_MANY_REQUESTS, json!({"code": "TOO_MANY_REQUESTS", "message": "slow down"})),
        "garbage" => Response::builder().status(StatusCode::OK).body("this is not JSON"),
        "not-a-payment" => json(StatusCode::OK, json!({"hello": "world"})),
        "negative" => {
            let mut payment = sample_payment();
            payment["totalAmount"] = json!(-5);
            json(StatusCode::OK, payment)
        }
        "bad-time" => {
            let mut payment = sample_payment();
            payment["approvedAt"] = json!("yesterday");
            json(StatusCode::OK, payment)
        }
        _ => json(StatusCode::NOT_FOUND, json!({"code": "NOT_FOUND_PAYMENT", "message": "no such payment"})),
    }
}

fn sample_payment() -> Value {
    json!({
        "mId": "tosspayments", "version": "2022-11-16", "paymentKey": "k", "orderId": "o", "orderName": "n",
        "transactionKey": "t",
        "method": "카드", "type": "NORMAL", "status": "DONE", "currency": "KRW",
        "totalAmount": 1000, "balanceAmount": 1000, "suppliedAmount": 909, "taxFreeAmount": 0, "vat": 91,
        "useEscrow": false, "cultureExpense": false,
        "requestedAt": "2024-01-01T10:00:00+09:00", "approvedAt": "2024-01-01T10:00:05+09:00",
        "cancels": null, "cashReceipt": null, "discount": null, "easyPay": null,
        "card": {
            "company": "신한카드", "number": "11112222****444*", "installmentPlanMonths": 0, "isInterestFree": false,
            "approveNo": "1", "useCardPoint": false, "cardType": "신용", "ownerType": "개인", "acquireStatus": "READY",
            "receiptUrl": "https://example.com/r"
        }
    })
}

async fn scripted_server() -> payments_fakekit::RunningServer {
    let app = Route::new()
        .at("/v1/payments/:key", get(scripted))
        .at("/v1/payments/:key/cancel", post(scripted))
        .at("/v1/billing/authorizations/:key", post(scripted));
    payments_fakekit::serve(app.boxed(), "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn gateway_at(url: &str, timeout: Duration) -> TossGateway {
    TossGateway::new(TossConfig::new(url).with_store(STORE, TEST_SECRET_KEY).with_timeout(timeout)).unwrap()
}

#[tokio::test]
async fn each_failure_maps_to_its_gateway_error() {
    bounded(async {
        let server = scripted_server().await;
        let gateway = gateway_at(&server.url(), Duration::from_millis(300));
        let fetch = |key: &'static str| {
            let gateway = gateway.clone();
            async move { gateway.fetch_payment(&store(), &uid(key)).await.unwrap_err() }
        };
        assert!(matches!(fetch("silent").await, GatewayError::Timeout(_)));
        // Named by the call, its status and Toss's documented code; Toss's
        // own message or page is logged, never answered.
        let failed = fetch("e500").await;
        assert!(matches!(failed, GatewayError::Unavailable(_)), "{failed:?}");
        assert_eq!(
            failed.to_string(),
            "the PG failed: Toss GET /v1/payments/e500 answered 500 FAILED_INTERNAL_SYSTEM_PROCESSING"
        );
        let page = fetch("e502").await;
        assert!(matches!(page, GatewayError::Unavailable(_)), "{page:?}");
        assert_eq!(page.to_string(), "the PG failed: Toss GET /v1/payments/e502 answered 502");
        let refused = fetch("e400").await;
        assert!(matches!(refused, GatewayError::Rejected(ref m) if m.ends_with("answered 400 INVALID_REQUEST")));
        assert!(matches!(fetch("e403").await, GatewayError::Rejected(_)));
        assert!(matches!(fetch("e429").await, GatewayError::Unavailable(_)));
        assert!(matches!(fetch("garbage").await, GatewayError::Protocol(_)));
        assert!(matches!(fetch("not-a-payment").await, GatewayError::Protocol(_)));
        assert!(matches!(fetch("negative").await, GatewayError::Protocol(ref m) if m.contains("totalAmount")));
        assert!(matches!(fetch("bad-time").await, GatewayError::Protocol(ref m) if m.contains("approvedAt")));
        let missing = fetch("missing").await;
        assert!(matches!(missing, GatewayError::NotFound(_)), "{missing:?}");
        assert_eq!(
            missing.to_string(),
            "not found at the PG: Toss GET /v1/payments/missing answered 404 NOT_FOUND_PAYMENT"
        );

        let customer = SourceId::parse("c").unwrap();
        let reservation = gateway.fetch_saved_card(&store(), &uid("not-a-payment"), &customer).await;
        assert!(matches!(reservation, Err(GatewayError::Protocol(_))), "{reservation:?}");

        // Nobody listening: a port that was just free.
        let closed_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let closed = gateway_at(&format!("http://{closed_addr}"), Duration::from_secs(2));
        let down = closed.fetch_payment(&store(), &uid("k")).await.unwrap_err();
        assert!(matches!(down, GatewayError::Unavailable(_)), "{down:?}");
    })
    .await;
}

#[tokio::test]
async fn the_fake_maps_to_not_found_unavailable_and_unknown_store() {
    bounded(async {
        let fake = Fake::current(None).await;
        let gateway = fake.gateway();
        let missing = gateway.fetch_payment(&store(), &uid("no-such-payment")).await.unwrap_err();
        assert!(matches!(missing, GatewayError::NotFound(_)), "{missing:?}");

        let other = StoreId::parse("unconfigured").unwrap();
        let unknown = gateway.fetch_payment(&other, &uid("k")).await.unwrap_err();
        assert!(matches!(unknown, GatewayError::UnknownStore { ref store, .. } if store == "unconfigured"));

        // Default credentials serve every store id not listed.
        let with_default = TossGateway::new(
            TossConfig::new(fake.url()).with_store(STORE, "test_sk_wrong").with_default(payments_toss::TEST_SECRET_KEY),
        )
        .unwrap();
        let via_default = with_default.fetch_payment(&other, &uid("no-such-payment")).await.unwrap_err();
        assert!(
            matches!(via_default, GatewayError::NotFound(_)),
            "authenticated with the default key: {via_default:?}"
        );

        let wrong_secret = TossGateway::new(TossConfig::new(fake.url()).with_store(STORE, "test_sk_wrong")).unwrap();
        let refused = wrong_secret.fetch_payment(&store(), &uid("k")).await.unwrap_err();
        assert!(matches!(refused, GatewayError::Unavailable(ref m) if m.contains("credentials")), "{refused:?}");
    })
    .await;
}

#[test]
fn a_bad_base_url_is_refused_and_secrets_stay_out_of_debug() {
    assert!(TossGateway::new(TossConfig::new("not a url")).is_err());
    assert!(TossGateway::new(TossConfig::new("mailto:a@b.c")).is_err());
    let config = TossConfig::new("http://127.0.0.1:1").with_store("s", "test_sk_very_secret");
    assert!(!format!("{config:?}").contains("very_secret"));
    let gateway = TossGateway::new(config).unwrap();
    assert!(!format!("{gateway:?}").contains("very_secret"));
    assert_eq!(TossConfig::default().timeout, Duration::from_secs(10));
}

#[tokio::test]
async fn every_v1_route_wants_the_secret() {
    bounded(async {
        let fake = Fake::current(None).await;
        let routes = [
            (Method::POST, "/v1/payments/key-in"),
            (Method::GET, "/v1/payments/k"),
            (Method::POST, "/v1/payments/k"),
            (Method::POST, "/v1/payments/confirm"),
            (Method::GET, "/v1/payments/orders/o"),
            (Method::POST, "/v1/payments/k/cancel"),
            (Method::POST, "/v1/virtual-accounts"),
            (Method::POST, "/v1/billing/authorizations/card"),
            (Method::POST, "/v1/billing/authorizations/issue"),
            (Method::POST, "/v1/billing/authorizations/b"),
            (Method::POST, "/v1/billing/b"),
            (Method::POST, "/v1/cash-receipts"),
            (Method::POST, "/v1/cash-receipts/r/cancel"),
        ];
        let wrong = payments_toss::basic_authorization("test_sk_someone_else");
        for (method, path) in routes {
            for auth in [None, Some(wrong.as_str()), Some("Bearer x"), Some("Basic !!!")] {
                let mut request = fake.http.request(method.clone(), format!("{}{path}", fake.url())).json(&json!({}));
                if let Some(auth) = auth {
                    request = request.header("Authorization", auth);
                }
                let response = request.send().await.unwrap();
                assert_eq!(response.status().as_u16(), 401, "{method} {path} with {auth:?}");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["code"], "UNAUTHORIZED_KEY");
                assert!(body["message"].is_string());
            }
        }
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_a_400_with_a_message() {
    bounded(async {
        for version in [TossApiVersion::V1_4, TossApiVersion::V2022_11_16] {
            let fake = Fake::start(version, None).await;
            let payment = fake.key_in(&order_id(), 1000, true).await;
            let key = payment["paymentKey"].as_str().unwrap().to_owned();
            let account = fake.virtual_account(&order_id(), 1000).await;
            let account_key = account["paymentKey"].as_str().unwrap().to_owned();
            let card = |patch: Value| {
                let mut body = json!({
                    "method": "card", "cardNumber": "1111222233334444", "cardExpirationYear": "28",
                    "cardExpirationMonth": "07", "amount": 1000, "orderId": "o-1",
                });
                for (k, v) in patch.as_object().unwrap() {
                    body[k] = v.clone();
                }
                body.to_string()
            };
            let billing = |patch: Value| {
                let mut body = json!({
                    "cardNumber": "1111222233334444", "cardExpirationYear": "28", "cardExpirationMonth": "07",
                    "cardPassword": "00", "customerBirthday": "880101", "customerKey": "c",
                });
                for (k, v) in patch.as_object().unwrap() {
                    body[k] = v.clone();
                }
                body.to_string()
            };
            let payment_path = format!("/v1/payments/{key}");
            let cancel_path = format!("/v1/payments/{key}/cancel");
            let account_cancel = format!("/v1/payments/{account_key}/cancel");
            let cases: Vec<(Method, String, String)> = vec![
                (Method::POST, "/v1/payments/key-in".into(), "not json".into()),
                (Method::POST, "/v1/payments/key-in".into(), String::new()),
                (Method::POST, "/v1/payments/key-in".into(), "[]".into()),
                (Method::POST, "/v1/payments/key-in".into(), "{}".into()),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"method": "cash"}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"cardNumber": "1234"}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"cardNumber": "111122223333444x"}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"cardExpirationMonth": "13"}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"cardExpirationYear": "2028"}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"amount": 0}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"amount": -1000}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"amount": "1000"}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"amount": 1e20}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"amount": 10.00001}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"amount": null}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"orderId": ""}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"orderId": 7}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"taxFreeAmount": 2000}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"customerBirthday": "881301"}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"customerEmail": "nobody"}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"__approved": "no"}))),
                (Method::POST, "/v1/payments/key-in".into(), card(json!({"vbv": {"cavv": "x"}}))),
                (Method::POST, payment_path.clone(), "{}".into()),
                (Method::POST, payment_path.clone(), json!({"orderId": "o", "amount": "1000"}).to_string()),
                (Method::POST, payment_path.clone(), json!({"orderId": "o", "amount": -1}).to_string()),
                (Method::POST, "/v1/payments/confirm".into(), json!({"orderId": "o", "amount": 1}).to_string()),
                (Method::POST, cancel_path.clone(), "{}".into()),
                (Method::POST, cancel_path.clone(), json!({"cancelReason": ""}).to_string()),
                (Method::POST, cancel_path.clone(), json!({"cancelReason": "r", "cancelAmount": 0}).to_string()),
                (Method::POST, cancel_path.clone(), json!({"cancelReason": "r", "cancelAmount": -5}).to_string()),
                (Method::POST, cancel_path.clone(), json!({"cancelReason": "r", "cancelAmount": "5"}).to_string()),
                (Method::POST, cancel_path.clone(), json!({"cancelReason": "r", "paymentKey": "other"}).to_string()),
                (
                    Method::POST,
                    cancel_path.clone(),
                    json!({"cancelReason": "r", "refundReceiveAccount": {"bank": "신한", "accountNumber": "12-34", "holderName": "h"}})
                        .to_string(),
                ),
                (
                    Method::POST,
                    account_cancel.clone(),
                    json!({"cancelReason": "r", "refundReceiveAccount": {"bank": "신한"}}).to_string(),
                ),
                (Method::POST, "/v1/virtual-accounts".into(), json!({"method": "virtual-account"}).to_string()),
                (
                    Method::POST,
                    "/v1/virtual-accounts".into(),
                    json!({"method": "card", "orderId": "o", "orderName": "n", "bank": "b", "customerName": "c", "amount": 1})
                        .to_string(),
                ),
                (
                    Method::POST,
                    "/v1/virtual-accounts".into(),
                    json!({"method": "virtual-account", "orderId": "o", "orderName": "n", "bank": "", "customerName": "c", "amount": 1})
                        .to_string(),
                ),
                (Method::POST, "/v1/billing/authorizations/card".into(), billing(json!({"customerBirthday": "88"}))),
                (Method::POST, "/v1/billing/authorizations/card".into(), billing(json!({"customerKey": ""}))),
                (Method::POST, "/v1/billing/authorizations/card".into(), billing(json!({"cardPassword": null}))),
                (Method::POST, "/v1/billing/authorizations/b".into(), "{}".into()),
                (Method::POST, "/v1/billing/authorizations/b".into(), json!({"customerKey": 1}).to_string()),
                (Method::POST, "/v1/billing/b".into(), json!({"customerKey": "c", "orderId": "o"}).to_string()),
                (
                    Method::POST,
                    "/v1/billing/b".into(),
                    json!({"method": "card", "customerKey": "c", "orderId": "o", "amount": 1}).to_string(),
                ),
                (
                    Method::POST,
                    "/v1/billing/b".into(),
                    json!({"billingKey": "other", "customerKey": "c", "orderId": "o", "amount": 1}).to_string(),
                ),
                (Method::POST, "/v1/cash-receipts".into(), json!({"type": "영수증"}).to_string()),
                (
                    Method::POST,
                    "/v1/cash-receipts".into(),
                    json!({"type": "영수증", "paymentKey": key, "orderId": payment["orderId"], "orderName": "n",
                           "registrationNumber": "010", "amount": 1})
                    .to_string(),
                ),
                (
                    Method::POST,
                    "/v1/cash-receipts".into(),
                    json!({"type": "소득공제", "paymentKey": key, "orderId": "another", "orderName": "n",
                           "registrationNumber": "010", "amount": 1})
                    .to_string(),
                ),
                (Method::POST, "/v1/cash-receipts/r/cancel".into(), json!({"amount": -1}).to_string()),
                (Method::POST, "/v1/cash-receipts/r/cancel".into(), "nope".into()),
                (Method::PUT, format!("/internal/{key}/deposit"), String::new()),
                (Method::PUT, format!("/internal/{key}/reverse-deposit"), String::new()),
                (Method::PUT, format!("/internal/{account_key}/reverse-deposit"), String::new()),
                (Method::PUT, format!("/internal/{key}/expire"), String::new()),
                (Method::PUT, format!("/internal/{account_key}/expire"), String::new()),
                (
                    Method::POST,
                    "/v1/virtual-accounts".into(),
                    json!({"method": "virtual-account", "orderId": "o", "orderName": "n", "bank": "nowhere", "customerName": "c", "amount": 1})
                        .to_string(),
                ),
                (Method::POST, "/v1/billing/authorizations/issue".into(), "{}".into()),
                (
                    Method::POST,
                    "/v1/billing/authorizations/issue".into(),
                    json!({"authKey": "", "customerKey": "c"}).to_string(),
                ),
                (Method::POST, "/internal/billing/auth".into(), "{}".into()),
                (
                    Method::POST,
                    "/internal/billing/auth".into(),
                    json!({"customerKey": "c", "cardNumber": "1234", "cardExpirationYear": "29", "cardExpirationMonth": "12"}).to_string(),
                ),
                (
                    Method::POST,
                    "/internal/billing/auth".into(),
                    json!({"customerKey": "", "cardNumber": "1111222233334444", "cardExpirationYear": "29", "cardExpirationMonth": "12"}).to_string(),
                ),
                (Method::POST, "/internal/webhook".into(), "{".into()),
                (Method::POST, "/internal/webhook".into(), json!({"eventType": 1, "data": {}}).to_string()),
                (
                    Method::POST,
                    "/internal/webhook".into(),
                    json!({"eventType": "X", "data": {"paymentKey": 1}}).to_string(),
                ),
            ];
            for (method, path, body) in cases {
                let response = fake
                    .http
                    .request(method.clone(), format!("{}{path}", fake.url()))
                    .header("Authorization", payments_toss::basic_authorization(TEST_SECRET_KEY))
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                assert_eq!(status, 400, "{method} {path} {body} -> {text}");
                let error: Value =
                    serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON error for {path}: {text}"));
                assert!(error["code"].is_string(), "{text}");
                assert!(!error["message"].as_str().unwrap_or_default().is_empty(), "{text}");
            }

            // An oversized body, an unknown route and a wrong method answer JSON too.
            let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(100_000));
            fake.refused(Method::POST, "/v1/payments/key-in", Some(serde_json::from_str(&huge).unwrap()), 400).await;
            fake.refused(Method::GET, "/v1/nothing-here", None, 404).await;
            fake.refused(Method::DELETE, &payment_path, None, 405).await;
            // Nothing was charged by all that.
            let unchanged = fake.ok("GET /v1/payments/{paymentKey}", &payment_path, None).await;
            assert_eq!(unchanged, payment);
        }
    })
    .await;
}

/// The fake's refusals, with the status Toss documents for each code
/// (tests/data/documented/SOURCES.md) and, where Toss's message is given,
/// its body.
#[tokio::test]
async fn refusals_have_the_documented_status_and_body() {
    bounded(async {
        let fake = Fake::current(None).await;
        let paid = fake.key_in(&order_id(), 1000, true).await;
        let key = paid["paymentKey"].as_str().unwrap().to_owned();
        let cancel_path = format!("/v1/payments/{key}/cancel");
        let stale = json!({"cancelReason": "r", "cancelAmount": 100, "refundableAmount": 900});
        let error = fake.refused(Method::POST, &cancel_path, Some(stale), 400).await;
        assert_eq!(error["code"], "NOT_MATCHES_REFUNDABLE_AMOUNT");
        let above = json!({"cancelReason": "r", "cancelAmount": 1001});
        let error = fake.refused(Method::POST, &cancel_path, Some(above), 403).await;
        assert_eq!(error["code"], "NOT_CANCELABLE_AMOUNT");
        fake.ok("POST /v1/payments/{paymentKey}/cancel", &cancel_path, Some(json!({"cancelReason": "r"}))).await;
        let error = fake.refused(Method::POST, &cancel_path, Some(json!({"cancelReason": "r"})), 400).await;
        assert_eq!(error, documented("v2022-11-16/error-ALREADY_CANCELED_PAYMENT.json"));

        let waiting = fake.key_in(&order_id(), 1000, false).await;
        let path = format!("/v1/payments/{}/cancel", waiting["paymentKey"].as_str().unwrap());
        let error = fake.refused(Method::POST, &path, Some(json!({"cancelReason": "r"})), 403).await;
        assert_eq!(error["code"], "NOT_CANCELABLE_PAYMENT");

        let confirm = json!({"paymentKey": paid["paymentKey"], "orderId": paid["orderId"], "amount": 1000});
        let error = fake.refused(Method::POST, "/v1/payments/confirm", Some(confirm), 400).await;
        assert_eq!(error, documented("v2022-11-16/error-ALREADY_PROCESSED_PAYMENT.json"));
        let error = fake.refused(Method::GET, "/v1/payments/nothing", None, 404).await;
        assert_eq!(error["code"], "NOT_FOUND_PAYMENT");

        let anonymous = fake.http.get(format!("{}/v1/payments/{key}", fake.url())).send().await.unwrap();
        assert_eq!(anonymous.status().as_u16(), 401);
        let error: Value = anonymous.json().await.unwrap();
        assert_eq!(error["code"], "UNAUTHORIZED_KEY");

        let long = "k".repeat(301);
        let (status, error) = fake.raw_with_key(Method::POST, &cancel_path, Some(&json!({})), Some(&long)).await;
        assert_eq!(status, 400);
        assert_eq!(error, documented("v2022-11-16/error-INVALID_IDEMPOTENCY_KEY.json"));
        // A GET ignores the header, as Toss says.
        let (status, _) = fake.raw_with_key(Method::GET, &format!("/v1/payments/{key}"), None, Some(&long)).await;
        assert_eq!(status, 200);
    })
    .await;
}

#[test]
fn the_schema_check_does_catch_a_broken_payment() {
    let swagger = Swagger::load();
    let (_, schema) = swagger.operation("GET /v1/payments/{paymentKey}");
    let errors = swagger.errors(&schema, &sample_payment());
    assert!(errors.is_empty(), "{errors:#?}");
    for (field, value) in [("totalAmount", json!("1000")), ("status", json!("PAID")), ("requestedAt", json!("soon"))] {
        let mut broken = sample_payment();
        broken[field] = value;
        assert!(!swagger.errors(&schema, &broken).is_empty(), "{field} should break the schema");
    }
    let mut missing = sample_payment();
    missing.as_object_mut().unwrap().remove("card");
    assert!(!swagger.errors(&schema, &missing).is_empty());
}
