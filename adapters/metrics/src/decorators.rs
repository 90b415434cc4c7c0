//! The PG and webhook ports, measured: each call is timed and counted by its
//! outcome, then answered exactly as the wrapped port answered it.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use payments_application::ports::{
    CancelRequest, ChargeRequest, ChargedPayment, ConfirmRequest, GatewayError, OrderLock, OrderLockRequest,
    PaymentGateway, PgCard, SendResult, WebhookSender,
};
use payments_domain::{OrderId, PaymentSnapshot, SourceId, StoreId, VendorCode, VendorUid, WebhookEvent};
use tracing::Instrument;

use crate::Metrics;

/// A [`PaymentGateway`] whose calls are counted in `payments_pg_calls_total`
/// and timed in `payments_pg_call_duration_seconds`, each in a `pg_call`
/// span (inside the request's span, so its log lines carry the request id).
pub struct MeteredGateway {
    inner: Arc<dyn PaymentGateway>,
    pg: &'static str,
    metrics: Metrics,
}

impl MeteredGateway {
    /// Measures `inner`, the gateway of `vendor`.
    pub fn new(inner: Arc<dyn PaymentGateway>, vendor: VendorCode, metrics: Metrics) -> Self {
        Self { inner, pg: vendor.as_str(), metrics }
    }

    async fn measure<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, GatewayError>>,
    ) -> Result<T, GatewayError> {
        let started = Instant::now();
        let span = tracing::debug_span!("pg_call", pg = self.pg, operation);
        let result = call.instrument(span.clone()).await;
        let outcome = outcome(&result);
        let elapsed = started.elapsed();
        self.metrics.observe_pg_call(self.pg, operation, outcome, elapsed);
        span.in_scope(|| tracing::debug!(outcome, elapsed_ms = elapsed.as_millis() as u64, "PG call"));
        result
    }
}

/// The label of a PG call's result.
fn outcome<T>(result: &Result<T, GatewayError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(GatewayError::NotFound(_)) => "not_found",
        Err(GatewayError::Rejected(_)) => "rejected",
        Err(GatewayError::BalanceMismatch(_)) => "balance_mismatch",
        Err(GatewayError::TooSoon(_)) => "too_soon",
        Err(GatewayError::UnknownStore { .. }) => "unknown_store",
        Err(GatewayError::Timeout(_)) => "timeout",
        Err(GatewayError::Unavailable(_)) => "unavailable",
        Err(GatewayError::Protocol(_) | GatewayError::OutOfBounds(_)) => "protocol",
        Err(GatewayError::Unrepresentable(_)) => "unrepresentable",
    }
}

#[async_trait]
impl PaymentGateway for MeteredGateway {
    async fn fetch_payment(&self, store: &StoreId, uid: &VendorUid) -> Result<PaymentSnapshot, GatewayError> {
        self.measure("fetch_payment", self.inner.fetch_payment(store, uid)).await
    }

    async fn confirm_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &ConfirmRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        self.measure("confirm_payment", self.inner.confirm_payment(store, uid, request)).await
    }

    fn notification_secret_matches(&self, data: &serde_json::Value, secret: &str) -> bool {
        self.inner.notification_secret_matches(data, secret)
    }

    async fn cancel_payment(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        request: &CancelRequest,
    ) -> Result<PaymentSnapshot, GatewayError> {
        self.measure("cancel_payment", self.inner.cancel_payment(store, uid, request)).await
    }

    async fn fetch_saved_card(
        &self,
        store: &StoreId,
        uid: &VendorUid,
        customer: &SourceId,
    ) -> Result<PgCard, GatewayError> {
        self.measure("fetch_reservation", self.inner.fetch_saved_card(store, uid, customer)).await
    }

    async fn charge_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        card_data: &serde_json::Value,
        request: &ChargeRequest,
    ) -> Result<ChargedPayment, GatewayError> {
        self.measure("charge_saved_card", self.inner.charge_saved_card(store, card, card_data, request)).await
    }

    async fn lock_order(&self, store: &StoreId, request: &OrderLockRequest) -> Result<OrderLock, GatewayError> {
        self.measure("lock_order", self.inner.lock_order(store, request)).await
    }

    async fn find_by_order(&self, store: &StoreId, order_id: &OrderId) -> Result<Option<ChargedPayment>, GatewayError> {
        self.measure("find_by_order", self.inner.find_by_order(store, order_id)).await
    }

    async fn remove_saved_card(
        &self,
        store: &StoreId,
        card: &VendorUid,
        card_data: &serde_json::Value,
    ) -> Result<serde_json::Value, GatewayError> {
        self.measure("remove_saved_card", self.inner.remove_saved_card(store, card, card_data)).await
    }
}

/// A [`WebhookSender`] whose POSTs are counted in
/// `payments_webhook_deliveries_total`, and whose 2xx answers time the
/// change's way from commit to backend (`payments_webhook_delivery_latency_seconds`).
pub struct MeteredSender {
    inner: Arc<dyn WebhookSender>,
    metrics: Metrics,
}

impl MeteredSender {
    /// Measures `inner`.
    pub fn new(inner: Arc<dyn WebhookSender>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl WebhookSender for MeteredSender {
    async fn send(&self, event: &WebhookEvent) -> SendResult {
        let result = self.inner.send(event).await;
        let after = (chrono::Utc::now() - event.created_at()).to_std().ok();
        self.metrics.observe_delivery(result.status, after);
        result
    }
}

#[cfg(test)]
mod tests {
    use payments_application::ports::MockPaymentGateway;

    use super::*;
    use crate::Sample;
    use crate::tests::value;

    #[tokio::test]
    async fn pg_calls_are_counted_by_outcome_and_answered_unchanged() {
        let mut inner = MockPaymentGateway::new();
        inner.expect_fetch_payment().times(1).returning(|_, _| Err(GatewayError::Timeout("slow".into())));
        inner.expect_find_by_order().times(2).returning(|_, _| Ok(None));
        let metrics = Metrics::new();
        let gateway = MeteredGateway::new(Arc::new(inner), VendorCode::TossPayments, metrics.clone());
        let store = StoreId::parse("store").unwrap();
        let uid = VendorUid::parse("uid").unwrap();
        let order = OrderId::parse("order").unwrap();
        assert_eq!(gateway.fetch_payment(&store, &uid).await, Err(GatewayError::Timeout("slow".into())));
        assert_eq!(gateway.find_by_order(&store, &order).await, Ok(None));
        assert_eq!(gateway.find_by_order(&store, &order).await, Ok(None));
        let text = metrics.render(Sample::default());
        let series = |operation: &str, outcome: &str| {
            format!(r#"payments_pg_calls_total{{pg="toss.payments",operation="{operation}",outcome="{outcome}"}}"#)
        };
        assert_eq!(value(&text, &series("fetch_payment", "timeout")), Some(1.0));
        assert_eq!(value(&text, &series("find_by_order", "ok")), Some(2.0));
        assert_eq!(
            value(&text, r#"payments_pg_call_duration_seconds_count{pg="toss.payments",operation="find_by_order"}"#),
            Some(2.0)
        );
    }

    /// A call the trait gives a default (a PG without a lock) is the inner
    /// gateway's, not the default's: a decorator that forgot it would lock
    /// nothing at every PG.
    #[tokio::test]
    async fn calls_with_a_default_reach_the_inner_gateway() {
        let mut inner = MockPaymentGateway::new();
        let locked = OrderLock { locked: true, pg_amount: serde_json::Number::from(1050) };
        let answer = locked.clone();
        inner.expect_lock_order().times(1).returning(move |_, _| Ok(answer.clone()));
        inner.expect_notification_secret_matches().times(1).returning(|_, secret| secret == "s");
        let gateway = MeteredGateway::new(Arc::new(inner), VendorCode::PortOne, Metrics::new());
        let request = OrderLockRequest {
            order_id: OrderId::parse("order").unwrap(),
            amount: "10.5".parse().unwrap(),
            currency: payments_domain::Currency::parse("USD").unwrap(),
        };
        assert_eq!(gateway.lock_order(&StoreId::parse("store").unwrap(), &request).await, Ok(locked));
        assert!(gateway.notification_secret_matches(&serde_json::json!({}), "s"));
    }
}
