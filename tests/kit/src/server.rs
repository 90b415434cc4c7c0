//! A fast, hermetic test server: its variables, and the server started
//! in-process with [`payments_server::start`] (exactly what `payments serve`
//! starts, without a process around it).

use std::collections::HashMap;
use std::path::Path;

use payments_server::{Config, RunningApp};

/// The variables of a test server: ports 0, the database at `database_url`,
/// its notification spool in `dir`, cheap argon2, the kit's keys, quick
/// polling, and every PG's fake on a free port (local mode). A suite adds or
/// replaces what its tests need (retry schedules, limits).
pub fn server_vars(dir: &Path, database_url: &str) -> HashMap<String, String> {
    [
        ("PAYMENT_API_PORT", "0".to_owned()),
        ("PAYMENT_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("PAYMENT_ADMIN_ADDR", "127.0.0.1:0".to_owned()),
        ("PAYMENT_DATABASE_URL", database_url.to_owned()),
        // Its own, whichever database a test chooses.
        ("PAYMENT_NOTIFICATION_SPOOL", dir.join("notifications.spool").display().to_string()),
        ("PAYMENT_ARGON2_MEMORY_KIB", "256".to_owned()),
        ("PAYMENT_ARGON2_ITERATIONS", "1".to_owned()),
        ("PAYMENT_CONNECTION_ENCRYPTION_KEY", crate::WIRE_KEY.to_owned()),
        ("PAYMENT_CONNECTION_ENCRYPTION_IV", crate::WIRE_IV.to_owned()),
        ("PAYMENT_HISTORY_ENCRYPTION_KEY", crate::HISTORY_KEY.to_owned()),
        ("PAYMENT_RESERVATION_ENCRYPTION_KEY", crate::RESERVATION_KEY.to_owned()),
        ("PAYMENT_CANCEL_HISTORY_ENCRYPTION_KEY", crate::CANCEL_KEY.to_owned()),
        ("PAYMENT_WEBHOOK_SECRET", crate::WEBHOOK_SECRET.to_owned()),
        ("PAYMENT_WEBHOOK_POLL_MS", "50".to_owned()),
        // Toss's one-cancel-a-second rule, shortened so cancel tests stay quick.
        ("PAYMENT_FAKE_TOSS_CANCEL_WINDOW_MS", "100".to_owned()),
    ]
    .into_iter()
    .chain(payments_server::fakes_on_free_ports().into_iter().map(|(k, v)| (k, v.to_owned())))
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `vars` with `overrides` set (replacing what was there).
pub fn with_overrides(mut vars: HashMap<String, String>, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    for (name, value) in overrides {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    vars
}

/// Starts the server in this process with `vars` as its environment.
///
/// # Errors
/// An invalid configuration (naming the variable) or a server that cannot start.
pub async fn start_in_process(vars: &HashMap<String, String>) -> anyhow::Result<(RunningApp, Config)> {
    crate::init_tracing();
    let config = Config::from_vars(vars)?;
    let app = payments_server::start(config.clone()).await?;
    Ok((app, config))
}
