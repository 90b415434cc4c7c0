//! What a PG answer may hold for one payment, shared by every PG's snapshot
//! reader: past a bound, the answer is refused as a protocol error naming
//! what it held ([`GatewayError::OutOfBounds`]), never stored.

use payments_application::ports::GatewayError;

/// The most cancels (refunded, pending or failed) one payment's answer may
/// list. A payment is refunded in a handful of parts; a thousand partial
/// refunds of one payment is already far past any real one (Toss and
/// PortOne document no limit of their own; PortOne has a
/// `MAX_CANCEL_COUNT_REACHED` refusal). An answer past it is not a payment
/// this server records: each cancel becomes a row, a part of every webhook
/// snapshot, and of every later read.
pub const MAX_CANCELS: usize = 1_000;

/// Refuses a payment whose `member` (`Toss payment cancels`) lists more than
/// [`MAX_CANCELS`] entries.
///
/// # Errors
/// [`GatewayError::OutOfBounds`] naming the member and the count.
pub fn check_cancel_count(member: &str, count: usize) -> Result<(), GatewayError> {
    if count > MAX_CANCELS {
        return Err(GatewayError::OutOfBounds(format!(
            "{member}: {count} cancels, more than the {MAX_CANCELS} one payment may have"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_bound_is_a_protocol_error_naming_the_count() {
        assert!(check_cancel_count("x cancels", 0).is_ok());
        assert!(check_cancel_count("x cancels", MAX_CANCELS).is_ok());
        let refused = check_cancel_count("Toss payment cancels", 5_000).unwrap_err();
        assert!(matches!(&refused, GatewayError::OutOfBounds(_)), "{refused:?}");
        assert_eq!(
            refused.to_string(),
            "unexpected answer from the PG: Toss payment cancels: 5000 cancels, more than the 1000 one payment may have"
        );
    }
}
