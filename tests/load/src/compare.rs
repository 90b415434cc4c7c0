//! `--compare-bin`: the same measurement of two server binaries, alternated
//! on one host, and the ratio of each figure. Throughput on a shared
//! two-core host moves by tens of percent from one minute to the next; a
//! claim of "faster" is a ratio of runs made side by side, never a figure
//! compared with one taken another day.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::{Opts, Report, median, run};

/// Both binaries' reports, round by round, and the figures compared.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub before_bin: PathBuf,
    pub after_bin: PathBuf,
    /// Which ran first in each round (`before` first in odd rounds).
    pub order: Vec<[&'static str; 2]>,
    pub before: Vec<Report>,
    pub after: Vec<Report>,
    pub rows: Vec<Row>,
}

/// One measurement (a scenario at a concurrency, or at a rate) of both.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    /// `c=8`, or `500/s` for an open-loop run.
    pub load: String,
    pub throughput: Pair,
    pub p99_ms: Pair,
    pub cpu_us_per_op: Pair,
}

/// A figure of both binaries (medians over the rounds) and after / before.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Pair {
    pub before: Option<f64>,
    pub after: Option<f64>,
    pub ratio: Option<f64>,
}

impl Pair {
    fn of(before: &[f64], after: &[f64]) -> Self {
        let (before, after) = (median(before), median(after));
        let ratio = match (before, after) {
            (Some(b), Some(a)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        Self { before, after, ratio }
    }
}

/// Runs the measurement `opts` describes `rounds` times for each binary,
/// alternating (before, after; then after, before; ...), each on a fresh
/// server and database.
///
/// # Errors
/// When a run fails.
pub async fn compare(opts: Opts, before_bin: PathBuf, rounds: usize) -> anyhow::Result<Comparison> {
    let after_bin = opts.server_bin.clone().ok_or_else(|| anyhow::anyhow!("--compare-bin needs --server-bin"))?;
    let (mut before, mut after, mut order) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds.max(1) {
        let before_first = round % 2 == 0;
        order.push(if before_first { ["before", "after"] } else { ["after", "before"] });
        for is_before in [before_first, !before_first] {
            let bin = if is_before { &before_bin } else { &after_bin };
            eprintln!("payments-load: round {} of {}: {}", round + 1, rounds.max(1), bin.display());
            let report = run(Opts { server_bin: Some(bin.clone()), ..opts.clone() }).await?;
            if is_before { before.push(report) } else { after.push(report) }
        }
    }
    let rows = rows(&before, &after);
    Ok(Comparison { before_bin, after_bin, order, before, after, rows })
}

/// A measurement's figures as one report has them.
struct Figures {
    scenario: String,
    load: String,
    throughput: f64,
    p99_ms: f64,
    cpu_us_per_op: Option<f64>,
}

fn figures(report: &Report) -> Vec<Figures> {
    let closed = report.levels.iter().flat_map(|level| {
        level.scenarios.iter().map(move |s| Figures {
            scenario: format!("{:?}", s.scenario).to_lowercase(),
            load: format!("c={}", level.concurrency),
            throughput: s.summary.throughput,
            p99_ms: s.summary.p99_ms,
            cpu_us_per_op: s.cpu_us_per_op,
        })
    });
    let open = report.open_loop.iter().map(|o| Figures {
        scenario: format!("{:?}", o.scenario).to_lowercase(),
        load: format!("{:.0}/s", o.rate_per_s),
        throughput: o.summary.throughput,
        p99_ms: o.summary.p99_ms,
        cpu_us_per_op: o.cpu_us_per_op,
    });
    closed.chain(open).collect()
}

/// Each measurement of the first report, with the medians over the rounds.
fn rows(before: &[Report], after: &[Report]) -> Vec<Row> {
    let Some(first) = before.first() else { return Vec::new() };
    let collect = |reports: &[Report], scenario: &str, load: &str| {
        let all: Vec<Figures> =
            reports.iter().flat_map(figures).filter(|f| f.scenario == scenario && f.load == load).collect();
        (
            all.iter().map(|f| f.throughput).collect::<Vec<_>>(),
            all.iter().map(|f| f.p99_ms).collect::<Vec<_>>(),
            all.iter().filter_map(|f| f.cpu_us_per_op).collect::<Vec<_>>(),
        )
    };
    figures(first)
        .into_iter()
        .map(|f| {
            let (bt, bp, bc) = collect(before, &f.scenario, &f.load);
            let (at, ap, ac) = collect(after, &f.scenario, &f.load);
            Row {
                throughput: Pair::of(&bt, &at),
                p99_ms: Pair::of(&bp, &ap),
                cpu_us_per_op: Pair::of(&bc, &ac),
                scenario: f.scenario,
                load: f.load,
            }
        })
        .collect()
}

/// The comparison as text: one line per measurement.
pub fn render(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "before: {}", comparison.before_bin.display());
    let _ = writeln!(out, "after:  {}", comparison.after_bin.display());
    let order: Vec<String> = comparison.order.iter().map(|o| o.join(" then ")).collect();
    let _ = writeln!(out, "rounds: {} ({}); figures are medians over the rounds", order.len(), order.join("; "));
    let _ = writeln!(
        out,
        "  {:<9} {:>7} | {:>8} {:>8} {:>6} | {:>8} {:>8} {:>6} | {:>9} {:>9} {:>6}",
        "scenario", "load", "ops/s A", "ops/s B", "B/A", "p99 A", "p99 B", "B/A", "cpu us A", "cpu us B", "B/A"
    );
    let num = |v: Option<f64>, digits: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"));
    for row in &comparison.rows {
        let _ = writeln!(
            out,
            "  {:<9} {:>7} | {:>8} {:>8} {:>6} | {:>8} {:>8} {:>6} | {:>9} {:>9} {:>6}",
            row.scenario,
            row.load,
            num(row.throughput.before, 1),
            num(row.throughput.after, 1),
            num(row.throughput.ratio, 2),
            num(row.p99_ms.before, 1),
            num(row.p99_ms.after, 1),
            num(row.p99_ms.ratio, 2),
            num(row.cpu_us_per_op.before, 0),
            num(row.cpu_us_per_op.after, 0),
            num(row.cpu_us_per_op.ratio, 2),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_the_medians_and_their_ratio() {
        let pair = Pair::of(&[100.0, 300.0, 200.0], &[300.0, 100.0, 400.0, 500.0]);
        assert_eq!(pair.before, Some(200.0));
        assert_eq!(pair.after, Some(350.0));
        assert_eq!(pair.ratio, Some(1.75));
        let none = Pair::of(&[], &[1.0]);
        assert_eq!((none.before, none.ratio), (None, None));
        assert_eq!(Pair::of(&[0.0], &[1.0]).ratio, None, "no ratio to a zero");
    }
}
