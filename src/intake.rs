//! Invocation shapes: recognises, by structure, how the object events arrived — a direct S3
//! notification, SNS, SQS (also around SNS), EventBridge, or an S3 Batch Operations job —
//! and unwraps them, so the handler can answer each shape the way its caller expects.
//!
//! Pure parsing, no I/O.

use std::collections::HashMap;

use aws_lambda_events::sns::SnsRecord;
use aws_lambda_events::sqs::SqsMessage as SqsRecord;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::event::{self, Action, ObjectEvent, RecordError};

/// One object event, or why its record cannot be used.
pub type Item = Result<ObjectEvent, RecordError>;

/// What an invocation carries.
#[derive(Debug)]
pub enum Invocation {
    /// Asynchronous deliveries: a direct S3 notification, SNS, EventBridge. Empty for the
    /// `s3:TestEvent`.
    Async(Vec<Item>),
    /// An SQS batch, message by message.
    Sqs(Vec<SqsMessage>),
    /// An S3 Batch Operations job (schema 1.0 or 2.0).
    BatchJob(BatchJob),
}

/// One SQS message: the object events in its body, or why the body is unreadable.
#[derive(Debug)]
pub struct SqsMessage {
    pub message_id: String,
    pub items: Result<Vec<Item>, RecordError>,
}

/// An S3 Batch Operations invocation.
#[derive(Debug)]
pub struct BatchJob {
    pub schema_version: String,
    pub invocation_id: String,
    pub job_id: Option<String>,
    pub user_arguments: HashMap<String, String>,
    pub tasks: Vec<BatchTask>,
}

/// One task of a Batch Operations job.
#[derive(Debug)]
pub struct BatchTask {
    pub task_id: String,
    pub item: Item,
}

/// A payload of no shape this function handles. Retrying will not help.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "unrecognised event: expected an S3 notification (direct, via SNS or SQS), an EventBridge event from aws.s3 or an S3 Batch Operations job, got {0}"
)]
pub struct UnrecognisedEvent(pub String);

/// Recognises and unwraps an invocation payload.
pub fn parse(payload: &Value) -> Result<Invocation, UnrecognisedEvent> {
    if payload.get("invocationSchemaVersion").is_some() && payload.get("tasks").is_some() {
        return batch_job(payload).map(Invocation::BatchJob);
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let source = records.first().and_then(|r| {
            r.get("eventSource")
                .or_else(|| r.get("EventSource"))
                .and_then(Value::as_str)
        });
        return Ok(match source {
            Some("aws:sqs") => Invocation::Sqs(records.iter().map(sqs_message).collect()),
            Some("aws:sns") => Invocation::Async(
                records
                    .iter()
                    .enumerate()
                    .flat_map(|(index, r)| sns_record(index, r))
                    .collect(),
            ),
            _ => Invocation::Async(event::s3_records(records)),
        });
    }
    if is_test_event(payload) {
        return Ok(Invocation::Async(Vec::new()));
    }
    if event::is_eventbridge(payload) {
        return Ok(Invocation::Async(vec![event::eventbridge(payload)]));
    }
    Err(UnrecognisedEvent(describe(payload)))
}

fn is_test_event(payload: &Value) -> bool {
    payload.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

fn sqs_message(record: &Value) -> SqsMessage {
    let parsed: Result<SqsRecord, _> = serde_json::from_value(record.clone());
    let message_id = parsed
        .as_ref()
        .ok()
        .and_then(|m| m.message_id.clone())
        .or_else(|| {
            record
                .get("messageId")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_default();
    let items = match parsed {
        Ok(m) => message(m.body.as_deref().unwrap_or_default()),
        Err(e) => Err(RecordError::Malformed {
            index: 0,
            reason: format!("SQS record: {e}"),
        }),
    };
    SqsMessage { message_id, items }
}

fn sns_record(index: usize, record: &Value) -> Vec<Item> {
    let parsed: Result<SnsRecord, _> = serde_json::from_value(record.clone());
    let result = match parsed {
        Ok(r) => message(&r.sns.message),
        Err(e) => Err(RecordError::Malformed {
            index,
            reason: format!("SNS record: {e}"),
        }),
    };
    result.unwrap_or_else(|e| vec![Err(e)])
}

/// The object events in a message body delivered by SNS or SQS: an S3 notification, the
/// TestEvent, an EventBridge event, or an SNS notification around one of those.
pub fn message(body: &str) -> Result<Vec<Item>, RecordError> {
    let malformed = |reason: String| RecordError::Malformed { index: 0, reason };
    let value: Value = serde_json::from_str(body)
        .map_err(|e| malformed(format!("the message is not JSON: {e}")))?;
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let inner = value
            .get("Message")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("the SNS notification has no Message".into()))?;
        return message(inner);
    }
    if is_test_event(&value) {
        return Ok(Vec::new());
    }
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        return Ok(event::s3_records(records));
    }
    if event::is_eventbridge(&value) {
        return Ok(vec![event::eventbridge(&value)]);
    }
    Err(malformed(format!(
        "the message is not an S3 notification: {}",
        describe(&value)
    )))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobPayload {
    invocation_schema_version: String,
    invocation_id: String,
    #[serde(default)]
    job: JobInfo,
    tasks: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JobInfo {
    id: Option<String>,
    #[serde(default)]
    user_arguments: Option<HashMap<String, String>>,
}

/// A task: schema 1.0 names the bucket by ARN, 2.0 by name.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskPayload {
    s3_key: String,
    s3_version_id: Option<String>,
    s3_bucket_arn: Option<String>,
    s3_bucket: Option<String>,
}

fn batch_job(payload: &Value) -> Result<BatchJob, UnrecognisedEvent> {
    let job: JobPayload = serde_json::from_value(payload.clone()).map_err(|e| {
        UnrecognisedEvent(format!(
            "an S3 Batch Operations job that does not parse: {e}"
        ))
    })?;
    let job_name = format!("BatchOperations:{}", job.job.id.as_deref().unwrap_or("job"));
    let tasks = job
        .tasks
        .iter()
        .enumerate()
        .filter_map(|(index, task)| {
            let task_id = task.get("taskId")?.as_str()?.to_string();
            Some(BatchTask {
                item: batch_task(index, task, &job_name),
                task_id,
            })
        })
        .collect();
    Ok(BatchJob {
        schema_version: job.invocation_schema_version,
        invocation_id: job.invocation_id,
        job_id: job.job.id,
        user_arguments: job.job.user_arguments.unwrap_or_default(),
        tasks,
    })
}

fn batch_task(index: usize, task: &Value, job_name: &str) -> Item {
    let malformed = |reason: String| RecordError::Malformed { index, reason };
    let task: TaskPayload =
        serde_json::from_value(task.clone()).map_err(|e| malformed(e.to_string()))?;
    let bucket = task
        .s3_bucket
        .or_else(|| {
            task.s3_bucket_arn
                .as_deref()
                .and_then(|arn| arn.rsplit(':').next())
                .map(String::from)
        })
        .filter(|b| !b.is_empty())
        .ok_or_else(|| malformed("the task names no bucket (s3Bucket or s3BucketArn)".into()))?;
    Ok(ObjectEvent {
        action: Action::Created,
        bucket,
        key: event::decode(index, &task.s3_key)?,
        version_id: event::non_null(task.s3_version_id),
        etag: None,
        size: None,
        sequencer: None,
        event_name: job_name.to_string(),
    })
}

/// A short description of an unrecognised payload: its type or top-level keys.
fn describe(payload: &Value) -> String {
    match payload {
        Value::Object(map) if map.is_empty() => "an empty object".into(),
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
            format!("an object with keys [{}]", keys.join(", "))
        }
        Value::Array(_) => "an array".into(),
        Value::String(_) => "a string".into(),
        Value::Number(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Null => "null".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s3_notification(key: &str) -> Value {
        json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
            "eventTime": "2026-11-20T10:15:30.123Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.7"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "alt-text",
                   "bucket": {"name": "photos", "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": "arn:aws:s3:::photos"},
                   "object": {"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}}
        }]})
    }

    fn sns_envelope(message: &Value) -> Value {
        json!({
            "Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:uploads", "Subject": "Amazon S3 Notification",
            "Message": message.to_string(), "Timestamp": "2026-11-20T10:15:31.000Z",
            "SignatureVersion": "1", "Signature": "EXAMPLE", "SigningCertURL": "https://sns.example/cert.pem",
            "UnsubscribeURL": "https://sns.example/unsubscribe"
        })
    }

    fn sqs_record(id: &str, body: &str) -> Value {
        json!({
            "messageId": id, "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a", "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795363853083", "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1795363853090"},
            "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:uploads", "awsRegion": "eu-west-1"
        })
    }

    fn keys(items: &[Item]) -> Vec<&str> {
        items
            .iter()
            .map(|i| i.as_ref().unwrap().key.as_str())
            .collect()
    }

    #[test]
    fn direct_notifications_and_the_test_event_are_async() {
        let Invocation::Async(items) = parse(&s3_notification("a+b.jpg")).unwrap() else {
            panic!()
        };
        assert_eq!(keys(&items), ["a b.jpg"]);
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "photos"});
        assert!(matches!(parse(&test).unwrap(), Invocation::Async(items) if items.is_empty()));
    }

    #[test]
    fn sqs_batches_keep_their_message_ids() {
        let raw = s3_notification("raw.jpg").to_string();
        let via_sns = sns_envelope(&s3_notification("via+sns.jpg")).to_string();
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent"}).to_string();
        let payload = json!({"Records": [
            sqs_record("m1", &raw), sqs_record("m2", &via_sns), sqs_record("m3", "{not json"), sqs_record("m4", &test),
        ]});
        let Invocation::Sqs(messages) = parse(&payload).unwrap() else {
            panic!()
        };
        let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["m1", "m2", "m3", "m4"]);
        assert_eq!(keys(messages[0].items.as_ref().unwrap()), ["raw.jpg"]);
        assert_eq!(keys(messages[1].items.as_ref().unwrap()), ["via sns.jpg"]);
        assert!(
            matches!(&messages[2].items, Err(RecordError::Malformed { reason, .. }) if reason.contains("not JSON"))
        );
        assert!(messages[3].items.as_ref().unwrap().is_empty());
    }

    #[test]
    fn sns_notifications_are_unwrapped() {
        let payload = json!({"Records": [{
            "EventSource": "aws:sns", "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:uploads:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
            "Sns": {
                "Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:eu-west-1:123456789012:uploads", "Subject": "Amazon S3 Notification",
                "Message": s3_notification("sns.jpg").to_string(), "Timestamp": "2026-11-20T10:15:31.000Z",
                "SignatureVersion": "1", "Signature": "EXAMPLE", "SigningCertUrl": "https://sns.example/cert.pem",
                "UnsubscribeUrl": "https://sns.example/unsubscribe", "MessageAttributes": {}
            }
        }]});
        let Invocation::Async(items) = parse(&payload).unwrap() else {
            panic!()
        };
        assert_eq!(keys(&items), ["sns.jpg"]);
    }

    #[test]
    fn batch_jobs_of_both_schemas() {
        let v1 = json!({
            "invocationSchemaVersion": "1.0", "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
            "job": {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"},
            "tasks": [{"taskId": "dGFza2lkZ29lc2hlcmUK", "s3Key": "old+photos/caf%C3%A9.jpg", "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::photos"}]
        });
        let Invocation::BatchJob(job) = parse(&v1).unwrap() else {
            panic!()
        };
        assert_eq!(job.schema_version, "1.0");
        assert_eq!(job.tasks[0].task_id, "dGFza2lkZ29lc2hlcmUK");
        let object = job.tasks[0].item.as_ref().unwrap();
        assert_eq!(
            (object.bucket.as_str(), object.key.as_str()),
            ("photos", "old photos/café.jpg")
        );

        let v2 = json!({
            "invocationSchemaVersion": "2.0", "invocationId": "Jr3s8KZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
            "job": {"id": "ry77cd60-61f6-4a2b-8a21-d07600c874gf", "userArguments": {"note": "backfill 2019"}},
            "tasks": [
                {"taskId": "t1", "s3Bucket": "photos", "s3Key": "a.jpg", "s3VersionId": "v1"},
                {"taskId": "t2", "s3Key": "b.jpg"}
            ]
        });
        let Invocation::BatchJob(job) = parse(&v2).unwrap() else {
            panic!()
        };
        assert_eq!(job.user_arguments["note"], "backfill 2019");
        assert_eq!(
            job.tasks[0].item.as_ref().unwrap().version_id.as_deref(),
            Some("v1")
        );
        assert!(
            matches!(&job.tasks[1].item, Err(RecordError::Malformed { reason, .. }) if reason.contains("no bucket"))
        );
    }

    #[test]
    fn unrecognised_payloads_say_what_they_got() {
        let err =
            parse(&json!({"detail-type": "Object Created", "source": "aws.ec2"})).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("got an object with keys [detail-type, source]"),
            "{err}"
        );
        assert!(parse(&json!([1, 2])).unwrap_err().0.contains("an array"));
        assert!(parse(&json!({})).unwrap_err().0.contains("empty object"));
        assert!(
            parse(&json!({"invocationSchemaVersion": "1.0", "tasks": 3}))
                .unwrap_err()
                .0
                .contains("Batch Operations")
        );
    }
}
