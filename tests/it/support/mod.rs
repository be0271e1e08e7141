//! The helpers the integration tests share: the local stack (SeaweedFS for S3, dynalite
//! for DynamoDB, moto for SSM and Secrets Manager) started once per test binary, SDK clients
//! pointed at it, a bucket and a table per test, the sample files, a minimal HTTP server
//! (`http`), fakes of the captioning services (`services`) and a fault-injecting proxy in
//! front of S3 and DynamoDB (`proxy`).

pub mod accounts;
pub mod http;
pub mod images;
pub mod proxy;
pub mod review;
pub mod runtime;
pub mod services;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
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
use s3_alt_text::app::trust::TrustRoots;
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

/// The function's binary the tests run: `S3_ALT_TEXT_BIN` when set (a release build, or a
/// copy a long soak keeps while the tree is rebuilt), else the one cargo built.
pub fn binary() -> PathBuf {
    std::env::var_os("S3_ALT_TEXT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_s3-alt-text")))
}

/// The local stack of this test binary: SeaweedFS (S3), dynalite (DynamoDB) and moto (SSM
/// and Secrets Manager), started by `scripts/local_stack.py --serve` and stopped when this
/// binary exits, however it exits: the script stops everything once its standard input, a
/// pipe from this process, closes.
pub struct LocalStack {
    pub s3: String,
    pub dynamodb: String,
    pub moto: String,
    _watchdog: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

/// The local stack of this test binary (started on first use).
pub fn local_stack() -> &'static LocalStack {
    static STACK: OnceLock<LocalStack> = OnceLock::new();
    STACK.get_or_init(start_local_stack)
}

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("PYTHON") {
        return path.into();
    }
    project_dir().join(".venv/bin/python")
}

fn start_local_stack() -> LocalStack {
    let python = python();
    let mut child = Command::new(&python)
        .arg(project_dir().join("scripts/local_stack.py"))
        .args([
            "--serve",
            "--access-key",
            ACCESS_KEY,
            "--secret-key",
            SECRET_KEY,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start the local stack with {}: {e}; install it with scripts/setup.sh",
                python.display()
            )
        });
    let stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoints: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
        panic!("the local stack did not start (scripts/local_stack.py --serve); install it with scripts/setup.sh")
    });
    let endpoint = |name: &str| endpoints[name].as_str().unwrap().to_string();
    LocalStack {
        s3: endpoint("s3"),
        dynamodb: endpoint("dynamodb"),
        moto: endpoint("moto"),
        _watchdog: Mutex::new(stdin),
        _child: Mutex::new(child),
    }
}

/// A bucket and a table of its own for one test, on the shared local stack.
pub struct Stack {
    /// Where S3 and DynamoDB are.
    pub s3_endpoint: String,
    pub dynamodb_endpoint: String,
    pub bucket: String,
    pub table: String,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The providers' HTTP client, as the function builds it (no redirects followed).
pub fn provider_http() -> reqwest::Client {
    app::http_client(&TrustRoots::load(None).unwrap()).unwrap()
}

/// The AWS configuration of the tests' clients: every service at `endpoint`.
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

/// Waits for `table` to take writes: a new table is `CREATING` for a moment (on dynalite
/// too), and a write to it meanwhile is refused as to a table that does not exist.
async fn wait_until_active(dynamodb: &aws_sdk_dynamodb::Client, table: &str) {
    for _ in 0..500 {
        let described = dynamodb.describe_table().table_name(table).send().await;
        let status = described.ok().and_then(|d| d.table?.table_status);
        if status == Some(aws_sdk_dynamodb::types::TableStatus::Active) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("table {table} never became active");
}

impl Stack {
    /// Creates a bucket named `bucket` (made unique) and a table for the records.
    pub async fn new(bucket: &str) -> Stack {
        let stack = local_stack();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config(&stack.s3).await)
                .force_path_style(true)
                .build(),
        );
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config(&stack.dynamodb).await);
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
        wait_until_active(&dynamodb, &table).await;
        Stack {
            s3_endpoint: stack.s3.clone(),
            dynamodb_endpoint: stack.dynamodb.clone(),
            bucket,
            table,
            s3,
            dynamodb,
        }
    }

    /// A stack whose bucket keeps every version of an object.
    pub async fn versioned(bucket: &str) -> Stack {
        let stack = Stack::new(bucket).await;
        stack
            .s3
            .put_bucket_versioning()
            .bucket(&stack.bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("versioning on");
        stack
    }

    /// Uploads a new version of `key` to a versioned bucket: its version id and ETag.
    pub async fn put_version(&self, key: &str, bytes: Vec<u8>) -> (String, String) {
        let output = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("image/jpeg")
            .body(bytes.into())
            .send()
            .await
            .expect("put a version");
        let version = output.version_id().expect("a versioned bucket").to_string();
        let etag = output.e_tag().unwrap().trim_matches('"').to_string();
        (version, etag)
    }

    /// The AWS settings a function process needs to reach this stack: credentials, Region
    /// and each service's endpoint.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        let moto = local_stack().moto.clone();
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ENDPOINT_URL_S3", self.s3_endpoint.clone()),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb_endpoint.clone()),
            ("AWS_ENDPOINT_URL_SSM", moto.clone()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto),
            ("TABLE_NAME", self.table.clone()),
        ]
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
        self.handler_with(config, Services::http(provider_http()))
    }

    /// The function's handler over this stack, with AltTextLab (the `fake`) for the images
    /// without embedded alt text.
    pub fn alttextlab_handler(&self, fake: &FakeService) -> AppHandler {
        self.handler(&self.config(&[
            ("ALT_TEXT_API_KEY", API_KEY),
            ("ALT_TEXT_API_URL", &fake.url),
        ]))
    }

    /// The configuration of a chain of AltTextLab alone at `url` (the fake's), with the
    /// test key, and `extra` on top.
    pub fn alttextlab_config(&self, url: &str, extra: &[(&str, &str)]) -> Config {
        let mut vars = vec![
            ("ALT_TEXT_PROVIDER", "alttextlab"),
            ("ALT_TEXT_API_KEY", API_KEY),
            ("ALT_TEXT_API_URL", url),
        ];
        vars.extend_from_slice(extra);
        self.config(&vars)
    }

    /// The function's handler with S3 and DynamoDB reached at `endpoint` (a fault proxy),
    /// with the SDK retry settings of the deployed function.
    pub async fn handler_via(&self, endpoint: &str, config: &Config) -> AppHandler {
        let sdk = sdk_config(endpoint).await;
        app::build_with(
            config,
            S3Store::new(app::clients::s3_client(&sdk, true)),
            DynamoRecords::new(app::clients::dynamodb_client(&sdk), &self.table),
            Services::http(provider_http()),
        )
    }

    /// Runs `s3-alt-text ARGS` against this stack, AltTextLab (after the embedded alt text)
    /// being the fake at `provider_url`.
    pub fn command(&self, provider_url: &str, args: &[&str]) -> std::process::Output {
        self.command_with(provider_url, &[], args)
    }

    /// The same, with `vars` set too.
    pub fn command_with(
        &self,
        provider_url: &str,
        vars: &[(&str, &str)],
        args: &[&str],
    ) -> std::process::Output {
        std::process::Command::new(binary())
            .env_clear()
            .envs(self.aws_env())
            .env("ALT_TEXT_API_KEY", API_KEY)
            .env("ALT_TEXT_API_URL", provider_url)
            .envs(vars.iter().copied())
            .args(args)
            .output()
            .unwrap()
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
    /// and returns the ETag S3 gave each, by key.
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

/// A command's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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
