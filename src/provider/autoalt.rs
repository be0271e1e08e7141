//! AutoAlt / AltTextAI (<https://autoalt.app>): captions an image sent in the request, as
//! base64. `POST {base}/api/v1/generate` with `Authorization: Bearer KEY`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde::Deserialize;

use super::access::Access;
use super::http::{self, Reply};
use super::keys::{KeyStore, ServiceKey};
use super::retry::RetryPolicy;
use super::{ANY_SIDE, Caption, ImageRequest, Limits, Provider, ProviderError, ProviderKind};
use crate::env::{ConfigError, Env};
use crate::image::ImageFormat;
use crate::secret::ApiKey;

/// The largest image sent (it travels base64 in the request body).
/// Its documented "16 MB", read as decimal megabytes (the smaller reading): an image is
/// never sent over the limit.
pub const MAX_BYTES: u64 = 16_000_000;
/// The languages AutoAlt writes.
pub const LANGUAGES: [&str; 12] = [
    "en", "es", "fr", "de", "it", "pt", "nl", "pl", "ru", "ja", "ko", "zh",
];
const SERVICE: &str = "AutoAlt";

/// AutoAlt's settings: its key and URL only.
#[derive(Debug, Clone)]
pub struct Settings {
    pub access: Access,
}

impl Settings {
    pub fn from_env(_env: &Env, access: Access) -> Result<Settings, ConfigError> {
        Ok(Settings { access })
    }
}

/// The AutoAlt API client.
#[derive(Debug, Clone)]
pub struct AutoAlt {
    http: reqwest::Client,
    endpoint: String,
    /// `GET` it for the credits left: it tells an unexplained 403 apart.
    credits_url: String,
    access: Access,
    key: ServiceKey,
    retry: RetryPolicy,
}

#[derive(Deserialize)]
struct GenerateResponse {
    success: Option<bool>,
    #[serde(default)]
    results: Vec<GenerateResult>,
    credits_remaining: Option<f64>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct GenerateResult {
    alt_text: Option<String>,
    success: Option<bool>,
    error: Option<String>,
}

/// What AutoAlt is sent.
const LIMITS: Limits = Limits {
    service: SERVICE,
    formats: &[
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::Gif,
        ImageFormat::Webp,
    ],
    max_bytes: MAX_BYTES,
    max_side: ANY_SIDE,
};

impl AutoAlt {
    pub fn new(
        http: reqwest::Client,
        settings: &Settings,
        keys: Option<Arc<dyn KeyStore>>,
    ) -> AutoAlt {
        AutoAlt {
            http,
            key: ServiceKey::new(SERVICE, &settings.access, keys),
            endpoint: format!("{}/api/v1/generate", settings.access.url),
            credits_url: format!("{}/api/v1/credits", settings.access.url),
            access: settings.access.clone(),
            retry: RetryPolicy::default(),
        }
    }

    async fn attempt(
        &self,
        key: &ApiKey,
        body: Bytes,
        image: &ImageRequest<'_>,
        budget: Duration,
    ) -> Result<Caption, ProviderError> {
        let lang = image.lang();
        let request = self
            .http
            .post(&self.endpoint)
            .bearer_auth(key.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let unexplained = AtomicBool::new(false);
        let answer = http::exchange(
            SERVICE,
            request,
            budget.min(self.access.timeout),
            image.calls,
            |body| parse_success(body, lang),
            |reply| {
                let err = classify_error(reply);
                unexplained.store(is_unexplained_403(reply, &err), Ordering::Relaxed);
                err
            },
        )
        .await;
        match answer {
            Err(err) if unexplained.load(Ordering::Relaxed) => {
                Err(self.explain_403(key, err).await)
            }
            answer => answer,
        }
    }

    /// AutoAlt answers both "no credits" and rate limiting with 403; when its words do not
    /// say which, the credits left do: some left is a rate limit (back off), none is an
    /// account out of credits.
    async fn explain_403(&self, key: &ApiKey, err: ProviderError) -> ProviderError {
        match self.credits_with(key).await {
            Ok(Some(left)) if left > 0.0 => ProviderError::Transient {
                message: format!("AutoAlt is rate limiting (403, {left} credits left). {err}"),
                retry_after: None,
            },
            Ok(Some(_)) => ProviderError::OutOfCredits(format!(
                "AutoAlt account is out of credits (403, 0 credits left): top up the account, then replay. {err}"
            )),
            _ => err,
        }
    }

    async fn credits_with(&self, key: &ApiKey) -> Result<Option<f64>, ProviderError> {
        let request = self.http.get(&self.credits_url).bearer_auth(key.expose());
        http::credits_left(SERVICE, request, self.access.timeout).await
    }
}

impl Provider for AutoAlt {
    fn kind(&self) -> ProviderKind {
        ProviderKind::AutoAlt
    }

    fn memory_needed(&self, image: &ImageRequest<'_>) -> u64 {
        image.memory_for(&LIMITS, http::base64_body_memory)
    }

    /// Images it does not take as they are are prepared for it.
    fn accepts(&self, image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        self.key.require()?;
        image.plan(&LIMITS).map(drop)
    }

    fn supports_lang(&self, lang: &str) -> bool {
        let primary = lang.split('-').next().unwrap_or(lang);
        LANGUAGES.iter().any(|l| l.eq_ignore_ascii_case(primary))
    }

    /// The account's credits left (`GET /api/v1/credits`).
    fn credits(&self) -> BoxFuture<'_, Result<Option<f64>, ProviderError>> {
        Box::pin(
            self.key
                .with_key(move |key| async move { self.credits_with(&key).await }),
        )
    }

    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>> {
        Box::pin(async move {
            self.accepts(image)?;
            let lang = image.lang();
            let code = lang.split('-').next().unwrap_or(lang).to_ascii_lowercase();
            let bytes = image.bytes_for(&LIMITS).await?.bytes;
            let suffix = format!(r#","language":{}}}"#, serde_json::Value::from(code));
            let body = Bytes::from(http::json_with_base64(r#"{"image":"#, &bytes, &suffix));
            drop(bytes);
            let caption = self
                .key
                .with_key(|key| {
                    let body = body.clone();
                    async move {
                        self.retry
                            .run(image.deadline, |budget| {
                                self.attempt(&key, body.clone(), image, budget)
                            })
                            .await
                    }
                })
                .await?;
            Ok(vec![caption])
        })
    }
}

fn parse_success(text: &str, lang: &str) -> Result<Caption, ProviderError> {
    let parsed: GenerateResponse =
        serde_json::from_str(text).map_err(|e| http::unreadable(SERVICE, e))?;
    let first = parsed.results.into_iter().next();
    let ok =
        parsed.success != Some(false) && first.as_ref().is_some_and(|r| r.success != Some(false));
    let Some(result) = first.filter(|_| ok) else {
        return Err(ProviderError::Permanent(format!(
            "AutoAlt could not caption the image: {}",
            parsed.error.unwrap_or_else(|| "no result".into())
        )));
    };
    match result.alt_text {
        Some(text) if !text.trim().is_empty() => Ok(Caption {
            credits_remaining: parsed.credits_remaining,
            ..Caption::new(text, lang)
        }),
        _ => Err(ProviderError::Permanent(format!(
            "AutoAlt returned an empty caption{}",
            result.error.map(|e| format!(": {e}")).unwrap_or_default()
        ))),
    }
}

/// AutoAlt's documented errors: 400 invalid input, 401 bad key, 403 out of credits *or*
/// rate limited (told apart by the message), 404 image not accessible, 500 model error. A
/// refused key names AltText.ai, the service whose name its docs give its API.
fn classify_error(reply: &Reply) -> ProviderError {
    http::naming_the_other(
        classify(reply),
        "AltText.ai",
        "AltText.ai (alttext.ai) keys go in ALTTEXTAI_API_KEY, with alttextai in ALT_TEXT_PROVIDER.",
    )
}

fn classify(reply: &Reply) -> ProviderError {
    let detail = http::error_detail(&reply.body);
    let lower = detail.to_lowercase();
    match reply.status.as_u16() {
        403 if lower.contains("credit") => ProviderError::OutOfCredits(format!(
            "AutoAlt account is out of credits (403): top up the account, then replay. {detail}"
        )),
        403 if lower.contains("rate limit") || lower.contains("too many") => {
            ProviderError::Transient {
                message: format!("AutoAlt is rate limiting (403). {detail}"),
                retry_after: reply.retry_after,
            }
        }
        400 => ProviderError::Permanent(format!("AutoAlt rejected the input (400). {detail}")),
        404 => ProviderError::Permanent(format!(
            "AutoAlt could not access the image (404). {detail}"
        )),
        500 => ProviderError::Uncertain(format!(
            "AutoAlt model error (500); it may have processed the request. {detail}"
        )),
        _ => http::generic_error(SERVICE, reply),
    }
}

/// A 403 whose words name neither credits nor a rate limit.
fn is_unexplained_403(reply: &Reply, err: &ProviderError) -> bool {
    reply.status.as_u16() == 403 && matches!(err, ProviderError::Permanent(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn classify(status: u16, body: &str) -> ProviderError {
        classify_error(&Reply {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: None,
            body: body.into(),
        })
    }

    #[test]
    fn a_refused_key_names_the_service_of_the_close_name() {
        let e = classify(401, r#"{"error":"Invalid API key"}"#);
        assert!(
            matches!(&e, ProviderError::KeyRejected(m) if m.contains("ALTTEXTAI_API_KEY")),
            "{e:?}"
        );
    }

    #[test]
    fn success_gives_the_caption_and_credits() {
        let c = parse_success(
            r#"{"success":true,"results":[{"alt_text":"A cat.","success":true}],"credits_remaining":41}"#,
            "de",
        )
        .unwrap();
        assert_eq!(c.text, "A cat.");
        assert_eq!(c.lang, "de");
        assert_eq!(c.credits_remaining, Some(41.0));
        for failed in [
            r#"{"success":true,"results":[]}"#,
            r#"{"success":false,"results":[{"alt_text":"x"}],"error":"bad"}"#,
            r#"{"success":true,"results":[{"alt_text":"","success":true}]}"#,
            r#"{"success":true,"results":[{"success":false,"error":"model"}]}"#,
        ] {
            assert!(
                matches!(
                    parse_success(failed, "en"),
                    Err(ProviderError::Permanent(_))
                ),
                "{failed}"
            );
        }
        // A success that cannot be read at all may have been billed.
        assert!(matches!(
            parse_success("not json", "en"),
            Err(ProviderError::Uncertain(_))
        ));
    }

    #[test]
    fn documented_errors_are_classified() {
        assert!(
            matches!(classify(400, r#"{"error":"Invalid image"}"#), ProviderError::Permanent(m) if m.contains("400"))
        );
        assert!(
            matches!(classify(401, r#"{"error":"Invalid API key"}"#), ProviderError::KeyRejected(m) if m.contains("API key"))
        );
        assert!(matches!(
            classify(403, r#"{"error":"Insufficient credits"}"#),
            ProviderError::OutOfCredits(m) if m.contains("out of credits")
        ));
        assert!(matches!(
            classify(403, r#"{"error":"Rate limit exceeded, try again later"}"#),
            ProviderError::Transient { .. }
        ));
        assert!(
            matches!(
                classify(403, r#"{"error":"Not enough credits to generate alt text"}"#),
                ProviderError::OutOfCredits(m) if m.contains("out of credits")
            ),
            "\"generate\" holds \"rate\" but is no rate limit"
        );
        assert!(matches!(
            classify(403, r#"{"error":"Forbidden"}"#),
            ProviderError::Permanent(_)
        ));
        assert!(matches!(
            classify(404, r#"{"error":"Image not accessible"}"#),
            ProviderError::Permanent(_)
        ));
        // A model error may have processed (and billed) the request.
        assert!(matches!(
            classify(500, r#"{"error":"Model error"}"#),
            ProviderError::Uncertain(_)
        ));
        assert!(matches!(
            classify(429, "{}"),
            ProviderError::Transient { .. }
        ));
    }
}
