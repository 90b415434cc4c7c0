//! The JSON of a payment or a saved card, for the API version the fake
//! speaks. 1.4 is the 1.x model serialised as it is (`transactionKey`,
//! `card.company`, `virtualAccount.bank`); 2022-11-16 has exactly the members
//! of Toss's documented answers (tests/data/documented/v2022-11-16): every
//! method-specific member present (`null` when not that method),
//! `lastTransactionKey`, numeric organisation codes, `receipt`/`checkout`,
//! and `method`/`useEscrow` `null` on an expired payment.

use serde_json::{Value, json};

use crate::wire::{TossBilling, TossPayment, TossPaymentCancel, TossPaymentStatus};

use super::TossApiVersion;
use super::state::FakePayment;

/// The card company of every fake card, as 1.x names it.
pub(crate) const CARD_COMPANY: &str = "신한카드";
/// Its issuer and acquirer code (2022-11-16).
pub(crate) const CARD_COMPANY_CODE: &str = "41";

/// A card number as Toss shows it: the first 8 digits, `****`, the next 3,
/// `*` (`4330123412341234` -> `43301234****123*`). Masking a masked number
/// changes nothing; shorter text is masked whole.
pub fn mask_card_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let n = chars.len();
    if n < 13 {
        return "*".repeat(n);
    }
    let mut masked: String = chars[..8].iter().collect();
    masked.push_str("****");
    masked.extend(&chars[12..n - 1]);
    masked.push('*');
    masked
}

/// Toss's two-digit code of a bank, from its code (`20`, `020`) or its
/// Korean name (`우리`, `우리은행`); `None` for a bank it does not know.
pub(crate) fn bank_code(bank: &str) -> Option<String> {
    let bank = bank.trim();
    if bank.bytes().all(|b| b.is_ascii_digit()) {
        return match bank.len() {
            2 => Some(bank.to_owned()),
            3 if bank.starts_with('0') => Some(bank[1..].to_owned()),
            _ => None,
        };
    }
    const BANKS: [(&str, &str); 25] = [
        ("경남", "39"),
        ("광주", "34"),
        ("국민", "06"),
        ("KB국민", "06"),
        ("기업", "03"),
        ("IBK기업", "03"),
        ("농협", "11"),
        ("NH농협", "11"),
        ("대구", "31"),
        ("부산", "32"),
        ("산업", "02"),
        ("새마을", "45"),
        ("산림", "64"),
        ("수협", "07"),
        ("신한", "88"),
        ("신협", "48"),
        ("씨티", "27"),
        ("우리", "20"),
        ("우체국", "71"),
        ("저축", "50"),
        ("전북", "37"),
        ("제주", "35"),
        ("카카오", "90"),
        ("케이", "89"),
        ("토스", "92"),
    ];
    let name = bank.strip_suffix("은행").or_else(|| bank.strip_suffix("뱅크")).unwrap_or(bank);
    match name {
        "하나" => Some("81".to_owned()),
        "SC제일" => Some("23".to_owned()),
        _ => BANKS.iter().find(|(known, _)| *known == name).map(|(_, code)| (*code).to_owned()),
    }
}

/// A payment's JSON in `version`.
pub(crate) fn payment(fake: &FakePayment, version: TossApiVersion) -> Value {
    match version {
        TossApiVersion::V1_4 => legacy(&fake.payment),
        TossApiVersion::V2022_11_16 => current(fake),
    }
}

/// A saved card's JSON in `version` (2022-11-16: as billing-issued.json).
pub(crate) fn billing(billing: &TossBilling, version: TossApiVersion) -> Value {
    match version {
        TossApiVersion::V1_4 => {
            let mut masked = billing.clone();
            masked.card_number = mask_card_number(&billing.card_number);
            serde_json::to_value(&masked).unwrap_or(Value::Null)
        }
        TossApiVersion::V2022_11_16 => json!({
            "mId": billing.m_id,
            "customerKey": billing.customer_key,
            "authenticatedAt": billing.authenticated_at,
            "method": billing.method,
            "billingKey": billing.billing_key,
            "card": {
                "issuerCode": CARD_COMPANY_CODE,
                "acquirerCode": CARD_COMPANY_CODE,
                "number": mask_card_number(&billing.card_number),
                "cardType": "신용",
                "ownerType": "개인",
            },
        }),
    }
}

fn legacy(payment: &TossPayment) -> Value {
    let mut payment = payment.clone();
    if let TossPayment::Card(card) = &mut payment {
        card.card.number = mask_card_number(&card.card.number);
    }
    payment.common_mut().version = TossApiVersion::V1_4.as_str().to_owned();
    serde_json::to_value(&payment).unwrap_or(Value::Null)
}

fn receipt_url(transaction_key: &str) -> String {
    format!("https://dashboard.tosspayments.com/receipt/redirection?transactionId={transaction_key}&ref=PX")
}

fn cancel(cancel: &TossPaymentCancel) -> Value {
    json!({
        "transactionKey": cancel.transaction_key,
        "cancelReason": cancel.cancel_reason,
        "taxExemptionAmount": 0,
        "canceledAt": cancel.canceled_at,
        "transferDiscountAmount": 0,
        "easyPayDiscountAmount": 0,
        "receiptKey": null,
        "cancelAmount": cancel.cancel_amount,
        "taxFreeAmount": cancel.tax_free_amount,
        "refundableAmount": cancel.refundable_amount,
        "cancelStatus": cancel.extra.get("cancelStatus").cloned().unwrap_or_else(|| json!("DONE")),
        "cancelRequestId": cancel.extra.get("cancelRequestId").cloned().unwrap_or(Value::Null),
    })
}

/// 1.x's `easyPay` is a provider name; 2022-11-16's an object.
fn easy_pay(value: Option<&Value>) -> Value {
    match value {
        Some(Value::String(provider)) => json!({ "provider": provider, "amount": 0, "discountAmount": 0 }),
        Some(object @ Value::Object(_)) => object.clone(),
        _ => Value::Null,
    }
}

fn current(fake: &FakePayment) -> Value {
    let payment = &fake.payment;
    let common = payment.common();
    let status = &common.status;
    let expired = *status == TossPaymentStatus::Expired;
    // No transaction exists before the confirmation, nor after a failed one.
    let transacted = !matches!(
        status,
        TossPaymentStatus::Ready
            | TossPaymentStatus::InProgress
            | TossPaymentStatus::Expired
            | TossPaymentStatus::Aborted
    );
    let last_transaction_key = common.transaction_key.as_deref().filter(|_| transacted);
    let mut receipt = last_transaction_key.map_or(Value::Null, |key| json!({ "url": receipt_url(key) }));
    let (mut card, mut virtual_account, mut transfer, mut mobile_phone, mut gift_certificate) =
        (Value::Null, Value::Null, Value::Null, Value::Null, Value::Null);
    let (mut discount, mut easy, mut secret) = (Value::Null, Value::Null, Value::Null);
    match payment {
        TossPayment::Card(paid) => {
            if transacted {
                card = json!({
                    "amount": common.total_amount,
                    "issuerCode": CARD_COMPANY_CODE,
                    "acquirerCode": CARD_COMPANY_CODE,
                    "number": mask_card_number(&paid.card.number),
                    "installmentPlanMonths": paid.card.installment_plan_months,
                    "approveNo": paid.card.approve_no,
                    "useCardPoint": paid.card.use_card_point,
                    "cardType": paid.card.card_type,
                    "ownerType": paid.card.owner_type,
                    "acquireStatus": paid.card.acquire_status,
                    "isInterestFree": paid.card.is_interest_free,
                    "interestPayer": null,
                });
                receipt = json!({ "url": paid.card.receipt_url });
            }
            discount = paid.discount.as_ref().map_or(Value::Null, |d| json!({ "amount": d.amount }));
            easy = easy_pay(paid.easy_pay.as_ref());
        }
        TossPayment::VirtualAccount(account) => {
            let va = &account.virtual_account;
            virtual_account = json!({
                "accountType": va.account_type,
                "accountNumber": va.account_number,
                "bankCode": bank_code(&va.bank).unwrap_or_else(|| va.bank.clone()),
                "customerName": va.customer_name,
                "dueDate": fake.due_at.clone().unwrap_or_else(|| va.due_date.clone()),
                "refundStatus": va.refund_status,
                "expired": va.expired,
                "settlementStatus": va.settlement_status,
                "refundReceiveAccount": null,
            });
            secret = json!(account.secret);
        }
        TossPayment::Transfer(paid) => {
            transfer = json!({
                "bankCode": bank_code(&paid.transfer.bank).unwrap_or_else(|| paid.transfer.bank.clone()),
                "settlementStatus": paid.transfer.settlement_status,
            });
        }
        TossPayment::MobilePhone(paid) => {
            // 2022-06-08 removed `carrier`.
            mobile_phone = json!({
                "customerMobilePhone": paid.mobile_phone.customer_mobile_phone,
                "settlementStatus": paid.mobile_phone.settlement_status,
                "receiptUrl": last_transaction_key.map(receipt_url),
            });
        }
        TossPayment::GiftCertificate(paid) => {
            gift_certificate = json!({
                "approveNo": paid.gift_certificate.approve_no,
                "settlementStatus": paid.gift_certificate.settlement_status,
            });
        }
        TossPayment::Other(_) => {}
    }
    if expired {
        // Toss answers an expired payment with no method and nothing of one.
        (card, virtual_account, transfer, mobile_phone, gift_certificate) =
            (Value::Null, Value::Null, Value::Null, Value::Null, Value::Null);
        (discount, easy, secret, receipt) = (Value::Null, Value::Null, Value::Null, Value::Null);
    }
    let cash_receipt = common.cash_receipt.as_ref().map_or(Value::Null, |receipt| {
        json!({
            "type": receipt.kind,
            "issueNumber": receipt.issue_number,
            "receiptUrl": receipt.receipt_url,
            "amount": receipt.amount,
            "taxFreeAmount": receipt.tax_free_amount,
        })
    });
    let cancels = common.cancels.as_ref().map_or(Value::Null, |cancels| cancels.iter().map(cancel).collect());
    let failure = fake.failure.map_or(Value::Null, |f| json!({ "code": f.code, "message": f.message }));
    json!({
        "mId": common.m_id,
        "version": TossApiVersion::V2022_11_16.as_str(),
        "lastTransactionKey": last_transaction_key,
        "paymentKey": common.payment_key,
        "orderId": common.order_id,
        "orderName": common.order_name,
        "taxExemptionAmount": 0,
        "status": status.as_str(),
        "requestedAt": common.requested_at,
        "approvedAt": common.approved_at,
        "useEscrow": if expired { Value::Null } else { json!(common.use_escrow) },
        "cultureExpense": common.culture_expense,
        "card": card,
        "virtualAccount": virtual_account,
        "transfer": transfer,
        "mobilePhone": mobile_phone,
        "giftCertificate": gift_certificate,
        "cashReceipt": cash_receipt,
        "cashReceipts": null,
        "discount": discount,
        "cancels": cancels,
        "secret": secret,
        "type": common.kind,
        "easyPay": easy,
        "country": "KR",
        "failure": failure,
        "isPartialCancelable": true,
        "receipt": receipt,
        "checkout": { "url": format!("https://api.tosspayments.com/v1/payments/{}/checkout", common.payment_key) },
        "currency": common.currency,
        "totalAmount": common.total_amount,
        "balanceAmount": common.balance_amount,
        "suppliedAmount": common.supplied_amount,
        "vat": common.vat,
        "taxFreeAmount": common.tax_free_amount,
        "method": if expired { Value::Null } else { json!(common.method) },
        "metadata": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_as_toss_does() {
        assert_eq!(mask_card_number("4330123412341234"), "43301234****123*");
        assert_eq!(mask_card_number("43301234****123*"), "43301234****123*");
        assert_eq!(mask_card_number("4000000000000002"), "40000000****000*");
        assert_eq!(mask_card_number("1234"), "****");
    }

    #[test]
    fn banks_are_numeric_codes() {
        assert_eq!(bank_code("신한").as_deref(), Some("88"));
        assert_eq!(bank_code("우리은행").as_deref(), Some("20"));
        assert_eq!(bank_code("토스뱅크").as_deref(), Some("92"));
        assert_eq!(bank_code("088").as_deref(), Some("88"));
        assert_eq!(bank_code("20").as_deref(), Some("20"));
        assert_eq!(bank_code("하나").as_deref(), Some("81"));
        assert_eq!(bank_code("nowhere"), None);
        assert_eq!(bank_code("12345"), None);
    }
}
