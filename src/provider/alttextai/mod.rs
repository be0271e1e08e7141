//! AltText.ai (<https://alttext.ai>): captions an image from a presigned URL (or its bytes),
//! in several languages in one call. `POST {base}/api/v1/images` with `X-API-Key`.

use std::fmt::Write as _;

use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::access::Access;
use super::http::{self, Auth, Reply, Sent, ServiceSettings, Wire};
use super::{ANY_SIDE, Caption, ImageRequest, Limits, ProviderError, ProviderKind};
use crate::env::{ConfigError, Env};
use crate::image::ImageFormat;

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
    /// Keywords to work into the caption (`ALT_TEXT_KEYWORDS`, comma separated).
    pub keywords: Vec<String>,
    /// Words the caption must not use (`ALT_TEXT_NEGATIVE_KEYWORDS`, comma separated).
    pub negative_keywords: Vec<String>,
}

impl ServiceSettings for Settings {
    type Wire = AltTextAi;

    fn from_env(env: &Env) -> Result<Settings, ConfigError> {
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
            keywords: list("ALT_TEXT_KEYWORDS")?,
            negative_keywords: list("ALT_TEXT_NEGATIVE_KEYWORDS")?,
        })
    }

    fn wire(&self, _access: &Access) -> AltTextAi {
        AltTextAi::new(self)
    }
}

/// AltText.ai's wire format.
#[derive(Debug, Clone)]
pub struct AltTextAi {
    keywords: Vec<String>,
    negative_keywords: Vec<String>,
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

impl AltTextAi {
    pub fn new(settings: &Settings) -> AltTextAi {
        AltTextAi {
            keywords: settings.keywords.clone(),
            negative_keywords: settings.negative_keywords.clone(),
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
}

impl Wire for AltTextAi {
    const KIND: ProviderKind = ProviderKind::AltTextAi;
    const SERVICE: &'static str = SERVICE;
    const AUTH: Auth = Auth::Header("X-API-Key");
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

    const PATH: &'static str = "/api/v1/images";
    /// The account's credits left.
    const CREDITS_PATH: Option<&'static str> = Some("/api/v1/account");

    fn languages_per_call(&self) -> usize {
        LANGS_PER_CALL
    }

    fn declines(&self, image: &ImageRequest<'_>) -> Result<(), ProviderError> {
        match image.dimensions {
            Some((w, h)) if w < MIN_SIDE || h < MIN_SIDE => Err(ProviderError::Declined(format!(
                "AltText.ai takes images of at least 50×50 pixels; this one is {w}×{h}"
            ))),
            _ => Ok(()),
        }
    }

    /// `{"image":{"asset_id":…,"url"|"raw":…},…options}`; the bytes are encoded straight
    /// into the body.
    fn body(&self, image: &ImageRequest<'_>, sent: Sent<'_>) -> Result<Bytes, ProviderError> {
        let asset = asset_field(image);
        let options = self.options(image);
        Ok(Bytes::from(match sent {
            Sent::Url(url) => {
                let url = serde_json::Value::from(url.expose());
                format!(r#"{{"image":{{{asset}"url":{url}}},{options}"#).into_bytes()
            }
            Sent::Bytes(bytes) => http::json_with_base64(
                &format!(r#"{{"image":{{{asset}"raw":"#),
                &bytes.bytes,
                &format!("}},{options}"),
            ),
        }))
    }

    fn parse(&self, body: &str, image: &ImageRequest<'_>) -> Result<Vec<Caption>, ProviderError> {
        parse_success(body, image.langs)
    }

    fn classify(&self, reply: &Reply) -> ProviderError {
        classify_error(reply)
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
        Settings::from_env(&Env::new(&lookup))
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
