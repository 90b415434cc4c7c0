//! Operators against each database: the use cases (sign-in with password
//! and TOTP, lockouts, sessions that end when idle, the audit trail) over
//! the real store, hasher and TOTP.

#[macro_use]
mod harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::*;
use payments_application::ports::{Clock, IdGenerator};
use payments_application::{ConsolePolicy, OperatorError, OperatorService, PasswordPolicy, RequestContext};
use payments_crypto::totp::{self, Totp};
use payments_crypto::{Argon2Hasher, Argon2Params};
use payments_domain::*;

suite!(
    a_support_operator_signs_in_with_password_and_a_code_used_once,
    wrong_sign_ins_lock_the_name_and_unknown_names_cost_the_same_and_are_audited,
    an_idle_session_ends_and_is_audited_and_a_disabled_operator_is_signed_out,
    a_reset_gives_a_new_password_and_secret_and_ends_sessions,
    names_are_unique_and_fields_are_checked,
    the_audit_trail_is_kept_forever_unless_a_retention_is_set,
);

/// A clock the test moves.
struct TestClock(Mutex<Timestamp>);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

impl TestClock {
    fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += chrono::Duration::from_std(by).unwrap();
    }
}

struct V7;

impl IdGenerator for V7 {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}

fn service(db: &TestDb) -> (OperatorService, Arc<TestClock>) {
    let clock = Arc::new(TestClock(Mutex::new(at(0))));
    let service = OperatorService::new(
        db.repos.operators.clone(),
        db.repos.attempts.clone(),
        Arc::new(Argon2Hasher::new(Argon2Params::TEST, 2).unwrap()),
        Arc::new(Totp { issuer: "payments test".into() }),
        clock.clone(),
        Arc::new(V7),
        ConsolePolicy {
            passwords: PasswordPolicy { max_failures: 3, ..ConsolePolicy::default().passwords },
            ..ConsolePolicy::default()
        },
    );
    (service, clock)
}

fn context() -> RequestContext {
    RequestContext { request_id: Some("req-1".into()), address: Some("127.0.0.1".into()) }
}

/// The secret of an `otpauth://` URI.
fn secret_of(uri: &str) -> Vec<u8> {
    totp::secret_of_uri(uri).expect("a secret")
}

/// The code of `secret` at `now`, shifted by `steps`.
fn code(secret: &[u8], now: Timestamp, steps: i64) -> String {
    let step = totp::step_of(now.timestamp() + steps * totp::STEP_SECONDS);
    format!("{:06}", totp::code_at(secret, step, totp::DIGITS))
}

async fn actions(service: &OperatorService) -> Vec<(String, AuditAction, String)> {
    let page = service.audit_page(None, 100).await.unwrap();
    page.into_iter().rev().map(|e| (e.actor, e.action, e.outcome)).collect()
}

async fn a_support_operator_signs_in_with_password_and_a_code_used_once(db: &TestDb) {
    let (service, clock) = service(db);
    let issued = service.add("Kim", Role::Support, None, None, &context()).await.unwrap();
    assert_eq!(issued.operator.name.as_str(), "kim");
    assert_eq!(issued.password.chars().count(), 20, "a generated password");
    let uri = issued.totp_uri.clone().expect("support moves money: a second factor");
    let secret = secret_of(&uri);
    let now = clock.now();

    // Without the code, or with a wrong one: refused.
    let no_code = service.sign_in("kim", &issued.password, "", &context()).await.unwrap_err();
    assert!(matches!(no_code, OperatorError::SignInRefused), "{no_code:?}");
    let signed = service.sign_in("KIM", &issued.password, &code(&secret, now, 0), &context()).await.unwrap();
    assert_eq!(signed.operator.id, issued.operator.id);
    assert_eq!(signed.token.len(), 64);
    // The same code again (a replay, on any instance): refused; the next step's code works.
    let replay = service.sign_in("kim", &issued.password, &code(&secret, now, 0), &context()).await.unwrap_err();
    assert!(matches!(replay, OperatorError::SignInRefused), "{replay:?}");
    service.sign_in("kim", &issued.password, &code(&secret, now, 1), &context()).await.unwrap();

    let (operator, session) = service.authenticate(&signed.token, &context()).await.unwrap();
    assert_eq!((operator.role, session.csrf_token.len()), (Role::Support, 64));
    service.sign_out(&operator, &signed.token, &context()).await.unwrap();
    let after = service.authenticate(&signed.token, &context()).await.unwrap_err();
    assert!(matches!(after, OperatorError::SignedOut { expired: false }), "{after:?}");

    // A viewer signs in with the password alone.
    let viewer = service.add("lee", Role::Viewer, Some("a long viewer password".into()), None, &context()).await;
    assert!(viewer.unwrap().totp_uri.is_none());
    service.sign_in("lee", "a long viewer password", "", &context()).await.unwrap();

    let trail = actions(&service).await;
    let kinds: Vec<AuditAction> = trail.iter().map(|(_, action, _)| *action).collect();
    assert_eq!(
        kinds,
        vec![
            AuditAction::OperatorAdded,
            AuditAction::LoginFailed,
            AuditAction::Login,
            AuditAction::LoginFailed,
            AuditAction::Login,
            AuditAction::Logout,
            AuditAction::OperatorAdded,
            AuditAction::Login,
        ]
    );
    assert_eq!(trail[0].0, "command line");
    assert_eq!(trail[3].2, "refused: wrong or reused code");
    let first = &service.audit_page(None, 100).await.unwrap()[7];
    assert_eq!((first.request_id.as_deref(), first.address.as_deref()), (Some("req-1"), Some("127.0.0.1")));
    // Nothing secret in the trail.
    let dump = db.dump().await;
    assert!(!dump.contains(&issued.password), "the password is stored as a hash only");
    assert!(!dump.contains(&signed.token), "the session token is stored as a digest only");
    assert!(!dump.contains(uri.split("secret=").nth(1).unwrap().split('&').next().unwrap()), "the secret is sealed");
}

async fn wrong_sign_ins_lock_the_name_and_unknown_names_cost_the_same_and_are_audited(db: &TestDb) {
    let (service, clock) = service(db);
    let issued = service.add("park", Role::Viewer, Some("the right password".into()), None, &context()).await.unwrap();
    for _ in 0..3 {
        let wrong = service.sign_in("park", "a wrong password", "", &context()).await.unwrap_err();
        assert!(matches!(wrong, OperatorError::SignInRefused), "{wrong:?}");
    }
    // Locked now: even the right password is refused until the lock ends.
    let locked = service.sign_in("park", "the right password", "", &context()).await.unwrap_err();
    let OperatorError::Locked { retry_after } = locked else { panic!("expected a lock, got {locked:?}") };
    assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(60), "{retry_after:?}");
    clock.advance(Duration::from_secs(61));
    service.sign_in("park", &issued.password, "", &context()).await.unwrap();

    let unknown = service.sign_in("nobody", "whatever password", "", &context()).await.unwrap_err();
    assert!(matches!(unknown, OperatorError::SignInRefused), "one answer for an unknown name: {unknown:?}");
    let invalid = service.sign_in("<script>", "x", "", &context()).await.unwrap_err();
    assert!(matches!(invalid, OperatorError::SignInRefused), "{invalid:?}");
    let trail = actions(&service).await;
    let last = &trail[trail.len() - 2..];
    assert_eq!(last[0], ("nobody".into(), AuditAction::LoginFailed, "refused: unknown or disabled name".into()));
    assert_eq!(last[1].0, "<script>", "what was typed is kept (bounded), as text");
    assert!(trail.iter().any(|(_, _, outcome)| outcome == "refused: locked"));
}

async fn an_idle_session_ends_and_is_audited_and_a_disabled_operator_is_signed_out(db: &TestDb) {
    let (service, clock) = service(db);
    service.add("choi", Role::Viewer, Some("choi's password!".into()), None, &context()).await.unwrap();
    let signed = service.sign_in("choi", "choi's password!", "", &context()).await.unwrap();
    // Used within the idle time: it lives on.
    clock.advance(Duration::from_secs(14 * 60));
    service.authenticate(&signed.token, &context()).await.unwrap();
    clock.advance(Duration::from_secs(14 * 60));
    service.authenticate(&signed.token, &context()).await.unwrap();
    // Idle past it: ended, audited.
    clock.advance(Duration::from_secs(16 * 60));
    let ended = service.authenticate(&signed.token, &context()).await.unwrap_err();
    assert!(matches!(ended, OperatorError::SignedOut { expired: true }), "{ended:?}");
    assert!(actions(&service).await.iter().any(|(_, action, _)| *action == AuditAction::SessionExpired));

    let again = service.sign_in("choi", "choi's password!", "", &context()).await.unwrap();
    service.disable("choi", None, &context()).await.unwrap();
    let gone = service.authenticate(&again.token, &context()).await.unwrap_err();
    assert!(matches!(gone, OperatorError::SignedOut { .. }), "{gone:?}");
    let refused = service.sign_in("choi", "choi's password!", "", &context()).await.unwrap_err();
    assert!(matches!(refused, OperatorError::SignInRefused), "{refused:?}");
    let listed = service.list().await.unwrap();
    assert!(listed[0].disabled_at.is_some());
    assert_eq!(db.count("payment_operator_sessions").await, 0);
}

async fn a_reset_gives_a_new_password_and_secret_and_ends_sessions(db: &TestDb) {
    let (service, clock) = service(db);
    let first = service.add("jung", Role::Admin, None, None, &context()).await.unwrap();
    let old_secret = secret_of(first.totp_uri.as_deref().unwrap());
    let signed =
        service.sign_in("jung", &first.password, &code(&old_secret, clock.now(), 0), &context()).await.unwrap();
    let reset = service.reset("jung", None, None, &context()).await.unwrap();
    assert_ne!(reset.password, first.password);
    let new_secret = secret_of(reset.totp_uri.as_deref().unwrap());
    assert_ne!(new_secret, old_secret);
    assert!(service.authenticate(&signed.token, &context()).await.is_err(), "sessions end at a reset");
    let now = clock.now();
    let old = service.sign_in("jung", &first.password, &code(&new_secret, now, 0), &context()).await;
    assert!(old.is_err(), "the old password is refused");
    // The code's step was reset too: the same step's code is accepted once more.
    service.sign_in("jung", &reset.password, &code(&new_secret, now, 0), &context()).await.unwrap();
    assert!(matches!(service.reset("nobody", None, None, &context()).await, Err(OperatorError::NotFound(_))));
}

async fn names_are_unique_and_fields_are_checked(db: &TestDb) {
    let (service, _) = service(db);
    service.add("yoon", Role::Viewer, None, None, &context()).await.unwrap();
    let taken = service.add("Yoon", Role::Admin, None, None, &context()).await.unwrap_err();
    assert!(matches!(taken, OperatorError::Taken(ref name) if name == "yoon"), "{taken:?}");
    let short = service.add("han", Role::Viewer, Some("short".into()), None, &context()).await.unwrap_err();
    assert!(matches!(short, OperatorError::Invalid { field: "password", .. }), "{short:?}");
    let bad = service.add("a b", Role::Viewer, None, None, &context()).await.unwrap_err();
    assert!(matches!(bad, OperatorError::Invalid { field: "name", .. }), "{bad:?}");
    assert_eq!(service.list().await.unwrap().len(), 1);
}

async fn the_audit_trail_is_kept_forever_unless_a_retention_is_set(db: &TestDb) {
    let (service, clock) = service(db);
    service.add("kang", Role::Viewer, None, None, &context()).await.unwrap();
    clock.advance(Duration::from_secs(400 * 86_400));
    assert_eq!(service.purge_expired_audit().await.unwrap(), 0, "no retention: nothing deleted");
    assert_eq!(db.count("payment_operator_audit").await, 1);

    let kept_a_year = OperatorService::new(
        db.repos.operators.clone(),
        db.repos.attempts.clone(),
        Arc::new(Argon2Hasher::new(Argon2Params::TEST, 2).unwrap()),
        Arc::new(Totp { issuer: "payments test".into() }),
        clock.clone(),
        Arc::new(V7),
        ConsolePolicy { audit_retention: Some(Duration::from_secs(365 * 86_400)), ..ConsolePolicy::default() },
    );
    kept_a_year.add("seo", Role::Viewer, None, None, &context()).await.unwrap();
    assert_eq!(kept_a_year.purge_expired_audit().await.unwrap(), 1, "the entry older than a year");
    let left = kept_a_year.audit_page(None, 10).await.unwrap();
    assert_eq!(left.iter().map(|e| e.record.clone().unwrap()).collect::<Vec<_>>(), vec!["operator:seo".to_owned()]);
}
