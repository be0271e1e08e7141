//! Reading a request as the services do: its path and method, its key, the image it
//! carries or names by URL (fetched from the local S3), the language a prompt asks for.

use base64::Engine;
use serde_json::Value;

use super::{Call, Refusal, State};
use crate::support::http::HttpRequest;

impl State {
    /// Refuses with `refusal` a key other than the one expected (none is expected of an
    /// OpenAI-compatible server without auth).
    pub(super) fn expect_key(&self, got: Option<&str>, refusal: Refusal) -> Result<(), Refusal> {
        match &*self.key.lock().unwrap() {
            Some(key) if got != Some(key.as_str()) => Err(refusal),
            _ => Ok(()),
        }
    }

    /// Gets the image at `url` (a presigned URL of the local S3) and notes it in `call`;
    /// `None` unless the answer was a success.
    pub(super) async fn fetch(&self, url: &str, call: &mut Call) -> Option<Vec<u8>> {
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
    pub(super) fn carried(&mut self, via: &'static str, b64: Option<&str>) -> Option<Vec<u8>> {
        let image = base64::engine::general_purpose::STANDARD
            .decode(b64?)
            .ok()?;
        self.image_via = via;
        self.image_len = image.len();
        self.image = image.clone();
        Some(image)
    }
}

/// Refuses with 404 and `not_found` a request that is not a POST to `path`.
pub(super) fn post_to(req: &HttpRequest, path: &str, not_found: Value) -> Result<(), Refusal> {
    if req.method == "POST" && req.path == path {
        Ok(())
    } else {
        Err((404, not_found))
    }
}

/// The token of an `Authorization: Bearer` header.
pub(super) fn bearer(req: &HttpRequest) -> Option<&str> {
    req.header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
}

/// The language a language-model prompt asks for: "(language code xx)".
pub(super) fn prompt_lang(prompt: &str) -> String {
    prompt
        .split("language code ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or("en")
        .to_string()
}
