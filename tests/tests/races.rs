//! Concurrent calls on one payment: the records stay consistent with the PG,
//! and each change is announced exactly once.

use payments_e2e::{Pg, TestApp, accessor, money_text, unique};

payments_e2e::scenarios!(
    iamport_concurrent_cancels,
    toss_concurrent_cancels,
    portone_concurrent_cancels,
    iamport_concurrent_registrations,
    toss_concurrent_registrations,
    portone_concurrent_registrations,
);

/// Five cancels of 3000 at once on a payment of 10000: at most three can
/// succeed, the others are refused; our refund equals what the PG refunded,
/// and each accepted cancel is delivered once.
async fn concurrent_cancels(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 10_000).await;
    app.register(pg, &uid, &order, 10_000).await.expect("registered");
    let results = futures::future::join_all((0..5).map(|_| app.cancel(&order, 3_000, None))).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count() as i64;
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(refused.status(), Some(409 | 422 | 503)), "a clean refusal: {refused}");
    }
    assert!((1..=3).contains(&accepted), "{results:?}");

    let (_, balance) = app.pg_state(pg, &uid).await;
    let history = app.client.get_history(&accessor(&order)).await.expect("read");
    let refunded_at_pg = 10_000 - balance;
    assert_eq!(history.refund.as_ref().map(money_text), Some(refunded_at_pg.to_string()), "{history:?}");
    assert_eq!(history.cancels.len() as i64, refunded_at_pg / 3_000);
    assert_eq!(accepted, refunded_at_pg / 3_000, "every accepted cancel refunded once at the PG");

    // Racing cancels may be recorded as one change each or, when one saved
    // state already holds another's cancel, as one change covering both. Either
    // way the events form a chain from no cancel to all of them, each delivered once.
    let all = app
        .hooks
        .wait_until("a delivery showing every cancel", |ds| {
            ds.iter()
                .any(|d| d.order() == order && d.accepted() && d.webhook().current.cancels.len() == accepted as usize)
        })
        .await;
    let mut steps: Vec<(usize, usize)> = all
        .iter()
        .filter(|d| d.order() == order && d.accepted())
        .map(|d| (d.webhook().previous.as_ref().unwrap().cancels.len(), d.webhook().current.cancels.len()))
        .collect();
    steps.sort_unstable();
    assert_eq!(steps.first().map(|s| s.0), Some(0), "{steps:?}");
    assert!(steps.windows(2).all(|w| w[0].1 == w[1].0), "each event starts where the previous ended: {steps:?}");
    assert!(steps.iter().all(|(before, after)| after > before), "every event adds a cancel: {steps:?}");
    assert_eq!(steps.last().map(|s| s.1), Some(accepted as usize), "{steps:?}");
    let outbox = app.outbox_settled(steps.len() as u64).await;
    assert_eq!(outbox.delivered, steps.len() as u64, "one delivery per event: {outbox:?}");
    assert_eq!(app.hooks.for_order(&order).len(), steps.len(), "no repeated delivery");
}

async fn iamport_concurrent_cancels(app: &TestApp) {
    concurrent_cancels(app, Pg::Iamport).await;
}

async fn toss_concurrent_cancels(app: &TestApp) {
    concurrent_cancels(app, Pg::TossPayments).await;
}

async fn portone_concurrent_cancels(app: &TestApp) {
    concurrent_cancels(app, Pg::PortOne).await;
}

/// Ten registrations of one payment at once, five under its own order and
/// five under strangers' orders: one 201, for its own order; the other
/// four of its order 409; the strangers 409 (the payment is taken) or 422
/// (not their order), never registered.
async fn concurrent_registrations(app: &TestApp, pg: Pg) {
    let own = unique("order");
    let uid = app.card_payment(pg, &own, 4_000).await;
    let strangers: Vec<String> = (0..5).map(|_| unique("order")).collect();
    let orders: Vec<&String> = std::iter::repeat_n(&own, 5).chain(&strangers).collect();
    let results = futures::future::join_all(orders.iter().map(|order| app.register(pg, &uid, order, 4_000))).await;
    let created: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "{results:?}");
    assert_eq!(created[0].source.id, own);
    for (order, result) in orders.iter().zip(&results) {
        let Err(refused) = result else { continue };
        let allowed: &[u16] = if **order == own { &[409] } else { &[409, 422] };
        assert!(refused.status().is_some_and(|s| allowed.contains(&s)), "{order}: {refused}");
    }
    let read = app.client.get_history(&accessor(&own)).await.expect("the registered one");
    assert_eq!(read.id, created[0].id);
    for order in &strangers {
        assert_eq!(app.client.get_history(&accessor(order)).await.expect_err("not registered").status(), Some(404));
    }
}

async fn iamport_concurrent_registrations(app: &TestApp) {
    concurrent_registrations(app, Pg::Iamport).await;
}

async fn toss_concurrent_registrations(app: &TestApp) {
    concurrent_registrations(app, Pg::TossPayments).await;
}

async fn portone_concurrent_registrations(app: &TestApp) {
    concurrent_registrations(app, Pg::PortOne).await;
}
