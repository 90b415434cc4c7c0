//! The reliability suite: faults, hostile input and security (RELIABILITY.md).
//!
//! One test binary for the whole suite (linking one binary per file was most
//! of CI's time); each file is a module, its tests named `file::test`.

mod database_down;
mod hostile_input;
mod instances;
mod logs;
mod pg_faults;
mod portone_faults;
mod postgres_outage;
mod receivers;
mod security;
mod sigkill;
