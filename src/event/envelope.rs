//! Invocation shapes: recognises, by structure, how the object events arrived — a direct S3
//! notification, SNS, SQS (also around SNS), EventBridge, or an S3 Batch Operations job —
//! and unwraps them, so the handler can answer each shape the way its caller expects.

use aws_lambda_events::sns::SnsRecord;
use aws_lambda_events::sqs::SqsMessage as SqsRecord;
use serde_json::Value;

use super::batch_job::{self, BatchJob};
use super::{Item, RecordError, UnrecognisedEvent, eventbridge, s3};

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

/// Recognises and unwraps an invocation payload.
pub fn parse(payload: &Value) -> Result<Invocation, UnrecognisedEvent> {
    if payload.get("invocationSchemaVersion").is_some() && payload.get("tasks").is_some() {
        return batch_job::parse(payload).map(Invocation::BatchJob);
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
            _ => Invocation::Async(s3::s3_records(records)),
        });
    }
    if is_test_event(payload) {
        return Ok(Invocation::Async(Vec::new()));
    }
    if eventbridge::is_eventbridge(payload) {
        return Ok(Invocation::Async(vec![eventbridge::eventbridge(payload)]));
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
        return Ok(s3::s3_records(records));
    }
    if eventbridge::is_eventbridge(&value) {
        return Ok(vec![eventbridge::eventbridge(&value)]);
    }
    Err(malformed(format!(
        "the message is not an S3 notification: {}",
        describe(&value)
    )))
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
