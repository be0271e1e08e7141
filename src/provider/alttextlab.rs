//! AltTextLab (<https://www.alttextlab.com>): captions an image it fetches from a presigned
//! URL. `POST {base}/api/v1/alt-text/generate` with the key in `x-api-key`.

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::{Caption, ImageRequest, Provider, ProviderError};
use crate::config::Config;
use crate::image::ImageFormat;
use crate::retry::RetryPolicy;
use crate::secret::{ApiKey, redact_urls};

/// The largest image AltTextLab takes.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Longest wait for one API call.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The AltTextLab API client.
#[derive(Debug, Clone)]
pub struct AltTextLab {
    http: reqwest::Client,
    endpoint: String,
    api_key: Option<ApiKey>,
    style: Option<&'static str>,
    keywords: Vec<String>,
    retry: RetryPolicy,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateRequest<'a> {
    image_url: &'a str,
    lang: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    style: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    keywords: &'a [String],
}

#[derive(Deserialize)]
struct GenerateResponse {
    result: Option<String>,
    id: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    key: Option<String>,
    message: Option<String>,
    error: Option<String>,
}

impl AltTextLab {
    pub fn new(http: reqwest::Client, config: &Config) -> AltTextLab {
        AltTextLab {
            http,
            endpoint: format!("{}/api/v1/alt-text/generate", config.api_url),
            api_key: config.api_key.clone(),
            style: config.style.map(|s| s.as_str()),
            keywords: config.keywords.clone(),
            retry: RetryPolicy::default(),
        }
    }

    /// Replaces the retry policy (tests use short waits).
    pub fn with_retry(mut self, retry: RetryPolicy) -> AltTextLab {
        self.retry = retry;
        self
    }

    async fn attempt(
        &self,
        key: &ApiKey,
        image: &ImageRequest<'_>,
        budget: Duration,
    ) -> Result<Caption, ProviderError> {
        // A fresh URL for every attempt: an earlier one may have expired while waiting.
        let url = image
            .source
            .presigned_url()
            .await
            .map_err(ProviderError::from_store)?;
        let body = GenerateRequest {
            image_url: url.expose(),
            lang: image.lang,
            style: self.style,
            keywords: &self.keywords,
        };
        let response = self
            .http
            .post(&self.endpoint)
            .header("x-api-key", key.expose())
            .json(&body)
            .timeout(budget.min(REQUEST_TIMEOUT))
            .send()
            .await
            .map_err(|e| ProviderError::transient(describe_http_error(e)))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let text = response
            .text()
            .await
            .map_err(|e| ProviderError::transient(describe_http_error(e)))?;
        if status.is_success() {
            return parse_success(&text, image.lang);
        }
        Err(classify_error(status, retry_after, &text))
    }
}

impl Provider for AltTextLab {
    fn name(&self) -> &'static str {
        "alttextlab"
    }

    fn accepts(&self, image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        if !matches!(
            image.format,
            ImageFormat::Jpeg
                | ImageFormat::Png
                | ImageFormat::Webp
                | ImageFormat::Avif
                | ImageFormat::Svg
        ) {
            return Err(ProviderError::Declined(format!(
                "AltTextLab takes JPEG, PNG, WebP, AVIF and SVG, not {}",
                image.format.name()
            )));
        }
        if image.size > MAX_BYTES {
            return Err(ProviderError::Declined(format!(
                "AltTextLab takes images up to 16 MB; this one has {} bytes",
                image.size
            )));
        }
        Ok(())
    }

    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Caption, ProviderError>> {
        Box::pin(async move {
            let Some(key) = &self.api_key else {
                return Err(ProviderError::Declined(
                    "AltTextLab needs an API key: set ALT_TEXT_API_KEY".into(),
                ));
            };
            self.accepts(image)?;
            self.retry
                .run(image.deadline, |budget| self.attempt(key, image, budget))
                .await
        })
    }
}

fn parse_success(text: &str, lang: &str) -> Result<Caption, ProviderError> {
    let parsed: GenerateResponse = serde_json::from_str(text).map_err(|e| {
        // The call may have been billed: do not repeat it.
        ProviderError::Permanent(format!("AltTextLab answered with an unreadable body: {e}"))
    })?;
    let caption = parsed.result.unwrap_or_default();
    if caption.trim().is_empty() {
        return Err(ProviderError::Permanent(
            "AltTextLab returned an empty caption".into(),
        ));
    }
    let request_id = parsed.id.map(|id| match id {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    });
    Ok(Caption {
        text: caption,
        lang: lang.to_string(),
        request_id,
    })
}

fn classify_error(status: StatusCode, retry_after: Option<Duration>, text: &str) -> ProviderError {
    let body: ErrorBody = serde_json::from_str(text).unwrap_or_default();
    let detail = body
        .message
        .or(body.error)
        .unwrap_or_else(|| text.chars().take(200).collect());
    let detail = redact_urls(detail.trim());
    let code = status.as_u16();
    match code {
        401 => ProviderError::Permanent(format!(
            "AltTextLab rejected the API key (401): check ALT_TEXT_API_KEY. {detail}"
        )),
        403 if body.key.as_deref() == Some("NOT_ENOUGH_FUNDS") => ProviderError::Permanent(
            "AltTextLab account is out of credits (403 NOT_ENOUGH_FUNDS): top up the account, then replay".into(),
        ),
        429 => ProviderError::Transient { message: format!("AltTextLab is rate limiting (429). {detail}"), retry_after },
        500..=599 => ProviderError::Transient { message: format!("AltTextLab server error ({code}). {detail}"), retry_after },
        _ => ProviderError::Permanent(format!("AltTextLab refused the image ({code}). {detail}")),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and treated as absent).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A transport error, without any URL (the endpoint is not secret, but keep lines short).
fn describe_http_error(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    format!("AltTextLab {kind}: {}", redact_urls(&detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_bodies_give_the_caption() {
        let c =
            parse_success(r#"{"id":"abc123","result":"A cat.","creditsUsed":1}"#, "en").unwrap();
        assert_eq!(
            c,
            Caption {
                text: "A cat.".into(),
                lang: "en".into(),
                request_id: Some("abc123".into())
            }
        );
        let c = parse_success(r#"{"id":42,"result":"A dog."}"#, "de").unwrap();
        assert_eq!(c.request_id.as_deref(), Some("42"));
        assert!(matches!(
            parse_success(r#"{"id":1,"result":"  "}"#, "en"),
            Err(ProviderError::Permanent(_))
        ));
        assert!(matches!(
            parse_success("<html>oops", "en"),
            Err(ProviderError::Permanent(_))
        ));
    }

    #[test]
    fn errors_are_classified_as_documented() {
        let e = classify_error(
            StatusCode::UNAUTHORIZED,
            None,
            r#"{"message":"Invalid API key"}"#,
        );
        assert!(
            matches!(&e, ProviderError::Permanent(m) if m.contains("ALT_TEXT_API_KEY")),
            "{e:?}"
        );
        let e = classify_error(
            StatusCode::FORBIDDEN,
            None,
            r#"{"key":"NOT_ENOUGH_FUNDS","message":"Not enough funds"}"#,
        );
        assert!(
            matches!(&e, ProviderError::Permanent(m) if m.contains("out of credits")),
            "{e:?}"
        );
        let e = classify_error(StatusCode::FORBIDDEN, None, r#"{"message":"forbidden"}"#);
        assert!(
            matches!(&e, ProviderError::Permanent(m) if !m.contains("credits")),
            "{e:?}"
        );
        let e = classify_error(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(2)),
            "{}",
        );
        assert_eq!(
            e,
            ProviderError::Transient {
                message: "AltTextLab is rate limiting (429). {}".into(),
                retry_after: Some(Duration::from_secs(2))
            }
        );
        assert!(matches!(
            classify_error(StatusCode::BAD_GATEWAY, None, ""),
            ProviderError::Transient { .. }
        ));
        assert!(matches!(
            classify_error(StatusCode::BAD_REQUEST, None, "bad image"),
            ProviderError::Permanent(_)
        ));
    }

    #[test]
    fn error_details_never_carry_a_presigned_query() {
        let e = classify_error(
            StatusCode::BAD_REQUEST,
            None,
            r#"{"message":"Cannot fetch https://b.s3.amazonaws.com/k.jpg?X-Amz-Signature=deadbeef"}"#,
        );
        assert!(!e.to_string().contains("deadbeef"), "{e}");
    }
}
