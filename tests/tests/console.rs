//! The operators' console over HTTP on its own listener, both databases:
//! signing in (password, TOTP code used once), finding a payment by what a
//! support person has in hand and reading its timeline, roles, CSRF tokens,
//! the audit trail, fields named in their errors.

use payments_domain::Role;
use payments_e2e::{PASSWORD, Pg, TestApp, amount, money_text, source, unique};
use payments_wire as wire;

payments_e2e::scenarios!(
    a_support_operator_finds_a_payment_by_its_order_and_reads_its_timeline,
    roles_csrf_tokens_and_sign_out_are_enforced_and_audited,
    search_fields_are_checked_and_named,
    sign_in_refusals_say_one_thing_and_lock_after_repeats,
);

/// A PortOne payment of 30,000 registered by the legacy client, 10,000 of
/// it cancelled through the API, the cancel's webhook delivered.
async fn paid_and_partly_cancelled(app: &TestApp, order: &str) -> wire::HistoryBody {
    let uid = app.card_payment(Pg::PortOne, order, 30_000).await;
    let paid = app.register(Pg::PortOne, &uid, order, 30_000).await.expect("registered");
    let cancel = wire::CancelHistoryBody {
        source: source(order),
        password: PASSWORD.into(),
        price: amount(10_000),
        reason: "customer changed mind".into(),
        account: None,
    };
    let cancelled = app.client.cancel_history(&cancel).await.expect("cancelled");
    assert_eq!(cancelled.refund.as_ref().map(money_text).as_deref(), Some("10000"));
    app.hooks.delivered(order, 1).await;
    paid
}

async fn a_support_operator_finds_a_payment_by_its_order_and_reads_its_timeline(app: &TestApp) {
    let order = unique("console");
    let paid = paid_and_partly_cancelled(app, &order).await;
    let kim = app.add_operator("kim@support", Role::Support).await;
    let mut browser = app.browser();

    // Signed out: every page sends to the sign-in form.
    let page = browser.get("/payments").await;
    assert_eq!((page.status, page.location()), (303, Some("/login")));
    let form = browser.get("/login").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"code\""), "{}", form.body);

    let signed = browser.sign_in(&kim.name, &kim.password, &kim.code(0)).await;
    assert_eq!((signed.status, signed.location()), (303, Some("/payments")), "{}", signed.body);
    let cookie = signed.headers.get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "loopback: plain HTTP works");

    // Found by the backend's order number, by the PG's payment id, by vendor and state.
    for query in [
        format!("/payments?source_id={order}"),
        format!("/payments?uid={}", paid.vendor.uid),
        format!("/payments?vendor=portone&state=partly_refunded&source_id={order}"),
    ] {
        let found = browser.get(&query).await;
        assert_eq!(found.status, 200, "{query}: {}", found.body);
        assert!(found.body.contains(&format!("/payments/{}", paid.id)), "{query}: {}", found.body);
        assert!(found.body.contains("30,000 KRW") && found.body.contains("10,000 KRW"), "{}", found.body);
    }
    let none = browser.get(&format!("/payments?source_id={order}&state=refunded")).await;
    assert!(!none.body.contains(&format!("/payments/{}", paid.id)), "not fully refunded");

    // Its page: amounts, identifiers, the cancel, and the timeline with the delivered webhook.
    let page = browser.get(&format!("/payments/{}", paid.id)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for expected in
        ["20,000 KRW", paid.vendor.uid.as_str(), "customer changed mind", "registered", "delivered", "HTTP 200"]
    {
        assert!(page.body.contains(expected), "{expected:?} missing: {}", page.body);
    }
    for header in ["content-security-policy", "x-frame-options", "cache-control"] {
        assert!(page.headers.contains_key(header), "{header}");
    }
    assert_eq!(browser.get(&format!("/payments/{}", uuid::Uuid::now_v7())).await.status, 404);
    assert_eq!(browser.get("/payments/not-an-id").await.status, 404);

    // The admin reads who looked at it, from where.
    let admin = app.add_operator("lee@admin", Role::Admin).await;
    let mut admins = app.browser();
    admins.sign_in(&admin.name, &admin.password, &admin.code(0)).await;
    let audit = admins.get("/audit").await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert!(audit.body.contains("view_payment") && audit.body.contains(&format!("history:{}", paid.id)));
    assert!(audit.body.contains("kim@support") && audit.body.contains("127.0.0.1"), "{}", audit.body);
}

async fn roles_csrf_tokens_and_sign_out_are_enforced_and_audited(app: &TestApp) {
    let viewer = app.add_operator("park@viewer", Role::Viewer).await;
    assert!(viewer.secret.is_none(), "a viewer moves no money: no second factor");
    let mut browser = app.browser();
    assert_eq!(browser.sign_in(&viewer.name, &viewer.password, "").await.status, 303);
    let page = browser.get("/payments").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("href=\"/audit\""), "a viewer is not offered the audit log");
    let refused = browser.get("/audit").await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // A form without its session's token (a forged POST) is refused; with it, sign-out works.
    let csrf = page.csrf();
    assert_eq!(browser.post("/logout", &[]).await.status, 403);
    assert_eq!(browser.post("/logout", &[("csrf", "0".repeat(64).as_str())]).await.status, 403);
    assert_eq!(browser.get("/payments").await.status, 200, "still signed in");
    let out = browser.post("/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!((out.status, out.location()), (303, Some("/login")));
    assert_eq!(browser.get("/payments").await.status, 303, "the session ended");

    let admin = app.add_operator("jung@admin", Role::Admin).await;
    let mut admins = app.browser();
    admins.sign_in(&admin.name, &admin.password, &admin.code(0)).await;
    let audit = admins.get("/audit").await.body;
    assert!(audit.contains("refused: read the audit log"), "{audit}");
    assert!(audit.contains("refused: a form without its session's CSRF token"), "{audit}");
    assert!(audit.contains("logout"), "{audit}");
}

async fn search_fields_are_checked_and_named(app: &TestApp) {
    let viewer = app.add_operator("choi@viewer", Role::Viewer).await;
    let mut browser = app.browser();
    browser.sign_in(&viewer.name, &viewer.password, "").await;
    let page = browser.get("/payments?from=2026-13-01&min=abc&vendor=paypal&state=lost").await;
    assert_eq!(page.status, 400, "{}", page.body);
    for (field, message) in [
        ("from", "YYYY-MM-DD"),
        ("min", "an amount of 0 or more"),
        ("vendor", "unknown vendor"),
        ("state", "unknown state"),
    ] {
        assert!(page.body.contains(message), "{field}: {}", page.body);
    }
    assert!(page.body.contains("id=\"from-error\""), "the message sits by its field: {}", page.body);
    assert!(page.body.contains("aria-invalid=\"true\""));
    let backwards = browser.get("/payments?from=2026-12-07&to=2026-12-01").await;
    assert_eq!(backwards.status, 400);
    assert!(backwards.body.contains("a day on or after From"));
    // Hostile text is shown as text.
    let hostile = browser.get("/payments?source_id=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(hostile.status, 200);
    assert!(!hostile.body.contains("<script>alert(1)"), "{}", hostile.body);
}

async fn sign_in_refusals_say_one_thing_and_lock_after_repeats(app: &TestApp) {
    let kim = app.add_operator("han@support", Role::Support).await;
    let mut browser = app.browser();
    let one_message = "The name, password or code is wrong.";
    let unknown = browser.sign_in("nobody", "whatever it is", "123456").await;
    assert_eq!(unknown.status, 401);
    assert!(unknown.body.contains(one_message));
    let no_code = browser.sign_in(&kim.name, &kim.password, "").await;
    assert_eq!(no_code.status, 401);
    assert!(no_code.body.contains(one_message));
    assert!(no_code.body.contains("value=\"han@support\""), "the name is kept in the form");
    // The default policy locks after five wrong sign-ins: the missing code
    // was one (the unknown name counts for no operator), four more.
    for _ in 0..4 {
        assert_eq!(browser.sign_in(&kim.name, "wrong password", "").await.status, 401);
    }
    let locked = browser.sign_in(&kim.name, &kim.password, &kim.code(0)).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.headers.contains_key("retry-after"));
    assert!(browser.cookie.is_none());
}
