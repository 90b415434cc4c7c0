//! A PG notification as it reaches the webhook route, read by its PG's
//! reader: a repeat of a delivery already answered 200 is acknowledged
//! without reading the PG or storing anything; any other is acted on (re-read
//! or kept for the inbox worker, a saved card marked removed), and its
//! delivery remembered once it is answered 200.
//!
//! Repeats are recognised only by the PG's own delivery id (see
//! [`Transmission`]) together with the body: a notification forged with the
//! id of a genuine one, but another body, does not make the genuine one a
//! repeat. Remembering is best effort: a database that cannot answer (or
//! not within [`RECEIPT_BUDGET`]) makes the delivery count as new, which
//! costs one PG read, never a lost notification.

use std::time::Duration;

use payments_domain::VendorCode;
use serde_json::Value;

use crate::commands::PgNotification;
use crate::error::AppError;
use crate::inbox::Received;
use crate::ports::{NotificationIntent, Proof, Transmission};
use crate::service::PaymentService;

/// How long looking up or remembering a delivery may take before the
/// notification goes on without it (the PG wants its answer within 10 s;
/// this comes twice on top of the inbox's own budgets).
const RECEIPT_BUDGET: Duration = Duration::from_millis(500);

/// What became of a notification taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// A repeat of a delivery already answered: nothing was done.
    Repeat,
    /// Nothing to do (the PG's reader said why).
    Ignored(String),
    /// The PG removed a saved card: this many records were marked removed.
    CardRemoved(u64),
    /// The payment it names was re-read, or the notification kept for it.
    Received(Received),
}

impl PaymentService {
    /// Takes in a PG notification `vendor` sent, which its reader read as
    /// `intent`: `body` as received, `proof` what proved it before it was
    /// read, `transmission` the PG's name of this delivery, if it gave one. A repeat of a delivery already answered is
    /// [`Taken::Repeat`] at once; otherwise as
    /// [`receive_pg_notification`](Self::receive_pg_notification) (or a
    /// saved card marked removed), and the delivery is remembered for
    /// `transmission.keep_for` once the answer is a success.
    ///
    /// # Errors
    /// As [`receive_pg_notification`](Self::receive_pg_notification) and
    /// [`process_card_removed`](Self::process_card_removed); nothing is
    /// remembered then, so the PG's retry is processed.
    pub async fn take_pg_notification(
        &self,
        vendor: VendorCode,
        proof: Proof,
        transmission: Option<Transmission>,
        intent: NotificationIntent,
        body: Value,
    ) -> Result<Taken, AppError> {
        let receipt = match intent {
            // Nothing is read or stored for it: remembering it would cost more.
            NotificationIntent::Ignore(why) => return Ok(Taken::Ignored(why)),
            _ => transmission.map(|t| (receipt_digest(vendor, &t, &body), t.keep_for)),
        };
        if let Some((digest, _)) = &receipt
            && self.already_answered(vendor, digest).await
        {
            return Ok(Taken::Repeat);
        }
        let taken = match intent {
            NotificationIntent::Ignore(why) => Taken::Ignored(why),
            NotificationIntent::CardRemoved(key) => Taken::CardRemoved(self.process_card_removed(vendor, &key).await?),
            NotificationIntent::Reread(target) => {
                let signed = proof == Proof::Signed;
                let notice = PgNotification { vendor, target, payload: trigger_of(body), signed };
                Taken::Received(self.receive_pg_notification(notice).await?)
            }
        };
        if let Some((digest, keep_for)) = receipt {
            self.remember_answered(vendor, &digest, keep_for).await;
        }
        Ok(taken)
    }

    /// Whether the delivery `digest` was answered already; `false` when the
    /// database cannot tell in time.
    async fn already_answered(&self, vendor: VendorCode, digest: &str) -> bool {
        let now = self.deps.clock.now();
        match tokio::time::timeout(RECEIPT_BUDGET, self.deps.receipts.seen(vendor, digest, now)).await {
            Ok(Ok(seen)) => seen,
            Ok(Err(error)) => {
                tracing::warn!(%vendor, %error, "could not look up a PG delivery; processing it as a new one");
                false
            }
            Err(_) => {
                tracing::warn!(%vendor, "looking up a PG delivery timed out; processing it as a new one");
                false
            }
        }
    }

    /// Remembers the answered delivery `digest` for `keep_for` (best effort:
    /// a repeat of one not remembered is processed again).
    async fn remember_answered(&self, vendor: VendorCode, digest: &str, keep_for: Duration) {
        let now = self.deps.clock.now();
        let until = chrono::Duration::from_std(keep_for).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(now);
        match tokio::time::timeout(RECEIPT_BUDGET, self.deps.receipts.remember(vendor, digest, until)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%vendor, %error, "could not remember an answered PG delivery"),
            Err(_) => tracing::warn!(%vendor, "remembering an answered PG delivery timed out"),
        }
    }
}

/// The key a delivery is remembered by: SHA-256 (hex) of the vendor, the
/// PG's id of the delivery and the body as received (each length-prefixed).
fn receipt_digest(vendor: VendorCode, transmission: &Transmission, body: &Value) -> String {
    use sha2::{Digest, Sha256};
    let body = body.to_string();
    let mut digest = Sha256::new();
    for part in [vendor.as_str(), transmission.id(), body.as_str()] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    digest.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A notification body as kept for the event's trigger: whatever it proves
/// with (a deposit callback's `secret`) is left out.
fn trigger_of(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.remove("secret");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_keyed_by_its_vendor_id_and_body() {
        let keep = Duration::from_secs(60);
        let t = Transmission::new("whtrans_1", keep).unwrap();
        let body = serde_json::json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": "pk"}});
        let digest = receipt_digest(VendorCode::TossPayments, &t, &body);
        assert_eq!(digest.len(), 64);
        assert_eq!(digest, receipt_digest(VendorCode::TossPayments, &t, &body.clone()));
        let other = Transmission::new("whtrans_2", keep).unwrap();
        assert_ne!(digest, receipt_digest(VendorCode::TossPayments, &other, &body));
        assert_ne!(digest, receipt_digest(VendorCode::PortOne, &t, &body));
        assert_ne!(digest, receipt_digest(VendorCode::TossPayments, &t, &serde_json::json!({"data": {}})));
    }

    #[test]
    fn hostile_delivery_ids_are_not_taken() {
        let keep = Duration::from_secs(1);
        assert!(Transmission::new("", keep).is_none());
        assert!(Transmission::new(&"a".repeat(201), keep).is_none());
        assert!(Transmission::new("a\nb", keep).is_none());
        assert!(Transmission::new("a\u{0}b", keep).is_none());
        assert_eq!(Transmission::new(&"a".repeat(200), keep).map(|t| t.id().len()), Some(200));
    }
}
