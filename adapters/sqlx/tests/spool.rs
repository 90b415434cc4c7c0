//! The notification spool: what the database cannot take is kept in a local
//! file and moved in, once, when the database answers again; bounded, owned
//! by one process, and never holding a secret in plaintext.

mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::*;
use payments_application::commands::{NotificationTarget, PgNotification};
use payments_domain::{OrderId, VendorCode, VendorUid};
use payments_sqlx::{Spool, SpoolConfig, SpoolError};

const LEASE: Duration = Duration::from_secs(30);
const SECRET: &str = "ps_secret-of-the-deposit";

fn spool_config(dir: &Path, max_bytes: u64, budget: Duration) -> SpoolConfig {
    SpoolConfig { path: dir.join("notifications.spool"), max_bytes, database_budget: budget }
}

fn deposit(order: &str) -> PgNotification {
    PgNotification {
        vendor: VendorCode::TossPayments,
        target: NotificationTarget::Order {
            order_id: OrderId::parse(order).unwrap(),
            secret: SECRET.into(),
            ignore_unknown: false,
        },
        payload: serde_json::json!({"orderId": order, "status": "DONE", "secret": SECRET}),
        signed: false,
    }
}

fn payment(uid: &str) -> PgNotification {
    PgNotification {
        vendor: VendorCode::Iamport,
        target: NotificationTarget::Payment { uid: VendorUid::parse(uid).unwrap(), ignore_unknown: true, order: None },
        payload: serde_json::json!({"imp_uid": uid, "status": "paid"}),
        signed: false,
    }
}

fn spool_text(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        all.push_str(&String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap()));
    }
    all
}

/// The database is gone (its pool closed): three notifications are taken
/// into the spool. After a restart on a working database, the first claim
/// moves them in: each once, whole, in order of arrival, and the spool is empty.
async fn spooled_while_the_database_is_down_then_moved_in_once(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let down = db.reconnect().await;
    let spool = Spool::open(spool_config(dir.path(), 1 << 20, Duration::from_secs(1))).await.unwrap();
    let inbox = down.repositories_spooled(db.keys.clone(), Some(spool.clone())).inbox;
    down.close().await;
    let sent = [deposit("order-1"), payment("imp_2"), deposit("order-3")];
    for (n, notice) in sent.iter().enumerate() {
        inbox.enqueue(notice, at(n as i64), LEASE, false).await.expect("taken into the spool");
    }
    assert!(spool.waiting_bytes() > 0);
    assert!(!spool_text(dir.path()).contains(SECRET), "sealed in the spool too");
    assert_eq!(db.count("pg_notifications").await, 0);
    drop((inbox, spool));

    // The restart: the same spool, a database that answers.
    let up = db.reconnect().await;
    let spool = Spool::open(spool_config(dir.path(), 1 << 20, Duration::from_secs(1))).await.unwrap();
    assert!(spool.waiting_bytes() > 0, "kept across the restart");
    let inbox = up.repositories_spooled(db.keys.clone(), Some(spool.clone())).inbox;
    let claimed = inbox.claim_due(at(10), 10, LEASE).await.unwrap();
    assert_eq!(spool.waiting_bytes(), 0, "moved in");
    let got: Vec<_> = claimed.iter().map(|i| (format!("{:?}", i.notice.target), i.notice.payload.clone())).collect();
    let want: Vec<_> = sent.iter().map(|n| (format!("{:?}", n.target), n.payload.clone())).collect();
    assert_eq!(got, want);
    assert_eq!(claimed.iter().map(|i| i.received_at).collect::<Vec<_>>(), vec![at(0), at(1), at(2)]);
    assert_eq!(db.count("pg_notifications").await, 3);
    assert!(inbox.claim_due(at(20), 10, LEASE).await.unwrap().is_empty(), "claimed once");
    up.close().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_while_the_database_is_down_then_moved_in_once_on_sqlite() {
    let db = sqlite().await;
    tokio::time::timeout(TEST_TIMEOUT, spooled_while_the_database_is_down_then_moved_in_once(db)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_while_the_database_is_down_then_moved_in_once_on_postgres() {
    let Some(db) = postgres("spooled_while_the_database_is_down_then_moved_in_once_on_postgres").await else { return };
    tokio::time::timeout(TEST_TIMEOUT, spooled_while_the_database_is_down_then_moved_in_once(db)).await.unwrap();
}

/// Another process holds SQLite's write lock: the insert does not answer
/// within the 200 ms budget, so the notification is spooled and the caller
/// answered at once. The timed-out insert commits once the lock is given
/// back; moving the spooled copy in then finds its id taken: one row,
/// claimed once the receiver's short claim runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_spools_within_the_budget_and_the_late_insert_is_not_doubled() {
    use sqlx::Connection;
    let db = sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(spool_config(dir.path(), 1 << 20, Duration::from_millis(200))).await.unwrap();
    let inbox = db.db.repositories_spooled(db.keys.clone(), Some(spool.clone())).inbox;
    let file = match &db.db {
        payments_sqlx::Database::Sqlite(pool) => pool.connect_options().get_filename().to_owned(),
        payments_sqlx::Database::Postgres(_) => unreachable!(),
    };
    let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut holder).await.unwrap();

    let started = Instant::now();
    // The receiver's claim is short, as the route's (it answers at once).
    inbox.enqueue(&payment("imp_locked"), now(), Duration::from_millis(100), false).await.expect("spooled");
    let answered = started.elapsed();
    assert!(answered < Duration::from_secs(2), "answered within the budget: {answered:?}");
    assert!(spool.waiting_bytes() > 0);

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut claimed = Vec::new();
    while spool.waiting_bytes() > 0 || claimed.is_empty() {
        assert!(Instant::now() < deadline, "never moved in");
        claimed.extend(inbox.claim_due(now(), 10, Duration::ZERO).await.unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(db.count("pg_notifications").await, 1, "stored once");
    db.cleanup().await;
}

/// One owner per spool; past its bound a notification is refused (the PG is
/// answered 503 and sends it again); a torn last record (a crash mid-write,
/// never acknowledged) is cut when the spool is opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_has_one_owner_a_bound_and_survives_a_torn_write() {
    let db = sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let config = spool_config(dir.path(), 1500, Duration::from_secs(1));
    let spool = Spool::open(config.clone()).await.unwrap();
    match Spool::open(config.clone()).await {
        Err(SpoolError::InUse(path)) => assert!(path.ends_with("notifications.spool"), "{path}"),
        other => panic!("a second owner: {:?}", other.map(|_| ())),
    }
    let down = db.reconnect().await;
    let inbox = down.repositories_spooled(db.keys.clone(), Some(spool.clone())).inbox;
    down.close().await;
    let mut taken = 0;
    let refused = loop {
        match inbox.enqueue(&payment(&format!("imp_{taken}")), now(), LEASE, false).await {
            Ok(_) => taken += 1,
            Err(error) => break error,
        }
        assert!(taken < 100, "the bound holds");
    };
    assert!(taken >= 1, "at least one fits in 1500 bytes");
    assert!(spool.waiting_bytes() <= 1500);
    assert!(matches!(refused, payments_sqlx::RepositoryError::Unavailable(_)), "{refused:?}");
    assert!(refused.to_string().contains("full"), "{refused}");
    let whole = spool.waiting_bytes();
    drop((inbox, spool));

    // A crash mid-write left half a record.
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(&config.path).unwrap();
    file.write_all(br#"{"id":"0190"#).unwrap();
    drop(file);
    let spool = Spool::open(config.clone()).await.unwrap();
    assert_eq!(spool.waiting_bytes(), whole, "the torn record is cut");
    let inbox = db.db.repositories_spooled(db.keys.clone(), Some(spool.clone())).inbox;
    let claimed = inbox.claim_due(now(), 100, LEASE).await.unwrap();
    assert_eq!(claimed.len(), taken, "every whole record moved in");
    assert_eq!(spool.waiting_bytes(), 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
    }
    db.cleanup().await;
}
