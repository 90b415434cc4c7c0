//! Spawning the server binary on free loopback ports, timing its start-up,
//! reading its memory from /proc, and stopping it with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::Connection;
use tokio::process::{Child, Command};

/// A server process this tool started.
pub struct Spawned {
    child: Child,
    /// The fake Toss, its own process (stopped with the server).
    fake_toss: Child,
    pub pid: u32,
    pub api: String,
    pub toss: String,
    /// From the spawn to the first 200 of `/monitors/health`.
    pub startup: Duration,
    pub log: PathBuf,
}

/// What to start.
pub struct SpawnSpec<'a> {
    pub binary: &'a Path,
    pub database_url: &'a str,
    pub workdir: &'a Path,
    /// Extra `PAYMENT_*` variables (keys, argon2 parameters...).
    pub env: Vec<(String, String)>,
}

/// A free port on 127.0.0.1 (bound, read, released).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Drops and re-creates the database named in a `postgres://` URL, through
/// the `postgres` maintenance database of the same server.
///
/// # Errors
/// An unreachable server or a refused statement.
pub async fn fresh_postgres(url: &str) -> anyhow::Result<()> {
    let mut parsed = url::Url::parse(url).context("PostgreSQL URL")?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("the benchmark database name must be [A-Za-z0-9_]+, got {name:?}");
    }
    parsed.set_path("/postgres");
    let mut admin =
        sqlx::PgConnection::connect(parsed.as_str()).await.context("connecting to the postgres database")?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
    admin.close().await?;
    Ok(())
}

impl Spawned {
    /// Starts the fake Toss as its own process (`payments fake-toss`: its
    /// work, and its webhooks, are not charged to the server's CPU), then
    /// `payments serve` pointed at it, and waits (bounded) for the server's
    /// first healthy answer.
    ///
    /// # Errors
    /// When either exits or is not ready within 30 s.
    pub async fn start(spec: SpawnSpec<'_>, http: &reqwest::Client) -> anyhow::Result<Self> {
        let (api_port, toss_port) = (free_port()?, free_port()?);
        let log = spec.workdir.join("server.log");
        let log_file = std::fs::File::create(&log)?;
        let binary =
            std::fs::canonicalize(spec.binary).with_context(|| format!("server binary {}", spec.binary.display()))?;
        let toss_log = std::fs::File::create(spec.workdir.join("fake-toss.log"))?;
        let fake_toss = Command::new(&binary)
            .args(["fake-toss", "--port", &toss_port.to_string(), "--webhook-url"])
            .arg(format!("http://127.0.0.1:{api_port}/payments/webhooks/toss"))
            .current_dir(spec.workdir)
            .stdin(Stdio::null())
            .stdout(toss_log.try_clone()?)
            .stderr(toss_log)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start payments fake-toss")?;
        let toss = format!("http://127.0.0.1:{toss_port}");
        let until = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", toss_port)).await.is_err() {
            if Instant::now() > until {
                bail!("the fake Toss did not listen within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut command = Command::new(&binary);
        command
            .arg("serve")
            .current_dir(spec.workdir)
            .env("PAYMENT_MODE", "local")
            .env("PAYMENT_API_HOST", "127.0.0.1")
            .env("PAYMENT_API_PORT", api_port.to_string())
            .env("PAYMENT_METRICS_ADDR", "127.0.0.1:0")
            .env("PAYMENT_ADMIN_ADDR", "127.0.0.1:0")
            // Local mode's own fakes, idle: Toss is the process above.
            .env("PAYMENT_FAKE_IAMPORT_PORT", "0")
            .env("PAYMENT_FAKE_TOSS_PORT", "0")
            .env("PAYMENT_FAKE_PORTONE_PORT", "0")
            .env("PAYMENT_TOSS_URL", &toss)
            // The bound on the PG reads unsigned notifications may trigger
            // (50 a second by default: issue 36) is a policy, not the
            // capacity this tool measures; the webhook scenario would read it.
            .env("PAYMENT_NOTIFICATION_READS_PER_SEC", "100000")
            .env("PAYMENT_DATABASE_URL", spec.database_url)
            .env("PAYMENT_LOG", "warn")
            .envs(spec.env)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        let api = format!("http://127.0.0.1:{api_port}");
        let health = format!("{api}/monitors/health");
        let spawned_at = Instant::now();
        let mut child = command.spawn().with_context(|| format!("cannot start {}", spec.binary.display()))?;
        let pid = child.id().context("the server exited at once")?;
        loop {
            if let Ok(response) = http.get(&health).timeout(Duration::from_secs(1)).send().await
                && response.status().as_u16() == 200
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!("the server exited ({status}) during start-up; see {}", log.display());
            }
            if spawned_at.elapsed() > Duration::from_secs(30) {
                bail!("the server was not healthy within 30 s; see {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let startup = spawned_at.elapsed();
        Ok(Self { child, fake_toss, pid, api, toss, startup, log })
    }

    /// SIGTERM, then wait (bounded) for the exit; the time it took.
    ///
    /// # Errors
    /// When it had to be killed.
    pub async fn stop(mut self) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let _ = Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status().await;
        let stopped = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        let _ = self.fake_toss.kill().await;
        match stopped {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("the server exited with {status} after SIGTERM; see {}", self.log.display());
                }
                Ok(start.elapsed())
            }
            Err(_) => {
                let _ = self.child.kill().await;
                bail!("the server did not stop within 20 s of SIGTERM; killed")
            }
        }
    }
}

/// Memory of a process from /proc/<pid>/status.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Memory {
    /// VmRSS, bytes.
    pub rss: u64,
    /// VmHWM (peak RSS since start or the last reset), bytes.
    pub peak: u64,
}

/// Reads VmRSS and VmHWM of `pid`.
pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?;
            let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kib * 1024)
        })
    };
    Some(Memory { rss: field("VmRSS:")?, peak: field("VmHWM:")? })
}

/// Resets the peak RSS of `pid` to its current RSS (`clear_refs` 5), so each
/// scenario reports its own peak. False when the kernel refused.
pub fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The CPU time `pid` has used so far: user + system, of every thread it has
/// or had (`/proc/<pid>/stat` counts ended threads too).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = cpu_ticks(&stat)?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64))
}

/// The CPU time the server's argon2 threads have used so far: the hashing
/// itself, read per thread (`/proc/<pid>/task/*/stat` of the threads named
/// `argon2-N`, which live as long as the server), so that the CPU past
/// argon2 is measured rather than a separately timed hash subtracted.
/// `None` when the process has no such thread (an older server, or one
/// whose hasher runs elsewhere).
pub fn argon2_cpu_time(pid: u32) -> Option<Duration> {
    let mut ticks = 0;
    let mut found = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        // A thread that ended meanwhile has no stat to read: skipped.
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        if thread_name(&stat).is_some_and(|name| name.starts_with("argon2-")) {
            ticks += cpu_ticks(&stat)?;
            found = true;
        }
    }
    found.then(|| Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64))
}

/// The command name of a `/proc/.../stat` line (field 2, between the first
/// `(` and the last `)`).
fn thread_name(stat: &str) -> Option<&str> {
    stat.get(stat.find('(')? + 1..stat.rfind(')')?)
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in clock ticks. The command
/// name (field 2) is in parentheses and may hold spaces and parentheses
/// itself: fields are counted after its last `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The kernel's clock ticks a second for process times (`getconf CLK_TCK`;
/// 100 on Linux's usual ABIs when it cannot be asked).
fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|ticks| *ticks > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_utime_plus_stime_whatever_the_command_name_holds() {
        let stat = "4242 (payments (x) y) S 1 4242 4242 0 -1 4194560 5000 0 0 0 731 269 0 0 20 0 9 0 100 1 1";
        assert_eq!(cpu_ticks(stat), Some(731 + 269));
        assert_eq!(cpu_ticks("4242 (short) S 1"), None, "too few fields");
        assert_eq!(cpu_ticks("no parenthesis at all"), None);
    }

    #[test]
    fn the_argon2_threads_cpu_is_read_per_thread() {
        assert_eq!(thread_name("4242 (argon2-0) S 1"), Some("argon2-0"));
        assert_eq!(thread_name("4242 (payments (x) y) S 1"), Some("payments (x) y"));
        assert_eq!(thread_name("no parenthesis"), None);
        // A thread named as the server names its hashers, busy for a while.
        let worker = std::thread::Builder::new()
            .name("argon2-test".into())
            .spawn(|| {
                let until = std::time::Instant::now() + Duration::from_millis(60);
                let mut spin = 0u64;
                while std::time::Instant::now() < until {
                    spin = spin.wrapping_add(1);
                }
                let spent = argon2_cpu_time(std::process::id());
                (spin, spent)
            })
            .unwrap();
        let (spin, spent) = worker.join().unwrap();
        assert!(spin > 0);
        let spent = spent.expect("the thread is found by its name");
        assert!(spent <= cpu_time(std::process::id()).unwrap(), "a thread's CPU is part of its process's");
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let spent = cpu_time(std::process::id()).expect("/proc/self is readable");
        let busy = (0..2_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b));
        assert!(busy > 0);
        assert!(cpu_time(std::process::id()).unwrap() >= spent, "monotonic");
    }
}
