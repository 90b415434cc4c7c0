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
