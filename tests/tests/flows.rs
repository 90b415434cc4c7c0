//! Every payment flow of the original project's end-to-end program, for each
//! PG, over real HTTP through the encrypting client, with the fake PGs as the
//! customers' side: card payment, five partial cancels, virtual account with
//! deposit and webhook, saved card and a charge on it; and the monitors.

use payments_e2e::{PASSWORD, Pg, TestApp, accessor, accessor_with, assert_status, money_text, source, unique, vendor};
use payments_wire as wire;
use serde_json::{Value, json};

payments_e2e::scenarios!(
    iamport_card_payment,
    toss_card_payment,
    portone_card_payment,
    iamport_partial_cancels,
    toss_partial_cancels,
    portone_partial_cancels,
    iamport_virtual_account,
    toss_virtual_account,
    portone_virtual_account,
    iamport_saved_card,
    toss_saved_card,
    portone_saved_card,
    iamport_saved_card_charged,
    toss_saved_card_charged,
    portone_saved_card_charged,
    iamport_dollars,
    toss_dollars,
    portone_dollars,
    toss_cancel_completed_later,
    portone_cancel_completed_later,
    toss_cancel_refused_at_the_pg,
    portone_cancel_refused_at_the_pg,
    monitors,
);

/// Whole cancel states per PG: (after a partial cancel, after the whole amount).
fn cancelled_statuses(pg: Pg) -> (&'static str, &'static str) {
    match pg {
        Pg::Iamport => ("paid", "cancelled"),
        Pg::TossPayments => ("PARTIAL_CANCELED", "CANCELED"),
        Pg::PortOne => ("PARTIAL_CANCELLED", "CANCELLED"),
    }
}

/// Card payment -> register -> read by id and by source -> wrong password 403 -> full cancel.
async fn card_payment(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 10_000).await;
    let created = app.register(pg, &uid, &order, 10_000).await.expect("registered");
    assert_eq!(created.vendor_code, pg);
    assert_eq!(created.vendor.uid, uid);
    assert_eq!(created.vendor.store_id, payments_e2e::store_of(pg));
    assert_eq!(created.source, source(&order));
    assert_eq!(money_text(&created.price), "10000");
    assert_eq!(created.currency, "KRW");
    assert_eq!(created.refund, None);
    assert!(created.paid_at.is_some(), "a card payment is paid");
    assert_eq!(created.cancelled_at, None);
    assert!(created.cancels.is_empty());
    assert!(created.data.is_object(), "the PG's own JSON is kept: {}", created.data);
    assert_eq!(created.webhook_url, app.hook_url());

    let by_id = app.client.get_history_by_id(created.id, PASSWORD).await.expect("read by id");
    assert_eq!(by_id, created);
    let by_source = app.client.get_history(&accessor(&order)).await.expect("read by source");
    assert_eq!(by_source, created);

    let wrong = assert_status(app.client.get_history_by_id(created.id, "not the password").await, 403);
    assert_eq!(wrong.code(), Some("WRONG_PASSWORD"));
    assert_status(app.client.get_history(&accessor_with(&order, "not the password")).await, 403);
    assert_status(app.client.get_history_by_id(uuid::Uuid::now_v7(), PASSWORD).await, 404);
    assert_status(app.client.get_history(&accessor(&unique("no-such-order"))).await, 404);

    let cancelled = app.cancel(&order, 10_000, None).await.expect("cancelled");
    assert_eq!(cancelled.refund.as_ref().map(money_text).as_deref(), Some("10000"));
    assert!(cancelled.cancelled_at.is_some());
    assert_eq!(cancelled.cancels.len(), 1);
    assert_eq!(money_text(&cancelled.cancels[0].price), "10000");
    assert_eq!(cancelled.cancels[0].reason, "e2e cancel of 10000");
    assert_eq!(app.pg_state(pg, &uid).await, (cancelled_statuses(pg).1.to_owned(), 0));

    let delivered = app.hooks.delivered(&order, 1).await;
    let hook = &delivered[0];
    assert_eq!(hook.id, hook.webhook().id.to_string());
    assert_eq!(hook.webhook().source, source(&order));
    assert_eq!(hook.webhook().previous.as_ref().unwrap().refund, None);
    assert_eq!(hook.webhook().current.refund.as_ref().map(money_text).as_deref(), Some("10000"));
    assert_eq!(hook.webhook().current.id, created.id);
    app.outbox_settled(1).await;
    assert_eq!(app.hooks.for_order(&order).len(), 1, "one change, one delivery");
    let after = app.client.get_history(&accessor(&order)).await.expect("read after the cancel");
    assert_eq!(after, cancelled);
}

async fn iamport_card_payment(app: &TestApp) {
    card_payment(app, Pg::Iamport).await;
}

async fn toss_card_payment(app: &TestApp) {
    card_payment(app, Pg::TossPayments).await;
}

async fn portone_card_payment(app: &TestApp) {
    card_payment(app, Pg::PortOne).await;
}

/// Card payment -> five partial cancels of a fifth each, checking refund,
/// cancels and the delivered webhook after each.
async fn partial_cancels(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 10_000).await;
    let created = app.register(pg, &uid, &order, 10_000).await.expect("registered");
    let mut first_cancel_at = None;
    for i in 1..=5u64 {
        let history = app.cancel(&order, 2_000, None).await.unwrap_or_else(|e| panic!("cancel {i}: {e}"));
        let refund = (2_000 * i).to_string();
        assert_eq!(history.refund.as_ref().map(money_text), Some(refund.clone()), "refund after cancel {i}");
        assert_eq!(history.cancels.len(), i as usize);
        assert!(history.cancels.iter().all(|c| money_text(&c.price) == "2000"));
        // cancelled_at is the FIRST cancellation time.
        let cancelled_at = history.cancelled_at.expect("cancelled_at after a cancel");
        assert_eq!(*first_cancel_at.get_or_insert(cancelled_at), cancelled_at);
        assert_eq!(money_text(&history.price), "10000", "the price never changes");

        let delivered = app.hooks.delivered(&order, i as usize).await;
        let hook = delivered.last().expect("a delivery");
        assert_eq!(hook.webhook().current.cancels.len(), i as usize, "delivery {i}");
        assert_eq!(hook.webhook().previous.as_ref().unwrap().cancels.len(), i as usize - 1, "delivery {i}");
        assert_eq!(hook.webhook().current.refund.as_ref().map(money_text), Some(refund));
        assert_eq!(
            hook.webhook().previous.as_ref().unwrap().refund.as_ref().map(money_text),
            (i > 1).then(|| (2_000 * (i - 1)).to_string())
        );
        assert_eq!(hook.webhook().current.id, created.id);

        let (status, balance) = app.pg_state(pg, &uid).await;
        assert_eq!(balance, 10_000 - 2_000 * i as i64, "balance at the PG after cancel {i}");
        let expected = if i == 5 { cancelled_statuses(pg).1 } else { cancelled_statuses(pg).0 };
        assert_eq!(status, expected);
    }
    let ids: std::collections::HashSet<_> = app.hooks.for_order(&order).iter().map(|d| d.webhook().id).collect();
    assert_eq!(ids.len(), 5, "five distinct events");
    assert_status(app.cancel(&order, 1, None).await, 422);
    app.outbox_settled(5).await;
    assert_eq!(app.hooks.for_order(&order).len(), 5, "one delivery per cancel");
}

async fn iamport_partial_cancels(app: &TestApp) {
    partial_cancels(app, Pg::Iamport).await;
}

async fn toss_partial_cancels(app: &TestApp) {
    partial_cancels(app, Pg::TossPayments).await;
}

async fn portone_partial_cancels(app: &TestApp) {
    partial_cancels(app, Pg::PortOne).await;
}

/// Virtual account -> register -> deposit at the fake PG -> exactly one
/// webhook with previous.paid_at null and current.paid_at set -> cancel with
/// a refund account.
async fn virtual_account(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.virtual_account(pg, &order, 25_000).await;
    let created = app.register(pg, &uid, &order, 25_000).await.expect("registered");
    assert_eq!(created.paid_at, None, "awaiting the deposit");
    assert_eq!(money_text(&created.price), "25000");

    app.deposit(pg, &uid).await;
    let delivered = app.hooks.delivered(&order, 1).await;
    let hook = &delivered[0];
    assert_eq!(hook.webhook().previous.as_ref().unwrap().paid_at, None);
    assert!(hook.webhook().current.paid_at.is_some());
    assert_eq!(hook.webhook().current.refund, None);
    assert_eq!(hook.webhook().source, source(&order));
    app.outbox_settled(1).await;
    assert_eq!(app.hooks.for_order(&order).len(), 1, "exactly one delivery for the deposit");

    let paid = app.client.get_history(&accessor(&order)).await.expect("read after the deposit");
    assert_eq!(paid.paid_at, hook.webhook().current.paid_at);

    // A virtual account is refunded to a bank account, which the PG requires.
    let refused = app.cancel(&order, 25_000, None).await;
    assert!(matches!(refused.as_ref().map_err(|e| e.status()), Err(Some(400 | 422))), "{refused:?}");
    let cancelled = app.cancel(&order, 25_000, Some(TestApp::refund_account(pg))).await.expect("refunded");
    assert_eq!(cancelled.refund.as_ref().map(money_text).as_deref(), Some("25000"));
    assert!(cancelled.cancelled_at.is_some());
    assert_eq!(app.pg_state(pg, &uid).await.1, 0, "nothing left at the PG");
    let delivered = app.hooks.delivered(&order, 2).await;
    assert_eq!(delivered[1].webhook().current.refund.as_ref().map(money_text).as_deref(), Some("25000"));
    assert!(delivered[1].webhook().previous.as_ref().unwrap().paid_at.is_some());
    app.outbox_settled(2).await;
    assert_eq!(app.hooks.for_order(&order).len(), 2);
}

async fn iamport_virtual_account(app: &TestApp) {
    virtual_account(app, Pg::Iamport).await;
}

async fn toss_virtual_account(app: &TestApp) {
    virtual_account(app, Pg::TossPayments).await;
}

async fn portone_virtual_account(app: &TestApp) {
    virtual_account(app, Pg::PortOne).await;
}

fn customer(id: &str) -> wire::SourceBody {
    wire::SourceBody { schema: "shop".into(), table: "customers".into(), id: id.into() }
}

/// Saved card -> register reservation -> read by id and by source; a charge
/// on the saved card -> register -> read.
async fn saved_card(app: &TestApp, pg: Pg) {
    // Toss reads a billing key with its customer key, which is the source id.
    let customer_key = unique("customer");
    let card_uid = match pg {
        Pg::Iamport => {
            app.iamport.save_card(&customer_key).await;
            customer_key.clone()
        }
        Pg::TossPayments => app.toss.save_card(&customer_key).await,
        Pg::PortOne => app.portone.save_card_numbered(&customer_key, "4444333322221111").await,
    };
    let reservation = app
        .client
        .save_card(&wire::CreateReservationBody {
            vendor: vendor(pg, &card_uid),
            source: customer(&customer_key),
            title: "monthly plan".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("reservation registered");
    assert_eq!(reservation.vendor.uid, card_uid);
    assert_eq!(reservation.vendor_code, pg);
    assert_eq!(reservation.title, "monthly plan");
    assert_eq!(reservation.source, customer(&customer_key));
    assert!(reservation.data.is_object(), "{}", reservation.data);

    let by_id = app.client.get_saved_card_by_id(reservation.id, PASSWORD).await.expect("read by id");
    assert_eq!(by_id, reservation);
    let accessor = wire::SourceAccessorBody {
        schema: "shop".into(),
        table: "customers".into(),
        id: customer_key.clone(),
        password: PASSWORD.into(),
    };
    let by_source = app.client.get_saved_card(&accessor).await.expect("read by source");
    assert_eq!(by_source, reservation);
    assert_status(app.client.get_saved_card_by_id(reservation.id, "wrong").await, 403);
    let wrong = wire::SourceAccessorBody { password: "wrong".into(), ..accessor };
    assert_status(app.client.get_saved_card(&wrong).await, 403);

    // The backend charges the saved card, then registers the payment.
    let order = unique("order");
    let payment_uid = match pg {
        Pg::Iamport => app.iamport.charge_saved_card(&customer_key, &order, 9_900).await,
        Pg::TossPayments => app.toss.charge_saved_card(&card_uid, &customer_key, &order, 9_900).await,
        Pg::PortOne => app.portone.charge_saved_card(&card_uid, &customer_key, &order, 9_900).await,
    };
    let history = app.register(pg, &payment_uid, &order, 9_900).await.expect("charge registered");
    assert_eq!(money_text(&history.price), "9900");
    assert!(history.paid_at.is_some());
    let read = app.client.get_history_by_id(history.id, PASSWORD).await.expect("read the charge");
    assert_eq!(read, history);
}

async fn iamport_saved_card(app: &TestApp) {
    saved_card(app, Pg::Iamport).await;
}

async fn toss_saved_card(app: &TestApp) {
    saved_card(app, Pg::TossPayments).await;
}

async fn portone_saved_card(app: &TestApp) {
    saved_card(app, Pg::PortOne).await;
}

/// Health, system and performance through the client.
async fn monitors(app: &TestApp) {
    app.client.health().await.expect("healthy");
    let system = app.client.system().await.expect("system");
    assert_eq!(system.package.name, "payments");
    let again = app.client.system().await.expect("system again");
    assert_eq!(system.uid, again.uid, "one process, one uid");
    let performance = app.client.performance().await.expect("performance");
    let outbox = performance.outbox.expect("this server delivers webhooks");
    assert_eq!((outbox.pending, outbox.retrying, outbox.delivered, outbox.failed), (0, 0, 0, 0));
    // A client with another key cannot read the answers.
    let stranger =
        payments_client::PaymentsClient::new(app.url(), b"0123456789abcdef", b"0123456789abcdef").expect("a client");
    assert!(matches!(stranger.system().await, Err(payments_client::ClientError::Decrypt(_))));
}

/// The card number every fake declines when a saved card of it is charged.
const DECLINED_CARD: &str = "4000000000000002";

/// Saves a card of `number` at the fake PG and registers it here.
async fn saved(app: &TestApp, pg: Pg, number: &str) -> wire::ReservationBody {
    let customer_key = unique("customer");
    let card_uid = match pg {
        Pg::Iamport => {
            // Iamport writes a card number in groups of four.
            let grouped: Vec<String> = number.as_bytes().chunks(4).map(|g| String::from_utf8_lossy(g).into()).collect();
            app.iamport.save_card_numbered(&customer_key, &grouped.join("-")).await;
            customer_key.clone()
        }
        Pg::TossPayments => app.toss.save_card_numbered(&customer_key, number).await,
        Pg::PortOne => app.portone.save_card_numbered(&customer_key, number).await,
    };
    app.client
        .save_card(&wire::CreateReservationBody {
            vendor: vendor(pg, &card_uid),
            source: customer(&customer_key),
            title: "monthly plan".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("reservation registered")
}

fn charge_of(order: &str, price: u64, app: &TestApp) -> wire::ChargeReservationBody {
    wire::ChargeReservationBody {
        password: PASSWORD.into(),
        source: source(order),
        price: payments_e2e::amount(price),
        title: "monthly plan, December".into(),
        webhook_url: app.hook_url(),
    }
}

/// Saved card charged through the server: the payment is an ordinary
/// history (read, partial cancel, its webhook); the same Idempotency-Key
/// charges once; a declined card is 422 and stores nothing; a removed card
/// is 410; wrong password 403; unknown card 404.
async fn saved_card_charged(app: &TestApp, pg: Pg) {
    let card = saved(app, pg, "4321567812348765").await;
    let order = unique("order");
    let key = unique("charge-key");
    let charged = app.client.charge_saved_card(card.id, &charge_of(&order, 12_000, app), &key).await.expect("charged");
    assert_eq!(money_text(&charged.price), "12000");
    assert_eq!(charged.reservation_id, Some(card.id));
    assert_eq!(charged.source, source(&order));
    assert!(charged.paid_at.is_some());
    let (status, balance) = app.pg_state(pg, &charged.vendor.uid).await;
    let paid = match pg {
        Pg::Iamport => "paid",
        Pg::TossPayments => "DONE",
        Pg::PortOne => "PAID",
    };
    assert_eq!((status.as_str(), balance), (paid, 12_000));

    // The same key again: the first answer, and no second charge at the PG.
    let again = app.client.charge_saved_card(card.id, &charge_of(&order, 12_000, app), &key).await.expect("replayed");
    assert_eq!(again, charged);
    // Another key for the same order: refused before the PG is called.
    let other = app.client.charge_saved_card(card.id, &charge_of(&order, 12_000, app), &unique("k")).await;
    assert_status(other, 409);
    assert_eq!(app.pg_state(pg, &charged.vendor.uid).await.1, 12_000, "charged once");

    let read = app.client.get_history_by_id(charged.id, PASSWORD).await.expect("read the charge");
    assert_eq!(read, charged);
    let cancelled = app.cancel(&order, 2_000, None).await.expect("partial cancel");
    assert_eq!(cancelled.refund.as_ref().map(money_text), Some("2000".into()));
    let delivered = app.hooks.delivered(&order, 1).await;
    assert_eq!(delivered[0].webhook().current.id, charged.id);
    assert_eq!(app.pg_state(pg, &charged.vendor.uid).await.1, 10_000);

    // Wrong password, unknown card, no key.
    let wrong = wire::ChargeReservationBody { password: "wrong".into(), ..charge_of(&unique("order"), 100, app) };
    assert_status(app.client.charge_saved_card(card.id, &wrong, &unique("k")).await, 403);
    let unknown = uuid::Uuid::new_v4();
    assert_status(
        app.client.charge_saved_card(unknown, &charge_of(&unique("order"), 100, app), &unique("k")).await,
        404,
    );

    // Removed: never charged again; the payment charged from it stays.
    let removed = app.client.remove_saved_card(card.id, PASSWORD).await.expect("removed");
    assert!(removed.removed_at.is_some());
    assert!(removed.data.get("billingKey").is_none(), "the billing key is erased: {}", removed.data);
    assert_status(app.client.remove_saved_card(card.id, "wrong").await, 403);
    let after = app.client.charge_saved_card(card.id, &charge_of(&unique("order"), 100, app), &unique("k")).await;
    assert_status(after, 410);
    assert!(app.client.get_history_by_id(charged.id, PASSWORD).await.is_ok());

    // Declined by the card company: 422, nothing stored.
    let declined_card = saved(app, pg, DECLINED_CARD).await;
    let declined_order = unique("order");
    let declined =
        app.client.charge_saved_card(declined_card.id, &charge_of(&declined_order, 5_000, app), &unique("k")).await;
    let error = assert_status(declined, 422);
    assert!(error.to_string().contains("refused"), "{error}");
    assert_status(app.client.get_history(&payments_e2e::accessor(&declined_order)).await, 404);
}

async fn iamport_saved_card_charged(app: &TestApp) {
    saved_card_charged(app, Pg::Iamport).await;
}

async fn toss_saved_card_charged(app: &TestApp) {
    saved_card_charged(app, Pg::TossPayments).await;
}

async fn portone_saved_card_charged(app: &TestApp) {
    saved_card_charged(app, Pg::PortOne).await;
}

/// A payment in dollars, each PG speaking its own unit (PortOne V2 minor
/// units: 1050 is 10.50 USD; Toss and Iamport decimals): registered at its
/// price, partly cancelled, announced and refunded at exact amounts, and a
/// fraction of a cent refused before the PG is called.
async fn dollars(app: &TestApp, pg: Pg) {
    let order = unique("order-usd");
    let uid = app.card_payment_in(pg, &order, "10.50", "USD").await;
    let created = app.register_price(pg, &uid, &order, "10.5").await.expect("registered at its price");
    assert_eq!((money_text(&created.price).as_str(), created.currency.as_str()), ("10.5", "USD"));
    assert_eq!(created.refund, None, "registered, not refunded as a mismatch");

    let cancelled = app.cancel_price(&order, "2.25", None).await.expect("partly cancelled");
    assert_eq!(cancelled.refund.as_ref().map(money_text).as_deref(), Some("2.25"));
    assert_eq!(money_text(&cancelled.cancels[0].price), "2.25");
    let at_pg = app.pg_payment(pg, &uid).await;
    let (paid, refunded) = match pg {
        Pg::Iamport => (at_pg["amount"].to_string(), at_pg["cancel_amount"].to_string()),
        Pg::TossPayments => (at_pg["totalAmount"].to_string(), at_pg["balanceAmount"].to_string()),
        Pg::PortOne => (at_pg["amount"]["total"].to_string(), at_pg["amount"]["cancelled"].to_string()),
    };
    let expected = match pg {
        Pg::Iamport => ("10.5", "2.25"),
        Pg::TossPayments => ("10.5", "8.25"),
        Pg::PortOne => ("1050", "225"),
    };
    assert_eq!((paid.as_str(), refunded.as_str()), expected, "the PG holds the amounts in its own unit: {at_pg}");

    let hook = &app.hooks.delivered(&order, 1).await[0];
    assert_eq!(money_text(&hook.webhook().current.price), "10.5");
    assert_eq!(hook.webhook().current.refund.as_ref().map(money_text).as_deref(), Some("2.25"));
    assert_eq!(hook.webhook().previous.as_ref().unwrap().refund, None);

    let too_fine = assert_status(app.cancel_price(&order, "0.001", None).await, 400);
    assert!(too_fine.to_string().contains("price"), "{too_fine}");
    assert_eq!(app.pg_payment(pg, &uid).await, at_pg, "the PG was not asked");

    let rest = app.cancel_price(&order, "8.25", None).await.expect("the rest cancelled");
    assert_eq!(rest.refund.as_ref().map(money_text).as_deref(), Some("10.5"));
    assert_eq!(app.pg_state(pg, &uid).await.0, cancelled_statuses(pg).1);
}

async fn iamport_dollars(app: &TestApp) {
    dollars(app, Pg::Iamport).await;
}

async fn toss_dollars(app: &TestApp) {
    dollars(app, Pg::TossPayments).await;
}

async fn portone_dollars(app: &TestApp) {
    dollars(app, Pg::PortOne).await;
}

/// Tells `pg`'s fake how it answers the next cancels of payment `uid`:
/// completed at once (`false`), or accepted and completed later (`true`):
/// PortOne `REQUESTED`, Toss `IN_PROGRESS`.
async fn cancels_complete_later(app: &TestApp, pg: Pg, uid: &str, later: bool) {
    match pg {
        Pg::PortOne => {
            let next = json!({"next": if later { "requested" } else { "succeeded" }});
            let path = format!("/internal/payments/{uid}/cancel-behaviour");
            app.portone.call(reqwest::Method::POST, &path, Some(next)).await;
        }
        Pg::TossPayments => {
            let next = json!({"next": if later { "in_progress" } else { "done" }});
            app.toss.call(reqwest::Method::PUT, &format!("/internal/{uid}/cancel-behaviour"), Some(next)).await;
        }
        Pg::Iamport => panic!("Iamport's cancels complete at once"),
    }
}

/// `pg`'s fake completes the cancel it accepted last, announcing it as that
/// PG does (PortOne `Transaction.PartialCancelled`, Toss `CANCEL_STATUS_CHANGED`).
async fn pg_completes_the_cancel(app: &TestApp, pg: Pg, uid: &str) {
    let payment = app.pg_payment(pg, uid).await;
    let finish = json!({"outcome": if pg == Pg::PortOne { "succeeded" } else { "done" }, "webhook": true});
    match pg {
        Pg::PortOne => {
            let id = payment["cancellations"][0]["id"].as_str().expect("a cancellation");
            let path = format!("/internal/payments/{uid}/cancellations/{id}");
            app.portone.call(reqwest::Method::POST, &path, Some(finish)).await;
        }
        Pg::TossPayments => {
            let key = payment["cancels"][0]["transactionKey"].as_str().expect("a cancel");
            app.toss.call(reqwest::Method::PUT, &format!("/internal/{uid}/cancels/{key}"), Some(finish)).await;
        }
        Pg::Iamport => panic!("Iamport's cancels complete at once"),
    }
}

/// A cancel the PG accepts and completes later: 202 with the cancel pending
/// and nothing refunded (announced); the PG's webhook of its completion
/// counts it (announced once more); the payment's next cancel is taken at once.
async fn cancel_completed_later(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 10_000).await;
    app.register(pg, &uid, &order, 10_000).await.expect("registered");
    cancels_complete_later(app, pg, &uid, true).await;
    let body = json!({"source": {"schema": "shop", "table": "orders", "id": order}, "password": PASSWORD,
                      "price": 3000, "reason": "completes later", "account": null});
    let (status, accepted) = app.send_encrypted(reqwest::Method::PUT, "/payments/histories/cancel", &body).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["refund"], Value::Null, "nothing refunded yet: {accepted}");
    assert_eq!(
        (&accepted["cancels"][0]["status"], &accepted["cancels"][0]["price"]),
        (&json!("pending"), &json!(3000))
    );
    let announced = app.hooks.delivered(&order, 1).await;
    assert_eq!(announced[0].webhook().current.refund, None);
    assert_eq!(announced[0].webhook().current.cancels[0].status, wire::CancelStatusBody::Pending);

    pg_completes_the_cancel(app, pg, &uid).await;
    let completed = &app.hooks.delivered(&order, 2).await[1];
    assert_eq!(completed.webhook().current.refund.as_ref().map(money_text).as_deref(), Some("3000"));
    assert_eq!(completed.webhook().current.cancels[0].status, wire::CancelStatusBody::Done);
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert_eq!((read.refund.as_ref().map(money_text).as_deref(), read.cancels.len()), (Some("3000"), 1));

    cancels_complete_later(app, pg, &uid, false).await;
    let started = std::time::Instant::now();
    let next = app.cancel(&order, 1000, None).await.expect("the next cancel");
    assert_eq!(next.refund.as_ref().map(money_text).as_deref(), Some("4000"));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the lock went with the completion");
    assert_eq!(app.hooks.delivered(&order, 3).await.len(), 3, "each change announced once");
}

async fn toss_cancel_completed_later(app: &TestApp) {
    cancel_completed_later(app, Pg::TossPayments).await;
}

async fn portone_cancel_completed_later(app: &TestApp) {
    cancel_completed_later(app, Pg::PortOne).await;
}

/// A cancel the PG refuses in its own way (PortOne answers a `FAILED`
/// cancellation, Toss `REFUND_REJECTED`): 422, nothing refunded, the
/// payment's next cancel taken.
async fn cancel_refused_at_the_pg(app: &TestApp, pg: Pg) {
    let order = unique("order");
    let uid = app.card_payment(pg, &order, 10_000).await;
    app.register(pg, &uid, &order, 10_000).await.expect("registered");
    let (path, method, next) = match pg {
        Pg::PortOne => (format!("/internal/payments/{uid}/cancel-behaviour"), reqwest::Method::POST, "failed"),
        Pg::TossPayments => (format!("/internal/{uid}/cancel-behaviour"), reqwest::Method::PUT, "aborted"),
        Pg::Iamport => panic!("not for Iamport"),
    };
    match pg {
        Pg::PortOne => app.portone.call(method, &path, Some(json!({"next": next}))).await,
        _ => app.toss.call(method, &path, Some(json!({"next": next}))).await,
    };
    let refused = assert_status(app.cancel(&order, 3000, None).await, 422);
    assert!(refused.to_string().contains("PG"), "{refused}");
    let read = app.client.get_history(&accessor(&order)).await.expect("read");
    assert_eq!((read.refund, read.cancels.len()), (None, 0), "nothing refunded");
    assert_eq!(app.pg_state(pg, &uid).await.1, 10_000, "nothing refunded at the PG");
    cancels_complete_later(app, pg, &uid, false).await;
    let next = app.cancel(&order, 3000, None).await.expect("the next cancel");
    assert_eq!(next.refund.as_ref().map(money_text).as_deref(), Some("3000"));
}

async fn toss_cancel_refused_at_the_pg(app: &TestApp) {
    cancel_refused_at_the_pg(app, Pg::TossPayments).await;
}

async fn portone_cancel_refused_at_the_pg(app: &TestApp) {
    cancel_refused_at_the_pg(app, Pg::PortOne).await;
}
