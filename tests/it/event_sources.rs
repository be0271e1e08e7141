//! Every event shape against the local stack: the answer each caller expects (SQS
//! `batchItemFailures`, Batch Operations results, an error for asynchronous retries), and
//! the S3 and DynamoDB state it leaves.

use std::time::{Duration, Instant};

use crate::support::services::{FakeService, Reply, Wire};
use crate::support::{API_KEY, Stack, encode_key, far_deadline, sample};
use s3_alt_text::caption::State;
use s3_alt_text::handler::{HandlerError, Response};
use serde_json::{Value, json};

fn as_json(response: &Response) -> Value {
    serde_json::to_value(response).unwrap()
}

#[tokio::test]
async fn every_sample_shape_is_answered_in_kind() {
    let stack = Stack::new("shapes").await;
    stack.upload_samples().await;
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = stack.alttextlab_handler(&fake);

    // SQS: one message with a put, one with the TestEvent; nothing to deliver again.
    let handled = handler
        .handle(&stack.sample_event("sqs-s3.json"), far_deadline())
        .await
        .unwrap();
    assert_eq!(as_json(&handled.response), json!({"batchItemFailures": []}));
    assert_eq!(handled.summary.captioned, 1);
    assert_eq!(
        stack.record("uploads/cat.jpg").await.unwrap().state,
        State::Captioned
    );

    // SQS around SNS around S3: the coffee photo, captioned by AltTextLab.
    let handled = handler
        .handle(&stack.sample_event("sqs-sns-s3.json"), far_deadline())
        .await
        .unwrap();
    assert_eq!(as_json(&handled.response), json!({"batchItemFailures": []}));
    assert_eq!(
        handled.summary.objects[0].key.as_deref(),
        Some("uploads/été/café crème.jpg")
    );
    assert_eq!(
        handled.summary.objects[0].provider.as_deref(),
        Some("alttextlab")
    );

    // SNS: asynchronous, answered with the summary.
    let handled = handler
        .handle(&stack.sample_event("sns-s3.json"), far_deadline())
        .await
        .unwrap();
    assert!(matches!(handled.response, Response::Summary(_)));
    assert_eq!(
        handled.summary.objects[0].key.as_deref(),
        Some("gallery/rocket 1+1.webp")
    );
    assert_eq!(stack.tags("gallery/rocket 1+1.webp").await.len(), 2);

    // Batch Operations, schema 1.0 and 2.0: a result per task, the invocation echoed.
    let handled = handler
        .handle(&stack.sample_event("batch-job-v1.json"), far_deadline())
        .await
        .unwrap();
    assert_eq!(
        as_json(&handled.response),
        json!({
            "invocationSchemaVersion": "1.0",
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
            "results": [{"taskId": "dGFza2lkZ29lc2hlcmUK", "resultCode": "Succeeded", "resultString": "captioned by embedded"}]
        })
    );
    let handled = handler
        .handle(&stack.sample_event("batch-job-v2.json"), far_deadline())
        .await
        .unwrap();
    let response = as_json(&handled.response);
    assert_eq!(response["invocationSchemaVersion"], "2.0");
    assert_eq!(response["results"][0]["resultCode"], "Succeeded");
    assert_eq!(
        stack
            .record("archive/2019/astronaut portrait.png")
            .await
            .unwrap()
            .state,
        State::Captioned
    );

    // Deletions of objects never captioned: nothing to remove, nothing fails.
    for file in ["s3-delete.json", "eventbridge-object-deleted.json"] {
        let handled = handler
            .handle(&stack.sample_event(file), far_deadline())
            .await
            .unwrap();
        assert_eq!(handled.summary.removed, 1, "{file}");
        assert_eq!(
            handled.summary.objects[0].detail.as_deref(),
            Some("no record to delete")
        );
    }
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn a_deleted_image_loses_its_record_but_an_older_delete_does_not_win() {
    let stack = Stack::new("deletions").await;
    stack
        .put("shop/mug.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    let handler = stack.handler(&stack.config(&[("ALT_TEXT_PROVIDER", "embedded")]));
    let mut put = stack.event(&[("shop/mug.jpg", None)]);
    put["Records"][0]["s3"]["object"]["sequencer"] = json!("0062E99A88DC407460");
    handler.handle(&put, far_deadline()).await.unwrap();
    assert!(stack.record("shop/mug.jpg").await.is_some());

    let mut delete = put.clone();
    delete["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    delete["Records"][0]["s3"]["object"] =
        json!({"key": "shop/mug.jpg", "sequencer": "0062E99A88DC40745F"});
    let handled = handler.handle(&delete, far_deadline()).await.unwrap();
    assert_eq!(
        handled.summary.objects[0].detail.as_deref(),
        Some("no record to delete")
    );
    assert!(
        stack.record("shop/mug.jpg").await.is_some(),
        "a delete older than the upload keeps the caption"
    );

    delete["Records"][0]["s3"]["object"]["sequencer"] = json!("0062E99A88DC4074A0");
    let handled = handler.handle(&delete, far_deadline()).await.unwrap();
    assert_eq!(
        handled.summary.objects[0].detail.as_deref(),
        Some("record deleted")
    );
    assert!(stack.record("shop/mug.jpg").await.is_none());
}

fn sqs_batch(stack: &Stack, bodies: &[(&str, String)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id, "receiptHandle": format!("AQEB{id}"), "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795338765218", "SenderId": "AROAZ3EXAMPLE:S3", "ApproximateFirstReceiveTimestamp": "1795338765225"},
                "messageAttributes": {}, "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
                "eventSource": "aws:sqs", "eventSourceARN": format!("arn:aws:sqs:us-east-1:111122223333:{}", stack.bucket), "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
async fn an_sqs_batch_reports_exactly_the_poisoned_message() {
    let stack = Stack::new("poison").await;
    stack
        .put("a.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    stack
        .put("b.webp", sample("rocket.webp"), "image/webp", &[])
        .await;
    let handler = stack.handler(&stack.config(&[("ALT_TEXT_PROVIDER", "embedded")]));
    let batch = sqs_batch(
        &stack,
        &[
            ("m-ok-1", stack.event(&[("a.jpg", None)]).to_string()),
            ("m-poison", "{\"Records\": [truncated".into()),
            ("m-ok-2", stack.event(&[("b.webp", None)]).to_string()),
        ],
    );
    let handled = handler.handle(&batch, far_deadline()).await.unwrap();
    assert_eq!(
        as_json(&handled.response),
        json!({"batchItemFailures": [{"itemIdentifier": "m-poison"}]})
    );
    assert_eq!(handled.summary.captioned, 2);
    assert_eq!(stack.tags("a.jpg").await.len(), 1);
    assert_eq!(stack.tags("b.webp").await.len(), 1);
}

#[tokio::test]
async fn an_sqs_message_whose_object_failed_transiently_is_delivered_again() {
    let stack = Stack::new("sqs-retry").await;
    stack
        .put("down.jpg", sample("coffee.jpg"), "image/jpeg", &[])
        .await;
    stack
        .put("fine.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Error(503, json!({"message": "unavailable"}), Some(0)); 4],
    )
    .await;
    let handler = stack.alttextlab_handler(&fake);
    let batch = sqs_batch(
        &stack,
        &[
            ("m-down", stack.event(&[("down.jpg", None)]).to_string()),
            ("m-fine", stack.event(&[("fine.jpg", None)]).to_string()),
        ],
    );
    let handled = handler.handle(&batch, far_deadline()).await.unwrap();
    assert_eq!(
        as_json(&handled.response),
        json!({"batchItemFailures": [{"itemIdentifier": "m-down"}]})
    );
    assert_eq!(fake.calls().len(), 4);
}

#[tokio::test]
async fn a_batch_job_of_200_tasks_returns_200_results() {
    let stack = Stack::new("batch-200").await;
    let bytes = sample("rocket.webp");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let key = format!("archive/launch {i:03}.webp");
        if i != 199 {
            stack.put(&key, bytes.clone(), "image/webp", &[]).await;
        }
        tasks.push(json!({"taskId": format!("task-{i:03}"), "s3Key": encode_key(&key), "s3VersionId": null, "s3BucketArn": format!("arn:aws:s3:::{}", stack.bucket)}));
    }
    let job = json!({"invocationSchemaVersion": "1.0", "invocationId": "aW52b2NhdGlvbi0yMDA=", "job": {"id": "backfill-200"}, "tasks": tasks});
    let handler = stack
        .handler(&stack.config(&[("ALT_TEXT_PROVIDER", "embedded"), ("MAX_CONCURRENCY", "16")]));
    let handled = handler.handle(&job, far_deadline()).await.unwrap();
    let response = as_json(&handled.response);
    let results = response["results"].as_array().unwrap();
    assert_eq!(results.len(), 200);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["taskId"], format!("task-{i:03}"));
    }
    assert!(results[..199].iter().all(|r| r["resultCode"] == "Succeeded" && r["resultString"] == "captioned by embedded"));
    // The object missing from the bucket is done for good, and says why.
    assert_eq!(results[199]["resultCode"], "Succeeded");
    assert!(
        results[199]["resultString"]
            .as_str()
            .unwrap()
            .contains("no longer exists")
    );
    assert_eq!(handled.summary.captioned, 199);
}

#[tokio::test]
async fn objects_are_not_started_when_the_invocation_is_about_to_time_out() {
    let stack = Stack::new("deadline").await;
    stack
        .put("late.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    let handler = stack.handler(&stack.config(&[("ALT_TEXT_PROVIDER", "embedded")]));
    let err = handler
        .handle(
            &stack.event(&[("late.jpg", None)]),
            Instant::now() + Duration::from_millis(1500),
        )
        .await
        .unwrap_err();
    let HandlerError::Retryable { summary, .. } = err else {
        panic!("{err:?}")
    };
    assert!(
        summary.objects[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("close to its timeout")
    );
    assert!(
        stack.record("late.jpg").await.is_none(),
        "nothing was started"
    );
    assert!(stack.tags("late.jpg").await.is_empty());
}
