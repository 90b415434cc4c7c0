//! Faults at the PG, in-process: many concurrent partial cancels racing for
//! one payment's balance, and a PG that is down or slower than our timeout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use payments_reliability::{Api, Isolation, PgProxy, ProxyMode, Receiver, TestDatabase, TestServer, Toss, free_port};
use payments_toss::fake::FakeTossConfig;
use reqwest::Method;
use serde_json::{Value, json};

const PRICE: u64 = 10_000;
const CANCELS: usize = 50;
const PART: u64 = 300;

/// 50 cancels of 300 on a 10,000 payment, all at once: 33 fit (9,900), 17
/// must get 422; our record and the fake PG's agree, and one webhook event
/// per successful cancel is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_partial_cancels_refund_exactly_what_fits() {
    let server = TestServer::start(&[]).await.unwrap();
    let receiver = Receiver::start().await;
    let key = server.toss.pay("race", PRICE).await.unwrap();
    let created = server.api.register_toss(&key, "race", PRICE, "pw-of-the-test", &receiver.url()).await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");

    let started = Instant::now();
    let tasks: Vec<_> = (0..CANCELS)
        .map(|i| {
            let api = server.api.clone();
            tokio::spawn(async move { api.cancel("race", "pw-of-the-test", PART, &format!("part {i}")).await })
        })
        .collect();
    let mut ok = 0u64;
    let mut refused = 0u64;
    let mut other = Vec::new();
    for task in tasks {
        let reply = tokio::time::timeout(Duration::from_secs(60), task).await.unwrap().unwrap().unwrap();
        match reply.status {
            200 => ok += 1,
            422 => refused += 1,
            s => other.push((s, reply.body)),
        }
    }
    let elapsed = started.elapsed();
    let fits = PRICE / PART;
    assert!(other.is_empty(), "only 200 and 422 are right answers: {other:?}");
    assert_eq!(ok, fits, "exactly the cancels that fit succeed");
    assert_eq!(refused, CANCELS as u64 - fits);

    let ours = server.api.get("race", "pw-of-the-test").await.unwrap();
    assert_eq!(ours.status, 200);
    let refund = ours.body["refund"].to_string();
    assert_eq!(refund, (fits * PART).to_string(), "{}", ours.body);
    let our_cancels = ours.body["cancels"].as_array().unwrap().len() as u64;
    assert_eq!(our_cancels, fits);

    let theirs = server.toss.payment(&key).await.unwrap();
    let their_cancels = theirs["cancels"].as_array().map_or(0, Vec::len) as u64;
    assert_eq!(their_cancels, fits, "the fake PG refunded as many times as we recorded");
    assert_eq!(theirs["balanceAmount"].to_string(), (PRICE - fits * PART).to_string());

    // Every change is one event, delivered once; events chain (each one's
    // previous refund is the one before's current) up to the final refund. A
    // PG webhook that read two cancels at once makes one event of both, so
    // there may be fewer events than cancels, never more.
    let final_refund = fits * PART;
    let until = Instant::now() + Duration::from_secs(30);
    let deliveries = loop {
        let deliveries = receiver.all();
        let reached = deliveries.iter().any(|d| d.json["current"]["refund"].as_u64() == Some(final_refund));
        if reached || Instant::now() > until {
            break deliveries;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let deliveries = {
        let later = receiver.all();
        if later.len() >= deliveries.len() { later } else { deliveries }
    };
    let mut ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let duplicates = deliveries.len() - ids.len();
    assert_eq!(duplicates, 0, "no event delivered twice");
    let refund_of = |v: &Value| if v.is_null() { 0 } else { v.to_string().parse::<u64>().unwrap() };
    let mut steps: Vec<(u64, u64)> = deliveries
        .iter()
        .map(|d| (refund_of(&d.json["previous"]["refund"]), refund_of(&d.json["current"]["refund"])))
        .collect();
    steps.sort_unstable();
    let mut at = 0;
    for (previous, current) in &steps {
        assert_eq!(*previous, at, "events chain: {steps:?}");
        assert!(current > previous, "every event refunds more: {steps:?}");
        at = *current;
    }
    assert_eq!(at, final_refund, "the events end at the final refund: {steps:?}");
    assert!(steps.len() as u64 <= fits);
    println!(
        "RESULT concurrent_cancels price={PRICE} cancels_sent={CANCELS} each={PART} succeeded={ok} refused_422={refused} \
         other=0 our_refund={refund} pg_cancels={their_cancels} events_delivered={} duplicates={duplicates} elapsed_ms={}",
        deliveries.len(),
        elapsed.as_millis()
    );
    server.stop().await.unwrap();
}

/// A registration while the PG refuses connections answers 502 and writes
/// nothing; while the PG is slower than PAYMENT_PG_TIMEOUT_SECS it answers
/// 504 and writes nothing; once the PG is back the caller's retry (same
/// Idempotency-Key) succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_down_or_slow_fails_cleanly_and_the_retry_succeeds() {
    let fake = payments_toss::fake::start(FakeTossConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let toss = Toss::new(fake.url());
    let port = free_port();
    let pg_url = format!("http://127.0.0.1:{port}");
    let server =
        TestServer::start(&[("PAYMENT_TOSS_URL", pg_url.as_str()), ("PAYMENT_PG_TIMEOUT_SECS", "1")]).await.unwrap();
    let api: &Api = &server.api;
    let key = toss.pay("flaky", 5000).await.unwrap();
    let body = json!({
        "vendor": {"code": "toss.payments", "store_id": "store-1", "uid": key},
        "source": {"schema": "shop", "table": "orders", "id": "flaky"},
        "price": 5000, "password": "pw-of-the-test", "webhook_url": "http://127.0.0.1:9/hook",
    });
    let mut figures = Vec::new();

    // Down: nothing listens on the PG's port.
    let started = Instant::now();
    let down = api.call_with(Method::POST, "/payments/histories", &body, Some("retry-key")).await.unwrap();
    figures.push(format!("down={}({}ms)", down.status, started.elapsed().as_millis()));
    assert_eq!(down.status, 502, "{down:?}");
    assert_json_error(&down.body);
    assert_eq!(api.get("flaky", "pw-of-the-test").await.unwrap().status, 404, "nothing written while the PG is down");

    // Slow: the PG answers after 3 s, our timeout is 1 s.
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let proxy = PgProxy::start(addr, fake.url(), ProxyMode::Slow(Duration::from_secs(3))).await.unwrap();
    let started = Instant::now();
    let slow = api.call_with(Method::POST, "/payments/histories", &body, Some("retry-key")).await.unwrap();
    let slow_ms = started.elapsed().as_millis();
    figures.push(format!("slow={}({slow_ms}ms)", slow.status));
    assert_eq!(slow.status, 504, "{slow:?}");
    assert_json_error(&slow.body);
    assert!(slow_ms < 10_000, "the timeout bounds the wait: {slow_ms} ms");
    assert_eq!(api.get("flaky", "pw-of-the-test").await.unwrap().status, 404, "nothing written while the PG is slow");

    // Back: the same request with the same key now succeeds, once.
    proxy.set(ProxyMode::Forward);
    let back = api.call_with(Method::POST, "/payments/histories", &body, Some("retry-key")).await.unwrap();
    figures.push(format!("back={}", back.status));
    assert_eq!(back.status, 201, "{back:?}");
    let again = api.call_with(Method::POST, "/payments/histories", &body, Some("retry-key")).await.unwrap();
    assert_eq!(again.status, 201, "the key replays the success");
    assert_eq!(again.body["id"], back.body["id"]);
    let read = api.get("flaky", "pw-of-the-test").await.unwrap();
    assert_eq!(read.status, 200);
    assert_eq!(read.body["price"].to_string(), "5000");
    println!(
        "RESULT pg_down_or_slow {} pg_requests_seen_by_stand_in={}",
        figures.join(" "),
        proxy.seen.load(std::sync::atomic::Ordering::SeqCst)
    );
    server.stop().await.unwrap();
    drop(proxy);
    fake.stop().await.unwrap();
}

/// A cancel whose answer is lost (Toss refunds, our 1 s timeout fires first:
/// 504) and is retried with the same Idempotency-Key is settled by re-reading
/// Toss: refunded once at the fake and in our record; the retry answers the
/// cancel, and so does the next retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_whose_answer_was_lost_refunds_once_when_retried() {
    let ProxiedToss { fake, toss, proxy, server } = ProxiedToss::start().await;
    let api: &Api = &server.api;
    let key = toss.pay("lost", PRICE).await.unwrap();
    let created = api.register_toss(&key, "lost", PRICE, "pw-of-the-test", "http://127.0.0.1:9/hook").await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");
    let cancel = json!({
        "source": {"schema": "shop", "table": "orders", "id": "lost"}, "password": "pw-of-the-test",
        "price": 2000, "reason": "lost answer", "account": null,
    });
    let path = "/payments/histories/cancel";

    proxy.set(ProxyMode::AnswerLate(Duration::from_millis(2500)));
    let lost = api.call_with(Method::PUT, path, &cancel, Some("cancel-1")).await.unwrap();
    assert!(matches!(lost.status, 502 | 504), "the answer was lost: {lost:?}");
    let at_toss = toss.payment(&key).await.unwrap();
    assert_eq!(at_toss["balanceAmount"].to_string(), "8000", "Toss did refund: {at_toss}");

    proxy.set(ProxyMode::Forward);
    let retried = api.call_with(Method::PUT, path, &cancel, Some("cancel-1")).await.unwrap();
    assert_eq!(retried.status, 200, "{retried:?}");
    assert_eq!(retried.body["refund"].to_string(), "2000");
    let again = api.call_with(Method::PUT, path, &cancel, Some("cancel-1")).await.unwrap();
    assert_eq!((again.status, &again.body["refund"]), (200, &json!(2000)), "{again:?}");

    let at_toss = toss.payment(&key).await.unwrap();
    let refunds = at_toss["cancels"].as_array().map_or(0, Vec::len);
    assert_eq!((refunds, at_toss["balanceAmount"].to_string().as_str()), (1, "8000"), "refunded once: {at_toss}");
    let ours = api.get("lost", "pw-of-the-test").await.unwrap();
    assert_eq!(
        (ours.body["refund"].to_string().as_str(), ours.body["cancels"].as_array().map(Vec::len)),
        ("2000", Some(1))
    );
    println!(
        "RESULT lost_cancel_answer first={} retry={} pg_refunds=1 our_refund=2000 double_refunds=0 pg_requests={}",
        lost.status,
        retried.status,
        proxy.seen.load(std::sync::atomic::Ordering::SeqCst)
    );
    server.stop().await.unwrap();
    drop(proxy);
    fake.stop().await.unwrap();
}

/// How a test makes our database refuse the commit after the PG said yes.
enum Breakage {
    /// Another connection holds SQLite's write lock past our busy timeout.
    SqliteLocked(std::path::PathBuf),
    /// PostgreSQL takes no more writes: new sessions are read-only and every
    /// open one is killed.
    PostgresKilled { admin: sqlx::PgPool, database: String },
}

/// A cancel that Toss performs while our database stops answering. On
/// PostgreSQL (every connection killed) its commit fails after Toss said yes:
/// answered 5xx, the intent stays open; the retry with the same
/// Idempotency-Key re-reads Toss and records the refund it finds. On SQLite
/// (another process holds the write lock past the busy timeout) the commit
/// waits and lands once the lock is given back. Either way: refunded once at
/// Toss and in our record, with one event.
async fn a_cancel_whose_commit_fails_after_the_pg_refunded_refunds_once(
    backend: &str,
    postgres: Option<&TestDatabase>,
) {
    let mut extra = vec![("PAYMENT_PG_TIMEOUT_SECS", "5"), ("PAYMENT_CANCEL_LEASE_SECS", "6")];
    if let Some(scratch) = postgres {
        extra.push(("PAYMENT_DATABASE_URL", scratch.url()));
    }
    let ProxiedToss { fake, toss, proxy, server } = ProxiedToss::start_with(&extra).await;
    let receiver = Receiver::start().await;
    let api: &Api = &server.api;
    let key = toss.pay("unsaved", PRICE).await.unwrap();
    let created = api.register_toss(&key, "unsaved", PRICE, "pw-of-the-test", &receiver.url()).await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");
    let cancel = json!({
        "source": {"schema": "shop", "table": "orders", "id": "unsaved"}, "password": "pw-of-the-test",
        "price": 2500, "reason": "commit fails", "account": null,
    });
    let path = "/payments/histories/cancel";

    // Toss refunds at once; its answer reaches us 1.5 s later (within our
    // 5 s timeout), by when our database refuses.
    proxy.set(ProxyMode::AnswerLate(Duration::from_millis(1500)));
    let seen = proxy.seen.load(std::sync::atomic::Ordering::SeqCst);
    let first = tokio::spawn({
        let (api, cancel) = (api.clone(), cancel.clone());
        async move { api.call_with(Method::PUT, path, &cancel, Some("cancel-unsaved")).await.unwrap() }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.seen.load(std::sync::atomic::Ordering::SeqCst) == seen {
        assert!(Instant::now() < deadline, "the cancel never reached Toss");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let breakage = match postgres {
        None => Breakage::SqliteLocked(server.dir.path().join("p.db")),
        Some(scratch) => Breakage::PostgresKilled {
            admin: scratch.admin().expect("PostgreSQL").clone(),
            database: scratch.name().expect("PostgreSQL").to_owned(),
        },
    };
    let lock = match &breakage {
        Breakage::SqliteLocked(file) => {
            use sqlx::Connection;
            let mut connection =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap();
            sqlx::query("BEGIN EXCLUSIVE").execute(&mut connection).await.unwrap();
            // Held past the server's 5 s busy timeout, then given back.
            Some(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(6)).await;
                sqlx::query("ROLLBACK").execute(&mut connection).await.unwrap();
            }))
        }
        Breakage::PostgresKilled { admin, database } => {
            // New sessions are read-only, and every open one is killed: the
            // server's next write fails whatever connection it takes.
            read_only(admin, database, true).await;
            None
        }
    };
    let first = first.await.unwrap();
    match &breakage {
        // Killed connections: the commit fails, the answer is a 5xx.
        Breakage::PostgresKilled { .. } => {
            assert_eq!(first.status, 503, "the commit failed after Toss refunded: {first:?}");
        }
        // SQLite's writer waits for the lock past the busy timeout, so the
        // commit is late, not lost: answered once it is given back.
        Breakage::SqliteLocked(_) => assert_eq!(first.status, 200, "committed once the lock was given back: {first:?}"),
    }
    let at_toss = toss.payment(&key).await.unwrap();
    assert_eq!(at_toss["balanceAmount"].to_string(), "7500", "Toss did refund: {at_toss}");
    if let Some(released) = lock {
        released.await.unwrap();
    }
    if let Breakage::PostgresKilled { admin, database } = &breakage {
        read_only(admin, database, false).await;
    }

    proxy.set(ProxyMode::Forward);
    let retried = loop {
        // 409 while the first request's claim on the intent holds.
        let reply = api.call_with(Method::PUT, path, &cancel, Some("cancel-unsaved")).await.unwrap();
        if reply.status != 409 && reply.status != 503 {
            break reply;
        }
        assert!(Instant::now() < deadline + Duration::from_secs(60), "never settled: {reply:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!((retried.status, &retried.body["refund"]), (200, &json!(2500)), "{retried:?}");
    let at_toss = toss.payment(&key).await.unwrap();
    let refunds = at_toss["cancels"].as_array().map_or(0, Vec::len);
    assert_eq!((refunds, at_toss["balanceAmount"].to_string().as_str()), (1, "7500"), "refunded once: {at_toss}");
    let ours = api.get("unsaved", "pw-of-the-test").await.unwrap();
    assert_eq!(
        (ours.body["refund"].to_string().as_str(), ours.body["cancels"].as_array().map(Vec::len)),
        ("2500", Some(1))
    );
    receiver.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(receiver.all().len(), 1, "one event for the one refund");
    println!(
        "RESULT commit_failed_after_pg_refund backend={backend} first={} retry={} pg_refunds={refunds} our_refund=2500 \
         double_refunds=0 events={}",
        first.status,
        retried.status,
        receiver.all().len()
    );
    server.stop().await.unwrap();
    drop(proxy);
    fake.stop().await.unwrap();
}

/// Makes `database`'s new sessions read-only (or writable again) and kills
/// every session open on it.
async fn read_only(admin: &sqlx::PgPool, database: &str, on: bool) {
    let setting = if on { "SET default_transaction_read_only = on" } else { "RESET default_transaction_read_only" };
    sqlx::query(&format!("ALTER DATABASE \"{database}\" {setting}")).execute(admin).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(database)
    .execute(admin)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_whose_commit_waits_for_a_locked_database_refunds_once_on_sqlite() {
    a_cancel_whose_commit_fails_after_the_pg_refunded_refunds_once("sqlite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_whose_commit_fails_after_the_pg_refunded_refunds_once_on_postgres() {
    let test = "a_cancel_whose_commit_fails_after_the_pg_refunded_refunds_once_on_postgres";
    let Some(scratch) = TestDatabase::postgres(test, Isolation::Database).await else { return };
    a_cancel_whose_commit_fails_after_the_pg_refunded_refunds_once("postgres", Some(&scratch)).await;
    scratch.remove().await;
}

/// A PG webhook arriving while Toss cannot be re-read (slower than our 1 s
/// timeout) is answered 200 at once, kept, and processed by the inbox worker
/// once Toss answers again: the change is recorded and announced once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_webhook_while_the_pg_cannot_be_read_is_kept_and_processed_later() {
    let ProxiedToss { fake, toss, proxy, server } = ProxiedToss::start().await;
    let receiver = Receiver::start().await;
    let api: &Api = &server.api;
    let key = toss.pay("inbox", PRICE).await.unwrap();
    let created = api.register_toss(&key, "inbox", PRICE, "pw-of-the-test", &receiver.url()).await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");

    // A cancel made at Toss's console; its webhook comes while Toss is slow.
    toss.cancel_at_console(&key, 1500, "at the console").await.unwrap();
    let payment = toss.payment(&key).await.unwrap();
    proxy.set(ProxyMode::Slow(Duration::from_secs(3)));
    let started = Instant::now();
    let webhook =
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-12-01T10:00:00.000000", "data": payment});
    let taken = server
        .api
        .raw(Method::POST, "/payments/webhooks/toss", Some("application/json"), webhook.to_string().into_bytes())
        .await
        .unwrap();
    let answered_ms = started.elapsed().as_millis();
    assert_eq!(taken.0, 200, "taken in while Toss is slow: {taken:?}");
    assert!(answered_ms < 8_000, "answered within Toss's 10 s: {answered_ms} ms");
    assert_eq!(receiver.all().len(), 0, "not processed yet");

    proxy.set(ProxyMode::Forward);
    let delivered = receiver.wait_for(1, Duration::from_secs(30)).await;
    let ours = api.get("inbox", "pw-of-the-test").await.unwrap();
    println!(
        "RESULT pg_webhook_while_pg_slow answered={} in {answered_ms}ms processed_later=true events_delivered={delivered} \
         our_refund={} lost_notifications=0",
        taken.0, ours.body["refund"]
    );
    assert_eq!(delivered, 1, "announced once it was processed");
    assert_eq!(ours.body["refund"], 1500, "{:?}", ours.body);
    server.stop().await.unwrap();
    drop(proxy);
    fake.stop().await.unwrap();
}

/// Changes made at Toss whose webhooks never reach us (the fake sends none
/// here): a cancel in the console and a virtual-account deposit. The
/// reconciler (`PAYMENT_RECONCILE_INTERVAL=1s`) brings our records and the
/// backend up to date: exactly one event each, none more in later runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_records_what_changed_at_the_pg_without_a_webhook() {
    let fake = payments_toss::fake::start(FakeTossConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let toss = Toss::new(fake.url());
    let fake_url = fake.url();
    let server = TestServer::start(&[
        ("PAYMENT_TOSS_URL", fake_url.as_str()),
        ("PAYMENT_RECONCILE_INTERVAL", "1s"),
        ("PAYMENT_RECONCILE_PACE_MS", "1"),
    ])
    .await
    .unwrap();
    let receiver = Receiver::start().await;
    let api: &Api = &server.api;
    let card = toss.pay("drift-card", PRICE).await.unwrap();
    assert_eq!(
        api.register_toss(&card, "drift-card", PRICE, "pw-of-the-test", &receiver.url()).await.unwrap().status,
        201
    );
    let issued: Value = toss
        .http
        .post(format!("{}/v1/virtual-accounts", toss.url))
        .basic_auth(payments_reliability::TOSS_SECRET, Some(""))
        .json(&json!({"method": "virtual-account", "orderId": "drift-va", "orderName": "drift", "bank": "신한",
                      "customerName": "Kim", "amount": 7000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account = issued["paymentKey"].as_str().unwrap().to_owned();
    assert_eq!(
        api.register_toss(&account, "drift-va", 7000, "pw-of-the-test", &receiver.url()).await.unwrap().status,
        201
    );

    // Behind our back: a console cancel and a deposit, no webhook for either.
    toss.cancel_at_console(&card, 2500, "console").await.unwrap();
    let deposited = toss.http.put(format!("{}/internal/{account}/deposit", toss.url)).send().await.unwrap();
    assert!(deposited.status().is_success());

    let delivered = receiver.wait_for(2, Duration::from_secs(30)).await;
    // Two more runs find nothing new.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let events = receiver.all();
    let card_now = api.get("drift-card", "pw-of-the-test").await.unwrap();
    let account_now = api.get("drift-va", "pw-of-the-test").await.unwrap();
    println!(
        "RESULT reconciler drifts_made=2 events_delivered={} card_refund={} account_paid={} unreconciled=0",
        events.len(),
        card_now.body["refund"],
        !account_now.body["paid_at"].is_null()
    );
    let performance = api.call(Method::GET, "/monitors/performance", &Value::Null).await.unwrap();
    let last_run = &performance.body["reconciler"];
    assert_eq!(performance.status, 200, "{performance:?}");
    assert!(last_run["checked"].as_u64().unwrap_or(0) >= 2, "the monitor shows the last run: {last_run}");
    assert!(last_run["finished_at"].is_string(), "{last_run}");
    assert_eq!(delivered, 2);
    assert_eq!(events.len(), 2, "exactly one event per drift: {events:?}");
    assert_eq!(card_now.body["refund"], 2500, "{:?}", card_now.body);
    assert!(!account_now.body["paid_at"].is_null(), "the deposit is recorded: {:?}", account_now.body);
    server.stop().await.unwrap();
    fake.stop().await.unwrap();
}

/// Anyone can POST a notification naming a registered payment (Toss's are
/// not signed), and each used to buy one PG read, also while the PG was down
/// (then one per retry). 40 of them about one payment, the PG answering, then
/// the PG down (slower than our 1 s timeout): each is answered 200 and kept
/// or processed, and the PG sees at most one read of that payment a second
/// (`PAYMENT_NOTIFICATION_REREAD_MS`, 1 s by default); a notification that
/// came before a successful read is answered by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_about_one_payment_buy_a_bounded_number_of_pg_reads() {
    const NOTIFICATIONS: usize = 40;
    let setup = ProxiedToss::start().await;
    let key = setup.toss.pay("flooded", PRICE).await.unwrap();
    let api = &setup.server.api;
    let created = api.register_toss(&key, "flooded", PRICE, "pw-of-the-test", "http://127.0.0.1:9/hook").await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");
    let payment = setup.toss.payment(&key).await.unwrap();
    let body =
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-12-07T12:00:00.000000", "data": payment});
    let url = format!("{}/payments/webhooks/toss", api.url);
    let http = reqwest::Client::new();
    let mut figures = Vec::new();
    for (phase, mode) in [("up", ProxyMode::Forward), ("down", ProxyMode::Slow(Duration::from_secs(3)))] {
        setup.proxy.set(mode);
        let before = setup.proxy.seen.load(std::sync::atomic::Ordering::SeqCst);
        let started = Instant::now();
        for _ in 0..NOTIFICATIONS {
            let answer = http.post(&url).json(&body).send().await.unwrap();
            assert_eq!(answer.status().as_u16(), 200, "{phase}: every notification is taken in");
        }
        // What the inbox worker does with those kept for their turn, watched
        // for a bounded time (this measures that reads do NOT happen).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let reads = setup.proxy.seen.load(std::sync::atomic::Ordering::SeqCst) - before;
        let window = started.elapsed().as_secs_f64();
        assert!(
            (reads as f64) <= window.ceil() + 1.0,
            "{phase}: {reads} PG reads in {window:.1} s for {NOTIFICATIONS} notifications of one payment"
        );
        figures.push(format!("{phase}_reads={reads} {phase}_window_s={window:.1}"));
    }
    // While the PG was down, the notifications kept for a retry coalesced
    // into one row: one retry schedule for the payment, not one per request.
    let (rows, _) = inbox_rows(&setup.server).await;
    assert_eq!(rows, 1, "one row for {NOTIFICATIONS} notifications about one payment");
    println!("RESULT notification_reads_bounded notifications={NOTIFICATIONS} {} kept_rows={rows}", figures.join(" "));
    setup.server.stop().await.unwrap();
    setup.fake.stop().await.unwrap();
}

/// How many rows the inbox of `server` (SQLite) holds, and the bytes of their sealed bodies.
async fn inbox_rows(server: &TestServer) -> (i64, i64) {
    let database = format!("sqlite://{}", server.dir.path().join("p.db").display());
    let pool = sqlx::SqlitePool::connect(&database).await.unwrap();
    let counted: (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), SUM(LENGTH(body)) FROM pg_notifications").fetch_one(&pool).await.unwrap();
    pool.close().await;
    (counted.0, counted.1.unwrap_or(0))
}

/// A notification kept for a retry (here: about payments not registered
/// here, Toss `DONE`, each with a body anyone could make 512 KiB) costs the
/// database what names its payment, not its body: 20 of them used to add
/// about 16 MiB. Measured against 20 with small bodies (the same writes, so
/// the same WAL churn): the large bodies cost nothing more, a row holds a
/// few hundred bytes, and 200 more (64 KiB each) about one of those payments add no row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_notification_costs_the_database_its_ids_not_its_body() {
    const NOTIFICATIONS: usize = 20;
    const REPEATS: usize = 200;
    let server = TestServer::start(&[]).await.unwrap();
    let size = |dir: &std::path::Path| -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".db"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    };
    let url = format!("{}/payments/webhooks/toss", server.api.url);
    let http = reqwest::Client::new();
    let send = |id: String, filler: String| {
        let body = json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-12-07T12:00:00.000000",
                          "data": {"paymentKey": id, "status": "DONE", "filler": filler}});
        let request = http.post(&url).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let mut growth = Vec::new();
    for (round, filler) in [("small", "x".to_owned()), ("large", "x".repeat(512 * 1024))] {
        let before = size(server.dir.path());
        for n in 0..NOTIFICATIONS {
            assert_eq!(send(format!("pk-{round}-{n}"), filler.clone()).await, 200, "kept for a retry");
        }
        growth.push(size(server.dir.path()).saturating_sub(before));
    }
    let (small, large) = (growth[0], growth[1]);
    assert!(
        large <= small + 64 * 1024,
        "{NOTIFICATIONS} notifications of 512 KiB grew the database by {large} bytes, of 1 byte by {small}"
    );
    let (rows, bytes) = inbox_rows(&server).await;
    assert_eq!(rows, 2 * NOTIFICATIONS as i64, "one row per distinct payment");
    let per_row = bytes / rows;
    assert!(per_row <= 512, "a kept notification's sealed body is {per_row} bytes");

    for _ in 0..REPEATS {
        assert_eq!(send("pk-large-0".to_owned(), "x".repeat(64 * 1024)).await, 200, "taken in");
    }
    let (rows_after, bytes_after) = inbox_rows(&server).await;
    assert_eq!(rows_after, rows, "{REPEATS} repeats about one payment refresh its row");
    assert!(bytes_after <= bytes + 64, "the repeats grew the bodies from {bytes} to {bytes_after} bytes");
    println!(
        "RESULT kept_notification_bytes notifications={NOTIFICATIONS} growth_small_bodies={small} \
         growth_512kib_bodies={large} sealed_body_bytes_per_row={per_row} rows_after_{REPEATS}_repeats={rows_after}"
    );
    server.stop().await.unwrap();
}

/// 1,000 forged notifications about payments not registered here wait in the
/// inbox (anyone can send them); then a genuine one, about a registered
/// payment cancelled at Toss's console, comes while Toss is slower than our
/// timeout, so it is kept too. Once Toss answers again, the genuine change
/// reaches its backend within a couple of seconds: the inbox takes
/// notifications about registered payments first, several at once (it used
/// to take them oldest first, one by one: 1 s more per 50 forged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_notification_is_not_delayed_by_a_flood_of_forged_ones() {
    const FORGED: usize = 1_000;
    let setup = ProxiedToss::start().await;
    let receiver = Receiver::start().await;
    let api = &setup.server.api;
    let key = setup.toss.pay("genuine", PRICE).await.unwrap();
    let created = api.register_toss(&key, "genuine", PRICE, "pw-of-the-test", &receiver.url()).await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");
    let url = format!("{}/payments/webhooks/toss", api.url);
    let http = reqwest::Client::new();
    let forged: Vec<_> = (0..FORGED)
        .map(|n| {
            let body = json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-12-07T12:00:00.000000",
                              "data": {"paymentKey": format!("forged-{n}"), "status": "DONE"}});
            let request = http.post(&url).json(&body);
            async move { request.send().await.map(|r| r.status().as_u16()) }
        })
        .collect();
    let answers: Vec<_> = futures::stream::iter(forged).buffer_unordered(16).collect().await;
    assert!(answers.iter().all(|a| matches!(a, Ok(200))), "every forged one is taken in (kept)");
    // They come due 5 s after they came (a payment not registered yet is
    // retried from then): from then on they stand before any new one.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let payment = setup.toss.cancel_at_console(&key, 1000, "at the console").await.unwrap();
    let genuine = json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-12-07T12:00:01.000000",
                         "data": payment});
    setup.proxy.set(ProxyMode::Slow(Duration::from_secs(3)));
    let answer = http.post(&url).json(&genuine).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200, "kept while Toss is slow");
    setup.proxy.set(ProxyMode::Forward);
    let back = Instant::now();
    assert_eq!(receiver.wait_for(1, Duration::from_secs(30)).await, 1, "the genuine change is announced");
    let took = back.elapsed();
    assert!(took < Duration::from_secs(2), "the genuine change waited {took:?} behind {FORGED} forged ones");
    assert_eq!(receiver.all()[0].json["current"]["refund"], json!(1000));
    println!("RESULT genuine_behind_forged forged={FORGED} delivered_after_ms={}", took.as_millis());
    setup.server.stop().await.unwrap();
    setup.fake.stop().await.unwrap();
}

/// The inbox is bounded in rows (`PAYMENT_NOTIFICATION_INBOX_MAX_ROWS`,
/// here 100): past it a notification that would be stored is answered 503
/// (the PG sends it again later), so no client without a key fills the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_is_bounded_in_rows_and_answers_503_past_it() {
    const BOUND: usize = 100;
    let server = TestServer::start(&[("PAYMENT_NOTIFICATION_INBOX_MAX_ROWS", "100")]).await.unwrap();
    let url = format!("{}/payments/webhooks/toss", server.api.url);
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for n in 0..BOUND + 30 {
        let body = json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": format!("unknown-{n}"), "status": "DONE"}});
        statuses.push(http.post(&url).json(&body).send().await.unwrap().status().as_u16());
    }
    let kept = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!(kept + refused, statuses.len(), "200 or 503 only: {statuses:?}");
    assert_eq!(kept, BOUND, "kept up to the bound");
    assert!(statuses[BOUND..].iter().all(|s| *s == 503), "and refused past it");
    println!("RESULT inbox_bound max_rows={BOUND} kept={kept} refused_503={refused}");
    server.stop().await.unwrap();
}

/// A fake Toss, a stand-in in front of it (forwarding until told otherwise),
/// and a server that reaches Toss through the stand-in with a 1 s timeout.
struct ProxiedToss {
    fake: payments_fakekit::RunningServer,
    toss: Toss,
    proxy: PgProxy,
    server: TestServer,
}

impl ProxiedToss {
    /// Our PG timeout is 1 s.
    async fn start() -> Self {
        Self::start_with(&[("PAYMENT_PG_TIMEOUT_SECS", "1")]).await
    }

    async fn start_with(extra: &[(&str, &str)]) -> Self {
        let fake = payments_toss::fake::start(FakeTossConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let toss = Toss::new(fake.url());
        let proxy = PgProxy::start("127.0.0.1:0".parse().unwrap(), fake.url(), ProxyMode::Forward).await.unwrap();
        let pg_url = proxy.url();
        let mut vars = vec![("PAYMENT_TOSS_URL", pg_url.as_str())];
        vars.extend_from_slice(extra);
        let server = TestServer::start(&vars).await.unwrap();
        Self { fake, toss, proxy, server }
    }
}

fn assert_json_error(body: &Value) {
    assert!(body["code"].is_string() && body["message"].is_string(), "a JSON error: {body}");
}

/// A saved-card charge whose answer was lost (Toss charged; its answer
/// reaches us after our 1 s timeout: 504) and whose caller never comes back:
/// `payments reconcile`, run as the operator would (its own process, the
/// server's configuration), finds the order at Toss, records the payment the
/// charge made and announces it with one webhook; nothing is charged again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_charge_is_recorded_by_payments_reconcile_with_one_webhook() {
    let extra = [
        ("PAYMENT_PG_TIMEOUT_SECS", "1"),
        ("PAYMENT_CANCEL_LEASE_SECS", "2"),
        // No background reconciliation: the command does it.
        ("PAYMENT_RECONCILE_INTERVAL", "0"),
    ];
    let ProxiedToss { fake, toss, proxy, server } = ProxiedToss::start_with(&extra).await;
    let receiver = Receiver::start().await;
    let api: &Api = &server.api;
    let billing_key = toss.save_card("customer-abandoned").await.unwrap().expect("a billing key");
    let saved = api.save_toss_card(&billing_key, "customer-abandoned", "pw-of-the-card").await.unwrap();
    assert_eq!(saved.status, 201, "{saved:?}");
    let card = saved.body["id"].as_str().unwrap().to_owned();

    // Toss charges; its answer comes after our timeout.
    proxy.set(ProxyMode::AnswerLate(Duration::from_secs(3)));
    let charge = json!({
        "password": "pw-of-the-card", "source": {"schema": "shop", "table": "orders", "id": "order-abandoned"},
        "price": 4_900, "title": "December", "webhook_url": receiver.url(),
    });
    let lost = api
        .call_with(Method::POST, &format!("/payments/reservations/{card}/charge"), &charge, Some("charge-1"))
        .await
        .unwrap();
    assert_eq!(lost.status, 504, "the answer was lost: {lost:?}");
    proxy.set(ProxyMode::Forward);
    // The caller is gone. Once the intent's lease (2 s) is over, its sender
    // is presumed dead too: wait that long, there is no event to wait on.
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let binary = payments_reliability::payments_binary().unwrap();
    let env: Vec<(String, String)> = server_env(&server, &extra, &proxy.url());
    let out = payments_reliability::run(&binary, server.dir.path(), &env, &["reconcile", "--since", "1d"]).await;
    assert!(out.status.success(), "reconcile failed:\n{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("abandoned charges recorded 1, not charged 0 (of 1)"), "{}", out.stdout);

    assert_eq!(receiver.wait_for(1, Duration::from_secs(20)).await, 1, "announced");
    let delivery = receiver.all().remove(0);
    let ours = api
        .call(
            Method::PATCH,
            "/payments/histories/get",
            &json!({"schema": "shop", "table": "orders", "id": "order-abandoned", "password": "pw-of-the-card"}),
        )
        .await
        .unwrap();
    let again = receiver.wait_for(2, Duration::from_millis(1_500)).await;
    println!(
        "RESULT abandoned_charge first_answer={} recorded_by_reconcile=1 webhooks={again} read={} price={}",
        lost.status, ours.status, ours.body["price"],
    );
    // The payment as recorded, with no state before it: the backend learns
    // of a payment it never got the answer of.
    assert_eq!(delivery.order(), "order-abandoned");
    assert!(delivery.json["previous"].is_null(), "{}", delivery.plaintext);
    assert_eq!(delivery.json["current"]["price"], 4900);
    assert!(!delivery.json["current"]["paid_at"].is_null());
    assert_eq!((ours.status, &ours.body["price"]), (200, &json!(4900)), "{ours:?}");
    assert_eq!(ours.body["reservation_id"], json!(card), "the payment points at its card");
    assert_eq!(again, 1, "one webhook, none more");
    // The caller's late retry answers the recorded payment; nothing is charged again.
    let retried = api
        .call_with(Method::POST, &format!("/payments/reservations/{card}/charge"), &charge, Some("charge-1"))
        .await
        .unwrap();
    assert_eq!((retried.status, &retried.body["id"]), (201, &ours.body["id"]), "{retried:?}");
    server.stop().await.unwrap();
    fake.stop().await.unwrap();
}

/// The environment the server of `server` runs with, for a command run beside it.
fn server_env(server: &TestServer, extra: &[(&str, &str)], toss_url: &str) -> Vec<(String, String)> {
    let mut vars = payments_reliability::base_vars(server.dir.path());
    for (name, value) in extra {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    vars.insert("PAYMENT_TOSS_URL".to_owned(), toss_url.to_owned());
    vars.into_iter().collect()
}
