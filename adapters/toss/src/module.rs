//! Toss Payments' side of the PG contract ([`PgModule`]): its variables, its
//! configuration, its client, its notification reader and (feature `fake`)
//! its fake.

use std::sync::Arc;
#[cfg(feature = "fake")]
use std::time::Duration;

use payments_application::ports::{NotificationReader, PaymentGateway};
use payments_domain::VendorCode;
use payments_pg::{ClientSettings, ConfigError, Env, Mode, PgBuildError, PgInstance, PgModule, PgUrl, Stores};

#[cfg(feature = "fake")]
use crate::fake::{FakeTossConfig, TossApiVersion};
use crate::{DEFAULT_BASE_URL, TEST_SECRET_KEY, TossConfig, TossCredentials, TossGateway, TossNotifications};

/// Toss Payments, as the server registers it.
pub static PG: TossModule = TossModule;

/// The port of the in-process fake Toss in local mode, unless set.
pub const FAKE_PORT: u16 = 30771;
/// The variable choosing the fake Toss's API version.
pub const FAKE_API_VERSION: &str = "PAYMENT_FAKE_TOSS_API_VERSION";

/// Toss Payments' [`PgModule`].
pub struct TossModule;

/// How local mode's fake Toss behaves.
#[cfg(feature = "fake")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeSettings {
    pub port: u16,
    pub api_version: TossApiVersion,
    pub cancel_window: Duration,
}

/// Toss Payments, configured.
#[derive(Debug, Clone)]
pub struct TossPg {
    pub url: PgUrl,
    pub stores: Stores<TossCredentials>,
    /// Set in local mode.
    #[cfg(feature = "fake")]
    pub fake: Option<FakeSettings>,
    test_credentials: bool,
}

impl PgModule for TossModule {
    fn code(&self) -> VendorCode {
        VendorCode::TossPayments
    }

    fn variables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("PAYMENT_TOSS_PAYMENTS_SECRET", "Toss Payments secret key for any store not listed below"),
            ("PAYMENT_TOSS_STORES", "JSON {\"store_id\": \"secret key\"} for several stores"),
            ("PAYMENT_TOSS_URL", "Toss API base URL (default https://api.tosspayments.com; the fake in local mode)"),
            ("PAYMENT_FAKE_TOSS_PORT", "local mode: port of the in-process fake Toss (default 30771)"),
            (
                "PAYMENT_TOSS_TIMEOUT_SECS",
                "timeout of each Toss call (default: PAYMENT_PG_TIMEOUT_SECS if set, else 10)",
            ),
            (
                FAKE_API_VERSION,
                "the Toss API version the fake Toss answers in: 2022-11-16 (default) or 1.4 (the original SDK's)",
            ),
            (
                "PAYMENT_FAKE_TOSS_CANCEL_WINDOW_MS",
                "local mode: how soon after a cancel the fake Toss refuses another of the same payment (default 1000, Toss's rule)",
            ),
        ]
    }

    fn fake_port_variable(&self) -> &'static str {
        "PAYMENT_FAKE_TOSS_PORT"
    }

    fn timeout_variable(&self) -> &'static str {
        "PAYMENT_TOSS_TIMEOUT_SECS"
    }

    fn configure(&self, env: &mut Env<'_>) -> Result<Arc<dyn PgInstance>, ConfigError> {
        Ok(Arc::new(TossPg::read(env)?))
    }
}

impl TossPg {
    /// Reads Toss's variables.
    ///
    /// # Errors
    /// The first invalid one, named.
    pub fn read(env: &mut Env<'_>) -> Result<Self, ConfigError> {
        let local = env.mode() == Mode::Local;
        #[cfg(feature = "fake")]
        let fake = if local {
            let api_version = match env.get(FAKE_API_VERSION) {
                Some(text) => {
                    text.trim().parse().map_err(|e| payments_pg::env::error(FAKE_API_VERSION, format!("{e}")))?
                }
                None => TossApiVersion::default(),
            };
            Some(FakeSettings {
                port: env.number("PAYMENT_FAKE_TOSS_PORT", FAKE_PORT)?,
                api_version,
                cancel_window: env.millis("PAYMENT_FAKE_TOSS_CANCEL_WINDOW_MS", 1000, 0..=60_000)?,
            })
        } else {
            None
        };
        #[cfg(feature = "fake")]
        let fake_port = fake.map(|f| f.port);
        #[cfg(not(feature = "fake"))]
        let fake_port = None;
        let url = env.pg_url("PAYMENT_TOSS_URL", DEFAULT_BASE_URL, fake_port)?;
        let key = |value: &serde_json::Value| value.as_str().filter(|s| !s.is_empty()).map(TossCredentials::new);
        let mut stores = Stores::default();
        for (store, credentials) in env.stores("PAYMENT_TOSS_STORES", r#"{"store-id": "secret key"}"#, key)? {
            stores = stores.with_store(store, credentials);
        }
        let mut test_credentials = false;
        match env.get("PAYMENT_TOSS_PAYMENTS_SECRET") {
            Some(secret) => stores = stores.with_default(TossCredentials::new(secret)),
            None if local => {
                env.defaulted("PAYMENT_TOSS_PAYMENTS_SECRET");
                stores = stores.with_default(TossCredentials::new(TEST_SECRET_KEY));
                test_credentials = true;
            }
            None => {}
        }
        Ok(Self {
            url,
            stores,
            #[cfg(feature = "fake")]
            fake,
            test_credentials,
        })
    }
}

impl PgInstance for TossPg {
    fn code(&self) -> VendorCode {
        VendorCode::TossPayments
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
            TossConfig { base_url: self.url.or_fake(fake), stores: self.stores.clone(), timeout: settings.timeout };
        Ok(Arc::new(TossGateway::new(config)?))
    }

    fn notifications(&self) -> Arc<dyn NotificationReader> {
        Arc::new(TossNotifications)
    }
}

#[cfg(feature = "fake")]
#[async_trait::async_trait]
impl payments_pg::PgFake for TossPg {
    fn port(&self) -> Option<u16> {
        self.fake.map(|f| f.port)
    }

    async fn start(
        &self,
        addr: std::net::SocketAddr,
        webhook_url: String,
    ) -> anyhow::Result<payments_fakekit::RunningServer> {
        let settings = self.fake.unwrap_or(FakeSettings {
            port: addr.port(),
            api_version: TossApiVersion::default(),
            cancel_window: Duration::from_secs(1),
        });
        let config = FakeTossConfig {
            webhook_url: Some(webhook_url),
            api_version: settings.api_version,
            consecutive_cancel_window: settings.cancel_window,
            ..FakeTossConfig::default()
        };
        payments_pg::start_fake_on("PAYMENT_FAKE_TOSS_PORT", addr, crate::fake::start(config, addr)).await
    }

    async fn pay(
        &self,
        fake_url: &str,
        order: &payments_domain::OrderId,
        amount: payments_domain::Money,
    ) -> anyhow::Result<payments_domain::VendorUid> {
        let http = payments_pg::PgHttp::new("the fake Toss", fake_url, Duration::from_secs(10))?;
        let body = serde_json::json!({
            "method": "card", "cardNumber": "4330123412341234", "cardExpirationYear": "30",
            "cardExpirationMonth": "12", "amount": amount.to_json_number(), "orderId": order.as_str(),
            "orderName": "a contract check",
        });
        let request = http
            .request(reqwest::Method::POST, &["v1", "payments", "key-in"])
            .header(reqwest::header::AUTHORIZATION, crate::basic_authorization(TEST_SECRET_KEY))
            .json(&body);
        let answer = http.send(request, "POST /v1/payments/key-in").await?;
        let payment: serde_json::Value = serde_json::from_slice(&answer.body)?;
        anyhow::ensure!(payment["status"] == "DONE", "the fake Toss answered {}: {payment}", answer.status);
        Ok(payments_domain::VendorUid::parse(payment["paymentKey"].as_str().unwrap_or_default())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payments_pg::Vars;

    fn read(mode: Mode, pairs: &[(&str, &str)]) -> Result<(TossPg, Vec<&'static str>), ConfigError> {
        let vars: Vars = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut env = Env::new(&vars, mode);
        let pg = TossPg::read(&mut env)?;
        Ok((pg, env.into_defaulted()))
    }

    #[test]
    fn local_mode_runs_a_fake_with_the_public_test_key() {
        let (pg, defaulted) = read(Mode::Local, &[]).unwrap();
        assert_eq!(
            pg.fake,
            Some(FakeSettings {
                port: FAKE_PORT,
                api_version: TossApiVersion::default(),
                cancel_window: Duration::from_secs(1)
            })
        );
        assert_eq!(pg.url.url, "http://127.0.0.1:30771");
        assert_eq!(pg.stores.get(VendorCode::TossPayments, "any").unwrap().secret_key(), TEST_SECRET_KEY);
        assert!(pg.uses_test_credentials());
        assert_eq!(defaulted, vec!["PAYMENT_TOSS_PAYMENTS_SECRET"]);
        let (old, _) = read(Mode::Local, &[(FAKE_API_VERSION, "1.4"), ("PAYMENT_FAKE_TOSS_PORT", "0")]).unwrap();
        assert_eq!(old.fake.map(|f| (f.port, f.api_version.to_string())), Some((0, "1.4".to_owned())));
    }

    #[test]
    fn real_mode_takes_the_keys_of_each_store_and_no_fake() {
        let pairs =
            [("PAYMENT_TOSS_STORES", r#"{"shop-a": "live_sk_a"}"#), ("PAYMENT_TOSS_PAYMENTS_SECRET", "live_sk_all")];
        let (pg, defaulted) = read(Mode::Real, &pairs).unwrap();
        assert!(defaulted.is_empty() && pg.fake.is_none() && !pg.uses_test_credentials());
        assert_eq!(pg.url.url, DEFAULT_BASE_URL);
        assert_eq!(pg.stores.get(VendorCode::TossPayments, "shop-a").unwrap().secret_key(), "live_sk_a");
        assert_eq!(pg.stores.get(VendorCode::TossPayments, "other").unwrap().secret_key(), "live_sk_all");
        assert!(!format!("{pg:?}").contains("live_sk"), "{pg:?}");
        let (none, _) = read(Mode::Real, &[]).unwrap();
        assert!(none.stores.get(VendorCode::TossPayments, "shop-a").is_err(), "no key: every store unknown");
    }

    #[test]
    fn bad_values_are_named() {
        for (mode, name, value, hint) in [
            (Mode::Local, FAKE_API_VERSION, "2099-01-01", "2022-11-16"),
            (Mode::Local, "PAYMENT_FAKE_TOSS_CANCEL_WINDOW_MS", "60001", "between 0 and 60000"),
            (Mode::Real, "PAYMENT_TOSS_URL", "http://api.tosspayments.com", "https URL in real mode"),
            (Mode::Dev, "PAYMENT_TOSS_STORES", r#"{"a": 1}"#, "JSON like"),
        ] {
            let err = read(mode, &[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.problem.contains(hint), "{err}");
        }
    }
}
