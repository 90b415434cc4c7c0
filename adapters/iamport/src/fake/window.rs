//! The fake's window: what `IMP.request_pay` does for a customer, for tests.
//!
//! Iamport checks a prepared amount (`POST /payments/prepare`) only in its
//! window: the V1 document says the PG's window is not opened when the
//! amount given to `IMP.request_pay()` for a prepared `merchant_uid` is
//! another. The API's own payments (`POST /subscribe/payments/onetime`,
//! `/again`) are not checked, as documented.
//!
//! `POST /internal/payments` takes the members of `IMP.request_pay` it
//! needs (below) and answers as the SDK's callback reports a payment
//! (`sdk/ko/v1-sdk/javascript-sdk/payrt.mdx`): `success`, `imp_uid`,
//! `merchant_uid`, `pay_method`, `paid_amount`, `status`, ... A refusal
//! before the PG's window (another amount than the prepared one, an order
//! paid already) is `success: false` with `imp_uid: null` and an
//! `error_msg`, as the callback documents a failed pre-validation; it
//! charges nothing, records no payment and sends no webhook.

use std::sync::Arc;

use payments_domain::{Currency, Money};
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use serde_json::{Number, Value, json};

use super::handlers::{
    Reply, authorize, bad_request, card_details, check_url, digits, done, keep_payment, new_base, now, optional,
    positive, random_digits, read, require,
};
use super::wire::{IamportCurrency, IamportPayment, PaymentStatus, VBankDetails};
use super::{State, json_response};

/// The card a window payment is made with when the body names none.
const DEFAULT_CARD: &str = "4330-1234-1234-1234";

/// How long a virtual account issued in the window waits for its deposit.
const VBANK_DAYS: i64 = 3;

/// The body of `POST /internal/payments`: `IMP.request_pay`'s parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WindowPayment {
    merchant_uid: String,
    /// In the currency's major unit, as every Iamport amount.
    amount: Money,
    /// `KRW` when absent.
    #[serde(default)]
    currency: Option<IamportCurrency>,
    /// `card` (the default) or `vbank`.
    #[serde(default)]
    pay_method: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    buyer_name: Option<String>,
    #[serde(default)]
    buyer_email: Option<String>,
    #[serde(default)]
    buyer_tel: Option<String>,
    #[serde(default)]
    buyer_addr: Option<String>,
    #[serde(default)]
    buyer_postcode: Option<String>,
    #[serde(default)]
    custom_data: Option<String>,
    /// Where this payment's webhooks go (the configured URL when absent).
    #[serde(default)]
    notice_url: Option<String>,
    /// The card paid with (`dddd-dddd-dddd-dddd`; a test card when absent).
    #[serde(default)]
    card_number: Option<String>,
    #[serde(default)]
    card_quota: Option<i64>,
}

/// The window's refusal before the PG's window opens: 409 with the
/// callback's `{success: false, imp_uid: null, merchant_uid, error_msg}`.
fn refusal(merchant_uid: &str, why: String) -> Response {
    json_response(
        StatusCode::CONFLICT,
        &json!({"success": false, "imp_uid": null, "merchant_uid": merchant_uid, "error_msg": why}),
    )
}

/// The callback's report of a payment the window made.
fn reported(payment: &IamportPayment) -> Value {
    let base = payment.base();
    let mut report = json!({
        "success": true, "imp_uid": base.imp_uid, "merchant_uid": base.merchant_uid,
        "pay_method": base.pay_method, "paid_amount": base.amount, "currency": base.currency,
        "status": base.status.as_str(), "name": base.name, "pg_provider": base.pg_provider,
        "pg_tid": base.pg_tid, "pg_type": "payment", "buyer_name": base.buyer_name,
        "buyer_email": base.buyer_email, "buyer_tel": base.buyer_tel, "buyer_addr": base.buyer_addr,
        "buyer_postcode": base.buyer_postcode, "custom_data": base.custom_data, "paid_at": base.paid_at,
        "receipt_url": base.receipt_url,
    });
    match payment {
        IamportPayment::Card { card, .. } => {
            report["apply_num"] = json!(card.apply_num);
            report["card_name"] = json!(card.card_name);
            report["card_number"] = json!(card.card_number);
            report["card_quota"] = json!(card.card_quota);
        }
        IamportPayment::VBank { vbank, .. } => {
            report["vbank_num"] = json!(vbank.vbank_num);
            report["vbank_name"] = json!(vbank.vbank_name);
            report["vbank_holder"] = json!(vbank.vbank_holder);
            report["vbank_date"] = json!(vbank.vbank_date);
        }
        IamportPayment::Transfer { .. } | IamportPayment::Other(_) => {}
    }
    report
}

/// `POST /internal/payments`: a customer pays in Iamport's window. With the
/// prepared amount (or none prepared): a card payment is `paid`, a `vbank`
/// one issues a `ready` virtual account (paid by `PUT /internal/deposit/
/// {imp_uid}`); the payment is recorded, its webhook sent, and the
/// callback's report answered 200. Another amount than the one prepared for
/// the `merchant_uid` (or another currency than a prepared one), or a
/// `merchant_uid` whose payment is paid, issued or cancelled: 409, nothing
/// recorded. Needs a token, as every route of the fake but `getToken`.
#[handler]
pub(super) async fn pay_in_window(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let input: WindowPayment = read(body).await?;
            checkout(&state, input)
        }
        .await,
    )
}

/// The window's checks and the payment it makes, at once for an order (a
/// preparation or another window cannot come between).
fn checkout(state: &State, input: WindowPayment) -> Reply {
    require("merchant_uid", &input.merchant_uid)?;
    positive("amount", input.amount)?;
    let currency = input.currency.map_or("KRW", IamportCurrency::as_str);
    Currency::parse(currency)
        .and_then(|c| c.check_amount("amount", input.amount))
        .map_err(|e| bad_request(e.to_string()))?;
    let vbank = match input.pay_method.as_deref() {
        None | Some("card") => false,
        Some("vbank") => true,
        Some(other) => return Err(bad_request(format!("pay_method {other:?} is not \"card\" or \"vbank\""))),
    };
    let card_number = input.card_number.as_deref().unwrap_or(DEFAULT_CARD);
    let groups: Vec<&str> = card_number.split('-').collect();
    if groups.len() != 4 || groups.iter().any(|g| g.len() != 4 || !digits(g)) {
        return Err(bad_request("card_number must look like 0000-0000-0000-0000"));
    }
    if input.card_quota.is_some_and(|q| !(0..=36).contains(&q)) {
        return Err(bad_request("card_quota must be 0 to 36 months"));
    }
    check_url("notice_url", input.notice_url.as_ref())?;
    for (field, value) in [
        ("name", &input.name),
        ("buyer_name", &input.buyer_name),
        ("buyer_email", &input.buyer_email),
        ("buyer_tel", &input.buyer_tel),
        ("buyer_addr", &input.buyer_addr),
        ("buyer_postcode", &input.buyer_postcode),
        ("custom_data", &input.custom_data),
    ] {
        optional(field, value.as_ref())?;
    }

    let _one = state.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let earlier = state.orders.get(&input.merchant_uid).and_then(|uid| state.payments.get(&uid));
    if let Some(earlier) = earlier.filter(|e| e.payment.base().status != PaymentStatus::Failed) {
        let status = earlier.payment.base().status;
        return Ok(refusal(&input.merchant_uid, format!("the order's payment is {status} already")));
    }
    if let Some(why) =
        state.prepared.get(&input.merchant_uid).and_then(|p| super::prepare::mismatch(&p, input.amount, currency))
    {
        return Ok(refusal(&input.merchant_uid, why));
    }
    let status = if vbank { PaymentStatus::Ready } else { PaymentStatus::Paid };
    let mut base = new_base(if vbank { "vbank" } else { "card" }, input.merchant_uid, input.amount, currency, status);
    // Paid in the browser's window, not by the API.
    base.channel = "pc".to_owned();
    base.name = input.name;
    base.buyer_name = input.buyer_name;
    base.buyer_email = input.buyer_email;
    base.buyer_tel = input.buyer_tel;
    base.buyer_addr = input.buyer_addr;
    base.buyer_postcode = input.buyer_postcode;
    base.custom_data = input.custom_data;
    let payment = if vbank {
        let issued = now();
        let vbank = VBankDetails {
            vbank_code: "088".to_owned(),
            vbank_name: "088 bank".to_owned(),
            vbank_num: random_digits(12),
            vbank_holder: "the fake's store".to_owned(),
            vbank_date: Number::from(issued + VBANK_DAYS * 24 * 60 * 60),
            vbank_issued_at: Number::from(issued),
        };
        IamportPayment::VBank { vbank, base }
    } else {
        IamportPayment::Card { card: card_details(card_number, input.card_quota), base }
    };
    keep_payment(state, &payment, input.notice_url);
    Ok(json_response(StatusCode::OK, &reported(&payment)))
}
