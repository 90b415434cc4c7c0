//! `Encrypted<T>`: a JSON body sent as base64 AES-CBC ciphertext in `text/plain`.

use payments_wire::ErrorCode;
use std::marker::PhantomData;
use std::sync::Arc;

use payments_crypto::WireCipher;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Request, RequestBody, Response};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, ToJSON, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions};

use crate::HttpState;
use crate::error::ApiError;

/// The media type of encrypted bodies.
pub const ENCRYPTED_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The media type of a plain-JSON client's bodies.
pub const PLAIN_JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// How one caller's bodies travel: sealed with its wire key (AES-CBC, the
/// original SDK's envelope), or plain JSON for a client configured for it
/// (a deployment whose TLS already protects the wire).
#[derive(Debug, Clone)]
pub enum Envelope {
    Aes(WireCipher),
    PlainJson,
}

impl Envelope {
    /// `json` as it goes on the wire.
    pub fn seal(&self, json: &str) -> String {
        match self {
            Envelope::Aes(cipher) => cipher.encrypt(json.as_bytes()),
            Envelope::PlainJson => json.to_owned(),
        }
    }

    /// The media type of what [`Envelope::seal`] makes.
    pub fn content_type(&self) -> &'static str {
        match self {
            Envelope::Aes(_) => ENCRYPTED_CONTENT_TYPE,
            Envelope::PlainJson => PLAIN_JSON_CONTENT_TYPE,
        }
    }
}

/// An encrypted request body: on the wire, `text/plain` base64 of AES-CBC
/// (PKCS#7) over the UTF-8 JSON of `T`, with the connection key and IV; in the
/// OpenAPI document, `T`'s schema under `text/plain` (the operation is marked
/// `x-encrypted: true`).
///
/// Every failure (not base64, not whole blocks, bad padding, not UTF-8, not
/// JSON, not `T`) answers 400 `INVALID_BODY`; outside local mode always with
/// the same message.
#[derive(Debug, Clone)]
pub struct Encrypted<T> {
    /// The decrypted value.
    pub value: T,
    /// The decrypted JSON text, as sent.
    pub plaintext: String,
    /// The JSON in canonical form (object keys sorted, no whitespace): what
    /// an `Idempotency-Key` is bound to, so a retry that re-serialises the
    /// same body differently is still the same request.
    pub canonical: String,
}

/// Writes `value` with object keys sorted and no whitespace.
pub fn canonical_json(value: &serde_json::Value) -> String {
    fn write(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(key.clone()).to_string());
                    out.push(':');
                    write(item, out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

impl<T: Type> Payload for Encrypted<T> {
    const CONTENT_TYPE: &'static str = ENCRYPTED_CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        content_type.parse::<mime::Mime>().is_ok_and(|mime| mime.type_() == mime::TEXT && mime.subtype() == mime::PLAIN)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

fn state_of(request: &Request) -> Result<&Arc<HttpState>, poem::Error> {
    request.data::<Arc<HttpState>>().ok_or_else(|| {
        tracing::error!("HttpState is missing from the request data");
        poem::Error::from(ApiError::new(ErrorCode::Internal, "internal error"))
    })
}

/// Decrypts and parses a body with `cipher`. `local_mode` decides whether the
/// error says what went wrong.
///
/// # Errors
/// [`ApiError`] 400 `INVALID_BODY`.
pub fn decrypt_body<T: Type + ParseFromJSON>(
    cipher: &WireCipher,
    local_mode: bool,
    body: &[u8],
) -> Result<Encrypted<T>, ApiError> {
    decrypt_body_of(&Envelope::Aes(cipher.clone()), local_mode, body, false)
}

/// As [`decrypt_body`]; for a `client`'s request (not the legacy client's),
/// a body its wire key does not open is 401: the key and the body are not
/// one client's.
fn decrypt_body_of<T: Type + ParseFromJSON>(
    envelope: &Envelope,
    local_mode: bool,
    body: &[u8],
    client: bool,
) -> Result<Encrypted<T>, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::unreadable_body(local_mode, || "not UTF-8 text".into()))?;
    if text.trim().is_empty() {
        return Err(ApiError::unreadable_body(local_mode, || "the body is empty".into()));
    }
    let plaintext = match envelope {
        Envelope::PlainJson => Ok(text.to_owned()),
        Envelope::Aes(cipher) => cipher.decrypt(text),
    }
    .map_err(|error| {
        tracing::debug!(%error, "undecryptable body");
        if client {
            ApiError::new(ErrorCode::Unauthenticated, "the body is not sealed with this API key's wire key")
        } else {
            ApiError::unreadable_body(local_mode, || error.to_string())
        }
    })?;
    let json: serde_json::Value = serde_json::from_str(&plaintext)
        .map_err(|error| ApiError::unreadable_body(local_mode, || format!("the plaintext is not JSON ({error})")))?;
    let canonical = canonical_json(&json);
    let value = T::parse_from_json(Some(json.clone())).map_err(|error| {
        ApiError::unreadable_body(local_mode, || match crate::diagnose::first_mismatch::<T>(&json) {
            Some(mismatch) => mismatch,
            None => format!("the JSON does not fit {}: {}", T::name(), error.into_message()),
        })
    })?;
    Ok(Encrypted { value, plaintext, canonical })
}

async fn read_encrypted<T: Type + ParseFromJSON>(
    request: &Request,
    body: &mut RequestBody,
) -> poem::Result<Encrypted<T>> {
    let state = state_of(request)?;
    // The caller's wire key (resolved first: see `caller::authenticate`).
    let caller = request.data::<crate::Caller>();
    let legacy = Envelope::Aes(state.cipher.clone());
    let envelope = caller.map_or(&legacy, |caller| &caller.envelope);
    let client = caller.is_some_and(|caller| !caller.client.is_legacy());
    let bytes = crate::read_bounded(body.take()?, |why| ApiError::unreadable_body(state.local_mode, || why)).await?;
    Ok(decrypt_body_of(envelope, state.local_mode, &bytes, client)?)
}

impl<T: Type + ParseFromJSON> ParsePayload for Encrypted<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        read_encrypted(request, body).await
    }
}

impl<'a, T: Type + ParseFromJSON> ApiExtractor<'a> for Encrypted<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some(
                "Encrypted: send base64 of AES-CBC (PKCS#7) over this JSON, with the connection key and IV, as text/plain.",
            ),
            content: vec![MetaMediaType { content_type: ENCRYPTED_CONTENT_TYPE, schema: T::schema_ref() }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        // The original SDK sends `text/plain`; a missing type is accepted
        // too. A plain-JSON client sends `application/json`.
        let plain = request.data::<crate::Caller>().is_some_and(|c| matches!(c.envelope, Envelope::PlainJson));
        if let Some(content_type) = request.content_type() {
            let is_json = content_type
                .parse::<mime::Mime>()
                .is_ok_and(|mime| mime.type_() == mime::APPLICATION && mime.subtype() == mime::JSON);
            if plain && !is_json {
                let message =
                    format!("expected application/json (this client's bodies are plain JSON), got {content_type}");
                return Err(ApiError::new(ErrorCode::UnsupportedMediaType, message).into());
            }
            if !plain && !<Self as Payload>::check_content_type(content_type) {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!("expected text/plain (an encrypted body), got {content_type}"),
                )
                .into());
            }
        }
        read_encrypted(request, body).await
    }
}

/// An encrypted answer with status `STATUS` (or another success status an
/// operation documents, [`EncryptedReply::with_status`]): the JSON of `T`,
/// encrypted when built (the response side has no request, so the cipher is
/// captured here).
#[derive(Debug, Clone)]
pub struct EncryptedReply<T, const STATUS: u16> {
    ciphertext: String,
    content_type: &'static str,
    replayed: bool,
    status: u16,
    _value: PhantomData<fn() -> T>,
}

/// 200 with an encrypted body.
pub type EncryptedOk<T> = EncryptedReply<T, 200>;
/// 201 with an encrypted body.
pub type EncryptedCreated<T> = EncryptedReply<T, 201>;

impl<T: ToJSON, const STATUS: u16> EncryptedReply<T, STATUS> {
    /// Seals the JSON of `value` in `envelope`.
    pub fn new(value: &T, envelope: &Envelope) -> Self {
        Self::from_plaintext(&value.to_json_string(), envelope)
    }

    /// Seals JSON text already made (an idempotency replay or a stored answer).
    pub fn from_plaintext(json: &str, envelope: &Envelope) -> Self {
        Self {
            ciphertext: envelope.seal(json),
            content_type: envelope.content_type(),
            replayed: false,
            status: STATUS,
            _value: PhantomData,
        }
    }

    /// Answers with `status` instead of `STATUS` (a 202 where the operation
    /// documents one).
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The status it answers with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Marks the answer as a replay of a stored one (`Idempotent-Replayed: true`).
    #[must_use]
    pub fn replayed(mut self) -> Self {
        self.replayed = true;
        self
    }

    /// The base64 ciphertext.
    pub fn ciphertext(&self) -> &str {
        &self.ciphertext
    }
}

impl<T: Send, const STATUS: u16> IntoResponse for EncryptedReply<T, STATUS> {
    fn into_response(self) -> Response {
        let mut response = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK))
            .header(header::CONTENT_TYPE, self.content_type)
            .body(self.ciphertext);
        if self.replayed {
            response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}

impl<T: Type + Send, const STATUS: u16> ApiResponse for EncryptedReply<T, STATUS> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "Encrypted: base64 of AES-CBC (PKCS#7) over this JSON, with the connection key and IV, as text/plain.",
                status: Some(STATUS),
                status_range: None,
                content: vec![MetaMediaType { content_type: ENCRYPTED_CONTENT_TYPE, schema: T::schema_ref() }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// The answer of an operation that completes now (200) or was accepted and
/// completes later (202), both with the encrypted JSON of `T`.
#[derive(Debug, Clone)]
pub struct EncryptedOkOrAccepted<T>(pub EncryptedOk<T>);

impl<T: Send> IntoResponse for EncryptedOkOrAccepted<T> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<T: Type + Send> ApiResponse for EncryptedOkOrAccepted<T> {
    fn meta() -> MetaResponses {
        let mut responses = EncryptedOk::<T>::meta().responses;
        let mut accepted = EncryptedOk::<T>::meta().responses;
        for response in &mut accepted {
            response.status = Some(202);
            response.description = "Accepted by the PG, not completed yet: the same JSON as 200 (in the same form), \
                 showing the operation as pending. Its completion (or failure) is announced to the record's webhook_url.";
        }
        responses.append(&mut accepted);
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// The answer of an operation that made its record (201) or found it made
/// by an earlier request (200: an order asked again, a payment its order's
/// notification recorded first), both with the encrypted JSON of `T`.
#[derive(Debug, Clone)]
pub struct EncryptedCreatedOrOk<T>(pub EncryptedCreated<T>);

impl<T: Send> IntoResponse for EncryptedCreatedOrOk<T> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<T: Type + Send> ApiResponse for EncryptedCreatedOrOk<T> {
    fn meta() -> MetaResponses {
        let mut responses = EncryptedCreated::<T>::meta().responses;
        let mut existing = EncryptedCreated::<T>::meta().responses;
        for response in &mut existing {
            response.status = Some(200);
            response.description = "Made already (by an earlier request, or for a payment with an order by the PG's \
                 notification): the same JSON as 201 (in the same form), the record as it stands.";
        }
        responses.append(&mut existing);
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_keeps_numbers_exact() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": [1, {"z": 1.50, "a": "x\"y"}], "a": null}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":null,"b":[1,{"a":"x\"y","z":1.50}]}"#);
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "a" : null , "b" : [ 1 , { "a" : "x\"y" , "z" : 1.50 } ] }"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
    }
}
