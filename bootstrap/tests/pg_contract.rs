//! The same checks over every registered PG ([`payments_server::PGS`]): its
//! configuration reads in local mode with nothing set, its fake starts, its
//! client reads a payment made at the fake and cancels part of it, and its
//! notification reader proves (where the PG signs) and takes every webhook
//! the fake sent about it as a re-read of that payment. A new PG passes these
//! by being registered.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use payments_application::commands::NotificationTarget;
use payments_application::ports::RawNotification;
use payments_application::ports::{CancelRequest, NotificationIntent};
use payments_domain::{CancelReason, Money, OrderId, PaymentPhase, StoreId};
use payments_pg::{ClientSettings, Env, Mode, Vars};
use poem::web::Data;
use poem::{EndpointExt, Route, handler, post};

/// Each webhook as it came: its headers (lower case) and its body.
type Received = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

#[handler]
fn receive(request: &poem::Request, body: Vec<u8>, received: Data<&Received>) {
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    received.lock().unwrap().push((headers, body.to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_pg_keeps_the_contract() {
    assert!(payments_server::PGS.len() >= 2, "Iamport and Toss at least");
    for module in payments_server::PGS {
        let code = module.code();
        // Local mode, nothing set but the fake's port (0: any free one).
        let port = module.fake_port_variable();
        assert!(module.variables().iter().any(|(name, _)| *name == port), "{code}: {port} is among its variables");
        let vars: Vars = [(port.to_owned(), "0".to_owned())].into_iter().collect();
        let mut env = Env::new(&vars, Mode::Local);
        let pg = module.configure(&mut env).unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(pg.code(), code);
        let fake = pg.fake().unwrap_or_else(|| panic!("{code}: built with its fake"));
        assert_eq!(fake.port(), Some(0), "{code}: local mode runs its fake");
        assert!(pg.uses_test_credentials(), "{code}: with the test credentials its fake accepts");
        assert!(module.variables().iter().all(|(name, meaning)| name.starts_with("PAYMENT_") && !meaning.is_empty()));

        let received: Received = Arc::default();
        let sink = Route::new().at("/hook", post(receive)).data(received.clone());
        let sink = payments_fakekit::serve(sink, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let running = fake.start("127.0.0.1:0".parse().unwrap(), format!("{}/hook", sink.url())).await.unwrap();
        let gateway = pg.gateway(ClientSettings { timeout: Duration::from_secs(10) }, Some(&running.url())).unwrap();

        let order = OrderId::parse(format!("contract-{}", code.as_str().replace('.', "-"))).unwrap();
        let price: Money = "10000".parse().unwrap();
        let uid = fake.pay(&running.url(), &order, price).await.unwrap_or_else(|e| panic!("{code}: {e:#}"));
        let store = StoreId::parse("contract-store").unwrap();
        let read = gateway.fetch_payment(&store, &uid).await.unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(
            (read.phase, read.price, read.order_id.as_ref()),
            (PaymentPhase::Paid, price, Some(&order)),
            "{code}"
        );

        let part: Money = "3000".parse().unwrap();
        let request = CancelRequest {
            currency: payments_domain::Currency::krw(),
            amount: part,
            reason: CancelReason::parse("a contract check").unwrap(),
            remaining: price,
            refund_account: None,
            idempotency_key: Some(format!("contract-cancel-{code}")),
        };
        let cancelled = gateway.cancel_payment(&store, &uid, &request).await.unwrap_or_else(|e| panic!("{code}: {e}"));
        let refunded: Vec<Money> = cancelled.cancels.iter().map(|c| c.price).collect();
        let left: Money = "7000".parse().unwrap();
        assert_eq!((refunded, cancelled.remaining()), (vec![part], Some(left)), "{code}: {:?}", cancelled.data);

        // The fake's webhooks (sent in the background) each read as a re-read of this payment.
        let deadline = Instant::now() + Duration::from_secs(10);
        while received.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "{code}: its fake sent no webhook for a payment and a cancel");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let reader = pg.notifications();
        for (headers, raw) in received.lock().unwrap().iter() {
            let body: serde_json::Value = serde_json::from_slice(raw).unwrap();
            let came = RawNotification { headers, body: raw };
            reader.authenticate(&came).unwrap_or_else(|e| panic!("{code}: its own fake's webhook {body} refused: {e}"));
            let mut forged = raw.clone();
            forged.extend_from_slice(b" ");
            let tampered = RawNotification { headers, body: &forged };
            if headers.iter().any(|(name, _)| name == "webhook-signature") {
                assert!(reader.authenticate(&tampered).is_err(), "{code}: a signed webhook changed on the way");
            }
            match reader.read(&body) {
                Ok(NotificationIntent::Reread(NotificationTarget::Payment { uid: named, .. })) => {
                    assert_eq!(named, uid, "{code}: {body}");
                }
                Ok(NotificationIntent::Reread(NotificationTarget::Order { order_id, .. })) => {
                    assert_eq!(order_id, order, "{code}: {body}");
                }
                other => panic!("{code}: its own fake's webhook {body} read as {other:?}"),
            }
        }
        running.stop().await.unwrap();
        sink.stop().await.unwrap();
    }
}
