//! `GET /metrics`: on a port of its own, every counter moved by exactly what
//! happened, and label values that stay bounded whatever ids are requested.

use payments_e2e::{Pg, TestApp, metric, unique};

payments_e2e::scenarios!(
    a_payment_moves_each_counter_by_what_happened,
    ids_do_not_become_labels,
    metrics_have_their_own_port
);

fn delta(before: &str, after: &str, series: &str) -> f64 {
    metric(after, series) - metric(before, series)
}

/// A registration, a cancel and its delivered webhook, each counted once.
async fn a_payment_moves_each_counter_by_what_happened(app: &TestApp) {
    let pg = Pg::Iamport;
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 5_000).await;
    let before = app.scrape().await;
    app.register(pg, &uid, &order, 5_000).await.expect("registered");
    app.cancel(&order, 2_000, None).await.expect("cancelled");
    app.hooks.delivered(&order, 1).await;
    // Counted when the attempt is recorded, which the outbox count follows.
    app.outbox_settled(1).await;
    let after = app.scrape().await;

    let requests = |method: &str, route: &str, status: &str| {
        format!(r#"payments_http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#)
    };
    assert_eq!(delta(&before, &after, &requests("POST", "/payments/histories", "2xx")), 1.0, "{after}");
    assert_eq!(delta(&before, &after, &requests("PUT", "/payments/histories/cancel", "2xx")), 1.0, "{after}");
    assert_eq!(
        delta(
            &before,
            &after,
            r#"payments_http_request_duration_seconds_count{method="PUT",route="/payments/histories/cancel"}"#
        ),
        1.0
    );
    assert_eq!(
        delta(&before, &after, r#"payments_pg_calls_total{pg="iamport",operation="cancel_payment",outcome="ok"}"#),
        1.0,
        "{after}"
    );
    assert!(
        delta(&before, &after, r#"payments_pg_calls_total{pg="iamport",operation="fetch_payment",outcome="ok"}"#)
            >= 1.0,
        "the registration read the payment: {after}"
    );
    assert_eq!(delta(&before, &after, r#"payments_webhook_deliveries_total{outcome="delivered"}"#), 1.0, "{after}");
    assert_eq!(delta(&before, &after, r#"payments_webhook_deliveries_total{outcome="refused"}"#), 0.0);
    assert_eq!(delta(&before, &after, "payments_webhook_delivery_latency_seconds_count"), 1.0);
    assert_eq!(delta(&before, &after, r#"payments_argon2_duration_seconds_count{operation="hash"}"#), 1.0, "{after}");
    assert!(delta(&before, &after, r#"payments_argon2_duration_seconds_count{operation="verify"}"#) >= 1.0);
    assert_eq!(metric(&after, r#"payments_outbox_jobs{state="pending"}"#), 0.0);
    assert_eq!(metric(&after, r#"payments_argon2_jobs{state="waiting"}"#), 0.0);
    assert!(after.contains(r#"payments_db_connections{state="idle"}"#), "{after}");
    assert!(after.ends_with("# EOF\n"));
}

/// 1000 different ids (404s) add no series: routes are counted by template.
async fn ids_do_not_become_labels(app: &TestApp) {
    use futures::StreamExt;
    let series = |text: &str| text.lines().filter(|l| l.starts_with("payments_http_requests_total{")).count();
    let before = app.scrape().await;
    let url = app.url();
    let statuses: Vec<u16> = futures::stream::iter(0..1000)
        .map(|i| {
            let http = app.http.clone();
            let url = url.clone();
            async move {
                let id = uuid::Uuid::new_v4();
                // Half for records that do not exist, half for routes that do not.
                let request = if i % 2 == 0 {
                    http.patch(format!("{url}/payments/histories/{id}")).body("not encrypted")
                } else {
                    http.get(format!("{url}/no-such-route/{id}"))
                };
                request.send().await.expect("an answer").status().as_u16()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| (400..500).contains(s)), "{statuses:?}");
    let after = app.scrape().await;
    assert!(series(&after) <= series(&before) + 2, "{after}");
    assert!(!after.contains("no-such-route"), "no path reaches a label");
    let unmatched = r#"payments_http_requests_total{method="GET",route="unmatched",status="4xx"}"#;
    assert_eq!(delta(&before, &after, unmatched), 500.0, "{after}");
    let by_id = after
        .lines()
        .filter(|l| l.starts_with(r#"payments_http_requests_total{method="PATCH",route="/payments/histories/{id}""#))
        .count();
    assert_eq!(by_id, 1, "one series for the route template: {after}");
}

/// The metrics are not on the API's port, and the API does not serve them.
async fn metrics_have_their_own_port(app: &TestApp) {
    let api = reqwest::Url::parse(&app.url()).unwrap();
    let metrics = reqwest::Url::parse(&app.metrics_url()).unwrap();
    assert_ne!(api.port(), metrics.port());
    let on_api = app.http.get(format!("{}/metrics", app.url())).send().await.unwrap();
    assert_eq!(on_api.status().as_u16(), 404);
    let scraped = app.http.get(app.metrics_url()).send().await.unwrap();
    let content_type = scraped.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = scraped.text().await.unwrap();
    // OpenMetrics declares a counter without its `_total` suffix.
    for name in [
        "payments_http_requests counter",
        "payments_http_request_duration_seconds histogram",
        "payments_pg_calls counter",
        "payments_webhook_deliveries counter",
        "payments_webhook_delivery_latency_seconds histogram",
        "payments_outbox_oldest_pending_age_seconds gauge",
        "payments_argon2_duration_seconds histogram",
        "payments_db_connections gauge",
        "payments_notification_spool_bytes gauge",
        "payments_reconcile_payments counter",
        "payments_pg_notifications counter",
    ] {
        assert!(text.contains(&format!("# TYPE {name}\n")), "{name} is declared: {text}");
    }
}
