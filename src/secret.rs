//! Values that must never reach a log line: the provider API key and presigned URLs.
//!
//! Both types print a redacted form through `Debug` and `Display`; the real value is only
//! reachable through `expose`, at the one place that sends it. `redact_urls` scrubs query
//! strings from free text (provider error bodies may echo the URL they were given).

use std::fmt;

/// A provider API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(value: impl Into<String>) -> ApiKey {
        ApiKey(value.into())
    }

    /// The key itself, for the request header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A presigned GetObject URL: its query string carries a signature and a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedUrl(String);

impl PresignedUrl {
    pub fn new(url: impl Into<String>) -> PresignedUrl {
        PresignedUrl(url.into())
    }

    /// The full URL, for the request that hands it to a provider.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresignedUrl({self})")
    }
}

impl fmt::Display for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_urls(&self.0))
    }
}

/// Replaces the query string of every `http://` or `https://` URL in `text` with `?<redacted>`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url_start(rest) {
        out.push_str(&rest[..start]);
        let url = &rest[start..];
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(url.len());
        let (url, tail) = url.split_at(end);
        match url.find('?') {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?<redacted>");
            }
            None => out.push_str(url),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

fn find_url_start(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("https://"), lower.find("http://")]
        .into_iter()
        .flatten()
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_debug_is_redacted() {
        let key = ApiKey::new("sk-live-123");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        assert_eq!(key.expose(), "sk-live-123");
    }

    #[test]
    fn presigned_url_prints_without_its_query() {
        let url = PresignedUrl::new(
            "https://b.s3.amazonaws.com/k.jpg?X-Amz-Credential=AKIA%2F&X-Amz-Signature=abcdef",
        );
        assert_eq!(
            url.to_string(),
            "https://b.s3.amazonaws.com/k.jpg?<redacted>"
        );
        assert!(!format!("{url:?}").contains("abcdef"));
        assert!(url.expose().ends_with("X-Amz-Signature=abcdef"));
    }

    #[test]
    fn redacts_every_url_in_free_text() {
        let text = "could not fetch \"HTTPS://x/a.png?X-Amz-Signature=1\" nor http://y/b?sig=2 (see http://z/doc)";
        assert_eq!(
            redact_urls(text),
            "could not fetch \"HTTPS://x/a.png?<redacted>\" nor http://y/b?<redacted> (see http://z/doc)"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}
