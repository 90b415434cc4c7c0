//! Configuration from environment variables (and a `.env` file), validated at
//! start-up with messages that name the variable and the fix.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use payments_crypto::{Argon2Params, Keyring, WireCipher};
use payments_domain::RetrySchedule;
use payments_webhook::WebhookSecret;

pub use payments_pg::env::error;
pub use payments_pg::{ConfigError, Mode, Vars};
use payments_pg::{Env, PgInstance};

/// What the server does with every PG; each PG's own settings (credentials,
/// URL, fake) are its crate's, read by its [`payments_pg::PgModule`].
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// The PGs served, in the order of [`crate::PGS`].
    pub pgs: Vec<Arc<dyn PgInstance>>,
    /// The URLs of the fakes started in this process (local mode), by PG:
    /// each PG whose URL was not chosen is reached there.
    pub fakes: std::collections::BTreeMap<payments_domain::VendorCode, String>,
    /// The timeout of each PG's calls: its own variable
    /// (`PAYMENT_PORTONE_TIMEOUT_SECS`), else `PAYMENT_PG_TIMEOUT_SECS`,
    /// else what the PG advises ([`payments_pg::PgModule::default_timeout`]).
    pub timeouts: std::collections::BTreeMap<payments_domain::VendorCode, Duration>,
    /// How long a cancel being sent belongs to its sender before another may
    /// settle it (`PAYMENT_CANCEL_LEASE_SECS`; must exceed the longest PG timeout).
    pub cancel_lease: Duration,
    /// How often cancels whose answer was lost are settled in the background
    /// (`PAYMENT_CANCEL_SETTLE_SECS`; `None`: never, only by the next cancel).
    pub cancel_settle_every: Option<Duration>,
}

/// The reconciler run by `serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconcileConfig {
    /// How often it runs (`PAYMENT_RECONCILE_INTERVAL`); `None`: never.
    pub every: Option<Duration>,
    /// Histories registered or changed within this window are re-read, with
    /// every one not paid yet (`PAYMENT_RECONCILE_SINCE`).
    pub window: Duration,
    /// The pause between two PG reads (`PAYMENT_RECONCILE_PACE_MS`).
    pub pace: Duration,
}

/// Outgoing webhook delivery.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub secret: WebhookSecret,
    pub timeout: Duration,
    pub schedule: RetrySchedule,
    pub concurrency: usize,
    /// Deliveries in flight at once to one receiver (host and port), at most
    /// `concurrency` (`PAYMENT_WEBHOOK_CONCURRENCY_PER_HOST`).
    pub per_host: usize,
    pub poll_interval: Duration,
    /// Where webhooks may go (`PAYMENT_WEBHOOK_ALLOWED_HOSTS`,
    /// `PAYMENT_WEBHOOK_ALLOW_PRIVATE`; anything in local mode).
    pub targets: payments_webhook::TargetPolicy,
    /// How long a claimed delivery stays owned by its worker; after a crash
    /// the job is claimed again once this has passed. Longer than `timeout`.
    pub lease: Duration,
    /// How long a settled delivery (its event and attempts) is kept.
    pub retention: Duration,
}

/// Keys at rest, one keyring per table.
#[derive(Clone, Debug)]
pub struct AtRestKeyrings {
    pub histories: Keyring,
    pub cancels: Keyring,
    pub reservations: Keyring,
}

/// Bounds of the API listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// An HTTP/1 request head (request line and headers) not complete this
    /// long after its first byte closes the connection (slow clients that
    /// keep a connection with a byte now and then); a new connection's first
    /// head (or HTTP/2 preface) is timed from the accept (silent sockets).
    pub header_timeout: Duration,
    /// Requests one HTTP/2 connection may have in flight at once.
    pub http2_max_streams: u32,
    /// A request still running after this is answered 503.
    pub request_timeout: Duration,
}

/// Everything the server needs, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub mode: Mode,
    pub listen: SocketAddr,
    /// Where `GET /metrics` is served; `None` when turned off.
    pub metrics_listen: Option<SocketAddr>,
    /// The operators' console: its listener and sessions.
    pub console: ConsoleConfig,
    /// What one client may hold of the API listener.
    pub limits: ServerLimits,
    pub database_url: String,
    pub database_max_connections: u32,
    /// Where PG notifications wait while the database cannot take them
    /// (`PAYMENT_NOTIFICATION_SPOOL`); `None`: answered 503 instead.
    pub notification_spool: Option<payments_sqlx::SpoolConfig>,
    pub wire: WireCipher,
    pub at_rest: AtRestKeyrings,
    /// Keys the idempotency fingerprints: derived from the wire key and the
    /// history key, so instances configured alike agree, and the database
    /// alone does not hold it.
    pub idempotency_secret: payments_http::IdempotencySecret,
    pub pg: PgConfig,
    pub webhooks: WebhookConfig,
    pub argon2: Argon2Params,
    pub argon2_max_parallel: usize,
    /// Hashes allowed to wait for a hashing thread; more answer 503 at once.
    pub argon2_max_queue: usize,
    /// Record passwords: their minimum length and the lockout of guessing.
    pub passwords: payments_application::PasswordPolicy,
    /// Whether a payment registers only under its own order
    /// (`PAYMENT_BIND_ORDER_TO_SOURCE`).
    pub orders: payments_application::OrderBinding,
    /// Whether a request without an API key runs as the legacy client (the
    /// connection key above) (`PAYMENT_LEGACY_CLIENT`).
    pub legacy_client: bool,
    /// Requests a second of a client that names no rate of its own
    /// (`PAYMENT_CLIENT_RATE_PER_SEC`).
    pub client_rate: u32,
    /// Bounds on the PG reads PG notifications trigger
    /// (`PAYMENT_NOTIFICATION_REREAD_MS`, `PAYMENT_NOTIFICATION_READS_PER_SEC`).
    pub rereads: payments_application::reread::RereadLimits,
    /// Most PG notifications the inbox holds (`PAYMENT_NOTIFICATION_INBOX_MAX_ROWS`).
    pub max_kept_notifications: u64,
    /// At shutdown, how long in-flight requests and deliveries may finish
    /// before they are cut off (deliveries are then released for a retry).
    pub shutdown_grace: Duration,
    pub reconcile: ReconcileConfig,
    /// Which variables fell back to built-in development values (local mode).
    pub defaulted: Vec<&'static str>,
}

// Built-in development values for local mode only. They are public in this
// repository and must never protect real data: dev/real modes refuse to start
// without their own.
/// The wire key local mode uses when `PAYMENT_CONNECTION_ENCRYPTION_KEY` is unset.
pub const DEV_CONNECTION_KEY: &str = "local-dev-connection-key-32-byte";
/// The wire IV local mode uses when `PAYMENT_CONNECTION_ENCRYPTION_IV` is unset.
pub const DEV_CONNECTION_IV: &str = "local-dev-iv-16b";
const DEV_HISTORY_KEY: &str = "local-dev-history-key-32-bytes!!";
const DEV_RESERVATION_KEY: &str = "local-dev-reservation-key-32byte";
const DEV_CANCEL_KEY: &str = "local-dev-cancel-key-32-bytes!!!";
/// The webhook signing secret local mode uses when `PAYMENT_WEBHOOK_SECRET` is unset.
pub const DEV_WEBHOOK_SECRET: &str = "whsec_bG9jYWwtZGV2LXdlYmhvb2stc2VjcmV0LTMyYnl0ZXM=";
/// Every variable the server itself reads, for `payments env` and the README
/// (each PG's own follow, from its [`payments_pg::PgModule::variables`]).
pub const VARIABLES: &[(&str, &str)] = &[
    ("PAYMENT_MODE", "local (default) | dev | real"),
    (
        "PAYMENT_API_HOST",
        "address to listen on (default 127.0.0.1 in local mode, which listens on loopback only; 0.0.0.0 otherwise)",
    ),
    ("PAYMENT_API_PORT", "port to listen on (default 37821)"),
    ("PAYMENT_MAX_CONNECTIONS", "API connections open at once; more wait to be accepted (default 1024)"),
    ("PAYMENT_IDLE_TIMEOUT_SECS", "an API connection silent this long is closed (default 60)"),
    (
        "PAYMENT_HEADER_TIMEOUT_SECS",
        "an HTTP/1 request's line and headers (a new connection's first request, or its HTTP/2 preface: from \
         the accept; a later request on a kept-alive connection: from its first byte) must arrive within this \
         many seconds, or the connection is closed (default 10)",
    ),
    ("PAYMENT_HTTP2_MAX_STREAMS", "requests one HTTP/2 connection may have in flight at once (default 100)"),
    ("PAYMENT_REQUEST_TIMEOUT_SECS", "a request still running after this is answered 503 (default 120)"),
    (
        "PAYMENT_METRICS_ADDR",
        "address of the Prometheus GET /metrics listener, never the API's (default 127.0.0.1:9464; off to disable)",
    ),
    (
        "PAYMENT_ADMIN_ADDR",
        "address of the operators' console (HTML and /admin/api), never the API's (default 127.0.0.1:9465; off to \
         disable); serve it behind your VPN or a TLS proxy",
    ),
    ("PAYMENT_ADMIN_IDLE_MINUTES", "a console session unused this long ends (default 15)"),
    (
        "PAYMENT_ADMIN_AUDIT_RETENTION_DAYS",
        "days the operators' audit trail is kept (default 0: forever; nothing else ever deletes it)",
    ),
    ("PAYMENT_ADMIN_ISSUER", "the name authenticator apps show for the console's codes (default payments)"),
    ("PAYMENT_DATABASE_URL", "sqlite://payments.db (default) or postgres://user:pass@host/db"),
    ("PAYMENT_DATABASE_MAX_CONNECTIONS", "pool size (default 16)"),
    (
        "PAYMENT_NOTIFICATION_SPOOL",
        "file PG notifications are kept in (fsynced) while the database cannot take them, moved into it once it \
         answers; one per instance (default: beside a SQLite database; payments-notifications.spool in the working \
         directory with PostgreSQL; off: answer the PG 503 instead)",
    ),
    ("PAYMENT_NOTIFICATION_SPOOL_MAX_MIB", "most MiB the spool holds; past it the PG is answered 503 (default 64)"),
    (
        "PAYMENT_NOTIFICATION_REREAD_MS",
        "least time between two PG reads of one payment that unproven PG notifications trigger; one sooner waits \
         in the inbox (default 1000)",
    ),
    (
        "PAYMENT_NOTIFICATION_INBOX_MAX_ROWS",
        "most PG notifications the inbox holds, processed or not (kept 7 days); past it one that would be \
         stored is answered 503 and the PG sends it again (default 100000)",
    ),
    (
        "PAYMENT_NOTIFICATION_READS_PER_SEC",
        "PG reads a second that PG notifications may trigger, per PG; past it they wait in the inbox (default 50)",
    ),
    ("PAYMENT_CONNECTION_ENCRYPTION_KEY", "wire AES key, 16 or 32 bytes"),
    ("PAYMENT_CONNECTION_ENCRYPTION_IV", "wire AES IV, 16 bytes"),
    ("PAYMENT_HISTORY_ENCRYPTION_KEY", "at-rest key of payment histories, 16 or 32 bytes"),
    ("PAYMENT_RESERVATION_ENCRYPTION_KEY", "at-rest key of saved cards, 16 or 32 bytes"),
    ("PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY", "at-rest key of cancels, 16 or 32 bytes"),
    ("PAYMENT_*_ENCRYPTION_PREVIOUS_KEYS", "comma-separated older keys still accepted for reading (rotation)"),
    (
        "PAYMENT_*_ENCRYPTION_IV",
        "accepted for compatibility with the original; at rest a fresh nonce is used per value",
    ),
    (
        "PAYMENT_PG_TIMEOUT_SECS",
        "timeout of every PG call whose PG sets none of its own (default: each PG's advice, 10; PortOne 60)",
    ),
    (
        "PAYMENT_CANCEL_LEASE_SECS",
        "how long a cancel being sent belongs to its sender; after a crash it is settled once this passes \
         (default 2 x the longest PG timeout + 5, must exceed it)",
    ),
    (
        "PAYMENT_CANCEL_SETTLE_SECS",
        "how often cancels whose PG answer was lost are settled by re-reading the PG (default 30; 0: off)",
    ),
    (
        "PAYMENT_RECONCILE_INTERVAL",
        "how often serve re-reads at the PGs the payments not final and those changed recently, recording \
         what drifted (default 1h; 0: off)",
    ),
    ("PAYMENT_RECONCILE_SINCE", "the window of recent changes the reconciler re-reads (default 1d)"),
    ("PAYMENT_RECONCILE_PACE_MS", "pause between two PG reads of the reconciler (default 100)"),
    ("PAYMENT_WEBHOOK_SECRET", "Standard Webhooks signing secret, whsec_ + base64 of >= 24 bytes"),
    ("PAYMENT_WEBHOOK_TIMEOUT_SECS", "per-delivery timeout (default 10)"),
    ("PAYMENT_WEBHOOK_RETRY_SCHEDULE", "delays after each failure, e.g. 1m,4m,16m,64m,256m,1024m,4096m (default)"),
    (
        "PAYMENT_WEBHOOK_LEASE_SECS",
        "how long a claimed delivery stays owned by its worker; after a crash it is retried once this \
         passes (default 3 x timeout + 30, must exceed the timeout)",
    ),
    (
        "PAYMENT_WEBHOOK_RETENTION_DAYS",
        "delivered and given-up webhook events (with their attempts) are removed after this many days (default 90)",
    ),
    ("PAYMENT_WEBHOOK_CONCURRENCY", "deliveries in flight at once (default 32)"),
    (
        "PAYMENT_WEBHOOK_CONCURRENCY_PER_HOST",
        "deliveries in flight at once to one receiver (host and port), so a receiver that never answers holds \
         only these slots; its other due deliveries wait, other receivers' go first \
         (default a quarter of PAYMENT_WEBHOOK_CONCURRENCY, at least 1; at most PAYMENT_WEBHOOK_CONCURRENCY)",
    ),
    ("PAYMENT_WEBHOOK_POLL_MS", "how often to look for due deliveries (default 500)"),
    (
        "PAYMENT_WEBHOOK_ALLOWED_HOSTS",
        "comma-separated hosts, host:port or networks (10.0.0.0/8) webhooks may go to; hosts listed restrict targets to them; \
         listed hosts and networks may be private (default: any public host; loopback, link-local and the like never, outside local mode)",
    ),
    (
        "PAYMENT_WEBHOOK_ALLOW_PRIVATE",
        "true: webhooks may go to any private or shared address (RFC 1918, CGNAT, fc00::/7) (default false)",
    ),
    ("PAYMENT_ARGON2_MEMORY_KIB / _ITERATIONS / _PARALLELISM", "argon2id cost (default 19456 / 2 / 1, OWASP)"),
    ("PAYMENT_ARGON2_MAX_PARALLEL", "password hashes computed at once (default: number of cores)"),
    (
        "PAYMENT_ARGON2_MAX_QUEUE",
        "password hashes that may wait for a hashing thread; more are answered 503 at once (default 256)",
    ),
    ("PAYMENT_PASSWORD_MIN_CHARS", "fewest characters of a new record's password (default 8)"),
    (
        "PAYMENT_PASSWORD_MAX_FAILURES / PAYMENT_PASSWORD_LOCK_SECS",
        "wrong passwords within 15 minutes that lock a record (default 5), and the first lock (default 60; doubled at each further lockout, at most 1 hour)",
    ),
    (
        "PAYMENT_BIND_ORDER_TO_SOURCE",
        "true (default): a payment registers only when its order id at the PG (Toss orderId, Iamport merchant_uid) \
         is source.id, and one charged with another amount is cancelled; false: any order registers and a \
         mismatch is only refused (for deployments whose order ids are not their source ids)",
    ),
    (
        "PAYMENT_LEGACY_CLIENT",
        "true (default): a request without an API key (Authorization: Bearer) runs as the legacy client, with the \
         connection key and PAYMENT_WEBHOOK_SECRET (the original SDK's way); false: every request needs a client's key \
         (payments clients add)",
    ),
    (
        "PAYMENT_CLIENT_RATE_PER_SEC",
        "requests a second each client may make on each instance, unless it was added with its own --rate \
         (default 100; past it 429 with Retry-After)",
    ),
    ("PAYMENT_SHUTDOWN_GRACE_SECS", "at SIGTERM/ctrl-c, how long in-flight work may finish (default 10)"),
    ("PAYMENT_LOG", "log filter, e.g. info or payments=debug (default info)"),
    ("PAYMENT_LOG_FORMAT", "text (default) or json"),
];

/// A keyring: the current key `name` (a development one in local mode) and
/// the older ones of `previous`, still opened.
fn keyring(r: &mut Env<'_>, name: &'static str, previous: &'static str, dev: &str) -> Result<Keyring, ConfigError> {
    let current = r.secret(name, dev)?;
    let old: Vec<&str> = r.get(previous).map(|v| v.split(',').map(str::trim).collect()).unwrap_or_default();
    let old_bytes: Vec<&[u8]> = old.iter().map(|k| k.as_bytes()).collect();
    check_key(name, &current)?;
    for key in &old {
        check_key(previous, key)?;
    }
    Keyring::new(current.as_bytes(), &old_bytes).map_err(|e| error(name, e.to_string()))
}

fn check_key(variable: &'static str, key: &str) -> Result<(), ConfigError> {
    match key.len() {
        16 | 32 => Ok(()),
        n => Err(error(variable, format!("must be 16 or 32 bytes (AES-128 or AES-256), got {n} bytes"))),
    }
}

/// Parses `1m,4m,30s,2h` (a bare number is seconds).
/// A duration like `100ms`, `30s`, `4m`, `2h` or `7d` (a bare number is seconds).
///
/// # Errors
/// A [`ConfigError`] naming `variable` for another shape or an amount too large.
pub fn parse_duration(variable: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let part = text.trim();
    let (digits, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit()).unwrap_or(part.len()));
    let n: u64 = digits.parse().map_err(|_| error(variable, format!("{part:?} is not like 30s, 4m, 2h or 7d")))?;
    let factor = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(error(variable, format!("{part:?}: unit must be ms, s, m, h or d"))),
    };
    n.checked_mul(factor)
        .filter(|seconds| *seconds <= 366 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| error(variable, format!("{part:?} is longer than a year")))
}

fn parse_schedule(variable: &'static str, text: &str) -> Result<RetrySchedule, ConfigError> {
    let delays = text.split(',').map(|part| parse_duration(variable, part)).collect::<Result<Vec<_>, _>>()?;
    RetrySchedule::new(delays, 10).map_err(|e| error(variable, e.to_string()))
}

impl Config {
    /// Reads and validates every variable.
    ///
    /// # Errors
    /// The first invalid variable, named, with the fix.
    pub fn from_vars(vars: &Vars) -> Result<Config, ConfigError> {
        let mode = match vars.get("PAYMENT_MODE").map(|m| m.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "local") => Mode::Local,
            Some("dev") => Mode::Dev,
            Some("real") => Mode::Real,
            Some(other) => return Err(error("PAYMENT_MODE", format!("{other:?} is not one of local, dev, real"))),
        };
        if mode == Mode::Local && !cfg!(feature = "fake") {
            return Err(error(
                "PAYMENT_MODE",
                "local mode (the default) runs the fake PGs, and this server was built without them (no `fake` \
                 feature): set PAYMENT_MODE=dev or real, with your keys and PG credentials",
            ));
        }
        let mut r = Env::new(vars, mode);

        let default_host = if mode == Mode::Local { "127.0.0.1" } else { "0.0.0.0" };
        let host: IpAddr = r
            .get("PAYMENT_API_HOST")
            .unwrap_or(default_host)
            .parse()
            .map_err(|_| error("PAYMENT_API_HOST", "must be an IP address such as 127.0.0.1 or 0.0.0.0"))?;
        if mode == Mode::Local && !host.is_loopback() {
            // Local mode answers with the repository's public development keys
            // and fake PGs: never beyond this host.
            return Err(error(
                "PAYMENT_API_HOST",
                format!(
                    "local mode listens on loopback only (127.0.0.1 or ::1), not {host}; set PAYMENT_MODE=dev or real with your own keys"
                ),
            ));
        }
        let port: u16 = r.number("PAYMENT_API_PORT", 37821)?;
        let metrics_listen = read_metrics_addr(r.get(METRICS_ADDR), SocketAddr::new(host, port))?;
        let console = ConsoleConfig {
            listen: read_side_addr(
                ADMIN_ADDR,
                DEFAULT_ADMIN_ADDR,
                "the console",
                r.get(ADMIN_ADDR),
                &[
                    (SocketAddr::new(host, port), "the API's address"),
                    (metrics_listen.unwrap_or(SocketAddr::new(host, port)), "the metrics' address"),
                ],
            )?,
            issuer: r.get("PAYMENT_ADMIN_ISSUER").map_or("payments", str::trim).to_owned(),
            policy: payments_application::ConsolePolicy {
                idle: Duration::from_secs(60 * r.within("PAYMENT_ADMIN_IDLE_MINUTES", 15u64, 1..=24 * 60)?),
                audit_retention: match r.within("PAYMENT_ADMIN_AUDIT_RETENTION_DAYS", 0u64, 0..=36_500)? {
                    0 => None,
                    days => Some(Duration::from_secs(days * 86_400)),
                },
                ..payments_application::ConsolePolicy::default()
            },
        };
        let limits = ServerLimits {
            max_connections: r.within("PAYMENT_MAX_CONNECTIONS", 1024usize, 1..=65_536)?,
            idle_timeout: r.seconds("PAYMENT_IDLE_TIMEOUT_SECS", 60, 1..=3600)?,
            header_timeout: r.seconds("PAYMENT_HEADER_TIMEOUT_SECS", 10, 1..=600)?,
            http2_max_streams: r.within("PAYMENT_HTTP2_MAX_STREAMS", 100u32, 1..=1000)?,
            request_timeout: r.seconds("PAYMENT_REQUEST_TIMEOUT_SECS", 120, 1..=3600)?,
        };

        let database_url = r.get("PAYMENT_DATABASE_URL").unwrap_or("sqlite://payments.db").to_owned();
        check_database_url(&database_url)?;
        let database_max_connections = r.within("PAYMENT_DATABASE_MAX_CONNECTIONS", 16u32, 1..=1000)?;
        let notification_spool = read_spool(&r, &database_url)?;

        let key = r.secret("PAYMENT_CONNECTION_ENCRYPTION_KEY", DEV_CONNECTION_KEY)?;
        check_key("PAYMENT_CONNECTION_ENCRYPTION_KEY", &key)?;
        let iv = r.secret("PAYMENT_CONNECTION_ENCRYPTION_IV", DEV_CONNECTION_IV)?;
        if iv.len() != 16 {
            return Err(error("PAYMENT_CONNECTION_ENCRYPTION_IV", format!("must be 16 bytes, got {} bytes", iv.len())));
        }
        let wire = WireCipher::new(key.as_bytes(), iv.as_bytes())
            .map_err(|e| error("PAYMENT_CONNECTION_ENCRYPTION_KEY", e.to_string()))?;
        let history_key = r.get("PAYMENT_HISTORY_ENCRYPTION_KEY").unwrap_or(DEV_HISTORY_KEY).to_owned();
        let idempotency_secret = idempotency_secret(&key, &history_key);

        let at_rest = AtRestKeyrings {
            histories: keyring(
                &mut r,
                "PAYMENT_HISTORY_ENCRYPTION_KEY",
                "PAYMENT_HISTORY_ENCRYPTION_PREVIOUS_KEYS",
                DEV_HISTORY_KEY,
            )?,
            cancels: keyring(
                &mut r,
                "PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY",
                "PAYMENT_CANCEL_HISTORY_ENCRYPTION_PREVIOUS_KEYS",
                DEV_CANCEL_KEY,
            )?,
            reservations: keyring(
                &mut r,
                "PAYMENT_RESERVATION_ENCRYPTION_KEY",
                "PAYMENT_RESERVATION_ENCRYPTION_PREVIOUS_KEYS",
                DEV_RESERVATION_KEY,
            )?,
        };
        for iv_var in [
            "PAYMENT_HISTORY_ENCRYPTION_IV",
            "PAYMENT_RESERVATION_ENCRYPTION_IV",
            "PAYMENT_CANCEL_HISTORY_ENCRYPTION_IV",
        ] {
            if let Some(iv) = r.get(iv_var)
                && iv.len() != 16
            {
                return Err(error(iv_var, format!("must be 16 bytes, got {} bytes", iv.len())));
            }
        }

        let pg = read_pg(&mut r)?;

        let secret_text = r.secret("PAYMENT_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)?;
        let secret = WebhookSecret::parse(&secret_text).map_err(|e| error("PAYMENT_WEBHOOK_SECRET", e.to_string()))?;
        let schedule = match r.get("PAYMENT_WEBHOOK_RETRY_SCHEDULE") {
            Some(text) => parse_schedule("PAYMENT_WEBHOOK_RETRY_SCHEDULE", text)?,
            None => RetrySchedule::three_days(),
        };
        let allowed: Vec<String> = r
            .get("PAYMENT_WEBHOOK_ALLOWED_HOSTS")
            .map(|hosts| hosts.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let allow_private = r.flag("PAYMENT_WEBHOOK_ALLOW_PRIVATE", false)?;
        let targets = payments_webhook::TargetPolicy::new(&allowed, allow_private, mode == Mode::Local)
            .map_err(|why| error("PAYMENT_WEBHOOK_ALLOWED_HOSTS", why))?;
        let timeout = r.seconds("PAYMENT_WEBHOOK_TIMEOUT_SECS", 10, 1..=3600)?;
        let lease = match r.get("PAYMENT_WEBHOOK_LEASE_SECS") {
            None => timeout * 3 + Duration::from_secs(30),
            Some(_) => {
                let lease = r.seconds("PAYMENT_WEBHOOK_LEASE_SECS", 0, 1..=7 * 86_400)?;
                if lease <= timeout {
                    return Err(error(
                        "PAYMENT_WEBHOOK_LEASE_SECS",
                        format!(
                            "must exceed PAYMENT_WEBHOOK_TIMEOUT_SECS ({}s), or a slow delivery could be sent twice",
                            timeout.as_secs()
                        ),
                    ));
                }
                lease
            }
        };
        let concurrency = r.within("PAYMENT_WEBHOOK_CONCURRENCY", 32usize, 1..=1024)?;
        let per_host = r.within(
            "PAYMENT_WEBHOOK_CONCURRENCY_PER_HOST",
            payments_webhook::WorkerConfig::default_per_host(concurrency),
            1..=concurrency,
        )?;
        let webhooks = WebhookConfig {
            secret,
            timeout,
            lease,
            schedule,
            concurrency,
            per_host,
            poll_interval: r.millis("PAYMENT_WEBHOOK_POLL_MS", 500, 10..=60_000)?,
            retention: Duration::from_secs(86_400 * r.within("PAYMENT_WEBHOOK_RETENTION_DAYS", 90u64, 1..=3650)?),
            targets,
        };

        let argon2 = Argon2Params {
            // Each running hash holds memory_kib: at most 1 GiB each.
            memory_kib: r.within("PAYMENT_ARGON2_MEMORY_KIB", Argon2Params::OWASP.memory_kib, 64..=1_048_576)?,
            iterations: r.within("PAYMENT_ARGON2_ITERATIONS", Argon2Params::OWASP.iterations, 1..=64)?,
            parallelism: r.within("PAYMENT_ARGON2_PARALLELISM", Argon2Params::OWASP.parallelism, 1..=16)?,
        };
        let cores = std::thread::available_parallelism().map_or(2, usize::from).min(256);
        let argon2_max_parallel = r.within("PAYMENT_ARGON2_MAX_PARALLEL", cores, 1..=256)?;
        let argon2_max_queue = r.within("PAYMENT_ARGON2_MAX_QUEUE", 256usize, 1..=65_536)?;
        let passwords = payments_application::PasswordPolicy {
            min_chars: r.within("PAYMENT_PASSWORD_MIN_CHARS", 8usize, 1..=128)?,
            max_failures: r.within("PAYMENT_PASSWORD_MAX_FAILURES", 5u32, 1..=1000)?,
            first_lock: r.seconds("PAYMENT_PASSWORD_LOCK_SECS", 60, 1..=86_400)?,
            ..payments_application::PasswordPolicy::default()
        };

        let orders = if r.flag("PAYMENT_BIND_ORDER_TO_SOURCE", true)? {
            payments_application::OrderBinding::SourceId
        } else {
            payments_application::OrderBinding::Off
        };

        let legacy_client = r.flag("PAYMENT_LEGACY_CLIENT", true)?;
        let client_rate = r.within("PAYMENT_CLIENT_RATE_PER_SEC", 100u32, 1..=1_000_000)?;
        let rereads = payments_application::reread::RereadLimits {
            min_interval: r.millis("PAYMENT_NOTIFICATION_REREAD_MS", 1000, 0..=600_000)?,
            per_second: r.within("PAYMENT_NOTIFICATION_READS_PER_SEC", 50u32, 1..=100_000)?,
        };
        let max_kept_notifications = r.within("PAYMENT_NOTIFICATION_INBOX_MAX_ROWS", 100_000u64, 100..=100_000_000)?;
        let shutdown_grace = r.seconds("PAYMENT_SHUTDOWN_GRACE_SECS", 10, 0..=3600)?;
        let every = match r.get("PAYMENT_RECONCILE_INTERVAL") {
            None => Some(Duration::from_secs(3600)),
            Some(text) => Some(parse_duration("PAYMENT_RECONCILE_INTERVAL", text)?).filter(|d| !d.is_zero()),
        };
        let window = match r.get("PAYMENT_RECONCILE_SINCE") {
            None => Duration::from_secs(86_400),
            Some(text) => parse_duration("PAYMENT_RECONCILE_SINCE", text)?,
        };
        let pace = r.millis("PAYMENT_RECONCILE_PACE_MS", 100, 0..=60_000)?;
        let reconcile = ReconcileConfig { every, window, pace };

        Ok(Config {
            mode,
            listen: SocketAddr::new(host, port),
            metrics_listen,
            console,
            limits,
            database_url,
            database_max_connections,
            notification_spool,
            wire,
            at_rest,
            idempotency_secret,
            pg,
            webhooks,
            argon2,
            argon2_max_parallel,
            argon2_max_queue,
            passwords,
            orders,
            legacy_client,
            client_rate,
            rereads,
            max_kept_notifications,
            shutdown_grace,
            reconcile,
            defaulted: r.into_defaulted(),
        })
    }
}

/// SHA-256 over a label and both keys, each length-prefixed: a value no one
/// without the keys can compute.
fn idempotency_secret(wire_key: &str, history_key: &str) -> payments_http::IdempotencySecret {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    digest.update(b"payments idempotency secret v1");
    for part in [wire_key, history_key] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    payments_http::IdempotencySecret::new(digest.finalize().into())
}

/// The operators' console (`PAYMENT_ADMIN_*`).
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Its own listener, never the API's; `None` when turned off.
    pub listen: Option<SocketAddr>,
    /// The name authenticator apps show beside an operator's codes.
    pub issuer: String,
    pub policy: payments_application::ConsolePolicy,
}

/// The variable naming the metrics listener.
pub const METRICS_ADDR: &str = "PAYMENT_METRICS_ADDR";
/// Where `/metrics` is served by default: loopback only, so the figures are
/// not public unless the operator says so.
pub const DEFAULT_METRICS_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9464);

/// The variable naming the console's listener.
pub const ADMIN_ADDR: &str = "PAYMENT_ADMIN_ADDR";
/// Where the console is served by default: loopback only (put it behind the
/// company's VPN or proxy to reach it from elsewhere).
pub const DEFAULT_ADMIN_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9465);

/// `PAYMENT_METRICS_ADDR`: an `ip:port`, or `off`; never the API's own
/// address (the metrics carry no credential check of their own).
fn read_metrics_addr(text: Option<&str>, api: SocketAddr) -> Result<Option<SocketAddr>, ConfigError> {
    read_side_addr(METRICS_ADDR, DEFAULT_METRICS_ADDR, "the metrics", text, &[(api, "the API's address")])
}

/// A listener of its own beside the API (`var`): an `ip:port`, `off`, or
/// `default` when unset; never one of `taken` (the API's, and the other
/// side listeners', each with what it is).
fn read_side_addr(
    var: &'static str,
    default: SocketAddr,
    what: &str,
    text: Option<&str>,
    taken: &[(SocketAddr, &str)],
) -> Result<Option<SocketAddr>, ConfigError> {
    let addr = match text.map(str::trim) {
        None | Some("") => default,
        Some(off) if off.eq_ignore_ascii_case("off") => return Ok(None),
        Some(text) => text
            .parse::<SocketAddr>()
            .map_err(|_| error(var, format!("{text:?} is not an address such as {default} (or off)")))?,
    };
    let clashes = |other: &SocketAddr| {
        addr.port() != 0
            && addr.port() == other.port()
            && (addr.ip() == other.ip() || addr.ip().is_unspecified() || other.ip().is_unspecified())
    };
    if let Some((_, whose)) = taken.iter().find(|(other, _)| clashes(other)) {
        return Err(error(var, format!("{addr} is {whose}; {what} need a port of their own")));
    }
    Ok(Some(addr))
}

/// How long the database may take to store a PG notification before it goes
/// to the spool (the PG waits for our answer).
const SPOOL_DATABASE_BUDGET: Duration = Duration::from_secs(1);

/// `PAYMENT_NOTIFICATION_SPOOL` (a path, or `off`) and its bound.
fn read_spool(r: &Env<'_>, database_url: &str) -> Result<Option<payments_sqlx::SpoolConfig>, ConfigError> {
    let variable = "PAYMENT_NOTIFICATION_SPOOL";
    let path = match r.get(variable).map(str::trim) {
        Some(off) if off.eq_ignore_ascii_case("off") => return Ok(None),
        Some(path) if path.contains('\0') => return Err(error(variable, "a path cannot hold a NUL byte")),
        Some(path) => std::path::PathBuf::from(path),
        None => default_spool_path(database_url),
    };
    let max_mib: u64 = r.within("PAYMENT_NOTIFICATION_SPOOL_MAX_MIB", 64, 1..=65_536)?;
    Ok(Some(payments_sqlx::SpoolConfig {
        path,
        max_bytes: max_mib * 1024 * 1024,
        database_budget: SPOOL_DATABASE_BUDGET,
    }))
}

/// Beside a SQLite file (`payments.db` -> `payments.db-notifications.spool`);
/// in the working directory for PostgreSQL.
fn default_spool_path(database_url: &str) -> std::path::PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|file| !file.is_empty());
    match file {
        Some(file) => std::path::PathBuf::from(format!("{file}-notifications.spool")),
        None => std::path::PathBuf::from("payments-notifications.spool"),
    }
}

fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let variable = "PAYMENT_DATABASE_URL";
    if url.starts_with("sqlite:") {
        return Ok(());
    }
    let parsed = url::Url::parse(url)
        .map_err(|e| error(variable, format!("is not a URL ({e}); use sqlite://payments.db or postgres://...")))?;
    match parsed.scheme() {
        "postgres" | "postgresql" if parsed.host_str().is_some() => Ok(()),
        "postgres" | "postgresql" => Err(error(variable, "a postgres:// URL needs a host")),
        other => Err(error(variable, format!("scheme {other:?} is not supported; use sqlite:// or postgres://"))),
    }
}

/// The timeout of each registered PG: its own variable, else
/// `PAYMENT_PG_TIMEOUT_SECS`, else its documented advice.
fn pg_timeouts(r: &Env<'_>) -> Result<std::collections::BTreeMap<payments_domain::VendorCode, Duration>, ConfigError> {
    let everyone = match r.get("PAYMENT_PG_TIMEOUT_SECS") {
        Some(_) => Some(r.seconds("PAYMENT_PG_TIMEOUT_SECS", 0, 1..=3600)?),
        None => None,
    };
    crate::PGS
        .iter()
        .map(|pg| {
            let fallback = everyone.unwrap_or_else(|| pg.default_timeout());
            Ok((pg.code(), r.seconds(pg.timeout_variable(), fallback.as_secs(), 1..=3600)?))
        })
        .collect()
}

/// Every registered PG's configuration, then the settings shared by all.
fn read_pg(r: &mut Env<'_>) -> Result<PgConfig, ConfigError> {
    let pgs = crate::PGS.iter().map(|pg| pg.configure(r)).collect::<Result<Vec<_>, _>>()?;
    let timeouts = pg_timeouts(r)?;
    let (longest_of, longest) = timeouts
        .iter()
        .max_by_key(|(_, timeout)| **timeout)
        .map_or(("PGs", payments_pg::DEFAULT_TIMEOUT), |(code, timeout)| (code.as_str(), *timeout));
    let cancel_lease = match r.get("PAYMENT_CANCEL_LEASE_SECS") {
        None => longest * 2 + Duration::from_secs(5),
        Some(_) => {
            let lease = r.seconds("PAYMENT_CANCEL_LEASE_SECS", 0, 1..=86_400)?;
            if lease <= longest {
                return Err(error(
                    "PAYMENT_CANCEL_LEASE_SECS",
                    format!(
                        "must exceed the longest PG timeout ({longest_of}: {}s), or a cancel still being sent \
                         could be sent twice",
                        longest.as_secs()
                    ),
                ));
            }
            lease
        }
    };
    Ok(PgConfig {
        pgs,
        fakes: std::collections::BTreeMap::new(),
        timeouts,
        cancel_lease,
        cancel_settle_every: Some(r.seconds("PAYMENT_CANCEL_SETTLE_SECS", 30, 0..=86_400)?).filter(|d| !d.is_zero()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The port local mode runs `pg`'s fake on.
    fn fake_port(pg: &dyn PgInstance) -> Option<u16> {
        pg.fake().and_then(|fake| fake.port())
    }

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn real() -> Vec<(&'static str, &'static str)> {
        vec![
            ("PAYMENT_MODE", "real"),
            ("PAYMENT_CONNECTION_ENCRYPTION_KEY", "0123456789abcdef0123456789abcdef"),
            ("PAYMENT_CONNECTION_ENCRYPTION_IV", "fedcba9876543210"),
            ("PAYMENT_HISTORY_ENCRYPTION_KEY", "1123456789abcdef1123456789abcdef"),
            ("PAYMENT_RESERVATION_ENCRYPTION_KEY", "2123456789abcdef"),
            ("PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY", "3123456789abcdef3123456789abcdef"),
            ("PAYMENT_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            ("PAYMENT_DATABASE_URL", "postgres://payments@db.internal/payments"),
        ]
    }

    fn with(mut base: Vec<(&'static str, &'static str)>, name: &'static str, value: &'static str) -> Vars {
        base.retain(|(k, _)| *k != name);
        base.push((name, value));
        vars(&base)
    }

    /// Each PG's timeout is its own variable, else the one for every PG,
    /// else its advice (PortOne's 60 s); the cancel lease follows the longest.
    #[test]
    fn pg_timeouts_follow_each_pg_then_the_shared_variable_then_the_pgs_advice() {
        use payments_domain::VendorCode::{Iamport, PortOne, TossPayments};
        let secs = Duration::from_secs;
        let config = Config::from_vars(&Vars::new()).unwrap();
        let timeouts =
            |config: &Config| [Iamport, TossPayments, PortOne].map(|code| config.pg.timeouts.get(&code).copied());
        assert_eq!(timeouts(&config), [Some(secs(10)), Some(secs(10)), Some(secs(60))]);
        assert_eq!(config.pg.cancel_lease, secs(125), "2 x PortOne's 60 s + 5");

        let everyone = Config::from_vars(&vars(&[("PAYMENT_PG_TIMEOUT_SECS", "20")])).unwrap();
        assert_eq!(timeouts(&everyone), [Some(secs(20)); 3]);
        assert_eq!(everyone.pg.cancel_lease, secs(45));

        let own = vars(&[("PAYMENT_PG_TIMEOUT_SECS", "20"), ("PAYMENT_PORTONE_TIMEOUT_SECS", "90")]);
        let own = Config::from_vars(&own).unwrap();
        assert_eq!(timeouts(&own), [Some(secs(20)), Some(secs(20)), Some(secs(90))]);

        let short = Config::from_vars(&vars(&[("PAYMENT_CANCEL_LEASE_SECS", "30")])).unwrap_err();
        assert!(short.to_string().contains("PAYMENT_CANCEL_LEASE_SECS"), "{short}");
        assert!(short.to_string().contains("portone: 60s"), "{short}");
        let bad = Config::from_vars(&vars(&[("PAYMENT_TOSS_TIMEOUT_SECS", "0")])).unwrap_err();
        assert!(bad.to_string().contains("PAYMENT_TOSS_TIMEOUT_SECS"), "{bad}");
    }

    #[test]
    fn local_mode_needs_nothing() {
        let config = Config::from_vars(&Vars::new()).unwrap();
        assert_eq!(config.mode, Mode::Local);
        assert_eq!(config.listen, "127.0.0.1:37821".parse().unwrap());
        assert_eq!(config.database_url, "sqlite://payments.db");
        // Every registered PG, each with its fake and the fake's test credentials.
        let pgs: Vec<_> =
            config.pg.pgs.iter().map(|pg| (pg.code(), fake_port(pg.as_ref()), pg.uses_test_credentials())).collect();
        use payments_domain::VendorCode::{Iamport, PortOne, TossPayments};
        assert_eq!(
            pgs,
            vec![(Iamport, Some(10851), true), (TossPayments, Some(30771), true), (PortOne, Some(20771), true)]
        );
        for defaulted in [
            "PAYMENT_CONNECTION_ENCRYPTION_KEY",
            "PAYMENT_IAMPORT_KEY",
            "PAYMENT_TOSS_PAYMENTS_SECRET",
            "PAYMENT_PORTONE_SECRET",
        ] {
            assert!(config.defaulted.contains(&defaulted), "{defaulted}");
        }
    }

    #[test]
    fn local_mode_listens_on_loopback_only() {
        for host in ["0.0.0.0", "10.1.2.3", "::"] {
            let err = Config::from_vars(&vars(&[("PAYMENT_API_HOST", host)])).unwrap_err();
            assert_eq!(err.variable, "PAYMENT_API_HOST");
            assert!(err.to_string().contains("loopback only"), "{err}");
        }
        for host in ["127.0.0.1", "::1"] {
            assert!(Config::from_vars(&vars(&[("PAYMENT_API_HOST", host)])).is_ok(), "{host}");
        }
        let mut dev = real();
        dev.retain(|(name, _)| *name != "PAYMENT_MODE");
        dev.push(("PAYMENT_MODE", "dev"));
        assert!(Config::from_vars(&with(dev, "PAYMENT_API_HOST", "0.0.0.0")).is_ok(), "dev mode may listen anywhere");
    }

    #[test]
    fn payments_are_bound_to_their_order_unless_turned_off() {
        use payments_application::OrderBinding;
        assert_eq!(Config::from_vars(&vars(&real())).unwrap().orders, OrderBinding::SourceId);
        let off = Config::from_vars(&with(real(), "PAYMENT_BIND_ORDER_TO_SOURCE", "false")).unwrap();
        assert_eq!(off.orders, OrderBinding::Off);
        let on = Config::from_vars(&with(real(), "PAYMENT_BIND_ORDER_TO_SOURCE", " TRUE ")).unwrap();
        assert_eq!(on.orders, OrderBinding::SourceId);
        let err = Config::from_vars(&with(real(), "PAYMENT_BIND_ORDER_TO_SOURCE", "maybe")).unwrap_err();
        assert_eq!(err.variable, "PAYMENT_BIND_ORDER_TO_SOURCE");
        assert!(err.to_string().contains("\"maybe\" is not true or false"), "{err}");
    }

    #[test]
    fn metrics_have_a_loopback_port_of_their_own_by_default() {
        let local = Config::from_vars(&Vars::new()).unwrap();
        assert_eq!(local.metrics_listen, Some(DEFAULT_METRICS_ADDR));
        assert_ne!(local.metrics_listen, Some(local.listen));
        let public = Config::from_vars(&vars(&real())).unwrap();
        assert!(public.listen.ip().is_unspecified(), "the API is public in real mode");
        assert!(public.metrics_listen.is_some_and(|addr| addr.ip().is_loopback()), "the metrics are not");
        let off = Config::from_vars(&with(real(), "PAYMENT_METRICS_ADDR", "off")).unwrap();
        assert_eq!(off.metrics_listen, None);
        let chosen = Config::from_vars(&with(real(), "PAYMENT_METRICS_ADDR", "10.0.0.5:9100")).unwrap();
        assert_eq!(chosen.metrics_listen, Some("10.0.0.5:9100".parse().unwrap()));
    }

    #[test]
    fn the_console_has_a_loopback_port_of_its_own_by_default() {
        let local = Config::from_vars(&Vars::new()).unwrap();
        assert_eq!(local.console.listen, Some(DEFAULT_ADMIN_ADDR));
        assert_eq!(local.console.policy.idle, Duration::from_secs(15 * 60));
        let public = Config::from_vars(&vars(&real())).unwrap();
        assert!(public.console.listen.is_some_and(|addr| addr.ip().is_loopback()), "not public by default");
        let off = Config::from_vars(&with(real(), "PAYMENT_ADMIN_ADDR", "off")).unwrap();
        assert_eq!(off.console.listen, None);
        let idle = Config::from_vars(&with(real(), "PAYMENT_ADMIN_IDLE_MINUTES", "5")).unwrap();
        assert_eq!(idle.console.policy.idle, Duration::from_secs(300));
        assert_eq!(local.console.policy.audit_retention, None, "the audit trail is kept forever by default");
        let kept = Config::from_vars(&with(real(), "PAYMENT_ADMIN_AUDIT_RETENTION_DAYS", "400")).unwrap();
        assert_eq!(kept.console.policy.audit_retention, Some(Duration::from_secs(400 * 86_400)));
    }

    #[test]
    fn the_notification_spool_sits_beside_sqlite_or_in_the_working_directory() {
        let spool = |pairs: &[(&'static str, &'static str)]| {
            let mut all = real();
            all.extend_from_slice(pairs);
            Config::from_vars(&vars(&all)).unwrap().notification_spool
        };
        let on_postgres = spool(&[]).unwrap();
        assert_eq!(on_postgres.path, std::path::PathBuf::from("payments-notifications.spool"));
        assert_eq!((on_postgres.max_bytes, on_postgres.database_budget), (64 << 20, SPOOL_DATABASE_BUDGET));
        let local = Config::from_vars(&Vars::new()).unwrap().notification_spool.unwrap();
        assert_eq!(local.path, std::path::PathBuf::from("payments.db-notifications.spool"));
        let beside = spool(&[("PAYMENT_DATABASE_URL", "sqlite:///var/lib/payments/p.db?mode=rwc")]).unwrap();
        assert_eq!(beside.path, std::path::PathBuf::from("/var/lib/payments/p.db-notifications.spool"));
        let chosen = spool(&[("PAYMENT_NOTIFICATION_SPOOL", "/spool/a"), ("PAYMENT_NOTIFICATION_SPOOL_MAX_MIB", "2")]);
        assert_eq!(chosen.as_ref().map(|s| (s.path.to_str().unwrap(), s.max_bytes)), Some(("/spool/a", 2 << 20)));
        assert_eq!(spool(&[("PAYMENT_NOTIFICATION_SPOOL", "OFF")]), None);
    }

    #[test]
    fn real_mode_with_everything_set() {
        let config = Config::from_vars(&vars(&real())).unwrap();
        assert_eq!(config.mode, Mode::Real);
        assert!(config.defaulted.is_empty());
        assert_eq!(config.listen.ip().to_string(), "0.0.0.0");
        assert_eq!(config.pg.pgs.len(), crate::PGS.len());
        assert!(config.pg.pgs.iter().all(|pg| fake_port(pg.as_ref()).is_none() && !pg.uses_test_credentials()));
    }

    #[test]
    fn each_missing_key_outside_local_mode_is_named() {
        for name in [
            "PAYMENT_CONNECTION_ENCRYPTION_KEY",
            "PAYMENT_CONNECTION_ENCRYPTION_IV",
            "PAYMENT_HISTORY_ENCRYPTION_KEY",
            "PAYMENT_RESERVATION_ENCRYPTION_KEY",
            "PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY",
            "PAYMENT_WEBHOOK_SECRET",
        ] {
            let mut base = real();
            base.retain(|(k, _)| *k != name);
            let err = Config::from_vars(&vars(&base)).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.problem.contains("required"), "{err}");
        }
    }

    #[test]
    fn invalid_values_are_named_with_the_fix() {
        let cases = [
            ("PAYMENT_CONNECTION_ENCRYPTION_KEY", "too-short", "16 or 32 bytes"),
            ("PAYMENT_CONNECTION_ENCRYPTION_IV", "short", "16 bytes"),
            ("PAYMENT_HISTORY_ENCRYPTION_KEY", "x", "16 or 32 bytes"),
            ("PAYMENT_HISTORY_ENCRYPTION_IV", "x", "16 bytes"),
            ("PAYMENT_DATABASE_URL", "mysql://x/y", "not supported"),
            ("PAYMENT_DATABASE_URL", "not a url", "sqlite://"),
            ("PAYMENT_API_PORT", "70000", "not a valid number"),
            ("PAYMENT_MODE", "prod", "local, dev, real"),
            ("PAYMENT_WEBHOOK_SECRET", "plain", "whsec_"),
            ("PAYMENT_WEBHOOK_RETRY_SCHEDULE", "1x", "unit"),
            ("PAYMENT_IAMPORT_STORES", "[1]", "JSON like"),
            ("PAYMENT_TOSS_STORES", r#"{"a": 1}"#, "JSON like"),
            ("PAYMENT_IAMPORT_URL", "ftp://x", "http"),
            ("PAYMENT_WEBHOOK_LEASE_SECS", "10", "must exceed"),
            ("PAYMENT_WEBHOOK_LEASE_SECS", "soon", "not a valid number"),
            ("PAYMENT_SHUTDOWN_GRACE_SECS", "-1", "not a valid number"),
            ("PAYMENT_METRICS_ADDR", "9464", "such as 127.0.0.1:9464"),
            ("PAYMENT_IAMPORT_URL", "http://api.iamport.kr", "https URL in real mode"),
            ("PAYMENT_TOSS_URL", "http://api.tosspayments.com", "https URL in real mode"),
            ("PAYMENT_PG_TIMEOUT_SECS", "18446744073709551615", "between 1 and 3600"),
            ("PAYMENT_WEBHOOK_TIMEOUT_SECS", "18446744073709551615", "between 1 and 3600"),
            ("PAYMENT_WEBHOOK_TIMEOUT_SECS", "0", "between 1 and 3600"),
            ("PAYMENT_CANCEL_LEASE_SECS", "99999999999", "between 1 and 86400"),
            ("PAYMENT_CANCEL_SETTLE_SECS", "99999999999", "between 0 and 86400"),
            ("PAYMENT_WEBHOOK_LEASE_SECS", "99999999999", "between 1 and 604800"),
            ("PAYMENT_WEBHOOK_CONCURRENCY", "18446744073709551615", "between 1 and 1024"),
            ("PAYMENT_WEBHOOK_POLL_MS", "1", "between 10 and 60000"),
            ("PAYMENT_WEBHOOK_CONCURRENCY_PER_HOST", "0", "between 1 and 32"),
            ("PAYMENT_WEBHOOK_CONCURRENCY_PER_HOST", "33", "between 1 and 32"),
            ("PAYMENT_ARGON2_MEMORY_KIB", "4294967295", "between 64 and 1048576"),
            ("PAYMENT_ARGON2_ITERATIONS", "0", "between 1 and 64"),
            ("PAYMENT_ARGON2_MAX_PARALLEL", "100000", "between 1 and 256"),
            ("PAYMENT_DATABASE_MAX_CONNECTIONS", "0", "between 1 and 1000"),
            ("PAYMENT_SHUTDOWN_GRACE_SECS", "99999999999", "between 0 and 3600"),
            ("PAYMENT_RECONCILE_PACE_MS", "99999999999", "between 0 and 60000"),
            ("PAYMENT_METRICS_ADDR", "localhost:9464", "such as 127.0.0.1:9464"),
            ("PAYMENT_METRICS_ADDR", "0.0.0.0:37821", "the API's address"),
            ("PAYMENT_METRICS_ADDR", "127.0.0.1:37821", "the API's address"),
            ("PAYMENT_ADMIN_ADDR", "127.0.0.1:37821", "the API's address"),
            ("PAYMENT_ADMIN_ADDR", "127.0.0.1:9464", "the metrics' address"),
            ("PAYMENT_ADMIN_ADDR", "console", "such as 127.0.0.1:9465"),
            ("PAYMENT_ADMIN_IDLE_MINUTES", "0", "PAYMENT_ADMIN_IDLE_MINUTES"),
            ("PAYMENT_NOTIFICATION_SPOOL_MAX_MIB", "0", "between 1 and 65536"),
            ("PAYMENT_NOTIFICATION_SPOOL_MAX_MIB", "lots", "not a valid number"),
            ("PAYMENT_NOTIFICATION_SPOOL", "spool\0file", "NUL"),
        ];
        for (name, value, hint) in cases {
            let err = Config::from_vars(&with(real(), name, value)).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
            assert!(err.to_string().contains(hint), "{err} should mention {hint:?}");
        }
    }

    #[test]
    fn a_receiver_holds_a_quarter_of_the_delivery_slots_unless_told() {
        let slots = |pairs: &[(&'static str, &'static str)]| {
            let mut base = real();
            base.extend_from_slice(pairs);
            let config = Config::from_vars(&vars(&base)).unwrap();
            (config.webhooks.concurrency, config.webhooks.per_host)
        };
        assert_eq!(slots(&[]), (32, 8));
        assert_eq!(slots(&[("PAYMENT_WEBHOOK_CONCURRENCY", "4")]), (4, 1));
        assert_eq!(slots(&[("PAYMENT_WEBHOOK_CONCURRENCY", "3")]), (3, 1), "at least one");
        let told = [("PAYMENT_WEBHOOK_CONCURRENCY", "6"), ("PAYMENT_WEBHOOK_CONCURRENCY_PER_HOST", "6")];
        assert_eq!(slots(&told), (6, 6), "all of them, when the operator says so");
        let mut over = real();
        over.extend([("PAYMENT_WEBHOOK_CONCURRENCY", "6"), ("PAYMENT_WEBHOOK_CONCURRENCY_PER_HOST", "7")]);
        let err = Config::from_vars(&vars(&over)).unwrap_err();
        assert_eq!(err.variable, "PAYMENT_WEBHOOK_CONCURRENCY_PER_HOST");
        assert!(err.to_string().contains("between 1 and 6"), "{err}");
    }

    #[test]
    fn several_stores_per_pg() {
        let mut base = real();
        base.push((
            "PAYMENT_IAMPORT_STORES",
            r#"{"a": {"key": "k", "secret": "s"}, "b": {"key": "k2", "secret": "s2"}}"#,
        ));
        base.push(("PAYMENT_TOSS_STORES", r#"{"t": "test_sk_x"}"#));
        // Each PG reads its own stores (tested in its crate); none prints a secret.
        let config = Config::from_vars(&vars(&base)).unwrap();
        assert!(format!("{config:?}").contains(r#"ids: ["a", "b"]"#), "{config:?}");
        assert!(!format!("{config:?}").contains("s2"), "secrets never print");
        assert!(!format!("{config:?}").contains("test_sk_x"));
    }

    #[test]
    fn retry_schedule_and_previous_keys() {
        let mut base = real();
        base.push(("PAYMENT_WEBHOOK_RETRY_SCHEDULE", "100ms, 2s, 1m"));
        base.push(("PAYMENT_HISTORY_ENCRYPTION_PREVIOUS_KEYS", "0000000000000000, 1111111111111111"));
        let config = Config::from_vars(&vars(&base)).unwrap();
        assert_eq!(config.webhooks.schedule.max_attempts(), 4);
        assert_eq!(config.webhooks.lease, Duration::from_secs(60), "3 x the 10 s timeout + 30 s by default");
        assert_eq!(config.shutdown_grace, Duration::from_secs(10));
        let old = Keyring::new(b"0000000000000000", &[]).unwrap();
        let sealed = old.seal(b"c", b"v");
        assert_eq!(config.at_rest.histories.open(b"c", &sealed).unwrap(), b"v");
    }
}
