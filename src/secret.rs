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

/// Replaces the query string of every `http://` or `https://` URL in `text` with
/// `?<redacted>`, and the value of every SigV4 query parameter left (a URL without its
/// scheme, or percent-encoded inside another) with `<redacted>`.
pub fn redact_urls(text: &str) -> String {
    redact_signing_parameters(&redact_queries(text))
}

/// The query parameters that carry a presigned URL's secrets.
const SIGNING_PARAMETERS: [&str; 3] = [
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

fn redact_signing_parameters(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at < text.len() {
        let found = SIGNING_PARAMETERS
            .iter()
            .filter_map(|p| lower[at..].find(p).map(|i| (at + i, p.len())))
            .min();
        let Some((start, len)) = found else { break };
        let after = start + len;
        let value_start = if lower[after..].starts_with('=') {
            after + 1
        } else if lower[after..].starts_with("%3d") {
            after + 3
        } else {
            at = after;
            continue;
        };
        let value_end = text[value_start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | '<' | '>' | '`'))
            .map_or(text.len(), |i| value_start + i);
        // An encoded query goes on after `%26` (`&`).
        let value_end = lower[value_start..value_end]
            .find("%26")
            .map_or(value_end, |i| value_start + i);
        out.push_str(&text[copied..value_start]);
        out.push_str("<redacted>");
        copied = value_end;
        at = value_end.max(value_start);
    }
    out.push_str(&text[copied..]);
    out
}

fn redact_queries(text: &str) -> String {
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

    #[test]
    fn redacts_signing_parameters_outside_urls() {
        assert_eq!(
            redact_urls(
                "bucket.s3.amazonaws.com/k.jpg?X-Amz-Credential=AKIA/1&X-Amz-Signature=ab12 done"
            ),
            "bucket.s3.amazonaws.com/k.jpg?X-Amz-Credential=<redacted>&X-Amz-Signature=<redacted> done"
        );
        assert_eq!(
            redact_urls(
                "url=https%3A%2F%2Fb%2Fk.jpg%3FX-Amz-Signature%3Ddeadbeef%26x-id%3DGetObject"
            ),
            "url=https%3A%2F%2Fb%2Fk.jpg%3FX-Amz-Signature%3D<redacted>%26x-id%3DGetObject"
        );
        assert_eq!(
            redact_urls("token X-Amz-Security-Token=IQoJb3JpZ2luX2Vj\"}"),
            "token X-Amz-Security-Token=<redacted>\"}"
        );
        assert_eq!(
            redact_urls("X-Amz-Signature is a header"),
            "X-Amz-Signature is a header"
        );
    }
}
