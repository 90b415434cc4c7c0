//! Amounts prepared before the window (PortOne V1 document, tag
//! `payments.validation`): `POST /payments/prepare` (`preparePayment`)
//! registers `{merchant_uid, amount, currency?}`, `PUT /payments/prepare`
//! (`editPreparePayment`) changes what was registered, and
//! `GET /payments/prepare/{merchant_uid}` (`getPaymentPrepareByMerchantUid`)
//! reads it; each answers a `PaymentPrepareResponse` (the envelope around a
//! `PaymentPrepareAnnotation`). The window ([`super::window`]) refuses
//! another amount, or another currency when one was prepared.
//!
//! Both bodies are JSON or `application/x-www-form-urlencoded`, as the
//! document's `consumes` lists. A `merchant_uid` is at most 40 characters
//! (its `maxLength`).

use std::sync::Arc;

use payments_domain::{Currency, Money};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde_json::{Map, Number, Value};

use super::handlers::{
    Fail, Reply, authorize, bad_request, done, not_found, positive, read, read_body, refused, require,
};
use super::wire::PaymentPrepare;
use super::{State, success};

/// The documented `maxLength` of a prepared `merchant_uid`.
const MERCHANT_UID_CHARS: usize = 40;

/// `POST /payments/prepare`: registers the amount (200, the
/// registration); a `merchant_uid` registered already is refused as
/// Iamport refuses (200, `code` 1: `PUT /payments/prepare` changes it).
#[handler]
pub(super) async fn prepare(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let prepared = read_prepared(request, body).await?;
            let _one = state.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if state.prepared.get(&prepared.merchant_uid).is_some() {
                return Err(refused(format!(
                    "an amount is prepared for merchant_uid {} already; PUT /payments/prepare changes it",
                    prepared.merchant_uid
                )));
            }
            state.prepared.insert(prepared.merchant_uid.clone(), prepared.clone());
            Ok(success(StatusCode::OK, prepared))
        }
        .await,
    )
}

/// `PUT /payments/prepare`: changes a registered amount (200, the
/// registration); 404 when none is registered for the `merchant_uid`, as
/// the document says.
#[handler]
pub(super) async fn change(request: &Request, body: Body, state: Data<&Arc<State>>) -> Response {
    done(
        async {
            authorize(&state, request)?;
            let prepared = read_prepared(request, body).await?;
            let _one = state.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let changed = state.prepared.update(&prepared.merchant_uid, |held| *held = prepared.clone());
            changed.ok_or_else(|| {
                not_found(format!("no amount is prepared for merchant_uid {}", prepared.merchant_uid))
            })?;
            Ok(success(StatusCode::OK, prepared))
        }
        .await,
    )
}

/// `GET /payments/prepare/{merchant_uid}`: the registration (200); none is
/// answered as the document describes a non-zero `code` (200, `code` 1).
#[handler]
pub(super) async fn read_prepare(
    request: &Request,
    Path(merchant_uid): Path<String>,
    state: Data<&Arc<State>>,
) -> Response {
    done((|| -> Reply {
        authorize(&state, request)?;
        let prepared = state
            .prepared
            .get(&merchant_uid)
            .ok_or_else(|| refused(format!("no amount is prepared for merchant_uid {merchant_uid}")))?;
        Ok(success(StatusCode::OK, prepared))
    })())
}

/// The body of `POST`/`PUT /payments/prepare`, JSON or a form, checked: a
/// `merchant_uid` of 1 to 40 characters, a positive `amount` with no more
/// decimals than its `currency` has, and a three-letter `currency` (stored
/// upper-case) when given.
async fn read_prepared(request: &Request, body: Body) -> Result<PaymentPrepare, Fail> {
    let form = request.content_type().is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let mut prepared: PaymentPrepare = if form {
        let bytes = read_body(body).await?;
        let mut fields = Map::new();
        for (key, value) in url::form_urlencoded::parse(&bytes) {
            let value = if key == "amount" {
                let number: Number =
                    value.parse().map_err(|_| bad_request(format!("amount {value:?} is not a number")))?;
                Value::Number(number)
            } else {
                Value::String(value.into_owned())
            };
            fields.insert(key.into_owned(), value);
        }
        serde_json::from_value(Value::Object(fields)).map_err(|e| bad_request(format!("invalid request body: {e}")))?
    } else {
        read(body).await?
    };
    require("merchant_uid", &prepared.merchant_uid)?;
    if prepared.merchant_uid.chars().count() > MERCHANT_UID_CHARS {
        return Err(bad_request(format!("merchant_uid must be at most {MERCHANT_UID_CHARS} characters")));
    }
    positive("amount", prepared.amount)?;
    if let Some(code) = prepared.currency.take().filter(|c| !c.is_empty()) {
        let currency = Currency::parse(&code).map_err(|e| bad_request(e.to_string()))?;
        currency.check_amount("amount", prepared.amount).map_err(|e| bad_request(e.to_string()))?;
        prepared.currency = Some(currency.as_str().to_owned());
    }
    Ok(prepared)
}

/// Why the window refuses to charge `amount` in `currency` for an order
/// prepared as `prepared`; `None` when it is what was prepared.
pub(super) fn mismatch(prepared: &PaymentPrepare, amount: Money, currency: &str) -> Option<String> {
    if prepared.amount != amount {
        return Some(format!("the amount {amount} is not the {} prepared for this merchant_uid", prepared.amount));
    }
    match &prepared.currency {
        Some(expected) if expected != currency => {
            Some(format!("the currency {currency} is not the {expected} prepared for this merchant_uid"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(amount: &str, currency: Option<&str>) -> PaymentPrepare {
        PaymentPrepare {
            merchant_uid: "m-1".into(),
            amount: amount.parse().unwrap(),
            currency: currency.map(str::to_owned),
        }
    }

    #[test]
    fn the_window_checks_the_amount_and_a_prepared_currency() {
        let money = |text: &str| text.parse::<Money>().unwrap();
        assert_eq!(mismatch(&prepared("1000", None), money("1000.0"), "USD"), None, "any currency when none");
        assert!(mismatch(&prepared("1000", None), money("999"), "KRW").is_some_and(|m| m.contains("1000")));
        assert_eq!(mismatch(&prepared("14.2", Some("USD")), money("14.20"), "USD"), None);
        assert!(mismatch(&prepared("14.2", Some("USD")), money("14.2"), "KRW").is_some_and(|m| m.contains("USD")));
    }
}
