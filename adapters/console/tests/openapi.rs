//! The committed document of the console's JSON API is what the code emits.

use std::path::PathBuf;

use serde_json::Value;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/admin.json")
}

#[test]
fn committed_document_is_fresh() {
    let emitted = payments_console::openapi_json();
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &emitted).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == emitted,
        "openapi/admin.json differs from what the code emits; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p payments-console --test openapi` (or `payments openapi --console`) and commit it"
    );
}

#[test]
fn every_operation_is_described_needs_the_session_and_names_its_errors() {
    let document: Value = serde_json::from_str(&payments_console::openapi_json()).unwrap();
    assert_eq!(document["servers"][0]["url"], "/admin/api");
    assert_eq!(document["components"]["securitySchemes"]["operatorSession"]["in"], "cookie");
    let paths = document["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 3, "{:?}", paths.keys().collect::<Vec<_>>());
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            assert_eq!(method, "get", "{path}: reads only (actions carry a CSRF token on the pages)");
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{path}: a summary");
            assert!(operation["operationId"].as_str().is_some(), "{path}: an operation id");
            assert_eq!(operation["security"], serde_json::json!([{ "operatorSession": [] }]), "{path}");
            for status in ["200", "401", "403"] {
                assert!(operation["responses"].get(status).is_some(), "{path}: answers {status}");
            }
        }
    }
}
