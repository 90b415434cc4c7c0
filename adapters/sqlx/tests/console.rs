//! The console's reads against each database: searches (every filter, the
//! cursor, exact totals), and a measurement over 100,000 payments
//! (`cargo test -p payments-sqlx --test console -- --ignored --nocapture`).

#[macro_use]
mod harness;

use std::time::{Duration, Instant};

use harness::*;
use payments_application::ports::{PaymentSearch, PaymentStateFilter};
use payments_domain::*;

suite!(searches_filter_page_and_total_exactly);

fn search() -> PaymentSearch {
    PaymentSearch { limit: 10, ..PaymentSearch::default() }
}

async fn searches_filter_page_and_total_exactly(db: &TestDb) {
    // Three payments: 1000 paid, 2500.5 USD half refunded, 3000 refunded whole.
    let paid = history("imp_1", "order-1", "1000", vec![]);
    let usd = {
        let h = history("imp_2", "order-2", "2500.5", vec![cancel("c1", "1250.25", 20)]);
        let snapshot = PaymentSnapshot {
            currency: Currency::parse("USD").unwrap(),
            ..snapshot("2500.5", vec![cancel("c1", "1250.25", 20)])
        };
        PaymentHistory::register(h.identity().clone(), snapshot).unwrap()
    };
    let refunded = history("imp_3", "order-3", "3000", vec![cancel("c2", "3000", 30)]);
    for h in [&paid, &usd, &refunded] {
        db.repos.histories.insert(h, &hash()).await.unwrap();
    }
    let console = &db.repos.console;
    let ids = |rows: Vec<payments_application::ports::PaymentRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();

    // Newest first (UUID v7 ids), a cursor for the next page.
    let all = ids(console.search_payments(&search()).await.unwrap());
    assert_eq!(all, vec![refunded.id(), usd.id(), paid.id()]);
    let first = ids(console.search_payments(&PaymentSearch { limit: 2, ..search() }).await.unwrap());
    let next = PaymentSearch { before: first.last().copied(), ..search() };
    assert_eq!(ids(console.search_payments(&next).await.unwrap()), vec![paid.id()]);

    // Each filter.
    let by = |search: PaymentSearch| async move { ids(console.search_payments(&search).await.unwrap()) };
    assert_eq!(by(PaymentSearch { source_id: Some("order-2".into()), ..search() }).await, vec![usd.id()]);
    assert_eq!(by(PaymentSearch { uid: Some("imp_3".into()), ..search() }).await, vec![refunded.id()]);
    assert_eq!(by(PaymentSearch { order_id: Some("pg-order-1".into()), ..search() }).await, vec![paid.id()]);
    assert!(by(PaymentSearch { order_id: Some("order-1".into()), ..search() }).await.is_empty(), "the PG's id");
    assert_eq!(by(PaymentSearch { vendor: Some(VendorCode::Iamport), ..search() }).await.len(), 3);
    assert!(by(PaymentSearch { vendor: Some(VendorCode::TossPayments), ..search() }).await.is_empty());
    let state = |s| PaymentSearch { state: Some(s), ..search() };
    assert_eq!(by(state(PaymentStateFilter::Paid)).await, vec![paid.id()]);
    assert_eq!(by(state(PaymentStateFilter::PartlyRefunded)).await, vec![usd.id()]);
    assert_eq!(by(state(PaymentStateFilter::Refunded)).await, vec![refunded.id()]);
    assert!(by(state(PaymentStateFilter::AwaitingPayment)).await.is_empty());
    let range = PaymentSearch { min_price: Some(money("1000.01")), max_price: Some(money("3000")), ..search() };
    assert_eq!(by(range).await, vec![refunded.id(), usd.id()]);
    let days = PaymentSearch { from: Some(at(-1)), to: Some(at(1)), ..search() };
    assert_eq!(by(days).await.len(), 3);
    assert!(by(PaymentSearch { from: Some(at(1)), ..search() }).await.is_empty());

    // Totals of the whole result, exact per currency, whatever the page.
    let totals = console.search_totals(&PaymentSearch { limit: 1, ..search() }).await.unwrap();
    assert_eq!(totals.count, 3);
    let of = |code: &str| totals.per_currency.iter().find(|(c, _, _)| c.as_str() == code).cloned().unwrap();
    assert_eq!((of("KRW").1, of("KRW").2), (money("4000"), money("3000")));
    assert_eq!((of("USD").1, of("USD").2), (money("2500.5"), money("1250.25")));
    let refunded_only = console.search_totals(&state(PaymentStateFilter::Refunded)).await.unwrap();
    assert_eq!(refunded_only.count, 1);
    assert_eq!(refunded_only.per_currency, vec![(Currency::krw(), money("3000"), money("3000"))]);
}

/// Seeds `count` payments of one store straight into the table (ids in time
/// order; every tenth refunded half; prices 1,000 to 100,000).
async fn seed(db: &TestDb, count: u32) {
    let sql = match db.db.backend() {
        payments_sqlx::Backend::Sqlite => format!(
            "INSERT INTO payment_histories (id, vendor_code, vendor_store_id, vendor_uid, source_schema, \
             source_table, source_id, currency, price, refund, webhook_url, data, password, created_at, paid_at, \
             revision) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
             SELECT printf('01800000-0000-7000-8000-%012d', i), 'portone', 'store-1', 'uid-' || i, 'shop', \
             'orders', 'order-' || i, 'KRW', CAST((i % 100 + 1) * 1000 AS TEXT), \
             CASE WHEN i % 10 = 0 THEN CAST((i % 100 + 1) * 500 AS TEXT) ELSE '0' END, 'http://127.0.0.1:9/h', \
             'x', '$argon2id$x', 1700000000000 + i * 1000, 1700000000000 + i * 1000, 0 FROM n"
        ),
        payments_sqlx::Backend::Postgres => format!(
            "INSERT INTO payment_histories (id, vendor_code, vendor_store_id, vendor_uid, source_schema, \
             source_table, source_id, currency, price, refund, webhook_url, data, password, created_at, paid_at, \
             revision) SELECT ('01800000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, 'portone', 'store-1', \
             'uid-' || i, 'shop', 'orders', 'order-' || i, 'KRW', (i % 100 + 1) * 1000, \
             CASE WHEN i % 10 = 0 THEN (i % 100 + 1) * 500 ELSE 0 END, 'http://127.0.0.1:9/h', 'x', '$argon2id$x', \
             to_timestamp(1700000000 + i), to_timestamp(1700000000 + i), 0 FROM generate_series(1, {count}) i"
        ),
    };
    assert_eq!(db.execute(&sql).await, u64::from(count));
    if db.db.backend() == payments_sqlx::Backend::Postgres {
        db.execute("ANALYZE payment_histories").await;
    }
}

/// The median of `runs` timings of `f`.
async fn median<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[runs / 2]
}

async fn measure_search(db: &TestDb, backend: &str) {
    const PAYMENTS: u32 = 100_000;
    seed(db, PAYMENTS).await;
    let console = db.repos.console.clone();
    let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
    let cases: Vec<(&str, PaymentSearch)> = vec![
        ("newest page, no filter", PaymentSearch { limit: 51, ..PaymentSearch::default() }),
        (
            "by order number",
            PaymentSearch { source_id: Some("order-77777".into()), limit: 51, ..PaymentSearch::default() },
        ),
        ("by PG payment id", PaymentSearch { uid: Some("uid-4242".into()), limit: 51, ..PaymentSearch::default() }),
        (
            "partly refunded in one day",
            PaymentSearch {
                state: Some(PaymentStateFilter::PartlyRefunded),
                from: Some(at(1_700_020_000)),
                to: Some(at(1_700_020_000 + 86_400)),
                limit: 51,
                ..PaymentSearch::default()
            },
        ),
    ];
    println!("{backend}: console search over {PAYMENTS} payments, median of 7 (page of 50 + totals of the result)");
    for (name, search) in cases {
        let (page, totals) = (
            median(7, || async {
                console.search_payments(&search).await.unwrap();
            })
            .await,
            median(7, || async {
                console.search_totals(&search).await.unwrap();
            })
            .await,
        );
        let both = page + totals;
        println!("  {name:<32} page {:>6.1} ms  totals {:>6.1} ms  both {:>6.1} ms", ms(page), ms(totals), ms(both));
        assert!(both < Duration::from_millis(200), "{backend} {name}: {both:?}");
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn measure_search_over_100k_payments_sqlite() {
    let db = harness::sqlite().await;
    measure_search(&db, "sqlite").await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn measure_search_over_100k_payments_postgres() {
    let Some(db) = harness::postgres("measure_search_over_100k_payments_postgres").await else { return };
    measure_search(&db, "postgres").await;
    db.cleanup().await;
}
