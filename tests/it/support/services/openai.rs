//! OpenAI chat completions (and the servers compatible with them): `POST
//! /v1/chat/completions` with an optional `Authorization: Bearer`; the image comes as a data
//! URL or by URL, in one user message with the prompt, and the answer is one choice.

use serde_json::{Value, json};

use super::request::{bearer, post_to, prompt_lang};
use super::{Call, Refusal, Service, State, Takes, kind};
use crate::support::http::{HttpRequest, HttpResponse};

/// Chat completions: PNG, JPEG, WebP and non-animated GIF, up to 20 MB.
pub const OPENAI: Takes = Takes {
    formats: &["png", "jpeg", "gif", "webp"],
    max_bytes: 20 << 20,
    max_side: u32::MAX,
    min_side: 1,
    animated: false,
};

pub(super) struct OpenAi;

impl Service for OpenAi {
    /// `POST /v1/chat/completions`, optional `Authorization: Bearer`, a text and an
    /// `image_url` part.
    async fn check(
        &self,
        fake: &State,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal> {
        post_to(
            req,
            "/v1/chat/completions",
            json!({"error": {"message": "Unknown request URL", "code": "unknown_url"}}),
        )?;
        fake.expect_key(bearer(req), (401, json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})))?;
        let invalid = |m: &str| {
            (
                400,
                json!({"error": {"message": m, "type": "invalid_request_error"}}),
            )
        };
        let model = body["model"].as_str().unwrap_or_default();
        if model.is_empty() {
            return Err(invalid("you must provide a model parameter"));
        }
        if is_reasoning_model(model) {
            reasoning_parameters(body)?;
        }
        let parts = body["messages"][0]["content"]
            .as_array()
            .ok_or(invalid("messages[0].content must be an array"))?;
        let prompt = parts
            .iter()
            .find_map(|p| (p["type"] == "text").then(|| p["text"].as_str()).flatten())
            .ok_or(invalid("a text part is required"))?;
        let url = parts
            .iter()
            .find_map(|p| {
                (p["type"] == "image_url")
                    .then(|| p["image_url"]["url"].as_str())
                    .flatten()
            })
            .ok_or(invalid("an image_url part is required"))?;
        call.langs = vec![prompt_lang(prompt)];
        let image = if let Some(data) = url.strip_prefix("data:") {
            let (mime, b64) = data
                .split_once(";base64,")
                .ok_or(invalid("invalid data URL"))?;
            let image = call
                .carried("data-url", Some(b64))
                .ok_or(invalid("invalid base64 in data URL"))?;
            if mime != format!("image/{}", kind(&image)) {
                return Err(invalid(
                    "the data URL's media type is not that of the image",
                ));
            }
            image
        } else {
            fake.fetch(url, call)
                .await
                .ok_or(invalid("Failed to download image from url"))?
        };
        OPENAI.check(&image).map_err(|m| {
            (
                400,
                json!({"error": {"message": format!("You uploaded an unsupported image. {m}"), "type": "invalid_request_error", "code": "invalid_image_format"}}),
            )
        })?;
        Ok(image)
    }

    /// A chat completion whose one choice is the caption, `finish_reason` `length` when it
    /// was cut off.
    fn success(
        &self,
        _fake: &State,
        call: &Call,
        caption: &dyn Fn(&str) -> String,
        cut: bool,
    ) -> HttpResponse {
        let first = caption(&call.langs[0]);
        HttpResponse::json(
            200,
            json!({
                "id": "chatcmpl-fake1", "object": "chat.completion", "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": first},
                             "finish_reason": if cut { "length" } else { "stop" }}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 12, "total_tokens": 112}
            }),
        )
    }

    /// 429 `insufficient_quota`.
    fn out_of_credits(&self) -> HttpResponse {
        self.error(
            429,
            json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}),
        )
    }
}

/// OpenAI's reasoning models (o1, o3, o4-mini, gpt-5…), which take `max_completion_tokens`
/// and only the default temperature.
fn is_reasoning_model(model: &str) -> bool {
    let mut chars = model.chars();
    (chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit()))
        || model.starts_with("gpt-5")
}

/// What a reasoning model refuses, one parameter at a time, as OpenAI does.
fn reasoning_parameters(body: &Value) -> Result<(), Refusal> {
    let refuse = |param: &str, code: &str, message: String| {
        (
            400,
            json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}),
        )
    };
    if body.get("max_tokens").is_some() {
        return Err(refuse(
            "max_tokens",
            "unsupported_parameter",
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.".into(),
        ));
    }
    if let Some(t) = body.get("temperature").filter(|t| t.as_f64() != Some(1.0)) {
        return Err(refuse(
            "temperature",
            "unsupported_value",
            format!(
                "Unsupported value: 'temperature' does not support {t} with this model. Only the default (1) value is supported."
            ),
        ));
    }
    Ok(())
}
