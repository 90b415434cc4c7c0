//! The routes of the fake Iamport. Every handler answers a [`Response`]
//! (never a poem error), so bad input is a 400 envelope, never a 500.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{NaiveDate, Utc};
use payments_domain::{Decimal, Money};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

use super::wire::{
    CardDetails, CertificationAccessor, CertificationConfirm, CertificationCreate, IamportCertification,
    IamportPayment, IamportReceipt, IamportSubscription, IamportUser, IamportWebhook, PaymentBase, PaymentCancel,
    PaymentCancelCreate, PaymentStatus, ReceiptCreate, ReceiptType, SubscriptionAgain, SubscriptionCreate,
    SubscriptionOnetime, UserAccessor, VBankCreate, VBankDetails, VBankUpdate,
};
use super::{CustomerRecord, PaymentRecord, State, TokenRecord, failure, success};

/// A failed request: its status and the envelope's `code` and `message`.
pub(super) struct Fail {
    status: StatusCode,
    code: i64,
    message: String,
}

impl Fail {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn into_response(self) -> Response {
        failure(self.status, self.code, self.message)
    }
}

pub(super) type Reply = Result<Response, Fail>;

pub(super) fn done(reply: Reply) -> Response {
    reply.unwrap_or_else(Fail::into_response)
}

pub(super) fn bad_request(message: impl Into<String>) -> Fail {
    Fail::new(StatusCode::BAD_REQUEST, -1, message)
}

pub(super) fn not_found(message: impl Into<String>) -> Fail {
    Fail::new(StatusCode::NOT_FOUND, 1, message)
}

/// A refusal, as the real PG answers one: HTTP 200, `code` 1.
pub(super) fn refused(message: impl Into<String>) -> Fail {
    Fail::new(StatusCode::OK, 1, message)
}

pub(super) fn now() -> i64 {
    Utc::now().timestamp()
}

pub(super) fn random_digits(count: u32) -> String {
    let upper = 10u64.pow(count.min(18));
    format!("{:0width$}", rand::thread_rng().gen_range(0..upper), width = count as usize)
}

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(super) fn new_imp_uid() -> String {
    format!("imp_{}", random_digits(12))
}

fn receipt_url(imp_uid: &str) -> String {
    format!("https://fake-iamport.invalid/receipts/{imp_uid}")
}

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

/// Largest request body read.
const MAX_BODY: usize = 1024 * 1024;

pub(super) async fn read_body(body: Body) -> Result<Vec<u8>, Fail> {
    let bytes = body.into_bytes_limit(MAX_BODY).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => {
            Fail::new(StatusCode::PAYLOAD_TOO_LARGE, -1, format!("the request body exceeds {MAX_BODY} bytes"))
        }
        other => bad_request(format!("cannot read the request body: {other}")),
    })?;
    let bytes = bytes.to_vec();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad_request("the request body is empty; a JSON object is expected"));
    }
    Ok(bytes)
}

pub(super) async fn read<T: DeserializeOwned>(body: Body) -> Result<T, Fail> {
    let bytes = read_body(body).await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| bad_request(format!("invalid request body: {e}")))?;
    if !value.is_object() {
        return Err(bad_request("invalid request body: invalid type, a JSON object is expected"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            bad_request(format!("invalid request body: {}", e.inner()))
        } else {
            bad_request(format!("invalid request body: {path}: {}", e.inner()))
        }
    })
}

pub(super) fn require(field: &str, value: &str) -> Result<(), Fail> {
    if value.trim().is_empty() {
        return Err(bad_request(format!("{field} must not be empty")));
    }
    if value.chars().count() > 255 {
        return Err(bad_request(format!("{field} must be at most 255 characters")));
    }
    Ok(())
}

pub(super) fn optional(field: &str, value: Option<&String>) -> Result<(), Fail> {
    match value {
        Some(value) if value.chars().count() > 1000 => {
            Err(bad_request(format!("{field} must be at most 1000 characters")))
        }
        _ => Ok(()),
    }
}

pub(super) fn positive(field: &str, amount: Money) -> Result<(), Fail> {
    if amount.is_zero() { Err(bad_request(format!("{field} must be greater than 0"))) } else { Ok(()) }
}

pub(super) fn digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn check_card(
    card_number: &str,
    expiry: &str,
    birth: &str,
    pwd: Option<&String>,
    cvc: Option<&String>,
) -> Result<(), Fail> {
    let groups: Vec<&str> = card_number.split('-').collect();
    if groups.len() != 4 || groups.iter().any(|g| g.len() != 4 || !digits(g)) {
        return Err(bad_request("card_number must look like 0000-0000-0000-0000"));
    }
    let month_ok = expiry.len() == 7
        && expiry.as_bytes()[4] == b'-'
        && digits(&expiry[..4])
        && expiry[5..].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && digits(&expiry[5..]);
    if !month_ok {
        return Err(bad_request("expiry must look like YYYY-MM"));
    }
    let birth_ok = match birth.len() {
        6 => digits(birth) && NaiveDate::parse_from_str(&format!("20{birth}"), "%Y%m%d").is_ok(),
        10 => digits(birth),
        _ => false,
    };
    if !birth_ok {
        return Err(bad_request("birth must be a YYMMDD date or a 10-digit business number"));
    }
    if let Some(pwd) = pwd
        && (pwd.len() != 2 || !digits(pwd))
    {
        return Err(bad_request("pwd_2digit must be two digits"));
    }
    if let Some(cvc) = cvc
        && !(digits(cvc) && (2..=4).contains(&cvc.len()))
    {
        return Err(bad_request("cvc must be 2 to 4 digits"));
    }
    Ok(())
}

pub(super) fn check_url(field: &str, value: Option<&String>) -> Result<(), Fail> {
    match value {
        Some(url) if !url.is_empty() => match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
            _ => Err(bad_request(format!("{field} must be an http(s) URL"))),
        },
        _ => Ok(()),
    }
}

/// The token of a request: the raw `Authorization` value or `Bearer <token>`.
pub(super) fn authorize(state: &State, request: &Request) -> Result<(), Fail> {
    let unauthorized = |message: &str| Fail::new(StatusCode::UNAUTHORIZED, -1, message);
    let header = request
        .headers()
        .get("authorization")
        .ok_or_else(|| unauthorized("Unauthorized: no access token in the Authorization header"))?
        .to_str()
        .map_err(|_| unauthorized("Unauthorized: the Authorization header is not text"))?
        .trim();
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => header,
    };
    match state.tokens.get(&token.to_owned()) {
        Some(record) if record.generation == state.generation.load(Ordering::SeqCst) => Ok(()),
        _ => Err(unauthorized("Unauthorized: the access token is unknown or expired")),
    }
}

// ---------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------

#[handler]
pub(super) async fn get_token(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(issue_token(request, body, &state).await)
}

async fn issue_token(request: &Request, body: Body, state: &State) -> Reply {
    let form = request.content_type().is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let accessor: UserAccessor = if form {
        let bytes = read_body(body).await?;
        let map: serde_json::Map<String, Value> =
            url::form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
        serde_json::from_value(Value::Object(map)).map_err(|e| bad_request(format!("invalid request body: {e}")))?
    } else {
        read(body).await?
    };
    let known = state.credentials.iter().any(|c| c.matches(&accessor.imp_key, &accessor.imp_secret));
    if !known {
        return Err(Fail::new(StatusCode::UNAUTHORIZED, -1, "imp_key and imp_secret do not match"));
    }
    let token = new_id();
    let generation = state.generation.load(Ordering::SeqCst);
    state.tokens.insert(token.clone(), TokenRecord { generation });
    state.tokens_issued.fetch_add(1, Ordering::SeqCst);
    let issued = now();
    let ttl = i64::try_from(state.token_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let user = IamportUser { now: Number::from(issued), expired_at: Number::from(issued + ttl), access_token: token };
    Ok(success(StatusCode::CREATED, user))
}

// ---------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------

fn payment_response(status: StatusCode, payment: &IamportPayment) -> Response {
    match payment.to_value() {
        Ok(value) => success(status, value),
        Err(error) => failure(StatusCode::INTERNAL_SERVER_ERROR, -1, error.to_string()),
    }
}

fn notify(state: &State, notice_url: Option<&str>, payment: &PaymentBase) {
    let hook = IamportWebhook {
        imp_uid: payment.imp_uid.clone(),
        merchant_uid: payment.merchant_uid.clone(),
        status: payment.status.as_str().to_owned(),
        cancellation_id: None,
    };
    let body = serde_json::to_value(&hook).unwrap_or(Value::Null);
    // Detached: the PG does not wait for the receiver.
    drop(state.webhooks.emit(notice_url.filter(|u| !u.is_empty()), body));
}

/// A payment's common fields, freshly started now.
pub(super) fn new_base(
    pay_method: &str,
    merchant_uid: String,
    amount: Money,
    currency: &str,
    status: PaymentStatus,
) -> PaymentBase {
    let imp_uid = new_imp_uid();
    let pg_tid = new_id();
    let started = now();
    PaymentBase {
        pay_method: pay_method.to_owned(),
        receipt_url: receipt_url(&imp_uid),
        imp_uid,
        merchant_uid,
        name: None,
        amount,
        cancel_amount: Money::ZERO,
        currency: currency.to_owned(),
        cash_receipt_issue: false,
        channel: "api".to_owned(),
        pg_provider: "fake".to_owned(),
        emb_pg_provider: None,
        pg_id: "fake-iamport".to_owned(),
        pg_tid,
        escrow: false,
        buyer_name: None,
        buyer_email: None,
        buyer_tel: None,
        buyer_addr: None,
        buyer_postcode: None,
        customer_uid: None,
        customer_uid_usage: None,
        custom_data: None,
        user_agent: Some("fake-iamport".to_owned()),
        status,
        started_at: Number::from(started),
        paid_at: Number::from(if status == PaymentStatus::Paid { started } else { 0 }),
        failed_at: Number::from(0),
        cancelled_at: Number::from(0),
        fail_reason: None,
        cancel_reason: None,
        cancel_history: Vec::new(),
    }
}

/// Stores a new payment, then tells the webhook receiver (so a receiver that
/// re-reads the payment at once finds it); answers it, 201.
fn store_payment(state: &State, payment: IamportPayment, notice_url: Option<String>) -> Response {
    let response = payment_response(StatusCode::CREATED, &payment);
    keep_payment(state, &payment, notice_url);
    response
}

/// Stores a new payment as its order's latest, then sends its webhook
/// (`{imp_uid, merchant_uid, status}`) to `notice_url` or the default URL.
pub(super) fn keep_payment(state: &State, payment: &IamportPayment, notice_url: Option<String>) {
    state.payments.insert(
        payment.base().imp_uid.clone(),
        PaymentRecord { payment: payment.clone(), notice_url: notice_url.clone() },
    );
    state.orders.insert(payment.base().merchant_uid.clone(), payment.base().imp_uid.clone());
    notify(state, notice_url.as_deref(), payment.base());
}

/// `GET /payments/find/{merchant_uid}`: the latest payment of an order; 404 when none.
#[handler]
pub(super) async fn find_payment(
    request: &Request,
    Path(merchant_uid): Path<String>,
    state: Data<&Arc<State>>,
) -> Response {
    done(found_by_order(request, &state, &merchant_uid, None))
}

/// `GET /payments/find/{merchant_uid}/{payment_status}`: the same, only of that status.
#[handler]
pub(super) async fn find_payment_with_status(
    request: &Request,
    Path((merchant_uid, status)): Path<(String, String)>,
    state: Data<&Arc<State>>,
) -> Response {
    done(found_by_order(request, &state, &merchant_uid, Some(&status)))
}

fn found_by_order(
    request: &Request,
    state: &State,
    merchant_uid: &str,
    status: Option<&str>,
) -> Result<Response, Fail> {
    authorize(state, request)?;
    if let Some(status) = status
        && !["ready", "paid", "failed", "cancelled"].contains(&status)
    {
        return Err(bad_request("payment_status must be ready, paid, failed or cancelled"));
    }
    let record = state
        .orders
        .get(&merchant_uid.to_owned())
        .and_then(|imp_uid| state.payments.get(&imp_uid))
        .filter(|record| status.is_none_or(|s| record.payment.base().status.to_string() == s))
        .ok_or_else(|| not_found(format!("no payment of merchant_uid {merchant_uid}")))?;
    Ok(payment_response(StatusCode::OK, &record.payment))
}

#[handler]
pub(super) async fn get_payment(request: &Request, Path(imp_uid): Path<String>, state: Data<&Arc<State>>) -> Response {
    done((|| {
        authorize(&state, request)?;
        if let Some(query) = request.uri().query() {
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                if key == "extension" && value != "true" && value != "false" {
                    return Err(bad_request("extension must be true or false"));
                }
            }
        }
        let record = state.payments.get(&imp_uid).ok_or_else(|| not_found(format!("no payment {imp_uid}")))?;
        Ok(payment_response(StatusCode::OK, &record.payment))
    })())
}

#[handler]
pub(super) async fn cancel_payment(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(cancel(request, body, &state).await)
}

fn blank(value: Option<&String>) -> bool {
    value.is_none_or(|v| v.trim().is_empty())
}

async fn cancel(request: &Request, body: Body, state: &State) -> Reply {
    authorize(state, request)?;
    let input: PaymentCancelCreate = read(body).await?;
    let Some(imp_uid) = input.imp_uid.clone().filter(|u| !u.trim().is_empty()) else {
        return Err(bad_request(if input.merchant_uid.is_some() {
            "imp_uid is required: the fake does not look payments up by merchant_uid"
        } else {
            "imp_uid is required"
        }));
    };
    optional("reason", input.reason.as_ref())?;
    let at = now();
    let outcome = state.payments.update(&imp_uid, |record| {
        let is_vbank = matches!(record.payment, IamportPayment::VBank { .. });
        let base = record.payment.base_mut();
        match base.status {
            PaymentStatus::Paid => {}
            PaymentStatus::Cancelled => return Err(refused("the payment is already cancelled in full")),
            PaymentStatus::Ready => return Err(refused("the payment is not paid yet")),
            PaymentStatus::Failed => return Err(refused("the payment failed; there is nothing to cancel")),
        }
        let remaining = base.amount.checked_sub(base.cancel_amount).unwrap_or(Money::ZERO);
        if let Some(checksum) = input.checksum
            && checksum != remaining
        {
            return Err(refused(format!("checksum {checksum} does not match the cancellable amount {remaining}")));
        }
        let amount = input.amount.filter(|a| !a.is_zero()).unwrap_or(remaining);
        if amount > remaining {
            return Err(refused(format!("the cancel amount {amount} exceeds the cancellable amount {remaining}")));
        }
        if is_vbank
            && (blank(input.refund_holder.as_ref())
                || blank(input.refund_bank.as_ref())
                || blank(input.refund_account.as_ref()))
        {
            return Err(refused("a virtual-account cancel needs refund_holder, refund_bank and refund_account"));
        }
        let Some(cancelled) = base.cancel_amount.checked_add(amount) else {
            return Err(refused("the cancel amount is out of range"));
        };
        let reason = input.reason.clone().unwrap_or_default();
        base.cancel_amount = cancelled;
        base.cancel_reason = Some(reason.clone());
        base.cancelled_at = Number::from(at);
        base.cancel_history.push(PaymentCancel {
            pg_id: base.pg_id.clone(),
            pg_tid: new_id(),
            amount,
            cancelled_at: Number::from(at),
            reason,
            receipt_url: base.receipt_url.clone(),
            cancellation_id: Some(new_id()),
        });
        if cancelled == base.amount {
            base.status = PaymentStatus::Cancelled;
        }
        Ok((record.payment.clone(), record.notice_url.clone()))
    });
    let (payment, notice_url) = outcome.ok_or_else(|| not_found(format!("no payment {imp_uid}")))??;
    notify(state, notice_url.as_deref(), payment.base());
    Ok(payment_response(StatusCode::CREATED, &payment))
}

// ---------------------------------------------------------------------------
// Virtual accounts
// ---------------------------------------------------------------------------

#[handler]
pub(super) async fn create_vbank(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let input: VBankCreate = read(body).await?;
            require("merchant_uid", &input.merchant_uid)?;
            require("vbank_code", &input.vbank_code)?;
            require("vbank_holder", &input.vbank_holder)?;
            positive("amount", input.amount)?;
            if input.vbank_due.as_f64().is_none_or(|due| due <= 0.0) {
                return Err(bad_request("vbank_due must be a positive unix time"));
            }
            check_url("notice_url", input.notice_url.as_ref())?;
            for (field, value) in [("name", &input.name), ("custom_data", &input.custom_data)] {
                optional(field, value.as_ref())?;
            }
            let mut base = new_base("vbank", input.merchant_uid, input.amount, "KRW", PaymentStatus::Ready);
            base.name = input.name;
            base.buyer_name = input.buyer_name;
            base.buyer_email = input.buyer_email;
            base.buyer_tel = input.buyer_tel;
            base.buyer_addr = input.buyer_addr;
            base.buyer_postcode = input.buyer_postcode;
            base.custom_data = input.custom_data;
            if let Some(pg) = input.pg.filter(|p| !p.is_empty()) {
                base.pg_provider = pg;
            }
            let vbank = VBankDetails {
                vbank_name: format!("{} bank", input.vbank_code),
                vbank_code: input.vbank_code,
                vbank_num: random_digits(12),
                vbank_holder: input.vbank_holder,
                vbank_date: input.vbank_due,
                vbank_issued_at: Number::from(now()),
            };
            Ok(store_payment(&state, IamportPayment::VBank { vbank, base }, input.notice_url))
        }
        .await,
    )
}

#[handler]
pub(super) async fn update_vbank(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let input: VBankUpdate = read(body).await?;
            require("imp_uid", &input.imp_uid)?;
            if let Some(amount) = input.amount {
                positive("amount", amount)?;
            }
            if let Some(due) = &input.vbank_due
                && due.as_f64().is_none_or(|d| d <= 0.0)
            {
                return Err(bad_request("vbank_due must be a positive unix time"));
            }
            let outcome = state.payments.update(&input.imp_uid, |record| {
                let IamportPayment::VBank { vbank, base } = &mut record.payment else {
                    return Err(refused("not a virtual-account payment"));
                };
                if base.status != PaymentStatus::Ready {
                    return Err(refused(format!("the virtual account is {}, not ready", base.status)));
                }
                if let Some(amount) = input.amount {
                    base.amount = amount;
                }
                if let Some(due) = input.vbank_due.clone() {
                    vbank.vbank_date = due;
                }
                Ok((record.payment.clone(), record.notice_url.clone()))
            });
            let (payment, notice_url) = outcome.ok_or_else(|| not_found(format!("no payment {}", input.imp_uid)))??;
            notify(&state, notice_url.as_deref(), payment.base());
            Ok(payment_response(StatusCode::OK, &payment))
        }
        .await,
    )
}

#[handler]
pub(super) async fn deposit(request: &Request, Path(imp_uid): Path<String>, state: Data<&Arc<State>>) -> Response {
    done((|| {
        authorize(&state, request)?;
        let refuse = |message: String| Fail::new(StatusCode::UNPROCESSABLE_ENTITY, 1, message);
        let at = now();
        let outcome = state.payments.update(&imp_uid, |record| {
            let IamportPayment::VBank { base, .. } = &mut record.payment else {
                return Err(refuse("not a virtual-account payment".to_owned()));
            };
            if base.status != PaymentStatus::Ready {
                return Err(refuse(format!("the virtual account is {}, not ready", base.status)));
            }
            base.status = PaymentStatus::Paid;
            base.paid_at = Number::from(at);
            Ok((record.payment.clone(), record.notice_url.clone()))
        });
        let (payment, notice_url) = outcome.ok_or_else(|| not_found(format!("no payment {imp_uid}")))??;
        notify(&state, notice_url.as_deref(), payment.base());
        Ok(Response::builder().status(StatusCode::OK).finish())
    })())
}

#[handler]
pub(super) async fn receive_webhook(body: Body) -> Response {
    done(
        async {
            let hook: IamportWebhook = read(body).await?;
            require("imp_uid", &hook.imp_uid)?;
            if !matches!(hook.status.as_str(), "ready" | "paid" | "failed" | "cancelled") {
                return Err(bad_request("status must be one of ready, paid, failed, cancelled"));
            }
            tracing::debug!(imp_uid = %hook.imp_uid, status = %hook.status, "fake Iamport webhook sink");
            Ok(Response::builder().status(StatusCode::CREATED).finish())
        }
        .await,
    )
}

// ---------------------------------------------------------------------------
// Saved cards and card payments
// ---------------------------------------------------------------------------

/// A card number as Iamport answers it: its digits, the first six and the
/// last four shown, the rest starred (`536512******1234`, PortOne V1's
/// documented payment; see tests/data/documented/SOURCES.md).
pub(super) fn mask(card_number: &str) -> String {
    let digits: Vec<char> = card_number.chars().filter(char::is_ascii_digit).collect();
    let shown_after = digits.len().saturating_sub(4);
    digits.iter().enumerate().map(|(i, c)| if i < 6 || i >= shown_after { *c } else { '*' }).collect()
}

pub(super) fn card_details(card_number: &str, quota: Option<i64>) -> CardDetails {
    CardDetails {
        card_code: "361".to_owned(),
        card_name: "Fake Card".to_owned(),
        // Iamport answers the card number masked, as the customer's does.
        card_number: mask(card_number),
        card_quota: quota.unwrap_or(0),
        apply_num: random_digits(8),
    }
}

struct CustomerFields {
    name: Option<String>,
    tel: Option<String>,
    email: Option<String>,
    addr: Option<String>,
    postcode: Option<String>,
}

fn save_customer(state: &State, customer_uid: &str, card_number: &str, fields: CustomerFields) -> IamportSubscription {
    let at = Number::from(now());
    let inserted =
        state.customers.get(&customer_uid.to_owned()).map_or_else(|| at.clone(), |c| c.subscription.inserted);
    let subscription = IamportSubscription {
        pg_provider: "fake".to_owned(),
        pg_id: "fake-iamport".to_owned(),
        card_name: "Fake Card".to_owned(),
        card_code: "361".to_owned(),
        card_number: mask(card_number),
        card_type: "credit".to_owned(),
        customer_name: fields.name,
        customer_tel: fields.tel,
        customer_email: fields.email,
        customer_addr: fields.addr,
        customer_postcode: fields.postcode,
        inserted,
        updated: at,
        customer_uid: customer_uid.to_owned(),
    };
    state.customers.insert(
        customer_uid.to_owned(),
        CustomerRecord { subscription: subscription.clone(), card_number: card_number.to_owned() },
    );
    subscription
}

#[handler]
pub(super) async fn get_customer(
    request: &Request,
    Path(customer_uid): Path<String>,
    state: Data<&Arc<State>>,
) -> Response {
    done((|| {
        authorize(&state, request)?;
        let record =
            state.customers.get(&customer_uid).ok_or_else(|| not_found(format!("no customer {customer_uid}")))?;
        Ok(success(StatusCode::OK, record.subscription))
    })())
}

#[handler]
pub(super) async fn delete_customer(
    request: &Request,
    Path(customer_uid): Path<String>,
    state: Data<&Arc<State>>,
) -> Response {
    done((|| {
        authorize(&state, request)?;
        let record =
            state.customers.remove(&customer_uid).ok_or_else(|| not_found(format!("no customer {customer_uid}")))?;
        Ok(success(StatusCode::OK, record.subscription))
    })())
}

#[handler]
pub(super) async fn create_customer(
    request: &Request,
    Path(customer_uid): Path<String>,
    body: Body,
    state: Data<&Arc<State>>,
) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let input: SubscriptionCreate = read(body).await?;
            require("customer_uid", &customer_uid)?;
            check_card(&input.card_number, &input.expiry, &input.birth, input.pwd_2digit.as_ref(), input.cvc.as_ref())?;
            let fields = CustomerFields {
                name: input.customer_name,
                tel: input.customer_tel,
                email: input.customer_email,
                addr: input.customer_addr,
                postcode: input.customer_postcode,
            };
            let subscription = save_customer(&state, &customer_uid, &input.card_number, fields);
            Ok(success(StatusCode::CREATED, subscription))
        }
        .await,
    )
}

#[handler]
pub(super) async fn pay_onetime(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let input: SubscriptionOnetime = read(body).await?;
            require("merchant_uid", &input.merchant_uid)?;
            require("name", &input.name)?;
            positive("amount", input.amount)?;
            check_card(&input.card_number, &input.expiry, &input.birth, input.pwd_2digit.as_ref(), input.cvc.as_ref())?;
            check_url("notice_url", input.notice_url.as_ref())?;
            optional("custom_data", input.custom_data.as_ref())?;
            let currency = input.currency.map_or("KRW", |c| c.as_str());
            let mut base = new_base("card", input.merchant_uid, input.amount, currency, PaymentStatus::Paid);
            base.name = Some(input.name);
            base.buyer_name = input.buyer_name;
            base.buyer_email = input.buyer_email;
            base.buyer_tel = input.buyer_tel;
            base.buyer_addr = input.buyer_addr;
            base.buyer_postcode = input.buyer_postcode;
            base.custom_data = input.custom_data;
            if let Some(customer_uid) = input.customer_uid.filter(|c| !c.trim().is_empty()) {
                let fields = CustomerFields {
                    name: input.customer_name,
                    tel: input.customer_tel,
                    email: input.customer_email,
                    addr: input.customer_addr,
                    postcode: input.customer_postcode,
                };
                save_customer(&state, &customer_uid, &input.card_number, fields);
                base.customer_uid = Some(customer_uid);
                base.customer_uid_usage = Some("issue".to_owned());
            }
            let card = card_details(&input.card_number, input.card_quota);
            Ok(store_payment(&state, IamportPayment::Card { card, base }, input.notice_url))
        }
        .await,
    )
}

#[handler]
pub(super) async fn pay_again(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let input: SubscriptionAgain = read(body).await?;
            require("customer_uid", &input.customer_uid)?;
            require("merchant_uid", &input.merchant_uid)?;
            require("name", &input.name)?;
            positive("amount", input.amount)?;
            check_url("notice_url", input.notice_url.as_ref())?;
            optional("custom_data", input.custom_data.as_ref())?;
            let customer = state
                .customers
                .get(&input.customer_uid)
                .ok_or_else(|| not_found(format!("no customer {}", input.customer_uid)))?;
            if let Some(earlier) = state.orders.get(&input.merchant_uid).and_then(|uid| state.payments.get(&uid))
                && earlier.payment.base().status != PaymentStatus::Failed
            {
                return Err(refused(format!("merchant_uid {} is already paid", input.merchant_uid)));
            }
            let currency = input.currency.map_or("KRW", |c| c.as_str());
            let digits: String = customer.card_number.chars().filter(char::is_ascii_digit).collect();
            let declined = digits == super::REFUSED_CARD_NUMBER;
            let status = if declined { PaymentStatus::Failed } else { PaymentStatus::Paid };
            let mut base = new_base("card", input.merchant_uid, input.amount, currency, status);
            if declined {
                base.failed_at = Number::from(now());
                base.fail_reason = Some("[8325] 잔액이 부족합니다.".to_owned());
            }
            base.name = Some(input.name);
            base.buyer_name = input.buyer_name.or(customer.subscription.customer_name);
            base.buyer_email = input.buyer_email.or(customer.subscription.customer_email);
            base.buyer_tel = input.buyer_tel.or(customer.subscription.customer_tel);
            base.buyer_addr = input.buyer_addr.or(customer.subscription.customer_addr);
            base.buyer_postcode = input.buyer_postcode.or(customer.subscription.customer_postcode);
            base.custom_data = input.custom_data;
            base.customer_uid = Some(input.customer_uid);
            base.customer_uid_usage = Some("payment".to_owned());
            let card = card_details(&customer.card_number, input.card_quota);
            Ok(store_payment(&state, IamportPayment::Card { card, base }, input.notice_url))
        }
        .await,
    )
}

// ---------------------------------------------------------------------------
// Certifications
// ---------------------------------------------------------------------------

#[handler]
pub(super) async fn request_certification(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let input: CertificationCreate = read(body).await?;
            require("name", &input.name)?;
            let phone_ok = input.phone.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                && input.phone.bytes().filter(u8::is_ascii_digit).count() >= 9;
            if !phone_ok {
                return Err(bad_request("phone must be a phone number (digits and dashes)"));
            }
            let birth = NaiveDate::parse_from_str(&input.birth, "%Y%m%d")
                .ok()
                .filter(|_| input.birth.len() == 8 && digits(&input.birth))
                .ok_or_else(|| bad_request("birth must be a YYYYMMDD date"))?;
            let gender_digit = match input.gender_digit.as_bytes() {
                [d @ b'0'..=b'9'] => d - b'0',
                _ => return Err(bad_request("gender_digit must be one digit")),
            };
            let imp_uid = new_imp_uid();
            let certification = IamportCertification {
                imp_uid: imp_uid.clone(),
                merchant_uid: input.merchant_uid,
                name: input.name,
                gender: if gender_digit % 2 == 1 { "male" } else { "female" }.to_owned(),
                birth: birth.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp()),
                birthday: input.birth,
                foreigner: (5..=8).contains(&gender_digit),
                phone: input.phone,
                carrier: input.carrier,
                certified: false,
                certified_at: Number::from(0),
                unique_key: new_id(),
                unique_in_site: new_id(),
                pg_tid: new_id(),
                pg_provider: input.pg.unwrap_or_else(|| "danal".to_owned()),
                origin: "fake-iamport".to_owned(),
                otp: Some(random_digits(6)),
            };
            state.certifications.insert(imp_uid.clone(), certification);
            Ok(success(StatusCode::CREATED, CertificationAccessor { imp_uid }))
        }
        .await,
    )
}

#[handler]
pub(super) async fn confirm_certification(
    request: &Request,
    Path(imp_uid): Path<String>,
    body: Body,
    state: Data<&Arc<State>>,
) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let input: CertificationConfirm = read(body).await?;
            let at = now();
            let outcome = state.certifications.update(&imp_uid, |certification| {
                if certification.certified {
                    return Err(refused("the certification is already confirmed"));
                }
                if certification.otp.as_deref() != Some(input.otp.trim()) {
                    return Err(refused("the OTP does not match"));
                }
                certification.certified = true;
                certification.certified_at = Number::from(at);
                Ok(certification.clone())
            });
            let certification = outcome.ok_or_else(|| not_found(format!("no certification {imp_uid}")))??;
            Ok(success(StatusCode::CREATED, certification))
        }
        .await,
    )
}

#[handler]
pub(super) async fn get_certification(
    request: &Request,
    Path(imp_uid): Path<String>,
    state: Data<&Arc<State>>,
) -> Response {
    done((|| {
        authorize(&state, request)?;
        let certification =
            state.certifications.get(&imp_uid).ok_or_else(|| not_found(format!("no certification {imp_uid}")))?;
        Ok(success(StatusCode::OK, certification))
    })())
}

#[handler]
pub(super) async fn delete_certification(
    request: &Request,
    Path(imp_uid): Path<String>,
    state: Data<&Arc<State>>,
) -> Response {
    done((|| {
        authorize(&state, request)?;
        let certification =
            state.certifications.remove(&imp_uid).ok_or_else(|| not_found(format!("no certification {imp_uid}")))?;
        Ok(success(StatusCode::OK, certification))
    })())
}

// ---------------------------------------------------------------------------
// Cash receipts
// ---------------------------------------------------------------------------

#[handler]
pub(super) async fn get_receipt(request: &Request, Path(imp_uid): Path<String>, state: Data<&Arc<State>>) -> Response {
    done((|| {
        authorize(&state, request)?;
        let receipt = state.receipts.get(&imp_uid).ok_or_else(|| not_found(format!("no receipt for {imp_uid}")))?;
        Ok(success(StatusCode::OK, receipt))
    })())
}

#[handler]
pub(super) async fn create_receipt(
    request: &Request,
    Path(imp_uid): Path<String>,
    body: Body,
    state: Data<&Arc<State>>,
) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let input: ReceiptCreate = read(body).await?;
            require("identifier", &input.identifier)?;
            let record = state.payments.get(&imp_uid).ok_or_else(|| not_found(format!("no payment {imp_uid}")))?;
            let base = record.payment.base();
            if base.status != PaymentStatus::Paid {
                return Err(refused(format!("the payment is {}, not paid", base.status)));
            }
            if state.receipts.get(&imp_uid).is_some_and(|r| r.cancelled_at.as_i64() == Some(0)) {
                return Err(refused("a cash receipt is already issued for this payment"));
            }
            let amount = base.amount.checked_sub(base.cancel_amount).unwrap_or(Money::ZERO);
            let tax_free = input.tax_free.unwrap_or(Money::ZERO);
            let Some(taxable) = amount.checked_sub(tax_free) else {
                return Err(bad_request("tax_free exceeds the payment's amount"));
            };
            let vat = Money::new((taxable.amount() / Decimal::from(11)).floor()).unwrap_or(Money::ZERO);
            let receipt = IamportReceipt {
                imp_uid: imp_uid.clone(),
                receipt_uid: new_id(),
                apply_num: random_digits(9),
                kind: input.kind.unwrap_or(ReceiptType::Person),
                amount,
                vat,
                receipt_url: format!("{}/cash", receipt_url(&imp_uid)),
                applied_at: Number::from(now()),
                cancelled_at: Number::from(0),
            };
            state.receipts.insert(imp_uid, receipt.clone());
            Ok(success(StatusCode::CREATED, receipt))
        }
        .await,
    )
}

#[handler]
pub(super) async fn delete_receipt(
    request: &Request,
    Path(imp_uid): Path<String>,
    state: Data<&Arc<State>>,
) -> Response {
    done((|| {
        authorize(&state, request)?;
        let at = now();
        let outcome = state.receipts.update(&imp_uid, |receipt| {
            if receipt.cancelled_at.as_i64() != Some(0) {
                return Err(refused("the cash receipt is already cancelled"));
            }
            receipt.cancelled_at = Number::from(at);
            Ok(receipt.clone())
        });
        let receipt = outcome.ok_or_else(|| not_found(format!("no receipt for {imp_uid}")))??;
        Ok(success(StatusCode::OK, receipt))
    })())
}
