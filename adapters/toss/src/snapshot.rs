//! What this server reads of a Toss payment, whatever the merchant's API
//! version: only the members a [`PaymentSnapshot`] needs, each tolerant of
//! how the versions differ (1.x's `card.company` or 2022-11-16's
//! `card.issuerCode`, a `null` `method` on an expired payment, members added
//! at any time). The payment's JSON is kept whole, unknown members included,
//! as the snapshot's `data`.

use serde::Deserialize;
use serde_json::{Number, Value};

use payments_application::ports::GatewayError;
use payments_domain::{
    CancelHistory, CancelKey, CancelReason, Currency, OrderId, PaymentPhase, PaymentSnapshot, Timestamp,
};

use crate::wire::{TossPaymentStatus, timestamp};

/// The members of a payment the snapshot is made of.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentView {
    payment_key: String,
    #[serde(default)]
    order_id: Option<String>,
    status: TossPaymentStatus,
    /// Absent in no version, but tolerated: Toss's own default is KRW.
    #[serde(default)]
    currency: Option<String>,
    total_amount: Number,
    #[serde(default)]
    approved_at: Option<String>,
    #[serde(default)]
    cancels: Option<Vec<Value>>,
}

/// The members of one cancel.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelView {
    cancel_amount: Number,
    #[serde(default)]
    cancel_reason: Option<String>,
    canceled_at: String,
    #[serde(default)]
    transaction_key: Option<String>,
    /// 2022-11-16: `DONE` once the refund went through; 1.x has no such member
    /// (every listed cancel is done).
    #[serde(default)]
    cancel_status: Option<String>,
}

/// Where a payment of this status stands.
fn phase(status: &TossPaymentStatus) -> PaymentPhase {
    match status {
        TossPaymentStatus::Done | TossPaymentStatus::PartialCanceled => PaymentPhase::Paid,
        TossPaymentStatus::WaitingForDeposit => PaymentPhase::AwaitingDeposit,
        TossPaymentStatus::Ready | TossPaymentStatus::InProgress => PaymentPhase::AwaitingConfirmation,
        // Refunded in whole, or (a virtual account) cancelled before its
        // deposit; 1.x also reports a deposit the bank reversed this way.
        TossPaymentStatus::Canceled => PaymentPhase::Cancelled,
        // Aborted, expired, and any status Toss may add (adding one is a
        // backward-compatible change for Toss): never registrable.
        TossPaymentStatus::Aborted | TossPaymentStatus::Expired | TossPaymentStatus::Other(_) => PaymentPhase::Failed,
    }
}

fn protocol(what: &str, error: &dyn std::fmt::Display) -> GatewayError {
    GatewayError::Protocol(format!("Toss payment {what}: {error}"))
}

/// What a Toss payment JSON says, as the domain's snapshot; `data` is
/// `payment` unchanged. Only cancels Toss reports as done count.
///
/// # Errors
/// [`GatewayError::Protocol`] naming the member when the JSON is not a
/// payment or holds an invalid amount, currency or time, or when a paid
/// payment has no approval time.
pub fn snapshot(payment: Value) -> Result<PaymentSnapshot, GatewayError> {
    let view: PaymentView = serde_json::from_value(payment.clone()).map_err(|e| protocol("is unreadable", &e))?;
    let currency = Currency::parse(view.currency.as_deref().unwrap_or("KRW")).map_err(|e| protocol("currency", &e))?;
    let price = crate::AMOUNTS.read("Toss payment totalAmount", &view.total_amount, &currency)?;
    let order_id = match view.order_id.as_deref() {
        Some(id) if !id.trim().is_empty() => Some(OrderId::parse(id).map_err(|e| protocol("orderId", &e))?),
        _ => None,
    };
    payments_pg::check_cancel_count("Toss payment cancels", view.cancels.as_ref().map_or(0, Vec::len))?;
    let (mut cancels, mut pending_cancels, mut failed_cancels) = (Vec::new(), Vec::new(), Vec::new());
    for (index, raw) in view.cancels.iter().flatten().enumerate() {
        let cancel: CancelView =
            serde_json::from_value(raw.clone()).map_err(|e| protocol(&format!("cancels[{index}]"), &e))?;
        let key = match cancel.transaction_key.as_deref().map(str::trim) {
            Some(key) if !key.is_empty() => key.to_owned(),
            _ => format!("{}:{index}", view.payment_key),
        };
        // DONE (or no status, before Toss reported one) refunded; an
        // asynchronous cancel (some overseas easy-pays) is IN_PROGRESS until
        // Toss announces its end (CANCEL_STATUS_CHANGED); ABORTED never
        // will; a status Toss may add is neither.
        let list = match cancel.cancel_status.as_deref() {
            None | Some("DONE") => &mut cancels,
            Some("IN_PROGRESS") => &mut pending_cancels,
            Some("ABORTED" | "FAILED") => {
                failed_cancels.push(CancelKey::parse(key).map_err(|e| protocol("cancels.transactionKey", &e))?);
                continue;
            }
            Some(_) => continue,
        };
        let what = format!("Toss payment cancels[{index}].cancelAmount");
        let price = crate::AMOUNTS.read(&what, &cancel.cancel_amount, &currency)?;
        if price.is_zero() {
            continue;
        }
        list.push(CancelHistory {
            key: CancelKey::parse(key).map_err(|e| protocol("cancels.transactionKey", &e))?,
            price,
            reason: CancelReason::from_pg(cancel.cancel_reason.as_deref()),
            created_at: timestamp("cancels.canceledAt", &cancel.canceled_at)
                .map_err(|e| protocol("cancels.canceledAt", &e))?,
            data: raw.clone(),
        });
    }
    let phase = phase(&view.status);
    let paid = match phase {
        PaymentPhase::Paid => true,
        // A cancel of a virtual account before its deposit is listed too,
        // with no approval: nothing was paid.
        PaymentPhase::Cancelled => !cancels.is_empty() && view.approved_at.is_some(),
        PaymentPhase::AwaitingDeposit | PaymentPhase::AwaitingConfirmation | PaymentPhase::Failed => false,
    };
    let paid_at = if paid { Some(approved_at(view.approved_at.as_deref(), &view.status)?) } else { None };
    let cancelled_at = cancels.iter().map(|c| c.created_at).min();
    Ok(PaymentSnapshot {
        phase,
        pg_status: view.status.to_string(),
        order_id,
        currency,
        price,
        paid_at,
        cancelled_at,
        cancels,
        data: payment,
        pending_cancels,
        failed_cancels,
    })
}

fn approved_at(text: Option<&str>, status: &TossPaymentStatus) -> Result<Timestamp, GatewayError> {
    let text = text.ok_or_else(|| {
        GatewayError::Protocol(format!("Toss payment approvedAt: missing on a payment that is {status}"))
    })?;
    timestamp("approvedAt", text).map_err(|e| protocol("approvedAt", &e))
}

/// The `secret` of a virtual-account payment, which Toss repeats in that
/// payment's deposit callbacks.
pub fn secret(payment: &Value) -> Option<&str> {
    payment.get("secret").and_then(Value::as_str).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A payment listing more cancels than one payment may have is refused as
    /// a protocol error naming the count; up to the bound it is read.
    #[test]
    fn more_cancels_than_one_payment_may_have_are_refused_naming_the_count() {
        let payment = |count: usize| {
            let cancels: Vec<Value> = (0..count)
                .map(|i| {
                    json!({"cancelAmount": 1, "cancelReason": "part", "canceledAt": "2026-01-01T10:00:00+09:00",
                           "transactionKey": format!("tx-{i}"), "cancelStatus": "DONE"})
                })
                .collect();
            json!({"paymentKey": "pk-1", "orderId": "order-1", "status": "PARTIAL_CANCELED", "currency": "KRW",
                   "totalAmount": 100_000, "approvedAt": "2026-01-01T09:00:00+09:00", "cancels": cancels})
        };
        let refused = snapshot(payment(5_000)).unwrap_err();
        assert!(matches!(&refused, GatewayError::OutOfBounds(m) if m.contains("5000 cancels")), "{refused:?}");
        assert_eq!(snapshot(payment(payments_pg::MAX_CANCELS)).unwrap().cancels.len(), payments_pg::MAX_CANCELS);
    }
}
