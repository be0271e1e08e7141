//! Object events: what S3 says happened to one object, read from an S3 notification record
//! or an EventBridge event from `aws.s3`.
//!
//! Pure parsing, no I/O. Each record is parsed on its own so that one malformed record
//! never hides the others; object keys are form-URL-decoded as S3 sends them.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::S3EventRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Removed,
}

/// One S3 object named by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub action: Action,
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
    #[error("record {index} is a {event_name} event, neither a creation nor a removal")]
    Ignored { index: usize, event_name: String },
}

impl RecordError {
    /// Whether the record is simply of no interest (as opposed to broken).
    pub fn is_ignored(&self) -> bool {
        matches!(self, RecordError::Ignored { .. })
    }
}

/// Parses the `Records` of an S3 event notification.
pub fn s3_records(records: &[Value]) -> Vec<Result<ObjectEvent, RecordError>> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| s3_record(index, record))
        .collect()
}

fn s3_record(index: usize, value: &Value) -> Result<ObjectEvent, RecordError> {
    let malformed = |reason: String| RecordError::Malformed { index, reason };
    let record: S3EventRecord =
        serde_json::from_value(value.clone()).map_err(|e| malformed(e.to_string()))?;
    let event_name = record.event_name.clone().unwrap_or_default();
    let action = if event_name.starts_with("ObjectCreated:") {
        Action::Created
    } else if event_name.starts_with("ObjectRemoved:") {
        Action::Removed
    } else {
        return Err(RecordError::Ignored { index, event_name });
    };
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
    let key = decode(index, &raw_key)?;
    Ok(ObjectEvent {
        action,
        bucket,
        key,
        version_id: non_null(record.s3.object.version_id),
        etag: unquote(record.s3.object.e_tag),
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
    /// For `Object Deleted`: `Permanently Deleted` or `Delete Marker Created`.
    deletion_type: Option<String>,
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

/// Whether `payload` is an EventBridge event from S3.
pub fn is_eventbridge(payload: &Value) -> bool {
    payload.get("source").and_then(Value::as_str) == Some("aws.s3")
        && payload.get("detail-type").is_some()
}

/// Parses an EventBridge event from S3 (the bucket has EventBridge notifications turned
/// on). Its key is URL-encoded like a notification's.
pub fn eventbridge(payload: &Value) -> Result<ObjectEvent, RecordError> {
    let index = 0;
    let event: EventBridgeEvent<S3Detail> =
        serde_json::from_value(payload.clone()).map_err(|e| RecordError::Malformed {
            index,
            reason: e.to_string(),
        })?;
    let action = match event.detail_type.as_str() {
        "Object Created" => Action::Created,
        "Object Deleted" => Action::Removed,
        _ => {
            return Err(RecordError::Ignored {
                index,
                event_name: event.detail_type,
            });
        }
    };
    let object = event.detail.object;
    let key = decode(index, &object.key)?;
    if event.detail.bucket.name.is_empty() || key.is_empty() {
        return Err(RecordError::Malformed {
            index,
            reason: "detail.bucket.name or detail.object.key is empty".into(),
        });
    }
    Ok(ObjectEvent {
        action,
        bucket: event.detail.bucket.name,
        key,
        version_id: non_null(object.version_id),
        etag: unquote(object.etag),
        size: object.size,
        sequencer: object.sequencer,
        event_name: match event.detail.deletion_type {
            Some(kind) => format!("{}:{}:{kind}", event.source, event.detail_type),
            None => format!("{}:{}", event.source, event.detail_type),
        },
    })
}

/// Orders two event sequencers as S3 documents it: the shorter is right-padded with zeros,
/// then they compare as (hexadecimal) strings.
pub fn sequencer_order(a: &str, b: &str) -> std::cmp::Ordering {
    let width = a.len().max(b.len());
    let pad = |s: &str| format!("{:0<width$}", s.to_ascii_uppercase());
    pad(a).cmp(&pad(b))
}

/// A sequencer as a fixed-width string that orders like [`sequencer_order`]: uppercase,
/// right-padded with zeros to 64 characters (S3 sequencers are far shorter). Stored in the
/// record so that a conditional write can compare sequencers.
pub fn sequencer_key(sequencer: &str) -> String {
    format!("{:0<64}", sequencer.to_ascii_uppercase())
}

/// Decodes the key of record `index`.
pub fn decode(index: usize, raw: &str) -> Result<String, RecordError> {
    decode_key(raw).map_err(|reason| RecordError::BadKey {
        index,
        raw: raw.to_string(),
        reason,
    })
}

/// A version id, unless absent or the `null` of an unversioned bucket.
pub fn non_null(version_id: Option<String>) -> Option<String> {
    version_id.filter(|v| !v.is_empty() && v != "null")
}

fn unquote(etag: Option<String>) -> Option<String> {
    etag.map(|e| e.trim_matches('"').to_string())
        .filter(|e| !e.is_empty())
}

/// Decodes an object key as S3 event notifications encode it (form-URL encoding):
/// `+` is a space and `%XX` are the bytes of UTF-8 text.
pub fn decode_key(raw: &str) -> Result<String, String> {
    if let Some(bad) = malformed_escape(raw) {
        return Err(format!("invalid percent escape at byte {bad}"));
    }
    let with_spaces = raw.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&with_spaces).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn record(name: &str, key: &str) -> Value {
        json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "eu-west-1",
            "eventTime": "2026-11-20T10:15:30.123Z",
            "eventName": name,
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
    fn parses_put_and_remove_records() {
        let records = s3_records(&[
            record("ObjectCreated:Put", "my+photo.jpg"),
            record("ObjectRemoved:DeleteMarkerCreated", "old.jpg"),
        ]);
        let object = records[0].as_ref().unwrap();
        assert_eq!(object.action, Action::Created);
        assert_eq!(object.bucket, "photos");
        assert_eq!(object.key, "my photo.jpg");
        assert_eq!(object.version_id.as_deref(), Some("3HL4kqtJlcpXroDTDmJ"));
        assert_eq!(
            object.etag.as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(object.size, Some(1024));
        assert_eq!(object.sequencer.as_deref(), Some("0055AED6DCD90281E5"));
        assert_eq!(records[1].as_ref().unwrap().action, Action::Removed);
    }

    #[test]
    fn one_bad_record_does_not_hide_the_others() {
        let mut missing_key = record("ObjectCreated:Put", "x.jpg");
        missing_key["s3"]["object"]
            .as_object_mut()
            .unwrap()
            .remove("key");
        let records = s3_records(&[
            record("ObjectCreated:Put", "a.jpg"),
            json!({"eventName": 42}),
            missing_key,
            record("ObjectCreated:Put", "bad%zz"),
            record("ObjectRestore:Completed", "cold.jpg"),
            record("ObjectCreated:Copy", "b.jpg"),
        ]);
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
        assert!(matches!(&records[4], Err(e) if e.is_ignored()));
        assert_eq!(records[5].as_ref().unwrap().key, "b.jpg");
    }

    pub(crate) fn eventbridge_event(detail_type: &str, key: &str) -> Value {
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
    fn parses_eventbridge_created_and_deleted() {
        let created = eventbridge(&eventbridge_event(
            "Object Created",
            "uploads/caf%C3%A9+cr%C3%A8me.jpg",
        ))
        .unwrap();
        assert_eq!(
            created,
            ObjectEvent {
                action: Action::Created,
                bucket: "photos".into(),
                key: "uploads/café crème.jpg".into(),
                version_id: Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e".into()),
                etag: Some("433e34237ead87dc980bac0c87d30daf".into()),
                size: Some(65153),
                sequencer: Some("617f08299329d189".into()),
                event_name: "aws.s3:Object Created".into(),
            }
        );
        let deleted = eventbridge(&eventbridge_event("Object Deleted", "a.jpg")).unwrap();
        assert_eq!(deleted.action, Action::Removed);
        let restored = eventbridge(&eventbridge_event("Object Restore Completed", "a.jpg"));
        assert!(matches!(restored, Err(e) if e.is_ignored()));
        let mut broken = eventbridge_event("Object Created", "a.jpg");
        broken["detail"].as_object_mut().unwrap().remove("object");
        assert!(matches!(
            eventbridge(&broken),
            Err(RecordError::Malformed { .. })
        ));
    }

    #[test]
    fn sequencers_compare_after_padding() {
        use std::cmp::Ordering::*;
        assert_eq!(
            sequencer_order("0055AED6DCD90281E5", "0055AED6DCD90281E6"),
            Less
        );
        assert_eq!(
            sequencer_order("0055AED6DCD9028", "0055AED6DCD90281E5"),
            Less
        );
        assert_eq!(
            sequencer_order("0055AED6DCD90290", "0055AED6DCD90281E5"),
            Greater
        );
        assert_eq!(
            sequencer_order("617f08299329d189", "617F08299329D189"),
            Equal
        );
    }

    #[test]
    fn null_version_means_unversioned() {
        assert_eq!(non_null(Some("null".into())), None);
        assert_eq!(non_null(Some(String::new())), None);
        assert_eq!(non_null(Some("v1".into())).as_deref(), Some("v1"));
    }
}
