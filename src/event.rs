//! Event intake: turns an S3 event notification, or an EventBridge `Object Created` event
//! from `aws.s3`, into the objects to caption.
//!
//! Pure parsing, no I/O. Each record is parsed on its own so that one malformed record
//! never hides the others; object keys are form-URL-decoded as S3 sends them.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3EventRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// One S3 object named by an event record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub bucket: String,
    /// The decoded object key.
    pub key: String,
    pub version_id: Option<String>,
    /// ETag as the event reports it, without quotes.
    pub etag: Option<String>,
    pub size: Option<u64>,
    pub sequencer: Option<String>,
    pub event_name: String,
}

/// What an invocation's payload asks for.
#[derive(Debug)]
pub enum Intake {
    /// `s3:TestEvent`, sent by S3 when a notification is configured: nothing to do.
    TestEvent,
    /// The records of an S3 notification, each parsed on its own.
    Records(Vec<Result<ObjectEvent, RecordError>>),
}

/// A payload that is not an S3 notification at all.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "unrecognised event: expected an S3 notification with Records, an s3:TestEvent or an EventBridge event from aws.s3, got {0}"
)]
pub struct UnrecognisedEvent(pub String);

/// A record that cannot be processed. Permanent: the same record will never parse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record {index} is malformed: {reason}")]
    Malformed { index: usize, reason: String },
    #[error("record {index} has an undecodable key {raw:?}: {reason}")]
    BadKey {
        index: usize,
        raw: String,
        reason: String,
    },
    #[error("record {index} is a {event_name} event, not an object creation")]
    NotCreated { index: usize, event_name: String },
}

/// Parses an invocation payload.
pub fn parse(payload: &Value) -> Result<Intake, UnrecognisedEvent> {
    if payload.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Intake::TestEvent);
    }
    if payload.get("source").and_then(Value::as_str) == Some("aws.s3")
        && payload.get("detail-type").is_some()
    {
        return Ok(Intake::Records(vec![parse_eventbridge(payload)]));
    }
    let Some(records) = payload.get("Records").and_then(Value::as_array) else {
        return Err(UnrecognisedEvent(describe(payload)));
    };
    Ok(Intake::Records(
        records
            .iter()
            .enumerate()
            .map(|(index, record)| parse_record(index, record))
            .collect(),
    ))
}

fn parse_record(index: usize, value: &Value) -> Result<ObjectEvent, RecordError> {
    let malformed = |reason: String| RecordError::Malformed { index, reason };
    let record: S3EventRecord =
        serde_json::from_value(value.clone()).map_err(|e| malformed(e.to_string()))?;
    let event_name = record.event_name.clone().unwrap_or_default();
    if !event_name.starts_with("ObjectCreated:") {
        return Err(RecordError::NotCreated { index, event_name });
    }
    let bucket = record
        .s3
        .bucket
        .name
        .filter(|b| !b.is_empty())
        .ok_or_else(|| malformed("s3.bucket.name is missing".into()))?;
    let raw_key = record
        .s3
        .object
        .key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| malformed("s3.object.key is missing".into()))?;
    let key = decode_key(&raw_key).map_err(|reason| RecordError::BadKey {
        index,
        raw: raw_key.clone(),
        reason,
    })?;
    Ok(ObjectEvent {
        bucket,
        key,
        version_id: record
            .s3
            .object
            .version_id
            .filter(|v| !v.is_empty() && v != "null"),
        etag: record
            .s3
            .object
            .e_tag
            .map(|e| e.trim_matches('"').to_string())
            .filter(|e| !e.is_empty()),
        size: record.s3.object.size.and_then(|s| u64::try_from(s).ok()),
        sequencer: record.s3.object.sequencer,
        event_name,
    })
}

/// The `detail` of an EventBridge event from S3.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
struct S3Detail {
    bucket: DetailBucket,
    object: DetailObject,
}

#[derive(Debug, Deserialize, Serialize)]
struct DetailBucket {
    name: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
struct DetailObject {
    key: String,
    size: Option<u64>,
    etag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

/// An EventBridge event from S3 (the bucket has EventBridge notifications turned on).
/// Its key is URL-encoded like a notification's.
fn parse_eventbridge(payload: &Value) -> Result<ObjectEvent, RecordError> {
    let index = 0;
    let event: EventBridgeEvent<S3Detail> =
        serde_json::from_value(payload.clone()).map_err(|e| RecordError::Malformed {
            index,
            reason: e.to_string(),
        })?;
    if event.detail_type != "Object Created" {
        return Err(RecordError::NotCreated {
            index,
            event_name: event.detail_type,
        });
    }
    let object = event.detail.object;
    let key = decode_key(&object.key).map_err(|reason| RecordError::BadKey {
        index,
        raw: object.key.clone(),
        reason,
    })?;
    if event.detail.bucket.name.is_empty() || key.is_empty() {
        return Err(RecordError::Malformed {
            index,
            reason: "detail.bucket.name or detail.object.key is empty".into(),
        });
    }
    Ok(ObjectEvent {
        bucket: event.detail.bucket.name,
        key,
        version_id: object.version_id.filter(|v| !v.is_empty() && v != "null"),
        etag: object
            .etag
            .map(|e| e.trim_matches('"').to_string())
            .filter(|e| !e.is_empty()),
        size: object.size,
        sequencer: object.sequencer,
        event_name: format!("{}:{}", event.source, event.detail_type),
    })
}

/// Decodes an object key as S3 event notifications encode it (form-URL encoding):
/// `+` is a space and `%XX` are the bytes of UTF-8 text.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let with_spaces = raw.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&with_spaces).collect();
    if let Some(bad) = malformed_escape(raw) {
        return Err(format!("invalid percent escape at byte {bad}"));
    }
    String::from_utf8(bytes).map_err(|_| "percent escapes are not UTF-8".to_string())
}

/// Position of a `%` not followed by two hex digits (percent_decode passes those through).
fn malformed_escape(raw: &str) -> Option<usize> {
    let bytes = raw.as_bytes();
    bytes.iter().enumerate().find_map(|(i, &b)| {
        let ok = b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        (!ok).then_some(i)
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

    fn record(key: &str) -> Value {
        json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "eu-west-1",
            "eventTime": "2026-11-20T10:15:30.123Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.7"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "alt-text",
                "bucket": {"name": "photos", "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": "arn:aws:s3:::photos"},
                "object": {"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "versionId": "3HL4kqtJlcpXroDTDmJ", "sequencer": "0055AED6DCD90281E5"}
            }
        })
    }

    #[test]
    fn decodes_form_encoded_keys() {
        assert_eq!(decode_key("my+photo.jpg").unwrap(), "my photo.jpg");
        assert_eq!(decode_key("a%2Bb.jpg").unwrap(), "a+b.jpg");
        assert_eq!(decode_key("caf%C3%A9.jpg").unwrap(), "café.jpg");
        assert_eq!(
            decode_key("uploads/%C3%A9t%C3%A9/caf%C3%A9+cr%C3%A8me.jpg").unwrap(),
            "uploads/été/café crème.jpg"
        );
        assert_eq!(decode_key("100%25+real.png").unwrap(), "100% real.png");
        assert_eq!(decode_key("plain/key.webp").unwrap(), "plain/key.webp");
    }

    #[test]
    fn rejects_broken_escapes() {
        assert!(decode_key("bad%zzkey.jpg").is_err());
        assert!(decode_key("trailing%2").is_err());
        assert!(decode_key("latin1%E9.jpg").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn parses_a_put_record() {
        let payload = json!({"Records": [record("my+photo.jpg")]});
        let Intake::Records(records) = parse(&payload).unwrap() else {
            panic!("records expected")
        };
        let object = records[0].as_ref().unwrap();
        assert_eq!(object.bucket, "photos");
        assert_eq!(object.key, "my photo.jpg");
        assert_eq!(object.version_id.as_deref(), Some("3HL4kqtJlcpXroDTDmJ"));
        assert_eq!(
            object.etag.as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(object.size, Some(1024));
        assert_eq!(object.sequencer.as_deref(), Some("0055AED6DCD90281E5"));
    }

    #[test]
    fn test_event_is_recognised() {
        let payload = json!({
            "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-20T10:15:30.123Z",
            "Bucket": "photos", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
        });
        assert!(matches!(parse(&payload).unwrap(), Intake::TestEvent));
    }

    #[test]
    fn one_bad_record_does_not_hide_the_others() {
        let mut missing_key = record("x.jpg");
        missing_key["s3"]["object"]
            .as_object_mut()
            .unwrap()
            .remove("key");
        let mut removed = record("gone.jpg");
        removed["eventName"] = json!("ObjectRemoved:Delete");
        let payload = json!({"Records": [record("a.jpg"), {"eventName": 42}, missing_key, record("bad%zz"), removed, record("b.jpg")]});
        let Intake::Records(records) = parse(&payload).unwrap() else {
            panic!("records expected")
        };
        assert_eq!(records.len(), 6);
        assert_eq!(records[0].as_ref().unwrap().key, "a.jpg");
        assert!(matches!(
            records[1],
            Err(RecordError::Malformed { index: 1, .. })
        ));
        assert!(matches!(
            records[2],
            Err(RecordError::Malformed { index: 2, .. })
        ));
        assert!(matches!(
            records[3],
            Err(RecordError::BadKey { index: 3, .. })
        ));
        assert!(matches!(
            records[4],
            Err(RecordError::NotCreated { index: 4, .. })
        ));
        assert_eq!(records[5].as_ref().unwrap().key, "b.jpg");
    }

    #[test]
    fn unrecognised_payloads_say_what_they_got() {
        let err =
            parse(&json!({"detail-type": "Object Created", "source": "aws.ec2"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unrecognised event: expected an S3 notification with Records, an s3:TestEvent or an EventBridge event from aws.s3, got an object with keys [detail-type, source]"
        );
        assert!(parse(&json!([1, 2])).unwrap_err().0.contains("an array"));
        assert!(parse(&json!({})).unwrap_err().0.contains("empty object"));
    }

    fn eventbridge(detail_type: &str, key: &str) -> Value {
        json!({
            "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": detail_type,
            "source": "aws.s3", "account": "111122223333", "time": "2026-11-20T09:12:45Z", "region": "eu-west-1",
            "resources": ["arn:aws:s3:::photos"],
            "detail": {
                "version": "0", "bucket": {"name": "photos"},
                "object": {"key": key, "size": 65153, "etag": "433e34237ead87dc980bac0c87d30daf", "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", "sequencer": "617f08299329d189"},
                "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "source-ip-address": "1.2.3.4", "reason": "PutObject"
            }
        })
    }

    #[test]
    fn parses_an_eventbridge_object_created_event() {
        let Intake::Records(records) = parse(&eventbridge(
            "Object Created",
            "uploads/caf%C3%A9+cr%C3%A8me.jpg",
        ))
        .unwrap() else {
            panic!("records expected")
        };
        assert_eq!(
            records,
            vec![Ok(ObjectEvent {
                bucket: "photos".into(),
                key: "uploads/café crème.jpg".into(),
                version_id: Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e".into()),
                etag: Some("433e34237ead87dc980bac0c87d30daf".into()),
                size: Some(65153),
                sequencer: Some("617f08299329d189".into()),
                event_name: "aws.s3:Object Created".into(),
            })]
        );
    }

    #[test]
    fn other_eventbridge_events_are_not_creations() {
        let Intake::Records(records) = parse(&eventbridge("Object Deleted", "a.jpg")).unwrap()
        else {
            panic!()
        };
        assert!(
            matches!(&records[0], Err(RecordError::NotCreated { event_name, .. }) if event_name == "Object Deleted")
        );
        let mut broken = eventbridge("Object Created", "a.jpg");
        broken["detail"].as_object_mut().unwrap().remove("object");
        let Intake::Records(records) = parse(&broken).unwrap() else {
            panic!()
        };
        assert!(matches!(records[0], Err(RecordError::Malformed { .. })));
    }

    #[test]
    fn null_version_means_unversioned() {
        let mut r = record("a.jpg");
        r["s3"]["object"]["versionId"] = json!("null");
        let Intake::Records(records) = parse(&json!({"Records": [r]})).unwrap() else {
            panic!()
        };
        assert_eq!(records[0].as_ref().unwrap().version_id, None);
    }
}
