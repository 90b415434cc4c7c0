//! No card number leaves the server: not in an API answer, not in a webhook,
//! not in a log line, whatever flow the card went through (paid, cancelled,
//! saved, charged), for every PG. The fakes mask card numbers as the PGs do,
//! and nothing of ours may unmask or log one.

use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use payments_e2e::{Backend, IV, KEY, PASSWORD, Pg, TestApp, spawn_app, store_of, unique};
use serde_json::{Value, json};

/// The card numbers the flows below pay with.
const CARDS: [&str; 2] = ["1234567812345678", "1111222233334444"];

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> Captured {
    static LOGS: Mutex<Option<Captured>> = Mutex::new(None);
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        *LOGS.lock().unwrap() = Some(captured);
    });
    LOGS.lock().unwrap().clone().unwrap()
}

/// Runs of 13 to 19 digits, not part of a longer token, that are not a
/// millisecond timestamp of this era. A single `-` or space may separate
/// groups of 4 to 6 digits, as card numbers are written (a UUID's digit
/// groups, 8-4-4, are not a card number).
fn card_numbers_in(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_token = i == 0 || !chars[i - 1].is_alphanumeric();
        if !chars[i].is_ascii_digit() || !starts_token {
            i += 1;
            continue;
        }
        let (mut j, mut digits, mut groups) = (i, String::new(), vec![0usize]);
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits.push(chars[j]);
                *groups.last_mut().unwrap_or(&mut 0) += 1;
                j += 1;
            } else if matches!(chars[j], '-' | ' ') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
                groups.push(0);
                j += 1;
            } else {
                break;
            }
        }
        let card_groups = groups.len() == 1 || groups.iter().all(|g| (4..=6).contains(g));
        // A UUID goes on with another `-` and hex after its digit groups.
        let continues = chars.get(j) == Some(&'-') && chars.get(j + 1).is_some_and(|c| c.is_ascii_alphanumeric());
        let ends_token = (j == chars.len() || !chars[j].is_alphanumeric()) && !continues && card_groups;
        let timestamp = digits.len() == 13
            && digits.parse::<u64>().is_ok_and(|ms| (1_500_000_000_000..2_200_000_000_000).contains(&ms));
        if ends_token && (13..=19).contains(&digits.len()) && !timestamp {
            found.push(digits);
        }
        i = j.max(i + 1);
    }
    found
}

/// The `vendor` object of a request.
fn vendor(pg: Pg, uid: &str) -> Value {
    let code = match pg {
        Pg::Iamport => "iamport",
        Pg::TossPayments => "toss.payments",
        Pg::PortOne => "portone",
    };
    json!({"code": code, "store_id": store_of(pg), "uid": uid})
}

/// An encrypted call, with an optional `Idempotency-Key`; the decrypted answer.
async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: &Value, key: Option<&str>) -> (u16, String) {
    let cipher = payments_crypto::WireCipher::new(KEY.as_bytes(), IV.as_bytes()).unwrap();
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.url()))
        .header("content-type", "text/plain; charset=utf-8")
        .body(cipher.encrypt(body.to_string().as_bytes()));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, if status < 300 { cipher.decrypt(&text).unwrap() } else { text })
}

/// A card paid, registered, read, partly cancelled; a card saved, read,
/// charged and removed; every answer kept.
async fn every_card_flow(app: &TestApp, pg: Pg, answers: &mut Vec<String>) -> String {
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 9_000).await;
    let source = json!({"schema": "shop", "table": "orders", "id": order});
    let register = json!({
        "vendor": vendor(pg, &uid), "source": source, "price": 9000, "password": PASSWORD,
        "webhook_url": app.hook_url(),
    });
    let (status, created) = call(app, reqwest::Method::POST, "/payments/histories", &register, None).await;
    assert_eq!(status, 201, "{created}");
    answers.push(created);
    let read = json!({"schema": "shop", "table": "orders", "id": order, "password": PASSWORD});
    answers.push(call(app, reqwest::Method::PATCH, "/payments/histories/get", &read, None).await.1);
    let cancel = json!({"source": source, "password": PASSWORD, "price": 1000, "reason": "partial", "account": null});
    let (status, cancelled) = call(app, reqwest::Method::PUT, "/payments/histories/cancel", &cancel, None).await;
    assert_eq!(status, 200, "{cancelled}");
    answers.push(cancelled);

    let customer = unique("customer");
    let card_uid = match pg {
        Pg::Iamport => {
            app.iamport.save_card_numbered(&customer, "1111-2222-3333-4444").await;
            customer.clone()
        }
        Pg::TossPayments => app.toss.save_card_numbered(&customer, CARDS[1]).await,
        Pg::PortOne => app.portone.save_card_numbered(&customer, CARDS[1]).await,
    };
    let card_source = json!({"schema": "shop", "table": "customers", "id": customer});
    let save = json!({"vendor": vendor(pg, &card_uid), "source": card_source, "title": "plan", "password": PASSWORD});
    let (status, saved) = call(app, reqwest::Method::POST, "/payments/reservations", &save, None).await;
    assert_eq!(status, 201, "{saved}");
    let card_id = serde_json::from_str::<Value>(&saved).unwrap()["id"].as_str().unwrap().to_owned();
    answers.push(saved);
    let charge_order = unique("charge");
    let charge = json!({
        "password": PASSWORD, "price": 3000, "title": "month 1", "webhook_url": app.hook_url(),
        "source": {"schema": "shop", "table": "orders", "id": charge_order},
    });
    let path = format!("/payments/reservations/{card_id}/charge");
    let (status, charged) = call(app, reqwest::Method::POST, &path, &charge, Some(&unique("charge-key"))).await;
    assert_eq!(status, 201, "{charged}");
    answers.push(charged);
    let path = format!("/payments/reservations/{card_id}/remove");
    answers.push(call(app, reqwest::Method::POST, &path, &json!({"password": PASSWORD}), None).await.1);
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_number_in_any_answer_webhook_or_log_line() {
    let logs = logs();
    let mut app = spawn_app(Backend::Sqlite, "no_card_number").await.unwrap();
    let mut answers = Vec::new();
    for pg in [Pg::Iamport, Pg::TossPayments, Pg::PortOne] {
        let order = every_card_flow(&app, pg, &mut answers).await;
        app.hooks.delivered(&order, 1).await;
    }
    let webhooks: Vec<String> = app.hooks.all().iter().map(|hook| hook.plaintext.clone()).collect();
    assert!(webhooks.len() >= 3, "the cancels were announced");
    app.stop().await;
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.lines().count() > 50, "the logs were captured");
    for (what, texts) in [("answer", &answers), ("webhook", &webhooks), ("log", &vec![logged])] {
        for text in texts {
            let found = card_numbers_in(text);
            assert!(found.is_empty(), "a card number in a {what}: {found:?} in {text}");
            for card in CARDS {
                assert!(!text.contains(card), "{card} in a {what}");
            }
        }
    }
}

#[test]
fn the_scanner_sees_card_numbers_and_nothing_else() {
    assert_eq!(card_numbers_in("card 1234-5678-1234-5678."), ["1234567812345678"]);
    assert_eq!(card_numbers_in(r#"{"n":"4000 0000 0000 0002"}"#), ["4000000000000002"]);
    assert_eq!(card_numbers_in("\"number\":\"11112222****444*\""), Vec::<String>::new());
    assert_eq!(card_numbers_in("at 1764640000123 ms"), Vec::<String>::new(), "a timestamp");
    assert_eq!(card_numbers_in("X6505636518308 or ab1234567890123456"), Vec::<String>::new(), "inside a token");
    assert_eq!(card_numbers_in("id 12 34"), Vec::<String>::new());
    assert_eq!(card_numbers_in("request_id=15942867-9091-4852-ba79-4cdc488ad7ab"), Vec::<String>::new(), "a UUID");
    assert_eq!(card_numbers_in("1234-5678-1234-5678-abcd"), Vec::<String>::new(), "a longer token");
    assert_eq!(card_numbers_in("amex 3782 822463 10005"), ["378282246310005"]);
}
