//! The original SDK's way of calling (mimicked by tests/sdk/client.mjs under
//! Node) works against every route unchanged. Skipped when `node` is absent.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn the_original_sdk_calls_every_route_unchanged() {
    if std::process::Command::new("node").arg("--version").output().is_err() {
        eprintln!("node is not installed: skipping the SDK compatibility test");
        return;
    }
    let app = spawn_app().await;
    app.pg.add_payment("imp_sdk", "25000");
    app.pg.cards.lock().unwrap().insert("billing_sdk".into(), json!({"billingKey": "billing_sdk"}));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/client.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("HOST", &app.url)
        .env("KEY", std::str::from_utf8(KEY).unwrap())
        .env("IV", std::str::from_utf8(IV).unwrap())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run).await.expect("node finished in time").unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "node failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let calls: HashMap<String, Value> = stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .map(|v| (v["name"].as_str().unwrap().to_owned(), v))
        .collect();
    let status = |name: &str| calls[name]["status"].as_u64().unwrap();
    for (name, expected) in [
        ("createHistory", 201),
        ("getHistory", 200),
        ("getHistoryById", 200),
        ("cancelHistory", 200),
        ("createReservation", 201),
        ("getReservation", 200),
        ("getReservationById", 200),
        ("receiveIamportWebhook", 200),
        // An unknown payment is taken in and kept for a retry.
        ("receiveTossWebhook", 200),
        ("health", 200),
        ("system", 200),
        ("performance", 200),
        ("wrongPassword", 403),
    ] {
        assert_eq!(status(name), expected, "{name}: {}", calls[name]);
    }
    assert_eq!(calls["createHistory"]["data"]["price"], 25000);
    assert_eq!(calls["cancelHistory"]["data"]["refund"], 5000);
    assert_eq!(calls["getReservationById"]["data"]["title"], "card");
    assert_eq!(calls["health"]["data"], Value::Null);
    assert_eq!(calls["system"]["data"]["package"]["name"], "payments");
    let error: Value = serde_json::from_str(calls["wrongPassword"]["data"].as_str().unwrap()).unwrap();
    assert_eq!(error["code"], "WRONG_PASSWORD");
}
