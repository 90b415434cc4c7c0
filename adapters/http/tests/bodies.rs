//! Malformed encrypted bodies: each gets its 4xx, never a 500, and the server
//! keeps serving. Outside local mode every unreadable body answers the same.

mod common;

use common::*;
use payments_crypto::WireCipher;
use serde_json::json;

fn cases() -> Vec<(&'static str, Vec<u8>, u16)> {
    let valid = cipher().encrypt(serde_json::to_string(&create_body("imp_1", "1000", "o-1")).unwrap().as_bytes());
    let wrong_key = WireCipher::new(b"another key 16 b", b"fedcba9876543210")
        .unwrap()
        .encrypt(serde_json::to_string(&create_body("imp_1", "1000", "o-1")).unwrap().as_bytes());
    let wrong_types = json!({
        "vendor": {"code": "iamport", "store_id": "store-1", "uid": 5},
        "source": {"schema": "shop", "table": "orders", "id": "o-1"},
        "price": "1000",
        "password": "secret",
        "webhook_url": "http://127.0.0.1:9/hook",
    });
    vec![
        ("empty body", Vec::new(), 400),
        ("not base64", b"this is not base64!!".to_vec(), 400),
        ("truncated ciphertext", valid.as_bytes()[..valid.len() - 8].to_vec(), 400),
        (
            "one block short",
            {
                use base64::Engine;
                let raw = base64::engine::general_purpose::STANDARD.decode(&valid).unwrap();
                base64::engine::general_purpose::STANDARD.encode(&raw[..raw.len() - 16]).into_bytes()
            },
            400,
        ),
        ("wrong key", wrong_key.into_bytes(), 400),
        ("not JSON", cipher().encrypt(b"{\"vendor\": ").into_bytes(), 400),
        ("not UTF-8", cipher().encrypt(&[0xff, 0xfe, 0x00]).into_bytes(), 400),
        ("JSON of wrong types", cipher().encrypt(wrong_types.to_string().as_bytes()).into_bytes(), 400),
        ("JSON array", cipher().encrypt(b"[]").into_bytes(), 400),
        ("2 MiB body", vec![b'A'; 2 * 1024 * 1024], 413),
    ]
}

#[tokio::test]
async fn malformed_bodies_get_their_4xx_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let mut messages = Vec::new();
    for (name, body, status) in cases() {
        let answer = app.send_raw("POST", "/payments/histories", body, None).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.text);
        assert!(answer.content_type.starts_with("application/json"), "{name}: {}", answer.content_type);
        assert!(answer.body["code"].is_string() && answer.body["message"].is_string(), "{name}: {}", answer.text);
        if status == 400 {
            // Every answer names its own request; the rest must be the same.
            let mut body = answer.body.clone();
            let id = body.as_object_mut().and_then(|b| b.remove("request_id"));
            assert!(id.as_ref().is_some_and(serde_json::Value::is_string), "{name}: {}", answer.text);
            messages.push((name, body.to_string()));
        }
        let health = app.get("/monitors/health").await;
        assert_eq!(health.status, 200, "still serving after {name}");
    }
    let first = messages[0].1.clone();
    for (name, text) in &messages {
        assert_eq!(text, &first, "{name} must answer like every other unreadable body (no padding oracle)");
    }
    app.pg.add_payment("imp_1", "1000");
    let good = app.call("POST", "/payments/histories", create_body("imp_1", "1000", "o-1"), None).await;
    assert_eq!(good.status, 201, "{}", good.text);
}

#[tokio::test]
async fn local_mode_says_what_was_wrong() {
    let app = spawn_app_with(true, None).await;
    let mut seen = Vec::new();
    for (name, body, status) in cases() {
        let answer = app.send_raw("POST", "/payments/histories", body, None).await;
        assert_eq!(answer.status, status, "{name}: {}", answer.text);
        seen.push(answer.body["message"].as_str().unwrap().to_owned());
    }
    assert!(seen[1].contains("base64"), "{}", seen[1]);
    assert!(seen[4].contains("padding"), "{}", seen[4]);
    assert!(seen[5].contains("not JSON"), "{}", seen[5]);
    assert!(seen[7].contains("uid") || seen[7].contains("VendorInput"), "names the field: {}", seen[7]);
}

#[tokio::test]
async fn encrypted_routes_refuse_other_media_types() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/payments/histories", app.url))
        .json(&create_body("imp_1", "1000", "o-1"))
        .send()
        .await
        .unwrap();
    let answer = TestApp::answer(response).await;
    assert_eq!(answer.status, 415, "{}", answer.text);
    assert_eq!(answer.body["code"], "UNSUPPORTED_MEDIA_TYPE");
}

/// JSON nested deeper than the parser's bound (128 levels) on the
/// unauthenticated PG routes, as JSON and as an encrypted body: a 400, and
/// the server keeps serving (no stack overflow, nothing stored).
#[tokio::test]
async fn deeply_nested_json_is_refused_on_every_route() {
    let app = spawn_app().await;
    for depth in [200usize, 100_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        for (path, body) in [
            ("/payments/webhooks/iamport", format!(r#"{{"imp_uid": {nested}, "status": "paid"}}"#)),
            ("/payments/webhooks/toss", format!(r#"{{"eventType": "PAYMENT_STATUS_CHANGED", "data": {nested}}}"#)),
        ] {
            let response = app
                .client
                .post(format!("{}{path}", app.url))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let answer = TestApp::answer(response).await;
            assert_eq!(answer.status, 400, "{path} at depth {depth}: {}", answer.text);
        }
        let sealed = cipher().encrypt(format!(r#"{{"password": "pw", "x": {nested}}}"#).as_bytes()).into_bytes();
        let answer = app.send_raw("PATCH", "/payments/histories/get", sealed, None).await;
        assert_eq!(answer.status, 400, "encrypted at depth {depth}: {}", answer.text);
    }
    assert_eq!(app.queued(), 0, "nothing stored");
    assert_eq!(app.get("/monitors/health").await.status, 200);
}

#[tokio::test]
async fn chunked_bodies_over_the_limit_answer_413() {
    let app = spawn_app().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..40).map(|_| Ok(vec![b'A'; 64 * 1024])).collect();
    let response = app
        .client
        .post(format!("{}/payments/histories", app.url))
        .header("content-type", "text/plain")
        .body(reqwest::Body::wrap_stream(futures_util_stream(chunks)))
        .send()
        .await;
    // The server may answer before the upload ends and close the stream; an
    // answer, when the client gets one, is 413.
    match response {
        Ok(response) => {
            let answer = TestApp::answer(response).await;
            assert_eq!(answer.status, 413, "{}", answer.text);
        }
        Err(error) => eprintln!("upload cut short: {error}"),
    }
    assert_eq!(app.get("/monitors/health").await.status, 200);
}

#[tokio::test]
async fn http2_bodies_without_a_length_answer_413_before_the_upload_ends() {
    let app = spawn_app().await;
    // The PG webhook routes take JSON from anyone; the record routes take text.
    for (path, content_type) in [("/payments/webhooks/toss", "application/json"), ("/payments/histories", "text/plain")]
    {
        let (status, code, taken) = stream_64_mib_over_http2(&app, path, content_type).await;
        assert_eq!((status, code.as_str()), (413, "PAYLOAD_TOO_LARGE"), "{path}");
        // The limit, plus what HTTP/2 flow control lets the client send ahead.
        assert!(taken < 8 * 1024 * 1024, "{path}: {taken} bytes of 64 MiB were taken before the answer");
    }
    assert_eq!(app.get("/monitors/health").await.status, 200);
}

/// POSTs 64 MiB over HTTP/2 with no length, produced only as the connection
/// takes them; answers the status, the error code and how much was taken
/// when the answer came.
async fn stream_64_mib_over_http2(app: &TestApp, path: &str, content_type: &str) -> (u16, String, usize) {
    use futures::StreamExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const CHUNK: usize = 64 * 1024;
    let client = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    // A JSON string that never ends.
    let body = futures::stream::iter(0..1024).map(move |i| {
        counter.fetch_add(CHUNK, Ordering::SeqCst);
        let mut chunk = vec![b'A'; CHUNK];
        if i == 0 {
            chunk[..2].copy_from_slice(b"[\"");
        }
        Ok::<_, std::io::Error>(chunk)
    });
    let response = client
        .post(format!("{}{path}", app.url))
        .header("content-type", content_type)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("an answer over HTTP/2");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let taken = pulled.load(Ordering::SeqCst);
    let answer = TestApp::answer(response).await;
    (answer.status, answer.body["code"].as_str().unwrap_or_default().to_owned(), taken)
}

fn futures_util_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures::stream::iter(chunks)
}
