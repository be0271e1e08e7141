//! Fakes of the captioning services, one per wire format (AltTextLab, AutoAlt, AltText.ai,
//! OpenAI chat completions, Bedrock Converse). Each checks authentication and the request
//! fields as the real service does, gets the image the way the real service would (decodes
//! the base64 bytes, or fetches the presigned URL from the local S3), refuses an image of a
//! format, size or pixel count the service documents it does not take ([`Takes`]), and
//! answers from a script; with no script left it describes the image it received. Every
//! request is recorded, the refused ones too.
//!
//! Here is what the fakes share: the HTTP server, the script, the record of calls and the
//! account, with `request` (reading a request) and `takes` (the images a service takes).
//! What is particular to a service (its request, its answers, its account endpoint, the
//! images it takes) is in its own file, an implementation of [`Service`].

mod alttextai;
mod alttextlab;
mod autoalt;
mod bedrock;
mod openai;
mod request;
mod takes;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Notify;

use super::accounts::Account;
use super::http::{self, HttpRequest, HttpResponse};
use alttextai::AltTextAi;
use alttextlab::AltTextLab;
use autoalt::AutoAlt;
use bedrock::Bedrock;
use openai::OpenAi;

pub use takes::{Takes, describe, kind};

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

/// Where each service tells the credits left: AltTextLab, AutoAlt, AltText.ai.
const ACCOUNT_PATHS: [&str; 3] = [
    alttextlab::ACCOUNT_PATH,
    autoalt::ACCOUNT_PATH,
    alttextai::ACCOUNT_PATH,
];

/// A request refused before any work: the status and body the real service sends.
type Refusal = (u16, Value);

/// What is particular to one service: how it checks a caption request and gets its image,
/// and how it answers. A unit struct per service implements it, in the service's file.
trait Service {
    /// Checks a caption request as the service does (path, authentication, fields, the
    /// image it takes) and gets its image, noting in `call` the languages asked for.
    async fn check(
        &self,
        fake: &State,
        req: &HttpRequest,
        body: &Value,
        call: &mut Call,
    ) -> Result<Vec<u8>, Refusal>;

    /// A success: what `caption` gives in the languages of `call`; `cut` when the caption
    /// was cut off.
    fn success(
        &self,
        fake: &State,
        call: &Call,
        caption: &dyn Fn(&str) -> String,
        cut: bool,
    ) -> HttpResponse;

    /// An error with this status and body.
    fn error(&self, status: u16, body: Value) -> HttpResponse {
        HttpResponse::json(status, body)
    }

    /// What the service answers when the account has no credits left.
    fn out_of_credits(&self) -> HttpResponse;

    /// The answer of the account endpoint, if the `GET` `req` is for its path: the body,
    /// or the refusal of the key.
    fn account(&self, _fake: &State, _req: &HttpRequest) -> Option<Result<Value, Refusal>> {
        None
    }

    /// An answer from what the service kept of an earlier request, charged nothing.
    fn kept_answer(&self, _fake: &State, _call: &Call) -> Option<HttpResponse> {
        None
    }
}

/// What the server of a fake shares with its handle: the key, the script, the record of
/// calls and the account.
struct State {
    wire: Wire,
    key: Arc<Mutex<Option<String>>>,
    calls: Arc<Mutex<Vec<Call>>>,
    script: Mutex<VecDeque<Reply>>,
    fetched: Arc<Notify>,
    fetcher: reqwest::Client,
    account: Arc<Account>,
}

impl State {
    /// Answers `req` as the service of the fake's wire.
    async fn answer(&self, req: HttpRequest) -> HttpResponse {
        match self.wire {
            Wire::AltTextLab => self.answer_as(&AltTextLab, req).await,
            Wire::AutoAlt => self.answer_as(&AutoAlt, req).await,
            Wire::AltTextAi => self.answer_as(&AltTextAi, req).await,
            Wire::OpenAi => self.answer_as(&OpenAi, req).await,
            Wire::Bedrock => self.answer_as(&Bedrock, req).await,
        }
    }

    /// Records the request and lets `service` check it; then answers a scripted error, the
    /// service's answer without credits, its kept answer or the next reply of the script.
    async fn answer_as(&self, service: &impl Service, req: HttpRequest) -> HttpResponse {
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
            && let Some(answer) = service.account(self, &req)
        {
            self.calls.lock().unwrap().push(call);
            return match answer {
                Ok(body) => HttpResponse::json(200, body),
                Err((status, body)) => error(service, status, body, None),
            };
        }
        let checked = service.check(self, &req, &body, &mut call).await;
        self.calls.lock().unwrap().push(call.clone());
        let image = match checked {
            Ok(image) => image,
            Err((status, body)) => return error(service, status, body, None),
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
            return error(service, status, body, retry_after);
        }
        if !self.account.has_credits() {
            return service.out_of_credits();
        }
        if let Some(known) = service.kept_answer(self, &call) {
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
        // A caption is billed: one credit.
        let success = |caption: &dyn Fn(&str) -> String, cut| {
            self.account.charge();
            service.success(self, call, caption, cut)
        };
        match reply {
            Reply::Describe => success(&|lang| describe(&image, lang), false),
            Reply::Caption(text) => success(&|_| text.clone(), false),
            Reply::Slow(wait, text) => {
                tokio::time::sleep(wait).await;
                success(&|_| text.clone(), false)
            }
            Reply::CutOff => success(&|_| "A photograph of".into(), true),
            Reply::Error(status, body, retry_after) => error(service, status, body, retry_after),
            Reply::Raw(status, body) => HttpResponse {
                status,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: body.into_bytes(),
            },
            Reply::EchoUrl => {
                let url = call.image_url.clone().unwrap_or_default();
                let message = format!("Could not process the image at {url}");
                error(service, 400, json!({"message": message}), None)
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                error(service, 504, json!({"message": "too late"}), None)
            }
        }
    }
}

/// The service's error, with a `Retry-After` if given.
fn error(
    service: &impl Service,
    status: u16,
    body: Value,
    retry_after: Option<u64>,
) -> HttpResponse {
    let mut response = service.error(status, body);
    if let Some(secs) = retry_after {
        response
            .headers
            .push(("Retry-After".into(), secs.to_string()));
    }
    response
}
