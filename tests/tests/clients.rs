//! Several backends on one server, each a client (`payments clients add`):
//! its own API key and wire key, its own records (another client's are not
//! found, password or not), its own webhooks signed with its own secret;
//! keys that do not authenticate are 401 with one message, a scope missing
//! 403. The legacy client (no key) is the rest of the suite. Both databases.

use payments_e2e::{
    PASSWORD, Pg, TestApp, TestClient, accessor, amount, assert_status, money_text, source, unique, vendor,
};
use payments_wire as wire;
use serde_json::json;

payments_e2e::scenarios!(
    two_clients_see_only_their_own_and_hear_with_their_own_secret,
    keys_that_do_not_authenticate_are_401_and_a_missing_scope_403,
    a_client_whose_receiver_was_down_catches_up_from_its_feed_and_redelivers,
    a_client_past_its_rate_is_429_while_another_is_served,
    a_rotated_key_and_secret_overlap_for_their_grace_only,
    a_plain_json_client_sends_and_reads_json,
    two_clients_save_cards_under_the_same_source_each_its_own,
);

/// `client` registers a PortOne payment of 10,000 for `order`, announced to its own receiver.
async fn registered(app: &TestApp, client: &TestClient, order: &str) -> wire::HistoryBody {
    let uid = app.card_payment(Pg::PortOne, order, 10_000).await;
    client
        .client
        .create_history(&wire::CreateHistoryBody {
            vendor: vendor(Pg::PortOne, &uid),
            source: source(order),
            price: amount(10_000),
            password: PASSWORD.into(),
            webhook_url: client.hooks.url(),
            currency: None,
        })
        .await
        .expect("registered by its client")
}

fn cancel_body(order: &str, price: u64) -> wire::CancelHistoryBody {
    wire::CancelHistoryBody {
        source: source(order),
        password: PASSWORD.into(),
        price: amount(price),
        reason: format!("cancel of {price}"),
        account: None,
    }
}

async fn two_clients_see_only_their_own_and_hear_with_their_own_secret(app: &TestApp) {
    let a = app.add_client("orders service", "all").await;
    let b = app.add_client("subscriptions service", "all").await;
    let (order_a, order_b) = (unique("a"), unique("b"));
    let paid_a = registered(app, &a, &order_a).await;
    let paid_b = registered(app, &b, &order_b).await;

    // Each reads its own, by source and by id.
    assert_eq!(a.client.get_history(&accessor(&order_a)).await.expect("a reads its own").id, paid_a.id);
    assert_eq!(b.client.get_history_by_id(paid_b.id, PASSWORD).await.expect("b reads its own").id, paid_b.id);
    // Another's is not found, with the right password, by any route; the
    // legacy client (no key) does not see a client's either.
    assert_eq!(assert_status(a.client.get_history(&accessor(&order_b)).await, 404).code(), Some("RECORD_NOT_FOUND"));
    assert_status(a.client.get_history_by_id(paid_b.id, PASSWORD).await, 404);
    assert_status(a.client.cancel_history(&cancel_body(&order_b, 1_000)).await, 404);
    assert_status(app.client.get_history(&accessor(&order_a)).await, 404);
    assert_status(b.client.get_history_by_id(paid_a.id, PASSWORD).await, 404);
    // Sources are a client's own names: b registering under a's source is
    // answered as under a source nobody holds (here: the payment was made
    // for another order), never "taken", which would tell b what a holds.
    let uid = app.card_payment(Pg::PortOne, &unique("c"), 1_000).await;
    let b_client = &b.client;
    let register_under = |order: String| {
        let body = wire::CreateHistoryBody {
            vendor: vendor(Pg::PortOne, &uid),
            source: source(&order),
            price: amount(1_000),
            password: PASSWORD.into(),
            webhook_url: b.hooks.url(),
            currency: None,
        };
        async move { b_client.create_history(&body).await }
    };
    let under_a = assert_status(register_under(order_a.clone()).await, 422);
    let under_nobody = assert_status(register_under(unique("nobody")).await, 422);
    assert_eq!(under_a.code(), under_nobody.code());
    assert_eq!(under_a.code(), Some("ORDER_MISMATCH"));

    // Each one's cancel is announced to its own receiver, sealed with its
    // wire key and signed with its secret (a receiver refuses anything else).
    let cancelled = a.client.cancel_history(&cancel_body(&order_a, 4_000)).await.expect("a cancels its own");
    assert_eq!(cancelled.refund.as_ref().map(money_text).as_deref(), Some("4000"));
    b.client.cancel_history(&cancel_body(&order_b, 3_000)).await.expect("b cancels its own");
    let heard_a = a.hooks.delivered(&order_a, 1).await;
    let heard_b = b.hooks.delivered(&order_b, 1).await;
    assert_eq!(heard_a[0].webhook().current.refund.as_ref().map(money_text).as_deref(), Some("4000"));
    assert_eq!(heard_b[0].webhook().current.refund.as_ref().map(money_text).as_deref(), Some("3000"));
    assert!(a.hooks.rejected().is_empty() && b.hooks.rejected().is_empty(), "each verified with its own secret");
    assert!(a.hooks.for_order(&order_b).is_empty() && b.hooks.for_order(&order_a).is_empty());
    assert!(app.hooks.for_order(&order_a).is_empty(), "nothing under the legacy client's keys");
    // The PG's own notification of a's payment is announced to a, as a's.
    app.portone
        .call(
            reqwest::Method::POST,
            &format!("/payments/{}/cancel", paid_a.vendor.uid),
            Some(json!({"amount": 1_000, "reason": "at PortOne's console"})),
        )
        .await;
    let heard = a.hooks.delivered(&order_a, 2).await;
    assert_eq!(heard[1].webhook().current.refund.as_ref().map(money_text).as_deref(), Some("5000"));
    assert!(a.hooks.rejected().is_empty());
}

async fn keys_that_do_not_authenticate_are_401_and_a_missing_scope_403(app: &TestApp) {
    let a = app.add_client("orders service", "all").await;
    let reader = app.add_client("reporting", "read").await;
    let order = unique("order");
    registered(app, &a, &order).await;

    let body = serde_json::to_string(&json!({"schema": "shop", "table": "orders", "id": order, "password": PASSWORD}))
        .unwrap();
    let send = |authorization: Option<String>, sealed: String| {
        let mut request = app
            .http
            .patch(format!("{}/payments/histories/get", app.url()))
            .header("content-type", "text/plain; charset=utf-8")
            .body(sealed);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        async move {
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let sealed_a = a.cipher.encrypt(body.as_bytes());
    let live = a.api_key.replacen("pk_test_", "pk_live_", 1);
    let mut messages = std::collections::BTreeSet::new();
    for authorization in
        ["Bearer pk_test_not-a-key".to_owned(), format!("Basic {}", a.api_key), format!("Bearer {live}")]
    {
        let (status, answer) = send(Some(authorization.clone()), sealed_a.clone()).await;
        assert_eq!((status, answer["code"].as_str()), (401, Some("UNAUTHENTICATED")), "{authorization}: {answer}");
        messages.insert(answer["message"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(messages.len(), 1, "one message whatever was wrong: {messages:?}");
    // Its key with a body sealed under another key (the legacy one).
    let legacy = payments_crypto::WireCipher::new(payments_e2e::KEY.as_bytes(), payments_e2e::IV.as_bytes()).unwrap();
    let (status, answer) = send(Some(format!("Bearer {}", a.api_key)), legacy.encrypt(body.as_bytes())).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("UNAUTHENTICATED")), "{answer}");
    // The right key and body.
    assert_eq!(send(Some(format!("Bearer {}", a.api_key)), sealed_a.clone()).await.0, 200);

    // A scope missing: 403 before anything is read; a scope held: the route runs.
    let refused = assert_status(reader.client.cancel_history(&cancel_body(&order, 1_000)).await, 403);
    assert_eq!(refused.code(), Some("SCOPE_MISSING"));
    assert_status(reader.client.get_history(&accessor(&order)).await, 404);

    // Revoked: 401 from then on; the records stay (the legacy client still cannot see them).
    app.revoke_client(a.id).await;
    let revoked = assert_status(a.client.get_history(&accessor(&order)).await, 401);
    assert_eq!(revoked.code(), Some("UNAUTHENTICATED"));
}

/// A client's receiver is down past the retry schedule: its events fail.
/// It reads its feed from its cursor (its own events only, oldest first,
/// each failed), comes back up and redelivers them; the feed then shows them
/// delivered. Another client's event is not its to redeliver (404).
async fn a_client_whose_receiver_was_down_catches_up_from_its_feed_and_redelivers(app: &TestApp) {
    let a = app.add_client("orders service", "all").await;
    let b = app.add_client("subscriptions service", "all").await;
    let (order_a, order_b) = (unique("a"), unique("b"));
    registered(app, &a, &order_a).await;
    registered(app, &b, &order_b).await;
    let cursor = a.client.list_events(None, None).await.expect("a's feed").next_after;
    // The legacy client's key is every keyless backend's: it has no feed.
    let legacy = assert_status(app.client.list_events(None, None).await, 403);
    assert_eq!(legacy.code(), Some("SCOPE_MISSING"));
    assert_eq!(cursor, None, "a registration answered is not an event");

    a.hooks.set_answer(payments_e2e::Answer::Script(vec![503; 64]));
    a.client.cancel_history(&cancel_body(&order_a, 1_000)).await.expect("a cancels");
    a.client.cancel_history(&cancel_body(&order_a, 2_000)).await.expect("a cancels again");
    b.client.cancel_history(&cancel_body(&order_b, 1_000)).await.expect("b cancels");
    // The schedule (six attempts over about a second here) runs out.
    let failed = loop {
        let page = a.client.list_events(cursor, Some(10)).await.expect("a's feed");
        if page.events.len() == 2 && page.events.iter().all(|e| e.delivery.state == wire::DeliveryStateBody::Failed) {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(failed.events.iter().all(|e| e.webhook.source == source(&order_a)), "only a's own events");
    let refunds: Vec<_> = failed.events.iter().map(|e| e.webhook.current.refund.as_ref().map(money_text)).collect();
    assert_eq!(refunds, vec![Some("1000".to_owned()), Some("3000".to_owned())], "oldest first");
    let last = failed.next_after.expect("a cursor");
    assert!(a.client.list_events(Some(last), None).await.expect("the next page").events.is_empty());
    assert_status(a.client.list_events(None, Some(1_000)).await, 400);

    // Back up: a redelivers what failed; b's event is not a's.
    a.hooks.set_answer(payments_e2e::Answer::Ok);
    let b_event = b.client.list_events(None, None).await.expect("b's feed").events[0].webhook.id;
    assert_status(a.client.redeliver_event(b_event).await, 404);
    for event in &failed.events {
        let answered = a.client.redeliver_event(event.webhook.id).await.expect("redelivered");
        assert_eq!(answered.events[0].webhook.id, event.webhook.id);
    }
    loop {
        let page = a.client.list_events(cursor, Some(10)).await.expect("a's feed");
        if page.events.iter().all(|e| e.delivery.state == wire::DeliveryStateBody::Delivered) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivered =
        a.hooks.wait_until("both redelivered", |all| all.iter().filter(|d| d.accepted()).count() >= 2).await;
    assert!(delivered.iter().all(|d| d.order() == order_a));
    assert!(a.hooks.rejected().is_empty());
}

/// A client allowed 2 requests a second that sends 6 at once: some are 429
/// `RATE_LIMITED` with `Retry-After`, none is run; another client is served
/// meanwhile; after the wait the first is served again.
async fn a_client_past_its_rate_is_429_while_another_is_served(app: &TestApp) {
    let slow = app.add_client_at_rate("batch job", "all", Some(2)).await;
    let other = app.add_client("orders service", "all").await;
    let order = unique("order");
    let reads = (0..6).map(|_| slow.client.list_events(None, Some(1)));
    let answers = futures::future::join_all(reads).await;
    let limited: Vec<_> = answers.iter().filter(|a| matches!(a, Err(e) if e.code() == Some("RATE_LIMITED"))).collect();
    assert!(!limited.is_empty() && limited.len() <= 4, "a burst of two is allowed, the rest refused: {answers:?}");
    assert!(answers.iter().all(|a| a.is_ok() || matches!(a, Err(e) if e.status() == Some(429))), "{answers:?}");
    registered(app, &other, &order).await;
    assert!(other.client.get_history(&accessor(&order)).await.is_ok(), "another client is served");
    // The raw answer carries Retry-After.
    let response = app
        .http
        .get(format!("{}/payments/events", app.url()))
        .bearer_auth(&slow.api_key)
        .send()
        .await
        .expect("the server answers");
    if response.status().as_u16() == 429 {
        assert!(response.headers().get("retry-after").is_some(), "429 says when to retry");
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(slow.client.list_events(None, Some(1)).await.is_ok(), "served again once its bucket refilled");
    // Counted per client, its refusals included.
    let scraped = app.scrape().await;
    let series = |status: &str| format!(r#"payments_client_requests_total{{client="{}",status="{status}"}}"#, slow.id);
    assert!(payments_e2e::metric(&scraped, &series("4xx")) >= 1.0, "{scraped}");
    assert!(payments_e2e::metric(&scraped, &series("2xx")) >= 2.0, "{scraped}");
}

/// A rotated key: old and new both serve for the grace period, then only the
/// new. A rotated secret: deliveries verify under the old and under the new
/// during the grace period (two signatures), then under the new only.
async fn a_rotated_key_and_secret_overlap_for_their_grace_only(app: &TestApp) {
    let grace = std::time::Duration::from_secs(2);
    let a = app.add_client("orders service", "all").await;
    let order = unique("order");
    registered(app, &a, &order).await;
    let new_key = app.rotate_client_key(a.id, grace).await;
    let new_secret = app.rotate_client_secret(a.id, grace).await;
    let renewed = a.client.clone().with_api_key(new_key);
    assert!(a.client.get_history(&accessor(&order)).await.is_ok(), "the old key serves during its grace");
    assert!(renewed.get_history(&accessor(&order)).await.is_ok(), "the new key serves");

    // A delivery now verifies under the old secret (the receiver's) ...
    renewed.cancel_history(&cancel_body(&order, 1_000)).await.expect("cancelled");
    let first = a.hooks.delivered(&order, 1).await[0].webhook().id;
    // ... and under the new one (the same event, redelivered).
    a.hooks.set_secret(&new_secret);
    renewed.redeliver_event(first).await.expect("redelivered");
    a.hooks.wait_until("verified under the new secret", |all| all.len() >= 2).await;
    assert!(a.hooks.rejected().is_empty(), "both signatures verify during the grace: {:?}", a.hooks.rejected());

    // Past the grace: the old key is refused, and only the new secret signs.
    tokio::time::sleep(grace + std::time::Duration::from_millis(200)).await;
    assert_eq!(assert_status(a.client.get_history(&accessor(&order)).await, 401).code(), Some("UNAUTHENTICATED"));
    assert!(renewed.get_history(&accessor(&order)).await.is_ok());
    renewed.redeliver_event(first).await.expect("redelivered");
    a.hooks.wait_until("verified under the new secret again", |all| all.len() >= 3).await;
    assert!(a.hooks.rejected().is_empty(), "the new secret verifies after the grace");
    a.hooks.set_secret(&a.webhook_secret);
    renewed.redeliver_event(first).await.expect("redelivered");
    while a.hooks.rejected().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(a.hooks.rejected()[0].starts_with("signature"), "the old secret no longer signs: {:?}", a.hooks.rejected());
}

/// A client added with plain JSON bodies (behind trusted TLS): it registers
/// and reads with `application/json` and gets JSON back; a sealed body is
/// 415 for it; its records are still its own.
async fn a_plain_json_client_sends_and_reads_json(app: &TestApp) {
    let plain = app.add_client_as("reporting over TLS", "all", None, true).await;
    let order = unique("order");
    let uid = app.card_payment(Pg::PortOne, &order, 10_000).await;
    let body = json!({
        "vendor": {"code": "portone", "store_id": payments_e2e::store_of(Pg::PortOne), "uid": uid},
        "source": {"schema": "shop", "table": "orders", "id": order},
        "price": 10_000, "password": PASSWORD, "webhook_url": plain.hooks.url(),
    });
    let sent = app
        .http
        .post(format!("{}/payments/histories", app.url()))
        .bearer_auth(&plain.api_key)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(sent.status().as_u16(), 201);
    assert!(sent.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let registered: serde_json::Value = sent.json().await.expect("plain JSON back");
    assert_eq!(registered["source"]["id"], json!(order));
    let sealed = app
        .http
        .patch(format!("{}/payments/histories/get", app.url()))
        .bearer_auth(&plain.api_key)
        .header("content-type", "text/plain; charset=utf-8")
        .body(plain.cipher.encrypt(b"{}"))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(sealed.status().as_u16(), 415, "its bodies are JSON");
    assert_status(app.client.get_history(&accessor(&order)).await, 404);
}

/// A source names a record of one client: two backends may both have their
/// customer `shop/customers/7`, each saving its own card there; each reads
/// its own by that source, a third client (or the legacy one) neither; a
/// second card of one client under it is 409.
async fn two_clients_save_cards_under_the_same_source_each_its_own(app: &TestApp) {
    let a = app.add_client("orders service", "all").await;
    let b = app.add_client("subscriptions service", "all").await;
    let customer = unique("customer");
    let source = wire::SourceBody { schema: "shop".into(), table: "customers".into(), id: customer.clone() };
    let save = |client: &TestClient, number: &str| {
        let (client, number, source) = (client.client.clone(), number.to_owned(), source.clone());
        let customer = customer.clone();
        async move {
            // A billing key of that customer (PortOne keeps several per customer).
            let key = app.portone.save_card_numbered(&customer, &number).await;
            let body = wire::CreateReservationBody {
                vendor: vendor(Pg::PortOne, &key),
                source,
                title: "monthly plan".into(),
                password: PASSWORD.into(),
            };
            client.save_card(&body).await
        }
    };
    let of_a = save(&a, "4444333322221111").await.expect("a saves its card");
    let of_b = save(&b, "5555444433332222").await.expect("b saves its card under the same source");
    assert_ne!(of_a.id, of_b.id);
    let accessor = wire::SourceAccessorBody {
        schema: "shop".into(),
        table: "customers".into(),
        id: customer.clone(),
        password: PASSWORD.into(),
    };
    assert_eq!(a.client.get_saved_card(&accessor).await.expect("a reads its own").id, of_a.id);
    assert_eq!(b.client.get_saved_card(&accessor).await.expect("b reads its own").id, of_b.id);
    assert_status(app.client.get_saved_card(&accessor).await, 404);
    let c = app.add_client("reports service", "all").await;
    assert_status(c.client.get_saved_card(&accessor).await, 404);
    let again = assert_status(save(&a, "4111111111111111").await, 409);
    assert_eq!(again.param(), Some("source"));
}
