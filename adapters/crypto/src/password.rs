use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, Salt, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use payments_application::ports::{HasherBusy, PasswordHasher};
use payments_domain::{Password, PasswordHash};
use tokio::sync::Semaphore;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP's recommendation: m = 19 MiB, t = 2, p = 1.
    pub const OWASP: Argon2Params = Argon2Params { memory_kib: 19_456, iterations: 2, parallelism: 1 };
    /// Cheap parameters for tests only.
    pub const TEST: Argon2Params = Argon2Params { memory_kib: 256, iterations: 1, parallelism: 1 };
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// argon2id hashing on `max_parallel` dedicated threads, off the async
/// executor. At most `max_parallel` hashes run at once (each holds
/// `memory_kib` of memory), so a burst of requests queues instead of
/// exhausting memory or starving the executor.
///
/// Dedicated threads rather than tokio's blocking pool: every thread that
/// hashes keeps the freed argon2 memory in its own malloc arena, and the
/// blocking pool hands the work to whichever of its (up to hundreds of)
/// threads is idle, so the resident set grew to one block per thread ever
/// used (~900 MiB under load instead of `max_parallel` x 19 MiB).
#[derive(Clone)]
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    pool: Arc<HashPool>,
    max_parallel: usize,
    /// Most hashes waiting for a thread; more fail at once with `HasherBusy`.
    max_queue: usize,
    waiting: Arc<AtomicUsize>,
    observer: Option<HashObserver>,
}

/// Told the time each hash took on its thread, queue wait excluded (`true`
/// for a verification, `false` for a new hash).
pub type HashObserver = Arc<dyn Fn(bool, Duration) + Send + Sync>;

/// How busy the hashing threads are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HasherLoad {
    /// Hashes waiting for a thread.
    pub waiting: usize,
    /// Hashes handed to a thread (running, or about to).
    pub running: usize,
}

/// Counts one hash as waiting until dropped (also when its request is).
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads; they end when the last hasher clone is dropped.
struct HashPool {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl HashPool {
    fn new(threads: usize) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(Self { jobs: Mutex::new(Some(tx)) })
    }

    fn submit(&self, job: Job) -> anyhow::Result<()> {
        let jobs = self.jobs.lock().map_err(|_| anyhow::anyhow!("argon2 pool poisoned"))?;
        jobs.as_ref()
            .ok_or_else(|| anyhow::anyhow!("argon2 pool stopped"))?
            .send(job)
            .map_err(|_| anyhow::anyhow!("argon2 pool stopped"))
    }
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hasher").field("params", self.argon2.params()).finish_non_exhaustive()
    }
}

impl Argon2Hasher {
    /// # Errors
    /// When the parameters are outside argon2's limits.
    pub fn new(params: Argon2Params, max_parallel: usize) -> anyhow::Result<Self> {
        let params = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        let max_parallel = max_parallel.max(1);
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            permits: Arc::new(Semaphore::new(max_parallel)),
            pool: Arc::new(HashPool::new(max_parallel)?),
            max_parallel,
            max_queue: usize::MAX,
            waiting: Arc::new(AtomicUsize::new(0)),
            observer: None,
        })
    }

    /// Lets at most `max_queue` hashes wait for a thread: the next ones fail
    /// at once with [`HasherBusy`] (a 503), so a flood of password checks
    /// cannot make every legitimate request wait behind it.
    #[must_use]
    pub fn with_max_queue(mut self, max_queue: usize) -> Self {
        self.max_queue = max_queue;
        self
    }

    /// Tells `observer` the time of every hash (for the metrics).
    #[must_use]
    pub fn with_observer(mut self, observer: HashObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// How many hashes wait for a thread and how many run, now.
    pub fn load(&self) -> HasherLoad {
        HasherLoad {
            waiting: self.waiting.load(Ordering::Relaxed),
            running: self.max_parallel.saturating_sub(self.permits.available_permits()),
        }
    }

    /// Hashes synchronously (for benchmarks measuring one hash on one core).
    ///
    /// # Errors
    /// Only on an internal argon2 failure.
    pub fn hash_blocking(&self, password: &str) -> anyhow::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        let phc = phc_with_reused_memory(&self.argon2, password.as_bytes(), salt.as_salt())
            .map_err(|e| anyhow::anyhow!("argon2 hash failed: {e}"))?;
        Ok(phc.to_string())
    }

    /// Verifies synchronously, in constant time with respect to the password.
    ///
    /// # Errors
    /// When `phc` is not a PHC string.
    pub fn verify_blocking(&self, password: &str, phc: &str) -> anyhow::Result<bool> {
        let parsed = argon2::PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("unreadable password hash: {e}"))?;
        // The parameters stored in the hash are used, so hashes made under
        // older parameters keep verifying after the configuration changes.
        let unreadable = |e: argon2::password_hash::Error| anyhow::anyhow!("password verification failed: {e}");
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(anyhow::anyhow!("unreadable password hash: no salt or no hash"));
        };
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(unreadable)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|e| anyhow::anyhow!("unreadable password hash: {e}"))?
            .unwrap_or_default();
        let params = Params::try_from(&parsed).map_err(unreadable)?;
        let argon2 = Argon2::new(algorithm, version, params);
        let computed = phc_with_reused_memory(&argon2, password.as_bytes(), salt).map_err(unreadable)?;
        // `Output`'s equality is constant-time.
        Ok(computed.hash.is_some_and(|computed| computed == expected))
    }

    async fn off_executor<T: Send + 'static>(
        &self,
        verify: bool,
        work: impl FnOnce(&Argon2Hasher) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let waiting = Waiting::new(&self.waiting);
                if self.waiting.load(Ordering::Relaxed) > self.max_queue {
                    return Err(HasherBusy.into());
                }
                let permit = self.permits.clone().acquire_owned().await?;
                drop(waiting);
                permit
            }
        };
        let this = self.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.submit(Box::new(move || {
            let started = Instant::now();
            let result = work(&this);
            // Released before the answer, so a caller that has it sees the thread free.
            drop(permit);
            if let Some(observer) = &this.observer {
                observer(verify, started.elapsed());
            }
            let _ = tx.send(result);
        }))?;
        rx.await.map_err(|_| anyhow::anyhow!("argon2 thread failed"))?
    }
}

thread_local! {
    /// The argon2 memory of this thread, kept between hashes: allocating (and
    /// faulting in) 19 MiB per hash cost time, and the freed blocks were not
    /// reused by malloc but fragmented, so the resident set grew to hundreds
    /// of MiB. Only the `max_parallel` hashing threads hold one.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Hashes into this thread's reused memory and returns the PHC hash (as
/// argon2's own `hash_password` builds it).
fn phc_with_reused_memory<'a>(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: Salt<'a>,
) -> argon2::password_hash::Result<argon2::PasswordHash<'a>> {
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let params = argon2.params();
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = Output::init_with(output_len, |out| {
        MEMORY.with(|memory| {
            let mut memory = memory.borrow_mut();
            if memory.len() < params.block_count() {
                memory.resize(params.block_count(), Block::default());
            }
            let blocks = &mut memory[..params.block_count()];
            Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, blocks)?)
        })
    })?;
    Ok(argon2::PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(salt),
        hash: Some(output),
    })
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> anyhow::Result<PasswordHash> {
        let password = password.expose().to_owned();
        let phc = self.off_executor(false, move |h| h.hash_blocking(&password)).await?;
        Ok(PasswordHash::parse(phc)?)
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> anyhow::Result<bool> {
        let (password, phc) = (password.expose().to_owned(), hash.as_str().to_owned());
        self.off_executor(true, move |h| h.verify_blocking(&password, &phc)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_argon2id_and_verifies() {
        let hasher = Argon2Hasher::new(Argon2Params::TEST, 2).unwrap();
        let password = Password::parse("some-password").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert!(!hash.as_str().contains("some-password"));
        assert!(hasher.verify(&password, &hash).await.unwrap());
        assert!(!hasher.verify(&Password::parse("other").unwrap(), &hash).await.unwrap());
        let again = hasher.hash(&password).await.unwrap();
        assert_ne!(hash, again, "a fresh salt per hash");
    }

    #[test]
    fn hashes_are_interchangeable_with_argon2s_own() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = Argon2Hasher::new(Argon2Params::TEST, 1).unwrap();
        let ours = hasher.hash_blocking("pw").unwrap();
        let parsed = argon2::PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"other", &parsed).is_err());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default().hash_password(b"pw", &salt).unwrap().to_string();
        assert!(hasher.verify_blocking("pw", &theirs).unwrap());
        assert!(!hasher.verify_blocking("other", &theirs).unwrap());
    }

    #[tokio::test]
    async fn hashes_made_under_other_parameters_still_verify() {
        let old = Argon2Hasher::new(Argon2Params { memory_kib: 512, iterations: 2, parallelism: 1 }, 1).unwrap();
        let new = Argon2Hasher::new(Argon2Params::TEST, 1).unwrap();
        let password = Password::parse("p").unwrap();
        let hash = old.hash(&password).await.unwrap();
        assert!(new.verify(&password, &hash).await.unwrap());
    }

    #[tokio::test]
    async fn unreadable_hashes_are_errors_not_mismatches() {
        let hasher = Argon2Hasher::new(Argon2Params::TEST, 1).unwrap();
        let bogus = PasswordHash::parse("$bogus$").unwrap();
        assert!(hasher.verify(&Password::parse("p").unwrap(), &bogus).await.is_err());
        assert!(Argon2Hasher::new(Argon2Params { memory_kib: 1, iterations: 0, parallelism: 1 }, 1).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn load_and_hash_times_are_reported() {
        let times = Arc::new(Mutex::new(Vec::new()));
        let seen = times.clone();
        let hasher = Argon2Hasher::new(Argon2Params::TEST, 1)
            .unwrap()
            .with_observer(Arc::new(move |verify, took| seen.lock().unwrap().push((verify, took))));
        assert_eq!(hasher.load(), HasherLoad::default());
        let password = Password::parse("p").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hasher.verify(&password, &hash).await.unwrap());
        let kinds: Vec<bool> = times.lock().unwrap().iter().map(|(verify, _)| *verify).collect();
        assert_eq!(kinds, [false, true]);
        // One thread: while a slow hash holds it, the next ones wait.
        let slow = Argon2Hasher::new(Argon2Params { memory_kib: 8192, iterations: 4, parallelism: 1 }, 1).unwrap();
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let (slow, password) = (slow.clone(), password.clone());
                tokio::spawn(async move { slow.hash(&password).await.unwrap() })
            })
            .collect();
        let mut peak = HasherLoad::default();
        while !tasks.iter().all(tokio::task::JoinHandle::is_finished) {
            let load = slow.load();
            peak = HasherLoad { waiting: peak.waiting.max(load.waiting), running: peak.running.max(load.running) };
            tokio::task::yield_now().await;
        }
        assert_eq!(peak.running, 1, "{peak:?}");
        assert!(peak.waiting >= 1, "{peak:?}");
        assert_eq!(slow.load(), HasherLoad::default());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once() {
        let slow = Argon2Hasher::new(Argon2Params { memory_kib: 8192, iterations: 8, parallelism: 1 }, 1)
            .unwrap()
            .with_max_queue(2);
        let password = Password::parse("p").unwrap();
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (slow, password) = (slow.clone(), password.clone());
                tokio::spawn(async move { slow.hash(&password).await.map_err(|e| e.is::<HasherBusy>()) })
            })
            .collect();
        let mut done = 0;
        let mut busy = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => done += 1,
                Err(true) => busy += 1,
                Err(false) => panic!("another failure"),
            }
        }
        // One running and at most two waiting at any time: most were refused.
        assert!(done >= 1 && busy >= 1, "done {done}, busy {busy}");
        assert_eq!(done + busy, 12);
        assert_eq!(slow.load(), HasherLoad::default(), "nothing left counted");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_hashes_complete() {
        let hasher = Argon2Hasher::new(Argon2Params::TEST, 2).unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    let p = Password::parse(format!("p{i}")).unwrap();
                    let h = hasher.hash(&p).await.unwrap();
                    hasher.verify(&p, &h).await.unwrap()
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
    }
}
