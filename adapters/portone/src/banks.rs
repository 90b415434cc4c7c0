//! Banks as PortOne V2 names them (`Bank`), from the three-digit codes of the
//! Korean clearing system our API takes for refund accounts.

/// `(code, PortOne's name)`: the banks a refund account is commonly at.
const BANKS: &[(&str, &str)] = &[
    ("002", "KDB"),
    ("003", "IBK"),
    ("004", "KOOKMIN"),
    ("007", "SUHYUP"),
    ("011", "NONGHYUP"),
    ("012", "LOCAL_NONGHYUP"),
    ("020", "WOORI"),
    ("023", "STANDARD_CHARTERED"),
    ("027", "CITI"),
    ("031", "DAEGU"),
    ("032", "BUSAN"),
    ("034", "KWANGJU"),
    ("035", "JEJU"),
    ("037", "JEONBUK"),
    ("039", "KYONGNAM"),
    ("045", "KFCC"),
    ("048", "SHINHYUP"),
    ("050", "SAVINGS_BANK"),
    ("071", "POST"),
    ("081", "HANA"),
    ("088", "SHINHAN"),
    ("089", "K_BANK"),
    ("090", "KAKAO"),
    ("092", "TOSS"),
];

/// PortOne's name of `bank`: a three-digit code (`088`), or already one of
/// PortOne's names (`SHINHAN`); `None` for anything else.
pub fn bank_of(bank: &str) -> Option<&'static str> {
    let bank = bank.trim();
    BANKS.iter().find(|(code, name)| *code == bank || *name == bank).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_map_to_portones_names() {
        assert_eq!(bank_of("088"), Some("SHINHAN"));
        assert_eq!(bank_of(" SHINHAN "), Some("SHINHAN"));
        assert_eq!(bank_of("004"), Some("KOOKMIN"));
        assert_eq!(bank_of("999"), None);
        assert_eq!(bank_of("shinhan"), None, "PortOne's names are upper case");
    }
}
