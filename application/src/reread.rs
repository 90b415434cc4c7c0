//! What a PG notification may cost us in PG reads. A notification only says
//! "payment X changed": this server re-reads X from the PG. The webhook
//! routes are open to anyone, so without a bound each request buys one read
//! of the store's PG quota (and, while the PG is down, one per retry). Here,
//! per payment: one notification-triggered re-read at a time; none sooner
//! than [`RereadLimits::min_interval`] after the previous one unless the
//! notification proved itself (a deposit callback's secret, a PortOne
//! signature); a notification that came before a re-read that succeeded is
//! answered by that re-read (it costs nothing more); and per PG a budget of
//! re-reads a second. A notification held back is not lost: it waits in the
//! inbox and is tried again when its turn comes. The bounds are this
//! process's (each instance keeps its own).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use payments_domain::{HistoryId, Timestamp, VendorCode};

/// How many payments' re-read times are remembered; past it the oldest idle
/// ones are forgotten (a forgotten payment is simply read again).
const MAX_TRACKED: usize = 10_000;

/// The bounds on notification-triggered PG reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RereadLimits {
    /// Least time between two re-reads of one payment for notifications
    /// that did not prove themselves.
    pub min_interval: Duration,
    /// Re-reads a second for each PG (a burst of as many is allowed).
    pub per_second: u32,
}

impl Default for RereadLimits {
    fn default() -> Self {
        Self { min_interval: Duration::from_secs(1), per_second: 50 }
    }
}

/// What a notification about a registered payment may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Re-read the payment; [`RereadGate::finished`] must follow.
    Go,
    /// A re-read that started after the notification came succeeded: it
    /// already shows what the notification announced.
    Answered,
    /// Not now: try again after this long (the notification waits in the inbox).
    Later(Duration),
}

#[derive(Debug, Default)]
struct Payment {
    in_flight: bool,
    last_started: Option<Timestamp>,
    last_ok_started: Option<Timestamp>,
}

#[derive(Debug)]
struct Budget {
    tokens: f64,
    at: Timestamp,
}

#[derive(Debug, Default)]
struct State {
    payments: HashMap<HistoryId, Payment>,
    budgets: HashMap<VendorCode, Budget>,
}

/// The bounds, applied (one per [`crate::PaymentService`]).
#[derive(Debug, Default)]
pub(crate) struct RereadGate {
    limits: RereadLimits,
    state: Mutex<State>,
}

fn millis(duration: chrono::Duration) -> Duration {
    duration.to_std().unwrap_or(Duration::ZERO)
}

impl RereadGate {
    pub(crate) fn new(limits: RereadLimits) -> Self {
        Self { limits, state: Mutex::default() }
    }

    /// Whether a notification about `history` (of `vendor`) that came at
    /// `received_at` may re-read it `now`; `proven` when the notification
    /// proved itself (it skips the per-payment interval, not the budget).
    pub(crate) fn admit(
        &self,
        vendor: VendorCode,
        history: HistoryId,
        received_at: Timestamp,
        proven: bool,
        now: Timestamp,
    ) -> Admission {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let interval = chrono::Duration::from_std(self.limits.min_interval).unwrap_or(chrono::Duration::zero());
        if state.payments.len() >= MAX_TRACKED {
            let horizon = now - interval;
            state.payments.retain(|_, p| p.in_flight || p.last_started.is_some_and(|at| at > horizon));
            if state.payments.len() >= MAX_TRACKED {
                state.payments.retain(|_, p| p.in_flight);
            }
        }
        let payment = state.payments.entry(history).or_default();
        if payment.last_ok_started.is_some_and(|ok| ok > received_at) {
            return Admission::Answered;
        }
        if payment.in_flight {
            // The re-read under way started before this notification: it may
            // not show what it announces. Its turn comes after that one.
            let since = payment.last_started.map_or(chrono::Duration::zero(), |at| now - at);
            return Admission::Later(millis(interval - since).max(Duration::from_millis(200)));
        }
        if !proven && let Some(last) = payment.last_started {
            let since = now - last;
            if since < interval {
                return Admission::Later(millis(interval - since));
            }
        }
        let per_second = f64::from(self.limits.per_second.max(1));
        let budget = state.budgets.entry(vendor).or_insert(Budget { tokens: per_second, at: now });
        let refill = (now - budget.at).num_milliseconds().max(0) as f64 / 1000.0 * per_second;
        budget.tokens = (budget.tokens + refill).min(per_second);
        budget.at = now;
        if budget.tokens < 1.0 {
            let wait = ((1.0 - budget.tokens) / per_second * 1000.0).ceil() as u64;
            return Admission::Later(Duration::from_millis(wait.max(1)));
        }
        budget.tokens -= 1.0;
        let payment = state.payments.entry(history).or_default();
        payment.in_flight = true;
        payment.last_started = Some(now);
        Admission::Go
    }

    /// `history` was read from its PG at `started` and that word recorded
    /// outside a notification (its registration read it): a notification
    /// that came before is answered by that read, like by a re-read it
    /// triggered (a PG's webhook that raced its payment's registration costs
    /// no second read once the payment is registered).
    pub(crate) fn read_elsewhere(&self, history: HistoryId, started: Timestamp) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.payments.len() >= MAX_TRACKED && !state.payments.contains_key(&history) {
            // Remembering it would evict another's bound: it is simply read again.
            return;
        }
        let payment = state.payments.entry(history).or_default();
        if payment.last_ok_started.is_none_or(|at| at < started) {
            payment.last_ok_started = Some(started);
        }
    }

    /// The re-read admitted for `history` at `started` is over at `now`
    /// (`ok`: the PG answered and its word was applied). A failed one counts
    /// from its end: a PG that is down is asked again an interval after its
    /// timeout, not at once.
    pub(crate) fn finished(&self, history: HistoryId, started: Timestamp, ok: bool, now: Timestamp) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(payment) = state.payments.get_mut(&history) {
            payment.in_flight = false;
            if ok && payment.last_ok_started.is_none_or(|at| at < started) {
                payment.last_ok_started = Some(started);
            }
            if !ok {
                payment.last_started = Some(now.max(started));
            }
        }
    }
}

/// A re-read admitted by the gate, under way: ended by
/// [`Turn::finish`], or, when it is dropped unfinished (the notification's
/// time ran out mid-read), ended as failed, so the payment is never left
/// "in flight".
pub(crate) struct Turn<'a> {
    gate: &'a RereadGate,
    history: HistoryId,
    started: Timestamp,
    clock: &'a dyn crate::ports::Clock,
    done: bool,
}

impl<'a> Turn<'a> {
    pub(crate) fn new(
        gate: &'a RereadGate,
        history: HistoryId,
        started: Timestamp,
        clock: &'a dyn crate::ports::Clock,
    ) -> Self {
        Self { gate, history, started, clock, done: false }
    }

    /// Ends the re-read (`ok`: the PG answered and its word was applied).
    pub(crate) fn finish(mut self, ok: bool) {
        self.done = true;
        self.gate.finished(self.history, self.started, ok, self.clock.now());
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.gate.finished(self.history, self.started, false, self.clock.now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    fn gate(per_second: u32) -> RereadGate {
        RereadGate::new(RereadLimits { min_interval: Duration::from_secs(1), per_second })
    }

    const PG: VendorCode = VendorCode::TossPayments;

    #[test]
    fn one_re_read_of_a_payment_at_a_time_and_none_sooner_than_the_interval() {
        let gate = gate(50);
        let one = HistoryId::from_uuid(uuid::Uuid::from_u128(1));
        assert_eq!(gate.admit(PG, one, at(0), false, at(0)), Admission::Go);
        assert!(matches!(gate.admit(PG, one, at(10), false, at(10)), Admission::Later(_)), "one in flight");
        gate.finished(one, at(0), true, at(5));
        // Came before the re-read that succeeded: answered by it (not when
        // it came the same millisecond: read again, to be safe).
        assert_eq!(gate.admit(PG, one, at(-1), false, at(20)), Admission::Answered);
        // Came after it, within the interval: later, when the interval ends.
        assert_eq!(gate.admit(PG, one, at(300), false, at(300)), Admission::Later(Duration::from_millis(700)));
        // A proven notification does not wait for the interval.
        assert_eq!(gate.admit(PG, one, at(400), true, at(400)), Admission::Go);
        gate.finished(one, at(400), false, at(900));
        // A failed re-read answers nothing; the interval counts from its end.
        assert_eq!(gate.admit(PG, one, at(450), false, at(1_000)), Admission::Later(Duration::from_millis(900)));
        assert_eq!(gate.admit(PG, one, at(450), false, at(1_900)), Admission::Go);
        // Another payment is not held back by this one.
        let two = HistoryId::from_uuid(uuid::Uuid::from_u128(2));
        assert_eq!(gate.admit(PG, two, at(1_900), false, at(1_900)), Admission::Go);
    }

    #[test]
    fn a_read_made_elsewhere_answers_the_notifications_that_came_before_it() {
        let gate = gate(1);
        let one = HistoryId::from_uuid(uuid::Uuid::from_u128(1));
        gate.read_elsewhere(one, at(100));
        assert_eq!(gate.admit(PG, one, at(50), false, at(200)), Admission::Answered, "came before the read");
        assert_eq!(gate.admit(PG, one, at(150), false, at(200)), Admission::Go, "came after: read");
        // An older read does not move the mark back.
        gate.finished(one, at(200), true, at(210));
        gate.read_elsewhere(one, at(120));
        assert_eq!(gate.admit(PG, one, at(180), false, at(2_000)), Admission::Answered);
    }

    #[test]
    fn each_pg_has_a_budget_of_re_reads_a_second() {
        let gate = gate(3);
        let admitted = (0..10u128)
            .filter(|n| {
                let payment = HistoryId::from_uuid(uuid::Uuid::from_u128(100 + n));
                gate.admit(PG, payment, at(0), false, at(0)) == Admission::Go
            })
            .count();
        assert_eq!(admitted, 3, "a burst of the budget");
        let late = HistoryId::from_uuid(uuid::Uuid::from_u128(999));
        assert!(
            matches!(gate.admit(PG, late, at(0), false, at(0)), Admission::Later(d) if d <= Duration::from_millis(334))
        );
        assert_eq!(gate.admit(VendorCode::PortOne, late, at(0), false, at(0)), Admission::Go, "another PG's budget");
        let in_flight = gate.admit(PG, late, at(400), false, at(400));
        assert_eq!(in_flight, Admission::Later(Duration::from_millis(600)), "its re-read is under way");
    }

    #[test]
    fn a_read_dropped_mid_way_is_ended_as_failed() {
        let gate = gate(50);
        let clock = crate::ports::SystemClock;
        let one = HistoryId::from_uuid(uuid::Uuid::from_u128(7));
        let now = crate::ports::Clock::now(&clock);
        assert_eq!(gate.admit(PG, one, now, true, now), Admission::Go);
        drop(Turn::new(&gate, one, now, &clock));
        assert!(!gate.state.lock().unwrap().payments[&one].in_flight, "never left in flight");
        assert_eq!(gate.admit(PG, one, now, true, now), Admission::Go, "a proven one may read again at once");
    }

    #[test]
    fn what_it_remembers_is_bounded() {
        let gate = gate(u32::MAX);
        for n in 0..(MAX_TRACKED as u128 + 50) {
            let payment = HistoryId::from_uuid(uuid::Uuid::from_u128(n));
            let now = at(i64::try_from(n).unwrap() * 2_000);
            assert_eq!(gate.admit(PG, payment, now, false, now), Admission::Go);
            gate.finished(payment, now, true, now);
        }
        assert!(gate.state.lock().unwrap().payments.len() <= MAX_TRACKED);
    }
}
