//! Test-only routes (`/internal`, no credentials): what happens outside the
//! merchant's calls (the customer's deposit, the bank reversing it, the
//! confirmation window closing, the card-registration window, Toss finishing
//! a cancel later) and a webhook receiver.
//!
//! A route asked of a payment in the wrong state answers 400 with
//! `NOT_WAITING_FOR_DEPOSIT` (deposit), `NOT_DEPOSITED` (reversal) or
//! `NOT_IN_PROGRESS` (expiry); finishing a cancel that is not `IN_PROGRESS`
//! answers 409 `CANCEL_NOT_IN_PROGRESS`.

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::webhook::TossNotification;
use crate::wire::{TossPayment, TossPaymentStatus};

use super::REFUSED_CARD_NUMBER;
use super::TossApiVersion;
use super::handlers::{
    CANCEL_IN_PROGRESS, CANCEL_STATUS, Fail, Reply, State, cancel_status, card_fields, complete_cancel, json, new_key,
    new_transaction_key, now, read, respond, stored, text,
};
use super::render::mask_card_number;
use super::state::{EXPIRED_PAYMENT, FakePayment, FakeState, NextCancel, PendingAuth};

/// Changes a payment and, when `change` succeeds, notifies and answers it.
fn change_payment(state: &FakeState, key: &str, change: impl FnOnce(&mut FakePayment) -> Result<(), Fail>) -> Response {
    let outcome = state.payments.update(&key.to_owned(), |fake| change(fake).map(|()| fake.clone()));
    respond(outcome.ok_or_else(|| Fail::payment_not_found(key)).and_then(|r| r).and_then(|payment| {
        state.notify(&payment);
        json(StatusCode::OK, &state.render(&payment))
    }))
}

fn wrong_state(code: &'static str, message: String) -> Fail {
    Fail::new(StatusCode::BAD_REQUEST, code, message)
}

/// `GET /internal/{paymentKey}/confirmation`: the `Idempotency-Key` the
/// payment's confirmation carried, `{"idempotencyKey": null}` when it carried
/// none or was not confirmed (so a test over HTTP can check the merchant sent one).
#[handler]
pub(crate) async fn confirmation(Path(key): Path<String>, Data(state): State<'_>) -> Response {
    respond(match state.payments.get(&key) {
        Some(fake) => json(StatusCode::OK, &json!({ "idempotencyKey": fake.confirm_idempotency_key })),
        None => Err(Fail::payment_not_found(&key)),
    })
}

/// `PUT /internal/{paymentKey}/deposit`: the customer pays the virtual
/// account; the payment becomes `DONE`.
#[handler]
pub(crate) async fn deposit(Path(key): Path<String>, Data(state): State<'_>) -> Response {
    change_payment(state, &key, |fake| {
        let TossPayment::VirtualAccount(payment) = &mut fake.payment else {
            return Err(Fail::bad("only a virtual-account payment takes a deposit"));
        };
        if payment.common.status != TossPaymentStatus::WaitingForDeposit {
            return Err(wrong_state(
                "NOT_WAITING_FOR_DEPOSIT",
                format!("the payment is {}, not WAITING_FOR_DEPOSIT", payment.common.status),
            ));
        }
        payment.common.status = TossPaymentStatus::Done;
        payment.common.approved_at = Some(now());
        payment.common.transaction_key = Some(new_transaction_key());
        payment.virtual_account.settlement_status = "COMPLETED".to_owned();
        Ok(())
    })
}

/// `PUT /internal/{paymentKey}/reverse-deposit`: the bank takes a deposit
/// back (the customer's transfer failed after all). 2022-11-16: `DONE` ->
/// `WAITING_FOR_DEPOSIT`, to be paid again; 1.4: `DONE` -> `CANCELED`. Toss
/// does not document the rest; here `approvedAt` stays, a new
/// `lastTransactionKey` is made and `settlementStatus` is `INCOMPLETED` again.
#[handler]
pub(crate) async fn reverse_deposit(Path(key): Path<String>, Data(state): State<'_>) -> Response {
    let after = match state.version {
        TossApiVersion::V2022_11_16 => TossPaymentStatus::WaitingForDeposit,
        TossApiVersion::V1_4 => TossPaymentStatus::Canceled,
    };
    change_payment(state, &key, |fake| {
        let TossPayment::VirtualAccount(payment) = &mut fake.payment else {
            return Err(Fail::bad("only a virtual-account payment has a deposit to reverse"));
        };
        if payment.common.status != TossPaymentStatus::Done {
            return Err(wrong_state(
                "NOT_DEPOSITED",
                format!("the payment is {}, not DONE with its deposit", payment.common.status),
            ));
        }
        payment.common.status = after;
        payment.common.transaction_key = Some(new_transaction_key());
        payment.virtual_account.settlement_status = "INCOMPLETED".to_owned();
        Ok(())
    })
}

/// `PUT /internal/{paymentKey}/expire`: the confirmation window closes
/// (Toss: 10 minutes after the authentication); `IN_PROGRESS` or `READY` ->
/// `EXPIRED`.
#[handler]
pub(crate) async fn expire(Path(key): Path<String>, Data(state): State<'_>) -> Response {
    change_payment(state, &key, |fake| {
        let common = fake.payment.common_mut();
        if !matches!(common.status, TossPaymentStatus::InProgress | TossPaymentStatus::Ready) {
            return Err(wrong_state(
                "NOT_IN_PROGRESS",
                format!("the payment is {}, not IN_PROGRESS or READY", common.status),
            ));
        }
        common.status = TossPaymentStatus::Expired;
        fake.failure = Some(EXPIRED_PAYMENT);
        Ok(())
    })
}

/// `PUT /internal/{paymentKey}/cancel-behaviour` `{"next": "done" |
/// "in_progress" | "aborted"}`: how the API's cancels of the payment are
/// answered from now on ([`NextCancel`]; `done` until set). Answers
/// `{paymentKey, next}`.
#[handler]
pub(crate) async fn cancel_behaviour(Path(key): Path<String>, body: Body, Data(state): State<'_>) -> Response {
    respond(
        async {
            let input: Value = read(body).await?;
            let next = input
                .get("next")
                .and_then(Value::as_str)
                .and_then(NextCancel::parse)
                .ok_or_else(|| Fail::bad("next must be \"done\", \"in_progress\" or \"aborted\""))?;
            state
                .payments
                .update(&key, |fake| fake.cancel_behaviour = next)
                .ok_or_else(|| Fail::payment_not_found(&key))?;
            json(StatusCode::OK, &json!({ "paymentKey": key, "next": next.as_str() }))
        }
        .await,
    )
}

/// `PUT /internal/{paymentKey}/cancels/{transactionKey}` `{"outcome": "done"
/// | "aborted", "webhook": true}`: Toss finishes an `IN_PROGRESS` cancel.
/// `done` makes it `DONE` (its `canceledAt` now) and moves the money as a
/// cancel done at once does; `aborted` makes it `ABORTED` and changes
/// nothing else. With `webhook` (the default), `CANCEL_STATUS_CHANGED` is
/// sent with the cancel as `data`, the one webhook Toss documents for it.
/// Answers the payment; 404 `NOT_FOUND_CANCEL` for an unknown cancel.
#[handler]
pub(crate) async fn finish_cancel(
    Path((key, transaction_key)): Path<(String, String)>,
    body: Body,
    Data(state): State<'_>,
) -> Response {
    respond(finish_cancel_reply(&key, &transaction_key, body, state).await)
}

async fn finish_cancel_reply(key: &str, transaction_key: &str, body: Body, state: &FakeState) -> Reply {
    let input: Value = read(body).await?;
    let done = match input.get("outcome").and_then(Value::as_str) {
        Some("done") => true,
        Some("aborted") => false,
        _ => return Err(Fail::bad("outcome must be \"done\" or \"aborted\"")),
    };
    let announce = match input.get("webhook") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(announce)) => *announce,
        Some(_) => return Err(Fail::bad("webhook must be a boolean")),
    };
    let finished = state.payments.update(&key.to_owned(), |fake| {
        let cancels = fake.payment.common_mut().cancels.iter_mut().flatten();
        let Some((index, entry)) =
            cancels.enumerate().find(|(_, c)| c.transaction_key.as_deref() == Some(transaction_key))
        else {
            return Err(Fail::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND_CANCEL",
                format!("the payment has no cancel {transaction_key:?}"),
            ));
        };
        if cancel_status(entry) != CANCEL_IN_PROGRESS {
            return Err(Fail::new(
                StatusCode::CONFLICT,
                "CANCEL_NOT_IN_PROGRESS",
                format!("the cancel is {}, not {CANCEL_IN_PROGRESS}", cancel_status(entry)),
            ));
        }
        let part = stored(&entry.cancel_amount);
        entry.extra.insert(CANCEL_STATUS.to_owned(), (if done { "DONE" } else { "ABORTED" }).into());
        if done {
            entry.canceled_at = now();
            complete_cancel(fake, part);
        }
        Ok((fake.clone(), index))
    });
    let (payment, index) = finished.ok_or_else(|| Fail::payment_not_found(key))??;
    let answer = state.render(&payment);
    if announce {
        state.notify_cancel_status(answer["cancels"][index].clone());
    }
    json(StatusCode::OK, &answer)
}

/// Body of `POST /internal/billing/auth`: the card a customer registers in
/// Toss's card-registration window.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardRegistration {
    customer_key: String,
    card_number: String,
    card_expiration_year: String,
    card_expiration_month: String,
}

/// `POST /internal/billing/auth`: the card-registration window. Answers
/// `{authKey, customerKey}`, as the window hands them to the merchant's
/// success URL; the `authKey` is exchanged once with
/// `POST /v1/billing/authorizations/issue`.
#[handler]
pub(crate) async fn billing_auth(body: Body, Data(state): State<'_>) -> Response {
    respond(billing_auth_reply(body, state).await)
}

async fn billing_auth_reply(body: Body, state: &FakeState) -> Reply {
    let input: CardRegistration = read(body).await?;
    card_fields(&input.card_number, &input.card_expiration_year, &input.card_expiration_month, None)?;
    text("customerKey", &input.customer_key, 300)?;
    let auth_key = format!("bln_{}", new_key());
    state.billing_auths.insert(
        auth_key.clone(),
        PendingAuth {
            customer_key: input.customer_key.clone(),
            card_number: mask_card_number(&input.card_number),
            refused: input.card_number == REFUSED_CARD_NUMBER,
            used: false,
        },
    );
    json(state.created(), &json!({ "authKey": auth_key, "customerKey": input.customer_key }))
}

/// `POST /internal/webhook`: a webhook receiver that keeps the last body
/// about each payment, by its payment key and by its order id. A body that
/// is no Toss notification, or names no payment, is a 400.
#[handler]
pub(crate) async fn webhook(body: Body, Data(state): State<'_>) -> Response {
    respond(
        async {
            let value: Value = read(body).await?;
            TossNotification::parse(&value).map_err(|e| Fail::bad(e.to_string()))?;
            if !state.remember_webhook(&value) {
                return Err(Fail::bad("the webhook names no paymentKey nor orderId"));
            }
            Ok(Response::builder().status(state.created()).finish())
        }
        .await,
    )
}
