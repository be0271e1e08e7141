//! Deliveries: an SQS batch around the S3 events, taken by a container; faults armed at
//! random for the first try; then, as SQS redelivers, again until nothing is left to retry.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use super::super::model;
use super::{KEYS, Soak};
use crate::support::proxy::{dynamodb_throttled, s3_slow_down};
use crate::support::runtime::Container;
use crate::support::services::Reply;

impl Soak {
    /// Delivers `events` of key `k`, maybe with a fault, until they are done.
    pub(super) async fn deliver(&mut self, k: usize, events: Vec<Value>) {
        // A delivery captions a cleared language again.
        self.keys[k].cleared.clear();
        let fault = self.rng.chance(30).then(|| self.arm_fault());
        if let Some(fault) = fault {
            if std::env::var_os("SOAK_TRACE").is_some() {
                eprintln!("fault: {fault}");
            }
            *self.figures.faults.entry(fault).or_default() += 1;
            self.keys[k].fault();
        }
        let kill = fault == Some("kill");
        let mut done = self.invoke(&events, kill).await;
        self.heal();
        for _ in 0..60 {
            if done {
                return;
            }
            // SQS redelivers once the message's visibility timeout is over, by when the
            // claim of an invocation that ended has lapsed.
            self.lapse_claims().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            done = self.invoke(&events, false).await;
        }
        panic!("{}: still not done after 60 deliveries", KEYS[k]);
    }

    /// Delivers the newest event of `k` again: twice in a row, or twice at once.
    pub(super) async fn redeliver(&mut self, k: usize, at_once: bool) {
        let Some(event) = self.events[k].last().cloned() else {
            return;
        };
        if at_once {
            let both = batch(std::slice::from_ref(&event));
            let (a, b) = (&self.containers[0], &self.containers[1]);
            let (ia, ib) = (a.runtime.invoke(both.clone()), b.runtime.invoke(both));
            let wait = Duration::from_secs(20);
            let _ = tokio::join!(a.runtime.result(&ia, wait), b.runtime.result(&ib, wait));
        }
        self.deliver(k, vec![event]).await;
    }

    /// An older event of `k` delivered after a newer one.
    pub(super) async fn out_of_order(&mut self, k: usize) {
        let n = self.events[k].len();
        if n < 2 {
            return self.redeliver(k, false).await;
        }
        let old = self.events[k][self.rng.below(n as u64 - 1) as usize].clone();
        let newest = self.events[k][n - 1].clone();
        self.deliver(k, vec![old, newest]).await;
    }

    /// The newest event of `k` held back while another key is uploaded, then delivered.
    pub(super) async fn late(&mut self, k: usize) {
        let other = (k + 1) % KEYS.len();
        if self.keys[other].obj.is_none() {
            return self.redeliver(k, false).await;
        }
        let held = self.events[k].last().cloned();
        self.redeliver(other, false).await;
        if let Some(event) = held {
            self.deliver(k, vec![event]).await;
        }
    }

    /// One invocation of an SQS batch of `events`; whether nothing is left to retry.
    async fn invoke(&mut self, events: &[Value], kill: bool) -> bool {
        self.figures.deliveries += 1;
        let id = self.containers[0].runtime.invoke(batch(events));
        if kill {
            tokio::time::sleep(Duration::from_millis(self.rng.below(400))).await;
            for c in &mut self.containers {
                c.kill();
            }
            self.containers = vec![
                Container::start(&self.env).await,
                Container::start(&self.env).await,
            ];
            return false;
        }
        let answer = self.containers[0]
            .runtime
            .result(&id, Duration::from_secs(30))
            .await;
        if std::env::var_os("SOAK_LOG").is_some() {
            eprintln!("answer: {answer:?}");
        }
        match answer {
            Some(answer) => answer["batchItemFailures"]
                .as_array()
                .is_some_and(|f| f.is_empty()),
            None => false,
        }
    }

    /// The claims an invocation that ended (killed, or unable to write) left lapse now:
    /// the wait for its deadline and `CLAIM_GRACE_SECS` is skipped, not its outcome. The
    /// lapse waited for in real time is `faults.rs`'s test; a live claim, `at once`'s.
    async fn lapse_claims(&self) {
        for key in KEYS {
            let _ = self
                .stack
                .dynamodb
                .update_item()
                .table_name(&self.stack.table)
                .key("pk", AttributeValue::S(self.stack.bucket.clone()))
                .key("sk", AttributeValue::S(key.into()))
                .update_expression("SET claim_until = :lapsed")
                .condition_expression("attribute_exists(claim_until)")
                .expression_attribute_values(":lapsed", AttributeValue::N("1".into()))
                .send()
                .await;
        }
    }

    /// Arms one fault for the next delivery; its name.
    fn arm_fault(&mut self) -> &'static str {
        let fault = match self.rng.below(100) {
            0..12 => "provider 500",
            12..20 => "provider out of credits",
            20..26 => "provider key refused",
            26..30 => "provider hang",
            30..42 => "S3 PutObjectTagging",
            42..52 => "S3 GetObjectTagging",
            52..60 => "S3 GetObject",
            60..72 => "DynamoDB PutItem",
            72..80 => "DynamoDB UpdateItem",
            _ => "kill",
        };
        let error = |status, body| Reply::Error(status, body, None);
        match fault {
            "provider 500" => self
                .fake
                .push(error(500, json!({"message": "upstream failed"}))),
            "provider out of credits" => self.fake.push(error(
                403,
                json!({"key": "NOT_ENOUGH_FUNDS", "message": "Not enough funds"}),
            )),
            "provider key refused" => self
                .fake
                .push(error(401, json!({"message": "Invalid API key"}))),
            "provider hang" => self.fake.push(Reply::Hang),
            "S3 PutObjectTagging" | "S3 GetObjectTagging" | "S3 GetObject" => {
                self.proxy.fail(&fault[3..], 8, s3_slow_down());
            }
            "DynamoDB PutItem" | "DynamoDB UpdateItem" => {
                self.proxy.fail(&fault[9..], 8, dynamodb_throttled());
            }
            _ => {}
        }
        fault
    }

    /// Every fault disarmed.
    pub(super) fn heal(&mut self) {
        self.proxy.heal();
        self.fake.clear_script();
    }

    /// Each key's object, tags and record against the model.
    pub(super) async fn check_all(&mut self) -> Result<(), String> {
        for (k, name) in KEYS.iter().enumerate() {
            let key = &self.keys[k];
            let tags = match key.obj {
                Some(_) => Some(self.stack.tags(name).await),
                None => None,
            };
            let record = self.stack.record(name).await;
            model::check(name, key, &self.images, tags.as_deref(), record.as_ref())?;
            self.figures.checks += 1;
            let calls = self.fake.caption_calls();
            for ((image, lang), allowed) in &key.allowed {
                let made = calls
                    .iter()
                    .filter(|c| {
                        c.image_url
                            .as_deref()
                            .is_some_and(|u| u.contains(&format!("/{name}?")))
                    })
                    .filter(|c| c.image == self.images[*image] && c.langs.iter().any(|l| l == lang))
                    .count();
                if made > *allowed {
                    return Err(format!(
                        "{name} [{lang}]: {made} provider requests for image {image}, at most {allowed} allowed"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An SQS batch of one message per event.
fn batch(events: &[Value]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "messageId": format!("m{i}"), "receiptHandle": "r", "body": e.to_string(),
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:alt-text", "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({"Records": records})
}
