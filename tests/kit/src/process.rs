//! The `payments` binary as a child process: started with exactly the
//! environment a test gives, its output kept for the test's messages, its
//! addresses read from the line `payments serve` prints once it listens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a server may take to say it listens.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// The `payments` binary of this workspace, built when needed (`cargo build
/// -p payments --bin payments`: quick when the tests' build already made it).
/// A crate's own tests pass `env!("CARGO_BIN_EXE_payments")` instead.
///
/// # Errors
/// When cargo fails.
pub fn payments_binary() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", "payments", "--bin", "payments"])
        .current_dir(&root)
        .status()
        .context("cannot run cargo build -p payments")?;
    anyhow::ensure!(status.success(), "cargo build -p payments failed");
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    let binary = target.join("debug").join("payments");
    anyhow::ensure!(binary.exists(), "{} is missing after the build", binary.display());
    Ok(binary)
}

/// `binary ARGS` in `dir` with exactly `env` (nothing inherited but `PATH`),
/// output piped, killed when dropped.
pub fn command(binary: &Path, dir: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A finished command: its status and output.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `binary ARGS` to completion within 60 s.
///
/// # Panics
/// When it cannot start or does not finish in time.
pub async fn run(binary: &Path, dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let child = command(binary, dir, env, args).spawn().expect("spawn payments");
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("payments {args:?} did not finish within 60 s"))
        .expect("the output of payments");
    Output {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A `payments serve` child process. Dropping it kills the process.
pub struct ServerProcess {
    child: Child,
    pub pid: u32,
    /// The API's base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The fakes it started in local mode, by vendor code (`toss.payments` ->
    /// `http://127.0.0.1:PORT`).
    pub fakes: HashMap<String, String>,
    /// From the spawn to the listening line.
    pub startup: Duration,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

/// Keeps every byte of `stream` in `sink` (as written: a log test looks for
/// bytes a line reader would hide) and sends each complete line to `lines`.
fn collect<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    mut stream: R,
    sink: Arc<Mutex<Vec<u8>>>,
    lines: Option<mpsc::UnboundedSender<String>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut chunk = [0u8; 8192];
        let mut line = Vec::new();
        while let Ok(read) = stream.read(&mut chunk).await {
            if read == 0 {
                break;
            }
            let bytes = &chunk[..read];
            if let Ok(mut sink) = sink.lock() {
                sink.extend_from_slice(bytes);
            }
            if let Some(lines) = &lines {
                for &byte in bytes {
                    if byte == b'\n' {
                        let _ = lines.send(String::from_utf8_lossy(&line).trim_end_matches('\r').to_owned());
                        line.clear();
                    } else {
                        line.push(byte);
                    }
                }
            }
        }
    })
}

/// `payments listening on URL (fake CODE URL, ...)` -> the URL and the
/// fakes; `fake Toss Payments listening on URL` (a `payments fake-*`) -> the URL.
fn parse_listening(line: &str) -> Option<(String, HashMap<String, String>)> {
    let Some(rest) = line.strip_prefix("payments listening on ") else {
        let (_, url) = line.split_once(" listening on ")?;
        return Some((url.trim().to_owned(), HashMap::new()));
    };
    let (url, fakes) = match rest.split_once(" (") {
        Some((url, fakes)) => (url, fakes.trim_end_matches(')')),
        None => (rest, ""),
    };
    let fakes = fakes
        .split(", ")
        .filter_map(|part| part.strip_prefix("fake ")?.split_once(' '))
        .map(|(code, url)| (code.to_owned(), url.to_owned()))
        .collect();
    Some((url.trim().to_owned(), fakes))
}

impl ServerProcess {
    /// Starts `binary serve` in `dir` with `env` and waits for its listening line.
    ///
    /// # Panics
    /// When it exits or does not listen within [`START_DEADLINE`] (with its output).
    pub async fn start(binary: &Path, dir: &Path, env: &[(String, String)]) -> Self {
        Self::spawn(binary, dir, env, &["serve"]).await
    }

    /// Starts `binary ARGS` (`serve`, or a `fake-*` server) and waits for
    /// the line it prints once it listens (`... listening on URL`).
    ///
    /// # Panics
    /// As [`ServerProcess::start`].
    pub async fn spawn(binary: &Path, dir: &Path, env: &[(String, String)], args: &[&str]) -> Self {
        let spawned = Instant::now();
        let mut child = command(binary, dir, env, args).spawn().expect("spawn payments");
        let pid = child.id().expect("a running child has a pid");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (lines_tx, mut lines) = mpsc::unbounded_channel();
        let readers = vec![
            collect(child.stdout.take().expect("piped stdout"), stdout.clone(), Some(lines_tx)),
            collect(child.stderr.take().expect("piped stderr"), stderr.clone(), None),
        ];
        let listening = tokio::time::timeout(START_DEADLINE, async {
            while let Some(line) = lines.recv().await {
                if let Some(parsed) = parse_listening(&line) {
                    return Some(parsed);
                }
            }
            None
        })
        .await;
        let mut server = Self {
            child,
            pid,
            url: String::new(),
            fakes: HashMap::new(),
            startup: spawned.elapsed(),
            stdout,
            stderr,
            readers,
        };
        match listening {
            Ok(Some((url, fakes))) => {
                server.url = url;
                server.fakes = fakes;
                server
            }
            Ok(None) => {
                let status = server.wait_exit(Duration::from_secs(10)).await;
                panic!("payments {args:?} exited ({status}) without listening:\n{}", server.logs());
            }
            Err(_) => panic!("payments {args:?} did not listen within {START_DEADLINE:?}:\n{}", server.logs()),
        }
    }

    /// The URL of the fake of `code` (`iamport`, `toss.payments`, `portone`) it started.
    pub fn fake(&self, code: &str) -> Option<&str> {
        self.fakes.get(code).map(String::as_str)
    }

    /// SIGTERM.
    pub fn terminate(&self) {
        signal(self.pid, "TERM");
    }

    /// SIGINT, as ctrl-c in a terminal.
    pub fn interrupt(&self) {
        signal(self.pid, "INT");
    }

    /// SIGKILL, and waits for the process to be gone; how it ended.
    ///
    /// # Panics
    /// When it is not reaped within 10 s.
    pub async fn kill(&mut self) -> ExitStatus {
        let _ = self.child.start_kill();
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(status)) => status,
            _ => panic!("the killed process {} was not reaped within 10 s", self.pid),
        }
    }

    /// Waits (bounded) for the process to exit, then for its output to be read.
    ///
    /// # Panics
    /// When it does not exit within `deadline` (with its output).
    pub async fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let status = match tokio::time::timeout(deadline, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(error)) => panic!("payments could not be waited for: {error}"),
            Err(_) => panic!("payments did not exit within {deadline:?}:\n{}", self.logs()),
        };
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        status
    }

    /// Standard output and standard error so far.
    pub fn logs(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }

    /// Standard output so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().map(|s| s.clone()).unwrap_or_default()).into_owned()
    }

    /// Standard error so far (where the logs go).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr_bytes()).into_owned()
    }

    /// Standard error so far, every byte as written.
    pub fn stderr_bytes(&self) -> Vec<u8> {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Sends signal `name` (`TERM`, `INT`, `KILL`) to `pid`.
///
/// # Panics
/// When `kill` cannot be run.
pub fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("the kill command");
    assert!(status.success(), "kill -{name} {pid} failed");
}

#[cfg(test)]
mod tests {
    use super::parse_listening;

    #[test]
    fn the_listening_line_names_the_api_and_each_fake() {
        let (url, fakes) = parse_listening(
            "payments listening on http://127.0.0.1:1 (fake iamport http://127.0.0.1:2, fake toss.payments http://127.0.0.1:3)",
        )
        .expect("a listening line");
        assert_eq!(url, "http://127.0.0.1:1");
        assert_eq!(fakes.get("iamport").map(String::as_str), Some("http://127.0.0.1:2"));
        assert_eq!(fakes.get("toss.payments").map(String::as_str), Some("http://127.0.0.1:3"));
        let (url, fakes) = parse_listening("payments listening on http://127.0.0.1:4").expect("without fakes");
        assert_eq!((url.as_str(), fakes.len()), ("http://127.0.0.1:4", 0));
        let (url, _) = parse_listening("fake Toss Payments listening on http://127.0.0.1:5").expect("a fake's line");
        assert_eq!(url, "http://127.0.0.1:5");
        assert!(parse_listening("something else").is_none());
    }
}
