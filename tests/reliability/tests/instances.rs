//! Two servers on one database (on one machine, in one process: the shared
//! state is the database's, as between instances behind a load balancer).

use std::time::Duration;

use payments_reliability::{Isolation, PgProxy, ProxyMode, TestDatabase, TestServer, Toss};
use payments_toss::fake::FakeTossConfig;

const ROUNDS: usize = 12;
const PRICE: u64 = 10_000;

/// Each round: a paid payment of 10,000, then two cancels of 6,000 sent at
/// once, one to each instance. One is refunded; the other is refused for the
/// balance (422 CANCEL_EXCEEDS_BALANCE) without a PG call, whether it waited
/// for the first one's cancel lock or read the record before the first one
/// was recorded and took the lock after (the balance is judged under the
/// lock). The stand-in PG counts the cancels it receives: one per payment.
async fn concurrent_cancels_over_the_balance_on_two_instances_call_the_pg_once(database: TestDatabase, backend: &str) {
    let fake = payments_toss::fake::start(
        FakeTossConfig { consecutive_cancel_window: Duration::ZERO, ..FakeTossConfig::default() },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let toss = Toss::new(fake.url());
    let proxy = PgProxy::start("127.0.0.1:0".parse().unwrap(), fake.url(), ProxyMode::Forward).await.unwrap();
    let pg_url = proxy.url();
    let shared = [("PAYMENT_TOSS_URL", pg_url.as_str()), ("PAYMENT_DATABASE_URL", database.url())];
    // One after the other: the first migrates the database.
    let a = TestServer::start(&shared).await.unwrap();
    let b = TestServer::start(&shared).await.unwrap();

    let (mut refunded, mut refused) = (0, 0);
    for round in 0..ROUNDS {
        let order = format!("two-instances-{round}");
        let key = toss.pay(&order, PRICE).await.unwrap();
        let created = a.api.register_toss(&key, &order, PRICE, "pw-of-the-test", "http://127.0.0.1:9/hook").await;
        assert_eq!(created.unwrap().status, 201);
        let (first, second) = tokio::join!(
            a.api.cancel(&order, "pw-of-the-test", 6_000, "on a"),
            b.api.cancel(&order, "pw-of-the-test", 6_000, "on b"),
        );
        let mut answers = [first.unwrap(), second.unwrap()];
        answers.sort_by_key(|r| r.status);
        assert_eq!((answers[0].status, answers[1].status), (200, 422), "round {round}: {answers:?}");
        assert_eq!(answers[1].body["code"], "CANCEL_EXCEEDS_BALANCE", "round {round}: {answers:?}");
        let at_toss = toss.payment(&key).await.unwrap();
        assert_eq!(at_toss["balanceAmount"], 4_000, "round {round}: refunded once at the PG");
        refunded += 1;
        refused += 1;
    }
    let pg_cancels = proxy.cancels.load(std::sync::atomic::Ordering::SeqCst);
    println!(
        "RESULT two_instances_over_balance backend={backend} rounds={ROUNDS} refunded={refunded} \
         refused={refused} pg_cancel_calls={pg_cancels}"
    );
    assert_eq!(pg_cancels, ROUNDS as u64, "one PG cancel per payment: the refused cancels never reached the PG");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    fake.stop().await.unwrap();
    database.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cancels_over_the_balance_on_two_instances_call_the_pg_once_on_sqlite() {
    concurrent_cancels_over_the_balance_on_two_instances_call_the_pg_once(TestDatabase::sqlite(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cancels_over_the_balance_on_two_instances_call_the_pg_once_on_postgres() {
    let test = "concurrent_cancels_over_the_balance_on_two_instances_call_the_pg_once_on_postgres";
    let Some(database) = TestDatabase::postgres(test, Isolation::Schema).await else { return };
    concurrent_cancels_over_the_balance_on_two_instances_call_the_pg_once(database, "postgres").await;
}
