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
        .with_writer(std::io::stderr)
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
    let config_webhook = args.config.webhook_url.clone();
    let server = match start(args.config, args.addr).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("cannot listen on {}: {error}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    // Read by scripts and tests to learn the port (useful with `--port 0`).
    println!("fake Toss Payments listening on {}", server.url());
    tracing::info!(url = %server.url(), webhook = ?config_webhook, "fake Toss Payments server listening");
    let _ = tokio::signal::ctrl_c().await;
    match server.stop().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn defaults_and_flags() {
        let args = parse(&[]).unwrap().unwrap();
        assert_eq!(args.addr.port(), 30771);
        assert_eq!(args.config.webhook_url, None);
        let args = parse(&["--port", "0", "--webhook-url=http://127.0.0.1:1/hook", "--secret", "s"]).unwrap().unwrap();
        assert_eq!(args.addr.port(), 0);
        assert_eq!(args.config.webhook_url.as_deref(), Some("http://127.0.0.1:1/hook"));
        assert_eq!(args.config.secret_key, "s");
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--what"]).is_err());
    }
}
