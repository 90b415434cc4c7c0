//! The delivery use case against mocks of the outbox, the sender and the clock.

use std::sync::Arc;
use std::time::Duration;

use payments_domain::*;
use serde_json::json;

use super::*;
use crate::ports::*;
use crate::test_support::*;

fn job(attempts_made: u32) -> DeliveryJob {
    let before = history("10000", false);
    let Applied::Changed(after) = before.apply(snapshot("10000", true, vec![])).unwrap() else { panic!() };
    let event =
        WebhookEvent::new(EventId::from_uuid(uuid::Uuid::from_u128(77)), before, after, json!({}), at(5)).unwrap();
    DeliveryJob { event, attempts_made, lease: LeaseToken(uuid::Uuid::from_u128(5)) }
}

fn service(outbox: MockWebhookOutbox, result: SendResult) -> DeliveryService {
    let mut sender = MockWebhookSender::new();
    sender.expect_send().times(1).returning(move |_| result.clone());
    let mut clock = MockClock::new();
    clock.expect_now().returning(|| at(1000));
    DeliveryService::new(DeliveryDeps {
        outbox: Arc::new(outbox),
        sender: Arc::new(sender),
        clock: Arc::new(clock),
        schedule: RetrySchedule::new(vec![Duration::from_secs(10), Duration::from_secs(20)], 0).unwrap(),
        lease: Duration::from_secs(30),
    })
}

#[tokio::test]
async fn a_2xx_completes_the_job() {
    let mut outbox = MockWebhookOutbox::new();
    outbox
        .expect_record_attempt()
        .withf(|id, lease, attempt, outcome| {
            id.as_uuid().as_u128() == 77
                && lease.0.as_u128() == 5
                && attempt.status == Some(201)
                && attempt.body.as_deref() == Some("ok")
                && *outcome == JobOutcome::Delivered
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let s = service(outbox, SendResult { status: Some(201), body: Some("ok".into()) });
    assert_eq!(s.deliver(&job(0)).await.unwrap(), Some(JobOutcome::Delivered));
}

#[tokio::test]
async fn a_500_is_retried_on_schedule() {
    let mut outbox = MockWebhookOutbox::new();
    outbox
        .expect_record_attempt()
        .withf(|_, _, attempt, outcome| {
            attempt.status == Some(500) && *outcome == JobOutcome::RetryAt(at(1000) + chrono::Duration::seconds(20))
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let s = service(outbox, SendResult { status: Some(500), body: Some("boom".into()) });
    assert!(matches!(s.deliver(&job(1)).await.unwrap(), Some(JobOutcome::RetryAt(_))));
}

#[tokio::test]
async fn an_unreachable_receiver_is_an_attempt_without_status() {
    let mut outbox = MockWebhookOutbox::new();
    outbox
        .expect_record_attempt()
        .withf(|_, _, attempt, outcome| {
            attempt.status.is_none() && attempt.body.is_none() && matches!(outcome, JobOutcome::RetryAt(_))
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let s = service(outbox, SendResult { status: None, body: None });
    s.deliver(&job(0)).await.unwrap();
}

#[tokio::test]
async fn the_last_attempt_fails_the_job() {
    let mut outbox = MockWebhookOutbox::new();
    outbox
        .expect_record_attempt()
        .withf(|_, _, _, outcome| *outcome == JobOutcome::Failed)
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let s = service(outbox, SendResult { status: Some(404), body: None });
    assert_eq!(s.deliver(&job(2)).await.unwrap(), Some(JobOutcome::Failed));
}

#[tokio::test]
async fn a_lost_lease_reports_nothing_recorded() {
    let mut outbox = MockWebhookOutbox::new();
    outbox.expect_record_attempt().returning(|_, _, _, _| Ok(false));
    let s = service(outbox, SendResult { status: Some(200), body: None });
    assert_eq!(s.deliver(&job(0)).await.unwrap(), None);
}

fn service_without_sends(outbox: MockWebhookOutbox) -> DeliveryService {
    let mut clock = MockClock::new();
    clock.expect_now().returning(|| at(100 * 86_400));
    DeliveryService::new(DeliveryDeps {
        outbox: Arc::new(outbox),
        sender: Arc::new(MockWebhookSender::new()),
        clock: Arc::new(clock),
        schedule: RetrySchedule::new(vec![Duration::from_secs(10)], 0).unwrap(),
        lease: Duration::from_secs(30),
    })
}

#[tokio::test]
async fn settled_deliveries_are_purged_in_bounded_batches_before_the_retention_cutoff() {
    let mut outbox = MockWebhookOutbox::new();
    let mut left: u64 = 2 * u64::from(PURGE_BATCH) + 7;
    outbox
        .expect_purge_settled_before()
        // 100 days after the epoch, minus 90 days.
        .withf(|cutoff, limit| *cutoff == at(10 * 86_400) && *limit == PURGE_BATCH)
        .times(3)
        .returning(move |_, limit| {
            let batch = left.min(u64::from(limit));
            left -= batch;
            Ok(batch)
        });
    let s = service_without_sends(outbox);
    let retention = Duration::from_secs(90 * 86_400);
    assert_eq!(s.purge_settled(retention, 100).await.unwrap(), 2 * u64::from(PURGE_BATCH) + 7);

    // However much is left, one call removes at most `max_batches` batches.
    let mut endless = MockWebhookOutbox::new();
    endless.expect_purge_settled_before().times(2).returning(|_, limit| Ok(u64::from(limit)));
    let s = service_without_sends(endless);
    assert_eq!(s.purge_settled(retention, 2).await.unwrap(), 2 * u64::from(PURGE_BATCH));
}

#[tokio::test]
async fn recent_counts_are_shared_for_their_age() {
    let mut outbox = MockWebhookOutbox::new();
    outbox.expect_stats().times(1).returning(|_| Ok(OutboxStats { pending: 3, ..OutboxStats::default() }));
    let s = service_without_sends(outbox);
    for _ in 0..50 {
        assert_eq!(s.recent_stats(Duration::from_secs(60)).await.unwrap().pending, 3);
    }
    let mut failing = MockWebhookOutbox::new();
    failing.expect_stats().times(2).returning(|_| Err(RepositoryError::Unavailable("down".into())));
    let s = service_without_sends(failing);
    assert_eq!(s.recent_stats(Duration::ZERO).await.unwrap_err().cause(), crate::Cause::StorageUnavailable);
    assert_eq!(
        s.recent_stats(Duration::ZERO).await.unwrap_err().cause(),
        crate::Cause::StorageUnavailable,
        "a failure is not kept"
    );
}
