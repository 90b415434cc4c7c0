//! A server with the legacy client turned off (`PAYMENT_LEGACY_CLIENT=false`):
//! a request without a client's key is 401 before its body is read; a
//! client's is served. PG notifications need no key. Both databases.

use payments_e2e::{Pg, TestApp, accessor, assert_status, unique};

payments_e2e::scenarios!(
    with [("PAYMENT_LEGACY_CLIENT", "false")];
    without_the_legacy_client_every_request_needs_a_key,
);

async fn without_the_legacy_client_every_request_needs_a_key(app: &TestApp) {
    let order = unique("order");
    let uid = app.card_payment(Pg::PortOne, &order, 10_000).await;
    let refused = assert_status(app.register(Pg::PortOne, &uid, &order, 10_000).await, 401);
    assert_eq!(refused.code(), Some("UNAUTHENTICATED"));
    assert_status(app.client.get_history(&accessor(&order)).await, 401);
    // A client's key is served; the PG's own notification route needs none.
    let client = app.add_client("orders service", "all").await;
    assert_status(client.client.get_history(&accessor(&order)).await, 404);
    let webhook = app.pg_webhook(Pg::PortOne, &uid).await;
    assert_eq!(app.post_pg_webhook(TestApp::webhook_route(Pg::PortOne), &webhook).await, 200);
}
