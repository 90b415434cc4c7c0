//! What the machine allows: one argon2 hash and verify on one core, and the
//! database's raw commit rate for one small write.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use payments_crypto::{Argon2Hasher, Argon2Params};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::stats::{Bounds, Op, Summary, drive, ms};

/// One password hash and one verify, timed on one thread.
#[derive(Debug, Clone, Serialize)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Median of the samples, milliseconds.
    pub hash_ms: f64,
    pub verify_ms: f64,
    pub samples: u32,
}

/// Times `samples` hashes and verifies with `params` on one blocking thread.
///
/// # Errors
/// Invalid parameters or an argon2 failure.
pub async fn hash_cost(params: Argon2Params, samples: u32) -> anyhow::Result<HashCost> {
    tokio::task::spawn_blocking(move || {
        let hasher = Argon2Hasher::new(params, 1)?;
        let samples = samples.max(1);
        let (mut hashes, mut verifies) = (Vec::new(), Vec::new());
        let mut phc = hasher.hash_blocking("warm-up")?;
        for i in 0..samples {
            let password = format!("password-{i}");
            let start = Instant::now();
            phc = hasher.hash_blocking(&password)?;
            hashes.push(start.elapsed());
            let start = Instant::now();
            anyhow::ensure!(hasher.verify_blocking(&password, &phc)?, "argon2 verify said no");
            verifies.push(start.elapsed());
        }
        drop(phc);
        let median = |mut v: Vec<Duration>| {
            v.sort_unstable();
            ms(v[v.len() / 2])
        };
        Ok(HashCost {
            memory_kib: params.memory_kib,
            iterations: params.iterations,
            parallelism: params.parallelism,
            hash_ms: median(hashes),
            verify_ms: median(verifies),
            samples,
        })
    })
    .await?
}

/// A scratch table for the commit probe, on the server's database (PostgreSQL)
/// or in a file beside it with the server's settings (SQLite: WAL,
/// `synchronous = NORMAL`), so the probe never alters the server's schema.
pub enum CommitProbe {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

const PROBE_TABLE: &str = "payments_load_commit_probe";

impl CommitProbe {
    /// Opens the probe with up to `max_connections` connections.
    ///
    /// # Errors
    /// An unreachable database.
    pub async fn open(database_url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let create = format!("CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (id TEXT PRIMARY KEY, body TEXT NOT NULL)");
        if database_url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(database_url)?;
            let file = format!("{}.commit-probe", options.get_filename().display());
            let options = SqliteConnectOptions::new()
                .filename(file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new().max_connections(max_connections.max(1)).connect_with(options).await?;
            sqlx::query(&create).execute(&pool).await?;
            Ok(Self::Sqlite(pool))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .connect(database_url)
                .await
                .context("commit probe: cannot connect to PostgreSQL")?;
            sqlx::query(&create).execute(&pool).await?;
            Ok(Self::Postgres(pool))
        }
    }

    /// One transaction inserting one small row, committed.
    async fn commit_one(&self) -> anyhow::Result<Duration> {
        let id = uuid::Uuid::now_v7().to_string();
        let start = Instant::now();
        match self {
            Self::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(&format!("INSERT INTO {PROBE_TABLE} (id, body) VALUES (?, ?)"))
                    .bind(&id)
                    .bind("x")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(&format!("INSERT INTO {PROBE_TABLE} (id, body) VALUES ($1, $2)"))
                    .bind(&id)
                    .bind("x")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(start.elapsed())
    }

    /// Commits per second at `bounds.concurrency`.
    pub async fn rate(self: &Arc<Self>, bounds: Bounds) -> Summary {
        let probe = self.clone();
        let op: Op = Arc::new(move |_, _| {
            let probe = probe.clone();
            Box::pin(async move { probe.commit_one().await })
        });
        drive(bounds, op).await
    }

    /// Drops the scratch table.
    pub async fn close(&self) {
        let drop = format!("DROP TABLE IF EXISTS {PROBE_TABLE}");
        match self {
            Self::Sqlite(pool) => {
                let _ = sqlx::query(&drop).execute(pool).await;
                pool.close().await;
            }
            Self::Postgres(pool) => {
                let _ = sqlx::query(&drop).execute(pool).await;
                pool.close().await;
            }
        }
    }
}
