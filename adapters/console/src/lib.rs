//! The operators' console, on a listener of its own (`PAYMENT_ADMIN_ADDR`):
//! sign-in with a password (and a TOTP code for roles that move money),
//! server-side sessions (an HttpOnly, SameSite=Strict cookie holding a
//! random token; `Secure` off loopback), a CSRF token in every form, every
//! view of a payment and every action in the audit trail.
//!
//! Pages: `/login`, `/payments` (search), `/payments/{id}` (a payment and
//! its timeline), `/audit` (admins). No JavaScript: every page reads and
//! every form posts without it.

mod api;
mod pages;

use std::sync::Arc;

use maud::Markup;
use payments_application::ports::{
    ConsoleQueries, HistoryRepository, OperatorSession, PaymentSearch, PaymentStateFilter,
};
use payments_application::{
    AppError, CancelAsk, DeliveryService, OperatorError, OperatorService, PaymentService, RequestContext,
};
use payments_domain::{
    AuditAction, AuditEntry, AuditId, HistoryId, Money, Operator, Permission, Role, SavedCardId, VendorCode,
};
use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Path, Query};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler, post};
use subtle::ConstantTimeEq;

pub use api::openapi_json;
pub use pages::money;

/// The session cookie's name.
pub const COOKIE: &str = "payments_console";
/// The sign-in form's CSRF cookie (its path only).
pub const LOGIN_COOKIE: &str = "payments_console_login";
/// Payments per page of a search.
const PAGE: u32 = 50;
/// Audit entries per page.
const AUDIT_PAGE: u32 = 100;
/// Events shown on a payment's timeline.
const TIMELINE: u32 = 500;
/// Undelivered events read for the deliveries page (and a host's redelivery).
const UNDELIVERED: u32 = 1_000;
/// PG notifications listed.
const NOTIFICATIONS: u32 = 200;

/// What the console reads and acts through.
#[derive(Clone)]
pub struct ConsoleState {
    pub operators: OperatorService,
    /// The money-safe use cases the actions go through.
    pub payments: PaymentService,
    pub delivery: DeliveryService,
    /// The backends' clients (admins list and revoke them).
    pub clients: payments_application::ClientService,
    /// The reconciler's window and pace, as the periodic runs use them.
    pub reconcile_window: std::time::Duration,
    pub reconcile_pace: std::time::Duration,
    /// The run an admin started on this instance, if any.
    pub reconcile_run: Arc<std::sync::Mutex<Option<ReconcileRun>>>,
    pub queries: Arc<dyn ConsoleQueries>,
    pub histories: Arc<dyn HistoryRepository>,
    /// Bytes of PG notifications waiting in this instance's spool (taken
    /// while the database could not take them); `None` without a spool.
    pub spool_waiting: Option<Arc<dyn Fn() -> u64 + Send + Sync>>,
    /// Mark the cookie `Secure` (the console is served beyond loopback,
    /// behind TLS).
    pub secure_cookies: bool,
}

/// A reconciliation an admin started from the console.
#[derive(Debug, Clone)]
pub struct ReconcileRun {
    pub by: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When it ended, and what it did (or why it failed).
    pub finished: Option<(chrono::DateTime<chrono::Utc>, Result<payments_application::ReconcileReport, String>)>,
}

/// The console's routes, with the security headers every answer carries.
pub fn endpoint(state: ConsoleState) -> impl Endpoint {
    Route::new()
        .at("/", get(home))
        .at("/login", get(login_page).post(login))
        .at("/logout", post(logout))
        .at("/payments", get(payments))
        .at("/payments/:id", get(payment))
        .at("/payments/:id/refund", post(refund))
        .at("/payments/:id/reread", post(reread))
        .at("/events/:id/redeliver", post(redeliver))
        .at("/audit", get(audit))
        .at("/deliveries", get(deliveries))
        .at("/deliveries/redeliver", post(redeliver_host))
        .at("/notifications", get(notifications))
        .at("/saved-cards", get(saved_cards))
        .at("/reconcile", get(reconcile_page).post(reconcile_now))
        .at("/clients", get(clients_page))
        .at("/clients/:id/revoke", post(revoke_client))
        .at("/saved-cards/:id/remove", post(remove_saved_card))
        .at("/operators", get(operators).post(add_operator))
        .at("/operators/disable", post(disable_operator))
        .at("/operators/reset", post(reset_operator))
        .at("/static/console.css", get(css))
        .nest("/admin/api", api::service())
        .data(Arc::new(state))
        .after(|answer| async move {
            let mut response = match answer {
                Ok(response) => response.into_response(),
                Err(error) => error.into_response(),
            };
            let headers = response.headers_mut();
            let set = |headers: &mut poem::http::HeaderMap, name, value| {
                headers.insert(name, poem::http::HeaderValue::from_static(value));
            };
            set(headers, header::CACHE_CONTROL, "no-store");
            set(headers, header::X_FRAME_OPTIONS, "DENY");
            set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
            set(headers, header::REFERRER_POLICY, "no-referrer");
            set(
                headers,
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            );
            Ok::<Response, poem::Error>(response)
        })
}

type State<'a> = Data<&'a Arc<ConsoleState>>;

fn html(status: StatusCode, markup: Markup) -> Response {
    Response::builder().status(status).content_type("text/html; charset=utf-8").body(markup.into_string())
}

fn redirect(to: &str) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, to).finish()
}

fn context(request: &Request) -> RequestContext {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(64).collect())
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let address = request.remote_addr().as_socket_addr().map(|a| a.ip().to_string());
    RequestContext { request_id: Some(request_id), address }
}

/// The session token of the `Cookie` header (other cookies ignored).
fn session_token(request: &Request) -> Option<String> {
    cookie(request, COOKIE)
}

/// The value of the cookie `name`, if the request carries a non-empty one.
fn cookie(request: &Request, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&prefix).map(str::to_owned))
        .filter(|token| !token.is_empty())
}

/// The answer to an error of a signed-in page.
fn failed(signed_in: Option<(&Operator, &str)>, error: OperatorError) -> Response {
    match error {
        OperatorError::SignedOut { expired: true } => redirect("/login?expired=1"),
        OperatorError::SignedOut { expired: false } => redirect("/login"),
        OperatorError::Forbidden { role } => html(
            StatusCode::FORBIDDEN,
            pages::problem(
                signed_in,
                "403",
                &format!("역할({role})로는 할 수 없습니다. Your role ({role}) does not allow this."),
            ),
        ),
        OperatorError::Unavailable(_) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::problem(signed_in, "503", "잠시 후 다시 시도하세요. Unavailable: try again shortly."),
        ),
        other => {
            tracing::error!(error = %other, "console request failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::problem(signed_in, "500", "처리하지 못했습니다. The request failed; it is logged."),
            )
        }
    }
}

/// The signed-in operator of `request` and their session, or the answer
/// that sends them to sign in.
async fn signed_in(state: &ConsoleState, request: &Request) -> Result<(Operator, OperatorSession), Response> {
    let Some(token) = session_token(request) else { return Err(redirect("/login")) };
    state.operators.authenticate(&token, &context(request)).await.map_err(|e| failed(None, e))
}

/// Whether a form's token is the one expected, compared in constant time.
fn same_token(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// A form's CSRF token must be its session's (compared in constant time);
/// a missing or wrong one is refused 403 and audited.
async fn check_csrf(
    state: &ConsoleState,
    request: &Request,
    operator: &Operator,
    session: &OperatorSession,
    given: &str,
) -> Result<(), Response> {
    if same_token(given, &session.csrf_token) {
        return Ok(());
    }
    let context = context(request);
    let outcome = "refused: a form without its session's CSRF token".to_owned();
    state.operators.audit(Some(operator), AuditAction::Forbidden, None, outcome, &context).await;
    Err(html(
        StatusCode::FORBIDDEN,
        pages::problem(
            Some((operator, &session.csrf_token)),
            "403",
            "이 양식은 유효하지 않습니다. This form is not valid for your session: reload the page and try again.",
        ),
    ))
}

#[handler]
async fn home(state: State<'_>, request: &Request) -> Response {
    match signed_in(&state, request).await {
        Ok(_) => redirect("/payments"),
        Err(answer) => answer,
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct LoginQuery {
    expired: Option<String>,
}

#[handler]
async fn login_page(state: State<'_>, Query(query): Query<LoginQuery>) -> Response {
    let minutes = state.operators.policy().idle.as_secs() / 60;
    let notice = query.expired.map(|_| {
        format!("{minutes}분 동안 사용하지 않아 로그아웃되었습니다. Signed out after {minutes} minutes idle.")
    });
    login_form(&state, StatusCode::OK, notice.as_deref(), "")
}

/// The sign-in form with a fresh CSRF token, set also as a cookie of the
/// form's path (double submit: nobody signed in yet, so no session holds
/// it). A sign-in posted from another site carries neither.
fn login_form(state: &ConsoleState, status: StatusCode, notice: Option<&str>, name: &str) -> Response {
    let token = state.operators.form_token();
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}");
    let mut answer = html(status, pages::login(notice, name, &token));
    if let Ok(value) = poem::http::HeaderValue::from_str(&cookie) {
        answer.headers_mut().append(header::SET_COOKIE, value);
    }
    answer
}

#[derive(Debug, serde::Deserialize)]
struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

#[handler]
async fn login(state: State<'_>, request: &Request, Form(form): Form<LoginForm>) -> Response {
    if !cookie(request, LOGIN_COOKIE).is_some_and(|expected| same_token(&form.csrf, &expected)) {
        // Refused before the password or code is looked at: nothing counted,
        // no code spent.
        tracing::warn!(peer = ?context(request).address, "console sign-in refused: the form's token is missing or not its cookie's");
        return login_form(
            &state,
            StatusCode::FORBIDDEN,
            Some(
                "로그인 양식이 만료되었거나 다른 사이트에서 왔습니다. The sign-in form expired or came from another site: sign in again.",
            ),
            &form.name,
        );
    }
    match state.operators.sign_in(&form.name, &form.password, &form.code, &context(request)).await {
        Ok(signed) => {
            let secure = if state.secure_cookies { "; Secure" } else { "" };
            let cookie = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}", signed.token);
            let spent = format!("{LOGIN_COOKIE}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
            Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, "/payments")
                .header(header::SET_COOKIE, cookie)
                .header(header::SET_COOKIE, spent)
                .finish()
        }
        Err(OperatorError::SignInRefused) => login_form(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("아이디, 비밀번호 또는 코드가 틀렸습니다. The name, password or code is wrong."),
            &form.name,
        ),
        Err(OperatorError::Locked { retry_after }) => {
            let seconds = retry_after.as_secs().max(1);
            let mut answer = login_form(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&format!(
                    "로그인 실패가 많아 {seconds}초 동안 잠겼습니다. Too many wrong sign-ins: locked for {seconds} s."
                )),
                &form.name,
            );
            if let Ok(value) = poem::http::HeaderValue::from_str(&seconds.to_string()) {
                answer.headers_mut().insert(header::RETRY_AFTER, value);
            }
            answer
        }
        Err(other) => failed(None, other),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[handler]
async fn logout(state: State<'_>, request: &Request, Form(form): Form<CsrfForm>) -> Response {
    let (operator, session) = match signed_in(&state, request).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    if let Err(refused) = check_csrf(&state, request, &operator, &session, &form.csrf).await {
        return refused;
    }
    let token = session_token(request).unwrap_or_default();
    if let Err(error) = state.operators.sign_out(&operator, &token, &context(request)).await {
        return failed(Some((&operator, &session.csrf_token)), error);
    }
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let expire = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, "/login")
        .header(header::SET_COOKIE, expire)
        .finish()
}

/// The search the form's fields ask for, or each invalid field's message.
fn parse_search(fields: &pages::SearchFields) -> Result<PaymentSearch, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let text = |value: &str, name: &'static str, errors: &mut Vec<(&'static str, String)>| {
        let value = value.trim();
        if value.chars().count() > 256 {
            errors.push((name, "256자 이하 at most 256 characters".to_owned()));
            return None;
        }
        (!value.is_empty()).then(|| value.to_owned())
    };
    let date = |value: &str, name: &'static str, errors: &mut Vec<(&'static str, String)>| {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            Ok(day) => day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            Err(_) => {
                errors.push((name, "YYYY-MM-DD 형식의 날짜 a date as YYYY-MM-DD".to_owned()));
                None
            }
        }
    };
    let amount = |value: &str, name: &'static str, errors: &mut Vec<(&'static str, String)>| {
        let value = value.trim().replace(',', "");
        if value.is_empty() {
            return None;
        }
        match Money::parse_for(name, &value) {
            Ok(money) => Some(money),
            Err(_) => {
                errors.push((name, "0 이상의 금액 an amount of 0 or more, such as 19900".to_owned()));
                None
            }
        }
    };
    let vendor = match fields.vendor.trim() {
        "" => None,
        code => match code.parse::<VendorCode>() {
            Ok(vendor) => Some(vendor),
            Err(_) => {
                errors.push(("vendor", "알 수 없는 PG unknown vendor".to_owned()));
                None
            }
        },
    };
    let state = match fields.state.trim() {
        "" => None,
        state => {
            let parsed = PaymentStateFilter::parse(state);
            if parsed.is_none() {
                errors.push(("state", "알 수 없는 상태 unknown state".to_owned()));
            }
            parsed
        }
    };
    let before = match fields.before.trim() {
        "" => None,
        id => match uuid::Uuid::parse_str(id) {
            Ok(id) => Some(HistoryId::from_uuid(id)),
            Err(_) => {
                errors.push(("before", "잘못된 페이지 a page cursor that is not an id".to_owned()));
                None
            }
        },
    };
    let search = PaymentSearch {
        source_id: text(&fields.source_id, "source_id", &mut errors),
        order_id: text(&fields.order_id, "order_id", &mut errors),
        uid: text(&fields.uid, "uid", &mut errors),
        vendor,
        state,
        from: date(&fields.from, "from", &mut errors),
        // "To" is the whole day.
        to: date(&fields.to, "to", &mut errors).map(|t| t + chrono::Duration::days(1)),
        min_price: amount(&fields.min, "min", &mut errors),
        max_price: amount(&fields.max, "max", &mut errors),
        before,
        limit: PAGE + 1,
    };
    if let (Some(from), Some(to)) = (search.from, search.to)
        && from >= to
    {
        errors.push(("to", "시작일 이후의 날짜 a day on or after From".to_owned()));
    }
    if errors.is_empty() { Ok(search) } else { Err(errors) }
}

#[handler]
async fn payments(state: State<'_>, request: &Request, Query(fields): Query<pages::SearchFields>) -> Response {
    let (operator, session) = match signed_in(&state, request).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    let search = match parse_search(&fields) {
        Ok(search) => search,
        Err(errors) => {
            let none = payments_application::ports::SearchTotals::default();
            return html(
                StatusCode::BAD_REQUEST,
                pages::payments(&operator, csrf, &fields, &errors, &[], &none, false),
            );
        }
    };
    let (rows, totals) = tokio::join!(state.queries.search_payments(&search), state.queries.search_totals(&search));
    let (mut rows, totals) = match (rows, totals) {
        (Ok(rows), Ok(totals)) => (rows, totals),
        (Err(error), _) | (_, Err(error)) => return failed(Some((&operator, csrf)), error.into()),
    };
    let more = rows.len() > PAGE as usize;
    rows.truncate(PAGE as usize);
    html(StatusCode::OK, pages::payments(&operator, csrf, &fields, &[], &rows, &totals, more))
}

#[handler]
async fn payment(
    state: State<'_>,
    request: &Request,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let (operator, session) = match viewing(&state, request, Permission::Read, "view a payment").await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    let Some(id) = record_id::<HistoryId>(&id) else { return not_found_page(&operator, csrf, "결제", "payment") };
    let actions =
        pages::Actions { key: fresh_key(), notice: query.done.as_deref().map(done_notice), ..Default::default() };
    let page = payment_again(&state, &operator, csrf, id, StatusCode::OK, actions).await;
    if page.status() == StatusCode::OK {
        let record = Some(format!("history:{id}"));
        state.operators.audit(Some(&operator), AuditAction::ViewPayment, record, "ok".into(), &context(request)).await;
    }
    page
}

/// A fresh idempotency key for a page's refund form.
fn fresh_key() -> String {
    format!("console-{}", uuid::Uuid::new_v4().simple())
}

/// What the page says after an action redirected to it.
fn done_notice(done: &str) -> String {
    match done {
        "refund" => "환불했습니다. Refunded.".into(),
        "refund_pending" => "PG가 환불을 접수했습니다(처리 중). The PG accepted the refund; it completes later.".into(),
        "reread_changed" => "PG에서 다시 읽어 변경을 기록했습니다. Re-read: the PG's change was recorded.".into(),
        "reread" => "PG에서 다시 읽었습니다: 변경 없음. Re-read: nothing changed.".into(),
        "redeliver" => "웹훅을 다시 보냅니다. The webhook is queued again.".into(),
        _ => String::new(),
    }
}

/// The signed-in operator of a page their role lets them see (a refusal
/// is 403 and audited).
async fn viewing(
    state: &ConsoleState,
    request: &Request,
    permission: Permission,
    what: &str,
) -> Result<(Operator, OperatorSession), Response> {
    let (operator, session) = signed_in(state, request).await?;
    if let Err(error) = state.operators.require(&operator, permission, what, &context(request)).await {
        return Err(failed(Some((&operator, &session.csrf_token)), error));
    }
    Ok((operator, session))
}

/// The signed-in operator of a POST whose form carries its CSRF token, and
/// whose role allows `permission` (both refusals 403 and audited).
async fn acting(
    state: &ConsoleState,
    request: &Request,
    csrf: &str,
    permission: Permission,
    what: &str,
) -> Result<(Operator, OperatorSession), Response> {
    let (operator, session) = signed_in(state, request).await?;
    check_csrf(state, request, &operator, &session, csrf).await?;
    if let Err(error) = state.operators.require(&operator, permission, what, &context(request)).await {
        return Err(failed(Some((&operator, &session.csrf_token)), error));
    }
    Ok((operator, session))
}

#[derive(Debug, Default, serde::Deserialize)]
struct RefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    seen_refund: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    bank: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    holder: String,
    #[serde(default)]
    mobile: String,
}

/// The cancel a refund form asks for, or each bad field's message.
fn parse_refund(form: &RefundForm) -> Result<CancelAsk, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let price = match Money::parse_for("amount", form.amount.trim().replace(',', "").as_str()) {
        Ok(price) if price > Money::ZERO => Some(price),
        _ => {
            errors.push(("amount", "0보다 큰 금액 an amount greater than 0, such as 10000".to_owned()));
            None
        }
    };
    let reason = match payments_domain::CancelReason::parse(form.reason.trim()) {
        Ok(reason) => Some(reason),
        Err(_) => {
            errors.push(("reason", "환불 사유를 적어 주세요 say why (at most 200 characters)".to_owned()));
            None
        }
    };
    let given = [&form.bank, &form.account, &form.holder].iter().filter(|v| !v.trim().is_empty()).count();
    let account = match given {
        0 => None,
        3 => Some(payments_application::ports::RefundAccount {
            bank: form.bank.trim().to_owned(),
            account: form.account.trim().to_owned(),
            holder: form.holder.trim().to_owned(),
            mobile: form.mobile.trim().to_owned(),
        }),
        _ => {
            errors.push(("account", "은행, 계좌, 예금주를 모두 a bank, an account and a holder, or none".to_owned()));
            None
        }
    };
    let key = form.key.trim();
    if key.is_empty() || key.len() > 64 {
        errors.push(("amount", "양식을 다시 불러오세요 reload the page: the form has no key".to_owned()));
    }
    match (price, reason) {
        (Some(price), Some(reason)) if errors.is_empty() => {
            Ok(CancelAsk { price, reason, account, idempotency_key: Some(key.to_owned()) })
        }
        _ => Err(errors),
    }
}

/// The payment page again, answering `status`, with the form as typed, its
/// errors or a notice.
async fn payment_again(
    state: &ConsoleState,
    operator: &Operator,
    csrf: &str,
    id: HistoryId,
    status: StatusCode,
    actions: pages::Actions,
) -> Response {
    let history = match state.histories.find_by_id(id).await {
        Ok(Some(stored)) => stored.history,
        Ok(None) => {
            return not_found_page(operator, csrf, "결제", "payment");
        }
        Err(error) => return failed(Some((operator, csrf)), error.into()),
    };
    let record = format!("history:{id}");
    let (timeline, done) =
        tokio::join!(state.queries.payment_timeline(id, TIMELINE), state.operators.audit_of(&record));
    let timeline = match timeline {
        Ok(timeline) => timeline,
        Err(error) => return failed(Some((operator, csrf)), error.into()),
    };
    let done = match done {
        Ok(done) => done,
        Err(error) => return failed(Some((operator, csrf)), error),
    };
    html(status, pages::payment(operator, csrf, &history, &timeline, &done, &actions))
}

/// The 404 page of a record that does not exist (`ko`, `en`: what it is).
fn not_found_page(operator: &Operator, csrf: &str, ko: &str, en: &str) -> Response {
    let message = format!("그런 {ko}가 없습니다. There is no such {en}.");
    html(StatusCode::NOT_FOUND, pages::problem(Some((operator, csrf)), "404", &message))
}

/// A record id from a path segment (`None`: not an id, so no such record).
fn record_id<T: From<uuid::Uuid>>(text: &str) -> Option<T> {
    uuid::Uuid::parse_str(text).ok().map(T::from)
}

/// The status and message of a refused action: the status the API answers
/// for the same cause (its one table, `payments_http::status_of`).
fn refusal(error: &AppError) -> (StatusCode, String) {
    let status = payments_http::status_of(payments_wire::ErrorCode::from(error.cause()));
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), error.to_string())
}

#[handler]
async fn refund(state: State<'_>, request: &Request, Path(id): Path<String>, Form(form): Form<RefundForm>) -> Response {
    let (operator, session) = match acting(&state, request, &form.csrf, Permission::Refund, "refund a payment").await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    let Some(id) = record_id::<HistoryId>(&id) else {
        return not_found_page(&operator, csrf, "결제", "payment");
    };
    let typed = |notice: Option<String>, errors| pages::Actions {
        key: fresh_key(),
        amount: form.amount.clone(),
        reason: form.reason.clone(),
        notice,
        errors,
    };
    let ask = match parse_refund(&form) {
        Ok(ask) => ask,
        Err(errors) => {
            return payment_again(&state, &operator, csrf, id, StatusCode::BAD_REQUEST, typed(None, errors)).await;
        }
    };
    let context = context(request);
    let record = Some(format!("history:{id}"));
    // A page that is stale (the payment changed since it was shown) refuses
    // the action and shows the payment as it is now; a retry of the same
    // form (its key) is the cancel use case's to answer, whatever changed.
    let current = match state.histories.find_by_id(id).await {
        Ok(Some(stored)) => stored.history,
        Ok(None) => {
            return payment_again(&state, &operator, csrf, id, StatusCode::NOT_FOUND, typed(None, vec![])).await;
        }
        Err(error) => return failed(Some((&operator, csrf)), error.into()),
    };
    let seen = Money::parse_for("seen_refund", form.seen_refund.trim()).ok();
    let key = ask.idempotency_key.as_deref().unwrap_or_default();
    let retry = match state.payments.cancel_asked_before(id, key).await {
        Ok(retry) => retry,
        Err(error) => return failed(Some((&operator, csrf)), OperatorError::Unavailable(error.to_string())),
    };
    if seen != Some(current.refund()) && !retry {
        let outcome = "refused: the payment changed since the page was shown".to_owned();
        state.operators.audit(Some(&operator), AuditAction::Refund, record, outcome, &context).await;
        let notice = "이 결제는 화면을 연 뒤 바뀌었습니다. 지금 상태를 확인하고 다시 시도하세요. \
                      The payment changed since this page was shown: check it as it is now and try again.";
        return payment_again(&state, &operator, csrf, id, StatusCode::CONFLICT, typed(Some(notice.into()), vec![]))
            .await;
    }
    let amount = money(ask.price, current.currency());
    match state.payments.cancel_by_operator(id, &ask).await {
        Ok(outcome) => {
            let done = if outcome.completed { "refund" } else { "refund_pending" };
            let said = format!("ok: {amount} ({})", if outcome.completed { "completed" } else { "pending at the PG" });
            state.operators.audit(Some(&operator), AuditAction::Refund, record, said, &context).await;
            redirect(&format!("/payments/{id}?done={done}"))
        }
        Err(error) => {
            let (status, message) = refusal(&error);
            let said = format!("refused: {amount}: {message}");
            state.operators.audit(Some(&operator), AuditAction::Refund, record, said, &context).await;
            let notice = format!("환불하지 못했습니다. The refund was not made: {message}");
            payment_again(&state, &operator, csrf, id, status, typed(Some(notice), vec![])).await
        }
    }
}

#[handler]
async fn reread(state: State<'_>, request: &Request, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Response {
    let (operator, session) = match acting(&state, request, &form.csrf, Permission::Reread, "re-read a payment").await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    let Some(id) = record_id::<HistoryId>(&id) else {
        return not_found_page(&operator, csrf, "결제", "payment");
    };
    let context = context(request);
    let record = Some(format!("history:{id}"));
    match state.payments.reread_by_operator(id, operator.name.as_str()).await {
        Ok(changed) => {
            let said = if changed { "ok: changed" } else { "ok: unchanged" };
            state.operators.audit(Some(&operator), AuditAction::Reread, record, said.into(), &context).await;
            redirect(&format!("/payments/{id}?done={}", if changed { "reread_changed" } else { "reread" }))
        }
        Err(error) => {
            let (status, message) = refusal(&error);
            state
                .operators
                .audit(Some(&operator), AuditAction::Reread, record, format!("refused: {message}"), &context)
                .await;
            let notice = format!("다시 읽지 못했습니다. The re-read failed: {message}");
            let actions = pages::Actions { key: fresh_key(), notice: Some(notice), ..Default::default() };
            payment_again(&state, &operator, csrf, id, status, actions).await
        }
    }
}

#[handler]
async fn redeliver(
    state: State<'_>,
    request: &Request,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (operator, session) =
        match acting(&state, request, &form.csrf, Permission::Redeliver, "redeliver a webhook").await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let csrf = session.csrf_token.as_str();
    let not_found = || not_found_page(&operator, csrf, "이벤트", "event");
    let Some(event) = record_id::<payments_domain::EventId>(&id) else { return not_found() };
    let context = context(request);
    let record = Some(format!("event:{event}"));
    let history = match state.queries.event_payment(event).await {
        Ok(Some(history)) => history,
        Ok(None) => return not_found(),
        Err(error) => return failed(Some((&operator, csrf)), error.into()),
    };
    match state.delivery.redeliver(event).await {
        Ok(()) => {
            state.operators.audit(Some(&operator), AuditAction::Redeliver, record, "ok".into(), &context).await;
            redirect(&format!("/payments/{history}?done=redeliver"))
        }
        Err(error) => {
            let (status, message) = refusal(&error);
            state
                .operators
                .audit(Some(&operator), AuditAction::Redeliver, record, format!("refused: {message}"), &context)
                .await;
            let notice = format!("다시 보내지 못했습니다. The redelivery failed: {message}");
            let actions = pages::Actions { key: fresh_key(), notice: Some(notice), ..Default::default() };
            payment_again(&state, &operator, csrf, history, status, actions).await
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct AuditQuery {
    before: Option<String>,
}

#[handler]
async fn audit(state: State<'_>, request: &Request, Query(query): Query<AuditQuery>) -> Response {
    let (operator, session) = match viewing(&state, request, Permission::ReadAudit, "read the audit log").await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    let before = query.before.as_deref().and_then(record_id::<AuditId>);
    let mut entries = match state.operators.audit_page(before, AUDIT_PAGE + 1).await {
        Ok(entries) => entries,
        Err(error) => return failed(Some((&operator, csrf)), error),
    };
    let more = entries.len() > AUDIT_PAGE as usize;
    entries.truncate(AUDIT_PAGE as usize);
    html(StatusCode::OK, pages::audit(&operator, csrf, &entries, more))
}

#[handler]
fn css() -> Response {
    Response::builder().content_type("text/css; charset=utf-8").body(pages::CSS)
}

/// The receiver a webhook URL names, as deliveries are grouped and
/// throttled: its host and port (the domain's `WebhookUrl::host`, `port`).
fn host_of(url: &payments_domain::WebhookUrl) -> String {
    format!("{}:{}", url.host(), url.port())
}

/// The undelivered events grouped by host, the host with the oldest first.
fn by_host(rows: &[payments_application::ports::UndeliveredRow]) -> Vec<pages::HostGroup<'_>> {
    let mut groups: Vec<pages::HostGroup<'_>> = Vec::new();
    for row in rows {
        let host = host_of(&row.webhook_url);
        let group = match groups.iter_mut().position(|g| g.host == host) {
            Some(at) => &mut groups[at],
            None => {
                groups.push(pages::HostGroup { host, pending: 0, failed: 0, oldest: row.created_at, rows: Vec::new() });
                groups.last_mut().expect("just pushed")
            }
        };
        if row.failed {
            group.failed += 1;
        } else {
            group.pending += 1;
        }
        group.oldest = group.oldest.min(row.created_at);
        group.rows.push(row);
    }
    groups.sort_by_key(|g| g.oldest);
    groups
}

/// What a page says after an action redirected to it (`?done=`).
#[derive(Debug, Default, serde::Deserialize)]
struct NoticeQuery {
    done: Option<String>,
}

#[handler]
async fn deliveries(state: State<'_>, request: &Request, Query(query): Query<NoticeQuery>) -> Response {
    let (operator, session) = match signed_in(&state, request).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    let stats = match state.delivery.recent_stats(std::time::Duration::from_secs(1)).await {
        Ok(stats) => stats,
        Err(error) => return failed(Some((&operator, csrf)), OperatorError::Unavailable(error.to_string())),
    };
    let rows = match state.queries.undelivered(UNDELIVERED).await {
        Ok(rows) => rows,
        Err(error) => return failed(Some((&operator, csrf)), error.into()),
    };
    let notice = query.done.map(|n| format!("{n}건을 다시 보냅니다. {n} webhook(s) queued again."));
    html(StatusCode::OK, pages::deliveries(&operator, csrf, &stats, &by_host(&rows), notice.as_deref()))
}

#[derive(Debug, Default, serde::Deserialize)]
struct HostForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    host: String,
}

#[handler]
async fn redeliver_host(state: State<'_>, request: &Request, Form(form): Form<HostForm>) -> Response {
    let (operator, session) =
        match acting(&state, request, &form.csrf, Permission::Redeliver, "redeliver a host's webhooks").await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let csrf = session.csrf_token.as_str();
    let rows = match state.queries.undelivered(UNDELIVERED).await {
        Ok(rows) => rows,
        Err(error) => return failed(Some((&operator, csrf)), error.into()),
    };
    let mut queued = 0u32;
    for row in rows.iter().filter(|row| row.failed && host_of(&row.webhook_url) == form.host) {
        if state.delivery.redeliver(row.event).await.is_ok() {
            queued += 1;
        }
    }
    let record = Some(format!("host:{}", AuditEntry::bounded(&form.host)));
    let context = context(request);
    state
        .operators
        .audit(Some(&operator), AuditAction::Redeliver, record, format!("ok: {queued} events"), &context)
        .await;
    redirect(&format!("/deliveries?done={queued}"))
}

#[handler]
async fn notifications(state: State<'_>, request: &Request) -> Response {
    let (operator, session) = match signed_in(&state, request).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    let kept = match state.payments.inbox_size().await {
        Ok(kept) => kept,
        Err(error) => return failed(Some((&operator, csrf)), OperatorError::Unavailable(error.to_string())),
    };
    let spooled = state.spool_waiting.as_ref().map(|waiting| waiting());
    match state.queries.unprocessed_notifications(NOTIFICATIONS).await {
        Ok(rows) => html(StatusCode::OK, pages::notifications(&operator, csrf, kept, spooled, &rows)),
        Err(error) => failed(Some((&operator, csrf)), error.into()),
    }
}

/// The operators page (admin), with what an add or a reset issued, errors or a notice.
async fn operators_page(
    state: &ConsoleState,
    operator: &Operator,
    csrf: &str,
    status: StatusCode,
    issued: Option<&pages::Issued>,
    errors: &[(&str, String)],
    notice: Option<&str>,
) -> Response {
    match state.operators.list().await {
        Ok(all) => html(status, pages::operators(operator, csrf, &all, issued, errors, notice)),
        Err(error) => failed(Some((operator, csrf)), error),
    }
}

#[handler]
async fn operators(state: State<'_>, request: &Request) -> Response {
    let (operator, session) = match viewing(&state, request, Permission::ManageOperators, "manage operators").await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    operators_page(&state, &operator, &session.csrf_token, StatusCode::OK, None, &[], None).await
}

#[derive(Debug, Default, serde::Deserialize)]
struct OperatorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// What an add or a reset answers: the page with what was issued, or the refusal.
async fn issued_answer(
    state: &ConsoleState,
    operator: &Operator,
    csrf: &str,
    result: Result<payments_application::IssuedOperator, OperatorError>,
) -> Response {
    match result {
        Ok(issued) => {
            let shown = pages::Issued {
                name: issued.operator.name.to_string(),
                password: issued.password,
                totp_uri: issued.totp_uri,
            };
            operators_page(state, operator, csrf, StatusCode::OK, Some(&shown), &[], None).await
        }
        Err(OperatorError::Invalid { field, reason }) => {
            operators_page(state, operator, csrf, StatusCode::BAD_REQUEST, None, &[(field, reason)], None).await
        }
        Err(OperatorError::Taken(name)) => {
            let errors = [("name", format!("이미 있는 아이디 an operator named {name} exists"))];
            operators_page(state, operator, csrf, StatusCode::CONFLICT, None, &errors, None).await
        }
        Err(OperatorError::NotFound(name)) => {
            let notice = format!("그런 운영자가 없습니다. No operator {name}.");
            operators_page(state, operator, csrf, StatusCode::NOT_FOUND, None, &[], Some(&notice)).await
        }
        Err(other) => failed(Some((operator, csrf)), other),
    }
}

#[handler]
async fn add_operator(state: State<'_>, request: &Request, Form(form): Form<OperatorForm>) -> Response {
    let (operator, session) =
        match acting(&state, request, &form.csrf, Permission::ManageOperators, "add an operator").await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let csrf = session.csrf_token.as_str();
    let role = match Role::parse(&form.role) {
        Ok(role) => role,
        Err(error) => {
            let errors = [("role", error.to_string())];
            return operators_page(&state, &operator, csrf, StatusCode::BAD_REQUEST, None, &errors, None).await;
        }
    };
    let added = state.operators.add(&form.name, role, None, Some(&operator), &context(request)).await;
    issued_answer(&state, &operator, csrf, added).await
}

#[handler]
async fn reset_operator(state: State<'_>, request: &Request, Form(form): Form<OperatorForm>) -> Response {
    let (operator, session) =
        match acting(&state, request, &form.csrf, Permission::ManageOperators, "reset an operator").await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let reset = state.operators.reset(&form.name, None, Some(&operator), &context(request)).await;
    issued_answer(&state, &operator, &session.csrf_token, reset).await
}

#[handler]
async fn disable_operator(state: State<'_>, request: &Request, Form(form): Form<OperatorForm>) -> Response {
    let (operator, session) =
        match acting(&state, request, &form.csrf, Permission::ManageOperators, "disable an operator").await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let csrf = session.csrf_token.as_str();
    if form.name.trim().eq_ignore_ascii_case(operator.name.as_str()) {
        let notice = "자기 자신은 중지할 수 없습니다. You cannot disable yourself.";
        return operators_page(&state, &operator, csrf, StatusCode::CONFLICT, None, &[], Some(notice)).await;
    }
    match state.operators.disable(&form.name, Some(&operator), &context(request)).await {
        Ok(disabled) => {
            let notice = format!("{} 중지됨. {} is disabled; their sessions ended.", disabled.name, disabled.name);
            operators_page(&state, &operator, csrf, StatusCode::OK, None, &[], Some(&notice)).await
        }
        Err(error) => issued_answer(&state, &operator, csrf, Err(error)).await,
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct SavedCardQuery {
    source_id: Option<String>,
    before: Option<String>,
    done: Option<String>,
}

#[handler]
async fn saved_cards(state: State<'_>, request: &Request, Query(query): Query<SavedCardQuery>) -> Response {
    let (operator, session) = match viewing(&state, request, Permission::Read, "read saved cards").await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    let customer = query.source_id.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
    let before = query.before.as_deref().and_then(record_id::<SavedCardId>);
    let mut rows = match state.queries.search_saved_cards(customer.clone(), before, PAGE + 1).await {
        Ok(rows) => rows,
        Err(error) => return failed(Some((&operator, csrf)), error.into()),
    };
    let more = rows.len() > PAGE as usize;
    rows.truncate(PAGE as usize);
    let next = more.then(|| rows.last()).flatten().map(|last| {
        let mut pairs = vec![("before", last.id.to_string())];
        if let Some(customer) = &customer {
            pairs.push(("source_id", customer.clone()));
        }
        format!("/saved-cards?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
    });
    let notice = query.done.map(|_| "카드를 삭제했습니다. The card is removed.".to_owned());
    let customer = customer.unwrap_or_default();
    html(StatusCode::OK, pages::saved_cards(&operator, csrf, &customer, &rows, next, notice.as_deref()))
}

#[handler]
async fn remove_saved_card(
    state: State<'_>,
    request: &Request,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (operator, session) = match acting(&state, request, &form.csrf, Permission::Refund, "remove a saved card").await
    {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    let not_found = || not_found_page(&operator, csrf, "카드", "card");
    let Some(id) = record_id::<SavedCardId>(&id) else { return not_found() };
    let record = Some(format!("reservation:{id}"));
    let context = context(request);
    match state.payments.remove_saved_card_by_operator(id).await {
        Ok(card) => {
            let said = format!("ok: {} of {}", card.title.as_str(), card.source.id.as_str());
            state.operators.audit(Some(&operator), AuditAction::RemoveSavedCard, record, said, &context).await;
            let customer = serde_urlencoded::to_string([("source_id", card.source.id.as_str())]).unwrap_or_default();
            redirect(&format!("/saved-cards?{customer}&done=removed"))
        }
        Err(error) => {
            let (status, message) = refusal(&error);
            let said = format!("refused: {message}");
            state.operators.audit(Some(&operator), AuditAction::RemoveSavedCard, record, said, &context).await;
            if status == StatusCode::NOT_FOUND {
                return not_found();
            }
            let notice = format!("삭제하지 못했습니다. The card was not removed: {message}");
            html(status, pages::problem(Some((&operator, csrf)), &status.as_u16().to_string(), &notice))
        }
    }
}

#[handler]
async fn reconcile_page(state: State<'_>, request: &Request) -> Response {
    let (operator, session) = match viewing(&state, request, Permission::Reconcile, "see the reconciler").await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let run = state.reconcile_run.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let last = state.payments.last_reconciliation();
    let page = pages::reconcile(&operator, &session.csrf_token, last, run.as_ref(), state.reconcile_window, None);
    html(StatusCode::OK, page)
}

#[handler]
async fn reconcile_now(state: State<'_>, request: &Request, Form(form): Form<CsrfForm>) -> Response {
    let (operator, session) =
        match acting(&state, request, &form.csrf, Permission::Reconcile, "run the reconciler").await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let context = context(request);
    {
        let mut run = state.reconcile_run.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if run.as_ref().is_some_and(|r| r.finished.is_none()) {
            let current = run.clone();
            drop(run);
            let notice = Some("이미 실행 중입니다. A run is already in progress.");
            let last = state.payments.last_reconciliation();
            let window = state.reconcile_window;
            let page = pages::reconcile(&operator, &session.csrf_token, last, current.as_ref(), window, notice);
            return html(StatusCode::CONFLICT, page);
        }
        *run = Some(ReconcileRun { by: operator.name.to_string(), started_at: chrono::Utc::now(), finished: None });
    }
    state.operators.audit(Some(&operator), AuditAction::Reconcile, None, "ok: started".into(), &context).await;
    // The run outlives this request (a page reloads to follow it).
    let state = Arc::clone(&state);
    tokio::spawn(async move {
        let window = chrono::Duration::from_std(state.reconcile_window).unwrap_or(chrono::Duration::days(7));
        let options = payments_application::ReconcileOptions {
            since: payments_domain::to_millis(chrono::Utc::now() - window),
            dry_run: false,
            limit: 100_000,
            pace: state.reconcile_pace,
        };
        let outcome = state.payments.reconcile(options).await.map_err(|e| e.to_string());
        let said = match &outcome {
            Ok(report) => format!(
                "ok: checked {} drifted {} fixed {} failed {}",
                report.checked, report.drifted, report.fixed, report.failed
            ),
            Err(error) => format!("failed: {error}"),
        };
        state.operators.audit(Some(&operator), AuditAction::Reconcile, None, said, &context).await;
        let mut run = state.reconcile_run.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(run) = run.as_mut() {
            run.finished = Some((chrono::Utc::now(), outcome));
        }
    });
    redirect("/reconcile")
}

#[handler]
async fn clients_page(state: State<'_>, request: &Request, Query(query): Query<NoticeQuery>) -> Response {
    let (operator, session) = match viewing(&state, request, Permission::ManageOperators, "see the clients").await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let csrf = session.csrf_token.as_str();
    match state.clients.list().await {
        Ok(all) => {
            let notice = query.done.map(|_| "클라이언트를 폐기했습니다. The client is revoked: its key answers 401.");
            html(StatusCode::OK, pages::clients(&operator, csrf, &all, notice))
        }
        Err(error) => failed(Some((&operator, csrf)), OperatorError::Unavailable(error.to_string())),
    }
}

#[handler]
async fn revoke_client(
    state: State<'_>,
    request: &Request,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (operator, session) =
        match acting(&state, request, &form.csrf, Permission::ManageOperators, "revoke a client").await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let csrf = session.csrf_token.as_str();
    let not_found = || not_found_page(&operator, csrf, "클라이언트", "client");
    let Some(id) = record_id::<payments_domain::ClientId>(&id) else { return not_found() };
    let record = Some(format!("client:{id}"));
    let context = context(request);
    match state.clients.revoke(id).await {
        Ok(_) => {
            state.operators.audit(Some(&operator), AuditAction::ClientRevoked, record, "ok".into(), &context).await;
            redirect("/clients?done=revoked")
        }
        Err(error) => {
            let (status, message) = refusal(&error);
            let said = format!("refused: {message}");
            state.operators.audit(Some(&operator), AuditAction::ClientRevoked, record, said, &context).await;
            if status == StatusCode::NOT_FOUND {
                return not_found();
            }
            html(status, pages::problem(Some((&operator, csrf)), &status.as_u16().to_string(), &message))
        }
    }
}
