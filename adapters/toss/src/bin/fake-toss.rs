//! Runs the fake Toss Payments server on its own.
//!
//! `fake-toss [--port 30771] [--host 127.0.0.1] [--webhook-url URL] [--secret KEY]`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use payments_toss::fake::{DEFAULT_PORT, FakeTossConfig, start};

const USAGE: &str = "usage: fake-toss [--port PORT] [--host IP] [--webhook-url URL] [--secret KEY]";

struct Args {
    addr: SocketAddr,
    config: FakeTossConfig,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut port = DEFAULT_PORT;
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut config = FakeTossConfig::default();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        if name == "--help" || name == "-h" {
            return Ok(None);
        }
        let mut value = || inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"));
        match name.as_str() {
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--host" => host = value()?.parse().map_err(|e| format!("--host: {e}"))?,
            "--webhook-url" => config.webhook_url = Some(value()?),
            "--secret" => config.secret_key = value()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(Args { addr: SocketAddr::new(host, port), config }))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match start(args.config, args.addr).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("cannot listen on {}: {error}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(url = %server.url(), "fake Toss Payments server listening");
    let _ = tokio::signal::ctrl_c().await;
    match server.stop().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
