//! What the HTTP intake needs to handle an Iamport webhook.

use crate::wire::IamportWebhook;

/// Whether a webhook with this `status` may have changed a recorded payment,
/// so the payment must be re-read from Iamport: `paid` and `cancelled` yes;
/// `ready` (a virtual account was issued) and `failed` no. An unknown status
/// is re-read too, since re-reading is always safe.
pub fn webhook_needs_reread(status: &str) -> bool {
    !matches!(status, "ready" | "failed")
}

/// Parses a webhook body (`{imp_uid, merchant_uid, status, cancellation_id?}`).
///
/// # Errors
/// serde's message when the body is not such an object or `imp_uid`/`status` is missing.
pub fn parse_webhook(body: &[u8]) -> Result<IamportWebhook, serde_json::Error> {
    serde_json::from_slice(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paid_and_cancelled_need_a_reread() {
        assert!(webhook_needs_reread("paid"));
        assert!(webhook_needs_reread("cancelled"));
        assert!(!webhook_needs_reread("ready"));
        assert!(!webhook_needs_reread("failed"));
    }

    #[test]
    fn parses_the_real_and_the_fake_shapes() {
        let hook =
            parse_webhook(br#"{"imp_uid":"imp_1","merchant_uid":"m","status":"cancelled","cancellation_id":"c1"}"#)
                .unwrap();
        assert_eq!(hook.cancellation_id.as_deref(), Some("c1"));
        let hook = parse_webhook(br#"{"imp_uid":"imp_1","merchant_uid":"m","status":"paid"}"#).unwrap();
        assert_eq!(hook.status, "paid");
        assert!(parse_webhook(br#"{"merchant_uid":"m"}"#).is_err());
    }
}
