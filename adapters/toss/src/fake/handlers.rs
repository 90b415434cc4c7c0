//! The fake's payment routes, and what every route shares. Each handler
//! answers a `Response` itself: JSON on success, `{code, message}` on
//! failure, never a panic.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use rand::Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number};

use payments_domain::{Currency, Decimal, Money};

use crate::wire::{
    METHOD_CARD, METHOD_VIRTUAL_ACCOUNT, TossCard, TossCardPayment, TossCardPaymentCreate, TossCashReceipt,
    TossCashReceiptCancel, TossCashReceiptCreate, TossCashReceiptSummary, TossPayment, TossPaymentApproval,
    TossPaymentCancel, TossPaymentCancelCreate, TossPaymentCommon, TossPaymentStatus, TossVirtualAccount,
    TossVirtualAccountPayment, TossVirtualAccountPaymentCreate, money,
};

use super::REFUSED_CARD_NUMBER;
use super::render::{CARD_COMPANY, bank_code, mask_card_number};
use super::state::{FakePayment, FakeState, NextCancel, REJECT_CARD_COMPANY};

pub(super) type State<'a> = Data<&'a Arc<FakeState>>;

// ---------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------

/// A refusal: its status and Toss-style `{code, message}`.
#[derive(Debug)]
pub(crate) struct Fail {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Fail {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
    pub(super) fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }
    pub(super) fn payment_not_found(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND_PAYMENT",
            format!("존재하지 않는 결제 정보 입니다. (paymentKey {key:?})"),
        )
    }
    pub(super) fn rejected_by_the_card_company() -> Self {
        Self::new(StatusCode::FORBIDDEN, REJECT_CARD_COMPANY.code, REJECT_CARD_COMPANY.message)
    }
}

pub(super) type Reply = Result<Response, Fail>;

/// `{code, message}` with `status`.
pub(crate) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message });
    Response::builder().status(status).content_type("application/json").body(body.to_string())
}

pub(super) fn json(status: StatusCode, value: &impl Serialize) -> Reply {
    let body = serde_json::to_vec(value).map_err(|e| {
        Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "FAILED_INTERNAL_SYSTEM_PROCESSING", e.to_string())
    })?;
    Ok(Response::builder().status(status).content_type("application/json").body(body))
}

pub(super) fn respond(reply: Reply) -> Response {
    reply.unwrap_or_else(|fail| error_response(fail.status, fail.code, &fail.message))
}

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

pub(super) fn authorize(req: &Request, state: &FakeState) -> Result<(), Fail> {
    let unauthorized = |message: &str| Fail::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED_KEY", message);
    let header = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("the Authorization header is missing"))?;
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(|| unauthorized("expected Basic credentials"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(unauthorized("expected Basic credentials"));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| unauthorized("the Basic credentials are not base64"))?;
    let expected = format!("{}:", state.secret_key);
    if decoded == expected.as_bytes() { Ok(()) } else { Err(unauthorized("unknown secret key")) }
}

pub(super) async fn read<T: DeserializeOwned>(body: Body) -> Result<T, Fail> {
    let bytes = body
        .into_bytes_limit(super::BODY_LIMIT)
        .await
        .map_err(|e| Fail::bad(format!("cannot read the request body: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| Fail::bad(format!("invalid request body: {e}")))
}

pub(super) fn text(field: &str, value: &str, max: usize) -> Result<(), Fail> {
    if value.trim().is_empty() {
        return Err(Fail::bad(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(Fail::bad(format!("{field} must be at most {max} characters")));
    }
    Ok(())
}

fn digits(field: &str, value: &str, min: usize, max: usize) -> Result<(), Fail> {
    if value.len() < min || value.len() > max || !value.bytes().all(|b| b.is_ascii_digit()) {
        let len = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        return Err(Fail::bad(format!("{field} must be {len} digits")));
    }
    Ok(())
}

pub(super) fn card_fields(number: &str, year: &str, month: &str, birthday: Option<&str>) -> Result<(), Fail> {
    digits("cardNumber", number, 16, 16)?;
    digits("cardExpirationYear", year, 2, 2)?;
    digits("cardExpirationMonth", month, 2, 2)?;
    if !matches!(month.parse::<u8>(), Ok(1..=12)) {
        return Err(Fail::bad("cardExpirationMonth must be 01 to 12"));
    }
    if let Some(birthday) = birthday {
        digits("customerBirthday", birthday, 6, 6)?;
        let month = birthday[2..4].parse::<u8>().unwrap_or(0);
        let day = birthday[4..6].parse::<u8>().unwrap_or(0);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(Fail::bad("customerBirthday must be YYMMDD"));
        }
    }
    Ok(())
}

fn amount(field: &'static str, number: &Number) -> Result<Money, Fail> {
    money(field, number).map_err(|e| Fail::bad(e.to_string()))
}

pub(super) fn positive(field: &'static str, number: &Number) -> Result<Money, Fail> {
    let value = amount(field, number)?;
    if value.is_zero() {
        return Err(Fail::bad(format!("{field} must be greater than 0")));
    }
    Ok(value)
}

/// The stored amount of a payment (written by the fake, so always valid).
pub(super) fn stored(number: &Number) -> Money {
    money("amount", number).unwrap_or(Money::ZERO)
}

/// The `Idempotency-Key` of a request (already checked by the idempotency layer).
fn idempotency_key(req: &Request) -> Option<String> {
    req.headers().get(super::idempotency::HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

// ---------------------------------------------------------------------------
// Values the fake makes up
// ---------------------------------------------------------------------------

fn kst(at: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(9 * 3600) {
        Some(kst) => at.with_timezone(&kst).to_rfc3339_opts(SecondsFormat::Secs, false),
        None => at.to_rfc3339_opts(SecondsFormat::Secs, false),
    }
}

/// Now, as Toss writes times: `2024-02-13T12:17:57+09:00`.
pub(super) fn now() -> String {
    kst(Utc::now())
}

/// A payment or billing key.
pub(super) fn new_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A transaction key, as Toss writes them (32 upper-case hex digits).
pub(super) fn new_transaction_key() -> String {
    uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase()
}

fn random_digits(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

/// `(suppliedAmount, vat)` of `amount` of which `tax_free` is exempt: VAT is a
/// tenth of the supply, rounded.
fn supply_and_vat(amount: Money, tax_free: Money) -> (Money, Money) {
    let taxable = amount.checked_sub(tax_free).unwrap_or(Money::ZERO);
    let vat = Money::new((taxable.amount() / Decimal::from(11)).round()).unwrap_or(Money::ZERO);
    (taxable.checked_sub(vat).unwrap_or(Money::ZERO), vat)
}

pub(super) struct NewPayment<'a> {
    pub method: &'a str,
    pub kind: &'a str,
    pub status: TossPaymentStatus,
    pub order_id: String,
    pub order_name: String,
    pub amount: Money,
    pub tax_free: Money,
    /// The payment's currency (`KRW` but for multi-currency card payments).
    pub currency: Currency,
}

pub(super) fn common(new: NewPayment<'_>) -> TossPaymentCommon {
    let (supplied, vat) = supply_and_vat(new.amount, new.tax_free);
    let requested_at = now();
    let approved_at = (new.status == TossPaymentStatus::Done).then(|| requested_at.clone());
    TossPaymentCommon {
        method: new.method.to_owned(),
        kind: new.kind.to_owned(),
        status: new.status,
        m_id: "tosspayments".to_owned(),
        version: super::TossApiVersion::V1_4.as_str().to_owned(),
        payment_key: new_key(),
        order_id: new.order_id,
        transaction_key: Some(new_transaction_key()),
        order_name: new.order_name,
        currency: new.currency.as_str().to_owned(),
        total_amount: new.amount.to_json_number(),
        balance_amount: new.amount.to_json_number(),
        supplied_amount: supplied.to_json_number(),
        tax_free_amount: new.tax_free.to_json_number(),
        vat: vat.to_json_number(),
        use_escrow: false,
        culture_expense: false,
        requested_at,
        approved_at,
        cancels: None,
        cash_receipt: None,
        extra: Map::new(),
    }
}

/// A card as a payment shows it; `number` is masked here, never kept whole.
pub(super) fn card(number: &str, installment: Number) -> TossCard {
    let approve_no = random_digits(8);
    TossCard {
        company: CARD_COMPANY.to_owned(),
        number: mask_card_number(number),
        installment_plan_months: installment,
        is_interest_free: false,
        approve_no: approve_no.clone(),
        use_card_point: false,
        card_type: "신용".to_owned(),
        owner_type: "개인".to_owned(),
        acquire_status: "READY".to_owned(),
        receipt_url: format!("https://dashboard.tosspayments.com/sales-slip?transactionId={approve_no}"),
        extra: Map::new(),
    }
}

// ---------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------

/// `POST /v1/payments/key-in`: a card payment, approved unless `__approved: false`.
#[handler]
pub(crate) async fn key_in(req: &Request, body: Body, Data(state): State<'_>) -> Response {
    respond(key_in_reply(req, body, state).await)
}

async fn key_in_reply(req: &Request, body: Body, state: &FakeState) -> Reply {
    authorize(req, state)?;
    let input: TossCardPaymentCreate = read(body).await?;
    if input.method != "card" {
        return Err(Fail::bad("method must be \"card\""));
    }
    card_fields(
        &input.card_number,
        &input.card_expiration_year,
        &input.card_expiration_month,
        input.customer_birthday.as_deref(),
    )?;
    let total = positive("amount", &input.amount)?;
    let currency = match input.currency.as_deref() {
        None => Currency::krw(),
        Some(code) => Currency::parse(code).map_err(|e| Fail::bad(e.to_string()))?,
    };
    // Toss refuses an amount with more decimals than its currency has.
    currency.check_amount("amount", total).map_err(|e| Fail::bad(e.to_string()))?;
    let tax_free = input.tax_free_amount.as_ref().map(|n| amount("taxFreeAmount", n)).transpose()?.unwrap_or_default();
    if tax_free > total {
        return Err(Fail::bad("taxFreeAmount must not exceed amount"));
    }
    text("orderId", &input.order_id, 64)?;
    if let Some(name) = &input.order_name {
        text("orderName", name, 100)?;
    }
    if let Some(email) = &input.customer_email
        && !email.contains('@')
    {
        return Err(Fail::bad("customerEmail must be an e-mail address"));
    }
    let installment = match &input.card_installment_plan {
        Some(months) => amount("cardInstallmentPlan", months)?.to_json_number(),
        None => Number::from(0),
    };
    let approved = input.approved != Some(false);
    let refused = input.card_number == REFUSED_CARD_NUMBER;
    let status = match (approved, refused) {
        (true, true) => TossPaymentStatus::Aborted,
        (true, false) => TossPaymentStatus::Done,
        (false, _) => TossPaymentStatus::InProgress,
    };
    let payment = TossPayment::Card(TossCardPayment {
        card: card(&input.card_number, installment),
        discount: None,
        easy_pay: None,
        common: common(NewPayment {
            method: METHOD_CARD,
            kind: "NORMAL",
            status: status.clone(),
            order_id: input.order_id,
            order_name: input.order_name.unwrap_or_else(|| "fake order".to_owned()),
            amount: total,
            tax_free,
            currency,
        }),
    });
    let mut fake = FakePayment::new(payment, approved && !refused);
    fake.refused = refused;
    if status == TossPaymentStatus::Aborted {
        fake.failure = Some(REJECT_CARD_COMPANY);
    }
    state.insert_payment(fake.clone());
    state.notify(&fake);
    if status == TossPaymentStatus::Aborted {
        return Err(Fail::rejected_by_the_card_company());
    }
    json(state.created(), &state.render(&fake))
}

/// `GET /v1/payments/{paymentKey}`.
#[handler]
pub(crate) async fn payment_at(req: &Request, Path(key): Path<String>, Data(state): State<'_>) -> Response {
    respond(authorize(req, state).and_then(|()| match state.payment_json(&key) {
        Some(payment) => json(StatusCode::OK, &payment),
        None => Err(Fail::payment_not_found(&key)),
    }))
}

/// `GET /v1/payments/orders/{orderId}`: the payment of an order.
#[handler]
pub(crate) async fn payment_of_order(req: &Request, Path(order_id): Path<String>, Data(state): State<'_>) -> Response {
    respond(authorize(req, state).and_then(|()| match state.payment_of_order(&order_id) {
        Some(payment) => json(StatusCode::OK, &state.render(&payment)),
        None => Err(Fail::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND_PAYMENT",
            format!("존재하지 않는 결제 정보 입니다. (orderId {order_id:?})"),
        )),
    }))
}

/// `POST /v1/payments/{paymentKey}`: the original's approval, `orderId` and `amount`.
#[handler]
pub(crate) async fn approve(req: &Request, Path(key): Path<String>, body: Body, Data(state): State<'_>) -> Response {
    respond(approve_reply(req, Some(key), body, state).await)
}

/// `POST /v1/payments/confirm`: the real API's confirmation, `paymentKey` in the body.
#[handler]
pub(crate) async fn confirm(req: &Request, body: Body, Data(state): State<'_>) -> Response {
    respond(approve_reply(req, None, body, state).await)
}

/// What a confirmation did.
enum Confirmed {
    /// Approved; whether its status changed (a virtual account's does not).
    Approved(bool),
    /// The card company refused it: now `ABORTED`.
    Refused,
}

/// `key` from the path (the original's route) or, `None`, from the body
/// (the real API's `confirm`, which takes only a payment still awaiting its
/// confirmation).
async fn approve_reply(req: &Request, key: Option<String>, body: Body, state: &FakeState) -> Reply {
    authorize(req, state)?;
    let input: TossPaymentApproval = read(body).await?;
    let strict = key.is_none();
    let key = match (key, input.payment_key) {
        (Some(key), _) => key,
        (None, Some(key)) => key,
        (None, None) => return Err(Fail::bad("paymentKey is required")),
    };
    text("orderId", &input.order_id, 64)?;
    let asked = amount("amount", &input.amount)?;
    let idempotency_key = idempotency_key(req);
    let outcome = state.payments.update(&key, |fake| {
        let common = fake.payment.common();
        let status = common.status.clone();
        if status == TossPaymentStatus::Expired {
            return Err(Fail::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND_PAYMENT_SESSION",
                "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.",
            ));
        }
        let unprocessable = |code, message: String| Fail::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
        if common.order_id != input.order_id {
            return Err(unprocessable(
                "NOT_MATCHES_ORDER_ID",
                format!("orderId differs from the payment's {:?}", common.order_id),
            ));
        }
        let total = stored(&common.total_amount);
        if total != asked {
            return Err(unprocessable(
                "NOT_MATCHES_AMOUNT",
                format!("amount {asked} differs from the payment's {total}"),
            ));
        }
        let awaiting = matches!(status, TossPaymentStatus::Ready | TossPaymentStatus::InProgress);
        if fake.approved || status == TossPaymentStatus::Aborted || (strict && !awaiting) {
            return Err(Fail::new(StatusCode::BAD_REQUEST, "ALREADY_PROCESSED_PAYMENT", "이미 처리된 결제 입니다."));
        }
        fake.confirm_idempotency_key.clone_from(&idempotency_key);
        if fake.refused && awaiting {
            fake.payment.common_mut().status = TossPaymentStatus::Aborted;
            fake.failure = Some(REJECT_CARD_COMPANY);
            return Ok((fake.clone(), Confirmed::Refused));
        }
        fake.approved = true;
        if awaiting {
            let common = fake.payment.common_mut();
            common.status = TossPaymentStatus::Done;
            common.approved_at = Some(now());
            common.transaction_key = Some(new_transaction_key());
        }
        Ok((fake.clone(), Confirmed::Approved(awaiting)))
    });
    let (payment, confirmed) = outcome.ok_or_else(|| Fail::payment_not_found(&key))??;
    match confirmed {
        Confirmed::Refused => {
            state.notify(&payment);
            Err(Fail::rejected_by_the_card_company())
        }
        Confirmed::Approved(changed) => {
            if changed {
                state.notify(&payment);
            }
            json(state.created(), &state.render(&payment))
        }
    }
}

/// `POST /v1/payments/{paymentKey}/cancel`: whole or partial, against the
/// balance; `DONE` at once, or as the payment's cancel behaviour says
/// ([`NextCancel`]: left `IN_PROGRESS`, or refused `REFUND_REJECTED`).
#[handler]
pub(crate) async fn cancel(req: &Request, Path(key): Path<String>, body: Body, Data(state): State<'_>) -> Response {
    respond(cancel_reply(req, key, body, state).await)
}

async fn cancel_reply(req: &Request, key: String, body: Body, state: &FakeState) -> Reply {
    authorize(req, state)?;
    let input: TossPaymentCancelCreate = read(body).await?;
    if let Some(body_key) = &input.payment_key
        && *body_key != key
    {
        return Err(Fail::bad("paymentKey in the body differs from the path"));
    }
    text("cancelReason", &input.cancel_reason, 200)?;
    let asked = input.cancel_amount.as_ref().map(|n| positive("cancelAmount", n)).transpose()?;
    let tax_free = input.tax_free_amount.as_ref().map(|n| amount("taxFreeAmount", n)).transpose()?;
    let tax = input.tax_amount.as_ref().map(|n| amount("taxAmount", n)).transpose()?;
    let refundable = input.refundable_amount.as_ref().map(|n| amount("refundableAmount", n)).transpose()?;
    if let Some(account) = &input.refund_receive_account {
        text("refundReceiveAccount.bank", &account.bank, 20)?;
        text("refundReceiveAccount.holderName", &account.holder_name, 60)?;
        digits("refundReceiveAccount.accountNumber", &account.account_number, 1, 20)?;
    }
    let window = state.consecutive_cancel_window;
    let outcome = state.payments.update(&key, |fake| {
        let forbidden = |code, message: String| Fail::new(StatusCode::FORBIDDEN, code, message);
        if fake.last_cancel.is_some_and(|at| at.elapsed() < window) {
            return Err(forbidden(
                "FORBIDDEN_CONSECUTIVE_REQUEST",
                "another cancel of this payment was processed less than a second ago; retry later".into(),
            ));
        }
        let next = fake.cancel_behaviour;
        let is_virtual_account = matches!(fake.payment, TossPayment::VirtualAccount(_));
        let common = fake.payment.common_mut();
        let awaiting_deposit = match common.status {
            TossPaymentStatus::Done | TossPaymentStatus::PartialCanceled => false,
            TossPaymentStatus::WaitingForDeposit => true,
            TossPaymentStatus::Canceled => {
                return Err(Fail::new(StatusCode::BAD_REQUEST, "ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다."));
            }
            ref other => {
                return Err(forbidden("NOT_CANCELABLE_PAYMENT", format!("a payment {other} cannot be canceled")));
            }
        };
        // Toss documents no rule for a cancel asked while another is
        // IN_PROGRESS. The conservative reading: what an unfinished cancel may
        // still refund is not cancelable again (`balanceAmount` falls only
        // when it is DONE), for `refundableAmount` as for the limit.
        let in_progress: Money = common
            .cancels
            .iter()
            .flatten()
            .filter(|entry| cancel_status(entry) == CANCEL_IN_PROGRESS)
            .map(|entry| stored(&entry.cancel_amount))
            .fold(Money::ZERO, |sum, amount| sum.checked_add(amount).unwrap_or(sum));
        let balance = stored(&common.balance_amount).checked_sub(in_progress).unwrap_or(Money::ZERO);
        let part = asked.unwrap_or(balance);
        if let Ok(currency) = Currency::parse(&common.currency) {
            currency.check_amount("cancelAmount", part).map_err(|e| Fail::bad(e.to_string()))?;
        }
        if part > balance {
            return Err(forbidden(
                "NOT_CANCELABLE_AMOUNT",
                format!("cancel amount {part} exceeds the cancelable balance {balance}"),
            ));
        }
        if awaiting_deposit && part != balance {
            return Err(forbidden(
                "NOT_CANCELABLE_AMOUNT",
                "a virtual account awaiting its deposit can only be canceled whole".into(),
            ));
        }
        if let Some(refundable) = refundable
            && refundable != balance
        {
            return Err(Fail::new(
                StatusCode::BAD_REQUEST,
                "NOT_MATCHES_REFUNDABLE_AMOUNT",
                format!("refundableAmount {refundable} differs from the balance {balance}"),
            ));
        }
        if is_virtual_account && !awaiting_deposit && input.refund_receive_account.is_none() {
            return Err(Fail::new(
                StatusCode::BAD_REQUEST,
                "INVALID_REFUND_ACCOUNT_INFO",
                "refundReceiveAccount is required to refund a virtual-account payment",
            ));
        }
        let tax_free = tax_free.unwrap_or(Money::ZERO);
        if tax_free > part {
            return Err(Fail::bad("taxFreeAmount must not exceed the cancel amount"));
        }
        // Toss documents its refusal of a refund as 400 `REFUND_REJECTED`
        // (reference/error-codes): what a merchant sees of a cancel that
        // fails at once. Nothing is recorded.
        if next == NextCancel::Aborted {
            return Err(Fail::new(
                StatusCode::BAD_REQUEST,
                "REFUND_REJECTED",
                "환불이 거절됐습니다. 결제사에 문의 부탁드립니다.",
            ));
        }
        let tax = tax.unwrap_or_else(|| supply_and_vat(part, tax_free).1);
        let remaining = balance.checked_sub(part).unwrap_or(Money::ZERO);
        let transaction_key = new_transaction_key();
        let mut extra = Map::new();
        if next == NextCancel::InProgress {
            extra.insert(CANCEL_STATUS.to_owned(), CANCEL_IN_PROGRESS.into());
            // "A special value for asynchronous payments only" (the
            // reference's `cancelRequestId`); its form is not documented.
            extra.insert("cancelRequestId".to_owned(), format!("cancel-request-{}", new_key()).into());
        }
        common.cancels.get_or_insert_with(Vec::new).push(TossPaymentCancel {
            cancel_amount: part.to_json_number(),
            cancel_reason: input.cancel_reason.clone(),
            tax_free_amount: tax_free.to_json_number(),
            tax_amount: Some(tax.to_json_number()),
            refundable_amount: remaining.to_json_number(),
            canceled_at: now(),
            transaction_key: Some(transaction_key.clone()),
            extra,
        });
        common.transaction_key = Some(transaction_key);
        let done = next == NextCancel::Done;
        if done {
            complete_cancel(fake, part);
        }
        fake.last_cancel = Some(std::time::Instant::now());
        Ok((fake.clone(), done))
    });
    let (payment, done) = outcome.ok_or_else(|| Fail::payment_not_found(&key))??;
    // An IN_PROGRESS cancel changes no status: Toss sends nothing yet.
    if done {
        state.notify(&payment);
    }
    json(state.created(), &state.render(&payment))
}

/// The member of a cancel's `extra` that holds its `cancelStatus` when the
/// fake made it other than `DONE`.
pub(super) const CANCEL_STATUS: &str = "cancelStatus";
/// `cancelStatus` of a cancel asked but not finished (the webhook-events
/// page's "결제 취소 상태(cancelStatus) 흐름": IN_PROGRESS, then DONE or ABORTED).
pub(super) const CANCEL_IN_PROGRESS: &str = "IN_PROGRESS";

/// A cancel's `cancelStatus`: `DONE` unless the fake made it otherwise.
pub(super) fn cancel_status(entry: &TossPaymentCancel) -> &str {
    entry.extra.get(CANCEL_STATUS).and_then(serde_json::Value::as_str).unwrap_or("DONE")
}

/// What a cancel of `part` that went through does to its payment, at once
/// or when an `IN_PROGRESS` one completes: the balance falls by it, the
/// status follows, and a refunded virtual account says so.
pub(super) fn complete_cancel(fake: &mut FakePayment, part: Money) {
    let common = fake.payment.common_mut();
    let refunded = common.status != TossPaymentStatus::WaitingForDeposit;
    let remaining = stored(&common.balance_amount).checked_sub(part).unwrap_or(Money::ZERO);
    common.balance_amount = remaining.to_json_number();
    common.status = if remaining.is_zero() { TossPaymentStatus::Canceled } else { TossPaymentStatus::PartialCanceled };
    if let TossPayment::VirtualAccount(va) = &mut fake.payment
        && refunded
    {
        va.virtual_account.refund_status = "COMPLETED".to_owned();
    }
}

// ---------------------------------------------------------------------------
// Virtual accounts
// ---------------------------------------------------------------------------

/// `POST /v1/virtual-accounts`: issues an account, `WAITING_FOR_DEPOSIT`.
#[handler]
pub(crate) async fn virtual_account(req: &Request, body: Body, Data(state): State<'_>) -> Response {
    respond(virtual_account_reply(req, body, state).await)
}

async fn virtual_account_reply(req: &Request, body: Body, state: &FakeState) -> Reply {
    authorize(req, state)?;
    let input: TossVirtualAccountPaymentCreate = read(body).await?;
    if input.method != "virtual-account" {
        return Err(Fail::bad("method must be \"virtual-account\""));
    }
    text("orderId", &input.order_id, 64)?;
    text("orderName", &input.order_name, 100)?;
    text("bank", &input.bank, 20)?;
    text("customerName", &input.customer_name, 100)?;
    if bank_code(&input.bank).is_none() {
        return Err(Fail::new(
            StatusCode::BAD_REQUEST,
            "INVALID_BANK",
            format!("unknown bank {:?}: give its two-digit code or its Korean name", input.bank),
        ));
    }
    let total = positive("amount", &input.amount)?;
    let approved = input.approved != Some(false);
    let due = Utc::now() + chrono::Duration::days(7);
    let due_at = kst(due);
    let payment = TossPayment::VirtualAccount(TossVirtualAccountPayment {
        secret: format!("ps_{}", new_key()),
        virtual_account: TossVirtualAccount {
            account_number: format!("X{}", random_digits(13)),
            account_type: "일반".to_owned(),
            bank: input.bank,
            customer_name: input.customer_name,
            // 1.x answers the date alone (the swagger's `format: date`).
            due_date: due_at.chars().take(10).collect(),
            expired: false,
            settlement_status: "INCOMPLETED".to_owned(),
            refund_status: "NONE".to_owned(),
            extra: Map::new(),
        },
        common: common(NewPayment {
            method: METHOD_VIRTUAL_ACCOUNT,
            kind: "NORMAL",
            status: TossPaymentStatus::WaitingForDeposit,
            order_id: input.order_id,
            order_name: input.order_name,
            amount: total,
            tax_free: Money::ZERO,
            currency: Currency::krw(),
        }),
    });
    let mut fake = FakePayment::new(payment, approved);
    fake.due_at = Some(due_at);
    state.insert_payment(fake.clone());
    state.notify(&fake);
    json(state.created(), &state.render(&fake))
}

// ---------------------------------------------------------------------------
// Cash receipts
// ---------------------------------------------------------------------------

const RECEIPT_KINDS: [&str; 2] = ["소득공제", "지출증빙"];

/// `POST /v1/cash-receipts`: issues a cash receipt for a payment.
#[handler]
pub(crate) async fn cash_receipt_create(req: &Request, body: Body, Data(state): State<'_>) -> Response {
    respond(cash_receipt_create_reply(req, body, state).await)
}

async fn cash_receipt_create_reply(req: &Request, body: Body, state: &FakeState) -> Reply {
    authorize(req, state)?;
    let input: TossCashReceiptCreate = read(body).await?;
    if !RECEIPT_KINDS.contains(&input.kind.as_str()) {
        return Err(Fail::bad("type must be 소득공제 or 지출증빙"));
    }
    text("paymentKey", &input.payment_key, 200)?;
    text("orderId", &input.order_id, 64)?;
    text("orderName", &input.order_name, 100)?;
    text("registrationNumber", &input.registration_number, 30)?;
    let total = positive("amount", &input.amount)?;
    let tax_free = input.tax_free_amount.as_ref().map(|n| amount("taxFreeAmount", n)).transpose()?.unwrap_or_default();
    if tax_free > total {
        return Err(Fail::bad("taxFreeAmount must not exceed amount"));
    }
    let receipt = TossCashReceipt {
        receipt_key: new_key(),
        kind: input.kind.clone(),
        order_id: input.order_id.clone(),
        order_name: input.order_name.clone(),
        approval_number: random_digits(9),
        approved_at: now(),
        canceled_at: None,
        receipt_url: format!("https://dashboard.tosspayments.com/receipt/cash/{}", random_digits(12)),
        extra: Map::new(),
    };
    let outcome = state.payments.update(&input.payment_key, |fake| {
        let common = fake.payment.common_mut();
        if common.order_id != input.order_id {
            return Err(Fail::bad("orderId differs from the payment's"));
        }
        if total > stored(&common.total_amount) {
            return Err(Fail::bad("amount exceeds the payment's total"));
        }
        common.cash_receipt = Some(TossCashReceiptSummary {
            kind: receipt.kind.clone(),
            amount: total.to_json_number(),
            tax_free_amount: tax_free.to_json_number(),
            issue_number: receipt.approval_number.clone(),
            receipt_url: receipt.receipt_url.clone(),
            extra: Map::new(),
        });
        Ok(())
    });
    outcome.ok_or_else(|| Fail::payment_not_found(&input.payment_key))??;
    state.receipts.insert(receipt.receipt_key.clone(), receipt.clone());
    json(state.created(), &receipt)
}

/// `POST /v1/cash-receipts/{receiptKey}/cancel`.
#[handler]
pub(crate) async fn cash_receipt_cancel(
    req: &Request,
    Path(key): Path<String>,
    body: Body,
    Data(state): State<'_>,
) -> Response {
    respond(cash_receipt_cancel_reply(req, key, body, state).await)
}

async fn cash_receipt_cancel_reply(req: &Request, receipt_key: String, body: Body, state: &FakeState) -> Reply {
    authorize(req, state)?;
    let bytes = body
        .into_bytes_limit(super::BODY_LIMIT)
        .await
        .map_err(|e| Fail::bad(format!("cannot read the request body: {e}")))?;
    let input: TossCashReceiptCancel = if bytes.iter().all(u8::is_ascii_whitespace) {
        TossCashReceiptCancel::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| Fail::bad(format!("invalid request body: {e}")))?
    };
    if let Some(n) = &input.amount {
        positive("amount", n)?;
    }
    let outcome = state.receipts.update(&receipt_key, |receipt| {
        if receipt.canceled_at.is_some() {
            return Err(Fail::new(
                StatusCode::BAD_REQUEST,
                "ALREADY_CANCELED_RECEIPT",
                "the receipt is already canceled",
            ));
        }
        receipt.canceled_at = Some(now());
        Ok(receipt.clone())
    });
    let receipt = outcome.ok_or_else(|| {
        Fail::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND_RECEIPT",
            format!("no cash receipt has the receiptKey {receipt_key:?}"),
        )
    })??;
    json(state.created(), &receipt)
}
