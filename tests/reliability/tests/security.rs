//! Security checks as tests: constant-time password verification, hashes
//! never returned and never stored in clear, no route lists records,
//! webhook_url restricted to http(s) and an optional allowlist, secrets only
//! from the environment, PG data and passwords encrypted at rest.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use payments_crypto::{Argon2Hasher, Argon2Params};
use payments_reliability::{Receiver, ServerProcess, TOSS_SECRET, TestServer, Toss, base_vars};
use payments_server::{Config, Mode};
use reqwest::Method;
use serde_json::{Value, json};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// argon2id verification costs the same whether the guess shares nothing,
/// half, or all but the last character with the password: over 41 rounds
/// (each round runs every class back to back), the median ratio of each class
/// to the all-wrong guess stays within [0.67, 1.5] (generous: the machine is
/// shared and noisy; an early-exit comparison over argon2's work would not be
/// visible anyway, the point is that no input-dependent shortcut exists).
#[test]
fn password_verification_time_does_not_depend_on_how_much_matches() {
    const RUNS: usize = 41;
    let hasher = Argon2Hasher::new(Argon2Params { memory_kib: 4096, iterations: 2, parallelism: 1 }, 1).unwrap();
    let password = "correct horse battery staple 0123456789";
    let phc = hasher.hash_blocking(password).unwrap();
    assert!(!phc.contains(password));
    let mut near = password.to_owned();
    near.pop();
    near.push('X');
    let half = format!("{}{}", &password[..20], "Y".repeat(password.len() - 20));
    let none = "Z".repeat(password.len());
    let short = "a".to_owned();
    let classes = [none.as_str(), half.as_str(), near.as_str(), short.as_str()];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); classes.len()];
    for _ in 0..3 {
        hasher.verify_blocking(&none, &phc).unwrap(); // warm up
    }
    for _ in 0..RUNS {
        for (i, guess) in classes.iter().enumerate() {
            let started = Instant::now();
            assert!(!hasher.verify_blocking(guess, &phc).unwrap());
            samples[i].push(started.elapsed());
        }
    }
    // Per round, each class against the first (so drift of a shared machine
    // cancels out), then the median of those ratios.
    let ratios: Vec<f64> = (1..classes.len())
        .map(|c| {
            let mut r: Vec<f64> =
                (0..RUNS).map(|i| samples[c][i].as_secs_f64() / samples[0][i].as_secs_f64()).collect();
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect();
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    println!(
        "RESULT constant_time_verify runs_per_class={RUNS} median_us none={} half={} all_but_last={} short={} \
         median_ratio_vs_none half={:.3} all_but_last={:.3} short={:.3}",
        medians[0].as_micros(),
        medians[1].as_micros(),
        medians[2].as_micros(),
        medians[3].as_micros(),
        ratios[0],
        ratios[1],
        ratios[2]
    );
    for ratio in &ratios {
        assert!((0.67..1.5).contains(ratio), "verification time depends on the guess: {ratios:?} {medians:?}");
    }
}

/// The same through the API: a wrong password answers 403 in the same time
/// whether it shares nothing or all but its last character with the right one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_answers_take_the_same_time_over_http() {
    // 50 wrong passwords in a row: the lockout (tested below) is lifted here.
    let server = TestServer::start(&[
        ("PAYMENT_ARGON2_MEMORY_KIB", "4096"),
        ("PAYMENT_ARGON2_ITERATIONS", "2"),
        ("PAYMENT_PASSWORD_MAX_FAILURES", "1000"),
    ])
    .await
    .unwrap();
    let password = "correct horse battery staple 0123456789";
    let key = server.toss.pay("ct", 1000).await.unwrap();
    assert_eq!(server.api.register_toss(&key, "ct", 1000, password, "http://127.0.0.1:9/h").await.unwrap().status, 201);
    let near = format!("{}X", &password[..password.len() - 1]);
    let none = "Z".repeat(password.len());
    let mut near_t = Vec::new();
    let mut none_t = Vec::new();
    for _ in 0..25 {
        for (guess, into) in [(&near, &mut near_t), (&none, &mut none_t)] {
            let started = Instant::now();
            let reply = server.api.get("ct", guess).await.unwrap();
            into.push(started.elapsed());
            assert_eq!(reply.status, 403);
            assert_eq!(reply.body["code"], "WRONG_PASSWORD", "{}", reply.body);
        }
    }
    // Per round the two guesses run back to back; the median of their ratios
    // is robust to a shared machine's drift.
    let mut ratios: Vec<f64> = near_t.iter().zip(&none_t).map(|(a, b)| a.as_secs_f64() / b.as_secs_f64()).collect();
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    let (near_m, none_m) = (median(near_t), median(none_t));
    println!(
        "RESULT constant_time_http runs_per_class=25 median_us all_but_last={} none={} median_ratio={ratio:.3}",
        near_m.as_micros(),
        none_m.as_micros()
    );
    assert!((0.67..1.5).contains(&ratio), "403 timing depends on the guess: {near_m:?} vs {none_m:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_a_password_locks_the_record_with_retry_after() {
    let server = TestServer::start(&[("PAYMENT_PASSWORD_MAX_FAILURES", "3"), ("PAYMENT_PASSWORD_LOCK_SECS", "90")])
        .await
        .unwrap();
    let password = "the right password of this record";
    let key = server.toss.pay("lock", 1000).await.unwrap();
    assert_eq!(
        server.api.register_toss(&key, "lock", 1000, password, "http://127.0.0.1:9/h").await.unwrap().status,
        201
    );
    for guess in ["guess number one", "guess number two", "guess number three"] {
        assert_eq!(server.api.get("lock", guess).await.unwrap().status, 403);
    }
    // Locked: even the right password is not checked.
    let body = json!({"schema": "shop", "table": "orders", "id": "lock", "password": password});
    let locked = server
        .api
        .http
        .patch(format!("{}/payments/histories/get", server.api.url))
        .header("content-type", "text/plain")
        .body(server.api.cipher.encrypt(body.to_string().as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status().as_u16(), 429);
    let retry_after: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((85..=90).contains(&retry_after), "{retry_after}");
    let body: Value = locked.json().await.unwrap();
    assert_eq!(body["code"], "RECORD_LOCKED", "{body}");
    // A short password is refused for a new record, naming the field.
    let key = server.toss.pay("short", 1000).await.unwrap();
    let short = server.api.register_toss(&key, "short", 1000, "seven77", "http://127.0.0.1:9/h").await.unwrap();
    assert_eq!((short.status, short.body["message"].as_str()), (400, Some("password: must be at least 8 characters")));
    server.stop().await.unwrap();
}

/// A flood of password checks beyond one hashing thread and one waiting
/// place: those that do not fit are answered 503 at once (not queued behind
/// the others), the rest verify, and the server keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_checks_beyond_the_hashing_queue_are_answered_503_at_once() {
    let server = TestServer::start(&[
        ("PAYMENT_ARGON2_MEMORY_KIB", "32768"),
        ("PAYMENT_ARGON2_ITERATIONS", "3"),
        ("PAYMENT_ARGON2_MAX_PARALLEL", "1"),
        ("PAYMENT_ARGON2_MAX_QUEUE", "1"),
    ])
    .await
    .unwrap();
    let password = "the password of the busy record";
    let key = server.toss.pay("busy", 1000).await.unwrap();
    assert_eq!(
        server.api.register_toss(&key, "busy", 1000, password, "http://127.0.0.1:9/h").await.unwrap().status,
        201
    );
    let started = Instant::now();
    let reads = (0..16).map(|_| async {
        let reply = server.api.get("busy", password).await.unwrap();
        (reply, started.elapsed())
    });
    let replies = futures::future::join_all(reads).await;
    let ok: Vec<_> = replies.iter().filter(|(r, _)| r.status == 200).map(|(_, t)| *t).collect();
    let busy: Vec<_> = replies.iter().filter(|(r, _)| r.status == 503).collect();
    assert_eq!(ok.len() + busy.len(), replies.len(), "only 200 or 503: {replies:?}");
    assert!(!ok.is_empty() && !busy.is_empty(), "{} verified, {} refused", ok.len(), busy.len());
    for (reply, _) in &busy {
        assert_eq!(reply.body["message"], "too many password checks at once; retry shortly", "{:?}", reply.body);
    }
    let slowest_ok = ok.iter().max().unwrap();
    let fastest_busy = busy.iter().map(|(_, t)| *t).min().unwrap();
    println!(
        "RESULT hasher_queue sent=16 verified={} refused={} slowest_verified_ms={} first_refusal_ms={}",
        ok.len(),
        busy.len(),
        slowest_ok.as_millis(),
        fastest_busy.as_millis()
    );
    assert!(fastest_busy < *slowest_ok, "refusals come before the queue drains: {fastest_busy:?} vs {slowest_ok:?}");
    assert_eq!(server.api.get("busy", password).await.unwrap().status, 200, "served once the flood is over");
    server.stop().await.unwrap();
}

/// Someone with the wire key registers a payment of someone else's order
/// (unregistered so far) with a wrong price, hoping for the mismatch's
/// auto-cancel: refused 422 naming no amount, nothing refunded at the PG,
/// and its owner still registers it. A payment of the caller's own order
/// charged with another amount is still cancelled. With the binding turned
/// off (`PAYMENT_BIND_ORDER_TO_SOURCE=false`) a mismatch is refused and
/// nothing is cancelled either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_registers_only_under_its_own_order_and_a_strangers_is_never_refunded() {
    let server = TestServer::start(&[]).await.unwrap();
    let (api, toss) = (&server.api, &server.toss);
    let balance = |payment: &Value| (payment["status"].as_str().map(str::to_owned), payment["balanceAmount"].as_u64());
    let victim = toss.pay("victims-order", 5000).await.unwrap();
    for price in [1, 5000] {
        let reply = api.register_toss(&victim, "attackers-order", price, "attacker password", "http://127.0.0.1:9/h");
        let reply = reply.await.unwrap();
        assert_eq!(reply.status, 422, "{reply:?}");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.starts_with("source.id: ") && !message.contains("5000"), "{message}");
    }
    assert_eq!(balance(&toss.payment(&victim).await.unwrap()), (Some("DONE".into()), Some(5000)), "not refunded");
    let owner = api.register_toss(&victim, "victims-order", 5000, "owner password", "http://127.0.0.1:9/h");
    assert_eq!(owner.await.unwrap().status, 201, "its owner registers it");

    let own = toss.pay("own-order", 3000).await.unwrap();
    let wrong = api.register_toss(&own, "own-order", 2000, "owner password", "http://127.0.0.1:9/h").await.unwrap();
    assert_eq!(
        (wrong.status, wrong.body["message"].as_str()),
        (422, Some("price 2000 is not the amount the PG charged"))
    );
    assert_eq!(balance(&toss.payment(&own).await.unwrap()), (Some("CANCELED".into()), Some(0)), "its own: cancelled");
    server.stop().await.unwrap();

    let unbound = TestServer::start(&[("PAYMENT_BIND_ORDER_TO_SOURCE", "false")]).await.unwrap();
    let (api, toss) = (&unbound.api, &unbound.toss);
    let theirs = toss.pay("shop-order-17", 4000).await.unwrap();
    let wrong = api.register_toss(&theirs, "any-source", 1000, "some password", "http://127.0.0.1:9/h").await.unwrap();
    assert_eq!(
        (wrong.status, wrong.body["message"].as_str()),
        (422, Some("price 1000 is not the amount the PG charged"))
    );
    assert_eq!(balance(&toss.payment(&theirs).await.unwrap()), (Some("DONE".into()), Some(4000)), "unbound: kept");
    let right = api.register_toss(&theirs, "any-source", 4000, "some password", "http://127.0.0.1:9/h").await.unwrap();
    assert_eq!(right.status, 201, "unbound: any source registers it");
    unbound.stop().await.unwrap();
}

/// Walks the OpenAPI document: no operation answers a list of records, no
/// record is readable without a password in the request, and no GET touches
/// payments but a client's own event feed (a client's key, scope `events`;
/// the legacy client has no feed: see `tests/tests/clients.rs`).
#[test]
fn no_route_lists_records() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/payments.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => schema.clone(),
        }
    };
    let mut operations = 0;
    for (route, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            if method == "get" && route == "/payments/events" {
                assert_eq!(op["security"][1]["clientKey"], serde_json::json!([]), "the feed is a client's");
            } else if method == "get" {
                assert!(route.starts_with("/monitors/"), "GET {route}: only monitors and the feed are GET routes");
            }
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                for (_, media) in response["content"].as_object().into_iter().flatten() {
                    let schema = resolve(&media["schema"]);
                    assert_ne!(schema["type"], "array", "{method} {route} {status} answers a list");
                    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                        let property = resolve(property);
                        if property["type"] == "array" {
                            let items = resolve(&property["items"]);
                            let record =
                                items["properties"].get("id").is_some() && items["properties"].get("vendor").is_some();
                            assert!(!record, "{method} {route} {status}: {name} is a list of records");
                        }
                    }
                }
            }
            if route.starts_with("/payments/histories") || route.starts_with("/payments/reservations") {
                if method == "post" {
                    continue;
                }
                let body = &op["requestBody"]["content"];
                let schema = body.as_object().and_then(|m| m.values().next()).map(|m| resolve(&m["schema"]));
                let has_password = schema.is_some_and(|s| s["properties"].get("password").is_some());
                assert!(has_password, "{method} {route}: reading a record needs its password");
            }
        }
    }
    println!("RESULT no_listing operations_checked={operations} listing_routes=0");
    assert!(operations >= 12);
}

/// webhook_url takes absolute http(s) URLs only; with
/// PAYMENT_WEBHOOK_ALLOWED_HOSTS only the listed hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_url_is_http_only_and_follows_the_allowlist() {
    let receiver = Receiver::start().await;
    let server = TestServer::start(&[("PAYMENT_WEBHOOK_ALLOWED_HOSTS", "hooks.example, 127.0.0.1")]).await.unwrap();
    let refused = [
        "ftp://127.0.0.1/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://127.0.0.1:70/x",
        "data:text/plain,hi",
        "http://user:pw@127.0.0.1/hook",
        "//127.0.0.1/hook",
        "/hook",
        "http://",
        "http://evil.example/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://hooks.example.evil.example/hook",
    ];
    for (i, url) in refused.iter().enumerate() {
        let key = server.toss.pay(&format!("url-{i}"), 1000).await.unwrap();
        let reply = server.api.register_toss(&key, &format!("url-{i}"), 1000, "pw-of-the-test", url).await.unwrap();
        assert_eq!(reply.status, 400, "{url} must be refused: {reply:?}");
        assert!(reply.body["message"].as_str().unwrap().starts_with("webhook_url"), "{reply:?}");
    }
    for (i, url) in [receiver.url(), "https://hooks.example/payments".to_owned(), "HTTP://HOOKS.EXAMPLE/x".to_owned()]
        .iter()
        .enumerate()
    {
        let key = server.toss.pay(&format!("ok-{i}"), 1000).await.unwrap();
        let reply = server.api.register_toss(&key, &format!("ok-{i}"), 1000, "pw-of-the-test", url).await.unwrap();
        assert_eq!(reply.status, 201, "{url} is allowed: {reply:?}");
    }
    println!("RESULT webhook_url refused={} accepted=3", refused.len());
    server.stop().await.unwrap();
}

/// Outside local mode (dev here) a backend on the server's own host gets its
/// webhooks when the operator lists its exact port (`localhost:PORT`):
/// registered as `localhost` or as `127.0.0.1`, its events are delivered.
/// Every other local target is refused at registration: the server's own API
/// and metrics ports, another loopback port, the metadata address (even on
/// the listed port); and listing the metadata address stops start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_loopback_port_receives_webhooks_outside_local_mode_and_no_other_local_target_does() {
    let fake = payments_toss::fake::start(Default::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let fake_url = fake.url();
    let toss = Toss::new(fake_url.clone());
    let receiver = Receiver::start().await;
    let port = receiver.addr().port();
    let listed = format!("localhost:{port}");
    let dev = [
        ("PAYMENT_MODE", "dev"),
        ("PAYMENT_API_HOST", "127.0.0.1"),
        ("PAYMENT_TOSS_URL", fake_url.as_str()),
        ("PAYMENT_TOSS_PAYMENTS_SECRET", TOSS_SECRET),
    ];

    let dir = tempfile::tempdir().unwrap();
    let mut vars = base_vars(dir.path());
    vars.extend(dev.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    vars.insert("PAYMENT_WEBHOOK_ALLOWED_HOSTS".into(), format!("{listed}, 169.254.169.254:80"));
    let refused_start = Config::from_vars(&vars).map(|_| ()).unwrap_err().to_string();
    assert!(refused_start.contains("PAYMENT_WEBHOOK_ALLOWED_HOSTS"), "{refused_start}");
    assert!(refused_start.contains("169.254.169.254"), "{refused_start}");
    // The same address inside SIIT and local-use NAT64 forms is judged as it.
    for embedded in ["[::ffff:0:a9fe:a9fe]:80", "[64:ff9b:1::a9fe:a9fe]:80"] {
        vars.insert("PAYMENT_WEBHOOK_ALLOWED_HOSTS".into(), format!("{listed}, {embedded}"));
        let refused_start = Config::from_vars(&vars).map(|_| ()).unwrap_err().to_string();
        assert!(refused_start.contains("link-local"), "{embedded}: {refused_start}");
    }

    let server = TestServer::start(&[dev.as_slice(), &[("PAYMENT_WEBHOOK_ALLOWED_HOSTS", listed.as_str())]].concat())
        .await
        .unwrap();
    assert_eq!(server.app.fake(payments_domain::VendorCode::TossPayments), None, "not local mode: no fake in-process");
    let api_port = server.app.addr().port();
    let metrics_port = server.app.metrics_addr().expect("a metrics listener").port();
    let other_port = payments_reliability::free_port();
    let refused = [
        format!("http://127.0.0.1:{api_port}/monitors/health"),
        format!("http://localhost:{metrics_port}/metrics"),
        format!("http://localhost:{other_port}/hook"),
        format!("http://127.0.0.1:{other_port}/hook"),
        format!("http://[::1]:{other_port}/hook"),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        format!("http://169.254.169.254:{port}/hook"),
    ];
    for (i, url) in refused.iter().enumerate() {
        let order = format!("local-refused-{i}");
        let key = toss.pay(&order, 1000).await.unwrap();
        let reply = server.api.register_toss(&key, &order, 1000, "pw-of-the-test", url).await.unwrap();
        assert_eq!(reply.status, 400, "{url} must be refused: {reply:?}");
        assert!(reply.body["message"].as_str().unwrap_or_default().starts_with("webhook_url"), "{url}: {reply:?}");
    }

    let accepted = [("local-by-name", format!("http://localhost:{port}/hook")), ("local-by-address", receiver.url())];
    for (order, url) in &accepted {
        let key = toss.pay(order, 1000).await.unwrap();
        let reply = server.api.register_toss(&key, order, 1000, "pw-of-the-test", url).await.unwrap();
        assert_eq!(reply.status, 201, "{url} is listed: {reply:?}");
        // A change after registration is an event, delivered to the URL.
        assert_eq!(server.api.cancel(order, "pw-of-the-test", 400, "part").await.unwrap().status, 200);
    }
    assert_eq!(receiver.wait_for(accepted.len(), Duration::from_secs(30)).await, accepted.len());
    let mut delivered: Vec<String> =
        receiver.all().iter().map(|d| d.json["source"]["id"].as_str().unwrap_or_default().to_owned()).collect();
    delivered.sort();
    assert_eq!(delivered, ["local-by-address", "local-by-name"], "{:?}", receiver.all());
    println!("RESULT loopback_target mode=dev listed={listed} delivered={} refused={}", delivered.len(), refused.len());
    server.stop().await.unwrap();
    fake.stop().await.unwrap();
}

/// Outside local mode every key comes from the environment: each missing one
/// stops start-up naming it, none falls back to a built-in value, and the
/// wire cipher is the one the variables name.
#[test]
fn secrets_come_only_from_the_environment() {
    let secrets = [
        ("PAYMENT_CONNECTION_ENCRYPTION_KEY", "0123456789abcdef0123456789abcdef"),
        ("PAYMENT_CONNECTION_ENCRYPTION_IV", "fedcba9876543210"),
        ("PAYMENT_HISTORY_ENCRYPTION_KEY", "1123456789abcdef1123456789abcdef"),
        ("PAYMENT_RESERVATION_ENCRYPTION_KEY", "2123456789abcdef"),
        ("PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY", "3123456789abcdef3123456789abcdef"),
        ("PAYMENT_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ];
    for mode in ["dev", "real"] {
        let full: HashMap<String, String> = secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([("PAYMENT_MODE".to_owned(), mode.to_owned())])
            .collect();
        let config = Config::from_vars(&full).unwrap();
        assert!(config.defaulted.is_empty(), "{mode}: nothing defaulted");
        assert_ne!(config.mode, Mode::Local);
        assert!(config.pg.pgs.iter().all(|pg| pg.fake().and_then(|fake| fake.port()).is_none()), "{mode}: no fake PG");
        assert!(config.pg.pgs.iter().all(|pg| !pg.uses_test_credentials()), "{mode}: no test PG keys");
        let ours = payments_crypto::WireCipher::new(secrets[0].1.as_bytes(), secrets[1].1.as_bytes()).unwrap();
        assert_eq!(config.wire.encrypt(b"x"), ours.encrypt(b"x"));
        let shown = format!("{config:?}");
        for (name, value) in secrets {
            assert!(!shown.contains(value), "{name} printed by Debug");
            let mut missing = full.clone();
            missing.remove(name);
            let err = Config::from_vars(&missing).unwrap_err();
            assert_eq!(err.variable, name);
        }
    }
    println!("RESULT secrets_from_env modes=2 variables_checked={}", secrets.len());
}

/// Passwords are stored as argon2id hashes, never returned; PG data, card
/// numbers and titles are encrypted in the database file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_is_returned_or_stored_in_clear() {
    let server = TestServer::start(&[]).await.unwrap();
    let password = "pw-unmistakable-4f1c";
    let order_name = "order-name-unmistakable-77aa";
    let key = server.toss.pay_named("clear", order_name, 3000).await.unwrap();
    let created = server.api.register_toss(&key, "clear", 3000, password, "http://127.0.0.1:9/h").await.unwrap();
    assert_eq!(created.status, 201);
    let cancelled = server.api.cancel("clear", password, 1000, "reason-unmistakable-9d").await.unwrap();
    assert_eq!(cancelled.status, 200);
    let billing = server.toss.save_card("customer-unmistakable").await.unwrap().unwrap();
    let saved = server
        .api
        .call(
            Method::POST,
            "/payments/reservations",
            &json!({
                "vendor": {"code": "toss.payments", "store_id": "s", "uid": billing},
                "source": {"schema": "shop", "table": "customers", "id": "customer-unmistakable"},
                "title": "title-unmistakable-31", "password": password,
            }),
        )
        .await
        .unwrap();
    assert_eq!(saved.status, 201, "{saved:?}");
    for reply in [&created, &cancelled, &saved] {
        let text = reply.body.to_string();
        assert!(!text.contains(password) && !text.contains("argon2") && !text.contains("password"), "{text}");
    }
    let dir = server.stop().await.unwrap();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        // SQLite may still remove its -wal/-shm files as the last connection
        // closes; a file gone by the time it is read held nothing to check.
        match std::fs::read(entry.unwrap().path()) {
            Ok(content) => bytes.extend(content),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => panic!("{error}"),
        }
    }
    let haystack = String::from_utf8_lossy(&bytes);
    for secret in [password, order_name, "1111222233334444", "11112222****4444"] {
        assert!(!haystack.contains(secret), "{secret} is stored in clear");
    }
    assert!(haystack.contains("$argon2id$"), "passwords are argon2id hashes");
    // Caller-chosen labels are not PG data; say whether they are readable in the file.
    println!(
        "NOTE at_rest caller_text_in_clear reason={} title={} source_id={}",
        haystack.contains("reason-unmistakable-9d"),
        haystack.contains("title-unmistakable-31"),
        haystack.contains("customer-unmistakable")
    );
    println!("RESULT at_rest database_bytes={} clear_secrets=0", bytes.len());
}

/// When the attacker's lines claim to have been written: a time no line of
/// the server's log can carry.
const FORGED_TIME: &str = "1999-12-31T23:59:59.999999Z";

/// Text an attacker wants in our log: a complete log line of a cancel
/// answered 200, and ESC sequences that erase and move up a terminal line.
fn forged_lines() -> String {
    format!(
        "boom-3f9a\n{FORGED_TIME}  INFO request{{request_id=forged}}: payments_http: request method=PUT \
         path=/payments/histories/cancel status=200 elapsed_ms=1\r\n\u{1b}[2K\u{1b}[1A{FORGED_TIME}  INFO forged"
    )
}

/// A PG that answers with the attacker's text (Iamport under `/iamport`,
/// Toss under `/toss`), or with a Toss payment listing as many cancels as
/// `cancels` says.
async fn hostile_pg(cancels: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> payments_fakekit::RunningServer {
    use poem::web::{Data, Path};
    use poem::{EndpointExt, Response, Route, get, handler, post};
    use std::sync::atomic::{AtomicUsize, Ordering};
    #[handler]
    fn token() -> Response {
        let body = json!({"code": 0, "message": null,
                          "response": {"access_token": "t", "now": 1_700_000_000, "expired_at": 4_000_000_000_u64}});
        Response::builder().content_type("application/json").body(body.to_string())
    }
    #[handler]
    fn iamport_payment(Path(uid): Path<String>) -> Response {
        let answer = |status: u16, body: String| {
            Response::builder().status(poem::http::StatusCode::from_u16(status).unwrap()).body(body)
        };
        match uid.as_str() {
            "imp_refused" => answer(200, json!({"code": -1, "message": forged_lines(), "response": null}).to_string()),
            _ => answer(502, format!("<html><body>{}</body></html>", forged_lines())),
        }
    }
    #[handler]
    fn toss_payment(Path(key): Path<String>, Data(cancels): Data<&std::sync::Arc<AtomicUsize>>) -> Response {
        let answer = |status: u16, body: String| {
            Response::builder().status(poem::http::StatusCode::from_u16(status).unwrap()).body(body)
        };
        let payment = |count: usize| {
            let listed: Vec<Value> = (0..count)
                .map(|i| {
                    json!({"cancelAmount": 1, "cancelReason": "part", "canceledAt": "2026-01-01T10:00:00+09:00",
                           "transactionKey": format!("tx-{i}"), "cancelStatus": "DONE"})
                })
                .collect();
            json!({"paymentKey": key, "orderId": format!("order-{key}"), "status": "PARTIAL_CANCELED",
                   "currency": "KRW", "totalAmount": 100_000, "balanceAmount": 100_000 - count,
                   "approvedAt": "2026-01-01T09:00:00+09:00", "cancels": listed})
            .to_string()
        };
        match key.as_str() {
            "tk_json" => answer(400, json!({"code": forged_lines(), "message": forged_lines()}).to_string()),
            "tk_many" => answer(200, payment(cancels.load(Ordering::SeqCst))),
            "tk_5000" => answer(200, payment(5_000)),
            _ => answer(500, format!("<html><body>{}</body></html>", forged_lines())),
        }
    }
    let routes = Route::new()
        .at("/iamport/users/getToken", post(token))
        .at("/iamport/payments/:uid", get(iamport_payment))
        .at("/toss/v1/payments/:key", get(toss_payment))
        .data(cancels);
    payments_fakekit::serve(routes, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// An attacker writes a complete log line ("... PUT ... status=200") and ESC
/// sequences into what reaches the server's text log: an Iamport
/// notification's `imp_uid` and `merchant_uid`, and a PG's error texts (an
/// Iamport refusal's message, a Toss error's code and message, error pages).
/// The real binary (text log format, to a file) writes no line the attacker
/// wrote and no ESC byte; the PG's text is in the log, escaped, and never
/// in an answer. (Two layers hold this: ids refuse control characters and PG
/// texts are logged as quoted fields; the text format escapes every field
/// value, `bootstrap/src/logging.rs::every_event_is_one_line_whatever_its_values_hold`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_log_line_is_impossible() {
    let pg = hostile_pg(Default::default()).await;
    let binary = payments_reliability::payments_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = payments_reliability::free_port();
    let mut vars = base_vars(dir.path());
    vars.insert("PAYMENT_API_PORT".into(), port.to_string());
    vars.insert("PAYMENT_IAMPORT_URL".into(), format!("{}/iamport", pg.url()));
    vars.insert("PAYMENT_TOSS_URL".into(), format!("{}/toss", pg.url()));
    let env: Vec<(String, String)> = vars.into_iter().collect();
    let mut server = ServerProcess::start(&binary, dir.path(), &env).await;
    let url = server.url.clone();
    let http = payments_reliability::http_client();
    let api = payments_reliability::Api::new(url.clone());
    let forged = forged_lines();

    // The notification: an id with the forged lines is refused at parse
    // time (400 naming the field); the merchant_uid is not an id we parse.
    let notify = |body: Value| http.post(format!("{url}/payments/webhooks/iamport")).json(&body).send();
    let refused = notify(json!({"imp_uid": format!("imp_1{forged}"), "merchant_uid": "m-1", "status": "paid"}));
    let refused = refused.await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let refused: Value = refused.json().await.unwrap();
    assert!(
        refused["message"].as_str().unwrap_or_default().starts_with("imp_uid: vendor.uid: must not contain control")
    );
    let taken = notify(json!({"imp_uid": "imp_unregistered", "merchant_uid": forged, "status": "paid"})).await.unwrap();
    assert_eq!(taken.status().as_u16(), 200, "kept for a retry");
    // The forged lines in the status: read as a status to re-read.
    let status = format!("ready{forged}");
    let odd_status = notify(json!({"imp_uid": "imp_2", "merchant_uid": "m-2", "status": status})).await.unwrap();
    assert_eq!(odd_status.status().as_u16(), 200, "kept for a retry");

    // The PG's error texts, on registrations: named by the call and status.
    let mut answers = Vec::new();
    for (vendor, uid, status) in [
        ("iamport", "imp_refused", 422),
        ("iamport", "imp_page", 502),
        ("toss.payments", "tk_json", 422),
        ("toss.payments", "tk_page", 502),
    ] {
        let order = format!("order-{uid}");
        let reply = api.register(vendor, uid, &order, 1000, "pw-of-the-test", "http://127.0.0.1:9/h").await.unwrap();
        assert_eq!(reply.status, status, "{uid}: {reply:?}");
        let message = reply.body["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains(uid) && message.contains("answered"), "{uid}: names the call: {message}");
        assert!(!message.contains("boom") && !message.contains(FORGED_TIME), "{uid}: the PG's text: {message}");
        assert!(!message.chars().any(char::is_control), "{uid}: {message:?}");
        answers.push(message);
    }
    server.kill().await;
    server.wait_exit(Duration::from_secs(10)).await;
    pg.stop().await.unwrap();

    let bytes = server.stderr_bytes();
    assert!(!bytes.contains(&0x1b), "an ESC byte reached the log");
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 5, "{text}");
    for line in &lines {
        // Every line is one of ours: it starts with the time it was written.
        let stamp = line.split_whitespace().next().unwrap_or_default().as_bytes();
        let a_time = stamp.len() >= 20
            && stamp[..4].iter().all(u8::is_ascii_digit)
            && (stamp[4], stamp[10], stamp[stamp.len() - 1]) == (b'-', b'T', b'Z');
        assert!(a_time && !line.starts_with(FORGED_TIME), "a line the server did not write: {line:?}");
        assert!(!line.contains('\r'), "{line:?}");
    }
    // The PG's texts are there to read, escaped.
    let escaped = format!("boom-3f9a\\n{FORGED_TIME}");
    let logged = lines.iter().filter(|line| line.contains(&escaped)).count();
    assert!(logged >= 4, "the PG's texts are logged, escaped ({logged} lines):\n{text}");
    println!("RESULT log_forging lines={} pg_text_lines={logged} answers={answers:?}", lines.len());
}

/// A PG answer listing 5,000 cancels (more than one payment may have here):
/// a registration reading it is 502 naming the count; a notification about
/// a registered payment whose PG answer grew to 5,000 cancels is answered
/// 200 and refused, nothing kept for a retry (it used to be a 500, "too many
/// SQL variables", retried for three days); the payment is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_cancels_are_refused_cleanly() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let cancels = std::sync::Arc::new(AtomicUsize::new(0));
    let pg = hostile_pg(cancels.clone()).await;
    let toss_url = format!("{}/toss", pg.url());
    let server = TestServer::start(&[("PAYMENT_TOSS_URL", toss_url.as_str())]).await.unwrap();

    let read = server.api.register_toss("tk_5000", "order-tk_5000", 100_000, "pw-of-the-test", "http://127.0.0.1:9/h");
    let read = read.await.unwrap();
    assert_eq!(read.status, 502, "{read:?}");
    assert!(read.body["message"].as_str().unwrap_or_default().contains("5000 cancels"), "names the count: {read:?}");

    let registered =
        server.api.register_toss("tk_many", "order-tk_many", 100_000, "pw-of-the-test", "http://127.0.0.1:9/h");
    assert_eq!(registered.await.unwrap().status, 201);
    cancels.store(5_000, Ordering::SeqCst);
    let notification = json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-01-01T10:00:00.000000",
                              "data": {"paymentKey": "tk_many", "orderId": "order-tk_many", "status": "PARTIAL_CANCELED"}});
    let started = Instant::now();
    let answered = http_post_json(&format!("{}/payments/webhooks/toss", server.app.url()), &notification).await;
    assert_eq!(answered, 200, "acknowledged, not failed");
    assert!(started.elapsed() < Duration::from_secs(5), "answered at once: {:?}", started.elapsed());
    let database = format!("sqlite://{}", server.dir.path().join("p.db").display());
    let pool = sqlx::SqlitePool::connect(&database).await.unwrap();
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_notifications").fetch_one(&pool).await.unwrap();
    assert_eq!(kept, 0, "nothing kept for a retry");
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM payment_history_cancels").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 0, "nothing recorded");
    pool.close().await;
    let read = server.api.get("order-tk_many", "pw-of-the-test").await.unwrap();
    assert_eq!((read.status, read.body["refund"].clone()), (200, Value::Null), "left as it was: {read:?}");
    println!("RESULT five_thousand_cancels read=502 notification=200 kept={kept}");
    server.stop().await.unwrap();
    pg.stop().await.unwrap();
}

async fn http_post_json(url: &str, body: &Value) -> u16 {
    payments_reliability::http_client().post(url).json(body).send().await.unwrap().status().as_u16()
}
