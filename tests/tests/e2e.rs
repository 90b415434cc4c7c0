//! The end-to-end suite: the server over real HTTP, on SQLite and PostgreSQL,
//! with the fake PGs as the customers' side.
//!
//! One test binary for the whole suite (linking one binary per file was most
//! of CI's time); each file is a module, its tests named `file::test`.

mod card_numbers;
mod clients;
mod clients_only;
mod console;
mod flows;
mod limits;
mod metrics;
mod orders;
mod orders_reconcile;
mod portone;
mod races;
mod refusals;
mod toss_legacy;
mod toss_today;
mod webhooks;
