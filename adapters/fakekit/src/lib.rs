//! The toolkit of the fake PG servers (Iamport, Toss Payments): state that is
//! bounded and expires like the original's, webhook emission, and serving on
//! any port (0 in tests) with the bound address returned.

mod server;
mod store;
mod webhook;

pub use server::{RunningServer, serve};
pub use store::{Store, StoreLimits};
pub use webhook::WebhookEmitter;
