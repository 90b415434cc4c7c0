//! The `payments` binary's library half: configuration and wiring, so tests
//! start exactly the server the binary starts.

pub mod app;
pub mod config;
mod limits;
mod metrics;

pub use app::{RunningApp, start};
pub use config::{Config, ConfigError, Mode};
