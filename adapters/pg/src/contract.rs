//! The contract of a PG: what the server needs of each PG it speaks to, in
//! one place per PG crate. `bootstrap` lists the crates' [`PgModule`]s once;
//! everything else (configuration, clients, the webhook route, local mode's
//! fakes, `payments env`) is driven by that list. A PG's fake ([`PgFake`])
//! exists only with the `fake` feature: a server built without it holds no
//! fake code.

use std::sync::Arc;
use std::time::Duration;

use payments_application::ports::{NotificationReader, PaymentGateway};
use payments_domain::VendorCode;

use crate::env::{ConfigError, Env};
use crate::http::PgBuildError;

/// The timeout of a PG's calls when neither it nor the operator says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What every PG client takes from the server's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// Bound on each call, connection included: its own variable, else
    /// `PAYMENT_PG_TIMEOUT_SECS`, else [`PgModule::default_timeout`].
    pub timeout: Duration,
}

/// A PG crate's entry: one `static` per crate (`payments_toss::PG`).
pub trait PgModule: Sync {
    /// Its vendor code.
    fn code(&self) -> VendorCode;

    /// Every variable it reads, `(name, meaning)`, for `payments env` and
    /// the README.
    fn variables(&self) -> &'static [(&'static str, &'static str)];

    /// The variable naming its fake's port in local mode (one of
    /// [`variables`](Self::variables)): test harnesses set it to 0.
    fn fake_port_variable(&self) -> &'static str;

    /// The variable setting the timeout of its calls alone (one of
    /// [`variables`](Self::variables)), over `PAYMENT_PG_TIMEOUT_SECS`.
    fn timeout_variable(&self) -> &'static str;

    /// How long one of its calls may take when no variable says: what its
    /// documentation advises (PortOne V2: a read timeout of at least 60 s),
    /// else [`DEFAULT_TIMEOUT`].
    fn default_timeout(&self) -> Duration {
        DEFAULT_TIMEOUT
    }

    /// Reads its configuration (credentials per store, base URL, its fake's
    /// settings in local mode).
    ///
    /// # Errors
    /// The first invalid variable, named, with the fix.
    fn configure(&self, env: &mut Env<'_>) -> Result<Arc<dyn PgInstance>, ConfigError>;
}

/// A PG, configured.
pub trait PgInstance: Send + Sync + std::fmt::Debug {
    /// Its vendor code.
    fn code(&self) -> VendorCode;

    /// Whether some store is served by the public test credentials its fake
    /// accepts (local mode with nothing set); never outside local mode.
    fn uses_test_credentials(&self) -> bool;

    /// Its fake, when its crate was built with one (local mode runs it).
    #[cfg(feature = "fake")]
    fn fake(&self) -> Option<&dyn PgFake> {
        None
    }

    /// Its client for every configured store, at its configured URL, or at
    /// `fake` (a running fake's URL) when no URL was chosen.
    ///
    /// # Errors
    /// When the URL cannot serve as a base or the HTTP client cannot be built.
    fn gateway(&self, settings: ClientSettings, fake: Option<&str>) -> Result<Arc<dyn PaymentGateway>, PgBuildError>;

    /// The reader of its notifications (the parser its crate tests).
    fn notifications(&self) -> Arc<dyn NotificationReader>;
}

/// A PG's fake, wire-compatible with the PG: what local mode and the tests
/// need of it (feature `fake`).
#[cfg(feature = "fake")]
#[async_trait::async_trait]
pub trait PgFake: Send + Sync {
    /// Local mode: the port it listens on (0: any); `None` outside local mode.
    fn port(&self) -> Option<u16>;

    /// Starts it on `addr`, sending the PG's webhooks to `webhook_url`.
    ///
    /// # Errors
    /// When the address cannot be bound, naming the variable of its port.
    async fn start(
        &self,
        addr: std::net::SocketAddr,
        webhook_url: String,
    ) -> anyhow::Result<payments_fakekit::RunningServer>;

    /// At the running fake (`fake_url`): a card payment of `amount` for
    /// `order`, made as a customer makes it and charged (confirmed where the
    /// PG needs it); its uid. For the contract test and the walkthroughs.
    ///
    /// # Errors
    /// When the fake refuses.
    async fn pay(
        &self,
        fake_url: &str,
        order: &payments_domain::OrderId,
        amount: payments_domain::Money,
    ) -> anyhow::Result<payments_domain::VendorUid>;
}

/// Starts a fake with `start` on `addr`; a failure to listen names the
/// variable that chooses its port (`PAYMENT_FAKE_TOSS_PORT: cannot listen on
/// port 30771: ...`), so the operator knows what to change.
///
/// # Errors
/// When the fake cannot listen.
#[cfg(feature = "fake")]
pub async fn start_fake_on<F, E>(
    variable: &str,
    addr: std::net::SocketAddr,
    start: F,
) -> anyhow::Result<payments_fakekit::RunningServer>
where
    F: std::future::Future<Output = Result<payments_fakekit::RunningServer, E>>,
    E: std::fmt::Display,
{
    start.await.map_err(|e| anyhow::anyhow!("{variable}: cannot listen on port {}: {e}", addr.port()))
}
