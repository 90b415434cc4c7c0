//! What this server reads of a PortOne V2 `Payment` (a oneOf by `status`):
//! only what a [`PaymentSnapshot`] needs, each member tolerant of what
//! PortOne may add (new statuses, methods and members are backward-compatible
//! for Portone: unknown ones are kept in `data`, never refused). The JSON is
//! kept whole as the snapshot's `data`.

use serde::Deserialize;
use serde_json::{Number, Value};

use payments_application::ports::GatewayError;
use payments_domain::{
    CancelHistory, CancelKey, CancelReason, Currency, Money, OrderId, PaymentPhase, PaymentSnapshot, Timestamp,
    to_millis,
};

/// The members of a payment the snapshot is made of.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentView {
    status: String,
    /// The payment id: the merchant's order id.
    id: String,
    amount: AmountView,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    paid_at: Option<String>,
    #[serde(default)]
    cancellations: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
struct AmountView {
    total: Number,
}

/// The members of one `PaymentCancellation`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancellationView {
    status: String,
    id: String,
    total_amount: Number,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    cancelled_at: Option<String>,
    requested_at: String,
}

/// Where a payment of this status stands.
fn phase(status: &str) -> PaymentPhase {
    match status {
        "PAID" | "PARTIAL_CANCELLED" => PaymentPhase::Paid,
        // Not paid yet, but it may be: a virtual account awaiting its
        // deposit, a window still open, an approval pending at the PG.
        "VIRTUAL_ACCOUNT_ISSUED" | "READY" | "PAY_PENDING" => PaymentPhase::AwaitingDeposit,
        "CANCELLED" => PaymentPhase::Cancelled,
        // Failed, and any status PortOne may add: never registrable.
        _ => PaymentPhase::Failed,
    }
}

fn protocol(what: &str, error: &dyn std::fmt::Display) -> GatewayError {
    GatewayError::Protocol(format!("PortOne payment {what}: {error}"))
}

/// An RFC 3339 time as UTC at millisecond precision.
///
/// # Errors
/// `Protocol` naming `what` when it is not one.
pub fn time(what: &str, text: &str) -> Result<Timestamp, GatewayError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| to_millis(at.with_timezone(&chrono::Utc)))
        .map_err(|e| protocol(what, &format!("{text:?} is not an RFC 3339 time: {e}")))
}

/// An amount PortOne wrote in member `what`, in `currency`'s minor unit.
fn money(what: &str, number: &Number, currency: &Currency) -> Result<Money, GatewayError> {
    crate::AMOUNTS.read(&format!("PortOne payment {what}"), number, currency)
}

/// What a PortOne `Payment` says, as the domain's snapshot; `data` is
/// `payment` unchanged. Only cancellations PortOne reports `SUCCEEDED` count.
///
/// # Errors
/// [`GatewayError::Protocol`] naming the member when the JSON is not a
/// payment or holds an invalid amount, currency or time, or when a paid
/// payment has no `paidAt`.
pub fn snapshot(payment: Value) -> Result<PaymentSnapshot, GatewayError> {
    let view: PaymentView = serde_json::from_value(payment.clone()).map_err(|e| protocol("is unreadable", &e))?;
    let currency = Currency::parse(view.currency.as_deref().unwrap_or("KRW")).map_err(|e| protocol("currency", &e))?;
    let price = money("amount.total", &view.amount.total, &currency)?;
    let order_id = Some(OrderId::parse(&view.id).map_err(|e| protocol("id", &e))?);
    payments_pg::check_cancel_count("PortOne payment cancellations", view.cancellations.as_ref().map_or(0, Vec::len))?;
    let (mut cancels, mut pending_cancels, mut failed_cancels) = (Vec::new(), Vec::new(), Vec::new());
    for (index, raw) in view.cancellations.iter().flatten().enumerate() {
        let what = format!("cancellations[{index}]");
        let cancellation: CancellationView = serde_json::from_value(raw.clone()).map_err(|e| protocol(&what, &e))?;
        let key = CancelKey::parse(&cancellation.id).map_err(|e| protocol("cancellations.id", &e))?;
        // Only SUCCEEDED moved money; REQUESTED is accepted and not done
        // (it completes later); FAILED never will; a status PortOne may add
        // is neither.
        let list = match cancellation.status.as_str() {
            "SUCCEEDED" => &mut cancels,
            "REQUESTED" => &mut pending_cancels,
            "FAILED" => {
                failed_cancels.push(key);
                continue;
            }
            _ => continue,
        };
        let price = money(&format!("{what}.totalAmount"), &cancellation.total_amount, &currency)?;
        if price.is_zero() {
            continue;
        }
        let at = cancellation.cancelled_at.as_deref().unwrap_or(&cancellation.requested_at);
        list.push(CancelHistory {
            key,
            price,
            reason: CancelReason::from_pg(cancellation.reason.as_deref()),
            created_at: time("cancellations.cancelledAt", at)?,
            data: raw.clone(),
        });
    }
    let phase = phase(&view.status);
    let paid_at = match (&phase, view.paid_at.as_deref()) {
        (_, Some(text)) => Some(time("paidAt", text)?),
        (PaymentPhase::Paid, None) if view.status == "PAID" => {
            return Err(protocol("paidAt", &"missing on a PAID payment"));
        }
        _ => None,
    };
    let cancelled_at = cancels.iter().map(|c| c.created_at).min();
    Ok(PaymentSnapshot {
        phase,
        pg_status: view.status,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A partly cancelled card payment in the shape of the V2 OpenAPI
    /// document's `PartialCancelledPayment` (src/schema/v2.openapi.json).
    fn partly_cancelled() -> Value {
        json!({
            "status": "PARTIAL_CANCELLED", "id": "order-1", "transactionId": "tx-1", "merchantId": "merchant-1",
            "storeId": "store-1", "version": "V2", "orderName": "a T-shirt",
            "requestedAt": "2026-12-01T10:00:00.000Z", "updatedAt": "2026-12-01T10:05:00.000Z",
            "statusChangedAt": "2026-12-01T10:05:00.000Z",
            "method": {"type": "PaymentMethodCard", "card": {"number": "43301234****123*"}},
            "channel": {"type": "TEST", "pgProvider": "NICE_V2", "pgMerchantId": "nice-1"},
            "amount": {"total": 10000, "taxFree": 0, "vat": 909, "supply": 9091, "discount": 0, "paid": 10000,
                       "cancelled": 3000, "cancelledTaxFree": 0},
            "currency": "KRW", "customer": {"id": "customer-1"},
            "origin": {"platformType": "PC", "ipAddress": "127.0.0.1"},
            "paidAt": "2026-12-01T10:01:00.000Z", "cancelledAt": "2026-12-01T10:05:00.000Z",
            "cancellations": [
                {"status": "SUCCEEDED", "id": "c-1", "totalAmount": 3000, "taxFreeAmount": 0, "vatAmount": 273,
                 "reason": "asked", "cancelledAt": "2026-12-01T10:05:00.000Z", "requestedAt": "2026-12-01T10:05:00.000Z"},
                {"status": "FAILED", "id": "c-2", "totalAmount": 1000, "taxFreeAmount": 0, "vatAmount": 91,
                 "reason": "again", "requestedAt": "2026-12-01T10:06:00.000Z"},
                {"status": "SOMETHING_NEW", "id": "c-3", "totalAmount": 1, "taxFreeAmount": 0, "vatAmount": 0,
                 "reason": "?", "requestedAt": "2026-12-01T10:07:00.000Z"}
            ],
            "aMemberPortOneAddsLater": {"kept": true}
        })
    }

    /// A payment listing more cancellations than one payment may have is
    /// refused as a protocol error naming the count; up to the bound it is read.
    #[test]
    fn more_cancellations_than_one_payment_may_have_are_refused_naming_the_count() {
        let with = |count: usize| {
            let mut payment = partly_cancelled();
            let one = payment["cancellations"][0].clone();
            payment["cancellations"] = Value::Array(
                (0..count)
                    .map(|i| {
                        let mut cancellation = one.clone();
                        cancellation["id"] = json!(format!("c-{i}"));
                        cancellation["totalAmount"] = json!(1);
                        cancellation
                    })
                    .collect(),
            );
            payment
        };
        let refused = snapshot(with(5_000)).unwrap_err();
        assert!(matches!(&refused, GatewayError::OutOfBounds(m) if m.contains("5000 cancels")), "{refused:?}");
        assert_eq!(snapshot(with(payments_pg::MAX_CANCELS)).unwrap().cancels.len(), payments_pg::MAX_CANCELS);
    }

    #[test]
    fn a_partly_cancelled_payment_counts_only_its_succeeded_cancellations() {
        let payment = partly_cancelled();
        let read = snapshot(payment.clone()).unwrap();
        assert_eq!((read.phase, read.pg_status.as_str()), (PaymentPhase::Paid, "PARTIAL_CANCELLED"));
        assert_eq!((read.price.to_string(), read.currency.as_str()), ("10000".to_owned(), "KRW"));
        assert_eq!(read.order_id.as_ref().map(OrderId::as_str), Some("order-1"));
        assert_eq!(read.cancels.len(), 1);
        assert_eq!((read.cancels[0].key.as_str(), read.cancels[0].price.to_string()), ("c-1", "3000".to_owned()));
        assert_eq!(read.remaining(), Some("7000".parse().unwrap()));
        assert_eq!(read.data, payment, "kept whole, members we do not know included");
    }

    /// PortOne's unit: a whole number of the currency's minor unit (its
    /// payment guide: "USD: 100배"), both ways, per currency.
    #[test]
    fn amounts_are_read_and_written_in_the_currencys_minor_unit() {
        let cases = [("KRW", 10000, "10000", "3000"), ("JPY", 10000, "10000", "3000"), ("USD", 10000, "100", "30")];
        for (currency, total, price, cancelled) in cases {
            let mut payment = partly_cancelled();
            payment["currency"] = json!(currency);
            payment["amount"]["total"] = json!(total);
            let read = snapshot(payment).unwrap();
            assert_eq!(read.price.to_string(), price, "{currency}");
            assert_eq!(read.cancels[0].price.to_string(), cancelled, "{currency}");
            let written = crate::AMOUNTS.write("price", read.price, &read.currency).unwrap();
            assert_eq!(written.to_string(), total.to_string(), "{currency}: written back as PortOne wrote it");
        }
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(crate::AMOUNTS.write("price", "10.5".parse().unwrap(), &usd).unwrap().to_string(), "1050");
        let fraction = crate::AMOUNTS.write("price", "10.505".parse().unwrap(), &usd).unwrap_err();
        assert!(matches!(&fraction, GatewayError::Unrepresentable(m) if m.starts_with("price: ")), "{fraction:?}");
        let mut unknown = partly_cancelled();
        unknown["currency"] = json!("XAU");
        let refused = snapshot(unknown).unwrap_err();
        assert!(matches!(&refused, GatewayError::Protocol(m) if m.contains("amount.total")), "{refused:?}");
        let mut fractional = partly_cancelled();
        fractional["amount"]["total"] = json!(10000.5);
        assert!(matches!(snapshot(fractional), Err(GatewayError::Protocol(m)) if m.contains("amount.total")));
    }

    #[test]
    fn statuses_map_to_phases_and_unknown_ones_are_never_registrable() {
        for (status, expected) in [
            ("PAID", PaymentPhase::Paid),
            ("VIRTUAL_ACCOUNT_ISSUED", PaymentPhase::AwaitingDeposit),
            ("READY", PaymentPhase::AwaitingDeposit),
            ("PAY_PENDING", PaymentPhase::AwaitingDeposit),
            ("CANCELLED", PaymentPhase::Cancelled),
            ("FAILED", PaymentPhase::Failed),
            ("A_STATUS_ADDED_LATER", PaymentPhase::Failed),
        ] {
            assert_eq!(phase(status), expected, "{status}");
        }
        let mut paid = partly_cancelled();
        paid["status"] = json!("PAID");
        paid.as_object_mut().unwrap().remove("paidAt");
        assert!(matches!(snapshot(paid), Err(GatewayError::Protocol(m)) if m.contains("paidAt")));
        let mut broken = partly_cancelled();
        broken["amount"]["total"] = json!("ten");
        assert!(snapshot(broken).is_err());
    }
}
