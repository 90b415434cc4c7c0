//! A PG's notifications, as its reader proves and reads them.

use std::time::Duration;

/// What a PG's notification asks of the intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationIntent {
    /// Re-read the payment it names and record what changed.
    Reread(crate::commands::NotificationTarget),
    /// The PG removed the saved card whose charging key is this (a
    /// credential: never logged).
    CardRemoved(SecretKey),
    /// Acknowledge it and do nothing else; the text says why (for the log,
    /// never a secret).
    Ignore(String),
}

/// A PG credential in transit (a billing key). `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub String);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// A notification as it came, for a PG that signs what it sends: its headers
/// (names in lower case) and its body, byte for byte.
#[derive(Debug, Clone, Copy)]
pub struct RawNotification<'a> {
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl RawNotification<'_> {
    /// The value of header `name` (lower case), when it came once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = values.next()?;
        values.next().is_none().then_some(first)
    }
}

/// One delivery of a PG notification as the PG names it (Toss
/// `tosspayments-webhook-transmission-id`, PortOne's `webhook-id`): the same
/// on every retry of that delivery, so a repeat of one already answered is
/// recognised. See [`NotificationReader::transmission`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmission {
    id: String,
    /// How long after it first came a repeat of it may still come.
    pub keep_for: Duration,
}

impl Transmission {
    /// The longest id taken, in bytes.
    pub const MAX_ID_BYTES: usize = 200;

    /// The delivery `id`, repeatable for `keep_for`. `None` (as if the PG
    /// had named none) for an id that is empty, longer than
    /// [`MAX_ID_BYTES`](Self::MAX_ID_BYTES) or holds a control character:
    /// hostile input is never a key.
    pub fn new(id: &str, keep_for: Duration) -> Option<Self> {
        let usable = !id.is_empty() && id.len() <= Self::MAX_ID_BYTES && !id.chars().any(char::is_control);
        usable.then(|| Self { id: id.to_owned(), keep_for })
    }

    /// The PG's id of the delivery.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// What proved a notification before it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Its signature verified under the PG's secret: it is the PG's.
    Signed,
    /// The PG signs nothing: anyone could have sent it, and only the PG's
    /// answer to the re-read it triggers is trusted.
    Unsigned,
}

/// Reads one PG's notification bodies: the incoming half of a PG's contract,
/// so the parser the PG crate tests is the one the webhook route runs.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait NotificationReader: Send + Sync {
    /// Proves a notification is the PG's before it is read: a PG that signs
    /// its notifications checks the signature over `raw` here. By default
    /// (a PG that signs nothing) every one passes unsigned: it is proven by
    /// re-reading the PG.
    ///
    /// # Errors
    /// Why it is not the PG's (the route refuses it; nothing is stored).
    fn authenticate<'a>(&self, raw: &RawNotification<'a>) -> Result<Proof, String> {
        let _ = raw;
        Ok(Proof::Unsigned)
    }

    /// The PG's id of this delivery and how long a repeat of it may come,
    /// when the PG names its deliveries (a header). Asked only once
    /// [`authenticate`](Self::authenticate) passed. By default none: every
    /// delivery is processed (re-reading the PG is idempotent, a repeat only
    /// costs a read).
    fn transmission<'a>(&self, raw: &RawNotification<'a>) -> Option<Transmission> {
        let _ = raw;
        None
    }

    /// Reads a notification body. Any event the PG may legitimately send
    /// reads as an intent (unknown event types as `Ignore`).
    ///
    /// # Errors
    /// A message naming the member, for a body the PG never sends (the route
    /// refuses the body).
    fn read(&self, body: &serde_json::Value) -> Result<NotificationIntent, String>;
}
