//! Where the caller wants to hear about changes of a payment.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// An absolute `http` or `https` URL with a host, at most 1024 characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub const MAX_CHARS: usize = 1024;

    /// # Errors
    /// [`DomainError::Invalid`] on `webhook_url` when the value is not an
    /// absolute http(s) URL with a host, or is too long.
    pub fn parse(value: impl Into<String>) -> Result<Self, DomainError> {
        let value = value.into();
        let field = "webhook_url";
        if value.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::invalid(field, format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        let url = url::Url::parse(&value)
            .map_err(|e| DomainError::invalid(field, format!("is not an absolute URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DomainError::invalid(field, "must use http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(DomainError::invalid(field, "must name a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(DomainError::invalid(field, "must not carry credentials"));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host name or address, lower-case (for allowlists); an IPv6
    /// address without its brackets. The URL parser normalises addresses, so
    /// `http://2130706433/` has the host `127.0.0.1`.
    pub fn host(&self) -> String {
        url::Url::parse(&self.0)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()))
            .unwrap_or_default()
    }

    /// The port, explicit or the scheme's (80, 443).
    pub fn port(&self) -> u16 {
        url::Url::parse(&self.0).ok().and_then(|u| u.port_or_known_default()).unwrap_or(80)
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<WebhookUrl> for String {
    fn from(value: WebhookUrl) -> Self {
        value.0
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUrl({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_absolute_http_urls_with_a_host() {
        assert!(WebhookUrl::parse("http://127.0.0.1:37821/hook").is_ok());
        assert!(WebhookUrl::parse("https://shop.example/payments/webhook?x=1").is_ok());
        for bad in
            ["", "/relative", "ftp://x/y", "javascript:alert(1)", "file:///etc/passwd", "http://", "https://u:p@h/"]
        {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad} must be refused");
        }
        let long = format!("https://h/{}", "a".repeat(1024));
        assert!(WebhookUrl::parse(long).is_err());
        assert_eq!(WebhookUrl::parse("HTTPS://Shop.Example/x").unwrap().host(), "shop.example");
    }
}
