//! The console's data as JSON under `/admin/api` (the same session as the
//! pages: the `payments_console` cookie), described by its own OpenAPI
//! document (`openapi/admin.json`). Reads only: actions stay on the pages,
//! where every form carries its CSRF token.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use payments_application::ports::{FeedDelivery, PaymentRow, PaymentStateFilter, SearchTotals, TimelineEvent};
use payments_application::{OperatorError, RequestContext};
use payments_domain::{AuditAction, AuditEntry, AuditId, HistoryId, Operator, PaymentHistory, Permission};
use payments_wire::WireAmount;
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, OpenApiService};
use serde_json::Value;

use crate::{AUDIT_PAGE, ConsoleState, PAGE, TIMELINE, context, pages, parse_search, session_token};

/// An error: what went wrong, and the field when one is to blame.
#[derive(Debug, Object)]
pub struct Problem {
    /// `INVALID_FIELD`, `SIGNED_OUT`, `FORBIDDEN`, `NOT_FOUND`, `UNAVAILABLE` or `INTERNAL`.
    pub code: String,
    pub message: String,
    #[oai(skip_serializing_if_is_none)]
    pub param: Option<String>,
}

fn problem(code: &str, message: impl Into<String>, param: Option<&str>) -> Json<Problem> {
    Json(Problem { code: code.into(), message: message.into(), param: param.map(str::to_owned) })
}

/// Where a payment comes from in the backend: `source`.
#[derive(Debug, Object)]
pub struct SourceObject {
    pub schema: String,
    pub table: String,
    pub id: String,
}

/// A payment as a search lists it.
#[derive(Debug, Object)]
pub struct PaymentSummary {
    pub id: uuid::Uuid,
    pub vendor_code: String,
    pub store_id: String,
    /// The PG's payment id.
    pub uid: String,
    pub source: SourceObject,
    pub currency: String,
    pub price: WireAmount,
    pub refund: WireAmount,
    /// `paid`, `awaiting_payment`, `partly_refunded` or `refunded`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub paid_at: Option<DateTime<Utc>>,
    /// The client whose payment it is; absent for the legacy client's.
    #[oai(skip_serializing_if_is_none)]
    pub client: Option<uuid::Uuid>,
}

impl From<&PaymentRow> for PaymentSummary {
    fn from(row: &PaymentRow) -> Self {
        PaymentSummary {
            id: row.id.as_uuid(),
            vendor_code: row.vendor.code.as_str().into(),
            store_id: row.vendor.store_id.as_str().into(),
            uid: row.vendor.uid.as_str().into(),
            source: SourceObject {
                schema: row.source.schema.as_str().into(),
                table: row.source.table.as_str().into(),
                id: row.source.id.as_str().into(),
            },
            currency: row.currency.as_str().into(),
            price: row.price.into(),
            refund: row.refund.into(),
            state: PaymentStateFilter::of(row.price, row.refund, row.paid_at.is_some()).as_str().into(),
            created_at: row.created_at,
            paid_at: row.paid_at,
            client: (!row.client.is_legacy()).then(|| row.client.as_uuid()),
        }
    }
}

/// The sums of one currency's payments in a search's whole result.
#[derive(Debug, Object)]
pub struct CurrencyTotal {
    pub currency: String,
    pub price: WireAmount,
    pub refund: WireAmount,
}

/// A page of a search, newest first, with the totals of the whole result.
#[derive(Debug, Object)]
pub struct PaymentPage {
    pub payments: Vec<PaymentSummary>,
    /// Payments the whole search matches.
    pub count: u64,
    pub totals: Vec<CurrencyTotal>,
    /// The `before` of the next page; absent on the last.
    #[oai(skip_serializing_if_is_none)]
    pub next_before: Option<uuid::Uuid>,
}

fn totals(totals: &SearchTotals) -> Vec<CurrencyTotal> {
    totals
        .per_currency
        .iter()
        .map(|(currency, price, refund)| CurrencyTotal {
            currency: currency.as_str().into(),
            price: (*price).into(),
            refund: (*refund).into(),
        })
        .collect()
}

/// A cancel of a payment: done, or accepted by the PG and not completed yet.
#[derive(Debug, Object)]
pub struct CancelObject {
    pub amount: WireAmount,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub pending: bool,
}

/// One delivery attempt: when, and the receiver's status (absent: unreachable).
#[derive(Debug, Object)]
pub struct AttemptObject {
    pub at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub status: Option<u16>,
}

/// One change of the payment and its webhook.
#[derive(Debug, Object)]
pub struct TimelineItem {
    /// The event's id: the `webhook-id` of its deliveries.
    pub event_id: uuid::Uuid,
    pub at: DateTime<Utc>,
    /// What caused it: `cancel`, `reconcile`, `reread`, `order_completed`,
    /// `charge_recorded`, or the PG's own event name for its notification.
    pub cause: String,
    /// Who, when an operator or a process says so.
    #[oai(skip_serializing_if_is_none)]
    pub by: Option<String>,
    /// Refunded in all after the change.
    pub refund: WireAmount,
    /// `pending`, `retrying`, `delivered`, `failed` or `settled`.
    pub delivery: String,
    pub attempts: Vec<AttemptObject>,
}

/// A payment with its cancels and its timeline.
#[derive(Debug, Object)]
pub struct PaymentDetail {
    pub payment: PaymentSummary,
    #[oai(skip_serializing_if_is_none)]
    pub order_id: Option<String>,
    pub remaining: WireAmount,
    pub cancels: Vec<CancelObject>,
    pub timeline: Vec<TimelineItem>,
}

/// One audited action.
#[derive(Debug, Object)]
pub struct AuditObject {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    #[oai(skip_serializing_if_is_none)]
    pub record: Option<String>,
    pub outcome: String,
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub address: Option<String>,
}

/// A page of the audit trail, newest first.
#[derive(Debug, Object)]
pub struct AuditPage {
    pub entries: Vec<AuditObject>,
    #[oai(skip_serializing_if_is_none)]
    pub next_before: Option<uuid::Uuid>,
}

#[derive(ApiResponse)]
pub enum Answer<T: poem_openapi::types::ToJSON + Send + Sync> {
    #[oai(status = 200)]
    Ok(Json<T>),
    /// A field is invalid (`param` names it).
    #[oai(status = 400)]
    Invalid(Json<Problem>),
    /// No session, or it ended (sign in on the console's `/login`).
    #[oai(status = 401)]
    SignedOut(Json<Problem>),
    /// The operator's role does not allow it (audited).
    #[oai(status = 403)]
    Forbidden(Json<Problem>),
    #[oai(status = 404)]
    NotFound(Json<Problem>),
    /// Storage or the hashing queue is busy: retry.
    #[oai(status = 503)]
    Unavailable(Json<Problem>),
    #[oai(status = 500)]
    Internal(Json<Problem>),
}

fn refused<T: poem_openapi::types::ToJSON + Send + Sync>(error: OperatorError) -> Answer<T> {
    match error {
        OperatorError::SignedOut { expired } => {
            let why = if expired { "the session ended after being idle" } else { "not signed in" };
            Answer::SignedOut(problem("SIGNED_OUT", why, None))
        }
        OperatorError::Forbidden { role } => {
            Answer::Forbidden(problem("FORBIDDEN", format!("your role ({role}) does not allow this"), None))
        }
        OperatorError::Unavailable(message) => Answer::Unavailable(problem("UNAVAILABLE", message, None)),
        other => {
            tracing::error!(error = %other, "console API request failed");
            Answer::Internal(problem("INTERNAL", "the request failed; it is logged", None))
        }
    }
}

async fn operator(state: &ConsoleState, request: &Request) -> Result<Operator, OperatorError> {
    let token = session_token(request).ok_or(OperatorError::SignedOut { expired: false })?;
    Ok(state.operators.authenticate(&token, &context(request)).await?.0)
}

fn delivery_name(delivery: FeedDelivery) -> &'static str {
    match delivery {
        FeedDelivery::Pending => "pending",
        FeedDelivery::Retrying { .. } => "retrying",
        FeedDelivery::Delivered => "delivered",
        FeedDelivery::Failed => "failed",
        FeedDelivery::Settled => "settled",
    }
}

fn timeline_item(item: &TimelineEvent) -> TimelineItem {
    let trigger = item.event.trigger();
    let text = |key: &str| trigger.get(key).and_then(Value::as_str);
    TimelineItem {
        event_id: item.event.id().as_uuid(),
        at: item.event.created_at(),
        cause: text("type").or(text("eventType")).or(text("status")).unwrap_or("change").to_owned(),
        by: text("by").map(str::to_owned),
        refund: item.event.current().refund().into(),
        delivery: delivery_name(item.delivery).into(),
        attempts: item.attempts.iter().map(|a| AttemptObject { at: a.at, status: a.status }).collect(),
    }
}

fn detail(history: &PaymentHistory, timeline: &[TimelineEvent]) -> PaymentDetail {
    let row = PaymentRow {
        id: history.id(),
        vendor: history.vendor().clone(),
        source: history.source().clone(),
        currency: history.currency().clone(),
        price: history.price(),
        refund: history.refund(),
        created_at: history.created_at(),
        paid_at: history.paid_at(),
        cancelled_at: history.cancelled_at(),
        client: history.identity().client,
    };
    let cancel = |pending: bool| {
        move |c: &payments_domain::CancelHistory| CancelObject {
            amount: c.price.into(),
            reason: c.reason.as_str().into(),
            created_at: c.created_at,
            pending,
        }
    };
    PaymentDetail {
        payment: PaymentSummary::from(&row),
        order_id: history.order_id().map(|o| o.as_str().to_owned()),
        remaining: history.remaining().into(),
        cancels: history
            .cancels()
            .iter()
            .map(cancel(false))
            .chain(history.pending_cancels().iter().map(cancel(true)))
            .collect(),
        timeline: timeline.iter().map(timeline_item).collect(),
    }
}

/// The console's JSON API.
pub struct AdminApi;

#[OpenApi]
impl AdminApi {
    /// Find payments
    ///
    /// Every given filter must match; newest first, `PAGE` (50) at a time
    /// (`before`: the `next_before` of the previous page); with the count
    /// and the exact totals per currency of the whole result.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/payments", method = "get", operation_id = "searchPayments")]
    async fn search_payments(
        &self,
        state: Data<&Arc<ConsoleState>>,
        request: &Request,
        /// The backend's order number (`source.id`), exact.
        source_id: Query<Option<String>>,
        /// The PG's order id, exact.
        order_id: Query<Option<String>>,
        /// The PG's payment id, exact.
        uid: Query<Option<String>>,
        /// `iamport`, `toss.payments` or `portone`.
        vendor: Query<Option<String>>,
        /// `paid`, `awaiting_payment`, `partly_refunded` or `refunded`.
        #[oai(name = "state")]
        payment_state: Query<Option<String>>,
        /// Registered on or after this day (YYYY-MM-DD, UTC).
        from: Query<Option<String>>,
        /// Registered on or before this day (YYYY-MM-DD, UTC).
        to: Query<Option<String>>,
        /// Least price.
        min: Query<Option<String>>,
        /// Most price.
        max: Query<Option<String>>,
        /// The `next_before` of the previous page.
        before: Query<Option<String>>,
    ) -> Answer<PaymentPage> {
        if let Err(error) = operator(&state, request).await {
            return refused(error);
        }
        let fields = pages::SearchFields {
            source_id: source_id.0.unwrap_or_default(),
            order_id: order_id.0.unwrap_or_default(),
            uid: uid.0.unwrap_or_default(),
            vendor: vendor.0.unwrap_or_default(),
            state: payment_state.0.unwrap_or_default(),
            from: from.0.unwrap_or_default(),
            to: to.0.unwrap_or_default(),
            min: min.0.unwrap_or_default(),
            max: max.0.unwrap_or_default(),
            before: before.0.unwrap_or_default(),
        };
        let search = match parse_search(&fields) {
            Ok(search) => search,
            Err(errors) => {
                let (param, message) = errors.into_iter().next().unwrap_or(("", String::new()));
                return Answer::Invalid(problem("INVALID_FIELD", format!("{param}: {message}"), Some(param)));
            }
        };
        let (rows, sums) = tokio::join!(state.queries.search_payments(&search), state.queries.search_totals(&search));
        let (mut rows, sums) = match (rows, sums) {
            (Ok(rows), Ok(sums)) => (rows, sums),
            (Err(error), _) | (_, Err(error)) => return refused(error.into()),
        };
        let more = rows.len() > PAGE as usize;
        rows.truncate(PAGE as usize);
        Answer::Ok(Json(PaymentPage {
            payments: rows.iter().map(PaymentSummary::from).collect(),
            count: sums.count,
            totals: totals(&sums),
            next_before: if more { rows.last().map(|r| r.id.as_uuid()) } else { None },
        }))
    }

    /// Read a payment
    ///
    /// Its amounts, identifiers, cancels and timeline (each change, its
    /// cause and its webhook's delivery attempts). Audited as a view.
    #[oai(path = "/payments/:id", method = "get", operation_id = "getPayment")]
    async fn get_payment(
        &self,
        state: Data<&Arc<ConsoleState>>,
        request: &Request,
        /// The payment's id.
        id: Path<uuid::Uuid>,
    ) -> Answer<PaymentDetail> {
        let operator = match operator(&state, request).await {
            Ok(operator) => operator,
            Err(error) => return refused(error),
        };
        let context: RequestContext = context(request);
        if let Err(error) = state.operators.require(&operator, Permission::Read, "view a payment", &context).await {
            return refused(error);
        }
        let id = HistoryId::from_uuid(id.0);
        let history = match state.histories.find_by_id(id).await {
            Ok(Some(stored)) => stored.history,
            Ok(None) => return Answer::NotFound(problem("NOT_FOUND", "there is no such payment", None)),
            Err(error) => return refused(error.into()),
        };
        let timeline = match state.queries.payment_timeline(id, TIMELINE).await {
            Ok(timeline) => timeline,
            Err(error) => return refused(error.into()),
        };
        let record = Some(format!("history:{id}"));
        state.operators.audit(Some(&operator), AuditAction::ViewPayment, record, "ok".into(), &context).await;
        Answer::Ok(Json(detail(&history, &timeline)))
    }

    /// Read the audit trail
    ///
    /// Newest first, a page at a time (`before`: the `next_before` of the
    /// previous page). Admins only.
    #[oai(path = "/audit", method = "get", operation_id = "getAudit")]
    async fn get_audit(
        &self,
        state: Data<&Arc<ConsoleState>>,
        request: &Request,
        /// The `next_before` of the previous page.
        before: Query<Option<uuid::Uuid>>,
    ) -> Answer<AuditPage> {
        let operator = match operator(&state, request).await {
            Ok(operator) => operator,
            Err(error) => return refused(error),
        };
        let context = context(request);
        if let Err(error) =
            state.operators.require(&operator, Permission::ReadAudit, "read the audit log", &context).await
        {
            return refused(error);
        }
        let mut entries = match state.operators.audit_page(before.0.map(AuditId::from_uuid), AUDIT_PAGE + 1).await {
            Ok(entries) => entries,
            Err(error) => return refused(error),
        };
        let more = entries.len() > AUDIT_PAGE as usize;
        entries.truncate(AUDIT_PAGE as usize);
        let next_before = if more { entries.last().map(|e| e.id.as_uuid()) } else { None };
        Answer::Ok(Json(AuditPage { entries: entries.iter().map(audit_object).collect(), next_before }))
    }
}

fn audit_object(entry: &AuditEntry) -> AuditObject {
    AuditObject {
        id: entry.id.as_uuid(),
        at: entry.at,
        actor: entry.actor.clone(),
        action: entry.action.as_str().into(),
        record: entry.record.clone(),
        outcome: entry.outcome.clone(),
        request_id: entry.request_id.clone(),
        address: entry.address.clone(),
    }
}

const TITLE: &str = "payments console API";
const DESCRIPTION: &str = "The operators' console's data as JSON, on the console's own listener (`PAYMENT_ADMIN_ADDR`), under `/admin/api`. A request carries the session of an operator signed in on the console (the `payments_console` cookie, HttpOnly, SameSite=Strict); its role decides what it reads, and every view of a payment is audited. Reads only: refunds, re-reads and redeliveries are made on the console's pages, whose forms carry a CSRF token. Errors are JSON `{\"code\", \"message\", \"param\"}`.";

pub(crate) fn service() -> OpenApiService<AdminApi, ()> {
    OpenApiService::new(AdminApi, TITLE, env!("CARGO_PKG_VERSION")).description(DESCRIPTION).server("/admin/api")
}

/// The OpenAPI document of the console's JSON API, pretty-printed and
/// deterministic: what `payments openapi --console` writes to
/// `openapi/admin.json`.
pub fn openapi_json() -> String {
    let spec = service().spec();
    let Ok(mut document) = serde_json::from_str::<Value>(&spec) else { return spec };
    // The session cookie is every operation's credential.
    document["components"]["securitySchemes"] = serde_json::json!({
        "operatorSession": {
            "type": "apiKey",
            "in": "cookie",
            "name": crate::COOKIE,
            "description": "The session of an operator signed in on the console's /login (password, and a TOTP code for support and admin)."
        }
    });
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for operations in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in operations.values_mut().filter_map(Value::as_object_mut) {
                operation.insert("security".into(), serde_json::json!([{ "operatorSession": [] }]));
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&document).unwrap_or(spec);
    text.push('\n');
    text
}
