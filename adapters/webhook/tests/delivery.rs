//! The sender and the worker over real HTTP against a test receiver that
//! decrypts and verifies every delivery, with an in-memory outbox.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use payments_application::ports::*;
use payments_application::{DeliveryDeps, DeliveryService};
use payments_crypto::WireCipher;
use payments_domain::*;
use payments_testkit::{Answer, Receiver, ReceiverKeys};
use payments_webhook::{
    CircuitConfig, HttpWebhookSender, NotifyingHistories, RenderBody, SenderConfig, TargetPolicy, WebhookSecret,
    WebhookWorker, WorkerConfig, handoff,
};
use serde_json::json;
use tokio::sync::{Notify, watch};

const WAIT: Duration = Duration::from_secs(10);

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const KEY: &str = "0123456789abcdef0123456789abcdef";
const IV: &str = "fedcba9876543210";

fn cipher() -> WireCipher {
    WireCipher::new(KEY.as_bytes(), IV.as_bytes()).unwrap()
}

// --- an in-memory outbox -----------------------------------------------------

#[derive(Debug, Clone)]
struct Job {
    event: WebhookEvent,
    due: Timestamp,
    lease: Option<(LeaseToken, Timestamp)>,
    attempts: Vec<DeliveryAttempt>,
    done: Option<JobOutcome>,
}

#[derive(Default)]
struct MemoryOutbox {
    jobs: Mutex<HashMap<EventId, Job>>,
    claims: std::sync::atomic::AtomicUsize,
}

impl MemoryOutbox {
    fn push(&self, event: WebhookEvent) {
        self.push_leased(event, None);
    }
    fn push_leased(&self, event: WebhookEvent, lease: Option<(LeaseToken, Timestamp)>) {
        let job = Job { due: event.created_at(), event: event.clone(), lease, attempts: vec![], done: None };
        self.jobs.lock().unwrap().insert(event.id(), job);
    }
    fn claims(&self) -> usize {
        self.claims.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn job(&self, id: EventId) -> Job {
        self.jobs.lock().unwrap()[&id].clone()
    }
}

#[async_trait]
impl WebhookOutbox for MemoryOutbox {
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<DeliveryJob>, RepositoryError> {
        self.claims.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut jobs = self.jobs.lock().unwrap();
        let until = now + chrono::Duration::from_std(lease_for).unwrap();
        // The oldest due first, as the database claims them.
        let mut due: Vec<&mut Job> = jobs
            .values_mut()
            .filter(|j| j.done.is_none() && j.due <= now && j.lease.is_none_or(|(_, t)| t < now))
            .collect();
        due.sort_by_key(|j| (j.due, j.event.id()));
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|j| {
                let lease = LeaseToken(uuid::Uuid::new_v4());
                j.lease = Some((lease, until));
                DeliveryJob { event: j.event.clone(), attempts_made: j.attempts.len() as u32, lease }
            })
            .collect())
    }

    async fn record_attempt(
        &self,
        event: EventId,
        lease: LeaseToken,
        attempt: &DeliveryAttempt,
        outcome: JobOutcome,
    ) -> Result<bool, RepositoryError> {
        let mut jobs = self.jobs.lock().unwrap();
        let job = jobs.get_mut(&event).unwrap();
        if job.lease.map(|(l, _)| l) != Some(lease) {
            return Ok(false);
        }
        job.attempts.push(attempt.clone());
        job.lease = None;
        match outcome {
            JobOutcome::RetryAt(at) => job.due = at,
            other => job.done = Some(other),
        }
        Ok(true)
    }

    async fn release(&self, event: EventId, lease: LeaseToken) -> Result<(), RepositoryError> {
        let mut jobs = self.jobs.lock().unwrap();
        let job = jobs.get_mut(&event).unwrap();
        if job.lease.map(|(l, _)| l) == Some(lease) {
            job.lease = None;
        }
        Ok(())
    }

    async fn redeliver(&self, _: EventId, _: Timestamp) -> Result<bool, RepositoryError> {
        Ok(false)
    }

    async fn client_events(
        &self,
        client: payments_domain::ClientId,
        after: Option<EventId>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<payments_application::ports::FeedEvent>, RepositoryError> {
        use payments_application::ports::{FeedDelivery, FeedEvent};
        let jobs = self.jobs.lock().unwrap();
        let mut mine: Vec<&Job> = jobs
            .values()
            .filter(|j| j.event.current().identity().client == client && j.event.created_at() >= since)
            .filter(|j| after.is_none_or(|a| j.event.id() > a))
            .collect();
        mine.sort_by_key(|j| j.event.id());
        Ok(mine
            .into_iter()
            .take(limit as usize)
            .map(|j| FeedEvent {
                event: j.event.clone(),
                delivery: match j.done {
                    Some(JobOutcome::Delivered) => FeedDelivery::Delivered,
                    Some(_) => FeedDelivery::Failed,
                    None if j.attempts.is_empty() => FeedDelivery::Pending,
                    None => FeedDelivery::Retrying { attempts: j.attempts.len() as u32 },
                },
            })
            .collect())
    }

    async fn event_client(&self, event: EventId) -> Result<Option<payments_domain::ClientId>, RepositoryError> {
        Ok(self.jobs.lock().unwrap().get(&event).map(|j| j.event.current().identity().client))
    }

    async fn attempts(&self, event: EventId) -> Result<Vec<DeliveryAttempt>, RepositoryError> {
        Ok(self.job(event).attempts)
    }

    async fn stats(&self, _: Timestamp) -> Result<OutboxStats, RepositoryError> {
        Ok(OutboxStats::default())
    }

    async fn purge_settled_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepositoryError> {
        let mut jobs = self.jobs.lock().unwrap();
        let settled_before =
            |job: &Job| job.done.is_some() && job.attempts.last().is_some_and(|a| a.created_at < cutoff);
        let old: Vec<EventId> = jobs.values().filter(|j| settled_before(j)).map(|j| j.event.id()).collect();
        let purged: Vec<EventId> = old.into_iter().take(limit as usize).collect();
        for id in &purged {
            jobs.remove(id);
        }
        Ok(purged.len() as u64)
    }
}

/// The histories side of a change, as far as the handoff goes: a change's
/// event is enqueued in the memory outbox, leased when asked; no record is
/// ever found.
struct OutboxHistories(Arc<MemoryOutbox>);

#[async_trait]
impl HistoryRepository for OutboxHistories {
    async fn insert(&self, _: &PaymentHistory, _: &PasswordHash) -> Result<(), RepositoryError> {
        Ok(())
    }
    async fn find_by_id(&self, _: HistoryId) -> Result<Option<StoredHistory>, RepositoryError> {
        Ok(None)
    }
    async fn find_by_source(&self, _: ClientId, _: &Source) -> Result<Option<StoredHistory>, RepositoryError> {
        Ok(None)
    }
    async fn find_by_vendor(&self, _: VendorCode, _: &VendorUid) -> Result<Option<StoredHistory>, RepositoryError> {
        Ok(None)
    }
    async fn reconcile_candidates(
        &self,
        _: Timestamp,
        _: Option<HistoryId>,
        _: u32,
    ) -> Result<Vec<HistoryId>, RepositoryError> {
        Ok(Vec::new())
    }
    async fn find_by_order(&self, _: VendorCode, _: &OrderId, _: u32) -> Result<Vec<StoredHistory>, RepositoryError> {
        Ok(Vec::new())
    }
    async fn find_by_cancel_key(&self, _: VendorCode, _: &CancelKey) -> Result<Option<StoredHistory>, RepositoryError> {
        Ok(None)
    }
    async fn save_change(&self, _: Revision, _: &PaymentHistory, event: &WebhookEvent) -> Result<(), RepositoryError> {
        self.0.push(event.clone());
        Ok(())
    }
    async fn save_change_leased(
        &self,
        _: Revision,
        _: &PaymentHistory,
        event: &WebhookEvent,
        lease: EnqueueLease,
    ) -> Result<bool, RepositoryError> {
        self.0.push_leased(event.clone(), Some((lease.token, lease.until)));
        Ok(true)
    }
}

/// A change saved through the handoff wrapper.
async fn save(histories: &NotifyingHistories, event: &WebhookEvent) {
    histories.save_change(Revision(0), event.current(), event).await.unwrap();
}

// --- the test kit's receiver, with this suite's keys ------------------------------

async fn start_receiver(addr: SocketAddr, script: Vec<u16>, hang: bool) -> Receiver {
    let keys = ReceiverKeys::new(SECRET, KEY, IV);
    let answer = if hang { Answer::Hang } else { Answer::Script(script) };
    Receiver::start_on(addr.port(), &keys, answer).await
}

// --- wiring --------------------------------------------------------------------

fn event(url: &str, n: u128) -> WebhookEvent {
    let at = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
    let snapshot = |paid: bool| PaymentSnapshot {
        phase: if paid { PaymentPhase::Paid } else { PaymentPhase::AwaitingDeposit },
        pg_status: if paid { "paid" } else { "ready" }.into(),
        order_id: None,
        currency: Currency::krw(),
        price: "19900".parse().unwrap(),
        paid_at: paid.then(|| at(5)),
        cancelled_at: None,
        cancels: vec![],
        data: json!({ "status": if paid { "paid" } else { "ready" } }),
        pending_cancels: Vec::new(),
        failed_cancels: Vec::new(),
    };
    let identity = HistoryIdentity {
        id: HistoryId::from_uuid(uuid::Uuid::from_u128(n)),
        vendor: Vendor::parse("iamport", "store", &format!("imp_{n}")).unwrap(),
        source: Source::parse("s", "t", &format!("order-{n}")).unwrap(),
        webhook_url: WebhookUrl::parse(url).unwrap(),
        created_at: at(0),
        reservation_id: None,
        client: payments_domain::ClientId::LEGACY,
    };
    let before = PaymentHistory::register(identity, snapshot(false)).unwrap();
    let Applied::Changed(after) = before.apply(snapshot(true)).unwrap() else { panic!() };
    // created "now" so the job is due at once
    WebhookEvent::new(
        EventId::from_uuid(uuid::Uuid::from_u128(1000 + n)),
        before,
        after,
        json!({}),
        to_millis(Utc::now()),
    )
    .unwrap()
}

fn render() -> RenderBody {
    Arc::new(|e: &WebhookEvent| {
        serde_json::to_vec(&json!({ "id": e.id().to_string(), "paid": e.current().paid_at().is_some() })).unwrap()
    })
}

fn sender(timeout: Duration) -> HttpWebhookSender {
    // The receivers of these tests are on loopback, as in local mode.
    sender_with(timeout, TargetPolicy::local())
}

fn sender_with(timeout: Duration, targets: TargetPolicy) -> HttpWebhookSender {
    let config = SenderConfig { timeout, targets: Arc::new(targets), ..SenderConfig::default() };
    HttpWebhookSender::new(&config, cipher(), WebhookSecret::parse(SECRET).unwrap(), render()).unwrap()
}

fn delivery(outbox: Arc<MemoryOutbox>, timeout: Duration) -> DeliveryService {
    DeliveryService::new(DeliveryDeps {
        outbox,
        sender: Arc::new(sender(timeout)),
        clock: Arc::new(SystemClock),
        schedule: RetrySchedule::new(vec![Duration::from_millis(20); 6], 0).unwrap(),
        lease: Duration::from_secs(30),
    })
}

struct RunningWorker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    wake: Arc<Notify>,
}

fn start_worker(service: DeliveryService, config: WorkerConfig) -> RunningWorker {
    let (stop, stopped) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let task = tokio::spawn(WebhookWorker::new(service, config, wake.clone()).run(stopped));
    RunningWorker { stop, task, wake }
}

fn fast() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(10),
        shutdown_grace: Duration::from_millis(200),
        ..Default::default()
    }
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    within(what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

// --- tests ---------------------------------------------------------------------

#[tokio::test]
async fn a_delivery_is_encrypted_signed_and_verifiable() {
    let mut receiver = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], false).await;
    let e = event(&receiver.url(), 1);
    let result = payments_application::ports::WebhookSender::send(&sender(Duration::from_secs(5)), &e).await;
    assert_eq!(result.status, Some(200));
    assert_eq!(result.body.as_deref(), Some("answer 200"));
    let got = receiver.next(WAIT).await;
    assert_eq!(got.id, e.id().to_string());
    assert_eq!(got.content_type, "text/plain; charset=utf-8");
    assert_eq!(got.json["paid"], true);
    assert!(receiver.rejected().is_empty(), "signed and encrypted as the client verifies: {:?}", receiver.rejected());
}

#[tokio::test]
async fn a_target_the_policy_refuses_is_never_connected_to() {
    let mut receiver = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], false).await;
    let port = receiver.addr().port();
    // Stored while loopback was allowed (local mode), delivered under the
    // strict policy of today: by address, and by a name that resolves there.
    let strict = sender_with(Duration::from_secs(5), TargetPolicy::default());
    for (n, url) in
        [format!("http://127.0.0.1:{port}/hook"), format!("http://localhost:{port}/hook")].iter().enumerate()
    {
        let e = event(url, 40 + n as u128);
        let result = payments_application::ports::WebhookSender::send(&strict, &e).await;
        assert_eq!(result.status, None, "{url}");
    }
    assert!(receiver.drain().is_empty(), "the receiver saw nothing");
    // A listed private network is a target.
    let listed = TargetPolicy::new(&["127.0.0.0/8".into()], false, false).unwrap();
    let result = payments_application::ports::WebhookSender::send(
        &sender_with(Duration::from_secs(5), listed),
        &event(&format!("http://127.0.0.1:{port}/hook"), 50),
    )
    .await;
    assert_eq!(result.status, None, "loopback stays refused even when listed as a network");
}

#[tokio::test]
async fn a_listed_loopback_port_is_delivered_to_and_its_neighbours_are_not() {
    let mut listed = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], false).await;
    let mut neighbour = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], false).await;
    let (port, other) = (listed.addr().port(), neighbour.addr().port());
    // Outside local mode, as dev and real run; `localhost` listed without a
    // port too, so the name passes and only the port decides.
    let policy = TargetPolicy::new(&[format!("localhost:{port}"), "localhost".into()], false, false).unwrap();
    let sender = sender_with(Duration::from_secs(5), policy);
    for (n, url) in
        [format!("http://localhost:{port}/hook"), format!("http://127.0.0.1:{port}/hook")].iter().enumerate()
    {
        let e = event(url, 60 + n as u128);
        let result = payments_application::ports::WebhookSender::send(&sender, &e).await;
        assert_eq!(result.status, Some(200), "{url}");
        assert_eq!(listed.next(WAIT).await.id, e.id().to_string());
    }
    // Stored before the policy changed: another port of the same host, by
    // name and by address, is never connected to.
    for (n, url) in
        [format!("http://localhost:{other}/hook"), format!("http://127.0.0.1:{other}/hook")].iter().enumerate()
    {
        let result = payments_application::ports::WebhookSender::send(&sender, &event(url, 70 + n as u128)).await;
        assert_eq!(result.status, None, "{url}");
    }
    assert!(neighbour.drain().is_empty(), "the unlisted port saw nothing");
}

#[tokio::test]
async fn three_500s_then_200_is_four_attempts_and_one_delivery() {
    let mut receiver = start_receiver("127.0.0.1:0".parse().unwrap(), vec![500, 500, 500], false).await;
    let outbox = Arc::new(MemoryOutbox::default());
    let e = event(&receiver.url(), 2);
    outbox.push(e.clone());
    let worker = start_worker(delivery(outbox.clone(), Duration::from_secs(5)), fast());
    wait_until("delivery", || outbox.job(e.id()).done.is_some()).await;
    let job = outbox.job(e.id());
    assert_eq!(job.done, Some(JobOutcome::Delivered));
    let statuses: Vec<_> = job.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(500), Some(200)]);
    let ids: Vec<String> = receiver.drain().into_iter().map(|d| d.id).collect();
    assert_eq!(ids.len(), 4, "four requests, none after the 200: {ids:?}");
    assert!(ids.iter().all(|id| *id == e.id().to_string()), "same webhook-id on every attempt: {ids:?}");
    worker.stop.send(true).unwrap();
    within("worker stop", worker.task).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_receiver_is_retried_until_it_comes_up() {
    // Reserve a free port, then leave it closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let outbox = Arc::new(MemoryOutbox::default());
    let e = event(&format!("http://{addr}/hook"), 3);
    outbox.push(e.clone());
    let worker = start_worker(delivery(outbox.clone(), Duration::from_secs(5)), fast());
    wait_until("two failed attempts", || outbox.job(e.id()).attempts.len() >= 2).await;
    let mut receiver = start_receiver(addr, vec![], false).await;
    wait_until("delivery", || outbox.job(e.id()).done.is_some()).await;
    let job = outbox.job(e.id());
    assert_eq!(job.done, Some(JobOutcome::Delivered));
    let (last, earlier) = job.attempts.split_last().unwrap();
    assert!(earlier.iter().all(|a| a.status.is_none() && a.body.is_none()), "{earlier:?}");
    assert_eq!(last.status, Some(200));
    assert_eq!(receiver.next(WAIT).await.id, e.id().to_string());
    worker.stop.send(true).unwrap();
    within("worker stop", worker.task).await.unwrap();
}

#[tokio::test]
async fn the_schedule_ends_in_failure() {
    let receiver = start_receiver("127.0.0.1:0".parse().unwrap(), vec![503; 20], false).await;
    let outbox = Arc::new(MemoryOutbox::default());
    let e = event(&receiver.url(), 4);
    outbox.push(e.clone());
    let worker = start_worker(delivery(outbox.clone(), Duration::from_secs(5)), fast());
    wait_until("failure", || outbox.job(e.id()).done.is_some()).await;
    assert_eq!(outbox.job(e.id()).done, Some(JobOutcome::Failed));
    assert_eq!(outbox.job(e.id()).attempts.len(), 7, "1 + 6 retries");
    worker.stop.send(true).unwrap();
    within("worker stop", worker.task).await.unwrap();
}

#[tokio::test]
async fn a_wake_up_delivers_without_waiting_for_the_poll() {
    let mut receiver = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], false).await;
    let outbox = Arc::new(MemoryOutbox::default());
    let config = WorkerConfig { poll_interval: Duration::from_secs(3600), ..fast() };
    let worker = start_worker(delivery(outbox.clone(), Duration::from_secs(5)), config);
    tokio::time::sleep(Duration::from_millis(50)).await; // let it go idle on the hour-long poll
    let e = event(&receiver.url(), 5);
    outbox.push(e.clone());
    worker.wake.notify_one();
    let got = receiver.next(WAIT).await;
    assert_eq!(got.id, e.id().to_string());
    worker.stop.send(true).unwrap();
    within("worker stop", worker.task).await.unwrap();
}

/// A change committed by this process goes to its worker in memory, leased
/// to it in the same write: delivered with no claim (the worker's only
/// claim is its first, before the change, and the poll is an hour away).
#[tokio::test]
async fn a_change_is_handed_to_the_worker_and_delivered_without_a_claim() {
    let mut receiver = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], false).await;
    let outbox = Arc::new(MemoryOutbox::default());
    let (handoff, handed) = handoff(4, Duration::from_secs(30));
    let (stop, stopped) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let config = WorkerConfig { poll_interval: Duration::from_secs(3600), ..fast() };
    let worker =
        WebhookWorker::new(delivery(outbox.clone(), Duration::from_secs(5)), config, wake.clone()).with_handoff(handed);
    let task = tokio::spawn(worker.run(stopped));
    wait_until("the worker's first claim", || outbox.claims() == 1).await;
    let histories = NotifyingHistories::new(Arc::new(OutboxHistories(outbox.clone())), wake).with_handoff(handoff);
    let e = event(&receiver.url(), 21);
    save(&histories, &e).await;
    assert!(outbox.job(e.id()).lease.is_some(), "enqueued leased to this process");
    let got = receiver.next(WAIT).await;
    assert_eq!(got.id, e.id().to_string());
    wait_until("the attempt recorded", || outbox.job(e.id()).done == Some(JobOutcome::Delivered)).await;
    assert_eq!(outbox.job(e.id()).attempts.len(), 1);
    assert_eq!(outbox.claims(), 1, "no claim took it");
    stop.send(true).unwrap();
    within("worker stop", task).await.unwrap();
}

/// A job handed to a process that died before delivering it (its worker
/// never took it) stays pending under its lease; once the lease runs out
/// any worker claims and delivers it. A change saved once that process's
/// worker is gone is enqueued unleased, for any worker at once.
#[tokio::test]
async fn a_handed_job_whose_process_died_is_delivered_once_its_lease_runs_out() {
    let mut receiver = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], false).await;
    let outbox = Arc::new(MemoryOutbox::default());
    let (handoff, handed) = handoff(4, Duration::from_millis(300));
    let histories = NotifyingHistories::new(Arc::new(OutboxHistories(outbox.clone())), Arc::new(Notify::new()))
        .with_handoff(handoff);
    let e = event(&receiver.url(), 22);
    save(&histories, &e).await;
    let committed = std::time::Instant::now();
    assert!(outbox.job(e.id()).lease.is_some());
    // Another instance's worker, polling every 10 ms.
    let other = start_worker(delivery(outbox.clone(), Duration::from_secs(5)), fast());
    let got = receiver.next(WAIT).await;
    assert_eq!(got.id, e.id().to_string());
    assert!(
        committed.elapsed() >= Duration::from_millis(250),
        "not before its lease ran out: {:?}",
        committed.elapsed()
    );
    wait_until("the attempt recorded", || outbox.job(e.id()).done == Some(JobOutcome::Delivered)).await;

    drop(handed);
    let late = event(&receiver.url(), 23);
    save(&histories, &late).await;
    assert!(outbox.job(late.id()).lease.is_none(), "no worker here to hand it to: unleased");
    assert_eq!(receiver.next(WAIT).await.id, late.id().to_string());
    other.stop.send(true).unwrap();
    within("worker stop", other.task).await.unwrap();
}

#[tokio::test]
async fn shutdown_releases_deliveries_still_in_flight() {
    let mut receiver = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], true).await;
    let outbox = Arc::new(MemoryOutbox::default());
    let e = event(&receiver.url(), 6);
    outbox.push(e.clone());
    let worker = start_worker(delivery(outbox.clone(), Duration::from_secs(60)), fast());
    receiver.next(WAIT).await;
    assert!(outbox.job(e.id()).lease.is_some(), "claimed while in flight");
    worker.stop.send(true).unwrap();
    within("worker stop", worker.task).await.unwrap();
    let job = outbox.job(e.id());
    assert!(job.lease.is_none(), "released at shutdown so another process can deliver it");
    assert!(job.attempts.is_empty() && job.done.is_none());
}

/// A receiver that accepts the request and never answers holds its share of
/// the slots (1 of 4 here), not all of them: another receiver's delivery goes
/// at once, and the dead receiver's other jobs stay claimed by nobody with
/// their schedule untouched (no attempt, due as they were).
#[tokio::test]
async fn a_dead_receiver_holds_its_share_of_the_slots_and_no_more() {
    let mut dead = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], true).await;
    let mut alive = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], false).await;
    let outbox = Arc::new(MemoryOutbox::default());
    let stuck: Vec<WebhookEvent> = (0..12).map(|n| event(&dead.url(), 100 + n)).collect();
    for e in &stuck {
        outbox.push(e.clone());
    }
    let config = WorkerConfig { concurrency: 4, per_host: 1, ..fast() };
    let worker = start_worker(delivery(outbox.clone(), Duration::from_secs(60)), config);
    dead.next(WAIT).await;

    // Queued behind the 11 others of the dead receiver (the oldest go first).
    let other = event(&alive.url(), 200);
    outbox.push(other.clone());
    let started = std::time::Instant::now();
    worker.wake.notify_one();
    let got = alive.next(WAIT).await;
    let took = started.elapsed();
    assert_eq!(got.id, other.id().to_string());
    assert!(took < Duration::from_secs(1), "another receiver is not held up by a dead one: {took:?}");
    wait_until("the other delivery recorded", || outbox.job(other.id()).done.is_some()).await;
    assert!(dead.drain().is_empty(), "one request at a time to the dead receiver");

    worker.stop.send(true).unwrap();
    within("worker stop", worker.task).await.unwrap();
    for e in &stuck {
        let job = outbox.job(e.id());
        assert!(job.lease.is_none() && job.attempts.is_empty() && job.done.is_none(), "{job:?}");
        assert_eq!(job.due, e.created_at(), "due as it was: the retry schedule is untouched");
    }
}

/// A receiver that never answers costs the full timeout until its circuit
/// opens (2 failures in a row here), then the short one; another receiver
/// is not concerned.
#[tokio::test]
async fn a_receiver_that_never_answers_gets_the_short_timeout_once_its_circuit_opens() {
    let dead = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], true).await;
    let alive = start_receiver("127.0.0.1:0".parse().unwrap(), vec![], false).await;
    let circuit = CircuitConfig { failures: 2, open_timeout: Duration::from_millis(100), ..CircuitConfig::default() };
    let config = SenderConfig {
        timeout: Duration::from_millis(800),
        targets: Arc::new(TargetPolicy::local()),
        circuit,
        ..SenderConfig::default()
    };
    let sender = HttpWebhookSender::new(&config, cipher(), WebhookSecret::parse(SECRET).unwrap(), render()).unwrap();
    let mut took = Vec::new();
    for n in 0..4 {
        let started = std::time::Instant::now();
        let result = WebhookSender::send(&sender, &event(&dead.url(), 300 + n)).await;
        assert_eq!(result.status, None);
        took.push(started.elapsed());
    }
    assert!(took[..2].iter().all(|t| *t >= Duration::from_millis(750)), "the full timeout while closed: {took:?}");
    assert!(took[2..].iter().all(|t| *t < Duration::from_millis(500)), "the short one once open: {took:?}");
    let result = WebhookSender::send(&sender, &event(&alive.url(), 310)).await;
    assert_eq!(result.status, Some(200), "another receiver is delivered to");
}
