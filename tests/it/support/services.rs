//! Fakes of the captioning services, one per wire format (AltTextLab, AutoAlt, AltText.ai,
//! OpenAI chat completions, Bedrock Converse). Each checks authentication and the request
//! fields as the real service does, gets the image the way the real service would (decodes
//! the base64 bytes, or fetches the presigned URL from the local S3), refuses an image of a
//! format, size or pixel count the service documents it does not take ([`Takes`]), and
//! answers from a script; with no script left it describes the image it received. Every
//! request is recorded, the refused ones too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::accounts::{Account, check_asset_id};
use super::http::{self, HttpRequest, HttpResponse};

/// The services faked here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    AltTextLab,
    AutoAlt,
    AltTextAi,
    OpenAi,
    Bedrock,
}

/// What the fake answers to the next valid request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A success describing the image received (its format and byte count).
    Describe,
    /// A success with this caption (for every language asked).
    Caption(String),
    /// This caption, after a wait (time for a test to change the object meanwhile).
    Slow(Duration, String),
    /// A success whose caption was cut off (OpenAI `length`, Bedrock `max_tokens`).
    CutOff,
    /// An error status, a JSON body and an optional `Retry-After`; for Bedrock, the body's
    /// `__type` names the exception.
    Error(u16, Value, Option<u64>),
    /// A status and a body exactly as given (such as invalid JSON).
    Raw(u16, String),
    /// 400 with a message that quotes the image URL it was given, signature and all.
    EchoUrl,
    /// No answer for a minute (a hung upstream).
    Hang,
}

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub authorization: Option<String>,
    /// The `X-API-Key` header.
    pub api_key: Option<String>,
    pub body: Value,
    /// The languages asked for.
    pub langs: Vec<String>,
    /// How the image came: "base64", "url" or "data-url" ("" if the fake refused the
    /// request before it got to the image).
    pub image_via: &'static str,
    /// The URL the fake fetched the image from.
    pub image_url: Option<String>,
    /// The status the local S3 answered to that fetch (0 without a fetch).
    pub image_status: u16,
    /// The image bytes the fake got (decoded or fetched).
    pub image_len: usize,
    /// Those bytes.
    pub image: Vec<u8>,
}

/// A fake service on a loopback port.
pub struct FakeService {
    pub url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    key: Arc<Mutex<Option<String>>>,
    most_at_once: Arc<AtomicUsize>,
    /// Notified once per request that got its image, before the answer.
    pub fetched: Arc<Notify>,
    /// The account: credits, charges, AltText.ai's asset library.
    pub account: Arc<Account>,
    state: Arc<State>,
}

impl FakeService {
    /// Starts a fake of `wire`; `key` is the API key it expects (for Bedrock, the access key
    /// id of the SigV4 credential; `None` for an OpenAI-compatible server without auth).
    pub async fn start(wire: Wire, key: Option<&str>, script: Vec<Reply>) -> FakeService {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let fetched = Arc::new(Notify::new());
        let key = Arc::new(Mutex::new(key.map(String::from)));
        let most_at_once = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let account = Arc::new(Account::default());
        let most = Arc::clone(&most_at_once);
        let state = Arc::new(State {
            wire,
            key: Arc::clone(&key),
            calls: Arc::clone(&calls),
            script: Mutex::new(VecDeque::from(script)),
            fetched: Arc::clone(&fetched),
            fetcher: reqwest::Client::new(),
            account: Arc::clone(&account),
        });
        let shared = Arc::clone(&state);
        let addr: SocketAddr = http::serve(move |req: HttpRequest| {
            let (state, running, most) =
                (Arc::clone(&shared), Arc::clone(&running), Arc::clone(&most));
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let response = state.answer(req).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Some(response)
            }
        })
        .await;
        FakeService {
            url: format!("http://{addr}"),
            calls,
            key,
            most_at_once,
            fetched,
            account,
            state,
        }
    }

    /// Answers the next caption request with `reply`, after those already scripted.
    pub fn push(&self, reply: Reply) {
        self.state.script.lock().unwrap().push_back(reply);
    }

    /// Forgets the replies not given yet: every request is described again.
    pub fn clear_script(&self) {
        self.state.script.lock().unwrap().clear();
    }

    /// The requests that asked for a caption (not the account's endpoints).
    pub fn caption_calls(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| !ACCOUNT_PATHS.contains(&c.path.as_str()))
            .collect()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The most requests it was answering at once.
    pub fn most_at_once(&self) -> usize {
        self.most_at_once.load(Ordering::SeqCst)
    }

    /// Accepts `key` from now on, and no other (the account's key was rotated).
    pub fn rotate_key(&self, key: &str) {
        *self.key.lock().unwrap() = Some(key.into());
    }
}

struct State {
    wire: Wire,
    key: Arc<Mutex<Option<String>>>,
    calls: Arc<Mutex<Vec<Call>>>,
    script: Mutex<VecDeque<Reply>>,
    fetched: Arc<Notify>,
    fetcher: reqwest::Client,
    account: Arc<Account>,
}

/// Where each service tells the credits left: AltTextLab, AutoAlt, AltText.ai.
const ACCOUNT_PATHS: [&str; 3] = [
    "/api/v1/subscriptions/info",
    "/api/v1/credits",
    "/api/v1/account",
];

/// A request refused before any work: the status and body the real service sends.
type Refusal = (u16, Value);

impl State {
    async fn answer(&self, req: HttpRequest) -> HttpResponse {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let mut call = Call {
            path: req.path.clone(),
            authorization: req.header("authorization").map(String::from),
            api_key: req.header("x-api-key").map(String::from),
            body: body.clone(),
            langs: Vec::new(),
            image_via: "",
            image_url: None,
            image_status: 0,
            image_len: 0,
            image: Vec::new(),
        };
        if req.method == "GET"
            && let Some(response) = self.account_endpoint(&req)
        {
            self.calls.lock().unwrap().push(call);
            return response;
        }
        let checked = match self.wire {
            Wire::AltTextLab => self.alttextlab(&req, &body, &mut call).await,
            Wire::AutoAlt => self.autoalt(&req, &body, &mut call),
            Wire::AltTextAi => self.alttextai(&req, &body, &mut call).await,
            Wire::OpenAi => self.openai(&req, &body, &mut call).await,
            Wire::Bedrock => self.bedrock(&req, &body, &mut call),
        };
        self.calls.lock().unwrap().push(call.clone());
        let image = match checked {
            Ok(image) => image,
            Err((status, error)) => return self.error(status, error, None),
        };
        // A scripted error is what the service answers, whatever the account holds.
        let scripted_error = {
            let mut script = self.script.lock().unwrap();
            match script.front() {
                Some(Reply::Error(..)) => script.pop_front(),
                _ => None,
            }
        };
        if let Some(Reply::Error(status, body, retry_after)) = scripted_error {
            return self.error(status, body, retry_after);
        }
        if !self.account.has_credits() {
            return self.out_of_credits();
        }
        if let Some(known) = self.answer_from_library(&call) {
            return known;
        }
        self.fetched.notify_one();
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Reply::Describe);
        let call = &call;
        match reply {
            Reply::Describe => self.success(call, &|lang| describe(&image, lang), false),
            Reply::Caption(text) => self.success(call, &|_| text.clone(), false),
            Reply::Slow(wait, text) => {
                tokio::time::sleep(wait).await;
                self.success(call, &|_| text.clone(), false)
            }
            Reply::CutOff => self.success(call, &|_| "A photograph of".into(), true),
            Reply::Error(status, body, retry_after) => self.error(status, body, retry_after),
            Reply::Raw(status, body) => HttpResponse {
                status,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: body.into_bytes(),
            },
            Reply::EchoUrl => {
                let url = call.image_url.clone().unwrap_or_default();
                let message = format!("Could not process the image at {url}");
                self.error(400, json!({"message": message}), None)
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                self.error(504, json!({"message": "too late"}), None)
            }
        }
    }

    fn error(&self, status: u16, body: Value, retry_after: Option<u64>) -> HttpResponse {
        let mut response = HttpResponse::json(status, body.clone());
        if self.wire == Wire::Bedrock {
            // Bedrock names its exception in a header, as AWS JSON protocols do.
            let kind = body["__type"].as_str().unwrap_or("ValidationException");
            response
                .headers
                .push(("x-amzn-ErrorType".into(), kind.into()));
        }
        if let Some(secs) = retry_after {
            response
                .headers
                .push(("Retry-After".into(), secs.to_string()));
        }
        response
    }

    /// A caption, billed: one credit.
    fn success(&self, call: &Call, caption: &dyn Fn(&str) -> String, cut: bool) -> HttpResponse {
        self.account.charge();
        let langs = &call.langs;
        let first = caption(&langs[0]);
        match self.wire {
            Wire::AltTextLab => {
                let id = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                HttpResponse::json(
                    200,
                    json!({"id": format!("atl_{id}"), "result": first, "creditsUsed": 1}),
                )
            }
            Wire::AutoAlt => HttpResponse::json(
                200,
                json!({"success": true, "results": [{"alt_text": first, "success": true}], "credits_remaining": 99}),
            ),
            Wire::AltTextAi => {
                let texts: Vec<(String, String)> =
                    langs.iter().map(|l| (l.clone(), caption(l))).collect();
                let asset = call.body["image"]["asset_id"].as_str();
                if let Some(asset) = asset {
                    self.account.keep_asset(asset, texts.clone());
                }
                self.alttextai_answer(asset.unwrap_or("asset-1"), &texts)
            }
            Wire::OpenAi => HttpResponse::json(
                200,
                json!({
                    "id": "chatcmpl-fake1", "object": "chat.completion", "model": "gpt-4o-mini",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": first},
                                 "finish_reason": if cut { "length" } else { "stop" }}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 12, "total_tokens": 112}
                }),
            ),
            Wire::Bedrock => HttpResponse::json(
                200,
                json!({
                    "output": {"message": {"role": "assistant", "content": [{"text": first}]}},
                    "stopReason": if cut { "max_tokens" } else { "end_turn" },
                    "usage": {"inputTokens": 1200, "outputTokens": 20, "totalTokens": 1220},
                    "metrics": {"latencyMs": 250}
                }),
            ),
        }
    }

    /// AltText.ai's image document: `alt_text` in the first language, `alt_texts` in all of
    /// them, as a map or (when the account says so) a list of `{lang, alt_text}`.
    fn alttextai_answer(&self, asset: &str, texts: &[(String, String)]) -> HttpResponse {
        let mut body =
            json!({"asset_id": asset, "alt_text": texts[0].1, "tags": [], "metadata": {}});
        if self.account.list_form.load(Ordering::SeqCst) {
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

    /// AltText.ai answers an asset it has, asked again without `overwrite`, from its
    /// library: no credit is charged.
    fn answer_from_library(&self, call: &Call) -> Option<HttpResponse> {
        if self.wire != Wire::AltTextAi || call.body["overwrite"] == json!(true) {
            return None;
        }
        let asset = call.body["image"]["asset_id"].as_str()?;
        let texts = self.account.asset(asset, &call.langs)?;
        let wanted: Vec<(String, String)> = call
            .langs
            .iter()
            .filter_map(|l| texts.iter().find(|(have, _)| have == l).cloned())
            .collect();
        Some(self.alttextai_answer(asset, &wanted))
    }

    /// What each service answers when the account has no credits left: AltTextLab the bare
    /// `NOT_ENOUGH_FUNDS` its own plugin compares, AutoAlt its documented 403 `No credits
    /// remaining`,
    /// AltText.ai 422, OpenAI 429 `insufficient_quota`.
    fn out_of_credits(&self) -> HttpResponse {
        match self.wire {
            Wire::AltTextLab => HttpResponse {
                status: 403,
                headers: vec![("Content-Type".into(), "text/plain".into())],
                body: b"NOT_ENOUGH_FUNDS".to_vec(),
            },
            Wire::AutoAlt => self.error(403, json!({"error": "No credits remaining"}), None),
            Wire::AltTextAi => self.error(
                422,
                json!({"errors": {"base": ["Insufficient credits"]}}),
                None,
            ),
            Wire::OpenAi | Wire::Bedrock => self.error(
                429,
                json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}),
                None,
            ),
        }
    }

    /// The account endpoints: AltTextLab `GET /api/v1/subscriptions/info`, AutoAlt
    /// `GET /api/v1/credits`, AltText.ai `GET /api/v1/account`, each with its own key.
    fn account_endpoint(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let left = self.account.credits_left();
        let (key, body) = match (self.wire, req.path.as_str()) {
            (Wire::AltTextLab, "/api/v1/subscriptions/info") => (
                req.header("x-api-key"),
                json!({"plan": "Pro", "credits": left}),
            ),
            (Wire::AutoAlt, "/api/v1/credits") => (bearer(req), json!({"credits": left})),
            (Wire::AltTextAi, "/api/v1/account") => {
                let used = self.account.charged();
                (
                    req.header("x-api-key"),
                    json!({"name": "Shop", "usage": used, "usage_limit": used as u64 + left}),
                )
            }
            _ => return None,
        };
        Some(
            match self.expect_key(key, (401, json!({"error": "Invalid API key"}))) {
                Ok(()) => HttpResponse::json(200, body),
                Err((status, body)) => self.error(status, body, None),
            },
        )
    }

    fn expect_key(&self, got: Option<&str>, refusal: Refusal) -> Result<(), Refusal> {
        match &*self.key.lock().unwrap() {
            Some(key) if got != Some(key.as_str()) => Err(refusal),
            _ => Ok(()),
        }
    }

    /// `POST /api/v1/alt-text/generate`, `X-API-Key`, `{"imageUrl", "lang"}` with optional
    /// `style`, `keywords`, `ecommerce` (product, brand, color, material) and `context`; the
    /// service fetches the image from the URL.
    async fn alttextlab(
        &self,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal> {
        post_to(
            req,
            "/api/v1/alt-text/generate",
            json!({"message": "Not found"}),
        )?;
        self.expect_key(
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
        let image = self.fetch(url, call).await.ok_or_else(|| {
            let message = format!("Unable to fetch image from {url}");
            (400, json!({"message": message}))
        })?;
        ALTTEXTLAB
            .check(&image)
            .map_err(|m| (400, json!({"message": m})))?;
        Ok(image)
    }

    /// `POST /api/v1/generate`, `Authorization: Bearer`, `{"image": base64, "language"}`.
    fn autoalt(
        &self,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal> {
        post_to(req, "/api/v1/generate", json!({"error": "Not found"}))?;
        self.expect_key(bearer(req), (401, json!({"error": "Invalid API key"})))?;
        let lang = body["language"].as_str().unwrap_or("en").to_string();
        let known = [
            "en", "es", "fr", "de", "it", "pt", "nl", "pl", "ru", "ja", "ko", "zh",
        ];
        if !known.contains(&lang.as_str()) {
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

    /// `POST /api/v1/images`, `X-API-Key`, `{"image": {"url"} | {"raw"}, "lang": "en,de"}`.
    async fn alttextai(
        &self,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal> {
        post_to(req, "/api/v1/images", json!({"error": "Not found"}))?;
        self.expect_key(
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
            self.fetch(url, call).await.ok_or((
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

    /// `POST /v1/chat/completions`, optional `Authorization: Bearer`, a text and an
    /// `image_url` part.
    async fn openai(
        &self,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal> {
        post_to(
            req,
            "/v1/chat/completions",
            json!({"error": {"message": "Unknown request URL", "code": "unknown_url"}}),
        )?;
        self.expect_key(bearer(req), (401, json!({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})))?;
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
            self.fetch(url, call)
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

    /// `POST /model/{id}/converse`, SigV4 for service `bedrock`, an image block with bytes.
    fn bedrock(
        &self,
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
        self.expect_key(
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

    /// Gets the image at `url` (a presigned URL of the local S3) and notes it in `call`;
    /// `None` unless the answer was a success.
    async fn fetch(&self, url: &str, call: &mut Call) -> Option<Vec<u8>> {
        let (status, bytes) = match self.fetcher.get(url).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.bytes().await.unwrap_or_default().to_vec())
            }
            Err(_) => (0, Vec::new()),
        };
        call.image_via = "url";
        call.image_url = Some(url.to_string());
        call.image_status = status;
        call.image_len = bytes.len();
        call.image = bytes.clone();
        (200..300).contains(&status).then_some(bytes)
    }
}

impl Call {
    /// Decodes the base64 image the request carried (`via` says how) and notes it.
    fn carried(&mut self, via: &'static str, b64: Option<&str>) -> Option<Vec<u8>> {
        let image = base64::engine::general_purpose::STANDARD
            .decode(b64?)
            .ok()?;
        self.image_via = via;
        self.image_len = image.len();
        self.image = image.clone();
        Some(image)
    }
}

/// What a service documents it takes: formats (by their bytes), a size, sides in pixels, and
/// whether an animated GIF.
pub struct Takes {
    pub formats: &'static [&'static str],
    pub max_bytes: usize,
    pub max_side: u32,
    pub min_side: u32,
    pub animated: bool,
}

/// Converse: PNG, JPEG, GIF or WebP, 3.75 MB, 8,000 px a side.
pub const BEDROCK: Takes = Takes {
    formats: &["png", "jpeg", "gif", "webp"],
    max_bytes: 3_750_000,
    max_side: 8000,
    min_side: 1,
    animated: true,
};
/// Chat completions: PNG, JPEG, WebP and non-animated GIF, up to 20 MB.
pub const OPENAI: Takes = Takes {
    formats: &["png", "jpeg", "gif", "webp"],
    max_bytes: 20 << 20,
    max_side: u32::MAX,
    min_side: 1,
    animated: false,
};
/// AutoAlt: JPEG, PNG, GIF and WebP, up to 16 MB.
pub const AUTOALT: Takes = Takes {
    formats: &["jpeg", "png", "gif", "webp"],
    max_bytes: 16_000_000,
    max_side: u32::MAX,
    min_side: 1,
    animated: true,
};
/// AltText.ai: JPEG, PNG, GIF, WebP and BMP of at least 50 × 50 px, up to 16 MB.
pub const ALTTEXTAI: Takes = Takes {
    formats: &["jpeg", "png", "gif", "webp", "bmp"],
    max_bytes: 16_000_000,
    max_side: u32::MAX,
    min_side: 50,
    animated: true,
};
/// AltTextLab: JPEG, PNG, WebP, AVIF and SVG.
pub const ALTTEXTLAB: Takes = Takes {
    formats: &["jpeg", "png", "webp", "avif", "svg+xml"],
    max_bytes: 16_000_000,
    max_side: u32::MAX,
    min_side: 1,
    animated: true,
};

impl Takes {
    /// Why the service would refuse `image`, if it would.
    pub fn check(&self, image: &[u8]) -> Result<(), String> {
        let kind = kind(image);
        if !self.formats.contains(&kind) {
            return Err(format!("{kind} is not a format it takes"));
        }
        if image.len() > self.max_bytes {
            return Err(format!("{} bytes is over {}", image.len(), self.max_bytes));
        }
        if let Ok(size) = imagesize::blob_size(image) {
            let (w, h) = (size.width as u32, size.height as u32);
            if w.max(h) > self.max_side || w.min(h) < self.min_side {
                return Err(format!("{w}×{h} pixels is outside what it takes"));
            }
        }
        if !self.animated && kind == "gif" && gif_frames(image) > 1 {
            return Err("an animated GIF is not taken".into());
        }
        Ok(())
    }
}

/// The format of an image by its first bytes, named as in its media type (`image/...`).
pub fn kind(image: &[u8]) -> &'static str {
    match image {
        [0xFF, 0xD8, 0xFF, ..] => "jpeg",
        [0x89, b'P', b'N', b'G', ..] => "png",
        [b'G', b'I', b'F', b'8', ..] => "gif",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "webp",
        [b'B', b'M', ..] => "bmp",
        [b'I', b'I', b'*', 0, ..] | [b'M', b'M', 0, b'*', ..] => "tiff",
        [
            _,
            _,
            _,
            _,
            b'f',
            b't',
            b'y',
            b'p',
            b'a',
            b'v',
            b'i',
            b'f',
            ..,
        ] => "avif",
        [
            _,
            _,
            _,
            _,
            b'f',
            b't',
            b'y',
            b'p',
            b'h',
            b'e',
            b'i',
            b'c',
            ..,
        ] => "heic",
        [b'<', ..] => "svg+xml",
        _ => "unknown",
    }
}

/// The frames of a GIF.
fn gif_frames(image: &[u8]) -> usize {
    use image::AnimationDecoder;
    image::codecs::gif::GifDecoder::new(std::io::Cursor::new(image))
        .map_or(0, |d| d.into_frames().count())
}

/// Refuses with 404 and `not_found` a request that is not a POST to `path`.
fn post_to(req: &HttpRequest, path: &str, not_found: Value) -> Result<(), Refusal> {
    if req.method == "POST" && req.path == path {
        Ok(())
    } else {
        Err((404, not_found))
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

/// The token of an `Authorization: Bearer` header.
fn bearer(req: &HttpRequest) -> Option<&str> {
    req.header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
}

/// The language a language-model prompt asks for: "(language code xx)".
fn prompt_lang(prompt: &str) -> String {
    prompt
        .split("language code ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or("en")
        .to_string()
}

/// The caption the fakes give: the image's format and size, in a few languages.
pub fn describe(image: &[u8], lang: &str) -> String {
    let kind = match image.first() {
        Some(0xFF) => "JPEG",
        Some(0x89) => "PNG",
        Some(b'R') => "WebP",
        Some(b'G') => "GIF",
        _ => "unknown",
    };
    let n = image.len();
    match lang {
        "de" => format!("Ein {kind}-Foto mit {n} Bytes."),
        "fr" => format!("Une photo {kind} de {n} octets."),
        "en" => format!("A {kind} photograph of {n} bytes."),
        other => format!("({other}) A {kind} photograph of {n} bytes."),
    }
}
