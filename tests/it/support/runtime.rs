//! A Lambda Runtime API for the function's binary: it hands each waiting container the next
//! invocation (long-polled, as Lambda does), with a deadline, and keeps what the container
//! posts back. Containers are the binary's processes; one can be killed
//! (`SIGKILL`) mid-invocation and another started, as Lambda replaces a crashed one.

use std::collections::{HashMap, VecDeque};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::http::{self, HttpRequest, HttpResponse};

/// What each invocation is given before its deadline.
pub const INVOCATION_MS: u64 = 4_000;

/// The Runtime API on a loopback port.
pub struct RuntimeApi {
    pub addr: String,
    queue: Arc<Mutex<VecDeque<(String, Value)>>>,
    posted: Arc<Mutex<HashMap<String, Value>>>,
    next_id: AtomicU64,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let queue: Arc<Mutex<VecDeque<(String, Value)>>> = Arc::default();
        let posted: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
        let (q, p) = (Arc::clone(&queue), Arc::clone(&posted));
        let addr = http::serve(move |req: HttpRequest| {
            let (queue, posted) = (Arc::clone(&q), Arc::clone(&p));
            async move {
                if req.method == "GET" && req.path.ends_with("/runtime/invocation/next") {
                    return next(&queue).await;
                }
                // …/invocation/{id}/response or …/{id}/error.
                let mut parts = req.path.rsplit('/');
                let (kind, id) = (parts.next().unwrap_or_default(), parts.next());
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                if let Some(id) = id {
                    let entry = if kind == "error" {
                        serde_json::json!({"error": body})
                    } else {
                        body
                    };
                    posted.lock().unwrap().insert(id.to_string(), entry);
                }
                Some(HttpResponse::json(202, serde_json::json!({"status": "OK"})))
            }
        })
        .await;
        RuntimeApi {
            addr: addr.to_string(),
            queue,
            posted,
            next_id: AtomicU64::new(1),
        }
    }

    /// Queues `event`; its request id.
    pub fn invoke(&self, event: Value) -> String {
        let id = format!("req-{}", self.next_id.fetch_add(1, Ordering::SeqCst));
        self.queue.lock().unwrap().push_back((id.clone(), event));
        id
    }

    /// What the container posted for `id`, within `wait`.
    pub async fn result(&self, id: &str, wait: Duration) -> Option<Value> {
        let started = Instant::now();
        loop {
            if let Some(v) = self.posted.lock().unwrap().remove(id) {
                return Some(v);
            }
            if started.elapsed() > wait {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The next invocation, once there is one (a held poll is answered within 25 s).
async fn next(queue: &Mutex<VecDeque<(String, Value)>>) -> Option<HttpResponse> {
    let started = Instant::now();
    let (id, event) = loop {
        if let Some(item) = queue.lock().unwrap().pop_front() {
            break item;
        }
        if started.elapsed() > Duration::from_secs(25) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + INVOCATION_MS;
    let mut response = HttpResponse::json(200, event);
    response.headers.extend([
        ("Lambda-Runtime-Aws-Request-Id".into(), id),
        ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
        (
            "Lambda-Runtime-Invoked-Function-Arn".into(),
            "arn:aws:lambda:us-east-1:123456789012:function:s3-alt-text".into(),
        ),
        (
            "Lambda-Runtime-Trace-Id".into(),
            "Root=1-5759e988-bd862e3fe1be46a994272793".into(),
        ),
    ]);
    Some(response)
}

/// One container: the binary serving invocations from a Runtime API of its own (so that
/// a killed container's poll, still held, takes no later invocation).
pub struct Container {
    child: Child,
    pub runtime: RuntimeApi,
}

impl Container {
    pub async fn start(env: &[(String, String)]) -> Container {
        let runtime = RuntimeApi::start().await;
        let child = Command::new(crate::support::binary())
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &runtime.addr)
            .env("AWS_LAMBDA_FUNCTION_NAME", "s3-alt-text")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(if std::env::var_os("SOAK_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(if std::env::var_os("SOAK_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start the function's binary");
        Container { child, runtime }
    }

    /// `SIGKILL`, as a crashed or timed-out container ends.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.kill();
    }
}
