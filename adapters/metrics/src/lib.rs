//! The Prometheus metrics of the payment server.
//!
//! One [`Metrics`] per server process (cheap to clone: the families are
//! shared): the HTTP adapter counts requests with [`Metrics::observe_request`],
//! [`MeteredGateway`] and [`MeteredSender`] wrap the PG and webhook ports,
//! and [`Metrics::render`] writes the Prometheus text exposition of
//! everything, with the gauges sampled at scrape time ([`Sample`]).
//!
//! `prometheus-client` rather than the `metrics` facade: its registry is a
//! value, not a process-wide global, so two servers in one process (the test
//! suites run many) never count into each other, and a test can assert that a
//! counter moved by exactly one.
//!
//! Every label value is bounded: route templates (never paths), method
//! names from a fixed list, status classes, PG codes, operation and outcome
//! names fixed in this crate.

mod decorators;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

pub use decorators::{MeteredGateway, MeteredSender};

/// The content type of [`Metrics::render`]'s text (OpenMetrics 1.0, which
/// Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The label value of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PgCallLabels {
    pg: &'static str,
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PgOperationLabels {
    pg: &'static str,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientRequestLabels {
    client: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    pg: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Request and PG call latencies: 5 ms to ~41 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// argon2 hashes: 1 ms to ~4 s.
fn hash_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 13))
}

/// Commit to delivered webhook: 50 ms (delivered at once) to ~2.4 days (the
/// end of the retry schedule).
fn delivery_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 4.0, 12))
}

struct Families {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    pg_calls: Family<PgCallLabels, Counter>,
    pg_duration: Histograms<PgOperationLabels>,
    notifications: Family<NotificationLabels, Counter>,
    client_requests: Family<ClientRequestLabels, Counter>,
    inbox: Family<OutcomeLabels, Counter>,
    deliveries: Family<OutcomeLabels, Counter>,
    delivery_latency: Histogram,
    reconcile_runs: Family<OutcomeLabels, Counter>,
    reconcile_payments: Family<OutcomeLabels, Counter>,
    argon2_duration: Histograms<OperationLabels>,
    argon2_jobs: Family<StateLabels, Gauge>,
    outbox_jobs: Family<StateLabels, Gauge>,
    outbox_oldest: FloatGauge,
    spool_bytes: Gauge,
    db_connections: Family<StateLabels, Gauge>,
}

/// The metrics of one server process.
#[derive(Clone)]
pub struct Metrics {
    families: Arc<Families>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// What is read at scrape time rather than counted: `None` where this
/// process does not have it (a process that does not deliver has no outbox
/// view), and then the gauge is left out.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    pub outbox: Option<OutboxSample>,
    pub argon2: Option<HasherSample>,
    pub database: Option<PoolSample>,
    /// Bytes of PG notifications waiting in the spool for the database.
    pub spool_bytes: Option<u64>,
}

/// The webhook outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OutboxSample {
    /// Never attempted yet.
    pub pending: u64,
    /// Attempted, scheduled again.
    pub retrying: u64,
    /// Given up on (the retry schedule ran out).
    pub failed: u64,
    /// Age of the oldest job not delivered nor failed; zero when none.
    pub oldest_pending_age: Duration,
}

/// The argon2 hashing threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HasherSample {
    /// Hashes waiting for a thread.
    pub waiting: u64,
    /// Hashes running.
    pub running: u64,
}

/// The database connection pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolSample {
    pub in_use: u64,
    pub idle: u64,
}

/// How a PG notification was taken in (`payments_pg_notifications_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// Processed at once (a change recorded, or nothing new).
    Processed,
    /// Stored for the inbox worker.
    Queued,
    /// Acknowledged without anything to do.
    Ignored,
    /// A repeat of a delivery already answered (the PG's own delivery id):
    /// acknowledged without reading the PG or storing anything.
    Duplicate,
    /// Refused: forged, unreadable, or refused in a way no retry changes.
    Refused,
    /// Neither processed nor stored: answered 5xx, the PG sends it again.
    Failed,
}

impl NotificationOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Queued => "queued",
            Self::Ignored => "ignored",
            Self::Duplicate => "duplicate",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// The figures of one reconciler run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileFigures {
    pub checked: u64,
    pub drifted: u64,
    pub fixed: u64,
    pub failed: u64,
}

/// The figures of one inbox worker pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxFigures {
    pub done: u64,
    pub retrying: u64,
    pub failed: u64,
}

impl Metrics {
    /// A fresh registry with every family of the server.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("payments");
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status class",
            http_requests.clone(),
        );
        let http_duration: Histograms<RouteLabels> = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from request to answer, by method and route template",
            Unit::Seconds,
            http_duration.clone(),
        );
        let pg_calls = Family::<PgCallLabels, Counter>::default();
        registry.register(
            "pg_calls",
            "Calls to a PG, by PG, operation and outcome (ok, not_found, rejected, balance_mismatch, too_soon, unknown_store, timeout, unavailable, protocol)",
            pg_calls.clone(),
        );
        let pg_duration: Histograms<PgOperationLabels> = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "pg_call_duration",
            "Time of a PG call, by PG and operation",
            Unit::Seconds,
            pg_duration.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "pg_notifications",
            "PG webhooks received, by PG and outcome (processed, queued, ignored, refused, failed)",
            notifications.clone(),
        );
        let client_requests = Family::<ClientRequestLabels, Counter>::default();
        registry.register(
            "client_requests",
            "API requests by client (its id, or legacy) and status class, 401 and 429 included: as many series as clients",
            client_requests.clone(),
        );
        let inbox = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "inbox_notifications",
            "Stored PG notifications the inbox worker processed, by outcome (done, retrying, failed)",
            inbox.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook POSTs to backends, by outcome (delivered: 2xx, refused: another status, unreachable: no answer)",
            deliveries.clone(),
        );
        let delivery_latency = delivery_histogram();
        registry.register_with_unit(
            "webhook_delivery_latency",
            "Time from the change's commit to its webhook's 2xx, retries included",
            Unit::Seconds,
            delivery_latency.clone(),
        );
        let reconcile_runs = Family::<OutcomeLabels, Counter>::default();
        registry.register("reconcile_runs", "Reconciler runs, by outcome (completed, error)", reconcile_runs.clone());
        let reconcile_payments = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "reconcile_payments",
            "Payments the reconciler re-read, by outcome (checked, drifted, fixed, failed)",
            reconcile_payments.clone(),
        );
        let argon2_duration: Histograms<OperationLabels> = Family::new_with_constructor(hash_histogram);
        registry.register_with_unit(
            "argon2_duration",
            "Time of one argon2 hash on its thread, queue wait excluded, by operation (hash, verify)",
            Unit::Seconds,
            argon2_duration.clone(),
        );
        let argon2_jobs = Family::<StateLabels, Gauge>::default();
        registry.register(
            "argon2_jobs",
            "Password hashes waiting for a hashing thread or running, by state",
            argon2_jobs.clone(),
        );
        let outbox_jobs = Family::<StateLabels, Gauge>::default();
        registry.register(
            "outbox_jobs",
            "Webhook deliveries not delivered, by state (pending, retrying, failed)",
            outbox_jobs.clone(),
        );
        let outbox_oldest = FloatGauge::default();
        registry.register_with_unit(
            "outbox_oldest_pending_age",
            "Age of the oldest webhook delivery neither delivered nor given up (0 when none)",
            Unit::Seconds,
            outbox_oldest.clone(),
        );
        let db_connections = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_connections",
            "Database pool connections, by state (in_use, idle)",
            db_connections.clone(),
        );
        let spool_bytes = Gauge::default();
        registry.register_with_unit(
            "notification_spool",
            "PG notifications kept in this instance's spool while the database could not take them (0 once moved in)",
            Unit::Bytes,
            spool_bytes.clone(),
        );
        Self {
            families: Arc::new(Families {
                registry,
                http_requests,
                http_duration,
                pg_calls,
                pg_duration,
                notifications,
                client_requests,
                inbox,
                deliveries,
                delivery_latency,
                reconcile_runs,
                reconcile_payments,
                argon2_duration,
                argon2_jobs,
                outbox_jobs,
                outbox_oldest,
                spool_bytes,
                db_connections,
            }),
        }
    }

    /// Counts one answered request. `route` is the matched route template
    /// (`None`: no route matched); `method` outside the usual ones is
    /// counted as `other`.
    pub fn observe_request(&self, method: &str, route: Option<&str>, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let route = route.unwrap_or(UNMATCHED_ROUTE).to_owned();
        let status = status_class(status);
        self.families.http_requests.get_or_create(&RequestLabels { method, route: route.clone(), status }).inc();
        self.families.http_duration.get_or_create(&RouteLabels { method, route }).observe(elapsed.as_secs_f64());
    }

    /// Counts one API request of `client` (a client's id, or `legacy`).
    pub fn observe_client_request(&self, client: &str, status: u16) {
        let labels = ClientRequestLabels { client: client.to_owned(), status: status_class(status) };
        self.families.client_requests.get_or_create(&labels).inc();
    }

    /// Counts one PG call.
    pub fn observe_pg_call(&self, pg: &'static str, operation: &'static str, outcome: &'static str, elapsed: Duration) {
        self.families.pg_calls.get_or_create(&PgCallLabels { pg, operation, outcome }).inc();
        self.families.pg_duration.get_or_create(&PgOperationLabels { pg, operation }).observe(elapsed.as_secs_f64());
    }

    /// Counts one PG notification taken in.
    pub fn observe_notification(&self, pg: &'static str, outcome: NotificationOutcome) {
        self.families.notifications.get_or_create(&NotificationLabels { pg, outcome: outcome.label() }).inc();
    }

    /// Counts what one inbox worker pass did.
    pub fn observe_inbox(&self, figures: InboxFigures) {
        for (outcome, n) in [("done", figures.done), ("retrying", figures.retrying), ("failed", figures.failed)] {
            self.families.inbox.get_or_create(&OutcomeLabels { outcome }).inc_by(n);
        }
    }

    /// Counts one webhook POST; `delivered_after` is the time since the
    /// change's commit when the backend answered 2xx.
    pub fn observe_delivery(&self, status: Option<u16>, delivered_after: Option<Duration>) {
        let outcome = match status {
            Some(200..=299) => "delivered",
            Some(_) => "refused",
            None => "unreachable",
        };
        self.families.deliveries.get_or_create(&OutcomeLabels { outcome }).inc();
        if let (Some(200..=299), Some(after)) = (status, delivered_after) {
            self.families.delivery_latency.observe(after.as_secs_f64());
        }
    }

    /// Counts one reconciler run: its figures, or `None` when it could not run.
    pub fn observe_reconcile(&self, figures: Option<ReconcileFigures>) {
        let Some(figures) = figures else {
            self.families.reconcile_runs.get_or_create(&OutcomeLabels { outcome: "error" }).inc();
            return;
        };
        self.families.reconcile_runs.get_or_create(&OutcomeLabels { outcome: "completed" }).inc();
        for (outcome, n) in [
            ("checked", figures.checked),
            ("drifted", figures.drifted),
            ("fixed", figures.fixed),
            ("failed", figures.failed),
        ] {
            self.families.reconcile_payments.get_or_create(&OutcomeLabels { outcome }).inc_by(n);
        }
    }

    /// Records the time of one argon2 hash (`verify: false`) or check.
    pub fn observe_hash(&self, verify: bool, elapsed: Duration) {
        let operation = if verify { "verify" } else { "hash" };
        self.families.argon2_duration.get_or_create(&OperationLabels { operation }).observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text of every metric, the gauges set from `sample`.
    pub fn render(&self, sample: Sample) -> String {
        let f = &self.families;
        if let Some(outbox) = sample.outbox {
            set(&f.outbox_jobs, "pending", outbox.pending);
            set(&f.outbox_jobs, "retrying", outbox.retrying);
            set(&f.outbox_jobs, "failed", outbox.failed);
            f.outbox_oldest.set(outbox.oldest_pending_age.as_secs_f64());
        }
        if let Some(argon2) = sample.argon2 {
            set(&f.argon2_jobs, "waiting", argon2.waiting);
            set(&f.argon2_jobs, "running", argon2.running);
        }
        if let Some(pool) = sample.database {
            set(&f.db_connections, "in_use", pool.in_use);
            set(&f.db_connections, "idle", pool.idle);
        }
        if let Some(bytes) = sample.spool_bytes {
            f.spool_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &f.registry) {
            tracing::error!(%error, "metrics could not be rendered");
        }
        text
    }
}

fn set(family: &Family<StateLabels, Gauge>, state: &'static str, value: u64) {
    family.get_or_create(&StateLabels { state }).set(i64::try_from(value).unwrap_or(i64::MAX));
}

fn method_label(method: &str) -> &'static str {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
    METHODS.into_iter().find(|m| *m == method).unwrap_or("other")
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample `name{labels}` in `text`, labels as rendered.
    pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
    }

    #[test]
    fn requests_are_counted_by_template_and_status_class() {
        let metrics = Metrics::new();
        for _ in 0..100 {
            metrics.observe_request("GET", Some("/payments/:id"), 404, Duration::from_millis(3));
        }
        metrics.observe_request("BREW", None, 200, Duration::from_millis(1));
        let text = metrics.render(Sample::default());
        assert_eq!(
            value(&text, r#"payments_http_requests_total{method="GET",route="/payments/:id",status="4xx"}"#),
            Some(100.0)
        );
        assert_eq!(
            value(&text, r#"payments_http_requests_total{method="other",route="unmatched",status="2xx"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(&text, r#"payments_http_request_duration_seconds_count{method="GET",route="/payments/:id"}"#),
            Some(100.0)
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn gauges_follow_the_sample() {
        let metrics = Metrics::new();
        let sample = Sample {
            outbox: Some(OutboxSample {
                pending: 3,
                retrying: 2,
                failed: 1,
                oldest_pending_age: Duration::from_millis(1500),
            }),
            argon2: Some(HasherSample { waiting: 4, running: 2 }),
            database: Some(PoolSample { in_use: 1, idle: 4 }),
            spool_bytes: Some(4096),
        };
        let text = metrics.render(sample);
        assert_eq!(value(&text, "payments_notification_spool_bytes"), Some(4096.0));
        assert_eq!(value(&text, r#"payments_outbox_jobs{state="pending"}"#), Some(3.0));
        assert_eq!(value(&text, r#"payments_outbox_jobs{state="failed"}"#), Some(1.0));
        assert_eq!(value(&text, "payments_outbox_oldest_pending_age_seconds"), Some(1.5));
        assert_eq!(value(&text, r#"payments_argon2_jobs{state="waiting"}"#), Some(4.0));
        assert_eq!(value(&text, r#"payments_db_connections{state="idle"}"#), Some(4.0));
        let later = metrics.render(Sample { outbox: Some(OutboxSample::default()), ..sample });
        assert_eq!(value(&later, r#"payments_outbox_jobs{state="pending"}"#), Some(0.0));
        assert_eq!(value(&later, "payments_outbox_oldest_pending_age_seconds"), Some(0.0));
    }

    #[test]
    fn deliveries_reconciles_and_notifications_are_counted() {
        let metrics = Metrics::new();
        metrics.observe_delivery(Some(204), Some(Duration::from_millis(120)));
        metrics.observe_delivery(Some(500), None);
        metrics.observe_delivery(None, None);
        metrics.observe_reconcile(Some(ReconcileFigures { checked: 5, drifted: 2, fixed: 2, failed: 0 }));
        metrics.observe_reconcile(None);
        metrics.observe_notification("toss.payments", NotificationOutcome::Queued);
        metrics.observe_inbox(InboxFigures { done: 2, retrying: 1, failed: 0 });
        let text = metrics.render(Sample::default());
        assert_eq!(value(&text, r#"payments_webhook_deliveries_total{outcome="delivered"}"#), Some(1.0));
        assert_eq!(value(&text, r#"payments_webhook_deliveries_total{outcome="refused"}"#), Some(1.0));
        assert_eq!(value(&text, r#"payments_webhook_deliveries_total{outcome="unreachable"}"#), Some(1.0));
        assert_eq!(value(&text, "payments_webhook_delivery_latency_seconds_count"), Some(1.0));
        assert_eq!(value(&text, r#"payments_reconcile_payments_total{outcome="drifted"}"#), Some(2.0));
        assert_eq!(value(&text, r#"payments_reconcile_runs_total{outcome="error"}"#), Some(1.0));
        assert_eq!(value(&text, r#"payments_pg_notifications_total{pg="toss.payments",outcome="queued"}"#), Some(1.0));
        assert_eq!(value(&text, r#"payments_inbox_notifications_total{outcome="done"}"#), Some(2.0));
    }

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("get"), "other");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(999), "5xx");
        assert_eq!(status_class(0), "5xx");
    }
}
