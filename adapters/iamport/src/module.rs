//! Iamport's side of the PG contract ([`PgModule`]): its variables, its
//! configuration, its client, its notification reader and (feature `fake`)
//! its fake.

use std::sync::Arc;

use payments_application::ports::{NotificationReader, PaymentGateway};
use payments_domain::VendorCode;
use payments_pg::env::error;
use payments_pg::{ClientSettings, ConfigError, Env, Mode, PgBuildError, PgInstance, PgModule, PgUrl, Stores};

use crate::{
    IAMPORT_URL, IamportConfig, IamportCredentials, IamportGateway, IamportNotifications, TEST_IMP_KEY, TEST_IMP_SECRET,
};

/// Iamport, as the server registers it.
pub static PG: IamportModule = IamportModule;

/// The port of the in-process fake Iamport in local mode, unless set.
pub const FAKE_PORT: u16 = 10851;

/// Iamport's [`PgModule`].
pub struct IamportModule;

/// Iamport, configured.
#[derive(Debug, Clone)]
pub struct IamportPg {
    pub url: PgUrl,
    pub stores: Stores<IamportCredentials>,
    /// Local mode: the fake's port.
    pub fake_port: Option<u16>,
    test_credentials: bool,
}

impl PgModule for IamportModule {
    fn code(&self) -> VendorCode {
        VendorCode::Iamport
    }

    fn variables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "PAYMENT_IAMPORT_KEY / PAYMENT_IAMPORT_SECRET",
                "Iamport REST API key pair for any store not listed below",
            ),
            ("PAYMENT_IAMPORT_STORES", "JSON {\"store_id\": {\"key\": \"..\", \"secret\": \"..\"}} for several stores"),
            ("PAYMENT_IAMPORT_URL", "Iamport API base URL (default https://api.iamport.kr; the fake in local mode)"),
            ("PAYMENT_FAKE_IAMPORT_PORT", "local mode: port of the in-process fake Iamport (default 10851)"),
            (
                "PAYMENT_IAMPORT_TIMEOUT_SECS",
                "timeout of each Iamport call (default: PAYMENT_PG_TIMEOUT_SECS if set, else 10)",
            ),
        ]
    }

    fn fake_port_variable(&self) -> &'static str {
        "PAYMENT_FAKE_IAMPORT_PORT"
    }

    fn timeout_variable(&self) -> &'static str {
        "PAYMENT_IAMPORT_TIMEOUT_SECS"
    }

    fn configure(&self, env: &mut Env<'_>) -> Result<Arc<dyn PgInstance>, ConfigError> {
        Ok(Arc::new(IamportPg::read(env)?))
    }
}

impl IamportPg {
    /// Reads Iamport's variables.
    ///
    /// # Errors
    /// The first invalid one, named.
    pub fn read(env: &mut Env<'_>) -> Result<Self, ConfigError> {
        let local = env.mode() == Mode::Local;
        let fake_port = if local { Some(env.number("PAYMENT_FAKE_IAMPORT_PORT", FAKE_PORT)?) } else { None };
        let url = env.pg_url("PAYMENT_IAMPORT_URL", IAMPORT_URL, fake_port)?;
        let pair = |value: &serde_json::Value| {
            let field = |name: &str| value.get(name).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
            Some(IamportCredentials::new(field("key")?, field("secret")?))
        };
        let mut stores = Stores::default();
        let shape = r#"{"store-id": {"key": "...", "secret": "..."}}"#;
        for (store, credentials) in env.stores("PAYMENT_IAMPORT_STORES", shape, pair)? {
            stores = stores.with_store(store, credentials);
        }
        let mut test_credentials = false;
        match (env.get("PAYMENT_IAMPORT_KEY"), env.get("PAYMENT_IAMPORT_SECRET")) {
            (Some(key), Some(secret)) => stores = stores.with_default(IamportCredentials::new(key, secret)),
            (Some(_), None) => {
                return Err(error("PAYMENT_IAMPORT_SECRET", "is required when PAYMENT_IAMPORT_KEY is set"));
            }
            (None, Some(_)) => {
                return Err(error("PAYMENT_IAMPORT_KEY", "is required when PAYMENT_IAMPORT_SECRET is set"));
            }
            (None, None) if local => {
                env.defaulted("PAYMENT_IAMPORT_KEY");
                stores = stores.with_default(IamportCredentials::new(TEST_IMP_KEY, TEST_IMP_SECRET));
                test_credentials = true;
            }
            (None, None) => {}
        }
        Ok(Self { url, stores, fake_port, test_credentials })
    }
}

/// The `response` of an Iamport envelope whose `code` is 0.
#[cfg(feature = "fake")]
fn response(answer: &payments_pg::Answer, what: &str) -> anyhow::Result<serde_json::Value> {
    let envelope: serde_json::Value = serde_json::from_slice(&answer.body)?;
    anyhow::ensure!(envelope["code"] == 0, "the fake Iamport answered {what} with {}: {envelope}", answer.status);
    Ok(envelope["response"].clone())
}

impl PgInstance for IamportPg {
    fn code(&self) -> VendorCode {
        VendorCode::Iamport
    }

    fn uses_test_credentials(&self) -> bool {
        self.test_credentials
    }

    #[cfg(feature = "fake")]
    fn fake(&self) -> Option<&dyn payments_pg::PgFake> {
        Some(self)
    }

    fn gateway(&self, settings: ClientSettings, fake: Option<&str>) -> Result<Arc<dyn PaymentGateway>, PgBuildError> {
        let config = IamportConfig { stores: self.stores.clone(), ..IamportConfig::new(self.url.or_fake(fake)) }
            .with_timeout(settings.timeout);
        Ok(Arc::new(IamportGateway::new(config)?))
    }

    fn notifications(&self) -> Arc<dyn NotificationReader> {
        Arc::new(IamportNotifications)
    }
}

#[cfg(feature = "fake")]
#[async_trait::async_trait]
impl payments_pg::PgFake for IamportPg {
    fn port(&self) -> Option<u16> {
        self.fake_port
    }

    async fn start(
        &self,
        addr: std::net::SocketAddr,
        webhook_url: String,
    ) -> anyhow::Result<payments_fakekit::RunningServer> {
        let config = crate::fake::FakeIamportConfig::default().with_webhook_url(webhook_url);
        payments_pg::start_fake_on("PAYMENT_FAKE_IAMPORT_PORT", addr, crate::fake::start(config, addr)).await
    }

    async fn pay(
        &self,
        fake_url: &str,
        order: &payments_domain::OrderId,
        amount: payments_domain::Money,
    ) -> anyhow::Result<payments_domain::VendorUid> {
        use reqwest::Method;
        let http = payments_pg::PgHttp::new("the fake Iamport", fake_url, std::time::Duration::from_secs(10))?;
        let credentials = serde_json::json!({"imp_key": TEST_IMP_KEY, "imp_secret": TEST_IMP_SECRET});
        let request = http.request(Method::POST, &["users", "getToken"]).json(&credentials);
        let token = response(&http.send(request, "POST /users/getToken").await?, "getToken")?;
        // The customer's window, which honours an amount prepared for the order.
        let body = serde_json::json!({
            "merchant_uid": order.as_str(), "amount": amount.to_json_number(), "pay_method": "card",
            "name": "a contract check",
        });
        let request = http
            .request(Method::POST, &["internal", "payments"])
            .header(reqwest::header::AUTHORIZATION, token["access_token"].as_str().unwrap_or_default())
            .json(&body);
        let answer = http.send(request, "POST /internal/payments").await?;
        let payment: serde_json::Value = serde_json::from_slice(&answer.body)?;
        anyhow::ensure!(
            payment["success"] == true && payment["status"] == "paid",
            "the fake Iamport's window answered {}: {payment}",
            answer.status
        );
        Ok(payments_domain::VendorUid::parse(payment["imp_uid"].as_str().unwrap_or_default())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payments_pg::Vars;

    fn read(mode: Mode, pairs: &[(&str, &str)]) -> Result<(IamportPg, Vec<&'static str>), ConfigError> {
        let vars: Vars = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut env = Env::new(&vars, mode);
        let pg = IamportPg::read(&mut env)?;
        Ok((pg, env.into_defaulted()))
    }

    #[test]
    fn local_mode_runs_a_fake_with_its_test_key_pair() {
        let (pg, defaulted) = read(Mode::Local, &[]).unwrap();
        assert_eq!((pg.fake_port, pg.url.url.as_str()), (Some(FAKE_PORT), "http://127.0.0.1:10851"));
        assert!(pg.stores.get(VendorCode::Iamport, "any").unwrap().matches(TEST_IMP_KEY, TEST_IMP_SECRET));
        assert!(pg.uses_test_credentials());
        assert_eq!(defaulted, vec!["PAYMENT_IAMPORT_KEY"]);
    }

    #[test]
    fn real_mode_takes_each_stores_key_pair_and_no_fake() {
        let pairs = [
            ("PAYMENT_IAMPORT_STORES", r#"{"a": {"key": "k", "secret": "s"}, "b": {"key": "k2", "secret": "s2"}}"#),
            ("PAYMENT_IAMPORT_KEY", "k0"),
            ("PAYMENT_IAMPORT_SECRET", "s0"),
        ];
        let (pg, defaulted) = read(Mode::Real, &pairs).unwrap();
        assert!(defaulted.is_empty() && pg.fake_port.is_none() && !pg.uses_test_credentials());
        assert_eq!(pg.url.url, IAMPORT_URL);
        assert!(pg.stores.get(VendorCode::Iamport, "b").unwrap().matches("k2", "s2"));
        assert!(pg.stores.get(VendorCode::Iamport, "c").unwrap().matches("k0", "s0"));
        assert!(!format!("{pg:?}").contains("s2"), "{pg:?}");
    }

    #[test]
    fn bad_values_are_named() {
        for (mode, pairs, name, hint) in [
            (Mode::Dev, vec![("PAYMENT_IAMPORT_KEY", "k")], "PAYMENT_IAMPORT_SECRET", "is required when"),
            (Mode::Dev, vec![("PAYMENT_IAMPORT_SECRET", "s")], "PAYMENT_IAMPORT_KEY", "is required when"),
            (
                Mode::Dev,
                vec![("PAYMENT_IAMPORT_STORES", r#"{"a": {"key": "k"}}"#)],
                "PAYMENT_IAMPORT_STORES",
                "JSON like",
            ),
            (Mode::Real, vec![("PAYMENT_IAMPORT_URL", "http://api.iamport.kr")], "PAYMENT_IAMPORT_URL", "https URL"),
            (
                Mode::Local,
                vec![("PAYMENT_FAKE_IAMPORT_PORT", "70000")],
                "PAYMENT_FAKE_IAMPORT_PORT",
                "not a valid number",
            ),
        ] {
            let err = read(mode, &pairs).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.problem.contains(hint), "{err}");
        }
    }
}
