//! PostgreSQL connections killed (pg_terminate_backend, only those of this
//! test's own database) again and again under a load of registrations and
//! cancels: failures are 5xx JSON errors, the server recovers by itself, and
//! nothing half-written remains. Needs PAYMENT_TEST_POSTGRES_URL (skips
//! without it, fails when it is set but unreachable).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use payments_reliability::{Api, Isolation, Receiver, TestDatabase, TestServer, Toss};
use sqlx::postgres::PgPoolOptions;
use tokio::sync::Mutex;

const PRICE: u64 = 10_000;
const WORKERS: usize = 4;
const KILLS: usize = 6;

#[derive(Default)]
struct Figures {
    sent: AtomicU64,
    ok: AtomicU64,
    errors_503: AtomicU64,
    errors_other_5xx: AtomicU64,
    errors_4xx: AtomicU64,
    not_json: AtomicU64,
    transport: AtomicU64,
    registered: Mutex<Vec<String>>,
    failed_registrations: Mutex<Vec<String>>,
}

impl Figures {
    fn count(&self, status: u16, body: &serde_json::Value) {
        self.sent.fetch_add(1, Ordering::SeqCst);
        let counter = match status {
            200..=299 => &self.ok,
            503 => &self.errors_503,
            500..=599 => &self.errors_other_5xx,
            _ => &self.errors_4xx,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        if status >= 400 && !(body["code"].is_string() && body["message"].is_string()) {
            self.not_json.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn worker(id: usize, api: Api, toss: Toss, hook: String, figures: Arc<Figures>, stop: Arc<AtomicBool>) {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let order = format!("pg{id}-{n}");
        let Ok(key) = toss.pay(&order, PRICE).await else { continue };
        match api.register_toss(&key, &order, PRICE, "pw-of-the-test", &hook).await {
            Ok(reply) => {
                figures.count(reply.status, &reply.body);
                if reply.status == 201 {
                    figures.registered.lock().await.push(order.clone());
                    if let Ok(reply) = api.cancel(&order, "pw-of-the-test", 1000, "outage").await {
                        figures.count(reply.status, &reply.body);
                    }
                } else {
                    figures.failed_registrations.lock().await.push(order.clone());
                }
            }
            Err(_) => {
                figures.transport.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_database_connections_fail_cleanly_and_recover() {
    let Some(scratch) =
        TestDatabase::postgres("killed_database_connections_fail_cleanly_and_recover", Isolation::Database).await
    else {
        return;
    };
    let (admin, database, url) = (
        scratch.admin().expect("PostgreSQL").clone(),
        scratch.name().expect("PostgreSQL").to_owned(),
        scratch.url().to_owned(),
    );

    let server =
        TestServer::start(&[("PAYMENT_DATABASE_URL", url.as_str()), ("PAYMENT_DATABASE_MAX_CONNECTIONS", "8")])
            .await
            .unwrap();
    let receiver = Receiver::start().await;
    let figures = Arc::new(Figures::default());
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            let (api, toss) = (server.api.clone(), server.toss.clone());
            tokio::spawn(worker(i, api, toss, receiver.url(), figures.clone(), stop.clone()))
        })
        .collect();
    let mut terminated = 0i64;
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&database)
        .fetch_all(&admin)
        .await
        .unwrap();
        terminated += killed.into_iter().filter(|k| *k).count() as i64;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        tokio::time::timeout(Duration::from_secs(60), w).await.unwrap().unwrap();
    }

    // Recovery by itself: a new registration succeeds without a restart.
    let started = Instant::now();
    let recovered_ms = loop {
        let order = format!("after-{}", started.elapsed().as_micros());
        let key = server.toss.pay(&order, PRICE).await.unwrap();
        let reply = server.api.register_toss(&key, &order, PRICE, "pw-of-the-test", &receiver.url()).await.unwrap();
        if reply.status == 201 {
            break started.elapsed().as_millis();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no recovery: {reply:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Nothing half-written: every acknowledged registration reads back whole;
    // a failed one is either absent or whole (it may have committed just
    // before its connection died); refunds equal their cancels and never
    // exceed the price; every event has its delivery job.
    let registered = figures.registered.lock().await.clone();
    let mut lost = 0;
    for order in &registered {
        let reply = server.api.get(order, "pw-of-the-test").await.unwrap();
        if reply.status != 200 || reply.body["price"].as_u64() != Some(PRICE) {
            lost += 1;
        }
    }
    let mut half_written = 0;
    for order in figures.failed_registrations.lock().await.iter() {
        let reply = server.api.get(order, "pw-of-the-test").await.unwrap();
        if !(reply.status == 404 || reply.status == 200 && reply.body["price"].as_u64() == Some(PRICE)) {
            half_written += 1;
        }
    }
    let db = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let refund_mismatch: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM payment_histories h WHERE h.refund <> COALESCE((SELECT SUM(c.amount) FROM payment_history_cancels c WHERE c.payment_history_id = h.id), 0) OR h.refund > h.price",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let events_without_job: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM payment_history_webhooks w WHERE NOT EXISTS (SELECT 1 FROM payment_webhook_outbox o WHERE o.event_id = w.id)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let histories: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payment_histories").fetch_one(&db).await.unwrap();
    db.close().await;

    println!(
        "RESULT postgres_outage connection_kills={KILLS} backends_terminated={terminated} requests={} ok={} \
         errors_503={} errors_other_5xx={} errors_4xx={} errors_not_json={} transport_errors={} \
         registrations_acknowledged={} lost={lost} failed_registrations={} half_written={half_written} \
         refund_mismatch={refund_mismatch} events_without_delivery_job={events_without_job} histories_in_db={histories} \
         recovered_after_ms={recovered_ms}",
        figures.sent.load(Ordering::SeqCst),
        figures.ok.load(Ordering::SeqCst),
        figures.errors_503.load(Ordering::SeqCst),
        figures.errors_other_5xx.load(Ordering::SeqCst),
        figures.errors_4xx.load(Ordering::SeqCst),
        figures.not_json.load(Ordering::SeqCst),
        figures.transport.load(Ordering::SeqCst),
        registered.len(),
        figures.failed_registrations.lock().await.len(),
    );
    server.stop().await.unwrap();
    scratch.remove().await;

    assert!(terminated > 0, "connections were killed");
    assert!(!registered.is_empty(), "the load ran");
    assert_eq!(lost, 0, "acknowledged registrations survive");
    assert_eq!(half_written, 0);
    assert_eq!(refund_mismatch, 0);
    assert_eq!(events_without_job, 0);
    assert_eq!(figures.not_json.load(Ordering::SeqCst), 0, "every error is a JSON error");
    assert_eq!(figures.transport.load(Ordering::SeqCst), 0, "every request got an answer");
    assert_eq!(figures.errors_4xx.load(Ordering::SeqCst), 0, "an outage is never the caller's fault");
}
