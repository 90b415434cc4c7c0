//! A PG notification is answered 200 only once it is durable. When the
//! database cannot take it (down, locked, slower than its budget), it goes to
//! this instance's spool instead: an append-only local file, one sealed record
//! per line, each written and `fsync`ed before the PG is answered. The inbox
//! worker moves spooled records into the database once it answers again, each
//! under its id (the one row of its vendor and target), so a record the
//! database did take late (a timed-out insert that still committed) or one
//! moved twice (a crash between the move and the file's removal) is stored
//! once.
//!
//! Bounded: past `max_bytes` waiting, a notification is refused (503: the PG
//! sends it again). One process owns a spool at a time (a lock file).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use payments_application::commands::PgNotification;
use payments_application::ports::{InboxItem, InboxOutcome, LeaseToken, NotificationInbox, RepositoryError};
use payments_crypto::Keyring;
use payments_domain::{Timestamp, VendorCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A notification sealed for storage, as a row of the inbox or a spool record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SealedNotification {
    pub id: Uuid,
    pub vendor: VendorCode,
    /// Sealed with the histories keyring, bound to `id` (as in the table).
    pub body: String,
    pub received_at: Timestamp,
    /// About a payment registered here (claimed first).
    pub known: bool,
}

/// `now + lease_for`, saturating.
pub(crate) fn until(now: Timestamp, lease_for: Duration) -> Timestamp {
    let lease_for = chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX);
    now.checked_add_signed(lease_for).unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// The inbox row of `notice`, received `now`, under its
/// [`inbox_id`](PgNotification::inbox_id).
///
/// # Errors
/// `Other` when it does not serialise.
pub(crate) fn sealed_row<S: SealedInbox + ?Sized>(
    store: &S,
    notice: &PgNotification,
    now: Timestamp,
    known: bool,
) -> Result<SealedNotification, RepositoryError> {
    let id = notice.inbox_id();
    let body = store.seal(id, notice)?;
    Ok(SealedNotification { id, vendor: notice.vendor, body, received_at: now, known })
}

/// The inbox table's side of the spool (one implementation per backend).
#[async_trait]
pub(crate) trait SealedInbox: NotificationInbox {
    /// Seals `notice` for the row `id`.
    ///
    /// # Errors
    /// `Other` when it does not serialise.
    fn seal(&self, id: Uuid, notice: &PgNotification) -> Result<String, RepositoryError>;

    /// Stores `row`, due at `due_at`, or refreshes the row stored under its
    /// id (as [`NotificationInbox::enqueue`] says).
    ///
    /// # Errors
    /// `Unavailable` when the database is down.
    async fn upsert(&self, row: &SealedNotification, due_at: Timestamp) -> Result<(), RepositoryError>;
}

/// Where a spool lives and how much it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The file records are appended to; `<path>.draining` (records being
    /// moved) and `<path>.lock` sit beside it.
    pub path: PathBuf,
    /// The most bytes waiting (appended and being moved) before a
    /// notification is refused.
    pub max_bytes: u64,
    /// How long the database may take to store a notification before it is
    /// spooled instead.
    pub database_budget: Duration,
}

/// Why the spool could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0} is in use by another process (each instance needs a spool of its own)")]
    InUse(String),
    #[error("the spool is full ({0} bytes waiting)")]
    Full(u64),
    #[error("a record does not serialise: {0}")]
    Record(serde_json::Error),
}

/// One line of the spool.
#[derive(Serialize, Deserialize)]
struct Record {
    id: Uuid,
    vendor: String,
    received_at_ms: i64,
    body: String,
    /// About a payment registered here (absent from records of before).
    #[serde(default)]
    known: bool,
}

impl Record {
    fn of(row: &SealedNotification) -> Self {
        Self {
            id: row.id,
            vendor: row.vendor.as_str().to_owned(),
            received_at_ms: row.received_at.timestamp_millis(),
            body: row.body.clone(),
            known: row.known,
        }
    }

    fn into_row(self) -> Option<SealedNotification> {
        Some(SealedNotification {
            id: self.id,
            vendor: self.vendor.parse().ok()?,
            body: self.body,
            received_at: chrono::DateTime::from_timestamp_millis(self.received_at_ms)?,
            known: self.known,
        })
    }
}

/// The files, under one lock.
struct Files {
    active: File,
    /// Bytes in the active file (all whole lines).
    active_bytes: u64,
    /// Bytes in `<path>.draining`; 0 when there is none.
    draining_bytes: u64,
}

struct Shared {
    path: PathBuf,
    draining: PathBuf,
    max_bytes: u64,
    files: Mutex<Files>,
    /// Held for the process's life: one owner per spool.
    _owner: File,
}

/// The local spool of PG notifications the database could not take.
#[derive(Clone)]
pub struct Spool {
    shared: Arc<Shared>,
    /// One move into the database at a time.
    moving: Arc<tokio::sync::Mutex<()>>,
    database_budget: Duration,
}

fn io_at(path: &Path) -> impl Fn(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.display().to_string(), source }
}

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true).read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Makes a rename or removal in `path`'s directory durable.
fn sync_directory(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Cuts a torn last line (a write a crash interrupted, never acknowledged).
fn whole_lines(file: &mut File, path: &Path) -> Result<u64, SpoolError> {
    let mut content = Vec::new();
    file.read_to_end(&mut content).map_err(io_at(path))?;
    let whole = content.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) as u64;
    if whole != content.len() as u64 {
        tracing::warn!(path = %path.display(), torn = content.len() as u64 - whole, "notification spool: a torn last record cut");
        file.set_len(whole).map_err(io_at(path))?;
        file.sync_data().map_err(io_at(path))?;
    }
    Ok(whole)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SpoolError> + Send + 'static,
) -> Result<T, SpoolError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|joined| {
        Err(SpoolError::Io { path: "spool".into(), source: std::io::Error::other(joined.to_string()) })
    })
}

impl Spool {
    /// Opens (creating) the spool at `path`, taking it for this process and
    /// cutting a torn last record.
    ///
    /// # Errors
    /// [`SpoolError::InUse`] when another process holds it; `Io` when a file
    /// cannot be created or read.
    pub async fn open(config: SpoolConfig) -> Result<Self, SpoolError> {
        let SpoolConfig { path, max_bytes, database_budget } = config;
        blocking(move || {
            let lock_path = beside(&path, ".lock");
            let owner = private_file().write(true).truncate(false).open(&lock_path).map_err(io_at(&lock_path))?;
            match owner.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Err(SpoolError::InUse(path.display().to_string())),
                Err(std::fs::TryLockError::Error(e)) => return Err(io_at(&lock_path)(e)),
            }
            let mut active = private_file().append(true).open(&path).map_err(io_at(&path))?;
            let active_bytes = whole_lines(&mut active, &path)?;
            let draining = beside(&path, ".draining");
            let draining_bytes = match File::open(&draining) {
                Ok(mut file) => {
                    let mut content = Vec::new();
                    file.read_to_end(&mut content).map_err(io_at(&draining))?;
                    content.len() as u64
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(io_at(&draining)(e)),
            };
            let files = Mutex::new(Files { active, active_bytes, draining_bytes });
            Ok(Self {
                shared: Arc::new(Shared { path, draining, max_bytes, files, _owner: owner }),
                moving: Arc::default(),
                database_budget,
            })
        })
        .await
    }

    /// The spooled records whose sealed body names a key `keyring` does
    /// not hold (they would never open once moved in): how many, and the key
    /// ids they name.
    ///
    /// # Errors
    /// When a spool file cannot be read.
    pub async fn records_under_unknown_keys(&self, keyring: &Keyring) -> Result<crate::UnknownKeys, SpoolError> {
        let shared = self.shared.clone();
        let keyring = keyring.clone();
        blocking(move || {
            // Appends are whole lines under this lock: read a consistent file.
            let _files = shared.files.lock().map_err(|_| io_at(&shared.path)(std::io::Error::other("poisoned")))?;
            let mut bodies = Vec::new();
            for path in [&shared.path, &shared.draining] {
                let mut content = String::new();
                match File::open(path).and_then(|mut f| f.read_to_string(&mut content)) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_at(path)(e)),
                }
                bodies.extend(
                    content.lines().filter_map(|line| serde_json::from_str::<Record>(line).ok()).map(|r| r.body),
                );
            }
            Ok(crate::UnknownKeys::of(&keyring, bodies.iter().map(String::as_str)))
        })
        .await
    }

    /// Bytes waiting to be moved into the database.
    pub fn waiting_bytes(&self) -> u64 {
        self.shared.files.lock().map_or(0, |f| f.active_bytes + f.draining_bytes)
    }

    /// Appends `row` and makes it durable.
    async fn append(&self, row: &SealedNotification) -> Result<(), SpoolError> {
        let mut line = serde_json::to_vec(&Record::of(row)).map_err(SpoolError::Record)?;
        line.push(b'\n');
        let shared = self.shared.clone();
        blocking(move || {
            let mut files = shared.files.lock().map_err(|_| io_at(&shared.path)(std::io::Error::other("poisoned")))?;
            let waiting = files.active_bytes + files.draining_bytes;
            if waiting + line.len() as u64 > shared.max_bytes {
                return Err(SpoolError::Full(waiting));
            }
            let written = files.active.write_all(&line).and_then(|()| files.active.sync_data());
            if let Err(error) = written {
                // Never leave half a line for the next record to glue onto.
                let _ = files.active.set_len(files.active_bytes);
                return Err(io_at(&shared.path)(error));
            }
            files.active_bytes += line.len() as u64;
            Ok(())
        })
        .await
    }

    /// Starts a move: the records appended so far become `<path>.draining`
    /// (unless a move left one), and are returned.
    async fn begin_move(&self) -> Result<Vec<SealedNotification>, SpoolError> {
        let shared = self.shared.clone();
        blocking(move || {
            {
                let mut files =
                    shared.files.lock().map_err(|_| io_at(&shared.path)(std::io::Error::other("poisoned")))?;
                if files.draining_bytes == 0 {
                    if files.active_bytes == 0 {
                        return Ok(Vec::new());
                    }
                    std::fs::rename(&shared.path, &shared.draining).map_err(io_at(&shared.draining))?;
                    files.draining_bytes = files.active_bytes;
                    files.active_bytes = 0;
                    files.active = private_file().append(true).open(&shared.path).map_err(io_at(&shared.path))?;
                    sync_directory(&shared.path).map_err(io_at(&shared.path))?;
                }
            }
            // Nobody writes the draining file: read outside the lock.
            let mut content = String::new();
            File::open(&shared.draining)
                .and_then(|mut f| f.read_to_string(&mut content))
                .map_err(io_at(&shared.draining))?;
            let mut rows = Vec::new();
            for (n, line) in content.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                match serde_json::from_str::<Record>(line).ok().and_then(Record::into_row) {
                    Some(row) => rows.push(row),
                    None => tracing::error!(line = n + 1, "notification spool: an unreadable record skipped"),
                }
            }
            Ok(rows)
        })
        .await
    }

    /// Ends a move whose records are all in the database.
    async fn finish_move(&self) -> Result<(), SpoolError> {
        let shared = self.shared.clone();
        blocking(move || {
            let mut files = shared.files.lock().map_err(|_| io_at(&shared.path)(std::io::Error::other("poisoned")))?;
            match std::fs::remove_file(&shared.draining) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_at(&shared.draining)(e)),
            }
            sync_directory(&shared.draining).map_err(io_at(&shared.draining))?;
            files.draining_bytes = 0;
            Ok(())
        })
        .await
    }
}

/// The inbox, falling back to the spool when the database cannot take a
/// notification, and moving spooled ones in before each claim. After the
/// database failed to take one (refused, or no answer within the spool's
/// budget), the next go straight to the spool until the database answers a
/// claim again (the worker asks every poll): a hanging database then costs
/// a notification milliseconds, not the budget each.
pub(crate) struct SpooledInbox<S> {
    store: Arc<S>,
    spool: Spool,
    database_failing: std::sync::atomic::AtomicBool,
}

impl<S: SealedInbox> SpooledInbox<S> {
    pub(crate) fn new(store: Arc<S>, spool: Spool) -> Self {
        Self { store, spool, database_failing: std::sync::atomic::AtomicBool::new(false) }
    }

    fn set_failing(&self, failing: bool) {
        let was = self.database_failing.swap(failing, std::sync::atomic::Ordering::SeqCst);
        if was != failing {
            if failing {
                tracing::warn!("database failing: PG notifications go to the local spool until it answers again");
            } else {
                tracing::info!("database answering again: PG notifications go to the database");
            }
        }
    }

    /// Moves spooled notifications into the database, due `now`; how many.
    pub(crate) async fn move_spooled(&self, now: Timestamp) -> Result<usize, RepositoryError> {
        let _one = self.spool.moving.lock().await;
        let unavailable = |e: SpoolError| RepositoryError::Unavailable(format!("notification spool: {e}"));
        let rows = self.spool.begin_move().await.map_err(unavailable)?;
        if rows.is_empty() && self.spool.waiting_bytes() == 0 {
            return Ok(0);
        }
        for row in &rows {
            self.store.upsert(row, now).await?;
        }
        self.spool.finish_move().await.map_err(unavailable)?;
        tracing::info!(moved = rows.len(), "spooled PG notifications moved into the database");
        Ok(rows.len())
    }
}

#[async_trait]
impl<S: SealedInbox> NotificationInbox for SpooledInbox<S> {
    async fn enqueue(
        &self,
        notice: &PgNotification,
        now: Timestamp,
        due_in: Duration,
        known: bool,
    ) -> Result<Uuid, RepositoryError> {
        let row = sealed_row(&*self.store, notice, now, known)?;
        let budget = self.spool.database_budget;
        let circuit_open = self.database_failing();
        let why = if circuit_open {
            "it failed a moment ago and has not answered since".to_owned()
        } else {
            let why = match tokio::time::timeout(budget, self.store.upsert(&row, until(now, due_in))).await {
                Ok(Ok(())) => return Ok(row.id),
                Ok(Err(RepositoryError::Unavailable(why))) => why,
                Ok(Err(other)) => return Err(other),
                // It may still commit: the move then refreshes its row.
                Err(_) => format!("no answer within {budget:?}"),
            };
            self.set_failing(true);
            why
        };
        self.spool.append(&row).await.map_err(|e| {
            RepositoryError::Unavailable(format!("the database cannot take it ({why}), nor the spool: {e}"))
        })?;
        if circuit_open {
            tracing::debug!(notification = %row.id, "database failing: PG notification kept in the local spool");
        } else {
            tracing::warn!(notification = %row.id, %why, "database unavailable: PG notification kept in the local spool");
        }
        Ok(row.id)
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<InboxItem>, RepositoryError> {
        if self.spool.waiting_bytes() > 0
            && let Err(error) = self.move_spooled(now).await
        {
            tracing::warn!(%error, "spooled PG notifications not moved yet");
        }
        let claimed = self.store.claim_due(now, limit, lease_for).await;
        // The database's answer (or its failure) sets the circuit.
        self.set_failing(matches!(claimed, Err(RepositoryError::Unavailable(_))));
        claimed
    }

    async fn settle(
        &self,
        id: Uuid,
        lease: LeaseToken,
        outcome: InboxOutcome,
        error: Option<String>,
        now: Timestamp,
    ) -> Result<bool, RepositoryError> {
        self.store.settle(id, lease, outcome, error, now).await
    }

    async fn purge_before(&self, cutoff: Timestamp) -> Result<u64, RepositoryError> {
        self.store.purge_before(cutoff).await
    }

    async fn count(&self) -> Result<u64, RepositoryError> {
        self.store.count().await
    }

    fn database_failing(&self) -> bool {
        self.database_failing.load(std::sync::atomic::Ordering::SeqCst)
    }
}
