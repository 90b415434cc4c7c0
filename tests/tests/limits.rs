//! What one client may hold of the API: a bounded number of connections, a
//! connection that stays silent is closed (a new one at the header timeout),
//! so is one whose request head trickles in, a request that runs too long is
//! answered 503.

use std::time::{Duration, Instant};

use payments_e2e::{Backend, Pg, spawn_app_with, unique};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// A connection that sends nothing is closed at the header timeout (from
/// its accept), on the API and on the metrics listener, long before the idle
/// timeout: silent sockets filling every connection slot delay a real client
/// by about the header timeout, not the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_at_the_header_timeout_on_every_listener() {
    let overrides =
        [("PAYMENT_HEADER_TIMEOUT_SECS", "1"), ("PAYMENT_IDLE_TIMEOUT_SECS", "60"), ("PAYMENT_MAX_CONNECTIONS", "4")];
    let mut app = spawn_app_with(Backend::Sqlite, "silent_connections", &overrides).await.unwrap();
    let api = addr_of(&app.url());
    let metrics = addr_of(&app.metrics_url()).trim_end_matches("/metrics").to_owned();
    // Every slot taken by a silent socket: 4 on the API, 16 on the metrics listener.
    let started = Instant::now();
    let mut silent = Vec::new();
    for (addr, slots) in [(&api, 4), (&metrics, 16)] {
        for _ in 0..slots {
            silent.push(tokio::net::TcpStream::connect(addr.as_str()).await.unwrap());
        }
    }
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let health = client.get(format!("{}/monitors/health", app.url())).send();
    let scrape = client.get(app.metrics_url()).send();
    let (health, scrape) = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(health, scrape) })
        .await
        .expect("served once the silent sockets are closed, long before the 60 s idle timeout");
    let served = started.elapsed();
    assert_eq!(health.unwrap().status().as_u16(), 200);
    assert_eq!(scrape.unwrap().status().as_u16(), 200);
    // Each silent socket was closed by the server (end of stream or reset).
    let mut closed_after = Vec::new();
    for mut socket in silent {
        let mut buffer = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buffer)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the server closes a silent socket: {read:?}");
        closed_after.push(started.elapsed());
    }
    let last = closed_after.iter().max().copied().unwrap_or_default();
    println!(
        "RESULT silent_connections header_timeout=1s api=4 metrics=16 served_after={served:?} all_closed_by={last:?}"
    );
    assert!(served >= Duration::from_millis(900), "the slots were all taken until the header timeout: {served:?}");
    assert!(served < Duration::from_secs(5), "served about the header timeout later: {served:?}");
    assert!(last < Duration::from_secs(5), "every silent socket closed about the header timeout later: {last:?}");
    app.stop().await;
}

/// A client that sends its request head a few bytes at a time (never idle
/// for the idle timeout) is cut off once the head is late; a keep-alive
/// connection may wait between requests, and each head has its own time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_trickles_in_is_cut_off_after_the_header_timeout() {
    let overrides = [("PAYMENT_HEADER_TIMEOUT_SECS", "1"), ("PAYMENT_IDLE_TIMEOUT_SECS", "30")];
    let mut app = spawn_app_with(Backend::Sqlite, "a_request_head_that_trickles", &overrides).await.unwrap();
    let addr = addr_of(&app.url());

    // Keep-alive: a request, a pause longer than the header timeout, another.
    let mut patient = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = b"GET /monitors/health HTTP/1.1\r\nHost: payments\r\n\r\n";
    for round in 0..2 {
        patient.write_all(request).await.unwrap();
        let mut answer = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), patient.read(&mut answer)).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "round {round}: {text}");
        if round == 0 {
            // The server waits for the next request; only its head is timed.
            let quiet = tokio::time::timeout(Duration::from_millis(1500), patient.read(&mut answer)).await;
            assert!(quiet.is_err(), "the connection stays open between requests: {quiet:?}");
        }
    }

    // Slowloris: a header line every 200 ms, never a blank line.
    let mut trickle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    trickle.write_all(b"GET /monitors/health HTTP/1.1\r\nHost: payments\r\n").await.unwrap();
    let mut closed = None;
    for n in 0..100 {
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(200), trickle.read(&mut probe)).await {
            Ok(Ok(0) | Err(_)) => {
                closed = Some(started.elapsed());
                break;
            }
            Ok(Ok(read)) => panic!("answered a head that never ended: {:?}", String::from_utf8_lossy(&probe[..read])),
            Err(_) => {}
        }
        if trickle.write_all(format!("X-Slow-{n}: x\r\n").as_bytes()).await.is_err() {
            closed = Some(started.elapsed());
            break;
        }
    }
    let closed = closed.expect("the trickling connection is closed");
    assert!(closed >= Duration::from_millis(900), "not before the header timeout: {closed:?}");
    assert!(closed < Duration::from_secs(5), "within a few seconds of it, far from the idle timeout: {closed:?}");
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
