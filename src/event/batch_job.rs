//! The tasks of an S3 Batch Operations job (schema 1.0 names the bucket by ARN, 2.0 by
//! name). Every task is a creation: a job captions objects that already exist.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::key::{decode, non_null};
use super::{Action, Item, ObjectEvent, RecordError, UnrecognisedEvent};

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

pub fn parse(payload: &Value) -> Result<BatchJob, UnrecognisedEvent> {
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
        key: decode(index, &task.s3_key)?,
        version_id: non_null(task.s3_version_id),
        etag: None,
        size: None,
        sequencer: None,
        event_name: job_name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::{Invocation, parse};

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
}
