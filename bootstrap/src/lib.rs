//! The `payments` binary's library half: configuration and wiring, so tests
//! can start the same server the binary starts.

pub mod config;
