//! OpenAI-compatible vision models (OpenAI, Ollama, vLLM, LM Studio):
//! `POST {base}/v1/chat/completions` with a prompt and the image as an `image_url` part,
//! the presigned URL or a `data:` URL. The key (`Authorization: Bearer`) is optional, for
//! local servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

mod params;

use params::refused_param;

use crate::env::{ConfigError, Env};
use crate::image::ImageFormat;
use crate::provider::access::{Access, ImageInput};
use crate::provider::http::{self, Auth, Reply, Sent, ServiceSettings, Wire};
use crate::provider::{
    ANY_SIDE, Caption, ImageBytes, ImageRequest, Limits, ProviderError, ProviderKind, prompt,
};

/// The largest image sent as a `data:` URL, or handed over by URL (16 MB, decimal).
pub const MAX_BYTES: u64 = 16_000_000;
const SERVICE: &str = "OpenAI-compatible server";

/// Default model of the OpenAI-compatible provider.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// The OpenAI-compatible provider's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Model name (`OPENAI_MODEL`).
    pub model: String,
    /// Instructions instead of the default prompt (`ALT_TEXT_PROMPT`).
    pub prompt: Option<String>,
}

impl ServiceSettings for Settings {
    type Wire = OpenAi;

    fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        Ok(Settings {
            model: env
                .get("OPENAI_MODEL")
                .unwrap_or_else(|| DEFAULT_MODEL.into()),
            prompt: env.get("ALT_TEXT_PROMPT"),
        })
    }

    /// The key is optional: local servers (Ollama, vLLM, LM Studio) take none.
    fn wire(&self, access: &Access) -> OpenAi {
        OpenAi::new(self, access)
    }
}

/// The chat-completions wire format.
#[derive(Debug, Clone)]
pub struct OpenAi {
    model: String,
    prompt: Option<String>,
    /// The parameters this server refused (`RefusedParams`), shared by every call of the container.
    refused: Arc<AtomicU8>,
    /// OpenAI itself takes `max_completion_tokens`; other servers (Ollama, vLLM) `max_tokens`.
    completion_tokens_first: bool,
}

#[derive(Deserialize)]
struct Completion {
    id: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<Message>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<serde_json::Value>,
    refusal: Option<String>,
}

/// What the OpenAI-compatible models are sent.
const LIMITS: Limits = Limits {
    service: "OpenAI-compatible models",
    formats: &[
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::Gif,
        ImageFormat::Webp,
    ],
    max_bytes: MAX_BYTES,
    max_side: ANY_SIDE,
};

/// What they are sent as a `data:` URL: a GIF is sent as its first frame, since an animated
/// one is refused ("non-animated GIF" only). So is a GIF given by URL: the URL would hand
/// over every frame.
const DATA_LIMITS: Limits = Limits {
    formats: &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp],
    ..LIMITS
};

impl OpenAi {
    pub fn new(settings: &Settings, access: &Access) -> OpenAi {
        let base = <OpenAi as Wire>::base(&access.url);
        OpenAi {
            model: settings.model.clone(),
            prompt: settings.prompt.clone(),
            refused: Arc::new(AtomicU8::new(0)),
            completion_tokens_first: reqwest::Url::parse(base)
                .ok()
                .and_then(|u| u.host_str().map(|h| h == "api.openai.com"))
                .unwrap_or(false),
        }
    }

    /// The request, its image URL empty, with the parameters this server takes.
    fn request_head(&self, image: &ImageRequest<'_>) -> serde_json::Value {
        let text = prompt::prompt(
            self.prompt.as_deref(),
            image.lang(),
            image.max_chars,
            image.context,
        );
        let mut head = json!({
            "model": self.model,
            "messages": [{
                "role": "user",
                "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {"url": "", "detail": "low"}},
                ],
            }],
        });
        if let Some(object) = head.as_object_mut() {
            let refused = self.refused.load(Ordering::Relaxed);
            object.extend(params::tuning(self.completion_tokens_first, refused));
        }
        head
    }

    /// The body with the image as a `data:` URL: the image is encoded straight into it.
    fn data_body(&self, image: &ImageRequest<'_>, image_bytes: &ImageBytes) -> Bytes {
        let head = self.request_head(image).to_string();
        let (before, after) = around_empty_url(&head);
        let mime = image_bytes.format.mime_type();
        Bytes::from(http::json_with_data_url(
            before,
            mime,
            &image_bytes.bytes,
            after,
        ))
    }
}

impl Wire for OpenAi {
    const KIND: ProviderKind = ProviderKind::OpenAi;
    const SERVICE: &'static str = SERVICE;
    const AUTH: Auth = Auth::Bearer;
    const LIMITS: Limits = LIMITS;

    const PATH: &'static str = "/v1/chat/completions";

    /// A base given with or without its `/v1`.
    fn base(url: &str) -> &str {
        url.trim_end_matches("/v1")
    }

    /// As a `data:` URL with `OPENAI_IMAGE_INPUT=data`, and a GIF by URL too (as its first
    /// frame).
    fn input(&self, image: &ImageRequest<'_>, configured: ImageInput) -> ImageInput {
        if image.format == ImageFormat::Gif {
            ImageInput::Data
        } else {
            configured
        }
    }

    fn limits(&self, input: ImageInput) -> Limits {
        match input {
            ImageInput::Url => LIMITS,
            ImageInput::Data => DATA_LIMITS,
        }
    }

    fn body(&self, image: &ImageRequest<'_>, sent: Sent<'_>) -> Result<Bytes, ProviderError> {
        Ok(match sent {
            Sent::Bytes(bytes) => self.data_body(image, bytes),
            Sent::Url(url) => {
                let mut body = self.request_head(image);
                body["messages"][0]["content"][1]["image_url"]["url"] = json!(url.expose());
                Bytes::from(body.to_string())
            }
        })
    }

    fn parse(&self, body: &str, image: &ImageRequest<'_>) -> Result<Vec<Caption>, ProviderError> {
        parse_success(body, image.lang()).map(|caption| vec![caption])
    }

    fn classify(&self, reply: &Reply) -> ProviderError {
        classify_error(reply)
    }

    /// A request refused for a parameter this server does not take is sent once more
    /// without it, and the container remembers. A server names one refused parameter at a
    /// time, so each of the three may cost one request (never billed: a 400), once per
    /// container.
    fn learn(&self, reply: &Reply) -> bool {
        let Some(param) = refused_param(reply) else {
            return false;
        };
        self.refused.fetch_or(param, Ordering::Relaxed);
        true
    }
}

/// The serialised request before and after the empty string of its image URL.
fn around_empty_url(head: &str) -> (&str, &str) {
    let marker = r#""url":"""#;
    let at = head.find(marker).expect("the request has an empty url") + r#""url":"#.len();
    (&head[..at], &head[at + 2..])
}

fn parse_success(text: &str, lang: &str) -> Result<Caption, ProviderError> {
    let parsed: Completion =
        serde_json::from_str(text).map_err(|e| http::unreadable(SERVICE, e))?;
    let Some(choice) = parsed.choices.into_iter().next() else {
        return Err(ProviderError::Permanent(
            "the model returned no choices".into(),
        ));
    };
    match choice.finish_reason.as_deref() {
        Some("stop") | Some("end_turn") | None => {}
        Some("length") => {
            return Err(ProviderError::Permanent(
                "the model's caption was cut off by its token limit".into(),
            ));
        }
        Some("content_filter") => {
            return Err(ProviderError::Permanent(
                "the model's content filter withheld the caption".into(),
            ));
        }
        Some(other) => {
            return Err(ProviderError::Permanent(format!(
                "the model stopped for {other:?}, not at the end of a caption"
            )));
        }
    }
    let message = choice.message.unwrap_or(Message {
        content: None,
        refusal: None,
    });
    if let Some(refusal) = message.refusal.filter(|r| !r.is_empty()) {
        return Err(ProviderError::Permanent(format!(
            "the model refused: {}",
            crate::secret::redact_urls(&refusal.chars().take(120).collect::<String>())
        )));
    }
    let text = match message.content {
        Some(serde_json::Value::String(s)) => s,
        // Some servers answer with content parts.
        Some(serde_json::Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    if text.trim().is_empty() {
        return Err(ProviderError::Permanent(
            "the model returned an empty caption".into(),
        ));
    }
    Ok(Caption {
        request_id: parsed.id,
        ..Caption::new(text, lang)
    })
}

/// OpenAI's statuses: 429 is a rate limit unless the quota is spent, 401/403 a key or
/// permission problem, 400/404 a request the model will refuse again, 5xx transient.
fn classify_error(reply: &Reply) -> ProviderError {
    let detail = http::error_detail(&reply.body);
    match reply.status.as_u16() {
        429 if reply.body.contains("insufficient_quota") => ProviderError::OutOfCredits(format!(
            "the OpenAI account is out of credits (429 insufficient_quota): add credits, then replay. {detail}"
        )),
        404 => ProviderError::Permanent(format!(
            "the model or endpoint was not found (404): check OPENAI_MODEL and OPENAI_API_URL. {detail}"
        )),
        _ => http::generic_error(SERVICE, reply),
    }
}

#[cfg(test)]
mod tests {
    use super::params::{MAX_COMPLETION_TOKENS, MAX_TOKENS, RefusedParams, tuning};
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn finished_captions_are_accepted() {
        let c = parse_success(
            r#"{"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"A cat."},"finish_reason":"stop"}]}"#,
            "en",
        )
        .unwrap();
        assert_eq!(
            (c.text.as_str(), c.request_id.as_deref()),
            ("A cat.", Some("chatcmpl-1"))
        );
        let c = parse_success(
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"Eine Katze."}]},"finish_reason":"stop"}]}"#,
            "de",
        )
        .unwrap();
        assert_eq!(c.text, "Eine Katze.");
    }

    #[test]
    fn cut_off_filtered_and_refused_captions_are_not() {
        for body in [
            r#"{"choices":[{"message":{"content":"A cat sitting on a"},"finish_reason":"length"}]}"#,
            r#"{"choices":[{"message":{"content":""},"finish_reason":"content_filter"}]}"#,
            r#"{"choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"message":{"content":"  "},"finish_reason":"stop"}]}"#,
            r#"{"choices":[]}"#,
        ] {
            assert!(
                matches!(parse_success(body, "en"), Err(ProviderError::Permanent(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn errors_are_classified() {
        let reply = |status: u16, body: &str| Reply {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: None,
            body: body.into(),
        };
        assert!(matches!(
            classify_error(&reply(429, r#"{"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}}"#)),
            ProviderError::OutOfCredits(m) if m.contains("out of credits")
        ));
        assert!(matches!(
            classify_error(&reply(
                429,
                r#"{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}"#
            )),
            ProviderError::Transient { .. }
        ));
        assert!(matches!(
            classify_error(&reply(401, "{}")),
            ProviderError::KeyRejected(_)
        ));
        assert!(
            matches!(classify_error(&reply(404, "{}")), ProviderError::Permanent(m) if m.contains("OPENAI_MODEL"))
        );
        // A server error may have processed (and billed) the request.
        assert!(matches!(
            classify_error(&reply(500, "{}")),
            ProviderError::Uncertain(_)
        ));
    }

    #[test]
    fn data_urls_are_spliced_into_the_body() {
        let head = json!({"content": [{"image_url": {"url": "", "detail": "low"}}]}).to_string();
        let (before, after) = around_empty_url(&head);
        let body = http::json_with_data_url(before, "image/png", b"\0\0\0", after);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["content"][0]["image_url"]["url"],
            "data:image/png;base64,AAAA"
        );
        assert_eq!(v["content"][0]["image_url"]["detail"], "low");
    }

    fn client(url: &str) -> OpenAi {
        let access = Access {
            env_prefix: "OPENAI",
            api_key: None,
            key_source: None,
            url: url.into(),
            image_input: ImageInput::Url,
            timeout: std::time::Duration::from_secs(5),
        };
        let settings = Settings {
            model: "o4-mini".into(),
            prompt: None,
        };
        OpenAi::new(&settings, &access)
    }

    #[test]
    fn the_token_limit_is_named_as_the_server_takes_it() {
        let openai = client("https://api.openai.com/v1");
        let local = client("http://localhost:11434");
        let fields = |c: &OpenAi, refused| {
            serde_json::Value::Object(tuning(c.completion_tokens_first, refused))
        };
        assert_eq!(
            fields(&openai, 0),
            json!({"max_completion_tokens": MAX_COMPLETION_TOKENS, "temperature": 0.2})
        );
        assert_eq!(
            fields(&local, 0),
            json!({"max_tokens": MAX_TOKENS, "temperature": 0.2})
        );
        assert_eq!(
            fields(
                &local,
                RefusedParams::MAX_TOKENS | RefusedParams::TEMPERATURE
            ),
            json!({"max_completion_tokens": MAX_COMPLETION_TOKENS})
        );
        assert_eq!(
            fields(
                &openai,
                RefusedParams::MAX_COMPLETION_TOKENS | RefusedParams::MAX_TOKENS
            ),
            json!({"temperature": 0.2})
        );
    }

    #[test]
    fn refused_parameters_are_read_from_openai_errors() {
        let refusal = |param: &str, code: &str| {
            Reply {
            status: StatusCode::BAD_REQUEST,
            retry_after: None,
            body: json!({"error": {"message": "Unsupported parameter", "type": "invalid_request_error", "param": param, "code": code}}).to_string(),
        }
        };
        assert_eq!(
            refused_param(&refusal("max_tokens", "unsupported_parameter")),
            Some(RefusedParams::MAX_TOKENS)
        );
        assert_eq!(
            refused_param(&refusal("temperature", "unsupported_value")),
            Some(RefusedParams::TEMPERATURE)
        );
        assert_eq!(
            refused_param(&refusal("messages", "unsupported_parameter")),
            None
        );
        assert_eq!(refused_param(&refusal("max_tokens", "invalid_value")), None);
    }
}
