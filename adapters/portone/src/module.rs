//! PortOne V2's side of the PG contract ([`PgModule`]): its variables, its
//! configuration, its client, its notification reader and (feature `fake`)
//! its fake.

use std::sync::Arc;

use payments_application::ports::{NotificationReader, PaymentGateway};
use payments_domain::VendorCode;
use payments_pg::env::error;
use payments_pg::{
    ClientSettings, ConfigError, Env, ExposeSecret, Mode, PgBuildError, PgInstance, PgModule, PgUrl, Stores,
};

use crate::{
    DEFAULT_BASE_URL, PortOneConfig, PortOneGateway, PortOneNotifications, PortOneStore, TEST_API_SECRET,
    TEST_STORE_ID, TEST_WEBHOOK_SECRET, WebhookKey,
};

/// PortOne V2, as the server registers it.
pub static PG: PortOneModule = PortOneModule;

/// The port of the in-process fake PortOne in local mode, unless set.
pub const FAKE_PORT: u16 = 20771;

/// PortOne V2's [`PgModule`].
pub struct PortOneModule;

/// PortOne V2, configured.
#[derive(Debug, Clone)]
pub struct PortOnePg {
    pub url: PgUrl,
    pub stores: Stores<PortOneStore>,
    /// Every store's webhook secret (the default store's for any store).
    pub webhook_keys: Vec<WebhookKey>,
    pub fake_port: Option<u16>,
    test_credentials: bool,
}

impl PgModule for PortOneModule {
    fn code(&self) -> VendorCode {
        VendorCode::PortOne
    }

    fn variables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("PAYMENT_PORTONE_SECRET", "PortOne V2 API secret for any store not listed below"),
            (
                "PAYMENT_PORTONE_STORE_ID",
                "PortOne's id of that store (store-...), sent as storeId (default: the API secret's own store)",
            ),
            (
                "PAYMENT_PORTONE_WEBHOOK_SECRET",
                "the secret PortOne signs that store's webhooks with (whsec_...); PortOne webhooks without one are refused",
            ),
            (
                "PAYMENT_PORTONE_STORES",
                "JSON {\"store_id\": {\"secret\": \"..\", \"store_id\": \"store-..\", \"webhook_secret\": \"whsec_..\"}} for several stores",
            ),
            ("PAYMENT_PORTONE_URL", "PortOne API base URL (default https://api.portone.io; the fake in local mode)"),
            ("PAYMENT_FAKE_PORTONE_PORT", "local mode: port of the in-process fake PortOne (default 20771)"),
            (
                "PAYMENT_PORTONE_TIMEOUT_SECS",
                "timeout of each PortOne call (default: PAYMENT_PG_TIMEOUT_SECS if set, else 60, as PortOne advises)",
            ),
        ]
    }

    fn fake_port_variable(&self) -> &'static str {
        "PAYMENT_FAKE_PORTONE_PORT"
    }

    fn timeout_variable(&self) -> &'static str {
        "PAYMENT_PORTONE_TIMEOUT_SECS"
    }

    /// PortOne's REST overview advises a read timeout of at least 60 s.
    fn default_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(60)
    }

    fn configure(&self, env: &mut Env<'_>) -> Result<Arc<dyn PgInstance>, ConfigError> {
        Ok(Arc::new(PortOnePg::read(env)?))
    }
}

/// A webhook secret as Standard Webhooks takes it (`whsec_` + base64, or base64).
fn check_webhook_secret(variable: &'static str, secret: &str) -> Result<(), ConfigError> {
    standardwebhooks::Webhook::new(secret)
        .map(drop)
        .map_err(|_| error(variable, "must be whsec_ followed by base64 (as PortOne issues it)"))
}

impl PortOnePg {
    /// Reads PortOne's variables.
    ///
    /// # Errors
    /// The first invalid one, named.
    pub fn read(env: &mut Env<'_>) -> Result<Self, ConfigError> {
        let local = env.mode() == Mode::Local;
        let fake_port = if local { Some(env.number("PAYMENT_FAKE_PORTONE_PORT", FAKE_PORT)?) } else { None };
        let url = env.pg_url("PAYMENT_PORTONE_URL", DEFAULT_BASE_URL, fake_port)?;
        let variable = "PAYMENT_PORTONE_STORES";
        let store = |value: &serde_json::Value| {
            let field = |name: &str| value.get(name).and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty());
            let mut store = PortOneStore::new(field("secret")?);
            if let Some(id) = field("store_id") {
                store = store.with_store_id(id);
            }
            if let Some(secret) = field("webhook_secret") {
                store = store.with_webhook_secret(secret);
            }
            Some(store)
        };
        let shape = r#"{"store-id": {"secret": "...", "store_id": "store-...", "webhook_secret": "whsec_..."}}"#;
        let mut stores = Stores::default();
        let mut webhook_keys = Vec::new();
        for (ours, store) in env.stores(variable, shape, store)? {
            if let Some(secret) = &store.webhook_secret {
                check_webhook_secret(variable, secret.expose_secret())?;
                webhook_keys.push(WebhookKey { store_id: store.store_id.clone(), secret: secret.clone() });
            }
            stores = stores.with_store(ours, store);
        }
        let mut test_credentials = false;
        let default = match env.get("PAYMENT_PORTONE_SECRET") {
            Some(secret) => {
                let mut store = PortOneStore::new(secret);
                if let Some(id) = env.get("PAYMENT_PORTONE_STORE_ID") {
                    store = store.with_store_id(id.trim());
                }
                if let Some(secret) = env.get("PAYMENT_PORTONE_WEBHOOK_SECRET") {
                    check_webhook_secret("PAYMENT_PORTONE_WEBHOOK_SECRET", secret)?;
                    store = store.with_webhook_secret(secret.trim());
                }
                Some(store)
            }
            None if local => {
                env.defaulted("PAYMENT_PORTONE_SECRET");
                test_credentials = true;
                Some(
                    PortOneStore::new(TEST_API_SECRET)
                        .with_store_id(TEST_STORE_ID)
                        .with_webhook_secret(TEST_WEBHOOK_SECRET),
                )
            }
            None => None,
        };
        if let Some(store) = default {
            if let Some(secret) = &store.webhook_secret {
                webhook_keys.push(WebhookKey { store_id: store.store_id.clone(), secret: secret.clone() });
            }
            stores = stores.with_default(store);
        }
        Ok(Self { url, stores, webhook_keys, fake_port, test_credentials })
    }
}

impl PgInstance for PortOnePg {
    fn code(&self) -> VendorCode {
        VendorCode::PortOne
    }

    fn uses_test_credentials(&self) -> bool {
        self.test_credentials
    }

    #[cfg(feature = "fake")]
    fn fake(&self) -> Option<&dyn payments_pg::PgFake> {
        Some(self)
    }

    fn gateway(&self, settings: ClientSettings, fake: Option<&str>) -> Result<Arc<dyn PaymentGateway>, PgBuildError> {
        let config =
            PortOneConfig { base_url: self.url.or_fake(fake), stores: self.stores.clone(), timeout: settings.timeout };
        Ok(Arc::new(PortOneGateway::new(config)?))
    }

    fn notifications(&self) -> Arc<dyn NotificationReader> {
        Arc::new(PortOneNotifications::new(self.webhook_keys.clone()))
    }
}

#[cfg(feature = "fake")]
#[async_trait::async_trait]
impl payments_pg::PgFake for PortOnePg {
    fn port(&self) -> Option<u16> {
        self.fake_port
    }

    async fn start(
        &self,
        addr: std::net::SocketAddr,
        webhook_url: String,
    ) -> anyhow::Result<payments_fakekit::RunningServer> {
        let config = crate::fake::FakePortOneConfig { webhook_url: Some(webhook_url), ..Default::default() };
        payments_pg::start_fake_on("PAYMENT_FAKE_PORTONE_PORT", addr, crate::fake::start(config, addr)).await
    }

    async fn pay(
        &self,
        fake_url: &str,
        order: &payments_domain::OrderId,
        amount: payments_domain::Money,
    ) -> anyhow::Result<payments_domain::VendorUid> {
        let http = payments_pg::PgHttp::new("the fake PortOne", fake_url, std::time::Duration::from_secs(10))?;
        let request = http
            .request(reqwest::Method::POST, &["internal", "payments", order.as_str()])
            .header(reqwest::header::AUTHORIZATION, crate::authorization(TEST_API_SECRET))
            .json(&serde_json::json!({"method": "card", "amount": amount.to_json_number(), "orderName": "a contract check"}));
        let answer = http.send(request, "POST /internal/payments").await?;
        let payment: serde_json::Value = serde_json::from_slice(&answer.body)?;
        anyhow::ensure!(payment["status"] == "PAID", "the fake PortOne answered {}: {payment}", answer.status);
        Ok(payments_domain::VendorUid::parse(payment["id"].as_str().unwrap_or_default())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payments_pg::Vars;

    fn read(mode: Mode, pairs: &[(&str, &str)]) -> Result<(PortOnePg, Vec<&'static str>), ConfigError> {
        let vars: Vars = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut env = Env::new(&vars, mode);
        let pg = PortOnePg::read(&mut env)?;
        Ok((pg, env.into_defaulted()))
    }

    #[test]
    fn local_mode_runs_a_fake_with_its_test_store() {
        let (pg, defaulted) = read(Mode::Local, &[]).unwrap();
        assert_eq!((pg.fake_port, pg.url.url.as_str()), (Some(FAKE_PORT), "http://127.0.0.1:20771"));
        let store = pg.stores.get(VendorCode::PortOne, "any").unwrap();
        assert_eq!(
            (store.api_secret.expose_secret(), store.store_id.as_deref()),
            (TEST_API_SECRET, Some(TEST_STORE_ID))
        );
        assert_eq!(pg.webhook_keys.len(), 1);
        assert!(pg.uses_test_credentials());
        assert_eq!(defaulted, vec!["PAYMENT_PORTONE_SECRET"]);
    }

    #[test]
    fn real_mode_takes_each_stores_secrets_and_no_fake() {
        let pairs = [
            (
                "PAYMENT_PORTONE_STORES",
                r#"{"shop-a": {"secret": "sk-a", "store_id": "store-a", "webhook_secret": "whsec_c2VjcmV0LW9mLXNob3AtYS0wMTIzNDU2Nzg5"}}"#,
            ),
            ("PAYMENT_PORTONE_SECRET", "sk-all"),
        ];
        let (pg, defaulted) = read(Mode::Real, &pairs).unwrap();
        assert!(defaulted.is_empty() && pg.fake_port.is_none() && !pg.uses_test_credentials());
        let a = pg.stores.get(VendorCode::PortOne, "shop-a").unwrap();
        assert_eq!((a.api_secret.expose_secret(), a.store_id.as_deref()), ("sk-a", Some("store-a")));
        assert_eq!(pg.stores.get(VendorCode::PortOne, "other").unwrap().api_secret.expose_secret(), "sk-all");
        assert_eq!(pg.webhook_keys.iter().map(|k| k.store_id.as_deref()).collect::<Vec<_>>(), vec![Some("store-a")]);
        assert!(!format!("{pg:?}").contains("sk-a") && !format!("{pg:?}").contains("whsec"), "{pg:?}");
    }

    #[test]
    fn bad_values_are_named() {
        for (mode, name, value, hint) in [
            (Mode::Real, "PAYMENT_PORTONE_URL", "http://api.portone.io", "https URL in real mode"),
            (Mode::Dev, "PAYMENT_PORTONE_STORES", r#"{"a": {"store_id": "s"}}"#, "JSON like"),
            (
                Mode::Dev,
                "PAYMENT_PORTONE_STORES",
                r#"{"a": {"secret": "s", "webhook_secret": "not base64!"}}"#,
                "whsec_",
            ),
            (Mode::Local, "PAYMENT_FAKE_PORTONE_PORT", "port", "not a valid number"),
        ] {
            let err = read(mode, &[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.problem.contains(hint), "{err}");
        }
        let pairs = [("PAYMENT_PORTONE_SECRET", "sk"), ("PAYMENT_PORTONE_WEBHOOK_SECRET", "***")];
        assert_eq!(read(Mode::Dev, &pairs).unwrap_err().variable, "PAYMENT_PORTONE_WEBHOOK_SECRET");
    }
}
