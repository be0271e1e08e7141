//! One invocation end to end (`src/handler/`), on the local stack (SeaweedFS and dynalite)
//! with a fake AltTextLab that fetches the presigned URLs from it: the sample events end as
//! documented, the user's tags are kept, provider errors and throttling end in defined
//! states, a malformed record fails alone, a version pins every read, and a hung provider
//! times out within the deadline.

use crate::support::services::{FakeService, Reply, Wire};
use crate::support::{API_KEY, Stack, far_deadline, sample};
use s3_alt_text::caption::{State, TagStatus};
use s3_alt_text::handler::HandlerError;
use s3_alt_text::report::OutcomeKind;
use serde_json::{Value, json};

fn event_object(event: &Value, index: usize) -> &Value {
    &event["Records"][index]["s3"]["object"]
}

#[tokio::test]
async fn sample_events_end_as_documented_and_replays_cost_nothing() {
    let stack = Stack::new("samples").await;
    let etags = stack.upload_samples().await;
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Caption(
            "A cup of café crème with latte art, on a saucer (top view)!".into(),
        )],
    )
    .await;
    let config = stack.config(&[
        ("ALT_TEXT_API_KEY", API_KEY),
        ("ALT_TEXT_API_URL", &fake.url),
        ("ALT_TEXT_STYLE", "neutral"),
        ("ALT_TEXT_KEYWORDS", "latte art, breakfast"),
        (
            "ALTTEXTLAB_ECOMMERCE",
            r#"{"brand": "Acme Co.", "product": "Espresso cup"}"#,
        ),
    ]);
    let handler = stack.handler(&config);

    // The sample events' ETags are those of the sample files.
    let put = stack.sample_event("s3-put.json");
    assert_eq!(event_object(&put, 0)["eTag"].as_str().unwrap(), etags[0].1);

    // A plain put of an image with embedded alt text and two user tags.
    let summary = handler.handle(&put, far_deadline()).await.unwrap().summary;
    assert_eq!((summary.captioned, summary.failed), (1, 0));
    let mut tags = stack.tags("uploads/cat.jpg").await;
    tags.sort();
    assert_eq!(
        tags,
        vec![
            (
                "alt-text".into(),
                "Close-up of a brown tabby cats face with green eyes and a pink nose.".into()
            ),
            ("campaign".into(), "spring-2026".into()),
            ("owner".into(), "studio".into()),
        ]
    );
    let record = stack.record("uploads/cat.jpg").await.unwrap();
    assert_eq!(record.state, State::Captioned);
    assert_eq!(record.provider.as_deref(), Some("embedded"));
    assert_eq!(
        record.alt_text.as_deref(),
        Some("Close-up of a brown tabby cat's face with green eyes and a pink nose.")
    );
    assert_eq!(record.etag.as_deref(), Some(etags[0].1.as_str()));
    assert_eq!(
        (record.size, record.content_type.as_deref()),
        (Some(34618), Some("image/jpeg"))
    );
    assert_eq!(record.sequencer.as_deref(), Some("00673F5B1C2D3E4F50"));
    assert!(record.updated_at.starts_with("20") && record.updated_at.ends_with('Z'));

    // A key with spaces and accents, and no embedded alt text: AltTextLab is called.
    let encoded = stack.sample_event("s3-put-encoded-key.json");
    assert_eq!(
        event_object(&encoded, 0)["eTag"].as_str().unwrap(),
        etags[1].1
    );
    let summary = handler
        .handle(&encoded, far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!(
        summary.objects[0].key.as_deref(),
        Some("uploads/été/café crème.jpg")
    );
    assert_eq!(summary.objects[0].provider.as_deref(), Some("alttextlab"));
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].api_key.as_deref(), Some(API_KEY));
    assert_eq!(calls[0].body["lang"], "en");
    assert_eq!(calls[0].body["style"], "neutral");
    assert_eq!(calls[0].body["keywords"], json!(["latte art", "breakfast"]));
    assert_eq!(
        calls[0].body["ecommerce"],
        json!({"brand": "Acme Co.", "product": "Espresso cup"})
    );
    assert_eq!(
        (calls[0].image_status, calls[0].image_len),
        (200, 65153),
        "the fake fetched the image from S3"
    );
    let record = stack.record("uploads/été/café crème.jpg").await.unwrap();
    assert_eq!(
        record.alt_text.as_deref(),
        Some("A cup of café crème with latte art, on a saucer (top view)!")
    );
    assert_eq!(
        record.tag_value.as_deref(),
        Some("A cup of café crème with latte art on a saucer top view.")
    );
    assert!(
        record
            .provider_request_id
            .as_deref()
            .unwrap()
            .starts_with("atl_")
    );
    assert_eq!(
        stack.tags("uploads/été/café crème.jpg").await,
        vec![(
            "alt-text".into(),
            "A cup of café crème with latte art on a saucer top view.".into()
        )]
    );

    // Two records: a PNG whose ten user tags leave no room, and a WebP with `+` in its key.
    let multi = stack.sample_event("s3-put-multi.json");
    let summary = handler
        .handle(&multi, far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!(summary.captioned, 2);
    let astronaut_tags = stack.tags("gallery/astronaut.png").await;
    assert_eq!(astronaut_tags.len(), 10);
    assert!(
        astronaut_tags.iter().all(|(k, _)| k.starts_with("label-")),
        "user tags untouched"
    );
    let record = stack.record("gallery/astronaut.png").await.unwrap();
    assert_eq!(
        (record.state, record.tag_status),
        (State::Captioned, Some(TagStatus::NoRoom))
    );
    assert!(record.reason.unwrap().contains("already has 10 tags"));
    assert!(
        record
            .alt_text
            .unwrap()
            .starts_with("Astronaut Eileen Collins")
    );
    let rocket = stack.record("gallery/rocket 1+1.webp").await.unwrap();
    assert_eq!(
        (rocket.state, rocket.provider.as_deref()),
        (State::Captioned, Some("embedded"))
    );
    assert_eq!(stack.tags("gallery/rocket 1+1.webp").await.len(), 2);

    // The EventBridge shape (existing-bucket mode), with its own URL-encoded key.
    let bridge = stack.sample_event("eventbridge-object-created.json");
    let summary = handler
        .handle(&bridge, far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!(
        summary.objects[0].key.as_deref(),
        Some("archive/2019/astronaut portrait.png")
    );
    assert_eq!(summary.objects[0].provider.as_deref(), Some("embedded"));
    let record = stack
        .record("archive/2019/astronaut portrait.png")
        .await
        .unwrap();
    assert_eq!(
        (record.state, record.sequencer.as_deref()),
        (State::Captioned, Some("00673F5B4F1E2D3C4B"))
    );
    assert_eq!(
        stack
            .tags("archive/2019/astronaut portrait.png")
            .await
            .len(),
        1
    );

    // A text file: skipped, no provider call, tags untouched.
    let summary = handler
        .handle(&stack.sample_event("s3-put-non-image.json"), far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!(summary.skipped, 1);
    let record = stack.record("docs/notes.txt").await.unwrap();
    assert_eq!(record.state, State::Skipped);
    assert_eq!(
        record.reason.as_deref(),
        Some("not an image (content type text/plain)")
    );
    assert!(stack.tags("docs/notes.txt").await.is_empty());

    // The TestEvent is a no-op.
    let summary = handler
        .handle(&stack.sample_event("s3-test-event.json"), far_deadline())
        .await
        .unwrap()
        .summary;
    assert!(summary.objects.is_empty());

    // Replaying every event: no provider call, nothing rewritten.
    let before = stack.record("uploads/été/café crème.jpg").await.unwrap();
    for file in [
        "s3-put.json",
        "s3-put-encoded-key.json",
        "s3-put-multi.json",
        "eventbridge-object-created.json",
    ] {
        let summary = handler
            .handle(&stack.sample_event(file), far_deadline())
            .await
            .unwrap()
            .summary;
        assert_eq!(
            summary.unchanged,
            summary.objects.len(),
            "{file}: {summary:?}"
        );
    }
    assert_eq!(fake.calls().len(), 1);
    assert_eq!(
        stack.record("uploads/été/café crème.jpg").await.unwrap(),
        before
    );
}

#[tokio::test]
async fn nine_user_tags_are_kept_beside_the_caption() {
    let stack = Stack::new("nine-tags").await;
    let tags: Vec<(String, String)> = (1..=9)
        .map(|i| (format!("user:tag-{i}"), format!("value {i} / keep = me")))
        .collect();
    let refs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    stack
        .put(
            "shop/rocket.webp",
            sample("rocket.webp"),
            "image/webp",
            &refs,
        )
        .await;
    let handler = stack.handler(&stack.config(&[("ALT_TEXT_PROVIDER", "embedded")]));
    handler
        .handle(&stack.event(&[("shop/rocket.webp", None)]), far_deadline())
        .await
        .unwrap();
    let after = stack.tags("shop/rocket.webp").await;
    assert_eq!(after.len(), 10);
    for tag in &tags {
        assert!(after.contains(tag), "{tag:?} lost");
    }
    assert!(
        after
            .iter()
            .any(|(k, v)| k == "alt-text" && v.starts_with("A white Falcon 9 rocket"))
    );
}

#[tokio::test]
async fn without_a_key_images_lacking_embedded_text_are_skipped_with_the_reason() {
    let stack = Stack::new("no-key").await;
    stack
        .put("coffee.jpg", sample("coffee.jpg"), "image/jpeg", &[])
        .await;
    stack
        .put("cat.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    let handler = stack.handler(&stack.config(&[]));
    let summary = handler
        .handle(
            &stack.event(&[("coffee.jpg", None), ("cat.jpg", None)]),
            far_deadline(),
        )
        .await
        .unwrap()
        .summary;
    assert_eq!((summary.captioned, summary.skipped), (1, 1));
    let record = stack.record("coffee.jpg").await.unwrap();
    assert_eq!(record.state, State::Skipped);
    let reason = record.reason.unwrap();
    assert!(
        reason.contains("no embedded alt text") && reason.contains("set ALT_TEXT_API_KEY"),
        "{reason}"
    );
    assert!(stack.tags("coffee.jpg").await.is_empty());
}

#[tokio::test]
async fn provider_errors_end_in_defined_states() {
    let stack = Stack::new("errors").await;
    for key in ["bad-key.jpg", "no-funds.jpg", "refused.jpg"] {
        stack
            .put(key, sample("coffee.jpg"), "image/jpeg", &[("owner", "me")])
            .await;
    }

    // A wrong key (AltTextLab's `API_KEY_IS_INVALID`). Not sent again now; the record says
    // what to fix, and the object is retried once it is fixed (pauses are off here:
    // `spend.rs` tests them).
    let fake = FakeService::start(Wire::AltTextLab, Some("the-right-key"), vec![]).await;
    let handler = stack.handler(&stack.config(&[
        ("ALT_TEXT_API_KEY", "a-wrong-key"),
        ("ALT_TEXT_API_URL", &fake.url),
        ("ALT_TEXT_PAUSE_SECS", "0"),
    ]));
    let failed = handler
        .handle(&stack.event(&[("bad-key.jpg", None)]), far_deadline())
        .await
        .unwrap_err();
    assert_eq!(failed.summary().failed, 1);
    assert_eq!(fake.calls().len(), 1, "a refused key is not retried");
    let record = stack.record("bad-key.jpg").await.unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    assert!(
        record
            .error
            .unwrap()
            .contains("rejected the API key (403 API_KEY_IS_INVALID)")
    );

    // 403 NOT_ENOUGH_FUNDS, then 400: permanent.
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![
            Reply::Error(
                403,
                json!({"key": "NOT_ENOUGH_FUNDS", "message": "Not enough funds"}),
                None,
            ),
            Reply::Error(400, json!({"message": "Unsupported image"}), None),
        ],
    )
    .await;
    let handler =
        stack.handler(&stack.alttextlab_config(&fake.url, &[("ALT_TEXT_PAUSE_SECS", "0")]));
    let failed = handler
        .handle(&stack.event(&[("no-funds.jpg", None)]), far_deadline())
        .await
        .unwrap_err();
    assert_eq!(failed.summary().failed, 1);
    assert!(
        stack
            .record("no-funds.jpg")
            .await
            .unwrap()
            .error
            .unwrap()
            .contains("out of credits")
    );
    handler
        .handle(&stack.event(&[("refused.jpg", None)]), far_deadline())
        .await
        .unwrap();
    assert!(
        stack
            .record("refused.jpg")
            .await
            .unwrap()
            .error
            .unwrap()
            .contains("refused the image (400)")
    );
    assert_eq!(fake.calls().len(), 2);
    for key in ["bad-key.jpg", "no-funds.jpg", "refused.jpg"] {
        assert_eq!(
            stack.tags(key).await,
            vec![("owner".into(), "me".into())],
            "{key}"
        );
    }
}

#[tokio::test]
async fn throttling_is_retried_with_a_fresh_url_and_server_errors_fail_the_invocation() {
    let stack = Stack::new("retries").await;
    stack
        .put("busy.jpg", sample("coffee.jpg"), "image/jpeg", &[])
        .await;
    stack
        .put(
            "down.jpg",
            sample("coffee.jpg"),
            "image/jpeg",
            &[("owner", "me")],
        )
        .await;
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![
            Reply::Error(429, json!({"message": "Too many requests"}), Some(1)),
            Reply::Caption("A cup of coffee.".into()),
            Reply::Error(500, json!({"message": "boom"}), None),
            Reply::Error(502, json!({"message": "bad gateway"}), None),
            Reply::Error(503, json!({"message": "unavailable"}), None),
            Reply::Error(500, json!({"message": "boom"}), None),
        ],
    )
    .await;
    let handler = stack.alttextlab_handler(&fake);

    let summary = handler
        .handle(&stack.event(&[("busy.jpg", None)]), far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!(summary.captioned, 1);
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    let (first, second) = (
        calls[0].body["imageUrl"].as_str().unwrap(),
        calls[1].body["imageUrl"].as_str().unwrap(),
    );
    assert_ne!(first, second, "each attempt gets a freshly signed URL");

    let err = handler
        .handle(&stack.event(&[("down.jpg", None)]), far_deadline())
        .await
        .unwrap_err();
    let HandlerError::Retryable {
        failed, summary, ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(failed, 1);
    assert!(summary.objects[0].retryable);
    assert_eq!(
        fake.calls().len(),
        3,
        "a server error may have been billed: one request, then the invocation fails for Lambda to retry"
    );
    let record = stack.record("down.jpg").await.unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    assert_eq!(
        stack.tags("down.jpg").await,
        vec![("owner".into(), "me".into())]
    );
}

#[tokio::test]
async fn malformed_records_fail_alone_and_unknown_payloads_are_rejected() {
    let stack = Stack::new("malformed").await;
    stack
        .put("cat.jpg", sample("cat.jpg"), "image/jpeg", &[])
        .await;
    let handler = stack.handler(&stack.config(&[]));
    let mut event = stack.event(&[("cat.jpg", None)]);
    event["Records"]
        .as_array_mut()
        .unwrap()
        .insert(0, json!({"eventName": "ObjectCreated:Put", "s3": {}}));
    let summary = handler
        .handle(&event, far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!((summary.failed, summary.captioned), (1, 1));
    assert!(
        summary.objects[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("record 0 is malformed")
    );

    let err = handler
        .handle(&json!({"hello": "world"}), far_deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Unrecognised(_)));
    assert!(err.to_string().contains("got an object with keys [hello]"));
}

#[tokio::test]
async fn a_version_id_pins_reads_url_and_tags_to_that_version() {
    let stack = Stack::new("versioned").await;
    stack
        .s3
        .put_bucket_versioning()
        .bucket(&stack.bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v1 = stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key("photo.jpg")
        .body(sample("coffee.jpg").into())
        .send()
        .await
        .unwrap();
    let v1 = v1.version_id().unwrap().to_string();
    let v2 = stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key("photo.jpg")
        .body(sample("cat.jpg").into())
        .send()
        .await
        .unwrap();
    let v2 = v2.version_id().unwrap().to_string();

    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = stack.alttextlab_handler(&fake);
    let summary = handler
        .handle(&stack.event(&[("photo.jpg", Some(&v1))]), far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!(
        summary.objects[0].provider.as_deref(),
        Some("alttextlab"),
        "v1 (coffee) has no embedded text"
    );
    let calls = fake.calls();
    assert!(
        calls[0].body["imageUrl"]
            .as_str()
            .unwrap()
            .contains(&format!("versionId={v1}"))
    );
    assert_eq!(
        calls[0].image_len, 65153,
        "the fake fetched version 1, not the newer cat"
    );
    let record = stack.record("photo.jpg").await.unwrap();
    assert_eq!(record.version_id.as_deref(), Some(v1.as_str()));
    assert_eq!(
        record.alt_text.as_deref(),
        Some("A JPEG photograph of 65153 bytes.")
    );
    assert_eq!(stack.tags_of("photo.jpg", Some(&v1)).await.len(), 1);
    assert!(
        stack.tags_of("photo.jpg", Some(&v2)).await.is_empty(),
        "the newer version is untouched"
    );

    // A third version with the first one's bytes (a re-upload, a copy in place) gets its
    // own tag, from the caption already paid for.
    let v3 = stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key("photo.jpg")
        .body(sample("coffee.jpg").into())
        .send()
        .await
        .unwrap();
    let v3 = v3.version_id().unwrap().to_string();
    let summary = handler
        .handle(&stack.event(&[("photo.jpg", Some(&v3))]), far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!(summary.objects[0].outcome, OutcomeKind::Captioned);
    assert_eq!(
        fake.calls().len(),
        1,
        "no second payment for the same bytes"
    );
    assert_eq!(
        stack.tags_of("photo.jpg", Some(&v3)).await,
        vec![(
            "alt-text".to_string(),
            "A JPEG photograph of 65153 bytes.".to_string()
        )]
    );
    let record = stack.record("photo.jpg").await.unwrap();
    assert_eq!(record.version_id.as_deref(), Some(v3.as_str()));
}

#[tokio::test]
async fn a_hung_provider_times_out_within_the_deadline_and_is_retryable() {
    let stack = Stack::new("timeout").await;
    stack
        .put(
            "slow.jpg",
            sample("coffee.jpg"),
            "image/jpeg",
            &[("owner", "me")],
        )
        .await;
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Hang, Reply::Hang],
    )
    .await;
    let handler = stack.alttextlab_handler(&fake);
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_secs(8);
    let err = handler
        .handle(&stack.event(&[("slow.jpg", None)]), deadline)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the deadline was kept"
    );
    let HandlerError::Retryable { summary, .. } = err else {
        panic!("{err:?}")
    };
    assert!(
        summary.objects[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("timed out"),
        "{summary:?}"
    );
    let record = stack.record("slow.jpg").await.unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    assert_eq!(
        stack.tags("slow.jpg").await,
        vec![("owner".into(), "me".into())]
    );
}
