//! The review page's server: HTTP/1.1 on a loopback port, every request checked for the
//! page's random token and for a loopback `Host` (no other site can drive it), the list
//! read a page at a time, saves and approvals through the same code as `set`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::page::{self, Card, PAGE_SIZE, View};
use crate::caption::{Record, State};
use crate::image::ImageFormat;
use crate::pipeline::{EditError, Edited, Pipeline, Shown};
use crate::store::{ObjectId, ObjectStore, RecordStore, StoreError};

/// How long a thumbnail's presigned URL lives.
const THUMBNAIL_TTL: Duration = Duration::from_secs(15 * 60);
/// Largest form body taken.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// What the page's responses say about themselves: no script, no framing, nothing cached,
/// and the token in the address never sent on.
const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; img-src http: https:; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
];

/// The review of one bucket.
pub struct Review<S, R> {
    pub pipeline: Pipeline<S, R>,
    pub bucket: String,
    pub token: String,
    /// The port it listens on, for the `Host` check.
    pub port: u16,
    /// Held while an edit is made: each edit reads and rewrites an object's record and tags,
    /// so two at once (two tabs, two languages) could lose one.
    pub edits: tokio::sync::Mutex<()>,
}

/// The filters and position of a page, from its query string or a form.
#[derive(Debug, Default)]
struct Params {
    token: String,
    prefix: String,
    state: String,
    after: String,
    note: String,
    key: String,
    lang: String,
    text: String,
    /// What the form's card showed: the image's ETag and version, the record's time.
    etag: String,
    version: String,
    seen: String,
}

impl Params {
    fn parse(encoded: &[u8]) -> Params {
        let mut params = Params::default();
        for (name, value) in form_urlencoded::parse(encoded) {
            let value = value.into_owned();
            match name.as_ref() {
                "token" => params.token = value,
                "prefix" => params.prefix = value,
                "state" => params.state = value,
                "after" => params.after = value,
                "note" => params.note = value,
                "key" => params.key = value,
                "lang" => params.lang = value,
                "text" => params.text = value,
                "etag" => params.etag = value,
                "version" => params.version = value,
                "seen" => params.seen = value,
                _ => {}
            }
        }
        params
    }
}

impl<S: ObjectStore, R: RecordStore> Review<S, R> {
    /// Answers one request.
    pub async fn answer(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let response = self.route(request).await;
        Ok(with_security_headers(response))
    }

    async fn route(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if !self.is_for_loopback_host(&request) {
            return text(
                StatusCode::FORBIDDEN,
                "forbidden: open the page at the address the command printed",
            );
        }
        let query = request
            .uri()
            .query()
            .unwrap_or_default()
            .as_bytes()
            .to_vec();
        match (request.method().clone(), request.uri().path()) {
            (Method::GET, "/") => {
                let params = Params::parse(&query);
                if !self.has_token(&params) {
                    return forbidden();
                }
                self.list_page(&params).await
            }
            (Method::POST, path @ ("/save" | "/approve")) => {
                let save = path == "/save";
                let Some(params) = form(request).await else {
                    return text(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large");
                };
                if !self.has_token(&params) {
                    return forbidden();
                }
                let note = self.edit(&params, save).await;
                back_to_page(&params, &note)
            }
            (Method::GET | Method::POST, _) => text(StatusCode::NOT_FOUND, "not found"),
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        }
    }

    /// The `Host` is the loopback address the page was printed with: a page of another
    /// site cannot reach this one through a name that resolves to 127.0.0.1.
    fn is_for_loopback_host(&self, request: &Request<Incoming>) -> bool {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        host == format!("127.0.0.1:{}", self.port) || host == format!("localhost:{}", self.port)
    }

    fn has_token(&self, params: &Params) -> bool {
        let (given, wanted) = (params.token.as_bytes(), self.token.as_bytes());
        given.len() == wanted.len()
            && given.iter().zip(wanted).fold(0, |d, (a, b)| d | (a ^ b)) == 0
    }

    /// One page: up to 50 records in the filter, after the key `after`.
    async fn list_page(&self, params: &Params) -> Response<Full<Bytes>> {
        let state = match params.state.as_str() {
            "captioned" => Some(State::Captioned),
            "failed" => Some(State::Failed),
            "skipped" => Some(State::Skipped),
            _ => None,
        };
        let (records, next) = match self.records(params, state).await {
            Ok(found) => found,
            Err(err) => {
                return text(
                    StatusCode::BAD_GATEWAY,
                    &format!("cannot read the records: {err}"),
                );
            }
        };
        let mut cards = Vec::with_capacity(records.len());
        for record in &records {
            cards.push(Card {
                record,
                thumbnail: self.thumbnail(record).await,
            });
        }
        let view = View {
            bucket: &self.bucket,
            token: &self.token,
            prefix: &params.prefix,
            state: state.map_or("", State::as_str),
            after: &params.after,
            next: next.as_deref(),
            langs: &self.pipeline.settings().langs,
            cards,
            note: &params.note,
        };
        html(page::render(&view))
    }

    /// The records of a page, and the key the next page starts after.
    async fn records(
        &self,
        params: &Params,
        state: Option<State>,
    ) -> Result<(Vec<Record>, Option<String>), StoreError> {
        let prefix = Some(params.prefix.as_str()).filter(|p| !p.is_empty());
        let mut after = Some(params.after.clone()).filter(|a| !a.is_empty());
        let mut found = Vec::with_capacity(PAGE_SIZE);
        loop {
            let page = self
                .pipeline
                .records()
                .list(&self.bucket, prefix, after.as_deref())
                .await?;
            for record in page.records {
                if state.is_none_or(|s| record.state == s) {
                    found.push(record);
                    if found.len() == PAGE_SIZE {
                        let next = found.last().map(|r| r.key.clone());
                        return Ok((found, next));
                    }
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok((found, None)),
            }
        }
    }

    /// A presigned URL of an image's bytes, answered as a download of the image type the
    /// record names (nothing for other objects, and for SVG).
    async fn thumbnail(&self, record: &Record) -> Option<String> {
        let content_type = thumbnail_type(record.content_type.as_deref())?;
        let id = ObjectId {
            bucket: record.bucket.clone(),
            key: record.key.clone(),
            version_id: record.version_id.clone(),
        };
        let url = self
            .pipeline
            .store()
            .presign_download(&id, THUMBNAIL_TTL, content_type)
            .await
            .ok()?;
        Some(url.expose().to_string())
    }

    /// Saves a caption or approves an object; the note the page shows after.
    async fn edit(&self, params: &Params, save: bool) -> String {
        let _one_at_a_time = self.edits.lock().await;
        let id = ObjectId {
            bucket: self.bucket.clone(),
            key: params.key.clone(),
            version_id: None,
        };
        // Only on what the card showed: an upload or a caption written since is refused.
        let shown = Shown::of(&params.etag, &params.version, &params.seen);
        let result = if save {
            let lang = Some(params.lang.as_str()).filter(|l| !l.is_empty());
            self.pipeline
                .set_shown(&id, lang, &params.text, &shown)
                .await
        } else {
            self.pipeline.approve_shown(&id, &shown).await
        };
        let done = if save { "saved" } else { "approved" };
        let outcome = match &result {
            Ok(Edited::Done) => done.to_string(),
            Ok(Edited::Unchanged) => "unchanged".to_string(),
            Err(err) => format!("not {done}: {err}"),
        };
        log_edit(&id.key, &outcome, result.as_ref().err());
        format!("{}: {outcome}", params.key)
    }
}

/// The image types a thumbnail is shown for: those the function detects from the bytes and
/// records for a captioned image, SVG excepted (a document, which can run script). Its URL
/// makes S3 answer with the type and as an attachment, whatever the uploader set, so an
/// image opened in a tab of its own is downloaded rather than run on the bucket's origin.
const THUMBNAIL_TYPES: [ImageFormat; 8] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::Gif,
    ImageFormat::Webp,
    ImageFormat::Avif,
    ImageFormat::Heic,
    ImageFormat::Bmp,
    ImageFormat::Tiff,
];

/// The type a thumbnail of a record of `content_type` is answered with, if it has one.
fn thumbnail_type(content_type: Option<&str>) -> Option<&'static str> {
    THUMBNAIL_TYPES
        .iter()
        .map(|f| f.mime_type())
        .find(|t| Some(*t) == content_type)
}

fn log_edit(key: &str, outcome: &str, err: Option<&EditError>) {
    match err {
        None => tracing::info!(key, outcome, "review"),
        Some(_) => tracing::warn!(key, outcome, "review"),
    }
}

/// The form of a POST, if within the size limit.
async fn form(request: Request<Incoming>) -> Option<Params> {
    let body = Limited::new(request.into_body(), MAX_FORM_BYTES)
        .collect()
        .await
        .ok()?
        .to_bytes();
    Some(Params::parse(&body))
}

/// After a save: back to the same page, with the outcome shown.
fn back_to_page(params: &Params, note: &str) -> Response<Full<Bytes>> {
    let location = format!(
        "/?{}",
        page::query(&[
            ("token", params.token.as_str()),
            ("prefix", params.prefix.as_str()),
            ("state", params.state.as_str()),
            ("after", params.after.as_str()),
            ("note", note),
        ])
    );
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn forbidden() -> Response<Full<Bytes>> {
    text(
        StatusCode::FORBIDDEN,
        "forbidden: the address needs the token the command printed",
    )
}

fn html(body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn with_security_headers(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    for (name, value) in SECURITY_HEADERS {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}
