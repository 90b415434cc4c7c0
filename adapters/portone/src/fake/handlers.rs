//! The fake's routes. Payments and billing keys are held as the JSON the V2
//! API answers (`Payment`, `BillingKeyInfo`), changed in place under one
//! lock, so what a read returns is what the documented schema says.

use std::sync::{Arc, Mutex};

use payments_fakekit::{Store, WebhookEmitter};
use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use super::FakePortOneConfig;
use super::pre_register::{PreRegistered, refused_by_window};

pub(super) struct State {
    api_secret: String,
    store_id: String,
    pub(super) payments: Store<String, Value>,
    /// What `POST /payments/{paymentId}/pre-register` registered, by payment
    /// id, until the window pays it.
    pub(super) pre_registered: Store<String, PreRegistered>,
    billing_keys: Store<String, Value>,
    /// How the API's cancels of a payment are answered, by payment id
    /// (absent: [`NextCancel::Succeeded`]).
    cancel_behaviours: Store<String, NextCancel>,
    /// Answers by `Idempotency-Key`: a retry gets the first answer.
    answered: Store<String, (u16, Value)>,
    /// Held while a request that moves money runs: two with one key, or two
    /// cancels of one payment, never interleave; and while a payment id is
    /// pre-registered or paid in the window, so that neither sees the other
    /// half done.
    pub(super) moving: Mutex<()>,
    emitter: WebhookEmitter,
    signer: standardwebhooks::Webhook,
}

impl State {
    pub(super) fn new(config: &FakePortOneConfig, emitter: WebhookEmitter, signer: standardwebhooks::Webhook) -> Self {
        Self {
            api_secret: config.api_secret.clone(),
            store_id: config.store_id.clone(),
            payments: Store::new(config.limits),
            pre_registered: Store::new(config.limits),
            billing_keys: Store::new(config.limits),
            cancel_behaviours: Store::new(config.limits),
            answered: Store::new(config.limits),
            moving: Mutex::new(()),
            emitter,
            signer,
        }
    }

    /// POSTs a signed webhook (`{type, timestamp, data}`) in the background.
    fn notify(&self, kind: &str, mut data: Value) {
        data["storeId"] = json!(self.store_id);
        let body = json!({"type": kind, "timestamp": now(), "data": data}).to_string();
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let at = chrono::Utc::now().timestamp();
        let Ok(signature) = self.signer.sign(&id, at, body.as_bytes()) else { return };
        let headers = vec![
            ("webhook-id".to_owned(), id),
            ("webhook-timestamp".to_owned(), at.to_string()),
            ("webhook-signature".to_owned(), signature),
        ];
        drop(self.emitter.emit_with_headers(None, body, headers));
    }
}

pub(super) type Shared<'a> = Data<&'a Arc<State>>;

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn answer(status: StatusCode, body: &Value) -> Response {
    Response::builder().status(status).content_type("application/json").body(body.to_string())
}

/// A documented error: `{type, message}` with its status.
pub(super) fn refuse(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    answer(status, &json!({"type": kind, "message": message.into()}))
}

pub(super) fn invalid(message: impl Into<String>) -> Response {
    refuse(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
}

/// A refusal not answered yet: its status, `type` and message.
pub(super) type Refusal = (StatusCode, &'static str, String);

pub(super) fn reply((status, kind, message): Refusal) -> Response {
    refuse(status, kind, message)
}

/// `Authorization: PortOne <secret>`, and a `storeId` (when given) of the
/// fake's store: the refusal otherwise.
pub(super) fn check(state: &State, request: &Request, store_id: Option<&str>) -> Result<(), Refusal> {
    let expected = format!("PortOne {}", state.api_secret);
    if request.header("authorization") != Some(expected.as_str()) {
        return Err((StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "the API secret is missing or wrong".into()));
    }
    match store_id {
        Some(id) if id != state.store_id => {
            Err((StatusCode::FORBIDDEN, "FORBIDDEN", "the secret has no access to that store".into()))
        }
        _ => Ok(()),
    }
}

/// Runs a request that moves money once per `Idempotency-Key` (16 to 256
/// ASCII characters, an RFC 8941 string): a retry gets the first answer.
fn once(state: &State, request: &Request, run: impl FnOnce() -> (StatusCode, Value)) -> Response {
    let _one = state.moving.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = match request.header("idempotency-key").map(|raw| raw.trim().trim_matches('"')) {
        None => None,
        Some(key) if (16..=256).contains(&key.len()) && key.is_ascii() => Some(key.to_owned()),
        Some(_) => return invalid("Idempotency-Key must be 16 to 256 ASCII characters"),
    };
    if let Some((status, body)) = key.as_ref().and_then(|k| state.answered.get(k)) {
        return answer(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), &body);
    }
    let (status, body) = run();
    if let Some(key) = key {
        state.answered.insert(key, (status.as_u16(), body.clone()));
    }
    answer(status, &body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoreQuery {
    store_id: Option<String>,
}

#[handler]
pub(super) fn read_payment(
    state: Shared<'_>,
    request: &Request,
    Path(id): Path<String>,
    Query(query): Query<StoreQuery>,
) -> Response {
    if let Err(refused) = check(&state, request, query.store_id.as_deref()) {
        return reply(refused);
    }
    match state.payments.get(&id) {
        Some(payment) => answer(StatusCode::OK, &payment),
        None => refuse(StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND", "no payment of that id"),
    }
}

/// The JSON body of a POST (or the documented 400), once its caller is
/// authorized for the `storeId` it names.
fn authorized_body(state: &State, request: &Request, body: &[u8]) -> Result<Value, Refusal> {
    let body = match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => value,
        _ => return Err((StatusCode::BAD_REQUEST, "INVALID_REQUEST", "the body is not a JSON object".into())),
    };
    check(state, request, body.get("storeId").and_then(Value::as_str))?;
    Ok(body)
}

/// The largest request body the fake reads (its largest documented body, a
/// cancel with a refund account, is well under 1 KiB).
pub(super) const MAX_BODY: usize = 64 * 1024;

/// A request body that is one JSON object of at most [`MAX_BODY`] bytes, or
/// the documented 400 (`INVALID_REQUEST`) saying why not.
pub(super) async fn read_object(body: Body) -> Result<serde_json::Map<String, Value>, Response> {
    let bytes = body.into_bytes_limit(MAX_BODY).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => invalid(format!("the body is over {MAX_BODY} bytes")),
        other => invalid(format!("the body cannot be read: {other}")),
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(invalid("the body is not a JSON object")),
        Err(e) => Err(invalid(format!("the body is not JSON: {e}"))),
    }
}

/// A PortOne `Currency`: an ISO 4217 code, upper case, with a minor unit
/// (the fake takes amounts in it).
pub(super) fn is_currency(text: &str) -> bool {
    payments_domain::Currency::parse(text).is_ok_and(|c| c.as_str() == text && c.exponent().is_some())
}

pub(super) fn integer(body: &Value, member: &str) -> Result<Option<i64>, Refusal> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| (StatusCode::BAD_REQUEST, "INVALID_REQUEST", format!("{member} must be an integer"))),
    }
}

#[handler]
pub(super) fn cancel(state: Shared<'_>, request: &Request, Path(id): Path<String>, body: Vec<u8>) -> Response {
    let body = match authorized_body(&state, request, &body) {
        Ok(body) => body,
        Err(refused) => return reply(refused),
    };
    // `skipWebhook: true`: no webhook of this cancel (a documented member).
    let skip_webhook = body.get("skipWebhook").and_then(Value::as_bool).unwrap_or(false);
    once(&state, request, || match cancel_payment(&state, &id, &body) {
        Ok(Cancelled { cancellation, event, transaction }) => {
            if let Some(event) = event.filter(|_| !skip_webhook) {
                let ids = json!({"paymentId": id, "transactionId": transaction, "cancellationId": cancellation["id"]});
                state.notify(event, ids);
            }
            (StatusCode::OK, json!({"cancellation": cancellation}))
        }
        Err((status, kind, message)) => (status, json!({"type": kind, "message": message})),
    })
}

/// How the fake answers the API's cancels of one payment, until changed
/// (`POST /internal/payments/{paymentId}/cancel-behaviour`). Each is one
/// member of the documented `PaymentCancellation` union.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum NextCancel {
    /// `SUCCEEDED` at once: the money moves and the status follows.
    #[default]
    Succeeded,
    /// `REQUESTED`: accepted, finished later
    /// (`POST /internal/payments/{paymentId}/cancellations/{cancellationId}`),
    /// announced by `Transaction.CancelPending`.
    Requested,
    /// `FAILED`: answered 200 with the failed cancellation; nothing moves.
    Failed,
}

impl NextCancel {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "succeeded" => Some(Self::Succeeded),
            "requested" => Some(Self::Requested),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Requested => "requested",
            Self::Failed => "failed",
        }
    }
}

/// What an accepted cancel answers: the cancellation, its webhook's type
/// (none for a failed one) and the payment's transaction id.
struct Cancelled {
    cancellation: Value,
    event: Option<&'static str>,
    transaction: Value,
}

/// The sum of a payment's `REQUESTED` cancellations.
fn requested_amount(payment: &Value) -> i64 {
    let cancellations = payment["cancellations"].as_array().into_iter().flatten();
    cancellations.filter(|c| c["status"] == "REQUESTED").filter_map(|c| c["totalAmount"].as_i64()).sum()
}

/// Adds a cancellation to a payment's `cancellations` (a PAID payment holds
/// its requested and failed ones there too: `PaidPayment.cancellations`,
/// "결제 취소 요청 내역").
fn append(payment: &mut Value, cancellation: &Value) {
    let object = payment.as_object_mut().expect("a payment is an object");
    object.entry("cancellations").or_insert_with(|| json!([]));
    payment["cancellations"].as_array_mut().expect("an array").push(cancellation.clone());
}

/// A cancellation that went through: `SUCCEEDED`, when and its receipt.
fn succeed(cancellation: &mut Value, payment_id: &str, at: &str) {
    cancellation["status"] = json!("SUCCEEDED");
    cancellation["cancelledAt"] = json!(at);
    cancellation["receiptUrl"] = json!(format!("https://receipt.example/cancel/{payment_id}"));
}

/// What a succeeded cancellation of `amount` does to its payment (at once,
/// or when a requested one completes): the amount is cancelled and the
/// status follows. Its webhook's type.
fn settle(payment: &mut Value, amount: i64, at: &str) -> &'static str {
    let paid = payment["amount"]["paid"].as_i64().unwrap_or(0);
    let cancelled = payment["amount"]["cancelled"].as_i64().unwrap_or(0) + amount;
    let whole = cancelled >= paid;
    let object = payment.as_object_mut().expect("a payment is an object");
    object.remove("disputes");
    object.remove("pgResponse");
    payment["amount"]["cancelled"] = json!(cancelled);
    payment["status"] = json!(if whole { "CANCELLED" } else { "PARTIAL_CANCELLED" });
    payment["cancelledAt"] = json!(at);
    payment["updatedAt"] = json!(at);
    payment["statusChangedAt"] = json!(at);
    if whole { "Transaction.Cancelled" } else { "Transaction.PartialCancelled" }
}

/// One cancel, as the documented errors describe PortOne's rules, answered
/// as the payment's cancel behaviour says ([`NextCancel`]).
fn cancel_payment(state: &State, id: &str, body: &Value) -> Result<Cancelled, Refusal> {
    let bad = |message: &str| (StatusCode::BAD_REQUEST, "INVALID_REQUEST", message.to_owned());
    let reason = body.get("reason").and_then(Value::as_str).filter(|r| !r.trim().is_empty());
    let reason = reason.ok_or_else(|| bad("reason is required"))?.to_owned();
    let amount = integer(body, "amount").map_err(|_| bad("amount must be an integer"))?;
    let guard =
        integer(body, "currentCancellableAmount").map_err(|_| bad("currentCancellableAmount must be an integer"))?;
    if amount.is_some_and(|a| a <= 0) {
        return Err(bad("amount must be positive"));
    }
    let refund_account = body.get("refundAccount").filter(|a| !a.is_null());
    if let Some(account) = refund_account {
        for member in ["bank", "number", "holderName"] {
            if account.get(member).and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(bad(&format!("refundAccount.{member} is required")));
            }
        }
    }
    let next = state.cancel_behaviours.get(&id.to_owned()).unwrap_or_default();
    let conflict = |kind: &'static str, message: &str| (StatusCode::CONFLICT, kind, message.to_owned());
    let changed = state.payments.update(&id.to_owned(), |payment| {
        match payment["status"].as_str() {
            Some("PAID" | "PARTIAL_CANCELLED") => {}
            Some("CANCELLED") => return Err(conflict("PAYMENT_ALREADY_CANCELLED", "the payment is cancelled already")),
            _ => return Err(conflict("PAYMENT_NOT_PAID", "the payment is not paid")),
        }
        let paid = payment["amount"]["paid"].as_i64().unwrap_or(0);
        let cancelled = payment["amount"]["cancelled"].as_i64().unwrap_or(0);
        // PortOne documents no rule for a cancel asked while another is
        // REQUESTED. The conservative reading: what a requested cancellation
        // may still refund is not cancellable again, for the guard
        // (`currentCancellableAmount`) as for the limit.
        let cancellable = paid - cancelled - requested_amount(payment);
        if guard.is_some_and(|g| g != cancellable) {
            return Err(conflict(
                "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
                "the cancellable amount is not the one given",
            ));
        }
        let amount = amount.unwrap_or(cancellable);
        if amount > cancellable {
            return Err(conflict("CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT", "more than the cancellable amount"));
        }
        if payment["method"]["type"] == "PaymentMethodVirtualAccount" && refund_account.is_none() {
            return Err(bad("refundAccount is required to refund a virtual account"));
        }
        let at = now();
        let mut cancellation = json!({
            "status": "REQUESTED", "id": uuid::Uuid::new_v4().to_string(),
            "totalAmount": amount, "taxFreeAmount": 0, "vatAmount": amount / 11, "reason": reason,
            "requestedAt": at, "trigger": "API",
        });
        if next != NextCancel::Failed {
            cancellation["pgCancellationId"] = json!(format!("pg-cancel-{}", uuid::Uuid::new_v4().simple()));
        }
        let event = match next {
            NextCancel::Succeeded => {
                succeed(&mut cancellation, id, &at);
                append(payment, &cancellation);
                Some(settle(payment, amount, &at))
            }
            // Accepted, not finished: no amount nor status changes yet.
            NextCancel::Requested => {
                append(payment, &cancellation);
                payment["updatedAt"] = json!(at);
                Some("Transaction.CancelPending")
            }
            // The documented union answers it as a cancellation; PortOne
            // documents no webhook of a failed cancel.
            NextCancel::Failed => {
                cancellation["status"] = json!("FAILED");
                append(payment, &cancellation);
                payment["updatedAt"] = json!(at);
                None
            }
        };
        Ok(Cancelled { cancellation, event, transaction: payment["transactionId"].clone() })
    });
    changed.unwrap_or_else(|| Err((StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND", "no payment of that id".to_owned())))
}

/// The JSON object body of an internal route (`None`: answer 400).
fn internal_body(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// `POST /internal/payments/{paymentId}/cancel-behaviour` `{"next":
/// "succeeded" | "requested" | "failed"}`: how the API's cancels of that
/// payment are answered from now on ([`NextCancel`]; `succeeded` until set).
#[handler]
pub(super) fn cancel_behaviour(
    state: Shared<'_>,
    request: &Request,
    Path(id): Path<String>,
    body: Vec<u8>,
) -> Response {
    if let Err(refused) = check(&state, request, None) {
        return reply(refused);
    }
    let Some(body) = internal_body(&body) else {
        return invalid("the body is not a JSON object");
    };
    let Some(next) = body.get("next").and_then(Value::as_str).and_then(NextCancel::parse) else {
        return invalid("next must be \"succeeded\", \"requested\" or \"failed\"");
    };
    if state.payments.get(&id).is_none() {
        return refuse(StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND", "no payment of that id");
    }
    state.cancel_behaviours.insert(id.clone(), next);
    answer(StatusCode::OK, &json!({"paymentId": id, "next": next.as_str()}))
}

/// `POST /internal/payments/{paymentId}/cancellations/{cancellationId}`
/// `{"outcome": "succeeded" | "failed", "webhook": true}`: PortOne finishes
/// a `REQUESTED` cancellation. `succeeded` moves the money as a cancel that
/// succeeded at once does (and sends `Transaction.PartialCancelled` or
/// `Transaction.Cancelled` unless `webhook` is false); `failed` changes
/// nothing else and sends nothing. Answers the payment; 409 when the
/// cancellation is not `REQUESTED`.
#[handler]
pub(super) fn finish_cancellation(
    state: Shared<'_>,
    request: &Request,
    Path((id, cancellation_id)): Path<(String, String)>,
    body: Vec<u8>,
) -> Response {
    if let Err(refused) = check(&state, request, None) {
        return reply(refused);
    }
    let Some(body) = internal_body(&body) else {
        return invalid("the body is not a JSON object");
    };
    let succeeded = match body.get("outcome").and_then(Value::as_str) {
        Some("succeeded") => true,
        Some("failed") => false,
        _ => return invalid("outcome must be \"succeeded\" or \"failed\""),
    };
    let webhook = match body.get("webhook") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(webhook)) => *webhook,
        Some(_) => return invalid("webhook must be a boolean"),
    };
    let finished = state.payments.update(&id, |payment| {
        let mut cancellations = payment["cancellations"].as_array_mut().into_iter().flatten();
        let Some(cancellation) = cancellations.find(|c| c["id"] == cancellation_id.as_str()) else {
            return Err((StatusCode::NOT_FOUND, "CANCELLATION_NOT_FOUND", "no cancellation of that id".to_owned()));
        };
        if cancellation["status"] != "REQUESTED" {
            let status = cancellation["status"].as_str().unwrap_or("of no status");
            let message = format!("the cancellation is {status}, not REQUESTED");
            return Err((StatusCode::CONFLICT, "CANCELLATION_NOT_REQUESTED", message));
        }
        let at = now();
        let event = if succeeded {
            succeed(cancellation, &id, &at);
            let amount = cancellation["totalAmount"].as_i64().unwrap_or(0);
            Some(settle(payment, amount, &at))
        } else {
            cancellation["status"] = json!("FAILED");
            payment["updatedAt"] = json!(at);
            None
        };
        Ok((payment.clone(), event))
    });
    match finished {
        Some(Ok((payment, event))) => {
            if let Some(event) = event.filter(|_| webhook) {
                let ids = json!({"paymentId": id, "transactionId": payment["transactionId"], "cancellationId": cancellation_id});
                state.notify(event, ids);
            }
            answer(StatusCode::OK, &payment)
        }
        Some(Err(refused)) => reply(refused),
        None => refuse(StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND", "no payment of that id"),
    }
}

#[handler]
pub(super) fn read_billing_key(
    state: Shared<'_>,
    request: &Request,
    Path(key): Path<String>,
    Query(query): Query<StoreQuery>,
) -> Response {
    if let Err(refused) = check(&state, request, query.store_id.as_deref()) {
        return reply(refused);
    }
    match state.billing_keys.get(&key) {
        Some(info) => answer(StatusCode::OK, &info),
        None => refuse(StatusCode::NOT_FOUND, "BILLING_KEY_NOT_FOUND", "no billing key of that value"),
    }
}

#[handler]
pub(super) fn delete_billing_key(
    state: Shared<'_>,
    request: &Request,
    Path(key): Path<String>,
    Query(query): Query<StoreQuery>,
) -> Response {
    if let Err(refused) = check(&state, request, query.store_id.as_deref()) {
        return reply(refused);
    }
    once(&state, request, || {
        let deleted = state.billing_keys.update(&key, |info| {
            if info["status"] == "DELETED" {
                return Err(());
            }
            let at = now();
            info["status"] = json!("DELETED");
            info["deletedAt"] = json!(at);
            Ok(at)
        });
        match deleted {
            Some(Ok(at)) => {
                state.notify("BillingKey.Deleted", json!({"billingKey": key}));
                (StatusCode::OK, json!({"deletedAt": at}))
            }
            Some(Err(())) => (
                StatusCode::CONFLICT,
                json!({"type": "BILLING_KEY_ALREADY_DELETED", "message": "the billing key is deleted already"}),
            ),
            None => (StatusCode::NOT_FOUND, json!({"type": "BILLING_KEY_NOT_FOUND", "message": "no such billing key"})),
        }
    })
}

#[handler]
pub(super) fn pay_with_billing_key(
    state: Shared<'_>,
    request: &Request,
    Path(id): Path<String>,
    body: Vec<u8>,
) -> Response {
    let body = match authorized_body(&state, request, &body) {
        Ok(body) => body,
        Err(refused) => return reply(refused),
    };
    let text = |member: &str| body.get(member).and_then(Value::as_str).filter(|v| !v.trim().is_empty());
    let (Some(key), Some(order_name), Some(currency)) = (text("billingKey"), text("orderName"), text("currency"))
    else {
        return invalid("billingKey, orderName and currency are required");
    };
    let Some(total) = body.pointer("/amount/total").and_then(Value::as_i64).filter(|t| *t > 0) else {
        return invalid("amount.total must be a positive integer");
    };
    let (key, order_name, currency) = (key.to_owned(), order_name.to_owned(), currency.to_owned());
    once(&state, request, || {
        let Some(info) = state.billing_keys.get(&key) else {
            return (StatusCode::NOT_FOUND, json!({"type": "BILLING_KEY_NOT_FOUND", "message": "no such billing key"}));
        };
        if info["status"] == "DELETED" {
            return (StatusCode::CONFLICT, json!({"type": "BILLING_KEY_ALREADY_DELETED", "message": "deleted"}));
        }
        if state.payments.get(&id).is_some() {
            return (
                StatusCode::CONFLICT,
                json!({"type": "ALREADY_PAID", "message": "that payment id is paid already"}),
            );
        }
        // The card company behind PortOne declines this test card.
        if info.pointer("/methods/0/card/bin").and_then(Value::as_str) == Some(DECLINED_BIN) {
            return (
                StatusCode::BAD_GATEWAY,
                json!({"type": "PG_PROVIDER", "message": "the card company refused the charge",
                       "pgCode": "F113", "pgMessage": "the card company refused the charge"}),
            );
        }
        let customer = body.pointer("/customer/id").cloned().unwrap_or_else(|| info["customer"]["id"].clone());
        let mut payment = new_payment(&state, &id, &order_name, total, &currency, &customer, card_method(&info));
        paid(&mut payment);
        payment["billingKey"] = json!(key);
        let (pg_tx, at) = (payment["pgTxId"].clone(), payment["paidAt"].clone());
        state.payments.insert(id.clone(), payment.clone());
        state.notify("Transaction.Paid", json!({"paymentId": id, "transactionId": payment["transactionId"]}));
        (StatusCode::OK, json!({"payment": {"pgTxId": pg_tx, "paidAt": at}}))
    })
}

/// The first 8 digits of the card the fake's PG declines (4000-0000-0000-0002).
pub(super) const DECLINED_BIN: &str = "40000000";

/// The card of a billing key, as a payment's `method`.
fn card_method(info: &Value) -> Value {
    let card = info.pointer("/methods/0/card").cloned().unwrap_or_else(|| json!({}));
    json!({"type": "PaymentMethodCard", "card": card, "approvalNumber": "30000001",
           "installment": {"month": 0, "isInterestFree": false}, "pointUsed": false})
}

/// A card as PortOne shows it: the number masked, never whole.
fn masked_card(number: &str) -> Value {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let shown = |from: usize, to: usize| digits.get(from..to).unwrap_or("0000").to_owned();
    json!({"publisher": "361", "issuer": "361", "brand": "LOCAL", "type": "CREDIT", "ownerType": "PERSONAL",
           "bin": shown(0, 8), "name": "BC 카드", "number": format!("{}****{}*", shown(0, 8), shown(12, 15))})
}

/// A payment as `GET /payments/{paymentId}` answers it, READY: the caller
/// sets the status and what comes with it.
fn new_payment(
    state: &State,
    id: &str,
    order_name: &str,
    total: i64,
    currency: &str,
    customer: &Value,
    method: Value,
) -> Value {
    let at = now();
    let vat = total / 11;
    json!({
        "status": "READY", "id": id, "transactionId": uuid::Uuid::new_v4().to_string(),
        "merchantId": "merchant-00000000-0000-4000-8000-000000000001", "storeId": state.store_id,
        "method": method,
        "channel": {"type": "TEST", "id": "channel-id-fake", "key": "channel-key-fake", "name": "the fake's channel",
                    "pgProvider": "NICE_V2", "pgMerchantId": "nicepay00m"},
        "version": "V2", "requestedAt": at, "updatedAt": at, "statusChangedAt": at, "orderName": order_name,
        "amount": {"total": total, "taxFree": 0, "vat": vat, "supply": total - vat, "discount": 0, "paid": 0,
                   "cancelled": 0, "cancelledTaxFree": 0},
        "currency": currency,
        "customer": if customer.is_null() { json!({}) } else { json!({"id": customer}) },
        "origin": {"platformType": "PC", "ipAddress": "127.0.0.1"},
        "pgTxId": format!("pg-tx-{}", uuid::Uuid::new_v4().simple()),
        "receiptUrl": format!("https://receipt.example/payments/{id}"),
    })
}

/// The body of the fake's window, `POST /internal/payments/{paymentId}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Checkout {
    /// `card` (the default) or `virtualAccount`.
    #[serde(default)]
    method: Option<String>,
    /// The payment's total, in the currency's minor unit, as every PortOne
    /// amount is (`1050` USD is 10.50 USD).
    amount: i64,
    /// Its tax-free part (0 when absent), in the same unit.
    #[serde(default)]
    tax_free_amount: Option<i64>,
    #[serde(default)]
    order_name: Option<String>,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    card_number: Option<String>,
    /// The payment's currency (`KRW` when absent).
    #[serde(default)]
    currency: Option<String>,
    /// A test's switch: the payment is made but its webhook is lost on the
    /// way (none is sent), as when the merchant's endpoint was down for all
    /// of PortOne's retries.
    #[serde(default)]
    lose_webhook: bool,
}

/// What a customer does in PortOne's window: pays by card (PAID, then
/// `Transaction.Paid`), or gets a virtual account to pay into
/// (VIRTUAL_ACCOUNT_ISSUED, then `Transaction.VirtualAccountIssued`). A
/// payment id pre-registered with another amount, tax-free amount or
/// currency is refused as the window refuses it (409, the browser SDK's
/// `AmountNotEqualToPredefined`): nothing is charged or recorded.
#[handler]
pub(super) async fn customer_pays(
    state: Shared<'_>,
    request: &Request,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    if let Err(refused) = check(&state, request, None) {
        return reply(refused);
    }
    let checkout = match read_object(body).await {
        Ok(object) => match serde_json::from_value::<Checkout>(Value::Object(object)) {
            Ok(checkout) => checkout,
            Err(e) => return invalid(format!("the body is not a checkout: {e}")),
        },
        Err(refused) => return refused,
    };
    if checkout.amount <= 0 || id.trim().is_empty() {
        return invalid("amount must be positive and the payment id not blank");
    }
    let tax_free = checkout.tax_free_amount.unwrap_or(0);
    if !(0..=checkout.amount).contains(&tax_free) {
        return invalid("taxFreeAmount must be between 0 and amount");
    }
    let virtual_account = match checkout.method.as_deref() {
        None | Some("card") => false,
        Some("virtualAccount") => true,
        Some(other) => return invalid(format!("method {other:?} is not \"card\" or \"virtualAccount\"")),
    };
    let currency = checkout.currency.as_deref().unwrap_or("KRW");
    // PortOne's `Currency` enum: the ISO 4217 codes (with a minor unit, here).
    if !is_currency(currency) {
        return invalid(format!("currency {currency:?} is not a currency PortOne takes"));
    }
    let card = masked_card(checkout.card_number.as_deref().unwrap_or("4330123412341234"));
    let method = if virtual_account {
        json!({"type": "PaymentMethodVirtualAccount", "bank": "SHINHAN", "accountNumber": "56211105948400",
               "accountType": "NORMAL", "remitteeName": "the fake's store",
               "expiredAt": (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
               "issuedAt": now()})
    } else {
        json!({"type": "PaymentMethodCard", "card": card, "approvalNumber": "30000001",
               "installment": {"month": 0, "isInterestFree": false}, "pointUsed": false})
    };
    let customer = checkout.customer_id.map_or(Value::Null, Value::String);
    let name = checkout.order_name.as_deref().unwrap_or("a fake order");
    let mut payment = new_payment(&state, &id, name, checkout.amount, currency, &customer, method);
    let vat = (checkout.amount - tax_free) / 11;
    payment["amount"]["taxFree"] = json!(tax_free);
    payment["amount"]["vat"] = json!(vat);
    payment["amount"]["supply"] = json!(checkout.amount - tax_free - vat);
    let event = if virtual_account {
        payment["status"] = json!("VIRTUAL_ACCOUNT_ISSUED");
        "Transaction.VirtualAccountIssued"
    } else {
        paid(&mut payment);
        "Transaction.Paid"
    };
    {
        // Checked and recorded at once: a pre-registration between the two
        // would not be honoured.
        let _one = state.moving.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.payments.get(&id).is_some() {
            return refuse(StatusCode::CONFLICT, "ALREADY_PAID", "that payment id is taken");
        }
        if let Some(why) = state.pre_registered.get(&id).and_then(|r| r.mismatch(checkout.amount, tax_free, currency)) {
            return refused_by_window(&id, &why);
        }
        state.payments.insert(id.clone(), payment.clone());
        state.pre_registered.remove(&id);
    }
    if !checkout.lose_webhook {
        state.notify(event, json!({"paymentId": id, "transactionId": payment["transactionId"]}));
    }
    answer(StatusCode::OK, &payment)
}

fn paid(payment: &mut Value) {
    let at = now();
    payment["status"] = json!("PAID");
    payment["paidAt"] = json!(at);
    payment["statusChangedAt"] = json!(at);
    payment["updatedAt"] = json!(at);
    payment["amount"]["paid"] = payment["amount"]["total"].clone();
    payment["disputes"] = json!([]);
}

/// The customer pays into the virtual account.
#[handler]
pub(super) fn deposit(state: Shared<'_>, request: &Request, Path(id): Path<String>) -> Response {
    if let Err(refused) = check(&state, request, None) {
        return reply(refused);
    }
    let deposited = state.payments.update(&id, |payment| {
        if payment["status"] != "VIRTUAL_ACCOUNT_ISSUED" {
            return None;
        }
        paid(payment);
        Some(payment.clone())
    });
    match deposited {
        Some(Some(payment)) => {
            state.notify("Transaction.Paid", json!({"paymentId": id, "transactionId": payment["transactionId"]}));
            answer(StatusCode::OK, &payment)
        }
        Some(None) => refuse(
            StatusCode::CONFLICT,
            "PAYMENT_NOT_WAITING_FOR_DEPOSIT",
            "not a virtual account awaiting its deposit",
        ),
        None => refuse(StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND", "no payment of that id"),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CardToSave {
    customer_id: String,
    #[serde(default)]
    card_number: Option<String>,
}

/// A customer saves a card in PortOne's window: a billing key is issued.
#[handler]
pub(super) fn issue_billing_key(state: Shared<'_>, request: &Request, Json(card): Json<CardToSave>) -> Response {
    if let Err(refused) = check(&state, request, None) {
        return reply(refused);
    }
    if card.customer_id.trim().is_empty() {
        return invalid("customerId is required");
    }
    let key = format!("billing-key-{}", uuid::Uuid::new_v4());
    let at = now();
    let info = json!({
        "status": "ISSUED", "billingKey": key, "merchantId": "merchant-00000000-0000-4000-8000-000000000001",
        "storeId": state.store_id,
        "methods": [{"type": "BillingKeyPaymentMethodCard",
                     "card": masked_card(card.card_number.as_deref().unwrap_or("4330123412341234"))}],
        "channels": [{"type": "TEST", "id": "channel-id-fake", "key": "channel-key-fake", "name": "the fake's channel",
                      "pgProvider": "NICE_V2", "pgMerchantId": "nicepay00m"}],
        "customer": {"id": card.customer_id}, "requestedAt": at, "issuedAt": at,
    });
    state.billing_keys.insert(key.clone(), info.clone());
    state.notify("BillingKey.Issued", json!({"billingKey": key}));
    answer(StatusCode::OK, &info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_is_one_json_object_of_at_most_max_body_bytes() {
        let object = read_object(Body::from(r#"{"totalAmount": 1}"#)).await.ok().unwrap();
        assert_eq!(object["totalAmount"], 1);
        let padded = format!(r#"{{"padding": "{}"}}"#, "x".repeat(MAX_BODY));
        for refused in [padded.as_str(), "[1]", "{", ""] {
            let answer = read_object(Body::from(refused.to_owned())).await.err().unwrap();
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{}", &refused[..refused.len().min(20)]);
            let body: Value = serde_json::from_slice(&answer.into_body().into_vec().await.unwrap()).unwrap();
            assert_eq!(body["type"], "INVALID_REQUEST");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        }
    }
}
