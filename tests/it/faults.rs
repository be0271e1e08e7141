//! The fault-injection suite: provider errors, S3 and DynamoDB throttling (through a
//! fault-injecting proxy in front of SeaweedFS and dynalite), objects deleted, overwritten
//! or re-tagged while they are captioned, and events out of order. Each case
//! asserts the final state of the object, that every user tag is intact, and the number of
//! provider calls.

use std::time::{Duration, Instant};

use crate::support::proxy::{FaultProxy, dynamodb_throttled, s3_slow_down};
use crate::support::services::{FakeService, Reply, Wire};
use crate::support::{API_KEY, Stack, far_deadline, local_stack, sample};
use s3_alt_text::app::AppHandler;
use s3_alt_text::caption::{Record, Source, State};
use s3_alt_text::config::Config;
use s3_alt_text::report::OutcomeKind;
use serde_json::{Value, json};

const KEY: &str = "photos/coffee.jpg";

fn user_tags() -> Vec<(String, String)> {
    vec![
        ("owner".to_string(), "studio".to_string()),
        ("campaign".to_string(), "winter".to_string()),
    ]
}

/// A stack with the coffee photo (no embedded alt text) and two user tags.
async fn stack_with_photo(name: &str) -> Stack {
    let stack = Stack::new(name).await;
    stack
        .put(
            KEY,
            sample("coffee.jpg"),
            "image/jpeg",
            &[("owner", "studio"), ("campaign", "winter")],
        )
        .await;
    stack
}

/// The function's configuration, captioning with AltTextLab (the `fake`).
fn config(stack: &Stack, fake: &FakeService) -> Config {
    stack.alttextlab_config(&fake.url, &[])
}

fn handler(stack: &Stack, fake: &FakeService) -> AppHandler {
    stack.handler(&config(stack, fake))
}

/// The function's handler with S3 and DynamoDB reached through `proxy`.
async fn handler_via(stack: &Stack, proxy: &FaultProxy, fake: &FakeService) -> AppHandler {
    stack
        .handler_via(&proxy.endpoint, &config(stack, fake))
        .await
}

async fn sorted_tags(stack: &Stack, key: &str) -> Vec<(String, String)> {
    let mut tags = stack.tags(key).await;
    tags.sort();
    tags
}

/// The user's tags, with ours if `caption` is given.
fn expected_tags(caption: Option<&str>) -> Vec<(String, String)> {
    let mut tags = user_tags();
    if let Some(c) = caption {
        tags.push(("alt-text".into(), c.into()));
    }
    tags.sort();
    tags
}

async fn record(stack: &Stack) -> Record {
    stack.record(KEY).await.expect("a record")
}

fn event(stack: &Stack) -> Value {
    stack.event(&[(KEY, None)])
}

#[tokio::test]
async fn provider_faults_end_in_a_defined_state() {
    struct Case {
        name: &'static str,
        script: Vec<Reply>,
        deadline_secs: u64,
        state: State,
        retryable: Option<bool>,
        calls: usize,
        caption: Option<&'static str>,
    }
    let error =
        |code: u16, body: Value, retry_after: Option<u64>| Reply::Error(code, body, retry_after);
    let cases = vec![
        // An account that cannot work pauses the provider; the object is retried after.
        Case {
            name: "401 bad key",
            script: vec![error(401, json!({"message": "Invalid API key"}), None)],
            deadline_secs: 120,
            state: State::Failed,
            retryable: Some(true),
            calls: 1,
            caption: None,
        },
        Case {
            name: "403 no credits",
            script: vec![error(
                403,
                json!({"key": "NOT_ENOUGH_FUNDS", "message": "Not enough funds"}),
                None,
            )],
            deadline_secs: 120,
            state: State::Failed,
            retryable: Some(true),
            calls: 1,
            caption: None,
        },
        Case {
            name: "429 with Retry-After",
            script: vec![
                error(429, json!({"message": "Too many requests"}), Some(1)),
                Reply::Caption("A cup of coffee.".into()),
            ],
            deadline_secs: 120,
            state: State::Captioned,
            retryable: None,
            calls: 2,
            caption: Some("A cup of coffee."),
        },
        // A server error may have processed (and billed) the request: it is not sent
        // again in this delivery; Lambda's retry sends it once more.
        Case {
            name: "500",
            script: (0..4)
                .map(|_| error(500, json!({"message": "boom"}), None))
                .collect(),
            deadline_secs: 120,
            state: State::Failed,
            retryable: Some(true),
            calls: 1,
            caption: None,
        },
        Case {
            name: "timeout",
            script: vec![Reply::Hang],
            deadline_secs: 5,
            state: State::Failed,
            retryable: Some(true),
            calls: 1,
            caption: None,
        },
        // A success that cannot be read may have been billed: not sent again now.
        Case {
            name: "invalid JSON",
            script: vec![Reply::Raw(200, "<html>upstream error</html>".into())],
            deadline_secs: 120,
            state: State::Failed,
            retryable: Some(true),
            calls: 1,
            caption: None,
        },
        Case {
            name: "empty caption",
            script: vec![Reply::Raw(200, r#"{"id": "x1", "result": "   "}"#.into())],
            deadline_secs: 120,
            state: State::Failed,
            retryable: Some(false),
            calls: 1,
            caption: None,
        },
    ];
    for case in cases {
        let stack = stack_with_photo("provider-faults").await;
        let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), case.script).await;
        let handler = handler(&stack, &fake);
        let deadline = Instant::now() + Duration::from_secs(case.deadline_secs);
        let result = handler.handle(&event(&stack), deadline).await;
        assert_eq!(
            result.is_err(),
            case.retryable == Some(true),
            "{}: only a retryable failure is an error for Lambda",
            case.name
        );
        let r = record(&stack).await;
        assert_eq!(
            (r.state, r.retryable),
            (case.state, case.retryable),
            "{}: {r:?}",
            case.name
        );
        assert_eq!(fake.calls().len(), case.calls, "{}", case.name);
        // The metrics count the requests the service received, retries included.
        let usage = handler.take_usage();
        assert_eq!(usage.provider_calls, case.calls as u64, "{}", case.name);
        assert_eq!(
            sorted_tags(&stack, KEY).await,
            expected_tags(case.caption),
            "{}",
            case.name
        );
    }
}

/// A reply body is read up to 1 MiB: a larger one, even a valid caption padded out, is not
/// taken. It was answered and may have been billed, so, like an unreadable success, the
/// object ends failed and retryable, the request not sent again in this delivery.
#[tokio::test]
async fn a_reply_over_the_size_limit_fails_the_object_retryably() {
    let stack = stack_with_photo("provider-huge-reply").await;
    let padded = format!(
        r#"{{"id": "x1", "result": "A cup of coffee.{}"}}"#,
        " ".repeat(2 << 20)
    );
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Raw(200, padded)],
    )
    .await;
    let handler = handler(&stack, &fake);
    let result = handler.handle(&event(&stack), far_deadline()).await;
    let r = record(&stack).await;
    assert_eq!((r.state, r.retryable), (State::Failed, Some(true)), "{r:?}");
    assert!(result.is_err(), "retryable: an error for Lambda");
    let error = r.error.as_deref().unwrap_or_default();
    assert!(error.contains("over the 1 MiB limit"), "{error}");
    assert_eq!(fake.calls().len(), 1);
    assert_eq!(sorted_tags(&stack, KEY).await, expected_tags(None));
}

/// Handles the photo's event with S3 and DynamoDB behind `proxy`, and checks that the
/// faults it injects were absorbed: captioned, the user's tags kept, one provider call.
async fn caption_through(stack: &Stack, proxy: &FaultProxy) -> FakeService {
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Caption("A cup of coffee.".into())],
    )
    .await;
    let handler = handler_via(stack, proxy, &fake).await;
    handler.handle(&event(stack), far_deadline()).await.unwrap();
    assert_eq!(record(stack).await.state, State::Captioned);
    assert_eq!(
        sorted_tags(stack, KEY).await,
        expected_tags(Some("A cup of coffee."))
    );
    assert_eq!(fake.calls().len(), 1);
    fake
}

#[tokio::test]
async fn s3_slow_down_is_retried_by_the_sdk() {
    let stack = stack_with_photo("s3-slowdown").await;
    let proxy = FaultProxy::start(local_stack()).await;
    proxy.fail("GetObject", 2, s3_slow_down());
    proxy.fail("GetObjectTagging", 1, s3_slow_down());
    proxy.fail("PutObjectTagging", 2, s3_slow_down());
    let fake = caption_through(&stack, &proxy).await;
    // Two throttled reads, the read, and the provider's fetch of the presigned URL (which
    // names the proxy's endpoint too).
    assert_eq!(proxy.seen("GetObject"), 4, "{:?}", proxy.all_seen());
    assert_eq!(fake.calls()[0].image_status, 200);
    // The tags are read with the claim (a person's caption is never paid for), the first
    // read throttled once, and again before the write (a tag set meanwhile is kept).
    assert_eq!(proxy.seen("GetObjectTagging"), 3);
    assert_eq!(proxy.seen("PutObjectTagging"), 3);
}

#[tokio::test]
async fn dynamodb_throttling_is_retried_by_the_sdk() {
    let stack = stack_with_photo("ddb-throttling").await;
    let proxy = FaultProxy::start(local_stack()).await;
    proxy.fail("UpdateItem", 2, dynamodb_throttled());
    proxy.fail("PutItem", 3, dynamodb_throttled());
    caption_through(&stack, &proxy).await;
    // The claim (an UpdateItem that returns the record) is the only read of the record;
    // the one GetItem reads the provider pauses before the paid call.
    assert_eq!(proxy.seen("GetItem"), 1);
    assert_eq!(proxy.seen("UpdateItem"), 3);
    // Three throttled writes, the caption stored as soon as it is paid for, the final record.
    assert_eq!(proxy.seen("PutItem"), 5);
}

#[tokio::test]
async fn a_tag_write_throttled_for_good_is_retried_later_without_paying_again() {
    let stack = stack_with_photo("s3-down").await;
    let proxy = FaultProxy::start(local_stack()).await;
    proxy.fail("PutObjectTagging", 1000, s3_slow_down());
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Caption("A cup of coffee.".into())],
    )
    .await;
    let handler = handler_via(&stack, &proxy, &fake).await;
    let result = handler.handle(&event(&stack), far_deadline()).await;
    assert!(result.is_err(), "retryable");
    let r = record(&stack).await;
    assert_eq!((r.state, r.retryable), (State::Failed, Some(true)));
    assert_eq!(
        r.alt_text.as_deref(),
        Some("A cup of coffee."),
        "the paid caption is kept"
    );
    assert_eq!(sorted_tags(&stack, KEY).await, expected_tags(None));

    // S3 recovers; Lambda's retry writes the caption it already has.
    proxy.heal();
    handler
        .handle(&event(&stack), far_deadline())
        .await
        .unwrap();
    assert_eq!(record(&stack).await.state, State::Captioned);
    assert_eq!(
        sorted_tags(&stack, KEY).await,
        expected_tags(Some("A cup of coffee."))
    );
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn a_caption_paid_for_survives_an_invocation_cut_off_before_its_tags() {
    let stack = stack_with_photo("cut-off").await;
    let proxy = FaultProxy::start(local_stack()).await;
    // After the provider answers, S3 and DynamoDB hang on the final writes (the tags, and
    // the captioned record), far past the invocation's end.
    let hang = Duration::from_secs(60);
    proxy.stall("PutObjectTagging", 1000, hang, s3_slow_down());
    proxy.stall_when(
        "PutItem",
        r#"{"S":"captioned"}"#,
        hang,
        dynamodb_throttled(),
    );
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Caption("A cup of coffee.".into())],
    )
    .await;
    let handler = handler_via(&stack, &proxy, &fake).await;
    // Lambda ends the invocation at its deadline, whatever the function is doing.
    let timeout = Duration::from_secs(4);
    let deadline = Instant::now() + timeout;
    let cut = tokio::time::timeout(timeout, handler.handle(&event(&stack), deadline)).await;
    assert!(
        matches!(&cut, Ok(Err(_))),
        "the function ends before its deadline, retryable"
    );
    assert_eq!(fake.calls().len(), 1);
    let r = record(&stack).await;
    assert_eq!(
        r.alt_text.as_deref(),
        Some("A cup of coffee."),
        "the caption is stored before the tags"
    );
    assert_eq!((r.state, r.retryable), (State::Failed, Some(true)));

    // S3 recovers; once the claim has lapsed, the next delivery writes the tags it has.
    proxy.heal();
    let lapse = Duration::from_secs(s3_alt_text::pipeline::CLAIM_GRACE_SECS + 1);
    tokio::time::sleep_until((deadline + lapse).into()).await;
    handler
        .handle(&event(&stack), far_deadline())
        .await
        .unwrap();
    assert_eq!(fake.calls().len(), 1, "no second payment");
    assert_eq!(
        sorted_tags(&stack, KEY).await,
        expected_tags(Some("A cup of coffee."))
    );
    assert_eq!(record(&stack).await.state, State::Captioned);
}

#[tokio::test]
async fn records_throttled_for_good_fail_before_any_provider_call() {
    let stack = stack_with_photo("ddb-down").await;
    let proxy = FaultProxy::start(local_stack()).await;
    proxy.fail("UpdateItem", 1000, dynamodb_throttled());
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    let handler = handler_via(&stack, &proxy, &fake).await;
    let result = handler.handle(&event(&stack), far_deadline()).await;
    assert!(result.is_err(), "retryable");
    assert_eq!(fake.calls().len(), 0);
    assert_eq!(sorted_tags(&stack, KEY).await, expected_tags(None));
    proxy.heal();
    assert!(stack.record(KEY).await.is_none());
}

#[tokio::test]
async fn an_object_deleted_before_processing_is_skipped() {
    let stack = stack_with_photo("deleted-before").await;
    stack
        .s3
        .delete_object()
        .bucket(&stack.bucket)
        .key(KEY)
        .send()
        .await
        .unwrap();
    let fake = FakeService::start(Wire::AltTextLab, Some(API_KEY), vec![]).await;
    handler(&stack, &fake)
        .handle(&event(&stack), far_deadline())
        .await
        .unwrap();
    let r = record(&stack).await;
    assert_eq!(r.state, State::Skipped);
    assert!(r.reason.unwrap().contains("no longer exists"));
    assert_eq!(fake.calls().len(), 0);
}

/// A fake AltTextLab that takes 1.5 s to caption "A cup of coffee.", time for a test to
/// change the object meanwhile.
async fn slow_fake() -> FakeService {
    FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Slow(
            Duration::from_millis(1500),
            "A cup of coffee.".into(),
        )],
    )
    .await
}

/// Runs the event while `meanwhile` changes the object during the (slow) provider call:
/// once the fake provider has fetched the image, before it answers.
async fn during_the_provider_call<F: Future<Output = ()>>(
    stack: &Stack,
    fake: &FakeService,
    meanwhile: F,
) {
    let handler = handler(stack, fake);
    let event = event(stack);
    let (result, ()) = tokio::join!(handler.handle(&event, far_deadline()), async {
        fake.fetched.notified().await;
        meanwhile.await;
    });
    result.unwrap();
}

#[tokio::test]
async fn an_object_deleted_while_captioned_is_skipped() {
    let stack = stack_with_photo("deleted-during").await;
    let fake = slow_fake().await;
    during_the_provider_call(&stack, &fake, async {
        stack
            .s3
            .delete_object()
            .bucket(&stack.bucket)
            .key(KEY)
            .send()
            .await
            .unwrap();
    })
    .await;
    let r = record(&stack).await;
    assert_eq!(r.state, State::Skipped, "{r:?}");
    assert!(r.reason.unwrap().contains("deleted while it was captioned"));
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn a_tag_set_by_the_user_while_captioned_is_kept() {
    let stack = stack_with_photo("retagged-during").await;
    let fake = slow_fake().await;
    let mut theirs = user_tags();
    theirs.push(("reviewed".into(), "yes".into()));
    during_the_provider_call(&stack, &fake, stack.put_tags(KEY, &theirs)).await;
    let mut expected = theirs.clone();
    expected.push(("alt-text".into(), "A cup of coffee.".into()));
    expected.sort();
    assert_eq!(sorted_tags(&stack, KEY).await, expected);
    assert_eq!(record(&stack).await.state, State::Captioned);
}

#[tokio::test]
async fn a_caption_tag_a_person_sets_while_captioned_wins() {
    let stack = stack_with_photo("person-during").await;
    let fake = slow_fake().await;
    let mut theirs = user_tags();
    theirs.push(("alt-text".into(), "Our blue espresso cup".into()));
    during_the_provider_call(&stack, &fake, stack.put_tags(KEY, &theirs)).await;
    theirs.sort();
    assert_eq!(
        sorted_tags(&stack, KEY).await,
        theirs,
        "the person's tag is kept"
    );
    let r = record(&stack).await;
    assert_eq!(r.state, State::Captioned);
    assert_eq!(r.captions["en"].source, Source::Person);
    assert_eq!(r.captions["en"].text, "Our blue espresso cup");
}

#[tokio::test]
async fn new_bytes_never_get_the_caption_of_old_bytes() {
    let stack = stack_with_photo("overwritten-during").await;
    let fake = slow_fake().await;
    during_the_provider_call(&stack, &fake, async {
        stack
            .put(
                KEY,
                sample("astronaut.png"),
                "image/png",
                &[("owner", "studio"), ("campaign", "winter")],
            )
            .await;
    })
    .await;
    let r = record(&stack).await;
    assert_eq!(r.state, State::Skipped);
    assert!(
        r.reason
            .unwrap()
            .contains("overwritten while it was captioned")
    );
    assert_eq!(
        sorted_tags(&stack, KEY).await,
        expected_tags(None),
        "no coffee caption on the astronaut"
    );

    // The new upload's own event captions the new bytes.
    let handler = handler(&stack, &fake);
    handler
        .handle(&event(&stack), far_deadline())
        .await
        .unwrap();
    let expected = format!(
        "A PNG photograph of {} bytes.",
        sample("astronaut.png").len()
    );
    assert_eq!(
        record(&stack).await.alt_text.as_deref(),
        Some(expected.as_str())
    );
    assert_eq!(
        sorted_tags(&stack, KEY).await,
        expected_tags(Some(&expected))
    );
}

#[tokio::test]
async fn an_older_event_after_a_newer_one_keeps_the_newer_caption() {
    let stack = stack_with_photo("out-of-order").await;
    let fake = FakeService::start(
        Wire::AltTextLab,
        Some(API_KEY),
        vec![Reply::Caption("The newer photo.".into())],
    )
    .await;
    let handler = handler(&stack, &fake);
    let with_sequencer = |seq: &str| {
        let mut e = event(&stack);
        e["Records"][0]["s3"]["object"]["sequencer"] = json!(seq);
        e
    };
    // The photo is replaced; the replacement's event (the later sequencer) comes first.
    let tags = [("owner", "studio"), ("campaign", "winter")];
    stack
        .put(KEY, sample("astronaut.png"), "image/png", &tags)
        .await;
    handler
        .handle(&with_sequencer("0055AED6DCD90281E6"), far_deadline())
        .await
        .unwrap();
    assert_eq!(
        record(&stack).await.alt_text.as_deref(),
        Some("The newer photo.")
    );

    // The first upload's event arrives late, and the object has been replaced once more:
    // the late event is skipped (S3 orders sequencers after right-padding the shorter with
    // zeros, so ...281E is older than ...281E6), and the newest upload's event captions it.
    stack.put(KEY, sample("cat.jpg"), "image/jpeg", &tags).await;
    let summary = handler
        .handle(&with_sequencer("0055AED6DCD90281E"), far_deadline())
        .await
        .unwrap()
        .summary;
    assert_eq!(summary.objects[0].outcome, OutcomeKind::Skipped);
    assert!(
        summary.objects[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("superseded")
    );
    let r = record(&stack).await;
    assert_eq!(r.alt_text.as_deref(), Some("The newer photo."));
    assert_eq!(r.sequencer.as_deref(), Some("0055AED6DCD90281E6"));
    assert_eq!(fake.calls().len(), 1);
    assert_eq!(sorted_tags(&stack, KEY).await, expected_tags(None));

    // A late event for bytes already captioned changes nothing either.
    stack
        .put(KEY, sample("coffee.jpg"), "image/jpeg", &tags)
        .await;
    let newest = with_sequencer("0055AED6DCD90281E7");
    handler.handle(&newest, far_deadline()).await.unwrap();
    assert_eq!(fake.calls().len(), 2);
    let late = handler
        .handle(&with_sequencer("0055AED6DCD90281E6"), far_deadline())
        .await
        .unwrap();
    assert_eq!(late.summary.objects[0].outcome, OutcomeKind::Skipped);
    assert!(
        late.summary.objects[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("superseded")
    );
    assert_eq!(fake.calls().len(), 2);
    let expected = format!("A JPEG photograph of {} bytes.", sample("coffee.jpg").len());
    assert_eq!(
        sorted_tags(&stack, KEY).await,
        expected_tags(Some(&expected))
    );
}
