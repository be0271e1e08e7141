//! One object event from a record of an S3 event notification.

use aws_lambda_events::s3::S3EventRecord;
use serde_json::Value;

use super::key::{decode, non_null, unquote};
use super::{Action, ObjectEvent, RecordError};

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
}
