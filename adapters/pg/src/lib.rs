//! The PG contract and what PG crates share.
//!
//! - [`amounts`]: the unit a PG writes amounts in ([`AmountUnit`]).
//! - [`bounds`]: what one payment's answer may hold ([`MAX_CANCELS`]).
//! - [`contract`]: [`PgModule`] (a PG crate's entry: code, variables,
//!   configuration) and [`PgInstance`] (a configured PG: its client, its
//!   notification reader, its fake).
//! - [`env`]: reading and checking configuration variables.
//! - [`http`]: the HTTP client plumbing (timeout, no redirects, bounded
//!   answers, transport errors without URLs, the idempotency header).
//! - [`stores`]: credentials per store id, with a default.
//!
//! Credentials are [`secrecy::SecretString`]s: they never print.

pub mod amounts;
pub mod bounds;
pub mod contract;
pub mod env;
pub mod http;
pub mod stores;

pub use amounts::AmountUnit;
pub use bounds::{MAX_CANCELS, check_cancel_count};
pub use contract::{ClientSettings, DEFAULT_TIMEOUT, PgInstance, PgModule};
#[cfg(feature = "fake")]
pub use contract::{PgFake, start_fake_on};
pub use env::{ConfigError, Env, Mode, PgUrl, Vars};
pub use http::{
    Answer, IDEMPOTENCY_KEY, LOGGED_PG_TEXT_CHARS, MAX_ANSWER_BYTES, PgBuildError, PgFailure, PgHttp, call_name,
    failed_call, transport_error,
};
pub use secrecy::{ExposeSecret, SecretString};
pub use stores::Stores;
