//! What the use cases need from the outside world. Adapters implement these;
//! tests mock them (`mocks` feature, or `cfg(test)` inside this crate).

mod clients;
mod console;
mod gateway;
mod idempotency;
mod inbox;
mod intents;
mod notifications;
mod operators;
mod orders;
mod outbox;
mod passwords;
mod storage;
mod system;

pub use clients::*;
pub use console::*;
pub use gateway::*;
pub use idempotency::*;
pub use inbox::*;
pub use intents::*;
pub use notifications::*;
pub use operators::*;
pub use orders::*;
pub use outbox::*;
pub use passwords::*;
pub use storage::*;
pub use system::*;
