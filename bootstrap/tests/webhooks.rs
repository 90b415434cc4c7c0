//! Webhook reliability across processes: a SIGKILL after the commit, a
//! SIGKILL during delivery, graceful shutdown, and two servers on one
//! PostgreSQL draining 200 events.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A paid card payment of `price` registered with `webhook`; returns its order id.
async fn paid(server: &Server, order: &str, price: u64, webhook: &str) -> String {
    let key = toss_card_payment(server.fake("toss.payments").unwrap(), order, price, "4330123412341234").await;
    register(&api(server), &key, order, price, "pw-of-the-test", webhook).await;
    order.to_owned()
}

fn settled(expected_delivered: u64) -> impl Fn(&Value) -> bool {
    move |o: &Value| o["delivered"] == expected_delivered && o["pending"] == 0 && o["retrying"] == 0
}

async fn stop(mut server: Server) -> Duration {
    let asked = Instant::now();
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "SIGTERM exits 0, got {status}:\n{}", server.logs());
    asked.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_the_commit_and_before_delivery_loses_nothing() {
    bounded(Duration::from_secs(120), async {
        let dir = tempfile::tempdir().unwrap();
        // The receiver is down while the change commits; retries are spaced so
        // the schedule does not run out before the restart. The kill may land
        // while the first (refused) attempt holds its claim: a short lease.
        let env = [
            ("PAYMENT_WEBHOOK_RETRY_SCHEDULE", "1s,1s,1s,1s,1s,1s,1s,1s"),
            ("PAYMENT_WEBHOOK_TIMEOUT_SECS", "2"),
            ("PAYMENT_WEBHOOK_LEASE_SECS", "3"),
        ]
        .into_iter()
        .fold(test_env(), |env, (k, v)| with(env, k, v));
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}/hook");
        let mut server = serve(dir.path(), &env).await;
        let order = paid(&server, "order-kill-1", 10_000, &url).await;
        let history = cancel(&api(&server), &order, 3_000, "pw-of-the-test").await;
        assert_eq!(history["refund"], 3_000);
        server.kill().await;

        let mut receiver = Receiver::start_on(port, &ReceiverKeys::default(), Answer::Ok).await;
        let restarted = serve(dir.path(), &env).await;
        let delivery = receiver.next(Duration::from_secs(30)).await;
        assert_eq!(delivery.answered, Some(200));
        assert_eq!(delivery.json["current"]["refund"], 3_000, "{}", delivery.json);
        assert_eq!(delivery.json["previous"]["refund"], Value::Null, "{}", delivery.json);
        wait_outbox(&api(&restarted), Duration::from_secs(10), settled(1)).await;
        stop(restarted).await;
        let counts = count_answered(&[vec![delivery], receiver.drain()].concat());
        assert_eq!(counts.len(), 1, "one event: {counts:?}");
        assert!(counts.values().all(|n| *n == 1), "delivered exactly once: {counts:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_delivery_redelivers_once_the_lease_expires() {
    bounded(Duration::from_secs(120), async {
        let dir = tempfile::tempdir().unwrap();
        let env = with(with(test_env(), "PAYMENT_WEBHOOK_TIMEOUT_SECS", "5"), "PAYMENT_WEBHOOK_LEASE_SECS", "6");
        let mut receiver = Receiver::start_on(0, &ReceiverKeys::default(), Answer::Hang).await;
        let mut server = serve(dir.path(), &env).await;
        let order = paid(&server, "order-kill-2", 8_000, &receiver.url()).await;
        cancel(&api(&server), &order, 8_000, "pw-of-the-test").await;
        let in_flight = receiver.next(Duration::from_secs(30)).await;
        assert_eq!(in_flight.answered, None, "the receiver holds the delivery");
        server.kill().await;
        let killed = Instant::now();

        receiver.set_answer(Answer::Ok);
        let restarted = serve(dir.path(), &env).await;
        let delivery = receiver.next(Duration::from_secs(30)).await;
        let after = killed.elapsed();
        eprintln!("redelivered {after:?} after the SIGKILL (lease 6 s from the claim)");
        assert_eq!(delivery.id, in_flight.id, "the same event");
        assert_eq!(delivery.answered, Some(200));
        assert_eq!(delivery.json["current"]["refund"], 8_000);
        wait_outbox(&api(&restarted), Duration::from_secs(10), settled(1)).await;
        stop(restarted).await;
        let counts = count_answered(&[vec![delivery], receiver.drain()].concat());
        assert_eq!(counts, HashMap::from([(in_flight.id.clone(), 1)]), "answered exactly once");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_the_delivery_in_flight_and_exits_0() {
    bounded(Duration::from_secs(120), async {
        let dir = tempfile::tempdir().unwrap();
        // A long timeout and lease: only a release lets the restart deliver at once.
        let env = with(with(test_env(), "PAYMENT_WEBHOOK_TIMEOUT_SECS", "60"), "PAYMENT_SHUTDOWN_GRACE_SECS", "1");
        let mut receiver = Receiver::start_on(0, &ReceiverKeys::default(), Answer::Hang).await;
        let server = serve(dir.path(), &env).await;
        let order = paid(&server, "order-term-1", 5_000, &receiver.url()).await;
        cancel(&api(&server), &order, 1_000, "pw-of-the-test").await;
        let in_flight = receiver.next(Duration::from_secs(30)).await;
        assert_eq!(in_flight.answered, None);

        let mut server = server;
        let asked = Instant::now();
        server.terminate();
        let status = server.wait_exit(Duration::from_secs(15)).await;
        let took = asked.elapsed();
        eprintln!("SIGTERM with a delivery in flight: exited {status} after {took:?} (grace 1 s)");
        assert!(status.success(), "{}", server.logs());
        assert!(took < Duration::from_secs(5), "took {took:?}");
        assert!(server.stderr().contains("released=1"), "the job is released:\n{}", server.logs());

        let stats = run(dir.path(), &env, &["webhooks", "stats"]).await;
        assert!(stats.status.success(), "{}", stats.stderr);
        assert!(stats.stdout.starts_with("pending 1 "), "released, neither delivered nor failed: {}", stats.stdout);
        assert!(stats.stdout.contains("delivered 0  failed 0"), "{}", stats.stdout);

        receiver.set_answer(Answer::Ok);
        let restarted = serve(dir.path(), &env).await;
        let delivery = receiver.next(Duration::from_secs(10)).await;
        assert_eq!(delivery.id, in_flight.id);
        assert_eq!(delivery.answered, Some(200));
        wait_outbox(&api(&restarted), Duration::from_secs(10), settled(1)).await;
        stop(restarted).await;
    })
    .await;
}

fn deliveries_by(server: &Server) -> usize {
    server.stderr().lines().filter(|l| l.contains("webhook attempt recorded")).count()
}

async fn start_on(dir: &Path, env: &[(String, String)]) -> Server {
    serve(dir, env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_deliver_200_events_exactly_once() {
    let test = "two_servers_on_one_postgres_deliver_200_events_exactly_once";
    let Some(schema) = TestDatabase::postgres(test, Isolation::Schema).await else { return };
    bounded(Duration::from_secs(300), async {
        let env = [
            ("PAYMENT_DATABASE_URL", schema.url()),
            ("PAYMENT_WEBHOOK_CONCURRENCY", "4"),
            ("PAYMENT_LOG", "info,payments_webhook=debug"),
        ]
        .into_iter()
        .fold(test_env(), |env, (k, v)| with(env, k, v));
        let mut receiver =
            Receiver::start_on(0, &ReceiverKeys::default(), Answer::Slow(Duration::from_millis(5))).await;
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // Both migrate the same schema at once.
        let (a, b) = tokio::join!(start_on(dir_a.path(), &env), start_on(dir_b.path(), &env));

        let created = Instant::now();
        let url = receiver.url();
        // Eight payments at a time, each registered then cancelled five times.
        for batch in (0..40).collect::<Vec<_>>().chunks(8) {
            futures::future::join_all(batch.iter().map(|i| {
                let (a, url) = (&a, url.clone());
                async move {
                    let order = paid(a, &format!("order-pg-{i}"), 10_000, &url).await;
                    for _ in 0..5 {
                        cancel(&api(a), &order, 1_000, "pw-of-the-test").await;
                    }
                }
            }))
            .await;
        }
        eprintln!("200 events committed in {:?}", created.elapsed());

        let mut seen = Vec::new();
        while count_answered(&seen).len() < 200 {
            seen.push(receiver.next(Duration::from_secs(60)).await);
        }
        eprintln!("200 events delivered {:?} after the first was created", created.elapsed());
        wait_outbox(&api(&a), Duration::from_secs(30), settled(200)).await;
        let (by_a, by_b) = (deliveries_by(&a), deliveries_by(&b));
        stop(a).await;
        stop(b).await;
        seen.extend(receiver.drain());
        let counts = count_answered(&seen);
        assert_eq!(counts.len(), 200, "200 distinct webhook ids");
        let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "delivered more than once: {twice:?}");
        assert_eq!(seen.len(), 200, "no other request reached the receiver");
        eprintln!("deliveries: server A {by_a}, server B {by_b}");
        assert_eq!(by_a + by_b, 200, "each process recorded its own attempts");
        assert!(by_a > 0 && by_b > 0, "both processes delivered (A {by_a}, B {by_b})");
    })
    .await;
    schema.remove().await;
}
