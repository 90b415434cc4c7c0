//! `payments-load`: see the library's documentation and BENCHMARKS.md.

use std::process::ExitCode;

use clap::Parser;
use payments_load::{Opts, render, run};

#[tokio::main]
async fn main() -> ExitCode {
    let opts = Opts::parse();
    let json = opts.json.clone();
    let report = match run(opts).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("payments-load: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let text = match serde_json::to_string_pretty(&report) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("payments-load: cannot write the report: {error}");
            return ExitCode::FAILURE;
        }
    };
    match json.as_deref() {
        Some(path) if path.as_os_str() == "-" => println!("{text}"),
        Some(path) => {
            if let Err(error) = std::fs::write(path, text) {
                eprintln!("payments-load: cannot write {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
            print!("{}", render(&report));
        }
        None => print!("{}", render(&report)),
    }
    ExitCode::SUCCESS
}
