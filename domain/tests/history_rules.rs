//! The rules of a payment history, through the public API only.

use chrono::{TimeZone, Utc};
use payments_domain::*;
use proptest::prelude::*;
use serde_json::json;

fn at(secs: i64) -> Timestamp {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn money(text: &str) -> Money {
    text.parse().unwrap()
}

fn identity() -> HistoryIdentity {
    HistoryIdentity {
        id: HistoryId::from_uuid(uuid::Uuid::nil()),
        vendor: Vendor::parse("iamport", "store", "imp_1").unwrap(),
        source: Source::parse("shop", "orders", "order-1").unwrap(),
        webhook_url: WebhookUrl::parse("http://127.0.0.1/hook").unwrap(),
        created_at: at(0),
        reservation_id: None,
        client: ClientId::LEGACY,
    }
}

fn cancel(key: &str, price: &str, secs: i64) -> CancelHistory {
    CancelHistory {
        key: CancelKey::parse(key).unwrap(),
        price: money(price),
        reason: CancelReason::parse("changed mind").unwrap(),
        created_at: at(secs),
        data: json!({ "key": key }),
    }
}

fn snapshot(price: &str, paid: bool, cancels: Vec<CancelHistory>) -> PaymentSnapshot {
    PaymentSnapshot {
        phase: if paid { PaymentPhase::Paid } else { PaymentPhase::AwaitingDeposit },
        pg_status: if paid { "DONE" } else { "WAITING_FOR_DEPOSIT" }.to_owned(),
        order_id: Some(OrderId::parse("order-1").unwrap()),
        currency: Currency::krw(),
        price: money(price),
        paid_at: paid.then(|| at(1)),
        cancelled_at: None,
        data: json!({ "status": if cancels.is_empty() { "paid" } else { "cancelled" }, "n": cancels.len() }),
        cancels,
        pending_cancels: Vec::new(),
        failed_cancels: Vec::new(),
    }
}

fn paid_history(price: &str) -> PaymentHistory {
    PaymentHistory::register(identity(), snapshot(price, true, vec![])).unwrap()
}

#[test]
fn registration_checks_the_charged_price() {
    let snap = snapshot("19900", true, vec![]);
    assert!(snap.ensure_price(money("19900.00")).is_ok());
    assert_eq!(
        snap.ensure_price(money("100")),
        Err(DomainError::PriceMismatch { expected: money("100"), charged: money("19900") })
    );
}

#[test]
fn a_fresh_history_has_no_refund() {
    let history = paid_history("10000");
    assert_eq!(history.refund(), Money::ZERO);
    assert_eq!(history.remaining(), money("10000"));
    assert_eq!(history.cancelled_at(), None);
    assert_eq!(history.paid_at(), Some(at(1)));
}

#[test]
fn cancel_must_be_positive_and_within_the_balance() {
    let history = paid_history("10000");
    assert_eq!(history.check_cancel(Money::ZERO), Err(DomainError::NonPositiveCancel));
    assert!(history.check_cancel(money("10000")).is_ok());
    assert_eq!(
        history.check_cancel(money("10001")),
        Err(DomainError::CancelExceedsBalance { requested: money("10001"), remaining: money("10000") })
    );
    // A won has no cents: refused as the caller's mistake, whatever the balance.
    assert!(matches!(history.check_cancel(money("0.5")), Err(DomainError::Invalid { field: "price", .. })));
}

#[test]
fn applying_partial_cancels_sums_refund_and_keeps_the_first_cancel_time() {
    let history = paid_history("10000");
    let Applied::Changed(one) = history.apply(snapshot("10000", true, vec![cancel("c1", "3000", 10)])).unwrap() else {
        panic!("a new cancel is a change");
    };
    assert_eq!(one.refund(), money("3000"));
    assert_eq!(one.remaining(), money("7000"));
    assert_eq!(one.cancelled_at(), Some(at(10)));

    let both = vec![cancel("c1", "3000", 10), cancel("c2", "7000", 20)];
    let Applied::Changed(two) = one.apply(snapshot("10000", true, both)).unwrap() else {
        panic!("a second cancel is a change");
    };
    assert_eq!(two.refund(), money("10000"));
    assert_eq!(two.remaining(), Money::ZERO);
    assert_eq!(two.cancelled_at(), Some(at(10)), "cancelled_at stays the first cancellation");
    assert_eq!(two.cancels().len(), 2);
    assert_eq!(
        two.check_cancel(money("1")),
        Err(DomainError::CancelExceedsBalance { requested: money("1"), remaining: Money::ZERO })
    );
}

#[test]
fn the_same_snapshot_twice_changes_nothing() {
    let history = paid_history("10000");
    let snap = snapshot("10000", true, vec![cancel("c1", "3000", 10)]);
    let Applied::Changed(next) = history.apply(snap.clone()).unwrap() else { panic!() };
    assert_eq!(next.apply(snap).unwrap(), Applied::Unchanged);
    assert_eq!(history.apply(snapshot("10000", true, vec![])).unwrap(), Applied::Unchanged);
}

#[test]
fn a_stale_snapshot_changes_nothing() {
    // A PG notification read the payment after c1 but is applied after c2 was recorded.
    let history = paid_history("10000");
    let one = snapshot("10000", true, vec![cancel("c1", "3000", 10)]);
    let Applied::Changed(first) = history.apply(one.clone()).unwrap() else { panic!() };
    let both = vec![cancel("c1", "3000", 10), cancel("c2", "2000", 20)];
    let Applied::Changed(second) = first.apply(snapshot("10000", true, both)).unwrap() else { panic!() };
    assert_eq!(second.apply(one).unwrap(), Applied::Unchanged, "older PG JSON does not replace newer");
    assert_eq!(second.apply(snapshot("10000", true, vec![])).unwrap(), Applied::Unchanged);
    assert_eq!(second.data()["n"], 2);
}

#[test]
fn a_snapshot_from_before_the_deposit_changes_nothing() {
    // A PG answer read before the deposit is applied after the deposit was recorded.
    let waiting = PaymentHistory::register(identity(), snapshot("19900", false, vec![])).unwrap();
    let Applied::Changed(paid) = waiting.apply(snapshot("19900", true, vec![])).unwrap() else { panic!() };
    let mut before = snapshot("19900", false, vec![]);
    before.data = json!({ "status": "ready" });
    assert_eq!(paid.apply(before).unwrap(), Applied::Unchanged, "older PG JSON does not replace newer");
    assert_eq!(paid.paid_at(), Some(at(1)));
}

#[test]
fn a_current_snapshot_of_a_reversed_deposit_makes_the_payment_unpaid_again() {
    let waiting = PaymentHistory::register(identity(), snapshot("19900", false, vec![])).unwrap();
    let Applied::Changed(paid) = waiting.apply_current(snapshot("19900", true, vec![])).unwrap() else { panic!() };
    let mut reversed = snapshot("19900", false, vec![]);
    reversed.data = json!({ "status": "WAITING_FOR_DEPOSIT", "lastTransactionKey": "reversal" });
    // Of unknown age (a cancel's answer), it may be older than the deposit: kept as it was.
    assert_eq!(paid.apply(reversed.clone()).unwrap(), Applied::Unchanged);
    // Read after the record was loaded: the bank reversed the deposit.
    let Applied::Changed(unpaid) = paid.apply_current(reversed.clone()).unwrap() else { panic!("a reversal") };
    assert_eq!(unpaid.paid_at(), None);
    assert_eq!(unpaid.data()["lastTransactionKey"], "reversal");
    assert_eq!(unpaid.apply_current(reversed).unwrap(), Applied::Unchanged, "announced once");
    // Toss 1.x reports a reversal as CANCELED without any refund.
    let mut cancelled = snapshot("19900", false, vec![]);
    cancelled.phase = PaymentPhase::Cancelled;
    let Applied::Changed(unpaid) = paid.apply_current(cancelled).unwrap() else { panic!("a 1.x reversal") };
    assert_eq!(unpaid.paid_at(), None);
}

#[test]
fn a_refunded_payment_is_never_taken_as_a_reversed_deposit() {
    let paid = paid_history("10000");
    let Applied::Changed(refunded) = paid.apply(snapshot("10000", true, vec![cancel("c1", "10000", 10)])).unwrap()
    else {
        panic!()
    };
    let mut unpaid = snapshot("10000", false, vec![cancel("c1", "10000", 10)]);
    unpaid.phase = PaymentPhase::Cancelled;
    assert_eq!(refunded.apply_current(unpaid).unwrap(), Applied::Unchanged, "paid_at stays once paid and refunded");
    // Only a virtual account awaiting its deposit, or cancelled without refund, is a reversal.
    let mut failed = snapshot("10000", false, vec![]);
    failed.phase = PaymentPhase::Failed;
    assert_eq!(paid.apply_current(failed).unwrap(), Applied::Unchanged);
}

#[test]
fn only_payments_that_can_be_paid_are_registrable() {
    for (phase, ok) in [
        (PaymentPhase::Paid, true),
        (PaymentPhase::AwaitingDeposit, true),
        (PaymentPhase::AwaitingConfirmation, false),
        (PaymentPhase::Cancelled, false),
        (PaymentPhase::Failed, false),
    ] {
        let snap = PaymentSnapshot { phase, pg_status: "SOME_STATUS".into(), ..snapshot("100", false, vec![]) };
        match snap.ensure_registrable() {
            Ok(()) => assert!(ok, "{phase:?}"),
            Err(error) => {
                assert!(!ok, "{phase:?}");
                assert!(error.to_string().contains("SOME_STATUS"), "{error}");
            }
        }
    }
}

#[test]
fn a_pg_reason_is_always_storable() {
    assert_eq!(CancelReason::from_pg(None).as_str(), "-");
    assert_eq!(CancelReason::from_pg(Some("  ")).as_str(), "-");
    assert_eq!(CancelReason::from_pg(Some("a\0b")).as_str(), "ab");
    let long = "가".repeat(5000);
    assert_eq!(CancelReason::from_pg(Some(&long)).as_str().chars().count(), CancelReason::MAX_CHARS);
}

#[test]
fn recorded_cancels_are_not_duplicated_or_rewritten() {
    let history = paid_history("10000");
    let Applied::Changed(next) = history.apply(snapshot("10000", true, vec![cancel("c1", "3000", 10)])).unwrap() else {
        panic!()
    };
    // The PG re-reports c1 with other details: ours is kept, not doubled.
    let mut again = cancel("c1", "3000", 99);
    again.data = json!({ "other": true });
    assert_eq!(
        next.apply(snapshot("10000", true, vec![again])).unwrap(),
        Applied::Unchanged,
        "a re-reported cancel is neither doubled nor rewritten"
    );
}

#[test]
fn an_older_snapshot_does_not_take_the_record_back_in_time() {
    let history = paid_history("10000");
    let Applied::Changed(two) =
        history.apply(snapshot("10000", true, vec![cancel("c0", "100", 10), cancel("c1", "200", 20)])).unwrap()
    else {
        panic!("two cancels change it")
    };
    // Read from the PG before c1 happened (a webhook racing our own cancel).
    assert_eq!(two.apply(snapshot("10000", true, vec![cancel("c0", "100", 10)])).unwrap(), Applied::Unchanged);
    assert_eq!(two.data()["n"], 2);
}

#[test]
fn a_deposit_sets_paid_at() {
    let waiting = PaymentHistory::register(identity(), snapshot("19900", false, vec![])).unwrap();
    assert_eq!(waiting.paid_at(), None);
    let Applied::Changed(paid) = waiting.apply(snapshot("19900", true, vec![])).unwrap() else { panic!() };
    assert_eq!(paid.paid_at(), Some(at(1)));
}

#[test]
fn snapshots_that_break_invariants_are_refused() {
    let history = paid_history("10000");
    let over = vec![cancel("c1", "6000", 10), cancel("c2", "6000", 11)];
    assert!(matches!(history.apply(snapshot("10000", true, over)), Err(DomainError::InconsistentSnapshot(_))));
    assert!(matches!(history.apply(snapshot("9999", true, vec![])), Err(DomainError::InconsistentSnapshot(_))));
    let mut usd = snapshot("10000", true, vec![]);
    usd.currency = Currency::parse("USD").unwrap();
    assert!(matches!(history.apply(usd), Err(DomainError::InconsistentSnapshot(_))));
    let mut zero = cancel("c1", "1", 10);
    zero.price = Money::ZERO;
    assert!(PaymentHistory::register(identity(), snapshot("10000", true, vec![zero])).is_err());
}

#[test]
fn storage_round_trip_rechecks_invariants() {
    let Applied::Changed(history) =
        paid_history("10000").apply(snapshot("10000", true, vec![cancel("c1", "2500.5", 10)])).unwrap()
    else {
        panic!()
    };
    let json = serde_json::to_value(&history).unwrap();
    let back: PaymentHistory = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, history);

    let mut broken = json;
    broken["price"] = json!(1);
    assert!(serde_json::from_value::<PaymentHistory>(broken).is_err(), "refund above price cannot be loaded");
}

#[test]
fn an_event_joins_two_states_of_one_history() {
    let before = paid_history("10000");
    let Applied::Changed(after) = before.apply(snapshot("10000", true, vec![cancel("c1", "1", 10)])).unwrap() else {
        panic!()
    };
    let event =
        WebhookEvent::new(EventId::from_uuid(uuid::Uuid::nil()), before.clone(), after.clone(), json!({}), at(11))
            .unwrap();
    assert_eq!(event.history_id(), before.id());
    assert_eq!(event.source(), before.source());

    let mut other = identity();
    other.id = HistoryId::from_uuid(uuid::Uuid::from_u128(7));
    let stranger = PaymentHistory::register(other, snapshot("10000", true, vec![])).unwrap();
    assert!(WebhookEvent::new(EventId::from_uuid(uuid::Uuid::nil()), before, stranger, json!({}), at(11)).is_err());
}

#[test]
fn retry_schedule_spans_three_days_then_gives_up() {
    let schedule = RetrySchedule::three_days();
    assert_eq!(schedule.max_attempts(), 8);
    assert_eq!(schedule.after_failure(1, 0.5), NextStep::RetryAfter(std::time::Duration::from_secs(60)));
    let total: u64 = (1..8)
        .map(|n| match schedule.after_failure(n, 0.5) {
            NextStep::RetryAfter(d) => d.as_secs(),
            NextStep::GiveUp => panic!("attempt {n} still retries"),
        })
        .sum();
    assert!((3 * 86_400..4 * 86_400).contains(&total), "about three days, got {total}s");
    assert_eq!(schedule.after_failure(8, 0.5), NextStep::GiveUp);
    let NextStep::RetryAfter(low) = schedule.after_failure(2, 0.0) else { panic!() };
    let NextStep::RetryAfter(high) = schedule.after_failure(2, 0.999) else { panic!() };
    assert!(low.as_secs() >= 216 && high.as_secs() <= 264, "±10% of 240s: {low:?}..{high:?}");
    assert!(RetrySchedule::new(vec![], 0).is_err());
}

#[test]
fn delivery_attempt_bodies_are_bounded() {
    let long = "가".repeat(5000);
    let attempt = DeliveryAttempt::answered(500, &long, at(0));
    assert!(attempt.body.as_ref().unwrap().len() <= DeliveryAttempt::MAX_BODY_BYTES);
    assert!(!attempt.is_success());
    assert!(DeliveryAttempt::answered(204, "", at(0)).is_success());
    assert!(!DeliveryAttempt::unanswered(at(0)).is_success());
}

proptest! {
    /// Any sequence of cancel requests, applied as the PG would (accepting
    /// those `check_cancel` allows), keeps refund == sum(cancels) <= price and
    /// refuses exactly the one that would exceed it.
    #[test]
    fn partial_cancels_never_refund_more_than_the_price(
        price_cents in 1u64..10_000_000,
        requests in proptest::collection::vec(0u64..5_000_000, 1..30),
    ) {
        // Cents: a currency that has them.
        let usd = payments_domain::Currency::parse("USD").unwrap();
        let price = Money::new(Decimal::new(price_cents as i64, 2)).unwrap();
        let mut history = PaymentHistory::register(identity(), PaymentSnapshot {
            price, currency: usd.clone(), data: json!({}), ..snapshot("1", true, vec![])
        }).unwrap();
        let mut pg_cancels: Vec<CancelHistory> = vec![];
        for (i, cents) in requests.into_iter().enumerate() {
            let amount = Money::new(Decimal::new(cents as i64, 2)).unwrap();
            let remaining = history.remaining();
            match history.check_cancel(amount) {
                Ok(()) => {
                    prop_assert!(!amount.is_zero() && amount <= remaining);
                    pg_cancels.push(CancelHistory {
                        key: CancelKey::parse(format!("c{i}")).unwrap(),
                        price: amount,
                        reason: CancelReason::parse("r").unwrap(),
                        created_at: at(10 + i as i64),
                        data: json!(null),
                    });
                    let snap = PaymentSnapshot {
                        price,
                        currency: usd.clone(),
                        cancels: pg_cancels.clone(),
                        data: json!({ "n": i }),
                        ..snapshot("1", true, vec![])
                    };
                    match history.apply(snap).unwrap() {
                        Applied::Changed(next) => history = next,
                        Applied::Unchanged => prop_assert!(false, "a new cancel must change the history"),
                    }
                }
                Err(DomainError::NonPositiveCancel) => prop_assert!(amount.is_zero()),
                Err(DomainError::CancelExceedsBalance { requested, remaining: left }) => {
                    prop_assert_eq!(requested, amount);
                    prop_assert_eq!(left, remaining);
                    prop_assert!(amount > remaining);
                }
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
            let sum = Money::sum(history.cancels().iter().map(|c| &c.price)).unwrap();
            prop_assert_eq!(history.refund(), sum);
            prop_assert!(history.refund() <= history.price());
            prop_assert_eq!(history.cancelled_at(), history.cancels().first().map(|c| c.created_at));
        }
    }

    /// A snapshot whose cancels sum above the price is always refused.
    #[test]
    fn over_refunding_snapshots_are_refused(price in 1u64..1_000_000, extra in 1u64..1_000) {
        let history = PaymentHistory::register(identity(), PaymentSnapshot {
            price: Money::new(price.into()).unwrap(), data: json!({}), ..snapshot("1", true, vec![])
        }).unwrap();
        let too_much = Money::new((price + extra).into()).unwrap();
        let snap = PaymentSnapshot {
            price: history.price(),
            cancels: vec![CancelHistory {
                key: CancelKey::parse("c").unwrap(), price: too_much, reason: CancelReason::parse("r").unwrap(),
                created_at: at(5), data: json!(null),
            }],
            data: json!({}),
            ..snapshot("1", true, vec![])
        };
        prop_assert!(matches!(history.apply(snap), Err(DomainError::InconsistentSnapshot(_))));
    }
}

/// A cancel the PG accepted and has not completed is listed as pending, not
/// refunded; the PG's later word completes it (counted) or drops it (failed);
/// a snapshot that does not list it yet keeps it.
#[test]
fn a_pending_cancel_is_listed_until_the_pg_completes_or_fails_it() {
    let history = paid_history("10000");
    let mut accepted = snapshot("10000", true, vec![]);
    accepted.pending_cancels = vec![cancel("c-1", "3000", 5)];
    let Applied::Changed(pending) = history.apply(accepted.clone()).unwrap() else { panic!("a new pending cancel") };
    assert_eq!(pending.refund(), Money::ZERO, "nothing refunded yet");
    assert_eq!(pending.remaining(), money("10000"));
    assert_eq!(pending.pending_cancels().len(), 1);
    assert!(pending.cancels().is_empty());
    assert_eq!(pending.apply(accepted).unwrap(), Applied::Unchanged, "the same word twice is no change");
    let older = snapshot("10000", true, vec![]);
    match pending.apply(older).unwrap() {
        Applied::Unchanged => {}
        Applied::Changed(next) => assert_eq!(next.pending_cancels().len(), 1, "kept while the PG does not say"),
    }

    let done = snapshot("10000", true, vec![cancel("c-1", "3000", 6)]);
    let Applied::Changed(completed) = pending.apply(done).unwrap() else { panic!("completed") };
    assert_eq!(completed.refund(), money("3000"));
    assert!(completed.pending_cancels().is_empty());

    let mut failed = snapshot("10000", true, vec![]);
    failed.failed_cancels = vec![CancelKey::parse("c-1").unwrap()];
    let Applied::Changed(dropped) = pending.apply(failed).unwrap() else { panic!("dropped") };
    assert!(dropped.pending_cancels().is_empty());
    assert_eq!(dropped.refund(), Money::ZERO, "a failed cancel refunded nothing");

    let mut parts = completed.to_parts();
    parts.pending_cancels = vec![cancel("c-1", "3000", 7)];
    assert!(PaymentHistory::restore(parts).is_err(), "one cancel is never both done and pending");
    let mut parts = history.to_parts();
    parts.pending_cancels = vec![cancel("c-2", "0", 7)];
    assert!(PaymentHistory::restore(parts).is_err(), "a pending cancel is > 0");
}
