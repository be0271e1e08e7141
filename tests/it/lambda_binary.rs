//! The release binary as Lambda runs it: started with `AWS_LAMBDA_RUNTIME_API` pointing at
//! a small Runtime API emulator, it takes an invocation, does the work against the local
//! stack and posts the response. Its logs are checked for secrets.

use std::collections::VecDeque;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::http::{self, HttpRequest, HttpResponse};
use crate::support::services::{FakeService, Reply, Wire};
use crate::support::{API_KEY, SECRET_KEY, Stack, local_stack, sample, sdk_config};
use serde_json::{Value, json};

/// A Lambda Runtime API that hands out queued events and collects what the function posts.
struct RuntimeApi {
    addr: String,
    posted: Arc<Mutex<Vec<(String, Value)>>>,
}

impl RuntimeApi {
    async fn start(events: Vec<Value>) -> RuntimeApi {
        let queue = Arc::new(Mutex::new(VecDeque::from(events)));
        let posted = Arc::new(Mutex::new(Vec::new()));
        let (q, p) = (Arc::clone(&queue), Arc::clone(&posted));
        let counter = Arc::new(Mutex::new(0u32));
        let addr = http::serve(move |req: HttpRequest| {
            let (queue, posted, counter) = (Arc::clone(&q), Arc::clone(&p), Arc::clone(&counter));
            async move {
                if req.method == "GET" && req.path == "/2018-06-01/runtime/invocation/next" {
                    let event = queue.lock().unwrap().pop_front()?; // none left: hold the poll
                    let mut n = counter.lock().unwrap();
                    *n += 1;
                    let deadline = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_millis()
                        + 60_000;
                    let mut response = HttpResponse::json(200, event);
                    response.headers.extend([
                        ("Lambda-Runtime-Aws-Request-Id".into(), format!("req-{n}")),
                        ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn".into(),
                            "arn:aws:lambda:us-east-1:123456789012:function:s3-alt-text".into(),
                        ),
                        (
                            "Lambda-Runtime-Trace-Id".into(),
                            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into(),
                        ),
                    ]);
                    return Some(response);
                }
                let body = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                posted.lock().unwrap().push((req.path.clone(), body));
                Some(HttpResponse::json(202, serde_json::json!({"status": "OK"})))
            }
        })
        .await;
        RuntimeApi {
            addr: addr.to_string(),
            posted,
        }
    }

    async fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        let started = Instant::now();
        loop {
            let posted = self.posted.lock().unwrap().clone();
            if posted.len() >= n || started.elapsed() > Duration::from_secs(60) {
                return posted;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn the_binary_serves_invocations_and_logs_no_secret() {
    let stack = Stack::new("binary").await;
    stack
        .put(
            "uploads/été/café crème.jpg",
            sample("coffee.jpg"),
            "image/jpeg",
            &[("owner", "shop")],
        )
        .await;
    stack
        .put(
            "uploads/refused.jpg",
            sample("coffee.jpg"),
            "image/jpeg",
            &[],
        )
        .await;
    stack
        .put("uploads/cat.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![
            Reply::Caption("A cup of coffee on a saucer.".into()),
            Reply::EchoUrl,
        ],
    )
    .await;
    let events = vec![
        stack.event(&[
            ("uploads/été/café crème.jpg", None),
            ("uploads/cat.jpg", None),
        ]),
        stack.event(&[("uploads/refused.jpg", None)]),
        serde_json::json!({"not": "an s3 event"}),
    ];
    let runtime = RuntimeApi::start(events).await;
    // As deployed: the key is read at start from a SecureString parameter, not the environment.
    let sdk = sdk_config(&local_stack().moto).await;
    let parameter = format!("/{}/alttextlab-api-key", stack.bucket);
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&parameter)
        .value(API_KEY)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();

    let logs = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(crate::support::binary())
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "s3-alt-text")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .envs(stack.aws_env())
        .env("ALT_TEXT_API_KEY_PARAMETER", &parameter)
        .env("ALT_TEXT_API_URL", &fake.url)
        .stdout(Stdio::from(logs.reopen().unwrap()))
        .stderr(Stdio::from(logs.reopen().unwrap()))
        .spawn()
        .unwrap();
    let posted = runtime.wait_for(3).await;
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(posted.len(), 3, "{posted:?}");
    let (path, body) = &posted[0];
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-1/response");
    assert_eq!(body["captioned"], 2);
    assert_eq!(body["objects"][0]["key"], "uploads/été/café crème.jpg");
    assert_eq!(body["objects"][0]["provider"], "alttextlab");
    assert_eq!(body["objects"][1]["provider"], "embedded");
    // A refused image is a permanent failure: recorded, and the invocation succeeds.
    assert_eq!(posted[1].0, "/2018-06-01/runtime/invocation/req-2/response");
    assert_eq!(posted[1].1["failed"], 1);
    // An unknown payload is an invocation error that says what it got.
    assert_eq!(posted[2].0, "/2018-06-01/runtime/invocation/req-3/error");
    assert_eq!(posted[2].1["errorType"], "UnrecognisedEvent");
    assert!(
        posted[2].1["errorMessage"]
            .as_str()
            .unwrap()
            .contains("keys [not]")
    );

    let mut tags = stack.tags("uploads/été/café crème.jpg").await;
    tags.sort();
    assert_eq!(
        tags,
        vec![
            ("alt-text".into(), "A cup of coffee on a saucer.".into()),
            ("owner".into(), "shop".into())
        ]
    );

    // The provider's error quoted the presigned URL; it is stored and logged redacted.
    let refused = stack.record("uploads/refused.jpg").await.unwrap();
    let error = refused.error.unwrap();
    assert!(
        error.contains("?<redacted>") && !error.contains("X-Amz-Signature"),
        "{error}"
    );

    let logs = std::fs::read_to_string(logs.path()).unwrap();
    for secret in [
        API_KEY,
        SECRET_KEY,
        "X-Amz-Signature",
        "X-Amz-Credential",
        "Signature=",
    ] {
        assert!(
            !logs.contains(secret),
            "the logs contain {secret:?}:\n{logs}"
        );
    }
    let signature = fake.calls()[0].body["imageUrl"]
        .as_str()
        .unwrap()
        .split("X-Amz-Signature=")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(!logs.contains(&signature));

    // One EMF document per invocation, whose values are the invocation's.
    let emf: Vec<Value> = logs_json(&logs)
        .into_iter()
        .filter(|l| l.get("_aws").is_some())
        .collect();
    assert_eq!(emf.len(), 3, "{logs}");
    for doc in &emf {
        assert_valid_emf(doc);
        assert_eq!(doc["FunctionName"], "s3-alt-text");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "s3-alt-text"
        );
    }
    let (coffee_len, cat_len) = (sample("coffee.jpg").len(), sample("cat.jpg").len());
    assert_eq!(
        (
            &emf[0]["ImagesCaptioned"],
            &emf[0]["ImagesFailed"],
            &emf[0]["ProviderCalls"]
        ),
        (&json!(2), &json!(0), &json!(1))
    );
    assert_eq!(
        emf[0]["BytesRead"],
        coffee_len + cat_len,
        "both images fit their first read"
    );
    assert_eq!(emf[0]["ProviderLatency"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            &emf[1]["ImagesFailed"],
            &emf[1]["ProviderCalls"],
            &emf[1]["BytesRead"]
        ),
        (&json!(1), &json!(1), &json!(coffee_len))
    );
    assert_eq!(
        (
            &emf[2]["ImagesFailed"],
            &emf[2]["ProviderCalls"],
            &emf[2]["BytesRead"]
        ),
        (&json!(1), &json!(0), &json!(0)),
        "an unrecognised event counts as one failure"
    );

    // One JSON line per object, with its bucket, key, outcome and duration.
    let lines: Vec<Value> = logs_json(&logs);
    let object_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["key"].is_string())
        .collect();
    let mut keys: Vec<&str> = object_lines
        .iter()
        .map(|l| l["fields"]["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "uploads/cat.jpg",
            "uploads/refused.jpg",
            "uploads/été/café crème.jpg"
        ],
        "{logs}"
    );
    for line in &object_lines {
        assert_eq!(line["fields"]["bucket"], stack.bucket.as_str());
        assert!(
            line["fields"]["outcome"].is_string() && line["fields"]["duration_ms"].is_number(),
            "{line}"
        );
    }
    let coffee = object_lines
        .iter()
        .find(|l| l["fields"]["key"] == "uploads/été/café crème.jpg")
        .unwrap();
    assert_eq!(coffee["fields"]["provider"], "alttextlab");
    let refused = object_lines
        .iter()
        .find(|l| l["fields"]["key"] == "uploads/refused.jpg")
        .unwrap();
    assert_eq!(
        (
            refused["level"].as_str(),
            refused["fields"]["outcome"].as_str()
        ),
        (Some("WARN"), Some("failed"))
    );
}

#[test]
fn the_binary_explains_itself_and_rejects_bad_configuration() {
    let help = Command::new(crate::support::binary())
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("s3-alt-text replay EVENT.json"), "{text}");

    let replay = Command::new(crate::support::binary())
        .env_clear()
        .args(["replay", "events/s3-put.json"])
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&replay.stderr).contains("TABLE_NAME is required but not set"));
}

fn logs_json(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The rules CloudWatch applies to an Embedded Metric Format document.
fn assert_valid_emf(doc: &Value) {
    let aws = &doc["_aws"];
    assert!(aws["Timestamp"].is_u64(), "{doc}");
    let age = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - aws["Timestamp"].as_u64().unwrap();
    assert!(age < 120_000, "a timestamp of now, in milliseconds: {doc}");
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert_eq!(directives.len(), 1);
    let directive = &directives[0];
    assert!(
        directive["Namespace"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    for set in directive["Dimensions"].as_array().unwrap() {
        let set = set.as_array().unwrap();
        assert!(set.len() <= 30);
        for name in set {
            assert!(
                doc[name.as_str().unwrap()].is_string(),
                "dimension {name} has a value"
            );
        }
    }
    let metrics = directive["Metrics"].as_array().unwrap();
    assert!(!metrics.is_empty() && metrics.len() <= 100);
    let units = ["Count", "Milliseconds", "Bytes", "None"];
    for m in metrics {
        let name = m["Name"].as_str().unwrap();
        assert!(units.contains(&m["Unit"].as_str().unwrap()), "{m}");
        let value = &doc[name];
        let numeric = value.is_number()
            || value
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.len() <= 100 && a.iter().all(Value::is_number));
        assert!(numeric, "{name} = {value}");
    }
}
