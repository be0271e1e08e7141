//! AutoAlt / AltTextAI (<https://autoalt.app>): captions an image sent in the request, as
//! base64. `POST {base}/api/v1/generate` with `Authorization: Bearer KEY`.

use bytes::Bytes;
use serde::Deserialize;

use super::access::{Access, ImageInput};
use super::http::{self, Auth, Reply, Sent, ServiceSettings, Wire};
use super::{ANY_SIDE, Caption, ImageRequest, Limits, ProviderError, ProviderKind};
use crate::env::{ConfigError, Env};
use crate::image::ImageFormat;

/// The largest image sent (it travels base64 in the request body).
/// Its documented "16 MB", read as decimal megabytes (the smaller reading): an image is
/// never sent over the limit.
pub const MAX_BYTES: u64 = 16_000_000;
/// The languages AutoAlt writes.
pub const LANGUAGES: [&str; 12] = [
    "en", "es", "fr", "de", "it", "pt", "nl", "pl", "ru", "ja", "ko", "zh",
];
const SERVICE: &str = "AutoAlt";

/// AutoAlt's settings: it has none beyond its key and URL.
#[derive(Debug, Clone)]
pub struct Settings;

impl ServiceSettings for Settings {
    type Wire = AutoAlt;

    fn from_env(_env: &Env) -> Result<Settings, ConfigError> {
        Ok(Settings)
    }

    fn wire(&self, _access: &Access) -> AutoAlt {
        AutoAlt
    }
}

/// AutoAlt's wire format.
#[derive(Debug, Clone)]
pub struct AutoAlt;

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

impl Wire for AutoAlt {
    const KIND: ProviderKind = ProviderKind::AutoAlt;
    const SERVICE: &'static str = SERVICE;
    const AUTH: Auth = Auth::Bearer;
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

    const PATH: &'static str = "/api/v1/generate";
    /// The credits left: they tell an unexplained 403 apart.
    const CREDITS_PATH: Option<&'static str> = Some("/api/v1/credits");

    /// It is sent the image's bytes, base64, and takes no URL.
    fn input(&self, _image: &ImageRequest<'_>, _configured: ImageInput) -> ImageInput {
        ImageInput::Data
    }

    fn supports_lang(&self, lang: &str) -> bool {
        LANGUAGES
            .iter()
            .any(|l| l.eq_ignore_ascii_case(primary(lang)))
    }

    fn body(&self, image: &ImageRequest<'_>, sent: Sent<'_>) -> Result<Bytes, ProviderError> {
        let Sent::Bytes(bytes) = sent else {
            return Err(sent.not_taken(SERVICE));
        };
        let code = serde_json::Value::from(primary(image.lang()).to_ascii_lowercase());
        let suffix = format!(r#","language":{code}}}"#);
        Ok(Bytes::from(http::json_with_base64(
            r#"{"image":"#,
            &bytes.bytes,
            &suffix,
        )))
    }

    fn parse(&self, body: &str, image: &ImageRequest<'_>) -> Result<Vec<Caption>, ProviderError> {
        parse_success(body, image.lang()).map(|caption| vec![caption])
    }

    fn classify(&self, reply: &Reply) -> ProviderError {
        classify_error(reply)
    }

    /// AutoAlt answers both "no credits" and rate limiting with 403; when its words do not
    /// say which, the credits left do.
    fn ask_credits(&self, reply: &Reply, err: &ProviderError) -> bool {
        reply.status.as_u16() == 403 && matches!(err, ProviderError::Permanent(_))
    }

    /// Some credits left is a rate limit (back off), none an account out of credits.
    fn with_credits(&self, err: ProviderError, left: f64) -> ProviderError {
        if left > 0.0 {
            ProviderError::Transient {
                message: format!("AutoAlt is rate limiting (403, {left} credits left). {err}"),
                retry_after: None,
            }
        } else {
            ProviderError::OutOfCredits(format!(
                "AutoAlt account is out of credits (403, 0 credits left): top up the account, then replay. {err}"
            ))
        }
    }
}

/// The primary language of a tag (`pt` of `pt-BR`).
fn primary(lang: &str) -> &str {
    lang.split('-').next().unwrap_or(lang)
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
