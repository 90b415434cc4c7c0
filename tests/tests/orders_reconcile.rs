//! Orders whose customers paid and never came back, and whose PG webhooks
//! were lost too, completed by `payments reconcile` run as an operator runs
//! it, beside the server. Both databases; the binary is built before each
//! scenario's clock starts (a cold build takes minutes).

use payments_e2e::{Backend, Pg, TestApp, accessor, money_text, source, unique};
use payments_wire as wire;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    payments_e2e::payments_binary().await;
    payments_e2e::run(
        Backend::Sqlite,
        "orders_reconcile::sqlite",
        paid_orders_whose_webhooks_were_lost_are_completed_by_payments_reconcile,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    payments_e2e::payments_binary().await;
    payments_e2e::run(
        Backend::Postgres,
        "orders_reconcile::postgres",
        paid_orders_whose_webhooks_were_lost_are_completed_by_payments_reconcile,
    )
    .await;
}

/// An order of 10,000 won, pending and locked at `pg`.
async fn locked_order(app: &TestApp, pg: Pg, order: &str) {
    let created = app.create_order(pg, order, 10_000).await.expect("an order");
    assert!(created.pg.locked && created.state == wire::OrderStateBody::Pending, "{created:?}");
}

/// The order's payment, announced once with no previous state, and the order completed as it.
async fn completed_and_announced_once(app: &TestApp, order: &str) {
    let delivered = app.hooks.delivered(order, 1).await;
    let hook = delivered[0].webhook();
    assert!(hook.previous.is_none(), "{hook:?}");
    assert_eq!((hook.source.clone(), money_text(&hook.current.price)), (source(order), "10000".to_owned()));
    let read = app.client.get_order(&accessor(order)).await.expect("the order reads");
    assert_eq!((read.state, read.history_id), (wire::OrderStateBody::Completed, Some(hook.current.id)));
}

/// Customers who paid and never came back, whose PG webhooks were lost
/// too (PortOne and Iamport): `payments reconcile` finds the payments at the
/// PGs by their order ids, records and announces each once; a second run
/// finds nothing left. A pending order with no payment stays pending.
async fn paid_orders_whose_webhooks_were_lost_are_completed_by_payments_reconcile(app: &TestApp) {
    let (portone, iamport, unpaid) = (unique("lost"), unique("lost"), unique("unpaid"));
    locked_order(app, Pg::PortOne, &portone).await;
    locked_order(app, Pg::Iamport, &iamport).await;
    locked_order(app, Pg::PortOne, &unpaid).await;
    app.pay_in_window(Pg::PortOne, &portone, 10_000, true).await.expect("paid, its webhook lost");
    app.pay_in_window(Pg::Iamport, &iamport, 10_000, true).await.expect("paid, its webhook lost");
    let printed = app.run_command(&["reconcile", "--since", "1d"]).await;
    assert!(
        printed.contains("orders completed 2, refused 0, expired 0, paid late 0, failed 0 (of 3 pending)"),
        "{printed}"
    );
    for order in [&portone, &iamport] {
        completed_and_announced_once(app, order).await;
    }
    let pending = app.client.get_order(&accessor(&unpaid)).await.expect("the unpaid order");
    assert_eq!(pending.state, wire::OrderStateBody::Pending);
    let again = app.run_command(&["reconcile", "--since", "1d"]).await;
    assert!(
        again.contains("orders completed 0, refused 0, expired 0, paid late 0, failed 0 (of 1 pending)"),
        "{again}"
    );
    app.outbox_settled(2).await;
}
