//! The load tool runs every scenario a few times against a real server
//! (started in-process on port 0, SQLite in a temporary directory, cheap
//! argon2) and reports no errors. Nothing is timed against a target.

use std::collections::HashMap;
use std::time::Duration;

use clap::Parser;
use payments_load::{BENCH_IV, BENCH_KEY, Opts, Scenario, render, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_against_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("payments.db").display());
    let vars: HashMap<String, String> = [
        ("PAYMENT_MODE", "local"),
        ("PAYMENT_API_PORT", "0"),
        ("PAYMENT_METRICS_ADDR", "127.0.0.1:0"),
        ("PAYMENT_ADMIN_ADDR", "127.0.0.1:0"),
        ("PAYMENT_DATABASE_URL", database_url.as_str()),
        ("PAYMENT_CONNECTION_ENCRYPTION_KEY", BENCH_KEY),
        ("PAYMENT_CONNECTION_ENCRYPTION_IV", BENCH_IV),
        ("PAYMENT_ARGON2_MEMORY_KIB", "256"),
        ("PAYMENT_ARGON2_ITERATIONS", "1"),
    ]
    .into_iter()
    .chain(payments_server::fakes_on_free_ports())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = payments_server::Config::from_vars(&vars).unwrap();
    let app = payments_server::start(config).await.unwrap();
    let url = app.url();
    let toss = format!("http://{}", app.fake(payments_domain::VendorCode::TossPayments).unwrap());

    let opts = Opts::try_parse_from([
        "payments-load",
        "--url",
        &url,
        "--toss-url",
        &toss,
        "--database-url",
        &database_url,
        "--pid",
        &std::process::id().to_string(),
        "--concurrency",
        "1,2",
        "--count",
        "3",
        "--runs",
        "1",
        "--duration",
        "5",
        "--op-timeout",
        "10",
        "--hash-samples",
        "2",
        "--rates",
        "read=50%,webhook=20",
        "--in-flight",
        "2",
        "--webhook-payments",
        "8",
        "--key",
        BENCH_KEY,
        "--iv",
        BENCH_IV,
        "--argon2-memory-kib",
        "256",
        "--argon2-iterations",
        "1",
        "--argon2-parallelism",
        "1",
    ])
    .unwrap();
    let report = tokio::time::timeout(Duration::from_secs(60), run(opts)).await.expect("bounded").unwrap();
    let text = render(&report);
    for level in &report.levels {
        assert_eq!(level.scenarios.len(), 4, "{text}");
        assert!(level.commits.as_ref().is_some_and(|c| c.ops > 0 && c.errors == 0), "{text}");
        assert!(level.health.ops > 0 && level.health.errors == 0, "{text}");
        for result in &level.scenarios {
            assert_eq!((result.summary.ops, result.summary.errors), (3, 0), "{:?}: {text}", result.scenario);
            // The server's CPU per operation (here the test process's: the
            // server runs in it), and what is left past argon2's share.
            let cpu = result.cpu_us_per_op.unwrap_or_else(|| panic!("{:?}: no CPU figure: {text}", result.scenario));
            let past = result.cpu_us_per_op_past_argon2.unwrap();
            assert!(cpu >= 0.0 && past <= cpu, "{:?}: {cpu} us, {past} past argon2: {text}", result.scenario);
        }
    }
    assert_eq!(report.open_loop.len(), 2, "{text}");
    for result in &report.open_loop {
        assert_eq!((result.summary.ops, result.summary.errors), (3, 0), "{:?}: {text}", result.scenario);
        assert!(result.rate_per_s > 0.0 && result.in_flight == 2, "{text}");
    }
    assert!((report.open_loop[1].rate_per_s - 20.0).abs() < 1e-9, "{text}");
    let webhook = report.levels[0].scenarios.iter().find(|r| r.scenario == Scenario::Webhook).unwrap();
    assert!(webhook.summary.p50_ms > 0.0, "{text}");
    assert!(report.idle_rss_mib.is_some_and(|rss| rss > 0.0), "{text}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["levels"][0]["scenarios"][3]["scenario"], "webhook");
    app.stop().await.unwrap();
}

#[test]
fn rates_name_a_scenario_and_a_positive_rate() {
    use payments_load::{Rate, RateSpec};
    let spec: RateSpec = "webhook=500".parse().unwrap();
    assert_eq!((spec.scenario, spec.rate), (Scenario::Webhook, Rate::PerSecond(500.0)));
    let spec: RateSpec = "read=80%".parse().unwrap();
    assert_eq!((spec.scenario, spec.rate), (Scenario::Read, Rate::OfCeiling(0.8)));
    for bad in ["webhook", "nothing=5", "read=-1", "read=0", "read=abc", "read=NaN", "read=5000%"] {
        assert!(bad.parse::<RateSpec>().is_err(), "{bad} was accepted");
    }
}

#[tokio::test]
async fn refuses_servers_beyond_loopback() {
    let opts = Opts::try_parse_from(["payments-load", "--url", "http://192.0.2.1:1", "--runs", "1"]).unwrap();
    let error = run(opts).await.unwrap_err();
    assert!(error.to_string().contains("loopback"), "{error:#}");
}
