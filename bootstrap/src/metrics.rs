//! `GET /metrics` on its own listener (`PAYMENT_METRICS_ADDR`): the counters
//! of [`Metrics`] and the gauges read at scrape time (outbox, argon2 queue,
//! database pool, notification spool).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use payments_application::{DeliveryService, InboxReport, ReconcileReport};
use payments_crypto::Argon2Hasher;
use payments_metrics::{HasherSample, InboxFigures, Metrics, OutboxSample, PoolSample, ReconcileFigures, Sample};
use payments_sqlx::Database;
use poem::http::header;
use poem::web::Data;
use poem::{Endpoint, EndpointExt, Response, Route, get, handler};

/// How old the outbox counts may be: they cost a query over the outbox, and
/// a scrape loop (or anyone reaching the port) must not turn into a query
/// loop.
const OUTBOX_SAMPLE_AGE: Duration = Duration::from_secs(2);

/// What a scrape reads.
pub(crate) struct Exporter {
    metrics: Metrics,
    delivery: DeliveryService,
    hasher: Argon2Hasher,
    database: Database,
    spool: Option<payments_sqlx::Spool>,
    outbox_failing: AtomicBool,
}

impl Exporter {
    pub(crate) fn new(
        metrics: Metrics,
        delivery: DeliveryService,
        hasher: Argon2Hasher,
        database: Database,
        spool: Option<payments_sqlx::Spool>,
    ) -> Self {
        Self { metrics, delivery, hasher, database, spool, outbox_failing: AtomicBool::new(false) }
    }

    /// The outbox counts; `None` while the database does not answer (the
    /// gauges then keep their last values; the failure is logged once).
    async fn outbox(&self) -> Option<OutboxSample> {
        match self.delivery.recent_stats(OUTBOX_SAMPLE_AGE).await {
            Ok(stats) => {
                self.outbox_failing.store(false, Ordering::Relaxed);
                Some(OutboxSample {
                    pending: stats.pending,
                    retrying: stats.retrying,
                    failed: stats.failed,
                    oldest_pending_age: stats.oldest_pending_age.unwrap_or_default(),
                })
            }
            Err(error) => {
                if !self.outbox_failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "metrics: the outbox counts cannot be read");
                }
                None
            }
        }
    }

    async fn render(&self) -> String {
        let load = self.hasher.load();
        let (in_use, idle) = self.database.pool_usage();
        self.metrics.render(Sample {
            outbox: self.outbox().await,
            argon2: Some(HasherSample { waiting: count(load.waiting), running: count(load.running) }),
            database: Some(PoolSample { in_use: in_use.into(), idle: idle.into() }),
            spool_bytes: self.spool.as_ref().map(payments_sqlx::Spool::waiting_bytes),
        })
    }
}

#[handler]
async fn scrape(exporter: Data<&Arc<Exporter>>) -> Response {
    Response::builder().header(header::CONTENT_TYPE, payments_metrics::CONTENT_TYPE).body(exporter.render().await)
}

/// The metrics listener's routes: `GET /metrics`, nothing else.
pub(crate) fn endpoint(exporter: Exporter) -> impl Endpoint {
    Route::new().at("/metrics", get(scrape)).data(Arc::new(exporter))
}

/// A count, as the metrics take it.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A reconciler run's figures, for the metrics.
pub(crate) fn reconcile_figures(report: &ReconcileReport) -> ReconcileFigures {
    let n = count;
    ReconcileFigures {
        checked: n(report.checked),
        drifted: n(report.drifted),
        fixed: n(report.fixed),
        failed: n(report.failed),
    }
}

/// An inbox pass's figures, for the metrics.
pub(crate) fn inbox_figures(report: &InboxReport) -> InboxFigures {
    let n = count;
    InboxFigures { done: n(report.done), retrying: n(report.retrying), failed: n(report.failed) }
}
