//! AutoAlt: `POST /api/v1/generate` with `Authorization: Bearer`; the image comes as base64
//! in the request and is answered with one caption, billed one credit.

use serde_json::{Value, json};

use super::request::{bearer, post_to};
use super::{Call, Refusal, Service, State, Takes};
use crate::support::http::{HttpRequest, HttpResponse};

/// Where AutoAlt tells the credits left.
pub(super) const ACCOUNT_PATH: &str = "/api/v1/credits";

/// AutoAlt: JPEG, PNG, GIF and WebP, up to 16 MB.
pub const AUTOALT: Takes = Takes {
    formats: &["jpeg", "png", "gif", "webp"],
    max_bytes: 16_000_000,
    max_side: u32::MAX,
    min_side: 1,
    animated: true,
};

/// The languages AutoAlt writes in.
const LANGUAGES: [&str; 12] = [
    "en", "es", "fr", "de", "it", "pt", "nl", "pl", "ru", "ja", "ko", "zh",
];

pub(super) struct AutoAlt;

impl Service for AutoAlt {
    /// `POST /api/v1/generate`, `Authorization: Bearer`, `{"image": base64, "language"}`.
    async fn check(
        &self,
        fake: &State,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal> {
        post_to(req, "/api/v1/generate", json!({"error": "Not found"}))?;
        fake.expect_key(bearer(req), (401, json!({"error": "Invalid API key"})))?;
        let lang = body["language"].as_str().unwrap_or("en").to_string();
        if !LANGUAGES.contains(&lang.as_str()) {
            return Err((
                400,
                json!({"error": format!("Unsupported language: {lang}")}),
            ));
        }
        call.langs = vec![lang];
        let image = call
            .carried("base64", body["image"].as_str())
            .ok_or((400, json!({"error": "Invalid input: image must be base64"})))?;
        AUTOALT
            .check(&image)
            .map_err(|m| (400, json!({"error": format!("Invalid image: {m}")})))?;
        Ok(image)
    }

    /// The caption as the `alt_text` of the one result, with the credits remaining.
    fn success(
        &self,
        _fake: &State,
        call: &Call,
        caption: &dyn Fn(&str) -> String,
        _cut: bool,
    ) -> HttpResponse {
        let first = caption(&call.langs[0]);
        HttpResponse::json(
            200,
            json!({"success": true, "results": [{"alt_text": first, "success": true}], "credits_remaining": 99}),
        )
    }

    /// Its documented 403 `No credits remaining`.
    fn out_of_credits(&self) -> HttpResponse {
        self.error(403, json!({"error": "No credits remaining"}))
    }

    /// `GET /api/v1/credits` with `Authorization: Bearer`: the credits left.
    fn account(&self, fake: &State, req: &HttpRequest) -> Option<Result<Value, Refusal>> {
        (req.path == ACCOUNT_PATH).then(|| {
            fake.expect_key(bearer(req), (401, json!({"error": "Invalid API key"})))?;
            Ok(json!({"credits": fake.account.credits_left()}))
        })
    }
}
