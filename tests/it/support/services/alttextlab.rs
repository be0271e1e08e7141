//! AltTextLab: `POST /api/v1/alt-text/generate` with `X-API-Key`; the service fetches the
//! image from the URL it is given and answers one caption, billed one credit.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::request::post_to;
use super::{Call, Refusal, Service, State, Takes};
use crate::support::http::{HttpRequest, HttpResponse};

/// Where AltTextLab tells the credits left of the subscription.
pub(super) const ACCOUNT_PATH: &str = "/api/v1/subscriptions/info";

/// AltTextLab: JPEG, PNG, WebP, AVIF and SVG.
pub const ALTTEXTLAB: Takes = Takes {
    formats: &["jpeg", "png", "webp", "avif", "svg+xml"],
    max_bytes: 16_000_000,
    max_side: u32::MAX,
    min_side: 1,
    animated: true,
};

pub(super) struct AltTextLab;

impl Service for AltTextLab {
    /// `POST /api/v1/alt-text/generate`, `X-API-Key`, `{"imageUrl", "lang"}` with optional
    /// `style`, `keywords`, `ecommerce` (product, brand, color, material) and `context`; the
    /// service fetches the image from the URL.
    async fn check(
        &self,
        fake: &State,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal> {
        post_to(
            req,
            "/api/v1/alt-text/generate",
            json!({"message": "Not found"}),
        )?;
        fake.expect_key(
            req.header("x-api-key"),
            (
                403,
                json!({"key": "API_KEY_IS_INVALID", "message": "API key is invalid"}),
            ),
        )?;
        let valid_style = body.get("style").is_none_or(|s| {
            ["descriptive", "neutral", "matter-of-fact", "minimal"]
                .contains(&s.as_str().unwrap_or_default())
        }) && body
            .get("keywords")
            .is_none_or(|k| k.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
            && body.get("ecommerce").is_none_or(|e| {
                e.as_object().is_some_and(|o| {
                    o.iter().all(|(k, v)| {
                        ["product", "brand", "color", "material"].contains(&k.as_str())
                            && v.is_string()
                    })
                })
            })
            && body.get("context").is_none_or(Value::is_string);
        let (Some(url), Some(lang), true) = (
            body["imageUrl"].as_str(),
            body["lang"].as_str(),
            valid_style,
        ) else {
            return Err((400, json!({"message": "imageUrl and lang are required"})));
        };
        call.langs = vec![lang.to_string()];
        let image = fake.fetch(url, call).await.ok_or_else(|| {
            let message = format!("Unable to fetch image from {url}");
            (400, json!({"message": message}))
        })?;
        ALTTEXTLAB
            .check(&image)
            .map_err(|m| (400, json!({"message": m})))?;
        Ok(image)
    }

    /// The caption as `result`, with an id of its own and the credits it used.
    fn success(
        &self,
        _fake: &State,
        call: &Call,
        caption: &dyn Fn(&str) -> String,
        _cut: bool,
    ) -> HttpResponse {
        let first = caption(&call.langs[0]);
        let id = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        HttpResponse::json(
            200,
            json!({"id": format!("atl_{id}"), "result": first, "creditsUsed": 1}),
        )
    }

    /// 403 and the bare `NOT_ENOUGH_FUNDS` that AltTextLab's own plugin compares.
    fn out_of_credits(&self) -> HttpResponse {
        HttpResponse {
            status: 403,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"NOT_ENOUGH_FUNDS".to_vec(),
        }
    }

    /// `GET /api/v1/subscriptions/info` with `X-API-Key`: the plan and its credits left.
    fn account(&self, fake: &State, req: &HttpRequest) -> Option<Result<Value, Refusal>> {
        (req.path == ACCOUNT_PATH).then(|| {
            fake.expect_key(
                req.header("x-api-key"),
                (401, json!({"error": "Invalid API key"})),
            )?;
            Ok(json!({"plan": "Pro", "credits": fake.account.credits_left()}))
        })
    }
}
