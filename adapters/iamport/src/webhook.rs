//! The notifications Iamport POSTs to the merchant, and what each asks of the
//! intake. This is the parser the server's webhook route runs.
//!
//! Iamport sends `{imp_uid, merchant_uid, status, cancellation_id?}` (as JSON,
//! or form-encoded; the route turns both into the same JSON). Only `imp_uid`
//! is taken from it: the payment is re-read.

use serde::Deserialize as _;
use serde_json::Value;

use payments_application::commands::NotificationTarget;
use payments_application::ports::{NotificationIntent, NotificationReader};
use payments_domain::VendorUid;

use crate::wire::IamportWebhook;

/// Whether a webhook with this `status` may have changed a recorded payment
/// or completes a pending order, so the payment must be re-read from
/// Iamport: `paid`, `cancelled` and `ready` (a virtual account issued: what
/// completes an order paid by deposit) yes; `failed` no. An unknown status
/// is re-read too, since re-reading is always safe.
pub fn webhook_needs_reread(status: &str) -> bool {
    status != "failed"
}

/// Parses a webhook body (`{imp_uid, merchant_uid, status, cancellation_id?}`).
///
/// # Errors
/// serde's message when the body is not such an object or `imp_uid`/`status` is missing.
pub fn parse_webhook(body: &Value) -> Result<IamportWebhook, serde_json::Error> {
    IamportWebhook::deserialize(body)
}

/// Iamport's half of the notification contract (see [`NotificationReader`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct IamportNotifications;

impl NotificationReader for IamportNotifications {
    fn read(&self, body: &Value) -> Result<NotificationIntent, String> {
        let hook = parse_webhook(body).map_err(|e| format!("malformed Iamport webhook: {e}"))?;
        if !webhook_needs_reread(&hook.status) {
            return Ok(NotificationIntent::Ignore(format!("status {}", hook.status)));
        }
        let uid = VendorUid::parse(&hook.imp_uid).map_err(|e| format!("imp_uid: {e}"))?;
        // A payment wholly cancelled can never be registered any more (by its
        // customer, or by our own refusal of a mismatched registration):
        // nothing to keep about it when it is not registered here.
        // An account just issued moved no money: about a payment neither
        // registered nor ordered here, nothing to keep either.
        let ignore_unknown = matches!(hook.status.as_str(), "cancelled" | "ready");
        // Unproven (anyone may post this): it only finds a pending order,
        // which the payment read from Iamport then decides on.
        let order = payments_domain::OrderId::parse(&hook.merchant_uid).ok();
        Ok(NotificationIntent::Reread(NotificationTarget::Payment { uid, ignore_unknown, order }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_paid_and_cancelled_need_a_reread() {
        assert!(webhook_needs_reread("paid"));
        assert!(webhook_needs_reread("cancelled"));
        assert!(webhook_needs_reread("ready"));
        assert!(!webhook_needs_reread("failed"));
    }

    #[test]
    fn parses_the_real_and_the_fake_shapes() {
        let hook = parse_webhook(
            &json!({"imp_uid": "imp_1", "merchant_uid": "m", "status": "cancelled", "cancellation_id": "c1"}),
        )
        .unwrap();
        assert_eq!(hook.cancellation_id.as_deref(), Some("c1"));
        let hook = parse_webhook(&json!({"imp_uid": "imp_1", "merchant_uid": "m", "status": "paid"})).unwrap();
        assert_eq!(hook.status, "paid");
        assert!(parse_webhook(&json!({"merchant_uid": "m"})).is_err());
    }

    #[test]
    fn the_reader_re_reads_what_may_have_changed_and_acknowledges_the_rest() {
        let reader = IamportNotifications;
        for (status, final_status) in
            [("paid", false), ("cancelled", true), ("ready", true), ("some-new-status", false)]
        {
            let intent = reader.read(&json!({"imp_uid": "imp_1", "merchant_uid": "m", "status": status})).unwrap();
            let NotificationIntent::Reread(NotificationTarget::Payment { uid, ignore_unknown, .. }) = intent else {
                panic!("{status}: {intent:?}");
            };
            assert_eq!((uid.as_str(), ignore_unknown), ("imp_1", final_status), "{status}");
        }
        let failed = reader.read(&json!({"imp_uid": "imp_1", "merchant_uid": "m", "status": "failed"})).unwrap();
        assert!(matches!(failed, NotificationIntent::Ignore(_)), "{failed:?}");
        let blank = reader.read(&json!({"imp_uid": " ", "status": "paid"})).unwrap_err();
        assert!(blank.starts_with("imp_uid: "), "{blank}");
        let shapeless = reader.read(&json!(["imp_1"])).unwrap_err();
        assert!(shapeless.starts_with("malformed Iamport webhook"), "{shapeless}");
    }
}
