use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use payments_application::DeliveryService;
use payments_application::ports::{DeliveryJob, LeaseToken};
use payments_domain::EventId;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

/// Knobs of the delivery worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Deliveries in flight at once (each is one HTTP request).
    pub concurrency: usize,
    /// Most jobs claimed per query.
    pub batch: u32,
    /// How often to look for due jobs when not woken (jobs of other instances,
    /// retries coming due).
    pub poll_interval: Duration,
    /// How long in-flight deliveries may finish at shutdown before their jobs
    /// are released.
    pub shutdown_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            batch: 64,
            poll_interval: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Drains the outbox until told to stop.
pub struct WebhookWorker {
    service: DeliveryService,
    config: WorkerConfig,
    wake: Arc<Notify>,
}

/// The leases of the deliveries in flight (released at shutdown if they do
/// not finish); the jobs themselves, with their histories, are not copied.
type InFlight = Arc<Mutex<HashMap<EventId, LeaseToken>>>;

impl WebhookWorker {
    /// `wake` is notified when a new job is committed (see `NotifyingHistories`).
    pub fn new(service: DeliveryService, config: WorkerConfig, wake: Arc<Notify>) -> Self {
        Self { service, config, wake }
    }

    /// Runs until `shutdown` turns `true` (or its sender is dropped): claims
    /// due jobs as delivery slots free up and delivers them concurrently. On
    /// shutdown stops claiming, waits up to the grace period for in-flight
    /// deliveries, then releases the jobs of those still running so another
    /// process (or the next start) delivers them.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let in_flight: InFlight = Arc::default();
        let mut tasks = JoinSet::new();
        tracing::info!(concurrency = self.config.concurrency, "webhook worker started");
        while !*shutdown.borrow() {
            while tasks.try_join_next().is_some() {}
            let free = slots.available_permits();
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                let limit = u32::try_from(free).unwrap_or(u32::MAX).min(self.config.batch);
                self.service.claim(limit).await
            };
            let idle = match claimed {
                Ok(jobs) if !jobs.is_empty() => {
                    for job in jobs {
                        let Ok(slot) = slots.clone().acquire_owned().await else { break };
                        self.spawn_delivery(&mut tasks, &in_flight, job, slot);
                    }
                    false
                }
                Ok(_) => true,
                Err(error) => {
                    tracing::warn!(%error, "webhook worker could not claim jobs; retrying");
                    true
                }
            };
            if idle || slots.available_permits() == 0 {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        self.drain(tasks, in_flight).await;
    }

    fn spawn_delivery(
        &self,
        tasks: &mut JoinSet<()>,
        in_flight: &InFlight,
        job: DeliveryJob,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) {
        let service = self.service.clone();
        let in_flight = in_flight.clone();
        let event = job.event.id();
        lock(&in_flight).insert(event, job.lease);
        tasks.spawn(async move {
            let _slot = slot;
            match service.deliver(&job).await {
                Ok(Some(outcome)) => tracing::debug!(%event, ?outcome, "webhook attempt recorded"),
                Ok(None) => tracing::warn!(%event, "webhook lease lost; another worker owns the job"),
                Err(error) => tracing::warn!(%event, %error, "webhook attempt not recorded; lease will expire"),
            }
            lock(&in_flight).remove(&event);
        });
    }

    async fn drain(&self, mut tasks: JoinSet<()>, in_flight: InFlight) {
        let grace = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                next = tasks.join_next() => if next.is_none() { break },
                () = &mut grace => {
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
        let unfinished: Vec<(EventId, LeaseToken)> = lock(&in_flight).drain().collect();
        for &(event, lease) in &unfinished {
            if let Err(error) = self.service.release(event, lease).await {
                tracing::warn!(%event, %error, "could not release webhook job; its lease will expire");
            }
        }
        tracing::info!(released = unfinished.len(), "webhook worker stopped");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
