//! The soak's driver: the stack, the fakes and the function's containers; one operation at
//! a time, its deliveries, its faults, and the check after it.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};

use super::model::{Key, LANGS, Obj};
use crate::support::proxy::FaultProxy;
use crate::support::review::ReviewPage;
use crate::support::runtime::Container;
use crate::support::services::{FakeService, Wire};
use crate::support::{API_KEY, Stack, encode_key, local_stack, percent_encode, sample};

const KEYS: [&str; 3] = ["k0.jpg", "k1.jpg", "k2.jpg"];
const IMAGES: [&str; 4] = ["coffee.jpg", "cat.jpg", "rocket.webp", "astronaut.png"];
const TYPES: [&str; 4] = ["image/jpeg", "image/jpeg", "image/webp", "image/png"];

/// A small deterministic generator (SplitMix64): the same seed, the same run.
pub struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What a run did.
#[derive(Default)]
pub struct Figures {
    pub ops: BTreeMap<&'static str, usize>,
    pub faults: BTreeMap<&'static str, usize>,
    pub deliveries: usize,
    pub checks: usize,
    pub requests: usize,
    pub minimum: usize,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "operations: {:?}", self.ops)?;
        writeln!(f, "faults injected: {:?}", self.faults)?;
        writeln!(f, "deliveries (redeliveries included): {}", self.deliveries)?;
        writeln!(f, "invariant checks: {}, violations: 0", self.checks)?;
        write!(
            f,
            "provider requests: {} (the model's minimum without faults: {})",
            self.requests, self.minimum
        )
    }
}

pub struct Soak {
    rng: Rng,
    stack: Stack,
    fake: FakeService,
    proxy: FaultProxy,
    containers: Vec<Container>,
    env: Vec<(String, String)>,
    images: Vec<Vec<u8>>,
    keys: Vec<Key>,
    /// Each key's events so far, oldest first.
    events: Vec<Vec<Value>>,
    sequencer: u64,
    review: Option<ReviewPage>,
    pub figures: Figures,
}

impl Soak {
    pub async fn start(seed: u64) -> Soak {
        let stack = Stack::new("soak").await;
        let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
        let proxy = FaultProxy::start(local_stack()).await;
        let mut env: Vec<(String, String)> = stack
            .aws_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        for (k, v) in env.iter_mut() {
            if k == "AWS_ENDPOINT_URL_S3" || k == "AWS_ENDPOINT_URL_DYNAMODB" {
                *v = proxy.endpoint.clone();
            }
        }
        env.extend(
            [
                ("ALT_TEXT_PROVIDER", "embedded,alttextlab"),
                ("ALT_TEXT_API_KEY", API_KEY),
                ("ALT_TEXT_API_URL", fake.url.as_str()),
                ("ALT_TEXT_LANGS", "en,de"),
                ("ALT_TEXT_PAUSE_SECS", "1"),
                (
                    "RUST_LOG",
                    if std::env::var_os("SOAK_LOG").is_some() {
                        "info"
                    } else {
                        "warn"
                    },
                ),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let containers = vec![Container::start(&env).await, Container::start(&env).await];
        Soak {
            rng: Rng(seed),
            stack,
            fake,
            proxy,
            containers,
            env,
            images: IMAGES.iter().map(|i| sample(i)).collect(),
            keys: vec![Key::default(); KEYS.len()],
            events: vec![Vec::new(); KEYS.len()],
            sequencer: 0x0055_AED6_DCD9_0000,
            review: None,
            figures: Figures::default(),
        }
    }

    /// One operation, its deliveries, and the check of every key after it.
    pub async fn step(&mut self, n: usize) -> Result<(), String> {
        let k = self.rng.below(KEYS.len() as u64) as usize;
        let exists = self.keys[k].obj.is_some();
        let roll = self.rng.below(100);
        let op = match roll {
            _ if !exists => "upload",
            0..30 => "upload",
            30..35 => "delete",
            35..50 => "set",
            50..56 => "clear",
            56..64 => "import",
            64..71 => "review",
            71..81 => "redeliver",
            81..87 => "at once",
            87..93 => "out of order",
            _ => "late",
        };
        *self.figures.ops.entry(op).or_default() += 1;
        let started = std::time::Instant::now();
        match op {
            "upload" => self.upload(k).await,
            "delete" => self.delete(k).await,
            "set" | "import" | "review" => self.edit(k, op).await,
            "clear" => self.clear(k).await,
            "redeliver" => self.redeliver(k, false).await,
            "at once" => self.redeliver(k, true).await,
            "out of order" => self.out_of_order(k).await,
            _ => self.late(k).await,
        }
        if std::env::var_os("SOAK_TRACE").is_some() {
            let took = started.elapsed().as_secs_f64();
            eprintln!(
                "op {n} {op} on {} ({took:.1} s): {:?}",
                KEYS[k], self.keys[k]
            );
        }
        self.check_all().await
    }

    pub fn finish(mut self) -> Figures {
        let calls = self.fake.caption_calls();
        self.figures.requests = calls.len();
        self.figures.minimum = self.keys.iter().map(|k| k.minimum).sum();
        for c in &mut self.containers {
            c.kill();
        }
        self.figures
    }

    async fn upload(&mut self, k: usize) {
        let same = self.keys[k].obj.as_ref().map(|o| o.image);
        let image = match same {
            Some(i) if self.rng.chance(35) => i,
            _ => self.rng.below(IMAGES.len() as u64) as usize,
        };
        let mut tags: Vec<(String, String)> = Vec::new();
        let with_tagging = self.rng.chance(70);
        if with_tagging {
            for (t, v) in [("owner", "bob"), ("team", "web")] {
                if self.rng.chance(50) {
                    tags.push((t.into(), v.into()));
                }
            }
        }
        let person = (with_tagging && self.rng.chance(20))
            .then(|| format!("Person upload words {}", self.rng.below(1000)));
        let decorative = self.rng.chance(8);
        let context = self.rng.chance(20);
        let mut request = self
            .stack
            .s3
            .put_object()
            .bucket(&self.stack.bucket)
            .key(KEYS[k])
            .content_type(TYPES[image])
            .body(ByteStream::from(self.images[image].clone()));
        let mut all = tags.clone();
        if let Some(words) = &person {
            all.push(("alt-text".into(), words.clone()));
        }
        if !all.is_empty() {
            let encoded: Vec<String> = all
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k, false), percent_encode(v, false)))
                .collect();
            request = request.tagging(encoded.join("&"));
        }
        if decorative {
            request = request.metadata("alt-decorative", "true");
        }
        if context {
            request = request.metadata("alt-context", "Product page of the shop");
        }
        let etag = request.send().await.expect("upload");
        let etag = etag
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        let key = &mut self.keys[k];
        let new_round = key.new_bytes(Obj {
            image,
            etag: etag.clone(),
            user_tags: tags,
            decorative,
        });
        if let Some(words) = person {
            key.uploaded_words(LANGS[0], words, new_round);
        }
        let event = self.s3_event(k, "ObjectCreated:Put", Some(&etag), image);
        self.events[k].push(event.clone());
        self.deliver(k, vec![event]).await;
    }

    async fn delete(&mut self, k: usize) {
        self.stack
            .s3
            .delete_object()
            .bucket(&self.stack.bucket)
            .key(KEYS[k])
            .send()
            .await
            .expect("delete");
        self.keys[k] = Key {
            allowed: std::mem::take(&mut self.keys[k].allowed),
            minimum: self.keys[k].minimum,
            ..Key::default()
        };
        let event = self.s3_event(k, "ObjectRemoved:Delete", None, 0);
        self.events[k].push(event.clone());
        self.deliver(k, vec![event]).await;
    }

    fn s3_event(&mut self, k: usize, name: &str, etag: Option<&str>, image: usize) -> Value {
        self.sequencer += 1;
        let mut object =
            json!({"key": encode_key(KEYS[k]), "sequencer": format!("{:018X}", self.sequencer)});
        if let Some(etag) = etag {
            object["eTag"] = json!(etag);
            object["size"] = json!(self.images[image].len());
        }
        json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-07T10:00:00.000Z", "eventName": name,
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.24"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "alt-text",
                   "bucket": {"name": self.stack.bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{}", self.stack.bucket)},
                   "object": object}
        }]})
    }
}

mod deliver;
mod edits;
