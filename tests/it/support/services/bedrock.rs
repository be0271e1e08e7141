//! Bedrock Converse: `POST /model/{id}/converse` signed with SigV4 for the service
//! `bedrock`; the image comes as base64 bytes in an image block beside the prompt's text
//! block, and an error names its exception in `__type` and in `x-amzn-ErrorType`.

use serde_json::{Value, json};

use super::request::prompt_lang;
use super::{Call, Refusal, Service, State, Takes, kind};
use crate::support::http::{HttpRequest, HttpResponse};

/// Converse: PNG, JPEG, GIF or WebP, 3.75 MB, 8,000 px a side.
pub const BEDROCK: Takes = Takes {
    formats: &["png", "jpeg", "gif", "webp"],
    max_bytes: 3_750_000,
    max_side: 8000,
    min_side: 1,
    animated: true,
};

pub(super) struct Bedrock;

impl Service for Bedrock {
    /// `POST /model/{id}/converse`, SigV4 for service `bedrock`, an image block with bytes.
    async fn check(
        &self,
        fake: &State,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal> {
        let denied = |m: &str| {
            (
                403,
                json!({"__type": "AccessDeniedException", "message": m}),
            )
        };
        let invalid = |m: &str| (400, json!({"__type": "ValidationException", "message": m}));
        let model = req
            .path
            .strip_prefix("/model/")
            .and_then(|p| p.strip_suffix("/converse"));
        if req.method != "POST" || model.is_none_or(str::is_empty) {
            return Err((
                404,
                json!({"__type": "ResourceNotFoundException", "message": "no such operation"}),
            ));
        }
        let auth = req.header("authorization").unwrap_or_default();
        let credential = auth
            .strip_prefix("AWS4-HMAC-SHA256 Credential=")
            .and_then(|c| c.split(',').next())
            .unwrap_or_default();
        let scope: Vec<&str> = credential.split('/').collect();
        if scope.len() != 5
            || scope[3] != "bedrock"
            || scope[4] != "aws4_request"
            || !auth.contains("Signature=")
        {
            return Err(denied(
                "missing or malformed SigV4 authorization for bedrock",
            ));
        }
        fake.expect_key(
            Some(scope[0]),
            denied("The security token included in the request is invalid."),
        )?;
        let content = body["messages"][0]["content"]
            .as_array()
            .ok_or(invalid("messages[0].content is required"))?;
        let image = content
            .iter()
            .find(|b| b.get("image").is_some())
            .ok_or(invalid("an image block is required"))?;
        let format = image["image"]["format"].as_str().unwrap_or_default();
        if !["png", "jpeg", "gif", "webp"].contains(&format) {
            return Err(invalid("image format must be png, jpeg, gif or webp"));
        }
        let bytes = call
            .carried("base64", image["image"]["source"]["bytes"].as_str())
            .ok_or(invalid("image bytes must be base64"))?;
        if kind(&bytes) != format {
            return Err(invalid("the image's bytes are not of its declared format"));
        }
        BEDROCK.check(&bytes).map_err(|m| invalid(&m))?;
        let prompt = content
            .iter()
            .find_map(|b| b["text"].as_str())
            .ok_or(invalid("a text block is required"))?;
        call.langs = vec![prompt_lang(prompt)];
        Ok(bytes)
    }

    /// The assistant's message with the caption as its one text block, `stopReason`
    /// `max_tokens` when it was cut off.
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
                "output": {"message": {"role": "assistant", "content": [{"text": first}]}},
                "stopReason": if cut { "max_tokens" } else { "end_turn" },
                "usage": {"inputTokens": 1200, "outputTokens": 20, "totalTokens": 1220},
                "metrics": {"latencyMs": 250}
            }),
        )
    }

    /// The body as given, its `__type` (`ValidationException` without one) also in the
    /// `x-amzn-ErrorType` header, as AWS JSON protocols do.
    fn error(&self, status: u16, body: Value) -> HttpResponse {
        let mut response = HttpResponse::json(status, body.clone());
        let kind = body["__type"].as_str().unwrap_or("ValidationException");
        response
            .headers
            .push(("x-amzn-ErrorType".into(), kind.into()));
        response
    }

    /// 429 `insufficient_quota`, as the OpenAI fake answers.
    fn out_of_credits(&self) -> HttpResponse {
        self.error(
            429,
            json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}),
        )
    }
}
