//! `payments-load`: see the library's documentation and BENCHMARKS.md.

use std::process::ExitCode;

use clap::Parser;
use payments_load::{Opts, compare, render, run};

#[tokio::main]
async fn main() -> ExitCode {
    let opts = Opts::parse();
    let json = opts.json.clone();
    let outcome = match opts.compare_bin.clone() {
        Some(before) => {
            let rounds = opts.rounds;
            compare::compare(opts, before, rounds)
                .await
                .map(|c| (serde_json::to_string_pretty(&c), compare::render(&c)))
        }
        None => run(opts).await.map(|report| (serde_json::to_string_pretty(&report), render(&report))),
    };
    let (json_text, text) = match outcome {
        Ok(done) => done,
        Err(error) => {
            eprintln!("payments-load: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let json_text = match json_text {
        Ok(json_text) => json_text,
        Err(error) => {
            eprintln!("payments-load: cannot write the report: {error}");
            return ExitCode::FAILURE;
        }
    };
    match json.as_deref() {
        Some(path) if path.as_os_str() == "-" => println!("{json_text}"),
        Some(path) => {
            if let Err(error) = std::fs::write(path, json_text) {
                eprintln!("payments-load: cannot write {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
            print!("{text}");
        }
        None => print!("{text}"),
    }
    ExitCode::SUCCESS
}
