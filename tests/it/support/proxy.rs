//! A fault-injecting HTTP proxy in front of the local stack's S3 (SeaweedFS) and DynamoDB
//! (dynalite): the function's S3 and DynamoDB clients talk to it, and it answers chosen
//! operations with the errors AWS sends under load (S3 `503 SlowDown`, DynamoDB
//! `ThrottlingException`) before passing them through. Requests go on with the `Host` they
//! were signed for, so SeaweedFS still verifies every signature.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::LocalStack;
use super::http::{self, HttpRequest, HttpResponse};

/// The proxy, on a loopback port.
pub struct FaultProxy {
    pub endpoint: String,
    faults: Arc<Mutex<Vec<Fault>>>,
    seen: Arc<Mutex<HashMap<String, usize>>>,
}

struct Fault {
    op: String,
    /// How long the answer takes.
    after: Duration,
    /// Only requests whose body holds this text.
    body_contains: Option<String>,
    left: usize,
    response: HttpResponse,
}

/// S3's answer when a prefix is over its request rate.
pub fn s3_slow_down() -> HttpResponse {
    HttpResponse {
        status: 503,
        headers: vec![("Content-Type".into(), "application/xml".into())],
        body: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULT</RequestId></Error>".to_vec(),
    }
}

/// S3's answer to a tag set it refuses.
pub fn s3_invalid_tag() -> HttpResponse {
    HttpResponse {
        status: 400,
        headers: vec![("Content-Type".into(), "application/xml".into())],
        body: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidTag</Code><Message>The TagValue you have provided is invalid</Message><RequestId>FAULT</RequestId></Error>".to_vec(),
    }
}

/// DynamoDB's answer when a table is throttled.
pub fn dynamodb_throttled() -> HttpResponse {
    let mut response = HttpResponse::json(
        400,
        json!({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate of requests exceeds the allowed throughput."}),
    );
    response.headers = vec![("Content-Type".into(), "application/x-amz-json-1.0".into())];
    response
}

impl FaultProxy {
    /// A proxy to the S3 and the DynamoDB of `stack`.
    pub async fn start(stack: &LocalStack) -> FaultProxy {
        let faults: Arc<Mutex<Vec<Fault>>> = Arc::default();
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let client = reqwest::Client::new();
        let (s3, dynamodb) = (stack.s3.clone(), stack.dynamodb.clone());
        let (f, s) = (Arc::clone(&faults), Arc::clone(&seen));
        let addr: SocketAddr = http::serve(move |req: HttpRequest| {
            let (faults, seen, client) = (Arc::clone(&f), Arc::clone(&s), client.clone());
            // DynamoDB names its operation in a header; everything else is S3.
            let upstream = match req.header("x-amz-target") {
                Some(_) => dynamodb.clone(),
                None => s3.clone(),
            };
            async move {
                let op = operation(&req);
                *seen.lock().unwrap().entry(op.clone()).or_default() += 1;
                let injected: Option<(Duration, HttpResponse)> = {
                    let mut faults = faults.lock().unwrap();
                    let body = String::from_utf8_lossy(&req.body);
                    faults
                        .iter_mut()
                        .find(|f| {
                            f.op == op
                                && f.left > 0
                                && f.body_contains.as_ref().is_none_or(|t| body.contains(t))
                        })
                        .map(|f| {
                            f.left -= 1;
                            (f.after, f.response.clone())
                        })
                };
                Some(match injected {
                    Some((after, response)) => {
                        tokio::time::sleep(after).await;
                        response
                    }
                    None => forward(&client, &upstream, req).await,
                })
            }
        })
        .await;
        FaultProxy {
            endpoint: format!("http://{addr}"),
            faults,
            seen,
        }
    }

    /// Answers the next `times` calls of `op` (`GetObject`, `PutObjectTagging`, `PutItem`,
    /// …) with `response`.
    pub fn fail(&self, op: &str, times: usize, response: HttpResponse) {
        self.stall(op, times, Duration::ZERO, response);
    }

    /// Answers the next `times` calls of `op` with `response`, `after` a wait (a store
    /// that hangs, then fails).
    pub fn stall(&self, op: &str, times: usize, after: Duration, response: HttpResponse) {
        self.faults.lock().unwrap().push(Fault {
            op: op.into(),
            after,
            body_contains: None,
            left: times,
            response,
        });
    }

    /// Answers every call of `op` whose body holds `text` with `response`, `after` a wait.
    pub fn stall_when(&self, op: &str, text: &str, after: Duration, response: HttpResponse) {
        self.faults.lock().unwrap().push(Fault {
            op: op.into(),
            after,
            body_contains: Some(text.into()),
            left: usize::MAX,
            response,
        });
    }

    /// Answers every call of `op` whose body holds `text` with `response`.
    pub fn fail_when(&self, op: &str, text: &str, response: HttpResponse) {
        self.faults.lock().unwrap().push(Fault {
            op: op.into(),
            after: Duration::ZERO,
            body_contains: Some(text.into()),
            left: usize::MAX,
            response,
        });
    }

    /// Removes every fault still pending.
    pub fn heal(&self) {
        self.faults.lock().unwrap().clear();
    }

    /// Calls by operation, for diagnostics.
    pub fn all_seen(&self) -> HashMap<String, usize> {
        self.seen.lock().unwrap().clone()
    }

    /// How many calls of `op` reached the proxy.
    pub fn seen(&self, op: &str) -> usize {
        self.seen.lock().unwrap().get(op).copied().unwrap_or(0)
    }
}

/// The AWS operation of a request: DynamoDB names it in `X-Amz-Target`; for S3 it follows
/// from the method and the query.
fn operation(req: &HttpRequest) -> String {
    if let Some(target) = req.header("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let has = |name: &str| {
        query
            .split('&')
            .any(|p| p == name || p.starts_with(&format!("{name}=")))
    };
    match (req.method.as_str(), has("tagging")) {
        ("GET", true) => "GetObjectTagging",
        ("PUT", true) => "PutObjectTagging",
        ("HEAD", _) => "HeadObject",
        ("GET", false) if has("list-type") => "ListObjectsV2",
        ("GET", false) => "GetObject",
        (other, _) => other,
    }
    .to_string()
}

async fn forward(client: &reqwest::Client, upstream: &str, req: HttpRequest) -> HttpResponse {
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
    let head = method == reqwest::Method::HEAD;
    let mut request = client.request(method, format!("{upstream}{}", req.path));
    for (k, v) in &req.headers {
        let skip = [
            "content-length",
            "connection",
            "transfer-encoding",
            "expect",
        ];
        if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
            request = request.header(k, v);
        }
    }
    let response = match request.body(req.body).send().await {
        Ok(r) => r,
        Err(e) => return HttpResponse::json(502, json!({"message": e.to_string()})),
    };
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(k, _)| {
            let k = k.as_str();
            !["transfer-encoding", "connection"].contains(&k) && (head || k != "content-length")
        })
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = response.bytes().await.unwrap_or_default().to_vec();
    HttpResponse {
        status,
        headers,
        body,
    }
}
