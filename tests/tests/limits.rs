//! What one client may hold of the API: a bounded number of connections, a
//! connection that stays silent is closed, a request that runs too long is
//! answered 503.

use std::time::{Duration, Instant};

use payments_e2e::{Backend, Pg, spawn_app_with, unique};
use tokio::io::AsyncReadExt;

fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_wait_for_one_to_close() {
    let overrides = [("PAYMENT_MAX_CONNECTIONS", "2")];
    let mut app = spawn_app_with(Backend::Sqlite, "connections_beyond_the_limit", &overrides).await.unwrap();
    let addr = addr_of(&app.url());
    let first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let health = format!("{}/monitors/health", app.url());
    // Both connections are taken (and idle): a third is not served...
    let waiting = tokio::time::timeout(Duration::from_millis(700), client.get(&health).send()).await;
    assert!(waiting.is_err(), "a third connection was served: {waiting:?}");
    // ...until one of them closes.
    drop(first);
    let served = tokio::time::timeout(Duration::from_secs(10), client.get(&health).send()).await;
    assert_eq!(served.expect("served once a connection closed").unwrap().status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let overrides = [("PAYMENT_IDLE_TIMEOUT_SECS", "1")];
    let mut app = spawn_app_with(Backend::Sqlite, "a_silent_connection", &overrides).await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(addr_of(&app.url())).await.unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buffer)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the server closes it: {read:?}");
    assert!(started.elapsed() >= Duration::from_millis(900), "not before the timeout: {:?}", started.elapsed());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_is_answered_503() {
    // Toss accepts the connection and never answers; our PG timeout (10 s)
    // is longer than the request deadline (1 s).
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let toss = format!("http://{}", stalled.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = stalled.accept().await {
            held.push(socket);
        }
    });
    let overrides = [("PAYMENT_REQUEST_TIMEOUT_SECS", "1"), ("PAYMENT_TOSS_URL", toss.as_str())];
    let mut app = spawn_app_with(Backend::Sqlite, "a_request_past_its_deadline", &overrides).await.unwrap();
    let started = Instant::now();
    let refused = app.register(Pg::TossPayments, "tgen_stalled", &unique("order"), 1000).await.unwrap_err();
    assert_eq!(refused.status(), Some(503), "{refused}");
    assert!(refused.to_string().contains("did not finish within 1 s"), "{refused}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(refused.request_id().is_some());
    app.stop().await;
    holder.abort();
}
