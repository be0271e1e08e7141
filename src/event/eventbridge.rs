//! One object event from an EventBridge event of `aws.s3` (the bucket has EventBridge
//! notifications turned on).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::key::{decode, non_null, unquote};
use super::{Action, ObjectEvent, RecordError};

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
