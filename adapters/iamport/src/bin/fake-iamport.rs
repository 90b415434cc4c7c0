//! Runs a fake Iamport server on its own.
//!
//! ```text
//! fake-iamport [--port 10851] [--host 127.0.0.1] [--webhook-url URL]
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use payments_iamport::fake::{DEFAULT_PORT, FakeIamportConfig, TEST_IMP_KEY, TEST_IMP_SECRET, start};

const USAGE: &str =
    "usage: fake-iamport [--port PORT (default 10851)] [--host IP (default 127.0.0.1)] [--webhook-url URL]";

struct Args {
    port: u16,
    host: IpAddr,
    webhook_url: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args { port: DEFAULT_PORT, host: IpAddr::V4(Ipv4Addr::LOCALHOST), webhook_url: None };
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value =
            |name: &str| inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value"));
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                parsed.port =
                    value("--port")?.parse().map_err(|_| "--port must be a number from 0 to 65535".to_owned())?;
            }
            "--host" => {
                parsed.host = value("--host")?.parse().map_err(|_| "--host must be an IP address".to_owned())?
            }
            "--webhook-url" => parsed.webhook_url = Some(value("--webhook-url")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(parsed))
}

#[tokio::main]
async fn main() -> ExitCode {
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
    let config = FakeIamportConfig { webhook_url: args.webhook_url, ..FakeIamportConfig::default() };
    let server = match start(config, SocketAddr::new(args.host, args.port)).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("cannot listen on {}:{}: {error}", args.host, args.port);
            return ExitCode::FAILURE;
        }
    };
    println!("fake Iamport listening on {} (imp_key {TEST_IMP_KEY}, imp_secret {TEST_IMP_SECRET})", server.url());
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("cannot wait for Ctrl-C: {error}");
    }
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
        assert_eq!(args.port, DEFAULT_PORT);
        assert_eq!(args.webhook_url, None);
        let args =
            parse(&["--port", "0", "--webhook-url=http://127.0.0.1:1/hook", "--host", "0.0.0.0"]).unwrap().unwrap();
        assert_eq!(args.port, 0);
        assert_eq!(args.webhook_url.as_deref(), Some("http://127.0.0.1:1/hook"));
        assert!(args.host.is_unspecified());
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--what"]).is_err());
    }
}
