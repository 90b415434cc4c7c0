//! The `payments` binary as a child process: local mode with no environment,
//! start-up refusals, `openapi`, `--help`, `.env`, and secrets kept out of logs.

mod common;

use std::time::{Duration, Instant};

use common::*;
use payments_crypto::WireCipher;
use payments_server::config::{DEV_CONNECTION_IV, DEV_CONNECTION_KEY, DEV_WEBHOOK_SECRET};
use reqwest::Method;
use serde_json::json;

fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_with_no_environment_serves_a_card_payment_and_stops_on_sigterm() {
    bounded(Duration::from_secs(120), async {
        let dir = tempfile::tempdir().unwrap();
        // Truly no environment, unless another process holds the default ports.
        let env: Vec<(String, String)> = if [37821, 10851, 30771, 20771, 9464].into_iter().all(port_free) {
            Vec::new()
        } else {
            eprintln!(
                "a default port (37821, 10851, 30771, 20771 or 9464) is in use; this run sets the five ports to 0"
            );
            [
                ("PAYMENT_API_PORT", "0"),
                ("PAYMENT_FAKE_IAMPORT_PORT", "0"),
                ("PAYMENT_FAKE_TOSS_PORT", "0"),
                ("PAYMENT_FAKE_PORTONE_PORT", "0"),
                ("PAYMENT_METRICS_ADDR", "127.0.0.1:0"),
                ("PAYMENT_ADMIN_ADDR", "127.0.0.1:0"),
                ("PAYMENT_ADMIN_ADDR", "127.0.0.1:0"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
        };
        let mut server = serve(dir.path(), &env).await;
        if env.is_empty() {
            assert_eq!(server.url, "http://127.0.0.1:37821");
            assert_eq!(server.fake("toss.payments"), Some("http://127.0.0.1:30771"));
            assert_eq!(server.fake("iamport"), Some("http://127.0.0.1:10851"));
        }
        let api = Api::with_cipher(
            server.url.clone(),
            WireCipher::new(DEV_CONNECTION_KEY.as_bytes(), DEV_CONNECTION_IV.as_bytes()).unwrap(),
        );
        let asked = Instant::now();
        assert_eq!(api.health().await.unwrap(), 200);
        eprintln!(
            "startup: listening line {:?} after spawn, first request served {:?} after spawn",
            server.startup,
            server.startup + asked.elapsed()
        );
        assert!(dir.path().join("payments.db").exists(), "SQLite ./payments.db in the working directory");

        let dev_keys = ReceiverKeys::new(DEV_WEBHOOK_SECRET, DEV_CONNECTION_KEY, DEV_CONNECTION_IV);
        let mut receiver = Receiver::start_with(&dev_keys).await;
        let fake_toss = server.fake("toss.payments").unwrap().to_owned();
        let key = toss_card_payment(&fake_toss, "order-local-1", 10_000, "4330123412341234").await;
        let history = register(&api, &key, "order-local-1", 10_000, "local-pw", &receiver.url()).await;
        assert_eq!(history["vendor"]["uid"], key.as_str());
        assert_eq!(history["price"], 10_000);
        assert!(history["paid_at"].is_string(), "{history}");

        let read = json!({"schema": "shop", "table": "orders", "id": "order-local-1", "password": "local-pw"});
        let (status, again) = call(&api, Method::PATCH, "/payments/histories/get", Some(read)).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["id"], history["id"]);

        let cancelled = cancel(&api, "order-local-1", 2_500, "local-pw").await;
        assert_eq!(cancelled["refund"], 2_500);
        let delivery = receiver.next(Duration::from_secs(30)).await;
        assert_eq!(delivery.answered, Some(200));
        assert_eq!(delivery.json["current"]["refund"], 2_500, "{}", delivery.json);
        assert_eq!(delivery.json["source"]["id"], "order-local-1");

        let asked = Instant::now();
        server.terminate();
        let status = server.wait_exit(Duration::from_secs(10)).await;
        let shutdown = asked.elapsed();
        eprintln!("shutdown: exited {status} {shutdown:?} after SIGTERM");
        assert!(status.success(), "SIGTERM exits 0:\n{}", server.logs());
        assert!(shutdown < Duration::from_secs(5), "SIGTERM took {shutdown:?}");
        assert!(server.stderr().contains("local mode"), "warns about built-in keys:\n{}", server.logs());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configuration_stops_start_up_naming_the_variable() {
    bounded(Duration::from_secs(180), async {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port().to_string();
        let real_keys: Vec<(String, String)> = [
            ("PAYMENT_MODE", "real"),
            ("PAYMENT_API_HOST", "127.0.0.1"),
            ("PAYMENT_API_PORT", "0"),
            ("PAYMENT_METRICS_ADDR", "127.0.0.1:0"),
            ("PAYMENT_ADMIN_ADDR", "127.0.0.1:0"),
            ("PAYMENT_CONNECTION_ENCRYPTION_KEY", KEY),
            ("PAYMENT_CONNECTION_ENCRYPTION_IV", IV),
            ("PAYMENT_HISTORY_ENCRYPTION_KEY", "history-key-0123456789abcdef0123"),
            ("PAYMENT_RESERVATION_ENCRYPTION_KEY", "reserve-key-0123"),
            ("PAYMENT_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let cases: Vec<(&str, Env, &str)> = vec![
            (
                "PAYMENT_CONNECTION_ENCRYPTION_KEY",
                with(test_env(), "PAYMENT_CONNECTION_ENCRYPTION_KEY", "0123456789"),
                "16 or 32 bytes",
            ),
            (
                "PAYMENT_HISTORY_ENCRYPTION_KEY",
                with(test_env(), "PAYMENT_HISTORY_ENCRYPTION_KEY", "twenty-bytes-long-xx"),
                "16 or 32 bytes",
            ),
            (
                "PAYMENT_CONNECTION_ENCRYPTION_IV",
                with(test_env(), "PAYMENT_CONNECTION_ENCRYPTION_IV", "short-iv"),
                "16 bytes",
            ),
            ("PAYMENT_DATABASE_URL", with(test_env(), "PAYMENT_DATABASE_URL", "postgres://[bad"), "not a URL"),
            ("PAYMENT_DATABASE_URL", with(test_env(), "PAYMENT_DATABASE_URL", "mysql://db/payments"), "not supported"),
            (
                "PAYMENT_DATABASE_URL",
                with(test_env(), "PAYMENT_DATABASE_URL", "sqlite://no/such/dir/p.db"),
                "cannot open",
            ),
            ("PAYMENT_API_PORT", with(test_env(), "PAYMENT_API_PORT", &taken_port), "cannot listen"),
            ("PAYMENT_API_PORT", with(test_env(), "PAYMENT_API_PORT", "http"), "not a valid number"),
            ("PAYMENT_FAKE_TOSS_PORT", with(test_env(), "PAYMENT_FAKE_TOSS_PORT", &taken_port), "cannot listen"),
            ("PAYMENT_CONNECTION_ENCRYPTION_KEY", vec![("PAYMENT_MODE".into(), "dev".into())], "required"),
            ("PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY", real_keys.clone(), "required"),
            ("PAYMENT_WEBHOOK_SECRET", with(test_env(), "PAYMENT_WEBHOOK_SECRET", "not-whsec"), "whsec_"),
            ("PAYMENT_WEBHOOK_LEASE_SECS", with(test_env(), "PAYMENT_WEBHOOK_LEASE_SECS", "5"), "must exceed"),
        ];
        let runs = cases.iter().map(|(variable, env, hint)| async move {
            let dir = tempfile::tempdir().unwrap();
            let started = Instant::now();
            let out = run(dir.path(), env, &["serve"]).await;
            let context = format!("{variable}:\n--- stdout\n{}--- stderr\n{}", out.stdout, out.stderr);
            assert!(!out.status.success(), "must refuse to start: {context}");
            assert!(!out.stdout.contains("payments listening"), "{context}");
            let message = out.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("{context}"));
            assert!(message.contains(variable), "message names {variable}: {context}");
            assert!(message.contains(hint), "message says {hint:?}: {context}");
            started.elapsed()
        });
        let times = futures::future::join_all(runs).await;
        eprintln!("refusals took {:?} (max)", times.iter().max().unwrap());
        drop(taken);
    })
    .await;
}

#[tokio::test]
async fn openapi_output_equals_the_committed_document() {
    bounded(Duration::from_secs(60), async {
        let committed =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/payments.json")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = run(dir.path(), &[], &["openapi", "--output", "-"]).await;
        assert!(out.status.success(), "{}", out.stderr);
        assert_eq!(out.stdout.trim_end(), committed.trim_end(), "regenerate with `payments openapi`");
        let written = run(dir.path(), &[], &["openapi"]).await;
        assert!(written.status.success(), "{}", written.stderr);
        let file = std::fs::read_to_string(dir.path().join("openapi/payments.json")).unwrap();
        assert_eq!(file, committed, "the default output path holds the committed bytes");
    })
    .await;
}

#[tokio::test]
async fn help_of_each_subcommand_says_what_it_does_and_what_it_reads() {
    bounded(Duration::from_secs(60), async {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&[&str], &str, &[&str])] = &[
            (&["serve"], "Serve the API", &["PAYMENT_MODE", "PAYMENT_DATABASE_URL", "PAYMENT_API_PORT", "PAYMENT_LOG"]),
            (&["migrate"], "migrations", &["PAYMENT_DATABASE_URL"]),
            (&["openapi"], "OpenAPI", &["Reads no PAYMENT_* variable"]),
            (&["fake-iamport"], "fake Iamport", &["Reads no PAYMENT_* variable"]),
            (&["fake-toss"], "fake Toss", &["Reads no PAYMENT_* variable"]),
            (&["fake-portone"], "fake PortOne V2", &["Reads no PAYMENT_* variable", "whsec_"]),
            (&["webhooks"], "webhook queue", &["PAYMENT_DATABASE_URL"]),
            (&["webhooks", "redeliver"], "Deliver an event again", &["PAYMENT_DATABASE_URL", "PAYMENT_WEBHOOK_"]),
            (&["webhooks", "stats"], "Show the queue", &["PAYMENT_DATABASE_URL"]),
            (&["keys"], "keys", &["PAYMENT_DATABASE_URL"]),
            (&["clients"], "clients", &["PAYMENT_DATABASE_URL", "PAYMENT_MODE"]),
            (&["clients", "add"], "print its API key", &["--name", "--scopes", "once"]),
            (&["clients", "rotate-key"], "new API key", &["--grace"]),
            (&["clients", "rotate-webhook-secret"], "new webhook secret", &["--grace"]),
            (&["operators"], "console", &["PAYMENT_DATABASE_URL", "viewer", "support", "admin"]),
            (&["operators", "add"], "TOTP", &["--name", "--role", "once"]),
            (&["operators", "reset"], "sessions end", &["Printed once"]),
            (&["keys", "rotate"], "Re-encrypt", &["PAYMENT_*_ENCRYPTION_KEY", "PAYMENT_*_ENCRYPTION_PREVIOUS_KEYS"]),
            (&["env"], "environment variable", &["Reads no PAYMENT_* variable"]),
            (&["reconcile"], "Re-read at the PGs", &["--since", "--dry-run", "serve reads"]),
            (&[], "payment server", &["payments env", ".env"]),
        ];
        for (args, does, reads) in cases {
            let mut full = args.to_vec();
            full.push("--help");
            let out = run(dir.path(), &[], &full).await;
            assert!(out.status.success(), "{full:?}: {}", out.stderr);
            for needle in std::iter::once(does).chain(reads.iter()) {
                assert!(
                    out.stdout.contains(needle),
                    "`payments {}` should mention {needle:?}:\n{}",
                    full.join(" "),
                    out.stdout
                );
            }
        }
        let env = run(dir.path(), &[], &["env"]).await;
        for name in [
            "PAYMENT_WEBHOOK_LEASE_SECS",
            "PAYMENT_SHUTDOWN_GRACE_SECS",
            "PAYMENT_CONNECTION_ENCRYPTION_KEY",
            "PAYMENT_CANCEL_LEASE_SECS",
            "PAYMENT_RECONCILE_INTERVAL",
            "PAYMENT_FAKE_TOSS_API_VERSION",
        ] {
            assert!(env.stdout.contains(name), "payments env lists {name}");
        }
    })
    .await;
}

/// `clients add` prints the key and secrets once (the key of local mode's
/// kind), `list` shows the client without them, `revoke` revokes it once;
/// a bad scope names the option.
#[tokio::test]
async fn clients_are_added_listed_and_revoked_and_secrets_printed_once() {
    bounded(Duration::from_secs(60), async {
        let dir = tempfile::tempdir().unwrap();
        let added =
            run(dir.path(), &[], &["clients", "add", "--name", "orders service", "--scopes", "read,register"]).await;
        assert!(added.status.success(), "{}", added.stderr);
        let key = added.stdout.split_whitespace().find(|w| w.starts_with("pk_test_")).expect("an API key").to_owned();
        assert!(added.stdout.contains("whsec_"), "{}", added.stdout);
        assert!(!added.stderr.contains(&key), "never in the log");
        let id = added.stdout.split_whitespace().nth(1).expect("the client's id").to_owned();
        let listed = run(dir.path(), &[], &["clients", "list"]).await;
        assert!(listed.stdout.contains(&id) && listed.stdout.contains("read,register"), "{}", listed.stdout);
        assert!(!listed.stdout.contains(&key) && !listed.stdout.contains("whsec_"), "no secrets: {}", listed.stdout);
        let shown = run(dir.path(), &[], &["clients", "show", &id]).await;
        assert!(shown.stdout.contains("orders service") && !shown.stdout.contains("whsec_"), "{}", shown.stdout);
        let rotated = run(dir.path(), &[], &["clients", "rotate-key", &id, "--grace", "1h"]).await;
        assert!(rotated.status.success(), "{}", rotated.stderr);
        let new_key = rotated.stdout.split_whitespace().find(|w| w.starts_with("pk_test_")).expect("a new key");
        assert_ne!(new_key, key, "a new key");
        let secret = run(dir.path(), &[], &["clients", "rotate-webhook-secret", &id]).await;
        assert!(secret.status.success() && secret.stdout.contains("whsec_"), "{}", secret.stdout);
        let bad_grace = run(dir.path(), &[], &["clients", "rotate-key", &id, "--grace", "forever"]).await;
        assert!(!bad_grace.status.success() && bad_grace.stderr.contains("--grace"), "{}", bad_grace.stderr);
        assert!(run(dir.path(), &[], &["clients", "revoke", &id]).await.status.success());
        let again = run(dir.path(), &[], &["clients", "revoke", &id]).await;
        assert!(!again.status.success(), "revoked once");
        assert!(run(dir.path(), &[], &["clients", "list"]).await.stdout.contains("revoked"));
        let bad = run(dir.path(), &[], &["clients", "add", "--name", "x", "--scopes", "refund"]).await;
        assert!(!bad.status.success() && bad.stderr.contains("--scopes"), "{}", bad.stderr);
    })
    .await;
}

/// `operators add` prints a password and, for roles that move money, a
/// TOTP URI once; `list` shows neither; `disable` and `reset` name the
/// operator; a bad role or name names the option.
#[tokio::test]
async fn operators_are_added_listed_disabled_and_reset_and_secrets_printed_once() {
    bounded(Duration::from_secs(60), async {
        let dir = tempfile::tempdir().unwrap();
        let added = run(dir.path(), &[], &["operators", "add", "--name", "Kim@Support", "--role", "support"]).await;
        assert!(added.status.success(), "{}", added.stderr);
        let line = |out: &str, label: &str| {
            out.lines().find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned())).expect(label)
        };
        let password = line(&added.stdout, "password");
        assert_eq!(password.chars().count(), 20, "{}", added.stdout);
        assert!(line(&added.stdout, "TOTP").starts_with("otpauth://totp/payments%3Akim%40support?secret="));
        assert!(!added.stderr.contains(&password), "never in the log");
        let viewer = run(dir.path(), &[], &["operators", "add", "--name", "lee", "--role", "viewer"]).await;
        assert!(viewer.status.success() && !viewer.stdout.contains("otpauth"), "{}", viewer.stdout);

        let listed = run(dir.path(), &[], &["operators", "list"]).await;
        assert!(listed.stdout.contains("kim@support") && listed.stdout.contains("support"), "{}", listed.stdout);
        assert!(!listed.stdout.contains(&password) && !listed.stdout.contains("otpauth"), "{}", listed.stdout);
        let reset = run(dir.path(), &[], &["operators", "reset", "kim@support"]).await;
        assert!(reset.status.success(), "{}", reset.stderr);
        assert_ne!(line(&reset.stdout, "password"), password);
        let disabled = run(dir.path(), &[], &["operators", "disable", "kim@support"]).await;
        assert!(disabled.status.success() && disabled.stdout.contains("disabled"), "{}", disabled.stdout);
        assert!(run(dir.path(), &[], &["operators", "list"]).await.stdout.contains("disabled"));

        let bad_role = run(dir.path(), &[], &["operators", "add", "--name", "park", "--role", "root"]).await;
        assert!(!bad_role.status.success() && bad_role.stderr.contains("--role"), "{}", bad_role.stderr);
        let bad_name = run(dir.path(), &[], &["operators", "add", "--name", "a b", "--role", "viewer"]).await;
        assert!(!bad_name.status.success() && bad_name.stderr.contains("--name"), "{}", bad_name.stderr);
        let taken = run(dir.path(), &[], &["operators", "add", "--name", "lee", "--role", "admin"]).await;
        assert!(!taken.status.success() && taken.stderr.contains("lee"), "{}", taken.stderr);
        let unknown = run(dir.path(), &[], &["operators", "reset", "nobody"]).await;
        assert!(!unknown.status.success() && unknown.stderr.contains("nobody"), "{}", unknown.stderr);
    })
    .await;
}

#[tokio::test]
async fn reconcile_reports_what_it_checked_and_refuses_a_bad_window() {
    bounded(Duration::from_secs(60), async {
        let dir = tempfile::tempdir().unwrap();
        let out = run(dir.path(), &[], &["reconcile", "--since", "1d", "--dry-run"]).await;
        assert!(out.status.success(), "{}", out.stderr);
        assert!(out.stdout.contains("checked 0  drifted 0  fixed 0"), "{}", out.stdout);
        assert!(out.stdout.contains("dry run"), "{}", out.stdout);
        let bad = run(dir.path(), &[], &["reconcile", "--since", "forever"]).await;
        assert!(!bad.status.success());
        assert!(bad.stderr.contains("--since"), "names the option: {}", bad.stderr);
    })
    .await;
}

#[tokio::test]
async fn dot_env_is_read_from_the_working_directory_only_and_the_environment_wins() {
    bounded(Duration::from_secs(60), async {
        let parent = tempfile::tempdir().unwrap();
        std::fs::write(parent.path().join(".env"), "PAYMENT_CONNECTION_ENCRYPTION_IV=dotenv-bad-iv\n").unwrap();
        let out = run(parent.path(), &[], &["migrate"]).await;
        assert!(!out.status.success(), "the .env of the working directory is read");
        assert!(out.stderr.contains("PAYMENT_CONNECTION_ENCRYPTION_IV"), "{}", out.stderr);

        let env = with(Vec::new(), "PAYMENT_CONNECTION_ENCRYPTION_IV", IV);
        let out = run(parent.path(), &env, &["migrate"]).await;
        assert!(out.status.success(), "the environment wins over .env: {}", out.stderr);

        let child = parent.path().join("service");
        std::fs::create_dir(&child).unwrap();
        let out = run(&child, &[], &["migrate"]).await;
        assert!(out.status.success(), "a parent directory's .env is not read: {}", out.stderr);
        assert!(out.stdout.contains("migrations applied"), "{}", out.stdout);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_logs() {
    bounded(Duration::from_secs(120), async {
        let history_key = "history-secret-key-0123456789abc";
        let cancel_key = "cancel-secret-key-0123456789abcd";
        let reservation_key = "reserve-secret-k";
        let password = "record-Passw0rd-never-logged";
        let card = "4330987654321098";
        let env = [
            ("PAYMENT_HISTORY_ENCRYPTION_KEY", history_key),
            ("PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY", cancel_key),
            ("PAYMENT_RESERVATION_ENCRYPTION_KEY", reservation_key),
            ("PAYMENT_IAMPORT_KEY", "test_imp_key"),
            ("PAYMENT_IAMPORT_SECRET", "test_imp_secret"),
            ("PAYMENT_TOSS_PAYMENTS_SECRET", TOSS_SECRET),
            ("PAYMENT_LOG", "trace"),
        ]
        .into_iter()
        .fold(test_env(), |env, (k, v)| with(env, k, v));
        let dir = tempfile::tempdir().unwrap();
        let mut server = serve(dir.path(), &env).await;
        let api = api(&server);
        let mut receiver = Receiver::start().await;
        let key = toss_card_payment(server.fake("toss.payments").unwrap(), "order-secret-1", 7_000, card).await;
        register(&api, &key, "order-secret-1", 7_000, password, &receiver.url()).await;
        let wrong = json!({"schema": "shop", "table": "orders", "id": "order-secret-1", "password": "wrong-password"});
        let (status, _) = call(&api, Method::PATCH, "/payments/histories/get", Some(wrong)).await;
        assert_eq!(status, 403);
        let right = json!({"schema": "shop", "table": "orders", "id": "order-secret-1", "password": password});
        let (status, _) = call(&api, Method::PATCH, "/payments/histories/get", Some(right)).await;
        assert_eq!(status, 200);
        cancel(&api, "order-secret-1", 1_000, password).await;
        let delivery = receiver.next(Duration::from_secs(30)).await;
        assert_eq!(delivery.answered, Some(200));
        let (status, _) = call(&api, Method::POST, "/payments/histories", Some(json!({"password": password}))).await;
        assert_eq!(status, 400, "a malformed body is refused");

        server.interrupt();
        assert!(server.wait_exit(Duration::from_secs(10)).await.success(), "ctrl-c exits 0: {}", server.logs());
        let logs = server.logs();
        assert!(logs.contains("SIGINT received"), "{logs}");
        assert!(logs.lines().count() > 20, "trace logging is on:\n{logs}");
        assert!(!logs.contains('\u{1b}'), "no terminal colours in piped logs");
        eprintln!("{} log lines at PAYMENT_LOG=trace, none holding a secret", logs.lines().count());
        for (what, secret) in [
            ("wire key", KEY),
            ("wire IV", IV),
            ("webhook secret", WEBHOOK_SECRET),
            ("webhook secret key", WEBHOOK_SECRET.trim_start_matches("whsec_")),
            ("history key", history_key),
            ("cancel key", cancel_key),
            ("reservation key", reservation_key),
            ("Iamport secret", "test_imp_secret"),
            ("Toss secret", TOSS_SECRET),
            ("record password", password),
            ("card number", card),
        ] {
            assert!(!logs.contains(secret), "the {what} appears in the logs:\n{logs}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_is_on_every_log_line_of_its_request_and_its_pg_calls() {
    bounded(Duration::from_secs(60), async {
        let dir = tempfile::tempdir().unwrap();
        // Toss is unreachable: the registration's PG call fails and says so.
        let toss = format!("http://127.0.0.1:{}", free_port());
        let env = with(with(test_env(), "PAYMENT_TOSS_URL", &toss), "PAYMENT_LOG", "info,payments_metrics=debug");
        let server = serve(dir.path(), &env).await;
        let body = json!({
            "vendor": {"code": "toss.payments", "store_id": "store-1", "uid": "tgen_unreachable"},
            "source": {"schema": "shop", "table": "orders", "id": "o-request-id"},
            "price": 1000, "password": "a long password", "webhook_url": "http://127.0.0.1:9/hook",
        });
        let answer = reqwest::Client::new()
            .post(format!("{}/payments/histories", server.url))
            .header("content-type", "text/plain")
            .header("x-request-id", "trace-me-42")
            .body(cipher().encrypt(body.to_string().as_bytes()))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.headers()["x-request-id"], "trace-me-42");
        let status = answer.status().as_u16();
        let error: serde_json::Value = answer.json().await.unwrap();
        assert_eq!((status, error["request_id"].as_str()), (502, Some("trace-me-42")), "{error}");

        let deadline = Instant::now() + Duration::from_secs(10);
        let logs = loop {
            let logs = server.stderr();
            if logs.lines().any(|line| line.contains("status=502")) || Instant::now() > deadline {
                break logs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let about = |what: &str| logs.lines().filter(|line| line.contains(what)).collect::<Vec<_>>();
        for what in ["PG call", "request failed upstream", "status=502"] {
            let lines = about(what);
            assert!(!lines.is_empty(), "no {what:?} line:\n{logs}");
            assert!(lines.iter().all(|line| line.contains("request_id=trace-me-42")), "{what:?}:\n{logs}");
        }
        assert!(about("PG call").iter().all(|line| line.contains("toss.payments")), "{logs}");
        server.terminate();
    })
    .await;
}
