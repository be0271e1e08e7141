//! AltText.ai: `POST /api/v1/images` with `X-API-Key`; the image comes by URL or as base64,
//! is captioned in every language asked at once, and is kept in the account's library by its
//! `asset_id`: asked again without `overwrite`, the service answers from the library free of
//! charge.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::request::post_to;
use super::{Call, Refusal, Service, State, Takes};
use crate::support::accounts::check_asset_id;
use crate::support::http::{HttpRequest, HttpResponse};

/// Where AltText.ai tells the account's usage and its limit.
pub(super) const ACCOUNT_PATH: &str = "/api/v1/account";

/// AltText.ai: JPEG, PNG, GIF, WebP and BMP of at least 50 × 50 px, up to 16 MB.
pub const ALTTEXTAI: Takes = Takes {
    formats: &["jpeg", "png", "gif", "webp", "bmp"],
    max_bytes: 16_000_000,
    max_side: u32::MAX,
    min_side: 50,
    animated: true,
};

pub(super) struct AltTextAi;

impl Service for AltTextAi {
    /// `POST /api/v1/images`, `X-API-Key`, `{"image": {"url"} | {"raw"}, "lang": "en,de"}`.
    async fn check(
        &self,
        fake: &State,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal> {
        post_to(req, "/api/v1/images", json!({"error": "Not found"}))?;
        fake.expect_key(
            req.header("x-api-key"),
            (401, json!({"error": "Invalid API key"})),
        )?;
        if body["async"] != json!(false) {
            return Err((
                422,
                json!({"errors": {"async": ["must be false for a synchronous answer"]}}),
            ));
        }
        let valid_keywords = body
            .get("keywords")
            .is_none_or(|k| k.as_array().is_some_and(|a| a.iter().all(Value::is_string)));
        // `ecomm.product` is required whenever `ecomm` is sent.
        let valid_ecomm = body.get("ecomm").is_none_or(|e| {
            e.as_object().is_some_and(|o| {
                o.get("product").is_some_and(Value::is_string)
                    && o.iter()
                        .all(|(k, v)| ["product", "brand"].contains(&k.as_str()) && v.is_string())
            })
        });
        // At most 6 `keywords` and 6 `negative_keywords`.
        for field in ["keywords", "negative_keywords"] {
            if body[field].as_array().is_some_and(|a| a.len() > 6) {
                return Err((
                    422,
                    json!({"errors": {field: ["is too long (maximum is 6 items)"]}}),
                ));
            }
        }
        if let Some(asset) = body["image"].get("asset_id") {
            let valid = asset.as_str().ok_or("must be a string".to_string());
            valid
                .and_then(check_asset_id)
                .map_err(|m| (422, json!({"errors": {"asset_id": [m]}})))?;
        }
        let valid_keywords = valid_keywords
            && body
                .get("negative_keywords")
                .is_none_or(|k| k.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
            && body.get("overwrite").is_none_or(Value::is_boolean);
        if !(valid_keywords && valid_ecomm) {
            return Err((
                422,
                json!({"errors": {"base": ["keywords or ecomm is malformed"]}}),
            ));
        }
        call.langs = body["lang"]
            .as_str()
            .unwrap_or("en")
            .split(',')
            .map(String::from)
            .collect();
        let image = if let Some(url) = body["image"]["url"].as_str() {
            fake.fetch(url, call).await.ok_or((
                422,
                json!({"errors": {"image": ["could not be downloaded"]}}),
            ))?
        } else {
            call.carried("base64", body["image"]["raw"].as_str())
                .ok_or((422, json!({"errors": {"image": ["is missing"]}})))?
        };
        ALTTEXTAI
            .check(&image)
            .map_err(|m| (422, json!({"errors": {"image": [m]}})))?;
        Ok(image)
    }

    /// The image document with a caption in each language asked; the captions are kept in
    /// the library under the request's `asset_id`, if it has one.
    fn success(
        &self,
        fake: &State,
        call: &Call,
        caption: &dyn Fn(&str) -> String,
        _cut: bool,
    ) -> HttpResponse {
        let texts: Vec<(String, String)> =
            call.langs.iter().map(|l| (l.clone(), caption(l))).collect();
        let asset = call.body["image"]["asset_id"].as_str();
        if let Some(asset) = asset {
            fake.account.keep_asset(asset, texts.clone());
        }
        image_document(fake, asset.unwrap_or("asset-1"), &texts)
    }

    /// 422 `Insufficient credits`.
    fn out_of_credits(&self) -> HttpResponse {
        self.error(422, json!({"errors": {"base": ["Insufficient credits"]}}))
    }

    /// `GET /api/v1/account` with `X-API-Key`: the credits used and the limit.
    fn account(&self, fake: &State, req: &HttpRequest) -> Option<Result<Value, Refusal>> {
        (req.path == ACCOUNT_PATH).then(|| {
            fake.expect_key(
                req.header("x-api-key"),
                (401, json!({"error": "Invalid API key"})),
            )?;
            let (left, used) = (fake.account.credits_left(), fake.account.charged());
            Ok(json!({"name": "Shop", "usage": used, "usage_limit": used as u64 + left}))
        })
    }

    /// An asset it has, asked again without `overwrite`, is answered from the library.
    fn kept_answer(&self, fake: &State, call: &Call) -> Option<HttpResponse> {
        if call.body["overwrite"] == json!(true) {
            return None;
        }
        let asset = call.body["image"]["asset_id"].as_str()?;
        let texts = fake.account.asset(asset, &call.langs)?;
        let wanted: Vec<(String, String)> = call
            .langs
            .iter()
            .filter_map(|l| texts.iter().find(|(have, _)| have == l).cloned())
            .collect();
        Some(image_document(fake, asset, &wanted))
    }
}

/// AltText.ai's image document: `alt_text` in the first language, `alt_texts` in all of
/// them, as a map or (when the account says so) a list of `{lang, alt_text}`.
fn image_document(fake: &State, asset: &str, texts: &[(String, String)]) -> HttpResponse {
    let mut body = json!({"asset_id": asset, "alt_text": texts[0].1, "tags": [], "metadata": {}});
    if fake.account.list_form.load(Ordering::SeqCst) {
        let list: Vec<Value> = texts
            .iter()
            .map(|(lang, text)| json!({"lang": lang, "alt_text": text}))
            .collect();
        body["alt_texts"] = Value::Array(list);
    } else if texts.len() > 1 {
        let map: serde_json::Map<String, Value> = texts
            .iter()
            .map(|(lang, text)| (lang.clone(), json!(text)))
            .collect();
        body["alt_texts"] = Value::Object(map);
    }
    HttpResponse::json(200, body)
}
