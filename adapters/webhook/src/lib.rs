//! Outgoing webhooks.
//!
//! - [`HttpWebhookSender`] implements the application's `WebhookSender`: one
//!   POST of the event to its history's `webhook_url`, the body `text/plain`
//!   AES-CBC as the original sends it, plus Standard Webhooks headers
//!   (`webhook-id` = event id, stable across retries; `webhook-timestamp`;
//!   `webhook-signature` = `v1,` HMAC-SHA256 over `id.timestamp.body`).
//!   A receiver (host and port) whose recent attempts all failed gets a
//!   short attempt timeout until one succeeds ([`CircuitConfig`]).
//! - [`TargetPolicy`] says where webhooks may go (no loopback, link-local,
//!   unspecified, multicast or broadcast target; private ranges when listed),
//!   at registration and, as the sender's resolver, at every delivery.
//! - [`WebhookWorker`] drains the durable outbox: claims due jobs under a
//!   lease, delivers them with bounded concurrency (and a bounded share of
//!   it per receiver, so a dead receiver delays only its own jobs), takes
//!   the jobs of this process's changes in memory, leased to it in the same
//!   commit ([`Handoff`], through [`NotifyingHistories`]: no claim, no read
//!   back), wakes at once when a change is saved unleased and polls
//!   otherwise, and on shutdown stops claiming, lets in-flight deliveries
//!   finish for a grace period and releases the rest.

mod circuit;
mod notify;
mod sender;
mod targets;
mod worker;

pub use circuit::CircuitConfig;
pub use notify::{HandedOff, Handoff, NotifyingHistories, handoff};
pub use sender::{HttpWebhookSender, RenderBody, SecretError, SenderConfig, WebhookSecret};
pub use targets::TargetPolicy;
pub use worker::{WebhookWorker, WorkerConfig};
