//! Wiring: builds every adapter from a [`Config`] and runs the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use payments_application::ports::{HistoryRepository, IdempotencyStore, NotificationInbox, SystemClock, UuidV7Ids};
use payments_application::{DeliveryDeps, DeliveryService, Gateways, PaymentDeps, PaymentService, ReconcileOptions};
use payments_crypto::Argon2Hasher;
use payments_domain::VendorCode;
use payments_http::{HttpState, SystemInfo};
use payments_metrics::{MeteredGateway, MeteredSender, Metrics};
use payments_sqlx::{AtRestKeys, Database, PoolConfig, Repositories};
use payments_webhook::{HttpWebhookSender, NotifyingHistories, SenderConfig, WebhookWorker, WorkerConfig};
use poem::listener::{Acceptor, Listener, TcpListener};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, Mode};
use crate::limits::limited_server;

/// A running server (API, webhook worker and, in local mode, the fake PGs).
pub struct RunningApp {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    fakes: Vec<(VendorCode, SocketAddr)>,
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningApp {
    /// Where the API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served (`None`: `PAYMENT_METRICS_ADDR=off`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Where the operators' console is served (`None`: `PAYMENT_ADMIN_ADDR=off`).
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// `http://ADDR`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the in-process fake of `pg` listens (local mode).
    pub fn fake(&self, pg: VendorCode) -> Option<SocketAddr> {
        self.fakes.iter().find(|(code, _)| *code == pg).map(|(_, addr)| *addr)
    }

    /// Every in-process fake PG (local mode), in the order of [`crate::PGS`].
    pub fn fakes(&self) -> &[(VendorCode, SocketAddr)] {
        &self.fakes
    }

    /// Stops gracefully: no new connections, in-flight requests drained, the
    /// webhook worker stopped (in-flight deliveries finished or released),
    /// pools closed.
    ///
    /// # Errors
    /// What the server failed with, if anything.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("server task panicked")?
    }

    /// Runs until `signal` completes, then stops gracefully.
    ///
    /// # Errors
    /// What the server failed with, if anything.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let stop = self.stop.clone();
        let mut task = self.task;
        tokio::select! {
            result = &mut task => return result.context("server task panicked")?,
            () = signal => {}
        }
        tracing::info!("shutting down");
        let _ = stop.send(true);
        task.await.context("server task panicked")?
    }
}

/// Binds `addr`, turning "address in use" into a message naming `variable`.
async fn bind(addr: SocketAddr, variable: &str) -> anyhow::Result<poem::listener::TcpAcceptor> {
    TcpListener::bind(addr).into_acceptor().await.with_context(|| {
        format!("{variable}: cannot listen on {addr} (in use by another process?); stop it or choose another port")
    })
}

fn bound(acceptor: &poem::listener::TcpAcceptor) -> anyhow::Result<SocketAddr> {
    acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied()).context("listener has no address")
}

/// Opens the database the configuration names and applies the migrations.
///
/// # Errors
/// When the database cannot be reached or migrated.
pub async fn open_database(config: &Config) -> anyhow::Result<Database> {
    let pool = PoolConfig { max_connections: config.database_max_connections, ..PoolConfig::default() };
    let database = Database::connect(&config.database_url, &pool)
        .await
        .with_context(|| format!("PAYMENT_DATABASE_URL: cannot open {}", redact_url(&config.database_url)))?;
    database.migrate().await.context("database migration failed")?;
    Ok(database)
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The at-rest keyrings in the persistence adapter's shape.
pub fn at_rest_keys(config: &Config) -> AtRestKeys {
    AtRestKeys {
        histories: config.at_rest.histories.clone(),
        cancels: config.at_rest.cancels.clone(),
        reservations: config.at_rest.reservations.clone(),
    }
}

/// The clients use cases over `repositories`: keys of this mode
/// (`pk_live_` in real mode, `pk_test_` otherwise).
pub fn client_service(config: &Config, repositories: &Repositories) -> payments_application::ClientService {
    let mode = if config.mode == Mode::Real {
        payments_application::KeyMode::Live
    } else {
        payments_application::KeyMode::Test
    };
    payments_application::ClientService::new(
        repositories.clients.clone(),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        mode,
    )
}

/// The operators use cases over `repositories` (the console's people):
/// passwords hashed by `hasher`, TOTP codes naming this deployment.
pub fn operator_service(
    config: &Config,
    repositories: &Repositories,
    hasher: &Argon2Hasher,
) -> payments_application::OperatorService {
    payments_application::OperatorService::new(
        repositories.operators.clone(),
        repositories.attempts.clone(),
        Arc::new(hasher.clone()),
        Arc::new(payments_crypto::totp::Totp { issuer: config.console.issuer.clone() }),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        config.console.policy,
    )
}

/// The outbox of `database`, its deliveries counted in `metrics`.
pub fn delivery_service(config: &Config, database: &Database, metrics: &Metrics) -> anyhow::Result<DeliveryService> {
    let repositories = database.repositories(at_rest_keys(config));
    let sender = HttpWebhookSender::new(
        &SenderConfig {
            timeout: config.webhooks.timeout,
            targets: Arc::new(config.webhooks.targets.clone()),
            ..SenderConfig::default()
        },
        config.wire.clone(),
        config.webhooks.secret.clone(),
        Arc::new(|event| payments_wire::WebhookBody::from_event(event).to_json_bytes()),
    )
    .context("cannot build the webhook HTTP client")?
    .with_clients(repositories.clients.clone());
    Ok(DeliveryService::new(DeliveryDeps {
        outbox: repositories.outbox,
        sender: Arc::new(MeteredSender::new(Arc::new(sender), metrics.clone())),
        clock: Arc::new(SystemClock),
        schedule: config.webhooks.schedule.clone(),
        // Longer than a delivery can take, so a live worker never loses its claim.
        lease: config.webhooks.lease,
    }))
}

fn gateways(config: &Config, metrics: &Metrics) -> anyhow::Result<Gateways> {
    let mut gateways = Gateways::new();
    for pg in &config.pg.pgs {
        let code = pg.code();
        let timeout = config.pg.timeouts.get(&code).copied().unwrap_or(payments_pg::DEFAULT_TIMEOUT);
        let settings = payments_pg::ClientSettings { timeout };
        let fake = config.pg.fakes.get(&code).map(String::as_str);
        let gateway = pg.gateway(settings, fake).with_context(|| format!("{code} configuration"))?;
        gateways = gateways.with(code, Arc::new(MeteredGateway::new(gateway, code, metrics.clone())));
    }
    Ok(gateways)
}

/// The password hasher of `config`, its hash times recorded in `metrics`.
///
/// # Errors
/// When the argon2 parameters are invalid or its threads cannot start.
pub fn hasher(config: &Config, metrics: &Metrics) -> anyhow::Result<Argon2Hasher> {
    let metrics = metrics.clone();
    Ok(Argon2Hasher::new(config.argon2, config.argon2_max_parallel)?
        .with_max_queue(config.argon2_max_queue)
        .with_observer(Arc::new(move |verify, took| metrics.observe_hash(verify, took))))
}

/// The payment use cases over `repositories`, with `histories` in front of
/// theirs (the serving process wakes its webhook worker through it), PG
/// calls counted in `metrics`.
///
/// # Errors
/// When a PG client cannot be built from `config`.
pub fn payment_service(
    config: &Config,
    repositories: &Repositories,
    histories: Arc<dyn HistoryRepository>,
    hasher: &Argon2Hasher,
    metrics: &Metrics,
) -> anyhow::Result<PaymentService> {
    Ok(PaymentService::new(PaymentDeps {
        gateways: gateways(config, metrics)?,
        histories,
        reservations: repositories.reservations.clone(),
        hasher: Arc::new(hasher.clone()),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
        webhook_urls: Arc::new(config.webhooks.targets.clone()),
        intents: repositories.intents.clone(),
        charges: repositories.charges.clone(),
        // Longer than any PG call: a cancel still being sent is never taken over.
        intent_lease: config.pg.cancel_lease,
        inbox: repositories.inbox.clone(),
        rereads: config.rereads,
        max_kept_notifications: config.max_kept_notifications,
        receipts: repositories.receipts.clone(),
        attempts: repositories.attempts.clone(),
        passwords: config.passwords,
        orders: config.orders,
        payment_orders: repositories.orders.clone(),
    }))
}

/// Runs the reconciler every `config.every`, over the recent window.
async fn reconcile_periodically(
    payments: PaymentService,
    config: crate::config::ReconcileConfig,
    every: Duration,
    metrics: Metrics,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        let since = chrono::Utc::now() - chrono::Duration::from_std(config.window).unwrap_or(chrono::Duration::days(1));
        let options = ReconcileOptions {
            since: payments_domain::to_millis(since),
            dry_run: false,
            limit: RECONCILE_LIMIT,
            pace: config.pace,
        };
        let run = payments.reconcile(options);
        // Stop promptly at shutdown, even in the middle of a paced run.
        tokio::select! {
            report = run => {
                metrics.observe_reconcile(report.as_ref().ok().map(crate::metrics::reconcile_figures));
                match report {
                    Ok(report) if report.drifted > 0 || report.failed > 0 => {
                        tracing::warn!(?report, "reconciler: payments had drifted at their PG");
                    }
                    Ok(report) => tracing::info!(?report, "reconciler: nothing drifted"),
                    Err(error) => tracing::warn!(%error, "reconciler could not run"),
                }
            }
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Most histories one periodic reconciliation re-reads.
pub const RECONCILE_LIMIT: usize = 10_000;

/// Local mode's running fake PGs (none in a build without the `fake`
/// feature, which refuses local mode).
#[derive(Default)]
struct Fakes {
    #[cfg(feature = "fake")]
    running: Vec<(VendorCode, payments_fakekit::RunningServer)>,
}

impl Fakes {
    /// Where each listens.
    fn addrs(&self) -> Vec<(VendorCode, SocketAddr)> {
        #[cfg(feature = "fake")]
        return self.running.iter().map(|(code, fake)| (*code, fake.addr())).collect();
        #[cfg(not(feature = "fake"))]
        Vec::new()
    }

    async fn stop(self) {
        #[cfg(feature = "fake")]
        for (_, fake) in self.running {
            let _ = fake.stop().await;
        }
    }
}

/// Local mode: starts each PG's fake (its webhooks sent to our route of that
/// PG) and points the PGs whose URL was not chosen at it.
#[cfg(feature = "fake")]
async fn start_fakes(config: &mut Config, api: SocketAddr) -> anyhow::Result<Fakes> {
    let mut fakes = Fakes::default();
    for pg in &config.pg.pgs {
        let Some((fake, port)) = pg.fake().and_then(|fake| Some((fake, fake.port()?))) else { continue };
        let code = pg.code();
        let webhook_url = format!("http://{api}/payments/webhooks/{code}");
        // Its error names the PG's port variable.
        let running = fake.start(SocketAddr::new(api.ip(), port), webhook_url).await?;
        tracing::info!(pg = %code, url = %running.url(), "local mode: fake PG started");
        config.pg.fakes.insert(code, running.url());
        fakes.running.push((code, running));
    }
    Ok(fakes)
}

/// A build without fakes has none to start (its configuration refuses local mode).
#[cfg(not(feature = "fake"))]
async fn start_fakes(_: &mut Config, _: SocketAddr) -> anyhow::Result<Fakes> {
    Ok(Fakes::default())
}

/// Starts everything and returns once the API is accepting connections.
///
/// # Errors
/// A port in use, an unreachable database, a failed migration.
pub async fn start(mut config: Config) -> anyhow::Result<RunningApp> {
    let started = std::time::Instant::now();
    if !config.defaulted.is_empty() {
        tracing::warn!(
            variables = ?config.defaulted,
            "local mode: using built-in development keys and test PG credentials for unset variables; never use them for real data"
        );
    }
    let acceptor = bind(config.listen, "PAYMENT_API_PORT").await?;
    let addr = bound(&acceptor)?;
    let fakes = start_fakes(&mut config, addr).await?;
    let fake_addrs = fakes.addrs();
    let database = open_database(&config).await?;
    let spool = match &config.notification_spool {
        Some(spool) => Some(
            payments_sqlx::Spool::open(spool.clone())
                .await
                .with_context(|| format!("PAYMENT_NOTIFICATION_SPOOL: cannot open {}", spool.path.display()))?,
        ),
        None => None,
    };
    // Notifications acknowledged to their PG and kept here must stay readable:
    // a histories key dropped while it still seals some is refused, naming them.
    let orphaned = database
        .orphaned_notifications(&at_rest_keys(&config), spool.as_ref())
        .await
        .context("checking that the configured keys open the PG notifications kept here")?;
    anyhow::ensure!(orphaned.is_empty(), "{orphaned}");
    let repositories = database.repositories_spooled(at_rest_keys(&config), spool.clone());
    let wake = Arc::new(Notify::new());
    // A change's delivery goes to this process's worker in memory (leased
    // to it in the same commit); a full handoff falls back to waking it.
    let (handoff, handed) = payments_webhook::handoff(config.webhooks.concurrency, config.webhooks.lease);
    let histories =
        Arc::new(NotifyingHistories::new(repositories.histories.clone(), wake.clone()).with_handoff(handoff));
    let metrics = Metrics::new();
    let hasher = hasher(&config, &metrics)?;
    let payments = payment_service(&config, &repositories, histories, &hasher, &metrics)?;
    let delivery = delivery_service(&config, &database, &metrics)?;
    let exporter = match config.metrics_listen {
        Some(listen) => {
            let acceptor = bind(listen, "PAYMENT_METRICS_ADDR").await?;
            let addr = bound(&acceptor)?;
            if !addr.ip().is_loopback() {
                tracing::warn!(%addr, "PAYMENT_METRICS_ADDR: /metrics is served beyond this host, with no authentication");
            }
            let exporter = crate::metrics::Exporter::new(
                metrics.clone(),
                delivery.clone(),
                hasher.clone(),
                database.clone(),
                spool.clone(),
            );
            Some((acceptor, addr, exporter))
        }
        None => None,
    };
    let metrics_addr = exporter.as_ref().map(|(_, addr, _)| *addr);
    let console = match config.console.listen {
        Some(listen) => {
            let acceptor = bind(listen, "PAYMENT_ADMIN_ADDR").await?;
            let addr = bound(&acceptor)?;
            let state = payments_console::ConsoleState {
                operators: operator_service(&config, &repositories, &hasher),
                payments: payments.clone(),
                delivery: delivery.clone(),
                clients: client_service(&config, &repositories),
                reconcile_window: config.reconcile.window,
                reconcile_pace: config.reconcile.pace,
                reconcile_run: Arc::default(),
                queries: repositories.console.clone(),
                histories: repositories.histories.clone(),
                spool_waiting: spool
                    .clone()
                    .map(|spool| Arc::new(move || spool.waiting_bytes()) as Arc<dyn Fn() -> u64 + Send + Sync>),
                // Served beyond loopback, the console sits behind TLS (a proxy).
                secure_cookies: !addr.ip().is_loopback(),
            };
            Some((acceptor, addr, state))
        }
        None => None,
    };
    let admin_addr = console.as_ref().map(|(_, addr, _)| *addr);
    let (stop, stopped) = watch::channel(false);

    let worker = WebhookWorker::new(
        delivery.clone(),
        WorkerConfig {
            concurrency: config.webhooks.concurrency,
            per_host: config.webhooks.per_host,
            poll_interval: config.webhooks.poll_interval,
            shutdown_grace: config.shutdown_grace,
            ..WorkerConfig::default()
        },
        wake,
    )
    .with_handoff(handed);
    let worker = tokio::spawn(worker.run(stopped.clone()));
    let purge = tokio::spawn(purge_idempotency_keys(
        repositories.idempotency.clone(),
        repositories.attempts.clone(),
        stopped.clone(),
    ));
    let retention = tokio::spawn(purge_settled_webhooks(delivery.clone(), config.webhooks.retention, stopped.clone()));
    let settle = config
        .pg
        .cancel_settle_every
        .map(|every| tokio::spawn(settle_cancels(payments.clone(), every, stopped.clone())));
    let inbox = tokio::spawn(process_inbox(
        payments.clone(),
        repositories.inbox.clone(),
        repositories.receipts.clone(),
        metrics.clone(),
        stopped.clone(),
    ));
    let reconcile = config.reconcile.every.map(|every| {
        tokio::spawn(reconcile_periodically(
            payments.clone(),
            config.reconcile,
            every,
            metrics.clone(),
            stopped.clone(),
        ))
    });
    let limits = config.limits;
    let metrics_server = exporter.map(|(acceptor, _, exporter)| {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            // A scraper needs few connections: the same limits as the API's,
            // with a small connection bound.
            let served = limited_server(acceptor, 16, &limits)
                .run_with_graceful_shutdown(
                    crate::metrics::endpoint(exporter),
                    async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    },
                    Some(Duration::from_secs(1)),
                )
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "metrics server failed");
            }
        })
    });

    let console_server = console.map(|(acceptor, _, state)| {
        let mut stopped_server = stopped.clone();
        let purge = tokio::spawn(purge_idle_sessions(state.operators.clone(), stopped.clone()));
        tokio::spawn(async move {
            // People, not programs: a small connection bound, the API's timeouts.
            let served = limited_server(acceptor, 64, &limits)
                .run_with_graceful_shutdown(
                    payments_console::endpoint(state),
                    async move {
                        let _ = stopped_server.wait_for(|stop| *stop).await;
                    },
                    Some(Duration::from_secs(1)),
                )
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "console server failed");
            }
            let _ = purge.await;
        })
    });

    let system = SystemInfo::new(
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        option_env!("PAYMENTS_GIT_COMMIT").map(str::to_owned),
    );
    let state = HttpState::new(
        payments,
        Some(delivery),
        config.wire.clone(),
        repositories.idempotency.clone(),
        system,
        config.mode == Mode::Local,
    )
    .with_metrics(metrics)
    .with_idempotency_secret(config.idempotency_secret.clone())
    .with_request_deadline(config.limits.request_timeout)
    // A request runs a few PG calls at most; its claim outlives them.
    .with_idempotency_lease(config.pg.cancel_lease.saturating_mul(2))
    .with_clients(client_service(&config, &repositories), config.legacy_client)
    .with_client_rate(config.client_rate);
    let state = config.pg.pgs.iter().fold(state, |state, pg| state.with_notifications(pg.code(), pg.notifications()));
    let endpoint = payments_http::app(state);
    let mut server_stopped = stopped;
    let grace = config.shutdown_grace;
    let stop_rest = stop.clone();
    let task = tokio::spawn(async move {
        let served = limited_server(acceptor, limits.max_connections, &limits)
            .run_with_graceful_shutdown(
                endpoint,
                async move {
                    let _ = server_stopped.wait_for(|stop| *stop).await;
                },
                Some(grace),
            )
            .await;
        // The API has drained (or failed: then stop the rest too, or this task
        // would wait for the worker forever); the worker stops claiming and
        // finishes or releases its deliveries; then the pool and the fake PGs
        // (in-flight requests may have needed them) close.
        if let Err(error) = &served {
            tracing::error!(%error, "API server failed; stopping");
        }
        let _ = stop_rest.send(true);
        let _ = worker.await;
        let _ = purge.await;
        let _ = retention.await;
        if let Some(settle) = settle {
            let _ = settle.await;
        }
        let _ = inbox.await;
        if let Some(reconcile) = reconcile {
            let _ = reconcile.await;
        }
        if let Some(metrics_server) = metrics_server {
            let _ = metrics_server.await;
        }
        if let Some(console_server) = console_server {
            let _ = console_server.await;
        }
        database.close().await;
        fakes.stop().await;
        served.context("API server failed")
    });
    tracing::info!(
        %addr,
        metrics = %metrics_addr.map_or("off".to_owned(), |a| format!("http://{a}/metrics")),
        console = %admin_addr.map_or("off".to_owned(), |a| format!("http://{a}/")),
        mode = ?config.mode,
        database = %redact_url(&config.database_url),
        startup_ms = started.elapsed().as_millis() as u64,
        "payments server listening"
    );
    Ok(RunningApp { addr, metrics_addr, admin_addr, fakes: fake_addrs, stop, task })
}

/// Cancels whose PG answer was lost (or whose sender died) are settled by
/// re-reading the PG, every `every`, a bounded batch at a time.
async fn settle_cancels(payments: PaymentService, every: Duration, mut stopped: watch::Receiver<bool>) {
    const BATCH: u32 = 100;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        match payments.settle_open_cancels(BATCH).await {
            Ok(report) if report.checked == 0 => {}
            Ok(report) => tracing::info!(?report, "open cancels settled"),
            Err(error) => tracing::warn!(%error, "could not settle open cancels"),
        }
    }
}

/// PG notifications not processed when they came (the PG or our database
/// failed, or the payment was not registered yet) are retried here; processed
/// ones are kept 7 days, then purged, with the answered deliveries past
/// their time (hourly).
async fn process_inbox(
    payments: PaymentService,
    inbox: Arc<dyn NotificationInbox>,
    receipts: Arc<dyn payments_application::ports::NotificationReceipts>,
    metrics: Metrics,
    mut stopped: watch::Receiver<bool>,
) {
    const BATCH: u32 = 50;
    const EVERY: Duration = Duration::from_secs(1);
    let mut purged_at = std::time::Instant::now();
    // A full batch means more may be due: the next is claimed at once.
    let mut full = false;
    loop {
        if full {
            if *stopped.borrow() {
                return;
            }
        } else {
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
        }
        let processed = payments.process_inbox(BATCH).await;
        full = matches!(&processed, Ok(report) if report.claimed == BATCH as usize);
        match processed {
            Ok(report) if report.claimed == 0 => {}
            Ok(report) => {
                metrics.observe_inbox(crate::metrics::inbox_figures(&report));
                tracing::info!(?report, "stored PG notifications processed");
            }
            Err(error) => tracing::warn!(%error, "could not process stored PG notifications"),
        }
        if purged_at.elapsed() > Duration::from_secs(3600) {
            purged_at = std::time::Instant::now();
            let cutoff = chrono::Utc::now() - chrono::Duration::days(7);
            match inbox.purge_before(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "old PG notifications removed"),
                Err(error) => tracing::warn!(%error, "could not purge old PG notifications"),
            }
            match receipts.purge_before(chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "answered PG deliveries past their time forgotten"),
                Err(error) => tracing::warn!(%error, "could not purge answered PG deliveries"),
            }
        }
    }
}

/// Settled webhook deliveries older than `retention` are removed hourly (at
/// most 100 batches an hour, so a first run over a large backlog spreads).
async fn purge_settled_webhooks(delivery: DeliveryService, retention: Duration, mut stopped: watch::Receiver<bool>) {
    loop {
        match delivery.purge_settled(retention, 100).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "settled webhook events past their retention removed"),
            Err(error) => tracing::warn!(%error, "could not purge settled webhook events"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Console sessions idle past their time are removed every few minutes
/// (each is refused as soon as it is idle anyway; this bounds the table),
/// and audit entries past a configured retention (none by default).
async fn purge_idle_sessions(operators: payments_application::OperatorService, mut stopped: watch::Receiver<bool>) {
    loop {
        match operators.purge_idle_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "idle console sessions removed"),
            Err(error) => tracing::warn!(%error, "could not purge idle console sessions"),
        }
        match operators.purge_expired_audit().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "audit entries past PAYMENT_ADMIN_AUDIT_RETENTION_DAYS removed"),
            Err(error) => tracing::warn!(%error, "could not purge the audit trail past its retention"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(300)) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Keys are kept 24 hours, wrong-password counts a day after their last
/// failure or lock; purge older ones hourly.
async fn purge_idempotency_keys(
    store: Arc<dyn IdempotencyStore>,
    attempts: Arc<dyn payments_application::ports::PasswordAttempts>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let cutoff = chrono::Utc::now() - chrono::Duration::hours(24);
        match store.purge_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired idempotency keys removed"),
            Err(error) => tracing::warn!(%error, "could not purge idempotency keys"),
        }
        match attempts.purge_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "old wrong-password counts removed"),
            Err(error) => tracing::warn!(%error, "could not purge wrong-password counts"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}
