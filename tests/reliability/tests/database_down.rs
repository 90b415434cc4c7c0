//! A PG webhook arriving while our database is down is answered 200 (the PG
//! would otherwise give up on it: Toss after 7 tries, Iamport after one), kept
//! in the instance's spool, and processed once the database is back: the
//! change is recorded and announced exactly once. PostgreSQL is cut off by a
//! TCP stand-in that closes and refuses connections; SQLite is held locked by
//! another process past the server's busy timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use payments_reliability::{Api, DbProxy, Isolation, Receiver, TestDatabase, TestServer};
use reqwest::Method;
use serde_json::json;

const PRICE: u64 = 10_000;

/// Bytes waiting in the server's spool (its records are whole lines).
fn spooled_bytes(dir: &Path) -> u64 {
    ["notifications.spool", "notifications.spool.draining"]
        .iter()
        .filter_map(|name| std::fs::metadata(dir.join(name)).ok())
        .map(|m| m.len())
        .sum()
}

/// Sends Toss's `PAYMENT_STATUS_CHANGED` about `payment` (as the fake Toss
/// holds it) to the server, as Toss does; the status and body of the answer.
async fn notify_toss(api: &Api, payment: &serde_json::Value) -> (u16, String) {
    let webhook =
        json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-12-07T10:00:00.000000", "data": payment});
    api.raw(Method::POST, "/payments/webhooks/toss", Some("application/json"), webhook.to_string().into_bytes())
        .await
        .unwrap()
}

enum Outage {
    Postgres(DbProxy),
    /// Another connection holds SQLite's write lock until this is sent.
    Sqlite(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>),
}

async fn take_down(server: &TestServer, proxy: Option<DbProxy>) -> Outage {
    match proxy {
        Some(proxy) => {
            proxy.cut();
            Outage::Postgres(proxy)
        }
        None => {
            use sqlx::Connection;
            let file = server.dir.path().join("p.db");
            let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap();
            sqlx::query("BEGIN EXCLUSIVE").execute(&mut holder).await.unwrap();
            let (release, released) = tokio::sync::oneshot::channel::<()>();
            let holding = tokio::spawn(async move {
                let _ = released.await;
                sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
                holder.close().await.unwrap();
            });
            Outage::Sqlite(release, holding)
        }
    }
}

async fn bring_back(outage: Outage) -> Option<DbProxy> {
    match outage {
        Outage::Postgres(proxy) => {
            proxy.restore();
            Some(proxy)
        }
        Outage::Sqlite(release, holding) => {
            let _ = release.send(());
            holding.await.unwrap();
            None
        }
    }
}

async fn a_pg_webhook_while_the_database_is_down_is_processed_once_it_is_back(
    backend: &str,
    scratch: Option<&TestDatabase>,
) {
    let proxy = match scratch {
        Some(_) => Some(DbProxy::start("127.0.0.1:5432".parse().unwrap()).await.unwrap()),
        None => None,
    };
    let database_url = match (scratch, &proxy) {
        (Some(scratch), Some(proxy)) => {
            let mut url = reqwest::Url::parse(scratch.url()).unwrap();
            let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
            assert_eq!(target, "127.0.0.1:5432", "the stand-in forwards to the test's PostgreSQL");
            url.set_port(Some(proxy.addr.port())).unwrap();
            Some(url.to_string())
        }
        _ => None,
    };
    let mut extra = vec![("PAYMENT_DATABASE_MAX_CONNECTIONS", "4")];
    if let Some(url) = &database_url {
        extra.push(("PAYMENT_DATABASE_URL", url.as_str()));
    }
    let server = TestServer::start(&extra).await.unwrap();
    let receiver = Receiver::start().await;
    let (api, toss): (&Api, _) = (&server.api, &server.toss);
    let key = toss.pay("outage", PRICE).await.unwrap();
    let created = api.register_toss(&key, "outage", PRICE, "pw-of-the-test", &receiver.url()).await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");

    // A cancel at Toss's console; its webhook comes while our database is down.
    toss.cancel_at_console(&key, 1500, "at the console").await.unwrap();
    let payment = toss.payment(&key).await.unwrap();
    let outage = take_down(&server, proxy).await;
    let started = Instant::now();
    let taken = notify_toss(api, &payment).await;
    let answered_ms = started.elapsed().as_millis();
    assert_eq!(taken.0, 200, "taken in while the database is down: {taken:?}");
    assert!(answered_ms < 9_000, "answered within Toss's 10 s: {answered_ms} ms");
    let spooled = spooled_bytes(server.dir.path());
    assert!(spooled > 0, "kept in the spool");
    let unavailable = api.get("outage", "pw-of-the-test").await.unwrap();
    assert_eq!(receiver.all().len(), 0, "not processed while the database is down");

    let _proxy = bring_back(outage).await;
    let delivered = receiver.wait_for(1, Duration::from_secs(30)).await;
    // A second event would come from a second processing: give it time to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let events = receiver.all();
    let ours = api.get("outage", "pw-of-the-test").await.unwrap();
    let left = spooled_bytes(server.dir.path());
    println!(
        "RESULT pg_webhook_while_database_down backend={backend} answered={} in {answered_ms}ms spooled_bytes={spooled} \
         read_during_outage={} events_delivered={} our_refund={} spool_left={left} lost_notifications={}",
        taken.0,
        unavailable.status,
        events.len(),
        ours.body["refund"],
        usize::from(delivered == 0),
    );
    assert_eq!(delivered, 1, "processed once the database is back");
    assert_eq!(events.len(), 1, "exactly one event: {events:?}");
    assert_eq!(events[0].json["current"]["refund"], 1500, "{:?}", events[0].json);
    assert_eq!((ours.status, &ours.body["refund"]), (200, &json!(1500)), "{:?}", ours.body);
    assert_eq!(left, 0, "the spool is empty once moved in");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_webhook_while_postgres_is_down_is_answered_200_and_processed_once_it_is_back() {
    let test = "a_pg_webhook_while_postgres_is_down_is_answered_200_and_processed_once_it_is_back";
    let Some(scratch) = TestDatabase::postgres(test, Isolation::Database).await else { return };
    a_pg_webhook_while_the_database_is_down_is_processed_once_it_is_back("postgres", Some(&scratch)).await;
    scratch.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_webhook_while_sqlite_is_locked_is_answered_200_and_processed_once_it_is_free() {
    a_pg_webhook_while_the_database_is_down_is_processed_once_it_is_back("sqlite", None).await;
}

/// A PG notification kept in the spool (SQLite locked), then the histories
/// key rotated. A server whose configuration dropped the old key refuses to
/// start, naming the spooled notification (it was acknowledged to Toss: it
/// must not become unreadable); `payments keys rotate`, with the old key as
/// previous, moves the spool in and re-seals it; the server on the new key
/// alone then processes it: the change recorded and announced once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_with_notifications_spooled_loses_none() {
    const NEW_KEY: &str = "rotated-history-key-of-32-bytes!";
    // Toss outlives the servers (a local mode server's own fake dies with it).
    let fake = payments_toss::fake::start(Default::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let toss = payments_reliability::Toss::new(fake.url());
    let fake_url = fake.url();
    let server =
        TestServer::start(&[("PAYMENT_DATABASE_MAX_CONNECTIONS", "4"), ("PAYMENT_TOSS_URL", fake_url.as_str())])
            .await
            .unwrap();
    let receiver = Receiver::start().await;
    let api = server.api.clone();
    let key = toss.pay("rotation", PRICE).await.unwrap();
    let created = api.register_toss(&key, "rotation", PRICE, "pw-of-the-test", &receiver.url()).await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");
    toss.cancel_at_console(&key, 1500, "at the console").await.unwrap();
    let payment = toss.payment(&key).await.unwrap();
    let outage = take_down(&server, None).await;
    let taken = notify_toss(&api, &payment).await;
    assert_eq!(taken.0, 200, "acknowledged to Toss: {taken:?}");
    // Stopped while the database is still locked: the notification stays spooled.
    let dir = server.stop().await.unwrap();
    let _ = bring_back(outage).await;
    let spooled = spooled_bytes(dir.path());
    assert!(spooled > 0, "kept in the spool");

    let database = format!("sqlite://{}", dir.path().join("p.db").display());
    let spool = dir.path().join("notifications.spool").display().to_string();
    let on_new_key = [
        ("PAYMENT_DATABASE_URL", database.as_str()),
        ("PAYMENT_NOTIFICATION_SPOOL", spool.as_str()),
        ("PAYMENT_TOSS_URL", fake_url.as_str()),
        ("PAYMENT_HISTORY_ENCRYPTION_KEY", NEW_KEY),
    ];
    let refused = TestServer::start(&on_new_key).await.err().expect("the old key still seals a notification");
    let refusal = format!("{refused:#}");
    assert!(
        refusal.contains("1 PG notifications") && refusal.contains("1 in the spool"),
        "names what the key still seals: {refusal}"
    );
    assert!(refusal.contains("PAYMENT_HISTORY_ENCRYPTION_PREVIOUS_KEYS"), "{refusal}");

    let mut rotate = payments_reliability::base_vars(dir.path());
    rotate.insert("PAYMENT_TOSS_URL".into(), fake_url.clone());
    rotate.insert("PAYMENT_HISTORY_ENCRYPTION_KEY".into(), NEW_KEY.into());
    rotate.insert("PAYMENT_HISTORY_ENCRYPTION_PREVIOUS_KEYS".into(), payments_reliability::HISTORY_KEY.into());
    let env: Vec<(String, String)> = rotate.into_iter().collect();
    let binary = payments_reliability::payments_binary().unwrap();
    let out = payments_reliability::run(&binary, dir.path(), &env, &["keys", "rotate"]).await;
    assert!(out.status.success(), "keys rotate:\n{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("moved 1 spooled PG notifications"), "{}", out.stdout);
    assert!(out.stdout.contains("notifications: 1"), "the moved notification re-sealed: {}", out.stdout);

    let server = TestServer::start(&on_new_key).await.unwrap();
    let delivered = receiver.wait_for(1, Duration::from_secs(20)).await;
    let events = receiver.all();
    let ours = server.api.get("rotation", "pw-of-the-test").await.unwrap();
    println!(
        "RESULT key_rotation_with_spool spooled_bytes={spooled} refused_start=1 moved=1 events_delivered={delivered} \
         our_refund={}",
        ours.body["refund"]
    );
    assert_eq!(delivered, 1, "processed once on the new key");
    assert_eq!(events[0].json["current"]["refund"], 1500, "{}", events[0].plaintext);
    assert_eq!((ours.status, &ours.body["refund"]), (200, &json!(1500)), "{ours:?}");
    assert_eq!(spooled_bytes(dir.path()), 0, "the spool is empty");
    server.stop().await.unwrap();
    fake.stop().await.unwrap();
}

/// A database that hangs (it accepts and never answers: queries wait, nothing
/// is refused): the first PG notification waits on it for the inline budgets
/// and is then kept in the spool, which opens the circuit; every next one is
/// kept at once, answered 200 in milliseconds instead of seconds each; once
/// the database answers again the circuit closes and every change is
/// recorded and announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_hangs_notifications_are_kept_in_milliseconds_once_the_circuit_is_open() {
    const PAYMENTS: u64 = 6;
    let test = "while_the_database_hangs_notifications_are_kept_in_milliseconds_once_the_circuit_is_open";
    let Some(scratch) = TestDatabase::postgres(test, Isolation::Database).await else { return };
    let proxy = DbProxy::start("127.0.0.1:5432".parse().unwrap()).await.unwrap();
    let mut url = reqwest::Url::parse(scratch.url()).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    let url = url.to_string();
    let server =
        TestServer::start(&[("PAYMENT_DATABASE_URL", url.as_str()), ("PAYMENT_DATABASE_MAX_CONNECTIONS", "4")])
            .await
            .unwrap();
    let receiver = Receiver::start().await;
    let (api, toss): (&Api, _) = (&server.api, &server.toss);
    let mut payments = Vec::new();
    for n in 0..PAYMENTS {
        let order = format!("hang-{n}");
        let key = toss.pay(&order, PRICE).await.unwrap();
        let created = api.register_toss(&key, &order, PRICE, "pw-of-the-test", &receiver.url()).await.unwrap();
        assert_eq!(created.status, 201, "{created:?}");
        toss.cancel_at_console(&key, 1000 + 100 * n, "at the console").await.unwrap();
        payments.push(toss.payment(&key).await.unwrap());
    }

    proxy.hang();
    let mut answered_ms = Vec::new();
    for payment in &payments {
        let started = Instant::now();
        let taken = notify_toss(api, payment).await;
        answered_ms.push(started.elapsed().as_millis());
        assert_eq!(taken.0, 200, "taken in while the database hangs: {taken:?}");
    }
    let spooled = spooled_bytes(server.dir.path());
    proxy.restore();
    let delivered = receiver.wait_for(PAYMENTS as usize, Duration::from_secs(60)).await;
    let mut refunds = Vec::new();
    for n in 0..PAYMENTS {
        refunds.push(api.get(&format!("hang-{n}"), "pw-of-the-test").await.unwrap().body["refund"].clone());
    }
    let slowest_after_first = answered_ms[1..].iter().max().copied().unwrap_or(0);
    println!(
        "RESULT database_hangs first_ms={} slowest_next_ms={slowest_after_first} answered_ms={answered_ms:?} \
         spooled_bytes={spooled} events_delivered={delivered}",
        answered_ms[0]
    );
    assert!(answered_ms[0] < 9_000, "the first within Toss's 10 s: {answered_ms:?}");
    assert!(slowest_after_first < 100, "the next ones kept at once (circuit open): {answered_ms:?}");
    assert!(spooled > 0, "kept in the spool");
    assert_eq!(delivered, PAYMENTS as usize, "every change announced once the database answers");
    for (n, refund) in refunds.iter().enumerate() {
        assert_eq!(refund, &json!(1000 + 100 * n as u64), "hang-{n} recorded");
    }
    server.stop().await.unwrap();
    drop(proxy);
    scratch.remove().await;
}
