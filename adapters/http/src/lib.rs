//! The HTTP API of the payment server (poem + poem-openapi).
//!
//! - [`app`]: every route of the wire contract, `/openapi.json`, Swagger UI at
//!   `/docs`, JSON errors everywhere (unknown routes included), a 1 MiB body
//!   limit (413), a request id per request (span, header, error bodies), one
//!   tracing line and the request metrics per request.
//! - [`Encrypted`]: the `text/plain` AES-CBC body of the original SDK.
//! - [`openapi_json`]: the OpenAPI document, generated from the code; the
//!   committed `openapi/payments.json` must equal it.

mod api;
mod caller;
mod diagnose;
mod encrypted;
mod error;
mod idempotency;
mod monitors;
mod notification;

use payments_wire::ErrorCode;
use std::sync::Arc;
use std::time::Instant;

use payments_application::ports::{IdempotencyStore, NotificationReader};
use payments_application::{DeliveryService, PaymentService};
use payments_crypto::WireCipher;
use payments_domain::VendorCode;
use payments_metrics::Metrics;
use poem::endpoint::make_sync;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, EndpointExt, IntoResponse, PathPattern, Request, Response, Route, get};
use poem_openapi::OpenApiService;
use serde_json::Value;
use tracing::Instrument;

pub use api::{HealthAnswer, IamportWebhookRequest, PaymentsApi, WebhookAck};
pub use caller::Caller;
pub use encrypted::{
    ENCRYPTED_CONTENT_TYPE, Encrypted, EncryptedCreated, EncryptedCreatedOrOk, EncryptedOk, EncryptedOkOrAccepted,
    EncryptedReply, Envelope, PLAIN_JSON_CONTENT_TYPE, canonical_json, decrypt_body,
};
pub use error::{
    ApiError, CancelError, ChargeError, FeedError, MonitorError, OrderError, ReadError, RegisterError, RemoveCardError,
    SaveCardError, WebhookError, status_of, statuses_of,
};
pub use idempotency::{IdempotencySecret, KEY_RETENTION, MAX_KEY_CHARS, fingerprint, scope};
pub use monitors::SystemInfo;

/// Largest accepted request body; larger ones answer 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Everything the routes need. Built once by the binary.
pub struct HttpState {
    /// The payment use cases.
    pub payments: PaymentService,
    /// The webhook delivery use case, for the queue counts of
    /// `/monitors/performance`; `None` when this process does not deliver.
    pub delivery: Option<DeliveryService>,
    /// The connection cipher (`PAYMENT_CONNECTION_ENCRYPTION_KEY/IV`).
    pub cipher: WireCipher,
    /// Local mode: unreadable bodies are answered with what was wrong.
    pub local_mode: bool,
    /// Where `Idempotency-Key`s are kept (shared by every instance).
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Who this process is.
    pub system: SystemInfo,
    /// How each PG's notifications are read, by vendor.
    pub notifications: std::collections::HashMap<VendorCode, Arc<dyn NotificationReader>>,
    /// How long an unanswered `Idempotency-Key` claim belongs to its request;
    /// after that its process is taken for dead and a retry proceeds.
    pub idempotency_lease: std::time::Duration,
    /// Where requests and notifications are counted.
    pub metrics: Metrics,
    /// Keys idempotency fingerprints and scopes (the same on every instance).
    pub idempotency_secret: IdempotencySecret,
    /// Longest a request may run before it is answered 503.
    pub request_deadline: std::time::Duration,
    /// The clients, who call with their own API keys; `None`: the legacy client only.
    pub clients: Option<payments_application::ClientService>,
    /// Whether a request without an API key runs as the legacy client
    /// (`PAYMENT_LEGACY_CLIENT`); else it is 401.
    pub legacy_client: bool,
    /// Requests a second of a client that names no rate of its own.
    pub client_rate: u32,
    /// Each client's requests, counted.
    pub client_rates: Arc<caller::ClientRates>,
}

impl HttpState {
    /// Gathers the state of the routes.
    pub fn new(
        payments: PaymentService,
        delivery: Option<DeliveryService>,
        cipher: WireCipher,
        idempotency: Arc<dyn IdempotencyStore>,
        system: SystemInfo,
        local_mode: bool,
    ) -> Self {
        Self {
            payments,
            delivery,
            cipher,
            local_mode,
            idempotency,
            system,
            notifications: Default::default(),
            idempotency_lease: DEFAULT_IDEMPOTENCY_LEASE,
            metrics: Metrics::new(),
            idempotency_secret: IdempotencySecret::random(),
            request_deadline: DEFAULT_REQUEST_DEADLINE,
            clients: None,
            legacy_client: true,
            client_rate: DEFAULT_CLIENT_RATE,
            client_rates: Arc::default(),
        }
    }

    /// Allows a client that names no rate of its own `rate` requests a second.
    #[must_use]
    pub fn with_client_rate(mut self, rate: u32) -> Self {
        self.client_rate = rate.max(1);
        self
    }

    /// Authenticates clients' API keys with `clients`; `legacy_client`:
    /// whether a request without a key runs as the legacy client.
    #[must_use]
    pub fn with_clients(mut self, clients: payments_application::ClientService, legacy_client: bool) -> Self {
        self.clients = Some(clients);
        self.legacy_client = legacy_client;
        self
    }

    /// Answers 503 to a request still running after `deadline`.
    #[must_use]
    pub fn with_request_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.request_deadline = deadline;
        self
    }

    /// Keys idempotency fingerprints with `secret`; instances sharing a
    /// database must share it (by default a random one of this process).
    #[must_use]
    pub fn with_idempotency_secret(mut self, secret: IdempotencySecret) -> Self {
        self.idempotency_secret = secret;
        self
    }

    /// Counts requests and notifications in `metrics` (by default, in a
    /// registry of their own that nothing reads).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Sets how long an unanswered `Idempotency-Key` claim belongs to its request.
    #[must_use]
    pub fn with_idempotency_lease(mut self, lease: std::time::Duration) -> Self {
        self.idempotency_lease = lease;
        self
    }

    /// Reads `vendor`'s notifications with `reader`.
    #[must_use]
    pub fn with_notifications(mut self, vendor: VendorCode, reader: Arc<dyn NotificationReader>) -> Self {
        self.notifications.insert(vendor, reader);
        self
    }
}

const TITLE: &str = "payments";

/// The default [`HttpState::client_rate`].
pub const DEFAULT_CLIENT_RATE: u32 = 100;

/// The default [`HttpState::request_deadline`]: several PG calls' worth.
pub const DEFAULT_REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// The default [`HttpState::idempotency_lease`]: longer than any request runs.
pub const DEFAULT_IDEMPOTENCY_LEASE: std::time::Duration = std::time::Duration::from_secs(120);
const DESCRIPTION: &str = "An integrated payment server between your backends and payment gateways (Iamport, Toss Payments, PortOne).\n\nThe payment operations take and return the JSON shown in one of two forms. A client added with `payments clients add --plain-json` sends `Authorization: Bearer <its API key>` and plain `application/json` bodies, and is answered in `application/json`: a generator needs nothing more. Every other caller uses the AES envelope of the original SDK, which operations marked `x-encrypted: true` document as `text/plain`: the base64 of AES-CBC with PKCS#7 padding over the UTF-8 JSON shown, with the caller's wire key (16 or 32 bytes: AES-128 or AES-256) and 16-byte IV (a client's own, or, without an API key, the legacy client's connection key). The monitors `/monitors/system` and `/monitors/performance` answer in that envelope only, with the connection key. Errors are never encrypted: every route answers them as JSON `{\"code\", \"message\"}`.";

fn service() -> OpenApiService<PaymentsApi, ()> {
    OpenApiService::new(PaymentsApi, TITLE, env!("CARGO_PKG_VERSION")).description(DESCRIPTION)
}

/// The OpenAPI 3 document of the API, pretty-printed and deterministic: what
/// `payments openapi` writes to `openapi/payments.json`.
pub fn openapi_json() -> String {
    let spec = service().spec();
    let mut document: Value = match serde_json::from_str(&spec) {
        Ok(document) => document,
        // poem-openapi writes its own JSON; keep it untouched if ever unreadable.
        Err(_) => return spec,
    };
    annotate(&mut document);
    let mut text = serde_json::to_string_pretty(&document).unwrap_or(spec);
    text.push('\n');
    text
}

/// Marks encrypted operations (`x-encrypted: true`: a `text/plain` body or
/// answer whose schema is an object) and describes parameters.
fn annotate(document: &mut Value) {
    add_webhook_schemas(document);
    mark_nullable(document);
    unwrap_described_refs(document);
    add_client_security(document);
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for operations in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in operations.values_mut().filter_map(Value::as_object_mut) {
            let encrypted_body = operation
                .get("requestBody")
                .is_some_and(|body| body["content"]["text/plain; charset=utf-8"]["schema"].get("$ref").is_some());
            let encrypted_answer = operation.get("responses").and_then(Value::as_object).is_some_and(|responses| {
                responses.values().any(|r| r["content"]["text/plain; charset=utf-8"]["schema"].get("$ref").is_some())
            });
            if encrypted_body || encrypted_answer {
                operation.insert("x-encrypted".into(), Value::Bool(true));
            }
            let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for parameter in parameters.iter_mut().filter_map(Value::as_object_mut) {
                let description = match parameter.get("name").and_then(Value::as_str) {
                    Some("Idempotency-Key") => {
                        "Up to 255 characters of your choosing, unique per intended operation. A retry with the same key and the same body answers what the first request answered, without calling the PG again; the same key with another body answers 422; while the first request runs, 409. Keys are kept at least 24 hours."
                    }
                    Some("id") => "Our id of the record.",
                    _ => continue,
                };
                parameter.insert("description".into(), Value::String(description.into()));
            }
        }
    }
    add_plain_json_forms(document);
}

/// The plain-JSON form of every client route's encrypted body and answer:
/// a client added with `--plain-json` sends and reads the same schema as
/// `application/json` (what generators build typed models from), the AES
/// envelope stays documented as `text/plain` (`x-encrypted`). The monitors
/// are no client's: they answer in the envelope only.
fn add_plain_json_forms(document: &mut Value) {
    const SEALED: &str = "base64 of AES-CBC (PKCS#7) over it with the caller's wire key and IV (a client's own; without an API key, the connection key), as text/plain";
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, operations) in paths.iter_mut() {
        if !caller::is_client_route(path) {
            continue;
        }
        let operations = operations.as_object_mut().into_iter().flat_map(|o| o.values_mut());
        for operation in operations.filter_map(Value::as_object_mut) {
            if operation.get("x-encrypted") != Some(&Value::Bool(true)) {
                continue;
            }
            if let Some(body) = operation.get_mut("requestBody").and_then(Value::as_object_mut)
                && add_json_form(body)
            {
                let description = format!(
                    "This JSON: as application/json from a client added with --plain-json (Authorization: Bearer <its API key>); from any other caller encrypted, {SEALED}."
                );
                body.insert("description".into(), Value::String(description));
            }
            let responses = operation.get_mut("responses").and_then(Value::as_object_mut);
            for (status, response) in responses.into_iter().flatten() {
                let Some(response) = response.as_object_mut().filter(|_| status.starts_with('2')) else { continue };
                let generic =
                    response.get("description").and_then(Value::as_str).is_some_and(|d| d.starts_with("Encrypted: "));
                if add_json_form(response) && generic {
                    let description = format!(
                        "This JSON: as application/json to a client added with --plain-json; to any other caller encrypted, {SEALED}."
                    );
                    response.insert("description".into(), Value::String(description));
                }
            }
        }
    }
}

/// Adds `application/json` with the schema of the `text/plain` form of a
/// request body or answer; whether there was one.
fn add_json_form(described: &mut serde_json::Map<String, Value>) -> bool {
    let Some(content) = described.get_mut("content").and_then(Value::as_object_mut) else { return false };
    let Some(sealed) = content.get(ENCRYPTED_CONTENT_TYPE).cloned() else { return false };
    content.insert(PLAIN_JSON_CONTENT_TYPE.into(), sealed);
    true
}

/// Every client route takes a client's API key as a bearer token, or none
/// (the legacy client): the scheme `clientKey`, optional on each of them.
fn add_client_security(document: &mut Value) {
    if let Some(components) = document.get_mut("components").and_then(Value::as_object_mut) {
        components.insert(
            "securitySchemes".into(),
            serde_json::json!({"clientKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "A client's API key (`payments clients add`: `pk_live_...` in real mode, `pk_test_...` otherwise); its bodies are sealed with that client's wire key (or, for a client added with --plain-json, are plain application/json). Without it, the request is the legacy client's (the server's connection key), unless PAYMENT_LEGACY_CLIENT=false. A key that does not authenticate is 401; a route outside its scopes 403."
            }}),
        );
    }
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, operations) in paths.iter_mut() {
        if !caller::is_client_route(path) {
            continue;
        }
        for operation in operations.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            if let Some(operation) = operation.as_object_mut() {
                operation.insert("security".into(), serde_json::json!([{}, {"clientKey": []}]));
            }
        }
    }
}

/// The body of the webhooks this server sends is no route's, so it is added
/// by hand (generated from its type all the same) and named at the root as
/// `x-outgoing-webhook`.
fn add_webhook_schemas(document: &mut Value) {
    let mut registry = poem_openapi::registry::Registry::new();
    <payments_wire::WebhookBody as poem_openapi::types::Type>::register(&mut registry);
    let Some(schemas) = document.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    for (name, schema) in registry.schemas {
        if let Ok(value) = serde_json::to_value(&schema) {
            schemas.entry(name).or_insert(value);
        }
    }
    if let Some(root) = document.as_object_mut() {
        root.insert(
            "x-outgoing-webhook".into(),
            serde_json::json!({
                "description": "POSTed to a payment's `webhook_url` on every change, encrypted like the routes (text/plain), with Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`).",
                "schema": { "$ref": "#/components/schemas/WebhookBody" }
            }),
        );
    }
}

/// Schemas answered by the server always carry their optional fields (as
/// `null` when absent), so those are required and nullable, except the
/// fields it leaves out when absent (`skip_serializing_if_is_none`, which
/// poem-openapi does not tell): those stay optional, as generators that
/// check required fields (openapi-python-client) must accept their absence.
/// Optional request fields are nullable.
fn mark_nullable(document: &mut Value) {
    const ANSWERS: [&str; 6] =
        ["PaymentHistory", "PaymentHistorySnapshot", "System", "Performance", "OutboxStats", "WebhookBody"];
    const ABSENT_WHEN_NONE: [(&str, &str); 1] = [("PaymentHistory", "reservation_id")];
    let Some(schemas) = document.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    for (name, schema) in schemas.iter_mut() {
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else { continue };
        let mut optional = Vec::new();
        for (field, property) in properties.iter_mut() {
            if !required.contains(field) {
                if let Some(property) = property.as_object_mut() {
                    property.insert("nullable".into(), Value::Bool(true));
                }
                if !ABSENT_WHEN_NONE.contains(&(name.as_str(), field.as_str())) {
                    optional.push(field.clone());
                }
            }
        }
        if ANSWERS.contains(&name.as_str()) && !optional.is_empty() {
            let mut all = required;
            all.extend(optional);
            schema["required"] = Value::Array(all.into_iter().map(Value::String).collect());
        }
    }
}

/// poem-openapi describes a property that refers to another schema as
/// `allOf: [{$ref}, {description}]` (or `{description, default}`) beside the
/// same `description`. Generators read the annotation-only member as an
/// anonymous type (`Source & unknown`
/// in TypeScript, an extra inline model elsewhere), so it is dropped, leaving
/// `allOf: [{$ref}]` (kept as `allOf` so that `nullable` still applies in
/// OpenAPI 3.0) with the description beside it.
fn unwrap_described_refs(value: &mut Value) {
    // Members that only annotate (a description, a default) are no type.
    const ANNOTATIONS: [&str; 2] = ["description", "default"];
    match value {
        Value::Object(object) => {
            let mut moved = serde_json::Map::new();
            if let Some(members) = object.get_mut("allOf").and_then(Value::as_array_mut) {
                let annotation_only = |m: &Value| {
                    m.as_object().is_some_and(|m| !m.is_empty() && m.keys().all(|k| ANNOTATIONS.contains(&k.as_str())))
                };
                if members.len() > 1 && members.iter().any(|m| !annotation_only(m)) {
                    for member in members.iter().filter(|m| annotation_only(m)) {
                        moved.extend(member.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    members.retain(|m| !annotation_only(m));
                }
            }
            for (key, annotation) in moved {
                object.entry(key).or_insert(annotation);
            }
            object.values_mut().for_each(unwrap_described_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_described_refs),
        _ => {}
    }
}

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// The id of the request being answered, if any (error bodies carry it).
pub(crate) fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.to_string()).ok()
}

/// Longest `X-Request-Id` taken from a caller.
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// The caller's `X-Request-Id` when it is a plausible id (1 to 64 letters,
/// digits, `-`, `_`, `.` or `:`), else a new UUID: what reaches the logs and
/// the answer is never free text.
fn request_id_of(request: &Request) -> Arc<str> {
    let given = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).filter(|id| {
        (1..=MAX_REQUEST_ID_CHARS).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    });
    match given {
        Some(id) => id.into(),
        None => uuid::Uuid::new_v4().to_string().into(),
    }
}

/// What every request goes through: its deadline, and the metrics, which
/// count it by route template: an operation's path as the OpenAPI document
/// writes it (`/payments/histories/{id}`), else the plain route's pattern
/// (`/openapi.json`); `None` when no route matched.
struct Requests {
    metrics: Metrics,
    deadline: std::time::Duration,
    operations: std::collections::HashMap<String, String>,
}

impl Requests {
    fn new(metrics: Metrics, deadline: std::time::Duration, document: &str) -> Self {
        let mut operations = std::collections::HashMap::new();
        if let Ok(Value::Object(root)) = serde_json::from_str::<Value>(document)
            && let Some(Value::Object(paths)) = root.get("paths")
        {
            for (path, methods) in paths {
                let ids = methods.as_object().into_iter().flat_map(|m| m.values());
                for id in ids.filter_map(|operation| operation["operationId"].as_str()) {
                    operations.insert(id.to_owned(), path.clone());
                }
            }
        }
        Self { metrics, deadline, operations }
    }

    fn template<'a>(&'a self, response: &'a Response) -> Option<&'a str> {
        if let Some(operation) = response.data::<poem_openapi::OperationId>() {
            return self.operations.get(operation.0).map(String::as_str);
        }
        // The API's nest at `/` matches every path with an empty pattern.
        response.data::<PathPattern>().map(|pattern| &*pattern.0).filter(|pattern| !pattern.is_empty())
    }
}

/// Gives every request an id (its span, its error bodies, its
/// `x-request-id` header), logs one line per request and counts it.
async fn log_request<E: Endpoint>(next: Arc<E>, request: Request, requests: Arc<Requests>) -> poem::Result<Response> {
    let request_id = request_id_of(&request);
    let span = tracing::info_span!("request", request_id = %request_id);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let answered = async {
        match tokio::time::timeout(requests.deadline, next.call(request)).await {
            Ok(Ok(response)) => response.into_response(),
            Ok(Err(error)) => ApiError::from_poem(&error).into_response(),
            Err(_) => {
                tracing::warn!(deadline_s = requests.deadline.as_secs(), "request cut at its deadline");
                let message = format!(
                    "the request did not finish within {} s; retry it (with the same Idempotency-Key)",
                    requests.deadline.as_secs()
                );
                ApiError::new(ErrorCode::RequestTimeout, message).into_response()
            }
        }
    };
    let mut response = REQUEST_ID.scope(request_id.clone(), answered).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    requests.metrics.observe_request(
        method.as_str(),
        requests.template(&response),
        response.status().as_u16(),
        elapsed,
    );
    let _entered = span.enter();
    tracing::info!(
        %method, %path, status = response.status().as_u16(),
        elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    Ok(response)
}

/// Reads `body` whole, at most [`MAX_BODY_BYTES`] (413 past it); a body that
/// breaks off is `unreadable`'s error.
pub(crate) async fn read_bounded(
    body: poem::Body,
    unreadable: impl FnOnce(String) -> ApiError,
) -> Result<bytes::Bytes, ApiError> {
    body.into_bytes_limit(MAX_BODY_BYTES).await.map_err(|error| match error {
        poem::error::ReadBodyError::PayloadTooLarge => ApiError::too_large(MAX_BODY_BYTES),
        other => unreadable(other.to_string()),
    })
}

/// Refuses bodies over [`MAX_BODY_BYTES`] with 413: at once from
/// `Content-Length`, else while reading the body, whatever its framing
/// (HTTP/1.1 chunked, HTTP/2 frames with no length): no more than the limit
/// is ever buffered.
async fn limit_body<E: Endpoint>(next: Arc<E>, mut request: Request) -> poem::Result<Response> {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(length) if length > MAX_BODY_BYTES as u64 => return Err(ApiError::too_large(MAX_BODY_BYTES).into()),
        // hyper stops a body at its declared length.
        Some(_) => {}
        None => {
            let body = read_bounded(request.take_body(), |why| ApiError::new(ErrorCode::InvalidRequest, why)).await?;
            request.set_body(body);
        }
    }
    next.call(request).await.map(IntoResponse::into_response)
}

fn json_error(error: poem::Error) -> Response {
    let api = if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(MAX_BODY_BYTES)
    } else {
        ApiError::from_poem(&error)
    };
    let mut response = api.into_response();
    // The route it failed on, for the request metrics.
    if let Some(operation) = error.data::<poem_openapi::OperationId>() {
        response.set_data(*operation);
    }
    if let Some(pattern) = error.data::<PathPattern>() {
        response.set_data(pattern.clone());
    }
    response
}

/// Every route: the API, `/openapi.json`, Swagger UI at `/docs`; JSON errors
/// (404 for unknown routes, 413 over [`MAX_BODY_BYTES`]); a request id
/// (the caller's `X-Request-Id` or a new one) on its tracing span, its error
/// bodies and its `x-request-id` header; a tracing line and the request
/// metrics per request.
pub fn app(state: HttpState) -> impl Endpoint<Output = Response> {
    let service = service();
    let document = openapi_json();
    let requests = Arc::new(Requests::new(state.metrics.clone(), state.request_deadline, &document));
    // Swagger UI embeds poem-openapi's own rendering; show the annotated one.
    let docs = service.swagger_ui_html().replacen(&service.spec(), &document, 1);
    Route::new()
        .nest("/", service)
        .at(
            "/openapi.json",
            get(make_sync(move |_| {
                Response::builder()
                    .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(document.clone())
            })),
        )
        .at("/docs", get(make_sync(move |_| poem::web::Html(docs.clone()))))
        .around(limit_body)
        .around(caller::authenticate)
        .catch_all_error(|error| async move { json_error(error) })
        .data(Arc::new(state))
        .around(move |next, request| log_request(next, request, requests.clone()))
}
