//! `payments`: the integrated payment server and its operator commands.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use payments_server::config::{self, Config, Vars};

/// mimalloc instead of glibc's malloc: the request paths allocate and free
/// many small JSON values from several threads, where glibc's arenas spent
/// about a fifth of the server's CPU (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ENV_HELP: &str = "Configuration comes from environment variables (a .env file in the working directory is read \
too). Run `payments env` for the list. With none set, local mode uses built-in development keys, SQLite at \
./payments.db and in-process fake PGs.";

#[derive(Parser)]
#[command(
    name = "payments",
    version,
    about = "An integrated payment server (Iamport/PortOne V1, Toss Payments, PortOne V2)",
    after_help = ENV_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and deliver webhooks until SIGTERM or ctrl-c.
    ///
    /// Reads every PAYMENT_* variable (`payments env` lists them): PAYMENT_MODE,
    /// PAYMENT_API_HOST, PAYMENT_API_PORT, PAYMENT_DATABASE_URL, the PAYMENT_*_ENCRYPTION_KEY/IV
    /// keys, the PG credentials and URLs, PAYMENT_WEBHOOK_*, PAYMENT_ARGON2_*,
    /// PAYMENT_SHUTDOWN_GRACE_SECS and PAYMENT_LOG. In local mode (the default)
    /// also starts every PG's fake (Iamport on PAYMENT_FAKE_IAMPORT_PORT, 10851;
    /// Toss Payments on PAYMENT_FAKE_TOSS_PORT, 30771; PortOne V2 on
    /// PAYMENT_FAKE_PORTONE_PORT, 20771) with their webhooks pointing at this
    /// server. Once it accepts connections it prints one line to
    /// standard output: `payments listening on http://HOST:PORT ...`; logs go to
    /// standard error.
    Serve,
    /// Apply the database migrations and exit (serve applies them too).
    ///
    /// Reads PAYMENT_DATABASE_URL; the rest of the configuration (PAYMENT_MODE
    /// and the keys it requires) is validated as for serve.
    Migrate,
    /// Write the OpenAPI document of the API (or, with --console, of the
    /// console's JSON API).
    ///
    /// Reads no PAYMENT_* variable.
    Openapi {
        /// Where to write it (default openapi/payments.json, or
        /// openapi/admin.json with --console); `-` for standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The document of the console's JSON API (/admin/api).
        #[arg(long)]
        console: bool,
    },
    #[cfg(feature = "fake")]
    /// Run a fake Iamport server alone (for your own tests).
    ///
    /// Reads no PAYMENT_* variable; its credentials are test_imp_key /
    /// test_imp_secret.
    FakeIamport {
        #[arg(long, default_value_t = payments_iamport::module::FAKE_PORT)]
        port: u16,
        /// Where its webhooks go (e.g. http://127.0.0.1:37821/payments/webhooks/iamport).
        #[arg(long)]
        webhook_url: Option<String>,
    },
    #[cfg(feature = "fake")]
    /// Run a fake Toss Payments server alone (for your own tests).
    ///
    /// Reads no PAYMENT_* variable but PAYMENT_FAKE_TOSS_API_VERSION; its
    /// secret key is test_ak_ZORzdMaqN3wQd5k6ygr5AkYXQGwy.
    FakeToss {
        #[arg(long, default_value_t = payments_toss::module::FAKE_PORT)]
        port: u16,
        /// Where its webhooks go (e.g. http://127.0.0.1:37821/payments/webhooks/toss).
        #[arg(long)]
        webhook_url: Option<String>,
        /// The Toss API version it answers in, as a merchant's account is set:
        /// 2022-11-16 (today's) or 1.4 (the original SDK's).
        #[arg(long, env = "PAYMENT_FAKE_TOSS_API_VERSION", default_value = "2022-11-16")]
        api_version: payments_toss::fake::TossApiVersion,
    },
    #[cfg(feature = "fake")]
    /// Run a fake PortOne V2 server alone (for your own tests).
    ///
    /// Reads no PAYMENT_* variable; its API secret is
    /// portone-test-api-secret-0123456789, its store
    /// store-00000000-0000-4000-8000-000000000001, and it signs its webhooks
    /// with whsec_cG9ydG9uZS10ZXN0LXdlYmhvb2stc2VjcmV0LTMyYnl0ZXM=.
    FakePortone {
        #[arg(long, default_value_t = payments_portone::module::FAKE_PORT)]
        port: u16,
        /// Where its webhooks go (e.g. http://127.0.0.1:37821/payments/webhooks/portone).
        #[arg(long)]
        webhook_url: Option<String>,
    },
    /// Operate the outgoing webhook queue.
    ///
    /// Reads PAYMENT_DATABASE_URL, the PAYMENT_*_ENCRYPTION_KEY keys and
    /// PAYMENT_WEBHOOK_* (validated as for serve).
    Webhooks {
        #[command(subcommand)]
        command: WebhookCommand,
    },
    /// Manage the clients: the backend services that call with their own API
    /// key, wire key and webhook secret, and own the records they make.
    ///
    /// Reads PAYMENT_MODE, PAYMENT_DATABASE_URL and the
    /// PAYMENT_*_ENCRYPTION_KEY keys (a client's secrets are sealed with the
    /// histories key).
    Clients {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Manage the operators: the people who sign in to the console
    /// (PAYMENT_ADMIN_ADDR). Roles: viewer (reads), support (also refunds,
    /// re-reads, redelivers), admin (also operators, reconcile, audit log).
    ///
    /// Reads PAYMENT_MODE, PAYMENT_DATABASE_URL, the
    /// PAYMENT_*_ENCRYPTION_KEY keys (a TOTP secret is sealed with the
    /// histories key) and PAYMENT_ARGON2_*.
    Operators {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Manage the keys that encrypt data at rest.
    ///
    /// Reads PAYMENT_DATABASE_URL and the PAYMENT_*_ENCRYPTION_KEY and
    /// PAYMENT_*_ENCRYPTION_PREVIOUS_KEYS keys.
    Keys {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Re-read at the PGs the payments not final (not paid yet, cancels whose
    /// outcome is unknown) and those registered or changed in the window, and
    /// record every drift as an ordinary change with its webhook event.
    ///
    /// Reads the variables serve reads (a running server delivers the events).
    Reconcile {
        /// The window of recent changes: 30m, 12h, 7d, ...
        #[arg(long, default_value = "7d")]
        since: String,
        /// Report what drifted; record nothing, send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Most payments re-read.
        #[arg(long, default_value_t = 100_000)]
        limit: usize,
    },
    /// List every environment variable the server reads.
    ///
    /// Reads no PAYMENT_* variable.
    Env,
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Deliver an event again (a failed one after its schedule ran out, or a
    /// delivered one a receiver lost).
    ///
    /// Reads PAYMENT_DATABASE_URL, the PAYMENT_*_ENCRYPTION_KEY keys and
    /// PAYMENT_WEBHOOK_*; a running server delivers the event.
    Redeliver {
        /// The event id (the `webhook-id` header of its deliveries).
        event_id: uuid::Uuid,
    },
    /// Show the queue: pending, retrying, delivered, failed, oldest pending.
    ///
    /// Reads PAYMENT_DATABASE_URL, the PAYMENT_*_ENCRYPTION_KEY keys and
    /// PAYMENT_WEBHOOK_*.
    Stats,
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Add an operator and print their password and, for support and
    /// admin, the TOTP enrolment URI for their authenticator app: once.
    Add {
        /// Their sign-in name: 3 to 64 of a-z 0-9 . _ @ - (kim@shop).
        #[arg(long)]
        name: String,
        /// viewer, support or admin.
        #[arg(long)]
        role: String,
    },
    /// List the operators (no secrets).
    List,
    /// Disable an operator: they cannot sign in, their sessions end; their
    /// audit trail stays.
    Disable {
        /// Their sign-in name.
        name: String,
    },
    /// A new password (and TOTP secret for support and admin) for an
    /// operator who lost theirs; their sessions end. Printed once.
    Reset {
        /// Their sign-in name.
        name: String,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Add a client and print its API key, wire key, IV and webhook secret:
    /// once (only the key's digest is kept; give them to the backend now).
    Add {
        /// A name for people (unique): "orders service".
        #[arg(long)]
        name: String,
        /// What it may do: all, or a list of read, register, cancel, cards,
        /// charge, events.
        #[arg(long, default_value = "all")]
        scopes: String,
        /// Requests a second it may make, on each instance (default:
        /// PAYMENT_CLIENT_RATE_PER_SEC of the server).
        #[arg(long)]
        rate: Option<u32>,
        /// Its bodies and answers are plain JSON (application/json) instead
        /// of the AES envelope: only behind TLS you trust end to end.
        #[arg(long)]
        plain_json: bool,
    },
    /// List the clients (no secrets).
    List,
    /// Show one client (no secrets: they were shown once, at `add` or a rotation).
    Show {
        /// The client's id.
        id: uuid::Uuid,
    },
    /// Revoke a client: its key answers 401 from now on; its records stay.
    Revoke {
        /// The client's id.
        id: uuid::Uuid,
    },
    /// Give a client a new API key, printed once; the old one stays valid
    /// for the grace period, so its backend switches without downtime.
    RotateKey {
        /// The client's id.
        id: uuid::Uuid,
        /// How long the old key stays valid: 30m, 24h, 7d, ...
        #[arg(long, default_value = "24h")]
        grace: String,
    },
    /// Give a client a new webhook secret, printed once; deliveries are
    /// signed with both for the grace period (Standard Webhooks' several
    /// signatures), so its receivers switch at their pace.
    RotateWebhookSecret {
        /// The client's id.
        id: uuid::Uuid,
        /// How long the old secret signs too: 30m, 24h, 7d, ...
        #[arg(long, default_value = "24h")]
        grace: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Re-encrypt every stored value not sealed with the current keys.
    ///
    /// Reads PAYMENT_DATABASE_URL, PAYMENT_*_ENCRYPTION_KEY and
    /// PAYMENT_*_ENCRYPTION_PREVIOUS_KEYS. Set the new key, list the old one in
    /// the PREVIOUS_KEYS variable, run this, then drop the old key.
    Rotate,
}

fn read_vars() -> Vars {
    // Only the working directory's .env (not a parent's, as `dotenv()` would
    // search); the environment wins over it. A missing one is normal, a
    // malformed one is reported.
    if let Err(error) = dotenvy::from_path(".env")
        && !error.not_found()
    {
        eprintln!("warning: .env not read: {error}");
    }
    std::env::vars().filter(|(k, _)| k.starts_with("PAYMENT_")).collect()
}

fn init_logging(vars: &Vars) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(vars.get("PAYMENT_LOG").map_or("info", String::as_str))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: files, pipes and log collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    // JSON escapes control characters in every string; the text format
    // escapes them in every field value (a PG's error page, a caller's id),
    // so no value can start a log line of its own.
    if vars.get("PAYMENT_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.fmt_fields(payments_server::logging::EscapedFields).init();
    }
}

/// `payments clients ...`: prints what it did; secrets only at `add`, once.
async fn run_operator_command(
    operators: &payments_application::OperatorService,
    command: OperatorCommand,
) -> anyhow::Result<()> {
    let context = payments_application::RequestContext::default();
    let fail = |e: payments_application::OperatorError| match e {
        payments_application::OperatorError::Invalid { field, reason } => anyhow::anyhow!("--{field}: {reason}"),
        other => anyhow::anyhow!("{other}"),
    };
    let issued = |what: &str, issued: payments_application::IssuedOperator| {
        println!("operator {} ({}) {what}", issued.operator.name, issued.operator.role);
        println!("Give these to them now; they are not shown again:");
        println!("  password  {}", issued.password);
        if let Some(uri) = issued.totp_uri {
            println!("  TOTP      {uri}");
            println!("            (add it to an authenticator app; sign-ins ask for its 6-digit code)");
        }
    };
    match command {
        OperatorCommand::Add { name, role, .. } => {
            let role = payments_domain::Role::parse(&role).map_err(|e| anyhow::anyhow!("--{e}"))?;
            issued("added", operators.add(&name, role, None, None, &context).await.map_err(fail)?);
        }
        OperatorCommand::List => {
            for operator in operators.list().await.map_err(fail)? {
                let state =
                    operator.disabled_at.map_or("active".to_owned(), |at| format!("disabled {}", at.to_rfc3339()));
                println!(
                    "{:<32}  {:<8}  created {}  {state}",
                    operator.name.as_str(),
                    operator.role.as_str(),
                    operator.created_at.to_rfc3339()
                );
            }
        }
        OperatorCommand::Disable { name } => {
            let operator = operators.disable(&name, None, &context).await.map_err(fail)?;
            println!("operator {} disabled; their sessions ended", operator.name);
        }
        OperatorCommand::Reset { name } => {
            issued("reset; their sessions ended", operators.reset(&name, None, None, &context).await.map_err(fail)?);
        }
    }
    Ok(())
}

async fn run_client_command(
    clients: &payments_application::ClientService,
    command: ClientCommand,
) -> anyhow::Result<()> {
    let fail = |e: payments_application::AppError| anyhow::anyhow!("{e}");
    match command {
        ClientCommand::Add { name, scopes, rate, plain_json } => {
            let new = payments_application::NewClient {
                name: payments_domain::ClientName::parse(name).map_err(|e| anyhow::anyhow!("--{e}"))?,
                scopes: payments_domain::Scopes::parse(&scopes).map_err(|e| anyhow::anyhow!("--{e}"))?,
                plain_json,
                rate_per_second: rate.filter(|r| *r > 0),
            };
            let issued = clients.add(new).await.map_err(fail)?;
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            println!(
                "client {} ({}) added; scopes {}",
                issued.client.id,
                issued.client.name.as_str(),
                issued.client.scopes.to_text()
            );
            println!("Give these to the backend now; they are not shown again:");
            println!("  api key (Authorization: Bearer ...)  {}", issued.api_key);
            println!("  wire key                             {}", text(&issued.secrets.wire_key));
            println!("  wire iv                              {}", text(&issued.secrets.wire_iv));
            println!("  webhook secret                       {}", issued.secrets.webhook_secret);
            Ok(())
        }
        ClientCommand::List => {
            for client in clients.list().await.map_err(fail)? {
                let state = client.revoked_at.map_or("active".to_owned(), |at| format!("revoked {}", at.to_rfc3339()));
                println!(
                    "{}  {:<24}  {:<40}  created {}  {state}",
                    client.id,
                    client.name.as_str(),
                    client.scopes.to_text(),
                    client.created_at.to_rfc3339()
                );
            }
            Ok(())
        }
        ClientCommand::Show { id } => {
            let stored = clients.show(payments_domain::ClientId::from_uuid(id)).await.map_err(fail)?;
            let client = stored.client;
            println!("id           {}", client.id);
            println!("name         {}", client.name.as_str());
            println!("scopes       {}", client.scopes.to_text());
            println!(
                "rate         {}",
                client.rate_per_second.map_or("the server's default".to_owned(), |r| format!("{r}/s"))
            );
            println!("created      {}", client.created_at.to_rfc3339());
            println!("revoked      {}", client.revoked_at.map_or("no".to_owned(), |at| at.to_rfc3339()));
            let previous = stored.secrets.previous_webhook_secret.map(|(_, until)| until.to_rfc3339());
            println!("old secret   {}", previous.map_or("none".to_owned(), |until| format!("signs until {until}")));
            Ok(())
        }
        ClientCommand::RotateKey { id, grace } => {
            let grace = config::parse_duration("--grace", &grace).map_err(|e| anyhow::anyhow!("{e}"))?;
            let key = clients.rotate_key(payments_domain::ClientId::from_uuid(id), grace).await.map_err(fail)?;
            println!("client {id}: new api key (not shown again)  {key}");
            println!("the old key stays valid for {} s", grace.as_secs());
            Ok(())
        }
        ClientCommand::RotateWebhookSecret { id, grace } => {
            let grace = config::parse_duration("--grace", &grace).map_err(|e| anyhow::anyhow!("{e}"))?;
            let client = payments_domain::ClientId::from_uuid(id);
            let secret = clients.rotate_webhook_secret(client, grace).await.map_err(fail)?;
            println!("client {id}: new webhook secret (not shown again)  {secret}");
            println!("deliveries are signed with the old one too for {} s", grace.as_secs());
            Ok(())
        }
        ClientCommand::Revoke { id } => {
            let at = clients.revoke(payments_domain::ClientId::from_uuid(id)).await.map_err(fail)?;
            println!("client {id} revoked at {}; its key answers 401 from now on", at.to_rfc3339());
            Ok(())
        }
    }
}

fn load_config(vars: &Vars) -> anyhow::Result<Config> {
    Config::from_vars(vars).map_err(|e| anyhow::anyhow!("configuration error: {e}"))
}

/// Completes at SIGTERM or SIGINT (ctrl-c). The handlers are installed when
/// this is called, so a signal sent as soon as the server says it listens is
/// never lost (or left to the default action, which would kill the process).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// The line `serve` prints once it accepts connections, for scripts and tests.
fn listening_line(app: &payments_server::RunningApp) -> String {
    let mut line = format!("payments listening on {}", app.url());
    let fakes: Vec<String> = app.fakes().iter().map(|(code, addr)| format!("fake {code} http://{addr}")).collect();
    if !fakes.is_empty() {
        line.push_str(&format!(" ({})", fakes.join(", ")));
    }
    line
}

async fn run(command: Command, vars: Vars) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let config = load_config(&vars)?;
            let signal = shutdown_signal()?;
            let app = payments_server::start(config).await?;
            {
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                // A closed stdout must not stop the server.
                let _ = writeln!(stdout, "{}", listening_line(&app)).and_then(|()| stdout.flush());
            }
            app.run_until(signal).await?;
            tracing::info!("stopped");
            Ok(())
        }
        Command::Migrate => {
            let config = load_config(&vars)?;
            let database = payments_server::app::open_database(&config).await?;
            database.close().await;
            println!("migrations applied to {}", payments_server::app::redact_url(&config.database_url));
            Ok(())
        }
        Command::Openapi { output, console } => {
            let (document, default) = if console {
                (payments_console::openapi_json(), "openapi/admin.json")
            } else {
                (payments_http::openapi_json(), "openapi/payments.json")
            };
            let output = output.unwrap_or_else(|| PathBuf::from(default));
            if output.as_os_str() == "-" {
                println!("{document}");
            } else {
                if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
                }
                std::fs::write(&output, document).with_context(|| format!("cannot write {}", output.display()))?;
                eprintln!("wrote {}", output.display());
            }
            Ok(())
        }
        #[cfg(feature = "fake")]
        Command::FakeIamport { port, webhook_url } => {
            let signal = shutdown_signal()?;
            let fake = payments_iamport::fake::FakeIamportConfig { webhook_url, ..Default::default() };
            let server = payments_iamport::fake::start(fake, ([127, 0, 0, 1], port).into())
                .await
                .with_context(|| format!("cannot listen on port {port}"))?;
            println!("fake Iamport listening on {}", server.url());
            signal.await;
            Ok(server.stop().await?)
        }
        #[cfg(feature = "fake")]
        Command::FakeToss { port, webhook_url, api_version } => {
            let signal = shutdown_signal()?;
            let fake = payments_toss::fake::FakeTossConfig { webhook_url, api_version, ..Default::default() };
            let server = payments_toss::fake::start(fake, ([127, 0, 0, 1], port).into())
                .await
                .with_context(|| format!("cannot listen on port {port}"))?;
            println!("fake Toss Payments listening on {}", server.url());
            signal.await;
            Ok(server.stop().await?)
        }
        #[cfg(feature = "fake")]
        Command::FakePortone { port, webhook_url } => {
            let signal = shutdown_signal()?;
            let fake = payments_portone::fake::FakePortOneConfig { webhook_url, ..Default::default() };
            let server = payments_portone::fake::start(fake, ([127, 0, 0, 1], port).into())
                .await
                .with_context(|| format!("cannot listen on port {port}"))?;
            println!("fake PortOne V2 listening on {}", server.url());
            signal.await;
            Ok(server.stop().await?)
        }
        Command::Webhooks { command } => {
            let config = load_config(&vars)?;
            let database = payments_server::app::open_database(&config).await?;
            let delivery = payments_server::app::delivery_service(&config, &database, &Default::default())?;
            let result = match command {
                WebhookCommand::Redeliver { event_id } => {
                    delivery.redeliver(payments_domain::EventId::from_uuid(event_id)).await.map(|()| {
                        println!("event {event_id} is due again; a running server delivers it shortly");
                    })
                }
                WebhookCommand::Stats => delivery.stats().await.map(|s| {
                    println!(
                        "pending {}  retrying {}  delivered {}  failed {}  oldest pending {}",
                        s.pending,
                        s.retrying,
                        s.delivered,
                        s.failed,
                        s.oldest_pending_age.map_or("-".to_owned(), |d| format!("{}s", d.as_secs()))
                    );
                }),
            };
            database.close().await;
            result.map_err(|e| anyhow::anyhow!("{e}"))
        }
        Command::Clients { command } => {
            let config = load_config(&vars)?;
            let database = payments_server::app::open_database(&config).await?;
            let repositories = database.repositories(payments_server::app::at_rest_keys(&config));
            let clients = payments_server::app::client_service(&config, &repositories);
            let result = run_client_command(&clients, command).await;
            database.close().await;
            result
        }
        Command::Operators { command } => {
            let config = load_config(&vars)?;
            let database = payments_server::app::open_database(&config).await?;
            let repositories = database.repositories(payments_server::app::at_rest_keys(&config));
            let metrics = payments_metrics::Metrics::new();
            let hasher = payments_server::app::hasher(&config, &metrics)?;
            let operators = payments_server::app::operator_service(&config, &repositories, &hasher);
            let result = run_operator_command(&operators, command).await;
            database.close().await;
            result
        }
        Command::Keys { command: KeyCommand::Rotate } => {
            let config = load_config(&vars)?;
            let database = payments_server::app::open_database(&config).await?;
            let keys = payments_server::app::at_rest_keys(&config);
            // This instance's spooled notifications are moved in first, so
            // they are re-sealed with the rest (a running server's spool is
            // its own: it moves it in itself).
            let moved = match &config.notification_spool {
                None => 0,
                Some(spool) => match payments_sqlx::Spool::open(spool.clone()).await {
                    Ok(opened) => database
                        .move_spool_in(&keys, &opened)
                        .await
                        .map_err(|e| anyhow::anyhow!("moving the notification spool in failed: {e}"))?,
                    Err(payments_sqlx::SpoolError::InUse(path)) => {
                        println!("the notification spool {path} is held by a running server, which moves it in itself");
                        0
                    }
                    Err(error) => return Err(anyhow::anyhow!("PAYMENT_NOTIFICATION_SPOOL: {error}")),
                },
            };
            let report =
                database.reencrypt_all(&keys).await.map_err(|e| anyhow::anyhow!("re-encryption failed: {e}"))?;
            database.close().await;
            println!("moved {moved} spooled PG notifications into the database");
            println!("re-encrypted {} values: {report:?}", report.total());
            Ok(())
        }
        Command::Reconcile { since, dry_run, limit } => {
            let config = load_config(&vars)?;
            let window = config::parse_duration("--since", &since).map_err(|e| anyhow::anyhow!("{e}"))?;
            let database = payments_server::app::open_database(&config).await?;
            let repositories = database.repositories(payments_server::app::at_rest_keys(&config));
            // The command's own figures are printed; its metrics are nobody's.
            let metrics = payments_metrics::Metrics::new();
            let hasher = payments_server::app::hasher(&config, &metrics)?;
            let payments = payments_server::app::payment_service(
                &config,
                &repositories,
                repositories.histories.clone(),
                &hasher,
                &metrics,
            )?;
            let since = chrono::Utc::now() - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(7));
            let options = payments_application::ReconcileOptions {
                since: payments_domain::to_millis(since),
                dry_run,
                limit,
                pace: config.reconcile.pace,
            };
            let report = payments.reconcile(options).await;
            database.close().await;
            let report = report.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "checked {}  drifted {}  fixed {}  failed {}  cancels settled {} (of {} open)  \
                 abandoned charges recorded {}, not charged {} (of {})  \
                 orders completed {}, refused {}, expired {}, paid late {}, failed {} (of {} pending){}",
                report.checked,
                report.drifted,
                report.fixed,
                report.failed,
                report.intents.settled,
                report.intents.checked,
                report.charges.recorded,
                report.charges.not_charged,
                report.charges.checked,
                report.orders.completed,
                report.orders.refused,
                report.orders.expired,
                report.orders.paid_late,
                report.orders.failed,
                report.orders.checked,
                if dry_run { "  (dry run: nothing recorded)" } else { "" }
            );
            Ok(())
        }
        Command::Env => {
            let each_pg = payments_server::PGS.iter().flat_map(|pg| pg.variables().iter());
            // A build without fakes has no fake to configure.
            let built = |(name, _): &&(&str, &str)| cfg!(feature = "fake") || !name.starts_with("PAYMENT_FAKE_");
            for (name, meaning) in config::VARIABLES.iter().chain(each_pg).filter(built) {
                println!("{name}\n    {meaning}");
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let vars = read_vars();
    init_logging(&vars);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, vars)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
