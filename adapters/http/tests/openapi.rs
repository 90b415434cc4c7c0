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
        "createReservation",
        "getHistory",
        "getHistoryById",
        "getReservation",
        "getReservationById",
        "health",
        "performance",
        "receiveIamportWebhook",
        "receivePgWebhook",
        "receiveTossWebhook",
        "removeReservation",
        "system",
    ];
    expected.sort();
    assert_eq!(ids, expected);
    let create = &document["paths"]["/payments/histories"]["post"];
    assert!(create["responses"]["201"].is_object());
    for status in ["400", "403", "404", "409", "413", "422", "502", "503", "504"] {
        assert!(create["responses"][status].is_object(), "createHistory documents {status}");
    }
    assert!(
        create["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header")
    );
    let charge = &document["paths"]["/payments/reservations/{id}/charge"]["post"];
    for status in ["201", "400", "403", "404", "409", "410", "422", "502", "504"] {
        assert!(charge["responses"][status].is_object(), "chargeReservation documents {status}");
    }
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
