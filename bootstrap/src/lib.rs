//! The `payments` binary's library half: configuration and wiring, so tests
//! start exactly the server the binary starts.

pub mod app;
pub mod config;
mod limits;
pub mod logging;
mod metrics;

pub use app::{RunningApp, start};
pub use config::{Config, ConfigError, Mode};

/// The PGs this server speaks to: each one's crate, registered once. Adding a
/// PG is a crate implementing [`payments_pg::PgModule`] and a line here (see
/// docs/ARCHITECTURE.md, "How to add a PG").
pub static PGS: &[&dyn payments_pg::PgModule] = &[&payments_iamport::PG, &payments_toss::PG, &payments_portone::PG];

/// `(variable, "0")` for every PG's fake port: a test server whose fakes each
/// listen on a free port, whatever PGs are registered.
pub fn fakes_on_free_ports() -> Vec<(&'static str, &'static str)> {
    PGS.iter().map(|pg| (pg.fake_port_variable(), "0")).collect()
}
