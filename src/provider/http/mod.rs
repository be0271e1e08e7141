//! What the HTTP services share: [`HttpProvider`], the provider each of them runs as over
//! its [`Wire`] format; sending one JSON request within a time budget, reading
//! `Retry-After`, and turning transport errors and error bodies into messages that carry
//! no URL query string and no key.

mod provider;
pub mod wire;

pub use provider::HttpProvider;
pub use wire::{Auth, BuildProvider, Sent, ServiceSettings, Wire};

use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;

use super::{Calls, ProviderError};
use crate::secret::redact_urls;

/// The most of a reply body read: far above any caption or error message, and a bound on
/// the memory a misbehaving service can make a call hold.
pub const MAX_REPLY_BYTES: usize = 1 << 20;

/// A service's answer: status, `Retry-After` and body text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// Sends `request`, waiting at most `timeout`, and reads the answer. A connection that
/// never opened is transient (the request never reached the service); any other failure
/// once the request may have been sent is uncertain: it may have been billed.
pub async fn send(
    service: &str,
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<Reply, ProviderError> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| unanswered(service, e))?;
    let status = response.status();
    if status.is_redirection() {
        return Err(redirected(service, status, response.headers()));
    }
    let retry_after = retry_after(response.headers());
    let (body, cut_short) = read_body(service, response).await;
    match cut_short {
        Some(why) if status.is_success() => Err(unreadable(service, why)),
        // An error whose body is lost or too long is still the error its status says.
        _ => Ok(Reply {
            status,
            retry_after,
            body,
        }),
    }
}

/// Reads a reply body a chunk at a time, up to [`MAX_REPLY_BYTES`]: the text read, and why
/// it stopped short of the end, if it did. Reading stops as soon as the body is over the
/// limit, so a service cannot make a call hold more memory or time than that.
async fn read_body(service: &str, mut response: reqwest::Response) -> (String, Option<String>) {
    let mut body = Vec::new();
    let cut_short = loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_REPLY_BYTES => {
                body.extend_from_slice(&chunk[..MAX_REPLY_BYTES - body.len()]);
                break Some(format!(
                    "it is over the {} MiB limit of a reply, so it was not read further",
                    MAX_REPLY_BYTES >> 20
                ));
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break None,
            Err(e) => break Some(describe_http_error(service, e)),
        }
    };
    (String::from_utf8_lossy(&body).into_owned(), cut_short)
}

/// Sends `request` like [`send`]; a success body goes to `parse`, any other answer to
/// `classify`. Each request that went out is counted in `calls`.
pub async fn exchange<T>(
    service: &str,
    request: reqwest::RequestBuilder,
    budget: Duration,
    calls: &dyn Calls,
    parse: impl FnOnce(&str) -> Result<T, ProviderError>,
    classify: impl FnOnce(&Reply) -> ProviderError,
) -> Result<T, ProviderError> {
    let reply = match send(service, request, budget).await {
        Ok(reply) => reply,
        // A transient failure of `send` is a connection that never opened: nothing went out.
        // Any other (a redirect, a lost answer) followed a request that did.
        Err(err) => {
            if !matches!(err, ProviderError::Transient { .. }) {
                calls.sent(!matches!(err, ProviderError::Uncertain(_)));
            }
            return Err(err);
        }
    };
    let result = if reply.status.is_success() {
        parse(&reply.body)
    } else {
        Err(classify(&reply))
    };
    count(calls, &result);
    result
}

/// Counts a request that went out by how it ended: without a usable answer, it may have
/// been billed.
pub fn count<T>(calls: &dyn Calls, result: &Result<T, ProviderError>) {
    calls.sent(!matches!(result, Err(ProviderError::Uncertain(_))));
}

/// A redirect, which provider calls never follow: the key and the presigned URL would go
/// to another host. Permanent: the configured URL is wrong, or the service misbehaves.
fn redirected(
    service: &str,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> ProviderError {
    let to = headers
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| reqwest::Url::parse(l).ok())
        .and_then(|url| url.host_str().map(String::from))
        .unwrap_or_else(|| "another address".into());
    ProviderError::Permanent(format!(
        "{service} answered {} redirecting to {to}; provider calls follow no redirect, so the key goes only to the configured host: set its API URL to the service's own address",
        status.as_u16()
    ))
}

/// A request that failed on its way: transient if the connection never opened, uncertain
/// (maybe billed) otherwise.
fn unanswered(service: &str, e: reqwest::Error) -> ProviderError {
    let connect = e.is_connect();
    let message = describe_http_error(service, e);
    if connect {
        ProviderError::transient(message)
    } else {
        ProviderError::Uncertain(format!(
            "{message}; the request may have reached {service} and been billed, so it is not sent again now"
        ))
    }
}

/// A success body that cannot be read. The call may have been billed: not sent again now.
pub fn unreadable(service: &str, err: impl std::fmt::Display) -> ProviderError {
    ProviderError::Uncertain(redact_urls(&format!(
        "{service} answered with an unreadable body: {err}; the request may have been billed"
    )))
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and treated as absent).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The human part of an error body: the first of the usual message fields, or the start of
/// the text; URL query strings redacted.
pub fn error_detail(body: &str) -> String {
    let parsed: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let field = |v: &serde_json::Value| -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    let detail = ["message", "error", "errors", "detail"]
        .iter()
        .find_map(|name| match parsed.get(*name)? {
            // OpenAI style: {"error": {"message": …}}
            serde_json::Value::Object(o) if o.contains_key("message") => field(&o["message"]),
            other => field(other),
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    let detail: String = detail.chars().take(300).collect();
    redact_urls(detail.trim())
}

/// A transport error, without any URL.
pub fn describe_http_error(service: &str, e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    format!("{service} {kind}: {}", redact_urls(&detail))
}

/// A refused key's error, naming `other`: the service whose name is close enough that its
/// key may have been put in this one's variable; `hint` says where the other's key goes.
pub fn naming_the_other(err: ProviderError, other: &str, hint: &str) -> ProviderError {
    match err {
        ProviderError::KeyRejected(message) => {
            ProviderError::KeyRejected(format!("{message} (Is it a key of {other}? {hint})"))
        }
        err => err,
    }
}

/// The classification every service shares for statuses it documents no differently: 429
/// and a 503 with `Retry-After` transient (the service says it did not process the
/// request), any other 5xx uncertain (it may have), every other status permanent.
pub fn generic_error(service: &str, reply: &Reply) -> ProviderError {
    let code = reply.status.as_u16();
    let detail = error_detail(&reply.body);
    match code {
        401 => ProviderError::KeyRejected(format!(
            "{service} rejected the API key (401): check the key. {detail}"
        )),
        429 => ProviderError::Transient {
            message: format!("{service} is rate limiting (429). {detail}"),
            retry_after: reply.retry_after,
        },
        503 if reply.retry_after.is_some() => ProviderError::Transient {
            message: format!("{service} is unavailable (503). {detail}"),
            retry_after: reply.retry_after,
        },
        500..=599 => ProviderError::Uncertain(format!(
            "{service} server error ({code}); it may have processed the request. {detail}"
        )),
        _ => ProviderError::Permanent(format!("{service} refused the image ({code}). {detail}")),
    }
}

/// Names under which the services report the credits left on an account.
const CREDIT_FIELDS: [&str; 6] = [
    "credits_remaining",
    "creditsRemaining",
    "credits",
    "remaining",
    "available_credits",
    "availableCredits",
];

/// Asks an account endpoint for the credits left: the first number under one of the usual
/// names, at the top or one object down, or `usage_limit - usage`; `None` if it names none.
pub async fn credits_left(
    service: &str,
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<Option<f64>, ProviderError> {
    let reply = send(service, request, timeout).await?;
    if !reply.status.is_success() {
        return Err(generic_error(service, &reply));
    }
    let body: serde_json::Value =
        serde_json::from_str(&reply.body).map_err(|e| unreadable(service, e))?;
    Ok(credits_in(&body))
}

/// The credits left that an account document reports.
pub fn credits_in(body: &serde_json::Value) -> Option<f64> {
    let direct = |v: &serde_json::Value| {
        CREDIT_FIELDS
            .iter()
            .find_map(|f| v.get(*f).and_then(serde_json::Value::as_f64))
            .or_else(|| {
                let limit = v.get("usage_limit")?.as_f64()?;
                Some((limit - v.get("usage")?.as_f64()?).max(0.0))
            })
    };
    direct(body).or_else(|| body.as_object()?.values().find_map(direct))
}

/// Bytes `size` bytes take as base64.
pub fn base64_len(size: u64) -> u64 {
    size.div_ceil(3) * 4
}

/// The memory a call that sends an image of `size` bytes as base64 in its body holds at
/// most: the bytes read and the body, alive together while the body is built.
pub fn base64_body_memory(size: u64) -> u64 {
    size + base64_len(size)
}

/// A JSON document `prefix"<base64 of bytes>"suffix`, built in one buffer: the image is
/// encoded straight into the body instead of through an intermediate string.
pub fn json_with_base64(prefix: &str, bytes: &[u8], suffix: &str) -> Vec<u8> {
    json_with_encoded(prefix, "", bytes, suffix)
}

/// A JSON document `prefix"data:<mime>;base64,<base64 of bytes>"suffix`, in one buffer.
pub fn json_with_data_url(prefix: &str, mime: &str, bytes: &[u8], suffix: &str) -> Vec<u8> {
    json_with_encoded(prefix, &format!("data:{mime};base64,"), bytes, suffix)
}

fn json_with_encoded(prefix: &str, lead: &str, bytes: &[u8], suffix: &str) -> Vec<u8> {
    let encoded_len = bytes.len().div_ceil(3) * 4;
    let mut body =
        String::with_capacity(prefix.len() + lead.len() + encoded_len + suffix.len() + 2);
    body.push_str(prefix);
    body.push('"');
    body.push_str(lead);
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut body);
    body.push('"');
    body.push_str(suffix);
    body.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: Some(Duration::from_secs(3)),
            body: body.into(),
        }
    }

    /// A server whose one answer announces 64 MiB, sends 2 MiB at once and the rest never.
    fn endless_reply(status: u16) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let _ = socket.read(&mut [0; 16 * 1024]);
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n",
                64 << 20
            );
            let _ = socket.write_all(head.as_bytes());
            let _ = socket.write_all(format!("{{\"message\":\"{}", "x".repeat(2 << 20)).as_bytes());
            std::thread::sleep(Duration::from_secs(60));
        });
        url
    }

    async fn send_to(url: &str) -> Result<Reply, ProviderError> {
        let request = reqwest::Client::new().post(url).body("{}");
        let send = send("S", request, Duration::from_secs(30));
        tokio::time::timeout(Duration::from_secs(10), send)
            .await
            .expect("the reply is abandoned at the limit, not read to its end")
    }

    #[tokio::test]
    async fn a_reply_over_the_limit_is_abandoned_as_soon_as_it_is_over() {
        let err = send_to(&endless_reply(200)).await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Uncertain(m)
                if m.contains("over the 1 MiB limit") && m.contains("may have been billed")),
            "{err:?}"
        );
        // An error's status still says what it is; its body is kept up to the limit.
        let reply = send_to(&endless_reply(500)).await.unwrap();
        assert_eq!(reply.status, 500);
        assert_eq!(reply.body.len(), MAX_REPLY_BYTES);
    }

    #[test]
    fn details_come_from_the_usual_fields() {
        assert_eq!(error_detail(r#"{"message":"bad key"}"#), "bad key");
        assert_eq!(
            error_detail(r#"{"error":"Invalid input"}"#),
            "Invalid input"
        );
        assert_eq!(
            error_detail(r#"{"error":{"message":"quota","code":"insufficient_quota"}}"#),
            "quota"
        );
        assert_eq!(
            error_detail(r#"{"errors":{"base":["Insufficient credits"]}}"#),
            r#"{"base":["Insufficient credits"]}"#
        );
        assert_eq!(error_detail("<html>502</html>"), "<html>502</html>");
        assert!(
            !error_detail(r#"{"message":"cannot fetch https://x/y.jpg?X-Amz-Signature=abc"}"#)
                .contains("abc")
        );
    }

    #[test]
    fn generic_statuses_are_classified() {
        assert!(matches!(
            generic_error("S", &reply(401, "{}")),
            ProviderError::KeyRejected(m) if m.contains("API key")
        ));
        assert_eq!(
            generic_error("S", &reply(429, "{}")),
            ProviderError::Transient {
                message: "S is rate limiting (429). {}".into(),
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert!(matches!(
            generic_error("S", &reply(503, "")),
            ProviderError::Transient { .. }
        ));
        let mut no_retry_after = reply(503, "");
        no_retry_after.retry_after = None;
        assert!(matches!(
            generic_error("S", &no_retry_after),
            ProviderError::Uncertain(_)
        ));
        assert!(matches!(
            generic_error("S", &reply(400, "")),
            ProviderError::Permanent(_)
        ));
    }

    #[test]
    fn credits_are_read_from_the_usual_shapes() {
        let credits = |body: &str| credits_in(&serde_json::from_str(body).unwrap());
        assert_eq!(credits(r#"{"credits": 12}"#), Some(12.0));
        assert_eq!(credits(r#"{"credits_remaining": 0}"#), Some(0.0));
        assert_eq!(credits(r#"{"data": {"availableCredits": 7}}"#), Some(7.0));
        assert_eq!(credits(r#"{"usage": 90, "usage_limit": 100}"#), Some(10.0));
        assert_eq!(credits(r#"{"plan": "free"}"#), None);
    }

    #[test]
    fn base64_bodies_are_valid_json() {
        let body = json_with_base64(r#"{"image":"#, b"\xff\xd8\xffhello", r#","language":"en"}"#);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(v["image"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, b"\xff\xd8\xffhello");
        assert_eq!(v["language"], "en");
    }
}
