//! Every operation of the reference Iamport swagger, exercised against the
//! fake over HTTP with SDK-shaped requests: each request body is checked
//! against the operation's request schema, each answer against its response
//! schema and success status. The schemas are loaded from
//! `shared/reference/iamport.swagger.json` (or `$IAMPORT_SWAGGER`).
//!
//! The amount preparation (`/payments/prepare`), absent from that swagger,
//! is checked against the PortOne V1 document's operations as extracted in
//! `tests/data/documented/v1-prepare.json`.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use payments_iamport::fake::{FakeIamportConfig, TEST_IMP_KEY, TEST_IMP_SECRET};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Answer, Fake, fake};

fn swagger_path() -> PathBuf {
    if let Some(path) = std::env::var_os("IAMPORT_SWAGGER") {
        return PathBuf::from(path);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("shared/reference/iamport.swagger.json"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("no shared/reference/iamport.swagger.json above {}", manifest.display()))
}

/// The reference swagger (the original SDK's) writes an answer's
/// `card_number` as a whole number (`0000-0000-0000-0000`); Iamport answers
/// it masked (`536512******1234`: PortOne V1's documented payment, in
/// tests/data/documented), and so does the fake. Request schemas keep theirs.
fn masked_card_numbers(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let properties = object.get("properties");
            let answer_schema = properties.is_some_and(|p| p.get("card_number").is_some())
                && properties.is_none_or(|p| p.get("expiry").is_none());
            if answer_schema
                && let Some(card) = object
                    .get_mut("properties")
                    .and_then(|p| p.get_mut("card_number"))
                    .and_then(Value::as_object_mut)
                    .filter(|c| c.contains_key("pattern"))
            {
                card.insert("pattern".into(), json!("^[0-9*]{13,19}$"));
            }
            object.values_mut().for_each(masked_card_numbers);
        }
        Value::Array(items) => items.iter_mut().for_each(masked_card_numbers),
        _ => {}
    }
}

struct Spec {
    doc: Value,
    covered: BTreeSet<(String, String)>,
}

impl Spec {
    fn load() -> Self {
        let text = std::fs::read_to_string(swagger_path()).expect("read the swagger");
        let mut doc = serde_json::from_str(&text).expect("the swagger is JSON");
        masked_card_numbers(&mut doc);
        Self { doc, covered: BTreeSet::new() }
    }

    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut all = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                all.insert((method.clone(), path.clone()));
            }
        }
        all
    }

    fn operation(&self, method: &str, path: &str) -> &Value {
        let operation = &self.doc["paths"][path][method];
        assert!(operation.is_object(), "the swagger has no {method} {path}");
        operation
    }

    fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let document = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let validator =
            jsonschema::options().should_validate_formats(true).build(&document).expect("a valid schema document");
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect()
    }

    fn validate(&self, schema: &Value, instance: &Value, what: &str) {
        let errors = self.errors(schema, instance);
        assert!(errors.is_empty(), "{what} does not match its schema:\n{}\n{instance:#}", errors.join("\n"));
    }

    fn check_request(&self, method: &str, path: &str, body: &Value) {
        let schema = &self.operation(method, path)["requestBody"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {path} takes no JSON body");
        self.validate(schema, body, &format!("the request of {method} {path}"));
    }

    /// Checks the answer is the operation's declared success, with its schema.
    fn check_response(&mut self, method: &str, path: &str, answer: &Answer) {
        let responses = self.operation(method, path)["responses"].as_object().expect("responses").clone();
        let (status, response) = responses.iter().next().expect("one success response");
        assert_eq!(answer.status.to_string(), *status, "{method} {path}: {}", answer.body);
        match response["content"]["application/json"]["schema"].as_object() {
            Some(schema) => {
                assert_eq!(answer.body["code"], json!(0), "{method} {path}: {}", answer.body);
                self.validate(&Value::Object(schema.clone()), &answer.body, &format!("the answer of {method} {path}"));
            }
            None => assert_eq!(answer.body, Value::Null, "{method} {path} answers no body"),
        }
        self.covered.insert((method.to_owned(), path.to_owned()));
    }

    /// Sends `body` (checked against the request schema) and checks the answer.
    async fn exercise(
        &mut self,
        fake: &Fake,
        token: Option<&str>,
        (method, template): (&str, &str),
        path: &str,
        body: Option<Value>,
    ) -> Value {
        if let Some(body) = &body {
            self.check_request(method, template, body);
        }
        let http = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let answer = fake.raw(http, path, token, body.map(|b| b.to_string().into_bytes())).await;
        self.check_response(method, template, &answer);
        answer.body["response"].clone()
    }
}

/// Error answers carry the same envelope with `response: null`.
fn check_error(answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{}", answer.body);
    let body = &answer.body;
    assert!(body["code"].as_i64().is_some_and(|c| c != 0), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body["response"], Value::Null, "{body}");
}

#[tokio::test]
async fn every_operation_answers_as_its_swagger_schema_says() {
    let mut spec = Spec::load();
    let fake = fake(FakeIamportConfig::default()).await;

    let user = spec
        .exercise(
            &fake,
            None,
            ("post", "/users/getToken"),
            "/users/getToken",
            Some(json!({"imp_key": TEST_IMP_KEY, "imp_secret": TEST_IMP_SECRET})),
        )
        .await;
    let token = user["access_token"].as_str().expect("a token").to_owned();
    let bearer = format!("Bearer {token}");
    let raw = Some(token.as_str());
    let auth = Some(bearer.as_str());

    // Saved cards.
    let customer = "customer-schema";
    let customer_path = format!("/subscribe/customers/{customer}");
    let card = ("post", "/subscribe/customers/{customer_uid}");
    let body = json!({"card_number": "1234-5678-8765-4321", "expiry": "2031-07", "birth": "880412",
        "pwd_2digit": "00", "customer_name": "Kim", "customer_email": "kim@example.com", "customer_uid": customer});
    spec.exercise(&fake, raw, card, &customer_path, Some(body)).await;
    let read = spec.exercise(&fake, auth, ("get", "/subscribe/customers/{customer_uid}"), &customer_path, None).await;
    assert_eq!(read["customer_uid"], customer);

    // Card payments: once with a card, again with the saved one.
    let onetime = json!({"card_number": "1234-5678-8765-4321", "expiry": "2031-07", "birth": "880412",
        "name": "order", "merchant_uid": "m-onetime", "amount": 30000, "currency": "KRW",
        "buyer_email": "buyer@example.com", "customer_uid": "customer-onetime"});
    let first = spec
        .exercise(&fake, raw, ("post", "/subscribe/payments/onetime"), "/subscribe/payments/onetime", Some(onetime))
        .await;
    assert_eq!(first["status"], "paid");
    let again = json!({"customer_uid": customer, "merchant_uid": "m-again", "amount": 12000, "name": "again"});
    let second = spec
        .exercise(&fake, raw, ("post", "/subscribe/payments/again"), "/subscribe/payments/again", Some(again))
        .await;
    let card_uid = second["imp_uid"].as_str().expect("imp_uid").to_owned();

    let payment = ("get", "/payments/{imp_uid}");
    spec.exercise(&fake, auth, payment, &format!("/payments/{card_uid}"), None).await;
    spec.exercise(&fake, auth, payment, &format!("/payments/{card_uid}?extension=true"), None).await;
    let cancel = json!({"imp_uid": card_uid, "merchant_uid": "m-again", "amount": 2000, "checksum": 12000,
        "reason": "partial"});
    let cancelled = spec.exercise(&fake, raw, ("post", "/payments/cancel"), "/payments/cancel", Some(cancel)).await;
    assert_eq!(cancelled["cancel_amount"], json!(2000));

    // Virtual account: issue, edit, read, deposit, refund.
    let vbank = json!({"merchant_uid": "m-vbank", "amount": 45000, "vbank_code": "088",
        "vbank_due": 1_900_000_000.25, "vbank_holder": "Holder", "name": "vbank"});
    let issued = spec.exercise(&fake, raw, ("post", "/vbanks"), "/vbanks", Some(vbank)).await;
    let vbank_uid = issued["imp_uid"].as_str().expect("imp_uid").to_owned();
    let edit = json!({"imp_uid": vbank_uid, "amount": 40000, "vbank_due": 1_900_000_100});
    let edited = spec.exercise(&fake, raw, ("put", "/vbanks"), "/vbanks", Some(edit)).await;
    assert_eq!(edited["amount"], json!(40000));
    let ready = spec.exercise(&fake, raw, payment, &format!("/payments/{vbank_uid}"), None).await;
    assert_eq!(ready["status"], "ready");
    let deposit = ("put", "/internal/deposit/{imp_uid}");
    spec.exercise(&fake, raw, deposit, &format!("/internal/deposit/{vbank_uid}"), None).await;
    let refund = json!({"imp_uid": vbank_uid, "merchant_uid": "m-vbank", "checksum": 40000, "reason": "refund",
        "refund_holder": "Holder", "refund_bank": "088", "refund_account": "110123456789", "refund_tel": "01012345678"});
    let refunded = spec.exercise(&fake, raw, ("post", "/payments/cancel"), "/payments/cancel", Some(refund)).await;
    assert_eq!(refunded["status"], "cancelled");

    // Cash receipts of the card payment.
    let receipt_path = format!("/receipts/{card_uid}");
    let receipt = json!({"imp_uid": card_uid, "identifier": "01012345678", "identifier_type": "phone",
        "type": "person"});
    let issued = spec.exercise(&fake, raw, ("post", "/receipts/{imp_uid}"), &receipt_path, Some(receipt)).await;
    assert_eq!(issued["amount"], json!(10000));
    spec.exercise(&fake, raw, ("get", "/receipts/{imp_uid}"), &receipt_path, None).await;
    let voided = spec.exercise(&fake, raw, ("delete", "/receipts/{imp_uid}"), &receipt_path, None).await;
    assert_ne!(voided["cancelled_at"], json!(0));

    // Certification by OTP.
    let request = json!({"name": "Kim", "phone": "010-1234-5678", "birth": "19880412", "gender_digit": "1",
        "carrier": "SKT", "merchant_uid": "m-cert"});
    let otp_request = ("post", "/certifications/otp/request");
    let accessor = spec.exercise(&fake, raw, otp_request, "/certifications/otp/request", Some(request)).await;
    let cert_uid = accessor["imp_uid"].as_str().expect("imp_uid").to_owned();
    let cert_path = format!("/certifications/{cert_uid}");
    let pending = spec.exercise(&fake, raw, ("get", "/certifications/{imp_uid}"), &cert_path, None).await;
    assert_eq!(pending["certified"], false);
    let otp = pending["__otp"].as_str().expect("the fake tells the OTP").to_owned();
    let confirm = ("post", "/certifications/otp/confirm/{imp_uid}");
    let confirm_path = format!("/certifications/otp/confirm/{cert_uid}");
    let certified = spec.exercise(&fake, raw, confirm, &confirm_path, Some(json!({"otp": otp}))).await;
    assert_eq!(certified["certified"], true);
    spec.exercise(&fake, raw, ("delete", "/certifications/{imp_uid}"), &cert_path, None).await;

    // The webhook sink, and dropping the saved card.
    let hook = json!({"imp_uid": card_uid, "merchant_uid": "m-again", "status": "cancelled"});
    spec.exercise(&fake, None, ("post", "/internal/webhook"), "/internal/webhook", Some(hook)).await;
    spec.exercise(&fake, raw, ("delete", "/subscribe/customers/{customer_uid}"), &customer_path, None).await;

    let missing: Vec<_> = spec.operations().difference(&spec.covered).cloned().collect();
    assert!(missing.is_empty(), "operations not exercised: {missing:?}");

    // Errors keep the envelope.
    check_error(&fake.raw(Method::GET, &customer_path, raw, None).await, 404);
    check_error(&fake.raw(Method::GET, &format!("/payments/{card_uid}"), None, None).await, 401);
    check_error(&fake.raw(Method::GET, &format!("/payments/{card_uid}"), Some("Bearer nope"), None).await, 401);
    let over = json!({"imp_uid": card_uid, "amount": 999_999}).to_string().into_bytes();
    check_error(&fake.raw(Method::POST, "/payments/cancel", raw, Some(over)).await, 200);
    check_error(&fake.raw(Method::POST, "/vbanks", raw, Some(b"{".to_vec())).await, 400);
}

#[tokio::test]
async fn the_schema_check_catches_a_mismatch() {
    let spec = Spec::load();
    let fake = fake(FakeIamportConfig::default()).await;
    let mut payment = fake.card_payment(1000).await;
    let schema = json!({"$ref": "#/components/schemas/IIamportResponseIIamportPayment"});
    assert!(spec.errors(&schema, &json!({"code": 0, "message": "success", "response": payment})).is_empty());
    payment["amount"] = json!("1000");
    assert!(!spec.errors(&schema, &json!({"code": 0, "message": "success", "response": payment})).is_empty());
    payment["amount"] = json!(1000);
    payment.as_object_mut().unwrap().remove("cancel_history");
    assert!(!spec.errors(&schema, &json!({"code": 0, "message": "success", "response": payment})).is_empty());
    assert!(!spec.errors(&schema, &json!({"code": 0, "message": "success"})).is_empty());
}

/// The V1 document's amount-preparation operations, as extracted in
/// `tests/data/documented/v1-prepare.json` (see SOURCES.md there).
struct Prepare(Value);

impl Prepare {
    fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/documented/v1-prepare.json");
        Self(serde_json::from_str(&std::fs::read_to_string(path).expect("read v1-prepare.json")).expect("JSON"))
    }

    fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let document = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "definitions": self.0["definitions"],
            "allOf": [schema],
        });
        let validator = jsonschema::options().build(&document).expect("a valid schema document");
        validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path)).collect()
    }

    fn operation(&self, operation: &str) -> &Value {
        let found = &self.0["operations"][operation];
        assert!(found.is_object(), "no operation {operation}");
        found
    }

    /// Fails unless `body` is the operation's request.
    fn check_request(&self, operation: &str, body: &Value) {
        let errors = self.errors(&self.operation(operation)["request"], body);
        assert!(errors.is_empty(), "not a request of {operation}:\n{}\n{body:#}", errors.join("\n"));
    }

    /// Fails unless the answer's status is one the operation documents and,
    /// where it documents a schema, the body is one.
    fn check_answer(&self, operation: &str, answer: &Answer) {
        let documented = &self.operation(operation)["responses"][answer.status.to_string()];
        let listed =
            self.operation(operation)["responses"].as_object().unwrap().contains_key(&answer.status.to_string());
        assert!(listed, "{operation} documents no {}: {}", answer.status, answer.body);
        if documented.is_object() {
            let errors = self.errors(documented, &answer.body);
            assert!(errors.is_empty(), "not the answer of {operation}:\n{}\n{:#}", errors.join("\n"), answer.body);
        }
    }
}

/// `POST`/`PUT /payments/prepare` and `GET /payments/prepare/{merchant_uid}`:
/// the client's bodies are the documented requests (and hold only
/// `merchant_uid`, `amount` and `currency`); the fake answers only the
/// documented statuses, its successes the documented `PaymentPrepareResponse`,
/// its refusals the envelope with `code` != 0.
#[tokio::test]
async fn the_prepare_operations_are_what_the_v1_document_declares() {
    use payments_application::ports::{OrderLockRequest, PaymentGateway};
    use poem::web::{Data, Json, Path};
    use poem::{EndpointExt, Response, Route, get, handler, post};
    use std::sync::{Arc, Mutex};

    let prepare = Prepare::load();
    type Sent = Arc<Mutex<Vec<(String, Value)>>>;
    fn envelope(code: i64, response: Value) -> Response {
        let body =
            json!({"code": code, "message": if code == 0 { "success" } else { "refused" }, "response": response});
        Response::builder().content_type("application/json").body(body.to_string())
    }
    #[handler]
    fn issue_token() -> Response {
        envelope(0, json!({"access_token": "t", "now": 1_700_000_000, "expired_at": 1_700_003_600}))
    }
    // Prepared already with another amount: refused, read, then moved.
    #[handler]
    fn register(request: &poem::Request, Json(body): Json<Value>, sent: Data<&Sent>) -> Response {
        sent.lock().unwrap().push((request.method().to_string(), body.clone()));
        if request.method() == poem::http::Method::POST { envelope(1, Value::Null) } else { envelope(0, body) }
    }
    #[handler]
    fn held(Path(merchant_uid): Path<String>) -> Response {
        envelope(0, json!({"merchant_uid": merchant_uid, "amount": 900, "currency": "KRW"}))
    }
    let sent: Sent = Arc::default();
    let routes = Route::new()
        .at("/users/getToken", post(issue_token))
        .at("/payments/prepare", post(register).put(register))
        .at("/payments/prepare/:merchant_uid", get(held))
        .data(sent.clone());
    let recorder = payments_fakekit::serve(routes, support::local()).await.unwrap();
    let request = OrderLockRequest {
        order_id: payments_domain::OrderId::parse("order-sent").unwrap(),
        amount: "1000".parse().unwrap(),
        currency: payments_domain::Currency::krw(),
    };
    let store = payments_domain::StoreId::parse(support::STORE).unwrap();
    support::gateway_for(&recorder.url()).lock_order(&store, &request).await.unwrap();
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.iter().map(|(method, _)| method.as_str()).collect::<Vec<_>>(), ["POST", "PUT"]);
    for (method, body) in &sent {
        prepare.check_request(&format!("{} /payments/prepare", method.to_lowercase()), body);
        assert_eq!(*body, json!({"merchant_uid": "order-sent", "amount": 1000, "currency": "KRW"}));
    }
    assert!(!prepare.errors(&prepare.operation("post /payments/prepare")["request"], &json!({"amount": 1})).is_empty());
    let long = json!({"merchant_uid": "m".repeat(41), "amount": 1});
    assert!(!prepare.errors(&prepare.operation("post /payments/prepare")["request"], &long).is_empty());
    recorder.stop().await.unwrap();

    let fake = fake(FakeIamportConfig::default()).await;
    let token = fake.token().await;
    let call = |method: Method, path: &str, body: Option<Value>| {
        let token = token.clone();
        let path = path.to_owned();
        let fake = &fake;
        async move { fake.raw(method, &path, Some(&token), body.map(|b| b.to_string().into_bytes())).await }
    };
    let body = json!({"merchant_uid": "m-prepare", "amount": 14.2, "currency": "USD"});
    prepare.check_request("post /payments/prepare", &body);
    let registered = call(Method::POST, "/payments/prepare", Some(body.clone())).await;
    prepare.check_answer("post /payments/prepare", &registered);
    assert_eq!((registered.status, &registered.body["code"], &registered.body["response"]), (200, &json!(0), &body));
    let read = call(Method::GET, "/payments/prepare/m-prepare", None).await;
    prepare.check_answer("get /payments/prepare/{merchant_uid}", &read);
    assert_eq!(read.body["response"], body);
    let changed = json!({"merchant_uid": "m-prepare", "amount": 15, "currency": "USD"});
    let moved = call(Method::PUT, "/payments/prepare", Some(changed.clone())).await;
    prepare.check_answer("put /payments/prepare", &moved);
    assert_eq!(moved.body["response"], changed);

    // Refusals: the documented statuses, with the envelope (`code` != 0).
    let again = call(Method::POST, "/payments/prepare", Some(body)).await;
    prepare.check_answer("post /payments/prepare", &again);
    check_error(&again, 200);
    let unknown = json!({"merchant_uid": "m-never", "amount": 1});
    let missing = call(Method::PUT, "/payments/prepare", Some(unknown)).await;
    prepare.check_answer("put /payments/prepare", &missing);
    check_error(&missing, 404);
    let none = call(Method::GET, "/payments/prepare/m-never", None).await;
    prepare.check_answer("get /payments/prepare/{merchant_uid}", &none);
    check_error(&none, 200);
    for (method, operation, path) in [
        (Method::POST, "post /payments/prepare", "/payments/prepare"),
        (Method::PUT, "put /payments/prepare", "/payments/prepare"),
        (Method::GET, "get /payments/prepare/{merchant_uid}", "/payments/prepare/m-prepare"),
    ] {
        let body =
            (method != Method::GET).then(|| json!({"merchant_uid": "m-prepare", "amount": 1}).to_string().into_bytes());
        let unauthorized = fake.raw(method, path, None, body).await;
        prepare.check_answer(operation, &unauthorized);
        check_error(&unauthorized, 401);
    }
}
