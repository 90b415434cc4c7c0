//! The real `payments` process SIGKILLed under a steady load of
//! registrations, cancels and PG webhooks, then restarted on the same
//! database: every acknowledged write is there, no refund exceeds its price,
//! and every recorded event reaches the receiver (none lost, duplicates counted).
//! Runs on SQLite and, when `PAYMENT_TEST_POSTGRES_URL` is set, on a scratch
//! PostgreSQL database.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payments_reliability::{
    Api, Isolation, PgProxy, ProxyMode, Receiver, ServerProcess, TestDatabase, Toss, base_vars, free_port,
    payments_binary,
};
use payments_toss::fake::FakeTossConfig;
use serde_json::json;

const PRICE: u64 = 10_000;
const WORKERS: usize = 4;
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(2500);

#[derive(Default)]
struct Acks {
    sent: AtomicU64,
    registered: Mutex<Vec<(String, String)>>,
    cancelled: Mutex<HashMap<String, u64>>,
    pg_side_cancels: AtomicU64,
    failed: AtomicU64,
}

async fn worker(id: usize, api: Api, toss: Toss, hook: String, acks: Arc<Acks>, stop: Arc<AtomicBool>) {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let order = format!("w{id}-{n}");
        let Ok(key) = toss.pay(&order, PRICE).await else { continue };
        acks.sent.fetch_add(1, Ordering::SeqCst);
        match api.register_toss(&key, &order, PRICE, "pw-of-the-test", &hook).await {
            Ok(r) if r.status == 201 => acks.registered.lock().unwrap().push((order.clone(), key.clone())),
            _ => {
                acks.failed.fetch_add(1, Ordering::SeqCst);
                continue;
            }
        }
        acks.sent.fetch_add(1, Ordering::SeqCst);
        match api.cancel(&order, "pw-of-the-test", 1000, "load").await {
            Ok(r) if r.status == 200 => *acks.cancelled.lock().unwrap().entry(order.clone()).or_default() += 1000,
            _ => {
                acks.failed.fetch_add(1, Ordering::SeqCst);
            }
        }
        // A cancel made at the PG itself: the server hears of it by webhook.
        if toss.cancel_at_console(&key, 500, "at the PG").await.is_ok() {
            acks.pg_side_cancels.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The database the killed server ran on, read directly by the test.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn connect(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Self::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap())
        } else {
            Self::Postgres(sqlx::PgPool::connect(url).await.unwrap())
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .unwrap()
    }

    /// The id of every recorded event, lower-case.
    async fn event_ids(&self) -> HashSet<String> {
        let sql = "SELECT CAST(id AS TEXT) FROM payment_history_webhooks";
        let ids: Vec<String> = match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        }
        .unwrap();
        ids.into_iter().map(|id| id.to_lowercase()).collect()
    }

    async fn close(self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_write_and_no_event_on_sqlite() {
    sigkill_under_load(None, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_write_and_no_event_on_postgres() {
    let test = "sigkill_under_load_loses_no_acknowledged_write_and_no_event_on_postgres";
    let Some(scratch) = TestDatabase::postgres(test, Isolation::Database).await else { return };
    sigkill_under_load(Some(scratch.url().to_owned()), "postgres").await;
    scratch.remove().await;
}

/// The scenario on `database` (a SQLite file in a temporary directory when `None`).
async fn sigkill_under_load(database: Option<String>, backend: &str) {
    let binary = payments_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let fake = payments_toss::fake::start(
        FakeTossConfig {
            webhook_url: Some(format!("{url}/payments/webhooks/toss")),
            // The PG-side cancels right after ours must go through: this test
            // is about the crash, not Toss's one-cancel-a-second rule.
            consecutive_cancel_window: Duration::ZERO,
            ..FakeTossConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let receiver = Receiver::start().await;
    let mut vars = base_vars(dir.path());
    vars.insert("PAYMENT_API_PORT".into(), port.to_string());
    vars.insert("PAYMENT_TOSS_URL".into(), fake.url());
    vars.insert("PAYMENT_LOG".into(), "warn".into());
    if let Some(url) = &database {
        vars.insert("PAYMENT_DATABASE_URL".into(), url.clone());
    }
    let db_url = vars["PAYMENT_DATABASE_URL"].clone();
    // A claim held by the killed process is taken over once its lease expires.
    vars.insert("PAYMENT_WEBHOOK_TIMEOUT_SECS".into(), "1".into());
    vars.insert("PAYMENT_WEBHOOK_LEASE_SECS".into(), "3".into());
    // A cancel the killed process was sending is settled by re-reading Toss.
    vars.insert("PAYMENT_PG_TIMEOUT_SECS".into(), "1".into());
    vars.insert("PAYMENT_CANCEL_LEASE_SECS".into(), "2".into());
    vars.insert("PAYMENT_CANCEL_SETTLE_SECS".into(), "1".into());
    let env: Vec<(String, String)> = vars.clone().into_iter().collect();

    let mut server = ServerProcess::start(&binary, dir.path(), &env).await;
    let api = Api::new(url.clone());
    let toss = Toss::new(fake.url());
    let acks = Arc::new(Acks::default());
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| tokio::spawn(worker(i, api.clone(), toss.clone(), receiver.url(), acks.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(LOAD_BEFORE_KILL).await;
    let killed = server.kill().await; // SIGKILL
    let before_kill = receiver.all().len();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        tokio::time::timeout(Duration::from_secs(60), w).await.unwrap().unwrap();
    }

    let mut server = ServerProcess::start(&binary, dir.path(), &env).await;

    // Let the outbox drain: every event delivered (bounded wait).
    let db = Db::connect(&db_url).await;
    let pending_sql = "SELECT COUNT(*) FROM payment_webhook_outbox WHERE state <> 'delivered'";
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = db.count(pending_sql).await;
        if pending == 0 || Instant::now() > until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every cancel intent the kill left open is settled (bounded wait).
    let open_sql = "SELECT COUNT(*) FROM payment_cancel_intents WHERE state IN ('pending', 'unknown')";
    let open_at_restart = db.count(open_sql).await;
    let until = Instant::now() + Duration::from_secs(60);
    while db.count(open_sql).await > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let open_intents = db.count(open_sql).await;
    loop {
        let pending = db.count(pending_sql).await;
        if pending == 0 || Instant::now() > until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let registered = acks.registered.lock().unwrap().clone();
    let cancelled = acks.cancelled.lock().unwrap().clone();
    let mut lost_registrations = 0;
    let mut lost_cancels = 0;
    let mut over_refunded = 0;
    let mut double_refunds = 0;
    for (order, key) in &registered {
        // Each worker asks one API cancel ("load") of each payment: Toss never made two.
        let at_toss = toss.payment(key).await.unwrap();
        let api_cancels =
            at_toss["cancels"].as_array().map_or(0, |all| all.iter().filter(|c| c["cancelReason"] == "load").count());
        if api_cancels > 1 {
            double_refunds += 1;
        }
        let reply = api.get(order, "pw-of-the-test").await.unwrap();
        if reply.status != 200 {
            lost_registrations += 1;
            continue;
        }
        let refund = reply.body["refund"].as_number().map_or(0, |n| n.to_string().parse::<u64>().unwrap_or(0));
        if refund > PRICE {
            over_refunded += 1;
        }
        if refund < cancelled.get(order).copied().unwrap_or(0) {
            lost_cancels += 1;
        }
    }
    // Reading every payment back above can still record late changes (a
    // PG's webhook of a cancel processed after the drain): their events are
    // delivered like the rest, within a bound, before the count.
    let until = Instant::now() + Duration::from_secs(30);
    while db.count(pending_sql).await > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let histories = db.count("SELECT COUNT(*) FROM payment_histories").await;
    let events = db.event_ids().await;
    let undelivered = db.count(pending_sql).await;
    db.close().await;
    let deliveries = receiver.all();
    let tally = receiver.tally(&events);
    let (lost_events, unknown, duplicates) = (tally.lost, tally.unknown, tally.repeats);
    // A delivery the receiver answered but the killed process had not yet
    // marked is sent again after the restart (at-least-once; receivers
    // de-duplicate on webhook-id). Only such deliveries may repeat.
    let first_life: HashSet<String> = deliveries[..before_kill].iter().map(|d| d.id.to_lowercase()).collect();
    let second_life: Vec<String> = deliveries[before_kill..].iter().map(|d| d.id.to_lowercase()).collect();
    let second_distinct: HashSet<&String> = second_life.iter().collect();
    let repeated_after_restart = second_life.len() - second_distinct.len();
    let repeats_of_first_life = second_distinct.iter().filter(|id| first_life.contains(id.as_str())).count();
    let repeats_within_first_life = before_kill - first_life.len();
    let bad_bodies = receiver.rejected().len();

    server.kill().await;
    fake.stop().await.unwrap();
    println!(
        "RESULT sigkill backend={backend} requests_sent={} registrations_acknowledged={} cancels_acknowledged={} pg_side_cancels={} \
         failed_or_refused={} killed={killed} histories_in_db={} lost_registrations={lost_registrations} \
         lost_cancels={lost_cancels} over_refunded={over_refunded} events_recorded={} deliveries={} \
         distinct_delivered={} lost_events={lost_events} raw_duplicates={duplicates} \
         redelivered_after_restart_from_kill_window={repeats_of_first_life} duplicates_within_one_life={} \
         undelivered={undelivered} cancel_intents_open_at_restart={open_at_restart} \
         cancel_intents_left_open={open_intents} double_refunds={double_refunds}",
        acks.sent.load(Ordering::SeqCst),
        registered.len(),
        cancelled.len(),
        acks.pg_side_cancels.load(Ordering::SeqCst),
        acks.failed.load(Ordering::SeqCst),
        histories,
        events.len(),
        tally.deliveries,
        tally.distinct,
        repeated_after_restart + repeats_within_first_life,
    );
    assert!(registered.len() >= 5, "the load ran before the kill");
    assert_eq!(lost_registrations, 0, "every acknowledged registration survives");
    assert_eq!(lost_cancels, 0, "every acknowledged cancel survives");
    assert_eq!(over_refunded, 0);
    assert_eq!(open_intents, 0, "every cancel intent left open by the kill was settled");
    assert_eq!(double_refunds, 0, "no cancel was refunded twice at the PG");
    assert_eq!(undelivered, 0, "the outbox drained after the restart");
    assert_eq!(lost_events, 0, "every recorded event was delivered");
    assert_eq!(unknown, 0, "nothing delivered that was not recorded");
    assert_eq!(bad_bodies, 0);
    assert_eq!(repeats_within_first_life, 0, "no event delivered twice by one process");
    assert_eq!(repeated_after_restart, 0, "no event delivered twice after the restart");
    assert_eq!(duplicates, repeats_of_first_life, "the only repeats are deliveries in flight at the kill");
    assert!(repeats_of_first_life <= 32, "at most PAYMENT_WEBHOOK_CONCURRENCY deliveries were in flight");
}

/// SIGKILL between the PG's refund and our commit: the cancel reaches Toss
/// (through a stand-in that answers only after 30 s), the process is killed
/// once Toss shows the refund, and after the restart the background settling
/// re-reads Toss and records that refund: once at Toss, once in our record,
/// one event delivered. A retry of the caller's cancel with its key then
/// answers the settled cancel without refunding again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_the_pg_refund_and_our_commit_refunds_once() {
    let binary = payments_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let fake = payments_toss::fake::start(FakeTossConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let proxy = PgProxy::start("127.0.0.1:0".parse().unwrap(), fake.url(), ProxyMode::Forward).await.unwrap();
    let receiver = Receiver::start().await;
    let mut vars = base_vars(dir.path());
    vars.insert("PAYMENT_API_PORT".into(), port.to_string());
    vars.insert("PAYMENT_TOSS_URL".into(), proxy.url());
    vars.insert("PAYMENT_LOG".into(), "warn".into());
    vars.insert("PAYMENT_PG_TIMEOUT_SECS".into(), "60".into());
    vars.insert("PAYMENT_CANCEL_LEASE_SECS".into(), "61".into());
    vars.insert("PAYMENT_CANCEL_SETTLE_SECS".into(), "1".into());
    let env: Vec<(String, String)> = vars.clone().into_iter().collect();
    let mut server = ServerProcess::start(&binary, dir.path(), &env).await;
    let api = Api::new(url.clone());
    let toss = Toss::new(fake.url());
    let key = toss.pay("killed", PRICE).await.unwrap();
    let created = api.register_toss(&key, "killed", PRICE, "pw-of-the-test", &receiver.url()).await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");

    // The refund happens at Toss; its answer is held back; we die meanwhile.
    proxy.set(ProxyMode::AnswerLate(Duration::from_secs(30)));
    let body = json!({
        "source": {"schema": "shop", "table": "orders", "id": "killed"}, "password": "pw-of-the-test",
        "price": 3000, "reason": "killed", "account": null,
    });
    let cancel = {
        let api = api.clone();
        let body = body.clone();
        tokio::spawn(async move {
            api.call_with(reqwest::Method::PUT, "/payments/histories/cancel", &body, Some("k-1")).await
        })
    };
    let until = Instant::now() + Duration::from_secs(30);
    while toss.payment(&key).await.unwrap()["balanceAmount"] != 7000 {
        assert!(Instant::now() < until, "Toss never refunded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().await;
    let _ = cancel.await;
    proxy.set(ProxyMode::Forward);

    // A lease of 61 s would make the settling wait: restart with a shorter
    // one (the killed process is gone, so nothing else holds the intent).
    // The key's claim lasts twice that (10 s from the killed request's start).
    vars.insert("PAYMENT_PG_TIMEOUT_SECS".into(), "1".into());
    vars.insert("PAYMENT_CANCEL_LEASE_SECS".into(), "5".into());
    let env: Vec<(String, String)> = vars.into_iter().collect();
    let mut server = ServerProcess::start(&binary, dir.path(), &env).await;
    let delivered = receiver.wait_for(1, Duration::from_secs(30)).await;
    let settled_at = Instant::now();
    let ours = api.get("killed", "pw-of-the-test").await.unwrap();
    // The killed request still holds the key's claim, but its cancel is
    // settled: the retry takes the claim over and answers the settled cancel
    // at once, without sending it again.
    let retried = api.call_with(reqwest::Method::PUT, "/payments/histories/cancel", &body, Some("k-1")).await.unwrap();
    let retry_ms = settled_at.elapsed().as_millis();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_toss = toss.payment(&key).await.unwrap();
    let pg_refunds = at_toss["cancels"].as_array().map_or(0, Vec::len);
    let events = receiver.all().len();
    server.kill().await;
    println!(
        "RESULT sigkill_mid_cancel pg_refunds={pg_refunds} our_refund={} events_delivered={events} retry={} \
         retry_answered_after_settlement_ms={retry_ms} double_refunds={}",
        ours.body["refund"],
        retried.status,
        pg_refunds.saturating_sub(1)
    );
    assert_eq!(delivered, 1, "the settled cancel was announced");
    assert_eq!(ours.body["refund"], 3000, "recorded after the restart: {:?}", ours.body);
    assert_eq!((retried.status, &retried.body["refund"]), (200, &json!(3000)), "{retried:?}");
    assert!(retry_ms < 1_000, "the retry is answered within a second of the settlement: {retry_ms} ms");
    assert_eq!(pg_refunds, 1, "refunded once at Toss: {at_toss}");
    assert_eq!(events, 1, "exactly one event");
    drop(proxy);
    fake.stop().await.unwrap();
}
