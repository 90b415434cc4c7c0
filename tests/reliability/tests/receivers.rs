//! One backend's dead webhook receiver does not hold up another backend's
//! webhooks: a receiver that accepts connections and never answers holds its
//! share of the delivery slots (a quarter by default), not all of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use payments_reliability::{Receiver, TestServer};

/// 12 changes queued for a receiver that never answers, 4 delivery slots
/// (so 1 for that receiver): a change of another backend, queued behind
/// them, reaches its receiver within a second (8.9 s before: the dead
/// receiver held every slot for the 3 s timeout, three rounds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_receiver_does_not_delay_another_hosts_webhooks() {
    // Accepts every connection and holds it, never reading nor answering.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/hook", dead.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let holder = tokio::spawn({
        let accepted = accepted.clone();
        async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = dead.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        }
    });
    let server = TestServer::start(&[("PAYMENT_WEBHOOK_CONCURRENCY", "4"), ("PAYMENT_WEBHOOK_TIMEOUT_SECS", "3")])
        .await
        .unwrap();
    let alive = Receiver::start().await;

    const PRICE: u64 = 10_000;
    for n in 0..12 {
        let order = format!("dead-{n}");
        let key = server.toss.pay(&order, PRICE).await.unwrap();
        let created = server.api.register_toss(&key, &order, PRICE, "pw-of-the-test", &dead_url).await.unwrap();
        assert_eq!(created.status, 201, "{created:?}");
        let cancelled = server.api.cancel(&order, "pw-of-the-test", 1_000, "queued for a dead receiver").await.unwrap();
        assert_eq!(cancelled.status, 200, "{cancelled:?}");
    }

    let key = server.toss.pay("alive", PRICE).await.unwrap();
    let created = server.api.register_toss(&key, "alive", PRICE, "pw-of-the-test", &alive.url()).await.unwrap();
    assert_eq!(created.status, 201, "{created:?}");
    let cancelled = server.api.cancel("alive", "pw-of-the-test", 1_000, "another backend").await.unwrap();
    assert_eq!(cancelled.status, 200, "{cancelled:?}");
    // The change and its delivery job were committed before the answer.
    let queued = Instant::now();
    let delivered = alive.wait_for(1, Duration::from_secs(20)).await;
    let took = queued.elapsed();
    let dead_connections = accepted.load(Ordering::SeqCst);
    println!(
        "RESULT dead_receiver queued_for_dead=12 slots=4 per_host=1 webhook_timeout=3s other_host_delivered_in={}ms \
         dead_receiver_connections={dead_connections}",
        took.as_millis()
    );
    assert_eq!(delivered, 1, "the other backend's change was never delivered");
    assert!(took < Duration::from_secs(1), "another host's delivery waited {took:?} behind a dead receiver");
    assert!(dead_connections <= 2, "the dead receiver held one slot at a time: {dead_connections} connections");

    // Nothing of the dead receiver's was lost or given up: its 12 jobs are
    // waiting (never attempted, or scheduled again), the other one delivered
    // (its attempt is recorded just after the receiver has it, and the
    // counts are up to 2 s old: asked again until they settle, bounded).
    let metrics = format!("http://{}/metrics", server.app.metrics_addr().expect("metrics are served"));
    let http = payments_reliability::http_client();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (waiting, failed) = loop {
        let text = http.get(&metrics).send().await.unwrap().text().await.unwrap();
        let gauge = |state: &str| {
            let series = format!("payments_outbox_jobs{{state=\"{state}\"}} ");
            text.lines().find_map(|l| l.strip_prefix(series.as_str())).and_then(|v| v.trim().parse::<f64>().ok())
        };
        let counts = (gauge("pending").unwrap_or(0.0) + gauge("retrying").unwrap_or(0.0), gauge("failed"));
        if counts.0 <= 12.0 || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((waiting, failed), (12.0, Some(0.0)), "the dead receiver's jobs all wait, none given up");
    holder.abort();
    let _ = holder.await;
    server.stop().await.unwrap();
}
