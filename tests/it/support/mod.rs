//! The helpers the integration tests share: a moto server started on a free port, SDK
//! clients pointed at it, a bucket and a table per test, the sample files, a minimal HTTP
//! server (`http`), fakes of the captioning services (`services`) and a fault-injecting
//! proxy in front of moto (`proxy`).

pub mod http;
pub mod proxy;
pub mod services;

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging};
use s3_alt_text::app::{self, AppHandler};
use s3_alt_text::caption::Record;
use s3_alt_text::config::Config;
use s3_alt_text::provider::Services;
use s3_alt_text::store::DynamoRecords;
use s3_alt_text::store::S3Store;
use s3_alt_text::store::dynamodb::from_item;
use serde_json::{Value, json};
use services::FakeService;

pub const ACCESS_KEY: &str = "AKIDLOCALSTACKTEST01";
pub const SECRET_KEY: &str = "local/stack+secret/key/for/tests/only";
pub const REGION: &str = "us-east-1";
pub const API_KEY: &str = "atl_live_9f8e7d6c5b4a39281706";

pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A moto server for this test binary, stopped when the binary exits.
pub struct Moto {
    pub endpoint: String,
    _watchdog: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

/// The moto server of this test binary (started on first use).
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start_moto)
}

fn moto_command() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return path.into();
    }
    let venv = project_dir().join(".venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    "moto_server".into()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_moto() -> Moto {
    let port = free_port();
    let command = moto_command();
    // moto runs under a small shell that kills it when this process's end of the pipe
    // closes, so no server outlives the tests even if they crash.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & pid=$!; read _ignored; kill $pid"#)
        .arg(&command)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", command.display()));
    let stdin = child.stdin.take().unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{} exited with {status}; install it with scripts/setup.sh",
                command.display()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server ({}) did not listen on port {port}; install it with scripts/setup.sh",
            command.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _watchdog: Mutex::new(stdin),
        _child: Mutex::new(child),
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self._watchdog.lock().map(|mut s| s.write_all(b"\n"));
    }
}

/// A bucket and a table of its own for one test, on the shared moto server.
pub struct Stack {
    pub endpoint: String,
    pub bucket: String,
    pub table: String,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

impl Stack {
    /// Creates a bucket named `bucket` (made unique) and a table for the records.
    pub async fn new(bucket: &str) -> Stack {
        let endpoint = moto().endpoint.clone();
        let sdk = sdk_config(&endpoint).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let bucket = format!("{bucket}-{n}-{}", std::process::id());
        let table = format!("alt-text-{n}-{}", std::process::id());
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        dynamodb
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("sk")
                    .key_type(KeyType::Range)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("sk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("create table");
        Stack {
            endpoint,
            bucket,
            table,
            s3,
            dynamodb,
        }
    }

    /// The configuration the function would read, with `vars` on top of the defaults.
    pub fn config(&self, vars: &[(&str, &str)]) -> Config {
        let mut map: HashMap<String, String> =
            HashMap::from([("TABLE_NAME".to_string(), self.table.clone())]);
        for (k, v) in vars {
            map.insert(k.to_string(), v.to_string());
        }
        Config::from_lookup(|name| map.get(name).cloned()).expect("valid configuration")
    }

    /// The function's handler over this stack.
    pub fn handler(&self, config: &Config) -> AppHandler {
        self.handler_with(config, Services::http(reqwest::Client::new()))
    }

    /// The function's handler over this stack, with AltTextLab (the `fake`) for the images
    /// without embedded alt text.
    pub fn alttextlab_handler(&self, fake: &FakeService) -> AppHandler {
        self.handler(&self.config(&[
            ("ALT_TEXT_API_KEY", API_KEY),
            ("ALT_TEXT_API_URL", &fake.url),
        ]))
    }

    /// The function's handler over this stack, its providers calling through `services`.
    pub fn handler_with(&self, config: &Config, services: Services) -> AppHandler {
        app::build_with(
            config,
            S3Store::new(self.s3.clone()),
            DynamoRecords::new(self.dynamodb.clone(), &self.table),
            services,
        )
    }

    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        tags: &[(&str, &str)],
    ) -> String {
        let mut request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes));
        if !tags.is_empty() {
            let encoded = tags
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k, false), percent_encode(v, false)))
                .collect::<Vec<_>>()
                .join("&");
            request = request.tagging(encoded);
        }
        let output = request.send().await.expect("put object");
        output
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string()
    }

    pub async fn put_tags(&self, key: &str, tags: &[(String, String)]) {
        let tag_set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
            .collect();
        self.s3
            .put_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .tagging(
                Tagging::builder()
                    .set_tag_set(Some(tag_set))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("put tags");
    }

    pub async fn tags(&self, key: &str) -> Vec<(String, String)> {
        self.tags_of(key, None).await
    }

    pub async fn tags_of(&self, key: &str, version: Option<&str>) -> Vec<(String, String)> {
        let output = self
            .s3
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(String::from))
            .send()
            .await
            .expect("get tags");
        output
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    }

    pub async fn record(&self, key: &str) -> Option<Record> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(self.bucket.clone()),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S(key.to_string()),
            )
            .send()
            .await
            .expect("get item");
        output
            .item()
            .map(|item| from_item(item).expect("a well-formed record"))
    }

    /// An S3 `ObjectCreated:Put` event for `key` in this stack's bucket.
    pub fn event(&self, keys: &[(&str, Option<&str>)]) -> Value {
        let records: Vec<Value> = keys
            .iter()
            .map(|(key, version)| {
                let mut object = json!({"key": encode_key(key), "size": 1, "sequencer": "0055AED6DCD90281E5"});
                if let Some(v) = version {
                    object["versionId"] = json!(v);
                }
                json!({
                    "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                    "eventTime": "2026-11-20T09:12:45.218Z", "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                    "requestParameters": {"sourceIPAddress": "203.0.113.24"},
                    "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
                    "s3": {"s3SchemaVersion": "1.0", "configurationId": "alt-text",
                           "bucket": {"name": self.bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{}", self.bucket)},
                           "object": object}
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// Uploads the objects the sample events name (samples/uploads.json), with their tags,
    /// and returns the ETag moto gave each, by key.
    pub async fn upload_samples(&self) -> Vec<(String, String)> {
        let mut etags = Vec::new();
        for u in uploads().as_array().unwrap() {
            let key = u["key"].as_str().unwrap();
            let tags: Vec<(&str, &str)> = u["tags"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                .collect();
            let etag = self
                .put(
                    key,
                    sample(u["file"].as_str().unwrap()),
                    u["content_type"].as_str().unwrap(),
                    &tags,
                )
                .await;
            etags.push((key.to_string(), etag));
        }
        etags
    }

    /// A sample event file with its bucket replaced by this stack's.
    pub fn sample_event(&self, file: &str) -> Value {
        let text = std::fs::read_to_string(project_dir().join("events").join(file)).unwrap();
        let text = text.replace("my-photo-library", &self.bucket);
        serde_json::from_str(&text).unwrap()
    }
}

/// Form-URL-encodes a key as S3 does in event notifications.
pub fn encode_key(key: &str) -> String {
    percent_encode(key, true).replace("%20", "+")
}

/// Percent-encodes every byte but RFC 3986's unreserved characters (and `/` if `keep_slash`).
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b'/' if keep_slash => "/".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A file of `samples/`.
pub fn sample(name: &str) -> Vec<u8> {
    std::fs::read(project_dir().join("samples").join(name)).unwrap()
}

/// The uploads the sample events name (`samples/uploads.json`): key, file, content type
/// and tags of each.
pub fn uploads() -> Value {
    serde_json::from_slice(&sample("uploads.json")).unwrap()
}

pub fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(120)
}
