//! AltText.ai (<https://alttext.ai>): captions an image from a presigned URL (or its bytes),
//! in several languages in one call. `POST {base}/api/v1/images` with `X-API-Key`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::access::{Access, ImageInput};
use super::http;
use super::keys::{KeyStore, ServiceKey};
use super::retry::RetryPolicy;
use super::{ANY_SIDE, Caption, ImageRequest, Limits, Provider, ProviderError, ProviderKind};
use crate::env::{ConfigError, Env};
use crate::image::ImageFormat;
use crate::secret::ApiKey;

mod reply;

use reply::{classify_error, parse_success};

/// The largest image AltText.ai takes: its documented "16 MB", read as decimal megabytes (the smaller reading): an image is
/// never sent over the limit.
pub const MAX_BYTES: u64 = 16_000_000;
/// The smallest side it takes, in pixels.
pub const MIN_SIDE: u32 = 50;
/// Languages asked for in one call.
const LANGS_PER_CALL: usize = 10;
/// The most `keywords`, and the most `negative_keywords`, a request may carry.
pub const MAX_KEYWORDS: usize = 6;
const SERVICE: &str = "AltText.ai";

/// AltText.ai's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub access: Access,
    /// Keywords to work into the caption (`ALT_TEXT_KEYWORDS`, comma separated).
    pub keywords: Vec<String>,
    /// Words the caption must not use (`ALT_TEXT_NEGATIVE_KEYWORDS`, comma separated).
    pub negative_keywords: Vec<String>,
}

impl Settings {
    pub fn from_env(env: &Env, access: Access) -> Result<Settings, ConfigError> {
        let list = |name: &'static str| {
            let list = env.list(name);
            if list.len() > MAX_KEYWORDS {
                let why = format!(
                    "has {} entries; AltText.ai takes at most {MAX_KEYWORDS}",
                    list.len()
                );
                return Err(ConfigError::invalid(name, why));
            }
            Ok(list)
        };
        Ok(Settings {
            access,
            keywords: list("ALT_TEXT_KEYWORDS")?,
            negative_keywords: list("ALT_TEXT_NEGATIVE_KEYWORDS")?,
        })
    }
}

/// The AltText.ai API client.
#[derive(Debug, Clone)]
pub struct AltTextAi {
    http: reqwest::Client,
    endpoint: String,
    access: Access,
    key: ServiceKey,
    keywords: Vec<String>,
    negative_keywords: Vec<String>,
    /// `GET` it for the account's credits.
    account: String,
    retry: RetryPolicy,
}

/// The `asset_id` of an object's bytes: AltText.ai answers a known asset from its library
/// without charging, so a retry, a replay or a re-run of the same bytes costs nothing. A
/// SHA-256 of bucket, key, ETag and the languages asked (a later call for other languages is
/// another asset, so a stored text never answers for a language it is not in), in hex: 64
/// characters, none it refuses.
fn asset_id(image: &ImageRequest<'_>) -> Option<String> {
    let etag = image.etag?;
    let mut langs: Vec<String> = image.langs.iter().map(|l| l.to_lowercase()).collect();
    langs.sort();
    let langs = langs.join(",");
    let mut hash = Sha256::new();
    for part in [image.bucket, image.key, etag, &langs] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let mut id = String::with_capacity(64);
    for byte in hash.finalize() {
        let _ = write!(id, "{byte:02x}");
    }
    Some(id)
}

/// What AltText.ai takes.
const LIMITS: Limits = Limits {
    service: SERVICE,
    formats: &[
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::Gif,
        ImageFormat::Webp,
        ImageFormat::Bmp,
    ],
    max_bytes: MAX_BYTES,
    max_side: ANY_SIDE,
};

impl AltTextAi {
    pub fn new(
        http: reqwest::Client,
        settings: &Settings,
        keys: Option<Arc<dyn KeyStore>>,
    ) -> AltTextAi {
        AltTextAi {
            http,
            key: ServiceKey::new(SERVICE, &settings.access, keys),
            endpoint: format!("{}/api/v1/images", settings.access.url),
            account: format!("{}/api/v1/account", settings.access.url),
            access: settings.access.clone(),
            keywords: settings.keywords.clone(),
            negative_keywords: settings.negative_keywords.clone(),
            retry: RetryPolicy::default(),
        }
    }

    /// The request's fields after `image`: `"lang":…,"async":false,…}`. A known asset is
    /// not processed again (`overwrite: false`): its stored alt text comes back, free.
    fn options(&self, image: &ImageRequest<'_>) -> String {
        let mut options = json!({
            "lang": image.langs.join(","),
            "async": false,
            "overwrite": false,
        });
        let (keywords, ecomm) = keywords_and_ecomm(image, &self.keywords);
        if !keywords.is_empty() {
            options["keywords"] = json!(keywords);
        }
        if !self.negative_keywords.is_empty() {
            options["negative_keywords"] = json!(self.negative_keywords);
        }
        if let Some(ecomm) = ecomm {
            options["ecomm"] = serde_json::Value::Object(ecomm);
        }
        if let Some(max) = image.max_chars {
            options["max_chars"] = json!(max);
        }
        options.to_string()[1..].to_string()
    }

    /// The request body with the image's bytes, built once for every attempt.
    async fn raw_body(&self, image: &ImageRequest<'_>) -> Result<Bytes, ProviderError> {
        let bytes = image.bytes_for(&LIMITS).await?.bytes;
        let suffix = format!("}},{}", self.options(image));
        let prefix = format!(r#"{{"image":{{{}"raw":"#, asset_field(image));
        Ok(Bytes::from(http::json_with_base64(
            &prefix, &bytes, &suffix,
        )))
    }

    async fn attempt(
        &self,
        key: &ApiKey,
        image: &ImageRequest<'_>,
        raw_body: Option<&Bytes>,
        budget: Duration,
    ) -> Result<Vec<Caption>, ProviderError> {
        let body = match raw_body {
            Some(body) => body.clone(),
            None => {
                let url = image.fresh_url().await?;
                let url = serde_json::Value::from(url.expose());
                Bytes::from(format!(
                    r#"{{"image":{{{}"url":{url}}},{}"#,
                    asset_field(image),
                    self.options(image)
                ))
            }
        };
        let request = self
            .http
            .post(&self.endpoint)
            .header("X-API-Key", key.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        http::exchange(
            SERVICE,
            request,
            budget.min(self.access.timeout),
            image.calls,
            |body| parse_success(body, image.langs),
            classify_error,
        )
        .await
    }
}

impl Provider for AltTextAi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::AltTextAi
    }

    fn languages_per_call(&self) -> usize {
        LANGS_PER_CALL
    }

    fn memory_needed(&self, image: &ImageRequest<'_>) -> u64 {
        match self.access.image_input {
            ImageInput::Url => 0,
            ImageInput::Data => image.memory_for(&LIMITS, http::base64_body_memory),
        }
    }

    /// By URL, the image as it is; its bytes are prepared where it does not take them.
    fn accepts(&self, image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        self.key.require()?;
        match self.access.image_input {
            ImageInput::Url => LIMITS.check(image)?,
            ImageInput::Data => drop(image.plan(&LIMITS)?),
        }
        if let Some((w, h)) = image.dimensions
            && (w < MIN_SIDE || h < MIN_SIDE)
        {
            return Err(ProviderError::Declined(format!(
                "AltText.ai takes images of at least 50×50 pixels; this one is {w}×{h}"
            )));
        }
        Ok(())
    }

    /// The account's credits left (`GET /api/v1/account`).
    fn credits(&self) -> BoxFuture<'_, Result<Option<f64>, ProviderError>> {
        Box::pin(self.key.with_key(move |key| async move {
            let request = self
                .http
                .get(&self.account)
                .header("X-API-Key", key.expose());
            http::credits_left(SERVICE, request, self.access.timeout).await
        }))
    }

    fn caption<'a>(
        &'a self,
        image: &'a ImageRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<Caption>, ProviderError>> {
        Box::pin(async move {
            self.accepts(image)?;
            let raw = match self.access.image_input {
                ImageInput::Url => None,
                ImageInput::Data => Some(self.raw_body(image).await?),
            };
            let raw = raw.as_ref();
            self.key
                .with_key(|key| async move {
                    self.retry
                        .run(image.deadline, |budget| {
                            self.attempt(&key, image, raw, budget)
                        })
                        .await
                })
                .await
        })
    }
}

/// The request's `keywords` (the configured ones first, then the image's, at most
/// [`MAX_KEYWORDS`]) and its `ecomm`: AltText.ai requires `ecomm.product` whenever `ecomm`
/// is sent, so an image with a brand and no product has its brand among the keywords.
fn keywords_and_ecomm(
    image: &ImageRequest<'_>,
    configured: &[String],
) -> (
    Vec<String>,
    Option<serde_json::Map<String, serde_json::Value>>,
) {
    let mut keywords = image.keywords(configured);
    let context = image.context;
    let ecomm = match (&context.product, &context.brand) {
        (Some(_), _) => Some(context.product_fields()),
        (None, Some(brand)) => {
            if !keywords.iter().any(|k| k.eq_ignore_ascii_case(brand)) {
                keywords.push(brand.clone());
            }
            None
        }
        (None, None) => None,
    };
    keywords.truncate(MAX_KEYWORDS);
    (keywords, ecomm)
}

/// `"asset_id":"…",` for an object with an ETag; nothing otherwise.
fn asset_field(image: &ImageRequest<'_>) -> String {
    asset_id(image)
        .map(|id| format!(r#""asset_id":"{id}","#))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::http::Reply;
    use reqwest::StatusCode;

    fn langs(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_refused_key_names_the_service_of_the_close_name() {
        for status in [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN] {
            let e = classify_error(&Reply {
                status,
                retry_after: None,
                body: r#"{"error":"Invalid API key"}"#.into(),
            });
            assert!(
                matches!(&e, ProviderError::KeyRejected(m) if m.contains("AUTOALT_API_KEY")),
                "{e:?}"
            );
        }
    }

    /// AltText.ai's settings with `name` set to `value`.
    fn settings_with(name: &str, value: &str) -> Result<Settings, ConfigError> {
        let lookup = |n: &str| (n == name).then(|| value.to_string());
        let env = Env::new(&lookup);
        let url = "https://alttext.ai";
        let access = Access::from_env(&env, "ALTTEXTAI", url, Duration::from_secs(9), true)?;
        Settings::from_env(&env, access)
    }

    #[test]
    fn more_keywords_than_it_takes_are_refused_at_start() {
        for name in ["ALT_TEXT_KEYWORDS", "ALT_TEXT_NEGATIVE_KEYWORDS"] {
            let err = settings_with(name, "a,b,c,d,e,f,g").unwrap_err();
            assert!(err.to_string().contains("at most 6"), "{name}: {err}");
        }
        let six = settings_with("ALT_TEXT_KEYWORDS", "a,b,c,d,e,f").unwrap();
        assert_eq!(six.keywords.len(), 6);
    }

    #[test]
    fn one_or_several_languages() {
        let c = parse_success(r#"{"asset_id":"a1","alt_text":"A cat."}"#, &langs(&["en"])).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].text.as_str(), c[0].lang.as_str()), ("A cat.", "en"));
        assert_eq!(c[0].request_id.as_deref(), Some("a1"));
        let c = parse_success(
            r#"{"asset_id":"a2","alt_text":"A cat.","alt_texts":{"en":"A cat.","de":"Eine Katze."}}"#,
            &langs(&["en", "de", "fr"]),
        )
        .unwrap();
        let got: Vec<(&str, &str)> = c
            .iter()
            .map(|c| (c.lang.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(got, vec![("en", "A cat."), ("de", "Eine Katze.")]);
        let listed = parse_success(
            r#"{"asset_id":"a4","alt_text":"A cat.","alt_texts":[{"lang":"en","alt_text":"A cat."},{"lang":"fr","alt_text":"Un chat."}]}"#,
            &langs(&["en", "fr"]),
        )
        .unwrap();
        assert_eq!(listed[1].text, "Un chat.");
        assert_eq!(listed[1].lang, "fr");
        let odd = parse_success(
            r#"{"asset_id":"a5","alt_text":"A cat.","alt_texts":null}"#,
            &langs(&["en"]),
        )
        .unwrap();
        assert_eq!(
            odd[0].text, "A cat.",
            "an odd alt_texts loses no paid caption"
        );
        let missing = parse_success(
            r#"{"asset_id":"a6","alt_text":"A cat.","alt_texts":{"en":"A cat."}}"#,
            &langs(&["en", "de"]),
        )
        .unwrap();
        assert_eq!(missing.len(), 1, "no English text is taken for German");
        assert!(matches!(
            parse_success(r#"{"asset_id":"a3","alt_text":""}"#, &langs(&["en"])),
            Err(ProviderError::Permanent(_))
        ));
    }

    #[test]
    fn errors_are_classified() {
        let reply = |status: u16, body: &str| Reply {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: None,
            body: body.into(),
        };
        assert!(matches!(
            classify_error(&reply(422, r#"{"errors":{"base":["Insufficient credits"]}}"#)),
            ProviderError::OutOfCredits(m) if m.contains("out of credits")
        ));
        assert!(matches!(
            classify_error(&reply(422, r#"{"errors":{"image":["is too small"]}}"#)),
            ProviderError::Permanent(m) if !m.contains("credits")
        ));
        assert!(matches!(
            classify_error(&reply(401, "{}")),
            ProviderError::KeyRejected(_)
        ));
        assert!(matches!(
            classify_error(&reply(429, "{}")),
            ProviderError::Transient { .. }
        ));
        // A server error may have processed (and billed) the request.
        assert!(matches!(
            classify_error(&reply(502, "")),
            ProviderError::Uncertain(_)
        ));
    }
}
