//! The rules a deployment sets: where webhooks may go, what a password must be, whether a
//! payment registers only under its own order.

use payments_domain::WebhookUrl;

use crate::error::AppError;
use crate::service::PaymentService;

/// Where webhooks may be sent: checked when a `webhook_url` is registered
/// (and, by the sender, again at every delivery).
#[async_trait::async_trait]
pub trait WebhookTargets: Send + Sync {
    /// Why `url` may not receive webhooks now, if it may not.
    async fn refusal(&self, url: &WebhookUrl) -> Option<String>;
}

/// A fixed host list, checked by name only (no resolution): for tests and
/// callers that resolve nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WebhookUrlPolicy {
    /// Any http(s) host.
    #[default]
    AnyHost,
    /// Only these hosts (lower-case names or addresses).
    Hosts(Vec<String>),
}

#[async_trait::async_trait]
impl WebhookTargets for WebhookUrlPolicy {
    async fn refusal(&self, url: &WebhookUrl) -> Option<String> {
        match self {
            WebhookUrlPolicy::AnyHost => None,
            WebhookUrlPolicy::Hosts(hosts) if hosts.iter().any(|h| h.eq_ignore_ascii_case(&url.host())) => None,
            WebhookUrlPolicy::Hosts(_) => Some(format!("host {:?} is not in the allowed list", url.host())),
        }
    }
}

impl PaymentService {
    /// Refuses a `webhook_url` the target policy does not allow.
    pub(crate) async fn check_webhook_url(&self, url: &WebhookUrl) -> Result<(), AppError> {
        match self.deps.webhook_urls.refusal(url).await {
            None => Ok(()),
            Some(why) => Err(AppError::WebhookUrlRefused(why)),
        }
    }
}

/// Whether a registration must be for the caller's own order: the PG's order
/// id (Toss `orderId`, Iamport `merchant_uid`) equal to `source.id`, as the
/// original SDK's flows make it. Bound, a payment of another order is refused
/// before anything is confirmed or cancelled, so registering a stranger's
/// payment with a wrong price cannot get it refunded; a payment charged with
/// another amount than registered is cancelled at the PG, since it is the
/// caller's own. Unbound (for deployments whose order ids are not their
/// source ids), nothing is checked and nothing is cancelled: a mismatch is
/// only refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrderBinding {
    /// The PG's order id must be `source.id`.
    #[default]
    SourceId,
    /// Any order: no check, and no auto-cancel on a mismatch.
    Off,
}

/// What a record's password must be, and how guessing it is slowed down:
/// after `max_failures` wrong passwords within `window` the record answers
/// `RecordLocked` (its time left) without checking anything for `first_lock`,
/// doubled at each further lockout up to `max_lock`; the right password
/// resets it all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters of a new record's password.
    pub min_chars: usize,
    pub max_failures: u32,
    pub window: std::time::Duration,
    pub first_lock: std::time::Duration,
    pub max_lock: std::time::Duration,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_failures: 5,
            window: std::time::Duration::from_secs(15 * 60),
            first_lock: std::time::Duration::from_secs(60),
            max_lock: std::time::Duration::from_secs(3600),
        }
    }
}

impl PasswordPolicy {
    /// The lock after `lockouts` earlier ones.
    pub fn lock_for(&self, lockouts: u32) -> std::time::Duration {
        self.first_lock.saturating_mul(1u32 << lockouts.min(16)).min(self.max_lock)
    }
}
