//! Unit tests of the pipeline against in-memory stores and scripted providers.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::caption::{Record, Source, State, Tag, TagStatus};
use crate::event::{Action, ObjectEvent};
use crate::provider::embedded::Embedded;
use crate::provider::scripted::{ScriptedProvider, caption};
use crate::provider::{Caption, ProviderError};
use crate::report::OutcomeKind;
use crate::retry::Retryable;
use crate::store::memory::{MemoryRecords, MemoryStore};
use crate::store::{Condition, ObjectId, StoreError};
use crate::time::Deadlines;

const BUCKET: &str = "photos";

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn event(key: &str) -> ObjectEvent {
    ObjectEvent {
        action: Action::Created,
        bucket: BUCKET.into(),
        key: key.into(),
        version_id: None,
        etag: None,
        size: None,
        sequencer: Some("0055AED6DCD90281E5".into()),
        event_name: "ObjectCreated:Put".into(),
    }
}

struct Harness {
    pipeline: Pipeline<MemoryStore, MemoryRecords>,
    paid: Arc<ScriptedProvider>,
}

impl Harness {
    /// `embedded` then a scripted paid provider.
    fn new(paid_answers: Vec<Result<Caption, ProviderError>>) -> Harness {
        Harness::with_settings(paid_answers, test_settings())
    }

    /// The same, with `settings`.
    fn with_settings(
        paid_answers: Vec<Result<Caption, ProviderError>>,
        settings: Settings,
    ) -> Harness {
        let paid = Arc::new(ScriptedProvider::new("paid", paid_answers));
        let providers: Vec<Box<dyn Provider>> =
            vec![Box::new(Embedded), Box::new(Arc::clone(&paid))];
        let pipeline = Pipeline::new(
            MemoryStore::default(),
            MemoryRecords::default(),
            providers,
            settings,
        );
        Harness { pipeline, paid }
    }

    fn upload(&self, key: &str, bytes: &[u8], tags: Vec<Tag>) {
        self.pipeline.store().put(BUCKET, key, bytes, None, tags);
    }

    async fn run(&self, key: &str) -> Outcome {
        self.pipeline
            .process(&event(key), Deadlines::within(Duration::from_secs(60)))
            .await
    }

    fn record(&self, key: &str) -> Record {
        self.pipeline
            .records()
            .record(BUCKET, key)
            .expect("a record")
    }

    fn tags(&self, key: &str) -> Vec<Tag> {
        self.pipeline.store().object(BUCKET, key).tags
    }
}

fn user_tags(n: usize) -> Vec<Tag> {
    (0..n)
        .map(|i| Tag::new(format!("owner-{i}"), format!("team {i}")))
        .collect()
}

#[tokio::test]
async fn embedded_alt_text_is_used_without_paying() {
    let h = Harness::new(vec![]);
    h.upload("cat.jpg", &sample("cat.jpg"), vec![]);
    let outcome = h.run("cat.jpg").await;
    assert_eq!(
        outcome,
        Outcome::Captioned {
            provider: "embedded".into(),
            tag: TagStatus::Written
        }
    );
    assert_eq!(h.paid.calls(), 0);
    let record = h.record("cat.jpg");
    assert_eq!(record.state, State::Captioned);
    assert_eq!(
        record.alt_text.as_deref(),
        Some("Close-up of a brown tabby cat's face with green eyes and a pink nose.")
    );
    assert_eq!(record.provider.as_deref(), Some("embedded"));
    assert_eq!(record.content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(record.size, Some(34618));
    assert_eq!(
        h.tags("cat.jpg"),
        vec![Tag::new(
            "alt-text",
            "Close-up of a brown tabby cats face with green eyes and a pink nose."
        )]
    );
}

#[tokio::test]
async fn images_without_embedded_text_go_to_the_paid_provider_once() {
    let h = Harness::new(vec![Ok(caption("A cup of coffee, on a saucer."))]);
    h.upload("coffee.jpg", &sample("coffee.jpg"), vec![]);
    let outcome = h.run("coffee.jpg").await;
    assert_eq!(
        outcome,
        Outcome::Captioned {
            provider: "paid".into(),
            tag: TagStatus::Written
        }
    );
    assert_eq!(h.paid.calls(), 1);
    assert_eq!(
        h.record("coffee.jpg").provider_request_id.as_deref(),
        Some("req-1")
    );

    // A replayed event costs nothing and writes nothing.
    let puts = h
        .pipeline
        .records()
        .puts
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        h.run("coffee.jpg").await,
        Outcome::Unchanged {
            tag_restored: false
        }
    );
    assert_eq!(h.paid.calls(), 1);
    assert_eq!(h.pipeline.store().calls("put_tags"), 1);
    assert_eq!(
        h.pipeline
            .records()
            .puts
            .load(std::sync::atomic::Ordering::SeqCst),
        puts
    );
}

#[tokio::test]
async fn nine_user_tags_survive_and_ours_is_the_tenth() {
    let h = Harness::new(vec![]);
    h.upload("cat.jpg", &sample("cat.jpg"), user_tags(9));
    h.run("cat.jpg").await;
    let tags = h.tags("cat.jpg");
    assert_eq!(tags.len(), 10);
    assert_eq!(&tags[..9], &user_tags(9)[..]);
    assert_eq!(tags[9].key, "alt-text");
}

#[tokio::test]
async fn ten_user_tags_are_left_alone_and_the_record_says_so() {
    let h = Harness::new(vec![]);
    h.upload("cat.jpg", &sample("cat.jpg"), user_tags(10));
    let outcome = h.run("cat.jpg").await;
    assert_eq!(
        outcome,
        Outcome::Captioned {
            provider: "embedded".into(),
            tag: TagStatus::NoRoom
        }
    );
    assert_eq!(h.tags("cat.jpg"), user_tags(10));
    assert_eq!(h.pipeline.store().calls("put_tags"), 0);
    let record = h.record("cat.jpg");
    assert_eq!(record.state, State::Captioned);
    assert_eq!(record.tag_status, Some(TagStatus::NoRoom));
    assert!(record.reason.unwrap().contains("already has 10 tags"));
}

#[tokio::test]
async fn non_images_are_skipped_without_provider_calls() {
    let h = Harness::new(vec![Ok(caption("never"))]);
    h.pipeline.store().put(
        BUCKET,
        "photo.jpg",
        b"just text pretending\n",
        Some("image/jpeg"),
        vec![],
    );
    let outcome = h.run("photo.jpg").await;
    assert!(
        matches!(&outcome, Outcome::Skipped { reason } if reason.starts_with("not an image")),
        "{outcome:?}"
    );
    assert_eq!(h.paid.calls(), 0);
    assert_eq!(h.record("photo.jpg").state, State::Skipped);
    assert_eq!(h.tags("photo.jpg"), vec![]);
}

#[tokio::test]
async fn folder_markers_touch_nothing() {
    let h = Harness::new(vec![]);
    let outcome = h.run("uploads/2026/").await;
    assert!(matches!(outcome, Outcome::Skipped { .. }));
    assert_eq!(h.pipeline.store().calls("read_head"), 0);
    assert!(
        h.pipeline
            .records()
            .record(BUCKET, "uploads/2026/")
            .is_none()
    );
}

#[tokio::test]
async fn a_deleted_object_ends_skipped() {
    let h = Harness::new(vec![]);
    let outcome = h.run("gone.jpg").await;
    assert!(matches!(&outcome, Outcome::Skipped { reason } if reason.contains("no longer exists")));
    assert_eq!(h.record("gone.jpg").state, State::Skipped);
    assert_eq!(h.paid.calls(), 0);
}

#[tokio::test]
async fn a_transient_provider_error_is_retryable_and_stops_the_chain() {
    let second = Arc::new(ScriptedProvider::new(
        "second",
        vec![Ok(caption("should not be asked"))],
    ));
    let first = Arc::new(ScriptedProvider::new(
        "first",
        vec![Err(ProviderError::transient("503 from upstream"))],
    ));
    let providers: Vec<Box<dyn Provider>> =
        vec![Box::new(Arc::clone(&first)), Box::new(Arc::clone(&second))];
    let pipeline = Pipeline::new(
        MemoryStore::default(),
        MemoryRecords::default(),
        providers,
        test_settings(),
    );
    pipeline.store().put(
        BUCKET,
        "coffee.jpg",
        &sample("coffee.jpg"),
        None,
        user_tags(2),
    );
    let outcome = pipeline
        .process(
            &event("coffee.jpg"),
            Deadlines::within(Duration::from_secs(60)),
        )
        .await;
    assert!(outcome.is_retryable(), "{outcome:?}");
    assert_eq!(second.calls(), 0);
    let record = pipeline.records().record(BUCKET, "coffee.jpg").unwrap();
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    assert_eq!(
        pipeline.store().object(BUCKET, "coffee.jpg").tags,
        user_tags(2)
    );
}

#[tokio::test]
async fn a_permanent_error_passes_to_the_next_provider() {
    let h = Harness::new(vec![Err(ProviderError::Permanent("out of credits".into()))]);
    h.upload("coffee.jpg", &sample("coffee.jpg"), vec![]);
    let outcome = h.run("coffee.jpg").await;
    assert_eq!(
        outcome,
        Outcome::Failed {
            error: "paid: out of credits; embedded: the image has no embedded alt text".into(),
            retryable: false
        }
    );
    let record = h.record("coffee.jpg");
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(false))
    );
}

#[tokio::test]
async fn when_every_provider_declines_the_object_is_skipped_with_the_reasons() {
    let h = Harness::new(vec![Err(ProviderError::Declined(
        "needs an API key: set ALT_TEXT_API_KEY".into(),
    ))]);
    h.upload("coffee.jpg", &sample("coffee.jpg"), vec![]);
    let outcome = h.run("coffee.jpg").await;
    let Outcome::Skipped { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("embedded: the image has no embedded alt text"),
        "{reason}"
    );
    assert!(reason.contains("ALT_TEXT_API_KEY"), "{reason}");
    assert_eq!(
        h.record("coffee.jpg").reason.as_deref(),
        Some(reason.as_str())
    );
}

#[tokio::test]
async fn a_failed_tag_write_keeps_the_caption_for_the_retry() {
    let h = Harness::new(vec![Ok(caption("A cup of coffee."))]);
    h.upload("coffee.jpg", &sample("coffee.jpg"), user_tags(3));
    h.pipeline.store().fail_next(
        "put_tags",
        StoreError::Transient {
            op: "PutObjectTagging",
            message: "SlowDown".into(),
        },
    );
    let outcome = h.run("coffee.jpg").await;
    assert!(outcome.is_retryable(), "{outcome:?}");
    let record = h.record("coffee.jpg");
    assert_eq!(record.state, State::Failed);
    assert_eq!(record.alt_text.as_deref(), Some("A cup of coffee."));
    assert_eq!(h.tags("coffee.jpg"), user_tags(3));

    // The retry writes the caption already paid for.
    let outcome = h.run("coffee.jpg").await;
    assert_eq!(
        outcome,
        Outcome::Captioned {
            provider: "paid".into(),
            tag: TagStatus::Written
        }
    );
    assert_eq!(h.paid.calls(), 1);
    assert_eq!(h.tags("coffee.jpg").len(), 4);
}

#[tokio::test]
async fn unreadable_tags_are_never_overwritten() {
    let h = Harness::new(vec![]);
    h.upload("cat.jpg", &sample("cat.jpg"), user_tags(4));
    h.pipeline.store().fail_next(
        "get_tags",
        StoreError::Transient {
            op: "GetObjectTagging",
            message: "503".into(),
        },
    );
    let outcome = h.run("cat.jpg").await;
    assert!(outcome.is_retryable());
    assert_eq!(h.pipeline.store().calls("put_tags"), 0);
    assert_eq!(h.tags("cat.jpg"), user_tags(4));
}

#[tokio::test]
async fn a_replay_restores_a_missing_caption_tag_without_a_provider_call() {
    let h = Harness::new(vec![Ok(caption("A cup of coffee."))]);
    h.upload("coffee.jpg", &sample("coffee.jpg"), vec![]);
    h.run("coffee.jpg").await;
    h.pipeline
        .store()
        .objects
        .lock()
        .unwrap()
        .get_mut(&(BUCKET.into(), "coffee.jpg".into()))
        .unwrap()
        .tags = user_tags(1);
    assert_eq!(
        h.run("coffee.jpg").await,
        Outcome::Unchanged { tag_restored: true }
    );
    assert_eq!(
        h.tags("coffee.jpg"),
        vec![
            user_tags(1)[0].clone(),
            Tag::new("alt-text", "A cup of coffee.")
        ]
    );
    assert_eq!(h.paid.calls(), 1);
}

#[tokio::test]
async fn an_overwritten_object_is_captioned_again() {
    let h = Harness::new(vec![Ok(caption("First.")), Ok(caption("Second."))]);
    h.upload("coffee.jpg", &sample("coffee.jpg"), vec![]);
    h.run("coffee.jpg").await;
    let mut changed = sample("coffee.jpg");
    changed.extend_from_slice(b"trailing bytes");
    h.upload("coffee.jpg", &changed, vec![]);
    assert_eq!(
        h.run("coffee.jpg").await,
        Outcome::Captioned {
            provider: "paid".into(),
            tag: TagStatus::Written
        }
    );
    assert_eq!(h.paid.calls(), 2);
    assert_eq!(h.record("coffee.jpg").alt_text.as_deref(), Some("Second."));
}

#[tokio::test]
async fn a_late_event_never_puts_the_old_caption_on_new_bytes() {
    let h = Harness::new(vec![Ok(caption("First."))]);
    h.upload("coffee.jpg", &sample("coffee.jpg"), vec![]);
    let first = ObjectEvent {
        etag: Some(h.pipeline.store().object(BUCKET, "coffee.jpg").etag),
        ..event("coffee.jpg")
    };
    let deadline = Deadlines::within(Duration::from_secs(60));
    h.pipeline.process(&first, deadline).await;
    assert_eq!(h.record("coffee.jpg").alt_text.as_deref(), Some("First."));

    // New bytes, without tags; the first upload's event is delivered again before the
    // new upload's own event.
    let mut changed = sample("coffee.jpg");
    changed.extend_from_slice(b"trailing bytes");
    h.upload("coffee.jpg", &changed, vec![]);
    let outcome = h.pipeline.process(&first, deadline).await;
    assert!(
        matches!(&outcome, Outcome::Skipped { reason } if reason.contains("overwritten")),
        "{outcome:?}"
    );
    assert!(
        h.tags("coffee.jpg").is_empty(),
        "{:?}",
        h.tags("coffee.jpg")
    );
    assert_eq!(h.paid.calls(), 1);
}

#[tokio::test]
async fn a_late_event_whose_head_read_fails_puts_no_tag_back() {
    let h = Harness::new(vec![Ok(caption("First."))]);
    h.upload("coffee.jpg", &sample("coffee.jpg"), vec![]);
    let first = ObjectEvent {
        etag: Some(h.pipeline.store().object(BUCKET, "coffee.jpg").etag),
        ..event("coffee.jpg")
    };
    let deadline = Deadlines::within(Duration::from_secs(60));
    h.pipeline.process(&first, deadline).await;
    // New bytes; the old event again, and the head read that would tell them apart fails.
    let mut changed = sample("coffee.jpg");
    changed.extend_from_slice(b"trailing bytes");
    h.upload("coffee.jpg", &changed, vec![]);
    h.pipeline.store().fail_next(
        "read_head",
        StoreError::Transient {
            op: "GetObject",
            message: "503".into(),
        },
    );
    let outcome = h.pipeline.process(&first, deadline).await;
    assert!(outcome.is_retryable(), "{outcome:?}");
    assert!(
        h.tags("coffee.jpg").is_empty(),
        "{:?}",
        h.tags("coffee.jpg")
    );
    assert_eq!(h.paid.calls(), 1);
}

#[tokio::test]
async fn a_deletion_never_removes_a_live_claim() {
    let h = Harness::new(vec![]);
    h.upload("cat.jpg", &sample("cat.jpg"), vec![]);
    h.run("cat.jpg").await;
    // Another invocation captions a new upload of the key.
    h.pipeline.records().claims.lock().unwrap().insert(
        (BUCKET.into(), "cat.jpg".into()),
        ("theirs".into(), crate::time::epoch_now() + 60),
    );
    let deleted = ObjectEvent {
        action: Action::Removed,
        sequencer: Some("0055AED6DCD90281F0".into()),
        event_name: "ObjectRemoved:Delete".into(),
        ..event("cat.jpg")
    };
    let far = Deadlines::within(Duration::from_secs(60));
    assert_eq!(
        h.pipeline.process(&deleted, far).await,
        Outcome::Removed {
            record_deleted: false
        }
    );
    assert!(h.pipeline.records().record(BUCKET, "cat.jpg").is_some());
}

#[tokio::test]
async fn a_record_store_outage_is_retryable() {
    let h = Harness::new(vec![]);
    h.upload("cat.jpg", &sample("cat.jpg"), vec![]);
    h.pipeline
        .records()
        .fail_puts
        .lock()
        .unwrap()
        .push_back(StoreError::Transient {
            op: "DynamoDB PutItem",
            message: "ProvisionedThroughputExceeded".into(),
        });
    assert!(h.run("cat.jpg").await.is_retryable());
}

#[tokio::test]
async fn a_deletion_removes_the_record_unless_a_newer_upload_is_recorded() {
    let h = Harness::new(vec![]);
    h.upload("cat.jpg", &sample("cat.jpg"), vec![]);
    h.run("cat.jpg").await;
    let older = ObjectEvent {
        action: Action::Removed,
        sequencer: Some("0055AED6DCD90281E4".into()),
        event_name: "ObjectRemoved:Delete".into(),
        ..event("cat.jpg")
    };
    let far = Deadlines::within(Duration::from_secs(60));
    assert_eq!(
        h.pipeline.process(&older, far).await,
        Outcome::Removed {
            record_deleted: false
        }
    );
    assert!(
        h.pipeline.records().record(BUCKET, "cat.jpg").is_some(),
        "the newer caption stays"
    );

    let newer = ObjectEvent {
        sequencer: Some("0055AED6DCD90281F0".into()),
        ..older
    };
    assert_eq!(
        h.pipeline.process(&newer, far).await,
        Outcome::Removed {
            record_deleted: true
        }
    );
    assert!(h.pipeline.records().record(BUCKET, "cat.jpg").is_none());
    assert_eq!(
        h.pipeline.process(&newer, far).await,
        Outcome::Removed {
            record_deleted: false
        }
    );
}

/// A pipeline over `providers` with `langs`.
fn pipeline_with(
    providers: Vec<Box<dyn Provider>>,
    langs: &[&str],
) -> Pipeline<MemoryStore, MemoryRecords> {
    Pipeline::new(
        MemoryStore::default(),
        MemoryRecords::default(),
        providers,
        Settings {
            langs: langs.iter().map(|l| l.to_string()).collect(),
            ..test_settings()
        },
    )
}

async fn run_on(pipeline: &Pipeline<MemoryStore, MemoryRecords>, key: &str) -> Outcome {
    pipeline
        .process(&event(key), Deadlines::within(Duration::from_secs(60)))
        .await
}

#[tokio::test]
async fn two_languages_give_two_tags_and_a_two_entry_record() {
    let paid = Arc::new(ScriptedProvider::new(
        "paid",
        vec![
            Ok(caption("A cup of coffee.")),
            Ok(caption("Eine Tasse Kaffee.")),
        ],
    ));
    let p = pipeline_with(vec![Box::new(Arc::clone(&paid))], &["en", "de"]);
    p.store().put(
        BUCKET,
        "coffee.jpg",
        &sample("coffee.jpg"),
        None,
        user_tags(2),
    );
    let outcome = run_on(&p, "coffee.jpg").await;
    assert_eq!(
        outcome,
        Outcome::Captioned {
            provider: "paid".into(),
            tag: TagStatus::Written
        }
    );
    assert_eq!(paid.calls(), 2, "one call per language");
    let tags = p.store().object(BUCKET, "coffee.jpg").tags;
    assert_eq!(&tags[..2], &user_tags(2)[..]);
    assert_eq!(
        &tags[2..],
        &[
            Tag::new("alt-text", "A cup of coffee."),
            Tag::new("alt-text-de", "Eine Tasse Kaffee.")
        ]
    );
    let record = p.records().record(BUCKET, "coffee.jpg").unwrap();
    assert_eq!(record.alt_text.as_deref(), Some("A cup of coffee."));
    assert_eq!(record.lang.as_deref(), Some("en"));
    let langs: Vec<(&str, &str, Option<&str>)> = record
        .captions
        .iter()
        .map(|(l, c)| (l.as_str(), c.text.as_str(), c.tag_key.as_deref()))
        .collect();
    assert_eq!(
        langs,
        vec![
            ("de", "Eine Tasse Kaffee.", Some("alt-text-de")),
            ("en", "A cup of coffee.", Some("alt-text")),
        ]
    );
    // A replay pays for neither language, and puts back a removed translation tag.
    p.store().put(
        BUCKET,
        "coffee.jpg",
        &sample("coffee.jpg"),
        None,
        tags[..3].to_vec(),
    );
    // (re-uploading resets the ETag in the fake only if the bytes differ)
    assert_eq!(
        run_on(&p, "coffee.jpg").await,
        Outcome::Unchanged { tag_restored: true }
    );
    assert_eq!(paid.calls(), 2);
    assert_eq!(p.store().object(BUCKET, "coffee.jpg").tags, tags);
}

#[tokio::test]
async fn embedded_default_text_is_the_main_language_only() {
    let paid = Arc::new(ScriptedProvider::new(
        "paid",
        vec![Ok(caption("Nahaufnahme einer Tigerkatze."))],
    ));
    let p = pipeline_with(
        vec![Box::new(Embedded), Box::new(Arc::clone(&paid))],
        &["en", "de"],
    );
    p.store()
        .put(BUCKET, "cat.jpg", &sample("cat.jpg"), None, vec![]);
    run_on(&p, "cat.jpg").await;
    let record = p.records().record(BUCKET, "cat.jpg").unwrap();
    assert_eq!(record.captions["en"].provider, "embedded");
    assert_eq!(record.captions["de"].provider, "paid");
    assert_eq!(record.captions["de"].text, "Nahaufnahme einer Tigerkatze.");
    assert_eq!(
        paid.calls(),
        1,
        "only the language the image lacks is paid for"
    );
}

#[tokio::test]
async fn a_rejected_caption_falls_to_the_next_provider() {
    let first = Arc::new(ScriptedProvider::new(
        "first",
        vec![Ok(caption("I'm sorry, but I can't describe this image."))],
    ));
    let second = Arc::new(ScriptedProvider::new(
        "second",
        vec![Ok(caption("Image of a cup of coffee on a saucer."))],
    ));
    let p = pipeline_with(
        vec![Box::new(Arc::clone(&first)), Box::new(Arc::clone(&second))],
        &["en"],
    );
    p.store()
        .put(BUCKET, "coffee.jpg", &sample("coffee.jpg"), None, vec![]);
    let outcome = run_on(&p, "coffee.jpg").await;
    assert_eq!(
        outcome,
        Outcome::Captioned {
            provider: "second".into(),
            tag: TagStatus::Written
        }
    );
    let record = p.records().record(BUCKET, "coffee.jpg").unwrap();
    assert_eq!(
        record.alt_text.as_deref(),
        Some("A cup of coffee on a saucer."),
        "the boilerplate opening is dropped"
    );
    assert_eq!((first.calls(), second.calls()), (1, 1));
}

#[tokio::test]
async fn only_rejected_captions_end_in_a_failed_record() {
    let only = Arc::new(ScriptedProvider::new(
        "only",
        vec![Ok(caption("coffee.jpg"))],
    ));
    let p = pipeline_with(vec![Box::new(Arc::clone(&only))], &["en"]);
    p.store().put(
        BUCKET,
        "coffee.jpg",
        &sample("coffee.jpg"),
        None,
        user_tags(1),
    );
    let outcome = run_on(&p, "coffee.jpg").await;
    assert!(
        matches!(&outcome, Outcome::Failed { retryable: false, error } if error.contains("file name")),
        "{outcome:?}"
    );
    assert_eq!(p.store().object(BUCKET, "coffee.jpg").tags, user_tags(1));
}

#[tokio::test]
async fn a_language_failing_for_now_keeps_the_others_for_the_retry() {
    let paid = Arc::new(ScriptedProvider::new(
        "paid",
        vec![
            Ok(caption("A cup of coffee.")),
            Err(ProviderError::transient("503")),
            Ok(caption("Eine Tasse Kaffee.")),
        ],
    ));
    let p = pipeline_with(vec![Box::new(Arc::clone(&paid))], &["en", "de"]);
    p.store().put(
        BUCKET,
        "coffee.jpg",
        &sample("coffee.jpg"),
        None,
        user_tags(1),
    );
    let outcome = run_on(&p, "coffee.jpg").await;
    assert!(outcome.is_retryable(), "{outcome:?}");
    assert_eq!(p.store().object(BUCKET, "coffee.jpg").tags, user_tags(1));
    let record = p.records().record(BUCKET, "coffee.jpg").unwrap();
    assert_eq!(record.state, State::Failed);
    assert_eq!(record.captions["en"].text, "A cup of coffee.");

    let outcome = run_on(&p, "coffee.jpg").await;
    assert!(matches!(outcome, Outcome::Captioned { .. }), "{outcome:?}");
    assert_eq!(paid.calls(), 3, "English is not paid for twice");
    let tags = p.store().object(BUCKET, "coffee.jpg").tags;
    assert_eq!(tags.len(), 3);
    assert_eq!(tags[2], Tag::new("alt-text-de", "Eine Tasse Kaffee."));
}

#[tokio::test]
async fn a_language_no_provider_writes_is_noted() {
    let paid = Arc::new(ScriptedProvider::new(
        "paid",
        vec![
            Ok(caption("A cup of coffee.")),
            Err(ProviderError::Declined("no Klingon".into())),
        ],
    ));
    let p = pipeline_with(vec![Box::new(Arc::clone(&paid))], &["en", "tlh"]);
    p.store()
        .put(BUCKET, "coffee.jpg", &sample("coffee.jpg"), None, vec![]);
    let outcome = run_on(&p, "coffee.jpg").await;
    assert!(matches!(outcome, Outcome::Captioned { .. }), "{outcome:?}");
    let record = p.records().record(BUCKET, "coffee.jpg").unwrap();
    assert_eq!(record.captions.len(), 1);
    let reason = record.reason.unwrap();
    assert!(
        reason.contains("no caption in tlh") && reason.contains("no Klingon"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_plan_counts_one_paid_call_per_language_the_image_lacks() {
    let paid = Arc::new(ScriptedProvider::new("paid", vec![]));
    let p = pipeline_with(
        vec![Box::new(Embedded), Box::new(Arc::clone(&paid))],
        &["en", "de"],
    );
    p.store()
        .put(BUCKET, "cat.jpg", &sample("cat.jpg"), None, vec![]);
    p.store()
        .put(BUCKET, "coffee.jpg", &sample("coffee.jpg"), None, vec![]);
    let paid_plan = |calls| Plan::Paid {
        provider: "paid".into(),
        calls,
        by_provider: vec![("paid".into(), calls)],
    };
    assert_eq!(p.plan(&event("cat.jpg")).await.unwrap(), paid_plan(1));
    assert_eq!(p.plan(&event("coffee.jpg")).await.unwrap(), paid_plan(2));
    assert_eq!(paid.calls(), 0, "planning pays for nothing");

    let english_only = pipeline_with(vec![Box::new(Embedded)], &["en"]);
    english_only
        .store()
        .put(BUCKET, "cat.jpg", &sample("cat.jpg"), None, vec![]);
    assert_eq!(
        english_only.plan(&event("cat.jpg")).await.unwrap(),
        Plan::Free("embedded".into())
    );
}

fn event_seq(key: &str, sequencer: &str) -> ObjectEvent {
    ObjectEvent {
        sequencer: Some(sequencer.into()),
        ..event(key)
    }
}

#[tokio::test]
async fn concurrent_duplicates_make_one_provider_call() {
    let paid = Arc::new(
        ScriptedProvider::new("paid", vec![Ok(caption("A cup of coffee."))])
            .slow(Duration::from_millis(200)),
    );
    let p = pipeline_with(vec![Box::new(Arc::clone(&paid))], &["en"]);
    p.store().put(
        BUCKET,
        "coffee.jpg",
        &sample("coffee.jpg"),
        None,
        user_tags(1),
    );
    let (a, b) = tokio::join!(run_on(&p, "coffee.jpg"), run_on(&p, "coffee.jpg"));
    let mut outcomes = [a.kind(), b.kind()];
    outcomes.sort_unstable();
    assert_eq!(outcomes, [OutcomeKind::Captioned, OutcomeKind::Busy]);
    let busy = if a.kind() == OutcomeKind::Busy { a } else { b };
    assert!(busy.is_retryable(), "the duplicate is delivered again");
    assert_eq!(paid.calls(), 1);
    // Its redelivery finds the caption.
    assert_eq!(
        run_on(&p, "coffee.jpg").await,
        Outcome::Unchanged {
            tag_restored: false
        }
    );
    assert_eq!(paid.calls(), 1);
}

#[tokio::test]
async fn a_crashed_claim_lapses() {
    let paid = Arc::new(ScriptedProvider::new("paid", vec![Ok(caption("A cup."))]));
    let p = pipeline_with(vec![Box::new(Arc::clone(&paid))], &["en"]);
    p.store()
        .put(BUCKET, "coffee.jpg", &sample("coffee.jpg"), None, vec![]);
    let id = (BUCKET.to_string(), "coffee.jpg".to_string());
    let now = crate::time::epoch_secs(SystemTime::now());
    p.records()
        .claims
        .lock()
        .unwrap()
        .insert(id.clone(), ("crashed".into(), now + 60));
    assert_eq!(
        run_on(&p, "coffee.jpg").await,
        Outcome::Busy { until: now + 60 }
    );
    assert_eq!(paid.calls(), 0);
    p.records()
        .claims
        .lock()
        .unwrap()
        .insert(id, ("crashed".into(), now - 1));
    assert!(matches!(
        run_on(&p, "coffee.jpg").await,
        Outcome::Captioned { .. }
    ));
}

#[tokio::test]
async fn an_older_event_never_overwrites_a_newer_caption() {
    let paid = Arc::new(ScriptedProvider::new(
        "paid",
        vec![Ok(caption("The new photo.")), Ok(caption("The old photo."))],
    ));
    let p = pipeline_with(vec![Box::new(Arc::clone(&paid))], &["en"]);
    p.store()
        .put(BUCKET, "photo.jpg", &sample("coffee.jpg"), None, vec![]);
    // The newer event (a longer sequencer that orders after) is processed first.
    let newer = event_seq("photo.jpg", "0055AED6DCD90281E6");
    let older = event_seq("photo.jpg", "0055AED6DCD90281E5");
    let deadline = Deadlines::within(Duration::from_secs(60));
    assert!(matches!(
        p.process(&newer, deadline).await,
        Outcome::Captioned { .. }
    ));
    // The older one arrives late, after the bytes changed again: it is skipped.
    p.store()
        .put(BUCKET, "photo.jpg", &sample("cat.jpg"), None, vec![]);
    let outcome = p.process(&older, deadline).await;
    assert!(
        matches!(&outcome, Outcome::Skipped { reason } if reason.contains("superseded")),
        "{outcome:?}"
    );
    assert_eq!(paid.calls(), 1);
    let record = p.records().record(BUCKET, "photo.jpg").unwrap();
    assert_eq!(record.alt_text.as_deref(), Some("The new photo."));
    assert_eq!(record.sequencer.as_deref(), Some("0055AED6DCD90281E6"));
}

#[tokio::test]
async fn a_failed_read_never_overwrites_a_record_or_a_live_claim() {
    let paid = Arc::new(ScriptedProvider::new("paid", vec![Ok(caption("A cup."))]));
    let p = pipeline_with(vec![Box::new(Arc::clone(&paid))], &["en"]);
    p.store()
        .put(BUCKET, "coffee.jpg", &sample("coffee.jpg"), None, vec![]);
    assert!(matches!(
        run_on(&p, "coffee.jpg").await,
        Outcome::Captioned { .. }
    ));
    let slow_down = || StoreError::Transient {
        op: "GetObject",
        message: "SlowDown".into(),
    };
    // A listed object (no ETag in the event) whose read is throttled: the caption stays.
    p.store().fail_next("read_head", slow_down());
    assert!(run_on(&p, "coffee.jpg").await.is_retryable());
    let record = p.records().record(BUCKET, "coffee.jpg").unwrap();
    assert_eq!(
        (record.state, record.alt_text.as_deref()),
        (State::Captioned, Some("A cup."))
    );
    // …and its claim is released, so the retry is not turned away as busy.
    assert!(p.records().claims.lock().unwrap().is_empty());

    // A new object another invocation is captioning: a duplicate (that would see it
    // deleted) is busy, and writes no record over the live claim.
    let now = crate::time::epoch_secs(SystemTime::now());
    p.records().claims.lock().unwrap().insert(
        (BUCKET.to_string(), "gone.jpg".to_string()),
        ("theirs".into(), now + 60),
    );
    let outcome = run_on(&p, "gone.jpg").await;
    assert!(matches!(&outcome, Outcome::Busy { .. }), "{outcome:?}");
    assert!(p.records().record(BUCKET, "gone.jpg").is_none());
    assert_eq!(
        p.records().claims.lock().unwrap()[&(BUCKET.to_string(), "gone.jpg".to_string())].0,
        "theirs"
    );
}

fn object(key: &str) -> ObjectId {
    ObjectId {
        bucket: BUCKET.into(),
        key: key.into(),
        version_id: None,
    }
}

#[tokio::test]
async fn a_caption_set_by_a_person_is_locked_against_every_later_event() {
    let h = Harness::new(vec![
        Ok(caption("A cup of coffee.")),
        Ok(caption("A cup of coffee, again.")),
    ]);
    h.upload(
        "mug.jpg",
        &sample("coffee.jpg"),
        vec![Tag::new("owner", "shop")],
    );
    h.run("mug.jpg").await;
    assert_eq!(h.paid.calls(), 1);

    let set = h
        .pipeline
        .set_caption(&object("mug.jpg"), None, "Our red mug, hand-glazed")
        .await
        .unwrap();
    assert_eq!(set, Edited::Done);
    let record = h.record("mug.jpg");
    assert_eq!(record.alt_text.as_deref(), Some("Our red mug, hand-glazed"));
    assert_eq!(record.captions["en"].source, crate::caption::Source::Person);
    assert_eq!(record.captions["en"].provider, "person");
    assert!(record.reviewed_at.is_some());
    assert_eq!(
        h.tags("mug.jpg"),
        vec![
            Tag::new("owner", "shop"),
            Tag::new("alt-text", "Our red mug hand-glazed")
        ]
    );
    // The same text again changes nothing.
    let again = h
        .pipeline
        .set_caption(&object("mug.jpg"), Some("en"), "Our red mug, hand-glazed")
        .await
        .unwrap();
    assert_eq!(again, Edited::Unchanged);

    // A new event for the object, and a replay: no provider call, nothing overwritten.
    h.run("mug.jpg").await;
    h.run("mug.jpg").await;
    assert_eq!(h.paid.calls(), 1);
    assert_eq!(
        h.record("mug.jpg").alt_text.as_deref(),
        Some("Our red mug, hand-glazed")
    );
    assert_eq!(
        h.tags("mug.jpg")[1],
        Tag::new("alt-text", "Our red mug hand-glazed")
    );

    // Cleared: the tag goes, and the next event captions the object again.
    let cleared = h
        .pipeline
        .clear_caption(&object("mug.jpg"), None)
        .await
        .unwrap();
    assert_eq!(cleared, Edited::Done);
    assert_eq!(h.tags("mug.jpg"), vec![Tag::new("owner", "shop")]);
    let record = h.record("mug.jpg");
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    assert!(record.captions.is_empty() && record.alt_text.is_none());
    h.run("mug.jpg").await;
    assert_eq!(h.paid.calls(), 2);
    assert_eq!(
        h.record("mug.jpg").alt_text.as_deref(),
        Some("A cup of coffee, again.")
    );
    assert_eq!(
        h.pipeline
            .clear_caption(&object("mug.jpg"), None)
            .await
            .unwrap(),
        Edited::Unchanged,
        "nothing of a person's to clear"
    );
}

#[tokio::test]
async fn a_person_can_set_a_caption_before_any_event_and_none_is_paid_for() {
    let h = Harness::new(vec![Ok(caption("A cup of coffee."))]);
    h.upload("new.jpg", &sample("coffee.jpg"), vec![]);
    h.pipeline
        .set_caption(&object("new.jpg"), None, "Espresso in a blue cup")
        .await
        .unwrap();
    let record = h.record("new.jpg");
    assert_eq!(
        record.content_type.as_deref(),
        Some("image/jpeg"),
        "the format read from the bytes (uploaded without a content type)"
    );
    h.run("new.jpg").await;
    assert_eq!(h.paid.calls(), 0);
    assert_eq!(h.record("new.jpg").state, State::Captioned);
    assert_eq!(
        h.tags("new.jpg"),
        vec![Tag::new("alt-text", "Espresso in a blue cup")]
    );
}

#[tokio::test]
async fn edits_say_what_is_wrong_and_write_nothing() {
    let h = Harness::new(vec![]);
    h.upload("mug.jpg", &sample("coffee.jpg"), vec![]);
    h.upload("notes.txt", b"plain text", vec![]);
    let set = |key: &'static str, lang: Option<&'static str>, text: &'static str| {
        let pipeline = &h.pipeline;
        async move { pipeline.set_caption(&object(key), lang, text).await }
    };
    assert!(matches!(
        set("gone.jpg", None, "A mug").await,
        Err(EditError::NoObject { .. })
    ));
    assert!(
        matches!(set("mug.jpg", None, "   ").await, Err(EditError::Invalid(m)) if m.contains("empty"))
    );
    assert!(matches!(
        set("mug.jpg", None, "two\nlines").await,
        Err(EditError::Invalid(_))
    ));
    assert!(
        matches!(set("mug.jpg", Some("de"), "Ein Becher").await, Err(EditError::Invalid(m)) if m.contains("ALT_TEXT_LANGS"))
    );
    assert!(
        matches!(set("notes.txt", None, "Notes").await, Err(EditError::Invalid(m)) if m.contains("not an image"))
    );
    assert!(h.pipeline.records().record(BUCKET, "mug.jpg").is_none());
    assert!(h.tags("mug.jpg").is_empty());

    // While an invocation holds a claim, the edit waits for it to end.
    h.pipeline.records().claims.lock().unwrap().insert(
        (BUCKET.into(), "mug.jpg".into()),
        ("someone".into(), crate::time::epoch_now() + 60),
    );
    let busy = set("mug.jpg", None, "A mug").await.unwrap_err();
    assert!(matches!(busy, EditError::Conflict { .. }) && busy.is_retryable());
    assert!(h.tags("mug.jpg").is_empty(), "no tag written either");
}

#[tokio::test]
async fn a_persons_caption_whose_tag_failed_gets_its_tag_from_the_next_event() {
    let h = Harness::new(vec![]);
    h.upload(
        "mug.jpg",
        &sample("coffee.jpg"),
        vec![Tag::new("owner", "shop")],
    );
    h.pipeline.store().fail_next(
        "put_tags",
        StoreError::Transient {
            op: "PutObjectTagging",
            message: "503 SlowDown".into(),
        },
    );
    let err = h
        .pipeline
        .set_caption(&object("mug.jpg"), None, "Our red mug (hand-glazed)")
        .await
        .unwrap_err();
    assert!(matches!(err, EditError::TagNotWritten(_)) && err.is_retryable());
    let record = h.record("mug.jpg");
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    assert_eq!(h.tags("mug.jpg"), vec![Tag::new("owner", "shop")]);

    h.run("mug.jpg").await;
    assert_eq!(h.paid.calls(), 0);
    assert_eq!(
        h.tags("mug.jpg"),
        vec![
            Tag::new("owner", "shop"),
            Tag::new("alt-text", "Our red mug hand-glazed")
        ]
    );
    let record = h.record("mug.jpg");
    assert_eq!(record.state, State::Captioned);
    assert_eq!(record.tag_status, Some(TagStatus::Written));
    assert_eq!(
        record.alt_text.as_deref(),
        Some("Our red mug (hand-glazed)"),
        "the whole text, not its tag value"
    );
}

#[tokio::test]
async fn a_persons_caption_that_cannot_be_a_tag_stays_untagged_when_another_language_is_set() {
    let h = Harness::with_settings(
        vec![],
        Settings {
            langs: vec!["en".into(), "hi".into()],
            ..test_settings()
        },
    );
    h.upload(
        "mug.jpg",
        &sample("coffee.jpg"),
        vec![Tag::new("alt-text-hi", "old")],
    );
    let mug = object("mug.jpg");
    h.pipeline
        .set_caption(&mug, Some("hi"), "नीला मग")
        .await
        .unwrap();
    assert_eq!(
        h.tags("mug.jpg"),
        vec![],
        "the old tag no longer says what the record says"
    );
    h.pipeline
        .set_caption(&mug, Some("en"), "A blue mug")
        .await
        .unwrap();
    let record = h.record("mug.jpg");
    assert_eq!(
        record.captions["hi"].tag_status,
        Some(TagStatus::NotFaithful)
    );
    assert_eq!(record.captions["hi"].text, "नीला मग");
    assert_eq!(record.captions["en"].tag_status, Some(TagStatus::Written));
    assert_eq!(h.tags("mug.jpg"), vec![Tag::new("alt-text", "A blue mug")]);
}

#[tokio::test]
async fn an_older_version_is_not_edited_and_a_decorative_mark_keeps_a_persons_caption() {
    let h = Harness::new(vec![]);
    h.upload("mug.jpg", &sample("coffee.jpg"), vec![]);
    let old = ObjectId {
        version_id: Some("an-old-version".into()),
        ..object("mug.jpg")
    };
    let err = h
        .pipeline
        .set_caption(&old, None, "A mug")
        .await
        .unwrap_err();
    assert!(matches!(err, EditError::Invalid(m) if m.contains("not the current version")));

    // A person's caption whose tag write failed survives a decorative mark.
    h.upload("full.jpg", &sample("coffee.jpg"), vec![]);
    h.pipeline.store().fail_next(
        "put_tags",
        StoreError::Transient {
            op: "PutObjectTagging",
            message: "503 SlowDown".into(),
        },
    );
    let failed = h
        .pipeline
        .set_caption(&object("full.jpg"), None, "Our logo")
        .await;
    assert!(failed.is_err());
    h.pipeline
        .store()
        .set_metadata(BUCKET, "full.jpg", &[("alt-decorative", "true")]);
    h.run("full.jpg").await;
    assert_eq!(h.tags("full.jpg"), vec![Tag::new("alt-text", "Our logo")]);
    assert_eq!(h.record("full.jpg").alt_text.as_deref(), Some("Our logo"));
}

#[tokio::test]
async fn a_reupload_of_the_same_bytes_gets_the_persons_caption_back_on_its_tags() {
    let h = Harness::new(vec![Ok(caption("A mug on a table."))]);
    h.upload("mug.jpg", &sample("coffee.jpg"), vec![]);
    h.run("mug.jpg").await;
    let mug = object("mug.jpg");
    h.pipeline
        .set_caption(&mug, None, "Our hand-glazed mug")
        .await
        .unwrap();
    // The same bytes again, with a tag set of their own: S3 replaces the tags.
    h.upload(
        "mug.jpg",
        &sample("coffee.jpg"),
        vec![Tag::new("owner", "bob")],
    );
    h.run("mug.jpg").await;
    assert_eq!(h.paid.calls(), 1);
    assert_eq!(
        h.tags("mug.jpg"),
        vec![
            Tag::new("owner", "bob"),
            Tag::new("alt-text", "Our hand-glazed mug")
        ]
    );
    assert_eq!(h.record("mug.jpg").captions["en"].source, Source::Person);
}

/// A provider captioned the object; a person's correction went into the record, and its tag
/// write failed (`crash`: the process ended between the two writes instead). The next
/// event writes the person's words over the provider's tag, never the reverse.
async fn a_correction_survives_the_retry_meant_to_finish_it(crash: bool) {
    let h = Harness::new(vec![Ok(caption("A mug on a table."))]);
    h.upload(
        "mug.jpg",
        &sample("coffee.jpg"),
        vec![Tag::new("owner", "shop")],
    );
    h.run("mug.jpg").await;
    assert_eq!(
        h.tags("mug.jpg"),
        vec![
            Tag::new("owner", "shop"),
            Tag::new("alt-text", "A mug on a table.")
        ]
    );
    h.pipeline.store().fail_next(
        "put_tags",
        StoreError::Transient {
            op: "PutObjectTagging",
            message: "503 SlowDown".into(),
        },
    );
    let mug = object("mug.jpg");
    let err = h
        .pipeline
        .set_caption(&mug, None, "Our hand-glazed mug")
        .await
        .unwrap_err();
    assert!(matches!(err, EditError::TagNotWritten(_)));
    let record = h.record("mug.jpg");
    assert_eq!(record.captions["en"].tag_status, Some(TagStatus::Pending));
    if crash {
        // What the first write left, before the tag write: the caption pending.
        let left = Record {
            state: State::Captioned,
            error: None,
            retryable: None,
            tag_status: Some(TagStatus::Written),
            ..record
        };
        let records = h.pipeline.records();
        records.put(&left, &Condition::Unclaimed).await.unwrap();
    }
    h.run("mug.jpg").await;
    assert_eq!(h.paid.calls(), 1);
    assert_eq!(
        h.tags("mug.jpg"),
        vec![
            Tag::new("owner", "shop"),
            Tag::new("alt-text", "Our hand-glazed mug")
        ]
    );
    let record = h.record("mug.jpg");
    let en = &record.captions["en"];
    assert_eq!(
        (en.text.as_str(), en.source, en.tag_status),
        (
            "Our hand-glazed mug",
            Source::Person,
            Some(TagStatus::Written)
        )
    );
    assert_eq!(record.state, State::Captioned);

    // Once its tag is written, a tag edited on the object is a person's again.
    h.pipeline
        .store()
        .put_tags(
            &mug,
            &[
                Tag::new("owner", "shop"),
                Tag::new("alt-text", "Our blue mug"),
            ],
        )
        .await
        .unwrap();
    let outcome = h.run("mug.jpg").await;
    assert_eq!(
        h.record("mug.jpg").captions["en"].text,
        "Our blue mug",
        "{outcome:?}"
    );
    assert_eq!(h.paid.calls(), 1);
}

#[tokio::test]
async fn a_correction_whose_tag_write_failed_wins_over_the_providers_tag() {
    a_correction_survives_the_retry_meant_to_finish_it(false).await;
}

#[tokio::test]
async fn a_correction_cut_short_between_its_writes_wins_over_the_providers_tag() {
    a_correction_survives_the_retry_meant_to_finish_it(true).await;
}

/// Found by the soak (seed 7): a person's correction whose tag write failed; the next
/// delivery, finishing it, ended (the process killed) between its record write and its tag
/// write. The record must not say the person's tag is written, or the provider's older tag,
/// still on the object, is taken for a person's newer words.
#[tokio::test]
async fn a_delivery_cut_short_between_its_writes_keeps_the_persons_correction() {
    let h = Harness::new(vec![Ok(caption("A mug on a table."))]);
    h.upload("mug.jpg", &sample("coffee.jpg"), vec![]);
    h.run("mug.jpg").await;
    let store = h.pipeline.store();
    let slow_down = || StoreError::Transient {
        op: "PutObjectTagging",
        message: "503 SlowDown".into(),
    };
    store.fail_next("put_tags", slow_down());
    let mug = object("mug.jpg");
    let err = h.pipeline.set_caption(&mug, None, "Our hand-glazed mug");
    assert!(matches!(err.await, Err(EditError::TagNotWritten(_))));

    store.hang_next("put_tags");
    let cut = tokio::time::timeout(Duration::from_millis(300), h.run("mug.jpg")).await;
    assert!(cut.is_err(), "the delivery was to end at its tag write");
    assert_eq!(
        h.tags("mug.jpg"),
        vec![Tag::new("alt-text", "A mug on a table.")]
    );
    // The killed invocation's claim lapses.
    h.pipeline.records().claims.lock().unwrap().clear();

    h.run("mug.jpg").await;
    assert_eq!(
        h.tags("mug.jpg"),
        vec![Tag::new("alt-text", "Our hand-glazed mug")]
    );
    let en = h.record("mug.jpg").captions["en"].clone();
    assert_eq!(
        (en.text.as_str(), en.source, en.tag_status),
        (
            "Our hand-glazed mug",
            Source::Person,
            Some(TagStatus::Written)
        )
    );
    assert_eq!(h.paid.calls(), 1);
}

/// The record and the tags are written together only once the record holds the captions
/// paid for: a tag written beside a record write that failed is one the stored record
/// knows, never taken for a person's by the next delivery.
#[tokio::test]
async fn a_tag_written_beside_a_failed_record_write_is_one_the_record_knows() {
    let embedded = "Close-up of a brown tabby cat's face with green eyes and a pink nose.";
    // A paid caption (stored before its tags) and a free one (embedded text, not stored).
    for (file, text, paid_calls) in [
        ("coffee.jpg", "A mug on a table.", 1),
        ("cat.jpg", embedded, 0),
    ] {
        let h = Harness::new(vec![Ok(caption("A mug on a table."))]);
        h.upload("img.jpg", &sample(file), vec![]);
        let throttled = StoreError::Transient {
            op: "DynamoDB PutItem",
            message: "ProvisionedThroughputExceeded".into(),
        };
        *h.pipeline.records().fail_put_of.lock().unwrap() =
            Some((|r| r.state == State::Captioned, throttled));
        assert!(h.run("img.jpg").await.is_retryable(), "{file}");
        // The failed delivery's claim lapses.
        h.pipeline.records().claims.lock().unwrap().clear();

        h.run("img.jpg").await;
        let en = h.record("img.jpg").captions["en"].clone();
        assert_eq!(
            (en.text.as_str(), en.source, en.tag_status),
            (text, Source::Provider, Some(TagStatus::Written)),
            "{file}"
        );
        assert_eq!(h.paid.calls(), paid_calls, "{file}: nothing paid for twice");
    }
}

/// Found by the soak (seed 7): a person captioned one language of an image marked
/// decorative; the same bytes, uploaded again without the mark, must get the other
/// languages captioned (the person's words kept), not stay without them.
#[tokio::test]
async fn a_persons_caption_on_a_decorative_image_leaves_the_others_to_follow_the_mark() {
    let settings = Settings {
        langs: vec!["en".into(), "de".into()],
        ..test_settings()
    };
    let h = Harness::with_settings(vec![Ok(caption("Eine Tasse Kaffee."))], settings);
    let store = h.pipeline.store();
    h.upload("cup.jpg", &sample("coffee.jpg"), vec![]);
    store.set_metadata(BUCKET, "cup.jpg", &[("alt-decorative", "true")]);
    h.run("cup.jpg").await;
    let cup = object("cup.jpg");
    let set = h
        .pipeline
        .set_caption(&cup, Some("en"), "Our blue cup")
        .await;
    assert!(set.is_ok(), "{set:?}");
    assert_eq!(
        h.record("cup.jpg").captions["de"].provider,
        answer::DECORATIVE
    );

    h.upload("cup.jpg", &sample("coffee.jpg"), vec![]);
    let outcome = h.run("cup.jpg").await;
    assert_eq!(
        h.tags("cup.jpg"),
        vec![
            Tag::new("alt-text", "Our blue cup"),
            Tag::new("alt-text-de", "Eine Tasse Kaffee.")
        ],
        "{outcome:?}"
    );
    assert_eq!(h.record("cup.jpg").captions["en"].source, Source::Person);
    assert_eq!(h.paid.calls(), 1);
}

/// Found by the soak (seed 20261207): the same bytes uploaded again without the decorative
/// mark were kept as decorative, and the other way round.
#[tokio::test]
async fn the_same_bytes_marked_or_no_longer_marked_decorative_follow_the_mark() {
    let h = Harness::new(vec![Ok(caption("A cup of coffee."))]);
    let store = h.pipeline.store();
    h.upload("cup.jpg", &sample("coffee.jpg"), vec![]);
    store.set_metadata(BUCKET, "cup.jpg", &[("alt-decorative", "true")]);
    h.run("cup.jpg").await;
    assert_eq!(h.record("cup.jpg").provider.as_deref(), Some("decorative"));

    h.upload("cup.jpg", &sample("coffee.jpg"), vec![]);
    h.run("cup.jpg").await;
    assert_eq!(h.paid.calls(), 1);
    assert_eq!(
        h.record("cup.jpg").alt_text.as_deref(),
        Some("A cup of coffee.")
    );
    assert_eq!(
        h.tags("cup.jpg"),
        vec![Tag::new("alt-text", "A cup of coffee.")]
    );

    h.upload("cup.jpg", &sample("coffee.jpg"), vec![]);
    store.set_metadata(BUCKET, "cup.jpg", &[("alt-decorative", "true")]);
    h.run("cup.jpg").await;
    assert_eq!(h.record("cup.jpg").provider.as_deref(), Some("decorative"));
    assert_eq!(h.tags("cup.jpg"), vec![Tag::new("alt-text", "")]);
    assert_eq!(h.paid.calls(), 1);
}

/// Found by the soak (seed 20261207): a person's caption of one language, set before any
/// event, left the record captioned, and the other languages were never asked for.
#[tokio::test]
async fn a_caption_set_in_one_language_first_leaves_the_others_to_the_next_event() {
    let h = Harness::with_settings(
        vec![Ok(Caption::new("Eine Tasse Kaffee.", "de"))],
        Settings {
            langs: vec!["en".into(), "de".into()],
            ..test_settings()
        },
    );
    h.upload("cup.jpg", &sample("coffee.jpg"), vec![]);
    h.pipeline
        .set_caption(&object("cup.jpg"), Some("en"), "Our blue cup")
        .await
        .unwrap();
    let record = h.record("cup.jpg");
    assert_eq!(
        (record.state, record.retryable),
        (State::Failed, Some(true))
    );
    h.run("cup.jpg").await;
    assert_eq!(h.paid.calls(), 1);
    let record = h.record("cup.jpg");
    assert_eq!(record.state, State::Captioned);
    assert_eq!(record.captions["en"].text, "Our blue cup");
    assert_eq!(record.captions["de"].text, "Eine Tasse Kaffee.");
}

/// Found by the soak (seed 20261207): a decorative image with a person's caption in one
/// language was captioned by a provider in the others.
#[tokio::test]
async fn a_decorative_image_with_a_persons_caption_is_empty_in_the_other_languages() {
    let h = Harness::with_settings(
        vec![Ok(Caption::new("A cup of coffee.", "en"))],
        Settings {
            langs: vec!["en".into(), "de".into()],
            ..test_settings()
        },
    );
    h.upload(
        "cup.jpg",
        &sample("coffee.jpg"),
        vec![Tag::new("alt-text-de", "Unsere Tasse")],
    );
    h.pipeline
        .store()
        .set_metadata(BUCKET, "cup.jpg", &[("alt-decorative", "true")]);
    h.run("cup.jpg").await;
    assert_eq!(h.paid.calls(), 0, "nothing paid for a decorative image");
    let record = h.record("cup.jpg");
    assert_eq!(record.captions["de"].text, "Unsere Tasse");
    assert_eq!(record.captions["en"].text, "");
    assert_eq!(
        h.tags("cup.jpg"),
        vec![
            Tag::new("alt-text-de", "Unsere Tasse"),
            Tag::new("alt-text", "")
        ]
    );
}
