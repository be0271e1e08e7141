//! AltTextLab (<https://www.alttextlab.com>): captions an image it fetches from a presigned
//! URL. `POST {base}/api/v1/alt-text/generate` with the key in `x-api-key`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::access::{Access, ImageInput};
use super::http::{self, Auth, Reply, Sent, ServiceSettings, Wire};
use super::{ANY_SIDE, Caption, ImageRequest, Limits, ProviderError, ProviderKind};
use crate::env::{ConfigError, Env};
use crate::image::ImageFormat;

/// The largest image AltTextLab takes.
/// Its documented "16 MB", read as decimal megabytes (the smaller reading): an image is
/// never sent over the limit.
pub const MAX_BYTES: u64 = 16_000_000;
const SERVICE: &str = "AltTextLab";

/// Writing style AltTextLab offers (`ALT_TEXT_STYLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Descriptive,
    Neutral,
    MatterOfFact,
    Minimal,
}

impl Style {
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Descriptive => "descriptive",
            Style::Neutral => "neutral",
            Style::MatterOfFact => "matter-of-fact",
            Style::Minimal => "minimal",
        }
    }

    fn parse(value: &str) -> Option<Style> {
        match value {
            "descriptive" => Some(Style::Descriptive),
            "neutral" => Some(Style::Neutral),
            "matter-of-fact" => Some(Style::MatterOfFact),
            "minimal" => Some(Style::Minimal),
            _ => None,
        }
    }
}

/// AltTextLab's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Writing style (`ALT_TEXT_STYLE`); `None` leaves the account's default.
    pub style: Option<Style>,
    /// Keywords to work into the caption (`ALT_TEXT_KEYWORDS`, comma separated).
    pub keywords: Vec<String>,
    /// E-commerce product fields (`ALTTEXTLAB_ECOMMERCE`, a JSON object of strings).
    pub ecommerce: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ServiceSettings for Settings {
    type Wire = AltTextLab;

    fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        let style = match env.get("ALT_TEXT_STYLE") {
            None => None,
            Some(value) => Some(Style::parse(&value).ok_or_else(|| {
                ConfigError::invalid(
                    "ALT_TEXT_STYLE",
                    format!(
                        "{value:?} is not one of descriptive, neutral, matter-of-fact, minimal"
                    ),
                )
            })?),
        };
        let ecommerce = match env.get("ALTTEXTLAB_ECOMMERCE") {
            None => None,
            Some(raw) => Some(parse_ecommerce(&raw)?),
        };
        Ok(Settings {
            style,
            keywords: env.list("ALT_TEXT_KEYWORDS"),
            ecommerce,
        })
    }

    fn wire(&self, _access: &Access) -> AltTextLab {
        AltTextLab::new(self)
    }
}

/// `ALTTEXTLAB_ECOMMERCE`: a JSON object of strings, such as `{"brand": "Acme Co."}`.
fn parse_ecommerce(raw: &str) -> Result<serde_json::Map<String, serde_json::Value>, ConfigError> {
    let invalid = |reason: String| ConfigError::invalid("ALTTEXTLAB_ECOMMERCE", reason);
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| invalid(format!("not JSON: {e}")))?;
    match value {
        serde_json::Value::Object(map) if map.values().all(|v| v.is_string()) => Ok(map),
        _ => Err(invalid(
            r#"must be a JSON object of strings, such as {"brand": "Acme Co.", "product": "T-shirt"}"#
                .into(),
        )),
    }
}

/// AltTextLab's wire format.
#[derive(Debug, Clone)]
pub struct AltTextLab {
    style: Option<&'static str>,
    keywords: Vec<String>,
    ecommerce: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateRequest<'a> {
    image_url: &'a str,
    lang: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    style: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keywords: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ecommerce: Option<serde_json::Map<String, serde_json::Value>>,
    /// What the image is for, from its metadata: clarifies, never overrides what is seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<&'a str>,
}

#[derive(Deserialize)]
struct GenerateResponse {
    result: Option<String>,
    id: Option<serde_json::Value>,
}

impl AltTextLab {
    pub fn new(settings: &Settings) -> AltTextLab {
        AltTextLab {
            style: settings.style.map(Style::as_str),
            keywords: settings.keywords.clone(),
            ecommerce: settings.ecommerce.clone(),
        }
    }

    /// `ALTTEXTLAB_ECOMMERCE`, with the image's own product and brand over it.
    fn ecommerce_for(
        &self,
        image: &ImageRequest<'_>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut fields = self.ecommerce.clone().unwrap_or_default();
        fields.extend(image.context.product_fields());
        (!fields.is_empty()).then_some(fields)
    }
}

impl Wire for AltTextLab {
    const KIND: ProviderKind = ProviderKind::AltTextLab;
    const SERVICE: &'static str = SERVICE;
    const AUTH: Auth = Auth::Header("x-api-key");
    const LIMITS: Limits = Limits {
        service: SERVICE,
        formats: &[
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::Webp,
            ImageFormat::Avif,
            ImageFormat::Svg,
        ],
        max_bytes: MAX_BYTES,
        max_side: ANY_SIDE,
    };

    const PATH: &'static str = "/api/v1/alt-text/generate";
    /// The subscription's credits left.
    const CREDITS_PATH: Option<&'static str> = Some("/api/v1/subscriptions/info");

    /// It fetches the image from its URL, and takes no bytes.
    fn input(&self, _image: &ImageRequest<'_>, _configured: ImageInput) -> ImageInput {
        ImageInput::Url
    }

    fn body(&self, image: &ImageRequest<'_>, sent: Sent<'_>) -> Result<Bytes, ProviderError> {
        let Sent::Url(url) = sent else {
            return Err(sent.not_taken(SERVICE));
        };
        let body = GenerateRequest {
            image_url: url.expose(),
            lang: image.lang(),
            style: self.style,
            keywords: image.keywords(&self.keywords),
            ecommerce: self.ecommerce_for(image),
            context: image.context.context.as_deref(),
        };
        Ok(Bytes::from(
            serde_json::to_vec(&body).expect("a request serialises"),
        ))
    }

    fn parse(&self, body: &str, image: &ImageRequest<'_>) -> Result<Vec<Caption>, ProviderError> {
        parse_success(body, image.lang()).map(|caption| vec![caption])
    }

    fn classify(&self, reply: &Reply) -> ProviderError {
        classify_error(reply)
    }
}

fn parse_success(text: &str, lang: &str) -> Result<Caption, ProviderError> {
    let parsed: GenerateResponse =
        serde_json::from_str(text).map_err(|e| http::unreadable(SERVICE, e))?;
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
        request_id,
        ..Caption::new(caption, lang)
    })
}

/// AltTextLab's errors: out of credits is 403 with `NOT_ENOUGH_FUNDS`, as a JSON `key` or
/// as the bare body (its own plugin compares the raw body), so it is found anywhere in it;
/// `API_KEY_IS_INVALID` (which its plugin checks the same way) is a refused key whatever
/// the status, re-read from its store and then paused, as a 401 is.
fn classify_error(reply: &Reply) -> ProviderError {
    if reply.body.contains("API_KEY_IS_INVALID") {
        return ProviderError::KeyRejected(format!(
            "AltTextLab rejected the API key ({} API_KEY_IS_INVALID)",
            reply.status.as_u16()
        ));
    }
    if reply.body.contains("NOT_ENOUGH_FUNDS") {
        return ProviderError::OutOfCredits(format!(
            "AltTextLab account is out of credits ({} NOT_ENOUGH_FUNDS): top up the account, then replay",
            reply.status.as_u16()
        ));
    }
    http::generic_error(SERVICE, reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use std::time::Duration;

    fn classify_error(
        status: StatusCode,
        retry_after: Option<Duration>,
        body: &str,
    ) -> ProviderError {
        super::classify_error(&Reply {
            status,
            retry_after,
            body: body.into(),
        })
    }

    #[test]
    fn success_bodies_give_the_caption() {
        let c =
            parse_success(r#"{"id":"abc123","result":"A cat.","creditsUsed":1}"#, "en").unwrap();
        assert_eq!(
            c,
            Caption {
                request_id: Some("abc123".into()),
                ..Caption::new("A cat.", "en")
            }
        );
        let c = parse_success(r#"{"id":42,"result":"A dog."}"#, "de").unwrap();
        assert_eq!(c.request_id.as_deref(), Some("42"));
        assert!(matches!(
            parse_success(r#"{"id":1,"result":"  "}"#, "en"),
            Err(ProviderError::Permanent(_))
        ));
        // An unreadable success may have been billed.
        assert!(matches!(
            parse_success("<html>oops", "en"),
            Err(ProviderError::Uncertain(_))
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
            matches!(&e, ProviderError::KeyRejected(m) if m.contains("API key")),
            "{e:?}"
        );
        for body in [
            r#"{"key":"NOT_ENOUGH_FUNDS","message":"Not enough funds"}"#,
            "NOT_ENOUGH_FUNDS",
            r#""NOT_ENOUGH_FUNDS""#,
        ] {
            let e = classify_error(StatusCode::FORBIDDEN, None, body);
            assert!(
                matches!(&e, ProviderError::OutOfCredits(m) if m.contains("out of credits")),
                "{body}: {e:?}"
            );
        }
        for (status, body) in [
            (StatusCode::FORBIDDEN, r#"{"key":"API_KEY_IS_INVALID"}"#),
            (StatusCode::BAD_REQUEST, "API_KEY_IS_INVALID"),
        ] {
            let e = classify_error(status, None, body);
            assert!(matches!(&e, ProviderError::KeyRejected(_)), "{body}: {e:?}");
        }
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
        // A server error may have processed (and billed) the request.
        assert!(matches!(
            classify_error(StatusCode::BAD_GATEWAY, None, ""),
            ProviderError::Uncertain(_)
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
