//! The parameters an OpenAI-compatible server takes: OpenAI's reasoning models refuse
//! `max_tokens` and a temperature other than the default, older servers
//! `max_completion_tokens`. What a server refused is remembered for the container.

use serde_json::json;

use crate::provider::http::Reply;

/// Enough for a two-sentence caption in any language (`max_tokens`: the answer only).
pub const MAX_TOKENS: u32 = 300;
/// `max_completion_tokens` counts a reasoning model's hidden reasoning too: room for it.
pub const MAX_COMPLETION_TOKENS: u32 = 4000;

/// Parameters a server refused with `unsupported_parameter` or `unsupported_value`.
pub struct RefusedParams;

impl RefusedParams {
    pub const MAX_TOKENS: u8 = 1;
    pub const MAX_COMPLETION_TOKENS: u8 = 2;
    pub const TEMPERATURE: u8 = 4;

    fn of(param: &str) -> Option<u8> {
        match param {
            "max_tokens" => Some(RefusedParams::MAX_TOKENS),
            "max_completion_tokens" => Some(RefusedParams::MAX_COMPLETION_TOKENS),
            "temperature" => Some(RefusedParams::TEMPERATURE),
            _ => None,
        }
    }
}

/// The parameter a 400 says the model does not take, as OpenAI names it:
/// `{"error": {"code": "unsupported_parameter" | "unsupported_value", "param": "max_tokens"}}`.
pub fn refused_param(reply: &Reply) -> Option<u8> {
    if reply.status.as_u16() != 400 {
        return None;
    }
    let body: serde_json::Value = serde_json::from_str(&reply.body).ok()?;
    let error = body.get("error")?;
    let code = error.get("code")?.as_str()?;
    if !matches!(code, "unsupported_parameter" | "unsupported_value") {
        return None;
    }
    RefusedParams::of(error.get("param")?.as_str()?)
}

/// The token limit and temperature, as this server takes them.
pub fn tuning(
    completion_tokens_first: bool,
    refused: u8,
) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serde_json::Map::new();
    let max = ("max_tokens", RefusedParams::MAX_TOKENS, MAX_TOKENS);
    let completion = (
        "max_completion_tokens",
        RefusedParams::MAX_COMPLETION_TOKENS,
        MAX_COMPLETION_TOKENS,
    );
    let order = if completion_tokens_first {
        [completion, max]
    } else {
        [max, completion]
    };
    if let Some((name, _, limit)) = order.into_iter().find(|(_, bit, _)| refused & bit == 0) {
        fields.insert(name.into(), json!(limit));
    }
    if refused & RefusedParams::TEMPERATURE == 0 {
        fields.insert("temperature".into(), json!(0.2));
    }
    fields
}
