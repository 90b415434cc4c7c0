//! `POST /payments/{paymentId}/pre-register` (operation `preRegisterPayment`
//! of the V2 document): what it registers, and the window's check of it.
//!
//! The body is a `PreRegisterPaymentBody` (`storeId`, `totalAmount`,
//! `taxFreeAmount`, `currency`, none of them required); the answer a
//! `PreRegisterPaymentResponse` (an object without members); the errors the
//! `PreRegisterPaymentError` union: `INVALID_REQUEST` (400), `UNAUTHORIZED`
//! (401), `FORBIDDEN` (403) and `ALREADY_PAID` (409). The document names no
//! refusal of a payment id registered already, so a second registration is
//! taken and replaces the first. Each member given is a condition the window
//! checks; the browser SDK's error for a payment that does not meet it is
//! `AmountNotEqualToPredefined` (`TxServicePayErrorCode`,
//! `src/schema/browser-sdk.yml`).

use poem::http::StatusCode;
use poem::web::Path;
use poem::{Body, Request, Response, handler};
use serde_json::{Value, json};

use super::handlers::{Shared, answer, check, integer, invalid, is_currency, read_object, refuse, reply};

/// What a payment id was pre-registered with: each member given is a
/// condition the window checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PreRegistered {
    total_amount: Option<i64>,
    tax_free_amount: Option<i64>,
    currency: Option<String>,
}

impl PreRegistered {
    /// Why the window refuses a payment of `total` (of which `tax_free` is
    /// tax-free) in `currency`; `None` when it is what was registered.
    pub(super) fn mismatch(&self, total: i64, tax_free: i64, currency: &str) -> Option<String> {
        if let Some(expected) = self.total_amount
            && expected != total
        {
            return Some(format!("the amount {total} is not the pre-registered totalAmount {expected}"));
        }
        if let Some(expected) = self.tax_free_amount
            && expected != tax_free
        {
            return Some(format!("the tax-free amount {tax_free} is not the pre-registered taxFreeAmount {expected}"));
        }
        match &self.currency {
            Some(expected) if expected != currency => {
                Some(format!("the currency {currency} is not the pre-registered currency {expected}"))
            }
            _ => None,
        }
    }
}

/// The window's refusal of a payment that is not what its id was
/// pre-registered with, as the browser SDK reports a failed payment
/// (`PaymentResponse`: `transactionType`, `txId`, `paymentId`, `code`,
/// `message`), answered 409. Nothing was charged or recorded.
pub(super) fn refused_by_window(payment_id: &str, why: &str) -> Response {
    answer(
        StatusCode::CONFLICT,
        &json!({
            "transactionType": "PAYMENT", "txId": uuid::Uuid::new_v4().to_string(), "paymentId": payment_id,
            "code": "AmountNotEqualToPredefined", "message": why,
        }),
    )
}

/// `POST /payments/{paymentId}/pre-register`: registers (or registers
/// again, replacing) what the window must charge for the payment id; 409
/// `ALREADY_PAID` once the id is paid (or holds a virtual account).
#[handler]
pub(super) async fn pre_register(state: Shared<'_>, request: &Request, Path(id): Path<String>, body: Body) -> Response {
    let body = match read_object(body).await {
        Ok(object) => Value::Object(object),
        Err(refused) => return refused,
    };
    let store_id = match body.get("storeId") {
        None | Some(Value::Null) => None,
        Some(Value::String(store_id)) => Some(store_id.as_str()),
        Some(_) => return invalid("storeId must be a string"),
    };
    if let Err(refused) = check(&state, request, store_id) {
        return reply(refused);
    }
    if id.trim().is_empty() {
        return invalid("the payment id must not be blank");
    }
    let (total_amount, tax_free_amount) = match (integer(&body, "totalAmount"), integer(&body, "taxFreeAmount")) {
        (Ok(total), Ok(tax_free)) => (total, tax_free),
        (Err(refused), _) | (_, Err(refused)) => return reply(refused),
    };
    if total_amount.is_some_and(|t| t < 0) || tax_free_amount.is_some_and(|t| t < 0) {
        return invalid("totalAmount and taxFreeAmount must not be negative");
    }
    if let (Some(total), Some(tax_free)) = (total_amount, tax_free_amount)
        && tax_free > total
    {
        return invalid("taxFreeAmount must not exceed totalAmount");
    }
    let currency = match body.get("currency") {
        None | Some(Value::Null) => None,
        Some(Value::String(code)) if is_currency(code) => Some(code.clone()),
        Some(other) => return invalid(format!("currency {other} is not a currency PortOne takes")),
    };
    let registered = PreRegistered { total_amount, tax_free_amount, currency };
    // Checked and recorded at once: a window payment between the two would
    // be paid without the registration.
    let _one = state.moving.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if state.payments.get(&id).is_some() {
        return refuse(StatusCode::CONFLICT, "ALREADY_PAID", "that payment id is paid already");
    }
    state.pre_registered.insert(id, registered);
    answer(StatusCode::OK, &json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_members_registered_are_checked() {
        let all = PreRegistered { total_amount: Some(1050), tax_free_amount: Some(50), currency: Some("USD".into()) };
        assert_eq!(all.mismatch(1050, 50, "USD"), None);
        assert!(all.mismatch(1000, 50, "USD").is_some_and(|m| m.contains("totalAmount 1050")));
        assert!(all.mismatch(1050, 0, "USD").is_some_and(|m| m.contains("taxFreeAmount 50")));
        assert!(all.mismatch(1050, 50, "KRW").is_some_and(|m| m.contains("currency USD")));
        let amount_only = PreRegistered { total_amount: Some(1000), tax_free_amount: None, currency: None };
        assert_eq!(amount_only.mismatch(1000, 300, "JPY"), None);
        let nothing = PreRegistered { total_amount: None, tax_free_amount: None, currency: None };
        assert_eq!(nothing.mismatch(1, 0, "KRW"), None);
    }
}
