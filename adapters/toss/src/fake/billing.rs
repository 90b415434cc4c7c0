//! Saved cards ("billing"): registered with the card itself (1.x,
//! `POST /v1/billing/authorizations/card`) or through the card-registration
//! window's `authKey` (`POST /v1/billing/authorizations/issue`), read back
//! with the original's route, and charged. Card numbers are kept masked.
//!
//! Codes where Toss's documentation is silent: an unknown `authKey` is 404
//! `NOT_FOUND_AUTH_KEY`, one already exchanged 400 `ALREADY_USED_AUTH_KEY`,
//! a customer key other than the card's 403 `NOT_MATCHES_CUSTOMER_KEY`, an
//! unknown billing key 404 `NOT_FOUND_BILLING`.

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde_json::{Map, Number};

use payments_domain::Money;

use crate::wire::{
    METHOD_CARD, TossBilling, TossBillingCreate, TossBillingCustomerKey, TossBillingIssue, TossBillingPayment,
    TossCardPayment, TossPayment, TossPaymentStatus,
};

use super::REFUSED_CARD_NUMBER;
use super::handlers::{
    Fail, NewPayment, Reply, State, authorize, card, card_fields, common, json, new_key, now, positive, read, respond,
    text,
};
use super::render::{CARD_COMPANY, mask_card_number};
use super::state::{FakeBilling, FakePayment, FakeState, REJECT_CARD_COMPANY};

fn not_matching_customer() -> Fail {
    Fail::new(
        StatusCode::FORBIDDEN,
        "NOT_MATCHES_CUSTOMER_KEY",
        "빌링 인증 고객키와 결제 요청 고객키가 일치하지 않습니다.",
    )
}

/// Saves a card for `customer_key` and answers it.
fn save(state: &FakeState, customer_key: String, masked_number: String, refused: bool) -> FakeBilling {
    let billing = FakeBilling {
        billing: TossBilling {
            m_id: "tosspayments".to_owned(),
            billing_key: new_key(),
            method: METHOD_CARD.to_owned(),
            card_company: CARD_COMPANY.to_owned(),
            card_number: masked_number,
            authenticated_at: now(),
            customer_key,
            extra: Map::new(),
        },
        refused,
    };
    state.billings.insert(billing.billing.billing_key.clone(), billing.clone());
    billing
}

/// `POST /v1/billing/authorizations/card`: saves a card for a customer (1.x).
#[handler]
pub(crate) async fn billing_card(req: &Request, body: Body, Data(state): State<'_>) -> Response {
    respond(billing_card_reply(req, body, state).await)
}

async fn billing_card_reply(req: &Request, body: Body, state: &FakeState) -> Reply {
    authorize(req, state)?;
    let input: TossBillingCreate = read(body).await?;
    card_fields(
        &input.card_number,
        &input.card_expiration_year,
        &input.card_expiration_month,
        Some(&input.customer_birthday),
    )?;
    text("cardPassword", &input.card_password, 4)?;
    text("customerKey", &input.customer_key, 300)?;
    if let Some(email) = &input.customer_email
        && !email.contains('@')
    {
        return Err(Fail::bad("customerEmail must be an e-mail address"));
    }
    let refused = input.card_number == REFUSED_CARD_NUMBER;
    let billing = save(state, input.customer_key, mask_card_number(&input.card_number), refused);
    json(state.created(), &state.render_billing(&billing))
}

/// `POST /v1/billing/authorizations/issue` `{authKey, customerKey}`: the
/// billing key of a card registered in the window; each `authKey` once.
#[handler]
pub(crate) async fn billing_issue(req: &Request, body: Body, Data(state): State<'_>) -> Response {
    respond(billing_issue_reply(req, body, state).await)
}

async fn billing_issue_reply(req: &Request, body: Body, state: &FakeState) -> Reply {
    authorize(req, state)?;
    let input: TossBillingIssue = read(body).await?;
    text("authKey", &input.auth_key, 300)?;
    text("customerKey", &input.customer_key, 300)?;
    let outcome = state.billing_auths.update(&input.auth_key, |pending| {
        if pending.used {
            return Err(Fail::new(
                StatusCode::BAD_REQUEST,
                "ALREADY_USED_AUTH_KEY",
                "the authKey was already exchanged",
            ));
        }
        if pending.customer_key != input.customer_key {
            return Err(not_matching_customer());
        }
        pending.used = true;
        Ok(pending.clone())
    });
    let pending = outcome.ok_or_else(|| {
        Fail::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND_AUTH_KEY",
            format!("no card registration has the authKey {:?}", input.auth_key),
        )
    })??;
    let billing = save(state, pending.customer_key, pending.card_number, pending.refused);
    json(state.created(), &state.render_billing(&billing))
}

fn billing_for(state: &FakeState, billing_key: &str, customer_key: &str) -> Result<FakeBilling, Fail> {
    let billing = state.billings.get(&billing_key.to_owned()).ok_or_else(|| {
        Fail::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND_BILLING",
            format!("no saved card has the billingKey {billing_key:?}"),
        )
    })?;
    if billing.billing.customer_key != customer_key {
        return Err(not_matching_customer());
    }
    Ok(billing)
}

/// `POST /v1/billing/authorizations/{billingKey}` `{customerKey}`: reads a
/// saved card (the original's route; 403 for another customer).
#[handler]
pub(crate) async fn billing_at(req: &Request, Path(key): Path<String>, body: Body, Data(state): State<'_>) -> Response {
    respond(
        async {
            authorize(req, state)?;
            let input: TossBillingCustomerKey = read(body).await?;
            text("customerKey", &input.customer_key, 300)?;
            let billing = billing_for(state, &key, &input.customer_key)?;
            json(state.created(), &state.render_billing(&billing))
        }
        .await,
    )
}

/// `POST /v1/billing/{billingKey}`: charges a saved card (no webhook: Toss
/// sends none for automatic payments).
#[handler]
pub(crate) async fn billing_pay(
    req: &Request,
    Path(key): Path<String>,
    body: Body,
    Data(state): State<'_>,
) -> Response {
    respond(billing_pay_reply(req, key, body, state).await)
}

async fn billing_pay_reply(req: &Request, billing_key: String, body: Body, state: &FakeState) -> Reply {
    authorize(req, state)?;
    let input: TossBillingPayment = read(body).await?;
    if let Some(method) = &input.method
        && method != "billing"
    {
        return Err(Fail::bad("method must be \"billing\""));
    }
    if let Some(body_key) = &input.billing_key
        && *body_key != billing_key
    {
        return Err(Fail::bad("billingKey in the body differs from the path"));
    }
    text("customerKey", &input.customer_key, 300)?;
    text("orderId", &input.order_id, 64)?;
    let total = positive("amount", &input.amount)?;
    let billing = billing_for(state, &billing_key, &input.customer_key)?;
    if state.payment_of_order(&input.order_id).is_some_and(|earlier| !earlier.refused) {
        return Err(Fail::new(
            StatusCode::BAD_REQUEST,
            "DUPLICATED_ORDER_ID",
            "이미 승인 및 취소가 진행된 중복된 주문번호 입니다. 다른 주문번호로 진행해주세요.",
        ));
    }
    let status = if billing.refused { TossPaymentStatus::Aborted } else { TossPaymentStatus::Done };
    let payment = TossPayment::Card(TossCardPayment {
        card: card(&billing.billing.card_number, Number::from(0)),
        discount: None,
        easy_pay: None,
        common: common(NewPayment {
            method: METHOD_CARD,
            kind: "BILLING",
            status: status.clone(),
            order_id: input.order_id,
            order_name: input.order_name.unwrap_or_else(|| "fake billing order".to_owned()),
            amount: total,
            tax_free: Money::ZERO,
            currency: payments_domain::Currency::krw(),
        }),
    });
    let mut fake = FakePayment::new(payment, !billing.refused);
    fake.refused = billing.refused;
    if billing.refused {
        fake.failure = Some(REJECT_CARD_COMPANY);
    }
    state.insert_payment(fake.clone());
    if status == TossPaymentStatus::Aborted {
        return Err(Fail::rejected_by_the_card_company());
    }
    json(state.created(), &state.render(&fake))
}
