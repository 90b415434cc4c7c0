//! The logs of a whole flow captured at TRACE level (every crate, every
//! level) hold no password, key, secret, card number or decrypted PG data.

use std::io::Write;
use std::sync::{Arc, Mutex};

use payments_reliability::{
    CANCEL_KEY, HISTORY_KEY, RESERVATION_KEY, Receiver, TOSS_SECRET, TestServer, WEBHOOK_SECRET, WIRE_IV, WIRE_KEY,
};
use reqwest::Method;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_hold_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let server = TestServer::start(&[]).await.unwrap();
    let receiver = Receiver::start().await;
    let password = "log-password-5b7e";
    let order_name = "log-order-name-c3d9";
    let key = server.toss.pay_named("logs", order_name, 4000).await.unwrap();
    let created = server.api.register_toss(&key, "logs", 4000, password, &receiver.url()).await.unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(server.api.get("logs", "wrong-password-71").await.unwrap().status, 403);
    assert_eq!(server.api.get("logs", password).await.unwrap().status, 200);
    assert_eq!(server.api.cancel("logs", password, 1000, "log-reason").await.unwrap().status, 200);
    let billing = server.toss.save_card("log-customer").await.unwrap().unwrap();
    let saved = server
        .api
        .call(
            Method::POST,
            "/payments/reservations",
            &json!({
                "vendor": {"code": "toss.payments", "store_id": "s", "uid": billing},
                "source": {"schema": "shop", "table": "customers", "id": "log-customer"},
                "title": "t", "password": password,
            }),
        )
        .await
        .unwrap();
    assert_eq!(saved.status, 201);
    // A bad body carrying a password, and a webhook.
    let bad = server
        .api
        .call(Method::POST, "/payments/histories", &json!({"password": password, "price": "x"}))
        .await
        .unwrap();
    assert_eq!(bad.status, 400);
    receiver.wait_for(1, std::time::Duration::from_secs(10)).await;
    server.stop().await.unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The fake PGs run in this process too; they are test doubles, not the server.
    let ours: Vec<&str> = text.lines().filter(|l| !l.contains("::fake") && !l.contains("fakekit")).collect();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{TOSS_SECRET}:"));
    let secrets = [
        password,
        "wrong-password-71",
        WIRE_KEY,
        WIRE_IV,
        HISTORY_KEY,
        RESERVATION_KEY,
        CANCEL_KEY,
        WEBHOOK_SECRET,
        TOSS_SECRET,
        basic.as_str(),
        "1111222233334444",
        order_name,
        "balanceAmount",
        "$argon2",
    ];
    let mut found = Vec::new();
    for secret in secrets {
        for line in &ours {
            if line.contains(secret) {
                found.push(format!("{secret}: {line}"));
            }
        }
    }
    println!(
        "RESULT logs level=TRACE lines={} server_lines={} secrets_checked={} secrets_found={}",
        text.lines().count(),
        ours.len(),
        secrets.len(),
        found.len()
    );
    assert!(found.is_empty(), "secrets in the logs:\n{}", found.join("\n"));
    assert!(ours.len() > 20, "the logs were captured");
}
