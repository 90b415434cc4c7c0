use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use payments_application::DeliveryService;
use payments_application::ports::{DeliveryJob, LeaseToken};
use payments_domain::EventId;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::circuit::Target;
use crate::notify::HandedOff;

/// Knobs of the delivery worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Deliveries in flight at once (each is one HTTP request).
    pub concurrency: usize,
    /// Deliveries in flight at once to one receiver (host and port), at most
    /// `concurrency`: a receiver that never answers holds this many slots,
    /// not all of them. Its further due jobs are released at once (claimed
    /// by nobody, their schedule unchanged) so other receivers' go first.
    pub per_host: usize,
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
            per_host: Self::default_per_host(32),
            batch: 64,
            poll_interval: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl WorkerConfig {
    /// A quarter of the slots, at least one.
    pub fn default_per_host(concurrency: usize) -> usize {
        (concurrency / 4).max(1)
    }
}

/// Drains the outbox until told to stop.
pub struct WebhookWorker {
    service: DeliveryService,
    config: WorkerConfig,
    wake: Arc<Notify>,
    handed: Option<HandedOff>,
}

/// What a delivery started from: the slots, the receivers' shares and the
/// leases of the deliveries running.
struct Running {
    slots: Arc<Semaphore>,
    shares: Shares,
    per_host: usize,
    in_flight: InFlight,
    tasks: JoinSet<()>,
}

/// What became of a job the worker tried to start.
enum Start {
    Started,
    /// Not started: its receiver holds its share of the slots.
    OverShare(DeliveryJob),
    /// Not started: no slot is free.
    NoSlot(DeliveryJob),
}

/// The leases of the deliveries in flight (released at shutdown if they do
/// not finish); the jobs themselves, with their histories, are not copied.
type InFlight = Arc<Mutex<HashMap<EventId, LeaseToken>>>;

impl WebhookWorker {
    /// `wake` is notified when a new job is committed (see `NotifyingHistories`).
    pub fn new(service: DeliveryService, config: WorkerConfig, wake: Arc<Notify>) -> Self {
        Self { service, config, wake, handed: None }
    }

    /// Also delivers the jobs handed over in memory by this process's
    /// changes (see [`crate::Handoff`]): started at once when a slot and
    /// the receiver's share allow, else released to the queue.
    #[must_use]
    pub fn with_handoff(mut self, handed: HandedOff) -> Self {
        self.handed = Some(handed);
        self
    }

    /// Runs until `shutdown` turns `true` (or its sender is dropped): claims
    /// due jobs as delivery slots free up and delivers them concurrently, no
    /// more than `per_host` of them to one receiver. On shutdown stops
    /// claiming, waits up to the grace period for in-flight deliveries, then
    /// releases the jobs of those still running so another process (or the
    /// next start) delivers them.
    ///
    /// The jobs of a receiver at its share are released as soon as they are
    /// claimed. They keep their place at the head of the queue (the claim
    /// takes the oldest due first and cannot skip a receiver), so the worker
    /// claims beyond its free slots when it finds such jobs (a lookahead that
    /// doubles while a claim holds nothing else, at most `batch`).
    ///
    /// It claims at start, when woken (a job committed unleased), at the
    /// poll (every `poll_interval` whatever else happens: other instances'
    /// jobs, retries coming due), at once again while claims come back full,
    /// and when a delivery ends only if due jobs may be waiting (the last
    /// claim was full or left some unstarted, or a handed-over job was
    /// released): a delivery that ends with the queue empty costs no claim.
    /// Jobs handed over in memory are started without a claim.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let concurrency = self.config.concurrency.max(1);
        let batch = usize::try_from(self.config.batch).unwrap_or(usize::MAX).max(1);
        let mut running = Running {
            slots: Arc::new(Semaphore::new(concurrency)),
            shares: Shares::default(),
            per_host: self.config.per_host.clamp(1, concurrency),
            in_flight: Arc::default(),
            tasks: JoinSet::new(),
        };
        let mut handed = self.handed.take();
        // Jobs claimed beyond the free slots, to see past those of receivers
        // at their share.
        let mut lookahead = 0;
        // Claim at the next turn: at start, when woken, at the poll, and
        // while claims come back full.
        let mut claim_now = true;
        // Due jobs may wait that a slot freed could start: the last claim was
        // full or left some unstarted, or a handed-over job was released.
        let mut waiting = false;
        let mut poll = tokio::time::interval(self.config.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(concurrency, per_host = running.per_host, "webhook worker started");
        while !*shutdown.borrow() {
            while running.tasks.try_join_next().is_some() {}
            let free = running.slots.available_permits();
            let mut again = false;
            if claim_now && free > 0 {
                let limit = free.saturating_add(lookahead).min(batch);
                match self.service.claim(u32::try_from(limit).unwrap_or(u32::MAX)).await {
                    Ok(jobs) => {
                        let claimed = jobs.len();
                        let (mut started, mut over_share) = (0, 0);
                        let mut unstarted = Vec::new();
                        for job in jobs {
                            match self.start(&mut running, job) {
                                Start::Started => started += 1,
                                Start::OverShare(job) => {
                                    over_share += 1;
                                    unstarted.push(job);
                                }
                                Start::NoSlot(job) => unstarted.push(job),
                            }
                        }
                        waiting = claimed == limit || !unstarted.is_empty();
                        self.release_unstarted(unstarted).await;
                        let previous = lookahead;
                        lookahead = next_lookahead(over_share, claimed == limit, batch);
                        // More may be due, and this claim either started some
                        // or will see further next time.
                        again = claimed == limit
                            && running.slots.available_permits() > 0
                            && (started > 0 || lookahead > previous);
                    }
                    Err(error) => tracing::warn!(%error, "webhook worker could not claim jobs; retrying"),
                }
                poll.reset();
            } else if claim_now {
                // Woken with every slot busy: claimed when one frees.
                waiting = true;
            }
            claim_now = again;
            if !again {
                tokio::select! {
                    () = self.wake.notified() => claim_now = true,
                    _ = poll.tick() => claim_now = true,
                    Some(_) = running.tasks.join_next(), if !running.tasks.is_empty() => claim_now = waiting,
                    Some(job) = next_handed(&mut handed) => {
                        if let Start::OverShare(job) | Start::NoSlot(job) = self.start(&mut running, job) {
                            waiting = true;
                            self.release_unstarted(vec![job]).await;
                        }
                    }
                    _ = shutdown.changed() => {}
                }
            }
        }
        self.drain(running, handed).await;
    }

    /// Starts delivering `job` if a slot is free and its receiver is within
    /// its share.
    fn start(&self, running: &mut Running, job: DeliveryJob) -> Start {
        let target = Target::of(job.event.current().webhook_url());
        let Some(share) = running.shares.take(&target, running.per_host) else {
            return Start::OverShare(job);
        };
        match running.slots.clone().try_acquire_owned() {
            Ok(slot) => {
                self.spawn_delivery(&mut running.tasks, &running.in_flight, job, slot, share);
                Start::Started
            }
            Err(_) => Start::NoSlot(job),
        }
    }

    fn spawn_delivery(
        &self,
        tasks: &mut JoinSet<()>,
        in_flight: &InFlight,
        job: DeliveryJob,
        slot: tokio::sync::OwnedSemaphorePermit,
        share: Share,
    ) {
        let service = self.service.clone();
        let in_flight = in_flight.clone();
        let event = job.event.id();
        lock(&in_flight).insert(event, job.lease);
        tasks.spawn(async move {
            let (_slot, _share) = (slot, share);
            match service.deliver(&job).await {
                Ok(Some(outcome)) => tracing::debug!(%event, ?outcome, "webhook attempt recorded"),
                Ok(None) => tracing::warn!(%event, "webhook lease lost; another worker owns the job"),
                Err(error) => tracing::warn!(%event, %error, "webhook attempt not recorded; lease will expire"),
            }
            lock(&in_flight).remove(&event);
        });
    }

    /// Gives back at once the jobs claimed but not started (their receiver
    /// at its share, or no slot left): due as they were, no attempt counted.
    async fn release_unstarted(&self, jobs: Vec<DeliveryJob>) {
        if jobs.is_empty() {
            return;
        }
        tracing::debug!(jobs = jobs.len(), "webhook jobs not started (receiver at its share, or no slot) released");
        for job in jobs {
            let event = job.event.id();
            if let Err(error) = self.service.release(event, job.lease).await {
                tracing::warn!(%event, %error, "could not release webhook job; its lease will expire");
            }
        }
    }

    async fn drain(&self, running: Running, handed: Option<HandedOff>) {
        let Running { mut tasks, in_flight, .. } = running;
        // Jobs handed over and not started go back to the queue at once.
        if let Some(HandedOff(mut handed)) = handed {
            handed.close();
            let mut left = Vec::new();
            while let Ok(job) = handed.try_recv() {
                left.push(job);
            }
            self.release_unstarted(left).await;
        }
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

/// The next job handed over, or never when there is no handoff (one whose
/// senders are all gone is dropped).
async fn next_handed(handed: &mut Option<HandedOff>) -> Option<DeliveryJob> {
    if let Some(HandedOff(receiver)) = handed {
        if let Some(job) = receiver.recv().await {
            return Some(job);
        }
        *handed = None;
    }
    std::future::pending().await
}

/// How far beyond its free slots the next claim looks: past the `over_share`
/// jobs this claim found of receivers at their share (they stay at the head
/// of the queue), twice as far while the claim was full (more may follow),
/// at most `batch`.
fn next_lookahead(over_share: usize, full: bool, batch: usize) -> usize {
    let wanted = if full { over_share.saturating_mul(2) } else { over_share };
    wanted.min(batch)
}

/// Delivery slots held per receiver.
#[derive(Debug, Clone, Default)]
struct Shares(Arc<Mutex<HashMap<Target, usize>>>);

/// One slot of a receiver's share, given back when dropped.
#[derive(Debug)]
struct Share {
    shares: Shares,
    target: Target,
}

impl Shares {
    /// One more slot for `target`, unless it holds `limit` already.
    fn take(&self, target: &Target, limit: usize) -> Option<Share> {
        let mut held = lock(&self.0);
        let count = held.get(target).copied().unwrap_or(0);
        if count >= limit {
            return None;
        }
        held.insert(target.clone(), count + 1);
        Some(Share { shares: self.clone(), target: target.clone() })
    }

    #[cfg(test)]
    fn held(&self, target: &Target) -> usize {
        lock(&self.0).get(target).copied().unwrap_or(0)
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = lock(&self.shares.0);
        if let Some(count) = held.get_mut(&self.target) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.target);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::of(&payments_domain::WebhookUrl::parse(url).unwrap())
    }

    #[test]
    fn a_receiver_holds_at_most_its_share_and_gives_it_back() {
        let shares = Shares::default();
        let (dead, other) = (target("http://127.0.0.1:8080/hook"), target("http://127.0.0.1:8081/hook"));
        let mut held: Vec<Share> = (0..2).map(|_| shares.take(&dead, 2).expect("within the share")).collect();
        assert!(shares.take(&dead, 2).is_none(), "a third slot is over the share");
        assert!(shares.take(&target("http://127.0.0.1:8080/other-path"), 2).is_none(), "the same receiver");
        let another = shares.take(&other, 2).expect("another port is another receiver");
        drop(held.pop());
        assert_eq!(shares.held(&dead), 1);
        let again = shares.take(&dead, 2).expect("a slot given back is free again");
        drop((again, another));
        assert_eq!(lock(&shares.0).len(), 1, "only receivers holding slots are kept");
        drop(held);
        assert!(lock(&shares.0).is_empty());
    }

    #[test]
    fn the_lookahead_follows_the_jobs_over_their_share() {
        assert_eq!(next_lookahead(0, true, 64), 0, "nothing over its share: claim only the free slots");
        assert_eq!(next_lookahead(3, false, 64), 3, "the whole queue was seen: look past those");
        assert_eq!(next_lookahead(3, true, 64), 6, "the claim was full: more may follow");
        assert_eq!(next_lookahead(48, true, 64), 64, "at most a batch");
        let default = WorkerConfig::default();
        assert_eq!((default.concurrency, default.per_host), (32, 8));
        assert_eq!(WorkerConfig::default_per_host(4), 1);
        assert_eq!(WorkerConfig::default_per_host(1), 1);
    }
}
