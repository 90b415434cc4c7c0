//! `TossNotifications`, the intake's reader of Toss's webhooks: the delivery
//! a webhook's headers name (hostile ones ignored), and what each documented
//! notification asks of the intake; the fake sends those headers as Toss
//! does, the same id on each retry of a delivery.

mod common;

use common::documented;
use payments_application::commands::NotificationTarget;
use payments_application::ports::{NotificationIntent, NotificationReader, RawNotification, Transmission};
use payments_domain::{CancelKey, VendorUid};
use payments_toss::TossNotifications;
use payments_toss::webhook::{KEEP_TRANSMISSIONS_FOR, TRANSMISSION_ID, transmission_headers};
use serde_json::json;
use std::sync::{Arc, Mutex};

fn transmission_of(headers: &[(String, String)]) -> Option<Transmission> {
    TossNotifications.transmission(&RawNotification { headers, body: b"{}" })
}

fn header(name: &str, value: &str) -> Vec<(String, String)> {
    vec![(name.to_owned(), value.to_owned())]
}

#[test]
fn the_transmission_id_header_names_the_delivery_for_eight_days() {
    // The example of docs.tosspayments.com/reference/using-api/webhook-events ("웹훅 헤더").
    let headers = transmission_headers("whtrans_a01j70335nkqqeg0zwzz2r4py9z", "2024-09-05T12:19:21+09:00", 0);
    let transmission = transmission_of(&headers).expect("named");
    assert_eq!(transmission.id(), "whtrans_a01j70335nkqqeg0zwzz2r4py9z");
    assert_eq!(transmission.keep_for, KEEP_TRANSMISSIONS_FOR);
    // Toss retries over 3 days 19 hours: every retry is within the time kept.
    let retried_for = std::time::Duration::from_secs(60 * (1 + 4 + 16 + 64 + 256 + 1024 + 4096));
    assert!(KEEP_TRANSMISSIONS_FOR > retried_for);
    // A retry carries the same id: the same delivery.
    assert_eq!(
        transmission_of(&transmission_headers("whtrans_a01", "2024-09-05T12:20:21+09:00", 1)).unwrap().id(),
        "whtrans_a01"
    );
}

#[test]
fn a_missing_or_hostile_transmission_id_names_no_delivery() {
    assert_eq!(transmission_of(&[]), None);
    assert_eq!(transmission_of(&header("tosspayments-webhook-transmission-time", "2024-09-05T12:19:21+09:00")), None);
    for hostile in ["", &"w".repeat(201), "whtrans_1\r\nx-injected: 1", "whtrans_\u{0}1", "whtrans_\u{7f}"] {
        assert_eq!(transmission_of(&header(TRANSMISSION_ID, hostile)), None, "{hostile:?}");
    }
    // Sent twice, it is ambiguous: none.
    let mut twice = header(TRANSMISSION_ID, "whtrans_1");
    twice.extend(header(TRANSMISSION_ID, "whtrans_2"));
    assert_eq!(transmission_of(&twice), None);
    // The longest taken.
    let longest = "w".repeat(Transmission::MAX_ID_BYTES);
    assert_eq!(transmission_of(&header(TRANSMISSION_ID, &longest)).map(|t| t.id().len()), Some(200));
}

#[test]
fn a_cancel_status_change_re_reads_the_payment_of_the_cancel_it_names() {
    let body = documented("v2022-11-16/webhook-cancel-status-changed.json");
    assert_eq!(
        TossNotifications.read(&body).unwrap(),
        NotificationIntent::Reread(NotificationTarget::Cancel {
            key: CancelKey::parse("6673C15BF350C3F9BF45CEFC48C7A24E").unwrap(),
            ignore_unknown: false,
        }),
        "a refund: kept until its payment is found"
    );

    // A cancel Toss could not complete refunded nothing: about a payment not
    // registered here it is only acknowledged.
    let mut aborted = body.clone();
    aborted["data"]["cancelStatus"] = json!("ABORTED");
    assert_eq!(
        TossNotifications.read(&aborted).unwrap(),
        NotificationIntent::Reread(NotificationTarget::Cancel {
            key: CancelKey::parse("6673C15BF350C3F9BF45CEFC48C7A24E").unwrap(),
            ignore_unknown: true,
        })
    );

    // Should Toss name the payment too (it documents no paymentKey there), it is re-read by it.
    let mut named = body.clone();
    named["data"]["paymentKey"] = json!("5zJ4xY7m0kODnyRpQWGrN2xqGlNvLrKwv1M9ENjbeoPaZdL6");
    assert_eq!(
        TossNotifications.read(&named).unwrap(),
        NotificationIntent::Reread(NotificationTarget::Payment {
            uid: VendorUid::parse("5zJ4xY7m0kODnyRpQWGrN2xqGlNvLrKwv1M9ENjbeoPaZdL6").unwrap(),
            ignore_unknown: false,
            order: None,
        })
    );
}

#[test]
fn a_cancel_status_change_naming_no_cancel_is_malformed() {
    let body = documented("v2022-11-16/webhook-cancel-status-changed.json");
    let mut without = body.clone();
    without["data"].as_object_mut().unwrap().remove("transactionKey");
    let error = TossNotifications.read(&without).unwrap_err();
    assert!(error.contains("data.transactionKey"), "{error}");
    let mut blank = body.clone();
    blank["data"]["transactionKey"] = json!("  ");
    assert!(TossNotifications.read(&blank).is_err());
    let mut no_data = body;
    no_data["data"] = json!(null);
    assert!(TossNotifications.read(&no_data).unwrap_err().contains("data"));
    let mut hostile = documented("v2022-11-16/webhook-cancel-status-changed.json");
    hostile["data"]["transactionKey"] = json!("k".repeat(300));
    assert!(TossNotifications.read(&hostile).unwrap_err().contains("data.transactionKey"));
}

/// Each delivery the receiver got: its headers (lower case).
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

#[poem::handler]
async fn failing_once(request: &poem::Request, seen: poem::web::Data<&Seen>) -> poem::http::StatusCode {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    let mut seen = seen.lock().unwrap();
    seen.push(headers);
    if seen.len() == 1 { poem::http::StatusCode::INTERNAL_SERVER_ERROR } else { poem::http::StatusCode::OK }
}

#[tokio::test]
async fn the_fake_names_each_delivery_and_retries_it_under_the_same_id() {
    use poem::EndpointExt;
    let seen = Seen::default();
    let receiver = payments_fakekit::serve(
        poem::Route::new().at("/hook", poem::post(failing_once)).data(seen.clone()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let fake = common::Fake::current(Some(format!("{}/hook", receiver.url()))).await;
    fake.key_in("order-transmission-1", 1_000, true).await;

    let deadline = std::time::Instant::now() + common::LIMIT;
    while seen.lock().unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "the fake did not send its webhook again");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "retried once, then answered 200");
    let header = |delivery: &[(String, String)], name: &str| {
        delivery.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no {name}"))
    };
    let id = header(&seen[0], TRANSMISSION_ID);
    assert!(id.starts_with("whtrans_"), "{id}");
    assert_eq!(header(&seen[1], TRANSMISSION_ID), id, "a retry is the same delivery");
    let retried: Vec<String> =
        seen.iter().map(|d| header(d, "tosspayments-webhook-transmission-retried-count")).collect();
    assert_eq!(retried, ["0", "1"]);
    for delivery in &seen {
        let at = header(delivery, "tosspayments-webhook-transmission-time");
        assert!(
            chrono::DateTime::parse_from_rfc3339(&at).is_ok_and(|t| t.offset().local_minus_utc() == 9 * 3600),
            "{at}"
        );
    }
    let raw: Vec<(String, String)> = seen[1].clone();
    assert_eq!(transmission_of(&raw).map(|t| t.id().to_owned()), Some(id));
    drop(fake);
    receiver.stop().await.unwrap();
}

/// About a payment not registered here, only a payment that is paid (or
/// partly refunded) may still be registered: its notification is kept for a
/// retry; one that never paid or was wholly cancelled is only acknowledged.
#[test]
fn only_a_payment_that_may_still_be_registered_is_kept_when_unknown() {
    let body = documented("v2022-11-16/webhook-payment-status-changed.json");
    for (status, kept) in [
        ("DONE", true),
        ("PARTIAL_CANCELED", true),
        ("CANCELED", false),
        ("ABORTED", false),
        ("EXPIRED", false),
        ("WAITING_FOR_DEPOSIT", false),
    ] {
        let mut claimed = body.clone();
        claimed["data"]["status"] = json!(status);
        let NotificationIntent::Reread(NotificationTarget::Payment { ignore_unknown, .. }) =
            TossNotifications.read(&claimed).unwrap()
        else {
            panic!("{status}: a re-read");
        };
        assert_eq!(ignore_unknown, !kept, "{status}");
    }
}

/// A deposit callback's `secret` far longer than Toss's is no secret of
/// Toss's: refused as malformed (400), never kept for a retry.
#[test]
fn a_deposit_callback_with_an_overlong_secret_is_malformed() {
    let callback = documented("v2022-11-16/webhook-deposit-callback.json");
    assert!(TossNotifications.read(&callback).is_ok());
    let mut long = callback.clone();
    long["secret"] = json!("s".repeat(257));
    assert!(TossNotifications.read(&long).unwrap_err().contains("secret"));
}
