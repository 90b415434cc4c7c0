//! The fake PortOne's answers against the V2 OpenAPI document's schemas
//! (`tests/data/v2-schemas.json`, see `SOURCES.md`): every status a payment
//! goes through, cancellations (succeeded, requested and failed ones, and
//! the payments holding them), billing keys, pre-registrations (the client's
//! body and the fake's answers), and the documented errors with the status
//! each error schema declares.

use serde_json::{Value, json};

use payments_portone::fake::{FakePortOneConfig, TEST_API_SECRET};

struct Schemas(Value);

impl Schemas {
    fn load() -> Self {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v2-schemas.json")).unwrap();
        Self(serde_json::from_str(&text).unwrap())
    }

    /// Why `instance` is not a `name` (nothing when it is).
    fn errors(&self, name: &str, instance: &Value) -> Vec<String> {
        let document = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.0["components"],
            "$ref": format!("#/components/schemas/{name}"),
        });
        let validator = jsonschema::options().should_validate_formats(true).build(&document).expect("a schema");
        validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path)).collect()
    }

    /// Fails unless `instance` is a `name`.
    fn check(&self, name: &str, instance: &Value) {
        let errors = self.errors(name, instance);
        assert!(errors.is_empty(), "not a {name}:\n{}\n{instance:#}", errors.join("\n"));
    }

    /// The status the error schema of `kind` declares.
    fn status_of(&self, kind: &str) -> u64 {
        let schemas = self.0["components"]["schemas"].as_object().unwrap();
        schemas
            .values()
            .find(|s| s["properties"]["type"]["const"] == kind && s.get("x-portone-status-code").is_some())
            .and_then(|s| s["x-portone-status-code"].as_u64())
            .unwrap_or_else(|| panic!("no error schema of type {kind}"))
    }
}

struct Fake {
    server: payments_fakekit::RunningServer,
    http: reqwest::Client,
}

impl Fake {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server.url()))
            .header("Authorization", format!("PortOne {TEST_API_SECRET}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn every_answer_of_the_fake_is_what_the_v2_document_declares() {
    let schemas = Schemas::load();
    let server =
        payments_portone::fake::start(FakePortOneConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let fake = Fake { server, http: reqwest::Client::new() };
    use reqwest::Method;

    // A card payment: PAID, PARTIAL_CANCELLED, CANCELLED.
    fake.call(Method::POST, "/internal/payments/card-1", Some(json!({"amount": 10000, "customerId": "c-1"}))).await;
    let (status, paid) = fake.call(Method::GET, "/payments/card-1", None).await;
    assert_eq!(status, 200);
    schemas.check("Payment", &paid);
    // The check sees what the document requires.
    for member in ["origin", "paidAt", "channel"] {
        let mut broken = paid.clone();
        broken.as_object_mut().unwrap().remove(member);
        assert!(!schemas.errors("Payment", &broken).is_empty(), "a PAID payment without {member}");
    }
    let mut unknown_method = paid.clone();
    unknown_method["method"]["type"] = json!("PaymentMethodCardish");
    assert!(!schemas.errors("Payment", &unknown_method).is_empty());
    let (status, cancel) =
        fake.call(Method::POST, "/payments/card-1/cancel", Some(json!({"amount": 4000, "reason": "r"}))).await;
    assert_eq!(status, 200, "{cancel}");
    schemas.check("CancelPaymentResponse", &cancel);
    schemas.check("Payment", &fake.call(Method::GET, "/payments/card-1", None).await.1);
    fake.call(Method::POST, "/payments/card-1/cancel", Some(json!({"reason": "the rest"}))).await;
    let (_, cancelled) = fake.call(Method::GET, "/payments/card-1", None).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    schemas.check("Payment", &cancelled);

    // A virtual account: VIRTUAL_ACCOUNT_ISSUED, then PAID.
    let body = json!({"method": "virtualAccount", "amount": 7000});
    fake.call(Method::POST, "/internal/payments/va-1", Some(body)).await;
    schemas.check("Payment", &fake.call(Method::GET, "/payments/va-1", None).await.1);
    fake.call(Method::POST, "/internal/payments/va-1/deposit", Some(json!({}))).await;
    schemas.check("Payment", &fake.call(Method::GET, "/payments/va-1", None).await.1);

    // A billing key: issued, charged, deleted.
    let (_, info) = fake.call(Method::POST, "/internal/billing-keys", Some(json!({"customerId": "c-1"}))).await;
    let key = info["billingKey"].as_str().unwrap().to_owned();
    schemas.check("BillingKeyInfo", &fake.call(Method::GET, &format!("/billing-keys/{key}"), None).await.1);
    let charge = json!({"billingKey": key, "orderName": "box", "amount": {"total": 8900}, "currency": "KRW"});
    let (status, charged) = fake.call(Method::POST, "/payments/charge-1/billing-key", Some(charge)).await;
    assert_eq!(status, 200, "{charged}");
    schemas.check("PayWithBillingKeyResponse", &charged);
    schemas.check("Payment", &fake.call(Method::GET, "/payments/charge-1", None).await.1);
    let (status, deleted) = fake.call(Method::DELETE, &format!("/billing-keys/{key}"), None).await;
    assert_eq!(status, 200);
    schemas.check("DeleteBillingKeyResponse", &deleted);
    schemas.check("BillingKeyInfo", &fake.call(Method::GET, &format!("/billing-keys/{key}"), None).await.1);

    // The documented errors, each with the status its schema declares.
    let errors = [
        (Method::GET, "/payments/none".to_owned(), None, "GetPaymentError"),
        (Method::POST, "/payments/none/cancel".to_owned(), Some(json!({"reason": "r"})), "CancelPaymentError"),
        (Method::POST, "/payments/card-1/cancel".to_owned(), Some(json!({"reason": "r"})), "CancelPaymentError"),
        (
            Method::POST,
            "/payments/va-1/cancel".to_owned(),
            Some(json!({"reason": "r", "amount": 99999})),
            "CancelPaymentError",
        ),
        (
            Method::POST,
            "/payments/va-1/cancel".to_owned(),
            Some(json!({"reason": "r", "amount": 1, "currentCancellableAmount": 1})),
            "CancelPaymentError",
        ),
        (Method::POST, "/payments/x/cancel".to_owned(), Some(json!({"amount": 1})), "CancelPaymentError"),
        (Method::GET, "/billing-keys/none".to_owned(), None, "GetBillingKeyInfoError"),
        (Method::DELETE, format!("/billing-keys/{key}"), None, "DeleteBillingKeyError"),
        (
            Method::POST,
            "/payments/charge-2/billing-key".to_owned(),
            Some(json!({"billingKey": key, "orderName": "box", "amount": {"total": 1}, "currency": "KRW"})),
            "PayWithBillingKeyError",
        ),
    ];
    for (method, path, body, union) in errors {
        let (status, error) = fake.call(method.clone(), &path, body).await;
        schemas.check(union, &error);
        let kind = error["type"].as_str().unwrap();
        assert_eq!(u64::from(status), schemas.status_of(kind), "{method} {path}: {error}");
    }
    let unauthorized = fake.http.get(format!("{}/payments/card-1", fake.server.url())).send().await.unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    schemas.check("GetPaymentError", &unauthorized.json().await.unwrap());
    fake.server.stop().await.unwrap();
}

#[tokio::test]
async fn requested_and_failed_cancellations_and_the_payments_holding_them_are_what_the_v2_document_declares() {
    let schemas = Schemas::load();
    let server =
        payments_portone::fake::start(FakePortOneConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let fake = Fake { server, http: reqwest::Client::new() };
    use reqwest::Method;
    let behave =
        |next: &'static str| (Method::POST, "/internal/payments/card-2/cancel-behaviour", json!({"next": next}));

    fake.call(Method::POST, "/internal/payments/card-2", Some(json!({"amount": 10000}))).await;
    let (method, path, body) = behave("requested");
    assert_eq!(fake.call(method, path, Some(body)).await.0, 200);
    let (status, requested) =
        fake.call(Method::POST, "/payments/card-2/cancel", Some(json!({"amount": 4000, "reason": "r"}))).await;
    assert_eq!((status, requested["cancellation"]["status"].as_str()), (200, Some("REQUESTED")), "{requested}");
    schemas.check("CancelPaymentResponse", &requested);
    schemas.check("RequestedPaymentCancellation", &requested["cancellation"]);
    assert!(
        !schemas.errors("FailedPaymentCancellation", &requested["cancellation"]).is_empty(),
        "told apart by status"
    );
    // A PAID payment holding a requested cancellation (`PaidPayment.cancellations`).
    let (_, paid) = fake.call(Method::GET, "/payments/card-2", None).await;
    assert_eq!(paid["status"], "PAID");
    schemas.check("Payment", &paid);

    let (method, path, body) = behave("failed");
    assert_eq!(fake.call(method, path, Some(body)).await.0, 200);
    let (status, failed) =
        fake.call(Method::POST, "/payments/card-2/cancel", Some(json!({"amount": 1000, "reason": "r"}))).await;
    assert_eq!((status, failed["cancellation"]["status"].as_str()), (200, Some("FAILED")), "{failed}");
    schemas.check("CancelPaymentResponse", &failed);
    schemas.check("FailedPaymentCancellation", &failed["cancellation"]);
    schemas.check("Payment", &fake.call(Method::GET, "/payments/card-2", None).await.1);

    // The requested one succeeds: PARTIAL_CANCELLED, holding a SUCCEEDED and a FAILED one.
    let id = requested["cancellation"]["id"].as_str().unwrap();
    let path = format!("/internal/payments/card-2/cancellations/{id}");
    let (status, partial) = fake.call(Method::POST, &path, Some(json!({"outcome": "succeeded"}))).await;
    assert_eq!((status, partial["status"].as_str()), (200, Some("PARTIAL_CANCELLED")), "{partial}");
    schemas.check("Payment", &partial);
    schemas.check("SucceededPaymentCancellation", &partial["cancellations"][0]);
    assert_eq!(partial, fake.call(Method::GET, "/payments/card-2", None).await.1);
    fake.server.stop().await.unwrap();
}

/// `POST /payments/{paymentId}/pre-register`: the body the client sends is a
/// `PreRegisterPaymentBody` (and holds only `storeId`, `totalAmount` and
/// `currency`); the fake answers a `PreRegisterPaymentResponse`, and each
/// documented `PreRegisterPaymentError` with the status its schema declares.
#[tokio::test]
async fn pre_registrations_are_what_the_v2_document_declares() {
    use std::sync::{Arc, Mutex};

    use payments_application::ports::{OrderLockRequest, PaymentGateway};
    use payments_portone::{PortOneConfig, PortOneGateway, PortOneStore};
    use poem::web::Data;
    use poem::{EndpointExt, Route, handler, post};
    use reqwest::Method;

    let schemas = Schemas::load();
    type Sent = Arc<Mutex<Vec<Value>>>;
    #[handler]
    fn recorded(body: Vec<u8>, sent: Data<&Sent>) -> poem::Response {
        sent.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        poem::Response::builder().content_type("application/json").body("{}")
    }
    let sent: Sent = Arc::default();
    let route = Route::new().at("/payments/:id/pre-register", post(recorded)).data(sent.clone());
    let recorder = payments_fakekit::serve(route, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let store = PortOneStore::new(TEST_API_SECRET).with_store_id(payments_portone::TEST_STORE_ID);
    let gateway = PortOneGateway::new(PortOneConfig {
        stores: payments_pg::Stores::default().with_default(store),
        ..PortOneConfig::new(recorder.url())
    })
    .unwrap();
    let request = OrderLockRequest {
        order_id: payments_domain::OrderId::parse("order-sent").unwrap(),
        amount: "10.50".parse().unwrap(),
        currency: payments_domain::Currency::parse("USD").unwrap(),
    };
    gateway.lock_order(&payments_domain::StoreId::parse("shop").unwrap(), &request).await.unwrap();
    let body = sent.lock().unwrap().pop().expect("a pre-register call");
    schemas.check("PreRegisterPaymentBody", &body);
    assert_eq!(body, json!({"storeId": payments_portone::TEST_STORE_ID, "totalAmount": 1050, "currency": "USD"}));
    assert!(!schemas.errors("PreRegisterPaymentBody", &json!({"totalAmount": "1050"})).is_empty());
    assert!(!schemas.errors("PreRegisterPaymentBody", &json!({"currency": "usd"})).is_empty());

    let server =
        payments_portone::fake::start(FakePortOneConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let fake = Fake { server, http: reqwest::Client::new() };
    let (status, registered) = fake
        .call(Method::POST, "/payments/pre-1/pre-register", Some(json!({"totalAmount": 1000, "currency": "KRW"})))
        .await;
    assert_eq!(status, 200, "{registered}");
    schemas.check("PreRegisterPaymentResponse", &registered);
    fake.call(Method::POST, "/internal/payments/pre-1", Some(json!({"amount": 1000}))).await;
    let other_store = json!({"storeId": "store-other", "totalAmount": 1000});
    let errors = [
        ("/payments/pre-1/pre-register", json!({"totalAmount": 1000}), "ALREADY_PAID"),
        ("/payments/pre-2/pre-register", json!({"totalAmount": "1000"}), "INVALID_REQUEST"),
        ("/payments/pre-2/pre-register", other_store, "FORBIDDEN"),
    ];
    for (path, body, kind) in errors {
        let (status, error) = fake.call(Method::POST, path, Some(body)).await;
        schemas.check("PreRegisterPaymentError", &error);
        assert_eq!(error["type"], kind, "{path}: {error}");
        assert_eq!(u64::from(status), schemas.status_of(kind), "{path}: {error}");
    }
    let unauthorized = fake
        .http
        .post(format!("{}/payments/pre-2/pre-register", fake.server.url()))
        .json(&json!({"totalAmount": 1000}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    let error: Value = unauthorized.json().await.unwrap();
    schemas.check("PreRegisterPaymentError", &error);
    assert_eq!(error["type"], "UNAUTHORIZED");
    fake.server.stop().await.unwrap();
    recorder.stop().await.unwrap();
}
