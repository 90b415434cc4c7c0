//! Changes of a payment, as announced to the caller's `webhook_url`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{DomainError, EventId, HistoryId, PaymentHistory, Source, Timestamp};

/// One change of a history, whatever caused it: the state before (none for
/// a payment recorded with nobody answered: an order completed, a charge
/// whose answer was lost) and after, and the payload that triggered it (a
/// PG webhook body, or a summary of our own cancel request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    id: EventId,
    previous: Option<PaymentHistory>,
    current: PaymentHistory,
    trigger: serde_json::Value,
    created_at: Timestamp,
}

impl WebhookEvent {
    /// Records a change from `previous` to `current` of one history.
    ///
    /// # Errors
    /// [`DomainError::InconsistentSnapshot`] when the two states are of
    /// different histories.
    pub fn new(
        id: EventId,
        previous: PaymentHistory,
        current: PaymentHistory,
        trigger: serde_json::Value,
        created_at: Timestamp,
    ) -> Result<Self, DomainError> {
        if previous.identity() != current.identity() {
            return Err(DomainError::InconsistentSnapshot("an event must join two states of one history".into()));
        }
        Ok(Self { id, previous: Some(previous), current, trigger, created_at })
    }

    /// Announces a history recorded with no caller answered (an order
    /// completed by the PG's webhook or the reconciler, a charge whose
    /// answer was lost): no state before it.
    pub fn created(id: EventId, current: PaymentHistory, trigger: serde_json::Value, created_at: Timestamp) -> Self {
        Self { id, previous: None, current, trigger, created_at }
    }

    /// Restores a stored event.
    ///
    /// # Errors
    /// As [`WebhookEvent::new`].
    pub fn restore(
        id: EventId,
        previous: Option<PaymentHistory>,
        current: PaymentHistory,
        trigger: serde_json::Value,
        created_at: Timestamp,
    ) -> Result<Self, DomainError> {
        match previous {
            Some(previous) => Self::new(id, previous, current, trigger, created_at),
            None => Ok(Self::created(id, current, trigger, created_at)),
        }
    }

    pub fn id(&self) -> EventId {
        self.id
    }
    pub fn history_id(&self) -> HistoryId {
        self.current.id()
    }
    pub fn source(&self) -> &Source {
        self.current.source()
    }
    /// The state before; `None` for a history announced as it was recorded.
    pub fn previous(&self) -> Option<&PaymentHistory> {
        self.previous.as_ref()
    }
    pub fn current(&self) -> &PaymentHistory {
        &self.current
    }
    pub fn trigger(&self) -> &serde_json::Value {
        &self.trigger
    }
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
}

/// The receiver's answer to one delivery attempt: its HTTP status and body,
/// or neither when it could not be reached or did not answer in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub status: Option<u16>,
    pub body: Option<String>,
    pub created_at: Timestamp,
}

impl DeliveryAttempt {
    /// Longest response body kept per attempt, in bytes.
    pub const MAX_BODY_BYTES: usize = 4096;

    /// Records an answer; the body is cut to [`Self::MAX_BODY_BYTES`] on a
    /// character boundary.
    pub fn answered(status: u16, body: &str, created_at: Timestamp) -> Self {
        let mut end = body.len().min(Self::MAX_BODY_BYTES);
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        Self { status: Some(status), body: Some(body[..end].to_owned()), created_at }
    }

    /// Records an attempt with no answer (connection refused, timeout).
    pub fn unanswered(created_at: Timestamp) -> Self {
        Self { status: None, body: None, created_at }
    }

    /// Only a 2xx answer counts as delivered.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// When to try again after a failed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter_percent: u8,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    RetryAfter(Duration),
    GiveUp,
}

impl RetrySchedule {
    /// Waits before attempt 2, 3, ...; jitter spreads each wait by up to
    /// `jitter_percent` in either direction so failed receivers are not hit in
    /// lockstep.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] on an empty schedule or jitter over 100%.
    pub fn new(delays: Vec<Duration>, jitter_percent: u8) -> Result<Self, DomainError> {
        if delays.is_empty() {
            return Err(DomainError::invalid("webhook retry schedule", "must have at least one delay"));
        }
        if jitter_percent > 100 {
            return Err(DomainError::invalid("webhook retry jitter", "must be 0..=100 percent"));
        }
        Ok(Self { delays, jitter_percent })
    }

    /// Eight attempts over about three days: 1, 4, 16, 64, 256, 1024 and 4096
    /// minutes after each failure, as Toss Payments retries, ±10%.
    pub fn three_days() -> Self {
        let minutes = [1u64, 4, 16, 64, 256, 1024, 4096];
        Self { delays: minutes.iter().map(|m| Duration::from_secs(m * 60)).collect(), jitter_percent: 10 }
    }

    /// Total attempts, the first included.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX).saturating_add(1)
    }

    /// After `attempts_made` failed attempts, when to try again. `unit` is a
    /// uniformly random number in `[0, 1)` supplied by the caller (the domain
    /// has no randomness of its own).
    pub fn after_failure(&self, attempts_made: u32, unit: f64) -> NextStep {
        let Some(base) = attempts_made.checked_sub(1).and_then(|i| self.delays.get(i as usize)) else {
            return NextStep::GiveUp;
        };
        let spread = f64::from(self.jitter_percent) / 100.0;
        let factor = 1.0 + spread * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        NextStep::RetryAfter(base.mul_f64(factor.max(0.0)))
    }
}
