//! The committed OpenAPI document is what the code emits, and it is complete.

use std::path::PathBuf;

use serde_json::Value;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/payments.json")
}

#[test]
fn committed_document_is_fresh() {
    let emitted = payments_http::openapi_json();
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &emitted).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == emitted,
        "openapi/payments.json differs from what the code emits; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p payments-http --test openapi` (or `payments openapi`) and commit it"
    );
}

#[test]
fn document_is_deterministic() {
    assert_eq!(payments_http::openapi_json(), payments_http::openapi_json());
}

fn document() -> Value {
    serde_json::from_str(&payments_http::openapi_json()).unwrap()
}

#[test]
fn every_operation_is_named_described_and_marked() {
    let document = document();
    let mut ids = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            ids.push(id.to_owned());
            assert!(operation["summary"].is_string(), "{id} has no summary");
            assert!(operation["description"].is_string(), "{id} has no description");
            let encrypted = operation.get("x-encrypted") == Some(&Value::Bool(true));
            let expect_encrypted =
                !matches!(id, "health" | "receiveIamportWebhook" | "receiveTossWebhook" | "receivePgWebhook");
            assert_eq!(encrypted, expect_encrypted, "{id}: x-encrypted");
            if id != "health" {
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.keys().any(|s| s.starts_with('5')), "{id} documents no 5xx");
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = &response["content"]["application/json; charset=utf-8"]["schema"]["$ref"];
                        assert_eq!(schema, "#/components/schemas/ErrorBody", "{id} {status}");
                    }
                }
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                assert!(parameter["description"].is_string(), "{id}: parameter {} undescribed", parameter["name"]);
            }
        }
    }
    ids.sort();
    let mut expected = vec![
        "cancelHistory",
        "chargeReservation",
        "createHistory",
        "createOrder",
        "createReservation",
        "getHistory",
        "getHistoryById",
        "getOrder",
        "getReservation",
        "getReservationById",
        "health",
        "listEvents",
        "performance",
        "receiveIamportWebhook",
        "receivePgWebhook",
        "receiveTossWebhook",
        "redeliverEvent",
        "removeReservation",
        "system",
    ];
    expected.sort();
    assert_eq!(ids, expected);
    // A client's key is optional on its routes (none: the legacy client), absent on the PGs'.
    assert_eq!(document["components"]["securitySchemes"]["clientKey"]["scheme"], "bearer");
    assert_eq!(document["paths"]["/payments/orders"]["post"]["security"], serde_json::json!([{}, {"clientKey": []}]));
    assert!(document["paths"]["/payments/webhooks/toss"]["post"]["security"].is_null());
    assert!(document["paths"]["/monitors/health"]["get"]["security"].is_null());
    let create = &document["paths"]["/payments/histories"]["post"];
    assert!(
        create["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header")
    );
}

/// Each operation documents exactly the statuses its error causes (and the
/// edge's own codes) map to, and its successes: the statuses are derived
/// from the one mapping (`payments_http::status_of`), never listed by hand.
/// (That the router answers no other cause is checked at run time: in a
/// debug build an undeclared cause answers INTERNAL and is logged, so every
/// end-to-end test would see it.)
#[test]
fn each_operation_documents_exactly_the_statuses_of_its_causes() {
    use payments_http::{
        CancelError, ChargeError, FeedError, MonitorError, OrderError, ReadError, RegisterError, RemoveCardError,
        SaveCardError, WebhookError, statuses_of,
    };
    let document = document();
    let operations: Vec<(&str, &[payments_wire::ErrorCode], &[u16])> = vec![
        ("createHistory", RegisterError::codes(), &[200, 201]),
        ("createOrder", OrderError::codes(), &[200, 201]),
        ("getOrder", ReadError::codes(), &[200]),
        ("listEvents", FeedError::codes(), &[200]),
        ("redeliverEvent", FeedError::codes(), &[200]),
        ("getHistory", ReadError::codes(), &[200]),
        ("getHistoryById", ReadError::codes(), &[200]),
        ("cancelHistory", CancelError::codes(), &[200, 202]),
        ("createReservation", SaveCardError::codes(), &[201]),
        ("getReservation", ReadError::codes(), &[200]),
        ("getReservationById", ReadError::codes(), &[200]),
        ("chargeReservation", ChargeError::codes(), &[201]),
        ("removeReservation", RemoveCardError::codes(), &[200]),
        ("receiveIamportWebhook", WebhookError::codes(), &[200]),
        ("receiveTossWebhook", WebhookError::codes(), &[200]),
        ("receivePgWebhook", WebhookError::codes(), &[200]),
        ("system", MonitorError::codes(), &[200]),
        ("performance", MonitorError::codes(), &[200]),
    ];
    for (id, codes, successes) in operations {
        let operation = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|path| path.as_object().unwrap().values())
            .find(|operation| operation["operationId"] == id)
            .unwrap_or_else(|| panic!("{id} is in the document"));
        let mut documented: Vec<u16> =
            operation["responses"].as_object().unwrap().keys().map(|status| status.parse().unwrap()).collect();
        documented.sort_unstable();
        let mut listed: Vec<String> = Vec::new();
        for response in operation["responses"].as_object().unwrap().values() {
            let description = response["description"].as_str().unwrap_or_default();
            if let Some((_, codes)) = description.split_once(": ") {
                listed.extend(codes.trim_end_matches('.').split(", ").map(str::to_owned));
            }
        }
        let mut unique = listed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(listed.len(), unique.len(), "{id}: a code named twice in {listed:?}");
        let mut expected = statuses_of(codes);
        expected.extend_from_slice(successes);
        expected.sort_unstable();
        assert_eq!(documented, expected, "{id}");
    }
    // What the mapping means for a reader of the document.
    let read = &document["paths"]["/payments/histories/get"]["patch"]["responses"];
    assert!(read["409"].is_null() && read["502"].is_null(), "a read neither conflicts nor calls a PG");
    let charge = &document["paths"]["/payments/reservations/{id}/charge"]["post"]["responses"];
    assert!(charge["410"]["description"].as_str().unwrap().contains("SAVED_CARD_REMOVED"));
    assert!(charge["422"]["description"].as_str().unwrap().contains("PG_REJECTED"));
}

#[test]
fn every_schema_property_is_described() {
    let document = document();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in [
        "PaymentHistory",
        "PaymentReservation",
        "CreatePaymentHistory",
        "CancelPaymentHistory",
        "ErrorBody",
        "WebhookBody",
    ] {
        assert!(schemas.contains_key(name), "schema {name} is missing");
    }
    for (name, schema) in schemas {
        assert!(schema["description"].is_string() || schema["enum"].is_array(), "schema {name} is undescribed");
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            let described = property["description"].is_string()
                || property["allOf"].as_array().is_some_and(|all| all.iter().any(|p| p["description"].is_string()));
            assert!(described, "{name}.{field} is undescribed");
        }
    }
    // Answers carry their optional fields as null, so they are required;
    // reservation_id is left out when absent, so it is not.
    let required = schemas["PaymentHistory"]["required"].as_array().unwrap();
    assert!(required.contains(&Value::from("refund")) && !required.contains(&Value::from("reservation_id")));
    assert_eq!(schemas["PaymentHistory"]["properties"]["reservation_id"]["nullable"], true);
    let price = &schemas["PaymentHistory"]["properties"]["price"];
    assert_eq!(price["type"], "number", "money is a JSON number");
}

/// Generators (openapi-typescript, openapi-generator) turn a description-only
/// `allOf` member into an anonymous type; a reference is a single `$ref`.
#[test]
fn references_carry_no_anonymous_members() {
    fn visit(value: &Value, at: &str) {
        match value {
            Value::Object(object) => {
                if let Some(members) = object.get("allOf").and_then(Value::as_array) {
                    for member in members {
                        assert!(member.get("$ref").is_some(), "{at}: allOf member without $ref: {member}");
                    }
                }
                for (key, inner) in object {
                    visit(inner, &format!("{at}/{key}"));
                }
            }
            Value::Array(items) => items.iter().enumerate().for_each(|(i, item)| visit(item, &format!("{at}/{i}"))),
            _ => {}
        }
    }
    let document = document();
    visit(&document, "");
    let source = &document["components"]["schemas"]["CreatePaymentHistory"]["properties"]["source"];
    assert_eq!(source["allOf"], serde_json::json!([{ "$ref": "#/components/schemas/Source" }]));
    assert!(source["description"].is_string());
}

/// Every encrypted operation of a client route documents its plain-JSON form
/// (a `--plain-json` client's, what generators such as openapi-python-client
/// build typed models from) beside the AES envelope, with the same schema,
/// first; the monitors answer in the envelope only.
#[test]
fn client_routes_document_plain_json_beside_the_envelope() {
    const JSON: &str = "application/json; charset=utf-8";
    const SEALED: &str = "text/plain; charset=utf-8";
    let document = document();
    let mut with_body = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for operation in operations.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            let client_route = path.starts_with("/payments/") && !path.starts_with("/payments/webhooks");
            if client_route {
                assert_eq!(operation["x-encrypted"], true, "{id}");
                assert_eq!(operation["security"], serde_json::json!([{}, {"clientKey": []}]), "{id}");
            }
            let mut forms = Vec::new();
            if let Some(body) = operation.get("requestBody") {
                forms.push(("request", &body["content"]));
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.starts_with('2') {
                    forms.push(("answer", &response["content"]));
                }
            }
            for (what, content) in forms {
                let Some(sealed) = content.get(SEALED) else { continue };
                if client_route {
                    assert_eq!(content[JSON]["schema"], sealed["schema"], "{id}: the {what}'s JSON form");
                    let types: Vec<&String> = content.as_object().unwrap().keys().collect();
                    assert_eq!(types, [JSON, SEALED], "{id}: the {what}'s JSON form first");
                    with_body += usize::from(what == "request");
                } else {
                    assert!(content.get(JSON).is_none(), "{id}: answers in the envelope only");
                }
            }
        }
    }
    assert_eq!(with_body, 11, "the client routes with a body");
    let create = &document["paths"]["/payments/histories"]["post"]["requestBody"];
    assert!(create["description"].as_str().unwrap().contains("--plain-json"));
}
