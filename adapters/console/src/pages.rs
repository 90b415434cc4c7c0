//! The console's pages: server-rendered HTML (maud escapes every value),
//! readable without JavaScript, labelled in Korean and English, with forms
//! a keyboard and a screen reader can use.

use maud::{DOCTYPE, Markup, html};
use payments_application::ports::{
    FeedDelivery, NotificationRow, OutboxStats, PaymentRow, PaymentStateFilter, SavedCardRow, SearchTotals,
    TimelineEvent, UndeliveredRow,
};
use payments_domain::{AuditEntry, Currency, Money, Operator, PaymentHistory, Permission, Role, Timestamp, VendorCode};

/// The style sheet, served from the binary (no CDN).
pub const CSS: &str = include_str!("console.css");

/// A label in both languages.
fn label(ko: &str, en: &str) -> Markup {
    html! { (ko) " " span.en { (en) } }
}

/// `amount` in `currency`, grouped by thousands, with the currency's minor digits.
pub fn money(amount: Money, currency: &Currency) -> String {
    let digits = currency.exponent().unwrap_or(2);
    let text = format!("{:.*}", digits as usize, amount.amount());
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let (sign, whole) = whole.strip_prefix('-').map_or(("", whole), |w| ("-", w));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction} {}", currency.as_str()),
        None => format!("{sign}{grouped} {}", currency.as_str()),
    }
}

fn time(at: Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn state_label(state: PaymentStateFilter) -> Markup {
    match state {
        PaymentStateFilter::Paid => label("결제 완료", "paid"),
        PaymentStateFilter::AwaitingPayment => label("결제 대기", "awaiting payment"),
        PaymentStateFilter::PartlyRefunded => label("부분 환불", "partly refunded"),
        PaymentStateFilter::Refunded => label("전액 환불", "refunded"),
    }
}

/// The frame of every page: the operator, the navigation their role allows,
/// the sign-out form (with its CSRF token).
pub fn layout(title: &str, signed_in: Option<(&Operator, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ko" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · payments console" }
                link rel="stylesheet" href="/static/console.css";
            }
            body {
                a.skip href="#main" { "본문으로 Skip to content" }
                header {
                    strong { "payments console" }
                    @if let Some((operator, csrf)) = signed_in {
                        nav aria-label="Console" {
                            a href="/payments" { (label("결제", "Payments")) }
                            a href="/saved-cards" { (label("저장 카드", "Saved cards")) }
                            a href="/deliveries" { (label("웹훅 전송", "Deliveries")) }
                            a href="/notifications" { (label("PG 알림", "PG notifications")) }
                            @if operator.role.allows(Permission::ManageOperators) {
                                a href="/operators" { (label("운영자", "Operators")) }
                            }
                            @if operator.role.allows(Permission::ManageOperators) {
                                a href="/clients" { (label("클라이언트", "Clients")) }
                            }
                            @if operator.role.allows(Permission::Reconcile) {
                                a href="/reconcile" { (label("대사", "Reconciler")) }
                            }
                            @if operator.role.allows(Permission::ReadAudit) {
                                a href="/audit" { (label("감사 기록", "Audit log")) }
                            }
                        }
                        form.signout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            span { (operator.name.as_str()) " (" (operator.role.as_str()) ")" }
                            button type="submit" { (label("로그아웃", "Sign out")) }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// The sign-in form; `notice` says why they are here (signed out when idle,
/// a refused sign-in).
/// `csrf`: the token the form sends back beside its cookie.
pub fn login(notice: Option<&str>, name: &str, csrf: &str) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { (label("로그인", "Sign in")) }
            @if let Some(notice) = notice {
                p.notice role="alert" { (notice) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                p {
                    label for="name" { (label("아이디", "Name")) }
                    input id="name" name="name" autocomplete="username" required value=(name) autofocus;
                }
                p {
                    label for="password" { (label("비밀번호", "Password")) }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                }
                p {
                    label for="code" { (label("인증 코드", "Code")) }
                    input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}"
                        aria-describedby="code-help";
                    small id="code-help" { "지원·관리자는 인증 앱의 6자리 코드 Support and admin: the 6-digit code of your authenticator app" }
                }
                button type="submit" { (label("로그인", "Sign in")) }
            }
        },
    )
}

/// What the search form holds (as typed) and the errors of its fields.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct SearchFields {
    #[serde(default)]
    pub source_id: String,
    #[serde(default)]
    pub order_id: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub vendor: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub min: String,
    #[serde(default)]
    pub max: String,
    #[serde(default)]
    pub before: String,
}

impl SearchFields {
    /// The query string of this search, for the next page's link.
    pub fn next_page(&self, before: &str) -> String {
        let fields = [
            ("source_id", &self.source_id),
            ("order_id", &self.order_id),
            ("uid", &self.uid),
            ("vendor", &self.vendor),
            ("state", &self.state),
            ("from", &self.from),
            ("to", &self.to),
            ("min", &self.min),
            ("max", &self.max),
        ];
        let mut pairs: Vec<(&str, &str)> =
            fields.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (*k, v.as_str())).collect();
        pairs.push(("before", before));
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// The message of field `id`, if it has one.
fn field_error<'a>(errors: &'a [(&str, String)], id: &str) -> Option<&'a String> {
    errors.iter().find(|(f, _)| *f == id).map(|(_, e)| e)
}

/// The message of field `id` beside it (`{id}-error`, announced), or nothing.
fn error_of(errors: &[(&str, String)], id: &str) -> Markup {
    html! {
        @if let Some(error) = field_error(errors, id) {
            span.error id={ (id) "-error" } role="alert" { (error) }
        }
    }
}

fn field(id: &str, ko: &str, en: &str, value: &str, errors: &[(&str, String)], input_type: &str) -> Markup {
    let error = field_error(errors, id);
    let error_id = format!("{id}-error");
    html! {
        p {
            label for=(id) { (label(ko, en)) }
            input id=(id) name=(id) type=(input_type) value=(value)
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())];
            (error_of(errors, id))
        }
    }
}

/// The payments search: the form, its errors, the page of results and its totals.
pub fn payments(
    operator: &Operator,
    csrf: &str,
    fields: &SearchFields,
    errors: &[(&str, String)],
    rows: &[PaymentRow],
    totals: &SearchTotals,
    more: bool,
) -> Markup {
    let vendors = [VendorCode::Iamport, VendorCode::TossPayments, VendorCode::PortOne];
    layout(
        "Payments",
        Some((operator, csrf)),
        html! {
            h1 { (label("결제 찾기", "Find payments")) }
            form.search method="get" action="/payments" role="search" {
                (field("source_id", "주문 번호", "Order (source.id)", &fields.source_id, errors, "text"))
                (field("order_id", "PG 주문 ID", "PG order id", &fields.order_id, errors, "text"))
                (field("uid", "PG 결제 ID", "PG payment id", &fields.uid, errors, "text"))
                p {
                    label for="vendor" { (label("PG", "Vendor")) }
                    select id="vendor" name="vendor" aria-describedby=[field_error(errors, "vendor").map(|_| "vendor-error")] {
                        option value="" { "—" }
                        @for vendor in vendors {
                            option value=(vendor.as_str()) selected[fields.vendor == vendor.as_str()] { (vendor.as_str()) }
                        }
                    }
                    (error_of(errors, "vendor"))
                }
                p {
                    label for="state" { (label("상태", "State")) }
                    select id="state" name="state" aria-describedby=[field_error(errors, "state").map(|_| "state-error")] {
                        option value="" { "—" }
                        @for state in PaymentStateFilter::ALL {
                            option value=(state.as_str()) selected[fields.state == state.as_str()] { (state_label(state)) }
                        }
                    }
                    (error_of(errors, "state"))
                }
                (field("from", "시작일", "From (YYYY-MM-DD)", &fields.from, errors, "date"))
                (field("to", "종료일", "To (YYYY-MM-DD)", &fields.to, errors, "date"))
                (field("min", "최소 금액", "Least amount", &fields.min, errors, "text"))
                (field("max", "최대 금액", "Most amount", &fields.max, errors, "text"))
                button type="submit" { (label("찾기", "Search")) }
            }
            @if errors.is_empty() {
                (results(rows, totals, fields, more))
            }
        },
    )
}

fn results(rows: &[PaymentRow], totals: &SearchTotals, fields: &SearchFields, more: bool) -> Markup {
    html! {
        @if rows.is_empty() {
            p { (label("찾은 결제가 없습니다.", "No payment matches.")) }
        } @else {
            table {
                caption {
                    (label("결제", "Payments")) " " (totals.count)
                }
                thead {
                    tr {
                        th scope="col" { (label("등록", "Registered")) }
                        th scope="col" { (label("주문", "Order")) }
                        th scope="col" { "PG" }
                        th scope="col" { (label("금액", "Amount")) }
                        th scope="col" { (label("환불", "Refunded")) }
                        th scope="col" { (label("상태", "State")) }
                    }
                }
                tbody {
                    @for row in rows {
                        tr {
                            td { (time(row.created_at)) }
                            td { a href={ "/payments/" (row.id) } { (row.source.id.as_str()) } }
                            td { (row.vendor.code.as_str()) " " (row.vendor.uid.as_str()) }
                            td.amount { (money(row.price, &row.currency)) }
                            td.amount { (money(row.refund, &row.currency)) }
                            td { (state_label(PaymentStateFilter::of(row.price, row.refund, row.paid_at.is_some()))) }
                        }
                    }
                }
                tfoot {
                    @for (currency, price, refund) in &totals.per_currency {
                        tr {
                            th scope="row" colspan="3" { (label("검색 결과 합계", "Total of the result")) }
                            td.amount { (money(*price, currency)) }
                            td.amount { (money(*refund, currency)) }
                            td {}
                        }
                    }
                }
            }
            @if more {
                @if let Some(last) = rows.last() {
                    p { a rel="next" href={ "/payments?" (fields.next_page(&last.id.to_string())) } { (label("다음", "Next page")) } }
                }
            }
        }
    }
}

fn delivery_label(delivery: FeedDelivery) -> Markup {
    match delivery {
        FeedDelivery::Pending => label("전송 대기", "pending"),
        FeedDelivery::Retrying { attempts } => html! { (label("재시도 중", "retrying")) " (" (attempts) ")" },
        FeedDelivery::Delivered => label("전달됨", "delivered"),
        FeedDelivery::Failed => label("실패", "failed"),
        FeedDelivery::Settled => label("완료(기록 정리됨)", "settled (record purged)"),
    }
}

/// What caused an event, from its trigger: our cancel API, the reconciler,
/// an operator's re-read, an order's completion, a saved-card charge, or a
/// PG's notification (its own event name).
fn cause(event: &payments_domain::WebhookEvent) -> Markup {
    let trigger = event.trigger();
    let text = |key: &str| trigger.get(key).and_then(serde_json::Value::as_str);
    let by = text("by");
    let what = match text("type") {
        Some("cancel") => label("취소 요청", "cancel request"),
        Some("reconcile") => label("대사", "reconciler"),
        Some("reread") => label("PG에서 다시 읽기", "re-read from the PG"),
        Some("order_completed") => label("주문 완료", "order completed"),
        Some("charge_recorded") => label("저장 카드 결제", "saved-card charge"),
        other => {
            // A PG's own notification: PortOne's `type`, Toss's `eventType`, Iamport's `status`.
            let name = other.or(text("eventType")).or(text("status")).unwrap_or("-");
            html! { (label("PG 알림", "PG notification")) " " code { (name) } }
        }
    };
    html! {
        (what)
        @if let Some(by) = by { " (" (by) ")" }
    }
}

/// What the payment page's action forms hold: a fresh idempotency key per
/// page shown (a form sent twice refunds once), what was typed, each bad
/// field's message, and the outcome of the last action.
#[derive(Debug, Default, Clone)]
pub struct Actions {
    pub key: String,
    pub amount: String,
    pub reason: String,
    pub notice: Option<String>,
    pub errors: Vec<(&'static str, String)>,
}

/// The refund form (support and admin): the amount, the reason, a refund
/// account for virtual accounts, the balance the operator saw (a payment
/// that changed since refuses the form).
fn refund_form(history: &PaymentHistory, csrf: &str, actions: &Actions) -> Markup {
    let errors = &actions.errors;
    html! {
        form.action method="post" action={ "/payments/" (history.id()) "/refund" } {
            h3 { (label("환불", "Refund")) }
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="key" value=(actions.key);
            input type="hidden" name="seen_refund" value=(history.refund().amount().to_string());
            (field("amount", "환불 금액", "Amount to refund", &actions.amount, errors, "text"))
            (field("reason", "사유", "Reason", &actions.reason, errors, "text"))
            details {
                summary { (label("환불 계좌 (가상계좌)", "Refund account (virtual accounts)")) }
                (field("bank", "은행 코드", "Bank code", "", errors, "text"))
                (field("account", "계좌 번호", "Account number", "", errors, "text"))
                (field("holder", "예금주", "Holder", "", errors, "text"))
                (field("mobile", "연락처", "Mobile", "", errors, "text"))
            }
            button type="submit" { (label("환불하기", "Refund")) }
        }
    }
}

/// Re-read the payment at its PG now (support and admin).
fn reread_form(history: &PaymentHistory, csrf: &str) -> Markup {
    html! {
        form.action method="post" action={ "/payments/" (history.id()) "/reread" } {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { (label("PG에서 다시 읽기", "Re-read from the PG now")) }
        }
    }
}

/// A payment: its amounts, identifiers and cancels, and one timeline of its
/// registration, changes and their deliveries; the actions the operator's
/// role allows.
pub fn payment(
    operator: &Operator,
    csrf: &str,
    history: &PaymentHistory,
    timeline: &[TimelineEvent],
    done_by_operators: &[AuditEntry],
    actions: &Actions,
) -> Markup {
    let currency = history.currency();
    let can_act = operator.role.allows(Permission::Refund);
    let state = PaymentStateFilter::of(history.price(), history.refund(), history.paid_at().is_some());
    layout(
        "Payment",
        Some((operator, csrf)),
        html! {
            h1 { (label("결제", "Payment")) " " (history.source().id.as_str()) }
            @if let Some(notice) = &actions.notice {
                p.notice role="status" { (notice) }
            }
            dl.facts {
                dt { (label("상태", "State")) } dd { (state_label(state)) }
                dt { (label("금액", "Amount")) } dd.amount { (money(history.price(), currency)) }
                dt { (label("환불", "Refunded")) } dd.amount { (money(history.refund(), currency)) }
                dt { (label("남은 금액", "Remaining")) } dd.amount { (money(history.remaining(), currency)) }
                dt { "PG" } dd { (history.vendor().code.as_str()) " · " (history.vendor().store_id.as_str()) }
                dt { (label("PG 결제 ID", "PG payment id")) } dd { code { (history.vendor().uid.as_str()) } }
                @if let Some(order) = history.order_id() {
                    dt { (label("PG 주문 ID", "PG order id")) } dd { code { (order.as_str()) } }
                }
                dt { (label("출처", "Source")) }
                dd { code { (history.source().schema.as_str()) "/" (history.source().table.as_str()) "/" (history.source().id.as_str()) } }
                dt { (label("클라이언트", "Client")) }
                dd { @if history.identity().client.is_legacy() { "legacy" } @else { (history.identity().client) } }
                dt { (label("등록", "Registered")) } dd { (time(history.created_at())) }
                @if let Some(paid) = history.paid_at() { dt { (label("결제 시각", "Paid")) } dd { (time(paid)) } }
            }
            h2 { (label("취소", "Cancels")) }
            @if history.cancels().is_empty() && history.pending_cancels().is_empty() {
                p { (label("취소가 없습니다.", "None.")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (label("시각", "When")) }
                        th scope="col" { (label("금액", "Amount")) }
                        th scope="col" { (label("사유", "Reason")) }
                        th scope="col" { (label("상태", "State")) }
                    } }
                    tbody {
                        @for cancel in history.cancels() {
                            tr { td { (time(cancel.created_at)) } td.amount { (money(cancel.price, currency)) }
                                 td { (cancel.reason.as_str()) } td { (label("완료", "done")) } }
                        }
                        @for cancel in history.pending_cancels() {
                            tr { td { (time(cancel.created_at)) } td.amount { (money(cancel.price, currency)) }
                                 td { (cancel.reason.as_str()) } td { (label("PG 처리 중", "pending at the PG")) } }
                        }
                    }
                }
            }
            @if can_act {
                @if history.remaining() > Money::ZERO {
                    (refund_form(history, csrf, actions))
                }
                (reread_form(history, csrf))
            }
            h2 { (label("타임라인", "Timeline")) }
            @if !done_by_operators.is_empty() {
                h3 { (label("운영자 작업", "What operators did")) }
                ul.operator-actions {
                    @for entry in done_by_operators {
                        li { time { (time(entry.at)) } " " (entry.actor) ": " (entry.action.as_str()) " — " (entry.outcome) }
                    }
                }
            }
            ol.timeline {
                li { time { (time(history.created_at())) } " " (label("등록", "registered")) }
                @for item in timeline {
                    li {
                        time { (time(item.event.created_at())) } " "
                        @if item.event.previous().is_none() { (label("기록됨", "recorded")) } @else { (label("변경", "changed")) }
                        ": " (cause(&item.event)) " → "
                        (money(item.event.current().refund(), currency)) " " (label("환불", "refunded")) " · "
                        (label("웹훅", "webhook")) " " (delivery_label(item.delivery))
                        @if can_act {
                            form.inline method="post" action={ "/events/" (item.event.id()) "/redeliver" } {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { (label("다시 보내기", "Redeliver")) }
                            }
                        }
                        @if !item.attempts.is_empty() {
                            ul.attempts {
                                @for attempt in &item.attempts {
                                    li { (time(attempt.at)) " "
                                        @match attempt.status {
                                            Some(status) => { "HTTP " (status) }
                                            None => { (label("연결 실패", "unreachable")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// One target host's undelivered events.
pub struct HostGroup<'a> {
    pub host: String,
    pub pending: usize,
    pub failed: usize,
    pub oldest: Timestamp,
    pub rows: Vec<&'a UndeliveredRow>,
}

/// The deliveries: the queue's counts, and the events not delivered grouped
/// by their receiver's host (support redelivers the failed ones of a host).
pub fn deliveries(
    operator: &Operator,
    csrf: &str,
    stats: &OutboxStats,
    groups: &[HostGroup<'_>],
    notice: Option<&str>,
) -> Markup {
    let can_act = operator.role.allows(Permission::Redeliver);
    layout(
        "Deliveries",
        Some((operator, csrf)),
        html! {
            h1 { (label("웹훅 전송", "Webhook deliveries")) }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            dl.facts {
                dt { (label("대기", "Pending")) } dd { (stats.pending) }
                dt { (label("재시도 중", "Retrying")) } dd { (stats.retrying) }
                dt { (label("실패", "Failed")) } dd { (stats.failed) }
                dt { (label("가장 오래 대기", "Oldest pending")) }
                dd { @match stats.oldest_pending_age { Some(age) => { (age.as_secs()) " s" } None => { "—" } } }
            }
            @if groups.is_empty() {
                p { (label("보내지 못한 웹훅이 없습니다.", "Every webhook was delivered.")) }
            }
            @for group in groups {
                section {
                    h2 { code { (group.host) } }
                    p {
                        (label("대기", "pending")) " " (group.pending) " · " (label("실패", "failed")) " " (group.failed)
                        " · " (label("가장 오래된 이벤트", "oldest event")) " " (time(group.oldest))
                    }
                    @if can_act && group.failed > 0 {
                        form.action method="post" action="/deliveries/redeliver" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="host" value=(group.host);
                            button type="submit" { (label("실패한 웹훅 모두 다시 보내기", "Redeliver every failed one")) }
                        }
                    }
                    table {
                        thead { tr {
                            th scope="col" { (label("이벤트", "Event")) }
                            th scope="col" { (label("주문", "Order")) }
                            th scope="col" { (label("상태", "State")) }
                            th scope="col" { (label("시도", "Attempts")) }
                            th scope="col" { (label("다음 시도", "Next attempt")) }
                        } }
                        tbody {
                            @for row in &group.rows {
                                tr {
                                    td { code { (row.event) } }
                                    td { a href={ "/payments/" (row.history) } { (row.source_id) } }
                                    td { @if row.failed { (label("실패", "failed")) } @else { (label("대기", "pending")) } }
                                    td { (row.attempts) }
                                    td { @if row.failed { "—" } @else { (time(row.due_at)) } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Saved cards, by customer: their title, PG and state (never their PG
/// key); support removes one (at the PG, where it offers that, and here).
pub fn saved_cards(
    operator: &Operator,
    csrf: &str,
    customer: &str,
    rows: &[SavedCardRow],
    next: Option<String>,
    notice: Option<&str>,
) -> Markup {
    let can_remove = operator.role.allows(Permission::Refund);
    layout(
        "Saved cards",
        Some((operator, csrf)),
        html! {
            h1 { (label("저장 카드", "Saved cards")) }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            form.search method="get" action="/saved-cards" role="search" {
                (field("source_id", "고객 번호", "Customer (source.id)", customer, &[], "text"))
                button type="submit" { (label("찾기", "Search")) }
            }
            @if rows.is_empty() {
                p { (label("찾은 카드가 없습니다.", "No saved card matches.")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (label("등록", "Saved")) }
                        th scope="col" { (label("고객", "Customer")) }
                        th scope="col" { (label("이름", "Title")) }
                        th scope="col" { "PG" }
                        th scope="col" { (label("상태", "State")) }
                        @if can_remove { th scope="col" { (label("작업", "Action")) } }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { (time(row.created_at)) }
                                td { code { (row.source.schema.as_str()) "/" (row.source.table.as_str()) "/" (row.source.id.as_str()) } }
                                td { (row.title) }
                                td { (row.vendor.as_str()) " · " (row.store_id) }
                                td { @match row.removed_at { Some(at) => { (label("삭제됨", "removed")) " " (time(at)) } None => { (label("사용 중", "active")) } } }
                                @if can_remove {
                                    td {
                                        @if row.removed_at.is_none() {
                                            form.inline method="post" action={ "/saved-cards/" (row.id) "/remove" } {
                                                input type="hidden" name="csrf" value=(csrf);
                                                button type="submit" { (label("삭제", "Remove")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = next {
                    p { a rel="next" href=(next) { (label("다음", "Next page")) } }
                }
            }
        },
    )
}

fn report_facts(report: &payments_application::ReconcileReport) -> Markup {
    html! {
        dl.facts {
            dt { (label("확인", "Checked")) } dd { (report.checked) }
            dt { (label("차이", "Drifted")) } dd { (report.drifted) }
            dt { (label("반영", "Fixed")) } dd { (report.fixed) }
            dt { (label("실패", "Failed")) } dd { (report.failed) }
            dt { (label("미확정 취소 정리", "Cancels settled")) } dd { (report.intents.settled) " / " (report.intents.checked) }
            dt { (label("주문 완료", "Orders completed")) } dd { (report.orders.completed) " / " (report.orders.checked) }
        }
    }
}

/// The reconciler (admin): the last run on this instance and the run an
/// admin started here, followed by reloading while it runs.
pub fn reconcile(
    operator: &Operator,
    csrf: &str,
    last: Option<(Timestamp, payments_application::ReconcileReport)>,
    run: Option<&crate::ReconcileRun>,
    window: std::time::Duration,
    notice: Option<&str>,
) -> Markup {
    let running = run.is_some_and(|r| r.finished.is_none());
    let body = html! {
        h1 { (label("대사", "Reconciler")) }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        p {
            (label("결제되지 않은 모든 결제와 최근 변경된 결제를 PG에서 다시 읽어 차이를 기록합니다.",
                   "Re-reads at their PG every payment not paid yet and those changed in the last"))
            " " (window.as_secs() / 3600) " h."
        }
        @if let Some(run) = run {
            section {
                h2 { (label("콘솔에서 시작한 실행", "Run started from the console")) }
                p { (run.by) " · " (time(run.started_at)) }
                @match &run.finished {
                    None => {
                        p role="status" aria-live="polite" {
                            (label("실행 중", "Running")) ": "
                            (chrono::Utc::now().signed_duration_since(run.started_at).num_seconds()) " s "
                            (label("(이 페이지는 2초마다 새로 고침됩니다)", "(this page reloads every 2 s)"))
                        }
                    }
                    Some((at, Ok(report))) => { p { (label("완료", "Finished")) " " (time(*at)) } (report_facts(report)) }
                    Some((at, Err(error))) => { p.notice role="alert" { (label("실패", "Failed")) " " (time(*at)) ": " (error) } }
                }
            }
        }
        @if let Some((at, report)) = last {
            section {
                h2 { (label("이 서버의 마지막 실행", "Last run on this instance")) }
                p { (time(at)) }
                (report_facts(&report))
            }
        }
        @if !running {
            form.action method="post" action="/reconcile" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { (label("지금 실행", "Run now")) }
            }
        }
    };
    let page = layout("Reconciler", Some((operator, csrf)), body);
    if !running {
        return page;
    }
    // While it runs, the page reloads itself (no script: a meta refresh).
    let text = page.into_string().replacen("<head>", "<head><meta http-equiv=\"refresh\" content=\"2\">", 1);
    maud::PreEscaped(text)
}

/// The backends' clients (admin): who calls with which scopes; revoke one.
/// No key or secret is shown (they were shown once, by the command line).
pub fn clients(operator: &Operator, csrf: &str, all: &[payments_domain::Client], notice: Option<&str>) -> Markup {
    layout(
        "Clients",
        Some((operator, csrf)),
        html! {
            h1 { (label("클라이언트", "Clients")) }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            p { (label("추가와 키 교체는 명령줄에서 합니다", "Add clients and rotate their keys on the command line:")) " " code { "payments clients" } }
            @if all.is_empty() {
                p { (label("클라이언트가 없습니다 (레거시 키만 사용).", "No client: every backend uses the legacy key.")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (label("이름", "Name")) }
                        th scope="col" { "ID" }
                        th scope="col" { (label("권한", "Scopes")) }
                        th scope="col" { (label("본문", "Bodies")) }
                        th scope="col" { (label("만든 시각", "Created")) }
                        th scope="col" { (label("상태", "State")) }
                    } }
                    tbody {
                        @for client in all {
                            tr {
                                td { (client.name.as_str()) }
                                td { code { (client.id) } }
                                td { (client.scopes.to_text()) }
                                td { @if client.plain_json { "JSON" } @else { "AES" } }
                                td { (time(client.created_at)) }
                                td {
                                    @match client.revoked_at {
                                        Some(at) => { (label("폐기됨", "revoked")) " " (time(at)) }
                                        None => {
                                            form.inline method="post" action={ "/clients/" (client.id) "/revoke" } {
                                                input type="hidden" name="csrf" value=(csrf);
                                                button type="submit" { (label("폐기", "Revoke")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The PG notifications not processed yet or given up, and the inbox's size.
/// `spooled`: bytes waiting in this instance's spool (`None`: no spool).
pub fn notifications(
    operator: &Operator,
    csrf: &str,
    kept: u64,
    spooled: Option<u64>,
    rows: &[NotificationRow],
) -> Markup {
    layout(
        "PG notifications",
        Some((operator, csrf)),
        html! {
            h1 { (label("PG 알림", "PG notifications")) }
            p { (label("보관 중인 알림", "Notifications kept")) " " (kept) }
            p {
                (label("이 인스턴스의 스풀", "This instance's spool")) " "
                @match spooled {
                    Some(0) => (label("비어 있음", "empty")),
                    Some(bytes) => (label(
                        &format!("{bytes} 바이트 대기 (데이터베이스가 응답하면 옮겨짐)"),
                        &format!("{bytes} bytes waiting (moved into the database once it answers)"),
                    )),
                    None => (label("없음 (PG에 503 응답)", "none (the PG is answered 503)")),
                }
            }
            @if rows.is_empty() {
                p { (label("처리 대기 또는 실패한 알림이 없습니다.", "None pending or failed.")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (label("받은 시각", "Received")) }
                        th scope="col" { "PG" }
                        th scope="col" { (label("상태", "State")) }
                        th scope="col" { (label("시도", "Attempts")) }
                        th scope="col" { (label("마지막 오류", "Last error")) }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { (time(row.received_at)) }
                                td { (row.vendor.as_str()) }
                                td { (row.state) }
                                td { (row.attempts) }
                                td { (row.last_error.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// What the operators page shows once after an add or a reset.
pub struct Issued {
    pub name: String,
    pub password: String,
    pub totp_uri: Option<String>,
}

/// The operators (admin): who they are, add one, disable or reset one.
pub fn operators(
    operator: &Operator,
    csrf: &str,
    all: &[Operator],
    issued: Option<&Issued>,
    errors: &[(&str, String)],
    notice: Option<&str>,
) -> Markup {
    let roles = [Role::Viewer, Role::Support, Role::Admin];
    layout(
        "Operators",
        Some((operator, csrf)),
        html! {
            h1 { (label("운영자", "Operators")) }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            @if let Some(issued) = issued {
                section.issued role="status" {
                    h2 { (issued.name) ": " (label("지금 전달하세요 (다시 표시되지 않음)", "give these now; they are not shown again")) }
                    dl.facts {
                        dt { (label("비밀번호", "Password")) } dd { code { (issued.password) } }
                        @if let Some(uri) = &issued.totp_uri {
                            dt { "TOTP" } dd { code { (uri) } }
                        }
                    }
                }
            }
            table {
                thead { tr {
                    th scope="col" { (label("아이디", "Name")) }
                    th scope="col" { (label("역할", "Role")) }
                    th scope="col" { (label("만든 시각", "Created")) }
                    th scope="col" { (label("상태", "State")) }
                    th scope="col" { (label("작업", "Actions")) }
                } }
                tbody {
                    @for other in all {
                        tr {
                            td { (other.name.as_str()) }
                            td { (other.role.as_str()) }
                            td { (time(other.created_at)) }
                            td { @match other.disabled_at { Some(at) => { (label("중지", "disabled")) " " (time(at)) } None => { (label("사용 중", "active")) } } }
                            td {
                                @if other.is_active() && other.id != operator.id {
                                    form.inline method="post" action="/operators/disable" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="name" value=(other.name.as_str());
                                        button type="submit" { (label("중지", "Disable")) }
                                    }
                                }
                                form.inline method="post" action="/operators/reset" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="name" value=(other.name.as_str());
                                    button type="submit" { (label("비밀번호 재설정", "Reset")) }
                                }
                            }
                        }
                    }
                }
            }
            form.action method="post" action="/operators" {
                h2 { (label("운영자 추가", "Add an operator")) }
                input type="hidden" name="csrf" value=(csrf);
                (field("name", "아이디", "Name", "", errors, "text"))
                p {
                    label for="role" { (label("역할", "Role")) }
                    select id="role" name="role" {
                        @for role in roles { option value=(role.as_str()) { (role.as_str()) } }
                    }
                    (error_of(errors, "role"))
                }
                button type="submit" { (label("추가", "Add")) }
            }
        },
    )
}

/// The audit trail, newest first.
pub fn audit(operator: &Operator, csrf: &str, entries: &[AuditEntry], more: bool) -> Markup {
    layout(
        "Audit log",
        Some((operator, csrf)),
        html! {
            h1 { (label("감사 기록", "Audit log")) }
            table {
                thead { tr {
                    th scope="col" { (label("시각", "When")) }
                    th scope="col" { (label("누가", "Who")) }
                    th scope="col" { (label("무엇을", "What")) }
                    th scope="col" { (label("대상", "Record")) }
                    th scope="col" { (label("결과", "Outcome")) }
                    th scope="col" { (label("주소", "Address")) }
                    th scope="col" { (label("요청", "Request")) }
                } }
                tbody {
                    @for entry in entries {
                        tr {
                            td { (time(entry.at)) }
                            td { (entry.actor) }
                            td { (entry.action.as_str()) }
                            td { (entry.record.as_deref().unwrap_or("")) }
                            td { (entry.outcome) }
                            td { (entry.address.as_deref().unwrap_or("")) }
                            td { code { (entry.request_id.as_deref().unwrap_or("")) } }
                        }
                    }
                }
            }
            @if more {
                @if let Some(last) = entries.last() {
                    p { a rel="next" href={ "/audit?before=" (last.id) } { (label("이전 기록", "Older")) } }
                }
            }
        },
    )
}

/// A page that says what went wrong (403, 404, 503), in both languages.
pub fn problem(signed_in: Option<(&Operator, &str)>, title: &str, message: &str) -> Markup {
    layout(
        title,
        signed_in,
        html! {
            h1 { (title) }
            p role="alert" { (message) }
            p { a href="/payments" { (label("결제 찾기로", "Back to payments")) } }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_with_the_currencys_digits() {
        let krw = Currency::krw();
        let usd = Currency::parse("USD").unwrap();
        let m = |text: &str| Money::parse_for("price", text).unwrap();
        assert_eq!(money(m("19900"), &krw), "19,900 KRW");
        assert_eq!(money(m("1234567"), &krw), "1,234,567 KRW");
        assert_eq!(money(m("0"), &krw), "0 KRW");
        assert_eq!(money(m("999"), &krw), "999 KRW");
        assert_eq!(money(m("1234.5"), &usd), "1,234.50 USD");
    }

    #[test]
    fn values_are_escaped() {
        let page = login(Some("<script>alert(1)</script>"), "\"><img src=x>", "token-of-the-form");
        let html = page.into_string();
        assert!(html.contains("name=\"csrf\" value=\"token-of-the-form\""), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("\"><img"));
    }
}
