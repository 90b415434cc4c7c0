//! The test kit: what every test that starts a `payments` server shares.
//!
//! - [`server`]: the variables of a fast, hermetic test server and the server
//!   started in-process (exactly what `payments serve` starts);
//! - [`process`]: the `payments` binary as a child process (signals, logs,
//!   the addresses it announces);
//! - [`database`]: a database per test (a SQLite file, a PostgreSQL schema,
//!   or a PostgreSQL database of its own for tests that break it);
//! - [`receiver`]: one webhook receiver that verifies, decrypts and records
//!   every delivery, answers as told, and is waited on (never polled);
//! - [`api`]: the encrypting caller of the API, for what a typed client
//!   would not send.
//!
//! The suites (`tests/`, `tests/reliability`, `bootstrap/tests`, the
//! webhook adapter's) build their own vocabulary on top; the kit holds what
//! was written once per suite before.

pub mod api;
pub mod database;
pub mod process;
pub mod receiver;
pub mod server;

use std::sync::Once;
use std::time::Duration;

pub use api::{Api, Reply};
pub use database::{Isolation, TestDatabase};
pub use process::{ServerProcess, payments_binary};
pub use receiver::{Answer, Delivery, Receiver, ReceiverKeys};

/// How long a test waits for something that should happen soon (a
/// delivery, a server's answer) before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// The wire key every test server and client use (32 bytes).
pub const WIRE_KEY: &str = "testkit-wire-key-of-32-bytes!!!!";
/// The wire IV (16 bytes).
pub const WIRE_IV: &str = "testkit-iv-16by!";
/// The signing secret of the test servers' webhooks.
pub const WEBHOOK_SECRET: &str = "whsec_dGVzdGtpdC13ZWJob29rLXNlY3JldC0zMi1ieXRlcyE=";
/// At-rest keys of the test servers (so tests can look for them in logs and files).
pub const HISTORY_KEY: &str = "testkit-history-key-of-32-bytes!";
/// See [`HISTORY_KEY`].
pub const RESERVATION_KEY: &str = "testkit-saved-card-key-32-bytes!";
/// See [`HISTORY_KEY`].
pub const CANCEL_KEY: &str = "testkit-cancel-key-of-32-bytes!!";

/// A loopback port nobody listens on (bound, then released).
///
/// # Panics
/// When no loopback port can be bound, which no test survives.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// A unique id for orders, customers, schemas: `prefix-<uuid>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Shows the servers' tracing when `TEST_LOG` is set (`1` means `info`,
/// anything else is the filter, e.g. `payments_http=debug`); once per process.
pub fn init_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Ok(value) = std::env::var("TEST_LOG") {
            let directive = match value.trim() {
                "" | "1" | "true" | "yes" => "info",
                other => other,
            };
            let filter = tracing_subscriber::EnvFilter::try_new(directive)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
    });
}

/// Runs `test` within `limit`.
///
/// # Panics
/// When the limit passes first.
pub async fn bounded<F: std::future::Future<Output = ()>>(limit: Duration, test: F) {
    tokio::time::timeout(limit, test).await.unwrap_or_else(|_| panic!("test exceeded {limit:?}"));
}

/// The number of property-test cases: `PROPTEST_CASES` when set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
