//! Deliveries as a real stack sees them: many copies of one event at once, raced through
//! DynamoDB's conditional writes (dynalite makes them atomic), and the versions of one key
//! arriving out of order in a versioned bucket (SeaweedFS keeps every version).

use std::time::Duration;

use futures_util::future::join_all;
use s3_alt_text::caption::State;
use s3_alt_text::handler::HandlerError;
use s3_alt_text::report::OutcomeKind;
use serde_json::Value;

use crate::support::services::{FakeService, Reply, Wire};
use crate::support::{API_KEY, Stack, far_deadline, sample};

/// The single outcome of a handled one-object event, retryable or not.
fn outcome(result: &Result<s3_alt_text::handler::Handled, HandlerError>) -> OutcomeKind {
    match result {
        Ok(handled) => handled.summary.objects[0].outcome,
        Err(HandlerError::Retryable { summary, .. }) => summary.objects[0].outcome,
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_deliveries_of_one_object_pay_once() {
    let stack = Stack::new("sixteen").await;
    stack
        .put(
            "photo.jpg",
            sample("coffee.jpg"),
            "image/jpeg",
            &[("owner", "shop")],
        )
        .await;
    // The provider takes its time, so every delivery claims while the first is paying.
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Slow(
            Duration::from_millis(1500),
            "A cup of coffee on a saucer.".into(),
        )],
    )
    .await;
    // Sixteen handlers, as sixteen Lambda containers would have: nothing shared but the stack.
    let handlers: Vec<_> = (0..16).map(|_| stack.alttextlab_handler(&fake)).collect();
    let event = stack.event(&[("photo.jpg", None)]);
    let results = join_all(
        handlers
            .iter()
            .map(|handler| handler.handle(&event, far_deadline())),
    )
    .await;
    let outcomes: Vec<OutcomeKind> = results.iter().map(outcome).collect();
    assert_eq!(fake.calls().len(), 1, "one paid request: {outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == OutcomeKind::Captioned)
            .count(),
        1,
        "{outcomes:?}"
    );
    for o in &outcomes {
        assert!(
            matches!(
                o,
                OutcomeKind::Captioned | OutcomeKind::Unchanged | OutcomeKind::Busy
            ),
            "{outcomes:?}"
        );
    }
    let mut tags = stack.tags("photo.jpg").await;
    tags.sort();
    assert_eq!(
        tags,
        [
            (
                "alt-text".to_string(),
                "A cup of coffee on a saucer.".to_string()
            ),
            ("owner".to_string(), "shop".to_string()),
        ]
    );
    assert_eq!(
        stack.record("photo.jpg").await.unwrap().state,
        State::Captioned
    );
    // A busy delivery is handed back to Lambda to retry; each retry finds the caption.
    for (handler, result) in handlers.iter().zip(&results) {
        if outcome(result) == OutcomeKind::Busy {
            assert!(result.is_err(), "a busy delivery is retryable");
            let retry = handler.handle(&event, far_deadline()).await;
            assert_eq!(outcome(&retry), OutcomeKind::Unchanged);
        }
    }
    assert_eq!(fake.calls().len(), 1, "no retry paid");
}

/// An `ObjectCreated` event for one version of `key`, with its ETag and sequencer.
fn version_event(stack: &Stack, key: &str, version: &str, etag: &str, sequencer: &str) -> Value {
    let mut event = stack.event(&[(key, Some(version))]);
    let object = &mut event["Records"][0]["s3"]["object"];
    object["eTag"] = etag.into();
    object["sequencer"] = sequencer.into();
    event
}

#[tokio::test]
async fn versions_delivered_newest_first_leave_the_current_version_captioned() {
    let stack = Stack::versioned("versions").await;
    let (v1, etag1) = stack.put_version("photo.jpg", sample("coffee.jpg")).await;
    let (v2, etag2) = stack.put_version("photo.jpg", sample("cat.jpg")).await;
    assert_ne!(v1, v2);
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![Reply::Describe]).await;
    // AltTextLab only: the cat photo carries embedded alt text the chain would take first.
    let handler = stack.handler(&stack.alttextlab_config(&fake.url, &[]));

    // The newer upload's event arrives first, then the older one's.
    let newer = version_event(&stack, "photo.jpg", &v2, &etag2, "0055AED6DCD90281F0");
    let older = version_event(&stack, "photo.jpg", &v1, &etag1, "0055AED6DCD90281E5");
    let first = handler.handle(&newer, far_deadline()).await.unwrap();
    assert_eq!(first.summary.objects[0].outcome, OutcomeKind::Captioned);
    let late = handler.handle(&older, far_deadline()).await.unwrap();
    let late = &late.summary.objects[0];
    assert_eq!(late.outcome, OutcomeKind::Skipped);
    assert!(
        late.detail
            .as_deref()
            .is_some_and(|d| d.starts_with("superseded")),
        "{late:?}"
    );

    assert_eq!(fake.calls().len(), 1, "no provider call for the late event");
    let described = fake.calls()[0]
        .image_url
        .as_deref()
        .is_some_and(|url| url.contains(&format!("versionId={v2}")));
    assert!(described, "the provider was shown the current version");
    let record = stack.record("photo.jpg").await.unwrap();
    assert_eq!(
        (record.version_id.as_deref(), record.etag.as_deref()),
        (Some(v2.as_str()), Some(etag2.as_str())),
        "the record describes the current version"
    );
    let current = stack.tags_of("photo.jpg", Some(&v2)).await;
    assert_eq!(current.len(), 1, "{current:?}");
    assert_eq!(current[0].0, "alt-text");
    assert!(
        stack.tags_of("photo.jpg", Some(&v1)).await.is_empty(),
        "the old version is not tagged"
    );
}
