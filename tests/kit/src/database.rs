//! A database per test: a SQLite file in a temporary directory, a schema of
//! its own on the PostgreSQL server of `PAYMENT_TEST_POSTGRES_URL` (cheap:
//! most tests), or a PostgreSQL database of its own (for tests that make the
//! database read-only or cut its connections, which act on a whole database).

use std::time::Duration;

use anyhow::Context;

/// The variable naming the PostgreSQL server the tests may use.
pub const POSTGRES_URL_VARIABLE: &str = "PAYMENT_TEST_POSTGRES_URL";

/// How a PostgreSQL test database is kept apart from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// A schema of its own in the database of the URL (`search_path` in the URL).
    Schema,
    /// A database of its own beside the one of the URL.
    Database,
}

/// `PAYMENT_TEST_POSTGRES_URL`, or `None` after saying `test` did not run.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("{POSTGRES_URL_VARIABLE} is unset: PostgreSQL test {test} did NOT run");
            None
        }
    }
}

enum Place {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin: sqlx::PgPool, name: String, isolation: Isolation },
}

/// One test's database; [`TestDatabase::remove`] drops it (a SQLite file goes
/// with its directory when the value is dropped).
pub struct TestDatabase {
    url: String,
    place: Place,
}

impl TestDatabase {
    /// A SQLite file in a fresh temporary directory.
    ///
    /// # Panics
    /// When no temporary directory can be made.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        Self { url, place: Place::Sqlite { _dir: dir } }
    }

    /// A PostgreSQL schema or database of its own, or `None` (after saying
    /// so) when `PAYMENT_TEST_POSTGRES_URL` is unset.
    ///
    /// # Panics
    /// When the variable is set but PostgreSQL cannot be reached or refuses:
    /// a configured database that does not work fails the test.
    pub async fn postgres(test: &str, isolation: Isolation) -> Option<Self> {
        let admin_url = postgres_url(test)?;
        Some(
            Self::create(&admin_url, isolation)
                .await
                .unwrap_or_else(|e| panic!("{POSTGRES_URL_VARIABLE} is set but the test database fails: {e:#}")),
        )
    }

    async fn create(admin_url: &str, isolation: Isolation) -> anyhow::Result<Self> {
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(20))
            .connect(admin_url)
            .await
            .context("PostgreSQL cannot be reached")?;
        let name = format!("payments_test_{}", uuid::Uuid::new_v4().simple());
        let url = match isolation {
            Isolation::Schema => {
                sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&admin).await.context("CREATE SCHEMA")?;
                let separator = if admin_url.contains('?') { '&' } else { '?' };
                format!("{admin_url}{separator}options=-c%20search_path%3D{name}")
            }
            Isolation::Database => {
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.context("CREATE DATABASE")?;
                let base = admin_url.split('?').next().unwrap_or(admin_url);
                let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
                format!("{server}/{name}")
            }
        };
        Ok(Self { url, place: Place::Postgres { admin, name, isolation } })
    }

    /// The URL to give `PAYMENT_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self.place, Place::Postgres { .. })
    }

    /// The PostgreSQL schema's or database's name.
    pub fn name(&self) -> Option<&str> {
        match &self.place {
            Place::Postgres { name, .. } => Some(name),
            Place::Sqlite { .. } => None,
        }
    }

    /// A pool on the administrative database (the one of the variable), to
    /// act on this one from outside (make it read-only, cut its connections).
    pub fn admin(&self) -> Option<&sqlx::PgPool> {
        match &self.place {
            Place::Postgres { admin, .. } => Some(admin),
            Place::Sqlite { .. } => None,
        }
    }

    /// Drops the PostgreSQL schema or database (a database with whatever is
    /// still connected to it); best effort, said on standard error when it fails.
    pub async fn remove(self) {
        let Place::Postgres { admin, name, isolation } = self.place else { return };
        let statement = match isolation {
            Isolation::Schema => format!("DROP SCHEMA IF EXISTS {name} CASCADE"),
            Isolation::Database => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        };
        if let Err(error) = sqlx::query(&statement).execute(&admin).await {
            eprintln!("could not drop the test database {name}: {error}");
        }
        admin.close().await;
    }
}
