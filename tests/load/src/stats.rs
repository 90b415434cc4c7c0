//! Driving N concurrent workers for a bounded count and time, and summarising
//! their latencies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Serialize;

/// One operation of a scenario: `(worker, the worker's iteration)` to the
/// latency it measured. An error counts as a failed operation.
pub type Op = Arc<dyn Fn(usize, u64) -> BoxFuture<'static, anyhow::Result<Duration>> + Send + Sync>;

/// Bounds of one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Workers running at once.
    pub concurrency: usize,
    /// Operations at most (all workers together).
    pub max_count: u64,
    /// No operation starts after this long.
    pub max_duration: Duration,
    /// One operation failing after this long.
    pub op_timeout: Duration,
}

/// Throughput and latency of one measurement.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// Successful operations.
    pub ops: u64,
    /// Failed operations.
    pub errors: u64,
    /// Wall time from the first start to the last end, seconds.
    pub elapsed_s: f64,
    /// Successful operations per second of wall time.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// The first few error messages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first_errors: Vec<String>,
}

/// The nearest-rank percentile of sorted durations, in milliseconds.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    ms(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Summary {
    /// Summarises `latencies` of successful operations.
    pub fn new(mut latencies: Vec<Duration>, errors: u64, elapsed: Duration, first_errors: Vec<String>) -> Self {
        latencies.sort_unstable();
        let ops = latencies.len() as u64;
        let total: Duration = latencies.iter().sum();
        let elapsed_s = elapsed.as_secs_f64();
        Self {
            ops,
            errors,
            elapsed_s,
            throughput: if elapsed_s > 0.0 { ops as f64 / elapsed_s } else { 0.0 },
            p50_ms: percentile_ms(&latencies, 50.0),
            p90_ms: percentile_ms(&latencies, 90.0),
            p99_ms: percentile_ms(&latencies, 99.0),
            max_ms: latencies.last().copied().map(ms).unwrap_or(0.0),
            mean_ms: if ops > 0 { ms(total) / ops as f64 } else { 0.0 },
            first_errors,
        }
    }

    /// The median of each figure over several runs (errors summed), and how
    /// far throughput spread around it.
    pub fn median_of(runs: &[Summary]) -> (Summary, f64) {
        fn median(mut values: Vec<f64>) -> f64 {
            values.sort_by(f64::total_cmp);
            match values.len() {
                0 => 0.0,
                n if n % 2 == 1 => values[n / 2],
                n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
            }
        }
        let pick = |f: fn(&Summary) -> f64| median(runs.iter().map(f).collect());
        let throughput = pick(|s| s.throughput);
        let (lo, hi) =
            runs.iter().fold((f64::MAX, 0.0_f64), |(lo, hi), s| (lo.min(s.throughput), hi.max(s.throughput)));
        let spread = if throughput > 0.0 && !runs.is_empty() { (hi - lo) / throughput } else { 0.0 };
        let summary = Summary {
            ops: median(runs.iter().map(|s| s.ops as f64).collect()) as u64,
            errors: runs.iter().map(|s| s.errors).sum(),
            elapsed_s: pick(|s| s.elapsed_s),
            throughput,
            p50_ms: pick(|s| s.p50_ms),
            p90_ms: pick(|s| s.p90_ms),
            p99_ms: pick(|s| s.p99_ms),
            max_ms: pick(|s| s.max_ms),
            mean_ms: pick(|s| s.mean_ms),
            first_errors: runs.iter().flat_map(|s| s.first_errors.iter().cloned()).take(3).collect(),
        };
        (summary, spread)
    }
}

/// What the operations of one measurement came to.
#[derive(Default)]
struct Outcomes {
    latencies: Vec<Duration>,
    errors: u64,
    first_errors: Vec<String>,
}

impl Outcomes {
    fn add(&mut self, outcome: Result<Duration, String>) {
        match outcome {
            Ok(latency) => self.latencies.push(latency),
            Err(error) => {
                self.errors += 1;
                if self.first_errors.len() < 3 {
                    self.first_errors.push(error);
                }
            }
        }
    }

    fn merge(&mut self, other: Outcomes) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.first_errors.extend(other.first_errors);
        self.first_errors.truncate(3);
    }

    fn summary(self, elapsed: Duration) -> Summary {
        Summary::new(self.latencies, self.errors, elapsed, self.first_errors)
    }
}

/// Runs one operation within `timeout`; its latency, or what went wrong.
async fn run_one(op: &Op, worker: usize, iteration: u64, timeout: Duration) -> Result<Duration, String> {
    match tokio::time::timeout(timeout, op(worker, iteration)).await {
        Ok(Ok(latency)) => Ok(latency),
        Ok(Err(error)) => Err(format!("{error:#}")),
        Err(_) => Err(format!("timed out after {timeout:?}")),
    }
}

/// Runs `op` on `bounds.concurrency` workers until `max_count` operations
/// were started or `max_duration` passed, whichever comes first.
pub async fn drive(bounds: Bounds, op: Op) -> Summary {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + bounds.max_duration;
    let workers: Vec<_> = (0..bounds.concurrency.max(1))
        .map(|worker| {
            let (issued, op) = (issued.clone(), op.clone());
            tokio::spawn(async move {
                let mut outcomes = Outcomes::default();
                let mut iteration = 0_u64;
                while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < bounds.max_count {
                    outcomes.add(run_one(&op, worker, iteration, bounds.op_timeout).await);
                    iteration += 1;
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Outcomes::default();
    for worker in workers {
        match worker.await {
            Ok(theirs) => outcomes.merge(theirs),
            Err(join) => outcomes.add(Err(format!("worker failed: {join}"))),
        }
    }
    outcomes.summary(start.elapsed())
}

/// Open loop: starts operation `i` at `i / rate` seconds (whatever the
/// answers are doing), with at most `bounds.concurrency` in flight, until
/// `max_count` operations were started or `max_duration` passed. Each
/// operation runs as the "worker" of a free in-flight slot, so no two running
/// at once share a worker's payments. An operation that could not start on
/// time (every slot busy) counts its wait in its latency, so a server falling
/// behind shows in the percentiles instead of slowing the arrivals
/// (no coordinated omission). Throughput is over the whole run, waiting for
/// the last answer included.
pub async fn drive_at_rate(bounds: Bounds, rate: f64, op: Op) -> Summary {
    let interval = Duration::from_secs_f64(1.0 / rate.max(1e-3));
    let slots = Arc::new(tokio::sync::Semaphore::new(bounds.concurrency.max(1)));
    let free = Arc::new(std::sync::Mutex::new((0..bounds.concurrency.max(1)).rev().collect::<Vec<usize>>()));
    let mut running = tokio::task::JoinSet::new();
    let start = tokio::time::Instant::now();
    let deadline = start + bounds.max_duration;
    let mut issued = 0_u64;
    while issued < bounds.max_count {
        let due = start + interval.mul_f64(issued as f64);
        if due >= deadline {
            break;
        }
        tokio::time::sleep_until(due).await;
        let Ok(permit) = slots.clone().acquire_owned().await else { break };
        let late = due.elapsed();
        let slot = free.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop().unwrap_or_default();
        let (op, free, timeout, iteration) = (op.clone(), free.clone(), bounds.op_timeout, issued);
        running.spawn(async move {
            let outcome = run_one(&op, slot, iteration, timeout).await.map(|latency| latency + late);
            free.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(slot);
            drop(permit);
            outcome
        });
        issued += 1;
    }
    let mut outcomes = Outcomes::default();
    while let Some(done) = running.join_next().await {
        outcomes.add(done.unwrap_or_else(|join| Err(format!("operation failed: {join}"))));
    }
    outcomes.summary(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let lat: Vec<_> = (1..=100).map(Duration::from_millis).collect();
        let s = Summary::new(lat, 0, Duration::from_secs(1), vec![]);
        assert_eq!((s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(s.throughput, 100.0);
        let empty = Summary::new(vec![], 2, Duration::from_secs(1), vec![]);
        assert_eq!((empty.p99_ms, empty.errors), (0.0, 2));
    }

    #[test]
    fn medians_over_runs() {
        let run = |t: f64| Summary { throughput: t, p99_ms: t / 10.0, ..Summary::default() };
        let (m, spread) = Summary::median_of(&[run(100.0), run(90.0), run(110.0)]);
        assert_eq!((m.throughput, m.p99_ms), (100.0, 10.0));
        assert!((spread - 0.2).abs() < 1e-9);
    }

    #[tokio::test]
    async fn drive_stops_at_the_count() {
        let op: Op = Arc::new(|_, _| Box::pin(async { Ok(Duration::from_micros(5)) }));
        let bounds = Bounds {
            concurrency: 4,
            max_count: 10,
            max_duration: Duration::from_secs(5),
            op_timeout: Duration::from_secs(1),
        };
        assert_eq!(drive(bounds, op).await.ops, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_loop_keeps_its_rate_and_counts_waiting_as_latency() {
        // 100 ops/s for 1 s with 2 slots; each operation takes 50 ms, so
        // the server keeps up with only 5 in flight: it does not.
        let op: Op = Arc::new(|_, _| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(Duration::from_millis(50))
            })
        });
        let bounds = Bounds {
            concurrency: 2,
            max_count: 1000,
            max_duration: Duration::from_secs(1),
            op_timeout: Duration::from_secs(60),
        };
        let s = drive_at_rate(bounds, 100.0, op.clone()).await;
        assert_eq!(s.ops, 100, "every scheduled operation ran");
        assert!(s.p99_ms > 1000.0, "the queue behind the two slots shows: {s:?}");
        let relaxed = Bounds { concurrency: 8, ..bounds };
        let s = drive_at_rate(relaxed, 100.0, op).await;
        assert_eq!(s.ops, 100);
        assert!(s.p99_ms < 60.0, "on time, latency is the operation's own: {s:?}");
    }
}
