//! What `/monitors/system` and `/monitors/performance` report.

use std::time::Instant;

use payments_domain::Timestamp;
use payments_wire::{CommitBody, CpuBody, MemoryBody, PackageBody, SystemBody};

/// Who this process is: fixed at start.
#[derive(Debug, Clone)]
pub struct SystemInfo {
    uid: uuid::Uuid,
    arguments: Vec<String>,
    name: String,
    version: String,
    commit: Option<String>,
    started_at: Timestamp,
    started: Instant,
}

impl SystemInfo {
    /// This process, started now: a random id, its command line, and the
    /// package (`name`, `version`) and git `commit` the binary was built from.
    pub fn new(name: impl Into<String>, version: impl Into<String>, commit: Option<String>) -> Self {
        Self {
            uid: uuid::Uuid::new_v4(),
            arguments: std::env::args().collect(),
            name: name.into(),
            version: version.into(),
            commit: commit.filter(|c| !c.trim().is_empty()),
            started_at: payments_domain::to_millis(chrono::Utc::now()),
            started: Instant::now(),
        }
    }

    /// The body of `/monitors/system`.
    pub fn body(&self) -> SystemBody {
        SystemBody {
            uid: self.uid,
            arguments: self.arguments.clone(),
            package: PackageBody { name: self.name.clone(), version: self.version.clone() },
            commit: self.commit.clone().map(|hash| CommitBody { hash }),
            created_at: self.started_at.into(),
        }
    }

    /// Whole seconds since start.
    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on
/// every Linux architecture in practice).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time from `/proc/self/stat`, or `None` where there is no procfs.
pub(crate) async fn cpu_usage() -> Option<CpuBody> {
    let stat = tokio::fs::read_to_string("/proc/self/stat").await.ok()?;
    parse_stat(&stat)
}

fn parse_stat(stat: &str) -> Option<CpuBody> {
    // The command name (field 2) may hold spaces; fields after its ')' are plain.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let to_micros = |t: u64| t.saturating_mul(1_000_000 / TICKS_PER_SECOND);
    Some(CpuBody { user: to_micros(ticks(11)?), system: to_micros(ticks(12)?) })
}

/// Memory from `/proc/self/status`, or `None` where there is no procfs.
pub(crate) async fn memory_usage() -> Option<MemoryBody> {
    let status = tokio::fs::read_to_string("/proc/self/status").await.ok()?;
    parse_status(&status)
}

fn parse_status(status: &str) -> Option<MemoryBody> {
    let kib = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|k| k.saturating_mul(1024))
    };
    Some(MemoryBody {
        rss: kib("VmRSS:")?,
        rss_peak: kib("VmHWM:").unwrap_or(0),
        virtual_size: kib("VmSize:").unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_formats() {
        let stat = "1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 30 0 0";
        assert_eq!(parse_stat(stat), Some(CpuBody { user: 2_500_000, system: 300_000 }));
        let status = "Name:\tx\nVmSize:\t  2000 kB\nVmHWM:\t 300 kB\nVmRSS:\t  256 kB\n";
        assert_eq!(
            parse_status(status),
            Some(MemoryBody { rss: 256 * 1024, rss_peak: 300 * 1024, virtual_size: 2000 * 1024 })
        );
        assert_eq!(parse_status("Name: x"), None);
    }
}
