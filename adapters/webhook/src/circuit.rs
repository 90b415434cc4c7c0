//! A circuit per receiver: a host whose recent deliveries all failed gets a
//! short attempt timeout, so a receiver that accepts connections and never
//! answers holds a delivery slot for a second, not for the whole timeout.
//!
//! After [`CircuitConfig::failures`] failed attempts in a row (anything but a
//! 2xx, as the retry schedule counts them) the circuit of that receiver is
//! open: its attempts time out after [`CircuitConfig::open_timeout`]. Any
//! attempt that succeeds closes it. So that a receiver that came back but
//! answers slower than the short timeout is not cut off for ever, an open
//! circuit lets one attempt through with the full timeout (the probe) every
//! [`CircuitConfig::probe_every`]. Nothing is skipped or rescheduled here: an
//! attempt cut short is a failed attempt like any other, and the retry
//! schedule of the job is unchanged.
//!
//! The table is bounded: at most [`CircuitConfig::max_hosts`] receivers, a
//! receiver forgotten [`CircuitConfig::forget_after`] after its last failure
//! (or at its first success), the stalest forgotten first when full.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use payments_domain::WebhookUrl;

/// A receiver: the host (lower-case, an IPv6 address without brackets) and
/// port of a webhook URL. Two ports of one host are two receivers (two
/// listening sockets, possibly two backends).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    host: String,
    port: u16,
}

impl Target {
    pub(crate) fn of(url: &WebhookUrl) -> Self {
        Self { host: url.host(), port: url.port() }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// When a receiver's circuit opens and what an open one allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitConfig {
    /// Failed attempts in a row that open a receiver's circuit (default 3).
    pub failures: u32,
    /// The attempt timeout of a receiver whose circuit is open (default 1 s;
    /// never longer than the sender's timeout).
    pub open_timeout: Duration,
    /// How often an open circuit lets one attempt through with the full
    /// timeout (default 60 s).
    pub probe_every: Duration,
    /// Receivers remembered at most (default 1024).
    pub max_hosts: usize,
    /// A receiver is forgotten this long after its last failure (default 1 h).
    pub forget_after: Duration,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        Self {
            failures: 3,
            open_timeout: Duration::from_secs(1),
            probe_every: Duration::from_secs(60),
            max_hosts: 1024,
            forget_after: Duration::from_secs(3600),
        }
    }
}

/// How one attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The circuit is closed: the full timeout.
    Full,
    /// The circuit is open and this attempt is its probe: the full timeout.
    Probe,
    /// The circuit is open: the short timeout.
    Short,
}

/// What is known of one receiver that failed lately.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Failed attempts in a row.
    failures: u32,
    last_failure: Instant,
    /// When the circuit opened or last let a probe through.
    last_probe: Instant,
}

/// The circuits of every receiver that failed lately.
#[derive(Debug, Default)]
pub(crate) struct Circuits {
    config: CircuitConfig,
    table: Mutex<HashMap<Target, Entry>>,
}

impl Circuits {
    pub(crate) fn new(config: CircuitConfig) -> Self {
        Self { config, table: Mutex::default() }
    }

    /// How the next attempt to `target` is made (at `now`).
    pub(crate) fn attempt(&self, target: &Target, now: Instant) -> Attempt {
        let mut table = self.lock();
        let Some(entry) = table.get_mut(target) else { return Attempt::Full };
        if now.saturating_duration_since(entry.last_failure) >= self.config.forget_after {
            table.remove(target);
            return Attempt::Full;
        }
        if entry.failures < self.config.failures.max(1) {
            Attempt::Full
        } else if now.saturating_duration_since(entry.last_probe) >= self.config.probe_every {
            entry.last_probe = now;
            Attempt::Probe
        } else {
            Attempt::Short
        }
    }

    /// Takes note of an attempt's result: a success closes the circuit (and
    /// forgets the receiver), a failure counts towards opening it.
    pub(crate) fn record(&self, target: &Target, succeeded: bool, now: Instant) {
        let mut table = self.lock();
        if succeeded {
            if table.remove(target).is_some_and(|e| e.failures >= self.config.failures.max(1)) {
                tracing::info!(receiver = %target, "webhook receiver answered again; its circuit is closed");
            }
            return;
        }
        if !table.contains_key(target) && table.len() >= self.config.max_hosts.max(1) {
            self.make_room(&mut table, now);
        }
        let entry = table.entry(target.clone()).or_insert(Entry { failures: 0, last_failure: now, last_probe: now });
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures == self.config.failures.max(1) {
            entry.last_probe = now;
            tracing::warn!(
                receiver = %target,
                failures = entry.failures,
                timeout_ms = self.config.open_timeout.as_millis(),
                "webhook receiver keeps failing; its circuit is open (short attempt timeout)"
            );
        }
    }

    /// The timeout of an attempt made as `attempt`, given the full one.
    pub(crate) fn timeout(&self, attempt: Attempt, full: Duration) -> Duration {
        match attempt {
            Attempt::Full | Attempt::Probe => full,
            Attempt::Short => self.config.open_timeout.min(full),
        }
    }

    /// Forgets the expired receivers, else the stalest one.
    fn make_room(&self, table: &mut HashMap<Target, Entry>, now: Instant) {
        table.retain(|_, e| now.saturating_duration_since(e.last_failure) < self.config.forget_after);
        if table.len() >= self.config.max_hosts.max(1)
            && let Some(stalest) = table.iter().min_by_key(|(_, e)| e.last_failure).map(|(t, _)| t.clone())
        {
            table.remove(&stalest);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Target, Entry>> {
        self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::of(&WebhookUrl::parse(url).unwrap())
    }

    fn config() -> CircuitConfig {
        CircuitConfig {
            failures: 3,
            open_timeout: Duration::from_secs(1),
            probe_every: Duration::from_secs(60),
            max_hosts: 4,
            forget_after: Duration::from_secs(3600),
        }
    }

    const FULL: Duration = Duration::from_secs(10);

    #[test]
    fn a_receiver_is_its_host_and_port() {
        assert_eq!(target("http://Hooks.Example.com/a"), target("http://hooks.example.com:80/b?c"));
        assert_ne!(target("http://hooks.example.com/"), target("https://hooks.example.com/"), "80 and 443");
        assert_ne!(target("http://127.0.0.1:8080/"), target("http://127.0.0.1:8081/"));
        assert_eq!(target("http://[::1]:8080/").to_string(), "[::1]:8080");
        assert_eq!(target("https://a.example/").to_string(), "a.example:443");
    }

    #[test]
    fn consecutive_failures_open_the_circuit_and_a_success_closes_it() {
        let circuits = Circuits::new(config());
        let (dead, alive) = (target("http://dead.example/"), target("http://alive.example/"));
        let t0 = Instant::now();
        for n in 0..3 {
            assert_eq!(circuits.attempt(&dead, t0), Attempt::Full, "failure {n}: still closed");
            assert_eq!(circuits.timeout(circuits.attempt(&dead, t0), FULL), FULL);
            circuits.record(&dead, false, t0);
        }
        assert_eq!(circuits.attempt(&dead, t0), Attempt::Short, "open after 3 failures in a row");
        assert_eq!(circuits.timeout(Attempt::Short, FULL), Duration::from_secs(1));
        assert_eq!(circuits.timeout(Attempt::Short, Duration::from_millis(300)), Duration::from_millis(300));
        assert_eq!(circuits.attempt(&alive, t0), Attempt::Full, "another receiver is not concerned");

        // A short attempt that succeeds closes it; failures count from zero again.
        circuits.record(&dead, true, t0);
        assert_eq!(circuits.attempt(&dead, t0), Attempt::Full);
        assert_eq!(circuits.len(), 0, "a closed circuit is forgotten");
        for _ in 0..2 {
            circuits.record(&dead, false, t0);
        }
        assert_eq!(circuits.attempt(&dead, t0), Attempt::Full, "two failures are not three");
        // A success between failures breaks the run.
        circuits.record(&dead, true, t0);
        for _ in 0..2 {
            circuits.record(&dead, false, t0);
        }
        assert_eq!(circuits.attempt(&dead, t0), Attempt::Full);
    }

    #[test]
    fn an_open_circuit_lets_one_full_probe_through_per_interval() {
        let circuits = Circuits::new(config());
        let slow = target("http://slow.example/");
        let t0 = Instant::now();
        for _ in 0..3 {
            circuits.record(&slow, false, t0);
        }
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(circuits.attempt(&slow, at(59)), Attempt::Short);
        assert_eq!(circuits.attempt(&slow, at(60)), Attempt::Probe, "a minute after it opened");
        assert_eq!(circuits.timeout(Attempt::Probe, FULL), FULL);
        assert_eq!(circuits.attempt(&slow, at(61)), Attempt::Short, "one probe per interval, even while it runs");
        circuits.record(&slow, false, at(70));
        assert_eq!(circuits.attempt(&slow, at(100)), Attempt::Short);
        assert_eq!(circuits.attempt(&slow, at(120)), Attempt::Probe);
        // The probe (slower than the short timeout) succeeds: closed.
        circuits.record(&slow, true, at(125));
        assert_eq!(circuits.attempt(&slow, at(126)), Attempt::Full);
    }

    #[test]
    fn the_table_is_bounded_and_forgets() {
        let circuits = Circuits::new(config());
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let hosts: Vec<Target> = (0..10).map(|n| target(&format!("http://h{n}.example/"))).collect();
        for (n, host) in hosts.iter().enumerate() {
            for _ in 0..3 {
                circuits.record(host, false, at(n as u64));
            }
            assert!(circuits.len() <= 4, "never more than max_hosts: {}", circuits.len());
        }
        assert_eq!(circuits.attempt(&hosts[9], at(10)), Attempt::Short, "the newest are kept");
        assert_eq!(circuits.attempt(&hosts[0], at(10)), Attempt::Full, "the stalest were forgotten");
        // An hour after its last failure a receiver starts afresh.
        assert_eq!(circuits.attempt(&hosts[8], at(8 + 3599)), Attempt::Probe);
        assert_eq!(circuits.attempt(&hosts[9], at(9 + 3600)), Attempt::Full);
        assert_eq!(circuits.len(), 3, "its entry went with it");
        // Room is made from expired entries first: full again (h6, h7, h8
        // and one more), a newcomer's arrival drops the three that expired.
        let (fresh, newcomer) = (target("http://fresh.example/"), target("http://newcomer.example/"));
        circuits.record(&fresh, false, at(3608));
        assert_eq!(circuits.len(), 4);
        circuits.record(&newcomer, false, at(3608));
        assert_eq!(circuits.len(), 2, "h6, h7 and h8 expired; fresh and the newcomer stay");
        assert_eq!(circuits.lock().get(&fresh).map(|e| e.failures), Some(1));
    }
}
