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
    support_refunds_part_once_rereads_and_redelivers_and_a_viewer_cannot,
    in_a_real_browser_support_finds_an_order_refunds_half_and_an_idle_session_ends,
    failed_deliveries_are_grouped_by_host_and_redelivered_and_notifications_listed,
    admins_add_reset_and_disable_operators_in_the_console,
    the_json_api_reads_what_the_pages_show_with_the_same_session,
    support_finds_a_customers_saved_card_and_removes_it_and_its_key_is_never_shown,
    an_admin_runs_the_reconciler_and_follows_it_to_its_report,
    an_admin_revokes_a_client_and_its_key_is_refused_at_once,
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

    // A sign-in posted without the form's token and cookie (another site's
    // form) is refused before the password or code is looked at: the code
    // stays unspent, no session is made.
    let code = kim.code(0);
    let fields = [("name", kim.name.as_str()), ("password", kim.password.as_str()), ("code", code.as_str())];
    let forged = browser.post("/login", &fields).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let session_set = |page: &payments_e2e::console::Page| {
        page.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap_or("").starts_with("payments_console="))
    };
    assert!(!session_set(&forged), "no session for a forged sign-in");
    let token = form.csrf();
    let without_cookie = [fields[0], fields[1], fields[2], ("csrf", token.as_str())];
    let stolen = browser.post("/login", &without_cookie).await;
    assert_eq!(stolen.status, 403, "the form's token without its cookie: {}", stolen.body);
    assert!(!session_set(&stolen));

    let signed = browser.sign_in(&kim.name, &kim.password, &code).await;
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

/// The value of the hidden or text field `name` of the page's form.
fn field_value(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).unwrap_or_else(|| panic!("a field {name}: {body}")) + marker.len();
    body[start..].split('"').next().unwrap_or_default().to_owned()
}

/// What the fake PortOne says was cancelled of payment `uid`.
async fn cancelled_at_the_pg(app: &TestApp, uid: &str) -> serde_json::Value {
    let (_, payment) = app.portone.call(reqwest::Method::GET, &format!("/payments/{uid}"), None).await;
    payment["amount"]["cancelled"].clone()
}

async fn support_refunds_part_once_rereads_and_redelivers_and_a_viewer_cannot(app: &TestApp) {
    let order = unique("refund");
    let paid = paid_and_partly_cancelled(app, &order).await;
    let uid = paid.vendor.uid.clone();
    let path = format!("/payments/{}", paid.id);
    let support = app.add_operator("kim@refunds", Role::Support).await;
    let mut browser = app.browser();
    browser.sign_in(&support.name, &support.password, &support.code(0)).await;
    let page = browser.get(&path).await;
    assert!(page.body.contains(&format!("action=\"{path}/refund\"")), "support is offered the refund");
    let (csrf, key, seen) = (page.csrf(), field_value(&page.body, "key"), field_value(&page.body, "seen_refund"));
    assert_eq!(seen, "10000");

    // Bad fields are named; more than what is left is the use case's refusal, shown.
    let bad = browser
        .post(
            &format!("{path}/refund"),
            &[("csrf", &csrf), ("key", &key), ("seen_refund", &seen), ("amount", "-5"), ("reason", "")],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("id=\"amount-error\"") && bad.body.contains("id=\"reason-error\""), "{}", bad.body);
    let over = browser
        .post(
            &format!("{path}/refund"),
            &[
                ("csrf", &csrf),
                ("key", "console-over"),
                ("seen_refund", &seen),
                ("amount", "25000"),
                ("reason", "too much"),
            ],
        )
        .await;
    assert_eq!(over.status, 422, "{}", over.body);
    assert!(over.body.contains("exceeds the remaining balance 20000"), "{}", over.body);

    // Half of what is left: refunded at the PG once, the backend hears once.
    let form = [
        ("csrf", csrf.as_str()),
        ("key", key.as_str()),
        ("seen_refund", seen.as_str()),
        ("amount", "10,000"),
        ("reason", "support: half"),
    ];
    let done = browser.post(&format!("{path}/refund"), &form).await;
    assert_eq!((done.status, done.location()), (303, Some(format!("{path}?done=refund").as_str())), "{}", done.body);
    assert_eq!(cancelled_at_the_pg(app, &uid).await, serde_json::json!(20_000));
    let heard = app.hooks.delivered(&order, 2).await;
    assert_eq!(heard[1].webhook().current.refund.as_ref().map(money_text).as_deref(), Some("20000"));
    // The same form sent again (a double click, a reload): the first outcome, no second refund.
    let again = browser.post(&format!("{path}/refund"), &form).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(cancelled_at_the_pg(app, &uid).await, serde_json::json!(20_000));
    // A new form from a page shown before that refund: stale, refused, the payment as it is now.
    let stale = [
        ("csrf", csrf.as_str()),
        ("key", "console-stale"),
        ("seen_refund", "10000"),
        ("amount", "1000"),
        ("reason", "late"),
    ];
    let refused = browser.post(&format!("{path}/refund"), &stale).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("changed since this page was shown") && refused.body.contains("10,000 KRW"));
    assert_eq!(cancelled_at_the_pg(app, &uid).await, serde_json::json!(20_000));

    // The payment's page says what operators did to it.
    let page = browser.get(&path).await.body;
    assert!(page.contains("What operators did") && page.contains("kim@refunds: refund"), "{page}");

    // Re-read now; deliver the refund's event again.
    let reread = browser.post(&format!("{path}/reread"), &[("csrf", &csrf)]).await;
    assert_eq!((reread.status, reread.location()), (303, Some(format!("{path}?done=reread").as_str())));
    let event = heard[1].id.clone();
    let redelivered = browser.post(&format!("/events/{event}/redeliver"), &[("csrf", &csrf)]).await;
    assert_eq!(redelivered.status, 303, "{}", redelivered.body);
    assert_eq!(app.hooks.delivered(&order, 3).await[2].id, event, "the same event again, under its webhook-id");

    // A viewer is offered nothing, and a forged POST with their own valid token is 403.
    let viewer = app.add_operator("park@readonly", Role::Viewer).await;
    let mut viewers = app.browser();
    viewers.sign_in(&viewer.name, &viewer.password, "").await;
    let seen_by_viewer = viewers.get(&path).await;
    assert!(!seen_by_viewer.body.contains("/refund\"") && !seen_by_viewer.body.contains("/redeliver\""));
    let forged = [
        ("csrf", seen_by_viewer.csrf()),
        ("key", "console-forged".into()),
        ("seen_refund", "20000".into()),
        ("amount", "1000".into()),
        ("reason", "forged".into()),
    ];
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(viewers.post(&format!("{path}/refund"), &forged).await.status, 403);
    assert_eq!(cancelled_at_the_pg(app, &uid).await, serde_json::json!(20_000));

    // The audit log names who refunded what, and the refusals.
    let admin = app.add_operator("lee@audit", Role::Admin).await;
    let mut admins = app.browser();
    admins.sign_in(&admin.name, &admin.password, &admin.code(0)).await;
    let audit = admins.get("/audit").await.body;
    for expected in [
        "ok: 10,000 KRW (completed)",
        "refused: 25,000 KRW",
        "refused: the payment changed since the page was shown",
        "refused: refund a payment",
        "reread",
        "redeliver",
    ] {
        assert!(audit.contains(expected), "{expected:?}: {audit}");
    }
    assert!(audit.contains("kim@refunds") && audit.contains("park@readonly"));
}

/// Where the browser test leaves its screenshots: `target/console-screenshots/`,
/// and `docs/` too with `PAYMENT_UPDATE_SCREENSHOTS=1` (the README shows those).
fn save_screenshot(name: &str, png: &[u8]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs = vec![root.join("target/console-screenshots")];
    if std::env::var_os("PAYMENT_UPDATE_SCREENSHOTS").is_some() {
        dirs.push(root.join("docs"));
    }
    for dir in dirs {
        std::fs::create_dir_all(&dir).expect("a screenshot directory");
        std::fs::write(dir.join(name), png).expect("the screenshot is written");
    }
}

/// Headless Chromium (Debian's, through chromedriver): sign in with the
/// password and the authenticator's code, search the order, open it, see its
/// registration, the PG's notification and the delivered webhook in the
/// timeline, refund half of what is left; the fake PG has the cancel, the
/// backend hears one webhook, the audit log names the operator. A viewer's
/// page has no refund button and their forged POST is 403; a POST without
/// the token is refused; an idle session is signed out.
async fn in_a_real_browser_support_finds_an_order_refunds_half_and_an_idle_session_ends(app: &TestApp) {
    if !payments_e2e::browser::installed() {
        eprintln!(
            "chromium/chromedriver are not installed (scripts/install_chromium.sh): the browser test did NOT run"
        );
        return;
    }
    let order = unique("browser");
    let paid = paid_and_partly_cancelled(app, &order).await;
    // The PG's own notification of a cancel at its console: on the timeline too.
    app.portone
        .call(
            reqwest::Method::POST,
            &format!("/payments/{}/cancel", paid.vendor.uid),
            Some(serde_json::json!({"amount": 2_000, "reason": "at PortOne's console"})),
        )
        .await;
    app.hooks.delivered(&order, 2).await;
    let support = app.add_operator("kim@browser", Role::Support).await;
    let console = app.console_url();
    let browser = payments_e2e::browser::Browser::start().await;

    browser.open(&format!("{console}/payments")).await;
    assert!(browser.url().await.ends_with("/login"), "signed out, sent to sign in");
    browser.type_into("#name", &support.name).await;
    browser.type_into("#password", &support.password).await;
    browser.type_into("#code", &support.code(0)).await;
    browser.submit("button[type=submit]").await;
    assert!(browser.url().await.ends_with("/payments"), "{}", browser.source().await);

    browser.type_into("#source_id", &order).await;
    browser.submit("form.search button[type=submit]").await;
    let results = browser.source().await;
    assert!(results.contains("30,000 KRW") && results.contains("12,000 KRW"), "{results}");
    save_screenshot("console-search.png", &browser.screenshot().await);

    browser.submit(&format!("a[href='/payments/{}']", paid.id)).await;
    let page = browser.source().await;
    for expected in [
        "registered",
        "customer changed mind",
        // The PG's own notification of the cancel at its console. (Our
        // API's cancel is recorded by whichever comes first: its answer or
        // the PG's notification of it.)
        "PG notification",
        "Transaction.PartialCancelled",
        "delivered",
        "HTTP 200",
        "18,000 KRW",
    ] {
        assert!(page.contains(expected), "{expected:?}: {page}");
    }
    save_screenshot("console-payment.png", &browser.screenshot().await);

    browser.type_into("#amount", "9000").await;
    browser.type_into("#reason", "support: half of what is left").await;
    browser.submit("form.action button[type=submit]").await;
    let after = browser.source().await;
    assert!(after.contains("Refunded."), "{after}");
    assert!(after.contains("21,000 KRW"), "refunded in all: {after}");
    let (_, at_pg) = app.portone.call(reqwest::Method::GET, &format!("/payments/{}", paid.vendor.uid), None).await;
    assert_eq!(at_pg["amount"]["cancelled"], serde_json::json!(21_000), "the fake PG has the cancel");
    let heard = app.hooks.delivered(&order, 3).await;
    assert_eq!(heard.len(), 3, "one webhook for the operator's refund");
    assert_eq!(heard[2].webhook().current.refund.as_ref().map(money_text).as_deref(), Some("21000"));

    // A POST without the token (another site's form) is refused, with the support's own cookie.
    let cookie = browser.cookie(payments_console::COOKIE).await.expect("the session cookie");
    let plain = reqwest::Client::new();
    let forged = plain
        .post(format!("{console}/payments/{}/refund", paid.id))
        .header("cookie", format!("{}={cookie}", payments_console::COOKIE))
        .form(&[("amount", "1000"), ("reason", "forged"), ("key", "console-x"), ("seen_refund", "21000")])
        .send()
        .await
        .expect("an answer");
    assert_eq!(forged.status().as_u16(), 403);

    // An idle session is signed out at its next page.
    app.idle_console_sessions().await;
    browser.open(&format!("{console}/payments")).await;
    assert!(browser.url().await.ends_with("/login?expired=1"), "{}", browser.url().await);
    assert!(browser.source().await.contains("minutes idle"));
    browser.close().await;

    // A viewer in the browser: no refund button; their own token does not make a refund theirs.
    let viewer = app.add_operator("lee@browser", Role::Viewer).await;
    let browser = payments_e2e::browser::Browser::start().await;
    browser.open(&format!("{console}/login")).await;
    browser.type_into("#name", &viewer.name).await;
    browser.type_into("#password", &viewer.password).await;
    browser.submit("button[type=submit]").await;
    browser.open(&format!("{console}/payments/{}", paid.id)).await;
    assert!(browser.find_all("form.action").await.is_empty(), "no refund or re-read for a viewer");
    let viewer_cookie = browser.cookie(payments_console::COOKIE).await.expect("the viewer's session");
    let viewer_csrf = field_value(&browser.source().await, "csrf");
    let by_viewer = plain
        .post(format!("{console}/payments/{}/refund", paid.id))
        .header("cookie", format!("{}={viewer_cookie}", payments_console::COOKIE))
        .form(&[
            ("csrf", viewer_csrf.as_str()),
            ("amount", "1000"),
            ("reason", "forged"),
            ("key", "console-y"),
            ("seen_refund", "21000"),
        ])
        .send()
        .await
        .expect("an answer");
    assert_eq!(by_viewer.status().as_u16(), 403);
    browser.close().await;

    let admin = app.add_operator("park@browser", Role::Admin).await;
    let mut admins = app.browser();
    admins.sign_in(&admin.name, &admin.password, &admin.code(0)).await;
    let audit = admins.get("/audit").await.body;
    assert!(audit.contains("kim@browser") && audit.contains("ok: 9,000 KRW (completed)"), "{audit}");
    assert!(audit.contains("session_expired") && audit.contains("refused: refund a payment"), "{audit}");
}

async fn failed_deliveries_are_grouped_by_host_and_redelivered_and_notifications_listed(app: &TestApp) {
    let order = unique("down");
    let uid = app.card_payment(Pg::PortOne, &order, 30_000).await;
    app.register(Pg::PortOne, &uid, &order, 30_000).await.expect("registered");
    app.hooks.set_answer(payments_e2e::Answer::Script(vec![503; 64]));
    let cancel = wire::CancelHistoryBody {
        source: source(&order),
        password: PASSWORD.into(),
        price: amount(1_000),
        reason: "receiver down".into(),
        account: None,
    };
    app.client.cancel_history(&cancel).await.expect("cancelled");
    let support = app.add_operator("kim@deliveries", Role::Support).await;
    let mut browser = app.browser();
    browser.sign_in(&support.name, &support.password, &support.code(0)).await;
    let host =
        app.hook_url().split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default().to_owned();
    // The short test schedule (about a second) runs out: the page shows it failed, under its host.
    let page = tokio::time::timeout(payments_e2e::WAIT, async {
        loop {
            let page = browser.get("/deliveries").await;
            if page.body.contains("name=\"host\"") {
                return page;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the event fails within the schedule");
    assert!(page.body.contains(&host) && page.body.contains(&order), "{}", page.body);
    let csrf = page.csrf();

    app.hooks.set_answer(payments_e2e::Answer::Ok);
    let done = browser.post("/deliveries/redeliver", &[("csrf", csrf.as_str()), ("host", host.as_str())]).await;
    assert_eq!((done.status, done.location()), (303, Some("/deliveries?done=1")), "{}", done.body);
    let heard = app.hooks.delivered(&order, 1).await;
    assert_eq!(heard[0].webhook().current.refund.as_ref().map(money_text).as_deref(), Some("1000"));

    let viewer = app.add_operator("lee@deliveries", Role::Viewer).await;
    let mut viewers = app.browser();
    viewers.sign_in(&viewer.name, &viewer.password, "").await;
    let seen = viewers.get("/deliveries").await;
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains("/deliveries/redeliver"), "a viewer is offered no redelivery");
    let forged =
        viewers.post("/deliveries/redeliver", &[("csrf", seen.csrf().as_str()), ("host", host.as_str())]).await;
    assert_eq!(forged.status, 403);

    let notifications = browser.get("/notifications").await;
    assert_eq!(notifications.status, 200, "{}", notifications.body);
    assert!(notifications.body.contains("Notifications kept"), "{}", notifications.body);
    // This instance's spool (beside the database in the test servers), empty.
    let spool = notifications.body.split("This instance").nth(1).and_then(|rest| rest.split("</p>").next());
    assert!(spool.is_some_and(|line| line.contains("empty")), "the spool's size: {}", notifications.body);
}

async fn admins_add_reset_and_disable_operators_in_the_console(app: &TestApp) {
    let admin = app.add_operator("jung@operators", Role::Admin).await;
    let mut browser = app.browser();
    browser.sign_in(&admin.name, &admin.password, &admin.code(0)).await;
    let page = browser.get("/operators").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();

    let added =
        browser.post("/operators", &[("csrf", csrf.as_str()), ("name", "Han@Support"), ("role", "support")]).await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.body.contains("han@support") && added.body.contains("otpauth://totp/"), "{}", added.body);
    let password_start = added.body.find("<dd><code>").expect("the password, once") + "<dd><code>".len();
    let password = added.body[password_start..].split('<').next().unwrap_or_default().to_owned();
    assert_eq!(password.chars().count(), 20);
    assert!(!browser.get("/operators").await.body.contains(&password), "shown once");

    let taken =
        browser.post("/operators", &[("csrf", csrf.as_str()), ("name", "han@support"), ("role", "viewer")]).await;
    assert_eq!(taken.status, 409);
    assert!(taken.body.contains("id=\"name-error\""));
    let bad = browser.post("/operators", &[("csrf", csrf.as_str()), ("name", "x y"), ("role", "viewer")]).await;
    assert_eq!(bad.status, 400);
    let bad_role = browser.post("/operators", &[("csrf", csrf.as_str()), ("name", "root@x"), ("role", "root")]).await;
    assert_eq!(bad_role.status, 400);
    assert!(bad_role.body.contains("id=\"role-error\""));

    let reset = browser.post("/operators/reset", &[("csrf", csrf.as_str()), ("name", "han@support")]).await;
    assert_eq!(reset.status, 200);
    assert!(!reset.body.contains(&password) && reset.body.contains("otpauth://totp/"));
    let disabled = browser.post("/operators/disable", &[("csrf", csrf.as_str()), ("name", "han@support")]).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert!(disabled.body.contains("han@support is disabled"));
    let yourself = browser.post("/operators/disable", &[("csrf", csrf.as_str()), ("name", admin.name.as_str())]).await;
    assert_eq!(yourself.status, 409);

    let support = app.add_operator("kim@operators", Role::Support).await;
    let mut supports = app.browser();
    supports.sign_in(&support.name, &support.password, &support.code(0)).await;
    assert_eq!(supports.get("/operators").await.status, 403);
    let page = supports.get("/payments").await;
    let forged =
        supports.post("/operators", &[("csrf", page.csrf().as_str()), ("name", "evil@x"), ("role", "admin")]).await;
    assert_eq!(forged.status, 403);

    let audit = browser.get("/audit").await.body;
    for expected in
        ["operator_added", "operator:han@support", "operator_reset", "operator_disabled", "refused: add an operator"]
    {
        assert!(audit.contains(expected), "{expected:?}: {audit}");
    }
}

async fn the_json_api_reads_what_the_pages_show_with_the_same_session(app: &TestApp) {
    let order = unique("json");
    let paid = paid_and_partly_cancelled(app, &order).await;
    let support = app.add_operator("kim@json", Role::Support).await;
    let mut browser = app.browser();

    let signed_out = browser.get("/admin/api/payments").await;
    assert_eq!(signed_out.status, 401, "{}", signed_out.body);
    let problem: serde_json::Value = serde_json::from_str(&signed_out.body).unwrap();
    assert_eq!(problem["code"], "SIGNED_OUT");

    browser.sign_in(&support.name, &support.password, &support.code(0)).await;
    let page = browser.get(&format!("/admin/api/payments?source_id={order}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(page["count"], 1);
    assert_eq!(page["payments"][0]["id"], serde_json::json!(paid.id));
    assert_eq!(page["payments"][0]["state"], "partly_refunded");
    assert_eq!(page["payments"][0]["price"], serde_json::json!(30_000), "amounts are JSON numbers");
    assert_eq!(page["totals"][0], serde_json::json!({"currency": "KRW", "price": 30_000, "refund": 10_000}));
    assert!(page.get("next_before").is_none(), "one page");

    let bad = browser.get("/admin/api/payments?min=lots").await;
    assert_eq!(bad.status, 400);
    let bad: serde_json::Value = serde_json::from_str(&bad.body).unwrap();
    assert_eq!((bad["code"].as_str(), bad["param"].as_str()), (Some("INVALID_FIELD"), Some("min")));

    let detail = browser.get(&format!("/admin/api/payments/{}", paid.id)).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    let detail: serde_json::Value = serde_json::from_str(&detail.body).unwrap();
    assert_eq!(detail["remaining"], serde_json::json!(20_000));
    assert_eq!(detail["cancels"][0]["reason"], "customer changed mind");
    assert_eq!(detail["timeline"][0]["delivery"], "delivered");
    assert_eq!(detail["timeline"][0]["attempts"][0]["status"], 200);
    let missing = browser.get(&format!("/admin/api/payments/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(missing.status, 404);

    let audit = browser.get("/admin/api/audit").await;
    assert_eq!(audit.status, 403, "support reads no audit log");
    let admin = app.add_operator("lee@json", Role::Admin).await;
    let mut admins = app.browser();
    admins.sign_in(&admin.name, &admin.password, &admin.code(0)).await;
    let audit: serde_json::Value = serde_json::from_str(&admins.get("/admin/api/audit").await.body).unwrap();
    let entries = audit["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["actor"] == "kim@json" && e["action"] == "view_payment"));
    assert!(entries.iter().any(|e| e["actor"] == "kim@json" && e["outcome"] == "refused: read the audit log"));
}

async fn support_finds_a_customers_saved_card_and_removes_it_and_its_key_is_never_shown(app: &TestApp) {
    let customer = unique("customer");
    let key = app.portone.save_card_numbered(&customer, "4444333322221111").await;
    let card = app
        .client
        .save_card(&wire::CreateReservationBody {
            vendor: payments_e2e::vendor(Pg::PortOne, &key),
            source: wire::SourceBody { schema: "shop".into(), table: "customers".into(), id: customer.clone() },
            title: "monthly plan".into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("saved");
    let viewer = app.add_operator("lee@cards", Role::Viewer).await;
    let mut viewers = app.browser();
    viewers.sign_in(&viewer.name, &viewer.password, "").await;
    let seen = viewers.get(&format!("/saved-cards?source_id={customer}")).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body.contains("monthly plan") && seen.body.contains(&customer), "{}", seen.body);
    assert!(!seen.body.contains(&key), "the billing key is never shown");
    assert!(!seen.body.contains("/remove"), "a viewer is offered no removal");
    let forged = viewers.post(&format!("/saved-cards/{}/remove", card.id), &[("csrf", seen.csrf().as_str())]).await;
    assert_eq!(forged.status, 403);

    let support = app.add_operator("kim@cards", Role::Support).await;
    let mut browser = app.browser();
    browser.sign_in(&support.name, &support.password, &support.code(0)).await;
    let page = browser.get(&format!("/saved-cards?source_id={customer}")).await;
    assert!(page.body.contains(&format!("/saved-cards/{}/remove", card.id)), "{}", page.body);
    let removed = browser.post(&format!("/saved-cards/{}/remove", card.id), &[("csrf", page.csrf().as_str())]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let after = browser.get(removed.location().expect("back to the customer's cards")).await;
    assert!(after.body.contains("The card is removed.") && after.body.contains("removed"), "{}", after.body);
    let (_, at_pg) = app.portone.call(reqwest::Method::GET, &format!("/billing-keys/{key}"), None).await;
    assert_eq!(at_pg["status"], "DELETED", "removed at the PG too: {at_pg}");
    let read = app.client.get_saved_card_by_id(card.id, PASSWORD).await.expect("still readable by its backend");
    assert!(read.removed_at.is_some());
    assert_eq!(
        browser
            .post(&format!("/saved-cards/{}/remove", uuid::Uuid::now_v7()), &[("csrf", page.csrf().as_str())])
            .await
            .status,
        404
    );

    let admin = app.add_operator("park@cards", Role::Admin).await;
    let mut admins = app.browser();
    admins.sign_in(&admin.name, &admin.password, &admin.code(0)).await;
    let audit = admins.get("/audit").await.body;
    assert!(audit.contains("remove_saved_card") && audit.contains("ok: monthly plan"), "{audit}");
    assert!(audit.contains("refused: remove a saved card"), "{audit}");
}

async fn an_admin_runs_the_reconciler_and_follows_it_to_its_report(app: &TestApp) {
    let order = unique("reconcile");
    paid_and_partly_cancelled(app, &order).await;
    let support = app.add_operator("kim@reconcile", Role::Support).await;
    let mut supports = app.browser();
    supports.sign_in(&support.name, &support.password, &support.code(0)).await;
    assert_eq!(supports.get("/reconcile").await.status, 403, "admins only");

    let admin = app.add_operator("lee@reconcile", Role::Admin).await;
    let mut browser = app.browser();
    browser.sign_in(&admin.name, &admin.password, &admin.code(0)).await;
    let page = browser.get("/reconcile").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let started = browser.post("/reconcile", &[("csrf", page.csrf().as_str())]).await;
    assert_eq!((started.status, started.location()), (303, Some("/reconcile")));
    // The page follows the run (it reloads itself while running) to its report.
    let finished = tokio::time::timeout(payments_e2e::WAIT, async {
        loop {
            let page = browser.get("/reconcile").await;
            if page.body.contains("Finished") {
                return page;
            }
            assert!(page.body.contains("http-equiv=\"refresh\""), "a running page reloads: {}", page.body);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the run ends");
    assert!(finished.body.contains("Checked") && finished.body.contains("lee@reconcile"), "{}", finished.body);
    assert!(!finished.body.contains("http-equiv=\"refresh\""), "a finished page stays");
    let audit = browser.get("/audit").await.body;
    assert!(audit.contains("ok: started") && audit.contains("ok: checked"), "{audit}");
}

async fn an_admin_revokes_a_client_and_its_key_is_refused_at_once(app: &TestApp) {
    let client = app.add_client("orders service", "all").await;
    let admin = app.add_operator("jung@clients", Role::Admin).await;
    let mut browser = app.browser();
    browser.sign_in(&admin.name, &admin.password, &admin.code(0)).await;
    let page = browser.get("/clients").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("orders service") && page.body.contains(&client.id.to_string()));
    assert!(!page.body.contains(&client.api_key) && !page.body.contains("whsec_"), "no key or secret shown");
    let revoked = browser.post(&format!("/clients/{}/revoke", client.id), &[("csrf", page.csrf().as_str())]).await;
    assert_eq!((revoked.status, revoked.location()), (303, Some("/clients?done=revoked")), "{}", revoked.body);
    let refused = client.client.get_history(&payments_e2e::accessor("any")).await;
    assert_eq!(payments_e2e::assert_status(refused, 401).code(), Some("UNAUTHENTICATED"));
    assert!(browser.get("/clients").await.body.contains("revoked"));
    let again = browser.post(&format!("/clients/{}/revoke", client.id), &[("csrf", page.csrf().as_str())]).await;
    assert_eq!(again.status, 404, "revoked once");

    let support = app.add_operator("kim@clients", Role::Support).await;
    let mut supports = app.browser();
    supports.sign_in(&support.name, &support.password, &support.code(0)).await;
    assert_eq!(supports.get("/clients").await.status, 403);
    let audit = browser.get("/audit").await.body;
    assert!(audit.contains("client_revoked") && audit.contains(&format!("client:{}", client.id)), "{audit}");
}
