//! A PG notification on the generic route, kept as it came: its headers and
//! its body byte for byte (what a PG signs), and the body read as JSON or as
//! form fields for the PG's parser.

use payments_wire::ErrorCode;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::Value;

use crate::error::ApiError;

const JSON: &str = "application/json; charset=utf-8";
const FORM: &str = "application/x-www-form-urlencoded";

/// A notification as it came.
#[derive(Debug, Clone)]
pub struct PgNotificationRequest {
    /// Header names in lower case, values that are not text left out.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// The body read: the JSON, or the form fields as an object of strings.
    pub value: Value,
}

impl PgNotificationRequest {
    fn parse(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
        let mime: mime::Mime = content_type
            .parse()
            .map_err(|_| ApiError::new(ErrorCode::UnsupportedMediaType, "expected application/json or a form"))?;
        match (mime.type_(), mime.subtype()) {
            (mime::APPLICATION, mime::JSON) => serde_json::from_slice(body)
                .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("the body is not JSON: {e}"))),
            (mime::APPLICATION, mime::WWW_FORM_URLENCODED) => {
                let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                    .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("the body is not a form: {e}")))?;
                Ok(Value::Object(fields.into_iter().map(|(name, value)| (name, Value::String(value))).collect()))
            }
            _ => Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("expected application/json or a form, got {content_type}"),
            )),
        }
    }
}

impl<'a> ApiExtractor<'a> for PgNotificationRequest {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        Value::register(registry);
        std::collections::BTreeMap::<String, String>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some("The PG's notification as it sends it: JSON, or form fields."),
            content: vec![
                MetaMediaType { content_type: JSON, schema: Value::schema_ref() },
                MetaMediaType {
                    content_type: FORM,
                    schema: std::collections::BTreeMap::<String, String>::schema_ref(),
                },
            ],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let content_type = request.content_type().unwrap_or(JSON).to_owned();
        let body = crate::read_bounded(body.take()?, |why| ApiError::new(ErrorCode::InvalidRequest, why)).await?;
        let value = Self::parse(&content_type, &body)?;
        Ok(Self { headers: text_headers(request.headers()), body: body.to_vec(), value })
    }
}

/// The headers of a request, names in lower case, values that are not text left out.
pub(crate) fn text_headers(headers: &poem::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_ascii_lowercase(), value.to_str().ok()?.to_owned())))
        .collect()
}
